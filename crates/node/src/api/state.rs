//! State proofs: `GET /state/proof?key=HEX[&key=HEX…]` for any ledger keys and
//! `GET /devices/{id}/proof` for everything a device's status is computed from. Both answer a
//! CBOR [`StateProofBundle`] (`application/cbor`) that `proverka verify-state` checks offline.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use proverka_ledger::query::{self, StateScan};
use proverka_ledger::{StateError, StateView};
use serde_bytes::ByteBuf;

use super::Problem;
use crate::app::{Shared, StoreView};
use crate::state_proof::{
    ProvedEntry, ProvedView, StateProofBundle, MAX_BUNDLE_BYTES, MAX_DEVICE_PROOF_KEYS,
    MAX_QUERY_KEYS,
};

/// How long a request waits for a finalized block to certify the state it was proved at.
const CERTIFY_WAIT: Duration = Duration::from_secs(5);
/// How many blocks after the proved height are searched for its certificate.
const CERTIFY_SEARCH: u64 = 16;
/// Proofs are retaken at most this many times when the state moved past an uncertified height.
const MAX_ATTEMPTS: usize = 4;

fn cbor_response(bytes: Vec<u8>) -> Response {
    let mut resp = (StatusCode::OK, bytes).into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(super::CBOR));
    resp
}

fn cbor_or_problem(headers: &HeaderMap, result: Result<Vec<u8>, Problem>) -> Response {
    match result {
        Ok(bytes) => cbor_response(bytes),
        Err(p) => p.for_request(headers).into_response(),
    }
}

fn unavailable(detail: impl Into<String>) -> Problem {
    Problem::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "State not certified yet",
        detail,
    )
}

/// `GET /state/proof?key=HEX&key=HEX`: 1..=64 ledger keys (hex), each with its value or proof of
/// absence.
pub async fn proof(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let result = async {
        let keys = parse_keys(q.as_deref().unwrap_or(""))?;
        Ok(bundle(&s, keys).await?.bytes)
    }
    .await;
    cbor_or_problem(&headers, result)
}

fn parse_keys(query: &str) -> Result<Vec<Vec<u8>>, Problem> {
    let mut keys = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let Some(value) = pair.strip_prefix("key=") else {
            return Err(Problem::bad_request(
                "Malformed parameter",
                format!("unknown parameter in {pair:?}; only key=HEX is accepted"),
            ));
        };
        match hex::decode(value) {
            Ok(k) if !k.is_empty() && k.len() <= proverka_state::MAX_KEY_BYTES => keys.push(k),
            _ => {
                return Err(Problem::bad_request(
                    "Malformed parameter",
                    format!(
                        "key must be 1..={} bytes of hex",
                        proverka_state::MAX_KEY_BYTES
                    ),
                ))
            }
        }
    }
    if keys.is_empty() || keys.len() > MAX_QUERY_KEYS {
        return Err(Problem::bad_request(
            "Malformed parameter",
            format!("give 1..={MAX_QUERY_KEYS} key=HEX parameters"),
        ));
    }
    Ok(keys)
}

/// `GET /devices/{id}/proof`: the device record and every key its status is computed from
/// (model facts, owner policy), proved; a verifier recomputes the status offline.
pub async fn device(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let result = async {
        let device_id = device_param(&id)?;
        let keys = status_keys(&s, &device_id)?;
        Ok(bundle(&s, keys).await?.bytes)
    }
    .await;
    cbor_or_problem(&headers, result)
}

/// `GET /devices/{id}/passport`: the device's EAR, appraised at the certifying block's time from
/// exactly the proved records, with the state proof (`crate::passport`).
pub async fn passport(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let result = async {
        let device_id = device_param(&id)?;
        let keys = status_keys(&s, &device_id)?;
        // Appraised from exactly the records the bundle proves, at the certifying block's time.
        let proof = bundle(&s, keys).await?;
        let (_, appraisal) =
            crate::passport::appraise_proved(&proof.view, proof.certified_ms, &device_id)
                .map_err(|e| Problem::internal(e.to_string()))?;
        let ear = super::devices::signed_ear(&s, &device_id, &appraisal)?;
        Ok::<_, Problem>(
            crate::passport::Passport(
                crate::passport::PASSPORT_VERSION,
                ByteBuf::from(ear),
                ByteBuf::from(proof.bytes),
            )
            .encode(),
        )
    }
    .await;
    cbor_or_problem(&headers, result)
}

fn device_param(id: &str) -> Result<Vec<u8>, Problem> {
    match hex::decode(id) {
        Ok(d) if !d.is_empty() && d.len() <= proverka_ledger::MAX_DEVICE_ID_BYTES => Ok(d),
        _ => Err(Problem::bad_request(
            "Malformed parameter",
            format!(
                "device id must be 1..={} bytes of hex",
                proverka_ledger::MAX_DEVICE_ID_BYTES
            ),
        )),
    }
}

