//! RFC 9162 Merkle tree: leaf hashing, stored hashes, proofs and their verification.
//!
//! Hash storage follows the `tlog_tiles` (Go `sumdb/tlog`) stored-hash layout: appending leaf
//! `n` appends the leaf hash followed by the hashes of every subtree that leaf completes, so
//! the hashes of a tree of `n` leaves are exactly the first `stored_hash_count(n)` stored hashes
//! and never change afterwards.

use sha2::{Digest, Sha256};
use tlog_tiles::HashReader;

/// A SHA-256 digest: an entry id, a leaf hash, an interior node hash or a root.
pub type Hash = [u8; 32];

/// Largest tree size any function of this crate accepts (2^40 ≈ 1.1 × 10^12 leaves).
///
/// Far above what one ledger will hold, and low enough that every index computed from it
/// (stored-hash indexes are below 2^42, tile coordinates below level 6) fits a `u64` without
/// overflow, so no arithmetic inside `tlog_tiles` can wrap or panic.
pub const MAX_TREE_SIZE: u64 = 1 << 40;

/// Longest inclusion path a verifier accepts: RFC 9162 paths have at most ⌈log2(size)⌉ hashes,
/// which is at most 64 for any `u64` tree size.
pub const MAX_INCLUSION_PATH: usize = 64;

/// Longest consistency path a verifier accepts: at most ⌈log2(new)⌉ + 1 hashes for RFC 9162
/// proofs; 128 bounds the work for any `u64` size with margin.
pub const MAX_CONSISTENCY_PATH: usize = 128;

/// Errors of proof generation and verification.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProofError {
    /// The leaf index is not inside the tree.
    #[error("leaf index {index} is not below tree size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    /// A tree size above [`MAX_TREE_SIZE`].
    #[error("tree size {size} exceeds the maximum {max}")]
    SizeTooLarge { size: u64, max: u64 },
    /// Consistency proofs need `0 < old <= new`.
    #[error("consistency needs 0 < old <= new, got old {old}, new {new}")]
    BadConsistencySizes { old: u64, new: u64 },
    /// The hash storage does not hold the tree size asked for.
    #[error("tree size {size} is beyond the {available} leaves stored")]
    BeyondTree { size: u64, available: u64 },
    /// The hash reader does not hold a tree of this size.
    #[error("the hash storage holds no tree of size {size}")]
    SizeNotStored { size: u64 },
    /// A proof longer than the verifier's bound.
    #[error("proof has {len} hashes, at most {max} are accepted")]
    ProofTooLong { len: usize, max: usize },
    /// The proof does not lead to the expected root (or has the wrong shape).
    #[error("proof does not verify")]
    Invalid,
    /// The hash reader failed (missing hashes or a storage error).
    #[error("hash storage: {0}")]
    Storage(String),
}

impl From<tlog_tiles::Error> for ProofError {
    fn from(e: tlog_tiles::Error) -> Self {
        match e {
            tlog_tiles::Error::InvalidProof => ProofError::Invalid,
            other => ProofError::Storage(other.to_string()),
        }
    }
}

/// Returns the log entry (the entry id) of a statement: SHA-256 of its exact bytes.
///
/// Equal to `proverka_statement::statement_id`, and to the leaf convention of the scitt-cose
/// vectors. The RFC 9162 leaf hash is then [`leaf_hash`] of this entry.
pub fn leaf_entry(statement: &[u8]) -> Hash {
    Sha256::digest(statement).into()
}

/// Returns the RFC 9162 leaf hash of an entry id: SHA-256(0x00 || entry).
pub fn leaf_hash(entry: &Hash) -> Hash {
    leaf_hash_bytes(entry)
}

/// Returns the RFC 9162 leaf hash of arbitrary leaf data: SHA-256(0x00 || data).
pub fn leaf_hash_bytes(data: &[u8]) -> Hash {
    tlog_tiles::record_hash(data).0
}

/// Returns the RFC 9162 interior node hash: SHA-256(0x01 || left || right).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    tlog_tiles::node_hash(tlog_tiles::Hash(*left), tlog_tiles::Hash(*right)).0
}

/// Returns how many stored hashes a tree of `size` leaves has (the `tlog_tiles` layout).
pub fn stored_hash_count(size: u64) -> Result<u64, ProofError> {
    check_size(size)?;
    Ok(tlog_tiles::stored_hash_count(size))
}

