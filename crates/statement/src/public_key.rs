//! Issuer public keys: COSE_Key and SPKI encodings, RFC 9679 thumbprints, signature checks.

use core::fmt;
use core::hash::{Hash, Hasher};

use aws_lc_rs::signature::{
    ParsedPublicKey, VerificationAlgorithm, ECDSA_P256_SHA256_FIXED, ECDSA_P384_SHA384_FIXED,
};
use ciborium::value::Value;
use coset::iana::{self, EnumI64};
use coset::{CborSerializable, CoseKey, Label, RegisteredLabel, RegisteredLabelWithPrivate};
use sha2::{Digest, Sha256};

use crate::cbor::{as_i64, deterministic_map, encode};
use crate::{Algorithm, KeyError, KeyType, SignatureError, MAX_COSE_KEY_BYTES, MAX_PEM_BYTES};

/// Most keys accepted in a COSE_KeySet.
pub const MAX_KEY_SET_KEYS: usize = 64;
/// Largest COSE_KeySet accepted, in bytes.
pub const MAX_KEY_SET_BYTES: usize = 65_536;

/// COSE_Key labels (RFC 9052 §7, RFC 9053 §7).
const KTY: i64 = iana::KeyParameter::Kty as i64;
const CRV: i64 = iana::Ec2KeyParameter::Crv as i64;
const X: i64 = iana::Ec2KeyParameter::X as i64;
const Y: i64 = iana::Ec2KeyParameter::Y as i64;
const D: i64 = iana::Ec2KeyParameter::D as i64;

/// Length of an Ed25519 public key and of its signatures' halves.
const ED25519_KEY_LEN: usize = 32;

/// DER header of an Ed25519 SubjectPublicKeyInfo (RFC 8410 §4), followed by the 32-byte key.
const ED25519_SPKI_PREFIX: &[u8] = &[
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// The parameters of one NIST curve we verify on.
struct Curve {
    key_type: KeyType,
    /// Coordinate (and signature half) length in bytes.
    coord_len: usize,
    cose_crv: i64,
    verification: &'static dyn VerificationAlgorithm,
    /// DER header of an id-ecPublicKey SubjectPublicKeyInfo for this named curve (RFC 5480)
    /// with an uncompressed point, followed by the point itself.
    spki_prefix: &'static [u8],
}

static P256: Curve = Curve {
    key_type: KeyType::P256,
    coord_len: 32,
    cose_crv: iana::EllipticCurve::P_256 as i64,
    verification: &ECDSA_P256_SHA256_FIXED,
    spki_prefix: &[
        0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08,
        0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
    ],
};

static P384: Curve = Curve {
    key_type: KeyType::P384,
    coord_len: 48,
    cose_crv: iana::EllipticCurve::P_384 as i64,
    verification: &ECDSA_P384_SHA384_FIXED,
    spki_prefix: &[
        0x30, 0x76, 0x30, 0x10, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x05,
        0x2b, 0x81, 0x04, 0x00, 0x22, 0x03, 0x62, 0x00,
    ],
};

impl Curve {
    /// Length of an uncompressed SEC1 point: 0x04 || x || y.
    fn point_len(&self) -> usize {
        1 + 2 * self.coord_len
    }
}

/// A validated EC public key: its uncompressed SEC1 point and the crypto library's parsed form,
/// kept so that each verification skips re-parsing the point.
#[derive(Clone)]
struct EcKey {
    curve: &'static Curve,
    point: Vec<u8>,
    parsed: ParsedPublicKey,
}

impl EcKey {
    /// Validates an uncompressed SEC1 point (the library checks it lies on the curve).
    fn from_point(curve: &'static Curve, point: &[u8]) -> Result<Self, KeyError> {
        if point.len() != curve.point_len() || point.first() != Some(&0x04) {
            return Err(KeyError::InvalidPoint(curve.key_type));
        }
        let parsed = ParsedPublicKey::new(curve.verification, point)
            .map_err(|_| KeyError::InvalidPoint(curve.key_type))?;
        Ok(Self {
            curve,
            point: point.to_vec(),
            parsed,
        })
    }

    fn x(&self) -> &[u8] {
        &self.point[1..1 + self.curve.coord_len]
    }

    fn y(&self) -> &[u8] {
        &self.point[1 + self.curve.coord_len..]
    }

    fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), SignatureError> {
        // COSE carries raw r || s, each exactly one coordinate long (RFC 9053 §2.1).
        if signature.len() != 2 * self.curve.coord_len {
            return Err(SignatureError::BadSignature);
        }
        self.parsed
            .verify_sig(message, signature)
            .map_err(|_| SignatureError::BadSignature)
    }
}

