//! The REST surface under `/api/v1`: bearer authentication, division scoping, rate limits and their headers,
//! the error budget, routing to regular/bulk/sync/read endpoints, the OData query pipeline (filter, select,
//! expand, orderby, paging with `__next`, counts) and the verbose JSON envelopes.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::Extension;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use chrono::{DateTime, Duration, Utc};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::model::{self, KeyKind, SetDef, Ty};
use super::odata::{self, Node, Val};
use super::site::{self, SitePrefix};
use super::store::{OpError, Record, Store, def_of};
use super::{Shared, webhooks};

/// An error answer: status, the Exact error envelope, extra headers.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    message: String,
    headers: Vec<(&'static str, String)>,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            headers: Vec::new(),
        }
    }
    fn bad(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
    fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error": {"code": "", "message": {"lang": "", "value": self.message}}});
        let mut r = (self.status, axum::Json(body)).into_response();
        for (k, v) in self.headers {
            if let Ok(v) = HeaderValue::from_str(&v) {
                r.headers_mut().insert(HeaderName::from_static(k), v);
            }
        }
        r
    }
}

fn op_error(sh: &Shared, e: OpError) -> ApiError {
    match e {
        OpError::BadRequest(m) => ApiError::bad(m),
        OpError::NotFound(m) => ApiError::new(StatusCode::NOT_FOUND, m),
        OpError::MethodNotAllowed => ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "The requested method is not supported for this resource.",
        ),
        OpError::Validation(msgs) => ApiError::new(
            StatusCode::from_u16(sh.config.validation_status)
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            msgs.iter()
                .map(|m| super::lang::translate(m, sh.config.validation_language))
                .collect::<Vec<_>>()
                .join("\r\n"),
        ),
    }
}

pub(crate) async fn not_found() -> Response {
    ApiError::new(StatusCode::NOT_FOUND, "Resource not found").into_response()
}

// ---------------------------------------------------------------------------------------------------------
// Authentication, rate limits, error budget.

#[derive(Debug, Clone)]
struct Caller {
    client_id: String,
    user: Uuid,
}

enum Auth {
    Valid(Caller),
    Expired(Caller),
    Missing,
}

/// The bearer token's grant; with `site`, a token issued by another country site is unknown here.
fn authenticate(
    st: &mut Store,
    headers: &HeaderMap,
    site: Option<&str>,
    now: DateTime<Utc>,
) -> Auth {
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim);
    let Some(grant) = token
        .and_then(|t| st.access.get(t))
        .filter(|g| site.is_none_or(|s| g.site == s))
        .cloned()
    else {
        return Auth::Missing;
    };
    let caller = Caller {
        client_id: grant.client_id.clone(),
        user: grant.user,
    };
    if grant.expires_at > now
        && let Some(r) = st.refresh.get_mut(&grant.refresh)
    {
        r.used = true;
    }
    if grant.expires_at <= now {
        Auth::Expired(caller)
    } else {
        Auth::Valid(caller)
    }
}

fn unauthorized(expired: bool) -> ApiError {
    let (msg, www) = if expired {
        (
            "Access token expired",
            r#"Bearer error="invalid_token", error_description="access token expired""#,
        )
    } else {
        ("Unauthorized", r#"Bearer error="invalid_token""#)
    };
    ApiError::new(StatusCode::UNAUTHORIZED, msg).header("www-authenticate", www)
}

fn accepts_json(headers: &HeaderMap) -> bool {
    headers
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.to_ascii_lowercase().contains("application/json"))
}

fn not_acceptable() -> ApiError {
    ApiError::new(
        StatusCode::NOT_ACCEPTABLE,
        "This emulator answers JSON only: send 'Accept: application/json' (the real service would answer Atom/XML).",
    )
}

