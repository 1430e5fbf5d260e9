//! `Idempotency-Key` on the POSTs that start work (IETF draft "The Idempotency-Key HTTP Header Field").
//!
//! A client that is not sure its POST arrived (a timeout, a dropped connection) sends it again with the same
//! key: the first answer (status, `Location`, body) is returned — marked `Idempotent-Replayed: true` — and
//! no second job, import or sync is started.
//!
//! - **Scope.** A key is scoped to the tenant (from the API key) and the route as requested (method and
//!   path: `/api/jobs/7/reset` and `/api/jobs/8/reset` are different scopes). It is stored in the state
//!   store's [`ledgerlink_ports::IdempotencyStore`] — the same port, and the same DynamoDB items / SQLite
//!   rows, the flows use for ledger writes — under `api:<tenant>:<sha256(route, key)>`.
//! - **Same key, another request** (another body or query) → 422 problem; the first answer is not returned.
//! - **Same key while the first is still running** → 409 problem with `Retry-After`.
//! - **What is remembered.** A 2xx answer, for [`KEEP`] (24 h) after it was given. An error answer is not
//!   remembered (no work started): the key is released and the same key may be sent again, with the same
//!   or a corrected body.
//! - A key is 1 to 255 visible ASCII characters (a UUID is the usual choice); anything else is a 400.
//! - Without the header, the routes behave as before (nothing is stored).

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ledgerlink_ports::IdempotencyBegin;
use sha2::{Digest, Sha256};

use crate::ApiState;
use crate::auth::Caller;
use crate::error::ApiError;

/// The request header.
pub const HEADER: &str = "idempotency-key";
/// The header marking a repeated answer.
pub const REPLAYED: &str = "idempotent-replayed";
/// How long a completed answer is returned for a repeated key.
pub const KEEP: chrono::Duration = chrono::Duration::hours(24);
/// How long a first request holds its key while it runs (a crashed request frees it after this).
const LEASE: Duration = Duration::from_secs(60);
/// Largest answer remembered (job views and sync results are a few kB).
const MAX_ANSWER: usize = 1024 * 1024;
/// Longest key accepted.
const MAX_KEY: usize = 255;

/// The POST routes (router patterns) that start work and honour `Idempotency-Key`.
pub const ROUTES: &[&str] = &[
    "/api/objects/synchronize",
    "/api/objects/force-synchronize",
    "/api/jobs/{id}/reset",
    "/api/export-definitions/{id}/run",
    "/api/imports",
    "/api/imports/uploads",
    "/api/imports/{id}/submit",
    "/api/integrations/{id}/run",
];

fn checked_key(raw: &HeaderValue) -> Result<&str, ApiError> {
    let text = raw.to_str().unwrap_or("");
    if text.is_empty() || text.len() > MAX_KEY || !text.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::invalid(
            "Idempotency-Key",
            format!("must be 1 to {MAX_KEY} visible ASCII characters (a UUID, for example)"),
        ));
    }
    Ok(text)
}

fn hex_sha256(parts: &[&[u8]]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part);
    }
    hex::encode(hasher.finalize())
}

/// The answer as stored: status, the headers that matter, the body.
fn remembered(
    status: StatusCode,
    headers: &axum::http::HeaderMap,
    body: &[u8],
) -> serde_json::Value {
    let text = |name: header::HeaderName| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    serde_json::json!({
        "status": status.as_u16(),
        "content_type": text(header::CONTENT_TYPE),
        "location": text(header::LOCATION),
        "body": String::from_utf8_lossy(body),
    })
}

fn replay(stored: &serde_json::Value) -> Response {
    let status = stored["status"]
        .as_u64()
        .and_then(|s| u16::try_from(s).ok())
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::OK);
    let body = stored["body"].as_str().unwrap_or("").to_owned();
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    for (name, member) in [
        (header::CONTENT_TYPE, "content_type"),
        (header::LOCATION, "location"),
    ] {
        if let Some(value) = stored[member]
            .as_str()
            .and_then(|v| HeaderValue::from_str(v).ok())
        {
            headers.insert(name, value);
        }
    }
    headers.insert(REPLAYED, HeaderValue::from_static("true"));
    response
}

