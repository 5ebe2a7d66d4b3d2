//! The HTTP API: SCITT SCRAPI registration and receipts, proofs, tlog-tiles read side, metrics.
//!
//! Untrusted input: every request body and path segment comes from the network. Bodies are
//! bounded before they are read ([`MAX_BODY_BYTES`]); every refusal is an RFC 9290 problem
//! (CBOR) or RFC 9457 problem (JSON when `Accept` asks for it); no refusal changes state.

mod devices;
mod entries;
mod interactions;
mod problem;
mod proofs;
mod state;
pub mod sync;
mod tiles;
mod validators;
mod wellknown;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;

use crate::app::Shared;
pub use problem::Problem;

/// Largest request body accepted; one byte over the statement limit so an oversized statement
/// gets a precise "too large" problem instead of a transport error.
pub const MAX_BODY_BYTES: usize = proverka_statement::MAX_STATEMENT_BYTES + 1;
/// How long `POST /entries` waits for the statement's block before answering 303 See Other.
pub const REGISTRATION_WAIT: Duration = Duration::from_secs(10);
/// How long `POST /entries` then waits for a quorum checkpoint covering the statement, so that
/// its receipt carries the committee's cosignatures (`docs/api.md`).
pub const CERTIFY_WAIT: Duration = Duration::from_secs(2);
/// Media type of signed statements and receipts.
pub const COSE: &str = "application/cose";
/// Media type of CBOR bodies that are not COSE (bulk requests and answers, state proofs).
pub const CBOR: &str = "application/cbor";
/// Most statements in one `POST /entries/bulk`.
pub const MAX_BULK_STATEMENTS: usize = 256;
/// Largest `POST /entries/bulk` body: 8 MiB, room for 128 statements at the 64 KiB limit, or
/// 256 of up to ~32 KiB (device statements are typically under 1 KiB).
pub const MAX_BULK_BODY_BYTES: usize = 8 * 1024 * 1024;

/// The routes, as listed in `docs/openapi.yaml` (a test checks they agree).
pub const ROUTES: &[(&str, &str)] = &[
    ("post", "/entries"),
    ("post", "/entries/bulk"),
    ("get", "/entries/{id}"),
    ("get", "/entries/{id}/statement"),
    ("get", "/entries/{id}/inclusion-proof"),
    ("get", "/proofs/consistency"),
    ("get", "/checkpoint"),
    ("get", "/checkpoint/cosigned"),
    ("get", "/tile/{*path}"),
    ("get", "/.well-known/transparency-configuration"),
    ("get", "/.well-known/scitt-keys"),
    ("get", "/devices/{id}"),
    ("get", "/devices/{id}/status"),
    ("get", "/devices/{id}/history"),
    ("get", "/devices/{id}/interactions"),
    ("get", "/devices/{id}/proof"),
    ("get", "/devices/{id}/passport"),
    ("get", "/state/proof"),
    ("get", "/fleet"),
    ("get", "/advisories/{issuer}/{id}"),
    ("get", "/orgs/{iss}"),
    ("get", "/evidence-root"),
    ("get", "/validators"),
    ("get", "/validators/epochs"),
    ("get", "/validators/epoch/{e}"),
    ("get", "/sync/state/target/{height}"),
    ("post", "/sync/state/{part}"),
    ("get", "/sync/floor/{height}"),
    ("get", "/sync/log/{start}"),
    ("get", "/metrics"),
    ("get", "/health"),
];

/// Builds the router over the shared node state.
pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/entries", post(entries::register))
        .route(
            "/entries/bulk",
            post(entries::register_bulk).layer(DefaultBodyLimit::max(MAX_BULK_BODY_BYTES)),
        )
        .route("/entries/{id}", get(entries::receipt))
        .route("/entries/{id}/statement", get(entries::statement))
        .route("/entries/{id}/inclusion-proof", get(proofs::inclusion))
        .route("/proofs/consistency", get(proofs::consistency))
        .route("/checkpoint", get(tiles::checkpoint))
        .route("/checkpoint/cosigned", get(tiles::cosigned_checkpoint))
        .route("/tile/{*path}", get(tiles::tile))
        .route(
            "/.well-known/transparency-configuration",
            get(wellknown::configuration),
        )
        .route("/.well-known/scitt-keys", get(wellknown::keys))
        .route("/devices/{id}", get(devices::device))
        .route("/devices/{id}/status", get(devices::status))
        .route("/devices/{id}/history", get(devices::history))
        .route("/devices/{id}/interactions", get(interactions::list))
        .route("/devices/{id}/proof", get(state::device))
        .route("/devices/{id}/passport", get(state::passport))
        .route("/state/proof", get(state::proof))
        .route("/fleet", get(devices::fleet))
        .route("/advisories/{issuer}/{id}", get(devices::advisory))
        .route("/orgs/{iss}", get(devices::org))
        .route("/evidence-root", get(devices::evidence_root))
        .route("/validators", get(validators::list))
        .route("/validators/epochs", get(validators::epochs))
        .route("/validators/epoch/{e}", get(validators::epoch))
        .route("/sync/state/target/{height}", get(sync::target))
        .route("/sync/state/{part}", post(sync::serve))
        .route("/sync/floor/{height}", get(sync::floor))
        .route("/sync/log/{start}", get(sync::log))
        .route("/metrics", get(metrics))
        .route("/health", get(|| async { "ok\n" }))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn_with_state(
            shared.clone(),
            count_requests,
        ))
        .with_state(shared)
}

async fn metrics(State(s): State<Arc<Shared>>) -> Response {
    s.metrics.pool_size.set(s.pool.len() as i64);
    let mut resp = Response::new(s.metrics.render().into());
    resp.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    resp
}

async fn count_requests(State(s): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let route = match req.extensions().get::<MatchedPath>().map(|p| p.as_str()) {
        Some(p) => ROUTES
            .iter()
            .find(|(_, r)| *r == p)
            .map(|(_, r)| *r)
            .unwrap_or("other"),
        None => "unmatched",
    };
    let resp = next.run(req).await;
    let labels = crate::metrics::RequestLabels {
        route,
        status: resp.status().as_u16(),
    };
    s.metrics.requests.get_or_create(&labels).inc();
    resp
}

/// Parses a 64-hex-digit entry id.
pub(crate) fn parse_id(id: &str) -> Result<[u8; 32], Problem> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(id, &mut out).map_err(|_| {
        Problem::bad_request(
            "Malformed entry id",
            "an entry id is 64 lowercase hex digits: the SHA-256 of the statement bytes",
        )
    })?;
    Ok(out)
}
