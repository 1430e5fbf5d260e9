//! Secret values given to the connections API, stored in AWS Secrets Manager under
//! `<prefix><tenant>/<system>/<field>` (prefix from `SECRETS_PREFIX`, default `ledgerlink/`): a new version of
//! an existing secret, or a new secret. The tenant record keeps only the reference; the flows read the value
//! back through the Parameters and Secrets Lambda Extension (which caches it for its TTL).

use async_trait::async_trait;
use aws_sdk_secretsmanager::error::DisplayErrorContext;
use ledgerlink_api::SecretWriter;
use ledgerlink_api::secrets::SecretWriteError;
use ledgerlink_domain::TenantId;
use ledgerlink_flows::SecretValue;
use ledgerlink_ports::SecretRef;

#[derive(Debug, Clone)]
pub struct SecretsManagerWriter {
    client: aws_sdk_secretsmanager::Client,
    prefix: String,
}

impl SecretsManagerWriter {
    pub fn new(client: aws_sdk_secretsmanager::Client, prefix: impl Into<String>) -> Self {
        Self {
            client,
            prefix: prefix.into(),
        }
    }
}

fn unavailable(name: &str, error: impl std::fmt::Display) -> SecretWriteError {
    // The SDK's error text describes the call and the service's answer; the request body (the value) is
    // never part of it.
    SecretWriteError::Unavailable {
        name: name.to_owned(),
        message: error.to_string(),
    }
}

#[async_trait]
impl SecretWriter for SecretsManagerWriter {
    async fn write(
        &self,
        tenant: &TenantId,
        name: &str,
        value: &SecretValue,
    ) -> Result<SecretRef, SecretWriteError> {
        let id = format!("{}{tenant}/{name}", self.prefix);
        let put = self
            .client
            .put_secret_value()
            .secret_id(&id)
            .secret_string(value.to_stored())
            .send()
            .await;
        match put {
            Ok(_) => Ok(SecretRef::SecretsManager(id)),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                self.client
                    .create_secret()
                    .name(&id)
                    .secret_string(value.to_stored())
                    .send()
                    .await
                    .map_err(|e| unavailable(&id, DisplayErrorContext(&e)))?;
                Ok(SecretRef::SecretsManager(id))
            }
            Err(e) => Err(unavailable(&id, DisplayErrorContext(&e))),
        }
    }
}
