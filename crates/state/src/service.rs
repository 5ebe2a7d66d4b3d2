//! [StateService]: a [StateDb] on its own thread and commonware tokio runtime, driven from
//! synchronous code (the block-apply path) and from async code on any executor (the HTTP API).
//!
//! Why a thread of its own: QMDB is async and needs a commonware runtime context, while the
//! ledger's apply path is a blocking callback and the API runs on a plain tokio runtime. One
//! actor owns the database, so every request sees one consistent height: the proofs of one
//! [StateService::prove] call are all against the same root.

use crate::{
    Rayon, StateConfig, StateDb, StateError, StateProof, StateRoot, SyncFetch, SyncPart, SyncTarget,
};
use commonware_runtime::{tokio as cw_tokio, Runner as _, Supervisor as _};
use futures::{
    channel::{mpsc, oneshot},
    StreamExt as _,
};
use std::{
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    thread::JoinHandle,
};

/// Partition prefix of the node's state database inside its storage directory.
const PARTITION: &str = "ledger";

/// Largest number of keys one [StateService::prove] call may ask for: enough for one device's
/// status at the ledger's model limits (1,024 releases + 1,024 advisories + the device's own
/// keys, `proverka_node::state_proof::MAX_DEVICE_PROOF_KEYS`); the node's generic
/// `GET /state/proof` asks for at most 64.
pub const MAX_KEYS_PER_PROOF: usize = 4096;

/// One key's current value (or absence) and its proof.
#[derive(Clone, Debug)]
pub struct ProvedKey {
    /// The ledger key.
    pub key: Vec<u8>,
    /// Its current value, `None` if absent.
    pub value: Option<Vec<u8>>,
    /// Membership proof (value present) or exclusion proof (absent).
    pub proof: StateProof,
}

/// Proofs for several keys against one state root.
#[derive(Clone, Debug)]
pub struct Proved {
    /// Block height whose state the proofs describe.
    pub height: u64,
    /// The state root after that block.
    pub root: StateRoot,
    /// One entry per requested key, in request order.
    pub keys: Vec<ProvedKey>,
}

/// A page of `(ledger key, value)` pairs and the hashed key to continue after.
pub type Page = (Vec<(Vec<u8>, Vec<u8>)>, Option<[u8; 32]>);

/// Most pairs one [StateService::entries] call returns.
pub const MAX_ENTRIES_PER_PAGE: usize = 4096;

/// A block's writes, shared with the caller (which also hands them to its own store).
type Writes = Arc<Vec<(Vec<u8>, Option<Vec<u8>>)>>;

enum Request {
    Apply {
        height: u64,
        writes: Writes,
        reply: oneshot::Sender<Result<StateRoot, StateError>>,
    },
    Prove {
        keys: Vec<Vec<u8>>,
        reply: oneshot::Sender<Result<Proved, StateError>>,
    },
    Entries {
        after: Option<[u8; 32]>,
        limit: usize,
        reply: oneshot::Sender<Result<Page, StateError>>,
    },
    SyncTarget {
        height: u64,
        reply: oneshot::Sender<Result<SyncTarget, StateError>>,
    },
    ServeSync {
        part: SyncPart,
        request: Vec<u8>,
        reply: oneshot::Sender<Result<Vec<u8>, StateError>>,
    },
}

/// The authenticated state database, served by a dedicated thread. Dropping the service closes
/// the database (a full sync) and joins the thread.
///
/// **Durability contract:** [StateService::apply] returns only once the block's writes are
/// durable (see [StateDb::apply]); the same height may be re-applied with the same writes after
/// a crash, which returns the same root.
pub struct StateService {
    requests: Option<mpsc::UnboundedSender<Request>>,
    head: Arc<Mutex<(u64, StateRoot)>>,
    thread: Option<JoinHandle<()>>,
}

impl StateService {
    /// Opens (or creates) the state database under `dir` and starts its thread.
    pub fn start(dir: &Path) -> Result<Self, StateError> {
        Self::start_with(dir, |context| async move {
            StateDb::open(context.child("state"), PARTITION).await
        })
    }

