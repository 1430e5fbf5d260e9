//! Authentication and tenancy: every `/api/` route needs a key, and one tenant's key never reaches
//! another tenant's data (404 for every resource type).

use axum::http::{StatusCode, header};
use ledgerlink_api::ROUTES;
use ledgerlink_domain::{ObjectType, SyncStatus};
use ledgerlink_ports::{
    JobKind, JobStatus, LookupEntry, LookupTable, Notification, NotificationKind,
};
use serde_json::json;

use crate::helpers::{TestApp, now};

/// A concrete path for a route pattern.
pub fn concrete(path: &str) -> String {
    path.replace("{tenant}", "acme")
        .replace("{type}", "invoice")
        .replace("{key}", "INV-1")
        .replace("{id}", "1")
        .replace("{table}", "tax-codes")
        .replace("{system}", "exact")
        .replace("{name}", "firms")
        .replace("{period}", "202601")
}

#[tokio::test]
async fn every_api_route_refuses_a_request_without_a_key() {
    let app = TestApp::spawn().await;
    let mut checked = 0;
    for (method, path) in ROUTES.iter().filter(|(_, p)| p.starts_with("/api/")) {
        let answer = app
            .call(method, &concrete(path), None, Some(json!({})))
            .await;

        answer.assert_problem(StatusCode::UNAUTHORIZED);
        assert!(
            answer.headers.get(header::WWW_AUTHENTICATE).is_some(),
            "{method} {path}"
        );
        checked += 1;
    }
    assert!(checked > 30, "only {checked} routes checked");
}

