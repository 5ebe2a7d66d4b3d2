//! The store keeps every committed block across reopen, applies each height once, never logs a
//! statement twice, refuses gaps, serves proofs that the log's verifiers accept, and a failing
//! append changes nothing.

use proverka_log::{
    leaf_entry, leaf_hash, sign_checkpoint, tile_path_parse, verify_checkpoint, verify_consistency,
    verify_inclusion, Hash, NoteKey, TileRef,
};
use proverka_store::{
    AppendOutcome, BlockAppend, FloorFacts, FloorImport, StateEntry, StateWrite, Store, StoreError,
    MAX_CHECKPOINT_BYTES, MAX_STATE_KEY_BYTES,
};
use std::path::Path;

fn digest(height: u64) -> [u8; 32] {
    leaf_entry(format!("block {height}").as_bytes())
}

fn statements(height: u64, n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| format!("statement {i} of block {height}").into_bytes())
        .collect()
}

fn append(
    store: &Store,
    height: u64,
    stmts: &[Vec<u8>],
    writes: &[StateWrite],
) -> Result<AppendOutcome, StoreError> {
    let refs: Vec<&[u8]> = stmts.iter().map(Vec::as_slice).collect();
    store.append_block(BlockAppend {
        height,
        digest: digest(height),
        statements: &refs,
        state_writes: writes,
        state_root: [0; 32],
        checkpoint: None,
    })
}

/// Everything observable, to show that a failed append changed nothing.
#[derive(Debug, PartialEq)]
struct Snapshot {
    applied_height: u64,
    tree_size: u64,
    root: Hash,
    checkpoint: Option<Vec<u8>>,
    state: Vec<StateEntry>,
}

fn snapshot(store: &Store) -> Snapshot {
    Snapshot {
        applied_height: store.applied_height(),
        tree_size: store.tree_size(),
        root: store.root(),
        checkpoint: store.latest_checkpoint(),
        state: store.state_scan_prefix(b"", 1000).expect("scan"),
    }
}

#[test]
fn an_empty_store_has_no_blocks_and_the_empty_root() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).expect("open");
    assert_eq!((store.applied_height(), store.tree_size()), (0, 0));
    assert_eq!(
        hex::encode(store.root()),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert!(dir.path().join(proverka_store::FILE_NAME).exists());
    assert_eq!(store.latest_checkpoint(), None);
}

#[test]
fn appended_blocks_survive_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = NoteKey::from_seed("proverka.example/log", &[3u8; 32]).expect("key");
    let sign = |size: u64, root: &Hash| {
        sign_checkpoint(&key, "proverka.example/log", size, root).expect("checkpoint")
    };
    let mut roots = Vec::new();
    {
        let store = Store::open(dir.path()).expect("open");
        for h in 1..=5u64 {
            let stmts = statements(h, h as usize * 3);
            let refs: Vec<&[u8]> = stmts.iter().map(Vec::as_slice).collect();
            let writes = vec![(b"height".to_vec(), Some(h.to_be_bytes().to_vec()))];
            let out = store
                .append_block(BlockAppend {
                    height: h,
                    digest: digest(h),
                    statements: &refs,
                    state_writes: &writes,
                    state_root: [0; 32],
                    checkpoint: Some(&sign),
                })
                .expect("append");
            assert_eq!(out.appended.len(), stmts.len());
            roots.push((out.new_size, out.root));
        }
    }
    let store = Store::open(dir.path()).expect("reopen");
    assert_eq!(store.applied_height(), 5);
    assert_eq!(store.tree_size(), 3 + 6 + 9 + 12 + 15);
    assert_eq!(store.root(), roots[4].1);
    for (size, root) in &roots {
        assert_eq!(store.root_at(*size).expect("root"), *root);
    }
    for h in 1..=5u64 {
        for s in statements(h, h as usize * 3) {
            let index = store
                .index_of(&leaf_entry(&s))
                .expect("read")
                .expect("present");
            assert_eq!(store.statement(index).expect("read"), Some(s));
        }
        assert_eq!(
            store.block(h).expect("read").expect("block").digest,
            digest(h)
        );
    }
    assert_eq!(
        store.state_get(b"height").expect("read"),
        Some(5u64.to_be_bytes().to_vec())
    );
    let note = store.latest_checkpoint().expect("checkpoint");
    let v = verify_checkpoint(&note, "proverka.example/log", &key.verifier_key()).expect("valid");
    assert_eq!((v.size, v.root), (store.tree_size(), store.root()));
}

