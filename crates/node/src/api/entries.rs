//! `POST /entries` (register a signed statement) and `GET /entries/{id}[/statement]`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use ciborium::value::Value;
use proverka_ledger::Rejection;
use proverka_statement::{statement_id, SignedStatement, StatementError};
use serde_bytes::ByteBuf;

use super::{
    parse_id, Problem, CBOR, CERTIFY_WAIT, COSE, MAX_BULK_BODY_BYTES, MAX_BULK_STATEMENTS,
    REGISTRATION_WAIT,
};
use crate::app::{Shared, SnapshotView};
use crate::pool::{Outcome, PoolError};
use crate::verifier::VerifyError;

/// Registers a statement: 201 with its receipt once its block is durably applied, 200 with the
/// existing receipt for a resubmission, 303 See Other if the block takes longer than
/// [`REGISTRATION_WAIT`], or a problem.
pub async fn register(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    match register_inner(&s, &headers, body).await {
        Ok(resp) => resp,
        Err(problem) => {
            s.metrics.submissions_refused.inc();
            problem.for_request(&headers).into_response()
        }
    }
}

async fn register_inner(
    s: &Shared,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Problem> {
    check_content_type(headers, COSE, "POST /entries takes a tagged COSE_Sign1")?;
    let body = body.map_err(|e| too_large(e.body_text()))?;
    let id = statement_id(&body);
    match register_statement(s, id, body).await? {
        Registered::At { id, index, status } => receipt_response(s, &id, index, status),
        Registered::Late { id } => Ok(see_other(&id)),
    }
}

/// What a registration came to, before it is put into an HTTP answer.
enum Registered {
    /// In the log at `index`: `201 Created` if this request registered it, `200 OK` if it was
    /// there already.
    At {
        id: [u8; 32],
        index: u64,
        status: StatusCode,
    },
    /// Accepted, but its block took longer than [`REGISTRATION_WAIT`] (`303 See Other`).
    Late { id: [u8; 32] },
}

/// Registers one statement: every check of `POST /entries` after the media type, then the wait
/// for its block. Shared by the single and the bulk route, so both accept and refuse alike.
/// `id` is the statement's entry id (`statement_id(&body)`), computed once by the caller.
async fn register_statement(s: &Shared, id: [u8; 32], body: Bytes) -> Result<Registered, Problem> {
    let limits = s.rules.limits();
    if body.len() > limits.max_statement_bytes {
        return Err(too_large(format!("{} bytes", body.len())));
    }
    let stmt = Arc::new(SignedStatement::parse(&body, limits).map_err(malformed)?);
    if let Some(index) = s.store.index_of(&id).map_err(internal)? {
        let status = StatusCode::OK;
        return Ok(Registered::At { id, index, status });
    }
    // Every rule except the signature here; the signature in a batch on the verifier's
    // threads (`crate::verifier`), with the same verdict as checking it inline.
    // One read transaction for the checks' reads, ended before the wait for the verifier.
    let deferred = {
        let view = SnapshotView::new(&s.store).map_err(internal)?;
        s.rules
            .check_statement_deferred(&view, s.next_block_context(), &stmt)
            .map_err(internal)?
    };
    let verdict = match deferred.key.clone() {
        None => deferred.verdict,
        Some(key) => {
            let signature = s
                .verifier
                .verify(Arc::clone(&stmt), key)
                .await
                .map_err(unverified)?;
            deferred.resolve(signature)
        }
    };
    if let Err(rejection) = verdict {
        return Err(rejected(&rejection));
    }
    // Marked before it enters the pool, so that its block never misses the mark.
    s.mark_verified(id, stmt);
    let waiter = s.pool.submit(id, body.to_vec()).map_err(|e| {
        s.unmark_verified(&id);
        match e {
            PoolError::Full => Problem::new(StatusCode::SERVICE_UNAVAILABLE, "Busy", e.to_string()),
        }
    })?;
    match tokio::time::timeout(REGISTRATION_WAIT, waiter).await {
        Ok(Ok(Outcome::Registered { index })) => {
            wait_for_quorum(s, index).await;
            let status = StatusCode::CREATED;
            Ok(Registered::At { id, index, status })
        }
        Ok(Ok(Outcome::Rejected { reason })) => Err(Problem::new(
            StatusCode::FORBIDDEN,
            "Registration refused",
            reason,
        )),
        Ok(Err(_)) => Err(Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "Shutting down",
            "the node stopped before the statement's block was applied; resubmit",
        )),
        Err(_) => Ok(Registered::Late { id }),
    }
}

