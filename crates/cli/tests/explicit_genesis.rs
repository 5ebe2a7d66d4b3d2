//! Without `--dev`, nothing is created implicitly: a ledger starts only from an explicit
//! genesis file made with `proverka init` and `proverka genesis` (docs/genesis.md).

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::{cli, http_get, proverka_bin};

#[test]
fn a_node_without_dev_or_genesis_refuses_to_start_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("node");
    let (code, _, err) = cli(&[
        "node",
        "--data-dir",
        data.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("--genesis"),
        "the error must say how to start: {err}"
    );
    assert!(
        !data.join("keys").exists() && !data.join("genesis.json").exists(),
        "nothing may be created"
    );
}

#[test]
fn init_then_genesis_then_node_runs_a_ledger_that_only_trusts_the_named_admin() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
    let origin = "ledger.city.example/proverka";
    let (code, out, err) = cli(&["init", "--data-dir", &p("node"), "--origin", origin]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("checkpoint_vkey"), "{out}");
    let (code, _, err) = cli(&["init", "--data-dir", &p("node"), "--origin", origin]);
    assert_eq!(code, 2, "keys must never be overwritten: {err}");
    let (code, _, err) = cli(&["keygen", "--out", &p("city-admin")]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = cli(&[
        "genesis",
        "--node-public",
        &p("node/keys/public.json"),
        "--origin",
        origin,
        "--admin-key",
        &p("city-admin.pub.pem"),
        "--admin-iss",
        "city-admin",
        "--out",
        &p("genesis.json"),
    ]);
    assert_eq!(code, 0, "{err}");

    let mut child = Command::new(proverka_bin())
        .args([
            "node",
            "--data-dir",
            &p("node"),
            "--genesis",
            &p("genesis.json"),
            "--listen",
            "127.0.0.1:0",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = loop {
        let line = lines.next().expect("node exited").unwrap();
        if let Some(u) = line.strip_prefix("proverka node listening on ") {
            break u.trim().to_owned();
        }
    };
    std::thread::spawn(move || for _ in lines {});

    std::fs::write(p("payload.json"), b"{\"meter\":\"M-1\",\"kwh\":12}").unwrap();
    let sign = |key: &str, iss: &str, out: &str| {
        cli(&[
            "sign",
            "--key",
            key,
            "--iss",
            iss,
            "--sub",
            "meter-1",
            "--content-type",
            "application/json",
            "--payload",
            &p("payload.json"),
            "--out",
            out,
        ])
    };
    assert_eq!(
        sign(&p("city-admin.key.pem"), "city-admin", &p("s.cose")).0,
        0
    );
    let (code, _, err) = cli(&[
        "submit",
        &p("s.cose"),
        "--url",
        &url,
        "--receipt",
        &p("r.cose"),
    ]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = cli(&[
        "verify",
        "--statement",
        &p("s.cose"),
        "--receipt",
        &p("r.cose"),
        "--genesis",
        &p("genesis.json"),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    // The chain file as `curl URL/validators/epochs` saves it: empty while the committee is
    // genesis's. Checked once the node is stopped, so that a failure cannot leave it running.
    let served = http_get(&format!("{url}/validators/epochs"));
    assert!(
        !dir.path().join("node/dev-admin.key.pem").exists(),
        "no dev admin without --dev"
    );

    let _ = child.kill();
    let _ = child.wait();
    let (status, chain) = served.unwrap();
    assert_eq!((status, chain.len()), (200, 0));
    verify_with_a_chain_file(&chain, &p, &out);

    // Restarting with a different genesis for the same directory is refused.
    let mut other = std::fs::read_to_string(p("genesis.json")).unwrap();
    other = other.replace("\"created_ms\": ", "\"created_ms\": 1");
    std::fs::write(p("other.json"), other).unwrap();
    let (code, _, err) = cli(&[
        "node",
        "--data-dir",
        &p("node"),
        "--genesis",
        &p("other.json"),
        "--listen",
        "127.0.0.1:0",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("different genesis"), "{err}");
}

/// `proverka verify --chain FILE` on the receipt `s.cose`/`r.cose` of a ledger whose committee
/// never changed: `chain` is the chain file it served, `genesis_only` what `verify` printed
/// without a chain.
fn verify_with_a_chain_file(chain: &[u8], p: &dyn Fn(&str) -> String, genesis_only: &str) {
    let verify_with = |chain: &str| {
        cli(&[
            "verify",
            "--statement",
            &p("s.cose"),
            "--receipt",
            &p("r.cose"),
            "--genesis",
            &p("genesis.json"),
            "--chain",
            chain,
        ])
    };
    // The empty chain: the answer is the genesis-only one, word for word.
    std::fs::write(p("chain.txt"), chain).unwrap();
    let (code, out, err) = verify_with(&p("chain.txt"));
    assert_eq!((code, out.as_str()), (0, genesis_only), "{err}");

    // A file that is not a chain, or a hand-over note without a signature: a verification
    // failure (exit 1) that names the file and says the chain does not verify. Nothing is
    // verified with committees a bad chain claims.
    std::fs::write(p("garbage.txt"), b"not a hand-over chain\n").unwrap();
    let unsigned = format!(
        "{}\norigin ledger.city.example/proverka\nepoch 1\n",
        proverka_log::HANDOVER_HEADER
    );
    std::fs::write(p("unsigned.txt"), unsigned).unwrap();
    for bad in ["garbage.txt", "unsigned.txt"] {
        let (code, out, err) = verify_with(&p(bad));
        assert_eq!(code, 1, "{bad}: {out}{err}");
        assert!(out.is_empty(), "{bad}: {out}");
        assert!(
            err.contains(&p(bad))
                && err.contains("hand-over chain does not verify from the genesis"),
            "{bad}: {err}"
        );
    }
    // A chain file that cannot be read is bad input (exit 2); --chain needs --genesis.
    let (code, _, err) = verify_with(&p("missing.txt"));
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = cli(&[
        "verify",
        "--statement",
        &p("s.cose"),
        "--receipt",
        &p("r.cose"),
        "--keys",
        &p("keys.cbor"),
        "--chain",
        &p("chain.txt"),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--genesis"), "{err}");
}