struct RateHeaders {
    daily: [(&'static str, String); 3],
    minutely: [(&'static str, String); 3],
}

fn start_of_next_day_ms(now: DateTime<Utc>) -> i64 {
    let day = now.date_naive().succ_opt().unwrap_or(now.date_naive());
    day.and_hms_opt(0, 0, 0)
        .map(|d| d.and_utc().timestamp_millis())
        .unwrap_or_default()
}

enum RateOutcome {
    Ok(RateHeaders),
    MinuteExhausted(RateHeaders),
    DayExhausted(RateHeaders),
}

/// Counts one call against (client, division) in fixed calendar-minute and UTC-day windows.
fn take_rate(
    sh: &Shared,
    st: &mut Store,
    client: &str,
    division: i32,
    now: DateTime<Utc>,
) -> RateOutcome {
    let minute = now.timestamp().div_euclid(60);
    let day = now.timestamp().div_euclid(86_400);
    let w = st.rate.entry((client.to_owned(), division)).or_default();
    if w.minute != minute {
        w.minute = minute;
        w.minute_count = 0;
    }
    if w.day != day {
        w.day = day;
        w.day_count = 0;
    }
    let (ml, dl) = (sh.config.minutely_limit, sh.config.daily_limit);
    let day_exhausted = w.day_count >= dl;
    let minute_exhausted = w.minute_count >= ml;
    if !day_exhausted && !minute_exhausted {
        w.minute_count += 1;
        w.day_count += 1;
    }
    let minute_reset = (minute + 1) * 60_000;
    let headers = RateHeaders {
        daily: [
            ("x-ratelimit-limit", dl.to_string()),
            (
                "x-ratelimit-remaining",
                dl.saturating_sub(w.day_count).to_string(),
            ),
            ("x-ratelimit-reset", start_of_next_day_ms(now).to_string()),
        ],
        minutely: [
            ("x-ratelimit-minutely-limit", ml.to_string()),
            (
                "x-ratelimit-minutely-remaining",
                ml.saturating_sub(w.minute_count).to_string(),
            ),
            ("x-ratelimit-minutely-reset", minute_reset.to_string()),
        ],
    };
    if day_exhausted {
        RateOutcome::DayExhausted(headers)
    } else if minute_exhausted {
        RateOutcome::MinuteExhausted(headers)
    } else {
        RateOutcome::Ok(headers)
    }
}

fn add_headers(r: &mut Response, hs: &[(&'static str, String)]) {
    for (k, v) in hs {
        if let Ok(v) = HeaderValue::from_str(v) {
            r.headers_mut().insert(HeaderName::from_static(k), v);
        }
    }
}

fn counts_as_error(status: StatusCode) -> bool {
    matches!(status.as_u16(), 400 | 401 | 403 | 404)
}

fn record_error(
    sh: &Shared,
    st: &mut Store,
    caller: &Caller,
    division: i32,
    endpoint: &str,
    now: DateTime<Utc>,
) {
    let hour = now.timestamp().div_euclid(3600);
    let key = (
        caller.client_id.clone(),
        caller.user,
        division,
        endpoint.to_owned(),
        hour,
    );
    let n = st.errors.entry(key).or_default();
    *n += 1;
    if *n >= sh.config.errors_per_hour {
        st.blocks.insert(
            (
                caller.client_id.clone(),
                caller.user,
                division,
                endpoint.to_owned(),
            ),
            now + Duration::hours(1),
        );
    }
}

// ---------------------------------------------------------------------------------------------------------
// Routing.

/// What a path after the division addresses.
#[derive(Debug, Clone)]
enum Target {
    Regular {
        def: &'static SetDef,
        key: Option<String>,
        nav: Option<String>,
        count: bool,
    },
    Bulk(&'static SetDef),
    Sync(&'static SetDef),
    Deleted,
    ReceivablesList,
    /// `read/sync/Sync/SyncTimestamp`.
    SyncTimestamp,
    Divisions(&'static SetDef),
    /// `{service}/$metadata`.
    Metadata(String),
}

/// Splits `Entity(key)` into the entity name and the key literal's value.
fn split_key(segment: &str) -> Result<(String, Option<String>), ApiError> {
    let Some(open) = segment.find('(') else {
        return Ok((segment.to_owned(), None));
    };
    let name = segment[..open].to_owned();
    let inner = segment[open + 1..]
        .strip_suffix(')')
        .ok_or_else(|| ApiError::bad("Bad Request - Error in query syntax."))?;
    let inner = inner.split_once('=').map_or(inner, |(_, v)| v).trim();
    let value = if let Some(g) = inner
        .strip_prefix("guid'")
        .and_then(|g| g.strip_suffix('\''))
    {
        Uuid::parse_str(g.trim())
            .map(|u| u.to_string())
            .map_err(|_| ApiError::bad("Bad Request - Error in query syntax."))?
    } else if let Some(s) = inner.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')) {
        s.replace("''", "'")
    } else {
        inner.trim_end_matches(['L', 'l']).to_owned()
    };
    Ok((name, Some(value)))
}

fn route(segs: &[String]) -> Result<Target, ApiError> {
    let nf = || ApiError::new(StatusCode::NOT_FOUND, "Resource not found for the segment.");
    match segs {
        [first, second]
            if first.eq_ignore_ascii_case("sync") && second.eq_ignore_ascii_case("Deleted") =>
        {
            Ok(Target::Deleted)
        }
        [first, svc, ent] if first.eq_ignore_ascii_case("sync") => {
            model::sync(svc, ent).map(Target::Sync).ok_or_else(nf)
        }
        [first, svc, ent] if first.eq_ignore_ascii_case("bulk") => {
            model::bulk(svc, ent).map(Target::Bulk).ok_or_else(nf)
        }
        [first, svc, group, func]
            if first.eq_ignore_ascii_case("read")
                && svc.eq_ignore_ascii_case("sync")
                && group.eq_ignore_ascii_case("Sync")
                && func.eq_ignore_ascii_case("SyncTimestamp") =>
        {
            Ok(Target::SyncTimestamp)
        }
        [first, svc, func] if first.eq_ignore_ascii_case("read") => {
            if svc.eq_ignore_ascii_case("financial") && func.eq_ignore_ascii_case("ReceivablesList")
            {
                Ok(Target::ReceivablesList)
            } else {
                Err(nf())
            }
        }
        [svc, m] if m == "$metadata" => {
            if super::metadata::service_sets(svc).is_empty() {
                Err(nf())
            } else {
                Ok(Target::Metadata(svc.clone()))
            }
        }
        [svc, ent, rest @ ..] => {
            let (name, key) = split_key(ent)?;
            if svc.eq_ignore_ascii_case("system") && name.eq_ignore_ascii_case("Divisions")
                || svc.eq_ignore_ascii_case("hrm") && name.eq_ignore_ascii_case("Divisions")
            {
                let path = if svc.eq_ignore_ascii_case("system") {
                    model::DIVISIONS_SYSTEM
                } else {
                    model::DIVISIONS_HRM
                };
                return if rest.is_empty() && key.is_none() {
                    Ok(Target::Divisions(def_of(path)))
                } else {
                    Err(nf())
                };
            }
            let def = model::regular(svc, &name).ok_or_else(nf)?;
            match rest {
                [] => Ok(Target::Regular {
                    def,
                    key,
                    nav: None,
                    count: false,
                }),
                [c] if c == "$count" && key.is_none() => Ok(Target::Regular {
                    def,
                    key: None,
                    nav: None,
                    count: true,
                }),
                [nav] if key.is_some() && def.nav(nav).is_some() => Ok(Target::Regular {
                    def,
                    key,
                    nav: Some(nav.clone()),
                    count: false,
                }),
                _ => Err(nf()),
            }
        }
        _ => Err(nf()),
    }
}

/// The endpoint name the error budget counts by.
fn endpoint_of(segs: &[String]) -> String {
    segs.iter()
        .take(3)
        .map(|s| s.split('(').next().unwrap_or_default().to_ascii_lowercase())
        .filter(|s| s != "$count")
        .collect::<Vec<_>>()
        .join("/")
}

/// The base of links in a response: the configured one, else the request's host, with the site prefix the
/// request came through (`/be`).
fn base_url(sh: &Shared, headers: &HeaderMap, prefix: SitePrefix) -> String {
    let base = host_base(sh, headers);
    match prefix.0 {
        Some(code) => format!("{base}/{code}"),
        None => base,
    }
}

fn host_base(sh: &Shared, headers: &HeaderMap) -> String {
    if let Some(b) = &sh.config.base_url {
        return b.trim_end_matches('/').to_owned();
    }
    match headers.get("host").and_then(|h| h.to_str().ok()) {
        Some(host) => {
            let base = format!("http://{host}");
            // A router mounted without `spawn` learns its address here, for webhook endpoints.
            let mut public = sh.public_base.lock();
            if public.is_none() {
                *public = Some(base.clone());
            }
            base
        }
        None => sh.base(),
    }
}

// ---------------------------------------------------------------------------------------------------------
// Handlers.

/// `/api/v1/current/Me`: needs a bearer token, no division, not rate-counted.
pub(crate) async fn me(
    State(sh): State<Arc<Shared>>,
    Extension(prefix): Extension<SitePrefix>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if method != Method::GET {
        return ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "The requested method is not supported for this resource.",
        )
        .into_response();
    }
    let now = sh.now();
    let site = site::resolve(prefix, &headers);
    let mut st = sh.store.lock();
    let caller = match authenticate(
        &mut st,
        &headers,
        sh.config.tokens_bound_to_site.then_some(site),
        now,
    ) {
        Auth::Valid(c) => c,
        Auth::Expired(_) => return unauthorized(true).into_response(),
        Auth::Missing => return unauthorized(false).into_response(),
    };
    if !accepts_json(&headers) {
        return not_acceptable().into_response();
    }
    let Some(user) = st.users.get(&caller.user).cloned() else {
        return unauthorized(false).into_response();
    };
    let (first, last) = user
        .full_name
        .split_once(' ')
        .map_or((user.full_name.as_str(), ""), |(a, b)| (a, b));
    let mut row = Map::new();
    for (k, v) in [
        ("UserID", json!(user.id.to_string())),
        ("UserName", json!(user.email)),
        ("FullName", json!(user.full_name)),
        ("FirstName", json!(first)),
        ("LastName", json!(last)),
        ("Email", json!(user.email)),
        ("CurrentDivision", json!(user.current_division)),
        ("AccountingDivision", json!(user.current_division)),
        ("DivisionCustomer", Value::Null),
        ("LanguageCode", json!("en-GB")),
        ("Legislation", json!(1)),
        (
            "ServerTime",
            json!(
                ledgerlink_domain::cet::wall_from_utc(now)
                    .format("%Y-%m-%dT%H:%M:%S")
                    .to_string()
            ),
        ),
        (
            "ServerUtcOffset",
            json!(ledgerlink_domain::cet::offset_secs(now)),
        ),
        ("IsClientUser", json!(false)),
        ("IsStarterUser", json!(false)),
    ] {
        row.insert(k.into(), v);
    }
    let base = base_url(&sh, &headers, prefix);
    let params = odata::parse_query(uri.query());
    let rows = vec![(user.id.to_string(), Record { data: row, ts: 0 })];
    let ctx = QueryCtx {
        sh: &sh,
        def: def_of(model::ME),
        kind: Kind::Regular,
        base: &base,
        division: 0,
        request_path: "current/Me",
        params: &params,
    };
    match run_query(&ctx, &st, rows) {
        Ok(d) => axum::Json(json!({ "d": d })).into_response(),
        Err(e) => e.into_response(),
    }
}

/// Everything under `/api/v1/{division}/...` (and `/api/v1/beta/{division}/...`).
pub(crate) async fn v1(
    State(sh): State<Arc<Shared>>,
    Extension(prefix): Extension<SitePrefix>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path();
    let rest = path.strip_prefix("/api/v1/").unwrap_or(path);
    let rest = rest.strip_prefix("beta/").unwrap_or(rest);
    let mut parts = rest.splitn(2, '/');
    let div_seg = parts.next().unwrap_or_default();
    let tail = parts.next().unwrap_or_default();
    let Ok(division) = div_seg.parse::<i32>() else {
        return ApiError::new(StatusCode::NOT_FOUND, "Resource not found").into_response();
    };
    let segs: Vec<String> = tail
        .split('/')
        .filter(|s| !s.is_empty())
        .map(percent_decode)
        .collect();
    let endpoint = endpoint_of(&segs);
    let now = sh.now();
    let site = site::resolve(prefix, &headers);

    // Authentication, block, rate limit — in that order, under one lock.
    let (caller, rate) = {
        let mut st = sh.store.lock();
        let caller = match authenticate(
            &mut st,
            &headers,
            sh.config.tokens_bound_to_site.then_some(site),
            now,
        ) {
            Auth::Valid(c) => c,
            Auth::Expired(c) => {
                record_error(&sh, &mut st, &c, division, &endpoint, now);
                return unauthorized(true).into_response();
            }
            Auth::Missing => return unauthorized(false).into_response(),
        };
        if let Some(until) = st
            .blocks
            .get(&(
                caller.client_id.clone(),
                caller.user,
                division,
                endpoint.clone(),
            ))
            .copied()
            && until > now
        {
            return ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "API rate limit exceeded: more than {} errors (400, 401, 403, 404) on this endpoint within an hour; blocked until {} UTC.",
                    sh.config.errors_per_hour,
                    until.format("%Y-%m-%d %H:%M:%S")
                ),
            )
            .into_response();
        }
        match take_rate(&sh, &mut st, &caller.client_id, division, now) {
            RateOutcome::Ok(h) => (caller, h),
            RateOutcome::MinuteExhausted(h) => {
                let mut r =
                    ApiError::new(StatusCode::TOO_MANY_REQUESTS, "API rate limit exceeded.")
                        .into_response();
                add_headers(&mut r, &h.minutely);
                return r;
            }
            RateOutcome::DayExhausted(h) => {
                let mut r =
                    ApiError::new(StatusCode::TOO_MANY_REQUESTS, "API rate limit exceeded.")
                        .into_response();
                add_headers(&mut r, &h.daily);
                return r;
            }
        }
    };

    let mut response = match handle(
        &sh, &caller, division, &method, &uri, &headers, prefix, &segs, tail, body,
    )
    .await
    {
        Ok(r) => r,
        Err(e) => e.into_response(),
    };
    add_headers(&mut response, &rate.daily);
    add_headers(&mut response, &rate.minutely);
    if counts_as_error(response.status()) {
        let mut st = sh.store.lock();
        record_error(&sh, &mut st, &caller, division, &endpoint, now);
    }
    response
}

/// A POST/PUT body as a JSON object: JSON, or an Atom entry when the body is XML (`Content-Type` naming xml, or
/// a body starting with `<`), read by [`super::atom`] into the same object.
fn request_object(headers: &HeaderMap, body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    const INVALID: &str =
        "Error processing request stream. The request should be a valid top-level resource object.";
    let xml_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.to_ascii_lowercase().contains("xml"));
    let text = std::str::from_utf8(body).map_err(|_| ApiError::bad(INVALID))?;
    if xml_type || text.trim_start().starts_with('<') {
        return super::atom::parse_entry(text)
            .map_err(|e| ApiError::bad(format!("Error processing request stream. {e}")));
    }
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(o)) => Ok(o),
        _ => Err(ApiError::bad(INVALID)),
    }
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| s.to_owned())
}

#[allow(clippy::too_many_arguments)]
async fn handle(
    sh: &Arc<Shared>,
    caller: &Caller,
    division: i32,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    prefix: SitePrefix,
    segs: &[String],
    request_path: &str,
    body: Bytes,
) -> Result<Response, ApiError> {
    {
        let st = sh.store.lock();
        let allowed = st.divisions.contains_key(&division)
            && st
                .users
                .get(&caller.user)
                .is_some_and(|u| u.divisions.contains(&division));
        if !allowed {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "Forbidden - User division is not within division scope",
            )
            .header("reason", "NoDivisionAccess"));
        }
    }
    let target = route(segs)?;
    if let Target::Metadata(service) = &target {
        if *method != Method::GET {
            return Err(op_error(sh, OpError::MethodNotAllowed));
        }
        let doc = super::metadata::document(service).unwrap_or_default();
        return Ok(([("content-type", "application/xml;charset=utf-8")], doc).into_response());
    }
    let counting = matches!(target, Target::Regular { count: true, .. });
    if !counting && !accepts_json(headers) {
        return Err(not_acceptable());
    }
    let base = base_url(sh, headers, prefix);
    let params = odata::parse_query(uri.query());
    let now = sh.now();
    match (method.clone(), target) {
        (
            Method::GET,
            Target::Regular {
                def,
                key: None,
                nav: None,
                count,
            },
        ) => {
            if !def.allows(model::GET) {
                return Err(op_error(sh, OpError::MethodNotAllowed));
            }
            let st = sh.store.lock();
            let rows = visible_rows(&st, caller, division, def);
            let ctx = QueryCtx {
                sh,
                def,
                kind: Kind::Regular,
                base: &base,
                division,
                request_path,
                params: &params,
            };
            if count {
                let n = count_rows(&ctx, rows)?;
                return Ok((
                    [("content-type", "text/plain; charset=utf-8")],
                    n.to_string(),
                )
                    .into_response());
            }
            let d = run_query(&ctx, &st, rows)?;
            Ok(axum::Json(json!({ "d": d })).into_response())
        }
        (
            Method::GET,
            Target::Regular {
                def,
                key: Some(key),
                nav: None,
                ..
            },
        ) => {
            let st = sh.store.lock();
            let rec = visible_rows(&st, caller, division, def)
                .into_iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(&key))
                .ok_or_else(|| {
                    ApiError::new(StatusCode::NOT_FOUND, "Resource not found for the segment.")
                })?;
            let ctx = QueryCtx {
                sh,
                def,
                kind: Kind::Regular,
                base: &base,
                division,
                request_path,
                params: &params,
            };
            let sel = Selection::parse(&ctx)?;
            Ok(
                axum::Json(json!({ "d": format_row(&ctx, &st, &rec.0, &rec.1, &sel) }))
                    .into_response(),
            )
        }
        (
            Method::GET,
            Target::Regular {
                def,
                key: Some(key),
                nav: Some(nav),
                ..
            },
        ) => {
            let st = sh.store.lock();
            let Some(n) = def.nav(&nav) else {
                return Err(ApiError::new(
                    StatusCode::NOT_FOUND,
                    "Resource not found for the segment.",
                ));
            };
            if st.get(division, def.path, &key).is_none() {
                return Err(ApiError::new(
                    StatusCode::NOT_FOUND,
                    "Resource not found for the segment.",
                ));
            }
            let Some(child) = model::set(n.child) else {
                // A navigation the emulator does not store (e.g. Account BankAccounts): an empty collection.
                return Ok(axum::Json(json!({"d": {"results": []}})).into_response());
            };
            let rows: Vec<(String, Record)> = st
                .rows(division, child.path)
                .filter(|r| r.data.get(n.fk).and_then(Value::as_str) == Some(key.as_str()))
                .map(|r| (key_of(child, r), r.clone()))
                .collect();
            let ctx = QueryCtx {
                sh,
                def: child,
                kind: Kind::Regular,
                base: &base,
                division,
                request_path,
                params: &params,
            };
            let d = run_query(&ctx, &st, rows)?;
            Ok(axum::Json(json!({ "d": d })).into_response())
        }
        (Method::GET, Target::Bulk(def) | Target::Sync(def)) => {
            let sync =
                def.sync.is_some() && segs.first().is_some_and(|s| s.eq_ignore_ascii_case("sync"));
            let st = sh.store.lock();
            let mut rows = visible_rows(&st, caller, division, def);
            if sync {
                rows.iter_mut().for_each(|(k, r)| *k = r.ts.to_string());
            }
            let kind = if sync { Kind::Sync } else { Kind::Bulk };
            let ctx = QueryCtx {
                sh,
                def,
                kind,
                base: &base,
                division,
                request_path,
                params: &params,
            };
            let d = run_query(&ctx, &st, rows)?;
            Ok(axum::Json(json!({ "d": d })).into_response())
        }
        (Method::GET, Target::Deleted) => {
            let def = def_of(model::DELETED);
            let st = sh.store.lock();
            // "The log of records deleted is saved for 2 months."
            let horizon = ledgerlink_domain::cet::exact_ms(now - Duration::days(61));
            let rows = st
                .rows(division, model::DELETED)
                .filter(|r| {
                    r.data
                        .get("DeletedDate")
                        .and_then(Value::as_str)
                        .and_then(model::parse_date_ms)
                        .is_some_and(|ms| ms >= horizon)
                })
                .map(|r| (r.ts.to_string(), r.clone()))
                .collect();
            let ctx = QueryCtx {
                sh,
                def,
                kind: Kind::Sync,
                base: &base,
                division,
                request_path,
                params: &params,
            };
            let d = run_query(&ctx, &st, rows)?;
            Ok(axum::Json(json!({ "d": d })).into_response())
        }
        (Method::GET, Target::ReceivablesList) => {
            let def = def_of(model::RECEIVABLES_LIST);
            let st = sh.store.lock();
            let rows = st
                .receivables_list(division)
                .into_iter()
                .map(|r| (r.ts.to_string(), r))
                .collect();
            let ctx = QueryCtx {
                sh,
                def,
                kind: Kind::Read,
                base: &base,
                division,
                request_path,
                params: &params,
            };
            let d = run_query(&ctx, &st, rows)?;
            Ok(axum::Json(json!({ "d": d })).into_response())
        }
        (Method::GET, Target::SyncTimestamp) => {
            let def = def_of(model::SYNC_TIMESTAMP);
            let unquote = |v: &str| {
                let v = v.trim();
                v.strip_prefix("datetime'")
                    .or_else(|| v.strip_prefix('\''))
                    .and_then(|v| v.strip_suffix('\''))
                    .unwrap_or(v)
                    .to_owned()
            };
            let param = |name: &str| {
                params
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| unquote(v))
            };
            let (Some(modified), Some(endpoint)) = (param("modified"), param("endPoint")) else {
                return Err(ApiError::bad(
                    "Both parameters are required: modified and endPoint.",
                ));
            };
            let Some(modified_ms) = model::parse_any_date(&modified) else {
                return Err(ApiError::bad(format!(
                    "Invalid value for parameter modified: {modified}"
                )));
            };
            let Some(api) = super::store::SYNC_TIMESTAMP_ENDPOINTS
                .iter()
                .find(|e| e.eq_ignore_ascii_case(&endpoint))
            else {
                return Err(ApiError::bad(format!(
                    "Invalid value for parameter endPoint: {endpoint}"
                )));
            };
            let st = sh.store.lock();
            let rows = st
                .sync_timestamp(division, api, modified_ms)
                .map(|(ts, modified)| {
                    let mut m = Map::new();
                    m.insert("TimeStampAsBigInt".into(), json!(ts));
                    m.insert("API".into(), json!(api));
                    m.insert("Modified".into(), modified);
                    (ts.to_string(), Record { data: m, ts })
                })
                .into_iter()
                .collect();
            let ctx = QueryCtx {
                sh,
                def,
                kind: Kind::Read,
                base: &base,
                division,
                request_path,
                params: &[],
            };
            let d = run_query(&ctx, &st, rows)?;
            Ok(axum::Json(json!({ "d": d })).into_response())
        }
        (Method::GET, Target::Divisions(def)) => {
            let st = sh.store.lock();
            let user = st.users.get(&caller.user).cloned();
            let rows = st
                .divisions
                .values()
                .filter(|d| {
                    def.path == model::DIVISIONS_HRM
                        || user.as_ref().is_some_and(|u| u.divisions.contains(&d.code))
                })
                .map(|d| {
                    let mut m = Map::new();
                    m.insert("Code".into(), json!(d.code));
                    m.insert("Description".into(), json!(d.description));
                    m.insert(
                        if def.path == model::DIVISIONS_HRM {
                            "HID"
                        } else {
                            "Hid"
                        }
                        .into(),
                        json!(d.code),
                    );
                    m.insert("Currency".into(), json!(d.currency));
                    m.insert("Country".into(), json!("NL "));
                    m.insert(
                        "Main".into(),
                        json!(st.divisions.keys().next() == Some(&d.code)),
                    );
                    if def.path == model::DIVISIONS_SYSTEM {
                        m.insert(
                            "Current".into(),
                            json!(user.as_ref().and_then(|u| u.current_division) == Some(d.code)),
                        );
                        m.insert(
                            "DivisionMoveDate".into(),
                            d.moved.map_or(Value::Null, |(at, _)| model::date_value(at)),
                        );
                    }
                    m.insert("Created".into(), model::date_value(d.created));
                    (d.code.to_string(), Record { data: m, ts: 0 })
                })
                .collect();
            let ctx = QueryCtx {
                sh,
                def,
                kind: Kind::Regular,
                base: &base,
                division,
                request_path,
                params: &params,
            };
            let d = run_query(&ctx, &st, rows)?;
            Ok(axum::Json(json!({ "d": d })).into_response())
        }
        (
            Method::POST,
            Target::Regular {
                def,
                key: None,
                nav: None,
                count: false,
            },
        ) => {
            let parsed = request_object(headers, &body)?;
            let obj = &parsed;
            if !def.allows(model::POST) {
                return Err(op_error(sh, OpError::MethodNotAllowed));
            }
            let key = if def.path == model::WEBHOOKS {
                create_subscription(sh, caller, division, obj, now).await?
            } else {
                sh.mutate(|st| st.create(division, def, obj, caller.user, now, false))
                    .map_err(|e| op_error(sh, e))?
                    .0
            };
            let representation = headers
                .get("prefer")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|p| p.to_ascii_lowercase().contains("return=representation"));
            let st = sh.store.lock();
            let rec = st
                .get(division, def.path, &key)
                .cloned()
                .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "Resource not found"))?;
            let ctx = QueryCtx {
                sh,
                def,
                kind: Kind::Regular,
                base: &base,
                division,
                request_path,
                params: &params,
            };
            let d = if representation {
                let expand: Vec<String> = def.navs.iter().map(|n| n.name.to_owned()).collect();
                format_row(
                    &ctx,
                    &st,
                    &key,
                    &rec,
                    &Selection {
                        fields: None,
                        expand,
                        nav_fields: Vec::new(),
                    },
                )
            } else {
                // "The entity will contain all properties with the NULL value" except the key.
                let mut m = Map::new();
                m.insert("__metadata".into(), json!({"uri": key_uri(&ctx, &key), "type": format!("Exact.Web.Api.Models.{}", def.type_name)}));
                for f in &def.fields {
                    m.insert(
                        f.name.into(),
                        if f.name == def.key {
                            json!(key)
                        } else {
                            Value::Null
                        },
                    );
                }
                for n in &def.navs {
                    m.insert(n.name.into(), Value::Null);
                }
                Value::Object(m)
            };
            let mut r = (StatusCode::CREATED, axum::Json(json!({ "d": d }))).into_response();
            if let Ok(v) = HeaderValue::from_str(&key_uri(&ctx, &key)) {
                r.headers_mut().insert("location", v);
            }
            Ok(r)
        }
        (
            Method::PUT,
            Target::Regular {
                def,
                key: Some(key),
                nav: None,
                ..
            },
        ) => {
            let parsed = request_object(headers, &body)?;
            let obj = &parsed;
            if def.path == model::WEBHOOKS {
                check_own_subscription(sh, caller, division, &key)?;
            }
            sh.mutate(|st| st.update(division, def, &key, obj, caller.user, now))
                .map_err(|e| op_error(sh, e))?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        (
            Method::DELETE,
            Target::Regular {
                def,
                key: Some(key),
                nav: None,
                ..
            },
        ) => {
            if def.path == model::WEBHOOKS {
                check_own_subscription(sh, caller, division, &key)?;
            }
            sh.mutate(|st| st.delete(division, def, &key, caller.user, now, false))
                .map_err(|e| op_error(sh, e))?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        _ => Err(op_error(sh, OpError::MethodNotAllowed)),
    }
}

