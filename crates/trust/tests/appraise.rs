//! The appraisal rules of `docs/trust.md`, one test per rule, precedence case and edge.

use proverka_trust::{
    appraise, Advisory, Appraisal, DebugState, DeviceFacts, Digest, Evidence, Policy, Reason,
    Release, Severity, Status, TimeMs,
};

const HOUR: u64 = 3_600_000;
const DAY: u64 = 24 * HOUR;
/// Ledger time of the model's first release.
const T0: TimeMs = 1_750_000_000_000;
/// A typical "now": one day after the device's latest evidence was registered.
const NOW: TimeMs = T0 + 100 * DAY;

fn d(n: u8) -> Digest {
    [n; 32]
}

fn release(n: u8, svn: u64, security: Option<Severity>, published_ms: TimeMs) -> Release {
    Release {
        digest: d(n),
        version: format!("1.{svn}"),
        svn,
        supersedes: None,
        security,
        published_ms,
        revoked: false,
    }
}

fn advisory(n: u8, severity: Severity, exploited: bool, affected: &[Digest]) -> Advisory {
    Advisory {
        id: d(n),
        severity,
        exploited,
        affected: affected.to_vec(),
        fixed_in: None,
        published_ms: T0 + DAY,
        withdrawn: false,
    }
}

/// Evidence registered at `at`, claiming `iat = at`, running digest `d(fw)`.
fn evidence(fw: u8, at: TimeMs) -> Evidence {
    Evidence {
        iat_ms: at,
        registered_ms: at,
        fw_digest: d(fw),
        svn: 1,
        debug: DebugState::DisabledPermanently,
    }
}

/// Owned facts; `facts()` borrows them the way the ledger will.
struct Device {
    identity_revoked: bool,
    decommissioned: bool,
    rollback: Option<(u64, u64)>,
    evidence: Option<Evidence>,
    releases: Vec<Release>,
    advisories: Vec<Advisory>,
}

impl Device {
    /// Runs release `d(1)` (the model's only release), attested at `NOW - 1 h`.
    fn healthy() -> Device {
        Device {
            identity_revoked: false,
            decommissioned: false,
            rollback: None,
            evidence: Some(evidence(1, NOW - HOUR)),
            releases: vec![release(1, 1, None, T0)],
            advisories: vec![],
        }
    }

    fn facts(&self) -> DeviceFacts<'_> {
        DeviceFacts {
            identity_revoked: self.identity_revoked,
            decommissioned: self.decommissioned,
            rollback: self.rollback,
            evidence: self.evidence.as_ref(),
            releases: &self.releases,
            advisories: &self.advisories,
        }
    }

    fn at(&self, now: TimeMs) -> Appraisal {
        appraise(&self.facts(), &Policy::default(), now)
    }

    fn with(&self, policy: &Policy, now: TimeMs) -> Appraisal {
        appraise(&self.facts(), policy, now)
    }
}

/// The claims as (instance-identity, configuration, executables, hardware); 0 = no claim.
fn claims(a: &Appraisal) -> (i8, i8, i8, i8) {
    let v = &a.vector;
    (
        v.instance_identity.get(),
        v.configuration.get(),
        v.executables.get(),
        v.hardware.get(),
    )
}

fn codes(a: &Appraisal) -> Vec<&'static str> {
    a.reasons.iter().map(Reason::code).collect()
}

// ---- evidence and freshness ----

#[test]
fn healthy_device_is_affirming_until_its_evidence_ages_out() {
    let a = Device::healthy().at(NOW);
    assert_eq!(a.status, Status::Affirming);
    assert_eq!(claims(&a), (2, 0, 2, 2));
    assert!(a.reasons.is_empty());
    assert_eq!(a.evaluated_ms, NOW);
    assert_eq!(a.expires_ms, Some(NOW - HOUR + DAY));
    // The claims AR4SI does not get evidence for stay "no claim".
    assert!(!a.vector.file_system.is_set());
    assert!(!a.vector.sourced_data.is_set());
}

