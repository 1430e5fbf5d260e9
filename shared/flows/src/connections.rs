//! Connections: the ledger and the PSA of a tenant, built from its record and its resolved secrets.
//!
//! [`ConnectionProvider`] is what the flows ask ("the Ledger and Psa of this tenant"); [`ErpConnections`]
//! builds `ExactLedger` / `VantagepointPsa` once per tenant version and caches them (clients share token
//! managers, pools and rate limiters, so they must be built once per process). Secrets come through a
//! [`SecretResolver`]: [`LocalSecrets`] for the local stack and tests, [`ExtensionSecrets`] on Lambda (the AWS
//! Parameters and Secrets Lambda Extension on `localhost:2773`, which avoids another SDK crate). Secret
//! values are wrapped in [`SecretValue`], whose Debug output is redacted; they are never logged.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use ledgerlink_clock::SharedClock;
use ledgerlink_domain::TenantId;
use ledgerlink_exact::{ClientPorts, ExactClient, ExactLedger};
use ledgerlink_ports::ledger::Ledger;
use ledgerlink_ports::psa::Psa;
use ledgerlink_ports::{RateBudget, SecretRef, Tenant, TokenStore};
use ledgerlink_vantagepoint::{VantagepointClient, VantagepointPsa};

use crate::error::{FlowError, FlowResult};
use crate::hosts::{AllowedErpHosts, ErpSystem, PublicOnlyResolver, check_erp_url};

/// A secret's value, and the endpoint it was entered for. Debug and Display never show the value.
///
/// A credential that is sent to an ERP (client secrets, the Vantagepoint password) is BOUND to the endpoint
/// ([`ledgerlink_ports::issuer_of`]) of the base URL it was entered with; [`ErpConnections`] sends it nowhere
/// else. The binding is stored with the value, inside the secret store ([`SecretValue::to_stored`]), so
/// editing the tenant record cannot move it. Secrets that are only compared (webhook secrets) are unbound.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue {
    value: String,
    bound_to: Option<String>,
}

/// The stored form of a bound secret.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredSecret {
    ledgerlink_secret: u32,
    bound_to: String,
    value: String,
}

const STORED_SECRET_VERSION: u32 = 1;

impl SecretValue {
    /// An unbound value (a webhook secret; any secret stored outside the connections API).
    pub fn new(value: impl Into<String>) -> Self {
        Self {
            value: value.into(),
            bound_to: None,
        }
    }
    /// A value that may only be sent to the endpoint `issuer` ([`ledgerlink_ports::issuer_of`]).
    pub fn bound(value: impl Into<String>, issuer: impl Into<String>) -> Self {
        Self {
            value: value.into(),
            bound_to: Some(issuer.into()),
        }
    }
    /// The value, for the one place that sends it (a client config).
    pub fn expose(&self) -> &str {
        &self.value
    }
    /// The endpoint the value was entered for, if it is bound to one.
    pub fn bound_to(&self) -> Option<&str> {
        self.bound_to.as_deref()
    }
    /// The text a secret store keeps: the value itself when unbound, else a small JSON document carrying
    /// the value and its endpoint.
    pub fn to_stored(&self) -> String {
        match &self.bound_to {
            None => self.value.clone(),
            Some(issuer) => serde_json::to_string(&StoredSecret {
                ledgerlink_secret: STORED_SECRET_VERSION,
                bound_to: issuer.clone(),
                value: self.value.clone(),
            })
            .unwrap_or_default(),
        }
    }
    /// Reads what [`SecretValue::to_stored`] wrote (any other text is an unbound value).
    pub fn from_stored(text: &str) -> Self {
        match serde_json::from_str::<StoredSecret>(text) {
            Ok(stored) if stored.ledgerlink_secret == STORED_SECRET_VERSION => {
                Self::bound(stored.value, stored.bound_to)
            }
            _ => Self::new(text),
        }
    }
}

impl std::fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretValue")
            .field("value", &"<redacted>")
            .field("bound_to", &self.bound_to)
            .finish()
    }
}

/// Why a secret could not be read. Names the reference, never the value.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("secret {name} does not exist")]
    NotFound { name: String },
    #[error("secret {name} is not available here: {reason}")]
    Unsupported { name: String, reason: String },
    /// The reference names a secret outside the tenant's own secrets: never resolved.
    #[error("secret {name} does not belong to tenant {tenant}")]
    OutOfScope { name: String, tenant: String },
    #[error("secret {name} could not be read: {message}")]
    Unavailable {
        name: String,
        message: String,
        #[source]
        source: Option<ledgerlink_ports::BoxError>,
    },
}

