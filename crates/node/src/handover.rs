//! Committee hand-over notes, produced, collected, stored and served by the node (decision 003,
//! step 4; format: `docs/log-format.md`, "Committee hand-over notes").
//!
//! When the last block of epoch `e − 1` hands over to a new committee (the ledger wrote
//! `validators/epoch/<e>`), every member of the outgoing committee signs the note for epoch `e`
//! with its cosigner key and broadcasts its signature line on the gossip channel. Every node
//! (member or observer) collects the lines that verify against the outgoing committee it
//! derived from its own applied state, for the body it computed itself; once a quorum signed,
//! it writes the note to `DIR/handovers/<epoch, 20 digits>.note` (durable once written: temp
//! file, fsync, rename, fsync of the directory) and serves it.
//!
//! Untrusted input: a gossip message is at most `MAX_GOSSIP_BYTES` (4 KiB) and names only an
//! epoch and one signature line; the body it is checked against is always this node's own.
//! A peer can at most waste a verification.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use proverka_ledger::validators::{CommitteeRecord, EPOCH_BLOCKS};
use proverka_ledger::ValidatorKeys;
use proverka_log::{
    handover_body, merge_handover_notes, parse_handover_unverified, sign_handover,
    split_handover_chain, verify_handover, Committee, CommitteeChain, CommitteeMember,
    HandoverError, NoteKey,
};

/// First line of a hand-over signature gossip message. Checkpoint cosignature messages start
/// with the origin, which never holds a space, so the two never collide.
pub const SIGNATURE_MESSAGE_HEADER: &str = "proverka committee hand-over/v1 signature";
/// Hand-over epochs whose signatures are collected while no quorum note exists; older ones are
/// dropped (a node that far behind fetches notes over HTTP from another node).
pub const MAX_PENDING_HANDOVERS: usize = 8;
/// A signer re-broadcasts its line every this many applied blocks ...
pub const REBROADCAST_EVERY_BLOCKS: u64 = 10;
/// ... during the first this many blocks of the new epoch (100 times), so that a member that
/// was down at the boundary still collects a quorum when it comes back.
pub const REBROADCAST_WINDOW_BLOCKS: u64 = 1_000;

/// Why a hand-over gossip message was not taken (logged at debug level).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HandoverGossipError {
    #[error("not a hand-over signature message")]
    Malformed,
    #[error("no hand-over to epoch {0} is known here (yet)")]
    UnknownEpoch(u64),
    #[error("signature: {0}")]
    Signature(#[from] HandoverError),
}

/// The keys of a ledger committee record, as the log's hand-over format names them.
pub fn committee_of(record: &CommitteeRecord) -> Committee {
    Committee {
        epoch: record.epoch,
        members: record.members.iter().map(member_of).collect(),
    }
}

fn member_of(k: &ValidatorKeys) -> CommitteeMember {
    CommitteeMember {
        validator: k.validator.clone(),
        receipt_key: k.receipt_key.clone(),
        checkpoint_vkey: k.checkpoint_vkey.clone(),
        cosigner_vkey: k.cosigner_vkey.clone(),
    }
}

/// A hand-over this node knows of but has no quorum note for yet.
struct Pending {
    outgoing: Committee,
    next: Committee,
    /// The verified lines so far, as one note (body + lines).
    collected: Option<Vec<u8>>,
}

#[derive(Default)]
struct Book {
    /// Quorum notes, by epoch (also on disk).
    notes: BTreeMap<u64, Vec<u8>>,
    pending: BTreeMap<u64, Pending>,
    /// This validator's own signature message for each epoch it signed.
    own: BTreeMap<u64, Vec<u8>>,
    /// A peer sent a line for an epoch whose note this node holds: answer at the next tick.
    asked: bool,
}

/// The hand-over notes of this node: collection, storage, serving.
pub struct Handovers {
    dir: PathBuf,
    origin: String,
    /// This validator's consensus key (hex) and cosigner key.
    me: Option<(String, NoteKey)>,
    book: Mutex<Book>,
}

fn note_path(dir: &Path, epoch: u64) -> PathBuf {
    dir.join(format!("{epoch:020}.note"))
}

