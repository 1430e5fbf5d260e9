//! Tables "Sales Invoices: Vantagepoint to Exact Online" (+ Line Items) and "Credit Note: Vantagepoint to
//! Exact Online" (+ Line Items).
//!
//! Both become Exact *sales entries* (`salesentry/SalesEntries`, the financial booking of an invoice made
//! elsewhere, reference §5.7): Exact's `SalesInvoices` would renumber the invoice and require items.
//! The spec's Xero-style targets land as follows: "Invoice to" = `Customer` (the billing client's
//! account); "Ordered by" (the primary client) has no account field on a sales entry (only Exact's
//! `SalesInvoices` have `OrderedBy`), so it is sent in the entry's `Description` — `"… (ordered by Globex
//! NV)"` — whenever the primary client is not the invoiced client (when it is, `Customer` already says who
//! ordered), and kept on the mapped record ([`Party`] `ordered_by`); "Status authorised" =
//! a sales entry is a posted booking (Exact status 20, open for payment) as soon as it is created;
//! "Amounts are tax exclusive" = line `AmountFC` excludes VAT, with `VATAmountFC` beside it; "Item name"
//! (invoice section) has no field on an entry line, so it leads the line `Description`.

use std::collections::BTreeMap;

use ledgerlink_domain::exact::{SalesEntry, SalesEntryLine};
use ledgerlink_domain::vantagepoint::{ArInvoice, ArInvoiceLine, CreditMemo};
use ledgerlink_domain::{CurrencyCode, Money, ObjectType, round_money};
use rust_decimal::Decimal;

use crate::common::{check_currency, lookup_id, numeric_document_number, resolve_tax, wbs_path};
use crate::error::{MappingError, RecordRef};
use crate::lookups::Lookups;

/// A party on a sales document, as VP names it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Party {
    pub client_id: Option<String>,
    pub name: Option<String>,
}

/// One Exact sales entry made from a VP invoice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappedSalesInvoice {
    /// The ledger document key, also sent as `YourRef`: `"{Invoice}.{Period}.{PostSeq}"`, plus
    /// `".{WBS1}"` when a non-consolidated billing group splits the invoice per project.
    pub external_key: String,
    /// The project the document is for.
    pub project: String,
    /// "Invoice to": the billing client (its Exact account is `entry.customer`).
    pub invoice_to: Party,
    /// "Ordered by": the primary client (sent in the entry description when it is another client).
    pub ordered_by: Party,
    pub entry: SalesEntry,
}

/// One Exact sales entry made from a VP credit memo. Amounts are never negative here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappedCreditNote {
    /// `"{Invoice}.{Period}.{PostSeq}"` of the credit memo, also sent as `YourRef`.
    pub external_key: String,
    /// The credit memo's own number in VP (its `Invoice`): the credit note's number in Exact.
    pub credit_note_number: String,
    /// VP's `CreditMemoRefNo`: the number of the invoice this credit memo credits, kept as the credit
    /// note's reference (in its description), never as its number.
    pub original_invoice: String,
    pub invoice_to: Party,
    pub ordered_by: Party,
    /// Positive amounts. Exact books a credit note as a sales entry with negative amounts: the Exact adapter
    /// decides the sign on the wire, so the mapping stays "a credit note of 100", never "-100".
    pub entry: SalesEntry,
}

/// The entry description: VP's description (the spec's reference text), then what a sales entry has no
/// field for — the invoice a credit note credits, and who ordered when that is not the invoiced client.
fn entry_description(
    base: String,
    credits: Option<&str>,
    invoice_to: &Party,
    ordered_by: &Party,
) -> String {
    let mut text = base;
    if let Some(original) = credits.filter(|o| !text.contains(*o)) {
        text.push_str(&format!(" (credits invoice {original})"));
    }
    let other_client =
        ordered_by.client_id.is_some() && ordered_by.client_id != invoice_to.client_id;
    if other_client {
        let who = ordered_by
            .name
            .clone()
            .or_else(|| ordered_by.client_id.clone())
            .unwrap_or_default();
        text.push_str(&format!(" (ordered by {who})"));
    }
    text
}

