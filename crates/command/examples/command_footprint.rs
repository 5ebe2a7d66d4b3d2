//! Measures the memory a command verifier needs, on the host (`docs/command.md` §10):
//!
//! * heap: a counting global allocator (wrapping the system allocator) reports the bytes and
//!   allocations of one [`verify`] call above the steady state, the steady-state size of a
//!   [`MemorySnapshot`] per sender and of a [`ReplayGuard`] per remembered sender;
//! * stack: the high-water mark of one `verify` call, by painting a region of a thread's stack
//!   with a pattern and finding the deepest byte `verify` overwrote; cross-checked by finding,
//!   by bisection over child processes, the smallest main-thread stack limit (`ulimit -s`)
//!   under which `verify` completes (needs `sh`);
//! * `size_of` of the types a device holds.
//!
//! Figures are for the host's codegen (x86_64, 8-byte pointers): see `docs/command.md` §10 for
//! what changes on a 32-bit microcontroller. Heap figures are bytes *requested* from the
//! allocator; an allocator's own per-block overhead comes on top.
//!
//! Run: `cargo run -p proverka-command --profile footprint --example command_footprint`
//! (stack depth depends on the optimisation level; heap figures do not).

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::mem::size_of;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use proverka_command::*;

// ---------------------------------------------------------------------------------------------
// Counting allocator

/// The system allocator, counting live bytes, their peak and the number of allocations.
struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

fn grew(bytes: usize) {
    let now = CURRENT.fetch_add(bytes, Relaxed) + bytes;
    PEAK.fetch_max(now, Relaxed);
}

