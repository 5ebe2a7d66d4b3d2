//! Syncing the snapshot: fetch passports and policy proofs, verify each with the genesis alone,
//! and replace what changed.
//!
//! A refresh starts from the previous snapshot. A device whose passport verifies is replaced; a
//! device the ledger no longer knows is dropped (commands from it are then refused as from an
//! unknown sender); a device whose passport cannot be fetched or does not verify keeps its old
//! entry, which ages the whole snapshot until it is refreshed or the snapshot goes stale
//! (`crate::snapshot`). Policy sets are refreshed for the owners of the devices the gateway
//! serves.

use std::collections::BTreeSet;
use std::sync::Arc;

use futures::stream::{self, StreamExt};
use proverka_command::DeviceId;
use proverka_ledger::records::keys;
use proverka_ledger::{query, Genesis};
use proverka_lightclient::passport::{self, Passport};
use proverka_lightclient::state_proof::{self, ProvedView, StateProofBundle};
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
}

/// Verifies ledger artefacts with the genesis file alone.
#[derive(Clone)]
pub struct Verifier {
    genesis_bytes: Arc<Vec<u8>>,
    namespace: Vec<u8>,
    committee: Vec<String>,
}

impl Verifier {
    /// From the genesis file's bytes.
    pub fn new(genesis_bytes: Vec<u8>) -> Result<Self, SyncError> {
        let genesis =
            Genesis::from_bytes(&genesis_bytes).map_err(|e| SyncError::Genesis(e.to_string()))?;
        Ok(Self {
            namespace: Genesis::id(&genesis_bytes).to_vec(),
            committee: genesis.validators,
            genesis_bytes: Arc::new(genesis_bytes),
        })
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
        let facts = passport::verify(&self.genesis_bytes, &passport, id.as_bytes(), now_ms)
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
        let verified = state_proof::verify(&self.namespace, &self.committee, &bundle)
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

/// The result of one refresh.
pub struct Refreshed {
    /// The new snapshot.
    pub snapshot: GatewaySnapshot,
    /// What could not be refreshed (kept from the previous snapshot, or dropped).
    pub errors: Vec<SyncError>,
}

/// Refreshes `devices` (served devices and known senders) and the policy sets of the owners of
/// `served`, starting from `previous`.
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
