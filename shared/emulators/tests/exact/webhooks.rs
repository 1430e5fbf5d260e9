//! Webhook subscriptions (validation POST) and signed deliveries.

use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use ledgerlink_emulators::exact::{AppRegistration, PaymentSpec, hmac_upper_hex};
use ledgerlink_emulators::{RunningServer, serve};
use parking_lot::Mutex;
use serde_json::{Value, json};

use crate::helpers::{DIVISION, WEBHOOK_SECRET, error_message, spawn};

#[derive(Clone, Default)]
struct Receiver {
    bodies: Arc<Mutex<Vec<Vec<u8>>>>,
    status: Arc<AtomicU16>,
}

async fn receive(State(rx): State<Receiver>, body: Bytes) -> StatusCode {
    rx.bodies.lock().push(body.to_vec());
    StatusCode::from_u16(rx.status.load(Ordering::SeqCst)).unwrap_or(StatusCode::OK)
}

async fn receiver(status: u16) -> (Receiver, RunningServer) {
    let rx = Receiver::default();
    rx.status.store(status, Ordering::SeqCst);
    let app = Router::new()
        .route("/hook", post(receive))
        .with_state(rx.clone());
    let server = serve(app, "127.0.0.1:0".parse().unwrap()).await.unwrap();
    (rx, server)
}

/// Verifies a delivery the way picqer does: the bytes between `{"Content":` and `,"HashCode":`.
fn verify(body: &str, secret: &str) -> bool {
    let Some(rest) = body.strip_prefix(r#"{"Content":"#) else {
        return false;
    };
    let Some((content, hash)) = rest.rsplit_once(r#","HashCode":""#) else {
        return false;
    };
    let hash = hash.trim_end_matches("\"}");
    hmac_upper_hex(secret.as_bytes(), content.as_bytes()) == hash
}

#[tokio::test]
async fn subscribing_sends_an_empty_validation_post_and_stores_the_subscription() {
    let env = spawn().await;
    let (rx, hook) = receiver(200).await;
    let url = format!("{}/hook", hook.base_url());
    let (status, body) = env
        .post_json(
            "webhooks/WebhookSubscriptions",
            json!({"CallbackURL": url, "Topic": "SalesEntries"}),
            true,
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["d"]["Topic"], "SalesEntries");
    assert_eq!(rx.bodies.lock().len(), 1);
    assert!(
        rx.bodies.lock()[0].is_empty(),
        "the validation POST has an empty body"
    );
    let (_, list) = env.get_json("webhooks/WebhookSubscriptions").await;
    assert_eq!(list["d"]["results"].as_array().unwrap().len(), 1);
    let (status, _) = env
        .post_json(
            "webhooks/WebhookSubscriptions",
            json!({"CallbackURL": url, "Topic": "SalesEntries"}),
            false,
        )
        .await;
    assert_eq!(status, 500, "one subscription per topic");
}

#[tokio::test]
async fn a_callback_that_does_not_answer_2xx_fails_the_subscription_with_500() {
    let env = spawn().await;
    let (_rx, hook) = receiver(503).await;
    let (status, body) = env
        .post_json(
            "webhooks/WebhookSubscriptions",
            json!({"CallbackURL": format!("{}/hook", hook.base_url()), "Topic": "Accounts"}),
            false,
        )
        .await;
    assert_eq!(status, 500);
    assert_eq!(
        error_message(&body),
        "Invalid: Post to callback URL endpoint returns 503 Service Unavailable"
    );
    let (_, list) = env.get_json("webhooks/WebhookSubscriptions").await;
    assert!(list["d"]["results"].as_array().unwrap().is_empty());

    let (status, body) = env
        .post_json(
            "webhooks/WebhookSubscriptions",
            json!({"CallbackURL": "http://example.com/hook", "Topic": "Accounts"}),
            false,
        )
        .await;
    assert_eq!(status, 500);
    assert!(error_message(&body).contains("https"), "{body}");
}

