//! The validator set as ledger data, as a specification: governance changes it by proposal and
//! votes; a change takes effect only at the next epoch boundary; every refusal says why.

use proverka_ledger::kinds::{PROPOSE, VOTE};
use proverka_ledger::make::{self, NewValidator};
use proverka_ledger::records::Role;
use proverka_ledger::validators::{self, CommitteeRecord, EPOCH_BLOCKS, MAX_VALIDATORS};
use proverka_ledger::{
    BlockContext, Decision, Genesis, GenesisIssuer, Rejection, Rules, ValidatorKeys, GENESIS_FORMAT,
};
use proverka_statement::{statement_id, KeyType, PrivateKey, PublicKey};

mod support;
use support::city::{verdict, T0};
use support::MemState;

const ORIGIN: &str = "city.example/log";

/// Validator `i`'s keys: consensus key `[i; 32]`, a receipt key, a checkpoint key named by the
/// origin and a cosigner key named `v<i>`.
fn keys_of(i: u8, receipt: &PublicKey) -> ValidatorKeys {
    ValidatorKeys {
        validator: hex::encode([i; 32]),
        receipt_key: hex::encode(receipt.to_cose_key()),
        checkpoint_vkey: format!("{ORIGIN}+0000000{}+AQ", i % 10),
        cosigner_vkey: format!("v{i}+00000000+AQ"),
    }
}

struct Ledger {
    rules: Rules,
    state: MemState,
    height: u64,
    gov: Vec<(String, PrivateKey)>,
    operator: (String, PrivateKey),
    receipt: PublicKey,
}

/// A ledger whose genesis has `validators` validators (keys `[1; 32]`, `[2; 32]`, …), three
/// governance members (threshold 2) and one operator.
fn ledger(validators: u8) -> Ledger {
    let receipt = PrivateKey::generate(KeyType::P256).unwrap().public_key();
    let gov: Vec<(String, PrivateKey)> = (1..=3)
        .map(|i| {
            (
                format!("gov{i}"),
                PrivateKey::generate(KeyType::P256).unwrap(),
            )
        })
        .collect();
    let operator = (
        "water".to_owned(),
        PrivateKey::generate(KeyType::P256).unwrap(),
    );
    let mut issuers: Vec<GenesisIssuer> = gov
        .iter()
        .map(|(iss, k)| {
            GenesisIssuer::new(iss, &k.public_key(), false).with_roles(&[Role::Governance])
        })
        .collect();
    issuers.push(
        GenesisIssuer::new(&operator.0, &operator.1.public_key(), false)
            .with_roles(&[Role::Operator]),
    );
    let validator_keys: Vec<ValidatorKeys> =
        (1..=validators).map(|i| keys_of(i, &receipt)).collect();
    let genesis = Genesis {
        format: GENESIS_FORMAT.into(),
        origin: ORIGIN.into(),
        created_ms: T0,
        validators: validator_keys.iter().map(|k| k.validator.clone()).collect(),
        receipt_key: validator_keys[0].receipt_key.clone(),
        checkpoint_vkey: validator_keys[0].checkpoint_vkey.clone(),
        issuers,
        governance_threshold: None,
        validator_keys,
    };
    Ledger {
        rules: Rules::new(&genesis).unwrap(),
        state: MemState::default(),
        height: 0,
        gov,
        operator,
        receipt,
    }
}

fn sign(signer: &(String, PrivateKey), kind: &str, payload: &[u8], height: u64) -> Vec<u8> {
    support::city::sign(&signer.1, &signer.0, kind, payload, T0 + height * 1000)
}

impl Ledger {
    /// Applies the next block (one second after the previous) and commits its writes.
    fn block(&mut self, statements: Vec<Vec<u8>>) -> Vec<Decision> {
        self.height += 1;
        let ctx = BlockContext {
            height: self.height,
            time_ms: T0 + self.height * 1000,
            anchor: None,
        };
        self.state.apply_block(&self.rules, ctx, &statements)
    }

    fn submit(&mut self, statement: Vec<u8>) -> Result<(), Rejection> {
        verdict(self.block(vec![statement]).remove(0))
    }

    /// Governance member 0 proposes `payload`; members 0 and 1 approve it (the threshold).
    fn decide(&mut self, payload: &[u8]) -> Result<(), Rejection> {
        let proposal = sign(&self.gov[0], PROPOSE, payload, self.height);
        let id = statement_id(&proposal);
        self.submit(proposal)?;
        for voter in 0..2 {
            let vote = sign(&self.gov[voter], VOTE, &make::vote(&id, true), self.height);
            self.submit(vote)?;
        }
        Ok(())
    }

