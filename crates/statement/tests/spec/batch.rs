//! Batch verification gives exactly the answers single verification gives.

use proverka_statement::{
    sign_statement, verify_batch, Limits, PrivateKey, PublicKey, SignedStatement, StatementError,
    StatementParams,
};

use crate::support::*;

fn parse(bytes: &[u8]) -> SignedStatement {
    SignedStatement::parse(bytes, &Limits::default()).unwrap()
}

fn signed(key: &PrivateKey, n: i64) -> SignedStatement {
    let sub = format!("urn:example:device:{n}");
    parse(&sign_statement(
        key,
        &StatementParams {
            sub: &sub,
            iat: n,
            ..params()
        },
    ))
}

fn with_flipped_signature(key: &PrivateKey, s: &SignedStatement) -> SignedStatement {
    let mut sig = s.signature().to_vec();
    sig[40] ^= 0x80;
    let draft = Draft {
        raw_protected: Some(s.protected_bytes().to_vec()),
        ..Draft::new(key)
    };
    parse(&draft.encode_with_signature(&sig))
}

fn singles(items: &[(&SignedStatement, &PublicKey)]) -> Vec<Result<(), StatementError>> {
    items.iter().map(|(s, k)| s.verify(k)).collect()
}

#[test]
fn batch_results_equal_single_results_including_a_bad_signature() {
    let (a, b, p) = (ed25519_key(), other_ed25519_key(), p256_key());
    let (pa, pb, pp) = (a.public_key(), b.public_key(), p.public_key());
    let good: Vec<_> = (0..6)
        .map(|n| signed(if n % 2 == 0 { &a } else { &b }, n))
        .collect();
    let bad_ed = with_flipped_signature(&a, &signed(&a, 100));
    let good_p256 = signed(&p, 200);
    let bad_p256 = with_flipped_signature(&p, &signed(&p, 201));

    let items: Vec<(&SignedStatement, &PublicKey)> = vec![
        (&good[0], &pa),
        (&good[1], &pb),
        (&bad_ed, &pa),
        (&good[2], &pa),
        (&good_p256, &pp),
        (&good[3], &pb),
        (&bad_p256, &pp),
        (&good[4], &pb), // wrong key: kid mismatch
        (&good[5], &pb),
    ];
    let batch = verify_batch(&items);
    assert_eq!(batch, singles(&items));
    assert_eq!(
        batch,
        vec![
            Ok(()),
            Ok(()),
            Err(StatementError::BadSignature),
            Ok(()),
            Ok(()),
            Ok(()),
            Err(StatementError::BadSignature),
            Err(StatementError::KidMismatch),
            Ok(()),
        ]
    );
}

#[test]
fn an_all_valid_batch_verifies() {
    let key = ed25519_key();
    let public = key.public_key();
    let statements: Vec<_> = (0..16).map(|n| signed(&key, n)).collect();
    let items: Vec<_> = statements.iter().map(|s| (s, &public)).collect();
    assert!(verify_batch(&items).iter().all(Result::is_ok));
    assert!(verify_batch(&[]).is_empty());
}

#[test]
fn batch_rejects_an_algorithm_key_mismatch_like_single_verification() {
    let ed = ed25519_key();
    let s = parse(&Draft::new(&ed).set(1, int(-7)).sign(&ed));
    let public = ed.public_key();
    let items = [(&s, &public)];
    assert_eq!(verify_batch(&items), singles(&items));
    assert!(matches!(
        verify_batch(&items)[0],
        Err(StatementError::AlgorithmKeyMismatch { .. })
    ));
}

#[test]
fn a_zip_215_edge_case_is_judged_the_same_in_batch_and_alone() {
    // Small-order key and signature (see keys::ed25519_verification_follows_zip_215): a single
    // verifier with other rules would disagree with a batch verifier here. Ours do not.
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let weak = PublicKey::from_ed25519_bytes(identity).unwrap();
    let mut sig = [0u8; 64];
    sig[0] = 1;
    let draft = Draft::new(&ed25519_key()).set(4, bytes(&weak.thumbprint()));
    let edge = parse(&draft.encode_with_signature(&sig));
    let key = ed25519_key();
    let public = key.public_key();
    let normal = signed(&key, 1);
    let items = [(&edge, &weak), (&normal, &public)];
    assert_eq!(verify_batch(&items), vec![Ok(()), Ok(())]);
    assert_eq!(singles(&items), vec![Ok(()), Ok(())]);
}