#[test]
fn re_appending_an_applied_height_returns_the_recorded_outcome_and_changes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).expect("open");
    let mut b1 = statements(1, 4);
    b1.push(b"statement 0 of block 1".to_vec()); // repeated inside the block
    let first = append(&store, 1, &b1, &[]).expect("append 1");
    let b2 = [statements(2, 3), statements(1, 1)].concat(); // one already logged
    let second = append(&store, 2, &b2, &[(b"k".to_vec(), Some(b"v".to_vec()))]).expect("2");
    let before = snapshot(&store);

    assert_eq!(append(&store, 1, &b1, &[]).expect("replay 1"), first);
    assert_eq!(append(&store, 2, &b2, &[]).expect("replay 2"), second);
    assert_eq!(snapshot(&store), before);

    // The same height with other contents is a conflict, not a replay.
    assert!(matches!(
        append(&store, 2, &statements(9, 3), &[]),
        Err(StoreError::BlockConflict { height: 2 })
    ));
    let refs: Vec<&[u8]> = b2.iter().map(Vec::as_slice).collect();
    let other_digest = store.append_block(BlockAppend {
        height: 2,
        digest: [0u8; 32],
        statements: &refs,
        state_writes: &[],
        state_root: [0; 32],
        checkpoint: None,
    });
    assert!(matches!(
        other_digest,
        Err(StoreError::BlockConflict { height: 2 })
    ));
    assert_eq!(snapshot(&store), before);
}

#[test]
fn duplicate_statements_get_no_second_leaf() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).expect("open");
    let s = b"the same statement".to_vec();
    let first = append(&store, 1, &[s.clone(), s.clone()], &[]).expect("append");
    let id = leaf_entry(&s);
    assert_eq!(first.appended, vec![(id, 0)]);
    assert_eq!(first.duplicates, vec![(id, 0)]);
    let second = append(&store, 2, &[b"new".to_vec(), s.clone()], &[]).expect("append");
    assert_eq!(second.appended, vec![(leaf_entry(b"new"), 1)]);
    assert_eq!(second.duplicates, vec![(id, 0)]);
    assert_eq!((second.first_index, second.new_size), (1, 2));
    assert_eq!(store.tree_size(), 2);
}

#[test]
fn a_height_gap_or_height_zero_is_rejected_and_changes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).expect("open");
    append(&store, 1, &statements(1, 2), &[]).expect("append");
    let before = snapshot(&store);
    assert!(matches!(
        append(&store, 3, &statements(3, 2), &[]),
        Err(StoreError::HeightGap { applied: 1, got: 3 })
    ));
    assert!(matches!(
        append(&store, 0, &[], &[]),
        Err(StoreError::HeightZero)
    ));
    assert_eq!(snapshot(&store), before);
    drop(store);
    let store = Store::open(dir.path()).expect("reopen");
    assert_eq!(snapshot(&store), before);
}

#[test]
fn an_append_over_a_limit_fails_whole_and_changes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).expect("open");
    append(
        &store,
        1,
        &statements(1, 2),
        &[(b"a".to_vec(), Some(b"1".to_vec()))],
    )
    .expect("1");
    let before = snapshot(&store);
    // Valid statements and writes first, then one write too large: nothing of block 2 lands.
    let writes = vec![
        (b"a".to_vec(), None),
        (b"b".to_vec(), Some(b"2".to_vec())),
        (vec![0u8; MAX_STATE_KEY_BYTES + 1], Some(b"x".to_vec())),
    ];
    assert!(matches!(
        append(&store, 2, &statements(2, 5), &writes),
        Err(StoreError::Limit {
            what: "state key bytes",
            ..
        })
    ));
    let huge = vec![vec![0u8; proverka_store::MAX_STATEMENT_BYTES + 1]];
    assert!(matches!(
        append(&store, 2, &huge, &[]),
        Err(StoreError::Limit { .. })
    ));
    assert_eq!(snapshot(&store), before);
    assert_eq!(
        store
            .index_of(&leaf_entry(&statements(2, 5)[0]))
            .expect("read"),
        None
    );
    // The next valid block still gets height 2.
    append(&store, 2, &statements(2, 5), &writes[..2]).expect("2");
    assert_eq!(store.state_get(b"a").expect("read"), None);
    assert_eq!(store.state_get(b"b").expect("read"), Some(b"2".to_vec()));
}

