//! The state database: a QMDB `current::ordered::variable` database holding
//! `SHA-256(key) → SHA-256(value)` (authenticated, gives the root and the proofs) and a QMDB
//! `any::ordered::variable` database holding `SHA-256(key) → value` (serves `get`). The value
//! database is authenticated too, though no verifier ever sees its root: that is what lets a
//! joining validator copy it from an untrusted peer at a past height with commonware's sync
//! engine and then check every value against the trusted digests (`sync.rs`).
//!
//! Crash consistency between the two: each block is committed to the value store first, then to
//! the authenticated database. The value store's commit metadata records the block height and the
//! value store's size before that block; if a crash leaves the value store one block ahead,
//! [StateDb::open] reopens it at its previous commit, so both always describe the same height.

use crate::{
    hashed_key,
    proof::{Family, Kind, CHUNK, COMMIT_METADATA_BYTES},
    sync::{PartTarget, SyncPart, SyncTarget, MAX_SYNC_OPS},
    value_digest, StateError, StateProof, StateRoot, MAX_KEY_BYTES, MAX_VALUE_BYTES,
    MAX_WRITES_PER_APPLY,
};
use commonware_cryptography::{sha256::Digest, Hasher as _, Sha256};
use commonware_parallel::{Rayon, Sequential, Strategy};
use commonware_runtime::{buffer::paged::CacheRef, Spawner};
use commonware_storage::{
    journal::contiguous::variable::Config as JournalConfig,
    merkle::full::Config as MerkleConfig,
    mmr::Location,
    qmdb::{
        any::{ordered::variable::Db as ValuesDb, VariableConfig as ValuesConfig},
        current::{ordered::variable::Db as AuthDb, VariableConfig},
        floor::Proportional,
        sync::{Request, Source as _},
    },
    translator::EightCap,
    Context,
};
use std::num::{NonZeroU16, NonZeroU64, NonZeroUsize};

pub(crate) type Auth<E, S> = AuthDb<Family, E, Digest, Vec<u8>, Sha256, EightCap, CHUNK, S>;
pub(crate) type Values<E, S> = ValuesDb<Family, E, Digest, Vec<u8>, Sha256, EightCap, S>;
pub(crate) type AuthConfig<S> = VariableConfig<EightCap, AuthOpCfg, S>;
pub(crate) type ValuesConfigOf<S> = ValuesConfig<EightCap, ValuesOpCfg, S>;
/// Decoding bounds of one authenticated-log operation and of one value-log operation.
pub(crate) type AuthOpCfg = ((), (commonware_codec::RangeCfg<usize>, ()));
pub(crate) type ValuesOpCfg = AuthOpCfg;

/// Page size of the shared commonware page cache.
const PAGE_SIZE: NonZeroU16 = NonZeroU16::new(4096).unwrap();
/// Largest authenticated log record value: a 32-byte value digest or 40-byte commit metadata.
pub(crate) const AUTH_VALUE_MAX: usize = 64;
/// How many recent heights keep their [SyncTarget] (at one block per 100 ms, about 100 s).
pub const SYNC_TARGETS_KEPT: usize = 1024;
/// Value-store commit metadata: `height ‖ size of the value store before this block` (u64 BE).
const VALUES_METADATA_BYTES: usize = 16;

/// How a block's merkleization is parallelized: [Rayon] (production, `merkle_threads` threads) or
/// [Sequential] (required on commonware's deterministic runtime, which cannot see Rayon's threads
/// and reports a stall). The choice never changes roots or proofs.
pub trait Merkleization: Strategy + Sized {
    /// Build the strategy for `threads` threads.
    fn with_threads(threads: NonZeroUsize) -> Result<Self, String>;
}

impl Merkleization for Rayon {
    fn with_threads(threads: NonZeroUsize) -> Result<Self, String> {
        Rayon::new(threads).map_err(|e| e.to_string())
    }
}

impl Merkleization for Sequential {
    fn with_threads(_: NonZeroUsize) -> Result<Self, String> {
        Ok(Sequential)
    }
}

