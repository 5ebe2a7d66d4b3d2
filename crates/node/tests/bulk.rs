//! `POST /entries/bulk`: many statements in one request, each answered exactly as `POST
//! /entries` would answer it, in order; a malformed request registers nothing.

use ciborium::Value;
use proverka_statement::{sign_statement, ContentType, KeyType, PrivateKey, StatementParams};
use serde_bytes::ByteBuf;

mod support;
use support::{post_entry, Harness};

fn sign(key: &PrivateKey, iss: &str, payload: &str) -> Vec<u8> {
    sign_statement(
        key,
        &StatementParams {
            iss,
            sub: "meter-9",
            iat: 1_764_000_000,
            content_type: ContentType::Text("application/json".into()),
            payload: payload.as_bytes(),
        },
    )
}

fn cbor(v: &impl serde::Serialize) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::into_writer(v, &mut out).unwrap();
    out
}

fn array_of(statements: &[Vec<u8>]) -> Vec<u8> {
    let items: Vec<ByteBuf> = statements.iter().cloned().map(ByteBuf::from).collect();
    cbor(&items)
}

/// One item of a bulk answer, decoded: status, entry id, body.
type BulkResult = (u16, ByteBuf, Value);

impl Harness {
    async fn bulk(&self, content_type: &str, body: Vec<u8>) -> (u16, Vec<u8>) {
        let resp = self
            .http
            .post(self.url("/entries/bulk"))
            .header("content-type", content_type)
            .header("accept", "application/problem+json")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.bytes().await.unwrap().to_vec())
    }

    async fn checkpoint(&self) -> Vec<u8> {
        let resp = self.http.get(self.url("/checkpoint")).send().await.unwrap();
        resp.bytes().await.unwrap().to_vec()
    }

    fn verify(&self, receipt: &Value, statement: &[u8]) -> u64 {
        let Value::Bytes(receipt) = receipt else {
            panic!("a receipt is a byte string, got {receipt:?}")
        };
        let key = self.node.shared.genesis.receipt_public_key().unwrap();
        proverka_log::verify_receipt(receipt, statement, &key)
            .unwrap()
            .leaf_index
    }
}

/// The title of a problem item (`{-1: title, -2: detail}`).
fn title(problem: &Value) -> String {
    let Value::Map(entries) = problem else {
        panic!("a refusal carries a problem map, got {problem:?}")
    };
    let field = |label: i64| {
        entries
            .iter()
            .find(|(k, _)| *k == Value::Integer(label.into()))
            .and_then(|(_, v)| v.as_text())
            .unwrap_or_default()
            .to_owned()
    };
    assert!(!field(-2).is_empty(), "a refusal must say why");
    field(-1)
}

