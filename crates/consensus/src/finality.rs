//! Checking a finalization certificate with nothing but the committee's public keys and the
//! chain namespace: what a light client does with [`Handle::finalization`](crate::Handle).

use crate::key;
use bytes::{Buf as _, Bytes};
use commonware_codec::Read as _;
use commonware_consensus::simplex::{scheme::ed25519::Scheme, types::Finalization};
use commonware_cryptography::{certificate::Verifier as _, sha256};
use commonware_parallel::Sequential;
use commonware_utils::ordered::Set;

/// What a valid finalization certificate proves: the committee finalized the block with this
/// digest, proposed in this round on a parent from `parent_view`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FinalizedProposal {
    /// Consensus epoch.
    pub epoch: u64,
    /// View the block was proposed in.
    pub view: u64,
    /// View of the block's parent.
    pub parent_view: u64,
    /// The finalized block's digest ([`Block::digest`](crate::Block::digest)).
    pub digest: [u8; 32],
}

/// Why a certificate does not prove finality.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CertificateError {
    /// A committee key is malformed.
    #[error("committee member {0:?}: {1}")]
    Committee(String, key::KeyError),
    /// The bytes are not an encoded finalization.
    #[error("not an encoded finalization certificate")]
    Encoding,
    /// The signatures do not form a quorum of this committee over this namespace.
    #[error("the certificate is not signed by a quorum of the committee")]
    Signatures,
}

/// Verifies an encoded finalization (as returned by
/// [`Handle::finalization`](crate::Handle::finalization)) against a committee (public keys in
/// hex) and the chain namespace.
pub fn verify_finalization(
    namespace: &[u8],
    committee: &[String],
    certificate: &[u8],
) -> Result<FinalizedProposal, CertificateError> {
    let mut members = Vec::with_capacity(committee.len());
    for hex_key in committee {
        members.push(
            key::parse_public_key(hex_key)
                .map_err(|e| CertificateError::Committee(hex_key.clone(), e))?,
        );
    }
    let verifier = Scheme::verifier(namespace, Set::from_iter_dedup(members));
    let mut buf = Bytes::copy_from_slice(certificate);
    let finalization = Finalization::<Scheme, sha256::Digest>::read_cfg(
        &mut buf,
        &verifier.certificate_codec_config(),
    )
    .map_err(|_| CertificateError::Encoding)?;
    if buf.has_remaining() {
        return Err(CertificateError::Encoding);
    }
    let mut rng = commonware_utils::sys_rng();
    if !finalization.verify(&mut rng, &verifier, &Sequential) {
        return Err(CertificateError::Signatures);
    }
    let proposal = &finalization.proposal;
    Ok(FinalizedProposal {
        epoch: proposal.round.epoch().get(),
        view: proposal.round.view().get(),
        parent_view: proposal.parent.get(),
        digest: proposal.payload.0,
    })
}