#[test]
fn a_state_reader_sees_the_state_of_its_start_and_nothing_later() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).expect("open");
    let set = |k: &[u8], v: &[u8]| (k.to_vec(), Some(v.to_vec()));
    append(
        &store,
        1,
        &statements(1, 1),
        &[set(b"k", b"1"), set(b"gone", b"x")],
    )
    .expect("1");
    let reader = store.state_reader().expect("reader");
    append(
        &store,
        2,
        &statements(2, 1),
        &[set(b"k", b"2"), (b"gone".to_vec(), None), set(b"new", b"y")],
    )
    .expect("2");

    assert_eq!(reader.get(b"k").expect("read"), Some(b"1".to_vec()));
    assert_eq!(reader.get(b"gone").expect("read"), Some(b"x".to_vec()));
    assert_eq!(reader.get(b"new").expect("read"), None);
    let later = store.state_reader().expect("reader");
    assert_eq!(
        later.get(b"k").expect("read"),
        store.state_get(b"k").expect("read")
    );
    assert_eq!(later.get(b"gone").expect("read"), None);
    assert_eq!(later.get(b"new").expect("read"), Some(b"y".to_vec()));
}

#[test]
fn proofs_from_the_store_verify_for_many_sizes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).expect("open");
    let mut leaves = Vec::new();
    for h in 1..=40u64 {
        let stmts = statements(h, (h as usize * 7) % 23);
        for s in &stmts {
            leaves.push(leaf_hash(&leaf_entry(s)));
        }
        append(&store, h, &stmts, &[]).expect("append");
    }
    let n = store.tree_size();
    assert_eq!(n, leaves.len() as u64);
    for size in (1..=n).step_by(7).chain([n]) {
        let root = store.root_at(size).expect("root");
        for index in (0..size).step_by(5) {
            let path = store.inclusion_proof(index, size).expect("proof");
            verify_inclusion(&leaves[index as usize], index, size, &path, &root).expect("valid");
        }
        for old in (1..=size).step_by(3) {
            let path = store.consistency_proof(old, size).expect("proof");
            let old_root = store.root_at(old).expect("root");
            verify_consistency(old, size, &old_root, &root, &path).expect("consistent");
        }
    }
    assert!(matches!(
        store.inclusion_proof(0, n + 1),
        Err(StoreError::BeyondTree { .. })
    ));
    assert!(store.inclusion_proof(n, n).is_err());
    assert!(store.inclusion_proof(u64::MAX, u64::MAX).is_err());
    assert!(store.consistency_proof(0, n).is_err());
    assert!(store.consistency_proof(n, n + 1).is_err());
    assert!(store.root_at(n + 1).is_err());
}

#[test]
fn old_roots_stay_the_same_after_later_appends() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).expect("open");
    let mut history = Vec::new();
    for h in 1..=30u64 {
        let out = append(&store, h, &statements(h, 9), &[]).expect("append");
        history.push((out.new_size, out.root));
        for (size, root) in &history {
            assert_eq!(
                store.root_at(*size).expect("root"),
                *root,
                "root at {size} after {h}"
            );
        }
    }
}

