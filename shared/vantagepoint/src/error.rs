//! The client's error type. Each variant is something a caller can act on: fix the data (Validation,
//! BusinessRule), reconnect (Unauthorized), ask for rights (Forbidden), retry later (Transient), or check
//! before retrying a write (OutcomeUnknown).

use std::time::Duration;

use ledgerlink_ports::{BoxError, StoreError};

pub type VpResult<T> = Result<T, VpError>;

#[derive(Debug, thiserror::Error)]
pub enum VpError {
    /// Vantagepoint refused the request's content (HTTP 400/422); `message` is VP's own text.
    #[error("Vantagepoint rejected {operation}: {message}")]
    Validation { operation: String, message: String },
    /// The record or path does not exist (HTTP 404, or an empty answer to a single-record read).
    #[error("{what} not found in Vantagepoint")]
    NotFound { what: String },
    /// Credentials or token refused even after a renewal: the connection needs new credentials.
    #[error("Vantagepoint refused the credentials: {message}")]
    Unauthorized { message: String },
    /// The API user lacks the rights for this call (HTTP 403).
    #[error("the Vantagepoint API user may not {operation}: {message}")]
    Forbidden { operation: String, message: String },
    /// Timeouts, 5xx, 429, a reset before anything was sent: the same call may succeed later.
    #[error("temporary Vantagepoint failure during {operation}: {message}")]
    Transient {
        operation: String,
        message: String,
        retry_after: Option<Duration>,
        #[source]
        source: Option<BoxError>,
    },
    /// A write was sent but its answer was lost (connection dropped, timeout): it may or may not have been
    /// applied. Look the record up by its natural key (e.g. the batch id) before writing again.
    #[error("outcome of {operation} is unknown (the answer was lost): {message}")]
    OutcomeUnknown {
        operation: String,
        message: String,
        #[source]
        source: Option<BoxError>,
    },
    /// The answer was not in any shape this client understands.
    #[error("could not decode Vantagepoint's answer to {context}: {message}")]
    Decode {
        context: String,
        message: String,
        #[source]
        source: Option<BoxError>,
    },
    /// Vantagepoint accepted the request but a business rule failed: out-of-balance batch, duplicate batch,
    /// closed period, posting that reported failure.
    #[error("Vantagepoint business rule failed for {operation}: {message}")]
    BusinessRule { operation: String, message: String },
    /// The configuration cannot work (bad base URL, ...).
    #[error("invalid Vantagepoint configuration: {message}")]
    Config { message: String },
    /// The token store failed.
    #[error("token store failure")]
    Store(#[from] StoreError),
}

impl VpError {
    /// Whether the same call may succeed if simply repeated later.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Transient { .. } => true,
            Self::Store(e) => e.is_retryable(),
            _ => false,
        }
    }

    pub(crate) fn decode(context: impl Into<String>, source: serde_json::Error) -> Self {
        Self::Decode {
            context: context.into(),
            message: source.to_string(),
            source: Some(Box::new(source)),
        }
    }

    pub(crate) fn decode_msg(context: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Decode {
            context: context.into(),
            message: message.into(),
            source: None,
        }
    }
}

/// Picks a business-rule failure out of a VP error message (VP answers them with a plain 400 + message).
pub(crate) fn is_business_rule_message(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    [
        "out of balance",
        "not in balance",
        "does not balance",
        "unbalanced",
        "duplicate",
        "already exists",
        "already been posted",
        "already posted",
        "closed period",
        "period is closed",
        "is closed",
    ]
    .iter()
    .any(|needle| m.contains(needle))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_transient_errors_are_retryable() {
        let transient = VpError::Transient {
            operation: "GET".into(),
            message: "503".into(),
            retry_after: None,
            source: None,
        };
        let unknown = VpError::OutcomeUnknown {
            operation: "POST".into(),
            message: "lost".into(),
            source: None,
        };
        let rule = VpError::BusinessRule {
            operation: "post".into(),
            message: "out of balance".into(),
        };
        assert!(transient.is_retryable());
        assert!(!unknown.is_retryable());
        assert!(!rule.is_retryable());
    }

    #[test]
    fn out_of_balance_and_duplicate_messages_are_business_rules() {
        assert!(is_business_rule_message(
            "Batch is out of balance: Total 120.00 <> 100.00"
        ));
        assert!(is_business_rule_message("Duplicate batch CR-1"));
        assert!(!is_business_rule_message("Cannot insert NULL into Company"));
    }
}
