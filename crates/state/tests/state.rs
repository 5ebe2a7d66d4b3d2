//! Specification of `proverka-state`, run on commonware's deterministic runtime.

use commonware_runtime::{deterministic, Runner as _, Supervisor as _};
use proverka_state::{
    verify, DecodeLimits, Sequential, StateConfig, StateDb, StateError, StateProof,
    StateProofError, StateRoot, MAX_STATE_PROOF_BYTES, MAX_VALUE_BYTES,
};

/// The deterministic runtime needs sequential merkleization (it cannot see Rayon's threads).
type Db = StateDb<deterministic::Context, Sequential>;
type Writes = Vec<(Vec<u8>, Option<Vec<u8>>)>;

fn device(i: u32) -> Vec<u8> {
    let mut k = b"device/".to_vec();
    let mut id = [0u8; 32];
    id[..4].copy_from_slice(&i.to_be_bytes());
    id[31] = 0xd0;
    k.extend_from_slice(&id);
    k
}

fn record(i: u32, version: u8) -> Vec<u8> {
    // A small CBOR map {"v": version, "id": i}.
    let mut r = vec![0xa2, 0x61, b'v', version, 0x62, b'i', b'd', 0x1a];
    r.extend_from_slice(&i.to_be_bytes());
    r
}

fn put(i: u32, version: u8) -> (Vec<u8>, Option<Vec<u8>>) {
    (device(i), Some(record(i, version)))
}

fn del(i: u32) -> (Vec<u8>, Option<Vec<u8>>) {
    (device(i), None)
}

/// Three blocks: inserts, updates + deletes, more inserts.
fn fixed_blocks() -> Vec<Writes> {
    vec![
        (0..20).map(|i| put(i, 1)).collect(),
        vec![put(3, 2), put(7, 2), del(5), del(11), put(100, 1)],
        (20..30).map(|i| put(i, 1)).chain([put(3, 3)]).collect(),
    ]
}

async fn open(context: &deterministic::Context, label: &'static str, prefix: &str) -> Db {
    Db::open(context.child(label), prefix).await.unwrap()
}

async fn apply_all(db: &mut Db, blocks: &[Writes]) -> StateRoot {
    let mut root = db.root();
    for (i, writes) in blocks.iter().enumerate() {
        root = db.apply(i as u64 + 1, writes).await.unwrap();
    }
    root
}

fn run<F, Fut>(f: F)
where
    F: FnOnce(deterministic::Context) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    deterministic::Runner::default().start(f);
}

/// Proof round trip through the wire encoding, as a remote verifier would see it.
fn wire(proof: &StateProof) -> StateProof {
    let bytes = proof.encode();
    assert_eq!(bytes.len(), proof.encoded_len());
    assert!(bytes.len() <= MAX_STATE_PROOF_BYTES);
    StateProof::decode(&bytes, DecodeLimits::default()).unwrap()
}

#[test]
fn same_writes_same_order_give_the_same_root_on_independent_dbs() {
    run(|context| async move {
        let mut a = open(&context, "a", "alpha").await;
        let mut b = open(&context, "b", "beta").await;
        assert_eq!(a.root(), b.root(), "empty roots agree");
        for (i, writes) in fixed_blocks().iter().enumerate() {
            let ra = a.apply(i as u64 + 1, writes).await.unwrap();
            let rb = b.apply(i as u64 + 1, writes).await.unwrap();
            assert_eq!(ra, rb, "block {}", i + 1);
        }
        assert_eq!(a.height(), 3);
        assert_ne!(a.root(), open(&context, "c", "gamma").await.root());
    });
}

#[test]
fn golden_root_after_fixed_writes() {
    // Frozen with commonware-storage =2026.10.0. If this changes after a commonware upgrade, the
    // upgrade changes state roots: every validator must upgrade at the same height, and proofs
    // issued before do not verify with the new code (see docs/state.md).
    const EMPTY: &str = "505b3447d8343ec2a5f551e8af7499dd39b86f4d9e4c768f15cd57bc6089f993";
    const AFTER_THREE_BLOCKS: &str =
        "7b1d9c5f07476fcc474bae4fc720c73b75204eadda23b8967877d251cb2b5aa6";
    run(|context| async move {
        let mut db = open(&context, "db", "golden").await;
        assert_eq!(db.root().to_hex(), EMPTY);
        let root = apply_all(&mut db, &fixed_blocks()).await;
        assert_eq!(root.to_hex(), AFTER_THREE_BLOCKS);
    });
}

