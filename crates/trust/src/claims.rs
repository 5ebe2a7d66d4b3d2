//! Encodes an [`Appraisal`] as a deterministic CBOR EAR claims-set.
//!
//! The `ear` crate builds and serialises the claims-set. Two steps are ours, both on the
//! `ciborium::Value` tree the crate produced, never on bytes:
//!
//! * `exp` is inserted after serialisation: `ear` 0.6 refuses to serialise an EAR whose `exp`
//!   is before the *wall clock*, which would make the ledger's output depend on when (and
//!   whether, during a replay) it is computed.
//! * map keys are sorted in RFC 8949 §4.2.1 order (bytewise on their encodings) and lengths
//!   are definite, so the same appraisal always gives the same bytes.

use std::collections::BTreeMap;

use ciborium::value::{Integer, Value};
use ear::{Appraisal as EarAppraisal, Ear, Extensions, RawValue, RawValueKind, VerifierID};

use crate::{Appraisal, TimeMs, TrustError};

/// The `eat_profile` of the claims-set: the EAR draft that `ear` 0.6 implements.
pub const EAR_PROFILE: &str = ear::EAR_PROFILE;

/// Name of the single submodule that carries the device's appraisal.
pub const SUBMOD: &str = "device";

/// CWT `sub` (RFC 8392): the device the result is about, as lowercase hex.
pub const SUBJECT_KEY: i32 = 2;

/// Key in `ear.verifier-claims` (1006) holding the reason codes, most serious first.
pub const REASONS_CLAIM: &str = "reasons";

/// `ear.verifier-id.build`: names this rule set, so a relying party or an auditor knows which
/// rules produced a result. Change it whenever a rule in `docs/trust.md` changes.
pub const RULES_ID: &str = "proverka-trust/1";

/// CBOR key of `exp` in the EAR claims-set.
const EXP_KEY: u64 = 4;

/// Encodes `appraisal` for device `device_id_hex` as an EAR claims-set issued by `verifier`.
///
/// `iat` is the evaluation time and `exp` the expiry, both in whole seconds rounded down (an
/// earlier `exp` only shortens validity). Without an expiry there is no `exp`.
pub fn ear_claims(
    appraisal: &Appraisal,
    device_id_hex: &str,
    verifier: &str,
) -> Result<Vec<u8>, TrustError> {
    check_device_id(device_id_hex)?;
    if verifier.is_empty() {
        return Err(TrustError::EmptyVerifier);
    }
    let claims_set = build(appraisal, device_id_hex, verifier)?;
    let mut value = Value::serialized(&claims_set).map_err(encode_err)?;
    if let Some(exp) = appraisal.expires_ms {
        insert_exp(&mut value, exp)?;
    }
    canonicalise(&mut value)?;
    let mut out = Vec::new();
    ciborium::into_writer(&value, &mut out).map_err(encode_err)?;
    Ok(out)
}

fn encode_err(e: impl std::fmt::Display) -> TrustError {
    TrustError::Encode(e.to_string())
}

/// Accepts only what `hex::encode` produces, so one device has one spelling.
fn check_device_id(id: &str) -> Result<(), TrustError> {
    let lower_hex = id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if id.is_empty() || !id.len().is_multiple_of(2) || !lower_hex {
        return Err(TrustError::BadDeviceId(id.to_string()));
    }
    Ok(())
}

fn seconds(ms: TimeMs) -> Result<i64, TrustError> {
    i64::try_from(ms / 1000).map_err(encode_err)
}

/// The claims-set as the `ear` crate models it, without `exp` (see the module doc).
fn build(appraisal: &Appraisal, device_id_hex: &str, verifier: &str) -> Result<Ear, TrustError> {
    let mut extensions = Extensions::new();
    extensions
        .register("sub", SUBJECT_KEY, RawValueKind::String)
        .map_err(encode_err)?;
    extensions
        .set_by_key(SUBJECT_KEY, RawValue::String(device_id_hex.to_string()))
        .map_err(encode_err)?;
    Ok(Ear {
        profile: EAR_PROFILE.to_string(),
        iat: seconds(appraisal.evaluated_ms)?,
        exp: None,
        vid: VerifierID {
            build: RULES_ID.to_string(),
            developer: verifier.to_string(),
        },
        submods: BTreeMap::from([(SUBMOD.to_string(), submod(appraisal))]),
        nonce: None,
        status: None,
        raw_evidence: None,
        topology: None,
        extensions,
    })
}

fn submod(appraisal: &Appraisal) -> EarAppraisal {
    let mut sub = EarAppraisal::new();
    sub.status = appraisal.status.tier();
    sub.trust_vector = appraisal.vector;
    if !appraisal.reasons.is_empty() {
        let codes = appraisal
            .reasons
            .iter()
            .map(|r| RawValue::String(r.code().to_string()))
            .collect();
        sub.verifier_claims
            .insert(REASONS_CLAIM.to_string(), RawValue::Array(codes));
    }
    sub
}

fn insert_exp(value: &mut Value, exp_ms: TimeMs) -> Result<(), TrustError> {
    let Value::Map(entries) = value else {
        return Err(TrustError::Encode("claims-set is not a map".to_string()));
    };
    let exp = Integer::from(seconds(exp_ms)?);
    entries.push((Value::Integer(Integer::from(EXP_KEY)), Value::Integer(exp)));
    Ok(())
}

/// Sorts every map by the encoded bytes of its keys and refuses duplicate keys.
fn canonicalise(value: &mut Value) -> Result<(), TrustError> {
    match value {
        Value::Map(entries) => {
            let mut keyed = Vec::with_capacity(entries.len());
            for (mut k, mut v) in std::mem::take(entries) {
                canonicalise(&mut k)?;
                canonicalise(&mut v)?;
                let mut encoded = Vec::new();
                ciborium::into_writer(&k, &mut encoded).map_err(encode_err)?;
                keyed.push((encoded, k, v));
            }
            keyed.sort_by(|a, b| a.0.cmp(&b.0));
            if keyed.windows(2).any(|w| w[0].0 == w[1].0) {
                return Err(TrustError::Encode("duplicate map key".to_string()));
            }
            *entries = keyed.into_iter().map(|(_, k, v)| (k, v)).collect();
        }
        Value::Array(items) => {
            for item in items {
                canonicalise(item)?;
            }
        }
        Value::Tag(_, inner) => canonicalise(inner)?,
        _ => {}
    }
    Ok(())
}
