//! Flow metrics in CloudWatch's embedded metric format (EMF): JSON log lines that CloudWatch Logs turns into
//! metrics, so the Lambdas need no metrics API call, permission or SDK.
//!
//! The flows count what happens with [`add`] and [`status_changed`] into the recorder of the invocation
//! they run in ([`measure`], a task-local scope: parallel invocations and tests never mix their counts;
//! outside a scope, as in the local stack, nothing is recorded). The Lambda edge
//! ([`crate::lambda::handle`]) measures each invocation and prints one EMF line per flow and object type at
//! its end ([`Recorder::emf_lines`]). `template.yaml`'s dashboard and alarms read these metrics (namespace
//! from `METRICS_NAMESPACE`, default `Ledgerlink`).
//!
//! | metric | dimensions | counted when |
//! |---|---|---|
//! | `ObjectsSynced` | Flow, ObjectType (and Flow) | an object's status becomes Success |
//! | `ObjectsFailed` | Flow, ObjectType (and Flow) | an object's status becomes Error (refused, or given up) |
//! | `ObjectsDesynchronized` | Flow, ObjectType (and Flow) | an object's status becomes Desynchronized |
//! | `ObjectsDiscovered` | Flow | a discovery found objects |
//! | `WorkEnqueued` | Flow | a discovery queued messages |
//! | `LedgerCalls` | Flow | calls a discovery made to the ledger (payment-in) |
//! | `MessagesRetried` | Flow | a message of a batch will be retried (reported as a batch item failure) |
//! | `MessagesDropped` | Flow | a message failed permanently, or could not be read |
//! | `DeadLettersTaken` | Flow | the sweep took messages back from the dead-letter queue |
//! | `ObjectsRedriven` | Flow | the sweep sent stalled objects again |
//! | `ObjectsGivenUp` | Flow | the sweep set objects to Error after too many attempts |

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use ledgerlink_domain::{Flow, ObjectType, SyncStatus};
use serde_json::{Map, Value, json};

/// What is counted (see the module's table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Metric {
    ObjectsSynced,
    ObjectsFailed,
    ObjectsDesynchronized,
    ObjectsDiscovered,
    WorkEnqueued,
    LedgerCalls,
    MessagesRetried,
    MessagesDropped,
    DeadLettersTaken,
    ObjectsRedriven,
    ObjectsGivenUp,
}

impl Metric {
    pub const ALL: &'static [Metric] = &[
        Metric::ObjectsSynced,
        Metric::ObjectsFailed,
        Metric::ObjectsDesynchronized,
        Metric::ObjectsDiscovered,
        Metric::WorkEnqueued,
        Metric::LedgerCalls,
        Metric::MessagesRetried,
        Metric::MessagesDropped,
        Metric::DeadLettersTaken,
        Metric::ObjectsRedriven,
        Metric::ObjectsGivenUp,
    ];

    /// The metric's name in CloudWatch.
    pub fn name(self) -> &'static str {
        match self {
            Metric::ObjectsSynced => "ObjectsSynced",
            Metric::ObjectsFailed => "ObjectsFailed",
            Metric::ObjectsDesynchronized => "ObjectsDesynchronized",
            Metric::ObjectsDiscovered => "ObjectsDiscovered",
            Metric::WorkEnqueued => "WorkEnqueued",
            Metric::LedgerCalls => "LedgerCalls",
            Metric::MessagesRetried => "MessagesRetried",
            Metric::MessagesDropped => "MessagesDropped",
            Metric::DeadLettersTaken => "DeadLettersTaken",
            Metric::ObjectsRedriven => "ObjectsRedriven",
            Metric::ObjectsGivenUp => "ObjectsGivenUp",
        }
    }
}

type Key = (Flow, Option<ObjectType>);

/// Counts per flow (and object type) of one invocation.
#[derive(Debug, Default)]
pub struct Recorder {
    counts: Mutex<BTreeMap<Key, BTreeMap<Metric, u64>>>,
}

tokio::task_local! {
    static CURRENT: Arc<Recorder>;
}

/// Runs `work` with a fresh recorder in scope and returns its output with what it counted.
pub async fn measure<F: Future>(work: F) -> (F::Output, Recorder) {
    let recorder = Arc::new(Recorder::default());
    let output = CURRENT.scope(recorder.clone(), work).await;
    let counts = recorder.take();
    (
        output,
        Recorder {
            counts: Mutex::new(counts),
        },
    )
}

