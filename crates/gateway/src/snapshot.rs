//! The gateway's snapshot: what it knows of the ledger, every item proved, and how old it is.
//!
//! Built only from artefacts the gateway verified with the genesis alone (trust passports and
//! state proofs, `crate::sync`), so the command verifier may believe it (the trust contract of
//! `proverka_command::Snapshot`). Its issue time is that of its **oldest** item: one device
//! whose passport cannot be refreshed ages the whole snapshot, and once it is older than its
//! bound every command is refused (fail closed) rather than judged on partly stale facts.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock};

use proverka_command::{DeviceId, SenderEntry, SenderRecord, Snapshot, TrustStatus, UnixSeconds};
use proverka_lightclient::passport::{command_sender, PassportError, PassportFacts};
use proverka_policy::{
    DeviceFacts, FactSource, JudgeError, OwnerPolicies, Request, RequestEntities, TrustVector,
    Verdict, VerdictKey,
};

/// One device as the snapshot knows it, from a verified trust passport.
#[derive(Clone, Debug)]
pub struct KnownDevice {
    /// What the command verifier needs: current key, revocation, status and its expiry.
    pub sender: SenderRecord,
    /// What Cedar policies see of it.
    pub facts: DeviceFacts,
    /// Its AR4SI trust vector.
    pub vector: TrustVector,
    /// The finalized block whose state the passport proves.
    pub certified_height: u64,
    /// That block's time (ms).
    pub certified_ms: u64,
    /// When the passport stops being acceptable (ms).
    pub expires_ms: u64,
    /// The passport itself (CBOR), republished to devices as a retained message.
    pub passport: Arc<Vec<u8>>,
}

impl KnownDevice {
    /// From a passport verified by `proverka_lightclient::passport::verify`.
    pub fn from_passport(
        facts: &PassportFacts,
        passport: Arc<Vec<u8>>,
    ) -> Result<(DeviceId, Self), PassportError> {
        let (id, sender) = command_sender(facts)?;
        Ok((
            id,
            KnownDevice {
                sender,
                facts: facts.cedar.device.clone(),
                vector: facts.cedar.vector,
                certified_height: facts.certified_height,
                certified_ms: facts.certified_ms,
                expires_ms: facts.expires_ms,
                passport,
            },
        ))
    }
}

/// An owner's Cedar policy set in force, as proved.
#[derive(Clone)]
pub struct ProvedPolicies {
    /// `None`: the ledger proves the owner has registered no set (every command to its devices
    /// is then denied by the Cedar hook).
    pub set: Option<Arc<OwnerPolicies>>,
    /// Time (ms) of the block certifying the proof.
    pub certified_ms: u64,
}

/// Most (sender, recipient) pairs whose Cedar entities a snapshot keeps; when full, the cache
/// is emptied and refilled (a snapshot lives one sync interval).
pub const MAX_CACHED_PAIRS: usize = 65_536;

/// Most Cedar verdicts a snapshot keeps; when full, the cache is emptied and refilled.
pub const MAX_CACHED_VERDICTS: usize = 65_536;

type Verdicts = HashMap<VerdictKey, Result<Verdict, JudgeError>>;

/// The gateway's view of the ledger (see the module docs).
pub struct GatewaySnapshot {
    devices: BTreeMap<DeviceId, KnownDevice>,
    policies: BTreeMap<String, ProvedPolicies>,
    max_age_secs: u64,
    required: TrustStatus,
    /// Cedar entities per (sender, recipient): built from the two devices' facts, which never
    /// change within one snapshot (a sync or a learned sender makes a new snapshot, with an
    /// empty cache).
    entities: Mutex<HashMap<(DeviceId, DeviceId), Arc<RequestEntities>>>,
    /// Cedar verdicts per [`VerdictKey`] (everything a verdict depends on besides the
    /// snapshot's policies and entities), for the same reason: emptied with the snapshot.
    verdicts: Mutex<Verdicts>,
    /// The oldest item's certifying time, computed once per change: it is read for every
    /// command (the freshness check) and would otherwise cost a pass over every device.
    oldest_ms: OnceLock<u64>,
}

impl Clone for GatewaySnapshot {
    /// A copy to change: its entity and verdict caches start empty.
    fn clone(&self) -> Self {
        Self {
            devices: self.devices.clone(),
            policies: self.policies.clone(),
            max_age_secs: self.max_age_secs,
            required: self.required,
            entities: Mutex::new(HashMap::new()),
            verdicts: Mutex::new(HashMap::new()),
            oldest_ms: OnceLock::new(),
        }
    }
}

impl GatewaySnapshot {
    /// An empty snapshot. It is stale from the start (issued at the epoch): a gateway that has
    /// not synced yet refuses every command.
    pub fn new(max_age_secs: u64, required: TrustStatus) -> Self {
        Self {
            devices: BTreeMap::new(),
            policies: BTreeMap::new(),
            max_age_secs,
            required,
            entities: Mutex::new(HashMap::new()),
            verdicts: Mutex::new(HashMap::new()),
            oldest_ms: OnceLock::new(),
        }
    }