    /// Empty blocks until the next block is at `height`.
    fn skip_to(&mut self, height: u64) {
        self.height = height - 1;
    }

    fn current(&self) -> CommitteeRecord {
        validators::current(&self.state, self.rules.genesis()).unwrap()
    }

    fn scheduled(&self) -> CommitteeRecord {
        validators::scheduled(&self.state, self.rules.genesis()).unwrap()
    }

    fn new_validator(&self, i: u8) -> (NewValidator<'_>, String, String) {
        let keys = keys_of(i, &self.receipt);
        let v = NewValidator {
            consensus: [i; 32],
            receipt_key: &self.receipt,
            checkpoint_vkey: "",
            cosigner_vkey: "",
        };
        (v, keys.checkpoint_vkey, keys.cosigner_vkey)
    }
}

/// `propose add-validator` for validator `i` (keys as [`keys_of`]).
fn add(l: &Ledger, i: u8) -> Vec<u8> {
    let (mut v, checkpoint, cosigner) = l.new_validator(i);
    v.checkpoint_vkey = &checkpoint;
    v.cosigner_vkey = &cosigner;
    make::propose_add_validator(&v)
}

fn validators_of(c: &CommitteeRecord) -> Vec<String> {
    c.members.iter().map(|m| m.validator.clone()).collect()
}

#[test]
fn a_validator_added_by_governance_joins_at_the_next_epoch_boundary_not_before() {
    let mut l = ledger(4);
    let genesis_set = validators_of(&l.current());
    assert_eq!(genesis_set.len(), 4);
    l.decide(&add(&l, 5)).unwrap();
    // Approved: scheduled for the next epoch; the committee in force is unchanged.
    assert_eq!(l.scheduled().members.len(), 5);
    assert_eq!(l.scheduled().members[4], keys_of(5, &l.receipt));
    assert_eq!(validators_of(&l.current()), genesis_set);
    // The block before the last of epoch 0 hands nothing over.
    l.skip_to(EPOCH_BLOCKS - 2);
    l.block(vec![]);
    assert_eq!(validators_of(&l.current()), genesis_set);
    // The last block of epoch 0 makes the scheduled committee epoch 1's.
    l.block(vec![]);
    assert_eq!(l.height, EPOCH_BLOCKS - 1);
    let now = l.current();
    assert_eq!(now.epoch, 1);
    assert_eq!(now.members.len(), 5);
    assert_eq!(
        validators::committee_at(&l.state, 1).unwrap(),
        Some(now.clone())
    );
    assert_eq!(validators::epoch_of(EPOCH_BLOCKS - 1), 0);
    assert_eq!(validators::epoch_of(EPOCH_BLOCKS), 1);
    // Later boundaries with nothing scheduled change nothing.
    l.skip_to(2 * EPOCH_BLOCKS - 1);
    l.block(vec![]);
    assert_eq!(l.current(), now);
    assert_eq!(validators::committee_at(&l.state, 2).unwrap(), None);
}

#[test]
fn a_change_approved_in_the_last_block_of_an_epoch_waits_for_the_next_boundary() {
    let mut l = ledger(1);
    // Proposal and first vote before the boundary, the deciding vote in its last block.
    let proposal = sign(&l.gov[0], PROPOSE, &add(&l, 2), l.height);
    let id = statement_id(&proposal);
    l.submit(proposal).unwrap();
    l.submit(sign(&l.gov[0], VOTE, &make::vote(&id, true), l.height))
        .unwrap();
    l.skip_to(EPOCH_BLOCKS - 1);
    l.submit(sign(&l.gov[1], VOTE, &make::vote(&id, true), l.height))
        .unwrap();
    // The hand-over read the state before the block: epoch 1 keeps the genesis committee.
    assert_eq!(l.current().members.len(), 1);
    assert_eq!(l.scheduled().members.len(), 2);
    l.skip_to(2 * EPOCH_BLOCKS - 1);
    l.block(vec![]);
    assert_eq!(l.current().epoch, 2);
    assert_eq!(l.current().members.len(), 2);
}

