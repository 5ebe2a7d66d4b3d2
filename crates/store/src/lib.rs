//! Stores the log durably on disk: statements, Merkle hashes, checkpoints and ledger state (redb).
//!
//! One redb file, `DIR/ledger.redb`, holds everything a node must not lose; its layout is
//! specified in `docs/log-format.md` ("On-disk layout"). All stored Merkle hashes are also kept
//! in memory (loaded at open, about 64 MB per million entries) so roots, proofs and tiles are
//! served without disk reads, concurrently from any number of threads. So is the entry id →
//! index map (`id_index.rs`, 19–39 bytes per entry: 34 MiB for 1M), so that
//! [`Store::index_of`] opens no redb transaction.
//!
//! Invariants:
//! - A block's statements, stored hashes, state writes, block record and signed checkpoint are
//!   written in one redb write transaction: all of them or none.
//! - The in-memory tree and id map are updated only after that transaction committed, under
//!   one lock, so readers never see data that could be lost by a crash, and an id the map
//!   knows always has its leaf in the tree readers see.
//! - The store never interprets statements or state values: the ledger decides what goes in;
//!   the store only bounds sizes.

mod floor;
mod id_index;

pub use floor::{FloorFacts, FloorImport, FloorImporter};

use id_index::{IdIndex, Lookup};
use proverka_log::{
    entry_bundle, hash_tile, leaf_entry, leaf_hash, stored_hash_count, stored_hash_index,
    stored_hashes_for_append, Hash, MemoryTree, ProofError, TileError, TileKind, TileRef,
};
use redb::{
    Database, Durability, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition,
};
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Name of the database file inside the store directory.
pub const FILE_NAME: &str = "ledger.redb";
/// On-disk format version, stored under `meta["format"]`. Version 1 (ids keyed by id) is
/// migrated at open; opening any other version fails.
pub const FORMAT_VERSION: u64 = 2;

/// Largest statement the store accepts (1 MiB). A backstop only: the ledger admits far smaller
/// statements (`proverka_statement::MAX_STATEMENT_BYTES`, 64 KiB).
pub const MAX_STATEMENT_BYTES: usize = 1 << 20;
/// Most statements in one block.
pub const MAX_BLOCK_STATEMENTS: usize = 100_000;
/// Most state writes in one block.
pub const MAX_BLOCK_STATE_WRITES: usize = 100_000;
/// Largest state key (1 KiB).
pub const MAX_STATE_KEY_BYTES: usize = 1024;
/// Largest state value (1 MiB).
pub const MAX_STATE_VALUE_BYTES: usize = 1 << 20;
/// Largest signed checkpoint note stored (the signed-note parser's own bound).
pub const MAX_CHECKPOINT_BYTES: usize = proverka_log::checkpoint::MAX_NOTE_BYTES;
/// Most items one [`Store::state_scan_prefix`] call returns, whatever the caller asks.
pub const MAX_SCAN_ITEMS: usize = 10_000;
/// Largest floor certificate an imported floor keeps (a header, a hash and a finalization of
/// up to 100 validators take about 7 KiB).
pub const MAX_FLOOR_CERTIFICATE_BYTES: usize = 64 * 1024;
/// redb's page cache (256 MiB; redb's default is 1 GiB). Proofs and tiles never touch it (they
/// are served from the in-memory tree); it serves id look-ups, statement reads and appends.
pub const CACHE_BYTES: usize = 256 << 20;

const ENTRIES: TableDefinition<u64, &[u8]> = TableDefinition::new("entries");
/// Entry ids by leaf index, appended in log order: cheap to write (always the B-tree's right
/// edge, where an id-keyed table put each insert on a random page), read once at open to build
/// the in-memory id map, which answers every look-up ([`IdIndex`]).
const IDS: TableDefinition<u64, &[u8; 32]> = TableDefinition::new("entry_ids");
/// Format 1's id → index table, read only to migrate it ([`migrate_v1`]).
const IDS_V1: TableDefinition<&[u8; 32], u64> = TableDefinition::new("ids");
const HASHES: TableDefinition<u64, &[u8; 32]> = TableDefinition::new("hashes");
const STATE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("state");
const BLOCKS: TableDefinition<u64, &[u8; BLOCK_RECORD_BYTES]> = TableDefinition::new("blocks");
/// Encoded [BlockRecord]: digest, log size, state root.
const BLOCK_RECORD_BYTES: usize = 32 + 8 + 32;
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

