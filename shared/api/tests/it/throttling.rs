//! Per-tenant throttling and cheap rejection (issue 12 finding 9), through the real router: a tenant over
//! its limit gets 429 with `Retry-After` and other tenants do not notice; a request with a bad key spends
//! no tenant's budget; malformed credentials are refused before any store is touched (counted through a
//! counting wrapper around the real embedded stores and secret resolver).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::http::{StatusCode, header};
use ledgerlink_api::Limits;
use ledgerlink_domain::TenantId;
use ledgerlink_flows::{SecretError, SecretResolver, SecretValue};
use ledgerlink_ports::{Page, PageRequest, SecretRef, StoreResult, Tenant, TenantStore};

use crate::helpers::{TestApp, VP_PASSWORD, VP_USER};
use crate::webhooks::{basic, post_raw};

/// The real tenant store, counting every call.
#[derive(Debug)]
struct CountingTenants {
    inner: Arc<dyn TenantStore>,
    calls: Arc<AtomicUsize>,
}

#[async_trait::async_trait]
impl TenantStore for CountingTenants {
    async fn get(&self, tenant: &TenantId) -> StoreResult<Option<Tenant>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.get(tenant).await
    }
    async fn put(&self, tenant: &Tenant, expected_version: Option<u64>) -> StoreResult<Tenant> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.put(tenant, expected_version).await
    }
    async fn list(&self, page: PageRequest) -> StoreResult<Page<Tenant>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.list(page).await
    }
}

/// The real secret resolver, counting every call.
#[derive(Debug)]
struct CountingSecrets {
    inner: Arc<dyn SecretResolver>,
    calls: Arc<AtomicUsize>,
}

#[async_trait::async_trait]
impl SecretResolver for CountingSecrets {
    async fn resolve(
        &self,
        tenant: &TenantId,
        secret: &SecretRef,
    ) -> Result<SecretValue, SecretError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.resolve(tenant, secret).await
    }
}

fn limited(per_minute: u32) -> impl FnOnce(ledgerlink_api::ApiState) -> ledgerlink_api::ApiState {
    move |state| {
        state.with_limits(Limits {
            tenant_requests_per_minute: per_minute,
            ..Limits::default()
        })
    }
}

#[tokio::test]
async fn a_tenant_over_its_limit_gets_429_with_retry_after_and_other_tenants_do_not_notice() {
    let app = TestApp::spawn_with("127.0.0.1", limited(5)).await;
    // Requests with a wrong key that claims acme spend nothing of acme's budget.
    let forged = format!("llk_acme_{}", "0".repeat(64));
    for _ in 0..10 {
        app.get("/api/me", &forged)
            .await
            .assert_problem(StatusCode::UNAUTHORIZED);
    }

    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(app.get("/api/me", &app.acme.key).await.status);
    }
    let over = app.get("/api/objects", &app.acme.key).await;
    let other = app.get("/api/me", &app.globex.key).await;

    assert_eq!(statuses, [StatusCode::OK; 5]);
    over.assert_problem(StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = over
        .headers
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("a Retry-After header");
    assert!((1..=12).contains(&retry_after), "{retry_after}");
    assert_eq!(
        other.status,
        StatusCode::OK,
        "another tenant is not throttled"
    );
}

#[tokio::test]
async fn a_tenant_s_webhook_deliveries_are_limited_separately() {
    let app = TestApp::spawn_with("127.0.0.1", limited(3)).await;
    let auth = [("authorization", basic(VP_USER, VP_PASSWORD))];

    let mut statuses = Vec::new();
    for n in 0..4 {
        let body = format!(r#"{{"WBS1":"2026-00{n}"}}"#);
        statuses.push(
            post_raw(&app, "/webhooks/vantagepoint/acme", body, &auth)
                .await
                .status,
        );
    }
    let api = app.get("/api/me", &app.acme.key).await;

    assert_eq!(
        statuses,
        [
            StatusCode::OK,
            StatusCode::OK,
            StatusCode::OK,
            StatusCode::TOO_MANY_REQUESTS
        ]
    );
    assert_eq!(api.status, StatusCode::OK, "the API budget is its own");
}

#[tokio::test]
async fn malformed_credentials_are_refused_before_any_store_or_secret_is_read() {
    let tenant_calls = Arc::new(AtomicUsize::new(0));
    let secret_calls = Arc::new(AtomicUsize::new(0));
    let (t, s) = (tenant_calls.clone(), secret_calls.clone());
    let app = TestApp::spawn_with("127.0.0.1", move |mut state| {
        state.flows.stores.tenants = Arc::new(CountingTenants {
            inner: state.flows.stores.tenants.clone(),
            calls: t,
        });
        state.secrets = Arc::new(CountingSecrets {
            inner: state.secrets.clone(),
            calls: s,
        });
        state
    })
    .await;
    let long = "a".repeat(10_000);

    for authorization in [
        None,
        Some("Basic YWNtZTpwdw==".to_owned()),
        Some("Bearer".to_owned()),
        Some("Bearer garbage".to_owned()),
        Some("Bearer llk_acme_short".to_owned()),
        Some(format!("Bearer llk_acme_{}", "z".repeat(64))),
        Some(format!("Bearer llk_ACME_{}", "0".repeat(64))),
        Some(format!("Bearer llk_{long}_{}", "0".repeat(64))),
    ] {
        let mut request = axum::http::Request::builder().uri("/api/me");
        if let Some(value) = &authorization {
            request = request.header(header::AUTHORIZATION, value);
        }
        let answer = app
            .send(request.body(axum::body::Body::empty()).unwrap())
            .await;
        answer.assert_problem(StatusCode::UNAUTHORIZED);
    }
    for headers in [
        vec![],
        vec![("authorization", "Basic ".to_owned())],
        vec![("authorization", "Bearer   ".to_owned())],
        vec![("authorization", "Digest abc".to_owned())],
        vec![("x-ledgerlink-webhook-secret", String::new())],
        vec![("x-ledgerlink-webhook-secret", long.clone())],
    ] {
        for tenant in ["acme", "nobody"] {
            let answer = post_raw(
                &app,
                &format!("/webhooks/vantagepoint/{tenant}"),
                "{}".into(),
                &headers,
            )
            .await;
            answer.assert_problem(StatusCode::UNAUTHORIZED);
        }
    }
    let before_valid = (
        tenant_calls.load(Ordering::SeqCst),
        secret_calls.load(Ordering::SeqCst),
    );
    // The counters do count: a well-formed key and a delivery with credentials read the tenant.
    let me = app.get("/api/me", &app.acme.key).await;
    let hook = post_raw(
        &app,
        "/webhooks/vantagepoint/acme",
        "{}".into(),
        &[("authorization", basic(VP_USER, VP_PASSWORD))],
    )
    .await;

    assert_eq!(
        before_valid,
        (0, 0),
        "(tenant store calls, secret resolves)"
    );
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(hook.status, StatusCode::OK, "{}", hook.text());
    assert!(tenant_calls.load(Ordering::SeqCst) >= 2);
    assert!(secret_calls.load(Ordering::SeqCst) >= 1);
}
