//! Whole-cluster simulation: 4 to 7 validators running the production wiring
//! (`engine::start`) on commonware's deterministic runtime and simulated network, through a
//! seeded schedule of faults (partitions, loss and delay, crashes and restarts, Byzantine
//! validators from commonware's simplex mocks), then healed and checked against the ledger's
//! invariants. Scenarios, invariants, seed counts and the reproduce command: `docs/simulation.md`.
//!
//! Everything random in a run (committee size, fault schedule, statement traffic, and the
//! runtime's own scheduling and link delays) derives from one seed, so a seed and a scenario
//! name replay a run exactly ([`replay`]).

use crate::{
    app::Shared,
    block::{Anchor, Block},
    engine::{
        self, channel_quota, Channels, EngineConfig, Query, Timing, CHANNEL_CERTIFICATES,
        CHANNEL_VOTES,
    },
    testkit::{network, signer, statement, TestApp, MAX_IDLE, NAMESPACE, ONE_EPOCH},
    verify_finalization,
};
use commonware_consensus::{
    simplex::{
        elector::RoundRobin,
        mocks::{conflicter, equivocator, nuller, outdated, relay::Relay},
        scheme::ed25519::Scheme,
    },
    types::{Epoch, ViewDelta},
};
use commonware_cryptography::{ed25519, sha256, Sha256, Signer as _};
use commonware_p2p::{simulated, utils::mux::Muxer};
use commonware_runtime::{
    deterministic, Clock, Handle, Runner as _, Spawner as _, Supervisor as _,
};
use commonware_utils::ordered::Set;
use futures::channel::{mpsc, oneshot};
use std::{
    collections::{btree_map::Entry, BTreeMap, HashSet},
    panic::{catch_unwind, AssertUnwindSafe},
    sync::Arc,
    time::Duration,
};

type Oracle = simulated::Oracle<ed25519::PublicKey, deterministic::Context>;

/// Seeds each scenario runs in CI (`PROVERKA_SIM_SEEDS` overrides it, e.g. for a nightly soak).
/// Chosen so the whole suite stays within about three minutes on a 2-core machine (see
/// `docs/simulation.md` for the measurement).
const SEEDS_PER_SCENARIO: u64 = 24;

/// Finalized heights every honest validator must gain after the network heals.
const PROGRESS_AFTER_HEAL: u64 = 5;
/// Virtual time allowed for that progress (and, separately, for every owed statement to land).
const HEAL_DEADLINE: Duration = Duration::from_secs(60);
/// During a split where no side has a quorum, at most the views whose votes were already on the
/// wire may finalize (simplex keeps a few views in flight).
const MAX_FINALIZED_WITHOUT_QUORUM: u64 = 3;
/// Heights the majority must finalize while one validator is cut off.
const PROGRESS_WHILE_ISOLATED: u64 = 3;
/// Backstop for a run that hangs outright (the checks above report lost liveness first).
const RUN_TIMEOUT: Duration = Duration::from_secs(1_800);

/// A healthy link: tens of milliseconds, a little jitter, nothing lost.
fn good_link() -> simulated::Link {
    simulated::Link {
        latency: Duration::from_millis(40),
        jitter: Duration::from_millis(5),
        success_rate: commonware_utils::probability!(1.0),
    }
}

/// A family of fault schedules; the seed picks the committee size and the details.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Scenario {
    /// The committee splits into two sides, neither with a quorum, then heals (1 or 2 times).
    Partition,
    /// One validator is cut off while the others carry on, then rejoins and catches up.
    Isolate,
    /// Every link gets its own latency, jitter and loss rate for a while.
    Lossy,
    /// Up to f validators crash (tasks aborted, storage kept) and restart later, repeatedly.
    Crash,
    /// f validators are Byzantine (commonware's simplex mocks, or silent) on jittery links.
    Byzantine,
    /// One Byzantine validator plus a random sequence of the episodes above.
    Mixed,
    /// Committees change every few epochs (a newcomer that observed epoch 0 joins, a genesis
    /// member leaves, then returns) while splits, lossy links and crashes come and go.
    Reconfigure,
}

impl Scenario {
    pub(crate) const ALL: [Scenario; 7] = [
        Scenario::Partition,
        Scenario::Isolate,
        Scenario::Lossy,
        Scenario::Crash,
        Scenario::Byzantine,
        Scenario::Mixed,
        Scenario::Reconfigure,
    ];

    pub(crate) const fn name(self) -> &'static str {
        match self {
            Scenario::Partition => "partition",
            Scenario::Isolate => "isolate",
            Scenario::Lossy => "lossy",
            Scenario::Crash => "crash",
            Scenario::Byzantine => "byzantine",
            Scenario::Mixed => "mixed",
            Scenario::Reconfigure => "reconfigure",
        }
    }

    fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// How a Byzantine validator misbehaves. All but `Silent` are commonware's simplex mocks, run in
/// place of that validator's engine with its real key, so their votes count and their faults
/// are attributable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Byzantine {
    /// Votes for a random digest and for the real one in every view (`mocks::conflicter`).
    Conflicter,
    /// As leader, sends different proposals to different validators (`mocks::equivocator`).
    Equivocator,
    /// Votes to nullify and to finalize the same view (`mocks::nuller`).
    Nuller,
    /// Votes for proposals of views long gone (`mocks::outdated`).
    Outdated,
    /// Never sends anything (network level: the validator is simply not started).
    Silent,
}

const BYZANTINE_KINDS: [Byzantine; 5] = [
    Byzantine::Conflicter,
    Byzantine::Equivocator,
    Byzantine::Nuller,
    Byzantine::Outdated,
    Byzantine::Silent,
];

/// One stretch of faults; each is undone before the next begins.
#[derive(Clone, Debug)]
enum Episode {
    /// `side[i]` says which side validator `i` is on; no link crosses sides.
    Split { side: Vec<bool>, duration: Duration },
    /// Every link to and from `who` is cut.
    Isolate { who: usize, duration: Duration },
    /// Each directed link gets its own (latency ms, jitter ms, % of messages delivered).
    Degrade {
        links: BTreeMap<(usize, usize), (u64, u64, u64)>,
        duration: Duration,
    },
    /// These validators crash, stay down for `downtime`, then restart on their storage.
    Crash { who: Vec<usize>, downtime: Duration },
}

