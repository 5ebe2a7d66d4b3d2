//! The device-trust records the rules keep in ledger state, and the keys they live under.
//!
//! Records are CBOR maps written by this code only (serde field order is fixed, so every node
//! writes the same bytes); statement payloads, which come from outside, are read by
//! [`crate::payload`] instead. Layout: `docs/registration.md` ("Ledger state").

use serde::{Deserialize, Serialize};

use crate::genesis::ValidatorKeys;
use sha2::{Digest, Sha256};

/// A 32-byte id: SHA-256 digest, entry id, key thumbprint or hashed name.
pub type Id = [u8; 32];

/// What an organisation may do on the ledger.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Registers its models, issues birth certificates, publishes releases and advisories.
    Manufacturer,
    /// Owns and operates devices; runs gateways.
    Operator,
    /// Publishes advisories about any maker's products.
    SecurityAuthority,
    /// Reads and checks; signs nothing the rules act on.
    Auditor,
    /// Votes on who joins.
    Governance,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Manufacturer,
        Role::Operator,
        Role::SecurityAuthority,
        Role::Auditor,
        Role::Governance,
    ];

    /// The role's name as written in payloads and genesis.
    pub fn name(self) -> &'static str {
        match self {
            Role::Manufacturer => "manufacturer",
            Role::Operator => "operator",
            Role::SecurityAuthority => "security-authority",
            Role::Auditor => "auditor",
            Role::Governance => "governance",
        }
    }

    pub fn from_name(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.name() == name)
    }
}

/// An organisation: an `iss` namespace with roles and its active keys.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgRecord {
    pub iss: String,
    pub name: String,
    pub roles: Vec<Role>,
    /// Thumbprints of the active keys, oldest first.
    pub keys: Vec<Kid>,
    pub joined_ms: u64,
}

impl OrgRecord {
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }
}

/// A key thumbprint, serialized as a CBOR byte string.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Kid(#[serde(with = "serde_bytes")] pub Id);

/// Most releases one model may have (the `facts/` manifest lists them all).
pub const MAX_RELEASES_PER_MODEL: usize = 1024;
/// Most advisories (distinct issuer and id) naming one model.
pub const MAX_ADVISORIES_PER_MODEL: usize = 1024;

/// The keys of everything published about one model (`facts/` ‖ model id): its release digests
/// and the ids of the advisories naming it, each sorted. A status reads the model's facts
/// through this record with point lookups only, so a state proof of it (with the records it
/// lists) also proves that the model has no other release or advisory.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelFactsRecord {
    pub releases: Vec<Kid>,
    pub advisories: Vec<Kid>,
}

impl ModelFactsRecord {
    /// Adds `id` to a sorted list unless present; false if the list is already at `max`.
    pub fn insert(list: &mut Vec<Kid>, id: Id, max: usize) -> bool {
        match list.binary_search(&Kid(id)) {
            Ok(_) => true,
            Err(_) if list.len() >= max => false,
            Err(at) => {
                list.insert(at, Kid(id));
                true
            }
        }
    }
}

/// One version of an owner's Cedar policy set (`cedar/` holds the one in force, `cedar-v/`
/// every version). The texts are kept exactly as registered (admitted: parsed and strictly
/// validated against `proverka_policy::SCHEMA`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CedarPolicyRecord {
    pub owner: String,
    /// 1 for the first set, then previous + 1.
    pub version: u64,
    /// Entry id of the statement that registered it.
    #[serde(with = "serde_bytes")]
    pub entry: Id,
    /// Block height and time from which it is in force.
    pub height: u64,
    pub time_ms: u64,
    /// (policy id, Cedar text), in registration order.
    pub policies: Vec<(String, String)>,
}

/// A command argument as recorded (the command crate's `ParamValue`, which has no serde).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ParamRecord {
    Int(i64),
    Text(String),
    Bool(bool),
}

/// The Cedar policy set version a gateway says judged a command.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyRef {
    pub owner: String,
    pub version: u64,
    /// Ids of the policies that decided, as the gateway reported them.
    pub satisfied: Vec<String>,
}

