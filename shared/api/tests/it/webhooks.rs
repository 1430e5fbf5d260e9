//! ERP webhooks: verified, then only enqueued.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use base64::Engine;
use ledgerlink_domain::Flow;
use ledgerlink_emulators::vantagepoint::demo::DemoOptions;
use ledgerlink_emulators::vantagepoint::{
    VantagepointConfig, VantagepointEmulator, WebhookSigning,
};
use ledgerlink_exact::webhook::sign;
use ledgerlink_ports::WorkAction;

use crate::helpers::{TestApp, VP_PASSWORD, VP_SHARED, VP_USER};

/// An Exact delivery's content created now (on the Dutch clock, as Exact writes `EventCreatedOn`).
pub fn content(topic: &str, division: u32) -> String {
    content_at(topic, division, chrono::Utc::now())
}

/// An Exact delivery's content created at `at`.
pub fn content_at(topic: &str, division: u32, at: chrono::DateTime<chrono::Utc>) -> String {
    let created = ledgerlink_domain::cet::wall_from_utc(at).format("%Y-%m-%dT%H:%M:%S%.3f");
    format!(
        r#"{{"Topic":"{topic}","ClientId":"2781096d-a179-445f-bbf3-7b7e8bf244ae","Division":{division},"Action":"Update","Key":"a79d86b2-69c6-4ca7-a537-d9d27afcdaf5","ExactOnlineEndpoint":"https://start.exactonline.nl/api/v1/{division}/financialtransaction/BankEntries(guid'a79d86b2-69c6-4ca7-a537-d9d27afcdaf5')","EventCreatedOn":"{created}"}}"#
    )
}

pub fn delivery(content: &str, secret: &str) -> String {
    let hash = sign(content.as_bytes(), &ledgerlink_exact::Secret::new(secret));
    format!(r#"{{"Content":{content},"HashCode":"{hash}"}}"#)
}

pub async fn post_raw(
    app: &TestApp,
    path: &str,
    body: String,
    headers: &[(&str, String)],
) -> crate::helpers::Answer {
    let mut builder = Request::builder()
        .method("POST")
        .uri(path)
        .header(header::CONTENT_TYPE, "application/json");
    for (name, value) in headers {
        builder = builder.header(*name, value);
    }
    app.send(builder.body(Body::from(body)).unwrap()).await
}

#[tokio::test]
async fn the_empty_validation_post_of_exact_is_answered_200_and_enqueues_nothing() {
    let app = TestApp::spawn().await;

    let answer = post_raw(&app, "/webhooks/exact/acme", String::new(), &[]).await;

    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.json["outcome"], "validated");
    assert_eq!(
        app.depth(Flow::PaymentIn).await + app.depth(Flow::FirmSync).await,
        0
    );
}

#[tokio::test]
async fn a_signed_exact_delivery_enqueues_one_discovery_of_the_topics_flow() {
    let app = TestApp::spawn().await;
    let body = delivery(
        &content("BankEntries", app.acme.division),
        &app.acme.webhook_secret,
    );

    let answer = post_raw(&app, "/webhooks/exact/acme", body, &[]).await;

    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_eq!(answer.json["outcome"], "enqueued");
    let messages = app.drain(Flow::PaymentIn).await;
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].tenant.as_str(), "acme");
    assert_eq!(messages[0].action, WorkAction::Discover);
}

#[tokio::test]
async fn an_exact_delivery_with_a_bad_signature_is_401_and_enqueues_nothing() {
    let app = TestApp::spawn().await;
    let signed_by_other = delivery(&content("BankEntries", app.acme.division), "not-the-secret");
    let tampered = delivery(
        &content("BankEntries", app.acme.division),
        &app.acme.webhook_secret,
    )
    .replace("Update", "Delete");

    for body in [signed_by_other, tampered] {
        let answer = post_raw(&app, "/webhooks/exact/acme", body, &[]).await;
        answer.assert_problem(StatusCode::UNAUTHORIZED);
    }
    assert_eq!(app.depth(Flow::PaymentIn).await, 0);
}

