//! Verifies signed device-to-device commands at the edge: who sent it, is the sender still
//! trusted now, is it fresh and not replayed, is it for this device, does the owner's policy
//! allow it.
//!
//! A device or its gateway calls [`verify`] before acting on a command from another device. A
//! command is a tagged COSE_Sign1 signed by the sender device's key (P-256 or Ed25519) over a
//! small deterministic CBOR payload; the format is specified in `docs/command.md` and
//! `docs/command.cddl`. The verifier checks it against a [`Snapshot`] of ledger state (the
//! sender's current key, revocation, trust status and the owner's required status), a
//! [`ReplayGuard`] (per-sender sequence window) and a [`PolicyHook`] (the owner's policy
//! decision, e.g. Cedar, plugged in by a std layer), and returns a [`Verdict`]: Allow, or Deny
//! with every applicable [`Reason`].
//!
//! ```
//! use proverka_command::*;
//!
//! let key = SigningKey::from_ed25519_seed([7; 32]);
//! let (sender, me) = (DeviceId::new(*b"switch-1").unwrap(), DeviceId::new(*b"lamp-1").unwrap());
//! let mut snapshot = MemorySnapshot::new(UnixSeconds(1_000), 3_600, TrustStatus::Affirming);
//! snapshot.insert(sender.clone(), SenderRecord {
//!     key: key.public_key(),
//!     revoked: false,
//!     status: TrustStatus::Affirming,
//!     status_expires_at: UnixSeconds(5_000),
//! });
//! let command = Command {
//!     sender,
//!     recipient: me.clone(),
//!     action: Action::new("actuate").unwrap(),
//!     params: Params::new().with("level", ParamValue::Int(3)).unwrap(),
//!     seq: 1,
//!     iat: UnixSeconds(1_100),
//!     exp: UnixSeconds(1_160),
//! };
//! let bytes = sign_command(&command, &key);
//! let mut replay = ReplayGuard::new(DEFAULT_REPLAY_SENDERS);
//! let verdict = verify(&bytes, &snapshot, &mut replay, UnixSeconds(1_101), &me, &DangerAllowAll);
//! assert_eq!(verdict, Verdict::Allow(command));
//! // The same bytes again are a replay.
//! let again = verify(&bytes, &snapshot, &mut replay, UnixSeconds(1_102), &me, &DangerAllowAll);
//! assert_eq!(again.reasons(), &[Reason::Replay(ReplayKind::Duplicate)]);
//! ```
//!
//! # What is deliberately absent
//!
//! * **No policy engine.** Cedar needs std (`notes/cedar.md` §6); the owner's decision comes
//!   through [`PolicyHook`], called only for commands whose signature verified.
//! * **No trust in the snapshot's origin.** Checking that the snapshot comes from the
//!   validators is its builder's job; this crate only enforces its age.
//! * **No clock.** Time is an argument (`now`); the `std` feature adds [`UnixSeconds::now`].
//! * **No own cryptography or CBOR codec:** COSE via `coset`, CBOR via coset's `ciborium`,
//!   ECDSA via RustCrypto `p256`, Ed25519 via `ed25519-dalek`, SHA-256 via `sha2`.
//!
//! # `no_std`
//!
//! The crate is `#![no_std]` with `alloc`. Its `std` feature (default) only adds
//! `std::error::Error` impls and [`UnixSeconds::now`]. Every dependency is used with its
//! default features off (coset's default set is empty). Checked with
//! `cargo tree -p proverka-command --no-default-features -e normal,features`: no dependency has
//! its `std` feature enabled; the only `alloc` features are ciborium-io's and serde's (through
//! coset). With `-e features,no-dev` the one `std` is `semver`'s, a build-dependency of
//! curve25519-dalek's build script (runs on the host); `-e features` alone also lists the
//! dev-dependencies (`cddl`, `hex`), which enable std for tests only. No bare-metal target was
//! built: none is installed.
//!
//! # Cost
//!
//! `examples/command_bench.rs`, one thread, 10,000 senders: full verification runs at 0.87 of
//! the raw Ed25519 `verify_strict` rate (~7 µs on top of ~51 µs) and 0.94 of the raw P-256
//! rate (`docs/command.md` §9).

#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

// The workspace names the no_std builds of these two crates apart from their std builds (see the
// root Cargo.toml); inside this crate they go by their usual names.
extern crate ed25519_dalek_nostd as ed25519_dalek;
extern crate sha2_nostd as sha2;

mod cbor;
mod command;
mod envelope;
mod id;
mod key;
mod policy;
mod replay;
mod snapshot;
mod verify;

pub use command::{Action, Command, Field, Malformed, ParamValue, Params};
pub use envelope::{sign_command, sign_command_with_alg, sign_payload};
pub use id::{DeviceId, InvalidDeviceId, UnixSeconds};
pub use key::{Algorithm, KeyError, KeyType, PublicKey, SigningKey};
pub use policy::{DangerAllowAll, PolicyDecision, PolicyHook, PolicyRequest};
pub use replay::{ReplayGuard, ReplayKind};
pub use snapshot::{MemorySnapshot, SenderEntry, SenderRecord, Snapshot, TrustStatus};
pub use verify::{claimed_sender, open, verify, Reason, Verdict};

/// Largest command envelope accepted, in bytes; longer input is refused before parsing. Every
/// command within the field limits below fits in about 2.1 KiB.
pub const MAX_COMMAND_BYTES: usize = 4096;
/// Deepest nesting of CBOR containers (arrays, maps, tags, indefinite-length strings) in the
/// envelope, its protected header or the payload; checked before any decoding. A valid command
/// needs 3.
pub const MAX_CBOR_DEPTH: usize = 8;
/// Most CBOR items (every header: map keys and values, array elements, tags, string chunks) in
/// each of the envelope, its protected header and the payload; checked before any decoding, so
/// no decoder builds more than this many values. A command at every field limit needs 47.
pub const MAX_CBOR_ITEMS: usize = 64;
/// Device ids are 1 to this many bytes.
pub const MAX_DEVICE_ID_BYTES: usize = 64;
/// Action names are 1 to this many bytes.
pub const MAX_ACTION_BYTES: usize = 64;
/// Most params in a command.
pub const MAX_PARAMS: usize = 16;
/// Param names are 1 to this many bytes.
pub const MAX_PARAM_KEY_BYTES: usize = 32;
/// Text param values are at most this many bytes.
pub const MAX_PARAM_TEXT_BYTES: usize = 64;
/// Longest lifetime a command may have: `exp - iat` at most this many seconds.
pub const MAX_LIFETIME_SECS: u64 = 300;
/// How far in the future a command's `iat` (and a snapshot's issue time) may be, in seconds,
/// to allow for clocks that differ.
pub const MAX_CLOCK_SKEW_SECS: u64 = 30;
/// Width of each sender's replay window: how far below the highest accepted `seq` a command may
/// still arrive (once).
pub const REPLAY_WINDOW: u64 = 64;
/// A replay guard capacity for a typical gateway (senders remembered at once).
pub const DEFAULT_REPLAY_SENDERS: usize = 4096;
/// The content type (COSE header 3) of a command envelope.
pub const CONTENT_TYPE: &str = "application/vnd.proverka.command+cbor";

#[cfg(feature = "std")]
mod std_impls {
    impl std::error::Error for crate::Malformed {}
    impl std::error::Error for crate::KeyError {}
    impl std::error::Error for crate::InvalidDeviceId {}
    impl std::error::Error for crate::Reason {}
}
