//! Genesis files: what is accepted and what is refused.

use proverka_ledger::records::Role;
use proverka_ledger::{Genesis, GenesisError, GenesisIssuer, GENESIS_FORMAT};
use proverka_statement::{KeyType, PrivateKey};

fn valid() -> Genesis {
    let k = PrivateKey::generate(KeyType::P256).unwrap();
    Genesis {
        format: GENESIS_FORMAT.into(),
        origin: "city.example/proverka".into(),
        created_ms: 1,
        validators: vec![hex::encode([7u8; 32])],
        receipt_key: hex::encode(k.public_key().to_cose_key()),
        checkpoint_vkey: "city.example/proverka+01020304+AQ".into(),
        issuers: vec![GenesisIssuer::new("admin", &k.public_key(), true)],
        governance_threshold: None,
        validator_keys: Vec::new(),
    }
}

#[test]
fn a_written_genesis_reads_back_identically_and_its_id_is_the_hash_of_its_bytes() {
    let g = valid();
    let bytes = g.to_bytes();
    assert_eq!(Genesis::from_bytes(&bytes).unwrap(), g);
    let mut other = bytes.clone();
    other.push(b'\n');
    assert_ne!(Genesis::id(&bytes), Genesis::id(&other));
}

#[test]
fn a_genesis_with_another_format_is_refused() {
    let mut g = valid();
    g.format = "proverka-genesis/v0".into();
    assert!(matches!(
        Genesis::from_bytes(&g.to_bytes()),
        Err(GenesisError::Format(_))
    ));
}

#[test]
fn a_genesis_origin_must_be_one_token() {
    for origin in ["", "two words", "a+b", "line\nbreak"] {
        let mut g = valid();
        g.origin = origin.into();
        assert!(
            matches!(
                Genesis::from_bytes(&g.to_bytes()),
                Err(GenesisError::Origin)
            ),
            "{origin:?}"
        );
    }
}

#[test]
fn a_genesis_without_validators_or_with_a_bad_key_is_refused() {
    let mut g = valid();
    g.validators.clear();
    assert!(matches!(
        Genesis::from_bytes(&g.to_bytes()),
        Err(GenesisError::Validators)
    ));
    let mut g = valid();
    g.issuers[0].key = "00".into();
    assert!(matches!(
        Genesis::from_bytes(&g.to_bytes()),
        Err(GenesisError::Field { .. })
    ));
}

#[test]
fn the_same_issuer_key_twice_is_refused() {
    let mut g = valid();
    let dup = g.issuers[0].clone();
    g.issuers.push(GenesisIssuer {
        iss: "other".into(),
        ..dup
    });
    assert!(matches!(
        Genesis::from_bytes(&g.to_bytes()),
        Err(GenesisError::DuplicateIssuer { .. })
    ));
}

#[test]
fn unknown_fields_and_oversized_files_are_refused() {
    let mut json: serde_json::Value = serde_json::from_slice(&valid().to_bytes()).unwrap();
    json["surprise"] = serde_json::json!(1);
    assert!(matches!(
        Genesis::from_bytes(&serde_json::to_vec(&json).unwrap()),
        Err(GenesisError::Json(_))
    ));
    assert!(matches!(
        Genesis::from_bytes(&vec![b' '; (1 << 20) + 1]),
        Err(GenesisError::TooLarge)
    ));
}

#[test]
fn genesis_issuers_may_carry_roles_and_the_constitution_a_join_threshold() {
    let founders: Vec<PrivateKey> = (0..3)
        .map(|_| PrivateKey::generate(KeyType::P256).unwrap())
        .collect();
    let mut g = valid();
    g.issuers = founders
        .iter()
        .enumerate()
        .map(|(i, k)| {
            GenesisIssuer::new(&format!("org{i}"), &k.public_key(), false)
                .with_roles(&[Role::Governance])
        })
        .collect();
    assert_eq!(g.governance_threshold().unwrap(), 2, "default: a majority");
    g.governance_threshold = Some(3);
    let bytes = g.to_bytes();
    assert_eq!(
        Genesis::from_bytes(&bytes)
            .unwrap()
            .governance_threshold()
            .unwrap(),
        3
    );
}

#[test]
fn a_threshold_above_the_number_of_governance_members_is_refused() {
    let mut g = valid();
    g.governance_threshold = Some(2);
    let err = Genesis::from_bytes(&g.to_bytes()).unwrap_err();
    assert!(err.to_string().contains("governance_threshold"), "{err}");
}

#[test]
fn an_unknown_role_is_refused() {
    let mut g = valid();
    g.issuers[0].roles = vec!["emperor".into()];
    let err = Genesis::from_bytes(&g.to_bytes()).unwrap_err();
    assert!(err.to_string().contains("unknown role"), "{err}");
}