#[test]
fn tiles_and_entry_bundles_are_served_up_to_the_tree_size() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).expect("open");
    let stmts = statements(1, 300);
    append(&store, 1, &stmts, &[]).expect("append");
    let tile = store
        .hash_tile(&tile_path_parse("tile/0/000").expect("path"))
        .expect("tile");
    let want: Vec<u8> = stmts[..256]
        .iter()
        .flat_map(|s| leaf_hash(&leaf_entry(s)))
        .collect();
    assert_eq!(tile, want);
    let partial = store
        .hash_tile(&tile_path_parse("tile/0/001.p/44").expect("p"))
        .expect("t");
    assert_eq!(partial.len(), 44 * 32);
    assert!(store
        .hash_tile(&tile_path_parse("tile/0/001.p/45").expect("p"))
        .is_err());

    let bundle = store
        .entry_bundle(&tile_path_parse("tile/entries/001.p/44").expect("p"))
        .expect("b");
    assert_eq!(bundle.len(), 44 * 34);
    for (i, chunk) in bundle.chunks(34).enumerate() {
        assert_eq!(&chunk[..2], &[0, 32], "uint16 length 32");
        // Each entry leaf-hashes to the level-0 tile hash at the same position.
        let entry: Hash = chunk[2..].try_into().expect("32");
        assert_eq!(entry, leaf_entry(&stmts[256 + i]));
        assert_eq!(leaf_hash(&entry).as_slice(), &partial[i * 32..(i + 1) * 32]);
    }
    assert!(store
        .entry_bundle(&TileRef::entries(1, 45).expect("ref"))
        .is_err());
    assert!(store
        .entry_bundle(&TileRef::hashes(0, 0, 1).expect("ref"))
        .is_err());
    assert!(store
        .entry_bundle(&TileRef::entries(u64::MAX, 256).expect("ref"))
        .is_err());
}

#[test]
fn state_scans_return_one_prefix_in_key_order_with_a_limit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).expect("open");
    let writes: Vec<StateWrite> = ["dev/b", "dev/a", "dev/c", "devx", "pol/a"]
        .iter()
        .map(|k| (k.as_bytes().to_vec(), Some(k.as_bytes().to_vec())))
        .collect();
    append(&store, 1, &[], &writes).expect("append");
    let keys = |v: Vec<StateEntry>| -> Vec<String> {
        v.into_iter()
            .map(|(k, _)| String::from_utf8(k).expect("utf-8"))
            .collect()
    };
    assert_eq!(
        keys(store.state_scan_prefix(b"dev/", 10).expect("scan")),
        ["dev/a", "dev/b", "dev/c"]
    );
    assert_eq!(
        keys(store.state_scan_prefix(b"dev/", 2).expect("scan")),
        ["dev/a", "dev/b"]
    );
    assert_eq!(
        keys(
            store
                .state_scan_prefix_after(b"dev/", Some(b"dev/b"), 10)
                .expect("scan")
        ),
        ["dev/c"]
    );
    assert_eq!(
        keys(store.state_scan_prefix(b"zzz", 10).expect("scan")),
        Vec::<String>::new()
    );
    assert_eq!(
        store.tree_size(),
        0,
        "a block without statements adds no leaf"
    );
    assert_eq!(store.applied_height(), 1);
}

#[test]
fn reads_run_concurrently_with_appends() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).expect("open");
    append(&store, 1, &statements(1, 50), &[]).expect("append");
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..200 {
                    let size = store.tree_size();
                    let root = store.root_at(size).expect("root");
                    let path = store.inclusion_proof(size - 1, size).expect("proof");
                    assert!(path.len() <= 64);
                    let _ = root;
                }
            });
        }
        s.spawn(|| {
            for h in 2..=20 {
                append(&store, h, &statements(h, 10), &[]).expect("append");
            }
        });
    });
    assert_eq!(store.tree_size(), 50 + 19 * 10);
}

#[test]
fn a_store_written_by_another_format_version_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    drop(Store::open(dir.path()).expect("create"));
    corrupt_meta(dir.path(), "format", &3u64.to_be_bytes());
    assert!(matches!(
        Store::open(dir.path()),
        Err(StoreError::WrongFormat { found: 3 })
    ));
}

/// A closed store in `dir` with `blocks` blocks of `per_block` statements; their ids and
/// indexes.
fn filled_store(dir: &Path, blocks: u64, per_block: usize) -> Vec<(Hash, u64)> {
    let store = Store::open(dir).expect("open");
    let mut logged = Vec::new();
    for h in 1..=blocks {
        let out = append(&store, h, &statements(h, per_block), &[]).expect("append");
        logged.extend(out.appended);
    }
    logged
}

