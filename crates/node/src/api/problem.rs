//! Errors as RFC 9290 concise problem details (CBOR), or RFC 9457 JSON when the client asks.

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use ciborium::value::{Integer, Value};

/// Media type of a CBOR problem (RFC 9290).
pub const CBOR_PROBLEM: &str = "application/concise-problem-details+cbor";
/// Media type of a JSON problem (RFC 9457).
pub const JSON_PROBLEM: &str = "application/problem+json";

/// One API error: an HTTP status, a stable short title and a human explanation.
#[derive(Debug, Clone)]
pub struct Problem {
    pub status: StatusCode,
    pub title: &'static str,
    pub detail: String,
    json: bool,
}

impl Problem {
    pub fn new(status: StatusCode, title: &'static str, detail: impl Into<String>) -> Self {
        Problem {
            status,
            title,
            detail: detail.into(),
            json: false,
        }
    }

    /// Renders as JSON if the request's `Accept` prefers it.
    pub fn for_request(mut self, headers: &HeaderMap) -> Self {
        self.json = wants_json(headers);
        self
    }

    pub fn bad_request(title: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, title, detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "Not found", detail)
    }

    pub fn internal(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal error", detail)
    }

    /// The RFC 9290 map `{-1: title, -2: detail}`, also one item of a bulk answer.
    pub fn cbor_value(&self) -> Value {
        Value::Map(vec![
            (
                Value::Integer(Integer::from(-1)),
                Value::Text(self.title.to_owned()),
            ),
            (
                Value::Integer(Integer::from(-2)),
                Value::Text(self.detail.clone()),
            ),
        ])
    }

    fn cbor(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let _ = ciborium::into_writer(&self.cbor_value(), &mut out);
        out
    }

    fn json_body(&self) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "type": "about:blank",
            "title": self.title,
            "status": self.status.as_u16(),
            "detail": self.detail,
        }))
        .unwrap_or_default()
    }
}

/// True if the `Accept` header names a JSON type.
pub fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"))
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let (ctype, body) = if self.json {
            (JSON_PROBLEM, self.json_body())
        } else {
            (CBOR_PROBLEM, self.cbor())
        };
        let mut resp = (self.status, body).into_response();
        resp.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
        resp
    }
}
