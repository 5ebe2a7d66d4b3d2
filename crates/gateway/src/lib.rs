//! The edge gateway (`proverka gateway`): checks device-to-device commands before they reach
//! their recipient, offline if it must, and bridges devices and the ledger over MQTT 5.
//!
//! * **Snapshot** ([`GatewaySnapshot`]): trust passports of the devices it serves and of the
//!   senders that command them, and the state-proved Cedar policy set in force for each served
//!   device's owner — every item verified with the committee in force at the epoch that
//!   certified it, learned from the genesis file and the committee hand-over chain the gateway
//!   follows and verifies link by link ([`sync`]), so a lying ledger node can make the snapshot
//!   age but never make it say something false. Refreshed
//!   every [`Config::sync_every`]; its age is that of its oldest item, and once older than
//!   [`Config::max_snapshot_age_secs`] every command is refused (`StaleSnapshot`).
//! * **Check** ([`Checker`]): the `no_std` verifier (`proverka_command::verify`: signature with
//!   the sender's current key, revocation, recipient, expiry, replay, sender status against the
//!   requirement) with the owner's Cedar policies as its hook; commands for devices the gateway
//!   does not serve are refused (`UnknownRecipient`). A command from a sender the snapshot does
//!   not know makes the gateway fetch that sender's passport once and check again.
//! * **Record**: a command decided by a policy annotated `@critical` is registered on the
//!   ledger as an interaction record, signed by the gateway's operator key.
//! * **MQTT** ([`mqtt`]): topics and payloads in `docs/gateway.md`.
//!
//! Limits: [`MAX_SERVED_DEVICES`], [`MAX_SENDERS`], [`MAX_MQTT_PACKET_BYTES`],
//! [`MAX_EVIDENCE_BYTES`], [`MAX_QUEUED_MESSAGES`], [`MAX_EVIDENCE_IN_FLIGHT`],
//! [`MAX_RECORDINGS_IN_FLIGHT`], [`MAX_SUBMIT_ANSWER_BYTES`], [`ledger::MAX_CHAIN_BYTES`], the
//! submissions to the ledger [`batch::MAX_BATCH_STATEMENTS`], [`batch::MAX_BATCH_BYTES`],
//! [`batch::MAX_BATCHES_IN_FLIGHT`], [`batch::MAX_WAITING`]; the
//! snapshot bound at most
//! [`MAX_SNAPSHOT_AGE_SECS`].

#![forbid(unsafe_code)]

pub mod batch;
mod check;
mod gateway;
pub mod ledger;
pub mod mqtt;
mod snapshot;
pub mod sync;

use std::collections::BTreeSet;
use std::time::Duration;

pub use check::{Checker, Outcome, Refusal};
pub use gateway::{now_ms, Change, Gateway, Published};
pub use snapshot::{GatewaySnapshot, KnownDevice, ProvedPolicies};

use proverka_command::{DeviceId, TrustStatus};

/// Most devices one gateway serves (recipients of commands).
pub const MAX_SERVED_DEVICES: usize = 4096;
/// Most senders a gateway keeps passports for (configured and learned).
pub const MAX_SENDERS: usize = 4096;
/// Largest MQTT packet the gateway accepts from the broker.
pub const MAX_MQTT_PACKET_BYTES: usize = 128 * 1024;
/// Largest evidence statement forwarded to the ledger.
pub const MAX_EVIDENCE_BYTES: usize = 64 * 1024;
/// Messages queued between the broker connection and the command worker; more are dropped
/// (QoS 1 publishers retry).
pub const MAX_QUEUED_MESSAGES: usize = 1024;
/// Evidence submissions to the ledger in flight at once (one task each); past this an
/// evidence message is refused at once with `{"status": "refused", "reason": "gateway busy…"}`.
pub const MAX_EVIDENCE_IN_FLIGHT: usize = 64;
/// Interaction recordings of critical commands in flight at once (each waits for a block);
/// past this a critical command is judged and answered as usual but not recorded, with a
/// warning in the log.
pub const MAX_RECORDINGS_IN_FLIGHT: usize = 64;
/// Largest answer read from the ledger per submitted statement (a receipt is at most 16 KiB,
/// a problem document far less); a larger one is an error.
pub const MAX_SUBMIT_ANSWER_BYTES: usize = 64 * 1024;
/// Longest a snapshot may be used: a passport is accepted for at most 10 minutes after the
/// block that certifies it (`proverka_lightclient::passport::MAX_PASSPORT_AGE_MS`).
pub const MAX_SNAPSHOT_AGE_SECS: u64 = 600;
/// Default snapshot bound.
pub const DEFAULT_MAX_SNAPSHOT_AGE_SECS: u64 = 120;
/// Default interval between syncs.
pub const DEFAULT_SYNC_EVERY: Duration = Duration::from_secs(20);
/// How long a sender the ledger does not know is not asked about again.
pub const UNKNOWN_SENDER_BACKOFF: Duration = Duration::from_secs(30);

