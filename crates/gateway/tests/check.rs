//! The gateway's check as a specification, on a snapshot built in memory: what it delivers,
//! what it refuses and why, and that what it caches never outlives the facts it came from.

use std::collections::BTreeSet;
use std::sync::Arc;

use proverka_command::{
    sign_command, Action, Command, DeviceId, Params, Reason, SenderRecord, SigningKey, TrustStatus,
    UnixSeconds,
};
use proverka_gateway::{Checker, GatewaySnapshot, KnownDevice, ProvedPolicies, Refusal};
use proverka_policy::{DeviceFacts, OwnerPolicies, TrustVector};

const NOW: UnixSeconds = UnixSeconds(1_767_225_600);

fn id(s: &str) -> DeviceId {
    DeviceId::new(s.as_bytes().to_vec()).unwrap()
}

fn device(name: &str, key: &SigningKey, zone: &str) -> KnownDevice {
    KnownDevice {
        sender: SenderRecord {
            key: key.public_key(),
            revoked: false,
            status: TrustStatus::Affirming,
            status_expires_at: NOW.plus(600),
        },
        facts: DeviceFacts {
            id: hex::encode(name),
            owner: "grid".into(),
            maker: "bolt".into(),
            model: "ab".repeat(32),
            model_name: "controller".into(),
            zone: Some(zone.into()),
            tags: BTreeSet::new(),
            firmware: "c1".repeat(32),
            svn: 1,
        },
        vector: TrustVector::default(),
        certified_height: 7,
        certified_ms: NOW.0 * 1000,
        expires_ms: (NOW.0 + 600) * 1000,
        passport: Arc::new(Vec::new()),
    }
}

/// grid's one policy: devices may actuate devices of the same zone.
fn world(ctl_zone: &str) -> (GatewaySnapshot, SigningKey) {
    let key = SigningKey::from_ed25519_seed([5; 32]);
    let mut snapshot = GatewaySnapshot::new(120, TrustStatus::Warning);
    snapshot.insert_device(id("ctl"), device("ctl", &key, ctl_zone));
    snapshot.insert_device(id("valve"), device("valve", &key, "north"));
    let set = OwnerPolicies::new(
        "grid",
        3,
        &[(
            "same-zone".to_owned(),
            r#"@critical("")
permit(principal, action == Proverka::Action::"actuate", resource)
  when { principal has zone && resource has zone && principal.zone == resource.zone };"#
                .to_owned(),
        )],
    )
    .unwrap();
    snapshot.insert_policies(
        "grid".into(),
        ProvedPolicies {
            set: Some(Arc::new(set)),
            certified_ms: NOW.0 * 1000,
        },
    );
    (snapshot, key)
}

fn order(key: &SigningKey, to: &str, seq: u64) -> Vec<u8> {
    sign_command(
        &Command {
            sender: id("ctl"),
            recipient: id(to),
            action: Action::new("actuate").unwrap(),
            params: Params::new(),
            seq,
            iat: NOW,
            exp: NOW.plus(60),
        },
        key,
    )
}

fn checker() -> Checker {
    Checker::new([id("valve")].into(), 16)
}

#[test]
fn an_allowed_command_names_the_deciding_policy_version_and_is_critical() {
    let (snapshot, key) = world("north");
    let outcome = checker().check(&snapshot, &order(&key, "valve", 1), &id("valve"), NOW);
    assert!(outcome.is_allow(), "{:?}", outcome.result);
    let policy = outcome.policy.as_ref().unwrap();
    assert_eq!((policy.owner.as_str(), policy.policy_version), ("grid", 3));
    assert_eq!(policy.satisfied, vec!["same-zone".to_owned()]);
    assert!(outcome.is_critical());
    assert_eq!(outcome.sender_status, Some(TrustStatus::Affirming));
}

#[test]
fn a_device_the_gateway_does_not_serve_is_an_unknown_recipient() {
    let (snapshot, key) = world("north");
    let outcome = checker().check(&snapshot, &order(&key, "pump", 1), &id("pump"), NOW);
    assert_eq!(outcome.result.unwrap_err(), Refusal::UnknownRecipient);
    assert!(outcome.policy.is_none());
}

#[test]
fn a_gateway_that_never_synced_refuses_everything_as_stale() {
    let (_, key) = world("north");
    let empty = GatewaySnapshot::new(120, TrustStatus::Warning);
    let outcome = checker().check(&empty, &order(&key, "valve", 1), &id("valve"), NOW);
    assert!(matches!(
        outcome.result,
        Err(Refusal::Refused(ref r)) if matches!(r.as_slice(), [Reason::StaleSnapshot { .. }])
    ));
}

