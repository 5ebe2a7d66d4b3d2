//! Orders blocks of statements with commonware simplex and marshal; one validator today, a committee later.
//!
//! # Pipeline
//!
//! ```text
//!  leader:  Application::take_batch ─▶ build block ─▶ marshal (Deferred) ─▶ simplex votes
//!                                                      └─ buffered broadcast of the block
//!  others:  block received ─▶ structural checks + Application::verify ─▶ finalize vote
//!  all:     finalization ─▶ marshal archives (height order) ─▶ Application::finalized
//! ```
//!
//! * [`Application`] is the only thing the ledger implements; everything else is wiring.
//! * [`start`] runs the commonware tokio runtime on its own threads; the caller talks to it
//!   through the [`Application`] it passed in and the returned [`Handle`].
//! * Block format, digest, limits, persistence and timing: `docs/blocks.md`.
//!
//! Invariant: this crate is the only one that names commonware consensus, p2p or runtime types,
//! and its public API uses none of them, so an upgrade of commonware touches only this crate.

mod app;
mod block;
mod engine;
mod epochs;
mod finality;
mod key;
mod network;
mod share;

#[cfg(test)]
mod sim;
#[cfg(test)]
mod testkit;
#[cfg(test)]
mod tests;

pub use app::{
    Application, MAX_APPLY_LAG, MAX_APPLY_WAIT, MAX_TIMESTAMP_AHEAD_MS, PROPOSE_POLL_INTERVAL,
};
pub use block::{
    digest_from_parts, header_facts, Anchor, Block, BlockContext, BlockError, HeaderFacts,
    ANCHOR_BYTES, BLOCK_FORMAT_VERSION, GENESIS_LEADER, HEADER_BYTES, MAX_BLOCK_BYTES,
    MAX_STATEMENTS_PER_BLOCK, MAX_STATEMENT_BYTES, MAX_STATEMENT_BYTES_PER_BLOCK,
};
pub use engine::MAX_GOSSIP_BYTES;
pub use finality::{sign_finalization, verify_finalization, CertificateError, FinalizedProposal};
pub use key::{KeyError, ValidatorKey};
pub use share::{fitting as shareable, Share, MAX_SHARED_STATEMENTS, MAX_SHARE_BYTES};

use app::Shared;
use commonware_runtime::{tokio as cw_tokio, Runner as _, Spawner as _, Supervisor as _};
use commonware_utils::ordered::Set;
use engine::{EngineConfig, Query, Timing};
use futures::channel::{mpsc, oneshot};
use std::{
    net::{Ipv4Addr, SocketAddr},
    path::PathBuf,
    sync::Arc,
    thread::JoinHandle,
    time::Duration,
};
use tracing::{error, info};

/// Shortest epoch accepted: an epoch's last block is re-proposed until it is final, so a
/// shorter one would spend most views handing over.
pub const MIN_EPOCH_BLOCKS: u64 = 4;
/// Longest `max_idle_ms` accepted (one minute).
pub const MAX_IDLE_MS_LIMIT: u64 = 60_000;
/// File in `data_dir` locked while a validator runs there.
pub const LOCK_FILE: &str = "consensus.lock";
/// How long [`Handle::stop`] lets tasks wind down before the runtime is dropped.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// Everything a validator needs to run.
#[derive(Clone, Debug)]
pub struct Config {
    /// Where consensus keeps its journals and archives (one subdirectory per partition; see
    /// `docs/blocks.md`). Reusing it resumes the chain.
    pub data_dir: PathBuf,
    /// This validator's signing key.
    pub key: ValidatorKey,
    /// Public keys (hex) of the genesis committee, which runs epoch 0 (later committees come
    /// from [`Application::committee`]). Order does not matter. A validator outside it follows
    /// the chain as an observer until a later committee includes it.
    pub committee: Vec<String>,
    /// Heights per epoch, at least [`MIN_EPOCH_BLOCKS`]; committees change only between epochs.
    /// Every validator of a chain must use the same value.
    pub epoch_blocks: u64,
    /// Chain identifier: domain-separates every signature and the genesis block.
    pub namespace: Vec<u8>,
    /// Timestamp of the genesis block (ms since the Unix epoch). Part of the chain's identity.
    pub genesis_timestamp_ms: u64,
    /// An idle leader proposes an empty block at most this often (ms, 1..=60 000).
    pub max_idle_ms: u64,
    /// Address the p2p network listens on (the default, 127.0.0.1 with an ephemeral port, suits
    /// a committee of one).
    pub listen: SocketAddr,
    /// Network addresses of the other committee members (public key hex, address).
    pub peers: Vec<(String, SocketAddr)>,
    /// Threads of the consensus runtime.
    pub worker_threads: usize,
    /// Set for a validator that joined by state sync: the application already holds the
    /// outcome of this finalized block, and consensus starts there instead of at genesis.
    /// Pass it at every start of that `data_dir`.
    pub floor: Option<StartFloor>,
}

