//! Building device-trust payloads (deterministic CBOR, labels as in `docs/device-trust.cddl`):
//! what the CLI, the demo and the tests sign. The rules read them with [`crate::payload`].

use ciborium::value::Value;
use proverka_statement::PublicKey;

use crate::payload::encode_map;
use crate::records::{Id, Role};

fn text(s: &str) -> Value {
    Value::Text(s.to_owned())
}

fn bytes(b: &[u8]) -> Value {
    Value::Bytes(b.to_vec())
}

fn uint(u: u64) -> Value {
    Value::Integer(u.into())
}

/// `join` (self-signed by `key`'s private half, `iss` = `org`).
pub fn join(org: &str, name: &str, roles: &[Role], key: &PublicKey) -> Vec<u8> {
    let roles = roles.iter().map(|r| text(r.name())).collect();
    encode_map(vec![
        (1, text(org)),
        (2, text(name)),
        (3, Value::Array(roles)),
        (4, bytes(&key.to_cose_key())),
    ])
}

/// `vote` on the proposal opened by the join statement with entry id `proposal`.
pub fn vote(proposal: &Id, approve: bool) -> Vec<u8> {
    encode_map(vec![(1, bytes(proposal)), (2, Value::Bool(approve))])
}

/// `propose`: governance proposes revoking `iss`'s key `kid`.
pub fn propose_remove_key(iss: &str, kid: &Id) -> Vec<u8> {
    encode_map(vec![
        (1, text("remove-key")),
        (2, text(iss)),
        (3, bytes(kid)),
    ])
}

/// `propose`: governance proposes removing the organisation `iss`.
pub fn propose_remove_org(iss: &str) -> Vec<u8> {
    encode_map(vec![(1, text("remove-org")), (2, text(iss))])
}

/// `propose`: governance proposes a new vote threshold.
pub fn propose_threshold(threshold: u64) -> Vec<u8> {
    encode_map(vec![(1, text("threshold")), (4, uint(threshold))])
}

/// A validator's public keys as a validator-set change carries them.
#[derive(Clone, Debug)]
pub struct NewValidator<'a> {
    /// Ed25519 consensus key.
    pub consensus: [u8; 32],
    pub receipt_key: &'a PublicKey,
    /// C2SP note verifier keys; the checkpoint key's name is the log origin.
    pub checkpoint_vkey: &'a str,
    pub cosigner_vkey: &'a str,
}

fn validator_fields(v: &NewValidator) -> Vec<(u64, Value)> {
    vec![
        (6, bytes(&v.consensus)),
        (7, bytes(&v.receipt_key.to_cose_key())),
        (8, text(v.checkpoint_vkey)),
        (9, text(v.cosigner_vkey)),
    ]
}

/// `propose`: governance proposes adding a validator from the next epoch boundary.
pub fn propose_add_validator(v: &NewValidator) -> Vec<u8> {
    let mut fields = vec![(1, text("add-validator"))];
    fields.extend(validator_fields(v));
    encode_map(fields)
}

/// `propose`: governance proposes removing the validator with consensus key `validator`.
pub fn propose_remove_validator(validator: &[u8; 32]) -> Vec<u8> {
    encode_map(vec![(1, text("remove-validator")), (6, bytes(validator))])
}

/// `propose`: governance proposes replacing the keys of validator `replaces` with `v`'s.
pub fn propose_rotate_validator(replaces: &[u8; 32], v: &NewValidator) -> Vec<u8> {
    let mut fields = vec![(1, text("rotate-validator")), (10, bytes(replaces))];
    fields.extend(validator_fields(v));
    encode_map(fields)
}

/// `org-key` add.
pub fn org_key_add(key: &PublicKey) -> Vec<u8> {
    encode_map(vec![(1, text("add")), (2, bytes(&key.to_cose_key()))])
}

/// `org-key` revoke.
pub fn org_key_revoke(kid: &Id) -> Vec<u8> {
    encode_map(vec![(1, text("revoke")), (3, bytes(kid))])
}

/// `model`, with optional IDevID roots (DER).
pub fn model(name: &str, roots: &[Vec<u8>]) -> Vec<u8> {
    let mut fields = vec![(1, text(name))];
    if !roots.is_empty() {
        fields.push((2, Value::Array(roots.iter().map(|r| bytes(r)).collect())));
    }
    encode_map(fields)
}

/// A birth certificate's content.
pub struct Birth<'a> {
    pub device_id: &'a [u8],
    pub key: &'a PublicKey,
    pub model: &'a str,
    pub serial: &'a str,
    pub hw_version: &'a str,
    pub factory_fw: Id,
    /// IDevID chain, leaf first (DER); empty for none.
    pub x5chain: &'a [Vec<u8>],
}

