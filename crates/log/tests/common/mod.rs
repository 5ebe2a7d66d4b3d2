//! Helpers shared by the integration tests: third-party vectors and golden files.
#![allow(dead_code)]

use std::path::PathBuf;

/// Reads a third-party vector file from `shared/vectors/` beside the repository clone.
pub fn vector(name: &str) -> serde_json::Value {
    let path = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/vectors/"
    ))
    .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "missing test vectors {}: {e}. CI places shared/ beside the repository clone \
             (../shared/vectors relative to the workspace root).",
            path.display()
        )
    });
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

fn golden_path(name: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden")).join(name)
}

/// Compares `actual` with the frozen golden file; `PROVERKA_BLESS=1` (re)writes it instead.
pub fn assert_golden(name: &str, actual: &[u8]) {
    let path = golden_path(name);
    if std::env::var_os("PROVERKA_BLESS").is_some() {
        std::fs::write(&path, actual).expect("write golden file");
        return;
    }
    let expected = std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "missing golden file {}: {e} (run once with PROVERKA_BLESS=1 to create it)",
            path.display()
        )
    });
    assert!(
        expected == actual,
        "{} changed: the format is frozen.\nexpected: {}\nactual:   {}",
        path.display(),
        String::from_utf8_lossy(&expected),
        String::from_utf8_lossy(actual)
    );
}

pub fn hex32(s: &str) -> [u8; 32] {
    hex::decode(s).expect("hex").try_into().expect("32 bytes")
}
