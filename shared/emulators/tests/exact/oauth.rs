//! OAuth: codes, token shape, 570-second rule, strict rotation, idle expiry, access-token expiry.

use reqwest::Method;

use crate::helpers::{CLIENT_ID, REDIRECT, spawn, spawn_with};

#[tokio::test]
async fn authorize_redirects_with_a_url_encoded_code_containing_a_bang_and_the_state() {
    let env = spawn().await;
    let r = env
        .http
        .get(format!("{}/api/oauth2/auth", env.base))
        .query(&[
            ("client_id", CLIENT_ID),
            ("redirect_uri", REDIRECT),
            ("response_type", "code"),
            ("state", "s-1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 302);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with(REDIRECT), "{location}");
    assert!(
        location.contains("%21"),
        "the ! in the code is percent-encoded: {location}"
    );
    let url = url::Url::parse(&location).unwrap();
    let code = url
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    assert!(code.contains('!'));
    assert_eq!(
        url.query_pairs().find(|(k, _)| k == "state").unwrap().1,
        "s-1"
    );
}

#[tokio::test]
async fn authorize_rejects_a_redirect_uri_that_is_not_registered() {
    let env = spawn().await;
    let r = env
        .http
        .get(format!("{}/api/oauth2/auth", env.base))
        .query(&[
            ("client_id", CLIENT_ID),
            ("redirect_uri", "https://evil.example/cb"),
            ("response_type", "code"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
}

#[tokio::test]
async fn the_code_exchange_returns_expires_in_as_the_string_600_and_the_code_is_single_use() {
    let env = spawn().await;
    let r = env
        .http
        .get(format!("{}/api/oauth2/auth", env.base))
        .query(&[
            ("client_id", CLIENT_ID),
            ("redirect_uri", REDIRECT),
            ("response_type", "code"),
        ])
        .send()
        .await
        .unwrap();
    let location = url::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
    let code = location
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();

    let (status, body) = env
        .token_call(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
        ])
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["expires_in"], "600");
    assert!(
        body["token_type"]
            .as_str()
            .unwrap()
            .eq_ignore_ascii_case("bearer")
    );
    assert!(body["refresh_token"].as_str().unwrap().contains('!'));
    assert!(!body["access_token"].as_str().unwrap().is_empty());

    let (again, body) = env
        .token_call(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
        ])
        .await;
    assert_eq!(again, 400);
    assert_eq!(body["error"], "invalid_grant");
}

#[tokio::test]
async fn an_authorization_code_older_than_three_minutes_is_refused() {
    let env = spawn().await;
    let code = env.emu.authorization_code(CLIENT_ID, None).unwrap();
    env.advance(181);
    let (status, body) = env
        .token_call(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
        ])
        .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_grant");
}

#[tokio::test]
async fn a_json_token_request_is_rejected_because_only_form_encoding_is_accepted() {
    let env = spawn().await;
    let r = env
        .http
        .post(format!("{}/api/oauth2/token", env.base))
        .json(&serde_json::json!({"grant_type": "refresh_token", "client_id": CLIENT_ID}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
}

#[tokio::test]
async fn a_wrong_client_secret_is_refused() {
    let env = spawn().await;
    let r = env
        .http
        .post(format!("{}/api/oauth2/token", env.base))
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", CLIENT_ID),
            ("client_secret", "nope"),
            ("refresh_token", "x"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
}

#[tokio::test]
async fn refreshing_before_570_seconds_is_refused_with_access_denied_and_the_reason_header() {
    let env = spawn().await;
    let tokens = env.oauth_tokens().await;
    env.advance(569);
    let (status, headers, body) = env
        .token_call_full(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ])
        .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "access_denied");
    assert_eq!(
        body["error_description"],
        "Rate limit exceeded: access_token not expired"
    );
    assert!(
        headers["reason"]
            .to_str()
            .unwrap()
            .starts_with("TooEarlyToRefreshTokens")
    );
    assert_eq!(env.emu.token_refreshes(CLIENT_ID), 0);
}

#[tokio::test]
async fn the_too_early_status_can_be_configured_to_401() {
    let env = spawn_with(|c| c.too_early_status = 401).await;
    let tokens = env.oauth_tokens().await;
    let (status, body) = env
        .token_call(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ])
        .await;
    assert_eq!(status, 401);
    assert_eq!(body["error"], "access_denied");
}

#[tokio::test]
async fn a_refresh_rotates_the_refresh_token_and_the_old_one_is_refused_afterwards() {
    let env = spawn().await;
    let first = env.oauth_tokens().await;
    let old = first["refresh_token"].as_str().unwrap().to_owned();
    env.advance(571);

    let (status, second) = env
        .token_call(&[("grant_type", "refresh_token"), ("refresh_token", &old)])
        .await;
    assert_eq!(status, 200, "{second}");
    assert_ne!(second["refresh_token"].as_str().unwrap(), old);
    assert_eq!(
        env.emu.token_refreshes(CLIENT_ID),
        1,
        "exactly one refresh counted"
    );

    env.advance(600);
    let (status, body) = env
        .token_call(&[("grant_type", "refresh_token"), ("refresh_token", &old)])
        .await;
    assert_eq!(status, 401);
    assert_eq!(
        body,
        serde_json::json!({"error": "unauthorized_client", "error_description": "Old refresh token used."})
    );
    assert_eq!(env.emu.token_refreshes(CLIENT_ID), 1);
}

#[tokio::test]
async fn a_refresh_token_unused_for_thirty_days_has_expired() {
    let env = spawn().await;
    let tokens = env.oauth_tokens().await;
    env.advance(31 * 24 * 3600);
    let (status, body) = env
        .token_call(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ])
        .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_request");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .starts_with("The refresh token expired at "),
        "{body}"
    );
}

