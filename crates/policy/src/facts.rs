//! Request facts and the Cedar entities and context built from them.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use cedar_policy::{Context, Entities, Entity, EntityUid, RestrictedExpression};
use proverka_command::{ParamValue, Params, TrustStatus};

use crate::engine::{engine, Engine};
use crate::JudgeError;

/// A command action in the policy vocabulary: the closed set of Cedar actions of the schema.
/// A command envelope's action string maps to one by name ([`Action::from_name`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Action {
    /// Operate the device (switch, dim, open, move).
    Actuate = 0,
    /// Read a value or state.
    Read = 1,
    /// Change a setting.
    Configure = 2,
    /// Restart.
    Reboot = 3,
    /// Install firmware.
    FirmwareUpdate = 4,
}

impl Action {
    /// Every action, in schema order.
    pub const ALL: [Action; 5] = [
        Action::Actuate,
        Action::Read,
        Action::Configure,
        Action::Reboot,
        Action::FirmwareUpdate,
    ];

    /// The action's name: the command envelope's action string and the Cedar action id.
    pub fn name(self) -> &'static str {
        match self {
            Action::Actuate => "actuate",
            Action::Read => "read",
            Action::Configure => "configure",
            Action::Reboot => "reboot",
            Action::FirmwareUpdate => "firmware_update",
        }
    }

    /// The action a command envelope's action string names, if it is in the vocabulary.
    pub fn from_name(name: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.name() == name)
    }
}

/// What the ledger says about one device (slow-changing facts: entity attributes).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeviceFacts {
    /// Device id bytes in lowercase hex (the `iss` of its statements).
    pub id: String,
    /// Owner organisation (`iss`).
    pub owner: String,
    /// Manufacturer organisation (`iss`).
    pub maker: String,
    /// Model id (SHA-256(maker ‖ 0x00 ‖ name)) in lowercase hex.
    pub model: String,
    /// Model name.
    pub model_name: String,
    /// Zone the owner placed it in, if any.
    pub zone: Option<String>,
    /// Owner-given tags.
    pub tags: BTreeSet<String>,
    /// Running firmware digest, lowercase hex.
    pub firmware: String,
    /// Highest reported security version number (0 before any evidence).
    pub svn: u64,
}

/// The AR4SI trust vector of an attestation result: each claim's value, 0 = no claim.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct TrustVector {
    pub instance_identity: i8,
    pub configuration: i8,
    pub executables: i8,
    pub file_system: i8,
    pub hardware: i8,
    pub runtime_opaque: i8,
    pub storage_opaque: i8,
    pub sourced_data: i8,
}

impl TrustVector {
    fn claims(&self) -> [(&'static str, i8); 8] {
        [
            ("instance_identity", self.instance_identity),
            ("configuration", self.configuration),
            ("executables", self.executables),
            ("file_system", self.file_system),
            ("hardware", self.hardware),
            ("runtime_opaque", self.runtime_opaque),
            ("storage_opaque", self.storage_opaque),
            ("sourced_data", self.sourced_data),
        ]
    }
}

/// One command to judge: who asks whom to do what, with the sender's volatile trust facts and
/// the verifier's time.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    pub sender: &'a DeviceFacts,
    pub recipient: &'a DeviceFacts,
    pub action: Action,
    /// Verifier (or ledger) time, Unix seconds.
    pub now: u64,
    pub sender_status: TrustStatus,
    pub sender_tv: TrustVector,
    pub params: &'a Params,
}

