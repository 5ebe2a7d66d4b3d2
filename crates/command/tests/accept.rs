//! The accept path: what a recipient acts on.

mod common;

use common::*;
use proverka_command::*;

#[test]
fn a_valid_ed25519_command_is_allowed_and_returned() {
    let command = ed_command(1);
    let bytes = sign_command(&command, &ed_key());
    assert_eq!(
        check(&bytes, &snapshot(), &mut guard()),
        Verdict::Allow(command)
    );
}

#[test]
fn a_valid_p256_command_is_allowed_and_returned() {
    let command = command(p256_sender(), 1);
    let bytes = sign_command(&command, &p256_key());
    assert_eq!(
        check(&bytes, &snapshot(), &mut guard()),
        Verdict::Allow(command)
    );
}

#[test]
fn the_polymorphic_algorithm_ids_es256_and_eddsa_are_accepted_too() {
    let ed = sign_command_with_alg(&ed_command(1), &ed_key(), -8);
    assert!(check(&ed, &snapshot(), &mut guard()).is_allow());
    let p = sign_command_with_alg(&command(p256_sender(), 1), &p256_key(), -7);
    assert!(check(&p, &snapshot(), &mut guard()).is_allow());
}

#[test]
fn a_command_within_the_clock_skew_and_at_the_lifetime_limit_is_allowed() {
    let mut command = ed_command(1);
    command.iat = NOW.plus(MAX_CLOCK_SKEW_SECS);
    command.exp = command.iat.plus(MAX_LIFETIME_SECS);
    let bytes = sign_command(&command, &ed_key());
    assert!(check(&bytes, &snapshot(), &mut guard()).is_allow());
}

#[test]
fn commands_arriving_out_of_order_within_the_window_are_each_accepted_once() {
    let (snapshot, mut replay) = (snapshot(), guard());
    for seq in [100, 90, 37, 99, 95] {
        let bytes = sign_command(&ed_command(seq), &ed_key());
        assert!(
            check(&bytes, &snapshot, &mut replay).is_allow(),
            "seq {seq}"
        );
    }
    assert_eq!(replay.highest(&ed_sender()), Some(100));
    // 90 again: inside the window but already used.
    let again = sign_command(&ed_command(90), &ed_key());
    assert_eq!(
        check(&again, &snapshot, &mut replay).reasons(),
        &[Reason::Replay(ReplayKind::Duplicate)]
    );
    // 100 - 64 = 36 is just outside the window: refused although never seen.
    let old = sign_command(&ed_command(36), &ed_key());
    assert_eq!(
        check(&old, &snapshot, &mut replay).reasons(),
        &[Reason::Replay(ReplayKind::TooOld)]
    );
}

#[test]
fn a_jump_past_the_window_forgets_the_old_bitmap_but_not_the_floor() {
    let (snapshot, mut replay) = (snapshot(), guard());
    for seq in [5, 500] {
        let bytes = sign_command(&ed_command(seq), &ed_key());
        assert!(check(&bytes, &snapshot, &mut replay).is_allow());
    }
    let behind = sign_command(&ed_command(437), &ed_key());
    assert!(check(&behind, &snapshot, &mut replay).is_allow());
    let stale = sign_command(&ed_command(6), &ed_key());
    assert_eq!(
        check(&stale, &snapshot, &mut replay).reasons(),
        &[Reason::Replay(ReplayKind::TooOld)]
    );
}

#[test]
fn senders_have_independent_sequence_numbers() {
    let (snapshot, mut replay) = (snapshot(), guard());
    let a = sign_command(&ed_command(1), &ed_key());
    let b = sign_command(&command(p256_sender(), 1), &p256_key());
    assert!(check(&a, &snapshot, &mut replay).is_allow());
    assert!(check(&b, &snapshot, &mut replay).is_allow());
    assert_eq!(replay.len(), 2);
}

#[test]
fn a_denied_command_does_not_advance_the_replay_state() {
    let (snapshot, mut replay) = (snapshot(), guard());
    // Authentic, but addressed to another device: refused, and seq 7 is not consumed.
    let mut elsewhere = ed_command(7);
    elsewhere.recipient = id("lamp-18");
    let bytes = sign_command(&elsewhere, &ed_key());
    assert_eq!(
        check(&bytes, &snapshot, &mut replay).reasons(),
        &[Reason::WrongRecipient]
    );
    assert!(replay.is_empty());
    // A policy denial does not consume it either.
    let mine = sign_command(&ed_command(7), &ed_key());
    let deny = |_: &PolicyRequest<'_>| PolicyDecision::Deny("night-quiet@v3".into());
    assert!(!verify(&mine, &snapshot, &mut replay, NOW, &me(), &deny).is_allow());
    assert_eq!(replay.highest(&ed_sender()), None);
    // The same seq, once everything holds, is accepted.
    assert!(check(&mine, &snapshot, &mut replay).is_allow());
    assert_eq!(replay.highest(&ed_sender()), Some(7));
}

#[test]
fn the_policy_hook_sees_the_authenticated_command_and_sender_status() {
    let bytes = sign_command(&ed_command(1), &ed_key());
    let hook = |r: &PolicyRequest<'_>| {
        let level = r.command.params.get("level");
        if r.command.action.as_str() == "actuate"
            && level == Some(&ParamValue::Int(3))
            && r.sender_status == TrustStatus::Affirming
            && r.now == NOW
        {
            PolicyDecision::Allow
        } else {
            PolicyDecision::Deny("test".into())
        }
    };
    assert!(verify(&bytes, &snapshot(), &mut guard(), NOW, &me(), &hook).is_allow());
}

#[test]
fn a_warning_sender_meets_a_warning_requirement() {
    let mut snapshot = MemorySnapshot::new(NOW, 60, TrustStatus::Warning);
    let mut rec = record(&ed_key());
    rec.status = TrustStatus::Warning;
    snapshot.insert(ed_sender(), rec);
    let bytes = sign_command(&ed_command(1), &ed_key());
    assert!(check(&bytes, &snapshot, &mut guard()).is_allow());
}

#[test]
fn pruning_forgets_only_senders_whose_commands_all_expired() {
    let (snapshot, mut replay) = (snapshot(), guard());
    let bytes = sign_command(&ed_command(1), &ed_key());
    assert!(check(&bytes, &snapshot, &mut replay).is_allow());
    assert_eq!(replay.prune(NOW.plus(59)), 0);
    assert_eq!(replay.prune(NOW.plus(60)), 1);
    // After pruning, the old command is refused as expired, not accepted again.
    let later = verify(
        &bytes,
        &snapshot,
        &mut replay,
        NOW.plus(60),
        &me(),
        &DangerAllowAll,
    );
    assert_eq!(
        later.reasons(),
        &[Reason::Expired {
            exp: NOW.plus(60),
            now: NOW.plus(60)
        }]
    );
}