const META_FORMAT: &str = "format";
const META_TREE_SIZE: &str = "tree_size";
const META_APPLIED_HEIGHT: &str = "applied_height";
const META_ROOT: &str = "root";
const META_CHECKPOINT: &str = "checkpoint";
/// Height of the certified floor a joining validator's store was imported at (absent when the
/// store was built block by block from genesis).
const META_FLOOR: &str = "floor";
const META_FLOOR_CERTIFICATE: &str = "floor_certificate";

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Creating the directory failed.
    #[error("store directory: {0}")]
    Io(#[from] std::io::Error),
    /// redb failed (I/O, corruption detected by redb, ...).
    #[error("database: {0}")]
    Db(#[from] redb::Error),
    /// The file's contents contradict each other; the store refuses to serve them.
    #[error("store is inconsistent: {0}")]
    Corrupt(String),
    /// The file was written by another format version.
    #[error("store format {found}, this build reads {FORMAT_VERSION}")]
    WrongFormat { found: u64 },
    /// Blocks are numbered from 1; 0 means "none applied".
    #[error("block height 0 is not a block")]
    HeightZero,
    /// A block that does not follow the last applied one.
    #[error("block {got} does not follow applied height {applied}")]
    HeightGap { applied: u64, got: u64 },
    /// A block already applied, offered again with another digest or other statements.
    #[error("block {height} was already applied with different contents")]
    BlockConflict { height: u64 },
    /// A size or count above its documented limit.
    #[error("{what}: {len} above the limit of {max}")]
    Limit {
        what: &'static str,
        len: usize,
        max: usize,
    },
    /// A size beyond the current tree.
    #[error("tree size {size} is beyond the log's {tree_size} entries")]
    BeyondTree { size: u64, tree_size: u64 },
    /// Invalid proof arguments.
    #[error(transparent)]
    Proof(#[from] ProofError),
    /// Invalid tile request.
    #[error(transparent)]
    Tile(#[from] TileError),
    /// A floor can only be imported into an empty store.
    #[error(
        "a floor is imported into an empty store; this one has {size} entries at height {height}"
    )]
    NotEmpty { size: u64, height: u64 },
    /// The imported log does not have the certified root.
    #[error("the imported log of {size} entries does not have the certified root")]
    FloorMismatch { size: u64 },
    /// The same statement twice in an imported log.
    #[error("entry {index} of the imported log repeats entry {first}")]
    FloorDuplicate { index: u64, first: u64 },
    /// A height at or below the floor this store was imported at: its block is not here.
    #[error("block {height} is at or below the imported floor {floor}")]
    BeforeFloor { height: u64, floor: u64 },
    /// A floor import is open: nothing else writes to the store until it ends.
    #[error("a floor import is in progress; blocks are appended once it has ended")]
    ImportInProgress,
}

fn db_err(e: impl Into<redb::Error>) -> StoreError {
    StoreError::Db(e.into())
}

/// A ledger state entry: (key, value).
pub type StateEntry = (Vec<u8>, Vec<u8>);
/// A ledger state write: (key, `Some(value)` to set or `None` to delete).
pub type StateWrite = (Vec<u8>, Option<Vec<u8>>);

/// Signs the new tree head `(size, root)` and returns the checkpoint note to store with it.
pub type CheckpointSigner<'a> = &'a dyn Fn(u64, &Hash) -> Vec<u8>;

/// One finalized block to append.
pub struct BlockAppend<'a> {
    /// Block height: `applied_height() + 1` (heights start at 1), or an already applied height
    /// to replay its outcome.
    pub height: u64,
    /// The block's digest, recorded to detect a different block offered at the same height.
    pub digest: [u8; 32],
    /// Statements in block order; each not yet in the log becomes the next leaf.
    pub statements: &'a [&'a [u8]],
    /// Ledger state writes in order: `Some(value)` sets, `None` deletes.
    pub state_writes: &'a [StateWrite],
    /// The authenticated state root after these writes (`proverka-state`), recorded so that the
    /// block's outcome can be checked against the anchor of a later block.
    pub state_root: [u8; 32],
    /// Signs the new tree head; its note is stored in the same transaction.
    pub checkpoint: Option<CheckpointSigner<'a>>,
}

/// What appending a block did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendOutcome {
    /// Index the block's first new leaf got (= tree size before the block).
    pub first_index: u64,
    /// Tree size after the block.
    pub new_size: u64,
    /// Root of the tree of `new_size` leaves.
    pub root: Hash,
    /// New leaves: (entry id, index), in block order.
    pub appended: Vec<(Hash, u64)>,
    /// Statements already in the log (or earlier in the block): (entry id, existing index).
    pub duplicates: Vec<(Hash, u64)>,
}

