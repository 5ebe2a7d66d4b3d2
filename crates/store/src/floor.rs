//! Importing a certified floor into an empty store: what a joining validator starts from
//! (`docs/data-dir.md`, "Joining").
//!
//! One durable write transaction holds the whole import, so a crash or a refused import leaves
//! the store empty. It is fed a page at a time ([`FloorImporter::statements`],
//! [`FloorImporter::state`]): the joiner holds one page of statements or state records, not
//! the log, and redb writes its dirty pages out once they pass half its cache
//! ([`crate::CACHE_BYTES`]). What the import keeps for the whole log, per entry: its leaf hash
//! for the root check (32 bytes) and an id → index entry for the duplicate check (~50 bytes),
//! then, at the end, the tree's stored hashes (~64 bytes, what the running node keeps in
//! memory anyway).

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use proverka_log::{leaf_entry, leaf_hash, stored_hashes_for_append, Hash, MemoryTree};
use redb::{Durability, WriteTransaction};

use crate::{
    check_limit, db_err, load_head, write_meta, BlockRecord, StateEntry, Store, StoreError, BLOCKS,
    ENTRIES, HASHES, IDS, MAX_FLOOR_CERTIFICATE_BYTES, MAX_STATEMENT_BYTES, MAX_STATE_KEY_BYTES,
    MAX_STATE_VALUE_BYTES, META, META_FLOOR, META_FLOOR_CERTIFICATE, STATE,
};

/// What certifies the floor a store is imported at, known before its log is fetched.
#[derive(Clone, Debug)]
pub struct FloorFacts {
    /// The floor block's height (≥ 1).
    pub height: u64,
    /// The floor block's digest.
    pub digest: [u8; 32],
    /// The authenticated state root after the floor block.
    pub state_root: [u8; 32],
    /// The certified log root after the floor block: a log with another root is refused.
    pub log_root: Hash,
    /// What certifies the floor block, kept as given (opaque here, at most
    /// [`MAX_FLOOR_CERTIFICATE_BYTES`]): consensus starts from it at every start.
    pub certificate: Vec<u8>,
}

/// The whole floor at once: [`Store::import_floor`].
pub struct FloorImport<'a> {
    /// What certifies the floor.
    pub facts: FloorFacts,
    /// Every log entry, in log order; its root must be `facts.log_root`.
    pub statements: &'a [Vec<u8>],
    /// Every ledger state record after the floor block.
    pub state: &'a [StateEntry],
}

/// A floor import in progress. Dropped before [`FloorImporter::finish`], it writes nothing.
pub struct FloorImporter<'s> {
    store: &'s Store,
    facts: FloorFacts,
    /// `None` once finished.
    txn: Option<WriteTransaction>,
    /// Every id imported so far, with its index: a log never holds an id twice.
    seen: HashMap<Hash, u64>,
    /// The leaf hashes imported so far, for the root check at the end.
    leaves: Vec<Hash>,
}

impl Store {
    /// Starts importing a certified floor into this empty store: refused unless the store is
    /// empty, the height is not 0 and the certificate within its limit.
    pub fn begin_floor_import(&self, facts: FloorFacts) -> Result<FloorImporter<'_>, StoreError> {
        // Under the append lock, so that no block is being appended while the store is found
        // empty; from the flag on, appends refuse until the import ends.
        let _serial = self
            .append_lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (size, height) = (self.tree_size(), self.applied_height());
        if size != 0 || height != 0 {
            return Err(StoreError::NotEmpty { size, height });
        }
        if self.importing.load(Ordering::SeqCst) {
            return Err(StoreError::ImportInProgress);
        }
        if facts.height == 0 {
            return Err(StoreError::HeightZero);
        }
        check_limit(
            "floor certificate bytes",
            facts.certificate.len(),
            MAX_FLOOR_CERTIFICATE_BYTES,
        )?;
        let mut txn = self.db.begin_write().map_err(db_err)?;
        txn.set_durability(Durability::Immediate).map_err(db_err)?;
        self.importing.store(true, Ordering::SeqCst);
        Ok(FloorImporter {
            store: self,
            facts,
            txn: Some(txn),
            seen: HashMap::new(),
            leaves: Vec::new(),
        })
    }

    /// Imports a certified floor into this empty store in one durable transaction: the log
    /// (refused unless its root is `log_root`), the state records and the floor block's record.
    /// Blocks at or below the floor are never replayed here ([`StoreError::BeforeFloor`]).
    pub fn import_floor(&self, f: FloorImport<'_>) -> Result<(), StoreError> {
        let mut import = self.begin_floor_import(f.facts)?;
        import.statements(f.statements)?;
        import.state(f.state)?;
        import.finish()
    }
}

