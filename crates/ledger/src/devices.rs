//! Devices: models, birth certificates, ownership, decommissioning, key rotation and evidence.

use proverka_statement::{Limits, PublicKey, SignedStatement};

use crate::anchors::{self, NONCE_ROOT_WINDOW_MS};
use crate::ctx::{Ctx, Fail, RuleResult};
use crate::kinds;
use crate::orgs::ensure_key_unused;
use crate::payload::{bytes_item, Fields, PayloadError};
use crate::records::{
    device_hash, keys, model_id, DeviceRecord, EvidenceRecord, Id, ModelRecord, PendingKind,
    PendingRecord, Role,
};
use crate::rules::{Rejection, Rules, SignatureCheck, Signer, StateError};

/// Longest device id (EAT `ueid`-style bytes).
pub const MAX_DEVICE_ID_BYTES: usize = 64;
/// Most X.509 roots a model registers for IDevID chains.
pub const MAX_MODEL_ROOTS: usize = 16;
/// Most certificates in a birth certificate's `x5chain`.
pub const MAX_X5CHAIN_CERTS: usize = 4;
/// A pending transfer or key rotation not accepted within this time lapses (30 days).
pub const PENDING_TTL_MS: u64 = 30 * 24 * 3_600_000;
/// How far ahead of block time an evidence `iat` may be (device clocks drift).
pub const MAX_CLOCK_SKEW_MS: u64 = 5 * 60_000;
/// Evidence older than this at registration is refused: it could not make a device trusted
/// under the loosest freshness window (the default, `docs/trust.md`).
pub const MAX_EVIDENCE_AGE_MS: u64 = 24 * 3_600_000;
/// Nonce length bounds of the payload format (`docs/device-trust.cddl`). The rules accept a
/// 32-byte log root the ledger anchored recently (`anchors`) or a registered challenge of
/// 16..=64 bytes (`challenges`), both within these bounds.
pub const MIN_NONCE_BYTES: usize = 8;
pub const MAX_NONCE_BYTES: usize = 64;
/// Most evidence statements in one gateway batch.
pub const MAX_EVIDENCE_BATCH: usize = 256;

fn bad(kind: &'static str) -> impl Fn(PayloadError) -> Rejection {
    move |e| Rejection::payload(kind, e)
}

/// `model`: a manufacturer registers one of its models (or replaces its IDevID roots).
pub fn model(rules: &Rules, ctx: &mut Ctx, signer: &Signer, stmt: &SignedStatement) -> RuleResult {
    let maker = signer.require_role(Role::Manufacturer)?;
    let mut f = Fields::decode(stmt.payload()).map_err(bad("model"))?;
    let name = f.text(1).map_err(bad("model"))?;
    let roots = f.opt_array(2, bytes_item).map_err(bad("model"))?;
    f.finish().map_err(bad("model"))?;
    if roots.len() > MAX_MODEL_ROOTS {
        return Err(Rejection::payload(
            "model",
            PayloadError::Invalid {
                label: 2,
                reason: "at most 16 roots",
            },
        )
        .into());
    }
    for (i, der) in roots.iter().enumerate() {
        rules
            .idevid()
            .check_root(der)
            .map_err(|e| Rejection::Idevid(format!("root {i}: {e}")))?;
    }
    let id = model_id(&maker.iss, &name);
    let key = keys::model(&id);
    let registered_ms = match ctx.record::<ModelRecord>(&key)? {
        Some(existing) => existing.registered_ms,
        None => ctx.block.time_ms,
    };
    let record = ModelRecord {
        maker: maker.iss.clone(),
        name,
        roots: roots.into_iter().map(serde_bytes::ByteBuf::from).collect(),
        registered_ms,
    };
    ctx.put_record(key, &record);
    Ok(())
}

