//! The two CBOR operations the crate needs, on coset's re-exported `ciborium` (no own codec).

use alloc::vec::Vec;

use coset::cbor::value::Value;

/// Encodes a value. ciborium writes definite lengths and shortest-form integers and keeps map
/// entries in the given order, so a value built in deterministic order encodes
/// deterministically (RFC 8949 §4.2.1).
pub(crate) fn encode(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing into a Vec cannot fail and every `Value` is serialisable; should that ever change,
    // an empty encoding fails every later check rather than panicking.
    if coset::cbor::ser::into_writer(value, &mut out).is_err() {
        out.clear();
    }
    out
}

/// Decodes exactly one CBOR data item that spans all of `bytes`. ciborium bounds nesting
/// depth (256) itself; callers bound the length.
pub(crate) fn decode(mut bytes: &[u8]) -> Option<Value> {
    let value: Value = coset::cbor::de::from_reader(&mut bytes).ok()?;
    bytes.is_empty().then_some(value)
}
