//! The Integrations Manager on both stores: tasks run / not run / failed per accounting period, running
//! one or all export tasks, import tasks, and the history of earlier periods.
#![allow(clippy::unwrap_used)]

use bytes::Bytes;
use ledgerlink_domain::Flow;
use ledgerlink_domain::period::Period;
use ledgerlink_jobs::import::ImportRequest;
use ledgerlink_jobs::worker::run_queued;
use ledgerlink_jobs::{
    ExportColumn, ExportDefinition, ExportFormat, ExportSource, Exporter, ImportFormat,
    ImportTemplate, Importer, IntegrationsManager, JobError,
};
use ledgerlink_ports::{Integration, JobKind, JobStatus, LookupTable, TaskRunState};

use crate::helpers::Harness;
use crate::on_both_stores;

fn definition(id: &str, table: LookupTable) -> ExportDefinition {
    ExportDefinition {
        id: id.into(),
        name: id.into(),
        description: String::new(),
        source: ExportSource::Lookup { table },
        columns: vec![ExportColumn::new("key", "Key")],
        filter: vec![],
        format: ExportFormat::Csv,
        updated_by: String::new(),
        updated_at: None,
        file_name: None,
        schedule: None,
        version: 0,
    }
}

async fn month_end(h: &Harness) -> IntegrationsManager {
    let exporter = Exporter::new(h.ctx.clone());
    exporter
        .definitions()
        .save(
            &h.tenant,
            &definition("gl-out", LookupTable::GlAccounts),
            "jdoe",
        )
        .await
        .unwrap();
    exporter
        .definitions()
        .save(
            &h.tenant,
            &definition("jobs-out", LookupTable::JournalCodes),
            "jdoe",
        )
        .await
        .unwrap();
    let manager = IntegrationsManager::new(h.ctx.clone());
    let integration = Integration {
        tenant: h.tenant.clone(),
        id: "month-end".into(),
        name: "Month end".into(),
        description: "Firms in, accounts out".into(),
        import_tasks: vec!["firms".into()],
        export_tasks: vec!["gl-out".into(), "jobs-out".into()],
        version: 0,
        updated_at: h.clock_now(),
    };
    manager.save(&integration, None).await.unwrap();
    manager
}

fn june() -> Period {
    Period::new(2026, 6).unwrap()
}

async fn each_task_shows_run_not_run_or_failed_in_its_period_with_history_kept(h: Harness) {
    let manager = month_end(&h).await;
    let exporter = Exporter::new(h.ctx.clone());

    let before = manager
        .overview(&h.tenant, "month-end", Some(june()))
        .await
        .unwrap();
    let jobs = manager
        .run_exports(&h.tenant, "month-end", None, Some(june()), "jdoe")
        .await
        .unwrap();
    exporter.run(&h.tenant, &jobs[0].id).await.unwrap();
    exporter
        .mark_failed(&h.tenant, &jobs[1].id, "ops", "source unavailable")
        .await
        .unwrap();
    let june_view = manager
        .overview(&h.tenant, "month-end", Some(june()))
        .await
        .unwrap();
    let july_view = manager
        .overview(&h.tenant, "month-end", Some(Period::new(2026, 7).unwrap()))
        .await
        .unwrap();
    let history = manager
        .history(&h.tenant, "month-end", june())
        .await
        .unwrap();

    let states = |v: &ledgerlink_jobs::IntegrationOverview| {
        v.export_tasks
            .iter()
            .chain(&v.import_tasks)
            .map(|t| (t.task.clone(), t.state))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        states(&before),
        [
            ("export:gl-out".to_owned(), TaskRunState::NotRun),
            ("export:jobs-out".to_owned(), TaskRunState::NotRun),
            ("import:firms".to_owned(), TaskRunState::NotRun)
        ]
    );
    assert_eq!(
        jobs.len(),
        2,
        "running all export tasks starts one job per definition"
    );
    assert_eq!(
        states(&june_view),
        [
            ("export:gl-out".to_owned(), TaskRunState::Run),
            ("export:jobs-out".to_owned(), TaskRunState::Failed),
            ("import:firms".to_owned(), TaskRunState::NotRun)
        ]
    );
    assert_eq!(june_view.period, 202606);
    assert!(
        june_view.export_tasks[1]
            .message
            .as_deref()
            .unwrap()
            .contains("source unavailable")
    );
    assert!(
        july_view
            .export_tasks
            .iter()
            .all(|t| t.state == TaskRunState::NotRun),
        "another period starts fresh"
    );
    assert_eq!(history.len(), 2, "june keeps its runs");
}

