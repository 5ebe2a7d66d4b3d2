//! Cosigning follows the committee of each epoch (decision 003, step 4): a tree head produced
//! by a block of epoch `e` is cosigned with the keys and quorum of `e`'s committee; a member of
//! another epoch's committee cannot cosign it; and a verifier holding the genesis and the
//! hand-over chain accepts the quorum checkpoint, while the genesis alone does not when the new
//! member's cosignature is needed.

use proverka_log::{
    checkpoint_body, parse_checkpoint_unverified, verify_quorum_checkpoint_in_chain,
};
use proverka_node::cosign::{genesis_chain, CosignError, Cosigning};

#[path = "support/epochs.rs"]
mod epochs;
use epochs::{gather, net, ORIGIN, TIME_MS};

#[test]
fn epoch_zero_checkpoints_are_unchanged() {
    let net = net();
    let (v, results) = gather(&net, 0, &[1, 2], 0, 5);
    assert!(results.iter().all(Result::is_ok));
    let quorum = v.latest().expect("3 of 4");
    assert_eq!(quorum.epoch, 0);
    let body = checkpoint_body(ORIGIN, 5, &[5; 32]).unwrap();
    assert!(quorum.note.starts_with(&body));
    assert!(
        quorum.note[body.len()..].starts_with(b"\n"),
        "no extension line"
    );
}

#[test]
fn a_new_member_cosignature_counts_only_from_its_epoch() {
    let net = net();
    // Epoch 0: validator 4 is not in the committee; its cosignature is not even made, and a
    // note it makes for epoch 1 cannot serve epoch 0.
    assert!(net
        .cosigning(4)
        .cosign_own(0, 7, &[7; 32], TIME_MS)
        .is_none());
    let v0 = net.cosigning(0);
    let for_epoch1 = net
        .cosigning(4)
        .cosign_own(1, 7, &[7; 32], TIME_MS)
        .unwrap();
    v0.cosign_own(0, 7, &[7; 32], TIME_MS);
    v0.receive(net.consensus(4), &for_epoch1).unwrap();
    v0.receive(
        net.consensus(1),
        &net.cosigning(1)
            .cosign_own(0, 7, &[7; 32], TIME_MS)
            .unwrap(),
    )
    .unwrap();
    assert!(
        v0.latest().is_none(),
        "0 and 1 for epoch 0 plus 4 for epoch 1 are not a quorum of epoch 0"
    );

    // Epoch 1 (5 members, quorum 4): validator 4's cosignature counts.
    let (v, results) = gather(&net, 0, &[1, 2, 4], 1, 9);
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let quorum = v.latest().expect("4 of 5 in epoch 1");
    assert_eq!(quorum.epoch, 1);
    let text = String::from_utf8(quorum.note.clone()).unwrap();
    assert!(text.contains("\nproverka-epoch 1\n\n"), "{text}");
    // Three are not enough in epoch 1, though they were in epoch 0.
    let (v, _) = gather(&net, 0, &[1, 2], 1, 9);
    assert!(v.latest().is_none());
}

#[test]
fn a_removed_member_cosignature_counts_only_before_its_removal() {
    let net = net();
    // Epoch 2: validator 0 was removed; it makes no note for epoch 2.
    assert!(net
        .cosigning(0)
        .cosign_own(2, 11, &[11; 32], TIME_MS)
        .is_none());
    let v1 = net.cosigning(1);
    // A note validator 0 makes for epoch 1 is taken, but not for epoch 2's quorum.
    let old = net
        .cosigning(0)
        .cosign_own(1, 11, &[11; 32], TIME_MS)
        .unwrap();
    v1.receive(net.consensus(0), &old).unwrap();
    let note = net
        .cosigning(2)
        .cosign_own(2, 11, &[11; 32], TIME_MS)
        .unwrap();
    v1.receive(net.consensus(2), &note).unwrap();
    v1.cosign_own(2, 11, &[11; 32], TIME_MS);
    assert!(
        v1.latest().is_none(),
        "1 and 2 of epoch 2 plus 0 of epoch 1"
    );
    // With validator 3 of epoch 2, the quorum of 3 forms.
    let note = net
        .cosigning(3)
        .cosign_own(2, 11, &[11; 32], TIME_MS)
        .unwrap();
    v1.receive(net.consensus(3), &note).unwrap();
    let quorum = v1.latest().expect("3 of 4 in epoch 2");
    assert_eq!(quorum.epoch, 2);

    // A removed member sending a note that names epoch 2 is refused as a non-member.
    let key_of_0 = Cosigning::new(
        &net.genesis,
        &net.keys[0].consensus.public_key_hex(),
        net.keys[0].cosigner.clone(),
        net.keys[0].checkpoint.clone(),
    );
    // Make validator 0 believe it is in epoch 2 (a Byzantine or stale view).
    key_of_0.set_committee(2, &net.entries[..4]).unwrap();
    let forged = key_of_0.cosign_own(2, 13, &[13; 32], TIME_MS).unwrap();
    assert_eq!(
        net.cosigning(1).receive(net.consensus(0), &forged),
        Err(CosignError::NotMember(2))
    );
}

#[test]
fn an_unknown_epoch_is_refused_not_guessed() {
    let net = net();
    let v = Cosigning::new(
        &net.genesis,
        &net.keys[1].consensus.public_key_hex(),
        net.keys[1].cosigner.clone(),
        net.keys[1].checkpoint.clone(),
    );
    let note = net
        .cosigning(0)
        .cosign_own(1, 3, &[3; 32], TIME_MS)
        .unwrap();
    assert_eq!(
        v.receive(net.consensus(0), &note),
        Err(CosignError::UnknownEpoch(1))
    );
}

#[test]
fn a_verifier_follows_the_chain_to_the_committee_that_certified_a_checkpoint() {
    let net = net();
    let chain = net.chain();
    let (v, _) = gather(&net, 0, &[1, 2, 4], 1, 9);
    let quorum = v.latest().unwrap();
    let (checkpoint, epoch) = verify_quorum_checkpoint_in_chain(&quorum.note, &chain).unwrap();
    assert_eq!((checkpoint.size, epoch), (9, 1));
    // Genesis members 0, 1 and 2 cosigned it, so the genesis alone (the chain of no
    // hand-over, whose quorum is 3) accepts it too.
    let genesis_only = genesis_chain(&net.genesis).unwrap();
    let result = verify_quorum_checkpoint_in_chain(&quorum.note, &genesis_only);
    assert!(
        result.is_ok(),
        "genesis members 0, 1, 2 did cosign: {result:?}"
    );
    // With validator 3 absent and validator 0 removed, epoch 2's quorum {1, 2, 4} is certified
    // only through the chain.
    let (v, results) = gather(&net, 1, &[2, 4], 2, 15);
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let quorum = v.latest().expect("3 of 4 in epoch 2");
    verify_quorum_checkpoint_in_chain(&quorum.note, &chain).unwrap();
    assert!(verify_quorum_checkpoint_in_chain(&quorum.note, &genesis_only).is_err());
    // The epoch line is covered by the cosignatures: editing it breaks them.
    let edited = String::from_utf8(quorum.note.clone())
        .unwrap()
        .replace("proverka-epoch 2", "proverka-epoch 1");
    assert!(verify_quorum_checkpoint_in_chain(edited.as_bytes(), &chain).is_err());
    assert!(parse_checkpoint_unverified(&quorum.note).is_ok());
}