/// Tuning for [StateDb::open_with]. [StateConfig::new] gives the defaults used by [StateDb::open].
#[derive(Clone, Debug)]
pub struct StateConfig {
    /// Prefix of every storage partition of this database (`[A-Za-z0-9_-]`).
    pub partition_prefix: String,
    /// Threads of the Rayon pool used to merkleize a block (2 by default: the target has 2 cores;
    /// ignored with [Sequential]).
    pub merkle_threads: NonZeroUsize,
    /// Pages (4 KiB each) of the commonware page cache shared by all journals (16 MiB default).
    pub page_cache_pages: NonZeroUsize,
    /// Operations per journal blob/section (50,000 default, as measured in the notes).
    pub items_per_blob: NonZeroU64,
    /// Every this many heights, `apply` also fully syncs both stores and prunes inactive history
    /// (bounds disk use and restart time). 0 disables it.
    pub sync_interval: u64,
}

impl StateConfig {
    /// Defaults for a database whose partitions start with `partition_prefix`.
    pub fn new(partition_prefix: &str) -> Self {
        Self {
            partition_prefix: partition_prefix.to_string(),
            merkle_threads: NonZeroUsize::new(2).unwrap(),
            page_cache_pages: NonZeroUsize::new(4096).unwrap(),
            items_per_blob: NonZeroU64::new(50_000).unwrap(),
            sync_interval: 64,
        }
    }
}

/// The ledger's authenticated current state. See the crate docs.
///
/// Mutations happen only through [StateDb::apply], one durable commit per block. If a write fails
/// part-way, the handle becomes unusable ([StateError::Poisoned]) and must be reopened; reopening
/// recovers the last block whose `apply` returned.
///
/// `S` is the merkleization strategy ([Merkleization]): the default [Rayon] for the tokio
/// runtime, [Sequential] on the deterministic runtime.
pub struct StateDb<E: Context + Spawner, S: Merkleization = Rayon> {
    inner: Option<(Auth<E, S>, Values<E, S>)>,
    /// Where a joining validator can sync to: one entry per recent height, oldest first.
    targets: std::collections::VecDeque<SyncTarget>,
    root: StateRoot,
    height: u64,
    /// Digest of the writes of `height` (see [writes_digest]).
    last_writes: [u8; 32],
    sync_interval: u64,
    /// Test hook: stop `apply` right after the value store's commit, as a crash would.
    #[cfg(test)]
    crash_after_values: bool,
}

impl<E: Context + Spawner, S: Merkleization> StateDb<E, S> {
    /// Open (or create) the database with default tuning ([StateConfig::new]).
    pub async fn open(context: E, partition_prefix: &str) -> Result<Self, StateError> {
        Self::open_with(context, StateConfig::new(partition_prefix)).await
    }

    /// Open (or create) the database. Recovers the last durable block; if a crash left the value
    /// store one block ahead of the authenticated database, rewinds the value store.
    pub async fn open_with(context: E, cfg: StateConfig) -> Result<Self, StateError> {
        let (auth_cfg, values_cfg) = configs::<S>(&cfg)?;
        let auth = Auth::init(context.child("auth"), auth_cfg, None).await?;
        let (height, last_writes) = auth_metadata(&auth).await?;

        let mut values = Values::init(context.child("values"), values_cfg.clone(), None).await?;
        let (values_height, previous_size) = values_metadata(&values).await?;
        if values_height == height + 1 {
            // Crash after the value store committed block `height + 1` but before the
            // authenticated database did: reopen the value store at its previous commit.
            drop(values);
            values = Values::init(
                context.child("values_rewound"),
                values_cfg,
                Some(Location::new(previous_size)),
            )
            .await?;
            let (rewound, _) = values_metadata(&values).await?;
            if rewound != height {
                return Err(StateError::Inconsistent(format!(
                    "value store rewound to height {rewound}, expected {height}"
                )));
            }
        } else if values_height != height {
            return Err(StateError::Inconsistent(format!(
                "value store at height {values_height}, authenticated database at {height}"
            )));
        }
        Ok(Self::from_parts(
            auth,
            values,
            height,
            last_writes,
            cfg.sync_interval,
        ))
    }

