//! The ledger port: what the flows ask of the accounting system (Exact Online now, Sage Intacct next).
//!
//! The operations are the flows' needs, not an API's: create and update master data by the ledger's id,
//! post a document once by OUR reference, read what changed since a cursor, read the lookup lists. Records are the domain's typed
//! records (`ledgerlink_domain::exact`), which the mapping produces; an adapter for another ledger maps
//! them to its own wire format. Nothing of an adapter's client crate appears here.
//!
//! Conventions every adapter follows:
//! - **Idempotent posting.** A document is identified by our reference (the VP invoice / voucher / journal
//!   number). `post_*` with `find_existing_first` looks it up before writing and returns the existing one;
//!   after a write whose response was lost the adapter looks it up again before any retry and never
//!   creates a second document. When even that cannot be settled it returns
//!   [`LedgerError::OutcomeUnknown`]; the flow then records the object as outcome-unknown and the next
//!   attempt passes `find_existing_first = true`.
//! - **Credit-note sign.** The mapping produces credit notes with POSITIVE amounts and
//!   [`SalesDocumentKind::CreditNote`]; the adapter applies the ledger's wire sign (Exact: a sales entry
//!   with negated line and VAT amounts, which Exact books as `Type` 21).
//! - **Cursors** are opaque strings owned by the adapter (Exact: the sync `Timestamp`); a flow stores
//!   `next_cursor` only after it has processed the batch's items.

use std::fmt;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ledgerlink_domain::exact::{
    Account, Address, Contact, Currency, GeneralJournalEntry, GlAccount, Journal, PaymentTerm,
    PurchaseEntry, SalesEntry, VatCodeRecord,
};
use serde::{Deserialize, Serialize};

use crate::BoxError;

pub type LedgerResult<T> = Result<T, LedgerError>;

/// Why a ledger operation failed, in terms a flow can act on.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The ledger refused the data (one message per problem, as the ledger worded them). Permanent: the
    /// object goes to Error with these messages; retrying the same data fails the same way.
    #[error("rejected by the ledger: {}", messages.join("; "))]
    Validation { messages: Vec<String> },
    /// A record the operation needs does not exist (e.g. the account of an invoice).
    #[error("{what} not found in the ledger")]
    NotFound { what: String },
    /// The ledger already holds something that contradicts the write (e.g. two documents with our
    /// reference). Needs a human; never retried blindly.
    #[error("conflict on {what}: {detail}")]
    Conflict { what: String, detail: String },
    /// The call budget is spent until `until` (`daily` = the day's budget: park the work until then).
    #[error("ledger rate limit reached until {until} (daily: {daily})")]
    RateLimited { until: DateTime<Utc>, daily: bool },
    /// The connection's authorisation is dead: pause the connection and ask a user to reconnect.
    #[error("ledger connection {connection} must be reconnected: {reason}")]
    ReconnectNeeded { connection: String, reason: String },
    /// Timeouts, 5xx, a busy token lease: the same call may succeed later.
    #[error("temporary ledger failure: {message}")]
    Transient {
        message: String,
        #[source]
        source: Option<BoxError>,
    },
    /// A write was sent but its result is unknown and could not be settled by a lookup. Record the object as
    /// outcome-unknown; the next attempt must pass `find_existing_first = true`.
    #[error("outcome of the ledger write is unknown: {message}")]
    OutcomeUnknown {
        message: String,
        #[source]
        source: Option<BoxError>,
    },
    /// Anything else that will not heal by itself: no rights, misconfiguration, an answer we cannot read.
    #[error("ledger failure: {message}")]
    Permanent {
        message: String,
        #[source]
        source: Option<BoxError>,
    },
}

impl LedgerError {
    /// Whether the same call may succeed later without any change (after `RateLimited::until`).
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Transient { .. } | Self::RateLimited { .. })
    }
}

/// An invoice or a credit note. Amounts in the entry are positive for both (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SalesDocumentKind {
    Invoice,
    CreditNote,
}

