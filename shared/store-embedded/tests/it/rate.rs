use std::sync::Arc;

use ledgerlink_ports::contract::{at, race, rate as suite};
use ledgerlink_ports::{RateBudget, RateDecision, RateLimits};
use ledgerlink_store_embedded::EmbeddedStore;

use crate::helpers::spawn_store;

#[tokio::test]
async fn minute_budget_is_a_calendar_minute() {
    let fresh = spawn_store();
    suite::minute_budget_is_a_calendar_minute(&*fresh.store.rate()).await;
}

#[tokio::test]
async fn day_budget_resets_at_utc_midnight() {
    let fresh = spawn_store();
    suite::day_budget_resets_at_utc_midnight(&*fresh.store.rate()).await;
}

#[tokio::test]
async fn refused_calls_do_not_consume_budget() {
    let fresh = spawn_store();
    suite::refused_calls_do_not_consume_budget(&*fresh.store.rate()).await;
}

#[tokio::test]
async fn keys_have_separate_budgets() {
    let fresh = spawn_store();
    suite::keys_have_separate_budgets(&*fresh.store.rate()).await;
}

#[tokio::test]
async fn observe_lowers_the_budget_to_what_the_server_reports() {
    let fresh = spawn_store();
    suite::observe_lowers_the_budget_to_what_the_server_reports(&*fresh.store.rate()).await;
}

#[tokio::test]
async fn observe_never_gives_back_spent_budget() {
    let fresh = spawn_store();
    suite::observe_never_gives_back_spent_budget(&*fresh.store.rate()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_acquires_never_exceed_the_budget() {
    let fresh = spawn_store();
    suite::concurrent_acquires_never_exceed_the_budget(fresh.store.rate()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_stores_on_one_file_share_one_budget() {
    let fresh = spawn_store();
    let other = EmbeddedStore::open(fresh.dir.path().join("state.db")).unwrap();
    let stores: [Arc<dyn RateBudget>; 2] = [fresh.store.rate(), other.rate()];
    let limits = RateLimits {
        per_minute: 5,
        per_day: 5000,
    };

    let outcomes = race(12, |i| {
        let store = stores[i % 2].clone();
        async move { store.acquire("client#1", limits, at(0)).await }
    })
    .await;

    let granted = outcomes
        .iter()
        .filter(|o| matches!(o, Ok(RateDecision::Granted)))
        .count();
    assert_eq!(granted, 5, "outcomes: {outcomes:?}");
}
