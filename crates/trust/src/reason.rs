//! Why an appraisal came out as it did: one [`Reason`] per rule that fired.

use std::cmp::Reverse;
use std::fmt;

use crate::{Digest, Severity, TimeMs};

/// One rule that fired; every appraisal lists all of them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Reason {
    /// The device never submitted verified evidence.
    NoEvidence,
    /// The latest evidence is older than the freshness window.
    EvidenceStale {
        /// Age of the evidence at evaluation time.
        age_ms: u64,
        /// The policy's freshness window.
        window_ms: u64,
    },
    /// The running firmware is not a release of the device's model.
    FirmwareUnknown {
        /// Measured digest.
        digest: Digest,
    },
    /// The running firmware was revoked by its maker.
    FirmwareRevoked {
        /// Measured digest.
        digest: Digest,
    },
    /// A security release replaced the running firmware and its grace period is over.
    FirmwareSuperseded {
        /// Digest of the security release.
        by: Digest,
        /// Severity of the issues it fixes.
        severity: Severity,
        /// When the grace period ended.
        deadline_ms: TimeMs,
    },
    /// An open advisory affects the running firmware.
    Advisory {
        /// Ledger entry id of the advisory.
        id: Digest,
        /// Its severity.
        severity: Severity,
        /// Known to be exploited.
        exploited: bool,
    },
    /// The security version went backwards.
    Rollback {
        /// Version the device reported.
        reported: u64,
        /// Highest version seen before.
        highest: u64,
    },
    /// The device identity was revoked.
    IdentityRevoked,
    /// The device was decommissioned.
    Decommissioned,
    /// The device reports debug enabled.
    DebugEnabled,
}

impl Reason {
    /// A stable machine code, for APIs, metrics labels and alert routing.
    pub fn code(&self) -> &'static str {
        match self {
            Reason::NoEvidence => "no-evidence",
            Reason::EvidenceStale { .. } => "evidence-stale",
            Reason::FirmwareUnknown { .. } => "firmware-unknown",
            Reason::FirmwareRevoked { .. } => "firmware-revoked",
            Reason::FirmwareSuperseded { .. } => "firmware-superseded",
            Reason::Advisory { .. } => "advisory",
            Reason::Rollback { .. } => "rollback",
            Reason::IdentityRevoked => "identity-revoked",
            Reason::Decommissioned => "decommissioned",
            Reason::DebugEnabled => "debug-enabled",
        }
    }

    /// Order among reasons of the same effect: kind, then most severe first, then ids and
    /// numbers, so that the list never depends on the order the ledger passed facts in.
    pub(crate) fn order_key(&self) -> (u8, Reverse<Option<Severity>>, Reverse<bool>, Digest, u64) {
        let none = [0u8; 32];
        match self {
            Reason::IdentityRevoked => (0, Reverse(None), Reverse(false), none, 0),
            Reason::Decommissioned => (1, Reverse(None), Reverse(false), none, 0),
            Reason::Rollback { reported, highest } => (
                2,
                Reverse(None),
                Reverse(false),
                none,
                highest.saturating_sub(*reported),
            ),
            Reason::FirmwareRevoked { digest } => (3, Reverse(None), Reverse(false), *digest, 0),
            Reason::Advisory {
                id,
                severity,
                exploited,
            } => (4, Reverse(Some(*severity)), Reverse(*exploited), *id, 0),
            Reason::FirmwareUnknown { digest } => (5, Reverse(None), Reverse(false), *digest, 0),
            Reason::FirmwareSuperseded {
                by,
                severity,
                deadline_ms,
            } => (
                6,
                Reverse(Some(*severity)),
                Reverse(false),
                *by,
                *deadline_ms,
            ),
            Reason::DebugEnabled => (7, Reverse(None), Reverse(false), none, 0),
            Reason::NoEvidence => (8, Reverse(None), Reverse(false), none, 0),
            Reason::EvidenceStale { age_ms, .. } => {
                (9, Reverse(None), Reverse(false), none, *age_ms)
            }
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::NoEvidence => f.write_str("the device has never submitted verified evidence"),
            Reason::EvidenceStale { age_ms, window_ms } => write!(
                f,
                "the latest evidence is {} old, beyond the {} freshness window",
                Duration(*age_ms),
                Duration(*window_ms)
            ),
            Reason::FirmwareUnknown { digest } => write!(
                f,
                "firmware {} is not a release of this model",
                hex::encode(digest)
            ),
            Reason::FirmwareRevoked { digest } => write!(
                f,
                "firmware {} was revoked by its maker",
                hex::encode(digest)
            ),
            Reason::FirmwareSuperseded {
                by,
                severity,
                deadline_ms,
            } => write!(
                f,
                "security release {} ({severity}) was due by {} and is not installed",
                hex::encode(by),
                Utc(*deadline_ms)
            ),
            Reason::Advisory {
                id,
                severity,
                exploited,
            } => write!(
                f,
                "advisory {} ({severity}{}) affects the running firmware",
                hex::encode(id),
                if *exploited { ", exploited" } else { "" }
            ),
            Reason::Rollback { reported, highest } => write!(
                f,
                "security version went back to {reported} after {highest} had been seen"
            ),
            Reason::IdentityRevoked => f.write_str("the device identity has been revoked"),
            Reason::Decommissioned => f.write_str("the device has been decommissioned"),
            Reason::DebugEnabled => f.write_str("the device reports debug enabled"),
        }
    }
}

/// A duration in milliseconds, written for people: `2d 3h`, `25h` is never shown.
struct Duration(u64);

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [(u64, &str); 4] = [
            (86_400_000, "d"),
            (3_600_000, "h"),
            (60_000, "min"),
            (1_000, "s"),
        ];
        if self.0 < 1_000 {
            return write!(f, "{} ms", self.0);
        }
        let mut rest = self.0;
        let mut first = true;
        for (unit, name) in UNITS {
            let n = rest / unit;
            rest %= unit;
            if n > 0 {
                if !first {
                    f.write_str(" ")?;
                }
                write!(f, "{n}{name}")?;
                first = false;
            }
        }
        Ok(())
    }
}

/// A ledger time written as an RFC 3339 UTC instant, to the second.
struct Utc(TimeMs);

impl fmt::Display for Utc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0 / 1000;
        let (days, rest) = (secs / 86_400, secs % 86_400);
        let (y, m, d) = civil_from_days(days);
        let (hh, mm, ss) = (rest / 3600, rest % 3600 / 60, rest % 60);
        write!(f, "{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}Z")
    }
}

/// Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's `civil_from_days`,
/// restricted to dates after the epoch, which is all the ledger has).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}
