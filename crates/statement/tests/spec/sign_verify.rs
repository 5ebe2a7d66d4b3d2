//! Signing and verification: round trips for the keys we issue, ES384 from another signer,
//! the algorithm/key binding, the kid rule, and bad signatures.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, ECDSA_P384_SHA384_FIXED_SIGNING};
use ciborium::value::Value;
use coset::{
    iana, AsCborValue, CborSerializable, CoseSign1Builder, HeaderBuilder, TaggedCborSerializable,
};
use proverka_statement::{
    sig_structure, sign_statement, statement_id, Algorithm, ContentType, KeyType, Limits,
    PrivateKey, PublicKey, SignedStatement, StatementError, StatementParams,
};

use crate::support::*;

fn parse(bytes: &[u8]) -> SignedStatement {
    SignedStatement::parse(bytes, &Limits::default()).expect("statement parses")
}

#[test]
fn p256_statement_round_trips_sign_parse_verify() {
    let key = PrivateKey::generate(KeyType::P256).unwrap();
    let bytes = sign_statement(&key, &params());
    let s = parse(&bytes);
    assert_eq!(s.algorithm(), Algorithm::Es256);
    assert_eq!(s.kid(), &key.public_key().thumbprint());
    assert_eq!(s.payload(), PAYLOAD);
    assert_eq!(s.signature().len(), 64, "raw r || s, not DER");
    s.verify(&key.public_key()).expect("verifies");
}

#[test]
fn ed25519_statement_round_trips_sign_parse_verify() {
    let key = PrivateKey::generate(KeyType::Ed25519).unwrap();
    let bytes = sign_statement(&key, &params());
    let s = parse(&bytes);
    assert_eq!(s.algorithm(), Algorithm::EdDsa);
    assert_eq!(s.issuer(), "https://maker.example");
    s.verify(&key.public_key()).expect("verifies");
}

#[test]
fn sign_statement_emits_the_documented_header_in_deterministic_order() {
    let key = ed25519_key();
    let bytes = sign_statement(&key, &params());
    // Same entries, built independently in sorted order: byte-identical.
    assert_eq!(bytes, Draft::new(&key).sign(&key));
    let s = parse(&bytes);
    let header: Value = ciborium::de::from_reader(s.protected_bytes()).unwrap();
    let labels: Vec<_> = header
        .as_map()
        .unwrap()
        .iter()
        .map(|(k, _)| k.clone())
        .collect();
    assert_eq!(labels, [int(1), int(3), int(4), int(15)]);
    // Unprotected header empty (0xa0), payload embedded.
    assert!(hex::encode(&bytes).contains("a048a10165"));
}

#[test]
fn a_coap_content_format_round_trips() {
    let key = ed25519_key();
    let p = StatementParams {
        content_type: ContentType::CoapFormat(60),
        ..params()
    };
    let s = parse(&sign_statement(&key, &p));
    assert_eq!(s.content_type(), &ContentType::CoapFormat(60));
    s.verify(&key.public_key()).unwrap();
}

#[test]
fn a_negative_iat_round_trips() {
    let key = ed25519_key();
    let p = StatementParams {
        iat: -1,
        ..params()
    };
    assert_eq!(parse(&sign_statement(&key, &p)).issued_at(), -1);
}

