//! [`VantagepointPsa`]: the PSA port implemented on [`VantagepointClient`], and the mapping of the client's
//! errors onto the port's [`PsaError`].

use async_trait::async_trait;
use ledgerlink_domain::period::Period;
use ledgerlink_domain::vantagepoint::{
    Account, ApPayment, ApVoucher, BankCode, CrControl, Currency, EmPayment, Employee,
    ExpenseReport, Firm, FirmAddress, JournalEntry, LedgerRow, TaxCode,
};
use ledgerlink_ports::psa::{
    AccountingPeriod, AutoPostingAccounts, CashReceiptPosting, CashReceiptState, FirmChanges,
    FirmRole, PaymentPosting, PostedArDocument, Project, Psa, PsaError, PsaResult,
    RegisteredWebhook, TimeWindow, WebhookRegistration,
};

use crate::client::VantagepointClient;
use crate::error::VpError;

/// The Vantagepoint adapter of the PSA port.
#[derive(Debug, Clone)]
pub struct VantagepointPsa {
    client: VantagepointClient,
}

impl VantagepointPsa {
    pub fn new(client: VantagepointClient) -> Self {
        Self { client }
    }
    pub fn client(&self) -> &VantagepointClient {
        &self.client
    }
}

impl From<VpError> for PsaError {
    fn from(e: VpError) -> Self {
        let message = e.to_string();
        match e {
            VpError::Validation { message, .. } => PsaError::Validation { message },
            VpError::NotFound { what } => PsaError::NotFound { what },
            VpError::Unauthorized { message } => PsaError::Unauthorized { message },
            VpError::Forbidden { message, .. } => PsaError::Forbidden { message },
            VpError::Transient {
                retry_after,
                source,
                ..
            } => PsaError::Transient {
                message,
                retry_after,
                source,
            },
            VpError::OutcomeUnknown { source, .. } => PsaError::OutcomeUnknown { message, source },
            VpError::Decode { source, .. } => PsaError::Decode { message, source },
            VpError::BusinessRule { message, .. } => PsaError::BusinessRule { message },
            VpError::Config { .. } => PsaError::Permanent {
                message,
                source: None,
            },
            VpError::Store(store) => {
                if store.is_retryable() {
                    PsaError::Transient {
                        message,
                        retry_after: None,
                        source: Some(Box::new(store)),
                    }
                } else {
                    PsaError::Permanent {
                        message,
                        source: Some(Box::new(store)),
                    }
                }
            }
        }
    }
}