#[test]
fn no_evidence_is_none_and_never_expires() {
    let mut dev = Device::healthy();
    dev.evidence = None;
    let a = dev.at(NOW);
    assert_eq!(a.status, Status::None);
    assert_eq!(a.reasons, vec![Reason::NoEvidence]);
    assert!(!a.vector.any_set());
    assert_eq!(a.expires_ms, None);
}

#[test]
fn stale_evidence_is_none_but_keeps_its_claims() {
    let mut dev = Device::healthy();
    dev.evidence = Some(evidence(1, NOW - 2 * DAY));
    let a = dev.at(NOW);
    assert_eq!(a.status, Status::None);
    assert_eq!(
        a.reasons,
        vec![Reason::EvidenceStale {
            age_ms: 2 * DAY,
            window_ms: DAY
        }]
    );
    // The vector still says what the last evidence showed; the status says not to rely on it.
    assert_eq!(claims(&a), (2, 0, 2, 2));
    assert_eq!(a.expires_ms, None);
}

#[test]
fn evidence_is_fresh_until_exactly_the_window_edge() {
    let mut dev = Device::healthy();
    dev.evidence = Some(evidence(1, NOW));
    let last_fresh = dev.at(NOW + DAY - 1);
    assert_eq!(last_fresh.status, Status::Affirming);
    assert_eq!(last_fresh.expires_ms, Some(NOW + DAY));
    let first_stale = dev.at(NOW + DAY);
    assert_eq!(first_stale.status, Status::None);
    assert_eq!(codes(&first_stale), vec!["evidence-stale"]);
}

#[test]
fn owner_window_is_used_for_freshness() {
    let policy = Policy {
        freshness_ms: HOUR,
        ..Policy::default()
    };
    let a = Device::healthy().with(&policy, NOW);
    assert_eq!(a.status, Status::None);
    assert_eq!(
        a.reasons,
        vec![Reason::EvidenceStale {
            age_ms: HOUR,
            window_ms: HOUR
        }]
    );
}

#[test]
fn device_clock_ahead_does_not_stretch_freshness() {
    let mut dev = Device::healthy();
    let mut ev = evidence(1, NOW - 2 * HOUR);
    ev.iat_ms = NOW + 10 * HOUR; // device claims a time the ledger had not reached
    dev.evidence = Some(ev);
    let a = dev.at(NOW);
    assert_eq!(a.status, Status::Affirming);
    // Counted from registration, not from the device's claimed iat.
    assert_eq!(a.expires_ms, Some(NOW - 2 * HOUR + DAY));
}

#[test]
fn iat_in_the_future_counts_as_age_zero() {
    let mut dev = Device::healthy();
    let mut ev = evidence(1, NOW + HOUR);
    ev.iat_ms = NOW + 2 * HOUR;
    dev.evidence = Some(ev);
    let a = dev.at(NOW);
    assert_eq!(a.status, Status::Affirming);
    assert_eq!(a.expires_ms, Some(NOW + HOUR + DAY));
}

#[test]
fn device_clock_behind_ages_evidence_from_its_iat() {
    let mut dev = Device::healthy();
    let mut ev = evidence(1, NOW - HOUR);
    ev.iat_ms = NOW - DAY; // signed long before it reached the ledger
    dev.evidence = Some(ev);
    assert_eq!(dev.at(NOW).status, Status::None);
}

// ---- firmware ----

#[test]
fn unknown_firmware_is_a_warning() {
    let mut dev = Device::healthy();
    dev.evidence = Some(evidence(9, NOW - HOUR));
    let a = dev.at(NOW);
    assert_eq!(a.status, Status::Warning);
    assert_eq!(claims(&a), (2, 0, 33, 2));
    assert_eq!(a.reasons, vec![Reason::FirmwareUnknown { digest: d(9) }]);
    assert_eq!(a.expires_ms, Some(NOW - HOUR + DAY));
}

