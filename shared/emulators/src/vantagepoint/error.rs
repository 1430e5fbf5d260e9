//! Errors of the emulator, shared by its HTTP surface and its admin (seed/post) methods.
//!
//! REST errors are answered as `{"Message": "..."}` (what ASP.NET Web API, VP's host, writes); the token
//! endpoint answers OAuth-style bodies instead (see `auth.rs`).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Why a request or an admin call was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VpError {
    /// Malformed or missing input; `field` names the column when one is to blame.
    #[error("{message}")]
    Validation {
        field: Option<String>,
        message: String,
    },
    /// The record or path does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The record already exists (duplicate batch, firm, account, ...).
    #[error("{0}")]
    Conflict(String),
    /// The accounting period is closed (or unknown) for posting.
    #[error("Period {period} is closed or does not exist; transactions cannot be posted to it.")]
    PeriodClosed { period: i32 },
    /// The user's role has no rights for this change.
    #[error("{0}")]
    Forbidden(String),
    /// Missing, unknown or expired bearer token.
    #[error("Authorization has been denied for this request.")]
    Unauthorized,
    /// What VP answers with a 500 (e.g. `limit` on PSALedger).
    #[error("{0}")]
    Internal(String),
}

impl VpError {
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::Validation {
            field: None,
            message: message.into(),
        }
    }
    pub(crate) fn field(field: &str, message: impl Into<String>) -> Self {
        Self::Validation {
            field: Some(field.to_owned()),
            message: message.into(),
        }
    }
    pub(crate) fn records_not_found() -> Self {
        Self::NotFound("The requested records could not be found.".to_owned())
    }
    /// The HTTP status VP answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Validation { .. } | Self::Conflict(_) | Self::PeriodClosed { .. } => {
                StatusCode::BAD_REQUEST
            }
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for VpError {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut response = (
            status,
            axum::Json(serde_json::json!({ "Message": self.to_string() })),
        )
            .into_response();
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}
