//! Exact Online consent through the routes, against the Exact emulator (in-process, port 0) and the API
//! served on port 0 (Exact's webhook subscription POSTs to it): the full flow, and every way a state or
//! division token can be wrong — each refused with a clear page and nothing changed (no code exchanged, no
//! token, tenant or subscription written).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use ledgerlink_api::consent::{CALLBACK_PATH, ConsentKey, ConsentSettings, DIVISION_PATH};
use ledgerlink_api::{ApiState, LocalSecretWriter, Role, add_api_key};
use ledgerlink_clock::ManualClock;
use ledgerlink_domain::{Division, TenantId};
use ledgerlink_emulators::RunningServer;
use ledgerlink_emulators::exact::{
    AppRegistration, ExactConfig as EmulatorConfig, ExactEmulator, UserSpec,
};
use ledgerlink_flows::connections::{ErpConnections, LocalSecrets};
use ledgerlink_flows::hosts::AllowedErpHosts;
use ledgerlink_flows::{FlowContext, FlowSettings, SecretValue};
use ledgerlink_ports::StateStores;
use ledgerlink_store_embedded::{EmbeddedStore, FolderStorage};
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::tenant_record;

const CLIENT_ID: &str = "7d8c6a52-2a45-4c3e-9d1b-0c8e5a6f4b21";
const CLIENT_SECRET: &str = "consent-test-client-secret";
const HOLDING: i32 = 1001;
const SERVICES: i32 = 1002;

struct ConsentApp {
    api: String,
    stores: StateStores,
    clock: ManualClock,
    exact: ExactEmulator,
    http: reqwest::Client,
    acme: TenantId,
    globex: TenantId,
    admin: String,
    operator: String,
    viewer: String,
    _exact_server: RunningServer,
    _server: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

/// A raw answer of the API or the emulator.
struct Reply {
    status: StatusCode,
    content_type: String,
    location: Option<String>,
    text: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }
}

async fn reply(response: reqwest::Response) -> Reply {
    let status = response.status();
    let header = |name| {
        response
            .headers()
            .get(name)
            .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
            .map(str::to_owned)
    };
    let content_type = header(reqwest::header::CONTENT_TYPE).unwrap_or_default();
    let location = header(reqwest::header::LOCATION);
    Reply {
        status,
        content_type,
        location,
        text: response.text().await.unwrap(),
    }
}

