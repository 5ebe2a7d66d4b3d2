//! Checkpoints (C2SP tlog-checkpoint) as signed notes (C2SP signed-note), and their
//! cosignatures (C2SP tlog-cosignature, `cosignature/v1`, Ed25519).
//!
//! Notes are parsed, formatted and matched to keys by `signed_note`; checkpoint bodies by
//! `tlog_tiles::Checkpoint`. This module adds the key handling, the cosignature signer and
//! verifier, and verifies every Ed25519 signature with `ed25519-consensus` (the project's single
//! Ed25519 rule set).

use crate::merkle::Hash;
use base64::prelude::{Engine, BASE64_STANDARD};
use ed25519_dalek::{Signer as _, SigningKey};
use signed_note::{Note, NoteError, Signer, Verifier, VerifierList};
use tlog_tiles::Checkpoint;

/// Largest signed note accepted (the `signed_note` parser's own bound).
pub const MAX_NOTE_BYTES: usize = 1_000_000;
/// Most signature lines in a note (the `signed_note` parser's own bound).
pub const MAX_NOTE_SIGNATURES: usize = 100;
/// Longest origin line accepted or produced.
pub const MAX_ORIGIN_LEN: usize = 256;
/// Longest key name accepted.
pub const MAX_KEY_NAME_LEN: usize = 256;
/// Largest cosignature timestamp (C2SP: it MUST NOT exceed 2^63 - 1).
pub const MAX_COSIGNATURE_TIMESTAMP: u64 = i64::MAX as u64;

/// signed-note signature type of a plain Ed25519 note key (the log's checkpoint key).
pub const KEY_TYPE_ED25519: u8 = 0x01;
/// signed-note signature type of a tlog-cosignature/v1 Ed25519 cosigner key.
pub const KEY_TYPE_COSIGNATURE_V1: u8 = 0x04;

/// Errors of key handling, checkpoint signing and verification.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CheckpointError {
    /// A key name that is empty, too long, or contains whitespace or `+`.
    #[error("invalid key name")]
    InvalidKeyName,
    /// A key string not of the form the C2SP signed-note spec gives.
    #[error("malformed key: {0}")]
    MalformedKey(&'static str),
    /// A key whose id is not the hash of its name and public key.
    #[error("key id does not match the key")]
    KeyIdMismatch,
    /// A verifier key of another signature type than the operation needs.
    #[error("unsupported key type 0x{0:02x}")]
    UnsupportedKeyType(u8),
    /// An origin that is empty, too long or holds control characters.
    #[error("invalid origin line")]
    InvalidOrigin,
    /// Not a well-formed signed note.
    #[error("malformed signed note")]
    MalformedNote,
    /// The note body is not a well-formed checkpoint.
    #[error("malformed checkpoint body")]
    MalformedCheckpoint,
    /// The checkpoint names another log.
    #[error("checkpoint origin {found:?} is not {expected:?}")]
    WrongOrigin { expected: String, found: String },
    /// The note carries no signature by the expected key.
    #[error("no signature by the expected key")]
    MissingSignature,
    /// A signature line claims a known key but does not verify.
    #[error("invalid signature by {name}+{id:08x}")]
    InvalidSignature { name: String, id: u32 },
    /// Fewer valid cosignatures than required.
    #[error("{have} valid cosignatures, {need} required")]
    QuorumNotMet { have: usize, need: usize },
    /// A cosignature timestamp above 2^63 - 1.
    #[error("cosignature timestamp above 2^63 - 1")]
    TimestampTooLarge,
    /// The epoch extension line is repeated, not canonical decimal, or names epoch 0.
    #[error("malformed `proverka-epoch` extension line")]
    MalformedEpoch,
}

impl From<NoteError> for CheckpointError {
    fn from(e: NoteError) -> Self {
        match e {
            NoteError::InvalidSignature { name, id } => {
                CheckpointError::InvalidSignature { name, id }
            }
            NoteError::UnverifiedNote => CheckpointError::MissingSignature,
            _ => CheckpointError::MalformedNote,
        }
    }
}

