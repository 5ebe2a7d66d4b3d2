//! The verifier: one function from command bytes to a verdict with every reason.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use crate::envelope::Envelope;
use crate::replay::Refusal;
use crate::{
    Algorithm, Command, DeviceId, KeyType, Malformed, PolicyDecision, PolicyHook, PolicyRequest,
    PublicKey, ReplayGuard, ReplayKind, SenderEntry, Snapshot, TrustStatus, UnixSeconds,
    MAX_CLOCK_SKEW_SECS, MAX_COMMAND_BYTES, MAX_LIFETIME_SECS,
};

/// Why a command is refused. See `docs/command.md` for when each applies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reason {
    /// The input is longer than [`MAX_COMMAND_BYTES`]; nothing was parsed.
    TooLarge {
        /// Input length.
        len: usize,
        /// [`MAX_COMMAND_BYTES`].
        max: usize,
    },
    /// The snapshot is older than it may be used for; nothing was parsed.
    StaleSnapshot {
        /// `now - issued_at`.
        age_secs: u64,
        /// The snapshot's bound.
        max_age_secs: u64,
    },
    /// The snapshot was issued more than [`MAX_CLOCK_SKEW_SECS`] after `now`: the local
    /// clock is behind, so no time check can be trusted; nothing was parsed.
    ClockBehindSnapshot {
        /// The snapshot's issue time.
        issued_at: UnixSeconds,
        /// The verifier's time.
        now: UnixSeconds,
    },
    /// The envelope or payload does not parse.
    Malformed(Malformed),
    /// `alg` is not ES256, ESP256, EdDSA or Ed25519.
    UnsupportedAlgorithm(i64),
    /// The snapshot does not know the sender.
    UnknownSender,
    /// `kid` is not the RFC 9679 thumbprint of the sender's current key.
    KidMismatch,
    /// `alg` is not bound to the sender key's type.
    AlgorithmKeyMismatch {
        /// The header's algorithm.
        alg: Algorithm,
        /// The sender key's type.
        key: KeyType,
    },
    /// The signature does not verify with the sender's key.
    BadSignature,
    /// The sender device or its key is revoked.
    SenderRevoked,
    /// The command is addressed to another device.
    WrongRecipient,
    /// `iat` is more than [`MAX_CLOCK_SKEW_SECS`] in the future.
    NotYetValid {
        /// The command's `iat`.
        iat: UnixSeconds,
        /// The verifier's time.
        now: UnixSeconds,
    },
    /// `now >= exp`.
    Expired {
        /// The command's `exp`.
        exp: UnixSeconds,
        /// The verifier's time.
        now: UnixSeconds,
    },
    /// `exp - iat` exceeds [`MAX_LIFETIME_SECS`].
    LifetimeTooLong {
        /// `exp - iat`.
        secs: u64,
        /// [`MAX_LIFETIME_SECS`].
        max: u64,
    },
    /// The sequence number was used, is too old, or predates the guard's memory.
    Replay(ReplayKind),
    /// The replay guard is full and does not know this sender.
    ReplayGuardFull {
        /// The guard's capacity.
        capacity: usize,
    },
    /// The sender's status has expired (it must be re-appraised).
    StatusExpired {
        /// When it expired.
        expired_at: UnixSeconds,
    },
    /// The sender's status does not meet the owner's requirement.
    StatusBelowRequired {
        /// The sender's status.
        have: TrustStatus,
        /// The requirement.
        need: TrustStatus,
    },
    /// The policy hook denied the command; the string names the deciding policy.
    PolicyDenied(String),
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::TooLarge { len, max } => write!(f, "command is {len} bytes, over {max}"),
            Reason::StaleSnapshot {
                age_secs,
                max_age_secs,
            } => write!(
                f,
                "stale snapshot: {age_secs} s old, bound {max_age_secs} s"
            ),
            Reason::ClockBehindSnapshot { issued_at, now } => {
                write!(f, "clock ({now}) is behind the snapshot ({issued_at})")
            }
            Reason::Malformed(m) => write!(f, "malformed: {m}"),
            Reason::UnsupportedAlgorithm(id) => write!(f, "unsupported algorithm {id}"),
            Reason::UnknownSender => f.write_str("unknown sender"),
            Reason::KidMismatch => f.write_str("kid is not the sender's current key"),
            Reason::AlgorithmKeyMismatch { alg, key } => {
                write!(f, "algorithm {alg} does not fit a {key} key")
            }
            Reason::BadSignature => f.write_str("bad signature"),
            Reason::SenderRevoked => f.write_str("sender revoked"),
            Reason::WrongRecipient => f.write_str("addressed to another device"),
            Reason::NotYetValid { iat, now } => write!(f, "issued in the future ({iat} > {now})"),
            Reason::Expired { exp, now } => write!(f, "expired at {exp} (now {now})"),
            Reason::LifetimeTooLong { secs, max } => {
                write!(f, "lifetime {secs} s exceeds {max} s")
            }
            Reason::Replay(kind) => write!(f, "replay: {kind}"),
            Reason::ReplayGuardFull { capacity } => {
                write!(f, "replay guard full ({capacity} senders)")
            }
            Reason::StatusExpired { expired_at } => {
                write!(f, "sender status expired at {expired_at}")
            }
            Reason::StatusBelowRequired { have, need } => {
                write!(f, "sender status {have} does not meet {need}")
            }
            Reason::PolicyDenied(policy) => write!(f, "denied by policy {policy}"),
        }
    }
}

