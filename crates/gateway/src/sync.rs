//! Syncing the snapshot: follow the committee hand-over chain, fetch passports and policy
//! proofs, verify each with the committee in force at the epoch that certified it, and replace
//! what changed.
//!
//! **Committees.** The [`Verifier`] holds a [`CommitteeChain`] verified link by link from the
//! genesis committee; it starts as the chain with no hand-over (the genesis committee for every
//! epoch). Each refresh first fetches `GET /validators/epochs` and adopts the served chain only
//! if it verifies from the genesis *and* extends the chain held: every committee held is in it,
//! at the same epoch, with the same members. A chain that does not verify, is shorter, or names
//! another committee for an epoch already known is refused and the held chain kept; so a lying
//! node can at most keep the gateway on an older chain, whose later certificates then fail to
//! verify (the snapshot ages and, past its bound, every command is refused).
//!
//! A refresh starts from the previous snapshot. A device whose passport verifies is replaced; a
//! device the ledger no longer knows is dropped (commands from it are then refused as from an
//! unknown sender); a device whose passport cannot be fetched or does not verify keeps its old
//! entry, which ages the whole snapshot until it is refreshed or the snapshot goes stale
//! (`crate::snapshot`). Policy sets are refreshed for the owners of the devices the gateway
//! serves.

use std::collections::BTreeSet;
use std::sync::{Arc, RwLock};

use futures::stream::{self, StreamExt};
use proverka_command::DeviceId;
use proverka_ledger::records::keys;
use proverka_ledger::{query, Genesis};
use proverka_lightclient::passport::{self, Passport};
use proverka_lightclient::state_proof::{self, ProvedView, StateProofBundle};
use proverka_log::{
    split_handover_chain, Committee, CommitteeChain, CommitteeMember, HandoverError,
};
use proverka_policy::OwnerPolicies;

use crate::ledger::{Ledger, LedgerError};
use crate::snapshot::{GatewaySnapshot, KnownDevice, ProvedPolicies};

/// Requests in flight at once during a refresh.
pub const SYNC_CONCURRENCY: usize = 16;

/// Why one item of a refresh was not taken.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("device {device}: {source}")]
    Fetch { device: String, source: LedgerError },
    #[error("device {device}: passport refused: {detail}")]
    Passport { device: String, detail: String },
    #[error("policies of {owner}: {detail}")]
    Policies { owner: String, detail: String },
    #[error("the genesis file is not usable: {0}")]
    Genesis(String),
    #[error("hand-over chain refused, keeping the one held: {0}")]
    Chain(#[from] ChainError),
}

/// Why a served hand-over chain was not adopted (the chain held stays in force).
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    #[error("cannot fetch it: {0}")]
    Fetch(LedgerError),
    #[error("it does not verify from the genesis: {0}")]
    Invalid(#[from] HandoverError),
    #[error(
        "its committee of epoch {epoch} differs from the one this gateway holds \
         (the ledger disagrees with a hand-over already verified)"
    )]
    Conflict { epoch: u64 },
    #[error("it has {served} hand-overs, fewer than the {held} this gateway holds")]
    Shorter { served: usize, held: usize },
    #[error("the genesis names no cosigner keys (a single validator from before cosigning), so no hand-over can verify")]
    NoCosignerKeys,
    #[error("verification did not finish: {0}")]
    Aborted(String),
}

/// The committees a [`Verifier`] believes: a verified chain and the consensus keys of each.
struct Held {
    /// `None` only for a genesis without cosigner keys, which can have no hand-over.
    chain: Option<CommitteeChain>,
    /// Each committee's epoch and consensus keys (hex), genesis first: what finalization
    /// certificates are checked with.
    consensus: Vec<(u64, Vec<String>)>,
    /// Each committee's epoch and receipt keys (COSE_Key, hex): what passports' EARs are
    /// checked with.
    receipt: Vec<(u64, Vec<String>)>,
    /// The chain file `chain` was verified from: an identical one is not verified again.
    file: Vec<u8>,
}

impl Held {
    fn new(chain: Option<CommitteeChain>, genesis: &Genesis, file: Vec<u8>) -> Self {
        let (consensus, receipt) = match &chain {
            Some(c) => (c.consensus_keys(), c.receipt_keys()),
            None => (
                vec![(0, genesis.validators.clone())],
                passport::genesis_receipt_keys(genesis),
            ),
        };
        Self {
            chain,
            consensus,
            receipt,
            file,
        }
    }

    fn committees(&self) -> &[Committee] {
        self.chain.as_ref().map_or(&[], CommitteeChain::committees)
    }
}

/// Verifies ledger artefacts with the genesis file and the hand-over chain it has adopted.
/// Clones share the chain: one adopted by any clone is used by all.
#[derive(Clone)]
pub struct Verifier {
    genesis_bytes: Arc<Vec<u8>>,
    genesis: Arc<Genesis>,
    namespace: Vec<u8>,
    held: Arc<RwLock<Arc<Held>>>,
}

