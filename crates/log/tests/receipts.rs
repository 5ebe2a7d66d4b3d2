//! RFC 9942 receipts: third-party scitt-cose receipts verify or fail exactly as their vectors
//! say; ours round-trip, are frozen byte for byte, and fail on any tampering.

mod common;

use coset::{CborSerializable, CoseSign1, TaggedCborSerializable};
use proverka_log::receipt::MAX_RECEIPT_BYTES;
use proverka_log::{
    leaf_entry, leaf_hash, make_receipt, verify_receipt, MemoryTree, ProofError, ReceiptError,
};
use proverka_statement::{sig_structure, Algorithm, KeyType, PrivateKey, PublicKey};

/// Checks a scitt-cose statement's own signature (not the log's job; completes the verdict).
fn statement_signature_valid(statement: &[u8], issuer_key: &PublicKey) -> bool {
    let Ok(s) = CoseSign1::from_tagged_slice(statement) else {
        return false;
    };
    let Some(alg) = s.protected.header.alg.as_ref().and_then(|a| match a {
        coset::RegisteredLabelWithPrivate::Assigned(a) => {
            Algorithm::from_cose_id(coset::iana::EnumI64::to_i64(a))
        }
        _ => None,
    }) else {
        return false;
    };
    let Some(protected) = s.protected.original_data.as_deref() else {
        return false;
    };
    let payload = s.payload.as_deref().unwrap_or_default();
    issuer_key
        .verify(alg, &sig_structure(protected, payload), &s.signature)
        .is_ok()
}

#[test]
fn scitt_cose_receipts_verify_or_fail_as_expected() {
    let v = common::vector("scitt_cose_v1.json");
    let vectors = v["vectors"].as_array().expect("vectors");
    assert_eq!(vectors.len(), 5);
    for t in vectors {
        let id = t["id"].as_str().expect("id");
        let e = &t["expected"];
        let statement = hex::decode(t["statement_hex"].as_str().expect("hex")).expect("hex");
        let receipt = hex::decode(t["receipt_hex"].as_str().expect("hex")).expect("hex");
        let log_key =
            PublicKey::from_spki_pem(t["log_key_pem"].as_str().expect("pem")).expect("log key");
        let issuer_key = PublicKey::from_spki_pem(t["issuer_key_pem"].as_str().expect("pem"))
            .expect("issuer key");

        // Same leaf convention: entry = SHA-256(statement bytes).
        assert_eq!(
            hex::encode(leaf_entry(&statement)),
            e["leaf_entry"],
            "{id}: leaf entry"
        );

        let result = verify_receipt(&receipt, &statement, &log_key);
        let receipt_valid = e["receipt_valid"].as_bool().expect("receipt_valid");
        assert_eq!(
            result.is_ok(),
            receipt_valid,
            "{id}: receipt verdict {result:?}"
        );
        match id {
            "fail-unsupported-vds" => {
                assert_eq!(result, Err(ReceiptError::UnsupportedVds(Some(2))), "{id}")
            }
            "fail-tampered-path" => assert_eq!(result, Err(ReceiptError::BadSignature), "{id}"),
            _ => {}
        }
        if let Ok(r) = &result {
            assert_eq!(r.tree_size, e["tree_size"].as_u64().expect("size"), "{id}");
            assert_eq!(
                r.leaf_index,
                e["leaf_index"].as_u64().expect("index"),
                "{id}"
            );
            assert_eq!(hex::encode(r.root), e["reconstructed_root"], "{id}: root");
        }

        let statement_valid = statement_signature_valid(&statement, &issuer_key);
        assert_eq!(
            statement_valid,
            e["statement_signature_valid"].as_bool().expect("bool"),
            "{id}: statement signature"
        );
        let overall = if receipt_valid && statement_valid {
            "VALID"
        } else {
            "INVALID"
        };
        assert_eq!(overall, e["result"], "{id}: overall result");
    }
}

