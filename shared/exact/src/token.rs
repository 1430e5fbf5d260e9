//! OAuth tokens of one Exact connection, refreshed single-flight across every process that shares the
//! [`TokenStore`].
//!
//! Exact's rules (`exact-online-api.md` §2): access tokens live 600 s; a refresh before 570 s from issue is
//! refused (and counts as an error); every refresh rotates the refresh token, and using a rotated one kills
//! the connection ("Old refresh token used."). So:
//! 1. a worker refreshes only when the stored `issued_at` is at least 570 s old (or the token is due), never
//!    because a 401 came earlier;
//! 2. it first takes the store's refresh lease, then RE-READS the record: if the generation moved and the
//!    token is fresh, another worker already refreshed and that token is used;
//! 3. the new tokens are persisted (`save_and_release`) BEFORE the new access token is used;
//! 4. workers that lose the lease poll the store with a small backoff on the injected clock and re-read.
//!
//! A dead refresh token surfaces as [`ExactError::ReconnectNeeded`]; the optional [`ReconnectHook`] is
//! told too, so the caller can pause the connection.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ledgerlink_clock::SharedClock;
use ledgerlink_ports::{LeaseOutcome, StoreError, TokenRecord, TokenStore};
use serde::Deserialize;
use serde_json::Value;

use crate::config::{ExactConfig, Secret};
use crate::error::{ExactError, ExactResult};

/// Exact refuses a refresh earlier than this after the previous token was issued.
pub const REFRESH_NOT_BEFORE: Duration = Duration::from_secs(570);
/// A token is refreshed this long before it expires (or at [`REFRESH_NOT_BEFORE`], whichever is later).
const REFRESH_MARGIN: chrono::Duration = chrono::Duration::seconds(30);
/// A token closer than this to its expiry is not handed out (it could expire on the way to Exact).
const USABLE_MARGIN: chrono::Duration = chrono::Duration::seconds(5);
const POLL_START: Duration = Duration::from_millis(20);
const POLL_MAX: Duration = Duration::from_millis(250);

/// Told when a connection's refresh token is dead, so the owner can pause the connection and ask a user
/// to consent again.
#[async_trait]
pub trait ReconnectHook: Send + Sync + std::fmt::Debug {
    async fn reconnect_needed(&self, connection: &str, reason: &str);
}

/// An access token ready to use, with the generation it came from (to tell, after a 401, whether someone
/// else refreshed meanwhile).
#[derive(Debug, Clone)]
pub struct AccessToken {
    pub value: Secret,
    pub generation: u64,
    pub issued_at: DateTime<Utc>,
}

impl AccessToken {
    fn from_record(r: &TokenRecord) -> Self {
        Self {
            value: Secret::new(r.access_token.clone()),
            generation: r.generation,
            issued_at: r.issued_at,
        }
    }
}

/// The token endpoint's answer. `expires_in` arrives as the string `"600"` or a number.
#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    refresh_token: String,
    #[serde(default)]
    expires_in: Option<Value>,
}

#[derive(Deserialize)]
struct TokenErrorBody {
    #[serde(default)]
    error: String,
    #[serde(default)]
    error_description: String,
}

/// Reads `expires_in` whether it is a number or a numeric string; Exact's documented 600 s otherwise.
fn expires_in_seconds(value: Option<&Value>) -> i64 {
    let parsed = match value {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.trim().parse::<i64>().ok(),
        _ => None,
    };
    parsed.filter(|s| *s > 0).unwrap_or(600)
}

/// Manages the tokens of one connection. Cheap to share (`Arc`); every clone of the client uses one.
#[derive(Debug)]
pub struct TokenManager {
    config: Arc<ExactConfig>,
    store: Arc<dyn TokenStore>,
    clock: SharedClock,
    http: reqwest::Client,
    /// This process's name as lease holder.
    holder: String,
    hook: Option<Arc<dyn ReconnectHook>>,
    /// After Exact refused a refresh as too early, no new attempt before this instant (while the current
    /// token is still usable): every attempt is one more token call and one more error on Exact's side.
    refused_until: parking_lot::Mutex<Option<DateTime<Utc>>>,
}