impl Handovers {
    /// Opens `dir` (created if missing) and loads every stored quorum note.
    pub fn open(
        dir: &Path,
        origin: &str,
        me: &str,
        cosigner: Option<NoteKey>,
    ) -> Result<Self, String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let mut notes = BTreeMap::new();
        let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        for entry in entries {
            let path = entry.map_err(|e| e.to_string())?.path();
            if path.extension().is_none_or(|x| x != "note") {
                continue; // a temp file left by a crash before its rename
            }
            let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            let (_, committee) = parse_handover_unverified(&bytes)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            notes.insert(committee.epoch, bytes);
        }
        Ok(Handovers {
            dir: dir.to_owned(),
            origin: origin.to_owned(),
            me: cosigner.map(|k| (me.to_owned(), k)),
            book: Mutex::new(Book {
                notes,
                ..Book::default()
            }),
        })
    }

    /// The hand-over from `outgoing` to `next` (at `next.epoch`) happened in a block applied at
    /// `time_ms`: expect its signatures and, if this validator is an outgoing member, sign.
    /// Returns the message to broadcast, if any.
    pub fn handed_over(
        &self,
        outgoing: Committee,
        next: Committee,
        time_ms: u64,
    ) -> Result<Option<Vec<u8>>, String> {
        let epoch = next.epoch;
        let mut book = self.book.lock().map_err(|_| "poisoned".to_owned())?;
        if book.notes.contains_key(&epoch) {
            return Ok(book.own.get(&epoch).cloned());
        }
        let signer = self.me.as_ref().filter(|(hex, key)| {
            outgoing
                .members
                .iter()
                .any(|m| m.validator == *hex && m.cosigner_vkey == key.cosigner_verifier_key())
        });
        book.pending.entry(epoch).or_insert(Pending {
            outgoing,
            next,
            collected: None,
        });
        while book.pending.len() > MAX_PENDING_HANDOVERS {
            book.pending.pop_first();
        }
        let Some((_, key)) = signer else {
            return Ok(None);
        };
        let Some(pending) = book.pending.get(&epoch) else {
            return Ok(None); // older than every pending hand-over
        };
        let note = sign_handover(&self.origin, &pending.next, key, time_ms / 1000)
            .map_err(|e| e.to_string())?;
        let message = signature_message(epoch, &note).map_err(|e| e.to_string())?;
        book.own.insert(epoch, message.clone());
        while book.own.len() > MAX_PENDING_HANDOVERS {
            book.own.pop_first();
        }
        self.collect(&mut book, epoch, &note)
            .map_err(|e| e.to_string())?;
        Ok(Some(message))
    }

    /// Takes a signature message from gossip.
    pub fn receive(&self, message: &[u8]) -> Result<(), HandoverGossipError> {
        let (epoch, line) = parse_signature_message(message)?;
        let Ok(mut book) = self.book.lock() else {
            return Ok(());
        };
        if book.notes.contains_key(&epoch) {
            // A late member is collecting: let the next tick re-send this node's line.
            book.asked = true;
            return Ok(());
        }
        let pending = book
            .pending
            .get(&epoch)
            .ok_or(HandoverGossipError::UnknownEpoch(epoch))?;
        let mut note = handover_body(&self.origin, &pending.next)?;
        note.push(b'\n');
        note.extend_from_slice(line.as_bytes());
        // One line, checked against this node's own outgoing committee and body.
        verify_handover(&note, &self.origin, &pending.outgoing, 1)?;
        self.collect(&mut book, epoch, &note)?;
        Ok(())
    }

    /// Adds a verified note's lines to the epoch's collection; stores the note once a quorum
    /// signed.
    fn collect(&self, book: &mut Book, epoch: u64, note: &[u8]) -> Result<(), HandoverError> {
        let Some(pending) = book.pending.get_mut(&epoch) else {
            return Ok(());
        };
        let merged = match &pending.collected {
            Some(have) => merge_handover_notes(&[have.as_slice(), note])?,
            None => note.to_vec(),
        };
        let verified = verify_handover(&merged, &self.origin, &pending.outgoing, 1)?;
        let quorum = pending.outgoing.quorum();
        if verified.signers.len() < quorum {
            pending.collected = Some(verified.note);
            return Ok(());
        }
        // Exactly what a verifier will accept, and nothing a peer added beyond the lines.
        let complete = verify_handover(&verified.note, &self.origin, &pending.outgoing, quorum)?;
        if let Err(e) = self.store(epoch, &complete.note) {
            // Keep collecting: the next line retries the write.
            tracing::error!(epoch, "storing the hand-over note: {e}");
            pending.collected = Some(complete.note);
            return Ok(());
        }
        book.pending.remove(&epoch);
        book.notes.insert(epoch, complete.note);
        Ok(())
    }

    /// Stores the quorum notes of a chain file another node served — what a node that joined by
    /// state sync adopts, since it never applied the hand-overs below its floor — once the
    /// whole chain verifies link by link from `genesis` (the genesis committee). Notes already
    /// held are kept. Returns how many were added; on an error nothing is.
    pub fn adopt(&self, genesis: Committee, chain_file: &[u8]) -> Result<usize, String> {
        let notes = split_handover_chain(chain_file).map_err(|e| e.to_string())?;
        CommitteeChain::verify(&self.origin, genesis, &notes).map_err(|e| e.to_string())?;
        let mut book = self.book.lock().map_err(|_| "poisoned".to_owned())?;
        let mut added = 0;
        for note in notes {
            let (_, committee) = parse_handover_unverified(note).map_err(|e| e.to_string())?;
            let epoch = committee.epoch;
            if book.notes.contains_key(&epoch) {
                continue;
            }
            self.store(epoch, note)
                .map_err(|e| format!("storing the hand-over note of epoch {epoch}: {e}"))?;
            book.pending.remove(&epoch);
            book.notes.insert(epoch, note.to_vec());
            added += 1;
        }
        Ok(added)
    }

    /// Writes a quorum note durably: temp file, fsync, rename, fsync of the directory.
    fn store(&self, epoch: u64, note: &[u8]) -> std::io::Result<()> {
        let path = note_path(&self.dir, epoch);
        let tmp = path.with_extension("tmp");
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(note)?;
        file.sync_all()?;
        std::fs::rename(&tmp, &path)?;
        std::fs::File::open(&self.dir)?.sync_all()
    }

    /// What to re-broadcast after applying `height`: this validator's own lines for hand-overs
    /// within [`REBROADCAST_WINDOW_BLOCKS`] of their epoch's start (every
    /// [`REBROADCAST_EVERY_BLOCKS`]), or for any epoch a peer is still collecting.
    pub fn tick(&self, height: u64) -> Vec<Vec<u8>> {
        if !height.is_multiple_of(REBROADCAST_EVERY_BLOCKS) {
            return Vec::new();
        }
        let Ok(mut book) = self.book.lock() else {
            return Vec::new();
        };
        let asked = std::mem::take(&mut book.asked);
        book.own
            .iter()
            .filter(|(epoch, _)| {
                let start = epoch.saturating_mul(EPOCH_BLOCKS);
                asked || (height >= start && height - start < REBROADCAST_WINDOW_BLOCKS)
            })
            .map(|(_, m)| m.clone())
            .collect()
    }

    /// The quorum note of the hand-over to `epoch`.
    pub fn note(&self, epoch: u64) -> Option<Vec<u8>> {
        self.book.lock().ok()?.notes.get(&epoch).cloned()
    }

    /// Every quorum note, concatenated in epoch order (a chain file).
    pub fn chain(&self) -> Vec<u8> {
        self.book
            .lock()
            .map(|b| b.notes.values().flatten().copied().collect())
            .unwrap_or_default()
    }

    /// Whether a quorum note for `epoch` is stored.
    pub fn has(&self, epoch: u64) -> bool {
        self.book.lock().is_ok_and(|b| b.notes.contains_key(&epoch))
    }
}

