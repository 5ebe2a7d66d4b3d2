//! `/.well-known/transparency-configuration` and `/.well-known/scitt-keys` (SCRAPI).

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use ciborium::value::{Integer, Value};

use super::problem::wants_json;
use crate::app::Shared;

/// Media type of a COSE_KeySet (RFC 9052).
pub const COSE_KEY_SET: &str = "application/cose-key-set";

fn config_value(s: &Shared) -> serde_json::Value {
    let algs: Vec<i64> = [-7, -9, -8, -19, -35, -51].to_vec();
    serde_json::json!({
        "issuer": s.genesis.origin,
        "chain_id": hex::encode(s.genesis_id),
        "registration_endpoint": "/entries",
        "scitt_keys_uri": "/.well-known/scitt-keys",
        "supported_signature_algorithms": algs,
        "receipt_vds": [1],
        "receipt_kid": hex::encode(s.receipt_key.public_key().thumbprint()),
        "checkpoint_uri": "/checkpoint",
        "checkpoint_vkey": s.genesis.checkpoint_vkey,
        "tiles_uri": "/tile/",
        "max_statement_bytes": s.rules.limits().max_statement_bytes,
    })
}

/// The service's configuration: CBOR map (JSON when asked), fields in `docs/api.md`.
pub async fn configuration(State(s): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let value = config_value(&s);
    if wants_json(&headers) {
        return axum::Json(value).into_response();
    }
    let mut body = Vec::new();
    let _ = ciborium::into_writer(&value, &mut body);
    with_type(body, super::CBOR)
}

/// The receipt verification keys as a COSE_KeySet, each key with its `kid` (label 2) set to its
/// RFC 9679 thumbprint — the `kid` in every receipt's protected header.
pub async fn keys(State(s): State<Arc<Shared>>) -> Response {
    let public = s.receipt_key.public_key();
    let key: Value = match ciborium::from_reader(public.to_cose_key().as_slice()) {
        Ok(Value::Map(mut entries)) => {
            // kid (label 2) sorts right after kty (1) in deterministic order.
            let kid = (
                Value::Integer(Integer::from(2)),
                Value::Bytes(public.thumbprint().to_vec()),
            );
            entries.insert(1.min(entries.len()), kid);
            Value::Map(entries)
        }
        _ => Value::Null,
    };
    let mut body = Vec::new();
    let _ = ciborium::into_writer(&Value::Array(vec![key]), &mut body);
    with_type(body, COSE_KEY_SET)
}

fn with_type(body: Vec<u8>, ctype: &'static str) -> Response {
    let mut resp = body.into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    resp
}
