//! Statements to the ledger, sent together: submissions made at the same time share one
//! `POST /entries/bulk` request (`docs/api.md`).
//!
//! A gateway relays many devices (their evidence, and a record of each critical command it
//! judged). One HTTP request per statement spends most of a ledger node's CPU on HTTP: the same
//! node registers two to three times more statements per second in bulk (BENCHMARKS.md).
//!
//! No timer holds a statement back. A submission that finds a request slot free leaves at once,
//! alone; only while all [`MAX_BATCHES_IN_FLIGHT`] requests wait for their blocks do
//! submissions gather, and they leave together in the next free slot, at most
//! [`MAX_BATCH_STATEMENTS`] and [`MAX_BATCH_BYTES`] per request. So a quiet gateway adds no
//! latency and a busy one sends fewer, fuller requests. Each submitter gets its own
//! statement's answer, the one `POST /entries` would have given; a request that fails as a
//! whole fails every statement in it with the same error.

use std::sync::Arc;

use ciborium::value::Value;
use tokio::sync::{mpsc, oneshot, Semaphore};

use crate::ledger::{read_bounded, LedgerError, Submitted};
use crate::MAX_SUBMIT_ANSWER_BYTES;

/// Most statements in one request: the node's limit (`proverka_node::api::MAX_BULK_STATEMENTS`).
pub const MAX_BATCH_STATEMENTS: usize = 256;
/// Most statement bytes in one request; half the node's 8 MiB body limit, so the CBOR framing
/// never matters. A statement larger than this still goes, alone.
pub const MAX_BATCH_BYTES: usize = 4 * 1024 * 1024;
/// Requests in flight to the ledger at once.
pub const MAX_BATCHES_IN_FLIGHT: usize = 4;
/// Submissions waiting for a request; past this a submission fails at once with
/// [`LedgerError::Busy`] instead of queueing without bound.
pub const MAX_WAITING: usize = 4 * MAX_BATCH_STATEMENTS;

/// A statement waiting to be sent, and where its answer goes.
struct Job {
    statement: Vec<u8>,
    answer: oneshot::Sender<Result<Submitted, LedgerError>>,
}

/// The sending half of a running batcher; the batcher stops once every handle is dropped.
#[derive(Clone)]
pub(crate) struct Batcher {
    jobs: mpsc::Sender<Job>,
}

impl Batcher {
    /// Starts a batcher posting to `base` with `http`, at most `slots` requests in flight.
    /// Must be called within a tokio runtime.
    pub(crate) fn start(http: reqwest::Client, base: &str, slots: usize) -> Self {
        let (jobs, queue) = mpsc::channel(MAX_WAITING);
        let url = format!("{base}/entries/bulk");
        tokio::spawn(gather(http, url, queue, slots.max(1)));
        Self { jobs }
    }

    /// Submits `statement` and waits for its own answer.
    pub(crate) async fn submit(&self, statement: Vec<u8>) -> Result<Submitted, LedgerError> {
        let (answer, answered) = oneshot::channel();
        self.jobs
            .try_send(Job { statement, answer })
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => LedgerError::Busy(MAX_WAITING),
                mpsc::error::TrySendError::Closed(_) => stopped(),
            })?;
        answered.await.unwrap_or_else(|_| Err(stopped()))
    }
}

fn stopped() -> LedgerError {
    LedgerError::Unreachable("the gateway's ledger client stopped".into())
}

/// Waits for a submission and a free slot, takes every submission already waiting (within
/// the limits) and sends them in one request; until every [`Batcher`] is dropped.
async fn gather(http: reqwest::Client, url: String, mut queue: mpsc::Receiver<Job>, slots: usize) {
    let slots = Arc::new(Semaphore::new(slots));
    let mut carried: Option<Job> = None;
    loop {
        let first = match carried.take() {
            Some(job) => job,
            None => match queue.recv().await {
                Some(job) => job,
                None => return,
            },
        };
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let mut bytes = first.statement.len();
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH_STATEMENTS {
            let Ok(job) = queue.try_recv() else { break };
            if bytes + job.statement.len() > MAX_BATCH_BYTES {
                carried = Some(job);
                break;
            }
            bytes += job.statement.len();
            batch.push(job);
        }
        let (http, url) = (http.clone(), url.clone());
        tokio::spawn(async move {
            let _slot = slot;
            send(&http, &url, batch).await;
        });
    }
}

/// Sends one request and hands each submitter its answer.
async fn send(http: &reqwest::Client, url: &str, batch: Vec<Job>) {
    let (statements, answers): (Vec<Vec<u8>>, Vec<_>) = batch
        .into_iter()
        .map(|job| (job.statement, job.answer))
        .unzip();
    match post(http, url, &statements).await {
        Ok(results) => {
            for (answer, result) in answers.into_iter().zip(results) {
                let _ = answer.send(Ok(result));
            }
        }
        Err(e) => {
            for answer in answers {
                let _ = answer.send(Err(e.clone()));
            }
        }
    }
}

