//! Interaction records: a gateway run by a device's owner records the critical commands it
//! judged ("who told the valve to open, and was it trusted at the time?"), each with the
//! sender-signed command envelope, its verdict and what it judged against. The ledger checks
//! the sender's signature with the sender's current key and adds its own view of the sender.

use ciborium::value::Value;
use proverka_command::{Command, ParamValue, TrustStatus};
use proverka_statement::{PublicKey, SignedStatement};

use crate::ctx::{Ctx, RuleResult};
use crate::payload::{Fields, PayloadError, MAX_TEXT_BYTES};
use crate::query;
use crate::records::{
    device_hash, keys, CedarPolicyRecord, DeviceRecord, InteractionRecord, ParamRecord, PolicyRef,
};
use crate::rules::{Rejection, Signer, StateError};

/// The payload kind named in refusals.
pub const INTERACTION_KIND: &str = "interaction";
/// Most refusal reasons one interaction carries (the command verifier reports at most 15
/// kinds of reason, `docs/command.md` §6).
pub const MAX_INTERACTION_REASONS: usize = 16;
/// Longest refusal reason, in bytes.
pub const MAX_REASON_BYTES: usize = MAX_TEXT_BYTES;
/// Most satisfied policy ids named (a Cedar policy set has at most this many policies).
pub const MAX_SATISFIED_POLICIES: usize = proverka_policy::MAX_POLICIES;
/// How far ahead of block time a gateway's `observed` clock may be (as for evidence).
pub const MAX_OBSERVED_SKEW_MS: u64 = crate::MAX_CLOCK_SKEW_MS;

/// What the gateway decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GatewayVerdict {
    Allow,
    Deny,
}

impl GatewayVerdict {
    /// As written in the payload: `"allow"` or `"deny"`.
    pub fn as_str(self) -> &'static str {
        match self {
            GatewayVerdict::Allow => "allow",
            GatewayVerdict::Deny => "deny",
        }
    }
}

/// An `interaction` payload, decoded and bounded (the command envelope not yet opened).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InteractionPayload {
    /// The command envelope exactly as the gateway received it.
    pub command: Vec<u8>,
    pub verdict: GatewayVerdict,
    /// The gateway's refusal reasons: empty when it allowed, at least one when it denied.
    pub reasons: Vec<String>,
    /// The gateway's clock when it judged, Unix seconds.
    pub observed: u64,
    /// Height and time (ms) of the certified ledger state it judged against.
    pub snapshot_height: u64,
    pub snapshot_certified_ms: u64,
    /// The sender status the gateway used.
    pub sender_status: TrustStatus,
    /// The Cedar policy set version that judged, if any.
    pub policy: Option<PolicyRef>,
}

fn bad(e: PayloadError) -> Rejection {
    Rejection::payload(INTERACTION_KIND, e)
}

fn invalid(label: u64, reason: &'static str) -> PayloadError {
    PayloadError::Invalid { label, reason }
}

/// Decodes an `interaction` payload (`docs/device-trust.cddl`), every field bounded.
pub fn decode(bytes: &[u8]) -> Result<InteractionPayload, PayloadError> {
    let mut f = Fields::decode(bytes)?;
    let command = f.bytes(1, 1, proverka_command::MAX_COMMAND_BYTES)?;
    let verdict = match f.text(2) {
        Ok(v) if v == "allow" => GatewayVerdict::Allow,
        Ok(v) if v == "deny" => GatewayVerdict::Deny,
        _ => return Err(invalid(2, "must be \"allow\" or \"deny\"")),
    };
    let reasons = reasons(f.raw(3)?)?;
    match (verdict, reasons.is_empty()) {
        (GatewayVerdict::Allow, false) => {
            return Err(invalid(3, "an allowed command carries no refusal reasons"))
        }
        (GatewayVerdict::Deny, true) => {
            return Err(invalid(3, "a denied command names at least one reason"))
        }
        _ => {}
    }
    let observed = f.uint(4)?;
    let (snapshot_height, snapshot_certified_ms) = snapshot(f.raw(5)?)?;
    let sender_status = match f.text(6) {
        Ok(s) => status(&s).ok_or(invalid(
            6,
            "must be affirming, warning, contraindicated or none",
        ))?,
        Err(_) => {
            return Err(invalid(
                6,
                "must be affirming, warning, contraindicated or none",
            ))
        }
    };
    let policy = policy(f.raw(7)?)?;
    f.finish()?;
    Ok(InteractionPayload {
        command,
        verdict,
        reasons,
        observed,
        snapshot_height,
        snapshot_certified_ms,
        sender_status,
        policy,
    })
}

