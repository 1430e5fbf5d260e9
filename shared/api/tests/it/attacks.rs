//! Attacks on connection credentials, performed through the real router by the holder of one valid API key
//! (issues 12 item 1 and 19). The attacker's "ERP" is a [`Recorder`]: a listener on 127.0.0.1 port 0 that
//! records every request it receives and answers each with a 401 (which makes a client try every other
//! credential it holds: refresh token, then password). Each test asserts that nothing secret arrives there.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;
use chrono::Utc;
use ledgerlink_clock::SystemClock;
use ledgerlink_flows::ConnectionProvider;
use ledgerlink_flows::connections::ErpConnections;
use ledgerlink_ports::{SecretRef, TokenRecord};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::helpers::TestApp;

/// What a listener answers: 401 to everything, or a redirect to another address.
#[derive(Clone)]
enum Reply {
    Unauthorized,
    RedirectTo(String),
    /// 401 with Exact's rate headers saying the budget is spent.
    UnauthorizedWithSpentBudget,
}

/// A listener on 127.0.0.1 (port 0) that records the raw text of every request it receives.
pub struct Recorder {
    port: u16,
    received: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Recorder {
    pub async fn start() -> Recorder {
        Self::with_reply(Reply::Unauthorized).await
    }

    async fn with_reply(reply: Reply) -> Recorder {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let log = received.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    return;
                };
                let log = log.clone();
                let reply = reply.clone();
                tokio::spawn(async move {
                    let mut buffer = Vec::new();
                    let mut chunk = [0_u8; 4096];
                    // Read the head, then as much body as Content-Length announces.
                    loop {
                        let n = match tokio::time::timeout(
                            Duration::from_secs(5),
                            stream.read(&mut chunk),
                        )
                        .await
                        {
                            Ok(Ok(n)) if n > 0 => n,
                            _ => break,
                        };
                        buffer.extend_from_slice(&chunk[..n]);
                        let text = String::from_utf8_lossy(&buffer).to_string();
                        if let Some(end) = text.find("\r\n\r\n") {
                            let length = text[..end]
                                .lines()
                                .find_map(|l| {
                                    let (name, value) = l.split_once(':')?;
                                    name.eq_ignore_ascii_case("content-length")
                                        .then(|| value.trim().parse::<usize>().ok())?
                                })
                                .unwrap_or(0);
                            if buffer.len() >= end + 4 + length {
                                break;
                            }
                        }
                    }
                    log.lock()
                        .unwrap()
                        .push(String::from_utf8_lossy(&buffer).to_string());
                    let answer = match reply {
                        Reply::Unauthorized => {
                            let body = r#"{"error":"invalid_grant","error_description":"no"}"#;
                            format!(
                                "HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                                body.len()
                            )
                        }
                        Reply::UnauthorizedWithSpentBudget => {
                            let reset =
                                (Utc::now() + chrono::Duration::hours(1)).timestamp_millis();
                            format!(
                                "HTTP/1.1 401 Unauthorized\r\nx-ratelimit-minutely-limit: 60\r\nx-ratelimit-minutely-remaining: 0\r\nx-ratelimit-minutely-reset: {reset}\r\nx-ratelimit-limit: 5000\r\nx-ratelimit-remaining: 0\r\nx-ratelimit-reset: {reset}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                            )
                        }
                        Reply::RedirectTo(location) => format!(
                            "HTTP/1.1 307 Temporary Redirect\r\nlocation: {location}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                        ),
                    };
                    let _ = stream.write_all(answer.as_bytes()).await;
                    let _ = stream.shutdown().await;
                });
            }
        });
        Recorder {
            port,
            received,
            task,
        }
    }

    /// A listener that answers every request with a 307 to `target` (same path).
    async fn redirecting_to(target: &str) -> Recorder {
        Self::with_reply(Reply::RedirectTo(target.to_owned())).await
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn requests(&self) -> Vec<String> {
        self.received.lock().unwrap().clone()
    }

    /// Fails when any request carried an `Authorization` header or one of `secrets` (raw or
    /// form-encoded), naming what leaked.
    pub fn assert_received_nothing_secret(&self, secrets: &[&str]) {
        for request in self.requests() {
            let lower = request.to_ascii_lowercase();
            assert!(
                !lower.contains("\r\nauthorization:"),
                "an Authorization header reached the attacker's host:\n{request}"
            );
            for field in ["password=", "client_secret=", "refresh_token="] {
                assert!(
                    !lower.contains(field),
                    "{field} reached the attacker's host:\n{request}"
                );
            }
            for secret in secrets {
                let encoded: String = url_encode(secret);
                assert!(
                    !request.contains(secret) && !request.contains(&encoded),
                    "the secret {secret:?} reached the attacker's host:\n{request}"
                );
            }
        }
    }
}

