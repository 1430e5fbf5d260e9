//! The sample events of `events/` have the shapes the handler decodes: an SQS batch whose body is a work
//! message naming tenant and job, and an EventBridge schedule (no `Records`), which runs the clean-up.
#![allow(clippy::unwrap_used)]

use aws_lambda_events::event::sqs::SqsEvent;
use ledgerlink_jobs::job::job_of_message;
use ledgerlink_ports::WorkMessage;

#[test]
fn the_sample_sqs_event_names_a_tenant_and_a_job() {
    let payload: serde_json::Value =
        serde_json::from_str(include_str!("../../../events/export-job-sqs.json")).unwrap();

    let event: SqsEvent = serde_json::from_value(payload).unwrap();
    let message: WorkMessage =
        serde_json::from_str(event.records[0].body.as_deref().unwrap()).unwrap();
    let (tenant, job) = job_of_message(&message).unwrap();

    assert_eq!(
        event.records[0].message_id.as_deref(),
        Some("9c2b7a8e-4c1f-4b8e-9a57-2f0f3f3c8a11")
    );
    assert_eq!((tenant.as_str(), job.as_str()), ("acme-bv", "0000033392"));
}

#[test]
fn the_sample_schedule_event_has_no_records_so_it_runs_the_clean_up() {
    let payload: serde_json::Value =
        serde_json::from_str(include_str!("../../../events/export-job-schedule.json")).unwrap();

    assert!(payload.get("Records").is_none());
    assert_eq!(payload["detail-type"], "Scheduled Event");
}