#[test]
fn revoked_firmware_is_contraindicated() {
    let mut dev = Device::healthy();
    dev.releases[0].revoked = true;
    let a = dev.at(NOW);
    assert_eq!(a.status, Status::Contraindicated);
    assert_eq!(claims(&a), (2, 0, 96, 2));
    assert_eq!(a.reasons, vec![Reason::FirmwareRevoked { digest: d(1) }]);
    assert_eq!(a.expires_ms, None);
}

/// Device on `d(1)` (svn 1); security release `d(2)` (svn 2, high) published at `NOW - 10 d`.
fn behind_by_high_fix() -> Device {
    let mut dev = Device::healthy();
    dev.releases
        .push(release(2, 2, Some(Severity::High), NOW - 10 * DAY));
    dev
}

#[test]
fn superseded_firmware_is_affirming_within_grace_and_expires_at_the_deadline() {
    let dev = behind_by_high_fix();
    let deadline = NOW - 10 * DAY + 30 * DAY;
    // Evidence refreshed just before the deadline: the deadline, not freshness, expires it.
    let mut fresh = dev;
    fresh.evidence = Some(evidence(1, deadline - HOUR));
    let a = fresh.at(deadline - 1);
    assert_eq!(a.status, Status::Affirming);
    assert_eq!(a.expires_ms, Some(deadline));
    assert!(a.reasons.is_empty());
}

#[test]
fn superseded_firmware_warns_from_exactly_the_deadline() {
    let mut dev = behind_by_high_fix();
    let deadline = NOW - 10 * DAY + 30 * DAY;
    dev.evidence = Some(evidence(1, deadline - HOUR));
    let a = dev.at(deadline);
    assert_eq!(a.status, Status::Warning);
    assert_eq!(claims(&a), (2, 0, 32, 2));
    assert_eq!(
        a.reasons,
        vec![Reason::FirmwareSuperseded {
            by: d(2),
            severity: Severity::High,
            deadline_ms: deadline
        }]
    );
    assert_eq!(a.expires_ms, Some(deadline - HOUR + DAY));
}

#[test]
fn grace_depends_on_the_severity_fixed() {
    let published = NOW - 100 * DAY;
    for (severity, grace) in [
        (Severity::Low, 180 * DAY),
        (Severity::Medium, 90 * DAY),
        (Severity::High, 30 * DAY),
        (Severity::Critical, 0),
    ] {
        let mut dev = Device::healthy();
        dev.releases.push(release(2, 2, Some(severity), published));
        let deadline = published + grace;
        dev.evidence = Some(evidence(1, deadline.max(published) - 1));
        assert_eq!(
            dev.at(deadline - 1).status,
            Status::Affirming,
            "{severity} before deadline"
        );
        dev.evidence = Some(evidence(1, deadline));
        assert_eq!(
            dev.at(deadline).status,
            Status::Warning,
            "{severity} at deadline"
        );
    }
}

#[test]
fn critical_fix_is_due_at_once() {
    let mut dev = Device::healthy();
    dev.releases
        .push(release(2, 2, Some(Severity::Critical), NOW - HOUR));
    let a = dev.at(NOW - HOUR);
    assert_eq!(a.status, Status::Warning);
    assert_eq!(codes(&a), vec!["firmware-superseded"]);
}

#[test]
fn owner_grace_is_used_for_supersession() {
    let dev = behind_by_high_fix();
    let policy = Policy {
        grace_ms: [DAY, DAY, DAY, 0],
        ..Policy::default()
    };
    assert_eq!(dev.with(&policy, NOW).status, Status::Warning);
}

#[test]
fn releases_that_impose_nothing() {
    // A newer non-security release, a revoked newer security release, and an older security
    // release: none of them starts a grace period for the device on svn 1.
    let mut dev = Device::healthy();
    dev.releases[0].svn = 5;
    dev.releases.push(release(2, 6, None, T0));
    let mut revoked = release(3, 7, Some(Severity::Critical), T0);
    revoked.revoked = true;
    dev.releases.push(revoked);
    dev.releases
        .push(release(4, 4, Some(Severity::Critical), T0));
    dev.releases
        .push(release(5, 5, Some(Severity::Critical), T0)); // same svn: not later
    let a = dev.at(NOW);
    assert_eq!(a.status, Status::Affirming);
    assert_eq!(a.expires_ms, Some(NOW - HOUR + DAY));
}