/// Rewrites a format 2 store as format 1 wrote it: ids in an id → index table `ids`.
fn rewrite_as_format_1(dir: &Path) {
    let db = redb::Database::create(dir.join(proverka_store::FILE_NAME)).expect("db");
    let txn = db.begin_write().expect("txn");
    {
        let v2: redb::TableDefinition<u64, &[u8; 32]> = redb::TableDefinition::new("entry_ids");
        let v1: redb::TableDefinition<&[u8; 32], u64> = redb::TableDefinition::new("ids");
        let rows: Vec<(u64, [u8; 32])> = {
            use redb::ReadableTable;
            let t = txn.open_table(v2).expect("entry_ids");
            t.iter()
                .expect("iter")
                .map(|r| r.expect("row"))
                .map(|(k, v)| (k.value(), *v.value()))
                .collect()
        };
        let mut old = txn.open_table(v1).expect("ids");
        for (index, id) in &rows {
            old.insert(id, *index).expect("insert");
        }
        drop(old);
        txn.delete_table(v2).expect("delete");
    }
    txn.commit().expect("commit");
    drop(db);
    corrupt_meta(dir, "format", &1u64.to_be_bytes());
}

#[test]
fn a_format_1_store_is_migrated_at_open_with_every_id_at_its_index() {
    let dir = tempfile::tempdir().expect("tempdir");
    let logged = filled_store(dir.path(), 3, 40);
    rewrite_as_format_1(dir.path());
    let store = Store::open(dir.path()).expect("migrated");
    for (id, index) in &logged {
        assert_eq!(store.index_of(id).expect("read"), Some(*index));
    }
    // It appends and reopens as format 2.
    let out = append(&store, 4, &statements(4, 5), &[]).expect("append");
    assert_eq!(out.first_index, 120);
    drop(store);
    let store = Store::open(dir.path()).expect("reopen");
    assert_eq!(store.index_of(&out.appended[4].0).expect("read"), Some(124));
    assert_eq!(store.index_of(&logged[0].0).expect("read"), Some(0));
}

#[test]
fn a_store_whose_root_disagrees_with_its_hashes_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let store = Store::open(dir.path()).expect("create");
        append(&store, 1, &statements(1, 5), &[]).expect("append");
    }
    corrupt_meta(dir.path(), "root", &[0u8; 32]);
    assert!(matches!(
        Store::open(dir.path()),
        Err(StoreError::Corrupt(_))
    ));
}

/// Rewrites one meta value behind the store's back (simulates on-disk corruption).
fn corrupt_meta(dir: &Path, key: &str, value: &[u8]) {
    let db = redb::Database::create(dir.join(proverka_store::FILE_NAME)).expect("db");
    let txn = db.begin_write().expect("txn");
    {
        let def: redb::TableDefinition<&str, &[u8]> = redb::TableDefinition::new("meta");
        let mut meta = txn.open_table(def).expect("meta");
        meta.insert(key, value).expect("insert");
    }
    txn.commit().expect("commit");
}

#[test]
fn after_reopen_every_logged_id_has_its_index_and_no_other_id_has_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let logged = filled_store(dir.path(), 20, 50);
    // The id map is rebuilt from the file alone.
    let store = Store::open(dir.path()).expect("reopen");
    assert_eq!(logged.len(), 1000);
    for (id, index) in &logged {
        assert_eq!(store.index_of(id).expect("read"), Some(*index));
    }
    // Same first 8 bytes as a logged id (what the map is keyed by), different id: not logged.
    let mut near = logged[0].0;
    near[31] ^= 1;
    assert_eq!(store.index_of(&near).expect("read"), None);
    assert_eq!(
        store.index_of(&leaf_entry(b"never logged")).expect("read"),
        None
    );
}

#[test]
fn the_ids_of_a_block_whose_transaction_did_not_commit_are_absent_even_after_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).expect("open");
    append(&store, 1, &statements(1, 3), &[]).expect("1");
    let stmts = statements(2, 5);
    let refs: Vec<&[u8]> = stmts.iter().map(Vec::as_slice).collect();
    // The note is checked last, after the block's entries and ids went into the transaction:
    // the transaction is then dropped, not committed.
    let oversized = |_: u64, _: &Hash| vec![b'x'; MAX_CHECKPOINT_BYTES + 1];
    let failed = store.append_block(BlockAppend {
        height: 2,
        digest: digest(2),
        statements: &refs,
        state_writes: &[],
        state_root: [0; 32],
        checkpoint: Some(&oversized),
    });
    assert!(matches!(
        failed,
        Err(StoreError::Limit {
            what: "checkpoint bytes",
            ..
        })
    ));
    for s in &stmts {
        assert_eq!(store.index_of(&leaf_entry(s)).expect("read"), None);
    }
    drop(store);
    let store = Store::open(dir.path()).expect("reopen");
    for s in &stmts {
        assert_eq!(store.index_of(&leaf_entry(s)).expect("read"), None);
    }
    // Offered again, the block gets the indexes it would have had.
    let out = append(&store, 2, &stmts, &[]).expect("2");
    assert_eq!(out.first_index, 3);
    for (index, s) in (3u64..).zip(&stmts) {
        assert_eq!(store.index_of(&leaf_entry(s)).expect("read"), Some(index));
    }
}

