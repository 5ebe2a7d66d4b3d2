//! The boundary between consensus and the ledger: the public [`Application`] trait and the
//! adapters that present it to marshal (as a block builder/verifier and as the reporter of
//! finalized blocks).

use crate::block::{
    block_context, Anchor, Block, ChainBlock, MAX_STATEMENTS_PER_BLOCK, MAX_STATEMENT_BYTES,
    MAX_STATEMENT_BYTES_PER_BLOCK,
};
use crate::engine::Handover;
use commonware_actor::Feedback;
use commonware_consensus::{
    marshal::{ancestry::Ancestry, Update},
    simplex::{scheme::ed25519, types::Context},
    Reporter,
};
use commonware_cryptography::{ed25519 as ed, sha256, Digested, Digestible};
use commonware_runtime::{Clock, Metrics, Spawner};
use commonware_utils::{acknowledgement::Exact, Acknowledgement};
use futures::{channel::mpsc, StreamExt};
use std::{
    collections::{BTreeMap, VecDeque},
    future::pending,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex,
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};
use tracing::{debug, error, warn};

/// How often an idle leader asks [`Application::take_batch`] for statements.
pub const PROPOSE_POLL_INTERVAL: Duration = Duration::from_millis(1);
/// How many blocks above the last one its application applied a leader may build on before it
/// holds its proposal (at most [`MAX_APPLY_WAIT`]): one block being applied, one in consensus.
pub const MAX_APPLY_LAG: u64 = 2;
/// The longest a leader holds its proposal for its application to catch up. Well under the
/// leader timeout (`max_idle` + 1 s), so a validator that lags for long (catching up after a
/// restart) still leads its views, only later.
pub const MAX_APPLY_WAIT: Duration = Duration::from_millis(100);
/// How far ahead of a validator's clock a block timestamp may be before the validator withholds
/// its vote (it waits until its clock catches up rather than rejecting; see `docs/blocks.md`).
pub const MAX_TIMESTAMP_AHEAD_MS: u64 = 2_000;

/// What the ledger provides to consensus. Calls may come from several consensus threads at once.
///
/// Trust contract: `verify` sees blocks built by other validators, which may be Byzantine; the
/// block has already passed the structural checks (limits, height, parent link, consensus
/// context, timestamp). `finalized` sees only blocks finalized by a quorum.
pub trait Application: Clone + Send + Sync + 'static {
    /// Statements for the block this validator is about to propose, removed from the pool by this
    /// call: at most `max_statements` of them, whose lengths sum to at most `max_bytes`. Return
    /// quickly (it is polled about every millisecond while the pool is empty); may be empty.
    ///
    /// Statements taken for a proposal that is not finalized are proposed again by this
    /// validator later, unless it stops first: statements taken but not yet finalized at shutdown
    /// are lost, and their submitters must resubmit. Consensus does not deduplicate: when
    /// several validators hold the same statement, it can be finalized in more than one block,
    /// and the ledger must treat a repeat as a no-op.
    fn take_batch(&self, max_statements: usize, max_bytes: usize) -> Vec<Vec<u8>>;

    /// Stateless validity of a block built by another validator (statement decoding, signatures,
    /// per-statement rules). Must be deterministic: every honest validator must give the same
    /// answer for the same block. Runs on a thread where blocking is allowed. Not called for
    /// this validator's own proposals (except, possibly, after a restart).
    fn verify(&self, block: &Block) -> bool;

    /// The outcome of the last block this application durably applied, for the next proposal
    /// to certify ([`Anchor`]; `Anchor::default()` before the first block). Must return quickly.
    /// Another validator's block is accepted only if [`Application::verify`] agrees with its
    /// anchor, which it can check once it has applied that height itself.
    fn anchor(&self) -> Anchor;

    /// A finalized block. Blocks arrive one at a time, in height order without gaps, each at
    /// least once: from genesis (height 0) on a fresh `data_dir` (from the floor block when
    /// [`crate::Config::floor`] is set), and after a restart from the block after the last one
    /// this method accepted (which may repeat blocks already applied:
    /// this must be idempotent). Return `Ok` only once the block is durably applied; until then
    /// consensus redelivers it after a crash. Runs on a thread where blocking (fsync) is allowed.
    /// An `Err` is logged and the same block is retried, with backoff, until it succeeds.
    fn finalized(&self, block: &Block) -> Result<(), String>;

    /// A message another committee member broadcast with [`crate::Handle::gossip`], at most
    /// [`crate::MAX_GOSSIP_BYTES`] long; `from` is its consensus public key, authenticated by
    /// the transport. Gossip is best effort (lost while a peer is unreachable) and may come
    /// from a Byzantine member: check everything. Must return quickly. Default: ignored.
    fn gossip(&self, from: [u8; 32], message: &[u8]) {
        let _ = (from, message);
    }

    /// Statements another validator received from its clients and shared
    /// ([`crate::Handle::share`]), so that this validator can propose them when it leads;
    /// `from` is its consensus key, authenticated by the transport. Each is non-empty and
    /// within [`crate::MAX_STATEMENT_BYTES`], nothing else is checked: the sender may be
    /// Byzantine. Must return quickly. Default: ignored.
    fn shared(&self, from: [u8; 32], statements: Vec<Vec<u8>>) {
        let _ = (from, statements);
    }

    /// The committee of `epoch` (raw Ed25519 consensus keys), as decided by the blocks this
    /// application applied; `None` means the genesis committee ([`crate::Config::committee`]).
    ///
    /// Called for epoch `e + 1` right after [`Application::finalized`] accepted the last block
    /// of epoch `e` (heights `e * epoch_blocks ..= (e + 1) * epoch_blocks - 1`), and at start-up
    /// for the epoch being resumed and the one before it. Must be deterministic in the applied
    /// blocks — every validator must name the same committee — and keep answering for past
    /// epochs. Default: the genesis committee for ever.
    fn committee(&self, epoch: u64) -> Option<Vec<[u8; 32]>> {
        let _ = epoch;
        None
    }
}