fn url_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                (b as char).to_string()
            }
            b' ' => "+".to_owned(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn put(app: &TestApp, system: &str, body: Value) -> crate::helpers::Answer {
    app.put_connection(system, &app.acme.key, body).await
}

async fn test_connection(app: &TestApp, system: &str) -> crate::helpers::Answer {
    app.post(
        &format!("/api/connections/{system}/test"),
        &app.acme.key,
        json!({}),
    )
    .await
}

/// Stores tokens for a connection as a worker that obtained them from `issuer_url` would have (written
/// as JSON so the record reads the same with or without an issuer field).
async fn seed_tokens(app: &TestApp, connection: &str, issuer: &str, access: &str, refresh: &str) {
    let now = Utc::now();
    let record: TokenRecord = serde_json::from_value(json!({
        "connection": connection,
        "issuer": issuer,
        "access_token": access,
        "refresh_token": refresh,
        "access_expires_at": now + chrono::Duration::hours(1),
        "issued_at": now - chrono::Duration::minutes(20),
        "generation": 0,
    }))
    .unwrap();
    app.stores.tokens.save_initial(&record).await.unwrap();
}

/// What a scheduled round of a flow does with the tenant's current record: build the connection and call
/// both systems (a fresh provider, as a worker process would have).
async fn scheduled_round(app: &TestApp) {
    let record = app.stores.tenants.get(&app.acme.id).await.unwrap().unwrap();
    let provider = ErpConnections::new(
        app.secrets.clone(),
        app.stores.tokens.clone(),
        app.stores.rate.clone(),
        SystemClock::shared(),
        "http://127.0.0.1:9/oauth/exact/callback",
    )
    .with_allowed_hosts(app.allowed.clone());
    if let Ok(psa) = provider.connect_psa(&record).await {
        let _ = psa.active_period().await;
    }
    if let Ok(ledger) = provider.connect_ledger(&record).await {
        let _ = ledger.currencies().await;
    }
    if let Ok(connection) = provider.connect(&record).await {
        let _ = connection.psa.active_period().await;
        let _ = connection.ledger.currencies().await;
    }
}

/// Enters the credentials of both connections through the API, so either connection can be built (the
/// attacks below must not fail for want of the other system's secrets).
async fn enter_credentials(app: &TestApp) {
    let vp = put(
        app,
        "vantagepoint",
        json!({"password": VP_PASSWORD, "client_secret": VP_CLIENT_SECRET}),
    )
    .await;
    let exact = put(app, "exact", json!({"client_secret": EXACT_CLIENT_SECRET})).await;
    assert_eq!(vp.status, StatusCode::OK, "{}", vp.text());
    assert_eq!(exact.status, StatusCode::OK, "{}", exact.text());
}

const VP_PASSWORD: &str = "acme-vp-password-Zq81";
const VP_CLIENT_SECRET: &str = "acme-vp-client-secret-Jx42";
const VP_ACCESS: &str = "acme-vp-access-token-Lm07";
const VP_REFRESH: &str = "acme-vp-refresh-token-Rt55";
const EXACT_CLIENT_SECRET: &str = "acme-exact-client-secret-Pd19";
const EXACT_ACCESS: &str = "acme-exact-access-token-Wv63";
const EXACT_REFRESH: &str = "acme-exact-refresh-token-Ys28";

/// Issue 19, Vantagepoint: a new `base_url` without secrets must not make the service send the cached
/// bearer token, the refresh token, the client secret or the password to the new host.
#[tokio::test]
async fn changing_the_vp_base_url_sends_no_token_or_credential_to_the_new_host() {
    let app = TestApp::spawn().await;
    enter_credentials(&app).await;
    seed_tokens(
        &app,
        "vantagepoint:acme",
        &ledgerlink_vantagepoint::issuer("http://127.0.0.1:9/vantagepoint").unwrap(),
        VP_ACCESS,
        VP_REFRESH,
    )
    .await;
    let attacker = Recorder::start().await;

    let moved = put(
        &app,
        "vantagepoint",
        json!({"base_url": format!("{}/vantagepoint", attacker.url())}),
    )
    .await;
    let tested = test_connection(&app, "vantagepoint").await;
    scheduled_round(&app).await;

    attacker.assert_received_nothing_secret(&[
        VP_PASSWORD,
        VP_CLIENT_SECRET,
        VP_ACCESS,
        VP_REFRESH,
    ]);
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.text());
    assert_eq!(moved.json["vantagepoint"]["state"], "needs-credentials");
    assert_eq!(moved.json["vantagepoint"]["password_configured"], false);
    assert_eq!(
        moved.json["vantagepoint"]["client_secret_configured"],
        false
    );
    assert_eq!(tested.json["ok"], false, "{}", tested.text());
    // The old tokens are gone from the store, not just unused.
    let tokens = app.stores.tokens.load("vantagepoint:acme").await.unwrap();
    assert!(tokens.is_none_or(|t| t.access_token.is_empty() && t.refresh_token.is_empty()));
}