fn status(s: &str) -> Option<TrustStatus> {
    [
        TrustStatus::Affirming,
        TrustStatus::Warning,
        TrustStatus::Contraindicated,
        TrustStatus::None,
    ]
    .into_iter()
    .find(|t| t.as_str() == s)
}

fn valid_text(t: &str, max: usize) -> bool {
    !t.is_empty() && t.len() <= max && !t.chars().any(char::is_control)
}

fn reasons(value: Value) -> Result<Vec<String>, PayloadError> {
    let shape = || {
        invalid(
            3,
            "must be an array of at most 16 texts of 1..=256 bytes without control characters",
        )
    };
    let Value::Array(items) = value else {
        return Err(shape());
    };
    if items.len() > MAX_INTERACTION_REASONS {
        return Err(shape());
    }
    items
        .into_iter()
        .map(|v| match v {
            Value::Text(t) if valid_text(&t, MAX_REASON_BYTES) => Ok(t),
            _ => Err(shape()),
        })
        .collect()
}

/// Reads a nested map with small unsigned integer keys, each at most once, into `slots`
/// (labels 1..=slots.len()); any other shape is `None`.
fn nested<const N: usize>(value: Value) -> Option<[Option<Value>; N]> {
    let Value::Map(entries) = value else {
        return None;
    };
    let mut slots: [Option<Value>; N] = std::array::from_fn(|_| None);
    for (k, v) in entries {
        let label = match k {
            Value::Integer(i) => usize::try_from(u64::try_from(i).ok()?).ok()?,
            _ => return None,
        };
        let slot = slots.get_mut(label.checked_sub(1)?)?;
        if slot.replace(v).is_some() {
            return None;
        }
    }
    Some(slots)
}

fn uint(v: Option<Value>) -> Option<u64> {
    match v? {
        Value::Integer(i) => u64::try_from(i).ok(),
        _ => None,
    }
}

fn snapshot(value: Value) -> Result<(u64, u64), PayloadError> {
    let shape = || invalid(5, "must be {1: height (uint), 2: certified_ms (uint)}");
    let [height, certified] = nested::<2>(value).ok_or_else(shape)?;
    Ok((
        uint(height).ok_or_else(shape)?,
        uint(certified).ok_or_else(shape)?,
    ))
}

fn policy(value: Value) -> Result<Option<PolicyRef>, PayloadError> {
    if value == Value::Null {
        return Ok(None);
    }
    let shape = || {
        invalid(
            7,
            "must be null or {1: owner, 2: version (uint), 3: [at most 64 policy ids]}",
        )
    };
    let [owner, version, satisfied] = nested::<3>(value).ok_or_else(shape)?;
    let owner = match owner {
        Some(Value::Text(t)) if valid_text(&t, MAX_TEXT_BYTES) => t,
        _ => return Err(shape()),
    };
    let version = uint(version).ok_or_else(shape)?;
    let satisfied = match satisfied {
        Some(Value::Array(items)) if items.len() <= MAX_SATISFIED_POLICIES => items
            .into_iter()
            .map(|v| match v {
                Value::Text(t) if valid_text(&t, proverka_policy::MAX_POLICY_ID_BYTES) => Ok(t),
                _ => Err(shape()),
            })
            .collect::<Result<Vec<_>, _>>()?,
        _ => return Err(shape()),
    };
    Ok(Some(PolicyRef {
        owner,
        version,
        satisfied,
    }))
}

