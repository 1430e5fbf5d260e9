//! The import-job Lambda. Wiring only: JSON logs, configuration from the environment, the AWS adapters
//! built once, then the runtime loop: an SQS batch runs one queued import per record and reports exactly
//! the failed message ids. Validation, writes and the result summary are in `ledgerlink-jobs`.

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use lambda_runtime::{LambdaEvent, service_fn};
use ledgerlink_clock::SystemClock;
use ledgerlink_jobs::job::job_of_message;
use ledgerlink_jobs::{Importer, JobsContext};
use ledgerlink_ports::WorkMessage;
use ledgerlink_store_aws::{AwsClients, AwsSettings, AwsStores};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let aws = AwsSettings::from_env()?;
    let clients = AwsClients::build(&aws).await;
    let stores = AwsStores::new(&clients, &aws);
    let importer = &Importer::new(JobsContext::new(
        stores.state,
        stores.storage,
        stores.queue,
        SystemClock::shared(),
    ));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        handle(importer, event.payload)
    }))
    .await
}

async fn handle(
    importer: &Importer,
    event: SqsEvent,
) -> Result<SqsBatchResponse, lambda_runtime::Error> {
    let mut response = SqsBatchResponse::default();
    for record in event.records {
        let message_id = record.message_id.clone().unwrap_or_default();
        let outcome = async {
            let message: WorkMessage =
                serde_json::from_str(record.body.as_deref().unwrap_or_default())?;
            let (tenant, job) = job_of_message(&message)?;
            let done = importer.run(&tenant, &job).await?;
            tracing::info!(tenant = %tenant, job = %done.id, status = ?done.status, "import job handled");
            Ok::<_, lambda_runtime::Error>(())
        };
        if let Err(error) = outcome.await {
            tracing::error!(message_id = %message_id, error = %error, "import job failed; the message will be retried");
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = message_id;
            response.batch_item_failures.push(failure);
        }
    }
    Ok(response)
}
