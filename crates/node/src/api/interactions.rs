//! `GET /devices/{id}/interactions`: the device-to-device commands recorded about a device
//! (`interaction` statements), for auditors: who told it (or whom it told) to do what, what the
//! gateway decided and on which certified state, and what the ledger knew of the sender then.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use proverka_ledger::query::{self, InteractionCursor, InteractionRole, InteractionRow};
use proverka_ledger::records::ParamRecord;
use serde_json::{json, Value};

use super::devices::{hex_param, internal, respond};
use super::Problem;
use crate::app::{Shared, StoreView};

fn cursor_text(c: &InteractionCursor) -> String {
    format!("{}.{}.{}", c.height, c.pos, c.role.as_str())
}

fn parse_cursor(a: &str) -> Result<InteractionCursor, Problem> {
    let bad = || {
        Problem::bad_request(
            "Malformed parameter",
            "after is HEIGHT.POSITION.ROLE (role: sender or recipient), from the previous page's next",
        )
    };
    let mut parts = a.split('.');
    let (Some(h), Some(p), Some(r), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    let role = match r {
        "sender" => InteractionRole::Sender,
        "recipient" => InteractionRole::Recipient,
        _ => return Err(bad()),
    };
    Ok(InteractionCursor {
        height: h.parse().map_err(|_| bad())?,
        pos: p.parse().map_err(|_| bad())?,
        role,
    })
}

fn limit(q: &HashMap<String, String>) -> Result<usize, Problem> {
    match q.get("limit") {
        None => Ok(query::MAX_INTERACTION_PAGE),
        Some(l) => match l.parse::<usize>() {
            Ok(n) if (1..=query::MAX_INTERACTION_PAGE).contains(&n) => Ok(n),
            _ => Err(Problem::bad_request(
                "Malformed parameter",
                format!("limit is 1..={}", query::MAX_INTERACTION_PAGE),
            )),
        },
    }
}

fn item(row: &InteractionRow) -> Value {
    let r = &row.record;
    let params: serde_json::Map<String, Value> = r
        .params
        .iter()
        .map(|(k, v)| {
            let v = match v {
                ParamRecord::Int(i) => json!(i),
                ParamRecord::Text(t) => json!(t),
                ParamRecord::Bool(b) => json!(b),
            };
            (k.clone(), v)
        })
        .collect();
    json!({
        "entry": hex::encode(r.entry),
        "height": r.height,
        "position": r.pos,
        "role": row.cursor.role.as_str(),
        "recorded_by": r.recorded_by,
        "sender": hex::encode(&r.sender),
        "recipient": hex::encode(&r.recipient),
        "action": r.action,
        "params": params,
        "seq": r.seq,
        "iat": r.iat,
        "exp": r.exp,
        "gateway": {
            "verdict": if r.allowed { "allow" } else { "deny" },
            "reasons": r.reasons,
            "observed": r.observed,
            "snapshot": {"height": r.snapshot_height, "certified_ms": r.snapshot_certified_ms},
            "sender_status": r.gateway_status,
            "policy": r.policy.as_ref().map(|p| json!({
                "owner": p.owner,
                "version": p.version,
                "satisfied": p.satisfied,
            })),
        },
        "ledger": {
            "registered_ms": r.registered_ms,
            "sender_status": r.ledger_status,
            "sender_reasons": r.ledger_reasons,
        },
    })
}

/// `GET /devices/{id}/interactions[?after=HEIGHT.POS.ROLE&limit=N]`: the commands recorded
/// about the device, as sender or recipient, oldest first, at most 100 a page. Each item's
/// `entry` is the interaction statement's entry id: its receipt is at `/entries/{entry}`.
pub async fn list(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let result = (|| {
        let device_id = hex_param("device id", &id, proverka_ledger::MAX_DEVICE_ID_BYTES)?;
        let after = q.get("after").map(|a| parse_cursor(a)).transpose()?;
        let limit = limit(&q)?;
        let view = StoreView(&s.store);
        if query::device(&view, &device_id)
            .map_err(internal)?
            .is_none()
        {
            return Err(Problem::not_found(format!("no device {id}")));
        }
        let rows = query::interactions(&view, &device_id, after, limit).map_err(internal)?;
        let next = (rows.len() == limit)
            .then(|| rows.last().map(|r| cursor_text(&r.cursor)))
            .flatten();
        Ok(json!({
            "device": id,
            "interactions": rows.iter().map(item).collect::<Vec<_>>(),
            "next": next,
        }))
    })();
    respond(&headers, result)
}
