//! A readable demonstration: maps the bundled sample VP records (`samples/*.json`) with the bundled lookup
//! tables and renders the resulting Exact Online payloads (pretty JSON) and the mapping errors, including
//! the refusal of a negative invoice. The root binary prints [`render`].

use std::fmt::Write as _;

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use ledgerlink_domain::vantagepoint::{
    ApVoucher, ArInvoice, CreditMemo, ExpenseReport, Firm, JournalEntry, TaxCode,
};
use ledgerlink_domain::{CurrencyCode, Money, Period};
use ledgerlink_ports::psa::Project;
use ledgerlink_ports::{LookupEntry, LookupTable};
use rust_decimal::Decimal;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::firms::{firm_addresses_to_exact, firm_to_exact};
use crate::journal::journal_to_exact;
use crate::load::{LookupSources, load};
use crate::lookups::{Lookups, PostingContext};
use crate::outcome::Outcome;
use crate::payments::{InvoiceOutstanding, OutstandingLine, PaymentEvent, cash_receipt_to_vp};
use crate::purchases::{ap_voucher_to_exact, expense_report_to_exact};
use crate::sales::{credit_note_to_exact, sales_invoice_to_exact};

/// The bundled lookup tables, in the rows-per-table shape the lookup store holds (`{"gl-accounts":
/// [{"key": ..., "columns": {...}}], ...}`).
pub const LOOKUP_TABLES_JSON: &str = include_str!("../samples/lookup_tables.json");
/// The bundled tenant settings, as the tenant record stores them.
pub const TENANT_SETTINGS_JSON: &str = include_str!("../samples/tenant_settings.json");
/// Vantagepoint's tax codes, as `/vision/TaxCodeEntity/` returns them.
pub const VP_TAX_CODES_JSON: &str = include_str!("../samples/vp_tax_codes.json");
/// The parties the sample documents name: firm links (as the link store holds them) and projects.
pub const PARTIES_JSON: &str = include_str!("../samples/parties.json");
/// Bundled sample VP records.
pub const FIRMS_JSON: &str = include_str!("../samples/firms.json");
pub const INVOICE_JSON: &str = include_str!("../samples/invoice.json");
pub const NEGATIVE_INVOICE_JSON: &str = include_str!("../samples/negative_invoice.json");
pub const CREDIT_MEMO_JSON: &str = include_str!("../samples/credit_memo.json");
pub const AP_VOUCHER_JSON: &str = include_str!("../samples/ap_voucher.json");
pub const EXPENSE_REPORT_JSON: &str = include_str!("../samples/expense_report.json");
pub const JOURNAL_ENTRY_JSON: &str = include_str!("../samples/journal_entry.json");

#[derive(Deserialize)]
struct SampleRow {
    key: String,
    #[serde(default)]
    columns: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct SampleProject {
    #[serde(rename = "WBS1")]
    wbs1: String,
    #[serde(rename = "ClientID", default)]
    client_id: Option<String>,
    #[serde(rename = "BillingClientID", default)]
    billing_client_id: Option<String>,
}

#[derive(Deserialize)]
struct SampleParties {
    firm_links: BTreeMap<String, String>,
    projects: Vec<SampleProject>,
}

/// The sample lookups, built the way production builds them: the stored tables, the tenant settings and
/// VP's tax codes through [`crate::load::load`], then the parties through the same `add_*` calls the flows
/// make (firm links, the vendor's and the employee's lookup rows, the billing projects).
pub fn sample_lookups() -> Result<Lookups, String> {
    let raw: BTreeMap<LookupTable, Vec<SampleRow>> =
        serde_json::from_str(LOOKUP_TABLES_JSON).map_err(|e| format!("lookup_tables.json: {e}"))?;
    let tables: BTreeMap<LookupTable, Vec<LookupEntry>> = raw
        .into_iter()
        .map(|(table, rows)| {
            let entries = rows
                .into_iter()
                .map(|r| LookupEntry {
                    key: r.key,
                    columns: r.columns,
                    version: 1,
                    updated_at: DateTime::<Utc>::UNIX_EPOCH,
                    updated_by: "sample".into(),
                })
                .collect();
            (table, entries)
        })
        .collect();
    let settings: BTreeMap<String, serde_json::Value> = serde_json::from_str(TENANT_SETTINGS_JSON)
        .map_err(|e| format!("tenant_settings.json: {e}"))?;
    let vp_tax_codes: Vec<TaxCode> =
        serde_json::from_str(VP_TAX_CODES_JSON).map_err(|e| format!("vp_tax_codes.json: {e}"))?;
    let parties: SampleParties =
        serde_json::from_str(PARTIES_JSON).map_err(|e| format!("parties.json: {e}"))?;
    let mut lookups = load(&LookupSources {
        tables: &tables,
        tenant_settings: &settings,
        vp_tax_codes: &vp_tax_codes,
    })
    .map_err(|e| e.to_string())?;
    for (client_id, exact_id) in &parties.firm_links {
        lookups
            .add_firm_link(client_id, exact_id)
            .map_err(|e| e.to_string())?;
    }
    for row in tables.get(&LookupTable::Firms).into_iter().flatten() {
        lookups.add_vendor_row(row).map_err(|e| e.to_string())?;
    }
    for row in tables.get(&LookupTable::Employees).into_iter().flatten() {
        lookups
            .add_employee(&row.key, None, Some(row))
            .map_err(|e| e.to_string())?;
    }
    for p in parties.projects {
        lookups.add_project(&Project {
            wbs1: p.wbs1,
            name: None,
            client_id: p.client_id,
            billing_client_id: p.billing_client_id,
            org: None,
            billing_currency: None,
            billing_group: None,
        });
    }
    Ok(lookups)
}

fn parse<T: DeserializeOwned>(out: &mut String, name: &str, json: &str) -> Option<T> {
    // As the ERP clients read JSON: numbers keep their text on the way to a decimal.
    match ledgerlink_domain::json::parse_lossless(json).and_then(serde_json::from_value) {
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
    let lookups = match sample_lookups() {
        Ok(l) => l,
        Err(error) => {
            let _ = writeln!(out, "  ! the sample lookups do not load: {error}");
            return out;
        }
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
                    "- credit note {} crediting invoice {}:",
                    note.credit_note_number, note.original_invoice
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
            open_balance: None,
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
