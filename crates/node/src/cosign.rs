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
//! Committees change at epoch boundaries (decision 003): a tree head is cosigned by the
//! committee of the epoch of the block whose apply produced it, with that committee's keys and
//! quorum, and its quorum checkpoint names that epoch in a `proverka-epoch <e>` extension line
//! when `e` ≥ 1 (epoch-0 notes are unchanged). Everything received is checked against the keys,
//! in the committee of the epoch the note names, of the member the transport authenticated; a
//! Byzantine member can only withhold or waste its own cosignature, and a member of another
//! epoch's committee cannot cosign for this one.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use proverka_ledger::{Genesis, ValidatorKeys};
use proverka_log::{
    checkpoint_epoch, checkpoint_epoch_unverified, cosign_checkpoint, sign_checkpoint_at_epoch,
    verify_cosigned_checkpoint, Committee, CommitteeChain, Hash, NoteKey, ValidatorSet,
};
use tokio::sync::watch;

/// Tree sizes whose cosignatures are kept while waiting for a quorum; older ones are dropped.
pub const MAX_PENDING_SIZES: usize = 64;
/// Epochs whose committees are kept (the current one, the next once handed over, and a few
/// before it for late cosignatures); older ones are dropped.
pub const MAX_KNOWN_EPOCHS: usize = 4;

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

/// The committee of one epoch, as cosigning needs it.
#[derive(Debug)]
struct EpochCommittee {
    set: ValidatorSet,
    members: Vec<Member>,
    /// This validator's index in it, if it is a member with its cosigner key.
    me: Option<usize>,
}

/// A checkpoint note cosigned by a quorum of validators.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuorumCheckpoint {
    pub size: u64,
    pub root: Hash,
    /// The epoch whose committee certified it (named by the note's `proverka-epoch` line when
    /// ≥ 1): the epoch of the block whose apply produced this tree head.
    pub epoch: u64,
    /// Block time of the block that produced this tree head, in ms.
    pub time_ms: u64,
    /// The note: body, this validator's log signature, `quorum` cosignature lines.
    pub note: Vec<u8>,
}

/// One cosignature kept while waiting for a quorum: the epoch and root it cosigned, its line.
type Line = (u64, Hash, String);

#[derive(Default)]
struct Book {
    /// size → consensus key of the member → its cosignature.
    pending: BTreeMap<u64, BTreeMap<[u8; 32], Line>>,
    /// size → (block time, epoch) of this validator's own tree heads still pending.
    own_times: BTreeMap<u64, (u64, u64)>,
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
    #[error("sender is not a member with a cosigner key of the committee of epoch {0}")]
    NotMember(u64),
    #[error("the committee of epoch {0} is not known here (yet)")]
    UnknownEpoch(u64),
    #[error("cosignature note: {0}")]
    Note(String),
    #[error("the note must carry exactly one cosignature line of its sender")]
    Lines,
    #[error("tree size {0} is older than the pending window")]
    Stale(u64),
}

/// This validator's cosigning duty and its collection of the committee's cosignatures, epoch
/// by epoch: each tree head is cosigned, and its cosignatures checked, with the keys and
/// quorum of the committee of the epoch of the block that produced it.
pub struct Cosigning {
    origin: String,
    /// This validator's consensus key (hex).
    me: String,
    cosigner: Option<NoteKey>,
    checkpoint_key: NoteKey,
    /// epoch → its committee; at most [`MAX_KNOWN_EPOCHS`], the latest kept.
    committees: Mutex<BTreeMap<u64, Arc<EpochCommittee>>>,
    book: Mutex<Book>,
    /// Size of the latest quorum checkpoint, for submitters waiting for their entry's.
    certified: watch::Sender<u64>,
}