/// Returns the stored-hash index of the node at `level` (0 = leaves), position `n`.
pub fn stored_hash_index(level: u8, n: u64) -> u64 {
    tlog_tiles::stored_hash_index(level, n)
}

fn check_size(size: u64) -> Result<(), ProofError> {
    if size > MAX_TREE_SIZE {
        return Err(ProofError::SizeTooLarge {
            size,
            max: MAX_TREE_SIZE,
        });
    }
    Ok(())
}

fn check_index(index: u64, size: u64) -> Result<(), ProofError> {
    check_size(size)?;
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    Ok(())
}

/// Fails unless `r` holds the last leaf of a tree of `size` leaves.
///
/// A proof may not need that leaf's hash (the verifier brings it), so without this probe a
/// reader holding fewer leaves would yield a well-formed proof for a tree that does not exist.
/// Stored hashes are appended in order, so holding the last leaf means holding the whole tree.
fn check_stored<R: HashReader>(size: u64, r: &R) -> Result<(), ProofError> {
    let Some(last) = size.checked_sub(1) else {
        return Ok(());
    };
    match r.read_hashes(&[tlog_tiles::stored_hash_index(0, last)]) {
        Ok(h) if h.len() == 1 => Ok(()),
        _ => Err(ProofError::SizeNotStored { size }),
    }
}

/// Returns the RFC 9162 Merkle tree hash of the first `size` leaves.
///
/// `r` must hold the stored hashes of a tree of at least `size` leaves; the empty tree's hash
/// is SHA-256 of the empty string.
pub fn tree_root<R: HashReader>(size: u64, r: &R) -> Result<Hash, ProofError> {
    check_size(size)?;
    check_stored(size, r)?;
    Ok(tlog_tiles::tree_hash(size, r)?.0)
}

/// Returns the RFC 9162 inclusion path (audit path, leaf side first) of leaf `index` in the
/// tree of `size` leaves.
pub fn inclusion_proof<R: HashReader>(
    index: u64,
    size: u64,
    r: &R,
) -> Result<Vec<Hash>, ProofError> {
    check_index(index, size)?;
    check_stored(size, r)?;
    let proof = tlog_tiles::prove_record(size, index, r)?;
    Ok(proof.into_iter().map(|h| h.0).collect())
}

/// Returns the RFC 9162 consistency path from the tree of `old` leaves to that of `new`
/// leaves (empty when `old == new`). `old` must be at least 1: consistency with the empty
/// tree is trivially true and has no proof.
pub fn consistency_proof<R: HashReader>(
    old: u64,
    new: u64,
    r: &R,
) -> Result<Vec<Hash>, ProofError> {
    check_size(new)?;
    if old == 0 || old > new {
        return Err(ProofError::BadConsistencySizes { old, new });
    }
    check_stored(new, r)?;
    let proof = tlog_tiles::prove_tree(new, old, r)?;
    Ok(proof.into_iter().map(|h| h.0).collect())
}