impl SecretError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Unavailable { .. })
    }
}

/// Reads a secret a tenant record refers to — only one of that tenant's own secrets.
///
/// Secret names are chosen by the server: `<prefix><tenant>/<system>/<field>` ([`tenant_secret_name`]).
/// Whatever a tenant record says, a resolver refuses ([`SecretError::OutOfScope`]) a reference outside
/// `<prefix><tenant>/`, an ARN, or a name with `..`, so no record can make the service read (and then send)
/// another tenant's secret.
#[async_trait]
pub trait SecretResolver: Send + Sync + std::fmt::Debug {
    async fn resolve(
        &self,
        tenant: &TenantId,
        secret: &SecretRef,
    ) -> Result<SecretValue, SecretError>;
}

fn ref_name(secret: &SecretRef) -> &str {
    match secret {
        SecretRef::SecretsManager(n) | SecretRef::Ssm(n) | SecretRef::Local(n) => n,
    }
}

/// The name the server gives a tenant's secret: `<prefix><tenant>/<path>`.
pub fn tenant_secret_name(prefix: &str, tenant: &TenantId, path: &str) -> String {
    format!("{prefix}{tenant}/{path}")
}

/// Refuses a reference that is not one of `tenant`'s secrets under `prefix` (see [`SecretResolver`]).
pub fn check_secret_scope(
    prefix: &str,
    tenant: &TenantId,
    secret: &SecretRef,
) -> Result<(), SecretError> {
    let name = ref_name(secret);
    // SSM parameter names may be written with a leading `/`.
    let relative = match secret {
        SecretRef::Ssm(n) => n.strip_prefix('/').unwrap_or(n),
        _ => name,
    };
    let own = tenant_secret_name(prefix, tenant, "");
    let inside = relative
        .strip_prefix(&own)
        .is_some_and(|rest| !rest.is_empty());
    let clean = !name.contains("..")
        && !name.starts_with("arn:")
        && !name.contains("//")
        && !name.chars().any(|c| c.is_control() || c.is_whitespace());
    if inside && clean {
        Ok(())
    } else {
        Err(SecretError::OutOfScope {
            name: name.to_owned(),
            tenant: tenant.to_string(),
        })
    }
}

/// Secrets held in memory (the local stack reads them from its own secret file; tests set them).
#[derive(Default)]
pub struct LocalSecrets {
    values: Mutex<HashMap<String, SecretValue>>,
}

impl std::fmt::Debug for LocalSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let count = self.values.lock().map(|v| v.len()).unwrap_or(0);
        f.debug_struct("LocalSecrets")
            .field("count", &count)
            .finish()
    }
}

impl LocalSecrets {
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets the value behind a reference name (any kind of [`SecretRef`] with that name resolves to it).
    /// The name must be under the tenant's `<tenant>/` for a resolve to find it.
    pub fn set(&self, name: impl Into<String>, value: impl Into<String>) {
        self.set_value(name, SecretValue::new(value));
    }

    /// Sets a value with its binding (what [`SecretValue::bound`] gives).
    pub fn set_value(&self, name: impl Into<String>, value: SecretValue) {
        if let Ok(mut values) = self.values.lock() {
            values.insert(name.into(), value);
        }
    }
}

#[async_trait]
impl SecretResolver for LocalSecrets {
    async fn resolve(
        &self,
        tenant: &TenantId,
        secret: &SecretRef,
    ) -> Result<SecretValue, SecretError> {
        check_secret_scope("", tenant, secret)?;
        let name = ref_name(secret);
        self.values
            .lock()
            .ok()
            .and_then(|v| v.get(name).cloned())
            .ok_or_else(|| SecretError::NotFound {
                name: name.to_owned(),
            })
    }
}

/// Secrets Manager and SSM through the AWS Parameters and Secrets Lambda Extension (HTTP on localhost,
/// authenticated by the function's session token). The extension caches values, so resolving per
/// connection build is cheap.
#[derive(Debug, Clone)]
pub struct ExtensionSecrets {
    http: reqwest::Client,
    endpoint: String,
    /// The deployment's secret-name prefix (`SECRETS_PREFIX`, default `ledgerlink/`).
    prefix: String,
}

