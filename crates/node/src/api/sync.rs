//! Serving joiners: `GET /sync/state/target/{height}` (where a joining validator can sync to),
//! `POST /sync/state/{part}` (one commonware `qmdb::sync` request for the authenticated state or
//! the values, answered with its proof) and `GET /sync/floor/{height}` (a finalized block's
//! header with its finalization certificate) and `GET /sync/log/{start}` (the log's statements
//! in index order, a page at a time). The joiner checks everything against a certified root
//! (`docs/state.md`, "Joining by state sync"); this side only bounds what it reads and sends.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use proverka_state::{StateError, SyncPart};

use super::Problem;
use crate::app::Shared;

/// Largest encoded sync request: a tag, two locations and a count (commonware's
/// `Request::MAX_ENCODE_SIZE` is 1 + 2 × 9 + 8 = 27 bytes); anything longer is not a request.
pub const MAX_SYNC_REQUEST_BYTES: usize = 64;

/// Most statements one `GET /sync/log/{start}` answer carries.
pub const MAX_SYNC_LOG_STATEMENTS: u64 = 1024;
/// Most statement bytes one `GET /sync/log/{start}` answer carries: a page ends before the
/// statement that would exceed it (its first statement is always sent).
pub const MAX_SYNC_LOG_BYTES: usize = 8 * 1024 * 1024;

fn octets(bytes: Vec<u8>) -> Response {
    let mut resp = (StatusCode::OK, bytes).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    resp
}

fn cbor(bytes: Vec<u8>) -> Response {
    let mut resp = octets(bytes);
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(super::CBOR));
    resp
}

fn problem(headers: &HeaderMap, e: StateError) -> Response {
    let p = match e {
        StateError::SyncTargetUnavailable { .. } => Problem::not_found(e.to_string()),
        StateError::SyncTargetPruned { .. } => {
            Problem::new(StatusCode::GONE, "Height pruned", e.to_string())
        }
        StateError::SyncRequest(_) => Problem::bad_request("Malformed sync request", e.to_string()),
        other => Problem::internal(other.to_string()),
    };
    p.for_request(headers).into_response()
}

/// `GET /sync/state/target/{height}`: the 152-byte sync target of a recent height.
pub async fn target(
    State(s): State<Arc<Shared>>,
    Path(height): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some(height) = decimal(&height) else {
        return bad_height(&headers);
    };
    match s.state.sync_target(height).await {
        Ok(target) => octets(target.encode()),
        Err(e) => problem(&headers, e),
    }
}

/// `GET /sync/floor/{height}`: CBOR `[header, statements_hash, finalization]` of the finalized
/// block at `height` (`crate::join::FloorCertificate`).
pub async fn floor(
    State(s): State<Arc<Shared>>,
    Path(height): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some(height) = decimal(&height) else {
        return bad_height(&headers);
    };
    let not_found = || {
        Problem::not_found(format!(
            "no finalized block at height {height} on this node"
        ))
        .for_request(&headers)
        .into_response()
    };
    let Some(archive) = s.archive.get() else {
        return not_found();
    };
    let (Some(block), Some(finalization)) = (
        archive.block(height).await,
        archive.finalization(height).await,
    ) else {
        return not_found();
    };
    let certificate = crate::join::FloorCertificate(
        serde_bytes::ByteBuf::from(block.header().to_vec()),
        serde_bytes::ByteBuf::from(block.statements_hash().to_vec()),
        serde_bytes::ByteBuf::from(finalization),
    );
    cbor(certificate.encode())
}

/// `GET /sync/log/{start}`: CBOR array of the statements at log indexes `start, start + 1, …`
/// (at most [`MAX_SYNC_LOG_STATEMENTS`] and [`MAX_SYNC_LOG_BYTES`]); 404 at or beyond the
/// log's size.
pub async fn log(
    State(s): State<Arc<Shared>>,
    Path(start): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some(start) = decimal(&start) else {
        return Problem::bad_request("Malformed index", "a log index is a decimal number")
            .for_request(&headers)
            .into_response();
    };
    let size = s.store.tree_size();
    if start >= size {
        return Problem::not_found(format!("the log has {size} entries"))
            .for_request(&headers)
            .into_response();
    }
    let end = size.min(start.saturating_add(MAX_SYNC_LOG_STATEMENTS));
    let mut page = Vec::new();
    let mut bytes = 0usize;
    for index in start..end {
        let statement = match s.store.statement(index) {
            Ok(Some(statement)) => statement,
            Ok(None) => break,
            Err(e) => {
                return Problem::internal(e.to_string())
                    .for_request(&headers)
                    .into_response()
            }
        };
        if !page.is_empty() && bytes + statement.len() > MAX_SYNC_LOG_BYTES {
            break;
        }
        bytes += statement.len();
        page.push(serde_bytes::ByteBuf::from(statement));
    }
    let mut body = Vec::with_capacity(bytes + 16 * page.len() + 16);
    // Writing into a Vec cannot fail, and byte strings always serialize.
    let _ = ciborium::into_writer(&page, &mut body);
    cbor(body)
}

/// A height path segment: decimal digits only.
fn decimal(s: &str) -> Option<u64> {
    s.parse::<u64>()
        .ok()
        .filter(|_| s.bytes().all(|b| b.is_ascii_digit()))
}

fn bad_height(headers: &HeaderMap) -> Response {
    Problem::bad_request("Malformed height", "a height is a decimal number")
        .for_request(headers)
        .into_response()
}

/// `POST /sync/state/{part}` (`auth` or `values`): one encoded request, its encoded response.
pub async fn serve(
    State(s): State<Arc<Shared>>,
    Path(part): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(part) = SyncPart::from_name(&part) else {
        return Problem::not_found(format!("no state part {part:?}; parts are auth and values"))
            .for_request(&headers)
            .into_response();
    };
    if body.len() > MAX_SYNC_REQUEST_BYTES {
        return Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Sync request too large",
            format!("a sync request is at most {MAX_SYNC_REQUEST_BYTES} bytes"),
        )
        .for_request(&headers)
        .into_response();
    }
    match s.state.serve_sync(part, body.to_vec()).await {
        Ok(bytes) => octets(bytes),
        Err(e) => problem(&headers, e),
    }
}
