//! Organisations and governance: joining by proposal and votes, adding and revoking keys.

use proverka_statement::{PublicKey, SignedStatement};

use crate::ctx::{Ctx, RuleResult};
use crate::issuers::IssuerRecord;
use crate::payload::{text_item, Fields};
use crate::records::{keys, Kid, OrgRecord, ProposalRecord, Role};
use crate::rules::{Rejection, Rules, Signer};

/// A join proposal not approved within this time can no longer be voted on (30 days).
pub const PROPOSAL_TTL_MS: u64 = 30 * 24 * 3_600_000;
/// Most active keys an organisation holds at once.
pub const MAX_ORG_KEYS: usize = 16;

/// `join`: an applicant, not yet registered, asks to join. Self-signed: the statement's `kid`
/// is the thumbprint of the key it asks to register (proof of possession) and its `iss` the
/// organisation id it asks for.
pub fn join(rules: &Rules, ctx: &mut Ctx, stmt: &SignedStatement, verified: bool) -> RuleResult {
    let kind = "join";
    let mut f = Fields::decode(stmt.payload()).map_err(|e| Rejection::payload(kind, e))?;
    let iss = f.text(1).map_err(|e| Rejection::payload(kind, e))?;
    let name = f.text(2).map_err(|e| Rejection::payload(kind, e))?;
    let roles = roles(&mut f, 3).map_err(|e| Rejection::payload(kind, e))?;
    let key = f.key(4).map_err(|e| Rejection::payload(kind, e))?;
    f.finish().map_err(|e| Rejection::payload(kind, e))?;
    if key.thumbprint() != *stmt.kid() {
        return Err(Rejection::NotPermitted(
            "a join must be signed by the key it registers (kid = its thumbprint)".into(),
        )
        .into());
    }
    if stmt.issuer() != iss {
        return Err(Rejection::NotPermitted(format!(
            "a join's iss must be the organisation it asks for ({iss:?})"
        ))
        .into());
    }
    if !verified {
        stmt.verify(&key).map_err(Rejection::from_signature)?;
    }
    ensure_join_possible(rules, ctx, &iss, &key)?;
    let proposal = ProposalRecord {
        iss,
        name,
        roles,
        key: key.to_cose_key(),
        created_ms: ctx.block.time_ms,
        approvals: Vec::new(),
        rejections: Vec::new(),
    };
    let key = keys::proposal(&ctx.entry);
    ctx.put_record(key, &proposal);
    Ok(())
}

/// `vote`: a governance member approves or rejects a join proposal. Reaching the constitution's
/// threshold of approvals registers the organisation and its key; reaching it in rejections
/// closes the proposal.
pub fn vote(rules: &Rules, ctx: &mut Ctx, signer: &Signer, stmt: &SignedStatement) -> RuleResult {
    let kind = "vote";
    let org = signer.require_role(Role::Governance)?;
    let mut f = Fields::decode(stmt.payload()).map_err(|e| Rejection::payload(kind, e))?;
    let id = f.digest(1).map_err(|e| Rejection::payload(kind, e))?;
    let approve = f
        .opt_bool(2)
        .map_err(|e| Rejection::payload(kind, e))?
        .ok_or(Rejection::payload(
            kind,
            crate::payload::PayloadError::Missing(2),
        ))?;
    f.finish().map_err(|e| Rejection::payload(kind, e))?;
    let key = keys::proposal(&id);
    let Some(mut p) = ctx.record::<ProposalRecord>(&key)? else {
        return Err(Rejection::NotFound(format!("no open proposal {}", hex::encode(id))).into());
    };
    if ctx.block.time_ms > p.created_ms.saturating_add(PROPOSAL_TTL_MS) {
        return Err(Rejection::Expired(format!("proposal {} expired", hex::encode(id))).into());
    }
    if p.approvals.contains(&org.iss) || p.rejections.contains(&org.iss) {
        return Err(
            Rejection::Conflict(format!("{} already voted on this proposal", org.iss)).into(),
        );
    }
    let threshold = rules.governance_threshold();
    if approve {
        p.approvals.push(org.iss.clone());
    } else {
        p.rejections.push(org.iss.clone());
    }
    if p.approvals.len() >= threshold {
        let key_bytes = PublicKey::from_cose_key(&p.key)
            .map_err(|e| crate::rules::StateError(format!("corrupt proposal key: {e}")))?;
        ensure_join_possible(rules, ctx, &p.iss, &key_bytes)?;
        admit(ctx, &p, &key_bytes);
        ctx.delete(key);
    } else if p.rejections.len() >= threshold {
        ctx.delete(key);
    } else {
        ctx.put_record(key, &p);
    }
    Ok(())
}

