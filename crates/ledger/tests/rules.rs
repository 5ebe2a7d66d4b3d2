//! The registration rules as a specification: what a block registers, and why it refuses.

use proverka_ledger::{
    BlockContext, Decision, Genesis, GenesisIssuer, IssuerRecord, Rejection, Rules, GENESIS_FORMAT,
    ISSUER_REGISTRATION_CONTENT_TYPE,
};
use proverka_statement::{
    sign_statement, statement_id, ContentType, KeyType, PrivateKey, SignedStatement,
    StatementParams,
};

mod support;
use support::{MemState, NoCache};

struct Fixture {
    admin: PrivateKey,
    rules: Rules,
}

fn fixture() -> Fixture {
    let admin = PrivateKey::generate(KeyType::P256).unwrap();
    let genesis = Genesis {
        format: GENESIS_FORMAT.into(),
        origin: "test.example/log".into(),
        created_ms: 0,
        validators: vec![hex::encode([1u8; 32])],
        receipt_key: hex::encode(admin.public_key().to_cose_key()),
        checkpoint_vkey: "test.example/log+00000000+AQ".into(),
        issuers: vec![GenesisIssuer::new("admin", &admin.public_key(), true)],
        governance_threshold: None,
        validator_keys: Vec::new(),
    };
    let rules = Rules::new(&genesis).unwrap();
    Fixture { admin, rules }
}

fn statement(key: &PrivateKey, iss: &str, content_type: &str, payload: &[u8]) -> Vec<u8> {
    sign_statement(
        key,
        &StatementParams {
            iss,
            sub: "device-42",
            iat: 1_764_000_000,
            content_type: ContentType::Text(content_type.into()),
            payload,
        },
    )
}

fn registration(admin: &PrivateKey, new: &PrivateKey, iss: &str, is_admin: bool) -> Vec<u8> {
    let record = IssuerRecord {
        iss: iss.into(),
        key: new.public_key(),
        admin: is_admin,
    };
    statement(
        admin,
        "admin",
        ISSUER_REGISTRATION_CONTENT_TYPE,
        &record.encode(),
    )
}

fn decide(f: &Fixture, state: &MemState, block: &[Vec<u8>]) -> Vec<Decision> {
    f.rules
        .apply_block(state, BlockContext::default(), block, &NoCache)
        .unwrap()
        .decisions
}