/// `<SIGNATURE_MESSAGE_HEADER>\nepoch <e>\n<the signer's line>`: the body is left out (every
/// receiver computes it from its own state), so the message stays far below the gossip bound
/// whatever the committee size.
fn signature_message(epoch: u64, note: &[u8]) -> Result<Vec<u8>, HandoverError> {
    let text = std::str::from_utf8(note).map_err(|_| HandoverError::MalformedNote)?;
    let (_, line) = text
        .rsplit_once("\n\n")
        .ok_or(HandoverError::MalformedNote)?;
    Ok(format!("{SIGNATURE_MESSAGE_HEADER}\nepoch {epoch}\n{line}").into_bytes())
}

fn parse_signature_message(message: &[u8]) -> Result<(u64, &str), HandoverGossipError> {
    let text = std::str::from_utf8(message).map_err(|_| HandoverGossipError::Malformed)?;
    let rest = text
        .strip_prefix(SIGNATURE_MESSAGE_HEADER)
        .and_then(|r| r.strip_prefix("\nepoch "))
        .ok_or(HandoverGossipError::Malformed)?;
    let (epoch, line) = rest
        .split_once('\n')
        .ok_or(HandoverGossipError::Malformed)?;
    let canonical =
        !epoch.is_empty() && epoch.bytes().all(|b| b.is_ascii_digit()) && !epoch.starts_with('0');
    let epoch = epoch
        .parse::<u64>()
        .ok()
        .filter(|_| canonical)
        .ok_or(HandoverGossipError::Malformed)?;
    // Exactly one signature line, newline-terminated.
    if !line.starts_with("\u{2014} ") || !line.ends_with('\n') || line.matches('\n').count() != 1 {
        return Err(HandoverGossipError::Malformed);
    }
    Ok((epoch, line))
}

/// Whether a gossip message is a hand-over signature (else: a checkpoint cosignature).
pub fn is_handover_message(message: &[u8]) -> bool {
    message.starts_with(SIGNATURE_MESSAGE_HEADER.as_bytes())
}

#[cfg(test)]
mod tests;
