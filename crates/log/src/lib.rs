//! Computes the RFC 9162 log's leaves, proofs, receipts, checkpoints and tiles (no I/O).
//!
//! The ledger's record is one append-only RFC 9162 Merkle tree (SHA-256) of signed statements
//! (DESIGN.md decision 3). This crate holds the pure functions over it:
//!
//! - [`merkle`]: entry ids, leaf hashes, the `tlog_tiles` stored-hash layout, inclusion and
//!   consistency proofs and their verification, an in-memory tree.
//! - [`receipt`]: RFC 9942 COSE Receipts (vds RFC9162_SHA256 = 1).
//! - [`checkpoint`]: C2SP tlog-checkpoint signed notes and tlog-cosignature/v1 cosignatures.
//! - [`handover`]: committee hand-over notes and the chain of committees they certify.
//! - [`tiles`]: C2SP tlog-tiles paths, hash tiles and entry bundles.
//!
//! Invariants:
//! - No file, network or clock access: callers pass sizes, times and hash readers.
//! - No panics on peer data: every size, index and path is validated before `tlog_tiles` (whose
//!   functions assert on bad arguments) is called, and every limit is a documented constant.
//! - The leaf of a statement is `SHA-256(0x00 || SHA-256(statement bytes))`; the statement bytes
//!   are never re-encoded.
//!
//! Formats byte by byte: `docs/log-format.md`.

pub mod certified;
pub mod checkpoint;
pub mod handover;
pub mod merkle;
pub mod receipt;
pub mod tiles;

pub use certified::{
    verify_certified_receipt, verify_certified_receipt_in_chain, verify_quorum_checkpoint,
    verify_quorum_checkpoint_in_chain, CertifiedReceipt, CertifiedReceiptError, ValidatorSet,
};
pub use checkpoint::{
    checkpoint_body, checkpoint_body_at_epoch, checkpoint_epoch, checkpoint_epoch_unverified,
    cosign_checkpoint, parse_checkpoint_unverified, sign_checkpoint, sign_checkpoint_at_epoch,
    verify_checkpoint, verify_cosignature, verify_cosigned_checkpoint, CheckpointError,
    Cosignature, NoteKey, NoteSignatureRef, VerifiedCheckpoint, EPOCH_EXTENSION_PREFIX,
};
pub use handover::{
    handover_body, merge_handover_notes, parse_handover_unverified, sign_handover,
    split_handover_chain, verify_handover, Committee, CommitteeChain, CommitteeMember,
    HandoverError, VerifiedHandover, HANDOVER_HEADER, MAX_HANDOVER_CHAIN_NOTES,
    MAX_HANDOVER_MEMBERS, MAX_HANDOVER_NOTE_BYTES,
};
pub use merkle::{
    consistency_proof, inclusion_proof, leaf_entry, leaf_hash, leaf_hash_bytes, node_hash,
    root_from_inclusion_path, stored_hash_count, stored_hash_index, stored_hashes_for_append,
    tree_root, verify_consistency, verify_inclusion, AppendedHashes, Hash, MemoryTree, ProofError,
    MAX_TREE_SIZE,
};
pub use receipt::{
    make_receipt, quorum_checkpoint_of, sign_tree_head, verify_receipt, ReceiptError,
    SignedTreeHead, VerifiedReceipt, HEADER_QUORUM_CHECKPOINT,
};
pub use tiles::{
    entry_bundle, hash_tile, parse_entry_bundle, tile_path_parse, TileError, TileKind, TileRef,
};
/// Re-exported so that callers can implement hash storage without naming the dependency.
pub use tlog_tiles::HashReader;
