//! The per-(app, division) call budget, shared by every process through the [`RateBudget`] port.
//!
//! Exact allows 60 calls per calendar minute and 5,000 per UTC day per app and division (the numbers are per
//! app; the `X-RateLimit-*` headers say which apply). Every division-scoped call first takes one unit from
//! the shared budget; a minute wait is slept on the injected clock, a daily wait is never slept (it can be
//! hours): the call fails with `RateLimited { daily: true }` instead. Every response's headers are fed
//! back (`observe`) so the shared counters follow what Exact counted, including other apps' processes.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use ledgerlink_clock::SharedClock;
use ledgerlink_ports::{RateBudget, RateDecision, RateLimits, RateObservation};
use parking_lot::Mutex;
use reqwest::header::HeaderMap;

use crate::error::{ExactError, ExactResult};

/// Exact's documented defaults, used until a response announces the app's real limits.
pub const DEFAULT_LIMITS: RateLimits = RateLimits {
    per_minute: 60,
    per_day: 5000,
};

/// What one response's `X-RateLimit-*` headers said, limits included.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateHeaders {
    pub observation: RateObservation,
    pub minute_limit: Option<u32>,
    pub day_limit: Option<u32>,
}

impl RateHeaders {
    pub fn is_empty(&self) -> bool {
        self.observation == RateObservation::default()
            && self.minute_limit.is_none()
            && self.day_limit.is_none()
    }
}

fn header_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

fn epoch_ms(ms: u64) -> Option<DateTime<Utc>> {
    Utc.timestamp_millis_opt(i64::try_from(ms).ok()?).single()
}

/// Reads Exact's rate headers (resets are UTC epoch milliseconds). Absent families stay `None`: a minutely
/// 429 carries only the minutely family, a daily one only the daily family.
pub fn parse_rate_headers(headers: &HeaderMap) -> RateHeaders {
    let as_u32 = |v: Option<u64>| v.and_then(|n| u32::try_from(n).ok());
    RateHeaders {
        observation: RateObservation {
            minute_remaining: as_u32(header_u64(headers, "X-RateLimit-Minutely-Remaining")),
            minute_reset: header_u64(headers, "X-RateLimit-Minutely-Reset").and_then(epoch_ms),
            day_remaining: as_u32(header_u64(headers, "X-RateLimit-Remaining")),
            day_reset: header_u64(headers, "X-RateLimit-Reset").and_then(epoch_ms),
        },
        minute_limit: as_u32(header_u64(headers, "X-RateLimit-Minutely-Limit")),
        day_limit: as_u32(header_u64(headers, "X-RateLimit-Limit")),
    }
}

/// The start of the next calendar minute after `now` (Exact's windows are fixed calendar minutes).
pub fn next_minute(now: DateTime<Utc>) -> DateTime<Utc> {
    let secs = now.timestamp().div_euclid(60) * 60 + 60;
    Utc.timestamp_opt(secs, 0)
        .single()
        .unwrap_or(now + chrono::Duration::seconds(60))
}

/// The limiter of one (app, division).
#[derive(Debug)]
pub struct RateLimiter {
    budget: Arc<dyn RateBudget>,
    clock: SharedClock,
    key: String,
    limits: Mutex<RateLimits>,
    minute_reserve: u32,
    max_wait: Duration,
}

impl RateLimiter {
    pub fn new(
        budget: Arc<dyn RateBudget>,
        clock: SharedClock,
        key: String,
        minute_reserve: u32,
        max_wait: Duration,
    ) -> Self {
        Self {
            budget,
            clock,
            key,
            limits: Mutex::new(DEFAULT_LIMITS),
            minute_reserve,
            max_wait,
        }
    }

    /// The limits currently believed (the last announced by Exact).
    pub fn limits(&self) -> RateLimits {
        *self.limits.lock()
    }

    fn effective_limits(&self) -> RateLimits {
        let l = self.limits();
        RateLimits {
            per_minute: l.per_minute.saturating_sub(self.minute_reserve).max(1),
            per_day: l.per_day,
        }
    }