fn check_key_name(name: &str) -> Result<(), CheckpointError> {
    if name.len() > MAX_KEY_NAME_LEN || !signed_note::is_key_name_valid(name) {
        return Err(CheckpointError::InvalidKeyName);
    }
    Ok(())
}

/// Returns the signed-note key id: SHA-256(name || "\n" || type || public key)[:4].
fn key_id(name: &str, key_type: u8, public: &[u8; 32]) -> u32 {
    let mut typed = Vec::with_capacity(33);
    typed.push(key_type);
    typed.extend_from_slice(public);
    signed_note::key_id(name, &typed)
}

/// An Ed25519 note signing key with its name: the log's checkpoint key or a cosigner's key.
///
/// One key should serve one role: C2SP requires distinct keys for distinct cosigners, and a
/// cosigner key must not also sign checkpoints.
#[derive(Clone)]
pub struct NoteKey {
    name: String,
    key: SigningKey,
}

impl std::fmt::Debug for NoteKey {
    // Never prints the secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NoteKey({})", self.verifier_key())
    }
}

impl NoteKey {
    /// Generates a fresh key from the operating system's RNG.
    pub fn generate(name: &str) -> Result<Self, CheckpointError> {
        check_key_name(name)?;
        let key = SigningKey::generate(&mut rand_core::OsRng);
        Ok(Self {
            name: name.to_owned(),
            key,
        })
    }

    /// Builds a key from a 32-byte Ed25519 seed (deterministic; for tests and key import).
    pub fn from_seed(name: &str, seed: &[u8; 32]) -> Result<Self, CheckpointError> {
        check_key_name(name)?;
        Ok(Self {
            name: name.to_owned(),
            key: SigningKey::from_bytes(seed),
        })
    }

    /// Parses a C2SP/Go private key string `PRIVATE+KEY+<name>+<hex id>+<base64(0x01 || seed)>`.
    pub fn from_private_key_string(s: &str) -> Result<Self, CheckpointError> {
        // signed_note validates the layout, the name, the algorithm and the key id.
        signed_note::StandardSigner::new(s).map_err(|e| match e {
            signed_note::SignerError::Id => CheckpointError::KeyIdMismatch,
            _ => CheckpointError::MalformedKey("private key"),
        })?;
        // Validated above: PRIVATE+KEY+<name>+<id>+<base64(0x01 || 32-byte seed)>.
        let parts: Vec<&str> = s.splitn(5, '+').collect();
        let (Some(name), Some(encoded)) = (parts.get(2), parts.get(4)) else {
            return Err(CheckpointError::MalformedKey("private key layout"));
        };
        let raw = BASE64_STANDARD
            .decode(encoded)
            .map_err(|_| CheckpointError::MalformedKey("base64"))?;
        let seed: [u8; 32] = raw
            .get(1..)
            .and_then(|s| s.try_into().ok())
            .ok_or(CheckpointError::MalformedKey("seed length"))?;
        Self::from_seed(name, &seed)
    }

    /// Returns the private key string `PRIVATE+KEY+<name>+<hex id>+<base64(0x01 || seed)>`.
    pub fn to_private_key_string(&self) -> String {
        let mut raw = vec![KEY_TYPE_ED25519];
        raw.extend_from_slice(&self.key.to_bytes());
        format!(
            "PRIVATE+KEY+{}+{:08x}+{}",
            self.name,
            self.key_id(),
            BASE64_STANDARD.encode(raw)
        )
    }

    /// Returns the key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Returns the 32-byte Ed25519 public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }

    /// Returns the key id as a checkpoint signer (type 0x01).
    pub fn key_id(&self) -> u32 {
        key_id(&self.name, KEY_TYPE_ED25519, &self.public_key())
    }

    /// Returns the key id as a tlog-cosignature/v1 cosigner (type 0x04).
    pub fn cosigner_key_id(&self) -> u32 {
        key_id(&self.name, KEY_TYPE_COSIGNATURE_V1, &self.public_key())
    }

