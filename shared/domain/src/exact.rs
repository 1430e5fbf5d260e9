//! Exact Online records, in Exact's PascalCase field names (reference `exact-online-api.md` §1.7, §5).
//!
//! Serialising produces a POST body: `None` fields are left out, read-only fields are never written
//! (`skip_serializing`), codes are padded (`Code` to 18 right-aligned, VAT codes to 3 left-aligned), dates are
//! Dutch local midnight without a zone (`2024-05-13T00:00:00`, see [`crate::cet`]) and amounts are decimal strings (`"100.00"`, which Exact accepts and which
//! keeps precision). Deserialising reads Exact responses: `/Date(ms)/` dates, numbers, padded codes, and
//! nested collections either as a plain array or as OData's `{"results":[...]}` (a `__deferred` link reads
//! as empty).

use std::fmt;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize, Serializer};
use uuid::Uuid;

use crate::codes::{ExactAccountCode, VatCode, account_code_opt, vat_code_opt};
use crate::lenient::{decimal_opt, int_opt};
use crate::money::CurrencyCode;
use crate::period::{exact_date, exact_date_opt};

/// Reads a nested OData collection: `[...]`, `{"results":[...]}`, `{"__deferred":{...}}` (empty) or `null`.
pub mod odata_collection {
    use super::*;

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Wire<T> {
        Plain(Vec<T>),
        Wrapped { results: Vec<T> },
        Deferred {},
    }

    pub fn serialize<S: Serializer, T: Serialize>(
        items: &[T],
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        items.serialize(serializer)
    }
    pub fn deserialize<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
        deserializer: D,
    ) -> Result<Vec<T>, D::Error> {
        Ok(match Option::<Wire<T>>::deserialize(deserializer)? {
            Some(Wire::Plain(v)) | Some(Wire::Wrapped { results: v }) => v,
            Some(Wire::Deferred {}) | None => Vec::new(),
        })
    }
}

/// The relationship status of an account: `C` customer, `P` prospect, `S` suspect, `A` none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AccountStatus {
    #[serde(rename = "C")]
    Customer,
    #[serde(rename = "P")]
    Prospect,
    #[serde(rename = "S")]
    Suspect,
    #[serde(rename = "A", alias = "")]
    None,
}

/// A CRM account (`crm/Accounts`, §5.1): customer and/or supplier.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Account {
    #[serde(rename = "ID", default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Uuid>,
    #[serde(rename = "Name")]
    pub name: String,
    /// Right-aligned in 18 characters on the wire.
    #[serde(
        rename = "Code",
        default,
        with = "account_code_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub code: Option<ExactAccountCode>,
    #[serde(
        rename = "SearchCode",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub search_code: Option<String>,
    #[serde(rename = "Status", default, skip_serializing_if = "Option::is_none")]
    pub status: Option<AccountStatus>,
    #[serde(
        rename = "IsSupplier",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub is_supplier: Option<bool>,
    /// Read-only ("allowed for sales"), derived by Exact.
    #[serde(rename = "IsSales", default, skip_serializing)]
    pub is_sales: Option<bool>,
    #[serde(rename = "Blocked", default, skip_serializing_if = "Option::is_none")]
    pub blocked: Option<bool>,
    #[serde(rename = "Email", default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(rename = "Phone", default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(
        rename = "AddressLine1",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub address_line1: Option<String>,
    #[serde(
        rename = "AddressLine2",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub address_line2: Option<String>,
    #[serde(
        rename = "AddressLine3",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub address_line3: Option<String>,
    #[serde(rename = "Postcode", default, skip_serializing_if = "Option::is_none")]
    pub postcode: Option<String>,
    #[serde(rename = "City", default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(rename = "State", default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// ISO country code; Exact returns it padded (`"NL "`), use [`Account::country_code`].
    #[serde(rename = "Country", default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(rename = "VATNumber", default, skip_serializing_if = "Option::is_none")]
    pub vat_number: Option<String>,
    #[serde(
        rename = "ChamberOfCommerce",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub chamber_of_commerce: Option<String>,
    #[serde(
        rename = "PaymentConditionSales",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub payment_condition_sales: Option<String>,
    #[serde(
        rename = "PaymentConditionPurchase",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub payment_condition_purchase: Option<String>,
    #[serde(
        rename = "SalesCurrency",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub sales_currency: Option<String>,
    #[serde(
        rename = "PurchaseCurrency",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub purchase_currency: Option<String>,
    #[serde(
        rename = "MainContact",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub main_contact: Option<Uuid>,
    /// Read-only: `A` relation, `D` division.
    #[serde(rename = "Type", default, skip_serializing)]
    pub account_type: Option<String>,
    /// Read-only: when the account last changed (the version firm-sync keeps per link to recognise the echo
    /// of its own writes).
    #[serde(
        rename = "Modified",
        default,
        with = "crate::period::exact_instant_opt",
        skip_serializing
    )]
    pub modified: Option<chrono::DateTime<chrono::Utc>>,
    /// Read-only, sync endpoints only: the row version (`sync/CRM/Accounts`).
    #[serde(rename = "Timestamp", default, with = "int_opt", skip_serializing)]
    pub timestamp: Option<i64>,
}

