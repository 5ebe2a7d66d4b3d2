//! The ledger application: what the consensus pipeline calls to fill and apply blocks.
//!
//! Invariant: the only writer of the store. A block is applied exactly once (re-deliveries are
//! recognised by height), its decisions come from the deterministic rules in `proverka-ledger`,
//! and submitters are told the outcome only after the store committed the block durably.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};
use std::time::{Duration, Instant};

use proverka_consensus::{Anchor, Application, Archive, Block, Gossip};
use proverka_ledger::validators::{self, epoch_of, EPOCH_BLOCKS};
use proverka_ledger::{BlockContext, Decision, Genesis, LogAnchor, Rules, StateError, StateView};
use proverka_log::{Hash, NoteKey, SignedTreeHead};
use proverka_state::StateService;
use proverka_statement::{PrivateKey, SignedStatement};
use proverka_store::{AppendOutcome, BlockAppend, StateReader, Store};

use crate::cosign::{Cosigning, QuorumCheckpoint};
use crate::handover::{committee_of, is_handover_message, Handovers};
use crate::metrics::Metrics;
use crate::pool::{Outcome, Pool};
use crate::verified::{Verified, MAX_PARSED_BYTES};
use crate::verifier::Verifier;

/// The latest signed tree head, as served by `/checkpoint` and used for receipts.
#[derive(Clone, Debug, Default)]
pub struct TreeHead {
    pub size: u64,
    pub root: Hash,
    /// Timestamp of the block that produced it (ms since the Unix epoch).
    pub timestamp_ms: u64,
    /// The C2SP signed checkpoint note.
    pub checkpoint: Vec<u8>,
    /// The receipt signature over this head's root, shared by every receipt of this size.
    pub receipts: Option<SignedTreeHead>,
}

/// Everything the API and the consensus pipeline share.
pub struct Shared {
    pub store: Store,
    pub rules: Rules,
    pub pool: Pool,
    /// Verifies submissions' signatures in batches, off the async workers.
    pub verifier: Verifier,
    pub genesis: Genesis,
    pub genesis_id: [u8; 32],
    pub receipt_key: PrivateKey,
    pub checkpoint_key: NoteKey,
    pub metrics: Metrics,
    /// The authenticated copy of the ledger state (QMDB); its root goes into block anchors.
    pub state: StateService,
    /// Finalized blocks and certificates, once consensus runs (for state proofs).
    pub archive: OnceLock<Archive>,
    /// The outcome of the last applied block, certified by the next proposal.
    anchor: RwLock<Anchor>,
    head: RwLock<Arc<TreeHead>>,
    /// Statements this node verified whole at submission, until their block decides them.
    verified: Verified,
    /// Checkpoints cosigned by a quorum of validators (`cosign.rs`).
    pub cosigning: Cosigning,
    /// Committee hand-over notes collected and stored (`handover.rs`).
    pub handovers: Handovers,
    /// Broadcast to the committee, once consensus runs.
    pub gossip: OnceLock<Gossip>,
    /// The receipt signature over the latest quorum checkpoint's root, with that checkpoint.
    certified: RwLock<Option<(Arc<QuorumCheckpoint>, Arc<SignedTreeHead>)>>,
}

impl Shared {
    /// Consensus keys of the committee that runs `epoch`, from the applied state (see
    /// [`proverka_ledger::validators::committee_for_epoch`]).
    fn committee_for_epoch(&self, epoch: u64) -> Result<Vec<[u8; 32]>, String> {
        let record = proverka_ledger::validators::committee_for_epoch(
            &StoreView(&self.store),
            &self.genesis,
            epoch,
        )
        .map_err(|e| e.to_string())?;
        record
            .members
            .iter()
            .map(|m| {
                hex::decode(&m.validator)
                    .ok()
                    .and_then(|b| <[u8; 32]>::try_from(b).ok())
                    .ok_or_else(|| {
                        format!("committee member {:?} is not a 32-byte key", m.validator)
                    })
            })
            .collect()
    }
}

/// Reads ledger state through the store.
pub struct StoreView<'a>(pub &'a Store);