impl ExtensionSecrets {
    /// The extension's default port is 2773 (`PARAMETERS_SECRETS_EXTENSION_HTTP_PORT` overrides it).
    pub fn from_env() -> Self {
        let port = std::env::var("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT")
            .unwrap_or_else(|_| "2773".to_owned());
        let prefix = std::env::var("SECRETS_PREFIX").unwrap_or_else(|_| "ledgerlink/".to_owned());
        Self::new(format!("http://localhost:{port}")).with_prefix(prefix)
    }

    /// Secrets of tenant `t` are named `<prefix><t>/...`.
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    pub fn new(endpoint: impl Into<String>) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap_or_default();
        Self {
            http,
            endpoint: endpoint.into(),
            prefix: "ledgerlink/".to_owned(),
        }
    }

    /// A secret of the deployment itself (not of a tenant), e.g. the key that signs Exact consent states:
    /// the `SecretString` of Secrets Manager secret `name`, which the function's role must be granted by
    /// its exact name. Never logged.
    pub async fn deployment_secret(&self, name: &str) -> Result<String, SecretError> {
        let body = self
            .fetch(name, "/secretsmanager/get", &[("secretId", name)])
            .await?;
        body.get("SecretString")
            .and_then(|v| v.as_str())
            .map(str::to_owned)
            .ok_or_else(|| SecretError::Unavailable {
                name: name.to_owned(),
                message: "the secret has no SecretString".into(),
                source: None,
            })
    }

    async fn fetch(
        &self,
        name: &str,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<serde_json::Value, SecretError> {
        let token = std::env::var("AWS_SESSION_TOKEN").map_err(|_| SecretError::Unsupported {
            name: name.to_owned(),
            reason: "AWS_SESSION_TOKEN is not set (not running in Lambda?)".into(),
        })?;
        let unavailable = |message: String, source: Option<ledgerlink_ports::BoxError>| {
            SecretError::Unavailable {
                name: name.to_owned(),
                message,
                source,
            }
        };
        let response = self
            .http
            .get(format!("{}{path}", self.endpoint))
            .query(query)
            .header("X-Aws-Parameters-Secrets-Token", token)
            .send()
            .await
            .map_err(|e| {
                unavailable(
                    "the secrets extension did not answer".into(),
                    Some(Box::new(e)),
                )
            })?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND || status == reqwest::StatusCode::BAD_REQUEST {
            return Err(SecretError::NotFound {
                name: name.to_owned(),
            });
        }
        if !status.is_success() {
            return Err(unavailable(
                format!("the secrets extension answered {status}"),
                None,
            ));
        }
        response.json::<serde_json::Value>().await.map_err(|e| {
            unavailable(
                "unreadable answer of the secrets extension".into(),
                Some(Box::new(e)),
            )
        })
    }
}

#[async_trait]
impl SecretResolver for ExtensionSecrets {
    async fn resolve(
        &self,
        tenant: &TenantId,
        secret: &SecretRef,
    ) -> Result<SecretValue, SecretError> {
        check_secret_scope(&self.prefix, tenant, secret)?;
        match secret {
            SecretRef::SecretsManager(name) => {
                let body = self
                    .fetch(name, "/secretsmanager/get", &[("secretId", name)])
                    .await?;
                body.get("SecretString")
                    .and_then(|v| v.as_str())
                    .map(SecretValue::from_stored)
                    .ok_or_else(|| SecretError::Unavailable {
                        name: name.clone(),
                        message: "the secret has no SecretString".into(),
                        source: None,
                    })
            }
            SecretRef::Ssm(name) => {
                let body = self
                    .fetch(
                        name,
                        "/systemsmanager/parameters/get",
                        &[("name", name), ("withDecryption", "true")],
                    )
                    .await?;
                body.pointer("/Parameter/Value")
                    .and_then(|v| v.as_str())
                    .map(SecretValue::from_stored)
                    .ok_or_else(|| SecretError::Unavailable {
                        name: name.clone(),
                        message: "the parameter has no value".into(),
                        source: None,
                    })
            }
            SecretRef::Local(name) => Err(SecretError::Unsupported {
                name: name.clone(),
                reason: "local secrets exist only in the local stack".into(),
            }),
        }
    }
}

/// The two systems of one tenant, as the flows use them.
#[derive(Debug, Clone)]
pub struct Connection {
    pub ledger: Arc<dyn Ledger>,
    pub psa: Arc<dyn Psa>,
}

