//! Wires one validator: buffered broadcast, marshal (with its archives and backfill resolver)
//! and one simplex engine per epoch (started and stopped by [`EpochEngines`]), around our
//! [`Application`].
//!
//! Generic over the runtime context and the p2p transport, so the same wiring runs on tokio with
//! `p2p::authenticated::lookup` in production and on the deterministic runtime with
//! `p2p::simulated` in tests (several validators, partitions, crashes).

use crate::{
    app::{deliver, Application, Delivery, LedgerApp, Shared},
    block::{Block, ChainBlock},
    epochs::{on_foreign_epoch, Boundaries, Schemes, Transition},
};
use commonware_broadcast::buffered;
use commonware_codec::Encode;
use commonware_consensus::{
    marshal::{
        self,
        core::{Actor as MarshalActor, Mailbox as MarshalMailbox, Processed},
        resolver::p2p as marshal_resolver,
        standard::{Deferred, Standard},
    },
    simplex::{
        self,
        config::{ForwardPolicy, SkipBudget, SkipPolicy},
        elector::RoundRobin,
        scheme::ed25519::Scheme,
        types::Finalization,
    },
    types::{Epoch, FixedEpocher, Height, ViewDelta},
};
use commonware_cryptography::{
    certificate::{Provider as _, Verifier as _},
    ed25519, sha256, Digested, Digestible,
};
use commonware_macros::select;
use commonware_p2p::{
    utils::mux::{self, Builder as _, MuxHandle, Muxer},
    Blocker, Provider, Receiver, Recipients, Sender,
};
use commonware_parallel::Sequential;
use commonware_runtime::{
    buffer::paged::CacheRef, Clock, Handle, Metrics, Quota, Spawner, Storage,
};
use commonware_storage::archive::immutable;
use commonware_utils::{ordered::Set, NZUsize, NonZeroDuration, NZU16, NZU32, NZU64};
use futures::{channel::mpsc, channel::oneshot, StreamExt};
use rand_core_010::CryptoRng;
use std::{
    num::{NonZeroU64, NonZeroUsize},
    sync::Arc,
    time::Duration,
};
use tracing::{debug, info, warn};

/// p2p channel numbers. Every validator of a network must use the same ones.
pub(crate) const CHANNEL_VOTES: u64 = 0;
pub(crate) const CHANNEL_CERTIFICATES: u64 = 1;
pub(crate) const CHANNEL_CONSENSUS_RESOLVER: u64 = 2;
pub(crate) const CHANNEL_BLOCKS: u64 = 3;
pub(crate) const CHANNEL_BACKFILL: u64 = 4;
/// Application messages broadcast to the committee (checkpoint cosignatures).
pub(crate) const CHANNEL_GOSSIP: u64 = 5;
/// Statements shared with the committee for the next leaders to propose (`share.rs`).
pub(crate) const CHANNEL_STATEMENTS: u64 = 6;

/// Largest message [`crate::Handle::gossip`] sends; larger ones are dropped on both sides.
pub const MAX_GOSSIP_BYTES: usize = 4 * 1024;
/// Gossip messages waiting to be sent; when full, new ones are dropped (gossip is best effort).
const GOSSIP_QUEUE: usize = 256;

/// Per-peer message rates on each channel (inbound and outbound, enforced by the transport).
pub(crate) fn channel_quota(channel: u64) -> Quota {
    match channel {
        CHANNEL_VOTES | CHANNEL_CERTIFICATES => Quota::per_second(NZU32!(10_000)),
        CHANNEL_GOSSIP => Quota::per_second(NZU32!(2_000)),
        _ => Quota::per_second(NZU32!(1_000)),
    }
}

/// The five (sender, receiver) pairs a validator needs, in the order of the channel numbers.
pub(crate) struct Channels<S, R> {
    pub votes: (S, R),
    pub certificates: (S, R),
    pub consensus_resolver: (S, R),
    pub blocks: (S, R),
    pub backfill: (S, R),
    /// Best-effort application broadcast; `None` where the application does not gossip.
    pub gossip: Option<(S, R)>,
    /// Statements shared for the next leaders; `None` where statements stay with their receiver.
    pub statements: Option<(S, R)>,
}

