//! Reading the CBOR payloads of device-trust statements: integer-labelled maps with typed,
//! bounded fields. Every error names the field, so a refusal says exactly what is wrong.

use std::collections::BTreeMap;

use ciborium::value::Value;
use proverka_statement::PublicKey;

/// Longest text field of any payload (names, versions, serial numbers, advisory ids), in bytes.
pub const MAX_TEXT_BYTES: usize = 256;
/// Most elements of any array field (roles, roots, versions, digests, references).
pub const MAX_ARRAY_ITEMS: usize = 64;
/// Longest byte-string field (certificates, nonces, device ids), in bytes.
pub const MAX_BYTES_FIELD: usize = 4_096;

/// What is wrong with a payload.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error("payload is not a CBOR map: {0}")]
    NotMap(String),
    #[error("payload has a key that is not a small unsigned integer")]
    BadLabel,
    #[error("payload repeats field {0}")]
    Repeated(u64),
    #[error("payload has unknown field {0}")]
    Unknown(u64),
    #[error("field {0} is missing")]
    Missing(u64),
    #[error("field {label}: {reason}")]
    Invalid { label: u64, reason: &'static str },
    /// A Cedar policy set that is not admitted (names the policy and a fixed category).
    #[error("field 2: {0}")]
    CedarPolicy(proverka_policy::AdmissionError),
}

/// A decoded payload map, consumed field by field. [`Fields::finish`] refuses leftovers, so an
/// unknown field is an error rather than silently ignored.
pub struct Fields(BTreeMap<u64, Value>);

impl Fields {
    /// Decodes `bytes` as a map whose keys are unsigned integers, each at most once.
    pub fn decode(bytes: &[u8]) -> Result<Self, PayloadError> {
        let value: Value =
            ciborium::from_reader(bytes).map_err(|e| PayloadError::NotMap(e.to_string()))?;
        let Value::Map(entries) = value else {
            return Err(PayloadError::NotMap("not a map".into()));
        };
        let mut map = BTreeMap::new();
        for (k, v) in entries {
            let label = match k {
                Value::Integer(i) => u64::try_from(i).map_err(|_| PayloadError::BadLabel)?,
                _ => return Err(PayloadError::BadLabel),
            };
            if map.insert(label, v).is_some() {
                return Err(PayloadError::Repeated(label));
            }
        }
        Ok(Fields(map))
    }

    /// Refuses any field not consumed yet.
    pub fn finish(self) -> Result<(), PayloadError> {
        match self.0.keys().next() {
            Some(label) => Err(PayloadError::Unknown(*label)),
            None => Ok(()),
        }
    }

    /// The raw value of a field, for readers with their own shape rules.
    pub fn raw(&mut self, label: u64) -> Result<Value, PayloadError> {
        self.take(label)
    }

    fn take(&mut self, label: u64) -> Result<Value, PayloadError> {
        self.0.remove(&label).ok_or(PayloadError::Missing(label))
    }

    fn has(&self, label: u64) -> bool {
        self.0.contains_key(&label)
    }

    /// A non-empty text of at most [`MAX_TEXT_BYTES`] without control characters.
    pub fn text(&mut self, label: u64) -> Result<String, PayloadError> {
        match self.take(label)? {
            Value::Text(t) if valid_text(&t) => Ok(t),
            _ => Err(invalid(
                label,
                "must be 1..=256 bytes of text without control characters",
            )),
        }
    }

    pub fn opt_text(&mut self, label: u64) -> Result<Option<String>, PayloadError> {
        self.optional(label, Self::text)
    }

    /// A byte string of `min..=max` bytes.
    pub fn bytes(&mut self, label: u64, min: usize, max: usize) -> Result<Vec<u8>, PayloadError> {
        match self.take(label)? {
            Value::Bytes(b) if (min..=max).contains(&b.len()) => Ok(b),
            _ => Err(invalid(label, "byte string of the wrong type or length")),
        }
    }

    /// A 32-byte digest (SHA-256) or entry id.
    pub fn digest(&mut self, label: u64) -> Result<[u8; 32], PayloadError> {
        let b = self.bytes(label, 32, 32)?;
        let mut out = [0u8; 32];
        out.copy_from_slice(&b);
        Ok(out)
    }

