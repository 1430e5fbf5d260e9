//! The one error type of the job use cases: callers act on the variant (retry, show to the user, give up).

use ledgerlink_ports::ledger::LedgerError;
use ledgerlink_ports::psa::PsaError;
use ledgerlink_ports::{BoxError, JobStatus, StoreError};

pub type JobResult<T> = Result<T, JobError>;

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Psa(#[from] PsaError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// A tenant's connection could not be built (a secret that cannot be read, a bad URL, a paused
    /// connection).
    #[error("{message}")]
    Connection { message: String, retryable: bool },
    /// A request named something that does not exist.
    #[error("{what} not found")]
    NotFound { what: String },
    /// A definition, integration or request is not acceptable; `field` says which part.
    #[error("invalid {field}: {reason}")]
    Invalid { field: String, reason: String },
    /// The job is not in a state that allows the action (e.g. resetting a started job).
    #[error("job {id} is {status:?}: cannot {action}")]
    WrongState {
        id: String,
        status: JobStatus,
        action: &'static str,
    },
    /// Another worker holds the job's live lease (a duplicate delivery): try again after it expires.
    #[error("job {id} is being run by another worker")]
    Busy { id: String },
    /// The source or configuration the job needs is not available in this process.
    #[error("{what} is not configured")]
    NotConfigured { what: &'static str },
    /// Writing or reading a file failed (CSV/XLSX encoding, a temporary file).
    #[error("file failure: {message}")]
    File {
        message: String,
        #[source]
        source: Option<BoxError>,
    },
}

impl From<ledgerlink_flows::FlowError> for JobError {
    fn from(e: ledgerlink_flows::FlowError) -> Self {
        use ledgerlink_flows::FlowError;
        let retryable = e.is_retryable();
        match e {
            FlowError::Store(e) => Self::Store(e),
            FlowError::Ledger(e) => Self::Ledger(e),
            FlowError::Psa(e) => Self::Psa(e),
            other => Self::Connection {
                message: other.to_string(),
                retryable,
            },
        }
    }
}

impl JobError {
    pub fn file(message: impl Into<String>, source: impl Into<BoxError>) -> Self {
        Self::File {
            message: message.into(),
            source: Some(source.into()),
        }
    }

    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        Self::NotFound { what: what.into() }
    }

    /// Whether the same call may succeed later unchanged (a queue consumer retries these).
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Store(e) => e.is_retryable(),
            Self::Psa(e) => e.is_retryable(),
            Self::Ledger(e) => e.is_retryable(),
            Self::Busy { .. } => true,
            Self::Connection { retryable, .. } => *retryable,
            _ => false,
        }
    }
}
