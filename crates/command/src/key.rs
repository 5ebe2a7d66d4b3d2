//! Sender keys: the algorithms a command may use, RFC 9679 thumbprints, signing for tools.

use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

use coset::cbor::value::Value;
use ed25519_dalek::Signer as _;
use p256::ecdsa::signature::Verifier as _;
use sha2::{Digest as _, Sha256};

/// A COSE signature algorithm a command may be signed with (RFC 9053, RFC 9864).
///
/// The same names and ids as `proverka_statement::Algorithm`, without the P-384 pair: devices
/// sign with P-256 (secure elements, TPMs) or Ed25519. An algorithm is only ever used with a
/// key of its own type ([`PublicKey::accepts`]); the header's `alg` alone is never trusted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// ECDSA with SHA-256 (COSE -7, polymorphic); with P-256 keys only.
    Es256,
    /// ECDSA using P-256 and SHA-256 (COSE -9, RFC 9864).
    Esp256,
    /// EdDSA (COSE -8, polymorphic); with Ed25519 keys only.
    EdDsa,
    /// Ed25519 (COSE -19, RFC 9864).
    Ed25519,
}

impl Algorithm {
    /// All accepted algorithms.
    pub const ALL: [Algorithm; 4] = [
        Algorithm::Es256,
        Algorithm::Esp256,
        Algorithm::EdDsa,
        Algorithm::Ed25519,
    ];

    /// Returns the COSE algorithm identifier.
    pub fn cose_id(self) -> i64 {
        match self {
            Algorithm::Es256 => -7,
            Algorithm::Esp256 => -9,
            Algorithm::EdDsa => -8,
            Algorithm::Ed25519 => -19,
        }
    }

    /// Maps a COSE algorithm identifier to an accepted algorithm; `None` for anything else.
    pub fn from_cose_id(id: i64) -> Option<Self> {
        Self::ALL.into_iter().find(|alg| alg.cose_id() == id)
    }

    /// Returns the only key type this algorithm may be used with.
    pub fn key_type(self) -> KeyType {
        match self {
            Algorithm::Es256 | Algorithm::Esp256 => KeyType::P256,
            Algorithm::EdDsa | Algorithm::Ed25519 => KeyType::Ed25519,
        }
    }

    /// Returns the IANA name.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Es256 => "ES256",
            Algorithm::Esp256 => "ESP256",
            Algorithm::EdDsa => "EdDSA",
            Algorithm::Ed25519 => "Ed25519",
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.cose_id())
    }
}

/// The type of a sender key: its curve.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyType {
    /// NIST P-256, COSE EC2 curve 1.
    P256,
    /// Ed25519, COSE OKP curve 6.
    Ed25519,
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeyType::P256 => "P-256",
            KeyType::Ed25519 => "Ed25519",
        })
    }
}

/// Why bytes are not a usable public key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyError {
    /// Not a valid point encoding on the curve.
    InvalidPoint(KeyType),
    /// An Ed25519 key of small order: it would "verify" signatures nobody made.
    WeakKey,
    /// Not a valid P-256 private scalar (zero or not below the group order).
    InvalidScalar,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::InvalidPoint(t) => write!(f, "not a valid {t} public key"),
            KeyError::WeakKey => f.write_str("Ed25519 public key of small order"),
            KeyError::InvalidScalar => f.write_str("not a valid P-256 private scalar"),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Inner {
    P256(p256::ecdsa::VerifyingKey),
    Ed25519(ed25519_dalek::VerifyingKey),
}

/// A sender's public key, parsed once (point decompressed, validated) together with its
/// RFC 9679 thumbprint, so that verifying a command does neither again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicKey {
    inner: Inner,
    thumbprint: [u8; 32],
}

impl PublicKey {
    /// Reads a SEC1 P-256 point (uncompressed `04 || x || y` or compressed) and checks it is on
    /// the curve and not the identity.
    pub fn from_p256_sec1(bytes: &[u8]) -> Result<Self, KeyError> {
        let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(bytes)
            .map_err(|_| KeyError::InvalidPoint(KeyType::P256))?;
        Ok(Self::with_thumbprint(Inner::P256(key)))
    }

    /// Reads an Ed25519 public key (RFC 8032 encoding); refuses non-points and small-order
    /// (weak) keys.
    pub fn from_ed25519_bytes(bytes: &[u8; 32]) -> Result<Self, KeyError> {
        let key = ed25519_dalek::VerifyingKey::from_bytes(bytes)
            .map_err(|_| KeyError::InvalidPoint(KeyType::Ed25519))?;
        if key.is_weak() {
            return Err(KeyError::WeakKey);
        }
        Ok(Self::with_thumbprint(Inner::Ed25519(key)))
    }

    fn with_thumbprint(inner: Inner) -> Self {
        let thumbprint = Sha256::digest(cose_key(&inner)).into();
        Self { inner, thumbprint }
    }

    /// Returns the key's type.
    pub fn key_type(&self) -> KeyType {
        match self.inner {
            Inner::P256(_) => KeyType::P256,
            Inner::Ed25519(_) => KeyType::Ed25519,
        }
    }

    /// Tells whether signatures by this key may use `alg` (ES256/ESP256 with P-256,
    /// EdDSA/Ed25519 with Ed25519).
    pub fn accepts(&self, alg: Algorithm) -> bool {
        alg.key_type() == self.key_type()
    }

