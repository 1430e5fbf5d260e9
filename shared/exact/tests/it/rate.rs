//! The shared rate limiter: four workers, one budget, no 429 at the emulator, the minute budget used.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ledgerlink_clock::{Clock, ManualClock, SleepFuture};
use ledgerlink_exact::{ClientPorts, ExactClient, ExactError, Query};
use ledgerlink_ports::{RateBudget, RateDecision, RateLimits, RateObservation, StoreResult};
use parking_lot::Mutex;

use crate::helpers::spawn;

const REQUESTS: usize = 500;
const WORKERS: usize = 4;

/// The shared budget, recording what Exact reported per minute window (from the `X-RateLimit-Minutely-*`
/// headers the client feeds back): the server's own count of our calls in each minute.
#[derive(Debug)]
struct RecordingBudget {
    inner: Arc<dyn RateBudget>,
    /// minute reset instant -> the most calls Exact reported as used in that minute.
    server_used: Mutex<BTreeMap<DateTime<Utc>, u32>>,
}

#[async_trait]
impl RateBudget for RecordingBudget {
    async fn acquire(
        &self,
        key: &str,
        limits: RateLimits,
        now: DateTime<Utc>,
    ) -> StoreResult<RateDecision> {
        self.inner.acquire(key, limits, now).await
    }
    async fn used_today(&self, key: &str, now: DateTime<Utc>) -> StoreResult<u32> {
        self.inner.used_today(key, now).await
    }
    async fn observe(
        &self,
        key: &str,
        limits: RateLimits,
        observation: RateObservation,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        if let (Some(remaining), Some(reset)) =
            (observation.minute_remaining, observation.minute_reset)
        {
            // The client reports Exact's remaining minus its reserve, against the limit minus its reserve.
            let used = limits.per_minute.saturating_sub(remaining);
            let mut map = self.server_used.lock();
            let entry = map.entry(reset).or_default();
            *entry = (*entry).max(used);
        }
        self.inner.observe(key, limits, observation, now).await
    }
}

/// The shared manual clock, except that a sleep first lets a little real time pass. In real time a worker
/// that waits for the next minute waits tens of seconds, so requests other workers sent earlier in the minute
/// have landed long before the minute turns; a bare manual clock would jump while they are still in flight
/// and Exact would count them in the next minute.
#[derive(Debug)]
struct SettlingClock {
    inner: ManualClock,
}

