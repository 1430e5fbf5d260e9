use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use axum::routing::post;
use parking_lot::Mutex;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

#[derive(Default)]
struct Received {
    calls: u32,
    bodies: Vec<Value>,
    auth: Vec<String>,
}

/// A receiver on 127.0.0.1:0 that fails the first `fail_first` calls with a 500.
async fn receiver(fail_first: u32) -> (ledgerlink_emulators::RunningServer, Arc<Mutex<Received>>) {
    let state = Arc::new(Mutex::new(Received::default()));
    let s = state.clone();
    let app = Router::new().route(
        "/hook",
        post(move |headers: HeaderMap, body: axum::Json<Value>| {
            let s = s.clone();
            async move {
                let mut r = s.lock();
                r.calls += 1;
                r.auth.push(
                    headers
                        .get("authorization")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned(),
                );
                r.bodies.push(body.0);
                if r.calls <= fail_first {
                    AxumStatus::INTERNAL_SERVER_ERROR
                } else {
                    AxumStatus::OK
                }
            }
        }),
    );
    (
        ledgerlink_emulators::serve(app, "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap(),
        state,
    )
}

async fn register(
    vp: &Vp,
    token: &str,
    url: &str,
    application: &str,
    event: &str,
    retries: u32,
) -> String {
    let (status, body) = vp
        .post(token, "/Workflow/Workflow", &json!({"ApplicationName": application, "EventType": event, "Active": "Y", "PRLevel": 0, "Description": "Sync - acme"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body[0]["EventID"].as_str().unwrap().to_owned();
    let (status, hook) = vp
        .post(
            token,
            "/Workflow/dlgWorkflowActionWebhook",
            &json!({"ActionID": id, "WebhookURL": url, "AuthUsername": "u", "AuthPassword": "p", "RetryCount": retries, "Timeout": 5, "RunAfterSave": "Y"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{hook}");
    assert_eq!(hook[0]["AuthPassword"], "********");
    let (status, _) = vp
        .put(token, "/Workflow", &json!({"WorkflowActions": [{"EventID": id, "ActionID": id, "Active": "Y", "ActionType": "Webhook", "PRLevel": 0}]}))
        .await;
    assert_eq!(status, StatusCode::OK);
    id
}

async fn wait_for(
    vp: &Vp,
    done: impl Fn(&[ledgerlink_emulators::vantagepoint::WebhookDelivery]) -> bool,
) {
    for _ in 0..500 {
        if done(&vp.emulator.webhook_deliveries()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!(
        "webhook deliveries did not complete: {:?}",
        vp.emulator.webhook_deliveries()
    );
}

#[tokio::test]
async fn a_project_change_is_delivered_with_basic_auth_and_retried_until_accepted() {
    let vp = spawn().await;
    let token = vp.token().await;
    let (hook_server, received) = receiver(2).await;
    let url = format!("{}/hook", hook_server.base_url());
    let id = register(&vp, &token, &url, "ProjectICBO", "Change", 2).await;
    for (order, (name, expression)) in [
        ("WBS1", "'[:PR.WBS1]'"),
        ("Status", "'[:PR.Status]'"),
        ("OldStatus", "'[:PR.Status.Old]'"),
        ("Action", "'UPDATE'"),
    ]
    .iter()
    .enumerate()
    {
        let (status, _) = vp
            .post(&token, "/Workflow/dlgWorkflowActionWebhookArgs", &json!({"ActionID": id, "ArgName": name, "SQLExpression": expression, "ArgOrder": order + 1}))
            .await;
        assert_eq!(status, StatusCode::CREATED);
    }

    let (status, _) = vp
        .put(&token, "/project/2026-001", &json!({"Status": "I"}))
        .await;
    wait_for(&vp, |d| d.len() == 1 && d[0].attempts == 3).await;

    assert_eq!(status, StatusCode::OK);
    let delivery = &vp.emulator.webhook_deliveries()[0];
    assert!(delivery.delivered);
    let r = received.lock();
    assert_eq!(r.calls, 3);
    assert_eq!(r.auth[0], "Basic dTpw");
    assert_eq!(
        r.bodies[2],
        json!({"WBS1": "2026-001", "Status": "I", "OldStatus": "A", "Action": "UPDATE"})
    );
}

#[tokio::test]
async fn a_firm_insert_fires_only_insert_workflows_and_gives_up_after_the_retries() {
    let vp = spawn().await;
    let token = vp.token().await;
    let (hook_server, received) = receiver(10).await;
    let url = format!("{}/hook", hook_server.base_url());
    let insert = register(&vp, &token, &url, "FirmICBO", "Insert", 1).await;
    register(&vp, &token, &url, "FirmICBO", "Change", 0).await;
    vp.post(&token, "/Workflow/dlgWorkflowActionWebhookArgs", &json!({"ActionID": insert, "ArgName": "ClientID", "SQLExpression": "'[:CL.ClientID]'", "ArgOrder": 1}))
        .await;

    let (_, created) = vp
        .post(
            &token,
            "/firm",
            &json!({"Name": "Hooked B.V.", "ClientInd": "Y"}),
        )
        .await;
    wait_for(&vp, |d| d.len() == 1 && d[0].attempts == 2).await;

    let delivery = &vp.emulator.webhook_deliveries()[0];
    assert!(!delivery.delivered);
    assert_eq!(delivery.last_status, Some(500));
    assert_eq!(delivery.event_type, "insert");
    assert_eq!(
        received.lock().bodies[0]["ClientID"],
        created[0]["ClientID"]
    );
}

#[tokio::test]
async fn webhook_registration_validates_retries_and_timeout() {
    let vp = spawn().await;
    let token = vp.token().await;

    let (retries, _) = vp
        .post(
            &token,
            "/Workflow/dlgWorkflowActionWebhook",
            &json!({"ActionID": "X", "WebhookURL": "https://example.com", "RetryCount": 11}),
        )
        .await;
    let (timeout, _) = vp
        .post(
            &token,
            "/Workflow/dlgWorkflowActionWebhook",
            &json!({"ActionID": "X", "WebhookURL": "https://example.com", "Timeout": 0}),
        )
        .await;
    let (half_auth, _) = vp
        .post(
            &token,
            "/Workflow/dlgWorkflowActionWebhook",
            &json!({"ActionID": "X", "WebhookURL": "https://example.com", "AuthUsername": "u"}),
        )
        .await;

    assert_eq!(
        (retries, timeout, half_auth),
        (
            StatusCode::BAD_REQUEST,
            StatusCode::BAD_REQUEST,
            StatusCode::BAD_REQUEST
        )
    );
}

#[tokio::test]
async fn deleting_an_unused_project_fires_delete_workflows_and_a_used_one_cannot_be_deleted() {
    let vp = spawn().await;
    let token = vp.token().await;
    let (hook_server, received) = receiver(0).await;
    let url = format!("{}/hook", hook_server.base_url());
    let id = register(&vp, &token, &url, "ProjectICBO", "Delete", 0).await;
    for (order, (name, expression)) in [("WBS1", "'[:PR.WBS1]'"), ("Action", "'DELETE'")]
        .iter()
        .enumerate()
    {
        vp.post(&token, "/Workflow/dlgWorkflowActionWebhookArgs", &json!({"ActionID": id, "ArgName": name, "SQLExpression": expression, "ArgOrder": order + 1}))
            .await;
    }
    let (created, _) = vp
        .post(
            &token,
            "/project",
            &json!({"WBS1": "2026-900", "Name": "Short-lived", "ClientID": vp.demo.client_ids[0]}),
        )
        .await;

    let (deleted, _) = vp
        .send(
            vp.http
                .delete(format!("{}/project/2026-900", vp.base))
                .bearer_auth(&token),
        )
        .await;
    let (in_use, _) = vp
        .send(
            vp.http
                .delete(format!("{}/project/2026-001", vp.base))
                .bearer_auth(&token),
        )
        .await;
    wait_for(&vp, |d| d.len() == 1 && d[0].delivered).await;

    assert_eq!(created, StatusCode::CREATED);
    assert_eq!(deleted, StatusCode::OK);
    assert_eq!(in_use, StatusCode::BAD_REQUEST);
    assert_eq!(
        received.lock().bodies[0],
        json!({"WBS1": "2026-900", "Action": "DELETE"})
    );
    let (gone, _) = vp.get(&token, "/project/2026-900").await;
    assert_eq!(gone, StatusCode::NOT_FOUND);
}

#[derive(Default)]
struct Signed {
    deliveries: Vec<(Vec<u8>, Option<String>, Option<String>)>,
}

/// A receiver that keeps each delivery's raw body and its signature headers.
async fn signed_receiver() -> (ledgerlink_emulators::RunningServer, Arc<Mutex<Signed>>) {
    let state = Arc::new(Mutex::new(Signed::default()));
    let s = state.clone();
    let app = Router::new().route(
        "/hook",
        post(move |headers: HeaderMap, body: axum::body::Bytes| {
            let s = s.clone();
            async move {
                let header = |n: &str| {
                    headers
                        .get(n)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned)
                };
                s.lock().deliveries.push((
                    body.to_vec(),
                    header("x-vp-signature"),
                    header("x-vp-public-key"),
                ));
                AxumStatus::OK
            }
        }),
    );
    (
        ledgerlink_emulators::serve(app, "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap(),
        state,
    )
}

/// Registers a signed webhook on contact inserts and changes; returns whether the action was accepted.
async fn register_signed(vp: &Vp, token: &str, url: &str, security: Value) -> StatusCode {
    let mut ids = Vec::new();
    for event in ["Insert", "Change"] {
        let (_, body) = vp
            .post(token, "/Workflow/Workflow", &json!({"ApplicationName": "ContactICBO", "EventType": event, "Active": "Y", "PRLevel": 0, "Description": "Sync - contacts"}))
            .await;
        ids.push(body[0]["EventID"].as_str().unwrap().to_owned());
    }
    for id in &ids {
        let mut action = json!({"ActionID": id, "WebhookURL": url, "RetryCount": 0, "Timeout": 5});
        for (k, v) in security.as_object().unwrap() {
            action[k] = v.clone();
        }
        let (status, hook) = vp
            .post(token, "/Workflow/dlgWorkflowActionWebhook", &action)
            .await;
        if status != StatusCode::CREATED {
            return status;
        }
        assert_eq!(hook[0]["Secret"], "********", "the secret is never shown");
        vp.put(token, "/Workflow", &json!({"WorkflowActions": [{"EventID": id, "ActionID": id, "Active": "Y", "ActionType": "Webhook", "PRLevel": 0}]}))
            .await;
        vp.post(
            token,
            "/Workflow/dlgWorkflowActionWebhookArgs",
            &json!({"ActionID": id, "ArgName": "ContactID", "SQLExpression": "'[:CT.ContactID]'", "ArgOrder": 1}),
        )
        .await;
    }
    StatusCode::CREATED
}

fn hmac_hex(secret: &str, body: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Issue 20 VP item 5: contacts fire workflows too, and an action's Security fields (Secret + Public Key,
/// both or neither) sign each delivery — or not, as `WebhookSigning` says (the scheme is undocumented).
#[tokio::test]
async fn contact_workflows_deliver_signed_webhooks_and_signing_can_be_switched_off() {
    for signing in [
        ledgerlink_emulators::vantagepoint::WebhookSigning::HmacSha256,
        ledgerlink_emulators::vantagepoint::WebhookSigning::Unsigned,
    ] {
        let vp = spawn_with(ledgerlink_emulators::vantagepoint::VantagepointConfig {
            webhook_signing: signing,
            ..Default::default()
        })
        .await;
        let token = vp.token().await;
        let (server, received) = signed_receiver().await;
        let url = format!("{}/hook", server.base_url());
        assert_eq!(
            register_signed(&vp, &token, &url, json!({"Secret": "only-a-secret"})).await,
            StatusCode::BAD_REQUEST,
            "both or neither"
        );
        assert_eq!(
            register_signed(
                &vp,
                &token,
                &url,
                json!({"Secret": "hook-secret", "PublicKey": "pk-1"})
            )
            .await,
            StatusCode::CREATED
        );

        let (status, contact) = vp
            .post(
                &token,
                "/contact",
                &json!({"FirstName": "Ann", "LastName": "Smit"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{contact}");
        let id = contact[0]["ContactID"].as_str().unwrap().to_owned();
        vp.put(&token, &format!("/contact/{id}"), &json!({"Title": "Dr"}))
            .await;
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while received.lock().deliveries.len() < 2 && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let got = received.lock().deliveries.clone();
        assert_eq!(got.len(), 2, "an insert and a change");
        for (body, sig, key) in &got {
            let payload: Value = serde_json::from_slice(body).unwrap();
            assert_eq!(payload["ContactID"], id.as_str());
            match signing {
                ledgerlink_emulators::vantagepoint::WebhookSigning::HmacSha256 => {
                    assert_eq!(sig.as_deref(), Some(hmac_hex("hook-secret", body).as_str()));
                    assert_eq!(key.as_deref(), Some("pk-1"));
                }
                ledgerlink_emulators::vantagepoint::WebhookSigning::Unsigned => {
                    assert_eq!((sig, key), (&None, &None));
                }
            }
        }
    }
}
