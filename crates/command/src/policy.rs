//! The owner's policy decision, as a hook: this crate has no policy engine.

use alloc::string::String;

use crate::{Command, TrustStatus, UnixSeconds};

/// What the policy decision sees: an authenticated command, the sender's status and the time.
#[derive(Clone, Copy, Debug)]
pub struct PolicyRequest<'a> {
    /// The command, its signature verified.
    pub command: &'a Command,
    /// The sender's trust status from the snapshot (as recorded, even if expired).
    pub sender_status: TrustStatus,
    /// The verifier's time.
    pub now: UnixSeconds,
}

/// A policy decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PolicyDecision {
    /// The owner's policy permits the command.
    Allow,
    /// Denied; the string names what denied it (policy set id and version, or the forbidding
    /// policy ids), for the refusal reason and logs.
    Deny(String),
}

/// The owner's "who may command whom" decision.
///
/// Cedar (`cedar-policy`) needs std, so it is plugged in by the gateway's std layer through this
/// trait (`notes/cedar.md`: scope-sliced policy sets, prebuilt entities). Contract: the hook is
/// called only for commands whose signature verified, once per such command (also when other
/// reasons already refuse it, so that the verdict lists every reason); it must be a pure
/// function of its input and the policy version it names, and must not block.
pub trait PolicyHook {
    /// Decides on one command.
    fn decide(&self, request: &PolicyRequest<'_>) -> PolicyDecision;
}

impl<F: Fn(&PolicyRequest<'_>) -> PolicyDecision> PolicyHook for F {
    fn decide(&self, request: &PolicyRequest<'_>) -> PolicyDecision {
        self(request)
    }
}

/// A hook that permits every command: only for tests, benchmarks and devices whose owner
/// deliberately has no policy. Every other check still applies.
#[derive(Clone, Copy, Debug, Default)]
pub struct DangerAllowAll;

impl PolicyHook for DangerAllowAll {
    fn decide(&self, _request: &PolicyRequest<'_>) -> PolicyDecision {
        PolicyDecision::Allow
    }
}
