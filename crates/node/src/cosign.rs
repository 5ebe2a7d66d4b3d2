//! Checkpoints cosigned by a quorum of validators (C2SP tlog-cosignature/v1).
//!
//! After applying a block, every validator signs the resulting tree head as a checkpoint with
//! its checkpoint key, cosigns it with its cosigner key (timestamp: the block time) and
//! broadcasts that note to the committee ([`proverka_consensus::Gossip`]). Each validator
//! collects the cosignatures of the others; once a quorum of distinct validators (itself
//! included: it never publishes a tree head it did not compute) cosigned the same size and
//! root, it assembles the *quorum checkpoint*: its own signed checkpoint plus the quorum's
//! cosignature lines. That note is served at `GET /checkpoint/cosigned` and carried by receipts
//! (`docs/log-format.md`, "Quorum-certified receipts").
//!
//! Everything received is checked against the genesis keys of the member the transport
//! authenticated; a Byzantine member can only withhold or waste its own cosignature.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use proverka_ledger::Genesis;
use proverka_log::{
    cosign_checkpoint, sign_checkpoint, verify_cosigned_checkpoint, Hash, NoteKey, ValidatorSet,
};
use tokio::sync::watch;

/// Tree sizes whose cosignatures are kept while waiting for a quorum; older ones are dropped.
pub const MAX_PENDING_SIZES: usize = 64;

/// The committee's public keys as a verifier holding only `genesis` knows them: every
/// validator's receipt key, checkpoint key and cosigner key, and the quorum.
pub fn validator_set(genesis: &Genesis) -> Result<ValidatorSet, String> {
    let entries = genesis.validator_entries();
    if entries.iter().any(|e| e.cosigner_vkey.is_empty()) {
        return Err("this genesis names no cosigner keys: its receipts cannot be certified".into());
    }
    Ok(ValidatorSet {
        origin: genesis.origin.clone(),
        receipt_keys: genesis.receipt_public_keys().map_err(|e| e.to_string())?,
        checkpoint_vkeys: entries.iter().map(|e| e.checkpoint_vkey.clone()).collect(),
        cosigner_vkeys: entries.iter().map(|e| e.cosigner_vkey.clone()).collect(),
        quorum: genesis.quorum(),
    })
}

/// One committee member, at the same index as its keys in the [`ValidatorSet`].
#[derive(Clone, Debug)]
struct Member {
    consensus: [u8; 32],
    cosigner_name: String,
}

/// A checkpoint note cosigned by a quorum of validators.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuorumCheckpoint {
    pub size: u64,
    pub root: Hash,
    /// Block time of the block that produced this tree head, in ms.
    pub time_ms: u64,
    /// The note: body, this validator's log signature, `quorum` cosignature lines.
    pub note: Vec<u8>,
}

#[derive(Default)]
struct Book {
    /// size → member index → (root it cosigned, its cosignature line).
    pending: BTreeMap<u64, BTreeMap<usize, (Hash, String)>>,
    /// size → block time of this validator's own tree heads still pending.
    own_times: BTreeMap<u64, u64>,
    latest: Option<Arc<QuorumCheckpoint>>,
}

impl Book {
    /// The smallest tree size still worth recording.
    fn oldest_wanted(&self) -> u64 {
        let latest = self.latest.as_ref().map_or(0, |q| q.size);
        if self.pending.len() < MAX_PENDING_SIZES {
            return latest;
        }
        self.pending.keys().next().copied().unwrap_or(0).max(latest)
    }
}

/// Why a cosignature was not taken (logged at debug level; gossip is best effort).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CosignError {
    #[error("sender is not a committee member with a cosigner key")]
    NotMember,
    #[error("cosignature note: {0}")]
    Note(String),
    #[error("the note must carry exactly one cosignature line of its sender")]
    Lines,
    #[error("tree size {0} is older than the pending window")]
    Stale(u64),
}

/// This validator's cosigning duty and its collection of the committee's cosignatures.
pub struct Cosigning {
    /// `None` for a genesis without cosigner keys (from before cosigning): such a ledger never
    /// has a quorum checkpoint.
    set: Option<ValidatorSet>,
    members: Vec<Member>,
    me: Option<(usize, NoteKey)>,
    checkpoint_key: NoteKey,
    book: Mutex<Book>,
    /// Size of the latest quorum checkpoint, for submitters waiting for their entry's.
    certified: watch::Sender<u64>,
}

impl Cosigning {
    /// The committee from `genesis`; `me` is this validator's consensus key (hex) and its
    /// cosigner key, if it has one.
    pub fn new(
        genesis: &Genesis,
        me: &str,
        cosigner: Option<NoteKey>,
        checkpoint_key: NoteKey,
    ) -> Self {
        // Members line up with the set's key lists; a genesis whose keys do not all decode
        // (validated at load, so never in practice) gets no quorum checkpoint rather than a
        // misaligned committee.
        let members: Option<Vec<Member>> = genesis
            .validator_entries()
            .into_iter()
            .map(|e| {
                Some(Member {
                    consensus: hex::decode(&e.validator).ok()?.try_into().ok()?,
                    cosigner_name: e.cosigner_vkey.split('+').next()?.to_owned(),
                })
            })
            .collect();
        let (set, members) = match (validator_set(genesis).ok(), members) {
            (Some(set), Some(members)) => (Some(set), members),
            _ => (None, Vec::new()),
        };
        let me = cosigner.zip(set.as_ref()).and_then(|(key, set)| {
            let index = members
                .iter()
                .zip(&set.cosigner_vkeys)
                .position(|(m, vkey)| {
                    hex::encode(m.consensus) == me && *vkey == key.cosigner_verifier_key()
                })?;
            Some((index, key))
        });
        Cosigning {
            set,
            members,
            me,
            checkpoint_key,
            book: Mutex::new(Book::default()),
            certified: watch::Sender::new(0),
        }
    }

