//! Measures, on one thread, the gateway's full check of a command — the `no_std` verifier
//! (envelope, snapshot lookup among 2,000 devices, kid/algorithm binding, Ed25519 signature,
//! time, replay, status) plus the recipient owner's Cedar policies (10 policies, entities built
//! from the snapshot's facts for every command) — against raw Ed25519 `verify_strict` of the
//! same messages, and Cedar alone, in the same run.
//!
//! Run: `cargo run -p proverka-gateway --release --example gateway_bench`

use std::collections::BTreeSet;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use coset::TaggedCborSerializable;
use proverka_command::{
    sign_command, Action, Command, DeviceId, ParamValue, Params, PolicyHook, PolicyRequest,
    SenderRecord, SigningKey, TrustStatus, UnixSeconds,
};
use proverka_gateway::{Checker, GatewaySnapshot, KnownDevice, ProvedPolicies};
use proverka_policy::{
    CedarHook, DeviceFacts, FactSource, JudgeError, OwnerPolicies, RequestEntities, TrustVector,
};
use sha2::{Digest, Sha256};

const SENDERS: usize = 1_000;
const VALVES: usize = 1_000;
const COMMANDS: usize = 20_000;
const ROUNDS: usize = 3;
const NOW: UnixSeconds = UnixSeconds(1_767_225_600);

/// grid's policy set: one permit that decides, nine that are evaluated and do not apply.
fn policies() -> OwnerPolicies {
    let mut set = vec![(
        "controllers-actuate".to_owned(),
        r#"@critical("recorded")
permit(principal, action == Proverka::Action::"actuate", resource)
  when { principal.model.name == "controller" && context.sender_status == "affirming"
         && principal has zone && resource has zone && principal.zone == resource.zone };"#
            .to_owned(),
    )];
    set.push((
        "no-bad-executables".into(),
        r#"forbid(principal, action, resource) when { context.sender_tv.executables >= 96 };"#
            .into(),
    ));
    set.push((
        "level-bounded".into(),
        r#"forbid(principal, action == Proverka::Action::"actuate", resource)
  when { context.params has level && context.params.level > 10 };"#
            .into(),
    ));
    for i in 0..7 {
        set.push((
            format!("tagged-{i}"),
            format!(
                r#"permit(principal, action == Proverka::Action::"actuate", resource)
  when {{ principal.tags.contains("crew-{i}") && resource.tags.contains("crew-{i}") }};"#
            ),
        ));
    }
    OwnerPolicies::new("grid", 1, &set).expect("admitted")
}

fn id(kind: &str, i: usize) -> DeviceId {
    DeviceId::new(format!("{kind}-{i:05}").into_bytes()).expect("short id")
}

fn facts(id: &DeviceId, owner: &str, model: &str) -> DeviceFacts {
    DeviceFacts {
        id: hex::encode(id.as_bytes()),
        owner: owner.into(),
        maker: "bolt".into(),
        model: hex::encode(Sha256::digest(model)),
        model_name: model.into(),
        zone: Some("north".into()),
        tags: BTreeSet::from(["pumps".to_owned()]),
        firmware: "c1".repeat(32),
        svn: 1,
    }
}

fn known(id: &DeviceId, key: &SigningKey, owner: &str, model: &str) -> KnownDevice {
    KnownDevice {
        sender: SenderRecord {
            key: key.public_key(),
            revoked: false,
            status: TrustStatus::Affirming,
            status_expires_at: NOW.plus(600),
        },
        facts: facts(id, owner, model),
        vector: TrustVector {
            instance_identity: 2,
            executables: 2,
            configuration: 2,
            hardware: 2,
            ..Default::default()
        },
        certified_height: 1,
        certified_ms: NOW.0 * 1000,
        expires_ms: (NOW.0 + 600) * 1000,
        passport: Arc::new(Vec::new()),
    }
}

/// The snapshot's facts, policies and cached entities, but no kept verdicts: Cedar evaluates
/// every command ("Cedar alone" measures evaluation, not the verdict cache).
struct Evaluate<'a>(&'a GatewaySnapshot);

impl FactSource for Evaluate<'_> {
    fn device(&self, id: &DeviceId) -> Option<&DeviceFacts> {
        self.0.device(id)
    }
    fn trust_vector(&self, id: &DeviceId) -> TrustVector {
        self.0.trust_vector(id)
    }
    fn policies(&self, owner: &str) -> Option<&OwnerPolicies> {
        self.0.policies(owner)
    }
    fn entities(
        &self,
        sender: &DeviceId,
        recipient: &DeviceId,
        build: &dyn Fn() -> Result<RequestEntities, JudgeError>,
    ) -> Option<Result<Arc<RequestEntities>, JudgeError>> {
        self.0.entities(sender, recipient, build)
    }
}

struct Sample {
    envelope: Vec<u8>,
    recipient: DeviceId,
    tbs: Vec<u8>,
    signature: ed25519_dalek::Signature,
    key: ed25519_dalek::VerifyingKey,
}

