//! The gateway's state between messages: the current snapshot, the checker, the senders it has
//! learned, and what it last published about each device.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use proverka_command::{DeviceId, TrustStatus, UnixSeconds};

use proverka_ledger::interaction::{GatewayVerdict, MAX_INTERACTION_REASONS, MAX_REASON_BYTES};
use proverka_ledger::{kinds, make};
use proverka_statement::{sign_statement, ContentType, StatementParams};

use crate::check::{Checker, Outcome};
use crate::ledger::{Ledger, LedgerError, Submitted};
use crate::snapshot::GatewaySnapshot;
use crate::sync::{refresh, SyncError, Verifier};
use crate::{Config, GatewayError, MAX_SENDERS, UNKNOWN_SENDER_BACKOFF};

/// A device's published state: status and revocation, and the passport's certified height.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Published {
    pub status: TrustStatus,
    pub revoked: bool,
}

/// A change to announce to devices (retained messages).
#[derive(Clone, Debug)]
pub struct Change {
    pub device: DeviceId,
    pub now: Published,
    /// The device's passport, for peers that verify it themselves.
    pub passport: Arc<Vec<u8>>,
    pub certified_height: u64,
    pub certified_ms: u64,
    pub expires_ms: u64,
}

struct Inner {
    snapshot: Arc<GatewaySnapshot>,
    checker: Checker,
    senders: BTreeSet<DeviceId>,
    /// Senders the ledger did not know, and when they may be asked about again.
    unknown: HashMap<DeviceId, Instant>,
    published: BTreeMap<DeviceId, Published>,
}

/// A running gateway's core, independent of MQTT (the demo and tests drive it directly).
pub struct Gateway {
    config: Config,
    ledger: Ledger,
    verifier: Verifier,
    inner: Mutex<Inner>,
}