impl ConsentApp {
    /// The API (served on port 0) with consent settings and a manual clock; the Exact emulator with one app
    /// whose redirect URI is this API's callback and a user with two divisions; tenant `acme` connected to
    /// it (client id and a bound client secret, no tokens) with an admin, an operator and a viewer key;
    /// tenant `globex` beside it.
    async fn spawn() -> ConsentApp {
        let dir = tempfile::tempdir().unwrap();
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .unwrap();
        let api = format!("http://{}", listener.local_addr().unwrap());
        let redirect_uri = format!("{api}{CALLBACK_PATH}");

        let exact = ExactEmulator::new(EmulatorConfig::default());
        let exact_server = exact.spawn().await.unwrap();
        exact.create_division(HOLDING, "Acme Holding BV");
        exact.create_division(SERVICES, "Acme Services <BV>");
        exact.create_user(UserSpec {
            id: None,
            full_name: "Ann Admin".into(),
            email: "ann@acme.example".into(),
            divisions: vec![HOLDING, SERVICES],
        });
        exact.create_app(AppRegistration {
            client_id: CLIENT_ID.into(),
            client_secret: CLIENT_SECRET.into(),
            webhook_secret: "consent-test-webhook-secret".into(),
            redirect_uri: redirect_uri.clone(),
            name: "Ledgerlink consent test".into(),
        });

        let store = EmbeddedStore::open(dir.path().join("state.db")).unwrap();
        let clock = ManualClock::new(Utc::now());
        let stores = store.state_stores();
        let queue = store.queue(clock.shared());
        let storage =
            Arc::new(FolderStorage::new(dir.path().join("files"), &api, &[7_u8; 32]).unwrap());
        let secrets = Arc::new(LocalSecrets::new());
        let connections = Arc::new(
            ErpConnections::new(
                secrets.clone(),
                stores.tokens.clone(),
                stores.rate.clone(),
                clock.shared(),
                redirect_uri.clone(),
            )
            .with_allowed_hosts(AllowedErpHosts::parse("127.0.0.1").unwrap()),
        );
        let flows = FlowContext {
            stores: stores.clone(),
            queue,
            connections,
            clock: clock.shared(),
            settings: FlowSettings::default(),
        };

        let mut acme = tenant_record("acme", 0, "Acme BV");
        acme.exact_base_url = exact_server.base_url();
        acme.exact_division = Division(0);
        acme.exact_client_id = CLIENT_ID.into();
        let issuer = ledgerlink_exact::issuer(&acme.exact_base_url).unwrap();
        secrets.set_value(
            "acme/exact/client",
            SecretValue::bound(CLIENT_SECRET, issuer),
        );
        secrets.set("acme/exact/webhook", "consent-test-webhook-secret");
        let mut keys = Vec::new();
        for (user, role) in [
            ("ann", Role::Admin),
            ("otto", Role::Operator),
            ("vic", Role::Viewer),
        ] {
            let issued = ledgerlink_api::auth::issue_api_key_with(&acme.id, user, role, None, None);
            add_api_key(&mut acme, &issued.stored);
            keys.push(issued.token);
        }
        stores.tenants.put(&acme, None).await.unwrap();
        let globex = tenant_record("globex", 202, "Globex");
        stores.tenants.put(&globex, None).await.unwrap();

        let key = ConsentKey::new(b"consent-test-state-key-of-32-bytes!!".to_vec()).unwrap();
        let state = ApiState::new(flows, storage.clone(), secrets.clone())
            .with_secret_writer(Arc::new(LocalSecretWriter::new(secrets.clone())))
            .with_local_files((*storage).clone())
            .with_consent(ConsentSettings::new(redirect_uri, Arc::new(key)));
        let router = ledgerlink_api::router(state);
        let server = tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .unwrap();
        let viewer = keys.pop().unwrap();
        let operator = keys.pop().unwrap();
        let admin = keys.pop().unwrap();
        ConsentApp {
            api,
            stores,
            clock,
            exact,
            http,
            acme: acme.id,
            globex: globex.id,
            admin,
            operator,
            viewer,
            _exact_server: exact_server,
            _server: server,
            _dir: dir,
        }
    }