/// `birth`: a manufacturer issues a device's birth certificate for one of its own models.
pub fn birth(rules: &Rules, ctx: &mut Ctx, signer: &Signer, stmt: &SignedStatement) -> RuleResult {
    let maker = signer.require_role(Role::Manufacturer)?;
    let mut f = Fields::decode(stmt.payload()).map_err(bad("birth"))?;
    let device_id = f.bytes(1, 1, MAX_DEVICE_ID_BYTES).map_err(bad("birth"))?;
    let key = f.key(2).map_err(bad("birth"))?;
    let model_name = f.text(3).map_err(bad("birth"))?;
    let serial = f.text(4).map_err(bad("birth"))?;
    let hw_version = f.text(5).map_err(bad("birth"))?;
    let factory_fw = f.digest(6).map_err(bad("birth"))?;
    let chain = f.opt_array(7, bytes_item).map_err(bad("birth"))?;
    f.finish().map_err(bad("birth"))?;

    let model = model_id(&maker.iss, &model_name);
    let Some(model_record) = ctx.record::<ModelRecord>(&keys::model(&model))? else {
        return Err(Rejection::NotFound(format!(
            "{} has no model {model_name:?}: a maker issues birth certificates only for its own registered models",
            maker.iss
        ))
        .into());
    };
    let dev = device_hash(&device_id);
    if ctx.get(&keys::device(&dev))?.is_some() {
        return Err(Rejection::Conflict(format!(
            "device {} already has a birth certificate",
            hex::encode(&device_id)
        ))
        .into());
    }
    ensure_key_unused(rules, ctx, &key)?;
    let idevid_serial = if chain.is_empty() {
        None
    } else {
        check_chain(rules, ctx, &model_record, &chain, &key)?
    };
    let record = DeviceRecord {
        id: device_id,
        key: key.to_cose_key(),
        model,
        maker: maker.iss.clone(),
        owner: maker.iss.clone(),
        serial,
        hw_version,
        factory_fw,
        born_ms: ctx.block.time_ms,
        fw: factory_fw,
        fw_since_ms: ctx.block.time_ms,
        highest_svn: None,
        rollback: None,
        evidence: None,
        decommissioned_ms: None,
        idevid_serial,
        identity_revoked_ms: None,
    };
    ctx.put(keys::device_key(&key.thumbprint()), dev.to_vec());
    ctx.put(keys::idx_owner(&record.owner, &dev), Vec::new());
    ctx.put(keys::idx_maker(&record.maker, &dev), Vec::new());
    ctx.put(keys::idx_model(&model, &dev), Vec::new());
    ctx.put(keys::idx_fw(&factory_fw, &dev), Vec::new());
    ctx.put_record(keys::device(&dev), &record);
    ctx.touch_history(&dev);
    Ok(())
}

fn check_chain(
    rules: &Rules,
    ctx: &Ctx,
    model: &ModelRecord,
    chain: &[Vec<u8>],
    key: &PublicKey,
) -> RuleResult<Option<String>> {
    if chain.len() > MAX_X5CHAIN_CERTS {
        return Err(Rejection::Idevid(format!(
            "x5chain has {} certificates, at most {MAX_X5CHAIN_CERTS}",
            chain.len()
        ))
        .into());
    }
    if model.roots.is_empty() {
        return Err(Rejection::Idevid(
            "the model registers no IDevID roots, so no x5chain can chain to one".into(),
        )
        .into());
    }
    let roots: Vec<&[u8]> = model.roots.iter().map(|r| r.as_slice()).collect();
    let chain: Vec<&[u8]> = chain.iter().map(Vec::as_slice).collect();
    let leaf = rules
        .idevid()
        .verify(&chain, &roots, ctx.block.time_ms)
        .map_err(Rejection::Idevid)?;
    if leaf.key != *key {
        return Err(Rejection::Idevid(
            "the IDevID certificate's key is not the device key of the birth certificate".into(),
        )
        .into());
    }
    Ok(leaf.serial)
}

