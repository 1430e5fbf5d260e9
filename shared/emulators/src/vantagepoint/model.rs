//! Value conventions of the Vantagepoint API (Y/N flags, `2017-12-23T00:00:00.000` dates, `YYYYPP` periods,
//! numbers that are sometimes strings) and the typed seed/inspection records of the emulator's admin surface.
//!
//! Records are stored as JSON objects ([`Row`]) because the real API is a loose bag of columns and
//! "PUT and POST behave as PATCH": merging a partial body into a stored object is exactly what VP does.
//! Money is always computed in [`Decimal`]; it only becomes a JSON number when rendered.

use std::str::FromStr;

use chrono::{NaiveDate, NaiveDateTime};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One record as the API shows it: column name to value.
pub type Row = Map<String, Value>;

/// `"Y"` / `"N"`, the API's boolean.
pub(crate) fn yn(flag: bool) -> Value {
    Value::String(if flag { "Y" } else { "N" }.to_owned())
}

/// Reads a flag written as `"Y"`/`"N"`, `"true"`/`"false"`, `1`/`0` or a JSON boolean.
pub(crate) fn flag_of(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => n.as_i64().map(|i| i != 0),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "y" | "yes" | "true" | "1" => Some(true),
            "n" | "no" | "false" | "0" | "" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// A date as VP writes it: `2017-12-23T00:00:00.000`.
pub(crate) fn vp_date(date: NaiveDate) -> String {
    date.format("%Y-%m-%dT00:00:00.000").to_string()
}

/// A timestamp as VP writes it (no time zone): `2026-06-15T14:02:11.000`.
pub(crate) fn vp_datetime(at: NaiveDateTime) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.3f").to_string()
}

/// Parses the date forms clients send: `2026-05-01T00:00:00.000Z`, `2026-05-01T00:00:00`, `2026-05-01`,
/// `05/01/2026` (a trailing `Z` or offset is ignored: VP stores server-local time without a zone).
pub(crate) fn parse_vp_datetime(text: &str) -> Option<NaiveDateTime> {
    let t = text.trim();
    if let Ok(dt) = chrono::DateTime::parse_from_rfc3339(t) {
        return Some(dt.naive_utc());
    }
    let t = t.trim_end_matches('Z');
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(dt) = NaiveDateTime::parse_from_str(t, fmt) {
            return Some(dt);
        }
    }
    for fmt in ["%Y-%m-%d", "%m/%d/%Y"] {
        if let Ok(d) = NaiveDate::parse_from_str(t, fmt) {
            return d.and_hms_opt(0, 0, 0);
        }
    }
    None
}

/// A money amount as a JSON number (integers without a fraction, as VP's examples show `"Total":120`).
pub(crate) fn money(amount: Decimal) -> Value {
    let normalized = amount.normalize();
    if normalized.scale() == 0
        && let Some(i) = normalized.to_i64()
    {
        return Value::from(i);
    }
    normalized
        .to_f64()
        .and_then(serde_json::Number::from_f64)
        .map_or(Value::Null, Value::Number)
}

/// Reads an amount sent as a number or as a string (`"200.00"`); blank is `None`.
pub(crate) fn decimal_of(value: &Value) -> Option<Decimal> {
    match value {
        Value::Number(n) => {
            let text = n.to_string();
            Decimal::from_str(&text)
                .ok()
                .or_else(|| Decimal::from_scientific(&text).ok())
        }
        Value::String(s) if !s.trim().is_empty() => Decimal::from_str(s.trim()).ok(),
        _ => None,
    }
}

