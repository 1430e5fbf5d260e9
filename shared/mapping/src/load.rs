//! The one loader of [`Lookups`]: from the lookup tables as stored (rows of key + named columns), the
//! tenant's settings as stored (one JSON value per key) and Vantagepoint's tax codes as VP returns them.
//! The flows call it with what they read from the stores and VP; the tests call it with fixtures in the
//! same shapes — so a lookup used in a test is one production can load.
//!
//! Row conventions (operator-editable; firm-sync and set-up fill most of them):
//!
//! | table | key | columns |
//! |---|---|---|
//! | `gl-accounts` | VP account number | `exact_id` (Exact G/L account GUID) |
//! | `tax-codes` | Exact VAT code | `vp_code` (the VP tax code), `rate` (percent), `description`, `compound_on` |
//! | `combined-tax-codes` | VP tax codes joined by `+` (any order) | `exact_code` (the Exact VAT code of the combination) |
//! | `bank-codes` | Exact bank journal code | `vp_bank_code`, `currency` (of the VP bank), `exact_name`, `vp_name` |
//! | `currencies` | currency code | `description` |
//! | `employees` | VP employee code | `exact_id` (the employee's supplier account) |
//! | `firms` | VP vendor code | `exact_id` (the vendor's supplier account) |
//!
//! A row without the column that links it (an `exact_id` not filled in yet, a bank without its VP code) is
//! not an entry: documents that need it are refused with "no entry in the … lookup table". A column that is
//! filled but unreadable (a rate that is not a number, a GUID that is not one) is a [`ConfigError`] naming
//! the table, the row and the column: a wrong rate must not be booked as zero.

use std::collections::{BTreeMap, BTreeSet};

use ledgerlink_domain::vantagepoint::TaxCode;
use ledgerlink_domain::{CurrencyCode, VatCode};
use ledgerlink_ports::psa::Project;
use ledgerlink_ports::{LookupEntry, LookupTable};
use rust_decimal::Decimal;
use serde_json::Value;
use uuid::Uuid;

use crate::config::{ConfigError, MappingConfig};
use crate::lookups::{BankLink, Lookups, ProjectBilling, TaxCodeLink, VpTaxCode, combined_key};

/// The tables [`load`] reads (the per-document parties are added separately).
pub const BASE_TABLES: [LookupTable; 5] = [
    LookupTable::GlAccounts,
    LookupTable::TaxCodes,
    LookupTable::CombinedTaxCodes,
    LookupTable::BankCodes,
    LookupTable::Currencies,
];

/// Everything the loader reads, in the shapes production stores it.
#[derive(Debug, Clone, Copy)]
pub struct LookupSources<'a> {
    /// Rows per table; tables that are absent are empty.
    pub tables: &'a BTreeMap<LookupTable, Vec<LookupEntry>>,
    /// The tenant record's settings.
    pub tenant_settings: &'a BTreeMap<String, Value>,
    /// Vantagepoint's tax codes (`Psa::tax_codes`).
    pub vp_tax_codes: &'a [TaxCode],
}

fn column<'a>(entry: &'a LookupEntry, name: &str) -> Option<&'a str> {
    entry
        .columns
        .get(name)
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
}

fn bad(
    table: LookupTable,
    entry: &LookupEntry,
    column: &'static str,
    reason: String,
) -> ConfigError {
    ConfigError::Row {
        table: table.as_str(),
        key: entry.key.clone(),
        column,
        reason,
    }
}

/// The `exact_id` of a row, when filled in.
pub fn exact_id(table: LookupTable, entry: &LookupEntry) -> Result<Option<Uuid>, ConfigError> {
    column(entry, "exact_id")
        .map(|text| {
            text.parse::<Uuid>().map_err(|e| {
                bad(
                    table,
                    entry,
                    "exact_id",
                    format!("{text:?} is not a GUID: {e}"),
                )
            })
        })
        .transpose()
}

fn rows<'a>(
    sources: &LookupSources<'a>,
    table: LookupTable,
) -> impl Iterator<Item = &'a LookupEntry> {
    sources.tables.get(&table).into_iter().flatten()
}

fn decimal(
    table: LookupTable,
    entry: &LookupEntry,
    name: &'static str,
) -> Result<Option<Decimal>, ConfigError> {
    column(entry, name)
        .map(|text| {
            text.parse::<Decimal>()
                .map_err(|_| bad(table, entry, name, format!("{text:?} is not a number")))
        })
        .transpose()
}

