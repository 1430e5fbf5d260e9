//! Contract of [`LinkStore`]: both directions written together, conflicts on a different id, idempotent
//! re-link, unlink of both directions, the sync state kept with the link, and an operator's relink.

use ledgerlink_domain::{ObjectType, TenantId};

use super::{at, expect_conflict, fresh_tenant, ok};
use crate::{IdLink, LinkStore, LinkSync};

fn link(tenant: &TenantId, object_type: ObjectType, vp_key: &str, exact_id: &str) -> IdLink {
    IdLink::new(tenant.clone(), object_type, vp_key, exact_id, at(0))
}

fn sync_state(n: i64) -> LinkSync {
    LinkSync {
        vp_hash: Some(format!("vp-hash-{n}")),
        vp_version: Some(at(n).naive_utc()),
        ledger_hash: Some(format!("ledger-hash-{n}")),
        ledger_version: Some(at(n + 1)),
        synced_at: at(n + 2),
    }
}

/// A link is readable both ways.
pub async fn a_link_is_readable_both_ways(store: &dyn LinkStore) {
    let tenant = fresh_tenant();

    ok(
        store
            .link(&link(&tenant, ObjectType::Firm, "ACME", "guid-1"))
            .await,
        "link",
    );

    let exact = ok(
        store.exact_id(&tenant, ObjectType::Firm, "ACME").await,
        "exact_id",
    );
    let vp = ok(
        store.vp_key(&tenant, ObjectType::Firm, "guid-1").await,
        "vp_key",
    );
    let unknown = ok(
        store.exact_id(&tenant, ObjectType::Firm, "OTHER").await,
        "exact_id(unknown)",
    );
    assert_eq!(exact.as_deref(), Some("guid-1"));
    assert_eq!(vp.as_deref(), Some("ACME"));
    assert_eq!(unknown, None, "an unlinked key must read as None");
}

/// Writing the same link again is a no-op; linking either side to something else is a Conflict that
/// leaves the existing link intact.
pub async fn relinking_is_idempotent_and_a_different_id_conflicts(store: &dyn LinkStore) {
    let tenant = fresh_tenant();
    ok(
        store
            .link(&link(&tenant, ObjectType::Firm, "ACME", "guid-1"))
            .await,
        "link",
    );

    let same = store
        .link(&link(&tenant, ObjectType::Firm, "ACME", "guid-1"))
        .await;
    let vp_to_other = store
        .link(&link(&tenant, ObjectType::Firm, "ACME", "guid-2"))
        .await;
    let other_to_exact = store
        .link(&link(&tenant, ObjectType::Firm, "BETA", "guid-1"))
        .await;

    assert!(
        same.is_ok(),
        "writing the same link again must succeed, got {same:?}"
    );
    expect_conflict(
        vp_to_other,
        "linking a linked VP key to a different Exact id",
    );
    expect_conflict(
        other_to_exact,
        "linking a linked Exact id to a different VP key",
    );
    assert_eq!(
        ok(
            store.exact_id(&tenant, ObjectType::Firm, "ACME").await,
            "exact_id"
        )
        .as_deref(),
        Some("guid-1")
    );
    assert_eq!(
        ok(
            store.vp_key(&tenant, ObjectType::Firm, "guid-1").await,
            "vp_key"
        )
        .as_deref(),
        Some("ACME")
    );
    assert_eq!(
        ok(
            store.vp_key(&tenant, ObjectType::Firm, "guid-2").await,
            "vp_key"
        ),
        None,
        "a refused link must leave no trace"
    );
    assert_eq!(
        ok(
            store.exact_id(&tenant, ObjectType::Firm, "BETA").await,
            "exact_id"
        ),
        None,
        "a refused link must leave no trace"
    );
}

/// Unlink removes both directions, after which the key may be linked anew; unlinking nothing is fine.
pub async fn unlink_removes_both_directions(store: &dyn LinkStore) {
    let tenant = fresh_tenant();
    ok(
        store
            .link(&link(&tenant, ObjectType::Employee, "E001", "guid-e"))
            .await,
        "link",
    );

    ok(
        store.unlink(&tenant, ObjectType::Employee, "E001").await,
        "unlink",
    );
    let unknown = store.unlink(&tenant, ObjectType::Employee, "NEVER").await;

    assert_eq!(
        ok(
            store.exact_id(&tenant, ObjectType::Employee, "E001").await,
            "exact_id"
        ),
        None
    );
    assert_eq!(
        ok(
            store.vp_key(&tenant, ObjectType::Employee, "guid-e").await,
            "vp_key"
        ),
        None
    );
    assert!(
        unknown.is_ok(),
        "unlinking an unlinked key must succeed, got {unknown:?}"
    );
    ok(
        store
            .link(&link(&tenant, ObjectType::Employee, "E001", "guid-new"))
            .await,
        "relink after unlink",
    );
    assert_eq!(
        ok(
            store.exact_id(&tenant, ObjectType::Employee, "E001").await,
            "exact_id"
        )
        .as_deref(),
        Some("guid-new")
    );
}

