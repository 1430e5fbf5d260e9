//! Keys with roles, through the real router: every route enforces its role (403 naming the role needed,
//! nothing done), keys are issued / listed / revoked by admins of their own tenant only, expired and revoked
//! keys are refused, and the last admin key stays.

use std::collections::BTreeSet;

use axum::http::{StatusCode, header};
use chrono::{Duration, Utc};
use ledgerlink_api::auth::{ROUTE_ROLES, stored_keys};
use ledgerlink_api::{ROUTES, Role, StoredApiKey, add_api_key, issue_api_key};
use ledgerlink_domain::Flow;
use serde_json::{Value, json};

use crate::auth::concrete;
use crate::helpers::TestApp;

/// Issues a key through the API with `admin_key`; returns (token, id).
async fn issue(app: &TestApp, admin_key: &str, user: &str, role: &str) -> (String, String) {
    let answer = app
        .post("/api/keys", admin_key, json!({"user": user, "role": role}))
        .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text());
    (
        answer.json["token"].as_str().unwrap().to_owned(),
        answer.json["id"].as_str().unwrap().to_owned(),
    )
}

async fn tenant_version(app: &TestApp) -> u64 {
    app.stores
        .tenants
        .get(&app.acme.id)
        .await
        .unwrap()
        .unwrap()
        .version
}

#[test]
fn every_api_route_has_a_declared_role_and_every_declared_role_is_a_route() {
    let routes: BTreeSet<(&str, &str)> = ROUTES
        .iter()
        .filter(|(_, p)| p.starts_with("/api/"))
        .copied()
        .collect();
    let declared: BTreeSet<(&str, &str)> = ROUTE_ROLES.iter().map(|(m, p, _)| (*m, *p)).collect();

    let missing: Vec<_> = routes.difference(&declared).collect();
    let phantom: Vec<_> = declared.difference(&routes).collect();
    assert!(missing.is_empty(), "routes without a role: {missing:?}");
    assert!(phantom.is_empty(), "roles for no route: {phantom:?}");
}

#[tokio::test]
async fn every_route_refuses_a_key_whose_role_is_too_low_and_names_the_role_needed() {
    let app = TestApp::spawn().await;
    let (viewer, _) = issue(&app, &app.acme.key, "vic", "viewer").await;
    let (operator, _) = issue(&app, &app.acme.key, "otto", "operator").await;
    let before = tenant_version(&app).await;
    let mut refused = 0;
    for (method, path, needed) in ROUTE_ROLES {
        for (key, role) in [(&viewer, Role::Viewer), (&operator, Role::Operator)] {
            let answer = app
                .call(method, &concrete(path), Some(key), Some(json!({})))
                .await;
            if role.allows(*needed) {
                assert_ne!(
                    answer.status,
                    StatusCode::FORBIDDEN,
                    "{role} {method} {path}"
                );
                continue;
            }
            answer.assert_problem(StatusCode::FORBIDDEN);
            let detail = answer.json["detail"].as_str().unwrap();
            assert!(
                detail.contains(&format!("`{needed}` role"))
                    && detail.contains(&format!("`{role}`")),
                "{role} {method} {path}: {detail}"
            );
            refused += 1;
        }
    }
    assert!(refused > 30, "only {refused} refusals");
    // Nothing was done by a refused request (the allowed GETs change nothing either).
    assert_eq!(tenant_version(&app).await, before);
    for flow in Flow::ALL {
        assert_eq!(app.depth(*flow).await, 0, "{flow}");
    }
}

#[tokio::test]
async fn a_viewer_reads_but_cannot_synchronize_pause_or_change_a_connection() {
    let app = TestApp::spawn().await;
    let (viewer, _) = issue(&app, &app.acme.key, "vic", "viewer").await;
    let before = tenant_version(&app).await;

    let me = app.get("/api/me", &viewer).await;
    let objects = app.get("/api/objects", &viewer).await;
    let sync = app
        .post(
            "/api/objects/synchronize",
            &viewer,
            json!({"objects": [{"type": "firm", "key": "F1"}]}),
        )
        .await;
    let change = app
        .put_connection(
            "vantagepoint",
            &viewer,
            json!({"base_url": "https://attacker.example/vp"}),
        )
        .await;
    let pause = app
        .post("/api/connections/pause", &viewer, json!({"reason": "x"}))
        .await;

    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.json["role"], "viewer");
    assert_eq!(me.json["user"], "vic");
    assert_eq!(objects.status, StatusCode::OK);
    sync.assert_problem(StatusCode::FORBIDDEN);
    assert!(sync.text().contains("`operator` role"), "{}", sync.text());
    change.assert_problem(StatusCode::FORBIDDEN);
    assert!(change.text().contains("`admin` role"), "{}", change.text());
    pause.assert_problem(StatusCode::FORBIDDEN);
    assert_eq!(
        tenant_version(&app).await,
        before,
        "the tenant is unchanged"
    );
    assert_eq!(app.depth(Flow::FirmSync).await, 0, "nothing was queued");
}

