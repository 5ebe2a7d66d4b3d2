//! Robustness: mutated receipts and checkpoints and random tile paths never panic the
//! verifiers and never verify (a seeded, reproducible mutation loop).

use proverka_log::{
    make_receipt, sign_checkpoint, tile_path_parse, verify_checkpoint, verify_receipt, NoteKey,
};
use proverka_statement::{KeyType, PrivateKey};
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng};

const SEED: u64 = 0x5eed_2026_1125;
const ROUNDS: usize = 10_000;

fn mutate(rng: &mut StdRng, input: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    let at = rng.random_range(0..(out.len()).max(1));
    match rng.random_range(0..4) {
        0 => out[at] ^= 1 << rng.random_range(0..8),
        1 => out.truncate(at),
        2 => out.insert(at, rng.random::<u8>()),
        _ => out[at] = rng.random::<u8>(),
    }
    out
}

#[test]
fn mutated_receipts_never_panic_and_never_verify_unless_unchanged_in_meaning() {
    let key = PrivateKey::generate(KeyType::P256).unwrap();
    let statement = b"a statement".to_vec();
    let leaf = proverka_log::leaf_hash(&proverka_log::leaf_entry(&statement));
    // A one-leaf tree: the root is the leaf hash and the path is empty.
    let receipt = make_receipt(&key, "log.example", 1, 1, 0, &[], &leaf).unwrap();
    let mut rng = StdRng::seed_from_u64(SEED);
    for _ in 0..ROUNDS {
        let bytes = mutate(&mut rng, &receipt);
        if let Ok(v) = verify_receipt(&bytes, &statement, &key.public_key()) {
            // Only unsigned, meaning-free bytes may change (e.g. nil ↔ undefined payload).
            assert_eq!(
                (v.tree_size, v.leaf_index, v.root),
                (1, 0, leaf),
                "{}",
                hex::encode(&bytes)
            );
        }
    }
}

#[test]
fn mutated_checkpoints_never_panic_and_never_verify() {
    let key = NoteKey::generate("log.example").unwrap();
    let note = sign_checkpoint(&key, "log.example", 42, &[7u8; 32]).unwrap();
    let vkey = key.verifier_key();
    let mut rng = StdRng::seed_from_u64(SEED ^ 1);
    for _ in 0..ROUNDS {
        let bytes = mutate(&mut rng, &note);
        if bytes != note {
            if let Ok(v) = verify_checkpoint(&bytes, "log.example", &vkey) {
                assert_eq!(
                    (v.size, v.root),
                    (42, [7u8; 32]),
                    "{}",
                    String::from_utf8_lossy(&bytes)
                );
            }
        }
    }
}

#[test]
fn random_tile_paths_never_panic() {
    let alphabet = b"tile/entries0123456789x.p";
    let mut rng = StdRng::seed_from_u64(SEED ^ 2);
    for _ in 0..ROUNDS {
        let len = rng.random_range(0..40);
        let path: String = (0..len)
            .map(|_| alphabet[rng.random_range(0..(alphabet.len()).max(1))] as char)
            .collect();
        let _ = tile_path_parse(&path);
    }
}
