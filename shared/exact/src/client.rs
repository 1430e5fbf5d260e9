//! The HTTP core: one place that authenticates, takes from the rate budget, sends, classifies and retries.
//!
//! Retry rules (`exact-online-api.md` §3–4, §7):
//! - retried with exponential backoff and full jitter (slept on the injected clock): connection failures
//!   of idempotent requests (GET/PUT/DELETE), a POST that provably never left (connect error), 5xx without
//!   a validation envelope on idempotent requests;
//! - waited out and retried: a minutely 429 (until `X-RateLimit-Minutely-Reset`, else the next minute);
//! - never retried: validation (500/400 envelopes), 400/401/403/404 (they count toward Exact's
//!   10-errors-per-hour block), a daily 429 (`RateLimited { daily: true }`), and a POST whose outcome is
//!   unknown (`OutcomeUnknown`): its response was lost after it was sent (reset, timeout), or it got any 5xx
//!   (a gateway's 502/503/504 can come after the server committed) — [`crate::once`] looks it up;
//! - a 401 gets exactly one retry with a token from [`TokenManager::after_unauthorized`], which refuses to
//!   refresh before 570 s from issue.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use ledgerlink_clock::SharedClock;
use ledgerlink_ports::{RateBudget, TokenStore};
use rand::Rng;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use url::Url;

use crate::config::ExactConfig;
use crate::error::{ExactError, ExactResult};
use crate::odata::{self, ListPage, Query};
use crate::rate::{RateLimiter, next_minute, parse_rate_headers};
use crate::token::{AccessToken, ReconnectHook, TokenManager};

/// The ports the client shares with every other process of the same connection.
#[derive(Debug, Clone)]
pub struct ClientPorts {
    pub tokens: Arc<dyn TokenStore>,
    pub rate: Arc<dyn RateBudget>,
    pub clock: SharedClock,
}

/// Whether a call is charged to the division's rate budget (everything under `/api/v1/{division}/`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    Division,
    Global,
}

/// One decoded HTTP exchange.
#[derive(Debug)]
pub(crate) struct Reply {
    pub body: String,
}

/// A client of one Exact Online division. Clone freely: clones share the HTTP pool, tokens and limiter.
#[derive(Debug, Clone)]
pub struct ExactClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: Arc<ExactConfig>,
    http: reqwest::Client,
    tokens: TokenManager,
    limiter: RateLimiter,
    clock: SharedClock,
    /// Set once Exact refused a `$filter` on journal lines' `Notes` (the reference marks that filter
    /// uncertain): lookups then read the lines and compare `Notes` themselves, without asking again.
    notes_filter_refused: std::sync::atomic::AtomicBool,
}

