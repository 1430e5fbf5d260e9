//! The one error type of the state, storage and queue ports: callers act on the variant.

pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;
pub type StoreResult<T> = Result<T, StoreError>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A conditional write lost: the record changed (or exists / does not exist) since it was read.
    /// Re-read and decide again; never retry the same write blindly.
    #[error("conflict on {what}: {detail}")]
    Conflict { what: String, detail: String },
    /// The record or object does not exist.
    #[error("{what} not found")]
    NotFound { what: String },
    /// Bad input to the port (e.g. a presigned URL asked for longer than allowed, a page cursor that is not ours).
    #[error("invalid request: {0}")]
    Invalid(String),
    /// Throttling, timeouts, 5xx, a busy database: the same call may succeed later.
    #[error("temporary storage failure: {message}")]
    Transient {
        message: String,
        #[source]
        source: Option<BoxError>,
    },
    /// Anything else: misconfiguration, missing permissions, a record that cannot be decoded.
    #[error("storage failure: {message}")]
    Permanent {
        message: String,
        #[source]
        source: Option<BoxError>,
    },
}

impl StoreError {
    pub fn conflict(what: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::Conflict {
            what: what.into(),
            detail: detail.into(),
        }
    }
    pub fn not_found(what: impl Into<String>) -> Self {
        Self::NotFound { what: what.into() }
    }
    pub fn transient(message: impl Into<String>, source: impl Into<BoxError>) -> Self {
        Self::Transient {
            message: message.into(),
            source: Some(source.into()),
        }
    }
    pub fn permanent(message: impl Into<String>, source: impl Into<BoxError>) -> Self {
        Self::Permanent {
            message: message.into(),
            source: Some(source.into()),
        }
    }
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Transient { .. })
    }
}
