use ledgerlink_ports::contract::jobs as suite;

use crate::helpers::spawn_store;

#[tokio::test]
async fn jobs_are_created_once_and_updated_optimistically() {
    let fresh = spawn_store();
    suite::jobs_are_created_once_and_updated_optimistically(&*fresh.store.jobs()).await;
}

#[tokio::test]
async fn jobs_list_newest_first_per_kind() {
    let fresh = spawn_store();
    suite::jobs_list_newest_first_per_kind(&*fresh.store.jobs()).await;
}

#[tokio::test]
async fn expired_leases_finds_only_started_jobs_past_their_lease() {
    let fresh = spawn_store();
    suite::expired_leases_finds_only_started_jobs_past_their_lease(&*fresh.store.jobs()).await;
}
