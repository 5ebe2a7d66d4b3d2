//! Joining by state sync: a new validator copies the state of a recent height from an untrusted
//! peer and believes it only because the result has the state root a quorum certified.
//!
//! Both databases are copied with commonware's `qmdb::sync` engine, which fetches operations in
//! batches of at most [MAX_SYNC_OPS] and checks each batch's range proof against the part's ops
//! root. The ops roots come from the peer ([SyncTarget]), so they prove nothing by themselves;
//! what is trusted is the canonical state root of the target height, taken from a finalized
//! block's anchor by the caller. After the copy:
//!
//! 1. the authenticated database's canonical root (ops root + activity bitmap, rebuilt locally
//!    from the operations) must equal that trusted root, and its last commit must name the
//!    target height;
//! 2. the value database is trusted only through the first: walking both in key order, every
//!    active key must be in both, its record's ledger key must hash to it, and `SHA-256(value)`
//!    must equal the authenticated digest. A peer that serves a different (even
//!    self-consistent) value database is caught here.
//!
//! A peer can serve a height only while it still holds that height's operations:
//! [crate::StateDb::sync_target] answers for the last [crate::SYNC_TARGETS_KEPT] heights unless
//! pruning (every `sync_interval` heights) has passed the target's boundary since.

use crate::{
    db::{
        auth_metadata, configs, unpack, values_metadata, AuthOpCfg, AUTH_VALUE_MAX,
        MAX_STORED_VALUE_BYTES,
    },
    hashed_key,
    proof::Family,
    value_digest, Merkleization, StateConfig, StateDb, StateError, StateRoot,
};
use commonware_codec::{Copying, Decode as _, Encode as _};
use commonware_cryptography::sha256::Digest;
use commonware_runtime::Spawner;
use commonware_storage::{
    mmr::Location,
    qmdb::{
        any::ordered::variable::Operation,
        sync::{
            self, engine::Config as EngineConfig, max_response_size, Request, Response, Source,
        },
    },
    Context,
};
use commonware_utils::range::NonEmptyRange;
use futures::StreamExt as _;
use std::{
    future::Future,
    num::{NonZeroU64, NonZeroUsize},
    sync::Arc,
};

/// Most operations one sync request may ask for (a longer one is refused).
pub const MAX_SYNC_OPS: u64 = 1024;

/// Most value operations one sync response carries, whatever was asked: a value reaches
/// [`crate::MAX_VALUE_BYTES`] (256 KiB), so a response stays within about 16 MiB
/// ([`SyncPart::max_response_bytes`]). Authenticated operations are small; those are served up
/// to [`MAX_SYNC_OPS`] at a time.
pub const MAX_SYNC_VALUE_OPS: u64 = 64;

/// Requests a joiner keeps in flight per part.
const OUTSTANDING_REQUESTS: usize = 8;

/// Operations the joiner writes to its journal at a time.
const APPLY_BATCH: u64 = 1024;

/// One log operation of either database (the key is always `SHA-256(ledger key)`).
type Op = Operation<Family, Digest, Vec<u8>>;

/// Which of the two databases a sync request is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncPart {
    /// `SHA-256(key) → SHA-256(value)`: the authenticated state.
    Auth,
    /// `SHA-256(key) → value`: the ledger values, checked against the first.
    Values,
}

impl SyncPart {
    /// The part's name in URLs (`auth`, `values`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Auth => "auth",
            Self::Values => "values",
        }
    }

    /// The part named `name`, if any.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "auth" => Some(Self::Auth),
            "values" => Some(Self::Values),
            _ => None,
        }
    }

    /// Largest encoded value of this part's operations (decoding bound on the joiner's side).
    fn max_value_bytes(self) -> usize {
        match self {
            Self::Auth => AUTH_VALUE_MAX,
            Self::Values => MAX_STORED_VALUE_BYTES,
        }
    }

    /// Most operations a response for this part carries; a request for more is served in part
    /// (commonware's sync engine asks again for the rest).
    pub fn max_ops(self) -> u64 {
        match self {
            Self::Auth => MAX_SYNC_OPS,
            Self::Values => MAX_SYNC_VALUE_OPS,
        }
    }

    /// Largest response a peer may send for this part (commonware's bound for
    /// [`SyncPart::max_ops`] operations of the largest size, with their proof).
    pub fn max_response_bytes(self) -> usize {
        // An operation is a tag, the key, a length and the value, plus the ordered next key.
        let max_op = 1 + 32 + 9 + self.max_value_bytes() + 32;
        max_response_size::<Family, Digest>(self.max_ops() as usize, max_op)
    }
}

/// Largest sync response of either part: what a joiner reads from a peer at most.
pub fn max_sync_response_bytes() -> usize {
    SyncPart::Auth
        .max_response_bytes()
        .max(SyncPart::Values.max_response_bytes())
}

