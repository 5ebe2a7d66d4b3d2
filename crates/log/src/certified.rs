//! Quorum-certified receipts: an RFC 9942 receipt whose tree head is also a C2SP checkpoint
//! cosigned by a quorum of the ledger's validators, so that it verifies with the validator
//! set's public keys and no single validator (or group below the quorum) can make one.
//!
//! The receipt's own COSE signature is by one validator's receipt key; what certifies it is
//! the checkpoint note it carries under [`HEADER_QUORUM_CHECKPOINT`]: same tree size, same
//! root, at least `quorum` valid `cosignature/v1` lines by distinct validators' cosigner keys.

use proverka_statement::PublicKey;

use crate::checkpoint::{
    checkpoint_epoch, checkpoint_epoch_unverified, verify_cosigned_checkpoint, CheckpointError,
    VerifiedCheckpoint,
};
use crate::handover::{CommitteeChain, HandoverError};
#[cfg(doc)]
use crate::receipt::HEADER_QUORUM_CHECKPOINT;
use crate::receipt::{quorum_checkpoint_of, verify_receipt, ReceiptError, VerifiedReceipt};

/// The public keys of a validator set, as a verifier holding only the genesis knows them.
#[derive(Clone, Debug)]
pub struct ValidatorSet {
    /// The log origin (first line of every checkpoint).
    pub origin: String,
    /// Receipt signing keys, one per validator.
    pub receipt_keys: Vec<PublicKey>,
    /// Checkpoint note verifier keys (name = origin), one per validator.
    pub checkpoint_vkeys: Vec<String>,
    /// tlog-cosignature/v1 verifier keys, one per validator, distinct names.
    pub cosigner_vkeys: Vec<String>,
    /// Cosignatures required.
    pub quorum: usize,
}

/// Why a receipt is not certified by the validator set.
#[derive(Debug, thiserror::Error)]
pub enum CertifiedReceiptError {
    /// No validator's receipt key verifies the receipt (or it is malformed).
    #[error("receipt: {0}")]
    Receipt(ReceiptError),
    /// The receipt carries no quorum checkpoint.
    #[error("the receipt carries no quorum-cosigned checkpoint")]
    NoCheckpoint,
    /// The checkpoint is not signed by a validator's checkpoint key, or lacks the quorum.
    #[error("quorum checkpoint: {0}")]
    Checkpoint(CheckpointError),
    /// The checkpoint names another tree head than the receipt proves.
    #[error("the quorum checkpoint is for tree size {checkpoint}, the receipt for {receipt} (or their roots differ)")]
    Mismatch { receipt: u64, checkpoint: u64 },
    /// The committee the checkpoint's epoch names has keys that do not decode.
    #[error("committee of the checkpoint's epoch: {0}")]
    Committee(HandoverError),
}

/// A receipt verified against a validator set.
#[derive(Clone, Debug)]
pub struct CertifiedReceipt {
    pub receipt: VerifiedReceipt,
    pub checkpoint: VerifiedCheckpoint,
}

/// Verifies `receipt` for `statement` with the validator set alone: the receipt signature by
/// any validator's receipt key, then its quorum checkpoint (a validator's log signature, at
/// least `quorum` valid cosignatures), then that both name the same tree size and root.
pub fn verify_certified_receipt(
    receipt: &[u8],
    statement: &[u8],
    set: &ValidatorSet,
) -> Result<CertifiedReceipt, CertifiedReceiptError> {
    let mut last = ReceiptError::BadSignature;
    let mut verified = None;
    for key in &set.receipt_keys {
        match verify_receipt(receipt, statement, key) {
            Ok(v) => {
                verified = Some(v);
                break;
            }
            Err(e) => last = e,
        }
    }
    let verified = verified.ok_or(CertifiedReceiptError::Receipt(last))?;
    let note = quorum_checkpoint_of(receipt)
        .map_err(CertifiedReceiptError::Receipt)?
        .ok_or(CertifiedReceiptError::NoCheckpoint)?;
    let checkpoint = verify_quorum_checkpoint(&note, set)?;
    if checkpoint.size != verified.tree_size || checkpoint.root != verified.root {
        return Err(CertifiedReceiptError::Mismatch {
            receipt: verified.tree_size,
            checkpoint: checkpoint.size,
        });
    }
    Ok(CertifiedReceipt {
        receipt: verified,
        checkpoint,
    })
}

