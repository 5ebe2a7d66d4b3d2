//! Device-trust queries: a device, its status (with a signed EAR), its history with receipts,
//! fleets, advisory exposure, organisations. JSON, computed at the latest block's time.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use proverka_ledger::query::{self, Fleet, ModelFacts};
use proverka_ledger::records::{self, DeviceRecord, Id, OrgRecord};
use proverka_statement::{sign_statement, ContentType, StatementParams};
use proverka_trust::Appraisal;
use serde_json::{json, Value};

use super::Problem;
use crate::app::{Shared, StoreView};

/// Content type of the signed EAR a status carries (a CWT in a COSE_Sign1).
pub const EAR_CONTENT_TYPE: &str = "application/eat+cwt";
/// Default and largest page of fleet, history and exposure listings.
pub const DEFAULT_PAGE: usize = 100;

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn json_response(value: Value) -> Response {
    let mut resp = (StatusCode::OK, value.to_string()).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

pub(super) fn respond(headers: &HeaderMap, result: Result<Value, Problem>) -> Response {
    match result {
        Ok(v) => json_response(v),
        Err(p) => p.for_request(headers).into_response(),
    }
}

pub(super) fn internal(e: impl std::fmt::Display) -> Problem {
    Problem::internal(e.to_string())
}

pub(super) fn hex_param(name: &'static str, value: &str, max: usize) -> Result<Vec<u8>, Problem> {
    match hex::decode(value) {
        Ok(b) if !b.is_empty() && b.len() <= max => Ok(b),
        _ => Err(Problem::bad_request(
            "Malformed parameter",
            format!("{name} must be 1..={max} bytes of hex"),
        )),
    }
}

fn digest_param(name: &'static str, value: &str) -> Result<Id, Problem> {
    hex_param(name, value, 32)?.try_into().map_err(|_| {
        Problem::bad_request("Malformed parameter", format!("{name} is 32 bytes of hex"))
    })
}

fn limit_param(q: &HashMap<String, String>) -> Result<usize, Problem> {
    match q.get("limit") {
        None => Ok(DEFAULT_PAGE),
        Some(l) => match l.parse::<usize>() {
            Ok(n) if (1..=query::MAX_QUERY_PAGE).contains(&n) => Ok(n),
            _ => Err(Problem::bad_request(
                "Malformed parameter",
                format!("limit is 1..={}", query::MAX_QUERY_PAGE),
            )),
        },
    }
}

/// The status part of a device's JSON.
fn status_json(a: &Appraisal) -> Value {
    json!({
        "status": a.status.as_str(),
        "reasons": a.reasons.iter().map(|r| json!({"code": r.code(), "text": r.to_string()})).collect::<Vec<_>>(),
        "trust_vector": serde_json::to_value(a.vector).unwrap_or(Value::Null),
        "evaluated_ms": a.evaluated_ms,
        "expires_ms": a.expires_ms,
    })
}

fn device_json(d: &DeviceRecord) -> Value {
    json!({
        "id": hex::encode(&d.id),
        "key": hex::encode(&d.key),
        "model": hex::encode(d.model),
        "maker": d.maker,
        "owner": d.owner,
        "serial": d.serial,
        "hw_version": d.hw_version,
        "factory_fw": hex::encode(d.factory_fw),
        "born_ms": d.born_ms,
        "fw": hex::encode(d.fw),
        "fw_since_ms": d.fw_since_ms,
        "highest_svn": d.highest_svn,
        "rollback": d.rollback.map(|(r, h)| json!({"reported": r, "highest": h})),
        "evidence": d.evidence.as_ref().map(|e| json!({
            "entry": hex::encode(e.entry),
            "iat_ms": e.iat_ms,
            "registered_ms": e.registered_ms,
            "fw": hex::encode(e.fw),
            "svn": e.svn,
            "dbgstat": e.debug,
        })),
        "decommissioned_ms": d.decommissioned_ms,
        "idevid_serial": d.idevid_serial,
    })
}

fn load_device(s: &Shared, id: &str) -> Result<(Vec<u8>, DeviceRecord, Appraisal), Problem> {
    let device_id = hex_param("device id", id, proverka_ledger::MAX_DEVICE_ID_BYTES)?;
    let now = s.head().timestamp_ms;
    match query::device_status(&StoreView(&s.store), &device_id, now).map_err(internal)? {
        Some((d, a)) => Ok((device_id, d, a)),
        None => Err(Problem::not_found(format!("no device {id}"))),
    }
}

/// `GET /devices/{id}`: the record and its current status.
pub async fn device(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let result = load_device(&s, &id).map(|(_, d, a)| {
        let mut v = device_json(&d);
        v["status"] = status_json(&a);
        v
    });
    respond(&headers, result)
}

/// `GET /devices/{id}/status`: status, reasons, trust vector, expiry, and the EAR signed by the
/// ledger's receipt key (base64 COSE_Sign1), which a relying party verifies offline.
pub async fn status(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let result = (|| {
        let (device_id, _, a) = load_device(&s, &id)?;
        let ear = signed_ear(&s, &device_id, &a)?;
        let mut v = status_json(&a);
        v["device"] = json!(hex::encode(&device_id));
        v["ear"] = json!(b64(&ear));
        Ok(v)
    })();
    respond(&headers, result)
}

/// The EAR of an appraisal as a COSE_Sign1 signed by the ledger's receipt key.
pub fn signed_ear(s: &Shared, device_id: &[u8], a: &Appraisal) -> Result<Vec<u8>, Problem> {
    let claims = proverka_trust::ear_claims(a, &hex::encode(device_id), &s.genesis.origin)
        .map_err(internal)?;
    Ok(sign_statement(
        &s.receipt_key,
        &StatementParams {
            iss: &s.genesis.origin,
            sub: &hex::encode(device_id),
            iat: (a.evaluated_ms / 1000) as i64,
            content_type: ContentType::Text(EAR_CONTENT_TYPE.into()),
            payload: &claims,
        },
    ))
}

/// `GET /devices/{id}/history[?after=HEIGHT.POS&limit=N]`: every statement about the device,
/// oldest first, each with its entry id, content type, log index and receipt.
pub async fn history(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let result = (|| {
        let device_id = hex_param("device id", &id, proverka_ledger::MAX_DEVICE_ID_BYTES)?;
        let after = match q.get("after") {
            None => None,
            Some(a) => Some(parse_position(a)?),
        };
        let limit = limit_param(&q)?;
        let view = StoreView(&s.store);
        if query::device(&view, &device_id)
            .map_err(internal)?
            .is_none()
        {
            return Err(Problem::not_found(format!("no device {id}")));
        }
        let rows = query::history(&view, &device_id, after, limit).map_err(internal)?;
        let mut entries = Vec::with_capacity(rows.len());
        for ((height, pos), entry) in &rows {
            entries.push(history_entry(&s, *height, *pos, entry)?);
        }
        let next = (rows.len() == limit)
            .then(|| rows.last().map(|((h, p), _)| format!("{h}.{p}")))
            .flatten();
        Ok(json!({"device": id, "entries": entries, "next": next}))
    })();
    respond(&headers, result)
}

fn parse_position(a: &str) -> Result<(u64, u32), Problem> {
    let bad = || Problem::bad_request("Malformed parameter", "after is HEIGHT.POSITION");
    let (h, p) = a.split_once('.').ok_or_else(bad)?;
    Ok((h.parse().map_err(|_| bad())?, p.parse().map_err(|_| bad())?))
}

fn history_entry(s: &Shared, height: u64, pos: u32, entry: &Id) -> Result<Value, Problem> {
    let index = s
        .store
        .index_of(entry)
        .map_err(internal)?
        .ok_or_else(|| Problem::internal("history names an entry missing from the log"))?;
    let content_type = s
        .store
        .statement(index)
        .map_err(internal)?
        .and_then(|b| proverka_statement::SignedStatement::parse(&b, s.rules.limits()).ok())
        .map(|st| match st.content_type() {
            ContentType::Text(t) => t.clone(),
            ContentType::CoapFormat(n) => n.to_string(),
        });
    let receipt = s.receipt(index).map_err(Problem::internal)?;
    Ok(json!({
        "entry": hex::encode(entry),
        "height": height,
        "position": pos,
        "index": index,
        "content_type": content_type,
        "receipt": b64(&receipt),
    }))
}

/// `GET /fleet?owner=ISS | maker=ISS | model=MAKER/NAME | firmware=HEX [&status=S]
/// [&after=HEX&limit=N]`: one page of devices with their status.
pub async fn fleet(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let result = (|| {
        let which = fleet_param(&q)?;
        let after = q
            .get("after")
            .map(|a| digest_param("after", a))
            .transpose()?;
        let limit = limit_param(&q)?;
        let view = StoreView(&s.store);
        let now = s.head().timestamp_ms;
        let page = query::fleet(&view, &which, after.as_ref(), limit).map_err(internal)?;
        // Read once per page: a page shares few models and owners.
        let mut facts: HashMap<Id, ModelFacts> = HashMap::new();
        let mut policies: HashMap<String, proverka_trust::Policy> = HashMap::new();
        let mut devices = Vec::new();
        for dev in &page {
            let Some(d) = query::device_by_hash(&view, dev).map_err(internal)? else {
                continue;
            };
            let model_facts = match facts.entry(d.model) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert(ModelFacts::load(&view, &d.model).map_err(internal)?)
                }
            };
            let policy = match policies.entry(d.owner.clone()) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert(query::owner_policy(&view, &d.owner).map_err(internal)?)
                }
            };
            let a = query::appraise_device(&d, model_facts, policy, now);
            if q.get("status")
                .is_some_and(|want| want != a.status.as_str())
            {
                continue;
            }
            devices.push(json!({
                "id": hex::encode(&d.id),
                "owner": d.owner,
                "maker": d.maker,
                "fw": hex::encode(d.fw),
                "status": a.status.as_str(),
                "reasons": a.reasons.iter().map(|r| r.code()).collect::<Vec<_>>(),
            }));
        }
        let next = (page.len() == limit)
            .then(|| page.last().map(hex::encode))
            .flatten();
        Ok(json!({"evaluated_ms": now, "devices": devices, "next": next}))
    })();
    respond(&headers, result)
}

