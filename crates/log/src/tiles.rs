//! C2SP tlog-tiles resources: tile paths, hash tiles and entry bundles (tile height 8).
//!
//! `tlog_tiles::Tile::path` formats Go's `tile/H/L/...` paths; the C2SP layout drops the height
//! (fixed at 8) and names data tiles `entries`, so the path glue lives here while the tile
//! contents come from `tlog_tiles::Tile::read_data`.

use crate::merkle::{ProofError, MAX_TREE_SIZE};
use tlog_tiles::HashReader;

/// Tile height fixed by C2SP tlog-tiles: each tile spans 8 tree levels.
pub const TILE_HEIGHT: u8 = 8;
/// Hashes in a full tile (2^8), and entries in a full entry bundle.
pub const TILE_WIDTH: u16 = 256;
/// Highest tile level a path may name (C2SP: 0..=63).
pub const MAX_TILE_LEVEL: u8 = 63;
/// Longest tile path accepted: `tile/entries/` + 7 three-digit groups + `.p/255` is 54 bytes.
pub const MAX_TILE_PATH_LEN: usize = 64;
/// Largest entry an entry bundle can carry (big-endian uint16 length prefix).
pub const MAX_BUNDLE_ENTRY_LEN: usize = u16::MAX as usize;

/// Errors of tile path parsing and tile serving.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TileError {
    /// The path is not a canonical C2SP tile or entry-bundle path.
    #[error("not a canonical tile path: {0}")]
    BadPath(String),
    /// A level above 63 or a width outside 1..=256.
    #[error("tile coordinates out of range")]
    BadCoordinates,
    /// A hash tile was asked where an entry bundle was expected, or the reverse.
    #[error("wrong tile kind for this operation")]
    WrongKind,
    /// The tile needs more leaves than the tree has.
    #[error("tile needs {needed} leaves, the tree has {size}")]
    BeyondTree { needed: u64, size: u64 },
    /// A tile too large to describe within [`MAX_TREE_SIZE`].
    #[error("tile lies beyond the largest supported tree")]
    TooFar,
    /// An entry longer than [`MAX_BUNDLE_ENTRY_LEN`].
    #[error("entry of {0} bytes does not fit a uint16 length prefix")]
    EntryTooLong(usize),
    /// An entry bundle that is not exactly the expected number of whole entries.
    #[error("malformed entry bundle")]
    MalformedBundle,
    /// Reading the hashes failed.
    #[error(transparent)]
    Proof(#[from] ProofError),
}

/// Which resource a tile path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TileKind {
    /// `tile/<L>/<N>[.p/<W>]`: Merkle tree hashes at level `8 × L`.
    Hashes { level: u8 },
    /// `tile/entries/<N>[.p/<W>]`: the log entries of level-0 tile `N`.
    Entries,
}

/// A validated C2SP tile coordinate (`level <= 63`, `1 <= width <= 256`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TileRef {
    kind: TileKind,
    index: u64,
    width: u16,
}

impl TileRef {
    /// Returns a hash tile coordinate; `width` 256 is a full tile.
    pub fn hashes(level: u8, index: u64, width: u16) -> Result<Self, TileError> {
        if level > MAX_TILE_LEVEL {
            return Err(TileError::BadCoordinates);
        }
        Self::checked(TileKind::Hashes { level }, index, width)
    }

    /// Returns an entry-bundle coordinate; `width` 256 is a full bundle.
    pub fn entries(index: u64, width: u16) -> Result<Self, TileError> {
        Self::checked(TileKind::Entries, index, width)
    }

    fn checked(kind: TileKind, index: u64, width: u16) -> Result<Self, TileError> {
        if !(1..=TILE_WIDTH).contains(&width) {
            return Err(TileError::BadCoordinates);
        }
        Ok(Self { kind, index, width })
    }

    /// Returns the kind of resource.
    pub fn kind(&self) -> TileKind {
        self.kind
    }

    /// Returns the tile's index `N` within its level.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// Returns the number of hashes (or entries), 256 for a full tile.
    pub fn width(&self) -> u16 {
        self.width
    }

    /// Returns whether the tile is partial (width below 256).
    pub fn is_partial(&self) -> bool {
        self.width < TILE_WIDTH
    }

    fn level(&self) -> u8 {
        match self.kind {
            TileKind::Hashes { level } => level,
            TileKind::Entries => 0,
        }
    }

    /// Returns the index of the first leaf the tile covers, `N × 256^(L+1)`.
    pub fn first_leaf(&self) -> Result<u64, TileError> {
        self.leaves_before(0)
    }

    /// Returns how many leaves the tree needs for this tile to exist:
    /// `(N × 256 + W) × 256^L`.
    pub fn leaves_needed(&self) -> Result<u64, TileError> {
        self.leaves_before(u64::from(self.width))
    }

    fn leaves_before(&self, offset: u64) -> Result<u64, TileError> {
        let span = 1u64
            .checked_shl(8 * u32::from(self.level()))
            .ok_or(TileError::TooFar)?;
        self.index
            .checked_mul(u64::from(TILE_WIDTH))
            .and_then(|n| n.checked_add(offset))
            .and_then(|n| n.checked_mul(span))
            .filter(|&n| n <= MAX_TREE_SIZE)
            .ok_or(TileError::TooFar)
    }

    /// Returns the C2SP path, e.g. `tile/0/x001/234`, `tile/1/005.p/17`, `tile/entries/000.p/3`.
    pub fn path(&self) -> String {
        let level = match self.kind {
            TileKind::Hashes { level } => level.to_string(),
            TileKind::Entries => "entries".to_string(),
        };
        let partial = if self.is_partial() {
            format!(".p/{}", self.width)
        } else {
            String::new()
        };
        format!("tile/{level}/{}{partial}", encode_index(self.index))
    }
}

