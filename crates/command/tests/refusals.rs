//! Every refusal reason, one test each: what the verifier refuses and how it says so.

mod common;

use std::cell::Cell;

use common::*;
use coset::cbor::value::Value;
use coset::{iana, CborSerializable, CoseSign1Builder, HeaderBuilder, TaggedCborSerializable};
use proverka_command::*;

fn signed(seq: u64) -> Vec<u8> {
    sign_command(&ed_command(seq), &ed_key())
}

// ---- Stage 1: size and snapshot, before any parsing ----

#[test]
fn input_over_max_command_bytes_is_refused_before_parsing() {
    let bytes = vec![0xff; MAX_COMMAND_BYTES + 1];
    assert_eq!(
        reasons_of(&bytes),
        [Reason::TooLarge {
            len: MAX_COMMAND_BYTES + 1,
            max: MAX_COMMAND_BYTES
        }]
    );
}

#[test]
fn a_stale_snapshot_refuses_every_command() {
    let snapshot = snapshot(); // issued NOW - 60, good for 3600 s
    let late = NOW.plus(3_600 - 60 + 1);
    let verdict = verify(
        &signed(1),
        &snapshot,
        &mut guard(),
        late,
        &me(),
        &DangerAllowAll,
    );
    assert_eq!(
        verdict.reasons(),
        [Reason::StaleSnapshot {
            age_secs: 3_601,
            max_age_secs: 3_600
        }]
    );
    // Exactly at the bound it is still fresh.
    let edge = NOW.plus(3_600 - 60);
    let mut command = ed_command(1);
    command.iat = edge;
    command.exp = edge.plus(10);
    let bytes = sign_command(&command, &ed_key());
    assert!(verify(
        &bytes,
        &snapshot,
        &mut guard(),
        edge,
        &me(),
        &DangerAllowAll
    )
    .is_allow());
}

#[test]
fn a_clock_behind_the_snapshot_refuses_every_command() {
    let snapshot = MemorySnapshot::new(
        NOW.plus(MAX_CLOCK_SKEW_SECS + 1),
        60,
        TrustStatus::Affirming,
    );
    assert_eq!(
        check(&signed(1), &snapshot, &mut guard()).reasons(),
        [Reason::ClockBehindSnapshot {
            issued_at: NOW.plus(MAX_CLOCK_SKEW_SECS + 1),
            now: NOW
        }]
    );
}

// ---- Stage 2: parsing ----

fn malformed(bytes: &[u8]) -> Malformed {
    match reasons_of(bytes).as_slice() {
        [Reason::Malformed(m)] => *m,
        other => panic!("expected one Malformed reason, got {other:?}"),
    }
}

#[test]
fn a_truncated_envelope_is_malformed() {
    let bytes = signed(1);
    // Nothing, or a tag with nothing after it: no complete item header.
    for cut in [0, 1] {
        assert_eq!(malformed(&bytes[..cut]), Malformed::NotCbor, "cut at {cut}");
    }
    // Cut inside a string: its declared length runs past the input (the pre-scan's refusal).
    for cut in [bytes.len() / 2, bytes.len() - 1] {
        assert_eq!(
            malformed(&bytes[..cut]),
            Malformed::LengthBeyondInput,
            "cut at {cut}"
        );
    }
}

#[test]
fn trailing_bytes_after_the_envelope_are_malformed() {
    let mut bytes = signed(1);
    bytes.push(0x00);
    assert_eq!(malformed(&bytes), Malformed::NotCbor);
}

#[test]
fn an_envelope_with_another_tag_or_no_tag_is_malformed() {
    let bytes = signed(1);
    assert_eq!(bytes[0], 0xd2, "tag 18");
    let mut mac0 = bytes.clone();
    mac0[0] = 0xd1; // tag 17, COSE_Mac0
    assert_eq!(malformed(&mac0), Malformed::WrongTag(17));
    assert_eq!(malformed(&bytes[1..]), Malformed::NotTagged);
}

#[test]
fn tag_18_around_something_else_is_malformed() {
    let bytes = [0xd2, 0x83, 0x40, 0xa0, 0xf6]; // 18([h'', {}, nil]): three items
    assert_eq!(malformed(&bytes), Malformed::NotCoseSign1);
}

