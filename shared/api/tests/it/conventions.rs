//! The API's conventions: problems with `instance` and `errors`, honest titles, `Location` on 201s,
//! `Idempotency-Key` on the POSTs that start work, `ETag` / `If-Match` on PUTs, notification paging.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use ledgerlink_domain::{Flow, ObjectType, SyncStatus};
use ledgerlink_ports::{JobKind, JobStatus, Notification, NotificationKind};
use serde_json::{Value, json};

use crate::helpers::{Answer, TestApp, now};

fn definition(id: &str) -> Value {
    json!({
        "id": id,
        "name": "customer-summary",
        "source": {"kind": "statuses"},
        "columns": [{"field": "key", "header": "Key"}],
        "format": "csv",
    })
}

/// A request with a key, a JSON body and extra headers.
async fn send(
    app: &TestApp,
    method: &str,
    path: &str,
    key: &str,
    body: Option<Value>,
    headers: &[(&str, &str)],
) -> Answer {
    let mut builder = Request::builder()
        .method(method)
        .uri(path)
        .header(header::AUTHORIZATION, format!("Bearer {key}"));
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let request = match body {
        Some(body) => builder
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap(),
        None => builder.body(Body::empty()).unwrap(),
    };
    app.send(request).await
}

fn location(answer: &Answer) -> String {
    answer
        .headers
        .get(header::LOCATION)
        .unwrap_or_else(|| panic!("no Location: {} {}", answer.status, answer.text()))
        .to_str()
        .unwrap()
        .to_owned()
}

fn etag(answer: &Answer) -> String {
    answer
        .headers
        .get(header::ETAG)
        .unwrap_or_else(|| panic!("no ETag: {} {}", answer.status, answer.text()))
        .to_str()
        .unwrap()
        .to_owned()
}

// ---------------------------------------------------------------------------------------------------------
// Problems
// ---------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_problem_names_the_request_path_as_instance_and_lists_the_field_errors() {
    let app = TestApp::spawn().await;

    let bad_limit = app.get("/api/objects?limit=9999", &app.acme.key).await;
    let unknown_field = app
        .post(
            "/api/objects/synchronize",
            &app.acme.key,
            json!({"objects": [], "extra": 1}),
        )
        .await;
    let unknown_enum = app
        .post(
            "/api/objects/synchronize",
            &app.acme.key,
            json!({"objects": [{"type": "planet", "key": "X"}]}),
        )
        .await;
    let no_route = app.get("/api/nothing?sig=secret", &app.acme.key).await;

    bad_limit.assert_problem(StatusCode::BAD_REQUEST);
    assert_eq!(
        bad_limit.json["instance"], "/api/objects",
        "the query is left out"
    );
    assert_eq!(bad_limit.json["errors"][0]["field"], "limit");
    assert!(bad_limit.json["errors"][0]["detail"].is_string());
    unknown_field.assert_problem(StatusCode::BAD_REQUEST);
    assert_eq!(unknown_field.json["instance"], "/api/objects/synchronize");
    assert_eq!(unknown_field.json["errors"][0]["field"], "extra");
    unknown_enum.assert_problem(StatusCode::BAD_REQUEST);
    assert_eq!(unknown_enum.json["errors"][0]["field"], "objects[0].type");
    no_route.assert_problem(StatusCode::NOT_FOUND);
    assert_eq!(no_route.json["instance"], "/api/nothing");
}

#[tokio::test]
async fn a_wrong_method_is_titled_as_a_wrong_method_not_as_a_bad_body() {
    let app = TestApp::spawn().await;

    let answer = app
        .call("DELETE", "/api/objects", Some(&app.acme.key), None)
        .await;

    answer.assert_problem(StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        answer.json["type"],
        "urn:ledgerlink:problem:method-not-allowed"
    );
    assert_eq!(answer.json["title"], "Method not allowed on this route");
    assert!(answer.json["detail"].as_str().unwrap().contains("DELETE"));
}

#[tokio::test]
async fn a_bad_file_link_is_refused_as_a_link_not_as_a_webhook_signature() {
    let app = TestApp::spawn().await;

    let answer = app
        .call(
            "GET",
            "/files/acme/exports/1/out.csv?method=GET&expires=1&sig=00",
            None,
            None,
        )
        .await;

    answer.assert_problem(StatusCode::FORBIDDEN);
    assert_eq!(answer.json["type"], "urn:ledgerlink:problem:bad-link");
    assert_ne!(answer.json["title"], "Webhook signature refused");
    assert_eq!(answer.json["instance"], "/files/acme/exports/1/out.csv");
}