impl Account {
    /// The country code without Exact's padding.
    pub fn country_code(&self) -> Option<&str> {
        self.country
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty())
    }
}

/// The type of a CRM address (§5.2): Visit=1, Postal=2, Invoice=3, Delivery=4. Written as the integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AddressType {
    Visit = 1,
    Postal = 2,
    Invoice = 3,
    Delivery = 4,
}

impl AddressType {
    pub fn code(self) -> i16 {
        self as i16
    }
    pub fn from_code(code: i64) -> Option<Self> {
        match code {
            1 => Some(Self::Visit),
            2 => Some(Self::Postal),
            3 => Some(Self::Invoice),
            4 => Some(Self::Delivery),
            _ => None,
        }
    }
}

impl fmt::Display for AddressType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}
impl Serialize for AddressType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_i16(self.code())
    }
}
impl<'de> Deserialize<'de> for AddressType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let code = int_opt::deserialize(deserializer)?
            .ok_or_else(|| de::Error::custom("address type required"))?;
        Self::from_code(code)
            .ok_or_else(|| de::Error::custom(format!("unknown address type {code}")))
    }
}

/// A CRM address (`crm/Addresses`, §5.2). Exact addresses have no e-mail property.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    #[serde(rename = "ID", default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Uuid>,
    #[serde(rename = "Account", default, skip_serializing_if = "Option::is_none")]
    pub account: Option<Uuid>,
    #[serde(rename = "Type")]
    pub address_type: AddressType,
    #[serde(rename = "Main", default, skip_serializing_if = "Option::is_none")]
    pub main: Option<bool>,
    #[serde(
        rename = "AddressLine1",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub address_line1: Option<String>,
    #[serde(
        rename = "AddressLine2",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub address_line2: Option<String>,
    #[serde(
        rename = "AddressLine3",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub address_line3: Option<String>,
    #[serde(rename = "Postcode", default, skip_serializing_if = "Option::is_none")]
    pub postcode: Option<String>,
    #[serde(rename = "City", default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(rename = "State", default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(rename = "Country", default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(rename = "Phone", default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(rename = "Notes", default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
}

/// A CRM contact person (`crm/Contacts`, §5.3). Needs `Account` and a first or last name.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Contact {
    #[serde(rename = "ID", default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Uuid>,
    #[serde(rename = "Account", default, skip_serializing_if = "Option::is_none")]
    pub account: Option<Uuid>,
    #[serde(rename = "FirstName", default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(rename = "LastName", default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(rename = "Email", default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(rename = "Phone", default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(rename = "Mobile", default, skip_serializing_if = "Option::is_none")]
    pub mobile: Option<String>,
    /// The contact number (numeric: Exact answers it as a number, so it reads either way).
    #[serde(
        rename = "HID",
        default,
        with = "crate::lenient::text_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub hid: Option<String>,
    /// Read-only.
    #[serde(rename = "FullName", default, skip_serializing)]
    pub full_name: Option<String>,
}

/// Which side of the balance a G/L account normally sits on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum BalanceSide {
    #[serde(rename = "D")]
    Debit,
    #[serde(rename = "C")]
    Credit,
}

/// Balance sheet (`B`) or profit & loss (`W`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum BalanceType {
    #[serde(rename = "B")]
    BalanceSheet,
    #[serde(rename = "W")]
    ProfitAndLoss,
}