/// `POST /entries/bulk` with `statements`; one [`Submitted`] per statement, in order.
async fn post(
    http: &reqwest::Client,
    url: &str,
    statements: &[Vec<u8>],
) -> Result<Vec<Submitted>, LedgerError> {
    let body = encode_request(statements)?;
    let response = http
        .post(url)
        .header("content-type", "application/cbor")
        .body(body)
        .send()
        .await
        .map_err(|e| LedgerError::Unreachable(e.to_string()))?;
    let status = response.status().as_u16();
    let max = statements.len().saturating_mul(MAX_SUBMIT_ANSWER_BYTES);
    let body = read_bounded(response, max).await?;
    if status != 200 {
        return Err(LedgerError::Status {
            status,
            body: String::from_utf8_lossy(&body).chars().take(500).collect(),
        });
    }
    decode_answer(&body, statements)
}

fn encode_request(statements: &[Vec<u8>]) -> Result<Vec<u8>, LedgerError> {
    let items = statements.iter().map(|s| Value::Bytes(s.clone())).collect();
    let mut body = Vec::new();
    ciborium::into_writer(&Value::Array(items), &mut body)
        .map_err(|e| LedgerError::Malformed(format!("encoding a bulk request: {e}")))?;
    Ok(body)
}

/// The node's answer (`[status, entry id, receipt / problem / null]` per statement) as one
/// [`Submitted`] each: a receipt or a problem (re-encoded as the CBOR problem document
/// `POST /entries` answers) with its status; `null` (the block took longer than the node
/// waits) as 202 with the entry id, the answer `POST /entries` gives once its redirect is
/// followed. Anything else — another count, an id that is not the statement's — is refused
/// whole.
pub(crate) fn decode_answer(
    body: &[u8],
    statements: &[Vec<u8>],
) -> Result<Vec<Submitted>, LedgerError> {
    let malformed = |what: &str| LedgerError::Malformed(format!("bulk answer: {what}"));
    let value: Value =
        ciborium::from_reader(body).map_err(|e| malformed(&format!("not CBOR ({e})")))?;
    let Value::Array(items) = value else {
        return Err(malformed("not an array"));
    };
    if items.len() != statements.len() {
        return Err(malformed(&format!(
            "{} results for {} statements",
            items.len(),
            statements.len()
        )));
    }
    items
        .into_iter()
        .zip(statements)
        .map(|(item, statement)| decode_item(item, statement).map_err(|e| malformed(&e)))
        .collect()
}

