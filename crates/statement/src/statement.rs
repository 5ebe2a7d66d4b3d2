//! Parsing and verification of signed statements.

use std::collections::BTreeSet;

use ciborium::value::Value;
use coset::iana;
use coset::{AsCborValue, Label, ProtectedHeader, SignatureContext};

use crate::cbor::{as_i64, decode_exact, DecodeError};
use crate::{statement_id, Algorithm, Limits, PublicKey, StatementError, MAX_CBOR_DEPTH};

/// COSE_Sign1 tag (RFC 9052 §4.2).
const COSE_SIGN1_TAG: u64 = iana::CborTag::CoseSign1 as u64;

/// Header labels (RFC 9052 §3.1, RFC 9597 §2).
pub(crate) const ALG: i64 = iana::HeaderParameter::Alg as i64;
pub(crate) const CRIT: i64 = iana::HeaderParameter::Crit as i64;
pub(crate) const CONTENT_TYPE: i64 = iana::HeaderParameter::ContentType as i64;
pub(crate) const KID: i64 = iana::HeaderParameter::Kid as i64;
pub(crate) const CWT_CLAIMS: i64 = iana::HeaderParameter::CwtClaims as i64;

/// CWT claim keys (RFC 8392 §4).
pub(crate) const ISS: i64 = iana::CwtClaimName::Iss as i64;
pub(crate) const SUB: i64 = iana::CwtClaimName::Sub as i64;
pub(crate) const EXP: i64 = iana::CwtClaimName::Exp as i64;
pub(crate) const NBF: i64 = iana::CwtClaimName::Nbf as i64;
pub(crate) const IAT: i64 = iana::CwtClaimName::Iat as i64;

/// Header parameters this verifier processes, and so may be listed in `crit`.
const UNDERSTOOD: [i64; 4] = [ALG, CONTENT_TYPE, KID, CWT_CLAIMS];

/// Header parameters that must be integrity protected: finding one unprotected is an error
/// (RFC 9052 §3.1 for crit; our format for the rest, which the signature must cover).
const PROTECTED_ONLY: [i64; 5] = [ALG, CRIT, CONTENT_TYPE, KID, CWT_CLAIMS];

/// The payload's media type (COSE header label 3).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ContentType {
    /// A media type string, e.g. `application/cbor`.
    Text(String),
    /// A CoAP Content-Format number (RFC 7252 §12.3), e.g. 60 for `application/cbor`.
    CoapFormat(u16),
}

/// A parsed SCITT signed statement. It keeps the exact input bytes: nothing here is ever
/// re-encoded, so [`SignedStatement::bytes`] is what the issuer sent and what the log hashes.
///
/// Parsing checks the format only; call [`SignedStatement::verify`] with the issuer's key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedStatement {
    bytes: Vec<u8>,
    protected: Vec<u8>,
    payload: Vec<u8>,
    signature: Vec<u8>,
    alg: Algorithm,
    kid: [u8; 32],
    content_type: ContentType,
    iss: String,
    sub: String,
    iat: i64,
    exp: Option<i64>,
    nbf: Option<i64>,
}

/// The four members of a COSE_Sign1, still undecoded where that matters.
struct Sign1Parts {
    protected: Vec<u8>,
    unprotected: Vec<(Value, Value)>,
    payload: Option<Vec<u8>>,
    signature: Vec<u8>,
}

/// What we read from the protected header.
struct Protected {
    labels: BTreeSet<Label>,
    alg: Algorithm,
    kid: [u8; 32],
    content_type: ContentType,
    claims: Claims,
}

struct Claims {
    iss: String,
    sub: String,
    iat: i64,
    exp: Option<i64>,
    nbf: Option<i64>,
}

impl SignedStatement {
    /// Parses a signed statement, enforcing every rule of `docs/statements.md` except the
    /// signature. The size limit is checked before any decoding.
    pub fn parse(bytes: &[u8], limits: &Limits) -> Result<Self, StatementError> {
        if bytes.len() > limits.max_statement_bytes {
            return Err(StatementError::TooLarge {
                len: bytes.len(),
                max: limits.max_statement_bytes,
            });
        }
        let value = decode_exact(bytes).map_err(statement_decode_error)?;
        let parts = Sign1Parts::from_value(value)?;
        // Unprotected first: "alg only in the unprotected bucket" is reported as such, not as a
        // missing alg.
        let unprotected = unprotected_labels(&parts.unprotected, limits)?;
        let protected = Protected::parse(&parts.protected, limits)?;
        check_disjoint(&protected.labels, &unprotected)?;
        let payload = parts.payload.ok_or(StatementError::DetachedPayload)?;
        Ok(Self {
            bytes: bytes.to_vec(),
            protected: parts.protected,
            payload,
            signature: parts.signature,
            alg: protected.alg,
            kid: protected.kid,
            content_type: protected.content_type,
            iss: protected.claims.iss,
            sub: protected.claims.sub,
            iat: protected.claims.iat,
            exp: protected.claims.exp,
            nbf: protected.claims.nbf,
        })
    }

