//! The API's TCP listener, with a bound on open connections.
//!
//! Every connection holds a file descriptor, socket buffers and hyper's per-connection state
//! whether or not it sends anything, so their number is bounded like every other queue
//! (`docs/limits.md`). At the bound the node stops accepting: new clients wait in the kernel's
//! listen backlog (then their connect times out) until an open connection closes. Nothing is
//! refused half-way, and no connection already open is disturbed.
//!
//! Accepted connections also get `TCP_NODELAY`: an answer is written in one go, and Nagle's
//! algorithm could otherwise hold its last segment back for the client's delayed ACK.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Open API connections at most; past it, new ones wait to be accepted.
pub const MAX_HTTP_CONNECTIONS: usize = 16_384;

/// A [`TcpListener`] that keeps at most `max` connections open at once.
pub struct BoundedListener {
    inner: TcpListener,
    open: Arc<Semaphore>,
}

impl BoundedListener {
    pub fn new(inner: TcpListener, max: usize) -> Self {
        BoundedListener {
            inner,
            open: Arc::new(Semaphore::new(max)),
        }
    }
}

impl axum::serve::Listener for BoundedListener {
    type Io = Connection;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Connection, SocketAddr) {
        // The semaphore is never closed, so acquiring only waits for a connection to end.
        let permit = self.open.clone().acquire_owned().await.ok();
        let (stream, addr) = axum::serve::Listener::accept(&mut self.inner).await;
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(%addr, "TCP_NODELAY not set: {e}");
        }
        let conn = Connection {
            stream,
            _permit: permit,
        };
        (conn, addr)
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

/// An accepted connection; its slot is given back when it is dropped (closed).
pub struct Connection {
    stream: TcpStream,
    _permit: Option<OwnedSemaphorePermit>,
}

impl AsyncRead for Connection {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Connection {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    // hyper writes head and body with one `writev` when the stream says it can.
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use axum::routing::get;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    async fn serve(max: usize) -> SocketAddr {
        let tcp = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let listener = BoundedListener::new(tcp, max);
        let addr = axum::serve::Listener::local_addr(&listener).expect("address");
        let router = axum::Router::new().route("/", get(|| async { "ok" }));
        tokio::spawn(async move { axum::serve(listener, router).await });
        addr
    }

    /// One keep-alive request on `conn`, and its answer if one came within `wait`.
    async fn ask(conn: &mut TcpStream, wait: Duration) -> Option<String> {
        conn.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
            .await
            .expect("write");
        answer(conn, wait).await
    }

    async fn answer(conn: &mut TcpStream, wait: Duration) -> Option<String> {
        let mut buf = vec![0u8; 1024];
        let n = tokio::time::timeout(wait, conn.read(&mut buf)).await.ok()?;
        Some(String::from_utf8_lossy(&buf[..n.expect("read")]).into_owned())
    }

    fn ok(answer: Option<String>) -> bool {
        answer.is_some_and(|a| a.starts_with("HTTP/1.1 200 OK"))
    }

    #[tokio::test]
    async fn past_the_bound_a_connection_waits_until_an_open_one_closes() {
        let addr = serve(2).await;
        let long = Duration::from_secs(5);
        let mut a = TcpStream::connect(addr).await.expect("connect a");
        let mut b = TcpStream::connect(addr).await.expect("connect b");
        assert!(ok(ask(&mut a, long).await));
        assert!(ok(ask(&mut b, long).await));

        // The kernel completes the handshake, but the node does not accept a third.
        let mut c = TcpStream::connect(addr).await.expect("connect c");
        assert_eq!(ask(&mut c, Duration::from_millis(500)).await, None);
        // The open ones are served as before.
        assert!(ok(ask(&mut a, long).await));

        // Once one closes, the waiting connection is accepted and its request answered.
        drop(a);
        assert!(ok(answer(&mut c, long).await));
    }

    #[tokio::test]
    async fn accepted_connections_have_nodelay() {
        let tcp = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = tcp.local_addr().expect("address");
        let mut listener = BoundedListener::new(tcp, 1);
        let _client = TcpStream::connect(addr).await.expect("connect");
        let (conn, _) = axum::serve::Listener::accept(&mut listener).await;
        assert!(conn.stream.nodelay().expect("nodelay"));
    }
}