/// A scenario instantiated by a seed.
#[derive(Clone, Debug)]
struct Schedule {
    n: usize,
    byzantine: BTreeMap<usize, Byzantine>,
    /// Whether links jitter heavily throughout (Byzantine runs), rather than only in episodes.
    rough_links: bool,
    episodes: Vec<Episode>,
    /// Heights per epoch.
    epoch_blocks: std::num::NonZeroU64,
    /// The validators (indices) of each epoch whose committee changes; epoch 0 is genesis.
    committees: BTreeMap<u64, Vec<usize>>,
}

/// The schedule's own randomness (splitmix64), separate from the runtime's so that drawing the
/// schedule does not perturb the run and vice versa.
struct Dice(u64);

impl Dice {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `low..=high`.
    fn range(&mut self, low: u64, high: u64) -> u64 {
        low + self.next() % (high - low + 1)
    }

    fn index(&mut self, len: usize) -> usize {
        usize::try_from(self.next() % len as u64).expect("fits")
    }

    fn millis(&mut self, low: u64, high: u64) -> Duration {
        Duration::from_millis(self.range(low, high))
    }

    /// `count` distinct indices below `len`.
    fn pick(&mut self, len: usize, count: usize) -> Vec<usize> {
        let mut all: Vec<usize> = (0..len).collect();
        for i in (1..len).rev() {
            all.swap(i, self.index(i + 1));
        }
        all.truncate(count);
        all.sort_unstable();
        all
    }
}

const fn max_faults(n: usize) -> usize {
    (n - 1) / 3
}

impl Schedule {
    fn new(scenario: Scenario, seed: u64) -> Self {
        let mut dice = Dice(seed ^ 0x5EED_5CE4_A210_0F0F);
        let n = usize::try_from(dice.range(4, 7)).expect("fits");
        let f = max_faults(n);
        let honest = |byzantine: &BTreeMap<usize, Byzantine>| -> Vec<usize> {
            (0..n).filter(|i| !byzantine.contains_key(i)).collect()
        };
        let mut byzantine = BTreeMap::new();
        let mut episodes = Vec::new();
        let mut committees = BTreeMap::from([(0, (0..n).collect::<Vec<_>>())]);
        let mut epoch_blocks = ONE_EPOCH;
        match scenario {
            Scenario::Partition => {
                for _ in 0..dice.range(1, 2) {
                    episodes.push(split(&mut dice, n));
                }
            }
            Scenario::Isolate => episodes.push(Episode::Isolate {
                who: dice.index(n),
                duration: dice.millis(3_000, 8_000),
            }),
            Scenario::Lossy => episodes.push(degrade(&mut dice, n)),
            Scenario::Crash => {
                for _ in 0..dice.range(1, 3) {
                    let count = usize::try_from(dice.range(1, f as u64)).expect("fits");
                    episodes.push(Episode::Crash {
                        who: dice.pick(n, count),
                        downtime: dice.millis(1_000, 8_000),
                    });
                }
            }
            Scenario::Byzantine => {
                for who in dice.pick(n, f) {
                    byzantine.insert(who, BYZANTINE_KINDS[dice.index(BYZANTINE_KINDS.len())]);
                }
            }
            Scenario::Mixed => {
                byzantine.insert(
                    dice.index(n),
                    BYZANTINE_KINDS[dice.index(BYZANTINE_KINDS.len())],
                );
                let honest = honest(&byzantine);
                for _ in 0..dice.range(2, 4) {
                    episodes.push(match dice.range(0, 3) {
                        0 => split(&mut dice, n),
                        1 => Episode::Isolate {
                            who: honest[dice.index(honest.len())],
                            duration: dice.millis(2_000, 6_000),
                        },
                        2 => degrade(&mut dice, n),
                        _ => Episode::Crash {
                            who: vec![honest[dice.index(honest.len())]],
                            downtime: dice.millis(1_000, 6_000),
                        },
                    });
                }
            }
            Scenario::Reconfigure => {
                // The last validator is not in genesis; one genesis member leaves in epoch 2
                // and returns in epoch 4. Epochs are short so that faults straddle hand-overs.
                epoch_blocks = std::num::NonZeroU64::new(dice.range(4, 8)).expect("nonzero");
                let newcomer = n - 1;
                let leaver = dice.index(newcomer);
                let everyone: Vec<usize> = (0..n).collect();
                committees.insert(0, (0..newcomer).collect());
                committees.insert(1, everyone.clone());
                committees.insert(
                    2,
                    everyone.iter().copied().filter(|&i| i != leaver).collect(),
                );
                committees.insert(4, everyone);
                for _ in 0..dice.range(2, 4) {
                    episodes.push(match dice.range(0, 2) {
                        0 => split(&mut dice, n),
                        1 => degrade(&mut dice, n),
                        _ => Episode::Crash {
                            who: vec![dice.index(n)],
                            downtime: dice.millis(1_000, 6_000),
                        },
                    });
                }
            }
        }
        Self {
            n,
            rough_links: !byzantine.is_empty(),
            byzantine,
            episodes,
            epoch_blocks,
            committees,
        }
    }
}

/// Two random sides of ⌊n/2⌋ and ⌈n/2⌉ validators: for 4 ≤ n ≤ 7 neither reaches the quorum
/// (n - f), so neither can finalize alone.
fn split(dice: &mut Dice, n: usize) -> Episode {
    let left = dice.pick(n, n / 2);
    Episode::Split {
        side: (0..n).map(|i| left.contains(&i)).collect(),
        duration: dice.millis(2_000, 8_000),
    }
}

