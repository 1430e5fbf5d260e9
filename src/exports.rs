//! The demo's export definitions and the first round's export.
//!
//! A new user opens the page to an export history that already shows something: the local stack saves
//! four useful definitions for the demo tenant (once; an operator's edits and deletions are kept on later
//! starts, since only missing ids are created on the first start of a data dir) and the first round runs
//! "Firms with their ledger accounts" — which reads Vantagepoint and Exact Online through the tenant's
//! connections — printing its download link in the summary.

use std::path::PathBuf;

use anyhow::Context;
use ledgerlink_domain::{ObjectType, SyncStatus, TenantId};
use ledgerlink_jobs::{
    Condition, ConditionOp, ExportColumn, ExportDefinition, ExportFormat, ExportSource, Exporter,
    JobsContext,
};
use ledgerlink_ports::{JobStatus, StatusFilter};
use serde::Serialize;

use crate::demo;

/// The definition the first round runs.
pub const FIRST_EXPORT: &str = "firms-and-accounts";

fn columns(pairs: &[(&str, &str)]) -> Vec<ExportColumn> {
    pairs
        .iter()
        .map(|(field, header)| ExportColumn::new(field, header))
        .collect()
}

fn statuses(object_type: Option<ObjectType>, status: Option<SyncStatus>) -> ExportSource {
    ExportSource::Statuses {
        filter: StatusFilter {
            object_type,
            status,
            ..StatusFilter::default()
        },
    }
}

#[allow(clippy::too_many_arguments)]
fn definition(
    id: &str,
    name: &str,
    description: &str,
    source: ExportSource,
    cols: &[(&str, &str)],
    filter: Vec<Condition>,
    format: ExportFormat,
    file_name: &str,
) -> ExportDefinition {
    ExportDefinition {
        id: id.into(),
        name: name.into(),
        description: description.into(),
        source,
        columns: columns(cols),
        filter,
        format,
        file_name: Some(file_name.into()),
        schedule: None,
        updated_by: String::new(),
        updated_at: None,
        version: 0,
    }
}

/// The demo's definitions.
pub fn demo_definitions() -> Vec<ExportDefinition> {
    vec![
        definition(
            "invoices-this-period",
            "Invoices synced this period",
            "Every Vantagepoint invoice of the active accounting period that is in Exact Online, with its entry.",
            statuses(Some(ObjectType::Invoice), Some(SyncStatus::Success)),
            &[
                ("document", "Invoice"),
                ("period", "Period"),
                ("source_version", "Version"),
                ("target_id", "Exact Online entry"),
                ("updated_at", "Synced at"),
            ],
            vec![Condition {
                field: "period".into(),
                op: ConditionOp::InPeriod,
                value: "current".into(),
            }],
            ExportFormat::Csv,
            "invoices-{period}",
        ),
        definition(
            "payments-received",
            "Payments received",
            "Payments registered in Exact Online and recorded in Vantagepoint as cash receipts.",
            statuses(Some(ObjectType::CashReceipt), Some(SyncStatus::Success)),
            &[
                ("document", "Payment"),
                ("source_version", "Version"),
                ("target_id", "Vantagepoint batch"),
                ("updated_at", "Recorded at"),
            ],
            Vec::new(),
            ExportFormat::Csv,
            "payments-received-{date}",
        ),
        definition(
            "objects-in-error",
            "Objects in Error with their last message",
            "What needs fixing: every object in Error, its message and how often it was tried.",
            statuses(None, Some(SyncStatus::Error)),
            &[
                ("object_type", "Type"),
                ("document", "Document"),
                ("period", "Period"),
                ("last_message", "Message"),
                ("attempts", "Attempts"),
                ("updated_at", "Last attempt"),
            ],
            Vec::new(),
            ExportFormat::Xlsx,
            "errors-{date}",
        ),
        definition(
            FIRST_EXPORT,
            "Firms with their ledger accounts",
            "Every Vantagepoint firm with the Exact Online account it is linked to and its sync status.",
            ExportSource::FirmAccounts,
            &[
                ("client", "Client"),
                ("vendor", "Vendor"),
                ("name", "Name"),
                ("role", "Role"),
                ("ledger_account_code", "Exact account"),
                ("ledger_account_name", "Exact account name"),
                ("sync_status", "Status"),
            ],
            Vec::new(),
            ExportFormat::Csv,
            "firms-and-accounts-{date}",
        ),
    ]
}

/// Saves the demo definitions the tenant does not have yet, on a fresh data dir only (a restart keeps
/// what the operator edited or deleted).
pub async fn ensure_definitions(
    jobs: &JobsContext,
    tenant: &TenantId,
    fresh: bool,
) -> anyhow::Result<()> {
    if !fresh {
        return Ok(());
    }
    let definitions = Exporter::new(jobs.clone()).definitions();
    for definition in demo_definitions() {
        if definitions.get(tenant, &definition.id).await?.is_none() {
            definitions
                .create(tenant, &definition, demo::OPERATOR)
                .await
                .with_context(|| format!("saving the demo export definition {}", definition.id))?;
        }
    }
    Ok(())
}

/// What the round's export did, for the summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExportReport {
    /// The number users see.
    pub id: String,
    pub description: String,
    pub status: String,
    pub rows: u64,
    /// A signed link (valid for 15 minutes, served while the stack runs).
    pub download_url: Option<String>,
    /// Where the file is on disk (it stays after the stack stops).
    pub file: Option<PathBuf>,
    pub fail_reason: Option<String>,
}

impl std::fmt::Display for ExportReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "  Export       : {} (job {}) {}, {} rows",
            self.description, self.id, self.status, self.rows
        )?;
        if let Some(reason) = &self.fail_reason {
            writeln!(f, "    failed     : {reason}")?;
        }
        if let Some(file) = &self.file {
            writeln!(f, "    file       : {}", file.display())?;
        }
        if let Some(url) = &self.download_url {
            writeln!(
                f,
                "    download   : {url}  (valid 15 minutes, while the stack runs)"
            )?;
        }
        Ok(())
    }
}

/// Starts the first export and runs it at once (as the export worker would), then makes its link.
pub async fn run_first_export(
    jobs: &JobsContext,
    tenant: &TenantId,
    files_root: &std::path::Path,
) -> anyhow::Result<Option<ExportReport>> {
    let exporter = Exporter::new(jobs.clone());
    if exporter
        .definitions()
        .get(tenant, FIRST_EXPORT)
        .await?
        .is_none()
    {
        // The operator deleted it: nothing to show.
        return Ok(None);
    }
    let job = exporter
        .start(tenant, FIRST_EXPORT, demo::OPERATOR)
        .await
        .context("starting the demo export")?;
    // Run it here; the queued message is then a duplicate the worker acknowledges without work.
    let done = exporter
        .run(tenant, &job.id)
        .await
        .context("running the demo export")?;
    let finished = done.status == JobStatus::Finished;
    let download_url = if finished {
        Some(exporter.download_url(tenant, &done.id).await?.url)
    } else {
        None
    };
    Ok(Some(ExportReport {
        id: ledgerlink_jobs::job::display_id(&done.id),
        description: done.description.clone(),
        status: format!("{:?}", done.status).to_lowercase(),
        rows: done
            .details
            .get("rows")
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0),
        download_url,
        file: done.file_key.as_deref().map(|key| {
            let path = files_root.join(tenant.as_str()).join(key);
            std::path::absolute(&path).unwrap_or(path)
        }),
        fail_reason: done.fail_reason,
    }))
}