#[test]
fn membership_proof_verifies_for_the_current_value_only() {
    run(|context| async move {
        let mut db = open(&context, "db", "member").await;
        db.apply(1, &[put(1, 1), put(2, 1)]).await.unwrap();
        let stale_root = db.root();
        let stale_proof = db.prove(&device(1)).await.unwrap();
        db.apply(2, &[put(1, 2)]).await.unwrap();
        let root = db.root();

        let (value, proof) = db.get_with_proof(&device(1)).await.unwrap();
        assert_eq!(value, Some(record(1, 2)));
        assert!(proof.is_membership());
        let proof = wire(&proof);

        // Current value: verifies.
        verify(&root, &device(1), Some(&record(1, 2)), &proof).unwrap();
        // Stale value: fails with the new proof, and the old proof fails against the new root.
        let invalid = Err(StateProofError::Invalid);
        assert_eq!(
            verify(&root, &device(1), Some(&record(1, 1)), &proof),
            invalid
        );
        assert_eq!(
            verify(&root, &device(1), Some(&record(1, 1)), &stale_proof),
            invalid
        );
        // (The old proof still verifies against the old root: roots are per height.)
        verify(&stale_root, &device(1), Some(&record(1, 1)), &stale_proof).unwrap();
        // Wrong value, wrong key, wrong root.
        assert_eq!(verify(&root, &device(1), Some(b"forged"), &proof), invalid);
        assert_eq!(
            verify(&root, &device(2), Some(&record(1, 2)), &proof),
            invalid
        );
        assert_eq!(
            verify(&root, &device(2), Some(&record(2, 1)), &proof),
            invalid
        );
        assert_eq!(
            verify(&stale_root, &device(1), Some(&record(1, 2)), &proof),
            invalid
        );
        let mut other = root;
        other.0[0] ^= 1;
        assert_eq!(
            verify(&other, &device(1), Some(&record(1, 2)), &proof),
            invalid
        );
        // Claiming absence with a membership proof is a kind mismatch.
        assert_eq!(
            verify(&root, &device(1), None, &proof),
            Err(StateProofError::KindMismatch {
                expected: "exclusion"
            })
        );
    });
}

#[test]
fn exclusion_proof_verifies_for_absent_keys_and_fails_for_present_ones() {
    run(|context| async move {
        let mut db = open(&context, "db", "exclusion").await;

        // Empty database: exclusion of anything.
        let proof = wire(&db.prove(&device(9)).await.unwrap());
        assert!(!proof.is_membership());
        verify(&db.root(), &device(9), None, &proof).unwrap();

        db.apply(1, &(0..50).map(|i| put(i * 2, 1)).collect::<Vec<_>>())
            .await
            .unwrap();
        let root = db.root();
        for absent in [1u32, 37, 99, 1_000_000] {
            assert_eq!(db.get(&device(absent)).await.unwrap(), None);
            let proof = wire(&db.prove(&device(absent)).await.unwrap());
            assert!(!proof.is_membership());
            verify(&root, &device(absent), None, &proof).unwrap();
            // The same proof does not show absence of a present key...
            for present in [0u32, 2, 36, 98] {
                assert_eq!(
                    verify(&root, &device(present), None, &proof),
                    Err(StateProofError::Invalid)
                );
            }
            // ...nor verifies against another root, nor serves as a membership proof.
            let mut other = root;
            other.0[31] ^= 0x80;
            assert_eq!(
                verify(&other, &device(absent), None, &proof),
                Err(StateProofError::Invalid)
            );
            assert!(matches!(
                verify(&root, &device(absent), Some(b"x"), &proof),
                Err(StateProofError::KindMismatch { .. })
            ));
        }
        // A present key yields a membership proof, never an exclusion proof.
        assert!(db.prove(&device(36)).await.unwrap().is_membership());
    });
}

