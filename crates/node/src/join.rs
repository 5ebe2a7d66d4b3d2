//! Joining a running network by state sync (decision 003, step 5): the state half.
//!
//! A new validator learns a height and state root a quorum certified — a state proof bundle
//! from any peer, checked with the genesis and the hand-over chain the peer serves (itself
//! checked link by link from the genesis) — then copies that height's state from the peer with
//! [`proverka_state::StateService::join`], which keeps it only if it has that root. The peer is
//! never trusted: it can refuse to help, not mislead.
//!
//! [`sync_store`] then fills the node's store at that height: the floor block's digest from its
//! finalization, the whole log (entry ids from the tiles, checked against the certified log
//! root before any statement is fetched; each statement checked against its id) and the ledger
//! state table from the synced state.
//!
//! [`join`] does both for `proverka node --join URL`, and keeps the floor's certificate in the
//! store, from which [`start_floor`] gives consensus its starting point at every start: the
//! node never replays the blocks below its floor (`docs/decisions/003-validator-set-changes.md`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use proverka_consensus::HeaderFacts;
use proverka_ledger::Genesis;
use proverka_lightclient::state_proof::{self, StateProofBundle, MAX_BUNDLE_BYTES};
use proverka_log::tiles::TILE_WIDTH;
use proverka_log::{
    leaf_entry, leaf_hash, parse_entry_bundle, stored_hashes_for_append, Hash, MemoryTree, TileRef,
    MAX_HANDOVER_CHAIN_NOTES, MAX_HANDOVER_NOTE_BYTES,
};
use proverka_state::{StateError, StateRoot, StateService, SyncFetch, SyncPart, SyncTarget};
use proverka_store::{FloorFacts, Store, StoreError};
use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

/// The key whose (absent or present) proof a joiner asks for: any key gives a certified root.
const PROBE_KEY: &[u8] = b"proverka/join";

/// Largest floor certificate read: a header, a hash and a finalization of up to 100 members.
pub const MAX_FLOOR_CERTIFICATE_BYTES: usize = proverka_store::MAX_FLOOR_CERTIFICATE_BYTES;

/// Largest `GET /sync/log/{start}` answer read: its statement bytes, and CBOR's few bytes of
/// framing for each of its statements.
const MAX_LOG_PAGE_BYTES: usize = crate::api::sync::MAX_SYNC_LOG_BYTES
    + 16 * crate::api::sync::MAX_SYNC_LOG_STATEMENTS as usize
    + 16;

/// State records read from the synced state per page while filling the store.
const STATE_PAGE: usize = 4096;
/// Most peers a joiner is given to try (`--join`, repeated).
pub const MAX_JOIN_PEERS: usize = 16;

/// `GET /sync/floor/{height}`: a finalized block's header and statements hash with its
/// finalization certificate, CBOR `[bstr, bstr, bstr]`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FloorCertificate(pub ByteBuf, pub ByteBuf, pub ByteBuf);

