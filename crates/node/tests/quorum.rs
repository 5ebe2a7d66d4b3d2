//! A receipt is certified only by a quorum of the genesis validators: one validator — or any
//! group below the quorum — that signs a fabricated tree head cannot produce a receipt that a
//! verifier holding only the genesis accepts.

use proverka_ledger::{Genesis, GENESIS_FORMAT};
use proverka_log::{cosign_checkpoint, leaf_entry, leaf_hash, sign_checkpoint, sign_tree_head};
use proverka_node::cosign::{verify_certified_receipt, Cosigning};
use proverka_node::datadir::{validator_keys_of, DataDir, NodeKeys};
use proverka_statement::{sign_statement, ContentType, KeyType, PrivateKey, StatementParams};

const ORIGIN: &str = "city.example/proverka";

/// Four validators' keys made by `init_keys`, and their genesis.
fn committee(dir: &std::path::Path, n: usize) -> (Genesis, Vec<NodeKeys>) {
    let mut publics = Vec::new();
    let mut keys = Vec::new();
    for i in 0..n {
        let data = DataDir::new(&dir.join(format!("v{i}")));
        publics.push(data.init_keys(ORIGIN).unwrap());
        keys.push(data.load_keys().unwrap());
    }
    let genesis = Genesis {
        format: GENESIS_FORMAT.into(),
        origin: ORIGIN.into(),
        created_ms: 1_764_000_000_000,
        validators: publics.iter().map(|p| p.validator.clone()).collect(),
        receipt_key: publics[0].receipt_key.clone(),
        checkpoint_vkey: publics[0].checkpoint_vkey.clone(),
        issuers: Vec::new(),
        governance_threshold: None,
        validator_keys: validator_keys_of(&publics).unwrap(),
    };
    let bytes = genesis.to_bytes();
    (Genesis::from_bytes(&bytes).unwrap(), keys)
}

fn statement() -> Vec<u8> {
    let key = PrivateKey::generate(KeyType::P256).unwrap();
    sign_statement(
        &key,
        &StatementParams {
            iss: "mallory",
            sub: "valve-17",
            iat: 1_764_000_000,
            content_type: ContentType::Text("text/plain".into()),
            payload: b"open",
        },
    )
}

/// A receipt for `stmt` as leaf 0 of a one-leaf tree, signed by `signer`'s receipt key and
/// carrying a checkpoint signed by `signer` and cosigned by each of `cosigners`.
fn fabricated_receipt(stmt: &[u8], signer: &NodeKeys, cosigners: &[&NodeKeys]) -> Vec<u8> {
    let root = leaf_hash(&leaf_entry(stmt));
    let mut note = sign_checkpoint(&signer.checkpoint, ORIGIN, 1, &root).unwrap();
    for c in cosigners {
        note = cosign_checkpoint(&note, c.cosigner.as_ref().unwrap(), 1_764_000_000).unwrap();
    }
    sign_tree_head(&signer.receipt, ORIGIN, 1_764_000_000, 1, &root)
        .unwrap()
        .receipt_with(0, &[], Some(&note))
        .unwrap()
}

#[test]
fn the_quorum_of_four_validators_is_three() {
    let dir = tempfile::tempdir().unwrap();
    let (genesis, _) = committee(dir.path(), 4);
    assert_eq!(genesis.quorum(), 3);
    let (one, _) = committee(&dir.path().join("one"), 1);
    assert_eq!(one.quorum(), 1);
}

#[test]
fn a_validator_alone_cannot_certify_a_fabricated_receipt() {
    let dir = tempfile::tempdir().unwrap();
    let (genesis, keys) = committee(dir.path(), 4);
    let stmt = statement();
    let alone = fabricated_receipt(&stmt, &keys[0], &[&keys[0]]);
    let err = verify_certified_receipt(&genesis, &alone, &stmt).unwrap_err();
    assert!(err.contains("1 valid cosignatures, 3 required"), "{err}");

    // Its cosignature repeated counts once.
    let twice = fabricated_receipt(&stmt, &keys[0], &[&keys[0], &keys[0]]);
    let err = verify_certified_receipt(&genesis, &twice, &stmt).unwrap_err();
    assert!(err.contains("required"), "{err}");
}

#[test]
fn f_plus_one_colluding_validators_are_still_below_the_quorum() {
    let dir = tempfile::tempdir().unwrap();
    let (genesis, keys) = committee(dir.path(), 4);
    let stmt = statement();
    let two = fabricated_receipt(&stmt, &keys[1], &[&keys[0], &keys[1]]);
    let err = verify_certified_receipt(&genesis, &two, &stmt).unwrap_err();
    assert!(err.contains("2 valid cosignatures, 3 required"), "{err}");
}

