//! Challenge nonces a device's owner registers: the second freshness proof of evidence.
//!
//! Evidence must show it was signed recently (`docs/registration.md`, "Evidence freshness").
//! Its nonce is either a log root the ledger anchored (`anchors`), or a *challenge*: a random
//! nonce the device's current owner registered for a list of its devices, with a validity
//! window. A root only exists while the ledger registers statements; an owner can register a
//! challenge at any time, so an idle ledger never leaves its devices unable to attest.
//!
//! A challenge is used at most once per device: the evidence that uses it is recorded under the
//! (challenge, device) key, and a second evidence naming it for the same device is refused.
//!
//! State (bounded: at most [`MAX_OPEN_CHALLENGES`] challenges per owner, each with at most
//! [`MAX_CHALLENGE_DEVICES`] devices; pruned oldest first once expired, never by a scan):
//! - `challenge/` ‖ SHA-256(nonce) → [`ChallengeRecord`];
//! - `challenge-dev/` ‖ SHA-256(nonce) ‖ SHA-256(device id) → empty while unused, else the
//!   32-byte entry id of the evidence that used it;
//! - `challenge-owner/` ‖ SHA-256(owner) → [`ChallengeQueue`]: the owner's open challenges;
//! - `challenge-q/` ‖ SHA-256(owner) ‖ seq (u64 BE) → SHA-256(nonce), in registration order.

use ciborium::value::Value;
use proverka_statement::SignedStatement;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::anchors::{self, MAX_ANCHORED_ROOTS};
use crate::ctx::{Ctx, RuleResult};
use crate::devices::{active_device, require_owner, MAX_DEVICE_ID_BYTES};
use crate::payload::{Fields, PayloadError};
use crate::records::{device_hash, hash_parts, DeviceRecord, Id, Kid};
use crate::rules::{Rejection, Signer, StateError, StateView};

/// Shortest challenge nonce: 128 bits, so a device cannot guess one before it is chosen.
pub const MIN_CHALLENGE_NONCE_BYTES: usize = 16;
/// Longest challenge nonce (the evidence nonce's own bound, `devices::MAX_NONCE_BYTES`).
pub const MAX_CHALLENGE_NONCE_BYTES: usize = 64;
/// Most devices one challenge covers. Registering writes one key per device, so the bound
/// keeps a statement's writes (and its pruning later) small; the 64 KiB statement limit also
/// applies (1,024 ids of up to 60 bytes fit).
pub const MAX_CHALLENGE_DEVICES: usize = 1024;
/// Validity window when the payload gives none (1 h): long enough for a fleet to attest.
pub const DEFAULT_CHALLENGE_WINDOW_MS: u64 = 3_600_000;
/// Shortest window (1 min): a challenge must survive the blocks its evidence waits for.
pub const MIN_CHALLENGE_WINDOW_MS: u64 = 60_000;
/// Longest window (24 h, [`crate::NONCE_ROOT_WINDOW_MS`]): a challenge proves no more than an
/// anchored root does.
pub const MAX_CHALLENGE_WINDOW_MS: u64 = 24 * 3_600_000;
/// Most challenges one owner may have registered and not yet pruned. With at most 1,024 devices
/// each, an owner holds at most 262,144 (challenge, device) keys.
pub const MAX_OPEN_CHALLENGES: u64 = 256;
/// Expired challenges pruned (oldest first) by each new registration of the same owner: more
/// than the one it adds, so the queue drains as old challenges expire.
pub const PRUNE_PER_REGISTRATION: usize = 2;

const KIND: &str = "challenge";
const CHALLENGE: &[u8] = b"challenge/";
const CHALLENGE_DEVICE: &[u8] = b"challenge-dev/";
const OWNER: &[u8] = b"challenge-owner/";
const QUEUE: &[u8] = b"challenge-q/";

