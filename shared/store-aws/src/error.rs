//! Turning AWS SDK errors into [`StoreError`]s a caller can act on (retry or not), keeping the source.

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use ledgerlink_ports::StoreError;

/// Error codes that mean "the same call may succeed later".
const RETRYABLE_CODES: &[&str] = &[
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "Throttling",
    "RequestLimitExceeded",
    "RequestThrottled",
    "SlowDown",
    "InternalServerError",
    "InternalError",
    "ServiceUnavailable",
    "TransactionInProgressException",
    "TransactionConflict",
    "TransactionConflictException",
    "RequestTimeout",
    "KMSThrottlingException",
];

/// Maps any SDK error: transport failures, timeouts, throttling and 5xx are transient; everything else
/// (missing table, access denied, validation) is permanent.
pub(crate) fn from_sdk<E, R>(operation: &str, err: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let message = match err.code() {
        Some(code) => format!("{operation}: {code}: {}", err.message().unwrap_or("")),
        None => format!("{operation}: {err}"),
    };
    let retryable = match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(_) => err
            .code()
            .is_some_and(|code| RETRYABLE_CODES.contains(&code)),
        _ => false,
    };
    if retryable {
        StoreError::transient(message, err)
    } else {
        StoreError::permanent(message, err)
    }
}

/// A stored record that cannot be decoded: somebody wrote something this version does not understand.
pub(crate) fn corrupt(what: &str, detail: impl std::fmt::Display) -> StoreError {
    StoreError::Permanent {
        message: format!("stored {what} cannot be decoded: {detail}"),
        source: None,
    }
}
