//! Rate limits per (client, division), their headers, 429 families, and the error budget.

use reqwest::Method;

use crate::helpers::{OTHER_DIVISION, error_message, spawn, spawn_with};

const FAMILY_DAILY: [&str; 3] = [
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
];
const FAMILY_MINUTELY: [&str; 3] = [
    "x-ratelimit-minutely-limit",
    "x-ratelimit-minutely-remaining",
    "x-ratelimit-minutely-reset",
];

#[tokio::test]
async fn every_division_scoped_response_carries_the_six_rate_limit_headers_with_epoch_millisecond_resets()
 {
    let env = spawn().await;
    let r = env
        .api(Method::GET, "financial/GLAccounts?$select=ID")
        .send()
        .await
        .unwrap();
    for h in FAMILY_DAILY.iter().chain(FAMILY_MINUTELY.iter()) {
        assert!(r.headers().get(*h).is_some(), "missing {h}");
    }
    let h = |n: &str| r.headers()[n].to_str().unwrap().parse::<i64>().unwrap();
    assert_eq!(h("x-ratelimit-limit"), 5000);
    assert_eq!(h("x-ratelimit-remaining"), 4999);
    assert_eq!(h("x-ratelimit-minutely-limit"), 60);
    assert_eq!(h("x-ratelimit-minutely-remaining"), 59);
    // 2026-06-15T10:00:00Z → next minute 10:01:00Z, next day 2026-06-16T00:00:00Z.
    assert_eq!(h("x-ratelimit-minutely-reset"), 1_781_517_660_000);
    assert_eq!(h("x-ratelimit-reset"), 1_781_568_000_000);

    // Errors carry them too.
    let bad = env.api(Method::GET, "crm/Accounts").send().await.unwrap();
    assert_eq!(bad.status().as_u16(), 400);
    assert_eq!(bad.headers()["x-ratelimit-minutely-remaining"], "58");
}

#[tokio::test]
async fn the_minutely_limit_answers_429_with_only_the_minutely_headers_until_the_next_calendar_minute()
 {
    let env = spawn_with(|c| c.minutely_limit = 3).await;
    for _ in 0..3 {
        assert_eq!(
            env.api(Method::GET, "financial/GLAccounts?$select=ID")
                .send()
                .await
                .unwrap()
                .status()
                .as_u16(),
            200
        );
    }
    let r = env
        .api(Method::GET, "financial/GLAccounts?$select=ID")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 429);
    for h in FAMILY_MINUTELY {
        assert!(r.headers().get(h).is_some(), "missing {h}");
    }
    for h in FAMILY_DAILY {
        assert!(r.headers().get(h).is_none(), "unexpected {h}");
    }
    assert_eq!(r.headers()["x-ratelimit-minutely-remaining"], "0");

    env.advance(60);
    assert_eq!(
        env.api(Method::GET, "financial/GLAccounts?$select=ID")
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );
}

#[tokio::test]
async fn the_daily_limit_answers_429_with_only_the_daily_headers() {
    let mut env = spawn_with(|c| c.daily_limit = 2).await;
    for _ in 0..2 {
        assert_eq!(
            env.api(Method::GET, "financial/GLAccounts?$select=ID")
                .send()
                .await
                .unwrap()
                .status()
                .as_u16(),
            200
        );
    }
    let r = env
        .api(Method::GET, "financial/GLAccounts?$select=ID")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 429);
    for h in FAMILY_DAILY {
        assert!(r.headers().get(h).is_some(), "missing {h}");
    }
    for h in FAMILY_MINUTELY {
        assert!(r.headers().get(h).is_none(), "unexpected {h}");
    }
    env.advance(24 * 3600);
    env.renew_token();
    assert_eq!(
        env.api(Method::GET, "financial/GLAccounts?$select=ID")
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );
}

#[tokio::test]
async fn current_me_is_not_counted_against_the_limits() {
    let env = spawn_with(|c| c.minutely_limit = 1).await;
    for _ in 0..3 {
        let r = env
            .http
            .get(format!("{}/api/v1/current/Me", env.base))
            .bearer_auth(&env.token)
            .header("accept", "application/json")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
    }
    assert_eq!(
        env.api(Method::GET, "financial/GLAccounts?$select=ID")
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );
}

#[tokio::test]
async fn ten_errors_on_one_endpoint_within_an_hour_block_that_endpoint_for_an_hour() {
    let mut env = spawn_with(|c| c.minutely_limit = 1000).await;
    let missing = "crm/Accounts(guid'00000000-0000-0000-0000-000000000001')";
    for _ in 0..10 {
        assert_eq!(
            env.api(Method::GET, missing)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16(),
            404
        );
    }
    // Now even a valid request to the same endpoint is refused...
    let blocked = env
        .api(Method::GET, "crm/Accounts?$filter=Name eq 'x'")
        .send()
        .await
        .unwrap();
    assert_eq!(blocked.status().as_u16(), 429);
    assert!(
        blocked
            .headers()
            .get("x-ratelimit-minutely-remaining")
            .is_none()
    );
    let body: serde_json::Value = blocked.json().await.unwrap();
    assert!(error_message(&body).contains("errors"), "{body}");
    // ...while another endpoint still works.
    assert_eq!(
        env.api(Method::GET, "financial/GLAccounts?$select=ID")
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );

    env.advance(3601);
    env.renew_token();
    assert_eq!(
        env.api(Method::GET, "crm/Accounts?$filter=Name eq 'x'")
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );
}

#[tokio::test]
async fn a_division_the_user_has_no_access_to_answers_403() {
    let env = spawn().await;
    let r = env
        .http
        .get(format!(
            "{}/api/v1/{OTHER_DIVISION}/financial/GLAccounts?$select=ID",
            env.base
        ))
        .bearer_auth(&env.token)
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(error_message(&body).contains("division scope"));
}

#[tokio::test]
async fn a_request_without_a_bearer_token_answers_401() {
    let env = spawn().await;
    let r = env
        .http
        .get(format!(
            "{}/api/v1/100/financial/GLAccounts?$select=ID",
            env.base
        ))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
}
