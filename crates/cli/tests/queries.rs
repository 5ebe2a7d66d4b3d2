//! The trust queries from the command line, against the city the demo leaves behind:
//! fleet by owner and status, a device's status and history, an advisory's exposure.

mod common;

use common::{cli, NodeProcess};

fn json(out: &str) -> serde_json::Value {
    serde_json::from_str(out).expect("JSON output")
}

#[test]
fn fleet_device_and_advisory_queries_answer_from_the_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("city");
    let (code, _, err) = cli(&[
        "demo",
        "--devices",
        "40",
        "--data-dir",
        data.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let node = NodeProcess::start_dev(&data);
    let url = node.url.clone();

    let (code, out, err) = cli(&[
        "fleet",
        "--owner",
        "water",
        "--status",
        "affirming",
        "--url",
        &url,
    ]);
    assert_eq!(code, 0, "{err}");
    let page = json(&out);
    let devices = page["devices"].as_array().unwrap();
    assert_eq!(devices.len(), 20, "the 20 patched meters are affirming");
    assert!(devices.iter().all(|d| d["owner"] == "water"));

    let meter = hex::encode("meter-000000");
    let (code, out, err) = cli(&["device", "status", &meter, "--url", &url]);
    assert_eq!(code, 0, "{err}");
    let status = json(&out);
    assert_eq!(status["status"], "affirming");
    assert!(status["ear"].as_str().is_some_and(|e| !e.is_empty()));

    let (code, out, _) = cli(&["device", "history", &meter, "--url", &url]);
    assert_eq!(code, 0);
    // birth, sale offer, acceptance, two attestations (before and after the fix)
    assert_eq!(json(&out)["entries"].as_array().unwrap().len(), 5);

    let (code, out, _) = cli(&["advisory", "cert", "CERT-2026-0042", "--url", &url]);
    assert_eq!(code, 0);
    let adv = json(&out);
    assert_eq!(
        (adv["severity"].as_str(), adv["exposed_devices"].as_u64()),
        (Some("critical"), Some(0))
    );

    let (code, _, err) = cli(&["device", "show", "00ff", "--url", &url]);
    assert_eq!(code, 4, "an unknown device is a refusal with its reason");
    assert!(err.contains("no device"), "{err}");

    // A light client: the meter's state proof, checked with the genesis file alone.
    let proof = dir.path().join("meter.proof");
    let (code, _, err) = cli(&[
        "state-proof",
        "--url",
        &url,
        "--device",
        &meter,
        "--out",
        proof.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let genesis = data.join("genesis.json");
    let verify = |path: &std::path::Path| {
        cli(&[
            "verify-state",
            "--proof",
            path.to_str().unwrap(),
            "--genesis",
            genesis.to_str().unwrap(),
            "--device",
            &meter,
        ])
    };
    let (code, out, err) = verify(&proof);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("status affirming (recomputed offline"),
        "{out}"
    );
    assert!(
        out.contains("absent  policy/"),
        "absence is proved too: {out}"
    );

    // One flipped byte anywhere in the last kilobyte (proofs and values) fails verification.
    let mut bytes = std::fs::read(&proof).unwrap();
    let at = bytes.len() - 100;
    bytes[at] ^= 0x01;
    let tampered = dir.path().join("tampered.proof");
    std::fs::write(&tampered, &bytes).unwrap();
    let (code, _, _) = verify(&tampered);
    assert_ne!(code, 0, "a tampered proof is refused");
    node.stop();
}