/// A block as recorded: its digest, the tree size and the state root after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockRecord {
    /// Digest given when the block was appended.
    pub digest: [u8; 32],
    /// Tree size after the block.
    pub log_size: u64,
    /// Authenticated state root after the block.
    pub state_root: [u8; 32],
}

impl BlockRecord {
    fn encode(&self) -> [u8; BLOCK_RECORD_BYTES] {
        let mut out = [0u8; BLOCK_RECORD_BYTES];
        out[..32].copy_from_slice(&self.digest);
        out[32..40].copy_from_slice(&self.log_size.to_be_bytes());
        out[40..].copy_from_slice(&self.state_root);
        out
    }

    fn decode(raw: &[u8; BLOCK_RECORD_BYTES]) -> Self {
        let mut digest = [0u8; 32];
        digest.copy_from_slice(&raw[..32]);
        let mut size = [0u8; 8];
        size.copy_from_slice(&raw[32..40]);
        let mut state_root = [0u8; 32];
        state_root.copy_from_slice(&raw[40..]);
        Self {
            digest,
            log_size: u64::from_be_bytes(size),
            state_root,
        }
    }
}

/// What readers see: the tree, ids and head as of the last committed block.
struct Head {
    tree: MemoryTree,
    /// Entry id → index of every entry in `tree`, and of no other: filled from redb at open and
    /// after each commit (never before), so it never holds an id that is not durable.
    ids: IdIndex,
    applied_height: u64,
    root: Hash,
    checkpoint: Option<Vec<u8>>,
}

/// The ledger's durable store: one redb file with the log and the ledger state.
///
/// **Durability contract.** An append returns only after the redb write transaction committed
/// with `Durability::Immediate` (fsync). After a crash at any instant the store reopens at the
/// last committed block: either all of a block's entries and state writes or none.
///
/// **Trust.** The file is trusted as written by this process; `open` re-checks the cheap
/// invariants (hash count for the tree size, root, entry and id counts, last block record) and
/// refuses a file that contradicts itself. Everything read through `&self` may be used
/// concurrently from many threads; appends are serialized internally.
pub struct Store {
    db: Database,
    head: RwLock<Head>,
    append_lock: Mutex<()>,
    /// Set if memory could not follow a committed block; appends then refuse until reopen.
    diverged: AtomicBool,
    /// Set while a [`FloorImporter`] is open: appends refuse until it ends.
    importing: AtomicBool,
}

fn read_u64(raw: &[u8], what: &str) -> Result<u64, StoreError> {
    let bytes: [u8; 8] = raw
        .try_into()
        .map_err(|_| StoreError::Corrupt(format!("meta {what} is not 8 bytes")))?;
    Ok(u64::from_be_bytes(bytes))
}

fn check_limit(what: &'static str, len: usize, max: usize) -> Result<(), StoreError> {
    if len > max {
        return Err(StoreError::Limit { what, len, max });
    }
    Ok(())
}

