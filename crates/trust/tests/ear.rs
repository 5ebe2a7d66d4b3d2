//! The EAR claims-set: layout, determinism, decoding by the `ear` crate, golden bytes.

use std::collections::BTreeMap;

use ciborium::value::{Integer, Value};
use proverka_trust::ear::{self, RawValue, RawValueKind, TrustTier};
use proverka_trust::{
    appraise, ear_claims, Advisory, Appraisal, DebugState, DeviceFacts, Evidence, Policy, Release,
    Severity, Status, TrustError, EAR_PROFILE, RULES_ID,
};

const HOUR: u64 = 3_600_000;
/// 2100-01-01T00:00:00Z: far enough ahead that `ear`'s wall-clock expiry check accepts it.
const FUTURE: u64 = 4_102_444_800_000;
const DEVICE: &str = "00112233445566778899aabbccddeeff";
const VERIFIER: &str = "https://ledger.city.example";

/// Device on release `[1; 32]` with a medium advisory `[7; 32]`, attested an hour before `now`.
fn warning_at(now: u64) -> Appraisal {
    let evidence = Evidence {
        iat_ms: now - HOUR,
        registered_ms: now - HOUR,
        fw_digest: [1; 32],
        svn: 1,
        debug: DebugState::DisabledPermanently,
    };
    let releases = [Release {
        digest: [1; 32],
        version: "1.0".to_string(),
        svn: 1,
        supersedes: None,
        security: None,
        published_ms: now - 1000 * HOUR,
        revoked: false,
    }];
    let advisories = [Advisory {
        id: [7; 32],
        severity: Severity::Medium,
        exploited: false,
        affected: vec![[1; 32]],
        fixed_in: None,
        published_ms: now - 10 * HOUR,
        withdrawn: false,
    }];
    let facts = DeviceFacts {
        identity_revoked: false,
        decommissioned: false,
        rollback: None,
        evidence: Some(&evidence),
        releases: &releases,
        advisories: &advisories,
    };
    appraise(&facts, &Policy::default(), now)
}

fn encode(a: &Appraisal) -> Vec<u8> {
    match ear_claims(a, DEVICE, VERIFIER) {
        Ok(bytes) => bytes,
        Err(e) => panic!("encoding failed: {e}"),
    }
}

/// The claims-set of `warning_at(FUTURE)`; written out in `docs/trust.md`.
const GOLDEN: &str = concat!(
    "a6",   // map(6)
    "02",   // sub (CWT 2)
    "7820", // text(32)
    "3030313132323333343435353636373738383939616162626363646465656666",
    "04",                                                         // exp (CWT 4)
    "1af4879a70", // 4102527600 = 2100-01-01T23:00:00Z (evidence iat + 24 h)
    "06",         // iat (CWT 6)
    "1af4865700", // 4102444800 = 2100-01-01T00:00:00Z
    "190109",     // eat_profile (265)
    "781d",       // text(29)
    "7461673a696574662e6f72672c323032363a726174732f656172233034", // tag:ietf.org,2026:rats/ear#04
    "19010a",     // submods (266)
    "a1",         // map(1)
    "66646576696365", // "device"
    "a3",         // map(3)
    "1903e8",     // ear.status (1000)
    "1820",       // 32 = warning
    "1903e9",     // ear.trustworthiness-vector (1001)
    "a3",         // map(3)
    "0002",       // instance-identity: 2
    "021820",     // executables: 32
    "0402",       // hardware: 2
    "1903ee",     // ear.verifier-claims (1006)
    "a1",         // map(1)
    "67726561736f6e73", // "reasons"
    "81",         // array(1)
    "6861647669736f7279", // "advisory"
    "1903ec",     // ear.verifier-id (1004)
    "a2",         // map(2)
    "00",         // developer
    "781b",       // text(27)
    "68747470733a2f2f6c65646765722e636974792e6578616d706c65", // https://ledger.city.example
    "01",         // build
    "7070726f7665726b612d74727573742f31", // "proverka-trust/1"
);

#[test]
fn golden_claims_set() {
    let a = warning_at(FUTURE);
    assert_eq!(a.status, Status::Warning);
    assert_eq!(hex::encode(encode(&a)), GOLDEN);
}

#[test]
fn same_appraisal_same_bytes() {
    let a = warning_at(FUTURE);
    let b = warning_at(FUTURE);
    assert_eq!(encode(&a), encode(&b));
    assert_eq!(encode(&a), encode(&a.clone()));
}