/// Builds an envelope by hand with coset, signed by the Ed25519 sender.
fn envelope(
    protected: HeaderBuilder,
    unprotected: HeaderBuilder,
    payload: Option<Vec<u8>>,
) -> Vec<u8> {
    let key = ed_key();
    let mut sign1 = CoseSign1Builder::new()
        .protected(protected.build())
        .unprotected(unprotected.build())
        .create_detached_signature(payload.as_deref().unwrap_or(&[]), &[], |m| key.sign(m))
        .build();
    sign1.payload = payload;
    sign1.to_tagged_vec().expect("encodes")
}

fn good_protected() -> HeaderBuilder {
    HeaderBuilder::new()
        .algorithm(iana::Algorithm::EdDSA)
        .content_type(CONTENT_TYPE.to_string())
        .key_id(ed_key().public_key().thumbprint().to_vec())
}

fn payload() -> Option<Vec<u8>> {
    Some(ed_command(1).to_payload())
}

#[test]
fn a_hand_built_envelope_with_the_right_headers_is_allowed() {
    let bytes = envelope(good_protected(), HeaderBuilder::new(), payload());
    assert_eq!(reasons_of(&bytes), []);
}

#[test]
fn anything_in_the_unprotected_header_is_malformed() {
    let unprotected = HeaderBuilder::new().key_id(b"other".to_vec());
    let bytes = envelope(good_protected(), unprotected, payload());
    assert_eq!(malformed(&bytes), Malformed::UnprotectedHeader);
}

#[test]
fn extra_protected_parameters_including_crit_are_malformed() {
    let crit = good_protected().add_critical(iana::HeaderParameter::Kid);
    assert_eq!(
        malformed(&envelope(crit, HeaderBuilder::new(), payload())),
        Malformed::UnexpectedHeader
    );
    let extra = good_protected().value(15, Value::Map(vec![]));
    assert_eq!(
        malformed(&envelope(extra, HeaderBuilder::new(), payload())),
        Malformed::UnexpectedHeader
    );
}

#[test]
fn a_missing_alg_kid_or_content_type_is_malformed() {
    let kid = ed_key().public_key().thumbprint().to_vec();
    let no_alg = HeaderBuilder::new()
        .content_type(CONTENT_TYPE.to_string())
        .key_id(kid.clone());
    assert_eq!(
        malformed(&envelope(no_alg, HeaderBuilder::new(), payload())),
        Malformed::MissingAlgorithm
    );
    let no_kid = HeaderBuilder::new()
        .algorithm(iana::Algorithm::EdDSA)
        .content_type(CONTENT_TYPE.to_string());
    assert_eq!(
        malformed(&envelope(no_kid, HeaderBuilder::new(), payload())),
        Malformed::BadKid
    );
    let short_kid = good_protected().key_id(kid[..16].to_vec());
    assert_eq!(
        malformed(&envelope(short_kid, HeaderBuilder::new(), payload())),
        Malformed::BadKid
    );
    let other_type = good_protected().content_type("application/cbor".to_string());
    assert_eq!(
        malformed(&envelope(other_type, HeaderBuilder::new(), payload())),
        Malformed::WrongContentType
    );
}

#[test]
fn a_detached_payload_is_malformed() {
    let bytes = envelope(good_protected(), HeaderBuilder::new(), None);
    assert_eq!(malformed(&bytes), Malformed::DetachedPayload);
}

/// The valid payload of [`ed_command`] as a list of map entries, to be tampered with.
fn entries() -> Vec<(Value, Value)> {
    let bytes = ed_command(1).to_payload();
    match Value::from_slice(&bytes).expect("decodes") {
        Value::Map(entries) => entries,
        _ => unreachable!(),
    }
}

fn sign_entries(entries: Vec<(Value, Value)>) -> Vec<u8> {
    let payload = Value::Map(entries).to_vec().expect("encodes");
    sign_payload(&payload, &ed_key(), -19)
}

fn set(entries: &mut [(Value, Value)], key: i64, value: Value) {
    for (k, v) in entries.iter_mut() {
        if *k == Value::from(key) {
            *v = value.clone();
        }
    }
}

#[test]
fn a_payload_that_is_not_a_map_is_malformed() {
    let bytes = sign_payload(&[0x80], &ed_key(), -19);
    assert_eq!(malformed(&bytes), Malformed::PayloadNotMap);
    // A map header promising a pair that is not there.
    let bytes = sign_payload(&[0xa1], &ed_key(), -19);
    assert_eq!(malformed(&bytes), Malformed::LengthBeyondInput);
    let bytes = sign_payload(&[0xa1, 0x01, 0x1c], &ed_key(), -19);
    assert_eq!(malformed(&bytes), Malformed::NotCbor);
}

