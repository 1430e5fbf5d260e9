//! The lookup tables and settings every mapping takes as input (never globals).
//!
//! The flows load these from the `LookupStore` / tenant configuration and pass them by reference, so the
//! mapping functions stay pure: same inputs, same output.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Days, NaiveDate};
use ledgerlink_domain::exact::{BalanceSide, BalanceType};
use ledgerlink_domain::vantagepoint::VpAccountType;
use ledgerlink_domain::{CurrencyCode, Period, VatCode};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// How a VP tax code is booked in Exact: the Exact VAT code (from the `tax-codes` lookup table) and the
/// rate the row records (a percentage, `21` = 21 %). `compound_on` marks a row an operator flagged as compound.
/// Vantagepoint's own tax-code table ([`VpTaxCode`]) is read too and wins for the rate and the compound marker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaxCodeLink {
    pub exact_code: VatCode,
    pub rate: Decimal,
    #[serde(default)]
    pub compound_on: Option<String>,
}

/// One tax code as Vantagepoint defines it (`/vision/TaxCodeEntity/`): its rate and, for a compound tax,
/// the code it is compounded on (`CompoundOnTaxCode`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VpTaxCode {
    /// Percentage, `21` = 21 %.
    pub rate: Decimal,
    #[serde(default)]
    pub compound_on: Option<String>,
}

/// An Exact bank journal (the `bank-codes` lookup key) and the VP bank it pays through.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BankLink {
    pub vp_bank_code: String,
    /// The VP bank's currency: payments are recorded in it ("based on the bank code currency").
    #[serde(default)]
    pub currency: Option<CurrencyCode>,
}

/// The key of a combination of tax codes in the `combined-tax-codes` table: the codes sorted and joined by
/// `+`, so `ECO+V21` and `V21+ECO` are the same combination.
pub fn combined_key<'a>(codes: impl IntoIterator<Item = &'a str>) -> String {
    let mut parts: Vec<&str> = codes
        .into_iter()
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    parts.sort_unstable();
    parts.dedup();
    parts.join("+")
}

/// The Exact journal codes documents are booked in (journal *codes*, e.g. `"70"`, never GUIDs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalCodes {
    pub sales: String,
    pub purchase: String,
    pub general: String,
}

/// The "mapping value from Unionpoint" for due dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "kebab-case")]
pub enum DueDateRule {
    /// Use the VP due / end date; when VP has none, the document date plus `fallback_days`.
    UseSource { fallback_days: u32 },
    /// Always the document date plus `days`, ignoring VP's date.
    DaysAfterDocument { days: u32 },
}

/// Payment terms in days per party (VP ClientID, Vendor or Employee); a party listed here overrides the
/// [`DueDateRule`].
pub type PaymentTerms = BTreeMap<String, u32>;

/// The "mapping table (debit / credit)" for chart-of-accounts types: which VP account type an Exact
/// G/L account becomes. An entry for the Exact type code wins over the balance-type/side entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountTypeTable {
    #[serde(default)]
    pub by_gl_type: BTreeMap<i32, VpAccountType>,
    #[serde(default)]
    pub by_balance: Vec<(BalanceType, BalanceSide, VpAccountType)>,
}

impl AccountTypeTable {
    /// The usual table: balance sheet debit = Asset, balance sheet credit = Liability, P&L credit =
    /// Revenue, P&L debit = Indirect; Exact capital/retained earnings (50, 52) = Net worth.
    pub fn standard() -> Self {
        Self {
            by_gl_type: BTreeMap::from([
                (50, VpAccountType::NET_WORTH),
                (52, VpAccountType::NET_WORTH),
            ]),
            by_balance: vec![
                (
                    BalanceType::BalanceSheet,
                    BalanceSide::Debit,
                    VpAccountType::ASSET,
                ),
                (
                    BalanceType::BalanceSheet,
                    BalanceSide::Credit,
                    VpAccountType::LIABILITY,
                ),
                (
                    BalanceType::ProfitAndLoss,
                    BalanceSide::Credit,
                    VpAccountType::REVENUE,
                ),
                (
                    BalanceType::ProfitAndLoss,
                    BalanceSide::Debit,
                    VpAccountType::INDIRECT,
                ),
            ],
        }
    }

    /// The VP type for an Exact account, if the table covers it.
    pub fn resolve(
        &self,
        gl_type: Option<i32>,
        balance_type: Option<BalanceType>,
        side: Option<BalanceSide>,
    ) -> Option<VpAccountType> {
        if let Some(t) = gl_type.and_then(|t| self.by_gl_type.get(&t)) {
            return Some(*t);
        }
        let (bt, bs) = (balance_type?, side?);
        self.by_balance
            .iter()
            .find(|(t, s, _)| *t == bt && *s == bs)
            .map(|(_, _, v)| *v)
    }
}

/// What to do with a code longer than its target field. The default, and the spec's rule, is to refuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TruncationRule {
    /// Refuse the record with [`crate::MappingError::TooLong`].
    #[default]
    Refuse,
    /// Keep the first `max` characters.
    KeepLeft,
    /// Keep the last `max` characters (numeric codes with a common prefix).
    KeepRight,
}

