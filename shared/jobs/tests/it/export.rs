//! Export jobs on both stores: CSV and XLSX content read back, progress, monotonic ids, download links,
//! the clean-up of a killed job and its reset, mark-as-failed, notifications.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use async_trait::async_trait;
use calamine::{Data, Reader};
use ledgerlink_domain::{Category, Flow, ObjectKey, ObjectType, SyncStatus};
use ledgerlink_jobs::export::clean_up_stuck;
use ledgerlink_jobs::source::{Record, RowSource};
use ledgerlink_jobs::{
    Condition, ConditionOp, ExportColumn, ExportDefinition, ExportFormat, ExportSource, Exporter,
    JobError, JobResult, JobsContext,
};
use ledgerlink_ports::{
    JobStatus, LookupTable, NotificationKind, ObjectRef, ObjectStatus, PageRequest, StatusFilter,
};

use crate::helpers::Harness;
use crate::on_both_stores;

fn gl_definition(format: ExportFormat) -> ExportDefinition {
    ExportDefinition {
        id: "gl-accounts".into(),
        name: "GL accounts".into(),
        description: "Every revenue account with its Exact id".into(),
        source: ExportSource::Lookup {
            table: LookupTable::GlAccounts,
        },
        columns: vec![
            ExportColumn::new("key", "Account"),
            ExportColumn::new("description", "Description"),
            ExportColumn::new("exact_id", "Exact ID"),
        ],
        filter: vec![Condition {
            field: "description".into(),
            op: ConditionOp::Contains,
            value: "revenue".into(),
        }],
        format,
        updated_by: String::new(),
        updated_at: None,
        file_name: None,
        schedule: None,
        version: 0,
    }
}

/// 25 GL accounts: the odd ones are revenue accounts.
async fn seed_gl_accounts(h: &Harness) {
    for n in 1..=25u32 {
        let key = format!("{:04}", 8000 + n);
        let description = if n % 2 == 1 {
            format!("Revenue {n}")
        } else {
            format!("Costs {n}")
        };
        let exact_id = format!("id-{n}");
        h.seed_lookups(
            LookupTable::GlAccounts,
            &[(
                key.as_str(),
                &[
                    ("description", description.as_str()),
                    ("exact_id", exact_id.as_str()),
                ],
            )],
        )
        .await;
    }
}

async fn a_csv_export_is_read_back_with_its_headers_and_filtered_rows_and_progress_reaches_total(
    h: Harness,
) {
    seed_gl_accounts(&h).await;
    let exporter = Exporter::new(h.ctx.clone());
    exporter
        .definitions()
        .save(&h.tenant, &gl_definition(ExportFormat::Csv), "jdoe")
        .await
        .unwrap();

    let started = exporter
        .start(&h.tenant, "gl-accounts", "jdoe")
        .await
        .unwrap();
    let queued = h
        .ctx
        .queue
        .receive(Flow::ExportJob, 10, Duration::from_secs(30))
        .await
        .unwrap();
    let done = exporter.run(&h.tenant, &started.id).await.unwrap();

    assert_eq!(started.status, JobStatus::Started);
    assert_eq!(
        started.description,
        "GL accounts export initiated on 2026-06-15"
    );
    assert_eq!(started.created_by, "jdoe");
    assert!(
        started.lease_expires_at.is_some(),
        "a started job has a lease"
    );
    assert_eq!(queued.len(), 1, "starting queues exactly one message");
    assert_eq!(
        queued[0].message.key.as_ref().map(ObjectKey::as_str),
        Some(started.id.as_str())
    );
    assert_eq!(done.status, JobStatus::Finished);
    assert_eq!(
        (done.processed, done.total),
        (25, Some(25)),
        "progress reaches the total"
    );
    assert!(done.finished_at.is_some() && done.failed_at.is_none());
    let text =
        String::from_utf8(h.object(done.file_key.as_deref().unwrap()).await.to_vec()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "Account,Description,Exact ID");
    assert_eq!(lines.len(), 1 + 13, "13 revenue accounts pass the filter");
    assert_eq!(lines[1], "8001,Revenue 1,id-1");
    assert!(lines.iter().skip(1).all(|l| l.contains("Revenue")));
}

