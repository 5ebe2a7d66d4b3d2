//! Each rule of the accepted format, one test per class of bad input. A statement failing a
//! rule is rejected with the error named here, and nothing else is checked first that could
//! mask it.

use ciborium::value::Value;
use proverka_statement::{
    ContentType, Limits, SignedStatement, StatementError, MAX_STATEMENT_BYTES,
};

use crate::support::*;

fn parse(bytes: &[u8]) -> Result<SignedStatement, StatementError> {
    SignedStatement::parse(bytes, &Limits::default())
}

fn rejects(draft: Draft, expected: StatementError) {
    let key = ed25519_key();
    assert_eq!(parse(&draft.sign(&key)).unwrap_err(), expected);
}

#[test]
fn a_well_formed_statement_parses_and_exposes_its_fields() {
    let key = ed25519_key();
    let bytes = Draft::new(&key).sign(&key);
    let s = parse(&bytes).expect("valid statement");
    assert_eq!(s.bytes(), &bytes[..]);
    assert_eq!(s.algorithm().cose_id(), -8);
    assert_eq!(s.kid(), &key.public_key().thumbprint());
    assert_eq!(s.issuer(), "https://maker.example");
    assert_eq!(s.subject(), "urn:example:device:1234");
    assert_eq!(s.issued_at(), 1_767_225_600);
    assert_eq!(
        s.content_type(),
        &ContentType::Text("application/cbor".into())
    );
    assert_eq!(s.payload(), PAYLOAD);
    assert_eq!(s.expires_at(), None);
    assert_eq!(s.not_before(), None);
}

#[test]
fn input_longer_than_the_limit_is_rejected_before_decoding() {
    // Not CBOR at all: only the size check can produce TooLarge.
    let garbage = vec![0xff; MAX_STATEMENT_BYTES + 1];
    assert_eq!(
        parse(&garbage).unwrap_err(),
        StatementError::TooLarge {
            len: MAX_STATEMENT_BYTES + 1,
            max: MAX_STATEMENT_BYTES
        }
    );
}

#[test]
fn limits_are_configurable() {
    let key = ed25519_key();
    let bytes = Draft::new(&key).sign(&key);
    let tight = Limits {
        max_statement_bytes: bytes.len() - 1,
        ..Limits::default()
    };
    assert!(matches!(
        SignedStatement::parse(&bytes, &tight),
        Err(StatementError::TooLarge { .. })
    ));
    let exact = Limits {
        max_statement_bytes: bytes.len(),
        ..Limits::default()
    };
    assert!(SignedStatement::parse(&bytes, &exact).is_ok());
}

#[test]
fn input_that_is_not_cbor_is_rejected() {
    // 0x1c is a reserved additional-information value: not well-formed CBOR.
    assert!(matches!(parse(&[0x1c]), Err(StatementError::NotCbor(_))));
    assert!(matches!(parse(&[0xff]), Err(StatementError::NotCbor(_))));
}

#[test]
fn empty_input_is_rejected_as_truncated() {
    assert_eq!(parse(&[]).unwrap_err(), StatementError::Truncated);
}

#[test]
fn truncated_input_is_rejected() {
    let key = ed25519_key();
    let bytes = Draft::new(&key).sign(&key);
    assert_eq!(
        parse(&bytes[..bytes.len() - 1]).unwrap_err(),
        StatementError::Truncated
    );
}

#[test]
fn trailing_bytes_are_rejected() {
    let key = ed25519_key();
    let mut bytes = Draft::new(&key).sign(&key);
    bytes.extend_from_slice(&[0x00, 0x00]);
    assert_eq!(
        parse(&bytes).unwrap_err(),
        StatementError::TrailingBytes { count: 2 }
    );
}

#[test]
fn nesting_deeper_than_the_limit_is_rejected() {
    let mut deep = Value::Null;
    for _ in 0..proverka_statement::MAX_CBOR_DEPTH {
        deep = Value::Array(vec![deep]);
    }
    let draft = Draft::new(&ed25519_key()).unprotected(-70_000, deep);
    assert!(matches!(
        parse(&draft.sign(&ed25519_key())),
        Err(StatementError::TooDeep { .. })
    ));
}

