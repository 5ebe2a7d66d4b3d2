//! The statement format, frozen: a fixed Ed25519 key signing fixed parameters must produce
//! exactly the recorded bytes (Ed25519 signatures are deterministic). If this test fails, the
//! format changed: that breaks every verifier and every stored log. Regenerate only on purpose
//! with `PROVERKA_BLESS=1` and update docs/statements.md.

use proverka_statement::{sign_statement, Limits, SignedStatement};

use crate::support::*;

const GOLDEN: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/golden/ed25519_statement.hex"
);

#[test]
fn the_ed25519_golden_statement_is_byte_exact() {
    let key = ed25519_key();
    let bytes = sign_statement(&key, &params());
    let hex_now = hex::encode(&bytes);
    if std::env::var_os("PROVERKA_BLESS").is_some() {
        std::fs::write(GOLDEN, format!("{hex_now}\n")).unwrap();
    }
    let recorded = std::fs::read_to_string(GOLDEN).expect("golden file present");
    assert_eq!(hex_now, recorded.trim(), "statement format changed");

    let s = SignedStatement::parse(&bytes, &Limits::default()).unwrap();
    s.verify(&key.public_key()).unwrap();
    assert_eq!(
        hex::encode(s.kid()),
        hex::encode(key.public_key().thumbprint()),
        "kid is the thumbprint"
    );
}