    /// Verifies the statement with `key`: the key's RFC 9679 thumbprint must equal `kid`, the
    /// key type must accept `alg`, and the signature must verify over
    /// `Sig_structure = ["Signature1", protected, h'', payload]`.
    pub fn verify(&self, key: &PublicKey) -> Result<(), StatementError> {
        self.check_key(key)?;
        key.verify(self.alg, &self.to_be_signed(), &self.signature)?;
        Ok(())
    }

    /// The checks that come before the signature: `kid` names this key, and the key type
    /// accepts `alg`.
    pub(crate) fn check_key(&self, key: &PublicKey) -> Result<(), StatementError> {
        if key.thumbprint() != self.kid {
            return Err(StatementError::KidMismatch);
        }
        if !key.accepts(self.alg) {
            return Err(StatementError::AlgorithmKeyMismatch {
                alg: self.alg,
                key: key.key_type(),
            });
        }
        Ok(())
    }

    /// Returns the bytes the signature covers (the COSE Sig_structure).
    pub fn to_be_signed(&self) -> Vec<u8> {
        sig_structure(&self.protected, &self.payload)
    }

    /// The exact statement bytes as received.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// SHA-256 of [`SignedStatement::bytes`]: the log entry and entry id.
    pub fn id(&self) -> [u8; 32] {
        statement_id(&self.bytes)
    }

    /// The signature algorithm named in the protected header.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// The key id: the RFC 9679 thumbprint of the issuer's key.
    pub fn kid(&self) -> &[u8; 32] {
        &self.kid
    }

    /// CWT claim `iss`.
    pub fn issuer(&self) -> &str {
        &self.iss
    }

    /// CWT claim `sub`.
    pub fn subject(&self) -> &str {
        &self.sub
    }

    /// CWT claim `iat`, seconds since the Unix epoch as the issuer stated it (not checked
    /// against any clock here: time is the ledger's business).
    pub fn issued_at(&self) -> i64 {
        self.iat
    }

    /// CWT claim `exp`, if present.
    pub fn expires_at(&self) -> Option<i64> {
        self.exp
    }

    /// CWT claim `nbf`, if present.
    pub fn not_before(&self) -> Option<i64> {
        self.nbf
    }

    /// The payload's content type.
    pub fn content_type(&self) -> &ContentType {
        &self.content_type
    }

    /// The embedded payload bytes.
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// The protected header exactly as received (the contents of the bstr).
    pub fn protected_bytes(&self) -> &[u8] {
        &self.protected
    }

    /// The raw signature bytes.
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }
}

/// Builds the COSE_Sign1 `Sig_structure` (RFC 9052 §4.4) with empty external AAD:
/// `["Signature1", protected, h'', payload]`. `protected` is used byte for byte; `payload` may
/// be a detached value (receipts sign a Merkle root this way).
pub fn sig_structure(protected: &[u8], payload: &[u8]) -> Vec<u8> {
    // `original_data` makes coset emit these exact bytes rather than re-encode a parsed header.
    let header = ProtectedHeader {
        original_data: Some(protected.to_vec()),
        header: Default::default(),
    };
    coset::sig_structure_data(SignatureContext::CoseSign1, header, None, &[], payload)
}

fn statement_decode_error(e: DecodeError) -> StatementError {
    match e {
        DecodeError::NotCbor(msg) => StatementError::NotCbor(msg),
        DecodeError::Truncated => StatementError::Truncated,
        DecodeError::Trailing(count) => StatementError::TrailingBytes { count },
        DecodeError::TooDeep => StatementError::TooDeep {
            max: MAX_CBOR_DEPTH,
        },
    }
}

impl Sign1Parts {
    /// Splits `#6.18([protected: bstr, unprotected: map, payload: bstr / nil, signature: bstr])`.
    fn from_value(value: Value) -> Result<Self, StatementError> {
        let inner = match value {
            Value::Tag(COSE_SIGN1_TAG, inner) => *inner,
            Value::Tag(tag, _) => return Err(StatementError::WrongTag { found: Some(tag) }),
            _ => return Err(StatementError::WrongTag { found: None }),
        };
        let Value::Array(items) = inner else {
            return Err(StatementError::MalformedSign1("not an array"));
        };
        let [protected, unprotected, payload, signature]: [Value; 4] = items
            .try_into()
            .map_err(|_| StatementError::MalformedSign1("array must have exactly 4 members"))?;
        let Value::Bytes(protected) = protected else {
            return Err(StatementError::ProtectedHeaderNotMap("not a byte string"));
        };
        let Value::Map(unprotected) = unprotected else {
            return Err(StatementError::MalformedSign1(
                "unprotected header is not a map",
            ));
        };
        let payload = match payload {
            Value::Bytes(b) => Some(b),
            Value::Null => None,
            _ => {
                return Err(StatementError::MalformedSign1(
                    "payload is not a byte string or nil",
                ))
            }
        };
        let Value::Bytes(signature) = signature else {
            return Err(StatementError::MalformedSign1(
                "signature is not a byte string",
            ));
        };
        Ok(Self {
            protected,
            unprotected,
            payload,
            signature,
        })
    }
}