fn degrade(dice: &mut Dice, n: usize) -> Episode {
    let mut links = BTreeMap::new();
    for a in 0..n {
        for b in 0..n {
            if a != b {
                let latency = dice.range(10, 300);
                let jitter = dice.range(0, latency / 2);
                // 60..=98 % of messages arrive.
                let delivered = dice.range(60, 98);
                links.insert((a, b), (latency, jitter, delivered));
            }
        }
    }
    Episode::Degrade {
        links,
        duration: dice.millis(5_000, 12_000),
    }
}

/// What one honest validator saw over the whole run, restarts included.
#[derive(Clone, Debug, Default)]
pub(crate) struct Observed {
    pub validator: usize,
    /// Every block handed to `Application::finalized`, in order (repeats after restarts kept).
    pub deliveries: Vec<Block>,
    /// (height, digest) of every finalization certificate it serves, each verified with the
    /// committee's keys.
    pub certified: Vec<(u64, [u8; 32])>,
    /// The outcome it computed for each height it applied.
    pub anchors: BTreeMap<u64, Anchor>,
}

/// A broken invariant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Violation {
    /// Two different blocks finalized at one height: (validator, digest) of each sighting.
    Fork {
        height: u64,
        first: (usize, [u8; 32]),
        second: (usize, [u8; 32]),
    },
    /// A validator's applied chain has a gap or a block that does not extend its parent.
    BrokenChain { validator: usize, height: u64 },
    /// A block's anchor goes backwards from (or contradicts) the anchor of its parent.
    CheckpointBackwards {
        validator: usize,
        height: u64,
        previous: Anchor,
        anchor: Anchor,
    },
    /// A block certifies an outcome the validator did not compute for that height.
    CheckpointMismatch {
        validator: usize,
        height: u64,
        certified: Anchor,
        computed: Option<Anchor>,
    },
    /// Two validators computed different logs or state roots after the same height.
    StateDivergence {
        height: u64,
        first: (usize, Anchor),
        second: (usize, Anchor),
    },
    /// A statement was finalized in two blocks.
    DuplicateStatement {
        validator: usize,
        statement: Vec<u8>,
    },
    /// A validator refused a block whose anchor contradicted its own outcome at that height.
    Contradicted { validator: usize, anchor: Anchor },
    /// A run with committee changes ended before every change took effect on every honest
    /// validator (the hand-overs were not exercised).
    HandOverNotReached {
        epoch: u64,
        heights: Vec<Option<u64>>,
    },
    /// After the network heals, some honest validator did not gain enough finalized heights.
    NoProgress {
        from: u64,
        heights: Vec<Option<u64>>,
    },
    /// While one validator was cut off, the others did not carry on.
    StalledWhileIsolated { from: u64, reached: u64 },
    /// Heights finalized while no side of a split had a quorum.
    FinalizedWithoutQuorum { from: u64, reached: u64 },
    /// Statements submitted to a validator that never crashed afterwards were not finalized.
    StatementsLost { missing: usize },
    /// An honest validator was blocked by a peer, i.e. accused of misbehaving.
    HonestBlocked { by: usize, validator: usize },
    /// A Byzantine validator whose votes contradict themselves went unnoticed by every honest
    /// validator.
    ByzantineUnnoticed { validator: usize },
}

/// Checks the safety invariants over what the honest validators observed.
pub(crate) fn check(observed: &[Observed]) -> Vec<Violation> {
    let mut violations = Vec::new();

    // Never two different finalized blocks at one height, whoever saw them and however (delivered
    // or certified).
    let mut seen: BTreeMap<u64, (usize, [u8; 32])> = BTreeMap::new();
    for o in observed {
        let sightings = o
            .deliveries
            .iter()
            .map(|b| (b.height, b.digest()))
            .chain(o.certified.iter().copied());
        for (height, digest) in sightings {
            match seen.entry(height) {
                Entry::Vacant(entry) => {
                    entry.insert((o.validator, digest));
                }
                Entry::Occupied(entry) => {
                    if entry.get().1 != digest {
                        violations.push(Violation::Fork {
                            height,
                            first: *entry.get(),
                            second: (o.validator, digest),
                        });
                    }
                }
            }
        }
    }

    for o in observed {
        // The applied chain: first delivery per height (a repeat that differs is a fork above).
        let mut chain: BTreeMap<u64, &Block> = BTreeMap::new();
        for block in &o.deliveries {
            chain.entry(block.height).or_insert(block);
        }
        let mut previous: Option<&Block> = None;
        let mut last_anchor = Anchor::default();
        let mut statements = HashSet::new();
        for (expected, (&height, &block)) in (0u64..).zip(&chain) {
            let linked = previous.is_none_or(|p| block.parent == p.digest());
            if height != expected || !linked {
                violations.push(Violation::BrokenChain {
                    validator: o.validator,
                    height: expected,
                });
                break;
            }
            // Every checkpoint is consistent with every earlier one: anchors only move forward
            // (a repeated anchor is the very same one), the log only grows, and a block never
            // certifies its own outcome.
            let anchor = block.anchor;
            let forward = anchor.height > last_anchor.height || anchor == last_anchor;
            if !forward
                || anchor.log_size < last_anchor.log_size
                || (height > 0 && anchor.height >= height)
            {
                violations.push(Violation::CheckpointBackwards {
                    validator: o.validator,
                    height,
                    previous: last_anchor,
                    anchor,
                });
            }
            if anchor.height > 0 && o.anchors.get(&anchor.height) != Some(&anchor) {
                violations.push(Violation::CheckpointMismatch {
                    validator: o.validator,
                    height,
                    certified: anchor,
                    computed: o.anchors.get(&anchor.height).copied(),
                });
            }
            for statement in &block.statements {
                if !statements.insert(statement) {
                    violations.push(Violation::DuplicateStatement {
                        validator: o.validator,
                        statement: statement.clone(),
                    });
                }
            }
            last_anchor = anchor;
            previous = Some(block);
        }
    }

    // Identical logs and state roots on every honest validator at every height they share.
    let mut computed: BTreeMap<u64, (usize, Anchor)> = BTreeMap::new();
    for o in observed {
        for (&height, &anchor) in &o.anchors {
            match computed.entry(height) {
                Entry::Vacant(entry) => {
                    entry.insert((o.validator, anchor));
                }
                Entry::Occupied(entry) => {
                    if entry.get().1 != anchor {
                        violations.push(Violation::StateDivergence {
                            height,
                            first: *entry.get(),
                            second: (o.validator, anchor),
                        });
                    }
                }
            }
        }
    }
    violations
}