/// Rows of a regular set as (key, record); webhook subscriptions are visible only to the app that made them.
fn visible_rows(
    st: &Store,
    caller: &Caller,
    division: i32,
    def: &'static SetDef,
) -> Vec<(String, Record)> {
    if def.path == model::TRANSACTION_LINES || def.path == model::SYNC_TRANSACTION_LINES {
        return st
            .transaction_lines(division)
            .into_iter()
            .map(|r| (key_of(def, &r), r))
            .collect();
    }
    st.rows(division, def.path)
        .filter(|r| {
            def.path != model::WEBHOOKS
                || r.data.get("ClientID").and_then(Value::as_str) == Some(caller.client_id.as_str())
        })
        .map(|r| (key_of(def, r), r.clone()))
        .collect()
}

fn key_of(def: &SetDef, r: &Record) -> String {
    match r.data.get(def.key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => r.ts.to_string(),
    }
}

fn check_own_subscription(
    sh: &Shared,
    caller: &Caller,
    division: i32,
    key: &str,
) -> Result<(), ApiError> {
    let st = sh.store.lock();
    match st.get(division, model::WEBHOOKS, key) {
        Some(r)
            if r.data.get("ClientID").and_then(Value::as_str)
                == Some(caller.client_id.as_str()) =>
        {
            Ok(())
        }
        _ => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "Resource not found for the segment.",
        )),
    }
}

