//! Bad input changes nothing: every malformed, unauthorised or oversized submission is answered
//! with a specific RFC 9290/9457 problem, and the log stays exactly as it was.

use coset::iana::{self, EnumI64};
use coset::{CborSerializable, CoseSign1Builder, HeaderBuilder, TaggedCborSerializable};
use proverka_statement::{
    sig_structure, sign_statement, ContentType, KeyType, PrivateKey, StatementParams,
};
use serde_json::Value;

mod support;
use support::{post_entry, Harness};

impl Harness {
    async fn post(&self, body: Vec<u8>) -> (u16, Value) {
        let resp = post_entry(&self.http, &self.url(""), body).await;
        let status = resp.status().as_u16();
        let text = resp.bytes().await.unwrap();
        (status, serde_json::from_slice(&text).unwrap_or(Value::Null))
    }

    async fn checkpoint(&self) -> Vec<u8> {
        let resp = self.http.get(self.url("/checkpoint")).send().await.unwrap();
        resp.bytes().await.unwrap().to_vec()
    }

    fn good(&self, payload: &[u8]) -> Vec<u8> {
        sign(&self.admin, "dev-admin", payload)
    }

    /// Submits `body`, expects `status` and `title`, and checks that nothing changed.
    async fn refused(&self, body: Vec<u8>, status: u16, title: &str) -> String {
        let before = self.checkpoint().await;
        let (got, problem) = self.post(body).await;
        assert_eq!(got, status, "problem: {problem}");
        assert_eq!(problem["title"], title, "problem: {problem}");
        assert_eq!(problem["status"], status);
        let detail = problem["detail"].as_str().unwrap_or("").to_owned();
        assert!(!detail.is_empty(), "a refusal must say why");
        assert_eq!(self.checkpoint().await, before, "a refusal changed the log");
        detail
    }
}

fn sign(key: &PrivateKey, iss: &str, payload: &[u8]) -> Vec<u8> {
    sign_statement(
        key,
        &StatementParams {
            iss,
            sub: "valve-3",
            iat: 1_764_000_000,
            content_type: ContentType::Text("application/json".into()),
            payload,
        },
    )
}

/// A COSE_Sign1 built by hand, for shapes `sign_statement` refuses to make.
fn handmade(
    key: &PrivateKey,
    alg: i64,
    claims: Option<Vec<(i64, ciborium::Value)>>,
    tagged: bool,
) -> Vec<u8> {
    let mut protected = HeaderBuilder::new()
        .algorithm(iana::Algorithm::from_i64(alg).unwrap_or(iana::Algorithm::PS256))
        .content_type("application/json".into())
        .key_id(key.public_key().thumbprint().to_vec());
    if let Some(c) = claims {
        let map = ciborium::Value::Map(
            c.into_iter()
                .map(|(k, v)| (ciborium::Value::Integer(k.into()), v))
                .collect(),
        );
        protected = protected.value(15, map);
    }
    let protected = protected.build();
    let payload = b"{}".to_vec();
    let unsigned = CoseSign1Builder::new()
        .protected(protected)
        .payload(payload.clone())
        .build();
    let protected_bytes = unsigned.protected.clone().to_vec().unwrap();
    let sig = key.sign(&sig_structure(&protected_bytes, &payload));
    let msg = CoseSign1Builder::new()
        .protected(unsigned.protected.header.clone())
        .payload(payload)
        .signature(sig)
        .build();
    if tagged {
        msg.to_tagged_vec().unwrap()
    } else {
        msg.to_vec().unwrap()
    }
}

fn claims(iss: ciborium::Value) -> Option<Vec<(i64, ciborium::Value)>> {
    Some(vec![
        (1, iss),
        (2, ciborium::Value::Text("valve-3".into())),
        (6, ciborium::Value::Integer(1_764_000_000.into())),
    ])
}