#[tokio::test]
async fn an_access_token_works_for_600_seconds_and_then_gets_401() {
    let mut env = spawn().await;
    let tokens = env.oauth_tokens().await;
    env.token = tokens["access_token"].as_str().unwrap().to_owned();
    let ok = env
        .api(Method::GET, "financial/GLAccounts?$top=1")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status().as_u16(), 200);
    env.advance(600);
    let expired = env
        .api(Method::GET, "financial/GLAccounts?$top=1")
        .send()
        .await
        .unwrap();
    assert_eq!(expired.status().as_u16(), 401);
    assert!(
        expired.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("access token expired")
    );
}

#[tokio::test]
async fn me_lists_the_current_division_without_rate_limit_headers() {
    let env = spawn().await;
    let r = env
        .http
        .get(format!("{}/api/v1/current/Me", env.base))
        .bearer_auth(&env.token)
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.headers().get("x-ratelimit-remaining").is_none());
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        body["d"]["results"][0]["CurrentDivision"],
        crate::helpers::DIVISION
    );
    assert!(
        body["d"]["results"][0]["__metadata"]["uri"]
            .as_str()
            .unwrap()
            .contains("/api/v1/current/Me(guid'")
    );
    let anonymous = env
        .http
        .get(format!("{}/api/v1/current/Me", env.base))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);
}

#[tokio::test]
async fn in_grace_mode_the_previous_refresh_token_works_until_its_successor_is_used() {
    let mut env = spawn_with(|c| c.refresh_grace = true).await;
    let first = env.oauth_tokens().await;
    let old = first["refresh_token"].as_str().unwrap().to_owned();
    env.advance(571);
    // The response to this refresh is "lost": the client retries with the old token.
    let (status, lost) = env
        .token_call(&[("grant_type", "refresh_token"), ("refresh_token", &old)])
        .await;
    assert_eq!(status, 200);
    let (status, retried) = env
        .token_call(&[("grant_type", "refresh_token"), ("refresh_token", &old)])
        .await;
    assert_eq!(status, 200, "{retried}");
    let (status, body) = env
        .token_call(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", lost["refresh_token"].as_str().unwrap()),
        ])
        .await;
    assert_eq!(status, 401, "the lost pair was replaced: {body}");

    // Once the newest access token is used, the old refresh token is dead for good.
    env.token = retried["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        env.api(Method::GET, "financial/GLAccounts?$top=1")
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );
    let (status, body) = env
        .token_call(&[("grant_type", "refresh_token"), ("refresh_token", &old)])
        .await;
    assert_eq!(status, 401);
    assert_eq!(body["error_description"], "Old refresh token used.");
}

