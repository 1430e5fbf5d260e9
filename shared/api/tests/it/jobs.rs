//! Export definitions, export history with its task actions, imports, and the Integrations Manager.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use ledgerlink_domain::Flow;
use ledgerlink_ports::{JobKind, JobStatus};
use serde_json::json;

use crate::helpers::TestApp;

fn definition(id: &str) -> serde_json::Value {
    json!({
        "id": id,
        "name": "customer-summary",
        "description": "Objects and their status",
        "source": {"kind": "statuses"},
        "columns": [{"field": "key", "header": "Key"}, {"field": "status", "header": "Status"}],
        "format": "csv",
    })
}

#[tokio::test]
async fn export_definitions_can_be_created_read_updated_run_and_deleted() {
    let app = TestApp::spawn().await;
    let key = app.acme.key.clone();

    let created = app
        .post(
            "/api/export-definitions",
            &key,
            definition("customer-summary"),
        )
        .await;
    let again = app
        .post(
            "/api/export-definitions",
            &key,
            definition("customer-summary"),
        )
        .await;
    let listed = app.get("/api/export-definitions", &key).await;
    let mut changed = definition("customer-summary");
    changed["name"] = json!("Customer summary");
    // The version read (a client without If-Match gives it in the body).
    changed["version"] = json!(1);
    let updated = app
        .call(
            "PUT",
            "/api/export-definitions/customer-summary",
            Some(&key),
            Some(changed),
        )
        .await;
    let run = app
        .post(
            "/api/export-definitions/customer-summary/run",
            &key,
            json!({}),
        )
        .await;
    let deleted = app
        .call(
            "DELETE",
            "/api/export-definitions/customer-summary",
            Some(&key),
            None,
        )
        .await;
    let gone = app
        .get("/api/export-definitions/customer-summary", &key)
        .await;
    let invalid = app
        .post("/api/export-definitions", &key, json!({"id": "Bad Id!"}))
        .await;

    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    assert_eq!(created.json["updated_by"], "acme-user");
    again.assert_problem(StatusCode::CONFLICT);
    assert_eq!(listed.json["items"].as_array().unwrap().len(), 1);
    assert_eq!(updated.json["name"], "Customer summary");
    assert_eq!(run.status, StatusCode::CREATED, "{}", run.text());
    assert_eq!(run.json["status"], "started");
    assert_eq!(run.json["created_by"], "acme-user");
    assert_eq!(run.json["actions"], json!(["mark-failed"]));
    assert_eq!(app.drain(Flow::ExportJob).await.len(), 1);
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    gone.assert_problem(StatusCode::NOT_FOUND);
    assert!(invalid.status.is_client_error());
}

#[tokio::test]
async fn the_export_history_shows_every_column_and_the_possible_task_actions() {
    let app = TestApp::spawn().await;
    app.seed_job(&app.acme.id, 33392, JobKind::Export, JobStatus::Finished)
        .await;
    app.seed_job(&app.acme.id, 33393, JobKind::Export, JobStatus::Started)
        .await;

    let history = app.get("/api/jobs?kind=export", &app.acme.key).await;

    let items = history.json["items"].as_array().unwrap();
    assert_eq!(
        items[0]["id"], "33393",
        "newest first, ids as users see them"
    );
    let finished = &items[1];
    for column in [
        "id",
        "description",
        "created_by",
        "processed",
        "total",
        "status",
        "started_at",
        "finished_at",
        "failed_at",
        "downloadable",
        "actions",
    ] {
        assert!(finished.get(column).is_some(), "missing {column}");
    }
    assert_eq!(finished["downloadable"], true);
    assert_eq!(finished["actions"], json!(["reset"]));
    assert_eq!(items[0]["actions"], json!(["mark-failed"]));
}