/// Gives the ledger and PSA of a tenant.
#[async_trait]
pub trait ConnectionProvider: Send + Sync + std::fmt::Debug {
    async fn connect(&self, tenant: &Tenant) -> FlowResult<Connection>;
    /// The ledger alone (a connection test of the ledger needs nothing of the PSA).
    async fn connect_ledger(&self, tenant: &Tenant) -> FlowResult<Arc<dyn Ledger>> {
        Ok(self.connect(tenant).await?.ledger)
    }
    /// The PSA alone.
    async fn connect_psa(&self, tenant: &Tenant) -> FlowResult<Arc<dyn Psa>> {
        Ok(self.connect(tenant).await?.psa)
    }
    /// The hosts exempt from the public-address rules ([`crate::hosts`]); none unless configured.
    fn allowed_hosts(&self) -> AllowedErpHosts {
        AllowedErpHosts::none()
    }
}

/// Tuning of the clients the provider builds (tests shorten waits; production keeps the defaults).
#[derive(Debug, Clone, Default)]
pub struct ClientTuning {
    pub exact_retry: Option<ledgerlink_exact::RetryPolicy>,
    pub exact_outcome_settle: Option<Duration>,
    pub vp_retry: Option<ledgerlink_vantagepoint::RetryPolicy>,
    pub request_timeout: Option<Duration>,
}

/// Builds `ExactLedger` and `VantagepointPsa` from the tenant record, cached per tenant version.
#[derive(Debug)]
pub struct ErpConnections {
    secrets: Arc<dyn SecretResolver>,
    tokens: Arc<dyn TokenStore>,
    rate: Arc<dyn RateBudget>,
    clock: SharedClock,
    /// The OAuth redirect URI registered with the Exact app.
    exact_redirect_uri: String,
    tuning: ClientTuning,
    /// Where connections may go ([`crate::hosts`]); none exempt unless set.
    allowed: AllowedErpHosts,
    cache: Mutex<HashMap<TenantId, (u64, Connection)>>,
}

impl ErpConnections {
    pub fn new(
        secrets: Arc<dyn SecretResolver>,
        tokens: Arc<dyn TokenStore>,
        rate: Arc<dyn RateBudget>,
        clock: SharedClock,
        exact_redirect_uri: impl Into<String>,
    ) -> Self {
        Self {
            secrets,
            tokens,
            rate,
            clock,
            exact_redirect_uri: exact_redirect_uri.into(),
            tuning: ClientTuning::default(),
            allowed: AllowedErpHosts::none(),
            cache: Mutex::new(HashMap::new()),
        }
    }

    pub fn with_tuning(mut self, tuning: ClientTuning) -> Self {
        self.tuning = tuning;
        self
    }

    /// Hosts exempt from the public-address rules (the `AllowedErpHosts` setting: the emulators).
    pub fn with_allowed_hosts(mut self, allowed: AllowedErpHosts) -> Self {
        self.allowed = allowed;
        self
    }

    /// Refuses a base URL the service may not connect to (checked again on every build: the stored record
    /// may predate the rules).
    fn check_url(&self, tenant: &Tenant, system: ErpSystem, url: &str) -> FlowResult<()> {
        check_erp_url(system, url, &self.allowed).map_err(|reason| FlowError::Connection {
            tenant: tenant.id.to_string(),
            message: format!("the {system:?} base URL is refused: {reason}"),
            retryable: false,
        })
    }

    fn resolver(&self) -> Arc<PublicOnlyResolver> {
        Arc::new(PublicOnlyResolver::new(self.allowed.clone()))
    }

    async fn secret(&self, tenant: &Tenant, secret: &SecretRef) -> FlowResult<SecretValue> {
        self.secrets
            .resolve(&tenant.id, secret)
            .await
            .map_err(|e| FlowError::Connection {
                tenant: tenant.id.to_string(),
                retryable: e.is_retryable(),
                message: e.to_string(),
            })
    }

    /// A credential that will be sent to `issuer`: configured, one of the tenant's own secrets, and bound
    /// to exactly that endpoint. Anything else is refused before a request is made.
    async fn credential(
        &self,
        tenant: &Tenant,
        secret: &SecretRef,
        what: &str,
        issuer: &str,
    ) -> FlowResult<SecretValue> {
        let refuse = |message: String| FlowError::Connection {
            tenant: tenant.id.to_string(),
            message,
            retryable: false,
        };
        if ref_name(secret).is_empty() {
            return Err(refuse(format!(
                "needs credentials: the {what} must be entered for {issuer}"
            )));
        }
        let value = self.secret(tenant, secret).await?;
        match value.bound_to() {
            Some(bound) if bound == issuer => Ok(value),
            Some(_) => Err(refuse(format!(
                "needs credentials: the {what} was entered for another host than {issuer}; enter it again"
            ))),
            None => Err(refuse(format!(
                "needs credentials: the {what} is not bound to a host; enter it through the connections API"
            ))),
        }
    }