fn decode_item(item: Value, statement: &[u8]) -> Result<Submitted, String> {
    let Value::Array(fields) = item else {
        return Err("a result that is not an array".into());
    };
    let [Value::Integer(status), Value::Bytes(id), body] =
        <[Value; 3]>::try_from(fields).map_err(|f| format!("a result of {} fields", f.len()))?
    else {
        return Err("a result that is not [status, id, body]".into());
    };
    if id.as_slice() != proverka_statement::statement_id(statement) {
        return Err("a result for another statement".into());
    }
    let status = u16::try_from(status)
        .ok()
        .filter(|s| (200..600).contains(s))
        .ok_or("a status outside 200..600")?;
    let body = match body {
        Value::Bytes(receipt) if status < 300 => receipt,
        Value::Null if status == 303 => {
            return Ok(Submitted {
                status: 202,
                body: id,
            })
        }
        problem @ Value::Map(_) if status >= 400 => {
            let mut bytes = Vec::new();
            ciborium::into_writer(&problem, &mut bytes).map_err(|e| e.to_string())?;
            bytes
        }
        _ => return Err(format!("a {status} result with the wrong kind of body")),
    };
    Ok(Submitted { status, body })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
    use tokio::sync::watch;

    fn statement(n: u8) -> Vec<u8> {
        vec![0xd2, n, n, n]
    }

    fn id(statement: &[u8]) -> Vec<u8> {
        proverka_statement::statement_id(statement).to_vec()
    }

    fn cbor(value: &Value) -> Vec<u8> {
        let mut out = Vec::new();
        ciborium::into_writer(value, &mut out).expect("encode");
        out
    }

    fn item(status: u16, statement: &[u8], body: Value) -> Value {
        Value::Array(vec![
            Value::Integer(status.into()),
            Value::Bytes(id(statement)),
            body,
        ])
    }

    fn problem(status: u16, title: &str) -> Value {
        Value::Map(vec![
            (Value::Integer((-1).into()), Value::Text(title.into())),
            (Value::Integer((-3).into()), Value::Integer(status.into())),
        ])
    }

    #[test]
    fn each_statement_gets_what_post_entries_would_have_answered() {
        let s: Vec<Vec<u8>> = (1..=4).map(statement).collect();
        let answer = cbor(&Value::Array(vec![
            item(201, &s[0], Value::Bytes(b"receipt 1".to_vec())),
            item(400, &s[1], problem(400, "Bad signature")),
            item(303, &s[2], Value::Null),
            item(200, &s[3], Value::Bytes(b"receipt 4".to_vec())),
        ]));
        let got = decode_answer(&answer, &s).expect("decoded");
        let want = [
            Submitted {
                status: 201,
                body: b"receipt 1".to_vec(),
            },
            Submitted {
                status: 400,
                body: cbor(&problem(400, "Bad signature")),
            },
            Submitted {
                status: 202,
                body: id(&s[2]),
            },
            Submitted {
                status: 200,
                body: b"receipt 4".to_vec(),
            },
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn an_answer_that_does_not_match_the_request_is_refused_whole() {
        let s: Vec<Vec<u8>> = (1..=2).map(statement).collect();
        let ok = |n: usize| item(201, &s[n], Value::Bytes(b"r".to_vec()));
        let cases = [
            ("one result short", cbor(&Value::Array(vec![ok(0)]))),
            ("results swapped", cbor(&Value::Array(vec![ok(1), ok(0)]))),
            (
                "a receipt with a refusal",
                cbor(&Value::Array(vec![
                    ok(0),
                    item(400, &s[1], Value::Bytes(vec![1])),
                ])),
            ),
            (
                "a problem with a success",
                cbor(&Value::Array(vec![
                    ok(0),
                    item(201, &s[1], problem(400, "x")),
                ])),
            ),
            (
                "null but not 303",
                cbor(&Value::Array(vec![ok(0), item(201, &s[1], Value::Null)])),
            ),
            (
                "a status out of range",
                cbor(&Value::Array(vec![ok(0), item(99, &s[1], Value::Null)])),
            ),
            ("not an array", cbor(&Value::Map(vec![]))),
            ("not CBOR", vec![0xff, 0x00]),
        ];
        for (what, answer) in cases {
            assert!(
                matches!(decode_answer(&answer, &s), Err(LedgerError::Malformed(_))),
                "{what}"
            );
        }
    }

    /// A fake ledger: answers every bulk request with 201 and the receipt `receipt of N` for
    /// statement N, or with `status` and no body when it is not 200; records each request's
    /// statements; holds its answers while `gate` is false.
    struct FakeLedger {
        url: String,
        requests: Arc<Mutex<Vec<Vec<Vec<u8>>>>>,
        gate: watch::Sender<bool>,
    }

    async fn fake_ledger(status: u16) -> FakeLedger {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (gate, open) = watch::channel(true);
        let seen = requests.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let (seen, mut open) = (seen.clone(), open.clone());
                tokio::spawn(async move {
                    let mut socket = BufReader::new(socket);
                    while let Some(body) = read_request(&mut socket).await {
                        let statements: Vec<Vec<u8>> = match ciborium::from_reader(&body[..]) {
                            Ok(Value::Array(items)) => items
                                .into_iter()
                                .filter_map(|v| v.into_bytes().ok())
                                .collect(),
                            _ => return,
                        };
                        seen.lock().expect("lock").push(statements.clone());
                        let _ = open.wait_for(|open| *open).await;
                        let answer = if status == 200 {
                            let items = statements
                                .iter()
                                .map(|s| {
                                    let receipt = format!("receipt of {}", s[1]).into_bytes();
                                    item(201, s, Value::Bytes(receipt))
                                })
                                .collect();
                            cbor(&Value::Array(items))
                        } else {
                            Vec::new()
                        };
                        let head = format!(
                            "HTTP/1.1 {status} X\r\ncontent-type: application/cbor\r\ncontent-length: {}\r\n\r\n",
                            answer.len()
                        );
                        let socket = socket.get_mut();
                        if socket
                            .write_all(&[head.as_bytes(), &answer].concat())
                            .await
                            .is_err()
                        {
                            return;
                        }
                    }
                });
            }
        });
        FakeLedger {
            url,
            requests,
            gate,
        }
    }

    /// One HTTP/1.1 request's body (by its content-length); `None` at the end of the stream.
    async fn read_request(socket: &mut BufReader<tokio::net::TcpStream>) -> Option<Vec<u8>> {
        let mut length = 0;
        loop {
            let mut line = String::new();
            if socket.read_line(&mut line).await.ok()? == 0 {
                return None;
            }
            let line = line.trim_end().to_ascii_lowercase();
            if line.is_empty() {
                break;
            }
            if let Some(v) = line.strip_prefix("content-length:") {
                length = v.trim().parse().ok()?;
            }
        }
        let mut body = vec![0; length];
        socket.read_exact(&mut body).await.ok()?;
        Some(body)
    }

    fn client() -> reqwest::Client {
        reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(20))
            .build()
            .expect("client")
    }

    /// Waits (bounded) until the fake ledger has received `n` requests.
    async fn wait_for_requests(fake: &FakeLedger, n: usize) {
        for _ in 0..2000 {
            if fake.requests.lock().expect("lock").len() >= n {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        panic!("the fake ledger never received {n} requests");
    }

    /// A batcher with one request slot whose first submission, `first`, the ledger has received
    /// and holds unanswered until its gate opens.
    async fn one_held_at_the_ledger(
        first: Vec<u8>,
    ) -> (
        FakeLedger,
        Batcher,
        tokio::task::JoinHandle<Result<Submitted, LedgerError>>,
    ) {
        let fake = fake_ledger(200).await;
        let batcher = Batcher::start(client(), &fake.url, 1);
        fake.gate.send_replace(false);
        let held = tokio::spawn({
            let b = batcher.clone();
            async move { b.submit(first).await }
        });
        wait_for_requests(&fake, 1).await;
        (fake, batcher, held)
    }

    #[tokio::test]
    async fn statements_submitted_while_the_request_slots_are_busy_share_the_next_request() {
        // The first statement finds the slot free and leaves alone at once.
        let (fake, batcher, first) = one_held_at_the_ledger(statement(1)).await;
        // Three more while its answer is held: they wait, then leave together.
        let rest: Vec<_> = (2..=4)
            .map(|n| {
                let b = batcher.clone();
                tokio::spawn(async move { b.submit(statement(n)).await })
            })
            .collect();
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert_eq!(
            fake.requests.lock().expect("lock").len(),
            1,
            "nothing sent while busy"
        );
        fake.gate.send_replace(true);

        let answer = first.await.expect("task").expect("answer");
        assert_eq!(
            answer,
            Submitted {
                status: 201,
                body: b"receipt of 1".to_vec()
            }
        );
        for (n, task) in (2..=4).zip(rest) {
            let answer = task.await.expect("task").expect("answer");
            let body = format!("receipt of {n}").into_bytes();
            assert_eq!(answer, Submitted { status: 201, body }, "statement {n}");
        }
        let requests = fake.requests.lock().expect("lock").clone();
        let sizes: Vec<usize> = requests.iter().map(Vec::len).collect();
        assert_eq!(
            sizes,
            [1, 3],
            "one request alone, then one with the three that waited"
        );
        let mut sent: Vec<Vec<u8>> = requests.concat();
        sent.sort();
        assert_eq!(sent, (1..=4).map(statement).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn a_request_the_ledger_refuses_fails_each_statement_in_it_with_the_same_error() {
        let fake = fake_ledger(503).await;
        let batcher = Batcher::start(client(), &fake.url, 1);
        let answers =
            futures::future::join_all((1..=3).map(|n| batcher.submit(statement(n)))).await;
        for answer in answers {
            assert!(
                matches!(answer, Err(LedgerError::Status { status: 503, .. })),
                "{answer:?}"
            );
        }
    }

    #[tokio::test]
    async fn past_the_waiting_limit_a_submission_is_refused_at_once() {
        let (fake, batcher, held) = one_held_at_the_ledger(statement(0)).await;
        // Submissions wait (one taken by the gatherer, the rest queued) until the queue is full.
        let mut waiting = Vec::new();
        while batcher.jobs.capacity() > 0 && waiting.len() <= 2 * MAX_WAITING {
            let b = batcher.clone();
            let n = (waiting.len() % 250) as u8;
            waiting.push(tokio::spawn(async move { b.submit(statement(n)).await }));
            tokio::task::yield_now().await;
        }
        assert!(waiting.len() > MAX_WAITING, "{} waiting", waiting.len());
        let over = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            batcher.submit(statement(255)),
        )
        .await;
        assert!(
            matches!(over, Ok(Err(LedgerError::Busy(MAX_WAITING)))),
            "a submission past the limit was not refused at once: {over:?}"
        );
        let waiting_count = waiting.len();
        fake.gate.send_replace(true);
        assert!(held.await.expect("task").is_ok());
        for task in waiting {
            assert_eq!(task.await.expect("task").expect("answer").status, 201);
        }
        let sizes: Vec<usize> = fake
            .requests
            .lock()
            .expect("lock")
            .iter()
            .map(Vec::len)
            .collect();
        assert!(
            sizes.iter().all(|&n| n <= MAX_BATCH_STATEMENTS),
            "{sizes:?}"
        );
        assert_eq!(sizes.iter().sum::<usize>(), waiting_count + 1);
    }
}