#[test]
fn a_statement_without_the_cose_sign1_tag_is_rejected() {
    let draft = Draft {
        tag: None,
        ..Draft::new(&ed25519_key())
    };
    rejects(draft, StatementError::WrongTag { found: None });
}

#[test]
fn a_statement_with_another_tag_is_rejected() {
    // 98 is COSE_Sign (multi-signer), 17 COSE_Mac0: neither is a COSE_Sign1.
    for tag in [98, 17, 55_799] {
        let draft = Draft {
            tag: Some(tag),
            ..Draft::new(&ed25519_key())
        };
        rejects(draft, StatementError::WrongTag { found: Some(tag) });
    }
}

#[test]
fn a_tagged_value_that_is_not_a_four_member_array_is_rejected() {
    let three = encode(&Value::Tag(
        18,
        Box::new(Value::Array(vec![
            bytes(&[0xa0]),
            Value::Map(vec![]),
            bytes(b"x"),
        ])),
    ));
    assert!(matches!(
        parse(&three),
        Err(StatementError::MalformedSign1(_))
    ));
    let map = encode(&Value::Tag(18, Box::new(Value::Map(vec![]))));
    assert!(matches!(
        parse(&map),
        Err(StatementError::MalformedSign1(_))
    ));
}

#[test]
fn a_signature_that_is_not_a_byte_string_is_rejected() {
    let draft = Draft::new(&ed25519_key());
    let mut value: Value = ciborium::de::from_reader(&draft.sign(&ed25519_key())[..]).unwrap();
    if let Value::Tag(_, inner) = &mut value {
        if let Value::Array(items) = inner.as_mut() {
            items[3] = text("signature");
        }
    }
    assert!(matches!(
        parse(&encode(&value)),
        Err(StatementError::MalformedSign1(_))
    ));
}

#[test]
fn a_protected_header_that_is_not_a_byte_string_is_rejected() {
    let draft = Draft::new(&ed25519_key());
    let mut value: Value = ciborium::de::from_reader(&draft.sign(&ed25519_key())[..]).unwrap();
    if let Value::Tag(_, inner) = &mut value {
        if let Value::Array(items) = inner.as_mut() {
            // The map itself, not wrapped in a bstr.
            items[0] = Value::Map(draft.protected.clone());
        }
    }
    assert!(matches!(
        parse(&encode(&value)),
        Err(StatementError::ProtectedHeaderNotMap(_))
    ));
}

#[test]
fn a_protected_byte_string_that_does_not_hold_a_map_is_rejected() {
    for contents in [
        encode(&Value::Array(vec![int(1), int(-8)])),
        vec![0xa1, 0x01],
        vec![0xa0, 0x00],
    ] {
        let draft = Draft {
            raw_protected: Some(contents),
            ..Draft::new(&ed25519_key())
        };
        let bytes = draft.sign(&ed25519_key());
        assert!(
            matches!(parse(&bytes), Err(StatementError::ProtectedHeaderNotMap(_))),
            "{}",
            hex::encode(&bytes)
        );
    }
}

#[test]
fn an_empty_protected_header_lacks_alg() {
    let draft = Draft {
        raw_protected: Some(vec![]),
        ..Draft::new(&ed25519_key())
    };
    rejects(draft, StatementError::MissingAlgorithm);
}

#[test]
fn a_protected_header_with_too_many_entries_is_rejected() {
    let mut draft = Draft::new(&ed25519_key());
    for label in 0..30 {
        draft = draft.set(-65_537 - label, Value::Null);
    }
    // 3 + 30 + CWT claims = 34 entries.
    rejects(
        draft,
        StatementError::TooManyHeaderEntries {
            bucket: "protected header",
            count: 34,
            max: 32,
        },
    );
}

#[test]
fn an_unprotected_header_with_too_many_entries_is_rejected() {
    let mut draft = Draft::new(&ed25519_key());
    for label in 0..33 {
        draft = draft.unprotected(-65_537 - label, Value::Null);
    }
    rejects(
        draft,
        StatementError::TooManyHeaderEntries {
            bucket: "unprotected header",
            count: 33,
            max: 32,
        },
    );
}

