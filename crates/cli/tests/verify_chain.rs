//! `proverka verify --chain FILE`: a receipt certified by a committee the genesis does not name
//! verifies with the genesis and the hand-over chain, and not with the genesis alone; a chain
//! that does not reach that committee, or does not verify, is refused.
//!
//! Built in process (no node runs through 20,000 blocks here): the committees of
//! `crates/node/tests/support/epochs.rs` — genesis validators 0..=3, epoch 1 adds validator 4,
//! epoch 2 removes validator 0 — cosign a tree of one statement at epoch 2.

mod common;
#[path = "../../node/tests/support/epochs.rs"]
mod epochs;

use common::cli;
use epochs::{gather_root, net, ORIGIN};
use proverka_statement::{sign_statement, ContentType, KeyType, PrivateKey, StatementParams};

const ISSUED_AT: i64 = 1_764_000_000;

#[test]
fn a_receipt_of_a_later_committee_verifies_only_through_the_chain() {
    let net = net();
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();

    // A statement alone in a tree of size 1.
    let issuer = PrivateKey::generate(KeyType::Ed25519).unwrap();
    let statement = sign_statement(
        &issuer,
        &StatementParams {
            iss: "meter-maker",
            sub: "meter-1",
            iat: 1_764_000_000,
            content_type: ContentType::Text("application/json".into()),
            payload: b"{\"kwh\":12}",
        },
    );
    let root = proverka_log::leaf_hash(&proverka_log::leaf_entry(&statement));
    // Epoch 2's committee (validators 1..=4, quorum 3) certifies it with 1, 2 and 4. Validator
    // 4 is not in the genesis, so the genesis committee (0..=3, quorum 3) sees only 2 of its own.
    let (v, results) = gather_root(&net, 1, &[2, 4], 2, 1, &root);
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let quorum = v.latest().expect("3 of 4 in epoch 2");
    let head =
        proverka_log::sign_tree_head(&net.keys[1].receipt, ORIGIN, ISSUED_AT, 1, &root).unwrap();
    let receipt = head.receipt_with(0, &[], Some(&quorum.note)).unwrap();

    std::fs::write(p("genesis.json"), net.genesis.to_bytes()).unwrap();
    std::fs::write(p("s.cose"), &statement).unwrap();
    std::fs::write(p("r.cose"), &receipt).unwrap();
    std::fs::write(p("chain.txt"), net.chain_file()).unwrap();
    std::fs::write(p("epoch1.txt"), net.handover(1, &[0, 1, 2])).unwrap();
    // Epoch 1's committee has 5 members (quorum 4): 2 signatures do not hand over to epoch 2.
    let below_quorum = [net.handover(1, &[0, 1, 2]), net.handover(2, &[0, 2])].concat();
    std::fs::write(p("below-quorum.txt"), below_quorum).unwrap();
    let verify = |chain: Option<&str>| {
        let mut args = vec![
            "verify".to_owned(),
            "--statement".to_owned(),
            p("s.cose"),
            "--receipt".to_owned(),
            p("r.cose"),
            "--genesis".to_owned(),
            p("genesis.json"),
        ];
        if let Some(file) = chain {
            args.extend(["--chain".to_owned(), p(file)]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        cli(&args)
    };

    // With the chain: certified by the committee of epoch 2.
    let (code, out, err) = verify(Some("chain.txt"));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with("OK: statement "), "{out}");
    assert!(
        out.contains("certified by 3 of 4 validators (quorum 3), the committee of epoch 2"),
        "{out}"
    );

    // The genesis alone refuses it, as before chains existed.
    let (code, out, err) = verify(None);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.is_empty(), "{out}");

    // A chain that stops at epoch 1: epoch 1's committee (quorum 4) is still in force for
    // epoch 2, and 3 cosignatures do not certify.
    let (code, out, err) = verify(Some("epoch1.txt"));
    assert_eq!(code, 1, "{out}{err}");

    // A hand-over below the outgoing quorum: the chain is refused before any receipt check.
    let (code, out, err) = verify(Some("below-quorum.txt"));
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("hand-over chain does not verify from the genesis")
            && err.contains("2 valid signatures of the outgoing committee, 4 required"),
        "{err}"
    );
}
