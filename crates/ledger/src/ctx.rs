//! The view one statement's rules get: the parent state, the block's earlier writes, its own
//! writes so far, and the block's time and height.

use std::collections::BTreeMap;

use serde::{de::DeserializeOwned, Serialize};

use crate::records;
use crate::rules::{Rejection, StateError, StateView, Writes};

/// Where a block is: its height, timestamp and anchor. The rules' only notion of time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BlockContext {
    pub height: u64,
    /// Block timestamp, ms since the Unix epoch (never the wall clock).
    pub time_ms: u64,
    /// The log tree head the block's anchor certifies (`None` when judging a submission, which
    /// has no block yet). New roots are recorded for evidence freshness (`anchors`).
    pub anchor: Option<crate::anchors::LogAnchor>,
}

/// Writes of the block so far (`None` = deleted), visible to later statements of the block.
pub type Overlay = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

/// Why a rule did not register a statement: a refusal, or a failed state read.
#[derive(Debug)]
pub enum Fail {
    Reject(Rejection),
    State(StateError),
}

impl From<Rejection> for Fail {
    fn from(r: Rejection) -> Self {
        Fail::Reject(r)
    }
}

impl From<StateError> for Fail {
    fn from(e: StateError) -> Self {
        Fail::State(e)
    }
}

/// Result of one rule.
pub type RuleResult<T = ()> = Result<T, Fail>;

/// State access for one statement.
pub struct Ctx<'a> {
    view: &'a dyn StateView,
    overlay: &'a Overlay,
    pub block: BlockContext,
    /// Index of the statement in its block (for history keys).
    pub pos: u32,
    /// Entry id of the statement being judged.
    pub entry: [u8; 32],
    /// This node already judged the whole statement at submission and every signature in it
    /// verified (see `SignatureCache`): signatures nested inside it (evidence batch items)
    /// need not be verified again. Signature validity depends only on the bytes and the `kid`,
    /// and each `kid` is looked up again here, so skipping cannot change a decision.
    pub prechecked: bool,
    local: Overlay,
    writes: Writes,
}

impl<'a> Ctx<'a> {
    pub fn new(
        view: &'a dyn StateView,
        overlay: &'a Overlay,
        block: BlockContext,
        pos: u32,
        entry: [u8; 32],
    ) -> Self {
        Ctx {
            view,
            overlay,
            block,
            pos,
            entry,
            prechecked: false,
            local: Overlay::new(),
            writes: Vec::new(),
        }
    }

    /// The current value under `key`: this statement's writes, then the block's, then state.
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        if let Some(v) = self.local.get(key) {
            return Ok(v.clone());
        }
        if let Some(v) = self.overlay.get(key) {
            return Ok(v.clone());
        }
        self.view.get(key)
    }

    /// The value this block (so far) wrote under `key`, if it wrote one: `Some(None)` = deleted.
    pub fn uncommitted(&self, key: &[u8]) -> Option<Option<Vec<u8>>> {
        self.local
            .get(key)
            .or_else(|| self.overlay.get(key))
            .cloned()
    }

    /// The value under `key` in the committed parent state, ignoring this block's writes.
    pub fn committed(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        self.view.get(key)
    }

    /// Reads and decodes a record; a record that does not decode is a corrupt store.
    pub fn record<T: DeserializeOwned>(&self, key: &[u8]) -> Result<Option<T>, StateError> {
        match self.get(key)? {
            None => Ok(None),
            Some(bytes) => records::decode(&bytes)
                .map(Some)
                .map_err(|e| StateError(format!("corrupt record: {e}"))),
        }
    }

    pub fn put(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.local.insert(key.clone(), Some(value.clone()));
        self.writes.push((key, Some(value)));
    }

    pub fn put_record<T: Serialize>(&mut self, key: Vec<u8>, record: &T) {
        self.put(key, records::encode(record));
    }

    pub fn delete(&mut self, key: Vec<u8>) {
        self.local.insert(key.clone(), None);
        self.writes.push((key, None));
    }

    /// Records that this statement concerns `device` (its history).
    pub fn touch_history(&mut self, device: &records::Id) {
        let key = records::keys::history(device, self.block.height, self.pos);
        self.put(key, self.entry.to_vec());
    }

    /// The writes made so far, consuming the context.
    pub fn into_writes(self) -> Writes {
        self.writes
    }
}

/// A rule may ask read-side questions (a sender's status at block time, `query`) of the state
/// it sees: parent state, the block's earlier writes and its own.
impl StateView for Ctx<'_> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        Ctx::get(self, key)
    }
    fn has_entry(&self, id: &[u8; 32]) -> Result<bool, StateError> {
        self.view.has_entry(id)
    }
}
