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

mod genesis;
mod issuers;
mod rules;

pub use genesis::{Genesis, GenesisError, GenesisIssuer, GENESIS_FORMAT};
pub use issuers::{
    IssuerDecodeError, IssuerRecord, ISSUER_REGISTRATION_CONTENT_TYPE, MAX_ISS_BYTES,
};
pub use rules::{
    BlockDecision, Decision, Rejection, Rules, SignatureCache, StateError, StateView, Verdict,
    Writes,
};