/// The kinds of document the flows post, for lookups by reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DocumentKind {
    /// Invoices and credit notes.
    Sales,
    /// AP vouchers and expense reports.
    Purchase,
    Journal,
}

/// The result of an upsert or a post: the ledger's id of the record and whether this call created it
/// (`false`: it existed already — found by our reference, or updated).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Posted {
    pub target_id: String,
    pub created: bool,
}

/// One batch of changes read from the ledger, and the cursor to store once the items are processed.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeBatch<T> {
    pub items: Vec<T>,
    pub next_cursor: String,
    /// More changes are waiting: read again with `next_cursor`.
    pub more: bool,
}

/// A record deleted in the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeletedRecord {
    /// What kind of record (Exact's `EntityType` name, e.g. `Accounts`, `TransactionLines`).
    pub entity: String,
    /// The ledger's key of the deleted record.
    pub key: String,
    pub deleted_at: Option<DateTime<Utc>>,
}

/// The accounting system, as the flows see it. Implementations: `ExactLedger` (ledgerlink-exact).
#[async_trait]
pub trait Ledger: Send + Sync + fmt::Debug {
    /// The customer/supplier account with this ledger id, as the ledger stores it (with its `modified`
    /// version); `None` when it does not exist (deleted in the ledger).
    async fn account(&self, id: &str) -> LedgerResult<Option<Account>>;

    /// Creates a customer/supplier account once and returns it as the ledger stored it (its id, code and
    /// `modified` version). After a write whose answer was lost the adapter finds the account by its code
    /// before any retry and never creates a second one. Without a code the ledger numbers the account.
    /// Callers decide BEFORE calling that no account should be linked instead (see firm-sync): this never
    /// looks for an existing account to update.
    async fn create_account(&self, account: &Account) -> LedgerResult<Account>;

    /// Updates the account with this ledger id with the fields set on `account` (a partial update; the
    /// account's code is never changed: codes identify accounts in the ledger's own screens and reports)
    /// and returns it as the ledger stored it. [`LedgerError::NotFound`] when it no longer exists.
    async fn update_account(&self, id: &str, account: &Account) -> LedgerResult<Account>;

    /// Where an operator opens the account in the ledger's own web application, when it has one.
    fn account_url(&self, id: &str) -> Option<String>;

    /// Creates or updates one address of an account (one per address type; `address.account` is set).
    async fn upsert_address(&self, address: &Address) -> LedgerResult<Posted>;

    /// Creates or updates a contact person (an employee) of an account (`contact.account` is set).
    async fn upsert_contact(&self, contact: &Contact) -> LedgerResult<Posted>;

    /// Posts an invoice or credit note once. Our reference is `entry.your_ref` (required).
    async fn post_sales_document(
        &self,
        kind: SalesDocumentKind,
        entry: &SalesEntry,
        find_existing_first: bool,
    ) -> LedgerResult<Posted>;

    /// Posts an AP voucher or expense report once. Our reference is `entry.your_ref` (required).
    async fn post_purchase_document(
        &self,
        entry: &PurchaseEntry,
        find_existing_first: bool,
    ) -> LedgerResult<Posted>;

    /// Posts a journal entry once, under our `reference` (journals have no reference field of their own;
    /// the adapter documents where it keeps it).
    async fn post_journal(
        &self,
        reference: &str,
        entry: &GeneralJournalEntry,
        find_existing_first: bool,
    ) -> LedgerResult<Posted>;

    /// The ledger ids of the documents posted under each of `references` (reference → id; absent ones are
    /// left out), in as few calls as the ledger allows: what discovery uses to link documents that already
    /// exist (a state store restored from an older backup) instead of posting them again.
    async fn find_documents(
        &self,
        kind: DocumentKind,
        references: &[String],
    ) -> LedgerResult<std::collections::BTreeMap<String, String>> {
        let mut found = std::collections::BTreeMap::new();
        for reference in references {
            if let Some(id) = self.find_document(kind, reference).await? {
                found.insert(reference.clone(), id);
            }
        }
        Ok(found)
    }