/// Issue 19, Exact Online: the same with the Exact connection (bearer token, refresh token, client secret).
#[tokio::test]
async fn changing_the_exact_base_url_sends_no_token_or_client_secret_to_the_new_host() {
    let app = TestApp::spawn().await;
    enter_credentials(&app).await;
    seed_tokens(
        &app,
        "exact:acme",
        &ledgerlink_exact::issuer("http://127.0.0.1:9").unwrap(),
        EXACT_ACCESS,
        EXACT_REFRESH,
    )
    .await;
    let attacker = Recorder::start().await;

    let moved = put(&app, "exact", json!({"base_url": attacker.url()})).await;
    let tested = test_connection(&app, "exact").await;
    scheduled_round(&app).await;

    attacker.assert_received_nothing_secret(&[EXACT_CLIENT_SECRET, EXACT_ACCESS, EXACT_REFRESH]);
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.text());
    assert_eq!(moved.json["exact"]["state"], "needs-credentials");
    assert_eq!(moved.json["exact"]["client_secret_configured"], false);
    assert_eq!(tested.json["ok"], false, "{}", tested.text());
    let tokens = app.stores.tokens.load("exact:acme").await.unwrap();
    assert!(tokens.is_none_or(|t| t.access_token.is_empty() && t.refresh_token.is_empty()));
}

/// Issue 12 item 1: with tenant A's key, point A's Vantagepoint connection at the attacker's host and its
/// password and client secret at tenant B's secrets, then test the connection.
#[tokio::test]
async fn a_tenant_cannot_point_its_connection_at_another_tenant_s_secrets() {
    let app = TestApp::spawn().await;
    enter_credentials(&app).await;
    let globex_password = "globex-vp-password-Hb33";
    let globex_secret = "globex-vp-client-secret-Kc90";
    app.secrets.set("globex/vp/password", globex_password);
    app.secrets.set("globex/vp/client", globex_secret);
    let attacker = Recorder::start().await;

    let hijack = put(
        &app,
        "vantagepoint",
        json!({
            "base_url": format!("{}/vantagepoint", attacker.url()),
            "password_ref": {"kind": "local", "name": "globex/vp/password"},
            "client_secret_ref": {"kind": "local", "name": "globex/vp/client"},
        }),
    )
    .await;
    let tested = test_connection(&app, "vantagepoint").await;
    scheduled_round(&app).await;

    attacker.assert_received_nothing_secret(&[globex_password, globex_secret]);
    hijack.assert_problem(StatusCode::BAD_REQUEST);
    assert!(hijack.text().contains("password_ref") || hijack.text().contains("client_secret_ref"));
    assert_eq!(tested.json["ok"], false, "{}", tested.text());
}