async fn an_xlsx_export_of_statuses_is_a_workbook_with_every_row(h: Harness) {
    let now = h.clock_now();
    let statuses: Vec<ObjectStatus> = (1..=30u32)
        .map(|n| ObjectStatus {
            object: ObjectRef {
                tenant: h.tenant.clone(),
                object_type: ObjectType::Invoice,
                key: ObjectKey::parse(&format!("INV-{n:03}")).unwrap(),
            },
            category: Category::Finance,
            status: if n <= 20 {
                SyncStatus::Success
            } else {
                SyncStatus::Error
            },
            version: 1,
            source_version: None,
            source_hash: None,
            target_id: None,
            last_message: (n > 20).then(|| format!("Rejected {n}")),
            fix: None,
            attempts: 1,
            created_at: now,
            updated_at: now,
        })
        .collect();
    h.ctx
        .stores
        .statuses
        .create_missing(&statuses)
        .await
        .unwrap();
    let definition = ExportDefinition {
        id: "invoice-errors".into(),
        name: "Invoice errors".into(),
        description: "Invoices in error".into(),
        source: ExportSource::Statuses {
            filter: StatusFilter {
                status: Some(SyncStatus::Error),
                ..StatusFilter::default()
            },
        },
        columns: vec![
            ExportColumn::new("key", "Invoice"),
            ExportColumn::new("status_label", "Status"),
            ExportColumn::new("last_message", "Message"),
        ],
        filter: vec![],
        format: ExportFormat::Xlsx,
        updated_by: String::new(),
        updated_at: None,
        file_name: None,
        schedule: None,
        version: 0,
    };
    let exporter = Exporter::new(h.ctx.clone());
    exporter
        .definitions()
        .save(&h.tenant, &definition, "jdoe")
        .await
        .unwrap();

    let job = exporter
        .start(&h.tenant, "invoice-errors", "jdoe")
        .await
        .unwrap();
    let done = exporter.run(&h.tenant, &job.id).await.unwrap();

    assert_eq!(done.status, JobStatus::Finished, "{:?}", done.fail_reason);
    assert_eq!((done.processed, done.total), (10, Some(10)));
    let bytes = h.object(done.file_key.as_deref().unwrap()).await;
    let mut workbook: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(bytes.to_vec())).unwrap();
    let range = workbook.worksheet_range("Export").unwrap();
    let rows: Vec<Vec<String>> = range
        .rows()
        .map(|r| {
            r.iter()
                .map(|c| match c {
                    Data::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect()
        })
        .collect();
    assert_eq!(rows[0], ["Invoice", "Status", "Message"]);
    assert_eq!(rows.len(), 11, "a header and the 10 invoices in error");
    let mut keys: Vec<&str> = rows[1..].iter().map(|r| r[0].as_str()).collect();
    keys.sort_unstable();
    assert_eq!(keys.first(), Some(&"INV-021"));
    assert!(
        rows[1..]
            .iter()
            .all(|r| r[1] == "Error" && r[2].starts_with("Rejected"))
    );
}

async fn job_ids_are_monotonic_per_tenant_and_the_history_lists_newest_first(h: Harness) {
    let exporter = Exporter::new(h.ctx.clone());
    exporter
        .definitions()
        .save(&h.tenant, &gl_definition(ExportFormat::Csv), "jdoe")
        .await
        .unwrap();

    let first = exporter
        .start(&h.tenant, "gl-accounts", "jdoe")
        .await
        .unwrap();
    let second = exporter
        .start(&h.tenant, "gl-accounts", "jdoe")
        .await
        .unwrap();
    let third = exporter
        .start(&h.tenant, "gl-accounts", "asmith")
        .await
        .unwrap();
    let history = exporter
        .history(&h.tenant, PageRequest::first(10))
        .await
        .unwrap();

    let ids: Vec<&str> = [&first, &second, &third]
        .iter()
        .map(|j| j.id.as_str())
        .collect();
    assert_eq!(ids, ["0000000001", "0000000002", "0000000003"]);
    let listed: Vec<&str> = history.items.iter().map(|j| j.id.as_str()).collect();
    assert_eq!(listed, ["0000000003", "0000000002", "0000000001"]);
    assert_eq!(history.items[0].created_by, "asmith");
}

async fn a_download_link_is_made_on_request_for_a_finished_export_only(h: Harness) {
    seed_gl_accounts(&h).await;
    let exporter = Exporter::new(h.ctx.clone());
    exporter
        .definitions()
        .save(&h.tenant, &gl_definition(ExportFormat::Csv), "jdoe")
        .await
        .unwrap();
    let job = exporter
        .start(&h.tenant, "gl-accounts", "jdoe")
        .await
        .unwrap();

    let before = exporter.download_url(&h.tenant, &job.id).await;
    let done = exporter.run(&h.tenant, &job.id).await.unwrap();
    let link = exporter
        .download_url(&h.tenant, &ledgerlink_jobs::job::display_id(&done.id))
        .await
        .unwrap();

    assert!(
        matches!(before, Err(JobError::WrongState { .. })),
        "no link before the export finished: {before:?}"
    );
    assert_eq!(link.method, "GET");
    assert!(link.expires_at <= h.clock_now() + chrono::Duration::minutes(15));
    assert!(
        link.url.contains(h.tenant.as_str()),
        "the link names the tenant's object: {}",
        link.url
    );
    let notes = h.notifications().await;
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].kind, NotificationKind::ExportFinished);
    assert_eq!(notes[0].recipient, "jdoe");
    assert_eq!(notes[0].link.as_deref(), Some("/exports/1/download"));
}