#[test]
fn a_receipt_from_the_wrong_log_key_or_for_another_statement_fails() {
    let v = common::vector("scitt_cose_v1.json");
    let t = &v["vectors"][0];
    let statement = hex::decode(t["statement_hex"].as_str().expect("hex")).expect("hex");
    let receipt = hex::decode(t["receipt_hex"].as_str().expect("hex")).expect("hex");
    let other_key =
        PublicKey::from_spki_pem(t["issuer_key_pem"].as_str().expect("pem")).expect("key");
    assert_eq!(
        verify_receipt(&receipt, &statement, &other_key),
        Err(ReceiptError::BadSignature)
    );
    let log_key = PublicKey::from_spki_pem(t["log_key_pem"].as_str().expect("pem")).expect("key");
    assert_eq!(
        verify_receipt(&receipt, b"another statement", &log_key),
        Err(ReceiptError::BadSignature)
    );
}

/// A log of 8 statements `golden statement <i>` with a fixed Ed25519 log key.
fn golden_log() -> (PrivateKey, Vec<Vec<u8>>, MemoryTree) {
    let key = PrivateKey::from_ed25519_seed([7u8; 32]);
    let statements: Vec<Vec<u8>> = (0..8)
        .map(|i| format!("golden statement {i}").into_bytes())
        .collect();
    let mut tree = MemoryTree::new();
    for s in &statements {
        tree.push(&leaf_hash(&leaf_entry(s))).expect("push");
    }
    (key, statements, tree)
}

const ORIGIN: &str = "proverka.example/log";
const ISSUED_AT: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z

fn receipt_for(key: &PrivateKey, tree: &MemoryTree, index: u64) -> Vec<u8> {
    let size = tree.size();
    let path = tree.inclusion_proof(index, size).expect("proof");
    make_receipt(key, ORIGIN, ISSUED_AT, size, index, &path, &tree.root()).expect("receipt")
}

#[test]
fn our_receipts_verify_for_every_leaf_and_carry_issuer_and_time() {
    let (key, statements, tree) = golden_log();
    for (i, s) in statements.iter().enumerate() {
        let receipt = receipt_for(&key, &tree, i as u64);
        let r = verify_receipt(&receipt, s, &key.public_key()).expect("verifies");
        assert_eq!(
            (r.tree_size, r.leaf_index, r.root),
            (8, i as u64, tree.root())
        );
        assert_eq!(r.issuer.as_deref(), Some(ORIGIN));
        assert_eq!(r.issued_at, Some(ISSUED_AT));
        // Only the statement it was issued for.
        let other = &statements[(i + 1) % statements.len()];
        assert_eq!(
            verify_receipt(&receipt, other, &key.public_key()),
            Err(ReceiptError::BadSignature)
        );
    }
}

#[test]
fn p256_log_keys_sign_receipts_too() {
    let key = PrivateKey::generate(KeyType::P256).expect("p256 key");
    let mut tree = MemoryTree::new();
    tree.push(&leaf_hash(&leaf_entry(b"only"))).expect("push");
    let receipt = receipt_for(&key, &tree, 0);
    let r = verify_receipt(&receipt, b"only", &key.public_key()).expect("verifies");
    assert_eq!(
        (r.tree_size, r.leaf_index),
        (1, 0),
        "a one-leaf tree has an empty path"
    );
}

#[test]
fn golden_receipt_bytes_are_frozen() {
    let (key, _, tree) = golden_log();
    let receipt = receipt_for(&key, &tree, 2);
    common::assert_golden(
        "receipt_ed25519_size8_index2.cbor.hex",
        hex::encode(&receipt).as_bytes(),
    );
}

#[test]
fn the_protected_header_is_deterministic_cbor_in_label_order() {
    let (key, _, tree) = golden_log();
    let receipt = receipt_for(&key, &tree, 2);
    let s = CoseSign1::from_tagged_slice(&receipt).expect("cose");
    let labels: Vec<String> = s
        .protected
        .header
        .rest
        .iter()
        .map(|(l, _)| format!("{l:?}"))
        .collect();
    assert_eq!(labels, ["Int(15)", "Int(395)"]);
    assert!(s.protected.header.alg.is_some());
    assert_eq!(
        s.protected.header.key_id,
        key.public_key().thumbprint().to_vec()
    );
    assert!(s.payload.is_none(), "root is detached");
    let protected = s.protected.original_data.expect("bytes");
    // a4 = map(4); 01 27 = alg EdDSA; 04 58 20 = kid bstr(32)
    assert_eq!(&protected[..5], &[0xa4, 0x01, 0x27, 0x04, 0x58]);
}

