//! The appraisal rules: ledger facts and time in, trust vector, status and reasons out.

use std::cmp::Reverse;

use ear::claim::{
    APPROVED_RUNTIME, CONTRAINDICATED_RUNTIME, GENUINE_HARDWARE, TRUSTWORTHY_INSTANCE,
    UNRECOGNIZED_RUNTIME, UNSAFE_CONFIG, UNSAFE_RUNTIME, UNSUPPORTABLE_CONFIG,
    UNTRUSTWORTHY_INSTANCE,
};
use ear::{TrustClaim, TrustTier, TrustVector};

use crate::{
    Advisory, DebugState, DeviceFacts, Evidence, Policy, Reason, Release, Severity, TimeMs,
};

/// The overall verdict, in AR4SI tiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Status {
    /// No verdict: no evidence, or it is stale. Treat as untrusted.
    None,
    /// Every claim is affirming.
    Affirming,
    /// Usable, with known issues the owner should fix.
    Warning,
    /// Must not be trusted.
    Contraindicated,
}

impl Status {
    /// The matching AR4SI tier.
    pub fn tier(self) -> TrustTier {
        match self {
            Status::None => TrustTier::None,
            Status::Affirming => TrustTier::Affirming,
            Status::Warning => TrustTier::Warning,
            Status::Contraindicated => TrustTier::Contraindicated,
        }
    }

    /// Lowercase name, as in EAR JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::None => "none",
            Status::Affirming => "affirming",
            Status::Warning => "warning",
            Status::Contraindicated => "contraindicated",
        }
    }
}

impl From<Status> for TrustTier {
    fn from(s: Status) -> TrustTier {
        s.tier()
    }
}

/// The result of appraising one device at one ledger time.
#[derive(Debug, Clone, PartialEq)]
pub struct Appraisal {
    /// What a relying party acts on.
    pub status: Status,
    /// The AR4SI claims behind the status; unset claims are "no claim".
    pub vector: TrustVector,
    /// Every rule that fired, most serious first.
    pub reasons: Vec<Reason>,
    /// The ledger time of the appraisal.
    pub evaluated_ms: TimeMs,
    /// The earliest later time at which the status changes with no new ledger input.
    pub expires_ms: Option<TimeMs>,
}

/// Appraises one device at ledger time `now_ms`.
///
/// Deterministic and total: the same facts, policy and time give the same appraisal on every
/// machine, whatever order the ledger listed releases and advisories in.
pub fn appraise(facts: &DeviceFacts<'_>, policy: &Policy, now_ms: TimeMs) -> Appraisal {
    let mut acc = Findings::default();
    device_state(facts, &mut acc);
    let mut next_deadline = None;
    let mut fresh_until = None;
    match facts.evidence {
        None => acc.push(Status::None, Reason::NoEvidence),
        Some(ev) => {
            fresh_until = freshness(ev, policy, now_ms, &mut acc);
            evidence_claims(&mut acc);
            next_deadline = firmware(ev, facts.releases, policy, now_ms, &mut acc);
            advisories(&ev.fw_digest, facts.advisories, &mut acc);
            debug(ev.debug, policy, &mut acc);
        }
    }
    let status = overall(&acc.vector, fresh_until.is_some());
    Appraisal {
        status,
        vector: acc.vector,
        reasons: acc.into_reasons(),
        evaluated_ms: now_ms,
        expires_ms: expiry(status, fresh_until, next_deadline),
    }
}

/// Claims and reasons gathered by the rules.
#[derive(Default)]
struct Findings {
    vector: TrustVector,
    /// Each reason with the status it pushes towards, for ordering.
    reasons: Vec<(Status, Reason)>,
}

impl Findings {
    fn push(&mut self, effect: Status, reason: Reason) {
        self.reasons.push((effect, reason));
    }

    /// Most serious effect first (contraindicated, none, warning), then [`Reason::order_key`];
    /// duplicates (the same advisory listed twice) collapse.
    fn into_reasons(mut self) -> Vec<Reason> {
        self.reasons
            .sort_by_key(|(effect, r)| (Reverse(effect_rank(*effect)), r.order_key()));
        self.reasons.dedup();
        self.reasons.into_iter().map(|(_, r)| r).collect()
    }
}

/// Rank used to order reasons: "none" outranks "warning" because it hides the verdict.
fn effect_rank(s: Status) -> u8 {
    match s {
        Status::Affirming => 0,
        Status::Warning => 1,
        Status::None => 2,
        Status::Contraindicated => 3,
    }
}

/// Sets a claim to `value` unless it already holds a worse one. All values used here are
/// positive, where a greater value is never more trustworthy.
fn raise(claim: &mut TrustClaim, value: i8) {
    if claim.value.is_none_or(|v| v < value) {
        claim.set(value);
    }
}

/// Facts about the device itself, which hold with or without evidence.
fn device_state(facts: &DeviceFacts<'_>, acc: &mut Findings) {
    if facts.identity_revoked {
        raise(&mut acc.vector.instance_identity, UNTRUSTWORTHY_INSTANCE);
        acc.push(Status::Contraindicated, Reason::IdentityRevoked);
    }
    if facts.decommissioned {
        raise(&mut acc.vector.instance_identity, UNTRUSTWORTHY_INSTANCE);
        acc.push(Status::Contraindicated, Reason::Decommissioned);
    }
    if let Some((reported, highest)) = facts.rollback {
        raise(&mut acc.vector.executables, CONTRAINDICATED_RUNTIME);
        acc.push(
            Status::Contraindicated,
            Reason::Rollback { reported, highest },
        );
    }
}