    /// A handle on two opened databases at `height`; its first sync target is that height's.
    pub(crate) fn from_parts(
        auth: Auth<E, S>,
        values: Values<E, S>,
        height: u64,
        last_writes: [u8; 32],
        sync_interval: u64,
    ) -> Self {
        let mut db = Self {
            root: StateRoot(auth.root().0),
            inner: Some((auth, values)),
            targets: std::collections::VecDeque::with_capacity(SYNC_TARGETS_KEPT),
            height,
            last_writes,
            sync_interval,
            #[cfg(test)]
            crash_after_values: false,
        };
        db.record_target();
        db
    }

    /// Apply block `height`'s writes (`Some(value)` sets, `None` deletes; a later write to the
    /// same key wins) and return the new state root. Durable once this returns.
    ///
    /// `height` must be the next height (`height() + 1`). Re-applying the last applied height with
    /// the same writes is a no-op that returns its root (so a crash between the ledger's block
    /// store and this database is recoverable by replaying); with different writes it fails with
    /// [StateError::ConflictingReapply]. The fresh database is height 0 with no writes.
    pub async fn apply(
        &mut self,
        height: u64,
        writes: &[(Vec<u8>, Option<Vec<u8>>)],
    ) -> Result<StateRoot, StateError> {
        if writes.len() > MAX_WRITES_PER_APPLY {
            return Err(StateError::TooManyWrites {
                len: writes.len(),
                max: MAX_WRITES_PER_APPLY,
            });
        }
        for (key, value) in writes {
            if key.len() > MAX_KEY_BYTES {
                return Err(StateError::KeyTooLarge {
                    len: key.len(),
                    max: MAX_KEY_BYTES,
                });
            }
            if let Some(value) = value {
                if value.len() > MAX_VALUE_BYTES {
                    return Err(StateError::ValueTooLarge {
                        len: value.len(),
                        max: MAX_VALUE_BYTES,
                    });
                }
            }
        }
        let digest = writes_digest(writes);
        if height == self.height {
            return if digest == self.last_writes {
                Ok(self.root)
            } else {
                Err(StateError::ConflictingReapply { height })
            };
        }
        if Some(height) != self.height.checked_add(1) {
            return Err(StateError::HeightOutOfOrder {
                last: self.height,
                got: height,
            });
        }

        let (auth, values) = self.inner.take().ok_or(StateError::Poisoned)?;

        // 1. Compute the new root speculatively; nothing is written yet.
        let mut batch = auth.new_batch();
        let mut changes = values.new_batch();
        for (ledger_key, value) in writes {
            let key = Digest(hashed_key(ledger_key));
            let hashed = key;
            match value {
                Some(value) => {
                    batch = batch.write(key, Some(value_digest(value).to_vec()));
                    changes = changes.write(hashed, Some(pack(ledger_key, value)));
                }
                None => {
                    batch = batch.write(key, None);
                    changes = changes.write(key, None);
                }
            }
        }
        let mut metadata = Vec::with_capacity(COMMIT_METADATA_BYTES);
        metadata.extend_from_slice(&height.to_be_bytes());
        metadata.extend_from_slice(&digest);
        let merkleized = match batch
            .merkleize(&auth, Some(metadata), &mut Proportional)
            .await
        {
            Ok(m) => m,
            Err(e) => {
                self.inner = Some((auth, values));
                return Err(e.into());
            }
        };
        let mut values_metadata = Vec::with_capacity(VALUES_METADATA_BYTES);
        values_metadata.extend_from_slice(&height.to_be_bytes());
        values_metadata.extend_from_slice(&(*values.bounds().end).to_be_bytes());
        let changes = match changes
            .merkleize(&values, Some(values_metadata), &mut Proportional)
            .await
        {
            Ok(c) => c,
            Err(e) => {
                self.inner = Some((auth, values));
                return Err(e.into());
            }
        };

        // 2. Values first, then the authenticated database (see the module docs). On error the
        // handle stays taken: the caller must reopen, which recovers the last durable block.
        let mut values = values.apply_batch(changes).await?.commit().await?;
        #[cfg(test)]
        if self.crash_after_values {
            drop((auth, values));
            return Err(StateError::Poisoned);
        }
        let mut auth = auth.apply_batch(merkleized).await?.commit().await?;

        // 3. Periodically bound recovery time and prune inactive history.
        if self.sync_interval != 0 && height.is_multiple_of(self.sync_interval) {
            auth = auth.sync().await?;
            let boundary = auth.sync_boundary();
            auth = auth.prune(boundary).await?;
            values = values.sync().await?;
            let boundary = values.sync_boundary();
            values = values.prune(boundary).await?;
        }

        self.root = StateRoot(auth.root().0);
        self.height = height;
        self.last_writes = digest;
        self.inner = Some((auth, values));
        self.record_target();
        Ok(self.root)
    }