#[test]
fn es384_statement_from_another_signer_verifies() {
    // Built with aws-lc-rs P-384 signing and coset, independently of sign_statement.
    let pair = EcdsaKeyPair::generate(&ECDSA_P384_SHA384_FIXED_SIGNING).unwrap();
    let point = pair.public_key().as_ref();
    let cose_key = coset::CoseKeyBuilder::new_ec2_pub_key(
        iana::EllipticCurve::P_384,
        point[1..49].to_vec(),
        point[49..].to_vec(),
    )
    .build()
    .to_vec()
    .unwrap();
    let public = PublicKey::from_cose_key(&cose_key).unwrap();
    assert_eq!(public.key_type(), KeyType::P384);

    let claims = coset::cwt::ClaimsSetBuilder::new()
        .issuer("https://dice.example".into())
        .subject("urn:example:nic:7".into())
        .issued_at(coset::cwt::Timestamp::WholeSeconds(1_767_225_600))
        .build();
    let protected = HeaderBuilder::new()
        .algorithm(iana::Algorithm::ES384)
        .content_format(iana::CoapContentFormat::Cbor)
        .key_id(public.thumbprint().to_vec())
        .value(15, claims.to_cbor_value().unwrap())
        .build();
    let rng = SystemRandom::new();
    let bytes = CoseSign1Builder::new()
        .protected(protected)
        .payload(PAYLOAD.to_vec())
        .create_signature(&[], |tbs| pair.sign(&rng, tbs).unwrap().as_ref().to_vec())
        .build()
        .to_tagged_vec()
        .unwrap();

    let s = parse(&bytes);
    assert_eq!(s.algorithm(), Algorithm::Es384);
    assert_eq!(s.signature().len(), 96);
    assert_eq!(s.content_type(), &ContentType::CoapFormat(60));
    s.verify(&public).expect("ES384 verifies");
    // ESP384 names the same computation.
    let tbs = sig_structure(s.protected_bytes(), s.payload());
    public
        .verify(Algorithm::Esp384, &tbs, s.signature())
        .unwrap();
}

#[test]
fn fully_specified_algorithm_ids_verify_with_the_same_keys() {
    let p256 = p256_key();
    let s = parse(&Draft::new(&p256).set(1, int(-9)).sign(&p256));
    assert_eq!(s.algorithm(), Algorithm::Esp256);
    s.verify(&p256.public_key()).unwrap();

    let ed = ed25519_key();
    let s = parse(&Draft::new(&ed).set(1, int(-19)).sign(&ed));
    assert_eq!(s.algorithm(), Algorithm::Ed25519);
    s.verify(&ed.public_key()).unwrap();
}

#[test]
fn an_eddsa_header_with_a_p256_key_is_an_algorithm_key_mismatch() {
    // kid names the P-256 key, but the header claims EdDSA: never trust alg alone.
    let p256 = p256_key();
    let s = parse(&Draft::new(&p256).set(1, int(-8)).sign(&p256));
    assert_eq!(
        s.verify(&p256.public_key()).unwrap_err(),
        StatementError::AlgorithmKeyMismatch {
            alg: Algorithm::EdDsa,
            key: KeyType::P256
        }
    );
}

#[test]
fn an_es256_header_with_an_ed25519_key_is_an_algorithm_key_mismatch() {
    let ed = ed25519_key();
    let s = parse(&Draft::new(&ed).set(1, int(-7)).sign(&ed));
    assert_eq!(
        s.verify(&ed.public_key()).unwrap_err(),
        StatementError::AlgorithmKeyMismatch {
            alg: Algorithm::Es256,
            key: KeyType::Ed25519
        }
    );
}

#[test]
fn public_key_verify_refuses_an_algorithm_not_bound_to_its_type() {
    let ed = ed25519_key();
    let sig = ed.sign(b"m");
    for alg in [
        Algorithm::Es256,
        Algorithm::Esp256,
        Algorithm::Es384,
        Algorithm::Esp384,
    ] {
        assert!(!ed.public_key().accepts(alg));
        assert!(matches!(
            ed.public_key().verify(alg, b"m", &sig),
            Err(proverka_statement::SignatureError::AlgorithmKeyMismatch { .. })
        ));
    }
    ed.public_key()
        .verify(Algorithm::EdDsa, b"m", &sig)
        .unwrap();
    ed.public_key()
        .verify(Algorithm::Ed25519, b"m", &sig)
        .unwrap();
}

#[test]
fn a_key_other_than_the_kid_is_a_kid_mismatch() {
    let s = parse(&sign_statement(&ed25519_key(), &params()));
    assert_eq!(
        s.verify(&other_ed25519_key().public_key()).unwrap_err(),
        StatementError::KidMismatch
    );
}

