//! Organisations and governance: joining by proposal and votes, adding and revoking keys.

use proverka_statement::{PublicKey, SignedStatement};

use crate::ctx::{Ctx, RuleResult};
use crate::issuers::IssuerRecord;
use crate::payload::{text_item, Fields, PayloadError};
use crate::records::{
    keys, ConstitutionRecord, GovAction, GovProposalRecord, Id, Kid, OrgRecord, ProposalRecord,
    Role,
};
use crate::rules::{Rejection, Rules, SignatureCheck, Signer, StateError};
use crate::validators;
use crate::ValidatorKeys;

/// A proposal (join or governance change) not decided within this time of block time lapses:
/// votes on it are refused, and a governance proposal about the same subject may replace it
/// (30 days).
pub const PROPOSAL_TTL_MS: u64 = 30 * 24 * 3_600_000;
/// Most governance members: a join with the governance role is refused beyond it, so the
/// constitution record stays small.
pub const MAX_GOVERNANCE_MEMBERS: usize = 64;
/// Most active keys an organisation holds at once.
pub const MAX_ORG_KEYS: usize = 16;

/// `join`: an applicant, not yet registered, asks to join. Self-signed: the statement's `kid`
/// is the thumbprint of the key it asks to register (proof of possession) and its `iss` the
/// organisation id it asks for.
pub(crate) fn join(
    rules: &Rules,
    ctx: &mut Ctx,
    stmt: &SignedStatement,
    verified: SignatureCheck,
) -> RuleResult {
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
    verified.check(stmt, &key)?;
    ensure_join_possible(rules, ctx, &iss, &roles, &key)?;
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

/// `vote`: a governance member approves or rejects a proposal (a join, or a governance change
/// opened by `propose`). Reaching the constitution's threshold of approvals carries it out;
/// reaching it in rejections closes it. Only current members' votes count.
pub fn vote(rules: &Rules, ctx: &mut Ctx, signer: &Signer, stmt: &SignedStatement) -> RuleResult {
    let kind = "vote";
    let org = signer.require_role(Role::Governance)?;
    let mut f = Fields::decode(stmt.payload()).map_err(|e| Rejection::payload(kind, e))?;
    let id = f.digest(1).map_err(|e| Rejection::payload(kind, e))?;
    let approve = f
        .opt_bool(2)
        .map_err(|e| Rejection::payload(kind, e))?
        .ok_or(Rejection::payload(kind, PayloadError::Missing(2)))?;
    f.finish().map_err(|e| Rejection::payload(kind, e))?;
    let constitution = rules.constitution(ctx)?;
    let key = keys::proposal(&id);
    if let Some(mut p) = ctx.record::<ProposalRecord>(&key)? {
        ensure_open(ctx, &id, p.created_ms)?;
        record_vote(&org.iss, approve, &mut p.approvals, &mut p.rejections)?;
        match tally(&constitution, &p.approvals, &p.rejections) {
            Tally::Approved => {
                let key_bytes = PublicKey::from_cose_key(&p.key)
                    .map_err(|e| StateError(format!("corrupt proposal key: {e}")))?;
                ensure_join_possible(rules, ctx, &p.iss, &p.roles, &key_bytes)?;
                admit(rules, ctx, &p, &key_bytes)?;
                ctx.delete(key);
            }
            Tally::Rejected => ctx.delete(key),
            Tally::Open => ctx.put_record(key, &p),
        }
        return Ok(());
    }
    let gkey = keys::gov_proposal(&id);
    let Some(mut p) = ctx.record::<GovProposalRecord>(&gkey)? else {
        return Err(Rejection::NotFound(format!("no open proposal {}", hex::encode(id))).into());
    };
    ensure_open(ctx, &id, p.created_ms)?;
    record_vote(&org.iss, approve, &mut p.approvals, &mut p.rejections)?;
    match tally(&constitution, &p.approvals, &p.rejections) {
        Tally::Approved => {
            // Checked again: the organisation or the members may have changed since.
            check_action(rules, ctx, &constitution, &p.action)?;
            carry_out(rules, ctx, constitution, &p.action)?;
            ctx.delete(gkey);
            ctx.delete(keys::gov_open(&p.action.subject()));
        }
        Tally::Rejected => {
            ctx.delete(gkey);
            ctx.delete(keys::gov_open(&p.action.subject()));
        }
        Tally::Open => ctx.put_record(gkey, &p),
    }
    Ok(())
}

/// `propose`: a governance member proposes a governance change (remove another organisation's
/// key, remove an organisation, amend the threshold). Opens a proposal under its entry id that
/// members then vote on; proposing is not voting. At most one open proposal per subject: a
/// lapsed one is replaced.
pub fn propose(
    rules: &Rules,
    ctx: &mut Ctx,
    signer: &Signer,
    stmt: &SignedStatement,
) -> RuleResult {
    let kind = "propose";
    let org = signer.require_role(Role::Governance)?;
    let bad = |e| Rejection::payload(kind, e);
    let mut f = Fields::decode(stmt.payload()).map_err(bad)?;
    let action = match f.text(1).map_err(bad)?.as_str() {
        "remove-key" => GovAction::RemoveKey {
            iss: f.text(2).map_err(bad)?,
            kid: Kid(f.digest(3).map_err(bad)?),
        },
        "remove-org" => GovAction::RemoveOrg {
            iss: f.text(2).map_err(bad)?,
        },
        "threshold" => GovAction::Threshold {
            threshold: f.uint(4).map_err(bad)?,
        },
        "add-validator" => GovAction::AddValidator {
            keys: validator_keys(&mut f).map_err(bad)?,
        },
        "remove-validator" => GovAction::RemoveValidator {
            validator: hex::encode(f.bytes(6, 32, 32).map_err(bad)?),
        },
        "rotate-validator" => GovAction::RotateValidator {
            replaces: hex::encode(f.bytes(10, 32, 32).map_err(bad)?),
            keys: validator_keys(&mut f).map_err(bad)?,
        },
        _ => {
            return Err(bad(PayloadError::Invalid {
                label: 1,
                reason: "action must be \"remove-key\", \"remove-org\", \"threshold\", \
                         \"add-validator\", \"remove-validator\" or \"rotate-validator\"",
            })
            .into())
        }
    };
    f.finish().map_err(bad)?;
    let constitution = rules.constitution(ctx)?;
    check_action(rules, ctx, &constitution, &action)?;
    let open = keys::gov_open(&action.subject());
    if let Some(open_id) = ctx.get(&open)? {
        let open_id: Id = open_id
            .try_into()
            .map_err(|_| StateError("corrupt open-proposal index".into()))?;
        let okey = keys::gov_proposal(&open_id);
        if let Some(p) = ctx.record::<GovProposalRecord>(&okey)? {
            if !lapsed(ctx, p.created_ms) {
                return Err(Rejection::Conflict(format!(
                    "proposal {} about the same change is open until {} (block time, ms); vote on it",
                    hex::encode(open_id),
                    p.created_ms.saturating_add(PROPOSAL_TTL_MS)
                ))
                .into());
            }
            ctx.delete(okey); // lapsed: this proposal replaces it
        }
    }
    ctx.put(open, ctx.entry.to_vec());
    let record = GovProposalRecord {
        action,
        proposer: org.iss.clone(),
        created_ms: ctx.block.time_ms,
        approvals: Vec::new(),
        rejections: Vec::new(),
    };
    ctx.put_record(keys::gov_proposal(&ctx.entry), &record);
    Ok(())
}

/// Longest note verifier key accepted in a validator-set change (C2SP keys are ~100 bytes).
const MAX_VKEY_BYTES: usize = 512;

/// A validator's keys in a `propose` payload: consensus key (6), receipt key as a COSE_Key
/// (7), checkpoint and cosigner note verifier keys (8, 9).
fn validator_keys(f: &mut Fields) -> Result<ValidatorKeys, PayloadError> {
    let validator = hex::encode(f.bytes(6, 32, 32)?);
    let receipt_key = hex::encode(f.key(7)?.to_cose_key());
    let mut vkey = |label, what| {
        let v = f.text(label)?;
        if v.len() > MAX_VKEY_BYTES {
            return Err(PayloadError::Invalid {
                label,
                reason: what,
            });
        }
        Ok(v)
    };
    let checkpoint_vkey = vkey(8, "checkpoint key longer than 512 bytes")?;
    let cosigner_vkey = vkey(9, "cosigner key longer than 512 bytes")?;
    Ok(ValidatorKeys {
        validator,
        receipt_key,
        checkpoint_vkey,
        cosigner_vkey,
    })
}

fn lapsed(ctx: &Ctx, created_ms: u64) -> bool {
    ctx.block.time_ms > created_ms.saturating_add(PROPOSAL_TTL_MS)
}

fn ensure_open(ctx: &Ctx, id: &Id, created_ms: u64) -> RuleResult {
    if lapsed(ctx, created_ms) {
        return Err(Rejection::Expired(format!(
            "proposal {} lapsed at {} (block time, ms): proposals lapse {} days after they \
             open; propose again",
            hex::encode(id),
            created_ms.saturating_add(PROPOSAL_TTL_MS),
            PROPOSAL_TTL_MS / 86_400_000
        ))
        .into());
    }
    Ok(())
}

fn record_vote(
    iss: &str,
    approve: bool,
    approvals: &mut Vec<String>,
    rejections: &mut Vec<String>,
) -> RuleResult {
    if approvals.iter().chain(rejections.iter()).any(|v| v == iss) {
        return Err(Rejection::Conflict(format!("{iss} already voted on this proposal")).into());
    }
    if approve {
        approvals.push(iss.to_owned());
    } else {
        rejections.push(iss.to_owned());
    }
    Ok(())
}

enum Tally {
    Approved,
    Rejected,
    Open,
}

/// Counts only the votes of current members (a removed member's earlier vote no longer counts).
fn tally(c: &ConstitutionRecord, approvals: &[String], rejections: &[String]) -> Tally {
    let count = |votes: &[String]| votes.iter().filter(|v| c.members.contains(v)).count() as u64;
    if count(approvals) >= c.threshold {
        Tally::Approved
    } else if count(rejections) >= c.threshold {
        Tally::Rejected
    } else {
        Tally::Open
    }
}

/// Whether a governance change can be carried out now (at proposal and again at execution).
fn check_action(
    rules: &Rules,
    ctx: &Ctx,
    constitution: &ConstitutionRecord,
    action: &GovAction,
) -> RuleResult {
    match action {
        GovAction::RemoveKey { iss, kid } => {
            let org = existing_org(rules, ctx, iss)?;
            if !org.keys.contains(kid) {
                return Err(Rejection::NotFound(format!(
                    "{iss} has no active key {}",
                    hex::encode(kid.0)
                ))
                .into());
            }
            if org.keys.len() == 1 {
                return Err(Rejection::Conflict(format!(
                    "that is {iss}'s last active key: propose removing the organisation instead"
                ))
                .into());
            }
        }
        GovAction::RemoveOrg { iss } => {
            existing_org(rules, ctx, iss)?;
            if constitution.members.len() == 1 && constitution.members.contains(iss) {
                return Err(Rejection::Conflict(
                    "the last governance member cannot be removed".into(),
                )
                .into());
            }
        }
        GovAction::AddValidator { .. }
        | GovAction::RemoveValidator { .. }
        | GovAction::RotateValidator { .. } => {
            validators::check(ctx, rules.genesis(), action)?;
        }
        GovAction::Threshold { threshold } => {
            let members = constitution.members.len() as u64;
            if *threshold < 1 || *threshold > members {
                return Err(Rejection::NotPermitted(format!(
                    "threshold {threshold} is out of bounds: 1..={members} (the number of \
                     governance members)"
                ))
                .into());
            }
        }
    }
    Ok(())
}

/// An organisation that exists and was not removed.
fn existing_org(rules: &Rules, ctx: &Ctx, iss: &str) -> RuleResult<OrgRecord> {
    match rules.org(ctx, iss)? {
        Some(org) if !org.keys.is_empty() => Ok(org),
        Some(_) => Err(Rejection::Conflict(format!("organisation {iss:?} was removed")).into()),
        None => Err(Rejection::NotFound(format!("no organisation {iss:?}")).into()),
    }
}

fn revoke_kid(ctx: &mut Ctx, kid: &Kid) {
    ctx.put(
        keys::revoked(&kid.0),
        ctx.block.time_ms.to_be_bytes().to_vec(),
    );
}

fn carry_out(
    rules: &Rules,
    ctx: &mut Ctx,
    mut constitution: ConstitutionRecord,
    action: &GovAction,
) -> RuleResult {
    match action {
        GovAction::RemoveKey { iss, kid } => {
            let mut org = existing_org(rules, ctx, iss)?;
            org.keys.retain(|k| k != kid);
            revoke_kid(ctx, kid);
            ctx.put_record(keys::org(iss), &org);
        }
        GovAction::RemoveOrg { iss } => {
            let mut org = existing_org(rules, ctx, iss)?;
            for kid in std::mem::take(&mut org.keys) {
                revoke_kid(ctx, &kid);
            }
            // The record stays (roles and keys empty) so the name can never be taken again.
            org.roles.clear();
            ctx.put_record(keys::org(iss), &org);
            if constitution.members.contains(iss) {
                constitution.members.retain(|m| m != iss);
                // Keeps the bound 1..=members: fewer members cannot need more votes.
                let members = constitution.members.len() as u64;
                constitution.threshold = constitution.threshold.min(members).max(1);
                ctx.put_record(keys::CONSTITUTION.to_vec(), &constitution);
            }
        }
        GovAction::Threshold { threshold } => {
            constitution.threshold = *threshold;
            ctx.put_record(keys::CONSTITUTION.to_vec(), &constitution);
        }
        GovAction::AddValidator { .. }
        | GovAction::RemoveValidator { .. }
        | GovAction::RotateValidator { .. } => {
            validators::carry_out(ctx, rules.genesis(), action)?;
        }
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

fn admit(rules: &Rules, ctx: &mut Ctx, p: &ProposalRecord, key: &PublicKey) -> RuleResult {
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
    if p.roles.contains(&Role::Governance) {
        let mut constitution = rules.constitution(ctx)?;
        if !constitution.members.contains(&p.iss) {
            constitution.members.push(p.iss.clone());
            constitution.members.sort();
            ctx.put_record(keys::CONSTITUTION.to_vec(), &constitution);
        }
    }
    Ok(())
}

fn ensure_join_possible(
    rules: &Rules,
    ctx: &Ctx,
    iss: &str,
    roles: &[Role],
    key: &PublicKey,
) -> RuleResult {
    if rules.org(ctx, iss)?.is_some() {
        return Err(Rejection::Conflict(format!("organisation {iss:?} already exists")).into());
    }
    if roles.contains(&Role::Governance)
        && rules.constitution(ctx)?.members.len() >= MAX_GOVERNANCE_MEMBERS
    {
        return Err(Rejection::Conflict(format!(
            "governance already has {MAX_GOVERNANCE_MEMBERS} members, the most it may have"
        ))
        .into());
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