#[test]
fn tampering_with_any_receipt_byte_is_detected_or_changes_nothing() {
    let (key, statements, tree) = golden_log();
    let receipt = receipt_for(&key, &tree, 5);
    let genuine = verify_receipt(&receipt, &statements[5], &key.public_key()).expect("genuine");
    let mut accepted = Vec::new();
    for i in 0..receipt.len() {
        let mut bad = receipt.clone();
        bad[i] ^= 0x01;
        if let Ok(r) = verify_receipt(&bad, &statements[5], &key.public_key()) {
            // Only an unsigned, meaningless byte may change: the verdict must be identical.
            assert_eq!(
                r, genuine,
                "flip at byte {i} changed what the receipt proves"
            );
            accepted.push(i);
        }
    }
    // The one such byte: the nil payload (0xf6) flipped to undefined (0xf7), which the CBOR
    // decoder also reads as "no payload".
    assert_eq!(accepted.len(), 1, "accepted flips at {accepted:?}");
    assert_eq!(receipt[accepted[0]], 0xf6);
}

#[test]
fn impossible_proofs_are_errors_not_panics() {
    let key = PrivateKey::from_ed25519_seed([1u8; 32]);
    let root = [0u8; 32];
    assert_eq!(
        make_receipt(&key, ORIGIN, 0, 4, 4, &[], &root),
        Err(ReceiptError::Proof(ProofError::IndexOutOfRange {
            index: 4,
            size: 4
        }))
    );
    assert!(make_receipt(&key, ORIGIN, 0, u64::MAX, 0, &[], &root).is_err());
    assert!(make_receipt(&key, ORIGIN, 0, 8, 0, &[[0u8; 32]; 65], &root).is_err());
    assert!(make_receipt(&key, &"o".repeat(300), 0, 1, 0, &[], &root).is_err());
}

#[test]
fn oversized_and_garbage_receipts_are_rejected_before_decoding() {
    let key = PrivateKey::from_ed25519_seed([1u8; 32]).public_key();
    let big = vec![0u8; MAX_RECEIPT_BYTES + 1];
    assert!(matches!(
        verify_receipt(&big, b"s", &key),
        Err(ReceiptError::TooLarge { .. })
    ));
    for junk in [
        &b""[..],
        b"\xd2",
        b"\xd2\x84",
        b"\x84\x40\xa0\xf6\x40",
        b"\xff\xff",
    ] {
        assert!(verify_receipt(junk, b"s", &key).is_err(), "{junk:?}");
    }
}

#[test]
fn a_receipt_with_an_attached_payload_or_unprotected_vds_is_rejected() {
    let (key, statements, tree) = golden_log();
    let receipt = receipt_for(&key, &tree, 1);
    let mut s = CoseSign1::from_tagged_slice(&receipt).expect("cose");
    s.payload = Some(tree.root().to_vec());
    let attached = s.to_tagged_vec().expect("encode");
    assert_eq!(
        verify_receipt(&attached, &statements[1], &key.public_key()),
        Err(ReceiptError::AttachedPayload)
    );

    let mut s = CoseSign1::from_tagged_slice(&receipt).expect("cose");
    s.protected
        .header
        .rest
        .retain(|(l, _)| *l != coset::Label::Int(395));
    s.protected.original_data = None;
    s.unprotected.rest.push((
        coset::Label::Int(395),
        ciborium::value::Value::Integer(1.into()),
    ));
    let moved = s.to_vec().expect("encode untagged");
    assert_eq!(
        verify_receipt(&moved, &statements[1], &key.public_key()),
        Err(ReceiptError::UnsupportedVds(None))
    );
}
