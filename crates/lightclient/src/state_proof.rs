//! State proofs a light client checks with only the genesis (namespace and validator keys):
//! ledger keys with their current values or absences, proved against a state root that a
//! finalized block certifies (its anchor), with that block's finalization certificate.
//!
//! Format (CDDL in `docs/state.md`, "Proving state to a light client"): a CBOR array
//! `[height, state_root, header, statements_hash, finalization, [* [key, value / null, proof]]]`.
//! [`verify`] is pure: no clock, no network, no storage.

use proverka_consensus::{
    digest_from_parts, header_facts, verify_finalization, HeaderFacts, HEADER_BYTES,
};
use proverka_state::{DecodeLimits, StateProof, StateRoot};
use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;
use std::collections::BTreeMap;

use proverka_ledger::query::StateScan;
use proverka_ledger::{StateError, StateView};

/// Largest encoded bundle accepted by [`StateProofBundle::decode`]; the node refuses to build
/// a bundle over it with a 400 "Proof too large", never a 500. A device of a model at its
/// limits (2,048 release and advisory records of ordinary size, each with a proof of at most
/// 4,608 bytes) fits; records near the statement size limit may not.
pub const MAX_BUNDLE_BYTES: usize = 16 * 1024 * 1024;
/// Keys of one device's status besides its model's releases and advisories: the device, its
/// model and `facts/` manifest, its owner's policy, and what Cedar sees of it (with room).
pub const MAX_DEVICE_FIXED_KEYS: usize = 64;
/// Largest number of keys in a device's status proof: everything status reads at the model
/// limits (`MAX_RELEASES_PER_MODEL` + `MAX_ADVISORIES_PER_MODEL` + the fixed keys).
pub const MAX_DEVICE_PROOF_KEYS: usize = proverka_ledger::records::MAX_RELEASES_PER_MODEL
    + proverka_ledger::records::MAX_ADVISORIES_PER_MODEL
    + MAX_DEVICE_FIXED_KEYS;
/// Largest number of keys in one bundle (a device's status proof is the largest).
pub const MAX_BUNDLE_KEYS: usize = MAX_DEVICE_PROOF_KEYS;
const _: () = assert!(MAX_BUNDLE_KEYS <= proverka_state::MAX_KEYS_PER_PROOF);

/// One proved key: its value (`None`: absent) and the proof.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ProvedEntry(pub ByteBuf, pub Option<ByteBuf>, pub ByteBuf);

/// The wire form of a state proof (see the module docs).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct StateProofBundle(
    /// Height whose state is proved.
    pub u64,
    /// State root after that height.
    pub ByteBuf,
    /// Header of the finalized block whose anchor certifies that root.
    pub ByteBuf,
    /// That block's statements hash (to recompute its digest without the statements).
    pub ByteBuf,
    /// That block's finalization certificate.
    pub ByteBuf,
    /// The proved keys.
    pub Vec<ProvedEntry>,
);

/// Why a bundle proves nothing.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StateProofBundleError {
    #[error("state proof bundle of {0} bytes exceeds {MAX_BUNDLE_BYTES}")]
    TooLarge(usize),
    #[error("malformed state proof bundle: {0}")]
    Malformed(String),
    #[error("finalization certificate: {0}")]
    Certificate(#[from] proverka_consensus::CertificateError),
    #[error("the header is not the block the certificate finalized")]
    HeaderMismatch,
    #[error(
        "the header names round (epoch {header_epoch}, view {header_view}) but its certificate \
         (epoch {certificate_epoch}, view {certificate_view})"
    )]
    RoundMismatch {
        header_epoch: u64,
        header_view: u64,
        certificate_epoch: u64,
        certificate_view: u64,
    },
    #[error("the finalization of epoch {epoch} is signed by another epoch's committee")]
    WrongEpochCommittee { epoch: u64 },
    #[error("the certified block anchors height {anchored}, not the proved height {proved}")]
    HeightMismatch { anchored: u64, proved: u64 },
    #[error("the certified block anchors a different state root")]
    RootMismatch,
    #[error("key {index}: {detail}")]
    Entry { index: usize, detail: String },
}