    /// The ledger id of the document posted under our `reference`, if any.
    async fn find_document(
        &self,
        kind: DocumentKind,
        reference: &str,
    ) -> LedgerResult<Option<String>>;

    /// The account with this code, if any (firm-sync's first link of a record only: linked records are
    /// always found by id).
    async fn find_account(&self, code: &str) -> LedgerResult<Option<Account>>;

    /// Customer/supplier accounts created or changed after `cursor` (`None`: from the beginning), for
    /// firms created in the ledger. Same cursor conventions as [`Ledger::payments_since`].
    async fn accounts_since(&self, cursor: Option<&str>) -> LedgerResult<ChangeBatch<Account>>;

    /// Payments and receipts created or changed after `cursor` (`None`: from the beginning).
    async fn payments_since(&self, cursor: Option<&str>) -> LedgerResult<ChangeBatch<PaymentTerm>>;

    /// One payment (`receipt`: a customer receipt, else a supplier or employee payment) read by its ID, as
    /// the payments feed listed it; `None` when the ledger has no such payment. Re-reading a known payment
    /// never depends on how deep it sits in the feed's history.
    async fn payment(&self, id: &str, receipt: bool) -> LedgerResult<Option<PaymentTerm>> {
        let _ = (id, receipt);
        Err(LedgerError::Permanent {
            message: "this ledger cannot read a payment by its ID".into(),
            source: None,
        })
    }

    /// Records deleted after `cursor` (`None`: from the beginning of the ledger's retention).
    async fn deletions_since(
        &self,
        cursor: Option<&str>,
    ) -> LedgerResult<ChangeBatch<DeletedRecord>>;

    async fn gl_accounts(&self) -> LedgerResult<Vec<GlAccount>>;
    async fn tax_codes(&self) -> LedgerResult<Vec<VatCodeRecord>>;
    async fn currencies(&self) -> LedgerResult<Vec<Currency>>;

    /// The ledger's bank journals (code, name, currency): what payments' bank accounts are matched to the
    /// PSA's banks by ("Bank names must match in both systems"). A ledger that cannot list them says so;
    /// its bank-codes lookup rows are then filled by hand.
    async fn bank_journals(&self) -> LedgerResult<Vec<Journal>> {
        Err(LedgerError::Permanent {
            message: "this ledger cannot list its bank journals; fill the bank-codes lookup table"
                .into(),
            source: None,
        })
    }
    /// A marker that changes when the ledger renumbers its change feeds, after which every cursor of
    /// [`Ledger::accounts_since`], [`Ledger::payments_since`] and [`Ledger::deletions_since`] must restart from
    /// the beginning (Exact: the division's `DivisionMoveDate` — a division moved to another database gets new
    /// sync `Timestamp`s, far below the old ones). `None`: no such event (the default: feeds never renumber).
    async fn sync_reset_marker(&self) -> LedgerResult<Option<String>> {
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_transient_failures_and_rate_limits_are_retryable() {
        assert!(
            LedgerError::Transient {
                message: "x".into(),
                source: None
            }
            .is_retryable()
        );
        assert!(
            LedgerError::RateLimited {
                until: Utc::now(),
                daily: false
            }
            .is_retryable()
        );
        assert!(
            !LedgerError::OutcomeUnknown {
                message: "x".into(),
                source: None
            }
            .is_retryable()
        );
        assert!(
            !LedgerError::Validation {
                messages: vec!["Mandatory: Journal".into()]
            }
            .is_retryable()
        );
        assert!(
            !LedgerError::ReconnectNeeded {
                connection: "exact:t".into(),
                reason: "r".into()
            }
            .is_retryable()
        );
    }

    #[test]
    fn a_validation_error_shows_every_message() {
        let e = LedgerError::Validation {
            messages: vec!["Mandatory: Journal".into(), "Invalid: Customer".into()],
        };
        assert_eq!(
            e.to_string(),
            "rejected by the ledger: Mandatory: Journal; Invalid: Customer"
        );
    }
}
