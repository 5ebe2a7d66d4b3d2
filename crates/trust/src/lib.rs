//! Appraises device evidence into EAR attestation results, and decays them with time.
//!
//! [`appraise`] is a pure function of ledger facts about one device ([`DeviceFacts`]), the
//! owner's [`Policy`] and the ledger's block time. It reads no clock, does no I/O and uses no
//! randomness, so every validator and every auditor replaying the chain gets the same
//! [`Appraisal`] — and because time is an input, trust decays without any new statement:
//! evidence goes stale, a superseded firmware runs out of grace.
//!
//! The result is expressed in the IETF RATS vocabulary: an AR4SI trustworthiness vector
//! (`ear::TrustVector`), an overall tier ([`Status`]), the [`Reason`]s behind it and an expiry.
//! [`ear_claims`] turns it into a deterministic CBOR EAR claims-set, ready to be signed as a CWT.
//!
//! The rules, their precedence and the EAR layout are specified in `docs/trust.md`.
//!
//! Invariant: nothing here knows about storage, HTTP, the clock or the ledger's encoding of
//! facts; the ledger resolves digests and advisories and hands over plain values.

mod appraise;
mod claims;
mod error;
mod facts;
mod policy;
mod reason;

/// The `ear` crate, re-exported so that callers name the same `TrustVector` and decoder.
pub use ear;

pub use appraise::{appraise, Appraisal, Status};
pub use claims::{ear_claims, EAR_PROFILE, REASONS_CLAIM, RULES_ID, SUBJECT_KEY, SUBMOD};
pub use error::TrustError;
pub use facts::{Advisory, DebugState, DeviceFacts, Evidence, Release, Severity};
pub use policy::{
    Policy, PolicyOverride, DEFAULT_FRESHNESS_MS, DEFAULT_GRACE_MS, MIN_FRESHNESS_MS,
};
pub use reason::Reason;

/// A SHA-256 digest: firmware images and ledger entry ids.
pub type Digest = [u8; 32];

/// Milliseconds since the Unix epoch, always taken from the ledger's block time.
pub type TimeMs = u64;
