//! The HTTP core: one exchange with Vantagepoint, its classification into [`VpError`], and the retry loop
//! (exponential backoff with full jitter, only for retryable errors, sleeping on the injected clock).

use std::future::Future;
use std::time::Duration;

use ledgerlink_clock::SharedClock;
use rand::Rng;
use reqwest::StatusCode;
use serde_json::Value;

use crate::config::RetryPolicy;
use crate::error::{VpError, is_business_rule_message};

/// The two service roots of one instance: the documented REST API and the `/vision` service beside it
/// (where several accounting-configuration endpoints live; `/api/...` gives 404 for those).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Root {
    Api,
    Vision,
}

/// An answer as it came off the wire.
#[derive(Debug)]
pub(crate) struct RawResponse {
    pub status: StatusCode,
    pub body: String,
    pub retry_after: Option<Duration>,
}

/// Sends one request (built fresh per attempt) and maps transport failures. `idempotent` decides what a lost
/// answer means: a retryable failure for reads and idempotent writes, [`VpError::OutcomeUnknown`] otherwise.
pub(crate) async fn exchange(
    request: reqwest::RequestBuilder,
    operation: &str,
    idempotent: bool,
) -> Result<RawResponse, VpError> {
    let response = match request.send().await {
        Ok(r) => r,
        Err(e) => return Err(transport_error(e, operation, idempotent)),
    };
    if !idempotent {
        ledgerlink_ports::crash::point(ledgerlink_ports::crash::CrashPoint::AfterRequestSent);
    }
    let status = response.status();
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let body = match response.text().await {
        Ok(b) => b,
        // Headers arrived but the body was cut: the server did process the request.
        Err(e) => return Err(transport_error(e, operation, idempotent)),
    };
    Ok(RawResponse {
        status,
        body,
        retry_after,
    })
}

fn transport_error(e: reqwest::Error, operation: &str, idempotent: bool) -> VpError {
    let message = describe(&e);
    // A connect failure means nothing was sent, so even a POST can be retried safely.
    if e.is_connect() || idempotent {
        return VpError::Transient {
            operation: operation.to_owned(),
            message,
            retry_after: None,
            source: Some(Box::new(e.without_url())),
        };
    }
    VpError::OutcomeUnknown {
        operation: operation.to_owned(),
        message,
        source: Some(Box::new(e.without_url())),
    }
}

fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else if e.is_body() || e.is_decode() {
        "answer body was cut off"
    } else {
        "connection lost before an answer"
    };
    kind.to_owned()
}

/// The message VP put in an error body: `{"Message"|"message": ...}` (+ `detail`/`ExceptionMessage`),
/// OAuth `{"error","error_description"}`, a JSON string, or plain text / HTML from a proxy (truncated).
pub(crate) fn error_message(body: &str) -> String {
    let trimmed = body.trim();
    if trimmed.is_empty() {
        return "(empty body)".to_owned();
    }
    if let Ok(value) = serde_json::from_str::<Value>(trimmed) {
        let value = crate::decode::unwrap_json_string(value);
        let first = match &value {
            Value::Array(items) => items.first().cloned().unwrap_or(Value::Null),
            other => other.clone(),
        };
        match &first {
            Value::Object(map) => {
                // Keys in order of preference (OAuth's `error` is a code; its description is the message).
                let pick = |keys: &[&str]| {
                    keys.iter().find_map(|want| {
                        map.iter()
                            .find(|(k, _)| k.eq_ignore_ascii_case(want))
                            .and_then(|(_, v)| {
                                v.as_str().map(str::to_owned).filter(|s| !s.is_empty())
                            })
                    })
                };
                let main = pick(&[
                    "message",
                    "error_description",
                    "ExceptionMessage",
                    "Error",
                    "msg",
                ]);
                let detail = pick(&["detail", "details", "MessageDetail"]);
                match (main, detail) {
                    (Some(m), Some(d)) if d != m => return format!("{m} ({d})"),
                    (Some(m), _) => return m,
                    (None, Some(d)) => return d,
                    (None, None) => {}
                }
            }
            Value::String(s) => return s.clone(),
            _ => {}
        }
    }
    let mut text: String = trimmed.chars().take(300).collect();
    if trimmed.chars().count() > 300 {
        text.push('…');
    }
    text
}