    /// Builds the state database under `dir` (which must hold none yet) by syncing it from a
    /// peer to `target`, accepted only if it is `trusted_height` with `trusted_root`
    /// ([StateDb::sync_from]); then serves it like [Self::start]. Blocks until the sync ends.
    pub fn join<T: SyncFetch>(
        dir: &Path,
        target: SyncTarget,
        trusted_height: u64,
        trusted_root: StateRoot,
        fetch: Arc<T>,
    ) -> Result<Self, StateError> {
        Self::start_with(dir, move |context| async move {
            let cfg = StateConfig::new(PARTITION);
            let joined = StateDb::<_, Rayon>::sync_from(
                context.child("state"),
                cfg,
                target,
                trusted_height,
                trusted_root,
                fetch,
            )
            .await?;
            // Reopen, as every later start will: what was synced is what is on disk.
            joined.close().await?;
            StateDb::open(context.child("state"), PARTITION).await
        })
    }

    fn start_with<F, Fut>(dir: &Path, open: F) -> Result<Self, StateError>
    where
        F: FnOnce(cw_tokio::Context) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = Result<StateDb<cw_tokio::Context, Rayon>, StateError>>,
    {
        std::fs::create_dir_all(dir)
            .map_err(|e| StateError::Inconsistent(format!("create {}: {e}", dir.display())))?;
        let (requests, inbox) = mpsc::unbounded();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let dir: PathBuf = dir.to_path_buf();
        let thread = std::thread::Builder::new()
            .name("proverka-state".into())
            .spawn(move || run(dir, inbox, ready_tx, open))
            .map_err(|e| StateError::Inconsistent(format!("state thread: {e}")))?;
        let (height, root) = match ready_rx.recv() {
            Ok(Ok(head)) => head,
            Ok(Err(e)) => {
                let _ = thread.join();
                return Err(e);
            }
            Err(_) => {
                let _ = thread.join();
                return Err(StateError::Inconsistent(
                    "state thread exited during start-up".into(),
                ));
            }
        };
        Ok(Self {
            requests: Some(requests),
            head: Arc::new(Mutex::new((height, root))),
            thread: Some(thread),
        })
    }

    /// The last applied height and its root.
    pub fn head(&self) -> (u64, StateRoot) {
        self.head
            .lock()
            .map(|h| *h)
            .unwrap_or((0, StateRoot([0; 32])))
    }

    /// Applies block `height`'s writes and returns the new root; blocks the calling thread until
    /// the writes are durable. Must not be called from inside an async executor's worker.
    pub fn apply(&self, height: u64, writes: Writes) -> Result<StateRoot, StateError> {
        let (reply, answer) = oneshot::channel();
        self.send(Request::Apply {
            height,
            writes,
            reply,
        })?;
        let root = futures::executor::block_on(answer).map_err(|_| stopped())??;
        if let Ok(mut head) = self.head.lock() {
            *head = (height, root);
        }
        Ok(root)
    }

    /// Current values and proofs for `keys` (at most [MAX_KEYS_PER_PROOF]), all against the
    /// root of one height.
    pub async fn prove(&self, keys: Vec<Vec<u8>>) -> Result<Proved, StateError> {
        if keys.len() > MAX_KEYS_PER_PROOF {
            return Err(StateError::TooManyKeys {
                len: keys.len(),
                max: MAX_KEYS_PER_PROOF,
            });
        }
        let (reply, answer) = oneshot::channel();
        self.send(Request::Prove { keys, reply })?;
        answer.await.map_err(|_| stopped())?
    }

    /// Up to `limit` (at most [MAX_ENTRIES_PER_PAGE]) `(ledger key, value)` pairs after hashed
    /// key `after` ([StateDb::entries]).
    pub async fn entries(&self, after: Option<[u8; 32]>, limit: usize) -> Result<Page, StateError> {
        let (reply, answer) = oneshot::channel();
        self.send(Request::Entries {
            after,
            limit: limit.min(MAX_ENTRIES_PER_PAGE),
            reply,
        })?;
        answer.await.map_err(|_| stopped())?
    }