/// A general-ledger account (`financial/GLAccounts`, §5.4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GlAccount {
    #[serde(rename = "ID", default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Uuid>,
    #[serde(rename = "Code")]
    pub code: String,
    #[serde(rename = "Description")]
    pub description: String,
    /// Exact's type code (20 AR, 22 AP, 110 Revenue, ...).
    #[serde(rename = "Type", default, skip_serializing_if = "Option::is_none")]
    pub gl_type: Option<i32>,
    #[serde(
        rename = "BalanceSide",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub balance_side: Option<BalanceSide>,
    #[serde(
        rename = "BalanceType",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub balance_type: Option<BalanceType>,
    #[serde(rename = "IsBlocked", default, skip_serializing_if = "Option::is_none")]
    pub is_blocked: Option<bool>,
}

/// A VAT code (`vat/VATCodes`, §5.5).
///
/// `percentage` is read-only and is a fraction (`0.21` = 21 %) per the reference (marked uncertain there).
/// `calculation_basis` is Exact's flag for VAT calculated on top of another VAT (a compound tax);
/// a value other than 0 means compound. Also uncertain; absent reads as not compound.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VatCodeRecord {
    #[serde(rename = "ID", default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Uuid>,
    #[serde(rename = "Code")]
    pub code: VatCode,
    #[serde(rename = "Description")]
    pub description: String,
    /// `B` 0 % base only, `E` excluding, `I` including, `N` no VAT.
    #[serde(rename = "Type", default, skip_serializing_if = "Option::is_none")]
    pub vat_type: Option<String>,
    #[serde(rename = "Percentage", default, with = "decimal_opt", skip_serializing)]
    pub percentage: Option<Decimal>,
    /// `B` both, `P` purchase, `S` sales.
    #[serde(
        rename = "VATTransactionType",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub transaction_type: Option<String>,
    #[serde(
        rename = "CalculationBasis",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub calculation_basis: Option<i32>,
    #[serde(rename = "IsBlocked", default, skip_serializing_if = "Option::is_none")]
    pub is_blocked: Option<bool>,
}

/// A currency enabled in the division (`general/Currencies`, GET only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Currency {
    #[serde(rename = "Code")]
    pub code: CurrencyCode,
    #[serde(
        rename = "Description",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub description: Option<String>,
    #[serde(
        rename = "AmountPrecision",
        default,
        with = "decimal_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub amount_precision: Option<Decimal>,
}

/// A journal of the division (`financial/Journals`, GET only). Bank journals (`Type` 12) are the bank
/// accounts payments go through: a payment's `Journal` is one of their codes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Journal {
    #[serde(rename = "Code")]
    pub code: String,
    #[serde(rename = "Description", default)]
    pub description: String,
    /// 10 cash, 12 bank, 20 sales, 22 purchase, 90 general journal.
    #[serde(rename = "Type", default, skip_serializing_if = "Option::is_none")]
    pub journal_type: Option<i32>,
    /// The journal's currency (a bank account's currency).
    #[serde(rename = "Currency", default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
}

impl Journal {
    /// Exact's journal type of bank journals.
    pub const TYPE_BANK: i32 = 12;
}

/// A sales entry, the financial booking of an invoice made elsewhere (`salesentry/SalesEntries`, §5.8).
/// Credit notes are sales entries with negative line amounts (Exact's `Type` 21 is derived, read-only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SalesEntry {
    #[serde(rename = "EntryID", default, skip_serializing_if = "Option::is_none")]
    pub entry_id: Option<Uuid>,
    /// Journal *code* (e.g. `"70"`), not its GUID.
    #[serde(rename = "Journal")]
    pub journal: String,
    #[serde(rename = "Customer")]
    pub customer: Uuid,
    #[serde(rename = "EntryDate", with = "exact_date")]
    pub entry_date: NaiveDate,
    #[serde(
        rename = "DueDate",
        default,
        with = "exact_date_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub due_date: Option<NaiveDate>,
    #[serde(rename = "YourRef", default, skip_serializing_if = "Option::is_none")]
    pub your_ref: Option<String>,
    #[serde(
        rename = "Description",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub description: Option<String>,
    #[serde(rename = "Currency", default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<CurrencyCode>,
    #[serde(
        rename = "InvoiceNumber",
        default,
        with = "int_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub invoice_number: Option<i64>,
    #[serde(
        rename = "ReportingYear",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub reporting_year: Option<i32>,
    #[serde(
        rename = "ReportingPeriod",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub reporting_period: Option<i32>,
    #[serde(rename = "SalesEntryLines", default, with = "odata_collection")]
    pub lines: Vec<SalesEntryLine>,
    /// Read-only: total including VAT.
    #[serde(rename = "AmountFC", default, with = "decimal_opt", skip_serializing)]
    pub amount_fc: Option<Decimal>,
    /// Read-only: 20 open, 50 processed.
    #[serde(rename = "Status", default, skip_serializing)]
    pub status: Option<i32>,
    /// Read-only: 20 sales entry, 21 sales credit note.
    #[serde(rename = "Type", default, skip_serializing)]
    pub entry_type: Option<i32>,
}

