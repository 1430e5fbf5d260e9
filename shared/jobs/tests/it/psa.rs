//! The PSA side of the jobs: Vantagepoint firms exported through the PSA port, and the Integrations
//! Manager reading the active accounting period from Vantagepoint when none is given.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use async_trait::async_trait;
use ledgerlink_domain::period::Period;
use ledgerlink_domain::vantagepoint::{
    Account, ApPayment, BankCode, CrControl, Currency, EmPayment, Employee, ExpenseReport, Firm,
    FirmAddress, JournalEntry, LedgerRow, TaxCode,
};
use ledgerlink_jobs::{
    ExportColumn, ExportDefinition, ExportFormat, ExportSource, Exporter, IntegrationsManager,
};
use ledgerlink_ports::psa::{
    AccountingPeriod, AutoPostingAccounts, CashReceiptPosting, CashReceiptState, FirmChanges,
    FirmRole, PaymentPosting, PostedArDocument, Project, Psa, PsaError, PsaResult,
    RegisteredWebhook, TimeWindow, WebhookRegistration,
};
use ledgerlink_ports::{Integration, JobStatus, TaskRunState};

use crate::helpers::embedded;

/// A Vantagepoint with two firms, in period 2026/06.
#[derive(Debug)]
struct SmallVp;

fn unsupported<T>() -> PsaResult<T> {
    Err(PsaError::Permanent {
        message: "not part of this test PSA".into(),
        source: None,
    })
}

fn firm(id: &str, name: &str) -> Firm {
    Firm {
        client_id: Some(id.into()),
        name: name.into(),
        ..Firm::default()
    }
}

#[async_trait]
impl Psa for SmallVp {
    async fn changed_firms(&self, window: TimeWindow, _: FirmRole) -> PsaResult<Vec<Firm>> {
        assert!(
            window.from.timestamp() < 0,
            "an export reads every firm, not a recent window"
        );
        Ok(vec![
            firm("F-1", "Acme Holding"),
            firm("F-2", "Paper Supplies"),
        ])
    }
    async fn firm(&self, _: &str) -> PsaResult<Option<Firm>> {
        unsupported()
    }
    async fn create_firm(&self, _: &Firm) -> PsaResult<Firm> {
        unsupported()
    }
    async fn update_firm(&self, _: &str, _: &FirmChanges) -> PsaResult<Firm> {
        unsupported()
    }
    async fn create_firm_address(&self, _: &str, _: &FirmAddress) -> PsaResult<FirmAddress> {
        unsupported()
    }
    async fn changed_employees(&self, _: TimeWindow) -> PsaResult<Vec<Employee>> {
        unsupported()
    }
    async fn employee(&self, _: &str) -> PsaResult<Option<Employee>> {
        unsupported()
    }
    async fn project(&self, _: &str) -> PsaResult<Option<Project>> {
        unsupported()
    }
    async fn accounts(&self) -> PsaResult<Vec<Account>> {
        unsupported()
    }
    async fn create_account(&self, _: &Account) -> PsaResult<Account> {
        unsupported()
    }
    async fn update_account(&self, _: &Account) -> PsaResult<Account> {
        unsupported()
    }
    async fn currencies(&self) -> PsaResult<Vec<Currency>> {
        unsupported()
    }
    async fn tax_codes(&self) -> PsaResult<Vec<TaxCode>> {
        unsupported()
    }
    async fn create_tax_code(&self, _: &TaxCode) -> PsaResult<TaxCode> {
        unsupported()
    }
    async fn bank_codes(&self) -> PsaResult<Vec<BankCode>> {
        unsupported()
    }
    async fn auto_posting_accounts(&self, _: Option<&str>) -> PsaResult<AutoPostingAccounts> {
        unsupported()
    }
    async fn periods(&self) -> PsaResult<Vec<AccountingPeriod>> {
        unsupported()
    }
    async fn active_period(&self) -> PsaResult<Period> {
        Ok(Period::new(2026, 6).unwrap())
    }
    async fn set_active_period(&self, _: Period) -> PsaResult<()> {
        unsupported()
    }
    async fn posted_ar_documents(&self, _: TimeWindow) -> PsaResult<Vec<PostedArDocument>> {
        unsupported()
    }
    async fn posted_vouchers(
        &self,
        _: TimeWindow,
    ) -> PsaResult<Vec<ledgerlink_domain::vantagepoint::ApVoucher>> {
        unsupported()
    }
    async fn posted_expense_reports(&self, _: TimeWindow) -> PsaResult<Vec<ExpenseReport>> {
        unsupported()
    }
    async fn posted_journal_entries(&self, _: TimeWindow) -> PsaResult<Vec<JournalEntry>> {
        unsupported()
    }
    async fn invoice_rows(&self, _: &str, _: Period, _: u32) -> PsaResult<Vec<LedgerRow>> {
        unsupported()
    }
    async fn find_cash_receipt(&self, _: &str) -> PsaResult<Option<CashReceiptState>> {
        unsupported()
    }
    async fn record_cash_receipt(&self, _: &CrControl) -> PsaResult<CashReceiptPosting> {
        unsupported()
    }
    async fn post_vendor_payment(&self, _: &ApPayment) -> PsaResult<PaymentPosting> {
        unsupported()
    }
    async fn post_employee_payment(&self, _: &EmPayment) -> PsaResult<PaymentPosting> {
        unsupported()
    }
    async fn register_webhook(&self, _: &WebhookRegistration) -> PsaResult<RegisteredWebhook> {
        unsupported()
    }
}

fn vp_firms() -> ExportDefinition {
    ExportDefinition {
        id: "vp-firms".into(),
        name: "VP firms".into(),
        description: "Every Vantagepoint firm".into(),
        source: ExportSource::VpFirms,
        columns: vec![
            ExportColumn::new("ClientID", "Client ID"),
            ExportColumn::new("Name", "Name"),
        ],
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
async fn vantagepoint_firms_export_through_the_psa_port_and_tasks_run_in_the_active_period() {
    let h = embedded().await;
    let ctx = h.ctx.clone().with_psa(Arc::new(SmallVp));
    let exporter = Exporter::new(ctx.clone());
    exporter
        .definitions()
        .save(&h.tenant, &vp_firms(), "jdoe")
        .await
        .unwrap();
    let manager = IntegrationsManager::new(ctx);
    let integration = Integration {
        tenant: h.tenant.clone(),
        id: "firms-out".into(),
        name: "Firms out".into(),
        description: String::new(),
        import_tasks: vec![],
        export_tasks: vec!["vp-firms".into()],
        version: 0,
        updated_at: h.clock_now(),
    };
    manager.save(&integration, None).await.unwrap();

    let jobs = manager
        .run_exports(&h.tenant, "firms-out", None, None, "jdoe")
        .await
        .unwrap();
    let done = exporter.run(&h.tenant, &jobs[0].id).await.unwrap();
    let view = manager
        .overview(&h.tenant, "firms-out", None)
        .await
        .unwrap();

    assert_eq!(done.status, JobStatus::Finished, "{:?}", done.fail_reason);
    let text =
        String::from_utf8(h.object(done.file_key.as_deref().unwrap()).await.to_vec()).unwrap();
    assert_eq!(
        text,
        "Client ID,Name\nF-1,Acme Holding\nF-2,Paper Supplies\n"
    );
    assert_eq!(
        view.period, 202606,
        "the active period comes from Vantagepoint"
    );
    assert_eq!(view.export_tasks[0].state, TaskRunState::Run);
    assert_eq!(view.export_tasks[0].job_id.as_deref(), Some("1"));
}
