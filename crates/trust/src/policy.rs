//! The owner's appraisal policy: secure defaults that owners may only tighten.

use crate::{Severity, TrustError};

const MINUTE_MS: u64 = 60 * 1000;
const HOUR_MS: u64 = 60 * MINUTE_MS;
const DAY_MS: u64 = 24 * HOUR_MS;

/// Default evidence freshness window: a device attests at least daily.
pub const DEFAULT_FRESHNESS_MS: u64 = 24 * HOUR_MS;

/// Smallest freshness window an owner may set. Shorter windows would flap devices to "none"
/// between two blocks and flood the ledger with evidence.
pub const MIN_FRESHNESS_MS: u64 = MINUTE_MS;

/// Default grace after a security release, indexed by [`Severity::index`]: low 180 days,
/// medium 90, high 30, critical 0 (a critical fix is due at once).
pub const DEFAULT_GRACE_MS: [u64; 4] = [180 * DAY_MS, 90 * DAY_MS, 30 * DAY_MS, 0];

/// Field names used in errors and in `docs/trust.md`, indexed like `grace_ms`.
const GRACE_FIELDS: [&str; 4] = [
    "grace_ms.low",
    "grace_ms.medium",
    "grace_ms.high",
    "grace_ms.critical",
];

/// How strictly a device is appraised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Evidence older than this (by `min(iat, registered)`) no longer counts.
    pub freshness_ms: u64,
    /// Time a device has to install a security release, indexed by the release's severity.
    pub grace_ms: [u64; 4],
    /// Debug enabled is contraindicated (true) rather than a warning (false).
    pub debug_contraindicated: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            freshness_ms: DEFAULT_FRESHNESS_MS,
            grace_ms: DEFAULT_GRACE_MS,
            debug_contraindicated: false,
        }
    }
}

/// An owner's changes to a [`Policy`]; `None` keeps the current value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyOverride {
    /// A shorter freshness window.
    pub freshness_ms: Option<u64>,
    /// Shorter grace periods, indexed by [`Severity::index`].
    pub grace_ms: [Option<u64>; 4],
    /// `Some(true)` makes debug enabled contraindicated.
    pub debug_contraindicated: Option<bool>,
}

impl Policy {
    /// Grace period after a security release of severity `s`.
    pub fn grace(&self, s: Severity) -> u64 {
        self.grace_ms[s.index()]
    }

    /// Applies an owner's override, refusing anything looser than `self`.
    ///
    /// Owners may only tighten, so that a careless or compromised owner key cannot make its
    /// devices look better than the network's defaults. On top of the per-field check, grace
    /// periods are made monotone: a more severe fix never gets longer than a less severe one
    /// (tightening `medium` to 10 days also caps `high` and `critical` at 10 days).
    pub fn tightened(&self, o: &PolicyOverride) -> Result<Policy, TrustError> {
        let freshness_ms = tighten("freshness_ms", self.freshness_ms, o.freshness_ms)?;
        if freshness_ms < MIN_FRESHNESS_MS {
            return Err(TrustError::PolicyBelowMinimum {
                field: "freshness_ms",
                value: freshness_ms,
                bound: MIN_FRESHNESS_MS,
            });
        }
        let mut grace_ms = [0; 4];
        for (i, slot) in grace_ms.iter_mut().enumerate() {
            *slot = tighten(GRACE_FIELDS[i], self.grace_ms[i], o.grace_ms[i])?;
        }
        monotone(&mut grace_ms);
        let debug_contraindicated = match o.debug_contraindicated {
            Some(false) if self.debug_contraindicated => return Err(TrustError::DebugLoosened),
            Some(v) => v,
            None => self.debug_contraindicated,
        };
        Ok(Policy {
            freshness_ms,
            grace_ms,
            debug_contraindicated,
        })
    }
}

/// The override's value if it is not looser than `current`, else an error naming the field.
fn tighten(field: &'static str, current: u64, wanted: Option<u64>) -> Result<u64, TrustError> {
    match wanted {
        None => Ok(current),
        Some(v) if v <= current => Ok(v),
        Some(v) => Err(TrustError::PolicyLooser {
            field,
            value: v,
            bound: current,
        }),
    }
}

/// Caps each grace period at the one of the next less severe level.
fn monotone(grace_ms: &mut [u64; 4]) {
    for i in 1..grace_ms.len() {
        grace_ms[i] = grace_ms[i].min(grace_ms[i - 1]);
    }
}
