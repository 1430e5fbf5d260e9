//! The token manager: obtains, caches, renews and shares Vantagepoint bearer tokens through the
//! [`TokenStore`] port, so every worker of a tenant uses one token and only one of them renews it at a time.
//!
//! - Password grant (form-encoded, `Integrated=N`) for the first token and whenever a refresh is refused.
//! - Refresh grant when a refresh token is known; `expires_in` honoured (number or string), renewed 60 s early.
//! - Single flight: in-process a mutex; across processes the store's lease, with a re-read after acquiring it
//!   (another worker may have renewed meanwhile).
//! - A token the API refused (401) is "stale": renewal replaces it even if its expiry says it is fresh.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use ledgerlink_clock::SharedClock;
use ledgerlink_ports::{LeaseOutcome, TokenRecord, TokenStore};
use serde_json::Value;
use url::Url;

use crate::config::VantagepointConfig;
use crate::error::VpError;
use crate::http::{RawResponse, exchange};

/// Renew this long before the announced expiry.
pub const EARLY_RENEWAL: Duration = Duration::from_secs(60);
/// How long one worker may hold the renewal lease.
const LEASE: Duration = Duration::from_secs(30);
/// How often a waiting worker re-reads the store while another holds the lease.
const WAIT_STEP: Duration = Duration::from_millis(250);
/// VP's documented token lifetime, used when an answer omits `expires_in`.
const DEFAULT_EXPIRES_IN: i64 = 1799;

/// A grant answer from `/token`.
#[derive(Clone, PartialEq, Eq)]
struct Grant {
    access_token: String,
    refresh_token: Option<String>,
    expires_in: i64,
}

/// Owns the tokens of one tenant's Vantagepoint connection.
pub struct TokenManager {
    http: reqwest::Client,
    config: Arc<VantagepointConfig>,
    token_url: Url,
    store: Arc<dyn TokenStore>,
    clock: SharedClock,
    connection: String,
    /// The endpoint tokens are obtained from and sent to; records of another issuer are never used.
    issuer: String,
    holder: String,
    cached: RwLock<Option<TokenRecord>>,
    renewing: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for TokenManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenManager")
            .field("connection", &self.connection)
            .field("holder", &self.holder)
            .finish()
    }
}

impl TokenManager {
    pub(crate) fn new(
        http: reqwest::Client,
        config: Arc<VantagepointConfig>,
        store: Arc<dyn TokenStore>,
        clock: SharedClock,
    ) -> Result<Self, VpError> {
        let token_url = config
            .base_url
            .join("api/token")
            .map_err(|e| VpError::Config {
                message: format!("cannot build the token URL: {e}"),
            })?;
        let connection = config.connection();
        let issuer = config.issuer();
        Ok(Self {
            http,
            config,
            token_url,
            store,
            clock,
            connection,
            issuer,
            holder: format!("vp-{}", uuid::Uuid::new_v4().simple()),
            cached: RwLock::new(None),
            renewing: tokio::sync::Mutex::new(()),
        })
    }

    /// The TokenStore connection name (`vantagepoint:<tenant>`).
    pub fn connection(&self) -> &str {
        &self.connection
    }

    fn fresh(&self, record: &TokenRecord, now: DateTime<Utc>) -> bool {
        let early = chrono::Duration::from_std(EARLY_RENEWAL)
            .unwrap_or_else(|_| chrono::Duration::seconds(60));
        self.issued_here(record)
            && !record.access_token.is_empty()
            && now + early < record.access_expires_at
    }

    /// Whether `record` was issued by this connection's endpoint (tokens of another host are never sent).
    fn issued_here(&self, record: &TokenRecord) -> bool {
        record.issuer == self.issuer
    }

