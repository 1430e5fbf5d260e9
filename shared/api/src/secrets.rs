//! Writing secret values given to the connections API. Values are write-only: the API stores them through
//! a [`SecretWriter`] and keeps only the returned [`SecretRef`] in the tenant record; no route ever returns
//! a value, and neither Debug output nor logs contain one.

use std::sync::Arc;

use async_trait::async_trait;
use ledgerlink_domain::TenantId;
use ledgerlink_flows::{LocalSecrets, SecretValue};
use ledgerlink_ports::SecretRef;

/// Why a secret could not be stored. Names the secret, never its value.
#[derive(Debug, thiserror::Error)]
pub enum SecretWriteError {
    #[error("secret {name} could not be stored: {message}")]
    Unavailable { name: String, message: String },
}

/// Stores a secret value (with its binding, [`SecretValue::to_stored`]) under the server-chosen name
/// `<prefix><tenant>/<name>` and returns the reference a tenant record keeps. The caller never chooses a
/// name or a tenant.
#[async_trait]
pub trait SecretWriter: Send + Sync + std::fmt::Debug {
    async fn write(
        &self,
        tenant: &TenantId,
        name: &str,
        value: &SecretValue,
    ) -> Result<SecretRef, SecretWriteError>;
}

/// The local stack's writer: values go into the in-memory [`LocalSecrets`] the flows resolve from.
#[derive(Debug, Clone)]
pub struct LocalSecretWriter {
    secrets: Arc<LocalSecrets>,
}

impl LocalSecretWriter {
    pub fn new(secrets: Arc<LocalSecrets>) -> Self {
        Self { secrets }
    }
}

#[async_trait]
impl SecretWriter for LocalSecretWriter {
    async fn write(
        &self,
        tenant: &TenantId,
        name: &str,
        value: &SecretValue,
    ) -> Result<SecretRef, SecretWriteError> {
        let full = ledgerlink_flows::tenant_secret_name("", tenant, name);
        self.secrets.set_value(full.clone(), value.clone());
        Ok(SecretRef::Local(full))
    }
}