/// Issue 12 item 1, "whatever the stored record says": a tenant record that already names another
/// tenant's secrets (written before the fix, or by anything other than the API) resolves nothing.
#[tokio::test]
async fn a_stored_reference_to_another_tenant_s_secret_is_never_resolved() {
    let app = TestApp::spawn().await;
    let globex_password = "globex-vp-password-Fe71";
    let globex_secret = "globex-vp-client-secret-Qa12";
    app.secrets.set("globex/vp/password", globex_password);
    app.secrets.set("globex/vp/client", globex_secret);
    app.secrets.set("globex/exact/client", globex_secret);
    let attacker = Recorder::start().await;
    let mut record = app.stores.tenants.get(&app.acme.id).await.unwrap().unwrap();
    record.vp_base_url = format!("{}/vantagepoint", attacker.url());
    record.exact_base_url = attacker.url();
    record.vp_password = SecretRef::Local("globex/vp/password".into());
    record.vp_client_secret = SecretRef::Local("globex/vp/client".into());
    record.exact_client_secret = SecretRef::Local("globex/exact/client".into());
    let version = record.version;
    app.stores
        .tenants
        .put(&record, Some(version))
        .await
        .unwrap();

    let vp = test_connection(&app, "vantagepoint").await;
    let exact = test_connection(&app, "exact").await;
    scheduled_round(&app).await;

    attacker.assert_received_nothing_secret(&[globex_password, globex_secret]);
    assert_eq!(vp.json["ok"], false, "{}", vp.text());
    assert_eq!(exact.json["ok"], false, "{}", exact.text());
}

/// Credentials entered together with a new base URL are bound to it and used there — and only they: the
/// old host's password and tokens never follow.
#[tokio::test]
async fn credentials_entered_for_the_new_host_are_used_there_and_the_old_ones_never() {
    let app = TestApp::spawn().await;
    enter_credentials(&app).await;
    seed_tokens(
        &app,
        "vantagepoint:acme",
        &ledgerlink_vantagepoint::issuer("http://127.0.0.1:9/vantagepoint").unwrap(),
        VP_ACCESS,
        VP_REFRESH,
    )
    .await;
    let new_host = Recorder::start().await;

    let moved = put(
        &app,
        "vantagepoint",
        json!({
            "base_url": format!("{}/vantagepoint", new_host.url()),
            "password": "new-host-password-Ab12",
            "client_secret": "new-host-client-secret-Cd34",
        }),
    )
    .await;
    let tested = test_connection(&app, "vantagepoint").await;

    assert_eq!(moved.status, StatusCode::OK, "{}", moved.text());
    assert_eq!(moved.json["vantagepoint"]["state"], "active");
    assert_eq!(tested.json["ok"], false);
    assert_eq!(
        tested.json["message"],
        "Vantagepoint refused the credentials."
    );
    let requests = new_host.requests().join("\n");
    assert!(
        requests.contains("new-host-password-Ab12"),
        "the new host was not asked with its own credentials: {requests}"
    );
    for old in [VP_PASSWORD, VP_CLIENT_SECRET, VP_ACCESS, VP_REFRESH] {
        assert!(!requests.contains(old), "{old} followed to the new host");
    }
}

/// A credential request is never re-sent where a redirect points (a 307 keeps the method and the body).
#[tokio::test]
async fn a_redirect_of_the_vp_token_request_does_not_carry_the_password_away() {
    let app = TestApp::spawn().await;
    enter_credentials(&app).await;
    let attacker = Recorder::start().await;
    let redirector =
        Recorder::redirecting_to(&format!("{}/vantagepoint/api/token", attacker.url())).await;
    let moved = put(
        &app,
        "vantagepoint",
        json!({
            "base_url": format!("{}/vantagepoint", redirector.url()),
            "password": VP_PASSWORD,
            "client_secret": VP_CLIENT_SECRET,
        }),
    )
    .await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.text());

    let tested = test_connection(&app, "vantagepoint").await;

    assert_eq!(tested.json["ok"], false);
    assert!(
        !redirector.requests().is_empty(),
        "the configured host was never asked"
    );
    attacker.assert_received_nothing_secret(&[VP_PASSWORD, VP_CLIENT_SECRET]);
    assert!(attacker.requests().is_empty(), "{:?}", attacker.requests());
}