    fn cached(&self) -> Option<TokenRecord> {
        self.cached
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn remember(&self, record: &TokenRecord) {
        *self.cached.write().unwrap_or_else(|p| p.into_inner()) = Some(record.clone());
    }

    /// A bearer token that is valid for at least the early-renewal margin.
    pub async fn access_token(&self) -> Result<String, VpError> {
        let now = self.clock.now();
        if let Some(rec) = self.cached().filter(|r| self.fresh(r, now)) {
            return Ok(rec.access_token);
        }
        self.renew(None).await
    }

    /// Replaces `stale` (a token the API just refused) unless someone already did, and returns the new one.
    pub async fn renew_after_rejection(&self, stale: &str) -> Result<String, VpError> {
        self.renew(Some(stale)).await
    }

    async fn renew(&self, stale: Option<&str>) -> Result<String, VpError> {
        let _single_flight = self.renewing.lock().await;
        let usable = |rec: &TokenRecord, now| {
            self.fresh(rec, now) && Some(rec.access_token.as_str()) != stale
        };
        // Someone in this process may have renewed while we waited for the mutex.
        if let Some(rec) = self.cached().filter(|r| usable(r, self.clock.now())) {
            return Ok(rec.access_token);
        }
        // Another process may have renewed.
        if let Some(rec) = self.store.load(&self.connection).await?
            && usable(&rec, self.clock.now())
        {
            self.remember(&rec);
            return Ok(rec.access_token);
        }
        let give_up_at = self.clock.now()
            + chrono::Duration::from_std(LEASE * 2).unwrap_or(chrono::Duration::MAX);
        loop {
            let now = self.clock.now();
            match self
                .store
                .try_lease(&self.connection, &self.holder, LEASE, now)
                .await?
            {
                LeaseOutcome::Acquired => {
                    // Re-read under the lease: the previous holder may have saved fresh tokens.
                    let stored = match self.store.load(&self.connection).await {
                        Ok(c) => c,
                        Err(e) => {
                            self.release().await;
                            return Err(e.into());
                        }
                    };
                    let generation = stored.as_ref().map_or(0, |c| c.generation);
                    // Tokens another endpoint issued (the base URL changed) are discarded, never sent.
                    let current = stored.filter(|r| self.issued_here(r));
                    if let Some(rec) = current.as_ref().filter(|r| usable(r, self.clock.now())) {
                        self.release().await;
                        self.remember(rec);
                        return Ok(rec.access_token.clone());
                    }
                    let grant = match self.obtain(current.as_ref()).await {
                        Ok(g) => g,
                        Err(e) => {
                            self.release().await;
                            return Err(e);
                        }
                    };
                    let issued = self.clock.now();
                    let record = TokenRecord {
                        connection: self.connection.clone(),
                        issuer: self.issuer.clone(),
                        access_token: grant.access_token,
                        refresh_token: grant
                            .refresh_token
                            .or_else(|| current.as_ref().map(|c| c.refresh_token.clone()))
                            .unwrap_or_default(),
                        access_expires_at: issued + chrono::Duration::seconds(grant.expires_in),
                        issued_at: issued,
                        generation,
                    };
                    let saved = match self.store.save_and_release(&record, &self.holder).await {
                        Ok(saved) => saved,
                        Err(e) => {
                            self.release().await;
                            return Err(e.into());
                        }
                    };
                    self.remember(&saved);
                    tracing::info!(connection = %self.connection, generation = saved.generation, "Vantagepoint token renewed");
                    return Ok(saved.access_token);
                }
                LeaseOutcome::HeldByOther { until } => {
                    if now >= give_up_at {
                        return Err(VpError::Transient {
                            operation: "token renewal".into(),
                            message: "another worker holds the renewal lease".into(),
                            retry_after: (until - now).to_std().ok(),
                            source: None,
                        });
                    }
                    let step =
                        chrono::Duration::from_std(WAIT_STEP).unwrap_or(chrono::Duration::zero());
                    self.clock.sleep_until((now + step).min(until)).await;
                    if let Some(rec) = self.store.load(&self.connection).await?
                        && usable(&rec, self.clock.now())
                    {
                        self.remember(&rec);
                        return Ok(rec.access_token);
                    }
                }
            }
        }
    }

    async fn release(&self) {
        if let Err(e) = self.store.release(&self.connection, &self.holder).await {
            tracing::warn!(connection = %self.connection, error = %e, "could not release the token lease; it will expire");
        }
    }

    /// Refresh grant when possible; password grant when there is no refresh token or VP refuses it.
    async fn obtain(&self, current: Option<&TokenRecord>) -> Result<Grant, VpError> {
        if let Some(refresh) = current
            .map(|c| c.refresh_token.as_str())
            .filter(|r| !r.is_empty())
        {
            match self.refresh_grant(refresh).await {
                Ok(g) => return Ok(g),
                Err(VpError::Unauthorized { message }) => {
                    tracing::info!(connection = %self.connection, %message, "refresh token refused; using the password grant");
                }
                Err(e) => return Err(e),
            }
        }
        self.password_grant().await
    }

    async fn password_grant(&self) -> Result<Grant, VpError> {
        let c = &self.config;
        let mut form: Vec<(&str, &str)> = vec![
            ("Username", c.username.as_str()),
            ("Password", c.password.expose()),
            ("grant_type", "password"),
            ("Integrated", "N"),
            ("database", c.database.as_str()),
            ("Client_Id", c.client_id.as_str()),
            ("client_secret", c.client_secret.expose()),
        ];
        if let Some(culture) = c.culture.as_deref() {
            form.push(("culture", culture));
        }
        self.grant(&form, "password grant").await
    }

    async fn refresh_grant(&self, refresh_token: &str) -> Result<Grant, VpError> {
        let c = &self.config;
        let form: Vec<(&str, &str)> = vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("database", c.database.as_str()),
            ("client_id", c.client_id.as_str()),
            ("client_secret", c.client_secret.expose()),
        ];
        self.grant(&form, "refresh grant").await
    }

