//! `spawn()` starts an emulator with one app, one user and one division, on a manual clock.

use std::time::Duration;

use chrono::{DateTime, Utc};
use ledgerlink_clock::ManualClock;
use ledgerlink_emulators::RunningServer;
use ledgerlink_emulators::exact::{AppRegistration, ExactConfig, ExactEmulator, UserSpec};
use reqwest::{Method, RequestBuilder, Response};
use serde_json::Value;

pub const DIVISION: i32 = 100;
pub const OTHER_DIVISION: i32 = 200;
pub const CLIENT_ID: &str = "b81cc4de-d192-400e-bcb4-09254394c52a";
pub const CLIENT_SECRET: &str = "s3cret-client";
pub const WEBHOOK_SECRET: &str = "whsec-123";
pub const REDIRECT: &str = "https://app.example/callback";

pub struct Env {
    pub emu: ExactEmulator,
    /// Kept alive for the test's duration (dropping it stops the server).
    _server: RunningServer,
    pub clock: ManualClock,
    pub base: String,
    pub http: reqwest::Client,
    pub token: String,
}

pub fn start_instant() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-06-15T10:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

pub async fn spawn() -> Env {
    spawn_with(|_| {}).await
}

pub async fn spawn_with(tweak: impl FnOnce(&mut ExactConfig)) -> Env {
    let clock = ManualClock::new(start_instant());
    let mut config = ExactConfig {
        clock: clock.shared(),
        ..ExactConfig::default()
    };
    tweak(&mut config);
    let emu = ExactEmulator::new(config);
    emu.create_app(AppRegistration {
        client_id: CLIENT_ID.into(),
        client_secret: CLIENT_SECRET.into(),
        webhook_secret: WEBHOOK_SECRET.into(),
        redirect_uri: REDIRECT.into(),
        name: "Ledgerlink tests".into(),
    });
    emu.create_division(DIVISION, "Test BV");
    emu.create_division(OTHER_DIVISION, "Not yours BV");
    emu.create_user(UserSpec {
        id: None,
        full_name: "Test User".into(),
        email: "t@example.invalid".into(),
        divisions: vec![DIVISION],
    });
    let server = emu.spawn().await.unwrap();
    let base = server.base_url();
    let http = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let token = emu.issue_tokens(CLIENT_ID, None).unwrap().access_token;
    Env {
        emu,
        _server: server,
        clock,
        base,
        http,
        token,
    }
}

impl Env {
    pub fn advance(&self, secs: u64) {
        self.clock.advance(Duration::from_secs(secs));
    }

    /// A new access token (after moving the clock past the old one's 600 s).
    pub fn renew_token(&mut self) {
        self.token = self.emu.issue_tokens(CLIENT_ID, None).unwrap().access_token;
    }

    /// A request to `/api/v1/{DIVISION}/{path}` with bearer and `Accept: application/json`.
    pub fn api(&self, method: Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, format!("{}/api/v1/{DIVISION}/{path}", self.base))
            .bearer_auth(&self.token)
            .header("accept", "application/json")
    }

    pub async fn get_json(&self, path: &str) -> (u16, Value) {
        let r = self.api(Method::GET, path).send().await.unwrap();
        status_json(r).await
    }

    pub async fn post_json(&self, path: &str, body: Value, representation: bool) -> (u16, Value) {
        let mut req = self.api(Method::POST, path).json(&body);
        if representation {
            req = req.header("prefer", "return=representation");
        }
        status_json(req.send().await.unwrap()).await
    }

    /// Runs the browser-less OAuth flow: authorize (auto-consent) then exchange the code.
    pub async fn oauth_tokens(&self) -> Value {
        let r = self
            .http
            .get(format!("{}/api/oauth2/auth", self.base))
            .query(&[
                ("client_id", CLIENT_ID),
                ("redirect_uri", REDIRECT),
                ("response_type", "code"),
                ("state", "xyz"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 302);
        let location = url::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
        let code = location
            .query_pairs()
            .find(|(k, _)| k == "code")
            .unwrap()
            .1
            .into_owned();
        let (status, body) = self
            .token_call(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
            ])
            .await;
        assert_eq!(status, 200, "{body}");
        body
    }

    pub async fn token_call(&self, extra: &[(&str, &str)]) -> (u16, Value) {
        let (status, _headers, body) = self.token_call_full(extra).await;
        (status, body)
    }

    pub async fn token_call_full(
        &self,
        extra: &[(&str, &str)],
    ) -> (u16, reqwest::header::HeaderMap, Value) {
        let mut form: Vec<(&str, &str)> =
            vec![("client_id", CLIENT_ID), ("client_secret", CLIENT_SECRET)];
        form.extend_from_slice(extra);
        let r = self
            .http
            .post(format!("{}/api/oauth2/token", self.base))
            .form(&form)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let body = r.json().await.unwrap_or(Value::Null);
        (status, headers, body)
    }

    /// Seeds a customer account and returns its ID.
    pub fn customer(&self, name: &str) -> String {
        self.emu
            .seed(
                DIVISION,
                "crm/Accounts",
                serde_json::json!({"Name": name, "Status": "C"}),
            )
            .unwrap()
    }

    pub fn supplier(&self, name: &str) -> String {
        self.emu
            .seed(
                DIVISION,
                "crm/Accounts",
                serde_json::json!({"Name": name, "IsSupplier": true}),
            )
            .unwrap()
    }

    /// ID of the GL account with this code (from the division template).
    pub fn gl(&self, code: &str) -> String {
        self.emu
            .entities(DIVISION, "financial/GLAccounts")
            .unwrap()
            .into_iter()
            .find(|r| r["Code"] == code)
            .map(|r| r["ID"].as_str().unwrap().to_owned())
            .unwrap()
    }

    pub fn sales_entry_body(&self, customer: &str, your_ref: &str, amount: &str) -> Value {
        serde_json::json!({
            "Journal": "70", "Customer": customer, "EntryDate": "2026-05-13T00:00:00", "YourRef": your_ref,
            "Description": format!("{your_ref} - test"), "Currency": "EUR",
            "SalesEntryLines": [{"GLAccount": self.gl("8000"), "AmountFC": amount, "VATCode": "2  ", "Description": "Consulting"}]
        })
    }
}

pub async fn status_json(r: Response) -> (u16, Value) {
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// The `error.message.value` of an Exact error envelope.
pub fn error_message(body: &Value) -> String {
    body["error"]["message"]["value"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Follows `__next` links, returning each page's result count.
pub async fn page_sizes(env: &Env, first: &str) -> (Vec<usize>, Vec<String>) {
    let mut sizes = Vec::new();
    let mut nexts = Vec::new();
    let mut url = format!("{}/api/v1/{DIVISION}/{first}", env.base);
    loop {
        let r = env
            .http
            .get(&url)
            .bearer_auth(&env.token)
            .header("accept", "application/json")
            .send()
            .await
            .unwrap();
        let (status, body) = status_json(r).await;
        assert_eq!(status, 200, "{body}");
        sizes.push(body["d"]["results"].as_array().unwrap().len());
        match body["d"]["__next"].as_str() {
            Some(n) => {
                nexts.push(n.to_owned());
                url = n.to_owned();
            }
            None => break,
        }
        assert!(sizes.len() < 50, "paging does not end");
    }
    (sizes, nexts)
}