impl Store {
    /// Opens the store in `dir` (creating the directory and an empty store if absent) and
    /// checks that its contents agree with each other.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(dir)?;
        let db = Database::builder()
            .set_cache_size(CACHE_BYTES)
            .create(dir.join(FILE_NAME))
            .map_err(db_err)?;
        init_tables(&db)?;
        let head = load_head(&db)?;
        Ok(Store {
            db,
            head: RwLock::new(head),
            append_lock: Mutex::new(()),
            diverged: AtomicBool::new(false),
            importing: AtomicBool::new(false),
        })
    }

    // A panic while a lock is held cannot leave `Head` half-updated (it is replaced field by
    // field after the commit, with no fallible step), so a poisoned lock is still consistent.
    fn read_head(&self) -> RwLockReadGuard<'_, Head> {
        self.head
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write_head(&self) -> RwLockWriteGuard<'_, Head> {
        self.head
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Returns the height of the last applied block (0 if none).
    pub fn applied_height(&self) -> u64 {
        self.read_head().applied_height
    }

    /// Returns the number of entries in the log.
    pub fn tree_size(&self) -> u64 {
        self.read_head().tree.size()
    }

    /// Returns the root of the whole log.
    pub fn root(&self) -> Hash {
        self.read_head().root
    }

    /// Returns the latest signed checkpoint note, if any block was appended with a signer.
    pub fn latest_checkpoint(&self) -> Option<Vec<u8>> {
        self.read_head().checkpoint.clone()
    }

    /// Appends a finalized block (see [`BlockAppend`]); idempotent for applied heights.
    ///
    /// Returns only after the block is durable. Fails, changing nothing, if the height does not
    /// follow the applied one, a limit is exceeded, or an applied height is offered with other
    /// contents.
    pub fn append_block(&self, b: BlockAppend<'_>) -> Result<AppendOutcome, StoreError> {
        let _serial = self
            .append_lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if self.diverged.load(Ordering::SeqCst) {
            return Err(StoreError::Corrupt(
                "memory diverged from disk after a commit; reopen the store".into(),
            ));
        }
        if self.importing.load(Ordering::SeqCst) {
            return Err(StoreError::ImportInProgress);
        }
        let applied = self.applied_height();
        if b.height == 0 {
            return Err(StoreError::HeightZero);
        }
        if b.height <= applied {
            return self.replay_outcome(&b);
        }
        if b.height != applied + 1 {
            return Err(StoreError::HeightGap {
                applied,
                got: b.height,
            });
        }
        check_block_limits(&b)?;
        let (outcome, added, checkpoint) = self.commit_block(&b)?;
        // The block is durable: only now may its ids and leaves become visible (see `Head`).
        let mut head = self.write_head();
        if let Err(e) = head.tree.apply(added) {
            // Unreachable while appends are serialized; if it ever happens, stop appending
            // rather than compute later blocks from a tree that lacks this one.
            self.diverged.store(true, Ordering::SeqCst);
            return Err(StoreError::Corrupt(format!(
                "memory tree after commit: {e}"
            )));
        }
        head.ids.reserve(outcome.appended.len());
        for (id, index) in &outcome.appended {
            head.ids.insert(id, *index);
        }
        head.applied_height = b.height;
        head.root = outcome.root;
        if checkpoint.is_some() {
            head.checkpoint = checkpoint;
        }
        Ok(outcome)
    }

    /// The height of the certified floor this store was imported at, if it was.
    pub fn floor(&self) -> Result<Option<u64>, StoreError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let meta = txn.open_table(META).map_err(db_err)?;
        let floor = meta.get(META_FLOOR).map_err(db_err)?;
        floor.map(|g| read_u64(g.value(), META_FLOOR)).transpose()
    }

    /// The certificate of the floor this store was imported at, as [`FloorFacts`] gave it.
    pub fn floor_certificate(&self) -> Result<Option<Vec<u8>>, StoreError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let meta = txn.open_table(META).map_err(db_err)?;
        let certificate = meta.get(META_FLOOR_CERTIFICATE).map_err(db_err)?;
        Ok(certificate.map(|g| g.value().to_vec()))
    }

    /// Writes the block in one durable transaction; returns what to publish in memory.
    fn commit_block(
        &self,
        b: &BlockAppend<'_>,
    ) -> Result<(AppendOutcome, proverka_log::AppendedHashes, Option<Vec<u8>>), StoreError> {
        // Appends are serialized, so `head` is the committed state this block builds on.
        let head = self.read_head();
        let first_index = head.tree.size();
        let mut txn = self.db.begin_write().map_err(db_err)?;
        txn.set_durability(Durability::Immediate).map_err(db_err)?;
        let (outcome, added, checkpoint) = {
            let mut entries = txn.open_table(ENTRIES).map_err(db_err)?;
            let mut ids = txn.open_table(IDS).map_err(db_err)?;
            let mut seen: HashMap<Hash, u64> = HashMap::new();
            let (mut appended, mut duplicates, mut leaves) = (Vec::new(), Vec::new(), Vec::new());
            for stmt in b.statements {
                let id = leaf_entry(stmt);
                let existing = seen.get(&id).copied().or_else(|| lookup(&head, &id));
                if let Some(i) = existing {
                    duplicates.push((id, i));
                    continue;
                }
                let index = first_index + leaves.len() as u64;
                entries.insert(index, *stmt).map_err(db_err)?;
                ids.insert(index, &id).map_err(db_err)?;
                seen.insert(id, index);
                appended.push((id, index));
                leaves.push(leaf_hash(&id));
            }
            let added = stored_hashes_for_append(first_index, &leaves, &head.tree)?;
            let mut hashes = txn.open_table(HASHES).map_err(db_err)?;
            for (i, h) in (added.first_stored_index..).zip(&added.hashes) {
                hashes.insert(i, h).map_err(db_err)?;
            }
            write_state(&txn, b.state_writes)?;
            let record = BlockRecord {
                digest: b.digest,
                log_size: added.new_size,
                state_root: b.state_root,
            };
            txn.open_table(BLOCKS)
                .map_err(db_err)?
                .insert(b.height, &record.encode())
                .map_err(db_err)?;
            let checkpoint = b.checkpoint.map(|sign| sign(added.new_size, &added.root));
            if let Some(note) = &checkpoint {
                check_limit("checkpoint bytes", note.len(), MAX_CHECKPOINT_BYTES)?;
            }
            write_meta(&txn, b.height, &added, checkpoint.as_deref())?;
            let outcome = AppendOutcome {
                first_index,
                new_size: added.new_size,
                root: added.root,
                appended,
                duplicates,
            };
            (outcome, added, checkpoint)
        };
        drop(head);
        txn.commit().map_err(db_err)?;
        Ok((outcome, added, checkpoint))
    }

    /// Rebuilds the outcome of an already applied block from the records, after checking that
    /// the block offered is the one recorded.
    fn replay_outcome(&self, b: &BlockAppend<'_>) -> Result<AppendOutcome, StoreError> {
        if let Some(floor) = self.floor()? {
            if b.height <= floor {
                return Err(StoreError::BeforeFloor {
                    height: b.height,
                    floor,
                });
            }
        }
        let conflict = StoreError::BlockConflict { height: b.height };
        let record = self
            .block(b.height)?
            .ok_or_else(|| StoreError::Corrupt(format!("applied block {} missing", b.height)))?;
        if record.digest != b.digest {
            return Err(conflict);
        }
        let first_index = match b.height {
            1 => 0,
            h => {
                self.block(h - 1)?
                    .ok_or_else(|| StoreError::Corrupt(format!("applied block {} missing", h - 1)))?
                    .log_size
            }
        };
        let head = self.read_head();
        let mut seen: HashMap<Hash, u64> = HashMap::new();
        let (mut appended, mut duplicates) = (Vec::new(), Vec::new());
        for stmt in b.statements {
            let id = leaf_entry(stmt);
            if let Some(&i) = seen.get(&id) {
                duplicates.push((id, i));
                continue;
            }
            let Some(i) = lookup(&head, &id) else {
                return Err(conflict);
            };
            seen.insert(id, i);
            if (first_index..record.log_size).contains(&i) {
                appended.push((id, i));
            } else {
                duplicates.push((id, i));
            }
        }
        drop(head);
        if appended.len() as u64 != record.log_size - first_index {
            return Err(conflict);
        }
        Ok(AppendOutcome {
            first_index,
            new_size: record.log_size,
            root: self.root_at(record.log_size)?,
            appended,
            duplicates,
        })
    }

    /// Returns the record of block `height`, if applied.
    pub fn block(&self, height: u64) -> Result<Option<BlockRecord>, StoreError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let blocks = txn.open_table(BLOCKS).map_err(db_err)?;
        let record = blocks.get(height).map_err(db_err)?;
        Ok(record.map(|g| BlockRecord::decode(g.value())))
    }

    /// Returns the index of the entry with this id (SHA-256 of the statement), if logged.
    ///
    /// Served from memory; the index returned is always below [`Store::tree_size`] as read
    /// afterwards (the id map and the tree change together).
    pub fn index_of(&self, id: &Hash) -> Result<Option<u64>, StoreError> {
        Ok(lookup(&self.read_head(), id))
    }

    /// Approximate heap bytes of the in-memory id map (for benchmarks and metrics).
    pub fn id_index_bytes(&self) -> usize {
        self.read_head().ids.heap_bytes()
    }

    /// Returns the exact statement bytes at `index`, if logged.
    pub fn statement(&self, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let entries = txn.open_table(ENTRIES).map_err(db_err)?;
        let stmt = entries.get(index).map_err(db_err)?;
        Ok(stmt.map(|g| g.value().to_vec()))
    }

    fn check_size(&self, head: &Head, size: u64) -> Result<(), StoreError> {
        if size > head.tree.size() {
            return Err(StoreError::BeyondTree {
                size,
                tree_size: head.tree.size(),
            });
        }
        Ok(())
    }

    /// Returns the RFC 9162 inclusion path of entry `index` in the tree of `size` entries.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, StoreError> {
        let head = self.read_head();
        self.check_size(&head, size)?;
        Ok(head.tree.inclusion_proof(index, size)?)
    }

    /// Returns the RFC 9162 consistency path from size `old` to size `new` (`0 < old <= new`).
    pub fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Hash>, StoreError> {
        let head = self.read_head();
        self.check_size(&head, new)?;
        Ok(head.tree.consistency_proof(old, new)?)
    }

    /// Returns the root of the tree of the first `size` entries.
    pub fn root_at(&self, size: u64) -> Result<Hash, StoreError> {
        let head = self.read_head();
        self.check_size(&head, size)?;
        Ok(head.tree.root_at(size)?)
    }

    /// Returns the contents of a C2SP hash tile of the current tree (`GET /tile/<L>/<N>...`).
    pub fn hash_tile(&self, t: &TileRef) -> Result<Vec<u8>, StoreError> {
        let head = self.read_head();
        Ok(hash_tile(t, head.tree.size(), &head.tree)?)
    }

    /// Returns a C2SP entry bundle of the current tree (`GET /tile/entries/<N>...`): the
    /// 32-byte entry ids (whose RFC 9162 leaf hashes fill the level-0 tile), each prefixed by
    /// its uint16 length.
    pub fn entry_bundle(&self, t: &TileRef) -> Result<Vec<u8>, StoreError> {
        if t.kind() != TileKind::Entries {
            return Err(TileError::WrongKind.into());
        }
        let (needed, first) = (t.leaves_needed()?, t.first_leaf()?);
        let size = self.tree_size();
        if needed > size {
            return Err(TileError::BeyondTree { needed, size }.into());
        }
        let txn = self.db.begin_read().map_err(db_err)?;
        let entries = txn.open_table(ENTRIES).map_err(db_err)?;
        let mut ids = Vec::with_capacity(usize::from(t.width()));
        for row in entries.range(first..needed).map_err(db_err)? {
            let (_, stmt) = row.map_err(db_err)?;
            ids.push(leaf_entry(stmt.value()));
        }
        if ids.len() != usize::from(t.width()) {
            return Err(StoreError::Corrupt(format!(
                "entries {first}..{needed} missing"
            )));
        }
        Ok(entry_bundle(&ids)?)
    }

    /// The ledger state as of the last committed block, for several reads in a row: one read
    /// transaction for all of them instead of one per [`Store::state_get`] (opening one is
    /// about two thirds of a single get's cost). Hold it only as long as those reads: pages
    /// a later commit frees are reused once no reader started before it remains.
    pub fn state_reader(&self) -> Result<StateReader, StoreError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let table = txn.open_table(STATE).map_err(db_err)?;
        Ok(StateReader { table })
    }

    /// Returns the ledger state value under `key`.
    pub fn state_get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let state = txn.open_table(STATE).map_err(db_err)?;
        let value = state.get(key).map_err(db_err)?;
        Ok(value.map(|g| g.value().to_vec()))
    }

    /// Returns up to `limit` (at most [`MAX_SCAN_ITEMS`]) state entries whose key starts with
    /// `prefix`, in key order.
    pub fn state_scan_prefix(
        &self,
        prefix: &[u8],
        limit: usize,
    ) -> Result<Vec<StateEntry>, StoreError> {
        self.state_scan_prefix_after(prefix, None, limit)
    }

    /// Like [`Store::state_scan_prefix`], starting strictly after key `after` (pagination).
    pub fn state_scan_prefix_after(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<StateEntry>, StoreError> {
        let limit = limit.min(MAX_SCAN_ITEMS);
        let start = match after {
            Some(a) if a >= prefix => a,
            _ => prefix,
        };
        let txn = self.db.begin_read().map_err(db_err)?;
        let state = txn.open_table(STATE).map_err(db_err)?;
        let mut out = Vec::new();
        for row in state.range(start..).map_err(db_err)? {
            if out.len() >= limit {
                break;
            }
            let (k, v) = row.map_err(db_err)?;
            let key = k.value();
            if !key.starts_with(prefix) {
                break;
            }
            if Some(key) == after {
                continue;
            }
            out.push((key.to_vec(), v.value().to_vec()));
        }
        Ok(out)
    }
}

