//! `POST /entries` (register a signed statement) and `GET /entries/{id}[/statement]`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use proverka_ledger::Rejection;
use proverka_statement::{statement_id, SignedStatement, StatementError};

use super::{parse_id, Problem, CERTIFY_WAIT, COSE, REGISTRATION_WAIT};
use crate::app::{Shared, StoreView};
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
    check_content_type(headers)?;
    let body = body.map_err(|e| too_large(e.body_text()))?;
    let limits = s.rules.limits();
    if body.len() > limits.max_statement_bytes {
        return Err(too_large(format!("{} bytes", body.len())));
    }
    let stmt = SignedStatement::parse(&body, limits).map_err(malformed)?;
    let id = statement_id(&body);
    if let Some(index) = s.store.index_of(&id).map_err(internal)? {
        return receipt_response(s, &id, index, StatusCode::OK);
    }
    // Every rule except the signature here; the signature in a batch on the verifier's
    // threads (`crate::verifier`), with the same verdict as checking it inline.
    let view = StoreView(&s.store);
    let deferred = s
        .rules
        .check_statement_deferred(&view, s.next_block_context(), &stmt)
        .map_err(internal)?;
    let verdict = match deferred.key.clone() {
        None => deferred.verdict,
        Some(key) => {
            let signature = s.verifier.verify(stmt, key).await.map_err(unverified)?;
            deferred.resolve(signature)
        }
    };
    if let Err(rejection) = verdict {
        return Err(rejected(&rejection));
    }
    s.mark_verified(id);
    let waiter = s.pool.submit(id, body.to_vec()).map_err(|e| match e {
        PoolError::Full => Problem::new(StatusCode::SERVICE_UNAVAILABLE, "Busy", e.to_string()),
    })?;
    match tokio::time::timeout(REGISTRATION_WAIT, waiter).await {
        Ok(Ok(Outcome::Registered { index })) => {
            wait_for_quorum(s, index).await;
            receipt_response(s, &id, index, StatusCode::CREATED)
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
        Err(_) => Ok(see_other(&id)),
    }
}

/// Waits (at most [`CERTIFY_WAIT`]) until a quorum checkpoint covers the entry, so that the
/// receipt answered carries the committee's cosignatures; past the wait the receipt is the
/// validator's alone and `GET /entries/{id}` serves the certified one later.
async fn wait_for_quorum(s: &Shared, index: u64) {
    let mut certified = s.cosigning.subscribe();
    let _ = tokio::time::timeout(CERTIFY_WAIT, certified.wait_for(|size| index < *size)).await;
}

fn check_content_type(headers: &HeaderMap) -> Result<(), Problem> {
    let ctype = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = ctype.split(';').next().unwrap_or("").trim();
    if essence.eq_ignore_ascii_case(COSE) {
        Ok(())
    } else {
        Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Unsupported media type",
            format!("POST /entries takes {COSE} (a tagged COSE_Sign1), not {ctype:?}"),
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
}
