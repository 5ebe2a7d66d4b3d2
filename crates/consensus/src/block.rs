//! The block: its fields, limits, byte encoding and digest (specified in `docs/blocks.md`).
//!
//! Invariant: nothing here depends on commonware except the private [`ChainBlock`] adapter at the
//! bottom, which lets marshal carry our [`Block`] without the public type naming commonware.

use bytes::{Buf as _, BufMut, Bytes};
use commonware_codec::{Buf, EncodeSize, Error as CodecError, Read, ReadExt, Write};
use commonware_consensus::{
    simplex::types::Context,
    types::{Epoch, Height, Round, View},
    BoundedBlock, CertifiableBlock, Heightable,
};
use commonware_cryptography::{ed25519, sha256, Digestible};
use sha2::{Digest as _, Sha256};

/// Maximum number of statements in one block.
pub const MAX_STATEMENTS_PER_BLOCK: usize = 4_096;
/// Maximum size of one statement, in bytes (64 KiB). Empty statements are invalid.
pub const MAX_STATEMENT_BYTES: usize = 64 * 1024;
/// Maximum size of an encoded block, in bytes (8 MiB), header and length prefixes included.
pub const MAX_BLOCK_BYTES: usize = 8 * 1024 * 1024;
/// Size of the fixed block header, in bytes (see `docs/blocks.md`).
pub const HEADER_BYTES: usize = 1 + 8 + 8 + 32 + 8 + 32 + 8 + 8 + ANCHOR_BYTES;
/// Size of the [`Anchor`] at the end of the header.
pub const ANCHOR_BYTES: usize = 8 + 8 + 32 + 32;
/// The only block format version this code reads and writes.
pub const BLOCK_FORMAT_VERSION: u8 = 2;
/// Upper bound on the sum of statement lengths in one block: what is left of
/// [`MAX_BLOCK_BYTES`] after the header, the count prefix (at most 5 bytes) and one length prefix
/// of at most 3 bytes per statement. Any batch within both this and [`MAX_STATEMENTS_PER_BLOCK`]
/// fits in a block.
pub const MAX_STATEMENT_BYTES_PER_BLOCK: usize =
    MAX_BLOCK_BYTES - HEADER_BYTES - 5 - 3 * MAX_STATEMENTS_PER_BLOCK;

/// Leader key recorded in the genesis block, which no validator proposed: the encoding of the
/// Ed25519 identity point (a valid curve point that no signing key produces).
pub const GENESIS_LEADER: [u8; 32] = {
    let mut key = [0u8; 32];
    key[0] = 1;
    key
};

/// Where a block was proposed in consensus: what simplex calls the proposal context. It is part
/// of the block (and of its digest) so that any validator, even one that missed the proposal or
/// restarted, can check that a notarized block matches the round it was notarized in.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BlockContext {
    /// Consensus epoch (always 0 until committees change).
    pub epoch: u64,
    /// Consensus view the block was proposed in.
    pub view: u64,
    /// Ed25519 public key of the proposing validator.
    pub leader: [u8; 32],
    /// View of the parent block.
    pub parent_view: u64,
}

/// What a block certifies about the ledger: the log and the authenticated state right after the
/// block at `height`, the latest block its proposer had applied. Once the block is finalized,
/// its finalization certificate is the committee's signature on these roots, so a light client
/// can check a receipt's tree head or a state proof with only the committee's keys.
///
/// Anchors never go backwards along a chain: a block's anchor height is below its own height and
/// at least its parent's (equal only with the very same anchor). Height 0 means "nothing applied
/// yet" and carries zero roots. The roots themselves are the application's business; consensus
/// only carries them and enforces the order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Anchor {
    /// Height of the block whose outcome this describes.
    pub height: u64,
    /// RFC 9162 log size after that block.
    pub log_size: u64,
    /// RFC 9162 root of the log of `log_size` leaves.
    pub log_root: [u8; 32],
    /// State root after that block (`proverka-state`).
    pub state_root: [u8; 32],
}

impl Anchor {
    /// Whether a child block may carry `self` when its parent carries `parent` (see the type docs).
    pub fn may_follow(&self, parent: &Anchor, child_height: u64) -> bool {
        self.height < child_height && (self.height > parent.height || self == parent)
    }
}

