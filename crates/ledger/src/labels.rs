//! Device labels: the zone and tags an owner gives its devices, which operators' Cedar policies
//! read (`resource in Proverka::Zone::"north"`, `resource.tags.contains("pump")`).
//!
//! Labels are the owner's own placement of a device, so only the current owner sets them, and
//! a transfer clears them (`devices::accept`): a new owner starts with no zone and no tags
//! rather than inheriting a placement from an organisation it does not trust.

use ciborium::value::Value;
use proverka_statement::SignedStatement;
use serde::{Deserialize, Serialize};

use crate::ctx::{Ctx, RuleResult};
use crate::devices::{active_device, require_owner, MAX_DEVICE_ID_BYTES};
use crate::payload::{Fields, PayloadError};
use crate::records::{keys, Id};
use crate::rules::{Rejection, Signer};

/// Most tags on one device. A Cedar entity carries every tag of both devices of a command, so
/// the bound keeps entity building (per pair, at the gateway) small.
pub const MAX_TAGS: usize = 32;
/// Longest tag and longest zone name, in bytes (UTF-8, no control characters).
pub const MAX_LABEL_BYTES: usize = 64;

/// The payload kind named in refusals.
const KIND: &str = "labels";

/// A device's labels as stored under `labels/` ‖ SHA-256(device id). Absent key: no zone and
/// no tags (an empty labels statement deletes the key rather than storing an empty record).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelsRecord {
    pub zone: Option<String>,
    /// Distinct, sorted (byte order): the record's bytes do not depend on payload order.
    pub tags: Vec<String>,
}

fn bad(e: PayloadError) -> Rejection {
    Rejection::payload(KIND, e)
}

fn invalid(label: u64, reason: &'static str) -> Rejection {
    bad(PayloadError::Invalid { label, reason })
}

fn valid_label(t: &str) -> bool {
    !t.is_empty() && t.len() <= MAX_LABEL_BYTES && !t.chars().any(char::is_control)
}

/// Field 3: 1..=[`MAX_TAGS`] distinct labels. A duplicate is refused rather than merged, so one
/// set of tags has exactly one payload.
fn tags(value: Value) -> Result<Vec<String>, Rejection> {
    let Value::Array(items) = value else {
        return Err(invalid(3, "must be an array of 1..=32 tags"));
    };
    if items.is_empty() || items.len() > MAX_TAGS {
        return Err(invalid(3, "must be an array of 1..=32 tags"));
    }
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        match item {
            Value::Text(t) if valid_label(&t) => out.push(t),
            _ => {
                return Err(invalid(
                    3,
                    "each tag is 1..=64 bytes of text without control characters",
                ))
            }
        }
    }
    out.sort();
    if out.windows(2).any(|w| w[0] == w[1]) {
        return Err(invalid(3, "tags must be distinct"));
    }
    Ok(out)
}

/// `labels`: the device's current owner replaces its zone and tags (the whole set each time;
/// absent fields mean no zone, no tags). Refused unless the signer is an organisation that
/// owns the device now; for a decommissioned or unknown device; for a zone or tag over
/// [`MAX_LABEL_BYTES`], more than [`MAX_TAGS`] tags, or a repeated tag.
pub fn register(ctx: &mut Ctx, signer: &Signer, stmt: &SignedStatement) -> RuleResult {
    let org = signer.org()?;
    let mut f = Fields::decode(stmt.payload()).map_err(bad)?;
    let device_id = f.bytes(1, 1, MAX_DEVICE_ID_BYTES).map_err(bad)?;
    let zone = match f.raw(2) {
        Ok(Value::Text(z)) if valid_label(&z) => Some(z),
        Ok(_) => {
            return Err(
                invalid(2, "zone is 1..=64 bytes of text without control characters").into(),
            )
        }
        Err(PayloadError::Missing(_)) => None,
        Err(e) => return Err(bad(e).into()),
    };
    let tags = match f.raw(3) {
        Ok(v) => tags(v)?,
        Err(PayloadError::Missing(_)) => Vec::new(),
        Err(e) => return Err(bad(e).into()),
    };
    f.finish().map_err(bad)?;
    let (dev, device) = active_device(ctx, &device_id)?;
    require_owner(&device, &org.iss)?;
    if zone.is_none() && tags.is_empty() {
        clear(ctx, &dev)?;
    } else {
        ctx.put_record(keys::labels(&dev), &LabelsRecord { zone, tags });
    }
    ctx.touch_history(&dev);
    Ok(())
}

/// Removes a device's labels, if it has any (a transfer calls it: the new owner starts clean).
pub fn clear(ctx: &mut Ctx, dev: &Id) -> RuleResult {
    let key = keys::labels(dev);
    if ctx.get(&key)?.is_some() {
        ctx.delete(key);
    }
    Ok(())
}