#[tokio::test]
async fn an_operator_synchronizes_but_cannot_change_connections_or_issue_keys() {
    let app = TestApp::spawn().await;
    let (operator, _) = issue(&app, &app.acme.key, "otto", "operator").await;
    let before = tenant_version(&app).await;

    let definitions = app.get("/api/export-definitions", &operator).await;
    let change = app
        .put_connection("exact", &operator, json!({"client_id": "mine"}))
        .await;
    let new_key = app
        .post(
            "/api/keys",
            &operator,
            json!({"user": "evil", "role": "admin"}),
        )
        .await;
    let list_keys = app.get("/api/keys", &operator).await;

    assert_eq!(definitions.status, StatusCode::OK);
    change.assert_problem(StatusCode::FORBIDDEN);
    new_key.assert_problem(StatusCode::FORBIDDEN);
    list_keys.assert_problem(StatusCode::FORBIDDEN);
    assert!(new_key.text().contains("`admin` role"));
    assert_eq!(tenant_version(&app).await, before);
    let record = app.stores.tenants.get(&app.acme.id).await.unwrap().unwrap();
    assert_eq!(stored_keys(&record).len(), 2, "no key was added");
}

#[tokio::test]
async fn an_issued_key_is_shown_once_with_its_location_and_acts_with_its_role() {
    let app = TestApp::spawn().await;

    let answer = app
        .post(
            "/api/keys",
            &app.acme.key,
            json!({"user": "otto", "role": "operator", "expires_in_days": 30}),
        )
        .await;

    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text());
    let id = answer.json["id"].as_str().unwrap();
    let token = answer.json["token"].as_str().unwrap();
    assert_eq!(
        answer.headers.get(header::LOCATION).unwrap(),
        &format!("/api/keys/{id}")
    );
    assert_eq!(
        answer.headers.get(header::CACHE_CONTROL).unwrap(),
        "no-store"
    );
    assert_eq!(answer.json["role"], "operator");
    assert_eq!(answer.json["last4"], token[token.len() - 4..]);
    let expires = answer.json["expires_at"].as_str().unwrap();
    let expires: chrono::DateTime<Utc> = expires.parse().unwrap();
    assert!(
        (expires - Utc::now() - Duration::days(30))
            .num_seconds()
            .abs()
            < 60
    );
    let me = app.get("/api/me", token).await;
    assert_eq!(me.json["role"], "operator");
    assert_eq!(me.json["key_id"], id);
    let one = app.get(&format!("/api/keys/{id}"), &app.acme.key).await;
    assert_eq!(one.status, StatusCode::OK);
    assert_eq!(one.json["user"], "otto");
    // Listed, but never with the token or its hash; the store holds only the hash.
    let list = app.get("/api/keys", &app.acme.key).await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(list.json["keys"].as_array().unwrap().len(), 2);
    let record = app.stores.tenants.get(&app.acme.id).await.unwrap().unwrap();
    let stored = serde_json::to_string(&record.settings).unwrap();
    assert!(!stored.contains(token), "the token itself is stored");
    for key in stored_keys(&record) {
        assert!(!list.text().contains(&key.sha256), "a hash is listed");
        assert!(!one.text().contains(&key.sha256));
    }
    assert!(!list.text().contains(token));
}

#[tokio::test]
async fn bad_key_requests_are_refused_by_field_and_add_nothing() {
    let app = TestApp::spawn().await;
    let cases: [(Value, &str); 6] = [
        (json!({"user": "u", "role": "root"}), "role"),
        (json!({"user": "u"}), "role"),
        (json!({"user": "", "role": "viewer"}), "user"),
        (json!({"user": "a\nb", "role": "viewer"}), "user"),
        (
            json!({"user": "u", "role": "viewer", "expires_in_days": 0}),
            "expires_in_days",
        ),
        (
            json!({"user": "u", "role": "viewer", "sha256": "00"}),
            "sha256",
        ),
    ];
    for (body, field) in cases {
        let answer = app.post("/api/keys", &app.acme.key, body.clone()).await;
        answer.assert_problem(StatusCode::BAD_REQUEST);
        assert!(answer.text().contains(field), "{body}: {}", answer.text());
    }
    let record = app.stores.tenants.get(&app.acme.id).await.unwrap().unwrap();
    assert_eq!(stored_keys(&record).len(), 1);
}

