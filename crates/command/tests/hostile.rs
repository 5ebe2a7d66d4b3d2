//! Hostile CBOR: small inputs that declare far more than they hold (deep nesting, huge lengths,
//! many tiny items) are refused by the structural pre-scan, with a specific reason, before any
//! `Value` is built — and so with next to no heap. Anyone can send these, without a key.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Mutex, MutexGuard};

use common::*;
use proverka_command::*;

// ---- a counting allocator, to show the refusals cost no decoding ----

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded to `System` unchanged; the counters only observe.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = CURRENT.fetch_add(layout.size(), Relaxed) + layout.size();
            PEAK.fetch_max(now, Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.dealloc(ptr, layout) };
        CURRENT.fetch_sub(layout.size(), Relaxed);
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Tests in this file run one at a time, so that the heap counters see one verification.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn alone() -> MutexGuard<'static, ()> {
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Heap a refusal by the pre-scan of the envelope may use: the verdict's `Vec` of one reason,
/// with room to spare. A decoded 4 KiB hostile input used 128 KiB before the pre-scan.
const REFUSAL_HEAP_BYTES: usize = 256;
/// A refusal inside the protected header or the payload comes after the envelope passed its
/// pre-scan and was decoded as any envelope is: a few values, the payload's bytes, and the
/// signed structure built from them (measured: under 3 times the input). So the bound is
/// linear in the input: 3 times its length plus this.
const INNER_REFUSAL_HEAP_BYTES: usize = 1_024;

/// Verifies `bytes` (snapshot and guard built beforehand) and returns its reasons and the
/// peak heap above the start during `verify` alone.
fn refused(bytes: &[u8]) -> (Vec<Reason>, usize) {
    let snapshot = snapshot();
    let mut replay = guard();
    let me = me();
    let start = CURRENT.load(Relaxed);
    PEAK.store(start, Relaxed);
    let verdict = verify(bytes, &snapshot, &mut replay, NOW, &me, &DangerAllowAll);
    let peak = PEAK.load(Relaxed) - start;
    (verdict.reasons().to_vec(), peak)
}

/// Asserts that `bytes` is refused as `Malformed(expected)` by `verify`, `open` and
/// `claimed_sender` alike, and that `verify` used at most `max_heap` bytes of heap.
fn assert_refused_within(label: &str, bytes: &[u8], expected: Malformed, max_heap: usize) {
    assert!(
        bytes.len() <= MAX_COMMAND_BYTES,
        "{label}: within the size limit"
    );
    let (reasons, peak) = refused(bytes);
    assert_eq!(reasons, [Reason::Malformed(expected)], "{label}");
    assert!(
        peak <= max_heap,
        "{label}: verify used {peak} B of heap, bound {max_heap} B"
    );
    let key = ed_key().public_key();
    assert_eq!(
        open(bytes, &key),
        Err(Reason::Malformed(expected)),
        "{label}"
    );
    assert_eq!(
        claimed_sender(bytes),
        Err(Reason::Malformed(expected)),
        "{label}"
    );
}

/// Refused by the envelope's own pre-scan: nothing decoded at all.
fn assert_refused(label: &str, bytes: &[u8], expected: Malformed) {
    assert_refused_within(label, bytes, expected, REFUSAL_HEAP_BYTES);
}

/// Refused by the pre-scan of the protected header or the payload, after the (small) envelope
/// was decoded: heap linear in the input's length.
fn assert_refused_inside(label: &str, bytes: &[u8], expected: Malformed) {
    let bound = 3 * bytes.len() + INNER_REFUSAL_HEAP_BYTES;
    assert_refused_within(label, bytes, expected, bound);
}

fn nested(prefix: &[u8], depth: usize) -> Vec<u8> {
    let mut bytes = prefix.to_vec();
    bytes.extend(std::iter::repeat_n(0x81, depth));
    bytes.push(0x00);
    bytes
}

/// A tagged COSE_Sign1 with this protected header byte string (raw), an empty unprotected
/// header, a one-byte payload and an empty signature.
fn with_protected(protected: &[u8]) -> Vec<u8> {
    let len = u16::try_from(protected.len()).expect("small");
    let mut bytes = vec![0xd2, 0x84, 0x59];
    bytes.extend_from_slice(&len.to_be_bytes());
    bytes.extend_from_slice(protected);
    bytes.extend_from_slice(&[0xa0, 0x41, 0x00, 0x40]);
    bytes
}

#[test]
fn nesting_10000_deep_is_refused() {
    let _alone = alone();
    // 10,000 deep does not fit the size limit, which is checked first.
    let deep = nested(&[], 10_000);
    let (reasons, peak) = refused(&deep);
    assert_eq!(
        reasons,
        [Reason::TooLarge {
            len: 10_001,
            max: MAX_COMMAND_BYTES
        }]
    );
    assert!(peak <= REFUSAL_HEAP_BYTES);
    // As deep as fits, in each place this crate decodes: the envelope, inside tag 18, the
    // protected header, and a signed payload.
    let depth = MAX_COMMAND_BYTES - 100;
    assert_refused("bare", &nested(&[], depth), Malformed::TooDeep);
    assert_refused("in tag 18", &nested(&[0xd2], depth), Malformed::TooDeep);
    assert_refused_inside(
        "protected header",
        &with_protected(&nested(&[], depth)),
        Malformed::TooDeep,
    );
    let payload = sign_payload(&nested(&[], depth - 200), &ed_key(), -19);
    assert_refused_inside("payload", &payload, Malformed::TooDeep);
    // Just past the documented depth is enough.
    assert_refused(
        "one past the limit",
        &nested(&[], MAX_CBOR_DEPTH + 1),
        Malformed::TooDeep,
    );
}