/// A gateway's configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// Base URL of a ledger node.
    pub ledger_url: String,
    /// The genesis file's bytes: what every fetched artefact is verified with.
    pub genesis: Vec<u8>,
    /// MQTT broker host and port.
    pub broker_host: String,
    pub broker_port: u16,
    /// MQTT client id.
    pub client_id: String,
    /// Topic root (`proverka/v1`).
    pub topic_root: String,
    /// The devices this gateway delivers commands to.
    pub served: BTreeSet<DeviceId>,
    /// Senders whose passports are synced from the start (others are learned on first use).
    pub senders: BTreeSet<DeviceId>,
    /// Interval between syncs.
    pub sync_every: Duration,
    /// The snapshot bound, in seconds (at most [`MAX_SNAPSHOT_AGE_SECS`]).
    pub max_snapshot_age_secs: u64,
    /// The least sender status for any command (Cedar policies may demand more).
    pub required: TrustStatus,
    /// Replay guard capacity (senders remembered).
    pub replay_senders: usize,
    /// Who signs interaction records of critical commands: a key of the organisation that
    /// owns the served devices. `None`: critical commands are only logged.
    pub recorder: Option<Recorder>,
}

/// The signer of interaction records.
#[derive(Clone)]
pub struct Recorder {
    /// The issuer (`iss`) registered for `key` on the ledger.
    pub iss: String,
    pub key: std::sync::Arc<proverka_statement::PrivateKey>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("iss", &self.iss)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// A configuration with the defaults for everything but the essentials.
    pub fn new(ledger_url: &str, genesis: Vec<u8>, served: BTreeSet<DeviceId>) -> Self {
        Self {
            ledger_url: ledger_url.to_owned(),
            genesis,
            broker_host: "127.0.0.1".into(),
            broker_port: 1883,
            client_id: "proverka-gateway".into(),
            topic_root: "proverka/v1".into(),
            served,
            senders: BTreeSet::new(),
            sync_every: DEFAULT_SYNC_EVERY,
            max_snapshot_age_secs: DEFAULT_MAX_SNAPSHOT_AGE_SECS,
            required: TrustStatus::Warning,
            replay_senders: proverka_command::DEFAULT_REPLAY_SENDERS,
            recorder: None,
        }
    }

    /// Checks the documented limits.
    pub fn check(&self) -> Result<(), GatewayError> {
        let bad = |m: String| Err(GatewayError::Config(m));
        if self.served.is_empty() || self.served.len() > MAX_SERVED_DEVICES {
            return bad(format!("serve 1..={MAX_SERVED_DEVICES} devices"));
        }
        if self.senders.len() > MAX_SENDERS {
            return bad(format!("at most {MAX_SENDERS} senders"));
        }
        if self.max_snapshot_age_secs == 0 || self.max_snapshot_age_secs > MAX_SNAPSHOT_AGE_SECS {
            return bad(format!(
                "the snapshot bound must be 1..={MAX_SNAPSHOT_AGE_SECS} s"
            ));
        }
        if self.sync_every.is_zero() || self.sync_every.as_secs() >= self.max_snapshot_age_secs {
            return bad("sync more often than the snapshot bound".into());
        }
        if !matches!(self.required, TrustStatus::Affirming | TrustStatus::Warning) {
            return bad("the required status must be affirming or warning".into());
        }
        if self.topic_root.is_empty() || self.topic_root.contains(['+', '#']) {
            return bad("the topic root must be a plain topic".into());
        }
        Ok(())
    }
}

/// Why the gateway cannot start or run.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("configuration: {0}")]
    Config(String),
    #[error("{0}")]
    Ledger(ledger::LedgerError),
    #[error("{0}")]
    Sync(sync::SyncError),
}