// SAFETY: every call is forwarded to `System` unchanged; the counters only observe.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            ALLOCATIONS.fetch_add(1, Relaxed);
            grew(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            ALLOCATIONS.fetch_add(1, Relaxed);
            grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.dealloc(ptr, layout) };
        CURRENT.fetch_sub(layout.size(), Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            // A reallocation is counted as an allocation: an allocator has to find the block.
            ALLOCATIONS.fetch_add(1, Relaxed);
            CURRENT.fetch_sub(layout.size(), Relaxed);
            grew(new_size);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// What a closure did to the heap, relative to the heap when it started.
#[derive(Clone, Copy)]
struct Heap {
    /// Highest live bytes above the start.
    peak: usize,
    /// Allocations (and reallocations) made.
    allocations: usize,
    /// Live bytes above the start when it returned, with its result dropped.
    retained: isize,
}

/// Runs `f`, drops its result, and reports its heap use. Only the calling thread may allocate
/// meanwhile (this example runs its measurements on one thread).
fn heap_of<T>(f: impl FnOnce() -> T) -> Heap {
    let start = CURRENT.load(Relaxed);
    PEAK.store(start, Relaxed);
    let allocations = ALLOCATIONS.load(Relaxed);
    drop(black_box(f()));
    Heap {
        peak: PEAK.load(Relaxed) - start,
        allocations: ALLOCATIONS.load(Relaxed) - allocations,
        retained: CURRENT.load(Relaxed) as isize - start as isize,
    }
}

// ---------------------------------------------------------------------------------------------
// Commands

const NOW: UnixSeconds = UnixSeconds(1_767_225_600);
const RECIPIENT_TYPICAL: &[u8] = b"bench-recipient";

fn ed25519_key() -> SigningKey {
    SigningKey::from_ed25519_seed([0x42; 32])
}

fn p256_key() -> SigningKey {
    SigningKey::from_p256_scalar(&[0x42; 32]).expect("valid scalar")
}

/// A device id of exactly `len` bytes, unique per `i`.
fn device(i: usize, len: usize) -> DeviceId {
    let mut id = format!("device-{i:08}").into_bytes();
    id.resize(len, b'.');
    DeviceId::new(id).expect("1..=64 bytes")
}

fn sender_record(key: &SigningKey) -> SenderRecord {
    SenderRecord {
        key: key.public_key(),
        revoked: false,
        status: TrustStatus::Affirming,
        status_expires_at: NOW.plus(86_400),
    }
}

/// The benchmark's command: 16-byte sender id, 15-byte recipient, "actuate", two params.
fn typical(sender: DeviceId, seq: u64) -> Command {
    Command {
        sender,
        recipient: DeviceId::new(RECIPIENT_TYPICAL).expect("short"),
        action: Action::new("actuate").expect("short"),
        params: Params::new()
            .with("level", ParamValue::Int(3))
            .and_then(|p| p.with("zone", ParamValue::Text("north-7".into())))
            .expect("within limits"),
        seq,
        iat: NOW,
        exp: NOW.plus(60),
    }
}

/// A command at every field limit: 64-byte ids and action, 16 params with 32-byte names and
/// 64-byte text values.
fn largest(sender: DeviceId, recipient: &DeviceId, seq: u64) -> Command {
    let mut params = Params::new();
    for i in 0..MAX_PARAMS {
        let name = format!("{i:0>width$}", width = MAX_PARAM_KEY_BYTES);
        let value = ParamValue::Text("v".repeat(MAX_PARAM_TEXT_BYTES));
        params.insert(name, value).expect("within limits");
    }
    Command {
        sender,
        recipient: recipient.clone(),
        action: Action::new("a".repeat(MAX_ACTION_BYTES)).expect("at the limit"),
        params,
        seq,
        iat: NOW,
        exp: NOW.plus(MAX_LIFETIME_SECS),
    }
}

/// One algorithm's setting: a snapshot of `senders` senders all holding `key`, commands signed
/// by it.
struct World {
    name: &'static str,
    key: SigningKey,
    snapshot: MemorySnapshot,
    typical_recipient: DeviceId,
    large_recipient: DeviceId,
}

const SNAPSHOT_SENDERS: usize = 1_000;
const REPLAY_CAPACITY: usize = DEFAULT_REPLAY_SENDERS;

impl World {
    fn new(name: &'static str, key: SigningKey, senders: usize) -> Self {
        let mut snapshot = MemorySnapshot::new(NOW, 3_600, TrustStatus::Affirming);
        for i in 0..senders {
            snapshot.insert(device(i, 16), sender_record(&key));
            snapshot.insert(device(i, MAX_DEVICE_ID_BYTES), sender_record(&key));
        }
        World {
            name,
            key,
            snapshot,
            typical_recipient: DeviceId::new(RECIPIENT_TYPICAL).expect("short"),
            large_recipient: device(999_999, MAX_DEVICE_ID_BYTES),
        }
    }

    fn sign_typical(&self, sender: usize, seq: u64) -> Vec<u8> {
        sign_command(&typical(device(sender, 16), seq), &self.key)
    }

    fn sign_largest(&self, sender: usize, seq: u64) -> Vec<u8> {
        let command = largest(
            device(sender, MAX_DEVICE_ID_BYTES),
            &self.large_recipient,
            seq,
        );
        sign_command(&command, &self.key)
    }
}

// ---------------------------------------------------------------------------------------------
// Heap per verify

fn verify_heap(world: &World) {
    let mut replay = ReplayGuard::new(REPLAY_CAPACITY);
    // Steady state: senders 0 and 1 are already remembered by the guard.
    for (sender, bytes) in [(0, world.sign_typical(0, 1)), (1, world.sign_largest(1, 1))] {
        let recipient = if sender == 0 {
            &world.typical_recipient
        } else {
            &world.large_recipient
        };
        let verdict = verify(
            &bytes,
            &world.snapshot,
            &mut replay,
            NOW,
            recipient,
            &DangerAllowAll,
        );
        assert!(verdict.is_allow(), "{:?}", verdict.reasons());
    }

    let typical_bytes = world.sign_typical(0, 2);
    let largest_bytes = world.sign_largest(1, 2);
    let new_sender_bytes = world.sign_typical(2, 1);
    let mut forged = world.sign_typical(0, 3);
    let last = forged.len() - 1;
    forged[last] ^= 1;

    let mut run = |label: &str, bytes: &[u8], recipient: &DeviceId, allow: bool| {
        let mut verdict_ok = false;
        let heap = heap_of(|| {
            let verdict = verify(
                bytes,
                &world.snapshot,
                &mut replay,
                NOW,
                recipient,
                &DangerAllowAll,
            );
            verdict_ok = verdict.is_allow() == allow;
            verdict
        });
        assert!(verdict_ok, "{label}: unexpected verdict");
        println!(
            "  {:8} {label:44} {:>5} B envelope  peak {:>5} B  {:>3} allocations  retained {:>4} B",
            world.name,
            bytes.len(),
            heap.peak,
            heap.allocations,
            heap.retained
        );
    };
    run(
        "Allow, typical command, known sender",
        &typical_bytes,
        &world.typical_recipient,
        true,
    );
    run(
        "Allow, largest command, known sender",
        &largest_bytes,
        &world.large_recipient,
        true,
    );
    run(
        "Allow, typical command, new sender",
        &new_sender_bytes,
        &world.typical_recipient,
        true,
    );
    run(
        "Deny (BadSignature), typical command",
        &forged,
        &world.typical_recipient,
        false,
    );
    run(
        "Deny (Replay), typical command again",
        &typical_bytes,
        &world.typical_recipient,
        false,
    );
}

/// Inputs anyone can send, refused before any signature check, that would make the CBOR
/// decoder build the largest value trees `MAX_COMMAND_BYTES` allows. The structural pre-scan
/// (`MAX_CBOR_ITEMS`) now refuses them as `Malformed(TooManyItems)` before any `Value` is
/// built; before it, each cost 128 KiB.
fn hostile_heap(world: &World) {
    let len = MAX_COMMAND_BYTES;
    // An array of one-byte items: header 0x99 + 2-byte count, then zeros.
    let items = len - 3;
    let mut array = vec![0x99, (items >> 8) as u8, items as u8];
    array.resize(len, 0x00);
    // The same inside tag 18 (COSE_Sign1): header 0xd2, then the array one item shorter.
    let mut tagged = vec![0xd2, 0x99, ((items - 1) >> 8) as u8, (items - 1) as u8];
    tagged.resize(len, 0x00);
    // A map of one-byte keys and values: header 0xb9 + 2-byte count, then zero pairs.
    let pairs = (len - 3) / 2;
    let mut map = vec![0xb9, (pairs >> 8) as u8, pairs as u8];
    map.resize(3 + 2 * pairs, 0x00);
    let mut replay = ReplayGuard::new(REPLAY_CAPACITY);
    for (label, bytes) in [
        ("array of 4093 zeros", array),
        ("tag 18 around an array of 4092 zeros", tagged),
        ("map of 2046 zero pairs", map),
    ] {
        let heap = heap_of(|| {
            let verdict = verify(
                &bytes,
                &world.snapshot,
                &mut replay,
                NOW,
                &world.typical_recipient,
                &DangerAllowAll,
            );
            assert!(
                matches!(verdict.reasons(), [Reason::Malformed(_)]),
                "{label}: {:?}",
                verdict.reasons()
            );
            verdict
        });
        println!(
            "  Deny (Malformed), {label:38} {:>5} B input     peak {:>6} B  {:>3} allocations",
            bytes.len(),
            heap.peak,
            heap.allocations
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Steady-state structures

fn snapshot_per_sender(key: &SigningKey, id_len: usize) -> f64 {
    const N: usize = 10_000;
    let record = sender_record(key);
    let ids: Vec<DeviceId> = (0..N).map(|i| device(i, id_len)).collect();
    let heap = heap_of(|| {
        let mut snapshot = MemorySnapshot::new(NOW, 3_600, TrustStatus::Affirming);
        for id in &ids {
            snapshot.insert(id.clone(), record.clone());
        }
        snapshot
    });
    // The snapshot is dropped by `heap_of`; its size is the peak (nothing else allocates).
    heap.peak as f64 / N as f64
}

fn replay_per_sender(world: &World, id_len: usize) -> (f64, usize) {
    let senders = REPLAY_CAPACITY;
    let mut snapshot = MemorySnapshot::new(NOW, 3_600, TrustStatus::Affirming);
    let envelopes: Vec<Vec<u8>> = (0..senders)
        .map(|i| {
            snapshot.insert(device(i, id_len), sender_record(&world.key));
            let mut command = typical(device(i, id_len), 1);
            command.recipient = world.typical_recipient.clone();
            sign_command(&command, &world.key)
        })
        .collect();
    let stranger = {
        let stranger = device(senders, id_len);
        snapshot.insert(stranger.clone(), sender_record(&world.key));
        let mut command = typical(stranger, 1);
        command.recipient = world.typical_recipient.clone();
        sign_command(&command, &world.key)
    };
    let mut replay = ReplayGuard::new(REPLAY_CAPACITY);
    let before = CURRENT.load(Relaxed);
    for bytes in &envelopes {
        let verdict = verify(
            bytes,
            &snapshot,
            &mut replay,
            NOW,
            &world.typical_recipient,
            &DangerAllowAll,
        );
        assert!(verdict.is_allow(), "{:?}", verdict.reasons());
    }
    let grown = CURRENT.load(Relaxed) - before;
    assert_eq!(replay.len(), senders);
    // A full guard refuses a sender it does not know, and stays the same size.
    let refused = verify(
        &stranger,
        &snapshot,
        &mut replay,
        NOW,
        &world.typical_recipient,
        &DangerAllowAll,
    );
    assert!(
        refused
            .reasons()
            .contains(&Reason::ReplayGuardFull { capacity: senders }),
        "{:?}",
        refused.reasons()
    );
    drop(refused);
    assert_eq!(CURRENT.load(Relaxed) - before, grown);
    (grown as f64 / senders as f64, senders)
}

// ---------------------------------------------------------------------------------------------
// Stack

/// Bytes painted below the measuring frame; far more than `verify` uses.
const PAINT_BYTES: usize = 256 * 1024;
const PATTERN: u8 = 0xA5;
/// Stack of the thread the painting runs on.
const PAINT_THREAD_STACK: usize = 1024 * 1024;

/// Fills `PAINT_BYTES` of stack below the caller with the pattern; returns that region.
#[inline(never)]
fn paint() -> (usize, usize) {
    let mut region = [0u8; PAINT_BYTES];
    region.fill(PATTERN);
    let region = black_box(&mut region);
    let low = region.as_ptr() as usize;
    (low, low + PAINT_BYTES)
}

/// Bytes from `high` down to the deepest byte in `low..high` that no longer holds the
/// pattern.
#[inline(never)]
fn touched(low: usize, high: usize) -> usize {
    (low..high)
        // SAFETY (in practice): these addresses are this thread's own stack, mapped and
        // written by `paint`, below the live frames. Reading stack memory that belongs to no
        // live object is outside Rust's rules; it is the usual stack-painting measurement and
        // only this example does it.
        .find(|&a| unsafe { std::ptr::read_volatile(a as *const u8) } != PATTERN)
        .map_or(0, |deepest| high - deepest)
}

/// Stack bytes `f` wrote, measured on a thread of its own.
fn stack_of(f: impl FnOnce() + Send) -> usize {
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .stack_size(PAINT_THREAD_STACK)
            .spawn_scoped(s, || {
                let (low, high) = paint();
                f();
                touched(low, high)
            })
            .expect("spawn")
            .join()
            .expect("no panic")
    })
}

/// What a stack probe verifies: a known sender's command, with a fresh guard.
fn probe_input(algorithm: &str, size: &str) -> (World, Vec<u8>, DeviceId) {
    let senders = 1;
    let world = match algorithm {
        "ed25519" => World::new("Ed25519", ed25519_key(), senders),
        _ => World::new("P-256", p256_key(), senders),
    };
    let (bytes, recipient) = match size {
        "largest" => (world.sign_largest(0, 1), world.large_recipient.clone()),
        _ => (world.sign_typical(0, 1), world.typical_recipient.clone()),
    };
    (world, bytes, recipient)
}

fn verify_once(world: &World, bytes: &[u8], recipient: &DeviceId) {
    let mut replay = ReplayGuard::new(REPLAY_CAPACITY);
    let verdict = verify(
        black_box(bytes),
        &world.snapshot,
        &mut replay,
        NOW,
        recipient,
        &DangerAllowAll,
    );
    assert!(verdict.is_allow(), "{:?}", verdict.reasons());
}

/// Child process, run under `ulimit -s`: prepares on a thread of its own (its stack is not the
/// main thread's), then verifies once on the main thread, whose stack the limit bounds (with
/// `algorithm` "none" it verifies nothing). A stack overflow kills the process.
fn probe_child(algorithm: &str, size: &str) -> ExitCode {
    let input = std::thread::Builder::new()
        .stack_size(8 * 1024 * 1024)
        .spawn({
            let (algorithm, size) = (algorithm.to_owned(), size.to_owned());
            move || probe_input(&algorithm, &size)
        })
        .expect("spawn")
        .join()
        .expect("no panic");
    if algorithm != "none" {
        let (world, bytes, recipient) = &input;
        verify_once(world, bytes, recipient);
    }
    ExitCode::SUCCESS
}

/// Does the child complete with a main-thread stack limit of `kib` KiB?
fn completes(algorithm: &str, size: &str, kib: usize) -> bool {
    let exe = std::env::current_exe().expect("own path");
    std::process::Command::new("sh")
        .args(["-c", r#"ulimit -s "$1" && exec "$0" stack-probe "$2" "$3""#])
        .arg(exe)
        .args([&kib.to_string(), algorithm, size])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("run sh")
        .success()
}

/// Smallest `ulimit -s` (KiB) under which the child completes, by bisection.
fn smallest_stack_limit(algorithm: &str, size: &str) -> usize {
    let (mut fails, mut works) = (0usize, 8 * 1024);
    assert!(completes(algorithm, size, works), "fails at {works} KiB");
    while works - fails > 1 {
        let mid = (fails + works) / 2;
        if completes(algorithm, size, mid) {
            works = mid;
        } else {
            fails = mid;
        }
    }
    works
}

// ---------------------------------------------------------------------------------------------

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.len() == 4 && args[1] == "stack-probe" {
        return probe_child(&args[2], &args[3]);
    }
    let profile = if cfg!(debug_assertions) {
        "debug assertions on"
    } else {
        "optimised"
    };
    println!(
        "host: {} ({}-bit pointers), {profile}",
        std::env::consts::ARCH,
        usize::BITS
    );

    println!("\nsize_of (bytes, inline part; heap parts are counted below)");
    for (name, size) in [
        ("PublicKey", size_of::<PublicKey>()),
        ("SenderRecord", size_of::<SenderRecord>()),
        ("DeviceId", size_of::<DeviceId>()),
        ("Command", size_of::<Command>()),
        ("Verdict", size_of::<Verdict>()),
        ("Reason", size_of::<Reason>()),
        ("MemorySnapshot (empty)", size_of::<MemorySnapshot>()),
        ("ReplayGuard (empty)", size_of::<ReplayGuard>()),
        (
            "p256::ecdsa::VerifyingKey",
            size_of::<p256::ecdsa::VerifyingKey>(),
        ),
        (
            "ed25519_dalek::VerifyingKey",
            size_of::<ed25519_dalek_nostd::VerifyingKey>(),
        ),
        ("SigningKey (tools only)", size_of::<SigningKey>()),
    ] {
        println!("  {name:30} {size:>4}");
    }

    let senders = SNAPSHOT_SENDERS;
    let worlds = [
        World::new("Ed25519", ed25519_key(), senders),
        World::new("P-256", p256_key(), senders),
    ];

    println!(
        "\nheap of one verify call above the steady state ({} senders in the snapshot, replay \
         guard of capacity {REPLAY_CAPACITY}, allow-all policy hook; the returned verdict is \
         included and then dropped)",
        worlds[0].snapshot.len()
    );
    for world in &worlds {
        verify_heap(world);
    }
    println!(
        "\nheap of one verify call on hostile input of {MAX_COMMAND_BYTES} bytes (refused before \
         any signature check; a ciborium Value is {} bytes)",
        size_of::<coset::cbor::value::Value>()
    );
    hostile_heap(&worlds[0]);

    println!("\nMemorySnapshot, heap per sender (10,000 senders inserted)");
    for id_len in [16, MAX_DEVICE_ID_BYTES] {
        println!(
            "  {id_len:>2}-byte device ids: {:>6.1} B per sender",
            snapshot_per_sender(&worlds[0].key, id_len)
        );
    }

    println!("\nReplayGuard, heap per remembered sender (guard filled to its capacity)");
    for id_len in [16, MAX_DEVICE_ID_BYTES] {
        let (per, senders) = replay_per_sender(&worlds[0], id_len);
        println!("  {id_len:>2}-byte device ids: {per:>6.1} B per sender ({senders} senders)");
    }

    println!(
        "\nstack high-water mark of one verify call (painted {} KiB below the caller; bytes \
         written)",
        PAINT_BYTES / 1024
    );
    let baseline = stack_of(|| {});
    println!("  nothing called (the measurement's own overhead): {baseline:>6} B");
    for world in &worlds {
        for size in ["typical", "largest"] {
            let (bytes, recipient) = match size {
                "largest" => (world.sign_largest(0, 1), world.large_recipient.clone()),
                _ => (world.sign_typical(0, 1), world.typical_recipient.clone()),
            };
            let used = stack_of(|| verify_once(world, &bytes, &recipient));
            println!("  {:8} {size:8} command: {used:>6} B", world.name);
        }
    }

    println!(
        "\ncross-check: smallest main-thread stack limit (ulimit -s, KiB) under which a child \
         process completes one verify (setup on another thread); minus the limit for a child \
         that verifies nothing"
    );
    let floor = smallest_stack_limit("none", "typical");
    println!("  a child that verifies nothing:   {floor:>4} KiB");
    for algorithm in ["ed25519", "p256"] {
        for size in ["typical", "largest"] {
            let limit = smallest_stack_limit(algorithm, size);
            println!(
                "  {algorithm:8} {size:8} command: {limit:>4} KiB (+{} KiB)",
                limit - floor
            );
        }
    }
    ExitCode::SUCCESS
}
