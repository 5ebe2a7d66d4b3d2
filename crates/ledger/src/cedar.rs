//! Operators' Cedar policies as ledger data: each `cedar-policy` statement is a new version of
//! its owner's policy set, admitted (parsed and strictly validated) before it is registered.

use ciborium::value::Value;
use proverka_statement::SignedStatement;

use crate::ctx::{Ctx, RuleResult};
use crate::payload::{Fields, PayloadError};
use crate::records::{keys, CedarPolicyRecord, Role};
use crate::rules::{Rejection, Signer};

/// The payload kind named in refusals.
pub const CEDAR_KIND: &str = "cedar-policy";

fn bad(e: PayloadError) -> Rejection {
    Rejection::payload(CEDAR_KIND, e)
}

/// Reads field 2: an array of `[id, text]` pairs. Counts and sizes are judged by admission so
/// that each refusal names its category.
fn policy_pairs(value: Value) -> Result<Vec<(String, String)>, Rejection> {
    let shape = || {
        bad(PayloadError::Invalid {
            label: 2,
            reason: "must be an array of [policy id, Cedar text] pairs",
        })
    };
    let Value::Array(items) = value else {
        return Err(shape());
    };
    if items.len() > proverka_policy::MAX_POLICIES {
        return Err(bad(PayloadError::CedarPolicy(
            proverka_policy::AdmissionError::TooMany { count: items.len() },
        )));
    }
    items
        .into_iter()
        .map(|item| match item {
            Value::Array(pair) => match <[Value; 2]>::try_from(pair) {
                Ok([Value::Text(id), Value::Text(text)]) => Ok((id, text)),
                _ => Err(shape()),
            },
            _ => Err(shape()),
        })
        .collect()
}

/// `cedar-policy`: an operator registers the Cedar policy set for the devices it owns.
///
/// Refused unless the signer is an organisation with the operator role and is the owner the
/// payload names; unless `supersedes` is the version in force (absent for the first set); and
/// unless the set is admitted by `proverka_policy::check_policy_set` (a pure function of the
/// texts). Writes the new version to `cedar/` ‖ SHA-256(owner) and `cedar-v/` ‖ … ‖ version.
pub fn register(ctx: &mut Ctx, signer: &Signer, stmt: &SignedStatement) -> RuleResult {
    let org = signer.require_role(Role::Operator)?;
    let mut f = Fields::decode(stmt.payload()).map_err(bad)?;
    let owner = f.text(1).map_err(bad)?;
    let policies = policy_pairs(f.raw(2).map_err(bad)?)?;
    let supersedes = f.opt_uint(3).map_err(bad)?;
    f.finish().map_err(bad)?;
    if owner != org.iss {
        return Err(Rejection::NotPermitted(format!(
            "{} writes Cedar policies only for its own devices, not for {owner}",
            org.iss
        ))
        .into());
    }
    let current = ctx.record::<CedarPolicyRecord>(&keys::cedar(&owner))?;
    let in_force = current.as_ref().map(|c| c.version);
    if supersedes != in_force {
        let now = match in_force {
            Some(v) => format!("version {v} is in force"),
            None => "no version is in force yet".to_owned(),
        };
        let said = match supersedes {
            Some(v) => format!("supersedes {v}"),
            None => "names no version to supersede".to_owned(),
        };
        return Err(
            Rejection::Conflict(format!("Cedar policy set of {owner} {said}, but {now}")).into(),
        );
    }
    proverka_policy::check_policy_set(&policies).map_err(|e| bad(PayloadError::CedarPolicy(e)))?;
    let record = CedarPolicyRecord {
        owner,
        version: in_force.map_or(1, |v| v.saturating_add(1)),
        entry: ctx.entry,
        height: ctx.block.height,
        time_ms: ctx.block.time_ms,
        policies,
    };
    ctx.put_record(keys::cedar_version(&record.owner, record.version), &record);
    ctx.put_record(keys::cedar(&record.owner), &record);
    Ok(())
}