/// The outcome of verifying one command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Act on it: every check passed and the replay guard recorded it.
    Allow(Command),
    /// Refuse it, for these reasons (never empty), in verification order.
    Deny(Vec<Reason>),
}

impl Verdict {
    /// True for [`Verdict::Allow`].
    pub fn is_allow(&self) -> bool {
        matches!(self, Verdict::Allow(_))
    }

    /// The refusal reasons; empty for [`Verdict::Allow`].
    pub fn reasons(&self) -> &[Reason] {
        match self {
            Verdict::Allow(_) => &[],
            Verdict::Deny(reasons) => reasons,
        }
    }
}

/// Verifies a signed command for `recipient` at time `now`.
///
/// Stages, in order (`docs/command.md` §5). The first four stop at their first refusal,
/// because what follows would rest on data that cannot be trusted:
///
/// 1. size ([`Reason::TooLarge`]), then the snapshot's freshness ([`Reason::StaleSnapshot`],
///    [`Reason::ClockBehindSnapshot`]) — nothing parsed yet;
/// 2. parsing: envelope, `alg` support, payload ([`Reason::Malformed`],
///    [`Reason::UnsupportedAlgorithm`]);
/// 3. the sender's key: [`Reason::UnknownSender`], then [`Reason::KidMismatch`] and
///    [`Reason::AlgorithmKeyMismatch`] (both reported);
/// 4. the signature ([`Reason::BadSignature`]). **No status, replay or policy evaluation
///    happens for a command whose signature failed.**
/// 5. every remaining check on the authenticated command, each reported when it applies:
///    revoked, recipient, time window, lifetime, replay, status expiry, status requirement,
///    then the policy hook.
///
/// The replay guard is changed only when the verdict is Allow.
pub fn verify<S, P>(
    bytes: &[u8],
    snapshot: &S,
    replay: &mut ReplayGuard,
    now: UnixSeconds,
    recipient: &DeviceId,
    policy: &P,
) -> Verdict
where
    S: Snapshot + ?Sized,
    P: PolicyHook + ?Sized,
{
    let (command, sender) = match authenticate(bytes, snapshot, now) {
        Ok(authenticated) => authenticated,
        Err(reasons) => return Verdict::Deny(reasons),
    };
    let mut reasons = Vec::new();
    if sender.revoked {
        reasons.push(Reason::SenderRevoked);
    }
    if command.recipient != *recipient {
        reasons.push(Reason::WrongRecipient);
    }
    time_checks(&command, now, &mut reasons);
    match replay.check(&command.sender, command.seq, command.iat) {
        Ok(()) => {}
        Err(Refusal::Replay(kind)) => reasons.push(Reason::Replay(kind)),
        Err(Refusal::Full) => reasons.push(Reason::ReplayGuardFull {
            capacity: replay.capacity(),
        }),
    }
    status_checks(
        &sender,
        snapshot.required_status(recipient),
        now,
        &mut reasons,
    );
    let request = PolicyRequest {
        command: &command,
        sender_status: sender.status,
        now,
    };
    if let PolicyDecision::Deny(policy) = policy.decide(&request) {
        reasons.push(Reason::PolicyDenied(policy));
    }
    if reasons.is_empty() {
        replay.record(&command.sender, command.seq, command.exp);
        Verdict::Allow(command)
    } else {
        Verdict::Deny(reasons)
    }
}