impl StateView for StoreView<'_> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        self.0.state_get(key).map_err(|e| StateError(e.to_string()))
    }
    fn has_entry(&self, id: &[u8; 32]) -> Result<bool, StateError> {
        self.0
            .index_of(id)
            .map(|i| i.is_some())
            .map_err(|e| StateError(e.to_string()))
    }
}

/// The state as of the last committed block through one read transaction
/// ([`Store::state_reader`]), for the many reads in a row of a block's apply or a
/// submission's checks; entries are looked up in the store's live index, as [`StoreView`] does.
pub struct SnapshotView<'a> {
    store: &'a Store,
    state: StateReader,
}

impl<'a> SnapshotView<'a> {
    pub fn new(store: &'a Store) -> Result<Self, StateError> {
        let state = store
            .state_reader()
            .map_err(|e| StateError(e.to_string()))?;
        Ok(SnapshotView { store, state })
    }
}

impl StateView for SnapshotView<'_> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        self.state.get(key).map_err(|e| StateError(e.to_string()))
    }
    fn has_entry(&self, id: &[u8; 32]) -> Result<bool, StateError> {
        StoreView(self.store).has_entry(id)
    }
}

impl proverka_ledger::query::StateScan for StoreView<'_> {
    fn scan(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>, StateError> {
        self.0
            .state_scan_prefix_after(prefix, after, limit)
            .map_err(|e| StateError(e.to_string()))
    }
}