/// The keys `query::cedar_facts` reads for this device (gets and scanned rows): everything its
/// status is computed from (`query::device_status`) plus what a gateway's Cedar policies see of
/// it (model name, zone and tags), so that one bundle serves both.
fn status_keys(s: &Shared, device_id: &[u8]) -> Result<Vec<Vec<u8>>, Problem> {
    let view = Recording {
        inner: StoreView(&s.store),
        keys: Mutex::new(BTreeSet::new()),
    };
    let found = query::cedar_facts(&view, device_id, s.head().timestamp_ms)
        .map_err(|e| Problem::internal(e.to_string()))?;
    if found.is_none() {
        return Err(Problem::not_found(format!(
            "no device {}",
            hex::encode(device_id)
        )));
    }
    let keys: Vec<Vec<u8>> = view
        .keys
        .into_inner()
        .map_err(|_| Problem::internal("key recorder poisoned"))?
        .into_iter()
        .collect();
    // Unreachable while the model limits hold (the bound is derived from them); if it ever
    // were reached, the caller learns the documented limit, not a server error.
    if keys.len() > MAX_DEVICE_PROOF_KEYS {
        return Err(Problem::bad_request(
            "Proof too large",
            format!(
                "the device's status reads {} keys, more than a device proof carries \
                 ({MAX_DEVICE_PROOF_KEYS})",
                keys.len()
            ),
        ));
    }
    Ok(keys)
}

/// An encoded bundle with the proved records it carries and its certifying block's time.
struct Proof {
    bytes: Vec<u8>,
    view: ProvedView,
    certified_ms: u64,
}

/// Proves `keys` and finds the finalized block certifying the proved root.
async fn bundle(s: &Shared, keys: Vec<Vec<u8>>) -> Result<Proof, Problem> {
    let archive = s
        .archive
        .get()
        .ok_or_else(|| unavailable("consensus is not running"))?;
    for _ in 0..MAX_ATTEMPTS {
        let proved = s
            .state
            .prove(keys.clone())
            .await
            .map_err(|e| Problem::internal(e.to_string()))?;
        let height = proved.height;
        let Some(certifying) = certifying_block(archive, height).await else {
            continue; // the state moved past an uncertified height: prove again
        };
        let Some(finalization) = archive.finalization(certifying.height).await else {
            continue;
        };
        let view = ProvedView(
            proved
                .keys
                .iter()
                .map(|k| (k.key.clone(), k.value.clone()))
                .collect(),
        );
        let entries = proved
            .keys
            .into_iter()
            .map(|k| {
                ProvedEntry(
                    ByteBuf::from(k.key),
                    k.value.map(ByteBuf::from),
                    ByteBuf::from(k.proof.encode()),
                )
            })
            .collect();
        let bytes = StateProofBundle(
            height,
            ByteBuf::from(proved.root.0.to_vec()),
            ByteBuf::from(certifying.header().to_vec()),
            ByteBuf::from(certifying.statements_hash().to_vec()),
            ByteBuf::from(finalization),
            entries,
        )
        .encode();
        if bytes.len() > MAX_BUNDLE_BYTES {
            return Err(Problem::bad_request(
                "Proof too large",
                format!(
                    "the proof would be {} bytes, over {MAX_BUNDLE_BYTES}; ask for fewer keys",
                    bytes.len()
                ),
            ));
        }
        return Ok(Proof {
            bytes,
            view,
            certified_ms: certifying.timestamp_ms,
        });
    }
    Err(unavailable(
        "no finalized block certifies the current state yet; retry shortly",
    ))
}

/// The first finalized block whose anchor is `height`, waiting up to [`CERTIFY_WAIT`]; `None`
/// if the chain certified a later height instead (or nothing in time).
async fn certifying_block(
    archive: &proverka_consensus::Archive,
    height: u64,
) -> Option<proverka_consensus::Block> {
    let deadline = Instant::now() + CERTIFY_WAIT;
    let mut next = height + 1;
    while next <= height + CERTIFY_SEARCH {
        if next > archive.finalized_height() {
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        }
        let block = archive.block(next).await?;
        if block.anchor.height == height {
            return Some(block);
        }
        if block.anchor.height > height {
            return None;
        }
        next += 1;
    }
    None
}

/// A view that remembers every key read and every row scanned.
struct Recording<'a> {
    inner: StoreView<'a>,
    keys: Mutex<BTreeSet<Vec<u8>>>,
}

impl Recording<'_> {
    fn note(&self, key: &[u8]) {
        if let Ok(mut keys) = self.keys.lock() {
            keys.insert(key.to_vec());
        }
    }
}

impl StateView for Recording<'_> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        self.note(key);
        self.inner.get(key)
    }
    fn has_entry(&self, id: &[u8; 32]) -> Result<bool, StateError> {
        self.inner.has_entry(id)
    }
}

impl StateScan for Recording<'_> {
    fn scan(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>, StateError> {
        let rows = self.inner.scan(prefix, after, limit)?;
        for (k, _) in &rows {
            self.note(k);
        }
        Ok(rows)
    }
}
