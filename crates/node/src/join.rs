//! Joining a running network by state sync (decision 003, step 5): the state half.
//!
//! A new validator learns a height and state root a quorum certified — a state proof bundle
//! from any peer, checked with the genesis and the hand-over chain the peer serves (itself
//! checked link by link from the genesis) — then copies that height's state from the peer with
//! [`proverka_state::StateService::join`], which keeps it only if it has that root. The peer is
//! never trusted: it can refuse to help, not mislead.
//!
//! Not yet here: importing the log up to the certified size and starting consensus from the
//! certified floor instead of genesis (`docs/decisions/003-validator-set-changes.md`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use proverka_consensus::HeaderFacts;
use proverka_ledger::Genesis;
use proverka_lightclient::state_proof::{self, StateProofBundle, MAX_BUNDLE_BYTES};
use proverka_log::{MAX_HANDOVER_CHAIN_NOTES, MAX_HANDOVER_NOTE_BYTES};
use proverka_state::{StateError, StateRoot, StateService, SyncFetch, SyncPart, SyncTarget};

/// Largest sync response read from a peer: commonware's bound for 1,024 value operations of the
/// largest value (256 KiB each) with their proof is about 257 MiB; real answers are far smaller.
pub const MAX_SYNC_RESPONSE_BYTES: usize = 272 * 1024 * 1024;

/// The key whose (absent or present) proof a joiner asks for: any key gives a certified root.
const PROBE_KEY: &[u8] = b"proverka/join";

/// Why joining failed. Nothing is kept of a failed join.
#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    #[error("fetch {url}: {detail}")]
    Fetch { url: String, detail: String },
    #[error("genesis: {0}")]
    Genesis(String),
    #[error("the peer's hand-over chain does not verify: {0}")]
    Chain(String),
    #[error("the peer's state proof does not verify: {0}")]
    Certificate(String),
    #[error("the peer's sync target: {0}")]
    Target(StateError),
    #[error("syncing the state: {0}")]
    State(StateError),
    #[error("{0} already holds a state database; a joiner starts empty")]
    NotEmpty(PathBuf),
}

/// A height and state root certified by a finalization of the committee of its epoch.
#[derive(Clone, Debug)]
pub struct CertifiedState {
    pub height: u64,
    pub root: StateRoot,
    /// The finalized block whose anchor names them.
    pub certified_by: HeaderFacts,
}

/// A peer's node API, as a [`SyncFetch`] for the state sync engine.
pub struct HttpPeer {
    client: reqwest::Client,
    base: String,
}

impl HttpPeer {
    /// The node API at `base` (e.g. `http://127.0.0.1:7380`).
    pub fn new(base: &str) -> Self {
        HttpPeer {
            client: reqwest::Client::new(),
            base: base.trim_end_matches('/').to_string(),
        }
    }

    async fn get(&self, path: &str, limit: usize) -> Result<Vec<u8>, JoinError> {
        let url = format!("{}{path}", self.base);
        let request = self.client.get(&url);
        read_bounded(&url, request, limit).await
    }
}

impl SyncFetch for HttpPeer {
    async fn fetch(&self, part: SyncPart, request: Vec<u8>) -> Result<Vec<u8>, String> {
        let url = format!("{}/sync/state/{}", self.base, part.name());
        let request = self
            .client
            .post(&url)
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .body(request);
        read_bounded(&url, request, MAX_SYNC_RESPONSE_BYTES)
            .await
            .map_err(|e| e.to_string())
    }
}

/// Sends `request` and reads a successful answer of at most `limit` bytes, chunk by chunk.
async fn read_bounded(
    url: &str,
    request: reqwest::RequestBuilder,
    limit: usize,
) -> Result<Vec<u8>, JoinError> {
    let fail = |detail: String| JoinError::Fetch {
        url: url.to_string(),
        detail,
    };
    let mut response = request.send().await.map_err(|e| fail(e.to_string()))?;
    if !response.status().is_success() {
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        return Err(fail(format!(
            "{status}: {}",
            body.chars().take(300).collect::<String>()
        )));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| fail(e.to_string()))? {
        if body.len() + chunk.len() > limit {
            return Err(fail(format!("answer longer than {limit} bytes")));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Learns from `peer` a state height and root certified by a quorum: its hand-over chain
/// (verified from `genesis_bytes`), then a state proof bundle verified with the committee of its
/// finalization's epoch.
pub async fn certified_state(
    peer: &HttpPeer,
    genesis_bytes: &[u8],
) -> Result<CertifiedState, JoinError> {
    let genesis =
        Genesis::from_bytes(genesis_bytes).map_err(|e| JoinError::Genesis(e.to_string()))?;
    let chain_limit = MAX_HANDOVER_CHAIN_NOTES * MAX_HANDOVER_NOTE_BYTES;
    let chain_file = peer.get("/validators/epochs", chain_limit).await?;
    let chain = crate::cosign::committee_chain(&genesis, &chain_file).map_err(JoinError::Chain)?;
    let committees: Vec<(u64, Vec<String>)> = chain
        .committees()
        .iter()
        .map(|c| {
            (
                c.epoch,
                c.members.iter().map(|m| m.validator.clone()).collect(),
            )
        })
        .collect();
    let bundle = peer
        .get(
            &format!("/state/proof?key={}", hex::encode(PROBE_KEY)),
            MAX_BUNDLE_BYTES,
        )
        .await?;
    let bundle =
        StateProofBundle::decode(&bundle).map_err(|e| JoinError::Certificate(e.to_string()))?;
    let verified = state_proof::verify_in_chain(&Genesis::id(genesis_bytes), &committees, &bundle)
        .map_err(|e| JoinError::Certificate(e.to_string()))?;
    Ok(CertifiedState {
        height: verified.height,
        root: StateRoot(verified.root),
        certified_by: verified.certified_by,
    })
}

/// Builds the state database in `state_dir` (which must not hold one) from `peer`: the state of
/// a certified height, checked against its certified root. Returns the running state service,
/// at that height, and what certified it.
pub async fn sync_state(
    state_dir: &Path,
    peer: HttpPeer,
    genesis_bytes: &[u8],
) -> Result<(StateService, CertifiedState), JoinError> {
    if state_dir
        .read_dir()
        .map(|mut d| d.next().is_some())
        .unwrap_or(false)
    {
        return Err(JoinError::NotEmpty(state_dir.to_path_buf()));
    }
    let certified = certified_state(&peer, genesis_bytes).await?;
    let target = peer
        .get(
            &format!("/sync/state/target/{}", certified.height),
            SyncTarget::ENCODED_BYTES,
        )
        .await?;
    let target = SyncTarget::decode(&target).map_err(JoinError::Target)?;
    let (dir, height, root) = (state_dir.to_path_buf(), certified.height, certified.root);
    let peer = Arc::new(peer);
    // `join` blocks its caller until the sync ends; keep it off the async workers.
    let service =
        tokio::task::spawn_blocking(move || StateService::join(&dir, target, height, root, peer))
            .await
            .map_err(|e| JoinError::State(StateError::Inconsistent(e.to_string())))?
            .map_err(JoinError::State)?;
    Ok((service, certified))
}
