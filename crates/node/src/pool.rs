//! The pool of statements accepted for registration but not yet in a finalized block.
//!
//! Contract: a statement submitted here enters the pool only after its signature and issuer
//! were checked; one another validator shared ([`Pool::offer_shared`], so that whichever
//! validator leads next can propose it) enters unchecked, within its own bound
//! ([`MAX_SHARED_IN_POOL`]), and is judged like any statement when its block is applied. A
//! statement leaves the pool when a finalized block decides it (registered, duplicate or
//! rejected). A statement taken into a proposal (ours, or one we voted on) that never finalizes
//! is offered again after [`REQUEUE_AFTER`]. Submitters wait on the statement's outcome;
//! nothing is acknowledged before the block holding it is durably applied.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

/// Most statements waiting in the pool; beyond it submissions get 503 (back-pressure).
pub const MAX_POOL_STATEMENTS: usize = 200_000;
/// Most bytes of statements waiting in the pool.
pub const MAX_POOL_BYTES: usize = 512 << 20;
/// A statement proposed but not decided by a finalized block within this time is re-offered.
pub const REQUEUE_AFTER: Duration = Duration::from_secs(20);
/// Most statements other validators shared that wait in this pool; beyond it their shares are
/// dropped (they still wait in the pool of the validator that received them).
pub const MAX_SHARED_IN_POOL: usize = MAX_POOL_STATEMENTS / 4;
/// Most statements received here that wait to be shared with the other validators; beyond it
/// they are not shared (they are proposed when this validator leads).
pub const MAX_OUTBOX: usize = 16_384;

/// How a finalized block decided a statement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// In the log at this index (newly appended or already present).
    Registered { index: u64 },
    /// Refused by the ledger rules at apply time.
    Rejected { reason: String },
}

/// Why the pool did not take a statement.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PoolError {
    #[error("the registration queue is full ({MAX_POOL_STATEMENTS} statements or {MAX_POOL_BYTES} bytes); retry later")]
    Full,
}

struct Pending {
    bytes: Arc<Vec<u8>>,
    /// When a proposal (ours, or another validator's this node voted on) took it.
    proposed_at: Option<Instant>,
    waiters: Vec<oneshot::Sender<Outcome>>,
    /// Shared by another validator rather than submitted here.
    shared: bool,
}

#[derive(Default)]
struct Inner {
    queue: VecDeque<[u8; 32]>,
    pending: HashMap<[u8; 32], Pending>,
    queued_bytes: usize,
    /// When stale proposals were last looked for; the scan is O(pending), so not every call.
    last_requeue: Option<Instant>,
    /// Whether statements submitted here are shared with other validators.
    sharing: bool,
    /// Statements submitted here, not yet handed to [`Pool::take_outbox`].
    outbox: Vec<Arc<Vec<u8>>>,
    /// Pending statements that other validators shared.
    shared_count: usize,
}

/// The shared pool; cheap to clone.
#[derive(Clone, Default)]
pub struct Pool {
    inner: Arc<Mutex<Inner>>,
    /// Woken when the outbox gets its first statement.
    outbox_ready: Arc<tokio::sync::Notify>,
}

impl Pool {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves consistent data (every update is one step).
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds a checked statement (or joins the wait if it is already pending) and returns the
    /// receiver of its outcome.
    pub fn submit(
        &self,
        id: [u8; 32],
        bytes: Vec<u8>,
    ) -> Result<oneshot::Receiver<Outcome>, PoolError> {
        let (tx, rx) = oneshot::channel();
        let mut inner = self.lock();
        if let Some(p) = inner.pending.get_mut(&id) {
            p.waiters.push(tx);
            return Ok(rx);
        }
        if inner.pending.len() >= MAX_POOL_STATEMENTS
            || inner.queued_bytes + bytes.len() > MAX_POOL_BYTES
        {
            return Err(PoolError::Full);
        }
        inner.queued_bytes += bytes.len();
        inner.queue.push_back(id);
        let bytes = Arc::new(bytes);
        if inner.sharing && inner.outbox.len() < MAX_OUTBOX {
            if inner.outbox.is_empty() {
                self.outbox_ready.notify_one();
            }
            inner.outbox.push(bytes.clone());
        }
        let pending = Pending {
            bytes,
            proposed_at: None,
            waiters: vec![tx],
            shared: false,
        };
        inner.pending.insert(id, pending);
        Ok(rx)
    }

    /// From now on, statements submitted here are also handed out by [`Pool::take_outbox`].
    pub fn share_submissions(&self) {
        self.lock().sharing = true;
    }

    /// Waits until statements submitted here wait to be shared, then takes them all.
    pub async fn take_outbox(&self) -> Vec<Arc<Vec<u8>>> {
        loop {
            let notified = self.outbox_ready.notified();
            let taken = std::mem::take(&mut self.lock().outbox);
            if !taken.is_empty() {
                return taken;
            }
            notified.await;
        }
    }

