//! The README's walkthrough, executed verbatim against a real dev node, so the README stays true.

mod common;

use std::path::Path;
use std::process::Command;

use common::NodeProcess;

/// The shell block that follows the "## Walkthrough" heading of the README.
fn walkthrough_script() -> String {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let section = readme
        .split("## Walkthrough")
        .nth(1)
        .expect("README has a Walkthrough section");
    let block = section
        .split("```sh\n")
        .nth(1)
        .expect("walkthrough has a sh block");
    block.split("```").next().unwrap().to_owned()
}

#[test]
fn the_readme_walkthrough_runs_as_written() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("proverka-data");
    let node = NodeProcess::start_dev(&data);
    let script = walkthrough_script().replace("http://127.0.0.1:7380", &node.url);
    let bin_dir = Path::new(common::proverka_bin()).parent().unwrap();
    let out = Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .current_dir(work.path())
        .env(
            "PATH",
            format!(
                "{}:{}",
                bin_dir.display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .env("PROVERKA_URL", &node.url)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "walkthrough failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        stdout.contains("OK: statement"),
        "offline verification did not report OK:\n{stdout}"
    );
    assert!(
        stdout.contains("is a prefix of checkpoint"),
        "consistency not verified:\n{stdout}"
    );
    assert!(work.path().join("reading.receipt").exists());
}

#[test]
fn offline_verification_fails_with_exit_code_1_on_a_tampered_receipt() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("proverka-data");
    let node = NodeProcess::start_dev(&data);
    let w = |name: &str| work.path().join(name).to_str().unwrap().to_owned();
    std::fs::write(w("p.json"), b"{\"x\":1}").unwrap();
    let admin = data.join("dev-admin.key.pem");
    let (code, _, err) = common::cli(&[
        "sign",
        "--key",
        admin.to_str().unwrap(),
        "--iss",
        "dev-admin",
        "--sub",
        "s",
        "--content-type",
        "application/json",
        "--payload",
        &w("p.json"),
        "--out",
        &w("s.cose"),
    ]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = common::cli(&[
        "submit",
        &w("s.cose"),
        "--url",
        &node.url,
        "--receipt",
        &w("r.cose"),
    ]);
    assert_eq!(code, 0, "{err}");
    let genesis = data.join("genesis.json");
    let (code, out, err) = common::cli(&[
        "verify",
        "--statement",
        &w("s.cose"),
        "--receipt",
        &w("r.cose"),
        "--genesis",
        genesis.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let mut receipt = std::fs::read(w("r.cose")).unwrap();
    let n = receipt.len();
    receipt[n - 1] ^= 1; // last byte of the receipt's signature
    std::fs::write(w("bad.cose"), &receipt).unwrap();
    let (code, _, err) = common::cli(&[
        "verify",
        "--statement",
        &w("s.cose"),
        "--receipt",
        &w("bad.cose"),
        "--genesis",
        genesis.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "a tampered receipt must fail verification: {err}");
    assert!(err.contains("verification failed"), "{err}");
    let (code, _, err) = common::cli(&[
        "verify",
        "--statement",
        &w("missing.cose"),
        "--receipt",
        &w("r.cose"),
        "--genesis",
        genesis.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "a missing input file is a usage error: {err}");
    let (code, _, err) = common::cli(&["submit", &w("s.cose"), "--url", "http://127.0.0.1:9"]);
    assert_eq!(code, 3, "an unreachable ledger is exit code 3: {err}");
    let stranger = work.path().join("stranger");
    let (code, _, _) = common::cli(&[
        "keygen",
        "--out",
        stranger.to_str().unwrap(),
        "--alg",
        "ed25519",
    ]);
    assert_eq!(code, 0);
    let (code, _, _) = common::cli(&[
        "sign",
        "--key",
        &w("stranger.key.pem"),
        "--iss",
        "stranger",
        "--sub",
        "s",
        "--content-type",
        "text/plain",
        "--payload",
        &w("p.json"),
        "--out",
        &w("x.cose"),
    ]);
    assert_eq!(code, 0);
    let (code, _, err) = common::cli(&["submit", &w("x.cose"), "--url", &node.url]);
    assert_eq!(code, 4, "a refused statement is exit code 4: {err}");
    assert!(err.contains("Unknown issuer"), "{err}");
}