/// The billing setup of one VP project (Accounting tab): who is invoiced and who ordered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectBilling {
    pub billing_client_id: String,
    #[serde(default)]
    pub billing_client_name: Option<String>,
    #[serde(default)]
    pub primary_client_id: Option<String>,
    #[serde(default)]
    pub primary_client_name: Option<String>,
}

/// Tenant settings that change how records map.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    /// The VP client-number length configured in VP (at most 20, VP's maximum).
    pub client_code_max_len: usize,
    /// What to do with an Exact code longer than `client_code_max_len`.
    #[serde(default)]
    pub client_code_truncation: TruncationRule,
    /// What to do with a VP client/vendor code longer than Exact's 18-character search code.
    #[serde(default)]
    pub search_code_truncation: TruncationRule,
    /// A multicurrency VP database: invoices go out in the billing currency and amount.
    #[serde(default)]
    pub multicurrency: bool,
    /// The AP liability code used on payments when the voucher has none ("AP General Liability").
    pub ap_liability_code: String,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            client_code_max_len: VP_CLIENT_CODE_MAX,
            client_code_truncation: TruncationRule::Refuse,
            search_code_truncation: TruncationRule::Refuse,
            multicurrency: false,
            ap_liability_code: "AP".to_owned(),
        }
    }
}

/// The longest client number Vantagepoint supports.
pub const VP_CLIENT_CODE_MAX: usize = 20;
/// Exact's search-code length.
pub const EXACT_SEARCH_CODE_MAX: usize = 18;

/// All lookup tables and settings, passed by reference to every mapping.
///
/// Built only by [`crate::load::load`] from what production stores (the lookup tables, the tenant's
/// settings, Vantagepoint's tax codes) plus the parties a document names ([`Lookups::add_firm_link`] and
/// friends): tests and the flows go through the same loader, so a fixture cannot hold a setting production
/// never reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookups {
    /// VP firm `ClientID` → Exact account.
    pub firms: BTreeMap<String, Uuid>,
    /// VP vendor code → Exact (supplier) account.
    pub vendors: BTreeMap<String, Uuid>,
    /// VP employee code → Exact (supplier) account of the employee.
    pub employees: BTreeMap<String, Uuid>,
    /// VP account number → Exact G/L account.
    pub gl_accounts: BTreeMap<String, Uuid>,
    /// VP tax code → Exact VAT code and rate (the `tax-codes` lookup table).
    pub tax_codes: BTreeMap<String, TaxCodeLink>,
    /// Vantagepoint's own tax codes: rate and compound marker, read from Vantagepoint.
    pub vp_tax_codes: BTreeMap<String, VpTaxCode>,
    /// Combined taxes: [`combined_key`] of the VP codes (`"ECO+V21"`) → the Exact VAT code that books the
    /// combination (the `combined-tax-codes` lookup table).
    pub combined_tax_codes: BTreeMap<String, VatCode>,
    /// The Exact VAT code for lines without tax (tenant setting `no_vat_code`, proposed during set-up from
    /// Exact's VAT codes of type "no VAT"). Without it such lines are refused: leaving the VAT code out
    /// makes Exact apply the G/L account's default VAT code.
    pub no_vat_code: Option<VatCode>,
    /// Exact bank journal code → VP bank. Banks must exist in both systems, with the same name.
    pub bank_codes: BTreeMap<String, BankLink>,
    /// Currencies enabled in Exact. Empty = not checked (the adapter has not loaded them).
    pub currencies: BTreeSet<CurrencyCode>,
    /// VP project (WBS1) → billing setup.
    pub projects: BTreeMap<String, ProjectBilling>,
    /// VP organisations in VP order; the first is the default for firms created from Exact.
    pub organizations: Vec<String>,
    pub journals: JournalCodes,
    pub due_dates: DueDateRule,
    pub payment_terms: PaymentTerms,
    pub account_types: AccountTypeTable,
    pub settings: Settings,
}

impl Lookups {
    /// The due date of a document of `party` dated `document_date`, VP's own date being `source_due`.
    pub fn due_date(
        &self,
        party: &str,
        document_date: NaiveDate,
        source_due: Option<NaiveDate>,
    ) -> NaiveDate {
        if let Some(days) = self.payment_terms.get(party) {
            return add_days(document_date, *days);
        }
        match self.due_dates {
            DueDateRule::UseSource { fallback_days } => {
                source_due.unwrap_or_else(|| add_days(document_date, fallback_days))
            }
            DueDateRule::DaysAfterDocument { days } => add_days(document_date, days),
        }
    }
}

fn add_days(date: NaiveDate, days: u32) -> NaiveDate {
    date.checked_add_days(Days::new(u64::from(days)))
        .unwrap_or(date)
}

/// Where a payment is posted in VP: the active period (from VP's period search) and the company.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostingContext {
    pub active_period: Period,
    pub company: String,
}