/// What a verified bundle establishes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedState {
    /// The block whose finalization certificate vouches for the root.
    pub certified_by: HeaderFacts,
    /// The proved height and root.
    pub height: u64,
    pub root: [u8; 32],
    /// Each key with its value at `height` (`None`: proved absent).
    pub entries: Vec<(Vec<u8>, Option<Vec<u8>>)>,
}

impl StateProofBundle {
    /// Canonical CBOR encoding.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        // Writing into a Vec cannot fail, and every field serializes.
        let _ = ciborium::into_writer(self, &mut out);
        out
    }

    /// Decodes a bundle, bounded by [`MAX_BUNDLE_BYTES`] and [`MAX_BUNDLE_KEYS`].
    pub fn decode(bytes: &[u8]) -> Result<Self, StateProofBundleError> {
        if bytes.len() > MAX_BUNDLE_BYTES {
            return Err(StateProofBundleError::TooLarge(bytes.len()));
        }
        let bundle: Self = ciborium::from_reader(bytes)
            .map_err(|e| StateProofBundleError::Malformed(e.to_string()))?;
        if bundle.5.len() > MAX_BUNDLE_KEYS {
            return Err(StateProofBundleError::Malformed(format!(
                "{} keys, more than {MAX_BUNDLE_KEYS}",
                bundle.5.len()
            )));
        }
        Ok(bundle)
    }
}

fn fixed<const N: usize>(what: &str, bytes: &[u8]) -> Result<[u8; N], StateProofBundleError> {
    bytes
        .try_into()
        .map_err(|_| StateProofBundleError::Malformed(format!("{what} is not {N} bytes")))
}

/// Verifies a bundle against the chain's namespace (the genesis id) and its validators' public
/// keys (hex), as listed in the genesis: the committee of every epoch, as if it never changed
/// (the chain of committees with no hand-over; see [`verify_in_chain`]).
pub fn verify(
    namespace: &[u8],
    committee: &[String],
    bundle: &StateProofBundle,
) -> Result<VerifiedState, StateProofBundleError> {
    verify_in_chain(namespace, &[(0, committee.to_vec())], bundle)
}

/// The committee in force at `epoch`: the latest of `committees` starting at or before it.
fn committee_at(committees: &[(u64, Vec<String>)], epoch: u64) -> Option<usize> {
    committees.iter().rposition(|(start, _)| *start <= epoch)
}

/// Verifies a bundle with a verified chain of committees: `committees` lists, in increasing
/// epoch order starting at epoch 0 (genesis), each committee's consensus keys (hex) and the
/// epoch it took over (from `proverka_log::CommitteeChain`, verified from the genesis through
/// the hand-over notes). The finalization certificate must verify with the committee in force
/// at the epoch it names (its simplex round's epoch, which the signatures cover).
pub fn verify_in_chain(
    namespace: &[u8],
    committees: &[(u64, Vec<String>)],
    bundle: &StateProofBundle,
) -> Result<VerifiedState, StateProofBundleError> {
    let StateProofBundle(height, root, header, statements_hash, finalization, entries) = bundle;
    let root: [u8; 32] = fixed("state root", root)?;
    let (facts, _) =
        verify_certified_header(namespace, committees, header, statements_hash, finalization)?;
    if facts.anchor.height != *height {
        return Err(StateProofBundleError::HeightMismatch {
            anchored: facts.anchor.height,
            proved: *height,
        });
    }
    if facts.anchor.state_root != root {
        return Err(StateProofBundleError::RootMismatch);
    }
    let state_root = StateRoot(root);
    let mut verified = Vec::with_capacity(entries.len());
    for (index, ProvedEntry(key, value, proof)) in entries.iter().enumerate() {
        let entry_error = |detail: String| StateProofBundleError::Entry { index, detail };
        let proof = StateProof::decode(proof, DecodeLimits::default())
            .map_err(|e| entry_error(e.to_string()))?;
        let value = value.as_ref().map(|v| v.to_vec());
        proverka_state::verify(&state_root, key, value.as_deref(), &proof)
            .map_err(|e| entry_error(e.to_string()))?;
        verified.push((key.to_vec(), value));
    }
    Ok(VerifiedState {
        certified_by: facts,
        height: *height,
        root,
        entries: verified,
    })
}