    /// Returns the verifier key `<name>+<hex id>+<base64(0x01 || public key)>` for checkpoints.
    pub fn verifier_key(&self) -> String {
        self.vkey(KEY_TYPE_ED25519)
    }

    /// Returns the verifier key `<name>+<hex id>+<base64(0x04 || public key)>` of this key as a
    /// tlog-cosignature/v1 cosigner.
    pub fn cosigner_verifier_key(&self) -> String {
        self.vkey(KEY_TYPE_COSIGNATURE_V1)
    }

    fn vkey(&self, key_type: u8) -> String {
        let public = self.public_key();
        let mut raw = vec![key_type];
        raw.extend_from_slice(&public);
        format!(
            "{}+{:08x}+{}",
            self.name,
            key_id(&self.name, key_type, &public),
            BASE64_STANDARD.encode(raw)
        )
    }
}

/// Signs note text with a log key: a plain Ed25519 signature over the text.
struct LogSigner<'a>(&'a NoteKey);

impl Signer for LogSigner<'_> {
    fn name(&self) -> &str {
        &self.0.name
    }
    fn key_id(&self) -> u32 {
        self.0.key_id()
    }
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, ed25519_dalek::SignatureError> {
        Ok(self.0.key.sign(msg).to_bytes().to_vec())
    }
}

/// Returns the message a cosigner signs: two header lines, then the checkpoint body.
fn cosigned_message(timestamp: u64, body: &[u8]) -> Vec<u8> {
    let mut msg = format!("cosignature/v1\ntime {timestamp}\n").into_bytes();
    msg.extend_from_slice(body);
    msg
}

/// Cosigns note text: timestamp (8 bytes, big-endian) || Ed25519 over the cosigned message.
pub(crate) struct CosignatureSigner<'a> {
    pub(crate) key: &'a NoteKey,
    pub(crate) timestamp: u64,
}

impl Signer for CosignatureSigner<'_> {
    fn name(&self) -> &str {
        &self.key.name
    }
    fn key_id(&self) -> u32 {
        self.key.cosigner_key_id()
    }
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, ed25519_dalek::SignatureError> {
        let sig = self.key.key.sign(&cosigned_message(self.timestamp, msg));
        let mut out = self.timestamp.to_be_bytes().to_vec();
        out.extend_from_slice(&sig.to_bytes());
        Ok(out)
    }
}

/// A parsed verifier key (`<name>+<hex id>+<base64(type || key)>`), verifying with
/// `ed25519-consensus`.
pub(crate) struct NoteVerifier {
    pub(crate) name: String,
    pub(crate) id: u32,
    key_type: u8,
    key: ed25519_consensus::VerificationKey,
}

impl NoteVerifier {
    pub(crate) fn parse(vkey: &str, want_type: u8) -> Result<Self, CheckpointError> {
        let mut parts = vkey.splitn(3, '+');
        let (Some(name), Some(id_hex), Some(encoded)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(CheckpointError::MalformedKey("verifier key layout"));
        };
        check_key_name(name)?;
        if id_hex.len() != 8 || !id_hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(CheckpointError::MalformedKey("key id"));
        }
        let id =
            u32::from_str_radix(id_hex, 16).map_err(|_| CheckpointError::MalformedKey("key id"))?;
        let raw = BASE64_STANDARD
            .decode(encoded)
            .map_err(|_| CheckpointError::MalformedKey("base64"))?;
        let (&key_type, public) = raw
            .split_first()
            .ok_or(CheckpointError::MalformedKey("empty key"))?;
        if key_type != want_type {
            return Err(CheckpointError::UnsupportedKeyType(key_type));
        }
        let public: [u8; 32] = public
            .try_into()
            .map_err(|_| CheckpointError::MalformedKey("public key length"))?;
        if key_id(name, key_type, &public) != id {
            return Err(CheckpointError::KeyIdMismatch);
        }
        let key = ed25519_consensus::VerificationKey::try_from(public)
            .map_err(|_| CheckpointError::MalformedKey("not an Ed25519 point"))?;
        Ok(Self {
            name: name.to_owned(),
            id,
            key_type,
            key,
        })
    }

    fn verify_ed25519(&self, msg: &[u8], sig: &[u8]) -> bool {
        let Ok(sig) = <[u8; 64]>::try_from(sig) else {
            return false;
        };
        self.key
            .verify(&ed25519_consensus::Signature::from(sig), msg)
            .is_ok()
    }
}