/// A joining validator's store: the log and state of a source store at a certified floor,
/// imported at once; it then has the source's root, proofs and state, resumes after the floor,
/// and refuses to replay a block at or below it.
#[test]
fn an_imported_floor_reproduces_the_source_and_continues_from_there() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let source = Store::open(a.path()).unwrap();
    let mut log = Vec::new();
    for h in 1..=5 {
        let stmts = statements(h, 7);
        let writes = vec![(format!("k/{h}").into_bytes(), Some(vec![h as u8]))];
        append(&source, h, &stmts, &writes).unwrap();
        log.extend(stmts);
    }
    let state = source.state_scan_prefix(b"", 1000).unwrap();
    let floor = |log_root| FloorImport {
        facts: FloorFacts {
            height: 5,
            digest: digest(5),
            state_root: [9; 32],
            log_root,
            certificate: b"the floor's certificate".to_vec(),
        },
        statements: &log,
        state: &state,
    };

    let joiner = Store::open(b.path()).unwrap();
    let before = snapshot(&joiner);
    let mut forged = source.root();
    forged[0] ^= 1;
    assert!(matches!(
        joiner.import_floor(floor(forged)),
        Err(StoreError::FloorMismatch { size: 35 })
    ));
    assert_eq!(snapshot(&joiner), before, "a refused import writes nothing");

    joiner.import_floor(floor(source.root())).unwrap();
    assert_eq!(snapshot(&joiner), snapshot(&source));
    assert!(matches!(
        joiner.import_floor(floor(source.root())),
        Err(StoreError::NotEmpty {
            size: 35,
            height: 5
        })
    ));
    drop(joiner);
    let joiner = Store::open(b.path()).unwrap();
    assert_eq!(snapshot(&joiner), snapshot(&source));
    assert_eq!(joiner.floor().unwrap(), Some(5));
    assert_eq!(
        joiner.floor_certificate().unwrap().as_deref(),
        Some(&b"the floor's certificate"[..])
    );
    assert_eq!(source.floor().unwrap(), None);
    assert_eq!(source.floor_certificate().unwrap(), None);
    let proof = joiner.inclusion_proof(12, 35).unwrap();
    verify_inclusion(
        &leaf_hash(&leaf_entry(&log[12])),
        12,
        35,
        &proof,
        &source.root(),
    )
    .unwrap();
    assert_eq!(joiner.index_of(&leaf_entry(&log[30])).unwrap(), Some(30));

    // Both go on with block 6 alike; a block at or below the floor is never replayed.
    let next = statements(6, 3);
    let theirs = append(&source, 6, &next, &[]).unwrap();
    assert_eq!(append(&joiner, 6, &next, &[]).unwrap(), theirs);
    assert!(matches!(
        append(&joiner, 5, &statements(5, 7), &[]),
        Err(StoreError::BeforeFloor {
            height: 5,
            floor: 5
        })
    ));
}