    /// Returns the RFC 9679 COSE Key Thumbprint (SHA-256 over [`PublicKey::to_cose_key`]): the
    /// `kid` a command signed by this key carries. Computed once, at construction.
    pub fn thumbprint(&self) -> &[u8; 32] {
        &self.thumbprint
    }

    /// Encodes the key as the COSE_Key an RFC 9679 thumbprint hashes: only kty, crv, x and
    /// (EC2) y, in core deterministic encoding — the same bytes as
    /// `proverka_statement::PublicKey::to_cose_key`.
    pub fn to_cose_key(&self) -> Vec<u8> {
        cose_key(&self.inner)
    }

    /// Verifies a raw COSE signature over `message`: 64 bytes `r || s` for ECDSA P-256, 64
    /// bytes for Ed25519. The caller has checked [`PublicKey::accepts`].
    ///
    /// Ed25519 rule set: `ed25519-dalek`'s `verify_strict` (RFC 8032 with canonical `S`,
    /// cofactorless equation, small-order `R` and `A` refused). Every signature made by an
    /// RFC 8032 signer passes; it accepts a subset of what the ZIP-215 rules of
    /// `proverka-statement` accept (there is no batch verification of commands to agree with).
    /// ECDSA: `p256`'s verifier, which accepts both low and high `s` (replay protection
    /// does not rely on signature bytes).
    pub(crate) fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        match &self.inner {
            Inner::P256(key) => p256::ecdsa::Signature::from_slice(signature)
                .is_ok_and(|sig| key.verify(message, &sig).is_ok()),
            Inner::Ed25519(key) => <[u8; 64]>::try_from(signature).is_ok_and(|sig| {
                key.verify_strict(message, &ed25519_dalek::Signature::from_bytes(&sig))
                    .is_ok()
            }),
        }
    }
}

/// COSE_Key labels and values (RFC 9052 §7, RFC 9053 §7).
const KTY: i64 = 1;
const CRV: i64 = -1;
const X: i64 = -2;
const Y: i64 = -3;
const KTY_OKP: i64 = 1;
const KTY_EC2: i64 = 2;
const CRV_P256: i64 = 1;
const CRV_ED25519: i64 = 6;

/// The thumbprint input. Labels 1, -1, -2, -3 encode as 0x01, 0x20, 0x21, 0x22: this order is
/// already the deterministic (bytewise) one.
fn cose_key(inner: &Inner) -> Vec<u8> {
    let entries = match inner {
        Inner::P256(key) => {
            let point = key.to_encoded_point(false);
            let coordinate = |c: Option<&p256::FieldBytes>| {
                Value::Bytes(c.map(|c| c.to_vec()).unwrap_or_default())
            };
            vec![
                (Value::from(KTY), Value::from(KTY_EC2)),
                (Value::from(CRV), Value::from(CRV_P256)),
                (Value::from(X), coordinate(point.x())),
                (Value::from(Y), coordinate(point.y())),
            ]
        }
        Inner::Ed25519(key) => vec![
            (Value::from(KTY), Value::from(KTY_OKP)),
            (Value::from(CRV), Value::from(CRV_ED25519)),
            (Value::from(X), Value::Bytes(key.as_bytes().to_vec())),
        ],
    };
    crate::cbor::encode(&Value::Map(entries))
}

/// A device's private key, for tools and tests that produce commands. Devices normally sign
/// inside a secure element; nothing on the verification path uses this type.
#[derive(Clone)]
pub enum SigningKey {
    /// A P-256 key; signs ESP256 (RFC 6979 deterministic ECDSA).
    P256(p256::ecdsa::SigningKey),
    /// An Ed25519 key; signs Ed25519 (deterministic by construction).
    Ed25519(ed25519_dalek::SigningKey),
}

impl SigningKey {
    /// An Ed25519 key from its 32-byte seed (RFC 8032 private key).
    pub fn from_ed25519_seed(seed: [u8; 32]) -> Self {
        SigningKey::Ed25519(ed25519_dalek::SigningKey::from_bytes(&seed))
    }

    /// A P-256 key from its 32-byte big-endian scalar.
    pub fn from_p256_scalar(scalar: &[u8; 32]) -> Result<Self, KeyError> {
        p256::ecdsa::SigningKey::from_slice(scalar)
            .map(SigningKey::P256)
            .map_err(|_| KeyError::InvalidScalar)
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey::with_thumbprint(match self {
            SigningKey::P256(k) => Inner::P256(*k.verifying_key()),
            SigningKey::Ed25519(k) => Inner::Ed25519(k.verifying_key()),
        })
    }

    /// The fully specified algorithm this key signs with: ESP256 (-9) or Ed25519 (-19).
    pub fn algorithm(&self) -> Algorithm {
        match self {
            SigningKey::P256(_) => Algorithm::Esp256,
            SigningKey::Ed25519(_) => Algorithm::Ed25519,
        }
    }

    /// Signs `message`, returning the raw COSE signature (64 bytes either way).
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        match self {
            SigningKey::P256(k) => {
                let sig: p256::ecdsa::Signature = k.sign(message);
                sig.to_bytes().to_vec()
            }
            SigningKey::Ed25519(k) => k.sign(message).to_bytes().to_vec(),
        }
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey({}, kid ", self.public_key().key_type())?;
        self.public_key()
            .thumbprint()
            .iter()
            .try_for_each(|b| write!(f, "{b:02x}"))?;
        f.write_str(")")
    }
}