#[test]
fn a_label_that_is_not_an_integer_or_text_is_rejected() {
    let mut draft = Draft::new(&ed25519_key());
    draft.protected.push((bytes(b"label"), Value::Null));
    rejects(
        draft,
        StatementError::InvalidLabel {
            location: "protected header",
        },
    );
}

#[test]
fn a_duplicate_protected_label_is_rejected() {
    let mut draft = Draft::new(&ed25519_key());
    draft.protected.push((int(1), int(-7)));
    rejects(
        draft,
        StatementError::DuplicateLabel {
            location: "protected header",
            label: "1".into(),
        },
    );
}

#[test]
fn a_missing_alg_is_rejected() {
    rejects(
        Draft::new(&ed25519_key()).remove(1),
        StatementError::MissingAlgorithm,
    );
}

#[test]
fn an_unsupported_alg_is_rejected_with_its_id() {
    // PS256, RS256, ES512, Ed448, HMAC 256/256.
    for id in [-37, -257, -36, -53, 5] {
        rejects(
            Draft::new(&ed25519_key()).set(1, int(id)),
            StatementError::UnsupportedAlgorithm(id),
        );
    }
}

#[test]
fn a_text_alg_is_rejected() {
    rejects(
        Draft::new(&ed25519_key()).set(1, text("EdDSA")),
        StatementError::InvalidAlgorithm,
    );
}

#[test]
fn every_accepted_alg_parses() {
    for id in [-7, -9, -8, -19, -35, -51] {
        let key = ed25519_key();
        let s = parse(&Draft::new(&key).set(1, int(id)).sign(&key)).expect("accepted alg");
        assert_eq!(s.algorithm().cose_id(), id);
    }
}

#[test]
fn a_missing_kid_is_rejected() {
    rejects(
        Draft::new(&ed25519_key()).remove(4),
        StatementError::MissingKid,
    );
}

#[test]
fn a_kid_that_is_not_a_32_byte_string_is_rejected() {
    for kid in [
        bytes(&[0u8; 16]),
        bytes(&[0u8; 33]),
        text(&"a".repeat(32)),
        int(7),
    ] {
        rejects(
            Draft::new(&ed25519_key()).set(4, kid),
            StatementError::InvalidKid,
        );
    }
}

#[test]
fn crit_listing_a_parameter_we_do_not_understand_is_rejected() {
    rejects(
        Draft::new(&ed25519_key()).set(2, Value::Array(vec![int(-70_000)])),
        StatementError::UnknownCriticalHeader("-70000".into()),
    );
    rejects(
        Draft::new(&ed25519_key()).set(2, Value::Array(vec![text("reveal")])),
        StatementError::UnknownCriticalHeader("\"reveal\"".into()),
    );
}

#[test]
fn crit_listing_only_parameters_we_understand_is_accepted() {
    let key = ed25519_key();
    let draft = Draft::new(&key).set(2, Value::Array(vec![int(15), int(4)]));
    assert!(parse(&draft.sign(&key)).is_ok());
}

#[test]
fn a_malformed_crit_is_rejected() {
    for crit in [
        Value::Array(vec![]),
        int(15),
        Value::Array(vec![bytes(b"x")]),
    ] {
        rejects(
            Draft::new(&ed25519_key()).set(2, crit),
            StatementError::MalformedCrit,
        );
    }
}

#[test]
fn a_missing_content_type_is_rejected() {
    rejects(
        Draft::new(&ed25519_key()).remove(3),
        StatementError::MissingContentType,
    );
}

#[test]
fn a_content_type_of_the_wrong_type_is_rejected() {
    for ct in [
        Value::Bool(true),
        int(-1),
        int(65_536),
        text(""),
        bytes(b"application/cbor"),
    ] {
        rejects(
            Draft::new(&ed25519_key()).set(3, ct),
            StatementError::InvalidContentType,
        );
    }
}

#[test]
fn a_coap_content_format_is_accepted_even_if_unregistered() {
    let key = ed25519_key();
    for n in [60u16, 65_000] {
        let s = parse(&Draft::new(&key).set(3, int(n.into())).sign(&key)).expect("valid");
        assert_eq!(s.content_type(), &ContentType::CoapFormat(n));
    }
}

