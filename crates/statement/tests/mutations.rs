//! Robustness: mutated and random inputs never panic the parser, and no mutation of a signed
//! statement both parses and verifies (a seeded, reproducible mutation loop; change SEED to
//! explore, a failure prints the offending bytes).

use proverka_statement::{
    sign_statement, ContentType, KeyType, Limits, PrivateKey, SignedStatement, StatementParams,
};
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng};

const SEED: u64 = 0x5eed_2026_1125;
const ROUNDS: usize = 20_000;

fn mutate(rng: &mut StdRng, input: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..=rng.random_range(0..3) {
        let at = rng.random_range(0..(out.len()).max(1));
        match rng.random_range(0..5) {
            0 => out[at] ^= 1 << rng.random_range(0..8),
            1 => out[at] = rng.random::<u8>(),
            2 => out.truncate(at),
            3 => out.insert(at, rng.random::<u8>()),
            _ => {
                out.remove(at.min(out.len().saturating_sub(1)));
            }
        }
        if out.is_empty() {
            out.push(rng.random::<u8>());
        }
    }
    out
}

#[test]
fn no_mutation_of_a_signed_statement_panics_or_still_verifies() {
    let limits = Limits::default();
    for kt in [KeyType::Ed25519, KeyType::P256] {
        let key = PrivateKey::generate(kt).unwrap();
        let original = sign_statement(
            &key,
            &StatementParams {
                iss: "maker",
                sub: "device-1",
                iat: 1_764_000_000,
                content_type: ContentType::Text("application/json".into()),
                payload: b"{\"firmware\":\"1.2.3\"}",
            },
        );
        let parsed = SignedStatement::parse(&original, &limits).unwrap();
        let mut rng = StdRng::seed_from_u64(SEED);
        for _ in 0..ROUNDS {
            let bytes = mutate(&mut rng, &original);
            if bytes == original {
                continue;
            }
            let Ok(stmt) = SignedStatement::parse(&bytes, &limits) else {
                continue;
            };
            if stmt.verify(&key.public_key()).is_ok() {
                // Only unsigned bytes (the unprotected header) may differ in a statement that
                // still verifies; everything signed must be the original.
                let signed = |s: &SignedStatement| {
                    (
                        s.protected_bytes().to_vec(),
                        s.payload().to_vec(),
                        s.signature().to_vec(),
                    )
                };
                assert_eq!(signed(&stmt), signed(&parsed), "{}", hex::encode(&bytes));
            }
        }
    }
}

#[test]
fn random_bytes_never_panic_the_parser() {
    let limits = Limits::default();
    let mut rng = StdRng::seed_from_u64(SEED ^ 0xabcd);
    for _ in 0..ROUNDS {
        let len = rng.random_range(0..300);
        let mut bytes: Vec<u8> = (0..len).map(|_| rng.random::<u8>()).collect();
        if rng.random_range(0..2) == 0 {
            // Make it start like a tagged COSE_Sign1 array so deeper code paths are reached.
            bytes.splice(0..0, [0xd2, 0x84]);
        }
        let _ = SignedStatement::parse(&bytes, &limits);
    }
}
