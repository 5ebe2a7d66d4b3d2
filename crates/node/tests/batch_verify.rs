//! Signatures checked in batches at submission (`proverka_node::verifier`): many concurrent
//! submissions, one of them with a bad signature, are answered exactly as one by one — the bad
//! one refused with the usual problem, every other registered.

use futures::future::join_all;
use proverka_ledger::{IssuerRecord, ISSUER_REGISTRATION_CONTENT_TYPE};
use proverka_node::datadir::DEV_ADMIN_ISS;
use proverka_statement::{sign_statement, ContentType, KeyType, PrivateKey, StatementParams};
use serde_json::Value;

mod support;
use support::{dev_node, post_entry};

fn sign(key: &PrivateKey, iss: &str, sub: &str, content_type: &str, payload: &[u8]) -> Vec<u8> {
    sign_statement(
        key,
        &StatementParams {
            iss,
            sub,
            iat: 1_764_000_000,
            content_type: ContentType::Text(content_type.into()),
            payload,
        },
    )
}

async fn post(http: &reqwest::Client, url: &str, body: Vec<u8>) -> (u16, Value) {
    let resp = post_entry(http, url, body).await;
    let status = resp.status().as_u16();
    let text = resp.bytes().await.unwrap();
    (status, serde_json::from_slice(&text).unwrap_or(Value::Null))
}

async fn tree_size(http: &reqwest::Client, url: &str) -> u64 {
    let note = http
        .get(format!("{url}/checkpoint"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    note.lines().nth(1).unwrap().parse().unwrap()
}

#[tokio::test]
async fn concurrent_submissions_with_one_bad_signature_register_all_but_that_one() {
    let dir = tempfile::tempdir().unwrap();
    let node = dev_node(dir.path()).await;
    let url = format!("http://{}", node.addr);
    let http = reqwest::Client::new();
    let pem = std::fs::read_to_string(dir.path().join("dev-admin.key.pem")).unwrap();
    let admin = PrivateKey::from_pkcs8_pem(&pem).unwrap();

    // The dev admin signs with P-256; register an Ed25519 issuer so both kinds are batched.
    let ed = PrivateKey::generate(KeyType::Ed25519).unwrap();
    let record = IssuerRecord {
        iss: "batch-ed".into(),
        key: ed.public_key(),
        admin: false,
    };
    let registration = sign(
        &admin,
        DEV_ADMIN_ISS,
        "batch-ed",
        ISSUER_REGISTRATION_CONTENT_TYPE,
        &record.encode(),
    );
    assert_eq!(post(&http, &url, registration).await.0, 201);
    let before = tree_size(&http, &url).await;

    for (key, iss) in [(&ed, "batch-ed"), (&admin, DEV_ADMIN_ISS)] {
        let bad_at = 13;
        let mut bodies = Vec::new();
        for n in 0..40 {
            let mut body = sign(
                key,
                iss,
                "valve",
                "application/json",
                format!("{{\"n\":{n}}}").as_bytes(),
            );
            if n == bad_at {
                let last = body.len() - 1;
                body[last] ^= 1;
            }
            bodies.push(body);
        }
        let answers = join_all(bodies.into_iter().map(|b| post(&http, &url, b))).await;
        for (n, (status, problem)) in answers.iter().enumerate() {
            if n == bad_at {
                assert_eq!(*status, 400, "{iss}: {problem}");
                assert_eq!(problem["title"], "Bad signature", "{iss}: {problem}");
            } else {
                assert_eq!(*status, 201, "{iss} item {n}: {problem}");
            }
        }
    }
    assert_eq!(tree_size(&http, &url).await, before + 78);
    node.shutdown().await;
}
