//! Parses, verifies and signs SCITT signed statements (tagged COSE_Sign1).
//!
//! Every fact enters the Proverka ledger as a SCITT Signed Statement (RFC 9943): a tagged
//! COSE_Sign1 (RFC 9052) whose protected header carries `alg`, `content type`, a 32-byte `kid`
//! (the RFC 9679 thumbprint of the issuer's key) and CWT claims (RFC 9597) with `iss`, `sub` and
//! `iat`. The byte-level format is specified in `docs/statements.md`.
//!
//! Invariants:
//! - The exact bytes received are kept and hashed ([`statement_id`]); signed data is never
//!   re-encoded.
//! - The algorithm is bound to the key type ([`PublicKey::accepts`]); the `alg` header alone is
//!   never trusted.
//! - Ed25519 follows one rule set (ZIP-215, via `ed25519-consensus`) in single and batch
//!   verification, so [`verify_batch`] accepts exactly what [`SignedStatement::verify`] accepts.
//! - Every size and count is bounded by [`Limits`] or a documented constant, checked before work
//!   proportional to it is done.
//!
//! Deliberately absent: `x5chain` key discovery, COSE_Sign (multi-signer), detached payloads,
//! RSA, P-384 signing, encrypted private keys.

mod algorithm;
mod batch;
mod cbor;
mod error;
mod private_key;
mod public_key;
mod sign;
mod statement;

use sha2::{Digest, Sha256};

pub use algorithm::{Algorithm, KeyType};
pub use batch::verify_batch;
pub use error::{KeyError, SignatureError, StatementError};
pub use private_key::{Ed25519SigningKey, P256SigningKey, PrivateKey};
pub use public_key::{
    P256PublicKey, P384PublicKey, PublicKey, MAX_KEY_SET_BYTES, MAX_KEY_SET_KEYS,
};
pub use sign::{sign_statement, StatementParams};
pub use statement::{sig_structure, ContentType, SignedStatement};

/// Default upper bound on the size of an encoded statement, in bytes (64 KiB).
///
/// Checked before any decoding. Large artifacts (firmware images) are registered by digest, not
/// embedded: a statement carries facts, not files.
pub const MAX_STATEMENT_BYTES: usize = 65_536;

/// Default upper bound on `iss`, `sub` and a text content type, in bytes of UTF-8.
pub const MAX_STRING_BYTES: usize = 1024;

/// Default upper bound on the entries of each header bucket (protected, unprotected) and on the
/// labels listed in `crit`.
pub const MAX_HEADER_ENTRIES: usize = 32;

/// Default upper bound on the entries of the CWT claims map (header label 15).
pub const MAX_CLAIMS: usize = 32;

/// Maximum nesting depth of CBOR arrays and maps in anything we decode.
///
/// The deepest structure we need is tag 18 → COSE_Sign1 array → unprotected map → a value with
/// a few levels of its own (e.g. a receipt array); 16 leaves ample room and keeps recursion, and
/// so stack use, small.
pub const MAX_CBOR_DEPTH: usize = 16;

/// Maximum size of an encoded COSE_Key accepted by [`PublicKey::from_cose_key`], in bytes.
///
/// A P-384 public COSE_Key with a 32-byte kid and an alg is about 140 bytes; 1 KiB leaves room
/// for optional members (key_ops, base IV) without admitting blobs.
pub const MAX_COSE_KEY_BYTES: usize = 1024;

/// Maximum size of a PEM document accepted by the key loaders, in bytes.
///
/// The largest key we read (a P-384 SPKI) is under 300 bytes of PEM; 16 KiB admits comments and
/// unusual line lengths while bounding base64 decoding.
pub const MAX_PEM_BYTES: usize = 16_384;

/// Size and count limits applied by [`SignedStatement::parse`].
///
/// Every limit is checked before work proportional to it is done; exceeding one is a typed
/// [`StatementError`], never a panic or an unbounded allocation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Maximum encoded statement size in bytes, checked before decoding
    /// (default [`MAX_STATEMENT_BYTES`]).
    pub max_statement_bytes: usize,
    /// Maximum length in bytes of `iss`, `sub` and a text content type
    /// (default [`MAX_STRING_BYTES`]).
    pub max_string_bytes: usize,
    /// Maximum entries in each header bucket and in `crit` (default [`MAX_HEADER_ENTRIES`]).
    pub max_header_entries: usize,
    /// Maximum entries in the CWT claims map (default [`MAX_CLAIMS`]).
    pub max_claims: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_statement_bytes: MAX_STATEMENT_BYTES,
            max_string_bytes: MAX_STRING_BYTES,
            max_header_entries: MAX_HEADER_ENTRIES,
            max_claims: MAX_CLAIMS,
        }
    }
}

/// Returns the SHA-256 digest of the exact statement bytes.
///
/// This is the ledger's leaf entry and the statement's entry id (the same convention as the
/// `scitt-cose` reference vectors). Hashing the received bytes, not a re-encoding, means two
/// encodings of "the same" statement are two entries, and nothing signed is ever rewritten.
pub fn statement_id(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}