/// `transfer`: the current owner offers a device to another organisation.
pub fn transfer(
    ctx: &mut Ctx,
    signer: &Signer,
    stmt: &SignedStatement,
    rules: &Rules,
) -> RuleResult {
    let org = signer.org()?;
    let mut f = Fields::decode(stmt.payload()).map_err(bad("transfer"))?;
    let device_id = f
        .bytes(1, 1, MAX_DEVICE_ID_BYTES)
        .map_err(bad("transfer"))?;
    let to = f.text(2).map_err(bad("transfer"))?;
    f.finish().map_err(bad("transfer"))?;
    let (dev, device) = active_device(ctx, &device_id)?;
    require_owner(&device, &org.iss)?;
    if to == device.owner {
        return Err(Rejection::Conflict(format!("{to} already owns the device")).into());
    }
    let Some(recipient) = rules.org(ctx, &to)? else {
        return Err(Rejection::NotFound(format!("no organisation {to:?}")).into());
    };
    if !(recipient.has(Role::Operator) || recipient.has(Role::Manufacturer)) {
        return Err(Rejection::MissingRole {
            iss: to,
            role: Role::Operator.name(),
        }
        .into());
    }
    let pending = PendingRecord {
        device: dev,
        kind: PendingKind::Transfer {
            from: device.owner.clone(),
            to,
        },
        created_ms: ctx.block.time_ms,
    };
    ctx.put_record(keys::pending(&ctx.entry), &pending);
    ctx.touch_history(&dev);
    Ok(())
}

/// `accept`: the recipient accepts a transfer, or the owner approves a device's key rotation.
pub fn accept(ctx: &mut Ctx, signer: &Signer, stmt: &SignedStatement, rules: &Rules) -> RuleResult {
    let org = signer.org()?;
    let mut f = Fields::decode(stmt.payload()).map_err(bad("accept"))?;
    let pending_id = f.digest(1).map_err(bad("accept"))?;
    f.finish().map_err(bad("accept"))?;
    let pkey = keys::pending(&pending_id);
    let Some(pending) = ctx.record::<PendingRecord>(&pkey)? else {
        return Err(Rejection::NotFound(format!(
            "no pending transfer or key rotation {}",
            hex::encode(pending_id)
        ))
        .into());
    };
    if ctx.block.time_ms > pending.created_ms.saturating_add(PENDING_TTL_MS) {
        return Err(Rejection::Expired("the pending action lapsed after 30 days".into()).into());
    }
    let dkey = keys::device(&pending.device);
    let Some(mut device) = ctx.record::<DeviceRecord>(&dkey)? else {
        return Err(StateError("pending action names a missing device".into()).into());
    };
    if device.decommissioned_ms.is_some() {
        return Err(Rejection::Decommissioned(hex::encode(&device.id)).into());
    }
    match pending.kind {
        PendingKind::Transfer { from, to } => {
            if org.iss != to {
                return Err(Rejection::NotPermitted(format!(
                    "only the recipient {to} accepts this transfer"
                ))
                .into());
            }
            if device.owner != from {
                return Err(Rejection::Conflict(
                    "the device changed owner since the transfer was offered".into(),
                )
                .into());
            }
            ctx.delete(keys::idx_owner(&device.owner, &pending.device));
            ctx.put(keys::idx_owner(&to, &pending.device), Vec::new());
            // Zone and tags are the previous owner's placement: the new owner starts clean.
            crate::labels::clear(ctx, &pending.device)?;
            device.owner = to;
        }
        PendingKind::Rekey { key } => {
            require_owner(&device, &org.iss)?;
            let new_key = PublicKey::from_cose_key(&key)
                .map_err(|e| StateError(format!("corrupt pending key: {e}")))?;
            ensure_key_unused(rules, ctx, &new_key)?;
            let old = PublicKey::from_cose_key(&device.key)
                .map_err(|e| StateError(format!("corrupt device key: {e}")))?;
            // The old key stays unusable for any other registration.
            ctx.delete(keys::device_key(&old.thumbprint()));
            ctx.put(
                keys::revoked(&old.thumbprint()),
                ctx.block.time_ms.to_be_bytes().to_vec(),
            );
            ctx.put(
                keys::device_key(&new_key.thumbprint()),
                pending.device.to_vec(),
            );
            device.key = key;
        }
    }
    ctx.delete(pkey);
    ctx.put_record(dkey, &device);
    ctx.touch_history(&pending.device);
    Ok(())
}

