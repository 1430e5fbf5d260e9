//! The PSA port: what the flows ask of the project-accounting system (Deltek Vantagepoint).
//!
//! Operations are in domain terms (the VP records of `ledgerlink_domain::vantagepoint`); no HTTP types leak
//! through. The adapter (`ledgerlink-vantagepoint`'s `VantagepointPsa`) owns the wire: tokens, tolerant
//! decoding, `filterHash`, paging, retries. Two properties every adapter guarantees:
//! - Posted-ledger reads take a half-open `PostDate` window `[from, to)` and return each document exactly once
//!   across adjacent windows (a document belongs to the window holding its earliest posted row).
//! - [`Psa::record_cash_receipt`] is idempotent on the batch id: a batch that already exists (posted or not)
//!   is found and finished, never created twice, even when an earlier attempt's answer was lost.

use std::fmt::Debug;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use ledgerlink_domain::money::CurrencyCode;
use ledgerlink_domain::period::Period;
use ledgerlink_domain::vantagepoint::{
    Account, ApPayment, ApVoucher, ArInvoice, BankCode, BillingGroup, CrControl, CreditMemo,
    Currency, EmPayment, Employee, ExpenseReport, Firm, FirmAddress, JournalEntry, LedgerRow,
    TaxCode,
};

use crate::BoxError;

pub type PsaResult<T> = Result<T, PsaError>;

/// Why a PSA call failed; callers act on the variant.
#[derive(Debug, thiserror::Error)]
pub enum PsaError {
    /// VP refused the content; `message` is VP's own text (fix the data, do not retry).
    #[error("rejected by the PSA: {message}")]
    Validation { message: String },
    /// The record does not exist.
    #[error("{what} not found in the PSA")]
    NotFound { what: String },
    /// Credentials refused even after a token renewal: the connection needs new credentials.
    #[error("PSA credentials refused: {message}")]
    Unauthorized { message: String },
    /// The API user lacks the rights for the call.
    #[error("PSA access forbidden: {message}")]
    Forbidden { message: String },
    /// Timeouts, 5xx, throttling: the same call may succeed later (after `retry_after` when known).
    #[error("temporary PSA failure: {message}")]
    Transient {
        message: String,
        retry_after: Option<Duration>,
        #[source]
        source: Option<BoxError>,
    },
    /// A write was sent but its answer was lost; look the record up before writing again.
    #[error("outcome unknown: {message}")]
    OutcomeUnknown {
        message: String,
        #[source]
        source: Option<BoxError>,
    },
    /// The PSA answered in a shape the adapter does not understand.
    #[error("undecodable PSA answer: {message}")]
    Decode {
        message: String,
        #[source]
        source: Option<BoxError>,
    },
    /// A business rule failed: out-of-balance or duplicate batch, closed period, posting refused.
    #[error("PSA business rule failed: {message}")]
    BusinessRule { message: String },
    /// Anything else that will not heal by retrying (configuration, the token store).
    #[error("PSA failure: {message}")]
    Permanent {
        message: String,
        #[source]
        source: Option<BoxError>,
    },
}

impl PsaError {
    /// Whether the same call may succeed if simply repeated later. `OutcomeUnknown` is not: it needs a
    /// lookup first.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Transient { .. })
    }
}

/// A half-open time window `[from, to)` (on `PostDate` for ledger reads, `ModDate` for hub reads).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeWindow {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

impl TimeWindow {
    pub fn new(from: DateTime<Utc>, to: DateTime<Utc>) -> Self {
        Self { from, to }
    }
    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        self.from <= at && at < self.to
    }
}

/// The main fields of a firm a write changes (`None`: left as it is).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FirmChanges {
    pub name: Option<String>,
    pub client_ind: Option<bool>,
    pub vendor_ind: Option<bool>,
    /// `PrimaryEmail` (`Some("")` clears it).
    pub email: Option<String>,
    /// `PrimaryPhone` (`Some("")` clears it).
    pub phone: Option<String>,
}

impl FirmChanges {
    pub fn is_empty(&self) -> bool {
        self.name.is_none()
            && self.client_ind.is_none()
            && self.vendor_ind.is_none()
            && self.email.is_none()
            && self.phone.is_none()
    }
}

/// Which firms a changed-firms read returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FirmRole {
    Client,
    Vendor,
    Any,
}

