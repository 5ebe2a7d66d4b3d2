//! The gateway's HTTP client for one ledger node: passports, state proofs and the committee
//! hand-over chain in, statements out.
//!
//! Nothing fetched here is trusted: `crate::sync` verifies the hand-over chain from the genesis
//! and every artefact with the committees it names before it reaches the snapshot. A node that lies can only make the gateway's snapshot age
//! (and then refuse everything), never make it accept a forged fact.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use proverka_command::DeviceId;
use proverka_lightclient::passport::MAX_PASSPORT_BYTES;
use proverka_lightclient::state_proof::MAX_BUNDLE_BYTES;

use crate::batch::{Batcher, MAX_BATCHES_IN_FLIGHT};

/// Largest hand-over chain file read from the ledger (`GET /validators/epochs`). The log
/// crate bounds a chain at `MAX_HANDOVER_CHAIN_NOTES` (10,000) notes of at most
/// `MAX_HANDOVER_NOTE_BYTES` (256 KiB) each, 2.5 GiB, which no edge gateway should read. A
/// hand-over happens only when governance changes the committee, at most once per epoch of
/// 10,000 blocks; 32 MiB holds about 19,000 hand-overs of a 4-member committee (≈ 1.7 KB each)
/// or about 290 of a 100-member one (≈ 115 KB each). Past it the chain is refused and the one
/// held is kept (`docs/gateway.md`, §4).
pub const MAX_CHAIN_BYTES: usize = 32 * 1024 * 1024;

/// How long one request to the ledger may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a request to the ledger failed.
#[derive(Clone, Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("ledger unreachable: {0}")]
    Unreachable(String),
    #[error("ledger answered {status}: {body}")]
    Status { status: u16, body: String },
    #[error("ledger answer of more than {0} bytes")]
    TooLarge(usize),
    #[error("ledger answer not understood: {0}")]
    Malformed(String),
    #[error("gateway busy: {0} statements already wait to be sent to the ledger")]
    Busy(usize),
}

/// What the ledger answered to a submitted statement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Submitted {
    /// HTTP status: 201 registered, 202 accepted (pending), 4xx refused.
    pub status: u16,
    /// The body: the receipt or entry id when accepted, RFC 9290 problem details when refused.
    pub body: Vec<u8>,
}

/// A ledger node's base URL and an HTTP client.
#[derive(Clone)]
pub struct Ledger {
    http: reqwest::Client,
    base: String,
    /// Started on the first submission, where a runtime is sure to exist.
    batcher: Arc<OnceLock<Batcher>>,
}

impl Ledger {
    /// A client for the node at `base` (e.g. `http://127.0.0.1:7800`).
    pub fn new(base: &str) -> Result<Self, LedgerError> {
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|e| LedgerError::Unreachable(e.to_string()))?;
        Ok(Self {
            http,
            base: base.trim_end_matches('/').to_owned(),
            batcher: Arc::new(OnceLock::new()),
        })
    }

    /// The device's trust passport; `None` when the ledger does not know the device.
    pub async fn passport(&self, id: &DeviceId) -> Result<Option<Vec<u8>>, LedgerError> {
        let url = format!(
            "{}/devices/{}/passport",
            self.base,
            hex::encode(id.as_bytes())
        );
        self.get(&url, "application/cbor", MAX_PASSPORT_BYTES).await
    }

    /// A state proof bundle for `keys` (at most `proverka_lightclient::state_proof::MAX_BUNDLE_KEYS`).
    pub async fn state_proof(&self, keys: &[Vec<u8>]) -> Result<Vec<u8>, LedgerError> {
        let query: Vec<String> = keys
            .iter()
            .map(|k| format!("key={}", hex::encode(k)))
            .collect();
        let url = format!("{}/state/proof?{}", self.base, query.join("&"));
        self.get(&url, "application/cbor", MAX_BUNDLE_BYTES)
            .await?
            .ok_or_else(|| LedgerError::Status {
                status: 404,
                body: "no state proof".into(),
            })
    }

    /// The committee hand-over chain file (`GET /validators/epochs`: every hand-over note,
    /// concatenated in epoch order; empty while the committee is genesis's), at most
    /// [`MAX_CHAIN_BYTES`].
    pub async fn committee_chain(&self) -> Result<Vec<u8>, LedgerError> {
        let url = format!("{}/validators/epochs", self.base);
        self.get(&url, "text/plain", MAX_CHAIN_BYTES)
            .await?
            .ok_or_else(|| LedgerError::Status {
                status: 404,
                body: "no hand-over chain served".into(),
            })
    }

    /// Submits a signed statement and returns its own answer, the one `POST /entries` gives.
    /// Statements submitted at the same time travel together in `POST /entries/bulk`
    /// requests (`crate::batch`).
    pub async fn submit(&self, statement: Vec<u8>) -> Result<Submitted, LedgerError> {
        self.batcher
            .get_or_init(|| Batcher::start(self.http.clone(), &self.base, MAX_BATCHES_IN_FLIGHT))
            .submit(statement)
            .await
    }

    /// `GET url` accepting `accept`; `None` on 404; the body read within `max` bytes.
    async fn get(
        &self,
        url: &str,
        accept: &str,
        max: usize,
    ) -> Result<Option<Vec<u8>>, LedgerError> {
        let response = self
            .http
            .get(url)
            .header("accept", accept)
            .send()
            .await
            .map_err(|e| LedgerError::Unreachable(e.to_string()))?;
        let status = response.status().as_u16();
        if status == 404 {
            return Ok(None);
        }
        let body = read_bounded(response, max).await?;
        if status != 200 {
            return Err(LedgerError::Status {
                status,
                body: String::from_utf8_lossy(&body).chars().take(300).collect(),
            });
        }
        Ok(Some(body))
    }
}