fn check_block_limits(b: &BlockAppend<'_>) -> Result<(), StoreError> {
    check_limit(
        "statements in a block",
        b.statements.len(),
        MAX_BLOCK_STATEMENTS,
    )?;
    for s in b.statements {
        check_limit("statement bytes", s.len(), MAX_STATEMENT_BYTES)?;
    }
    check_limit(
        "state writes in a block",
        b.state_writes.len(),
        MAX_BLOCK_STATE_WRITES,
    )?;
    for (k, v) in b.state_writes {
        check_limit("state key bytes", k.len(), MAX_STATE_KEY_BYTES)?;
        if let Some(v) = v {
            check_limit("state value bytes", v.len(), MAX_STATE_VALUE_BYTES)?;
        }
    }
    Ok(())
}

fn write_state(txn: &redb::WriteTransaction, writes: &[StateWrite]) -> Result<(), StoreError> {
    let mut state = txn.open_table(STATE).map_err(db_err)?;
    for (k, v) in writes {
        match v {
            Some(v) => state.insert(k.as_slice(), v.as_slice()).map(drop),
            None => state.remove(k.as_slice()).map(drop),
        }
        .map_err(db_err)?;
    }
    Ok(())
}

fn write_meta(
    txn: &redb::WriteTransaction,
    height: u64,
    added: &proverka_log::AppendedHashes,
    checkpoint: Option<&[u8]>,
) -> Result<(), StoreError> {
    let mut meta = txn.open_table(META).map_err(db_err)?;
    meta.insert(META_TREE_SIZE, added.new_size.to_be_bytes().as_slice())
        .map_err(db_err)?;
    meta.insert(META_APPLIED_HEIGHT, height.to_be_bytes().as_slice())
        .map_err(db_err)?;
    meta.insert(META_ROOT, added.root.as_slice())
        .map_err(db_err)?;
    if let Some(note) = checkpoint {
        meta.insert(META_CHECKPOINT, note).map_err(db_err)?;
    }
    Ok(())
}