/// A validator of the simulated committee.
struct Node {
    signer: ed25519::PrivateKey,
    /// The ledger stand-in; it outlives crashes, as a ledger's durable state does.
    app: TestApp,
    byzantine: Option<Byzantine>,
    running: Option<Running>,
    /// How many times it was started (a statement owed by a run is lost if the run crashes).
    runs: u64,
    /// Byzantine actors (kept so the run holds their handles).
    actors: Vec<Handle<()>>,
}

/// An honest validator's engine, running under one supervised task: aborting that task aborts
/// every actor of the engine at once, which is how the simulation crashes a validator.
struct Running {
    task: Handle<()>,
    shared: Arc<Shared>,
    queries: mpsc::UnboundedSender<Query>,
}

/// Observable result of a run, compared across runs of one seed to prove replays exact.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Outcome {
    pub n: usize,
    pub heights: Vec<Option<u64>>,
    pub tip: [u8; 32],
    pub statements: usize,
    pub virtual_ms: u128,
    pub auditor: String,
    /// (blocker, blocked) pairs: validators that caught a peer misbehaving and cut it off.
    pub blocked: Vec<(usize, usize)>,
    /// How many times each validator was started.
    pub runs: Vec<u64>,
    pub violations: Vec<Violation>,
}

struct Cluster {
    context: deterministic::Context,
    oracle: Oracle,
    keys: Vec<ed25519::PublicKey>,
    epoch_blocks: std::num::NonZeroU64,
    /// Each epoch whose committee changes -> its members (epoch 0: genesis).
    committees: BTreeMap<u64, Vec<ed25519::PublicKey>>,
    nodes: Vec<Node>,
    /// Directed links currently in place.
    linked: HashSet<(usize, usize)>,
    dice: Dice,
    /// Every statement submitted: (statement, validator, that validator's run at submission).
    submitted: Vec<(Vec<u8>, usize, u64)>,
    violations: Vec<Violation>,
    rough_links: bool,
}

impl Cluster {
    /// The committee that runs `epoch`.
    fn committee(&self, epoch: u64) -> &[ed25519::PublicKey] {
        self.committees
            .range(..=epoch)
            .next_back()
            .map(|(_, members)| members.as_slice())
            .expect("epoch 0 has a committee")
    }

    fn honest(&self) -> impl Iterator<Item = (usize, &Node)> {
        self.nodes
            .iter()
            .enumerate()
            .filter(|(_, node)| node.byzantine.is_none())
    }

    fn heights(&self) -> Vec<Option<u64>> {
        self.honest().map(|(_, node)| node.app.height()).collect()
    }

    fn max_height(&self) -> u64 {
        self.heights().into_iter().flatten().max().unwrap_or(0)
    }

    fn steady_link(&mut self) -> simulated::Link {
        if self.rough_links {
            // Byzantine runs: heavy jitter reorders messages, loss stays off so that liveness
            // rests on the honest quorum alone.
            simulated::Link {
                latency: self.dice.millis(20, 120),
                jitter: self.dice.millis(5, 60),
                success_rate: commonware_utils::probability!(1.0),
            }
        } else {
            good_link()
        }
    }

    /// Sets every directed link to what `link` says (`None` cuts it).
    async fn set_links(
        &mut self,
        mut link: impl FnMut(&mut Self, usize, usize) -> Option<simulated::Link>,
    ) {
        let n = self.nodes.len();
        for a in 0..n {
            for b in 0..n {
                if a == b {
                    continue;
                }
                let (from, to) = (self.keys[a].clone(), self.keys[b].clone());
                match link(self, a, b) {
                    Some(config) => {
                        // The simulated network refuses to overwrite a link.
                        if self.linked.contains(&(a, b)) {
                            self.oracle
                                .remove_link(from.clone(), to.clone())
                                .await
                                .expect("remove link");
                        }
                        self.oracle
                            .add_link(from, to, config)
                            .await
                            .expect("add link");
                        self.linked.insert((a, b));
                    }
                    None => {
                        if self.linked.remove(&(a, b)) {
                            self.oracle
                                .remove_link(from, to)
                                .await
                                .expect("remove link");
                        }
                    }
                }
            }
        }
    }

    async fn heal_links(&mut self) {
        self.set_links(|cluster, _, _| Some(cluster.steady_link()))
            .await;
    }