fn vat_code(
    table: LookupTable,
    entry: &LookupEntry,
    name: &'static str,
    text: &str,
) -> Result<VatCode, ConfigError> {
    VatCode::parse(text).map_err(|e| bad(table, entry, name, e.to_string()))
}

/// Checks one row as an operator writes it, by the rules [`load`] reads it with plus the columns that make
/// it an entry: a row that passes is one the flows can use. The error names the table, the row and the
/// column (`"key"` for the key).
pub fn check_row(table: LookupTable, entry: &LookupEntry) -> Result<(), ConfigError> {
    let key = entry.key.as_str();
    if key.trim() != key || key.is_empty() {
        return Err(bad(
            table,
            entry,
            "key",
            "must not be empty or start or end with spaces".to_owned(),
        ));
    }
    let required = |name: &'static str, what: &str| match column(entry, name) {
        Some(value) => Ok(value),
        None => Err(bad(table, entry, name, format!("is required ({what})"))),
    };
    match table {
        LookupTable::GlAccounts => {
            if key.chars().any(char::is_whitespace) {
                return Err(bad(
                    table,
                    entry,
                    "key",
                    format!("{key:?} is not a VP account number (no spaces)"),
                ));
            }
            required("exact_id", "the ID of the Exact Online G/L account")?;
            exact_id(table, entry)?;
        }
        LookupTable::Firms | LookupTable::Employees => {
            exact_id(table, entry)?;
        }
        LookupTable::TaxCodes => {
            vat_code(table, entry, "key", key)?;
            required("vp_code", "the VP tax code")?;
            if let Some(rate) = decimal(table, entry, "rate")?
                && !(Decimal::ZERO..=Decimal::ONE_HUNDRED).contains(&rate)
            {
                return Err(bad(
                    table,
                    entry,
                    "rate",
                    format!("{rate} is not a percentage from 0 to 100"),
                ));
            }
        }
        LookupTable::CombinedTaxCodes => {
            if key.split('+').filter(|c| !c.trim().is_empty()).count() < 2 {
                return Err(bad(
                    table,
                    entry,
                    "key",
                    format!("{key:?} is not two or more VP tax codes joined by +"),
                ));
            }
            let code = required("exact_code", "the Exact VAT code of the combination")?;
            vat_code(table, entry, "exact_code", code)?;
        }
        LookupTable::BankCodes => {
            required("vp_bank_code", "the VP bank code")?;
            if let Some(currency) = column(entry, "currency") {
                CurrencyCode::parse(currency)
                    .map_err(|e| bad(table, entry, "currency", e.to_string()))?;
            }
        }
        LookupTable::Currencies => {
            CurrencyCode::parse(key).map_err(|e| bad(table, entry, "key", e.to_string()))?;
        }
        LookupTable::PaymentTerms | LookupTable::JournalCodes => {}
    }
    Ok(())
}

/// Builds the lookups every mapping takes from the stored tables, the tenant settings and VP's tax codes.
/// Parties (firms, vendors, employees, billing projects) are added per document with the `add_*` methods.
pub fn load(sources: &LookupSources<'_>) -> Result<Lookups, ConfigError> {
    let config = MappingConfig::from_tenant_settings(sources.tenant_settings)?;

    let mut gl_accounts = BTreeMap::new();
    for entry in rows(sources, LookupTable::GlAccounts) {
        if let Some(id) = exact_id(LookupTable::GlAccounts, entry)? {
            gl_accounts.insert(entry.key.trim().to_owned(), id);
        }
    }

    let mut tax_codes = BTreeMap::new();
    for entry in rows(sources, LookupTable::TaxCodes) {
        let table = LookupTable::TaxCodes;
        let Some(vp_code) = column(entry, "vp_code") else {
            continue;
        };
        let exact_code = vat_code(table, entry, "key", &entry.key)?;
        let rate = decimal(table, entry, "rate")?.unwrap_or_default();
        tax_codes.insert(
            vp_code.to_owned(),
            TaxCodeLink {
                exact_code,
                rate,
                compound_on: column(entry, "compound_on").map(str::to_owned),
            },
        );
    }

    let vp_tax_codes = sources
        .vp_tax_codes
        .iter()
        .map(|t| {
            (
                t.code.trim().to_owned(),
                VpTaxCode {
                    rate: t.rate,
                    compound_on: t
                        .compound_on_tax_code
                        .as_deref()
                        .map(str::trim)
                        .filter(|c| !c.is_empty())
                        .map(str::to_owned),
                },
            )
        })
        .collect();

    let mut combined_tax_codes = BTreeMap::new();
    for entry in rows(sources, LookupTable::CombinedTaxCodes) {
        let Some(code) = column(entry, "exact_code") else {
            continue;
        };
        let code = vat_code(LookupTable::CombinedTaxCodes, entry, "exact_code", code)?;
        combined_tax_codes.insert(combined_key(entry.key.split('+')), code);
    }

    let mut bank_codes = BTreeMap::new();
    for entry in rows(sources, LookupTable::BankCodes) {
        let Some(vp_bank_code) = column(entry, "vp_bank_code") else {
            continue;
        };
        let currency = column(entry, "currency")
            .map(|c| {
                CurrencyCode::parse(c)
                    .map_err(|e| bad(LookupTable::BankCodes, entry, "currency", e.to_string()))
            })
            .transpose()?;
        bank_codes.insert(
            entry.key.trim().to_owned(),
            BankLink {
                vp_bank_code: vp_bank_code.to_owned(),
                currency,
            },
        );
    }

    let mut currencies = BTreeSet::new();
    for entry in rows(sources, LookupTable::Currencies) {
        let code = CurrencyCode::parse(&entry.key)
            .map_err(|e| bad(LookupTable::Currencies, entry, "key", e.to_string()))?;
        currencies.insert(code);
    }

    Ok(Lookups {
        firms: BTreeMap::new(),
        vendors: BTreeMap::new(),
        employees: BTreeMap::new(),
        gl_accounts,
        tax_codes,
        vp_tax_codes,
        combined_tax_codes,
        no_vat_code: config.no_vat_code,
        bank_codes,
        currencies,
        projects: BTreeMap::new(),
        organizations: Vec::new(),
        journals: config.journals,
        due_dates: config.due_dates,
        payment_terms: config.payment_terms,
        account_types: config.account_types,
        settings: config.settings,
    })
}

