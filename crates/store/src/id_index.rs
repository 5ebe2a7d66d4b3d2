//! The entry id → index map, held in memory so that look-ups (every submission, every receipt
//! and proof request, every applied statement) never open a redb transaction.
//!
//! **Representation.** The key is the first 8 bytes of the id, not all 32: a logged id is
//! confirmed by recomputing its RFC 9162 leaf hash and comparing it with the leaf hash the
//! in-memory tree already holds at that index, so the other 24 bytes need not be stored twice.
//! Cost: hashbrown holds 16 bytes + 1 control byte per bucket, buckets a power of two at most
//! 7/8 full, so 19–39 bytes per entry: 34 MiB resident for exactly 1M ids, against 82 MiB keyed
//! by the full 32 bytes, for a look-up ~20 % slower (it adds one SHA-256 block and one read of
//! the tree); both measured by `cargo run --release -p proverka-store --example id_map_bench`
//! (BENCHMARKS.md). Loading it at open is one pass over the `entry_ids` table (index → id, written
//! in log order; ~0.5 s per million of map inserts).
//!
//! **Collisions.** Ids are chosen by submitters (SHA-256 of bytes they choose), so two logged
//! ids may share their first 8 bytes, by chance (~3·10⁻⁸ at a million entries) or by grinding
//! (~2³² hashes). Such a prefix is marked [`SHARED`] and every index logged under it is kept in
//! a second map; a look-up confirms each of them against the tree, so the map alone answers
//! every look-up and redb keeps no id → index table (`docs/log-format.md` §7). The hasher is
//! std's randomly keyed SipHash, so chosen ids cannot pile into one bucket chain (an identity
//! hash over the id bytes would let them).

use std::collections::HashMap;

use proverka_log::Hash;

/// Value of a prefix that two or more logged ids share: its indexes are in `IdIndex::shared`.
const SHARED: u64 = u64::MAX;

/// What the map knows about an id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lookup<'a> {
    /// No logged id starts with these 8 bytes: the id is not logged.
    Absent,
    /// The only logged id with these 8 bytes is at this index; it is this id iff the tree's
    /// leaf hash there is this id's leaf hash.
    Candidate(u64),
    /// Several logged ids share these 8 bytes, at these indexes; the id is logged iff the
    /// tree's leaf hash at one of them is its leaf hash.
    Shared(&'a [u64]),
}

/// Entry id prefixes → indexes of the committed entries. See the module documentation.
#[derive(Debug, Default)]
pub(crate) struct IdIndex {
    map: HashMap<u64, u64>,
    /// Every index logged under each [`SHARED`] prefix, in log order.
    shared: HashMap<u64, Vec<u64>>,
}

fn prefix(id: &Hash) -> u64 {
    let mut first = [0u8; 8];
    first.copy_from_slice(&id[..8]);
    u64::from_le_bytes(first)
}

impl IdIndex {
    /// An empty map with room for `n` ids, so that loading does not rehash.
    pub(crate) fn with_capacity(n: usize) -> Self {
        Self {
            map: HashMap::with_capacity(n),
            shared: HashMap::new(),
        }
    }

    /// Records a committed entry. Indexes are below `MAX_TREE_SIZE` (2⁶² or so), never
    /// [`SHARED`].
    pub(crate) fn insert(&mut self, id: &Hash, index: u64) {
        let key = prefix(id);
        match self.map.insert(key, index) {
            None => {}
            Some(SHARED) => {
                self.map.insert(key, SHARED);
                self.shared.entry(key).or_default().push(index);
            }
            Some(first) => {
                self.map.insert(key, SHARED);
                self.shared.insert(key, vec![first, index]);
            }
        }
    }

    pub(crate) fn get(&self, id: &Hash) -> Lookup<'_> {
        let key = prefix(id);
        match self.map.get(&key) {
            None => Lookup::Absent,
            Some(&SHARED) => Lookup::Shared(self.shared.get(&key).map_or(&[], Vec::as_slice)),
            Some(&i) => Lookup::Candidate(i),
        }
    }

    /// Makes room for `n` more ids (called before a block's ids are inserted).
    pub(crate) fn reserve(&mut self, n: usize) {
        self.map.reserve(n);
    }

    /// Approximate heap bytes: buckets × (key + value + control byte), where hashbrown's
    /// buckets are a power of two of which 7/8 are usable (`capacity`).
    pub(crate) fn heap_bytes(&self) -> usize {
        let buckets = (self.map.capacity() / 7 * 8).next_power_of_two();
        let shared: usize = self
            .shared
            .values()
            .map(|v| 8 + 24 + 8 * v.capacity())
            .sum();
        buckets * (8 + 8 + 1) + shared
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An id whose first 8 bytes are `prefix` and whose last byte is `tail`.
    fn id(prefix: u8, tail: u8) -> Hash {
        let mut h = [prefix; 32];
        h[31] = tail;
        h
    }

    #[test]
    fn an_unknown_prefix_is_absent_and_a_known_one_is_a_candidate() {
        let mut m = IdIndex::default();
        m.insert(&id(1, 0), 7);
        assert_eq!(m.get(&id(2, 0)), Lookup::Absent);
        assert_eq!(m.get(&id(1, 0)), Lookup::Candidate(7));
        // Same first 8 bytes, different id: still only a candidate; the caller confirms.
        assert_eq!(m.get(&id(1, 9)), Lookup::Candidate(7));
    }

    #[test]
    fn ids_sharing_a_prefix_are_all_kept_with_their_indexes() {
        let mut m = IdIndex::default();
        m.insert(&id(1, 0), 7);
        m.insert(&id(1, 9), 8);
        assert_eq!(m.get(&id(1, 0)), Lookup::Shared(&[7, 8]));
        assert_eq!(m.get(&id(1, 9)), Lookup::Shared(&[7, 8]));
        m.insert(&id(1, 5), 9);
        assert_eq!(m.get(&id(1, 5)), Lookup::Shared(&[7, 8, 9]));
        // Other prefixes are untouched.
        m.insert(&id(2, 0), 10);
        assert_eq!(m.get(&id(2, 0)), Lookup::Candidate(10));
    }
}