#[test]
fn ear_crate_decodes_what_we_encode() {
    let a = warning_at(FUTURE);
    let bytes = encode(&a);
    let decoded: ear::Ear = match ciborium::from_reader(bytes.as_slice()) {
        Ok(e) => e,
        Err(e) => panic!("ear refused our claims-set: {e}"),
    };
    assert_eq!(decoded.profile, EAR_PROFILE);
    assert_eq!(decoded.iat, (FUTURE / 1000) as i64);
    assert_eq!(decoded.exp, Some(((FUTURE + 23 * HOUR) / 1000) as i64));
    assert_eq!(decoded.vid.build, RULES_ID);
    assert_eq!(decoded.vid.developer, VERIFIER);
    assert_eq!(decoded.status, None);
    assert_eq!(decoded.submods.len(), 1);
    let device = &decoded.submods["device"];
    assert_eq!(device.status, TrustTier::Warning);
    assert_eq!(device.trust_vector, a.vector);
    assert_eq!(
        device.verifier_claims.get("reasons"),
        Some(&RawValue::Array(vec![RawValue::String(
            "advisory".to_string()
        )]))
    );
    // `sub` is an extension: a reader registers it to see it.
    let mut decoded = decoded;
    let registered = decoded.extensions.register("sub", 2, RawValueKind::String);
    assert!(registered.is_ok());
    assert_eq!(
        decoded.extensions.get_by_key(&2),
        Some(RawValue::String(DEVICE.to_string()))
    );
}

#[test]
fn encoding_is_deterministic_cbor() {
    let bytes = encode(&warning_at(FUTURE));
    let value: Value = match ciborium::from_reader(bytes.as_slice()) {
        Ok(v) => v,
        Err(e) => panic!("not CBOR: {e}"),
    };
    // Re-encoding the generic tree gives the same bytes: definite lengths, shortest integers.
    let mut again = Vec::new();
    assert!(ciborium::into_writer(&value, &mut again).is_ok());
    assert_eq!(again, bytes);
    let Value::Map(entries) = value else {
        panic!("claims-set is not a map")
    };
    let keys: Vec<Integer> = entries.iter().filter_map(|(k, _)| k.as_integer()).collect();
    let want: Vec<Integer> = [2u16, 4, 6, 265, 266, 1004]
        .into_iter()
        .map(Integer::from)
        .collect();
    assert_eq!(keys, want);
}

#[test]
fn past_results_encode_for_replay() {
    // An appraisal made in 2025 still encodes today: the output does not depend on the wall
    // clock. The `ear` decoder refuses it as expired, as a relying party should.
    let past = 1_750_000_000_000;
    let bytes = encode(&warning_at(past));
    let decoded: Result<ear::Ear, _> = ciborium::from_reader(bytes.as_slice());
    assert!(decoded.is_err());
    let value: Result<Value, _> = ciborium::from_reader(bytes.as_slice());
    assert!(value.is_ok());
}

#[test]
fn no_expiry_means_no_exp() {
    let mut a = warning_at(FUTURE);
    a.status = Status::Contraindicated;
    a.expires_ms = None;
    let bytes = encode(&a);
    let decoded: ear::Ear = match ciborium::from_reader(bytes.as_slice()) {
        Ok(e) => e,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(decoded.exp, None);
    assert_eq!(decoded.submods["device"].status, TrustTier::Contraindicated);
}

#[test]
fn no_reasons_means_no_verifier_claims() {
    let mut a = warning_at(FUTURE);
    a.reasons.clear();
    let bytes = encode(&a);
    let decoded: ear::Ear = match ciborium::from_reader(bytes.as_slice()) {
        Ok(e) => e,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(decoded.submods["device"].verifier_claims, BTreeMap::new());
}

#[test]
fn bad_inputs_are_refused() {
    let a = warning_at(FUTURE);
    for bad in ["", "abc", "ABCD", "zz", "00 1"] {
        assert_eq!(
            ear_claims(&a, bad, VERIFIER),
            Err(TrustError::BadDeviceId(bad.to_string()))
        );
    }
    assert_eq!(ear_claims(&a, DEVICE, ""), Err(TrustError::EmptyVerifier));
    // `iat` 0 is "unset" to EAR: an appraisal in the first second of 1970 cannot be encoded.
    let mut early = a;
    early.evaluated_ms = 999;
    assert!(matches!(
        ear_claims(&early, DEVICE, VERIFIER),
        Err(TrustError::Encode(_))
    ));
}
