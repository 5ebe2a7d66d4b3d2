//! Read-side questions about devices, answered from ledger state and a time: a device's status
//! with its reasons, fleets, and the devices an advisory affects. Deterministic: the caller
//! passes the ledger time (the latest block's timestamp), never the wall clock.
//!
//! Invariant: no query scans the fleet. Advisory exposure reads the firmware index
//! (`idx/fw/` ‖ digest) for each affected digest; fleet views read one index prefix, a page at
//! a time.

use proverka_trust::{appraise, Appraisal, DeviceFacts, Policy, PolicyOverride, Severity};

use crate::records::{
    self, device_hash, keys, AdvisoryRecord, DeviceRecord, Id, ModelFactsRecord, ReleaseRecord,
};
use crate::rules::{StateError, StateView};

/// Most entries a query reads per index page; callers page with `after`.
pub const MAX_QUERY_PAGE: usize = 1_000;

/// Rows of a prefix scan: (key, value) in key order.
pub type Rows = Vec<(Vec<u8>, Vec<u8>)>;
/// A history row: (block height, position in block) and the entry id.
pub type HistoryRow = ((u64, u32), Id);

/// State that can also be read by key prefix, in key order.
pub trait StateScan: StateView {
    /// Up to `limit` entries whose key starts with `prefix`, strictly after `after`.
    fn scan(&self, prefix: &[u8], after: Option<&[u8]>, limit: usize) -> Result<Rows, StateError>;
}

fn record<T: serde::de::DeserializeOwned>(
    view: &dyn StateView,
    key: &[u8],
) -> Result<Option<T>, StateError> {
    match view.get(key)? {
        None => Ok(None),
        Some(b) => records::decode(&b)
            .map(Some)
            .map_err(|e| StateError(format!("corrupt record: {e}"))),
    }
}

/// A device's record, by its id bytes.
pub fn device(view: &dyn StateView, device_id: &[u8]) -> Result<Option<DeviceRecord>, StateError> {
    record(view, &keys::device(&device_hash(device_id)))
}

/// The model's `facts/` manifest (empty if nothing was published about it).
pub fn model_facts(view: &dyn StateView, model: &Id) -> Result<ModelFactsRecord, StateError> {
    Ok(record(view, &keys::facts(model))?.unwrap_or_default())
}

/// All releases of a model, by point lookups of the manifest's entries.
pub fn releases(view: &dyn StateView, model: &Id) -> Result<Vec<ReleaseRecord>, StateError> {
    let mut out = Vec::new();
    for digest in model_facts(view, model)?.releases {
        match record(view, &keys::release(model, &digest.0))? {
            Some(r) => out.push(r),
            None => return Err(StateError("release listed in facts/ is missing".into())),
        }
    }
    Ok(out)
}

/// All advisories naming a model, with their state keys' ids.
pub fn advisories(
    view: &dyn StateView,
    model: &Id,
) -> Result<Vec<(Id, AdvisoryRecord)>, StateError> {
    let mut out = Vec::new();
    for adv in model_facts(view, model)?.advisories {
        match record::<AdvisoryRecord>(view, &keys::advisory(&adv.0))? {
            Some(r) => out.push((adv.0, r)),
            None => return Err(StateError("advisory listed in facts/ is missing".into())),
        }
    }
    Ok(out)
}

/// The firmware digests an advisory affects: those it names, plus the digests of its model's
/// releases whose version it names.
pub fn affected_digests(advisory: &AdvisoryRecord, releases: &[ReleaseRecord]) -> Vec<Id> {
    let mut out: Vec<Id> = advisory.digests.iter().map(|k| k.0).collect();
    for r in releases {
        if advisory.versions.contains(&r.version) && !out.contains(&r.digest) {
            out.push(r.digest);
        }
    }
    out.sort();
    out
}

fn severity(level: u8) -> Severity {
    Severity::ALL[usize::from(level.min(3))]
}

fn trust_release(r: &ReleaseRecord) -> proverka_trust::Release {
    proverka_trust::Release {
        digest: r.digest,
        version: r.version.clone(),
        svn: r.svn,
        supersedes: r.supersedes.map(|k| k.0),
        security: r.security.map(severity),
        published_ms: r.published_ms,
        revoked: r.revoked,
    }
}