/// `decommission`: the owner retires a device for good; its evidence is refused from then on.
pub fn decommission(ctx: &mut Ctx, signer: &Signer, stmt: &SignedStatement) -> RuleResult {
    let org = signer.org()?;
    let mut f = Fields::decode(stmt.payload()).map_err(bad("decommission"))?;
    let device_id = f
        .bytes(1, 1, MAX_DEVICE_ID_BYTES)
        .map_err(bad("decommission"))?;
    f.finish().map_err(bad("decommission"))?;
    let (dev, mut device) = active_device(ctx, &device_id)?;
    require_owner(&device, &org.iss)?;
    device.decommissioned_ms = Some(ctx.block.time_ms);
    // No longer exposed to advisories: it runs nothing.
    ctx.delete(keys::idx_fw(&device.fw, &dev));
    ctx.put_record(keys::device(&dev), &device);
    ctx.touch_history(&dev);
    Ok(())
}

/// The device a device-signed statement comes from: its `kid` must be a device's current key
/// and its `iss` that device's id in lowercase hex.
pub fn device_signer(
    ctx: &Ctx,
    stmt: &SignedStatement,
    verified: SignatureCheck,
) -> RuleResult<(Id, DeviceRecord)> {
    let Some(dev) = ctx.get(&keys::device_key(stmt.kid()))? else {
        let reason = if ctx.get(&keys::revoked(stmt.kid()))?.is_some() {
            Rejection::RevokedKey(hex::encode(stmt.kid()))
        } else {
            Rejection::UnknownIssuer(hex::encode(stmt.kid()))
        };
        return Err(reason.into());
    };
    let dev: Id = dev
        .try_into()
        .map_err(|_| StateError("corrupt device key record".into()))?;
    let Some(device) = ctx.record::<DeviceRecord>(&keys::device(&dev))? else {
        return Err(StateError("device key names a missing device".into()).into());
    };
    let iss = hex::encode(&device.id);
    if stmt.issuer() != iss {
        return Err(Rejection::IssuerMismatch {
            registered: iss,
            claimed: stmt.issuer().to_owned(),
        }
        .into());
    }
    if !matches!(verified, SignatureCheck::Verified) {
        let key = PublicKey::from_cose_key(&device.key)
            .map_err(|e| StateError(format!("corrupt device key: {e}")))?;
        verified.check(stmt, &key)?;
    }
    Ok((dev, device))
}

/// `rekey`: a device asks to rotate its key (signed by its current key); its owner approves
/// with `accept`.
pub fn rekey(
    rules: &Rules,
    ctx: &mut Ctx,
    dev: Id,
    device: &DeviceRecord,
    stmt: &SignedStatement,
) -> RuleResult {
    let mut f = Fields::decode(stmt.payload()).map_err(bad("rekey"))?;
    let device_id = f.bytes(1, 1, MAX_DEVICE_ID_BYTES).map_err(bad("rekey"))?;
    let key = f.key(2).map_err(bad("rekey"))?;
    f.finish().map_err(bad("rekey"))?;
    if device_id != device.id {
        return Err(Rejection::NotPermitted("a device speaks only for itself".into()).into());
    }
    if device.decommissioned_ms.is_some() {
        return Err(Rejection::Decommissioned(hex::encode(&device.id)).into());
    }
    ensure_key_unused(rules, ctx, &key)?;
    let pending = PendingRecord {
        device: dev,
        kind: PendingKind::Rekey {
            key: key.to_cose_key(),
        },
        created_ms: ctx.block.time_ms,
    };
    ctx.put_record(keys::pending(&ctx.entry), &pending);
    ctx.touch_history(&dev);
    Ok(())
}

