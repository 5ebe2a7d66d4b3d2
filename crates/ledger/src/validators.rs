//! The validator set as ledger data: changed by governance, handed over at epoch boundaries.
//!
//! Genesis names the first committee (epoch 0). Governance members change it with `propose`
//! statements (`add-validator`, `remove-validator`, `rotate-validator`) decided by the
//! constitution's threshold of votes, like any governance change (`orgs.rs`). An approved
//! change does not touch the committee in force: it edits the *scheduled* committee. The last
//! block of each epoch (`height % EPOCH_BLOCKS == EPOCH_BLOCKS - 1`) hands over: its prelude
//! makes the scheduled committee the one of the next epoch, as of the state before that block.
//! So every validator derives the next committee from the same finalized state, and the
//! consensus engine learns it once that block is finalized (`docs/network.md`, "Changing the
//! validator set").
//!
//! State keys (`docs/state.md`):
//! - `validators/scheduled` → [`CommitteeRecord`]: the committee after every approved change
//!   (absent until the first change);
//! - `validators/current` → [`CommitteeRecord`]: the committee in force and the epoch it
//!   started (absent while it is the genesis committee);
//! - `validators/epoch/` ‖ epoch (u64 BE) → [`CommitteeRecord`]: each committee at the epoch it
//!   took over, kept for auditors.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::ctx::{BlockContext, Ctx, RuleResult};
use crate::genesis::{Genesis, ValidatorKeys};
use crate::records::{self, GovAction};
use crate::rules::{Rejection, StateError, StateView, Writes};

/// Blocks per epoch: the validator set can change only between two epochs.
pub const EPOCH_BLOCKS: u64 = 10_000;
/// Most validators in a committee (receipts and checkpoints grow with it: `BENCHMARKS.md`).
pub const MAX_VALIDATORS: usize = 100;

const SCHEDULED: &[u8] = b"validators/scheduled";
const CURRENT: &[u8] = b"validators/current";
const EPOCH: &[u8] = b"validators/epoch/";

/// A committee and the epoch from which it is (or will be) in force.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitteeRecord {
    /// The epoch it took over (for `scheduled`: the epoch of the change that made it).
    pub epoch: u64,
    /// Its validators' keys, in committee order.
    pub members: Vec<ValidatorKeys>,
}

/// The epoch a block height belongs to (epoch 0 holds heights `0..EPOCH_BLOCKS`).
pub fn epoch_of(height: u64) -> u64 {
    height / EPOCH_BLOCKS
}

/// `validators/epoch/` ‖ epoch.
pub fn epoch_key(epoch: u64) -> Vec<u8> {
    [EPOCH, &epoch.to_be_bytes()].concat()
}

fn read(view: &dyn StateView, key: &[u8]) -> Result<Option<CommitteeRecord>, StateError> {
    view.get(key)?
        .map(|bytes| records::decode(&bytes))
        .transpose()
        .map_err(|e| StateError(format!("corrupt committee record: {e}")))
}

fn genesis_committee(genesis: &Genesis) -> CommitteeRecord {
    CommitteeRecord {
        epoch: 0,
        members: genesis.validator_entries(),
    }
}

/// The committee in force.
pub fn current(view: &dyn StateView, genesis: &Genesis) -> Result<CommitteeRecord, StateError> {
    Ok(read(view, CURRENT)?.unwrap_or_else(|| genesis_committee(genesis)))
}

/// The committee that will take over at the next epoch boundary (the current one when no
/// change was approved since).
pub fn scheduled(view: &dyn StateView, genesis: &Genesis) -> Result<CommitteeRecord, StateError> {
    match read(view, SCHEDULED)? {
        Some(s) => Ok(s),
        None => current(view, genesis),
    }
}

/// The committee that took over at `epoch`, if the set changed then.
pub fn committee_at(
    view: &dyn StateView,
    epoch: u64,
) -> Result<Option<CommitteeRecord>, StateError> {
    read(view, &epoch_key(epoch))
}

/// The committee that runs `epoch`, as the applied state knows it: the latest hand-over at or
/// before `epoch`, else genesis's. Exact for every past epoch, for the current one, and for the
/// next one once the current epoch's last block is applied (that block's prelude hands over);
/// what consensus asks for at each boundary.
pub fn committee_for_epoch(
    view: &dyn StateView,
    genesis: &Genesis,
    epoch: u64,
) -> Result<CommitteeRecord, StateError> {
    let current = current(view, genesis)?;
    if current.epoch <= epoch {
        return Ok(current);
    }
    // An earlier epoch (a restart resuming just after a hand-over): walk back to the hand-over
    // that was in force then.
    for earlier in (1..=epoch).rev() {
        if let Some(record) = committee_at(view, earlier)? {
            return Ok(record);
        }
    }
    Ok(genesis_committee(genesis))
}

/// The hand-over writes of `block`: none unless it is the last block of its epoch and the
/// scheduled committee differs from the one in force; then the scheduled committee becomes
/// the next epoch's (at most 2 writes).
pub fn hand_over(
    view: &dyn StateView,
    genesis: &Genesis,
    block: &BlockContext,
) -> Result<Writes, StateError> {
    if block.height % EPOCH_BLOCKS != EPOCH_BLOCKS - 1 {
        return Ok(Vec::new());
    }
    let Some(scheduled) = read(view, SCHEDULED)? else {
        return Ok(Vec::new());
    };
    if scheduled.members == current(view, genesis)?.members {
        return Ok(Vec::new());
    }
    let next = CommitteeRecord {
        epoch: epoch_of(block.height) + 1,
        members: scheduled.members,
    };
    let bytes = records::encode(&next);
    Ok(vec![
        (CURRENT.to_vec(), Some(bytes.clone())),
        (epoch_key(next.epoch), Some(bytes)),
    ])
}