/// `birth`.
pub fn birth(b: &Birth) -> Vec<u8> {
    let mut fields = vec![
        (1, bytes(b.device_id)),
        (2, bytes(&b.key.to_cose_key())),
        (3, text(b.model)),
        (4, text(b.serial)),
        (5, text(b.hw_version)),
        (6, bytes(&b.factory_fw)),
    ];
    if !b.x5chain.is_empty() {
        fields.push((
            7,
            Value::Array(b.x5chain.iter().map(|c| bytes(c)).collect()),
        ));
    }
    encode_map(fields)
}

/// `transfer` of `device_id` to organisation `to`.
pub fn transfer(device_id: &[u8], to: &str) -> Vec<u8> {
    encode_map(vec![(1, bytes(device_id)), (2, text(to))])
}

/// `accept` of the pending action opened by entry `pending`.
pub fn accept(pending: &Id) -> Vec<u8> {
    encode_map(vec![(1, bytes(pending))])
}

/// `decommission`.
pub fn decommission(device_id: &[u8]) -> Vec<u8> {
    encode_map(vec![(1, bytes(device_id))])
}

/// `rekey` (signed by the device's current key).
pub fn rekey(device_id: &[u8], new_key: &PublicKey) -> Vec<u8> {
    encode_map(vec![
        (1, bytes(device_id)),
        (2, bytes(&new_key.to_cose_key())),
    ])
}

/// A firmware release's content.
pub struct Release<'a> {
    pub model: &'a str,
    pub version: &'a str,
    pub digest: Id,
    pub svn: u64,
    pub supersedes: Option<Id>,
    /// 0 low … 3 critical: the severity of what this security release fixes.
    pub security: Option<u8>,
    pub revoked: bool,
}

/// `release`.
pub fn release(r: &Release) -> Vec<u8> {
    let mut fields = vec![
        (1, text(r.model)),
        (2, text(r.version)),
        (3, bytes(&r.digest)),
        (4, uint(r.svn)),
    ];
    if let Some(s) = r.supersedes {
        fields.push((5, bytes(&s)));
    }
    if let Some(s) = r.security {
        fields.push((6, uint(u64::from(s))));
    }
    if r.revoked {
        fields.push((7, Value::Bool(true)));
    }
    encode_map(fields)
}

/// An advisory's content.
#[derive(Default)]
pub struct Advisory<'a> {
    pub id: &'a str,
    pub maker: &'a str,
    pub model: &'a str,
    pub versions: &'a [&'a str],
    pub digests: &'a [Id],
    /// CVSS base score in tenths (0..=100).
    pub cvss: Option<u8>,
    /// 0 low … 3 critical.
    pub level: Option<u8>,
    pub exploited: bool,
    pub fixed_in: Option<Id>,
    pub refs: &'a [&'a str],
    pub withdrawn: bool,
}

/// `advisory`.
pub fn advisory(a: &Advisory) -> Vec<u8> {
    let mut fields = vec![(1, text(a.id)), (2, text(a.maker)), (3, text(a.model))];
    if !a.versions.is_empty() {
        fields.push((
            4,
            Value::Array(a.versions.iter().map(|v| text(v)).collect()),
        ));
    }
    if !a.digests.is_empty() {
        fields.push((
            5,
            Value::Array(a.digests.iter().map(|d| bytes(d)).collect()),
        ));
    }
    if let Some(c) = a.cvss {
        fields.push((6, uint(u64::from(c))));
    }
    if let Some(l) = a.level {
        fields.push((7, uint(u64::from(l))));
    }
    if a.exploited {
        fields.push((8, Value::Bool(true)));
    }
    if let Some(f) = a.fixed_in {
        fields.push((9, bytes(&f)));
    }
    if !a.refs.is_empty() {
        fields.push((10, Value::Array(a.refs.iter().map(|r| text(r)).collect())));
    }
    if a.withdrawn {
        fields.push((11, Value::Bool(true)));
    }
    encode_map(fields)
}

/// Device evidence claims (the `iat` is the statement's CWT `iat`).
pub struct Evidence<'a> {
    pub device_id: &'a [u8],
    pub nonce: &'a [u8],
    pub fw: Id,
    pub svn: u64,
    /// EAT dbgstat 0..=4.
    pub debug: u8,
}

/// `evidence`.
pub fn evidence(e: &Evidence) -> Vec<u8> {
    encode_map(vec![
        (1, bytes(e.device_id)),
        (2, bytes(e.nonce)),
        (3, bytes(&e.fw)),
        (4, uint(e.svn)),
        (5, uint(u64::from(e.debug))),
    ])
}

/// `evidence-batch` of complete device-signed evidence statements.
pub fn evidence_batch(items: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    let array = Value::Array(items.iter().map(|i| bytes(i)).collect());
    let _ = ciborium::into_writer(&array, &mut out);
    out
}