#[test]
fn a_quorum_certifies_and_the_receipt_must_match_its_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let (genesis, keys) = committee(dir.path(), 4);
    let stmt = statement();
    let three = fabricated_receipt(&stmt, &keys[2], &[&keys[0], &keys[1], &keys[3]]);
    let ok = verify_certified_receipt(&genesis, &three, &stmt).unwrap();
    assert_eq!(ok.checkpoint.cosignatures.len(), 3);
    assert_eq!(ok.receipt.tree_size, 1);

    // The same quorum checkpoint on another statement's receipt: the roots differ.
    let other = statement();
    let root = leaf_hash(&leaf_entry(&other));
    let note = proverka_log::quorum_checkpoint_of(&three).unwrap().unwrap();
    let swapped = sign_tree_head(&keys[2].receipt, ORIGIN, 1_764_000_000, 1, &root)
        .unwrap()
        .receipt_with(0, &[], Some(&note))
        .unwrap();
    let err = verify_certified_receipt(&genesis, &swapped, &other).unwrap_err();
    assert!(err.contains("roots differ"), "{err}");

    // A receipt without a quorum checkpoint is not certified.
    let bare = sign_tree_head(&keys[2].receipt, ORIGIN, 1_764_000_000, 1, &root)
        .unwrap()
        .receipt(0, &[])
        .unwrap();
    let err = verify_certified_receipt(&genesis, &bare, &other).unwrap_err();
    assert!(err.contains("no quorum-cosigned checkpoint"), "{err}");
}

#[test]
fn a_receipt_key_outside_the_genesis_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (genesis, keys) = committee(dir.path(), 4);
    let (_, outsiders) = committee(&dir.path().join("outside"), 1);
    let stmt = statement();
    let root = leaf_hash(&leaf_entry(&stmt));
    let good = fabricated_receipt(&stmt, &keys[0], &[&keys[0], &keys[1], &keys[2]]);
    let note = proverka_log::quorum_checkpoint_of(&good).unwrap().unwrap();
    let forged = sign_tree_head(&outsiders[0].receipt, ORIGIN, 1_764_000_000, 1, &root)
        .unwrap()
        .receipt_with(0, &[], Some(&note))
        .unwrap();
    let err = verify_certified_receipt(&genesis, &forged, &stmt).unwrap_err();
    assert!(err.contains("receipt signature does not verify"), "{err}");
}

#[test]
fn cosigning_gathers_a_quorum_only_for_the_tree_head_this_validator_computed() {
    let dir = tempfile::tempdir().unwrap();
    let (genesis, keys) = committee(dir.path(), 4);
    let me = |i: usize| {
        Cosigning::new(
            &genesis,
            &keys[i].consensus.public_key_hex(),
            keys[i].cosigner.clone(),
            keys[i].checkpoint.clone(),
        )
    };
    let validators: Vec<Cosigning> = (0..4).map(me).collect();
    let consensus = |i: usize| -> [u8; 32] {
        hex::decode(keys[i].consensus.public_key_hex())
            .unwrap()
            .try_into()
            .unwrap()
    };
    let root = [7u8; 32];
    let notes: Vec<Vec<u8>> = (1..4)
        .map(|i| {
            validators[i]
                .cosign_own(0, 5, &root, 1_764_000_000_000)
                .unwrap()
        })
        .collect();

    // Validator 0 hears three agreeing cosignatures but has not computed size 5 itself.
    for (i, note) in notes.iter().enumerate() {
        validators[0].receive(consensus(i + 1), note).unwrap();
    }
    assert!(validators[0].latest().is_none());
    // Once it computes a different root, still nothing; once it agrees, the quorum forms.
    validators[0].cosign_own(0, 5, &[8u8; 32], 1_764_000_000_000);
    assert!(validators[0].latest().is_none());
    let v0 = me(0);
    for (i, note) in notes.iter().enumerate().take(2) {
        v0.receive(consensus(i + 1), note).unwrap();
    }
    v0.cosign_own(0, 5, &root, 1_764_000_000_000);
    let quorum = v0.latest().expect("a quorum of 3");
    assert_eq!((quorum.size, quorum.root), (5, root));

    // A note relayed by another member than its cosigner is refused.
    let err = me(0).receive(consensus(2), &notes[0]).unwrap_err();
    assert!(err.to_string().contains("cosignature note"), "{err}");
}
