//! Cosigning follows the committee of each epoch (decision 003, step 4): a tree head produced
//! by a block of epoch `e` is cosigned with the keys and quorum of `e`'s committee; a member of
//! another epoch's committee cannot cosign it; and a verifier holding the genesis and the
//! hand-over chain accepts the quorum checkpoint, while the genesis alone does not when the new
//! member's cosignature is needed.

use proverka_ledger::{Genesis, ValidatorKeys, GENESIS_FORMAT};
use proverka_log::{
    checkpoint_body, merge_handover_notes, parse_checkpoint_unverified, sign_handover,
    verify_quorum_checkpoint_in_chain, Committee, CommitteeChain,
};
use proverka_node::cosign::{genesis_chain, CosignError, Cosigning};
use proverka_node::datadir::{validator_keys_of, DataDir, NodeKeys};
use proverka_node::handover::committee_of;

const ORIGIN: &str = "city.example/proverka";
const TIME_MS: u64 = 1_764_000_000_000;

struct Net {
    _dir: tempfile::TempDir,
    genesis: Genesis,
    keys: Vec<NodeKeys>,
    entries: Vec<ValidatorKeys>,
}

/// Six validators' keys; genesis names the first four (quorum 3).
fn net() -> Net {
    let dir = tempfile::tempdir().unwrap();
    let mut publics = Vec::new();
    let mut keys = Vec::new();
    for i in 0..6 {
        let data = DataDir::new(&dir.path().join(format!("v{i}")));
        publics.push(data.init_keys(ORIGIN).unwrap());
        keys.push(data.load_keys().unwrap());
    }
    let entries = validator_keys_of(&publics).unwrap();
    let genesis = Genesis {
        format: GENESIS_FORMAT.into(),
        origin: ORIGIN.into(),
        created_ms: TIME_MS,
        validators: publics[..4].iter().map(|p| p.validator.clone()).collect(),
        receipt_key: publics[0].receipt_key.clone(),
        checkpoint_vkey: publics[0].checkpoint_vkey.clone(),
        issuers: Vec::new(),
        governance_threshold: None,
        validator_keys: entries[..4].to_vec(),
    };
    let genesis = Genesis::from_bytes(&genesis.to_bytes()).unwrap();
    Net {
        _dir: dir,
        genesis,
        keys,
        entries,
    }
}

impl Net {
    /// Epoch 1: validator 4 joins (5 members, quorum 4). Epoch 2: validator 0 leaves
    /// (members 1..=4, quorum 3).
    fn members(&self, epoch: u64) -> Vec<ValidatorKeys> {
        match epoch {
            0 => self.entries[..4].to_vec(),
            1 => self.entries[..5].to_vec(),
            _ => self.entries[1..5].to_vec(),
        }
    }
    fn cosigning(&self, i: usize) -> Cosigning {
        let c = Cosigning::new(
            &self.genesis,
            &self.keys[i].consensus.public_key_hex(),
            self.keys[i].cosigner.clone(),
            self.keys[i].checkpoint.clone(),
        );
        for epoch in [1, 2] {
            c.set_committee(epoch, &self.members(epoch)).unwrap();
        }
        c
    }
    fn consensus(&self, i: usize) -> [u8; 32] {
        hex::decode(self.keys[i].consensus.public_key_hex())
            .unwrap()
            .try_into()
            .unwrap()
    }
    fn committee(&self, epoch: u64) -> Committee {
        committee_of(&proverka_ledger::validators::CommitteeRecord {
            epoch,
            members: self.members(epoch),
        })
    }
    /// The hand-over to `epoch`, signed by `signers` (members of the committee before it).
    fn handover(&self, epoch: u64, signers: &[usize]) -> Vec<u8> {
        let notes: Vec<Vec<u8>> = signers
            .iter()
            .map(|&i| {
                let key = self.keys[i].cosigner.as_ref().unwrap();
                sign_handover(ORIGIN, &self.committee(epoch), key, 1_764_000_000).unwrap()
            })
            .collect();
        let refs: Vec<&[u8]> = notes.iter().map(Vec::as_slice).collect();
        merge_handover_notes(&refs).unwrap()
    }
    fn chain(&self) -> CommitteeChain {
        let mut chain = genesis_chain(&self.genesis).unwrap();
        chain.push(&self.handover(1, &[0, 1, 2])).unwrap();
        chain.push(&self.handover(2, &[0, 2, 3, 4])).unwrap();
        chain
    }
}

/// Validator `me` cosigns `(epoch, size, root)` and hears the cosignatures of `others`.
fn gather(
    net: &Net,
    me: usize,
    others: &[usize],
    epoch: u64,
    size: u64,
) -> (Cosigning, Vec<Result<(), CosignError>>) {
    let root = [size as u8; 32];
    let v = net.cosigning(me);
    let results = others
        .iter()
        .map(|&i| {
            let note = net
                .cosigning(i)
                .cosign_own(epoch, size, &root, TIME_MS)
                .ok_or(CosignError::NotMember(epoch))?;
            v.receive(net.consensus(i), &note)
        })
        .collect();
    v.cosign_own(epoch, size, &root, TIME_MS);
    (v, results)
}

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
