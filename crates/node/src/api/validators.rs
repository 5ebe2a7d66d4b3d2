//! `GET /validators`: the validator set in force and the one scheduled by governance
//! (`proverka_ledger::validators`, `docs/network.md`); `GET /validators/epochs` and
//! `GET /validators/epoch/{e}`: the committee hand-over notes (`crate::handover`).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use proverka_ledger::validators::{self, CommitteeRecord, EPOCH_BLOCKS};
use serde_json::{json, Value};

use super::devices::{internal, respond};
use super::Problem;
use crate::app::{Shared, StoreView};

fn committee(c: &CommitteeRecord) -> Value {
    let n = c.members.len();
    json!({
        "epoch": c.epoch,
        // All but the f = (n - 1) / 3 faults a committee of n tolerates.
        "quorum": n - n.saturating_sub(1) / 3,
        "validators": c.members,
    })
}

/// The committee in force (with the epoch it took over), the scheduled one (what the next
/// epoch boundary hands over to), the current epoch and the epoch length in blocks.
pub async fn list(State(s): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let result = (|| {
        let view = StoreView(&s.store);
        let genesis = s.rules.genesis();
        let current = validators::current(&view, genesis).map_err(internal)?;
        let scheduled = validators::scheduled(&view, genesis).map_err(internal)?;
        let height = s.store.applied_height();
        Ok(json!({
            "height": height,
            "epoch": validators::epoch_of(height),
            "epoch_blocks": EPOCH_BLOCKS,
            "current": committee(&current),
            "scheduled": committee(&scheduled),
        }))
    })();
    respond(&headers, result)
}

fn text(body: Vec<u8>) -> Response {
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

/// `GET /validators/epochs`: every committee hand-over note this node holds, concatenated in
/// epoch order (a chain file, `docs/log-format.md` "Committee hand-over notes"; empty while
/// the committee is genesis's).
pub async fn epochs(State(s): State<Arc<Shared>>) -> Response {
    text(s.handovers.chain())
}

/// `GET /validators/epoch/{e}`: the quorum note of the hand-over to epoch `e` (404 when no
/// hand-over happened then, or its quorum has not gathered here yet).
pub async fn epoch(
    State(s): State<Arc<Shared>>,
    Path(e): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some(epoch) = e
        .parse::<u64>()
        .ok()
        .filter(|_| !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit()))
    else {
        return Problem::bad_request("Malformed epoch", "an epoch is a decimal number")
            .for_request(&headers)
            .into_response();
    };
    match s.handovers.note(epoch) {
        Some(note) => text(note),
        None => Problem::not_found(format!(
            "no hand-over note for epoch {epoch}: the committee did not change then, or its \
             quorum has not gathered on this node yet"
        ))
        .for_request(&headers)
        .into_response(),
    }
}