/// A block of statements, ordered by consensus. Statements are opaque bytes here; their meaning
/// and validity belong to the [`Application`](crate::Application).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Block {
    /// Digest of the parent block (for genesis: SHA-256 of the chain namespace).
    pub parent: [u8; 32],
    /// Height: genesis is 0, each child is its parent's height plus one.
    pub height: u64,
    /// Leader's clock when proposing, in milliseconds since the Unix epoch; never less than the
    /// parent's. This is the ledger's only notion of time.
    pub timestamp_ms: u64,
    /// The statements, in order.
    pub statements: Vec<Vec<u8>>,
    /// The consensus round the block was proposed in.
    pub context: BlockContext,
    /// The ledger outcome this block certifies (see [`Anchor`]).
    pub anchor: Anchor,
}

/// Why bytes are not a valid block.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BlockError {
    /// The bytes do not decode as a block within the limits.
    #[error("invalid block encoding: {0}")]
    Encoding(String),
    /// The block is larger than [`MAX_BLOCK_BYTES`] once encoded.
    #[error("block of {0} bytes exceeds the {MAX_BLOCK_BYTES}-byte limit")]
    TooLarge(usize),
    /// The block has more than [`MAX_STATEMENTS_PER_BLOCK`] statements.
    #[error("block has {0} statements, more than {MAX_STATEMENTS_PER_BLOCK}")]
    TooManyStatements(usize),
    /// A statement is empty or larger than [`MAX_STATEMENT_BYTES`].
    #[error("statement {index} has {len} bytes, outside 1..={MAX_STATEMENT_BYTES}")]
    StatementSize {
        /// Position of the statement in the block.
        index: usize,
        /// Its length.
        len: usize,
    },
    /// The leader field is not an Ed25519 public key.
    #[error("leader is not an Ed25519 public key")]
    Leader,
}

impl Block {
    /// The genesis block of a chain: height 0, no statements, parent = SHA-256(namespace), so
    /// chains with different namespaces never share a block.
    pub fn genesis(namespace: &[u8], timestamp_ms: u64) -> Self {
        Self {
            parent: Sha256::digest(namespace).into(),
            height: 0,
            timestamp_ms,
            statements: Vec::new(),
            context: BlockContext {
                epoch: 0,
                view: 0,
                leader: GENESIS_LEADER,
                parent_view: 0,
            },
            anchor: Anchor::default(),
        }
    }

    /// The fixed-size header: every field but the statements (see `docs/blocks.md`).
    pub fn header(&self) -> [u8; HEADER_BYTES] {
        let mut out = [0u8; HEADER_BYTES];
        let mut buf = &mut out[..];
        buf.put_u8(BLOCK_FORMAT_VERSION);
        buf.put_u64(self.context.epoch);
        buf.put_u64(self.context.view);
        buf.put_slice(&self.context.leader);
        buf.put_u64(self.context.parent_view);
        buf.put_slice(&self.parent);
        buf.put_u64(self.height);
        buf.put_u64(self.timestamp_ms);
        buf.put_u64(self.anchor.height);
        buf.put_u64(self.anchor.log_size);
        buf.put_slice(&self.anchor.log_root);
        buf.put_slice(&self.anchor.state_root);
        debug_assert!(buf.is_empty());
        out
    }

    /// SHA-256 of the encoded statements section (count prefix included).
    pub fn statements_hash(&self) -> [u8; 32] {
        let mut section = Vec::with_capacity(self.statements_section_len());
        write_statements(&self.statements, &mut section);
        Sha256::digest(&section).into()
    }

    /// The block's identity: SHA-256(header ‖ statements_hash). A light client holding only the
    /// header and the statements hash can recompute it and compare it with the payload of a
    /// finalization certificate.
    pub fn digest(&self) -> [u8; 32] {
        digest_from_parts(&self.header(), &self.statements_hash())
    }