#[tokio::test]
async fn download_links_are_issued_only_for_finished_exports() {
    let app = TestApp::spawn().await;
    app.seed_job(&app.acme.id, 1, JobKind::Export, JobStatus::Finished)
        .await;
    app.seed_job(&app.acme.id, 2, JobKind::Export, JobStatus::Started)
        .await;

    let link = app
        .post("/api/jobs/1/download", &app.acme.key, json!({}))
        .await;
    let started = app
        .post("/api/jobs/2/download", &app.acme.key, json!({}))
        .await;

    assert_eq!(link.status, StatusCode::OK, "{}", link.text());
    assert!(
        link.json["url"]
            .as_str()
            .unwrap()
            .contains("/files/acme/exports/1/out.csv")
    );
    assert!(link.json["expires_at"].is_string());
    started.assert_problem(StatusCode::CONFLICT);
}

#[tokio::test]
async fn mark_failed_stops_a_started_job_and_reset_queues_a_new_attempt() {
    let app = TestApp::spawn().await;
    app.seed_job(&app.acme.id, 5, JobKind::Export, JobStatus::Started)
        .await;

    let reset_started = app
        .post("/api/jobs/5/reset", &app.acme.key, json!({}))
        .await;
    let failed = app
        .post(
            "/api/jobs/5/mark-failed",
            &app.acme.key,
            json!({"reason": "stuck"}),
        )
        .await;
    let failed_again = app
        .post("/api/jobs/5/mark-failed", &app.acme.key, json!({}))
        .await;
    let reset = app
        .post("/api/jobs/5/reset", &app.acme.key, json!({}))
        .await;

    reset_started.assert_problem(StatusCode::CONFLICT);
    assert_eq!(failed.status, StatusCode::OK, "{}", failed.text());
    assert_eq!(failed.json["status"], "failed");
    assert!(
        failed.json["fail_reason"]
            .as_str()
            .unwrap()
            .contains("stuck")
    );
    assert!(failed.json["failed_at"].is_string());
    failed_again.assert_problem(StatusCode::CONFLICT);
    assert_eq!(reset.status, StatusCode::CREATED, "{}", reset.text());
    assert_eq!(reset.json["attempt"], 2);
    assert_eq!(reset.json["original_id"], "5");
    assert_eq!(reset.json["status"], "started");
    assert_eq!(app.drain(Flow::ExportJob).await.len(), 1);
}