#[tokio::test]
async fn a_duplicate_exact_delivery_is_acknowledged_without_enqueueing_again() {
    let app = TestApp::spawn().await;
    let body = delivery(
        &content("Accounts", app.acme.division),
        &app.acme.webhook_secret,
    );

    let first = post_raw(&app, "/webhooks/exact/acme", body.clone(), &[]).await;
    let second = post_raw(&app, "/webhooks/exact/acme", body, &[]).await;

    assert_eq!(first.json["outcome"], "enqueued");
    assert_eq!(second.status, StatusCode::OK);
    assert_eq!(second.json["outcome"], "duplicate");
    assert_eq!(app.drain(Flow::FirmSync).await.len(), 1);
}

#[tokio::test]
async fn an_exact_delivery_for_another_division_or_tenant_is_refused() {
    let app = TestApp::spawn().await;
    // Signed with acme's secret but for globex's division: the secret alone does not prove the tenant.
    let wrong_division = delivery(
        &content("BankEntries", app.globex.division),
        &app.acme.webhook_secret,
    );
    // Signed for acme, posted to globex's address.
    let wrong_tenant = delivery(
        &content("BankEntries", app.acme.division),
        &app.acme.webhook_secret,
    );

    let a = post_raw(&app, "/webhooks/exact/acme", wrong_division, &[]).await;
    let b = post_raw(&app, "/webhooks/exact/globex", wrong_tenant, &[]).await;
    let c = post_raw(&app, "/webhooks/exact/nobody", String::new(), &[]).await;

    a.assert_problem(StatusCode::BAD_REQUEST);
    b.assert_problem(StatusCode::UNAUTHORIZED);
    // An unknown tenant is answered as a known one would be (no enumeration): validated.
    assert_eq!(c.status, StatusCode::OK, "{}", c.text());
    assert_eq!(app.depth(Flow::PaymentIn).await, 0);
}

#[tokio::test]
async fn an_exact_topic_no_flow_uses_is_acknowledged_and_ignored() {
    let app = TestApp::spawn().await;
    let body = delivery(
        &content("Quotations", app.acme.division),
        &app.acme.webhook_secret,
    );

    let answer = post_raw(&app, "/webhooks/exact/acme", body, &[]).await;

    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.json["outcome"], "ignored");
}

pub fn basic(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

#[tokio::test]
async fn a_vantagepoint_webhook_with_good_basic_credentials_enqueues_a_discovery() {
    let app = TestApp::spawn().await;
    let body = r#"{"WBS1":"2026-001","Name":"New HQ","Action":"UPDATE"}"#.to_owned();

    let answer = post_raw(
        &app,
        "/webhooks/vantagepoint/acme",
        body,
        &[("authorization", basic(VP_USER, VP_PASSWORD))],
    )
    .await;

    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let messages = app.drain(Flow::FirmSync).await;
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].tenant.as_str(), "acme");
}

#[tokio::test]
async fn a_vantagepoint_webhook_with_bad_or_missing_credentials_is_401_and_enqueues_nothing() {
    let app = TestApp::spawn().await;
    let body = r#"{"WBS1":"2026-001"}"#.to_owned();

    for headers in [
        vec![("authorization", basic(VP_USER, "wrong"))],
        vec![("authorization", basic("someone", VP_PASSWORD))],
        vec![("x-ledgerlink-webhook-secret", "wrong".to_owned())],
        vec![],
    ] {
        let answer = post_raw(&app, "/webhooks/vantagepoint/acme", body.clone(), &headers).await;
        answer.assert_problem(StatusCode::UNAUTHORIZED);
    }
    assert_eq!(app.depth(Flow::FirmSync).await, 0);
}

