//! Firmware releases and vulnerability advisories.

use proverka_statement::SignedStatement;

use crate::ctx::{Ctx, RuleResult};
use crate::payload::{digest_item, text_item, Fields, PayloadError};
use crate::records::{
    advisory_key_id, keys, model_id, AdvisoryRecord, Id, Kid, ModelFactsRecord, ModelRecord,
    ReleaseRecord, Role, MAX_ADVISORIES_PER_MODEL, MAX_RELEASES_PER_MODEL,
};
use crate::rules::{Rejection, Signer};

/// Severity levels, as written in payloads (0..=3).
pub const SEVERITY_NAMES: [&str; 4] = ["low", "medium", "high", "critical"];

fn bad(kind: &'static str) -> impl Fn(PayloadError) -> Rejection {
    move |e| Rejection::payload(kind, e)
}

/// The CVSS v3 band of a base score given in tenths (0..=100): low < 4.0 ≤ medium < 7.0 ≤
/// high < 9.0 ≤ critical.
pub fn severity_of_cvss(tenths: u64) -> Option<u8> {
    match tenths {
        0..=39 => Some(0),
        40..=69 => Some(1),
        70..=89 => Some(2),
        90..=100 => Some(3),
        _ => None,
    }
}

/// `release`: a manufacturer publishes a firmware release of its own model, or revokes one.
pub fn release(ctx: &mut Ctx, signer: &Signer, stmt: &SignedStatement) -> RuleResult {
    let maker = signer.require_role(Role::Manufacturer)?;
    let mut f = Fields::decode(stmt.payload()).map_err(bad("release"))?;
    let model_name = f.text(1).map_err(bad("release"))?;
    let version = f.text(2).map_err(bad("release"))?;
    let digest = f.digest(3).map_err(bad("release"))?;
    let svn = f.uint(4).map_err(bad("release"))?;
    let supersedes = f.opt_digest(5).map_err(bad("release"))?;
    let security = f.opt_uint(6).map_err(bad("release"))?;
    let revoked = f.opt_bool(7).map_err(bad("release"))?.unwrap_or(false);
    f.finish().map_err(bad("release"))?;
    if security.is_some_and(|s| s > 3) {
        let reason = "security severity is 0 low, 1 medium, 2 high, 3 critical";
        return Err(
            Rejection::payload("release", PayloadError::Invalid { label: 6, reason }).into(),
        );
    }
    let model = model_id(&maker.iss, &model_name);
    if ctx.get(&keys::model(&model))?.is_none() {
        return Err(Rejection::NotFound(format!(
            "{} has no model {model_name:?}: a maker publishes releases only for its own models",
            maker.iss
        ))
        .into());
    }
    if let Some(prev) = supersedes {
        if prev == digest || ctx.get(&keys::release(&model, &prev))?.is_none() {
            return Err(Rejection::NotFound(format!(
                "superseded release {} is not a release of this model",
                hex::encode(prev)
            ))
            .into());
        }
    }
    let record = ReleaseRecord {
        model,
        version,
        digest,
        svn,
        supersedes: supersedes.map(Kid),
        security: security.map(|s| s as u8),
        published_ms: ctx.block.time_ms,
        revoked,
    };
    let key = keys::release(&model, &digest);
    let record = match ctx.record::<ReleaseRecord>(&key)? {
        None => {
            add_fact(ctx, &model, digest, Fact::Release)?;
            record
        }
        Some(existing) => revocation_of(existing, record)?,
    };
    ctx.put_record(key, &record);
    Ok(())
}

/// A release, once published, changes only by being revoked: same fields, `revoked` set.
fn revocation_of(existing: ReleaseRecord, new: ReleaseRecord) -> RuleResult<ReleaseRecord> {
    let same = existing.version == new.version
        && existing.svn == new.svn
        && existing.supersedes == new.supersedes
        && existing.security == new.security;
    if !same || existing.revoked || !new.revoked {
        return Err(Rejection::Conflict(
            "release already published; it can only be revoked (same fields, revoked = true)"
                .into(),
        )
        .into());
    }
    Ok(ReleaseRecord {
        revoked: true,
        ..existing
    })
}