#[test]
fn a_non_deterministic_payload_is_malformed() {
    // seq 1 written as a one-byte-argument integer (0x18 0x01) instead of 0x01.
    let payload = ed_command(1).to_payload();
    let at = payload
        .windows(3)
        .position(|w| w == [0x05, 0x01, 0x06])
        .expect("seq 1 then iat");
    let mut long_form = payload[..=at].to_vec();
    long_form.extend_from_slice(&[0x18, 0x01]);
    long_form.extend_from_slice(&payload[at + 2..]);
    let bytes = sign_payload(&long_form, &ed_key(), -19);
    assert_eq!(malformed(&bytes), Malformed::NotDeterministic);
    // Keys out of order.
    let mut swapped = entries();
    swapped.swap(0, 1);
    assert_eq!(
        malformed(&sign_entries(swapped)),
        Malformed::NotDeterministic
    );
    // A repeated key.
    let mut repeated = entries();
    repeated.insert(1, repeated[0].clone());
    assert_eq!(
        malformed(&sign_entries(repeated)),
        Malformed::NotDeterministic
    );
    // Params out of order ("mode" before "force": shorter names sort first).
    let mut params = entries();
    set(
        &mut params,
        4,
        Value::Map(vec![
            (Value::Text("force".into()), Value::Bool(false)),
            (Value::Text("mode".into()), Value::Text("eco".into())),
        ]),
    );
    assert_eq!(
        malformed(&sign_entries(params)),
        Malformed::NotDeterministic
    );
}

#[test]
fn unknown_and_missing_fields_are_malformed() {
    let mut unknown = entries();
    unknown.push((Value::from(8), Value::Null));
    assert_eq!(malformed(&sign_entries(unknown)), Malformed::UnknownField);
    let mut text_key = entries();
    text_key.push((Value::Text("x".into()), Value::Null));
    assert_eq!(malformed(&sign_entries(text_key)), Malformed::UnknownField);
    let mut missing = entries();
    missing.retain(|(k, _)| *k != Value::from(4));
    assert_eq!(
        malformed(&sign_entries(missing)),
        Malformed::MissingField(Field::Params)
    );
}

#[test]
fn fields_of_the_wrong_type_or_size_are_malformed() {
    let cases: Vec<(i64, Value, Malformed)> = vec![
        (
            1,
            Value::Text("s".into()),
            Malformed::FieldType(Field::Sender),
        ),
        (
            1,
            Value::Bytes(vec![]),
            Malformed::FieldLength(Field::Sender),
        ),
        (
            2,
            Value::Bytes(vec![7; 65]),
            Malformed::FieldLength(Field::Recipient),
        ),
        (
            3,
            Value::Text("a".repeat(65)),
            Malformed::FieldLength(Field::Action),
        ),
        (
            3,
            Value::Text(String::new()),
            Malformed::FieldLength(Field::Action),
        ),
        (5, Value::from(-1), Malformed::FieldType(Field::Seq)),
        (6, Value::Float(1.5), Malformed::FieldType(Field::Iat)),
        (
            4,
            Value::Map(vec![(Value::Text("k".into()), Value::Float(0.5))]),
            Malformed::FieldType(Field::ParamValue),
        ),
        (
            4,
            Value::Map(vec![(Value::from(1), Value::Bool(true))]),
            Malformed::FieldType(Field::ParamName),
        ),
        (
            4,
            Value::Map(vec![(Value::Text("k".into()), Value::Text("v".repeat(65)))]),
            Malformed::FieldLength(Field::ParamValue),
        ),
        (
            4,
            Value::Map(vec![(Value::Text("k".repeat(33)), Value::Bool(true))]),
            Malformed::FieldLength(Field::ParamName),
        ),
        (
            4,
            Value::Map(vec![(
                Value::Text("k".into()),
                Value::Integer(u64::MAX.into()),
            )]),
            Malformed::FieldType(Field::ParamValue),
        ),
    ];
    for (key, value, expected) in cases {
        let mut e = entries();
        set(&mut e, key, value.clone());
        assert_eq!(
            malformed(&sign_entries(e)),
            expected,
            "key {key} = {value:?}"
        );
    }
}

