//! The command verifier's policy hook, implemented with Cedar.

use proverka_command::{DeviceId, Params, PolicyDecision, PolicyHook, PolicyRequest, TrustStatus};

use crate::facts::{Action, DeviceFacts, Request, TrustVector};
use std::sync::Arc;

use crate::facts::RequestEntities;
use crate::judge::{judge, judge_with, Decision, JudgeError, OwnerPolicies, Verdict};

/// The ledger facts a gateway judges commands against, all as of one snapshot: the devices,
/// the sender's trust vector, and each owner's policy set in force at that snapshot.
///
/// Trust contract: the source is the gateway's own (proved) view of the ledger; the hook
/// trusts it entirely. An attacker who controls the command can at most choose the sender
/// (whose signature the verifier already checked), the action and the params.
pub trait FactSource {
    /// What the ledger says about a device (borrowed: judging a command copies nothing).
    fn device(&self, id: &DeviceId) -> Option<&DeviceFacts>;
    /// The device's current AR4SI trust vector (all "no claim" if unknown).
    fn trust_vector(&self, id: &DeviceId) -> TrustVector;
    /// The owner's policy set in force, if it registered one.
    fn policies(&self, owner: &str) -> Option<&OwnerPolicies>;
    /// The Cedar entities of a command from `sender` to `recipient`, if the source keeps them
    /// (they depend only on the two devices' facts, so a source whose facts do not change may
    /// build them once per pair). `None` builds them per command.
    fn entities(
        &self,
        _sender: &DeviceId,
        _recipient: &DeviceId,
        _build: &dyn Fn() -> Result<RequestEntities, JudgeError>,
    ) -> Option<Result<Arc<RequestEntities>, JudgeError>> {
        None
    }
    /// The verdict of `request` (from `sender` to `recipient`), if the source keeps verdicts.
    /// Cedar's answer is a pure function of the policy set, the two devices' entities and the
    /// request — action, params, time, sender status and trust vector — so a source whose
    /// facts and policies do not change may keep it per (pair, request), provided every one
    /// of those is part of the key: [`VerdictKey`] is that key. `None` judges every command.
    fn verdict(
        &self,
        _sender: &DeviceId,
        _recipient: &DeviceId,
        _request: &Request<'_>,
        _judge: &dyn Fn() -> Result<Verdict, JudgeError>,
    ) -> Option<Result<Verdict, JudgeError>> {
        None
    }
}

/// What a [`FactSource`] that keeps verdicts keys them by: everything a Cedar verdict depends
/// on besides the policy set and the two devices' entities (fixed for such a source's life) —
/// the pair, the action, the params, the verifier's time (whole seconds, as Cedar sees it), the
/// sender's status and trust vector.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct VerdictKey {
    sender: DeviceId,
    recipient: DeviceId,
    action: Action,
    params: Params,
    now: u64,
    status: TrustStatus,
    vector: TrustVector,
}

impl VerdictKey {
    /// The key of `request`, a command from `sender` to `recipient` (as passed to
    /// [`FactSource::verdict`]).
    pub fn new(sender: &DeviceId, recipient: &DeviceId, request: &Request<'_>) -> Self {
        VerdictKey {
            sender: sender.clone(),
            recipient: recipient.clone(),
            action: request.action,
            params: request.params.clone(),
            now: request.now,
            status: request.sender_status,
            vector: request.sender_tv,
        }
    }
}

/// A [`PolicyHook`] that judges each command with the recipient owner's Cedar policies.
///
/// Denies (fail closed) when the recipient or sender is unknown, when the recipient's owner
/// has no policy set, when the action is not in the vocabulary ([`Action`]), when a declared
/// param has the wrong type, and whenever Cedar does not allow. A denial names the owner and
/// the policy version (`cedar water v3: forbidden by no-untrusted`).
pub struct CedarHook<S>(pub S);

impl<S: FactSource> CedarHook<S> {
    /// Judges one command and keeps the whole verdict (policy version, deciding ids, whether
    /// it is critical) for callers that record it; `Err` is the fixed-form denial when the
    /// command could not be judged at all. [`PolicyHook::decide`] is this, reduced.
    pub fn judge_command(&self, request: &PolicyRequest<'_>) -> Result<Verdict, String> {
        let cmd = request.command;
        let Some(recipient) = self.0.device(&cmd.recipient) else {
            return Err("cedar: recipient unknown to the ledger".into());
        };
        let Some(policies) = self.0.policies(&recipient.owner) else {
            return Err(format!("cedar {}: no policy set", recipient.owner));
        };
        // Formatted only for a refusal: an allowed command allocates no text.
        let head = || format!("cedar {} v{}", policies.owner(), policies.version());
        let Some(sender) = self.0.device(&cmd.sender) else {
            return Err(format!("{}: sender unknown to the ledger", head()));
        };
        let Some(action) = Action::from_name(cmd.action.as_str()) else {
            return Err(format!("{}: action not in the policy vocabulary", head()));
        };
        let facts = Request {
            sender,
            recipient,
            action,
            now: request.now.0,
            sender_status: request.sender_status,
            sender_tv: self.0.trust_vector(&cmd.sender),
            params: &cmd.params,
        };
        let build = || RequestEntities::new(sender, recipient);
        let evaluate = || match self.0.entities(&cmd.sender, &cmd.recipient, &build) {
            Some(Ok(entities)) => judge_with(policies, &facts, &entities),
            Some(Err(e)) => Err(e),
            None => judge(policies, &facts),
        };
        let verdict = match self
            .0
            .verdict(&cmd.sender, &cmd.recipient, &facts, &evaluate)
        {
            Some(kept) => kept,
            None => evaluate(),
        };
        verdict.map_err(|e| format!("{}: {e}", head()))
    }
}

