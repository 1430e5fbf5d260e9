//! Contract suites: one per port, run by every adapter's tests against its own implementation.
//!
//! Each suite is a set of `pub async fn` taking the port (and whatever fresh, empty instance the adapter's
//! test gives it) and panicking with a clear message when the adapter breaks the contract.
//!
//! How to use them from an adapter's tests:
//! - State and storage suites make their own unique keys, connections and tenants (random ids), so several
//!   suites may share one store; each function is one test case, and every module has a `run_all` that runs
//!   all of its cases in sequence.
//! - Functions that race tasks against each other take an `Arc<dyn Port>`; call them from a
//!   `#[tokio::test(flavor = "multi_thread")]` test so the race is real.
//! - Decisions by time use `now` arguments built from a fixed instant ([`base_time`]), never the wall clock,
//!   except the queue suite: SQS cannot run on a virtual clock, so it uses short real visibility timeouts.

pub mod cursors;
pub mod definitions;
pub mod idempotency;
pub mod integrations;
pub mod jobs;
pub mod links;
pub mod lookups;
pub mod notifications;
pub mod queue;
pub mod rate;
pub mod statuses;
pub mod storage;
pub mod tenants;
pub mod tokens;

use chrono::{DateTime, TimeZone, Utc};
use ledgerlink_domain::TenantId;

/// The instant the suites count from: 2026-06-15 10:00:00 UTC (whole seconds, so every adapter's time
/// encoding round-trips it exactly).
pub fn base_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 15, 10, 0, 0)
        .single()
        .unwrap_or_default()
}

/// `base_time() + seconds`.
pub fn at(seconds: i64) -> DateTime<Utc> {
    base_time() + chrono::Duration::seconds(seconds)
}

/// A name no other test uses: `prefix` followed by a random suffix.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

/// A tenant id no other test uses.
pub fn fresh_tenant() -> TenantId {
    let id = unique("t");
    match TenantId::parse(&id) {
        Ok(tenant) => tenant,
        Err(e) => panic!("contract helper built an invalid tenant id {id:?}: {e}"),
    }
}

/// Runs `n` copies of `work` at the same moment (a barrier releases them together) and returns their results.
pub async fn race<T, F, Fut>(n: usize, work: F) -> Vec<T>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = T> + Send + 'static,
{
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(n));
    let mut handles = Vec::with_capacity(n);
    for i in 0..n {
        let barrier = barrier.clone();
        let fut = work(i);
        handles.push(tokio::spawn(async move {
            barrier.wait().await;
            fut.await
        }));
    }
    let mut results = Vec::with_capacity(n);
    for handle in futures::future::join_all(handles).await {
        match handle {
            Ok(value) => results.push(value),
            Err(e) => panic!("a racing task panicked: {e}"),
        }
    }
    results
}

/// The value of a port call the suite expects to succeed; panics naming the call otherwise.
#[track_caller]
pub(crate) fn ok<T>(result: crate::StoreResult<T>, what: &str) -> T {
    match result {
        Ok(value) => value,
        Err(e) => panic!("{what} failed: {e}"),
    }
}

/// Panics unless `result` is a [`crate::StoreError::Conflict`].
#[track_caller]
pub(crate) fn expect_conflict<T: std::fmt::Debug>(result: crate::StoreResult<T>, what: &str) {
    if !matches!(result, Err(crate::StoreError::Conflict { .. })) {
        panic!("{what} must be a Conflict, got {result:?}");
    }
}