/// A registered challenge.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChallengeRecord {
    /// The organisation that registered it (the devices' owner then).
    pub owner: String,
    /// Entry id of the `challenge` statement.
    #[serde(with = "serde_bytes")]
    pub entry: Id,
    /// Block height and time of registration.
    pub height: u64,
    pub registered_ms: u64,
    /// Evidence naming it registers while block time ≤ this (`registered_ms` + window).
    pub valid_until_ms: u64,
    /// Its place in the owner's queue.
    pub seq: u64,
    /// SHA-256 of each covered device id, sorted (to delete its keys when pruned).
    pub devices: Vec<Kid>,
}

/// An owner's open challenges: queue slots `head..next`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChallengeQueue {
    pub head: u64,
    pub next: u64,
}

/// Why evidence naming a challenge nonce is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChallengeRefusal {
    #[error(
        "unknown challenge: the nonce {nonce} is neither one of the last {MAX_ANCHORED_ROOTS} log \
         roots the ledger anchored (GET /evidence-root) nor a registered challenge (never \
         registered, or expired and pruned)"
    )]
    Unknown { nonce: String },
    #[error("challenge {nonce} does not cover device {device}")]
    NotForDevice { nonce: String, device: String },
    #[error(
        "challenge {nonce} was registered by {registered_by}, which does not own device {device} \
         now (its owner is {owner})"
    )]
    NotOwner {
        nonce: String,
        device: String,
        registered_by: String,
        owner: String,
    },
    #[error(
        "challenge {nonce} expired: valid until {valid_until_ms} ms, the block is at {block_ms} ms"
    )]
    Expired {
        nonce: String,
        valid_until_ms: u64,
        block_ms: u64,
    },
    #[error("challenge {nonce} was already used by device {device} (evidence {entry})")]
    AlreadyUsed {
        nonce: String,
        device: String,
        entry: String,
    },
}

impl From<ChallengeRefusal> for Rejection {
    fn from(r: ChallengeRefusal) -> Self {
        Rejection::Challenge(r)
    }
}

/// The id a challenge is stored under: SHA-256 of its nonce (nonces vary in length).
pub fn challenge_id(nonce: &[u8]) -> Id {
    Sha256::digest(nonce).into()
}

/// `challenge/` ‖ id.
pub fn record_key(id: &Id) -> Vec<u8> {
    [CHALLENGE, id.as_slice()].concat()
}

/// `challenge-dev/` ‖ id ‖ SHA-256(device id).
pub fn device_key(id: &Id, dev: &Id) -> Vec<u8> {
    [CHALLENGE_DEVICE, id.as_slice(), dev.as_slice()].concat()
}

/// `challenge-owner/` ‖ SHA-256(owner).
pub fn owner_key(owner: &str) -> Vec<u8> {
    [OWNER, hash_parts(&[owner.as_bytes()]).as_slice()].concat()
}

/// `challenge-q/` ‖ SHA-256(owner) ‖ seq (u64 BE).
pub fn queue_key(owner: &str, seq: u64) -> Vec<u8> {
    [
        QUEUE,
        hash_parts(&[owner.as_bytes()]).as_slice(),
        &seq.to_be_bytes(),
    ]
    .concat()
}

/// The challenge registered with `nonce`, if it is kept.
pub fn lookup(view: &dyn StateView, nonce: &[u8]) -> Result<Option<ChallengeRecord>, StateError> {
    read(view, &record_key(&challenge_id(nonce)))
}

fn read<T: serde::de::DeserializeOwned>(
    view: &dyn StateView,
    key: &[u8],
) -> Result<Option<T>, StateError> {
    view.get(key)?
        .map(|bytes| crate::records::decode(&bytes))
        .transpose()
        .map_err(|e| StateError(format!("corrupt challenge record: {e}")))
}

fn invalid(label: u64, reason: &'static str) -> Rejection {
    Rejection::payload(KIND, PayloadError::Invalid { label, reason })
}

fn bad(e: PayloadError) -> Rejection {
    Rejection::payload(KIND, e)
}

/// A `challenge` payload, read and bounded.
struct Payload {
    nonce: Vec<u8>,
    devices: Vec<Vec<u8>>,
    window_ms: u64,
}