/// Encodes `N` as zero-padded 3-digit groups, all but the last prefixed with `x`.
fn encode_index(mut n: u64) -> String {
    let mut groups = vec![format!("{:03}", n % 1000)];
    while n >= 1000 {
        n /= 1000;
        groups.push(format!("x{:03}", n % 1000));
    }
    groups.reverse();
    groups.join("/")
}

/// Parses a C2SP tile path (`tile/<L>/<N>[.p/<W>]` or `tile/entries/<N>[.p/<W>]`, without a
/// leading slash or URL prefix).
///
/// Strict: any path that is not exactly the canonical encoding of its coordinates (leading
/// zeroes in `L` or `W`, a superfluous `x000` group, width 0 or 256 in `.p/`, a level above 63)
/// is rejected, so one resource has one path.
pub fn tile_path_parse(path: &str) -> Result<TileRef, TileError> {
    let bad = || TileError::BadPath(path.chars().take(MAX_TILE_PATH_LEN).collect());
    if path.len() > MAX_TILE_PATH_LEN || !path.is_ascii() {
        return Err(bad());
    }
    let rest = path.strip_prefix("tile/").ok_or_else(bad)?;
    let (level, rest) = rest.split_once('/').ok_or_else(bad)?;
    let (index_part, width) = match rest.split_once(".p/") {
        Some((index_part, w)) => (index_part, parse_decimal(w).ok_or_else(bad)?),
        None => (rest, u64::from(TILE_WIDTH)),
    };
    let index = parse_index(index_part).ok_or_else(bad)?;
    let width = u16::try_from(width).map_err(|_| bad())?;
    let tile = if level == "entries" {
        TileRef::entries(index, width)
    } else {
        let level = parse_decimal(level)
            .and_then(|l| u8::try_from(l).ok())
            .ok_or_else(bad)?;
        TileRef::hashes(level, index, width)
    }
    .map_err(|_| bad())?;
    // Round-trip: rejects every non-canonical spelling (x000 groups, full width as .p/256, ...).
    if tile.path() != path {
        return Err(bad());
    }
    Ok(tile)
}

/// Parses a decimal made of ASCII digits only (no sign, no spaces).
fn parse_decimal(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Parses `x001/x234/067`-style groups into N.
fn parse_index(s: &str) -> Option<u64> {
    let groups: Vec<&str> = s.split('/').collect();
    let (last, init) = groups.split_last()?;
    let mut n = 0u64;
    for g in init {
        n = push_group(n, g.strip_prefix('x')?)?;
    }
    push_group(n, last)
}

fn push_group(n: u64, group: &str) -> Option<u64> {
    if group.len() != 3 {
        return None;
    }
    n.checked_mul(1000)?.checked_add(parse_decimal(group)?)
}

/// Returns the contents of hash tile `t` (its `width` hashes concatenated) for a tree of
/// `tree_size` leaves whose stored hashes `r` holds.
///
/// Fails if the tile needs more leaves than `tree_size`, so only tiles that a checkpoint of
/// that size commits to are served.
pub fn hash_tile<R: HashReader>(t: &TileRef, tree_size: u64, r: &R) -> Result<Vec<u8>, TileError> {
    let TileKind::Hashes { level } = t.kind else {
        return Err(TileError::WrongKind);
    };
    if tree_size > MAX_TREE_SIZE {
        return Err(ProofError::SizeTooLarge {
            size: tree_size,
            max: MAX_TREE_SIZE,
        }
        .into());
    }
    let needed = t.leaves_needed()?;
    if needed > tree_size {
        return Err(TileError::BeyondTree {
            needed,
            size: tree_size,
        });
    }
    // leaves_needed <= MAX_TREE_SIZE = 2^40 bounds level to 5, so Tile::new's range asserts and
    // its u8 arithmetic (height × level) cannot fail.
    let tile = tlog_tiles::Tile::new(TILE_HEIGHT, level, t.index, u32::from(t.width), false);
    tile.read_data(r)
        .map_err(|e| TileError::Proof(ProofError::from(e)))
}

/// Splits a C2SP entry bundle into its entries; refuses a bundle that does not hold exactly
/// `count` whole entries.
pub fn parse_entry_bundle(bundle: &[u8], count: usize) -> Result<Vec<&[u8]>, TileError> {
    let mut rest = bundle;
    let mut entries = Vec::with_capacity(count.min(TILE_WIDTH as usize));
    while let Some((len, tail)) = rest.split_first_chunk::<2>() {
        let len = u16::from_be_bytes(*len) as usize;
        if tail.len() < len || entries.len() == count {
            return Err(TileError::MalformedBundle);
        }
        let (entry, tail) = tail.split_at(len);
        entries.push(entry);
        rest = tail;
    }
    if !rest.is_empty() || entries.len() != count {
        return Err(TileError::MalformedBundle);
    }
    Ok(entries)
}

/// Returns a C2SP entry bundle: each entry prefixed by its length as a big-endian uint16.
///
/// Proverka's log entries are the 32-byte entry ids (see `docs/log-format.md`), so a bundle of
/// `W` entries is `W × 34` bytes; longer entries are accepted up to [`MAX_BUNDLE_ENTRY_LEN`].
pub fn entry_bundle<E: AsRef<[u8]>>(entries: &[E]) -> Result<Vec<u8>, TileError> {
    let mut out = Vec::with_capacity(entries.iter().map(|e| e.as_ref().len() + 2).sum());
    for e in entries {
        let e = e.as_ref();
        let len = u16::try_from(e.len()).map_err(|_| TileError::EntryTooLong(e.len()))?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(e);
    }
    Ok(out)
}
