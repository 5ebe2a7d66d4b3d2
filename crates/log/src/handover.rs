//! Committee hand-over notes: how a verifier holding only the genesis learns every later
//! committee (decision 003, step 4; `docs/log-format.md`, "Committee hand-over notes").
//!
//! A hand-over note is a C2SP signed note whose body names the ledger origin, the epoch a new
//! committee takes over and that committee's members with their four public keys, in committee
//! order. It is signed by a quorum of the *outgoing* committee (the one in force just before
//! that epoch), each member with its cosigner key in the `cosignature/v1` framing (timestamp:
//! the boundary block's time). A chain of such notes, epochs strictly increasing, starting from
//! the genesis committee, is verified link by link by [`CommitteeChain::verify`].
//!
//! Why cosigner keys: they are the keys whose quorum already certifies the ledger's tree heads,
//! their names are distinct per validator (genesis and the validator-set rules enforce it), so
//! a note's lines say who signed; and the body's first two lines can never be a checkpoint's
//! (line 2 is not a decimal tree size), so such a cosignature can never be taken for a
//! checkpoint cosignature, nor the note for a checkpoint.
//!
//! Pure: no I/O, no clock. Every bound is a constant here.

use proverka_statement::PublicKey;
use signed_note::{Note, Signature, Verifier, VerifierList};

use crate::certified::ValidatorSet;
use crate::checkpoint::{
    check_origin, cosignature_timestamp, parse_note, CosignatureSigner, NoteKey, NoteVerifier,
    KEY_TYPE_COSIGNATURE_V1, KEY_TYPE_ED25519, MAX_COSIGNATURE_TIMESTAMP,
};

/// The first line of every hand-over note body. It holds spaces, which no Proverka origin can
/// (the origin is a note key name), and the line after it is not a decimal number, so a
/// hand-over note never parses as a C2SP checkpoint.
pub const HANDOVER_HEADER: &str = "proverka committee hand-over/v1";
/// Most members of a committee (the ledger's `validators::MAX_VALIDATORS`).
pub const MAX_HANDOVER_MEMBERS: usize = 100;
/// Largest hand-over note accepted: 100 members with the longest keys (≈ 850 bytes each) and
/// 100 signature lines (≈ 370 bytes each) fit with room to spare.
pub const MAX_HANDOVER_NOTE_BYTES: usize = 256 * 1024;
/// Most hand-over notes in one chain (one per epoch at most; 10,000 epochs of 10,000 blocks
/// is more than three years of one block a second).
pub const MAX_HANDOVER_CHAIN_NOTES: usize = 10_000;

/// Why a hand-over note or chain is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HandoverError {
    /// Larger than [`MAX_HANDOVER_NOTE_BYTES`].
    #[error("hand-over note of {0} bytes, more than {MAX_HANDOVER_NOTE_BYTES}")]
    TooLarge(usize),
    /// Not a well-formed signed note (framing, UTF-8, signature lines).
    #[error("malformed signed note")]
    MalformedNote,
    /// The body does not start with [`HANDOVER_HEADER`].
    #[error("not a committee hand-over note")]
    NotAHandover,
    /// The body is not laid out as `docs/log-format.md` §4.2 says.
    #[error("malformed hand-over body: {0}")]
    MalformedBody(&'static str),
    /// A member's key does not decode, or has the wrong type or name.
    #[error("member {index}: {reason}")]
    BadMember { index: usize, reason: String },
    /// No members, or more than [`MAX_HANDOVER_MEMBERS`].
    #[error("{0} members: a committee has 1 to {MAX_HANDOVER_MEMBERS}")]
    MemberCount(usize),
    /// Two members share a consensus key or a cosigner key name.
    #[error("member {0} repeats another member's consensus key or cosigner key name")]
    DuplicateMember(usize),
    /// The note names another ledger.
    #[error("hand-over origin {found:?} is not {expected:?}")]
    WrongOrigin { expected: String, found: String },
    /// Epoch 0 is genesis's; a hand-over names a later one.
    #[error("a hand-over names an epoch after 0")]
    EpochZero,
    /// The chain's epochs do not strictly increase.
    #[error("hand-over to epoch {found} follows the one to epoch {previous}")]
    EpochOrder { previous: u64, found: u64 },
    /// A signature line by an outgoing member does not verify.
    #[error("invalid signature by {name}+{id:08x}")]
    InvalidSignature { name: String, id: u32 },
    /// Fewer distinct outgoing members signed than the quorum.
    #[error("{have} valid signatures of the outgoing committee, {need} required")]
    QuorumNotMet { have: usize, need: usize },
    /// More notes than [`MAX_HANDOVER_CHAIN_NOTES`].
    #[error("more than {MAX_HANDOVER_CHAIN_NOTES} hand-over notes")]
    ChainTooLong,
    /// A timestamp above 2^63 - 1, or a signing key with an invalid name.
    #[error("cannot sign: {0}")]
    Signing(String),
}