/// Reads an integer sent as a number or a string (`"201305"`).
pub(crate) fn int_of(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| decimal_of(value).and_then(|d| d.trunc().to_i64())),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Text of a value (numbers and flags as their JSON text; null as empty).
pub(crate) fn text_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Case-insensitive column lookup: request bodies are bound case-insensitively by VP's JSON binder.
pub(crate) fn get_ci<'a>(row: &'a Row, key: &str) -> Option<&'a Value> {
    row.get(key).or_else(|| {
        row.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

/// The trimmed text of a column (case-insensitive), empty when absent.
pub(crate) fn str_ci(row: &Row, key: &str) -> String {
    get_ci(row, key)
        .map(text_of)
        .unwrap_or_default()
        .trim()
        .to_owned()
}

/// Merges `patch` into `row` the way VP's PUT/POST do (PATCH semantics), keeping the stored casing of
/// known columns.
pub(crate) fn merge_patch(row: &mut Row, patch: &Row) {
    for (key, value) in patch {
        let existing = row.keys().find(|k| k.eq_ignore_ascii_case(key)).cloned();
        row.insert(existing.unwrap_or_else(|| key.clone()), value.clone());
    }
}

/// `202606` → `"06/2026"`.
pub(crate) fn fmt_period(period: i32) -> String {
    format!("{:02}/{}", period % 100, period / 100)
}

/// The accounting period `YYYYPP` of a calendar month.
pub(crate) fn period_of_month(year: i32, month: u32) -> i32 {
    year * 100 + i32::try_from(month).unwrap_or(1)
}

/// Rounds to cents, half away from zero, as VP's posting does.
pub(crate) fn cents(amount: Decimal) -> Decimal {
    amount.round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero)
}

// ---------------------------------------------------------------------------------------------------------
// Seeds: typed inputs of the admin surface (also accepted as JSON by `/__emulator/...`).
// ---------------------------------------------------------------------------------------------------------

/// An API user (the `Username`/`Password` of the password grant) and the accounting period they work in.
#[derive(Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(default)]
pub struct UserSeed {
    pub username: String,
    pub password: String,
    /// The user's active period (`YYYYPP`); `None` means the current period of the calendar.
    pub active_period: Option<i32>,
    pub active_company: Option<String>,
    /// A disabled user cannot obtain tokens.
    pub disabled: bool,
    /// Role-scoped visibility: when not empty, lists of firms, employees, projects, the posted ledger and AR
    /// only show rows whose `Org` belongs to these companies — silently, as VP filters by role access.
    pub visible_companies: Vec<String>,
    /// A user whose role has no rights to change records: every PUT and DELETE answers 403 (reference §2:
    /// "PUT 200 (403 if no rights); DELETE 200 (403 if no rights)"); reads and POSTs are unaffected.
    pub read_only: bool,
}

impl std::fmt::Debug for UserSeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserSeed")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("active_period", &self.active_period)
            .field("active_company", &self.active_company)
            .field("disabled", &self.disabled)
            .field("visible_companies", &self.visible_companies)
            .field("read_only", &self.read_only)
            .finish()
    }
}

/// A company of a multi-company database (`/Settings/Company`).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(default)]
pub struct CompanySeed {
    pub company: String,
    pub name: String,
    pub functional_currency: String,
    pub country: String,
}

/// An organization (`/organization`); its first level (per `CFGOrgCodes`) is the company.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(default)]
pub struct OrganizationSeed {
    pub org: String,
    pub name: String,
}

/// A firm address row (`/firm/{ClientID}/address`).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(default)]
pub struct AddressSeed {
    /// The address label (`Address` column), e.g. `"Billing"`.
    pub label: String,
    pub primary: bool,
    pub billing: bool,
    pub payment: bool,
    pub accounting: bool,
    pub address1: String,
    pub address2: String,
    pub address3: String,
    pub city: String,
    pub state: String,
    pub zip: String,
    pub country: String,
    pub phone: String,
    pub email: String,
    pub tax_registration_number: String,
}

/// A firm (client and/or vendor).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(default)]
pub struct FirmSeed {
    /// The immutable key; generated when `None`.
    pub client_id: Option<String>,
    /// Client number (`Client`); autonumbered when `None` and the firm is a client.
    pub client: Option<String>,
    /// Vendor code (`Vendor`); autonumbered when `None` and the firm is a vendor.
    pub vendor: Option<String>,
    pub name: String,
    pub is_client: bool,
    pub is_vendor: bool,
    /// `A`, `I` or `D`; `A` when empty.
    pub status: String,
    /// "Available to: Accounting Users" — only these firms are synced.
    pub available_to_accounting: bool,
    pub ready_for_processing: bool,
    pub org: String,
    pub currency: Option<String>,
    pub email: String,
    pub phone: String,
    pub website: String,
    pub addresses: Vec<AddressSeed>,
    /// Any other columns, written as given.
    pub extra: Row,
}