/// `POST /entries/bulk`: up to [`MAX_BULK_STATEMENTS`] statements in one request (a CBOR array
/// of byte strings, `docs/api.md`), for gateways that relay many devices. Each statement goes
/// through exactly the checks and the wait of `POST /entries`, concurrently; the answer lists
/// one result per statement, in order, once every one has its outcome. A refusal of one
/// statement changes nothing for the others; a malformed request registers none.
pub async fn register_bulk(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    match bulk_inner(&s, &headers, body).await {
        Ok(resp) => resp,
        Err(problem) => {
            s.metrics.submissions_refused.inc();
            problem.for_request(&headers).into_response()
        }
    }
}

async fn bulk_inner(
    s: &Shared,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Problem> {
    check_content_type(
        headers,
        CBOR,
        "POST /entries/bulk takes a CBOR array of statements",
    )?;
    let body = body.map_err(|e| bulk_too_large(e.body_text()))?;
    let statements = decode_bulk(&body)?;
    let outcomes = futures::future::join_all(statements.into_iter().map(|stmt| async move {
        let id = statement_id(&stmt);
        (id, register_statement(s, id, stmt).await)
    }))
    .await;
    let results = outcomes
        .into_iter()
        .map(|(id, outcome)| bulk_result(s, id, outcome))
        .collect();
    let mut out = Vec::new();
    // Writing into a Vec cannot fail, and these values always serialize.
    let _ = ciborium::into_writer(&Value::Array(results), &mut out);
    let mut resp = out.into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(CBOR));
    Ok(resp)
}

/// The statements of a bulk request: a CBOR array of 1 to [`MAX_BULK_STATEMENTS`] byte strings,
/// nothing after it. The body is already bounded by [`MAX_BULK_BODY_BYTES`].
fn decode_bulk(body: &Bytes) -> Result<Vec<Bytes>, Problem> {
    let bad = |detail: String| Problem::bad_request("Malformed bulk request", detail);
    let mut reader = body.as_ref();
    let items: Vec<ByteBuf> = ciborium::from_reader(&mut reader)
        .map_err(|e| bad(format!("not a CBOR array of byte strings: {e}")))?;
    if !reader.is_empty() {
        return Err(bad(format!("{} bytes after the array", reader.len())));
    }
    if items.is_empty() || items.len() > MAX_BULK_STATEMENTS {
        return Err(bad(format!(
            "{} statements; a bulk request holds 1 to {MAX_BULK_STATEMENTS}",
            items.len()
        )));
    }
    Ok(items
        .into_iter()
        .map(|b| Bytes::from(b.into_vec()))
        .collect())
}

/// One statement's result in a bulk answer, with its receipt fetched when it is in the log. A
/// receipt that cannot be built is that statement's 500 problem, not the whole request's: the
/// others' outcomes still reach the gateway.
fn bulk_result(s: &Shared, id: [u8; 32], outcome: Result<Registered, Problem>) -> Value {
    let outcome = outcome.and_then(|registered| match registered {
        Registered::At { index, status, .. } => s
            .receipt(index)
            .map(|receipt| (status, Value::Bytes(receipt)))
            .map_err(Problem::internal),
        Registered::Late { .. } => Ok((StatusCode::SEE_OTHER, Value::Null)),
    });
    match outcome {
        Ok((status, body)) => bulk_item(status, &id, body),
        Err(problem) => {
            s.metrics.submissions_refused.inc();
            bulk_item(problem.status, &id, problem.cbor_value())
        }
    }
}

/// `[status, entry id, receipt / problem / null]` (`bulk-result` in `docs/api.md`).
fn bulk_item(status: StatusCode, id: &[u8; 32], body: Value) -> Value {
    Value::Array(vec![
        Value::Integer(status.as_u16().into()),
        Value::Bytes(id.to_vec()),
        body,
    ])
}

/// Waits (at most [`CERTIFY_WAIT`]) until a quorum checkpoint covers the entry, so that the
/// receipt answered carries the committee's cosignatures; past the wait the receipt is the
/// validator's alone and `GET /entries/{id}` serves the certified one later.
async fn wait_for_quorum(s: &Shared, index: u64) {
    let mut certified = s.cosigning.subscribe();
    let _ = tokio::time::timeout(CERTIFY_WAIT, certified.wait_for(|size| index < *size)).await;
}

fn check_content_type(headers: &HeaderMap, want: &str, what: &str) -> Result<(), Problem> {
    let ctype = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = ctype.split(';').next().unwrap_or("").trim();
    if essence.eq_ignore_ascii_case(want) {
        Ok(())
    } else {
        Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Unsupported media type",
            format!("{what} ({want}), not {ctype:?}"),
        ))
    }
}

