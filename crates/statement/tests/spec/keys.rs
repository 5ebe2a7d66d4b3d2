//! Keys: RFC 9679 thumbprints, COSE_Key and SPKI encodings, PKCS#8 interoperability with
//! OpenSSL, and the Ed25519 rule set.

use ciborium::value::Value;
use proverka_statement::{Algorithm, KeyError, KeyType, PrivateKey, PublicKey};

use crate::support::*;

/// RFC 9679 §6 example: an EC2 P-256 key (also RFC 9052 Appendix C.7.1 "meriadoc").
const RFC9679_X: &str = "65eda5a12577c2bae829437fe338701a10aaa375e1bb5b5de108de439c08551d";
const RFC9679_Y: &str = "1e52ed75701163f7f9e40ddf9f341b3dc9ba860af7e0ca7ca7e9eecd0084d19c";
const RFC9679_THUMBPRINT: &str = "496bd8afadf307e5b08c64b0421bf9dc01528a344a43bda88fadd1669da253ec";

fn rfc9679_key() -> PublicKey {
    // The RFC's full COSE_Key also carries kid (2); required members only are hashed.
    let full = encode(&Value::Map(vec![
        (int(1), int(2)),
        (int(2), bytes(&hex::decode(RFC9679_THUMBPRINT).unwrap())),
        (int(-1), int(1)),
        (int(-2), bytes(&hex::decode(RFC9679_X).unwrap())),
        (int(-3), bytes(&hex::decode(RFC9679_Y).unwrap())),
    ]));
    PublicKey::from_cose_key(&full).expect("RFC 9679 example key")
}

#[test]
fn thumbprint_matches_the_rfc_9679_example() {
    let key = rfc9679_key();
    // Canonical form given in RFC 9679 §6: {1: 2, -1: 1, -2: x, -3: y}.
    let canonical = format!("a401022001215820{RFC9679_X}225820{RFC9679_Y}");
    assert_eq!(hex::encode(key.to_cose_key()), canonical);
    assert_eq!(hex::encode(key.thumbprint()), RFC9679_THUMBPRINT);
}

#[test]
fn ed25519_cose_key_is_kty_crv_x_in_deterministic_order() {
    let key = PrivateKey::from_ed25519_seed([0x01; 32]).public_key();
    let PublicKey::Ed25519(x) = key else {
        panic!("Ed25519")
    };
    // {1: 1, -1: 6, -2: x}
    assert_eq!(
        hex::encode(key.to_cose_key()),
        format!("a301012006215820{}", hex::encode(x))
    );
}

#[test]
fn cose_keys_round_trip_for_every_key_type() {
    let keys = [
        PrivateKey::generate(KeyType::P256).unwrap().public_key(),
        PrivateKey::generate(KeyType::Ed25519).unwrap().public_key(),
        PublicKey::from_spki_pem(OPENSSL_P384_SPKI).unwrap(),
    ];
    for key in keys {
        let back = PublicKey::from_cose_key(&key.to_cose_key()).unwrap();
        assert_eq!(back, key);
        assert_eq!(back.thumbprint(), key.thumbprint());
    }
}

#[test]
fn a_cose_key_whose_point_is_not_on_the_curve_is_rejected() {
    let mut y = hex::decode(RFC9679_Y).unwrap();
    y[31] ^= 0x01;
    let off_curve = encode(&Value::Map(vec![
        (int(1), int(2)),
        (int(-1), int(1)),
        (int(-2), bytes(&hex::decode(RFC9679_X).unwrap())),
        (int(-3), bytes(&y)),
    ]));
    assert_eq!(
        PublicKey::from_cose_key(&off_curve),
        Err(KeyError::InvalidPoint(KeyType::P256))
    );

    // y = 2 has no x on edwards25519.
    let mut not_a_point = [0u8; 32];
    not_a_point[0] = 2;
    let okp = encode(&Value::Map(vec![
        (int(1), int(1)),
        (int(-1), int(6)),
        (int(-2), bytes(&not_a_point)),
    ]));
    assert_eq!(
        PublicKey::from_cose_key(&okp),
        Err(KeyError::InvalidPoint(KeyType::Ed25519))
    );
    assert_eq!(
        PublicKey::from_ed25519_bytes(not_a_point),
        Err(KeyError::InvalidPoint(KeyType::Ed25519))
    );
}

fn rfc_coordinates() -> (Value, Value) {
    (
        bytes(&hex::decode(RFC9679_X).unwrap()),
        bytes(&hex::decode(RFC9679_Y).unwrap()),
    )
}

