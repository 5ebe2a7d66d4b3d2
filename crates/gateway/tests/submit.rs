//! The gateway's submissions to a real ledger node: statements submitted at the same time
//! travel together in `POST /entries/bulk` requests (`src/batch.rs`), and each submitter gets
//! its own statement's answer, the one `POST /entries` would have given.

// The node tests' dev node.
#[path = "../../node/tests/support/mod.rs"]
mod node_support;

use std::collections::BTreeSet;

use proverka_gateway::ledger::Ledger;
use proverka_statement::{sign_statement, ContentType, PrivateKey, StatementParams};

fn reading(admin: &PrivateKey, n: usize) -> Vec<u8> {
    sign_statement(
        admin,
        &StatementParams {
            iss: "dev-admin",
            sub: "meter-7",
            iat: 1_764_000_000,
            content_type: ContentType::Text("application/json".into()),
            payload: format!("{{\"reading\": {n}}}").as_bytes(),
        },
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_submissions_each_get_their_own_answer() {
    let dir = tempfile::tempdir().unwrap();
    let node = node_support::dev_node(dir.path()).await;
    let pem = std::fs::read_to_string(dir.path().join("dev-admin.key.pem")).unwrap();
    let admin = PrivateKey::from_pkcs8_pem(&pem).unwrap();
    let log_key = node.shared.genesis.receipt_public_key().unwrap();
    let ledger = Ledger::new(&format!("http://{}", node.addr)).unwrap();
    let size_before = node.shared.store.tree_size();

    // 100 new statements and one that is not a statement, all at once.
    let statements: Vec<Vec<u8>> = (0..100).map(|n| reading(&admin, n)).collect();
    let garbage = b"not a COSE_Sign1".to_vec();
    let (answers, refused) = tokio::join!(
        futures::future::join_all(statements.iter().map(|s| ledger.submit(s.clone()))),
        ledger.submit(garbage),
    );

    let mut leaves = BTreeSet::new();
    for (statement, answer) in statements.iter().zip(answers) {
        let answer = answer.expect("the ledger answered");
        assert_eq!(answer.status, 201, "a new statement is registered");
        let verified = proverka_log::verify_receipt(&answer.body, statement, &log_key)
            .expect("its own receipt, which verifies");
        leaves.insert(verified.leaf_index);
    }
    assert_eq!(leaves.len(), 100, "one leaf each");
    assert_eq!(
        node.shared.store.tree_size(),
        size_before + 100,
        "and no more"
    );

    let refused = refused.expect("the ledger answered");
    assert_eq!(refused.status, 400, "garbage is refused on its own");
    let problem: ciborium::Value = ciborium::from_reader(&refused.body[..]).expect("CBOR problem");
    assert!(problem.is_map(), "{problem:?}");

    // Sent again: 200 with the same leaf, nothing added.
    let again = ledger.submit(statements[7].clone()).await.unwrap();
    assert_eq!(again.status, 200);
    let first = proverka_log::verify_receipt(&again.body, &statements[7], &log_key).unwrap();
    assert!(leaves.contains(&first.leaf_index));
    assert_eq!(node.shared.store.tree_size(), size_before + 100);
}

// A gateway's bulk request stays within what the node takes (checked when this test compiles):
// its statement count, and its bytes with room for the CBOR framing (an array head and a
// byte-string head per statement).
const _: () = {
    use proverka_gateway::batch::{MAX_BATCH_BYTES, MAX_BATCH_STATEMENTS};
    use proverka_node::api::{MAX_BULK_BODY_BYTES, MAX_BULK_STATEMENTS};
    assert!(MAX_BATCH_STATEMENTS <= MAX_BULK_STATEMENTS);
    assert!(MAX_BATCH_BYTES + 9 + 9 * MAX_BATCH_STATEMENTS <= MAX_BULK_BODY_BYTES);
};