    async fn start_consent(&self, key: &str) -> Reply {
        reply(
            self.http
                .post(format!("{}/api/connections/exact/consent", self.api))
                .bearer_auth(key)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// Starts consent as the admin and lets the emulator consent: the callback URL Exact redirects to.
    async fn consented_callback(&self) -> String {
        let started = self.start_consent(&self.admin).await;
        assert_eq!(started.status, StatusCode::OK, "{}", started.text);
        let authorize = started.json()["authorize_url"].as_str().unwrap().to_owned();
        let consent = reply(self.http.get(&authorize).send().await.unwrap()).await;
        assert_eq!(consent.status, StatusCode::FOUND, "{}", consent.text);
        let location = consent.location.unwrap();
        assert!(
            location.starts_with(&format!("{}{CALLBACK_PATH}?", self.api)),
            "Exact sends the admin back to this API's callback: {location}"
        );
        location
    }

    async fn get(&self, url: &str, json: bool) -> Reply {
        let mut request = self.http.get(url);
        if json {
            request = request.header(reqwest::header::ACCEPT, "application/json");
        }
        reply(request.send().await.unwrap()).await
    }

    async fn choose(&self, token: &str, division: &str, json: bool) -> Reply {
        let mut request = self
            .http
            .post(format!("{}{DIVISION_PATH}", self.api))
            .form(&[("token", token), ("division", division)]);
        if json {
            request = request.header(reqwest::header::ACCEPT, "application/json");
        }
        reply(request.send().await.unwrap()).await
    }

    async fn tenant_version(&self, tenant: &TenantId) -> u64 {
        self.stores
            .tenants
            .get(tenant)
            .await
            .unwrap()
            .unwrap()
            .version
    }

    async fn has_tokens(&self, tenant: &TenantId) -> bool {
        self.stores
            .tokens
            .load(&ledgerlink_exact::connection_name(tenant))
            .await
            .unwrap()
            .is_some()
    }

    fn token_calls(&self) -> u64 {
        self.exact.token_calls(CLIENT_ID)
    }

    fn subscriptions(&self) -> Vec<serde_json::Map<String, Value>> {
        [HOLDING, SERVICES]
            .into_iter()
            .flat_map(|d| {
                self.exact
                    .entities(d, "webhooks/WebhookSubscriptions")
                    .unwrap()
            })
            .collect()
    }

    /// Asserts that nothing was exchanged or written for either tenant.
    async fn assert_nothing_changed(&self, versions: (u64, u64), token_calls: u64, tokens: bool) {
        assert_eq!(self.token_calls(), token_calls, "no code was exchanged");
        assert_eq!(
            self.has_tokens(&self.acme).await,
            tokens,
            "acme's tokens unchanged"
        );
        assert!(!self.has_tokens(&self.globex).await, "globex has no tokens");
        assert_eq!(self.tenant_version(&self.acme).await, versions.0);
        assert_eq!(self.tenant_version(&self.globex).await, versions.1);
        assert!(self.subscriptions().is_empty(), "no webhook subscribed");
    }

    async fn versions(&self) -> (u64, u64) {
        (
            self.tenant_version(&self.acme).await,
            self.tenant_version(&self.globex).await,
        )
    }
}

/// The `state` query parameter of a callback URL, and the URL with it replaced.
fn state_of(callback: &str) -> String {
    let url = reqwest::Url::parse(callback).unwrap();
    url.query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .unwrap()
}

fn with_state(callback: &str, state: &str) -> String {
    let mut url = reqwest::Url::parse(callback).unwrap();
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "state" {
                state.to_owned()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    url.query_pairs_mut().clear().extend_pairs(pairs);
    url.to_string()
}

fn assert_error_page(reply: &Reply, status: StatusCode, says: &str) {
    assert_eq!(reply.status, status, "{}", reply.text);
    assert!(
        reply.content_type.starts_with("text/html"),
        "{}",
        reply.content_type
    );
    assert!(
        reply.text.contains(says),
        "page should say {says:?}: {}",
        reply.text
    );
    assert!(
        reply.text.contains("Connect Exact Online"),
        "says what to do"
    );
}

#[tokio::test]
async fn an_admin_connects_exact_through_consent_callback_and_division_choice() {
    let app = ConsentApp::spawn().await;

    // Act: consent, callback, division.
    let callback = app.consented_callback().await;
    let pick = app.get(&callback, true).await;
    assert_eq!(pick.status, StatusCode::OK, "{}", pick.text);
    let pick = pick.json();
    let listed: Vec<i64> = pick["divisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["code"].as_i64().unwrap())
        .collect();
    assert_eq!(listed, vec![i64::from(HOLDING), i64::from(SERVICES)]);
    assert_eq!(pick["current"], HOLDING);
    let token = pick["division_token"].as_str().unwrap();
    let done = app.choose(token, &SERVICES.to_string(), true).await;

    // Assert
    assert_eq!(done.status, StatusCode::OK, "{}", done.text);
    let done = done.json();
    assert_eq!(done["division"], SERVICES);
    assert_eq!(done["division_name"], "Acme Services <BV>");
    assert_eq!(done["webhooks"]["state"], "subscribed", "{done}");
    let record = app.stores.tenants.get(&app.acme).await.unwrap().unwrap();
    assert_eq!(record.exact_division, Division(SERVICES as u32));
    let tokens = app
        .stores
        .tokens
        .load(&ledgerlink_exact::connection_name(&app.acme))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        tokens.issuer,
        ledgerlink_exact::issuer(&record.exact_base_url).unwrap(),
        "the tokens are stored with their issuer"
    );
    assert_eq!(app.token_calls(), 1, "the code was exchanged once");
    let subscriptions = app
        .exact
        .entities(SERVICES, "webhooks/WebhookSubscriptions")
        .unwrap();
    assert_eq!(subscriptions.len(), 1, "{subscriptions:?}");
    assert_eq!(subscriptions[0]["Topic"], "BankEntries");
    assert_eq!(
        subscriptions[0]["CallbackURL"],
        format!("{}/webhooks/exact/acme", app.api)
    );

    // The health, for a viewer: connected, the division, calls used today, the webhooks, never a token.
    let health = reply(
        app.http
            .get(format!("{}/api/connections/exact/health", app.api))
            .bearer_auth(&app.viewer)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(health.status, StatusCode::OK, "{}", health.text);
    let h = health.json();
    assert_eq!(h["token"]["state"], "connected");
    assert_eq!(
        h["token"]["access_expires_at"],
        serde_json::to_value(tokens.access_expires_at).unwrap()
    );
    assert_eq!(
        h["token"]["last_refresh"],
        serde_json::to_value(tokens.issued_at).unwrap()
    );
    assert_eq!(h["division"], SERVICES);
    assert_eq!(h["division_name"], "Acme Services <BV>");
    assert_eq!(h["consented_by"], "ann");
    assert_eq!(h["webhooks"]["state"], "subscribed");
    assert!(
        h["calls"]["used_today"].as_u64().unwrap() >= 1,
        "subscribing was a call in the division: {h}"
    );
    assert_eq!(
        h["calls"]["remaining_today"].as_u64().unwrap()
            + h["calls"]["used_today"].as_u64().unwrap(),
        h["calls"]["daily_limit"].as_u64().unwrap()
    );
    assert!(
        !health.text.contains(&tokens.access_token),
        "no access token"
    );
    assert!(
        !health.text.contains(&tokens.refresh_token),
        "no refresh token"
    );
}

#[tokio::test]
async fn a_browser_gets_the_division_form_and_the_connected_page_as_html() {
    let app = ConsentApp::spawn().await;
    let callback = app.consented_callback().await;

    let form = app.get(&callback, false).await;

    assert_eq!(form.status, StatusCode::OK, "{}", form.text);
    assert!(form.content_type.starts_with("text/html"));
    assert!(form.text.contains(&format!("action=\"{DIVISION_PATH}\"")));
    assert!(
        form.text.contains("Acme Services &lt;BV&gt;"),
        "Exact's division names are escaped: {}",
        form.text
    );
    let token = form
        .text
        .split("name=\"token\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap();
    let done = app.choose(token, &HOLDING.to_string(), false).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text);
    assert!(done.content_type.starts_with("text/html"));
    assert!(
        done.text.contains("Exact Online is connected"),
        "{}",
        done.text
    );
    assert_eq!(
        app.stores
            .tenants
            .get(&app.acme)
            .await
            .unwrap()
            .unwrap()
            .exact_division,
        Division(HOLDING as u32)
    );
}

#[tokio::test]
async fn a_tampered_state_gets_an_error_page_and_changes_nothing() {
    let app = ConsentApp::spawn().await;
    let callback = app.consented_callback().await;
    let before = app.versions().await;
    let state = state_of(&callback);
    let (payload, tag) = state.split_once('.').unwrap();
    let mut claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    claims["exp"] = Value::from(claims["exp"].as_i64().unwrap() + 86_400);
    let longer = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap());

    for bad in [
        format!("{longer}.{tag}"),
        format!("{payload}.{}", URL_SAFE_NO_PAD.encode([0_u8; 32])),
        "not-a-state".to_owned(),
        String::new(),
    ] {
        let page = app.get(&with_state(&callback, &bad), false).await;
        assert_error_page(&page, StatusCode::BAD_REQUEST, "not valid");
    }

    app.assert_nothing_changed(before, 0, false).await;
}

#[tokio::test]
async fn a_state_rewritten_to_name_another_tenant_is_refused_and_changes_neither_tenant() {
    let app = ConsentApp::spawn().await;
    let callback = app.consented_callback().await;
    let before = app.versions().await;
    let state = state_of(&callback);
    let (payload, tag) = state.split_once('.').unwrap();
    let mut claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    assert_eq!(claims["tenant"], "acme", "the state is bound to its tenant");
    claims["tenant"] = Value::from("globex");
    let other = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap());

    let page = app
        .get(&with_state(&callback, &format!("{other}.{tag}")), false)
        .await;

    assert_error_page(&page, StatusCode::BAD_REQUEST, "not valid");
    app.assert_nothing_changed(before, 0, false).await;
}

#[tokio::test]
async fn a_replayed_state_is_refused_without_exchanging_the_code_again() {
    let app = ConsentApp::spawn().await;
    let callback = app.consented_callback().await;
    let first = app.get(&callback, true).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    let before = app.versions().await;
    assert_eq!(app.token_calls(), 1);

    let replay = app.get(&callback, false).await;

    assert_error_page(&replay, StatusCode::CONFLICT, "already used");
    app.assert_nothing_changed(before, 1, true).await;
    let json = app.get(&callback, true).await;
    assert_eq!(json.status, StatusCode::CONFLICT);
    assert_eq!(json.content_type, "application/problem+json");
}

#[tokio::test]
async fn an_expired_state_is_refused_without_exchanging_the_code() {
    let app = ConsentApp::spawn().await;
    let callback = app.consented_callback().await;
    let before = app.versions().await;

    app.clock.advance(Duration::from_secs(10 * 60 + 1));
    let page = app.get(&callback, false).await;

    assert_error_page(&page, StatusCode::BAD_REQUEST, "expired");
    app.assert_nothing_changed(before, 0, false).await;
}

#[tokio::test]
async fn a_wrong_division_token_or_division_is_refused_and_changes_nothing() {
    let app = ConsentApp::spawn().await;
    let callback = app.consented_callback().await;
    let pick = app.get(&callback, true).await.json();
    let token = pick["division_token"].as_str().unwrap().to_owned();
    let before = app.versions().await;
    let (payload, tag) = token.split_once('.').unwrap();
    let mut claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    claims["divisions"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"code": 999, "name": "Not mine"}));
    let widened = format!(
        "{}.{tag}",
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap())
    );

    // The consent state is not a division token; a widened list is not signed; 999 was not listed.
    let cases = [
        (state_of(&callback), HOLDING.to_string(), "not valid"),
        (widened, "999".to_owned(), "not valid"),
        (token.clone(), "999".to_owned(), "Not one of your divisions"),
        (token.clone(), "abc".to_owned(), "Not one of your divisions"),
    ];
    for (bad, division, says) in cases {
        let page = app.choose(&bad, &division, false).await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{}", page.text);
        assert!(page.text.contains(says), "{says:?}: {}", page.text);
    }
    app.clock.advance(Duration::from_secs(10 * 60 + 1));
    let expired = app.choose(&token, &HOLDING.to_string(), false).await;
    assert_error_page(&expired, StatusCode::BAD_REQUEST, "expired");

    app.assert_nothing_changed(before, 1, true).await;
}