    async fn start(&mut self, index: usize) {
        let genesis = Set::from_iter_dedup(self.committee(0).iter().cloned());
        let node = &mut self.nodes[index];
        node.runs += 1;
        let me = node.signer.public_key();
        let control = self.oracle.control(me.clone());
        let context = self
            .context
            .child("validator")
            .with_attribute("index", index)
            .with_attribute("run", node.runs);
        if let Some(kind) = node.byzantine {
            let scheme = Scheme::signer(NAMESPACE, genesis.clone(), node.signer.clone())
                .expect("a committee member");
            // Honest engines speak on per-epoch subchannels: the mocks get epoch 0's.
            let mux_context = context.child("byzantine_mux");
            let register = |channel| {
                let control = control.clone();
                let mux_context = mux_context.child("channel").with_attribute("id", channel);
                async move {
                    let (sender, receiver) = control
                        .register(channel, channel_quota(channel))
                        .await
                        .expect("register");
                    let (mux, mut handle) = Muxer::new(mux_context, sender, receiver);
                    mux.start();
                    handle.register(0).await.expect("epoch 0 subchannel")
                }
            };
            let actor = match kind {
                Byzantine::Conflicter => Some(
                    conflicter::Conflicter::<_, _, Sha256>::new(
                        context,
                        conflicter::Config { scheme },
                    )
                    .start(register(CHANNEL_VOTES).await),
                ),
                Byzantine::Nuller => Some(
                    nuller::Nuller::<_, _, Sha256>::new(context, nuller::Config { scheme })
                        .start(register(CHANNEL_VOTES).await),
                ),
                Byzantine::Outdated => Some(
                    outdated::Outdated::<_, _, Sha256>::new(
                        context,
                        outdated::Config {
                            scheme,
                            view_delta: ViewDelta::new(5),
                        },
                    )
                    .start(register(CHANNEL_VOTES).await),
                ),
                Byzantine::Equivocator => {
                    // The mock hands its two payloads to a mock relay nobody listens to: the honest
                    // validators are split between two proposals they can never fetch.
                    let votes = register(CHANNEL_VOTES).await;
                    let certificates = register(CHANNEL_CERTIFICATES).await;
                    Some(
                        equivocator::Equivocator::new(
                            context,
                            equivocator::Config::<_, _, Sha256> {
                                scheme,
                                elector: RoundRobin::<Sha256>::default(),
                                epoch: Epoch::zero(),
                                relay: Arc::new(Relay::<sha256::Digest, _>::new()),
                            },
                        )
                        .start(votes, certificates),
                    )
                }
                Byzantine::Silent => None,
            };
            node.actors.extend(actor);
            return;
        }

        let config = EngineConfig {
            signer: node.signer.clone(),
            committee: genesis.clone(),
            namespace: NAMESPACE.to_vec(),
            genesis: Block::genesis(NAMESPACE, 0),
            partition_prefix: format!("validator-{me}"),
            timing: Timing::for_max_idle(MAX_IDLE),
            epoch_blocks: self.epoch_blocks,
            floor: None,
        };
        let app = node.app.clone();
        let manager = self.oracle.manager();
        let (ready, started) = oneshot::channel();
        let task = context.spawn(move |context| async move {
            let register = |channel| {
                let control = control.clone();
                async move {
                    control
                        .register(channel, channel_quota(channel))
                        .await
                        .expect("register")
                }
            };
            let channels = Channels {
                votes: register(engine::CHANNEL_VOTES).await,
                certificates: register(engine::CHANNEL_CERTIFICATES).await,
                consensus_resolver: register(engine::CHANNEL_CONSENSUS_RESOLVER).await,
                blocks: register(engine::CHANNEL_BLOCKS).await,
                backfill: register(engine::CHANNEL_BACKFILL).await,
                gossip: None,
                statements: None,
            };
            let engine = engine::start(
                context.child("engine"),
                config,
                app,
                channels,
                manager,
                control,
            )
            .await;
            let _ = ready.send((engine.shared.clone(), engine.queries.clone()));
            // The engine's actors are descendants of this task: it must outlive them.
            let _ = engine.consensus.await;
        });
        let (shared, queries) = started.await.expect("validator started");
        node.running = Some(Running {
            task,
            shared,
            queries,
        });
    }

    async fn crash(&mut self, index: usize) {
        if let Some(running) = self.nodes[index].running.take() {
            running.task.abort();
            let _ = running.task.await;
        }
    }

    /// Lets `duration` of virtual time pass while clients submit statements to running honest
    /// validators.
    async fn traffic(&mut self, duration: Duration) {
        let end = self.context.current() + duration;
        while self.context.current() < end {
            self.context.sleep(self.dice.millis(50, 250)).await;
            let up: Vec<usize> = self
                .honest()
                .filter(|(_, node)| node.running.is_some())
                .map(|(i, _)| i)
                .collect();
            if up.is_empty() {
                continue;
            }
            let who = up[self.dice.index(up.len())];
            for _ in 0..self.dice.range(1, 4) {
                let s = statement(self.submitted.len());
                self.nodes[who].app.submit([s.clone()]);
                self.submitted.push((s, who, self.nodes[who].runs));
            }
        }
    }

    /// Waits until `done` holds or `limit` of virtual time has passed; says which.
    async fn wait(&self, limit: Duration, mut done: impl FnMut(&Self) -> bool) -> bool {
        let end = self.context.current() + limit;
        loop {
            if done(self) {
                return true;
            }
            if self.context.current() >= end {
                return false;
            }
            self.context.sleep(Duration::from_millis(50)).await;
        }
    }

    async fn episode(&mut self, episode: &Episode) {
        match episode {
            Episode::Split { side, duration } => {
                let from = self.max_height();
                self.set_links(|cluster, a, b| (side[a] == side[b]).then(|| cluster.steady_link()))
                    .await;
                self.traffic(*duration).await;
                let reached = self.max_height();
                // Only meaningful when the Byzantine validators cannot make up a quorum either:
                // a mock that echoes votes may legitimately complete one side's quorum.
                // Nor when committees change: then a side may hold a quorum of a smaller committee.
                if self.nodes.iter().all(|n| n.byzantine.is_none())
                    && self.committees.len() == 1
                    && reached > from + MAX_FINALIZED_WITHOUT_QUORUM
                {
                    self.violations
                        .push(Violation::FinalizedWithoutQuorum { from, reached });
                }
            }
            Episode::Isolate { who, duration } => {
                let who = *who;
                let from = self.max_height();
                self.set_links(|cluster, a, b| {
                    (a != who && b != who).then(|| cluster.steady_link())
                })
                .await;
                self.traffic(*duration).await;
                let reached = self
                    .honest()
                    .filter(|(i, _)| *i != who)
                    .filter_map(|(_, node)| node.app.height())
                    .min()
                    .unwrap_or(0);
                let pure = self.nodes.iter().all(|n| n.byzantine.is_none());
                if pure && reached < from + PROGRESS_WHILE_ISOLATED {
                    self.violations
                        .push(Violation::StalledWhileIsolated { from, reached });
                }
            }
            Episode::Degrade { links, duration } => {
                self.set_links(|_, a, b| {
                    let (latency, jitter, delivered) = links[&(a, b)];
                    Some(simulated::Link {
                        latency: Duration::from_millis(latency),
                        jitter: Duration::from_millis(jitter),
                        success_rate: commonware_utils::Probability::new(delivered, 100)
                            .expect("a percentage"),
                    })
                })
                .await;
                self.traffic(*duration).await;
            }
            Episode::Crash { who, downtime } => {
                for &i in who {
                    self.crash(i).await;
                }
                self.traffic(*downtime).await;
                for &i in who {
                    self.start(i).await;
                }
            }
        }
        self.heal_links().await;
        // A short calm between episodes, with traffic, so consecutive faults are distinct.
        let calm = self.dice.millis(500, 2_000);
        self.traffic(calm).await;
    }

