//! The one error type of the Exact Online client, classified so callers can act on it.
//!
//! The classification follows what Exact actually does (see `exact-online-api.md` §4): business validation
//! comes back as HTTP 500 (sometimes 400) with an OData error envelope whose `\r\n`-joined messages we split;
//! 400/401/403/404 count toward Exact's "10 errors per endpoint per hour" block, so they are never retried;
//! a POST whose response was lost is [`ExactError::OutcomeUnknown`], never blindly retried.

use chrono::{DateTime, Utc};

pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;
pub type ExactResult<T> = Result<T, ExactError>;

/// Why an Exact Online call failed, in terms a caller can act on.
#[derive(Debug, thiserror::Error)]
pub enum ExactError {
    /// Exact refused the data (HTTP 500/400 with an error envelope). Permanent: fix the data, do not retry.
    #[error("validation failed: {}", messages.join("; "))]
    Validation { messages: Vec<String> },
    /// The entity, key or URL does not exist (HTTP 404).
    #[error("not found: {what}")]
    NotFound { what: String },
    /// The access token was refused and could not be renewed right now (HTTP 401 before the 570-second
    /// refresh window, or twice in a row). Retrying immediately only burns Exact's error budget.
    #[error("unauthorized: {reason}")]
    Unauthorized { reason: String },
    /// The refresh token is dead (rotated by someone else, expired, revoked): a user must consent again.
    /// The caller pauses the connection.
    #[error("reconnect needed for {connection}: {reason}")]
    ReconnectNeeded { connection: String, reason: String },
    /// Exact holds something that contradicts the operation: two documents carry our one reference.
    /// Needs a human; never resolved by retrying.
    #[error("conflict on {what}: {detail}")]
    Conflict { what: String, detail: String },
    /// No rights, licence, or division scope (HTTP 403); `reason` carries Exact's `Reason` header when sent.
    #[error("forbidden: {reason}")]
    Forbidden { reason: String },
    /// The rate budget is spent until `until`. `daily` budgets are never waited for inside the client.
    #[error("rate limited until {until} (daily: {daily})")]
    RateLimited { until: DateTime<Utc>, daily: bool },
    /// 5xx without a validation envelope, a connection reset or timeout on an idempotent request, a token
    /// endpoint hiccup: the same call may succeed later.
    #[error("transient failure: {message}")]
    Transient {
        message: String,
        #[source]
        source: Option<BoxError>,
    },
    /// A non-idempotent request (POST) was sent but its response was lost: it may or may not have been
    /// committed. Look the document up by our reference before writing again.
    #[error("outcome unknown: {message}")]
    OutcomeUnknown {
        message: String,
        #[source]
        source: Option<BoxError>,
    },
    /// Exact answered something we could not decode (or an unexpected status, e.g. 405).
    #[error("could not decode the response: {message}")]
    Decode {
        message: String,
        #[source]
        source: Option<BoxError>,
    },
    /// The client is misconfigured (bad base URL, missing tokens for a first call, a store failure that is
    /// not transient).
    #[error("configuration or state error: {message}")]
    Config {
        message: String,
        #[source]
        source: Option<BoxError>,
    },
}

impl ExactError {
    /// Whether the same call may succeed if made again later (after a wait). Outcome-unknown is not: it
    /// needs a lookup first.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Transient { .. } | Self::RateLimited { .. })
    }

    pub(crate) fn transient(message: impl Into<String>, source: Option<BoxError>) -> Self {
        Self::Transient {
            message: message.into(),
            source,
        }
    }

    pub(crate) fn decode(message: impl Into<String>, source: Option<BoxError>) -> Self {
        Self::Decode {
            message: message.into(),
            source,
        }
    }

    pub(crate) fn config(message: impl Into<String>, source: Option<BoxError>) -> Self {
        Self::Config {
            message: message.into(),
            source,
        }
    }

    /// Maps a state-store failure: transient store problems stay transient, the rest is configuration.
    pub(crate) fn store(what: &str, err: ledgerlink_ports::StoreError) -> Self {
        if err.is_retryable() {
            Self::transient(format!("{what}: state store"), Some(Box::new(err)))
        } else {
            Self::config(format!("{what}: state store"), Some(Box::new(err)))
        }
    }
}