#[test]
fn after_delete_exclusion_verifies() {
    run(|context| async move {
        let mut db = open(&context, "db", "delete").await;
        db.apply(1, &[put(1, 1), put(2, 1), put(3, 1)])
            .await
            .unwrap();
        let member = db.prove(&device(2)).await.unwrap();
        db.apply(2, &[del(2)]).await.unwrap();
        let root = db.root();
        assert_eq!(db.get(&device(2)).await.unwrap(), None);
        let proof = wire(&db.prove(&device(2)).await.unwrap());
        assert!(!proof.is_membership());
        verify(&root, &device(2), None, &proof).unwrap();
        assert_eq!(
            verify(&root, &device(2), Some(&record(2, 1)), &member),
            Err(StateProofError::Invalid)
        );

        // Delete everything: exclusion against an empty (but non-fresh) state.
        db.apply(3, &[del(1), del(3)]).await.unwrap();
        let proof = wire(&db.prove(&device(1)).await.unwrap());
        verify(&db.root(), &device(1), None, &proof).unwrap();
        // Deleting an absent key is allowed and changes nothing but the height.
        db.apply(4, &[del(77)]).await.unwrap();
        let proof = wire(&db.prove(&device(77)).await.unwrap());
        verify(&db.root(), &device(77), None, &proof).unwrap();
    });
}

#[test]
fn restart_keeps_root_height_values_and_proofs() {
    run(|context| async move {
        let mut db = open(&context, "first", "restart").await;
        let root = apply_all(&mut db, &fixed_blocks()).await;
        drop(db); // no close(): a dropped handle after apply returned is enough

        let mut db = open(&context, "second", "restart").await;
        assert_eq!(db.root(), root);
        assert_eq!(db.height(), 3);
        assert_eq!(db.get(&device(3)).await.unwrap(), Some(record(3, 3)));
        assert_eq!(db.get(&device(5)).await.unwrap(), None);
        let proof = db.prove(&device(3)).await.unwrap();
        verify(&root, &device(3), Some(&record(3, 3)), &proof).unwrap();

        // Continues identically to a database that never restarted.
        let next = vec![put(200, 1), del(3)];
        let r4 = db.apply(4, &next).await.unwrap();
        db.close().await.unwrap();
        let mut control = open(&context, "control", "control").await;
        apply_all(&mut control, &fixed_blocks()).await;
        assert_eq!(control.apply(4, &next).await.unwrap(), r4);

        let db = open(&context, "third", "restart").await;
        assert_eq!((db.root(), db.height()), (r4, 4));
    });
}

#[test]
fn reapplying_the_last_height_is_a_no_op() {
    run(|context| async move {
        let mut db = open(&context, "db", "reapply").await;
        let blocks = fixed_blocks();
        let r1 = db.apply(1, &blocks[0]).await.unwrap();
        assert_eq!(db.apply(1, &blocks[0]).await.unwrap(), r1);
        assert_eq!((db.root(), db.height()), (r1, 1));
        // After a restart too (the crash-between-stores case the ledger relies on).
        drop(db);
        let mut db = open(&context, "db2", "reapply").await;
        assert_eq!(db.apply(1, &blocks[0]).await.unwrap(), r1);
        // Different writes at the same height are refused, and change nothing.
        assert!(matches!(
            db.apply(1, &blocks[1]).await,
            Err(StateError::ConflictingReapply { height: 1 })
        ));
        // Heights must be consecutive.
        assert!(matches!(
            db.apply(3, &blocks[2]).await,
            Err(StateError::HeightOutOfOrder { last: 1, got: 3 })
        ));
        assert!(matches!(
            db.apply(0, &[]).await,
            Err(StateError::HeightOutOfOrder { last: 1, got: 0 })
        ));
        assert_eq!((db.root(), db.height()), (r1, 1));
        db.apply(2, &blocks[1]).await.unwrap();
    });
}

