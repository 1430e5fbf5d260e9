//! The `api` Lambda: runs the Ledgerlink HTTP API and operator page (`ledgerlink_api::router`) behind API
//! Gateway (HTTP API, payload format 2.0) through `lambda_http`. Only wiring: JSON logs, typed settings from
//! the environment, AWS adapters and clients built once per cold start; the router does the rest, exactly
//! as in the local stack.
//!
//! Environment: the `ledgerlink-store-aws` settings (`TABLE_NAME`, `BUCKET_NAME`, the per-flow queue URLs,
//! ...), `EXACT_REDIRECT_URI` (the OAuth redirect registered with the Exact app), `SECRETS_PREFIX` (optional,
//! default `ledgerlink/`), `CONSENT_STATE_SECRET` (the name of the deployment secret that signs Exact consent
//! states, [`consent_key`]), `ALLOWED_ERP_HOSTS` (emulator hosts exempt from the ERP host rules; empty in production). Secrets are read through the AWS Parameters and Secrets Lambda Extension and
//! written (write-only connection secrets) to Secrets Manager ([`secrets_manager`]).

mod consent_key;
mod secrets_manager;

use std::sync::Arc;

use ledgerlink_api::ApiState;
use ledgerlink_clock::SystemClock;
use ledgerlink_flows::connections::{ErpConnections, ExtensionSecrets};
use ledgerlink_flows::{FlowContext, FlowSettings, SecretResolver};
use ledgerlink_store_aws::{AwsClients, AwsSettings, AwsStores};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_current_span(false)
        .with_target(false)
        .without_time()
        .init();

    let settings = AwsSettings::from_env()?;
    let redirect_uri =
        std::env::var("EXACT_REDIRECT_URI").map_err(|_| "EXACT_REDIRECT_URI is required")?;
    let consent_secret =
        std::env::var("CONSENT_STATE_SECRET").map_err(|_| "CONSENT_STATE_SECRET is required")?;
    let consent = ledgerlink_api::consent::ConsentSettings::new(
        redirect_uri.clone(),
        Arc::new(consent_key::DeploymentConsentKey::new(
            ExtensionSecrets::from_env(),
            consent_secret,
        )),
    );
    let clients = AwsClients::build(&settings).await;
    let aws = AwsStores::new(&clients, &settings);
    let clock = SystemClock::shared();
    let secrets: Arc<dyn SecretResolver> = Arc::new(ExtensionSecrets::from_env());
    let connections = Arc::new(
        ErpConnections::new(
            secrets.clone(),
            aws.state.tokens.clone(),
            aws.state.rate.clone(),
            clock.clone(),
            redirect_uri,
        )
        .with_allowed_hosts(ledgerlink_flows::hosts::AllowedErpHosts::from_env()?),
    );
    let flows = FlowContext {
        stores: aws.state.clone(),
        queue: aws.queue.clone(),
        connections,
        clock,
        settings: FlowSettings::default(),
    };
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    let prefix = std::env::var("SECRETS_PREFIX").unwrap_or_else(|_| "ledgerlink/".to_owned());
    let writer = secrets_manager::SecretsManagerWriter::new(
        aws_sdk_secretsmanager::Client::new(&sdk),
        prefix,
    );
    let state = ApiState::new(flows, aws.storage.clone(), secrets)
        .with_secret_writer(Arc::new(writer))
        .with_consent(consent);
    lambda_http::run(ledgerlink_api::router(state)).await
}
