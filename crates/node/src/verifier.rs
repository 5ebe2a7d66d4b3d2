//! Verifies submitted statements' signatures in batches, on threads of its own.
//!
//! The HTTP handler judges a submission with its signature check deferred
//! ([`proverka_ledger::Rules::check_statement_deferred`]), then hands the statement and the
//! key the rules chose to this collector and awaits the result. Worker threads gather what is
//! queued — up to [`MAX_VERIFY_BATCH`] statements, waiting at most [`VERIFY_WINDOW`] after the
//! first — and verify it with [`proverka_statement::verify_batch`]: Ed25519 items in one batch
//! equation (ZIP-215, the same rules as single verification, so the accept/reject set is
//! unchanged), ECDSA items one by one. Either way no signature arithmetic runs on the async
//! workers that serve HTTP.
//!
//! Bound: at most [`MAX_VERIFY_QUEUE`] statements wait; a submission finding the queue full is
//! refused at once with [`VerifyError::Busy`] (503, like a full pool) and changes nothing.

use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TryRecvError, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use proverka_statement::{verify_batch, PublicKey, SignedStatement, StatementError};
use tokio::sync::oneshot;

/// Most statements waiting for signature verification; beyond it submissions get 503.
pub const MAX_VERIFY_QUEUE: usize = 8_192;
/// Most statements verified in one batch.
pub const MAX_VERIFY_BATCH: usize = 256;
/// How long a worker waits for more statements after the first of a batch.
pub const VERIFY_WINDOW: Duration = Duration::from_millis(1);

/// Why a statement's signature was not checked.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VerifyError {
    #[error("the signature verification queue is full ({0} statements); retry later")]
    Busy(usize),
    #[error("the signature verifier stopped")]
    Stopped,
}

/// The result of verifying one statement with its key: what
/// [`SignedStatement::verify`] would return.
pub type SignatureResult = Result<(), StatementError>;

struct Job {
    statement: Arc<SignedStatement>,
    key: PublicKey,
    reply: oneshot::Sender<SignatureResult>,
}

/// How a [`Verifier`] batches.
#[derive(Clone, Copy, Debug)]
pub struct VerifierConfig {
    /// Worker threads (0 is allowed, for tests: nothing is ever verified).
    pub workers: usize,
    /// Queue bound (at least 1).
    pub queue: usize,
    /// Most statements per batch (at least 1).
    pub max_batch: usize,
    /// Wait for more statements after the first of a batch.
    pub window: Duration,
}

impl Default for VerifierConfig {
    fn default() -> Self {
        VerifierConfig {
            workers: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            queue: MAX_VERIFY_QUEUE,
            max_batch: MAX_VERIFY_BATCH,
            window: VERIFY_WINDOW,
        }
    }
}

/// The collector: a bounded queue and the worker threads that drain it. Workers stop once the
/// `Verifier` is dropped and the queue is empty.
pub struct Verifier {
    tx: SyncSender<Job>,
    /// Keeps the queue open even with no worker (tests); workers stop once `tx` is dropped.
    _rx: Arc<Mutex<Receiver<Job>>>,
    queue: usize,
}

impl Default for Verifier {
    fn default() -> Self {
        Verifier::start(VerifierConfig::default())
    }
}

impl Verifier {
    /// Starts the worker threads. A thread that cannot be spawned is logged and skipped.
    pub fn start(config: VerifierConfig) -> Self {
        let queue = config.queue.max(1);
        let max_batch = config.max_batch.max(1);
        let (tx, rx) = mpsc::sync_channel(queue);
        let rx = Arc::new(Mutex::new(rx));
        for n in 0..config.workers {
            let rx = rx.clone();
            let window = config.window;
            let spawned = std::thread::Builder::new()
                .name(format!("sig-verify-{n}"))
                .spawn(move || worker(&rx, max_batch, window));
            if let Err(e) = spawned {
                tracing::error!("starting signature verifier thread {n}: {e}");
            }
        }
        Verifier { tx, _rx: rx, queue }
    }

    /// Queues `statement` for verification with `key`, or refuses at once if the queue is full.
    pub fn submit(
        &self,
        statement: Arc<SignedStatement>,
        key: PublicKey,
    ) -> Result<oneshot::Receiver<SignatureResult>, VerifyError> {
        let (reply, rx) = oneshot::channel();
        let job = Job {
            statement,
            key,
            reply,
        };
        match self.tx.try_send(job) {
            Ok(()) => Ok(rx),
            Err(TrySendError::Full(_)) => Err(VerifyError::Busy(self.queue)),
            Err(TrySendError::Disconnected(_)) => Err(VerifyError::Stopped),
        }
    }

    /// Verifies `statement` with `key` in the next batch; the result equals
    /// `statement.verify(&key)`.
    pub async fn verify(
        &self,
        statement: Arc<SignedStatement>,
        key: PublicKey,
    ) -> Result<SignatureResult, VerifyError> {
        self.submit(statement, key)?
            .await
            .map_err(|_| VerifyError::Stopped)
    }
}

fn worker(rx: &Mutex<Receiver<Job>>, max_batch: usize, window: Duration) {
    loop {
        // One worker gathers at a time; the others verify what they gathered meanwhile.
        let batch = {
            let rx = match rx.lock() {
                Ok(guard) => guard,
                Err(poisoned) => poisoned.into_inner(),
            };
            gather(&rx, max_batch, window)
        };
        match batch {
            Some(batch) => verify_jobs(batch),
            None => return,
        }
    }
}

