//! The Integration page: filters, pagination, detail, Synchronize / Force synchronize rules, counts, health.

use axum::http::StatusCode;
use chrono::Duration;
use ledgerlink_domain::{Flow, ObjectType, SyncStatus};
use ledgerlink_ports::WorkAction;
use serde_json::json;

use crate::helpers::{TestApp, now};

async fn seeded() -> TestApp {
    let app = TestApp::spawn().await;
    let t = app.acme.id.clone();
    let at = now();
    app.seed_object(
        &t,
        ObjectType::Invoice,
        "INV-100",
        SyncStatus::Error,
        Some("VAT code 99 unknown"),
        at,
    )
    .await;
    app.seed_object(
        &t,
        ObjectType::Invoice,
        "INV-101",
        SyncStatus::Success,
        None,
        at,
    )
    .await;
    app.seed_object(
        &t,
        ObjectType::Invoice,
        "INV-102",
        SyncStatus::Pending,
        None,
        at,
    )
    .await;
    app.seed_object(
        &t,
        ObjectType::ApVoucher,
        "V-1",
        SyncStatus::Desynchronized,
        None,
        at,
    )
    .await;
    app.seed_object(
        &t,
        ObjectType::Firm,
        "CLIENT-1",
        SyncStatus::NotIntegrated,
        None,
        at,
    )
    .await;
    app.seed_object(
        &t,
        ObjectType::Firm,
        "CLIENT-2",
        SyncStatus::Error,
        Some("address missing"),
        at,
    )
    .await;
    app
}

fn keys(answer: &crate::helpers::Answer) -> Vec<String> {
    let mut keys: Vec<String> = answer.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["key"].as_str().unwrap().to_owned())
        .collect();
    keys.sort();
    keys
}

#[tokio::test]
async fn the_list_filters_by_status_category_type_key_prefix_and_version() {
    let app = seeded().await;
    let key = app.acme.key.clone();

    let errors = app.get("/api/objects?status=error", &key).await;
    let finance = app.get("/api/objects?category=finance", &key).await;
    let master_errors = app
        .get("/api/objects?category=master-data&status=error", &key)
        .await;
    let vouchers = app.get("/api/objects?type=ap-voucher", &key).await;
    let prefix = app.get("/api/objects?key_prefix=INV-10", &key).await;
    let version = app.get("/api/objects?version=v2", &key).await;

    assert_eq!(keys(&errors), ["CLIENT-2", "INV-100"]);
    assert_eq!(keys(&finance), ["INV-100", "INV-101", "INV-102", "V-1"]);
    assert_eq!(keys(&master_errors), ["CLIENT-2"]);
    assert_eq!(keys(&vouchers), ["V-1"]);
    assert_eq!(keys(&prefix), ["INV-100", "INV-101", "INV-102"]);
    assert_eq!(keys(&version), Vec::<String>::new());
    let error_line = &errors.json["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["key"] == "INV-100")
        .unwrap();
    assert_eq!(error_line["last_message"], "VAT code 99 unknown");
    assert_eq!(error_line["status_label"], "Error");
}

#[tokio::test]
async fn the_list_pages_with_a_cursor_without_repeating_an_object() {
    let app = seeded().await;
    let mut seen = Vec::new();
    let mut path = "/api/objects?limit=4".to_owned();
    loop {
        let page = app.get(&path, &app.acme.key).await;
        assert_eq!(page.status, StatusCode::OK);
        seen.extend(keys(&page));
        match page.json["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/objects?limit=4&cursor={cursor}"),
            None => break,
        }
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 6);
}

#[tokio::test]
async fn bad_list_inputs_are_4xx_problems() {
    let app = seeded().await;
    for path in [
        "/api/objects?status=bogus",
        "/api/objects?category=both",
        "/api/objects?type=spaceship",
        "/api/objects?limit=501",
        "/api/objects?limit=0",
        "/api/objects?limit=many",
        "/api/objects?cursor=not-a-cursor",
        "/api/objects?colour=blue",
        "/api/health/sync?hours=1000",
    ] {
        let answer = app.get(path, &app.acme.key).await;
        answer.assert_problem(StatusCode::BAD_REQUEST);
    }
    let unknown = app.get("/api/objects?status=bogus", &app.acme.key).await;
    assert!(
        unknown.json["detail"].as_str().unwrap().contains("bogus"),
        "{}",
        unknown.text()
    );
}

