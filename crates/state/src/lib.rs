//! Keeps the ledger's current state in an authenticated map and proves values and absences against its root.
//!
//! The authenticated structure is commonware-storage's QMDB `current::ordered::variable` database
//! (MMR, SHA-256, 32-byte bitmap chunks), pinned at `=2026.10.0` by the workspace
//! (`notes/state-proofs.md`, DESIGN.md decision 4). This crate is the only place that names it.
//!
//! * A ledger key (any byte string up to [MAX_KEY_BYTES]) is stored under `SHA-256(key)`: QMDB
//!   needs fixed-size keys, and hashed keys are uniformly distributed, which keeps the ordered
//!   index's 8-byte translated prefixes collision-free in practice.
//! * The authenticated value is `SHA-256(ledger value)`; the ledger value itself (up to
//!   [MAX_VALUE_BYTES]) is kept beside it in an unauthenticated commonware store and returned by
//!   [StateDb::get]. A verifier receives the value next to the proof. Exclusion proofs embed the
//!   neighbouring key's *hashed* key and *value digest* only, so their size does not depend on
//!   record sizes and they disclose no neighbour record.
//! * [verify] is a pure function: no runtime, no storage, no async.
//!
//! See `docs/state.md` for the durability contract, the proof format and the offline
//! verification procedure.

mod db;
mod proof;
mod service;
mod sync;

pub use commonware_parallel::{Rayon, Sequential};
pub use db::{Merkleization, StateConfig, StateDb, SYNC_TARGETS_KEPT};
pub use proof::{verify, DecodeLimits, StateProof, StateProofError};
pub use service::{
    Page, Proved, ProvedKey, StateService, MAX_ENTRIES_PER_PAGE, MAX_KEYS_PER_PROOF,
};
pub use sync::{
    max_sync_response_bytes, PartTarget, SyncFetch, SyncPart, SyncTarget, MAX_SYNC_OPS,
    MAX_SYNC_VALUE_OPS,
};

use commonware_cryptography::{Hasher as _, Sha256};

/// Largest ledger key accepted by [StateDb::apply] (keys are hashed, so this only bounds input).
pub const MAX_KEY_BYTES: usize = 256;

/// Largest ledger value accepted by [StateDb::apply]: a ledger record is derived from one
/// statement (at most 64 KiB, `proverka_consensus::MAX_STATEMENT_BYTES`) plus its own fields; a
/// model record with 16 IDevID roots of 4 KiB each is the largest seen. 256 KiB leaves room.
pub const MAX_VALUE_BYTES: usize = 256 * 1024;

/// Largest number of writes accepted by one [StateDb::apply] call.
pub const MAX_WRITES_PER_APPLY: usize = 1 << 20;

/// Largest number of Merkle digests accepted when decoding a [StateProof].
///
/// Upstream's worst case for one element is 122 (`mmr::MAX_PROOF_DIGESTS_PER_ELEMENT`: 61 path
/// siblings and 61 peaks); 128 covers every proof this database can produce.
pub const MAX_PROOF_DIGESTS: usize = 128;

/// Largest encoded [StateProof] accepted by [StateProof::decode] with default limits.
///
/// Upper bound of the encoding: 1 tag byte, a location varint (≤ 9 bytes), the 32-byte bitmap
/// chunk, a digest-count varint and [MAX_PROOF_DIGESTS] × 32 bytes, the pending/partial chunk
/// digests and ops root (≤ 3 × 33 bytes), and the largest record part (an exclusion proof's
/// `1 + 32 + 33 + 32` byte neighbour update, or a 32-byte `next_key`). Measured proofs are
/// 0.6–1.2 KB (see `docs/state.md`).
pub const MAX_STATE_PROOF_BYTES: usize = 4608;

/// A state root: the canonical QMDB root after a block's writes (SHA-256 digest).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StateRoot(pub [u8; 32]);

impl StateRoot {
    /// Lower-case hex of the root.
    pub fn to_hex(&self) -> String {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut s = String::with_capacity(64);
        for b in self.0 {
            s.push(HEX[(b >> 4) as usize] as char);
            s.push(HEX[(b & 0x0f) as usize] as char);
        }
        s
    }
}

impl core::fmt::Debug for StateRoot {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "StateRoot({})", self.to_hex())
    }
}

/// Errors of [StateDb].
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The underlying commonware storage failed (I/O, corruption, ...).
    #[error("state storage: {0}")]
    Storage(#[from] commonware_storage::qmdb::Error<commonware_storage::mmr::Family>),
    /// `apply` was called with a height that is neither the last applied height nor the next one.
    #[error("state height out of order: last applied {last}, got {got}")]
    HeightOutOfOrder { last: u64, got: u64 },
    /// `apply` re-applied the last height with different writes.
    #[error("state height {height} re-applied with different writes")]
    ConflictingReapply { height: u64 },
    /// A key longer than [MAX_KEY_BYTES].
    #[error("state key of {len} bytes exceeds {max}")]
    KeyTooLarge { len: usize, max: usize },
    /// A value longer than [MAX_VALUE_BYTES].
    #[error("state value of {len} bytes exceeds {max}")]
    ValueTooLarge { len: usize, max: usize },
    /// More than [MAX_WRITES_PER_APPLY] writes in one call.
    #[error("{len} state writes in one block exceed {max}")]
    TooManyWrites { len: usize, max: usize },
    /// More keys in one proof request than [service::MAX_KEYS_PER_PROOF].
    #[error("{len} keys in one proof request exceed {max}")]
    TooManyKeys { len: usize, max: usize },
    /// A previous write failed part-way; the handle is unusable until the database is reopened
    /// (reopening recovers the last durable block).
    #[error("state database handle lost after a failed write; reopen it")]
    Poisoned,
    /// No sync target for this height: it is older than the kept window or not applied yet.
    #[error("no sync target for height {height}: this node keeps heights {oldest}..={newest}")]
    SyncTargetUnavailable {
        height: u64,
        oldest: u64,
        newest: u64,
    },
    /// The history a joiner would need for this height has been pruned since.
    #[error("the history of height {height} has been pruned; sync to a newer height")]
    SyncTargetPruned { height: u64 },
    /// A sync target's bytes are not a valid [SyncTarget].
    #[error("malformed sync target: {0}")]
    SyncTargetMalformed(String),
    /// A peer's sync request could not be decoded or served.
    #[error("sync request: {0}")]
    SyncRequest(String),
    /// The sync target is not the height and root the caller trusts.
    #[error(
        "sync target is height {height} with another root, trusted is height {trusted_height}"
    )]
    SyncUntrustedTarget { height: u64, trusted_height: u64 },
    /// Syncing from the peer failed (transport, invalid proof, bad response).
    #[error("state sync: {0}")]
    Sync(String),
    /// The synced state is not the certified one.
    #[error(
        "synced state (height {got_height}) does not have the certified root of height {height}"
    )]
    SyncRootMismatch { height: u64, got_height: u64 },
    /// The synced values disagree with the authenticated state.
    #[error("synced values disagree with the certified state: {0}")]
    SyncValuesMismatch(String),
    /// The two stores disagree in a way a crash cannot explain.
    #[error("state database inconsistent: {0}")]
    Inconsistent(String),
}

/// `SHA-256(ledger key)`: the fixed-size QMDB key a ledger key is stored under.
pub fn hashed_key(key: &[u8]) -> [u8; 32] {
    Sha256::hash(&[key]).0
}

/// `SHA-256(ledger value)`: the authenticated value stored for a ledger value.
pub fn value_digest(value: &[u8]) -> [u8; 32] {
    Sha256::hash(&[value]).0
}