async fn create_subscription(
    sh: &Arc<Shared>,
    caller: &Caller,
    division: i32,
    obj: &Map<String, Value>,
    now: DateTime<Utc>,
) -> Result<String, ApiError> {
    let validation = |m: String| op_error(sh, OpError::Validation(vec![m]));
    let url = obj
        .get("CallbackURL")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let topic = obj
        .get("Topic")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let mut msgs = Vec::new();
    if url.is_empty() {
        msgs.push("Mandatory: CallbackURL".to_owned());
    }
    if topic.is_empty() {
        msgs.push("Mandatory: Topic".to_owned());
    } else if !webhooks::topic_allowed(&topic) {
        msgs.push("Invalid: Topic".to_owned());
    }
    if !url.is_empty() && !webhooks::callback_allowed(&url) {
        msgs.push("Invalid: CallbackURL (https is required)".to_owned());
    }
    if obj.get("IsInstant").and_then(Value::as_bool) == Some(true) && topic != "GoodsDeliveries" {
        msgs.push("Invalid: IsInstant is only supported for topic 'GoodsDeliveries'".to_owned());
    }
    if !msgs.is_empty() {
        return Err(op_error(sh, OpError::Validation(msgs)));
    }
    {
        let st = sh.store.lock();
        let exists = st.rows(division, model::WEBHOOKS).any(|r| {
            r.data.get("ClientID").and_then(Value::as_str) == Some(caller.client_id.as_str())
                && r.data.get("Topic").and_then(Value::as_str) == Some(topic.as_str())
        });
        if exists {
            return Err(validation("Data already exists.".into()));
        }
    }
    webhooks::validate_callback(&sh.http, &url)
        .await
        .map_err(validation)?;
    let mut body = obj.clone();
    let (app_name, user_name) = {
        let st = sh.store.lock();
        (
            st.apps
                .get(&caller.client_id)
                .map(|a| a.name.clone())
                .unwrap_or_default(),
            st.user_name(caller.user),
        )
    };
    body.insert("ClientID".into(), json!(caller.client_id));
    body.insert("UserID".into(), json!(caller.user.to_string()));
    body.insert("Division".into(), json!(division));
    body.insert("Description".into(), json!(app_name));
    body.insert("Creator".into(), json!(caller.user.to_string()));
    body.insert("CreatorFullName".into(), json!(user_name));
    body.insert("Created".into(), model::date_value(now));
    let instant = obj
        .get("IsInstant")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    body.insert("IsInstant".into(), json!(instant));
    sh.mutate(|st| {
        st.create(
            division,
            def_of(model::WEBHOOKS),
            &body,
            caller.user,
            now,
            true,
        )
    })
    .map(|(k, _)| k)
    .map_err(|e| op_error(sh, e))
}