    async fn grant(&self, form: &[(&str, &str)], operation: &str) -> Result<Grant, VpError> {
        // One attempt: a transient failure surfaces as `Transient`, and the API call that needed the token
        // retries as a whole (with its backoff), so retries do not multiply.
        let request = self
            .http
            .post(self.token_url.clone())
            .form(form)
            .timeout(self.config.request_timeout);
        let raw = exchange(request, operation, true).await?;
        parse_grant(&raw, operation)
    }
}

impl std::fmt::Debug for Grant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Grant")
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

fn parse_grant(raw: &RawResponse, operation: &str) -> Result<Grant, VpError> {
    if !raw.status.is_success() {
        // OAuth errors (`invalid_grant`, `invalid_client`, `unsupported_grant_type`) all mean: these
        // credentials will not work; anything else is classified like any call.
        return Err(match raw.status.as_u16() {
            400 | 401 | 403 => VpError::Unauthorized {
                message: crate::http::error_message(&raw.body),
            },
            _ => crate::http::classify(raw, operation, true),
        });
    }
    let value: Value =
        serde_json::from_str(raw.body.trim()).map_err(|e| VpError::decode(operation, e))?;
    let value = crate::decode::unwrap_json_string(value);
    let access_token = value
        .get("access_token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| VpError::decode_msg(operation, "no access_token in the answer"))?
        .to_owned();
    let refresh_token = value
        .get("refresh_token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .map(str::to_owned);
    let expires_in = value
        .get("expires_in")
        .and_then(crate::decode::integer)
        .filter(|s| *s > 0)
        .unwrap_or(DEFAULT_EXPIRES_IN);
    Ok(Grant {
        access_token,
        refresh_token,
        expires_in,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use reqwest::StatusCode;

    fn raw(status: u16, body: &str) -> RawResponse {
        RawResponse {
            status: StatusCode::from_u16(status).unwrap(),
            body: body.to_owned(),
            retry_after: None,
        }
    }

    #[test]
    fn expires_in_is_accepted_as_a_number_or_a_string() {
        let n = parse_grant(&raw(200, r#"{"access_token":"a","token_type":"bearer","expires_in":1799,"refresh_token":"r"}"#), "g")
            .unwrap();
        let s = parse_grant(&raw(200, r#"{"access_token":"a","expires_in":"900"}"#), "g").unwrap();
        assert_eq!(n.expires_in, 1799);
        assert_eq!(n.refresh_token.as_deref(), Some("r"));
        assert_eq!(s.expires_in, 900);
        assert_eq!(s.refresh_token, None);
    }

    #[test]
    fn a_missing_expires_in_falls_back_to_vp_s_documented_lifetime() {
        let g = parse_grant(&raw(200, r#"{"access_token":"a"}"#), "g").unwrap();
        assert_eq!(g.expires_in, DEFAULT_EXPIRES_IN);
    }

    #[test]
    fn an_oauth_error_is_unauthorized_with_vp_s_description() {
        let err = parse_grant(
            &raw(
                400,
                r#"{"error":"invalid_grant","error_description":"bad password"}"#,
            ),
            "g",
        )
        .unwrap_err();
        match err {
            VpError::Unauthorized { message } => assert_eq!(message, "bad password"),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn an_answer_without_an_access_token_is_a_decode_error() {
        assert!(matches!(
            parse_grant(&raw(200, r#"{"token_type":"bearer"}"#), "g"),
            Err(VpError::Decode { .. })
        ));
    }
}
