//! The tree's own rules: entry ids and leaf hashes, batch appends equal single appends, and
//! proof requests with impossible sizes are errors, never panics.

use proverka_log::merkle::{MAX_CONSISTENCY_PATH, MAX_INCLUSION_PATH};
use proverka_log::{
    consistency_proof, inclusion_proof, leaf_entry, leaf_hash, stored_hash_count,
    stored_hashes_for_append, tree_root, verify_consistency, verify_inclusion, Hash, MemoryTree,
    ProofError, MAX_TREE_SIZE,
};
use sha2::{Digest, Sha256};

#[test]
fn the_entry_id_is_sha256_of_the_statement_and_the_leaf_hash_prefixes_0x00() {
    let statement = b"\xd2\x84statement bytes";
    let id = leaf_entry(statement);
    assert_eq!(id, <[u8; 32]>::from(Sha256::digest(statement)));
    assert_eq!(
        id,
        proverka_statement::statement_id(statement),
        "one definition project-wide"
    );
    let mut prefixed = vec![0x00];
    prefixed.extend_from_slice(&id);
    assert_eq!(leaf_hash(&id), <[u8; 32]>::from(Sha256::digest(&prefixed)));
}

fn leaf(i: u64) -> Hash {
    leaf_hash(&leaf_entry(&i.to_le_bytes()))
}

#[test]
fn appending_a_batch_gives_the_same_stored_hashes_as_appending_one_by_one() {
    let mut one_by_one = MemoryTree::new();
    let mut batched = MemoryTree::new();
    let mut next = 0u64;
    for batch_len in [0usize, 1, 2, 3, 5, 8, 13, 100, 1, 255, 256, 257] {
        let leaves: Vec<Hash> = (next..next + batch_len as u64).map(leaf).collect();
        for l in &leaves {
            one_by_one.push(l).expect("push");
        }
        let added = stored_hashes_for_append(batched.size(), &leaves, &batched).expect("batch");
        assert_eq!(
            added.first_stored_index,
            stored_hash_count(next).expect("count")
        );
        assert_eq!(added.root, one_by_one.root(), "batch root");
        batched.apply(added).expect("apply");
        next += batch_len as u64;
        assert_eq!(batched.size(), next);
        assert_eq!(batched.stored_len(), one_by_one.stored_len());
        for i in 0..batched.stored_len() as u64 {
            assert_eq!(batched.stored_hash(i), one_by_one.stored_hash(i));
        }
    }
}

#[test]
fn a_batch_computed_for_another_size_cannot_be_applied() {
    let mut tree = MemoryTree::new();
    let stale = stored_hashes_for_append(0, &[leaf(0)], &tree).expect("batch");
    tree.push(&leaf(9)).expect("push");
    assert!(tree.apply(stale).is_err());
    assert_eq!(tree.size(), 1);
}

#[test]
fn stored_hashes_rebuild_the_same_tree() {
    let mut tree = MemoryTree::new();
    for i in 0..77 {
        tree.push(&leaf(i)).expect("push");
    }
    let hashes: Vec<Hash> = (0..tree.stored_len() as u64)
        .map(|i| tree.stored_hash(i).expect("hash"))
        .collect();
    let rebuilt = MemoryTree::from_stored_hashes(77, hashes.clone()).expect("rebuild");
    assert_eq!(rebuilt.root(), tree.root());
    assert!(MemoryTree::from_stored_hashes(78, hashes.clone()).is_err());
    assert!(MemoryTree::from_stored_hashes(76, hashes).is_err());
}

#[test]
fn proof_requests_outside_the_tree_are_errors_never_panics() {
    let mut tree = MemoryTree::new();
    for i in 0..10 {
        tree.push(&leaf(i)).expect("push");
    }
    let extremes = [
        0,
        1,
        9,
        10,
        11,
        1 << 39,
        MAX_TREE_SIZE,
        MAX_TREE_SIZE + 1,
        u64::MAX - 1,
        u64::MAX,
    ];
    for &a in &extremes {
        for &b in &extremes {
            let inclusion = inclusion_proof(a, b, &tree);
            assert_eq!(inclusion.is_ok(), a < b && b <= 10, "inclusion({a}, {b})");
            let consistency = consistency_proof(a, b, &tree);
            assert_eq!(
                consistency.is_ok(),
                1 <= a && a <= b && b <= 10,
                "consistency({a}, {b})"
            );
            assert!(tree.inclusion_proof(a, b).is_ok() == inclusion.is_ok());
            // Verifiers take any numbers and say no.
            let _ = verify_inclusion(&leaf(0), a, b, &[[0u8; 32]; 3], &[0u8; 32]);
            let _ = verify_consistency(a, b, &[0u8; 32], &[0u8; 32], &[[0u8; 32]; 3]);
        }
        assert_eq!(tree_root(a, &tree).is_ok(), a <= 10, "root({a})");
    }
    assert_eq!(
        inclusion_proof(3, 3, &tree),
        Err(ProofError::IndexOutOfRange { index: 3, size: 3 })
    );
    assert_eq!(
        consistency_proof(0, 3, &tree),
        Err(ProofError::BadConsistencySizes { old: 0, new: 3 })
    );
    assert_eq!(
        tree.root_at(11),
        Err(ProofError::BeyondTree {
            size: 11,
            available: 10
        })
    );
}

#[test]
fn overlong_proofs_are_refused_before_any_hashing() {
    let path = vec![[0u8; 32]; MAX_INCLUSION_PATH + 1];
    assert!(matches!(
        verify_inclusion(&[0u8; 32], 0, u64::MAX, &path, &[0u8; 32]),
        Err(ProofError::ProofTooLong { .. })
    ));
    let path = vec![[0u8; 32]; MAX_CONSISTENCY_PATH + 1];
    assert!(matches!(
        verify_consistency(1, u64::MAX, &[0u8; 32], &[0u8; 32], &path),
        Err(ProofError::ProofTooLong { .. })
    ));
}

#[test]
fn old_roots_and_proofs_stay_valid_as_the_tree_grows() {
    let mut tree = MemoryTree::new();
    let mut roots = Vec::new();
    for i in 0..600 {
        tree.push(&leaf(i)).expect("push");
        roots.push(tree.root());
    }
    for (k, root) in roots.iter().enumerate() {
        let size = k as u64 + 1;
        assert_eq!(tree.root_at(size).as_ref(), Ok(root));
        let path = tree.consistency_proof(size, 600).expect("consistency");
        verify_consistency(size, 600, root, &tree.root(), &path).expect("consistent");
        let index = size / 2;
        let path = tree.inclusion_proof(index, size).expect("inclusion");
        verify_inclusion(&leaf(index), index, size, &path, root).expect("included");
    }
}
