//! Export sources beyond the stores: the ledger port (a small in-memory ledger), a missing PSA, and
//! progress saved while an export runs.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use async_trait::async_trait;
use ledgerlink_domain::exact::{
    Account, Address, Contact, Currency, GeneralJournalEntry, GlAccount, PaymentTerm,
    PurchaseEntry, SalesEntry, VatCodeRecord,
};
use ledgerlink_jobs::source::{Record, RowSource};
use ledgerlink_jobs::{
    Condition, ConditionOp, ExportColumn, ExportDefinition, ExportFormat, ExportSource, Exporter,
    JobResult, JobsContext,
};
use ledgerlink_ports::ledger::{
    ChangeBatch, DeletedRecord, DocumentKind, Ledger, LedgerError, LedgerResult, Posted,
    SalesDocumentKind,
};
use ledgerlink_ports::{JobStatus, NotificationKind};

use crate::helpers::{Harness, embedded};
use crate::on_both_stores;

/// A ledger that only knows its chart of accounts.
#[derive(Debug)]
struct ChartOnly(Vec<GlAccount>);

fn unsupported<T>() -> LedgerResult<T> {
    Err(LedgerError::Permanent {
        message: "not part of this test ledger".into(),
        source: None,
    })
}

#[async_trait]
impl Ledger for ChartOnly {
    async fn account(&self, _: &str) -> LedgerResult<Option<Account>> {
        unsupported()
    }
    async fn create_account(&self, _: &Account) -> LedgerResult<Account> {
        unsupported()
    }
    async fn update_account(&self, _: &str, _: &Account) -> LedgerResult<Account> {
        unsupported()
    }
    fn account_url(&self, _: &str) -> Option<String> {
        None
    }
    async fn upsert_address(&self, _: &Address) -> LedgerResult<Posted> {
        unsupported()
    }
    async fn upsert_contact(&self, _: &Contact) -> LedgerResult<Posted> {
        unsupported()
    }
    async fn post_sales_document(
        &self,
        _: SalesDocumentKind,
        _: &SalesEntry,
        _: bool,
    ) -> LedgerResult<Posted> {
        unsupported()
    }
    async fn post_purchase_document(&self, _: &PurchaseEntry, _: bool) -> LedgerResult<Posted> {
        unsupported()
    }
    async fn post_journal(
        &self,
        _: &str,
        _: &GeneralJournalEntry,
        _: bool,
    ) -> LedgerResult<Posted> {
        unsupported()
    }
    async fn find_document(&self, _: DocumentKind, _: &str) -> LedgerResult<Option<String>> {
        unsupported()
    }
    async fn find_account(&self, _: &str) -> LedgerResult<Option<Account>> {
        unsupported()
    }
    async fn payments_since(&self, _: Option<&str>) -> LedgerResult<ChangeBatch<PaymentTerm>> {
        unsupported()
    }
    async fn accounts_since(&self, _: Option<&str>) -> LedgerResult<ChangeBatch<Account>> {
        unsupported()
    }
    async fn deletions_since(&self, _: Option<&str>) -> LedgerResult<ChangeBatch<DeletedRecord>> {
        unsupported()
    }
    async fn gl_accounts(&self) -> LedgerResult<Vec<GlAccount>> {
        Ok(self.0.clone())
    }
    async fn tax_codes(&self) -> LedgerResult<Vec<VatCodeRecord>> {
        unsupported()
    }
    async fn currencies(&self) -> LedgerResult<Vec<Currency>> {
        unsupported()
    }
}

fn gl(code: &str, description: &str, gl_type: i32) -> GlAccount {
    GlAccount {
        id: None,
        code: code.into(),
        description: description.into(),
        gl_type: Some(gl_type),
        balance_side: None,
        balance_type: None,
        is_blocked: None,
    }
}

fn definition(source: ExportSource, columns: &[(&str, &str)]) -> ExportDefinition {
    ExportDefinition {
        id: "ledger-out".into(),
        name: "Exact GL accounts".into(),
        description: String::new(),
        source,
        columns: columns
            .iter()
            .map(|(f, h)| ExportColumn::new(f, h))
            .collect(),
        filter: vec![],
        format: ExportFormat::Csv,
        updated_by: String::new(),
        updated_at: None,
        file_name: None,
        schedule: None,
        version: 0,
    }
}

#[tokio::test]
async fn exact_gl_accounts_export_through_the_ledger_port_with_their_wire_field_names() {
    let h = embedded().await;
    let ledger = ChartOnly(vec![
        gl("8000", "Revenue", 110),
        gl("1300", "Debtors", 20),
        gl("8100", "Revenue services", 110),
    ]);
    let ctx = h.ctx.clone().with_ledger(Arc::new(ledger));
    let exporter = Exporter::new(ctx);
    let mut def = definition(
        ExportSource::ExactGlAccounts,
        &[
            ("Code", "Account"),
            ("Description", "Name"),
            ("Type", "Type"),
        ],
    );
    def.filter = vec![Condition {
        field: "Type".into(),
        op: ConditionOp::Equals,
        value: "110".into(),
    }];

    let job = exporter
        .start_definition(&h.tenant, &def, "jdoe", None)
        .await
        .unwrap();
    let done = exporter.run(&h.tenant, &job.id).await.unwrap();

    assert_eq!(done.status, JobStatus::Finished, "{:?}", done.fail_reason);
    assert_eq!((done.processed, done.total), (3, Some(3)));
    let text =
        String::from_utf8(h.object(done.file_key.as_deref().unwrap()).await.to_vec()).unwrap();
    assert_eq!(
        text,
        "Account,Name,Type\n8000,Revenue,110\n8100,Revenue services,110\n"
    );
}