/// A recorded device-to-device command (`interaction` statement, `ixn/` key): what the sender
/// signed, what the gateway decided and on which certified state, and what the ledger itself
/// knew of the sender when it registered the record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InteractionRecord {
    /// Entry id of the `interaction` statement (its receipt is at `/entries/{id}`).
    #[serde(with = "serde_bytes")]
    pub entry: Id,
    pub height: u64,
    pub pos: u32,
    /// Block time of registration, ms.
    pub registered_ms: u64,
    /// The organisation that recorded it: the recipient's owner at registration.
    pub recorded_by: String,
    // The command, as signed by the sender (its signature verified at registration).
    #[serde(with = "serde_bytes")]
    pub sender: Vec<u8>,
    #[serde(with = "serde_bytes")]
    pub recipient: Vec<u8>,
    pub action: String,
    pub params: Vec<(String, ParamRecord)>,
    pub seq: u64,
    /// Command issue and expiry times, Unix seconds.
    pub iat: u64,
    pub exp: u64,
    // The gateway's judgement, as it reported it.
    pub allowed: bool,
    pub reasons: Vec<String>,
    /// Gateway clock when it judged, Unix seconds.
    pub observed: u64,
    /// The certified ledger state it judged against.
    pub snapshot_height: u64,
    pub snapshot_certified_ms: u64,
    /// The sender status the gateway used (affirming / warning / contraindicated / none).
    pub gateway_status: String,
    pub policy: Option<PolicyRef>,
    // The ledger's own view of the sender at the registering block's time.
    pub ledger_status: String,
    /// Reason codes of that status (`proverka_trust` reason codes).
    pub ledger_reasons: Vec<String>,
}

/// A join request waiting for governance votes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProposalRecord {
    pub iss: String,
    pub name: String,
    pub roles: Vec<Role>,
    #[serde(with = "serde_bytes")]
    pub key: Vec<u8>,
    pub created_ms: u64,
    /// `iss` of the governance members that approved / rejected, in vote order.
    pub approvals: Vec<String>,
    pub rejections: Vec<String>,
}

/// A change to governance itself, decided by the same threshold of votes as a join.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GovAction {
    /// Revoke one active key of another organisation (not its last: remove the organisation).
    RemoveKey { iss: String, kid: Kid },
    /// Remove an organisation: every active key revoked, no roles left, its name kept.
    RemoveOrg { iss: String },
    /// Amend the vote threshold (1..=number of governance members).
    Threshold { threshold: u64 },
    /// Add a validator to the committee from the next epoch boundary (`validators.rs`).
    AddValidator { keys: ValidatorKeys },
    /// Remove a validator (by consensus key, hex) from the next epoch boundary.
    RemoveValidator { validator: String },
    /// Replace a validator's keys (`replaces`: its consensus key, hex) from the next boundary.
    RotateValidator {
        replaces: String,
        keys: ValidatorKeys,
    },
}

impl GovAction {
    /// What the change is about: at most one open proposal per subject.
    pub fn subject(&self) -> Id {
        match self {
            GovAction::RemoveKey { iss, kid } => {
                hash_parts(&[b"remove-key", iss.as_bytes(), &kid.0])
            }
            GovAction::RemoveOrg { iss } => hash_parts(&[b"remove-org", iss.as_bytes()]),
            GovAction::Threshold { .. } => hash_parts(&[b"threshold"]),
            // One open change per validator: adding, removing or rotating the same key.
            GovAction::AddValidator { keys } => validator_subject(&keys.validator),
            GovAction::RemoveValidator { validator } => validator_subject(validator),
            GovAction::RotateValidator { replaces, .. } => validator_subject(replaces),
        }
    }
}

fn validator_subject(validator: &str) -> Id {
    hash_parts(&[b"validator", validator.to_ascii_lowercase().as_bytes()])
}

/// An open governance proposal (`propose`) with its votes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GovProposalRecord {
    pub action: GovAction,
    /// The governance member that proposed it.
    pub proposer: String,
    pub created_ms: u64,
    /// `iss` of the governance members that approved / rejected, in vote order.
    pub approvals: Vec<String>,
    pub rejections: Vec<String>,
}