impl ExactClient {
    /// Builds the client (rustls, no redirects: Exact never redirects API calls, and a redirect must not carry
    /// the bearer token elsewhere).
    pub fn new(
        config: ExactConfig,
        ports: ClientPorts,
        hook: Option<Arc<dyn ReconnectHook>>,
    ) -> ExactResult<Self> {
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(15))
            .pool_idle_timeout(Duration::from_secs(50))
            .user_agent(concat!("ledgerlink-exact/", env!("CARGO_PKG_VERSION")));
        if let Some(resolver) = &config.dns_resolver {
            builder = builder.dns_resolver(resolver.0.clone());
        }
        let http = builder.build().map_err(|e| {
            ExactError::config("could not build the HTTP client", Some(Box::new(e)))
        })?;
        let config = Arc::new(config);
        let tokens = TokenManager::new(
            config.clone(),
            ports.tokens,
            ports.clock.clone(),
            http.clone(),
            hook,
        );
        let limiter = RateLimiter::new(
            ports.rate,
            ports.clock.clone(),
            config.rate_key(),
            config.minute_reserve,
            config.max_rate_wait,
        );
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                http,
                tokens,
                limiter,
                clock: ports.clock,
                notes_filter_refused: std::sync::atomic::AtomicBool::new(false),
            }),
        })
    }

    /// Whether Exact refused filtering journal lines on `Notes` earlier.
    pub(crate) fn notes_filter_refused(&self) -> bool {
        self.inner
            .notes_filter_refused
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    pub(crate) fn remember_notes_filter_refused(&self) {
        self.inner
            .notes_filter_refused
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn config(&self) -> &ExactConfig {
        &self.inner.config
    }

    /// The token manager (first-consent code exchange, tests).
    pub fn tokens(&self) -> &TokenManager {
        &self.inner.tokens
    }

    pub(crate) fn clock(&self) -> &SharedClock {
        &self.inner.clock
    }

    // -----------------------------------------------------------------------------------------------------
    // Typed helpers over the core
    // -----------------------------------------------------------------------------------------------------

    /// One page of a division-scoped list.
    pub async fn list_page<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &Query,
    ) -> ExactResult<ListPage<T>> {
        let url = query.apply(&self.inner.config.division_url(path));
        self.page_at(&url).await
    }

    /// Every row of a division-scoped list, following `__next` (the full URL, sequentially) until a page has
    /// none. An empty trailing page (Exact sends one when the count is a multiple of the page size) ends it.
    pub async fn list_all<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &Query,
    ) -> ExactResult<Vec<T>> {
        let mut url = query.apply(&self.inner.config.division_url(path));
        let mut rows = Vec::new();
        let mut seen = std::collections::HashSet::new();
        loop {
            if !seen.insert(url.clone()) {
                return Err(ExactError::decode(
                    format!("paging loops back to {url}"),
                    None,
                ));
            }
            let page: ListPage<T> = self.page_at(&url).await?;
            let empty = page.items.is_empty();
            rows.extend(page.items);
            match page.next {
                Some(next) if !empty => url = next,
                _ => return Ok(rows),
            }
        }
    }

    /// One page at a full URL (a `__next` link). Only links on our own site are followed.
    pub async fn page_at<T: DeserializeOwned>(&self, url: &str) -> ExactResult<ListPage<T>> {
        let parsed = Url::parse(url)
            .map_err(|e| ExactError::decode(format!("bad page URL {url}"), Some(Box::new(e))))?;
        if !self.inner.config.is_same_site(&parsed) {
            return Err(ExactError::decode(
                format!("refusing to follow a link off the Exact site: {url}"),
                None,
            ));
        }
        let reply = self
            .send(Method::GET, url.to_owned(), None, Scope::Division, true)
            .await?;
        odata::decode_list(parse_json(&reply.body)?)
    }

    /// The first row matching `query` (sent with `$top=1`).
    pub async fn find_one<T: DeserializeOwned>(
        &self,
        path: &str,
        query: Query,
    ) -> ExactResult<Option<T>> {
        let page: ListPage<T> = self.list_page(path, &query.top(1)).await?;
        Ok(page.items.into_iter().next())
    }

    /// POSTs `body` and returns the created entity (`Prefer: return=representation`).
    pub async fn create<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> ExactResult<T> {
        let body = serde_json::to_value(body)
            .map_err(|e| ExactError::config("entity does not serialise", Some(Box::new(e))))?;
        let url = self.inner.config.division_url(path);
        let reply = self
            .send(Method::POST, url, Some(body), Scope::Division, true)
            .await?;
        // The POST committed: a body we cannot read must not make anyone post again.
        let value = parse_json(&reply.body).map_err(|e| ExactError::OutcomeUnknown {
            message: "created, but the response could not be decoded".to_owned(),
            source: Some(Box::new(e)),
        })?;
        odata::decode_single(value)?.ok_or_else(|| ExactError::OutcomeUnknown {
            message: "created, but the response was empty".to_owned(),
            source: None,
        })
    }

    /// PUTs a partial update to `path` (an entity key path such as `crm/Accounts(guid'…')`).
    pub async fn update<B: Serialize + ?Sized>(&self, path: &str, body: &B) -> ExactResult<()> {
        let body = serde_json::to_value(body)
            .map_err(|e| ExactError::config("entity does not serialise", Some(Box::new(e))))?;
        let url = self.inner.config.division_url(path);
        self.send(Method::PUT, url, Some(body), Scope::Division, true)
            .await
            .map(|_| ())
    }

    /// DELETEs an entity key path.
    pub async fn delete(&self, path: &str) -> ExactResult<()> {
        let url = self.inner.config.division_url(path);
        self.send(Method::DELETE, url, None, Scope::Division, true)
            .await
            .map(|_| ())
    }

    /// `GET …/$count` (plain text; sent without `Accept: application/json`, as Exact requires).
    pub async fn count(&self, path: &str, query: &Query) -> ExactResult<u64> {
        let url = query.apply(&format!("{}/$count", self.inner.config.division_url(path)));
        let reply = self
            .send(Method::GET, url, None, Scope::Division, false)
            .await?;
        reply.body.trim().parse().map_err(|e| {
            ExactError::decode(
                format!("$count is not a number: {:?}", reply.body),
                Some(Box::new(e)),
            )
        })
    }

    /// A call without a division (e.g. `current/Me`): not charged to the division's budget.
    pub async fn get_global<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &Query,
    ) -> ExactResult<Option<T>> {
        let url = query.apply(&self.inner.config.api_url(path));
        let reply = self
            .send(Method::GET, url, None, Scope::Global, true)
            .await?;
        odata::decode_single(parse_json(&reply.body)?)
    }

    // -----------------------------------------------------------------------------------------------------
    // The core
    // -----------------------------------------------------------------------------------------------------

    async fn send(
        &self,
        method: Method,
        url: String,
        body: Option<Value>,
        scope: Scope,
        json: bool,
    ) -> ExactResult<Reply> {
        let inner = &self.inner;
        let policy = inner.config.retry;
        let idempotent = method != Method::POST;
        let mut renewed: Option<AccessToken> = None;
        let mut attempt: u32 = 0;
        let mut waits_429: u32 = 0;
        let mut reauthenticated = false;
        loop {
            attempt += 1;
            if scope == Scope::Division {
                inner.limiter.acquire().await?;
            }
            // Read per attempt: waits can outlast a token, and other workers may have refreshed meanwhile.
            let token = match renewed.take() {
                Some(token) => token,
                None => inner.tokens.access_token().await?,
            };
            let outcome = self
                .send_once(&method, &url, body.as_ref(), &token, json)
                .await;
            let (status, headers, text) = match outcome {
                Ok(parts) => parts,
                Err(Lost {
                    error,
                    may_have_arrived,
                }) => {
                    if !idempotent && may_have_arrived {
                        return Err(ExactError::OutcomeUnknown {
                            message: format!(
                                "{method} {} sent but its response was lost",
                                redact_query(&url)
                            ),
                            source: Some(Box::new(error)),
                        });
                    }
                    if attempt < policy.max_attempts {
                        tracing::debug!(%method, url = %redact_query(&url), attempt, error = %error, "connection failure; retrying");
                        self.backoff(attempt).await;
                        continue;
                    }
                    return Err(ExactError::transient(
                        format!(
                            "{method} {} failed after {attempt} attempts",
                            redact_query(&url)
                        ),
                        Some(Box::new(error)),
                    ));
                }
            };
            let rate = parse_rate_headers(&headers);
            // Only an answer to an accepted token counts: a host that refuses our token has not shown it
            // is the Exact site that issued it, so its rate headers are not trusted.
            let authenticated = !matches!(
                status,
                reqwest::StatusCode::UNAUTHORIZED | reqwest::StatusCode::FORBIDDEN
            );
            if scope == Scope::Division
                && authenticated
                && let Err(e) = inner.limiter.observe(&rate).await
            {
                tracing::warn!(error = %e, "could not record the rate headers");
            }
            if status.is_success() {
                return Ok(Reply { body: text });
            }
            match classify(status, &headers, &text, idempotent) {
                Verdict::Fail(e) => return Err(e),
                Verdict::Reauthenticate => {
                    if reauthenticated {
                        return Err(ExactError::Unauthorized {
                            reason: "access token refused twice in a row".to_owned(),
                        });
                    }
                    reauthenticated = true;
                    renewed = Some(inner.tokens.after_unauthorized(&token).await?);
                    attempt -= 1;
                }
                Verdict::Blocked => {
                    let until = inner.clock.now() + chrono::Duration::hours(1);
                    tracing::warn!(url = %redact_query(&url), %until, "Exact blocked this endpoint for too many errors");
                    return Err(ExactError::RateLimited {
                        until,
                        daily: false,
                    });
                }
                Verdict::RateLimitedDaily(until) => {
                    let until = until.unwrap_or_else(|| next_utc_midnight(inner.clock.now()));
                    return Err(ExactError::RateLimited { until, daily: true });
                }
                Verdict::RateLimitedMinute(reset) => {
                    waits_429 += 1;
                    if waits_429 > policy.max_429_waits {
                        let until = reset.unwrap_or_else(|| next_minute(inner.clock.now()));
                        return Err(ExactError::RateLimited {
                            until,
                            daily: false,
                        });
                    }
                    tracing::debug!(url = %redact_query(&url), "minutely 429; waiting for the reset");
                    inner.limiter.wait_minute_reset(reset).await?;
                    attempt -= 1;
                }
                Verdict::Retry(e) => {
                    if attempt >= policy.max_attempts {
                        return Err(e);
                    }
                    tracing::debug!(%method, url = %redact_query(&url), attempt, %status, "transient failure; retrying");
                    self.backoff(attempt).await;
                }
            }
        }
    }

    async fn send_once(
        &self,
        method: &Method,
        url: &str,
        body: Option<&Value>,
        token: &AccessToken,
        json: bool,
    ) -> Result<(StatusCode, HeaderMap, String), Lost> {
        let inner = &self.inner;
        let mut request = inner
            .http
            .request(method.clone(), url)
            .bearer_auth(token.value.expose())
            .timeout(inner.config.request_timeout);
        if json {
            request = request.header(ACCEPT, "application/json");
        }
        if *method == Method::POST {
            request = request.header("Prefer", "return=representation");
        }
        if let Some(body) = body {
            request = request.header(CONTENT_TYPE, "application/json").json(body);
        }
        let response = request.send().await.map_err(|error| {
            // The URL's query can hold customer data (filters); keep it out of error chains.
            let error = error.without_url();
            // A connect error means nothing was sent; anything later (reset, timeout) may have arrived.
            let may_have_arrived = !(error.is_connect() || error.is_builder());
            Lost {
                error,
                may_have_arrived,
            }
        })?;
        if *method == Method::POST {
            ledgerlink_ports::crash::point(ledgerlink_ports::crash::CrashPoint::AfterRequestSent);
        }
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.map_err(|error| Lost {
            error: error.without_url(),
            may_have_arrived: true,
        })?;
        Ok((status, headers, text))
    }

    async fn backoff(&self, attempt: u32) {
        let policy = self.inner.config.retry;
        self.inner
            .clock
            .sleep(jittered_backoff(
                policy.base_delay,
                policy.max_delay,
                attempt,
            ))
            .await;
    }
}

