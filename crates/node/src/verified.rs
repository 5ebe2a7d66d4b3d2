//! Statements this node verified whole at submission, remembered until their block decides
//! them: the block's apply then skips their signatures ([`SignatureCache::is_verified`]) and,
//! within a memory budget, their parse ([`SignatureCache::parsed`]).
//!
//! The marks are bounded by the pool they wait in (`docs/limits.md`); the parsed copies by
//! [`MAX_PARSED_BYTES`] besides, counted as twice each statement's size (its bytes, plus the
//! payload and headers copied out of them). Past the budget a statement is still marked, only
//! not kept parsed: its apply parses it again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use proverka_ledger::SignatureCache;
use proverka_statement::SignedStatement;

/// Most bytes of parsed statements kept for their blocks (counted as in the module docs).
pub const MAX_PARSED_BYTES: usize = 256 << 20;

/// See the module documentation.
pub struct Verified {
    inner: Mutex<Inner>,
    max_parsed_bytes: usize,
}

#[derive(Default)]
struct Inner {
    marks: HashMap<[u8; 32], Option<Arc<SignedStatement>>>,
    parsed_bytes: usize,
}

fn footprint(stmt: &SignedStatement) -> usize {
    stmt.bytes().len().saturating_mul(2)
}

impl Verified {
    pub fn new(max_parsed_bytes: usize) -> Self {
        Verified {
            inner: Mutex::new(Inner::default()),
            max_parsed_bytes,
        }
    }

    // Nothing here can be left half-changed by a panic, so a poisoned lock is still whole.
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Remembers that `id`'s statement verified whole, keeping `stmt` if the budget allows.
    pub fn mark(&self, id: [u8; 32], stmt: Arc<SignedStatement>) {
        let mut inner = self.lock();
        let inner = &mut *inner;
        if let Some(Some(old)) = inner.marks.remove(&id) {
            inner.parsed_bytes -= footprint(&old);
        }
        let size = footprint(&stmt);
        let kept = (inner.parsed_bytes + size <= self.max_parsed_bytes).then(|| {
            inner.parsed_bytes += size;
            stmt
        });
        inner.marks.insert(id, kept);
    }

    /// Forgets `id`: its block decided it, or it will not reach one through this submission.
    pub fn unmark(&self, id: &[u8; 32]) {
        let mut inner = self.lock();
        if let Some(Some(old)) = inner.marks.remove(id) {
            inner.parsed_bytes -= footprint(&old);
        }
    }

    /// Bytes of parsed statements held, as counted against [`MAX_PARSED_BYTES`].
    pub fn parsed_bytes(&self) -> usize {
        self.lock().parsed_bytes
    }
}

impl SignatureCache for Verified {
    fn is_verified(&self, id: &[u8; 32]) -> bool {
        self.lock().marks.contains_key(id)
    }

    fn parsed(&self, id: &[u8; 32]) -> Option<Arc<SignedStatement>> {
        self.lock().marks.get(id).cloned().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proverka_statement::{statement_id, KeyType, PrivateKey};

    fn statement(n: usize) -> ([u8; 32], Arc<SignedStatement>) {
        let key = PrivateKey::generate(KeyType::Ed25519).expect("key");
        let stmt = crate::verifier::tests::statement(&key, n);
        (statement_id(stmt.bytes()), stmt)
    }

    #[test]
    fn past_the_budget_a_statement_is_marked_but_not_kept_parsed() {
        let (a, sa) = statement(1);
        let (b, sb) = statement(2);
        // Room for exactly one of them.
        let verified = Verified::new(footprint(&sa));
        verified.mark(a, sa.clone());
        verified.mark(b, sb);
        assert!(verified.is_verified(&a) && verified.is_verified(&b));
        assert_eq!(verified.parsed(&a).as_deref(), Some(&*sa));
        assert!(verified.parsed(&b).is_none());
        assert_eq!(verified.parsed_bytes(), footprint(&sa));
    }

    #[test]
    fn unmarking_frees_the_budget_and_marking_twice_counts_once() {
        let (a, sa) = statement(1);
        let (b, sb) = statement(2);
        let verified = Verified::new(footprint(&sa).max(footprint(&sb)));
        verified.mark(a, sa.clone());
        verified.mark(a, sa.clone());
        assert_eq!(verified.parsed_bytes(), footprint(&sa));
        verified.unmark(&a);
        assert!(!verified.is_verified(&a));
        assert_eq!(verified.parsed_bytes(), 0);
        verified.mark(b, sb.clone());
        assert_eq!(verified.parsed(&b).as_deref(), Some(&*sb));
    }
}