#[tokio::test]
async fn every_201_carries_the_location_of_what_it_created() {
    let app = TestApp::spawn().await;
    let key = app.acme.key.clone();

    let definition = app
        .post("/api/export-definitions", &key, definition("summary"))
        .await;
    let copy = app
        .post(
            "/api/export-definitions/summary/copy",
            &key,
            json!({"id": "summary-2"}),
        )
        .await;
    let run = app
        .post("/api/export-definitions/summary/run", &key, json!({}))
        .await;
    let integration = app
        .post(
            "/api/integrations",
            &key,
            json!({"id": "monthly", "name": "Monthly"}),
        )
        .await;
    let row = send(
        &app,
        "PUT",
        "/api/lookups/tax-codes/21",
        &key,
        Some(json!({"columns": {"vp_code": "S"}, "version": null})),
        &[],
    )
    .await;
    let begun = app
        .post(
            "/api/imports/uploads",
            &key,
            json!({"template": "firms", "format": "csv"}),
        )
        .await;

    for (answer, expected) in [
        (&definition, "/api/export-definitions/summary".to_owned()),
        (&copy, "/api/export-definitions/summary-2".to_owned()),
        (
            &run,
            format!("/api/jobs/{}", run.json["id"].as_str().unwrap_or("?")),
        ),
        (&integration, "/api/integrations/monthly".to_owned()),
        (&row, "/api/lookups/tax-codes/21".to_owned()),
        (
            &begun,
            format!(
                "/api/jobs/{}",
                begun.json["job"]["id"].as_str().unwrap_or("?")
            ),
        ),
    ] {
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text());
        assert_eq!(location(answer), expected);
        let fetched = app.get(&expected, &key).await;
        assert_eq!(
            fetched.status,
            StatusCode::OK,
            "GET {expected}: {}",
            fetched.text()
        );
    }
}

// ---------------------------------------------------------------------------------------------------------
// Idempotency-Key
// ---------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_repeated_export_run_with_the_same_idempotency_key_answers_the_first_and_starts_one_job()
{
    let app = TestApp::spawn().await;
    let key = app.acme.key.clone();
    app.post("/api/export-definitions", &key, definition("summary"))
        .await;
    let path = "/api/export-definitions/summary/run";
    let one = [("Idempotency-Key", "run-1")];
    let two = [("Idempotency-Key", "run-2")];

    let first = send(&app, "POST", path, &key, None, &one).await;
    let repeat = send(&app, "POST", path, &key, None, &one).await;
    let other = send(&app, "POST", path, &key, None, &two).await;
    let history = app.get("/api/jobs?kind=export", &key).await;

    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text());
    assert_eq!(repeat.status, StatusCode::CREATED);
    assert_eq!(repeat.json, first.json, "the first answer, body and all");
    assert_eq!(location(&repeat), location(&first));
    assert_eq!(repeat.headers["idempotent-replayed"], "true");
    assert!(first.headers.get("idempotent-replayed").is_none());
    assert_ne!(other.json["id"], first.json["id"], "a new key is a new run");
    assert_eq!(
        history.json["items"].as_array().unwrap().len(),
        2,
        "two keys, two jobs: {}",
        history.text()
    );
}

#[tokio::test]
async fn a_repeated_synchronize_with_the_same_key_queues_once_and_another_body_is_a_422() {
    let app = TestApp::spawn().await;
    for key in ["INV-1", "INV-2"] {
        app.seed_object(
            &app.acme.id,
            ObjectType::Invoice,
            key,
            SyncStatus::Error,
            Some("refused"),
            now(),
        )
        .await;
    }
    let sync = |invoice: &'static str| {
        send(
            &app,
            "POST",
            "/api/objects/force-synchronize",
            &app.acme.key,
            Some(json!({"objects": [{"type": "invoice", "key": invoice}]})),
            &[("Idempotency-Key", "sync-7f3a")],
        )
    };

    let first = sync("INV-1").await;
    let repeat = sync("INV-1").await;
    let different = sync("INV-2").await;
    let queued = app.drain(Flow::InvoiceOut).await;

    assert_eq!(first.status, StatusCode::OK, "{}", first.text());
    assert_eq!(repeat.json, first.json);
    assert_eq!(queued.len(), 1, "the repeat started nothing");
    different.assert_problem(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        different.json["type"],
        "urn:ledgerlink:problem:idempotency-key-reused"
    );
}