impl FloorCertificate {
    /// CBOR encoding.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        // Writing into a Vec cannot fail, and every field serializes.
        let _ = ciborium::into_writer(self, &mut out);
        out
    }

    /// Decodes within [`MAX_FLOOR_CERTIFICATE_BYTES`].
    pub fn decode(bytes: &[u8]) -> Result<Self, JoinError> {
        if bytes.len() > MAX_FLOOR_CERTIFICATE_BYTES {
            return Err(JoinError::Certificate(format!(
                "floor certificate of {} bytes",
                bytes.len()
            )));
        }
        ciborium::from_reader(bytes).map_err(|e| JoinError::Certificate(e.to_string()))
    }
}

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
    #[error("the peer's log: {0}")]
    Log(String),
    #[error("importing the floor: {0}")]
    Store(#[from] StoreError),
    #[error("{0} holds a ledger already; --join starts only an empty data directory")]
    NotFresh(PathBuf),
    #[error("removing the state left by an interrupted join at {path}: {source}")]
    Cleanup {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no peer to join from")]
    NoPeer,
    #[error("{0} peers to join from; at most {MAX_JOIN_PEERS}")]
    TooManyPeers(usize),
    #[error("no peer served a floor that verifies: {0}")]
    NoPeerServed(String),
}

impl JoinError {
    /// A failure of this node (its data directory, its disk, its genesis), which another peer
    /// would not mend, as opposed to a peer that is unreachable or serves what does not verify.
    fn is_local(&self) -> bool {
        matches!(
            self,
            JoinError::Genesis(_)
                | JoinError::NotEmpty(_)
                | JoinError::Store(_)
                | JoinError::NotFresh(_)
                | JoinError::Cleanup { .. }
                | JoinError::NoPeer
                | JoinError::TooManyPeers(_)
        )
    }
}

/// A height and state root certified by a finalization of the committee of its epoch.
#[derive(Clone, Debug)]
pub struct CertifiedState {
    pub height: u64,
    pub root: StateRoot,
    /// The finalized block whose anchor names them (and the log size and root after `height`).
    pub certified_by: HeaderFacts,
    /// Every committee of the verified hand-over chain: `(first epoch, consensus keys)`.
    pub committees: Vec<(u64, Vec<String>)>,
    /// The hand-over chain file the peer served, verified from the genesis.
    pub chain_file: Vec<u8>,
    /// The genesis id (the consensus namespace).
    pub namespace: [u8; 32],
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
        // Commonware's bound for the part's operations of the largest size with their proof
        // (about 16 MiB for 64 values of 256 KiB); real answers are far smaller.
        read_bounded(&url, request, part.max_response_bytes())
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
        // Only the start of a refusal is read and shown.
        let status = response.status();
        let start = response.chunk().await.ok().flatten().unwrap_or_default();
        let start = String::from_utf8_lossy(&start[..start.len().min(300)]).into_owned();
        return Err(fail(format!("{status}: {start}")));
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
    let committees = chain.consensus_keys();
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
        committees,
        chain_file,
        namespace: Genesis::id(genesis_bytes),
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

/// Fills the empty `store` at the certified height from `peer` and the synced `state`: the floor
/// block's digest (from its finalization, checked with the committee of its epoch), the whole log
/// up to the certified size (refused unless it has the certified root), and the ledger state
/// table. Returns the floor block's digest.
///
/// Memory: the entry ids (32 bytes each, checked against the root before any statement is
/// fetched), then one page of statements or state records at a time; the store's one import
/// transaction writes them out as it goes ([`proverka_store::FloorImporter`]).
pub async fn sync_store(
    peer: &HttpPeer,
    certified: &CertifiedState,
    state: &StateService,
    store: &Store,
) -> Result<[u8; 32], JoinError> {
    let (digest, certificate) = floor_digest(peer, certified).await?;
    let anchor = &certified.certified_by.anchor;
    let ids = log_ids(peer, anchor.log_size, &anchor.log_root).await?;
    let mut import = store.begin_floor_import(FloorFacts {
        height: certified.height,
        digest,
        state_root: certified.root.0,
        log_root: anchor.log_root,
        certificate,
    })?;
    log_statements(peer, &ids, |page| Ok(import.statements(&page)?)).await?;
    let mut after = None;
    loop {
        let (page, last) = state
            .entries(after, STATE_PAGE)
            .await
            .map_err(JoinError::State)?;
        import.state(&page)?;
        match last {
            Some(last) => after = Some(last),
            None => break,
        }
    }
    import.finish()?;
    Ok(digest)
}

/// Joins the network `peers` serve (node API URLs) into the node data directory `root`, whose
/// store is `store`: state sync, then the store at the same certified height, from the first
/// peer that gets both done. A peer that cannot be reached or serves anything that does not
/// verify is skipped for the next, after what its attempt left is removed; a local failure
/// (the store not empty, the disk) stops at once. Refused unless the store is empty; a state
/// database there without a store is what an interrupted join left, and is removed first.
/// Returns the running state service and what certified the floor.
pub async fn join(
    peers: &[String],
    root: &Path,
    state_dir: &Path,
    genesis_bytes: &[u8],
    store: &Store,
) -> Result<(StateService, CertifiedState), JoinError> {
    if peers.is_empty() {
        return Err(JoinError::NoPeer);
    }
    if peers.len() > MAX_JOIN_PEERS {
        return Err(JoinError::TooManyPeers(peers.len()));
    }
    if !is_fresh(store)? {
        return Err(JoinError::NotFresh(root.to_path_buf()));
    }
    let mut failures = Vec::new();
    for url in peers {
        remove_state(state_dir)?;
        match join_from(url, state_dir, genesis_bytes, store).await {
            Ok(joined) => return Ok(joined),
            Err(e) if e.is_local() => return Err(e),
            Err(e) => {
                tracing::warn!(peer = %url, "joining from this peer failed: {e}");
                failures.push(format!("{url}: {e}"));
            }
        }
    }
    remove_state(state_dir)?;
    Err(JoinError::NoPeerServed(failures.join("; ")))
}

/// One attempt: state sync from `url`, then the store. The state service of a failed attempt
/// is closed (dropped) before this returns.
async fn join_from(
    url: &str,
    state_dir: &Path,
    genesis_bytes: &[u8],
    store: &Store,
) -> Result<(StateService, CertifiedState), JoinError> {
    let (state, certified) = sync_state(state_dir, HttpPeer::new(url), genesis_bytes).await?;
    sync_store(&HttpPeer::new(url), &certified, &state, store).await?;
    Ok((state, certified))
}

/// Removes the state database an interrupted or failed join left at `state_dir`, if any.
fn remove_state(state_dir: &Path) -> Result<(), JoinError> {
    if !state_dir.exists() {
        return Ok(());
    }
    std::fs::remove_dir_all(state_dir).map_err(|source| JoinError::Cleanup {
        path: state_dir.to_path_buf(),
        source,
    })
}

/// Whether `store` holds no ledger yet: no entry, no applied block, no imported floor. Only
/// such a store can join.
pub fn is_fresh(store: &Store) -> Result<bool, StoreError> {
    Ok(store.tree_size() == 0 && store.applied_height() == 0 && store.floor()?.is_none())
}

/// Where consensus starts for a node whose store was imported at a floor: that height and its
/// finalization certificate. `None` for a node that started from genesis.
pub fn start_floor(store: &Store) -> Result<Option<proverka_consensus::StartFloor>, JoinError> {
    let Some(height) = store.floor()? else {
        return Ok(None);
    };
    let bytes = store.floor_certificate()?.ok_or_else(|| {
        JoinError::Certificate(format!("the store's floor {height} has no certificate"))
    })?;
    let FloorCertificate(_, _, finalization) = FloorCertificate::decode(&bytes)?;
    Ok(Some(proverka_consensus::StartFloor {
        height,
        finalization: finalization.into_vec(),
    }))
}

/// The digest of the block at the certified height, from its finalization certificate, and the
/// certificate's bytes.
async fn floor_digest(
    peer: &HttpPeer,
    certified: &CertifiedState,
) -> Result<([u8; 32], Vec<u8>), JoinError> {
    let bytes = peer
        .get(
            &format!("/sync/floor/{}", certified.height),
            MAX_FLOOR_CERTIFICATE_BYTES,
        )
        .await?;
    let FloorCertificate(header, statements_hash, finalization) = FloorCertificate::decode(&bytes)?;
    let (facts, digest) = state_proof::verify_certified_header(
        &certified.namespace,
        &certified.committees,
        &header,
        &statements_hash,
        &finalization,
    )
    .map_err(|e| JoinError::Certificate(e.to_string()))?;
    if facts.height != certified.height {
        return Err(JoinError::Certificate(format!(
            "floor certificate for height {}, asked {}",
            facts.height, certified.height
        )));
    }
    Ok((digest, bytes))
}

/// The entry ids of the log's first `size` entries, from the peer's entry bundles, accepted only
/// if they make the certified `root`.
async fn log_ids(peer: &HttpPeer, size: u64, root: &Hash) -> Result<Vec<Hash>, JoinError> {
    let width = u64::from(TILE_WIDTH);
    let mut ids = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    for index in 0..size.div_ceil(width) {
        let count = (size - index * width).min(width);
        // `count` ≤ 256 by construction.
        let tile =
            TileRef::entries(index, count as u16).map_err(|e| JoinError::Log(e.to_string()))?;
        let bundle = peer
            .get(&format!("/{}", tile.path()), (count as usize) * 34)
            .await?;
        for entry in parse_entry_bundle(&bundle, count as usize)
            .map_err(|e| JoinError::Log(format!("{}: {e}", tile.path())))?
        {
            let id: Hash = entry.try_into().map_err(|_| {
                JoinError::Log(format!("{}: an entry is not 32 bytes", tile.path()))
            })?;
            ids.push(id);
        }
    }
    let leaves: Vec<Hash> = ids.iter().map(leaf_hash).collect();
    let computed = stored_hashes_for_append(0, &leaves, &MemoryTree::new())
        .map_err(|e| JoinError::Log(e.to_string()))?
        .root;
    if computed != *root {
        return Err(JoinError::Log(format!(
            "the {size} entry ids do not make the certified log root"
        )));
    }
    Ok(ids)
}

/// The statements of the log entries `ids`, a page at a time from `GET /sync/log/{start}`, each
/// checked against its id and then handed to `take`, in log order. Entries the peer has beyond
/// the certified size are not taken.
async fn log_statements(
    peer: &HttpPeer,
    ids: &[Hash],
    mut take: impl FnMut(Vec<Vec<u8>>) -> Result<(), JoinError>,
) -> Result<(), JoinError> {
    let mut taken = 0;
    while taken < ids.len() {
        let bytes = peer
            .get(&format!("/sync/log/{taken}"), MAX_LOG_PAGE_BYTES)
            .await?;
        let page: Vec<ByteBuf> = ciborium::from_reader(bytes.as_slice())
            .map_err(|e| JoinError::Log(format!("log page at {taken}: {e}")))?;
        if page.is_empty() {
            return Err(JoinError::Log(format!("an empty log page at {taken}")));
        }
        let mut statements = Vec::with_capacity(page.len());
        for (statement, id) in page.into_iter().zip(&ids[taken..]) {
            if leaf_entry(&statement) != *id {
                return Err(JoinError::Log(format!(
                    "the statement served for {} has another id",
                    hex::encode(id)
                )));
            }
            statements.push(statement.into_vec());
        }
        taken += statements.len();
        take(statements)?;
    }
    Ok(())
}
