//! `GET /validators`: the validator set in force and the one scheduled by governance
//! (`proverka_ledger::validators`, `docs/network.md`).

use std::sync::Arc;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use proverka_ledger::validators::{self, CommitteeRecord, EPOCH_BLOCKS};
use serde_json::{json, Value};

use super::devices::{internal, respond};
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