/// Returns the root implied by an inclusion path (RFC 9162 §2.1.3.2).
///
/// Receipts carry a detached root: the verifier recomputes it here, then checks the log's
/// signature over it. Fails if `index >= size` or the path has the wrong length for the
/// position.
pub fn root_from_inclusion_path(
    leaf_hash: &Hash,
    index: u64,
    size: u64,
    path: &[Hash],
) -> Result<Hash, ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    if path.len() > MAX_INCLUSION_PATH {
        return Err(ProofError::ProofTooLong {
            len: path.len(),
            max: MAX_INCLUSION_PATH,
        });
    }
    let (mut f_n, mut s_n) = (index, size - 1);
    let mut r = *leaf_hash;
    for p in path {
        if s_n == 0 {
            return Err(ProofError::Invalid);
        }
        if f_n & 1 == 1 || f_n == s_n {
            r = node_hash(p, &r);
            // Climb past the levels where this node is a left child without a sibling.
            while f_n & 1 == 0 && f_n != 0 {
                f_n >>= 1;
                s_n >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if s_n != 0 {
        return Err(ProofError::Invalid);
    }
    Ok(r)
}

/// Checks an RFC 9162 inclusion path of `leaf_hash` at `index` in the tree of `size` leaves
/// whose root is `root`.
pub fn verify_inclusion(
    leaf_hash: &Hash,
    index: u64,
    size: u64,
    path: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    if root_from_inclusion_path(leaf_hash, index, size, path)? == *root {
        Ok(())
    } else {
        Err(ProofError::Invalid)
    }
}

/// Checks an RFC 9162 consistency path between the tree of `old` leaves with root `old_root`
/// and the tree of `new` leaves with root `new_root`. `old == new` needs an empty path and
/// equal roots; `old == 0` is rejected (nothing to prove).
pub fn verify_consistency(
    old: u64,
    new: u64,
    old_root: &Hash,
    new_root: &Hash,
    path: &[Hash],
) -> Result<(), ProofError> {
    if old == 0 || old > new {
        return Err(ProofError::BadConsistencySizes { old, new });
    }
    if path.len() > MAX_CONSISTENCY_PATH {
        return Err(ProofError::ProofTooLong {
            len: path.len(),
            max: MAX_CONSISTENCY_PATH,
        });
    }
    let proof: Vec<tlog_tiles::Hash> = path.iter().map(|h| tlog_tiles::Hash(*h)).collect();
    // check_tree validates 1 <= old <= new itself and cannot panic for those inputs.
    tlog_tiles::check_tree(
        &proof,
        new,
        tlog_tiles::Hash(*new_root),
        old,
        tlog_tiles::Hash(*old_root),
    )
    .map_err(|_| ProofError::Invalid)
}

/// The stored hashes a batch of new leaves adds to a tree, computed without changing it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendedHashes {
    /// Tree size before the batch.
    pub old_size: u64,
    /// Tree size after the batch.
    pub new_size: u64,
    /// Stored-hash index of `hashes[0]` (= `stored_hash_count(old_size)`).
    pub first_stored_index: u64,
    /// The new stored hashes, in stored-hash order.
    pub hashes: Vec<Hash>,
    /// Root of the tree of `new_size` leaves.
    pub root: Hash,
}

/// Computes the stored hashes that appending `leaf_hashes` to the tree of `size` leaves held by
/// `r` adds, and the new root (wraps `tlog_tiles::stored_hashes_for_record_hash`).
///
/// Nothing is written: the caller persists `hashes` at `first_stored_index..` and only then
/// publishes them, so a failed write leaves the tree unchanged.
pub fn stored_hashes_for_append<R: HashReader>(
    size: u64,
    leaf_hashes: &[Hash],
    r: &R,
) -> Result<AppendedHashes, ProofError> {
    let added = u64::try_from(leaf_hashes.len()).map_err(|_| ProofError::SizeTooLarge {
        size: u64::MAX,
        max: MAX_TREE_SIZE,
    })?;
    // Saturating: an overflowing size is rejected by check_size like any size above the max.
    let new_size = size.saturating_add(added);
    check_size(new_size)?;
    let first_stored_index = tlog_tiles::stored_hash_count(size);
    let mut overlay = Overlay {
        base: r,
        base_count: first_stored_index,
        pending: Vec::with_capacity(leaf_hashes.len() * 2),
    };
    for (n, leaf) in (size..).zip(leaf_hashes) {
        let new = tlog_tiles::stored_hashes_for_record_hash(n, tlog_tiles::Hash(*leaf), &overlay)?;
        overlay.pending.extend(new);
    }
    let root = tlog_tiles::tree_hash(new_size, &overlay)?.0;
    Ok(AppendedHashes {
        old_size: size,
        new_size,
        first_stored_index,
        hashes: overlay.pending.into_iter().map(|h| h.0).collect(),
        root,
    })
}

/// A hash reader over a base tree plus hashes computed but not yet stored.
struct Overlay<'a, R> {
    base: &'a R,
    base_count: u64,
    pending: Vec<tlog_tiles::Hash>,
}