#[test]
fn an_array_declaring_2_pow_32_items_in_9_bytes_is_refused() {
    let _alone = alone();
    let array = [0x9b, 0, 0, 0, 1, 0, 0, 0, 0];
    assert_refused("bare", &array, Malformed::LengthBeyondInput);
    let tagged: Vec<u8> = [&[0xd2][..], &array].concat();
    assert_refused("in tag 18", &tagged, Malformed::LengthBeyondInput);
    assert_refused_inside(
        "protected header",
        &with_protected(&array),
        Malformed::LengthBeyondInput,
    );
    let payload = sign_payload(&array, &ed_key(), -19);
    assert_refused_inside("payload", &payload, Malformed::LengthBeyondInput);
}

#[test]
fn a_byte_string_declaring_2_pow_63_bytes_is_refused() {
    let _alone = alone();
    let huge = [0x5b, 0x80, 0, 0, 0, 0, 0, 0, 0];
    assert_refused("bare", &huge, Malformed::LengthBeyondInput);
    // As the envelope's payload: 18([h'', {}, h'<2^63 bytes>', ...]).
    let envelope: Vec<u8> = [&[0xd2, 0x84, 0x40, 0xa0][..], &huge].concat();
    assert_refused("payload slot", &envelope, Malformed::LengthBeyondInput);
    // And a text string of 2^63 bytes as a payload field.
    let payload = sign_payload(
        &[0xa1, 0x01, 0x7b, 0x80, 0, 0, 0, 0, 0, 0, 0],
        &ed_key(),
        -19,
    );
    assert_refused_inside("payload field", &payload, Malformed::LengthBeyondInput);
}

#[test]
fn many_tiny_items_are_refused() {
    let _alone = alone();
    // 100,000 one-byte items: over the size limit, refused before anything is read.
    let mut hundred_k = vec![0x9a, 0x00, 0x01, 0x86, 0xa0];
    hundred_k.resize(5 + 100_000, 0x00);
    assert!(matches!(
        refused(&hundred_k).0.as_slice(),
        [Reason::TooLarge { .. }]
    ));
    // As many as fit: the inputs that cost 128 KiB of heap when they were decoded first.
    let len = MAX_COMMAND_BYTES;
    let items = len - 3;
    let mut array = vec![0x99, (items >> 8) as u8, items as u8];
    array.resize(len, 0x00);
    assert_refused("array of 4093 zeros", &array, Malformed::TooManyItems);
    let mut tagged = vec![0xd2, 0x99, ((items - 1) >> 8) as u8, (items - 1) as u8];
    tagged.resize(len, 0x00);
    assert_refused("tag 18 around 4092 zeros", &tagged, Malformed::TooManyItems);
    let pairs = (len - 3) / 2;
    let mut map = vec![0xb9, (pairs >> 8) as u8, pairs as u8];
    map.resize(3 + 2 * pairs, 0x00);
    assert_refused("map of 2046 zero pairs", &map, Malformed::TooManyItems);
    // An indefinite-length array never closed.
    let mut open_ended = vec![0xd2, 0x9f];
    open_ended.resize(len, 0x00);
    assert_refused("indefinite array", &open_ended, Malformed::TooManyItems);
    // In the protected header and in a signed payload.
    let mut protected = vec![0x99, 0x0f, 0x00];
    protected.resize(3 + 0x0f00, 0x00);
    assert_refused_inside(
        "protected header",
        &with_protected(&protected),
        Malformed::TooManyItems,
    );
    let mut payload = vec![0x99, 0x0e, 0x00];
    payload.resize(3 + 0x0e00, 0x00);
    let signed = sign_payload(&payload, &ed_key(), -19);
    assert_refused_inside("payload", &signed, Malformed::TooManyItems);
}

/// The limits leave room for every valid command: one at every field limit verifies.
#[test]
fn a_command_at_every_field_limit_still_verifies() {
    let _alone = alone();
    let mut params = Params::new();
    for i in 0..MAX_PARAMS {
        let name = format!("{i:0>width$}", width = MAX_PARAM_KEY_BYTES);
        let value = ParamValue::Text("v".repeat(MAX_PARAM_TEXT_BYTES));
        params.insert(name, value).expect("within limits");
    }
    let long_id = DeviceId::new(vec![b's'; MAX_DEVICE_ID_BYTES]).expect("at the limit");
    let me_long = DeviceId::new(vec![b'r'; MAX_DEVICE_ID_BYTES]).expect("at the limit");
    let command = Command {
        sender: long_id.clone(),
        recipient: me_long.clone(),
        action: Action::new("a".repeat(MAX_ACTION_BYTES)).expect("at the limit"),
        params,
        seq: u64::MAX,
        iat: NOW,
        exp: NOW.plus(MAX_LIFETIME_SECS),
    };
    let key = ed_key();
    let mut snapshot = snapshot();
    snapshot.insert(long_id, record(&key));
    let bytes = sign_command(&command, &key);
    let verdict = verify(
        &bytes,
        &snapshot,
        &mut guard(),
        NOW,
        &me_long,
        &DangerAllowAll,
    );
    assert_eq!(verdict, Verdict::Allow(command));
}
