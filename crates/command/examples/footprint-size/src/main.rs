//! A `no_std`, `no_main` program that links the command verifier the way firmware would — only
//! `core`, `alloc` and the verifier's own dependencies, no `std` — so that the growth of its
//! `.text` over the baseline is the verifier's code (`docs/command.md` §10).
//!
//! On the host it runs on the C library: `malloc` behind the global allocator, `write` for its
//! one line of output, `abort` on panic (no formatting machinery). It verifies the golden
//! commands of `tests/golden/` (Ed25519 and P-256, keys from the golden tests' seeds).
//!
//! ```text
//! cd crates/command/examples/footprint-size
//! cargo build --profile footprint                      # baseline
//! cargo build --profile footprint --features verify    # + the verifier
//! size target/footprint/proverka-command-footprint-size
//! ```

#![no_std]
#![no_main]

extern crate alloc;

use alloc::vec::Vec;
use core::alloc::{GlobalAlloc, Layout};
use core::ffi::{c_int, c_void};
use core::hint::black_box;

#[cfg(all(feature = "verify", any(feature = "raw-ed25519", feature = "raw-p256")))]
compile_error!("choose one of the features verify, raw-ed25519, raw-p256");

#[link(name = "c")]
extern "C" {
    fn malloc(size: usize) -> *mut c_void;
    fn posix_memalign(out: *mut *mut c_void, align: usize, size: usize) -> c_int;
    fn realloc(ptr: *mut c_void, size: usize) -> *mut c_void;
    fn free(ptr: *mut c_void);
    fn write(fd: c_int, buf: *const c_void, count: usize) -> isize;
    fn abort() -> !;
}

/// The C library's allocator (glibc's `malloc` aligns to 16).
struct LibcAlloc;

// SAFETY: blocks come from malloc/posix_memalign with at least the requested alignment, and go
// back to free.
unsafe impl GlobalAlloc for LibcAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.align() <= 16 {
            // SAFETY: plain C call.
            unsafe { malloc(layout.size()) as *mut u8 }
        } else {
            let mut out = core::ptr::null_mut();
            // SAFETY: `align` is a power of two and a multiple of the pointer size.
            match unsafe { posix_memalign(&mut out, layout.align(), layout.size()) } {
                0 => out as *mut u8,
                _ => core::ptr::null_mut(),
            }
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        // SAFETY: `ptr` came from `alloc`/`realloc`.
        unsafe { free(ptr as *mut c_void) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if layout.align() <= 16 {
            // SAFETY: `ptr` came from malloc; realloc keeps malloc's alignment.
            unsafe { realloc(ptr as *mut c_void, new_size) as *mut u8 }
        } else {
            // SAFETY: the caller's guarantees, passed on.
            let new =
                unsafe { self.alloc(Layout::from_size_align_unchecked(new_size, layout.align())) };
            if !new.is_null() {
                // SAFETY: both blocks are at least min(old, new) bytes and distinct.
                unsafe {
                    core::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                    self.dealloc(ptr, layout);
                }
            }
            new
        }
    }
}

#[global_allocator]
static ALLOCATOR: LibcAlloc = LibcAlloc;

/// Firmware-style: no message, no unwinding.
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    // SAFETY: plain C call.
    unsafe { abort() }
}

/// Stops without formatting anything (`unwrap` would link `Debug` impls).
fn fail() -> ! {
    // SAFETY: plain C call.
    unsafe { abort() }
}

#[cfg(any(feature = "verify", feature = "raw-ed25519", feature = "raw-p256"))]
fn ok<T, E>(result: Result<T, E>) -> T {
    result.unwrap_or_else(|_| fail())
}

// The host's precompiled `core` and `alloc` are built for unwinding, and fat LTO brings their
// landing pads along; with `panic = "abort"` nothing unwinds, so these two symbols they name
// are never called. (A `thumbv7em-none-eabihf` toolchain ships `core` and `alloc` built with
// `panic = "abort"` and needs neither.)
#[no_mangle]
extern "C" fn rust_eh_personality() {}

#[no_mangle]
extern "C" fn _Unwind_Resume() -> ! {
    fail()
}

fn print(bytes: &[u8]) {
    // SAFETY: a valid buffer of `bytes.len()` bytes.
    unsafe { write(1, bytes.as_ptr() as *const c_void, bytes.len()) };
}

fn print_number(mut n: u32) {
    let mut digits = [0u8; 10];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    print(&digits[at..]);
}

/// Hex text (whitespace ignored) to bytes; the inputs are the golden files.
fn decode_hex(text: &str) -> Vec<u8> {
    let nibble = |c: u8| match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => fail(),
    };
    let digits: Vec<u8> = text.bytes().filter(|c| !c.is_ascii_whitespace()).collect();
    digits
        .chunks(2)
        .map(|pair| nibble(pair[0]) << 4 | nibble(pair[1]))
        .collect()
}