/// Maps a non-success status to the error a caller can act on.
pub(crate) fn classify(raw: &RawResponse, operation: &str, idempotent: bool) -> VpError {
    let message = error_message(&raw.body);
    let op = operation.to_owned();
    match raw.status.as_u16() {
        400 | 409 | 422 => {
            if is_business_rule_message(&message) {
                VpError::BusinessRule {
                    operation: op,
                    message,
                }
            } else {
                VpError::Validation {
                    operation: op,
                    message,
                }
            }
        }
        401 => VpError::Unauthorized { message },
        403 => VpError::Forbidden {
            operation: op,
            message,
        },
        404 => VpError::NotFound { what: op },
        // A 500 to a write may come after the write committed; the caller must check before repeating it.
        500 if !idempotent => {
            if is_business_rule_message(&message) {
                VpError::BusinessRule {
                    operation: op,
                    message,
                }
            } else {
                VpError::OutcomeUnknown {
                    operation: op,
                    message: format!("HTTP 500: {message}"),
                    source: None,
                }
            }
        }
        // A timeout or gateway error on a write may come after VP committed it: never resent blindly.
        408 | 500..=599 if !idempotent => VpError::OutcomeUnknown {
            operation: op,
            message: format!("HTTP {}: {message}", raw.status.as_u16()),
            source: None,
        },
        // 429 (and 425) are answered before VP processes anything: the one retry without a look-up.
        408 | 425 | 429 | 500..=599 => VpError::Transient {
            operation: op,
            message: format!("HTTP {}: {message}", raw.status.as_u16()),
            retry_after: raw.retry_after,
            source: None,
        },
        other => VpError::Validation {
            operation: op,
            message: format!("unexpected HTTP {other}: {message}"),
        },
    }
}

/// Runs `attempt` until it succeeds, fails permanently, or the policy's attempts are used up.
pub(crate) async fn with_retries<T, F, Fut>(
    policy: RetryPolicy,
    clock: &SharedClock,
    operation: &str,
    mut attempt: F,
) -> Result<T, VpError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, VpError>>,
{
    let mut tried = 0u32;
    loop {
        tried += 1;
        match attempt().await {
            Ok(v) => return Ok(v),
            Err(e) if e.is_retryable() && tried < policy.max_attempts.max(1) => {
                let wait = backoff(policy, tried, retry_after_of(&e));
                tracing::debug!(operation, attempt = tried, wait_ms = wait.as_millis() as u64, error = %e, "retrying Vantagepoint call");
                clock.sleep(wait).await;
            }
            Err(e) => return Err(e),
        }
    }
}

fn retry_after_of(e: &VpError) -> Option<Duration> {
    match e {
        VpError::Transient { retry_after, .. } => *retry_after,
        _ => None,
    }
}

/// Full jitter: uniform in `[0, min(max, base * 2^(n-1))]`; a server's `Retry-After` wins (capped).
pub(crate) fn backoff(
    policy: RetryPolicy,
    retry_number: u32,
    retry_after: Option<Duration>,
) -> Duration {
    if let Some(after) = retry_after {
        return after.min(policy.max_delay);
    }
    let exp = policy
        .base_delay
        .saturating_mul(1u32 << (retry_number.saturating_sub(1)).min(16));
    let ceiling = exp.min(policy.max_delay);
    let ceiling_ms = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
    if ceiling_ms == 0 {
        return Duration::ZERO;
    }
    Duration::from_millis(rand::rng().random_range(0..=ceiling_ms))
}