/// How long to hold off after Exact called a refresh too early.
const TOO_EARLY_HOLD_OFF: chrono::Duration = chrono::Duration::seconds(10);

impl TokenManager {
    pub fn new(
        config: Arc<ExactConfig>,
        store: Arc<dyn TokenStore>,
        clock: SharedClock,
        http: reqwest::Client,
        hook: Option<Arc<dyn ReconnectHook>>,
    ) -> Self {
        let holder = format!("exact-client-{}", uuid::Uuid::new_v4());
        Self {
            config,
            store,
            clock,
            http,
            holder,
            hook,
            refused_until: parking_lot::Mutex::new(None),
        }
    }

    fn connection(&self) -> &str {
        &self.config.connection
    }

    /// When `record` should be refreshed: at expiry minus a margin, but never before 570 s from issue.
    fn refresh_due(record: &TokenRecord) -> DateTime<Utc> {
        let not_before = record.issued_at + not_before();
        (record.access_expires_at - REFRESH_MARGIN).max(not_before)
    }

    fn usable(&self, record: &TokenRecord) -> bool {
        self.clock.now() < record.access_expires_at - USABLE_MARGIN
    }

    async fn load(&self) -> ExactResult<TokenRecord> {
        match self.store.load(self.connection()).await {
            Ok(Some(r)) if r.issuer == self.config.issuer() => Ok(r),
            Ok(Some(_)) => Err(ExactError::ReconnectNeeded {
                connection: self.connection().to_owned(),
                reason: "the stored tokens were issued by another Exact site (the base URL changed); a user must consent again"
                    .to_owned(),
            }),
            Ok(None) => Err(ExactError::ReconnectNeeded {
                connection: self.connection().to_owned(),
                reason: "no tokens stored for this connection; a user must consent first"
                    .to_owned(),
            }),
            Err(e) => Err(ExactError::store("loading tokens", e)),
        }
    }

    /// A usable access token, refreshing (single-flight) when the stored one is due.
    pub async fn access_token(&self) -> ExactResult<AccessToken> {
        let record = self.load().await?;
        let now = self.clock.now();
        let held_off = (*self.refused_until.lock()).is_some_and(|until| now < until);
        if now < Self::refresh_due(&record) || (held_off && self.usable(&record)) {
            return Ok(AccessToken::from_record(&record));
        }
        self.refresh(record.generation, false).await
    }

    /// Called after Exact answered 401 to `used`. Returns a token to retry with, or `Unauthorized` when a
    /// refresh is not allowed yet (before 570 s from issue: asking the token endpoint would only be refused
    /// and count as another error).
    pub async fn after_unauthorized(&self, used: &AccessToken) -> ExactResult<AccessToken> {
        let record = self.load().await?;
        if record.generation != used.generation && self.usable(&record) {
            return Ok(AccessToken::from_record(&record));
        }
        let now = self.clock.now();
        if now < record.issued_at + not_before() {
            let age = (now - record.issued_at).num_seconds();
            return Err(ExactError::Unauthorized {
                reason: format!(
                    "access token refused {age} s after issue; Exact allows a refresh only after {} s",
                    REFRESH_NOT_BEFORE.as_secs()
                ),
            });
        }
        self.refresh(used.generation, true).await
    }