#[tokio::test]
async fn idempotency_keys_are_scoped_to_the_tenant_and_the_route() {
    let app = TestApp::spawn().await;
    app.seed_job(&app.acme.id, 7, JobKind::Export, JobStatus::Failed)
        .await;
    app.seed_job(&app.acme.id, 8, JobKind::Export, JobStatus::Failed)
        .await;
    app.seed_job(&app.globex.id, 7, JobKind::Export, JobStatus::Failed)
        .await;
    let same = [("Idempotency-Key", "same")];

    let acme_7 = send(
        &app,
        "POST",
        "/api/jobs/7/reset",
        &app.acme.key,
        None,
        &same,
    )
    .await;
    let acme_8 = send(
        &app,
        "POST",
        "/api/jobs/8/reset",
        &app.acme.key,
        None,
        &same,
    )
    .await;
    let globex_7 = send(
        &app,
        "POST",
        "/api/jobs/7/reset",
        &app.globex.key,
        None,
        &same,
    )
    .await;

    for answer in [&acme_7, &acme_8, &globex_7] {
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text());
        assert!(answer.headers.get("idempotent-replayed").is_none());
    }
    assert_eq!(acme_7.json["original_id"], "7");
    assert_eq!(acme_8.json["original_id"], "8");
    assert_eq!(globex_7.json["original_id"], "7");
}

#[tokio::test]
async fn a_failed_request_does_not_hold_its_idempotency_key_and_a_malformed_key_is_a_400() {
    let app = TestApp::spawn().await;
    let key = app.acme.key.clone();
    let run = || {
        send(
            &app,
            "POST",
            "/api/export-definitions/summary/run",
            &key,
            None,
            &[("Idempotency-Key", "retry-me")],
        )
    };

    let missing = run().await;
    app.post("/api/export-definitions", &key, definition("summary"))
        .await;
    let retried = run().await;
    let malformed = send(
        &app,
        "POST",
        "/api/export-definitions/summary/run",
        &key,
        None,
        &[("Idempotency-Key", "")],
    )
    .await;

    missing.assert_problem(StatusCode::NOT_FOUND);
    assert_eq!(retried.status, StatusCode::CREATED, "{}", retried.text());
    malformed.assert_problem(StatusCode::BAD_REQUEST);
    assert_eq!(malformed.json["errors"][0]["field"], "Idempotency-Key");
}

// ---------------------------------------------------------------------------------------------------------
// ETag / If-Match
// ---------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_put_with_a_stale_if_match_is_412_and_the_current_etag_is_accepted() {
    let app = TestApp::spawn().await;
    let key = app.acme.key.clone();
    app.post("/api/export-definitions", &key, definition("summary"))
        .await;
    app.post(
        "/api/integrations",
        &key,
        json!({"id": "monthly", "name": "Monthly"}),
    )
    .await;
    send(
        &app,
        "PUT",
        "/api/lookups/tax-codes/21",
        &key,
        Some(json!({"columns": {"vp_code": "S"}, "version": null})),
        &[],
    )
    .await;
    let mut changed_definition = definition("summary");
    changed_definition["name"] = json!("Renamed");
    let cases = [
        (
            "/api/export-definitions/summary",
            "/api/export-definitions/summary",
            changed_definition,
        ),
        (
            "/api/integrations/monthly",
            "/api/integrations/monthly",
            json!({"name": "Renamed"}),
        ),
        (
            "/api/lookups/tax-codes/21",
            "/api/lookups/tax-codes/21",
            json!({"columns": {"vp_code": "L"}}),
        ),
        (
            "/api/connections",
            "/api/connections/vantagepoint",
            json!({"database": "Renamed"}),
        ),
    ];

    for (get, put, body) in cases {
        let read = app.get(get, &key).await;
        let tag = etag(&read);
        let stale = send(
            &app,
            "PUT",
            put,
            &key,
            Some(body.clone()),
            &[("If-Match", "\"999\"")],
        )
        .await;
        let current = send(
            &app,
            "PUT",
            put,
            &key,
            Some(body.clone()),
            &[("If-Match", &tag)],
        )
        .await;
        let replayed = send(&app, "PUT", put, &key, Some(body), &[("If-Match", &tag)]).await;

        stale.assert_problem(StatusCode::PRECONDITION_FAILED);
        assert_eq!(
            current.status,
            StatusCode::OK,
            "PUT {put}: {}",
            current.text()
        );
        assert_ne!(etag(&current), tag, "PUT {put} answers the new ETag");
        replayed.assert_problem(StatusCode::PRECONDITION_FAILED);
    }
}