impl Shared {
    /// Opens the shared state; the tree head is re-signed from the store's current size.
    ///
    /// The state database is written before the store (see [`Shared::apply`]), so it may be one
    /// block ahead after a crash (the redelivered block re-applies the same writes), never behind.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        store: Store,
        state: StateService,
        genesis: Genesis,
        genesis_id: [u8; 32],
        receipt_key: PrivateKey,
        checkpoint_key: NoteKey,
        cosigning: Cosigning,
        handovers: Handovers,
        metrics: Metrics,
    ) -> Result<Arc<Self>, String> {
        let rules = Rules::new(&genesis).map_err(|e| e.to_string())?;
        let anchor = initial_anchor(&store, &state)?;
        let shared = Arc::new(Shared {
            store,
            rules,
            pool: Pool::default(),
            verifier: Verifier::default(),
            genesis,
            genesis_id,
            receipt_key,
            checkpoint_key,
            metrics,
            state,
            archive: OnceLock::new(),
            anchor: RwLock::new(anchor),
            head: RwLock::new(Arc::default()),
            verified: Verified::new(MAX_PARSED_BYTES),
            cosigning,
            handovers,
            gossip: OnceLock::new(),
            certified: RwLock::new(None),
        });
        let size = shared.store.tree_size();
        let root = shared.store.root();
        // Fail at start-up, not at the first block, if this key cannot sign for this origin.
        proverka_log::sign_checkpoint(&shared.checkpoint_key, &shared.genesis.origin, size, &root)
            .map_err(|e| format!("checkpoint key cannot sign for origin: {e}"))?;
        shared.set_head(size, root, shared.genesis.created_ms);
        shared.resume_hand_over();
        Ok(shared)
    }

    /// The latest tree head.
    pub fn head(&self) -> Arc<TreeHead> {
        self.head.read().map(|h| h.clone()).unwrap_or_default()
    }

    fn set_head(&self, size: u64, root: Hash, timestamp_ms: u64) {
        let checkpoint = match self.store.latest_checkpoint() {
            Some(note) => note,
            None => self.sign_checkpoint(size, &root),
        };
        let receipts = if size == 0 {
            None
        } else {
            let iat = (timestamp_ms / 1000) as i64;
            proverka_log::sign_tree_head(&self.receipt_key, &self.genesis.origin, iat, size, &root)
                .map_err(|e| tracing::error!("signing tree head {size}: {e}"))
                .ok()
        };
        let head = TreeHead {
            size,
            root,
            timestamp_ms,
            checkpoint,
            receipts,
        };
        self.metrics.tree_size.set(size as i64);
        if let Ok(mut h) = self.head.write() {
            *h = Arc::new(head);
        }
    }

    /// Signs a checkpoint note. The origin was validated by genesis and checked against the
    /// key at start-up ([`Shared::new`]), so signing cannot fail afterwards; if it ever did, the
    /// note is empty and `/checkpoint` clients refuse it loudly rather than trust it.
    fn sign_checkpoint(&self, size: u64, root: &Hash) -> Vec<u8> {
        proverka_log::sign_checkpoint(&self.checkpoint_key, &self.genesis.origin, size, root)
            .unwrap_or_else(|e| {
                tracing::error!("signing checkpoint {size}: {e}");
                Vec::new()
            })
    }

    /// The context a submission is judged in before it has a block: the next height, at the
    /// time its block will most likely carry (the node's clock, never before the latest
    /// block). Only a prediction: the block that registers it decides again at its own time.
    pub fn next_block_context(&self) -> BlockContext {
        BlockContext {
            height: self.store.applied_height() + 1,
            time_ms: self.head().timestamp_ms.max(crate::datadir::now_ms()),
            anchor: None,
        }
    }

    /// Remembers that `id`'s statement was verified whole at submission, and keeps it parsed
    /// for its block's apply within a budget (`verified.rs`).
    pub fn mark_verified(&self, id: [u8; 32], stmt: Arc<SignedStatement>) {
        self.verified.mark(id, stmt);
    }

    /// Forgets `id`'s verification: it will not reach a block through this submission.
    pub fn unmark_verified(&self, id: &[u8; 32]) {
        self.verified.unmark(id);
    }

    /// A receipt for the statement at `index`: against the latest quorum checkpoint, which it
    /// carries, once one covers the entry; before that against the latest tree head alone.
    pub fn receipt(&self, index: u64) -> Result<Vec<u8>, String> {
        if let Some((quorum, signed)) = self.certified_head() {
            if index < quorum.size {
                let path = self
                    .store
                    .inclusion_proof(index, quorum.size)
                    .map_err(|e| e.to_string())?;
                return signed
                    .receipt_with(index, &path, Some(&quorum.note))
                    .map_err(|e| e.to_string());
            }
        }
        let head = self.head();
        let signed = head
            .receipts
            .as_ref()
            .ok_or_else(|| format!("entry {index} is not in tree head of size {}", head.size))?;
        if index >= head.size {
            return Err(format!(
                "entry {index} is not in tree head of size {}",
                head.size
            ));
        }
        let path = self
            .store
            .inclusion_proof(index, head.size)
            .map_err(|e| e.to_string())?;
        signed.receipt(index, &path).map_err(|e| e.to_string())
    }

    /// The latest quorum checkpoint with the receipt signature over its root (signed once per
    /// quorum checkpoint).
    fn certified_head(&self) -> Option<(Arc<QuorumCheckpoint>, Arc<SignedTreeHead>)> {
        let quorum = self.cosigning.latest()?;
        if let Ok(cached) = self.certified.read() {
            if let Some((q, signed)) = cached.as_ref() {
                if q.size == quorum.size {
                    return Some((q.clone(), signed.clone()));
                }
            }
        }
        let iat = (quorum.time_ms / 1000) as i64;
        let signed = proverka_log::sign_tree_head(
            &self.receipt_key,
            &self.genesis.origin,
            iat,
            quorum.size,
            &quorum.root,
        )
        .map_err(|e| tracing::error!("signing quorum tree head {}: {e}", quorum.size))
        .ok()?;
        let entry = (quorum, Arc::new(signed));
        if let Ok(mut cached) = self.certified.write() {
            if cached.as_ref().is_none_or(|(q, _)| q.size < entry.0.size) {
                *cached = Some(entry.clone());
            }
        }
        Some(entry)
    }

    /// Whether a quorum checkpoint covers the entry at `index` yet.
    pub fn is_certified(&self, index: u64) -> bool {
        self.cosigning.latest().is_some_and(|q| index < q.size)
    }

    fn apply(&self, block: &Block) -> Result<(), String> {
        if block.height <= self.store.applied_height() {
            return Ok(()); // re-delivery after a restart: already durable
        }
        let started = std::time::Instant::now();
        // One read transaction for the whole block, ended before its writes are committed.
        let view = SnapshotView::new(&self.store).map_err(|e| e.to_string())?;
        let decision = self
            .rules
            .apply_block(
                &view,
                BlockContext {
                    height: block.height,
                    time_ms: block.timestamp_ms,
                    // The committee certified this tree head: the rules keep it as a
                    // recent root that device evidence may name (`anchors`).
                    anchor: Some(LogAnchor {
                        log_size: block.anchor.log_size,
                        log_root: block.anchor.log_root,
                    }),
                },
                &block.statements,
                &self.verified,
            )
            .map_err(|e| e.to_string())?;
        drop(view);
        let accepted: Vec<&[u8]> = decision
            .registered()
            .map(|i| block.statements[i].as_slice())
            .collect();
        let writes = Arc::new(decision.state_writes());
        // State first: a crash before the store commits redelivers this block, whose writes
        // are the same (deterministic rules, same parent state), and re-applying them is a no-op.
        let state_root = self
            .state
            .apply(block.height, Arc::clone(&writes))
            .map_err(|e| format!("state database: {e}"))?;
        let sign = |size: u64, root: &Hash| self.sign_checkpoint(size, root);
        let outcome = self
            .store
            .append_block(BlockAppend {
                height: block.height,
                digest: block.digest(),
                statements: &accepted,
                state_writes: &writes,
                state_root: state_root.0,
                checkpoint: Some(&sign),
            })
            .map_err(|e| e.to_string())?;
        if let Ok(mut anchor) = self.anchor.write() {
            *anchor = Anchor {
                height: block.height,
                log_size: outcome.new_size,
                log_root: outcome.root,
                state_root: state_root.0,
            };
        }
        self.set_head(outcome.new_size, outcome.root, block.timestamp_ms);
        // Cosign before waking submitters, so that a committee of one answers with a receipt
        // that already carries its quorum checkpoint.
        let epoch = epoch_of(block.height);
        self.know_committee(epoch, block.height % EPOCH_BLOCKS == EPOCH_BLOCKS - 1);
        if let Some(note) =
            self.cosigning
                .cosign_own(epoch, outcome.new_size, &outcome.root, block.timestamp_ms)
        {
            if let Some(gossip) = self.gossip.get() {
                gossip.send(note);
            }
        }
        self.hand_over_notes(block);
        self.notify(&decision.decisions, &outcome);
        self.metrics
            .observe_block(&decision.decisions, started.elapsed());
        Ok(())
    }

    /// After the last block of an epoch that handed over to a new committee: sign (as an
    /// outgoing member) and collect the hand-over note; after every block: re-send this
    /// validator's recent hand-over signatures (bounded, `handover.rs`).
    fn hand_over_notes(&self, block: &Block) {
        let mut messages = self.handovers.tick(block.height);
        if block.height % EPOCH_BLOCKS == EPOCH_BLOCKS - 1 {
            match self.handover_committees(epoch_of(block.height) + 1) {
                Ok(Some((outgoing, next))) => {
                    match self
                        .handovers
                        .handed_over(outgoing, next, block.timestamp_ms)
                    {
                        Ok(own) => messages.extend(own),
                        Err(e) => tracing::error!(height = block.height, "hand-over note: {e}"),
                    }
                }
                Ok(None) => {}
                Err(e) => tracing::error!(height = block.height, "hand-over committees: {e}"),
            }
        }
        if let Some(gossip) = self.gossip.get() {
            for m in messages {
                gossip.send(m);
            }
        }
    }

    /// Makes sure cosigning knows the committee of `epoch` and, after a hand-over block, of the
    /// next epoch too (so that cosignatures of peers already there are taken).
    fn know_committee(&self, epoch: u64, boundary: bool) {
        let view = StoreView(&self.store);
        let epochs = if boundary {
            vec![epoch, epoch + 1]
        } else {
            vec![epoch]
        };
        for e in epochs {
            if self.cosigning.knows(e) {
                continue;
            }
            let result = validators::committee_for_epoch(&view, &self.genesis, e)
                .map_err(|e| e.to_string())
                .and_then(|c| self.cosigning.set_committee(e, &c.members));
            if let Err(err) = result {
                tracing::error!(epoch = e, "committee for cosigning: {err}");
            }
        }
    }

    /// After a restart: if the latest hand-over has no quorum note yet (a crash, or peers not
    /// heard), expect it again and sign it again as an outgoing member; the line goes out at
    /// the next re-broadcast tick.
    fn resume_hand_over(&self) {
        let epoch = match validators::current(&StoreView(&self.store), &self.genesis) {
            Ok(c) if c.epoch > 0 && !self.handovers.has(c.epoch) => c.epoch,
            Ok(_) => return,
            Err(e) => return tracing::error!("reading the committee in force: {e}"),
        };
        // The boundary block's time is not kept; the line's timestamp only says when it was
        // signed, which is now.
        let time_ms = crate::datadir::now_ms();
        if let Ok(Some((outgoing, next))) = self.handover_committees(epoch) {
            if let Err(e) = self.handovers.handed_over(outgoing, next, time_ms) {
                tracing::error!(epoch, "resuming the hand-over note: {e}");
            }
        }
    }

    /// The outgoing and incoming committees of the hand-over to `epoch`, if the set changed
    /// then (`validators/epoch/<epoch>` exists in the applied state).
    pub fn handover_committees(
        &self,
        epoch: u64,
    ) -> Result<Option<(proverka_log::Committee, proverka_log::Committee)>, String> {
        let view = StoreView(&self.store);
        let Some(next) = validators::committee_at(&view, epoch).map_err(|e| e.to_string())? else {
            return Ok(None);
        };
        let outgoing = validators::committee_for_epoch(&view, &self.genesis, epoch - 1)
            .map_err(|e| e.to_string())?;
        Ok(Some((committee_of(&outgoing), committee_of(&next))))
    }

    /// Wakes the submitters of a block's statements, after the block is durable.
    fn notify(&self, decisions: &[Decision], appended: &AppendOutcome) {
        // New leaves are listed by the store; only duplicates need a lookup.
        let placed: HashMap<&[u8; 32], u64> = appended
            .appended
            .iter()
            .chain(&appended.duplicates)
            .map(|(id, index)| (id, *index))
            .collect();
        for d in decisions {
            let (id, outcome) = match d {
                Decision::Register { id, .. } | Decision::Duplicate { id } => {
                    let index = match placed.get(id) {
                        Some(i) => Some(*i),
                        None => self.store.index_of(id).ok().flatten(),
                    };
                    (id, index.map(|index| Outcome::Registered { index }))
                }
                Decision::Reject { id, reason } => (
                    id,
                    Some(Outcome::Rejected {
                        reason: reason.to_string(),
                    }),
                ),
            };
            self.unmark_verified(id);
            if let Some(outcome) = outcome {
                self.pool.decide(id, outcome);
            }
        }
    }
}