/// Largest p2p payload any channel carries for a committee of `participants`.
pub(crate) fn max_message_size(participants: u32) -> u32 {
    commonware_p2p::max_message_size(&[
        MAX_GOSSIP_BYTES,
        crate::share::MAX_SHARE_BYTES,
        // Votes, certificates and their resolver travel on per-epoch subchannels.
        mux::prefixed(simplex::max_payload_size::<Scheme, sha256::Digest>(
            participants,
        )),
        marshal::max_payload_size::<Standard<ChainBlock>, Scheme>(participants, &()),
    ])
}

/// Consensus timeouts, derived from how long an idle leader waits before proposing an empty
/// block (see `docs/blocks.md`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Timing {
    pub max_idle: Duration,
    pub leader_timeout: Duration,
    pub certification_timeout: Duration,
    pub timeout_retry: Duration,
    pub skip_timeout: Duration,
    pub fetch_timeout: Duration,
    pub fetch_retry_delay: Duration,
}

impl Timing {
    /// The leader timeout leaves one second beyond `max_idle` for the proposal to travel; the
    /// rest follows the engine's invariants (certification > leader > 0, skip > certification,
    /// skip > retry).
    pub(crate) fn for_max_idle(max_idle: Duration) -> Self {
        let leader_timeout = max_idle + Duration::from_secs(1);
        let certification_timeout = leader_timeout + Duration::from_secs(1);
        Self {
            max_idle,
            leader_timeout,
            certification_timeout,
            timeout_retry: Duration::from_secs(2),
            skip_timeout: certification_timeout + Duration::from_secs(2),
            fetch_timeout: Duration::from_secs(2),
            fetch_retry_delay: Duration::from_millis(100),
        }
    }
}

/// What one validator needs besides its runtime, transport and application.
pub(crate) struct EngineConfig {
    pub signer: ed25519::PrivateKey,
    /// The committee of epoch 0 (later ones come from [`Application::committee`]).
    pub committee: Set<ed25519::PublicKey>,
    /// Heights per epoch; committees change only between epochs.
    pub epoch_blocks: NonZeroU64,
    pub namespace: Vec<u8>,
    pub genesis: Block,
    /// Prefix of every storage partition (journals and archives) of this validator.
    pub partition_prefix: String,
    pub timing: Timing,
    /// Set when the application starts from a certified floor instead of genesis.
    pub floor: Option<FloorStart>,
}

/// A validator that joined by state sync: its application already holds the outcome of the
/// finalized block at `height`, which `finalization` certifies; consensus starts there instead
/// of replaying from genesis.
#[derive(Clone)]
pub(crate) struct FloorStart {
    pub height: u64,
    pub finalization: Finalization<Scheme, sha256::Digest>,
}

impl FloorStart {
    fn epoch(&self) -> u64 {
        use commonware_consensus::Epochable as _;
        self.finalization.epoch().get()
    }

    fn digest(&self) -> sha256::Digest {
        self.finalization.proposal.payload
    }
}

// Storage and queue sizes (see docs/blocks.md, "Persistence").
const MAILBOX_SIZE: NonZeroUsize = NZUsize!(1_024);
const DEQUE_SIZE: usize = 16;
const PAGE_SIZE: std::num::NonZeroU16 = NZU16!(4_096);
const PAGE_CACHE_PAGES: NonZeroUsize = NZUsize!(2_048);
const REPLAY_BUFFER: NonZeroUsize = NZUsize!(1024 * 1024);
const WRITE_BUFFER: NonZeroUsize = NZUsize!(1024 * 1024);
const IMMUTABLE_ITEMS_PER_SECTION: NonZeroU64 = NZU64!(65_536);
const PRUNABLE_ITEMS_PER_SECTION: NonZeroU64 = NZU64!(4_096);
const FREEZER_TABLE_INITIAL_SIZE: u32 = 1_024;
const FREEZER_TABLE_RESIZE_FREQUENCY: u8 = 4;
const FREEZER_TABLE_RESIZE_CHUNK_SIZE: u32 = 1_024;
const FREEZER_VALUE_TARGET_SIZE: u64 = 256 * 1024 * 1024;
/// Views of votes and certificates simplex keeps behind the finalized tip.
const CONSENSUS_VIEW_RETENTION: u64 = 256;
/// Views of unfinalized blocks and certificates marshal keeps for peers behind the tip.
const MARSHAL_VIEW_RETENTION: u64 = 2_560;
const MAX_REPAIR: NonZeroUsize = NZUsize!(16);
pub(crate) const MAX_PENDING_ACKS: NonZeroUsize = NZUsize!(16);

