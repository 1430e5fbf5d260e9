//! Connection settings of one Exact Online division, and the secret wrapper that keeps them out of logs.

use std::fmt;
use std::time::Duration;

use ledgerlink_domain::{Division, TenantId};
use url::Url;

use crate::error::{ExactError, ExactResult};

/// A secret value (client secret, webhook secret, token). `Debug` and `Display` print `<redacted>`, so a
/// secret can sit in a config struct that is logged without leaking.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    /// The value, for the one place that must send it (a form body, an HMAC key).
    pub fn expose(&self) -> &str {
        &self.0
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

/// The DNS resolver the client connects through (e.g. one that refuses internal addresses).
#[derive(Clone)]
pub struct DnsResolver(pub std::sync::Arc<dyn reqwest::dns::Resolve>);

impl fmt::Debug for DnsResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DnsResolver")
    }
}

/// Retries of retryable failures: exponential backoff with full jitter, waited on the injected clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total attempts of one call, the first included (1 = no retry).
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// How many minutely 429s one call may wait out before giving up with `RateLimited`.
    pub max_429_waits: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(8),
            max_429_waits: 5,
        }
    }
}

/// Everything needed to talk to one division of one Exact Online site for one tenant.
#[derive(Debug, Clone)]
pub struct ExactConfig {
    /// The site, e.g. `https://start.exactonline.nl` (the emulator's URL in tests). No trailing path.
    pub base_url: Url,
    pub division: Division,
    /// The app's OAuth client id (a GUID); also half of the rate-budget key.
    pub client_id: String,
    pub client_secret: Secret,
    /// The redirect URI registered with the app; needed for the authorization-code exchange.
    pub redirect_uri: String,
    /// The token-store and log name of this connection: `exact:<tenant>`.
    pub connection: String,
    /// Timeout of one API request (connect + response).
    pub request_timeout: Duration,
    /// Timeout of one token-endpoint call. Generous: Exact's token calls take tens of seconds at night, and a
    /// refresh whose response we abandon has still rotated the refresh token.
    pub token_timeout: Duration,
    /// How long a worker holds the refresh lease; must exceed `token_timeout` so nobody else refreshes while
    /// our call is in flight.
    pub refresh_lease: Duration,
    /// Longest a call waits for the minute budget (or for another worker's refresh) before giving up.
    pub max_rate_wait: Duration,
    /// Calls per minute kept in reserve below the announced limit, to absorb requests that were granted at the
    /// end of one minute but arrive at Exact in the next.
    pub minute_reserve: u32,
    pub retry: RetryPolicy,
    /// After a POST whose outcome is unknown, how long to wait before looking the document up (lets a slow
    /// commit on Exact's side finish first).
    pub outcome_settle: Duration,
    /// Resolves host names at connect time; the system resolver when `None`.
    pub dns_resolver: Option<DnsResolver>,
}

impl ExactConfig {
    /// A configuration with production defaults. `base_url` must be an absolute http(s) URL.
    pub fn new(
        base_url: &str,
        division: Division,
        client_id: impl Into<String>,
        client_secret: Secret,
        redirect_uri: impl Into<String>,
        tenant: &TenantId,
    ) -> ExactResult<Self> {
        let base_url = normalise_base_url(base_url)?;
        Ok(Self {
            base_url,
            division,
            client_id: client_id.into(),
            client_secret,
            redirect_uri: redirect_uri.into(),
            connection: connection_name(tenant),
            request_timeout: Duration::from_secs(60),
            token_timeout: Duration::from_secs(90),
            refresh_lease: Duration::from_secs(150),
            max_rate_wait: Duration::from_secs(90),
            minute_reserve: 1,
            retry: RetryPolicy::default(),
            outcome_settle: Duration::from_secs(5),
            dns_resolver: None,
        })
    }

    /// `{base}/api/v1/{division}/{path}`.
    pub(crate) fn division_url(&self, path: &str) -> String {
        format!(
            "{}/api/v1/{}/{}",
            self.base_str(),
            self.division,
            path.trim_start_matches('/')
        )
    }

    /// `{base}/api/v1/{path}` for calls without a division (e.g. `current/Me`).
    pub(crate) fn api_url(&self, path: &str) -> String {
        format!(
            "{}/api/v1/{}",
            self.base_str(),
            path.trim_start_matches('/')
        )
    }

    pub(crate) fn token_url(&self) -> String {
        format!("{}/api/oauth2/token", self.base_str())
    }

    /// The consent URL a user opens once to connect the division (authorization-code grant).
    pub fn authorization_url(&self, state: &str) -> String {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("client_id", &self.client_id)
            .append_pair("redirect_uri", &self.redirect_uri)
            .append_pair("response_type", "code")
            .append_pair("state", state)
            .finish();
        format!("{}/api/oauth2/auth?{query}", self.base_str())
    }