fn read_payload(bytes: &[u8]) -> Result<Payload, Rejection> {
    let mut f = Fields::decode(bytes).map_err(bad)?;
    let nonce = f
        .bytes(1, MIN_CHALLENGE_NONCE_BYTES, MAX_CHALLENGE_NONCE_BYTES)
        .map_err(bad)?;
    let devices = device_ids(f.raw(2).map_err(bad)?)?;
    let window_ms = f
        .opt_uint(3)
        .map_err(bad)?
        .unwrap_or(DEFAULT_CHALLENGE_WINDOW_MS);
    f.finish().map_err(bad)?;
    if !(MIN_CHALLENGE_WINDOW_MS..=MAX_CHALLENGE_WINDOW_MS).contains(&window_ms) {
        return Err(invalid(3, "window is 60000..=86400000 ms (1 min to 24 h)"));
    }
    Ok(Payload {
        nonce,
        devices,
        window_ms,
    })
}

/// Field 2: 1..=[`MAX_CHALLENGE_DEVICES`] distinct device ids. A repeat is refused rather than
/// merged, so a challenge has one payload per set of devices.
fn device_ids(value: Value) -> Result<Vec<Vec<u8>>, Rejection> {
    const COUNT: &str = "must be an array of 1..=1024 device ids";
    let Value::Array(items) = value else {
        return Err(invalid(2, COUNT));
    };
    if items.is_empty() || items.len() > MAX_CHALLENGE_DEVICES {
        return Err(invalid(2, COUNT));
    }
    let mut ids = Vec::with_capacity(items.len());
    for item in items {
        match item {
            Value::Bytes(b) if (1..=MAX_DEVICE_ID_BYTES).contains(&b.len()) => ids.push(b),
            _ => {
                return Err(invalid(
                    2,
                    "each device id is a byte string of 1..=64 bytes",
                ))
            }
        }
    }
    let mut sorted: Vec<&Vec<u8>> = ids.iter().collect();
    sorted.sort();
    if sorted.windows(2).any(|w| w[0] == w[1]) {
        return Err(invalid(2, "device ids must be distinct"));
    }
    Ok(ids)
}

/// `challenge`: a device's current owner registers a nonce its devices may put in their
/// evidence instead of an anchored log root (rules: `docs/registration.md`, "Challenges").
pub fn register(ctx: &mut Ctx, signer: &Signer, stmt: &SignedStatement) -> RuleResult {
    let org = signer.org()?;
    let p = read_payload(stmt.payload())?;
    if let Ok(root) = <[u8; 32]>::try_from(p.nonce.as_slice()) {
        // Evidence naming a kept root is judged as naming the root, so such a challenge could
        // never be used: refuse it rather than register something inert.
        if anchors::lookup(ctx, &root)?.is_some() {
            return Err(Rejection::Conflict(
                "the nonce is a log root the ledger anchored; choose a random nonce".into(),
            )
            .into());
        }
    }
    let id = challenge_id(&p.nonce);
    if let Some(existing) = read::<ChallengeRecord>(ctx, &record_key(&id))? {
        return Err(Rejection::Conflict(format!(
            "challenge {} is already registered (entry {}); choose a fresh random nonce",
            hex::encode(&p.nonce),
            hex::encode(existing.entry)
        ))
        .into());
    }
    let mut devices = Vec::with_capacity(p.devices.len());
    for device_id in &p.devices {
        let (dev, device) = active_device(ctx, device_id)?;
        require_owner(&device, &org.iss)?;
        devices.push(Kid(dev));
    }
    devices.sort();
    let owner = org.iss.clone();
    let mut queue = read::<ChallengeQueue>(ctx, &owner_key(&owner))?.unwrap_or_default();
    prune(ctx, &owner, &mut queue)?;
    if queue.next.saturating_sub(queue.head) >= MAX_OPEN_CHALLENGES {
        return Err(Rejection::Conflict(format!(
            "{owner} has {MAX_OPEN_CHALLENGES} challenges open; the oldest is pruned once expired"
        ))
        .into());
    }
    for dev in &devices {
        ctx.put(device_key(&id, &dev.0), Vec::new());
    }
    let record = ChallengeRecord {
        owner: owner.clone(),
        entry: ctx.entry,
        height: ctx.block.height,
        registered_ms: ctx.block.time_ms,
        valid_until_ms: ctx.block.time_ms.saturating_add(p.window_ms),
        seq: queue.next,
        devices,
    };
    ctx.put(queue_key(&owner, queue.next), id.to_vec());
    queue.next += 1;
    ctx.put_record(owner_key(&owner), &queue);
    ctx.put_record(record_key(&id), &record);
    Ok(())
}

