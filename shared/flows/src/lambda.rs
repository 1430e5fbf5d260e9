//! The Lambda edge of the flows (feature `lambda`): decodes what AWS sends into a typed command, runs the
//! use case, and answers in AWS's shapes. The use cases themselves know nothing about Lambda; this module
//! is what keeps each `functions/<flow>/src/main.rs` a few lines of wiring.
//!
//! - An EventBridge scheduled event (`detail-type` "Scheduled Event") discovers work for every active
//!   tenant, or for the tenant named in `detail.tenant` (an operator action or a webhook relay).
//! - An SQS batch processes each record and answers `SqsBatchResponse` with exactly the failed message ids
//!   (the event source mapping must enable `ReportBatchItemFailures`). A record whose body cannot be read is
//!   logged and dropped: retrying it can never succeed.
//! - Errors become a Lambda diagnostic whose `error_type` is `Retryable` or `Permanent`.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use lambda_runtime::Diagnostic;
use ledgerlink_domain::{Flow, TenantId};
use serde::Deserialize;
use serde_json::Value;

use crate::context::FlowContext;
use crate::error::FlowError;
use crate::metrics::Metric;
use crate::runner::{BatchItem, discover, discover_all, process_batch};

/// What an invocation asks for.
#[derive(Debug, Clone)]
pub enum Command {
    /// A schedule: discover for every active tenant.
    DiscoverAll,
    /// Discover for one tenant.
    Discover(TenantId),
    /// An SQS batch: the readable records, and the ids of records that could not be read.
    Batch {
        items: Vec<BatchItem>,
        unreadable: Vec<String>,
    },
}

/// The `detail` of a scheduled event: empty for "every tenant", or `{"tenant": "acme"}`.
#[derive(Debug, Default, Deserialize)]
struct ScheduleDetail {
    #[serde(default)]
    tenant: Option<String>,
}

/// A handler failure, reported to Lambda with a meaningful `error_type`.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HandlerError(#[from] pub FlowError);

impl From<HandlerError> for Diagnostic {
    fn from(e: HandlerError) -> Self {
        Diagnostic {
            error_type: e.0.error_type().to_owned(),
            error_message: e.0.to_string(),
        }
    }
}

/// Decodes an invocation's payload.
pub fn decode(payload: Value) -> Result<Command, FlowError> {
    if payload.get("Records").is_some() {
        let event: SqsEvent = serde_json::from_value(payload)
            .map_err(|e| FlowError::Invalid(format!("not an SQS event: {e}")))?;
        let mut items = Vec::new();
        let mut unreadable = Vec::new();
        for record in event.records {
            let id = record.message_id.clone().unwrap_or_default();
            match record.body.as_deref().map(serde_json::from_str) {
                Some(Ok(message)) => items.push(BatchItem { id, message }),
                Some(Err(e)) => {
                    tracing::error!(message_id = %id, error = %e, "unreadable work message dropped");
                    unreadable.push(id);
                }
                None => unreadable.push(id),
            }
        }
        return Ok(Command::Batch { items, unreadable });
    }
    if payload.get("detail-type").is_some() {
        let event: EventBridgeEvent<Value> = serde_json::from_value(payload)
            .map_err(|e| FlowError::Invalid(format!("not an EventBridge event: {e}")))?;
        let detail: ScheduleDetail = serde_json::from_value(event.detail).unwrap_or_default();
        return match detail.tenant {
            Some(t) => TenantId::parse(&t)
                .map(Command::Discover)
                .map_err(|e| FlowError::Invalid(e.to_string())),
            None => Ok(Command::DiscoverAll),
        };
    }
    Err(FlowError::Invalid(
        "the event is neither an SQS batch nor an EventBridge event".into(),
    ))
}

/// Runs one invocation of `flow`'s function, then prints what it counted as CloudWatch embedded-metric-format
/// lines ([`crate::metrics`]; namespace `METRICS_NAMESPACE`).
pub async fn handle(ctx: &FlowContext, flow: Flow, payload: Value) -> Result<Value, HandlerError> {
    let (result, lines) = handle_measured(ctx, flow, payload).await;
    for line in lines {
        println!("{line}");
    }
    result
}