/// Adds `n` to `metric` of `flow` (and `object_type`) in the current invocation's recorder, if any.
pub fn add(flow: Flow, object_type: Option<ObjectType>, metric: Metric, n: u64) {
    let _ = CURRENT.try_with(|r| r.add(flow, object_type, metric, n));
}

/// Counts an object's status change in the current invocation's recorder, if any
/// ([`Recorder::status_changed`]).
pub fn status_changed(object_type: ObjectType, before: Option<SyncStatus>, after: SyncStatus) {
    let _ = CURRENT.try_with(|r| r.status_changed(object_type, before, after));
}

impl Recorder {
    /// Adds `n` to `metric` of `flow` (and `object_type`).
    pub fn add(&self, flow: Flow, object_type: Option<ObjectType>, metric: Metric, n: u64) {
        if n == 0 {
            return;
        }
        if let Ok(mut counts) = self.counts.lock() {
            *counts
                .entry((flow, object_type))
                .or_default()
                .entry(metric)
                .or_default() += n;
        }
    }

    /// Counts an object's status change: only a change into Success, Error or Desynchronized counts, so a
    /// status written again unchanged (a retry, a conflict re-applied) is not counted twice.
    pub fn status_changed(
        &self,
        object_type: ObjectType,
        before: Option<SyncStatus>,
        after: SyncStatus,
    ) {
        if before == Some(after) {
            return;
        }
        let metric = match after {
            SyncStatus::Success => Metric::ObjectsSynced,
            SyncStatus::Error => Metric::ObjectsFailed,
            SyncStatus::Desynchronized => Metric::ObjectsDesynchronized,
            SyncStatus::NotIntegrated | SyncStatus::Pending | SyncStatus::OutcomeUnknown => return,
        };
        self.add(object_type.flow(), Some(object_type), metric, 1);
    }

    /// Takes everything counted so far (the counts start again from zero).
    pub fn take(&self) -> BTreeMap<Key, BTreeMap<Metric, u64>> {
        self.counts
            .lock()
            .map(|mut c| std::mem::take(&mut *c))
            .unwrap_or_default()
    }

    /// Takes the counts as EMF log lines, one per flow and object type, stamped `timestamp_ms`.
    pub fn emf_lines(&self, namespace: &str, timestamp_ms: i64) -> Vec<String> {
        self.take()
            .into_iter()
            .map(|((flow, object_type), metrics)| {
                emf_line(namespace, timestamp_ms, flow, object_type, &metrics)
            })
            .collect()
    }
}

/// One EMF document: the metric values as members, declared under `_aws` with their dimension sets.
fn emf_line(
    namespace: &str,
    timestamp_ms: i64,
    flow: Flow,
    object_type: Option<ObjectType>,
    metrics: &BTreeMap<Metric, u64>,
) -> String {
    let dimensions = match object_type {
        Some(_) => json!([["Flow", "ObjectType"], ["Flow"]]),
        None => json!([["Flow"]]),
    };
    let declared: Vec<Value> = metrics
        .keys()
        .map(|m| json!({"Name": m.name(), "Unit": "Count"}))
        .collect();
    let mut doc = Map::new();
    doc.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": namespace,
                "Dimensions": dimensions,
                "Metrics": declared,
            }],
        }),
    );
    doc.insert("Flow".into(), json!(flow.as_str()));
    if let Some(t) = object_type {
        doc.insert("ObjectType".into(), json!(t.as_str()));
    }
    for (metric, value) in metrics {
        doc.insert(metric.name().into(), json!(value));
    }
    Value::Object(doc).to_string()
}

