//! Checking one command at the gateway: the `no_std` verifier, the owner's Cedar policies, and
//! the gateway's own rule that it only delivers to devices it serves.

use std::cell::RefCell;
use std::collections::BTreeSet;

use proverka_command::{
    verify, Command, DeviceId, PolicyDecision, PolicyHook, PolicyRequest, Reason, ReplayGuard,
    Snapshot, TrustStatus, UnixSeconds, Verdict,
};
use proverka_policy::{CedarHook, Decision, Verdict as PolicyVerdict};

use crate::snapshot::GatewaySnapshot;

/// Why the gateway refused a command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The command was sent to a device this gateway does not serve.
    UnknownRecipient,
    /// The verifier's reasons (every one that applies).
    Refused(Vec<Reason>),
}

impl Refusal {
    /// Each reason as text, for logs, refusal messages and interaction records.
    pub fn reasons(&self) -> Vec<String> {
        match self {
            Refusal::UnknownRecipient => {
                vec!["unknown recipient: not served by this gateway".into()]
            }
            Refusal::Refused(reasons) => reasons.iter().map(ToString::to_string).collect(),
        }
    }
}

/// What the gateway decided about one command.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// Allowed (the authenticated command), or refused with why.
    pub result: Result<Command, Refusal>,
    /// The Cedar verdict, when the command was authenticated and judged.
    pub policy: Option<PolicyVerdict>,
    /// The sender's status the verifier used (`None` when the sender was not authenticated).
    pub sender_status: Option<TrustStatus>,
}

impl Outcome {
    /// True when allowed.
    pub fn is_allow(&self) -> bool {
        self.result.is_ok()
    }

    /// A deciding policy is annotated `@critical`: the command must be recorded on the ledger.
    pub fn is_critical(&self) -> bool {
        self.policy.as_ref().is_some_and(|v| v.critical)
    }
}

/// The per-gateway checking state: the devices it serves and the replay guard.
pub struct Checker {
    served: BTreeSet<DeviceId>,
    replay: ReplayGuard,
}

impl Checker {
    /// A checker for the devices in `served`, remembering up to `replay_senders` senders.
    pub fn new(served: BTreeSet<DeviceId>, replay_senders: usize) -> Self {
        Self {
            served,
            replay: ReplayGuard::new(replay_senders),
        }
    }

    /// The devices served.
    pub fn served(&self) -> &BTreeSet<DeviceId> {
        &self.served
    }

    /// Checks `bytes`, received for `recipient`, against `snapshot` at `now`.
    pub fn check(
        &mut self,
        snapshot: &GatewaySnapshot,
        bytes: &[u8],
        recipient: &DeviceId,
        now: UnixSeconds,
    ) -> Outcome {
        if !self.served.contains(recipient) {
            return Outcome {
                result: Err(Refusal::UnknownRecipient),
                policy: None,
                sender_status: None,
            };
        }
        let hook = KeepVerdict {
            cedar: CedarHook(snapshot),
            kept: RefCell::new(None),
        };
        let verdict = verify(bytes, snapshot, &mut self.replay, now, recipient, &hook);
        let kept = hook.kept.into_inner();
        let sender_status = kept.as_ref().map(|(status, _)| *status);
        let policy = kept.and_then(|(_, verdict)| verdict);
        let result = match verdict {
            Verdict::Allow(command) => Ok(command),
            Verdict::Deny(reasons) => Err(Refusal::Refused(reasons)),
        };
        Outcome {
            result,
            policy,
            sender_status,
        }
    }

    /// True when the only reason for a refusal is a sender the snapshot does not know: the
    /// gateway may then fetch that sender's passport and check again.
    pub fn unknown_sender(outcome: &Outcome) -> bool {
        matches!(&outcome.result, Err(Refusal::Refused(r)) if r == &[Reason::UnknownSender])
    }

    /// Whether the snapshot is too old to judge anything (every command is refused).
    pub fn is_stale(snapshot: &GatewaySnapshot, now: UnixSeconds) -> bool {
        now.since(snapshot.issued_at()) > snapshot.max_age_secs()
    }
}

/// Cedar as the verifier's policy hook, keeping the sender's status and the whole verdict.
struct KeepVerdict<'a> {
    cedar: CedarHook<&'a GatewaySnapshot>,
    kept: RefCell<Option<(TrustStatus, Option<PolicyVerdict>)>>,
}

impl PolicyHook for KeepVerdict<'_> {
    fn decide(&self, request: &PolicyRequest<'_>) -> PolicyDecision {
        let (decision, verdict) = match self.cedar.judge_command(request) {
            Ok(v) if v.decision == Decision::Allow => (PolicyDecision::Allow, Some(v)),
            Ok(v) => (PolicyDecision::Deny(v.explain()), Some(v)),
            Err(denial) => (PolicyDecision::Deny(denial), None),
        };
        *self.kept.borrow_mut() = Some((request.sender_status, verdict));
        decision
    }
}
