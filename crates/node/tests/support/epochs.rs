//! Committees by epoch, in process: six validators' keys, a genesis naming the first four,
//! the committees of epochs 1 (validator 4 joins) and 2 (validator 0 leaves), their hand-over
//! notes, and each validator's `Cosigning`. Shared by `crates/node/tests/cosign_epochs.rs` and
//! the CLI's `crates/cli/tests/verify_chain.rs` (included by path, like `src/ports.rs`).

// Each test binary uses part of it.
#![allow(dead_code)]

use proverka_ledger::{Genesis, ValidatorKeys, GENESIS_FORMAT};
use proverka_log::{merge_handover_notes, sign_handover, Committee, CommitteeChain};
use proverka_node::cosign::{genesis_chain, CosignError, Cosigning};
use proverka_node::datadir::{validator_keys_of, DataDir, NodeKeys};
use proverka_node::handover::committee_of;

pub const ORIGIN: &str = "city.example/proverka";
pub const TIME_MS: u64 = 1_764_000_000_000;

pub struct Net {
    _dir: tempfile::TempDir,
    pub genesis: Genesis,
    pub keys: Vec<NodeKeys>,
    pub entries: Vec<ValidatorKeys>,
}

/// Six validators' keys; genesis names the first four (quorum 3).
pub fn net() -> Net {
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
    pub fn members(&self, epoch: u64) -> Vec<ValidatorKeys> {
        match epoch {
            0 => self.entries[..4].to_vec(),
            1 => self.entries[..5].to_vec(),
            _ => self.entries[1..5].to_vec(),
        }
    }
    pub fn cosigning(&self, i: usize) -> Cosigning {
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
    pub fn consensus(&self, i: usize) -> [u8; 32] {
        hex::decode(self.keys[i].consensus.public_key_hex())
            .unwrap()
            .try_into()
            .unwrap()
    }
    pub fn committee(&self, epoch: u64) -> Committee {
        committee_of(&proverka_ledger::validators::CommitteeRecord {
            epoch,
            members: self.members(epoch),
        })
    }
    /// The hand-over to `epoch`, signed by `signers` (members of the committee before it).
    pub fn handover(&self, epoch: u64, signers: &[usize]) -> Vec<u8> {
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
    /// The chain file (as `GET /validators/epochs` serves it) of [`Net::chain`].
    pub fn chain_file(&self) -> Vec<u8> {
        [
            self.handover(1, &[0, 1, 2]),
            self.handover(2, &[0, 2, 3, 4]),
        ]
        .concat()
    }
    pub fn chain(&self) -> CommitteeChain {
        let mut chain = genesis_chain(&self.genesis).unwrap();
        chain.push(&self.handover(1, &[0, 1, 2])).unwrap();
        chain.push(&self.handover(2, &[0, 2, 3, 4])).unwrap();
        chain
    }
}

/// Validator `me` cosigns `(epoch, size, [size; 32])` and hears the cosignatures of `others`.
pub fn gather(
    net: &Net,
    me: usize,
    others: &[usize],
    epoch: u64,
    size: u64,
) -> (Cosigning, Vec<Result<(), CosignError>>) {
    gather_root(net, me, others, epoch, size, &[size as u8; 32])
}

/// Validator `me` cosigns `(epoch, size, root)` and hears the cosignatures of `others`.
pub fn gather_root(
    net: &Net,
    me: usize,
    others: &[usize],
    epoch: u64,
    size: u64,
    root: &[u8; 32],
) -> (Cosigning, Vec<Result<(), CosignError>>) {
    let v = net.cosigning(me);
    let results = others
        .iter()
        .map(|&i| {
            let note = net
                .cosigning(i)
                .cosign_own(epoch, size, root, TIME_MS)
                .ok_or(CosignError::NotMember(epoch))?;
            v.receive(net.consensus(i), &note)
        })
        .collect();
    v.cosign_own(epoch, size, root, TIME_MS);
    (v, results)
}