#[test]
fn the_snapshot_goes_stale_at_its_bound_counted_from_its_oldest_item() {
    let (mut snapshot, key) = world("north");
    let mut old = device("valve", &key, "north");
    old.certified_ms = (NOW.0 - 100) * 1000;
    snapshot.insert_device(id("valve"), old);
    let mut checker = checker();
    // 100 s old at NOW: within the 120 s bound; 121 s old 21 s later: refused.
    assert!(checker
        .check(&snapshot, &order(&key, "valve", 1), &id("valve"), NOW)
        .is_allow());
    let later = checker.check(
        &snapshot,
        &order(&key, "valve", 2),
        &id("valve"),
        NOW.plus(21),
    );
    assert!(matches!(
        later.result,
        Err(Refusal::Refused(ref r)) if matches!(r.as_slice(), [Reason::StaleSnapshot { age_secs: 121, max_age_secs: 120 }])
    ));
}

/// The Cedar entities of a pair are cached within a snapshot; a changed fact (here the
/// controller moved to another zone) makes a new snapshot, whose verdict follows the new fact.
#[test]
fn cached_policy_facts_never_outlive_the_snapshot_they_came_from() {
    let (snapshot, key) = world("north");
    let mut checker = checker();
    for seq in 1..=3 {
        let outcome = checker.check(&snapshot, &order(&key, "valve", seq), &id("valve"), NOW);
        assert!(outcome.is_allow(), "{:?}", outcome.result);
    }
    let mut moved = snapshot.clone();
    moved.insert_device(id("ctl"), device("ctl", &key, "south"));
    let outcome = checker.check(&moved, &order(&key, "valve", 4), &id("valve"), NOW);
    let Err(Refusal::Refused(reasons)) = outcome.result.clone() else {
        panic!("allowed from another zone")
    };
    assert_eq!(
        reasons,
        vec![Reason::PolicyDenied(
            "cedar grid v3: no policy permits".into()
        )]
    );
    assert!(!outcome.is_critical());
}

fn order_with(key: &SigningKey, action: &str, level: i64, seq: u64) -> Vec<u8> {
    sign_command(
        &Command {
            sender: id("ctl"),
            recipient: id("valve"),
            action: Action::new(action).unwrap(),
            params: Params::new()
                .with("level", proverka_command::ParamValue::Int(level))
                .unwrap(),
            seq,
            iat: NOW,
            exp: NOW.plus(60),
        },
        key,
    )
}

/// The snapshot keeps Cedar verdicts, keyed by everything a verdict depends on: the same
/// command again is judged the same, but another action, another param value or a later time
/// is judged anew, and any change to the snapshot (even in place) forgets every kept verdict.
#[test]
fn kept_verdicts_follow_the_action_the_params_the_time_and_every_snapshot_change() {
    let (mut snapshot, key) = world("north");
    let bounded = |version: u64, text: &str| ProvedPolicies {
        set: Some(Arc::new(
            OwnerPolicies::new("grid", version, &[("bounded".to_owned(), text.to_owned())])
                .unwrap(),
        )),
        certified_ms: NOW.0 * 1000,
    };
    let until = NOW.0 + 10;
    snapshot.insert_policies(
        "grid".into(),
        bounded(
            4,
            &format!(
                r#"permit(principal, action == Proverka::Action::"actuate", resource)
  when {{ context.params has level && context.params.level <= 5 && context.now < {until} }};"#
            ),
        ),
    );
    let mut checker = checker();
    let mut judge = |snapshot: &GatewaySnapshot, action: &str, level: i64, seq: u64, now| {
        checker
            .check(
                snapshot,
                &order_with(&key, action, level, seq),
                &id("valve"),
                now,
            )
            .is_allow()
    };
    assert!(judge(&snapshot, "actuate", 3, 1, NOW));
    assert!(
        judge(&snapshot, "actuate", 3, 2, NOW),
        "the same request, the same verdict"
    );
    assert!(
        !judge(&snapshot, "actuate", 7, 3, NOW),
        "another param value"
    );
    assert!(!judge(&snapshot, "read", 3, 4, NOW), "another action");
    assert!(judge(&snapshot, "actuate", 3, 5, NOW.plus(9)));
    assert!(
        !judge(&snapshot, "actuate", 3, 6, NOW.plus(10)),
        "a later time"
    );
    // In place, not through a clone: the kept verdicts go with the old policy set.
    snapshot.insert_policies(
        "grid".into(),
        bounded(5, r#"forbid(principal, action, resource);"#),
    );
    assert!(
        !judge(&snapshot, "actuate", 3, 7, NOW),
        "the new set forbids"
    );
}