/// The constitution in force: the vote threshold and who votes. Written at the first change;
/// until then it is the genesis's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConstitutionRecord {
    pub threshold: u64,
    /// `iss` of the governance members, sorted.
    pub members: Vec<String>,
}

/// A device model registered by its maker.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelRecord {
    pub maker: String,
    pub name: String,
    /// DER X.509 roots that IDevID chains of this model must chain to.
    pub roots: Vec<serde_bytes::ByteBuf>,
    pub registered_ms: u64,
}

/// The latest appraised evidence of a device.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceRecord {
    #[serde(with = "serde_bytes")]
    pub entry: Id,
    pub iat_ms: u64,
    pub registered_ms: u64,
    #[serde(with = "serde_bytes")]
    pub fw: Id,
    pub svn: u64,
    pub debug: u8,
    #[serde(with = "serde_bytes")]
    pub nonce: Vec<u8>,
}

/// A device as the ledger knows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceRecord {
    #[serde(with = "serde_bytes")]
    pub id: Vec<u8>,
    /// The device's current COSE_Key.
    #[serde(with = "serde_bytes")]
    pub key: Vec<u8>,
    #[serde(with = "serde_bytes")]
    pub model: Id,
    pub maker: String,
    pub owner: String,
    pub serial: String,
    pub hw_version: String,
    #[serde(with = "serde_bytes")]
    pub factory_fw: Id,
    pub born_ms: u64,
    /// The firmware the ledger last knew it to run (factory firmware until evidence says).
    #[serde(with = "serde_bytes")]
    pub fw: Id,
    pub fw_since_ms: u64,
    pub highest_svn: Option<u64>,
    /// (reported, highest before): set once a lower SVN is reported; never cleared.
    pub rollback: Option<(u64, u64)>,
    pub evidence: Option<EvidenceRecord>,
    pub decommissioned_ms: Option<u64>,
    /// Subject serialNumber of its verified IDevID certificate, if the birth carried one.
    pub idevid_serial: Option<String>,
    /// When its maker revoked its identity (cloned or extracted key, bad provisioning).
    #[serde(default)]
    pub identity_revoked_ms: Option<u64>,
}

/// A firmware release of a model.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseRecord {
    #[serde(with = "serde_bytes")]
    pub model: Id,
    pub version: String,
    #[serde(with = "serde_bytes")]
    pub digest: Id,
    pub svn: u64,
    pub supersedes: Option<Kid>,
    /// Severity (0 low … 3 critical) of the issues a security release fixes.
    pub security: Option<u8>,
    pub published_ms: u64,
    pub revoked: bool,
}

/// A vulnerability advisory about one model.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdvisoryRecord {
    pub issuer: String,
    pub id: String,
    #[serde(with = "serde_bytes")]
    pub model: Id,
    pub versions: Vec<String>,
    pub digests: Vec<Kid>,
    /// CVSS base score in tenths (0..=100), if given.
    pub cvss: Option<u8>,
    /// 0 low … 3 critical.
    pub severity: u8,
    pub exploited: bool,
    pub fixed_in: Option<Kid>,
    pub refs: Vec<String>,
    pub published_ms: u64,
    pub updated_ms: u64,
    pub revision: u32,
    pub withdrawn: bool,
}

/// What a pending two-party action waits for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PendingKind {
    /// Ownership transfer offered by `from` to `to`; `to` accepts.
    Transfer { from: String, to: String },
    /// Key rotation requested by the device; its owner approves.
    Rekey {
        #[serde(with = "serde_bytes")]
        key: Vec<u8>,
    },
}

/// A pending two-party action, keyed by the entry id of the statement that opened it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingRecord {
    #[serde(with = "serde_bytes")]
    pub device: Id,
    pub kind: PendingKind,
    pub created_ms: u64,
}

/// SHA-256 of its arguments joined by a 0 byte: fixed-width ids for variable names.
pub fn hash_parts(parts: &[&[u8]]) -> Id {
    let mut h = Sha256::new();
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            h.update([0u8]);
        }
        h.update(p);
    }
    h.finalize().into()
}

/// The device key of a device id: SHA-256 of the id bytes.
pub fn device_hash(device_id: &[u8]) -> Id {
    Sha256::digest(device_id).into()
}