/// Middleware of the `/api/` routes (inside authentication): applies the rules above to [`ROUTES`].
pub async fn idempotent(
    State(state): State<Arc<ApiState>>,
    request: Request,
    next: Next,
) -> Response {
    if request.method() != axum::http::Method::POST {
        return next.run(request).await;
    }
    let Some(pattern) = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
    else {
        return next.run(request).await;
    };
    if !ROUTES.contains(&pattern.as_str()) {
        return next.run(request).await;
    }
    let Some(raw) = request.headers().get(HEADER).cloned() else {
        return next.run(request).await;
    };
    match run_once(&state, &pattern, &raw, request, next).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

async fn run_once(
    state: &ApiState,
    pattern: &str,
    raw: &HeaderValue,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let key = checked_key(raw)?;
    let Some(caller) = request.extensions().get::<Caller>().cloned() else {
        return Err(ApiError::Unauthenticated("an API key is required"));
    };
    let (parts, body) = request.into_parts();
    let limit = if pattern == "/api/imports" {
        state.limits.import_body
    } else {
        state.limits.json_body
    };
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|_| {
        ApiError::TooLarge("The request body is larger than this route accepts.".into())
    })?;
    let path = parts.uri.path().to_owned();
    let query = parts.uri.query().unwrap_or("").to_owned();
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .map(|v| v.as_bytes().to_vec())
        .unwrap_or_default();
    let payload_hash = hex_sha256(&[query.as_bytes(), &content_type, &bytes]);
    let store_key = format!(
        "api:{}:{}",
        caller.tenant,
        hex_sha256(&[b"POST", path.as_bytes(), key.as_bytes()])
    );
    let store = &state.stores().idempotency;
    let now = state.now();
    let claim = match store
        .begin(&store_key, &payload_hash, LEASE, now)
        .await
        .map_err(|e| ApiError::from_store(e, "the idempotency record"))?
    {
        IdempotencyBegin::Started(claim) => claim,
        IdempotencyBegin::Completed { result } => return Ok(replay(&result)),
        IdempotencyBegin::InProgress { lease_until } => {
            let wait = (lease_until - now).num_seconds().clamp(1, 60);
            return Err(ApiError::IdempotencyInProgress {
                detail:
                    "A request with this Idempotency-Key is still being processed; send it again \
                         shortly to get its answer."
                        .into(),
                retry_after: u64::try_from(wait).unwrap_or(1),
            });
        }
        IdempotencyBegin::PayloadMismatch { .. } => {
            return Err(ApiError::IdempotencyKeyReused(
                "This Idempotency-Key was used on this route with another request body or query; use \
                 a new key for a new request."
                    .into(),
            ));
        }
    };
    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    let release = || async {
        if let Err(e) = store.release(&store_key, claim.fence).await {
            tracing::warn!(error = %e, "idempotency key could not be released");
        }
    };
    if !response.status().is_success() {
        release().await;
        return Ok(response);
    }
    let (mut head, body) = response.into_parts();
    let Ok(answer) = axum::body::to_bytes(body, MAX_ANSWER).await else {
        release().await;
        tracing::error!("an answer to an idempotent request could not be read");
        return Err(ApiError::Internal);
    };
    let stored = remembered(head.status, &head.headers, &answer);
    if let Err(e) = store
        .complete(
            &store_key,
            claim.fence,
            &payload_hash,
            &stored,
            state.now() + KEEP,
        )
        .await
    {
        // The work was done and is answered; only a repeat would start it again.
        tracing::warn!(error = %e, "idempotent answer could not be stored");
    }
    head.headers.remove(header::CONTENT_LENGTH);
    Ok(Response::from_parts(head, Body::from(answer)))
}