/// Verifies that a quorum of the committee in force at its epoch finalized the block with this
/// header and statements hash; returns the header's facts and the block's digest.
pub fn verify_certified_header(
    namespace: &[u8],
    committees: &[(u64, Vec<String>)],
    header: &[u8],
    statements_hash: &[u8],
    finalization: &[u8],
) -> Result<(HeaderFacts, [u8; 32]), StateProofBundleError> {
    let header: [u8; HEADER_BYTES] = fixed("header", header)?;
    let statements_hash: [u8; 32] = fixed("statements hash", statements_hash)?;
    let finalized = finalized_by_chain(namespace, committees, finalization)?;
    if digest_from_parts(&header, &statements_hash) != finalized.digest {
        return Err(StateProofBundleError::HeaderMismatch);
    }
    let facts =
        header_facts(&header).map_err(|e| StateProofBundleError::Malformed(e.to_string()))?;
    // An honest committee finalizes a block only in the round it was proposed in (the round is
    // part of the block), so the committee that signed is the one of the block's own epoch.
    if (facts.epoch, facts.view, facts.parent_view)
        != (finalized.epoch, finalized.view, finalized.parent_view)
    {
        return Err(StateProofBundleError::RoundMismatch {
            header_epoch: facts.epoch,
            header_view: facts.view,
            certificate_epoch: finalized.epoch,
            certificate_view: finalized.view,
        });
    }
    Ok((facts, finalized.digest))
}

/// The finalization, verified with the committee in force at the epoch it names. The epoch is
/// read from the certificate, which only decodes with a committee's key count, so each distinct
/// committee is tried, latest first, and a result is accepted only if that committee is the
/// one in force at the epoch the verified certificate names.
fn finalized_by_chain(
    namespace: &[u8],
    committees: &[(u64, Vec<String>)],
    certificate: &[u8],
) -> Result<proverka_consensus::FinalizedProposal, StateProofBundleError> {
    let mut last = StateProofBundleError::Malformed("no committee to verify with".into());
    let mut wrong_epoch = None;
    for (index, (_, members)) in committees.iter().enumerate().rev() {
        match verify_finalization(namespace, members, certificate) {
            Ok(f) if committee_at(committees, f.epoch) == Some(index) => return Ok(f),
            Ok(f) => {
                wrong_epoch = Some(StateProofBundleError::WrongEpochCommittee { epoch: f.epoch })
            }
            Err(e) => last = e.into(),
        }
    }
    // Signed by a committee of the chain, but not the one of its epoch: say so.
    Err(wrong_epoch.unwrap_or(last))
}

/// The proved keys of a verified bundle as a read-only ledger view, so that the ledger's own
/// queries (e.g. `query::device_status`) run offline over proved data only.
///
/// A key the bundle proves absent reads as absent; a key the bundle does not cover at all is an
/// **error**, never "absent": reading it as absent would let a server drop a record (a
/// revocation, a zone label) simply by leaving its key out of the proof. Scans return only
/// proved present rows; a scan cannot prove that no other row exists, so ledger queries used
/// offline read fixed keys (manifests), not scans.
pub struct ProvedView(pub BTreeMap<Vec<u8>, Option<Vec<u8>>>);

impl ProvedView {
    /// Every key of a verified bundle, present or proved absent.
    pub fn new(verified: &VerifiedState) -> Self {
        Self(verified.entries.iter().cloned().collect())
    }
}

impl StateView for ProvedView {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        match self.0.get(key) {
            Some(value) => Ok(value.clone()),
            None => Err(StateError(format!(
                "key {} is not covered by the state proof",
                hex::encode(key)
            ))),
        }
    }
    fn has_entry(&self, _: &[u8; 32]) -> Result<bool, StateError> {
        Err(StateError(
            "log entries are not part of a state proof".into(),
        ))
    }
}

impl StateScan for ProvedView {
    fn scan(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>, StateError> {
        Ok(self
            .0
            .range(prefix.to_vec()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .filter(|(k, _)| after.is_none_or(|a| k.as_slice() > a))
            .filter_map(|(k, v)| v.as_ref().map(|v| (k.clone(), v.clone())))
            .take(limit)
            .collect())
    }
}
