//! A readable demonstration: maps the bundled sample VP records (`samples/*.json`) with the bundled lookup
//! tables and renders the resulting Exact Online payloads (pretty JSON) and the mapping errors, including
//! the refusal of a negative invoice. The root binary prints [`render`].

use std::fmt::Write as _;

use chrono::NaiveDate;
use ledgerlink_domain::vantagepoint::{
    ApVoucher, ArInvoice, CreditMemo, ExpenseReport, Firm, JournalEntry,
};
use ledgerlink_domain::{CurrencyCode, Money, Period};
use rust_decimal::Decimal;
use serde::Serialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::firms::{firm_addresses_to_exact, firm_to_exact};
use crate::journal::journal_to_exact;
use crate::lookups::{Lookups, PostingContext};
use crate::outcome::Outcome;
use crate::payments::{InvoiceOutstanding, OutstandingLine, PaymentEvent, cash_receipt_to_vp};
use crate::purchases::{ap_voucher_to_exact, expense_report_to_exact};
use crate::sales::{credit_note_to_exact, sales_invoice_to_exact};

/// The bundled lookup tables the demo maps with.
pub const LOOKUPS_JSON: &str = include_str!("../samples/lookups.json");
/// Bundled sample VP records.
pub const FIRMS_JSON: &str = include_str!("../samples/firms.json");
pub const INVOICE_JSON: &str = include_str!("../samples/invoice.json");
pub const NEGATIVE_INVOICE_JSON: &str = include_str!("../samples/negative_invoice.json");
pub const CREDIT_MEMO_JSON: &str = include_str!("../samples/credit_memo.json");
pub const AP_VOUCHER_JSON: &str = include_str!("../samples/ap_voucher.json");
pub const EXPENSE_REPORT_JSON: &str = include_str!("../samples/expense_report.json");
pub const JOURNAL_ENTRY_JSON: &str = include_str!("../samples/journal_entry.json");

fn parse<T: DeserializeOwned>(out: &mut String, name: &str, json: &str) -> Option<T> {
    match serde_json::from_str(json) {
        Ok(value) => Some(value),
        Err(error) => {
            let _ = writeln!(out, "  ! sample {name} does not parse: {error}");
            None
        }
    }
}

fn pretty<T: Serialize>(value: &T) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|e| format!("<not serialisable: {e}>"))
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("    {l}\n")).collect()
}

fn section(out: &mut String, title: &str) {
    let _ = writeln!(out, "\n== {title} ==");
}