/// Stages 1–4: from bytes to a command whose signature verified with the sender's current key.
fn authenticate<'s, S: Snapshot + ?Sized>(
    bytes: &[u8],
    snapshot: &'s S,
    now: UnixSeconds,
) -> Result<(Command, SenderEntry<'s>), Vec<Reason>> {
    let one = |reason| alloc::vec![reason];
    within_size(bytes).map_err(one)?;
    snapshot_fresh(snapshot, now).map_err(one)?;
    let (envelope, alg, command) = parse(bytes).map_err(one)?;
    let sender = snapshot
        .sender(&command.sender)
        .ok_or_else(|| one(Reason::UnknownSender))?;
    let reasons = key_reasons(&envelope, alg, sender.key);
    if !reasons.is_empty() {
        return Err(reasons);
    }
    check_signature(&envelope, sender.key).map_err(one)?;
    Ok((command, sender))
}

/// Opens a command with a key the caller already holds: size, envelope, algorithm, payload,
/// `kid` = the key's thumbprint, algorithm bound to the key's type, and the signature — the
/// same checks, in the same order, as stages 1–4 of [`verify`] (without the snapshot).
///
/// There is **no** time, recipient, replay, status or policy check: the caller judges those
/// (a ledger recording a command after the fact, an auditor re-checking one). Of the two
/// key checks `KidMismatch` is reported first. Look the key up with [`claimed_sender`].
pub fn open(bytes: &[u8], key: &PublicKey) -> Result<Command, Reason> {
    within_size(bytes)?;
    let (envelope, alg, command) = parse(bytes)?;
    if let Some(first) = key_reasons(&envelope, alg, key).into_iter().next() {
        return Err(first);
    }
    check_signature(&envelope, key)?;
    Ok(command)
}

/// The sender a command *claims*, unauthenticated: only for finding the key to [`open`] it
/// with. Refuses what [`open`] would refuse before looking at a key (size, envelope,
/// algorithm, payload), so the caller never looks up a key for unparsable input.
pub fn claimed_sender(bytes: &[u8]) -> Result<DeviceId, Reason> {
    within_size(bytes)?;
    parse(bytes).map(|(_, _, command)| command.sender)
}

fn within_size(bytes: &[u8]) -> Result<(), Reason> {
    if bytes.len() > MAX_COMMAND_BYTES {
        return Err(Reason::TooLarge {
            len: bytes.len(),
            max: MAX_COMMAND_BYTES,
        });
    }
    Ok(())
}

/// Stage 2: the envelope, a supported algorithm, the payload.
fn parse(bytes: &[u8]) -> Result<(Envelope, Algorithm, Command), Reason> {
    let envelope = Envelope::parse(bytes).map_err(Reason::Malformed)?;
    let alg =
        Algorithm::from_cose_id(envelope.alg).ok_or(Reason::UnsupportedAlgorithm(envelope.alg))?;
    let command = Command::from_payload(&envelope.payload).map_err(Reason::Malformed)?;
    Ok((envelope, alg, command))
}

/// Stage 3: every reason the key does not fit the envelope (kid, then algorithm).
fn key_reasons(envelope: &Envelope, alg: Algorithm, key: &PublicKey) -> Vec<Reason> {
    let mut reasons = Vec::new();
    if envelope.kid != *key.thumbprint() {
        reasons.push(Reason::KidMismatch);
    }
    if !key.accepts(alg) {
        reasons.push(Reason::AlgorithmKeyMismatch {
            alg,
            key: key.key_type(),
        });
    }
    reasons
}