/// Creates every table and the format marker if absent; checks the format version.
fn init_tables(db: &Database) -> Result<(), StoreError> {
    let mut txn = db.begin_write().map_err(db_err)?;
    txn.set_durability(Durability::Immediate).map_err(db_err)?;
    txn.open_table(ENTRIES).map_err(db_err)?;
    txn.open_table(IDS).map_err(db_err)?;
    txn.open_table(HASHES).map_err(db_err)?;
    txn.open_table(STATE).map_err(db_err)?;
    txn.open_table(BLOCKS).map_err(db_err)?;
    let found = txn
        .open_table(META)
        .map_err(db_err)?
        .get(META_FORMAT)
        .map_err(db_err)?
        .map(|g| read_u64(g.value(), META_FORMAT))
        .transpose()?;
    match found {
        Some(FORMAT_VERSION) => {}
        None | Some(1) => {
            if found == Some(1) {
                migrate_v1(&txn)?;
            }
            txn.open_table(META)
                .map_err(db_err)?
                .insert(META_FORMAT, FORMAT_VERSION.to_be_bytes().as_slice())
                .map_err(db_err)?;
        }
        Some(found) => return Err(StoreError::WrongFormat { found }),
    }
    txn.commit().map_err(db_err)?;
    Ok(())
}

