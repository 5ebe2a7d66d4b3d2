//! Producing signed statements in the one form we emit.

use ciborium::value::Value;
use coset::{CoseSign1, Header, ProtectedHeader, TaggedCborSerializable};

use crate::cbor::{deterministic_map, encode};
use crate::statement::{sig_structure, ALG, CONTENT_TYPE, CWT_CLAIMS, IAT, ISS, KID, SUB};
use crate::{ContentType, PrivateKey};

/// What a statement says: who issues it about what, when, and the payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatementParams<'a> {
    /// CWT `iss`: the issuer's identifier (e.g. a URL or DID).
    pub iss: &'a str,
    /// CWT `sub`: what the statement is about (e.g. a device or artifact URN).
    pub sub: &'a str,
    /// CWT `iat`: issue time, seconds since the Unix epoch.
    pub iat: i64,
    /// The payload's media type.
    pub content_type: ContentType,
    /// The payload, embedded as is (deterministic CBOR when we produce it).
    pub payload: &'a [u8],
}

/// Signs a statement: a tagged COSE_Sign1 whose protected header is, in core deterministic
/// encoding, `{1: alg, 3: content type, 4: kid, 15: {1: iss, 2: sub, 6: iat}}` with `kid` the
/// key's RFC 9679 thumbprint; the unprotected header is empty and the payload embedded.
///
/// The result parses under default [`crate::Limits`] when `iss` and `sub` are non-empty, they
/// and a text content type are at most [`crate::MAX_STRING_BYTES`] long, and the whole fits in
/// [`crate::MAX_STATEMENT_BYTES`]; this function does not check those limits itself.
pub fn sign_statement(key: &PrivateKey, p: &StatementParams) -> Vec<u8> {
    let protected = protected_header(key, p);
    let signature = key.sign(&sig_structure(&protected, p.payload));
    let sign1 = CoseSign1 {
        // `original_data` makes coset emit our deterministic bytes as they are.
        protected: ProtectedHeader {
            original_data: Some(protected),
            header: Header::default(),
        },
        unprotected: Header::default(),
        payload: Some(p.payload.to_vec()),
        signature,
    };
    // Serialising a COSE_Sign1 of byte strings into memory has no failure mode.
    sign1
        .to_tagged_vec()
        .expect("encoding a COSE_Sign1 into memory cannot fail")
}

/// Encodes the protected header deterministically (keys sorted by encoded bytes, shortest
/// integers).
fn protected_header(key: &PrivateKey, p: &StatementParams) -> Vec<u8> {
    let claims = deterministic_map(vec![
        (Value::from(ISS), Value::Text(p.iss.to_owned())),
        (Value::from(SUB), Value::Text(p.sub.to_owned())),
        (Value::from(IAT), Value::from(p.iat)),
    ]);
    let content_type = match &p.content_type {
        ContentType::Text(t) => Value::Text(t.clone()),
        ContentType::CoapFormat(n) => Value::from(*n),
    };
    let header = deterministic_map(vec![
        (Value::from(ALG), Value::from(key.algorithm().cose_id())),
        (Value::from(CONTENT_TYPE), content_type),
        (
            Value::from(KID),
            Value::Bytes(key.public_key().thumbprint().to_vec()),
        ),
        (Value::from(CWT_CLAIMS), claims),
    ]);
    encode(&header)
}
