//! The state database: a QMDB `current::ordered::variable` database holding
//! `SHA-256(key) → SHA-256(value)` (authenticated, gives the root and the proofs) and a commonware
//! `qmdb::store` holding `SHA-256(key) → value` (unauthenticated, serves `get`).
//!
//! Crash consistency between the two: each block is committed to the value store first, then to
//! the authenticated database. The value store's commit metadata records the block height and the
//! value store's size before that block; if a crash leaves the value store one block ahead,
//! [StateDb::open] reopens it at its previous commit, so both always describe the same height.

use crate::{
    hashed_key,
    proof::{Family, Kind, CHUNK, COMMIT_METADATA_BYTES},
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
        current::{ordered::variable::Db as AuthDb, VariableConfig},
        floor::Proportional,
        store::db::{Config as StoreConfig, Db as StoreDb},
    },
    translator::EightCap,
    Context,
};
use std::num::{NonZeroU16, NonZeroU64, NonZeroUsize};

type Auth<E, S> = AuthDb<Family, E, Digest, Vec<u8>, Sha256, EightCap, CHUNK, S>;
type Values<E> = StoreDb<E, Digest, Vec<u8>, EightCap>;

/// Page size of the shared commonware page cache.
const PAGE_SIZE: NonZeroU16 = NonZeroU16::new(4096).unwrap();
/// Largest authenticated log record value: a 32-byte value digest or 40-byte commit metadata.
const AUTH_VALUE_MAX: usize = 64;
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
    inner: Option<(Auth<E, S>, Values<E>)>,
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
        let strategy = S::with_threads(cfg.merkle_threads)
            .map_err(|e| StateError::Inconsistent(format!("merkle thread pool: {e}")))?;
        let page_cache = CacheRef::new(PAGE_SIZE, cfg.page_cache_pages);
        let buffer = NonZeroUsize::new(64 * 1024).unwrap();
        let prefix = &cfg.partition_prefix;
        let auth_cfg = VariableConfig {
            merkle_config: MerkleConfig {
                journal_partition: format!("{prefix}-state-mmr"),
                metadata_partition: format!("{prefix}-state-mmr-meta"),
                items_per_blob: cfg.items_per_blob,
                write_buffer: buffer,
                replay_buffer: buffer,
                strategy,
                page_cache: page_cache.clone(),
            },
            journal_config: JournalConfig {
                partition: format!("{prefix}-state-log"),
                items_per_section: cfg.items_per_blob,
                compression: None,
                codec_config: ((), ((0..=AUTH_VALUE_MAX).into(), ())),
                page_cache: page_cache.clone(),
                write_buffer: buffer,
                replay_buffer: buffer,
            },
            grafted_metadata_partition: format!("{prefix}-state-grafted"),
            translator: EightCap,
            init_cache: Some(NonZeroUsize::new(1 << 16).unwrap()),
            init_buffer: NonZeroUsize::new(1 << 21).unwrap(),
            init_concurrency: (),
        };
        let values_cfg = StoreConfig {
            log: JournalConfig {
                partition: format!("{prefix}-state-values"),
                items_per_section: cfg.items_per_blob,
                compression: None,
                codec_config: ((), ((0..=MAX_VALUE_BYTES).into(), ())),
                page_cache,
                write_buffer: buffer,
                replay_buffer: buffer,
            },
            translator: EightCap,
            init_cache: Some(NonZeroUsize::new(1 << 16).unwrap()),
            init_buffer: NonZeroUsize::new(1 << 21).unwrap(),
        };

        let auth = Auth::init(context.child("auth"), auth_cfg, None).await?;
        let (height, last_writes) = match auth.get_metadata().await? {
            None => (0, writes_digest(&[])),
            Some(m) if m.len() == COMMIT_METADATA_BYTES => {
                let height = u64::from_be_bytes(m[..8].try_into().unwrap());
                (height, m[8..].try_into().unwrap())
            }
            Some(m) => {
                return Err(StateError::Inconsistent(format!(
                    "commit metadata of {} bytes",
                    m.len()
                )))
            }
        };

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

        Ok(Self {
            root: StateRoot(auth.root().0),
            inner: Some((auth, values)),
            height,
            last_writes,
            sync_interval: cfg.sync_interval,
            #[cfg(test)]
            crash_after_values: false,
        })
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
        for (key, value) in writes {
            let key = Digest(hashed_key(key));
            match value {
                Some(value) => {
                    batch = batch.write(key, Some(value_digest(value).to_vec()));
                    changes = changes.update(key, value.clone());
                }
                None => {
                    batch = batch.write(key, None);
                    changes = changes.delete(key);
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
        values_metadata.extend_from_slice(&(*values.size()).to_be_bytes());
        let changes = changes.finalize(Some(values_metadata));

        // 2. Values first, then the authenticated database (see the module docs). On error the
        // handle stays taken: the caller must reopen, which recovers the last durable block.
        let mut values = values
            .apply_batch(changes, &mut Proportional)
            .await?
            .commit()
            .await?;
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
            let floor = values.inactivity_floor_loc();
            values = values.prune(floor).await?;
        }

        self.root = StateRoot(auth.root().0);
        self.height = height;
        self.last_writes = digest;
        self.inner = Some((auth, values));
        Ok(self.root)
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
        Ok(values.get(&Digest(hashed_key(key))).await?)
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

    /// Fully sync both stores (faster next open) and drop the handle.
    pub async fn close(mut self) -> Result<(), StateError> {
        let (auth, values) = self.inner.take().ok_or(StateError::Poisoned)?;
        values.sync().await?;
        auth.sync().await?;
        Ok(())
    }
}

/// `(height, size before that block)` from the value store's last commit; `(0, 1)` when fresh
/// (a fresh store holds one genesis commit).
async fn values_metadata<E: Context>(values: &Values<E>) -> Result<(u64, u64), StateError> {
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
