//! Lookup tables (optimistic versions), connections (secrets write-only), notifications.

use axum::http::StatusCode;
use ledgerlink_ports::{ConnectionState, Notification, NotificationKind, SecretRef};
use serde_json::json;

use crate::helpers::{TestApp, now};

#[tokio::test]
async fn lookup_rows_are_created_edited_with_their_version_and_stale_edits_conflict() {
    let app = TestApp::spawn().await;
    let key = app.acme.key.clone();

    let created = app
        .call(
            "PUT",
            "/api/lookups/tax-codes/21",
            Some(&key),
            Some(json!({"columns": {"vp_code": "S"}, "version": null})),
        )
        .await;
    let duplicate = app
        .call(
            "PUT",
            "/api/lookups/tax-codes/21",
            Some(&key),
            Some(json!({"columns": {"vp_code": "S"}, "version": null})),
        )
        .await;
    let edited = app
        .call(
            "PUT",
            "/api/lookups/tax-codes/21",
            Some(&key),
            Some(json!({"columns": {"vp_code": "L"}, "version": 1})),
        )
        .await;
    let stale = app
        .call(
            "PUT",
            "/api/lookups/tax-codes/21",
            Some(&key),
            Some(json!({"columns": {"vp_code": "X"}, "version": 1})),
        )
        .await;
    let listed = app.get("/api/lookups/tax-codes", &key).await;
    let unknown_table = app.get("/api/lookups/planets", &key).await;
    let deleted = app
        .call("DELETE", "/api/lookups/tax-codes/21", Some(&key), None)
        .await;
    let deleted_again = app
        .call("DELETE", "/api/lookups/tax-codes/21", Some(&key), None)
        .await;

    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    assert_eq!(created.json["updated_by"], "acme-user");
    duplicate.assert_problem(StatusCode::CONFLICT);
    assert_eq!(edited.status, StatusCode::OK, "{}", edited.text());
    assert_eq!(edited.json["version"], 2);
    stale.assert_problem(StatusCode::CONFLICT);
    assert_eq!(listed.json["items"][0]["columns"]["vp_code"], "L");
    unknown_table.assert_problem(StatusCode::BAD_REQUEST);
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    deleted_again.assert_problem(StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_lookup_row_the_flows_could_not_use_is_refused_naming_the_row_and_the_field() {
    let app = TestApp::spawn().await;
    let key = app.acme.key.clone();
    let put = |path: &'static str, body: serde_json::Value| {
        let app = &app;
        let key = key.clone();
        async move { app.call("PUT", path, Some(&key), Some(body)).await }
    };

    let not_a_guid = put(
        "/api/lookups/gl-accounts/40300",
        json!({"columns": {"exact_id": "8000"}, "version": null}),
    )
    .await;
    let empty_required = put(
        "/api/lookups/gl-accounts/40300",
        json!({"columns": {"exact_id": "  "}, "version": null}),
    )
    .await;
    let bad_rate = put(
        "/api/lookups/tax-codes/2",
        json!({"columns": {"vp_code": "V21", "rate": "21%"}, "version": null}),
    )
    .await;
    let bad_key = put(
        "/api/lookups/combined-tax-codes/V21",
        json!({"columns": {"exact_code": "2"}, "version": null}),
    )
    .await;
    let good = put(
        "/api/lookups/gl-accounts/40300",
        json!({"columns": {"exact_id": "6a1f9a4e-2f1c-4b8e-9d7a-0c5e3b2a1f00"}, "version": null}),
    )
    .await;
    let duplicate = put(
        "/api/lookups/gl-accounts/40300",
        json!({"columns": {"exact_id": "6a1f9a4e-2f1c-4b8e-9d7a-0c5e3b2a1f00"}, "version": null}),
    )
    .await;

    not_a_guid.assert_problem(StatusCode::BAD_REQUEST);
    assert_eq!(not_a_guid.json["field"], "columns.exact_id");
    let detail = not_a_guid.json["detail"].as_str().unwrap();
    assert!(
        detail.contains("row `40300` of gl-accounts, column exact_id:")
            && detail.contains("\"8000\" is not a GUID"),
        "{detail}"
    );
    empty_required.assert_problem(StatusCode::BAD_REQUEST);
    assert_eq!(empty_required.json["field"], "columns.exact_id");
    assert!(
        empty_required.json["detail"]
            .as_str()
            .unwrap()
            .contains("is required")
    );
    bad_rate.assert_problem(StatusCode::BAD_REQUEST);
    assert_eq!(bad_rate.json["field"], "columns.rate");
    bad_key.assert_problem(StatusCode::BAD_REQUEST);
    assert_eq!(bad_key.json["field"], "key");
    assert_eq!(good.status, StatusCode::CREATED, "{}", good.text());
    duplicate.assert_problem(StatusCode::CONFLICT);
    assert!(
        duplicate.json["detail"]
            .as_str()
            .unwrap()
            .contains("already exists")
    );
}

#[tokio::test]
async fn an_object_in_error_for_a_missing_lookup_row_carries_its_fix_in_the_list_and_the_detail() {
    let app = TestApp::spawn().await;
    let acme = app.acme.id.clone();
    let mut record = app
        .seed_object(
            &acme,
            ledgerlink_domain::ObjectType::Invoice,
            "000000010890.202612.13",
            ledgerlink_domain::SyncStatus::Error,
            Some("TaxCode \"ECO+V21\" has no entry in the combined tax codes lookup table"),
            now(),
        )
        .await;
    record.fix = Some(ledgerlink_ports::Fix::Lookup {
        table: ledgerlink_ports::LookupTable::CombinedTaxCodes,
        key: Some("ECO+V21".into()),
        key_label: "VP tax codes joined by +".into(),
        columns: vec!["exact_code".into()],
        values: Default::default(),
    });
    app.stores
        .statuses
        .put(&record, Some(record.version))
        .await
        .unwrap();

    let listed = app.get("/api/objects?status=error", &app.acme.key).await;
    let detail = app
        .get("/api/objects/invoice/000000010890.202612.13", &app.acme.key)
        .await;

    let fix = &listed.json["items"][0]["fix"];
    assert_eq!(fix["kind"], "lookup", "{}", listed.text());
    assert_eq!(fix["table"], "combined-tax-codes");
    assert_eq!(fix["key"], "ECO+V21");
    assert_eq!(fix["columns"], json!(["exact_code"]));
    assert_eq!(detail.json["object"]["fix"], *fix, "{}", detail.text());
}

#[tokio::test]
async fn connection_secrets_are_accepted_but_never_returned() {
    let app = TestApp::spawn().await;
    let key = app.acme.key.clone();
    let secret = "s3cr3t-client-value-123";

    let updated = app
        .put_connection("exact", &key, json!({"client_secret": secret, "webhook_secret": "hook-value-456", "division": 555, "base_url": "https://start.exactonline.nl"}),
        )
        .await;
    let vp = app
        .put_connection(
            "vantagepoint",
            &key,
            json!({"password": "pw-value-789", "username": "sync"}),
        )
        .await;
    let misplaced = app
        .put_connection("vantagepoint", &key, json!({"division": 1}))
        .await;
    let both = app
        .put_connection(
            "exact",
            &key,
            json!({"client_secret": "a", "client_secret_ref": {"kind": "ssm", "name": "/x"}}),
        )
        .await;
    let viewed = app.get("/api/connections", &key).await;

    assert_eq!(updated.status, StatusCode::OK, "{}", updated.text());
    assert_eq!(vp.status, StatusCode::OK, "{}", vp.text());
    misplaced.assert_problem(StatusCode::BAD_REQUEST);
    both.assert_problem(StatusCode::BAD_REQUEST);
    for answer in [&updated, &vp, &viewed] {
        let text = answer.text();
        for value in [
            secret,
            "hook-value-456",
            "pw-value-789",
            "acme/exact",
            "acme/vp",
        ] {
            assert!(!text.contains(value), "{value} returned in {text}");
        }
    }
    assert_eq!(viewed.json["exact"]["division"], 555);
    assert_eq!(viewed.json["exact"]["client_secret_configured"], true);
    assert_eq!(viewed.json["vantagepoint"]["username"], "sync");
    // The value went to the secret store; the record keeps only the reference.
    let record = app.stores.tenants.get(&app.acme.id).await.unwrap().unwrap();
    let SecretRef::Local(name) = &record.exact_client_secret else {
        panic!("expected a local reference")
    };
    let stored = ledgerlink_flows::SecretResolver::resolve(
        &*app.secrets,
        &app.acme.id,
        &SecretRef::Local(name.clone()),
    )
    .await
    .unwrap();
    assert_eq!(stored.expose(), secret);
    assert!(!serde_json::to_string(&record).unwrap().contains(secret));
}

#[tokio::test]
async fn a_connection_can_be_paused_and_resumed() {
    let app = TestApp::spawn().await;

    let paused = app
        .post(
            "/api/connections/pause",
            &app.acme.key,
            json!({"reason": "maintenance"}),
        )
        .await;
    let resumed = app
        .post("/api/connections/resume", &app.acme.key, json!({}))
        .await;

    assert_eq!(paused.json["state"], "paused", "{}", paused.text());
    assert_eq!(paused.json["paused_reason"], "maintenance");
    assert_eq!(resumed.json["state"], "active");
    let record = app.stores.tenants.get(&app.acme.id).await.unwrap().unwrap();
    assert_eq!(record.state, ConnectionState::Active);
}

#[tokio::test]
async fn the_outbox_shows_the_users_and_operators_notifications_and_marks_them_read() {
    let app = TestApp::spawn().await;
    for (id, recipient) in [
        ("n-op", "operators"),
        ("n-me", "acme-user"),
        ("n-other", "someone-else"),
    ] {
        app.stores
            .notifications
            .push(&Notification {
                tenant: app.acme.id.clone(),
                id: id.into(),
                kind: NotificationKind::ExportFinished,
                recipient: recipient.into(),
                subject: format!("subject {id}"),
                body: "body".into(),
                link: None,
                created_at: now(),
                delivered_at: None,
            })
            .await
            .unwrap();
    }

    let listed = app.get("/api/notifications", &app.acme.key).await;
    let read = app
        .post("/api/notifications/n-me/read", &app.acme.key, json!({}))
        .await;
    let after = app.get("/api/notifications", &app.acme.key).await;

    let mut ids: Vec<_> = listed.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    assert_eq!(ids, ["n-me", "n-op"]);
    assert_eq!(read.status, StatusCode::NO_CONTENT);
    let me = after.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["id"] == "n-me")
        .unwrap()
        .clone();
    assert!(me["read_at"].is_string());
}

#[tokio::test]
async fn testing_a_connection_that_cannot_be_built_reports_why_without_details() {
    let app = TestApp::spawn().await;

    let answer = app
        .post("/api/connections/exact/test", &app.acme.key, json!({}))
        .await;
    let unknown = app
        .post("/api/connections/sage/test", &app.acme.key, json!({}))
        .await;

    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_eq!(answer.json["ok"], false);
    assert!(
        answer.json["message"]
            .as_str()
            .unwrap()
            .contains("could not be set up")
    );
    assert!(
        !answer.text().contains("acme/"),
        "secret references stay private: {}",
        answer.text()
    );
    unknown.assert_problem(StatusCode::BAD_REQUEST);
}
