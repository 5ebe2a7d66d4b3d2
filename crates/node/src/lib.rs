//! Runs a Proverka ledger node: HTTP API, registration pool, and the consensus-driven log.
//!
//! Code map: [`datadir`] (layout, keys, `--dev` bootstrap) → [`app`] (the ledger application
//! that consensus drives: fills blocks from the [`pool`], applies finalized blocks through the
//! deterministic rules of `proverka-ledger` into `proverka-store`) → [`api`] (axum routes).
//!
//! Invariant: the node owns all I/O (disk, network, clock); `proverka-ledger` decides, the node
//! only carries out and persists its decisions. A submitter is answered after durability.

pub mod api;
pub mod app;
pub mod connections;
pub mod cosign;
pub mod datadir;
pub mod handover;
pub mod join;
pub mod metrics;
pub mod passport;
pub mod pool;
pub mod state_proof;
pub mod verified;
pub mod verifier;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use proverka_ledger::Genesis;
use proverka_store::Store;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::app::{LedgerApp, Shared};
use crate::connections::{BoundedListener, MAX_HTTP_CONNECTIONS};
use crate::datadir::DataDir;

/// Default listen address: loopback only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7380";
/// When idle, the single validator still finalizes an (empty) block this often, so that the
/// ledger's clock advances.
pub const MAX_IDLE_MS: u64 = 1_000;

/// How to start a node.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    /// Create keys, an admin issuer and a one-validator genesis on first start.
    pub dev: bool,
    /// Genesis file (required on first start without `--dev`).
    pub genesis: Option<PathBuf>,
    /// Where this validator meets the rest of the committee.
    pub p2p: P2pConfig,
    /// On first start, join the network these node APIs serve (`http://HOST:PORT`, tried in
    /// order until one serves a floor that verifies) by state sync from a certified floor
    /// instead of replaying from genesis. Empty: no join. Ignored once the data directory
    /// holds a ledger.
    pub join: Vec<String>,
}

/// The validator-to-validator network of a node (`docs/network.md`).
#[derive(Clone, Debug)]
pub struct P2pConfig {
    /// Address the authenticated p2p transport listens on. Default: loopback, ephemeral port,
    /// which suits a committee of one.
    pub listen: SocketAddr,
    /// Every other committee member: its consensus public key (hex) and p2p address.
    pub peers: Vec<(String, SocketAddr)>,
}

impl Default for P2pConfig {
    fn default() -> Self {
        P2pConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            peers: Vec::new(),
        }
    }
}

/// A running node.
pub struct RunningNode {
    /// The address the API listens on (useful with port 0).
    pub addr: SocketAddr,
    pub shared: Arc<Shared>,
    consensus: proverka_consensus::Handle,
    stop_http: oneshot::Sender<()>,
    http: tokio::task::JoinHandle<std::io::Result<()>>,
    /// Shares statements submitted here with the other validators (`None` when alone).
    sharing: Option<tokio::task::JoinHandle<()>>,
}