/// Reads a response body of at most `max` bytes, chunk by chunk, and stops at the first chunk
/// past the limit: a node announcing no length (chunked transfer) or a false one can make the
/// gateway read at most `max` bytes plus one chunk, never an unbounded body.
pub(crate) async fn read_bounded(
    mut response: reqwest::Response,
    max: usize,
) -> Result<Vec<u8>, LedgerError> {
    if response.content_length().is_some_and(|n| n > max as u64) {
        return Err(LedgerError::TooLarge(max));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| LedgerError::Unreachable(e.to_string()))?
    {
        if chunk.len() > max - body.len() {
            return Err(LedgerError::TooLarge(max));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// How much the endless server offers before giving up, so that a client that reads
    /// everything makes the test fail instead of hang.
    const ENDLESS_BYTES: usize = 256 * 1024 * 1024;

    /// What the kernel and the HTTP stack may buffer between the two ends of a loopback
    /// connection. It depends on the machine's TCP autotuning (a CI machine buffered 12 MiB
    /// where this one buffers 4), so the bound is generous; a client that kept reading would
    /// still take the whole `ENDLESS_BYTES`.
    const BUFFERED_BYTES: usize = 64 * 1024 * 1024;

    /// A one-connection HTTP server answering any request with a chunked 200 whose chunks
    /// (`chunk` bytes each) never end; returns its URL and how many bytes it managed to send.
    async fn endless_chunked_server(chunk: usize) -> (String, tokio::task::JoinHandle<usize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.expect("accept");
            let mut request = [0u8; 4096];
            let _ = socket.read(&mut request).await;
            let head = "HTTP/1.1 200 OK\r\ncontent-type: application/cbor\r\ntransfer-encoding: chunked\r\n\r\n";
            let mut sent = 0;
            if socket.write_all(head.as_bytes()).await.is_err() {
                return sent;
            }
            let body = vec![0xa0u8; chunk];
            // Until the client hangs up (or far past any limit, so the test cannot hang).
            while sent < ENDLESS_BYTES {
                let framed = [format!("{chunk:x}\r\n").as_bytes(), &body, b"\r\n"].concat();
                if socket.write_all(&framed).await.is_err() {
                    break;
                }
                sent += chunk;
            }
            sent
        });
        (url, server)
    }

    #[tokio::test]
    async fn a_chunked_answer_past_the_limit_is_refused_without_reading_it_all() {
        let (url, server) = endless_chunked_server(16 * 1024).await;
        let ledger = Ledger::new(&url).expect("client");
        let id = DeviceId::new(b"dev-1".to_vec()).expect("id");
        let answer = ledger.passport(&id).await;
        assert!(
            matches!(answer, Err(LedgerError::TooLarge(max)) if max == MAX_PASSPORT_BYTES),
            "{answer:?}"
        );
        drop(ledger);
        let sent = server.await.expect("server");
        // The client stopped reading once past the limit: the server could send at most the
        // limit, one chunk and what the socket buffers hold, not the 256 MiB it had to give.
        assert!(
            sent < MAX_PASSPORT_BYTES + BUFFERED_BYTES,
            "server sent {sent} bytes"
        );
    }

    #[tokio::test]
    async fn a_chunked_answer_within_the_limit_is_read_whole() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.expect("accept");
            let mut request = [0u8; 4096];
            let _ = socket.read(&mut request).await;
            let answer = "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
            let _ = socket.write_all(answer.as_bytes()).await;
        });
        let ledger = Ledger::new(&url).expect("client");
        let id = DeviceId::new(b"dev-1".to_vec()).expect("id");
        assert_eq!(
            ledger.passport(&id).await.expect("read"),
            Some(b"abcde".to_vec())
        );
    }
}