/// `evidence`: a device reports what it runs (EAT-style claims), signed by its current key.
pub fn evidence(
    ctx: &mut Ctx,
    dev: Id,
    mut device: DeviceRecord,
    stmt: &SignedStatement,
) -> RuleResult {
    let mut f = Fields::decode(stmt.payload()).map_err(bad("evidence"))?;
    let device_id = f
        .bytes(1, 1, MAX_DEVICE_ID_BYTES)
        .map_err(bad("evidence"))?;
    let nonce = f
        .bytes(2, MIN_NONCE_BYTES, MAX_NONCE_BYTES)
        .map_err(bad("evidence"))?;
    let fw = f.digest(3).map_err(bad("evidence"))?;
    let svn = f.uint(4).map_err(bad("evidence"))?;
    let debug = f.uint(5).map_err(bad("evidence"))?;
    f.finish().map_err(bad("evidence"))?;
    if debug > 4 {
        return Err(Rejection::payload(
            "evidence",
            PayloadError::Invalid {
                label: 5,
                reason: "dbgstat is 0..=4 (EAT)",
            },
        )
        .into());
    }
    if device_id != device.id {
        return Err(Rejection::NotPermitted("a device speaks only for itself".into()).into());
    }
    if device.decommissioned_ms.is_some() {
        return Err(Rejection::Decommissioned(hex::encode(&device.id)).into());
    }
    let now = ctx.block.time_ms;
    check_nonce(ctx, &dev, &device, &nonce)?;
    let iat_ms = u64::try_from(stmt.issued_at())
        .map_err(|_| Rejection::Evidence("iat before 1970".into()))?
        .saturating_mul(1000);
    if iat_ms > now.saturating_add(MAX_CLOCK_SKEW_MS) {
        return Err(Rejection::Evidence(format!(
            "iat is {} s ahead of block time (at most {} s of clock skew)",
            (iat_ms - now) / 1000,
            MAX_CLOCK_SKEW_MS / 1000
        ))
        .into());
    }
    if now.saturating_sub(iat_ms) > MAX_EVIDENCE_AGE_MS {
        return Err(Rejection::Evidence(format!(
            "evidence is {} s old at registration (at most {} s)",
            (now - iat_ms) / 1000,
            MAX_EVIDENCE_AGE_MS / 1000
        ))
        .into());
    }
    if let Some(last) = &device.evidence {
        if iat_ms < last.iat_ms {
            return Err(Rejection::Evidence(
                "older than the device's latest registered evidence (replay or reordering)".into(),
            )
            .into());
        }
    }
    if let Some(highest) = device.highest_svn {
        if svn < highest && device.rollback.is_none() {
            device.rollback = Some((svn, highest));
        }
    }
    device.highest_svn = Some(device.highest_svn.map_or(svn, |h| h.max(svn)));
    if fw != device.fw {
        ctx.delete(keys::idx_fw(&device.fw, &dev));
        ctx.put(keys::idx_fw(&fw, &dev), Vec::new());
        device.fw = fw;
        device.fw_since_ms = now;
    }
    device.evidence = Some(EvidenceRecord {
        entry: ctx.entry,
        iat_ms,
        registered_ms: now,
        fw,
        svn,
        debug: debug as u8,
        nonce,
    });
    ctx.put_record(keys::device(&dev), &device);
    ctx.touch_history(&dev);
    Ok(())
}

/// The evidence nonce proves the evidence was signed recently: either a log root the ledger
/// anchored within the last [`NONCE_ROOT_WINDOW_MS`] (and still among the last
/// [`crate::MAX_ANCHORED_ROOTS`]), which cannot be known before the ledger made it, or a
/// challenge the device's owner registered (`challenges`), used once. A kept root is judged as
/// a root whatever else it might be, so nobody can turn the root everybody uses into a
/// challenge for their own devices. Judged at block time, like everything else.
fn check_nonce(ctx: &mut Ctx, dev: &Id, device: &DeviceRecord, nonce: &[u8]) -> RuleResult {
    if let Ok(root) = <[u8; 32]>::try_from(nonce) {
        if let Some(anchored) = anchors::lookup(ctx, &root)? {
            return check_root_age(ctx, &anchored);
        }
    }
    crate::challenges::redeem(ctx, dev, device, nonce)
}