/// Forgets up to [`PRUNE_PER_REGISTRATION`] of the owner's oldest challenges that expired before
/// this block, with their device keys. Stops at the first one still valid: the queue is in
/// registration order, so nothing is scanned.
fn prune(ctx: &mut Ctx, owner: &str, queue: &mut ChallengeQueue) -> RuleResult {
    for _ in 0..PRUNE_PER_REGISTRATION {
        if queue.head == queue.next {
            break;
        }
        let slot = queue_key(owner, queue.head);
        let id: Id = ctx
            .get(&slot)?
            .ok_or_else(|| StateError("challenge queue is missing a slot".into()))?
            .try_into()
            .map_err(|_| StateError("corrupt challenge queue slot".into()))?;
        let key = record_key(&id);
        let record = read::<ChallengeRecord>(ctx, &key)?
            .ok_or_else(|| StateError("challenge queue names a missing challenge".into()))?;
        if record.valid_until_ms >= ctx.block.time_ms {
            break;
        }
        for dev in &record.devices {
            ctx.delete(device_key(&id, &dev.0));
        }
        ctx.delete(key);
        ctx.delete(slot);
        queue.head += 1;
    }
    Ok(())
}

/// Evidence from `device` names `nonce`, which is not a kept anchored root: it must be a
/// challenge registered by the device's current owner, covering it, still valid at block time
/// and not used by it before. Marks it used by this evidence (`ctx.entry`).
pub fn redeem(ctx: &mut Ctx, dev: &Id, device: &DeviceRecord, nonce: &[u8]) -> RuleResult {
    let hex_nonce = || hex::encode(nonce);
    let id = challenge_id(nonce);
    let Some(record) = read::<ChallengeRecord>(ctx, &record_key(&id))? else {
        return Err(Rejection::from(ChallengeRefusal::Unknown { nonce: hex_nonce() }).into());
    };
    let key = device_key(&id, dev);
    let Some(used) = ctx.get(&key)? else {
        return Err(Rejection::from(ChallengeRefusal::NotForDevice {
            nonce: hex_nonce(),
            device: hex::encode(&device.id),
        })
        .into());
    };
    if record.owner != device.owner {
        return Err(Rejection::from(ChallengeRefusal::NotOwner {
            nonce: hex_nonce(),
            device: hex::encode(&device.id),
            registered_by: record.owner,
            owner: device.owner.clone(),
        })
        .into());
    }
    if ctx.block.time_ms > record.valid_until_ms {
        return Err(Rejection::from(ChallengeRefusal::Expired {
            nonce: hex_nonce(),
            valid_until_ms: record.valid_until_ms,
            block_ms: ctx.block.time_ms,
        })
        .into());
    }
    if !used.is_empty() {
        return Err(Rejection::from(ChallengeRefusal::AlreadyUsed {
            nonce: hex_nonce(),
            device: hex::encode(&device.id),
            entry: hex::encode(used),
        })
        .into());
    }
    ctx.put(key, ctx.entry.to_vec());
    Ok(())
}

/// Whether `device_id` may still use the challenge `nonce` (for tools and tests): covered,
/// and not used yet. Says nothing about expiry or ownership.
pub fn unused_for(
    view: &dyn StateView,
    nonce: &[u8],
    device_id: &[u8],
) -> Result<bool, StateError> {
    let key = device_key(&challenge_id(nonce), &device_hash(device_id));
    Ok(view.get(&key)?.is_some_and(|v| v.is_empty()))
}