/// An EC2 P-256 COSE_Key with the RFC 9679 point, members replaced or added by `changes`.
fn ec2_with(changes: &[(i64, Value)]) -> Vec<u8> {
    let (x, y) = rfc_coordinates();
    let mut map = vec![
        (int(1), int(2)),
        (int(-1), int(1)),
        (int(-2), x),
        (int(-3), y),
    ];
    for (label, value) in changes {
        map.retain(|(k, _)| *k != int(*label));
        if *value != Value::Null {
            map.push((int(*label), value.clone()));
        }
    }
    encode(&Value::Map(map))
}

#[test]
fn malformed_cose_keys_are_rejected() {
    let cases = [
        vec![0xff],
        encode(&Value::Array(vec![])),
        ec2_with(&[(-4, bytes(&[1; 32]))]), // private key member d
        ec2_with(&[(-2, bytes(&[1; 31]))]), // x too short
        ec2_with(&[(-3, Value::Null)]),     // y missing
        ec2_with(&[(-1, text("P-256"))]),   // crv not an integer
    ];
    for encoded in cases {
        let err = PublicKey::from_cose_key(&encoded).unwrap_err();
        assert!(
            matches!(err, KeyError::MalformedCoseKey(_)),
            "{}: {err}",
            hex::encode(&encoded)
        );
    }
    assert!(matches!(
        PublicKey::from_cose_key(&[0u8; 1025]),
        Err(KeyError::CoseKeyTooLarge {
            len: 1025,
            max: 1024
        })
    ));
}

#[test]
fn unsupported_cose_keys_are_rejected() {
    let okp_x448 = encode(&Value::Map(vec![
        (int(1), int(1)),
        (int(-1), int(7)),
        (int(-2), bytes(&[1; 32])),
    ]));
    let cases = [
        ec2_with(&[(1, int(3))]),             // RSA key type
        ec2_with(&[(-1, int(3))]),            // P-521
        ec2_with(&[(-3, Value::Bool(true))]), // compressed point
        ec2_with(&[(3, int(-8))]),            // alg EdDSA on an EC2 key
        ec2_with(&[(3, int(-37))]),           // alg PS256
        okp_x448,
    ];
    for encoded in cases {
        let err = PublicKey::from_cose_key(&encoded).unwrap_err();
        assert!(
            matches!(err, KeyError::UnsupportedCoseKey(_)),
            "{}: {err}",
            hex::encode(&encoded)
        );
    }
}

#[test]
fn optional_cose_key_members_are_accepted() {
    let key = PublicKey::from_cose_key(&ec2_with(&[(3, int(-7)), (2, bytes(b"kid"))])).unwrap();
    assert_eq!(hex::encode(key.thumbprint()), RFC9679_THUMBPRINT);
}

#[test]
fn openssl_public_keys_load_and_write_back_identically() {
    for (pem, kt) in [
        (OPENSSL_P256_SPKI, KeyType::P256),
        (OPENSSL_P384_SPKI, KeyType::P384),
        (OPENSSL_ED25519_SPKI, KeyType::Ed25519),
    ] {
        let key = PublicKey::from_spki_pem(pem).unwrap();
        assert_eq!(key.key_type(), kt);
        assert_eq!(
            key.to_spki_pem(),
            pem,
            "our PEM is byte-identical to OpenSSL's"
        );
    }
}

#[test]
fn spki_written_by_us_is_what_aws_lc_writes() {
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::signature::{KeyPair, ParsedPublicKey, ECDSA_P256_SHA256_FIXED};
    let pair = aws_lc_rs::signature::EcdsaKeyPair::generate(
        &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
    )
    .unwrap();
    let lib = ParsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, pair.public_key().as_ref()).unwrap();
    let der = lib.as_der().unwrap();
    let key = PublicKey::from_spki_der(der.as_ref()).unwrap();
    assert_eq!(key.to_spki_der(), der.as_ref());
}

#[test]
fn public_key_pem_round_trips() {
    for kt in [KeyType::P256, KeyType::Ed25519] {
        let key = PrivateKey::generate(kt).unwrap().public_key();
        assert_eq!(PublicKey::from_spki_pem(&key.to_spki_pem()).unwrap(), key);
    }
}

#[test]
fn compressed_points_and_other_spki_are_refused() {
    assert_eq!(
        PublicKey::from_spki_pem(OPENSSL_P256_SPKI_COMPRESSED),
        Err(KeyError::UnsupportedSpki)
    );
    assert_eq!(
        PublicKey::from_spki_der(&[0x30, 0x00]),
        Err(KeyError::UnsupportedSpki)
    );
    // A raw point is not an SPKI.
    let point = PublicKey::from_spki_pem(OPENSSL_P256_SPKI)
        .unwrap()
        .to_spki_der()[26..]
        .to_vec();
    assert_eq!(
        PublicKey::from_spki_der(&point),
        Err(KeyError::UnsupportedSpki)
    );
}