impl<R: HashReader> HashReader for Overlay<'_, R> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<tlog_tiles::Hash>, tlog_tiles::Error> {
        let base_indexes: Vec<u64> = indexes
            .iter()
            .copied()
            .filter(|&i| i < self.base_count)
            .collect();
        let base_hashes = if base_indexes.is_empty() {
            Vec::new()
        } else {
            self.base.read_hashes(&base_indexes)?
        };
        if base_hashes.len() != base_indexes.len() {
            return Err(tlog_tiles::Error::IndexesNotInTree);
        }
        let mut from_base = base_hashes.into_iter();
        indexes
            .iter()
            .map(|&i| {
                if i < self.base_count {
                    from_base.next().ok_or(tlog_tiles::Error::IndexesNotInTree)
                } else {
                    usize::try_from(i - self.base_count)
                        .ok()
                        .and_then(|k| self.pending.get(k).copied())
                        .ok_or(tlog_tiles::Error::IndexesNotInTree)
                }
            })
            .collect()
    }
}

/// A whole log tree held in memory as its stored hashes (`tlog_tiles` layout).
///
/// Serves roots, proofs and tiles for every size up to [`MemoryTree::size`] without I/O; it
/// costs 32 bytes × about 2 hashes per leaf (64 MB per million leaves).
#[derive(Clone, Default, Debug)]
pub struct MemoryTree {
    hashes: Vec<tlog_tiles::Hash>,
    size: u64,
}

impl MemoryTree {
    /// Returns the empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Rebuilds a tree of `size` leaves from its stored hashes; fails unless exactly
    /// `stored_hash_count(size)` hashes are given.
    pub fn from_stored_hashes(size: u64, hashes: Vec<Hash>) -> Result<Self, ProofError> {
        let want = stored_hash_count(size)?;
        if u64::try_from(hashes.len()).ok() != Some(want) {
            return Err(ProofError::Storage(format!(
                "{} stored hashes for size {size}, expected {want}",
                hashes.len()
            )));
        }
        Ok(Self {
            hashes: hashes.into_iter().map(tlog_tiles::Hash).collect(),
            size,
        })
    }

    /// Returns the number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Returns the number of stored hashes.
    pub fn stored_len(&self) -> usize {
        self.hashes.len()
    }

    /// Returns the stored hash at stored-hash index `i`, if present.
    pub fn stored_hash(&self, i: u64) -> Option<Hash> {
        let i = usize::try_from(i).ok()?;
        self.hashes.get(i).map(|h| h.0)
    }

    /// Appends one leaf hash; returns its index.
    pub fn push(&mut self, leaf_hash: &Hash) -> Result<u64, ProofError> {
        let added = stored_hashes_for_append(self.size, std::slice::from_ref(leaf_hash), self)?;
        let index = self.size;
        self.apply(added)?;
        Ok(index)
    }

    /// Applies hashes computed by [`stored_hashes_for_append`] against this very tree.
    pub fn apply(&mut self, added: AppendedHashes) -> Result<(), ProofError> {
        if added.old_size != self.size
            || u64::try_from(self.hashes.len()).ok() != Some(added.first_stored_index)
        {
            return Err(ProofError::Storage(format!(
                "append computed for size {} applied to size {}",
                added.old_size, self.size
            )));
        }
        self.hashes
            .extend(added.hashes.into_iter().map(tlog_tiles::Hash));
        self.size = added.new_size;
        Ok(())
    }

    fn check_within(&self, size: u64) -> Result<(), ProofError> {
        if size > self.size {
            return Err(ProofError::BeyondTree {
                size,
                available: self.size,
            });
        }
        Ok(())
    }

    /// Returns the root of the whole tree.
    pub fn root(&self) -> Hash {
        // size <= MAX_TREE_SIZE and all its hashes are present, so this cannot fail.
        tree_root(self.size, self).unwrap_or_default()
    }

    /// Returns the root of the first `size` leaves.
    pub fn root_at(&self, size: u64) -> Result<Hash, ProofError> {
        self.check_within(size)?;
        tree_root(size, self)
    }

    /// Returns the inclusion path of leaf `index` in the tree of `size` leaves.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, ProofError> {
        self.check_within(size)?;
        inclusion_proof(index, size, self)
    }

    /// Returns the consistency path from size `old` to size `new`.
    pub fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Hash>, ProofError> {
        self.check_within(new)?;
        consistency_proof(old, new, self)
    }
}

impl HashReader for MemoryTree {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<tlog_tiles::Hash>, tlog_tiles::Error> {
        indexes
            .iter()
            .map(|&i| {
                usize::try_from(i)
                    .ok()
                    .and_then(|i| self.hashes.get(i).copied())
                    .ok_or(tlog_tiles::Error::IndexesNotInTree)
            })
            .collect()
    }
}