/// Links are scoped by tenant and object type.
pub async fn links_are_scoped_by_tenant_and_object_type(store: &dyn LinkStore) {
    let tenant = fresh_tenant();
    let other = fresh_tenant();
    ok(
        store
            .link(&link(&tenant, ObjectType::Firm, "K1", "guid-1"))
            .await,
        "link",
    );

    let other_type = store
        .link(&link(&tenant, ObjectType::Employee, "K1", "guid-2"))
        .await;
    let other_tenant = store
        .link(&link(&other, ObjectType::Firm, "K1", "guid-3"))
        .await;

    assert!(
        other_type.is_ok(),
        "the same key under another object type is a different link, got {other_type:?}"
    );
    assert!(
        other_tenant.is_ok(),
        "the same key under another tenant is a different link, got {other_tenant:?}"
    );
    assert_eq!(
        ok(
            store.exact_id(&tenant, ObjectType::Firm, "K1").await,
            "exact_id"
        )
        .as_deref(),
        Some("guid-1")
    );
    assert_eq!(
        ok(
            store.vp_key(&other, ObjectType::Firm, "guid-1").await,
            "vp_key"
        ),
        None
    );
}

/// A link keeps the sync state it was written with; writing the same link again keeps the stored state;
/// `save_sync` replaces it, and is refused once the key is linked elsewhere.
pub async fn the_sync_state_travels_with_the_link(store: &dyn LinkStore) {
    let tenant = fresh_tenant();
    let mut first = link(&tenant, ObjectType::Firm, "ACME", "guid-1");
    first.sync = Some(sync_state(10));
    ok(store.link(&first).await, "link with a sync state");

    let again = store
        .link(&link(&tenant, ObjectType::Firm, "ACME", "guid-1"))
        .await;
    let after_again = ok(store.get(&tenant, ObjectType::Firm, "ACME").await, "get");
    let mut updated = first.clone();
    updated.sync = Some(sync_state(20));
    ok(store.save_sync(&updated).await, "save_sync");
    let after_save = ok(store.get(&tenant, ObjectType::Firm, "ACME").await, "get");
    let mut stale = link(&tenant, ObjectType::Firm, "ACME", "guid-other");
    stale.sync = Some(sync_state(30));
    let stale_save = store.save_sync(&stale).await;
    let unknown = ok(store.get(&tenant, ObjectType::Firm, "NOBODY").await, "get");

    assert!(again.is_ok(), "same link again: {again:?}");
    assert_eq!(
        after_again.and_then(|l| l.sync),
        Some(sync_state(10)),
        "writing the same link again must keep the stored sync state"
    );
    let after_save = after_save.unwrap_or_else(|| panic!("the link disappeared"));
    assert_eq!(after_save.exact_id, "guid-1");
    assert_eq!(after_save.sync, Some(sync_state(20)));
    expect_conflict(
        stale_save,
        "saving the sync state of a link the key no longer has",
    );
    assert_eq!(unknown, None);
    assert_eq!(
        ok(store.get(&tenant, ObjectType::Firm, "ACME").await, "get").and_then(|l| l.sync),
        Some(sync_state(20)),
        "a refused save must leave the state alone"
    );
}

/// An operator's relink moves the key to another id in one step (both directions), returns the old id,
/// and is refused when the new id belongs to another key.
pub async fn relink_moves_a_key_to_another_id_and_refuses_a_taken_one(store: &dyn LinkStore) {
    let tenant = fresh_tenant();
    ok(
        store
            .link(&link(&tenant, ObjectType::Firm, "ACME", "guid-1"))
            .await,
        "link",
    );
    ok(
        store
            .link(&link(&tenant, ObjectType::Firm, "BETA", "guid-9"))
            .await,
        "link",
    );

    let moved = ok(
        store
            .relink(&link(&tenant, ObjectType::Firm, "ACME", "guid-2"))
            .await,
        "relink",
    );
    let taken = store
        .relink(&link(&tenant, ObjectType::Firm, "ACME", "guid-9"))
        .await;
    let fresh = ok(
        store
            .relink(&link(&tenant, ObjectType::Firm, "GAMMA", "guid-3"))
            .await,
        "relink of an unlinked key",
    );

    assert_eq!(moved.as_deref(), Some("guid-1"));
    assert_eq!(
        ok(
            store.exact_id(&tenant, ObjectType::Firm, "ACME").await,
            "exact_id"
        )
        .as_deref(),
        Some("guid-2")
    );
    assert_eq!(
        ok(
            store.vp_key(&tenant, ObjectType::Firm, "guid-2").await,
            "vp_key"
        )
        .as_deref(),
        Some("ACME")
    );
    assert_eq!(
        ok(
            store.vp_key(&tenant, ObjectType::Firm, "guid-1").await,
            "vp_key"
        ),
        None,
        "the old id no longer points at the key"
    );
    expect_conflict(taken, "relinking to an id another key holds");
    assert_eq!(
        ok(
            store.vp_key(&tenant, ObjectType::Firm, "guid-9").await,
            "vp_key"
        )
        .as_deref(),
        Some("BETA"),
        "a refused relink must leave the other link alone"
    );
    assert_eq!(
        ok(
            store.exact_id(&tenant, ObjectType::Firm, "ACME").await,
            "exact_id"
        )
        .as_deref(),
        Some("guid-2")
    );
    assert_eq!(fresh, None);
    assert_eq!(
        ok(
            store.exact_id(&tenant, ObjectType::Firm, "GAMMA").await,
            "exact_id"
        )
        .as_deref(),
        Some("guid-3")
    );
}

/// Every case of this suite, in sequence.
pub async fn run_all(store: &dyn LinkStore) {
    a_link_is_readable_both_ways(store).await;
    relinking_is_idempotent_and_a_different_id_conflicts(store).await;
    unlink_removes_both_directions(store).await;
    links_are_scoped_by_tenant_and_object_type(store).await;
    the_sync_state_travels_with_the_link(store).await;
    relink_moves_a_key_to_another_id_and_refuses_a_taken_one(store).await;
}