impl<S: FactSource> PolicyHook for CedarHook<S> {
    fn decide(&self, request: &PolicyRequest<'_>) -> PolicyDecision {
        match self.judge_command(request) {
            Ok(v) if v.decision == Decision::Allow => PolicyDecision::Allow,
            Ok(v) => PolicyDecision::Deny(v.explain()),
            Err(denial) => PolicyDecision::Deny(denial),
        }
    }
}

impl<T: FactSource + ?Sized> FactSource for &T {
    fn device(&self, id: &DeviceId) -> Option<&DeviceFacts> {
        (**self).device(id)
    }
    fn trust_vector(&self, id: &DeviceId) -> TrustVector {
        (**self).trust_vector(id)
    }
    fn policies(&self, owner: &str) -> Option<&OwnerPolicies> {
        (**self).policies(owner)
    }
    fn entities(
        &self,
        sender: &DeviceId,
        recipient: &DeviceId,
        build: &dyn Fn() -> Result<RequestEntities, JudgeError>,
    ) -> Option<Result<Arc<RequestEntities>, JudgeError>> {
        (**self).entities(sender, recipient, build)
    }
    fn verdict(
        &self,
        sender: &DeviceId,
        recipient: &DeviceId,
        request: &Request<'_>,
        judge: &dyn Fn() -> Result<Verdict, JudgeError>,
    ) -> Option<Result<Verdict, JudgeError>> {
        (**self).verdict(sender, recipient, request, judge)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proverka_command::ParamValue;

    /// The key of `request`, a command from device `sender` to device `recipient`.
    fn key(sender: &str, recipient: &str, request: Request<'_>) -> VerdictKey {
        let id = |name: &str| DeviceId::new(name.as_bytes().to_vec()).unwrap();
        VerdictKey::new(&id(sender), &id(recipient), &request)
    }

    #[test]
    fn the_verdict_key_holds_the_pair_action_params_time_status_and_trust_vector() {
        let facts = DeviceFacts::default();
        let params = Params::new().with("level", ParamValue::Int(3)).unwrap();
        let request = Request {
            sender: &facts,
            recipient: &facts,
            action: Action::Actuate,
            now: 1_780_000_000,
            sender_status: TrustStatus::Affirming,
            sender_tv: TrustVector::default(),
            params: &params,
        };
        let base = key("ctl-1", "valve-1", request);
        assert_eq!(
            key("ctl-1", "valve-1", request),
            base,
            "the same request, the same key"
        );

        let other_params = Params::new().with("level", ParamValue::Int(4)).unwrap();
        let other_tv = TrustVector {
            executables: 2,
            ..TrustVector::default()
        };
        let differing = [
            ("sender", key("ctl-2", "valve-1", request)),
            ("recipient", key("ctl-1", "valve-2", request)),
            (
                "action",
                key(
                    "ctl-1",
                    "valve-1",
                    Request {
                        action: Action::Read,
                        ..request
                    },
                ),
            ),
            (
                "params",
                key(
                    "ctl-1",
                    "valve-1",
                    Request {
                        params: &other_params,
                        ..request
                    },
                ),
            ),
            (
                "time",
                key(
                    "ctl-1",
                    "valve-1",
                    Request {
                        now: request.now + 1,
                        ..request
                    },
                ),
            ),
            (
                "sender status",
                key(
                    "ctl-1",
                    "valve-1",
                    Request {
                        sender_status: TrustStatus::Warning,
                        ..request
                    },
                ),
            ),
            (
                "trust vector",
                key(
                    "ctl-1",
                    "valve-1",
                    Request {
                        sender_tv: other_tv,
                        ..request
                    },
                ),
            ),
        ];
        for (field, differs) in &differing {
            assert_ne!(differs, &base, "a different {field} is a different key");
        }

        // The devices' facts are not in the key: a source keeps verdicts only while they are
        // fixed (a gateway snapshot empties its cache on every change).
        let other_facts = DeviceFacts {
            owner: "grid".into(),
            ..DeviceFacts::default()
        };
        let facts_only = Request {
            sender: &other_facts,
            recipient: &other_facts,
            ..request
        };
        assert_eq!(key("ctl-1", "valve-1", facts_only), base);
    }
}