/// `org-key`: an organisation adds a key, or revokes one of its keys (rotation = add, then
/// revoke). Signed by one of its active keys.
pub fn org_key(
    rules: &Rules,
    ctx: &mut Ctx,
    signer: &Signer,
    stmt: &SignedStatement,
) -> RuleResult {
    let kind = "org-key";
    let mut org = signer.org()?.clone();
    let mut f = Fields::decode(stmt.payload()).map_err(|e| Rejection::payload(kind, e))?;
    let action = f.text(1).map_err(|e| Rejection::payload(kind, e))?;
    match action.as_str() {
        "add" => {
            let key = f.key(2).map_err(|e| Rejection::payload(kind, e))?;
            f.finish().map_err(|e| Rejection::payload(kind, e))?;
            if org.keys.len() >= MAX_ORG_KEYS {
                return Err(Rejection::Conflict(format!(
                    "an organisation holds at most {MAX_ORG_KEYS} active keys; revoke one first"
                ))
                .into());
            }
            ensure_key_unused(rules, ctx, &key)?;
            let record = IssuerRecord {
                iss: org.iss.clone(),
                key: key.clone(),
                admin: false,
            };
            ctx.put(record.state_key(), record.encode());
            org.keys.push(Kid(key.thumbprint()));
        }
        "revoke" => {
            let kid = f.digest(3).map_err(|e| Rejection::payload(kind, e))?;
            f.finish().map_err(|e| Rejection::payload(kind, e))?;
            let Some(pos) = org.keys.iter().position(|k| k.0 == kid) else {
                return Err(Rejection::NotFound(format!(
                    "{} has no active key {}",
                    org.iss,
                    hex::encode(kid)
                ))
                .into());
            };
            if org.keys.len() == 1 {
                return Err(Rejection::Conflict(
                    "cannot revoke an organisation's last active key; add a new key first".into(),
                )
                .into());
            }
            org.keys.remove(pos);
            ctx.put(
                keys::revoked(&kid),
                ctx.block.time_ms.to_be_bytes().to_vec(),
            );
        }
        _ => {
            return Err(Rejection::payload(
                kind,
                crate::payload::PayloadError::Invalid {
                    label: 1,
                    reason: "action must be \"add\" or \"revoke\"",
                },
            )
            .into())
        }
    }
    ctx.put_record(keys::org(&org.iss), &org);
    Ok(())
}

fn admit(ctx: &mut Ctx, p: &ProposalRecord, key: &PublicKey) {
    let org = OrgRecord {
        iss: p.iss.clone(),
        name: p.name.clone(),
        roles: p.roles.clone(),
        keys: vec![Kid(key.thumbprint())],
        joined_ms: ctx.block.time_ms,
    };
    ctx.put_record(keys::org(&org.iss), &org);
    let issuer = IssuerRecord {
        iss: p.iss.clone(),
        key: key.clone(),
        admin: false,
    };
    ctx.put(issuer.state_key(), issuer.encode());
}

fn ensure_join_possible(rules: &Rules, ctx: &Ctx, iss: &str, key: &PublicKey) -> RuleResult {
    if rules.org(ctx, iss)?.is_some() {
        return Err(Rejection::Conflict(format!("organisation {iss:?} already exists")).into());
    }
    ensure_key_unused(rules, ctx, key)
}

/// A key may serve one role only: one organisation's key, or one device's key, once ever
/// (a revoked key stays registered, so it can never come back).
pub fn ensure_key_unused(rules: &Rules, ctx: &Ctx, key: &PublicKey) -> RuleResult {
    let kid = key.thumbprint();
    // `issuer` covers genesis and registered issuer keys (`issuer/` ‖ kid).
    let in_use = rules.issuer(ctx, &kid)?.is_some()
        || ctx.get(&keys::device_key(&kid))?.is_some()
        || ctx.get(&keys::revoked(&kid))?.is_some();
    if in_use {
        return Err(
            Rejection::Conflict(format!("key {} is already registered", hex::encode(kid))).into(),
        );
    }
    Ok(())
}

fn roles(f: &mut Fields, label: u64) -> Result<Vec<Role>, crate::payload::PayloadError> {
    let names = f.array(label, text_item)?;
    let mut roles = Vec::with_capacity(names.len());
    for n in names {
        let role = Role::from_name(&n).ok_or(crate::payload::PayloadError::Invalid {
            label,
            reason:
                "unknown role (manufacturer, operator, security-authority, auditor, governance)",
        })?;
        if !roles.contains(&role) {
            roles.push(role);
        }
    }
    roles.sort();
    Ok(roles)
}