/// One committee member's public keys, as in the genesis `validator_keys` entries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitteeMember {
    /// Consensus key, 32 bytes, lowercase hex.
    pub validator: String,
    /// Receipt signing key, a COSE_Key in lowercase hex.
    pub receipt_key: String,
    /// Checkpoint verifier key (type 0x01, name = the origin).
    pub checkpoint_vkey: String,
    /// tlog-cosignature/v1 verifier key (type 0x04).
    pub cosigner_vkey: String,
}

/// A committee and the epoch from which it is in force.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Committee {
    pub epoch: u64,
    pub members: Vec<CommitteeMember>,
}

impl Committee {
    /// Signatures needed from this committee: all but `f = (n - 1) / 3` (the simplex quorum,
    /// as `Genesis::quorum`).
    pub fn quorum(&self) -> usize {
        let n = self.members.len();
        n - n.saturating_sub(1) / 3
    }

    /// The keys a verifier checks this committee's receipts and quorum checkpoints with.
    pub fn validator_set(&self, origin: &str) -> Result<ValidatorSet, HandoverError> {
        let receipt_keys = self
            .members
            .iter()
            .enumerate()
            .map(|(index, m)| receipt_key(index, &m.receipt_key))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ValidatorSet {
            origin: origin.to_owned(),
            receipt_keys,
            checkpoint_vkeys: self
                .members
                .iter()
                .map(|m| m.checkpoint_vkey.clone())
                .collect(),
            cosigner_vkeys: self
                .members
                .iter()
                .map(|m| m.cosigner_vkey.clone())
                .collect(),
            quorum: self.quorum(),
        })
    }

    /// Checks every member's keys (as a verifier will) and that members are distinct.
    pub fn check(&self, origin: &str) -> Result<(), HandoverError> {
        if self.members.is_empty() || self.members.len() > MAX_HANDOVER_MEMBERS {
            return Err(HandoverError::MemberCount(self.members.len()));
        }
        let mut seen = std::collections::BTreeSet::new();
        for (index, m) in self.members.iter().enumerate() {
            check_member(index, m, origin)?;
            let name = m.cosigner_vkey.split('+').next().unwrap_or_default();
            if !seen.insert(("v", m.validator.as_str())) || !seen.insert(("c", name)) {
                return Err(HandoverError::DuplicateMember(index));
            }
        }
        Ok(())
    }

    fn cosigner_verifiers(&self) -> Result<Vec<Box<dyn Verifier>>, HandoverError> {
        self.members
            .iter()
            .enumerate()
            .map(|(index, m)| {
                NoteVerifier::parse(&m.cosigner_vkey, KEY_TYPE_COSIGNATURE_V1)
                    .map(|v| Box::new(v) as Box<dyn Verifier>)
                    .map_err(|e| bad(index, e))
            })
            .collect()
    }
}

fn bad(index: usize, reason: impl ToString) -> HandoverError {
    HandoverError::BadMember {
        index,
        reason: reason.to_string(),
    }
}

