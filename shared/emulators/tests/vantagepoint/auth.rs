use std::time::Duration;

use reqwest::StatusCode;

use crate::helpers::*;

#[tokio::test]
async fn a_password_grant_returns_a_bearer_token_that_opens_the_api() {
    let vp = spawn().await;

    let (status, body) = vp.token_response(&vp.grant_form(PASSWORD)).await;

    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 1799);
    assert!(
        body["refresh_token"]
            .as_str()
            .is_some_and(|t| !t.is_empty())
    );
    let (status, _) = vp
        .get(body["access_token"].as_str().unwrap(), "/firm")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(vp.emulator.token_stats().password_grants, 1);
}

#[tokio::test]
async fn token_form_keys_are_matched_case_insensitively() {
    let vp = spawn().await;
    let lowered: Vec<(&str, String)> = vp
        .grant_form(PASSWORD)
        .into_iter()
        .map(|(k, v)| {
            (
                match k {
                    "Username" => "username",
                    "Password" => "password",
                    "Client_Id" => "client_id",
                    other => other,
                },
                v,
            )
        })
        .collect();

    let (status, body) = vp.token_response(&lowered).await;

    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn a_wrong_password_is_an_oauth_invalid_grant() {
    let vp = spawn().await;

    let (status, body) = vp.token_response(&vp.grant_form("wrong")).await;

    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");
    assert!(body["error_description"].as_str().is_some());
    assert_eq!(vp.emulator.token_stats().failed_grants, 1);
}

#[tokio::test]
async fn a_wrong_client_secret_is_refused_even_with_the_right_password() {
    let vp = spawn().await;
    let mut form = vp.grant_form(PASSWORD);
    form.retain(|(k, _)| *k != "client_secret");
    form.push(("client_secret", "not-the-secret".into()));

    let (status, body) = vp.token_response(&form).await;

    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");
}

#[tokio::test]
async fn a_refresh_grant_issues_a_new_token_and_is_counted() {
    let vp = spawn().await;
    let (_, first) = vp.token_response(&vp.grant_form(PASSWORD)).await;
    let c = vp.emulator.config();
    let form = vec![
        ("grant_type", "refresh_token".to_owned()),
        (
            "refresh_token",
            first["refresh_token"].as_str().unwrap().to_owned(),
        ),
        ("database", c.database.clone()),
        ("client_id", c.client_id.clone()),
        ("client_secret", c.client_secret.clone()),
    ];

    let (status, refreshed) = vp.token_response(&form).await;
    let (replay_status, replay) = vp.token_response(&form).await;

    assert_eq!(status, StatusCode::OK, "{refreshed}");
    assert_ne!(refreshed["access_token"], first["access_token"]);
    assert_eq!(vp.emulator.token_stats().refresh_grants, 1);
    assert_eq!(
        replay_status,
        StatusCode::BAD_REQUEST,
        "a rotated refresh token cannot be replayed"
    );
    assert_eq!(replay["error"], "invalid_grant");
}

#[tokio::test]
async fn an_expired_bearer_is_refused_with_401() {
    let vp = spawn().await;
    let token = vp.token().await;

    vp.clock.advance(Duration::from_secs(1800));
    let (status, body) = vp.get(&token, "/firm").await;

    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        body["Message"],
        "Authorization has been denied for this request."
    );
}

#[tokio::test]
async fn a_call_without_or_with_an_unknown_bearer_is_refused_with_401() {
    let vp = spawn().await;

    let (missing, _) = vp.send(vp.http.get(format!("{}/firm", vp.base))).await;
    let (unknown, _) = vp.get("not-a-token", "/PSALedger/IN").await;

    assert_eq!(missing, StatusCode::UNAUTHORIZED);
    assert_eq!(unknown, StatusCode::UNAUTHORIZED);
    assert_eq!(vp.emulator.token_stats().unauthorized_calls, 2);
}

#[tokio::test]
async fn the_authorization_code_flow_redirects_with_a_one_time_code() {
    let vp = spawn().await;
    let c = vp.emulator.config().clone();
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let callback = "https://app.example.com/callback";

    let (page, _) = vp
        .send(vp.http.get(format!(
            "{}/authorize?client_id={}&state=s1",
            vp.base, c.client_id
        )))
        .await;
    let login = no_redirects
        .post(format!("{}/authorize", vp.base))
        .form(&[
            ("client_id", c.client_id.as_str()),
            ("redirect_uri", callback),
            ("state", "s1"),
            ("username", USER),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    let location = url::Url::parse(login.headers()["location"].to_str().unwrap()).unwrap();
    let code = location
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let form = vec![
        ("grant_type", "authorization_code".to_owned()),
        ("code", code),
        ("redirect_uri", callback.to_owned()),
        ("client_id", c.client_id.clone()),
        ("client_secret", c.client_secret.clone()),
    ];
    let (status, token) = vp.token_response(&form).await;
    let (replay, _) = vp.token_response(&form).await;

    assert_eq!(page, StatusCode::OK);
    assert!(login.status().is_redirection());
    assert!(location.as_str().starts_with(callback));
    assert!(
        location
            .query_pairs()
            .any(|(k, v)| k == "state" && v == "s1")
    );
    assert_eq!(status, StatusCode::OK, "{token}");
    assert_eq!(token["token_type"], "bearer");
    assert_eq!(replay, StatusCode::BAD_REQUEST);
    assert_eq!(vp.emulator.token_stats().authorization_code_grants, 1);
}

#[tokio::test]
async fn instance_paths_are_configurable() {
    let vp = spawn_with(ledgerlink_emulators::vantagepoint::VantagepointConfig {
        instance_path: "Pennoni".into(),
        ..Default::default()
    })
    .await;

    let token = vp.token().await;
    let (status, _) = vp.get(&token, "/firm").await;

    assert!(vp.base.ends_with("/Pennoni/api"));
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn regenerating_the_client_secret_breaks_issued_tokens_and_the_old_secret() {
    let vp = spawn().await;
    let token = vp.token().await;

    let secret = vp.emulator.regenerate_client_secret();
    let (old_token, _) = vp.get(&token, "/firm").await;
    let (old_secret, _) = vp.token_response(&vp.grant_form(PASSWORD)).await;
    let mut form = vp.grant_form(PASSWORD);
    form.retain(|(k, _)| *k != "client_secret");
    form.push(("client_secret", secret));
    let (new_secret, _) = vp.token_response(&form).await;

    assert_eq!(old_token, StatusCode::UNAUTHORIZED);
    assert_eq!(old_secret, StatusCode::BAD_REQUEST);
    assert_eq!(new_secret, StatusCode::OK);
}