/// Where an epoch's simplex engine starts: the previous epoch's last block, or a finalized
/// proposal inside the epoch (a joiner's certified floor).
type EpochFloor = simplex::Floor<Scheme, sha256::Digest>;

type Marshaled<E, A> = Deferred<E, Scheme, LedgerApp<A>, ChainBlock, FixedEpocher>;
type Mailbox = MarshalMailbox<Scheme, Standard<ChainBlock>>;

/// A request from outside the runtime, answered by a task inside it.
pub(crate) enum Query {
    Finalization(u64, oneshot::Sender<Option<Vec<u8>>>),
    Block(u64, oneshot::Sender<Option<Block>>),
}

/// A started validator.
pub(crate) struct Engine {
    pub shared: Arc<Shared>,
    pub queries: mpsc::UnboundedSender<Query>,
    /// Completes if the consensus engine stops (it runs until the runtime stops).
    pub consensus: Handle<()>,
    /// Messages to broadcast to the committee, when the transport has a gossip channel.
    pub gossip: Option<mpsc::Sender<Vec<u8>>>,
    /// Encoded statement batches to share, when the transport has a statements channel.
    pub share: Option<mpsc::Sender<Vec<u8>>>,
}

fn immutable_config<C>(
    prefix: &str,
    name: &str,
    page_cache: &CacheRef,
    codec_config: C,
) -> immutable::Config<C> {
    immutable::Config {
        metadata_partition: format!("{prefix}-{name}-metadata"),
        freezer_table_partition: format!("{prefix}-{name}-freezer-table"),
        freezer_table_initial_size: FREEZER_TABLE_INITIAL_SIZE,
        freezer_table_resize_frequency: FREEZER_TABLE_RESIZE_FREQUENCY,
        freezer_table_resize_chunk_size: FREEZER_TABLE_RESIZE_CHUNK_SIZE,
        freezer_key_partition: format!("{prefix}-{name}-freezer-key"),
        freezer_key_page_cache: page_cache.clone(),
        freezer_key_write_buffer: WRITE_BUFFER,
        freezer_value_partition: format!("{prefix}-{name}-freezer-value"),
        freezer_value_write_buffer: WRITE_BUFFER,
        freezer_value_target_size: FREEZER_VALUE_TARGET_SIZE,
        freezer_value_compression: None,
        ordinal_partition: format!("{prefix}-{name}-ordinal"),
        ordinal_write_buffer: WRITE_BUFFER,
        items_per_section: IMMUTABLE_ITEMS_PER_SECTION,
        codec_config,
        replay_buffer: REPLAY_BUFFER,
    }
}