impl Cosigning {
    /// The committee of epoch 0 from `genesis`; `me` is this validator's consensus key (hex)
    /// and its cosigner key, if it has one. Later committees come from
    /// [`Cosigning::set_committee`].
    pub fn new(
        genesis: &Genesis,
        me: &str,
        cosigner: Option<NoteKey>,
        checkpoint_key: NoteKey,
    ) -> Self {
        let cosigning = Cosigning {
            origin: genesis.origin.clone(),
            me: me.to_owned(),
            cosigner,
            checkpoint_key,
            committees: Mutex::new(BTreeMap::new()),
            book: Mutex::new(Book::default()),
            certified: watch::Sender::new(0),
        };
        // A genesis without cosigner keys (from before cosigning) gets no committee, so such a
        // ledger never has a quorum checkpoint.
        if let Ok(set) = validator_set(genesis) {
            cosigning.insert(0, set, &genesis.validator_entries());
        }
        cosigning
    }

    /// Whether the committee of `epoch` is known.
    pub fn knows(&self, epoch: u64) -> bool {
        self.committees.lock().is_ok_and(|c| c.contains_key(&epoch))
    }

    /// Records the committee of `epoch` (from the applied state: `validators::committee_for_epoch`).
    pub fn set_committee(&self, epoch: u64, members: &[ValidatorKeys]) -> Result<(), String> {
        let committee = Committee {
            epoch,
            members: members
                .iter()
                .map(|k| proverka_log::CommitteeMember {
                    validator: k.validator.clone(),
                    receipt_key: k.receipt_key.clone(),
                    checkpoint_vkey: k.checkpoint_vkey.clone(),
                    cosigner_vkey: k.cosigner_vkey.clone(),
                })
                .collect(),
        };
        let set = committee
            .validator_set(&self.origin)
            .map_err(|e| e.to_string())?;
        self.insert(epoch, set, members);
        Ok(())
    }

    fn insert(&self, epoch: u64, set: ValidatorSet, entries: &[ValidatorKeys]) {
        // Members line up with the set's key lists; keys that do not decode (validated by
        // genesis and the validator-set rules, so never in practice) leave the epoch without
        // a committee rather than with a misaligned one.
        let members: Option<Vec<Member>> = entries
            .iter()
            .map(|e| {
                Some(Member {
                    consensus: hex::decode(&e.validator).ok()?.try_into().ok()?,
                    cosigner_name: e.cosigner_vkey.split('+').next()?.to_owned(),
                })
            })
            .collect();
        let Some(members) = members else {
            return;
        };
        let me = self.cosigner.as_ref().and_then(|key| {
            members
                .iter()
                .zip(&set.cosigner_vkeys)
                .position(|(m, vkey)| {
                    hex::encode(m.consensus) == self.me && *vkey == key.cosigner_verifier_key()
                })
        });
        if let Ok(mut committees) = self.committees.lock() {
            committees.insert(epoch, Arc::new(EpochCommittee { set, members, me }));
            while committees.len() > MAX_KNOWN_EPOCHS {
                committees.pop_first();
            }
        }
    }

    fn committee(&self, epoch: u64) -> Option<Arc<EpochCommittee>> {
        self.committees.lock().ok()?.get(&epoch).cloned()
    }

    /// Cosigns this validator's own tree head `(size, root)`, produced by a block of `epoch`
    /// at `time_ms` (block time), and returns the note to broadcast (`None` if this validator
    /// is not a cosigning member of that epoch's committee, or the committee is unknown).
    pub fn cosign_own(&self, epoch: u64, size: u64, root: &Hash, time_ms: u64) -> Option<Vec<u8>> {
        let committee = self.committee(epoch)?;
        let index = committee.me?;
        let key = self.cosigner.as_ref()?;
        let signed =
            sign_checkpoint_at_epoch(&self.checkpoint_key, &self.origin, size, root, epoch).ok()?;
        let note = cosign_checkpoint(&signed, key, time_ms / 1000).ok()?;
        let member = &committee.members[index];
        let line = cosignature_line(&note, &member.cosigner_name).ok()?;
        let mut book = self.book.lock().ok()?;
        book.own_times.insert(size, (time_ms, epoch));
        self.record(&mut book, member.consensus, size, (epoch, *root, line));
        Some(note)
    }

