//! `proverka verify --chain FILE`: a receipt certified by a committee the genesis does not name
//! verifies with the genesis and the hand-over chain, and not with the genesis alone; a chain
//! that does not reach that committee, or does not verify, is refused.
//!
//! `proverka verify-state --chain FILE` likewise, on a dev node's state proof re-certified at
//! epoch 1 by a validator the genesis does not name.
//!
//! Built in process (no node runs through 20,000 blocks here): the committees of
//! `crates/node/tests/support/epochs.rs` — genesis validators 0..=3, epoch 1 adds validator 4,
//! epoch 2 removes validator 0 — cosign a tree of one statement at epoch 2.

mod common;
#[path = "../../node/tests/support/epochs.rs"]
mod epochs;

use common::{cli, NodeProcess};
use epochs::{gather_root, net, ORIGIN};
use proverka_consensus::{digest_from_parts, sign_finalization, verify_finalization, HEADER_BYTES};
use proverka_ledger::records::keys;
use proverka_ledger::validators::CommitteeRecord;
use proverka_ledger::Genesis;
use proverka_node::datadir::{validator_keys_of, DataDir};
use proverka_node::handover::committee_of;
use proverka_node::state_proof::StateProofBundle;
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
        let (statement, receipt, genesis) = (p("s.cose"), p("r.cose"), p("genesis.json"));
        let args = [
            "verify",
            "--statement",
            &statement,
            "--receipt",
            &receipt,
            "--genesis",
            &genesis,
        ];
        cli_with_chain(&args, chain.map(p))
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

/// Runs the CLI with `args`, and `--chain FILE` after them when a chain file is given.
fn cli_with_chain(args: &[&str], chain: Option<String>) -> (i32, String, String) {
    let mut args = args.to_vec();
    if let Some(file) = &chain {
        args.extend(["--chain", file]);
    }
    cli(&args)
}

#[test]
fn a_state_proof_of_a_later_committee_verifies_only_through_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
    let node = NodeProcess::start_dev(&dir.path().join("node"));
    let genesis_bytes = std::fs::read(node.dir.join("genesis.json")).unwrap();
    std::fs::write(p("genesis.json"), &genesis_bytes).unwrap();
    let genesis = node.genesis();
    let verify_state = |proof: &str, chain: Option<&str>| {
        let (proof, genesis) = (p(proof), p("genesis.json"));
        let args = ["verify-state", "--proof", &proof, "--genesis", &genesis];
        cli_with_chain(&args, chain.map(p))
    };

    // A proof that "nobody" has no policy set, once a block certifies an applied height.
    let key = hex::encode(keys::cedar("nobody"));
    let mut verified = false;
    for _ in 0..200 {
        let (code, _, _) = cli(&[
            "state-proof",
            "--url",
            &node.url,
            "--key",
            &key,
            "--out",
            &p("epoch0.proof"),
        ]);
        if code == 0 && verify_state("epoch0.proof", None).0 == 0 {
            verified = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(verified, "no verifiable state proof within 20 s");

    // Re-certified at epoch 1 by a validator outside the genesis, to whom the genesis validator
    // (the whole genesis committee) hands the ledger over.
    let outsider = DataDir::new(&dir.path().join("outsider"));
    let public = outsider.init_keys(&genesis.origin).unwrap();
    let outsider_key = outsider.load_keys().unwrap().consensus;
    let record = CommitteeRecord {
        epoch: 1,
        members: validator_keys_of(&[public]).unwrap(),
    };
    let node_keys = DataDir::new(&node.dir).load_keys().unwrap();
    let note = proverka_log::sign_handover(
        &genesis.origin,
        &committee_of(&record),
        node_keys.cosigner.as_ref().unwrap(),
        1_764_000_000,
    )
    .unwrap();
    std::fs::write(p("chain.txt"), &note).unwrap();
    let namespace = Genesis::id(&genesis_bytes);
    let mut bundle = StateProofBundle::decode(&std::fs::read(p("epoch0.proof")).unwrap()).unwrap();
    let mut finalized = verify_finalization(&namespace, &genesis.validators, &bundle.4).unwrap();
    // Epoch 1's committee certifying the epoch-0 block as it is: a round the block does not
    // name, which no honest committee signs.
    let mut mismatched = bundle.clone();
    let mut at_epoch_1 = finalized.clone();
    at_epoch_1.epoch = 1;
    *mismatched.4 = sign_finalization(
        &namespace,
        &[outsider_key.public_key_hex()],
        std::slice::from_ref(&outsider_key),
        &at_epoch_1,
    )
    .unwrap();
    std::fs::write(p("mismatched.proof"), mismatched.encode()).unwrap();
    // The block as epoch 1's committee made it: its header names epoch 1 (bytes 1..9,
    // `docs/blocks.md`), and the certificate finalizes that block.
    let mut header: [u8; HEADER_BYTES] = bundle.2.as_slice().try_into().unwrap();
    header[1..9].copy_from_slice(&1u64.to_be_bytes());
    let statements_hash: [u8; 32] = bundle.3.as_slice().try_into().unwrap();
    *bundle.2 = header.to_vec();
    finalized.digest = digest_from_parts(&header, &statements_hash);
    finalized.epoch = 1;
    *bundle.4 = sign_finalization(
        &namespace,
        &[outsider_key.public_key_hex()],
        &[outsider_key],
        &finalized,
    )
    .unwrap();
    std::fs::write(p("epoch1.proof"), bundle.encode()).unwrap();

    // The genesis alone refuses it; with the chain it verifies, and the epoch-0 proof still does.
    let (code, out, err) = verify_state("epoch1.proof", None);
    assert_eq!(code, 1, "{out}{err}");
    let (code, out, err) = verify_state("epoch1.proof", Some("chain.txt"));
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("committees of a chain of 1 hand-over(s) to epoch 1"),
        "{out}"
    );
    assert!(out.contains("absent  cedar/"), "{out}");
    let (code, out, err) = verify_state("mismatched.proof", Some("chain.txt"));
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("the header names round (epoch 0"), "{err}");
    assert_eq!(verify_state("epoch0.proof", Some("chain.txt")).0, 0);
    // A forged chain (the note's signature line cut) is refused before the proof is read.
    std::fs::write(p("cut.txt"), &note[..note.len() - 10]).unwrap();
    let (code, _, err) = verify_state("epoch1.proof", Some("cut.txt"));
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("hand-over chain does not verify from the genesis"),
        "{err}"
    );
}