#[test]
fn pem_with_the_wrong_label_or_garbage_is_refused() {
    assert!(matches!(
        PublicKey::from_spki_pem(OPENSSL_P256_PKCS8),
        Err(KeyError::PemLabel {
            expected: "PUBLIC KEY",
            ..
        })
    ));
    assert!(matches!(
        PrivateKey::from_pkcs8_pem(OPENSSL_P256_SPKI),
        Err(KeyError::PemLabel {
            expected: "PRIVATE KEY",
            ..
        })
    ));
    assert!(matches!(
        PublicKey::from_spki_pem("not pem"),
        Err(KeyError::Pem(_))
    ));
    let huge = "A".repeat(proverka_statement::MAX_PEM_BYTES + 1);
    assert!(matches!(
        PublicKey::from_spki_pem(&huge),
        Err(KeyError::PemTooLarge { .. })
    ));
}

#[test]
fn openssl_private_keys_load_and_match_their_public_keys() {
    let p256 = PrivateKey::from_pkcs8_pem(OPENSSL_P256_PKCS8).unwrap();
    assert_eq!(
        p256.public_key(),
        PublicKey::from_spki_pem(OPENSSL_P256_SPKI).unwrap()
    );
    assert_eq!(p256.algorithm(), Algorithm::Es256);
    let ed = PrivateKey::from_pkcs8_pem(OPENSSL_ED25519_PKCS8).unwrap();
    assert_eq!(
        ed.public_key(),
        PublicKey::from_spki_pem(OPENSSL_ED25519_SPKI).unwrap()
    );
    assert_eq!(ed.algorithm(), Algorithm::EdDsa);
}

#[test]
fn ed25519_pkcs8_is_the_rfc_8410_v1_form_openssl_writes() {
    // OpenSSL's own encoding, byte for byte: version 0, id-Ed25519, no public key.
    let ed = PrivateKey::from_pkcs8_pem(OPENSSL_ED25519_PKCS8).unwrap();
    assert_eq!(ed.to_pkcs8_pem(), OPENSSL_ED25519_PKCS8);
    let der = pem::parse(ed.to_pkcs8_pem()).unwrap().into_contents();
    assert_eq!(der.len(), 48);
    assert_eq!(hex::encode(&der[..16]), "302e020100300506032b657004220420");
}

#[test]
fn private_key_pem_round_trips_and_keeps_signing_the_same() {
    for kt in [KeyType::P256, KeyType::Ed25519] {
        let key = PrivateKey::generate(kt).unwrap();
        let back = PrivateKey::from_pkcs8_pem(&key.to_pkcs8_pem()).unwrap();
        assert_eq!(back.public_key(), key.public_key());
        let sig = back.sign(b"message");
        key.public_key()
            .verify(key.algorithm(), b"message", &sig)
            .unwrap();
    }
}

#[test]
fn p384_keys_verify_but_do_not_sign() {
    assert_eq!(
        PrivateKey::generate(KeyType::P384).unwrap_err(),
        KeyError::UnsupportedForSigning(KeyType::P384)
    );
    assert_eq!(
        PrivateKey::from_pkcs8_pem(OPENSSL_P384_PKCS8).unwrap_err(),
        KeyError::UnsupportedForSigning(KeyType::P384)
    );
}

#[test]
fn private_key_debug_output_shows_only_the_public_half() {
    let key = ed25519_key();
    let shown = format!("{key:?}");
    let PrivateKey::Ed25519(_) = &key else {
        panic!()
    };
    let seed_hex = hex::encode([0x01; 32]);
    assert!(!shown.contains(&seed_hex), "{shown}");
    let p256 = format!("{:?}", p256_key());
    assert!(!p256.contains("7de10a14"), "{p256}"); // start of the fixture's private scalar
}

#[test]
fn ed25519_signing_matches_rfc_8032_test_1() {
    let seed =
        hex::decode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60").unwrap();
    let key = PrivateKey::from_ed25519_seed(seed.try_into().unwrap());
    assert_eq!(
        key.public_key(),
        PublicKey::Ed25519(
            hex::decode("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
                .unwrap()
                .try_into()
                .unwrap()
        )
    );
    assert_eq!(
        hex::encode(key.sign(b"")),
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
    );
}

#[test]
fn ed25519_verification_follows_zip_215() {
    // The identity point as key, R = identity and s = 0: valid for every message under the
    // cofactored ZIP-215 equation (RFC 8032's strict checks would reject it). One rule set
    // means single and batch verification agree on such edge cases; see batch tests.
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let key = PublicKey::from_ed25519_bytes(identity).unwrap();
    let mut sig = [0u8; 64];
    sig[0] = 1;
    key.verify(Algorithm::EdDsa, b"any message", &sig).unwrap();
}