    /// Where a joiner can sync to for `height` ([StateDb::sync_target]).
    pub async fn sync_target(&self, height: u64) -> Result<SyncTarget, StateError> {
        let (reply, answer) = oneshot::channel();
        self.send(Request::SyncTarget { height, reply })?;
        answer.await.map_err(|_| stopped())?
    }

    /// Answers a joiner's encoded sync request for `part` ([StateDb::serve_sync]).
    pub async fn serve_sync(
        &self,
        part: SyncPart,
        request: Vec<u8>,
    ) -> Result<Vec<u8>, StateError> {
        let (reply, answer) = oneshot::channel();
        self.send(Request::ServeSync {
            part,
            request,
            reply,
        })?;
        answer.await.map_err(|_| stopped())?
    }

    fn send(&self, request: Request) -> Result<(), StateError> {
        self.requests
            .as_ref()
            .ok_or_else(stopped)?
            .unbounded_send(request)
            .map_err(|_| stopped())
    }
}

impl Drop for StateService {
    fn drop(&mut self) {
        // Closing the channel ends the actor's loop; it then syncs and closes the database.
        self.requests.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn stopped() -> StateError {
    StateError::Inconsistent("state service stopped".into())
}

type Ready = std::sync::mpsc::Sender<Result<(u64, StateRoot), StateError>>;

/// Body of the state thread: one commonware tokio runtime, one database, one request at a time.
fn run<F, Fut>(dir: PathBuf, mut inbox: mpsc::UnboundedReceiver<Request>, ready: Ready, open: F)
where
    F: FnOnce(cw_tokio::Context) -> Fut,
    Fut: std::future::Future<Output = Result<StateDb<cw_tokio::Context, Rayon>, StateError>>,
{
    let config = cw_tokio::Config::new()
        .with_worker_threads(2)
        .with_storage_directory(dir);
    cw_tokio::Runner::new(config).start(|context| async move {
        let mut db = match open(context.child("open")).await {
            Ok(db) => db,
            Err(e) => {
                let _ = ready.send(Err(e));
                return;
            }
        };
        if ready.send(Ok((db.height(), db.root()))).is_err() {
            return;
        }
        while let Some(request) = inbox.next().await {
            match request {
                Request::Apply {
                    height,
                    writes,
                    reply,
                } => {
                    let result = db.apply(height, &writes).await;
                    let failed_write =
                        matches!(result, Err(StateError::Storage(_) | StateError::Poisoned));
                    let _ = reply.send(result);
                    if failed_write {
                        // The handle is lost; reopening recovers the last durable block, and
                        // the caller retries this one.
                        tracing::error!("state write failed; reopening the state database");
                        drop(db);
                        db = match StateDb::open(context.child("state"), PARTITION).await {
                            Ok(db) => db,
                            Err(e) => {
                                tracing::error!("reopening the state database: {e}");
                                return;
                            }
                        };
                    }
                }
                Request::Prove { keys, reply } => {
                    let _ = reply.send(prove(&db, keys).await);
                }
                Request::Entries {
                    after,
                    limit,
                    reply,
                } => {
                    let _ = reply.send(db.entries(after, limit).await);
                }
                Request::SyncTarget { height, reply } => {
                    let _ = reply.send(db.sync_target(height));
                }
                Request::ServeSync {
                    part,
                    request,
                    reply,
                } => {
                    let _ = reply.send(db.serve_sync(part, &request).await);
                }
            }
        }
        if let Err(e) = db.close().await {
            tracing::error!("closing the state database: {e}");
        }
    });
}

async fn prove<E, S>(db: &StateDb<E, S>, keys: Vec<Vec<u8>>) -> Result<Proved, StateError>
where
    E: commonware_storage::Context + commonware_runtime::Spawner,
    S: crate::Merkleization,
{
    let mut proved = Vec::with_capacity(keys.len());
    for key in keys {
        let (value, proof) = db.get_with_proof(&key).await?;
        proved.push(ProvedKey { key, value, proof });
    }
    Ok(Proved {
        height: db.height(),
        root: db.root(),
        keys: proved,
    })
}
