//! Contract of [`RateBudget`]: per key, a calendar-minute window and a UTC-day window, shared by every caller,
//! aligned with what the server reports.

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};

use super::{at, race, unique};
use crate::{RateBudget, RateDecision, RateLimits, RateObservation};

async fn acquire(
    store: &dyn RateBudget,
    key: &str,
    limits: RateLimits,
    now: DateTime<Utc>,
) -> RateDecision {
    match store.acquire(key, limits, now).await {
        Ok(decision) => decision,
        Err(e) => panic!("acquire({key:?}) failed: {e}"),
    }
}

async fn observe(
    store: &dyn RateBudget,
    key: &str,
    limits: RateLimits,
    observation: RateObservation,
    now: DateTime<Utc>,
) {
    if let Err(e) = store.observe(key, limits, observation, now).await {
        panic!("observe({key:?}) failed: {e}");
    }
}

fn next_utc_midnight() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 16, 0, 0, 0)
        .single()
        .unwrap_or_default()
}

/// The minute budget is per calendar minute: used up at 10:00:xx, it is back at 10:01:00.
pub async fn minute_budget_is_a_calendar_minute(store: &dyn RateBudget) {
    let key = unique("rate-minute");
    let limits = RateLimits {
        per_minute: 3,
        per_day: 1000,
    };

    let mut granted = Vec::new();
    for secs in [10, 20, 30] {
        granted.push(acquire(store, &key, limits, at(secs)).await);
    }
    let exhausted = acquire(store, &key, limits, at(59)).await;
    let next_minute = acquire(store, &key, limits, at(60)).await;

    assert!(
        granted.iter().all(|d| *d == RateDecision::Granted),
        "the first 3 calls of the minute must be granted: {granted:?}"
    );
    assert_eq!(
        exhausted,
        RateDecision::WaitUntil {
            until: at(60),
            daily: false
        },
        "the 4th call must wait until the next calendar minute"
    );
    assert_eq!(
        next_minute,
        RateDecision::Granted,
        "a new calendar minute must have a fresh budget"
    );
}

/// The day budget is per UTC day and resets at midnight UTC.
pub async fn day_budget_resets_at_utc_midnight(store: &dyn RateBudget) {
    let key = unique("rate-day");
    let limits = RateLimits {
        per_minute: 100,
        per_day: 2,
    };

    let first = acquire(store, &key, limits, at(0)).await;
    let second = acquire(store, &key, limits, at(60)).await;
    let exhausted = acquire(store, &key, limits, at(300)).await;
    let tomorrow = acquire(store, &key, limits, next_utc_midnight()).await;

    assert_eq!(
        (first, second),
        (RateDecision::Granted, RateDecision::Granted)
    );
    assert_eq!(
        exhausted,
        RateDecision::WaitUntil {
            until: next_utc_midnight(),
            daily: true
        },
        "an exhausted day must wait until the next UTC midnight, flagged daily"
    );
    assert_eq!(
        tomorrow,
        RateDecision::Granted,
        "the day budget must reset at UTC midnight"
    );
}

/// A refused call takes nothing: waiting out the minute does not cost day budget.
pub async fn refused_calls_do_not_consume_budget(store: &dyn RateBudget) {
    let key = unique("rate-refused");
    let limits = RateLimits {
        per_minute: 1,
        per_day: 2,
    };

    let first = acquire(store, &key, limits, at(0)).await;
    let refused = acquire(store, &key, limits, at(30)).await;
    let next_minute = acquire(store, &key, limits, at(60)).await;
    let day_spent = acquire(store, &key, limits, at(120)).await;

    assert_eq!(first, RateDecision::Granted);
    assert_eq!(
        refused,
        RateDecision::WaitUntil {
            until: at(60),
            daily: false
        }
    );
    assert_eq!(
        next_minute,
        RateDecision::Granted,
        "the refused call must not have used day budget"
    );
    assert_eq!(
        day_spent,
        RateDecision::WaitUntil {
            until: next_utc_midnight(),
            daily: true
        }
    );
}

/// Keys (client id + division) have separate budgets.
pub async fn keys_have_separate_budgets(store: &dyn RateBudget) {
    let key_a = unique("rate-a");
    let key_b = unique("rate-b");
    let limits = RateLimits {
        per_minute: 1,
        per_day: 10,
    };
    assert_eq!(
        acquire(store, &key_a, limits, at(0)).await,
        RateDecision::Granted
    );

    let other_key = acquire(store, &key_b, limits, at(1)).await;

    assert_eq!(
        other_key,
        RateDecision::Granted,
        "one key's spent minute must not block another key"
    );
}