/// An employee.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(default)]
pub struct EmployeeSeed {
    pub employee: String,
    pub first_name: String,
    pub last_name: String,
    pub title: String,
    pub email: String,
    pub org: String,
    pub company: String,
    /// `A`, `I` or `T`; `A` when empty.
    pub status: String,
    /// Linked vendor used for expense payments.
    pub vendor: Option<String>,
    pub available_to_accounting: bool,
    pub address1: String,
    pub address2: String,
    pub address3: String,
    pub city: String,
    pub state: String,
    pub zip: String,
    pub country: String,
    pub work_phone: String,
    pub mobile_phone: String,
    pub extra: Row,
}

/// A project (WBS1) or phase/task (WBS2/WBS3).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(default)]
pub struct ProjectSeed {
    pub wbs1: String,
    pub wbs2: String,
    pub wbs3: String,
    pub name: String,
    /// Primary client (`ClientID`).
    pub client_id: String,
    /// Accounting tab "Billing Client" (`BillingClientID`); invoices go to this firm. Defaults to the client.
    pub billing_client_id: Option<String>,
    pub org: String,
    pub status: String,
    pub charge_type: String,
    pub billing_currency: Option<String>,
    /// Main project of the billing group this project belongs to (`MainWBS1`) [I column name].
    pub billing_group_main: Option<String>,
    /// Whether the billing group is consolidated (`ConsolidatePosting`) [I column name].
    pub billing_group_consolidated: bool,
    pub extra: Row,
}

/// A general-ledger account.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(default)]
pub struct AccountSeed {
    pub account: String,
    pub name: String,
    /// 1 asset, 2 liability, 3 equity, 4 revenue, 5/6 reimbursable, 7/8 direct, 9 indirect, 10 other.
    pub account_type: u8,
    pub status: String,
    pub extra: Row,
}

/// A tax code (`/vision/TaxCodeEntity/`).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(default)]
pub struct TaxCodeSeed {
    pub code: String,
    pub description: String,
    /// Percentage, e.g. `21` for 21 %.
    pub rate: Decimal,
    /// Compound tax: computed on the amount plus this other code's tax.
    pub compound_on: Option<String>,
    /// Liability account the tax posts to.
    pub account: String,
    pub status: String,
}

/// A bank code (`/vision/BankCode/CFGBANKS`).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(default)]
pub struct BankSeed {
    pub code: String,
    pub description: String,
    pub company: String,
    pub org: String,
    pub account: String,
    pub currency: String,
}

/// An accounting period.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct PeriodSeed {
    /// `YYYYPP`.
    pub period: i32,
    pub start: NaiveDate,
    pub end: NaiveDate,
    #[serde(default)]
    pub closed: bool,
}

/// One billing line of a posted invoice.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(default)]
pub struct InvoiceLineSeed {
    /// `InvoiceSection`, e.g. `F` (fee), `R` (reimbursable), `C` (consultant). Never `T` (tax lines are derived).
    pub section: String,
    pub description: String,
    pub account: String,
    /// Amount in the invoice's billing currency, before tax (negative on a negative invoice or credit memo).
    pub amount: Decimal,
    /// Tax codes applied to this line; two codes = a combined tax; a code with `compound_on` compounds.
    pub tax_codes: Vec<String>,
    /// Phase/task of this line (defaults to the invoice's).
    pub wbs2: Option<String>,
    pub wbs3: Option<String>,
}