    /// Remember where a joiner could sync to at the current height (the last
    /// [SYNC_TARGETS_KEPT] heights are kept).
    fn record_target(&mut self) {
        let Some((auth, values)) = self.inner.as_ref() else {
            return;
        };
        let part =
            |root: Digest, bounds: std::ops::Range<Location>, boundary: Location| PartTarget {
                ops_root: root.0,
                start: *bounds.start,
                size: *bounds.end,
                boundary: *boundary,
            };
        if self.targets.len() == SYNC_TARGETS_KEPT {
            self.targets.pop_front();
        }
        self.targets.push_back(SyncTarget {
            height: self.height,
            root: self.root,
            auth: part(auth.ops_root(), auth.bounds(), auth.sync_boundary()),
            values: part(values.root(), values.bounds(), values.sync_boundary()),
        });
    }

    /// Where a joiner can sync to reproduce the state of `height`, if this database still can
    /// serve it: a recent height ([SYNC_TARGETS_KEPT]) whose history has not been pruned since.
    pub fn sync_target(&self, height: u64) -> Result<SyncTarget, StateError> {
        let (auth, values) = self.inner.as_ref().ok_or(StateError::Poisoned)?;
        let unavailable = || StateError::SyncTargetUnavailable {
            height,
            oldest: self.targets.front().map_or(0, |t| t.height),
            newest: self.height,
        };
        let mut target = *self
            .targets
            .iter()
            .find(|t| t.height == height)
            .ok_or_else(unavailable)?;
        // Pruned since: the range now starts where this database's history starts, which must
        // still be at or below the target's own boundary for the engine to rebuild it.
        for (part, pruned) in [
            (&mut target.auth, *auth.bounds().start),
            (&mut target.values, *values.bounds().start),
        ] {
            part.start = part.start.max(pruned);
            if part.start > part.boundary {
                return Err(StateError::SyncTargetPruned { height });
            }
        }
        Ok(target)
    }

    /// Answer a joiner's sync request for one part (commonware's `qmdb::sync` request and
    /// response encodings, `docs/state.md`). A request for more than [MAX_SYNC_OPS] operations
    /// is refused; one for more than [SyncPart::max_ops] is served in part.
    pub async fn serve_sync(&self, part: SyncPart, request: &[u8]) -> Result<Vec<u8>, StateError> {
        use commonware_codec::{DecodeExt as _, Encode as _};
        let (auth, values) = self.inner.as_ref().ok_or(StateError::Poisoned)?;
        let request = Request::<Family>::decode(commonware_codec::Copying(request))
            .map_err(|e| StateError::SyncRequest(e.to_string()))?;
        if request.max_ops().get() > MAX_SYNC_OPS {
            return Err(StateError::SyncRequest(format!(
                "{} operations asked, at most {MAX_SYNC_OPS}",
                request.max_ops()
            )));
        }
        // Served in part beyond the part's bound, so that a response stays within its bytes.
        let request = match request {
            Request::Operations {
                size,
                start,
                max_ops,
            } => Request::Operations {
                size,
                start,
                max_ops: max_ops.min(
                    std::num::NonZeroU64::new(part.max_ops()).unwrap_or(std::num::NonZeroU64::MIN),
                ),
            },
            boundary => boundary,
        };
        let served = match part {
            SyncPart::Auth => auth.serve(request).await.map(|(r, _)| r.encode()),
            SyncPart::Values => values.serve(request).await.map(|(r, _)| r.encode()),
        };
        served
            .map(|bytes| bytes.to_vec())
            .map_err(|e| StateError::SyncRequest(e.to_string()))
    }

