use ledgerlink_ports::contract::lookups as suite;

use crate::helpers::spawn_store;

#[tokio::test]
async fn rows_are_versioned() {
    let fresh = spawn_store();
    suite::rows_are_versioned(&*fresh.store.lookups()).await;
}

#[tokio::test]
async fn rows_list_in_key_order_per_table() {
    let fresh = spawn_store();
    suite::rows_list_in_key_order_per_table(&*fresh.store.lookups()).await;
}

#[tokio::test]
async fn delete_removes_a_row() {
    let fresh = spawn_store();
    suite::delete_removes_a_row(&*fresh.store.lookups()).await;
}
