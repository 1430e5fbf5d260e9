//! The key that signs Exact consent states: the deployment secret `CONSENT_STATE_SECRET` names (created by
//! the stack with a generated value), read through the Parameters and Secrets extension the first time a
//! consent route needs it — not at cold start, which then does not wait for it — and kept for the life of
//! the instance.

use async_trait::async_trait;
use ledgerlink_api::consent::{ConsentKey, ConsentKeySource};
use ledgerlink_flows::connections::{ExtensionSecrets, SecretError};
use tokio::sync::OnceCell;

#[derive(Debug)]
pub struct DeploymentConsentKey {
    secrets: ExtensionSecrets,
    name: String,
    key: OnceCell<ConsentKey>,
}

impl DeploymentConsentKey {
    pub fn new(secrets: ExtensionSecrets, name: String) -> Self {
        Self {
            secrets,
            name,
            key: OnceCell::new(),
        }
    }
}

#[async_trait]
impl ConsentKeySource for DeploymentConsentKey {
    async fn key(&self) -> Result<ConsentKey, SecretError> {
        self.key
            .get_or_try_init(|| async {
                let value = self.secrets.deployment_secret(&self.name).await?;
                ConsentKey::new(value.into_bytes()).map_err(|reason| SecretError::Unsupported {
                    name: self.name.clone(),
                    reason,
                })
            })
            .await
            .cloned()
    }
}