#[test]
fn more_than_max_params_is_malformed() {
    let names: Vec<String> = (0..=MAX_PARAMS).map(|i| format!("p{i:02}")).collect();
    let mut e = entries();
    set(
        &mut e,
        4,
        Value::Map(
            names
                .iter()
                .map(|n| (Value::Text(n.clone()), Value::Bool(true)))
                .collect(),
        ),
    );
    assert_eq!(malformed(&sign_entries(e)), Malformed::TooManyParams);
    let mut params = Params::new();
    for n in &names[..MAX_PARAMS] {
        params
            .insert(n.as_str(), ParamValue::Bool(true))
            .expect("fits");
    }
    assert_eq!(
        params.insert("one-more", ParamValue::Bool(true)),
        Err(Malformed::TooManyParams)
    );
}

#[test]
fn exp_not_after_iat_is_malformed() {
    let mut command = ed_command(1);
    command.exp = command.iat;
    assert_eq!(
        malformed(&sign_command(&command, &ed_key())),
        Malformed::ExpNotAfterIat
    );
}

#[test]
fn an_unsupported_algorithm_is_refused() {
    for alg in [-35, -257, -47] {
        // ES384, RS256, ES256K
        let bytes = sign_command_with_alg(&ed_command(1), &ed_key(), alg);
        assert_eq!(reasons_of(&bytes), [Reason::UnsupportedAlgorithm(alg)]);
    }
}

// ---- Stage 3: the sender's key ----

#[test]
fn an_unknown_sender_is_refused() {
    let stranger = SigningKey::from_ed25519_seed([0x99; 32]);
    let bytes = sign_command(&command(id("stranger"), 1), &stranger);
    assert_eq!(reasons_of(&bytes), [Reason::UnknownSender]);
}

#[test]
fn a_kid_that_is_not_the_senders_current_key_is_refused() {
    // The sender rekeyed; a command signed with the old key names the old kid.
    let mut snapshot = snapshot();
    let new_key = SigningKey::from_ed25519_seed([0x12; 32]);
    snapshot.insert(ed_sender(), record(&new_key));
    assert_eq!(
        check(&signed(1), &snapshot, &mut guard()).reasons(),
        [Reason::KidMismatch]
    );
}

#[test]
fn an_algorithm_that_does_not_fit_the_senders_key_is_refused() {
    // An Ed25519 key's signature presented as ES256, and a P-256 key's as EdDSA.
    let bytes = sign_command_with_alg(&ed_command(1), &ed_key(), -7);
    assert_eq!(
        reasons_of(&bytes),
        [Reason::AlgorithmKeyMismatch {
            alg: Algorithm::Es256,
            key: KeyType::Ed25519
        }]
    );
    let bytes = sign_command_with_alg(&command(p256_sender(), 1), &p256_key(), -19);
    assert_eq!(
        reasons_of(&bytes),
        [Reason::AlgorithmKeyMismatch {
            alg: Algorithm::Ed25519,
            key: KeyType::P256
        }]
    );
}

// ---- Stage 4: the signature ----

#[test]
fn a_forged_signature_is_refused() {
    for bytes in [
        signed(1),
        sign_command(&command(p256_sender(), 1), &p256_key()),
    ] {
        let mut forged = bytes.clone();
        let last = forged.len() - 1;
        forged[last] ^= 0x01;
        assert_eq!(reasons_of(&forged), [Reason::BadSignature]);
    }
}

#[test]
fn a_tampered_payload_is_refused() {
    let mut bytes = signed(1);
    let at = bytes
        .windows(7)
        .position(|w| w == b"actuate")
        .expect("action text");
    bytes[at + 6] = b'f'; // "actuatf": still a valid payload, no longer signed
    assert_eq!(reasons_of(&bytes), [Reason::BadSignature]);
}

#[test]
fn a_signature_by_another_key_under_the_senders_kid_is_refused() {
    let thief = SigningKey::from_ed25519_seed([0x66; 32]);
    let payload = ed_command(1).to_payload();
    let sign1 = CoseSign1Builder::new()
        .protected(good_protected().build())
        .payload(payload)
        .create_signature(&[], |m| thief.sign(m))
        .build();
    let bytes = sign1.to_tagged_vec().expect("encodes");
    assert_eq!(reasons_of(&bytes), [Reason::BadSignature]);
}