/// Issue 12 item 2, when saving: with no allowed hosts (production), a base URL that is not an Exact
/// site, not https, or not a public address is refused with a clear field error.
#[tokio::test]
async fn internal_and_foreign_erp_hosts_are_refused_when_saved() {
    let app = TestApp::spawn_allowing("").await;
    let listener = Recorder::start().await;
    for (system, url) in [
        ("vantagepoint", format!("{}/vantagepoint", listener.url())),
        ("vantagepoint", "https://127.0.0.1/vantagepoint".to_owned()),
        ("vantagepoint", "https://10.0.0.8/vantagepoint".to_owned()),
        (
            "vantagepoint",
            "https://192.168.1.20/vantagepoint".to_owned(),
        ),
        ("vantagepoint", "https://169.254.169.254/latest".to_owned()),
        ("vantagepoint", "https://[::1]/vantagepoint".to_owned()),
        (
            "vantagepoint",
            "https://[::ffff:10.0.0.1]/vantagepoint".to_owned(),
        ),
        (
            "vantagepoint",
            "http://vp.example.com/vantagepoint".to_owned(),
        ),
        (
            "vantagepoint",
            "https://user:pw@vp.example.com/x".to_owned(),
        ),
        ("exact", listener.url()),
        ("exact", "https://evil.example".to_owned()),
        (
            "exact",
            "https://start.exactonline.nl.evil.example".to_owned(),
        ),
        ("exact", "http://start.exactonline.nl".to_owned()),
    ] {
        let body = if system == "exact" {
            json!({"base_url": url, "client_secret": EXACT_CLIENT_SECRET})
        } else {
            json!({"base_url": url, "password": VP_PASSWORD})
        };
        let answer = put(&app, system, body).await;
        answer.assert_problem(StatusCode::BAD_REQUEST);
        assert!(
            answer.text().contains("base_url"),
            "{url}: {}",
            answer.text()
        );
    }
    let exact = put(
        &app,
        "exact",
        json!({"base_url": "https://start.exactonline.be"}),
    )
    .await;
    let vp = put(
        &app,
        "vantagepoint",
        json!({"base_url": "https://vp.customer.example/Acme"}),
    )
    .await;
    assert_eq!(exact.status, StatusCode::OK, "{}", exact.text());
    assert_eq!(vp.status, StatusCode::OK, "{}", vp.text());
    assert!(listener.requests().is_empty());
}

/// Issue 12 item 2, at connect time: a stored record that points at an internal address — as an IP
/// literal, or as a name that resolves to one (`localhost`) — gets nothing, even with credentials that
/// are bound to exactly that URL.
#[tokio::test]
async fn a_stored_internal_erp_host_is_never_connected_to() {
    let app = TestApp::spawn_allowing("").await;
    let listener = Recorder::start().await;
    for base in [
        format!("{}/vantagepoint", listener.url()),
        format!("https://localhost:{}/vantagepoint", listener.port),
    ] {
        let issuer = ledgerlink_vantagepoint::issuer(&base).unwrap();
        let t = &app.acme.id;
        for (name, value) in [
            ("vp/client", VP_CLIENT_SECRET),
            ("vp/password", VP_PASSWORD),
        ] {
            app.secrets.set_value(
                format!("{t}/{name}"),
                ledgerlink_flows::SecretValue::bound(value, issuer.clone()),
            );
        }
        let mut record = app.stores.tenants.get(t).await.unwrap().unwrap();
        record.vp_base_url = base.clone();
        let version = record.version;
        app.stores
            .tenants
            .put(&record, Some(version))
            .await
            .unwrap();

        let tested = test_connection(&app, "vantagepoint").await;
        scheduled_round(&app).await;

        assert_eq!(tested.json["ok"], false, "{base}: {}", tested.text());
    }
    assert!(
        listener.requests().is_empty(),
        "the internal host was contacted: {:?}",
        listener.requests()
    );
}

/// Issue 12 item 11: a user of the tenant cannot mark another user's notification read (nor learn that it
/// exists: the answer is the one for an unknown id).
#[tokio::test]
async fn a_user_cannot_mark_another_user_s_notification_read() {
    let app = TestApp::spawn().await;
    app.stores
        .notifications
        .push(&ledgerlink_ports::Notification {
            tenant: app.acme.id.clone(),
            id: "n-other".into(),
            kind: ledgerlink_ports::NotificationKind::ExportFinished,
            recipient: "someone-else".into(),
            subject: "subject".into(),
            body: "body".into(),
            link: None,
            created_at: Utc::now(),
            delivered_at: None,
        })
        .await
        .unwrap();

    let other = app
        .post("/api/notifications/n-other/read", &app.acme.key, json!({}))
        .await;
    let unknown = app
        .post(
            "/api/notifications/n-unknown/read",
            &app.acme.key,
            json!({}),
        )
        .await;

    other.assert_problem(StatusCode::NOT_FOUND);
    unknown.assert_problem(StatusCode::NOT_FOUND);
    assert_eq!(other.json["title"], unknown.json["title"]);
    let stored = app
        .stores
        .notifications
        .get(&app.acme.id, "n-other")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.delivered_at, None, "the notification stays unread");
}

