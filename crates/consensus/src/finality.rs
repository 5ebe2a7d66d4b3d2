//! Checking a finalization certificate with nothing but the committee's public keys and the
//! chain namespace: what a light client does with [`Handle::finalization`](crate::Handle).

use crate::key::{self, ValidatorKey};
use bytes::{Buf as _, Bytes};
use commonware_codec::{Encode as _, Read as _};
use commonware_consensus::simplex::{
    scheme::ed25519::Scheme,
    types::{Finalization, Finalize, Proposal},
};
use commonware_consensus::types::{Epoch, Round, View};
use commonware_cryptography::{certificate::Verifier as _, sha256};
use commonware_parallel::Sequential;
use commonware_utils::{iter::NonEmpty, ordered::Set};

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
    /// A signer is not a member of the committee, or there is no signer.
    #[error("a signer is not a member of the committee, or there is none")]
    NotMember,
}

fn committee_set(
    committee: &[String],
) -> Result<Set<commonware_cryptography::ed25519::PublicKey>, CertificateError> {
    let mut members = Vec::with_capacity(committee.len());
    for hex_key in committee {
        members.push(
            key::parse_public_key(hex_key)
                .map_err(|e| CertificateError::Committee(hex_key.clone(), e))?,
        );
    }
    Ok(Set::from_iter_dedup(members))
}

/// Signs and assembles the finalization certificate of `proposal` by `signers`, members of
/// `committee` (public keys in hex), over `namespace`: the bytes [`verify_finalization`]
/// reads. A running network assembles these in its engine; this is for tests and tools that
/// need a certificate of a given epoch without running one (e.g. a verifier following the
/// committee of a later epoch). It signs only with keys the caller holds, and whether the
/// signers are a quorum is left to the verifier.
pub fn sign_finalization(
    namespace: &[u8],
    committee: &[String],
    signers: &[ValidatorKey],
    proposal: &FinalizedProposal,
) -> Result<Vec<u8>, CertificateError> {
    let members = committee_set(committee)?;
    let proposal = Proposal::new(
        Round::new(Epoch::new(proposal.epoch), View::new(proposal.view)),
        View::new(proposal.parent_view),
        sha256::Digest(proposal.digest),
    );
    let votes = signers
        .iter()
        .map(|signer| {
            let scheme = Scheme::signer(namespace, members.clone(), signer.private_key())
                .ok_or(CertificateError::NotMember)?;
            Finalize::sign(&scheme, proposal.clone()).ok_or(CertificateError::NotMember)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let votes = NonEmpty::try_new(votes.into_iter()).ok_or(CertificateError::NotMember)?;
    let verifier = Scheme::verifier(namespace, members);
    let finalization = Finalization::from_owned_finalizes(&verifier, votes, &Sequential)
        .map_err(|_| CertificateError::Signatures)?;
    Ok(finalization.encode().to_vec())
}

/// Verifies an encoded finalization (as returned by
/// [`Handle::finalization`](crate::Handle::finalization)) against a committee (public keys in
/// hex) and the chain namespace.
pub fn verify_finalization(
    namespace: &[u8],
    committee: &[String],
    certificate: &[u8],
) -> Result<FinalizedProposal, CertificateError> {
    let verifier = Scheme::verifier(namespace, committee_set(committee)?);
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

#[cfg(test)]
mod tests {
    use super::*;

    const NAMESPACE: &[u8] = b"proverka-finality-test";

    fn keys() -> Vec<ValidatorKey> {
        (1..=4u8)
            .map(|i| ValidatorKey::from_seed([i; 32]))
            .collect()
    }

    fn proposal() -> FinalizedProposal {
        FinalizedProposal {
            epoch: 3,
            view: 17,
            parent_view: 16,
            digest: [7; 32],
        }
    }

    #[test]
    fn a_signed_quorum_verifies_and_names_its_round() {
        let keys = keys();
        let committee: Vec<String> = keys.iter().map(ValidatorKey::public_key_hex).collect();
        let certificate =
            sign_finalization(NAMESPACE, &committee, &keys[..3], &proposal()).unwrap();
        assert_eq!(
            verify_finalization(NAMESPACE, &committee, &certificate),
            Ok(proposal())
        );
        // Another namespace (chain) or another committee: refused.
        assert!(verify_finalization(b"another chain", &committee, &certificate).is_err());
        let others: Vec<String> = (5..=8u8)
            .map(|i| ValidatorKey::from_seed([i; 32]).public_key_hex())
            .collect();
        assert!(verify_finalization(NAMESPACE, &others, &certificate).is_err());
    }

    #[test]
    fn a_signer_outside_the_committee_or_below_quorum_certifies_nothing() {
        let keys = keys();
        let committee: Vec<String> = keys.iter().map(ValidatorKey::public_key_hex).collect();
        let outsider = ValidatorKey::from_seed([9; 32]);
        assert_eq!(
            sign_finalization(NAMESPACE, &committee, &[outsider], &proposal()),
            Err(CertificateError::NotMember)
        );
        assert_eq!(
            sign_finalization(NAMESPACE, &committee, &[], &proposal()),
            Err(CertificateError::NotMember)
        );
        // One of four: whether assembly or verification refuses it, nothing verifies.
        match sign_finalization(NAMESPACE, &committee, &keys[..1], &proposal()) {
            Err(e) => assert_eq!(e, CertificateError::Signatures),
            Ok(c) => assert!(verify_finalization(NAMESPACE, &committee, &c).is_err()),
        }
    }
}
