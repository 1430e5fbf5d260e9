use std::sync::Arc;
use std::time::Duration;

use ledgerlink_ports::contract::{at, race, tokens as suite};
use ledgerlink_ports::{LeaseOutcome, TokenStore};
use ledgerlink_store_embedded::EmbeddedStore;

use crate::helpers::spawn_store;

#[tokio::test]
async fn load_of_an_unknown_connection_is_none() {
    let fresh = spawn_store();
    suite::load_of_an_unknown_connection_is_none(&*fresh.store.tokens()).await;
}

#[tokio::test]
async fn save_initial_round_trips_and_bumps_the_generation() {
    let fresh = spawn_store();
    suite::save_initial_round_trips_and_bumps_the_generation(&*fresh.store.tokens()).await;
}

#[tokio::test]
async fn lease_is_exclusive_until_it_expires() {
    let fresh = spawn_store();
    suite::lease_is_exclusive_until_it_expires(&*fresh.store.tokens()).await;
}

#[tokio::test]
async fn save_and_release_requires_holding_the_lease() {
    let fresh = spawn_store();
    suite::save_and_release_requires_holding_the_lease(&*fresh.store.tokens()).await;
}

#[tokio::test]
async fn a_stale_holder_cannot_release_its_successors_lease() {
    let fresh = spawn_store();
    suite::a_stale_holder_cannot_release_its_successors_lease(&*fresh.store.tokens()).await;
}

#[tokio::test]
async fn release_frees_the_lease_only_for_its_holder() {
    let fresh = spawn_store();
    suite::release_frees_the_lease_only_for_its_holder(&*fresh.store.tokens()).await;
}

#[tokio::test]
async fn leases_of_different_connections_are_independent() {
    let fresh = spawn_store();
    suite::leases_of_different_connections_are_independent(&*fresh.store.tokens()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_leases_are_granted_exactly_once() {
    let fresh = spawn_store();
    suite::concurrent_leases_are_granted_exactly_once(fresh.store.tokens()).await;
}

/// Two stores opened on the same file stand for two processes: each has its own SQLite connection, so only
/// the database's own locking (not a shared mutex) keeps the lease single-flight.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_stores_on_one_file_grant_the_lease_exactly_once() {
    let fresh = spawn_store();
    let other = EmbeddedStore::open(fresh.dir.path().join("state.db")).unwrap();
    let stores: [Arc<dyn TokenStore>; 2] = [fresh.store.tokens(), other.tokens()];

    let outcomes = race(16, |i| {
        let store = stores[i % 2].clone();
        async move {
            store
                .try_lease(
                    "exact:shared",
                    &format!("process-{i}"),
                    Duration::from_secs(30),
                    at(0),
                )
                .await
        }
    })
    .await;

    let acquired = outcomes
        .iter()
        .filter(|o| matches!(o, Ok(LeaseOutcome::Acquired)))
        .count();
    let held = outcomes
        .iter()
        .filter(|o| matches!(o, Ok(LeaseOutcome::HeldByOther { .. })))
        .count();
    assert_eq!((acquired, held), (1, 15), "outcomes: {outcomes:?}");
}

#[tokio::test]
async fn a_save_after_the_lease_was_taken_over_conflicts() {
    let fresh = spawn_store();
    suite::a_save_after_the_lease_was_taken_over_conflicts(&*fresh.store.tokens()).await;
}