impl PartialEq for EcKey {
    fn eq(&self, other: &Self) -> bool {
        self.curve.key_type == other.curve.key_type && self.point == other.point
    }
}

impl Eq for EcKey {}

impl Hash for EcKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.point.hash(state);
    }
}

impl fmt::Debug for EcKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({})", self.curve.key_type, hex::encode(&self.point))
    }
}

/// A validated P-256 public key.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct P256PublicKey(EcKey);

/// A validated P-384 public key.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct P384PublicKey(EcKey);

/// An issuer's public key. Keys built by this crate's constructors are validated points.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PublicKey {
    /// NIST P-256 key, for ES256 and ESP256.
    P256(P256PublicKey),
    /// NIST P-384 key, for ES384 and ESP384.
    P384(P384PublicKey),
    /// Ed25519 key (RFC 8032 encoding), for EdDSA and Ed25519. Build it with
    /// [`PublicKey::from_ed25519_bytes`] to have the encoding checked; an invalid one constructed
    /// directly simply never verifies.
    Ed25519([u8; 32]),
}

impl PublicKey {
    /// Returns the key's type (its curve).
    pub fn key_type(&self) -> KeyType {
        match self {
            PublicKey::P256(_) => KeyType::P256,
            PublicKey::P384(_) => KeyType::P384,
            PublicKey::Ed25519(_) => KeyType::Ed25519,
        }
    }

    /// Tells whether signatures by this key may use `alg`: ES256/ESP256 with P-256, EdDSA/Ed25519
    /// with Ed25519, ES384/ESP384 with P-384. The header's `alg` alone is never trusted.
    pub fn accepts(&self, alg: Algorithm) -> bool {
        alg.key_type() == self.key_type()
    }

    /// True for an Ed25519 key of small order (e.g. the identity point). Under the ZIP-215
    /// rules such a key "verifies" signatures nobody made, so it must never become an issuer
    /// key; honestly generated keys never are small-order. Other key types: false.
    pub fn is_weak(&self) -> bool {
        match self {
            PublicKey::Ed25519(bytes) => curve25519_dalek_ng::edwards::CompressedEdwardsY(*bytes)
                .decompress()
                .is_none_or(|point| point.is_small_order()),
            _ => false,
        }
    }

    /// Checks an Ed25519 public key encoding (a point on the curve, ZIP-215 rules).
    pub fn from_ed25519_bytes(bytes: [u8; 32]) -> Result<Self, KeyError> {
        ed25519_consensus::VerificationKey::try_from(bytes)
            .map_err(|_| KeyError::InvalidPoint(KeyType::Ed25519))?;
        Ok(PublicKey::Ed25519(bytes))
    }

    /// Reads an uncompressed SEC1 point (0x04 || x || y) on P-256, as signing keys report it.
    pub(crate) fn from_p256_point(point: &[u8]) -> Result<Self, KeyError> {
        Self::from_ec_point(&P256, point)
    }

    fn from_ec_point(curve: &'static Curve, point: &[u8]) -> Result<Self, KeyError> {
        let key = EcKey::from_point(curve, point)?;
        Ok(if curve.key_type == KeyType::P384 {
            PublicKey::P384(P384PublicKey(key))
        } else {
            PublicKey::P256(P256PublicKey(key))
        })
    }