#[test]
fn oversized_inputs_are_refused_without_changes() {
    run(|context| async move {
        let mut db = open(&context, "db", "limits").await;
        let root = db.root();
        let big = vec![0u8; MAX_VALUE_BYTES + 1];
        assert!(matches!(
            db.apply(1, &[(device(1), Some(big))]).await,
            Err(StateError::ValueTooLarge { .. })
        ));
        assert!(matches!(
            db.apply(1, &[(vec![7u8; 257], None)]).await,
            Err(StateError::KeyTooLarge { .. })
        ));
        assert_eq!((db.root(), db.height()), (root, 0));
        // The largest value is fine, and its proof size does not depend on it.
        db.apply(
            1,
            &[(device(1), Some(vec![1u8; MAX_VALUE_BYTES])), put(2, 1)],
        )
        .await
        .unwrap();
        let proof = db.prove(&device(1)).await.unwrap();
        verify(
            &db.root(),
            &device(1),
            Some(&[1u8; MAX_VALUE_BYTES]),
            &proof,
        )
        .unwrap();
        assert!(proof.encoded_len() < 1024, "{}", proof.encoded_len());
    });
}

#[test]
fn truncated_or_garbage_proof_bytes_are_clean_errors() {
    run(|context| async move {
        let mut db = open(&context, "db", "decode").await;
        apply_all(&mut db, &fixed_blocks()).await;
        let root = db.root();
        let limits = DecodeLimits::default();
        for (key, value) in [(device(3), Some(record(3, 3))), (device(5), None)] {
            let proof = db.prove(&key).await.unwrap();
            let bytes = proof.encode();
            // Every strict prefix fails to decode.
            for len in 0..bytes.len() {
                assert!(
                    matches!(
                        StateProof::decode(&bytes[..len], limits),
                        Err(StateProofError::Malformed(_))
                    ),
                    "prefix {len}"
                );
            }
            // Trailing bytes are refused.
            let mut long = bytes.clone();
            long.push(0);
            assert!(StateProof::decode(&long, limits).is_err());
            // Single-byte corruptions either fail to decode or fail to verify; never panic.
            for i in 0..bytes.len() {
                let mut bad = bytes.clone();
                bad[i] ^= 0x41;
                if let Ok(p) = StateProof::decode(&bad, limits) {
                    assert!(
                        verify(&root, &key, value.as_deref(), &p).is_err(),
                        "corrupted byte {i} still verifies"
                    );
                }
            }
        }
        // Pseudo-random garbage and the size limit.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for len in [1usize, 2, 33, 100, 700, 2000] {
            let garbage: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect();
            if let Ok(p) = StateProof::decode(&garbage, limits) {
                assert!(verify(&root, &device(1), None, &p).is_err());
            }
        }
        assert!(matches!(
            StateProof::decode(&vec![0u8; MAX_STATE_PROOF_BYTES + 1], limits),
            Err(StateProofError::TooLarge { .. })
        ));
        assert!(matches!(
            StateProof::decode(&[9, 0, 0], limits),
            Err(StateProofError::Malformed(_))
        ));
    });
}

#[test]
fn sync_and_prune_keep_proofs_working() {
    run(|context| async move {
        let mut cfg = StateConfig::new("prune");
        cfg.sync_interval = 2;
        cfg.items_per_blob = std::num::NonZeroU64::new(16).unwrap();
        let mut db = Db::open_with(context.child("db"), cfg.clone())
            .await
            .unwrap();
        for h in 1..=20u64 {
            let v = h as u8;
            let writes: Writes = (0..30).map(|i| put(i, v)).collect();
            db.apply(h, &writes).await.unwrap();
        }
        let root = db.root();
        for i in [0u32, 15, 29] {
            let (value, proof) = db.get_with_proof(&device(i)).await.unwrap();
            assert_eq!(value, Some(record(i, 20)));
            verify(&root, &device(i), value.as_deref(), &proof).unwrap();
        }
        drop(db);
        let db = Db::open_with(context.child("db2"), cfg).await.unwrap();
        assert_eq!((db.root(), db.height()), (root, 20));
        let proof = db.prove(&device(31)).await.unwrap();
        verify(&root, &device(31), None, &proof).unwrap();
    });
}
