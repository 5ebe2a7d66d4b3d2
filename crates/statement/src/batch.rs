//! Batch verification: Ed25519 signatures in one batch equation, ECDSA one by one.

use ed25519_consensus::batch;
use ed25519_consensus::{Signature, VerificationKeyBytes};

use crate::{PublicKey, SignedStatement, StatementError};

/// Verifies many statements, each with its key; result `i` is for item `i` and equals what
/// `items[i].0.verify(items[i].1)` returns.
///
/// Ed25519 items go through one `ed25519_consensus` batch. That crate applies the ZIP-215 rules
/// to batch and single verification alike, so a batch accepts exactly the signatures single
/// verification accepts. If the batch fails, each Ed25519 item is re-checked alone to find the
/// culprits. ECDSA items are verified singly.
pub fn verify_batch(items: &[(&SignedStatement, &PublicKey)]) -> Vec<Result<(), StatementError>> {
    let mut results = Vec::with_capacity(items.len());
    let mut queued: Vec<(usize, batch::Item)> = Vec::new();
    for (index, (statement, key)) in items.iter().enumerate() {
        match ed25519_item(statement, key) {
            Some(Ok(item)) => {
                queued.push((index, item));
                results.push(Ok(()));
            }
            Some(Err(e)) => results.push(Err(e)),
            None => results.push(statement.verify(key)),
        }
    }
    resolve_ed25519(queued, &mut results);
    results
}

/// Prepares an Ed25519 batch item, or says why the statement fails before any curve
/// arithmetic. `None` means the key is not Ed25519: verify it singly.
fn ed25519_item(
    statement: &SignedStatement,
    key: &PublicKey,
) -> Option<Result<batch::Item, StatementError>> {
    let PublicKey::Ed25519(key_bytes) = key else {
        return None;
    };
    let item = statement.check_key(key).and_then(|()| {
        let signature: [u8; 64] = statement
            .signature()
            .try_into()
            .map_err(|_| StatementError::BadSignature)?;
        let message = statement.to_be_signed();
        Ok(batch::Item::from((
            VerificationKeyBytes::from(*key_bytes),
            Signature::from(signature),
            &message[..],
        )))
    });
    Some(item)
}

/// Runs the batch; on failure falls back to single checks (same rules) to mark culprits.
fn resolve_ed25519(queued: Vec<(usize, batch::Item)>, results: &mut [Result<(), StatementError>]) {
    if queued.is_empty() {
        return;
    }
    let mut verifier = batch::Verifier::new();
    for (_, item) in &queued {
        verifier.queue(item.clone());
    }
    if verifier.verify(rand_core::OsRng).is_ok() {
        return;
    }
    for (index, item) in queued {
        if item.verify_single().is_err() {
            results[index] = Err(StatementError::BadSignature);
        }
    }
}
