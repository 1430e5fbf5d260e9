//! OAuth 2.0 as Exact runs it: `/api/oauth2/auth` (auto-consent: 302 back to the redirect URI with `code` and
//! `state`) and `/api/oauth2/token` (form-encoded only; `authorization_code` and `refresh_token` grants; the
//! client authenticates with `client_id`/`client_secret` in the body or with HTTP Basic, RFC 6749 §2.3.1).
//!
//! Rules: codes are single use and live 3 minutes; access tokens live 600 s and `expires_in` is the string
//! `"600"`; every refresh rotates the refresh token and the previous one is dead at once (strict rotation) →
//! 401 `unauthorized_client` "Old refresh token used."; a refresh before 570 s → 400 (configurable 401)
//! `access_denied` "Rate limit exceeded: access_token not expired" with a `Reason` header; a refresh token
//! unused for 30 days → 400 `invalid_request` "The refresh token expired at ...".

use std::sync::Arc;

use axum::Extension;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use uuid::Uuid;

use super::site::{self, SitePrefix};
use super::store::{AccessGrant, AuthCode, RefreshGrant, Store, norm_client};
use super::{ExactEmulatorError, Shared, TokenPair};

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        axum::Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

/// The user who consents: the given one, or the first user created.
pub(crate) fn consent_user(st: &Store, user: Option<Uuid>) -> Option<Uuid> {
    match user {
        Some(u) => st.users.contains_key(&u).then_some(u),
        None => st.user_order.first().copied(),
    }
}

pub(crate) fn issue_code(
    st: &mut Store,
    client_id: &str,
    user: Option<Uuid>,
    redirect_uri: Option<&str>,
    site: &'static str,
    now: DateTime<Utc>,
    ttl_secs: i64,
) -> Result<String, ExactEmulatorError> {
    let app = st
        .apps
        .get(&norm_client(client_id))
        .cloned()
        .ok_or(ExactEmulatorError::UnknownClient)?;
    let user = consent_user(st, user).ok_or(ExactEmulatorError::UnknownUser)?;
    let code = st.token(48, true);
    st.codes.insert(
        code.clone(),
        AuthCode {
            client_id: app.client_id,
            site,
            user,
            redirect_uri: redirect_uri.unwrap_or(&app.redirect_uri).to_owned(),
            expires_at: now + Duration::seconds(ttl_secs),
            used: false,
        },
    );
    Ok(code)
}

pub(crate) fn issue_pair(
    st: &mut Store,
    client_id: &str,
    user: Uuid,
    site: &'static str,
    now: DateTime<Utc>,
    ttl_secs: i64,
) -> TokenPair {
    let access = st.token(96, false);
    let refresh = st.token(72, true);
    st.access.insert(
        access.clone(),
        AccessGrant {
            client_id: client_id.to_owned(),
            site,
            user,
            expires_at: now + Duration::seconds(ttl_secs),
            refresh: refresh.clone(),
        },
    );
    st.refresh.insert(
        refresh.clone(),
        RefreshGrant {
            client_id: client_id.to_owned(),
            site,
            user,
            issued_at: now,
            superseded: false,
            successor: None,
            used: false,
        },
    );
    TokenPair {
        access_token: access,
        refresh_token: refresh,
    }
}

fn token_response(pair: &TokenPair, ttl_secs: i64) -> Response {
    let mut r = axum::Json(json!({
        "access_token": pair.access_token,
        "token_type": "bearer",
        "expires_in": ttl_secs.to_string(),
        "refresh_token": pair.refresh_token,
    }))
    .into_response();
    r.headers_mut()
        .insert("cache-control", HeaderValue::from_static("no-store"));
    r
}