#[tokio::test]
async fn every_bad_submission_is_refused_with_a_clear_problem_and_changes_nothing() {
    let h = Harness::start().await;
    // Something is in the log first, so "unchanged" is meaningful.
    let (status, _) = h.post(h.good(b"{\"seed\":1}")).await;
    assert_eq!(status, 201);

    h.refused(vec![0xff, 0x13, 0x37, 0x00], 400, "Malformed statement")
        .await;
    let good = h.good(b"{\"n\":2}");
    h.refused(good[..good.len() - 10].to_vec(), 400, "Malformed statement")
        .await;
    h.refused(
        handmade(&h.admin, -7, claims("dev-admin".into()), false),
        400,
        "Malformed statement",
    )
    .await;
    h.refused(
        handmade(&h.admin, -37, claims("dev-admin".into()), true),
        400,
        "Unsupported algorithm",
    )
    .await;
    let mismatch = h
        .refused(
            handmade(&h.admin, -8, claims("dev-admin".into()), true),
            400,
            "Algorithm does not match key",
        )
        .await;
    assert!(
        mismatch.contains("EdDSA") && mismatch.contains("P-256"),
        "{mismatch}"
    );
    let mut tampered = h.good(b"{\"n\":3}");
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    h.refused(tampered, 400, "Bad signature").await;
    h.refused(
        handmade(&h.admin, -7, None, true),
        400,
        "Malformed statement",
    )
    .await;
    h.refused(
        handmade(
            &h.admin,
            -7,
            claims(ciborium::Value::Integer(7.into())),
            true,
        ),
        400,
        "Malformed statement",
    )
    .await;
    let stranger = PrivateKey::generate(KeyType::Ed25519).unwrap();
    h.refused(sign(&stranger, "stranger", b"{}"), 403, "Unknown issuer")
        .await;
    h.refused(
        sign(&h.admin, "not-the-admin", b"{}"),
        403,
        "Issuer mismatch",
    )
    .await;
    h.refused(h.good(&vec![b'x'; 70_000]), 413, "Statement too large")
        .await;
    h.refused(vec![0u8; 2_000_000], 413, "Statement too large")
        .await;

    let before = h.checkpoint().await;
    let resp = h
        .http
        .post(h.url("/entries"))
        .header("content-type", "application/json")
        .body(h.good(b"{}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 415);
    assert_eq!(h.checkpoint().await, before);
    h.node.shutdown().await;
}

#[tokio::test]
async fn a_resubmitted_statement_gets_the_same_entry_and_no_second_leaf() {
    let h = Harness::start().await;
    let stmt = h.good(b"{\"valve\":\"open\"}");
    let first = h
        .http
        .post(h.url("/entries"))
        .header("content-type", "application/cose")
        .body(stmt.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(first.status().as_u16(), 201);
    let location = first.headers()["location"].to_str().unwrap().to_owned();
    let size_after_first = h.node.shared.head().size;
    let second = h
        .http
        .post(h.url("/entries"))
        .header("content-type", "application/cose")
        .body(stmt.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(
        second.status().as_u16(),
        200,
        "a resubmission is answered, not re-registered"
    );
    assert_eq!(second.headers()["location"].to_str().unwrap(), location);
    assert_eq!(h.node.shared.head().size, size_after_first);
    let receipt = second.bytes().await.unwrap();
    let key = h.node.shared.genesis.receipt_public_key().unwrap();
    let verified = proverka_log::verify_receipt(&receipt, &stmt, &key).unwrap();
    assert_eq!(verified.tree_size, size_after_first);
    h.node.shutdown().await;
}

#[tokio::test]
async fn problems_are_concise_cbor_unless_json_is_asked_for() {
    let h = Harness::start().await;
    let resp = h
        .http
        .post(h.url("/entries"))
        .header("content-type", "application/cose")
        .body(vec![0xff])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    assert_eq!(
        resp.headers()["content-type"],
        "application/concise-problem-details+cbor"
    );
    let body = resp.bytes().await.unwrap();
    let value: ciborium::Value = ciborium::from_reader(&body[..]).unwrap();
    let map = value.as_map().unwrap();
    let title = map
        .iter()
        .find(|(k, _)| k.as_integer() == Some((-1).into()))
        .unwrap();
    assert_eq!(title.1.as_text(), Some("Malformed statement"));
    h.node.shutdown().await;
}
