//! Time as a dependency. Everything that decides by time — token expiry, the 570-second refresh rule, rate
//! windows, leases, TTLs — reads a [`Clock`] it was given, so tests (and the emulators, which share a clock
//! with the clients under test) can move time forward instead of sleeping.

use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use parking_lot::Mutex;

pub type SleepFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// A source of "now" and a way to wait until a later instant.
pub trait Clock: Send + Sync + Debug {
    fn now(&self) -> DateTime<Utc>;
    /// Completes at (or after) `until`. On a [`ManualClock`] it moves time forward instead of waiting.
    fn sleep_until(&self, until: DateTime<Utc>) -> SleepFuture;
    /// Completes after `duration`.
    fn sleep(&self, duration: Duration) -> SleepFuture {
        let until =
            self.now() + chrono::Duration::from_std(duration).unwrap_or(chrono::Duration::MAX);
        self.sleep_until(until)
    }
}

pub type SharedClock = Arc<dyn Clock>;

/// Wall-clock time and real sleeping.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl SystemClock {
    pub fn shared() -> SharedClock {
        Arc::new(Self)
    }
}

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
    fn sleep_until(&self, until: DateTime<Utc>) -> SleepFuture {
        let wait = (until - Utc::now()).to_std().unwrap_or(Duration::ZERO);
        Box::pin(tokio::time::sleep(wait))
    }
}

/// Virtual time for tests: starts at a given instant and only moves when told to, or when someone sleeps
/// (sleeping until `t` sets now to `t` if that is later, then yields). Clones share the same time.
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<Mutex<DateTime<Utc>>>,
}

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        Self {
            now: Arc::new(Mutex::new(start)),
        }
    }
    /// A clock at 2026-06-15 10:00:00 UTC, a fixed instant so tests are reproducible.
    pub fn fixed() -> Self {
        let start = DateTime::parse_from_rfc3339("2026-06-15T10:00:00Z")
            .map(|d| d.with_timezone(&Utc))
            .unwrap_or_default();
        Self::new(start)
    }
    pub fn shared(&self) -> SharedClock {
        Arc::new(self.clone())
    }
    pub fn advance(&self, by: Duration) {
        let by = chrono::Duration::from_std(by).unwrap_or(chrono::Duration::zero());
        *self.now.lock() += by;
    }
    pub fn set(&self, to: DateTime<Utc>) {
        *self.now.lock() = to;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock()
    }
    fn sleep_until(&self, until: DateTime<Utc>) -> SleepFuture {
        {
            let mut now = self.now.lock();
            if until > *now {
                *now = until;
            }
        }
        Box::pin(tokio::task::yield_now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sleeping_on_a_manual_clock_moves_time_forward_without_waiting() {
        let clock = ManualClock::fixed();
        let start = clock.now();
        let wall = std::time::Instant::now();
        clock.sleep(Duration::from_secs(3600)).await;
        assert_eq!(clock.now() - start, chrono::Duration::hours(1));
        assert!(wall.elapsed() < Duration::from_secs(5));
    }

    #[tokio::test]
    async fn sleeping_until_the_past_does_not_move_time_back() {
        let clock = ManualClock::fixed();
        let start = clock.now();
        clock
            .sleep_until(start - chrono::Duration::seconds(10))
            .await;
        assert_eq!(clock.now(), start);
    }
}
