//! Typed errors. Messages are shown to API users, so they say what was wrong and what is
//! expected, without echoing unbounded input back.

use crate::{Algorithm, KeyType};

/// Why a key could not be read, built or used for signing.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The PEM text is longer than [`crate::MAX_PEM_BYTES`].
    #[error("PEM document is {len} bytes, more than the limit of {max}")]
    PemTooLarge {
        /// Actual length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The text is not a PEM document.
    #[error("not a valid PEM document: {0}")]
    Pem(String),
    /// The PEM label is not the one expected.
    #[error("expected a PEM \"{expected}\" block, found \"{found}\"")]
    PemLabel {
        /// The label we read.
        expected: &'static str,
        /// The label found (truncated to 64 bytes).
        found: String,
    },
    /// The DER is not a SubjectPublicKeyInfo for P-256, P-384 or Ed25519.
    #[error("not a P-256, P-384 or Ed25519 SubjectPublicKeyInfo (uncompressed EC points only)")]
    UnsupportedSpki,
    /// The COSE_Key is longer than [`crate::MAX_COSE_KEY_BYTES`].
    #[error("COSE_Key is {len} bytes, more than the limit of {max}")]
    CoseKeyTooLarge {
        /// Actual length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The COSE_Key is not well formed.
    #[error("malformed COSE_Key: {0}")]
    MalformedCoseKey(&'static str),
    /// The COSE_Key is well formed but not a P-256, P-384 or Ed25519 public key.
    #[error("unsupported COSE_Key: {0}")]
    UnsupportedCoseKey(&'static str),
    /// The key bytes do not encode a point on the curve.
    #[error("public key is not a valid point on {0}")]
    InvalidPoint(KeyType),
    /// We verify this key type but never sign with it.
    #[error("{0} keys are supported for verification only, not for signing")]
    UnsupportedForSigning(KeyType),
    /// The DER is not an unencrypted PKCS#8 P-256 or Ed25519 private key.
    #[error("not an unencrypted PKCS#8 P-256 or Ed25519 private key")]
    UnsupportedPrivateKey,
    /// The crypto library failed to generate or encode a key.
    #[error("key generation failed in the crypto library")]
    Generation,
}

/// Why a signature did not verify.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The algorithm may not be used with this key type (e.g. EdDSA with a P-256 key).
    #[error("algorithm {alg} cannot be used with a {key} key")]
    AlgorithmKeyMismatch {
        /// The algorithm named by the signer.
        alg: Algorithm,
        /// The type of the key offered.
        key: KeyType,
    },
    /// The signature is invalid, has the wrong length, or the key is not a valid point.
    #[error("signature does not verify")]
    BadSignature,
}

/// Why a statement was rejected. Each variant is one distinct rule of `docs/statements.md`;
/// [`StatementError::code`] gives a stable identifier for API problem types.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StatementError {
    /// Longer than [`crate::Limits::max_statement_bytes`]; checked before decoding.
    #[error("statement is {len} bytes, more than the limit of {max}")]
    TooLarge {
        /// Actual length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Not well-formed CBOR.
    #[error("statement is not well-formed CBOR: {0}")]
    NotCbor(String),
    /// The CBOR item ends before its declared length.
    #[error("statement is truncated: the CBOR item ends early")]
    Truncated,
    /// Bytes follow the single CBOR item.
    #[error("{count} trailing bytes after the COSE_Sign1 item")]
    TrailingBytes {
        /// Number of extra bytes.
        count: usize,
    },
    /// Arrays and maps nest deeper than [`crate::MAX_CBOR_DEPTH`].
    #[error("CBOR nests deeper than {max} levels")]
    TooDeep {
        /// The limit.
        max: usize,
    },
    /// Not a COSE_Sign1 carrying CBOR tag 18 (tag missing or another tag).
    #[error("expected a COSE_Sign1 with CBOR tag 18, found {}", describe_tag(*found))]
    WrongTag {
        /// The outer tag found, if any.
        found: Option<u64>,
    },
    /// Tagged 18 but not `[protected, unprotected, payload, signature]` of the right types.
    #[error("malformed COSE_Sign1: {0}")]
    MalformedSign1(&'static str),
    /// The protected header is not a byte string holding exactly one CBOR map.
    #[error("protected header must be a byte string holding one CBOR map: {0}")]
    ProtectedHeaderNotMap(&'static str),
    /// A header bucket or `crit` holds more entries than [`crate::Limits::max_header_entries`].
    #[error("{bucket} has {count} entries, more than the limit of {max}")]
    TooManyHeaderEntries {
        /// "protected header", "unprotected header" or "crit".
        bucket: &'static str,
        /// Actual count.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A map key is neither an integer nor a text string.
    #[error("{location} has a label that is not an integer or text string")]
    InvalidLabel {
        /// Where the label was found.
        location: &'static str,
    },
    /// A label appears twice in one map, or in both header buckets.
    #[error("label {label} appears more than once in the {location}")]
    DuplicateLabel {
        /// Where the duplicate was found.
        location: &'static str,
        /// The label.
        label: String,
    },
    /// A parameter that must be integrity protected is in the unprotected bucket.
    #[error("header parameter {0} must be in the protected header, not the unprotected one")]
    MustBeProtected(i64),
    /// No `alg` (label 1) in the protected header.
    #[error("protected header has no alg (label 1)")]
    MissingAlgorithm,
    /// `alg` is an integer we do not accept.
    #[error("unsupported algorithm {0}; accepted: ES256 (-7), ESP256 (-9), EdDSA (-8), Ed25519 (-19), ES384 (-35), ESP384 (-51)")]
    UnsupportedAlgorithm(i64),
    /// `alg` is not an integer (text algorithm names are not accepted).
    #[error("alg (label 1) must be an integer COSE algorithm identifier")]
    InvalidAlgorithm,
    /// No `kid` (label 4) in the protected header.
    #[error("protected header has no kid (label 4); it must be the RFC 9679 thumbprint of the issuer key")]
    MissingKid,
    /// `kid` is not a 32-byte byte string.
    #[error("kid (label 4) must be a 32-byte byte string (an RFC 9679 SHA-256 thumbprint)")]
    InvalidKid,
    /// `crit` (label 2) is not a non-empty array of labels.
    #[error("crit (label 2) must be a non-empty array of integer or text labels")]
    MalformedCrit,
    /// `crit` lists a header parameter we do not understand.
    #[error("crit lists header parameter {0}, which this verifier does not understand")]
    UnknownCriticalHeader(String),
    /// No `content type` (label 3) in the protected header.
    #[error("protected header has no content type (label 3)")]
    MissingContentType,
    /// `content type` is neither a non-empty text string nor a CoAP Content-Format (0..=65535).
    #[error("content type (label 3) must be a non-empty media-type string or a CoAP Content-Format integer 0..=65535")]
    InvalidContentType,
    /// No CWT claims (label 15) in the protected header.
    #[error("protected header has no CWT claims (label 15)")]
    MissingCwtClaims,
    /// The CWT claims value is not a map.
    #[error("CWT claims (label 15) must be a map")]
    CwtClaimsNotMap,
    /// The CWT claims map holds more entries than [`crate::Limits::max_claims`].
    #[error("CWT claims has {count} entries, more than the limit of {max}")]
    TooManyClaims {
        /// Actual count.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A required CWT claim is absent.
    #[error("CWT claims lack the required claim {0}")]
    MissingClaim(&'static str),
    /// A CWT claim has the wrong type.
    #[error("CWT claim {claim} must be {expected}")]
    InvalidClaim {
        /// The claim name (iss, sub, iat, exp, nbf).
        claim: &'static str,
        /// What it must be.
        expected: &'static str,
    },
    /// A text field is longer than [`crate::Limits::max_string_bytes`].
    #[error("{field} is {len} bytes, more than the limit of {max}")]
    StringTooLong {
        /// The field (iss, sub, content type).
        field: &'static str,
        /// Actual length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The payload is nil (detached). Registration needs the payload itself.
    #[error("payload is detached (nil); registration requires the payload to be embedded")]
    DetachedPayload,
    /// The key's type cannot be used with the statement's algorithm.
    #[error("algorithm {alg} cannot be used with a {key} key")]
    AlgorithmKeyMismatch {
        /// The statement's algorithm.
        alg: Algorithm,
        /// The type of the key offered.
        key: KeyType,
    },
    /// The key offered is not the one the statement's `kid` names.
    #[error("kid does not match the thumbprint of the key offered")]
    KidMismatch,
    /// The signature does not verify (or has the wrong length).
    #[error("statement signature does not verify")]
    BadSignature,
}

impl StatementError {
    /// Returns a stable, kebab-case identifier of the rule that failed, for problem-details
    /// `type` URIs and metrics labels.
    pub fn code(&self) -> &'static str {
        match self {
            StatementError::TooLarge { .. } => "too-large",
            StatementError::NotCbor(_) => "not-cbor",
            StatementError::Truncated => "truncated",
            StatementError::TrailingBytes { .. } => "trailing-bytes",
            StatementError::TooDeep { .. } => "too-deep",
            StatementError::WrongTag { .. } => "wrong-tag",
            StatementError::MalformedSign1(_) => "malformed-sign1",
            StatementError::ProtectedHeaderNotMap(_) => "protected-header-not-map",
            StatementError::TooManyHeaderEntries { .. } => "too-many-header-entries",
            StatementError::InvalidLabel { .. } => "invalid-label",
            StatementError::DuplicateLabel { .. } => "duplicate-label",
            StatementError::MustBeProtected(_) => "must-be-protected",
            StatementError::MissingAlgorithm => "missing-alg",
            StatementError::UnsupportedAlgorithm(_) => "unsupported-alg",
            StatementError::InvalidAlgorithm => "invalid-alg",
            StatementError::MissingKid => "missing-kid",
            StatementError::InvalidKid => "invalid-kid",
            StatementError::MalformedCrit => "malformed-crit",
            StatementError::UnknownCriticalHeader(_) => "unknown-critical-header",
            StatementError::MissingContentType => "missing-content-type",
            StatementError::InvalidContentType => "invalid-content-type",
            StatementError::MissingCwtClaims => "missing-cwt-claims",
            StatementError::CwtClaimsNotMap => "cwt-claims-not-map",
            StatementError::TooManyClaims { .. } => "too-many-claims",
            StatementError::MissingClaim(_) => "missing-claim",
            StatementError::InvalidClaim { .. } => "invalid-claim",
            StatementError::StringTooLong { .. } => "string-too-long",
            StatementError::DetachedPayload => "detached-payload",
            StatementError::AlgorithmKeyMismatch { .. } => "alg-key-mismatch",
            StatementError::KidMismatch => "kid-mismatch",
            StatementError::BadSignature => "bad-signature",
        }
    }
}

impl From<SignatureError> for StatementError {
    fn from(e: SignatureError) -> Self {
        match e {
            SignatureError::AlgorithmKeyMismatch { alg, key } => {
                StatementError::AlgorithmKeyMismatch { alg, key }
            }
            SignatureError::BadSignature => StatementError::BadSignature,
        }
    }
}

fn describe_tag(found: Option<u64>) -> String {
    match found {
        Some(tag) => format!("tag {tag}"),
        None => "no tag".to_owned(),
    }
}