// ---------------------------------------------------------------------------------------------------------
// The query pipeline.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Regular,
    Bulk,
    Sync,
    Read,
}

struct QueryCtx<'a> {
    sh: &'a Shared,
    def: &'static SetDef,
    kind: Kind,
    base: &'a str,
    division: i32,
    /// The path after `/api/v1/{division}/`, as requested (for `__next`).
    request_path: &'a str,
    params: &'a [(String, String)],
}

impl QueryCtx<'_> {
    fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn ty_of(&self, name: &str) -> Option<Ty> {
        if name == "Timestamp" && matches!(self.kind, Kind::Sync) {
            return Some(Ty::Int64);
        }
        self.def.field(name).map(|f| f.ty)
    }
    /// Sync endpoints and Int64-keyed sets page by an Int64 key (`$skiptoken=123L`).
    fn int_keys(&self) -> bool {
        self.kind == Kind::Sync || self.kind == Kind::Read || self.def.key_kind == KeyKind::Int64
    }
    fn page_size(&self) -> usize {
        match self.kind {
            Kind::Bulk | Kind::Sync => self.sh.config.bulk_page_size,
            Kind::Regular | Kind::Read => self.sh.config.page_size,
        }
        .max(1)
    }
}

struct Selection {
    /// `None` = every property.
    fields: Option<BTreeSet<String>>,
    expand: Vec<String>,
    /// `Nav/Prop` selections.
    nav_fields: Vec<(String, String)>,
}

