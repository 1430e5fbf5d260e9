//! Fault injection and request counting, shared by both emulators.
//!
//! Rules match a route by method (optional) and path prefix; the first matching rule applies. Randomness comes
//! from a seeded generator so a failing test run can be replayed. Rates are in per-mille (0..=1000).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use ledgerlink_clock::SharedClock;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use parking_lot::Mutex;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::server::ConnectionControl;

/// One fault rule. All faults of a rule may apply to the same request, in this order: latency, reset before
/// the handler, 429 storm, 5xx, then (after the handler ran) a 5xx after the commit or commit-then-drop.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FaultRule {
    /// `GET`, `POST`, ... or `None` for any method.
    pub method: Option<String>,
    /// The rule applies to paths starting with this (e.g. `/api/v1/` or `/api/oauth2/token`).
    pub path_prefix: String,
    /// Added delay before the handler runs.
    pub latency_ms: u64,
    /// Chance of a `503` instead of running the handler.
    pub error_5xx_per_mille: u32,
    /// The next N matching requests answer `429` (a storm), without running the handler.
    pub storm_429_remaining: u32,
    /// Chance the connection is reset before the handler runs (nothing committed).
    pub reset_before_per_mille: u32,
    /// Chance the handler runs (and commits) but the connection is then dropped without a response.
    pub commit_then_drop_per_mille: u32,
    /// Chance the handler runs (and commits) and the client then gets a 5xx instead of its answer (500, 502,
    /// 503 or 504, with or without a body; as a gateway or load balancer timing out would answer).
    pub error_after_commit_per_mille: u32,
    /// The statuses a 5xx after the commit is drawn from (empty: 500, 502, 503 and 504).
    pub after_commit_statuses: Vec<u16>,
    /// Chance that a write (`POST`/`PUT`) is answered at once with a `504` (a gateway that gave up) while the
    /// ledger commits it only [`FaultRule::commit_delay_secs`] later on the emulator's clock: until then no
    /// look-up finds it. The write is applied before the first request that arrives at or after that time
    /// (or by [`FaultInjector::apply_due`]), so when a look-up sees it is decided by the clock, not by races.
    pub delayed_commit_per_mille: u32,
    /// How long a delayed commit stays invisible (seconds of the emulator's clock).
    pub commit_delay_secs: u64,
}

#[derive(Debug)]
struct Inner {
    rules: Vec<FaultRule>,
    rng: StdRng,
    /// What was injected, per kind, for test assertions.
    injected: BTreeMap<String, u64>,
    /// The clock delayed commits are due on (`None`: the system clock).
    clock: Option<SharedClock>,
}

/// A write answered with a 504 and not applied yet.
struct Deferred {
    due: DateTime<Utc>,
    request: Request,
    next: Next,
}

/// The fault configuration of one emulator instance. Cheap to clone; clones share state.
#[derive(Clone)]
pub struct FaultInjector {
    inner: Arc<Mutex<Inner>>,
    /// Delayed commits, in arrival order. Taken one at a time and run outside the lock.
    deferred: Arc<Mutex<Vec<Deferred>>>,
}

impl std::fmt::Debug for FaultInjector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultInjector")
            .field("inner", &self.inner)
            .field("deferred", &self.deferred.lock().len())
            .finish()
    }
}

impl Default for FaultInjector {
    fn default() -> Self {
        Self::new(0)
    }
}

enum Decision {
    Pass,
    Reset,
    Storm429,
    Error5xx,
    DropAfter,
    /// The handler commits; the answer is replaced by this status, with a body or not.
    ErrorAfter(u16, bool),
    /// A 504 now; the handler runs (commits) this many seconds later on the clock.
    DelayedCommit(u64),
}