    pub fn opt_digest(&mut self, label: u64) -> Result<Option<[u8; 32]>, PayloadError> {
        self.optional(label, Self::digest)
    }

    /// An unsigned integer.
    pub fn uint(&mut self, label: u64) -> Result<u64, PayloadError> {
        match self.take(label)? {
            Value::Integer(i) => u64::try_from(i).map_err(|_| invalid(label, "must be unsigned")),
            _ => Err(invalid(label, "must be an unsigned integer")),
        }
    }

    pub fn opt_uint(&mut self, label: u64) -> Result<Option<u64>, PayloadError> {
        self.optional(label, Self::uint)
    }

    pub fn opt_bool(&mut self, label: u64) -> Result<Option<bool>, PayloadError> {
        self.optional(label, |f, l| match f.take(l)? {
            Value::Bool(b) => Ok(b),
            _ => Err(invalid(l, "must be a bool")),
        })
    }

    /// A COSE_Key (bstr) of a supported type that is not a small-order Ed25519 key.
    pub fn key(&mut self, label: u64) -> Result<PublicKey, PayloadError> {
        let bytes = self.bytes(label, 1, MAX_BYTES_FIELD)?;
        let key = PublicKey::from_cose_key(&bytes)
            .map_err(|_| invalid(label, "not a supported COSE_Key (P-256, P-384, Ed25519)"))?;
        if key.is_weak() {
            return Err(invalid(
                label,
                "small-order Ed25519 key: it would accept forgeries",
            ));
        }
        Ok(key)
    }

    /// An array of 1..=[`MAX_ARRAY_ITEMS`] elements, each read by `item`.
    pub fn array<T>(
        &mut self,
        label: u64,
        item: impl Fn(Value) -> Option<T>,
    ) -> Result<Vec<T>, PayloadError> {
        match self.take(label)? {
            Value::Array(items) if !items.is_empty() && items.len() <= MAX_ARRAY_ITEMS => items
                .into_iter()
                .map(|v| item(v).ok_or(invalid(label, "array element of the wrong type")))
                .collect(),
            _ => Err(invalid(label, "must be an array of 1..=64 elements")),
        }
    }

    pub fn opt_array<T>(
        &mut self,
        label: u64,
        item: impl Fn(Value) -> Option<T>,
    ) -> Result<Vec<T>, PayloadError> {
        if self.has(label) {
            self.array(label, item)
        } else {
            Ok(Vec::new())
        }
    }

    fn optional<T>(
        &mut self,
        label: u64,
        read: impl FnOnce(&mut Self, u64) -> Result<T, PayloadError>,
    ) -> Result<Option<T>, PayloadError> {
        if self.has(label) {
            read(self, label).map(Some)
        } else {
            Ok(None)
        }
    }
}

/// Array element reader: a valid text.
pub fn text_item(v: Value) -> Option<String> {
    match v {
        Value::Text(t) if valid_text(&t) => Some(t),
        _ => None,
    }
}

/// Array element reader: a 32-byte digest.
pub fn digest_item(v: Value) -> Option<[u8; 32]> {
    match v {
        Value::Bytes(b) => b.try_into().ok(),
        _ => None,
    }
}

/// Array element reader: a non-empty byte string of at most [`MAX_BYTES_FIELD`] bytes.
pub fn bytes_item(v: Value) -> Option<Vec<u8>> {
    match v {
        Value::Bytes(b) if !b.is_empty() && b.len() <= MAX_BYTES_FIELD => Some(b),
        _ => None,
    }
}

fn valid_text(t: &str) -> bool {
    !t.is_empty() && t.len() <= MAX_TEXT_BYTES && !t.chars().any(char::is_control)
}

fn invalid(label: u64, reason: &'static str) -> PayloadError {
    PayloadError::Invalid { label, reason }
}

/// Builds a deterministic payload map (labels in ascending order) — what the CLI, the demo and
/// the tests sign. Encoding a `Value` into a `Vec` cannot fail.
pub fn encode_map(mut fields: Vec<(u64, Value)>) -> Vec<u8> {
    fields.sort_by_key(|(l, _)| *l);
    let map = Value::Map(
        fields
            .into_iter()
            .map(|(l, v)| (Value::Integer(l.into()), v))
            .collect(),
    );
    let mut out = Vec::new();
    let _ = ciborium::into_writer(&map, &mut out);
    out
}