fn receipt_key(index: usize, hex_key: &str) -> Result<PublicKey, HandoverError> {
    let bytes = hex::decode(hex_key).map_err(|e| bad(index, format!("receipt key: {e}")))?;
    PublicKey::from_cose_key(&bytes).map_err(|e| bad(index, format!("receipt key: {e}")))
}

fn check_member(index: usize, m: &CommitteeMember, origin: &str) -> Result<(), HandoverError> {
    let fields = [
        &m.validator,
        &m.receipt_key,
        &m.checkpoint_vkey,
        &m.cosigner_vkey,
    ];
    if fields
        .iter()
        .any(|f| f.is_empty() || f.chars().any(char::is_whitespace))
    {
        return Err(bad(index, "a key is empty or holds whitespace"));
    }
    let is_lower_hex = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    if m.validator.len() != 64 || !is_lower_hex(&m.validator) {
        return Err(bad(index, "consensus key is not 32 bytes of lowercase hex"));
    }
    if !is_lower_hex(&m.receipt_key) {
        return Err(bad(index, "receipt key is not lowercase hex"));
    }
    receipt_key(index, &m.receipt_key)?;
    let checkpoint = NoteVerifier::parse(&m.checkpoint_vkey, KEY_TYPE_ED25519)
        .map_err(|e| bad(index, format!("checkpoint key: {e}")))?;
    if checkpoint.name != origin {
        return Err(bad(index, "checkpoint key is not named by the origin"));
    }
    NoteVerifier::parse(&m.cosigner_vkey, KEY_TYPE_COSIGNATURE_V1)
        .map_err(|e| bad(index, format!("cosigner key: {e}")))?;
    Ok(())
}

/// The body of the hand-over to `committee` (its `epoch` ≥ 1) on ledger `origin`:
///
/// ```text
/// proverka committee hand-over/v1
/// origin <origin>
/// epoch <epoch, decimal>
/// member <consensus hex> <receipt key hex> <checkpoint vkey> <cosigner vkey>   (one per member)
/// ```
pub fn handover_body(origin: &str, committee: &Committee) -> Result<Vec<u8>, HandoverError> {
    check_origin(origin).map_err(|_| HandoverError::MalformedBody("origin"))?;
    if origin.chars().any(char::is_whitespace) {
        return Err(HandoverError::MalformedBody("origin"));
    }
    if committee.epoch == 0 {
        return Err(HandoverError::EpochZero);
    }
    committee.check(origin)?;
    let mut body = format!(
        "{HANDOVER_HEADER}\norigin {origin}\nepoch {}\n",
        committee.epoch
    );
    for m in &committee.members {
        body.push_str(&format!(
            "member {} {} {} {}\n",
            m.validator, m.receipt_key, m.checkpoint_vkey, m.cosigner_vkey
        ));
    }
    Ok(body.into_bytes())
}

/// Parses a hand-over body; returns its origin and committee (keys checked, no signatures).
fn parse_body(text: &[u8]) -> Result<(String, Committee), HandoverError> {
    let text = std::str::from_utf8(text).map_err(|_| HandoverError::MalformedNote)?;
    let mut lines = text.lines();
    if lines.next() != Some(HANDOVER_HEADER) {
        return Err(HandoverError::NotAHandover);
    }
    let origin = lines.next().and_then(|l| l.strip_prefix("origin ")).ok_or(
        HandoverError::MalformedBody("line 2 is not `origin <origin>`"),
    )?;
    let epoch = lines
        .next()
        .and_then(|l| l.strip_prefix("epoch "))
        .filter(|e| is_canonical_decimal(e))
        .and_then(|e| e.parse::<u64>().ok())
        .ok_or(HandoverError::MalformedBody(
            "line 3 is not `epoch <decimal>`",
        ))?;
    if epoch == 0 {
        return Err(HandoverError::EpochZero);
    }
    let mut members = Vec::new();
    for line in lines {
        if members.len() == MAX_HANDOVER_MEMBERS {
            return Err(HandoverError::MemberCount(MAX_HANDOVER_MEMBERS + 1));
        }
        let fields: Vec<&str> = line
            .strip_prefix("member ")
            .ok_or(HandoverError::MalformedBody(
                "a line after the epoch is not a member",
            ))?
            .split(' ')
            .collect();
        let [validator, receipt_key, checkpoint_vkey, cosigner_vkey] = fields[..] else {
            return Err(HandoverError::MalformedBody("a member line has not 4 keys"));
        };
        members.push(CommitteeMember {
            validator: validator.to_owned(),
            receipt_key: receipt_key.to_owned(),
            checkpoint_vkey: checkpoint_vkey.to_owned(),
            cosigner_vkey: cosigner_vkey.to_owned(),
        });
    }
    let committee = Committee { epoch, members };
    // Canonical form only: the body must be exactly what `handover_body` writes.
    if handover_body(origin, &committee)? != text.as_bytes() {
        return Err(HandoverError::MalformedBody("not in canonical form"));
    }
    Ok((origin.to_owned(), committee))
}

