//! `spawn`: an emulator with the demo data on a manual clock, served on 127.0.0.1:0, plus a small HTTP
//! helper that speaks VP (form-encoded token grant, bearer calls, JSON bodies).

use ledgerlink_clock::ManualClock;
use ledgerlink_emulators::RunningServer;
use ledgerlink_emulators::vantagepoint::demo::{DemoOptions, DemoSummary};
use ledgerlink_emulators::vantagepoint::{VantagepointConfig, VantagepointEmulator};
use reqwest::StatusCode;
use serde_json::Value;

pub const USER: &str = "integration";
pub const PASSWORD: &str = "integration-password";

pub struct Vp {
    pub emulator: VantagepointEmulator,
    pub server: RunningServer,
    pub clock: ManualClock,
    pub demo: DemoSummary,
    pub http: reqwest::Client,
    pub base: String,
}

pub async fn spawn() -> Vp {
    spawn_with(VantagepointConfig::default()).await
}

pub async fn spawn_with(config: VantagepointConfig) -> Vp {
    let clock = ManualClock::fixed();
    let emulator = VantagepointEmulator::with_clock(config, clock.shared());
    let demo = emulator.load_demo(&DemoOptions::default()).unwrap();
    let server = emulator.spawn().await.unwrap();
    let base = emulator.api_base(&server);
    Vp {
        emulator,
        server,
        clock,
        demo,
        http: reqwest::Client::new(),
        base,
    }
}

impl Vp {
    /// The password-grant form, as Unionpoint sends it.
    pub fn grant_form(&self, password: &str) -> Vec<(&'static str, String)> {
        let c = self.emulator.config();
        vec![
            ("Username", USER.to_owned()),
            ("Password", password.to_owned()),
            ("grant_type", "password".to_owned()),
            ("Integrated", "N".to_owned()),
            ("database", c.database.clone()),
            ("Client_Id", c.client_id.clone()),
            ("client_secret", c.client_secret.clone()),
        ]
    }

    pub async fn token_response(&self, form: &[(&str, String)]) -> (StatusCode, Value) {
        let r = self
            .http
            .post(format!("{}/token", self.base))
            .form(form)
            .send()
            .await
            .unwrap();
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn token(&self) -> String {
        let (status, body) = self.token_response(&self.grant_form(PASSWORD)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["access_token"].as_str().unwrap().to_owned()
    }

    pub fn url(&self, path: &str) -> String {
        if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{}", self.base, path)
        }
    }

    pub async fn send(&self, request: reqwest::RequestBuilder) -> (StatusCode, Value) {
        let r = request.send().await.unwrap();
        let status = r.status();
        let text = r.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn get(&self, token: &str, path: &str) -> (StatusCode, Value) {
        self.send(self.http.get(self.url(path)).bearer_auth(token))
            .await
    }

    pub async fn post(&self, token: &str, path: &str, body: &Value) -> (StatusCode, Value) {
        self.send(self.http.post(self.url(path)).bearer_auth(token).json(body))
            .await
    }

    pub async fn put(&self, token: &str, path: &str, body: &Value) -> (StatusCode, Value) {
        self.send(self.http.put(self.url(path)).bearer_auth(token).json(body))
            .await
    }

    pub fn vision(&self) -> String {
        self.emulator.vision_base(&self.server)
    }
}

/// URL-encoded filterHash term.
pub fn term(i: usize, name: &str, opp: &str, value: &str, kind: &str) -> String {
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    format!(
        "filterHash[{i}][name]={}&filterHash[{i}][opp]={}&filterHash[{i}][value]={}&filterHash[{i}][type]={}&filterHash[{i}][seq]={i}",
        enc(name),
        enc(opp),
        enc(value),
        enc(kind)
    )
}

/// Rows of a bare-array body.
pub fn rows(body: &Value) -> &Vec<Value> {
    body.as_array()
        .unwrap_or_else(|| panic!("expected a bare JSON array, got {body}"))
}