/// A source that, while the export runs, lets the worker "die": the clock jumps past the lease and the
/// scheduled clean-up runs, as it would while a dead worker no longer renews its lease.
#[derive(Debug)]
struct DyingSource {
    ctx: JobsContext,
    clock: ledgerlink_clock::ManualClock,
    batches: u32,
}

#[async_trait]
impl RowSource for DyingSource {
    async fn total(&mut self) -> JobResult<Option<u64>> {
        Ok(Some(300))
    }
    async fn next_batch(&mut self) -> JobResult<Option<Vec<Record>>> {
        self.batches += 1;
        if self.batches == 2 {
            self.clock.advance(Duration::from_secs(600));
            clean_up_stuck(&self.ctx, 100).await?;
        }
        if self.batches > 3 {
            return Ok(None);
        }
        Ok(Some(
            (0..100)
                .map(|n| Record::new().with("key", format!("K{n}")))
                .collect(),
        ))
    }
}

async fn a_killed_export_is_failed_by_the_clean_up_and_a_reset_runs_a_linked_new_attempt(
    h: Harness,
) {
    let exporter = Exporter::new(h.ctx.clone());
    exporter
        .definitions()
        .save(&h.tenant, &gl_definition(ExportFormat::Csv), "jdoe")
        .await
        .unwrap();
    let job = exporter
        .start(&h.tenant, "gl-accounts", "jdoe")
        .await
        .unwrap();
    let source = DyingSource {
        ctx: h.ctx.clone(),
        clock: h.clock.clone(),
        batches: 0,
    };

    let stopped = exporter
        .run_with_source(&h.tenant, &job.id, Some(Box::new(source)))
        .await
        .unwrap();
    let reset = exporter.reset(&h.tenant, &job.id, "ops").await.unwrap();
    let rerun = exporter.run(&h.tenant, &reset.id).await.unwrap();

    assert_eq!(stopped.status, JobStatus::Failed);
    let reason = stopped.fail_reason.clone().unwrap();
    assert!(
        reason.starts_with("worker stopped responding (lease expired at 2026-06-15T10:0"),
        "{reason}"
    );
    assert!(stopped.processed < 300, "the run stopped early");
    let key = format!(
        "exports/{}/gl-accounts.csv",
        ledgerlink_jobs::job::display_id(&job.id)
    );
    assert!(
        !h.ctx.storage.exists(&h.tenant, &key).await.unwrap(),
        "the abandoned upload left no file"
    );
    assert_eq!(reset.attempt, 2);
    assert_eq!(reset.original_id.as_deref(), Some(job.id.as_str()));
    assert_ne!(reset.id, job.id);
    assert_eq!(rerun.status, JobStatus::Finished);
    let kinds: Vec<NotificationKind> = h.notifications().await.iter().map(|n| n.kind).collect();
    assert!(
        kinds.contains(&NotificationKind::ExportFailed)
            && kinds.contains(&NotificationKind::ExportFinished)
    );
}