async fn running_one_export_task_and_an_import_task_records_only_those(h: Harness) {
    let manager = month_end(&h).await;
    let exporter = Exporter::new(h.ctx.clone());
    let importer = Importer::new(h.ctx.clone());

    let one = manager
        .run_exports(
            &h.tenant,
            "month-end",
            Some(&["jobs-out".to_owned()]),
            Some(june()),
            "jdoe",
        )
        .await
        .unwrap();
    exporter.run(&h.tenant, &one[0].id).await.unwrap();
    let task = manager
        .import_task(&h.tenant, "month-end", ImportTemplate::Firms, Some(june()))
        .await
        .unwrap();
    let request = ImportRequest {
        template: ImportTemplate::Firms,
        format: ImportFormat::Csv,
        partial: false,
        integration: Some(task),
    };
    let csv = "Accounting Reference,Name,Type,Parent Accounting Reference,Search Code,VAT Number,Email,Currency,Payment Days\nC-1,One,Customer,,,,,,\n";
    let import = importer
        .upload(
            &h.tenant,
            &request,
            "jdoe",
            Bytes::from_static(csv.as_bytes()),
        )
        .await
        .unwrap();
    importer.run(&h.tenant, &import.id).await.unwrap();
    let unknown = manager
        .run_exports(
            &h.tenant,
            "month-end",
            Some(&["nope".to_owned()]),
            Some(june()),
            "jdoe",
        )
        .await;
    let view = manager
        .overview(&h.tenant, "month-end", Some(june()))
        .await
        .unwrap();

    assert_eq!(one.len(), 1);
    assert_eq!(one[0].kind, JobKind::Export);
    assert!(matches!(unknown, Err(JobError::Invalid { .. })));
    let state = |task: &str| {
        view.export_tasks
            .iter()
            .chain(&view.import_tasks)
            .find(|t| t.task == task)
            .unwrap()
            .state
    };
    assert_eq!(state("export:gl-out"), TaskRunState::NotRun);
    assert_eq!(state("export:jobs-out"), TaskRunState::Run);
    assert_eq!(state("import:firms"), TaskRunState::Run);
}

async fn an_integration_naming_an_unknown_definition_or_template_is_refused(h: Harness) {
    let manager = IntegrationsManager::new(h.ctx.clone());
    let mut integration = Integration {
        tenant: h.tenant.clone(),
        id: "bad".into(),
        name: "Bad".into(),
        description: String::new(),
        import_tasks: vec![],
        export_tasks: vec!["not-saved".into()],
        version: 0,
        updated_at: h.clock_now(),
    };

    let unknown_definition = manager.save(&integration, None).await;
    integration.export_tasks.clear();
    integration.import_tasks = vec!["invoices".into()];
    let unknown_template = manager.save(&integration, None).await;
    let no_period = manager.period(None).await;

    assert!(
        matches!(unknown_definition, Err(JobError::Invalid { ref field, .. }) if field == "export_tasks")
    );
    assert!(
        matches!(unknown_template, Err(JobError::Invalid { ref field, .. }) if field == "template")
    );
    assert!(
        matches!(no_period, Err(JobError::NotConfigured { .. })),
        "without a PSA the period must be given"
    );
}

on_both_stores!(
    each_task_shows_run_not_run_or_failed_in_its_period_with_history_kept,
    running_one_export_task_and_an_import_task_records_only_those,
    an_integration_naming_an_unknown_definition_or_template_is_refused,
);

async fn the_local_worker_runs_every_queued_export_and_import_and_empties_the_queues(h: Harness) {
    let manager = month_end(&h).await;
    let importer = Importer::new(h.ctx.clone());
    let exports = manager
        .run_exports(&h.tenant, "month-end", None, Some(june()), "jdoe")
        .await
        .unwrap();
    let request = ImportRequest {
        template: ImportTemplate::Lookup(LookupTable::JournalCodes),
        format: ImportFormat::Csv,
        partial: false,
        integration: None,
    };
    let import = importer
        .upload(
            &h.tenant,
            &request,
            "jdoe",
            Bytes::from_static(b"Key,description\nVK,Sales journal\n"),
        )
        .await
        .unwrap();

    let exported = run_queued(&h.ctx, Flow::ExportJob, 10).await.unwrap();
    let imported = run_queued(&h.ctx, Flow::ImportJob, 10).await.unwrap();

    let mut ids: Vec<&str> = exported.iter().map(|j| j.id.as_str()).collect();
    ids.sort_unstable();
    assert_eq!(ids, [exports[0].id.as_str(), exports[1].id.as_str()]);
    assert!(exported.iter().all(|j| j.status == JobStatus::Finished));
    assert_eq!(imported.len(), 1);
    assert_eq!(
        (imported[0].id.as_str(), imported[0].status),
        (import.id.as_str(), JobStatus::Finished)
    );
    assert_eq!(h.ctx.queue.depth(Flow::ExportJob).await.unwrap(), 0);
    assert_eq!(h.ctx.queue.depth(Flow::ImportJob).await.unwrap(), 0);
}

on_both_stores!(the_local_worker_runs_every_queued_export_and_import_and_empties_the_queues);