/// Model id: SHA-256(maker ‖ 0 ‖ model name).
pub fn model_id(maker: &str, name: &str) -> Id {
    hash_parts(&[maker.as_bytes(), name.as_bytes()])
}

/// Advisory key: SHA-256(issuer ‖ 0 ‖ advisory id).
pub fn advisory_key_id(issuer: &str, id: &str) -> Id {
    hash_parts(&[issuer.as_bytes(), id.as_bytes()])
}

/// State keys. Fixed-width components, so prefixes never collide.
pub mod keys {
    use super::{hash_parts, Id};

    fn key(prefix: &[u8], parts: &[&[u8]]) -> Vec<u8> {
        let mut k = prefix.to_vec();
        for p in parts {
            k.extend_from_slice(p);
        }
        k
    }

    pub const REVOKED: &[u8] = b"revoked/";
    pub const ORG: &[u8] = b"org/";
    pub const PROPOSAL: &[u8] = b"proposal/";
    pub const MODEL: &[u8] = b"model/";
    pub const DEVICE: &[u8] = b"device/";
    pub const DEVICE_KEY: &[u8] = b"devkey/";
    pub const RELEASE: &[u8] = b"release/";
    pub const ADVISORY: &[u8] = b"advisory/";
    pub const PENDING: &[u8] = b"pending/";
    pub const HISTORY: &[u8] = b"hist/";
    pub const POLICY: &[u8] = b"policy/";
    pub const IDX_OWNER: &[u8] = b"idx/owner/";
    pub const IDX_MAKER: &[u8] = b"idx/maker/";
    pub const IDX_MODEL: &[u8] = b"idx/model/";
    pub const IDX_FW: &[u8] = b"idx/fw/";
    pub const FACTS: &[u8] = b"facts/";
    pub const CEDAR: &[u8] = b"cedar/";
    pub const CEDAR_VERSION: &[u8] = b"cedar-v/";
    pub const INTERACTION: &[u8] = b"ixn/";
    pub const IDX_INTERACTION: &[u8] = b"idx/ixn/";
    pub const GOV_PROPOSAL: &[u8] = b"gov-proposal/";
    pub const GOV_OPEN: &[u8] = b"gov-open/";
    pub const CONSTITUTION: &[u8] = b"gov/constitution";

    /// `gov-proposal/` ‖ entry id → an open governance proposal.
    pub fn gov_proposal(entry: &Id) -> Vec<u8> {
        key(GOV_PROPOSAL, &[entry])
    }
    /// `gov-open/` ‖ subject → entry id of the open proposal about that subject.
    pub fn gov_open(subject: &Id) -> Vec<u8> {
        key(GOV_OPEN, &[subject])
    }
    pub const LABELS: &[u8] = b"labels/";