/// A sales entry line. `AmountFC` excludes VAT.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SalesEntryLine {
    #[serde(rename = "ID", default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Uuid>,
    #[serde(rename = "GLAccount")]
    pub gl_account: Uuid,
    #[serde(rename = "AmountFC")]
    pub amount_fc: Decimal,
    #[serde(
        rename = "VATCode",
        default,
        with = "vat_code_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub vat_code: Option<VatCode>,
    #[serde(
        rename = "VATAmountFC",
        default,
        with = "decimal_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub vat_amount_fc: Option<Decimal>,
    #[serde(
        rename = "Description",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub description: Option<String>,
    #[serde(
        rename = "Quantity",
        default,
        with = "decimal_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub quantity: Option<Decimal>,
}

/// A purchase entry (`purchaseentry/PurchaseEntries`, §5.10): a supplier bill or an expense claim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurchaseEntry {
    #[serde(rename = "EntryID", default, skip_serializing_if = "Option::is_none")]
    pub entry_id: Option<Uuid>,
    #[serde(rename = "Journal")]
    pub journal: String,
    #[serde(rename = "Supplier")]
    pub supplier: Uuid,
    #[serde(rename = "EntryDate", with = "exact_date")]
    pub entry_date: NaiveDate,
    #[serde(
        rename = "DueDate",
        default,
        with = "exact_date_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub due_date: Option<NaiveDate>,
    /// "Your reference": the supplier's invoice number; Ledgerlink puts the VP voucher number here.
    #[serde(rename = "YourRef", default, skip_serializing_if = "Option::is_none")]
    pub your_ref: Option<String>,
    #[serde(
        rename = "Description",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub description: Option<String>,
    #[serde(rename = "Currency", default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<CurrencyCode>,
    #[serde(rename = "PurchaseEntryLines", default, with = "odata_collection")]
    pub lines: Vec<PurchaseEntryLine>,
    #[serde(rename = "AmountFC", default, with = "decimal_opt", skip_serializing)]
    pub amount_fc: Option<Decimal>,
    #[serde(rename = "Status", default, skip_serializing)]
    pub status: Option<i32>,
    #[serde(rename = "Type", default, skip_serializing)]
    pub entry_type: Option<i32>,
}

/// A purchase entry line. `AmountFC` excludes VAT.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurchaseEntryLine {
    #[serde(rename = "ID", default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Uuid>,
    #[serde(rename = "GLAccount")]
    pub gl_account: Uuid,
    #[serde(rename = "AmountFC")]
    pub amount_fc: Decimal,
    #[serde(
        rename = "VATCode",
        default,
        with = "vat_code_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub vat_code: Option<VatCode>,
    #[serde(
        rename = "VATAmountFC",
        default,
        with = "decimal_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub vat_amount_fc: Option<Decimal>,
    #[serde(
        rename = "Description",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub description: Option<String>,
    #[serde(
        rename = "Quantity",
        default,
        with = "decimal_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub quantity: Option<Decimal>,
}

/// A general journal entry (`generaljournalentry/GeneralJournalEntries`, §5.11). No PUT; no header text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GeneralJournalEntry {
    #[serde(rename = "EntryID", default, skip_serializing_if = "Option::is_none")]
    pub entry_id: Option<Uuid>,
    #[serde(rename = "JournalCode")]
    pub journal_code: String,
    #[serde(rename = "Currency", default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<CurrencyCode>,
    #[serde(
        rename = "FinancialYear",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub financial_year: Option<i32>,
    #[serde(
        rename = "FinancialPeriod",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub financial_period: Option<i32>,
    #[serde(
        rename = "GeneralJournalEntryLines",
        default,
        with = "odata_collection"
    )]
    pub lines: Vec<GeneralJournalEntryLine>,
}

