//! An owner's admitted policy set, and judging one command with it.

use cedar_policy::{Authorizer, PolicySet, Request as CedarRequest};

use crate::admit::{admit, AdmissionError};
use crate::engine::engine;
use crate::facts::{context, uid, Action, Request, RequestEntities};

/// One owner's policies as of one ledger version, parsed and validated once, sliced by action.
pub struct OwnerPolicies {
    owner: String,
    version: u64,
    ids: Vec<String>,
    /// Ids of the policies annotated `@critical`: a command one of them decides is recorded
    /// on the ledger by the gateway (an interaction record).
    critical: std::collections::BTreeSet<String>,
    /// Per action (in [`Action::ALL`] order): the policies whose action scope can match it.
    by_action: Vec<PolicySet>,
}

impl OwnerPolicies {
    /// Admits `policies` (id, Cedar text) as `owner`'s set at ledger version `version`: the
    /// same checks the ledger applies at registration (`check_policy_set`).
    pub fn new(
        owner: &str,
        version: u64,
        policies: &[(String, String)],
    ) -> Result<Self, AdmissionError> {
        let admitted = admit(policies)?;
        let engine = engine().map_err(|_| AdmissionError::Engine)?;
        let mut by_action = Vec::with_capacity(Action::ALL.len());
        for action in Action::ALL {
            let uid = engine.action(action).map_err(|_| AdmissionError::Engine)?;
            let mut set = PolicySet::new();
            for a in &admitted {
                let applies = match a.policy.action_constraint() {
                    cedar_policy::ActionConstraint::Any => true,
                    cedar_policy::ActionConstraint::Eq(x) => x == *uid,
                    // The schema declares no action groups, so `in` is membership.
                    cedar_policy::ActionConstraint::In(xs) => xs.contains(uid),
                };
                if applies {
                    set.add(a.policy.clone())
                        .map_err(|_| AdmissionError::Unparsable { id: a.id.clone() })?;
                }
            }
            by_action.push(set);
        }
        let critical = admitted
            .iter()
            .filter(|a| a.policy.annotation("critical").is_some())
            .map(|a| a.id.clone())
            .collect();
        Ok(OwnerPolicies {
            owner: owner.to_owned(),
            version,
            ids: admitted.into_iter().map(|a| a.id).collect(),
            critical,
            by_action,
        })
    }

    /// The owner organisation whose devices these policies protect.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// The ledger version of this set.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The policy ids, in registration order.
    pub fn ids(&self) -> &[String] {
        &self.ids
    }

    /// True when the policy `id` is annotated `@critical` (any value): commands it decides
    /// must be recorded on the ledger.
    pub fn is_critical(&self, id: &str) -> bool {
        self.critical.contains(id)
    }

    /// How many policies are evaluated for `action` (the slice size).
    pub fn slice_len(&self, action: Action) -> usize {
        self.by_action
            .get(action as usize)
            .map_or(0, PolicySet::num_of_policies)
    }
}

/// Checks an owner's policy set exactly as [`OwnerPolicies::new`] would, without keeping it:
/// what the ledger runs at registration. A pure function of the texts.
pub fn check_policy_set(policies: &[(String, String)]) -> Result<(), AdmissionError> {
    admit(policies).map(|_| ())
}

/// Allow or deny.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Allow,
    Deny,
}

/// A judgement, naming the policy version it used. Deterministic: only the decision, the
/// sorted ids and an error count — never Cedar's error text or its unordered reason set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub decision: Decision,
    /// The recipient's owner, whose policies judged.
    pub owner: String,
    /// The ledger version of those policies.
    pub policy_version: u64,
    /// Ids of the policies that determined Cedar's answer, sorted: the satisfied permits when
    /// Cedar allowed, the satisfied forbids when it denied (empty: nothing permitted).
    pub satisfied: Vec<String>,
    /// Policies that failed to evaluate. Any error denies (fail closed): an erroring policy
    /// might have been a forbid.
    pub errors: usize,
    /// A deciding policy is annotated `@critical`: the command (allowed or forbidden) must be
    /// recorded on the ledger as an interaction.
    pub critical: bool,
}