#[tokio::test]
async fn a_vantagepoint_webhook_may_name_its_flow_and_use_the_shared_secret() {
    let app = TestApp::spawn().await;

    let answer = post_raw(
        &app,
        "/webhooks/vantagepoint/acme?flow=invoice-out",
        "{}".into(),
        &[("x-ledgerlink-webhook-secret", VP_SHARED.to_owned())],
    )
    .await;
    let not_a_sync_flow = post_raw(
        &app,
        "/webhooks/vantagepoint/acme?flow=export-job",
        "{}".into(),
        &[("x-ledgerlink-webhook-secret", VP_SHARED.to_owned())],
    )
    .await;

    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_eq!(app.drain(Flow::InvoiceOut).await.len(), 1);
    not_a_sync_flow.assert_problem(StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_vantagepoint_webhook_for_a_tenant_without_webhook_credentials_is_not_found() {
    let app = TestApp::spawn().await;
    let mut record = app.stores.tenants.get(&app.acme.id).await.unwrap().unwrap();
    let version = record.version;
    record.settings.remove("vp_webhook");
    app.stores
        .tenants
        .put(&record, Some(version))
        .await
        .unwrap();

    let answer = post_raw(
        &app,
        "/webhooks/vantagepoint/acme",
        "{}".into(),
        &[("authorization", basic(VP_USER, VP_PASSWORD))],
    )
    .await;

    answer.assert_problem(StatusCode::UNAUTHORIZED);
    assert_eq!(app.depth(Flow::FirmSync).await, 0);
}

// ------------------------------------------------------------------ Vantagepoint body signatures

const SIGNING_SECRET: &str = "vp-hook-signing-secret";

/// Gives `acme` a webhook signing secret (the VP webhook action's Security Secret), keeping Basic.
async fn require_signatures(app: &TestApp, with_basic: bool) {
    let mut record = app.stores.tenants.get(&app.acme.id).await.unwrap().unwrap();
    let version = record.version;
    let mut setting = serde_json::json!({
        "signing_secret": {"kind": "local", "name": "acme/vp/signing"},
    });
    if with_basic {
        setting["username"] = VP_USER.into();
        setting["password"] = serde_json::json!({"kind": "local", "name": "acme/vp/webhook"});
    }
    record.settings.insert("vp_webhook".into(), setting);
    app.stores
        .tenants
        .put(&record, Some(version))
        .await
        .unwrap();
    app.secrets.set("acme/vp/signing", SIGNING_SECRET);
}

fn signature(secret: &str, body: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// A Vantagepoint emulator whose firm-change workflow delivers to the API (served on 127.0.0.1:0) with
/// Basic credentials and the Security Secret `secret`; changes one firm and returns the delivery's status.
async fn emulator_delivery(app: &TestApp, signing: WebhookSigning, secret: &str) -> Option<u16> {
    let api = ledgerlink_emulators::serve(app.router.clone(), ([127, 0, 0, 1], 0).into())
        .await
        .unwrap();
    let emulator = VantagepointEmulator::new(VantagepointConfig {
        webhook_signing: signing,
        ..VantagepointConfig::default()
    });
    let demo = emulator.load_demo(&DemoOptions::default()).unwrap();
    let server = emulator.spawn().await.unwrap();
    let base = emulator.api_base(&server);
    let http = reqwest::Client::new();
    let config = emulator.config().clone();
    let token: serde_json::Value = http
        .post(format!("{base}/token"))
        .form(&[
            ("Username", "integration"),
            ("Password", "integration-password"),
            ("grant_type", "password"),
            ("Integrated", "N"),
            ("database", config.database.as_str()),
            ("Client_Id", config.client_id.as_str()),
            ("client_secret", config.client_secret.as_str()),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["access_token"].as_str().unwrap().to_owned();
    let post = |path: &str, body: serde_json::Value| {
        http.post(format!("{base}{path}"))
            .bearer_auth(&token)
            .json(&body)
            .send()
    };
    let event: serde_json::Value = post(
        "/Workflow/Workflow",
        serde_json::json!({"ApplicationName": "FirmICBO", "EventType": "Change", "Active": "Y", "PRLevel": 0, "Description": "Sync - acme"}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let id = event[0]["EventID"].as_str().unwrap().to_owned();
    let hook = post(
        "/Workflow/dlgWorkflowActionWebhook",
        serde_json::json!({"ActionID": id, "WebhookURL": format!("{}/webhooks/vantagepoint/acme", api.base_url()),
            "AuthUsername": VP_USER, "AuthPassword": VP_PASSWORD, "Secret": secret, "PublicKey": "pk-1",
            "RetryCount": 0, "Timeout": 5, "RunAfterSave": "Y"}),
    )
    .await
    .unwrap();
    assert_eq!(hook.status(), reqwest::StatusCode::CREATED);
    http.put(format!("{base}/Workflow"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"WorkflowActions": [{"EventID": id, "ActionID": id, "Active": "Y", "ActionType": "Webhook", "PRLevel": 0}]}))
        .send()
        .await
        .unwrap();
    post(
        "/Workflow/dlgWorkflowActionWebhookArgs",
        serde_json::json!({"ActionID": id, "ArgName": "ClientID", "SQLExpression": "'[:CL.ClientID]'", "ArgOrder": 1}),
    )
    .await
    .unwrap();

    let mut patch = serde_json::Map::new();
    patch.insert("Name".into(), "Renamed Client".into());
    emulator.update_firm(&demo.client_ids[0], patch).unwrap();

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let deliveries = emulator.webhook_deliveries();
        if let Some(status) = deliveries.first().and_then(|d| d.last_status) {
            return Some(status);
        }
        if std::time::Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_delivery_the_vantagepoint_emulator_signs_with_the_tenants_signing_secret_is_enqueued() {
    let app = TestApp::spawn().await;
    require_signatures(&app, true).await;

    let status = emulator_delivery(&app, WebhookSigning::HmacSha256, SIGNING_SECRET).await;

    assert_eq!(status, Some(200));
    assert_eq!(app.drain(Flow::FirmSync).await.len(), 1);
}

#[tokio::test]
async fn with_a_signing_secret_unsigned_or_wrongly_signed_emulator_deliveries_are_refused_despite_good_basic_credentials()
 {
    let app = TestApp::spawn().await;
    require_signatures(&app, true).await;

    let unsigned = emulator_delivery(&app, WebhookSigning::Unsigned, SIGNING_SECRET).await;
    let wrongly_signed =
        emulator_delivery(&app, WebhookSigning::HmacSha256, "another-secret").await;

    assert_eq!(unsigned, Some(401));
    assert_eq!(wrongly_signed, Some(401));
    assert_eq!(app.depth(Flow::FirmSync).await, 0);
}

#[tokio::test]
async fn a_signature_over_another_body_is_refused_and_a_signing_secret_alone_authenticates() {
    let app = TestApp::spawn().await;
    require_signatures(&app, false).await;
    let body = r#"{"ClientID":"C1","Action":"UPDATE"}"#;

    let tampered = post_raw(
        &app,
        "/webhooks/vantagepoint/acme",
        body.replace("C1", "C2"),
        &[("x-vp-signature", signature(SIGNING_SECRET, body.as_bytes()))],
    )
    .await;
    let signed = post_raw(
        &app,
        "/webhooks/vantagepoint/acme",
        body.to_owned(),
        &[("x-vp-signature", signature(SIGNING_SECRET, body.as_bytes()))],
    )
    .await;

    tampered.assert_problem(StatusCode::UNAUTHORIZED);
    assert_eq!(signed.status, StatusCode::OK, "{}", signed.text());
    assert_eq!(app.drain(Flow::FirmSync).await.len(), 1);
}