    /// Canonical encoding: header followed by the statements section.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        out.extend_from_slice(&self.header());
        write_statements(&self.statements, &mut out);
        out
    }

    /// Length of [`Block::encode`]'s output.
    pub fn encoded_len(&self) -> usize {
        HEADER_BYTES + self.statements_section_len()
    }

    /// Decodes a block, enforcing every limit and rejecting trailing or non-canonical bytes.
    pub fn decode(bytes: &[u8]) -> Result<Self, BlockError> {
        if bytes.len() > MAX_BLOCK_BYTES {
            return Err(BlockError::TooLarge(bytes.len()));
        }
        let mut buf = Bytes::copy_from_slice(bytes);
        let block = read_block(&mut buf).map_err(|e| BlockError::Encoding(e.to_string()))?;
        if buf.has_remaining() {
            return Err(BlockError::Encoding(format!(
                "{} trailing bytes",
                buf.remaining()
            )));
        }
        block.check_limits()?;
        Ok(block)
    }

    /// Checks the size limits and that the leader is an Ed25519 key: what any decoded block
    /// satisfies. A locally built block is checked before it is proposed.
    pub fn check_limits(&self) -> Result<(), BlockError> {
        if self.statements.len() > MAX_STATEMENTS_PER_BLOCK {
            return Err(BlockError::TooManyStatements(self.statements.len()));
        }
        for (index, statement) in self.statements.iter().enumerate() {
            if statement.is_empty() || statement.len() > MAX_STATEMENT_BYTES {
                return Err(BlockError::StatementSize {
                    index,
                    len: statement.len(),
                });
            }
        }
        let len = self.encoded_len();
        if len > MAX_BLOCK_BYTES {
            return Err(BlockError::TooLarge(len));
        }
        leader_key(&self.context.leader)?;
        Ok(())
    }

    fn statements_section_len(&self) -> usize {
        self.statements.len().encode_size()
            + self
                .statements
                .iter()
                .map(|s| s.len().encode_size() + s.len())
                .sum::<usize>()
    }
}

/// What a light client reads in an encoded header after checking it against a finalization
/// certificate with [`digest_from_parts`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeaderFacts {
    /// The consensus round the block was proposed in: epoch and view, and its parent's view.
    /// A certificate that finalized this block names the same round.
    pub epoch: u64,
    pub view: u64,
    pub parent_view: u64,
    /// The block's height.
    pub height: u64,
    /// The block's timestamp (ms since the Unix epoch): the ledger time it was finalized at.
    pub timestamp_ms: u64,
    /// The outcome it certifies.
    pub anchor: Anchor,
}

/// Reads the height, timestamp and anchor of an encoded header.
pub fn header_facts(header: &[u8; HEADER_BYTES]) -> Result<HeaderFacts, BlockError> {
    if header[0] != BLOCK_FORMAT_VERSION {
        return Err(BlockError::Encoding(format!(
            "unknown block format version {}",
            header[0]
        )));
    }
    let u64_at = |at: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&header[at..at + 8]);
        u64::from_be_bytes(b)
    };
    let bytes_at = |at: usize| {
        let mut b = [0u8; 32];
        b.copy_from_slice(&header[at..at + 32]);
        b
    };
    Ok(HeaderFacts {
        epoch: u64_at(1),
        view: u64_at(9),
        parent_view: u64_at(49),
        height: u64_at(89),
        timestamp_ms: u64_at(97),
        anchor: Anchor {
            height: u64_at(105),
            log_size: u64_at(113),
            log_root: bytes_at(121),
            state_root: bytes_at(153),
        },
    })
}

/// Computes a block digest from its header and statements hash (what a light client does).
pub fn digest_from_parts(header: &[u8; HEADER_BYTES], statements_hash: &[u8; 32]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(header);
    hasher.update(statements_hash);
    hasher.finalize().into()
}

fn write_statements(statements: &[Vec<u8>], out: &mut impl BufMut) {
    statements.len().write(out);
    for statement in statements {
        statement.len().write(out);
        out.put_slice(statement);
    }
}

