//! Tables "AP Voucher: Vantagepoint AP Voucher to Exact Online Bill" (+ Line Items) and "Expenses:
//! Vantagepoint to Exact Online" (+ Line Items).
//!
//! Both become Exact *purchase entries* (`purchaseentry/PurchaseEntries`). The spec's Xero-style targets:
//! "Status authorised" = a purchase entry is a posted booking as soon as it is created; "Line Amount Type:
//! Exclusive if a tax code is present, no tax if not" = line `AmountFC` excludes VAT and carries the VAT
//! code and amount, and a line without tax code carries the tenant's no-VAT code and a zero VAT amount
//! (never Exact's default VAT code of the G/L account; without the setting such a line is refused).
//!
//! Currencies (spec, Multicurrency): vouchers and expense reports go out in their *payment* currency, the
//! currency Exact pays them in; a line entered in another currency takes its VP amount in the payment
//! currency (`PaymentAmount`).

use ledgerlink_domain::exact::{PurchaseEntry, PurchaseEntryLine};
use ledgerlink_domain::vantagepoint::{ApVoucher, ApVoucherLine, ExpenseLine, ExpenseReport};
use ledgerlink_domain::{CurrencyCode, ObjectType, round_money};
use rust_decimal::Decimal;

use crate::common::{check_currency, lookup_id, resolve_tax};
use crate::error::{MappingError, RecordRef};
use crate::lookups::Lookups;

/// One Exact purchase entry made from a VP voucher or expense report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappedPurchase {
    /// The ledger document key, also sent as `YourRef`.
    pub external_key: String,
    pub entry: PurchaseEntry,
}

fn voucher_ref(voucher: &ApVoucher) -> RecordRef {
    let number = voucher.voucher.as_deref().unwrap_or("(no voucher number)");
    RecordRef::new(
        ObjectType::ApVoucher,
        format!("{}.{}", voucher.vendor, number),
    )
}

/// Maps the header of an AP voucher ("AP Voucher: Vantagepoint AP Voucher to Exact Online Bill").
///
/// Rows: Vendor Name → supplier (`Supplier` = the vendor's Exact account, via the vendor lookup table);
/// Voucher number → reference (`YourRef`, with the vendor: [`voucher_reference`]) — required: a voucher
/// without a number is refused with a clear error, as the integration cannot work without it; Invoice Date → `EntryDate`; Currency Code →
/// `Currency`: in a multicurrency database vouchers go out in their *payment* currency (spec, Multicurrency:
/// "AP Vouchers (Payment Currency)"), which is the currency Exact pays them in; Status authorised → see
/// module docs; End Date → `DueDate` via the due-date rule (the tenant's mapping value); Line Amount Type →
/// see module docs. The vendor's invoice number goes to `Description` (`"Invoice {number}"`) when there is
/// one.
pub fn ap_voucher_header(
    voucher: &ApVoucher,
    lookups: &Lookups,
) -> Result<PurchaseEntry, MappingError> {
    let record = voucher_ref(voucher);
    let number = voucher.voucher.as_deref().filter(|v| !v.trim().is_empty()).ok_or_else(|| MappingError::Missing {
        record: record.clone(),
        field: "Voucher",
        why: "the voucher number is the reference sent to Exact Online; make voucher numbers mandatory in \
              Vantagepoint (Settings > Cash Management > Accounts Payable)",
    })?;
    let supplier = lookup_id(
        &lookups.vendors,
        &record,
        "Vendor",
        "vendors",
        &voucher.vendor,
    )?;
    let currency = voucher_currency(voucher);
    check_currency(currency, lookups, &record, "PaymentCurrencyCode")?;
    Ok(PurchaseEntry {
        entry_id: None,
        journal: lookups.journals.purchase.clone(),
        supplier,
        entry_date: voucher.invoice_date,
        due_date: Some(lookups.due_date(&voucher.vendor, voucher.invoice_date, voucher.due_date)),
        your_ref: Some(voucher_reference(&voucher.vendor, number)),
        description: voucher
            .invoice
            .as_ref()
            .map(|i| format!("Invoice {i}"))
            .or_else(|| voucher.description.clone()),
        currency: Some(currency),
        lines: Vec::new(),
        amount_fc: None,
        status: None,
        entry_type: None,
    })
}

/// The longest `YourRef` Ledgerlink sends: Exact documents no length for it, and its UI shows 30 characters
/// of "Your ref."; staying within them keeps the reference searchable and visible in full.
pub const YOUR_REF_MAX: usize = 30;