    /// Takes a cosignature note broadcast by the member whose consensus key is `from`. The note
    /// names its epoch (`proverka-epoch` line, 0 if absent); the sender must be a member of that
    /// epoch's committee, and its lines verify with its keys of that epoch.
    pub fn receive(&self, from: [u8; 32], note: &[u8]) -> Result<(), CosignError> {
        let epoch =
            checkpoint_epoch_unverified(note).map_err(|e| CosignError::Note(e.to_string()))?;
        let committee = self
            .committee(epoch)
            .ok_or(CosignError::UnknownEpoch(epoch))?;
        let set = &committee.set;
        let index = committee
            .members
            .iter()
            .position(|m| m.consensus == from)
            .ok_or(CosignError::NotMember(epoch))?;
        let verified = verify_cosigned_checkpoint(
            note,
            &set.origin,
            &set.checkpoint_vkeys[index],
            &[set.cosigner_vkeys[index].as_str()],
            1,
        )
        .map_err(|e| CosignError::Note(e.to_string()))?;
        if checkpoint_epoch(&verified.extensions).ok() != Some(epoch) {
            return Err(CosignError::Note("epoch line changed".into()));
        }
        let line = cosignature_line(note, &committee.members[index].cosigner_name)?;
        let Ok(mut book) = self.book.lock() else {
            return Ok(());
        };
        if verified.size < book.oldest_wanted() {
            return Err(CosignError::Stale(verified.size));
        }
        self.record(&mut book, from, verified.size, (epoch, verified.root, line));
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

    fn record(&self, book: &mut Book, from: [u8; 32], size: u64, line: Line) {
        if book.latest.as_ref().is_some_and(|q| q.size >= size) {
            return;
        }
        book.pending.entry(size).or_default().insert(from, line);
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

    /// The quorum checkpoint for `size`, if this validator and enough other members of the
    /// committee of its own tree head's epoch cosigned the same root for that epoch.
    fn assemble(&self, book: &Book, size: u64) -> Option<QuorumCheckpoint> {
        let (time_ms, epoch) = *book.own_times.get(&size)?;
        let committee = self.committee(epoch)?;
        let me = committee.members.get(committee.me?)?;
        let entries = book.pending.get(&size)?;
        let (_, root, _) = entries.get(&me.consensus)?;
        let set = &committee.set;
        let agreeing: Vec<&String> = entries
            .iter()
            .filter(|(from, (e, r, _))| {
                *e == epoch && r == root && committee.members.iter().any(|m| m.consensus == **from)
            })
            .map(|(_, (_, _, line))| line)
            .take(set.quorum)
            .collect();
        if agreeing.len() < set.quorum {
            return None;
        }
        let mut note =
            sign_checkpoint_at_epoch(&self.checkpoint_key, &set.origin, size, root, epoch).ok()?;
        for line in agreeing {
            note.extend_from_slice(line.as_bytes());
        }
        // Check what is published exactly as a verifier will.
        match proverka_log::verify_quorum_checkpoint(&note, set) {
            Ok(_) => Some(QuorumCheckpoint {
                size,
                root: *root,
                epoch,
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

/// The genesis committee as the first link of a committee chain (no hand-over yet).
pub fn genesis_chain(genesis: &Genesis) -> Result<CommitteeChain, String> {
    let committee = crate::handover::committee_of(&proverka_ledger::validators::CommitteeRecord {
        epoch: 0,
        members: genesis.validator_entries(),
    });
    CommitteeChain::genesis(&genesis.origin, committee).map_err(|e| e.to_string())
}

/// The committee chain from `genesis` through the hand-over notes of a chain file (the
/// `GET /validators/epochs` body), verified link by link.
pub fn committee_chain(genesis: &Genesis, chain_file: &[u8]) -> Result<CommitteeChain, String> {
    let mut chain = genesis_chain(genesis)?;
    for note in proverka_log::split_handover_chain(chain_file).map_err(|e| e.to_string())? {
        chain.push(note).map_err(|e| e.to_string())?;
    }
    Ok(chain)
}

/// Verifies a receipt with the genesis and a verified committee chain: the committee of the
/// epoch its quorum checkpoint names signed and certified it.
pub fn verify_certified_receipt_in_chain(
    chain: &CommitteeChain,
    receipt: &[u8],
    statement: &[u8],
) -> Result<proverka_log::CertifiedReceipt, String> {
    proverka_log::verify_certified_receipt_in_chain(receipt, statement, chain)
        .map_err(|e| e.to_string())
}
