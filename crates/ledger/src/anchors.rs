//! Recent log roots the ledger itself committed: the freshness proof of device evidence.
//!
//! Every block carries an anchor (`docs/blocks.md`): the log size and root after an earlier
//! height, which the committee certified. Before judging a block's statements the rules record
//! each *new* anchored log root in state with the block time it was first anchored. Evidence
//! must name one of these roots as its nonce (`devices::evidence`): a root cannot be known
//! before the ledger made it, so evidence naming a root first anchored at time `T` was signed
//! after `T`, whatever its `iat` says. Precomputed or replayed evidence whose root is older than
//! [`NONCE_ROOT_WINDOW_MS`], or evicted from the last [`MAX_ANCHORED_ROOTS`], is refused.
//!
//! State (bounded: at most `MAX_ANCHORED_ROOTS` roots, each under two keys, plus one counter):
//! - `anchor/next` → u64 BE: how many roots were ever recorded (the next sequence number);
//! - `anchor/slot/` ‖ (seq mod K, u64 BE) → the 32-byte root recorded with that sequence;
//! - `anchor/root/` ‖ root → [`AnchoredRoot`].

use serde::{Deserialize, Serialize};

use crate::ctx::BlockContext;
use crate::records;
use crate::rules::{StateError, StateView, Writes};

/// How many recent anchored roots the ledger keeps (a ring: the oldest is forgotten first).
/// At one new root per block this covers about an hour at a block a second; a device should
/// fetch a root (`GET /evidence-root`) just before it signs.
pub const MAX_ANCHORED_ROOTS: u64 = 4096;
/// Evidence whose nonce root was first anchored longer ago than this is refused (24 h, the
/// same bound as [`crate::MAX_EVIDENCE_AGE_MS`]: older evidence could not make a device
/// trusted under the loosest freshness window).
pub const NONCE_ROOT_WINDOW_MS: u64 = 24 * 3_600_000;

const NEXT: &[u8] = b"anchor/next";
const SLOT: &[u8] = b"anchor/slot/";
const ROOT: &[u8] = b"anchor/root/";

/// A log tree head certified by a block's anchor.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LogAnchor {
    /// RFC 9162 tree size.
    pub log_size: u64,
    /// RFC 9162 root of the tree of `log_size` leaves.
    pub log_root: [u8; 32],
}

/// What the ledger remembers of one anchored root.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnchoredRoot {
    /// Order of recording (0, 1, 2, …); the ring slot is `seq mod MAX_ANCHORED_ROOTS`.
    pub seq: u64,
    /// The tree size the root is of.
    pub log_size: u64,
    /// Time of the first block whose anchor carried this root.
    pub anchored_ms: u64,
    /// Height of that block.
    pub height: u64,
}

/// `anchor/root/` ‖ root.
pub fn root_key(root: &[u8; 32]) -> Vec<u8> {
    [ROOT, root.as_slice()].concat()
}

fn slot_key(seq: u64) -> Vec<u8> {
    [SLOT, &(seq % MAX_ANCHORED_ROOTS).to_be_bytes()].concat()
}

/// The record of `root`, if it is among the roots the ledger keeps.
pub fn lookup(view: &dyn StateView, root: &[u8; 32]) -> Result<Option<AnchoredRoot>, StateError> {
    view.get(&root_key(root))?
        .map(|bytes| records::decode(&bytes))
        .transpose()
        .map_err(|e| StateError(format!("corrupt anchored root: {e}")))
}

/// The most recently recorded root and its record: what a device should put in its nonce.
pub fn latest(view: &dyn StateView) -> Result<Option<([u8; 32], AnchoredRoot)>, StateError> {
    let next = next_seq(view)?;
    let Some(seq) = next.checked_sub(1) else {
        return Ok(None);
    };
    let Some(root) = view.get(&slot_key(seq))? else {
        return Err(StateError("anchored root ring is missing a slot".into()));
    };
    let root: [u8; 32] = root
        .try_into()
        .map_err(|_| StateError("corrupt anchored root slot".into()))?;
    let record = lookup(view, &root)?
        .ok_or_else(|| StateError("anchored root slot names an unknown root".into()))?;
    Ok(Some((root, record)))
}

fn next_seq(view: &dyn StateView) -> Result<u64, StateError> {
    match view.get(NEXT)? {
        None => Ok(0),
        Some(b) => b
            .try_into()
            .map(u64::from_be_bytes)
            .map_err(|_| StateError("corrupt anchored root counter".into())),
    }
}

/// The writes that record `block`'s anchored root, if it is new: nothing for a block without an
/// anchor, for the empty log, or for a root already kept (its first anchoring time stands, so
/// re-anchoring an unchanged root on an idle ledger does not make it look fresh).
pub fn record(view: &dyn StateView, block: &BlockContext) -> Result<Writes, StateError> {
    let Some(anchor) = block.anchor else {
        return Ok(Vec::new());
    };
    if anchor.log_size == 0 || lookup(view, &anchor.log_root)?.is_some() {
        return Ok(Vec::new());
    }
    let seq = next_seq(view)?;
    let mut writes: Writes = Vec::with_capacity(4);
    if seq >= MAX_ANCHORED_ROOTS {
        // The slot holds the root recorded K roots ago: forget it.
        if let Some(old) = view.get(&slot_key(seq))? {
            writes.push(([ROOT, old.as_slice()].concat(), None));
        }
    }
    let record = AnchoredRoot {
        seq,
        log_size: anchor.log_size,
        anchored_ms: block.time_ms,
        height: block.height,
    };
    writes.push((slot_key(seq), Some(anchor.log_root.to_vec())));
    writes.push((root_key(&anchor.log_root), Some(records::encode(&record))));
    writes.push((NEXT.to_vec(), Some((seq + 1).to_be_bytes().to_vec())));
    Ok(writes)
}