/// One database's log at a height: its ops root, the first operation a joiner must fetch, the
/// log size, and the highest first operation the engine can rebuild from (`sync_boundary`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PartTarget {
    /// Root of the operations log at `size` (not the canonical state root).
    pub ops_root: [u8; 32],
    /// First operation to fetch.
    pub start: u64,
    /// Operations in the log at the target height.
    pub size: u64,
    /// `start` may not exceed this.
    pub boundary: u64,
}

/// What a joiner syncs to: a height, its canonical state root, and both logs at that height.
/// Only `height` and `root` are checked against what a quorum certified; the rest is the
/// serving peer's claim, verified by the sync itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SyncTarget {
    /// Block height whose state this is.
    pub height: u64,
    /// Canonical state root after that block.
    pub root: StateRoot,
    /// The authenticated database's log.
    pub auth: PartTarget,
    /// The value database's log.
    pub values: PartTarget,
}

impl SyncTarget {
    /// Encoded size: `height ‖ root ‖ (ops_root ‖ start ‖ size ‖ boundary) × 2`, integers u64 BE.
    pub const ENCODED_BYTES: usize = 8 + 32 + 2 * (32 + 3 * 8);

    /// The fixed-size encoding (`docs/state.md`, "Joining by state sync").
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(Self::ENCODED_BYTES);
        out.extend_from_slice(&self.height.to_be_bytes());
        out.extend_from_slice(&self.root.0);
        for part in [&self.auth, &self.values] {
            out.extend_from_slice(&part.ops_root);
            for n in [part.start, part.size, part.boundary] {
                out.extend_from_slice(&n.to_be_bytes());
            }
        }
        out
    }

    /// Decodes [Self::encode]'s bytes; refuses any other length and inconsistent ranges.
    pub fn decode(bytes: &[u8]) -> Result<Self, StateError> {
        if bytes.len() != Self::ENCODED_BYTES {
            return Err(StateError::SyncTargetMalformed(format!(
                "{} bytes, expected {}",
                bytes.len(),
                Self::ENCODED_BYTES
            )));
        }
        let u64_at = |at: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&bytes[at..at + 8]);
            u64::from_be_bytes(b)
        };
        let digest_at = |at: usize| {
            let mut d = [0u8; 32];
            d.copy_from_slice(&bytes[at..at + 32]);
            d
        };
        let part = |at: usize| -> Result<PartTarget, StateError> {
            let part = PartTarget {
                ops_root: digest_at(at),
                start: u64_at(at + 32),
                size: u64_at(at + 40),
                boundary: u64_at(at + 48),
            };
            if part.start >= part.size || part.start > part.boundary || part.boundary > part.size {
                return Err(StateError::SyncTargetMalformed(format!(
                    "range start {} size {} boundary {}",
                    part.start, part.size, part.boundary
                )));
            }
            Ok(part)
        };
        Ok(Self {
            height: u64_at(0),
            root: StateRoot(digest_at(8)),
            auth: part(40)?,
            values: part(96)?,
        })
    }
}

/// How a joiner reaches a serving peer: send one encoded request for a part, get the encoded
/// response back (the node sends it over HTTP, `POST /sync/state/{part}`; tests call
/// [StateDb::serve_sync] directly). Errors are the transport's, in words.
pub trait SyncFetch: Send + Sync + 'static {
    /// Send `request` (a commonware `qmdb::sync::Request`) for `part`; return the response bytes.
    fn fetch(
        &self,
        part: SyncPart,
        request: Vec<u8>,
    ) -> impl Future<Output = Result<Vec<u8>, String>> + Send;
}

/// Why a fetch gave nothing the engine can check.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct FetchError(String);

/// A [Source] for commonware's engine over a [SyncFetch]: encodes requests, bounds and decodes
/// responses. Proofs are checked by the engine, not here.
struct Remote<T> {
    part: SyncPart,
    fetch: Arc<T>,
}

impl<T: SyncFetch> Source for Remote<T> {
    type Family = Family;
    type Digest = Digest;
    type Op = Op;
    type Error = FetchError;

    async fn serve(&self, request: Request<Family>) -> sync::source::Result<Self> {
        let max_ops = request.max_ops().get().min(self.part.max_ops()) as usize;
        let bytes = self
            .fetch
            .fetch(self.part, request.encode().to_vec())
            .await
            .map_err(FetchError)?;
        let limit = self.part.max_response_bytes();
        if bytes.len() > limit {
            return Err(FetchError(format!(
                "{} response of {} bytes exceeds {limit}",
                self.part.name(),
                bytes.len()
            )));
        }
        let cfg: AuthOpCfg = ((), ((0..=self.part.max_value_bytes()).into(), ()));
        // `decode_cfg` also refuses trailing bytes.
        let response =
            Response::<Family, Op, Digest>::decode_cfg(Copying(bytes.as_slice()), &(max_ops, cfg))
                .map_err(|e| FetchError(format!("{} response: {e}", self.part.name())))?;
        Ok((response, None))
    }
}