    /// Cosigns this validator's own tree head `(size, root)` at `time_ms` (block time) and
    /// returns the note to broadcast (`None` if this validator does not cosign).
    pub fn cosign_own(&self, size: u64, root: &Hash, time_ms: u64) -> Option<Vec<u8>> {
        let (index, key) = self.me.as_ref()?;
        let origin = &self.set.as_ref()?.origin;
        let signed = sign_checkpoint(&self.checkpoint_key, origin, size, root).ok()?;
        let note = cosign_checkpoint(&signed, key, time_ms / 1000).ok()?;
        let line = cosignature_line(&note, &self.members[*index].cosigner_name).ok()?;
        let mut book = self.book.lock().ok()?;
        book.own_times.insert(size, time_ms);
        self.record(&mut book, *index, size, *root, line);
        Some(note)
    }

    /// Takes a cosignature note broadcast by the member whose consensus key is `from`.
    pub fn receive(&self, from: [u8; 32], note: &[u8]) -> Result<(), CosignError> {
        let set = self.set.as_ref().ok_or(CosignError::NotMember)?;
        let index = self
            .members
            .iter()
            .position(|m| m.consensus == from)
            .ok_or(CosignError::NotMember)?;
        let verified = verify_cosigned_checkpoint(
            note,
            &set.origin,
            &set.checkpoint_vkeys[index],
            &[set.cosigner_vkeys[index].as_str()],
            1,
        )
        .map_err(|e| CosignError::Note(e.to_string()))?;
        let line = cosignature_line(note, &self.members[index].cosigner_name)?;
        let Ok(mut book) = self.book.lock() else {
            return Ok(());
        };
        if verified.size < book.oldest_wanted() {
            return Err(CosignError::Stale(verified.size));
        }
        self.record(&mut book, index, verified.size, verified.root, line);
        Ok(())
    }

    /// The latest quorum checkpoint assembled, if any.
    pub fn latest(&self) -> Option<Arc<QuorumCheckpoint>> {
        self.book.lock().ok()?.latest.clone()
    }

    /// Follows the size of the latest quorum checkpoint (0 before the first).
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.certified.subscribe()
    }

    fn record(&self, book: &mut Book, index: usize, size: u64, root: Hash, line: String) {
        if book.latest.as_ref().is_some_and(|q| q.size >= size) {
            return;
        }
        book.pending
            .entry(size)
            .or_default()
            .insert(index, (root, line));
        while book.pending.len() > MAX_PENDING_SIZES {
            book.pending.pop_first();
        }
        if let Some(quorum) = self.assemble(book, size) {
            book.pending.retain(|s, _| *s > quorum.size);
            book.own_times.retain(|s, _| *s > quorum.size);
            self.certified.send_replace(quorum.size);
            book.latest = Some(Arc::new(quorum));
        }
        while book.own_times.len() > MAX_PENDING_SIZES {
            book.own_times.pop_first();
        }
    }

    /// The quorum checkpoint for `size`, if this validator and enough others cosigned the same
    /// root.
    fn assemble(&self, book: &Book, size: u64) -> Option<QuorumCheckpoint> {
        let set = self.set.as_ref()?;
        let (me, _) = self.me.as_ref()?;
        let entries = book.pending.get(&size)?;
        let (root, _) = entries.get(me)?;
        let time_ms = *book.own_times.get(&size)?;
        let agreeing: Vec<&String> = entries
            .values()
            .filter(|(r, _)| r == root)
            .map(|(_, line)| line)
            .take(set.quorum)
            .collect();
        if agreeing.len() < set.quorum {
            return None;
        }
        let mut note = sign_checkpoint(&self.checkpoint_key, &set.origin, size, root).ok()?;
        for line in agreeing {
            note.extend_from_slice(line.as_bytes());
        }
        // Check what is published exactly as a verifier will.
        match proverka_log::verify_quorum_checkpoint(&note, set) {
            Ok(_) => Some(QuorumCheckpoint {
                size,
                root: *root,
                time_ms,
                note,
            }),
            Err(e) => {
                tracing::error!(size, "assembled quorum checkpoint does not verify: {e}");
                None
            }
        }
    }
}

/// The single signature line of `name` in a note (the text after the blank line), with its
/// newline.
fn cosignature_line(note: &[u8], name: &str) -> Result<String, CosignError> {
    let text = std::str::from_utf8(note).map_err(|_| CosignError::Lines)?;
    let (_, signatures) = text.split_once("\n\n").ok_or(CosignError::Lines)?;
    let prefix = format!("\u{2014} {name} ");
    let mut lines = signatures.lines().filter(|l| l.starts_with(&prefix));
    match (lines.next(), lines.next()) {
        (Some(line), None) => Ok(format!("{line}\n")),
        _ => Err(CosignError::Lines),
    }
}

/// Verifies a receipt with the genesis alone: signed by one validator's receipt key, and
/// carrying a checkpoint for the same tree head cosigned by a quorum of the genesis validators
/// (`docs/log-format.md`, "Quorum-certified receipts").
pub fn verify_certified_receipt(
    genesis: &Genesis,
    receipt: &[u8],
    statement: &[u8],
) -> Result<proverka_log::CertifiedReceipt, String> {
    let set = validator_set(genesis)?;
    proverka_log::verify_certified_receipt(receipt, statement, &set).map_err(|e| e.to_string())
}
