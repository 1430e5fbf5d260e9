use ledgerlink_ports::contract::idempotency as suite;

use crate::helpers::spawn_store;

#[tokio::test]
async fn first_begin_starts_and_a_live_lease_reports_in_progress() {
    let fresh = spawn_store();
    suite::first_begin_starts_and_a_live_lease_reports_in_progress(&*fresh.store.idempotency())
        .await;
}

#[tokio::test]
async fn completed_record_returns_the_stored_result() {
    let fresh = spawn_store();
    suite::completed_record_returns_the_stored_result(&*fresh.store.idempotency()).await;
}

#[tokio::test]
async fn expired_in_progress_lease_can_be_taken_over() {
    let fresh = spawn_store();
    suite::expired_in_progress_lease_can_be_taken_over(&*fresh.store.idempotency()).await;
}

#[tokio::test]
async fn expired_completed_record_is_reusable() {
    let fresh = spawn_store();
    suite::expired_completed_record_is_reusable(&*fresh.store.idempotency()).await;
}

#[tokio::test]
async fn payload_mismatch_is_reported() {
    let fresh = spawn_store();
    suite::payload_mismatch_is_reported(&*fresh.store.idempotency()).await;
}

#[tokio::test]
async fn release_lets_a_retry_start_at_once() {
    let fresh = spawn_store();
    suite::release_lets_a_retry_start_at_once(&*fresh.store.idempotency()).await;
}

#[tokio::test]
async fn keys_are_independent() {
    let fresh = spawn_store();
    suite::keys_are_independent(&*fresh.store.idempotency()).await;
}

#[tokio::test]
async fn a_taken_over_claim_is_fenced_off() {
    let fresh = spawn_store();
    suite::a_taken_over_claim_is_fenced_off(&*fresh.store.idempotency()).await;
}

#[tokio::test]
async fn an_expired_lease_not_taken_over_still_completes() {
    let fresh = spawn_store();
    suite::an_expired_lease_not_taken_over_still_completes(&*fresh.store.idempotency()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_begins_start_exactly_once() {
    let fresh = spawn_store();
    suite::concurrent_begins_start_exactly_once(fresh.store.idempotency()).await;
}