fn too_large(detail: impl std::fmt::Display) -> Problem {
    Problem::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "Statement too large",
        format!(
            "a signed statement may be at most {} bytes: {detail}",
            proverka_statement::MAX_STATEMENT_BYTES
        ),
    )
}

fn bulk_too_large(detail: impl std::fmt::Display) -> Problem {
    Problem::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "Bulk request too large",
        format!("a bulk request may be at most {MAX_BULK_BODY_BYTES} bytes: {detail}"),
    )
}

fn malformed(e: StatementError) -> Problem {
    let title = match &e {
        StatementError::UnsupportedAlgorithm(_) => "Unsupported algorithm",
        _ => "Malformed statement",
    };
    Problem::bad_request(title, e.to_string())
}

fn rejected(r: &Rejection) -> Problem {
    let (status, title) = match r {
        Rejection::UnknownIssuer(_) => (StatusCode::FORBIDDEN, "Unknown issuer"),
        Rejection::IssuerMismatch { .. } => (StatusCode::FORBIDDEN, "Issuer mismatch"),
        Rejection::Signature(_) => (StatusCode::BAD_REQUEST, "Bad signature"),
        Rejection::AlgorithmKeyMismatch(_) => {
            (StatusCode::BAD_REQUEST, "Algorithm does not match key")
        }
        Rejection::NotAdmin => (StatusCode::FORBIDDEN, "Not an admin issuer"),
        Rejection::BadRegistration(_) => (StatusCode::BAD_REQUEST, "Invalid issuer registration"),
        Rejection::IssuerAlreadyRegistered(_) => {
            (StatusCode::CONFLICT, "Issuer already registered")
        }
        Rejection::Malformed(_) => (StatusCode::BAD_REQUEST, "Malformed statement"),
        Rejection::RevokedKey(_) => (StatusCode::FORBIDDEN, "Revoked key"),
        Rejection::BadPayload { .. } => (StatusCode::BAD_REQUEST, "Invalid payload"),
        Rejection::MissingRole { .. } => (StatusCode::FORBIDDEN, "Missing role"),
        Rejection::NotOwner { .. } => (StatusCode::FORBIDDEN, "Not the owner"),
        Rejection::NotPermitted(_) => (StatusCode::FORBIDDEN, "Not permitted"),
        Rejection::NotFound(_) => (StatusCode::UNPROCESSABLE_ENTITY, "Unknown subject"),
        Rejection::Conflict(_) => (StatusCode::CONFLICT, "Conflict"),
        Rejection::Expired(_) => (StatusCode::GONE, "Expired"),
        Rejection::Decommissioned(_) => (StatusCode::CONFLICT, "Device decommissioned"),
        Rejection::Evidence(_) | Rejection::Challenge(_) => {
            (StatusCode::BAD_REQUEST, "Evidence refused")
        }
        Rejection::Idevid(_) => (StatusCode::BAD_REQUEST, "IDevID chain refused"),
        Rejection::BatchItem { .. } => (StatusCode::BAD_REQUEST, "Batch item refused"),
        Rejection::Command(_) => (StatusCode::BAD_REQUEST, "Command refused"),
        Rejection::BlockFull => (StatusCode::SERVICE_UNAVAILABLE, "Block full"),
    };
    Problem::new(status, title, r.to_string())
}

/// The signature could not be checked: the verifier's queue is full, or the node is stopping.
fn unverified(e: VerifyError) -> Problem {
    match e {
        VerifyError::Busy(_) => {
            Problem::new(StatusCode::SERVICE_UNAVAILABLE, "Busy", e.to_string())
        }
        VerifyError::Stopped => Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "Shutting down",
            "the node is stopping; resubmit",
        ),
    }
}

fn internal(e: impl std::fmt::Display) -> Problem {
    Problem::internal(e.to_string())
}

fn location(id: &[u8; 32]) -> HeaderValue {
    HeaderValue::from_str(&format!("/entries/{}", hex::encode(id)))
        .unwrap_or(HeaderValue::from_static("/entries"))
}

fn see_other(id: &[u8; 32]) -> Response {
    let mut resp = StatusCode::SEE_OTHER.into_response();
    resp.headers_mut().insert(header::LOCATION, location(id));
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    resp
}

fn receipt_response(
    s: &Shared,
    id: &[u8; 32],
    index: u64,
    status: StatusCode,
) -> Result<Response, Problem> {
    let receipt = s.receipt(index).map_err(Problem::internal)?;
    let mut resp = (status, receipt).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(COSE));
    h.insert(header::LOCATION, location(id));
    Ok(resp)
}