impl Lookups {
    /// Adds the Exact account a firm (VP `ClientID`) is linked to (the link store's text id).
    pub fn add_firm_link(&mut self, client_id: &str, exact_id: &str) -> Result<(), ConfigError> {
        let id = exact_id
            .trim()
            .parse::<Uuid>()
            .map_err(|e| ConfigError::Row {
                table: LookupTable::Firms.as_str(),
                key: client_id.to_owned(),
                column: "exact_id",
                reason: format!("the link {exact_id:?} is not a GUID: {e}"),
            })?;
        self.firms.insert(client_id.to_owned(), id);
        Ok(())
    }

    /// Adds a vendor's Exact supplier account from its `firms` lookup row (keyed by vendor code).
    pub fn add_vendor_row(&mut self, entry: &LookupEntry) -> Result<(), ConfigError> {
        if let Some(id) = exact_id(LookupTable::Firms, entry)? {
            self.vendors.insert(entry.key.trim().to_owned(), id);
        }
        Ok(())
    }

    /// Adds an employee's Exact supplier account: the link firm-sync wrote, else the `employees` row.
    pub fn add_employee(
        &mut self,
        employee: &str,
        link: Option<&str>,
        row: Option<&LookupEntry>,
    ) -> Result<(), ConfigError> {
        let id = match link {
            Some(text) => Some(text.trim().parse::<Uuid>().map_err(|e| ConfigError::Row {
                table: LookupTable::Employees.as_str(),
                key: employee.to_owned(),
                column: "exact_id",
                reason: format!("the link {text:?} is not a GUID: {e}"),
            })?),
            None => match row {
                Some(entry) => exact_id(LookupTable::Employees, entry)?,
                None => None,
            },
        };
        if let Some(id) = id {
            self.employees.insert(employee.to_owned(), id);
        }
        Ok(())
    }

    /// Adds the billing set-up of a VP project (who is invoiced: the billing client, else the primary
    /// client). Returns the billing client, whose firm link the caller adds.
    pub fn add_project(&mut self, project: &Project) -> Option<String> {
        let client = project
            .billing_client_id
            .clone()
            .or_else(|| project.client_id.clone())?;
        self.projects.insert(
            project.wbs1.clone(),
            ProjectBilling {
                billing_client_id: client.clone(),
                billing_client_name: None,
                primary_client_id: project.client_id.clone(),
                primary_client_name: None,
            },
        );
        Some(client)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Utc};

    fn row(key: &str, columns: &[(&str, &str)]) -> LookupEntry {
        LookupEntry {
            key: key.to_owned(),
            columns: columns
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            version: 1,
            updated_at: DateTime::<Utc>::UNIX_EPOCH,
            updated_by: "test".into(),
        }
    }

