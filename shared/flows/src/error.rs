//! The error of every use case: a caller (a Lambda handler, the local runner) only needs to know whether
//! the same work may succeed if tried again later, and why it failed.

use ledgerlink_ports::StoreError;
use ledgerlink_ports::ledger::LedgerError;
use ledgerlink_ports::psa::PsaError;

pub type FlowResult<T> = Result<T, FlowError>;

/// Why a use case failed. Object-level business failures (a refused invoice, a mapping error) are NOT
/// errors of the use case: they are recorded on the object's status and the message counts as handled.
#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    /// The state store failed; retryable when the store says so.
    #[error("state store: {0}")]
    Store(#[from] StoreError),
    /// The ledger failed in a way the flow could not record on an object (e.g. during discovery).
    #[error("ledger: {0}")]
    Ledger(#[from] LedgerError),
    /// The PSA failed in a way the flow could not record on an object (e.g. during discovery).
    #[error("PSA: {0}")]
    Psa(#[from] PsaError),
    /// A connection could not be built (a secret that cannot be read, a bad URL).
    #[error("connection of tenant {tenant}: {message}")]
    Connection {
        tenant: String,
        message: String,
        retryable: bool,
    },
    /// The message or event names something that does not exist or makes no sense for this flow.
    #[error("invalid work: {0}")]
    Invalid(String),
    /// The work must wait (another worker holds the object, a rate limit, a paused connection that may be
    /// resumed); the message goes back to the queue.
    #[error("work deferred: {0}")]
    Deferred(String),
}

impl FlowError {
    /// Whether trying the same work later may succeed (the Lambda's `error_type` "Retryable").
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Store(e) => e.is_retryable() || matches!(e, StoreError::Conflict { .. }),
            Self::Ledger(e) => e.is_retryable() || matches!(e, LedgerError::OutcomeUnknown { .. }),
            Self::Psa(e) => e.is_retryable() || matches!(e, PsaError::OutcomeUnknown { .. }),
            Self::Connection { retryable, .. } => *retryable,
            Self::Invalid(_) => false,
            Self::Deferred(_) => true,
        }
    }

    /// `"Retryable"` or `"Permanent"`, the Lambda diagnostic's `error_type`.
    pub fn error_type(&self) -> &'static str {
        if self.is_retryable() {
            "Retryable"
        } else {
            "Permanent"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deferred_work_and_transient_failures_are_retryable_and_invalid_work_is_not() {
        assert_eq!(
            FlowError::Deferred("lease".into()).error_type(),
            "Retryable"
        );
        assert_eq!(
            FlowError::Invalid("no key".into()).error_type(),
            "Permanent"
        );
        let transient = FlowError::Psa(PsaError::Transient {
            message: "503".into(),
            retry_after: None,
            source: None,
        });
        assert!(transient.is_retryable());
        let refused = FlowError::Psa(PsaError::Validation {
            message: "bad".into(),
        });
        assert!(!refused.is_retryable());
    }
}
