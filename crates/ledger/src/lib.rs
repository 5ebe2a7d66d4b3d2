//! Decides, deterministically and without I/O, which statements a block registers.
//!
//! The ledger's rules are a pure function of (genesis, current state, block): the same inputs give
//! the same decisions and the same state writes on every node and in every auditor's replay.
//!
//! Invariants:
//! - No I/O, no clock, no randomness: state is read through [`StateView`], time comes from the
//!   block timestamp, and the result is a list of state writes for the caller to persist.
//! - Signed bytes are never re-encoded: statements are judged on the exact bytes received.
//! - A statement is registered only if its issuer is registered (genesis or an earlier
//!   registration), the `iss` claim matches the registered name, and the signature verifies with
//!   the registered key (the `kid` is that key's RFC 9679 thumbprint).

pub mod anchors;
mod cedar;
pub mod challenges;
mod ctx;
mod devices;
mod firmware;
mod genesis;
mod idevid;
pub mod interaction;
mod issuers;
pub mod kinds;
pub mod labels;
pub mod make;
mod orgs;
pub mod payload;
mod preverify;
pub mod query;
pub mod records;
mod rules;
pub mod validators;

pub use anchors::{LogAnchor, MAX_ANCHORED_ROOTS, NONCE_ROOT_WINDOW_MS};
pub use cedar::CEDAR_KIND;
pub use challenges::{
    ChallengeRefusal, DEFAULT_CHALLENGE_WINDOW_MS, MAX_CHALLENGE_DEVICES,
    MAX_CHALLENGE_NONCE_BYTES, MAX_CHALLENGE_WINDOW_MS, MAX_OPEN_CHALLENGES,
    MIN_CHALLENGE_NONCE_BYTES, MIN_CHALLENGE_WINDOW_MS,
};
pub use ctx::BlockContext;
pub use devices::{
    MAX_CLOCK_SKEW_MS, MAX_DEVICE_ID_BYTES, MAX_EVIDENCE_AGE_MS, MAX_EVIDENCE_BATCH,
    MAX_MODEL_ROOTS, MAX_NONCE_BYTES, MAX_X5CHAIN_CERTS, MIN_NONCE_BYTES, PENDING_TTL_MS,
};
pub use firmware::{severity_of_cvss, SEVERITY_NAMES};
pub use genesis::{Genesis, GenesisError, GenesisIssuer, ValidatorKeys, GENESIS_FORMAT};
pub use issuers::{
    IssuerDecodeError, IssuerRecord, ISSUER_REGISTRATION_CONTENT_TYPE, MAX_ISS_BYTES,
};
pub use orgs::{MAX_GOVERNANCE_MEMBERS, MAX_ORG_KEYS, PROPOSAL_TTL_MS};
pub use rules::{
    BlockDecision, Decision, Deferred, Rejection, Rules, SignatureCache, Signer, StateError,
    StateView, Verdict, Writes, MAX_BLOCK_STATE_WRITES,
};
