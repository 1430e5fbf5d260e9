//! The export-job Lambda. Wiring only: JSON logs, configuration from the environment, the AWS adapters and
//! the tenants' ERP connections (Vantagepoint and Exact Online sources read through them; secrets through
//! the Parameters and Secrets extension, `EXACT_REDIRECT_URI` and `ALLOWED_ERP_HOSTS` as for every flow)
//! built once, then the runtime loop. An SQS batch runs one export job per record (reporting exactly the
//! failed message ids); an EventBridge schedule runs the clean-up of jobs whose worker stopped responding
//! and starts the scheduled exports whose time came.
//! Everything else is in `ledgerlink-jobs`.

use std::sync::Arc;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use lambda_runtime::{LambdaEvent, service_fn};
use ledgerlink_clock::SystemClock;
use ledgerlink_flows::connections::{ErpConnections, ExtensionSecrets};
use ledgerlink_jobs::job::job_of_message;
use ledgerlink_jobs::{Exporter, JobsContext};
use ledgerlink_ports::WorkMessage;
use ledgerlink_store_aws::{AwsClients, AwsSettings, AwsStores};
use serde_json::{Value, json};

/// Stuck jobs failed per scheduled run (the next run takes the rest).
const CLEAN_UP_LIMIT: u32 = 200;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let aws = AwsSettings::from_env()?;
    let clients = AwsClients::build(&aws).await;
    let stores = AwsStores::new(&clients, &aws);
    let redirect_uri =
        std::env::var("EXACT_REDIRECT_URI").map_err(|_| "EXACT_REDIRECT_URI is required")?;
    let clock = SystemClock::shared();
    let connections = ErpConnections::new(
        Arc::new(ExtensionSecrets::from_env()),
        stores.state.tokens.clone(),
        stores.state.rate.clone(),
        clock.clone(),
        redirect_uri,
    )
    // As every flow function: emulator hosts exempt from the ERP host rules (empty in production).
    .with_allowed_hosts(ledgerlink_flows::hosts::AllowedErpHosts::from_env()?);
    let exporter = &Exporter::new(
        JobsContext::new(stores.state, stores.storage, stores.queue, clock)
            .with_connections(Arc::new(connections)),
    );
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        handle(exporter, event.payload)
    }))
    .await
}

async fn handle(exporter: &Exporter, payload: Value) -> Result<Value, lambda_runtime::Error> {
    if payload.get("Records").is_none() {
        let failed = exporter.clean_up_stuck(CLEAN_UP_LIMIT).await?;
        tracing::info!(failed = failed.len(), "stuck-job clean-up done");
        // Scheduled exports whose time came are queued here (this schedule ticks every 10 minutes).
        let started = exporter.run_due_schedules().await?;
        tracing::info!(started = started.len(), "scheduled exports started");
        return Ok(json!({ "failed_jobs": failed.len(), "scheduled_jobs": started.len() }));
    }
    let event: SqsEvent = serde_json::from_value(payload)?;
    let mut response = SqsBatchResponse::default();
    for record in event.records {
        let message_id = record.message_id.clone().unwrap_or_default();
        let outcome = async {
            let message: WorkMessage =
                serde_json::from_str(record.body.as_deref().unwrap_or_default())?;
            let (tenant, job) = job_of_message(&message)?;
            let done = exporter.run(&tenant, &job).await?;
            tracing::info!(tenant = %tenant, job = %done.id, status = ?done.status, "export job handled");
            Ok::<_, lambda_runtime::Error>(())
        };
        if let Err(error) = outcome.await {
            tracing::error!(message_id = %message_id, error = %error, "export job failed; the message will be retried");
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = message_id;
            response.batch_item_failures.push(failure);
        }
    }
    Ok(serde_json::to_value(response)?)
}