/// State shared by the proposer, the verifier and the delivery task of one validator.
#[derive(Default)]
pub(crate) struct Shared {
    /// Statements taken from the application but not (or no longer) part of a live proposal;
    /// they go first into the next proposal.
    leftover: Mutex<VecDeque<Vec<u8>>>,
    /// This validator's proposals that are not yet settled by a finalized block at their height.
    in_flight: Mutex<BTreeMap<[u8; 32], Digested<ChainBlock>>>,
    /// Height of the last block `Application::finalized` accepted (u64::MAX before the first).
    applied: AtomicU64,
    /// Highest finalized height consensus knows about (u64::MAX before the first).
    tip: AtomicU64,
}

const NONE: u64 = u64::MAX;

impl Shared {
    pub(crate) fn new(applied: Option<u64>) -> Self {
        Self {
            applied: AtomicU64::new(applied.unwrap_or(NONE)),
            tip: AtomicU64::new(applied.unwrap_or(NONE)),
            ..Self::default()
        }
    }

    /// Height of the last block durably applied by the application, if any.
    pub(crate) fn applied_height(&self) -> Option<u64> {
        match self.applied.load(Ordering::Acquire) {
            NONE => None,
            h => Some(h),
        }
    }

    /// Highest finalized height known to consensus, if any (may be ahead of `applied_height`).
    pub(crate) fn tip_height(&self) -> Option<u64> {
        match self.tip.load(Ordering::Acquire) {
            NONE => None,
            h => Some(h),
        }
    }

    fn set_max(cell: &AtomicU64, height: u64) {
        let _ = cell.fetch_update(Ordering::AcqRel, Ordering::Acquire, |old| {
            (old == NONE || height > old).then_some(height)
        });
    }

    fn is_own_proposal(&self, digest: &[u8; 32]) -> bool {
        self.in_flight.lock().unwrap().contains_key(digest)
    }

    /// The block at `height` is final: proposals of ours at or below it that lost are settled by
    /// putting their statements back in front of the queue.
    fn settle(&self, height: u64, digest: [u8; 32]) {
        let mut lost = Vec::new();
        {
            let mut in_flight = self.in_flight.lock().unwrap();
            in_flight.retain(|d, block| {
                if block.inner().block().height > height {
                    return true;
                }
                if *d != digest {
                    lost.push(block.clone());
                }
                false
            });
        }
        if lost.is_empty() {
            return;
        }
        let mut leftover = self.leftover.lock().unwrap();
        for block in lost.iter().rev() {
            debug!(
                height = block.inner().block().height,
                statements = block.inner().block().statements.len(),
                "requeueing the statements of a proposal that was not finalized"
            );
            for statement in block.inner().block().statements.iter().rev() {
                leftover.push_front(statement.clone());
            }
        }
    }
}