    /// Takes one call from the shared budget, sleeping (on the clock) through minute waits up to `max_wait`.
    pub async fn acquire(&self) -> ExactResult<()> {
        let started = self.clock.now();
        let max_wait =
            chrono::Duration::from_std(self.max_wait).unwrap_or(chrono::Duration::minutes(2));
        loop {
            let now = self.clock.now();
            let decision = self
                .budget
                .acquire(&self.key, self.effective_limits(), now)
                .await
                .map_err(|e| ExactError::store("taking from the rate budget", e))?;
            match decision {
                RateDecision::Granted => return Ok(()),
                RateDecision::WaitUntil { until, daily: true } => {
                    return Err(ExactError::RateLimited { until, daily: true });
                }
                RateDecision::WaitUntil {
                    until,
                    daily: false,
                } => {
                    if until - started > max_wait {
                        return Err(ExactError::RateLimited {
                            until,
                            daily: false,
                        });
                    }
                    tracing::debug!(key = %self.key, %until, "minute budget spent; waiting");
                    self.clock.sleep_until(until.max(now)).await;
                }
            }
        }
    }

    /// Feeds one response's headers back into the shared budget (and adopts announced limits).
    pub async fn observe(&self, headers: &RateHeaders) -> ExactResult<()> {
        if headers.is_empty() {
            return Ok(());
        }
        {
            let mut l = self.limits.lock();
            if let Some(m) = headers.minute_limit.filter(|m| *m > 0) {
                l.per_minute = m;
            }
            if let Some(d) = headers.day_limit.filter(|d| *d > 0) {
                l.per_day = d;
            }
        }
        let mut observation = headers.observation;
        // Keep the reserve in the shared counters too: Exact's "remaining" minus what we hold back.
        observation.minute_remaining = observation
            .minute_remaining
            .map(|r| r.saturating_sub(self.minute_reserve));
        self.budget
            .observe(
                &self.key,
                self.effective_limits(),
                observation,
                self.clock.now(),
            )
            .await
            .map_err(|e| ExactError::store("updating the rate budget", e))
    }

    /// Sleeps until a minutely 429 resets (the header's instant, else the next calendar minute), unless that
    /// is further away than `max_wait`.
    pub async fn wait_minute_reset(&self, reset: Option<DateTime<Utc>>) -> ExactResult<()> {
        let now = self.clock.now();
        let until = reset
            .filter(|r| *r > now)
            .unwrap_or_else(|| next_minute(now));
        if until - now
            > chrono::Duration::from_std(self.max_wait).unwrap_or(chrono::Duration::minutes(2))
        {
            return Err(ExactError::RateLimited {
                until,
                daily: false,
            });
        }
        self.clock.sleep_until(until).await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn every_rate_header_family_is_read() {
        let mut h = HeaderMap::new();
        h.insert("X-RateLimit-Limit", HeaderValue::from_static("5000"));
        h.insert("X-RateLimit-Remaining", HeaderValue::from_static("4980"));
        h.insert(
            "X-RateLimit-Reset",
            HeaderValue::from_static("1638489600000"),
        );
        h.insert("X-RateLimit-Minutely-Limit", HeaderValue::from_static("60"));
        h.insert(
            "X-RateLimit-Minutely-Remaining",
            HeaderValue::from_static("49"),
        );
        h.insert(
            "X-RateLimit-Minutely-Reset",
            HeaderValue::from_static("1638447360000"),
        );
        let r = parse_rate_headers(&h);
        assert_eq!(r.day_limit, Some(5000));
        assert_eq!(r.minute_limit, Some(60));
        assert_eq!(r.observation.day_remaining, Some(4980));
        assert_eq!(r.observation.minute_remaining, Some(49));
        assert_eq!(
            r.observation.day_reset.unwrap().to_rfc3339(),
            "2021-12-03T00:00:00+00:00"
        );
        assert_eq!(
            r.observation.minute_reset.unwrap().to_rfc3339(),
            "2021-12-02T12:16:00+00:00"
        );
    }

    #[test]
    fn a_minutely_429_carries_only_the_minutely_family() {
        let mut h = HeaderMap::new();
        h.insert(
            "X-RateLimit-Minutely-Remaining",
            HeaderValue::from_static("0"),
        );
        let r = parse_rate_headers(&h);
        assert_eq!(r.observation.minute_remaining, Some(0));
        assert_eq!(r.observation.day_remaining, None);
        assert!(parse_rate_headers(&HeaderMap::new()).is_empty());
    }

    #[test]
    fn the_next_minute_is_the_next_calendar_minute() {
        let t = DateTime::parse_from_rfc3339("2026-06-15T10:00:40.5Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(next_minute(t).to_rfc3339(), "2026-06-15T10:01:00+00:00");
        let t = DateTime::parse_from_rfc3339("2026-06-15T10:01:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(next_minute(t).to_rfc3339(), "2026-06-15T10:02:00+00:00");
    }
}
