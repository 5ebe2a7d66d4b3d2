//! Thin helpers over `ciborium`: bounded exact decoding and RFC 8949 §4.2.1 core deterministic
//! encoding of the maps we produce.

use ciborium::value::Value;

use crate::MAX_CBOR_DEPTH;

/// Why bytes are not exactly one well-formed CBOR item.
#[derive(Debug)]
pub(crate) enum DecodeError {
    NotCbor(String),
    Truncated,
    Trailing(usize),
    TooDeep,
}

/// Decodes exactly one CBOR item, nested at most [`MAX_CBOR_DEPTH`] deep, with nothing after it.
///
/// `ciborium` reads byte and text strings in bounded chunks, so a forged length cannot force a
/// large allocation; the caller bounds the input size.
pub(crate) fn decode_exact(bytes: &[u8]) -> Result<Value, DecodeError> {
    let mut rest = bytes;
    let value = ciborium::de::from_reader_with_recursion_limit(&mut rest, MAX_CBOR_DEPTH)
        .map_err(classify)?;
    if rest.is_empty() {
        Ok(value)
    } else {
        Err(DecodeError::Trailing(rest.len()))
    }
}

fn classify(e: ciborium::de::Error<std::io::Error>) -> DecodeError {
    use ciborium::de::Error;
    match e {
        // Reading from a slice only fails at its end: the item was cut short.
        Error::Io(_) => DecodeError::Truncated,
        Error::Syntax(offset) => DecodeError::NotCbor(format!("syntax error at byte {offset}")),
        Error::Semantic(_, msg) => DecodeError::NotCbor(msg),
        Error::RecursionLimitExceeded => DecodeError::TooDeep,
    }
}

/// Encodes a value. `ciborium` always emits the shortest form of integers and lengths and
/// definite-length items, as core deterministic encoding requires.
pub(crate) fn encode(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing a `Value` into a Vec has no failure mode (no I/O, no unsupported types).
    ciborium::ser::into_writer(value, &mut out).expect("encoding CBOR into memory cannot fail");
    out
}

/// Builds a map whose keys are sorted by their encoded bytes (RFC 8949 §4.2.1), whatever order
/// the entries are given in.
pub(crate) fn deterministic_map(mut entries: Vec<(Value, Value)>) -> Value {
    entries.sort_by_cached_key(|(key, _)| encode(key));
    Value::Map(entries)
}

/// Returns the value as an `i64` if it is a CBOR integer in range.
pub(crate) fn as_i64(value: &Value) -> Option<i64> {
    match value {
        Value::Integer(i) => i64::try_from(*i).ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_map_orders_keys_by_encoded_bytes() {
        // 1 → 0x01, 15 → 0x0f, 24 → 0x1818, -1 → 0x20, "a" → 0x6161: bytewise, 24 sorts
        // before -1 (RFC 8949 §4.2.1 compares encodings, not numeric values).
        let map = deterministic_map(vec![
            (Value::Text("a".into()), Value::Null),
            (Value::from(-1), Value::Null),
            (Value::from(24), Value::Null),
            (Value::from(15), Value::Null),
            (Value::from(1), Value::Null),
        ]);
        assert_eq!(
            hex::encode(encode(&map)),
            "a501f60ff61818f620f66161f6",
            "keys sort as 1, 15, 24, -1, \"a\""
        );
    }

    #[test]
    fn integers_use_their_shortest_encoding() {
        assert_eq!(encode(&Value::from(23)), [0x17]);
        assert_eq!(encode(&Value::from(24)), [0x18, 24]);
        assert_eq!(encode(&Value::from(-7)), [0x26]);
        assert_eq!(encode(&Value::from(65_536)), [0x1a, 0, 1, 0, 0]);
    }

    #[test]
    fn decode_exact_rejects_trailing_and_truncated_input() {
        assert!(matches!(
            decode_exact(&[0x01, 0x02]),
            Err(DecodeError::Trailing(1))
        ));
        assert!(matches!(
            decode_exact(&[0x42, 0x01]),
            Err(DecodeError::Truncated)
        ));
        assert!(matches!(
            decode_exact(&[0x1c]),
            Err(DecodeError::NotCbor(_))
        ));
    }

    #[test]
    fn decode_exact_bounds_nesting() {
        let deep = [vec![0x81; MAX_CBOR_DEPTH + 1], vec![0x00]].concat();
        assert!(matches!(decode_exact(&deep), Err(DecodeError::TooDeep)));
        let shallow = [vec![0x81; MAX_CBOR_DEPTH - 1], vec![0x00]].concat();
        assert!(decode_exact(&shallow).is_ok());
    }

    #[test]
    fn a_forged_huge_length_does_not_allocate_it() {
        // bstr claiming 2^32-1 bytes, followed by three: must fail fast as truncated.
        let forged = [0x5a, 0xff, 0xff, 0xff, 0xff, 1, 2, 3];
        assert!(matches!(decode_exact(&forged), Err(DecodeError::Truncated)));
    }
}