    /// Statements that must be finalized: submitted to a run that never crashed afterwards.
    fn owed(&self) -> Vec<&Vec<u8>> {
        self.submitted
            .iter()
            .filter(|(_, who, run)| self.nodes[*who].runs == *run)
            .map(|(s, _, _)| s)
            .collect()
    }

    fn finalized_everywhere(&self, owed: &[&Vec<u8>]) -> usize {
        self.honest()
            .map(|(_, node)| {
                let included: HashSet<Vec<u8>> = node
                    .app
                    .chain()
                    .values()
                    .flat_map(|b| b.statements.clone())
                    .collect();
                owed.iter().filter(|s| !included.contains(**s)).count()
            })
            .max()
            .unwrap_or(0)
    }

    async fn observe(&self) -> Vec<Observed> {
        let mut observed = Vec::new();
        for (validator, node) in self.honest() {
            let running = node.running.as_ref().expect("every honest validator runs");
            let mut certified = Vec::new();
            for height in 0..=node.app.height().unwrap_or(0) {
                // Each certificate verifies with the committee of its block's epoch.
                let committee: Vec<String> = self
                    .committee(height / self.epoch_blocks)
                    .iter()
                    .map(|k| hex::encode(k.as_ref()))
                    .collect();
                let (reply, answer) = oneshot::channel();
                running
                    .queries
                    .unbounded_send(Query::Finalization(height, reply))
                    .expect("engine running");
                // Heights finalized implicitly, by a descendant's certificate, have none.
                if let Some(bytes) = answer.await.expect("answered") {
                    let proven = verify_finalization(NAMESPACE, &committee, &bytes)
                        .expect("a served certificate verifies with the committee's keys");
                    certified.push((height, proven.digest));
                }
            }
            assert!(
                !certified.is_empty() || running.shared.applied_height().is_none(),
                "validator {validator} serves no finalization certificate"
            );
            observed.push(Observed {
                validator,
                deliveries: node.app.deliveries(),
                certified,
                anchors: node.app.anchors.lock().unwrap().clone(),
            });
        }
        observed
    }
}

/// Runs one seed of one scenario and reports what happened (violations included; a panic inside
/// the run, such as the runtime's timeout, propagates).
pub(crate) fn run(scenario: Scenario, seed: u64) -> Outcome {
    let schedule = Schedule::new(scenario, seed);
    let runner = deterministic::Runner::new(
        deterministic::Config::new()
            .with_seed(seed)
            .with_timeout(Some(RUN_TIMEOUT)),
    );
    runner.start(|context| async move {
        let n = schedule.n;
        let signers: Vec<_> = (0..n as u64).map(|i| signer(1_000 + i)).collect();
        let keys: Vec<_> = signers.iter().map(|s| s.public_key()).collect();
        let oracle = network(&context, &keys).await;
        let committees: BTreeMap<u64, Vec<ed25519::PublicKey>> = schedule
            .committees
            .iter()
            .map(|(epoch, members)| (*epoch, members.iter().map(|&i| keys[i].clone()).collect()))
            .collect();
        // What the stand-in ledger's governance decided (epoch 0 is genesis, not governance).
        let decided: Arc<BTreeMap<u64, Vec<[u8; 32]>>> = Arc::new(
            committees
                .iter()
                .filter(|(epoch, _)| **epoch > 0)
                .map(|(epoch, members)| {
                    let raw = members
                        .iter()
                        .map(|k| k.as_ref().try_into().expect("32-byte key"))
                        .collect();
                    (*epoch, raw)
                })
                .collect(),
        );
        let mut cluster = Cluster {
            context: context.child("cluster"),
            oracle,
            keys,
            epoch_blocks: schedule.epoch_blocks,
            committees,
            nodes: signers
                .into_iter()
                .enumerate()
                .map(|(i, signer)| Node {
                    signer,
                    app: TestApp {
                        committees: decided.clone(),
                        ..TestApp::default()
                    },
                    byzantine: schedule.byzantine.get(&i).copied(),
                    running: None,
                    runs: 0,
                    actors: Vec::new(),
                })
                .collect(),
            linked: HashSet::new(),
            dice: Dice(seed.rotate_left(17) ^ 0x0DDB_A110),
            submitted: Vec::new(),
            violations: Vec::new(),
            rough_links: schedule.rough_links,
        };
        cluster.heal_links().await;
        for i in 0..n {
            cluster.start(i).await;
        }

        // Warm up: the chain runs before the first fault.
        cluster.traffic(Duration::from_secs(2)).await;
        for episode in &schedule.episodes {
            cluster.episode(episode).await;
        }
        // Byzantine-only runs have no episodes: let the Byzantine validators act for a while.
        if schedule.episodes.is_empty() {
            cluster.traffic(Duration::from_secs(10)).await;
        }

        // Healed (links restored, crashed validators restarted): progress must resume.
        let from = cluster.max_height();
        let resumed = cluster
            .wait(HEAL_DEADLINE, |c| {
                c.heights()
                    .iter()
                    .all(|h| h.is_some_and(|h| h >= from + PROGRESS_AFTER_HEAL))
            })
            .await;
        if !resumed {
            let heights = cluster.heights();
            cluster
                .violations
                .push(Violation::NoProgress { from, heights });
        }
        let owed: Vec<Vec<u8>> = cluster.owed().into_iter().cloned().collect();
        let owed_refs: Vec<&Vec<u8>> = owed.iter().collect();
        let landed = cluster
            .wait(HEAL_DEADLINE, |c| c.finalized_everywhere(&owed_refs) == 0)
            .await;
        if !landed {
            let missing = cluster.finalized_everywhere(&owed_refs);
            cluster
                .violations
                .push(Violation::StatementsLost { missing });
        }

        // Every change must take effect: each honest validator goes on to apply blocks of the
        // last changed epoch.
        if let Some(&last) = cluster.committees.keys().next_back().filter(|e| **e > 0) {
            let first_height = last * cluster.epoch_blocks.get();
            let reached = cluster
                .wait(HEAL_DEADLINE, |c| {
                    c.heights()
                        .iter()
                        .all(|h| h.is_some_and(|h| h >= first_height))
                })
                .await;
            if !reached {
                let heights = cluster.heights();
                cluster.violations.push(Violation::HandOverNotReached {
                    epoch: last,
                    heights,
                });
            }
        }
        let observed = cluster.observe().await;
        let mut violations = std::mem::take(&mut cluster.violations);
        violations.extend(check(&observed));
        for (validator, node) in cluster.honest() {
            for anchor in node.app.contradicted.lock().unwrap().iter() {
                violations.push(Violation::Contradicted {
                    validator,
                    anchor: *anchor,
                });
            }
        }
        let longest = observed
            .iter()
            .filter_map(|o| o.deliveries.last())
            .max_by_key(|b| b.height)
            .map(Block::digest)
            .unwrap_or_default();
        let index = |key: &ed25519::PublicKey| cluster.keys.iter().position(|k| k == key);
        let mut blocked: Vec<(usize, usize)> = cluster
            .oracle
            .blocked()
            .await
            .expect("network running")
            .iter()
            .filter_map(|(from, to)| Some((index(from)?, index(to)?)))
            .collect();
        blocked.sort_unstable();
        for &(by, validator) in &blocked {
            if cluster.nodes[validator].byzantine.is_none() {
                violations.push(Violation::HonestBlocked { by, validator });
            }
        }
        // Conflicting and nullify-and-finalize votes are attributable: some honest validator
        // must have caught them (the equivocator's split votes, outdated votes and silence need
        // not be visible to any single validator).
        for (validator, node) in cluster.nodes.iter().enumerate() {
            let self_contradicting = matches!(
                node.byzantine,
                Some(Byzantine::Conflicter | Byzantine::Nuller)
            );
            if self_contradicting && !blocked.iter().any(|&(_, b)| b == validator) {
                violations.push(Violation::ByzantineUnnoticed { validator });
            }
        }
        Outcome {
            n,
            blocked,
            runs: cluster.nodes.iter().map(|node| node.runs).collect(),
            heights: cluster.heights(),
            tip: longest,
            statements: cluster.submitted.len(),
            virtual_ms: context
                .current()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_millis(),
            auditor: context.auditor().state(),
            violations,
        }
    })
}

