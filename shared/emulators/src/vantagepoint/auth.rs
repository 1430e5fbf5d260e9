//! `POST {root}/api/token` (password and refresh_token grants, form-encoded, keys case-insensitive) and the
//! bearer check every other API call passes through.

use std::collections::HashMap;

use axum::extract::{RawQuery, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use bytes::Bytes;
use chrono::Duration;
use rand::RngCore;
use serde_json::json;

use super::App;
use super::db::Grant;
use super::error::VpError;

/// Whether the session's `culture` differs from the database language: VP then shows "Text not translated"
/// for tax-code and account names (a documented Unionpoint pitfall).
#[derive(Debug, Clone, Copy)]
pub(crate) struct CultureMismatch(pub bool);

/// The user a bearer token belongs to, for handlers (the active period is per user).
#[derive(Debug, Clone)]
pub(crate) struct AuthUser(pub String);

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        axum::Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

/// Constant-time comparison of secrets (no early exit on the first differing byte).
fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut diff = a.len() ^ b.len();
    for i in 0..a.len().max(b.len()) {
        diff |= usize::from(a.get(i).copied().unwrap_or(0) ^ b.get(i).copied().unwrap_or(0));
    }
    diff == 0
}

/// `POST /api/token`.
pub(crate) async fn token(State(app): State<App>, body: Bytes) -> Response {
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body)
        .map(|(k, v)| (k.to_ascii_lowercase(), v.into_owned()))
        .collect();
    let get = |k: &str| form.get(k).map(|v| v.trim().to_owned()).unwrap_or_default();
    let now = app.now();
    let config = &app.config;
    let mut db = app.db.lock();
    macro_rules! fail {
        ($status:expr, $error:expr, $description:expr) => {{
            db.token_stats.failed_grants += 1;
            return oauth_error($status, $error, $description);
        }};
    }
    let grant_type = get("grant_type");
    if grant_type.is_empty() {
        fail!(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "grant_type is required."
        );
    }
    if !same_secret(&get("client_id"), &config.client_id)
        || !same_secret(&get("client_secret"), &db.client_secret)
    {
        fail!(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "The client id or client secret is invalid."
        );
    }
    let database = get("database");
    if !database.is_empty() && !database.eq_ignore_ascii_case(&config.database) {
        fail!(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "The database is invalid."
        );
    }
    let (username, inherited_culture) = match grant_type.to_ascii_lowercase().as_str() {
        "password" => {
            if !config.allow_password_grant {
                fail!(
                    StatusCode::BAD_REQUEST,
                    "unsupported_grant_type",
                    "The password grant type is not allowed."
                );
            }
            if database.is_empty() {
                fail!(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "database is required."
                );
            }
            if get("integrated").eq_ignore_ascii_case("y") {
                fail!(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "Integrated authentication is not enabled."
                );
            }
            let username = get("username");
            let password = form.get("password").cloned().unwrap_or_default();
            let user = db.users.get(&username.to_lowercase()).cloned();
            match user {
                Some(u) if same_secret(&password, &u.password) && !u.disabled => (u.username, None),
                Some(u) if u.disabled && same_secret(&password, &u.password) => {
                    fail!(
                        StatusCode::BAD_REQUEST,
                        "invalid_grant",
                        "The user account is disabled."
                    );
                }
                _ => fail!(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "The user name or password is incorrect."
                ),
            }
        }
        "refresh_token" => {
            let presented = get("refresh_token");
            let grant = db.refresh_tokens.get(&presented).cloned();
            match grant {
                Some(g) if g.expires_at > now => {
                    if config.rotate_refresh_tokens {
                        db.refresh_tokens.remove(&presented);
                    }
                    (g.username, g.culture)
                }
                _ => fail!(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "The refresh token is invalid or expired."
                ),
            }
        }
        "authorization_code" => {
            let code = get("code");
            match db.auth_codes.remove(&code) {
                Some((g, redirect))
                    if g.expires_at > now
                        && (get("redirect_uri").is_empty() || get("redirect_uri") == redirect) =>
                {
                    (g.username, g.culture)
                }
                _ => fail!(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "The authorization code is invalid, expired or already used."
                ),
            }
        }
        _ => fail!(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "The grant type is not supported."
        ),
    };
    match grant_type.to_ascii_lowercase().as_str() {
        "password" => db.token_stats.password_grants += 1,
        "refresh_token" => db.token_stats.refresh_grants += 1,
        _ => db.token_stats.authorization_code_grants += 1,
    }
    let culture = Some(get("culture"))
        .filter(|c| !c.is_empty())
        .or(inherited_culture);
    let access = random_token(48);
    let refresh = random_token(24);
    let lifetime = i64::from(config.token_lifetime_secs);
    db.tokens.insert(
        access.clone(),
        Grant {
            username: username.clone(),
            expires_at: now + Duration::seconds(lifetime),
            culture: culture.clone(),
        },
    );
    let is_refresh = grant_type.eq_ignore_ascii_case("refresh_token");
    let refresh = if is_refresh && !config.rotate_refresh_tokens {
        get("refresh_token")
    } else {
        let expires_at = now + Duration::seconds(i64::from(config.refresh_token_lifetime_secs));
        db.refresh_tokens.insert(
            refresh.clone(),
            Grant {
                username,
                expires_at,
                culture,
            },
        );
        refresh
    };
    let body = json!({"access_token": access, "token_type": "bearer", "expires_in": lifetime, "refresh_token": refresh});
    let mut response = (StatusCode::OK, axum::Json(body)).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    response
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `GET {root}/api/authorize` [I: path not documented]: the login page of the authorization-code flow.
pub(crate) async fn authorize_page(RawQuery(query): RawQuery) -> Response {
    let params: HashMap<String, String> =
        url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .map(|(k, v)| (k.to_ascii_lowercase(), v.into_owned()))
            .collect();
    let hidden: String = ["client_id", "redirect_uri", "state", "response_type"]
        .iter()
        .map(|k| {
            let value = params.get(*k).map(String::as_str).unwrap_or_default();
            format!(
                "<input type=\"hidden\" name=\"{k}\" value=\"{}\">",
                html_escape(value)
            )
        })
        .collect();
    let page = format!(
        "<!doctype html><html><body><h1>Vantagepoint emulator sign-in</h1><form method=\"post\">{hidden}\
         <label>Username <input name=\"username\"></label><label>Password <input type=\"password\" name=\"password\"></label>\
         <button type=\"submit\">Sign in</button></form></body></html>"
    );
    axum::response::Html(page).into_response()
}