fn trust_advisory(
    id: Id,
    a: &AdvisoryRecord,
    releases: &[ReleaseRecord],
) -> proverka_trust::Advisory {
    proverka_trust::Advisory {
        id,
        severity: severity(a.severity),
        exploited: a.exploited,
        affected: affected_digests(a, releases),
        fixed_in: a.fixed_in.map(|k| k.0),
        published_ms: a.published_ms,
        withdrawn: a.withdrawn,
    }
}

/// Everything an appraisal of the devices of one model needs, read once and shared.
pub struct ModelFacts {
    releases: Vec<proverka_trust::Release>,
    advisories: Vec<proverka_trust::Advisory>,
}

impl ModelFacts {
    /// Point lookups only (the `facts/` manifest), so any [`StateView`] serves.
    pub fn load(view: &dyn StateView, model: &Id) -> Result<Self, StateError> {
        let rels = releases(view, model)?;
        let advisories = advisories(view, model)?
            .into_iter()
            .map(|(id, a)| trust_advisory(id, &a, &rels))
            .collect();
        Ok(ModelFacts {
            releases: rels.iter().map(trust_release).collect(),
            advisories,
        })
    }
}

/// The policy an owner set (`policy` statements), tightening the safe defaults.
pub fn owner_policy(view: &dyn StateView, owner: &str) -> Result<Policy, StateError> {
    let Some(o) = record::<PolicyRecord>(view, &keys::policy(owner))? else {
        return Ok(Policy::default());
    };
    // Registered overrides were checked against the defaults when registered.
    Policy::default()
        .tightened(&o.to_override())
        .map_err(|e| StateError(format!("corrupt owner policy: {e}")))
}

/// An owner's tightening of the trust policy, as stored.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PolicyRecord {
    pub freshness_ms: Option<u64>,
    pub grace_ms: [Option<u64>; 4],
    pub debug_contraindicated: Option<bool>,
}

impl PolicyRecord {
    pub fn to_override(&self) -> PolicyOverride {
        PolicyOverride {
            freshness_ms: self.freshness_ms,
            grace_ms: self.grace_ms,
            debug_contraindicated: self.debug_contraindicated,
        }
    }
}

/// Appraises one device at `now_ms` with its model's facts and its owner's policy.
pub fn appraise_device(
    device: &DeviceRecord,
    facts: &ModelFacts,
    policy: &Policy,
    now_ms: u64,
) -> Appraisal {
    let evidence = device.evidence.as_ref().map(|e| proverka_trust::Evidence {
        iat_ms: e.iat_ms,
        registered_ms: e.registered_ms,
        fw_digest: e.fw,
        svn: e.svn,
        debug: proverka_trust::DebugState::from_eat(e.debug)
            .unwrap_or(proverka_trust::DebugState::Enabled),
    });
    appraise(
        &DeviceFacts {
            identity_revoked: device.identity_revoked_ms.is_some(),
            decommissioned: device.decommissioned_ms.is_some(),
            rollback: device.rollback,
            evidence: evidence.as_ref(),
            releases: &facts.releases,
            advisories: &facts.advisories,
        },
        policy,
        now_ms,
    )
}

/// A device's record and current appraisal, by id. Point lookups only, so the rules can ask it
/// of the state they see.
pub fn device_status(
    view: &dyn StateView,
    device_id: &[u8],
    now_ms: u64,
) -> Result<Option<(DeviceRecord, Appraisal)>, StateError> {
    let Some(d) = device(view, device_id)? else {
        return Ok(None);
    };
    let facts = ModelFacts::load(view, &d.model)?;
    let policy = owner_policy(view, &d.owner)?;
    let appraisal = appraise_device(&d, &facts, &policy, now_ms);
    Ok(Some((d, appraisal)))
}

/// Which index a fleet view reads.
#[derive(Clone, Debug)]
pub enum Fleet {
    Owner(String),
    Maker(String),
    Model(Id),
    Firmware(Id),
}

impl Fleet {
    fn prefix(&self) -> Vec<u8> {
        match self {
            Fleet::Owner(o) => keys::idx_owner_of(o),
            Fleet::Maker(m) => keys::idx_maker_of(m),
            Fleet::Model(m) => keys::idx_model_of(m),
            Fleet::Firmware(f) => keys::idx_fw_of(f),
        }
    }
}

