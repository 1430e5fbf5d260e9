//! The queue consumer the local stack runs in place of the Lambdas: takes messages from the `export-job`
//! or `import-job` queue and runs them with the same use cases, acknowledging what was handled and
//! returning the rest to the queue (which moves it to the dead-letter queue after its max receives).

use std::time::Duration;

use ledgerlink_domain::Flow;
use ledgerlink_ports::Job;

use crate::job::job_of_message;
use crate::{Exporter, Importer, JobError, JobResult, JobsContext};

/// Delay before a failed message is visible again.
const RETRY_DELAY: Duration = Duration::from_secs(30);

/// Runs up to `max` (1..=10) queued jobs of `flow` (`ExportJob` or `ImportJob`); returns the jobs handled.
pub async fn run_queued(ctx: &JobsContext, flow: Flow, max: u32) -> JobResult<Vec<Job>> {
    if !matches!(flow, Flow::ExportJob | Flow::ImportJob) {
        return Err(JobError::invalid(
            "flow",
            format!("{} is not a job queue", flow.as_str()),
        ));
    }
    let messages = ctx
        .queue
        .receive(flow, max.clamp(1, 10), ctx.settings.lease)
        .await?;
    let mut handled = Vec::with_capacity(messages.len());
    for received in messages {
        let outcome = match job_of_message(&received.message) {
            Ok((tenant, id)) if flow == Flow::ExportJob => {
                Exporter::new(ctx.clone()).run(&tenant, &id).await
            }
            Ok((tenant, id)) => Importer::new(ctx.clone()).run(&tenant, &id).await,
            Err(e) => Err(e),
        };
        match outcome {
            Ok(job) => {
                ctx.queue.ack(flow, &received.receipt).await?;
                handled.push(job);
            }
            Err(e) => {
                tracing::warn!(message = %received.id, error = %e, "queued job failed; it will be retried");
                ctx.queue
                    .retry_later(flow, &received.receipt, RETRY_DELAY)
                    .await?;
            }
        }
    }
    Ok(handled)
}