impl Shared {
    /// Statements another validator shared: each one that parses, is not in the log and not
    /// pending here waits in the pool for this validator's next proposal. Nothing is verified
    /// here (that happens when the block is applied), so a Byzantine sender can only make
    /// honest leaders propose statements the rules then refuse, as its own proposals could.
    fn take_shared(&self, from: [u8; 32], statements: Vec<Vec<u8>>) {
        let mut taken = 0usize;
        for bytes in statements {
            let id = proverka_statement::statement_id(&bytes);
            if matches!(self.store.index_of(&id), Ok(Some(_)) | Err(_))
                || proverka_statement::SignedStatement::parse(&bytes, self.rules.limits()).is_err()
            {
                continue;
            }
            taken += usize::from(self.pool.offer_shared(id, bytes));
        }
        tracing::trace!(from = %hex::encode(from), taken, "shared statements");
    }
}

/// How long `verify` waits for this node to apply the height another validator's block
/// certifies before it withholds its vote.
const ANCHOR_WAIT: Duration = Duration::from_secs(5);

impl Shared {
    /// Whether `anchor` is the outcome this node computed for its height, waiting (bounded) until
    /// it has applied that height.
    fn agrees_with(&self, anchor: &Anchor) -> bool {
        if anchor.height == 0 {
            return *anchor == Anchor::default();
        }
        let deadline = Instant::now() + ANCHOR_WAIT;
        while self.store.applied_height() < anchor.height {
            if Instant::now() >= deadline {
                tracing::warn!(height = anchor.height, "cannot check a block's anchor yet");
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        match self.recorded_anchor(anchor.height) {
            Ok(ours) => ours == *anchor,
            // A node that joined at a floor has no record below it: it cannot check such an
            // anchor and withholds its vote, as a slow validator would; the others decide.
            Err(_) if matches!(self.store.floor(), Ok(Some(floor)) if anchor.height < floor) => {
                tracing::debug!(
                    height = anchor.height,
                    "a block's anchor is below this node's floor"
                );
                false
            }
            Err(e) => {
                tracing::error!(height = anchor.height, "reading a recorded anchor: {e}");
                false
            }
        }
    }

    /// The anchor of an applied height, from the store's records.
    pub fn recorded_anchor(&self, height: u64) -> Result<Anchor, String> {
        anchor_at(&self.store, height)
    }
}

/// The anchor of an applied height, from the store's block record (zero anchor for height 0).
fn anchor_at(store: &Store, height: u64) -> Result<Anchor, String> {
    if height == 0 {
        return Ok(Anchor::default());
    }
    let record = store
        .block(height)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("block {height} is not applied"))?;
    let log_root = store.root_at(record.log_size).map_err(|e| e.to_string())?;
    Ok(Anchor {
        height,
        log_size: record.log_size,
        log_root,
        state_root: record.state_root,
    })
}

/// The anchor after the store's last applied block, once the state database is known to be at
/// that height or one ahead (never behind: it is written first).
fn initial_anchor(store: &Store, state: &StateService) -> Result<Anchor, String> {
    let applied = store.applied_height();
    let (state_height, _) = state.head();
    if state_height < applied || state_height > applied + 1 {
        return Err(format!(
            "the state database is at height {state_height} but the ledger at {applied}; \
             this data directory predates authenticated state or was damaged: start from a \
             fresh data directory"
        ));
    }
    anchor_at(store, applied)
}

/// The consensus-facing handle.
#[derive(Clone)]
pub struct LedgerApp(pub Arc<Shared>);

impl Application for LedgerApp {
    fn take_batch(&self, max_statements: usize, max_bytes: usize) -> Vec<Vec<u8>> {
        self.0.pool.take_batch(max_statements, max_bytes)
    }