/// [`handle`], returning the EMF lines instead of printing them.
pub async fn handle_measured(
    ctx: &FlowContext,
    flow: Flow,
    payload: Value,
) -> (Result<Value, HandlerError>, Vec<String>) {
    let (result, counted) = crate::metrics::measure(handle_counted(ctx, flow, payload)).await;
    let namespace = crate::metrics::namespace_from_env();
    (
        result,
        counted.emf_lines(&namespace, ctx.now().timestamp_millis()),
    )
}

async fn handle_counted(
    ctx: &FlowContext,
    flow: Flow,
    payload: Value,
) -> Result<Value, HandlerError> {
    use crate::metrics::add;
    match decode(payload)? {
        Command::Batch { items, unreadable } => {
            if !unreadable.is_empty() {
                tracing::warn!(
                    count = unreadable.len(),
                    "records without a readable body were dropped"
                );
            }
            add(flow, None, Metric::MessagesDropped, unreadable.len() as u64);
            let failed = process_batch(ctx, flow, &items).await;
            let mut response = SqsBatchResponse::default();
            for id in failed {
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = id;
                response.batch_item_failures.push(failure);
            }
            serde_json::to_value(response)
                .map_err(|e| HandlerError(FlowError::Invalid(e.to_string())))
        }
        Command::Discover(tenant) => {
            let summary = discover(ctx, flow, &tenant).await?;
            count_discovery(flow, &summary);
            tracing::info!(tenant = %tenant, found = summary.found, enqueued = summary.enqueued, "discovered");
            Ok(
                serde_json::json!({ "tenant": tenant, "found": summary.found, "enqueued": summary.enqueued, "paused": summary.skipped_paused }),
            )
        }
        Command::DiscoverAll => {
            let results = discover_all(ctx, flow).await?;
            for summary in results.iter().filter_map(|(_, r)| r.as_ref().ok()) {
                count_discovery(flow, summary);
            }
            // Every scheduled run also sweeps: dead letters redriven, stalled objects sent again or given up.
            match crate::sweeper::sweep(ctx, flow).await {
                Ok(swept) => {
                    add(
                        flow,
                        None,
                        Metric::DeadLettersTaken,
                        swept.dead_letters as u64,
                    );
                    add(flow, None, Metric::ObjectsRedriven, swept.redriven as u64);
                    add(flow, None, Metric::ObjectsGivenUp, swept.given_up as u64);
                    tracing::info!(?swept, "swept")
                }
                Err(e) => tracing::warn!(error = %e, "sweep failed; the next schedule tries again"),
            }
            let failed: Vec<String> = results
                .iter()
                .filter(|(_, r)| r.is_err())
                .map(|(t, _)| t.to_string())
                .collect();
            let retryable = results
                .iter()
                .any(|(_, r)| r.as_ref().err().is_some_and(FlowError::is_retryable));
            if retryable {
                // Discovery is idempotent (cursors move only after their messages are sent): retry all.
                return Err(HandlerError(FlowError::Deferred(format!(
                    "discovery failed for tenants {failed:?}"
                ))));
            }
            Ok(serde_json::json!({ "tenants": results.len(), "failed": failed }))
        }
    }
}

fn count_discovery(flow: Flow, summary: &crate::runner::DiscoverSummary) {
    use crate::metrics::add;
    add(flow, None, Metric::ObjectsDiscovered, summary.found as u64);
    add(flow, None, Metric::WorkEnqueued, summary.enqueued as u64);
    add(
        flow,
        None,
        Metric::LedgerCalls,
        u64::from(summary.ledger_calls),
    );
}

/// The functions' own configuration (the AWS adapters read theirs with `AwsSettings::from_env`).
///
/// | variable | meaning |
/// |---|---|
/// | `EXACT_REDIRECT_URI` | the redirect URI registered with the Exact Online app (required) |
/// | `DISCOVER_LAG_SECONDS` | how long before now discovery windows end (default 60) |
/// | `LEASE_SECONDS` | how long one worker holds an object's write (default 300; keep above the function timeout) |
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionConfig {
    pub exact_redirect_uri: String,
    pub settings: crate::settings::FlowSettings,
}

/// A configuration variable that is missing or unreadable (names the variable).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("environment variable {name}: {reason}")]
pub struct ConfigError {
    pub name: String,
    pub reason: String,
}