/// The server's remaining count lowers the shared budget (another process, or calls made outside Ledgerlink).
pub async fn observe_lowers_the_budget_to_what_the_server_reports(store: &dyn RateBudget) {
    let minute_key = unique("rate-obs-minute");
    let day_key = unique("rate-obs-day");
    let limits = RateLimits {
        per_minute: 60,
        per_day: 5000,
    };
    assert_eq!(
        acquire(store, &minute_key, limits, at(5)).await,
        RateDecision::Granted
    );
    assert_eq!(
        acquire(store, &day_key, limits, at(5)).await,
        RateDecision::Granted
    );

    let minute_obs = RateObservation {
        minute_remaining: Some(0),
        minute_reset: Some(at(60)),
        ..Default::default()
    };
    observe(store, &minute_key, limits, minute_obs, at(6)).await;
    let day_obs = RateObservation {
        day_remaining: Some(0),
        day_reset: Some(next_utc_midnight()),
        ..Default::default()
    };
    observe(store, &day_key, limits, day_obs, at(6)).await;
    let minute_after = acquire(store, &minute_key, limits, at(7)).await;
    let day_after = acquire(store, &day_key, limits, at(7)).await;

    assert_eq!(
        minute_after,
        RateDecision::WaitUntil {
            until: at(60),
            daily: false
        },
        "a server-reported minute remaining of 0 must make callers wait for the next minute"
    );
    assert_eq!(
        day_after,
        RateDecision::WaitUntil {
            until: next_utc_midnight(),
            daily: true
        },
        "a server-reported day remaining of 0 must make callers wait for UTC midnight"
    );
}

/// An observation never gives back budget the shared counters already spent (responses arrive out of order).
pub async fn observe_never_gives_back_spent_budget(store: &dyn RateBudget) {
    let key = unique("rate-obs-up");
    let limits = RateLimits {
        per_minute: 3,
        per_day: 5000,
    };
    for secs in 0..3 {
        assert_eq!(
            acquire(store, &key, limits, at(secs)).await,
            RateDecision::Granted
        );
    }

    let stale = RateObservation {
        minute_remaining: Some(3),
        minute_reset: Some(at(60)),
        day_remaining: Some(5000),
        day_reset: Some(next_utc_midnight()),
    };
    observe(store, &key, limits, stale, at(4)).await;
    let after = acquire(store, &key, limits, at(5)).await;

    assert_eq!(
        after,
        RateDecision::WaitUntil {
            until: at(60),
            daily: false
        },
        "an observation with more remaining than the counters must not raise the budget"
    );
}

/// 16 callers race for a minute budget of 10: exactly 10 are granted, whatever the interleaving.
pub async fn concurrent_acquires_never_exceed_the_budget(store: Arc<dyn RateBudget>) {
    let key = unique("rate-race");
    let limits = RateLimits {
        per_minute: 10,
        per_day: 5000,
    };

    let outcomes = race(16, |_| {
        let store = store.clone();
        let key = key.clone();
        async move { store.acquire(&key, limits, at(1)).await }
    })
    .await;

    let mut granted = 0;
    for outcome in outcomes {
        match outcome {
            Ok(RateDecision::Granted) => granted += 1,
            Ok(RateDecision::WaitUntil { until, daily }) => {
                assert_eq!(
                    (until, daily),
                    (at(60), false),
                    "a refused racer must wait for the next minute"
                );
            }
            Err(e) => panic!("a racing acquire failed: {e}"),
        }
    }
    assert_eq!(
        granted, 10,
        "exactly the minute budget (10) of 16 racing calls must be granted"
    );
}

/// `used_today` counts the calls granted in the UTC day of `now` (and what the server reported), per key,
/// and starts again at midnight; reading it takes nothing.
pub async fn used_today_counts_the_day_s_calls_per_key(store: &dyn RateBudget) {
    let key = unique("rate-used");
    let other = unique("rate-used-other");
    let limits = RateLimits {
        per_minute: 100,
        per_day: 1000,
    };
    let used = |key: String, now: DateTime<Utc>| async move {
        match store.used_today(&key, now).await {
            Ok(n) => n,
            Err(e) => panic!("used_today({key:?}) failed: {e}"),
        }
    };
    assert_eq!(
        used(key.clone(), at(0)).await,
        0,
        "a key never used has used nothing"
    );
    for i in 0..3 {
        acquire(store, &key, limits, at(i)).await;
    }
    acquire(store, &other, limits, at(1)).await;

    assert_eq!(used(key.clone(), at(5)).await, 3);
    assert_eq!(used(key.clone(), at(5)).await, 3, "reading takes nothing");
    assert_eq!(used(other.clone(), at(5)).await, 1);
    observe(
        store,
        &key,
        limits,
        RateObservation {
            day_remaining: Some(990),
            ..RateObservation::default()
        },
        at(6),
    )
    .await;
    assert_eq!(
        used(key.clone(), at(7)).await,
        10,
        "the server's count counts"
    );
    assert_eq!(
        used(key.clone(), next_utc_midnight()).await,
        0,
        "a new UTC day starts at 0"
    );
}

/// Every case of this suite, in sequence.
pub async fn run_all(store: Arc<dyn RateBudget>) {
    used_today_counts_the_day_s_calls_per_key(&*store).await;
    minute_budget_is_a_calendar_minute(&*store).await;
    day_budget_resets_at_utc_midnight(&*store).await;
    refused_calls_do_not_consume_budget(&*store).await;
    keys_have_separate_budgets(&*store).await;
    observe_lowers_the_budget_to_what_the_server_reports(&*store).await;
    observe_never_gives_back_spent_budget(&*store).await;
    concurrent_acquires_never_exceed_the_budget(store).await;
}
