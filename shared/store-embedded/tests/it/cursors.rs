use ledgerlink_ports::contract::cursors as suite;

use crate::helpers::spawn_store;

#[tokio::test]
async fn a_cursor_advances_only_from_the_version_read() {
    let fresh = spawn_store();
    suite::a_cursor_advances_only_from_the_version_read(&*fresh.store.cursors()).await;
}

#[tokio::test]
async fn cursors_are_separate_per_name_division_flow_and_tenant() {
    let fresh = spawn_store();
    suite::cursors_are_separate_per_name_division_flow_and_tenant(&*fresh.store.cursors()).await;
}
