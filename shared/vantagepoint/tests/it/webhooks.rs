//! Workflow webhook registration and verification of VP's deliveries.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use ledgerlink_ports::psa::{Psa, WebhookArgument, WebhookRegistration, WorkflowEvent};
use ledgerlink_vantagepoint::{Secret, WebhookVerifier, parse_webhook_payload};
use tokio::sync::Mutex;

use crate::helpers::spawn;

type Received = Arc<Mutex<Vec<(Option<String>, Vec<u8>)>>>;

async fn receive(
    State(received): State<Received>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> &'static str {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    received.lock().await.push((auth, body.to_vec()));
    "ok"
}

fn registration(url: String) -> WebhookRegistration {
    WebhookRegistration {
        application: "FirmICBO".into(),
        event: WorkflowEvent::Change,
        description: "Ledgerlink - acme".into(),
        url,
        basic_auth: Some(("vp-hook".into(), "hook-password".into())),
        retry_count: 2,
        timeout_secs: 5,
        arguments: vec![
            WebhookArgument {
                name: "ClientID".into(),
                sql_expression: "'[:CL.ClientID]'".into(),
            },
            WebhookArgument {
                name: "Action".into(),
                sql_expression: "'UPDATE'".into(),
            },
        ],
    }
}

#[tokio::test]
async fn a_registered_webhook_is_delivered_with_basic_auth_that_the_verifier_accepts() {
    let vp = spawn().await;
    let received: Received = Arc::default();
    let receiver = ledgerlink_emulators::serve(
        Router::new()
            .route("/vp/firm", post(receive))
            .with_state(received.clone()),
        SocketAddr::from(([127, 0, 0, 1], 0)),
    )
    .await
    .unwrap();
    let url = format!("{}/vp/firm", receiver.base_url());

    let registered = vp
        .psa()
        .register_webhook(&registration(url.clone()))
        .await
        .unwrap();
    let again = vp.psa().register_webhook(&registration(url)).await.unwrap();
    let client_id = vp.demo.client_ids[0].clone();
    let mut patch = serde_json::Map::new();
    patch.insert(
        "Name".into(),
        serde_json::Value::String("Renamed B.V.".into()),
    );
    vp.emulator.update_firm(&client_id, patch).unwrap();
    let mut deliveries = Vec::new();
    for _ in 0..100 {
        deliveries = received.lock().await.clone();
        if !deliveries.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    assert!(registered.created);
    assert!(
        !again.created,
        "registering the same description again reuses the workflow"
    );
    assert_eq!(again.event_id, registered.event_id);
    assert_eq!(deliveries.len(), 1, "one delivery for one change");
    let (auth, body) = &deliveries[0];
    let verifier =
        WebhookVerifier::new(Some(("vp-hook".into(), Secret::new("hook-password"))), None);
    assert_eq!(verifier.verify(auth.as_deref(), None), Ok(()));
    let wrong = WebhookVerifier::new(Some(("vp-hook".into(), Secret::new("other"))), None);
    assert!(wrong.verify(auth.as_deref(), None).is_err());
    let fields = parse_webhook_payload(body).unwrap();
    assert_eq!(fields.get("ClientID"), Some(&client_id));
    assert_eq!(fields.get("Action").map(String::as_str), Some("UPDATE"));
}

#[tokio::test]
async fn out_of_range_webhook_settings_are_refused_before_calling_vp() {
    let vp = spawn().await;
    let mut reg = registration("http://127.0.0.1:9/unused".into());
    reg.retry_count = 11;

    let err = vp.psa().register_webhook(&reg).await.unwrap_err();

    assert!(matches!(
        err,
        ledgerlink_ports::psa::PsaError::Validation { .. }
    ));
    assert_eq!(vp.emulator.counters().count_matching("Workflow"), 0);
}

#[tokio::test]
async fn a_registration_interrupted_after_the_workflow_was_created_is_completed_not_duplicated() {
    let vp = spawn().await;
    let reg = registration("http://127.0.0.1:9/vp/firm".into());
    vp.client
        .call(
            reqwest::Method::POST,
            ledgerlink_vantagepoint::Root::Api,
            &["Workflow", "Workflow"],
            &[],
            Some(&serde_json::json!({"ApplicationName": "FirmICBO", "EventType": "Change", "Active": "Y", "PRLevel": 0,
                "Description": reg.description})),
            ledgerlink_vantagepoint::Idempotency::NonIdempotent,
        )
        .await
        .unwrap();

    let done = vp.psa().register_webhook(&reg).await.unwrap();
    let hooks = vp
        .client
        .call(
            reqwest::Method::GET,
            ledgerlink_vantagepoint::Root::Api,
            &["Workflow", "dlgWorkflowActionWebhook"],
            &[],
            None,
            ledgerlink_vantagepoint::Idempotency::Idempotent,
        )
        .await
        .unwrap();
    let events = vp
        .client
        .call(
            reqwest::Method::GET,
            ledgerlink_vantagepoint::Root::Api,
            &["Workflow", "Workflow"],
            &[],
            None,
            ledgerlink_vantagepoint::Idempotency::Idempotent,
        )
        .await
        .unwrap();

    assert!(done.created, "the missing Webhook action was created");
    assert_eq!(
        events.as_array().map(Vec::len),
        Some(1),
        "the workflow was reused, not created twice"
    );
    let hooks = hooks.as_array().unwrap();
    assert_eq!(hooks.len(), 1);
    assert_eq!(hooks[0]["WebhookURL"], "http://127.0.0.1:9/vp/firm");
    assert_ne!(
        hooks[0]["AuthPassword"], "hook-password",
        "VP does not echo the password"
    );
}