/// Waits for one job, then takes more until `max_batch` or `window` after the first. `None`
/// once every sender is gone and the queue is empty.
fn gather(rx: &Receiver<Job>, max_batch: usize, window: Duration) -> Option<Vec<Job>> {
    let first = rx.recv().ok()?;
    let deadline = Instant::now() + window;
    let mut batch = Vec::with_capacity(max_batch.min(64));
    batch.push(first);
    while batch.len() < max_batch {
        match rx.try_recv() {
            Ok(job) => {
                batch.push(job);
                continue;
            }
            Err(TryRecvError::Disconnected) => break,
            Err(TryRecvError::Empty) => {}
        }
        let Some(left) = deadline.checked_duration_since(Instant::now()) else {
            break;
        };
        match rx.recv_timeout(left) {
            Ok(job) => batch.push(job),
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
        }
    }
    Some(batch)
}

/// Verifies one batch and answers each job (a submitter that went away is ignored).
fn verify_jobs(batch: Vec<Job>) {
    let items: Vec<(&SignedStatement, &PublicKey)> =
        batch.iter().map(|j| (&*j.statement, &j.key)).collect();
    let results = verify_batch(&items);
    drop(items);
    for (job, result) in batch.into_iter().zip(results) {
        let _ = job.reply.send(result);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proverka_statement::{
        sign_statement, ContentType, KeyType, Limits, PrivateKey, StatementParams,
    };

    /// A statement signed by `key`, parsed; `n` makes it distinct.
    pub(crate) fn statement(key: &PrivateKey, n: usize) -> Arc<SignedStatement> {
        let payload = format!("{{\"n\":{n}}}");
        let bytes = sign_statement(
            key,
            &StatementParams {
                iss: "test",
                sub: "s",
                iat: 1_764_000_000,
                content_type: ContentType::Text("application/json".into()),
                payload: payload.as_bytes(),
            },
        );
        Arc::new(SignedStatement::parse(&bytes, &Limits::default()).expect("own statement parses"))
    }

    /// The same statement with one bit of its signature flipped.
    fn tampered(key: &PrivateKey, n: usize) -> Arc<SignedStatement> {
        let mut bytes = statement(key, n).bytes().to_vec();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        Arc::new(
            SignedStatement::parse(&bytes, &Limits::default()).expect("tampered statement parses"),
        )
    }

    fn one_batch(window: Duration) -> Verifier {
        Verifier::start(VerifierConfig {
            workers: 1,
            queue: 64,
            max_batch: 64,
            window,
        })
    }

    #[tokio::test]
    async fn a_batch_with_one_bad_signature_refuses_exactly_that_one() {
        for key_type in [KeyType::Ed25519, KeyType::P256] {
            let key = PrivateKey::generate(key_type).expect("key");
            // A long window so that all 32 land in one batch.
            let verifier = one_batch(Duration::from_millis(500));
            let mut waiting = Vec::new();
            for n in 0..32 {
                let stmt = if n == 17 {
                    tampered(&key, n)
                } else {
                    statement(&key, n)
                };
                waiting.push(verifier.submit(stmt, key.public_key()).expect("queued"));
            }
            for (n, rx) in waiting.into_iter().enumerate() {
                let result = rx.await.expect("answered");
                if n == 17 {
                    assert_eq!(result, Err(StatementError::BadSignature), "{key_type}");
                } else {
                    assert_eq!(result, Ok(()), "{key_type} item {n}");
                }
            }
        }
    }

    #[tokio::test]
    async fn results_equal_single_verification_for_mixed_keys_and_wrong_key_types() {
        let ed = PrivateKey::generate(KeyType::Ed25519).expect("key");
        let p256 = PrivateKey::generate(KeyType::P256).expect("key");
        let verifier = one_batch(Duration::from_millis(200));
        let cases = [
            (statement(&ed, 0), ed.public_key()),
            (statement(&p256, 1), p256.public_key()),
            (tampered(&ed, 2), ed.public_key()),
            (statement(&ed, 3), p256.public_key()),
            (statement(&p256, 4), ed.public_key()),
            (tampered(&p256, 5), p256.public_key()),
        ];
        let mut waiting = Vec::new();
        for (stmt, key) in &cases {
            let expected = stmt.verify(key);
            waiting.push((
                expected,
                verifier.submit(stmt.clone(), key.clone()).expect("queued"),
            ));
        }
        for (expected, rx) in waiting {
            assert_eq!(rx.await.expect("answered"), expected);
        }
    }

    #[tokio::test]
    async fn a_full_queue_refuses_at_once() {
        let key = PrivateKey::generate(KeyType::Ed25519).expect("key");
        // No worker: nothing drains the queue.
        let verifier = Verifier::start(VerifierConfig {
            workers: 0,
            queue: 2,
            max_batch: 8,
            window: VERIFY_WINDOW,
        });
        let _a = verifier
            .submit(statement(&key, 0), key.public_key())
            .expect("queued");
        let _b = verifier
            .submit(statement(&key, 1), key.public_key())
            .expect("queued");
        assert_eq!(
            verifier.submit(statement(&key, 2), key.public_key()).err(),
            Some(VerifyError::Busy(2))
        );
    }
}
