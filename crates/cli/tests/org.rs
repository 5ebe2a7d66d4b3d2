//! Joining is cheap: one command for the applicant, one per approving governance member.

mod common;

use common::{cli, http_get, NodeProcess};

#[test]
fn an_applicant_joins_with_one_command_and_a_member_admits_it_with_one_vote() {
    let dir = tempfile::tempdir().unwrap();
    let node = NodeProcess::start_dev(&dir.path().join("node"));
    let key = dir.path().join("newco");
    let (code, _, err) = cli(&["keygen", "--out", key.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let key_pem = format!("{}.key.pem", key.display());
    let (code, out, err) = cli(&[
        "org",
        "join",
        "--org",
        "newco",
        "--name",
        "New Co",
        "--role",
        "manufacturer",
        "--role",
        "operator",
        "--key",
        &key_pem,
        "--url",
        &node.url,
    ]);
    assert_eq!(code, 0, "{err}");
    let proposal = out
        .lines()
        .find_map(|l| l.strip_prefix("proposal "))
        .expect("prints the proposal id")
        .to_owned();
    let (status, _) = http_get(&format!("{}/orgs/newco", node.url)).unwrap();
    assert_eq!(status, 404, "not a member before the vote");

    let admin_pem = node.dir.join("dev-admin.key.pem");
    let vote = |extra: &[&str]| {
        let mut args = vec![
            "org",
            "vote",
            &proposal,
            "--key",
            admin_pem.to_str().unwrap(),
        ];
        args.extend_from_slice(&["--iss", "dev-admin", "--url", &node.url]);
        args.extend_from_slice(extra);
        cli(&args)
    };
    let (code, _, err) = vote(&[]);
    assert_eq!(code, 0, "{err}");
    let (status, body) = http_get(&format!("{}/orgs/newco", node.url)).unwrap();
    assert_eq!(status, 200);
    let org: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        org["roles"],
        serde_json::json!(["manufacturer", "operator"])
    );

    // A second vote on the closed proposal is refused with exit code 4 and the reason.
    let (code, _, err) = vote(&["--reject"]);
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("no open proposal"), "{err}");

    // Governance removes the organisation again: one proposal, one vote (threshold 1).
    let (code, out, err) = cli(&[
        "org",
        "propose",
        "--remove-org",
        "newco",
        "--key",
        admin_pem.to_str().unwrap(),
        "--iss",
        "dev-admin",
        "--url",
        &node.url,
    ]);
    assert_eq!(code, 0, "{err}");
    let removal = out
        .lines()
        .find_map(|l| l.strip_prefix("proposal "))
        .expect("prints the proposal id")
        .to_owned();
    let (status, body) = http_get(&format!("{}/orgs/newco", node.url)).unwrap();
    assert_eq!(status, 200);
    let org: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        org["keys"].as_array().map(Vec::len),
        Some(1),
        "a proposal alone changes nothing"
    );
    let (code, _, err) = cli(&[
        "org",
        "vote",
        &removal,
        "--key",
        admin_pem.to_str().unwrap(),
        "--iss",
        "dev-admin",
        "--url",
        &node.url,
    ]);
    assert_eq!(code, 0, "{err}");
    let (_, body) = http_get(&format!("{}/orgs/newco", node.url)).unwrap();
    let org: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(org["keys"], serde_json::json!([]));
    assert_eq!(org["roles"], serde_json::json!([]));
    // A threshold beyond the number of members is refused with the bound.
    let (code, _, err) = cli(&[
        "org",
        "propose",
        "--threshold",
        "2",
        "--key",
        admin_pem.to_str().unwrap(),
        "--iss",
        "dev-admin",
        "--url",
        &node.url,
    ]);
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("1..=1"), "{err}");
    node.stop();
}

#[test]
fn governance_schedules_a_new_validator_with_one_proposal_and_one_vote() {
    let dir = tempfile::tempdir().unwrap();
    let node = NodeProcess::start_dev(&dir.path().join("node"));
    let genesis: serde_json::Value =
        serde_json::from_slice(&std::fs::read(node.dir.join("genesis.json")).unwrap()).unwrap();
    let origin = genesis["origin"].as_str().unwrap();
    // The new validator's operator makes its keys for this ledger's origin.
    let newcomer = dir.path().join("v1");
    let (code, _, err) = cli(&[
        "init",
        "--data-dir",
        newcomer.to_str().unwrap(),
        "--origin",
        origin,
    ]);
    assert_eq!(code, 0, "{err}");
    let public = newcomer.join("keys/public.json");
    let keys: serde_json::Value = serde_json::from_slice(&std::fs::read(&public).unwrap()).unwrap();

    let admin_pem = node.dir.join("dev-admin.key.pem");
    let as_admin = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend_from_slice(&["--key", admin_pem.to_str().unwrap(), "--iss", "dev-admin"]);
        all.extend_from_slice(&["--url", &node.url]);
        cli(&all)
    };
    let (code, out, err) = as_admin(&[
        "org",
        "propose",
        "--add-validator",
        public.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let proposal = out
        .lines()
        .find_map(|l| l.strip_prefix("proposal "))
        .expect("prints the proposal id")
        .to_owned();
    let validators = || {
        let (status, body) = http_get(&format!("{}/validators", node.url)).unwrap();
        assert_eq!(status, 200);
        serde_json::from_slice::<serde_json::Value>(&body).unwrap()
    };
    assert_eq!(
        validators()["scheduled"]["validators"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let (code, _, err) = as_admin(&["org", "vote", &proposal]);
    assert_eq!(code, 0, "{err}");
    // Scheduled for the next epoch; the committee in force is still the genesis one.
    let v = validators();
    let scheduled = v["scheduled"]["validators"].as_array().unwrap();
    assert_eq!(scheduled.len(), 2);
    assert_eq!(scheduled[1]["validator"], keys["validator"]);
    assert_eq!(scheduled[1]["cosigner_vkey"], keys["cosigner_vkey"]);
    assert_eq!(v["scheduled"]["quorum"], 2);
    assert_eq!(v["current"]["validators"].as_array().unwrap().len(), 1);
    // The same validator again is refused with the reason (exit code 4).
    let (code, _, err) = as_admin(&[
        "org",
        "propose",
        "--add-validator",
        public.to_str().unwrap(),
    ]);
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("already a validator"), "{err}");
    node.stop();
}