/// Statements taken for a proposal being built. If the proposal is abandoned (the future is
/// dropped or building fails), they go back to the leftover queue.
struct Batch {
    shared: Arc<Shared>,
    statements: Vec<Vec<u8>>,
    bytes: usize,
}

impl Batch {
    fn new(shared: Arc<Shared>) -> Self {
        Self {
            shared,
            statements: Vec::new(),
            bytes: 0,
        }
    }

    fn fits(&self, len: usize) -> bool {
        self.statements.len() < MAX_STATEMENTS_PER_BLOCK
            && self.bytes + len <= MAX_STATEMENT_BYTES_PER_BLOCK
    }

    /// Takes leftovers first, then asks the application for more.
    fn fill(&mut self, app: &impl Application) {
        {
            let mut leftover = self.shared.leftover.lock().unwrap();
            while let Some(next) = leftover.front() {
                if !self.fits(next.len()) {
                    return;
                }
                let next = leftover.pop_front().expect("front exists");
                self.bytes += next.len();
                self.statements.push(next);
            }
        }
        let max_statements = MAX_STATEMENTS_PER_BLOCK - self.statements.len();
        let max_bytes = MAX_STATEMENT_BYTES_PER_BLOCK - self.bytes;
        if max_statements == 0 || max_bytes == 0 {
            return;
        }
        for statement in app.take_batch(max_statements, max_bytes) {
            if statement.is_empty() || statement.len() > MAX_STATEMENT_BYTES {
                warn!(
                    len = statement.len(),
                    "dropping a statement outside the size limits from take_batch"
                );
                continue;
            }
            if self.fits(statement.len()) {
                self.bytes += statement.len();
                self.statements.push(statement);
            } else {
                warn!("take_batch returned more than asked; keeping the excess for later");
                self.shared.leftover.lock().unwrap().push_back(statement);
            }
        }
    }

    fn take(mut self) -> Vec<Vec<u8>> {
        std::mem::take(&mut self.statements)
    }
}

impl Drop for Batch {
    fn drop(&mut self) {
        if self.statements.is_empty() {
            return;
        }
        let mut leftover = self.shared.leftover.lock().unwrap();
        for statement in self.statements.drain(..).rev() {
            leftover.push_front(statement);
        }
    }
}

