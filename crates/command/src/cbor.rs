//! The CBOR operations the crate needs, on coset's re-exported `ciborium` (no own codec), and
//! a structural pre-scan that bounds what any decoding may cost.
//!
//! ciborium builds a `Value` tree before this crate can look at it, and its cost follows what
//! the input *declares*, not its length: a 4 KiB array of one-byte items became 128 KiB of
//! values, and nesting costs stack. So every byte string this crate hands to ciborium (the
//! envelope, the protected header inside it, the payload) first passes [`check_structure`],
//! which reads item headers only, allocates nothing and does not recurse.

use alloc::vec::Vec;

use coset::cbor::value::Value;

use crate::{Malformed, MAX_CBOR_DEPTH, MAX_CBOR_ITEMS};

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

/// Decodes exactly one CBOR data item that spans all of `bytes`, after [`check_structure`]
/// has bounded its depth, item count and declared lengths. Callers bound the length.
pub(crate) fn decode(mut bytes: &[u8]) -> Result<Value, Malformed> {
    check_structure(bytes)?;
    let value: Value = coset::cbor::de::from_reader(&mut bytes).map_err(|_| Malformed::NotCbor)?;
    if bytes.is_empty() {
        Ok(value)
    } else {
        Err(Malformed::NotCbor)
    }
}

/// Marks an open container of indefinite length (closed by a break byte). Never a real count:
/// declared counts are at most the input length.
const INDEFINITE: u64 = u64::MAX;

/// Checks that `bytes` is one CBOR data item with nothing after it, whose containers (arrays,
/// maps, tags, indefinite-length strings) nest at most [`MAX_CBOR_DEPTH`] deep, which holds at
/// most [`MAX_CBOR_ITEMS`] items (every header counts: map keys, values, tags, chunks), and
/// whose every declared length fits in the bytes that remain.
///
/// It reads headers only: string contents are skipped, not validated (UTF-8, chunk types and
/// simple values are left to ciborium, which now decodes something small). Iterative, with a
/// fixed stack of `MAX_CBOR_DEPTH` counters, so hostile nesting costs no recursion.
pub(crate) fn check_structure(bytes: &[u8]) -> Result<(), Malformed> {
    let mut reader = Reader { bytes };
    // Children still expected by each open container, innermost last (or INDEFINITE).
    let mut open = [0u64; MAX_CBOR_DEPTH];
    let mut depth = 0usize;
    let mut items = 0usize;
    loop {
        match reader.head()? {
            Head::Break => {
                if depth == 0 || open[depth - 1] != INDEFINITE {
                    return Err(Malformed::NotCbor);
                }
                depth -= 1;
            }
            Head::Item(children) => {
                items += 1;
                if items > MAX_CBOR_ITEMS {
                    return Err(Malformed::TooManyItems);
                }
                if children != 0 {
                    let slot = open.get_mut(depth).ok_or(Malformed::TooDeep)?;
                    *slot = children;
                    depth += 1;
                    continue;
                }
            }
        }
        // An item (or a container with all its children) just ended: count it in its parent.
        loop {
            let Some(parent) = depth.checked_sub(1) else {
                return if reader.bytes.is_empty() {
                    Ok(())
                } else {
                    Err(Malformed::NotCbor)
                };
            };
            if open[parent] == INDEFINITE {
                break;
            }
            open[parent] -= 1;
            if open[parent] > 0 {
                break;
            }
            depth = parent;
        }
    }
}

/// One item header, as far as structure goes.
enum Head {
    /// The break byte (0xff) that closes an indefinite-length container.
    Break,
    /// An item with this many child items to follow (0 for a leaf, [`INDEFINITE`] until a
    /// break). A string's content has already been skipped.
    Item(u64),
}