/// A general journal line. `AmountFC` is signed: positive debit, negative credit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GeneralJournalEntryLine {
    #[serde(rename = "ID", default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Uuid>,
    #[serde(rename = "GLAccount")]
    pub gl_account: Uuid,
    #[serde(rename = "AmountFC")]
    pub amount_fc: Decimal,
    #[serde(
        rename = "Description",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub description: Option<String>,
    #[serde(
        rename = "Date",
        default,
        with = "exact_date_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub date: Option<NaiveDate>,
    #[serde(
        rename = "OurRef",
        default,
        with = "int_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub our_ref: Option<i64>,
}

/// One payment term of the cash-flow module: `cashflow/Receivables`, `cashflow/Payments` and
/// `sync/Cashflow/PaymentTerms` (§5.12) share this shape. All fields are read-only.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CashflowTerm {
    #[serde(rename = "ID", default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Uuid>,
    /// Sync row version (Int64, number or string).
    #[serde(
        rename = "Timestamp",
        default,
        with = "int_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub timestamp: Option<i64>,
    #[serde(rename = "Account", default, skip_serializing_if = "Option::is_none")]
    pub account: Option<Uuid>,
    #[serde(
        rename = "AccountCode",
        default,
        with = "account_code_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub account_code: Option<ExactAccountCode>,
    #[serde(
        rename = "AccountName",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub account_name: Option<String>,
    #[serde(
        rename = "AmountDC",
        default,
        with = "decimal_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub amount_dc: Option<Decimal>,
    #[serde(
        rename = "AmountFC",
        default,
        with = "decimal_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub amount_fc: Option<Decimal>,
    #[serde(rename = "Currency", default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<CurrencyCode>,
    #[serde(
        rename = "Description",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub description: Option<String>,
    #[serde(
        rename = "DueDate",
        default,
        with = "exact_date_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub due_date: Option<NaiveDate>,
    #[serde(
        rename = "EntryDate",
        default,
        with = "exact_date_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub entry_date: Option<NaiveDate>,
    #[serde(rename = "EntryID", default, skip_serializing_if = "Option::is_none")]
    pub entry_id: Option<Uuid>,
    #[serde(
        rename = "EntryNumber",
        default,
        with = "int_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub entry_number: Option<i64>,
    #[serde(rename = "GLAccount", default, skip_serializing_if = "Option::is_none")]
    pub gl_account: Option<Uuid>,
    #[serde(
        rename = "InvoiceDate",
        default,
        with = "exact_date_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub invoice_date: Option<NaiveDate>,
    #[serde(
        rename = "InvoiceNumber",
        default,
        with = "int_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub invoice_number: Option<i64>,
    #[serde(rename = "Journal", default, skip_serializing_if = "Option::is_none")]
    pub journal: Option<String>,
    /// 20 = receipt (receivable), 22 = payment (sync/Cashflow/PaymentTerms only).
    #[serde(rename = "LineType", default, skip_serializing_if = "Option::is_none")]
    pub line_type: Option<i32>,
    /// 20 open, 30 selected, 40 processed, 50 matched.
    #[serde(rename = "Status", default, skip_serializing_if = "Option::is_none")]
    pub status: Option<i32>,
    #[serde(
        rename = "TransactionEntryID",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub transaction_entry_id: Option<Uuid>,
    #[serde(
        rename = "TransactionID",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub transaction_id: Option<Uuid>,
    #[serde(
        rename = "TransactionAmountFC",
        default,
        with = "decimal_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub transaction_amount_fc: Option<Decimal>,
    #[serde(rename = "YourRef", default, skip_serializing_if = "Option::is_none")]
    pub your_ref: Option<String>,
    #[serde(
        rename = "PaymentReference",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub payment_reference: Option<String>,
    /// Receivables only.
    #[serde(
        rename = "IsFullyPaid",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub is_fully_paid: Option<bool>,
    /// Receivables only.
    #[serde(
        rename = "LastPaymentDate",
        default,
        with = "exact_date_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub last_payment_date: Option<NaiveDate>,
}