fn is_canonical_decimal(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'))
}

fn parse(note: &[u8]) -> Result<Note, HandoverError> {
    if note.len() > MAX_HANDOVER_NOTE_BYTES {
        return Err(HandoverError::TooLarge(note.len()));
    }
    parse_note(note).map_err(|_| HandoverError::MalformedNote)
}

/// Signs the hand-over to `committee` with `cosigner` (a member of the outgoing committee) at
/// `timestamp` (POSIX seconds, the boundary block's time); returns the note with that one line.
pub fn sign_handover(
    origin: &str,
    committee: &Committee,
    cosigner: &NoteKey,
    timestamp: u64,
) -> Result<Vec<u8>, HandoverError> {
    if timestamp > MAX_COSIGNATURE_TIMESTAMP {
        return Err(HandoverError::Signing("timestamp above 2^63 - 1".into()));
    }
    let body = handover_body(origin, committee)?;
    let mut note = Note::new(&body, &[]).map_err(|_| HandoverError::MalformedNote)?;
    note.add_sigs(&[&CosignatureSigner {
        key: cosigner,
        timestamp,
    }])
    .map_err(|e| HandoverError::Signing(e.to_string()))?;
    Ok(note.to_bytes())
}

/// Parses a hand-over note without verifying any signature (to learn its epoch before
/// choosing keys). Never trust the result.
pub fn parse_handover_unverified(note: &[u8]) -> Result<(String, Committee), HandoverError> {
    parse_body(parse(note)?.text())
}

/// A hand-over note whose signatures verified against the outgoing committee.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedHandover {
    /// The committee taking over, at its epoch.
    pub committee: Committee,
    /// Indexes (in the outgoing committee) of the members whose signature verified, ascending.
    pub signers: Vec<usize>,
    /// The note rebuilt from the body and the verified lines only (in signer order): what a
    /// node stores and serves, whatever else the received note carried.
    pub note: Vec<u8>,
}