impl Protected {
    fn parse(bytes: &[u8], limits: &Limits) -> Result<Self, StatementError> {
        let entries = protected_entries(bytes)?;
        if entries.len() > limits.max_header_entries {
            return Err(StatementError::TooManyHeaderEntries {
                bucket: "protected header",
                count: entries.len(),
                max: limits.max_header_entries,
            });
        }
        let map = LabelMap::new(&entries, "protected header")?;
        if let Some(crit) = map.get(CRIT) {
            check_crit(crit, limits)?;
        }
        Ok(Self {
            alg: parse_alg(map.get(ALG))?,
            kid: parse_kid(map.get(KID))?,
            content_type: parse_content_type(map.get(CONTENT_TYPE), limits)?,
            claims: Claims::parse(map.get(CWT_CLAIMS), limits)?,
            labels: map.labels(),
        })
    }
}

/// Decodes the protected bstr. An empty bstr is the COSE encoding of an empty map.
fn protected_entries(bytes: &[u8]) -> Result<Vec<(Value, Value)>, StatementError> {
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    match decode_exact(bytes) {
        Ok(Value::Map(entries)) => Ok(entries),
        Ok(_) => Err(StatementError::ProtectedHeaderNotMap(
            "contents are not a map",
        )),
        Err(DecodeError::TooDeep) => Err(StatementError::TooDeep {
            max: MAX_CBOR_DEPTH,
        }),
        Err(_) => Err(StatementError::ProtectedHeaderNotMap(
            "contents are not exactly one well-formed CBOR item",
        )),
    }
}

/// A header or claims map with integer/text labels, checked free of duplicates. Borrows the
/// values so that nested maps are not copied.
struct LabelMap<'a> {
    entries: Vec<(Label, &'a Value)>,
}

impl<'a> LabelMap<'a> {
    fn new(raw: &'a [(Value, Value)], location: &'static str) -> Result<Self, StatementError> {
        let mut seen = BTreeSet::new();
        let mut entries = Vec::with_capacity(raw.len());
        for (key, value) in raw {
            let label = Label::from_cbor_value(key.clone())
                .map_err(|_| StatementError::InvalidLabel { location })?;
            if !seen.insert(label.clone()) {
                return Err(StatementError::DuplicateLabel {
                    location,
                    label: describe_label(&label),
                });
            }
            entries.push((label, value));
        }
        Ok(Self { entries })
    }

    fn get(&self, label: i64) -> Option<&'a Value> {
        self.entries
            .iter()
            .find(|(l, _)| *l == Label::Int(label))
            .map(|(_, v)| *v)
    }

    fn labels(&self) -> BTreeSet<Label> {
        self.entries.iter().map(|(l, _)| l.clone()).collect()
    }
}

fn describe_label(label: &Label) -> String {
    match label {
        Label::Int(i) => i.to_string(),
        // Bounded: labels echoed back to users are cut at 64 characters.
        Label::Text(t) => format!("{:?}", t.chars().take(64).collect::<String>()),
    }
}

fn parse_alg(value: Option<&Value>) -> Result<Algorithm, StatementError> {
    let value = value.ok_or(StatementError::MissingAlgorithm)?;
    let id = as_i64(value).ok_or(StatementError::InvalidAlgorithm)?;
    Algorithm::from_cose_id(id).ok_or(StatementError::UnsupportedAlgorithm(id))
}

fn parse_kid(value: Option<&Value>) -> Result<[u8; 32], StatementError> {
    match value.ok_or(StatementError::MissingKid)? {
        Value::Bytes(b) => b
            .as_slice()
            .try_into()
            .map_err(|_| StatementError::InvalidKid),
        _ => Err(StatementError::InvalidKid),
    }
}