    #[test]
    fn a_tax_rate_that_is_not_a_number_is_refused_with_table_row_and_column() {
        let tables = BTreeMap::from([(
            LookupTable::TaxCodes,
            vec![row("2", &[("vp_code", "V21"), ("rate", "21%")])],
        )]);
        let settings = BTreeMap::new();
        let error = load(&LookupSources {
            tables: &tables,
            tenant_settings: &settings,
            vp_tax_codes: &[],
        })
        .err();
        assert_eq!(
            error.map(|e| e.to_string()).as_deref(),
            Some(
                "lookup table tax-codes, row \"2\": column \"rate\" is invalid: \"21%\" is not a number"
            )
        );
    }

    #[test]
    fn rows_without_their_link_column_are_no_entry_and_combined_keys_ignore_order() {
        let tables = BTreeMap::from([
            (
                LookupTable::GlAccounts,
                vec![row("8000", &[("description", "revenue, not linked yet")])],
            ),
            (
                LookupTable::CombinedTaxCodes,
                vec![row("V21+ECO", &[("exact_code", "7")])],
            ),
        ]);
        let settings = BTreeMap::new();
        let lookups = load(&LookupSources {
            tables: &tables,
            tenant_settings: &settings,
            vp_tax_codes: &[],
        })
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(lookups.gl_accounts.is_empty());
        assert_eq!(
            lookups
                .combined_tax_codes
                .get("ECO+V21")
                .map(VatCode::as_str),
            Some("7")
        );
    }

    fn refused_column(table: LookupTable, entry: &LookupEntry) -> (&'static str, String) {
        match check_row(table, entry) {
            Err(ConfigError::Row { column, reason, .. }) => (column, reason),
            other => panic!("expected a refused row, got {other:?}"),
        }
    }

    #[test]
    fn a_gl_account_row_needs_a_guid_and_a_key_without_spaces() {
        let good = row(
            "40300",
            &[("exact_id", "6a1f9a4e-2f1c-4b8e-9d7a-0c5e3b2a1f00")],
        );
        assert!(check_row(LookupTable::GlAccounts, &good).is_ok());

        let (column, reason) = refused_column(
            LookupTable::GlAccounts,
            &row("40300", &[("exact_id", "8000")]),
        );
        assert_eq!(column, "exact_id");
        assert!(reason.contains("\"8000\" is not a GUID"), "{reason}");

        let (column, reason) = refused_column(LookupTable::GlAccounts, &row("40300", &[]));
        assert_eq!(column, "exact_id");
        assert!(reason.contains("is required"), "{reason}");

        let (column, _) = refused_column(
            LookupTable::GlAccounts,
            &row(
                "403 00",
                &[("exact_id", "6a1f9a4e-2f1c-4b8e-9d7a-0c5e3b2a1f00")],
            ),
        );
        assert_eq!(column, "key");
    }

    #[test]
    fn a_tax_code_row_needs_an_exact_code_a_vp_code_and_a_percentage() {
        assert!(
            check_row(
                LookupTable::TaxCodes,
                &row("2", &[("vp_code", "V21"), ("rate", "21")])
            )
            .is_ok()
        );
        assert_eq!(
            refused_column(LookupTable::TaxCodes, &row("2", &[("rate", "21")])).0,
            "vp_code"
        );
        assert_eq!(
            refused_column(
                LookupTable::TaxCodes,
                &row("2", &[("vp_code", "V21"), ("rate", "210")])
            )
            .0,
            "rate"
        );
        assert_eq!(
            refused_column(
                LookupTable::TaxCodes,
                &row("TOOLONG", &[("vp_code", "V21")])
            )
            .0,
            "key"
        );
    }

    #[test]
    fn combined_bank_and_currency_rows_are_checked_by_what_the_loader_reads() {
        assert!(
            check_row(
                LookupTable::CombinedTaxCodes,
                &row("ECO+V21", &[("exact_code", "2")])
            )
            .is_ok()
        );
        assert_eq!(
            refused_column(
                LookupTable::CombinedTaxCodes,
                &row("V21", &[("exact_code", "2")])
            )
            .0,
            "key"
        );
        assert_eq!(
            refused_column(LookupTable::CombinedTaxCodes, &row("ECO+V21", &[])).0,
            "exact_code"
        );
        assert_eq!(
            refused_column(
                LookupTable::BankCodes,
                &row("20", &[("vp_bank_code", "EUR"), ("currency", "EURO")])
            )
            .0,
            "currency"
        );
        assert_eq!(
            refused_column(LookupTable::Currencies, &row("euro", &[])).0,
            "key"
        );
        assert_eq!(
            refused_column(LookupTable::Firms, &row(" V001", &[])).0,
            "key"
        );
    }
}