    /// Adds or replaces a device.
    pub fn insert_device(&mut self, id: DeviceId, device: KnownDevice) {
        self.changed();
        self.devices.insert(id, device);
    }

    /// Forgets a device (the ledger no longer knows it).
    pub fn remove_device(&mut self, id: &DeviceId) {
        self.changed();
        self.devices.remove(id);
    }

    /// Adds or replaces an owner's policy set.
    pub fn insert_policies(&mut self, owner: String, policies: ProvedPolicies) {
        self.changed();
        self.policies.insert(owner, policies);
    }

    /// Forgets everything derived from the facts: the oldest time, the Cedar entities and the
    /// verdicts. Every change goes through here, so no cached item outlives what it was
    /// computed from.
    fn changed(&mut self) {
        self.oldest_ms = OnceLock::new();
        self.entities
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        self.verdicts
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// A known device.
    pub fn known(&self, id: &DeviceId) -> Option<&KnownDevice> {
        self.devices.get(id)
    }

    /// Every known device.
    pub fn devices(&self) -> impl Iterator<Item = (&DeviceId, &KnownDevice)> {
        self.devices.iter()
    }

    /// Number of known devices.
    pub fn len(&self) -> usize {
        self.devices.len()
    }

    /// True when no device is known.
    pub fn is_empty(&self) -> bool {
        self.devices.is_empty()
    }

    /// The policy set in force for `owner`, as proved, if the snapshot holds a proof for it.
    pub fn proved_policies(&self, owner: &str) -> Option<&ProvedPolicies> {
        self.policies.get(owner)
    }

    /// Time (ms) of the oldest certified item; 0 when empty.
    pub fn certified_ms(&self) -> u64 {
        *self.oldest_ms.get_or_init(|| {
            let devices = self.devices.values().map(|d| d.certified_ms);
            let policies = self.policies.values().map(|p| p.certified_ms);
            devices.chain(policies).min().unwrap_or(0)
        })
    }

    /// Lowest certified height among the devices; 0 when empty.
    pub fn certified_height(&self) -> u64 {
        self.devices
            .values()
            .map(|d| d.certified_height)
            .min()
            .unwrap_or(0)
    }
}

impl Snapshot for GatewaySnapshot {
    fn issued_at(&self) -> UnixSeconds {
        UnixSeconds(self.certified_ms() / 1000)
    }

    fn max_age_secs(&self) -> u64 {
        self.max_age_secs
    }

    fn sender(&self, device: &DeviceId) -> Option<SenderEntry<'_>> {
        self.devices.get(device).map(|d| SenderEntry {
            key: &d.sender.key,
            revoked: d.sender.revoked,
            status: d.sender.status,
            status_expires_at: d.sender.status_expires_at,
        })
    }

    fn required_status(&self, _recipient: &DeviceId) -> TrustStatus {
        self.required
    }
}

impl FactSource for GatewaySnapshot {
    fn device(&self, id: &DeviceId) -> Option<&DeviceFacts> {
        self.devices.get(id).map(|d| &d.facts)
    }

    fn trust_vector(&self, id: &DeviceId) -> TrustVector {
        self.devices.get(id).map(|d| d.vector).unwrap_or_default()
    }

    fn policies(&self, owner: &str) -> Option<&OwnerPolicies> {
        self.policies.get(owner)?.set.as_deref()
    }

    fn entities(
        &self,
        sender: &DeviceId,
        recipient: &DeviceId,
        build: &dyn Fn() -> Result<RequestEntities, JudgeError>,
    ) -> Option<Result<Arc<RequestEntities>, JudgeError>> {
        let key = (sender.clone(), recipient.clone());
        // A poisoned lock only means a panic elsewhere mid-insert: the map is still valid.
        let mut cache = self.entities.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(hit) = cache.get(&key) {
            return Some(Ok(hit.clone()));
        }
        let built = match build() {
            Ok(e) => Arc::new(e),
            Err(e) => return Some(Err(e)),
        };
        if cache.len() >= MAX_CACHED_PAIRS {
            cache.clear();
        }
        cache.insert(key, built.clone());
        Some(Ok(built))
    }

    fn verdict(
        &self,
        sender: &DeviceId,
        recipient: &DeviceId,
        request: &Request<'_>,
        judge: &dyn Fn() -> Result<Verdict, JudgeError>,
    ) -> Option<Result<Verdict, JudgeError>> {
        let key = VerdictKey::new(sender, recipient, request);
        // As for entities: a poisoned lock still holds a valid map. The lock is not held while
        // Cedar runs (a miss judges outside it).
        let hit = self
            .verdicts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
            .cloned();
        if let Some(hit) = hit {
            return Some(hit);
        }
        let verdict = judge();
        let mut cache = self.verdicts.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= MAX_CACHED_VERDICTS {
            cache.clear();
        }
        cache.insert(key, verdict.clone());
        Some(verdict)
    }
}
