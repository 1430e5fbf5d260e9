//! Why a record could not be mapped: always naming the record (type + key), the field, and the reason.

use std::collections::BTreeMap;
use std::fmt;

use ledgerlink_domain::{CurrencyCode, Money, ObjectType, ParseError};
use ledgerlink_ports::{Fix, LookupTable};
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

    /// A key has no entry in a lookup table (a firm not yet linked, an account not yet mapped, ...). The
    /// message says what to add where ([`MappingError::fix`] gives the same, structured).
    #[error("{record}: {field} {key:?} has no entry in the {table} lookup table — {}", what_to_do(.table, .key))]
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
        "{record}: the invoice totals {total}, which is negative; negative invoices are not sent to Exact Online — post a credit memo instead"
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

    /// What a person can do about this error, when it is adding one lookup row or syncing one firm.
    pub fn fix(&self) -> Option<Fix> {
        let Self::NotInLookup { table, key, .. } = self else {
            return None;
        };
        let remedy = remedy(table)?;
        Some(match remedy.table {
            None => Fix::FirmSync { firm: key.clone() },
            Some(lookup) => {
                let mut values = BTreeMap::new();
                let key = match remedy.key_column {
                    Some(column) => {
                        values.insert(column.to_owned(), key.clone());
                        None
                    }
                    None => Some(key.clone()),
                };
                Fix::Lookup {
                    table: lookup,
                    key,
                    key_label: remedy.key_label.to_owned(),
                    columns: remedy
                        .columns
                        .iter()
                        .map(|(c, _)| (*c).to_owned())
                        .collect(),
                    values,
                }
            }
        })
    }

    /// True when retrying later, unchanged, may succeed (a lookup entry may appear after the next
    /// master-data sync, a setting may be set). All other mapping errors are permanent until someone changes
    /// the data.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::NotInLookup { .. } | Self::NotConfigured { .. })
    }
}

/// How a missing entry of one of the mapping's tables is added: which stored lookup table (none: the party
/// is linked by firm-sync, not by a row), what its key is, and the columns to fill with what.
struct Remedy {
    table: Option<LookupTable>,
    key_label: &'static str,
    /// The column the missing value goes into, when it is not the row's key (tax-codes rows are keyed by
    /// the Exact VAT code and name the VP code in `vp_code`).
    key_column: Option<&'static str>,
    columns: &'static [(&'static str, &'static str)],
}

/// The remedy per table name the mappings use in [`MappingError::NotInLookup`].
fn remedy(table: &str) -> Option<Remedy> {
    let row = |table, key_label, key_column, columns| {
        Some(Remedy {
            table: Some(table),
            key_label,
            key_column,
            columns,
        })
    };
    match table {
        "firms" => Some(Remedy {
            table: None,
            key_label: "VP ClientID",
            key_column: None,
            columns: &[],
        }),
        "vendors" => row(
            LookupTable::Firms,
            "VP vendor code",
            None,
            &[(
                "exact_id",
                "the ID of the vendor's supplier account in Exact Online",
            )],
        ),
        "employees" => row(
            LookupTable::Employees,
            "VP employee code",
            None,
            &[(
                "exact_id",
                "the ID of the employee's supplier account in Exact Online",
            )],
        ),
        "G/L accounts" => row(
            LookupTable::GlAccounts,
            "VP account number",
            None,
            &[("exact_id", "the ID of the Exact Online G/L account")],
        ),
        "tax codes" => row(
            LookupTable::TaxCodes,
            "Exact VAT code",
            Some("vp_code"),
            &[
                ("vp_code", "the VP tax code"),
                ("rate", "the rate in percent"),
            ],
        ),
        "combined tax codes" => row(
            LookupTable::CombinedTaxCodes,
            "VP tax codes joined by +",
            None,
            &[(
                "exact_code",
                "the Exact VAT code that books the combination",
            )],
        ),
        "bank codes" => row(
            LookupTable::BankCodes,
            "Exact bank journal code",
            None,
            &[
                ("vp_bank_code", "the VP bank code"),
                ("currency", "the VP bank's currency"),
            ],
        ),
        "currencies" => row(
            LookupTable::Currencies,
            "currency code",
            None,
            &[(
                "description",
                "its name; enable the currency in Exact Online too",
            )],
        ),
        _ => None,
    }
}