/// `policy`: an owner's tightening of the trust policy (absent fields keep the defaults).
pub fn policy(
    freshness_ms: Option<u64>,
    grace_ms: [Option<u64>; 4],
    debug_contraindicated: Option<bool>,
) -> Vec<u8> {
    let mut fields = Vec::new();
    if let Some(f) = freshness_ms {
        fields.push((1, uint(f)));
    }
    for (i, g) in grace_ms.iter().enumerate() {
        if let Some(g) = g {
            fields.push((2 + i as u64, uint(*g)));
        }
    }
    if let Some(d) = debug_contraindicated {
        fields.push((6, Value::Bool(d)));
    }
    encode_map(fields)
}

/// `cedar-policy`: `owner`'s Cedar policy set (id, text), replacing version `supersedes`.
pub fn cedar_policy(owner: &str, policies: &[(&str, &str)], supersedes: Option<u64>) -> Vec<u8> {
    let set = policies
        .iter()
        .map(|(id, t)| Value::Array(vec![text(id), text(t)]))
        .collect();
    let mut fields = vec![(1, text(owner)), (2, Value::Array(set))];
    if let Some(v) = supersedes {
        fields.push((3, uint(v)));
    }
    encode_map(fields)
}

/// `labels` (by the device's owner): its zone and tags, replacing any it had. No zone and no
/// tags clears them.
pub fn labels(device_id: &[u8], zone: Option<&str>, tags: &[&str]) -> Vec<u8> {
    let mut fields = vec![(1, bytes(device_id))];
    if let Some(z) = zone {
        fields.push((2, text(z)));
    }
    if !tags.is_empty() {
        fields.push((3, Value::Array(tags.iter().map(|t| text(t)).collect())));
    }
    encode_map(fields)
}

/// `challenge` (by the devices' owner): a random `nonce` (16..=64 bytes) its devices may put in
/// their evidence, each once, within `window_ms` of registration (absent: the default, 1 h).
pub fn challenge(nonce: &[u8], devices: &[&[u8]], window_ms: Option<u64>) -> Vec<u8> {
    let mut fields = vec![
        (1, bytes(nonce)),
        (2, Value::Array(devices.iter().map(|d| bytes(d)).collect())),
    ];
    if let Some(w) = window_ms {
        fields.push((3, uint(w)));
    }
    encode_map(fields)
}

/// `revoke-device` (by its maker), with an optional reason.
pub fn revoke_device(device_id: &[u8], reason: Option<&str>) -> Vec<u8> {
    let mut fields = vec![(1, bytes(device_id))];
    if let Some(r) = reason {
        fields.push((2, text(r)));
    }
    encode_map(fields)
}

/// The Cedar policy set version a gateway names in an interaction.
pub struct InteractionPolicy<'a> {
    pub owner: &'a str,
    pub version: u64,
    /// Ids of the policies that decided (`proverka_policy::Verdict::satisfied`).
    pub satisfied: &'a [&'a str],
}

/// An interaction's content: a command as the gateway received it and how it judged it.
pub struct Interaction<'a> {
    /// The sender-signed command envelope, exactly as received.
    pub command: &'a [u8],
    pub verdict: crate::interaction::GatewayVerdict,
    /// The refusal reasons (empty when allowed).
    pub reasons: &'a [&'a str],
    /// The gateway's clock when it judged, Unix seconds.
    pub observed: u64,
    /// Height and time (ms) of the certified ledger state it judged against.
    pub snapshot_height: u64,
    pub snapshot_certified_ms: u64,
    /// The sender status it used.
    pub sender_status: proverka_command::TrustStatus,
    pub policy: Option<InteractionPolicy<'a>>,
}

/// `interaction` (by the recipient's owner, e.g. its gateway's key).
pub fn interaction(i: &Interaction) -> Vec<u8> {
    let policy = match &i.policy {
        None => Value::Null,
        Some(p) => Value::Map(vec![
            (uint(1), text(p.owner)),
            (uint(2), uint(p.version)),
            (
                uint(3),
                Value::Array(p.satisfied.iter().map(|s| text(s)).collect()),
            ),
        ]),
    };
    let snapshot = Value::Map(vec![
        (uint(1), uint(i.snapshot_height)),
        (uint(2), uint(i.snapshot_certified_ms)),
    ]);
    encode_map(vec![
        (1, bytes(i.command)),
        (2, text(i.verdict.as_str())),
        (3, Value::Array(i.reasons.iter().map(|r| text(r)).collect())),
        (4, uint(i.observed)),
        (5, snapshot),
        (6, text(i.sender_status.as_str())),
        (7, policy),
    ])
}