/// Verifies a checkpoint note cosigned by a quorum of the validator set: signed by one
/// validator's checkpoint key, with at least `quorum` valid cosignatures of distinct members.
pub fn verify_quorum_checkpoint(
    note: &[u8],
    set: &ValidatorSet,
) -> Result<VerifiedCheckpoint, CertifiedReceiptError> {
    let mut last = CheckpointError::MissingSignature;
    let cosigners: Vec<&str> = set.cosigner_vkeys.iter().map(String::as_str).collect();
    for vkey in &set.checkpoint_vkeys {
        match verify_cosigned_checkpoint(note, &set.origin, vkey, &cosigners, set.quorum) {
            Ok(v) => return Ok(v),
            // Another validator's checkpoint key may have signed it: try the next one.
            Err(CheckpointError::MissingSignature) => {}
            Err(e) => last = e,
        }
    }
    Err(CertifiedReceiptError::Checkpoint(last))
}

/// Verifies a quorum checkpoint with the committee of the epoch it names (its
/// `proverka-epoch` extension line, 0 if absent) in a verified chain of committees; returns the
/// checkpoint and that epoch.
///
/// The epoch line is covered by every cosignature, so a quorum of one committee cannot lend
/// its cosignatures to another epoch. Caveat (long range): a quorum of a *past* committee could
/// still sign a new checkpoint naming its own old epoch; a witness or monitor that follows the
/// log sees a checkpoint inconsistent with, or older in epoch than, what it already saw.
pub fn verify_quorum_checkpoint_in_chain(
    note: &[u8],
    chain: &CommitteeChain,
) -> Result<(VerifiedCheckpoint, u64), CertifiedReceiptError> {
    let epoch = checkpoint_epoch_unverified(note).map_err(CertifiedReceiptError::Checkpoint)?;
    let set = chain
        .committee_at(epoch)
        .validator_set(chain.origin())
        .map_err(CertifiedReceiptError::Committee)?;
    let verified = verify_quorum_checkpoint(note, &set)?;
    // What the signatures cover must name the same epoch the keys were chosen for.
    if checkpoint_epoch(&verified.extensions).map_err(CertifiedReceiptError::Checkpoint)? != epoch {
        return Err(CertifiedReceiptError::Checkpoint(
            CheckpointError::MalformedEpoch,
        ));
    }
    Ok((verified, epoch))
}

/// Verifies a receipt with a verified chain of committees: the committee of the epoch its
/// quorum checkpoint names must have signed the receipt (one member's receipt key) and
/// certified the checkpoint (a quorum of its cosigner keys). With the chain of no hand-over,
/// this is [`verify_certified_receipt`] with the genesis committee.
pub fn verify_certified_receipt_in_chain(
    receipt: &[u8],
    statement: &[u8],
    chain: &CommitteeChain,
) -> Result<CertifiedReceipt, CertifiedReceiptError> {
    let note = quorum_checkpoint_of(receipt)
        .map_err(CertifiedReceiptError::Receipt)?
        .ok_or(CertifiedReceiptError::NoCheckpoint)?;
    let epoch = checkpoint_epoch_unverified(&note).map_err(CertifiedReceiptError::Checkpoint)?;
    let set = chain
        .committee_at(epoch)
        .validator_set(chain.origin())
        .map_err(CertifiedReceiptError::Committee)?;
    let certified = verify_certified_receipt(receipt, statement, &set)?;
    if checkpoint_epoch(&certified.checkpoint.extensions)
        .map_err(CertifiedReceiptError::Checkpoint)?
        != epoch
    {
        return Err(CertifiedReceiptError::Checkpoint(
            CheckpointError::MalformedEpoch,
        ));
    }
    Ok(certified)
}