/// Starts every actor of one validator on `context` and returns once they run. Storage is
/// recovered from the partitions named by `config.partition_prefix`: a restart resumes where
/// the previous run's durable state ends.
///
/// Panics if storage cannot be opened (commonware treats that as fatal).
pub(crate) async fn start<E, A, S, R, P, B>(
    context: E,
    config: EngineConfig,
    app: A,
    channels: Channels<S, R>,
    peers: P,
    blocker: B,
) -> Engine
where
    E: Spawner + Clock + Storage + Metrics + CryptoRng,
    A: Application,
    S: Sender<PublicKey = ed25519::PublicKey>,
    R: Receiver<PublicKey = ed25519::PublicKey>,
    P: Provider<PublicKey = ed25519::PublicKey>,
    B: Blocker<PublicKey = ed25519::PublicKey>,
{
    let EngineConfig {
        signer,
        committee,
        epoch_blocks,
        namespace,
        genesis,
        partition_prefix: prefix,
        timing,
        floor: floor_start,
    } = config;
    let public_key = {
        use commonware_cryptography::Signer as _;
        signer.public_key()
    };
    let boundaries = Boundaries::new(epoch_blocks);
    let schemes = Schemes::new(&namespace, signer, committee.clone());
    schemes.register(0, committee);

    // Blocks travel whole between validators (buffered broadcast).
    let (buffer, buffer_mailbox) = buffered::Engine::new(
        context.child("buffer"),
        buffered::Config {
            public_key: public_key.clone(),
            mailbox_size: MAILBOX_SIZE,
            deque_size: DEQUE_SIZE,
            priority: false,
            codec_config: (),
            peer_provider: peers.clone(),
            strategy: Sequential,
        },
    );

    // Finalized blocks and their certificates, kept forever and indexed by height and digest.
    let page_cache = CacheRef::new(PAGE_SIZE, PAGE_CACHE_PAGES);
    let finalizations = immutable::Archive::init(
        context.child("finalizations"),
        immutable_config(
            &prefix,
            "finalizations",
            &page_cache,
            Scheme::certificate_codec_config_unbounded(),
        ),
    )
    .await
    .expect("open the finalizations archive");
    let blocks = immutable::Archive::init(
        context.child("blocks"),
        immutable_config(&prefix, "blocks", &page_cache, ()),
    )
    .await
    .expect("open the finalized blocks archive");

    let genesis = ChainBlock::new(genesis).expect("the genesis block is within the limits");
    let genesis_digest = genesis.digest();
    // A joiner's floor is handed to marshal at every start: marshal installs it once (fetching
    // the floor block from peers) and ignores it on later starts, once its rounds are covered.
    let start = match &floor_start {
        Some(floor) => {
            check_floor(context.child("floor"), &schemes, &app, floor);
            marshal::Start::Floor(floor.finalization.clone())
        }
        None => marshal::Start::Genesis(Digested::precomputed(genesis, genesis_digest)),
    };
    let (actor, mailbox, floor): (_, Mailbox, _) = MarshalActor::init(
        context.child("marshal"),
        finalizations,
        blocks,
        marshal::Config {
            provider: schemes.clone(),
            epocher: boundaries.epocher(),
            start,
            partition_prefix: format!("{prefix}-marshal"),
            mailbox_size: MAILBOX_SIZE,
            view_retention: ViewDelta::new(MARSHAL_VIEW_RETENTION),
            prunable_items_per_section: PRUNABLE_ITEMS_PER_SECTION,
            page_cache: page_cache.clone(),
            replay_buffer: REPLAY_BUFFER,
            key_write_buffer: WRITE_BUFFER,
            value_write_buffer: WRITE_BUFFER,
            block_codec_config: (),
            max_repair: MAX_REPAIR,
            max_pending_acks: MAX_PENDING_ACKS,
            strategy: Sequential,
        },
    )
    .await;
    let processed = floor.processed().map(|p: Processed| p.height().get());
    // Marshal re-delivers the floor block itself, which the application already holds.
    let processed = match (processed, &floor_start) {
        (Some(p), Some(f)) => Some(p.max(f.height)),
        (None, Some(f)) => Some(f.height),
        (p, None) => p,
    };
    let epoch = boundaries.current(processed);
    info!(?processed, epoch, "marshal restored");

    // The ledger, behind marshal's deferred-verification wrapper.
    let shared = Arc::new(Shared::new(processed));
    let marshaled: Marshaled<E, A> = Deferred::new(
        context.child("marshaled"),
        LedgerApp::new(app.clone(), shared.clone(), timing.max_idle),
        mailbox.clone(),
        boundaries.epocher(),
    );

    // Backfill of missing finalized blocks and certificates from peers.
    let resolver = marshal_resolver::init(
        context.child("backfill"),
        marshal_resolver::Config {
            public_key,
            peer_provider: peers,
            blocker: blocker.clone(),
            mailbox_size: MAILBOX_SIZE,
            fetch_timeout: NonZeroDuration::new_panic(timing.fetch_timeout),
            fetch_retry_delay: timing.fetch_retry_delay,
            priority_requests: false,
            priority_responses: false,
        },
        channels.backfill,
    );

    // Finalized blocks flow marshal -> Delivery -> deliver() -> Application::finalized; the
    // last block of an epoch also announces the next committee to the epoch engines.
    let app_for_gossip = app.clone();
    let app_for_share = app.clone();
    let (delivery, finalized) = Delivery::new(shared.clone());
    let (transitions, transitions_in) = mpsc::unbounded();
    context.child("delivery").spawn({
        let (shared, app, schemes) = (shared.clone(), app.clone(), schemes.clone());
        move |context| {
            deliver(
                context,
                app,
                shared,
                finalized,
                Handover {
                    boundaries,
                    schemes,
                    transitions,
                },
            )
        }
    });

    // Start order follows the dependencies: the buffer and marshal must be able to take
    // requests before consensus replays its journal.
    buffer.start(channels.blocks);
    actor.start(delivery, buffer_mailbox, resolver);

    // The epoch this validator resumes in: its committee, from the state the application
    // applied, and its floor: the previous epoch's last block, or the certified floor a joiner
    // started from when that lies inside this epoch.
    if epoch > 0 {
        schemes.register(epoch - 1, schemes.committee_of(&app, epoch - 1));
        schemes.register(epoch, schemes.committee_of(&app, epoch));
    }
    let floor = match &floor_start {
        Some(f) if f.epoch() == epoch => simplex::Floor::Finalized(f.finalization.clone()),
        Some(f) if epoch > 0 && boundaries.last(epoch - 1) == Some(f.height) => {
            simplex::Floor::Genesis(f.digest())
        }
        _ if epoch == 0 => simplex::Floor::Genesis(genesis_digest),
        _ => {
            let last = boundaries
                .last(epoch - 1)
                .expect("a previous epoch has a last block");
            simplex::Floor::Genesis(
                mailbox
                    .get_block(Height::new(last))
                    .await
                    .expect("the previous epoch's last block was applied, so it is stored")
                    .digest(),
            )
        }
    };
    let engines = EpochEngines::new(
        context.child("epochs"),
        EpochParts {
            marshaled,
            marshal: mailbox.clone(),
            blocker,
            schemes,
            boundaries,
            timing,
            prefix,
            page_cache,
        },
        channels.votes,
        channels.certificates,
        channels.consensus_resolver,
    );
    let consensus = context
        .child("orchestrator")
        .spawn(move |_| engines.run(epoch, floor, transitions_in));

    let (queries, requests) = mpsc::unbounded();
    context
        .child("queries")
        .spawn(move |_| answer_queries(mailbox, requests));

    let gossip = channels.gossip.map(|(sender, receiver)| {
        let (outbox, outgoing) = mpsc::channel(GOSSIP_QUEUE);
        context
            .child("gossip_out")
            .spawn(move |_| send_gossip(sender, outgoing));
        context
            .child("gossip_in")
            .spawn(move |_| receive_gossip(receiver, app_for_gossip));
        outbox
    });
    let share = channels.statements.map(|(sender, receiver)| {
        let (outbox, outgoing) = mpsc::channel(crate::share::SHARE_QUEUE);
        context
            .child("share_out")
            .spawn(move |_| crate::share::send_shared(sender, outgoing));
        context
            .child("share_in")
            .spawn(move |_| crate::share::receive_shared(receiver, app_for_share));
        outbox
    });

    Engine {
        shared,
        queries,
        consensus,
        gossip,
        share,
    }
}