/// A row of `cashflow/Receivables`.
pub type Receivable = CashflowTerm;
/// A row of `cashflow/Payments`.
pub type Payment = CashflowTerm;
/// A row of `sync/Cashflow/PaymentTerms` (receipts and payments together, told apart by `LineType`).
pub type PaymentTerm = CashflowTerm;

impl CashflowTerm {
    /// `LineType` 20: a receipt from a customer.
    pub const LINE_TYPE_RECEIPT: i32 = 20;
    /// `LineType` 22: a payment to a supplier.
    pub const LINE_TYPE_PAYMENT: i32 = 22;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sales_entry_body_pads_vat_codes_and_leaves_read_only_fields_out() {
        let entry = SalesEntry {
            entry_id: None,
            journal: "70".into(),
            customer: Uuid::nil(),
            entry_date: NaiveDate::from_ymd_opt(2024, 5, 13).unwrap_or_default(),
            due_date: None,
            your_ref: Some("INV-1".into()),
            description: None,
            currency: CurrencyCode::parse("EUR").ok(),
            invoice_number: None,
            reporting_year: None,
            reporting_period: None,
            lines: vec![SalesEntryLine {
                id: None,
                gl_account: Uuid::nil(),
                amount_fc: Decimal::new(10000, 2),
                vat_code: VatCode::parse("2").ok(),
                vat_amount_fc: None,
                description: None,
                quantity: None,
            }],
            amount_fc: Some(Decimal::ONE),
            status: Some(20),
            entry_type: Some(20),
        };
        let out = serde_json::to_value(&entry).unwrap_or_default();
        assert_eq!(out["EntryDate"], "2024-05-13T00:00:00");
        assert_eq!(out["SalesEntryLines"][0]["VATCode"], "2  ");
        assert_eq!(out["SalesEntryLines"][0]["AmountFC"], "100.00");
        assert!(out.get("Status").is_none() && out.get("AmountFC").is_none());
    }

    #[test]
    fn a_response_reads_epoch_dates_padded_codes_and_wrapped_collections() {
        let json = r#"{"EntryID":"c00ee12c-2b39-4e84-b332-54a3c722e5dd","Journal":"70",
            "Customer":"3734121e-1544-4b77-9ae2-7203e9bd6046","EntryDate":"/Date(1351209600000)/",
            "DueDate":null,"AmountFC":121.0,"Status":20,
            "SalesEntryLines":{"results":[{"GLAccount":"4eae751d-fc91-4c99-b1e6-646fe3401a12","AmountFC":100.0,"VATCode":"2  "}]}}"#;
        let entry: SalesEntry = crate::json::parse_lossless(json)
            .and_then(serde_json::from_value)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            entry.entry_date,
            NaiveDate::from_ymd_opt(2012, 10, 26).unwrap_or_default()
        );
        assert_eq!(
            entry.lines[0].vat_code.as_ref().map(VatCode::as_str),
            Some("2")
        );
        assert_eq!(entry.amount_fc, Some(Decimal::new(121, 0)));
    }

    #[test]
    fn blank_codes_in_responses_read_as_absent() {
        let json = r#"{"Name":"Acme","Code":"","Status":""}"#;
        let account: Account = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(account.code, None);
        let line: SalesEntryLine = serde_json::from_str(
            r#"{"GLAccount":"4eae751d-fc91-4c99-b1e6-646fe3401a12","AmountFC":1,"VATCode":"   "}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(line.vat_code, None);
    }

    #[test]
    fn address_types_are_written_as_their_integer_codes() {
        assert_eq!(
            serde_json::to_string(&AddressType::Invoice).ok(),
            Some("3".to_owned())
        );
        let back: AddressType = serde_json::from_str("4").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, AddressType::Delivery);
    }

    #[test]
    fn deferred_collections_read_as_empty() {
        let json = r#"{"Journal":"90","Supplier":"3734121e-1544-4b77-9ae2-7203e9bd6046","EntryDate":"2024-01-01",
            "PurchaseEntryLines":{"__deferred":{"uri":"https://x"}}}"#;
        let entry: PurchaseEntry = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}"));
        assert!(entry.lines.is_empty());
    }
}