/// `POST {root}/api/authorize`: checks the login and redirects to `redirect_uri?code=...&state=...`.
pub(crate) async fn authorize_submit(State(app): State<App>, body: Bytes) -> Response {
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body)
        .map(|(k, v)| (k.to_ascii_lowercase(), v.into_owned()))
        .collect();
    let get = |k: &str| form.get(k).map(|v| v.trim().to_owned()).unwrap_or_default();
    let redirect = get("redirect_uri");
    let parsed = url::Url::parse(&redirect);
    let (true, Ok(mut location)) = (
        same_secret(&get("client_id"), &app.config.client_id),
        parsed,
    ) else {
        return (
            StatusCode::BAD_REQUEST,
            "Unknown client or invalid redirect_uri.",
        )
            .into_response();
    };
    let now = app.now();
    let code = random_token(24);
    {
        let mut db = app.db.lock();
        let user = db.users.get(&get("username").to_lowercase()).cloned();
        let password = form.get("password").cloned().unwrap_or_default();
        let Some(user) = user.filter(|u| !u.disabled && same_secret(&password, &u.password)) else {
            db.token_stats.failed_grants += 1;
            return (
                StatusCode::UNAUTHORIZED,
                "The user name or password is incorrect.",
            )
                .into_response();
        };
        let grant = Grant {
            username: user.username,
            expires_at: now + Duration::minutes(10),
            culture: Some(get("culture")).filter(|c| !c.is_empty()),
        };
        db.auth_codes
            .insert(code.clone(), (grant, redirect.clone()));
    }
    location.query_pairs_mut().append_pair("code", &code);
    let state = get("state");
    if !state.is_empty() {
        location.query_pairs_mut().append_pair("state", &state);
    }
    axum::response::Redirect::to(location.as_str()).into_response()
}

/// Middleware: refuses calls without a valid, unexpired bearer token (401), else records the user.
pub(crate) async fn require_bearer(
    State(app): State<App>,
    mut request: Request,
    next: Next,
) -> Response {
    let token = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim().to_owned());
    let now = app.now();
    let user = {
        let mut db = app.db.lock();
        let user = token.and_then(|t| {
            db.tokens
                .get(&t)
                .filter(|g| g.expires_at > now)
                .map(|g| (g.username.clone(), g.culture.clone()))
        });
        let read_only = user.as_ref().is_some_and(|(name, _)| {
            db.users
                .get(&name.to_lowercase())
                .is_some_and(|u| u.read_only)
        });
        if read_only && matches!(*request.method(), Method::PUT | Method::DELETE) {
            return VpError::Forbidden(format!(
                "You do not have rights to {} this record.",
                if *request.method() == Method::PUT {
                    "change"
                } else {
                    "delete"
                }
            ))
            .into_response();
        }
        if user.is_none() {
            db.token_stats.unauthorized_calls += 1;
        }
        user
    };
    match user {
        Some((user, culture)) => {
            let mismatched = culture.is_some_and(|c| !c.eq_ignore_ascii_case(&app.config.culture));
            request.extensions_mut().insert(AuthUser(user));
            request.extensions_mut().insert(CultureMismatch(mismatched));
            next.run(request).await
        }
        None => VpError::Unauthorized.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_compare_equal_only_when_identical() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "abcd"));
        assert!(!same_secret("", "a"));
    }
}