impl Verifier for NoteVerifier {
    fn name(&self) -> &str {
        &self.name
    }
    fn key_id(&self) -> u32 {
        self.id
    }
    fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        if self.key_type == KEY_TYPE_ED25519 {
            return self.verify_ed25519(msg, sig);
        }
        match cosignature_timestamp(sig) {
            Some(ts) => self.verify_ed25519(&cosigned_message(ts, msg), &sig[8..]),
            None => false,
        }
    }
}

/// Returns the timestamp of a 72-byte cosignature, if within range.
pub(crate) fn cosignature_timestamp(sig: &[u8]) -> Option<u64> {
    if sig.len() != 72 {
        return None;
    }
    let ts = u64::from_be_bytes(sig[..8].try_into().ok()?);
    (ts <= MAX_COSIGNATURE_TIMESTAMP).then_some(ts)
}

pub(crate) fn check_origin(origin: &str) -> Result<(), CheckpointError> {
    if origin.is_empty() || origin.len() > MAX_ORIGIN_LEN || origin.chars().any(char::is_control) {
        return Err(CheckpointError::InvalidOrigin);
    }
    Ok(())
}

/// Returns the checkpoint body `<origin>\n<size>\n<base64 root>\n` (no extension lines).
pub fn checkpoint_body(origin: &str, size: u64, root: &Hash) -> Result<Vec<u8>, CheckpointError> {
    check_origin(origin)?;
    let cp = Checkpoint::new(origin, size, tlog_tiles::Hash(*root), "")
        .map_err(|_| CheckpointError::InvalidOrigin)?;
    Ok(cp.to_bytes())
}

/// Prefix of the extension line naming the epoch whose committee certifies a quorum
/// checkpoint: `proverka-epoch <e>` (decimal, no leading zeroes), present only for epoch ≥ 1,
/// so that epoch-0 checkpoints are byte for byte what they were before epochs existed.
pub const EPOCH_EXTENSION_PREFIX: &str = "proverka-epoch ";

/// The checkpoint body for a tree head certified by the committee of `epoch`: with the
/// `proverka-epoch <e>` extension line when `epoch` ≥ 1, else exactly [`checkpoint_body`].
pub fn checkpoint_body_at_epoch(
    origin: &str,
    size: u64,
    root: &Hash,
    epoch: u64,
) -> Result<Vec<u8>, CheckpointError> {
    if epoch == 0 {
        return checkpoint_body(origin, size, root);
    }
    check_origin(origin)?;
    let extension = format!("{EPOCH_EXTENSION_PREFIX}{epoch}\n");
    let cp = Checkpoint::new(origin, size, tlog_tiles::Hash(*root), &extension)
        .map_err(|_| CheckpointError::InvalidOrigin)?;
    Ok(cp.to_bytes())
}

/// Signs the tree head of log `origin` for the committee of `epoch` (see
/// [`checkpoint_body_at_epoch`]).
pub fn sign_checkpoint_at_epoch(
    key: &NoteKey,
    origin: &str,
    size: u64,
    root: &Hash,
    epoch: u64,
) -> Result<Vec<u8>, CheckpointError> {
    let body = checkpoint_body_at_epoch(origin, size, root, epoch)?;
    let mut note = Note::new(&body, &[])?;
    note.add_sigs(&[&LogSigner(key)])?;
    Ok(note.to_bytes())
}