/// An invoice (or credit memo) to post into the ledger as if Interactive Billing had posted it.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(default)]
pub struct InvoiceSeed {
    /// Generated when `None`.
    pub batch: Option<String>,
    pub invoice: String,
    pub wbs1: String,
    pub wbs2: String,
    pub wbs3: String,
    pub trans_date: Option<NaiveDate>,
    pub due_date: Option<NaiveDate>,
    /// Defaults to the period containing `trans_date`.
    pub period: Option<i32>,
    /// Billing currency; the company's functional currency when `None`.
    pub currency: Option<String>,
    /// Functional-currency units per billing-currency unit (1 when `None`).
    pub exchange_rate: Option<Decimal>,
    pub description: String,
    /// Set on credit memos: the invoice number being credited.
    pub credit_memo_ref: Option<String>,
    pub lines: Vec<InvoiceLineSeed>,
    /// A multicurrency database's billing currency when it differs from `currency` (the transaction
    /// currency): rows carry `AmountBillingCurrency`, the master `BillingCurrencyCode`, and the AR balance is
    /// kept in it (receipts are recorded in the billing currency).
    pub billing_currency: Option<String>,
    /// Billing-currency units per transaction-currency unit (1 when `None`).
    pub billing_rate: Option<Decimal>,
}

/// One expense line of a voucher or expense report.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(default)]
pub struct ExpenseLineSeed {
    pub description: String,
    pub account: String,
    pub wbs1: String,
    pub wbs2: String,
    pub wbs3: String,
    /// Net amount (before tax).
    pub amount: Decimal,
    pub tax_code: Option<String>,
}

/// An AP voucher to post (`PSALedger/AP`).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(default)]
pub struct VoucherSeed {
    pub batch: Option<String>,
    /// Voucher number; may be empty (a tenant without mandatory voucher numbers).
    pub voucher: String,
    /// Vendor code.
    pub vendor: String,
    /// The vendor's invoice number.
    pub invoice: String,
    pub invoice_date: Option<NaiveDate>,
    pub trans_date: Option<NaiveDate>,
    pub pay_date: Option<NaiveDate>,
    pub period: Option<i32>,
    pub currency: Option<String>,
    pub liab_code: String,
    pub bank_code: String,
    pub lines: Vec<ExpenseLineSeed>,
    /// The currency the voucher is paid in, when not its own (`PaymentCurrencyCode`): each line's
    /// `PaymentAmount` is its gross amount in it, and payments of the voucher are in it.
    pub payment_currency: Option<String>,
    /// Payment-currency units per voucher-currency unit (1 when `None`).
    pub payment_rate: Option<Decimal>,
}

/// One project line of a revenue-generation run: the revenue recognised on the project.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(default)]
pub struct RevenueLineSeed {
    pub wbs1: String,
    /// The revenue account credited.
    pub account: String,
    /// Revenue recognised (positive); the company's unbilled-services account is debited with it.
    pub amount: Decimal,
}

/// A Revenue Generation run posted to the GL (`PSALedger/RG`): no transaction file (no `Batch`), one
/// posting (`Period + PostSeq`), per project a credit on its revenue account and an `AutoEntry` debit on
/// the unbilled-services account (`CFGAutoPosting.UnbilledServices`). No tax codes are involved.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(default)]
pub struct RevenueGenerationSeed {
    pub trans_date: Option<NaiveDate>,
    pub period: Option<i32>,
    pub currency: Option<String>,
    pub lines: Vec<RevenueLineSeed>,
}

/// An employee expense report to post (`PSALedger/EX`).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(default)]
pub struct ExpenseReportSeed {
    pub batch: Option<String>,
    pub employee: String,
    /// Report voucher number (what `EXCHECKS.Voucher` references).
    pub voucher: String,
    pub report_name: String,
    pub report_date: Option<NaiveDate>,
    pub period: Option<i32>,
    /// Payment currency.
    pub currency: Option<String>,
    pub lines: Vec<ExpenseLineSeed>,
}

/// One line of a journal entry.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(default)]
pub struct JournalLineSeed {
    pub account: String,
    pub description: String,
    pub wbs1: String,
    pub wbs2: String,
    pub wbs3: String,
    pub debit: Decimal,
    pub credit: Decimal,
}