    /// Single-flight refresh. `seen` is the generation the caller found stale; `forced` refreshes even if
    /// the clock says the token is not due (after a 401 past the 570-second mark).
    async fn refresh(&self, seen: u64, forced: bool) -> ExactResult<AccessToken> {
        let deadline = self.clock.now()
            + chrono::Duration::from_std(self.config.refresh_lease + self.config.max_rate_wait)
                .unwrap_or(chrono::Duration::minutes(5));
        let mut poll = POLL_START;
        loop {
            let record = self.load().await?;
            let now = self.clock.now();
            if record.generation != seen && self.usable(&record) {
                return Ok(AccessToken::from_record(&record));
            }
            if !forced && now < Self::refresh_due(&record) {
                return Ok(AccessToken::from_record(&record));
            }
            let not_before = record.issued_at + not_before();
            if now < not_before {
                // Due by expiry but too young to refresh (a token shorter-lived than 570 s): use it while it
                // lasts, else wait for the window rather than be refused.
                if self.usable(&record) {
                    return Ok(AccessToken::from_record(&record));
                }
                if not_before > deadline {
                    return Err(ExactError::Unauthorized {
                        reason: "access token expired and Exact refuses a refresh this early"
                            .to_owned(),
                    });
                }
                self.clock.sleep_until(not_before).await;
                continue;
            }
            let lease = self
                .store
                .try_lease(
                    self.connection(),
                    &self.holder,
                    self.config.refresh_lease,
                    now,
                )
                .await
                .map_err(|e| ExactError::store("taking the refresh lease", e))?;
            match lease {
                LeaseOutcome::Acquired => return self.refresh_holding_lease(seen, forced).await,
                LeaseOutcome::HeldByOther { until } => {
                    if now >= deadline {
                        return Err(ExactError::transient(
                            format!(
                                "another worker has held the refresh lease of {} too long",
                                self.connection()
                            ),
                            None,
                        ));
                    }
                    let step = chrono::Duration::from_std(poll)
                        .unwrap_or(chrono::Duration::milliseconds(250));
                    self.clock
                        .sleep_until((now + step).min(until.max(now)))
                        .await;
                    tokio::task::yield_now().await;
                    poll = (poll * 2).min(POLL_MAX);
                }
            }
        }
    }

    async fn release(&self) {
        if let Err(e) = self.store.release(self.connection(), &self.holder).await {
            tracing::warn!(connection = %self.connection(), error = %e, "could not release the refresh lease");
        }
    }

