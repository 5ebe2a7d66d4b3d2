//! Judges device-to-device commands with operators' Cedar policies.
//!
//! An operator writes Cedar policies for the devices it owns and registers them on the ledger
//! as a `cedar-policy` statement (`docs/registration.md`); each registration is a new version
//! of that owner's set. A gateway loads the set in force at its snapshot into
//! [`OwnerPolicies`] and judges each command with [`judge`]; the [`Verdict`] names the owner
//! and the version, so the decision can be re-checked against the ledger later.
//! [`CedarHook`] plugs this into the `no_std` command verifier (`proverka_command::verify`).
//!
//! # The schema
//!
//! [`SCHEMA`] (also `docs/policy.cedarschema`), namespace `Proverka`: `Device` (in its owner
//! `Org` and its `Zone`) with owner, maker, model, zone, tags, firmware and svn; `Model` (in
//! its `Maker`) with its name; five actions ([`Action`]) from a `Device` to a `Device`; the
//! context carries the volatile facts: `now`, the sender's trust status and AR4SI trust vector,
//! and the declared params (`level`, `duration`, `target`). Every policy passes strict
//! validation against it at admission, so no schema check runs per request.
//!
//! # Admission (ledger registration and loading)
//!
//! [`check_policy_set`] / [`OwnerPolicies::new`], a pure function of the texts: at most
//! [`MAX_POLICIES`] policies, [`MAX_POLICY_BYTES`] each and [`MAX_POLICY_SET_BYTES`] in all;
//! ids of [`MAX_POLICY_ID_BYTES`] `[A-Za-z0-9._-]`, unique; a nesting estimate (computed on the
//! text before Cedar parses it, [`nesting`]) of at most [`MAX_NESTING`]; then each text parsed
//! as one static policy with its id as the explicit `PolicyId` (an `@id` annotation does not set
//! Cedar's id) and strictly validated. Refusals name the policy id and a fixed category
//! ([`AdmissionError`]), never Cedar's message text.
//!
//! # Scope
//!
//! Only the *recipient's owner's* set judges a command ([`judge`] refuses a request whose
//! recipient another organisation owns), so a policy can only ever grant or deny access to its
//! owner's devices: scope confinement is structural, not a check on the policy text. Principal
//! scopes may name any device, zone or organisation (e.g. let another operator's switches
//! actuate my lamps).
//!
//! # Determinism and cost
//!
//! The verdict keeps only Cedar's decision, the **sorted** satisfied policy ids and an error
//! count; any evaluation error denies (fail closed). Time comes from the request. The engine
//! is pinned (`cedar-policy = "=4.14.1"`). Per-request entities are built from facts without a
//! schema check; policies are sliced by action at load (a policy whose action scope cannot
//! match is never evaluated; principal/resource slicing is not done). Figures:
//! `examples/policy_bench.rs`.
//!
//! # Stack
//!
//! Cedar runs on the calling thread and its evaluator fails a policy when less than 100 KiB
//! of stack remains; bounded nesting keeps its recursion shallow, so call [`judge`] from a
//! thread with at least 1 MiB of stack (see [`judge_with`]).

#![forbid(unsafe_code)]

mod admit;
mod engine;
mod facts;
mod hook;
mod judge;

pub use admit::{
    nesting, AdmissionError, MAX_NESTING, MAX_POLICIES, MAX_POLICY_BYTES, MAX_POLICY_ID_BYTES,
    MAX_POLICY_SET_BYTES,
};
pub use engine::{schema, SCHEMA};
pub use facts::{Action, DeviceFacts, Request, RequestEntities, TrustVector};
pub use hook::{CedarHook, FactSource, VerdictKey};
pub use judge::{
    check_policy_set, judge, judge_with, Decision, JudgeError, OwnerPolicies, Verdict,
};
pub use proverka_command::{ParamValue, Params, TrustStatus};