#[tokio::test]
async fn creating_a_sales_entry_delivers_a_signed_create_event() {
    let env = spawn().await;
    let (rx, hook) = receiver(200).await;
    let (status, _) = env
        .post_json(
            "webhooks/WebhookSubscriptions",
            json!({"CallbackURL": format!("{}/hook", hook.base_url()), "Topic": "SalesEntries"}),
            false,
        )
        .await;
    assert_eq!(status, 201);
    let customer = env.customer("Acme");
    let (status, body) = env
        .post_json(
            "salesentry/SalesEntries",
            env.sales_entry_body(&customer, "INV-W1", "10"),
            false,
        )
        .await;
    assert_eq!(status, 201);
    let entry = body["d"]["EntryID"].as_str().unwrap().to_owned();

    let log = env.emu.wait_for_deliveries(1, Duration::from_secs(5)).await;
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].status, Some(200));
    let bodies = rx.bodies.lock().clone();
    let delivered = String::from_utf8(bodies[1].clone()).unwrap();
    assert!(verify(&delivered, WEBHOOK_SECRET), "{delivered}");
    assert!(!verify(&delivered, "wrong-secret"));
    let v: Value = serde_json::from_str(&delivered).unwrap();
    let c = &v["Content"];
    assert_eq!(c["Topic"], "SalesEntries");
    assert_eq!(c["Action"], "Create");
    assert_eq!(c["Key"], entry);
    assert_eq!(c["Division"], DIVISION);
    assert_eq!(c["ClientId"], crate::helpers::CLIENT_ID);
    assert_eq!(
        c["ExactOnlineEndpoint"],
        format!(
            "{}/api/v1/{DIVISION}/salesentry/SalesEntries(guid'{entry}')",
            env.base
        )
    );
    // 10:00 UTC in June is 12:00 on the Dutch clock (CEST).
    assert_eq!(c["EventCreatedOn"], "2026-06-15T12:00:00.000");
    let keys: Vec<&str> = c.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys.len(), 7);
    assert!(delivered.starts_with(r#"{"Content":{"Topic":"SalesEntries","ClientId":"#));
}

#[tokio::test]
async fn updates_deletes_and_payments_fire_their_topics() {
    let env = spawn().await;
    let (_rx, hook) = receiver(200).await;
    for topic in ["Accounts", "BankEntries"] {
        let (status, _) = env
            .post_json(
                "webhooks/WebhookSubscriptions",
                json!({"CallbackURL": format!("{}/hook", hook.base_url()), "Topic": topic}),
                false,
            )
            .await;
        assert_eq!(status, 201);
    }
    let customer = env.customer("Acme");
    env.emu
        .update(
            DIVISION,
            "crm/Accounts",
            &customer,
            json!({"City": "Delft"}),
        )
        .unwrap();
    let (status, body) = env
        .post_json(
            "salesentry/SalesEntries",
            env.sales_entry_body(&customer, "INV-W2", "10"),
            false,
        )
        .await;
    assert_eq!(status, 201);
    let entry = body["d"]["EntryID"].as_str().unwrap().to_owned();
    let paid = env
        .emu
        .register_payment(PaymentSpec {
            division: DIVISION,
            entry_id: entry,
            amount: None,
            date: None,
            employee: false,
        })
        .unwrap();
    env.emu
        .delete(DIVISION, "crm/Accounts", &env.customer("Temp"))
        .unwrap();

    let log = env.emu.wait_for_deliveries(5, Duration::from_secs(5)).await;
    let seen: Vec<(String, String)> = log
        .iter()
        .map(|d| (d.topic.clone(), d.action.clone()))
        .collect();
    assert_eq!(
        seen,
        vec![
            ("Accounts".into(), "Create".into()),
            ("Accounts".into(), "Update".into()),
            ("BankEntries".into(), "Create".into()),
            ("Accounts".into(), "Create".into()),
            ("Accounts".into(), "Delete".into()),
        ]
    );
    assert_eq!(log[2].key, paid.bank_entry_id);
}

#[tokio::test]
async fn the_duplicate_delivery_fault_sends_each_event_twice() {
    let env = spawn().await;
    let (rx, hook) = receiver(200).await;
    env.post_json(
        "webhooks/WebhookSubscriptions",
        json!({"CallbackURL": format!("{}/hook", hook.base_url()), "Topic": "Accounts"}),
        false,
    )
    .await;
    env.emu.set_duplicate_webhook_delivery(true);
    env.customer("Twice");
    let log = env.emu.wait_for_deliveries(2, Duration::from_secs(5)).await;
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].body, log[1].body);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        rx.bodies.lock().len(),
        3,
        "validation + two identical deliveries"
    );
}

