//! Contract of [`CursorStore`]: a cursor advances only from the version that was read.

use ledgerlink_domain::{Division, Flow, TenantId};

use super::{at, expect_conflict, fresh_tenant, ok};
use crate::{Cursor, CursorStore};

fn cursor(tenant: &TenantId, name: &str, division: u32, value: &str) -> Cursor {
    Cursor {
        tenant: tenant.clone(),
        flow: Flow::InvoiceOut,
        name: name.to_owned(),
        division: Division(division),
        value: value.to_owned(),
        version: 0,
        updated_at: at(0),
    }
}

/// A cursor is created at version 1 and advances only from the version read.
pub async fn a_cursor_advances_only_from_the_version_read(store: &dyn CursorStore) {
    let tenant = fresh_tenant();
    let missing = ok(
        store
            .get(&tenant, Flow::InvoiceOut, "PSALedger/IN", Division(1))
            .await,
        "get",
    );

    let created = ok(
        store
            .put(&cursor(&tenant, "PSALedger/IN", 1, "2026-06-01"), None)
            .await,
        "put(create)",
    );
    let duplicate = store
        .put(&cursor(&tenant, "PSALedger/IN", 1, "2026-06-02"), None)
        .await;
    let advanced = ok(
        store
            .put(&cursor(&tenant, "PSALedger/IN", 1, "2026-06-03"), Some(1))
            .await,
        "put(advance)",
    );
    let stale = store
        .put(&cursor(&tenant, "PSALedger/IN", 1, "2026-05-01"), Some(1))
        .await;

    assert_eq!(missing, None, "an unknown cursor reads as None");
    assert_eq!(created.version, 1);
    expect_conflict(duplicate, "creating an existing cursor");
    assert_eq!(advanced.version, 2);
    expect_conflict(stale, "moving a cursor from a stale version");
    let fetched = ok(
        store
            .get(&tenant, Flow::InvoiceOut, "PSALedger/IN", Division(1))
            .await,
        "get",
    );
    assert_eq!(
        fetched,
        Some(advanced),
        "get returns the last successful put"
    );
}

/// Cursors are separate per name, division, flow and tenant.
pub async fn cursors_are_separate_per_name_division_flow_and_tenant(store: &dyn CursorStore) {
    let tenant = fresh_tenant();
    ok(
        store
            .put(&cursor(&tenant, "PSALedger/IN", 1, "a"), None)
            .await,
        "put",
    );

    let other_name = store
        .put(&cursor(&tenant, "PSALedger/CN", 1, "b"), None)
        .await;
    let other_division = store
        .put(&cursor(&tenant, "PSALedger/IN", 2, "c"), None)
        .await;
    let mut other_flow = cursor(&tenant, "PSALedger/IN", 1, "d");
    other_flow.flow = Flow::PaymentIn;
    let other_flow = store.put(&other_flow, None).await;
    let other_tenant = store
        .put(&cursor(&fresh_tenant(), "PSALedger/IN", 1, "e"), None)
        .await;

    for (what, result) in [
        ("name", other_name),
        ("division", other_division),
        ("flow", other_flow),
        ("tenant", other_tenant),
    ] {
        assert!(
            result.is_ok(),
            "a cursor with another {what} must be independent, got {result:?}"
        );
    }
    let fetched = ok(
        store
            .get(&tenant, Flow::InvoiceOut, "PSALedger/IN", Division(1))
            .await,
        "get",
    );
    assert_eq!(fetched.map(|c| c.value).as_deref(), Some("a"));
}

/// Every case of this suite, in sequence.
pub async fn run_all(store: &dyn CursorStore) {
    a_cursor_advances_only_from_the_version_read(store).await;
    cursors_are_separate_per_name_division_flow_and_tenant(store).await;
}