/// Stage 4.
fn check_signature(envelope: &Envelope, key: &PublicKey) -> Result<(), Reason> {
    if key.verify(&envelope.to_be_signed, &envelope.signature) {
        Ok(())
    } else {
        Err(Reason::BadSignature)
    }
}

fn snapshot_fresh<S: Snapshot + ?Sized>(snapshot: &S, now: UnixSeconds) -> Result<(), Reason> {
    let issued_at = snapshot.issued_at();
    if issued_at > now.plus(MAX_CLOCK_SKEW_SECS) {
        return Err(Reason::ClockBehindSnapshot { issued_at, now });
    }
    let age_secs = now.since(issued_at);
    let max_age_secs = snapshot.max_age_secs();
    if age_secs > max_age_secs {
        return Err(Reason::StaleSnapshot {
            age_secs,
            max_age_secs,
        });
    }
    Ok(())
}

fn time_checks(command: &Command, now: UnixSeconds, reasons: &mut Vec<Reason>) {
    if command.iat > now.plus(MAX_CLOCK_SKEW_SECS) {
        reasons.push(Reason::NotYetValid {
            iat: command.iat,
            now,
        });
    }
    if now >= command.exp {
        reasons.push(Reason::Expired {
            exp: command.exp,
            now,
        });
    }
    let lifetime = command.exp.since(command.iat);
    if lifetime > MAX_LIFETIME_SECS {
        reasons.push(Reason::LifetimeTooLong {
            secs: lifetime,
            max: MAX_LIFETIME_SECS,
        });
    }
}

fn status_checks(
    sender: &SenderEntry<'_>,
    need: TrustStatus,
    now: UnixSeconds,
    reasons: &mut Vec<Reason>,
) {
    if now >= sender.status_expires_at {
        reasons.push(Reason::StatusExpired {
            expired_at: sender.status_expires_at,
        });
    }
    if !sender.status.meets(need) {
        reasons.push(Reason::StatusBelowRequired {
            have: sender.status,
            need,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{sign_command, sign_command_with_alg, Action, Params, SigningKey};

    fn command() -> Command {
        Command {
            sender: DeviceId::new(*b"switch-1").unwrap(),
            recipient: DeviceId::new(*b"valve-1").unwrap(),
            action: Action::new("open").unwrap(),
            params: Params::new(),
            seq: 7,
            iat: UnixSeconds(1_000),
            // Long expired: `open` never looks at time.
            exp: UnixSeconds(1_060),
        }
    }

    #[test]
    fn open_returns_the_command_signed_by_the_key_whatever_the_time() {
        let key = SigningKey::from_ed25519_seed([1; 32]);
        let bytes = sign_command(&command(), &key);
        assert_eq!(open(&bytes, &key.public_key()), Ok(command()));
        assert_eq!(claimed_sender(&bytes), Ok(command().sender));
    }

    #[test]
    fn open_refuses_another_key_a_tampered_signature_a_mismatched_alg_and_oversize_input() {
        let key = SigningKey::from_ed25519_seed([1; 32]);
        let other = SigningKey::from_ed25519_seed([2; 32]);
        let bytes = sign_command(&command(), &key);
        assert_eq!(open(&bytes, &other.public_key()), Err(Reason::KidMismatch));
        let mut tampered = bytes.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert_eq!(
            open(&tampered, &key.public_key()),
            Err(Reason::BadSignature)
        );
        let es256 = sign_command_with_alg(&command(), &key, -7);
        assert!(matches!(
            open(&es256, &key.public_key()),
            Err(Reason::AlgorithmKeyMismatch { .. })
        ));
        let huge = alloc::vec![0u8; MAX_COMMAND_BYTES + 1];
        assert!(matches!(
            open(&huge, &key.public_key()),
            Err(Reason::TooLarge { .. })
        ));
        assert!(matches!(claimed_sender(&[0xa0]), Err(Reason::Malformed(_))));
    }
}