#[test]
fn earliest_pending_deadline_sets_the_expiry() {
    let mut dev = Device::healthy();
    dev.releases
        .push(release(2, 2, Some(Severity::Low), NOW - 179 * DAY)); // due in 1 day
    dev.releases.push(release(
        3,
        3,
        Some(Severity::High),
        NOW - 30 * DAY + 2 * HOUR,
    )); // due in 2 h
    let a = dev.at(NOW);
    assert_eq!(a.status, Status::Affirming);
    assert_eq!(a.expires_ms, Some(NOW + 2 * HOUR));
}

#[test]
fn every_missed_security_release_is_a_reason() {
    let mut dev = Device::healthy();
    dev.releases
        .push(release(2, 2, Some(Severity::Low), NOW - 200 * DAY));
    dev.releases
        .push(release(3, 3, Some(Severity::High), NOW - 40 * DAY));
    let a = dev.at(NOW);
    assert_eq!(a.status, Status::Warning);
    assert_eq!(
        a.reasons,
        vec![
            Reason::FirmwareSuperseded {
                by: d(3),
                severity: Severity::High,
                deadline_ms: NOW - 10 * DAY
            },
            Reason::FirmwareSuperseded {
                by: d(2),
                severity: Severity::Low,
                deadline_ms: NOW - 20 * DAY
            },
        ]
    );
}

#[test]
fn the_running_release_is_found_by_digest_not_by_reported_svn() {
    // The device reports svn 9 but runs d(1), which is svn 1: the svn 2 security release
    // still supersedes it.
    let deadline = NOW - 10 * DAY + 30 * DAY;
    let mut dev = behind_by_high_fix();
    let mut ev = evidence(1, deadline);
    ev.svn = 9;
    dev.evidence = Some(ev);
    assert_eq!(codes(&dev.at(deadline)), vec!["firmware-superseded"]);
}

// ---- advisories ----

#[test]
fn advisory_below_critical_is_a_warning() {
    let mut dev = Device::healthy();
    dev.advisories
        .push(advisory(7, Severity::High, false, &[d(1)]));
    let a = dev.at(NOW);
    assert_eq!(a.status, Status::Warning);
    assert_eq!(claims(&a), (2, 0, 32, 2));
    assert_eq!(
        a.reasons,
        vec![Reason::Advisory {
            id: d(7),
            severity: Severity::High,
            exploited: false
        }]
    );
}

#[test]
fn critical_advisory_is_contraindicated_at_once() {
    let mut dev = Device::healthy();
    dev.advisories
        .push(advisory(7, Severity::Critical, false, &[d(1)]));
    let a = dev.at(NOW);
    assert_eq!(a.status, Status::Contraindicated);
    assert_eq!(claims(&a), (2, 0, 96, 2));
    assert_eq!(a.expires_ms, None);
}

#[test]
fn exploited_advisory_is_contraindicated_at_once() {
    let mut dev = Device::healthy();
    dev.advisories
        .push(advisory(7, Severity::Low, true, &[d(1)]));
    let a = dev.at(NOW);
    assert_eq!(a.status, Status::Contraindicated);
    assert_eq!(codes(&a), vec!["advisory"]);
}

#[test]
fn withdrawn_or_unrelated_advisories_are_ignored() {
    let mut dev = Device::healthy();
    let mut withdrawn = advisory(7, Severity::Critical, true, &[d(1)]);
    withdrawn.withdrawn = true;
    dev.advisories.push(withdrawn);
    dev.advisories
        .push(advisory(8, Severity::Critical, true, &[d(2), d(3)]));
    let a = dev.at(NOW);
    assert_eq!(a.status, Status::Affirming);
    assert!(a.reasons.is_empty());
}

