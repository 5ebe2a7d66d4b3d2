//! C2SP tlog-tiles: one canonical path per tile, tile contents are the tree's hashes at the
//! tile's level, entry bundles are uint16-length-prefixed entries.

use proverka_log::tiles::TILE_WIDTH;
use proverka_log::{
    entry_bundle, hash_tile, leaf_hash_bytes, node_hash, parse_entry_bundle, tile_path_parse, Hash,
    MemoryTree, TileError, TileKind, TileRef,
};

#[test]
fn canonical_tile_paths_parse_to_their_coordinates() {
    let table: &[(&str, TileKind, u64, u16)] = &[
        ("tile/0/000", TileKind::Hashes { level: 0 }, 0, 256),
        ("tile/0/x001/234", TileKind::Hashes { level: 0 }, 1234, 256),
        ("tile/1/005.p/17", TileKind::Hashes { level: 1 }, 5, 17),
        ("tile/63/999", TileKind::Hashes { level: 63 }, 999, 256),
        (
            "tile/2/x001/x234/067.p/255",
            TileKind::Hashes { level: 2 },
            1_234_067,
            255,
        ),
        ("tile/entries/000.p/3", TileKind::Entries, 0, 3),
        ("tile/entries/x001/000", TileKind::Entries, 1000, 256),
        (
            "tile/entries/x018/x446/x744/x073/x709/x551/615",
            TileKind::Entries,
            u64::MAX,
            256,
        ),
    ];
    for &(path, kind, index, width) in table {
        let t = tile_path_parse(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(
            (t.kind(), t.index(), t.width()),
            (kind, index, width),
            "{path}"
        );
        assert_eq!(t.path(), path, "round trip");
    }
}

#[test]
fn non_canonical_or_invalid_tile_paths_are_rejected() {
    let rejected = [
        "",
        "tile",
        "tile/",
        "/tile/0/000",      // leading slash: the caller strips the URL prefix
        "tile/0/000/",      // trailing slash
        "tile/00/000",      // leading zero in the level
        "tile/+1/000",      // sign
        "tile/64/000",      // level above 63
        "tile/256/000",     // level overflows u8
        "tile/0/0",         // index not 3 digits
        "tile/0/0000",      // index not 3 digits
        "tile/0/x000/001",  // superfluous zero group
        "tile/0/001/234",   // inner group without x
        "tile/0/x001/x234", // last group with x
        "tile/0/000.p/0",   // empty partial tile
        "tile/0/000.p/256", // a full tile is never written as partial
        "tile/0/000.p/017", // leading zero in the width
        "tile/0/000.p/",    // missing width
        "tile/0/000.p/1/2", // trailing element
        "tile/entries/000.p/-1",
        "tile/data/000",                            // Go sumdb's name, not C2SP's
        "tile/8/0/000",                             // Go sumdb's tile/H/L/N form
        "tile/0/x018/x446/x744/x073/x709/x551/616", // N above u64::MAX
        "tile/0/abc",
        "tile/0/00١", // non-ASCII digit
    ];
    for path in rejected {
        assert!(
            matches!(tile_path_parse(path), Err(TileError::BadPath(_))),
            "{path:?} should be rejected"
        );
    }
    let long = format!("tile/0/{}000", "x000/".repeat(20));
    assert!(tile_path_parse(&long).is_err());
}

fn tree_of(n: u64) -> (MemoryTree, Vec<Hash>) {
    let mut tree = MemoryTree::new();
    let mut leaves = Vec::new();
    for i in 0..n {
        let leaf = leaf_hash_bytes(&i.to_be_bytes());
        tree.push(&leaf).expect("push");
        leaves.push(leaf);
    }
    (tree, leaves)
}

/// Merkle tree hash of a power-of-two run of leaf hashes.
fn mth(leaves: &[Hash]) -> Hash {
    if leaves.len() == 1 {
        return leaves[0];
    }
    let (l, r) = leaves.split_at(leaves.len() / 2);
    node_hash(&mth(l), &mth(r))
}

#[test]
fn level_0_tiles_hold_leaf_hashes_and_level_1_tiles_hold_subtree_hashes_of_256_leaves() {
    let n = 256 * 256 + 300;
    let (tree, leaves) = tree_of(n);
    let full = hash_tile(&TileRef::hashes(0, 3, 256).expect("ref"), n, &tree).expect("tile");
    assert_eq!(full.len(), 256 * 32, "a full tile is 8,192 bytes");
    assert_eq!(full, leaves[768..1024].concat());

    let partial = hash_tile(&TileRef::hashes(0, 256, 44).expect("ref"), n, &tree).expect("tile");
    assert_eq!(partial, leaves[65536..65580].concat());

    let level1 = hash_tile(&TileRef::hashes(1, 0, 256).expect("ref"), n, &tree).expect("tile");
    for i in 0..256 {
        let want = mth(&leaves[i * 256..(i + 1) * 256]);
        assert_eq!(&level1[i * 32..(i + 1) * 32], &want, "level-1 hash {i}");
    }
    let level2 = hash_tile(&TileRef::hashes(2, 0, 1).expect("ref"), n, &tree).expect("tile");
    assert_eq!(level2, mth(&leaves[..65536]).to_vec());
}

#[test]
fn tiles_beyond_the_tree_size_are_refused() {
    let n = 70_000;
    let (tree, _) = tree_of(n);
    // 70,000 leaves: 273 full level-0 tiles and a partial one of width 112 (C2SP example).
    assert!(hash_tile(&TileRef::hashes(0, 273, 112).expect("ref"), n, &tree).is_ok());
    assert_eq!(
        hash_tile(&TileRef::hashes(0, 273, 113).expect("ref"), n, &tree),
        Err(TileError::BeyondTree {
            needed: 70_001,
            size: n
        })
    );
    assert!(hash_tile(&TileRef::hashes(1, 1, 17).expect("ref"), n, &tree).is_ok());
    assert!(hash_tile(&TileRef::hashes(1, 1, 18).expect("ref"), n, &tree).is_err());
    assert!(hash_tile(&TileRef::hashes(2, 0, 1).expect("ref"), n, &tree).is_ok());
    assert!(hash_tile(&TileRef::hashes(2, 0, 2).expect("ref"), n, &tree).is_err());
    // Asking for a size the reader does not hold is an error too, not a panic.
    assert!(hash_tile(&TileRef::hashes(0, 274, 1).expect("ref"), n + 1, &tree).is_err());
    for (level, index) in [(63, 0), (7, 0), (5, 1), (0, u64::MAX)] {
        assert_eq!(
            hash_tile(&TileRef::hashes(level, index, 1).expect("ref"), n, &tree),
            Err(TileError::TooFar),
            "level {level} index {index}"
        );
    }
    assert_eq!(
        hash_tile(&TileRef::entries(0, 1).expect("ref"), n, &tree),
        Err(TileError::WrongKind)
    );
}

#[test]
fn tile_coordinates_are_validated_on_construction() {
    assert!(TileRef::hashes(64, 0, 1).is_err());
    assert!(TileRef::hashes(0, 0, 0).is_err());
    assert!(TileRef::hashes(0, 0, TILE_WIDTH + 1).is_err());
    assert!(TileRef::entries(0, 0).is_err());
    assert_eq!(TileRef::entries(2, 256).expect("ref").first_leaf(), Ok(512));
    assert_eq!(
        TileRef::hashes(1, 2, 3).expect("ref").first_leaf(),
        Ok(2 * 65536)
    );
    assert_eq!(
        TileRef::hashes(1, 2, 3).expect("ref").leaves_needed(),
        Ok((512 + 3) * 256)
    );
}

#[test]
fn entry_bundles_prefix_each_entry_with_a_big_endian_u16_length() {
    let bundle = entry_bundle(&[b"ab".to_vec(), Vec::new(), vec![7u8; 300]]).expect("bundle");
    let mut want = vec![0, 2, b'a', b'b', 0, 0, 0x01, 0x2c];
    want.extend_from_slice(&[7u8; 300]);
    assert_eq!(bundle, want);

    let ids = [[1u8; 32], [2u8; 32]];
    assert_eq!(entry_bundle(&ids).expect("bundle").len(), 2 * 34);
    assert_eq!(
        entry_bundle(&[vec![0u8; 65_536]]),
        Err(TileError::EntryTooLong(65_536))
    );
    assert!(entry_bundle(&[vec![0u8; 65_535]]).is_ok());
}

#[test]
fn an_entry_bundle_parses_back_into_exactly_its_entries() {
    let entries = [b"ab".to_vec(), Vec::new(), vec![7u8; 300]];
    let bundle = entry_bundle(&entries).expect("bundle");
    let parsed = parse_entry_bundle(&bundle, 3).expect("parse");
    assert_eq!(
        parsed,
        entries.iter().map(Vec::as_slice).collect::<Vec<_>>()
    );

    for (bad, count) in [
        (&bundle[..bundle.len() - 1], 3), // truncated last entry
        (&bundle[..1], 0),                // half a length prefix
        (&bundle[..], 2),                 // more entries than expected
        (&bundle[..], 4),                 // fewer entries than expected
    ] {
        assert_eq!(
            parse_entry_bundle(bad, count),
            Err(TileError::MalformedBundle)
        );
    }
    assert_eq!(parse_entry_bundle(&[], 0), Ok(Vec::new()));
}
