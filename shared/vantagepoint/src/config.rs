//! Connection settings of one Vantagepoint tenant, and the [`Secret`] wrapper that keeps credentials out of
//! logs and `Debug` output.

use std::fmt;
use std::time::Duration;

use ledgerlink_domain::TenantId;
use url::Url;

use crate::error::VpError;

/// A credential (client secret, password, webhook secret). `Debug` and `Display` print `<redacted>`, so a
/// config or an error that carries one can be logged safely; the value is only reachable via [`Secret::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    /// The raw value, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

/// The DNS resolver the client connects through (e.g. one that refuses internal addresses).
#[derive(Clone)]
pub struct DnsResolver(pub std::sync::Arc<dyn reqwest::dns::Resolve>);

impl fmt::Debug for DnsResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DnsResolver")
    }
}

/// How often and how patiently a retryable failure is retried (exponential backoff with full jitter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in total, including the first (1 = no retry).
    pub max_attempts: u32,
    /// Backoff ceiling of the first retry; doubles per retry.
    pub base_delay: Duration,
    /// Upper bound of any single backoff (and of an honoured `Retry-After`).
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// One attempt only (tests of error classification).
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }
}

/// Everything needed to talk to one Vantagepoint database as one API user.
///
/// `base_url` is the instance root the customer knows (`https://host/Instance`, what Unionpoint calls
/// "Vantagepoint domain and path"); the client appends `/api/...` or `/vision/...` itself, because several
/// accounting-configuration endpoints only exist under `/vision`.
#[derive(Debug, Clone)]
pub struct VantagepointConfig {
    pub tenant: TenantId,
    pub base_url: Url,
    pub database: String,
    pub client_id: String,
    pub client_secret: Secret,
    pub username: String,
    pub password: Secret,
    /// Login language (e.g. `en-US`); must match the users' language or names come back "Text not translated".
    pub culture: Option<String>,
    pub retry: RetryPolicy,
    /// Timeout of one HTTP exchange.
    pub request_timeout: Duration,
    /// Rows per page for hub lists (`limit`/`offset`).
    pub page_size: u32,
    /// Row cap (`q.maxrows`) of one PSALedger / DataEntry read; a full page makes the poller split its window.
    pub ledger_max_rows: u32,
    /// The first wait before a write whose outcome is unknown is looked up; the look-ups follow
    /// `outcome_settle` × 1, 2, 4, 8 so a commit slower than one settle is still found before any resend.
    pub outcome_settle: Duration,
    /// Resolves host names at connect time; the system resolver when `None`.
    pub dns_resolver: Option<DnsResolver>,
}

impl VantagepointConfig {
    /// A config with default retry, timeout and paging settings. `base_url` may end with or without `/`, and
    /// a trailing `/api` is tolerated (and removed) because customers often paste the API URL.
    pub fn new(
        tenant: TenantId,
        base_url: &str,
        database: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: Secret,
        username: impl Into<String>,
        password: Secret,
    ) -> Result<Self, VpError> {
        let base_url = normalise_base_url(base_url)?;
        Ok(Self {
            tenant,
            base_url,
            database: database.into(),
            client_id: client_id.into(),
            client_secret,
            username: username.into(),
            password,
            culture: None,
            retry: RetryPolicy::default(),
            request_timeout: Duration::from_secs(60),
            page_size: 500,
            ledger_max_rows: 5000,
            outcome_settle: Duration::from_secs(5),
            dns_resolver: None,
        })
    }

    pub fn with_culture(mut self, culture: impl Into<String>) -> Self {
        self.culture = Some(culture.into());
        self
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The TokenStore connection name of this tenant.
    pub fn connection(&self) -> String {
        format!("vantagepoint:{}", self.tenant)
    }

    /// The endpoint this connection's tokens and credentials are bound to ([`ledgerlink_ports::issuer_of`]).
    pub fn issuer(&self) -> String {
        ledgerlink_ports::issuer_of(&self.base_url)
    }
}

/// The endpoint identity (issuer) of a Vantagepoint base URL, normalised as a client built on it would use
/// it: tokens, the client secret and the password are bound to it.
pub fn issuer(base_url: &str) -> Result<String, VpError> {
    normalise_base_url(base_url).map(|u| ledgerlink_ports::issuer_of(&u))
}

fn normalise_base_url(raw: &str) -> Result<Url, VpError> {
    let trimmed = raw.trim().trim_end_matches('/');
    let trimmed = trimmed.strip_suffix("/api").unwrap_or(trimmed);
    let url = Url::parse(&format!("{trimmed}/")).map_err(|e| VpError::Config {
        message: format!("base URL {raw:?} is not a URL: {e}"),
    })?;
    match url.scheme() {
        "https" | "http" => Ok(url),
        other => Err(VpError::Config {
            message: format!("base URL scheme {other:?} is not http(s)"),
        }),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn config(base: &str) -> VantagepointConfig {
        VantagepointConfig::new(
            TenantId::parse("acme").unwrap(),
            base,
            "DB",
            "cid",
            Secret::new("s3cr3t-value"),
            "api",
            Secret::new("hunter2"),
        )
        .unwrap()
    }

    #[test]
    fn debug_output_of_a_config_never_contains_the_secrets() {
        let text = format!("{:?}", config("https://vp.example.com/Acme"));
        assert!(!text.contains("s3cr3t-value"));
        assert!(!text.contains("hunter2"));
        assert!(text.contains("<redacted>"));
    }

    #[test]
    fn base_url_is_normalised_to_the_instance_root_with_a_trailing_slash() {
        assert_eq!(
            config("https://vp.example.com/Acme").base_url.as_str(),
            "https://vp.example.com/Acme/"
        );
        assert_eq!(
            config("https://vp.example.com/Acme/api/").base_url.as_str(),
            "https://vp.example.com/Acme/"
        );
    }

    #[test]
    fn a_base_url_that_is_not_http_is_refused() {
        let err = VantagepointConfig::new(
            TenantId::parse("acme").unwrap(),
            "ftp://vp.example.com",
            "DB",
            "cid",
            Secret::new("x"),
            "u",
            Secret::new("p"),
        )
        .unwrap_err();
        assert!(matches!(err, VpError::Config { .. }));
    }

    #[test]
    fn the_token_connection_is_named_after_the_tenant() {
        assert_eq!(
            config("https://vp.example.com/Acme").connection(),
            "vantagepoint:acme"
        );
    }
}