impl Verifier {
    /// From the genesis file's bytes; the chain held is the genesis committee alone.
    pub fn new(genesis_bytes: Vec<u8>) -> Result<Self, SyncError> {
        let genesis =
            Genesis::from_bytes(&genesis_bytes).map_err(|e| SyncError::Genesis(e.to_string()))?;
        let chain = genesis_chain(&genesis)?;
        let held = Held::new(chain, &genesis, Vec::new());
        Ok(Self {
            namespace: Genesis::id(&genesis_bytes).to_vec(),
            genesis: Arc::new(genesis),
            genesis_bytes: Arc::new(genesis_bytes),
            held: Arc::new(RwLock::new(Arc::new(held))),
        })
    }

    fn held(&self) -> Arc<Held> {
        // A panic while holding the lock leaves a complete `Arc` behind; keep using it.
        self.held.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The epochs of the committees held, genesis (0) first.
    pub fn committee_epochs(&self) -> Vec<u64> {
        self.held().consensus.iter().map(|(e, _)| *e).collect()
    }

    /// Verifies a chain file (the `GET /validators/epochs` body) link by link from the genesis
    /// committee and adopts it if it extends the chain held. Returns whether the chain held
    /// changed. On any error the chain held is kept.
    pub fn adopt_chain(&self, file: &[u8]) -> Result<bool, ChainError> {
        let held = self.held();
        if held.file == file {
            return Ok(false);
        }
        // A node that is behind serves a prefix of the chain held: refused without verifying
        // its signatures again at every sync.
        if held.file.starts_with(file) {
            return Err(ChainError::Shorter {
                served: split_handover_chain(file)?.len(),
                held: held.committees().len().saturating_sub(1),
            });
        }
        let chain = self.verify_chain(file)?;
        let mut slot = self.held.write().unwrap_or_else(|e| e.into_inner());
        // Checked against what is held now, not when verification began: another clone may
        // have adopted a chain meanwhile.
        let grows = extends(slot.committees(), chain.committees())?;
        *slot = Arc::new(Held::new(Some(chain), &self.genesis, file.to_vec()));
        Ok(grows)
    }

    fn verify_chain(&self, file: &[u8]) -> Result<CommitteeChain, ChainError> {
        let notes = split_handover_chain(file)?;
        let genesis = genesis_committee(&self.genesis);
        if genesis.members.iter().any(|m| m.cosigner_vkey.is_empty()) {
            return Err(ChainError::NoCosignerKeys);
        }
        Ok(CommitteeChain::verify(
            &self.genesis.origin,
            genesis,
            &notes,
        )?)
    }

    /// A device from its passport, verified at `now_ms`.
    pub fn device(
        &self,
        id: &DeviceId,
        bytes: Vec<u8>,
        now_ms: u64,
    ) -> Result<KnownDevice, SyncError> {
        let refused = |detail: String| SyncError::Passport {
            device: hex::encode(id.as_bytes()),
            detail,
        };
        let passport = Passport::decode(&bytes).map_err(|e| refused(e.to_string()))?;
        let held = self.held();
        let facts = passport::verify_in_chain(
            &self.genesis_bytes,
            &held.consensus,
            &held.receipt,
            &passport,
            id.as_bytes(),
            now_ms,
        )
        .map_err(|e| refused(e.to_string()))?;
        let (proved_id, device) = KnownDevice::from_passport(&facts, Arc::new(bytes))
            .map_err(|e| refused(e.to_string()))?;
        if proved_id != *id {
            return Err(refused("passport of another device".into()));
        }
        Ok(device)
    }

    /// An owner's policy set in force, from a state proof of its `cedar` key.
    pub fn policies(&self, owner: &str, bundle: &[u8]) -> Result<ProvedPolicies, SyncError> {
        let refused = |detail: String| SyncError::Policies {
            owner: owner.to_owned(),
            detail,
        };
        let bundle = StateProofBundle::decode(bundle).map_err(|e| refused(e.to_string()))?;
        let verified =
            state_proof::verify_in_chain(&self.namespace, &self.held().consensus, &bundle)
                .map_err(|e| refused(e.to_string()))?;
        let view = ProvedView::new(&verified);
        let record = query::cedar_policy(&view, owner).map_err(|e| refused(e.to_string()))?;
        let set = match record {
            None => None,
            Some(r) => Some(Arc::new(
                OwnerPolicies::new(owner, r.version, &r.policies)
                    .map_err(|e| refused(format!("policy set v{}: {e}", r.version)))?,
            )),
        };
        Ok(ProvedPolicies {
            set,
            certified_ms: verified.certified_by.timestamp_ms,
        })
    }
}

/// The genesis committee as the first link of a chain; `None` when genesis names no cosigner
/// keys (a single validator from before cosigning), which no hand-over can follow.
fn genesis_chain(genesis: &Genesis) -> Result<Option<CommitteeChain>, SyncError> {
    let committee = genesis_committee(genesis);
    if committee.members.iter().any(|m| m.cosigner_vkey.is_empty()) {
        return Ok(None);
    }
    CommitteeChain::genesis(&genesis.origin, committee)
        .map(Some)
        .map_err(|e| SyncError::Genesis(e.to_string()))
}

/// The genesis validators' keys as the hand-over format names them (epoch 0).
fn genesis_committee(genesis: &Genesis) -> Committee {
    let members = genesis
        .validator_entries()
        .into_iter()
        .map(|k| CommitteeMember {
            validator: k.validator,
            receipt_key: k.receipt_key,
            checkpoint_vkey: k.checkpoint_vkey,
            cosigner_vkey: k.cosigner_vkey,
        })
        .collect();
    Committee { epoch: 0, members }
}

/// Whether `served` extends `held`: every committee held is in it at the same place, with the
/// same epoch and members. `Ok(true)` when it adds committees, `Ok(false)` when it is the same.
/// An empty `held` (a genesis without cosigner keys) is extended by nothing but itself, and
/// [`Verifier::verify_chain`] refuses any chain for it before this.
fn extends(held: &[Committee], served: &[Committee]) -> Result<bool, ChainError> {
    if let Some((h, s)) = held.iter().zip(served).find(|(h, s)| h != s) {
        return Err(ChainError::Conflict {
            epoch: h.epoch.min(s.epoch),
        });
    }
    if served.len() < held.len() {
        return Err(ChainError::Shorter {
            served: served.len().saturating_sub(1),
            held: held.len().saturating_sub(1),
        });
    }
    Ok(served.len() > held.len())
}

/// Fetches the ledger's hand-over chain and adopts it if it verifies and extends the one held
/// (verification runs off the async workers: a long chain holds many signatures). Returns
/// whether the chain held changed.
pub async fn follow_chain(ledger: &Ledger, verifier: &Verifier) -> Result<bool, ChainError> {
    let file = ledger.committee_chain().await.map_err(ChainError::Fetch)?;
    let verifier = verifier.clone();
    tokio::task::spawn_blocking(move || verifier.adopt_chain(&file))
        .await
        .map_err(|e| ChainError::Aborted(e.to_string()))?
}

/// The result of one refresh.
pub struct Refreshed {
    /// The new snapshot.
    pub snapshot: GatewaySnapshot,
    /// What could not be refreshed (kept from the previous snapshot, or dropped).
    pub errors: Vec<SyncError>,
}

/// Follows the hand-over chain, then refreshes `devices` (served devices and known senders) and
/// the policy sets of the owners of `served`, starting from `previous`. The chain comes first so
/// that artefacts certified by a committee that just took over verify in the same refresh.
pub async fn refresh(
    ledger: &Ledger,
    verifier: &Verifier,
    previous: &GatewaySnapshot,
    devices: &BTreeSet<DeviceId>,
    served: &BTreeSet<DeviceId>,
    now_ms: u64,
) -> Refreshed {
    let mut snapshot = previous.clone();
    let mut errors = Vec::new();
    if let Err(e) = follow_chain(ledger, verifier).await {
        errors.push(SyncError::Chain(e));
    }
    let fetched: Vec<_> = stream::iter(devices.iter().cloned())
        .map(|id| async move {
            let answer = ledger.passport(&id).await;
            (id, answer)
        })
        .buffer_unordered(SYNC_CONCURRENCY)
        .collect()
        .await;
    for (id, answer) in fetched {
        match answer {
            Ok(Some(bytes)) => match verifier.device(&id, bytes, now_ms) {
                Ok(device) => snapshot.insert_device(id, device),
                Err(e) => errors.push(e),
            },
            Ok(None) => snapshot.remove_device(&id),
            Err(source) => errors.push(SyncError::Fetch {
                device: hex::encode(id.as_bytes()),
                source,
            }),
        }
    }
    let owners: BTreeSet<String> = served
        .iter()
        .filter_map(|id| snapshot.known(id).map(|d| d.facts.owner.clone()))
        .collect();
    for owner in owners {
        let proof = ledger.state_proof(&[keys::cedar(&owner)]).await;
        match proof
            .map_err(|e| SyncError::Policies {
                owner: owner.clone(),
                detail: e.to_string(),
            })
            .and_then(|bundle| verifier.policies(&owner, &bundle))
        {
            Ok(policies) => snapshot.insert_policies(owner, policies),
            Err(e) => errors.push(e),
        }
    }
    Refreshed { snapshot, errors }
}