#[test]
fn advisory_applies_to_unknown_firmware_too() {
    let mut dev = Device::healthy();
    dev.evidence = Some(evidence(9, NOW - HOUR));
    dev.advisories
        .push(advisory(7, Severity::Medium, false, &[d(9)]));
    let a = dev.at(NOW);
    assert_eq!(a.status, Status::Warning);
    assert_eq!(a.vector.executables.get(), 33);
    assert_eq!(codes(&a), vec!["advisory", "firmware-unknown"]);
}

#[test]
fn advisory_listed_twice_is_one_reason() {
    let mut dev = Device::healthy();
    let a = advisory(7, Severity::Medium, false, &[d(1)]);
    dev.advisories.push(a.clone());
    dev.advisories.push(a);
    assert_eq!(dev.at(NOW).reasons.len(), 1);
}

// ---- device state ----

#[test]
fn rollback_is_contraindicated_even_without_evidence() {
    let mut dev = Device::healthy();
    dev.rollback = Some((3, 5));
    let a = dev.at(NOW);
    assert_eq!(a.status, Status::Contraindicated);
    assert_eq!(claims(&a), (2, 0, 96, 2));
    assert_eq!(
        a.reasons,
        vec![Reason::Rollback {
            reported: 3,
            highest: 5
        }]
    );
    dev.evidence = None;
    let a = dev.at(NOW);
    assert_eq!(a.status, Status::Contraindicated);
    assert_eq!(claims(&a), (0, 0, 96, 0));
    assert_eq!(codes(&a), vec!["rollback", "no-evidence"]);
}

#[test]
fn revoked_identity_is_contraindicated_despite_fresh_evidence() {
    let mut dev = Device::healthy();
    dev.identity_revoked = true;
    let a = dev.at(NOW);
    assert_eq!(a.status, Status::Contraindicated);
    assert_eq!(claims(&a), (96, 0, 2, 2));
    assert_eq!(a.reasons, vec![Reason::IdentityRevoked]);
    assert_eq!(a.expires_ms, None);
}

#[test]
fn decommissioned_is_contraindicated() {
    let mut dev = Device::healthy();
    dev.decommissioned = true;
    let a = dev.at(NOW);
    assert_eq!(a.status, Status::Contraindicated);
    assert_eq!(a.vector.instance_identity.get(), 96);
    assert_eq!(a.reasons, vec![Reason::Decommissioned]);
}

#[test]
fn debug_enabled_is_a_warning_by_default() {
    let mut dev = Device::healthy();
    if let Some(ev) = dev.evidence.as_mut() {
        ev.debug = DebugState::Enabled;
    }
    let a = dev.at(NOW);
    assert_eq!(a.status, Status::Warning);
    assert_eq!(claims(&a), (2, 32, 2, 2));
    assert_eq!(a.reasons, vec![Reason::DebugEnabled]);
}

#[test]
fn debug_enabled_is_contraindicated_when_the_owner_says_so() {
    let mut dev = Device::healthy();
    if let Some(ev) = dev.evidence.as_mut() {
        ev.debug = DebugState::Enabled;
    }
    let policy = Policy {
        debug_contraindicated: true,
        ..Policy::default()
    };
    let a = dev.with(&policy, NOW);
    assert_eq!(a.status, Status::Contraindicated);
    assert_eq!(claims(&a), (2, 96, 2, 2));
}

#[test]
fn debug_disabled_in_any_way_makes_no_claim() {
    for state in [
        DebugState::Disabled,
        DebugState::DisabledSinceBoot,
        DebugState::DisabledPermanently,
        DebugState::DisabledFullyAndPermanently,
    ] {
        let mut dev = Device::healthy();
        if let Some(ev) = dev.evidence.as_mut() {
            ev.debug = state;
        }
        let policy = Policy {
            debug_contraindicated: true,
            ..Policy::default()
        };
        let a = dev.with(&policy, NOW);
        assert_eq!(a.status, Status::Affirming, "{state:?}");
        assert!(!a.vector.configuration.is_set());
    }
}