/// `advisory`: the maker of a model, or a security authority, publishes, updates or withdraws
/// an advisory about it. An advisory is identified by (issuer, id); a later statement with the
/// same pair replaces it (revision + 1).
pub fn advisory(ctx: &mut Ctx, signer: &Signer, stmt: &SignedStatement) -> RuleResult {
    let org = signer.org()?;
    let mut f = Fields::decode(stmt.payload()).map_err(bad("advisory"))?;
    let id = f.text(1).map_err(bad("advisory"))?;
    let maker = f.text(2).map_err(bad("advisory"))?;
    let model_name = f.text(3).map_err(bad("advisory"))?;
    let versions = f.opt_array(4, text_item).map_err(bad("advisory"))?;
    let digests = f.opt_array(5, digest_item).map_err(bad("advisory"))?;
    let cvss = f.opt_uint(6).map_err(bad("advisory"))?;
    let level = f.opt_uint(7).map_err(bad("advisory"))?;
    let exploited = f.opt_bool(8).map_err(bad("advisory"))?.unwrap_or(false);
    let fixed_in = f.opt_digest(9).map_err(bad("advisory"))?;
    let refs = f.opt_array(10, text_item).map_err(bad("advisory"))?;
    let withdrawn = f.opt_bool(11).map_err(bad("advisory"))?.unwrap_or(false);
    f.finish().map_err(bad("advisory"))?;

    let is_maker = org.iss == maker && org.has(Role::Manufacturer);
    if !is_maker && !org.has(Role::SecurityAuthority) {
        return Err(Rejection::NotPermitted(format!(
            "only {maker} (its maker) or a security authority publishes advisories about this model"
        ))
        .into());
    }
    let severity = severity(cvss, level)?;
    if versions.is_empty() && digests.is_empty() {
        let reason = "name the affected versions (4) or firmware digests (5)";
        return Err(
            Rejection::payload("advisory", PayloadError::Invalid { label: 4, reason }).into(),
        );
    }
    let model = model_id(&maker, &model_name);
    if ctx.record::<ModelRecord>(&keys::model(&model))?.is_none() {
        return Err(Rejection::NotFound(format!("{maker} has no model {model_name:?}")).into());
    }
    let adv = advisory_key_id(&org.iss, &id);
    let key = keys::advisory(&adv);
    let now = ctx.block.time_ms;
    let previous = ctx.record::<AdvisoryRecord>(&key)?;
    if let Some(p) = &previous {
        if p.model != model {
            return Err(
                Rejection::Conflict("an advisory update cannot change its model".into()).into(),
            );
        }
    }
    let record = AdvisoryRecord {
        issuer: org.iss.clone(),
        id,
        model,
        versions,
        digests: digests.into_iter().map(Kid).collect(),
        cvss: cvss.map(|c| c as u8),
        severity,
        exploited,
        fixed_in: fixed_in.map(Kid),
        refs,
        published_ms: previous.as_ref().map_or(now, |p| p.published_ms),
        updated_ms: now,
        revision: previous
            .as_ref()
            .map_or(1, |p| p.revision.saturating_add(1)),
        withdrawn,
    };
    ctx.put_record(key, &record);
    if previous.is_none() {
        add_fact(ctx, &model, adv, Fact::Advisory)?;
    }
    Ok(())
}

enum Fact {
    Release,
    Advisory,
}

/// Lists a new release or advisory in the model's `facts/` manifest (bounded).
fn add_fact(ctx: &mut Ctx, model: &Id, id: Id, fact: Fact) -> RuleResult<()> {
    let key = keys::facts(model);
    let mut facts = ctx.record::<ModelFactsRecord>(&key)?.unwrap_or_default();
    let (list, max, what) = match fact {
        Fact::Release => (&mut facts.releases, MAX_RELEASES_PER_MODEL, "releases"),
        Fact::Advisory => (
            &mut facts.advisories,
            MAX_ADVISORIES_PER_MODEL,
            "advisories",
        ),
    };
    if !ModelFactsRecord::insert(list, id, max) {
        return Err(Rejection::Conflict(format!(
            "the model already has {max} {what}, the most one model may have"
        ))
        .into());
    }
    ctx.put_record(key, &facts);
    Ok(())
}

fn severity(cvss: Option<u64>, level: Option<u64>) -> RuleResult<u8> {
    let from_cvss = match cvss {
        None => None,
        Some(c) => Some(severity_of_cvss(c).ok_or(Rejection::payload(
            "advisory",
            PayloadError::Invalid {
                label: 6,
                reason: "CVSS score in tenths is 0..=100",
            },
        ))?),
    };
    let level = match level {
        None => None,
        Some(l) if l <= 3 => Some(l as u8),
        Some(_) => {
            let reason = "severity level is 0 low, 1 medium, 2 high, 3 critical";
            return Err(
                Rejection::payload("advisory", PayloadError::Invalid { label: 7, reason }).into(),
            );
        }
    };
    match (from_cvss, level) {
        (Some(a), Some(b)) if a != b => Err(Rejection::payload(
            "advisory",
            PayloadError::Invalid {
                label: 7,
                reason: "severity level contradicts the CVSS score",
            },
        )
        .into()),
        (Some(s), _) | (None, Some(s)) => Ok(s),
        (None, None) => Err(Rejection::payload(
            "advisory",
            PayloadError::Invalid {
                label: 6,
                reason: "give a CVSS score (6) or a severity level (7)",
            },
        )
        .into()),
    }
}