#[test]
fn nothing_else_is_evaluated_when_the_signature_fails() {
    // Revoked, expired, contraindicated, wrong recipient, policy would deny: only the bad
    // signature is reported, and the policy hook is never asked.
    let mut snapshot = snapshot();
    if let Some(r) = snapshot.get_mut(&ed_sender()) {
        r.revoked = true;
        r.status = TrustStatus::Contraindicated;
        r.status_expires_at = NOW;
    }
    let mut command = ed_command(1);
    command.recipient = id("someone-else");
    command.exp = NOW;
    command.iat = UnixSeconds(NOW.0 - 1);
    let mut bytes = sign_command(&command, &ed_key());
    let last = bytes.len() - 1;
    bytes[last] ^= 0x80;
    let asked = Cell::new(0);
    let hook = |_: &PolicyRequest<'_>| {
        asked.set(asked.get() + 1);
        PolicyDecision::Deny("never".into())
    };
    let verdict = verify(&bytes, &snapshot, &mut guard(), NOW, &me(), &hook);
    assert_eq!(verdict.reasons(), [Reason::BadSignature]);
    assert_eq!(asked.get(), 0);
}

// ---- Stage 5: checks on the authenticated command ----

#[test]
fn a_revoked_sender_is_refused() {
    let mut snapshot = snapshot();
    if let Some(r) = snapshot.get_mut(&ed_sender()) {
        r.revoked = true;
    }
    assert_eq!(
        check(&signed(1), &snapshot, &mut guard()).reasons(),
        [Reason::SenderRevoked]
    );
}

#[test]
fn a_command_for_another_recipient_is_refused() {
    let verdict = verify(
        &signed(1),
        &snapshot(),
        &mut guard(),
        NOW,
        &id("lamp-18"),
        &DangerAllowAll,
    );
    assert_eq!(verdict.reasons(), [Reason::WrongRecipient]);
}

#[test]
fn a_command_issued_in_the_future_beyond_the_skew_is_refused() {
    let mut command = ed_command(1);
    command.iat = NOW.plus(MAX_CLOCK_SKEW_SECS + 1);
    command.exp = command.iat.plus(60);
    assert_eq!(
        reasons_of(&sign_command(&command, &ed_key())),
        [Reason::NotYetValid {
            iat: command.iat,
            now: NOW
        }]
    );
}

#[test]
fn an_expired_command_is_refused() {
    let mut command = ed_command(1);
    command.iat = UnixSeconds(NOW.0 - 60);
    command.exp = NOW; // exp is exclusive
    assert_eq!(
        reasons_of(&sign_command(&command, &ed_key())),
        [Reason::Expired { exp: NOW, now: NOW }]
    );
}

#[test]
fn a_lifetime_over_the_maximum_is_refused() {
    let mut command = ed_command(1);
    command.exp = command.iat.plus(MAX_LIFETIME_SECS + 1);
    assert_eq!(
        reasons_of(&sign_command(&command, &ed_key())),
        [Reason::LifetimeTooLong {
            secs: MAX_LIFETIME_SECS + 1,
            max: MAX_LIFETIME_SECS
        }]
    );
}

#[test]
fn a_replayed_command_is_refused() {
    let (snapshot, mut replay) = (snapshot(), guard());
    let bytes = signed(1);
    assert!(check(&bytes, &snapshot, &mut replay).is_allow());
    assert_eq!(
        check(&bytes, &snapshot, &mut replay).reasons(),
        [Reason::Replay(ReplayKind::Duplicate)]
    );
}

#[test]
fn after_a_restart_commands_issued_before_it_are_refused() {
    let mut replay = ReplayGuard::after_restart(16, NOW);
    assert_eq!(
        check(&signed(1), &snapshot(), &mut replay).reasons(),
        [Reason::Replay(ReplayKind::BeforeRestart)]
    );
    let mut command = ed_command(2);
    command.iat = NOW.plus(MAX_CLOCK_SKEW_SECS);
    let later = NOW.plus(MAX_CLOCK_SKEW_SECS);
    let bytes = sign_command(&command, &ed_key());
    assert!(verify(
        &bytes,
        &snapshot(),
        &mut replay,
        later,
        &me(),
        &DangerAllowAll
    )
    .is_allow());
}

