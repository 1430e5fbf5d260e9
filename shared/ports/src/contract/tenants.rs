//! Contract of [`TenantStore`]: versioned tenant records with their connections (secret references only).

use std::collections::BTreeMap;

use ledgerlink_domain::{Division, TenantId};

use super::{at, expect_conflict, fresh_tenant, ok};
use crate::{ConnectionState, PageRequest, SecretRef, Tenant, TenantStore};

/// A complete tenant record.
pub fn sample(id: &TenantId) -> Tenant {
    Tenant {
        id: id.clone(),
        name: "Acme Engineering BV".into(),
        vp_base_url: "https://acme.example.com/vantagepoint".into(),
        vp_database: "AcmeVP".into(),
        vp_culture: "en-US".into(),
        vp_client_id: "vp-client".into(),
        vp_client_secret: SecretRef::SecretsManager(format!("ledgerlink/{id}/vp-client-secret")),
        vp_username: "integration".into(),
        vp_password: SecretRef::Ssm(format!("/ledgerlink/{id}/vp-password")),
        exact_base_url: "https://start.exactonline.nl".into(),
        exact_division: Division(499_156),
        exact_client_id: "exact-client".into(),
        exact_client_secret: SecretRef::Local(format!("{id}/exact-client-secret")),
        exact_webhook_secret: SecretRef::Local(format!("{id}/exact-webhook-secret")),
        state: ConnectionState::Active,
        paused_reason: None,
        settings: BTreeMap::from([(
            "sourceOfTruth.firm".to_owned(),
            serde_json::json!("vantagepoint"),
        )]),
        version: 0,
        updated_at: at(0),
    }
}

/// A tenant is created at version 1 and updated only from the version read.
pub async fn tenants_are_versioned(store: &dyn TenantStore) {
    let id = fresh_tenant();

    let created = ok(store.put(&sample(&id), None).await, "put(create)");
    let duplicate = store.put(&sample(&id), None).await;
    let mut paused = created.clone();
    paused.state = ConnectionState::Paused;
    paused.paused_reason = Some("refresh token rejected; re-consent needed".into());
    let updated = ok(store.put(&paused, Some(1)).await, "put(update)");
    let stale = store.put(&paused, Some(1)).await;

    assert_eq!(created.version, 1);
    expect_conflict(duplicate, "creating an existing tenant");
    assert_eq!(updated.version, 2);
    expect_conflict(stale, "updating a tenant from a stale version");
    assert_eq!(
        ok(store.get(&id).await, "get"),
        Some(updated),
        "get returns the last put"
    );
    assert_eq!(ok(store.get(&fresh_tenant()).await, "get(unknown)"), None);
}

/// Listing pages through every tenant exactly once.
pub async fn tenant_list_pages_cover_every_tenant_once(store: &dyn TenantStore) {
    let ids: Vec<TenantId> = (0..5).map(|_| fresh_tenant()).collect();
    for id in &ids {
        ok(store.put(&sample(id), None).await, "put");
    }

    let mut seen = Vec::new();
    let mut request = PageRequest::first(2);
    loop {
        let page = ok(store.list(request.clone()).await, "list");
        assert!(page.items.len() <= 2, "a page must not exceed the limit");
        seen.extend(page.items.into_iter().map(|t| t.id));
        match page.next_cursor {
            Some(cursor) => {
                request = PageRequest {
                    limit: 2,
                    cursor: Some(cursor),
                }
            }
            None => break,
        }
        assert!(seen.len() <= 100_000, "list never ends");
    }

    for id in &ids {
        assert_eq!(
            seen.iter().filter(|s| *s == id).count(),
            1,
            "tenant {id} must be listed exactly once"
        );
    }
}

/// Every case of this suite, in sequence.
pub async fn run_all(store: &dyn TenantStore) {
    tenants_are_versioned(store).await;
    tenant_list_pages_cover_every_tenant_once(store).await;
}
