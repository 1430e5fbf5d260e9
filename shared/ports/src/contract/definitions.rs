//! Contract of [`ExportDefinitionStore`]: definitions are their own versioned records per tenant, listed in
//! id order page by page, deletable, and a large definition round-trips whole.

use ledgerlink_domain::TenantId;
use serde_json::json;

use super::{at, expect_conflict, fresh_tenant, ok};
use crate::{ExportDefinitionRecord, ExportDefinitionStore, PageRequest};

fn definition(tenant: &TenantId, id: &str) -> ExportDefinitionRecord {
    ExportDefinitionRecord {
        tenant: tenant.clone(),
        id: id.to_owned(),
        body: json!({
            "id": id,
            "name": format!("Invoices {id}"),
            "source": {"kind": "statuses", "filter": {"object_type": "invoice"}},
            "columns": [{"field": "key", "header": "Invoice"}],
            "format": "csv",
        }),
        version: 0,
        updated_at: at(0),
    }
}

/// Create, update from the version read, refuse a duplicate create and a stale update, read back.
pub async fn definitions_are_versioned(store: &dyn ExportDefinitionStore) {
    let tenant = fresh_tenant();

    let created = ok(
        store.put(&definition(&tenant, "invoices"), None).await,
        "put(create)",
    );
    let duplicate = store.put(&definition(&tenant, "invoices"), None).await;
    let mut renamed = created.clone();
    renamed.body["name"] = json!("Invoices synced this period");
    renamed.updated_at = at(5);
    let updated = ok(store.put(&renamed, Some(1)).await, "put(update)");
    let stale = store.put(&renamed, Some(1)).await;
    let missing = store
        .put(&definition(&tenant, "never-saved"), Some(1))
        .await;

    assert_eq!(created.version, 1);
    expect_conflict(duplicate, "creating an existing definition");
    assert_eq!(updated.version, 2);
    expect_conflict(stale, "updating a definition from a stale version");
    expect_conflict(missing, "updating a definition that does not exist");
    assert_eq!(
        ok(store.get(&tenant, "invoices").await, "get"),
        Some(updated),
        "get returns the last write, body and version"
    );
    assert_eq!(
        ok(store.get(&tenant, "never-saved").await, "get(missing)"),
        None
    );
}

/// A tenant's definitions, in id order across pages, and no other tenant's; delete removes one (twice is
/// fine).
pub async fn definitions_are_listed_per_tenant_in_id_order_and_deleted(
    store: &dyn ExportDefinitionStore,
) {
    let tenant = fresh_tenant();
    let other = fresh_tenant();
    for id in ["payments", "errors", "firms", "invoices", "accounts"] {
        ok(store.put(&definition(&tenant, id), None).await, "put");
    }
    ok(
        store.put(&definition(&other, "secret"), None).await,
        "put(other tenant)",
    );

    let mut ids = Vec::new();
    let mut request = PageRequest::first(2);
    loop {
        let page = ok(store.list(&tenant, request.clone()).await, "list");
        assert!(page.items.len() <= 2, "a page holds at most its limit");
        ids.extend(page.items.into_iter().map(|d| d.id));
        match page.next_cursor {
            Some(cursor) => request.cursor = Some(cursor),
            None => break,
        }
    }
    ok(store.delete(&tenant, "firms").await, "delete");
    ok(store.delete(&tenant, "firms").await, "delete(again)");
    let after = ok(
        store.list(&tenant, PageRequest::first(50)).await,
        "list(after delete)",
    );

    assert_eq!(ids, ["accounts", "errors", "firms", "invoices", "payments"]);
    assert_eq!(
        after
            .items
            .iter()
            .map(|d| d.id.as_str())
            .collect::<Vec<_>>(),
        ["accounts", "errors", "invoices", "payments"]
    );
    assert_eq!(ok(store.get(&tenant, "firms").await, "get(deleted)"), None);
    assert_eq!(
        ok(store.get(&other, "secret").await, "get(other)").map(|d| d.tenant),
        Some(other),
        "another tenant's definition is untouched"
    );
}

/// A definition of 300 columns (far more than a tenant record's share of an item could hold alongside the
/// tenant's settings) round-trips whole.
pub async fn a_large_definition_round_trips_whole(store: &dyn ExportDefinitionStore) {
    let tenant = fresh_tenant();
    let mut big = definition(&tenant, "everything");
    big.body["columns"] = (0..300)
        .map(|i| json!({"field": format!("field_{i}"), "header": format!("Column number {i} — {}", "x".repeat(40))}))
        .collect();

    let saved = ok(store.put(&big, None).await, "put(large)");

    assert_eq!(
        ok(store.get(&tenant, "everything").await, "get(large)").map(|d| d.body),
        Some(saved.body)
    );
}

pub async fn run_all(store: &dyn ExportDefinitionStore) {
    definitions_are_versioned(store).await;
    definitions_are_listed_per_tenant_in_id_order_and_deleted(store).await;
    a_large_definition_round_trips_whole(store).await;
}