/// One page of a fleet: device hashes after `after`, at most `limit` (≤ [`MAX_QUERY_PAGE`]).
pub fn fleet(
    view: &dyn StateScan,
    which: &Fleet,
    after: Option<&Id>,
    limit: usize,
) -> Result<Vec<Id>, StateError> {
    let prefix = which.prefix();
    let after_key = after.map(|a| [prefix.as_slice(), a].concat());
    let rows = view.scan(&prefix, after_key.as_deref(), limit.min(MAX_QUERY_PAGE))?;
    rows.into_iter()
        .map(|(k, _)| {
            k[prefix.len()..]
                .try_into()
                .map_err(|_| StateError("corrupt fleet index key".into()))
        })
        .collect()
}

/// A device by its hash (as listed by fleet and exposure queries).
pub fn device_by_hash(view: &dyn StateView, dev: &Id) -> Result<Option<DeviceRecord>, StateError> {
    record(view, &keys::device(dev))
}

/// The devices an advisory affects now (running an affected digest, not decommissioned), read
/// from the firmware index: cost proportional to the affected devices, not to the fleet.
pub fn advisory_exposure(
    view: &dyn StateScan,
    advisory: &AdvisoryRecord,
) -> Result<Vec<Id>, StateError> {
    if advisory.withdrawn {
        return Ok(Vec::new());
    }
    let rels = releases(view, &advisory.model)?;
    let mut out = Vec::new();
    for digest in affected_digests(advisory, &rels) {
        let mut after: Option<Id> = None;
        loop {
            let page = fleet(
                view,
                &Fleet::Firmware(digest),
                after.as_ref(),
                MAX_QUERY_PAGE,
            )?;
            let done = page.len() < MAX_QUERY_PAGE;
            after = page.last().copied();
            out.extend(page);
            if done {
                break;
            }
        }
    }
    Ok(out)
}

/// An advisory by issuer and id.
pub fn advisory(
    view: &dyn StateView,
    issuer: &str,
    id: &str,
) -> Result<Option<AdvisoryRecord>, StateError> {
    record(view, &keys::advisory(&records::advisory_key_id(issuer, id)))
}

/// The entry ids of every statement about a device, oldest first, with (height, position).
pub fn history(
    view: &dyn StateScan,
    device_id: &[u8],
    after: Option<(u64, u32)>,
    limit: usize,
) -> Result<Vec<HistoryRow>, StateError> {
    let dev = device_hash(device_id);
    let prefix = keys::history_of(&dev);
    let after_key = after.map(|(h, p)| keys::history(&dev, h, p));
    let rows = view.scan(&prefix, after_key.as_deref(), limit.min(MAX_QUERY_PAGE))?;
    rows.into_iter()
        .map(|(k, v)| {
            let rest = &k[prefix.len()..];
            if rest.len() != 12 {
                return Err(corrupt());
            }
            let height = u64::from_be_bytes(rest[..8].try_into().map_err(|_| corrupt())?);
            let pos = u32::from_be_bytes(rest[8..12].try_into().map_err(|_| corrupt())?);
            let id: Id = v.as_slice().try_into().map_err(|_| corrupt())?;
            Ok(((height, pos), id))
        })
        .collect()
}

fn corrupt() -> StateError {
    StateError("corrupt history entry".into())
}

/// The Cedar policy set in force for `owner`, if it registered one (`cedar-policy`).
pub fn cedar_policy(
    view: &dyn StateView,
    owner: &str,
) -> Result<Option<records::CedarPolicyRecord>, StateError> {
    record(view, &keys::cedar(owner))
}

/// Version `version` of `owner`'s Cedar policy set, in force or superseded: what a verdict
/// naming that version was judged by.
pub fn cedar_policy_version(
    view: &dyn StateView,
    owner: &str,
    version: u64,
) -> Result<Option<records::CedarPolicyRecord>, StateError> {
    record(view, &keys::cedar_version(owner, version))
}

/// A device's zone and tags (`labels` statements by its owner); none if it has no labels.
/// A point lookup, so a state proof covers it, absence included.
pub fn labels(
    view: &dyn StateView,
    device_id: &[u8],
) -> Result<crate::labels::LabelsRecord, StateError> {
    Ok(record(view, &keys::labels(&device_hash(device_id)))?.unwrap_or_default())
}