fn fleet_param(q: &HashMap<String, String>) -> Result<Fleet, Problem> {
    if let Some(o) = q.get("owner") {
        return Ok(Fleet::Owner(o.clone()));
    }
    if let Some(m) = q.get("maker") {
        return Ok(Fleet::Maker(m.clone()));
    }
    if let Some(m) = q.get("model") {
        let (maker, name) = m
            .split_once('/')
            .ok_or_else(|| Problem::bad_request("Malformed parameter", "model is MAKER/NAME"))?;
        return Ok(Fleet::Model(records::model_id(maker, name)));
    }
    if let Some(f) = q.get("firmware") {
        return Ok(Fleet::Firmware(digest_param("firmware", f)?));
    }
    Err(Problem::bad_request(
        "Missing parameter",
        "give one of owner, maker, model (MAKER/NAME) or firmware (hex digest)",
    ))
}

/// `GET /advisories/{issuer}/{id}[?limit=N]`: the advisory and the devices it exposes now,
/// with their owners and how long they have run the affected firmware.
pub async fn advisory(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    Path((issuer, id)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let result = (|| {
        let limit = limit_param(&q)?;
        let view = StoreView(&s.store);
        let Some(adv) = query::advisory(&view, &issuer, &id).map_err(internal)? else {
            return Err(Problem::not_found(format!("no advisory {id} by {issuer}")));
        };
        let now = s.head().timestamp_ms;
        let exposed = query::advisory_exposure(&view, &adv).map_err(internal)?;
        let mut owners: HashMap<String, usize> = HashMap::new();
        let mut devices = Vec::new();
        for dev in &exposed {
            let Some(d) = query::device_by_hash(&view, dev).map_err(internal)? else {
                continue;
            };
            *owners.entry(d.owner.clone()).or_default() += 1;
            if devices.len() < limit {
                let since = d.fw_since_ms.max(adv.published_ms);
                devices.push(json!({
                    "id": hex::encode(&d.id),
                    "owner": d.owner,
                    "fw": hex::encode(d.fw),
                    "exposed_since_ms": since,
                    "exposed_for_ms": now.saturating_sub(since),
                }));
            }
        }
        let mut by_owner: Vec<_> = owners.into_iter().collect();
        by_owner.sort();
        Ok(json!({
            "issuer": adv.issuer,
            "id": adv.id,
            "model": hex::encode(adv.model),
            "severity": proverka_ledger::SEVERITY_NAMES[usize::from(adv.severity.min(3))],
            "cvss": adv.cvss.map(|c| f64::from(c) / 10.0),
            "exploited": adv.exploited,
            "withdrawn": adv.withdrawn,
            "revision": adv.revision,
            "refs": adv.refs,
            "published_ms": adv.published_ms,
            "evaluated_ms": now,
            "exposed_devices": exposed.len(),
            "exposed_by_owner": by_owner.into_iter().map(|(o, n)| json!({"owner": o, "devices": n})).collect::<Vec<_>>(),
            "devices": devices,
        }))
    })();
    respond(&headers, result)
}

/// `GET /orgs/{iss}`: an organisation's roles and active keys.
pub async fn org(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(iss): Path<String>,
) -> Response {
    let result = (|| {
        let view = StoreView(&s.store);
        let org: Option<OrgRecord> = match view_get(&view, &records::keys::org(&iss))? {
            Some(bytes) => Some(records::decode(&bytes).map_err(internal)?),
            None => s.rules.genesis_orgs().get(&iss).cloned(),
        };
        let Some(org) = org else {
            return Err(Problem::not_found(format!("no organisation {iss:?}")));
        };
        Ok(json!({
            "iss": org.iss,
            "name": org.name,
            "roles": org.roles.iter().map(|r| r.name()).collect::<Vec<_>>(),
            "keys": org.keys.iter().map(|k| hex::encode(k.0)).collect::<Vec<_>>(),
            "joined_ms": org.joined_ms,
        }))
    })();
    respond(&headers, result)
}

/// `GET /evidence-root`: the latest log root the ledger anchored, which a device puts (as 32
/// raw bytes) in its evidence nonce. Evidence naming it registers until `valid_until_ms` (block
/// time) while it stays among the last `kept` roots (`proverka_ledger::anchors`). `age_ms` and
/// `fresh` are judged at the latest block's time: on an idle ledger the latest root keeps its
/// first anchoring time and goes stale, and the device's owner registers a challenge instead
/// (`docs/registration.md`, "Challenges").
pub async fn evidence_root(State(s): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let result = (|| {
        let view = StoreView(&s.store);
        let Some((root, anchored)) = proverka_ledger::anchors::latest(&view).map_err(internal)?
        else {
            return Err(Problem::not_found(
                "no log root anchored yet: the first blocks are still to come",
            ));
        };
        let now = s.head().timestamp_ms;
        Ok(root_json(&root, &anchored, now))
    })();
    respond(&headers, result)
}

/// The answer of `GET /evidence-root` for `root`, judged at ledger time `now_ms`.
fn root_json(
    root: &[u8; 32],
    anchored: &proverka_ledger::anchors::AnchoredRoot,
    now_ms: u64,
) -> serde_json::Value {
    let valid_until_ms = anchored
        .anchored_ms
        .saturating_add(proverka_ledger::NONCE_ROOT_WINDOW_MS);
    json!({
        "root": hex::encode(root),
        "log_size": anchored.log_size,
        "anchored_ms": anchored.anchored_ms,
        "height": anchored.height,
        "valid_until_ms": valid_until_ms,
        "kept": proverka_ledger::MAX_ANCHORED_ROOTS,
        "ledger_time_ms": now_ms,
        "age_ms": now_ms.saturating_sub(anchored.anchored_ms),
        // The rules accept a root at exactly `valid_until_ms` (`devices::check_root_age`).
        "fresh": now_ms <= valid_until_ms,
    })
}

fn view_get(view: &StoreView, key: &[u8]) -> Result<Option<Vec<u8>>, Problem> {
    use proverka_ledger::StateView;
    view.get(key).map_err(internal)
}