    async fn refresh_holding_lease(&self, seen: u64, forced: bool) -> ExactResult<AccessToken> {
        // Re-read under the lease: another worker may have refreshed between our read and our lease.
        let record = match self.load().await {
            Ok(r) => r,
            Err(e) => {
                self.release().await;
                return Err(e);
            }
        };
        let now = self.clock.now();
        if (record.generation != seen && self.usable(&record))
            || (!forced && now < Self::refresh_due(&record))
            || now < record.issued_at + not_before()
        {
            self.release().await;
            return if self.usable(&record) {
                Ok(AccessToken::from_record(&record))
            } else {
                Err(ExactError::Unauthorized {
                    reason: "access token expired; refresh not yet allowed".to_owned(),
                })
            };
        }
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", record.refresh_token.as_str()),
            ("client_id", self.config.client_id.as_str()),
            ("client_secret", self.config.client_secret.expose()),
        ];
        let issued = match self.call_token_endpoint(&form).await {
            Ok(t) => t,
            Err(e) => {
                self.release().await;
                if let ExactError::ReconnectNeeded { reason, .. } = &e
                    && let Some(hook) = &self.hook
                {
                    hook.reconnect_needed(self.connection(), reason).await;
                }
                // "Too early" by Exact's clock (ours runs a little ahead): the current token still works.
                if matches!(e, ExactError::Unauthorized { .. }) && !forced && self.usable(&record) {
                    *self.refused_until.lock() = Some(self.clock.now() + TOO_EARLY_HOLD_OFF);
                    tracing::warn!(connection = %self.connection(), "Exact refused the refresh as too early; keeping the current token");
                    return Ok(AccessToken::from_record(&record));
                }
                return Err(e);
            }
        };
        let fresh = self.record_from(issued, record.generation);
        // Persist the rotated refresh token BEFORE the access token is used: the old one is dead now.
        let saved = match self.store.save_and_release(&fresh, &self.holder).await {
            Ok(saved) => saved,
            Err(StoreError::Conflict { .. }) => {
                // Our lease lapsed while the token call ran. The tokens we hold are the only live ones (the
                // refresh rotated the old refresh token), so they must be stored regardless.
                tracing::warn!(connection = %self.connection(), "refresh lease lapsed during the token call; storing anyway");
                self.store
                    .save_initial(&fresh)
                    .await
                    .map_err(|e| ExactError::store("saving refreshed tokens", e))?
            }
            Err(e) => {
                tracing::error!(connection = %self.connection(), error = %e, "refreshed tokens could not be saved");
                return Err(ExactError::store("saving refreshed tokens", e));
            }
        };
        tracing::info!(connection = %self.connection(), generation = saved.generation, "access token refreshed");
        Ok(AccessToken::from_record(&saved))
    }

    fn record_from(&self, response: TokenResponse, generation: u64) -> TokenRecord {
        let issued_at = self.clock.now();
        let lifetime = chrono::Duration::seconds(expires_in_seconds(response.expires_in.as_ref()));
        TokenRecord {
            connection: self.connection().to_owned(),
            issuer: self.config.issuer(),
            access_token: response.access_token,
            refresh_token: response.refresh_token,
            access_expires_at: issued_at + lifetime,
            issued_at,
            generation,
        }
    }

    /// First consent: exchanges the authorization code (URL-decoded, single use, valid 3 minutes) for
    /// tokens and stores them, replacing whatever the connection had.
    pub async fn exchange_authorization_code(&self, code: &str) -> ExactResult<TokenRecord> {
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", self.config.redirect_uri.as_str()),
            ("client_id", self.config.client_id.as_str()),
            ("client_secret", self.config.client_secret.expose()),
        ];
        let response = self.call_token_endpoint(&form).await?;
        let record = self.record_from(response, 0);
        self.store
            .save_initial(&record)
            .await
            .map_err(|e| ExactError::store("saving first tokens", e))
    }

    async fn call_token_endpoint(&self, form: &[(&str, &str)]) -> ExactResult<TokenResponse> {
        let sent = self
            .http
            .post(self.config.token_url())
            .header(reqwest::header::ACCEPT, "application/json")
            .form(form)
            .timeout(self.config.token_timeout)
            .send()
            .await;
        let response = match sent {
            Ok(r) => r,
            Err(e) => {
                // The URL has no secrets in it; the form body is never part of reqwest's error text.
                return Err(ExactError::transient(
                    format!(
                        "token endpoint unreachable or response lost (timeout: {})",
                        e.is_timeout()
                    ),
                    Some(Box::new(e)),
                ));
            }
        };
        let status = response.status();
        let reason_header = response
            .headers()
            .get("Reason")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .unwrap_or_default();
        let body = response
            .text()
            .await
            .map_err(|e| ExactError::transient("token response body lost", Some(Box::new(e))))?;
        if status.is_success() {
            return serde_json::from_str::<TokenResponse>(&body).map_err(|e| {
                ExactError::decode("token response is not the expected JSON", Some(Box::new(e)))
            });
        }
        let err: TokenErrorBody = serde_json::from_str(&body).unwrap_or(TokenErrorBody {
            error: String::new(),
            error_description: String::new(),
        });
        Err(classify_token_error(
            self.connection(),
            status.as_u16(),
            &err.error,
            &err.error_description,
            &reason_header,
        ))
    }
}

fn not_before() -> chrono::Duration {
    chrono::Duration::from_std(REFRESH_NOT_BEFORE).unwrap_or(chrono::Duration::seconds(570))
}

