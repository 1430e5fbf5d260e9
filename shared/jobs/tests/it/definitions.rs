//! Export definitions as their own records: create / update from the version read / copy / delete, many
//! definitions of one tenant without touching the tenant record, definitions an earlier version kept in the
//! tenant's settings moved over, and `current` periods and file-name patterns fixed when a job starts.
#![allow(clippy::unwrap_used)]

use ledgerlink_domain::{ObjectKey, ObjectType, SyncStatus};
use ledgerlink_jobs::{
    Condition, ConditionOp, ExportColumn, ExportDefinition, ExportFormat, ExportSource, Exporter,
    JobError,
};
use ledgerlink_ports::{JobStatus, ObjectRef, ObjectStatus, StatusFilter, StoreError};

use crate::helpers::Harness;
use crate::on_both_stores;

fn invoices(id: &str) -> ExportDefinition {
    ExportDefinition {
        id: id.into(),
        name: "Invoices synced this period".into(),
        description: "Every invoice of the period in Success".into(),
        source: ExportSource::Statuses {
            filter: StatusFilter {
                object_type: Some(ObjectType::Invoice),
                status: Some(SyncStatus::Success),
                ..StatusFilter::default()
            },
        },
        columns: vec![
            ExportColumn::new("document", "Invoice"),
            ExportColumn::new("period", "Period"),
            ExportColumn::new("target_id", "Exact entry"),
        ],
        filter: vec![Condition {
            field: "period".into(),
            op: ConditionOp::InPeriod,
            value: "current".into(),
        }],
        format: ExportFormat::Csv,
        file_name: Some("invoices-{period}-job{job}".into()),
        schedule: None,
        updated_by: String::new(),
        updated_at: None,
        version: 0,
    }
}

async fn definitions_are_created_updated_from_the_version_read_copied_and_deleted(h: Harness) {
    let definitions = Exporter::new(h.ctx.clone()).definitions();
    let tenant_before = h.ctx.stores.tenants.get(&h.tenant).await.unwrap().unwrap();

    let created = definitions
        .create(&h.tenant, &invoices("invoices"), "ann")
        .await
        .unwrap();
    let duplicate = definitions
        .create(&h.tenant, &invoices("invoices"), "bob")
        .await;
    let mut anns_edit = created.clone();
    anns_edit.name = "Invoices of the month".into();
    let updated = definitions
        .update(&h.tenant, &anns_edit, "ann")
        .await
        .unwrap();
    let mut bobs_stale_edit = created.clone();
    bobs_stale_edit.name = "Bob's invoices".into();
    let stale = definitions.update(&h.tenant, &bobs_stale_edit, "bob").await;
    let copy = definitions
        .copy(&h.tenant, "invoices", "invoices-2", None, "bob")
        .await
        .unwrap();
    for i in 0..40 {
        definitions
            .create(&h.tenant, &invoices(&format!("many-{i:02}")), "ann")
            .await
            .unwrap();
    }
    definitions.delete(&h.tenant, "many-07").await.unwrap();
    let listed = definitions.list(&h.tenant).await.unwrap();
    let tenant_after = h.ctx.stores.tenants.get(&h.tenant).await.unwrap().unwrap();

    assert_eq!(created.version, 1);
    assert_eq!(created.updated_by, "ann");
    assert!(matches!(
        duplicate,
        Err(JobError::Store(StoreError::Conflict { .. }))
    ));
    assert_eq!(updated.version, 2);
    assert!(
        matches!(stale, Err(JobError::Store(StoreError::Conflict { .. }))),
        "an edit from an old version must not overwrite Ann's: {stale:?}"
    );
    assert_eq!(
        definitions
            .require(&h.tenant, "invoices")
            .await
            .unwrap()
            .name,
        "Invoices of the month"
    );
    assert_eq!(copy.name, "Invoices of the month (copy)");
    assert_eq!(copy.version, 1);
    assert_eq!(copy.columns, updated.columns);
    assert_eq!(listed.len(), 2 + 39, "every definition, across store pages");
    assert!(listed.iter().all(|d| d.id != "many-07"));
    assert_eq!(
        tenant_before.version, tenant_after.version,
        "definitions never write the tenant record"
    );
}