/// The currency and per-line amounts a document goes out in: the billing currency and billing amounts in a
/// multicurrency database (when VP gives a billing currency), else the transaction currency.
fn document_amounts(
    currency: CurrencyCode,
    billing_currency: Option<CurrencyCode>,
    lines: &[ArInvoiceLine],
    lookups: &Lookups,
    record: &RecordRef,
) -> Result<(CurrencyCode, Vec<Decimal>), MappingError> {
    match billing_currency.filter(|_| lookups.settings.multicurrency) {
        Some(billing) => {
            let amounts = lines
                .iter()
                .map(|l| {
                    l.amount_billing_currency.ok_or_else(|| MappingError::Missing {
                        record: record.clone(),
                        field: "AmountBillingCurrency",
                        why: "a multicurrency invoice is sent in its billing currency and amount",
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok((billing, amounts))
        }
        None => Ok((currency, lines.iter().map(|l| l.amount).collect())),
    }
}

/// What an Exact line's description is made of, after the invoice section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LineText {
    /// Invoice lines: WBS1 + WBS2 + WBS3.
    Wbs,
    /// Credit note lines: the VP line description.
    VpDescription,
}

/// Maps the lines of an invoice ("Sales Invoices: Vantagepoint to Exact Online Line Items").
///
/// Rows: WBS1 + WBS2 + WBS3 → `Description` (the levels that are present, `WBS1/WBS2/WBS3`); Invoice
/// section → item name (leads the `Description`: `"{section}: {wbs}"`); Quantity → `1`; Amount → unit
/// price and line amount (`AmountFC`, VAT excluded); Account → `GLAccount` (via the G/L lookup table);
/// Tax code → `VATCode` (via the tax lookup table; combined taxes via the combined table); Amount ×
/// effective rate → `VATAmountFC`, rounded to cents, the effective rate of combined taxes being the sum
/// of their rates. Compound taxes are refused.
///
/// Lines are grouped by item code (invoice section) and tax code, as the spec requires; the G/L account is
/// part of the key too, because an Exact line has one account (with one revenue account per section, as
/// usual, this is exactly section + tax code). Groups keep the order of their first line; the tax of a
/// group is computed once on the group amount. `amounts` are the line amounts to use (transaction or
/// billing currency, see [`sales_invoice_to_exact`]).
pub fn sales_invoice_lines(
    lines: &[ArInvoiceLine],
    amounts: &[Decimal],
    lookups: &Lookups,
    record: &RecordRef,
) -> Result<Vec<SalesEntryLine>, MappingError> {
    grouped_lines(lines, amounts, LineText::Wbs, lookups, record)
}

fn grouped_lines(
    lines: &[ArInvoiceLine],
    amounts: &[Decimal],
    text: LineText,
    lookups: &Lookups,
    record: &RecordRef,
) -> Result<Vec<SalesEntryLine>, MappingError> {
    struct Group {
        section: Option<String>,
        account: String,
        tax_codes: Vec<String>,
        amount: Decimal,
        texts: Vec<String>,
    }
    let mut order: Vec<Group> = Vec::new();
    let mut index: BTreeMap<(Option<String>, String, String), usize> = BTreeMap::new();
    for (line, amount) in lines.iter().zip(amounts) {
        let tax_key = line.tax_codes().join("+");
        let key = (line.invoice_section.clone(), tax_key, line.account.clone());
        let slot = *index.entry(key).or_insert_with(|| {
            order.push(Group {
                section: line.invoice_section.clone(),
                account: line.account.clone(),
                tax_codes: line.tax_codes().into_iter().map(str::to_owned).collect(),
                amount: Decimal::ZERO,
                texts: Vec::new(),
            });
            order.len() - 1
        });
        let group = &mut order[slot];
        group.amount += *amount;
        let line_text = match text {
            LineText::Wbs => wbs_path(
                line.wbs1.as_deref(),
                line.wbs2.as_deref(),
                line.wbs3.as_deref(),
            ),
            LineText::VpDescription => line.description.clone(),
        };
        if let Some(t) = line_text
            && !group.texts.contains(&t)
        {
            group.texts.push(t);
        }
    }
    order
        .into_iter()
        .map(|group| {
            let gl_account = lookup_id(
                &lookups.gl_accounts,
                record,
                "Account",
                "G/L accounts",
                &group.account,
            )?;
            let codes: Vec<&str> = group.tax_codes.iter().map(String::as_str).collect();
            let tax = resolve_tax(&codes, lookups, record, "TaxCode")?;
            let joined = (!group.texts.is_empty()).then(|| group.texts.join(", "));
            let description = match (group.section.as_deref(), joined) {
                (Some(section), Some(t)) => Some(format!("{section}: {t}")),
                (Some(section), None) => Some(section.to_owned()),
                (None, t) => t,
            };
            Ok(SalesEntryLine {
                id: None,
                gl_account,
                amount_fc: group.amount,
                vat_code: tax.exact_code,
                vat_amount_fc: Some(round_money(group.amount * tax.effective_rate)),
                description,
                quantity: Some(Decimal::ONE),
            })
        })
        .collect()
}

/// Maps the header of one sales document ("Sales Invoices: Vantagepoint to Exact Online").
///
/// Rows: Description → reference text (`Description`; the invoice number when VP has none); Billing
/// Client → Invoice to (`Customer` = the billing client's Exact account, via the firm lookup table — never
/// the primary client); Primary Client → Ordered by (in `Description`, see the module docs); Invoice
/// number → invoice number (`YourRef` = the document key, and `InvoiceNumber` as a hint when the VP number
/// is numeric and fits Exact's Int32); Transaction date → `EntryDate`; Due Date → `DueDate` by the
/// due-date rule (the tenant's mapping value); Currency Code → `Currency` (billing currency when
/// multicurrency); Status authorised and Amounts tax exclusive → see the module docs. `Journal` is the
/// tenant's sales journal code.
pub fn sales_invoice_header(
    invoice: &ArInvoice,
    invoice_to: &Party,
    ordered_by: &Party,
    currency: CurrencyCode,
    external_key: &str,
    lookups: &Lookups,
    record: &RecordRef,
) -> Result<SalesEntry, MappingError> {
    let billing_client_id = invoice_to
        .client_id
        .as_deref()
        .unwrap_or(invoice.billing_client_id.as_str());
    let customer = lookup_id(
        &lookups.firms,
        record,
        "BillingClientID",
        "firms",
        billing_client_id,
    )?;
    check_currency(currency, lookups, record, "CurrencyCode")?;
    Ok(SalesEntry {
        entry_id: None,
        journal: lookups.journals.sales.clone(),
        customer,
        entry_date: invoice.trans_date,
        due_date: Some(lookups.due_date(billing_client_id, invoice.trans_date, invoice.due_date)),
        your_ref: Some(external_key.to_owned()),
        description: Some(entry_description(
            invoice
                .description
                .clone()
                .unwrap_or_else(|| format!("Invoice {}", invoice.invoice)),
            None,
            invoice_to,
            ordered_by,
        )),
        currency: Some(currency),
        invoice_number: numeric_document_number(&invoice.invoice),
        reporting_year: None,
        reporting_period: None,
        lines: Vec::new(),
        amount_fc: None,
        status: None,
        entry_type: None,
    })
}

/// Maps a posted VP invoice to the Exact sales entries it becomes.
///
/// Billing groups: without one, or when consolidated, the invoice is one document (a consolidated group
/// under its main project and the main project's billing client); a non-consolidated group gives one
/// document per project (line `WBS1`), each to that project's billing client (project lookup table,
/// falling back to the invoice's billing client).
///
/// A negative invoice is refused with [`MappingError::NegativeInvoice`] (whole invoice, and each document
/// of a split), never sent. A credit memo routed here is refused: use [`credit_note_to_exact`].
pub fn sales_invoice_to_exact(
    invoice: &ArInvoice,
    lookups: &Lookups,
) -> Result<Vec<MappedSalesInvoice>, MappingError> {
    let base_key = invoice.external_key();
    let record = RecordRef::new(ObjectType::Invoice, &base_key);
    if invoice.is_credit_memo() {
        return Err(MappingError::Invalid {
            record,
            field: "CreditMemoRefNo",
            why: "this is a credit memo; it is sent as a credit note, not as an invoice".to_owned(),
        });
    }
    if invoice.lines.is_empty() {
        return Err(MappingError::Missing {
            record,
            field: "Lines",
            why: "an invoice without lines cannot be booked",
        });
    }
    let (currency, amounts) = document_amounts(
        invoice.currency,
        invoice.billing_currency,
        &invoice.lines,
        lookups,
        &record,
    )?;
    let total: Decimal = amounts.iter().sum();
    if total.is_sign_negative() && !total.is_zero() {
        return Err(MappingError::NegativeInvoice {
            record,
            invoice: invoice.invoice.clone(),
            total: Money::new(total, currency),
        });
    }

    // (project, line indexes) per document.
    let documents: Vec<(String, Vec<usize>)> = match &invoice.billing_group {
        Some(group) if !group.consolidated => {
            let mut by_project: Vec<(String, Vec<usize>)> = Vec::new();
            for (i, line) in invoice.lines.iter().enumerate() {
                let project = line.wbs1.clone().unwrap_or_else(|| invoice.wbs1.clone());
                match by_project.iter_mut().find(|(p, _)| *p == project) {
                    Some((_, idx)) => idx.push(i),
                    None => by_project.push((project, vec![i])),
                }
            }
            by_project
        }
        Some(group) => vec![(group.main_wbs1.clone(), (0..invoice.lines.len()).collect())],
        None => vec![(invoice.wbs1.clone(), (0..invoice.lines.len()).collect())],
    };
    let split = documents.len() > 1;

    documents
        .into_iter()
        .map(|(project, idx)| {
            let external_key = if split {
                format!("{base_key}.{project}")
            } else {
                base_key.clone()
            };
            let doc_record = RecordRef::new(ObjectType::Invoice, &external_key);
            let lines: Vec<ArInvoiceLine> = idx.iter().map(|i| invoice.lines[*i].clone()).collect();
            let doc_amounts: Vec<Decimal> = idx.iter().map(|i| amounts[*i]).collect();
            let doc_total: Decimal = doc_amounts.iter().sum();
            if doc_total.is_sign_negative() && !doc_total.is_zero() {
                return Err(MappingError::NegativeInvoice {
                    record: doc_record,
                    invoice: format!("{} (project {project})", invoice.invoice),
                    total: Money::new(doc_total, currency),
                });
            }
            let billing = lookups.projects.get(&project);
            let (invoice_to, ordered_by) = match billing {
                Some(b) if invoice.billing_group.is_some() => (
                    Party {
                        client_id: Some(b.billing_client_id.clone()),
                        name: b.billing_client_name.clone(),
                    },
                    Party {
                        client_id: b.primary_client_id.clone(),
                        name: b.primary_client_name.clone(),
                    },
                ),
                _ => (
                    Party {
                        client_id: Some(invoice.billing_client_id.clone()),
                        name: invoice.billing_client_name.clone(),
                    },
                    Party {
                        client_id: invoice.primary_client_id.clone(),
                        name: invoice.primary_client_name.clone(),
                    },
                ),
            };
            let mut entry = sales_invoice_header(
                invoice,
                &invoice_to,
                &ordered_by,
                currency,
                &external_key,
                lookups,
                &doc_record,
            )?;
            entry.lines = sales_invoice_lines(&lines, &doc_amounts, lookups, &doc_record)?;
            Ok(MappedSalesInvoice {
                external_key,
                project,
                invoice_to,
                ordered_by,
                entry,
            })
        })
        .collect()
}

/// Maps the header of a credit note ("Credit Note: Vantagepoint to Exact Online").
///
/// Rows: Credit Memo ref no → credit note number. VP's `CreditMemoRefNo` holds the number of the invoice
/// being credited, so sending it as the number would give the credit note its invoice's number in the
/// same journal: the credit note gets the memo's own number (its VP `Invoice`, sent as the `InvoiceNumber`
/// hint when numeric, and part of `YourRef`), and the credited invoice is kept as its reference (in
/// `Description`: `"… (credits invoice 000000010808)"`). Billing Client → Invoice to (`Customer`); Primary
/// Client → Ordered by (in `Description` when it is another client); Description → reference text
/// (`Description`); Transaction date → `EntryDate`; Currency Code → `Currency`; Status authorised, tax
/// exclusive → as for invoices. The due date is the entry date (nothing is due on a credit note).
pub fn credit_note_header(
    memo: &CreditMemo,
    currency: CurrencyCode,
    lookups: &Lookups,
    record: &RecordRef,
) -> Result<SalesEntry, MappingError> {
    let (invoice_to, ordered_by) = memo_parties(memo);
    let customer = lookup_id(
        &lookups.firms,
        record,
        "BillingClientID",
        "firms",
        &memo.billing_client_id,
    )?;
    check_currency(currency, lookups, record, "CurrencyCode")?;
    Ok(SalesEntry {
        entry_id: None,
        journal: lookups.journals.sales.clone(),
        customer,
        entry_date: memo.trans_date,
        due_date: Some(memo.trans_date),
        your_ref: Some(memo.external_key()),
        description: Some(entry_description(
            memo.description
                .clone()
                .unwrap_or_else(|| format!("Credit memo {}", memo.invoice)),
            Some(memo.credit_memo_ref_no.as_str()),
            &invoice_to,
            &ordered_by,
        )),
        currency: Some(currency),
        invoice_number: numeric_document_number(&memo.invoice),
        reporting_year: None,
        reporting_period: None,
        lines: Vec::new(),
        amount_fc: None,
        status: None,
        entry_type: None,
    })
}

/// Maps the lines of a credit note ("Credit Note: Vantagepoint to Exact Online Line Items").
///
/// Rows: Description → `Description` (after the invoice section, as item name); Invoice section → item
/// name; Quantity → `1`; Amount → unit price and line amount, negative amounts changed to positive: when
/// the memo's total is negative (VP's usual credit memo) every line is negated, so the note's total is never
/// negative; Account → `GLAccount`; Tax code → `VATCode`; Amount × effective rate → `VATAmountFC`.
/// Grouped by section and tax code like invoice lines.
pub fn credit_note_lines(
    memo: &CreditMemo,
    amounts: &[Decimal],
    lookups: &Lookups,
    record: &RecordRef,
) -> Result<Vec<SalesEntryLine>, MappingError> {
    let total: Decimal = amounts.iter().sum();
    let flip = total.is_sign_negative();
    let positive: Vec<Decimal> = amounts
        .iter()
        .map(|a| if flip { -*a } else { *a })
        .collect();
    grouped_lines(
        &memo.lines,
        &positive,
        LineText::VpDescription,
        lookups,
        record,
    )
}

/// Maps a posted VP credit memo to an Exact credit note (a sales entry with positive amounts here; see
/// [`MappedCreditNote::entry`] for the sign on the wire).
pub fn credit_note_to_exact(
    memo: &CreditMemo,
    lookups: &Lookups,
) -> Result<MappedCreditNote, MappingError> {
    let external_key = memo.external_key();
    let record = RecordRef::new(ObjectType::CreditMemo, &external_key);
    if memo.lines.is_empty() {
        return Err(MappingError::Missing {
            record,
            field: "Lines",
            why: "a credit memo without lines cannot be booked",
        });
    }
    let (currency, amounts) = document_amounts(
        memo.currency,
        memo.billing_currency,
        &memo.lines,
        lookups,
        &record,
    )?;
    let mut entry = credit_note_header(memo, currency, lookups, &record)?;
    entry.lines = credit_note_lines(memo, &amounts, lookups, &record)?;
    let (invoice_to, ordered_by) = memo_parties(memo);
    Ok(MappedCreditNote {
        external_key,
        credit_note_number: memo.invoice.clone(),
        original_invoice: memo.credit_memo_ref_no.clone(),
        invoice_to,
        ordered_by,
        entry,
    })
}

/// Invoice to (the billing client) and Ordered by (the primary client) of a credit memo.
fn memo_parties(memo: &CreditMemo) -> (Party, Party) {
    (
        Party {
            client_id: Some(memo.billing_client_id.clone()),
            name: memo.billing_client_name.clone(),
        },
        Party {
            client_id: memo.primary_client_id.clone(),
            name: memo.primary_client_name.clone(),
        },
    )
}