/// Registers the committee of the floor's epoch (from the application's state, which holds the
/// floor's outcome) and checks the floor's certificate with it.
///
/// Panics, stopping the start-up with this message, if it does not verify: the joiner checked
/// it against the hand-over chain before importing anything, so this means a damaged data
/// directory or a state that names another committee.
fn check_floor<E: CryptoRng>(
    mut rng: E,
    schemes: &Schemes,
    app: &impl Application,
    floor: &FloorStart,
) {
    let epoch = floor.epoch();
    schemes.register(epoch, schemes.committee_of(app, epoch));
    let scoped = schemes
        .scoped(Epoch::new(epoch))
        .expect("registered just above");
    assert!(
        floor.finalization.verify(&mut rng, &scoped, &Sequential),
        "the floor certificate of height {} does not verify with the committee of epoch {epoch}",
        floor.height
    );
}

/// What the delivery task needs to hand consensus over at an epoch boundary.
pub(crate) struct Handover {
    pub boundaries: Boundaries,
    pub schemes: Schemes,
    pub transitions: mpsc::UnboundedSender<Transition>,
}

impl Handover {
    /// Called once `block` is durably applied, before marshal hears of it: if it closes an
    /// epoch, the next committee is read from the application's state and registered (so
    /// marshal can check the next epoch's certificates), and the engines are told to switch.
    pub(crate) fn after_applied(&self, app: &impl Application, height: u64, digest: [u8; 32]) {
        let Some(next) = self.boundaries.next_after(height) else {
            return;
        };
        self.schemes
            .register(next, self.schemes.committee_of(app, next));
        let _ = self.transitions.unbounded_send(Transition {
            epoch: next,
            floor: digest,
        });
    }
}