/// Returns when the evidence stops being fresh, or `None` (with a reason) if it already has.
///
/// Age counts from `min(iat, registered)`: a device whose clock runs ahead must not stretch
/// its own validity beyond what the ledger saw.
fn freshness(ev: &Evidence, policy: &Policy, now_ms: TimeMs, acc: &mut Findings) -> Option<TimeMs> {
    let since = ev.iat_ms.min(ev.registered_ms);
    let age_ms = now_ms.saturating_sub(since);
    if age_ms >= policy.freshness_ms {
        acc.push(
            Status::None,
            Reason::EvidenceStale {
                age_ms,
                window_ms: policy.freshness_ms,
            },
        );
        return None;
    }
    Some(since.saturating_add(policy.freshness_ms))
}

/// Verified evidence was signed by the device key, so the instance and hardware are genuine.
fn evidence_claims(acc: &mut Findings) {
    raise(&mut acc.vector.instance_identity, TRUSTWORTHY_INSTANCE);
    raise(&mut acc.vector.hardware, GENUINE_HARDWARE);
}

/// Judges the running firmware against the model's releases; returns the next supersession
/// deadline still ahead, if any.
fn firmware(
    ev: &Evidence,
    releases: &[Release],
    policy: &Policy,
    now_ms: TimeMs,
    acc: &mut Findings,
) -> Option<TimeMs> {
    let digest = ev.fw_digest;
    let mut running = releases.iter().filter(|r| r.digest == digest).peekable();
    if running.peek().is_none() {
        raise(&mut acc.vector.executables, UNRECOGNIZED_RUNTIME);
        acc.push(Status::Warning, Reason::FirmwareUnknown { digest });
        return None;
    }
    let (mut revoked, mut svn) = (false, 0);
    for r in running {
        revoked |= r.revoked;
        svn = svn.max(r.svn);
    }
    if revoked {
        raise(&mut acc.vector.executables, CONTRAINDICATED_RUNTIME);
        acc.push(Status::Contraindicated, Reason::FirmwareRevoked { digest });
        return None;
    }
    raise(&mut acc.vector.executables, APPROVED_RUNTIME);
    supersessions(svn, releases, policy, now_ms, acc)
}

/// Security releases newer than `svn`: past their deadline they warn, ahead of it they set
/// the expiry. A revoked release imposes nothing: nobody should install it.
fn supersessions(
    svn: u64,
    releases: &[Release],
    policy: &Policy,
    now_ms: TimeMs,
    acc: &mut Findings,
) -> Option<TimeMs> {
    let mut next: Option<TimeMs> = None;
    for r in releases.iter().filter(|r| r.svn > svn && !r.revoked) {
        let Some(severity) = r.security else { continue };
        let deadline_ms = r.published_ms.saturating_add(policy.grace(severity));
        if now_ms >= deadline_ms {
            raise(&mut acc.vector.executables, UNSAFE_RUNTIME);
            let reason = Reason::FirmwareSuperseded {
                by: r.digest,
                severity,
                deadline_ms,
            };
            acc.push(Status::Warning, reason);
        } else {
            next = Some(next.map_or(deadline_ms, |n| n.min(deadline_ms)));
        }
    }
    next
}

/// Open advisories naming the running digest: critical or exploited ones contraindicate at
/// once, the others warn.
fn advisories(digest: &[u8; 32], advisories: &[Advisory], acc: &mut Findings) {
    for a in advisories
        .iter()
        .filter(|a| !a.withdrawn && a.affected.contains(digest))
    {
        let urgent = a.severity == Severity::Critical || a.exploited;
        let (value, effect) = if urgent {
            (CONTRAINDICATED_RUNTIME, Status::Contraindicated)
        } else {
            (UNSAFE_RUNTIME, Status::Warning)
        };
        raise(&mut acc.vector.executables, value);
        let reason = Reason::Advisory {
            id: a.id,
            severity: a.severity,
            exploited: a.exploited,
        };
        acc.push(effect, reason);
    }
}

/// Debug enabled lets anyone with a probe read keys or change code.
fn debug(state: DebugState, policy: &Policy, acc: &mut Findings) {
    if state != DebugState::Enabled {
        return;
    }
    let (value, effect) = if policy.debug_contraindicated {
        (UNSUPPORTABLE_CONFIG, Status::Contraindicated)
    } else {
        (UNSAFE_CONFIG, Status::Warning)
    };
    raise(&mut acc.vector.configuration, value);
    acc.push(effect, Reason::DebugEnabled);
}

/// Contraindicated beats everything; then missing or stale evidence gives none; then the
/// worst claim.
fn overall(vector: &TrustVector, fresh: bool) -> Status {
    let worst = vector
        .into_iter()
        .map(|c| c.tier())
        .max()
        .unwrap_or(TrustTier::None);
    match worst {
        TrustTier::Contraindicated => Status::Contraindicated,
        _ if !fresh => Status::None,
        TrustTier::Warning => Status::Warning,
        TrustTier::Affirming => Status::Affirming,
        // Fresh evidence always sets affirming claims; kept for totality.
        TrustTier::None => Status::None,
    }
}

/// When the status next changes by time alone: freshness runs out (affirming or warning
/// become none) or a grace period ends (affirming becomes warning). None and contraindicated
/// never change without new ledger input.
fn expiry(status: Status, fresh_until: Option<TimeMs>, deadline: Option<TimeMs>) -> Option<TimeMs> {
    match status {
        Status::Affirming => match (fresh_until, deadline) {
            (Some(f), Some(d)) => Some(f.min(d)),
            (f, d) => f.or(d),
        },
        Status::Warning => fresh_until,
        Status::None | Status::Contraindicated => None,
    }
}