/// Maps every bundled sample and returns the report.
pub fn render() -> String {
    let mut out = String::from(
        "Ledgerlink mapping demo: Vantagepoint samples mapped to Exact Online payloads\n",
    );
    let Some(lookups) = parse::<Lookups>(&mut out, "lookups.json", LOOKUPS_JSON) else {
        return out;
    };

    section(&mut out, "Firms -> crm/Accounts (+ crm/Addresses)");
    if let Some(firms) = parse::<Vec<Firm>>(&mut out, "firms.json", FIRMS_JSON) {
        for firm in &firms {
            let _ = writeln!(
                out,
                "- firm {} ({}):",
                firm.name,
                firm.client_id.as_deref().unwrap_or("new")
            );
            match firm_to_exact(firm, &lookups.settings) {
                Ok(Outcome::Mapped(account)) => {
                    out.push_str(&indent(&pretty(&account)));
                    let account_id = firm
                        .client_id
                        .as_ref()
                        .and_then(|id| lookups.firms.get(id).copied())
                        .unwrap_or_else(Uuid::nil);
                    for address in firm_addresses_to_exact(firm, account_id) {
                        let _ = writeln!(out, "  address ({}):", address.address_type);
                        out.push_str(&indent(&pretty(&address)));
                    }
                }
                Ok(Outcome::Skipped(reason)) => {
                    let _ = writeln!(out, "  skipped: {reason:?}");
                }
                Err(error) => {
                    let _ = writeln!(out, "  ERROR: {error}");
                }
            }
        }
    }

    section(&mut out, "Sales invoice -> salesentry/SalesEntries");
    let invoice = parse::<ArInvoice>(&mut out, "invoice.json", INVOICE_JSON);
    if let Some(invoice) = &invoice {
        match sales_invoice_to_exact(invoice, &lookups) {
            Ok(documents) => {
                for doc in documents {
                    let _ = writeln!(
                        out,
                        "- {} for project {} (invoice to {:?}, ordered by {:?}):",
                        doc.external_key,
                        doc.project,
                        doc.invoice_to.name.as_deref().unwrap_or("?"),
                        doc.ordered_by.name.as_deref().unwrap_or("?")
                    );
                    out.push_str(&indent(&pretty(&doc.entry)));
                }
            }
            Err(error) => {
                let _ = writeln!(out, "  ERROR: {error}");
            }
        }
    }

    section(&mut out, "Negative invoice (refused)");
    if let Some(negative) =
        parse::<ArInvoice>(&mut out, "negative_invoice.json", NEGATIVE_INVOICE_JSON)
    {
        match sales_invoice_to_exact(&negative, &lookups) {
            Ok(documents) => {
                let _ = writeln!(out, "  unexpectedly mapped {} document(s)", documents.len());
            }
            Err(error) => {
                let _ = writeln!(out, "  ERROR: {error}");
            }
        }
    }

    section(
        &mut out,
        "Credit memo -> credit note (salesentry/SalesEntries, positive amounts)",
    );
    if let Some(memo) = parse::<CreditMemo>(&mut out, "credit_memo.json", CREDIT_MEMO_JSON) {
        match credit_note_to_exact(&memo, &lookups) {
            Ok(note) => {
                let _ = writeln!(
                    out,
                    "- {} crediting {}:",
                    note.external_key, note.credit_memo_ref_no
                );
                out.push_str(&indent(&pretty(&note.entry)));
            }
            Err(error) => {
                let _ = writeln!(out, "  ERROR: {error}");
            }
        }
    }

    section(&mut out, "AP voucher -> purchaseentry/PurchaseEntries");
    if let Some(voucher) = parse::<ApVoucher>(&mut out, "ap_voucher.json", AP_VOUCHER_JSON) {
        match ap_voucher_to_exact(&voucher, &lookups) {
            Ok(mapped) => {
                let _ = writeln!(out, "- {}:", mapped.external_key);
                out.push_str(&indent(&pretty(&mapped.entry)));
            }
            Err(error) => {
                let _ = writeln!(out, "  ERROR: {error}");
            }
        }
    }

    section(
        &mut out,
        "Expense report -> purchaseentry/PurchaseEntries (payment currency)",
    );
    if let Some(report) =
        parse::<ExpenseReport>(&mut out, "expense_report.json", EXPENSE_REPORT_JSON)
    {
        match expense_report_to_exact(&report, &lookups) {
            Ok(mapped) => {
                let _ = writeln!(out, "- {}:", mapped.external_key);
                out.push_str(&indent(&pretty(&mapped.entry)));
            }
            Err(error) => {
                let _ = writeln!(out, "  ERROR: {error}");
            }
        }
    }

    section(
        &mut out,
        "Journal entry -> generaljournalentry/GeneralJournalEntries",
    );
    if let Some(entry) = parse::<JournalEntry>(&mut out, "journal_entry.json", JOURNAL_ENTRY_JSON) {
        match journal_to_exact(&entry, &lookups) {
            Ok(mapped) => {
                let _ = writeln!(out, "- {}:", mapped.external_key);
                out.push_str(&indent(&pretty(&mapped.entry)));
            }
            Err(error) => {
                let _ = writeln!(out, "  ERROR: {error}");
            }
        }
    }

    section(
        &mut out,
        "Exact receipt of EUR 1000.00 on the invoice -> VP cash receipt (crControl)",
    );
    if let (Some(invoice), Ok(period), Ok(eur)) = (
        &invoice,
        Period::from_yyyypp(202607),
        CurrencyCode::parse("EUR"),
    ) {
        let outstanding = InvoiceOutstanding {
            invoice: invoice.invoice.clone(),
            currency: eur,
            ar_account: "1100".to_owned(),
            lines: invoice
                .lines
                .iter()
                .map(|l| OutstandingLine {
                    wbs1: l.wbs1.clone(),
                    wbs2: l.wbs2.clone(),
                    wbs3: l.wbs3.clone(),
                    org: Some("A0:01".to_owned()),
                    outstanding: l.amount,
                })
                .collect(),
        };
        let payment = PaymentEvent {
            payment_id: "7f7e2a4c9d1b4e0f".to_owned(),
            date: NaiveDate::from_ymd_opt(2026, 7, 3).unwrap_or_default(),
            amount: Money::new(Decimal::new(100_000, 2), eur),
            bank_account: "NL91ABNA0417164300".to_owned(),
            reference: Some("000000010808".to_owned()),
        };
        let ctx = PostingContext {
            active_period: period,
            company: "A0".to_owned(),
        };
        match cash_receipt_to_vp(&payment, &outstanding, &ctx, &lookups) {
            Ok(control) => out.push_str(&indent(&pretty(&control))),
            Err(error) => {
                let _ = writeln!(out, "  ERROR: {error}");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_maps_every_sample_and_shows_the_negative_invoice_refusal() {
        let report = render();
        assert!(!report.contains("does not parse"), "{report}");
        assert!(report.contains("\"Journal\": \"70\""), "{report}");
        assert!(
            report.contains("negative invoices are not sent"),
            "{report}"
        );
        assert!(
            report.contains("skipped: NotAvailableToAccountingUsers"),
            "{report}"
        );
        assert!(report.contains("refusing to truncate"), "{report}");
        assert!(report.contains("\"GeneralJournalEntryLines\""), "{report}");
        assert!(report.contains("\"crDetail\""), "{report}");
    }
}