/// Issue 12 item 7: webhook answers do not tell an unknown tenant from a known one — same status, title
/// and detail for the same (bogus) delivery.
#[tokio::test]
async fn webhook_answers_do_not_reveal_which_tenants_exist() {
    let app = TestApp::spawn().await;
    let exact_body = r#"{"Content":{"Topic":"BankEntries","ClientId":"x","Division":101,"Action":"Update","Key":"k","EventCreatedOn":"2026-01-01T00:00:00"},"HashCode":"0000"}"#;
    for (path, body, headers) in [
        ("exact", exact_body.to_owned(), vec![]),
        ("exact", String::new(), vec![]),
        ("exact", "not json".to_owned(), vec![]),
        (
            "vantagepoint",
            "{}".to_owned(),
            vec![("authorization", "Basic dnAtaG9vazp3cm9uZw==".to_owned())],
        ),
        ("vantagepoint", "{}".to_owned(), vec![]),
    ] {
        let mut answers = Vec::new();
        for tenant in ["acme", "nobody", "Not A Tenant!"] {
            let mut request = axum::http::Request::builder()
                .method("POST")
                .uri(format!("/webhooks/{path}/{}", tenant.replace(' ', "%20")))
                .header("content-type", "application/json");
            for (name, value) in &headers {
                request = request.header(*name, value);
            }
            let answer = app
                .send(request.body(axum::body::Body::from(body.clone())).unwrap())
                .await;
            answers.push((
                answer.status,
                answer.json["title"].clone(),
                answer.json["detail"].clone(),
            ));
        }
        assert!(
            answers.windows(2).all(|w| w[0] == w[1]),
            "{path} {body:?}: {answers:?}"
        );
    }
}

/// Issue 12 item 6: tenant B copies tenant A's Exact client id and division, points its connection at a
/// host that answers with exhausted rate headers, and tests it. A's shared budget must be untouched.
#[tokio::test]
async fn a_tenant_cannot_exhaust_another_tenant_s_rate_budget() {
    let app = TestApp::spawn().await;
    let poisoner = Recorder::with_reply(Reply::UnauthorizedWithSpentBudget).await;
    let globex_key = app.globex.key.clone();
    let copied = app
        .put_connection(
            "exact",
            &globex_key,
            json!({
                "base_url": poisoner.url(),
                "client_id": "acme-exact-client",
                "client_secret": "globex-secret",
            }),
        )
        .await;
    assert_eq!(copied.status, StatusCode::OK, "{}", copied.text());
    // The division is set directly: the API would accept it too, it is the tenant's own choice.
    let mut record = app
        .stores
        .tenants
        .get(&app.globex.id)
        .await
        .unwrap()
        .unwrap();
    record.exact_division = ledgerlink_domain::Division(app.acme.division);
    let version = record.version;
    app.stores
        .tenants
        .put(&record, Some(version))
        .await
        .unwrap();
    seed_tokens(
        &app,
        "exact:globex",
        &ledgerlink_exact::issuer(&poisoner.url()).unwrap(),
        "globex-access",
        "globex-refresh",
    )
    .await;

    for _ in 0..3 {
        app.post("/api/connections/exact/test", &globex_key, json!({}))
            .await;
    }

    assert!(
        !poisoner.requests().is_empty(),
        "the poisoning host was asked"
    );
    let limits = ledgerlink_ports::RateLimits {
        per_minute: 60,
        per_day: 5000,
    };
    // A's budget, whatever its key: the old app+division key and the connection's key.
    for key in [
        format!("exact:acme-exact-client:{}", app.acme.division),
        format!("exact:acme:{}", app.acme.division),
    ] {
        let decision = app
            .stores
            .rate
            .acquire(&key, limits, Utc::now())
            .await
            .unwrap();
        assert_eq!(decision, ledgerlink_ports::RateDecision::Granted, "{key}");
    }
}