// ---- precedence ----

#[test]
fn contraindicated_beats_none_without_evidence() {
    let mut dev = Device::healthy();
    dev.evidence = None;
    dev.identity_revoked = true;
    let a = dev.at(NOW);
    assert_eq!(a.status, Status::Contraindicated);
    assert_eq!(a.reasons, vec![Reason::IdentityRevoked, Reason::NoEvidence]);
}

#[test]
fn contraindicated_beats_none_with_stale_evidence() {
    let mut dev = Device::healthy();
    dev.evidence = Some(evidence(1, NOW - 3 * DAY));
    dev.advisories
        .push(advisory(7, Severity::Critical, false, &[d(1)]));
    let a = dev.at(NOW);
    assert_eq!(a.status, Status::Contraindicated);
    assert_eq!(codes(&a), vec!["advisory", "evidence-stale"]);
    assert_eq!(a.expires_ms, None);
}

#[test]
fn none_beats_warning() {
    let mut dev = Device::healthy();
    dev.evidence = Some(evidence(9, NOW - 3 * DAY));
    let a = dev.at(NOW);
    assert_eq!(a.status, Status::None);
    assert_eq!(codes(&a), vec!["evidence-stale", "firmware-unknown"]);
}

#[test]
fn warning_beats_affirming() {
    let mut dev = Device::healthy();
    dev.advisories
        .push(advisory(7, Severity::Low, false, &[d(1)]));
    assert_eq!(dev.at(NOW).status, Status::Warning);
}

#[test]
fn warning_expires_with_freshness_not_with_a_pending_deadline() {
    // A pending supersession would only add a warning to a warning: the status does not
    // change, so the expiry is the freshness edge.
    let mut dev = behind_by_high_fix();
    dev.advisories
        .push(advisory(7, Severity::Low, false, &[d(1)]));
    let a = dev.at(NOW);
    assert_eq!(a.status, Status::Warning);
    assert_eq!(a.expires_ms, Some(NOW - HOUR + DAY));
}

// ---- reasons, expiry and determinism ----

/// A device that trips every rule at once.
fn everything_wrong() -> Device {
    let mut dev = Device::healthy();
    dev.identity_revoked = true;
    dev.decommissioned = true;
    dev.rollback = Some((1, 2));
    let mut ev = evidence(1, NOW - 2 * DAY);
    ev.debug = DebugState::Enabled;
    dev.evidence = Some(ev);
    dev.releases.push(release(2, 2, Some(Severity::Medium), T0));
    dev.advisories = vec![
        advisory(8, Severity::Medium, false, &[d(1)]),
        advisory(5, Severity::Critical, false, &[d(1)]),
        advisory(6, Severity::Low, true, &[d(1)]),
        advisory(4, Severity::Low, false, &[d(1)]),
        advisory(3, Severity::Critical, true, &[d(1)]),
    ];
    dev
}

#[test]
fn reasons_come_most_serious_first_in_a_fixed_order() {
    let a = everything_wrong().at(NOW);
    assert_eq!(a.status, Status::Contraindicated);
    assert_eq!(
        codes(&a),
        vec![
            "identity-revoked",
            "decommissioned",
            "rollback",
            "advisory", // critical exploited d(3)
            "advisory", // critical d(5)
            "advisory", // low exploited d(6)
            "evidence-stale",
            "advisory", // medium d(8)
            "advisory", // low d(4)
            "firmware-superseded",
            "debug-enabled",
        ]
    );
    let ids: Vec<u8> = a
        .reasons
        .iter()
        .filter_map(|r| match r {
            Reason::Advisory { id, .. } => Some(id[0]),
            _ => None,
        })
        .collect();
    assert_eq!(ids, vec![3, 5, 6, 8, 4]);
}

#[test]
fn input_order_does_not_change_the_appraisal() {
    let dev = everything_wrong();
    let mut reversed = everything_wrong();
    reversed.releases.reverse();
    reversed.advisories.reverse();
    assert_eq!(dev.at(NOW), reversed.at(NOW));
    assert_eq!(dev.at(NOW), dev.at(NOW));
}