    /// Takes a statement another validator shared, so that this validator proposes it when it
    /// leads. Nobody here waits for it; `false` if it is already pending or too many shared
    /// statements wait. Its signature is checked when its block is applied.
    pub fn offer_shared(&self, id: [u8; 32], bytes: Vec<u8>) -> bool {
        let mut inner = self.lock();
        if inner.pending.contains_key(&id)
            || inner.shared_count >= MAX_SHARED_IN_POOL
            || inner.queued_bytes + bytes.len() > MAX_POOL_BYTES
        {
            return false;
        }
        inner.queued_bytes += bytes.len();
        inner.queue.push_back(id);
        inner.shared_count += 1;
        let pending = Pending {
            bytes: Arc::new(bytes),
            proposed_at: None,
            waiters: Vec::new(),
            shared: true,
        };
        inner.pending.insert(id, pending);
        true
    }

    /// Another validator proposed these statements: do not propose them again unless that
    /// proposal is not decided within [`REQUEUE_AFTER`].
    pub fn mark_proposed(&self, ids: &[[u8; 32]]) {
        let mut inner = self.lock();
        let now = Instant::now();
        let mut taken = 0;
        for id in ids {
            if let Some(p) = inner.pending.get_mut(id) {
                if p.proposed_at.is_none() {
                    p.proposed_at = Some(now);
                    taken += p.bytes.len();
                }
            }
        }
        inner.queued_bytes = inner.queued_bytes.saturating_sub(taken);
    }

    /// Whether `id` waits for a block.
    pub fn is_pending(&self, id: &[u8; 32]) -> bool {
        self.lock().pending.contains_key(id)
    }

    /// Statements waiting (queued or proposed).
    pub fn len(&self) -> usize {
        self.lock().pending.len()
    }

    /// True when nothing waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Takes up to `max` statements / `max_bytes` bytes for a proposal, oldest first.
    pub fn take_batch(&self, max: usize, max_bytes: usize) -> Vec<Vec<u8>> {
        let mut inner = self.lock();
        let now = Instant::now();
        if inner
            .last_requeue
            .is_none_or(|t| now.duration_since(t) > REQUEUE_AFTER / 4)
        {
            inner.last_requeue = Some(now);
            requeue_stale(&mut inner, now);
        }
        let mut batch = Vec::new();
        let mut bytes = 0;
        while batch.len() < max {
            let Some(id) = inner.queue.front().copied() else {
                break;
            };
            let Some(p) = inner.pending.get_mut(&id) else {
                inner.queue.pop_front();
                continue;
            };
            if p.proposed_at.is_some() {
                // Another validator's proposal took it (`mark_proposed`).
                inner.queue.pop_front();
                continue;
            }
            if bytes + p.bytes.len() > max_bytes && !batch.is_empty() {
                break;
            }
            p.proposed_at = Some(Instant::now());
            bytes += p.bytes.len();
            batch.push(p.bytes.as_ref().clone());
            inner.queue.pop_front();
        }
        inner.queued_bytes = inner.queued_bytes.saturating_sub(bytes);
        batch
    }

    /// Records a finalized block's decision for `id` and wakes its submitters.
    pub fn decide(&self, id: &[u8; 32], outcome: Outcome) {
        let removed = {
            let mut inner = self.lock();
            let removed = inner.pending.remove(id);
            if let Some(p) = &removed {
                if p.proposed_at.is_none() {
                    // Decided while still queued (e.g. proposed by another validator).
                    inner.queued_bytes = inner.queued_bytes.saturating_sub(p.bytes.len());
                }
                if p.shared {
                    inner.shared_count -= 1;
                }
            }
            removed
        };
        for w in removed.into_iter().flat_map(|p| p.waiters) {
            let _ = w.send(outcome.clone());
        }
    }
}

