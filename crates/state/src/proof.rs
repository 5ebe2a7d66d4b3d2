//! State proofs: QMDB key-value (membership) and exclusion proofs, their bounded wire encoding,
//! and the pure verification function.

use crate::{hashed_key, value_digest, StateRoot, MAX_PROOF_DIGESTS, MAX_STATE_PROOF_BYTES};
use commonware_codec::{Copying, Decode as _, Encode as _, EncodeSize as _, RangeCfg};
use commonware_cryptography::{sha256::Digest, Sha256};
use commonware_storage::{
    mmr,
    qmdb::{
        any::value::VariableEncoding,
        current::ordered::proof::constant::{ExclusionProof, KeyValueProof},
    },
};

/// Bitmap chunk size in bytes used by the database (must match `db::CHUNK_BYTES`).
pub(crate) const CHUNK: usize = 32;

/// Value encoding of the QMDB database: variable-size byte strings. Update values are always
/// 32-byte value digests; commit metadata is 40 bytes (height ‖ writes digest).
pub(crate) type Encoding = VariableEncoding<Vec<u8>>;
pub(crate) type Family = mmr::Family;
pub(crate) type MembershipProof = KeyValueProof<Family, Digest, Digest, CHUNK>;
pub(crate) type AbsenceProof = ExclusionProof<Family, Digest, Encoding, Digest, CHUNK>;

/// Length of the authenticated value stored for each key (`SHA-256(ledger value)`).
pub(crate) const VALUE_DIGEST_BYTES: usize = 32;
/// Length of the commit metadata stored with each block's commit (`height ‖ writes digest`).
pub(crate) const COMMIT_METADATA_BYTES: usize = 8 + 32;

const TAG_MEMBERSHIP: u8 = 0;
const TAG_EXCLUSION: u8 = 1;

/// A proof that a key currently has a given value, or that it has none, against a [StateRoot].
///
/// Wire format: one tag byte (`0` membership, `1` exclusion) followed by the commonware-codec
/// encoding of QMDB's `KeyValueProof` or `ExclusionProof` (see `docs/state.md`). The value itself
/// is never inside a membership proof: the verifier is handed it separately.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateProof(pub(crate) Kind);

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Membership(MembershipProof),
    Exclusion(AbsenceProof),
}

/// Limits applied by [StateProof::decode].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Largest accepted encoding in bytes.
    pub max_bytes: usize,
    /// Largest accepted number of Merkle digests.
    pub max_digests: usize,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        Self {
            max_bytes: MAX_STATE_PROOF_BYTES,
            max_digests: MAX_PROOF_DIGESTS,
        }
    }
}

/// Why a proof did not decode or verify.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StateProofError {
    /// The encoding exceeds [DecodeLimits::max_bytes].
    #[error("state proof of {len} bytes exceeds {max}")]
    TooLarge { len: usize, max: usize },
    /// The bytes are not a well-formed state proof.
    #[error("malformed state proof: {0}")]
    Malformed(String),
    /// A membership proof was given for an absent claim or an exclusion proof for a present one.
    #[error("state proof kind does not match the claim (expected {expected})")]
    KindMismatch { expected: &'static str },
    /// The proof does not authenticate the claim against the root.
    #[error("state proof does not verify against the root")]
    Invalid,
}

impl StateProof {
    /// True for a membership (current value) proof, false for an exclusion proof.
    pub fn is_membership(&self) -> bool {
        matches!(self.0, Kind::Membership(_))
    }

    /// Length of [Self::encode] without allocating it.
    pub fn encoded_len(&self) -> usize {
        1 + match &self.0 {
            Kind::Membership(p) => p.encode_size(),
            Kind::Exclusion(p) => p.encode_size(),
        }
    }

    /// The wire encoding (tag byte, then the commonware-codec encoding of the QMDB proof).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        match &self.0 {
            Kind::Membership(p) => {
                out.push(TAG_MEMBERSHIP);
                out.extend_from_slice(&p.encode());
            }
            Kind::Exclusion(p) => {
                out.push(TAG_EXCLUSION);
                out.extend_from_slice(&p.encode());
            }
        }
        out
    }

    /// Decode a proof, rejecting anything over `limits`, trailing bytes, and malformed input.
    pub fn decode(bytes: &[u8], limits: DecodeLimits) -> Result<Self, StateProofError> {
        if bytes.len() > limits.max_bytes {
            return Err(StateProofError::TooLarge {
                len: bytes.len(),
                max: limits.max_bytes,
            });
        }
        let Some((&tag, body)) = bytes.split_first() else {
            return Err(StateProofError::Malformed("empty".into()));
        };
        let malformed = |e: commonware_codec::Error| StateProofError::Malformed(e.to_string());
        let kind = match tag {
            TAG_MEMBERSHIP => Kind::Membership(
                MembershipProof::decode_cfg(Copying(body), &(limits.max_digests, ()))
                    .map_err(malformed)?,
            ),
            TAG_EXCLUSION => {
                let value_cfg: RangeCfg<usize> = (VALUE_DIGEST_BYTES..=VALUE_DIGEST_BYTES).into();
                let metadata_cfg: RangeCfg<usize> =
                    (COMMIT_METADATA_BYTES..=COMMIT_METADATA_BYTES).into();
                Kind::Exclusion(
                    AbsenceProof::decode_cfg(
                        Copying(body),
                        &(
                            limits.max_digests,
                            ((), (value_cfg, ())),
                            (metadata_cfg, ()),
                        ),
                    )
                    .map_err(malformed)?,
                )
            }
            other => return Err(StateProofError::Malformed(format!("unknown tag {other}"))),
        };
        Ok(Self(kind))
    }
}

/// Check, against `root`, that ledger `key` currently has `value` (`Some`) or has no value
/// (`None`). Pure: needs no runtime, storage or async executor.
///
/// Procedure: hash the key with SHA-256; for `Some(v)` require a membership proof and check QMDB's
/// key-value proof for (`SHA-256(key)`, `SHA-256(v)`); for `None` require an exclusion proof and
/// check it for `SHA-256(key)`.
pub fn verify(
    root: &StateRoot,
    key: &[u8],
    value: Option<&[u8]>,
    proof: &StateProof,
) -> Result<(), StateProofError> {
    let root = Digest(root.0);
    let key = Digest(hashed_key(key));
    let ok = match (value, &proof.0) {
        (Some(value), Kind::Membership(p)) => {
            p.verify::<Sha256, Encoding>(key, value_digest(value).to_vec(), &root)
        }
        (None, Kind::Exclusion(p)) => p.verify::<Sha256>(&key, &root),
        (Some(_), Kind::Exclusion(_)) => {
            return Err(StateProofError::KindMismatch {
                expected: "membership",
            })
        }
        (None, Kind::Membership(_)) => {
            return Err(StateProofError::KindMismatch {
                expected: "exclusion",
            })
        }
    };
    if ok {
        Ok(())
    } else {
        Err(StateProofError::Invalid)
    }
}
