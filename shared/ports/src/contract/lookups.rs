//! Contract of [`LookupStore`]: versioned rows per tenant and table, listed in key order.

use std::collections::BTreeMap;

use ledgerlink_domain::TenantId;

use super::{at, expect_conflict, fresh_tenant, ok};
use crate::{LookupEntry, LookupStore, LookupTable, PageRequest};

fn entry(key: &str, rate: &str) -> LookupEntry {
    LookupEntry {
        key: key.to_owned(),
        columns: BTreeMap::from([
            ("rate".to_owned(), rate.to_owned()),
            ("description".to_owned(), format!("VAT {rate}")),
        ]),
        version: 0,
        updated_at: at(0),
        updated_by: "operator".to_owned(),
    }
}

async fn list_all(
    store: &dyn LookupStore,
    tenant: &TenantId,
    table: LookupTable,
    limit: u32,
) -> Vec<LookupEntry> {
    let mut all = Vec::new();
    let mut request = PageRequest::first(limit);
    for _ in 0..1000 {
        let page = ok(
            store.list(tenant, table, request.clone()).await,
            "LookupStore::list",
        );
        assert!(
            page.items.len() <= limit as usize,
            "a page must not exceed the requested limit"
        );
        all.extend(page.items);
        match page.next_cursor {
            Some(cursor) => {
                request = PageRequest {
                    limit,
                    cursor: Some(cursor),
                }
            }
            None => return all,
        }
    }
    panic!("LookupStore::list never stopped returning a next cursor");
}

/// Rows are created at version 1 and updated only from the version read.
pub async fn rows_are_versioned(store: &dyn LookupStore) {
    let tenant = fresh_tenant();
    let table = LookupTable::TaxCodes;

    let created = ok(
        store.put(&tenant, table, &entry("21", "21%"), None).await,
        "put(create)",
    );
    let duplicate = store.put(&tenant, table, &entry("21", "21%"), None).await;
    let updated = ok(
        store
            .put(&tenant, table, &entry("21", "21.0%"), Some(1))
            .await,
        "put(update)",
    );
    let stale = store.put(&tenant, table, &entry("21", "9%"), Some(1)).await;
    let fetched = ok(store.get(&tenant, table, "21").await, "get");

    assert_eq!(created.version, 1);
    expect_conflict(duplicate, "creating an existing lookup row");
    assert_eq!(updated.version, 2);
    expect_conflict(stale, "updating a lookup row from a stale version");
    assert_eq!(fetched, Some(updated), "get must return the latest row");
}

/// Rows list in key order across pages, exactly once; tables and tenants are separate.
pub async fn rows_list_in_key_order_per_table(store: &dyn LookupStore) {
    let tenant = fresh_tenant();
    let keys = ["09", "21", "00", "VN", "KL", "ZZ", "A1"];
    for key in keys {
        ok(
            store
                .put(&tenant, LookupTable::TaxCodes, &entry(key, "x"), None)
                .await,
            "put",
        );
    }
    ok(
        store
            .put(&tenant, LookupTable::Currencies, &entry("EUR", "1"), None)
            .await,
        "put",
    );
    ok(
        store
            .put(
                &fresh_tenant(),
                LookupTable::TaxCodes,
                &entry("99", "1"),
                None,
            )
            .await,
        "put",
    );

    let listed: Vec<String> = list_all(store, &tenant, LookupTable::TaxCodes, 3)
        .await
        .into_iter()
        .map(|e| e.key)
        .collect();

    let mut expected: Vec<String> = keys.iter().map(|k| (*k).to_owned()).collect();
    expected.sort();
    assert_eq!(
        listed, expected,
        "rows must list in key order, each exactly once, only from this tenant and table"
    );
}

/// Delete removes a row; deleting a missing row is fine.
pub async fn delete_removes_a_row(store: &dyn LookupStore) {
    let tenant = fresh_tenant();
    ok(
        store
            .put(&tenant, LookupTable::BankCodes, &entry("ING", "x"), None)
            .await,
        "put",
    );

    ok(
        store.delete(&tenant, LookupTable::BankCodes, "ING").await,
        "delete",
    );
    let missing = store.delete(&tenant, LookupTable::BankCodes, "ING").await;

    assert_eq!(
        ok(
            store.get(&tenant, LookupTable::BankCodes, "ING").await,
            "get"
        ),
        None
    );
    assert!(
        missing.is_ok(),
        "deleting a missing row must succeed, got {missing:?}"
    );
    let recreated = ok(
        store
            .put(&tenant, LookupTable::BankCodes, &entry("ING", "y"), None)
            .await,
        "put after delete",
    );
    assert_eq!(
        recreated.version, 1,
        "a row created after a delete starts again at version 1"
    );
}

/// Every case of this suite, in sequence.
pub async fn run_all(store: &dyn LookupStore) {
    rows_are_versioned(store).await;
    rows_list_in_key_order_per_table(store).await;
    delete_removes_a_row(store).await;
}