/// A journal entry to post (`PSALedger/JE`); debits must equal credits. The same shape posts the other
/// balanced GL postings the integration sends as journals: units (`UN`), timesheets (`TS`), miscellaneous
/// expenses (`MI`), prints (`PR`) and labor adjustments (`LA`).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(default)]
pub struct JournalEntrySeed {
    /// `JE` when `None`.
    pub trans_type: Option<String>,
    pub batch: Option<String>,
    pub ref_no: String,
    pub description: String,
    pub trans_date: Option<NaiveDate>,
    pub period: Option<i32>,
    pub currency: Option<String>,
    pub lines: Vec<JournalLineSeed>,
}

/// Where a posting landed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Posting {
    pub batch: String,
    pub period: i32,
    pub post_seq: u32,
    /// `PostDate` as VP writes it.
    pub post_date: String,
}

// ---------------------------------------------------------------------------------------------------------
// Inspection records: what the integration wrote, for assertions such as "zero duplicate cash receipts".
// ---------------------------------------------------------------------------------------------------------

/// One line of a cash receipt batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CashReceiptLine {
    pub ref_no: String,
    pub invoice: String,
    pub wbs1: String,
    pub account: String,
    pub amount: Decimal,
}

/// A cash receipt batch created through `POST /DataEntry/crControl`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CashReceiptRecord {
    pub batch: String,
    pub company: String,
    pub bank_code: String,
    pub currency: String,
    pub total: Decimal,
    pub posted: bool,
    pub period: Option<i32>,
    pub post_seq: Option<u32>,
    pub lines: Vec<CashReceiptLine>,
}

/// Vendor (PP) or employee (EP) payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PaymentKind {
    /// `POST /ledger/PP`: vendor payment of AP vouchers.
    Vendor,
    /// `POST /ledger/EP`: employee expense payment.
    Employee,
}

/// One paid voucher line of a payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentLine {
    /// Vendor code (PP) or employee (EP).
    pub payee: String,
    pub voucher: String,
    pub amount: Decimal,
}

/// A payment posted through `/ledger/PP` or `/ledger/EP`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentRecord {
    pub kind: PaymentKind,
    pub batch: String,
    pub period: i32,
    pub post_seq: u32,
    pub check_no: String,
    pub bank_code: String,
    pub total: Decimal,
    pub lines: Vec<PaymentLine>,
}

/// An employee expense report's payment state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpenseReportState {
    pub employee: String,
    pub voucher: String,
    pub total: Decimal,
    pub outstanding: Decimal,
    /// `true` once fully paid (VP sets the report's paid status).
    pub paid: bool,
}

/// How many tokens were granted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenStats {
    pub password_grants: u64,
    pub refresh_grants: u64,
    pub authorization_code_grants: u64,
    pub failed_grants: u64,
    /// API calls refused with 401.
    pub unauthorized_calls: u64,
}

/// One webhook delivery (all attempts of it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookDelivery {
    pub url: String,
    pub application: String,
    pub event_type: String,
    pub payload: Value,
    pub attempts: u32,
    pub delivered: bool,
    pub last_status: Option<u16>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_accept_y_n_and_true_false_spellings() {
        assert_eq!(flag_of(&Value::from("Y")), Some(true));
        assert_eq!(flag_of(&Value::from("false")), Some(false));
        assert_eq!(flag_of(&Value::from(true)), Some(true));
        assert_eq!(flag_of(&Value::from("maybe")), None);
    }

    #[test]
    fn dates_parse_from_every_form_clients_send() {
        let expected = NaiveDate::from_ymd_opt(2026, 5, 1).and_then(|d| d.and_hms_opt(0, 0, 0));
        assert_eq!(parse_vp_datetime("2026-05-01T00:00:00.000Z"), expected);
        assert_eq!(parse_vp_datetime("2026-05-01T00:00:00.000"), expected);
        assert_eq!(parse_vp_datetime("2026-05-01"), expected);
        assert_eq!(parse_vp_datetime("05/01/2026"), expected);
    }

    #[test]
    fn money_round_trips_through_json_numbers_and_strings() {
        let amount = Decimal::new(-125_050, 2);
        assert_eq!(decimal_of(&money(amount)), Some(amount));
        assert_eq!(
            decimal_of(&Value::from("200.00")),
            Some(Decimal::new(200, 0))
        );
        assert_eq!(money(Decimal::new(12000, 2)), Value::from(120));
    }
}