async fn an_export_of_vantagepoint_firms_without_a_vantagepoint_connection_fails_with_the_reason(
    h: Harness,
) {
    let exporter = Exporter::new(h.ctx.clone());
    let def = definition(
        ExportSource::VpFirms,
        &[("ClientID", "ClientID"), ("Name", "Name")],
    );

    let job = exporter
        .start_definition(&h.tenant, &def, "jdoe", None)
        .await
        .unwrap();
    let done = exporter.run(&h.tenant, &job.id).await.unwrap();

    assert_eq!(done.status, JobStatus::Failed);
    assert_eq!(
        done.fail_reason.as_deref(),
        Some("the Vantagepoint connection is not configured")
    );
    let notes = h.notifications().await;
    assert_eq!(notes[0].kind, NotificationKind::ExportFailed);
    assert_eq!(notes[0].recipient, "jdoe");
}

/// What a watching source saw of the job: processed rows and the lease, per batch.
type Seen = Arc<std::sync::Mutex<Vec<(u64, Option<chrono::DateTime<chrono::Utc>>)>>>;

/// Rows of one column; from its second batch on it reads the job's saved progress.
#[derive(Debug)]
struct Watching {
    ctx: JobsContext,
    tenant: ledgerlink_domain::TenantId,
    job: String,
    batches: u32,
    seen: Seen,
}

#[async_trait]
impl RowSource for Watching {
    async fn total(&mut self) -> JobResult<Option<u64>> {
        Ok(Some(100))
    }
    async fn next_batch(&mut self) -> JobResult<Option<Vec<Record>>> {
        self.batches += 1;
        if self.batches > 1 {
            let job = self
                .ctx
                .stores
                .jobs
                .get(&self.tenant, &self.job)
                .await?
                .unwrap();
            self.seen
                .lock()
                .unwrap()
                .push((job.processed, job.lease_expires_at));
        }
        if self.batches > 4 {
            return Ok(None);
        }
        Ok(Some(
            (0..25)
                .map(|n| Record::new().with("key", n.to_string()))
                .collect(),
        ))
    }
}

async fn progress_is_saved_while_an_export_runs(h: Harness) {
    let exporter = Exporter::new(h.ctx.clone());
    let def = definition(ExportSource::VpFirms, &[("key", "Key")]);
    let job = exporter
        .start_definition(&h.tenant, &def, "jdoe", None)
        .await
        .unwrap();
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let source = Watching {
        ctx: h.ctx.clone(),
        tenant: h.tenant.clone(),
        job: job.id.clone(),
        batches: 0,
        seen: seen.clone(),
    };

    let done = exporter
        .run_with_source(&h.tenant, &job.id, Some(Box::new(source)))
        .await
        .unwrap();

    let seen = seen.lock().unwrap().clone();
    let processed: Vec<u64> = seen.iter().map(|(p, _)| *p).collect();
    assert_eq!(
        processed,
        [20, 50, 70, 100],
        "progress is saved every 10 rows at most, as the rows go"
    );
    assert!(
        seen.iter().all(|(_, lease)| lease.is_some()),
        "a running job keeps a lease"
    );
    assert_eq!(done.status, JobStatus::Finished);
    assert_eq!(
        (done.processed, done.total, done.lease_expires_at),
        (100, Some(100), None)
    );
}

async fn a_fast_export_writes_its_progress_at_most_once_per_minimum_interval(mut h: Harness) {
    h.ctx = h.ctx.clone().with_settings(ledgerlink_jobs::JobSettings {
        progress_min_interval: std::time::Duration::from_secs(60),
        ..crate::helpers::settings()
    });
    let exporter = Exporter::new(h.ctx.clone());
    let def = definition(ExportSource::VpFirms, &[("key", "Key")]);
    let job = exporter
        .start_definition(&h.tenant, &def, "jdoe", None)
        .await
        .unwrap();
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let source = Watching {
        ctx: h.ctx.clone(),
        tenant: h.tenant.clone(),
        job: job.id.clone(),
        batches: 0,
        seen: seen.clone(),
    };

    let done = exporter
        .run_with_source(&h.tenant, &job.id, Some(Box::new(source)))
        .await
        .unwrap();

    let processed: Vec<u64> = seen.lock().unwrap().iter().map(|(p, _)| *p).collect();
    assert_eq!(
        processed,
        [0, 0, 0, 0],
        "the clock stood still, so 10-row progress was never due within the minimum interval"
    );
    assert_eq!((done.processed, done.total), (100, Some(100)));
}

on_both_stores!(
    an_export_of_vantagepoint_firms_without_a_vantagepoint_connection_fails_with_the_reason,
    progress_is_saved_while_an_export_runs,
    a_fast_export_writes_its_progress_at_most_once_per_minimum_interval,
);