/// Why a node could not start.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error(transparent)]
    DataDir(#[from] datadir::DataDirError),
    #[error("genesis: {0}")]
    Genesis(#[from] proverka_ledger::GenesisError),
    #[error("keys: {0}")]
    Keys(String),
    #[error("store: {0}")]
    Store(#[from] proverka_store::StoreError),
    #[error("consensus: {0}")]
    Consensus(String),
    #[error("listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("joining: {0}")]
    Join(#[from] join::JoinError),
    #[error("{0}")]
    Other(String),
}

/// Starts a node: resolves genesis and keys, opens the store, starts consensus and the API.
pub async fn start(cfg: NodeConfig) -> Result<RunningNode, NodeError> {
    let dir = DataDir::new(&cfg.data_dir);
    let genesis_bytes = match (cfg.dev, &cfg.genesis) {
        (true, Some(_)) => {
            return Err(NodeError::Other(
                "--dev creates its own genesis; do not pass --genesis with it".into(),
            ))
        }
        (true, None) if !cfg.join.is_empty() => {
            return Err(NodeError::Other(
                "--dev starts a ledger of its own; to join a network pass its --genesis".into(),
            ))
        }
        (true, None) => dir.dev_bootstrap()?,
        (false, given) => dir.genesis_bytes(given.as_deref())?,
    };
    let genesis = Genesis::from_bytes(&genesis_bytes)?;
    let genesis_id = Genesis::id(&genesis_bytes);
    let keys = dir.load_keys()?;
    datadir::check_keys_match(&keys, &genesis).map_err(NodeError::Keys)?;
    let store = Store::open(dir.root())?;
    let (state, joined_chain) = match cfg.join.as_slice() {
        peers @ [_, ..] if join::is_fresh(&store)? => {
            let (state, certified) =
                join::join(peers, dir.root(), &dir.state(), &genesis_bytes, &store).await?;
            tracing::info!(height = certified.height, "joined at a certified floor");
            (state, Some(certified.chain_file))
        }
        _ => (
            proverka_state::StateService::start(&dir.state())
                .map_err(|e| NodeError::Other(format!("state database: {e}")))?,
            None,
        ),
    };
    let floor = join::start_floor(&store)?;
    let handovers = handover::Handovers::open(
        &dir.handovers(),
        &genesis.origin,
        &keys.consensus.public_key_hex(),
        keys.cosigner.clone(),
    )
    .map_err(NodeError::Other)?;
    if let Some(chain_file) = joined_chain {
        // The hand-overs below the floor were never applied here: serve the chain the join
        // verified, so that verifiers asking this node get the whole of it.
        let genesis_committee =
            handover::committee_of(&proverka_ledger::validators::CommitteeRecord {
                epoch: 0,
                members: genesis.validator_entries(),
            });
        handovers
            .adopt(genesis_committee, &chain_file)
            .map_err(|e| NodeError::Other(format!("adopting the hand-over chain: {e}")))?;
    }
    let shared = Shared::new(
        store,
        state,
        genesis.clone(),
        genesis_id,
        keys.receipt,
        keys.checkpoint.clone(),
        cosign::Cosigning::new(
            &genesis,
            &keys.consensus.public_key_hex(),
            keys.cosigner.clone(),
            keys.checkpoint.clone(),
        ),
        handovers,
        metrics::Metrics::new(),
    )
    .map_err(NodeError::Other)?;
    let mut consensus_cfg =
        proverka_consensus::Config::single(dir.consensus(), keys.consensus, &genesis_id);
    consensus_cfg.committee = genesis.validators.clone();
    // Committees change where the ledger hands over (`validators::hand_over`).
    consensus_cfg.epoch_blocks = proverka_ledger::validators::EPOCH_BLOCKS;
    consensus_cfg.genesis_timestamp_ms = genesis.created_ms;
    consensus_cfg.max_idle_ms = MAX_IDLE_MS;
    consensus_cfg.listen = cfg.p2p.listen;
    consensus_cfg.peers = cfg.p2p.peers.clone();
    consensus_cfg.floor = floor;
    let consensus = proverka_consensus::start(consensus_cfg, LedgerApp(shared.clone()))
        .map_err(|e| NodeError::Consensus(e.to_string()))?;
    let _ = shared.archive.set(consensus.archive());
    let _ = shared.gossip.set(consensus.gossip());
    let sharing = share_submissions(&shared, &consensus, &cfg.p2p.peers);
    let listener = TcpListener::bind(cfg.listen)
        .await
        .map_err(|source| NodeError::Listen {
            addr: cfg.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| NodeError::Listen {
        addr: cfg.listen,
        source,
    })?;
    let (stop_http, stopped) = oneshot::channel::<()>();
    let router = api::router(shared.clone());
    let listener = BoundedListener::new(listener, MAX_HTTP_CONNECTIONS);
    let http = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
    });
    Ok(RunningNode {
        addr,
        shared,
        consensus,
        stop_http,
        http,
        sharing,
    })
}

/// With other validators to talk to, statements submitted here are shared with them as they
/// arrive (in messages of up to [`proverka_consensus::MAX_SHARED_STATEMENTS`]), so that the
/// next leader proposes them instead of their waiting for this validator's turn to lead.
fn share_submissions(
    shared: &Arc<Shared>,
    consensus: &proverka_consensus::Handle,
    peers: &[(String, std::net::SocketAddr)],
) -> Option<tokio::task::JoinHandle<()>> {
    if shared.genesis.validators.len() < 2 && peers.is_empty() {
        return None;
    }
    shared.pool.share_submissions();
    let (pool, share) = (shared.pool.clone(), consensus.share());
    Some(tokio::spawn(async move {
        loop {
            let ready: Vec<Vec<u8>> = pool
                .take_outbox()
                .await
                .iter()
                .map(|b| b.as_ref().clone())
                .collect();
            let mut rest = ready.as_slice();
            while !rest.is_empty() {
                let n = proverka_consensus::shareable(rest).max(1);
                share.send(&rest[..n]);
                rest = &rest[n..];
            }
        }
    }))
}

impl RunningNode {
    /// Stops the API, then consensus. Everything acknowledged is already durable.
    pub async fn shutdown(self) {
        if let Some(task) = &self.sharing {
            task.abort();
        }
        let _ = self.stop_http.send(());
        let _ = self.http.await;
        let consensus = self.consensus;
        if let Ok(Err(e)) = tokio::task::spawn_blocking(move || consensus.stop()).await {
            tracing::warn!("consensus stop: {e}");
        }
    }
}