async fn definitions_kept_in_the_tenant_settings_by_an_earlier_version_are_moved_to_their_own_records(
    h: Harness,
) {
    let mut legacy = invoices("legacy-invoices");
    legacy.updated_by = "ann".into();
    let mut tenant = h.ctx.stores.tenants.get(&h.tenant).await.unwrap().unwrap();
    tenant.settings.insert(
        "export-definition/legacy-invoices".into(),
        serde_json::to_value(&legacy).unwrap(),
    );
    tenant
        .settings
        .insert("firm_filter".into(), serde_json::json!("active"));
    let version = tenant.version;
    h.ctx
        .stores
        .tenants
        .put(&tenant, Some(version))
        .await
        .unwrap();
    let definitions = Exporter::new(h.ctx.clone()).definitions();

    let listed = definitions.list(&h.tenant).await.unwrap();
    let record = h
        .ctx
        .stores
        .definitions
        .get(&h.tenant, "legacy-invoices")
        .await
        .unwrap();
    let tenant = h.ctx.stores.tenants.get(&h.tenant).await.unwrap().unwrap();

    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].name, legacy.name);
    assert_eq!(listed[0].updated_by, "ann");
    assert!(record.is_some(), "moved to its own record");
    assert!(
        !tenant
            .settings
            .contains_key("export-definition/legacy-invoices"),
        "and removed from the tenant record"
    );
    assert_eq!(
        tenant.settings.get("firm_filter"),
        Some(&serde_json::json!("active")),
        "other settings stay"
    );
}

async fn a_current_period_and_the_file_name_are_fixed_when_the_job_starts(h: Harness) {
    for (key, status) in [
        ("000000010804.202606.3", SyncStatus::Success),
        ("000000010805.202606.1", SyncStatus::Success),
        ("000000010701.202605.2", SyncStatus::Success),
        ("000000010806.202606.1", SyncStatus::Error),
    ] {
        let now = h.clock_now();
        let status = ObjectStatus {
            object: ObjectRef {
                tenant: h.tenant.clone(),
                object_type: ObjectType::Invoice,
                key: ObjectKey::parse(key).unwrap(),
            },
            category: ObjectType::Invoice.category(),
            status,
            version: 0,
            source_version: None,
            source_hash: None,
            target_id: Some(format!("entry-{key}")),
            last_message: None,
            fix: None,
            attempts: 1,
            created_at: now,
            updated_at: now,
        };
        h.ctx.stores.statuses.put(&status, None).await.unwrap();
    }
    let exporter = Exporter::new(h.ctx.clone());
    exporter
        .definitions()
        .create(&h.tenant, &invoices("invoices"), "ann")
        .await
        .unwrap();

    // No Vantagepoint here: `current` is the calendar month of the job's start (2026-06).
    let job = exporter.start(&h.tenant, "invoices", "ann").await.unwrap();
    let done = exporter.run(&h.tenant, &job.id).await.unwrap();
    let file = h.object(done.file_key.as_deref().unwrap()).await.to_vec();

    assert_eq!(done.status, JobStatus::Finished, "{:?}", done.fail_reason);
    assert_eq!(
        done.details["definition"]["filter"][0]["value"], "202606",
        "the job snapshots the period it ran for"
    );
    assert_eq!(
        done.file_key.as_deref(),
        Some(
            format!(
                "exports/{0}/invoices-202606-job{0}.csv",
                ledgerlink_jobs::job::display_id(&done.id)
            )
            .as_str()
        )
    );
    let text = String::from_utf8(file).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines[1..].sort_unstable();
    assert_eq!(
        lines,
        [
            "Invoice,Period,Exact entry",
            "000000010804,202606,entry-000000010804.202606.3",
            "000000010805,202606,entry-000000010805.202606.1",
        ]
    );
    assert_eq!(
        done.description,
        "Invoices synced this period export initiated on 2026-06-15"
    );
}

on_both_stores!(
    definitions_are_created_updated_from_the_version_read_copied_and_deleted,
    definitions_kept_in_the_tenant_settings_by_an_earlier_version_are_moved_to_their_own_records,
    a_current_period_and_the_file_name_are_fixed_when_the_job_starts,
);
