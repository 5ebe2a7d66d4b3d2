//! COSE_KeySet reading (what `/.well-known/scitt-keys` serves and `proverka verify --keys` reads).

use ciborium::value::Value;
use proverka_statement::{KeyType, PrivateKey, PublicKey};

fn key_value(k: &PublicKey, kid: bool) -> Value {
    let mut v: Value = ciborium::from_reader(k.to_cose_key().as_slice()).unwrap();
    if kid {
        if let Value::Map(m) = &mut v {
            m.insert(1, (Value::from(2), Value::Bytes(k.thumbprint().to_vec())));
        }
    }
    v
}

fn encode(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::into_writer(v, &mut out).unwrap();
    out
}

#[test]
fn a_key_set_yields_its_keys_in_order_with_kids_ignored() {
    let a = PrivateKey::generate(KeyType::P256).unwrap().public_key();
    let b = PrivateKey::generate(KeyType::Ed25519).unwrap().public_key();
    let set = Value::Array(vec![key_value(&a, true), key_value(&b, false)]);
    assert_eq!(
        PublicKey::from_cose_key_set(&encode(&set)).unwrap(),
        vec![a, b]
    );
}

#[test]
fn a_key_set_that_is_not_an_array_of_keys_is_refused() {
    let a = PrivateKey::generate(KeyType::P256).unwrap().public_key();
    assert!(
        PublicKey::from_cose_key_set(&a.to_cose_key()).is_err(),
        "a bare key is not a set"
    );
    assert!(PublicKey::from_cose_key_set(&encode(&Value::Array(vec![Value::from(1)]))).is_err());
    assert!(PublicKey::from_cose_key_set(&[0xff]).is_err());
    let many = Value::Array(vec![key_value(&a, false); 65]);
    assert!(
        PublicKey::from_cose_key_set(&encode(&many)).is_err(),
        "over the key count limit"
    );
}

#[test]
fn small_order_ed25519_keys_are_weak_and_generated_keys_are_not() {
    let mut identity = [0u8; 32];
    identity[0] = 1;
    assert!(PublicKey::from_ed25519_bytes(identity).unwrap().is_weak());
    for kt in [KeyType::Ed25519, KeyType::P256] {
        assert!(!PrivateKey::generate(kt).unwrap().public_key().is_weak());
    }
}
