//! Why a record could not be mapped: always naming the record (type + key), the field, and the reason.

use std::fmt;

use ledgerlink_domain::{CurrencyCode, Money, ObjectType, ParseError};
use rust_decimal::Decimal;

/// The record a mapping error is about, e.g. `invoice 000123.202606.59`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordRef {
    pub object: ObjectType,
    pub key: String,
}

impl RecordRef {
    pub fn new(object: ObjectType, key: impl Into<String>) -> Self {
        Self {
            object,
            key: key.into(),
        }
    }
}

impl fmt::Display for RecordRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.object, self.key)
    }
}

/// A record could not be mapped. Every variant names the record and the field so the Integration page can
/// show the user what to fix. Only [`MappingError::NotInLookup`] is worth retrying unchanged (the missing
/// firm, account or code may be synced meanwhile); everything else needs the source record or the
/// configuration to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MappingError {
    /// A value the target system requires is absent in the source record.
    #[error("{record}: {field} is required but missing ({why})")]
    Missing {
        record: RecordRef,
        field: &'static str,
        why: &'static str,
    },

    /// A key has no entry in a lookup table (a firm not yet linked, an account not yet mapped, ...).
    #[error("{record}: {field} {key:?} has no entry in the {table} lookup table")]
    NotInLookup {
        record: RecordRef,
        field: &'static str,
        table: &'static str,
        key: String,
    },

    /// A value is longer than the target field and no truncation rule is configured.
    #[error(
        "{record}: {field} {value:?} is {len} characters, more than the {max} allowed; refusing to truncate it"
    )]
    TooLong {
        record: RecordRef,
        field: &'static str,
        value: String,
        len: usize,
        max: usize,
    },

    /// A negative invoice is never sent to the ledger (the spec: the user gets an error instead).
    #[error(
        "{record}: invoice {invoice} totals {total}, which is negative; negative invoices are not sent to Exact Online — post a credit memo instead"
    )]
    NegativeInvoice {
        record: RecordRef,
        invoice: String,
        total: Money,
    },

    /// A tenant setting the record needs is not set (e.g. the no-VAT code for lines without tax).
    #[error(
        "{record}: {field} cannot be mapped: the tenant setting {setting:?} is not set ({why})"
    )]
    NotConfigured {
        record: RecordRef,
        field: &'static str,
        setting: &'static str,
        why: &'static str,
    },

    /// A compound tax (tax on tax) is used; the integration supports combined taxes only.
    #[error(
        "{record}: {field} uses tax code {tax_code:?}, which Vantagepoint compounds on {compound_on:?} (tax on tax); compound taxes are not supported by the integration, combined taxes are. Set the tax up without compounding in Vantagepoint (both taxes on the same base), or book this document in Exact Online directly"
    )]
    CompoundTax {
        record: RecordRef,
        field: &'static str,
        tax_code: String,
        compound_on: String,
    },

    /// Two currencies that must agree do not.
    #[error("{record}: {field} is in {found}, expected {expected}")]
    CurrencyMismatch {
        record: RecordRef,
        field: &'static str,
        expected: CurrencyCode,
        found: CurrencyCode,
    },

    /// Debits and credits of a journal entry do not balance.
    #[error("{record}: journal lines do not balance (debits minus credits = {difference})")]
    Unbalanced {
        record: RecordRef,
        difference: Decimal,
    },

    /// A payment is larger than what is outstanding on the document it pays. Never capped silently.
    #[error(
        "{record}: payment of {payment} exceeds the {outstanding} still open on it; not recorded — record the excess in Vantagepoint by hand (unapplied cash) or correct the payment in Exact Online"
    )]
    Overpayment {
        record: RecordRef,
        payment: Decimal,
        outstanding: Decimal,
    },

    /// A value is present but unusable for the stated reason.
    #[error("{record}: {field} is invalid: {why}")]
    Invalid {
        record: RecordRef,
        field: &'static str,
        why: String,
    },

    /// A value could not be parsed into its domain type.
    #[error("{record}: {field} is invalid")]
    Parse {
        record: RecordRef,
        field: &'static str,
        #[source]
        source: ParseError,
    },
}

impl MappingError {
    /// The record the error is about.
    pub fn record(&self) -> &RecordRef {
        match self {
            Self::Missing { record, .. }
            | Self::NotInLookup { record, .. }
            | Self::TooLong { record, .. }
            | Self::NotConfigured { record, .. }
            | Self::NegativeInvoice { record, .. }
            | Self::CompoundTax { record, .. }
            | Self::CurrencyMismatch { record, .. }
            | Self::Unbalanced { record, .. }
            | Self::Overpayment { record, .. }
            | Self::Invalid { record, .. }
            | Self::Parse { record, .. } => record,
        }
    }

    /// The field at fault, when there is a single one.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            Self::Missing { field, .. }
            | Self::NotInLookup { field, .. }
            | Self::TooLong { field, .. }
            | Self::NotConfigured { field, .. }
            | Self::CompoundTax { field, .. }
            | Self::CurrencyMismatch { field, .. }
            | Self::Invalid { field, .. }
            | Self::Parse { field, .. } => Some(field),
            Self::NegativeInvoice { .. } => Some("Amount"),
            Self::Unbalanced { .. } => Some("Amount"),
            Self::Overpayment { .. } => Some("Amount"),
        }
    }

    /// True when retrying later, unchanged, may succeed (a lookup entry may appear after the next
    /// master-data sync, a setting may be set). All other mapping errors are permanent until someone changes
    /// the data.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::NotInLookup { .. } | Self::NotConfigured { .. })
    }
}