#[test]
fn a_text_content_type_longer_than_the_limit_is_rejected() {
    let long = format!("application/{}", "x".repeat(1024));
    rejects(
        Draft::new(&ed25519_key()).set(3, text(&long)),
        StatementError::StringTooLong {
            field: "content type",
            len: long.len(),
            max: 1024,
        },
    );
}

#[test]
fn missing_cwt_claims_are_rejected() {
    let mut draft = Draft::new(&ed25519_key());
    draft.raw_protected = Some(encode(&Value::Map(draft.protected.clone())));
    rejects(draft, StatementError::MissingCwtClaims);
}

#[test]
fn cwt_claims_that_are_not_a_map_are_rejected() {
    rejects(
        Draft::new(&ed25519_key()).set(15, Value::Array(vec![])),
        StatementError::CwtClaimsNotMap,
    );
}

#[test]
fn too_many_cwt_claims_are_rejected() {
    let mut draft = Draft::new(&ed25519_key());
    for claim in 0..30 {
        draft = draft.set_claim(-65_537 - claim, Value::Null);
    }
    rejects(draft, StatementError::TooManyClaims { count: 33, max: 32 });
}

#[test]
fn a_duplicate_claim_is_rejected() {
    let mut draft = Draft::new(&ed25519_key());
    draft.claims.push((int(2), text("urn:example:other")));
    rejects(
        draft,
        StatementError::DuplicateLabel {
            location: "CWT claims",
            label: "2".into(),
        },
    );
}

#[test]
fn iss_and_sub_must_be_present_non_empty_text_within_the_limit() {
    for (label, name) in [(1, "iss"), (2, "sub")] {
        rejects(
            Draft::new(&ed25519_key()).remove_claim(label),
            StatementError::MissingClaim(name),
        );
        for bad in [int(1), bytes(b"issuer"), text("")] {
            rejects(
                Draft::new(&ed25519_key()).set_claim(label, bad),
                StatementError::InvalidClaim {
                    claim: name,
                    expected: "a non-empty text string",
                },
            );
        }
        let long = "x".repeat(1025);
        rejects(
            Draft::new(&ed25519_key()).set_claim(label, text(&long)),
            StatementError::StringTooLong {
                field: name,
                len: 1025,
                max: 1024,
            },
        );
    }
}

#[test]
fn iss_at_exactly_the_limit_is_accepted() {
    let key = ed25519_key();
    let iss = "x".repeat(1024);
    let s = parse(&Draft::new(&key).set_claim(1, text(&iss)).sign(&key)).expect("valid");
    assert_eq!(s.issuer(), iss);
}

#[test]
fn iat_must_be_present_and_an_integer() {
    rejects(
        Draft::new(&ed25519_key()).remove_claim(6),
        StatementError::MissingClaim("iat"),
    );
    for bad in [Value::Float(1.5e9), text("2026-01-01"), Value::Null] {
        let err = parse(
            &Draft::new(&ed25519_key())
                .set_claim(6, bad)
                .sign(&ed25519_key()),
        );
        assert!(matches!(
            err,
            Err(StatementError::InvalidClaim { claim: "iat", .. })
        ));
    }
}

#[test]
fn exp_and_nbf_are_optional_but_must_be_integers() {
    let key = ed25519_key();
    let s = parse(
        &Draft::new(&key)
            .set_claim(4, int(1_800_000_000))
            .set_claim(5, int(-5))
            .sign(&key),
    )
    .expect("valid");
    assert_eq!(s.expires_at(), Some(1_800_000_000));
    assert_eq!(s.not_before(), Some(-5));
    for (label, name) in [(4, "exp"), (5, "nbf")] {
        let err = parse(&Draft::new(&key).set_claim(label, text("soon")).sign(&key));
        assert!(matches!(err, Err(StatementError::InvalidClaim { claim, .. }) if claim == name));
    }
}

#[test]
fn other_claims_are_allowed() {
    let key = ed25519_key();
    let draft = Draft::new(&key)
        .set_claim(7, bytes(b"cti"))
        .set_claim(3, text("aud"));
    let mut draft = draft;
    draft.claims.push((text("private"), Value::Bool(true)));
    assert!(parse(&draft.sign(&key)).is_ok());
}