impl FunctionConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let seconds = |name: &str, default: u64| -> Result<std::time::Duration, ConfigError> {
            match lookup(name) {
                None => Ok(std::time::Duration::from_secs(default)),
                Some(v) => v
                    .trim()
                    .parse::<u64>()
                    .map(std::time::Duration::from_secs)
                    .map_err(|e| ConfigError {
                        name: name.to_owned(),
                        reason: e.to_string(),
                    }),
            }
        };
        let exact_redirect_uri = lookup("EXACT_REDIRECT_URI")
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| ConfigError {
                name: "EXACT_REDIRECT_URI".into(),
                reason: "required".into(),
            })?;
        let settings = crate::settings::FlowSettings {
            discover_lag: seconds("DISCOVER_LAG_SECONDS", 60)?,
            lease: seconds("LEASE_SECONDS", 300)?,
            ..crate::settings::FlowSettings::default()
        };
        Ok(Self {
            exact_redirect_uri,
            settings,
        })
    }
}

/// JSON logs to stdout (CloudWatch), level from `RUST_LOG` (default `info`), no ANSI colours.
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .with_ansi(false)
        .without_time()
        .with_target(false)
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_sqs_batch_decodes_into_its_messages_and_keeps_unreadable_ids() {
        let body = serde_json::json!({"tenant": "acme", "object_type": "invoice", "key": "1.202606.1", "action": "sync", "trace_id": "t"});
        let payload = serde_json::json!({"Records": [
            {"messageId": "m1", "body": body.to_string()},
            {"messageId": "m2", "body": "not json"}
        ]});
        let Ok(Command::Batch { items, unreadable }) = decode(payload) else {
            panic!("not a batch")
        };
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].id, "m1");
        assert_eq!(unreadable, vec!["m2".to_owned()]);
    }

    #[test]
    fn a_scheduled_event_discovers_every_tenant_or_the_one_in_its_detail() {
        let all = serde_json::json!({"version": "0", "id": "x", "detail-type": "Scheduled Event", "source": "aws.events",
            "account": "1", "time": "2026-06-15T10:00:00Z", "region": "eu-west-1", "resources": [], "detail": {}});
        assert!(matches!(decode(all), Ok(Command::DiscoverAll)));
        let one = serde_json::json!({"detail-type": "Scheduled Event", "source": "aws.events", "detail": {"tenant": "acme"}});
        assert!(matches!(decode(one), Ok(Command::Discover(t)) if t.as_str() == "acme"));
        assert!(decode(serde_json::json!({"hello": 1})).is_err());
    }

    #[test]
    fn the_function_config_requires_the_redirect_uri_and_reads_durations() {
        let missing = FunctionConfig::from_lookup(|_| None);
        assert!(
            matches!(missing, Err(ConfigError { ref name, .. }) if name == "EXACT_REDIRECT_URI")
        );
        let config = FunctionConfig::from_lookup(|n| match n {
            "EXACT_REDIRECT_URI" => Some("https://example.invalid/cb".into()),
            "LEASE_SECONDS" => Some("120".into()),
            _ => None,
        });
        let config = config.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.settings.lease, std::time::Duration::from_secs(120));
        let bad = FunctionConfig::from_lookup(|n| match n {
            "EXACT_REDIRECT_URI" => Some("x".into()),
            "LEASE_SECONDS" => Some("soon".into()),
            _ => None,
        });
        assert!(bad.is_err());
    }

    #[test]
    fn every_sample_event_of_the_repository_decodes() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events");
        let mut seen = 0;
        for flow in ["invoice-out", "voucher-out", "payment-in", "firm-sync"] {
            let read = |kind: &str| {
                let text = std::fs::read_to_string(dir.join(format!("{flow}-{kind}.json")))
                    .unwrap_or_default();
                serde_json::from_str::<Value>(&text).unwrap_or(Value::Null)
            };
            let Ok(Command::Batch { items, unreadable }) = decode(read("sqs")) else {
                panic!("{flow}-sqs.json")
            };
            assert!(items.len() >= 2 && unreadable.is_empty(), "{flow}-sqs.json");
            assert!(
                matches!(decode(read("schedule")), Ok(Command::DiscoverAll)),
                "{flow}-schedule.json"
            );
            seen += 1;
        }
        assert_eq!(seen, 4);
    }

    #[test]
    fn failures_become_retryable_or_permanent_diagnostics() {
        let d: Diagnostic = HandlerError(FlowError::Deferred("busy".into())).into();
        assert_eq!(d.error_type, "Retryable");
        let d: Diagnostic = HandlerError(FlowError::Invalid("bad".into())).into();
        assert_eq!(d.error_type, "Permanent");
    }
}
