//! Errors of the trust crate.

use thiserror::Error;

/// Why a trust input or an EAR could not be built.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TrustError {
    /// A CVSS score outside 0.0..=10.0.
    #[error("CVSS score {tenths} tenths is outside 0..=100 (0.0..=10.0)")]
    CvssOutOfRange {
        /// The score in tenths as given.
        tenths: u8,
    },
    /// An EAT `dbgstat` value outside the five defined states.
    #[error("debug state {value} is not an EAT dbgstat value (0..=4)")]
    UnknownDebugState {
        /// The value as given.
        value: u8,
    },
    /// An owner override that would loosen the policy it refines.
    #[error("policy {field} = {value} ms is looser than the allowed maximum {bound} ms")]
    PolicyLooser {
        /// Name of the policy field.
        field: &'static str,
        /// Requested value.
        value: u64,
        /// Largest value allowed.
        bound: u64,
    },
    /// An owner override below an absolute lower bound.
    #[error("policy {field} = {value} ms is below the minimum {bound} ms")]
    PolicyBelowMinimum {
        /// Name of the policy field.
        field: &'static str,
        /// Requested value.
        value: u64,
        /// Smallest value allowed.
        bound: u64,
    },
    /// An owner override that would turn off `debug_contraindicated`.
    #[error("policy debug_contraindicated may not be turned off once on (bound: true)")]
    DebugLoosened,
    /// The device id given for an EAR is not non-empty lowercase hex.
    #[error("device id {0:?} is not non-empty lowercase hex of whole bytes")]
    BadDeviceId(String),
    /// The verifier name given for an EAR is empty.
    #[error("verifier id must not be empty")]
    EmptyVerifier,
    /// The `ear` crate or the CBOR encoder refused the claims-set.
    #[error("EAR encoding failed: {0}")]
    Encode(String),
}