#[test]
fn a_tampered_payload_is_a_bad_signature() {
    let key = ed25519_key();
    let signed = Draft::new(&key).sign(&key);
    let signature = parse(&signed).signature().to_vec();
    let tampered = Draft {
        payload: bytes(b"tampered"),
        ..Draft::new(&key)
    };
    let s = parse(&tampered.encode_with_signature(&signature));
    assert_eq!(
        s.verify(&key.public_key()).unwrap_err(),
        StatementError::BadSignature
    );
}

#[test]
fn a_flipped_signature_bit_is_a_bad_signature() {
    for key in [ed25519_key(), p256_key()] {
        let signed = parse(&Draft::new(&key).sign(&key));
        let mut signature = signed.signature().to_vec();
        signature[10] ^= 0x01;
        let s = parse(&Draft::new(&key).encode_with_signature(&signature));
        assert_eq!(
            s.verify(&key.public_key()).unwrap_err(),
            StatementError::BadSignature
        );
    }
}

#[test]
fn a_signature_of_the_wrong_length_is_a_bad_signature() {
    for key in [ed25519_key(), p256_key()] {
        let signed = parse(&Draft::new(&key).sign(&key));
        let good = signed.signature();
        for wrong in [&good[..63], &[good, &[0u8][..]].concat()[..], &[][..]] {
            let s = parse(&Draft::new(&key).encode_with_signature(wrong));
            assert_eq!(
                s.verify(&key.public_key()).unwrap_err(),
                StatementError::BadSignature
            );
        }
    }
}

#[test]
fn a_der_encoded_ecdsa_signature_is_a_bad_signature() {
    // COSE uses raw r || s; a DER signature (what X.509 uses) must not be accepted.
    let pair = aws_lc_rs::signature::EcdsaKeyPair::from_pkcs8(
        &aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
        &pem::parse(OPENSSL_P256_PKCS8).unwrap().into_contents(),
    )
    .unwrap();
    let key = p256_key();
    let draft = Draft::new(&key);
    let tbs = sig_structure(&draft.protected_bytes(), PAYLOAD);
    let der = pair.sign(&SystemRandom::new(), &tbs).unwrap();
    let s = parse(&draft.encode_with_signature(der.as_ref()));
    assert_eq!(
        s.verify(&key.public_key()).unwrap_err(),
        StatementError::BadSignature
    );
}

#[test]
fn statements_are_kept_and_hashed_byte_for_byte_never_re_encoded() {
    // A valid statement in a non-deterministic encoding: claims before alg in the protected
    // header, and a non-shortest integer for iat. It verifies, and its bytes are untouched.
    let key = ed25519_key();
    let mut draft = Draft::new(&key);
    draft.protected.reverse();
    let mut protected = draft.protected_bytes();
    // Re-encode iat 1767225600 (0x1a 6955b900) as a 64-bit integer (0x1b 00000000 6955b900).
    let short = hex::decode("1a6955b900").unwrap();
    let long = hex::decode("1b000000006955b900").unwrap();
    let at = protected
        .windows(5)
        .position(|w| w == &short[..])
        .expect("iat present");
    protected.splice(at..at + 5, long);
    draft.raw_protected = Some(protected.clone());
    let bytes = draft.sign(&key);

    let s = parse(&bytes);
    assert_eq!(s.bytes(), &bytes[..]);
    assert_eq!(s.protected_bytes(), &protected[..]);
    assert_eq!(s.issued_at(), 1_767_225_600);
    assert_eq!(s.id(), statement_id(&bytes));
    s.verify(&key.public_key())
        .expect("signature is over the bytes as received");
}

#[test]
fn statement_id_is_the_sha256_of_the_exact_bytes() {
    use sha2::Digest;
    let bytes = sign_statement(&ed25519_key(), &params());
    let expected: [u8; 32] = sha2::Sha256::digest(&bytes).into();
    assert_eq!(statement_id(&bytes), expected);
    assert_eq!(parse(&bytes).id(), expected);
}

#[test]
fn sig_structure_matches_rfc_9052() {
    // ["Signature1", h'a10126', h'', h'7061796c6f6164']
    assert_eq!(
        hex::encode(sig_structure(&[0xa1, 0x01, 0x26], b"payload")),
        "846a5369676e61747572653143a1012640477061796c6f6164"
    );
}
