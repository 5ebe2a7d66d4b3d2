//! Third-party vectors: SCITT statements and receipts made by `scitt-cose`
//! (github.com/action-state-group/scitt-cose, Apache-2.0), read from the shared reference
//! directory beside the repository. They predate our `kid`/`iat` rules, so they test the
//! signature layer (`PublicKey` + `sig_structure`) and are refused by the strict parser.

use coset::{CborSerializable, CoseSign1, TaggedCborSerializable};
use proverka_statement::{
    sig_structure, statement_id, Algorithm, Limits, PublicKey, SignedStatement, StatementError,
};
use serde_json::Value as Json;

const VECTORS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/vectors/scitt_cose_v1.json"
);

fn vectors() -> Vec<Json> {
    let text = std::fs::read_to_string(VECTORS).unwrap_or_else(|e| {
        panic!("third-party vectors missing at {VECTORS} ({e}); shared/ must sit beside the repo")
    });
    let json: Json = serde_json::from_str(&text).expect("vectors are JSON");
    json["vectors"].as_array().expect("a vectors array").clone()
}

fn hex_field(v: &Json, field: &str) -> Vec<u8> {
    hex::decode(
        v[field]
            .as_str()
            .unwrap_or_else(|| panic!("{field} missing")),
    )
    .unwrap()
}

/// Verifies a COSE_Sign1's signature with `key`, over its own payload or a detached one.
fn signature_verifies(sign1: &CoseSign1, key: &PublicKey, detached: Option<&[u8]>) -> bool {
    let alg_id = match &sign1.protected.header.alg {
        Some(coset::RegisteredLabelWithPrivate::Assigned(a)) => *a as i64,
        other => panic!("unexpected alg {other:?}"),
    };
    let alg = Algorithm::from_cose_id(alg_id).expect("vector uses an accepted alg");
    let protected = sign1
        .protected
        .original_data
        .as_deref()
        .expect("parsed from bytes");
    let payload = detached.or(sign1.payload.as_deref()).expect("a payload");
    key.verify(alg, &sig_structure(protected, payload), &sign1.signature)
        .is_ok()
}

#[test]
fn third_party_statement_signatures_give_the_expected_verdicts() {
    let vectors = vectors();
    assert_eq!(vectors.len(), 5);
    let mut checked_algs = std::collections::BTreeSet::new();
    for v in &vectors {
        let id = v["id"].as_str().unwrap();
        let statement = hex_field(v, "statement_hex");
        let sign1 = CoseSign1::from_tagged_slice(&statement).expect("a tagged COSE_Sign1");
        let key = PublicKey::from_spki_pem(v["issuer_key_pem"].as_str().unwrap()).unwrap();
        let expected = v["expected"]["statement_signature_valid"]
            .as_bool()
            .unwrap();
        assert_eq!(signature_verifies(&sign1, &key, None), expected, "{id}");
        checked_algs.insert(v["expected"]["protected_header"]["statement"]["alg"].to_string());
    }
    assert_eq!(checked_algs.len(), 2, "both EdDSA and ES256 are covered");
}

#[test]
fn third_party_receipt_signatures_verify_over_the_detached_root() {
    // Receipts sign the Merkle root as a detached payload: this exercises sig_structure the way
    // receipts reuse it. Only vectors whose receipt is valid carry the root.
    for v in vectors() {
        let Some(root) = v["expected"]["reconstructed_root"].as_str() else {
            continue;
        };
        let root = hex::decode(root).unwrap();
        let receipt = CoseSign1::from_tagged_slice(&hex_field(&v, "receipt_hex")).unwrap();
        assert!(receipt.payload.is_none(), "receipt payload is detached");
        let log_key = PublicKey::from_spki_pem(v["log_key_pem"].as_str().unwrap()).unwrap();
        assert!(
            signature_verifies(&receipt, &log_key, Some(&root)),
            "{}",
            v["id"]
        );
        let mut wrong_root = root.clone();
        wrong_root[0] ^= 1;
        assert!(!signature_verifies(&receipt, &log_key, Some(&wrong_root)));
    }
}

#[test]
fn third_party_leaf_entries_are_our_statement_ids() {
    // Upstream's leaf entry convention (SHA-256 of the statement bytes) is ours.
    for v in vectors() {
        let expected = hex_field(&v["expected"], "leaf_entry");
        assert_eq!(
            statement_id(&hex_field(&v, "statement_hex")).to_vec(),
            expected
        );
    }
}

#[test]
fn third_party_statements_without_kid_are_refused_by_the_strict_parser() {
    for v in vectors() {
        let statement = hex_field(&v, "statement_hex");
        assert_eq!(
            SignedStatement::parse(&statement, &Limits::default()).unwrap_err(),
            StatementError::MissingKid,
            "{}",
            v["id"]
        );
        // Their structure is otherwise what we expect: coset re-encodes them identically.
        let sign1 = CoseSign1::from_tagged_slice(&statement).unwrap();
        assert_eq!(
            sign1.payload.as_deref(),
            Some(&hex_field(&v, "payload_hex")[..])
        );
        assert!(
            CoseSign1::from_slice(&statement).is_err(),
            "tag 18 is required upstream too"
        );
    }
}