#[test]
fn removal_and_rotation_edit_the_scheduled_committee_in_place() {
    let mut l = ledger(4);
    l.decide(&make::propose_remove_validator(&[2; 32])).unwrap();
    assert_eq!(
        validators_of(&l.scheduled()),
        [1u8, 3, 4].map(|i| hex::encode([i; 32]))
    );
    let (mut v, checkpoint, cosigner) = l.new_validator(9);
    v.checkpoint_vkey = &checkpoint;
    v.cosigner_vkey = &cosigner;
    let rotate = make::propose_rotate_validator(&[3; 32], &v);
    l.decide(&rotate).unwrap();
    // Validator 3's place now holds validator 9's keys; order is kept.
    assert_eq!(
        validators_of(&l.scheduled()),
        [1u8, 9, 4].map(|i| hex::encode([i; 32]))
    );
    l.skip_to(EPOCH_BLOCKS - 1);
    l.block(vec![]);
    assert_eq!(
        validators_of(&l.current()),
        [1u8, 9, 4].map(|i| hex::encode([i; 32]))
    );
}

#[test]
fn validator_set_changes_are_refused_with_the_reason_and_change_nothing() {
    let mut l = ledger(2);
    let before = l.scheduled();
    // Only governance proposes.
    let by_operator = sign(&l.operator, PROPOSE, &add(&l, 3), l.height);
    assert!(matches!(
        l.submit(by_operator),
        Err(Rejection::MissingRole { .. })
    ));
    // A consensus key already in the committee.
    let again = sign(&l.gov[0], PROPOSE, &add(&l, 2), l.height);
    assert!(
        matches!(l.submit(again), Err(Rejection::Conflict(m)) if m.contains("already a validator")),
    );
    // A cosigner key name another validator uses.
    let (mut v, checkpoint, _) = l.new_validator(3);
    v.checkpoint_vkey = &checkpoint;
    v.cosigner_vkey = "v1+00000000+AQ";
    let same_name = sign(
        &l.gov[0],
        PROPOSE,
        &make::propose_add_validator(&v),
        l.height,
    );
    assert!(matches!(l.submit(same_name), Err(Rejection::Conflict(m)) if m.contains("\"v1\"")),);
    // A checkpoint key not named by the log origin.
    let (mut v, _, cosigner) = l.new_validator(3);
    v.checkpoint_vkey = "elsewhere.example/log+00000000+AQ";
    v.cosigner_vkey = &cosigner;
    let foreign = sign(
        &l.gov[0],
        PROPOSE,
        &make::propose_add_validator(&v),
        l.height,
    );
    assert!(matches!(l.submit(foreign), Err(Rejection::NotPermitted(m)) if m.contains("origin")),);
    // Removing or rotating a key that is not a validator.
    let unknown = sign(
        &l.gov[0],
        PROPOSE,
        &make::propose_remove_validator(&[7; 32]),
        l.height,
    );
    assert!(matches!(l.submit(unknown), Err(Rejection::NotFound(_))));
    // A consensus key of the wrong length is a malformed payload.
    let short = proverka_ledger::payload::encode_map(vec![
        (1, ciborium::value::Value::Text("remove-validator".into())),
        (6, ciborium::value::Value::Bytes(vec![1; 31])),
    ]);
    let short = sign(&l.gov[0], PROPOSE, &short, l.height);
    assert!(matches!(l.submit(short), Err(Rejection::BadPayload { .. })));
    // One open change per validator.
    l.submit(sign(&l.gov[0], PROPOSE, &add(&l, 3), l.height))
        .unwrap();
    let remove_it_too = sign(&l.gov[1], PROPOSE, &add(&l, 3), l.height + 1);
    assert!(
        matches!(l.submit(remove_it_too), Err(Rejection::Conflict(m)) if m.contains("is open")),
    );
    assert_eq!(
        l.scheduled(),
        before,
        "nothing refused changed the committee"
    );
}

#[test]
fn the_last_validator_cannot_be_removed_and_the_committee_is_bounded() {
    let mut l = ledger(1);
    let last = sign(
        &l.gov[0],
        PROPOSE,
        &make::propose_remove_validator(&[1; 32]),
        l.height,
    );
    assert!(matches!(l.submit(last), Err(Rejection::Conflict(m)) if m.contains("last validator")),);
    let mut l = ledger(MAX_VALIDATORS as u8);
    let one_more = sign(&l.gov[0], PROPOSE, &add(&l, 200), l.height);
    assert!(
        matches!(l.submit(one_more), Err(Rejection::Conflict(m)) if m.contains("100 validators")),
    );
}