fn millis(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Our [`Application`] seen through marshal's `Application` trait: builds and checks blocks.
#[derive(Clone)]
pub(crate) struct LedgerApp<A> {
    app: A,
    shared: Arc<Shared>,
    max_idle: Duration,
}

impl<A: Application> LedgerApp<A> {
    pub(crate) const fn new(app: A, shared: Arc<Shared>, max_idle: Duration) -> Self {
        Self {
            app,
            shared,
            max_idle,
        }
    }
}

/// Back-pressure: while the application is more than [`MAX_APPLY_LAG`] blocks below the parent,
/// wait (at most [`MAX_APPLY_WAIT`], and not past the idle `deadline`). Statements keep arriving
/// in the pool meanwhile, so the next block carries all of them and the per-block cost of
/// applying (the commits and their fsyncs) is paid once for many; without it, a leader whose
/// apply lags keeps proposing small blocks, each paying that cost, and the apply falls further
/// behind (BENCHMARKS.md).
async fn wait_for_apply<E: Clock>(
    shared: &Shared,
    runtime: &E,
    parent_height: u64,
    deadline: SystemTime,
) {
    let until = (runtime.current() + MAX_APPLY_WAIT).min(deadline);
    let lags = || {
        parent_height
            > shared
                .applied_height()
                .unwrap_or(0)
                .saturating_add(MAX_APPLY_LAG)
    };
    while lags() && runtime.current() < until {
        runtime.sleep(PROPOSE_POLL_INTERVAL).await;
    }
}

type ConsensusContext = Context<sha256::Digest, ed::PublicKey>;

impl<E, A> commonware_consensus::Application<E> for LedgerApp<A>
where
    E: Spawner + Clock + Metrics,
    A: Application,
{
    type SigningScheme = ed25519::Scheme;
    type Context = ConsensusContext;
    type Block = ChainBlock;
    type Input = ();

    async fn propose(
        &mut self,
        (runtime, context): (E, ConsensusContext),
        ancestry: impl Ancestry<ChainBlock>,
        _input: (),
    ) -> Option<Digested<ChainBlock>> {
        let parent = ancestry.peek()?.clone();
        let parent_digest = parent.digest();
        let parent = parent.inner().block();

        // Wait for statements, but propose an empty block once max_idle has passed since the
        // parent's timestamp (never waiting longer than max_idle from now).
        let started = runtime.current();
        let since_parent = millis(started).saturating_sub(parent.timestamp_ms);
        let deadline = started
            + self
                .max_idle
                .saturating_sub(Duration::from_millis(since_parent));
        wait_for_apply(&self.shared, &runtime, parent.height, deadline).await;
        let mut batch = Batch::new(self.shared.clone());
        loop {
            batch.fill(&self.app);
            if !batch.statements.is_empty() || runtime.current() >= deadline {
                break;
            }
            runtime.sleep(PROPOSE_POLL_INTERVAL).await;
        }

        // Certify what we have applied, unless we lag behind the parent's proposer: anchors
        // never go backwards along a chain.
        let height = parent.height + 1;
        let ours = self.app.anchor();
        let anchor = if ours.may_follow(&parent.anchor, height) {
            ours
        } else {
            parent.anchor
        };
        let block = Block {
            parent: parent_digest.0,
            height,
            anchor,
            timestamp_ms: millis(runtime.current()).max(parent.timestamp_ms),
            statements: batch.take(),
            context: block_context(&context),
        };
        let block = match ChainBlock::new(block) {
            Ok(block) => block,
            Err(err) => {
                // Unreachable by construction (the batch respects every limit); skip the view.
                error!(%err, "built an invalid block; skipping this proposal");
                return None;
            }
        };
        let digest = block.digest();
        let block = Digested::precomputed(block, digest);
        self.shared
            .in_flight
            .lock()
            .unwrap()
            .insert(digest.0, block.clone());
        Some(block)
    }

    async fn verify(
        &mut self,
        (runtime, context): (E, ConsensusContext),
        mut ancestry: impl Ancestry<ChainBlock>,
    ) -> bool {
        // Marshal hands us [block, parent, ...]; without both there is no verdict to give.
        let (Some(block), Some(parent)) = (ancestry.next().await, ancestry.next().await) else {
            return pending().await;
        };
        let digest = block.digest().0;
        let parent_digest = parent.digest().0;
        {
            let (b, parent) = (block.inner().block(), parent.inner().block());

            // Structural rules (marshal already checked the parent link and the height).
            if b.context != block_context(&context)
                || b.parent != context.parent.1 .0
                || b.parent != parent_digest
                || b.height != parent.height + 1
                || !b.anchor.may_follow(&parent.anchor, b.height)
            {
                warn!(
                    height = b.height,
                    "block does not match its consensus context"
                );
                return false;
            }
            if b.timestamp_ms < parent.timestamp_ms {
                warn!(
                    height = b.height,
                    timestamp_ms = b.timestamp_ms,
                    parent_timestamp_ms = parent.timestamp_ms,
                    "block timestamp goes backwards"
                );
                return false;
            }
        }
        // A timestamp ahead of our clock is not (yet) a reason to reject: clocks differ, and
        // the verdict must not depend on ours. Withhold the vote until our clock catches up;
        // consensus times the view out if the leader's clock is far ahead.
        let timestamp_ms = block.inner().block().timestamp_ms;
        let limit = timestamp_ms.saturating_sub(MAX_TIMESTAMP_AHEAD_MS);
        if millis(runtime.current()) < limit {
            debug!(timestamp_ms, "block timestamp ahead of our clock; waiting");
            runtime
                .sleep_until(UNIX_EPOCH + Duration::from_millis(limit))
                .await;
        }

        if self.shared.is_own_proposal(&digest) {
            return true;
        }
        let app = self.app.clone();
        let verdict = runtime
            .child("app_verify")
            .shared(true)
            .spawn(move |_| async move { app.verify(block.inner().block()) })
            .await;
        match verdict {
            Ok(valid) => valid,
            Err(err) => {
                // A panic or abort in the application gives no verdict: abstain.
                error!(?err, "application verify did not complete");
                pending().await
            }
        }
    }
}

/// Marshal's reporter: records finalized tips at once and queues finalized blocks for the
/// delivery task (reporting must not block, and a slow application must not hide the tip).
#[derive(Clone)]
pub(crate) struct Delivery {
    shared: Arc<Shared>,
    sender: mpsc::UnboundedSender<(Digested<ChainBlock>, Exact)>,
}

type Blocks = mpsc::UnboundedReceiver<(Digested<ChainBlock>, Exact)>;

impl Delivery {
    pub(crate) fn new(shared: Arc<Shared>) -> (Self, Blocks) {
        let (sender, receiver) = mpsc::unbounded();
        (Self { shared, sender }, receiver)
    }
}

impl Reporter for Delivery {
    type Activity = Update<ChainBlock>;

    fn report(&mut self, activity: Self::Activity) -> Feedback {
        match activity {
            Update::Tip(_, height, _) => {
                Shared::set_max(&self.shared.tip, height.get());
                Feedback::Ok
            }
            Update::Block(block, ack) => match self.sender.unbounded_send((block, ack)) {
                Ok(()) => Feedback::Ok,
                Err(_) => Feedback::Closed,
            },
        }
    }
}

/// Longest pause between two attempts to deliver a block the application refused.
const MAX_DELIVERY_BACKOFF: Duration = Duration::from_secs(5);

/// Hands finalized blocks to `Application::finalized` one at a time, in the order marshal
/// reports them, acknowledging each only after the application returned `Ok`.
pub(crate) async fn deliver<E, A>(
    runtime: E,
    app: A,
    shared: Arc<Shared>,
    mut blocks: Blocks,
    handover: Handover,
) where
    E: Spawner + Clock,
    A: Application,
{
    while let Some((block, ack)) = blocks.next().await {
        let height = block.inner().block().height;
        shared.settle(height, block.digest().0);
        let mut backoff = Duration::from_millis(10);
        loop {
            let (app, block) = (app.clone(), block.clone());
            let result = runtime
                .child("app_finalized")
                .shared(true)
                .spawn(move |_| async move { app.finalized(block.inner().block()) })
                .await;
            match result {
                Ok(Ok(())) => break,
                Ok(Err(err)) => {
                    error!(height, %err, "application failed to apply a finalized block; retrying")
                }
                Err(err) => error!(
                    height,
                    ?err,
                    "application finalized did not complete; retrying"
                ),
            }
            runtime.sleep(backoff).await;
            backoff = (backoff * 2).min(MAX_DELIVERY_BACKOFF);
        }
        handover.after_applied(&app, height, block.digest().0);
        Shared::set_max(&shared.applied, height);
        Shared::set_max(&shared.tip, height);
        ack.acknowledge();
    }
}

#[cfg(test)]
mod back_pressure {
    use super::*;
    use commonware_runtime::{deterministic, Runner as _, Supervisor as _};

    /// How long `wait_for_apply` holds a proposal on parent height 10, with the application at
    /// `applied`, an idle deadline `deadline_ms` away, and the application reaching height 8
    /// after `catches_up_ms` if given.
    fn held_ms(applied: u64, deadline_ms: u64, catches_up_ms: Option<u64>) -> u128 {
        deterministic::Runner::default().start(|context| async move {
            let shared = Arc::new(Shared::new(Some(applied)));
            if let Some(ms) = catches_up_ms {
                let shared = shared.clone();
                context.child("apply").spawn(move |clock| async move {
                    clock.sleep(Duration::from_millis(ms)).await;
                    Shared::set_max(&shared.applied, 8);
                });
            }
            let start = context.current();
            let deadline = start + Duration::from_millis(deadline_ms);
            wait_for_apply(&shared, &context, 10, deadline).await;
            context.current().duration_since(start).unwrap().as_millis()
        })
    }

    #[test]
    fn a_leader_whose_application_keeps_up_proposes_at_once() {
        assert_eq!(
            held_ms(8, 1_000, None),
            0,
            "two blocks above the applied one is allowed"
        );
        assert_eq!(held_ms(9, 1_000, None), 0);
    }

    #[test]
    fn a_leader_whose_application_lags_holds_its_proposal_until_it_catches_up() {
        let held = held_ms(5, 1_000, Some(40));
        assert!((40..=41).contains(&held), "held {held} ms");
    }

    #[test]
    fn the_hold_is_bounded_by_max_apply_wait_and_by_the_idle_deadline() {
        let max = MAX_APPLY_WAIT.as_millis();
        let held = held_ms(0, 1_000, None);
        assert!((max..=max + 1).contains(&held), "held {held} ms");
        let held = held_ms(0, 30, None);
        assert!((30..=31).contains(&held), "held {held} ms");
    }
}