impl Gateway {
    /// Checks the configuration and prepares an empty (stale) snapshot.
    pub fn new(config: Config) -> Result<Self, GatewayError> {
        config.check()?;
        let ledger = Ledger::new(&config.ledger_url).map_err(GatewayError::Ledger)?;
        let verifier = Verifier::new(config.genesis.clone()).map_err(GatewayError::Sync)?;
        let inner = Inner {
            snapshot: Arc::new(GatewaySnapshot::new(
                config.max_snapshot_age_secs,
                config.required,
            )),
            checker: Checker::new(config.served.clone(), config.replay_senders),
            senders: config.senders.clone(),
            unknown: HashMap::new(),
            published: BTreeMap::new(),
        };
        Ok(Self {
            config,
            ledger,
            verifier,
            inner: Mutex::new(inner),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The ledger client.
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> Arc<GatewaySnapshot> {
        self.lock().snapshot.clone()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves plain data behind; keep serving.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Refreshes the snapshot once: the served devices, every known sender and the served
    /// devices' owners' policies. Returns what changed (to publish) and what failed.
    pub async fn sync(&self) -> (Vec<Change>, Vec<SyncError>) {
        let (previous, devices) = {
            let inner = self.lock();
            let devices: BTreeSet<DeviceId> = self
                .config
                .served
                .iter()
                .chain(inner.senders.iter())
                .cloned()
                .collect();
            (inner.snapshot.clone(), devices)
        };
        let refreshed = refresh(
            &self.ledger,
            &self.verifier,
            &previous,
            &devices,
            &self.config.served,
            now_ms(),
        )
        .await;
        let mut inner = self.lock();
        let changes = changes(&refreshed.snapshot, &mut inner.published);
        inner.snapshot = Arc::new(refreshed.snapshot);
        (changes, refreshed.errors)
    }

    /// Checks a command received for `recipient`. When its sender is unknown to the snapshot
    /// and the ledger is reachable, fetches the sender's passport once (then at most every
    /// [`UNKNOWN_SENDER_BACKOFF`] for a sender the ledger does not know) and checks again.
    pub async fn check(&self, bytes: &[u8], recipient: &DeviceId, now: UnixSeconds) -> Outcome {
        let outcome = self.check_now(bytes, recipient, now);
        if !Checker::unknown_sender(&outcome) {
            return outcome;
        }
        // Read without verifying anything: only to decide whose passport to fetch.
        let Ok(sender) = proverka_command::claimed_sender(bytes) else {
            return outcome;
        };
        if !self.may_learn(&sender) {
            return outcome;
        }
        match self.learn(&sender).await {
            true => self.check_now(bytes, recipient, now),
            false => outcome,
        }
    }

    fn check_now(&self, bytes: &[u8], recipient: &DeviceId, now: UnixSeconds) -> Outcome {
        let mut inner = self.lock();
        let snapshot = inner.snapshot.clone();
        inner.checker.check(&snapshot, bytes, recipient, now)
    }

    fn may_learn(&self, sender: &DeviceId) -> bool {
        let inner = self.lock();
        let backing_off = inner
            .unknown
            .get(sender)
            .is_some_and(|until| Instant::now() < *until);
        !backing_off && inner.senders.len() < MAX_SENDERS
    }

    /// Fetches and verifies one sender's passport; true when it is now in the snapshot.
    async fn learn(&self, sender: &DeviceId) -> bool {
        let fetched = self.ledger.passport(sender).await;
        let device = match fetched {
            Ok(Some(bytes)) => self.verifier.device(sender, bytes, now_ms()).ok(),
            Ok(None) => None,
            Err(_) => return false,
        };
        let mut inner = self.lock();
        let Some(device) = device else {
            let until = Instant::now() + UNKNOWN_SENDER_BACKOFF;
            // Bounded like the sender set: forget the oldest backoffs first.
            if inner.unknown.len() >= MAX_SENDERS {
                inner.unknown.retain(|_, t| *t > Instant::now());
            }
            if inner.unknown.len() < MAX_SENDERS {
                inner.unknown.insert(sender.clone(), until);
            }
            return false;
        };
        inner.senders.insert(sender.clone());
        let mut snapshot = (*inner.snapshot).clone();
        snapshot.insert_device(sender.clone(), device);
        inner.snapshot = Arc::new(snapshot);
        true
    }
}

impl Gateway {
    /// Registers a critical command as an interaction record on the ledger (`docs/gateway.md`
    /// §2): the sender-signed bytes as received, the verdict with every reason, the snapshot
    /// it was judged against and the deciding policy version. `None` without a recorder.
    pub async fn record(
        &self,
        bytes: &[u8],
        outcome: &Outcome,
        observed: UnixSeconds,
    ) -> Option<Result<Submitted, LedgerError>> {
        let recorder = self.config.recorder.as_ref()?;
        let snapshot = self.snapshot();
        let reasons: Vec<String> = match &outcome.result {
            Ok(_) => Vec::new(),
            Err(refusal) => refusal
                .reasons()
                .into_iter()
                .take(MAX_INTERACTION_REASONS)
                .map(|r| truncate(r, MAX_REASON_BYTES))
                .collect(),
        };
        let reasons: Vec<&str> = reasons.iter().map(String::as_str).collect();
        let satisfied: Vec<&str> = outcome
            .policy
            .iter()
            .flat_map(|p| p.satisfied.iter().map(String::as_str))
            .collect();
        let payload = make::interaction(&make::Interaction {
            command: bytes,
            verdict: if outcome.is_allow() {
                GatewayVerdict::Allow
            } else {
                GatewayVerdict::Deny
            },
            reasons: &reasons,
            observed: observed.0,
            snapshot_height: snapshot.certified_height(),
            snapshot_certified_ms: snapshot.certified_ms(),
            sender_status: outcome.sender_status.unwrap_or(TrustStatus::None),
            policy: outcome.policy.as_ref().map(|p| make::InteractionPolicy {
                owner: &p.owner,
                version: p.policy_version,
                satisfied: &satisfied,
            }),
        });
        let statement = sign_statement(
            &recorder.key,
            &StatementParams {
                iss: &recorder.iss,
                sub: "interaction",
                iat: observed.0 as i64,
                content_type: ContentType::Text(kinds::INTERACTION.into()),
                payload: &payload,
            },
        );
        Some(self.ledger.submit(statement).await)
    }
}

/// At most `max` bytes of `text`, cut at a character boundary.
fn truncate(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut cut = max;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
    text
}

/// Devices whose status or revocation differs from what was last published (all of them the
/// first time), recording the new state as published.
fn changes(
    snapshot: &GatewaySnapshot,
    published: &mut BTreeMap<DeviceId, Published>,
) -> Vec<Change> {
    let mut out = Vec::new();
    for (id, d) in snapshot.devices() {
        let now = Published {
            status: d.sender.status,
            revoked: d.sender.revoked,
        };
        if published.get(id) == Some(&now) {
            continue;
        }
        published.insert(id.clone(), now);
        out.push(Change {
            device: id.clone(),
            now,
            passport: d.passport.clone(),
            certified_height: d.certified_height,
            certified_ms: d.certified_ms,
            expires_ms: d.expires_ms,
        });
    }
    out
}

/// The wall clock in ms since the epoch (0 if the clock is before 1970).
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// How long until the next sync: `every`, or sooner when a retry is due.
pub fn next_sync(every: Duration, errors: usize) -> Duration {
    if errors > 0 {
        every.min(Duration::from_secs(2))
    } else {
        every
    }
}