/// What every epoch's simplex engine shares.
struct EpochParts<E, A, B>
where
    E: Spawner + Clock + Storage + Metrics + CryptoRng,
    A: Application,
{
    marshaled: Marshaled<E, A>,
    marshal: Mailbox,
    blocker: B,
    schemes: Schemes,
    boundaries: Boundaries,
    timing: Timing,
    prefix: String,
    page_cache: CacheRef,
}

type Backup =
    commonware_utils::channel::mpsc::Receiver<(u64, commonware_p2p::Message<ed25519::PublicKey>)>;

/// Runs one simplex engine at a time, the one of the current epoch, and replaces it when the
/// delivery task reports a boundary.
struct EpochEngines<E, A, B, S>
where
    E: Spawner + Clock + Storage + Metrics + CryptoRng,
    A: Application,
    S: Sender<PublicKey = ed25519::PublicKey>,
{
    context: E,
    parts: EpochParts<E, A, B>,
    votes: MuxHandle<S>,
    certificates: MuxHandle<S>,
    resolver: MuxHandle<S>,
    vote_backup: Backup,
    certificate_backup: Backup,
}

impl<E, A, B, S> EpochEngines<E, A, B, S>
where
    E: Spawner + Clock + Storage + Metrics + CryptoRng,
    A: Application,
    B: Blocker<PublicKey = ed25519::PublicKey>,
    S: Sender<PublicKey = ed25519::PublicKey>,
{
    fn new<R>(
        context: E,
        parts: EpochParts<E, A, B>,
        votes: (S, R),
        certificates: (S, R),
        resolver: (S, R),
    ) -> Self
    where
        R: Receiver<PublicKey = ed25519::PublicKey>,
    {
        let (mux, votes, vote_backup) =
            Muxer::builder(context.child("votes_mux"), votes.0, votes.1)
                .with_backup()
                .build();
        mux.start();
        let (mux, certificates, certificate_backup) = Muxer::builder(
            context.child("certificates_mux"),
            certificates.0,
            certificates.1,
        )
        .with_backup()
        .build();
        mux.start();
        let (mux, resolver) = Muxer::new(context.child("resolver_mux"), resolver.0, resolver.1);
        mux.start();
        Self {
            context,
            parts,
            votes,
            certificates,
            resolver,
            vote_backup,
            certificate_backup,
        }
    }

    /// Runs the engine of `epoch` from `floor`, then of every later epoch as boundaries are
    /// applied; returns if an engine stops on its own or the channels close.
    async fn run(
        mut self,
        mut epoch: u64,
        floor: EpochFloor,
        mut transitions: mpsc::UnboundedReceiver<Transition>,
    ) {
        let Some(mut engine) = self.enter(epoch, floor).await else {
            return;
        };
        // A stop between a switch and its clean-up leaves the journal of epoch - 2 behind.
        if let Some(old) = epoch.checked_sub(JOURNALS_KEPT) {
            forget_journal(&self.context, &self.parts.prefix, old).await;
        }
        loop {
            select! {
                transition = transitions.next() => {
                    let Some(Transition { epoch: next, floor }) = transition else {
                        break;
                    };
                    if next <= epoch {
                        continue;
                    }
                    engine.abort();
                    epoch = next;
                    let floor = simplex::Floor::Genesis(sha256::Digest::from(floor));
                    engine = match self.enter(epoch, floor).await {
                        Some(engine) => engine,
                        None => break,
                    };
                    if let Some(old) = epoch.checked_sub(JOURNALS_KEPT) {
                        forget_journal(&self.context, &self.parts.prefix, old).await;
                    }
                },
                message = self.vote_backup.recv() => {
                    let Some((theirs, (from, _))) = message else { break };
                    on_foreign_epoch(self.parts.boundaries, epoch, theirs, from, &self.parts.marshal);
                },
                message = self.certificate_backup.recv() => {
                    let Some((theirs, (from, _))) = message else { break };
                    on_foreign_epoch(self.parts.boundaries, epoch, theirs, from, &self.parts.marshal);
                },
                _ = &mut engine => {
                    info!(epoch, "consensus engine stopped");
                    break;
                },
            }
        }
    }

    /// Starts the simplex engine of `epoch` on its own subchannels and journal.
    async fn enter(&mut self, epoch: u64, floor: EpochFloor) -> Option<Handle<()>> {
        let (votes, certificates, resolver) = match (
            self.votes.register(epoch).await,
            self.certificates.register(epoch).await,
            self.resolver.register(epoch).await,
        ) {
            (Ok(v), Ok(c), Ok(r)) => (v, c, r),
            _ => {
                info!(
                    epoch,
                    "p2p channels closed; not starting the epoch's engine"
                );
                return None;
            }
        };
        let parts = &self.parts;
        let scheme = parts
            .schemes
            .engine_scheme(epoch)
            .expect("an epoch's committee is registered before its engine starts");
        let timing = parts.timing;
        let engine = simplex::Engine::new(
            self.context.child("simplex").with_attribute("epoch", epoch),
            simplex::Config {
                scheme,
                elector: RoundRobin::<sha256::Sha256>::default(),
                blocker: parts.blocker.clone(),
                automaton: parts.marshaled.clone(),
                relay: parts.marshaled.clone(),
                reporter: parts.marshaled.clone(),
                strategy: Sequential,
                partition: journal_partition(&parts.prefix, epoch),
                mailbox_size: MAILBOX_SIZE,
                epoch: Epoch::new(epoch),
                floor,
                replay_buffer: REPLAY_BUFFER,
                write_buffer: WRITE_BUFFER,
                page_cache: parts.page_cache.clone(),
                leader_timeout: timing.leader_timeout,
                certification_timeout: timing.certification_timeout,
                timeout_retry: timing.timeout_retry,
                view_retention: ViewDelta::new(CONSENSUS_VIEW_RETENTION),
                skip: SkipPolicy::Enabled {
                    timeout: timing.skip_timeout,
                    budget: SkipBudget::Participants,
                },
                fetch_timeout: NonZeroDuration::new_panic(timing.fetch_timeout),
                fetch_retry_delay: timing.fetch_retry_delay,
                forward: ForwardPolicy::SilentLeader,
                track_historical_votes: false,
            },
        );
        info!(epoch, "starting the epoch's consensus engine");
        Some(engine.start(votes, certificates, resolver))
    }
}