/// The ledger reference (`YourRef`) of an AP voucher: its voucher number and vendor, `"{voucher}/{vendor}"`.
/// Vantagepoint keys vouchers by vendor *and* voucher number, so two vendors' voucher 1001 are two documents
/// and two references. When that does not fit in [`YOUR_REF_MAX`] the vendor is replaced by 8 hex digits of
/// its SHA-256, and a voucher number too long even for that by 30 hex digits of the pair's.
pub fn voucher_reference(vendor: &str, number: &str) -> String {
    use sha2::{Digest, Sha256};
    let (vendor, number) = (vendor.trim(), number.trim());
    let hex = |text: &str, n: usize| -> String {
        Sha256::digest(text.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
            .chars()
            .take(n)
            .collect()
    };
    let full = format!("{number}/{vendor}");
    if full.chars().count() <= YOUR_REF_MAX {
        return full;
    }
    let short = format!("{number}/{}", hex(vendor, 8));
    if short.chars().count() <= YOUR_REF_MAX {
        return short;
    }
    hex(&full, YOUR_REF_MAX)
}

/// The currency a voucher is sent and paid in: its payment currency, else the currency it was entered in.
pub fn voucher_currency(voucher: &ApVoucher) -> CurrencyCode {
    voucher.payment_currency.unwrap_or(voucher.currency)
}

/// A line's net amount and tax in the document's payment currency. Lines already in it use VP's net and
/// tax; other lines take VP's gross amount in the payment currency (`PaymentAmount`) and split it in the
/// line's own net/gross proportion, the tax absorbing the rounding so net + tax = the payment amount.
fn in_payment_currency(
    net: Decimal,
    tax: Decimal,
    payment_amount: Option<Decimal>,
    other_currency: bool,
    record: &RecordRef,
) -> Result<(Decimal, Decimal), MappingError> {
    if !other_currency {
        return Ok((net, tax));
    }
    let gross = payment_amount.ok_or_else(|| MappingError::Missing {
        record: record.clone(),
        field: "PaymentAmount",
        why: "a line entered in another currency than the payment currency needs its amount in the payment currency",
    })?;
    let source_gross = net + tax;
    let paid_net = if source_gross.is_zero() {
        gross
    } else {
        round_money(gross * net / source_gross)
    };
    Ok((paid_net, gross - paid_net))
}

/// A voucher line's net and tax in the voucher's payment currency.
pub fn voucher_line_amounts(
    voucher: &ApVoucher,
    line: &ApVoucherLine,
) -> Result<(Decimal, Decimal), MappingError> {
    in_payment_currency(
        line.net_amount,
        line.total_tax,
        line.payment_amount,
        voucher_currency(voucher) != voucher.currency,
        &voucher_ref(voucher),
    )
}

/// Maps the lines of an AP voucher ("... Bill Line Items").
///
/// Rows: Quantity → `1`; Net Amount → line amount (`AmountFC`, VAT excluded, in the payment currency);
/// Account → account code (`GLAccount` via the G/L lookup table); Tax Code → tax rate name (`VATCode` via
/// the tax lookup table; compound taxes refused; no code → the tenant's no-VAT code); Total Tax → tax
/// amount (`VATAmountFC`, VP's own amount, in the payment currency).
pub fn ap_voucher_lines(
    voucher: &ApVoucher,
    lookups: &Lookups,
    record: &RecordRef,
) -> Result<Vec<PurchaseEntryLine>, MappingError> {
    voucher
        .lines
        .iter()
        .map(|line| {
            let (net, tax) = voucher_line_amounts(voucher, line)?;
            purchase_line(
                &line.account,
                line.tax_code.as_deref(),
                net,
                tax,
                line.description.clone(),
                lookups,
                record,
            )
        })
        .collect()
}

fn purchase_line(
    account: &str,
    tax_code: Option<&str>,
    net: Decimal,
    tax_amount: Decimal,
    description: Option<String>,
    lookups: &Lookups,
    record: &RecordRef,
) -> Result<PurchaseEntryLine, MappingError> {
    let gl_account = lookup_id(
        &lookups.gl_accounts,
        record,
        "Account",
        "G/L accounts",
        account,
    )?;
    let codes: Vec<&str> = tax_code.into_iter().collect();
    if codes.is_empty() && !tax_amount.is_zero() {
        return Err(MappingError::Invalid {
            record: record.clone(),
            field: "TaxCode",
            why: format!(
                "line on account {account} has a tax amount of {tax_amount} but no tax code"
            ),
        });
    }
    let tax = resolve_tax(&codes, lookups, record, "TaxCode")?;
    Ok(PurchaseEntryLine {
        id: None,
        gl_account,
        amount_fc: net,
        vat_code: tax.exact_code,
        vat_amount_fc: Some(if codes.is_empty() {
            Decimal::ZERO
        } else {
            tax_amount
        }),
        description,
        quantity: Some(Decimal::ONE),
    })
}

/// Maps a posted AP voucher to an Exact purchase entry (header + lines).
pub fn ap_voucher_to_exact(
    voucher: &ApVoucher,
    lookups: &Lookups,
) -> Result<MappedPurchase, MappingError> {
    let record = voucher_ref(voucher);
    let mut entry = ap_voucher_header(voucher, lookups)?;
    if voucher.lines.is_empty() {
        return Err(MappingError::Missing {
            record,
            field: "Lines",
            why: "a voucher without lines cannot be booked",
        });
    }
    entry.lines = ap_voucher_lines(voucher, lookups, &record)?;
    Ok(MappedPurchase {
        external_key: record.key.clone(),
        entry,
    })
}

fn expense_ref(report: &ExpenseReport) -> RecordRef {
    RecordRef::new(
        ObjectType::ExpenseReport,
        format!("{}.{}", report.employee, report.ref_no),
    )
}

/// Maps the header of an expense report ("Expenses: Vantagepoint to Exact Online").
///
/// Rows: Employee Name → contact (`Supplier` = the employee's Exact account, via the employee lookup
/// table); Report name + Refno → reference (`YourRef`, `"{report name} {ref no}"`); Report date →
/// `EntryDate`; Payment Currency Code → `Currency` (expense reports go out in the payment currency);
/// Status authorised, Line Amount Type → see module docs; End Date → `DueDate` via the due-date rule.
pub fn expense_header(
    report: &ExpenseReport,
    lookups: &Lookups,
) -> Result<PurchaseEntry, MappingError> {
    let record = expense_ref(report);
    let supplier = lookup_id(
        &lookups.employees,
        &record,
        "Employee",
        "employees",
        &report.employee,
    )?;
    check_currency(
        report.payment_currency,
        lookups,
        &record,
        "PaymentCurrencyCode",
    )?;
    let reference = match report
        .report_name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
    {
        Some(name) => format!("{name} {}", report.ref_no),
        None => report.ref_no.clone(),
    };
    Ok(PurchaseEntry {
        entry_id: None,
        journal: lookups.journals.purchase.clone(),
        supplier,
        entry_date: report.report_date,
        due_date: Some(lookups.due_date(&report.employee, report.report_date, report.due_date)),
        your_ref: Some(reference),
        description: report.employee_name.clone(),
        currency: Some(report.payment_currency),
        lines: Vec::new(),
        amount_fc: None,
        status: None,
        entry_type: None,
    })
}

/// An expense line's net and tax in the report's payment currency (lines without a currency are in it).
fn expense_line_amounts(
    line: &ExpenseLine,
    payment_currency: CurrencyCode,
    record: &RecordRef,
) -> Result<(Decimal, Decimal), MappingError> {
    in_payment_currency(
        line.net_amount,
        line.total_tax,
        line.payment_amount,
        line.currency.is_some_and(|c| c != payment_currency),
        record,
    )
}

/// Maps the lines of an expense report ("Expenses ... Line Items").
///
/// Rows: Quantity → `1`; Net Amount → line amount (in the payment currency, see `in_payment_currency`);
/// Account → `GLAccount`; Tax Code → `VATCode`; Total Tax → `VATAmountFC`.
pub fn expense_lines(
    report: &ExpenseReport,
    lookups: &Lookups,
) -> Result<Vec<PurchaseEntryLine>, MappingError> {
    let record = expense_ref(report);
    report
        .lines
        .iter()
        .map(|line| {
            let (net, tax) = expense_line_amounts(line, report.payment_currency, &record)?;
            purchase_line(
                &line.account,
                line.tax_code.as_deref(),
                net,
                tax,
                line.description.clone(),
                lookups,
                &record,
            )
        })
        .collect()
}

/// Maps a posted expense report to an Exact purchase entry on the employee's supplier account.
pub fn expense_report_to_exact(
    report: &ExpenseReport,
    lookups: &Lookups,
) -> Result<MappedPurchase, MappingError> {
    let record = expense_ref(report);
    let mut entry = expense_header(report, lookups)?;
    if report.lines.is_empty() {
        return Err(MappingError::Missing {
            record,
            field: "Lines",
            why: "an expense report without lines cannot be booked",
        });
    }
    entry.lines = expense_lines(report, lookups)?;
    Ok(MappedPurchase {
        external_key: record.key.clone(),
        entry,
    })
}

/// The total of an expense report in its payment currency (net + tax of every line).
pub fn expense_total(report: &ExpenseReport) -> Result<Decimal, MappingError> {
    let record = expense_ref(report);
    report.lines.iter().try_fold(Decimal::ZERO, |sum, line| {
        let (net, tax) = expense_line_amounts(line, report.payment_currency, &record)?;
        Ok(sum + net + tax)
    })
}