/// The finalized block a joining validator's application starts from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StartFloor {
    /// The block's height (at least 1).
    pub height: u64,
    /// Its finalization certificate, as [`Handle::finalization`] encodes it (at most
    /// [`MAX_FINALIZATION_BYTES`]). It must verify with the committee the application names
    /// for its epoch, or the validator does not start.
    pub finalization: Vec<u8>,
}

/// Largest encoded finalization certificate accepted as a [`StartFloor`] (a committee of 100
/// signs with about 6.5 KiB).
pub const MAX_FINALIZATION_BYTES: usize = 64 * 1024;

impl Config {
    /// A committee of one: this validator alone, listening on loopback, idle blocks every second.
    pub fn single(data_dir: impl Into<PathBuf>, key: ValidatorKey, namespace: &[u8]) -> Self {
        Self {
            data_dir: data_dir.into(),
            committee: vec![key.public_key_hex()],
            epoch_blocks: u64::MAX,
            key,
            namespace: namespace.to_vec(),
            genesis_timestamp_ms: 0,
            max_idle_ms: 1_000,
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            peers: Vec::new(),
            worker_threads: 2,
            floor: None,
        }
    }
}

/// Why consensus could not start or stop cleanly.
#[derive(Debug, thiserror::Error)]
pub enum ConsensusError {
    /// The configuration is unusable; nothing was started.
    #[error("invalid consensus configuration: {0}")]
    Config(String),
    /// The data directory or the consensus thread could not be created.
    #[error("consensus I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The consensus runtime stopped while starting (for example, unreadable storage).
    #[error("consensus failed to start: {0}")]
    Startup(String),
    /// Another validator (in this process or another) is using the data directory.
    #[error("data directory {0} is in use by another running validator")]
    InUse(PathBuf),
    /// The consensus thread panicked.
    #[error("consensus runtime panicked")]
    Panicked,
}

/// A checked [`Config`], in commonware's types.
struct Plan {
    engine: EngineConfig,
    data_dir: PathBuf,
    listen: SocketAddr,
    addresses: Vec<(commonware_cryptography::ed25519::PublicKey, SocketAddr)>,
    worker_threads: usize,
    public_key: String,
}

fn plan(config: Config) -> Result<Plan, ConsensusError> {
    let bad = |msg: String| Err(ConsensusError::Config(msg));
    if config.namespace.is_empty() {
        return bad("namespace is empty".into());
    }
    if !(1..=MAX_IDLE_MS_LIMIT).contains(&config.max_idle_ms) {
        return bad(format!(
            "max_idle_ms must be within 1..={MAX_IDLE_MS_LIMIT}"
        ));
    }
    if config.worker_threads == 0 {
        return bad("worker_threads must be at least 1".into());
    }
    let Some(epoch_blocks) =
        std::num::NonZeroU64::new(config.epoch_blocks).filter(|n| n.get() >= MIN_EPOCH_BLOCKS)
    else {
        return bad(format!("epoch_blocks must be at least {MIN_EPOCH_BLOCKS}"));
    };
    let mut members = Vec::with_capacity(config.committee.len());
    for hex_key in &config.committee {
        let key = key::parse_public_key(hex_key)
            .map_err(|e| ConsensusError::Config(format!("committee member {hex_key:?}: {e}")))?;
        if members.contains(&key) {
            return bad(format!("committee member {hex_key} is listed twice"));
        }
        members.push(key);
    }
    if members.is_empty() {
        return bad("the committee is empty".into());
    }
    let me = config.key.public_key();
    if !members.contains(&me) {
        info!(
            key = %config.key.public_key_hex(),
            "this validator is not in the genesis committee: it follows as an observer until a committee includes it"
        );
    }
    // Peers beyond the genesis committee are validators that governance added (or will add):
    // the address book is operational configuration, the committee is ledger data.
    let mut addresses = vec![(me.clone(), config.listen)];
    for (hex_key, addr) in &config.peers {
        let key = key::parse_public_key(hex_key)
            .map_err(|e| ConsensusError::Config(format!("peer {hex_key:?}: {e}")))?;
        if addresses.iter().any(|(k, _)| *k == key) {
            return bad(format!(
                "peer {hex_key} is listed twice or is this validator"
            ));
        }
        addresses.push((key, *addr));
    }
    if let Some(missing) = members
        .iter()
        .find(|m| !addresses.iter().any(|(k, _)| k == *m))
    {
        return bad(format!(
            "no address for committee member {}",
            hex::encode(missing.as_ref())
        ));
    }
    let genesis = Block::genesis(&config.namespace, config.genesis_timestamp_ms);
    let floor = config.floor.as_ref().map(start_floor).transpose()?;
    Ok(Plan {
        engine: EngineConfig {
            signer: config.key.private_key(),
            committee: Set::from_iter_dedup(members),
            epoch_blocks,
            namespace: config.namespace,
            genesis,
            partition_prefix: "proverka".into(),
            timing: Timing::for_max_idle(Duration::from_millis(config.max_idle_ms)),
            floor,
        },
        data_dir: config.data_dir,
        listen: config.listen,
        addresses,
        worker_threads: config.worker_threads,
        public_key: config.key.public_key_hex(),
    })
}