fn reproduce(scenario: Scenario, seed: u64) -> String {
    format!(
        "PROVERKA_SIM_SEED={seed} PROVERKA_SIM_SCENARIO={} cargo test --release -p proverka-consensus sim::replay -- --ignored --nocapture",
        scenario.name()
    )
}

/// Runs one seed, turning a violation or a panic into a report that names the seed.
fn run_reported(scenario: Scenario, seed: u64) -> Result<Outcome, String> {
    let schedule = Schedule::new(scenario, seed);
    let result = catch_unwind(AssertUnwindSafe(|| run(scenario, seed)));
    let problem = match result {
        Ok(outcome) if outcome.violations.is_empty() => return Ok(outcome),
        Ok(outcome) => format!(
            "violations: {:#?}\nheights: {:?}",
            outcome.violations, outcome.heights
        ),
        Err(panic) => format!(
            "panicked: {}",
            panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_string()))
                .unwrap_or_default()
        ),
    };
    Err(format!(
        "scenario {} seed {seed} (n = {}, byzantine {:?}) failed\n{problem}\nschedule: {:?}\nreproduce: {}",
        scenario.name(),
        schedule.n,
        schedule.byzantine,
        schedule.episodes,
        reproduce(scenario, seed)
    ))
}

fn seeds() -> u64 {
    std::env::var("PROVERKA_SIM_SEEDS")
        .ok()
        .map(|v| v.parse().expect("PROVERKA_SIM_SEEDS is a number"))
        .unwrap_or(SEEDS_PER_SCENARIO)
}