/// A token request that authenticates the client with HTTP Basic; `body` is the whole form (no client
/// credentials unless the test adds them).
async fn basic_token_call(
    env: &crate::helpers::Env,
    id: &str,
    secret: &str,
    body: &[(&str, &str)],
) -> (u16, serde_json::Value) {
    let r = env
        .http
        .post(format!("{}/api/oauth2/token", env.base))
        .basic_auth(id, Some(secret))
        .form(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(serde_json::Value::Null))
}

async fn fresh_code(env: &crate::helpers::Env) -> String {
    let r = env
        .http
        .get(format!("{}/api/oauth2/auth", env.base))
        .query(&[
            ("client_id", CLIENT_ID),
            ("redirect_uri", REDIRECT),
            ("response_type", "code"),
        ])
        .send()
        .await
        .unwrap();
    let location = url::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
    location
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned()
}

#[tokio::test]
async fn the_code_exchange_and_the_refresh_accept_client_credentials_in_the_body_and_as_http_basic()
{
    use crate::helpers::CLIENT_SECRET;
    let env = spawn().await;

    // Code exchange, credentials in the body.
    let body_tokens = env.oauth_tokens().await;
    assert!(body_tokens["access_token"].is_string());

    // Code exchange, credentials as Basic only (no client_id in the body).
    let code = fresh_code(&env).await;
    let (status, basic_tokens) = basic_token_call(
        &env,
        CLIENT_ID,
        CLIENT_SECRET,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await;
    assert_eq!(status, 200, "{basic_tokens}");
    assert_eq!(basic_tokens["expires_in"], "600");
    assert!(basic_tokens["refresh_token"].is_string());
    let access = basic_tokens["access_token"].as_str().unwrap();
    let me = env
        .http
        .get(format!("{}/api/v1/current/Me", env.base))
        .bearer_auth(access)
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(me.status().as_u16(), 200, "a Basic-issued token works");

    env.advance(571);
    // Refresh, credentials as Basic.
    let (status, refreshed) = basic_token_call(
        &env,
        CLIENT_ID,
        CLIENT_SECRET,
        &[
            ("grant_type", "refresh_token"),
            (
                "refresh_token",
                basic_tokens["refresh_token"].as_str().unwrap(),
            ),
        ],
    )
    .await;
    assert_eq!(status, 200, "{refreshed}");
    assert_ne!(refreshed["refresh_token"], basic_tokens["refresh_token"]);
    // Refresh, credentials in the body.
    let (status, refreshed_body) = env
        .token_call(&[
            ("grant_type", "refresh_token"),
            (
                "refresh_token",
                body_tokens["refresh_token"].as_str().unwrap(),
            ),
        ])
        .await;
    assert_eq!(status, 200, "{refreshed_body}");

    // Both forms with the same client: accepted (the client id may carry App-Center braces and any case).
    env.advance(571);
    let upper = format!("{{{}}}", CLIENT_ID.to_uppercase());
    let (status, both) = basic_token_call(
        &env,
        CLIENT_ID,
        CLIENT_SECRET,
        &[
            ("grant_type", "refresh_token"),
            (
                "refresh_token",
                refreshed["refresh_token"].as_str().unwrap(),
            ),
            ("client_id", &upper),
        ],
    )
    .await;
    assert_eq!(status, 200, "{both}");
}

#[tokio::test]
async fn basic_credentials_that_differ_from_the_body_or_are_wrong_or_malformed_are_refused() {
    use crate::helpers::CLIENT_SECRET;
    let env = spawn().await;
    let tokens = env.oauth_tokens().await;
    let rt = tokens["refresh_token"].as_str().unwrap().to_owned();
    env.advance(571);

    let (status, body) = basic_token_call(
        &env,
        CLIENT_ID,
        CLIENT_SECRET,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &rt),
            ("client_id", "00000000-0000-0000-0000-000000000001"),
        ],
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_request");

    let (status, body) = basic_token_call(
        &env,
        CLIENT_ID,
        CLIENT_SECRET,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &rt),
            ("client_id", CLIENT_ID),
            ("client_secret", "another-secret"),
        ],
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_request");

    let (status, body) = basic_token_call(
        &env,
        CLIENT_ID,
        "wrong-secret",
        &[("grant_type", "refresh_token"), ("refresh_token", &rt)],
    )
    .await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"], "invalid_client");

    let r = env
        .http
        .post(format!("{}/api/oauth2/token", env.base))
        .header("authorization", "Basic !!not-base64!!")
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", rt.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);

    // None of the refused calls consumed the refresh token.
    let (status, body) = basic_token_call(
        &env,
        CLIENT_ID,
        CLIENT_SECRET,
        &[("grant_type", "refresh_token"), ("refresh_token", &rt)],
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn the_token_endpoint_refuses_the_call_beyond_the_daily_limit_until_the_next_utc_day() {
    let env = crate::helpers::spawn_with(|c| c.token_calls_per_day = Some(3)).await;
    let tokens = env.oauth_tokens().await; // call 1
    let rt = tokens["refresh_token"].as_str().unwrap().to_owned();
    // Calls 2 and 3: refused for other reasons, but counted.
    for _ in 0..2 {
        let (status, _) = env
            .token_call(&[("grant_type", "refresh_token"), ("refresh_token", "nope")])
            .await;
        assert_eq!(status, 400);
    }
    env.advance(571);
    let (status, headers, body) = env
        .token_call_full(&[("grant_type", "refresh_token"), ("refresh_token", &rt)])
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "access_denied");
    assert!(
        headers["reason"]
            .to_str()
            .unwrap()
            .starts_with("TooManyTokenRequests")
    );
    // The refused call did not consume the refresh token: it works the next day.
    env.advance(24 * 3600);
    let (status, body) = env
        .token_call(&[("grant_type", "refresh_token"), ("refresh_token", &rt)])
        .await;
    assert_eq!(status, 200, "{body}");
}

