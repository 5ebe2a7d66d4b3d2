//! Policy defaults and bounds, and the parsers of the input enums.

use proverka_trust::{
    DebugState, Policy, PolicyOverride, Severity, TrustError, DEFAULT_FRESHNESS_MS,
    DEFAULT_GRACE_MS, MIN_FRESHNESS_MS,
};

const MINUTE: u64 = 60_000;
const DAY: u64 = 24 * 60 * MINUTE;

#[test]
fn defaults_are_the_documented_ones() {
    let p = Policy::default();
    assert_eq!(p.freshness_ms, DAY);
    assert_eq!(p.freshness_ms, DEFAULT_FRESHNESS_MS);
    assert_eq!(p.grace_ms, [180 * DAY, 90 * DAY, 30 * DAY, 0]);
    assert_eq!(p.grace_ms, DEFAULT_GRACE_MS);
    assert!(!p.debug_contraindicated);
    assert_eq!(MIN_FRESHNESS_MS, MINUTE);
    assert_eq!(p.grace(Severity::Medium), 90 * DAY);
}

#[test]
fn empty_override_changes_nothing() {
    let p = Policy::default();
    assert_eq!(p.tightened(&PolicyOverride::default()), Ok(p));
}

#[test]
fn freshness_may_be_shortened_down_to_one_minute() {
    let p = Policy::default();
    for ok in [DAY, DAY - 1, 60 * MINUTE, MINUTE] {
        let o = PolicyOverride {
            freshness_ms: Some(ok),
            ..PolicyOverride::default()
        };
        assert_eq!(p.tightened(&o).map(|t| t.freshness_ms), Ok(ok));
    }
}

#[test]
fn freshness_may_not_be_lengthened() {
    let o = PolicyOverride {
        freshness_ms: Some(DAY + 1),
        ..PolicyOverride::default()
    };
    let err = Policy::default().tightened(&o);
    assert_eq!(
        err,
        Err(TrustError::PolicyLooser {
            field: "freshness_ms",
            value: DAY + 1,
            bound: DAY
        })
    );
    let message = err.map(|_| ()).unwrap_err().to_string();
    assert!(
        message.contains("freshness_ms") && message.contains("86400000"),
        "{message}"
    );
}

#[test]
fn freshness_below_one_minute_is_refused() {
    let o = PolicyOverride {
        freshness_ms: Some(MINUTE - 1),
        ..PolicyOverride::default()
    };
    assert_eq!(
        Policy::default().tightened(&o),
        Err(TrustError::PolicyBelowMinimum {
            field: "freshness_ms",
            value: MINUTE - 1,
            bound: MINUTE
        })
    );
}

#[test]
fn each_grace_may_be_shortened() {
    for i in 0..4 {
        let mut grace_ms = [None; 4];
        grace_ms[i] = Some(0);
        let o = PolicyOverride {
            grace_ms,
            ..PolicyOverride::default()
        };
        let t = Policy::default().tightened(&o);
        assert_eq!(t.map(|t| t.grace_ms[i]), Ok(0), "index {i}");
    }
}

#[test]
fn each_grace_may_not_be_lengthened() {
    let fields = [
        "grace_ms.low",
        "grace_ms.medium",
        "grace_ms.high",
        "grace_ms.critical",
    ];
    for (i, field) in fields.into_iter().enumerate() {
        let mut grace_ms = [None; 4];
        grace_ms[i] = Some(DEFAULT_GRACE_MS[i] + 1);
        let o = PolicyOverride {
            grace_ms,
            ..PolicyOverride::default()
        };
        assert_eq!(
            Policy::default().tightened(&o),
            Err(TrustError::PolicyLooser {
                field,
                value: DEFAULT_GRACE_MS[i] + 1,
                bound: DEFAULT_GRACE_MS[i]
            })
        );
    }
}

#[test]
fn shorter_grace_caps_the_more_severe_levels() {
    let o = PolicyOverride {
        grace_ms: [None, Some(10 * DAY), None, None],
        ..PolicyOverride::default()
    };
    let t = Policy::default().tightened(&o).map(|t| t.grace_ms);
    assert_eq!(t, Ok([180 * DAY, 10 * DAY, 10 * DAY, 0]));
}

#[test]
fn debug_may_be_made_contraindicated_but_not_undone() {
    let on = PolicyOverride {
        debug_contraindicated: Some(true),
        ..PolicyOverride::default()
    };
    let off = PolicyOverride {
        debug_contraindicated: Some(false),
        ..PolicyOverride::default()
    };
    let strict = Policy::default().tightened(&on);
    assert_eq!(strict.as_ref().map(|p| p.debug_contraindicated), Ok(true));
    // Restating the default is not loosening.
    assert_eq!(
        Policy::default()
            .tightened(&off)
            .map(|p| p.debug_contraindicated),
        Ok(false)
    );
    let strict = strict.unwrap_or_default();
    assert_eq!(strict.tightened(&off), Err(TrustError::DebugLoosened));
    assert_eq!(strict.tightened(&on), Ok(strict.clone()));
}

#[test]
fn tightening_is_relative_to_the_policy_refined() {
    let o = PolicyOverride {
        freshness_ms: Some(60 * MINUTE),
        ..PolicyOverride::default()
    };
    let hourly = Policy::default().tightened(&o).unwrap_or_default();
    let back = PolicyOverride {
        freshness_ms: Some(2 * 60 * MINUTE),
        ..PolicyOverride::default()
    };
    assert_eq!(
        hourly.tightened(&back),
        Err(TrustError::PolicyLooser {
            field: "freshness_ms",
            value: 2 * 60 * MINUTE,
            bound: 60 * MINUTE
        })
    );
}

#[test]
fn cvss_bands() {
    let cases = [
        (0, Severity::Low),
        (39, Severity::Low),
        (40, Severity::Medium),
        (69, Severity::Medium),
        (70, Severity::High),
        (89, Severity::High),
        (90, Severity::Critical),
        (100, Severity::Critical),
    ];
    for (score, want) in cases {
        assert_eq!(Severity::from_cvss_tenths(score), Ok(want), "{score}");
    }
    assert_eq!(
        Severity::from_cvss_tenths(101),
        Err(TrustError::CvssOutOfRange { tenths: 101 })
    );
    assert!(Severity::Low < Severity::Medium && Severity::High < Severity::Critical);
    for s in Severity::ALL {
        assert_eq!(Severity::ALL[s.index()], s);
    }
}

#[test]
fn dbgstat_values() {
    for v in 0..=4u8 {
        assert_eq!(DebugState::from_eat(v).map(DebugState::to_eat), Ok(v));
    }
    assert_eq!(DebugState::from_eat(0), Ok(DebugState::Enabled));
    assert_eq!(
        DebugState::from_eat(4),
        Ok(DebugState::DisabledFullyAndPermanently)
    );
    assert_eq!(
        DebugState::from_eat(5),
        Err(TrustError::UnknownDebugState { value: 5 })
    );
}