/// Classifies a token-endpoint failure. Dead refresh tokens become `ReconnectNeeded`; "too early" is
/// `Unauthorized` (the existing token stays in use); server trouble is transient.
fn classify_token_error(
    connection: &str,
    status: u16,
    error: &str,
    description: &str,
    reason: &str,
) -> ExactError {
    let text = format!("{error}: {description}").to_ascii_lowercase();
    let too_early = reason.contains("TooEarlyToRefreshTokens") || text.contains("not expired");
    if too_early {
        return ExactError::Unauthorized {
            reason: format!("token endpoint: refresh too early ({description})"),
        };
    }
    if status == 429 {
        return ExactError::transient("token endpoint rate limited", None);
    }
    if status >= 500 {
        return ExactError::transient(format!("token endpoint answered {status}"), None);
    }
    if error == "invalid_client" {
        return ExactError::config(
            format!("token endpoint refused the client credentials: {description}"),
            None,
        );
    }
    let dead = matches!(
        error,
        "invalid_grant" | "unauthorized_client" | "invalid_request"
    ) || text.contains("old refresh token")
        || text.contains("expired")
        || status == 401;
    if dead {
        return ExactError::ReconnectNeeded {
            connection: connection.to_owned(),
            reason: if description.is_empty() {
                format!("token endpoint answered {status} {error}")
            } else {
                description.to_owned()
            },
        };
    }
    ExactError::decode(
        format!("token endpoint answered {status} {error}: {description}"),
        None,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn expires_in_is_read_from_a_string_or_a_number() {
        assert_eq!(expires_in_seconds(Some(&json!("600"))), 600);
        assert_eq!(expires_in_seconds(Some(&json!(600))), 600);
        assert_eq!(expires_in_seconds(Some(&json!("abc"))), 600);
        assert_eq!(expires_in_seconds(None), 600);
        assert_eq!(expires_in_seconds(Some(&json!("300"))), 300);
    }

    #[test]
    fn a_rotated_refresh_token_means_reconnect() {
        let e = classify_token_error(
            "exact:t",
            401,
            "unauthorized_client",
            "Old refresh token used.",
            "",
        );
        assert!(
            matches!(e, ExactError::ReconnectNeeded { ref reason, .. } if reason == "Old refresh token used.")
        );
    }

    #[test]
    fn an_expired_refresh_token_and_invalid_grant_mean_reconnect() {
        let e = classify_token_error(
            "c",
            400,
            "invalid_request",
            "The refresh token expired at 11/3/2021",
            "",
        );
        assert!(matches!(e, ExactError::ReconnectNeeded { .. }));
        let e = classify_token_error("c", 400, "invalid_grant", "invalid or empty chainId", "");
        assert!(matches!(e, ExactError::ReconnectNeeded { .. }));
    }

    #[test]
    fn a_too_early_refresh_is_not_a_reconnect() {
        let e = classify_token_error(
            "c",
            400,
            "access_denied",
            "Rate limit exceeded: access_token not expired",
            "TooEarlyToRefreshTokens: Rate limit exceeded: access_token not expired",
        );
        assert!(matches!(e, ExactError::Unauthorized { .. }));
    }

    #[test]
    fn token_endpoint_server_errors_are_transient() {
        assert!(classify_token_error("c", 503, "", "", "").is_retryable());
        assert!(matches!(
            classify_token_error("c", 400, "invalid_client", "bad secret", ""),
            ExactError::Config { .. }
        ));
    }

    #[test]
    fn refresh_is_due_thirty_seconds_before_expiry_but_never_before_570_seconds() {
        let t0 = DateTime::parse_from_rfc3339("2026-06-15T10:00:00Z")
            .map(|d| d.with_timezone(&Utc))
            .unwrap_or_default();
        let mut r = TokenRecord {
            connection: "c".into(),
            issuer: String::new(),
            access_token: "a".into(),
            refresh_token: "r".into(),
            access_expires_at: t0 + chrono::Duration::seconds(600),
            issued_at: t0,
            generation: 1,
        };
        assert_eq!(
            TokenManager::refresh_due(&r),
            t0 + chrono::Duration::seconds(570)
        );
        r.access_expires_at = t0 + chrono::Duration::seconds(300);
        assert_eq!(
            TokenManager::refresh_due(&r),
            t0 + chrono::Duration::seconds(570)
        );
        r.access_expires_at = t0 + chrono::Duration::seconds(3600);
        assert_eq!(
            TokenManager::refresh_due(&r),
            t0 + chrono::Duration::seconds(3570)
        );
    }
}