/// A joiner's import fed page by page (what `proverka node --join` does, one page of the
/// peer's log or state at a time) ends with exactly the store an import at once gives.
#[test]
fn a_floor_imported_page_by_page_is_the_floor_imported_at_once() {
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let source = Store::open(dirs[0].path()).unwrap();
    let mut log = Vec::new();
    for h in 1..=4 {
        let stmts = statements(h, 9);
        let writes = vec![(format!("k/{h}").into_bytes(), Some(vec![h as u8; 3]))];
        append(&source, h, &stmts, &writes).unwrap();
        log.extend(stmts);
    }
    let state = source.state_scan_prefix(b"", 1000).unwrap();
    let facts = FloorFacts {
        height: 4,
        digest: digest(4),
        state_root: [9; 32],
        log_root: source.root(),
        certificate: b"certificate".to_vec(),
    };

    let at_once = Store::open(dirs[1].path()).unwrap();
    at_once
        .import_floor(FloorImport {
            facts: facts.clone(),
            statements: &log,
            state: &state,
        })
        .unwrap();
    let paged = Store::open(dirs[2].path()).unwrap();
    let mut import = paged.begin_floor_import(facts).unwrap();
    for page in log.chunks(7) {
        import.statements(page).unwrap();
    }
    for page in state.chunks(1) {
        import.state(page).unwrap();
    }
    import.finish().unwrap();

    assert_eq!(snapshot(&paged), snapshot(&at_once));
    assert_eq!(snapshot(&paged), snapshot(&source));
    for (index, stmt) in (0u64..).zip(&log) {
        assert_eq!(paged.statement(index).unwrap().as_deref(), Some(&stmt[..]));
        assert_eq!(paged.index_of(&leaf_entry(stmt)).unwrap(), Some(index));
    }
    assert_eq!(paged.floor().unwrap(), Some(4));
    assert_eq!(
        paged.floor_certificate().unwrap(),
        at_once.floor_certificate().unwrap()
    );
}

/// While an import is open nothing else writes: a block is refused and so is a second import.
/// Dropped unfinished, or refused at the end, an import leaves the store empty, on disk too,
/// and the store takes blocks again.
#[test]
fn an_unfinished_or_refused_floor_import_leaves_the_store_empty_and_usable() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let facts = |log_root| FloorFacts {
        height: 3,
        digest: digest(3),
        state_root: [0; 32],
        log_root,
        certificate: b"certificate".to_vec(),
    };
    let empty = snapshot(&store);

    let mut import = store.begin_floor_import(facts([1; 32])).unwrap();
    import.statements(&statements(1, 5)).unwrap();
    import.state(&[(b"k".to_vec(), b"v".to_vec())]).unwrap();
    assert!(matches!(
        append(&store, 1, &statements(1, 2), &[]),
        Err(StoreError::ImportInProgress)
    ));
    assert!(matches!(
        store.begin_floor_import(facts([1; 32])),
        Err(StoreError::ImportInProgress)
    ));
    drop(import);
    assert_eq!(snapshot(&store), empty, "a dropped import writes nothing");

    let mut import = store.begin_floor_import(facts([1; 32])).unwrap();
    import.statements(&statements(1, 5)).unwrap();
    assert!(matches!(
        import.finish(),
        Err(StoreError::FloorMismatch { size: 5 })
    ));
    assert_eq!(snapshot(&store), empty, "a refused import writes nothing");
    assert!(matches!(
        store.begin_floor_import(FloorFacts {
            height: 0,
            ..facts([1; 32])
        }),
        Err(StoreError::HeightZero)
    ));

    drop(store);
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(snapshot(&store), empty);
    append(&store, 1, &statements(1, 2), &[]).expect("blocks are taken again");
    assert_eq!(store.tree_size(), 2);
}

#[test]
fn a_floor_with_a_repeated_statement_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let log = vec![b"one".to_vec(), b"two".to_vec(), b"one".to_vec()];
    let refused = store.import_floor(FloorImport {
        facts: FloorFacts {
            height: 1,
            digest: digest(1),
            state_root: [0; 32],
            log_root: [0; 32],
            certificate: b"certificate".to_vec(),
        },
        statements: &log,
        state: &[],
    });
    assert!(matches!(
        refused,
        Err(StoreError::FloorDuplicate { index: 2, first: 0 })
    ));
    let oversized = vec![0; proverka_store::MAX_FLOOR_CERTIFICATE_BYTES + 1];
    let refused = store.import_floor(FloorImport {
        facts: FloorFacts {
            height: 1,
            digest: digest(1),
            state_root: [0; 32],
            log_root: [0; 32],
            certificate: oversized,
        },
        statements: &log[..2],
        state: &[],
    });
    assert!(
        matches!(refused, Err(StoreError::Limit { .. })),
        "{refused:?}"
    );
    assert_eq!((store.tree_size(), store.applied_height()), (0, 0));
}