    /// Encodes the key as a COSE_Key map holding only kty, crv, x and (for EC2) y, in core
    /// deterministic encoding (RFC 8949 §4.2.1): the exact bytes an RFC 9679 thumbprint hashes.
    pub fn to_cose_key(&self) -> Vec<u8> {
        let entries = match self {
            PublicKey::P256(P256PublicKey(k)) | PublicKey::P384(P384PublicKey(k)) => vec![
                (Value::from(KTY), Value::from(iana::KeyType::EC2 as i64)),
                (Value::from(CRV), Value::from(k.curve.cose_crv)),
                (Value::from(X), Value::Bytes(k.x().to_vec())),
                (Value::from(Y), Value::Bytes(k.y().to_vec())),
            ],
            PublicKey::Ed25519(bytes) => vec![
                (Value::from(KTY), Value::from(iana::KeyType::OKP as i64)),
                (
                    Value::from(CRV),
                    Value::from(iana::EllipticCurve::Ed25519 as i64),
                ),
                (Value::from(X), Value::Bytes(bytes.to_vec())),
            ],
        };
        encode(&deterministic_map(entries))
    }

    /// Reads a COSE_KeySet (a CBOR array of COSE_Keys, as served at `/.well-known/scitt-keys`),
    /// at most [`MAX_KEY_SET_KEYS`] keys in [`MAX_KEY_SET_BYTES`] bytes.
    pub fn from_cose_key_set(bytes: &[u8]) -> Result<Vec<Self>, KeyError> {
        if bytes.len() > MAX_KEY_SET_BYTES {
            return Err(KeyError::CoseKeyTooLarge {
                len: bytes.len(),
                max: MAX_KEY_SET_BYTES,
            });
        }
        let set: Value = ciborium::from_reader(bytes)
            .map_err(|_| KeyError::MalformedCoseKey("key set is not CBOR"))?;
        let Value::Array(keys) = set else {
            return Err(KeyError::MalformedCoseKey("key set is not a CBOR array"));
        };
        if keys.len() > MAX_KEY_SET_KEYS {
            return Err(KeyError::MalformedCoseKey("key set holds too many keys"));
        }
        keys.iter()
            .map(|k| Self::from_cose_key(&encode(k)))
            .collect()
    }

    /// Reads a public COSE_Key (EC2 P-256/P-384 with uncompressed x and y, or OKP Ed25519) and
    /// checks the point is on the curve. Optional members (kid, key_ops) are ignored; an `alg`
    /// member must be one the key type accepts; a private key (member `d`) is refused.
    pub fn from_cose_key(bytes: &[u8]) -> Result<Self, KeyError> {
        if bytes.len() > MAX_COSE_KEY_BYTES {
            return Err(KeyError::CoseKeyTooLarge {
                len: bytes.len(),
                max: MAX_COSE_KEY_BYTES,
            });
        }
        let key = CoseKey::from_slice(bytes)
            .map_err(|_| KeyError::MalformedCoseKey("not a single CBOR COSE_Key map"))?;
        if cose_param(&key, D).is_some() {
            return Err(KeyError::MalformedCoseKey(
                "holds a private key (member d); pass the public key only",
            ));
        }
        let public = match key.kty {
            RegisteredLabel::Assigned(iana::KeyType::EC2) => ec2_from_cose(&key)?,
            RegisteredLabel::Assigned(iana::KeyType::OKP) => okp_from_cose(&key)?,
            _ => {
                return Err(KeyError::UnsupportedCoseKey(
                    "kty must be EC2 (2) or OKP (1)",
                ))
            }
        };
        check_cose_key_alg(&key, &public)?;
        Ok(public)
    }

    /// Returns the RFC 9679 COSE Key Thumbprint: SHA-256 over [`PublicKey::to_cose_key`].
    /// Statements name their key by this value in `kid`.
    pub fn thumbprint(&self) -> [u8; 32] {
        Sha256::digest(self.to_cose_key()).into()
    }

