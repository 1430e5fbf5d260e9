//! Fixtures: the bundled sample records and lookup tables, and small builders.

use chrono::NaiveDate;
use ledgerlink_domain::vantagepoint::{
    ApVoucher, ArInvoice, CreditMemo, Employee, ExpenseReport, Firm, JournalEntry,
};
use ledgerlink_domain::{CurrencyCode, Money, Period};
use ledgerlink_mapping::demo;
use ledgerlink_mapping::payments::PaymentEvent;
use ledgerlink_mapping::{Lookups, PostingContext};
use rust_decimal::Decimal;
use uuid::Uuid;

/// The sample lookups, loaded by the production loader from the stored-table, tenant-settings and VP
/// tax-code fixtures (see `ledgerlink_mapping::demo::sample_lookups`).
pub fn lookups() -> Lookups {
    demo::sample_lookups().unwrap()
}

pub fn invoice() -> ArInvoice {
    serde_json::from_str(demo::INVOICE_JSON).unwrap()
}

pub fn credit_memo() -> CreditMemo {
    serde_json::from_str(demo::CREDIT_MEMO_JSON).unwrap()
}

pub fn voucher() -> ApVoucher {
    serde_json::from_str(demo::AP_VOUCHER_JSON).unwrap()
}

pub fn expense_report() -> ExpenseReport {
    serde_json::from_str(demo::EXPENSE_REPORT_JSON).unwrap()
}

pub fn journal() -> JournalEntry {
    serde_json::from_str(demo::JOURNAL_ENTRY_JSON).unwrap()
}

pub fn firms() -> Vec<Firm> {
    serde_json::from_str(demo::FIRMS_JSON).unwrap()
}

/// The sample client firm "Acme BV" (two addresses, four roles).
pub fn acme() -> Firm {
    firms().remove(0)
}

pub fn employee() -> Employee {
    serde_json::from_str(
        r#"{"Employee":"00017","Name":"Anna de Vries","FirstName":"Anna","LastName":"de Vries","Status":"A",
            "EMail":"anna@firm.example","WorkPhone":"+31 20 555 0101","MobilePhone":"+31 6 1234 5678",
            "Address1":"Keizersgracht 10","Address2":"3rd floor","Address3":"Suite B","City":"Amsterdam",
            "State":"NH","ZIP":"1015 CS","Country":"nl","AvailableToAccountingUsers":"Y"}"#,
    )
    .unwrap()
}

pub fn date(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
}

pub fn eur() -> CurrencyCode {
    CurrencyCode::parse("EUR").unwrap()
}

pub fn money(amount: Decimal) -> Money {
    Money::new(amount, eur())
}

pub fn ctx() -> PostingContext {
    PostingContext {
        active_period: Period::from_yyyypp(202607).unwrap(),
        company: "A0".to_owned(),
    }
}

pub fn payment(amount: Decimal) -> PaymentEvent {
    PaymentEvent {
        payment_id: "PAY42".to_owned(),
        date: date("2026-07-03"),
        amount: money(amount),
        bank_account: "NL91ABNA0417164300".to_owned(),
        reference: Some("REF-77".to_owned()),
    }
}

pub fn id(text: &str) -> Uuid {
    Uuid::parse_str(text).unwrap()
}

/// The Exact GUID the sample lookups give a VP account number.
pub fn gl(account: &str) -> Uuid {
    lookups().gl_accounts[account]
}