const ED25519_COMMAND: &str = include_str!("../../../tests/golden/ed25519-command.hex");
const P256_COMMAND: &str = include_str!("../../../tests/golden/p256-command.hex");
/// Public keys of the golden tests' signing keys (Ed25519 seed and P-256 scalar 0x42 × 32).
const ED25519_KEY: &str = "2152f8d19b791d24453242e15f2eab6cb7cffa7b6a5ed30097960e069881db12";
const P256_KEY: &str = "033ad3861a95621392516bb593ef05583ed2e5866f5cb6260a3017237fd89b90af";

#[no_mangle]
extern "C" fn main(_argc: c_int, _argv: *const *const u8) -> c_int {
    let inputs = [
        (
            black_box(decode_hex(ED25519_KEY)),
            black_box(decode_hex(ED25519_COMMAND)),
        ),
        (
            black_box(decode_hex(P256_KEY)),
            black_box(decode_hex(P256_COMMAND)),
        ),
    ];
    let accepted = run(&inputs);
    print(b"accepted ");
    print_number(accepted);
    print(b"\n");
    c_int::from(accepted != expected())
}

const fn expected() -> u32 {
    if cfg!(feature = "verify") {
        2
    } else {
        0
    }
}

/// Baseline: only a checksum of the inputs, so that they are used.
#[cfg(not(any(feature = "verify", feature = "raw-ed25519", feature = "raw-p256")))]
fn run(inputs: &[(Vec<u8>, Vec<u8>); 2]) -> u32 {
    let sum = inputs
        .iter()
        .flat_map(|(key, command)| key.iter().chain(command))
        .fold(0u32, |sum, &b| sum.wrapping_add(u32::from(b)));
    print(b"checksum ");
    print_number(sum);
    print(b"\n");
    0
}

/// The verifier: both keys parsed into a snapshot, both golden commands verified for their
/// recipient, with a replay guard and the allow-all policy hook.
#[cfg(feature = "verify")]
fn run(inputs: &[(Vec<u8>, Vec<u8>); 2]) -> u32 {
    use proverka_command::*;

    let issued = UnixSeconds(1_767_225_600);
    let keys = [
        ok(PublicKey::from_ed25519_bytes(ok(inputs[0]
            .0
            .as_slice()
            .try_into()))),
        ok(PublicKey::from_p256_sec1(&inputs[1].0)),
    ];
    let mut snapshot = MemorySnapshot::new(issued, 3_600, TrustStatus::Affirming);
    for (name, key) in [&b"switch-ed25519"[..], b"switch-p256"]
        .into_iter()
        .zip(keys)
    {
        let record = SenderRecord {
            key,
            revoked: false,
            status: TrustStatus::Affirming,
            status_expires_at: issued.plus(86_400),
        };
        snapshot.insert(ok(DeviceId::new(name)), record);
    }
    let me = ok(DeviceId::new(&b"lamp-17"[..]));
    let mut replay = ReplayGuard::new(16);
    let now = issued.plus(1);
    inputs
        .iter()
        .map(|(_, command)| verify(command, &snapshot, &mut replay, now, &me, &DangerAllowAll))
        .filter(Verdict::is_allow)
        .count() as u32
}

/// The envelope's last 64 bytes as a signature over the bytes before them: the result is
/// irrelevant (it fails), only that the check is linked.
#[cfg(any(feature = "raw-ed25519", feature = "raw-p256"))]
fn split(command: &[u8]) -> (&[u8], &[u8]) {
    command.split_at(command.len() - 64)
}

/// Only Ed25519: key decoding, the small-order check the verifier makes, `verify_strict`.
#[cfg(feature = "raw-ed25519")]
fn run(inputs: &[(Vec<u8>, Vec<u8>); 2]) -> u32 {
    let (key, command) = &inputs[0];
    let Ok(key) = ed25519_dalek::VerifyingKey::from_bytes(ok(key.as_slice().try_into())) else {
        return 0;
    };
    let (message, signature) = split(command);
    let signature = ok(ed25519_dalek::Signature::from_slice(signature));
    u32::from(!key.is_weak() && key.verify_strict(message, &signature).is_ok())
}

/// Only P-256: SEC1 key decoding and ECDSA verification.
#[cfg(feature = "raw-p256")]
fn run(inputs: &[(Vec<u8>, Vec<u8>); 2]) -> u32 {
    use p256::ecdsa::signature::Verifier as _;

    let (key, command) = &inputs[1];
    let Ok(key) = p256::ecdsa::VerifyingKey::from_sec1_bytes(key) else {
        return 0;
    };
    let (message, signature) = split(command);
    let signature = ok(p256::ecdsa::Signature::from_slice(signature));
    u32::from(key.verify(message, &signature).is_ok())
}