/// Issue 20 item 5: every country site is served (by `Host`, or by a `/{site}` prefix), and codes and tokens
/// are bound to the site that issued them — elsewhere they are unknown (401 on the API, `invalid_grant` at the
/// token endpoint).
#[tokio::test]
async fn tokens_are_bound_to_the_country_site_that_issued_them() {
    let env = spawn().await;
    let form = |extra: &[(&'static str, String)]| {
        let mut f: Vec<(&'static str, String)> = vec![
            ("client_id", CLIENT_ID.to_owned()),
            ("client_secret", crate::helpers::CLIENT_SECRET.to_owned()),
        ];
        f.extend_from_slice(extra);
        f
    };
    // Consent and code exchange on the Belgian site (path prefix).
    let r = env
        .http
        .get(format!("{}/be/api/oauth2/auth", env.base))
        .query(&[
            ("client_id", CLIENT_ID),
            ("redirect_uri", REDIRECT),
            ("response_type", "code"),
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
    let exchange = form(&[
        ("grant_type", "authorization_code".into()),
        ("code", code.clone()),
        ("redirect_uri", REDIRECT.into()),
    ]);
    let dutch = env
        .http
        .post(format!("{}/api/oauth2/token", env.base))
        .form(&exchange)
        .send()
        .await
        .unwrap();
    let (status, body) = crate::helpers::status_json(dutch).await;
    assert_eq!(status, 400, "a Belgian code on the Dutch site: {body}");
    assert_eq!(body["error"], "invalid_grant");
    let belgian = env
        .http
        .post(format!("{}/be/api/oauth2/token", env.base))
        .form(&exchange)
        .send()
        .await
        .unwrap();
    let (status, tokens) = crate::helpers::status_json(belgian).await;
    assert_eq!(status, 200, "{tokens}");
    let access = tokens["access_token"].as_str().unwrap();

    // The Belgian token works on the Belgian site, by prefix or by Host, and nowhere else.
    let me = |url: String, host: Option<&'static str>| {
        let mut req = env
            .http
            .get(url)
            .bearer_auth(access)
            .header("accept", "application/json");
        if let Some(h) = host {
            req = req.header("host", h);
        }
        req.send()
    };
    let r = me(format!("{}/be/api/v1/current/Me", env.base), None)
        .await
        .unwrap();
    let (status, body) = crate::helpers::status_json(r).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body["d"]["results"][0]["__metadata"]["uri"]
            .as_str()
            .unwrap()
            .contains("/be/api/v1/current/Me"),
        "links keep the site: {body}"
    );
    let r = me(
        format!("{}/api/v1/current/Me", env.base),
        Some("start.exactonline.be"),
    )
    .await
    .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    for (url, host) in [
        (format!("{}/api/v1/current/Me", env.base), None),
        (format!("{}/de/api/v1/current/Me", env.base), None),
        (
            format!("{}/api/v1/current/Me", env.base),
            Some("start.exactonline.co.uk"),
        ),
        (
            format!(
                "{}/api/v1/{}/crm/Accounts?$filter=Name ne 'x'",
                env.base,
                crate::helpers::DIVISION
            ),
            None,
        ),
    ] {
        let r = me(url.clone(), host).await.unwrap();
        assert_eq!(r.status().as_u16(), 401, "{url} {host:?}");
    }
    let r = me(
        format!(
            "{}/be/api/v1/{}/crm/Accounts?$filter=Name ne 'x'",
            env.base,
            crate::helpers::DIVISION
        ),
        None,
    )
    .await
    .unwrap();
    assert_eq!(r.status().as_u16(), 200);

    // The refresh token too: unknown on the Dutch site, rotated on the Belgian one.
    env.advance(600);
    let refresh = form(&[
        ("grant_type", "refresh_token".into()),
        (
            "refresh_token",
            tokens["refresh_token"].as_str().unwrap().to_owned(),
        ),
    ]);
    let r = env
        .http
        .post(format!("{}/api/oauth2/token", env.base))
        .form(&refresh)
        .send()
        .await
        .unwrap();
    let (status, body) = crate::helpers::status_json(r).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_grant");
    let r = env
        .http
        .post(format!("{}/be/api/oauth2/token", env.base))
        .form(&refresh)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);

    // The admin surface issues tokens per site as well.
    let uk = env.emu.issue_tokens_on_site(CLIENT_ID, None, "uk").unwrap();
    let r = env
        .http
        .get(format!("{}/uk/api/v1/current/Me", env.base))
        .bearer_auth(&uk.access_token)
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(env.emu.issue_tokens_on_site(CLIENT_ID, None, "xx").is_err());
}

/// The binding is "[UNCERTAIN as a hard rule]" (§1.1): with `tokens_bound_to_site` off, a Belgian token and
/// refresh token work on the Dutch site too.
#[tokio::test]
async fn with_the_site_binding_switched_off_a_token_works_on_every_site() {
    let env = spawn_with(|c| c.tokens_bound_to_site = false).await;
    let be = env.emu.issue_tokens_on_site(CLIENT_ID, None, "be").unwrap();
    for url in [
        format!("{}/api/v1/current/Me", env.base),
        format!("{}/de/api/v1/current/Me", env.base),
    ] {
        let r = env
            .http
            .get(&url)
            .bearer_auth(&be.access_token)
            .header("accept", "application/json")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200, "{url}");
    }
    env.advance(600);
    let (status, body) = env
        .token_call(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &be.refresh_token),
        ])
        .await;
    assert_eq!(status, 200, "{body}");
}
