//! The firm-sync Lambda: master data (firms, employees, chart of accounts, currencies, tax codes).
//!
//! Wiring only: JSON logs, typed configuration from the environment, the AWS adapters and the ERP
//! connections built once, then the runtime loop. An EventBridge schedule discovers work; an SQS batch
//! processes it and reports exactly the failed message ids. Everything else is in `ledgerlink-flows`.

use std::sync::Arc;

use lambda_runtime::{LambdaEvent, service_fn};
use ledgerlink_clock::SystemClock;
use ledgerlink_domain::Flow;
use ledgerlink_flows::FlowContext;
use ledgerlink_flows::connections::{ErpConnections, ExtensionSecrets};
use ledgerlink_flows::lambda::{FunctionConfig, handle, init_tracing};
use ledgerlink_store_aws::{AwsClients, AwsSettings, AwsStores};

const FLOW: Flow = Flow::FirmSync;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    init_tracing();
    let config = FunctionConfig::from_env()?;
    let aws = AwsSettings::from_env()?;
    let clients = AwsClients::build(&aws).await;
    let stores = AwsStores::new(&clients, &aws);
    let clock = SystemClock::shared();
    let connections = ErpConnections::new(
        Arc::new(ExtensionSecrets::from_env()),
        stores.state.tokens.clone(),
        stores.state.rate.clone(),
        clock.clone(),
        config.exact_redirect_uri,
    )
    .with_allowed_hosts(ledgerlink_flows::hosts::AllowedErpHosts::from_env()?);
    let ctx = FlowContext {
        stores: stores.state,
        queue: stores.queue,
        connections: Arc::new(connections),
        clock,
        settings: config.settings,
    };
    let ctx = &ctx;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            handle(ctx, FLOW, event.payload).await
        },
    ))
    .await
}