impl Clock for SettlingClock {
    fn now(&self) -> DateTime<Utc> {
        self.inner.now()
    }
    fn sleep_until(&self, until: DateTime<Utc>) -> SleepFuture {
        let inner = self.inner.clone();
        Box::pin(async move {
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
            inner.sleep_until(until).await;
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn five_hundred_requests_from_four_workers_never_hit_a_429_and_use_the_minute_budget() {
    // Arrange: four workers (own clients, as four processes) sharing one budget and one clock.
    let env = spawn().await;
    env.connect().await;
    let reserve = env.config().minute_reserve;
    let budget = Arc::new(RecordingBudget {
        inner: env.store.rate(),
        server_used: Mutex::new(BTreeMap::new()),
    });
    let gets_before = env.requests("GET /api/v1/{division}");
    let start = env.clock_now();

    // Act
    let tasks: Vec<_> = (0..WORKERS)
        .map(|_| {
            let clock = Arc::new(SettlingClock {
                inner: env.clock.clone(),
            });
            let ports = ClientPorts {
                tokens: env.store.tokens(),
                rate: budget.clone(),
                clock,
            };
            let client = ExactClient::new(env.config(), ports, None).unwrap();
            tokio::spawn(async move {
                for _ in 0..REQUESTS / WORKERS {
                    client
                        .list_page::<serde_json::Value>(
                            "financial/GLAccounts",
                            &Query::new().select(&["ID"]).top(1),
                        )
                        .await?;
                }
                Ok::<_, ExactError>(())
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }

    // Assert: every request the emulator saw was one of ours (a 429 would have caused a retry).
    let sent = env.requests("GET /api/v1/{division}") - gets_before;
    let per_minute: Vec<u32> = budget.server_used.lock().values().copied().collect();
    let minutes = per_minute.len();
    let complete = &per_minute[..minutes.saturating_sub(1)];
    let worst = complete.iter().copied().min().unwrap_or(0);
    let elapsed = env.clock_now() - start;
    println!(
        "FIGURE rate budget: {REQUESTS} requests from {WORKERS} workers, {sent} seen by the emulator (0 x 429); \
         Exact's count per minute {per_minute:?} over {minutes} minutes ({} s virtual); \
         requests / (minutes spanned x 60) = {:.1} %; worst complete minute {worst}/60 = {:.1} % (reserve {reserve}/min)",
        elapsed.num_seconds(),
        f64_ratio(REQUESTS, minutes * 60),
        f64_ratio(worst as usize, 60),
    );
    assert_eq!(
        sent, REQUESTS as u64,
        "no request was refused with 429 and retried"
    );
    assert!(
        per_minute.iter().all(|n| *n <= 60),
        "never over Exact's limit"
    );
    assert!(!complete.is_empty());
    assert!(
        f64_ratio(worst as usize, 60) >= 95.0,
        "each complete minute used >= 95 % of its budget"
    );
}

#[allow(clippy::float_arithmetic, clippy::cast_precision_loss)]
fn f64_ratio(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

#[tokio::test]
async fn a_spent_daily_budget_is_returned_as_daily_rate_limited_without_waiting() {
    // Arrange: an app limited to 5 calls a day.
    let env = crate::helpers::spawn_with(|c| c.daily_limit = 5).await;
    let client = env.connect().await;
    for _ in 0..5 {
        client
            .list_page::<serde_json::Value>("financial/GLAccounts", &Query::new().top(1))
            .await
            .unwrap();
    }
    let before = env.clock_now();

    // Act
    let result = client
        .list_page::<serde_json::Value>("financial/GLAccounts", &Query::new().top(1))
        .await;

    // Assert: refused locally (the shared budget learnt the limit from the headers), not slept for hours.
    match result {
        Err(ExactError::RateLimited { until, daily: true }) => {
            assert_eq!(until.to_rfc3339(), "2026-06-16T00:00:00+00:00");
        }
        other => panic!("expected a daily RateLimited, got {other:?}"),
    }
    assert_eq!(env.clock_now(), before, "no virtual time was slept");
}

/// A budget that always grants and ignores observations: the client then meets Exact's own 429s.
#[derive(Debug)]
struct NoBudget;

#[async_trait]
impl RateBudget for NoBudget {
    async fn acquire(
        &self,
        _key: &str,
        _limits: RateLimits,
        _now: DateTime<Utc>,
    ) -> StoreResult<RateDecision> {
        Ok(RateDecision::Granted)
    }
    async fn used_today(&self, _key: &str, _now: DateTime<Utc>) -> StoreResult<u32> {
        Ok(0)
    }
    async fn observe(
        &self,
        _: &str,
        _: RateLimits,
        _: RateObservation,
        _: DateTime<Utc>,
    ) -> StoreResult<()> {
        Ok(())
    }
}

fn unlimited_client(env: &crate::helpers::TestEnv) -> ExactClient {
    let ports = ClientPorts {
        tokens: env.store.tokens(),
        rate: Arc::new(NoBudget),
        clock: env.clock.shared(),
    };
    ExactClient::new(env.config(), ports, None).unwrap()
}

#[tokio::test]
async fn a_minutely_429_from_exact_is_waited_out_until_its_reset_header_and_retried() {
    // Arrange: Exact allows 5 calls a minute; the client's budget does not know it.
    let env = crate::helpers::spawn_with(|c| c.minutely_limit = 5).await;
    env.connect().await;
    let client = unlimited_client(&env);
    let start = env.clock_now();

    // Act
    for _ in 0..12 {
        client
            .list_page::<serde_json::Value>("financial/GLAccounts", &Query::new().top(1))
            .await
            .unwrap();
    }

    // Assert: 12 answers over three minute windows, each 429 followed by a wait to the minute's reset.
    let sent = env.requests("GET /api/v1/{division}");
    assert!(sent > 12, "some calls met a 429 first ({sent} requests)");
    assert!(env.clock_now() - start >= chrono::Duration::minutes(2));
    assert_eq!(
        env.clock_now().timestamp() % 60,
        0,
        "woke exactly at a minute reset"
    );
}

#[tokio::test]
async fn a_daily_429_from_exact_is_returned_at_once_with_its_reset() {
    // Arrange: the day's 3 calls are spent by a client that does not track the budget.
    let env = crate::helpers::spawn_with(|c| c.daily_limit = 3).await;
    env.connect().await;
    let client = unlimited_client(&env);
    for _ in 0..3 {
        client
            .list_page::<serde_json::Value>("financial/GLAccounts", &Query::new().top(1))
            .await
            .unwrap();
    }
    let before = env.clock_now();
    let sent_before = env.requests("GET /api/v1/{division}");

    // Act
    let result = client
        .list_page::<serde_json::Value>("financial/GLAccounts", &Query::new().top(1))
        .await;

    // Assert
    assert!(
        matches!(&result, Err(ExactError::RateLimited { daily: true, until }) if until.to_rfc3339() == "2026-06-16T00:00:00+00:00"),
        "got {result:?}"
    );
    assert_eq!(
        env.requests("GET /api/v1/{division}") - sent_before,
        1,
        "not retried"
    );
    assert_eq!(env.clock_now(), before, "no waiting for the daily reset");
}
