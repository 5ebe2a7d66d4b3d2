//! Verifies trust passports and state proofs offline, with only the genesis file: their wire
//! formats, decoding within the limits of `docs/limits.md`, verification, and typed errors.
//!
//! This is the verifying half of what a node serves at `GET /state/proof`,
//! `GET /devices/{id}/proof` and `GET /devices/{id}/passport`; the producing half (reading the
//! node's store, waiting for a certifying block) stays in `proverka-node`, which re-exports
//! these modules as `proverka_node::{passport, state_proof}`. A gateway, a device or the CLI
//! depends on this crate instead of a whole node (HTTP server, pool, store).
//!
//! * [`state_proof`]: a bundle of ledger keys with values or absences, proved against a state
//!   root that a finalized block's certificate vouches for; [`state_proof::ProvedView`] runs
//!   the ledger's own queries over proved keys only.
//! * [`passport`]: a device's signed EAR with the state proof it was computed from; verifying
//!   recomputes the appraisal and checks freshness.

pub mod passport;
pub mod state_proof;
