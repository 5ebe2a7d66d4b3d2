//! Interoperability with code nobody on the team wrote: Python's `pycose` signs statements and
//! an independent Python verifier (pycose, cryptography, cbor2; none of our Rust code) checks
//! receipts, inclusion and consistency proofs, checkpoints and tiles of a real dev node.
//!
//! The script is `tests/interop/pycose_interop.py`; its interpreter is `$PROVERKA_PYTHON`
//! (set by `scripts/test.sh`), else `<repo>/.venv/bin/python` from `scripts/setup-python.sh`.
//! A missing interpreter fails the test: it is never skipped silently.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::NodeProcess;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repository root")
}

fn python(repo: &Path) -> PathBuf {
    let python = match std::env::var_os("PROVERKA_PYTHON") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => repo.join(".venv/bin/python"),
    };
    assert!(
        python.exists(),
        "no Python interpreter for the interoperability test at {}: run scripts/setup-python.sh \
         (or set PROVERKA_PYTHON to a Python with tests/interop/requirements.txt installed)",
        python.display()
    );
    python
}

#[test]
fn pycose_statements_and_independent_verifier_agree_with_the_node() {
    let repo = repo_root();
    let python = python(&repo);
    let script = repo.join("tests/interop/pycose_interop.py");
    let dir = tempfile::tempdir().expect("tempdir");
    let node = NodeProcess::start_dev(dir.path());

    let out = Command::new(&python)
        .arg(&script)
        .args(["--url", &node.url, "--data-dir"])
        .arg(&node.dir)
        .current_dir(&repo)
        .output()
        .unwrap_or_else(|e| panic!("run {} {}: {e}", python.display(), script.display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("--- {} (stdout) ---\n{stdout}", script.display());
    if !stderr.is_empty() {
        println!("--- stderr ---\n{stderr}");
    }
    assert!(
        out.status.success(),
        "pycose interoperability script failed ({}); its output is printed above",
        out.status
    );
    assert!(
        stdout.contains("0 failed"),
        "script exited 0 without its summary line:\n{stdout}"
    );
    drop(node);
}