/// A request whose response never arrived.
struct Lost {
    error: reqwest::Error,
    may_have_arrived: bool,
}

/// What to do with a non-2xx response.
#[derive(Debug)]
enum Verdict {
    Fail(ExactError),
    Retry(ExactError),
    Reauthenticate,
    RateLimitedMinute(Option<DateTime<Utc>>),
    RateLimitedDaily(Option<DateTime<Utc>>),
    /// The hourly error-budget block.
    Blocked,
}

fn classify(status: StatusCode, headers: &HeaderMap, body: &str, idempotent: bool) -> Verdict {
    let messages = odata::error_messages(body);
    let reason_header = headers
        .get("Reason")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let snippet = || body.trim().chars().take(200).collect::<String>();
    match status.as_u16() {
        401 => Verdict::Reauthenticate,
        403 => Verdict::Fail(ExactError::Forbidden {
            reason: reason_header
                .or_else(|| messages.map(|m| m.join("; ")))
                .unwrap_or_else(snippet),
        }),
        404 => Verdict::Fail(ExactError::NotFound {
            what: messages.map(|m| m.join("; ")).unwrap_or_else(snippet),
        }),
        429 => {
            let parsed = parse_rate_headers(headers);
            let rate = parsed.observation;
            let daily =
                rate.day_remaining == Some(0) && rate.minute_remaining.is_none_or(|m| m > 0);
            // Exact's error-budget block (10 × 400/401/403/404 per endpoint and hour) is a 429 without rate
            // headers whose message speaks of errors; retrying within the hour only extends it.
            let blocked = parsed.is_empty()
                && messages
                    .as_ref()
                    .is_some_and(|m| m.iter().any(|t| t.to_ascii_lowercase().contains("error")));
            if blocked {
                Verdict::Blocked
            } else if daily {
                Verdict::RateLimitedDaily(rate.day_reset)
            } else {
                Verdict::RateLimitedMinute(rate.minute_reset)
            }
        }
        400 => Verdict::Fail(ExactError::Validation {
            messages: messages.unwrap_or_else(|| vec![format!("HTTP 400: {}", snippet())]),
        }),
        500 if messages.is_some() => Verdict::Fail(ExactError::Validation {
            messages: messages.unwrap_or_default(),
        }),
        503 if idempotent => Verdict::Retry(ExactError::transient(
            format!("HTTP 503: {}", snippet()),
            None,
        )),
        s if s >= 500 && idempotent => Verdict::Retry(ExactError::transient(
            format!("HTTP {s}: {}", snippet()),
            None,
        )),
        s if s >= 500 => Verdict::Fail(ExactError::OutcomeUnknown {
            message: format!(
                "HTTP {s} on a POST: Exact may have committed it ({})",
                snippet()
            ),
            source: None,
        }),
        s => Verdict::Fail(ExactError::decode(
            format!("unexpected HTTP {s}: {}", snippet()),
            None,
        )),
    }
}

