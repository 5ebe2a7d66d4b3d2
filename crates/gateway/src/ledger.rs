//! The gateway's HTTP client for one ledger node: passports and state proofs in, statements out.
//!
//! Nothing fetched here is trusted: `crate::sync` verifies every artefact with the genesis
//! before it reaches the snapshot. A node that lies can only make the gateway's snapshot age
//! (and then refuse everything), never make it accept a forged fact.

use std::time::Duration;

use proverka_command::DeviceId;
use proverka_node::passport::MAX_PASSPORT_BYTES;
use proverka_node::state_proof::MAX_BUNDLE_BYTES;

/// How long one request to the ledger may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a request to the ledger failed.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("ledger unreachable: {0}")]
    Unreachable(String),
    #[error("ledger answered {status}: {body}")]
    Status { status: u16, body: String },
    #[error("ledger answer of more than {0} bytes")]
    TooLarge(usize),
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
        })
    }

    /// The device's trust passport; `None` when the ledger does not know the device.
    pub async fn passport(&self, id: &DeviceId) -> Result<Option<Vec<u8>>, LedgerError> {
        let url = format!(
            "{}/devices/{}/passport",
            self.base,
            hex::encode(id.as_bytes())
        );
        self.get_cbor(&url, MAX_PASSPORT_BYTES).await
    }

    /// A state proof bundle for `keys` (at most `proverka_node::state_proof::MAX_BUNDLE_KEYS`).
    pub async fn state_proof(&self, keys: &[Vec<u8>]) -> Result<Vec<u8>, LedgerError> {
        let query: Vec<String> = keys
            .iter()
            .map(|k| format!("key={}", hex::encode(k)))
            .collect();
        let url = format!("{}/state/proof?{}", self.base, query.join("&"));
        self.get_cbor(&url, MAX_BUNDLE_BYTES)
            .await?
            .ok_or_else(|| LedgerError::Status {
                status: 404,
                body: "no state proof".into(),
            })
    }

    /// Submits a signed statement (`POST /entries`).
    pub async fn submit(&self, statement: Vec<u8>) -> Result<Submitted, LedgerError> {
        let response = self
            .http
            .post(format!("{}/entries", self.base))
            .header("content-type", "application/cose")
            .body(statement)
            .send()
            .await
            .map_err(|e| LedgerError::Unreachable(e.to_string()))?;
        let status = response.status().as_u16();
        let body = response
            .bytes()
            .await
            .map_err(|e| LedgerError::Unreachable(e.to_string()))?;
        Ok(Submitted {
            status,
            body: body.to_vec(),
        })
    }

    async fn get_cbor(&self, url: &str, max: usize) -> Result<Option<Vec<u8>>, LedgerError> {
        let response = self
            .http
            .get(url)
            .header("accept", "application/cbor")
            .send()
            .await
            .map_err(|e| LedgerError::Unreachable(e.to_string()))?;
        let status = response.status().as_u16();
        if status == 404 {
            return Ok(None);
        }
        if response.content_length().is_some_and(|n| n > max as u64) {
            return Err(LedgerError::TooLarge(max));
        }
        let body = response
            .bytes()
            .await
            .map_err(|e| LedgerError::Unreachable(e.to_string()))?;
        if body.len() > max {
            return Err(LedgerError::TooLarge(max));
        }
        if status != 200 {
            return Err(LedgerError::Status {
                status,
                body: String::from_utf8_lossy(&body).chars().take(300).collect(),
            });
        }
        Ok(Some(body.to_vec()))
    }
}