#[tokio::test]
async fn an_expired_key_is_refused() {
    let app = TestApp::spawn().await;
    let mut record = app.stores.tenants.get(&app.acme.id).await.unwrap().unwrap();
    let mut expired = issue_api_key(&app.acme.id, "old");
    expired.stored.expires_at = Some(Utc::now() - Duration::seconds(1));
    let mut valid = issue_api_key(&app.acme.id, "new");
    valid.stored.expires_at = Some(Utc::now() + Duration::hours(1));
    add_api_key(&mut record, &expired.stored);
    add_api_key(&mut record, &valid.stored);
    let version = record.version;
    app.stores
        .tenants
        .put(&record, Some(version))
        .await
        .unwrap();

    let refused = app.get("/api/me", &expired.token).await;
    let accepted = app.get("/api/me", &valid.token).await;

    refused.assert_problem(StatusCode::UNAUTHORIZED);
    assert_eq!(refused.json["detail"], "The API key has expired.");
    assert_eq!(accepted.status, StatusCode::OK);
    let list = app.get("/api/keys", &app.acme.key).await;
    let flags: Vec<bool> = list.json["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["expired"].as_bool().unwrap())
        .collect();
    assert_eq!(flags, [false, true, false]);
}

#[tokio::test]
async fn a_revoked_key_is_refused_and_the_last_admin_key_cannot_be_revoked() {
    let app = TestApp::spawn().await;
    let (viewer, viewer_id) = issue(&app, &app.acme.key, "vic", "viewer").await;
    assert_eq!(app.get("/api/me", &viewer).await.status, StatusCode::OK);
    let own_id = app.get("/api/me", &app.acme.key).await.json["key_id"]
        .as_str()
        .unwrap()
        .to_owned();

    let revoked = app
        .call(
            "DELETE",
            &format!("/api/keys/{viewer_id}"),
            Some(&app.acme.key),
            None,
        )
        .await;
    let after = app.get("/api/me", &viewer).await;
    let again = app
        .call(
            "DELETE",
            &format!("/api/keys/{viewer_id}"),
            Some(&app.acme.key),
            None,
        )
        .await;
    let last_admin = app
        .call(
            "DELETE",
            &format!("/api/keys/{own_id}"),
            Some(&app.acme.key),
            None,
        )
        .await;

    assert_eq!(revoked.status, StatusCode::NO_CONTENT);
    after.assert_problem(StatusCode::UNAUTHORIZED);
    assert_eq!(after.json["detail"], "The API key is not valid.");
    again.assert_problem(StatusCode::NOT_FOUND);
    last_admin.assert_problem(StatusCode::CONFLICT);
    assert!(last_admin.text().contains("last valid admin key"));
    assert_eq!(
        app.get("/api/me", &app.acme.key).await.status,
        StatusCode::OK
    );
    // With a second admin, the first may go (rotation).
    let (second, _) = issue(&app, &app.acme.key, "ann", "admin").await;
    let rotated = app
        .call(
            "DELETE",
            &format!("/api/keys/{own_id}"),
            Some(&second),
            None,
        )
        .await;
    assert_eq!(rotated.status, StatusCode::NO_CONTENT);
    app.get("/api/me", &app.acme.key)
        .await
        .assert_problem(StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_tenants_admin_cannot_list_read_or_revoke_another_tenants_keys() {
    let app = TestApp::spawn().await;
    let (globex_viewer, globex_viewer_id) = issue(&app, &app.globex.key, "gv", "viewer").await;
    let globex_admin_id = app.get("/api/me", &app.globex.key).await.json["key_id"]
        .as_str()
        .unwrap()
        .to_owned();

    let listed = app.get("/api/keys", &app.acme.key).await;
    for id in [&globex_viewer_id, &globex_admin_id] {
        let read = app.get(&format!("/api/keys/{id}"), &app.acme.key).await;
        let revoke = app
            .call(
                "DELETE",
                &format!("/api/keys/{id}"),
                Some(&app.acme.key),
                None,
            )
            .await;
        read.assert_problem(StatusCode::NOT_FOUND);
        revoke.assert_problem(StatusCode::NOT_FOUND);
    }

    assert_eq!(listed.json["keys"].as_array().unwrap().len(), 1);
    assert!(!listed.text().contains("gv"));
    assert_eq!(
        app.get("/api/me", &globex_viewer).await.status,
        StatusCode::OK
    );
    assert_eq!(
        app.get("/api/me", &app.globex.key).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_key_stored_before_roles_existed_still_acts_as_admin() {
    let app = TestApp::spawn().await;
    // The shape the local stack and the tests wrote before roles: user and hash only.
    let legacy = issue_api_key(&app.acme.id, "legacy");
    let mut record = app.stores.tenants.get(&app.acme.id).await.unwrap().unwrap();
    add_api_key(
        &mut record,
        &StoredApiKey {
            user: "legacy".into(),
            sha256: legacy.stored.sha256.clone(),
            ..StoredApiKey::default()
        },
    );
    let version = record.version;
    app.stores
        .tenants
        .put(&record, Some(version))
        .await
        .unwrap();

    let me = app.get("/api/me", &legacy.token).await;
    let keys = app.get("/api/keys", &legacy.token).await;

    assert_eq!(me.json["role"], "admin");
    assert_eq!(keys.status, StatusCode::OK);
    assert_eq!(keys.json["keys"][1]["role"], "admin");
    assert_eq!(keys.json["keys"][1]["last4"], Value::Null);
}