    async fn build(&self, tenant: &Tenant) -> FlowResult<Connection> {
        Ok(Connection {
            ledger: self.build_ledger(tenant).await?,
            psa: self.build_psa(tenant).await?,
        })
    }

    async fn build_ledger(&self, tenant: &Tenant) -> FlowResult<Arc<dyn Ledger>> {
        let bad = |message: String| FlowError::Connection {
            tenant: tenant.id.to_string(),
            message,
            retryable: false,
        };
        self.check_url(tenant, ErpSystem::Exact, &tenant.exact_base_url)?;
        let exact_issuer =
            ledgerlink_exact::issuer(&tenant.exact_base_url).map_err(|e| bad(e.to_string()))?;
        let exact_secret = self
            .credential(
                tenant,
                &tenant.exact_client_secret,
                "Exact client secret",
                &exact_issuer,
            )
            .await?;
        let mut exact_config = ledgerlink_exact::ExactConfig::new(
            &tenant.exact_base_url,
            tenant.exact_division,
            tenant.exact_client_id.clone(),
            ledgerlink_exact::Secret::new(exact_secret.expose()),
            self.exact_redirect_uri.clone(),
            &tenant.id,
        )
        .map_err(|e| bad(e.to_string()))?;
        if let Some(retry) = self.tuning.exact_retry {
            exact_config.retry = retry;
        }
        if let Some(settle) = self.tuning.exact_outcome_settle {
            exact_config.outcome_settle = settle;
        }
        if let Some(timeout) = self.tuning.request_timeout {
            exact_config.request_timeout = timeout;
        }
        exact_config.dns_resolver = Some(ledgerlink_exact::DnsResolver(self.resolver()));
        let ports = ClientPorts {
            tokens: self.tokens.clone(),
            rate: self.rate.clone(),
            clock: self.clock.clone(),
        };
        let exact = ExactClient::new(exact_config, ports, None).map_err(|e| bad(e.to_string()))?;

        Ok(Arc::new(ExactLedger::new(exact)))
    }

    async fn build_psa(&self, tenant: &Tenant) -> FlowResult<Arc<dyn Psa>> {
        let bad = |message: String| FlowError::Connection {
            tenant: tenant.id.to_string(),
            message,
            retryable: false,
        };
        self.check_url(tenant, ErpSystem::Vantagepoint, &tenant.vp_base_url)?;
        let vp_issuer =
            ledgerlink_vantagepoint::issuer(&tenant.vp_base_url).map_err(|e| bad(e.to_string()))?;
        let vp_secret = self
            .credential(
                tenant,
                &tenant.vp_client_secret,
                "Vantagepoint client secret",
                &vp_issuer,
            )
            .await?;
        let vp_password = self
            .credential(
                tenant,
                &tenant.vp_password,
                "Vantagepoint password",
                &vp_issuer,
            )
            .await?;
        let mut vp_config = ledgerlink_vantagepoint::VantagepointConfig::new(
            tenant.id.clone(),
            &tenant.vp_base_url,
            tenant.vp_database.clone(),
            tenant.vp_client_id.clone(),
            ledgerlink_vantagepoint::Secret::new(vp_secret.expose()),
            tenant.vp_username.clone(),
            ledgerlink_vantagepoint::Secret::new(vp_password.expose()),
        )
        .map_err(|e| bad(e.to_string()))?
        .with_culture(tenant.vp_culture.clone());
        if let Some(retry) = self.tuning.vp_retry {
            vp_config = vp_config.with_retry(retry);
        }
        if let Some(timeout) = self.tuning.request_timeout {
            vp_config.request_timeout = timeout;
        }
        vp_config.dns_resolver = Some(ledgerlink_vantagepoint::DnsResolver(self.resolver()));
        let vp = VantagepointClient::new(vp_config, self.tokens.clone(), self.clock.clone())
            .map_err(|e| bad(e.to_string()))?;
        Ok(Arc::new(VantagepointPsa::new(vp)))
    }
}