/// Decodes a [`StartFloor`]; whether its signatures verify is checked at start-up, once the
/// committee of its epoch is known.
fn start_floor(floor: &StartFloor) -> Result<engine::FloorStart, ConsensusError> {
    use commonware_codec::Read as _;
    use commonware_cryptography::certificate::Verifier as _;
    let bad = |msg: &str| Err(ConsensusError::Config(format!("start floor: {msg}")));
    if floor.height == 0 {
        return bad("height 0 is the genesis block; start without a floor");
    }
    if floor.finalization.len() > MAX_FINALIZATION_BYTES {
        return bad("finalization certificate too large");
    }
    let mut bytes = bytes::Bytes::copy_from_slice(&floor.finalization);
    let finalization = commonware_consensus::simplex::types::Finalization::read_cfg(
        &mut bytes,
        &commonware_consensus::simplex::scheme::ed25519::Scheme::certificate_codec_config_unbounded(
        ),
    );
    match finalization {
        Ok(finalization) if !bytes::Buf::has_remaining(&bytes) => Ok(engine::FloorStart {
            height: floor.height,
            finalization,
        }),
        _ => bad("not an encoded finalization certificate"),
    }
}

/// Reads finalized blocks and their certificates while the validator runs (answers `None` once
/// it stopped).
#[derive(Clone)]
pub struct Archive {
    shared: Arc<Shared>,
    queries: mpsc::UnboundedSender<Query>,
}

impl Archive {
    /// Height of the last block [`Application::finalized`] accepted (0 until then).
    pub fn finalized_height(&self) -> u64 {
        self.shared.applied_height().unwrap_or(0)
    }

    /// The encoded finalization certificate of the block at `height`, if stored.
    pub async fn finalization(&self, height: u64) -> Option<Vec<u8>> {
        let (reply, answer) = oneshot::channel();
        self.queries
            .unbounded_send(Query::Finalization(height, reply))
            .ok()?;
        answer.await.ok().flatten()
    }

    /// The finalized block at `height`, if stored.
    pub async fn block(&self, height: u64) -> Option<Block> {
        let (reply, answer) = oneshot::channel();
        self.queries
            .unbounded_send(Query::Block(height, reply))
            .ok()?;
        answer.await.ok().flatten()
    }
}

/// A running validator. Dropping it stops consensus as [`Handle::stop`] does, blocking the
/// dropping thread until the runtime exits (at most about [`STOP_TIMEOUT`]).
pub struct Handle {
    shared: Arc<Shared>,
    queries: mpsc::UnboundedSender<Query>,
    gossip: Option<mpsc::Sender<Vec<u8>>>,
    share: Option<mpsc::Sender<Vec<u8>>>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
    public_key: String,
}

impl Handle {
    /// Height of the last block [`Application::finalized`] accepted (0 until then: genesis is
    /// final by definition).
    pub fn finalized_height(&self) -> u64 {
        self.shared.applied_height().unwrap_or(0)
    }

    /// Highest height consensus knows to be finalized; may run ahead of
    /// [`Handle::finalized_height`] while blocks are being applied.
    pub fn consensus_height(&self) -> u64 {
        self.shared.tip_height().unwrap_or(0)
    }

    /// The encoded finalization certificate of the block at `height`, if stored (see
    /// `docs/blocks.md`: a light client verifies it with the committee's keys and namespace).
    pub async fn finalization(&self, height: u64) -> Option<Vec<u8>> {
        self.archive().finalization(height).await
    }

    /// The finalized block at `height`, if stored.
    pub async fn block(&self, height: u64) -> Option<Block> {
        self.archive().block(height).await
    }

    /// A cloneable reader of finalized blocks and certificates, for the API.
    pub fn archive(&self) -> Archive {
        Archive {
            shared: self.shared.clone(),
            queries: self.queries.clone(),
        }
    }

    /// A cloneable sender of best-effort broadcasts to the rest of the committee.
    pub fn gossip(&self) -> Gossip {
        Gossip(self.gossip.clone())
    }

    /// A cloneable sender of statements to the rest of the committee, for its next leaders.
    pub fn share(&self) -> Share {
        Share(self.share.clone())
    }

    /// This validator's public key (hex).
    pub fn public_key_hex(&self) -> &str {
        &self.public_key
    }