/// The project facts invoicing needs: who is billed (Accounting tab "Billing Client") and the billing group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    pub wbs1: String,
    pub name: Option<String>,
    /// Primary client (`ClientID`).
    pub client_id: Option<String>,
    /// Billing client (`BillingClientID`); invoices go to this firm. Falls back to the primary client.
    pub billing_client_id: Option<String>,
    pub org: Option<String>,
    pub billing_currency: Option<CurrencyCode>,
    pub billing_group: Option<BillingGroup>,
}

/// The auto-posting accounts of one company (`CFGAutoPosting`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AutoPostingAccounts {
    pub company: Option<String>,
    pub accounts_receivable: Option<String>,
    pub uninvoiced_revenue: Option<String>,
    pub unbilled_services: Option<String>,
    /// Every account column as VP returned it (for the rarer ones).
    pub all: std::collections::BTreeMap<String, String>,
}

/// One accounting period with its date range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountingPeriod {
    pub period: Period,
    pub start: Option<NaiveDate>,
    pub end: Option<NaiveDate>,
    pub closed: bool,
}

/// A posted AR document: invoice, or credit memo (IN rows with a non-blank `CreditMemoRefNo`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostedArDocument {
    Invoice(ArInvoice),
    CreditMemo(CreditMemo),
}

impl PostedArDocument {
    /// `"{Invoice}.{Period}.{PostSeq}"`.
    pub fn external_key(&self) -> String {
        match self {
            Self::Invoice(i) => i.external_key(),
            Self::CreditMemo(c) => c.external_key(),
        }
    }
}

/// Where a cash-receipt batch stands in VP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CashReceiptState {
    pub batch: String,
    pub posted: bool,
    pub period: Option<Period>,
    pub post_seq: Option<u32>,
}

/// The result of [`Psa::record_cash_receipt`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CashReceiptPosting {
    pub batch: String,
    pub period: Period,
    pub post_seq: u32,
    /// False when the batch already existed (an earlier attempt) and was only found (and posted if needed).
    pub created: bool,
}

/// Where a payment landed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentPosting {
    pub batch: Option<String>,
    pub period: Option<Period>,
    pub post_seq: Option<u32>,
    /// False when a payment with the same check number was already posted and was only found.
    pub created: bool,
}

/// The record event that fires a VP workflow webhook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkflowEvent {
    Insert,
    Change,
    Delete,
}

impl WorkflowEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Insert => "Insert",
            Self::Change => "Change",
            Self::Delete => "Delete",
        }
    }
}

/// One named value VP sends with the webhook, computed by a SQL expression (e.g. `'[:PR.WBS1]'`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookArgument {
    pub name: String,
    pub sql_expression: String,
}

/// A webhook to register on a VP user-initiated workflow (`application` e.g. `FirmICBO`, `ProjectICBO`).
/// `description` identifies it: registering the same description and event again finds the existing one.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookRegistration {
    pub application: String,
    pub event: WorkflowEvent,
    pub description: String,
    pub url: String,
    /// Basic-auth user and password VP sends with each delivery.
    pub basic_auth: Option<(String, String)>,
    /// 0..=10.
    pub retry_count: u8,
    /// 1..=60 seconds.
    pub timeout_secs: u8,
    pub arguments: Vec<WebhookArgument>,
}

impl Debug for WebhookRegistration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookRegistration")
            .field("application", &self.application)
            .field("event", &self.event)
            .field("description", &self.description)
            .field("url", &self.url)
            .field(
                "basic_auth",
                &self
                    .basic_auth
                    .as_ref()
                    .map(|(user, _)| (user, "<redacted>")),
            )
            .field("retry_count", &self.retry_count)
            .field("timeout_secs", &self.timeout_secs)
            .field("arguments", &self.arguments)
            .finish()
    }
}

/// The ids VP assigned to a registered webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisteredWebhook {
    pub event_id: String,
    pub action_id: String,
    /// False when every part (workflow, Webhook action, arguments) already existed and was reused.
    pub created: bool,
}