/// Verifies a hand-over note of ledger `origin` against the `outgoing` committee: at least
/// `min_signers` distinct outgoing members' `cosignature/v1` lines verify (a line by an
/// outgoing member's key that does not verify fails the note; lines by other keys are
/// ignored). Use `outgoing.quorum()` for a link of a chain; a node collecting signatures uses 1.
pub fn verify_handover(
    note: &[u8],
    origin: &str,
    outgoing: &Committee,
    min_signers: usize,
) -> Result<VerifiedHandover, HandoverError> {
    let parsed = parse(note)?;
    let (found, committee) = parse_body(parsed.text())?;
    if found != origin {
        return Err(HandoverError::WrongOrigin {
            expected: origin.to_owned(),
            found,
        });
    }
    let verifiers = VerifierList::new(outgoing.cosigner_verifiers()?);
    let verified = match parsed.verify(&verifiers) {
        Ok((verified, _)) => verified,
        Err(signed_note::NoteError::UnverifiedNote) => Vec::new(),
        Err(signed_note::NoteError::InvalidSignature { name, id }) => {
            return Err(HandoverError::InvalidSignature { name, id })
        }
        Err(_) => return Err(HandoverError::MalformedNote),
    };
    let mut lines: Vec<(usize, Signature)> = verified
        .into_iter()
        .filter(|s| cosignature_timestamp(s.signature()).is_some())
        .filter_map(|s| Some((signer_index(outgoing, &s)?, s)))
        .collect();
    lines.sort_by_key(|(i, _)| *i);
    lines.dedup_by_key(|(i, _)| *i);
    if lines.len() < min_signers.max(1) {
        return Err(HandoverError::QuorumNotMet {
            have: lines.len(),
            need: min_signers.max(1),
        });
    }
    let sigs: Vec<Signature> = lines.iter().map(|(_, s)| s.clone()).collect();
    let rebuilt = Note::new(parsed.text(), &sigs).map_err(|_| HandoverError::MalformedNote)?;
    Ok(VerifiedHandover {
        committee,
        signers: lines.iter().map(|(i, _)| *i).collect(),
        note: rebuilt.to_bytes(),
    })
}

/// The index of the outgoing member whose cosigner key made `sig`.
fn signer_index(outgoing: &Committee, sig: &Signature) -> Option<usize> {
    outgoing.members.iter().position(|m| {
        NoteVerifier::parse(&m.cosigner_vkey, KEY_TYPE_COSIGNATURE_V1)
            .is_ok_and(|v| v.name == sig.name() && v.id == sig.id())
    })
}

/// Joins the signature lines of several notes with the same body into one note (lines by the
/// same key counted once). Verifies nothing: pass the result to [`verify_handover`].
pub fn merge_handover_notes(notes: &[&[u8]]) -> Result<Vec<u8>, HandoverError> {
    let mut body: Option<Vec<u8>> = None;
    let mut sigs: Vec<Signature> = Vec::new();
    for note in notes {
        let parsed = parse(note)?;
        match &body {
            Some(b) if b.as_slice() != parsed.text() => {
                return Err(HandoverError::MalformedBody("notes of different bodies"))
            }
            Some(_) => {}
            None => body = Some(parsed.text().to_vec()),
        }
        // Re-read the lines through the parser: `Note` keeps them private.
        let text = std::str::from_utf8(note).map_err(|_| HandoverError::MalformedNote)?;
        let (_, lines) = text
            .rsplit_once("\n\n")
            .ok_or(HandoverError::MalformedNote)?;
        for line in lines.lines() {
            let sig =
                Signature::from_bytes(line.as_bytes()).map_err(|_| HandoverError::MalformedNote)?;
            if !sigs
                .iter()
                .any(|s| s.name() == sig.name() && s.id() == sig.id())
            {
                sigs.push(sig);
            }
        }
    }
    let body = body.ok_or(HandoverError::MalformedNote)?;
    let note = Note::new(&body, &sigs).map_err(|_| HandoverError::MalformedNote)?;
    let bytes = note.to_bytes();
    if bytes.len() > MAX_HANDOVER_NOTE_BYTES {
        return Err(HandoverError::TooLarge(bytes.len()));
    }
    Ok(bytes)
}

/// Splits a concatenation of hand-over notes (the `GET /validators/epochs` body and the CLI's
/// `--handovers` file) into notes: each starts at a line equal to [`HANDOVER_HEADER`], which no
/// signature line can be. Empty input is the empty chain.
pub fn split_handover_chain(bytes: &[u8]) -> Result<Vec<&[u8]>, HandoverError> {
    let header = format!("{HANDOVER_HEADER}\n");
    let mut starts = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        if !bytes[at..].starts_with(header.as_bytes()) {
            return Err(HandoverError::NotAHandover);
        }
        starts.push(at);
        if starts.len() > MAX_HANDOVER_CHAIN_NOTES {
            return Err(HandoverError::ChainTooLong);
        }
        // The next note starts after a newline followed by the header.
        let next = find(
            &bytes[at + header.len()..],
            format!("\n{header}").as_bytes(),
        )
        .map(|i| at + header.len() + i + 1);
        at = next.unwrap_or(bytes.len());
    }
    starts.push(bytes.len());
    Ok(starts.windows(2).map(|w| &bytes[w[0]..w[1]]).collect())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The committees of a ledger, from genesis through every verified hand-over.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitteeChain {
    origin: String,
    /// Ascending epochs; the first is the genesis committee at epoch 0.
    committees: Vec<Committee>,
}