#[async_trait]
impl Psa for VantagepointPsa {
    async fn changed_firms(&self, window: TimeWindow, role: FirmRole) -> PsaResult<Vec<Firm>> {
        Ok(self.client.changed_firms(window, role).await?)
    }
    async fn firm(&self, client_id: &str) -> PsaResult<Option<Firm>> {
        Ok(self.client.firm(client_id).await?)
    }
    async fn create_firm(&self, firm: &Firm) -> PsaResult<Firm> {
        Ok(self.client.create_firm(firm).await?)
    }
    async fn update_firm(&self, client_id: &str, changes: &FirmChanges) -> PsaResult<Firm> {
        Ok(self.client.update_firm(client_id, changes).await?)
    }
    async fn create_firm_address(
        &self,
        client_id: &str,
        address: &FirmAddress,
    ) -> PsaResult<FirmAddress> {
        Ok(self.client.create_firm_address(client_id, address).await?)
    }
    async fn changed_employees(&self, window: TimeWindow) -> PsaResult<Vec<Employee>> {
        Ok(self.client.changed_employees(window).await?)
    }
    async fn employee(&self, employee: &str) -> PsaResult<Option<Employee>> {
        Ok(self.client.employee(employee).await?)
    }
    async fn project(&self, wbs1: &str) -> PsaResult<Option<Project>> {
        Ok(self.client.project(wbs1).await?)
    }
    async fn accounts(&self) -> PsaResult<Vec<Account>> {
        Ok(self.client.accounts().await?)
    }
    async fn create_account(&self, account: &Account) -> PsaResult<Account> {
        Ok(self.client.create_account(account).await?)
    }
    async fn update_account(&self, account: &Account) -> PsaResult<Account> {
        Ok(self.client.update_account(account).await?)
    }
    async fn currencies(&self) -> PsaResult<Vec<Currency>> {
        Ok(self.client.currencies().await?)
    }
    async fn tax_codes(&self) -> PsaResult<Vec<TaxCode>> {
        Ok(self.client.tax_codes().await?)
    }
    async fn create_tax_code(&self, tax_code: &TaxCode) -> PsaResult<TaxCode> {
        Ok(self.client.create_tax_code(tax_code).await?)
    }
    async fn bank_codes(&self) -> PsaResult<Vec<BankCode>> {
        Ok(self.client.bank_codes().await?)
    }
    async fn auto_posting_accounts(&self, company: Option<&str>) -> PsaResult<AutoPostingAccounts> {
        Ok(self.client.auto_posting_accounts(company).await?)
    }
    async fn periods(&self) -> PsaResult<Vec<AccountingPeriod>> {
        Ok(self.client.periods().await?)
    }
    async fn active_period(&self) -> PsaResult<Period> {
        Ok(self.client.active_period().await?)
    }
    async fn set_active_period(&self, period: Period) -> PsaResult<()> {
        Ok(self.client.set_active_period(period).await?)
    }
    async fn posted_ar_documents(&self, window: TimeWindow) -> PsaResult<Vec<PostedArDocument>> {
        Ok(self.client.posted_ar_documents(window).await?)
    }
    async fn posted_vouchers(&self, window: TimeWindow) -> PsaResult<Vec<ApVoucher>> {
        Ok(self.client.posted_vouchers(window).await?)
    }
    async fn posted_expense_reports(&self, window: TimeWindow) -> PsaResult<Vec<ExpenseReport>> {
        Ok(self.client.posted_expense_reports(window).await?)
    }
    async fn posted_journal_entries(&self, window: TimeWindow) -> PsaResult<Vec<JournalEntry>> {
        Ok(self.client.posted_journal_entries(window).await?)
    }
    async fn invoice_rows(
        &self,
        invoice: &str,
        period: Period,
        post_seq: u32,
    ) -> PsaResult<Vec<LedgerRow>> {
        Ok(self.client.invoice_rows(invoice, period, post_seq).await?)
    }
    async fn invoice_balance(&self, invoice: &str) -> PsaResult<Option<rust_decimal::Decimal>> {
        Ok(self.client.invoice_balance(invoice).await?)
    }
    async fn find_cash_receipt(&self, batch: &str) -> PsaResult<Option<CashReceiptState>> {
        Ok(self.client.find_cash_receipt(batch).await?)
    }
    async fn record_cash_receipt(&self, receipt: &CrControl) -> PsaResult<CashReceiptPosting> {
        Ok(self.client.record_cash_receipt(receipt).await?)
    }
    async fn post_vendor_payment(&self, payment: &ApPayment) -> PsaResult<PaymentPosting> {
        Ok(self.client.post_vendor_payment(payment).await?)
    }
    async fn post_employee_payment(&self, payment: &EmPayment) -> PsaResult<PaymentPosting> {
        Ok(self.client.post_employee_payment(payment).await?)
    }
    async fn register_webhook(
        &self,
        registration: &WebhookRegistration,
    ) -> PsaResult<RegisteredWebhook> {
        Ok(self.client.register_webhook(registration).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_errors_keep_their_meaning_on_the_port() {
        let t: PsaError = VpError::Transient {
            operation: "GET".into(),
            message: "503".into(),
            retry_after: None,
            source: None,
        }
        .into();
        assert!(t.is_retryable());
        let u: PsaError = VpError::OutcomeUnknown {
            operation: "POST".into(),
            message: "lost".into(),
            source: None,
        }
        .into();
        assert!(matches!(u, PsaError::OutcomeUnknown { .. }) && !u.is_retryable());
        let b: PsaError = VpError::BusinessRule {
            operation: "post".into(),
            message: "out of balance".into(),
        }
        .into();
        assert!(matches!(b, PsaError::BusinessRule { ref message } if message == "out of balance"));
        let v: PsaError = VpError::Validation {
            operation: "POST".into(),
            message: "Invalid WBS1".into(),
        }
        .into();
        assert!(matches!(v, PsaError::Validation { ref message } if message == "Invalid WBS1"));
    }
}