/// The project-accounting system, as the flows use it.
#[async_trait]
pub trait Psa: Send + Sync + Debug {
    // --- firms and employees -------------------------------------------------------------------------
    /// Firms whose `ModDate` is in `window`, with their addresses.
    async fn changed_firms(&self, window: TimeWindow, role: FirmRole) -> PsaResult<Vec<Firm>>;
    /// One firm with its addresses; `None` when it does not exist.
    async fn firm(&self, client_id: &str) -> PsaResult<Option<Firm>>;
    /// Creates a firm (from an Exact account) and returns it as VP stored it (re-read, since autonumbered
    /// fields may be missing from the create answer). Addresses on `firm` are created too.
    async fn create_firm(&self, firm: &Firm) -> PsaResult<Firm>;
    async fn create_firm_address(
        &self,
        client_id: &str,
        address: &FirmAddress,
    ) -> PsaResult<FirmAddress>;
    /// Changes the main fields of a firm (when the ledger owns firms) and returns the firm as VP stored it,
    /// re-read, so its `mod_date` is the version of this write. Only the fields set in `changes` are sent;
    /// addresses never are (VP's firm address API may refuse edits).
    async fn update_firm(&self, client_id: &str, changes: &FirmChanges) -> PsaResult<Firm>;
    /// Employees whose `ModDate` is in `window`.
    async fn changed_employees(&self, window: TimeWindow) -> PsaResult<Vec<Employee>>;
    async fn employee(&self, employee: &str) -> PsaResult<Option<Employee>>;
    async fn project(&self, wbs1: &str) -> PsaResult<Option<Project>>;

    // --- configuration -------------------------------------------------------------------------------
    async fn accounts(&self) -> PsaResult<Vec<Account>>;
    async fn create_account(&self, account: &Account) -> PsaResult<Account>;
    async fn update_account(&self, account: &Account) -> PsaResult<Account>;
    async fn currencies(&self) -> PsaResult<Vec<Currency>>;
    async fn tax_codes(&self) -> PsaResult<Vec<TaxCode>>;
    async fn create_tax_code(&self, tax_code: &TaxCode) -> PsaResult<TaxCode>;
    async fn bank_codes(&self) -> PsaResult<Vec<BankCode>>;
    async fn auto_posting_accounts(&self, company: Option<&str>) -> PsaResult<AutoPostingAccounts>;
    async fn periods(&self) -> PsaResult<Vec<AccountingPeriod>>;
    /// The API user's active period (posting goes there).
    async fn active_period(&self) -> PsaResult<Period>;
    async fn set_active_period(&self, period: Period) -> PsaResult<()>;

    // --- posted ledger -------------------------------------------------------------------------------
    /// Posted AR invoices and credit memos whose earliest `PostDate` is in `window`.
    async fn posted_ar_documents(&self, window: TimeWindow) -> PsaResult<Vec<PostedArDocument>>;
    /// Posted AP vouchers (by Vendor + Voucher) whose earliest `PostDate` is in `window`.
    async fn posted_vouchers(&self, window: TimeWindow) -> PsaResult<Vec<ApVoucher>>;
    /// Posted expense reports whose earliest `PostDate` is in `window`.
    async fn posted_expense_reports(&self, window: TimeWindow) -> PsaResult<Vec<ExpenseReport>>;
    /// Posted journal entries (by Batch + RefNo) whose earliest `PostDate` is in `window`.
    async fn posted_journal_entries(&self, window: TimeWindow) -> PsaResult<Vec<JournalEntry>>;
    /// The billing rows of one posted invoice (what a receipt is allocated over): no tax, no GL offsets.
    async fn invoice_rows(
        &self,
        invoice: &str,
        period: Period,
        post_seq: u32,
    ) -> PsaResult<Vec<LedgerRow>>;

    /// What is still open on a posted invoice (tax included, in its billing currency), as VP's AR review
    /// shows it (`ARReview/ARBalance`); `None` when VP lists no balance for it. A PSA that cannot tell
    /// answers `None` and receipts are then allocated against the invoice's own amounts.
    async fn invoice_balance(&self, invoice: &str) -> PsaResult<Option<rust_decimal::Decimal>> {
        let _ = invoice;
        Ok(None)
    }

    // --- money into VP -------------------------------------------------------------------------------
    /// The cash-receipt batch `batch`, posted or not.
    async fn find_cash_receipt(&self, batch: &str) -> PsaResult<Option<CashReceiptState>>;
    /// Creates the batch (unless it exists) and posts it (unless posted). Idempotent on `receipt.batch`.
    async fn record_cash_receipt(&self, receipt: &CrControl) -> PsaResult<CashReceiptPosting>;
    /// A vendor payment of AP vouchers (`PP`). Idempotent on the check number (the ledger's payment id) when
    /// every row carries the same one.
    async fn post_vendor_payment(&self, payment: &ApPayment) -> PsaResult<PaymentPosting>;
    /// An employee expense payment (`EP`), idempotent on the check number like vendor payments.
    async fn post_employee_payment(&self, payment: &EmPayment) -> PsaResult<PaymentPosting>;

    // --- webhooks ------------------------------------------------------------------------------------
    async fn register_webhook(
        &self,
        registration: &WebhookRegistration,
    ) -> PsaResult<RegisteredWebhook>;
}