#[tokio::test]
async fn malformed_wrong_and_unknown_tenant_keys_are_refused_alike() {
    let app = TestApp::spawn().await;
    let wrong_secret = format!("llk_acme_{}", "0".repeat(64));
    let unknown_tenant = format!("llk_nobody_{}", "0".repeat(64));
    let other_tenants_secret = app.globex.key.replacen("globex", "acme", 1);
    for key in [
        "nonsense",
        "llk_acme_short",
        &wrong_secret,
        &unknown_tenant,
        &other_tenants_secret,
    ] {
        let answer = app.get("/api/objects", key).await;

        answer.assert_problem(StatusCode::UNAUTHORIZED);
        assert_eq!(answer.json["detail"], "The API key is not valid.", "{key}");
    }
    let basic = app
        .send(
            axum::http::Request::builder()
                .uri("/api/me")
                .header(header::AUTHORIZATION, "Basic YTpi")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    basic.assert_problem(StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_valid_key_acts_as_its_tenant_and_user() {
    let app = TestApp::spawn().await;

    let me = app.get("/api/me", &app.acme.key).await;

    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.json["tenant"], "acme");
    assert_eq!(me.json["user"], "acme-user");
    assert_eq!(me.json["role"], "admin");
}

#[tokio::test]
async fn another_tenants_key_gets_404_for_every_resource_type() {
    let app = TestApp::spawn().await;
    let acme = app.acme.id.clone();
    let other = app.globex.key.clone();
    // Arrange: acme owns one of everything.
    app.seed_object(
        &acme,
        ObjectType::Invoice,
        "INV-1",
        SyncStatus::Error,
        Some("refused"),
        now(),
    )
    .await;
    app.seed_job(&acme, 7, JobKind::Export, JobStatus::Finished)
        .await;
    app.seed_job(&acme, 8, JobKind::Export, JobStatus::Started)
        .await;
    app.seed_job(&acme, 9, JobKind::Import, JobStatus::Failed)
        .await;
    let definition = json!({
        "id": "customer-summary", "name": "customer-summary", "description": "d",
        "source": {"kind": "statuses"}, "columns": [{"field": "key", "header": "Key"}], "format": "csv",
    });
    let saved = app
        .post("/api/export-definitions", &app.acme.key, definition.clone())
        .await;
    assert_eq!(saved.status, StatusCode::CREATED, "{}", saved.text());
    let entry = LookupEntry {
        key: "21".into(),
        columns: [("vp".to_owned(), "S".to_owned())].into(),
        version: 0,
        updated_at: now(),
        updated_by: "x".into(),
    };
    app.stores
        .lookups
        .put(&acme, LookupTable::TaxCodes, &entry, None)
        .await
        .unwrap();
    let created = app
        .post(
            "/api/integrations",
            &app.acme.key,
            json!({"id": "monthly", "name": "Monthly", "import_tasks": ["firms"]}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    app.stores
        .notifications
        .push(&Notification {
            tenant: acme.clone(),
            id: "n-1".into(),
            kind: NotificationKind::SyncError,
            recipient: "operators".into(),
            subject: "acme secret subject".into(),
            body: "b".into(),
            link: None,
            created_at: now(),
            delivered_at: None,
        })
        .await
        .unwrap();

    // Act + Assert: globex's key finds none of it.
    let not_found = [
        ("GET", "/api/objects/invoice/INV-1", None),
        ("GET", "/api/jobs/7", None),
        ("POST", "/api/jobs/7/download", None),
        ("POST", "/api/jobs/9/reset", None),
        (
            "POST",
            "/api/jobs/8/mark-failed",
            Some(json!({"reason": "x"})),
        ),
        ("GET", "/api/imports/9/summary", None),
        (
            "PUT",
            "/api/lookups/tax-codes/21",
            Some(json!({"columns": {"vp": "X"}, "version": 1})),
        ),
        ("DELETE", "/api/lookups/tax-codes/21", None),
        ("GET", "/api/integrations/monthly", None),
        (
            "PUT",
            "/api/integrations/monthly",
            Some(json!({"name": "Mine now"})),
        ),
        ("DELETE", "/api/integrations/monthly", None),
        ("GET", "/api/integrations/monthly/periods/202601", None),
        (
            "POST",
            "/api/integrations/monthly/run",
            Some(json!({"period": "202601"})),
        ),
        ("POST", "/api/notifications/n-1/read", None),
        ("GET", "/api/export-definitions/customer-summary", None),
        (
            "PUT",
            "/api/export-definitions/customer-summary",
            Some(definition.clone()),
        ),
        ("DELETE", "/api/export-definitions/customer-summary", None),
        ("POST", "/api/export-definitions/customer-summary/run", None),
        ("POST", "/api/imports/9/submit", None),
    ];
    for (method, path, body) in not_found {
        let answer = app.call(method, path, Some(&other), body).await;
        answer.assert_problem(StatusCode::NOT_FOUND);
        assert!(
            !answer.text().contains("acme"),
            "{method} {path} leaks: {}",
            answer.text()
        );
    }
    for (path, field) in [
        ("/api/objects", "items"),
        ("/api/jobs?kind=export", "items"),
        ("/api/jobs?kind=import", "items"),
        ("/api/lookups/tax-codes", "items"),
        ("/api/integrations", "items"),
        ("/api/notifications", "items"),
        ("/api/export-definitions", "items"),
    ] {
        let answer = app.get(path, &other).await;
        assert_eq!(answer.status, StatusCode::OK, "{path}");
        assert_eq!(
            answer.json[field],
            json!([]),
            "{path} shows another tenant's data"
        );
    }
    let sync = app
        .post(
            "/api/objects/force-synchronize",
            &other,
            json!({"objects": [{"type": "invoice", "key": "INV-1"}]}),
        )
        .await;
    assert_eq!(sync.json["results"][0]["result"], "refused");
    assert_eq!(app.depth(ledgerlink_domain::Flow::InvoiceOut).await, 0);
    let counts = app.get("/api/objects/counts", &other).await;
    assert_eq!(counts.json["total"], 0);
    let connections = app.get("/api/connections", &other).await;
    assert_eq!(connections.json["tenant"], "globex");
    assert!(!connections.text().contains("acme"));
    // acme's own data is untouched.
    let still = app.get("/api/integrations/monthly", &app.acme.key).await;
    assert_eq!(still.json["name"], "Monthly");
}

#[tokio::test]
async fn a_download_link_opens_only_the_file_it_was_issued_for() {
    let app = TestApp::spawn().await;
    app.seed_job(&app.acme.id, 7, JobKind::Export, JobStatus::Finished)
        .await;
    let link = app
        .post("/api/jobs/7/download", &app.acme.key, json!({}))
        .await;
    assert_eq!(link.status, StatusCode::OK, "{}", link.text());
    let url = link.json["url"].as_str().unwrap().to_owned();
    let path = url
        .strip_prefix(crate::helpers::BASE_URL)
        .unwrap()
        .to_owned();

    let file = app.call("GET", &path, None, None).await;
    let other_tenant = app
        .call(
            "GET",
            &path.replacen("/files/acme/", "/files/globex/", 1),
            None,
            None,
        )
        .await;
    let other_file = app
        .call("GET", &path.replacen("out.csv", "other.csv", 1), None, None)
        .await;

    assert_eq!(file.status, StatusCode::OK);
    assert_eq!(file.text(), "a,b\n1,2\n");
    other_tenant.assert_problem(StatusCode::FORBIDDEN);
    other_file.assert_problem(StatusCode::FORBIDDEN);
    assert_eq!(other_file.json["title"], "Link invalid or expired");
}