/// The epoch a checkpoint's extension lines name (0 when no `proverka-epoch` line). Other
/// extension lines are ignored.
pub fn checkpoint_epoch(extensions: &str) -> Result<u64, CheckpointError> {
    let mut found = None;
    for line in extensions.lines() {
        let Some(e) = line.strip_prefix(EPOCH_EXTENSION_PREFIX) else {
            continue;
        };
        let canonical =
            !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit()) && !e.starts_with('0');
        let epoch = e
            .parse::<u64>()
            .ok()
            .filter(|_| canonical)
            .ok_or(CheckpointError::MalformedEpoch)?;
        if found.replace(epoch).is_some() {
            return Err(CheckpointError::MalformedEpoch);
        }
    }
    Ok(found.unwrap_or(0))
}

/// Parses a checkpoint note without verifying any signature and returns the epoch its
/// extension names (0 if none). Never trust the result: it only picks the keys to verify with.
pub fn checkpoint_epoch_unverified(note: &[u8]) -> Result<u64, CheckpointError> {
    let parsed = parse_note(note)?;
    let cp = parse_body(&parsed)?;
    checkpoint_epoch(cp.extension())
}

/// Signs the tree head `(size, root)` of log `origin` as a C2SP checkpoint; returns the signed
/// note text (body, blank line, one signature line by `key`).
pub fn sign_checkpoint(
    key: &NoteKey,
    origin: &str,
    size: u64,
    root: &Hash,
) -> Result<Vec<u8>, CheckpointError> {
    let body = checkpoint_body(origin, size, root)?;
    let mut note = Note::new(&body, &[])?;
    note.add_sigs(&[&LogSigner(key)])?;
    Ok(note.to_bytes())
}

pub(crate) fn parse_note(note: &[u8]) -> Result<Note, CheckpointError> {
    if note.len() > MAX_NOTE_BYTES {
        return Err(CheckpointError::MalformedNote);
    }
    Note::from_bytes(note).map_err(|_| CheckpointError::MalformedNote)
}

fn parse_body(note: &Note) -> Result<Checkpoint, CheckpointError> {
    Checkpoint::from_bytes(note.text()).map_err(|_| CheckpointError::MalformedCheckpoint)
}

/// Adds (or replaces) `cosigner`'s tlog-cosignature/v1 line on a checkpoint note, made at
/// `timestamp` (POSIX seconds).
///
/// Verifies nothing: a cosigner must first check the log signature and consistency with the
/// last checkpoint it cosigned (see [`verify_checkpoint`] and `verify_consistency`).
pub fn cosign_checkpoint(
    note: &[u8],
    cosigner: &NoteKey,
    timestamp: u64,
) -> Result<Vec<u8>, CheckpointError> {
    if timestamp > MAX_COSIGNATURE_TIMESTAMP {
        return Err(CheckpointError::TimestampTooLarge);
    }
    let mut parsed = parse_note(note)?;
    parse_body(&parsed)?;
    parsed.add_sigs(&[&CosignatureSigner {
        key: cosigner,
        timestamp,
    }])?;
    Ok(parsed.to_bytes())
}

/// One signature line of a note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignatureRef {
    /// Key name on the line.
    pub name: String,
    /// Key id on the line.
    pub key_id: u32,
}

/// A verified cosignature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cosignature {
    /// Cosigner key name.
    pub name: String,
    /// Cosigner key id (type 0x04).
    pub key_id: u32,
    /// When the cosigner signed (POSIX seconds).
    pub timestamp: u64,
}

/// A checkpoint whose log signature verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedCheckpoint {
    /// The origin line (equal to the expected origin).
    pub origin: String,
    /// Tree size.
    pub size: u64,
    /// Root hash.
    pub root: Hash,
    /// Extension lines, each ending in `\n` (empty if none).
    pub extensions: String,
    /// Cosignatures verified against the cosigner keys given (empty for [`verify_checkpoint`]).
    pub cosignatures: Vec<Cosignature>,
    /// Signature lines by keys that were not given (not verified).
    pub unverified: Vec<NoteSignatureRef>,
}