/// The namespace of the metrics: `METRICS_NAMESPACE`, default `Ledgerlink`.
pub fn namespace_from_env() -> String {
    std::env::var("METRICS_NAMESPACE")
        .ok()
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| "Ledgerlink".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_what_runs_inside_a_measured_invocation_is_counted() {
        add(Flow::InvoiceOut, None, Metric::WorkEnqueued, 3);
        let ((), counted) = measure(async {
            add(Flow::InvoiceOut, None, Metric::WorkEnqueued, 2);
            status_changed(ObjectType::Invoice, None, SyncStatus::Success);
        })
        .await;
        let ((), other) = measure(async {}).await;
        assert_eq!(
            counted.take(),
            BTreeMap::from([
                (
                    (Flow::InvoiceOut, None),
                    BTreeMap::from([(Metric::WorkEnqueued, 2)])
                ),
                (
                    (Flow::InvoiceOut, Some(ObjectType::Invoice)),
                    BTreeMap::from([(Metric::ObjectsSynced, 1)])
                ),
            ])
        );
        assert!(other.take().is_empty());
        status_changed(ObjectType::Invoice, None, SyncStatus::Success);
    }

    #[test]
    fn only_a_change_into_a_final_status_counts() {
        let recorder = Recorder::default();
        recorder.status_changed(ObjectType::Invoice, None, SyncStatus::Pending);
        recorder.status_changed(
            ObjectType::Invoice,
            Some(SyncStatus::Pending),
            SyncStatus::Success,
        );
        recorder.status_changed(
            ObjectType::Invoice,
            Some(SyncStatus::Success),
            SyncStatus::Success,
        );
        recorder.status_changed(
            ObjectType::ApVoucher,
            Some(SyncStatus::OutcomeUnknown),
            SyncStatus::Error,
        );
        let counts = recorder.take();
        assert_eq!(
            counts[&(Flow::InvoiceOut, Some(ObjectType::Invoice))],
            BTreeMap::from([(Metric::ObjectsSynced, 1)])
        );
        assert_eq!(
            counts[&(Flow::VoucherOut, Some(ObjectType::ApVoucher))],
            BTreeMap::from([(Metric::ObjectsFailed, 1)])
        );
        assert_eq!(counts.len(), 2);
    }

    /// The EMF specification: `_aws.Timestamp` (epoch ms), one `CloudWatchMetrics` directive naming the
    /// namespace, dimension sets whose every name is a member of the document, and metric definitions whose
    /// every name is a numeric member of the document.
    #[test]
    fn the_lines_follow_the_embedded_metric_format() {
        let recorder = Recorder::default();
        recorder.status_changed(ObjectType::CashReceipt, None, SyncStatus::Success);
        recorder.status_changed(ObjectType::CashReceipt, None, SyncStatus::Success);
        recorder.add(Flow::PaymentIn, None, Metric::LedgerCalls, 4);
        recorder.add(Flow::PaymentIn, None, Metric::WorkEnqueued, 2);
        let lines = recorder.emf_lines("Ledgerlink/test", 1_765_000_000_000);
        assert_eq!(lines.len(), 2);
        let mut seen = BTreeMap::new();
        for line in &lines {
            assert!(!line.contains('\n'), "one log line per document");
            let doc: Value = serde_json::from_str(line).unwrap_or(Value::Null);
            let aws = &doc["_aws"];
            assert_eq!(aws["Timestamp"], json!(1_765_000_000_000_i64));
            let directive = &aws["CloudWatchMetrics"][0];
            assert_eq!(directive["Namespace"], json!("Ledgerlink/test"));
            for set in directive["Dimensions"].as_array().into_iter().flatten() {
                for name in set.as_array().into_iter().flatten() {
                    let name = name.as_str().unwrap_or_default();
                    assert!(doc[name].is_string(), "dimension {name} in {line}");
                }
            }
            for metric in directive["Metrics"].as_array().into_iter().flatten() {
                let name = metric["Name"].as_str().unwrap_or_default();
                assert_eq!(metric["Unit"], json!("Count"));
                assert!(doc[name].is_u64(), "metric {name} in {line}");
                seen.insert(
                    (
                        doc["ObjectType"].as_str().unwrap_or("").to_owned(),
                        name.to_owned(),
                    ),
                    doc[name].as_u64(),
                );
            }
            assert_eq!(doc["Flow"], json!("payment-in"));
        }
        assert_eq!(
            seen,
            BTreeMap::from([
                (("".into(), "LedgerCalls".into()), Some(4)),
                (("".into(), "WorkEnqueued".into()), Some(2)),
                (("cash-receipt".into(), "ObjectsSynced".into()), Some(2)),
            ])
        );
    }
}