#[test]
fn status_holds_until_expiry_and_changes_at_it() {
    let cases = [
        Device::healthy(),
        behind_by_high_fix(),
        {
            let mut dev = Device::healthy();
            dev.evidence = Some(evidence(9, NOW - HOUR));
            dev
        },
        {
            let mut dev = behind_by_high_fix();
            dev.evidence = Some(evidence(1, NOW + 19 * DAY + 23 * HOUR));
            dev
        },
    ];
    for (i, dev) in cases.iter().enumerate() {
        let now = dev
            .evidence
            .as_ref()
            .map_or(NOW, |e| e.registered_ms.max(NOW));
        let a = dev.at(now);
        let Some(exp) = a.expires_ms else {
            panic!("case {i} should expire")
        };
        assert!(exp > now, "case {i}");
        assert_eq!(dev.at(exp - 1).status, a.status, "case {i}");
        assert_ne!(dev.at(exp).status, a.status, "case {i}");
    }
}

#[test]
fn reasons_read_as_sentences_with_hex_ids() {
    let r = Reason::Advisory {
        id: d(0xab),
        severity: Severity::High,
        exploited: true,
    };
    assert_eq!(
        r.to_string(),
        format!(
            "advisory {} (high, exploited) affects the running firmware",
            "ab".repeat(32)
        )
    );
    let stale = Reason::EvidenceStale {
        age_ms: DAY + 2 * HOUR + 1500,
        window_ms: DAY,
    };
    assert_eq!(
        stale.to_string(),
        "the latest evidence is 1d 2h 1s old, beyond the 1d freshness window"
    );
    let superseded = |deadline_ms| Reason::FirmwareSuperseded {
        by: d(2),
        severity: Severity::Critical,
        deadline_ms,
    };
    assert_eq!(
        superseded(1_709_251_199_000).to_string(),
        format!(
            "security release {} (critical) was due by 2024-02-29T23:59:59Z and is not installed",
            "02".repeat(32)
        )
    );
    assert!(superseded(4_102_444_800_999)
        .to_string()
        .contains("due by 2100-01-01T00:00:00Z"));
    assert!(superseded(0)
        .to_string()
        .contains("due by 1970-01-01T00:00:00Z"));
    assert!(Reason::FirmwareUnknown { digest: d(1) }
        .to_string()
        .contains(&"01".repeat(32)));
}

#[test]
fn reason_codes_are_stable() {
    let all = [
        Reason::NoEvidence,
        Reason::EvidenceStale {
            age_ms: 0,
            window_ms: 0,
        },
        Reason::FirmwareUnknown { digest: d(0) },
        Reason::FirmwareRevoked { digest: d(0) },
        Reason::FirmwareSuperseded {
            by: d(0),
            severity: Severity::Low,
            deadline_ms: 0,
        },
        Reason::Advisory {
            id: d(0),
            severity: Severity::Low,
            exploited: false,
        },
        Reason::Rollback {
            reported: 0,
            highest: 0,
        },
        Reason::IdentityRevoked,
        Reason::Decommissioned,
        Reason::DebugEnabled,
    ];
    let codes: Vec<_> = all.iter().map(Reason::code).collect();
    assert_eq!(
        codes,
        vec![
            "no-evidence",
            "evidence-stale",
            "firmware-unknown",
            "firmware-revoked",
            "firmware-superseded",
            "advisory",
            "rollback",
            "identity-revoked",
            "decommissioned",
            "debug-enabled",
        ]
    );
}

#[test]
fn status_maps_to_ear_tiers() {
    use proverka_trust::ear::TrustTier;
    assert_eq!(TrustTier::from(Status::None), TrustTier::None);
    assert_eq!(Status::Affirming.tier(), TrustTier::Affirming);
    assert_eq!(Status::Warning.tier(), TrustTier::Warning);
    assert_eq!(Status::Contraindicated.tier(), TrustTier::Contraindicated);
}