/// Verifies a checkpoint note signed by the log key `vkey` (`<name>+<id>+<base64(0x01||key)>`)
/// for log `origin`; other signature lines are listed, not verified.
pub fn verify_checkpoint(
    note: &[u8],
    origin: &str,
    vkey: &str,
) -> Result<VerifiedCheckpoint, CheckpointError> {
    verify_cosigned_checkpoint(note, origin, vkey, &[], 0)
}

/// Verifies a checkpoint note signed by the log key `vkey` for log `origin` and cosigned by at
/// least `quorum` of the cosigners `cosigner_vkeys` (tlog-cosignature/v1, type 0x04 vkeys).
///
/// A line by a known key that does not verify fails the whole note (it is forged or corrupt).
pub fn verify_cosigned_checkpoint(
    note: &[u8],
    origin: &str,
    vkey: &str,
    cosigner_vkeys: &[&str],
    quorum: usize,
) -> Result<VerifiedCheckpoint, CheckpointError> {
    let log = NoteVerifier::parse(vkey, KEY_TYPE_ED25519)?;
    let (log_name, log_id) = (log.name.clone(), log.id);
    let mut verifiers: Vec<Box<dyn Verifier>> = vec![Box::new(log)];
    for v in cosigner_vkeys {
        let v = NoteVerifier::parse(v, KEY_TYPE_COSIGNATURE_V1)?;
        // A key listed twice would make the lookup ambiguous; count it once.
        if !verifiers
            .iter()
            .any(|k| k.name() == v.name && k.key_id() == v.id)
        {
            verifiers.push(Box::new(v));
        }
    }
    let parsed = parse_note(note)?;
    let (verified, unverified) = parsed.verify(&VerifierList::new(verifiers))?;
    if !verified
        .iter()
        .any(|s| s.name() == log_name && s.id() == log_id)
    {
        return Err(CheckpointError::MissingSignature);
    }
    let cp = parse_body(&parsed)?;
    if cp.origin() != origin {
        return Err(CheckpointError::WrongOrigin {
            expected: origin.to_owned(),
            found: cp.origin().to_owned(),
        });
    }
    let cosignatures: Vec<Cosignature> = verified
        .iter()
        .filter(|s| !(s.name() == log_name && s.id() == log_id))
        .filter_map(|s| {
            Some(Cosignature {
                name: s.name().to_owned(),
                key_id: s.id(),
                timestamp: cosignature_timestamp(s.signature())?,
            })
        })
        .collect();
    if cosignatures.len() < quorum {
        return Err(CheckpointError::QuorumNotMet {
            have: cosignatures.len(),
            need: quorum,
        });
    }
    Ok(VerifiedCheckpoint {
        origin: cp.origin().to_owned(),
        size: cp.size(),
        root: cp.hash().0,
        extensions: cp.extension().to_owned(),
        cosignatures,
        unverified: unverified
            .iter()
            .map(|s| NoteSignatureRef {
                name: s.name().to_owned(),
                key_id: s.id(),
            })
            .collect(),
    })
}

/// Verifies the tlog-cosignature/v1 line of `cosigner_vkey` (type 0x04) on a checkpoint note
/// and returns its timestamp. Checks only the cosignature, not the log's signature.
pub fn verify_cosignature(note: &[u8], cosigner_vkey: &str) -> Result<u64, CheckpointError> {
    let verifier = NoteVerifier::parse(cosigner_vkey, KEY_TYPE_COSIGNATURE_V1)?;
    let parsed = parse_note(note)?;
    parse_body(&parsed)?;
    let (verified, _) = parsed.verify(&VerifierList::new(vec![Box::new(verifier)]))?;
    verified
        .first()
        .and_then(|s| cosignature_timestamp(s.signature()))
        .ok_or(CheckpointError::MissingSignature)
}

/// Parses a checkpoint note without verifying any signature (to learn its origin and size
/// before choosing keys). Never trust the result.
pub fn parse_checkpoint_unverified(note: &[u8]) -> Result<(String, u64, Hash), CheckpointError> {
    let parsed = parse_note(note)?;
    let cp = parse_body(&parsed)?;
    Ok((cp.origin().to_owned(), cp.size(), cp.hash().0))
}