fn parse_content_type(
    value: Option<&Value>,
    limits: &Limits,
) -> Result<ContentType, StatementError> {
    match value.ok_or(StatementError::MissingContentType)? {
        Value::Text(t) if t.is_empty() => Err(StatementError::InvalidContentType),
        Value::Text(t) => {
            check_length("content type", t, limits)?;
            Ok(ContentType::Text(t.clone()))
        }
        Value::Integer(i) => u16::try_from(*i)
            .map(ContentType::CoapFormat)
            .map_err(|_| StatementError::InvalidContentType),
        _ => Err(StatementError::InvalidContentType),
    }
}

/// `crit` must be a non-empty array of labels, all of which we understand (RFC 9052 §3.1).
fn check_crit(value: &Value, limits: &Limits) -> Result<(), StatementError> {
    let Value::Array(labels) = value else {
        return Err(StatementError::MalformedCrit);
    };
    if labels.is_empty() {
        return Err(StatementError::MalformedCrit);
    }
    if labels.len() > limits.max_header_entries {
        return Err(StatementError::TooManyHeaderEntries {
            bucket: "crit",
            count: labels.len(),
            max: limits.max_header_entries,
        });
    }
    for label in labels {
        let label =
            Label::from_cbor_value(label.clone()).map_err(|_| StatementError::MalformedCrit)?;
        let understood = matches!(label, Label::Int(i) if UNDERSTOOD.contains(&i));
        if !understood {
            return Err(StatementError::UnknownCriticalHeader(describe_label(
                &label,
            )));
        }
    }
    Ok(())
}

impl Claims {
    fn parse(value: Option<&Value>, limits: &Limits) -> Result<Self, StatementError> {
        let Value::Map(raw) = value.ok_or(StatementError::MissingCwtClaims)? else {
            return Err(StatementError::CwtClaimsNotMap);
        };
        if raw.len() > limits.max_claims {
            return Err(StatementError::TooManyClaims {
                count: raw.len(),
                max: limits.max_claims,
            });
        }
        let map = LabelMap::new(raw, "CWT claims")?;
        Ok(Self {
            iss: text_claim(&map, ISS, "iss", limits)?,
            sub: text_claim(&map, SUB, "sub", limits)?,
            iat: int_claim(&map, IAT, "iat")?.ok_or(StatementError::MissingClaim("iat"))?,
            exp: int_claim(&map, EXP, "exp")?,
            nbf: int_claim(&map, NBF, "nbf")?,
        })
    }
}

/// A required, non-empty text claim within the string limit.
fn text_claim(
    map: &LabelMap,
    key: i64,
    name: &'static str,
    limits: &Limits,
) -> Result<String, StatementError> {
    match map.get(key).ok_or(StatementError::MissingClaim(name))? {
        Value::Text(t) if !t.is_empty() => {
            check_length(name, t, limits)?;
            Ok(t.clone())
        }
        _ => Err(StatementError::InvalidClaim {
            claim: name,
            expected: "a non-empty text string",
        }),
    }
}

/// An optional integer (NumericDate) claim. Floating-point dates are refused: they have no
/// exact, deterministic meaning.
fn int_claim(map: &LabelMap, key: i64, name: &'static str) -> Result<Option<i64>, StatementError> {
    map.get(key)
        .map(|value| {
            as_i64(value).ok_or(StatementError::InvalidClaim {
                claim: name,
                expected: "an integer (seconds since the Unix epoch)",
            })
        })
        .transpose()
}

fn check_length(field: &'static str, text: &str, limits: &Limits) -> Result<(), StatementError> {
    if text.len() > limits.max_string_bytes {
        return Err(StatementError::StringTooLong {
            field,
            len: text.len(),
            max: limits.max_string_bytes,
        });
    }
    Ok(())
}

/// The unprotected bucket may carry extra, unsigned parameters (e.g. receipts, 394) but never
/// one that must be signed. Returns its labels.
fn unprotected_labels(
    raw: &[(Value, Value)],
    limits: &Limits,
) -> Result<BTreeSet<Label>, StatementError> {
    if raw.len() > limits.max_header_entries {
        return Err(StatementError::TooManyHeaderEntries {
            bucket: "unprotected header",
            count: raw.len(),
            max: limits.max_header_entries,
        });
    }
    let map = LabelMap::new(raw, "unprotected header")?;
    for (label, _) in &map.entries {
        if let Label::Int(i) = label {
            if PROTECTED_ONLY.contains(i) {
                return Err(StatementError::MustBeProtected(*i));
            }
        }
    }
    Ok(map.labels())
}

/// A label may not sit in both buckets (RFC 9052 §3): which value would count is ambiguous.
fn check_disjoint(
    protected: &BTreeSet<Label>,
    unprotected: &BTreeSet<Label>,
) -> Result<(), StatementError> {
    match protected.intersection(unprotected).next() {
        Some(label) => Err(StatementError::DuplicateLabel {
            location: "protected and unprotected headers",
            label: describe_label(label),
        }),
        None => Ok(()),
    }
}