    /// Reads a DER SubjectPublicKeyInfo: id-ecPublicKey on P-256 or P-384 with an uncompressed
    /// point (RFC 5480), or id-Ed25519 (RFC 8410). The DER must be exactly the canonical
    /// encoding; compressed points and explicit curve parameters are refused.
    pub fn from_spki_der(der: &[u8]) -> Result<Self, KeyError> {
        for curve in [&P256, &P384] {
            if let Some(point) = strip_prefix_exact(der, curve.spki_prefix, curve.point_len()) {
                return Self::from_ec_point(curve, point);
            }
        }
        if let Some(key) = strip_prefix_exact(der, ED25519_SPKI_PREFIX, ED25519_KEY_LEN) {
            let bytes: [u8; 32] = key.try_into().map_err(|_| KeyError::UnsupportedSpki)?;
            return Self::from_ed25519_bytes(bytes);
        }
        Err(KeyError::UnsupportedSpki)
    }

    /// Reads a PEM "PUBLIC KEY" block holding a SubjectPublicKeyInfo (as written by
    /// `openssl pkey -pubout`).
    pub fn from_spki_pem(pem: &str) -> Result<Self, KeyError> {
        let der = read_pem(pem, "PUBLIC KEY")?;
        Self::from_spki_der(&der)
    }

    /// Encodes the key as a DER SubjectPublicKeyInfo.
    pub fn to_spki_der(&self) -> Vec<u8> {
        match self {
            PublicKey::P256(P256PublicKey(k)) | PublicKey::P384(P384PublicKey(k)) => {
                [k.curve.spki_prefix, &k.point].concat()
            }
            PublicKey::Ed25519(bytes) => [ED25519_SPKI_PREFIX, bytes].concat(),
        }
    }

    /// Encodes the key as a PEM "PUBLIC KEY" block (LF line endings).
    pub fn to_spki_pem(&self) -> String {
        write_pem("PUBLIC KEY", self.to_spki_der())
    }

    /// Verifies a raw COSE signature (r || s for ECDSA: 64 bytes on P-256, 96 on P-384; 64 bytes
    /// for Ed25519) over `message`. Fails with `AlgorithmKeyMismatch` when `alg` is not bound to
    /// this key's type, whatever the signature.
    ///
    /// Ed25519 uses the ZIP-215 rules of `ed25519-consensus`, the same as [`crate::verify_batch`].
    pub fn verify(
        &self,
        alg: Algorithm,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), SignatureError> {
        if !self.accepts(alg) {
            return Err(SignatureError::AlgorithmKeyMismatch {
                alg,
                key: self.key_type(),
            });
        }
        match self {
            PublicKey::P256(P256PublicKey(k)) | PublicKey::P384(P384PublicKey(k)) => {
                k.verify(message, signature)
            }
            PublicKey::Ed25519(bytes) => verify_ed25519(bytes, message, signature),
        }
    }
}

fn verify_ed25519(key: &[u8; 32], message: &[u8], signature: &[u8]) -> Result<(), SignatureError> {
    let signature: [u8; 64] = signature
        .try_into()
        .map_err(|_| SignatureError::BadSignature)?;
    let key = ed25519_consensus::VerificationKey::try_from(*key)
        .map_err(|_| SignatureError::BadSignature)?;
    key.verify(&ed25519_consensus::Signature::from(signature), message)
        .map_err(|_| SignatureError::BadSignature)
}

/// Returns the bytes after `prefix` if `der` is exactly `prefix` followed by `len` bytes.
fn strip_prefix_exact<'a>(der: &'a [u8], prefix: &[u8], len: usize) -> Option<&'a [u8]> {
    der.strip_prefix(prefix).filter(|rest| rest.len() == len)
}

fn cose_param(key: &CoseKey, label: i64) -> Option<&Value> {
    key.params
        .iter()
        .find(|(l, _)| *l == Label::Int(label))
        .map(|(_, v)| v)
}