    /// Whether the consensus runtime is still running.
    pub fn is_running(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// Stops consensus and waits for its runtime to exit. Durable state is whatever was synced:
    /// a restart on the same `data_dir` resumes from it and redelivers unacknowledged blocks.
    pub fn stop(mut self) -> Result<(), ConsensusError> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<(), ConsensusError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.thread.take() {
            Some(thread) => thread.join().map_err(|_| ConsensusError::Panicked),
            None => Ok(()),
        }
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        if let Err(err) = self.shutdown() {
            error!(%err, "consensus did not stop cleanly");
        }
    }
}

impl std::fmt::Debug for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handle")
            .field("public_key", &self.public_key)
            .field("finalized_height", &self.finalized_height())
            .finish_non_exhaustive()
    }
}

/// Broadcasts application messages to every other committee member ([`Application::gossip`]
/// receives them), best effort: dropped when the queue is full or a peer is unreachable.
#[derive(Clone, Debug, Default)]
pub struct Gossip(Option<mpsc::Sender<Vec<u8>>>);

impl Gossip {
    /// Queues `message` for every other member; `false` if it was dropped (too large, queue
    /// full, consensus stopped, or no gossip channel).
    pub fn send(&self, message: Vec<u8>) -> bool {
        match &self.0 {
            Some(sender) if message.len() <= MAX_GOSSIP_BYTES => {
                sender.clone().try_send(message).is_ok()
            }
            _ => false,
        }
    }
}

type Ready = Result<
    (
        Arc<Shared>,
        mpsc::UnboundedSender<Query>,
        Option<mpsc::Sender<Vec<u8>>>,
        Option<mpsc::Sender<Vec<u8>>>,
    ),
    String,
>;

/// Starts a validator on a commonware tokio runtime running on its own threads, and returns
/// once its storage is recovered and consensus runs. This blocks the calling thread (recovery
/// reads the journals): call it before starting an async runtime, or from `spawn_blocking`.
///
/// Only one validator may use a `data_dir` at a time: a second one gets
/// [`ConsensusError::InUse`].
pub fn start(config: Config, app: impl Application) -> Result<Handle, ConsensusError> {
    let plan = plan(config)?;
    std::fs::create_dir_all(&plan.data_dir)?;
    // Refuse a busy directory at once (the runtime itself would wait for it).
    let lock = std::fs::File::create(plan.data_dir.join(LOCK_FILE))?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            return Err(ConsensusError::InUse(plan.data_dir.clone()))
        }
        Err(std::fs::TryLockError::Error(err)) => return Err(err.into()),
    }
    let public_key = plan.public_key.clone();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Ready>();
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("proverka-consensus".into())
        .spawn(move || {
            run(plan, app, ready_tx, stop_rx);
            drop(lock);
        })?;
    match ready_rx.recv() {
        Ok(Ok((shared, queries, gossip, share))) => Ok(Handle {
            shared,
            queries,
            gossip,
            share,
            stop: Some(stop_tx),
            thread: Some(thread),
            public_key,
        }),
        Ok(Err(msg)) => {
            let _ = thread.join();
            Err(ConsensusError::Startup(msg))
        }
        Err(_) => {
            let outcome = thread.join();
            Err(ConsensusError::Startup(match outcome {
                Err(panic) => panic_message(&panic),
                Ok(()) => "consensus thread exited during startup".into(),
            }))
        }
    }
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_string()))
        .unwrap_or_else(|| "consensus runtime panicked".into())
}

/// Body of the consensus thread.
fn run(
    plan: Plan,
    app: impl Application,
    ready: std::sync::mpsc::Sender<Ready>,
    stop: oneshot::Receiver<()>,
) {
    let runtime = cw_tokio::Config::new()
        .with_worker_threads(plan.worker_threads)
        .with_storage_directory(plan.data_dir.clone());
    cw_tokio::Runner::new(runtime).start(|context| async move {
        let (channels, oracle) = network::start_lookup(
            &context,
            plan.engine.signer.clone(),
            &plan.engine.namespace,
            plan.listen,
            plan.addresses,
        );
        let engine = engine::start(
            context.child("validator"),
            plan.engine,
            app,
            channels,
            oracle.clone(),
            oracle,
        )
        .await;
        info!(
            finalized_height = engine.shared.applied_height(),
            "consensus started"
        );
        if ready
            .send(Ok((
                engine.shared.clone(),
                engine.queries.clone(),
                engine.gossip.clone(),
                engine.share.clone(),
            )))
            .is_err()
        {
            return;
        }
        futures::future::select(stop, engine.consensus).await;
        if let Err(err) = context.stop(0, Some(STOP_TIMEOUT)).await {
            error!(?err, "consensus tasks did not stop in time");
        }
    });
}