    /// The state root after the last applied block (the empty-state root for a fresh database).
    pub fn root(&self) -> StateRoot {
        self.root
    }

    /// The last applied block height (0 for a fresh database).
    pub fn height(&self) -> u64 {
        self.height
    }

    /// The current value of ledger `key`, if any.
    pub async fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        let (_, values) = self.inner.as_ref().ok_or(StateError::Poisoned)?;
        match values.get(&Digest(hashed_key(key))).await? {
            None => Ok(None),
            Some(stored) => Ok(Some(unpack(&stored)?.1.to_vec())),
        }
    }

    /// A proof of `key`'s current value (membership) or of its absence (exclusion), against
    /// [Self::root]. Pair a membership proof with the value from [Self::get].
    pub async fn prove(&self, key: &[u8]) -> Result<StateProof, StateError> {
        let (auth, _) = self.inner.as_ref().ok_or(StateError::Poisoned)?;
        let key = Digest(hashed_key(key));
        let kind = if auth.get(&key).await?.is_some() {
            Kind::Membership(auth.key_value_proof(key).await?)
        } else {
            Kind::Exclusion(auth.exclusion_proof(&key).await?)
        };
        Ok(StateProof(kind))
    }

    /// [Self::get] and [Self::prove] together: what a gateway is sent.
    pub async fn get_with_proof(
        &self,
        key: &[u8],
    ) -> Result<(Option<Vec<u8>>, StateProof), StateError> {
        Ok((self.get(key).await?, self.prove(key).await?))
    }

    /// Up to `limit` `(ledger key, value)` pairs, in hashed-key order, after hashed key `after`
    /// (from the first when `None`); with the hashed key of the last one to continue from. What
    /// a joiner rebuilds the node's key-ordered state table from.
    pub async fn entries(
        &self,
        after: Option<[u8; 32]>,
        limit: usize,
    ) -> Result<(Vec<(Vec<u8>, Vec<u8>)>, Option<[u8; 32]>), StateError> {
        use futures::StreamExt as _;
        use std::ops::Bound;
        let (_, values) = self.inner.as_ref().ok_or(StateError::Poisoned)?;
        let start = after.map_or(Bound::Unbounded, |k| Bound::Excluded(Digest(k)));
        let mut stream = std::pin::pin!(values.stream_range((start, Bound::Unbounded)));
        let mut out = Vec::new();
        let mut last = None;
        while out.len() < limit {
            let Some((key, stored)) = stream.next().await.transpose()? else {
                break;
            };
            let (ledger_key, value) = unpack(&stored)?;
            out.push((ledger_key.to_vec(), value.to_vec()));
            last = Some(key.0);
        }
        Ok((out, last))
    }

    /// Fully sync both stores (faster next open) and drop the handle.
    pub async fn close(mut self) -> Result<(), StateError> {
        let (auth, values) = self.inner.take().ok_or(StateError::Poisoned)?;
        values.sync().await?;
        auth.sync().await?;
        Ok(())
    }
}