    /// The key of this connection's division in the shared rate budget: `exact:<tenant>:<division>`. It
    /// belongs to the tenant's connection — never to values a tenant chooses (client id, division alone),
    /// so no tenant can spend or poison another's budget.
    pub fn rate_key(&self) -> String {
        format!("{}:{}", self.connection, self.division)
    }

    /// Whether `url` points at this site (we only ever send the bearer token there, `__next` links included).
    pub(crate) fn is_same_site(&self, url: &Url) -> bool {
        url.scheme() == self.base_url.scheme()
            && url.host_str() == self.base_url.host_str()
            && url.port_or_known_default() == self.base_url.port_or_known_default()
    }

    fn base_str(&self) -> &str {
        self.base_url.as_str().trim_end_matches('/')
    }

    /// The endpoint this connection's tokens and client secret are bound to ([`ledgerlink_ports::issuer_of`]).
    pub fn issuer(&self) -> String {
        ledgerlink_ports::issuer_of(&self.base_url)
    }
}

/// The site URL as the client uses it: absolute http(s), no query, fragment or trailing `/`.
fn normalise_base_url(raw: &str) -> ExactResult<Url> {
    let mut base_url = Url::parse(raw).map_err(|e| {
        ExactError::config(format!("invalid Exact base URL {raw:?}"), Some(Box::new(e)))
    })?;
    if !matches!(base_url.scheme(), "http" | "https") || base_url.cannot_be_a_base() {
        return Err(ExactError::config(
            format!("Exact base URL must be http(s): {base_url}"),
            None,
        ));
    }
    base_url.set_query(None);
    base_url.set_fragment(None);
    let trimmed = base_url.path().trim_end_matches('/').to_owned();
    base_url.set_path(&trimmed);
    Ok(base_url)
}

/// The endpoint identity (issuer) of an Exact site URL as a client built on it would use it: tokens and
/// the client secret are bound to it.
pub fn issuer(base_url: &str) -> ExactResult<String> {
    normalise_base_url(base_url).map(|u| ledgerlink_ports::issuer_of(&u))
}

/// The token-store name of a tenant's Exact connection.
pub fn connection_name(tenant: &TenantId) -> String {
    format!("exact:{tenant}")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn config() -> ExactConfig {
        let tenant = TenantId::parse("acme").unwrap();
        ExactConfig::new(
            "https://start.exactonline.nl/",
            Division(499156),
            "b81cc4de-d192-400e-bcb4-09254394c52a",
            Secret::new("s3cr3t-value"),
            "https://app.example.com/callback",
            &tenant,
        )
        .unwrap()
    }

    #[test]
    fn debug_output_of_a_config_never_shows_the_client_secret() {
        let text = format!("{:?}", config());
        assert!(!text.contains("s3cr3t-value"));
        assert!(text.contains("<redacted>"));
    }

    #[test]
    fn urls_are_built_under_the_site_with_the_division() {
        let c = config();
        assert_eq!(
            c.division_url("crm/Accounts"),
            "https://start.exactonline.nl/api/v1/499156/crm/Accounts"
        );
        assert_eq!(
            c.api_url("current/Me"),
            "https://start.exactonline.nl/api/v1/current/Me"
        );
        assert_eq!(
            c.token_url(),
            "https://start.exactonline.nl/api/oauth2/token"
        );
        assert_eq!(c.connection, "exact:acme");
        assert_eq!(c.rate_key(), "exact:acme:499156");
    }

    #[test]
    fn next_links_to_another_host_are_not_the_same_site() {
        let c = config();
        assert!(c.is_same_site(
            &Url::parse("https://start.exactonline.nl/api/v1/1/x?$skiptoken=1").unwrap()
        ));
        assert!(!c.is_same_site(&Url::parse("https://evil.example.com/api/v1/1/x").unwrap()));
        assert!(!c.is_same_site(&Url::parse("http://start.exactonline.nl/api/v1/1/x").unwrap()));
    }

    #[test]
    fn the_consent_url_carries_client_id_redirect_and_state() {
        let url = config().authorization_url("xyz");
        assert!(url.starts_with("https://start.exactonline.nl/api/oauth2/auth?client_id=b81cc4de"));
        assert!(url.contains("redirect_uri=https%3A%2F%2Fapp.example.com%2Fcallback"));
        assert!(url.contains("response_type=code"));
        assert!(url.contains("state=xyz"));
    }

    #[test]
    fn a_base_url_that_is_not_http_is_refused() {
        let tenant = TenantId::parse("acme").unwrap();
        let r = ExactConfig::new("ftp://x", Division(1), "c", Secret::new("s"), "r", &tenant);
        assert!(matches!(r, Err(ExactError::Config { .. })));
    }
}
