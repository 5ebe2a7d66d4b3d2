//! The ledger facts an appraisal reads: releases, advisories, evidence, device state.

use std::fmt;

use crate::{Digest, TimeMs, TrustError};

/// Severity of a vulnerability or of the issues a security release fixes, in CVSS v3 bands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// CVSS 0.0–3.9.
    Low,
    /// CVSS 4.0–6.9.
    Medium,
    /// CVSS 7.0–8.9.
    High,
    /// CVSS 9.0–10.0.
    Critical,
}

impl Severity {
    /// All severities, least severe first; `ALL[s.index()] == s`.
    pub const ALL: [Severity; 4] = [
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    /// Maps a CVSS v3 base score given in tenths (0..=100) to its band.
    ///
    /// CVSS defines 0.0 as "none"; an advisory with a zero score is still an advisory, so it
    /// counts as low rather than being dropped.
    pub fn from_cvss_tenths(score: u8) -> Result<Severity, TrustError> {
        match score {
            0..=39 => Ok(Severity::Low),
            40..=69 => Ok(Severity::Medium),
            70..=89 => Ok(Severity::High),
            90..=100 => Ok(Severity::Critical),
            _ => Err(TrustError::CvssOutOfRange { tenths: score }),
        }
    }

    /// Position in [`Severity::ALL`] and in [`crate::Policy::grace_ms`].
    pub fn index(self) -> usize {
        match self {
            Severity::Low => 0,
            Severity::Medium => 1,
            Severity::High => 2,
            Severity::Critical => 3,
        }
    }

    /// Lowercase name, as used in messages and documents.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A device's debug state, as the EAT `dbgstat` claim (RFC 9711 §4.2.9) reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DebugState {
    /// 0: debug is enabled.
    Enabled,
    /// 1: disabled now, but could be re-enabled.
    Disabled,
    /// 2: disabled since boot and cannot be re-enabled until reboot.
    DisabledSinceBoot,
    /// 3: permanently disabled, except perhaps by the manufacturer.
    DisabledPermanently,
    /// 4: permanently disabled for everyone, including the manufacturer.
    DisabledFullyAndPermanently,
}

impl DebugState {
    /// Parses an EAT `dbgstat` value.
    pub fn from_eat(value: u8) -> Result<DebugState, TrustError> {
        match value {
            0 => Ok(DebugState::Enabled),
            1 => Ok(DebugState::Disabled),
            2 => Ok(DebugState::DisabledSinceBoot),
            3 => Ok(DebugState::DisabledPermanently),
            4 => Ok(DebugState::DisabledFullyAndPermanently),
            _ => Err(TrustError::UnknownDebugState { value }),
        }
    }

    /// The EAT `dbgstat` value of this state.
    pub fn to_eat(self) -> u8 {
        match self {
            DebugState::Enabled => 0,
            DebugState::Disabled => 1,
            DebugState::DisabledSinceBoot => 2,
            DebugState::DisabledPermanently => 3,
            DebugState::DisabledFullyAndPermanently => 4,
        }
    }
}

/// A firmware release a maker published for one model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    /// Digest of the firmware image, as devices measure it.
    pub digest: Digest,
    /// The maker's version label; shown to people, never compared.
    pub version: String,
    /// Security version number: a later release that fixes vulnerabilities has a greater one.
    pub svn: u64,
    /// The release this one replaces, if the maker said so.
    pub supersedes: Option<Digest>,
    /// `Some(s)`: a security release fixing issues up to severity `s`, which starts a grace
    /// period for every device on an older release.
    pub security: Option<Severity>,
    /// Ledger time at which the release was registered.
    pub published_ms: TimeMs,
    /// The maker withdrew this release: devices running it are contraindicated.
    pub revoked: bool,
}

/// A security advisory registered by a maker or a security authority.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advisory {
    /// Ledger entry id of the advisory.
    pub id: Digest,
    /// Severity of the vulnerability.
    pub severity: Severity,
    /// Known to be exploited in the wild.
    pub exploited: bool,
    /// Firmware digests affected, already resolved by the ledger from versions or ranges.
    pub affected: Vec<Digest>,
    /// The release that fixes it, if there is one.
    pub fixed_in: Option<Digest>,
    /// Ledger time at which the advisory was registered.
    pub published_ms: TimeMs,
    /// Withdrawn by its publisher: ignored.
    pub withdrawn: bool,
}

/// The latest verified evidence a device submitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    /// The `iat` the device claimed (device clock).
    pub iat_ms: TimeMs,
    /// Ledger time at which the evidence was registered (ledger clock).
    pub registered_ms: TimeMs,
    /// Digest of the running firmware, as measured by the device.
    pub fw_digest: Digest,
    /// Security version number the device reported.
    pub svn: u64,
    /// Debug state the device reported.
    pub debug: DebugState,
}

/// Everything the ledger knows about one device that bears on its trust.
#[derive(Debug, Clone, Copy)]
pub struct DeviceFacts<'a> {
    /// The device's IDevID/LDevID has been revoked.
    pub identity_revoked: bool,
    /// The owner declared the device out of service.
    pub decommissioned: bool,
    /// A security version went backwards: `(reported, highest seen before)`.
    pub rollback: Option<(u64, u64)>,
    /// The latest verified evidence, if any.
    pub evidence: Option<&'a Evidence>,
    /// All releases of the device's model.
    pub releases: &'a [Release],
    /// Advisories that name the model or the device's digest.
    pub advisories: &'a [Advisory],
}