#[tokio::test]
async fn a_put_without_if_match_uses_the_body_version_and_without_either_is_428() {
    let app = TestApp::spawn().await;
    let key = app.acme.key.clone();
    app.post("/api/export-definitions", &key, definition("summary"))
        .await;
    app.post(
        "/api/integrations",
        &key,
        json!({"id": "monthly", "name": "Monthly"}),
    )
    .await;

    let definition_blind = send(
        &app,
        "PUT",
        "/api/export-definitions/summary",
        &key,
        Some(definition("summary")),
        &[],
    )
    .await;
    let mut with_version = definition("summary");
    with_version["version"] = json!(1);
    let definition_versioned = send(
        &app,
        "PUT",
        "/api/export-definitions/summary",
        &key,
        Some(with_version),
        &[],
    )
    .await;
    let integration_blind = send(
        &app,
        "PUT",
        "/api/integrations/monthly",
        &key,
        Some(json!({"name": "x"})),
        &[],
    )
    .await;
    let connection_blind = send(
        &app,
        "PUT",
        "/api/connections/vantagepoint",
        &key,
        Some(json!({"database": "x"})),
        &[],
    )
    .await;
    let connection_versioned = send(
        &app,
        "PUT",
        "/api/connections/vantagepoint",
        &key,
        Some(json!({"database": "x", "version": 1})),
        &[],
    )
    .await;

    definition_blind.assert_problem(StatusCode::PRECONDITION_REQUIRED);
    assert_eq!(
        definition_versioned.status,
        StatusCode::OK,
        "{}",
        definition_versioned.text()
    );
    integration_blind.assert_problem(StatusCode::PRECONDITION_REQUIRED);
    connection_blind.assert_problem(StatusCode::PRECONDITION_REQUIRED);
    assert_eq!(
        connection_versioned.status,
        StatusCode::OK,
        "{}",
        connection_versioned.text()
    );
}

// ---------------------------------------------------------------------------------------------------------
// Notification paging
// ---------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn notification_pages_are_filtered_before_paging_and_never_empty_with_a_next_cursor() {
    let app = TestApp::spawn().await;
    let base = now();
    // Newest first: 3 for someone else, 1 for the caller, 4 for someone else, 1 for the caller, 6 for
    // someone else at the end.
    let recipients = [
        "x",
        "x",
        "x",
        "acme-user",
        "x",
        "x",
        "x",
        "x",
        "acme-user",
        "x",
        "x",
        "x",
        "x",
        "x",
        "x",
    ];
    for (i, recipient) in recipients.iter().enumerate() {
        app.stores
            .notifications
            .push(&Notification {
                tenant: app.acme.id.clone(),
                id: format!("n{i:02}"),
                kind: NotificationKind::ExportFinished,
                recipient: (*recipient).into(),
                subject: format!("subject {i}"),
                body: "body".into(),
                link: None,
                created_at: base - chrono::Duration::seconds(i64::try_from(i).unwrap()),
                delivered_at: None,
            })
            .await
            .unwrap();
    }

    let mut pages = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/notifications?limit=1&cursor={c}"),
            None => "/api/notifications?limit=1".to_owned(),
        };
        let page = app.get(&path, &app.acme.key).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text());
        let ids: Vec<String> = page.json["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["id"].as_str().unwrap().to_owned())
            .collect();
        pages.push(ids);
        cursor = page.json["next_cursor"].as_str().map(str::to_owned);
        if cursor.is_none() || pages.len() > 20 {
            break;
        }
    }

    assert_eq!(pages, vec![vec!["n03".to_owned()], vec!["n08".to_owned()]]);
}
