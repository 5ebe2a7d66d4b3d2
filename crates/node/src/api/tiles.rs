//! The C2SP tlog-tiles read side: `/checkpoint`, hash tiles and entry bundles.
//!
//! Entry bundles hold the log's leaf entries (32-byte statement ids, see `docs/log-format.md`);
//! the statements themselves are served by `GET /entries/{id}/statement`.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};

use super::Problem;
use crate::app::Shared;

/// `GET /checkpoint`: the latest signed checkpoint note.
pub async fn checkpoint(State(s): State<Arc<Shared>>) -> Response {
    let mut resp = s.head().checkpoint.clone().into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// `GET /checkpoint/cosigned`: the latest checkpoint cosigned by a quorum of validators, for
/// witnesses and monitors (404 until the first quorum gathers).
pub async fn cosigned_checkpoint(State(s): State<Arc<Shared>>) -> Response {
    let Some(quorum) = s.cosigning.latest() else {
        return Problem::not_found("no checkpoint has gathered a quorum of cosignatures yet")
            .into_response();
    };
    let mut resp = quorum.note.clone().into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// `GET /tile/{L}/{N}[.p/{W}]` and `GET /tile/entries/{N}[.p/{W}]`.
pub async fn tile(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(path): Path<String>,
) -> Response {
    let full = format!("tile/{path}");
    let result = (|| {
        let tile = proverka_log::tile_path_parse(&full)
            .map_err(|e| Problem::bad_request("Malformed tile path", e.to_string()))?;
        let body = match tile.kind() {
            proverka_log::TileKind::Entries => s.store.entry_bundle(&tile),
            proverka_log::TileKind::Hashes { .. } => s.store.hash_tile(&tile),
        }
        .map_err(|e| Problem::not_found(e.to_string()))?;
        let mut resp = body.into_response();
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        );
        // Full tiles never change; partial ones grow.
        let cache = if tile.is_partial() {
            "no-store"
        } else {
            "public, max-age=31536000, immutable"
        };
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
        Ok(resp)
    })();
    result.unwrap_or_else(|p: Problem| p.for_request(&headers).into_response())
}