impl CommitteeChain {
    /// The chain with no hand-over: the genesis committee for every epoch.
    pub fn genesis(origin: &str, mut genesis: Committee) -> Result<Self, HandoverError> {
        genesis.epoch = 0;
        genesis.check(origin)?;
        Ok(Self {
            origin: origin.to_owned(),
            committees: vec![genesis],
        })
    }

    /// Verifies `notes` (epochs strictly increasing) link by link from the genesis committee:
    /// each must be signed by a quorum of distinct members of the committee before it.
    pub fn verify(
        origin: &str,
        genesis: Committee,
        notes: &[&[u8]],
    ) -> Result<Self, HandoverError> {
        if notes.len() > MAX_HANDOVER_CHAIN_NOTES {
            return Err(HandoverError::ChainTooLong);
        }
        let mut chain = Self::genesis(origin, genesis)?;
        for note in notes {
            chain.push(note)?;
        }
        Ok(chain)
    }

    /// Verifies one more link against the latest committee and appends it.
    pub fn push(&mut self, note: &[u8]) -> Result<&Committee, HandoverError> {
        if self.committees.len() > MAX_HANDOVER_CHAIN_NOTES {
            return Err(HandoverError::ChainTooLong);
        }
        let outgoing = self.latest();
        let (_, unverified) = parse_handover_unverified(note)?;
        if unverified.epoch <= outgoing.epoch {
            return Err(HandoverError::EpochOrder {
                previous: outgoing.epoch,
                found: unverified.epoch,
            });
        }
        let verified = verify_handover(note, &self.origin, outgoing, outgoing.quorum())?;
        self.committees.push(verified.committee);
        Ok(self.latest())
    }

    /// The committee in force at `epoch`: the latest at or before it.
    pub fn committee_at(&self, epoch: u64) -> &Committee {
        let after = self.committees.partition_point(|c| c.epoch <= epoch);
        // The genesis committee (epoch 0) is always first, so `after` ≥ 1.
        &self.committees[after.saturating_sub(1)]
    }

    /// The latest committee.
    pub fn latest(&self) -> &Committee {
        // Never empty: built with the genesis committee.
        &self.committees[self.committees.len() - 1]
    }

    /// Every committee, genesis first.
    pub fn committees(&self) -> &[Committee] {
        &self.committees
    }

    /// Each committee's first epoch and its members' consensus keys (hex), genesis first: what
    /// finalization certificates are checked with (`proverka_lightclient`'s `*_in_chain`).
    pub fn consensus_keys(&self) -> Vec<(u64, Vec<String>)> {
        self.committees
            .iter()
            .map(|c| {
                let keys = c.members.iter().map(|m| m.validator.clone()).collect();
                (c.epoch, keys)
            })
            .collect()
    }

    /// Each committee's first epoch and its members' receipt keys (COSE_Key, hex), in the
    /// order of [`CommitteeChain::consensus_keys`]: what a passport's EAR is checked with.
    pub fn receipt_keys(&self) -> Vec<(u64, Vec<String>)> {
        self.committees
            .iter()
            .map(|c| {
                let keys = c.members.iter().map(|m| m.receipt_key.clone()).collect();
                (c.epoch, keys)
            })
            .collect()
    }

    /// The ledger origin.
    pub fn origin(&self) -> &str {
        &self.origin
    }
}