/// Rewrites format 1's id → index table as the index → id table of format 2, in the caller's
/// transaction (so a crash leaves format 1 whole). Its indexes are checked at load.
fn migrate_v1(txn: &redb::WriteTransaction) -> Result<(), StoreError> {
    let mut rows = Vec::new();
    {
        let old = txn.open_table(IDS_V1).map_err(db_err)?;
        for row in old.iter().map_err(db_err)? {
            let (id, index) = row.map_err(db_err)?;
            rows.push((index.value(), *id.value()));
        }
    }
    rows.sort_unstable();
    let mut ids = txn.open_table(IDS).map_err(db_err)?;
    for (index, id) in &rows {
        ids.insert(*index, id).map_err(db_err)?;
    }
    drop(ids);
    txn.delete_table(IDS_V1).map_err(db_err)?;
    Ok(())
}

/// Loads the stored hashes and head, checking the invariants that are cheap to check.
fn load_head(db: &Database) -> Result<Head, StoreError> {
    let txn = db.begin_read().map_err(db_err)?;
    let meta = txn.open_table(META).map_err(db_err)?;
    let get = |key: &str| -> Result<Option<Vec<u8>>, StoreError> {
        Ok(meta.get(key).map_err(db_err)?.map(|g| g.value().to_vec()))
    };
    let size = get(META_TREE_SIZE)?
        .map(|v| read_u64(&v, META_TREE_SIZE))
        .transpose()?
        .unwrap_or(0);
    let applied_height = get(META_APPLIED_HEIGHT)?
        .map(|v| read_u64(&v, META_APPLIED_HEIGHT))
        .transpose()?
        .unwrap_or(0);
    let checkpoint = get(META_CHECKPOINT)?;

    let tree = load_tree(&txn, size)?;
    let root = tree.root();
    if let Some(stored) = get(META_ROOT)? {
        if stored.as_slice() != root.as_slice() {
            return Err(StoreError::Corrupt(
                "stored root differs from the root of the stored hashes".into(),
            ));
        }
    }
    check_counts(&txn, size, applied_height)?;
    let ids = load_ids(&txn, size)?;
    Ok(Head {
        tree,
        ids,
        applied_height,
        root,
        checkpoint,
    })
}

