//! A small world for the specification tests: two senders, one recipient, a fresh snapshot.
#![allow(dead_code)]

use proverka_command::*;

/// The verifier's clock in every test, unless a test moves it.
pub const NOW: UnixSeconds = UnixSeconds(1_700_000_000);

pub fn id(s: &str) -> DeviceId {
    DeviceId::new(s.as_bytes()).expect("test ids are short")
}

/// The Ed25519 sender (fixed seed).
pub fn ed_key() -> SigningKey {
    SigningKey::from_ed25519_seed([0x11; 32])
}

/// The P-256 sender (fixed scalar).
pub fn p256_key() -> SigningKey {
    SigningKey::from_p256_scalar(&[0x22; 32]).expect("valid scalar")
}

pub fn ed_sender() -> DeviceId {
    id("switch-ed25519")
}

pub fn p256_sender() -> DeviceId {
    id("switch-p256")
}

pub fn me() -> DeviceId {
    id("lamp-17")
}

pub fn record(key: &SigningKey) -> SenderRecord {
    SenderRecord {
        key: key.public_key(),
        revoked: false,
        status: TrustStatus::Affirming,
        status_expires_at: NOW.plus(86_400),
    }
}

/// A snapshot issued a minute ago, good for an hour, requiring "affirming".
pub fn snapshot() -> MemorySnapshot {
    let mut s = MemorySnapshot::new(UnixSeconds(NOW.0 - 60), 3_600, TrustStatus::Affirming);
    s.insert(ed_sender(), record(&ed_key()));
    s.insert(p256_sender(), record(&p256_key()));
    s
}

/// A valid command from `sender` to [`me`], issued now, valid for a minute.
pub fn command(sender: DeviceId, seq: u64) -> Command {
    Command {
        sender,
        recipient: me(),
        action: Action::new("actuate").expect("short"),
        params: Params::new()
            .with("level", ParamValue::Int(3))
            .and_then(|p| p.with("mode", ParamValue::Text("eco".into())))
            .and_then(|p| p.with("force", ParamValue::Bool(false)))
            .expect("within limits"),
        seq,
        iat: NOW,
        exp: NOW.plus(60),
    }
}

pub fn ed_command(seq: u64) -> Command {
    command(ed_sender(), seq)
}

/// Verifies at [`NOW`] for [`me`] with an allow-all policy.
pub fn check(bytes: &[u8], snapshot: &MemorySnapshot, replay: &mut ReplayGuard) -> Verdict {
    verify(bytes, snapshot, replay, NOW, &me(), &DangerAllowAll)
}

pub fn guard() -> ReplayGuard {
    ReplayGuard::new(DEFAULT_REPLAY_SENDERS)
}

/// Verifies with a fresh guard and returns the reasons.
pub fn reasons_of(bytes: &[u8]) -> Vec<Reason> {
    check(bytes, &snapshot(), &mut guard()).reasons().to_vec()
}