/// Why a ledger device key cannot be used as a command sender key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandKeyError {
    #[error("not a valid COSE_Key: {0}")]
    Invalid(String),
    #[error("a P-384 key cannot sign commands (P-256 or Ed25519 only)")]
    P384,
}

/// A device's ledger key (COSE_Key bytes, as in [`DeviceRecord::key`]) as the command
/// verifier's key: the one conversion the ledger, passports and gateways share. Checked: the
/// result has the same RFC 9679 thumbprint, so a command's `kid` means the same key on both
/// sides.
pub fn command_key(cose_key: &[u8]) -> Result<proverka_command::PublicKey, CommandKeyError> {
    let invalid = |e: &dyn std::fmt::Display| CommandKeyError::Invalid(e.to_string());
    let key = PublicKey::from_cose_key(cose_key).map_err(|e| invalid(&e))?;
    let converted = match &key {
        PublicKey::Ed25519(raw) => proverka_command::PublicKey::from_ed25519_bytes(raw),
        PublicKey::P256(_) => {
            // An SPKI for P-256 ends with the 65-byte uncompressed SEC1 point.
            let der = key.to_spki_der();
            let point = der.get(der.len().saturating_sub(65)..).unwrap_or_default();
            proverka_command::PublicKey::from_p256_sec1(point)
        }
        PublicKey::P384(_) => return Err(CommandKeyError::P384),
    }
    .map_err(|e| invalid(&e))?;
    if *converted.thumbprint() != key.thumbprint() {
        return Err(CommandKeyError::Invalid(
            "the key converts to another thumbprint".into(),
        ));
    }
    Ok(converted)
}

fn param_record(value: &ParamValue) -> ParamRecord {
    match value {
        ParamValue::Int(i) => ParamRecord::Int(*i),
        ParamValue::Text(t) => ParamRecord::Text(t.clone()),
        ParamValue::Bool(b) => ParamRecord::Bool(*b),
    }
}

fn device_or_refuse(ctx: &Ctx, role: &str, id: &[u8]) -> RuleResult<DeviceRecord> {
    query::device(ctx, id)?
        .ok_or_else(|| Rejection::NotFound(format!("no {role} device {}", hex::encode(id))).into())
}

/// `interaction`: the recipient's owner records a command a gateway judged.
///
/// In order: the payload (bounded); the sender a known device; the command opened with the
/// sender's *current* key (`proverka_command::open`: envelope, algorithm, kid, signature — no
/// time, replay or policy check, the gateway did those); the recipient a known device owned by
/// the signer's organisation; not already recorded for this (sender, recipient, seq); the
/// snapshot an earlier certified state; the observed time not ahead of block time; a named
/// policy version one of the recipient owner's registered versions, its satisfied ids among its
/// policies. Writes the record (with the ledger's own status of the sender at block time) and
/// the two index rows.
pub fn register(ctx: &mut Ctx, signer: &Signer, stmt: &SignedStatement) -> RuleResult {
    let org = signer.org()?;
    let p = decode(stmt.payload()).map_err(bad)?;
    let claimed = proverka_command::claimed_sender(&p.command).map_err(Rejection::Command)?;
    let sender = device_or_refuse(ctx, "sender", claimed.as_bytes())?;
    let key = match command_key(&sender.key) {
        Ok(k) => k,
        Err(CommandKeyError::P384) => {
            return Err(Rejection::NotPermitted(format!(
                "sender {} has a P-384 key, which cannot sign commands",
                hex::encode(&sender.id)
            ))
            .into())
        }
        Err(e) => return Err(StateError(format!("corrupt device key: {e}")).into()),
    };
    let command = proverka_command::open(&p.command, &key).map_err(Rejection::Command)?;
    let recipient = device_or_refuse(ctx, "recipient", command.recipient.as_bytes())?;
    if recipient.owner != org.iss {
        return Err(Rejection::NotOwner {
            device: hex::encode(&recipient.id),
            owner: recipient.owner,
        }
        .into());
    }
    let (s_hash, r_hash) = (device_hash(&sender.id), device_hash(&recipient.id));
    let record_key = keys::interaction(&s_hash, &r_hash, command.seq);
    if let Some(existing) = ctx.record::<InteractionRecord>(&record_key)? {
        return Err(Rejection::Conflict(format!(
            "command {} → {} seq {} is already recorded by entry {}",
            hex::encode(&sender.id),
            hex::encode(&recipient.id),
            command.seq,
            hex::encode(existing.entry)
        ))
        .into());
    }
    check_context(ctx, &p, &recipient)?;
    let (_, appraisal) = query::device_status(ctx, &sender.id, ctx.block.time_ms)?
        .ok_or_else(|| StateError("sender device vanished during its own rule".into()))?;
    let record = record(ctx, &org.iss, &command, p, &appraisal);
    let suffix = [s_hash.as_slice(), &r_hash, &command.seq.to_be_bytes()].concat();
    let (height, pos) = (ctx.block.height, ctx.pos);
    ctx.put(
        keys::idx_interaction(&s_hash, height, pos, 0),
        suffix.clone(),
    );
    ctx.put(keys::idx_interaction(&r_hash, height, pos, 1), suffix);
    ctx.put_record(record_key, &record);
    Ok(())
}