/// The unread rest of the input.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], Malformed> {
        if n > self.bytes.len() {
            return Err(Malformed::LengthBeyondInput);
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    /// Reads one header (RFC 8949 §3): the initial byte and its argument, and skips a definite
    /// string's content. Reserved additional information (28–30) is not CBOR.
    fn head(&mut self) -> Result<Head, Malformed> {
        let (&initial, rest) = self.bytes.split_first().ok_or(Malformed::NotCbor)?;
        self.bytes = rest;
        if initial == 0xff {
            return Ok(Head::Break);
        }
        let major = initial >> 5;
        let info = initial & 0x1f;
        if info == 31 {
            // Indefinite length: strings (chunks), arrays, maps. Not for integers, tags or
            // simple values (0xff, the break, was handled above).
            return match major {
                2..=5 => Ok(Head::Item(INDEFINITE)),
                _ => Err(Malformed::NotCbor),
            };
        }
        let argument = self.argument(info)?;
        let remaining = self.bytes.len() as u64;
        match major {
            2 | 3 => {
                let len = usize::try_from(argument).map_err(|_| Malformed::LengthBeyondInput)?;
                self.take(len)?;
                Ok(Head::Item(0))
            }
            // Every item takes at least one byte, a map pair at least two.
            4 if argument > remaining => Err(Malformed::LengthBeyondInput),
            4 => Ok(Head::Item(argument)),
            5 if argument > remaining / 2 => Err(Malformed::LengthBeyondInput),
            5 => Ok(Head::Item(argument * 2)),
            6 => Ok(Head::Item(1)),
            // Integers and simple values/floats (their argument bytes are the value).
            _ => Ok(Head::Item(0)),
        }
    }

    /// The argument that additional information `info` (0–27) announces.
    fn argument(&mut self, info: u8) -> Result<u64, Malformed> {
        let size = match info {
            0..=23 => return Ok(u64::from(info)),
            24 => 1,
            25 => 2,
            26 => 4,
            27 => 8,
            _ => return Err(Malformed::NotCbor),
        };
        // A header cut short is a truncated item, not a hostile length.
        let bytes = self.take(size).map_err(|_| Malformed::NotCbor)?;
        Ok(bytes.iter().fold(0u64, |n, &b| (n << 8) | u64::from(b)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn nested(depth: usize) -> Vec<u8> {
        let mut bytes = vec![0x81; depth];
        bytes.push(0x00);
        bytes
    }

    #[test]
    fn well_formed_items_within_the_limits_pass() {
        for bytes in [
            &[0x00][..],
            &[0xd2, 0x84, 0x40, 0xa0, 0xf6, 0x40],
            &[0xa2, 0x01, 0x61, b'a', 0x02, 0x9f, 0x01, 0xff],
            &[0x5f, 0x41, 0x00, 0xff],
            &[0xfb, 0, 0, 0, 0, 0, 0, 0, 0],
            &[0x80],
            &[0xbf, 0xff],
        ] {
            assert_eq!(check_structure(bytes), Ok(()), "{bytes:02x?}");
        }
        assert_eq!(check_structure(&nested(MAX_CBOR_DEPTH)), Ok(()));
    }

    #[test]
    fn nesting_beyond_the_limit_is_too_deep() {
        assert_eq!(
            check_structure(&nested(MAX_CBOR_DEPTH + 1)),
            Err(Malformed::TooDeep)
        );
        assert_eq!(check_structure(&nested(10_000)), Err(Malformed::TooDeep));
        // Tags and indefinite arrays nest too.
        assert_eq!(
            check_structure(&vec![0xc1; 10_000]),
            Err(Malformed::TooDeep)
        );
        assert_eq!(
            check_structure(&vec![0x9f; 10_000]),
            Err(Malformed::TooDeep)
        );
    }

    #[test]
    fn more_items_than_the_limit_are_refused_whatever_the_input_length() {
        let mut many = vec![0x9a, 0x00, 0x01, 0x86, 0xa0]; // array of 100,000
        many.resize(many.len() + 100_000, 0x00);
        assert_eq!(check_structure(&many), Err(Malformed::TooManyItems));
        let mut at_limit = vec![0x98, (MAX_CBOR_ITEMS - 1) as u8];
        at_limit.resize(at_limit.len() + MAX_CBOR_ITEMS - 1, 0x00);
        assert_eq!(check_structure(&at_limit), Ok(()));
        at_limit[1] += 1;
        at_limit.push(0x00);
        assert_eq!(check_structure(&at_limit), Err(Malformed::TooManyItems));
        // An indefinite array of tiny items, never closed.
        let mut open = vec![0x9f];
        open.resize(4_096, 0x00);
        assert_eq!(check_structure(&open), Err(Malformed::TooManyItems));
    }

    #[test]
    fn declared_lengths_beyond_the_input_are_refused() {
        // An array declaring 2^32 items, in 9 bytes.
        let array = [0x9b, 0, 0, 0, 1, 0, 0, 0, 0];
        assert_eq!(check_structure(&array), Err(Malformed::LengthBeyondInput));
        // A map declaring 2^63 pairs, a byte and a text string declaring 2^63 bytes.
        for major in [0xbb, 0x5b, 0x7b] {
            let bytes = [major, 0x80, 0, 0, 0, 0, 0, 0, 0];
            assert_eq!(check_structure(&bytes), Err(Malformed::LengthBeyondInput));
        }
        assert_eq!(
            check_structure(&[0x44, 1, 2, 3]),
            Err(Malformed::LengthBeyondInput)
        );
        // A map of one pair with one byte left.
        assert_eq!(
            check_structure(&[0xa1, 0x00]),
            Err(Malformed::LengthBeyondInput)
        );
    }

    #[test]
    fn ill_formed_headers_and_trailing_bytes_are_not_cbor() {
        for bytes in [
            &[][..],
            &[0x1c],             // reserved additional information
            &[0x19, 0x01],       // argument cut short
            &[0xff],             // break outside an indefinite container
            &[0x82, 0x00, 0xff], // break inside a definite array
            &[0x1f],             // indefinite integer
            &[0xdf, 0x00],       // indefinite tag
            &[0x00, 0x00],       // trailing byte
            &[0x9f, 0x00],       // never closed
        ] {
            assert_eq!(
                check_structure(bytes),
                Err(Malformed::NotCbor),
                "{bytes:02x?}"
            );
        }
    }
}
