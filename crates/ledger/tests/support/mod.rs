//! Test doubles shared by the ledger's specification tests: in-memory state and a
//! signature cache that has verified nothing, and the block harness of [`city`].

use std::collections::{HashMap, HashSet};

use proverka_ledger::{SignatureCache, StateError, StateView};

/// Not every test binary uses every helper of the harness.
#[allow(dead_code)]
pub mod city;

/// Ledger state in memory: key-value pairs and the entry ids already in the log.
#[derive(Default)]
pub struct MemState {
    pub kv: HashMap<Vec<u8>, Vec<u8>>,
    pub entries: HashSet<[u8; 32]>,
}

impl StateView for MemState {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        Ok(self.kv.get(key).cloned())
    }
    fn has_entry(&self, id: &[u8; 32]) -> Result<bool, StateError> {
        Ok(self.entries.contains(id))
    }
}

impl proverka_ledger::query::StateScan for MemState {
    fn scan(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<proverka_ledger::query::Rows, StateError> {
        let mut rows: Vec<_> = self
            .kv
            .iter()
            .filter(|(k, _)| k.starts_with(prefix) && after.is_none_or(|a| k.as_slice() > a))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        rows.sort();
        rows.truncate(limit);
        Ok(rows)
    }
}

/// Every signature is verified anew.
pub struct NoCache;

impl SignatureCache for NoCache {
    fn is_verified(&self, _: &[u8; 32]) -> bool {
        false
    }
}