impl Selection {
    fn parse(ctx: &QueryCtx<'_>) -> Result<Self, ApiError> {
        let expand: Vec<String> = ctx
            .param("$expand")
            .map(|e| {
                e.split(',')
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        for e in &expand {
            if ctx.def.nav(e).is_none() {
                return Err(ApiError::bad(format!(
                    "Could not find a property named '{e}' on type 'Exact.Web.Api.Models.{}'.",
                    ctx.def.type_name
                )));
            }
        }
        let Some(select) = ctx.param("$select") else {
            return Ok(Self {
                fields: None,
                expand,
                nav_fields: Vec::new(),
            });
        };
        let mut fields = BTreeSet::new();
        let mut nav_fields = Vec::new();
        for raw in select.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if raw == "*" {
                return Ok(Self {
                    fields: None,
                    expand,
                    nav_fields,
                });
            }
            if let Some((nav, prop)) = raw.split_once('/') {
                let child_def = ctx.def.nav(nav).and_then(|n| model::set(n.child));
                let ok = expand.iter().any(|e| e == nav)
                    && child_def.is_some_and(|c| c.field(prop).is_some());
                if !ok {
                    return Err(ApiError::bad(format!(
                        "Could not find a property named '{raw}' on type 'Exact.Web.Api.Models.{}'.",
                        ctx.def.type_name
                    )));
                }
                nav_fields.push((nav.to_owned(), prop.to_owned()));
                fields.insert(nav.to_owned());
                continue;
            }
            if ctx.ty_of(raw).is_none() && ctx.def.nav(raw).is_none() {
                return Err(ApiError::bad(format!(
                    "Could not find a property named '{raw}' on type 'Exact.Web.Api.Models.{}'.",
                    ctx.def.type_name
                )));
            }
            fields.insert(raw.to_owned());
        }
        Ok(Self {
            fields: Some(fields),
            expand,
            nav_fields,
        })
    }
    fn wants(&self, name: &str) -> bool {
        self.fields.as_ref().is_none_or(|f| f.contains(name))
    }
}

fn key_literal(ctx: &QueryCtx<'_>, key: &str) -> String {
    if ctx.int_keys() {
        return format!("{key}L");
    }
    match ctx.def.key_kind {
        KeyKind::Guid => format!("guid'{key}'"),
        KeyKind::Str => format!("'{}'", key.replace('\'', "''")),
        KeyKind::Int64 => format!("{key}L"),
    }
}

fn key_uri(ctx: &QueryCtx<'_>, key: &str) -> String {
    if ctx.def.path == model::ME {
        return format!("{}/api/v1/current/Me(guid'{key}')", ctx.base);
    }
    let path = match ctx.kind {
        Kind::Sync if ctx.def.path == model::DELETED => "sync/Deleted".to_owned(),
        Kind::Sync => format!("sync/{}", ctx.def.sync.unwrap_or(ctx.def.path)),
        Kind::Bulk => format!("bulk/{}", ctx.def.bulk.unwrap_or(ctx.def.path)),
        Kind::Regular | Kind::Read => ctx.def.path.to_owned(),
    };
    format!(
        "{}/api/v1/{}/{}({})",
        ctx.base,
        ctx.division,
        path,
        key_literal(ctx, key)
    )
}

fn format_row(ctx: &QueryCtx<'_>, st: &Store, key: &str, rec: &Record, sel: &Selection) -> Value {
    let mut m = Map::new();
    let type_name = match ctx.def.path {
        model::ME => "Exact.Web.Api.System.Me".to_owned(),
        _ => format!("Exact.Web.Api.Models.{}", ctx.def.type_name),
    };
    m.insert(
        "__metadata".into(),
        json!({"uri": key_uri(ctx, key), "type": type_name}),
    );
    for f in &ctx.def.fields {
        if sel.wants(f.name) {
            m.insert(
                f.name.into(),
                rec.data.get(f.name).cloned().unwrap_or(Value::Null),
            );
        }
    }
    if ctx.kind == Kind::Sync && ctx.def.field("Timestamp").is_none() && sel.wants("Timestamp") {
        m.insert("Timestamp".into(), json!(rec.ts));
    }
    if matches!(ctx.kind, Kind::Regular | Kind::Read) {
        for n in &ctx.def.navs {
            if !sel.wants(n.name) {
                continue;
            }
            if sel.expand.iter().any(|e| e == n.name) {
                let child = model::set(n.child);
                let results: Vec<Value> = child
                    .map(|c| {
                        let child_ctx = QueryCtx {
                            sh: ctx.sh,
                            def: c,
                            kind: Kind::Regular,
                            base: ctx.base,
                            division: ctx.division,
                            request_path: ctx.request_path,
                            params: &[],
                        };
                        let props: Vec<&str> = sel
                            .nav_fields
                            .iter()
                            .filter(|(nv, _)| nv == n.name)
                            .map(|(_, p)| p.as_str())
                            .collect();
                        let child_sel = Selection {
                            fields: if props.is_empty() {
                                None
                            } else {
                                Some(props.iter().map(|p| (*p).to_owned()).collect())
                            },
                            expand: Vec::new(),
                            nav_fields: Vec::new(),
                        };
                        let mut rows: Vec<&Record> = st
                            .rows(ctx.division, c.path)
                            .filter(|r| r.data.get(n.fk).and_then(Value::as_str) == Some(key))
                            .collect();
                        rows.sort_by_key(|r| {
                            r.data
                                .get("LineNumber")
                                .and_then(Value::as_i64)
                                .unwrap_or(0)
                        });
                        rows.into_iter()
                            .map(|r| format_row(&child_ctx, st, &key_of(c, r), r, &child_sel))
                            .collect()
                    })
                    .unwrap_or_default();
                m.insert(n.name.into(), json!({ "results": results }));
            } else {
                m.insert(
                    n.name.into(),
                    json!({"__deferred": {"uri": format!("{}/{}", key_uri(ctx, key), n.name)}}),
                );
            }
        }
    }
    Value::Object(m)
}

/// Applies the endpoint rules and `$filter`; returns the matching rows in page order.
fn filtered(
    ctx: &QueryCtx<'_>,
    mut rows: Vec<(String, Record)>,
    counting: bool,
) -> Result<Vec<(String, Record)>, ApiError> {
    let filter = ctx
        .param("$filter")
        .map(str::trim)
        .filter(|f| !f.is_empty());
    let node: Option<Node> = filter
        .map(odata::parse_filter)
        .transpose()
        .map_err(|e| ApiError::bad(e.0))?;
    let mut mentioned = BTreeSet::new();
    if let Some(n) = &node {
        odata::fields_of(n, &mut mentioned);
    }
    for f in &mentioned {
        if f.contains('/') {
            return Err(ApiError::bad(
                "Filtering on navigation properties is not supported.",
            ));
        }
        if ctx.ty_of(f).is_none() {
            return Err(ApiError::bad(format!(
                "Could not find a property named '{f}' on type 'Exact.Web.Api.Models.{}'.",
                ctx.def.type_name
            )));
        }
    }
    match ctx.kind {
        Kind::Regular
            if ctx.def.mandatory_filter
                && (!counting || ctx.sh.config.mandatory_filter_on_count)
                && !mentioned
                    .iter()
                    .any(|f| model::mandatory_filter_fields(ctx.def).contains(&f.as_str())) =>
        {
            return Err(ApiError::bad(format!(
                "This endpoint has mandatory filtering applied. A GET request for this endpoint must have a $filter parameter with one of the following fields in the url:{}.",
                model::mandatory_filter_fields(ctx.def).join(",")
            )));
        }
        Kind::Regular
            if ctx.def.select_or_top1
                && ctx.param("$select").is_none()
                && ctx.param("$top") != Some("1") =>
        {
            return Err(ApiError::bad(
                "Please add a $select or a $top=1 statement to the query string.",
            ));
        }
        Kind::Regular
            if ctx.def.path == model::GJ_ENTRY_LINES
                && !ctx.sh.config.line_notes_filterable
                && mentioned.iter().any(|f| f == "Notes") =>
        {
            return Err(ApiError::bad(
                "Filtering on these fields is not supported: Notes",
            ));
        }
        Kind::Bulk | Kind::Sync if ctx.param("$select").is_none() => {
            return Err(ApiError::bad(
                "Please add a $select statement to the query string.",
            ));
        }
        Kind::Sync => {
            let others: Vec<&str> = mentioned
                .iter()
                .map(String::as_str)
                .filter(|f| *f != "Timestamp")
                .collect();
            if !others.is_empty() {
                return Err(ApiError::bad(format!(
                    "Filtering on these fields is not supported: {}",
                    others.join(",")
                )));
            }
        }
        _ => {}
    }
    if ctx.kind == Kind::Sync {
        rows.sort_by_key(|(_, r)| r.ts);
        for (_, r) in rows.iter_mut() {
            r.data.entry("Timestamp").or_insert(json!(r.ts));
            if r.data.get("Timestamp").is_some_and(Value::is_null) {
                r.data.insert("Timestamp".into(), json!(r.ts));
            }
        }
    } else if ctx.kind == Kind::Read {
        rows.sort_by_key(|(_, r)| r.ts);
    }
    if let Some(n) = &node {
        let ty_of = |f: &str| ctx.ty_of(f).unwrap_or(Ty::Str);
        let mut out = Vec::with_capacity(rows.len());
        for (k, r) in rows {
            if matches!(
                odata::eval(n, &r.data, &ty_of).map_err(|e| ApiError::bad(e.0))?,
                Val::Bool(true)
            ) {
                out.push((k, r));
            }
        }
        rows = out;
    }
    if let Some(order) = ctx.param("$orderby") {
        let mut keys = Vec::new();
        for part in order.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let mut it = part.split_whitespace();
            let field = it.next().unwrap_or_default().to_owned();
            let desc = it.next().is_some_and(|d| d.eq_ignore_ascii_case("desc"));
            let Some(ty) = ctx.ty_of(&field) else {
                return Err(ApiError::bad(format!(
                    "Could not find a property named '{field}' on type 'Exact.Web.Api.Models.{}'.",
                    ctx.def.type_name
                )));
            };
            keys.push((field, ty, desc));
        }
        rows.sort_by(|(_, a), (_, b)| {
            for (f, ty, desc) in &keys {
                let (va, vb) = (
                    odata::wire_to_val(*ty, a.data.get(f)),
                    odata::wire_to_val(*ty, b.data.get(f)),
                );
                let ord = order_vals(&va, &vb);
                let ord = if *desc { ord.reverse() } else { ord };
                if ord != std::cmp::Ordering::Equal {
                    return ord;
                }
            }
            std::cmp::Ordering::Equal
        });
    }
    Ok(rows)
}