fn reason(d: &Decision) -> &Rejection {
    match d {
        Decision::Reject { reason, .. } => reason,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[test]
fn a_genesis_issuer_statement_is_registered_without_state_changes() {
    let f = fixture();
    let s = statement(&f.admin, "admin", "text/plain", b"hello");
    let d = decide(&f, &MemState::default(), std::slice::from_ref(&s));
    assert_eq!(
        d,
        vec![Decision::Register {
            id: statement_id(&s),
            writes: vec![]
        }]
    );
}

#[test]
fn a_statement_from_an_unregistered_key_is_refused_as_unknown_issuer() {
    let f = fixture();
    let stranger = PrivateKey::generate(KeyType::Ed25519).unwrap();
    let d = decide(
        &f,
        &MemState::default(),
        &[statement(&stranger, "admin", "text/plain", b"x")],
    );
    let kid = hex::encode(stranger.public_key().thumbprint());
    assert_eq!(reason(&d[0]), &Rejection::UnknownIssuer(kid));
}

#[test]
fn a_registered_key_claiming_another_issuer_name_is_refused() {
    let f = fixture();
    let d = decide(
        &f,
        &MemState::default(),
        &[statement(&f.admin, "mallory", "text/plain", b"x")],
    );
    assert_eq!(
        reason(&d[0]),
        &Rejection::IssuerMismatch {
            registered: "admin".into(),
            claimed: "mallory".into()
        }
    );
}

#[test]
fn in_a_block_of_ed25519_statements_exactly_the_forged_signatures_are_refused() {
    // Ed25519 issuer signatures of a block are checked in one batch; the decisions must be
    // those of checking each statement alone.
    let f = fixture();
    let alice = PrivateKey::generate(KeyType::Ed25519).unwrap();
    let mut state = MemState::default();
    let reg = decide(
        &f,
        &state,
        &[registration(&f.admin, &alice, "alice", false)],
    );
    if let Decision::Register { writes, .. } = &reg[0] {
        state
            .kv
            .extend(writes.iter().map(|(k, v)| (k.clone(), v.clone().unwrap())));
    }
    let mut block: Vec<Vec<u8>> = (0..6u8)
        .map(|i| statement(&alice, "alice", "text/plain", &[i]))
        .collect();
    for forged in [1, 4] {
        let last = block[forged].len() - 1;
        block[forged][last] ^= 0x01;
    }
    let batched = decide(&f, &state, &block);
    let alone: Vec<Decision> = block
        .iter()
        .flat_map(|s| decide(&f, &state, std::slice::from_ref(s)))
        .collect();
    assert_eq!(batched, alone);
    for (i, d) in batched.iter().enumerate() {
        match i {
            1 | 4 => assert!(matches!(reason(d), Rejection::Signature(_)), "{d:?}"),
            _ => assert!(matches!(d, Decision::Register { .. }), "{d:?}"),
        }
    }
}

#[test]
fn a_statement_with_a_tampered_signature_is_refused() {
    let f = fixture();
    let mut s = statement(&f.admin, "admin", "text/plain", b"x");
    let last = s.len() - 1; // the signature is the last element of the COSE_Sign1 array
    s[last] ^= 0x01;
    let d = decide(&f, &MemState::default(), &[s]);
    assert!(
        matches!(reason(&d[0]), Rejection::Signature(_)),
        "{:?}",
        d[0]
    );
}

#[test]
fn garbage_in_a_block_is_refused_as_malformed_and_does_not_stop_the_block() {
    let f = fixture();
    let good = statement(&f.admin, "admin", "text/plain", b"x");
    let d = decide(&f, &MemState::default(), &[vec![0xff, 0x00], good]);
    assert!(matches!(reason(&d[0]), Rejection::Malformed(_)));
    assert!(matches!(d[1], Decision::Register { .. }));
}

#[test]
fn an_admin_registers_an_issuer_whose_statements_count_from_the_next_position_on() {
    let f = fixture();
    let alice = PrivateKey::generate(KeyType::Ed25519).unwrap();
    let early = statement(&alice, "alice", "text/plain", b"too early");
    let reg = registration(&f.admin, &alice, "alice", false);
    let later = statement(&alice, "alice", "text/plain", b"in time");
    let d = decide(&f, &MemState::default(), &[early, reg, later]);
    assert!(matches!(reason(&d[0]), Rejection::UnknownIssuer(_)));
    match &d[1] {
        Decision::Register { writes, .. } => {
            assert_eq!(writes.len(), 1);
            let record = IssuerRecord::decode(writes[0].1.as_deref().unwrap()).unwrap();
            assert_eq!(record.iss, "alice");
            assert_eq!(record.key, alice.public_key());
            assert!(!record.admin);
        }
        other => panic!("registration refused: {other:?}"),
    }
    assert!(matches!(d[2], Decision::Register { .. }));
}

#[test]
fn a_registered_issuer_is_found_in_state_by_a_later_block() {
    let f = fixture();
    let alice = PrivateKey::generate(KeyType::P256).unwrap();
    let first = decide(
        &f,
        &MemState::default(),
        &[registration(&f.admin, &alice, "alice", false)],
    );
    let mut state = MemState::default();
    if let Decision::Register { writes, .. } = &first[0] {
        state
            .kv
            .extend(writes.iter().map(|(k, v)| (k.clone(), v.clone().unwrap())));
    }
    let d = decide(
        &f,
        &state,
        &[statement(&alice, "alice", "text/plain", b"x")],
    );
    assert!(matches!(d[0], Decision::Register { .. }), "{:?}", d[0]);
}

#[test]
fn only_an_admin_issuer_may_register_issuers() {
    let f = fixture();
    let alice = PrivateKey::generate(KeyType::P256).unwrap();
    let bob = PrivateKey::generate(KeyType::P256).unwrap();
    let record = IssuerRecord {
        iss: "bob".into(),
        key: bob.public_key(),
        admin: false,
    };
    let by_alice = statement(
        &alice,
        "alice",
        ISSUER_REGISTRATION_CONTENT_TYPE,
        &record.encode(),
    );
    let d = decide(
        &f,
        &MemState::default(),
        &[registration(&f.admin, &alice, "alice", false), by_alice],
    );
    assert_eq!(reason(&d[1]), &Rejection::NotAdmin);
}

#[test]
fn a_key_cannot_be_registered_twice() {
    let f = fixture();
    let alice = PrivateKey::generate(KeyType::P256).unwrap();
    let again = registration(&f.admin, &alice, "alice-again", false);
    let d = decide(
        &f,
        &MemState::default(),
        &[registration(&f.admin, &alice, "alice", false), again],
    );
    assert!(matches!(
        reason(&d[1]),
        Rejection::IssuerAlreadyRegistered(_)
    ));
}

#[test]
fn an_issuer_registration_with_a_bad_payload_is_refused() {
    let f = fixture();
    let s = statement(
        &f.admin,
        "admin",
        ISSUER_REGISTRATION_CONTENT_TYPE,
        b"\x01\x02",
    );
    let d = decide(&f, &MemState::default(), &[s]);
    assert!(matches!(reason(&d[0]), Rejection::BadRegistration(_)));
}

#[test]
fn a_resubmitted_statement_is_a_duplicate_not_a_second_entry() {
    let f = fixture();
    let s = statement(&f.admin, "admin", "text/plain", b"x");
    let d = decide(&f, &MemState::default(), &[s.clone(), s.clone()]);
    assert!(matches!(d[0], Decision::Register { .. }));
    assert_eq!(
        d[1],
        Decision::Duplicate {
            id: statement_id(&s)
        }
    );
    let mut state = MemState::default();
    state.entries.insert(statement_id(&s));
    assert_eq!(
        decide(&f, &state, std::slice::from_ref(&s)),
        vec![Decision::Duplicate {
            id: statement_id(&s)
        }]
    );
}

#[test]
fn the_same_block_on_the_same_state_always_gets_the_same_decision() {
    let f = fixture();
    let alice = PrivateKey::generate(KeyType::Ed25519).unwrap();
    let block = vec![
        registration(&f.admin, &alice, "alice", false),
        statement(&alice, "alice", "text/plain", b"1"),
        vec![1, 2, 3],
    ];
    let a = f
        .rules
        .apply_block(
            &MemState::default(),
            BlockContext::default(),
            &block,
            &NoCache,
        )
        .unwrap();
    let b = f
        .rules
        .apply_block(
            &MemState::default(),
            BlockContext::default(),
            &block,
            &NoCache,
        )
        .unwrap();
    assert_eq!(a, b);
    assert_eq!(a.registered().collect::<Vec<_>>(), vec![0, 1]);
}

#[test]
fn a_small_order_ed25519_key_cannot_be_registered_as_an_issuer() {
    let f = fixture();
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let record = IssuerRecord {
        iss: "weak".into(),
        key: proverka_statement::PublicKey::from_ed25519_bytes(identity).unwrap(),
        admin: false,
    };
    let s = statement(
        &f.admin,
        "admin",
        ISSUER_REGISTRATION_CONTENT_TYPE,
        &record.encode(),
    );
    let d = decide(&f, &MemState::default(), &[s]);
    assert!(
        matches!(reason(&d[0]), Rejection::BadRegistration(r) if r.contains("small-order")),
        "{:?}",
        d[0]
    );
}

/// `check_statement_deferred` + `resolve` with the signature's own verification gives the
/// verdict of `check_statement(.., false)` — also when a statement fails both its signature
/// and a later rule (the signature refusal comes first, as inline), and when it fails before
/// the signature check (no key is asked for).
#[test]
fn a_deferred_signature_check_gives_the_same_verdict_as_checking_inline() {
    let f = fixture();
    let state = MemState::default();
    let stranger = PrivateKey::generate(KeyType::Ed25519).unwrap();
    let new = PrivateKey::generate(KeyType::Ed25519).unwrap();
    let tamper = |mut b: Vec<u8>| {
        let last = b.len() - 1;
        b[last] ^= 1;
        b
    };
    let cases: Vec<(&str, Vec<u8>, bool)> = vec![
        (
            "good",
            statement(&f.admin, "admin", "text/plain", b"hi"),
            true,
        ),
        (
            "bad signature",
            tamper(statement(&f.admin, "admin", "text/plain", b"hi")),
            true,
        ),
        (
            "good registration",
            registration(&f.admin, &new, "new", false),
            true,
        ),
        (
            "bad signature and bad registration payload",
            tamper(statement(
                &f.admin,
                "admin",
                ISSUER_REGISTRATION_CONTENT_TYPE,
                b"junk",
            )),
            true,
        ),
        (
            "bad registration payload",
            statement(&f.admin, "admin", ISSUER_REGISTRATION_CONTENT_TYPE, b"junk"),
            true,
        ),
        (
            "unknown issuer",
            tamper(statement(&stranger, "x", "text/plain", b"hi")),
            false,
        ),
        (
            "issuer mismatch",
            tamper(statement(&f.admin, "other", "text/plain", b"hi")),
            false,
        ),
    ];
    for (name, bytes, asks_key) in cases {
        let stmt = SignedStatement::parse(&bytes, f.rules.limits()).unwrap();
        let block = BlockContext::default();
        let inline = f
            .rules
            .check_statement(&state, block, &stmt, false)
            .unwrap();
        let deferred = f
            .rules
            .check_statement_deferred(&state, block, &stmt)
            .unwrap();
        assert_eq!(deferred.key.is_some(), asks_key, "{name}");
        let signature = match &deferred.key {
            Some(key) => stmt.verify(key),
            None => Ok(()),
        };
        assert_eq!(deferred.resolve(signature), inline, "{name}");
    }
}

/// A cache that offers one parsed statement under every id, as if the node had parsed it at
/// submission; signatures are left to the rules.
struct OffersParsed(std::sync::Arc<SignedStatement>);

impl proverka_ledger::SignatureCache for OffersParsed {
    fn is_verified(&self, _: &[u8; 32]) -> bool {
        false
    }

    fn parsed(&self, _: &[u8; 32]) -> Option<std::sync::Arc<SignedStatement>> {
        Some(self.0.clone())
    }
}

fn decide_with(f: &Fixture, block: &[Vec<u8>], cache: &OffersParsed) -> Vec<Decision> {
    f.rules
        .apply_block(&MemState::default(), BlockContext::default(), block, cache)
        .unwrap()
        .decisions
}

#[test]
fn a_statement_parsed_before_its_block_is_decided_as_its_bytes_are() {
    let f = fixture();
    let s = statement(&f.admin, "admin", "text/plain", b"hello");
    let parsed = SignedStatement::parse(&s, f.rules.limits()).unwrap();
    let d = decide_with(&f, std::slice::from_ref(&s), &OffersParsed(parsed.into()));
    assert_eq!(
        d,
        decide(&f, &MemState::default(), std::slice::from_ref(&s))
    );
    assert!(matches!(d[0], Decision::Register { .. }));
}

#[test]
fn a_parsed_statement_offered_for_other_bytes_is_ignored() {
    let f = fixture();
    // The cache offers the admin's valid statement for every id; the block holds a stranger's.
    let valid = statement(&f.admin, "admin", "text/plain", b"hello");
    let offered = SignedStatement::parse(&valid, f.rules.limits()).unwrap();
    let stranger = PrivateKey::generate(KeyType::Ed25519).unwrap();
    let block = vec![statement(&stranger, "admin", "text/plain", b"x")];
    let d = decide_with(&f, &block, &OffersParsed(offered.into()));
    let kid = hex::encode(stranger.public_key().thumbprint());
    assert_eq!(reason(&d[0]), &Rejection::UnknownIssuer(kid));
    assert_eq!(d[0], decide(&f, &MemState::default(), &block)[0]);
}