#[tokio::test]
async fn an_app_does_not_see_another_apps_subscriptions() {
    let env = spawn().await;
    let (_rx, hook) = receiver(200).await;
    env.post_json(
        "webhooks/WebhookSubscriptions",
        json!({"CallbackURL": format!("{}/hook", hook.base_url()), "Topic": "Accounts"}),
        false,
    )
    .await;
    env.emu.create_app(AppRegistration {
        client_id: "11111111-2222-3333-4444-555555555555".into(),
        client_secret: "other".into(),
        webhook_secret: "other".into(),
        redirect_uri: "https://other.example/cb".into(),
        name: "Other".into(),
    });
    let other = env
        .emu
        .issue_tokens("11111111-2222-3333-4444-555555555555", None)
        .unwrap();
    let r = env
        .http
        .get(format!(
            "{}/api/v1/{DIVISION}/webhooks/WebhookSubscriptions",
            env.base
        ))
        .bearer_auth(&other.access_token)
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    let body: Value = r.json().await.unwrap();
    assert!(body["d"]["results"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn a_delivery_the_callback_refuses_is_retried_until_it_is_accepted() {
    let env = crate::helpers::spawn_with(|c| {
        c.webhook_retry_delays = vec![Duration::from_millis(50); 3];
    })
    .await;
    let (rx, hook) = receiver(200).await;
    let (status, _) = env
        .post_json(
            "webhooks/WebhookSubscriptions",
            json!({"CallbackURL": format!("{}/hook", hook.base_url()), "Topic": "Accounts"}),
            false,
        )
        .await;
    assert_eq!(status, 201);
    // The receiver goes down after the validation call: two refusals, then it is back.
    rx.status.store(503, Ordering::SeqCst);
    env.customer("Retried BV");
    let first = env.emu.wait_for_deliveries(1, Duration::from_secs(5)).await;
    assert_eq!(first[0].status, Some(503));
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while env.emu.webhook_deliveries().len() < 2 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    rx.status.store(200, Ordering::SeqCst);
    while env.emu.webhook_retries_pending() > 0 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let log = env.emu.webhook_deliveries();
    let statuses: Vec<Option<u16>> = log.iter().map(|d| d.status).collect();
    assert_eq!(statuses.last(), Some(&Some(200)), "{statuses:?}");
    assert!(statuses.len() >= 3, "{statuses:?}");
    assert!(
        log.iter().all(|d| d.body == log[0].body),
        "the same signed body each time"
    );
    // Accepted once: no further attempts.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(env.emu.webhook_deliveries().len(), statuses.len());

    // A receiver that never comes back gets the configured number of retries, then none.
    rx.status.store(500, Ordering::SeqCst);
    let before = env.emu.webhook_deliveries().len();
    env.customer("Never delivered BV");
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while (env.emu.webhook_deliveries().len() < before + 4 || env.emu.webhook_retries_pending() > 0)
        && std::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        env.emu.webhook_deliveries().len(),
        before + 4,
        "one attempt and three retries"
    );
}

#[tokio::test]
async fn topics_are_those_of_served_entities_and_is_instant_needs_goods_deliveries() {
    let env = spawn().await;
    let (_rx, hook) = receiver(200).await;
    let url = format!("{}/hook", hook.base_url());
    for (topic, instant, want) in [
        ("CashEntries", false, 500),
        ("NoSuchTopic", false, 500),
        ("Items", true, 500),
        ("Items", false, 201),
        ("SalesInvoices", false, 201),
        ("GoodsDeliveries", true, 201),
    ] {
        let (status, body) = env
            .post_json(
                "webhooks/WebhookSubscriptions",
                json!({"CallbackURL": url, "Topic": topic, "IsInstant": instant}),
                true,
            )
            .await;
        assert_eq!(status, want, "{topic} {instant}: {body}");
        if status == 201 {
            assert_eq!(body["d"]["IsInstant"], instant, "{topic}");
        }
    }
}