#[tokio::test]
async fn a_division_token_works_once() {
    let app = ConsentApp::spawn().await;
    let callback = app.consented_callback().await;
    let pick = app.get(&callback, true).await.json();
    let token = pick["division_token"].as_str().unwrap();
    let first = app.choose(token, &HOLDING.to_string(), true).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    let before = app.versions().await;

    let replay = app.choose(token, &SERVICES.to_string(), false).await;

    assert_error_page(&replay, StatusCode::CONFLICT, "already used");
    assert_eq!(app.versions().await, before);
    assert_eq!(
        app.stores
            .tenants
            .get(&app.acme)
            .await
            .unwrap()
            .unwrap()
            .exact_division,
        Division(HOLDING as u32)
    );
    assert!(
        app.exact
            .entities(SERVICES, "webhooks/WebhookSubscriptions")
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn only_an_admin_may_start_consent() {
    let app = ConsentApp::spawn().await;

    for key in [&app.viewer, &app.operator] {
        let refused = app.start_consent(key).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text);
        assert!(refused.text.contains("admin"), "{}", refused.text);
    }
    let anonymous = reply(
        app.http
            .post(format!("{}/api/connections/exact/consent", app.api))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    let admin = app.start_consent(&app.admin).await;
    assert_eq!(admin.status, StatusCode::OK, "{}", admin.text);
    let url = admin.json()["authorize_url"].as_str().unwrap().to_owned();
    assert!(url.contains("state="), "{url}");
    assert!(url.contains(&format!("client_id={CLIENT_ID}")), "{url}");
}

#[tokio::test]
async fn consent_is_refused_until_the_exact_app_is_entered_and_health_shows_not_connected() {
    let app = ConsentApp::spawn().await;
    let mut record = app.stores.tenants.get(&app.acme).await.unwrap().unwrap();
    record.exact_client_id = String::new();
    let expected = record.version;
    app.stores
        .tenants
        .put(&record, Some(expected))
        .await
        .unwrap();

    let refused = app.start_consent(&app.admin).await;
    let health = reply(
        app.http
            .get(format!("{}/api/connections/exact/health", app.api))
            .bearer_auth(&app.viewer)
            .send()
            .await
            .unwrap(),
    )
    .await;

    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.text);
    assert!(refused.text.contains("client id"), "{}", refused.text);
    assert_eq!(health.status, StatusCode::OK, "{}", health.text);
    assert_eq!(health.json()["token"]["state"], "not-connected");
    assert_eq!(health.json()["webhooks"]["state"], "not-subscribed");
    assert_eq!(health.json()["calls"]["used_today"], 0);
}

#[tokio::test]
async fn the_page_offers_connect_exact_online_to_admins_only_and_shows_the_health() {
    let app = crate::helpers::TestApp::spawn().await;

    let page = app.call("GET", "/", None, None).await.text();
    let script = app.call("GET", "/app.js", None, None).await.text();
    let style = app.call("GET", "/app.css", None, None).await.text();

    let button = page
        .lines()
        .find(|l| l.contains("id=\"connect-exact\""))
        .unwrap();
    assert!(button.contains("Connect Exact Online"), "{button}");
    assert!(
        button.contains("class=\"needs-admin\""),
        "hidden from other roles: {button}"
    );
    assert!(
        style.contains("[data-role=\"operator\"]) .needs-admin"),
        "{style}"
    );
    assert!(script.contains("api(\"POST\", \"/api/connections/exact/consent\")"));
    assert!(script.contains("window.location.assign(start.authorize_url)"));
    assert!(script.contains("api(\"GET\", \"/api/connections/exact/health\")"));
    assert!(page.contains("id=\"exact-health\""));
}

#[tokio::test]
async fn without_consent_settings_the_routes_say_so() {
    let app = crate::helpers::TestApp::spawn().await;

    let start = app
        .post("/api/connections/exact/consent", &app.acme.key, Value::Null)
        .await;
    let callback = app
        .call("GET", "/oauth/exact/callback?code=x&state=y", None, None)
        .await;

    start.assert_problem(axum::http::StatusCode::NOT_IMPLEMENTED);
    assert_eq!(callback.status, axum::http::StatusCode::NOT_IMPLEMENTED);
    assert!(
        callback.text().contains("CONSENT_STATE_SECRET"),
        "{}",
        callback.text()
    );
}
