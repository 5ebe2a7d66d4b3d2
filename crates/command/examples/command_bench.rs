//! Measures, on one thread: raw single-signature verification per second, full command
//! verification per second (envelope + payload parsing, snapshot lookup among 10,000 senders,
//! kid and algorithm binding, signature, time/status checks, replay guard, allow-all policy
//! hook), and their ratio — for Ed25519 and for P-256.
//!
//! Run: `cargo run -p proverka-command --release --example command_bench`

use std::hint::black_box;
use std::time::Instant;

use ed25519_dalek_nostd as ed25519_dalek;
use p256::ecdsa::signature::Verifier as _;
use proverka_command::*;
use sha2_nostd::{Digest as _, Sha256};

const SENDERS: usize = 10_000;
const ROUNDS: usize = 3;
const NOW: UnixSeconds = UnixSeconds(1_767_225_600);

/// One pre-signed command and what the raw baseline verifies: the same key, message
/// (Sig_structure) and signature.
struct Sample {
    envelope: Vec<u8>,
    to_be_signed: Vec<u8>,
    signature: Vec<u8>,
}

fn seed(kind: &str, i: usize) -> [u8; 32] {
    Sha256::digest(format!("{kind}-{i}")).into()
}

fn device(kind: &str, i: usize) -> DeviceId {
    DeviceId::new(format!("{kind}-device-{i:05}").into_bytes()).expect("short id")
}

fn world(
    kind: &str,
    make_key: impl Fn(usize) -> SigningKey,
    commands: usize,
) -> (MemorySnapshot, Vec<SigningKey>, Vec<Sample>) {
    let mut snapshot = MemorySnapshot::new(NOW, 3_600, TrustStatus::Affirming);
    let keys: Vec<SigningKey> = (0..SENDERS).map(make_key).collect();
    for (i, key) in keys.iter().enumerate() {
        snapshot.insert(
            device(kind, i),
            SenderRecord {
                key: key.public_key(),
                revoked: false,
                status: TrustStatus::Affirming,
                status_expires_at: NOW.plus(86_400),
            },
        );
    }
    let recipient = DeviceId::new(*b"bench-recipient").expect("short id");
    let samples = (0..commands)
        .map(|n| {
            let i = (n * 7_919) % SENDERS; // spread over the senders
            let command = Command {
                sender: device(kind, i),
                recipient: recipient.clone(),
                action: Action::new("actuate").expect("short"),
                params: Params::new()
                    .with("level", ParamValue::Int(3))
                    .and_then(|p| p.with("zone", ParamValue::Text("north-7".into())))
                    .expect("within limits"),
                seq: n as u64,
                iat: NOW,
                exp: NOW.plus(60),
            };
            let envelope = sign_command(&command, &keys[i]);
            let sign1 =
                <coset::CoseSign1 as coset::TaggedCborSerializable>::from_tagged_slice(&envelope)
                    .expect("parses");
            Sample {
                to_be_signed: sign1.tbs_data(&[]),
                signature: sign1.signature.clone(),
                envelope,
            }
        })
        .collect();
    (snapshot, keys, samples)
}

fn per_second(n: usize, start: Instant) -> f64 {
    n as f64 / start.elapsed().as_secs_f64()
}

fn run(
    name: &str,
    kind: &str,
    snapshot: &MemorySnapshot,
    samples: &[Sample],
    raw: impl Fn(usize, &Sample) -> bool,
) {
    let recipient = DeviceId::new(*b"bench-recipient").expect("short id");
    let (mut best_raw, mut best_full) = (0f64, 0f64);
    for round in 1..=ROUNDS {
        let start = Instant::now();
        for (n, s) in samples.iter().enumerate() {
            assert!(black_box(raw(n, s)));
        }
        let raw_rate = per_second(samples.len(), start);

        let mut replay = ReplayGuard::new(SENDERS);
        let start = Instant::now();
        for s in samples {
            let verdict = verify(
                black_box(&s.envelope),
                snapshot,
                &mut replay,
                NOW,
                &recipient,
                &DangerAllowAll,
            );
            assert!(verdict.is_allow(), "{kind}: {:?}", verdict.reasons());
        }
        let full_rate = per_second(samples.len(), start);
        println!(
            "{name:8} round {round}: raw {raw_rate:>8.0}/s  full {full_rate:>8.0}/s  ratio {:.3}",
            full_rate / raw_rate
        );
        best_raw = best_raw.max(raw_rate);
        best_full = best_full.max(full_rate);
    }
    println!(
        "{name:8} best of {ROUNDS}: raw {best_raw:.0}/s ({:.1} µs)  full {best_full:.0}/s ({:.1} µs)  ratio {:.3}  (target ≥ 0.6)",
        1e6 / best_raw,
        1e6 / best_full,
        best_full / best_raw
    );
}

fn main() {
    println!(
        "one thread; {SENDERS} senders in the snapshot; replay guard for {SENDERS} senders; \
         allow-all policy hook"
    );

    let ed_commands = 20_000;
    let (snapshot, keys, samples) = world(
        "ed",
        |i| SigningKey::from_ed25519_seed(seed("ed", i)),
        ed_commands,
    );
    let ed_keys: Vec<ed25519_dalek::VerifyingKey> = keys
        .iter()
        .map(|k| match k {
            SigningKey::Ed25519(k) => k.verifying_key(),
            SigningKey::P256(_) => unreachable!(),
        })
        .collect();
    println!(
        "Ed25519: {ed_commands} commands of {} bytes",
        samples[0].envelope.len()
    );
    run("Ed25519", "ed", &snapshot, &samples, |n, s| {
        let key = &ed_keys[(n * 7_919) % SENDERS];
        let sig = ed25519_dalek::Signature::from_slice(&s.signature).expect("64 bytes");
        key.verify_strict(&s.to_be_signed, &sig).is_ok()
    });

    let p_commands = 5_000;
    let (snapshot, keys, samples) = world(
        "p256",
        |i| {
            let mut scalar = seed("p256", i);
            scalar[0] &= 0x7f; // below the group order
            SigningKey::from_p256_scalar(&scalar).expect("valid scalar")
        },
        p_commands,
    );
    let p_keys: Vec<p256::ecdsa::VerifyingKey> = keys
        .iter()
        .map(|k| match k {
            SigningKey::P256(k) => *k.verifying_key(),
            SigningKey::Ed25519(_) => unreachable!(),
        })
        .collect();
    println!(
        "P-256: {p_commands} commands of {} bytes",
        samples[0].envelope.len()
    );
    run("P-256", "p256", &snapshot, &samples, |n, s| {
        let key = &p_keys[(n * 7_919) % SENDERS];
        let sig = p256::ecdsa::Signature::from_slice(&s.signature).expect("64 bytes");
        key.verify(&s.to_be_signed, &sig).is_ok()
    });
}