/// Runs the CI seeds of one scenario and fails with every failing seed's report.
fn sweep(scenario: Scenario) {
    let failures: Vec<String> = (0..seeds())
        .filter_map(|seed| run_reported(scenario, seed).err())
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn partitions_heal_without_forks() {
    sweep(Scenario::Partition);
}

#[test]
fn an_isolated_validator_catches_up() {
    sweep(Scenario::Isolate);
}

#[test]
fn lossy_slow_links_do_not_fork_or_stall() {
    sweep(Scenario::Lossy);
}

#[test]
fn crashed_validators_restart_and_converge() {
    sweep(Scenario::Crash);
}

#[test]
fn byzantine_validators_cannot_fork_or_stall_the_honest_ones() {
    sweep(Scenario::Byzantine);
}

#[test]
fn mixed_faults_with_a_byzantine_validator() {
    sweep(Scenario::Mixed);
}

#[test]
fn committees_change_under_faults_without_forks() {
    sweep(Scenario::Reconfigure);
}

#[test]
fn a_seed_replays_identically() {
    let first = run(Scenario::Mixed, 3);
    let second = run(Scenario::Mixed, 3);
    assert_eq!(first, second, "the same seed must give the same run");
    assert!(first.violations.is_empty(), "{:?}", first.violations);
}

/// Replays one seed of one scenario, named by `PROVERKA_SIM_SEED` and `PROVERKA_SIM_SCENARIO`
/// (the command a failing sweep prints).
#[test]
#[ignore = "replay tool: set PROVERKA_SIM_SEED and PROVERKA_SIM_SCENARIO"]
fn replay() {
    let seed: u64 = std::env::var("PROVERKA_SIM_SEED")
        .expect("set PROVERKA_SIM_SEED")
        .parse()
        .expect("PROVERKA_SIM_SEED is a number");
    let name = std::env::var("PROVERKA_SIM_SCENARIO").expect("set PROVERKA_SIM_SCENARIO");
    let scenario = Scenario::parse(&name).unwrap_or_else(|| {
        panic!(
            "unknown scenario {name:?}; one of {:?}",
            Scenario::ALL.map(Scenario::name)
        )
    });
    let schedule = Schedule::new(scenario, seed);
    println!(
        "scenario {name} seed {seed}: n = {}, byzantine {:?}\nepisodes: {:#?}",
        schedule.n, schedule.byzantine, schedule.episodes
    );
    match run_reported(scenario, seed) {
        Ok(outcome) => println!("passed: {outcome:#?}"),
        Err(report) => panic!("{report}"),
    }
}

mod checker {
    use super::*;
    use crate::block::BlockContext;

    /// A well-formed chain of `len` blocks after genesis, each certifying its parent's outcome,
    /// and the anchors an honest validator computes for it.
    fn honest_history(validator: usize, len: u64) -> Observed {
        let mut deliveries = vec![Block::genesis(NAMESPACE, 0)];
        let mut anchors = BTreeMap::new();
        let mut last = Anchor::default();
        for height in 1..=len {
            let parent = deliveries.last().unwrap();
            let block = Block {
                parent: parent.digest(),
                height,
                timestamp_ms: height * 100,
                statements: vec![format!("s{height}").into_bytes()],
                context: BlockContext {
                    epoch: 0,
                    view: height,
                    leader: [0; 32],
                    parent_view: height - 1,
                },
                anchor: last,
            };
            last = Anchor {
                height,
                log_size: height,
                log_root: [u8::try_from(height).unwrap(); 32],
                state_root: [u8::try_from(height).unwrap(); 32],
            };
            anchors.insert(height, last);
            deliveries.push(block);
        }
        Observed {
            validator,
            deliveries,
            certified: Vec::new(),
            anchors,
        }
    }

    #[test]
    fn agreeing_histories_pass() {
        let a = honest_history(0, 6);
        let mut b = honest_history(1, 4);
        b.certified = vec![(4, b.deliveries[4].digest())];
        assert_eq!(check(&[a, b]), vec![]);
    }

    #[test]
    fn two_blocks_at_one_height_are_a_fork() {
        let a = honest_history(0, 5);
        let mut b = honest_history(1, 5);
        b.deliveries[3].timestamp_ms += 1;
        let (theirs, ours) = (a.deliveries[3].digest(), b.deliveries[3].digest());
        let violations = check(&[a, b]);
        assert!(
            violations.contains(&Violation::Fork {
                height: 3,
                first: (0, theirs),
                second: (1, ours),
            }),
            "{violations:?}"
        );
    }

    #[test]
    fn a_certificate_for_another_block_is_a_fork() {
        let a = honest_history(0, 3);
        let mut b = honest_history(1, 3);
        b.certified = vec![(2, [9; 32])];
        let ours = a.deliveries[2].digest();
        assert_eq!(
            check(&[a, b]),
            vec![Violation::Fork {
                height: 2,
                first: (0, ours),
                second: (1, [9; 32]),
            }]
        );
    }

    #[test]
    fn an_anchor_going_backwards_is_reported() {
        let mut a = honest_history(0, 5);
        // Block 4 certifies height 1 although its parent already certified height 2.
        let back = a.anchors[&1];
        a.deliveries[4].anchor = back;
        let violations = check(&[a.clone()]);
        assert!(
            violations.contains(&Violation::CheckpointBackwards {
                validator: 0,
                height: 4,
                previous: a.anchors[&2],
                anchor: back,
            }),
            "{violations:?}"
        );
    }

    #[test]
    fn a_certified_outcome_nobody_computed_is_reported() {
        let mut a = honest_history(0, 4);
        a.deliveries[3].anchor.state_root = [0xEE; 32];
        let certified = a.deliveries[3].anchor;
        let computed = Some(a.anchors[&2]);
        let violations = check(&[a]);
        assert!(
            violations.contains(&Violation::CheckpointMismatch {
                validator: 0,
                height: 3,
                certified,
                computed,
            }),
            "{violations:?}"
        );
    }

    #[test]
    fn different_state_roots_at_one_height_are_a_divergence() {
        let a = honest_history(0, 4);
        let mut b = honest_history(1, 4);
        b.anchors.get_mut(&3).unwrap().state_root = [0xAB; 32];
        let (first, second) = (a.anchors[&3], b.anchors[&3]);
        let violations = check(&[a, b]);
        assert!(
            violations.contains(&Violation::StateDivergence {
                height: 3,
                first: (0, first),
                second: (1, second),
            }),
            "{violations:?}"
        );
    }

    #[test]
    fn a_gap_or_a_broken_link_is_reported() {
        let mut a = honest_history(0, 5);
        a.deliveries.remove(2);
        assert_eq!(
            check(&[a]),
            vec![Violation::BrokenChain {
                validator: 0,
                height: 2
            }]
        );
        let mut b = honest_history(1, 5);
        b.deliveries[4].parent = [1; 32];
        assert!(check(&[b]).contains(&Violation::BrokenChain {
            validator: 1,
            height: 4
        }));
    }

    #[test]
    fn a_statement_finalized_twice_is_reported() {
        let mut a = honest_history(0, 3);
        a.deliveries[3].statements = a.deliveries[1].statements.clone();
        // Keep the chain linked so that only the duplicate is at fault.
        assert!(check(&[a]).contains(&Violation::DuplicateStatement {
            validator: 0,
            statement: b"s1".to_vec(),
        }));
    }
}