fn check_root_age(ctx: &Ctx, anchored: &anchors::AnchoredRoot) -> RuleResult {
    let age = ctx.block.time_ms.saturating_sub(anchored.anchored_ms);
    if age > NONCE_ROOT_WINDOW_MS {
        return Err(Rejection::Evidence(format!(
            "the nonce root was anchored {} s before this block (at most {} s); fetch a new \
             one (GET /evidence-root) or use a challenge registered by the device's owner",
            age / 1000,
            NONCE_ROOT_WINDOW_MS / 1000
        ))
        .into());
    }
    Ok(())
}

/// `evidence-batch`: a gateway (an operator's key) submits many devices' evidence as one
/// statement. Each item is a complete device-signed evidence statement, judged as if submitted
/// alone; the batch is registered only if every item is.
pub fn evidence_batch(
    ctx: &mut Ctx,
    signer: &Signer,
    stmt: &SignedStatement,
    limits: &Limits,
) -> RuleResult {
    signer.require_role(Role::Operator)?;
    let items: Vec<Vec<u8>> = match ciborium::from_reader(stmt.payload()) {
        Ok(ciborium::value::Value::Array(items))
            if !items.is_empty() && items.len() <= MAX_EVIDENCE_BATCH =>
        {
            items
                .into_iter()
                .map(|v| match v {
                    ciborium::value::Value::Bytes(b) => Ok(b),
                    _ => Err(Rejection::Malformed(
                        "batch items must be byte strings".into(),
                    )),
                })
                .collect::<Result<_, _>>()?
        }
        _ => {
            return Err(Rejection::Malformed(format!(
                "evidence batch must be a CBOR array of 1..={MAX_EVIDENCE_BATCH} signed statements"
            ))
            .into())
        }
    };
    if !ctx.prechecked {
        verify_items(ctx, &items, limits)?;
    }
    for (i, bytes) in items.iter().enumerate() {
        batch_item(ctx, bytes, limits).map_err(|fail| match fail {
            Fail::Reject(r) => Fail::Reject(Rejection::BatchItem {
                index: i,
                reason: Box::new(r),
            }),
            other => other,
        })?;
    }
    Ok(())
}

/// Verifies the signatures of every item signed by a known device key in one batch (Ed25519
/// items in one batch equation, with the same ZIP-215 rules as single verification). Items that
/// do not parse or name no device are left to `batch_item`, which refuses them.
fn verify_items(ctx: &Ctx, items: &[Vec<u8>], limits: &Limits) -> RuleResult {
    let mut parsed = Vec::with_capacity(items.len());
    for (i, bytes) in items.iter().enumerate() {
        let Ok(item) = SignedStatement::parse(bytes, limits) else {
            continue;
        };
        let Some(dev) = ctx.get(&keys::device_key(item.kid()))? else {
            continue;
        };
        let dev: Id = dev
            .try_into()
            .map_err(|_| StateError("corrupt device key record".into()))?;
        let Some(device) = ctx.record::<DeviceRecord>(&keys::device(&dev))? else {
            continue;
        };
        let key = PublicKey::from_cose_key(&device.key)
            .map_err(|e| StateError(format!("corrupt device key: {e}")))?;
        parsed.push((i, item, key));
    }
    let pairs: Vec<(&SignedStatement, &PublicKey)> =
        parsed.iter().map(|(_, item, key)| (item, key)).collect();
    for ((i, _, _), result) in parsed.iter().zip(proverka_statement::verify_batch(&pairs)) {
        if let Err(e) = result {
            return Err(Rejection::BatchItem {
                index: *i,
                reason: Box::new(Rejection::from_signature(e)),
            }
            .into());
        }
    }
    Ok(())
}

/// Judges one item; its signature was verified by [`verify_items`] (or at submission).
fn batch_item(ctx: &mut Ctx, bytes: &[u8], limits: &Limits) -> RuleResult {
    let item =
        SignedStatement::parse(bytes, limits).map_err(|e| Rejection::Malformed(e.to_string()))?;
    if kinds::of(&item) != Some(kinds::EVIDENCE) {
        return Err(Rejection::Malformed("batch items must be evidence statements".into()).into());
    }
    let (dev, device) = device_signer(ctx, &item, SignatureCheck::Verified)?;
    evidence(ctx, dev, device, &item)
}