/// The sentence of a [`MappingError::NotInLookup`] message that says what to do.
fn what_to_do(table: &str, key: &str) -> String {
    let Some(remedy) = remedy(table) else {
        return "add it in the set-up, then Synchronize".to_owned();
    };
    let Some(lookup) = remedy.table else {
        return format!(
            "the firm {key:?} was never synced to Exact Online: synchronize the firm (Master data), then this document"
        );
    };
    let columns: Vec<String> = remedy
        .columns
        .iter()
        .filter(|(c, _)| Some(*c) != remedy.key_column)
        .map(|(c, what)| format!("{c} ({what})"))
        .collect();
    let row = match remedy.key_column {
        Some(column) => format!(
            "a row keyed by the {} with {column} {key:?}",
            remedy.key_label
        ),
        None => format!("the row {key:?} ({})", remedy.key_label),
    };
    format!(
        "add {row} to the {} lookup table, filling {}, then Synchronize",
        lookup.as_str(),
        columns.join(" and ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn missing(table: &'static str, key: &str) -> MappingError {
        MappingError::NotInLookup {
            record: RecordRef::new(ObjectType::Invoice, "000000010806.202612.7"),
            field: "TaxCode",
            table,
            key: key.to_owned(),
        }
    }

    #[test]
    fn a_missing_gl_account_names_the_table_the_key_and_the_column_to_fill() {
        let error = missing("G/L accounts", "40300");
        let text = error.to_string();
        assert!(
            text.contains("add the row \"40300\" (VP account number) to the gl-accounts lookup table, filling exact_id"),
            "{text}"
        );
        assert_eq!(
            error.fix(),
            Some(Fix::Lookup {
                table: LookupTable::GlAccounts,
                key: Some("40300".into()),
                key_label: "VP account number".into(),
                columns: vec!["exact_id".into()],
                values: BTreeMap::new(),
            })
        );
    }

    #[test]
    fn a_missing_tax_code_is_a_row_keyed_by_the_exact_code_with_the_vp_code_filled_in() {
        let error = missing("tax codes", "ECO");
        let text = error.to_string();
        assert!(
            text.contains("add a row keyed by the Exact VAT code with vp_code \"ECO\" to the tax-codes lookup table, filling rate"),
            "{text}"
        );
        let Some(Fix::Lookup {
            table, key, values, ..
        }) = error.fix()
        else {
            panic!("no lookup fix");
        };
        assert_eq!(table, LookupTable::TaxCodes);
        assert_eq!(key, None);
        assert_eq!(values.get("vp_code").map(String::as_str), Some("ECO"));
    }

    #[test]
    fn a_billing_client_without_an_account_asks_for_the_firm_sync_not_a_lookup_row() {
        let error = missing("firms", "50CBCE");
        assert_eq!(
            error.fix(),
            Some(Fix::FirmSync {
                firm: "50CBCE".into()
            })
        );
        assert!(error.to_string().contains("synchronize the firm"));
    }

    #[test]
    fn a_negative_invoice_message_does_not_repeat_the_invoice_key() {
        let record = RecordRef::new(ObjectType::Invoice, "000000010804.202612.3");
        let text = MappingError::NegativeInvoice {
            record,
            invoice: "000000010804".into(),
            total: Money::new(
                rust_decimal::Decimal::new(-84571, 2),
                CurrencyCode::parse("EUR").expect("EUR"),
            ),
        }
        .to_string();
        assert_eq!(text.matches("000000010804").count(), 1, "{text}");
        assert!(missing("account types", "x").fix().is_none());
    }
}
