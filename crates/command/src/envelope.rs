//! The COSE_Sign1 envelope: parsing it to the parts the verifier needs, and signing one.

use alloc::string::ToString;
use alloc::vec::Vec;

use coset::cbor::value::Value;
use coset::iana::EnumI64 as _;
use coset::{
    AsCborValue as _, CoseSign1, Header, HeaderBuilder, ProtectedHeader,
    RegisteredLabelWithPrivate, TaggedCborSerializable as _,
};

use crate::{cbor, Command, Malformed, SigningKey, CONTENT_TYPE};

/// COSE_Sign1's CBOR tag (RFC 9052 §4.2).
const COSE_SIGN1_TAG: u64 = 18;

/// A parsed, not yet verified envelope.
pub(crate) struct Envelope {
    /// The `alg` value as sent (an accepted one or not: judged by the verifier).
    pub alg: i64,
    pub kid: [u8; 32],
    /// The bytes the signature covers: `Sig_structure1` over the protected header exactly as
    /// received and the payload, with empty external AAD (RFC 9052 §4.4).
    pub to_be_signed: Vec<u8>,
    pub signature: Vec<u8>,
    pub payload: Vec<u8>,
}

impl Envelope {
    /// Splits a tagged COSE_Sign1 and checks its headers: protected {alg, content type, kid}
    /// and nothing else, unprotected empty, payload embedded.
    pub fn parse(bytes: &[u8]) -> Result<Self, Malformed> {
        let value = cbor::decode(bytes)?;
        let inner = match value {
            Value::Tag(COSE_SIGN1_TAG, inner) => *inner,
            Value::Tag(other, _) => return Err(Malformed::WrongTag(other)),
            _ => return Err(Malformed::NotTagged),
        };
        check_protected_structure(&inner)?;
        let sign1 = CoseSign1::from_cbor_value(inner).map_err(|_| Malformed::NotCoseSign1)?;
        if !sign1.unprotected.is_empty() {
            return Err(Malformed::UnprotectedHeader);
        }
        let header = &sign1.protected.header;
        let alg = match &header.alg {
            Some(RegisteredLabelWithPrivate::Assigned(a)) => a.to_i64(),
            Some(RegisteredLabelWithPrivate::PrivateUse(i)) => *i,
            Some(RegisteredLabelWithPrivate::Text(_)) | None => {
                return Err(Malformed::MissingAlgorithm)
            }
        };
        let kid: [u8; 32] = header
            .key_id
            .as_slice()
            .try_into()
            .map_err(|_| Malformed::BadKid)?;
        match &header.content_type {
            Some(coset::ContentType::Text(t)) if t == CONTENT_TYPE => {}
            _ => return Err(Malformed::WrongContentType),
        }
        if !(header.crit.is_empty()
            && header.iv.is_empty()
            && header.partial_iv.is_empty()
            && header.counter_signatures.is_empty()
            && header.rest.is_empty())
        {
            return Err(Malformed::UnexpectedHeader);
        }
        let to_be_signed = sign1.tbs_data(&[]);
        let payload = sign1.payload.ok_or(Malformed::DetachedPayload)?;
        Ok(Self {
            alg,
            kid,
            to_be_signed,
            signature: sign1.signature,
            payload,
        })
    }
}

/// coset decodes the protected header (a byte string holding a CBOR map) with ciborium itself,
/// so its bytes get the same structural pre-scan as everything else first. An empty one means
/// an empty map (RFC 9052 §3) and is left to coset; a shape that is not COSE_Sign1's is left
/// to coset to refuse.
fn check_protected_structure(sign1: &Value) -> Result<(), Malformed> {
    match sign1 {
        Value::Array(items) => match items.first() {
            Some(Value::Bytes(protected)) if !protected.is_empty() => {
                cbor::check_structure(protected)
            }
            _ => Ok(()),
        },
        _ => Ok(()),
    }
}

/// Signs a command with the key's fully specified algorithm (ESP256 or Ed25519): a tagged
/// COSE_Sign1 whose protected header is `{1: alg, 3: "application/vnd.proverka.command+cbor",
/// 4: kid}` (core deterministic order) with `kid` the key's RFC 9679 thumbprint, an empty
/// unprotected header, and the payload embedded. Deterministic: the same command and key give
/// the same bytes (Ed25519 always; P-256 through RFC 6979).
pub fn sign_command(command: &Command, key: &SigningKey) -> Vec<u8> {
    sign_payload(&command.to_payload(), key, key.algorithm().cose_id())
}

/// Like [`sign_command`] but writes `alg_id` into the header whatever it is — for tools and
/// tests that need the polymorphic ids (-7 ES256, -8 EdDSA) or an envelope the verifier must
/// refuse (an unsupported algorithm, or one that does not match the key).
pub fn sign_command_with_alg(command: &Command, key: &SigningKey, alg_id: i64) -> Vec<u8> {
    sign_payload(&command.to_payload(), key, alg_id)
}

/// Signs arbitrary payload bytes in a command envelope — for tests of payload parsing only: the
/// verifier refuses anything that is not a well-formed command payload.
pub fn sign_payload(payload: &[u8], key: &SigningKey, alg_id: i64) -> Vec<u8> {
    let protected = cbor::encode(&Value::Map(alloc::vec![
        (Value::from(1), Value::from(alg_id)),
        (Value::from(3), Value::Text(CONTENT_TYPE.to_string())),
        (
            Value::from(4),
            Value::Bytes(key.public_key().thumbprint().to_vec())
        ),
    ]));
    let mut sign1 = CoseSign1 {
        // `original_data` makes coset sign and emit these exact header bytes.
        protected: ProtectedHeader {
            original_data: Some(protected),
            header: HeaderBuilder::new().build(),
        },
        unprotected: Header::default(),
        payload: Some(payload.to_vec()),
        signature: Vec::new(),
    };
    sign1.signature = key.sign(&sign1.tbs_data(&[]));
    // Serialising byte strings into memory has no failure mode; an empty result would simply
    // never verify.
    sign1.to_tagged_vec().unwrap_or_default()
}