/// `GET /api/oauth2/auth`: the consent screen, auto-accepted.
pub(crate) async fn authorize(
    State(sh): State<Arc<Shared>>,
    Extension(prefix): Extension<SitePrefix>,
    headers: HeaderMap,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let site = site::resolve(prefix, &headers);
    let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let Some(client_id) = get("client_id") else {
        return (StatusCode::BAD_REQUEST, "client_id is missing").into_response();
    };
    let now = sh.now();
    let mut st = sh.store.lock();
    let Some(app) = st.apps.get(&norm_client(&client_id)).cloned() else {
        return (StatusCode::BAD_REQUEST, "Unknown client_id").into_response();
    };
    let redirect = get("redirect_uri").unwrap_or_else(|| app.redirect_uri.clone());
    if redirect != app.redirect_uri {
        return (
            StatusCode::BAD_REQUEST,
            "The redirect_uri does not match the registered redirect URI",
        )
            .into_response();
    }
    if get("response_type").is_some_and(|t| t != "code") {
        return (
            StatusCode::BAD_REQUEST,
            "Only response_type=code is emulated",
        )
            .into_response();
    }
    let user = get("emulator_user").and_then(|u| Uuid::parse_str(&u).ok());
    let code = match issue_code(
        &mut st,
        &client_id,
        user,
        Some(&redirect),
        site,
        now,
        sh.config.code_ttl_secs,
    ) {
        Ok(c) => c,
        Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    };
    drop(st);
    let Ok(mut url) = url::Url::parse(&redirect) else {
        return (
            StatusCode::BAD_REQUEST,
            "The redirect_uri is not a valid URL",
        )
            .into_response();
    };
    {
        let mut pairs = url.query_pairs_mut();
        pairs.append_pair("code", &code);
        if let Some(state) = get("state") {
            pairs.append_pair("state", &state);
        }
    }
    let mut r = StatusCode::FOUND.into_response();
    if let Ok(v) = HeaderValue::from_str(url.as_str()) {
        r.headers_mut().insert("location", v);
    }
    r
}

/// The client's id and secret from the body (`client_id`, `client_secret`) or from HTTP Basic
/// (`Authorization: Basic base64(urlencode(id):urlencode(secret))`, RFC 6749 §2.3.1). Both forms may be sent
/// together only when they name the same client with the same secret; a request whose Basic credentials differ
/// from the body's is refused with 400 `invalid_request`, as is a malformed Basic header (401 `invalid_client`).
/// `Ok(None)`: no client id anywhere.
#[allow(clippy::type_complexity)]
fn client_credentials(
    headers: &HeaderMap,
    body_id: Option<String>,
    body_secret: Option<String>,
) -> Result<Option<(String, Option<String>)>, Response> {
    use base64::Engine as _;
    let basic = match headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
    {
        Some(v) if v.len() > 6 && v[..6].eq_ignore_ascii_case("basic ") => {
            let malformed = || {
                oauth_error(
                    StatusCode::UNAUTHORIZED,
                    "invalid_client",
                    "The Basic authorization header is malformed.",
                )
            };
            let raw = base64::engine::general_purpose::STANDARD
                .decode(v[6..].trim())
                .map_err(|_| malformed())?;
            let text = String::from_utf8(raw).map_err(|_| malformed())?;
            let (id, secret) = text.split_once(':').ok_or_else(malformed)?;
            // RFC 6749 §2.3.1: both parts are form-urlencoded before base64.
            let decode = |s: &str| -> String {
                url::form_urlencoded::parse(format!("x={s}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default()
            };
            let id = decode(id);
            if id.is_empty() {
                return Err(malformed());
            }
            Some((id, decode(secret)))
        }
        Some(v) if !v.is_empty() => {
            return Err(oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "Only Basic client authentication is accepted in the Authorization header.",
            ));
        }
        _ => None,
    };
    match basic {
        None => Ok(body_id.map(|id| (id, body_secret))),
        Some((id, secret)) => {
            let differs = body_id
                .as_deref()
                .is_some_and(|b| norm_client(b) != norm_client(&id))
                || body_secret.as_deref().is_some_and(|b| {
                    !bool::from(subtle::ConstantTimeEq::ct_eq(
                        b.as_bytes(),
                        secret.as_bytes(),
                    ))
                });
            if differs {
                return Err(oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "The client credentials in the Authorization header and in the body differ.",
                ));
            }
            Ok(Some((id, Some(secret))))
        }
    }
}

