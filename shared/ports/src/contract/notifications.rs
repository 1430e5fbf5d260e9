//! Contract of [`NotificationOutbox`]: first push of an id wins, newest first, delivery marked once read.

use ledgerlink_domain::TenantId;

use super::{at, fresh_tenant, ok};
use crate::{Notification, NotificationKind, NotificationOutbox, PageRequest, StoreError};

fn notification(tenant: &TenantId, id: &str, subject: &str, secs: i64) -> Notification {
    Notification {
        tenant: tenant.clone(),
        id: id.to_owned(),
        kind: NotificationKind::ExportFinished,
        recipient: "jdoe".into(),
        subject: subject.to_owned(),
        body: "Your export is ready.".into(),
        link: Some("/exports/job-0001".into()),
        created_at: at(secs),
        delivered_at: None,
    }
}

/// Pushing the same id twice keeps the first.
pub async fn pushing_an_id_twice_keeps_the_first(store: &dyn NotificationOutbox) {
    let tenant = fresh_tenant();
    let first = notification(&tenant, "n-1", "first", 1);

    ok(store.push(&first).await, "push");
    ok(
        store.push(&notification(&tenant, "n-1", "second", 2)).await,
        "push(same id)",
    );
    let listed = ok(store.list(&tenant, PageRequest::first(10)).await, "list");

    assert_eq!(
        listed.items,
        vec![first.clone()],
        "the first push of an id must win"
    );
    let got = ok(store.get(&tenant, "n-1").await, "get");
    assert_eq!(got, Some(first), "get returns the stored notification");
    let missing = ok(store.get(&tenant, "n-2").await, "get(unknown id)");
    assert_eq!(missing, None);
    let other = ok(store.get(&fresh_tenant(), "n-1").await, "get(other tenant)");
    assert_eq!(other, None, "another tenant's notification is not found");
}

/// Notifications list newest first, every one exactly once across pages, only the tenant's own.
pub async fn notifications_list_newest_first(store: &dyn NotificationOutbox) {
    let tenant = fresh_tenant();
    for i in 0..7_i64 {
        // Two share each instant, so ties must be ordered consistently across pages.
        ok(
            store
                .push(&notification(&tenant, &format!("n-{i}"), "s", i / 2))
                .await,
            "push",
        );
    }
    ok(
        store
            .push(&notification(&fresh_tenant(), "n-x", "s", 100))
            .await,
        "push(other tenant)",
    );

    let mut seen = Vec::new();
    let mut request = PageRequest::first(3);
    loop {
        let page = ok(store.list(&tenant, request.clone()).await, "list");
        assert!(page.items.len() <= 3, "a page must not exceed the limit");
        seen.extend(page.items);
        match page.next_cursor {
            Some(cursor) => {
                request = PageRequest {
                    limit: 3,
                    cursor: Some(cursor),
                }
            }
            None => break,
        }
        assert!(seen.len() <= 100, "list never ends");
    }

    let mut ids: Vec<&str> = seen.iter().map(|n| n.id.as_str()).collect();
    assert!(
        seen.windows(2).all(|w| w[0].created_at >= w[1].created_at),
        "the list must be newest first"
    );
    ids.sort();
    assert_eq!(
        ids,
        ["n-0", "n-1", "n-2", "n-3", "n-4", "n-5", "n-6"],
        "every notification exactly once"
    );
}

/// `mark_delivered` records the delivery time; an unknown id is NotFound.
pub async fn mark_delivered_records_the_delivery(store: &dyn NotificationOutbox) {
    let tenant = fresh_tenant();
    ok(
        store.push(&notification(&tenant, "n-1", "s", 1)).await,
        "push",
    );

    ok(
        store.mark_delivered(&tenant, "n-1", at(50)).await,
        "mark_delivered",
    );
    let unknown = store.mark_delivered(&tenant, "n-404", at(50)).await;
    let listed = ok(store.list(&tenant, PageRequest::first(10)).await, "list");

    assert_eq!(
        listed.items.first().and_then(|n| n.delivered_at),
        Some(at(50))
    );
    assert!(
        matches!(unknown, Err(StoreError::NotFound { .. })),
        "an unknown id must be NotFound, got {unknown:?}"
    );
}

/// Every case of this suite, in sequence.
pub async fn run_all(store: &dyn NotificationOutbox) {
    pushing_an_id_twice_keeps_the_first(store).await;
    notifications_list_newest_first(store).await;
    mark_delivered_records_the_delivery(store).await;
}