/// The Cedar facts of a device from ledger state at `now_ms`: its entity attributes (owner,
/// maker, model, zone and tags, firmware, SVN), its trust status and AR4SI trust vector. Point
/// lookups only: the keys it reads are what a device's state proof covers
/// (`GET /devices/{id}/state-proof`), so a gateway gets every one of these facts proved.
pub fn cedar_facts(
    view: &dyn StateScan,
    device_id: &[u8],
    now_ms: u64,
) -> Result<Option<CedarFacts>, StateError> {
    let Some((d, appraisal)) = device_status(view, device_id, now_ms)? else {
        return Ok(None);
    };
    let model_name = record::<records::ModelRecord>(view, &keys::model(&d.model))?
        .map(|m| m.name)
        .unwrap_or_default();
    let labels = labels(view, device_id)?;
    let v = &appraisal.vector;
    let status = match appraisal.status {
        proverka_trust::Status::Affirming => proverka_policy::TrustStatus::Affirming,
        proverka_trust::Status::Warning => proverka_policy::TrustStatus::Warning,
        proverka_trust::Status::Contraindicated => proverka_policy::TrustStatus::Contraindicated,
        proverka_trust::Status::None => proverka_policy::TrustStatus::None,
    };
    Ok(Some(CedarFacts {
        device: proverka_policy::DeviceFacts {
            id: hex::encode(&d.id),
            owner: d.owner.clone(),
            maker: d.maker.clone(),
            model: hex::encode(d.model),
            model_name,
            zone: labels.zone,
            tags: labels.tags.into_iter().collect(),
            firmware: hex::encode(d.fw),
            svn: d.highest_svn.unwrap_or(0),
        },
        status,
        vector: proverka_policy::TrustVector {
            instance_identity: v.instance_identity.get(),
            configuration: v.configuration.get(),
            executables: v.executables.get(),
            file_system: v.file_system.get(),
            hardware: v.hardware.get(),
            runtime_opaque: v.runtime_opaque.get(),
            storage_opaque: v.storage_opaque.get(),
            sourced_data: v.sourced_data.get(),
        },
    }))
}

/// A device's facts for Cedar (see [`cedar_facts`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CedarFacts {
    pub device: proverka_policy::DeviceFacts,
    pub status: proverka_policy::TrustStatus,
    pub vector: proverka_policy::TrustVector,
}

/// Largest page of [`interactions`].
pub const MAX_INTERACTION_PAGE: usize = 100;

/// Which side of a recorded command a device was on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum InteractionRole {
    Sender,
    Recipient,
}

impl InteractionRole {
    fn byte(self) -> u8 {
        match self {
            InteractionRole::Sender => 0,
            InteractionRole::Recipient => 1,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            InteractionRole::Sender => "sender",
            InteractionRole::Recipient => "recipient",
        }
    }
}

/// Where a page of [`interactions`] ends: the next page starts after it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct InteractionCursor {
    pub height: u64,
    pub pos: u32,
    pub role: InteractionRole,
}

/// One recorded command a device took part in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InteractionRow {
    pub cursor: InteractionCursor,
    pub record: records::InteractionRecord,
}

/// The commands recorded about a device (as sender or recipient), **oldest first** (ledger
/// order: height, position in block), at most `limit` (≤ [`MAX_INTERACTION_PAGE`]) after
/// `after`. Reads one index prefix of this device only, then one record per row.
pub fn interactions(
    view: &dyn StateScan,
    device_id: &[u8],
    after: Option<InteractionCursor>,
    limit: usize,
) -> Result<Vec<InteractionRow>, StateError> {
    let dev = device_hash(device_id);
    let prefix = keys::idx_interaction_of(&dev);
    let after_key = after.map(|c| keys::idx_interaction(&dev, c.height, c.pos, c.role.byte()));
    let rows = view.scan(
        &prefix,
        after_key.as_deref(),
        limit.min(MAX_INTERACTION_PAGE),
    )?;
    let corrupt = || StateError("corrupt interaction index entry".into());
    rows.into_iter()
        .map(|(k, v)| {
            let rest = k.get(prefix.len()..).ok_or_else(corrupt)?;
            if rest.len() != 13 {
                return Err(corrupt());
            }
            let height = u64::from_be_bytes(rest[..8].try_into().map_err(|_| corrupt())?);
            let pos = u32::from_be_bytes(rest[8..12].try_into().map_err(|_| corrupt())?);
            let role = match rest[12] {
                0 => InteractionRole::Sender,
                1 => InteractionRole::Recipient,
                _ => return Err(corrupt()),
            };
            let key = [keys::INTERACTION, v.as_slice()].concat();
            let record = record::<records::InteractionRecord>(view, &key)?.ok_or_else(corrupt)?;
            Ok(InteractionRow {
                cursor: InteractionCursor { height, pos, role },
                record,
            })
        })
        .collect()
}