fn order_vals(a: &Val, b: &Val) -> std::cmp::Ordering {
    use std::cmp::Ordering::*;
    match (a, b) {
        (Val::Null, Val::Null) => Equal,
        (Val::Null, _) => Less,
        (_, Val::Null) => Greater,
        (Val::Str(x) | Val::Guid(x), Val::Str(y) | Val::Guid(y)) => {
            x.to_lowercase().cmp(&y.to_lowercase())
        }
        (Val::Num(x), Val::Num(y)) => x.cmp(y),
        (Val::Date(x), Val::Date(y)) => x.cmp(y),
        (Val::Bool(x), Val::Bool(y)) => x.cmp(y),
        _ => Equal,
    }
}

fn count_rows(ctx: &QueryCtx<'_>, rows: Vec<(String, Record)>) -> Result<usize, ApiError> {
    Ok(filtered(ctx, rows, true)?.len())
}

fn run_query(
    ctx: &QueryCtx<'_>,
    st: &Store,
    rows: Vec<(String, Record)>,
) -> Result<Value, ApiError> {
    let sel = Selection::parse(ctx)?;
    let rows = filtered(ctx, rows, false)?;
    let total = rows.len();
    let top = match ctx.param("$top") {
        Some(t) => Some(
            t.trim()
                .parse::<usize>()
                .map_err(|_| ApiError::bad("Invalid value for $top."))?,
        ),
        None => None,
    };
    if ctx.param("$skip").is_some()
        && matches!(ctx.kind, Kind::Bulk | Kind::Sync)
        && ctx.sh.config.skip_refused_on_new_endpoints
    {
        // Bulk (2019) and sync (2020) endpoints are newer than March 2017: no `$skip` there (§1.5).
        return Err(ApiError::bad(
            "The query parameter '$skip' is not supported on this endpoint. Use the __next link ($skiptoken) to page.",
        ));
    }
    let skip = match ctx.param("$skip") {
        Some(t) => t
            .trim()
            .parse::<usize>()
            .map_err(|_| ApiError::bad("Invalid value for $skip."))?,
        None => 0,
    };
    let start = match ctx.param("$skiptoken") {
        None => 0,
        Some(tok) => {
            let (_, token) = split_key(&format!("x({})", tok.trim()))?;
            let token = token.unwrap_or_default();
            match rows
                .iter()
                .position(|(k, _)| k.eq_ignore_ascii_case(&token))
            {
                Some(i) => i + 1,
                // The row was deleted meanwhile: continue after where it would have been.
                None if ctx.int_keys() => {
                    let t: i64 = token.parse().unwrap_or(i64::MAX);
                    rows.iter()
                        .position(|(k, _)| k.parse::<i64>().unwrap_or(0) > t)
                        .unwrap_or(rows.len())
                }
                None => rows
                    .iter()
                    .position(|(k, _)| k.as_str() > token.as_str())
                    .unwrap_or(rows.len()),
            }
        }
    } + skip;
    let page_size = ctx.page_size();
    let take = top.map_or(page_size, |t| t.min(page_size));
    let page: Vec<&(String, Record)> = rows.iter().skip(start).take(take).collect();
    let mut results = Vec::with_capacity(page.len());
    for (k, r) in &page {
        results.push(format_row(ctx, st, k, r, &sel));
    }
    let mut d = Map::new();
    d.insert("results".into(), Value::Array(results));
    if ctx
        .param("$inlinecount")
        .is_some_and(|v| v.eq_ignore_ascii_case("allpages"))
    {
        d.insert("__count".into(), json!(total.to_string()));
    }
    // A full page always gets a `__next`, even when nothing follows (the extra empty page on exact multiples).
    let more_allowed = top.is_none_or(|t| t > page_size);
    if page.len() == page_size
        && more_allowed
        && let Some((last_key, _)) = page.last()
    {
        let mut q: Vec<String> = ctx
            .params
            .iter()
            .filter(|(k, _)| {
                !["$skiptoken", "$top", "$skip"]
                    .iter()
                    .any(|n| k.eq_ignore_ascii_case(n))
            })
            .map(|(k, v)| {
                format!(
                    "{}={}",
                    odata::encode_query_value(k),
                    odata::encode_query_value(v)
                )
            })
            .collect();
        if let Some(t) = top {
            q.push(format!("$top={}", t - page_size));
        }
        q.push(format!(
            "$skiptoken={}",
            odata::encode_query_value(&key_literal(ctx, last_key))
        ));
        let path = if ctx.def.path == model::ME {
            "current/Me".to_owned()
        } else {
            format!("{}/{}", ctx.division, ctx.request_path)
        };
        d.insert(
            "__next".into(),
            json!(format!("{}/api/v1/{}?{}", ctx.base, path, q.join("&"))),
        );
    }
    Ok(Value::Object(d))
}
