//! The OpenAPI document and the real router agree: every documented operation is routed, and
//! every routed operation is documented.

use std::collections::BTreeSet;

use proverka_node::api::ROUTES;

mod support;
use support::dev_node;

fn documented() -> BTreeSet<(String, String)> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.yaml");
    let doc: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut ops = BTreeSet::new();
    for (p, item) in doc["paths"].as_mapping().unwrap() {
        for (method, _) in item.as_mapping().unwrap() {
            ops.insert((
                method.as_str().unwrap().to_owned(),
                p.as_str().unwrap().to_owned(),
            ));
        }
    }
    ops
}

/// The router spells the tile wildcard `{*path}`; OpenAPI spells it `{path}`.
fn routed() -> BTreeSet<(String, String)> {
    ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.replace("{*path}", "{path}")))
        .collect()
}

#[test]
fn the_openapi_document_lists_exactly_the_routed_operations() {
    assert_eq!(documented(), routed());
}

#[tokio::test]
async fn every_documented_operation_reaches_a_handler() {
    let dir = tempfile::tempdir().unwrap();
    let node = dev_node(dir.path()).await;
    let http = reqwest::Client::new();
    let id = "00".repeat(32);
    for (method, path) in documented() {
        let concrete = path.replace("{id}", &id).replace("{path}", "0/000");
        let url = format!("http://{}{}", node.addr, concrete);
        let req = match method.as_str() {
            "get" => http.get(&url),
            "post" => http
                .post(&url)
                .header("content-type", "application/cose")
                .body(vec![0u8]),
            other => panic!("unexpected method {other}"),
        };
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let ctype = resp
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap_or("").to_owned())
            .unwrap_or_default();
        // The router's own fallback answers 404/405 with no content type; our handlers always
        // set one (a problem or a document).
        assert!(
            !(matches!(status, 404 | 405) && ctype.is_empty()),
            "{method} {path} is documented but not routed ({status})"
        );
    }
    node.shutdown().await;
}

#[tokio::test]
async fn a_dev_node_serves_its_genesis_committee_as_current_and_scheduled() {
    let dir = tempfile::tempdir().unwrap();
    let node = dev_node(dir.path()).await;
    let genesis = proverka_ledger::Genesis::from_bytes(
        &std::fs::read(dir.path().join("genesis.json")).unwrap(),
    )
    .unwrap();
    let url = format!("http://{}/validators", node.addr);
    let body = reqwest::get(&url).await.unwrap().bytes().await.unwrap();
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["epoch_blocks"], 10_000);
    assert_eq!(v["current"]["epoch"], 0);
    assert_eq!(v["current"]["quorum"], 1);
    let members = v["current"]["validators"].as_array().unwrap();
    assert_eq!(members.len(), 1);
    assert_eq!(members[0]["validator"], genesis.validators[0].as_str());
    assert_eq!(
        members[0]["cosigner_vkey"],
        genesis.validator_entries()[0].cosigner_vkey.as_str()
    );
    assert_eq!(v["scheduled"], v["current"], "no change was proposed");
    node.shutdown().await;
}
