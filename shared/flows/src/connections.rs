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

/// A secret's value. Debug and Display never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(String);

impl SecretValue {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    /// The value, for the one place that sends it (a client config).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretValue(<redacted>)")
    }
}

/// Why a secret could not be read. Names the reference, never the value.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("secret {name} does not exist")]
    NotFound { name: String },
    #[error("secret {name} is not available here: {reason}")]
    Unsupported { name: String, reason: String },
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

/// Reads a secret a tenant record refers to.
#[async_trait]
pub trait SecretResolver: Send + Sync + std::fmt::Debug {
    async fn resolve(&self, secret: &SecretRef) -> Result<SecretValue, SecretError>;
}

fn ref_name(secret: &SecretRef) -> &str {
    match secret {
        SecretRef::SecretsManager(n) | SecretRef::Ssm(n) | SecretRef::Local(n) => n,
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
    pub fn set(&self, name: impl Into<String>, value: impl Into<String>) {
        if let Ok(mut values) = self.values.lock() {
            values.insert(name.into(), SecretValue::new(value));
        }
    }
}

#[async_trait]
impl SecretResolver for LocalSecrets {
    async fn resolve(&self, secret: &SecretRef) -> Result<SecretValue, SecretError> {
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
}

impl ExtensionSecrets {
    /// The extension's default port is 2773 (`PARAMETERS_SECRETS_EXTENSION_HTTP_PORT` overrides it).
    pub fn from_env() -> Self {
        let port = std::env::var("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT")
            .unwrap_or_else(|_| "2773".to_owned());
        Self::new(format!("http://localhost:{port}"))
    }

    pub fn new(endpoint: impl Into<String>) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap_or_default();
        Self {
            http,
            endpoint: endpoint.into(),
        }
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
    async fn resolve(&self, secret: &SecretRef) -> Result<SecretValue, SecretError> {
        match secret {
            SecretRef::SecretsManager(name) => {
                let body = self
                    .fetch(name, "/secretsmanager/get", &[("secretId", name)])
                    .await?;
                body.get("SecretString")
                    .and_then(|v| v.as_str())
                    .map(SecretValue::new)
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
                    .map(SecretValue::new)
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
            cache: Mutex::new(HashMap::new()),
        }
    }

    pub fn with_tuning(mut self, tuning: ClientTuning) -> Self {
        self.tuning = tuning;
        self
    }

    async fn secret(&self, tenant: &Tenant, secret: &SecretRef) -> FlowResult<SecretValue> {
        self.secrets
            .resolve(secret)
            .await
            .map_err(|e| FlowError::Connection {
                tenant: tenant.id.to_string(),
                retryable: e.is_retryable(),
                message: e.to_string(),
            })
    }

    async fn build(&self, tenant: &Tenant) -> FlowResult<Connection> {
        let bad = |message: String| FlowError::Connection {
            tenant: tenant.id.to_string(),
            message,
            retryable: false,
        };
        let exact_secret = self.secret(tenant, &tenant.exact_client_secret).await?;
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
        let ports = ClientPorts {
            tokens: self.tokens.clone(),
            rate: self.rate.clone(),
            clock: self.clock.clone(),
        };
        let exact = ExactClient::new(exact_config, ports, None).map_err(|e| bad(e.to_string()))?;

        let vp_secret = self.secret(tenant, &tenant.vp_client_secret).await?;
        let vp_password = self.secret(tenant, &tenant.vp_password).await?;
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
        let vp = VantagepointClient::new(vp_config, self.tokens.clone(), self.clock.clone())
            .map_err(|e| bad(e.to_string()))?;
        Ok(Connection {
            ledger: Arc::new(ExactLedger::new(exact)),
            psa: Arc::new(VantagepointPsa::new(vp)),
        })
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn local_secrets_resolve_by_name_and_never_show_their_value() {
        let secrets = LocalSecrets::new();
        secrets.set("exact/acme", "s3cr3t-value");
        let value = secrets
            .resolve(&SecretRef::Local("exact/acme".into()))
            .await;
        let value = value.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(value.expose(), "s3cr3t-value");
        assert!(!format!("{value:?}").contains("s3cr3t"));
        let missing = secrets.resolve(&SecretRef::Local("nope".into())).await;
        assert!(matches!(missing, Err(SecretError::NotFound { .. })));
    }

    #[tokio::test]
    async fn the_extension_resolver_refuses_local_references() {
        let resolver = ExtensionSecrets::new("http://127.0.0.1:9");
        let result = resolver.resolve(&SecretRef::Local("x".into())).await;
        assert!(matches!(result, Err(SecretError::Unsupported { .. })));
    }
}