/// Simplex journals kept: the current epoch's and the one before (whose engine was aborted at the
/// switch, so it is removed one switch later, when nothing can still be writing to it).
pub(crate) const JOURNALS_KEPT: u64 = 2;

/// Removes the simplex journal of `epoch`, an epoch this validator has left for good: the switch
/// to a later epoch happens only once the boundary block is durably applied, and a restart
/// resumes in the epoch of the applied state, so no engine of `epoch` runs again and its votes
/// are no longer needed to avoid equivocating. Without this, every epoch left a journal on disk.
async fn forget_journal(storage: &impl Storage, prefix: &str, epoch: u64) {
    match storage
        .remove(&journal_partition(prefix, epoch), None)
        .await
    {
        Ok(()) => debug!(epoch, "removed the journal of a past epoch"),
        Err(commonware_runtime::Error::PartitionMissing(_)) => {}
        Err(e) => warn!(epoch, "removing the journal of a past epoch: {e}"),
    }
}

/// The storage partition of the simplex journal of `epoch`.
pub(crate) fn journal_partition(prefix: &str, epoch: u64) -> String {
    format!("{prefix}-simplex-epoch-{epoch}")
}

async fn send_gossip<S: Sender>(mut sender: S, mut outgoing: mpsc::Receiver<Vec<u8>>) {
    while let Some(message) = outgoing.next().await {
        if message.len() <= MAX_GOSSIP_BYTES {
            sender.send(Recipients::All, message, false);
        }
    }
}

async fn receive_gossip<R, A>(mut receiver: R, app: A)
where
    R: Receiver<PublicKey = ed25519::PublicKey>,
    A: Application,
{
    while let Ok((from, message)) = receiver.recv().await {
        let bytes = message.as_ref();
        if bytes.len() > MAX_GOSSIP_BYTES {
            continue;
        }
        let Ok(from): Result<[u8; 32], _> = from.as_ref().try_into() else {
            continue;
        };
        app.gossip(from, bytes);
    }
}

async fn answer_queries(mailbox: Mailbox, mut requests: mpsc::UnboundedReceiver<Query>) {
    while let Some(query) = requests.next().await {
        match query {
            Query::Finalization(height, reply) => {
                let finalization = mailbox.get_finalization(Height::new(height)).await;
                let _ = reply.send(finalization.map(|f| f.encode().to_vec()));
            }
            Query::Block(height, reply) => {
                let block = mailbox.get_block(Height::new(height)).await;
                let _ = reply.send(block.map(|b| b.inner().block().clone()));
            }
        }
    }
}
