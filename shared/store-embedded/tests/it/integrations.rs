use ledgerlink_ports::contract::integrations as suite;

use crate::helpers::spawn_store;

#[tokio::test]
async fn integrations_are_versioned_listed_and_deleted() {
    let fresh = spawn_store();
    suite::integrations_are_versioned_listed_and_deleted(&*fresh.store.integrations()).await;
}

#[tokio::test]
async fn the_latest_run_of_a_task_in_a_period_wins() {
    let fresh = spawn_store();
    suite::the_latest_run_of_a_task_in_a_period_wins(&*fresh.store.integrations()).await;
}