    fn verify(&self, block: &Block) -> bool {
        // Blocks from other validators: statements are re-judged when the block is applied,
        // so only the shape and the certified outcome are checked here; a refused statement
        // is recorded as a rejection.
        if block.statements.len() > proverka_consensus::MAX_STATEMENTS_PER_BLOCK {
            return false;
        }
        // Its statements are on their way: this validator's next proposal should not repeat
        // the ones it holds too (shared, or submitted to both).
        let ids: Vec<[u8; 32]> = block
            .statements
            .iter()
            .map(|s| proverka_statement::statement_id(s))
            .collect();
        self.0.pool.mark_proposed(&ids);
        self.0.agrees_with(&block.anchor)
    }

    fn anchor(&self) -> Anchor {
        self.0.anchor.read().map(|a| *a).unwrap_or_default()
    }

    fn finalized(&self, block: &Block) -> Result<(), String> {
        self.0.apply(block)
    }

    fn committee(&self, epoch: u64) -> Option<Vec<[u8; 32]>> {
        match self.0.committee_for_epoch(epoch) {
            Ok(members) => Some(members),
            Err(e) => {
                // Local storage failed: this validator cannot know the committee, and falls
                // back to genesis's (it will fail to follow, not mislead others).
                tracing::error!(epoch, "cannot read the committee of the epoch: {e}");
                None
            }
        }
    }

    fn shared(&self, from: [u8; 32], statements: Vec<Vec<u8>>) {
        self.0.take_shared(from, statements);
    }

    fn gossip(&self, from: [u8; 32], message: &[u8]) {
        // Hand-over signatures start with their own header line; everything else is a
        // checkpoint cosignature, whose bytes are unchanged (`docs/network.md`).
        if is_handover_message(message) {
            if let Err(e) = self.0.handovers.receive(message) {
                tracing::debug!(from = %hex::encode(from), "hand-over signature not taken: {e}");
            }
            return;
        }
        if let Err(e) = self.0.cosigning.receive(from, message) {
            tracing::debug!(from = %hex::encode(from), "cosignature not taken: {e}");
        }
    }
}

// The rules never produce a block the store would refuse.
const _: () =
    assert!(proverka_ledger::MAX_BLOCK_STATE_WRITES <= proverka_store::MAX_BLOCK_STATE_WRITES);