/// The two databases' configurations for `cfg` (partition names, caches, decoding bounds).
pub(crate) fn configs<S: Merkleization>(
    cfg: &StateConfig,
) -> Result<(AuthConfig<S>, ValuesConfigOf<S>), StateError> {
    let strategy = S::with_threads(cfg.merkle_threads)
        .map_err(|e| StateError::Inconsistent(format!("merkle thread pool: {e}")))?;
    let page_cache = CacheRef::new(PAGE_SIZE, cfg.page_cache_pages);
    let buffer = NonZeroUsize::new(64 * 1024).unwrap();
    let prefix = &cfg.partition_prefix;
    let merkle = |name: &str| MerkleConfig {
        journal_partition: format!("{prefix}-{name}-mmr"),
        metadata_partition: format!("{prefix}-{name}-mmr-meta"),
        items_per_blob: cfg.items_per_blob,
        write_buffer: buffer,
        replay_buffer: buffer,
        strategy: strategy.clone(),
        page_cache: page_cache.clone(),
    };
    let journal = |name: &str, max_value: usize| JournalConfig {
        partition: format!("{prefix}-{name}"),
        items_per_section: cfg.items_per_blob,
        compression: None,
        codec_config: ((), ((0..=max_value).into(), ())),
        page_cache: page_cache.clone(),
        write_buffer: buffer,
        replay_buffer: buffer,
    };
    let auth = VariableConfig {
        merkle_config: merkle("state"),
        journal_config: journal("state-log", AUTH_VALUE_MAX),
        grafted_metadata_partition: format!("{prefix}-state-grafted"),
        translator: EightCap,
        init_cache: Some(NonZeroUsize::new(1 << 16).unwrap()),
        init_buffer: NonZeroUsize::new(1 << 21).unwrap(),
        init_concurrency: (),
    };
    // `state-vals` (not the former unauthenticated store's `state-values`): a data directory of
    // the old layout then fails to open with "value store at height 0", never misreads.
    let values = ValuesConfig {
        merkle_config: merkle("state-vals"),
        journal_config: journal("state-vals", MAX_STORED_VALUE_BYTES),
        translator: EightCap,
        init_cache: Some(NonZeroUsize::new(1 << 16).unwrap()),
        init_buffer: NonZeroUsize::new(1 << 21).unwrap(),
        init_concurrency: (),
    };
    Ok((auth, values))
}

/// `(height, writes digest)` from the authenticated database's last commit; `(0, digest of no
/// writes)` when fresh.
pub(crate) async fn auth_metadata<E: Context + Spawner, S: Merkleization>(
    auth: &Auth<E, S>,
) -> Result<(u64, [u8; 32]), StateError> {
    match auth.get_metadata().await? {
        None => Ok((0, writes_digest(&[]))),
        Some(m) if m.len() == COMMIT_METADATA_BYTES => {
            let mut height = [0u8; 8];
            height.copy_from_slice(&m[..8]);
            let mut digest = [0u8; 32];
            digest.copy_from_slice(&m[8..]);
            Ok((u64::from_be_bytes(height), digest))
        }
        Some(m) => Err(StateError::Inconsistent(format!(
            "commit metadata of {} bytes",
            m.len()
        ))),
    }
}

/// Largest record of the value database: a packed key and value ([pack]).
pub(crate) const MAX_STORED_VALUE_BYTES: usize = 2 + MAX_KEY_BYTES + MAX_VALUE_BYTES;

/// A value database record: `u16 BE key length ‖ ledger key ‖ ledger value`. The ledger key is
/// kept (not only its hash) so that a joiner can rebuild the node's key-ordered state table,
/// whose prefix scans the ledger's queries need.
pub(crate) fn pack(key: &[u8], value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 + key.len() + value.len());
    // Keys are at most MAX_KEY_BYTES (256), checked before any write.
    out.extend_from_slice(&(key.len() as u16).to_be_bytes());
    out.extend_from_slice(key);
    out.extend_from_slice(value);
    out
}

/// `(ledger key, ledger value)` of a [pack]ed record.
pub(crate) fn unpack(stored: &[u8]) -> Result<(&[u8], &[u8]), StateError> {
    let bad = || StateError::Inconsistent(format!("value record of {} bytes", stored.len()));
    let (len, rest) = stored.split_first_chunk::<2>().ok_or_else(bad)?;
    let len = u16::from_be_bytes(*len) as usize;
    if len > MAX_KEY_BYTES || len > rest.len() {
        return Err(bad());
    }
    Ok(rest.split_at(len))
}

/// `(height, size before that block)` from the value store's last commit; `(0, 1)` when fresh
/// (a fresh store holds one genesis commit).
pub(crate) async fn values_metadata<E: Context + Spawner, S: Merkleization>(
    values: &Values<E, S>,
) -> Result<(u64, u64), StateError> {
    match values.get_metadata().await? {
        None => Ok((0, 1)),
        Some(m) if m.len() == VALUES_METADATA_BYTES => Ok((
            u64::from_be_bytes(m[..8].try_into().unwrap()),
            u64::from_be_bytes(m[8..].try_into().unwrap()),
        )),
        Some(m) => Err(StateError::Inconsistent(format!(
            "value store metadata of {} bytes",
            m.len()
        ))),
    }
}

