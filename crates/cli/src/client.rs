//! A small HTTP client for the node API (loopback or remote).

use reqwest::{header, StatusCode};

use crate::Failure;

/// What the ledger answered to a submission.
pub enum Submitted {
    /// Registered (201) or already registered (200): the receipt.
    Receipt(Vec<u8>),
    /// Accepted, still waiting for its block (303): poll `GET /entries/{id}`.
    Pending,
}

pub struct Client {
    base: String,
    http: reqwest::Client,
}

impl Client {
    pub fn new(base: &str) -> Result<Self, Failure> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(Failure::network)?;
        Ok(Client {
            base: base.trim_end_matches('/').to_owned(),
            http,
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn submit(&self, statement: Vec<u8>) -> Result<Submitted, Failure> {
        let resp = self
            .http
            .post(self.url("/entries"))
            .header(header::CONTENT_TYPE, "application/cose")
            .header(header::ACCEPT, "application/cose, application/problem+json")
            .body(statement)
            .send()
            .await
            .map_err(|e| Failure::network(format!("POST {}: {e}", self.url("/entries"))))?;
        match resp.status() {
            StatusCode::OK | StatusCode::CREATED => Ok(Submitted::Receipt(body(resp).await?)),
            StatusCode::SEE_OTHER => Ok(Submitted::Pending),
            _ => Err(problem(resp).await),
        }
    }

    /// The receipt of an entry; `None` while it waits for its block.
    pub async fn receipt(&self, id: &str) -> Result<Option<Vec<u8>>, Failure> {
        let resp = self
            .get(&format!("/entries/{id}"), "application/cose")
            .await?;
        match resp.status() {
            StatusCode::OK => Ok(Some(body(resp).await?)),
            StatusCode::ACCEPTED => Ok(None),
            _ => Err(problem(resp).await),
        }
    }

    pub async fn get_bytes(&self, path: &str, accept: &str) -> Result<Vec<u8>, Failure> {
        let resp = self.get(path, accept).await?;
        if resp.status().is_success() {
            body(resp).await
        } else {
            Err(problem(resp).await)
        }
    }

    async fn get(&self, path: &str, accept: &str) -> Result<reqwest::Response, Failure> {
        let accept = format!("{accept}, application/problem+json");
        self.http
            .get(self.url(path))
            .header(header::ACCEPT, accept)
            .send()
            .await
            .map_err(|e| Failure::network(format!("GET {}: {e}", self.url(path))))
    }
}

async fn body(resp: reqwest::Response) -> Result<Vec<u8>, Failure> {
    resp.bytes()
        .await
        .map(|b| b.to_vec())
        .map_err(Failure::network)
}

async fn problem(resp: reqwest::Response) -> Failure {
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    let detail = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .map(|v| {
            format!(
                "{}: {}",
                v["title"].as_str().unwrap_or("error"),
                v["detail"].as_str().unwrap_or("")
            )
        })
        .unwrap_or(text);
    Failure::refused(format!("ledger answered {status}: {detail}"))
}