fn main() {
    let mut snapshot = GatewaySnapshot::new(600, TrustStatus::Warning);
    let keys: Vec<SigningKey> = (0..SENDERS)
        .map(|i| SigningKey::from_ed25519_seed(Sha256::digest(format!("ctl-{i}")).into()))
        .collect();
    for (i, key) in keys.iter().enumerate() {
        snapshot.insert_device(
            id("ctl", i),
            known(&id("ctl", i), key, "grid", "controller"),
        );
    }
    let valve_key = SigningKey::from_ed25519_seed([9; 32]);
    for v in 0..VALVES {
        snapshot.insert_device(
            id("valve", v),
            known(&id("valve", v), &valve_key, "grid", "valve"),
        );
    }
    snapshot.insert_policies(
        "grid".into(),
        ProvedPolicies {
            set: Some(Arc::new(policies())),
            certified_ms: NOW.0 * 1000,
        },
    );
    let served: BTreeSet<DeviceId> = (0..VALVES).map(|v| id("valve", v)).collect();

    let samples: Vec<Sample> = (0..COMMANDS)
        .map(|n| {
            let i = (n * 7_919) % SENDERS;
            let recipient = id("valve", (n * 104_729) % VALVES);
            let command = Command {
                sender: id("ctl", i),
                recipient: recipient.clone(),
                action: Action::new("actuate").expect("short"),
                params: Params::new()
                    .with("level", ParamValue::Int(3))
                    .expect("within limits"),
                seq: n as u64,
                iat: NOW,
                exp: NOW.plus(60),
            };
            let envelope = sign_command(&command, &keys[i]);
            let sign1 = coset::CoseSign1::from_tagged_slice(&envelope).expect("parses");
            let SigningKey::Ed25519(k) = &keys[i] else {
                unreachable!("Ed25519 keys only")
            };
            Sample {
                tbs: sign1.tbs_data(&[]),
                signature: ed25519_dalek::Signature::from_slice(&sign1.signature).expect("64"),
                key: k.verifying_key(),
                recipient,
                envelope,
            }
        })
        .collect();
    println!(
        "one thread; {SENDERS} senders and {VALVES} served valves in the snapshot; grid's 10 \
         Cedar policies; {COMMANDS} Ed25519 commands of {} bytes",
        samples[0].envelope.len()
    );

    let (mut best_raw, mut best_full, mut best_cedar) = (0f64, 0f64, 0f64);
    let mut best_moving = 0f64;
    for round in 1..=ROUNDS {
        let start = Instant::now();
        for s in &samples {
            assert!(black_box(&s.key)
                .verify_strict(black_box(&s.tbs), &s.signature)
                .is_ok());
        }
        let raw = COMMANDS as f64 / start.elapsed().as_secs_f64();

        let mut checker = Checker::new(served.clone(), SENDERS);
        let start = Instant::now();
        let mut critical = 0;
        for s in &samples {
            let outcome = checker.check(&snapshot, black_box(&s.envelope), &s.recipient, NOW);
            assert!(outcome.is_allow(), "{:?}", outcome.result);
            critical += usize::from(outcome.is_critical());
        }
        let full = COMMANDS as f64 / start.elapsed().as_secs_f64();
        assert_eq!(critical, COMMANDS);

        // The same commands with the clock advancing one second per 1,000 commands (a gateway
        // at ~1,000 commands/s): no request repeats (pair, params and second), so nothing
        // judged for one command can be reused for another.
        let mut checker = Checker::new(served.clone(), SENDERS);
        let start = Instant::now();
        for (n, s) in samples.iter().enumerate() {
            let now = NOW.plus((n / SENDERS) as u64);
            let outcome = checker.check(&snapshot, black_box(&s.envelope), &s.recipient, now);
            assert!(outcome.is_allow(), "{:?}", outcome.result);
        }
        let moving = COMMANDS as f64 / start.elapsed().as_secs_f64();

        // Cedar alone: the same hook on already-authenticated commands, evaluating each one.
        let commands: Vec<Command> = samples
            .iter()
            .map(|s| {
                let sign1 = coset::CoseSign1::from_tagged_slice(&s.envelope).expect("parses");
                Command::from_payload(sign1.payload.as_deref().expect("embedded")).expect("valid")
            })
            .collect();
        let hook = CedarHook(Evaluate(&snapshot));
        let start = Instant::now();
        for c in &commands {
            let request = PolicyRequest {
                command: c,
                sender_status: TrustStatus::Affirming,
                now: NOW,
            };
            assert!(hook.decide(black_box(&request)) == proverka_command::PolicyDecision::Allow);
        }
        let cedar = COMMANDS as f64 / start.elapsed().as_secs_f64();
        println!(
            "round {round}: raw Ed25519 {raw:>7.0}/s  gateway check {full:>7.0}/s  ratio {:.3}  \
             clock moving {moving:>7.0}/s  ratio {:.3}  Cedar alone {cedar:>7.0}/s",
            full / raw,
            moving / raw
        );
        best_raw = best_raw.max(raw);
        best_full = best_full.max(full);
        best_moving = best_moving.max(moving);
        best_cedar = best_cedar.max(cedar);
    }
    println!(
        "best of {ROUNDS}: raw {best_raw:.0}/s ({:.1} µs)  gateway check {best_full:.0}/s \
         ({:.1} µs)  ratio {:.3} (target ≥ 0.6)  Cedar alone {best_cedar:.0}/s ({:.1} µs, {:.0}% \
         of a check)",
        1e6 / best_raw,
        1e6 / best_full,
        best_full / best_raw,
        1e6 / best_cedar,
        100.0 * best_full / best_cedar
    );
    println!(
        "best of {ROUNDS}, clock moving 1 s per {SENDERS} commands: gateway check \
         {best_moving:.0}/s ({:.1} µs)  ratio {:.3}",
        1e6 / best_moving,
        best_moving / best_raw
    );
}
