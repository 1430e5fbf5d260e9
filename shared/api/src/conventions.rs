//! The HTTP conventions every route follows, in one place:
//!
//! - **Problems carry `instance`**: [`problem_instance`] adds the request's path (never its query, which may
//!   hold a signed link) to every `application/problem+json` answer, whichever layer produced it.
//! - **201 carries `Location`**: [`Created`] is the only way a handler answers 201.
//! - **Versions travel as `ETag` / `If-Match`**: [`Versioned`] answers a resource with `ETag: "<version>"`;
//!   [`expected_version`] reads `If-Match` on a PUT (a mismatch is 412 before anything is written; no
//!   `If-Match` falls back to the body's `version`; neither is 428).
//! - **`Idempotency-Key`** on the POSTs that start work: see [`idempotency`].

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::error::{ApiError, PROBLEM_JSON};

/// Largest problem body rewritten to add `instance` (problems are a few hundred bytes).
const MAX_PROBLEM: usize = 64 * 1024;

/// Adds `instance` (the request path) to every problem answer.
pub async fn problem_instance(request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes() == PROBLEM_JSON.as_bytes());
    if !is_problem {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_PROBLEM).await else {
        return Response::from_parts(parts, Body::empty());
    };
    let mut value: serde_json::Value = match serde_json::from_slice(&bytes) {
        Ok(value) => value,
        Err(_) => return Response::from_parts(parts, Body::from(bytes)),
    };
    if let Some(object) = value.as_object_mut() {
        object.insert("instance".to_owned(), serde_json::Value::from(path));
    }
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(value.to_string()))
}

/// A 201 answer: the created resource's URL in `Location`, the resource (or the started job) as JSON.
#[derive(Debug)]
pub struct Created<T> {
    pub location: String,
    pub body: T,
    /// The created resource's version, answered as `ETag` when it is one a later PUT names.
    pub version: Option<u64>,
}

impl<T> Created<T> {
    pub fn at(location: impl Into<String>, body: T) -> Self {
        Self {
            location: location.into(),
            body,
            version: None,
        }
    }

    pub fn with_version(mut self, version: u64) -> Self {
        self.version = Some(version);
        self
    }
}

impl<T: Serialize> IntoResponse for Created<T> {
    fn into_response(self) -> Response {
        let mut response = (StatusCode::CREATED, axum::Json(self.body)).into_response();
        match HeaderValue::from_str(&self.location) {
            Ok(value) => {
                response.headers_mut().insert(header::LOCATION, value);
            }
            Err(_) => tracing::error!("a created resource has no valid Location"),
        }
        if let Some(value) = self
            .version
            .and_then(|v| HeaderValue::from_str(&etag(v)).ok())
        {
            response.headers_mut().insert(header::ETAG, value);
        }
        response
    }
}

/// Percent-encodes one path segment of a `Location` (ids are mostly plain; lookup keys may be anything).
pub fn segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The strong entity tag of a record version: `"<version>"`.
pub fn etag(version: u64) -> String {
    format!("\"{version}\"")
}

/// A resource answered with its version as `ETag`, for a later PUT's `If-Match`.
#[derive(Debug)]
pub struct Versioned<T> {
    pub version: u64,
    pub body: T,
}

impl<T: Serialize> IntoResponse for Versioned<T> {
    fn into_response(self) -> Response {
        let mut response = axum::Json(self.body).into_response();
        if let Ok(value) = HeaderValue::from_str(&etag(self.version)) {
            response.headers_mut().insert(header::ETAG, value);
        }
        response
    }
}

/// The version a PUT is based on.
///
/// - `If-Match: "<n>"` (or `W/"<n>"`, or a list naming `<n>`): `<n>` must be `current` — otherwise 412
///   before anything is written. `If-Match: *` matches any existing version.
/// - No `If-Match`: the body's `version` when it has one (clients written before `ETag`s); a body
///   version that is not current is a 409 from the store, as before.
/// - Neither: 428 — a write must say which version it replaces, never silently overwrite.
///
/// Returns the version to write against.
pub fn expected_version(
    headers: &HeaderMap,
    body_version: Option<u64>,
    current: u64,
    what: &str,
) -> Result<u64, ApiError> {
    let Some(raw) = headers.get(header::IF_MATCH) else {
        return body_version.ok_or_else(|| {
            ApiError::PreconditionRequired(format!(
                "Changing {what} needs the version it is based on: send `If-Match` with the ETag of \
                 the GET (or `version` in the body)."
            ))
        });
    };
    let text = raw
        .to_str()
        .map_err(|_| ApiError::invalid("If-Match", "must be an entity tag, e.g. \"3\""))?;
    if text.trim() == "*" {
        return Ok(current);
    }
    let mut tags = Vec::new();
    for tag in text.split(',') {
        let tag = tag.trim();
        let tag = tag.strip_prefix("W/").unwrap_or(tag);
        let version = tag
            .strip_prefix('"')
            .and_then(|t| t.strip_suffix('"'))
            .and_then(|t| t.parse::<u64>().ok())
            .ok_or_else(|| {
                ApiError::invalid("If-Match", "must be an entity tag of this API, e.g. \"3\"")
            })?;
        tags.push(version);
    }
    if tags.contains(&current) {
        Ok(current)
    } else {
        Err(ApiError::PreconditionFailed(format!(
            "{what} is at version {current}, not the one `If-Match` names; reload it and apply your \
             change again."
        )))
    }
}

/// Whether the request carries `If-Match` at all.
pub fn has_if_match(headers: &HeaderMap) -> bool {
    headers.contains_key(header::IF_MATCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::IF_MATCH,
            HeaderValue::from_str(value).unwrap_or_else(|_| HeaderValue::from_static("x")),
        );
        headers
    }

    #[test]
    fn if_match_names_the_current_version_or_the_write_is_refused() {
        assert_eq!(expected_version(&with("\"4\""), None, 4, "x").ok(), Some(4));
        assert_eq!(
            expected_version(&with("W/\"4\""), Some(1), 4, "x").ok(),
            Some(4)
        );
        assert_eq!(
            expected_version(&with("\"1\", \"4\""), None, 4, "x").ok(),
            Some(4)
        );
        assert_eq!(expected_version(&with("*"), None, 4, "x").ok(), Some(4));
        assert_eq!(
            expected_version(&with("\"3\""), None, 4, "x").map_err(|e| e.status()),
            Err(StatusCode::PRECONDITION_FAILED)
        );
        assert_eq!(
            expected_version(&with("three"), None, 4, "x").map_err(|e| e.status()),
            Err(StatusCode::BAD_REQUEST)
        );
    }

    #[test]
    fn without_if_match_the_body_version_is_used_and_nothing_is_a_428() {
        let none = HeaderMap::new();
        assert_eq!(expected_version(&none, Some(2), 4, "x").ok(), Some(2));
        assert_eq!(
            expected_version(&none, None, 4, "x").map_err(|e| e.status()),
            Err(StatusCode::PRECONDITION_REQUIRED)
        );
    }

    #[test]
    fn a_location_segment_is_percent_encoded() {
        assert_eq!(segment("a b/c#d"), "a%20b%2Fc%23d");
        assert_eq!(segment("NL-21_x.y~z"), "NL-21_x.y~z");
    }
}