/// The params policies may read, and their types (the schema's `Params` record).
const DECLARED_PARAMS: [(&str, ParamKind); 3] = [
    ("level", ParamKind::Long),
    ("duration", ParamKind::Long),
    ("target", ParamKind::Text),
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum ParamKind {
    Long,
    Text,
}

/// The Cedar entities of one request: both devices and their models. Built from facts alone
/// (no schema check: the facts come from the ledger and the types are fixed by this code).
/// Reusable for every request between the same two devices while their facts are unchanged.
pub struct RequestEntities {
    pub(crate) entities: Entities,
}

impl RequestEntities {
    /// Builds the entities of a command from `sender` to `recipient`.
    pub fn new(sender: &DeviceFacts, recipient: &DeviceFacts) -> Result<Self, JudgeError> {
        let e = engine().map_err(|_| JudgeError::Engine)?;
        // Keyed by type and id: a device commanding itself, or two devices of one model,
        // must not produce duplicate entities (Cedar refuses duplicates).
        let mut all: BTreeMap<(u8, &str), Entity> = BTreeMap::new();
        for d in [sender, recipient] {
            if let std::collections::btree_map::Entry::Vacant(slot) = all.entry((0, &d.id)) {
                slot.insert(device_entity(e, d)?);
            }
            if let std::collections::btree_map::Entry::Vacant(slot) = all.entry((1, &d.model)) {
                slot.insert(model_entity(e, d)?);
            }
        }
        let entities =
            Entities::from_entities(all.into_values(), None).map_err(|_| JudgeError::Engine)?;
        Ok(RequestEntities { entities })
    }
}

fn device_entity(e: &Engine, d: &DeviceFacts) -> Result<Entity, JudgeError> {
    let owner = e.uid(&e.org, &d.owner);
    let mut parents = HashSet::from([owner.clone()]);
    let mut attrs: HashMap<String, RestrictedExpression> = HashMap::from([
        ("owner".into(), RestrictedExpression::new_entity_uid(owner)),
        (
            "maker".into(),
            RestrictedExpression::new_entity_uid(e.uid(&e.maker, &d.maker)),
        ),
        (
            "model".into(),
            RestrictedExpression::new_entity_uid(e.uid(&e.model, &d.model)),
        ),
        (
            "tags".into(),
            RestrictedExpression::new_set(
                d.tags
                    .iter()
                    .map(|t| RestrictedExpression::new_string(t.clone())),
            ),
        ),
        (
            "firmware".into(),
            RestrictedExpression::new_string(d.firmware.clone()),
        ),
        ("svn".into(), RestrictedExpression::new_long(long(d.svn))),
    ]);
    if let Some(zone) = &d.zone {
        let zone = e.uid(&e.zone, zone);
        parents.insert(zone.clone());
        attrs.insert("zone".into(), RestrictedExpression::new_entity_uid(zone));
    }
    Entity::new(e.uid(&e.device, &d.id), attrs, parents).map_err(|_| JudgeError::Engine)
}

fn model_entity(e: &Engine, d: &DeviceFacts) -> Result<Entity, JudgeError> {
    Entity::new(
        e.uid(&e.model, &d.model),
        HashMap::from([(
            "name".into(),
            RestrictedExpression::new_string(d.model_name.clone()),
        )]),
        HashSet::from([e.uid(&e.maker, &d.maker)]),
    )
    .map_err(|_| JudgeError::Engine)
}

/// Cedar `Long` is `i64`: larger values saturate (deterministically).
fn long(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// The request context (schema type `CommandContext`).
pub(crate) fn context(r: &Request<'_>) -> Result<Context, JudgeError> {
    let tv = RestrictedExpression::new_record(
        r.sender_tv
            .claims()
            .into_iter()
            .map(|(k, v)| (k.to_owned(), RestrictedExpression::new_long(i64::from(v)))),
    )
    .map_err(|_| JudgeError::Engine)?;
    let mut params = Vec::new();
    for (name, value) in r.params.iter() {
        let Some((declared, kind)) = DECLARED_PARAMS.iter().find(|(n, _)| *n == name) else {
            continue;
        };
        let value = match (kind, value) {
            (ParamKind::Long, ParamValue::Int(i)) => RestrictedExpression::new_long(*i),
            (ParamKind::Text, ParamValue::Text(t)) => RestrictedExpression::new_string(t.clone()),
            _ => return Err(JudgeError::ParamType(declared)),
        };
        params.push(((*declared).to_owned(), value));
    }
    let params = RestrictedExpression::new_record(params).map_err(|_| JudgeError::Engine)?;
    Context::from_pairs([
        (
            "now".to_owned(),
            RestrictedExpression::new_long(long(r.now)),
        ),
        (
            "sender_status".to_owned(),
            RestrictedExpression::new_string(r.sender_status.as_str().to_owned()),
        ),
        ("sender_tv".to_owned(), tv),
        ("params".to_owned(), params),
    ])
    .map_err(|_| JudgeError::Engine)
}

pub(crate) fn uid(e: &Engine, d: &DeviceFacts) -> EntityUid {
    e.uid(&e.device, &d.id)
}
