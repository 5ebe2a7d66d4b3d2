//! Replay protection: per-sender sequence numbers with a sliding window.

use alloc::collections::BTreeMap;
use core::fmt;

use crate::{DeviceId, UnixSeconds, MAX_CLOCK_SKEW_SECS, REPLAY_WINDOW};

/// Why a sequence number is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplayKind {
    /// This sender's `seq` was already accepted.
    Duplicate,
    /// `seq` is [`REPLAY_WINDOW`] or more below the sender's highest accepted `seq`: too old
    /// to tell whether it was seen.
    TooOld,
    /// Issued before the guard started remembering (see [`ReplayGuard::after_restart`]).
    BeforeRestart,
}

impl fmt::Display for ReplayKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ReplayKind::Duplicate => "sequence number already used",
            ReplayKind::TooOld => "sequence number below the replay window",
            ReplayKind::BeforeRestart => "issued before the replay guard's memory starts",
        })
    }
}

/// What the guard refuses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    Replay(ReplayKind),
    Full,
}

/// One sender's window: the highest accepted `seq` and which of the [`REPLAY_WINDOW`]
/// numbers at and below it were accepted (bit `i` = `highest - i`).
#[derive(Clone, Copy, Debug)]
struct Window {
    highest: u64,
    seen: u64,
    /// Latest `exp` among accepted commands: once past, every one of them is expired.
    last_exp: UnixSeconds,
}

impl Window {
    fn check(&self, seq: u64) -> Result<(), ReplayKind> {
        let Some(behind) = self.highest.checked_sub(seq) else {
            return Ok(());
        };
        if behind >= REPLAY_WINDOW {
            return Err(ReplayKind::TooOld);
        }
        if self.seen & (1u64 << behind) != 0 {
            return Err(ReplayKind::Duplicate);
        }
        Ok(())
    }

    fn record(&mut self, seq: u64, exp: UnixSeconds) {
        match seq.checked_sub(self.highest) {
            Some(0) => self.seen |= 1,
            Some(ahead) => {
                self.seen = if ahead >= REPLAY_WINDOW {
                    0
                } else {
                    self.seen << ahead
                } | 1;
                self.highest = seq;
            }
            None => {
                let behind = self.highest - seq;
                if behind < REPLAY_WINDOW {
                    self.seen |= 1u64 << behind;
                }
            }
        }
        self.last_exp = self.last_exp.max(exp);
    }
}

/// Remembers, per sender, which sequence numbers were accepted.
///
/// Semantics: per sender, the highest accepted `seq` and a [`REPLAY_WINDOW`]-entry bitmap
/// below it. A `seq` above the highest is accepted (and slides the window); one within the
/// window is accepted once, out of order; one [`REPLAY_WINDOW`] or more below the highest is
/// refused. The first command of a sender is accepted with any `seq`.
///
/// **Bounded:** at most `capacity` senders (about 100 bytes each plus the id). When full, a
/// command from a sender not yet remembered is refused ([`crate::Reason::ReplayGuardFull`]):
/// nobody is ever evicted silently, since forgetting a sender would let its unexpired commands
/// be replayed. [`ReplayGuard::prune`] frees the senders whose accepted commands have all
/// expired — safe, because a replay of an expired command is refused as expired.
///
/// **Updated only on Allow:** [`crate::verify`] checks the guard for every authenticated
/// command but records the `seq` only when the verdict is Allow.
///
/// **Durability:** the guard lives in memory. After a restart either restore it, or build it
/// with [`ReplayGuard::after_restart`], which refuses every command issued before the restart
/// (plus the allowed clock skew), i.e. every command it might have accepted already.
#[derive(Clone, Debug)]
pub struct ReplayGuard {
    windows: BTreeMap<DeviceId, Window>,
    capacity: usize,
    /// Commands with an earlier `iat` are refused ([`ReplayKind::BeforeRestart`]).
    not_before: UnixSeconds,
}

impl ReplayGuard {
    /// An empty guard for at most `capacity` senders, for a recipient that has never accepted
    /// a command (or restored this guard's state).
    pub fn new(capacity: usize) -> Self {
        Self {
            windows: BTreeMap::new(),
            capacity,
            not_before: UnixSeconds(0),
        }
    }

    /// An empty guard after a restart at `now` that lost the previous guard: commands with
    /// `iat < now + MAX_CLOCK_SKEW_SECS` are refused, since any of them may have been accepted
    /// before the restart. Senders' fresh commands are accepted again after that skew.
    pub fn after_restart(capacity: usize, now: UnixSeconds) -> Self {
        Self {
            not_before: now.plus(MAX_CLOCK_SKEW_SECS),
            ..Self::new(capacity)
        }
    }

    /// Most senders remembered.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Senders remembered.
    pub fn len(&self) -> usize {
        self.windows.len()
    }

    /// True when no sender is remembered.
    pub fn is_empty(&self) -> bool {
        self.windows.is_empty()
    }

    /// The highest `seq` accepted from `sender`, if any.
    pub fn highest(&self, sender: &DeviceId) -> Option<u64> {
        self.windows.get(sender).map(|w| w.highest)
    }

    /// Forgets every sender whose accepted commands have all expired at `now`; returns how
    /// many were forgotten.
    pub fn prune(&mut self, now: UnixSeconds) -> usize {
        let before = self.windows.len();
        self.windows.retain(|_, w| now < w.last_exp);
        before - self.windows.len()
    }

    /// Would a command from `sender` with `seq` issued at `iat` be accepted? Changes nothing.
    pub(crate) fn check(
        &self,
        sender: &DeviceId,
        seq: u64,
        iat: UnixSeconds,
    ) -> Result<(), Refusal> {
        if iat < self.not_before {
            return Err(Refusal::Replay(ReplayKind::BeforeRestart));
        }
        match self.windows.get(sender) {
            Some(window) => window.check(seq).map_err(Refusal::Replay),
            None if self.windows.len() >= self.capacity => Err(Refusal::Full),
            None => Ok(()),
        }
    }

    /// Records an accepted command (after a successful [`ReplayGuard::check`]).
    pub(crate) fn record(&mut self, sender: &DeviceId, seq: u64, exp: UnixSeconds) {
        if let Some(window) = self.windows.get_mut(sender) {
            window.record(seq, exp);
        } else if self.windows.len() < self.capacity {
            self.windows.insert(
                sender.clone(),
                Window {
                    highest: seq,
                    seen: 1,
                    last_exp: exp,
                },
            );
        }
    }
}