fn read_block(buf: &mut impl Buf) -> Result<Block, CodecError> {
    let version = u8::read(buf)?;
    if version != BLOCK_FORMAT_VERSION {
        return Err(CodecError::Invalid("Block", "unknown format version"));
    }
    let epoch = u64::read(buf)?;
    let view = u64::read(buf)?;
    let leader = <[u8; 32]>::read(buf)?;
    let parent_view = u64::read(buf)?;
    let parent = <[u8; 32]>::read(buf)?;
    let height = u64::read(buf)?;
    let timestamp_ms = u64::read(buf)?;
    let anchor = Anchor {
        height: u64::read(buf)?,
        log_size: u64::read(buf)?,
        log_root: <[u8; 32]>::read(buf)?,
        state_root: <[u8; 32]>::read(buf)?,
    };
    let count = usize::read_cfg(buf, &(0..=MAX_STATEMENTS_PER_BLOCK).into())?;
    let mut budget = MAX_BLOCK_BYTES - HEADER_BYTES - count.encode_size();
    let mut statements = Vec::with_capacity(count);
    for _ in 0..count {
        let len = usize::read_cfg(buf, &(1..=MAX_STATEMENT_BYTES).into())?;
        let needed = len.encode_size() + len;
        if needed > budget {
            return Err(CodecError::Invalid("Block", "exceeds the block size limit"));
        }
        budget -= needed;
        if buf.remaining() < len {
            return Err(CodecError::EndOfBuffer);
        }
        let mut statement = vec![0u8; len];
        buf.copy_to_slice(&mut statement);
        statements.push(statement);
    }
    Ok(Block {
        parent,
        height,
        timestamp_ms,
        statements,
        context: BlockContext {
            epoch,
            view,
            leader,
            parent_view,
        },
        anchor,
    })
}

fn leader_key(bytes: &[u8; 32]) -> Result<ed25519::PublicKey, BlockError> {
    ed25519::PublicKey::read(&mut Bytes::copy_from_slice(bytes)).map_err(|_| BlockError::Leader)
}

/// The block as marshal and simplex see it: our [`Block`] plus its leader key decoded once.
/// Construct only through [`ChainBlock::new`], which checks the limits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ChainBlock {
    block: Block,
    leader: ed25519::PublicKey,
}

impl ChainBlock {
    pub(crate) fn new(block: Block) -> Result<Self, BlockError> {
        block.check_limits()?;
        let leader = leader_key(&block.context.leader)?;
        Ok(Self { block, leader })
    }

    pub(crate) const fn block(&self) -> &Block {
        &self.block
    }
}

impl Write for ChainBlock {
    fn write(&self, buf: &mut impl BufMut) {
        buf.put_slice(&self.block.header());
        write_statements(&self.block.statements, buf);
    }
}

impl EncodeSize for ChainBlock {
    fn encode_size(&self) -> usize {
        self.block.encoded_len()
    }
}

impl Read for ChainBlock {
    type Cfg = ();

    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        let block = read_block(buf)?;
        Self::new(block).map_err(|_| CodecError::Invalid("Block", "invalid leader"))
    }
}

impl Digestible for ChainBlock {
    type Digest = sha256::Digest;

    fn digest(&self) -> sha256::Digest {
        sha256::Digest(self.block.digest())
    }
}

impl Heightable for ChainBlock {
    fn height(&self) -> Height {
        Height::new(self.block.height)
    }
}

impl commonware_consensus::Block for ChainBlock {
    fn parent(&self) -> sha256::Digest {
        sha256::Digest(self.block.parent)
    }
}

impl CertifiableBlock for ChainBlock {
    type Context = Context<sha256::Digest, ed25519::PublicKey>;

    fn context(&self) -> Self::Context {
        let c = &self.block.context;
        Context {
            round: Round::new(Epoch::new(c.epoch), View::new(c.view)),
            leader: self.leader.clone(),
            parent: (View::new(c.parent_view), sha256::Digest(self.block.parent)),
        }
    }
}

impl BoundedBlock for ChainBlock {
    fn max_encode_size(_: &()) -> usize {
        MAX_BLOCK_BYTES
    }
}