/// What the gateway says it judged against must be possible: an earlier certified state, a
/// clock not ahead of the block's, and a policy version the recipient's owner registered.
fn check_context(ctx: &Ctx, p: &InteractionPayload, recipient: &DeviceRecord) -> RuleResult {
    if p.snapshot_height >= ctx.block.height || p.snapshot_certified_ms > ctx.block.time_ms {
        return Err(bad(invalid(
            5,
            "a gateway judges against an earlier certified state: height and time must be below the block's",
        ))
        .into());
    }
    if p.observed.saturating_mul(1000) > ctx.block.time_ms.saturating_add(MAX_OBSERVED_SKEW_MS) {
        return Err(bad(invalid(
            4,
            "observed is more than 5 minutes ahead of block time",
        ))
        .into());
    }
    let Some(policy) = &p.policy else {
        return Ok(());
    };
    if policy.owner != recipient.owner {
        return Err(Rejection::NotPermitted(format!(
            "a command to a device of {} is judged by {}'s policies, not {}'s",
            recipient.owner, recipient.owner, policy.owner
        ))
        .into());
    }
    let Some(version) =
        ctx.record::<CedarPolicyRecord>(&keys::cedar_version(&policy.owner, policy.version))?
    else {
        return Err(Rejection::NotFound(format!(
            "{} has no Cedar policy set version {}",
            policy.owner, policy.version
        ))
        .into());
    };
    for id in &policy.satisfied {
        if !version.policies.iter().any(|(pid, _)| pid == id) {
            return Err(Rejection::NotFound(format!(
                "version {} of {}'s Cedar policy set has no policy {id:?}",
                policy.version, policy.owner
            ))
            .into());
        }
    }
    Ok(())
}

fn record(
    ctx: &Ctx,
    recorded_by: &str,
    command: &Command,
    p: InteractionPayload,
    appraisal: &proverka_trust::Appraisal,
) -> InteractionRecord {
    InteractionRecord {
        entry: ctx.entry,
        height: ctx.block.height,
        pos: ctx.pos,
        registered_ms: ctx.block.time_ms,
        recorded_by: recorded_by.to_owned(),
        sender: command.sender.as_bytes().to_vec(),
        recipient: command.recipient.as_bytes().to_vec(),
        action: command.action.as_str().to_owned(),
        params: command
            .params
            .iter()
            .map(|(k, v)| (k.to_owned(), param_record(v)))
            .collect(),
        seq: command.seq,
        iat: command.iat.0,
        exp: command.exp.0,
        allowed: p.verdict == GatewayVerdict::Allow,
        reasons: p.reasons,
        observed: p.observed,
        snapshot_height: p.snapshot_height,
        snapshot_certified_ms: p.snapshot_certified_ms,
        gateway_status: p.sender_status.as_str().to_owned(),
        policy: p.policy,
        ledger_status: appraisal.status.as_str().to_owned(),
        ledger_reasons: appraisal
            .reasons
            .iter()
            .map(|r| r.code().to_owned())
            .collect(),
    }
}
