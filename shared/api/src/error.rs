//! Errors of the API as RFC 9457 `application/problem+json` (type, title, status, detail), and the
//! extractors that turn every bad input (invalid JSON, unknown enum values, oversized bodies, bad paths and
//! queries) into such a problem instead of axum's plain-text rejections.
//!
//! A problem's `detail` is written for the operator: specific ("status `bogus` is not one of …"), but it
//! never carries internals — no `Debug` of an error, no SQL, no store keys, no secrets. The underlying
//! error is logged (its `Display`, which the ports keep free of secrets) and only a safe text is returned.

use axum::extract::rejection::{BytesRejection, JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ledgerlink_flows::FlowError;
use ledgerlink_ports::StoreError;
use serde::de::DeserializeOwned;

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Why a request failed, as the caller can act on it. Each variant is one HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No credential, a malformed one, or one that does not match (401).
    #[error("authentication required: {0}")]
    Unauthenticated(&'static str),
    /// The key is valid but its role does not allow the action (403); the detail names the role needed.
    #[error("{0}")]
    Forbidden(String),
    /// The resource does not exist for the caller's tenant (404). Other tenants' resources look the same.
    #[error("{0}")]
    NotFound(String),
    /// An input is not acceptable; `field` names it (400).
    #[error("invalid {field}: {reason}")]
    Invalid { field: String, reason: String },
    /// The body is not well-formed JSON of the expected shape (400/422 as axum classified it).
    #[error("{detail}")]
    Body { status: StatusCode, detail: String },
    /// The JSON body is well-formed but a member is wrong (an unknown field, an unknown enum value, a
    /// wrong type) (400); `field` is the member's path (`objects[0].type`), `.` for the body itself.
    #[error("The JSON does not have the expected shape: {field}: {reason}")]
    BodyField { field: String, reason: String },
    /// The route exists but not with this method (405).
    #[error("{0}")]
    MethodNotAllowed(String),
    /// A signed file link is malformed, altered or expired (403, as S3 answers a bad presigned URL).
    #[error("{0}")]
    BadLink(&'static str),
    /// A write names no version to check: neither `If-Match` nor a body `version` (428).
    #[error("{0}")]
    PreconditionRequired(String),
    /// `If-Match` names a version that is not the current one (412).
    #[error("{0}")]
    PreconditionFailed(String),
    /// An `Idempotency-Key` was used before with another request body (422).
    #[error("{0}")]
    IdempotencyKeyReused(String),
    /// A request with the same `Idempotency-Key` is still being processed (409 with `Retry-After`).
    #[error("{detail}")]
    IdempotencyInProgress { detail: String, retry_after: u64 },
    /// The body is larger than the route accepts (413).
    #[error("{0}")]
    TooLarge(String),
    /// A record changed since it was read (optimistic version) (409).
    #[error("{0}")]
    Conflict(String),
    /// The action is not possible in the resource's current state (409).
    #[error("{0}")]
    WrongState(String),
    /// The webhook's signature or credentials do not match (401); nothing was done.
    #[error("{0}")]
    BadSignature(&'static str),
    /// A dependency is temporarily unavailable; the same request may succeed later (503).
    #[error("{0}")]
    Unavailable(String),
    /// The same work is in progress elsewhere (a concurrent twin of a webhook delivery); the sender should
    /// send it again after `retry_after` seconds (503 with `Retry-After`).
    #[error("{detail}")]
    RetryLater { detail: String, retry_after: u64 },
    /// The tenant sent more requests than its limit allows (429 with `Retry-After`).
    #[error("{detail}")]
    Throttled { detail: String, retry_after: u64 },
    /// This deployment cannot do what was asked (501), e.g. writing secret values where no writer exists.
    #[error("{0}")]
    NotSupported(String),
    /// Anything else (500). The detail is fixed; the cause is only logged.
    #[error("internal failure")]
    Internal,
}

impl ApiError {
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        Self::NotFound(what.into())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::Unauthenticated(_) | Self::BadSignature(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Invalid { .. } => StatusCode::BAD_REQUEST,
            Self::Body { status, .. } => *status,
            Self::BodyField { .. } => StatusCode::BAD_REQUEST,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::BadLink(_) => StatusCode::FORBIDDEN,
            Self::PreconditionRequired(_) => StatusCode::PRECONDITION_REQUIRED,
            Self::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            Self::IdempotencyKeyReused(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::IdempotencyInProgress { .. } => StatusCode::CONFLICT,
            Self::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Conflict(_) | Self::WrongState(_) => StatusCode::CONFLICT,
            Self::Unavailable(_) | Self::RetryLater { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::NotSupported(_) => StatusCode::NOT_IMPLEMENTED,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The short, stable name of the problem (the last part of its `type`).
    pub fn slug(&self) -> &'static str {
        match self {
            Self::Unauthenticated(_) => "unauthenticated",
            Self::BadSignature(_) => "bad-signature",
            Self::Forbidden(_) => "forbidden",
            Self::NotFound(_) => "not-found",
            Self::Invalid { .. } => "invalid-input",
            Self::Body { .. } | Self::BodyField { .. } => "invalid-body",
            Self::MethodNotAllowed(_) => "method-not-allowed",
            Self::BadLink(_) => "bad-link",
            Self::PreconditionRequired(_) => "precondition-required",
            Self::PreconditionFailed(_) => "precondition-failed",
            Self::IdempotencyKeyReused(_) => "idempotency-key-reused",
            Self::IdempotencyInProgress { .. } => "idempotency-key-in-use",
            Self::TooLarge(_) => "payload-too-large",
            Self::Conflict(_) => "version-conflict",
            Self::WrongState(_) => "wrong-state",
            Self::Unavailable(_) => "temporarily-unavailable",
            Self::RetryLater { .. } => "in-progress",
            Self::Throttled { .. } => "too-many-requests",
            Self::NotSupported(_) => "not-supported",
            Self::Internal => "internal",
        }
    }

    fn title(&self) -> &'static str {
        match self {
            Self::Unauthenticated(_) => "Authentication required",
            Self::BadSignature(_) => "Webhook signature refused",
            Self::Forbidden(_) => "Not allowed for this key's role",
            Self::NotFound(_) => "Not found",
            Self::Invalid { .. } => "Invalid input",
            Self::Body { .. } | Self::BodyField { .. } => "Invalid request body",
            Self::MethodNotAllowed(_) => "Method not allowed on this route",
            Self::BadLink(_) => "Link invalid or expired",
            Self::PreconditionRequired(_) => "Version precondition required",
            Self::PreconditionFailed(_) => "Version precondition failed",
            Self::IdempotencyKeyReused(_) => "Idempotency-Key reused with another request",
            Self::IdempotencyInProgress { .. } => "Request with this Idempotency-Key in progress",
            Self::TooLarge(_) => "Request body too large",
            Self::Conflict(_) => "Version conflict",
            Self::WrongState(_) => "Action not possible in this state",
            Self::Unavailable(_) => "Temporarily unavailable",
            Self::RetryLater { .. } => "Already in progress",
            Self::Throttled { .. } => "Too many requests",
            Self::NotSupported(_) => "Not supported here",
            Self::Internal => "Internal error",
        }
    }

    fn detail(&self) -> String {
        match self {
            Self::Unauthenticated(why) | Self::BadSignature(why) | Self::BadLink(why) => {
                (*why).to_owned()
            }
            Self::Invalid { field, reason } => format!("{field}: {reason}"),
            Self::Internal => "The request could not be completed; it was logged.".to_owned(),
            other => other.to_string(),
        }
    }

    /// The field at fault and why, for the problem's `errors` member.
    fn field_error(&self) -> Option<(&str, &str)> {
        match self {
            Self::Invalid { field, reason } => Some((field, reason)),
            Self::BodyField { field, reason } => Some((field, reason)),
            _ => None,
        }
    }

    /// Maps a store failure to what the caller may know about it, logging the cause.
    pub fn from_store(error: StoreError, what: &str) -> Self {
        match error {
            StoreError::NotFound { .. } => Self::NotFound(format!("{what} does not exist")),
            StoreError::Conflict { .. } => Self::Conflict(format!(
                "{what} changed since it was read; reload it and try again"
            )),
            StoreError::Invalid(message) => {
                tracing::info!(%message, "store refused a request as invalid");
                Self::invalid(what.to_owned(), "the store refused the request as invalid")
            }
            StoreError::Transient { .. } => {
                tracing::warn!(error = %error, "store temporarily unavailable");
                Self::Unavailable("The state store is temporarily unavailable; try again.".into())
            }
            StoreError::Permanent { .. } => {
                tracing::error!(error = %error, "store failure");
                Self::Internal
            }
        }
    }

    /// Maps a list failure: a cursor the store did not issue is the caller's mistake.
    pub fn from_list(error: StoreError, what: &str) -> Self {
        match error {
            StoreError::Invalid(_) => Self::invalid(
                "cursor",
                "the cursor is not one this API issued for this list",
            ),
            other => Self::from_store(other, what),
        }
    }

    /// Maps a use-case failure of the flows crate.
    pub fn from_flow(error: FlowError) -> Self {
        match error {
            FlowError::Store(e) => Self::from_store(e, "the record"),
            FlowError::Invalid(message) => {
                tracing::info!(%message, "flow refused the request");
                Self::WrongState("The integration refused the request for this tenant.".into())
            }
            FlowError::Deferred(_) => {
                Self::Unavailable("The work is busy elsewhere; try again shortly.".into())
            }
            other if other.is_retryable() => {
                tracing::warn!(error = %other, "flow failed (retryable)");
                Self::Unavailable(
                    "A connected system is temporarily unavailable; try again.".into(),
                )
            }
            other => {
                tracing::error!(error = %other, "flow failed");
                Self::Internal
            }
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        Self::from_store(error, "the record")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut body = serde_json::json!({
            "type": format!("urn:ledgerlink:problem:{}", self.slug()),
            "title": self.title(),
            "status": status.as_u16(),
            "detail": self.detail(),
        });
        // The field at fault, for a form to show the problem next to it: `errors` lists each field with
        // why (RFC 9457 extension member); `field` is kept for clients written before `errors`.
        if let Some((field, why)) = self.field_error()
            && let Some(object) = body.as_object_mut()
        {
            object.insert("field".to_owned(), serde_json::Value::from(field));
            object.insert(
                "errors".to_owned(),
                serde_json::json!([{ "field": field, "detail": why }]),
            );
        }
        let mut response = (status, body.to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if matches!(self, Self::Unauthenticated(_)) {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"ledgerlink\""),
            );
        }
        if let Self::RetryLater { retry_after, .. }
        | Self::Throttled { retry_after, .. }
        | Self::IdempotencyInProgress { retry_after, .. } = &self
        {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

fn body_status_is_size(status: StatusCode) -> bool {
    status == StatusCode::PAYLOAD_TOO_LARGE
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        let status = rejection.status();
        if body_status_is_size(status) {
            return Self::TooLarge("The request body is larger than this route accepts.".into());
        }
        let detail = match &rejection {
            JsonRejection::MissingJsonContentType(_) => {
                "The body must be JSON with `Content-Type: application/json`.".to_owned()
            }
            // serde's message names the field and the expected values (e.g. an unknown enum variant),
            // never anything internal; the member's path becomes the problem's `errors` entry.
            JsonRejection::JsonDataError(e) => {
                let (field, reason) = split_path(&inner_text(e));
                return Self::BodyField { field, reason };
            }
            JsonRejection::JsonSyntaxError(e) => {
                format!("The body is not valid JSON: {}", inner_text(e))
            }
            _ => "The body could not be read.".to_owned(),
        };
        let status = if status == StatusCode::UNSUPPORTED_MEDIA_TYPE {
            status
        } else {
            StatusCode::BAD_REQUEST
        };
        Self::Body { status, detail }
    }
}

/// Splits serde_path_to_error's `path: message` into the member's path and the message. An unknown field
/// is reported at its parent's path; the field itself is named, so a form can point at it.
fn split_path(text: &str) -> (String, String) {
    let (path, message) = match text.split_once(": ") {
        Some((path, message)) if !path.is_empty() && !path.contains(char::is_whitespace) => {
            (path.to_owned(), message.to_owned())
        }
        _ => (".".to_owned(), text.to_owned()),
    };
    if let Some(rest) = message.strip_prefix("unknown field `")
        && let Some((name, _)) = rest.split_once('`')
    {
        let field = if path == "." {
            name.to_owned()
        } else if path == name || path.ends_with(&format!(".{name}")) {
            path
        } else {
            format!("{path}.{name}")
        };
        return (field, message);
    }
    (path, message)
}

/// The innermost error text of a rejection (serde's message), without axum's wrapper text.
fn inner_text(error: &dyn std::error::Error) -> String {
    let mut current: &dyn std::error::Error = error;
    while let Some(next) = current.source() {
        current = next;
    }
    let text = current.to_string();
    text.chars().take(300).collect()
}

impl From<BytesRejection> for ApiError {
    fn from(rejection: BytesRejection) -> Self {
        if body_status_is_size(rejection.status()) {
            Self::TooLarge("The request body is larger than this route accepts.".into())
        } else {
            Self::Body {
                status: StatusCode::BAD_REQUEST,
                detail: "The body could not be read.".into(),
            }
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        Self::invalid("query", inner_text(&rejection))
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        Self::invalid("path", inner_text(&rejection))
    }
}

/// `Json<T>` whose rejections are problems.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let axum::Json(value) = axum::Json::<T>::from_request(req, state).await?;
        Ok(Self(value))
    }
}

/// `Query<T>` whose rejections are problems.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Query(value) =
            axum::extract::Query::<T>::from_request_parts(parts, state).await?;
        Ok(Self(value))
    }
}

/// `Path<T>` whose rejections are problems.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiPath<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(value) =
            axum::extract::Path::<T>::from_request_parts(parts, state).await?;
        Ok(Self(value))
    }
}

/// The raw body as bytes, with size rejections as 413 problems.
#[derive(Debug, Clone, Default)]
pub struct RawBody(pub bytes::Bytes);

impl<S> FromRequest<S> for RawBody
where
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = bytes::Bytes::from_request(req, state).await?;
        Ok(Self(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_permanent_store_failure_hides_its_cause() {
        let error = ApiError::from_store(
            StoreError::permanent(
                "SELECT * FROM statuses failed",
                std::io::Error::other("disk"),
            ),
            "the object",
        );
        assert_eq!(error.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!error.detail().contains("SELECT"));
    }

    #[test]
    fn a_json_path_and_an_unknown_field_become_the_field_at_fault() {
        assert_eq!(
            split_path("objects[0].type: unknown variant `x`, expected `firm`"),
            (
                "objects[0].type".to_owned(),
                "unknown variant `x`, expected `firm`".to_owned()
            )
        );
        assert_eq!(
            split_path("unknown field `extra`, expected `objects` at line 1 column 9").0,
            "extra"
        );
        assert_eq!(
            split_path("invalid type: string \"a\", expected u32").0,
            "."
        );
    }

    #[test]
    fn a_bad_cursor_is_the_callers_mistake() {
        let error = ApiError::from_list(StoreError::Invalid("cursor x".into()), "statuses");
        assert_eq!(error.status(), StatusCode::BAD_REQUEST);
        assert!(error.detail().starts_with("cursor:"));
    }
}