/// Whether a validator-set change can be made to the scheduled committee now (checked when it
/// is proposed and again when the votes carry it out).
pub fn check(ctx: &Ctx, genesis: &Genesis, action: &GovAction) -> RuleResult {
    let committee = scheduled(ctx, genesis)?;
    apply(&committee.members, genesis, action).map(|_| ())
}

/// Carries out an approved validator-set change on the scheduled committee.
pub fn carry_out(ctx: &mut Ctx, genesis: &Genesis, action: &GovAction) -> RuleResult {
    let committee = scheduled(ctx, genesis)?;
    let members = apply(&committee.members, genesis, action)?;
    let record = CommitteeRecord {
        epoch: epoch_of(ctx.block.height),
        members,
    };
    ctx.put_record(SCHEDULED.to_vec(), &record);
    Ok(())
}

/// The committee `members` after `action`, or why it cannot be made.
fn apply(
    members: &[ValidatorKeys],
    genesis: &Genesis,
    action: &GovAction,
) -> RuleResult<Vec<ValidatorKeys>> {
    let position = |validator: &str| members.iter().position(|m| m.validator == validator);
    let mut next = members.to_vec();
    match action {
        GovAction::AddValidator { keys } => {
            if next.len() >= MAX_VALIDATORS {
                return Err(Rejection::Conflict(format!(
                    "the committee already has {MAX_VALIDATORS} validators, the most it may have"
                ))
                .into());
            }
            next.push(keys.clone());
        }
        GovAction::RemoveValidator { validator } => {
            let i = position(validator).ok_or_else(|| not_member(validator))?;
            if next.len() == 1 {
                return Err(Rejection::Conflict(
                    "the last validator cannot be removed: add its successor first".into(),
                )
                .into());
            }
            next.remove(i);
        }
        GovAction::RotateValidator { replaces, keys } => {
            let i = position(replaces).ok_or_else(|| not_member(replaces))?;
            next[i] = keys.clone();
        }
        _ => return Ok(next),
    }
    check_keys(&next, genesis)?;
    Ok(next)
}

fn not_member(validator: &str) -> Rejection {
    Rejection::NotFound(format!(
        "{validator} is not a validator of the scheduled committee"
    ))
}

/// The rules genesis applies to its committee hold for every later one: well-formed keys,
/// checkpoint keys named by the origin, distinct consensus keys and cosigner key names.
fn check_keys(members: &[ValidatorKeys], genesis: &Genesis) -> RuleResult {
    let mut validators = BTreeSet::new();
    let mut names = BTreeSet::new();
    for m in members {
        crate::genesis::check_validator_keys(m, &genesis.origin)
            .map_err(|e| Rejection::NotPermitted(e.to_string()))?;
        if !validators.insert(m.validator.as_str()) {
            return Err(Rejection::Conflict(format!(
                "{} is already a validator of the scheduled committee",
                m.validator
            ))
            .into());
        }
        let name = m.cosigner_vkey.split('+').next().unwrap_or_default();
        if !names.insert(name) {
            return Err(Rejection::Conflict(format!(
                "cosigner key name {name:?} is already used by a validator of the committee"
            ))
            .into());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    struct Map(BTreeMap<Vec<u8>, Vec<u8>>);

    impl StateView for Map {
        fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
            Ok(self.0.get(key).cloned())
        }
        fn has_entry(&self, _: &[u8; 32]) -> Result<bool, StateError> {
            Ok(false)
        }
    }

    fn member(name: &str) -> ValidatorKeys {
        ValidatorKeys {
            validator: name.into(),
            receipt_key: String::new(),
            checkpoint_vkey: String::new(),
            cosigner_vkey: String::new(),
        }
    }

    #[test]
    fn the_committee_of_an_epoch_is_the_latest_hand_over_at_or_before_it() {
        let genesis = Genesis {
            format: String::new(),
            origin: String::new(),
            created_ms: 0,
            validators: vec!["g".into()],
            receipt_key: String::new(),
            checkpoint_vkey: String::new(),
            issuers: Vec::new(),
            governance_threshold: None,
            validator_keys: vec![member("g")],
        };
        let record = |epoch, name| CommitteeRecord {
            epoch,
            members: vec![member(name)],
        };
        // Hand-overs took effect at epochs 2 and 5; 5's is the one in force.
        let mut state = BTreeMap::new();
        for (epoch, name) in [(2, "b"), (5, "c")] {
            state.insert(epoch_key(epoch), records::encode(&record(epoch, name)));
        }
        state.insert(CURRENT.to_vec(), records::encode(&record(5, "c")));
        let view = Map(state);
        let names = |epoch| {
            committee_for_epoch(&view, &genesis, epoch).unwrap().members[0]
                .validator
                .clone()
        };
        assert_eq!(names(0), "g");
        assert_eq!(names(1), "g");
        assert_eq!(names(2), "b");
        assert_eq!(names(4), "b");
        assert_eq!(names(5), "c");
        assert_eq!(names(6), "c");
    }
}