/// Returns a coordinate that must be a byte string of exactly `len` bytes (RFC 9053 §7.1.1:
/// leading zeros are kept).
fn cose_coordinate<'a>(
    key: &'a CoseKey,
    label: i64,
    len: usize,
    missing: &'static str,
) -> Result<&'a [u8], KeyError> {
    match cose_param(key, label) {
        Some(Value::Bytes(b)) if b.len() == len => Ok(b),
        Some(Value::Bool(_)) => Err(KeyError::UnsupportedCoseKey(
            "compressed EC2 points (y as a boolean) are not supported",
        )),
        Some(_) => Err(KeyError::MalformedCoseKey(
            "coordinate is not a byte string of the curve's size",
        )),
        None => Err(KeyError::MalformedCoseKey(missing)),
    }
}

fn ec2_from_cose(key: &CoseKey) -> Result<PublicKey, KeyError> {
    let crv = cose_param(key, CRV)
        .and_then(as_i64)
        .ok_or(KeyError::MalformedCoseKey(
            "crv (-1) missing or not an integer",
        ))?;
    let curve = [&P256, &P384]
        .into_iter()
        .find(|c| c.cose_crv == crv)
        .ok_or(KeyError::UnsupportedCoseKey(
            "EC2 crv must be P-256 (1) or P-384 (2)",
        ))?;
    let x = cose_coordinate(key, X, curve.coord_len, "x (-2) missing")?;
    let y = cose_coordinate(key, Y, curve.coord_len, "y (-3) missing")?;
    let point = [&[0x04][..], x, y].concat();
    PublicKey::from_ec_point(curve, &point)
}

fn okp_from_cose(key: &CoseKey) -> Result<PublicKey, KeyError> {
    let crv = cose_param(key, CRV)
        .and_then(as_i64)
        .ok_or(KeyError::MalformedCoseKey(
            "crv (-1) missing or not an integer",
        ))?;
    if crv != iana::EllipticCurve::Ed25519 as i64 {
        return Err(KeyError::UnsupportedCoseKey("OKP crv must be Ed25519 (6)"));
    }
    let x = cose_coordinate(key, X, ED25519_KEY_LEN, "x (-2) missing")?;
    let bytes: [u8; 32] = x
        .try_into()
        .map_err(|_| KeyError::MalformedCoseKey("x (-2) is not 32 bytes"))?;
    PublicKey::from_ed25519_bytes(bytes)
}

/// A COSE_Key may restrict its algorithm; if it does, the restriction must fit the key type.
fn check_cose_key_alg(key: &CoseKey, public: &PublicKey) -> Result<(), KeyError> {
    let Some(alg) = &key.alg else {
        return Ok(());
    };
    let id = match alg {
        RegisteredLabelWithPrivate::Assigned(a) => a.to_i64(),
        RegisteredLabelWithPrivate::PrivateUse(i) => *i,
        RegisteredLabelWithPrivate::Text(_) => i64::MIN,
    };
    match Algorithm::from_cose_id(id) {
        Some(alg) if public.accepts(alg) => Ok(()),
        _ => Err(KeyError::UnsupportedCoseKey(
            "alg (3) is not an accepted algorithm for this key type",
        )),
    }
}

/// Decodes a PEM document whose label must be `label`.
pub(crate) fn read_pem(text: &str, label: &'static str) -> Result<Vec<u8>, KeyError> {
    if text.len() > MAX_PEM_BYTES {
        return Err(KeyError::PemTooLarge {
            len: text.len(),
            max: MAX_PEM_BYTES,
        });
    }
    let pem = pem::parse(text).map_err(|e| KeyError::Pem(e.to_string()))?;
    if pem.tag() != label {
        return Err(KeyError::PemLabel {
            expected: label,
            found: pem.tag().chars().take(64).collect(),
        });
    }
    Ok(pem.into_contents())
}

/// Encodes DER as PEM with LF line endings, as OpenSSL writes it.
pub(crate) fn write_pem(label: &str, der: Vec<u8>) -> String {
    pem::encode_config(
        &pem::Pem::new(label, der),
        pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
    )
}