/// `GET /entries/{id}`: the receipt (200), 202 while the statement waits for its block, or 404.
pub async fn receipt(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let result = (|| {
        let id = parse_id(&id)?;
        match s.store.index_of(&id).map_err(internal)? {
            Some(index) => receipt_response(&s, &id, index, StatusCode::OK),
            None if s.pool.is_pending(&id) => {
                let mut resp = StatusCode::ACCEPTED.into_response();
                resp.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                Ok(resp)
            }
            None => Err(Problem::not_found(
                "no registered statement has this entry id",
            )),
        }
    })();
    result.unwrap_or_else(|p| p.for_request(&headers).into_response())
}

/// `GET /entries/{id}/statement`: the registered statement's exact bytes.
pub async fn statement(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let result = (|| {
        let id = parse_id(&id)?;
        let index = s
            .store
            .index_of(&id)
            .map_err(internal)?
            .ok_or_else(|| Problem::not_found("no registered statement has this entry id"))?;
        let bytes = s
            .store
            .statement(index)
            .map_err(internal)?
            .ok_or_else(|| Problem::internal("entry index without statement"))?;
        let mut resp = bytes.into_response();
        resp.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(COSE));
        Ok(resp)
    })();
    result.unwrap_or_else(|p: Problem| p.for_request(&headers).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_verifier_queue_is_a_503_busy_problem() {
        let p = unverified(VerifyError::Busy(crate::verifier::MAX_VERIFY_QUEUE));
        assert_eq!(p.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(p.title, "Busy");
        assert!(p.detail.contains("full"), "{}", p.detail);
        let p = unverified(VerifyError::Stopped);
        assert_eq!(p.status, StatusCode::SERVICE_UNAVAILABLE);
    }

    fn encoded(v: &Value) -> String {
        let mut out = Vec::new();
        ciborium::into_writer(v, &mut out).unwrap();
        hex::encode(out)
    }

    /// Golden bytes of `bulk-result` (docs/api.md): a refusal and a late statement.
    #[test]
    fn bulk_results_keep_their_encoding() {
        let id = [0x11; 32];
        let refusal = Problem::new(StatusCode::FORBIDDEN, "Unknown issuer", "kid 00");
        assert_eq!(
            encoded(&bulk_item(refusal.status, &id, refusal.cbor_value())),
            format!(
                "83190193 5820{} a2 20 6e556e6b6e6f776e20697373756572 21 666b6964203030",
                "11".repeat(32)
            )
            .replace(' ', "")
        );
        assert_eq!(
            encoded(&bulk_item(StatusCode::SEE_OTHER, &id, Value::Null)),
            format!("8319012f5820{}f6", "11".repeat(32))
        );
        let receipt = Value::Bytes(vec![0xd2, 0x84]);
        assert_eq!(
            encoded(&bulk_item(StatusCode::CREATED, &id, receipt)),
            format!("8318c95820{}42d284", "11".repeat(32))
        );
    }

    #[test]
    fn a_bulk_body_is_an_array_of_1_to_256_byte_strings_and_nothing_after() {
        let body = |v: &Value| {
            let mut out = Vec::new();
            ciborium::into_writer(v, &mut out).unwrap();
            Bytes::from(out)
        };
        let two = Value::Array(vec![Value::Bytes(vec![1]), Value::Bytes(vec![2, 3])]);
        let got = decode_bulk(&body(&two)).unwrap();
        assert_eq!(
            got,
            vec![Bytes::from_static(&[1]), Bytes::from_static(&[2, 3])]
        );
        let full = Value::Array(vec![Value::Bytes(vec![0]); MAX_BULK_STATEMENTS]);
        assert_eq!(
            decode_bulk(&body(&full)).unwrap().len(),
            MAX_BULK_STATEMENTS
        );

        let over = Value::Array(vec![Value::Bytes(vec![0]); MAX_BULK_STATEMENTS + 1]);
        let mut trailing = body(&two).to_vec();
        trailing.push(0);
        for (bad, why) in [
            (body(&Value::Array(vec![])), "1 to 256"),
            (body(&over), "257 statements"),
            (
                body(&Value::Array(vec![Value::Text("x".into())])),
                "byte strings",
            ),
            (body(&Value::Map(vec![])), "byte strings"),
            (Bytes::from_static(&[0x82, 0x41]), "byte strings"),
            (Bytes::from(trailing), "1 bytes after the array"),
        ] {
            let p = decode_bulk(&bad).unwrap_err();
            assert_eq!(
                (p.status, p.title),
                (StatusCode::BAD_REQUEST, "Malformed bulk request")
            );
            assert!(p.detail.contains(why), "{why}: {}", p.detail);
        }
    }
}