/// `POST /api/oauth2/token`.
pub(crate) async fn token(
    State(sh): State<Arc<Shared>>,
    Extension(prefix): Extension<SitePrefix>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let site = site::resolve(prefix, &headers);
    if method != Method::POST {
        return StatusCode::METHOD_NOT_ALLOWED.into_response();
    }
    let form_encoded = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        });
    if !form_encoded {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "The request must be application/x-www-form-urlencoded.",
        );
    }
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let now = sh.now();
    let cfg = &sh.config;
    let mut st = sh.store.lock();
    let credentials = match client_credentials(&headers, get("client_id"), get("client_secret")) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let Some((client_id, client_secret)) = credentials else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "client_id is missing.",
        );
    };
    let client_id = norm_client(&client_id);
    *st.token_calls.entry(client_id.clone()).or_default() += 1;
    let today = st
        .token_calls_per_day
        .entry((client_id.clone(), now.date_naive()))
        .or_default();
    *today += 1;
    if let Some(limit) = cfg.token_calls_per_day
        && *today > limit
    {
        let mut r = oauth_error(
            StatusCode::BAD_REQUEST,
            "access_denied",
            &format!("Rate limit exceeded: more than {limit} token requests today"),
        );
        r.headers_mut().insert(
            "reason",
            HeaderValue::from_static(
                "TooManyTokenRequests: Rate limit exceeded: maximum token requests per day",
            ),
        );
        return r;
    }
    let Some(app) = st.apps.get(&client_id).cloned() else {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Unknown client.",
        );
    };
    let secret_ok = client_secret.is_some_and(|s| {
        subtle::ConstantTimeEq::ct_eq(s.as_bytes(), app.client_secret.as_bytes()).into()
    });
    if !secret_ok {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Invalid client credentials.",
        );
    }
    match get("grant_type").as_deref() {
        Some("authorization_code") => {
            let Some(code) = get("code") else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "code is missing.",
                );
            };
            let Some(grant) = st.codes.get_mut(&code) else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "The authorization code is invalid.",
                );
            };
            if cfg.tokens_bound_to_site && grant.site != site {
                // Another country's code: this site never issued it.
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "The authorization code is invalid.",
                );
            }
            if grant.used || grant.expires_at <= now || grant.client_id != client_id {
                grant.used = true;
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "The authorization code is invalid or has expired.",
                );
            }
            if get("redirect_uri").is_some_and(|r| r != grant.redirect_uri) {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "The redirect_uri does not match.",
                );
            }
            grant.used = true;
            let user = grant.user;
            let pair = issue_pair(
                &mut st,
                &client_id,
                user,
                site,
                now,
                cfg.access_token_ttl_secs,
            );
            token_response(&pair, cfg.access_token_ttl_secs)
        }
        Some("refresh_token") => {
            let Some(rt) = get("refresh_token") else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "refresh_token is missing.",
                );
            };
            let Some(grant) = st
                .refresh
                .get(&rt)
                .filter(|g| !cfg.tokens_bound_to_site || g.site == site)
                .cloned()
            else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "The refresh token is invalid.",
                );
            };
            if grant.client_id != client_id {
                return oauth_error(
                    StatusCode::UNAUTHORIZED,
                    "invalid_client",
                    "The refresh token was not issued to this client.",
                );
            }
            // Grace mode (off by default): a superseded token still works while the token it was exchanged
            // for has not been used — the "lost token response" case some apps are allowed.
            let in_grace = grant.superseded
                && cfg.refresh_grace
                && grant
                    .successor
                    .as_ref()
                    .and_then(|s| st.refresh.get(s))
                    .is_some_and(|s| !s.used && !s.superseded);
            if grant.superseded && !in_grace {
                return oauth_error(
                    StatusCode::UNAUTHORIZED,
                    "unauthorized_client",
                    "Old refresh token used.",
                );
            }
            let expires_at = grant.issued_at + Duration::days(cfg.refresh_idle_days);
            if now >= expires_at {
                let fmt = "%-m/%-d/%Y %-I:%M:%S %p";
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    &format!(
                        "The refresh token expired at {} and it is now {}.",
                        expires_at.format(fmt),
                        now.format(fmt)
                    ),
                );
            }
            if now < grant.issued_at + Duration::seconds(cfg.refresh_min_age_secs) {
                let status =
                    StatusCode::from_u16(cfg.too_early_status).unwrap_or(StatusCode::BAD_REQUEST);
                let mut r = oauth_error(
                    status,
                    "access_denied",
                    "Rate limit exceeded: access_token not expired",
                );
                r.headers_mut().insert(
                    "reason",
                    HeaderValue::from_static(
                        "TooEarlyToRefreshTokens: Rate limit exceeded: access_token not expired",
                    ),
                );
                return r;
            }
            if in_grace
                && let Some(previous) = grant.successor.as_ref().and_then(|s| st.refresh.get_mut(s))
            {
                previous.superseded = true;
            }
            *st.refresh_counts.entry(client_id.clone()).or_default() += 1;
            let pair = issue_pair(
                &mut st,
                &client_id,
                grant.user,
                site,
                now,
                cfg.access_token_ttl_secs,
            );
            if let Some(g) = st.refresh.get_mut(&rt) {
                g.superseded = true;
                g.successor = Some(pair.refresh_token.clone());
            }
            token_response(&pair, cfg.access_token_ttl_secs)
        }
        _ => oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "Only authorization_code and refresh_token are supported.",
        ),
    }
}