impl FaultInjector {
    pub fn new(seed: u64) -> Self {
        Self {
            inner: Arc::new(Mutex::new(Inner {
                rules: Vec::new(),
                rng: StdRng::seed_from_u64(seed),
                injected: BTreeMap::new(),
                clock: None,
            })),
            deferred: Arc::new(Mutex::new(Vec::new())),
        }
    }
    /// The clock delayed commits are due on (the emulator's own, e.g. a test's manual clock).
    pub fn set_clock(&self, clock: SharedClock) {
        self.inner.lock().clock = Some(clock);
    }
    fn now(&self) -> DateTime<Utc> {
        match &self.inner.lock().clock {
            Some(clock) => clock.now(),
            None => Utc::now(),
        }
    }
    /// Delayed commits not applied yet.
    pub fn deferred_commits(&self) -> usize {
        self.deferred.lock().len()
    }
    /// Applies every delayed commit that is due on the clock, oldest first; returns how many.
    pub async fn apply_due(&self) -> usize {
        let mut applied = 0;
        loop {
            let now = self.now();
            let next = {
                let mut deferred = self.deferred.lock();
                deferred
                    .iter()
                    .position(|d| d.due <= now)
                    .map(|i| deferred.remove(i))
            };
            let Some(d) = next else {
                return applied;
            };
            let _committed = d.next.run(d.request).await;
            applied += 1;
        }
    }
    /// Replaces every rule.
    pub fn set_rules(&self, rules: Vec<FaultRule>) {
        self.inner.lock().rules = rules;
    }
    pub fn add_rule(&self, rule: FaultRule) {
        self.inner.lock().rules.push(rule);
    }
    pub fn clear(&self) {
        self.inner.lock().rules.clear();
    }
    pub fn rules(&self) -> Vec<FaultRule> {
        self.inner.lock().rules.clone()
    }
    /// How many faults of each kind (`latency`, `reset`, `429`, `5xx`, `5xx-after-commit`, `commit-then-drop`,
    /// `delayed-commit`) were injected.
    pub fn injected(&self) -> BTreeMap<String, u64> {
        self.inner.lock().injected.clone()
    }

    fn decide(&self, method: &str, path: &str) -> (u64, Decision) {
        let mut inner = self.inner.lock();
        let Inner {
            rules,
            rng,
            injected,
            ..
        } = &mut *inner;
        let Some(rule) = rules.iter_mut().find(|r| {
            path.starts_with(&r.path_prefix)
                && r.method
                    .as_deref()
                    .is_none_or(|m| m.eq_ignore_ascii_case(method))
        }) else {
            return (0, Decision::Pass);
        };
        let mut bump = |k: &str| *injected.entry(k.to_owned()).or_default() += 1;
        let latency = rule.latency_ms;
        if latency > 0 {
            bump("latency");
        }
        let roll = |rng: &mut StdRng, per_mille: u32| {
            per_mille > 0 && rng.random_range(0..1000) < per_mille
        };
        let write = method.eq_ignore_ascii_case("POST") || method.eq_ignore_ascii_case("PUT");
        let decision = if roll(rng, rule.reset_before_per_mille) {
            bump("reset");
            Decision::Reset
        } else if rule.storm_429_remaining > 0 {
            rule.storm_429_remaining -= 1;
            bump("429");
            Decision::Storm429
        } else if roll(rng, rule.error_5xx_per_mille) {
            bump("5xx");
            Decision::Error5xx
        } else if roll(rng, rule.error_after_commit_per_mille) {
            bump("5xx-after-commit");
            let statuses: &[u16] = if rule.after_commit_statuses.is_empty() {
                &[500, 502, 503, 504]
            } else {
                &rule.after_commit_statuses
            };
            let status = statuses[rng.random_range(0..statuses.len())];
            Decision::ErrorAfter(status, rng.random_bool(0.5))
        } else if roll(rng, rule.commit_then_drop_per_mille) {
            bump("commit-then-drop");
            Decision::DropAfter
        } else if write && roll(rng, rule.delayed_commit_per_mille) {
            bump("delayed-commit");
            Decision::DelayedCommit(rule.commit_delay_secs)
        } else {
            Decision::Pass
        };
        (latency, decision)
    }
}