#[tokio::test]
async fn import_templates_download_and_an_upload_queues_an_import() {
    let app = TestApp::spawn().await;
    let key = app.acme.key.clone();
    let templates = app.get("/api/imports/templates", &key).await;
    let csv = app
        .get("/api/imports/templates/lookup-tax-codes?format=csv", &key)
        .await;
    let xlsx = app.get("/api/imports/templates/firms", &key).await;
    let unknown = app.get("/api/imports/templates/spaceships", &key).await;

    let upload = app
        .send(
            Request::builder()
                .method("POST")
                .uri("/api/imports?template=lookup-tax-codes&format=csv")
                .header(header::AUTHORIZATION, format!("Bearer {key}"))
                .header(header::CONTENT_TYPE, "text/csv")
                .body(Body::from(csv.bytes.clone()))
                .unwrap(),
        )
        .await;

    assert!(
        templates.json["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == "firms")
    );
    assert_eq!(csv.status, StatusCode::OK);
    assert!(csv.content_type().starts_with("text/csv"));
    assert_eq!(xlsx.status, StatusCode::OK);
    assert_eq!(&xlsx.bytes[..2], b"PK", "an XLSX file is a zip");
    unknown.assert_problem(StatusCode::NOT_FOUND);
    assert_eq!(upload.status, StatusCode::CREATED, "{}", upload.text());
    assert_eq!(upload.json["kind"], "import");
    let id = upload.json["id"].as_str().unwrap().to_owned();
    let summary = app.get(&format!("/api/imports/{id}/summary"), &key).await;
    assert_eq!(summary.status, StatusCode::OK);
    assert!(summary.json["summary"].is_null(), "not run yet");
    assert_eq!(app.drain(Flow::ImportJob).await.len(), 1);
}

#[tokio::test]
async fn an_import_upload_may_be_larger_than_a_json_body_but_not_unbounded() {
    let app = TestApp::spawn().await;
    let two_mib = vec![b'a'; 2 * 1024 * 1024];
    let too_big = vec![b'a'; 21 * 1024 * 1024];
    let request = |body: Vec<u8>| {
        Request::builder()
            .method("POST")
            .uri("/api/imports?template=firms&format=csv")
            .header(header::AUTHORIZATION, format!("Bearer {}", app.acme.key))
            .body(Body::from(body))
            .unwrap()
    };

    let accepted = app.send(request(two_mib)).await;
    let refused = app.send(request(too_big)).await;

    assert_eq!(accepted.status, StatusCode::CREATED, "{}", accepted.text());
    refused.assert_problem(StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn integrations_are_managed_and_their_export_tasks_run_per_period() {
    let app = TestApp::spawn().await;
    let key = app.acme.key.clone();
    app.post(
        "/api/export-definitions",
        &key,
        definition("customer-summary"),
    )
    .await;

    let created = app
        .post(
            "/api/integrations",
            &key,
            json!({"id": "monthly", "name": "Monthly close", "import_tasks": ["firms"], "export_tasks": ["customer-summary"]}),
        )
        .await;
    let bad_task = app
        .post(
            "/api/integrations",
            &key,
            json!({"id": "bad", "name": "Bad", "export_tasks": ["nope"]}),
        )
        .await;
    let before = app
        .get("/api/integrations/monthly/periods/202601", &key)
        .await;
    let run = app
        .post(
            "/api/integrations/monthly/run",
            &key,
            json!({"period": "202601"}),
        )
        .await;
    let stale = app
        .call(
            "PUT",
            "/api/integrations/monthly",
            Some(&key),
            Some(json!({"name": "x", "version": 99})),
        )
        .await;
    let bad_period = app
        .get("/api/integrations/monthly/periods/2026", &key)
        .await;

    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    bad_task.assert_problem(StatusCode::BAD_REQUEST);
    assert_eq!(before.status, StatusCode::OK, "{}", before.text());
    assert_eq!(before.json["export_tasks"][0]["state"], "not-run");
    assert_eq!(before.json["import_tasks"][0]["task"], "import:firms");
    assert_eq!(run.status, StatusCode::CREATED, "{}", run.text());
    assert_eq!(run.json["items"].as_array().unwrap().len(), 1);
    stale.assert_problem(StatusCode::CONFLICT);
    bad_period.assert_problem(StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_large_import_goes_through_a_presigned_upload_and_is_submitted() {
    let app = TestApp::spawn().await;
    let key = app.acme.key.clone();
    let begun = app
        .post(
            "/api/imports/uploads",
            &key,
            json!({"template": "lookup-tax-codes", "format": "csv"}),
        )
        .await;
    assert_eq!(begun.status, StatusCode::CREATED, "{}", begun.text());
    let id = begun.json["job"]["id"].as_str().unwrap().to_owned();
    let url = begun.json["upload"]["url"].as_str().unwrap().to_owned();
    let path = url
        .strip_prefix(crate::helpers::BASE_URL)
        .unwrap()
        .to_owned();

    let early = app
        .post(&format!("/api/imports/{id}/submit"), &key, json!({}))
        .await;
    let put = app
        .send(
            Request::builder()
                .method("PUT")
                .uri(&path)
                .body(Body::from("Key,vp_code,rate,compound_on\n21,S,21,\n"))
                .unwrap(),
        )
        .await;
    let tampered = app
        .send(
            Request::builder()
                .method("PUT")
                .uri(path.replacen("sig=", "sig=00", 1))
                .body(Body::from("x"))
                .unwrap(),
        )
        .await;
    let submitted = app
        .post(&format!("/api/imports/{id}/submit"), &key, json!({}))
        .await;

    early.assert_problem(StatusCode::BAD_REQUEST);
    assert_eq!(put.status, StatusCode::OK, "{}", put.text());
    tampered.assert_problem(StatusCode::FORBIDDEN);
    assert_eq!(submitted.status, StatusCode::OK, "{}", submitted.text());
    assert_eq!(app.drain(Flow::ImportJob).await.len(), 1);
}

#[tokio::test]
async fn a_definition_edited_from_an_old_version_is_refused_and_a_copy_gets_its_own_id() {
    let app = TestApp::spawn().await;
    let key = app.acme.key.clone();
    let created = app
        .post("/api/export-definitions", &key, definition("errors"))
        .await;
    let mut first = created.json.clone();
    first["name"] = json!("Objects in Error");
    let mut second = created.json.clone();
    second["name"] = json!("Errors (Bob)");

    let saved = app
        .call(
            "PUT",
            "/api/export-definitions/errors",
            Some(&key),
            Some(first),
        )
        .await;
    let stale = app
        .call(
            "PUT",
            "/api/export-definitions/errors",
            Some(&key),
            Some(second),
        )
        .await;
    let copy = app
        .post(
            "/api/export-definitions/errors/copy",
            &key,
            json!({"id": "errors-2"}),
        )
        .await;
    let copy_again = app
        .post(
            "/api/export-definitions/errors/copy",
            &key,
            json!({"id": "errors-2"}),
        )
        .await;
    let copy_of_nothing = app
        .post(
            "/api/export-definitions/nothing/copy",
            &key,
            json!({"id": "x"}),
        )
        .await;
    let other_tenant = app
        .get("/api/export-definitions/errors", &app.globex.key)
        .await;
    let bad_date = {
        let mut d = definition("dated");
        d["filter"] = json!([{"field": "updated_at", "op": "on-or-after", "value": "yesterday"}]);
        app.post("/api/export-definitions", &key, d).await
    };

    assert_eq!(created.json["version"], 1);
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.text());
    assert_eq!(saved.json["version"], 2);
    stale.assert_problem(StatusCode::CONFLICT);
    assert!(stale.json["detail"].as_str().unwrap().contains("reload"));
    assert_eq!(copy.status, StatusCode::CREATED, "{}", copy.text());
    assert_eq!(copy.json["name"], "Objects in Error (copy)");
    assert_eq!(copy.json["columns"], saved.json["columns"]);
    copy_again.assert_problem(StatusCode::CONFLICT);
    copy_of_nothing.assert_problem(StatusCode::NOT_FOUND);
    other_tenant.assert_problem(StatusCode::NOT_FOUND);
    bad_date.assert_problem(StatusCode::BAD_REQUEST);
    assert!(
        bad_date.json["detail"]
            .as_str()
            .unwrap()
            .contains("YYYY-MM-DD"),
        "{}",
        bad_date.text()
    );
}

#[tokio::test]
async fn the_export_sources_list_every_source_with_its_fields() {
    let app = TestApp::spawn().await;

    let sources = app.get("/api/export-sources", &app.acme.key).await;

    assert_eq!(sources.status, StatusCode::OK);
    let kinds: Vec<&str> = sources.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["kind"].as_str().unwrap())
        .collect();
    for kind in [
        "statuses",
        "status-history",
        "lookup",
        "jobs",
        "integration-periods",
        "vp-firms",
        "firm-accounts",
        "vp-invoices",
        "exact-accounts",
        "exact-payments",
        "exact-gl-accounts",
    ] {
        assert!(kinds.contains(&kind), "{kind} missing from {kinds:?}");
    }
    assert!(
        sources.json["items"][0]["fields"]
            .as_array()
            .unwrap()
            .contains(&json!("last_message"))
    );
    assert!(
        sources.json["lookup_tables"]
            .as_array()
            .unwrap()
            .contains(&json!("firms"))
    );
}