async fn a_job_never_picked_up_is_failed_once_its_lease_expires_and_not_before(h: Harness) {
    let exporter = Exporter::new(h.ctx.clone());
    exporter
        .definitions()
        .save(&h.tenant, &gl_definition(ExportFormat::Csv), "jdoe")
        .await
        .unwrap();
    let job = exporter
        .start(&h.tenant, "gl-accounts", "jdoe")
        .await
        .unwrap();

    let early = exporter.clean_up_stuck(100).await.unwrap();
    h.clock.advance(Duration::from_secs(16 * 60));
    let late = exporter.clean_up_stuck(100).await.unwrap();

    assert!(
        early.iter().all(|j| j.id != job.id || j.tenant != h.tenant),
        "a live lease is left alone"
    );
    let failed = late
        .iter()
        .find(|j| j.tenant == h.tenant && j.id == job.id)
        .unwrap();
    assert_eq!(failed.status, JobStatus::Failed);
    assert_eq!(
        failed.fail_reason.as_deref(),
        Some("worker stopped responding (lease expired at 2026-06-15T10:15:00Z)")
    );
}

async fn mark_as_failed_fails_a_started_job_with_the_reason_and_the_worker_then_does_nothing(
    h: Harness,
) {
    seed_gl_accounts(&h).await;
    let exporter = Exporter::new(h.ctx.clone());
    exporter
        .definitions()
        .save(&h.tenant, &gl_definition(ExportFormat::Csv), "jdoe")
        .await
        .unwrap();
    let job = exporter
        .start(&h.tenant, "gl-accounts", "jdoe")
        .await
        .unwrap();

    let reset_started = exporter.reset(&h.tenant, &job.id, "ops").await;
    let failed = exporter
        .mark_failed(&h.tenant, &job.id, "ops", "stuck at 0 / 25")
        .await
        .unwrap();
    let again = exporter
        .mark_failed(&h.tenant, &job.id, "ops", "twice")
        .await;
    let after_run = exporter.run(&h.tenant, &job.id).await.unwrap();

    assert!(
        matches!(reset_started, Err(JobError::WrongState { .. })),
        "a started job cannot be reset"
    );
    assert_eq!(failed.status, JobStatus::Failed);
    assert_eq!(
        failed.fail_reason.as_deref(),
        Some("marked as failed by ops: stuck at 0 / 25")
    );
    assert!(failed.failed_at.is_some());
    assert!(matches!(again, Err(JobError::WrongState { .. })));
    assert_eq!(
        after_run, failed,
        "a late delivery leaves a failed job alone"
    );
    let notes = h.notifications().await;
    assert_eq!(notes[0].kind, NotificationKind::ExportFailed);
    assert!(notes[0].body.contains("stuck at 0 / 25"));
}