impl<E: Context + Spawner, S: Merkleization> StateDb<E, S> {
    /// Build this database (partitions named by `cfg`, which must be empty) by syncing from a
    /// peer to `target`, and accept the result only if it is the state a quorum certified:
    /// `trusted_height` with `trusted_root`. On any failure nothing is left behind.
    pub async fn sync_from<T: SyncFetch>(
        context: E,
        cfg: StateConfig,
        target: SyncTarget,
        trusted_height: u64,
        trusted_root: StateRoot,
        fetch: Arc<T>,
    ) -> Result<Self, StateError> {
        if (target.height, target.root) != (trusted_height, trusted_root) {
            return Err(StateError::SyncUntrustedTarget {
                height: target.height,
                trusted_height,
            });
        }
        let (auth_cfg, values_cfg) = configs::<S>(&cfg)?;
        let auth: crate::db::Auth<E, S> = sync::sync(engine_config(
            context.child("auth"),
            SyncPart::Auth,
            fetch.clone(),
            &target.auth,
            auth_cfg,
        )?)
        .await
        .map_err(|e| StateError::Sync(format!("authenticated state: {e}")))?;
        let root = StateRoot(auth.root().0);
        let (height, last_writes) = match auth_metadata(&auth).await {
            Ok(metadata) => metadata,
            Err(e) => {
                auth.destroy().await?;
                return Err(e);
            }
        };
        if root != trusted_root || height != trusted_height {
            auth.destroy().await?;
            return Err(StateError::SyncRootMismatch {
                height: trusted_height,
                got_height: height,
            });
        }

        let values: crate::db::Values<E, S> = match sync::sync(engine_config(
            context.child("values"),
            SyncPart::Values,
            fetch,
            &target.values,
            values_cfg,
        )?)
        .await
        {
            Ok(values) => values,
            Err(e) => {
                auth.destroy().await?;
                return Err(StateError::Sync(format!("values: {e}")));
            }
        };
        let checked = match values_metadata(&values).await {
            Ok((h, _)) if h != height => Err(StateError::SyncValuesMismatch(format!(
                "value database at height {h}, state at {height}"
            ))),
            Ok(_) => check_values(&auth, &values).await,
            Err(e) => Err(e),
        };
        if let Err(e) = checked {
            values.destroy().await?;
            auth.destroy().await?;
            return Err(e);
        }
        Ok(Self::from_parts(
            auth,
            values,
            height,
            last_writes,
            cfg.sync_interval,
        ))
    }
}

/// The engine's configuration to sync one part from `fetch` to `target`.
fn engine_config<DB, T>(
    context: DB::Context,
    part: SyncPart,
    fetch: Arc<T>,
    target: &PartTarget,
    db_config: DB::Config,
) -> Result<EngineConfig<DB, Remote<T>>, StateError>
where
    DB: sync::Database<Family = Family, Digest = Digest, Op = Op>,
    T: SyncFetch,
{
    let range = NonEmptyRange::new(Location::new(target.start)..Location::new(target.size))
        .map_err(|_| StateError::SyncTargetMalformed("empty operation range".into()))?;
    Ok(EngineConfig {
        context,
        source: Remote { part, fetch },
        target: sync::Target::new(Digest(target.ops_root), range),
        max_outstanding_requests: NonZeroUsize::new(OUTSTANDING_REQUESTS).unwrap(),
        fetch_batch_size: NonZeroU64::new(part.max_ops()).unwrap_or(NonZeroU64::MIN),
        apply_batch_size: NonZeroU64::new(APPLY_BATCH).unwrap(),
        db_config,
        update_rx: None,
        finish_rx: None,
        reached_target_tx: None,
    })
}

/// Walk both databases in key order: the same active keys, each value hashing to its digest.
async fn check_values<E: Context + Spawner, S: Merkleization>(
    auth: &crate::db::Auth<E, S>,
    values: &crate::db::Values<E, S>,
) -> Result<(), StateError> {
    let mut digests = std::pin::pin!(auth.stream_range(..));
    let mut stored = std::pin::pin!(values.stream_range(..));
    loop {
        let digest = digests.next().await.transpose()?;
        let value = stored.next().await.transpose()?;
        match (digest, value) {
            (None, None) => return Ok(()),
            (Some((key, digest)), Some((other, stored))) => {
                if key != other {
                    return Err(mismatch("keys differ at", &key.0));
                }
                let (ledger_key, value) =
                    unpack(&stored).map_err(|_| mismatch("malformed record at", &key.0))?;
                if hashed_key(ledger_key) != key.0 {
                    return Err(mismatch("the ledger key does not hash to", &key.0));
                }
                if digest[..] != value_digest(value)[..] {
                    return Err(mismatch("value does not hash to the digest of", &key.0));
                }
            }
            (Some((key, _)), None) => return Err(mismatch("no value for", &key.0)),
            (None, Some((key, _))) => return Err(mismatch("a value for absent", &key.0)),
        }
    }
}

fn mismatch(what: &str, hashed_key: &[u8; 32]) -> StateError {
    let hex: String = hashed_key.iter().map(|b| format!("{b:02x}")).collect();
    StateError::SyncValuesMismatch(format!("{what} hashed key {hex}"))
}
