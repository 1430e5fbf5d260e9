use ledgerlink_ports::contract::tenants as suite;

use crate::helpers::spawn_store;

#[tokio::test]
async fn tenants_are_versioned() {
    let fresh = spawn_store();
    suite::tenants_are_versioned(&*fresh.store.tenants()).await;
}

#[tokio::test]
async fn tenant_list_pages_cover_every_tenant_once() {
    let fresh = spawn_store();
    suite::tenant_list_pages_cover_every_tenant_once(&*fresh.store.tenants()).await;
}