async fn exports_started_at_the_same_moment_get_distinct_consecutive_ids(h: Harness) {
    let exporter = Exporter::new(h.ctx.clone());
    exporter
        .definitions()
        .save(&h.tenant, &gl_definition(ExportFormat::Csv), "jdoe")
        .await
        .unwrap();

    let handles: Vec<_> = (0..5)
        .map(|_| {
            let (exporter, tenant) = (exporter.clone(), h.tenant.clone());
            tokio::spawn(async move {
                exporter
                    .start(&tenant, "gl-accounts", "jdoe")
                    .await
                    .unwrap()
                    .id
            })
        })
        .collect();
    let mut ids = Vec::new();
    for handle in handles {
        ids.push(handle.await.unwrap());
    }

    ids.sort();
    let expected: Vec<String> = (1..=5u64).map(ledgerlink_jobs::job::format_id).collect();
    assert_eq!(ids, expected);
}

/// Issue 12 item 4: lookup rows an operator (or an attacker with a key) saved with spreadsheet formulas come
/// back neutralised in the CSV export; real numbers stay numbers.
async fn formulas_in_exported_values_are_neutralised_in_csv(h: Harness) {
    let attacks = [
        ("9001", "=HYPERLINK(\"http://x\",\"click\") revenue"),
        ("9002", "+1+cmd|'/C calc'!A0 revenue"),
        ("9003", "@SUM(1+1)*cmd revenue"),
        ("9004", "-2+3+cmd|' /C calc'!A0 revenue"),
        ("9005", "\t=1+1 revenue"),
    ];
    for (key, description) in attacks {
        h.seed_lookups(
            LookupTable::GlAccounts,
            &[(key, &[("description", description), ("exact_id", "-12.50")])],
        )
        .await;
    }
    let exporter = Exporter::new(h.ctx.clone());
    exporter
        .definitions()
        .save(&h.tenant, &gl_definition(ExportFormat::Csv), "jdoe")
        .await
        .unwrap();
    let started = exporter
        .start(&h.tenant, "gl-accounts", "jdoe")
        .await
        .unwrap();
    let done = exporter.run(&h.tenant, &started.id).await.unwrap();

    let bytes = h.object(done.file_key.as_deref().unwrap()).await.to_vec();
    let mut reader = csv::Reader::from_reader(bytes.as_slice());
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), attacks.len());
    for (row, (_, description)) in rows.iter().zip(attacks) {
        assert_eq!(&row[1], format!("'{description}"), "{row:?}");
        assert_eq!(&row[2], "-12.50", "a real number is kept: {row:?}");
    }
}

on_both_stores!(
    formulas_in_exported_values_are_neutralised_in_csv,
    exports_started_at_the_same_moment_get_distinct_consecutive_ids,
    a_csv_export_is_read_back_with_its_headers_and_filtered_rows_and_progress_reaches_total,
    an_xlsx_export_of_statuses_is_a_workbook_with_every_row,
    job_ids_are_monotonic_per_tenant_and_the_history_lists_newest_first,
    a_download_link_is_made_on_request_for_a_finished_export_only,
    a_killed_export_is_failed_by_the_clean_up_and_a_reset_runs_a_linked_new_attempt,
    a_job_never_picked_up_is_failed_once_its_lease_expires_and_not_before,
    mark_as_failed_fails_a_started_job_with_the_reason_and_the_worker_then_does_nothing,
);

#[test]
fn a_definition_naming_an_unknown_status_field_is_refused_with_the_column() {
    let mut definition = gl_definition(ExportFormat::Csv);
    definition.source = ExportSource::Statuses {
        filter: StatusFilter::default(),
    };
    definition.columns = vec![ExportColumn::new("colour", "Colour")];

    let result = definition.validate();

    assert!(
        matches!(result, Err(JobError::Invalid { ref field, .. }) if field == "columns[0].field"),
        "{result:?}"
    );
}