    pub fn revoked(kid: &Id) -> Vec<u8> {
        key(REVOKED, &[kid])
    }
    pub fn org(iss: &str) -> Vec<u8> {
        key(ORG, &[&hash_parts(&[iss.as_bytes()])])
    }
    pub fn proposal(entry: &Id) -> Vec<u8> {
        key(PROPOSAL, &[entry])
    }
    pub fn model(model: &Id) -> Vec<u8> {
        key(MODEL, &[model])
    }
    pub fn device(dev: &Id) -> Vec<u8> {
        key(DEVICE, &[dev])
    }
    pub fn device_key(kid: &Id) -> Vec<u8> {
        key(DEVICE_KEY, &[kid])
    }
    pub fn release(model: &Id, digest: &Id) -> Vec<u8> {
        key(RELEASE, &[model, digest])
    }
    pub fn releases_of(model: &Id) -> Vec<u8> {
        key(RELEASE, &[model])
    }
    pub fn advisory(adv: &Id) -> Vec<u8> {
        key(ADVISORY, &[adv])
    }
    pub fn policy(owner: &str) -> Vec<u8> {
        key(POLICY, &[&hash_parts(&[owner.as_bytes()])])
    }
    pub fn pending(entry: &Id) -> Vec<u8> {
        key(PENDING, &[entry])
    }
    /// `hist/` ‖ device ‖ height (u64 BE) ‖ position in block (u32 BE) → entry id.
    pub fn history(dev: &Id, height: u64, pos: u32) -> Vec<u8> {
        key(HISTORY, &[dev, &height.to_be_bytes(), &pos.to_be_bytes()])
    }
    pub fn history_of(dev: &Id) -> Vec<u8> {
        key(HISTORY, &[dev])
    }
    pub fn idx_owner(owner: &str, dev: &Id) -> Vec<u8> {
        key(IDX_OWNER, &[&hash_parts(&[owner.as_bytes()]), dev])
    }
    pub fn idx_owner_of(owner: &str) -> Vec<u8> {
        key(IDX_OWNER, &[&hash_parts(&[owner.as_bytes()])])
    }
    pub fn idx_maker(maker: &str, dev: &Id) -> Vec<u8> {
        key(IDX_MAKER, &[&hash_parts(&[maker.as_bytes()]), dev])
    }
    pub fn idx_maker_of(maker: &str) -> Vec<u8> {
        key(IDX_MAKER, &[&hash_parts(&[maker.as_bytes()])])
    }
    pub fn idx_model(model: &Id, dev: &Id) -> Vec<u8> {
        key(IDX_MODEL, &[model, dev])
    }
    pub fn idx_model_of(model: &Id) -> Vec<u8> {
        key(IDX_MODEL, &[model])
    }
    pub fn idx_fw(fw: &Id, dev: &Id) -> Vec<u8> {
        key(IDX_FW, &[fw, dev])
    }
    pub fn idx_fw_of(fw: &Id) -> Vec<u8> {
        key(IDX_FW, &[fw])
    }
    pub fn facts(model: &Id) -> Vec<u8> {
        key(FACTS, &[model])
    }
    /// `cedar/` ‖ SHA-256(owner): the owner's Cedar policy set in force.
    pub fn cedar(owner: &str) -> Vec<u8> {
        key(CEDAR, &[&hash_parts(&[owner.as_bytes()])])
    }
    /// `cedar-v/` ‖ SHA-256(owner) ‖ version (u64 BE): every version ever in force.
    pub fn cedar_version(owner: &str, version: u64) -> Vec<u8> {
        key(
            CEDAR_VERSION,
            &[&hash_parts(&[owner.as_bytes()]), &version.to_be_bytes()],
        )
    }
    /// `ixn/` ‖ SHA-256(sender id) ‖ SHA-256(recipient id) ‖ seq (u64 BE): one recorded
    /// command. A second record of the same (sender, recipient, seq) is refused as a duplicate.
    pub fn interaction(sender: &Id, recipient: &Id, seq: u64) -> Vec<u8> {
        key(INTERACTION, &[sender, recipient, &seq.to_be_bytes()])
    }
    /// `idx/ixn/` ‖ SHA-256(device id) ‖ height (u64 BE) ‖ position (u32 BE) ‖ role (0 sender,
    /// 1 recipient) → the `ixn/` key's suffix: a device's interactions in ledger order. The role
    /// byte keeps the two rows of a device commanding itself apart.
    pub fn idx_interaction(dev: &Id, height: u64, pos: u32, role: u8) -> Vec<u8> {
        key(
            IDX_INTERACTION,
            &[dev, &height.to_be_bytes(), &pos.to_be_bytes(), &[role]],
        )
    }
    pub fn idx_interaction_of(dev: &Id) -> Vec<u8> {
        key(IDX_INTERACTION, &[dev])
    }
    /// `labels/` ‖ SHA-256(device id): the zone and tags its owner gave it
    /// (`labels::LabelsRecord`); absent when it has none.
    pub fn labels(dev: &Id) -> Vec<u8> {
        key(LABELS, &[dev])
    }
}

/// Encodes a record. Writing CBOR into a `Vec` cannot fail for these types.
pub fn encode<T: Serialize>(record: &T) -> Vec<u8> {
    let mut out = Vec::new();
    let _ = ciborium::into_writer(record, &mut out);
    out
}

/// Decodes a record this code wrote; failure means the store is corrupt.
pub fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    ciborium::from_reader(bytes).map_err(|e| e.to_string())
}