/// The import's open transaction (a field borrow, so the rest of the importer stays usable).
fn open(txn: &Option<WriteTransaction>) -> Result<&WriteTransaction, StoreError> {
    txn.as_ref()
        .ok_or_else(|| StoreError::Corrupt("floor import already finished".into()))
}

impl FloorImporter<'_> {
    /// Imports the log's next statements, in log order. A statement over
    /// [`MAX_STATEMENT_BYTES`] or an id already imported refuses the page, and the import can
    /// only be dropped.
    pub fn statements(&mut self, page: &[Vec<u8>]) -> Result<(), StoreError> {
        for stmt in page {
            check_limit("statement bytes", stmt.len(), MAX_STATEMENT_BYTES)?;
        }
        let txn = open(&self.txn)?;
        let mut entries = txn.open_table(ENTRIES).map_err(db_err)?;
        let mut ids = txn.open_table(IDS).map_err(db_err)?;
        for stmt in page {
            let index = self.leaves.len() as u64;
            let id = leaf_entry(stmt);
            if let Some(&first) = self.seen.get(&id) {
                return Err(StoreError::FloorDuplicate { index, first });
            }
            entries.insert(index, stmt.as_slice()).map_err(db_err)?;
            ids.insert(index, &id).map_err(db_err)?;
            self.seen.insert(id, index);
            self.leaves.push(leaf_hash(&id));
        }
        Ok(())
    }

    /// Imports ledger state records (any order; a key given twice keeps its last value).
    pub fn state(&mut self, page: &[StateEntry]) -> Result<(), StoreError> {
        for (k, v) in page {
            check_limit("state key bytes", k.len(), MAX_STATE_KEY_BYTES)?;
            check_limit("state value bytes", v.len(), MAX_STATE_VALUE_BYTES)?;
        }
        let mut state = open(&self.txn)?.open_table(STATE).map_err(db_err)?;
        for (k, v) in page {
            state.insert(k.as_slice(), v.as_slice()).map_err(db_err)?;
        }
        Ok(())
    }

    /// Checks the log imported against the certified root, writes the stored hashes and the
    /// floor block's record, and commits. Refused ([`StoreError::FloorMismatch`]) with nothing
    /// written if the root differs.
    pub fn finish(mut self) -> Result<(), StoreError> {
        let added = stored_hashes_for_append(0, &self.leaves, &MemoryTree::new())?;
        if added.root != self.facts.log_root {
            return Err(StoreError::FloorMismatch {
                size: added.new_size,
            });
        }
        let txn = self
            .txn
            .take()
            .ok_or_else(|| StoreError::Corrupt("floor import already finished".into()))?;
        {
            let mut hashes = txn.open_table(HASHES).map_err(db_err)?;
            for (i, h) in (added.first_stored_index..).zip(&added.hashes) {
                hashes.insert(i, h).map_err(db_err)?;
            }
            let record = BlockRecord {
                digest: self.facts.digest,
                log_size: added.new_size,
                state_root: self.facts.state_root,
            };
            txn.open_table(BLOCKS)
                .map_err(db_err)?
                .insert(self.facts.height, &record.encode())
                .map_err(db_err)?;
            write_meta(&txn, self.facts.height, &added, None)?;
            let mut meta = txn.open_table(META).map_err(db_err)?;
            meta.insert(META_FLOOR, self.facts.height.to_be_bytes().as_slice())
                .map_err(db_err)?;
            meta.insert(META_FLOOR_CERTIFICATE, self.facts.certificate.as_slice())
                .map_err(db_err)?;
        }
        txn.commit().map_err(db_err)?;
        // The flag is cleared by `drop`, after the head is loaded: no append sees the store
        // between the commit and the new head.
        *self.store.write_head() = load_head(&self.store.db)?;
        Ok(())
    }
}

impl Drop for FloorImporter<'_> {
    fn drop(&mut self) {
        if let Some(txn) = self.txn.take() {
            // Nothing of an unfinished import is kept; an abort that fails writes nothing
            // either (the transaction was never committed).
            let _ = txn.abort();
        }
        self.store.importing.store(false, Ordering::SeqCst);
    }
}
