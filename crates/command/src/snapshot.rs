//! The recipient's view of the ledger: sender keys, revocations, trust statuses, requirements.

use alloc::collections::BTreeMap;
use core::fmt;

use crate::{DeviceId, PublicKey, UnixSeconds};

/// A device's trust status, in the AR4SI tiers of its attestation result (EAR).
///
/// Rank, worst first: contraindicated < none < warning < affirming. `None` (no verdict: no
/// evidence, or stale evidence) and `Contraindicated` never satisfy a requirement, whatever
/// the requirement says: a relying party treats "no verdict" as untrusted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TrustStatus {
    /// Every claim is affirming.
    Affirming,
    /// Usable, with known issues.
    Warning,
    /// Must not be trusted.
    Contraindicated,
    /// No verdict.
    None,
}

impl TrustStatus {
    fn rank(self) -> u8 {
        match self {
            TrustStatus::Contraindicated => 0,
            TrustStatus::None => 1,
            TrustStatus::Warning => 2,
            TrustStatus::Affirming => 3,
        }
    }

    /// True when a device with this status meets the requirement `need`: at least as good,
    /// and never `None` or `Contraindicated`.
    pub fn meets(self, need: TrustStatus) -> bool {
        self.rank() >= need.rank() && self.rank() >= TrustStatus::Warning.rank()
    }

    /// Lowercase name, as in EAR.
    pub fn as_str(self) -> &'static str {
        match self {
            TrustStatus::Affirming => "affirming",
            TrustStatus::Warning => "warning",
            TrustStatus::Contraindicated => "contraindicated",
            TrustStatus::None => "none",
        }
    }
}

impl fmt::Display for TrustStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the snapshot says about one sender.
#[derive(Clone, Copy, Debug)]
pub struct SenderEntry<'a> {
    /// The sender's current key. A command whose `kid` is not this key's thumbprint is refused
    /// (a rekeyed device's old key is no longer its key).
    pub key: &'a PublicKey,
    /// The device or its key is revoked (decommissioned, key compromise, ...).
    pub revoked: bool,
    /// The sender's trust status.
    pub status: TrustStatus,
    /// When that status stops holding (exclusive): from then on it must be re-appraised.
    pub status_expires_at: UnixSeconds,
}

/// The recipient's view of ledger state, as of [`Snapshot::issued_at`].
///
/// **Trust contract:** the verifier believes everything a snapshot says. Checking that it comes
/// from the validators (state proofs against a certified root, a signed passport bundle) is
/// the job of whoever builds it; this crate only enforces its freshness: when
/// `now - issued_at > max_age_secs` every command is refused. Lookups must not fail other
/// than by answering `None`, and should be fast (they run once per command).
pub trait Snapshot {
    /// When the ledger state this snapshot reflects was certified.
    fn issued_at(&self) -> UnixSeconds;

    /// How long after [`Snapshot::issued_at`] the snapshot may be used, in seconds.
    fn max_age_secs(&self) -> u64;

    /// The sender's current key, revocation and status; `None` for a device the ledger does not
    /// know.
    fn sender(&self, device: &DeviceId) -> Option<SenderEntry<'_>>;

    /// The least status the recipient's owner requires of senders commanding `recipient`.
    fn required_status(&self, recipient: &DeviceId) -> TrustStatus;
}

/// What [`MemorySnapshot`] keeps per sender.
#[derive(Clone, Debug)]
pub struct SenderRecord {
    /// The sender's current key.
    pub key: PublicKey,
    /// Revoked device or key.
    pub revoked: bool,
    /// Trust status.
    pub status: TrustStatus,
    /// Status expiry (exclusive).
    pub status_expires_at: UnixSeconds,
}

/// A snapshot held in memory (a `BTreeMap`, no std): for gateways that load a verified state
/// bundle, and for tests and tools. One owner requirement for every recipient.
#[derive(Clone, Debug)]
pub struct MemorySnapshot {
    issued_at: UnixSeconds,
    max_age_secs: u64,
    required: TrustStatus,
    senders: BTreeMap<DeviceId, SenderRecord>,
}

impl MemorySnapshot {
    /// An empty snapshot issued at `issued_at`, usable for `max_age_secs`, requiring `required`.
    pub fn new(issued_at: UnixSeconds, max_age_secs: u64, required: TrustStatus) -> Self {
        Self {
            issued_at,
            max_age_secs,
            required,
            senders: BTreeMap::new(),
        }
    }

    /// Adds or replaces a sender.
    pub fn insert(&mut self, device: DeviceId, record: SenderRecord) {
        self.senders.insert(device, record);
    }

    /// The record of a sender, to change it.
    pub fn get_mut(&mut self, device: &DeviceId) -> Option<&mut SenderRecord> {
        self.senders.get_mut(device)
    }

    /// Number of senders.
    pub fn len(&self) -> usize {
        self.senders.len()
    }

    /// True when no sender is known.
    pub fn is_empty(&self) -> bool {
        self.senders.is_empty()
    }
}

impl Snapshot for MemorySnapshot {
    fn issued_at(&self) -> UnixSeconds {
        self.issued_at
    }

    fn max_age_secs(&self) -> u64 {
        self.max_age_secs
    }

    fn sender(&self, device: &DeviceId) -> Option<SenderEntry<'_>> {
        self.senders.get(device).map(|r| SenderEntry {
            key: &r.key,
            revoked: r.revoked,
            status: r.status,
            status_expires_at: r.status_expires_at,
        })
    }

    fn required_status(&self, _recipient: &DeviceId) -> TrustStatus {
        self.required
    }
}