pub(crate) fn active_device(ctx: &Ctx, device_id: &[u8]) -> RuleResult<(Id, DeviceRecord)> {
    let dev = device_hash(device_id);
    let Some(device) = ctx.record::<DeviceRecord>(&keys::device(&dev))? else {
        return Err(Rejection::NotFound(format!("no device {}", hex::encode(device_id))).into());
    };
    if device.decommissioned_ms.is_some() {
        return Err(Rejection::Decommissioned(hex::encode(device_id)).into());
    }
    Ok((dev, device))
}

pub(crate) fn require_owner(device: &DeviceRecord, iss: &str) -> RuleResult {
    if device.owner != iss {
        return Err(Rejection::NotOwner {
            device: hex::encode(&device.id),
            owner: device.owner.clone(),
        }
        .into());
    }
    Ok(())
}

/// `policy`: an owner tightens the trust policy for its devices (each statement replaces the
/// previous one). Values looser than the safe defaults are refused (`docs/trust.md`).
pub fn policy(ctx: &mut Ctx, signer: &Signer, stmt: &SignedStatement) -> RuleResult {
    let org = signer.org()?;
    if !(org.has(Role::Operator) || org.has(Role::Manufacturer)) {
        return Err(Rejection::MissingRole {
            iss: org.iss.clone(),
            role: Role::Operator.name(),
        }
        .into());
    }
    let mut f = Fields::decode(stmt.payload()).map_err(bad("policy"))?;
    let record = crate::query::PolicyRecord {
        freshness_ms: f.opt_uint(1).map_err(bad("policy"))?,
        grace_ms: [
            f.opt_uint(2).map_err(bad("policy"))?,
            f.opt_uint(3).map_err(bad("policy"))?,
            f.opt_uint(4).map_err(bad("policy"))?,
            f.opt_uint(5).map_err(bad("policy"))?,
        ],
        debug_contraindicated: f.opt_bool(6).map_err(bad("policy"))?,
    };
    f.finish().map_err(bad("policy"))?;
    proverka_trust::Policy::default()
        .tightened(&record.to_override())
        .map_err(|e| Rejection::NotPermitted(format!("policy: {e}")))?;
    ctx.put_record(keys::policy(&org.iss), &record);
    Ok(())
}

/// `revoke-device`: the device's maker revokes its identity (a cloned or extracted key, a
/// provisioning error). The device key is revoked with it, so the device can sign nothing more,
/// and its status is contraindicated for good.
pub fn revoke_device(ctx: &mut Ctx, signer: &Signer, stmt: &SignedStatement) -> RuleResult {
    let maker = signer.require_role(Role::Manufacturer)?;
    let mut f = Fields::decode(stmt.payload()).map_err(bad("revoke-device"))?;
    let device_id = f
        .bytes(1, 1, MAX_DEVICE_ID_BYTES)
        .map_err(bad("revoke-device"))?;
    let _reason = f.opt_text(2).map_err(bad("revoke-device"))?;
    f.finish().map_err(bad("revoke-device"))?;
    let dev = device_hash(&device_id);
    let Some(mut device) = ctx.record::<DeviceRecord>(&keys::device(&dev))? else {
        return Err(Rejection::NotFound(format!("no device {}", hex::encode(&device_id))).into());
    };
    if device.maker != maker.iss {
        return Err(Rejection::NotPermitted(format!(
            "only its maker {} revokes a device's identity",
            device.maker
        ))
        .into());
    }
    if device.identity_revoked_ms.is_some() {
        return Err(Rejection::Conflict("the device's identity is already revoked".into()).into());
    }
    let key = PublicKey::from_cose_key(&device.key)
        .map_err(|e| StateError(format!("corrupt device key: {e}")))?;
    ctx.delete(keys::device_key(&key.thumbprint()));
    ctx.put(
        keys::revoked(&key.thumbprint()),
        ctx.block.time_ms.to_be_bytes().to_vec(),
    );
    device.identity_revoked_ms = Some(ctx.block.time_ms);
    ctx.put_record(keys::device(&dev), &device);
    ctx.touch_history(&dev);
    Ok(())
}
