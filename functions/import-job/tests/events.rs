//! The sample event of `events/` has the shape the handler decodes: an SQS batch whose body is a work
//! message naming tenant and import job.
#![allow(clippy::unwrap_used)]

use aws_lambda_events::event::sqs::SqsEvent;
use ledgerlink_jobs::job::job_of_message;
use ledgerlink_ports::WorkMessage;

#[test]
fn the_sample_sqs_event_names_a_tenant_and_an_import_job() {
    let payload = include_str!("../../../events/import-job-sqs.json");

    let event: SqsEvent = serde_json::from_str(payload).unwrap();
    let message: WorkMessage =
        serde_json::from_str(event.records[0].body.as_deref().unwrap()).unwrap();
    let (tenant, job) = job_of_message(&message).unwrap();

    assert_eq!((tenant.as_str(), job.as_str()), ("acme-bv", "0000033393"));
}
