//! The benches' load generator: one bare HTTP/1.1 connection per simulated client.
//!
//! The load generator runs on the same two cores as the node it measures, so every microsecond
//! it spends is taken from the node. `reqwest` (pool, redirects, URL parsing per request) cost
//! about 21 µs per request against the node's 20 µs when serving inclusion proofs
//! (BENCHMARKS.md); a bare hyper connection per client, as `wrk` does in C, leaves the node
//! more of the machine. Only the benches use it: the CLI's commands keep `reqwest`.

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{CONTENT_TYPE, HOST};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;

use crate::Failure;

/// One keep-alive connection to a node.
pub(crate) struct Conn {
    send: SendRequest<Full<Bytes>>,
    host: String,
}

impl Conn {
    /// Connects to `base` (`http://host:port`).
    pub(crate) async fn open(base: &str) -> Result<Self, Failure> {
        let host = base
            .strip_prefix("http://")
            .ok_or_else(|| Failure::input(format!("not an http:// URL: {base}")))?
            .trim_end_matches('/')
            .to_owned();
        let stream = tokio::net::TcpStream::connect(&host)
            .await
            .map_err(|e| Failure::network(format!("connecting to {host}: {e}")))?;
        stream.set_nodelay(true).map_err(Failure::network)?;
        let (send, connection) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(Failure::network)?;
        tokio::spawn(connection);
        Ok(Self { send, host })
    }

    /// `GET path`: the status and the whole body.
    pub(crate) async fn get(&mut self, path: &str) -> Result<(u16, Bytes), Failure> {
        self.request(Method::GET, path, None, Bytes::new()).await
    }

    /// `POST path` with `body` of `content_type`: the status and the whole body.
    pub(crate) async fn post(
        &mut self,
        path: &str,
        content_type: &'static str,
        body: Vec<u8>,
    ) -> Result<(u16, Bytes), Failure> {
        self.request(Method::POST, path, Some(content_type), body.into())
            .await
    }

    async fn request(
        &mut self,
        method: Method,
        path: &str,
        content_type: Option<&'static str>,
        body: Bytes,
    ) -> Result<(u16, Bytes), Failure> {
        self.send.ready().await.map_err(Failure::network)?;
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(HOST, &self.host);
        if let Some(ctype) = content_type {
            request = request.header(CONTENT_TYPE, ctype);
        }
        let request = request.body(Full::new(body)).map_err(Failure::input)?;
        let response = self
            .send
            .send_request(request)
            .await
            .map_err(|e| Failure::network(format!("{path}: {e}")))?;
        let status = response.status().as_u16();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(Failure::network)?
            .to_bytes();
        Ok((status, body))
    }
}