impl Verdict {
    /// A fixed-form explanation: owner, version, what decided.
    pub fn explain(&self) -> String {
        let head = format!("cedar {} v{}", self.owner, self.policy_version);
        match (self.decision, self.errors) {
            (Decision::Allow, _) => format!("{head}: permitted by {}", self.satisfied.join(",")),
            (Decision::Deny, 0) if self.satisfied.is_empty() => {
                format!("{head}: no policy permits")
            }
            (Decision::Deny, 0) => format!("{head}: forbidden by {}", self.satisfied.join(",")),
            (Decision::Deny, n) => format!("{head}: {n} policies failed to evaluate (fail closed)"),
        }
    }
}

/// Why a command could not be judged at all (it is then refused).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JudgeError {
    /// The recipient is not owned by the owner of the policies: only the recipient's owner's
    /// policies judge a command, which confines every policy to its owner's devices.
    #[error("the recipient is owned by another organisation than the policies' owner")]
    NotRecipientsOwner,
    /// A declared param (`level`, `duration`, `target`) has a value of another type.
    #[error("param {0:?} has the wrong type for the policy schema")]
    ParamType(&'static str),
    /// The built-in schema or Cedar refused facts this crate built: a bug.
    #[error("the policy engine is unavailable")]
    Engine,
}

/// Judges a command with the recipient owner's policies, building its entities first.
pub fn judge(policies: &OwnerPolicies, request: &Request<'_>) -> Result<Verdict, JudgeError> {
    let entities = RequestEntities::new(request.sender, request.recipient)?;
    judge_with(policies, request, &entities)
}

/// Judges a command with prebuilt entities (which must be those of `request`'s two devices).
///
/// Runs Cedar on the calling thread. Cedar's evaluator recurses once per expression level and
/// fails a policy when less than 100 KiB of stack remains; admission bounds every policy's
/// nesting ([`crate::MAX_NESTING`]), so on a thread with at least 1 MiB of stack (Rust's main
/// thread: 8 MiB; spawned threads and tokio workers: 2 MiB) that limit is never reached and the
/// verdict does not depend on the caller's stack. Do not call it from a small-stack thread.
pub fn judge_with(
    policies: &OwnerPolicies,
    request: &Request<'_>,
    entities: &RequestEntities,
) -> Result<Verdict, JudgeError> {
    if request.recipient.owner != policies.owner {
        return Err(JudgeError::NotRecipientsOwner);
    }
    let engine = engine().map_err(|_| JudgeError::Engine)?;
    let set = policies
        .by_action
        .get(request.action as usize)
        .ok_or(JudgeError::Engine)?;
    let action = engine
        .action(request.action)
        .map_err(|_| JudgeError::Engine)?;
    let cedar_request = CedarRequest::new(
        uid(engine, request.sender),
        action.clone(),
        uid(engine, request.recipient),
        context(request)?,
        None,
    )
    .map_err(|_| JudgeError::Engine)?;
    let response = Authorizer::new().is_authorized(&cedar_request, set, &entities.entities);
    let errors = response.diagnostics().errors().count();
    // The reason set iterates in a per-process random order: sort it.
    let mut satisfied: Vec<String> = response
        .diagnostics()
        .reason()
        .map(|id| id.to_string())
        .collect();
    satisfied.sort();
    let decision = match response.decision() {
        cedar_policy::Decision::Allow if errors == 0 => Decision::Allow,
        _ => Decision::Deny,
    };
    let critical = satisfied.iter().any(|id| policies.is_critical(id));
    Ok(Verdict {
        decision,
        critical,
        owner: policies.owner.clone(),
        policy_version: policies.version,
        satisfied,
        errors,
    })
}