#[test]
fn a_detached_payload_is_rejected() {
    let draft = Draft {
        payload: Value::Null,
        ..Draft::new(&ed25519_key())
    };
    rejects(draft, StatementError::DetachedPayload);
}

#[test]
fn a_payload_that_is_not_a_byte_string_is_rejected() {
    let draft = Draft {
        payload: text("hello"),
        ..Draft::new(&ed25519_key())
    };
    let bytes = draft.sign(&ed25519_key());
    assert!(matches!(
        parse(&bytes),
        Err(StatementError::MalformedSign1(_))
    ));
}

#[test]
fn parameters_that_must_be_signed_are_rejected_in_the_unprotected_header() {
    let cases = [
        (1, int(-8)),
        (2, Value::Array(vec![int(15)])),
        (3, int(60)),
        (4, bytes(&[0; 32])),
        (15, Value::Map(vec![])),
    ];
    for (label, value) in cases {
        rejects(
            Draft::new(&ed25519_key()).unprotected(label, value),
            StatementError::MustBeProtected(label),
        );
    }
}

#[test]
fn alg_found_only_in_the_unprotected_header_is_reported_as_unprotected() {
    rejects(
        Draft::new(&ed25519_key()).remove(1).unprotected(1, int(-8)),
        StatementError::MustBeProtected(1),
    );
}

#[test]
fn a_label_in_both_header_buckets_is_rejected() {
    let draft = Draft::new(&ed25519_key())
        .set(33, bytes(b"cert"))
        .unprotected(33, bytes(b"cert"));
    rejects(
        draft,
        StatementError::DuplicateLabel {
            location: "protected and unprotected headers",
            label: "33".into(),
        },
    );
}

#[test]
fn unsigned_extras_in_the_unprotected_header_are_accepted_and_kept() {
    // A transparent statement carries receipts (label 394) unprotected.
    let key = ed25519_key();
    let bytes = Draft::new(&key)
        .unprotected(394, Value::Array(vec![bytes(b"receipt")]))
        .sign(&key);
    let s = parse(&bytes).expect("valid");
    assert_eq!(s.bytes(), &bytes[..]);
    s.verify(&key.public_key())
        .expect("signature covers the protected header only");
}

#[test]
fn error_codes_are_distinct() {
    use proverka_statement::{Algorithm, KeyType};
    let all = [
        StatementError::TooLarge { len: 0, max: 0 },
        StatementError::NotCbor(String::new()),
        StatementError::Truncated,
        StatementError::TrailingBytes { count: 0 },
        StatementError::TooDeep { max: 0 },
        StatementError::WrongTag { found: None },
        StatementError::MalformedSign1(""),
        StatementError::ProtectedHeaderNotMap(""),
        StatementError::TooManyHeaderEntries {
            bucket: "",
            count: 0,
            max: 0,
        },
        StatementError::InvalidLabel { location: "" },
        StatementError::DuplicateLabel {
            location: "",
            label: String::new(),
        },
        StatementError::MustBeProtected(0),
        StatementError::MissingAlgorithm,
        StatementError::UnsupportedAlgorithm(0),
        StatementError::InvalidAlgorithm,
        StatementError::MissingKid,
        StatementError::InvalidKid,
        StatementError::MalformedCrit,
        StatementError::UnknownCriticalHeader(String::new()),
        StatementError::MissingContentType,
        StatementError::InvalidContentType,
        StatementError::MissingCwtClaims,
        StatementError::CwtClaimsNotMap,
        StatementError::TooManyClaims { count: 0, max: 0 },
        StatementError::MissingClaim(""),
        StatementError::InvalidClaim {
            claim: "",
            expected: "",
        },
        StatementError::StringTooLong {
            field: "",
            len: 0,
            max: 0,
        },
        StatementError::DetachedPayload,
        StatementError::AlgorithmKeyMismatch {
            alg: Algorithm::EdDsa,
            key: KeyType::P256,
        },
        StatementError::KidMismatch,
        StatementError::BadSignature,
    ];
    let codes: std::collections::BTreeSet<_> = all.iter().map(|e| e.code()).collect();
    assert_eq!(codes.len(), all.len());
}
