//! Registered issuers: their state records and the statement that registers a new one.

use ciborium::value::{Integer, Value};
use proverka_statement::PublicKey;

/// Content type of a statement that registers a new issuer (signed by an admin issuer).
pub const ISSUER_REGISTRATION_CONTENT_TYPE: &str = "application/vnd.proverka.issuer+cbor";
/// Longest accepted `iss` value, in bytes.
pub const MAX_ISS_BYTES: usize = 1_024;
/// Longest accepted issuer record or registration payload, in bytes.
pub const MAX_ISSUER_RECORD_BYTES: usize = 4_096;

/// State key prefix of issuer records: `issuer/` followed by the 32-byte key thumbprint.
pub(crate) const ISSUER_PREFIX: &[u8] = b"issuer/";

/// A registered issuer as kept in ledger state. The same CBOR map is the payload of an
/// issuer-registration statement: `{ 1: tstr (iss), 2: bstr (COSE_Key), ? 3: bool (admin) }`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuerRecord {
    /// The `iss` claim its statements must carry.
    pub iss: String,
    /// The key its statements are verified with; its thumbprint is their `kid`.
    pub key: PublicKey,
    /// Whether it may register other issuers.
    pub admin: bool,
}

/// Why an issuer record or registration payload could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IssuerDecodeError {
    #[error("issuer payload is larger than {MAX_ISSUER_RECORD_BYTES} bytes")]
    TooLarge,
    #[error("issuer payload is not a CBOR map: {0}")]
    NotMap(String),
    #[error("issuer payload field {0}: {1}")]
    Field(u8, &'static str),
}

impl IssuerRecord {
    /// The state key of this issuer's record.
    pub fn state_key(&self) -> Vec<u8> {
        state_key(&self.key.thumbprint())
    }

    /// Deterministic CBOR encoding (core deterministic: keys 1, 2, 3 in order).
    pub fn encode(&self) -> Vec<u8> {
        let map = Value::Map(vec![
            (int(1), Value::Text(self.iss.clone())),
            (int(2), Value::Bytes(self.key.to_cose_key())),
            (int(3), Value::Bool(self.admin)),
        ]);
        let mut out = Vec::new();
        // Writing a Value into a Vec cannot fail.
        let _ = ciborium::into_writer(&map, &mut out);
        out
    }

    /// Decodes a record or registration payload; `admin` defaults to false when absent.
    pub fn decode(bytes: &[u8]) -> Result<Self, IssuerDecodeError> {
        if bytes.len() > MAX_ISSUER_RECORD_BYTES {
            return Err(IssuerDecodeError::TooLarge);
        }
        let value: Value =
            ciborium::from_reader(bytes).map_err(|e| IssuerDecodeError::NotMap(e.to_string()))?;
        let Value::Map(entries) = value else {
            return Err(IssuerDecodeError::NotMap("not a map".into()));
        };
        let mut iss = None;
        let mut key = None;
        let mut admin = false;
        for (k, v) in entries {
            match (label(&k), v) {
                (Some(1), Value::Text(t)) if !t.is_empty() && t.len() <= MAX_ISS_BYTES => {
                    iss = Some(t)
                }
                (Some(1), _) => {
                    return Err(IssuerDecodeError::Field(
                        1,
                        "iss must be 1..=1024 bytes of text",
                    ))
                }
                (Some(2), Value::Bytes(b)) => {
                    key = Some(PublicKey::from_cose_key(&b).map_err(|_| {
                        IssuerDecodeError::Field(
                            2,
                            "not a supported COSE_Key (P-256, P-384, Ed25519)",
                        )
                    })?)
                }
                (Some(2), _) => {
                    return Err(IssuerDecodeError::Field(2, "key must be a bstr COSE_Key"))
                }
                (Some(3), Value::Bool(b)) => admin = b,
                (Some(3), _) => return Err(IssuerDecodeError::Field(3, "admin must be a bool")),
                _ => return Err(IssuerDecodeError::Field(0, "unknown field")),
            }
        }
        Ok(IssuerRecord {
            iss: iss.ok_or(IssuerDecodeError::Field(1, "iss is missing"))?,
            key: key.ok_or(IssuerDecodeError::Field(2, "key is missing"))?,
            admin,
        })
    }
}

/// The state key of the issuer whose key thumbprint is `kid`.
pub fn state_key(kid: &[u8; 32]) -> Vec<u8> {
    let mut key = ISSUER_PREFIX.to_vec();
    key.extend_from_slice(kid);
    key
}

fn int(i: u8) -> Value {
    Value::Integer(Integer::from(i))
}

fn label(v: &Value) -> Option<i128> {
    match v {
        Value::Integer(i) => Some(i128::from(*i)),
        _ => None,
    }
}