/// SHA-256 over `count ‖ (key_len ‖ key ‖ 0x00 | key_len ‖ key ‖ 0x01 ‖ value_len ‖ value)*`
/// (u64 BE count, u32 BE lengths): binds a height's commit to its exact writes, so re-applying
/// the last height with different writes is detected. Committed in the root via the commit
/// metadata.
pub(crate) fn writes_digest(writes: &[(Vec<u8>, Option<Vec<u8>>)]) -> [u8; 32] {
    let mut h = Sha256::default();
    h.update(&(writes.len() as u64).to_be_bytes());
    for (key, value) in writes {
        h.update(&(key.len() as u32).to_be_bytes());
        h.update(key);
        match value {
            None => {
                h.update(&[0]);
            }
            Some(value) => {
                h.update(&[1]);
                h.update(&(value.len() as u32).to_be_bytes());
                h.update(value);
            }
        }
    }
    h.finalize().1 .0
}

#[cfg(test)]
mod tests {
    use super::*;
    use commonware_runtime::{deterministic, Runner as _, Supervisor as _};

    fn writes(n: u8, version: u8) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
        (0..n)
            .map(|i| (vec![b'k', i], Some(vec![version, i])))
            .collect()
    }

    /// A crash after the value store committed block 2 but before the authenticated database
    /// did: reopening rewinds the value store to block 1, and replaying block 2 gives the same
    /// root as a database that never crashed.
    #[test]
    fn crash_between_value_store_and_authenticated_commit_recovers() {
        deterministic::Runner::default().start(|context| async move {
            let mut db = StateDb::<_, Sequential>::open(context.child("a"), "crash")
                .await
                .unwrap();
            let r1 = db.apply(1, &writes(10, 1)).await.unwrap();
            db.crash_after_values = true;
            let mut block2 = writes(5, 2);
            block2.push((vec![b'k', 9], None));
            assert!(matches!(
                db.apply(2, &block2).await,
                Err(StateError::Poisoned)
            ));
            // The handle is unusable after a failed write.
            assert!(matches!(db.get(b"k").await, Err(StateError::Poisoned)));
            drop(db);

            let mut db = StateDb::<_, Sequential>::open(context.child("b"), "crash")
                .await
                .unwrap();
            assert_eq!((db.root(), db.height()), (r1, 1));
            // Values are those of block 1 again, consistent with the root.
            assert_eq!(db.get(&[b'k', 0]).await.unwrap(), Some(vec![1, 0]));
            assert_eq!(db.get(&[b'k', 9]).await.unwrap(), Some(vec![1, 9]));
            let r2 = db.apply(2, &block2).await.unwrap();
            assert_eq!(db.get(&[b'k', 0]).await.unwrap(), Some(vec![2, 0]));
            assert_eq!(db.get(&[b'k', 9]).await.unwrap(), None);

            let mut control = StateDb::<_, Sequential>::open(context.child("c"), "control")
                .await
                .unwrap();
            control.apply(1, &writes(10, 1)).await.unwrap();
            assert_eq!(control.apply(2, &block2).await.unwrap(), r2);
        });
    }

    /// Same, on the very first block (the value store must rewind to its genesis commit).
    #[test]
    fn crash_during_first_block_recovers_to_empty() {
        deterministic::Runner::default().start(|context| async move {
            let mut db = StateDb::<_, Sequential>::open(context.child("a"), "crash0")
                .await
                .unwrap();
            let empty = db.root();
            db.crash_after_values = true;
            assert!(db.apply(1, &writes(3, 1)).await.is_err());
            drop(db);
            let mut db = StateDb::<_, Sequential>::open(context.child("b"), "crash0")
                .await
                .unwrap();
            assert_eq!((db.root(), db.height()), (empty, 0));
            assert_eq!(db.get(&[b'k', 0]).await.unwrap(), None);
            db.apply(1, &writes(3, 1)).await.unwrap();
            assert_eq!(db.get(&[b'k', 0]).await.unwrap(), Some(vec![1, 0]));
        });
    }
}