/// Percent-encodes one path segment (everything but RFC 3986 unreserved characters), so composite keys
/// such as `Batch|RefNo` go out as `Batch%7CRefNo`.
pub(crate) fn encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn raw(status: u16, body: &str) -> RawResponse {
        RawResponse {
            status: StatusCode::from_u16(status).unwrap(),
            body: body.to_owned(),
            retry_after: None,
        }
    }

    #[test]
    fn error_bodies_in_every_known_shape_yield_vp_s_message() {
        assert_eq!(
            error_message(r#"{"Message":"Cannot insert NULL into Company"}"#),
            "Cannot insert NULL into Company"
        );
        assert_eq!(
            error_message(r#"{"message":"Bad","detail":"Field X"}"#),
            "Bad (Field X)"
        );
        assert_eq!(
            error_message(
                r#"{"error":"invalid_grant","error_description":"The user name or password is incorrect."}"#
            ),
            "The user name or password is incorrect."
        );
        assert_eq!(
            error_message(r#""Please provide a Relationship for table Firm""#),
            "Please provide a Relationship for table Firm"
        );
        assert_eq!(
            error_message("<html>Bad gateway</html>"),
            "<html>Bad gateway</html>"
        );
        assert_eq!(error_message(""), "(empty body)");
    }

    #[test]
    fn statuses_are_classified_into_actionable_errors() {
        assert!(matches!(
            classify(&raw(400, r#"{"Message":"Invalid WBS1"}"#), "op", true),
            VpError::Validation { .. }
        ));
        assert!(matches!(
            classify(
                &raw(400, r#"{"Message":"Batch is out of balance"}"#),
                "op",
                false
            ),
            VpError::BusinessRule { .. }
        ));
        assert!(matches!(
            classify(&raw(401, ""), "op", true),
            VpError::Unauthorized { .. }
        ));
        assert!(matches!(
            classify(&raw(403, ""), "op", true),
            VpError::Forbidden { .. }
        ));
        assert!(matches!(
            classify(&raw(404, ""), "op", true),
            VpError::NotFound { .. }
        ));
        assert!(classify(&raw(503, ""), "op", true).is_retryable());
        for status in [408, 500, 502, 503, 504] {
            assert!(
                matches!(
                    classify(&raw(status, ""), "op", false),
                    VpError::OutcomeUnknown { .. }
                ),
                "a {status} on a write may come after the commit"
            );
        }
        assert!(classify(&raw(429, ""), "op", false).is_retryable());
        assert!(classify(&raw(500, ""), "op", true).is_retryable());
        assert!(matches!(
            classify(&raw(500, ""), "op", false),
            VpError::OutcomeUnknown { .. }
        ));
    }

    #[test]
    fn backoff_stays_within_the_exponential_ceiling_and_honours_retry_after() {
        let policy = RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
        };
        for n in 1..=6 {
            let ceiling = Duration::from_millis(100 * (1 << (n - 1))).min(Duration::from_secs(1));
            for _ in 0..50 {
                assert!(backoff(policy, n, None) <= ceiling);
            }
        }
        assert_eq!(
            backoff(policy, 1, Some(Duration::from_millis(700))),
            Duration::from_millis(700)
        );
        assert_eq!(
            backoff(policy, 1, Some(Duration::from_secs(60))),
            Duration::from_secs(1)
        );
    }

    #[test]
    fn composite_keys_are_percent_encoded_in_paths() {
        assert_eq!(encode_segment("CR-1|REF 7"), "CR-1%7CREF%207");
        assert_eq!(encode_segment("000123.00"), "000123.00");
    }

    #[tokio::test]
    async fn retries_stop_at_the_first_permanent_error() {
        let clock = ledgerlink_clock::ManualClock::fixed().shared();
        let mut calls = 0;
        let result: Result<(), VpError> =
            with_retries(RetryPolicy::default(), &clock, "op", || {
                calls += 1;
                async {
                    Err(VpError::Validation {
                        operation: "op".into(),
                        message: "bad".into(),
                    })
                }
            })
            .await;
        assert!(result.is_err());
        assert_eq!(calls, 1);
    }

    #[tokio::test]
    async fn transient_errors_are_retried_up_to_the_policy_limit() {
        let clock = ledgerlink_clock::ManualClock::fixed().shared();
        let mut calls = 0;
        let result: Result<(), VpError> =
            with_retries(RetryPolicy::default(), &clock, "op", || {
                calls += 1;
                async {
                    Err(VpError::Transient {
                        operation: "op".into(),
                        message: "503".into(),
                        retry_after: None,
                        source: None,
                    })
                }
            })
            .await;
        assert!(result.unwrap_err().is_retryable());
        assert_eq!(calls, RetryPolicy::default().max_attempts);
    }
}