fn load_tree(txn: &redb::ReadTransaction, size: u64) -> Result<MemoryTree, StoreError> {
    let want = stored_hash_count(size)?;
    let table = txn.open_table(HASHES).map_err(db_err)?;
    if table.len().map_err(db_err)? != want {
        return Err(StoreError::Corrupt(format!(
            "{} stored hashes for tree size {size}, expected {want}",
            table.len().map_err(db_err)?
        )));
    }
    let mut hashes = Vec::with_capacity(usize::try_from(want).unwrap_or(0));
    for (expected, row) in (0u64..).zip(table.iter().map_err(db_err)?) {
        let (k, v) = row.map_err(db_err)?;
        if k.value() != expected {
            return Err(StoreError::Corrupt(format!(
                "stored hash {expected} missing"
            )));
        }
        hashes.push(*v.value());
    }
    MemoryTree::from_stored_hashes(size, hashes).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// Loads the id map: one pass over the ids table (counted equal to `size` by `check_counts`),
/// whose indexes must run 0, 1, … without a gap.
fn load_ids(txn: &redb::ReadTransaction, size: u64) -> Result<IdIndex, StoreError> {
    let table = txn.open_table(IDS).map_err(db_err)?;
    let mut ids = IdIndex::with_capacity(usize::try_from(size).unwrap_or(0));
    for (expected, row) in (0u64..).zip(table.iter().map_err(db_err)?) {
        let (index, id) = row.map_err(db_err)?;
        if index.value() != expected || expected >= size {
            return Err(StoreError::Corrupt(format!(
                "id of entry {} where entry {expected} of {size} was expected",
                index.value()
            )));
        }
        ids.insert(id.value(), expected);
    }
    Ok(ids)
}

/// Looks `id` up in `head`'s id map, confirming each candidate index against the tree's leaf
/// hash there.
fn lookup(head: &Head, id: &Hash) -> Option<u64> {
    let leaf = leaf_hash(id);
    let logged_at = |index: &u64| head.tree.stored_hash(stored_hash_index(0, *index)) == Some(leaf);
    match head.ids.get(id) {
        Lookup::Absent => None,
        Lookup::Candidate(index) => Some(index).filter(logged_at),
        Lookup::Shared(indexes) => indexes.iter().copied().find(logged_at),
    }
}

fn check_counts(
    txn: &redb::ReadTransaction,
    size: u64,
    applied_height: u64,
) -> Result<(), StoreError> {
    let entries = txn
        .open_table(ENTRIES)
        .map_err(db_err)?
        .len()
        .map_err(db_err)?;
    let ids = txn.open_table(IDS).map_err(db_err)?.len().map_err(db_err)?;
    if entries != size || ids != size {
        return Err(StoreError::Corrupt(format!(
            "{entries} entries and {ids} ids for tree size {size}"
        )));
    }
    let blocks = txn.open_table(BLOCKS).map_err(db_err)?;
    let last = blocks.last().map_err(db_err)?;
    let consistent = match last {
        None => applied_height == 0 && size == 0,
        Some((h, r)) => {
            h.value() == applied_height && BlockRecord::decode(r.value()).log_size == size
        }
    };
    if !consistent {
        return Err(StoreError::Corrupt(format!(
            "last block record disagrees with applied height {applied_height}, size {size}"
        )));
    }
    Ok(())
}

/// A snapshot of the ledger state ([`Store::state_reader`]).
pub struct StateReader {
    table: redb::ReadOnlyTable<&'static [u8], &'static [u8]>,
}

impl StateReader {
    /// The state value under `key` in this snapshot.
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let value = self.table.get(key).map_err(db_err)?;
        Ok(value.map(|g| g.value().to_vec()))
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    fn append(store: &Store, height: u64, statements: &[&[u8]]) -> AppendOutcome {
        store
            .append_block(BlockAppend {
                height,
                digest: leaf_entry(&height.to_be_bytes()),
                statements,
                state_writes: &[],
                state_root: [0; 32],
                checkpoint: None,
            })
            .expect("append")
    }

    /// Two logged ids with the same first 8 bytes take ~2³² hashes to find, so the second one
    /// is put into the map by hand here.
    #[test]
    fn ids_sharing_their_first_8_bytes_are_told_apart_by_their_leaves_for_reads_and_appends() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("open");
        let out = append(&store, 1, &[b"a", b"b"]);
        let (a, index_a) = out.appended[0];
        let mut twin = a;
        twin[31] ^= 1;
        store.write_head().ids.insert(&twin, 1);
        assert_eq!(store.read_head().ids.get(&a), Lookup::Shared(&[0, 1]));

        assert_eq!(store.index_of(&a).expect("read"), Some(index_a));
        assert_eq!(store.index_of(&twin).expect("read"), None);
        // The duplicate check of an append finds "a" among the shared indexes: no second leaf.
        let out = append(&store, 2, &[b"a", b"c"]);
        assert_eq!(out.duplicates, vec![(a, index_a)]);
        assert_eq!(out.appended.len(), 1);
    }
}