#[test]
fn a_full_replay_guard_refuses_new_senders_and_keeps_the_known_ones() {
    let (snapshot, mut replay) = (snapshot(), ReplayGuard::new(1));
    assert!(check(&signed(1), &snapshot, &mut replay).is_allow());
    let p = sign_command(&command(p256_sender(), 1), &p256_key());
    assert_eq!(
        check(&p, &snapshot, &mut replay).reasons(),
        [Reason::ReplayGuardFull { capacity: 1 }]
    );
    assert!(check(&signed(2), &snapshot, &mut replay).is_allow());
    assert_eq!(replay.len(), 1);
}

#[test]
fn a_sender_below_the_required_status_is_refused() {
    for have in [
        TrustStatus::Warning,
        TrustStatus::None,
        TrustStatus::Contraindicated,
    ] {
        let mut snapshot = snapshot();
        if let Some(r) = snapshot.get_mut(&ed_sender()) {
            r.status = have;
        }
        assert_eq!(
            check(&signed(1), &snapshot, &mut guard()).reasons(),
            [Reason::StatusBelowRequired {
                have,
                need: TrustStatus::Affirming
            }]
        );
    }
}

#[test]
fn no_verdict_and_contraindicated_never_meet_a_requirement() {
    for need in [TrustStatus::None, TrustStatus::Contraindicated] {
        for have in [TrustStatus::None, TrustStatus::Contraindicated] {
            assert!(!have.meets(need), "{have} meets {need}");
        }
        assert!(TrustStatus::Warning.meets(need));
    }
}

#[test]
fn a_sender_whose_status_expired_is_refused() {
    let mut snapshot = snapshot();
    if let Some(r) = snapshot.get_mut(&ed_sender()) {
        r.status_expires_at = NOW;
    }
    assert_eq!(
        check(&signed(1), &snapshot, &mut guard()).reasons(),
        [Reason::StatusExpired { expired_at: NOW }]
    );
}

#[test]
fn a_policy_denial_is_refused_with_the_policy_named() {
    let deny = |r: &PolicyRequest<'_>| {
        if r.command.action.as_str() == "actuate" {
            PolicyDecision::Deny("owner-water/7: forbid actuate at night".into())
        } else {
            PolicyDecision::Allow
        }
    };
    let verdict = verify(&signed(1), &snapshot(), &mut guard(), NOW, &me(), &deny);
    assert_eq!(
        verdict.reasons(),
        [Reason::PolicyDenied(
            "owner-water/7: forbid actuate at night".into()
        )]
    );
}

#[test]
fn every_applicable_reason_is_reported_together() {
    let mut snapshot = snapshot();
    if let Some(r) = snapshot.get_mut(&ed_sender()) {
        r.revoked = true;
        r.status = TrustStatus::Warning;
        r.status_expires_at = UnixSeconds(NOW.0 - 1);
    }
    let mut replay = guard();
    assert!(check(&signed(5), &self::snapshot(), &mut replay).is_allow());
    let mut command = ed_command(5);
    command.recipient = id("lamp-18");
    command.iat = UnixSeconds(NOW.0 - 400);
    command.exp = UnixSeconds(NOW.0 - 10);
    let bytes = sign_command(&command, &ed_key());
    let deny = |_: &PolicyRequest<'_>| PolicyDecision::Deny("p1".into());
    let verdict = verify(&bytes, &snapshot, &mut replay, NOW, &me(), &deny);
    assert_eq!(
        verdict.reasons(),
        [
            Reason::SenderRevoked,
            Reason::WrongRecipient,
            Reason::Expired {
                exp: command.exp,
                now: NOW
            },
            Reason::LifetimeTooLong {
                secs: 390,
                max: MAX_LIFETIME_SECS
            },
            Reason::Replay(ReplayKind::Duplicate),
            Reason::StatusExpired {
                expired_at: UnixSeconds(NOW.0 - 1)
            },
            Reason::StatusBelowRequired {
                have: TrustStatus::Warning,
                need: TrustStatus::Affirming
            },
            Reason::PolicyDenied("p1".into()),
        ]
    );
}

#[test]
fn weak_and_invalid_keys_cannot_become_sender_keys() {
    // The Ed25519 identity point (small order) and a non-point.
    let mut identity = [0u8; 32];
    identity[0] = 1;
    assert_eq!(
        PublicKey::from_ed25519_bytes(&identity),
        Err(KeyError::WeakKey)
    );
    assert!(PublicKey::from_p256_sec1(&[0x04; 65]).is_err());
    assert!(SigningKey::from_p256_scalar(&[0; 32]).is_err());
}