#[tokio::test]
async fn each_statement_of_a_bulk_request_is_answered_as_its_own_post_would_be() {
    let h = Harness::start().await;
    let earlier = sign(&h.admin, "dev-admin", r#"{"kwh":1}"#);
    assert_eq!(
        post_entry(&h.http, &h.url(""), earlier.clone())
            .await
            .status(),
        201
    );
    let size_before = h.node.shared.head().size;

    let first = sign(&h.admin, "dev-admin", r#"{"kwh":2}"#);
    let second = sign(&h.admin, "dev-admin", r#"{"kwh":3}"#);
    let mut bad_signature = sign(&h.admin, "dev-admin", r#"{"kwh":4}"#);
    let last = bad_signature.len() - 1;
    bad_signature[last] ^= 1;
    let stranger = PrivateKey::generate(KeyType::Ed25519).unwrap();
    let unknown_issuer = sign(&stranger, "nobody", r#"{"kwh":5}"#);
    let oversized = vec![0xd2; 65_537];
    let garbage = b"not cose".to_vec();
    let sent = vec![
        first.clone(),
        bad_signature.clone(),
        earlier.clone(),
        unknown_issuer,
        oversized,
        second.clone(),
        garbage,
    ];

    let (status, body) = h.bulk("application/cbor", array_of(&sent)).await;
    assert_eq!(status, 200);
    let results: Vec<BulkResult> = ciborium::from_reader(body.as_slice()).unwrap();
    assert_eq!(results.len(), sent.len(), "one result per statement");
    for ((_, id, _), stmt) in results.iter().zip(&sent) {
        assert_eq!(id.as_slice(), proverka_statement::statement_id(stmt));
    }
    let statuses: Vec<u16> = results.iter().map(|r| r.0).collect();
    assert_eq!(statuses, [201, 400, 200, 403, 413, 201, 400]);
    assert_eq!(title(&results[1].2), "Bad signature");
    assert_eq!(title(&results[3].2), "Unknown issuer");
    assert_eq!(title(&results[4].2), "Statement too large");
    assert_eq!(title(&results[6].2), "Malformed statement");

    // The two new statements are the two new leaves; the earlier one keeps its entry.
    assert_eq!(h.node.shared.head().size, size_before + 2);
    let mut new_leaves = [
        h.verify(&results[0].2, &first),
        h.verify(&results[5].2, &second),
    ];
    new_leaves.sort();
    assert_eq!(new_leaves, [size_before, size_before + 1]);
    assert!(h.verify(&results[2].2, &earlier) < size_before);

    // The same request again registers nothing more: every good statement answers 200.
    let (_, body) = h.bulk("application/cbor", array_of(&sent)).await;
    let again: Vec<BulkResult> = ciborium::from_reader(body.as_slice()).unwrap();
    let statuses: Vec<u16> = again.iter().map(|r| r.0).collect();
    assert_eq!(statuses, [200, 400, 200, 403, 413, 200, 400]);
    assert_eq!(h.node.shared.head().size, size_before + 2);
    h.node.shutdown().await;
}

#[tokio::test]
async fn the_same_statement_twice_in_one_request_is_one_entry() {
    let h = Harness::start().await;
    let stmt = sign(&h.admin, "dev-admin", r#"{"kwh":7}"#);
    let size_before = h.node.shared.head().size;
    let (status, body) = h
        .bulk("application/cbor", array_of(&[stmt.clone(), stmt.clone()]))
        .await;
    assert_eq!(status, 200);
    let results: Vec<BulkResult> = ciborium::from_reader(body.as_slice()).unwrap();
    for (status, _, receipt) in &results {
        assert!(matches!(status, 200 | 201), "{status}: {receipt:?}");
        assert_eq!(h.verify(receipt, &stmt), size_before);
    }
    assert_eq!(h.node.shared.head().size, size_before + 1);
    h.node.shutdown().await;
}

#[tokio::test]
async fn a_malformed_bulk_request_is_refused_whole_and_registers_nothing() {
    let h = Harness::start().await;
    let good = |n: usize| sign(&h.admin, "dev-admin", &format!(r#"{{"kwh":{n}}}"#));
    let too_many: Vec<Vec<u8>> = (0..257).map(good).collect();
    let mut trailing = array_of(&[good(1)]);
    trailing.push(0x00);
    let over_8_mib = cbor(&vec![ByteBuf::from(vec![0u8; 60_000]); 150]);
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        (
            "application/cose",
            array_of(&[good(2)]),
            415,
            "Unsupported media type",
        ),
        ("application/cbor", good(3), 400, "Malformed bulk request"),
        (
            "application/cbor",
            b"\xff\x00".to_vec(),
            400,
            "Malformed bulk request",
        ),
        (
            "application/cbor",
            array_of(&[]),
            400,
            "Malformed bulk request",
        ),
        (
            "application/cbor",
            array_of(&too_many),
            400,
            "Malformed bulk request",
        ),
        ("application/cbor", trailing, 400, "Malformed bulk request"),
        (
            "application/cbor",
            cbor(&vec!["text"]),
            400,
            "Malformed bulk request",
        ),
        (
            "application/cbor",
            over_8_mib,
            413,
            "Bulk request too large",
        ),
    ];
    let before = h.checkpoint().await;
    for (content_type, body, status, want) in cases {
        let (got, problem) = h.bulk(content_type, body).await;
        let problem: serde_json::Value = serde_json::from_slice(&problem).unwrap();
        assert_eq!((got, problem["title"].as_str()), (status, Some(want)));
        assert!(!problem["detail"].as_str().unwrap_or("").is_empty());
    }
    assert_eq!(
        h.checkpoint().await,
        before,
        "a refused request changed the log"
    );
    assert_eq!(h.node.shared.pool.len(), 0, "nothing waits in the pool");
    h.node.shutdown().await;
}