#[async_trait]
impl ConnectionProvider for ErpConnections {
    async fn connect(&self, tenant: &Tenant) -> FlowResult<Connection> {
        if let Some((version, conn)) = self
            .cache
            .lock()
            .ok()
            .and_then(|c| c.get(&tenant.id).cloned())
            && version == tenant.version
        {
            return Ok(conn);
        }
        let conn = self.build(tenant).await?;
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(tenant.id.clone(), (tenant.version, conn.clone()));
        }
        Ok(conn)
    }

    async fn connect_ledger(&self, tenant: &Tenant) -> FlowResult<Arc<dyn Ledger>> {
        self.build_ledger(tenant).await
    }

    async fn connect_psa(&self, tenant: &Tenant) -> FlowResult<Arc<dyn Psa>> {
        self.build_psa(tenant).await
    }

    fn allowed_hosts(&self) -> AllowedErpHosts {
        self.allowed.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn local_secrets_resolve_by_name_and_never_show_their_value() {
        let acme = TenantId::parse("acme").unwrap_or_else(|e| panic!("{e}"));
        let secrets = LocalSecrets::new();
        secrets.set("acme/exact", "s3cr3t-value");
        let value = secrets
            .resolve(&acme, &SecretRef::Local("acme/exact".into()))
            .await;
        let value = value.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(value.expose(), "s3cr3t-value");
        assert!(!format!("{value:?}").contains("s3cr3t"));
        let missing = secrets
            .resolve(&acme, &SecretRef::Local("acme/nope".into()))
            .await;
        assert!(matches!(missing, Err(SecretError::NotFound { .. })));
    }

    #[tokio::test]
    async fn a_reference_outside_the_tenant_s_own_secrets_is_never_resolved() {
        let acme = TenantId::parse("acme").unwrap_or_else(|e| panic!("{e}"));
        let secrets = LocalSecrets::new();
        secrets.set("globex/vantagepoint/password", "globex-password");
        secrets.set("acme", "bare");
        secrets.set("acme/../globex/vantagepoint/password", "globex-password");
        for name in [
            "globex/vantagepoint/password",
            "acme",
            "acme/",
            "acme/../globex/vantagepoint/password",
            "acmecorp/x",
        ] {
            for secret in [
                SecretRef::Local(name.into()),
                SecretRef::SecretsManager(name.into()),
                SecretRef::Ssm(name.into()),
            ] {
                let result = secrets.resolve(&acme, &secret).await;
                assert!(
                    matches!(result, Err(SecretError::OutOfScope { .. })),
                    "{secret:?} gave {result:?}"
                );
            }
        }
        let aws = |name: &str| {
            check_secret_scope(
                "ledgerlink/",
                &acme,
                &SecretRef::SecretsManager(name.into()),
            )
        };
        assert!(aws("ledgerlink/acme/vantagepoint/password").is_ok());
        assert!(aws("ledgerlink/globex/vantagepoint/password").is_err());
        assert!(aws("acme/vantagepoint/password").is_err());
        assert!(aws("arn:aws:secretsmanager:eu-west-1:1:secret:ledgerlink/acme/x").is_err());
        assert!(
            check_secret_scope(
                "ledgerlink/",
                &acme,
                &SecretRef::Ssm("/ledgerlink/acme/x".into())
            )
            .is_ok()
        );
    }

    #[test]
    fn a_bound_secret_keeps_its_endpoint_through_the_store_and_never_shows_its_value() {
        let bound = SecretValue::bound("hunter2", "https://vp.example.com:443/acme/");
        let stored = bound.to_stored();
        assert_eq!(SecretValue::from_stored(&stored), bound);
        assert!(!format!("{bound:?}").contains("hunter2"));
        let plain = SecretValue::from_stored("just-a-value");
        assert_eq!(plain.bound_to(), None);
        assert_eq!(plain.expose(), "just-a-value");
        // A JSON value that is not our document stays a plain value.
        let json = SecretValue::from_stored("{\"value\":\"x\"}");
        assert_eq!(json.bound_to(), None);
    }

    #[tokio::test]
    async fn the_extension_resolver_refuses_local_references() {
        let acme = TenantId::parse("acme").unwrap_or_else(|e| panic!("{e}"));
        let resolver = ExtensionSecrets::new("http://127.0.0.1:9");
        let result = resolver
            .resolve(&acme, &SecretRef::Local("ledgerlink/acme/x".into()))
            .await;
        assert!(matches!(result, Err(SecretError::Unsupported { .. })));
    }
}
