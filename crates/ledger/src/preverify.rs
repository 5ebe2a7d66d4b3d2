//! Batch signature checks for a block, before its statements are judged one by one.
//!
//! A validator that did not receive a statement itself must verify its signature when the
//! block is applied, and on a network of validators that is most of the apply's work. Ed25519
//! signatures are checked together in one batch equation (`proverka_statement::verify_batch`,
//! about 4× cheaper than one by one, and ZIP-215 for batch and single alike, so it accepts
//! exactly what `SignedStatement::verify` accepts). The rules then skip the outer signature
//! check of the statements that passed; everything else is verified by the rules as before.
//! Unlike the node's [`SignatureCache`] (a statement it checked whole at submission), a batch
//! pass says nothing of signatures nested inside a statement (evidence batch items): those are
//! still checked by their rule.
//!
//! Only statements an *issuer* signs take part: their key is the one their `kid` names, found
//! in genesis or in the parent state. Statements signed by device or joining keys (`join`,
//! `evidence`, `rekey`) are left to their rules, which choose the key from the payload.

use std::collections::HashSet;
use std::sync::Arc;

use proverka_statement::{verify_batch, PublicKey, SignedStatement, StatementError};

use crate::ctx::{BlockContext, Ctx, Overlay};
use crate::kinds;
use crate::rules::{Rules, SignatureCache, StateError, StateView};

/// Statements of the block parsed once: entry id and the parsed statement, if it parsed.
pub(crate) type Parsed = Vec<([u8; 32], Result<Arc<SignedStatement>, StatementError>)>;

/// The ids of `parsed` statements whose Ed25519 issuer signature verified in one batch.
/// Statements already in `cache`, not issuer-signed, of an issuer unknown to the parent state,
/// or with another key type are not included (the rules check them).
pub(crate) fn batch_verified(
    rules: &Rules,
    view: &dyn StateView,
    block: BlockContext,
    parsed: &Parsed,
    cache: &dyn SignatureCache,
) -> Result<HashSet<[u8; 32]>, StateError> {
    let overlay = Overlay::new();
    let mut items: Vec<([u8; 32], &SignedStatement, PublicKey)> = Vec::new();
    for (id, stmt) in parsed {
        let Ok(stmt) = stmt else { continue };
        if cache.is_verified(id) || !issuer_signed(stmt) {
            continue;
        }
        let ctx = Ctx::new(view, &overlay, block, 0, *id);
        if let Some(issuer) = rules.issuer(&ctx, stmt.kid())? {
            if matches!(issuer.key, PublicKey::Ed25519(_)) {
                items.push((*id, stmt, issuer.key));
            }
        }
    }
    if items.len() < 2 {
        return Ok(HashSet::new()); // nothing to gain over the rules' own check
    }
    let pairs: Vec<(&SignedStatement, &PublicKey)> =
        items.iter().map(|(_, stmt, key)| (*stmt, key)).collect();
    Ok(items
        .iter()
        .zip(verify_batch(&pairs))
        .filter(|(_, result)| result.is_ok())
        .map(|((id, _, _), _)| *id)
        .collect())
}

/// Whether the rules verify `stmt` with the registered issuer key its `kid` names.
fn issuer_signed(stmt: &SignedStatement) -> bool {
    !matches!(
        kinds::of(stmt),
        Some(kinds::JOIN) | Some(kinds::EVIDENCE) | Some(kinds::REKEY)
    )
}