/// Counts requests per `METHOD route-pattern` (e.g. `POST /api/v1/{division}/salesentry/SalesEntries`).
#[derive(Debug, Clone, Default)]
pub struct RequestCounters {
    inner: Arc<Mutex<BTreeMap<String, u64>>>,
}

impl RequestCounters {
    pub fn snapshot(&self) -> BTreeMap<String, u64> {
        self.inner.lock().clone()
    }
    /// Sum of the counters whose key contains `needle`.
    pub fn count_matching(&self, needle: &str) -> u64 {
        self.inner
            .lock()
            .iter()
            .filter(|(k, _)| k.contains(needle))
            .map(|(_, v)| *v)
            .sum()
    }
    pub fn total(&self) -> u64 {
        self.inner.lock().values().sum()
    }
    pub fn reset(&self) {
        self.inner.lock().clear();
    }
    pub(crate) fn bump(&self, key: String) {
        *self.inner.lock().entry(key).or_default() += 1;
    }
}

/// State of the fault/counter middleware.
#[derive(Debug, Clone, Default)]
pub struct FaultLayerState {
    pub faults: FaultInjector,
    pub counters: RequestCounters,
}

/// Axum middleware: counts the request, then applies the first matching fault rule.
///
/// Use with `axum::middleware::from_fn_with_state(state, fault_middleware)` as the outermost layer of an
/// emulator's router, and serve it with [`crate::serve`] so connection drops are real.
pub async fn fault_middleware(
    State(state): State<FaultLayerState>,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method().as_str().to_owned();
    let path = request.uri().path().to_owned();
    let pattern = request
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_else(|| path.clone());
    state.counters.bump(format!("{method} {pattern}"));
    let control = request.extensions().get::<ConnectionControl>().cloned();
    // Writes whose delayed commit is due land before this request is served.
    state.faults.apply_due().await;

    let (latency, decision) = state.faults.decide(&method, &path);
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    match decision {
        Decision::Pass => next.run(request).await,
        Decision::Reset => match control {
            Some(c) => c.drop_connection().await,
            None => StatusCode::BAD_GATEWAY.into_response(),
        },
        Decision::Storm429 => {
            let mut r = (StatusCode::TOO_MANY_REQUESTS, "").into_response();
            r.headers_mut()
                .insert("x-emulator-fault", HeaderValue::from_static("429-storm"));
            r
        }
        Decision::Error5xx => {
            let mut r = (
                StatusCode::SERVICE_UNAVAILABLE,
                "Service Temporarily Unavailable",
            )
                .into_response();
            r.headers_mut()
                .insert("x-emulator-fault", HeaderValue::from_static("5xx"));
            r
        }
        Decision::ErrorAfter(status, with_body) => {
            let _committed = next.run(request).await;
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
            let body = if with_body {
                format!(
                    "<html><body><h1>{status}</h1>The upstream server did not answer in time.</body></html>"
                )
            } else {
                String::new()
            };
            let mut r = (status, body).into_response();
            r.headers_mut().insert(
                "x-emulator-fault",
                HeaderValue::from_static("5xx-after-commit"),
            );
            r
        }
        Decision::DelayedCommit(secs) => {
            let due = state.faults.now()
                + chrono::Duration::seconds(i64::try_from(secs.min(31_536_000)).unwrap_or(0));
            state
                .faults
                .deferred
                .lock()
                .push(Deferred { due, request, next });
            let mut r = (
                StatusCode::GATEWAY_TIMEOUT,
                "<html><body><h1>504 Gateway Time-out</h1></body></html>",
            )
                .into_response();
            r.headers_mut().insert(
                "x-emulator-fault",
                HeaderValue::from_static("delayed-commit"),
            );
            r
        }
        Decision::DropAfter => {
            // The handler runs to completion (the write is committed), then the client never hears back.
            let _committed = next.run(request).await;
            match control {
                Some(c) => c.drop_connection().await,
                None => StatusCode::BAD_GATEWAY.into_response(),
            }
        }
    }
}