/// Converts a consensus context into the block's own representation.
pub(crate) fn block_context(context: &Context<sha256::Digest, ed25519::PublicKey>) -> BlockContext {
    let mut leader = [0u8; 32];
    leader.copy_from_slice(context.leader.as_ref());
    BlockContext {
        epoch: context.round.epoch().get(),
        view: context.round.view().get(),
        leader,
        parent_view: context.parent.0.get(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use commonware_codec::{Decode, Encode};

    fn sample() -> Block {
        Block {
            parent: [0x11; 32],
            height: 42,
            timestamp_ms: 1_700_000_000_123,
            statements: vec![b"hello".to_vec(), vec![0xab; 200]],
            context: BlockContext {
                epoch: 0,
                view: 57,
                leader: crate::ValidatorKey::from_seed([1; 32]).public_key_bytes(),
                parent_view: 56,
            },
            anchor: Anchor {
                height: 41,
                log_size: 1000,
                log_root: [0x22; 32],
                state_root: [0x33; 32],
            },
        }
    }

    /// Freezes the byte encoding and the digest (docs/blocks.md). Changing either is a chain
    /// format change: bump BLOCK_FORMAT_VERSION and update the document.
    #[test]
    fn golden_encoding_and_digest() {
        let block = sample();
        let encoded = block.encode();
        assert_eq!(hex::encode(&encoded[..HEADER_BYTES]), GOLDEN_HEADER);
        // Statements section: count 2, then (5, "hello"), then (200 as varint c8 01, 200 x ab).
        let section = hex::encode(&encoded[HEADER_BYTES..]);
        assert_eq!(section, format!("020568656c6c6fc801{}", "ab".repeat(200)));
        assert_eq!(hex::encode(block.statements_hash()), GOLDEN_STATEMENTS_HASH);
        assert_eq!(hex::encode(block.digest()), GOLDEN_DIGEST);
        assert_eq!(
            digest_from_parts(&block.header(), &block.statements_hash()),
            block.digest()
        );
        assert_eq!(
            header_facts(&block.header()).unwrap(),
            HeaderFacts {
                epoch: 0,
                view: 57,
                parent_view: 56,
                height: block.height,
                timestamp_ms: block.timestamp_ms,
                anchor: block.anchor
            }
        );
        assert_eq!(
            hex::encode(Block::genesis(b"proverka", 0).digest()),
            GOLDEN_GENESIS_DIGEST
        );
    }

    /// version 02 | epoch 0 | view 57 | leader (key of seed [1; 32]) | parent_view 56 |
    /// parent 11.. | height 42 | timestamp 1 700 000 000 123 ms | anchor: height 41, log size
    /// 1000, log root 22.., state root 33..; integers big-endian.
    const GOLDEN_HEADER: &str = concat!(
        "02",
        "0000000000000000",
        "0000000000000039",
        "8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c",
        "0000000000000038",
        "1111111111111111111111111111111111111111111111111111111111111111",
        "000000000000002a",
        "0000018bcfe5687b",
        "0000000000000029",
        "00000000000003e8",
        "2222222222222222222222222222222222222222222222222222222222222222",
        "3333333333333333333333333333333333333333333333333333333333333333",
    );
    const GOLDEN_STATEMENTS_HASH: &str =
        "26b3c9f2365d9991828c3960ac07c57aa4e24544c17fecd7b59d8e06c39f2b92";
    const GOLDEN_DIGEST: &str = "52749332ac29e367f94093a72df780cf8dba13c20ab92f55e563b85e0f8d1586";
    const GOLDEN_GENESIS_DIGEST: &str =
        "619c9daf382e06431a1b0416a434a50aefcdd5ead6e4b00c645baee1c9fad437";

    #[test]
    fn encoding_round_trips_through_both_codecs() {
        let block = sample();
        let encoded = block.encode();
        assert_eq!(encoded.len(), block.encoded_len());
        assert_eq!(Block::decode(&encoded).unwrap(), block);
        let chain = ChainBlock::new(block.clone()).unwrap();
        assert_eq!(chain.encode().to_vec(), encoded);
        assert_eq!(ChainBlock::decode_cfg(encoded.clone(), &()).unwrap(), chain);
        assert_eq!(chain.digest().0, block.digest());
    }

    #[test]
    fn the_digest_commits_to_every_field() {
        let base = sample();
        let mut variants = Vec::new();
        let mut b = base.clone();
        b.parent[0] ^= 1;
        variants.push(b);
        let mut b = base.clone();
        b.height += 1;
        variants.push(b);
        let mut b = base.clone();
        b.timestamp_ms += 1;
        variants.push(b);
        let mut b = base.clone();
        b.statements[0][0] ^= 1;
        variants.push(b);
        let mut b = base.clone();
        b.statements.swap(0, 1);
        variants.push(b);
        let mut b = base.clone();
        b.context.view += 1;
        variants.push(b);
        let mut b = base.clone();
        b.context.parent_view += 1;
        variants.push(b);
        let mut b = base.clone();
        b.context.epoch += 1;
        variants.push(b);
        let mut b = base.clone();
        b.context.leader = GENESIS_LEADER;
        variants.push(b);
        let mut b = base.clone();
        b.anchor.height += 1;
        variants.push(b);
        let mut b = base.clone();
        b.anchor.log_size += 1;
        variants.push(b);
        let mut b = base.clone();
        b.anchor.log_root[31] ^= 1;
        variants.push(b);
        let mut b = base.clone();
        b.anchor.state_root[0] ^= 1;
        variants.push(b);
        for variant in variants {
            assert_ne!(variant.digest(), base.digest(), "{variant:?}");
        }
    }

    #[test]
    fn decoding_rejects_malformed_blocks() {
        let encoded = sample().encode();

        let mut trailing = encoded.clone();
        trailing.push(0);
        assert!(matches!(
            Block::decode(&trailing),
            Err(BlockError::Encoding(_))
        ));

        assert!(matches!(
            Block::decode(&encoded[..encoded.len() - 1]),
            Err(BlockError::Encoding(_))
        ));

        let mut version = encoded.clone();
        version[0] = 1; // the format before anchors
        assert!(matches!(
            Block::decode(&version),
            Err(BlockError::Encoding(_))
        ));

        // An overlong varint for the statement count is not canonical.
        let mut overlong = encoded[..HEADER_BYTES].to_vec();
        overlong.extend_from_slice(&[0x80, 0x00]);
        assert!(matches!(
            Block::decode(&overlong),
            Err(BlockError::Encoding(_))
        ));

        let mut empty_statement = sample();
        empty_statement.statements.push(Vec::new());
        assert!(Block::decode(&empty_statement.encode()).is_err());

        let mut big_statement = sample();
        big_statement
            .statements
            .push(vec![1; MAX_STATEMENT_BYTES + 1]);
        assert!(Block::decode(&big_statement.encode()).is_err());

        let mut many = sample();
        many.statements = vec![vec![1]; MAX_STATEMENTS_PER_BLOCK + 1];
        assert!(Block::decode(&many.encode()).is_err());
        many.statements.pop();
        assert!(Block::decode(&many.encode()).is_ok());

        // 129 statements of 64 KiB exceed 8 MiB even though each is within its own limit.
        let mut heavy = sample();
        heavy.statements = vec![vec![1; MAX_STATEMENT_BYTES]; 129];
        assert!(matches!(heavy.check_limits(), Err(BlockError::TooLarge(_))));
        assert!(Block::decode(&heavy.encode()).is_err());
        assert!(ChainBlock::decode_cfg(heavy.encode(), &()).is_err());
    }

    #[test]
    fn a_full_batch_fits_in_a_block() {
        // The worst case take_batch may return: the maximum count, and bytes up to the budget.
        let mut block = sample();
        let per = MAX_STATEMENT_BYTES_PER_BLOCK / MAX_STATEMENTS_PER_BLOCK;
        block.statements = vec![vec![7; per]; MAX_STATEMENTS_PER_BLOCK];
        assert!(block.check_limits().is_ok());
        let mut block = sample();
        block.statements =
            vec![vec![7; MAX_STATEMENT_BYTES]; MAX_STATEMENT_BYTES_PER_BLOCK / MAX_STATEMENT_BYTES];
        assert!(block.check_limits().is_ok());
    }

    #[test]
    fn the_genesis_leader_is_a_valid_key_and_genesis_depends_on_the_namespace() {
        let genesis = Block::genesis(b"a", 5);
        assert!(genesis.check_limits().is_ok());
        assert_eq!(Block::decode(&genesis.encode()).unwrap(), genesis);
        assert_ne!(genesis.digest(), Block::genesis(b"b", 5).digest());
        assert_ne!(genesis.digest(), Block::genesis(b"a", 6).digest());
    }
}
