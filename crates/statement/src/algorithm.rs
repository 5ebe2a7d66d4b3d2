//! COSE signature algorithms we accept and the key types they bind to.

use core::fmt;

/// A COSE signature algorithm accepted in statements (RFC 9053, RFC 9864).
///
/// The polymorphic ids (-7 ES256, -8 EdDSA) are deprecated by RFC 9864 but still what deployed
/// stacks emit; the fully specified ids (-9, -19, -51) are accepted too. An algorithm is only
/// ever used together with a key of the matching type ([`crate::PublicKey::accepts`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// ECDSA with SHA-256 (COSE -7); with P-256 keys only.
    Es256,
    /// ECDSA using P-256 and SHA-256 (COSE -9, RFC 9864).
    Esp256,
    /// EdDSA (COSE -8); with Ed25519 keys only (Ed448 is not supported).
    EdDsa,
    /// Ed25519 (COSE -19, RFC 9864).
    Ed25519,
    /// ECDSA with SHA-384 (COSE -35); with P-384 keys only.
    Es384,
    /// ECDSA using P-384 and SHA-384 (COSE -51, RFC 9864).
    Esp384,
}

impl Algorithm {
    /// All accepted algorithms, in COSE registry order of appearance.
    pub const ALL: [Algorithm; 6] = [
        Algorithm::Es256,
        Algorithm::Esp256,
        Algorithm::EdDsa,
        Algorithm::Ed25519,
        Algorithm::Es384,
        Algorithm::Esp384,
    ];

    /// Returns the COSE algorithm identifier.
    pub fn cose_id(&self) -> i64 {
        match self {
            Algorithm::Es256 => -7,
            Algorithm::Esp256 => -9,
            Algorithm::EdDsa => -8,
            Algorithm::Ed25519 => -19,
            Algorithm::Es384 => -35,
            Algorithm::Esp384 => -51,
        }
    }

    /// Maps a COSE algorithm identifier to an accepted algorithm; `None` for anything else
    /// (RSA, ES512, Ed448, MACs, ...).
    pub fn from_cose_id(id: i64) -> Option<Self> {
        Self::ALL.into_iter().find(|alg| alg.cose_id() == id)
    }

    /// Returns the only key type this algorithm may be used with.
    pub fn key_type(&self) -> KeyType {
        match self {
            Algorithm::Es256 | Algorithm::Esp256 => KeyType::P256,
            Algorithm::EdDsa | Algorithm::Ed25519 => KeyType::Ed25519,
            Algorithm::Es384 | Algorithm::Esp384 => KeyType::P384,
        }
    }

    /// Returns the IANA name of the algorithm.
    pub fn name(&self) -> &'static str {
        match self {
            Algorithm::Es256 => "ES256",
            Algorithm::Esp256 => "ESP256",
            Algorithm::EdDsa => "EdDSA",
            Algorithm::Ed25519 => "Ed25519",
            Algorithm::Es384 => "ES384",
            Algorithm::Esp384 => "ESP384",
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.cose_id())
    }
}

/// The type of a public key: its curve.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyType {
    /// NIST P-256 (secp256r1), COSE EC2 curve 1.
    P256,
    /// NIST P-384 (secp384r1), COSE EC2 curve 2.
    P384,
    /// Ed25519, COSE OKP curve 6.
    Ed25519,
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeyType::P256 => "P-256",
            KeyType::P384 => "P-384",
            KeyType::Ed25519 => "Ed25519",
        })
    }
}