fn requeue_stale(inner: &mut Inner, now: Instant) {
    let mut stale = Vec::new();
    for (id, p) in inner.pending.iter_mut() {
        if p.proposed_at
            .is_some_and(|t| now.duration_since(t) > REQUEUE_AFTER)
        {
            p.proposed_at = None;
            stale.push((*id, p.bytes.len()));
        }
    }
    for (id, len) in stale {
        inner.queued_bytes += len;
        inner.queue.push_back(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> [u8; 32] {
        [n; 32]
    }

    #[test]
    fn batches_come_out_in_submission_order_and_only_once() {
        let pool = Pool::default();
        let _waiters: Vec<_> = (0..5)
            .map(|n| pool.submit(id(n), vec![n; 10]).unwrap())
            .collect();
        assert_eq!(
            pool.take_batch(3, 1 << 20),
            vec![vec![0; 10], vec![1; 10], vec![2; 10]]
        );
        assert_eq!(pool.take_batch(10, 1 << 20), vec![vec![3; 10], vec![4; 10]]);
        assert!(pool.take_batch(10, 1 << 20).is_empty());
        assert_eq!(
            pool.len(),
            5,
            "proposed statements stay pending until decided"
        );
    }

    #[test]
    fn byte_limit_bounds_a_batch_but_never_starves_a_large_statement() {
        let pool = Pool::default();
        let _a = pool.submit(id(1), vec![1; 100]).unwrap();
        let _b = pool.submit(id(2), vec![2; 100]).unwrap();
        assert_eq!(pool.take_batch(10, 150).len(), 1);
        assert_eq!(
            pool.take_batch(10, 50).len(),
            1,
            "a lone oversized item still goes"
        );
    }

    #[tokio::test]
    async fn every_waiter_of_a_statement_learns_its_outcome() {
        let pool = Pool::default();
        let a = pool.submit(id(7), vec![7]).unwrap();
        let b = pool.submit(id(7), vec![7]).unwrap();
        assert_eq!(
            pool.len(),
            1,
            "a resubmission joins the wait, no second entry"
        );
        pool.decide(&id(7), Outcome::Registered { index: 3 });
        assert_eq!(a.await.unwrap(), Outcome::Registered { index: 3 });
        assert_eq!(b.await.unwrap(), Outcome::Registered { index: 3 });
        assert!(pool.is_empty());
    }

    #[tokio::test]
    async fn submissions_are_handed_out_for_sharing_once_and_only_when_sharing() {
        let pool = Pool::default();
        let _a = pool.submit(id(1), vec![1]).unwrap();
        pool.share_submissions();
        let _b = pool.submit(id(2), vec![2]).unwrap();
        let _c = pool.submit(id(3), vec![3]).unwrap();
        let _again = pool.submit(id(3), vec![3]).unwrap();
        let shared: Vec<Vec<u8>> = pool
            .take_outbox()
            .await
            .iter()
            .map(|b| b.to_vec())
            .collect();
        assert_eq!(
            shared,
            vec![vec![2], vec![3]],
            "not 1 (before sharing), 3 once"
        );
        let _d = pool.submit(id(4), vec![4]).unwrap();
        assert_eq!(pool.take_outbox().await.len(), 1);
    }

    #[test]
    fn a_shared_statement_is_proposed_and_decided_without_anyone_waiting_here() {
        let pool = Pool::default();
        assert!(pool.offer_shared(id(5), vec![5]));
        assert!(!pool.offer_shared(id(5), vec![5]), "already pending");
        pool.share_submissions();
        let _local = pool.submit(id(6), vec![6]).unwrap();
        assert_eq!(pool.take_batch(10, 100), vec![vec![5], vec![6]]);
        pool.decide(&id(5), Outcome::Registered { index: 0 });
        assert_eq!(pool.len(), 1);
        assert_eq!(pool.lock().shared_count, 0);
    }

    #[test]
    fn shared_statements_have_their_own_bound() {
        let pool = Pool::default();
        for n in 0..MAX_SHARED_IN_POOL {
            assert!(pool.offer_shared(
                (n as u64).to_be_bytes().repeat(4).try_into().unwrap(),
                vec![1]
            ));
        }
        assert!(
            !pool.offer_shared(id(0xee), vec![1]),
            "beyond MAX_SHARED_IN_POOL"
        );
        assert!(
            pool.submit(id(0xef), vec![1]).is_ok(),
            "local submissions still fit"
        );
    }

    #[test]
    fn what_another_leader_proposed_is_not_proposed_again_unless_it_goes_stale() {
        let pool = Pool::default();
        let _a = pool.submit(id(1), vec![1]).unwrap();
        let _b = pool.submit(id(2), vec![2]).unwrap();
        pool.mark_proposed(&[id(1), id(9)]);
        assert_eq!(pool.take_batch(10, 100), vec![vec![2]]);
        {
            let mut inner = pool.lock();
            let later = Instant::now() + REQUEUE_AFTER + Duration::from_secs(1);
            requeue_stale(&mut inner, later);
        }
        let mut again = pool.take_batch(10, 100);
        again.sort(); // stale statements are re-queued in no particular order
        assert_eq!(again, vec![vec![1], vec![2]]);
    }

    #[test]
    fn a_proposal_that_never_finalizes_is_offered_again() {
        let pool = Pool::default();
        let _a = pool.submit(id(1), vec![1]).unwrap();
        assert_eq!(pool.take_batch(10, 100).len(), 1);
        {
            let mut inner = pool.lock();
            let later = Instant::now() + REQUEUE_AFTER + Duration::from_secs(1);
            requeue_stale(&mut inner, later);
        }
        assert_eq!(pool.take_batch(10, 100), vec![vec![1]]);
    }
}