#[tokio::test]
async fn object_detail_shows_the_attempt_history() {
    let app = seeded().await;
    let answer = app.get("/api/objects/invoice/INV-100", &app.acme.key).await;
    let missing = app.get("/api/objects/invoice/INV-999", &app.acme.key).await;
    let bad_type = app
        .get("/api/objects/spaceship/INV-100", &app.acme.key)
        .await;

    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_eq!(answer.json["object"]["status"], "error");
    assert_eq!(answer.json["history"][0]["message"], "VAT code 99 unknown");
    missing.assert_problem(StatusCode::NOT_FOUND);
    bad_type.assert_problem(StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_firms_detail_shows_its_link_with_the_actions_and_an_invoice_has_none() {
    let app = seeded().await;
    let t = app.acme.id.clone();
    // A configured connection (its ERPs are unreachable here: the ledger's own view of the account is
    // left out, the link and where it opens are shown).
    // Credentials are bound to the host they were entered for (as the connections API stores them).
    let exact = ledgerlink_exact::issuer("http://127.0.0.1:9").unwrap();
    let vp = ledgerlink_vantagepoint::issuer("http://127.0.0.1:9/vantagepoint").unwrap();
    for (secret, issuer) in [
        ("exact/client", &exact),
        ("vp/client", &vp),
        ("vp/password", &vp),
    ] {
        app.secrets.set_value(
            format!("{t}/{secret}"),
            ledgerlink_flows::SecretValue::bound("configured", issuer.clone()),
        );
    }
    let ledger_id = "3734121e-1544-4b77-9ae2-7203e9bd6046";
    app.stores
        .links
        .link(&ledgerlink_ports::IdLink::new(
            t.clone(),
            ObjectType::Firm,
            "CLIENT-2",
            ledger_id,
            now(),
        ))
        .await
        .unwrap();

    let linked = app.get("/api/objects/firm/CLIENT-2", &app.acme.key).await;
    let unlinked = app.get("/api/objects/firm/CLIENT-1", &app.acme.key).await;
    let invoice = app.get("/api/objects/invoice/INV-100", &app.acme.key).await;

    assert_eq!(linked.status, StatusCode::OK, "{}", linked.text());
    let link = &linked.json["link"];
    assert_eq!(link["ledger_id"], ledger_id);
    let url = link["url"].as_str().unwrap();
    assert!(
        url.contains("CRMAccountCard.aspx") && url.contains(ledger_id),
        "{url}"
    );
    assert_eq!(link["owner"], "vantagepoint");
    assert!(
        link["exists"].is_null(),
        "the ledger could not be asked: {link}"
    );
    assert_eq!(
        linked.json["link_actions"],
        json!(["relink", "unlink", "new-account"])
    );
    assert!(unlinked.json["link"].is_null());
    assert_eq!(
        unlinked.json["link_actions"],
        json!(["adopt", "new-account"])
    );
    assert!(invoice.json["link"].is_null());
    assert_eq!(invoice.json["link_actions"], json!([]));
}

#[tokio::test]
async fn unlinking_a_firm_is_a_history_entry_by_the_caller_and_bad_link_requests_are_refused() {
    let app = seeded().await;
    let t = app.acme.id.clone();
    app.stores
        .links
        .link(&ledgerlink_ports::IdLink::new(
            t.clone(),
            ObjectType::Firm,
            "CLIENT-2",
            "3734121e-1544-4b77-9ae2-7203e9bd6046",
            now(),
        ))
        .await
        .unwrap();
    let link = |body: serde_json::Value| app.post("/api/objects/link", &app.acme.key, body);

    let unlinked = link(json!({"type": "firm", "key": "CLIENT-2", "action": "unlink"})).await;
    let again = link(json!({"type": "firm", "key": "CLIENT-2", "action": "unlink"})).await;
    let unknown_action = link(json!({"type": "firm", "key": "CLIENT-2", "action": "merge"})).await;
    let no_account = link(json!({"type": "firm", "key": "CLIENT-2", "action": "adopt"})).await;
    let extra_account =
        link(json!({"type": "firm", "key": "CLIENT-1", "action": "unlink", "account": "1000"}))
            .await;
    let invoice = link(json!({"type": "invoice", "key": "INV-100", "action": "unlink"})).await;
    let other_tenant = app
        .post(
            "/api/objects/link",
            &app.globex.key,
            json!({"type": "firm", "key": "CLIENT-2", "action": "unlink"}),
        )
        .await;
    let detail = app.get("/api/objects/firm/CLIENT-2", &app.acme.key).await;

    assert_eq!(unlinked.status, StatusCode::OK, "{}", unlinked.text());
    assert_eq!(
        unlinked.json["before"],
        "3734121e-1544-4b77-9ae2-7203e9bd6046"
    );
    assert!(unlinked.json["after"].is_null());
    assert!(
        app.stores
            .links
            .exact_id(&t, ObjectType::Firm, "CLIENT-2")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(detail.json["object"]["status"], "not-integrated");
    let entry = detail.json["history"][0]["message"].as_str().unwrap();
    assert!(entry.starts_with("Unlinked from"), "{entry}");
    assert!(entry.contains("(operator page)"), "{entry}");
    again.assert_problem(StatusCode::CONFLICT);
    unknown_action.assert_problem(StatusCode::BAD_REQUEST);
    no_account.assert_problem(StatusCode::BAD_REQUEST);
    extra_account.assert_problem(StatusCode::BAD_REQUEST);
    invoice.assert_problem(StatusCode::NOT_FOUND);
    other_tenant.assert_problem(StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn force_synchronize_accepts_errors_and_refuses_pending_and_others_with_reasons() {
    let app = seeded().await;
    let selection = json!({"objects": [
        {"type": "invoice", "key": "INV-100"},
        {"type": "invoice", "key": "INV-102"},
        {"type": "invoice", "key": "INV-101"},
        {"type": "invoice", "key": "INV-404"},
    ]});

    let answer = app
        .post("/api/objects/force-synchronize", &app.acme.key, selection)
        .await;

    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let results = answer.json["results"].as_array().unwrap();
    assert_eq!(results.len(), 4);
    assert_eq!(results[0]["result"], "accepted");
    assert_eq!(results[1]["result"], "refused");
    assert!(results[1]["reason"].as_str().unwrap().contains("Pending"));
    assert_eq!(results[2]["result"], "refused");
    assert_eq!(results[3]["result"], "refused");
    let messages = app.drain(Flow::InvoiceOut).await;
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].action, WorkAction::ForceSync);
    assert_eq!(messages[0].key.as_ref().unwrap().as_str(), "INV-100");
    let refresh = app.drain(Flow::FirmSync).await;
    assert_eq!(
        refresh.len(),
        1,
        "at the top integration level the master data is refreshed first"
    );
    assert_eq!(refresh[0].action, WorkAction::Discover);
    let now_pending = app.get("/api/objects/invoice/INV-100", &app.acme.key).await;
    assert_eq!(now_pending.json["object"]["status"], "pending");
}

#[tokio::test]
async fn synchronize_takes_not_integrated_and_desynchronized_objects_and_refuses_errors() {
    let app = seeded().await;
    let selection = json!({"objects": [
        {"type": "firm", "key": "CLIENT-1"},
        {"type": "ap-voucher", "key": "V-1"},
        {"type": "firm", "key": "CLIENT-2"},
    ]});

    let answer = app
        .post("/api/objects/synchronize", &app.acme.key, selection)
        .await;

    let results = answer.json["results"].as_array().unwrap();
    assert_eq!(results[0]["result"], "accepted");
    assert_eq!(results[1]["result"], "accepted");
    assert_eq!(results[2]["result"], "refused");
    assert!(
        results[2]["reason"]
            .as_str()
            .unwrap()
            .contains("Force synchronize")
    );
    assert_eq!(app.drain(Flow::FirmSync).await.len(), 1);
    assert_eq!(
        app.drain(Flow::VoucherOut).await[0].action,
        WorkAction::Sync
    );
}

#[tokio::test]
async fn a_selection_must_be_non_empty_and_bounded() {
    let app = seeded().await;
    let too_many: Vec<_> = (0..501)
        .map(|i| json!({"type": "invoice", "key": format!("K{i}")}))
        .collect();

    let empty = app
        .post(
            "/api/objects/synchronize",
            &app.acme.key,
            json!({"objects": []}),
        )
        .await;
    let large = app
        .post(
            "/api/objects/synchronize",
            &app.acme.key,
            json!({"objects": too_many}),
        )
        .await;
    let unknown_type = app
        .post(
            "/api/objects/synchronize",
            &app.acme.key,
            json!({"objects": [{"type": "ufo", "key": "1"}]}),
        )
        .await;

    empty.assert_problem(StatusCode::BAD_REQUEST);
    large.assert_problem(StatusCode::BAD_REQUEST);
    unknown_type.assert_problem(StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn counts_are_per_status() {
    let app = seeded().await;

    let answer = app.get("/api/objects/counts", &app.acme.key).await;

    assert_eq!(answer.json["total"], 6);
    assert_eq!(answer.json["counts"]["error"], 2);
    assert_eq!(answer.json["counts"]["success"], 1);
}

#[tokio::test]
async fn sync_health_counts_successes_and_errors_per_flow_and_hour() {
    let app = TestApp::spawn().await;
    let t = app.acme.id.clone();
    let earlier = now() - Duration::hours(3);
    app.seed_object(
        &t,
        ObjectType::Invoice,
        "A",
        SyncStatus::Success,
        None,
        now(),
    )
    .await;
    app.seed_object(
        &t,
        ObjectType::Invoice,
        "B",
        SyncStatus::Error,
        Some("x"),
        earlier,
    )
    .await;
    app.seed_object(
        &t,
        ObjectType::Firm,
        "F",
        SyncStatus::Success,
        None,
        earlier,
    )
    .await;
    app.seed_object(
        &t,
        ObjectType::Firm,
        "OLD",
        SyncStatus::Error,
        None,
        now() - Duration::hours(30),
    )
    .await;

    let answer = app.get("/api/health/sync?hours=24", &app.acme.key).await;

    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let flows = answer.json["flows"].as_array().unwrap();
    let of = |name: &str| flows.iter().find(|f| f["flow"] == name).unwrap().clone();
    assert_eq!(of("invoice-out")["success"], 1);
    assert_eq!(of("invoice-out")["error"], 1);
    assert_eq!(of("firm-sync")["success"], 1);
    assert_eq!(
        of("firm-sync")["error"],
        0,
        "an attempt outside the window is not counted"
    );
    assert_eq!(of("invoice-out")["buckets"].as_array().unwrap().len(), 24);
    let last = of("invoice-out")["buckets"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["success"], 1);
}

#[tokio::test]
async fn at_the_entity_integration_level_force_synchronize_resends_only_the_selection() {
    let app = seeded().await;
    let mut record = app.stores.tenants.get(&app.acme.id).await.unwrap().unwrap();
    let version = record.version;
    record
        .settings
        .insert("integration_level".into(), json!("entity"));
    app.stores
        .tenants
        .put(&record, Some(version))
        .await
        .unwrap();

    let answer = app
        .post(
            "/api/objects/force-synchronize",
            &app.acme.key,
            json!({"objects": [{"type": "invoice", "key": "INV-100"}]}),
        )
        .await;

    assert_eq!(
        answer.json["results"][0]["result"],
        "accepted",
        "{}",
        answer.text()
    );
    assert_eq!(app.drain(Flow::InvoiceOut).await.len(), 1);
    assert_eq!(app.depth(Flow::FirmSync).await, 0);
}

#[tokio::test]
async fn sync_health_counts_every_attempt_of_the_window_without_reading_each_objects_history() {
    let app = TestApp::spawn().await;
    let t = app.acme.id.clone();
    // 600 objects touched in the window (the old view read at most 500 histories, one query each), one of
    // them with a second attempt.
    let mut last = None;
    for i in 0..600 {
        last = Some(
            app.seed_object(
                &t,
                ObjectType::Invoice,
                &format!("INV-{i}"),
                SyncStatus::Error,
                Some("refused"),
                now() - Duration::minutes(5),
            )
            .await,
        );
    }
    let mut retried = last.unwrap();
    retried.status = SyncStatus::Success;
    retried.updated_at = now();
    app.stores
        .statuses
        .put(&retried, Some(retried.version))
        .await
        .unwrap();

    let answer = app.get("/api/health/sync?hours=24", &app.acme.key).await;

    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let flows = answer.json["flows"].as_array().unwrap();
    let invoices = flows.iter().find(|f| f["flow"] == "invoice-out").unwrap();
    assert_eq!(
        invoices["error"], 600,
        "every attempt, not the first 500 objects"
    );
    assert_eq!(invoices["success"], 1);
    assert_eq!(answer.json["attempts_read"], 601);
    assert_eq!(answer.json["truncated"], false);
}