/// Full-jitter exponential backoff: a random delay in `0..=min(max, base·2^(attempt-1))`.
fn jittered_backoff(base: Duration, max: Duration, attempt: u32) -> Duration {
    let exp = base.saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1).min(16)));
    let cap = exp.min(max);
    let cap_ms = u64::try_from(cap.as_millis()).unwrap_or(u64::MAX);
    Duration::from_millis(rand::rng().random_range(0..=cap_ms))
}

fn next_utc_midnight(now: DateTime<Utc>) -> DateTime<Utc> {
    let tomorrow = now.date_naive().succ_opt().unwrap_or(now.date_naive());
    tomorrow
        .and_hms_opt(0, 0, 0)
        .map(|d| d.and_utc())
        .unwrap_or(now + chrono::Duration::days(1))
}

/// The body as JSON, amounts kept as their text (never a float on the way to a decimal).
fn parse_json(body: &str) -> ExactResult<Value> {
    ledgerlink_domain::json::parse_lossless(body).map_err(|e| {
        ExactError::decode(
            "response is not JSON (was Accept: application/json honoured?)",
            Some(Box::new(e)),
        )
    })
}

/// A URL for logs: the path only (filters can hold customer data such as names).
fn redact_query(url: &str) -> String {
    url.split('?').next().unwrap_or(url).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn a_validation_500_is_permanent_with_split_messages() {
        let body = r#"{"error":{"code":"","message":{"lang":"","value":"Mandatory: Relationship\r\nInvalid reference: Cost unit"}}}"#;
        match classify(
            StatusCode::INTERNAL_SERVER_ERROR,
            &HeaderMap::new(),
            body,
            false,
        ) {
            Verdict::Fail(ExactError::Validation { messages }) => {
                assert_eq!(
                    messages,
                    vec!["Mandatory: Relationship", "Invalid reference: Cost unit"]
                );
            }
            other => panic!("expected validation, got {other:?}"),
        }
    }

    #[test]
    fn a_503_is_retried_on_a_read_and_any_5xx_on_a_post_is_outcome_unknown() {
        assert!(matches!(
            classify(
                StatusCode::SERVICE_UNAVAILABLE,
                &HeaderMap::new(),
                "down",
                true
            ),
            Verdict::Retry(_)
        ));
        for status in [500, 502, 503, 504] {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
            assert!(
                matches!(
                    classify(status, &HeaderMap::new(), "", false),
                    Verdict::Fail(ExactError::OutcomeUnknown { .. })
                ),
                "a bare {status} on a POST may come after the commit: never resent blindly"
            );
        }
        assert!(matches!(
            classify(
                StatusCode::INTERNAL_SERVER_ERROR,
                &HeaderMap::new(),
                "",
                true
            ),
            Verdict::Retry(_)
        ));
        assert!(matches!(
            classify(
                StatusCode::INTERNAL_SERVER_ERROR,
                &HeaderMap::new(),
                "",
                false
            ),
            Verdict::Fail(ExactError::OutcomeUnknown { .. })
        ));
    }

    #[test]
    fn client_errors_that_count_toward_the_error_budget_are_never_retried() {
        let h = HeaderMap::new();
        assert!(matches!(
            classify(StatusCode::NOT_FOUND, &h, "", true),
            Verdict::Fail(ExactError::NotFound { .. })
        ));
        assert!(matches!(
            classify(StatusCode::BAD_REQUEST, &h, "Please add a $select", true),
            Verdict::Fail(ExactError::Validation { .. })
        ));
        let mut h = HeaderMap::new();
        h.insert("Reason", HeaderValue::from_static("NoDivisionAccess"));
        assert!(
            matches!(classify(StatusCode::FORBIDDEN, &h, "", true), Verdict::Fail(ExactError::Forbidden { ref reason }) if reason == "NoDivisionAccess")
        );
        assert!(matches!(
            classify(StatusCode::UNAUTHORIZED, &HeaderMap::new(), "", true),
            Verdict::Reauthenticate
        ));
    }

    #[test]
    fn a_429_with_only_daily_headers_is_daily_and_one_without_headers_is_minutely() {
        let mut h = HeaderMap::new();
        h.insert("X-RateLimit-Remaining", HeaderValue::from_static("0"));
        h.insert(
            "X-RateLimit-Reset",
            HeaderValue::from_static("1638489600000"),
        );
        assert!(matches!(
            classify(StatusCode::TOO_MANY_REQUESTS, &h, "", true),
            Verdict::RateLimitedDaily(Some(_))
        ));
        assert!(matches!(
            classify(StatusCode::TOO_MANY_REQUESTS, &HeaderMap::new(), "", true),
            Verdict::RateLimitedMinute(None)
        ));
        let mut h = HeaderMap::new();
        h.insert(
            "X-RateLimit-Minutely-Remaining",
            HeaderValue::from_static("0"),
        );
        h.insert(
            "X-RateLimit-Minutely-Reset",
            HeaderValue::from_static("1638447360000"),
        );
        assert!(matches!(
            classify(StatusCode::TOO_MANY_REQUESTS, &h, "", true),
            Verdict::RateLimitedMinute(Some(_))
        ));
    }

    #[test]
    fn a_429_without_rate_headers_that_speaks_of_errors_is_the_error_budget_block() {
        let body = r#"{"error":{"code":"","message":{"lang":"","value":"API rate limit exceeded: more than 10 errors (400, 401, 403, 404) on this endpoint within an hour"}}}"#;
        assert!(matches!(
            classify(StatusCode::TOO_MANY_REQUESTS, &HeaderMap::new(), body, true),
            Verdict::Blocked
        ));
        let plain =
            r#"{"error":{"code":"","message":{"lang":"","value":"API rate limit exceeded."}}}"#;
        assert!(matches!(
            classify(
                StatusCode::TOO_MANY_REQUESTS,
                &HeaderMap::new(),
                plain,
                true
            ),
            Verdict::RateLimitedMinute(None)
        ));
    }

    #[test]
    fn backoff_grows_but_stays_under_its_cap() {
        for attempt in 1..10 {
            let d = jittered_backoff(Duration::from_millis(100), Duration::from_secs(2), attempt);
            assert!(d <= Duration::from_secs(2));
            assert!(d <= Duration::from_millis(100) * 2u32.pow(attempt - 1));
        }
    }

    #[test]
    fn the_daily_reset_defaults_to_the_next_utc_midnight() {
        let now = DateTime::parse_from_rfc3339("2026-06-15T10:00:00Z")
            .map(|d| d.with_timezone(&Utc))
            .unwrap_or_default();
        assert_eq!(
            next_utc_midnight(now).to_rfc3339(),
            "2026-06-16T00:00:00+00:00"
        );
    }

    #[test]
    fn logged_urls_drop_their_query() {
        assert_eq!(
            redact_query("http://x/api/v1/1/crm/Accounts?$filter=Name eq 'secret'"),
            "http://x/api/v1/1/crm/Accounts"
        );
    }
}
