//! Payments from Exact Online into Vantagepoint: tables "AP Payment" (header + APPChecks), the expense
//! (EM) payment, and "Invoice Payment: Exact Online to Vantagepoint" (CR control, master, detail), plus the
//! allocation of a payment across the lines it pays.

use chrono::NaiveDate;
use ledgerlink_domain::vantagepoint::{
    ApPayment, ApPaymentCheck, ApVoucher, CrControl, CrDetail, CrMaster, EmPayment, EmPaymentCheck,
    ExpenseReport,
};
use ledgerlink_domain::{CurrencyCode, Money, ObjectType};
use rust_decimal::{Decimal, RoundingStrategy};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::error::{MappingError, RecordRef};
use crate::lookups::{Lookups, PostingContext};
use crate::outcome::{Outcome, SkipReason};
use crate::purchases::{expense_total, voucher_currency, voucher_line_amounts};

/// A payment or receipt as read from Exact, reduced to what the VP postings need. The Exact adapter builds
/// it from the cash-flow records (`cashflow/Payments`, `cashflow/Receivables`, `sync/Cashflow/PaymentTerms`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentEvent {
    /// Exact's payment id ("Payment Id"): the `CheckNo` of AP/EM payments and part of the CR batch.
    pub payment_id: String,
    /// The payment date ("Date").
    pub date: NaiveDate,
    /// The amount paid, positive, in the currency of the document paid.
    pub amount: Money,
    /// Exact's bank account id ("Acount id"), looked up in the bank-code table.
    pub bank_account: String,
    /// Exact's payment reference ("Reference").
    pub reference: Option<String>,
}

/// Why a payment could not be allocated across the lines it pays.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AllocationError {
    #[error("there are no lines to allocate the payment to")]
    NoLines,
    #[error("nothing is outstanding")]
    NothingOutstanding,
    #[error("payment {payment} exceeds the outstanding {outstanding}")]
    Overpayment {
        payment: Decimal,
        outstanding: Decimal,
    },
    #[error("payment {0} is negative")]
    NegativePayment(Decimal),
    #[error("payment {0} has fractions of a cent")]
    FractionalCents(Decimal),
    #[error("the outstanding amounts are too large to sum")]
    OutOfRange,
}

const CENT: Decimal = Decimal::from_parts(1, 0, 0, false, 2);

/// Allocates `payment` across lines in proportion to what is open on each line.
///
/// Open amounts are signed: an ordinary line is positive, a discount or credit line negative, and a
/// negative line takes its (negative) share of the payment — paying 450 on lines of 1000 and −100 applies
/// 500 and −50. Each line gets `payment × open / total` rounded down to the cent (towards minus infinity);
/// the cents left over go one by one to the lines with the largest remainders (ties: the earlier line) —
/// the largest-remainder method. So the allocations are whole cents, sum *exactly* to the payment, and each
/// is within one cent of its exact share; as the payment is at most the total, no line gets more than its
/// open amount rounded up to the cent (a line owing 33.334 may get 33.34: paying 33.33 on all three lines
/// of a 100.000 invoice would leave a cent of a 100.00 payment unallocated). A zero line gets nothing.
///
/// Refused: no lines at all, a negative payment, a payment with fractions of a cent, a non-zero payment
/// when nothing (net) is open, a payment larger than the total open (an overpayment is never capped), and
/// amounts beyond what a `Decimal` can sum.
///
/// The spec's formula `Outstanding - (Payment × Outstanding / Total)` is the balance a line keeps *after*
/// the payment, not the amount applied; [`remaining_balances`] gives that, consistent with this allocation.
pub fn allocate(
    payment: Decimal,
    outstanding: &[Decimal],
) -> Result<Vec<Decimal>, AllocationError> {
    if outstanding.is_empty() {
        return Err(AllocationError::NoLines);
    }
    if payment.is_sign_negative() && !payment.is_zero() {
        return Err(AllocationError::NegativePayment(payment));
    }
    if payment.normalize().scale() > 2 {
        return Err(AllocationError::FractionalCents(payment));
    }
    let total = outstanding
        .iter()
        .try_fold(Decimal::ZERO, |sum, w| sum.checked_add(*w))
        .ok_or(AllocationError::OutOfRange)?;
    if payment.is_zero() {
        return Ok(vec![Decimal::ZERO; outstanding.len()]);
    }
    if total.is_zero() || total.is_sign_negative() {
        return Err(AllocationError::NothingOutstanding);
    }
    if payment > total {
        return Err(AllocationError::Overpayment {
            payment,
            outstanding: total,
        });
    }
    Ok(spread(payment, outstanding, total))
}

/// Spreads `amount` (whole cents) over `weights` (whose sum `total` is not zero) in proportion, in whole
/// cents summing exactly to `amount`: each gets its share rounded down, the cents left over go to the
/// largest remainders (ties: the earlier line).
fn spread(amount: Decimal, weights: &[Decimal], total: Decimal) -> Vec<Decimal> {
    // `amount × w` is exact unless it overflows; the fallback divides first.
    let exact: Vec<Decimal> = weights
        .iter()
        .map(|w| {
            amount
                .checked_mul(*w)
                .and_then(|p| p.checked_div(total))
                .unwrap_or_else(|| amount * (*w / total))
        })
        .collect();
    let mut allocated: Vec<Decimal> = exact.iter().map(|e| cents_floor(*e)).collect();
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by(|a, b| {
        (exact[*b] - allocated[*b])
            .cmp(&(exact[*a] - allocated[*a]))
            .then(a.cmp(b))
    });
    // Every remainder is in [0, 1 cent), so fewer cents are left than there are lines with a remainder, and
    // each of those lines takes one more cent without passing its exact share by a cent. The last digit of a
    // 28-digit division may leave the sum a cent off; the loops settle that too.
    let mut left = amount - allocated.iter().sum::<Decimal>();
    let rounds = 4 * order.len();
    for line in order.iter().cycle().take(rounds) {
        if !left.is_sign_positive() || left.is_zero() {
            break;
        }
        allocated[*line] += CENT;
        left -= CENT;
    }
    for line in order.iter().rev().cycle().take(rounds) {
        if !left.is_sign_negative() || left.is_zero() {
            break;
        }
        allocated[*line] -= CENT;
        left += CENT;
    }
    allocated
}

/// [`allocate`], except that a payment exceeding what is open by no more than a cent per line is applied in
/// full: VP rounds the tax of each invoice line, the ledger the tax of each grouped line, so paying the
/// ledger's total may leave VP's invoice a cent or two overpaid. That rounding difference lands on the
/// invoice (spread like the payment); a larger excess is an overpayment and refused.
pub fn allocate_rounding(
    payment: Decimal,
    open: &[Decimal],
) -> Result<Vec<Decimal>, AllocationError> {
    match allocate(payment, open) {
        Err(AllocationError::Overpayment { outstanding, .. })
            if payment - outstanding <= CENT * Decimal::from(open.len())
                && outstanding > Decimal::ZERO =>
        {
            Ok(spread(payment, open, outstanding))
        }
        other => other,
    }
}

/// `amount` rounded down to the cent, towards minus infinity.
fn cents_floor(amount: Decimal) -> Decimal {
    amount.round_dp_with_strategy(2, RoundingStrategy::ToNegativeInfinity)
}

/// The balance each line keeps after an allocation: `outstanding − allocated`.
/// Equals the spec's `Outstanding − Payment × Outstanding / Total` to within a cent, and the balances sum
/// exactly to `total − payment`. A line whose outstanding amount has fractions of a cent may keep a
/// balance slightly below zero (less than a cent: owing 33.334, allocated 33.34, keeps −0.006).
pub fn remaining_balances(outstanding: &[Decimal], allocated: &[Decimal]) -> Vec<Decimal> {
    outstanding
        .iter()
        .zip(allocated)
        .map(|(o, a)| *o - *a)
        .collect()
}

/// The spec's formula read literally, unrounded: `Outstanding − Payment × (Outstanding / Total)` — the
/// remaining balance of a line, exposed so tests and reports can compare it with the allocation.
pub fn spec_remaining_balance(outstanding: Decimal, payment: Decimal, total: Decimal) -> Decimal {
    if total.is_zero() {
        outstanding
    } else {
        outstanding - payment * (outstanding / total)
    }
}

fn allocation_error(record: &RecordRef, error: AllocationError) -> MappingError {
    match error {
        AllocationError::Overpayment {
            payment,
            outstanding,
        } => MappingError::Overpayment {
            record: record.clone(),
            payment,
            outstanding,
        },
        other => MappingError::Invalid {
            record: record.clone(),
            field: "Amount",
            why: other.to_string(),
        },
    }
}

/// The VP bank an Exact payment went through (bank-code lookup by the Exact bank journal), checked against
/// the payment's currency: payments are recorded "based on the bank code currency", and a payment in
/// another currency than its bank's is the mismatch the spec warns about (an overridden payment currency).
fn bank_code(
    lookups: &Lookups,
    record: &RecordRef,
    payment: &PaymentEvent,
) -> Result<String, MappingError> {
    let bank = lookups
        .bank_codes
        .get(&payment.bank_account)
        .ok_or_else(|| MappingError::NotInLookup {
            record: record.clone(),
            field: "BankCode",
            table: "bank codes",
            key: payment.bank_account.clone(),
        })?;
    match bank.currency {
        Some(currency) if currency != payment.amount.currency() => {
            Err(MappingError::CurrencyMismatch {
                record: record.clone(),
                field: "BankCode",
                expected: currency,
                found: payment.amount.currency(),
            })
        }
        _ => Ok(bank.vp_bank_code.clone()),
    }
}

fn same_currency(
    record: &RecordRef,
    field: &'static str,
    expected: CurrencyCode,
    payment: &PaymentEvent,
) -> Result<(), MappingError> {
    if payment.amount.currency() == expected {
        Ok(())
    } else {
        Err(MappingError::CurrencyMismatch {
            record: record.clone(),
            field,
            expected,
            found: payment.amount.currency(),
        })
    }
}

fn payment_ref(object: ObjectType, payment: &PaymentEvent) -> RecordRef {
    RecordRef::new(object, &payment.payment_id)
}

/// Maps the header of an AP payment ("AP Payment: Vantagepoint to Exact Online").
///
/// Rows: Period → the current VP active period (from VP's period search, `ctx`); Post Seq → `1`;
/// Transaction Type → `PP`; Payment Date → Exact date; Check Date → Exact date; Company Number → the VP
/// company of the AP voucher (the context's company when the voucher has none: single-company databases).
pub fn ap_payment_header(
    payment: &PaymentEvent,
    voucher: &ApVoucher,
    ctx: &PostingContext,
) -> ApPayment {
    ApPayment {
        period: ctx.active_period,
        post_seq: 1,
        user_name: None,
        trans_type: "PP".to_owned(),
        completed: false,
        payment_date: payment.date,
        check_date: payment.date,
        company: voucher
            .company
            .clone()
            .unwrap_or_else(|| ctx.company.clone()),
        checks: Vec::new(),
    }
}

/// Maps the `APPChecks` rows of an AP payment ("AP Payment: Vantagepoint to Exact Online APPChecks").
///
/// One row per voucher line, the payment allocated across lines in proportion to their gross amount
/// (net + tax) with [`allocate`]. Rows: Period → active period; Seq → `0`; Vendor Number → `Vendor`;
/// Voucher Number → `Voucher` (required); Invoice Number → `Invoice`; Invoice Date → `InvoiceDate`;
/// Liability Code → the voucher's liability code, else the tenant's AP general liability code; Project /
/// Phase / Task → `WBS1/2/3`; Account Code → `Account`; Organization → `Org`; Amount → the line's gross
/// amount; Payment amount → the allocated part of the Exact amount (`Payment`); Payment terms →
/// `PayTerms`; Bank Code → via the bank-code table; Check Date → the Exact payment date (the spec lists
/// both "Invoice Date" and "Check Date" as source; the payment's own date is the check date VP expects).
/// `CheckNo` is the Exact payment id. Amounts are in the voucher's payment currency (the currency it was
/// sent to Exact in), which must be the payment's and its bank's currency (spec: "based on the bank code
/// currency"; never override the payment currency).
pub fn ap_payment_checks(
    payment: &PaymentEvent,
    voucher: &ApVoucher,
    ctx: &PostingContext,
    lookups: &Lookups,
) -> Result<Vec<ApPaymentCheck>, MappingError> {
    let record = payment_ref(ObjectType::ApPayment, payment);
    let voucher_no = voucher
        .voucher
        .clone()
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| MappingError::Missing {
            record: record.clone(),
            field: "Voucher",
            why: "the paid AP voucher has no voucher number",
        })?;
    same_currency(&record, "Currency", voucher_currency(voucher), payment)?;
    let bank = bank_code(lookups, &record, payment)?;
    let gross: Vec<Decimal> = voucher
        .lines
        .iter()
        .map(|l| voucher_line_amounts(voucher, l).map(|(net, tax)| net + tax))
        .collect::<Result<_, _>>()?;
    let allocated =
        allocate(payment.amount.amount(), &gross).map_err(|e| allocation_error(&record, e))?;
    let liab = voucher
        .liab_code
        .clone()
        .unwrap_or_else(|| lookups.settings.ap_liability_code.clone());
    Ok(voucher
        .lines
        .iter()
        .zip(gross.iter().zip(allocated))
        .enumerate()
        .map(|(i, (line, (amount, paid)))| ApPaymentCheck {
            period: ctx.active_period,
            seq: 0,
            vendor: voucher.vendor.clone(),
            voucher: voucher_no.clone(),
            invoice: voucher.invoice.clone(),
            invoice_date: voucher.invoice_date,
            liab_code: liab.clone(),
            line: u32::try_from(i + 1).unwrap_or(u32::MAX),
            wbs1: line.wbs1.clone(),
            wbs2: line.wbs2.clone(),
            wbs3: line.wbs3.clone(),
            account: line.account.clone(),
            org: line.org.clone(),
            amount: *amount,
            discount: Decimal::ZERO,
            prev_pay: Decimal::ZERO,
            payment: paid,
            pay_terms: voucher.pay_terms.clone(),
            bank_code: bank.clone(),
            check_no: Some(payment.payment_id.clone()),
            check_date: payment.date,
        })
        .collect())
}

/// Maps an Exact supplier payment of an AP voucher to a VP `PP` posting (header + `APPChecks`).
pub fn ap_payment_to_vp(
    payment: &PaymentEvent,
    voucher: &ApVoucher,
    ctx: &PostingContext,
    lookups: &Lookups,
) -> Result<ApPayment, MappingError> {
    let mut posting = ap_payment_header(payment, voucher, ctx);
    posting.checks = ap_payment_checks(payment, voucher, ctx, lookups)?;
    Ok(posting)
}

/// Maps an Exact payment of an expense report to a VP `EP` posting — only once the report is fully paid.
///
/// `already_paid` is what earlier Exact payments of the same report paid (the flow's state). While
/// `already_paid + payment` is less than the report total (in the payment currency) the outcome is
/// [`SkipReason::NotFullyPaid`]: partial payments do not sync back, the report is marked paid when the last
/// payment arrives, for its full amount. Rows as for AP payments: period = active period, PostSeq `1`,
/// TransType `EP`, payment/check date = Exact date, company = the report's (else the context's); one
/// `EXCHECKS` row (`DetailType` `E`) with the employee, voucher, bank code (bank table), amount and check
/// amount = the report total, check number = the Exact payment id.
pub fn em_payment_to_vp(
    payment: &PaymentEvent,
    report: &ExpenseReport,
    already_paid: Decimal,
    ctx: &PostingContext,
    lookups: &Lookups,
) -> Result<Outcome<EmPayment>, MappingError> {
    let record = payment_ref(ObjectType::ExpensePayment, payment);
    same_currency(&record, "Currency", report.payment_currency, payment)?;
    let total = expense_total(report)?;
    let paid = already_paid + payment.amount.amount();
    if paid > total {
        return Err(MappingError::Overpayment {
            record,
            payment: paid,
            outstanding: total,
        });
    }
    if paid < total {
        return Ok(Outcome::Skipped(SkipReason::NotFullyPaid { paid, total }));
    }
    let bank = bank_code(lookups, &record, payment)?;
    Ok(Outcome::Mapped(EmPayment {
        trans_type: "EP".to_owned(),
        period: ctx.active_period,
        post_seq: 1,
        payment_date: payment.date,
        check_date: payment.date,
        company: report
            .company
            .clone()
            .unwrap_or_else(|| ctx.company.clone()),
        checks: vec![EmPaymentCheck {
            detail_type: "E".to_owned(),
            period: ctx.active_period,
            seq: 1,
            employee: report.employee.clone(),
            voucher: report.voucher.clone(),
            bank_code: bank,
            org: report.lines.iter().find_map(|l| l.org.clone()),
            amount: total,
            check_amount: total,
            check_date: payment.date,
            report_date: report.report_date,
            check_no: Some(payment.payment_id.clone()),
        }],
    }))
}

/// What is open on a VP invoice, from the previous invoice search in VP (`PSALedger/IN`) and VP's AR
/// balance (`ARReview/ARBalance`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceOutstanding {
    pub invoice: String,
    /// The invoice's billing currency: the receipt is recorded in it (spec, Cash Receipts: "the cash
    /// receipt payment is recorded in Vantagepoint using the billing currency of the invoice").
    pub currency: CurrencyCode,
    /// The VP AR account ("Accts receivable", `CFGAutoPosting.AcctsReceivable`).
    pub ar_account: String,
    /// The invoice's lines with their original (signed) amounts in the billing currency: the weights
    /// what is open is spread by.
    pub lines: Vec<OutstandingLine>,
    /// What VP says is still open on the invoice (tax included), in the billing currency; `None` when VP
    /// lists no balance, and then the lines' own amounts are what is open.
    pub open_balance: Option<Decimal>,
}

/// One invoice line and its original amount (signed: a discount or credit line is negative).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutstandingLine {
    pub wbs1: Option<String>,
    pub wbs2: Option<String>,
    pub wbs3: Option<String>,
    pub org: Option<String>,
    pub outstanding: Decimal,
}

/// What is open on each line: VP's open balance (tax included) spread over the lines in proportion to their
/// original amounts (whole cents summing exactly to the balance, as [`allocate`] rounds), or the lines' own
/// amounts when VP gives no balance. A second partial payment is thereby allocated against what the first
/// one left.
pub fn open_per_line(invoice: &InvoiceOutstanding) -> Result<Vec<Decimal>, AllocationError> {
    let original: Vec<Decimal> = invoice.lines.iter().map(|l| l.outstanding).collect();
    if original.is_empty() {
        return Err(AllocationError::NoLines);
    }
    let total = original
        .iter()
        .try_fold(Decimal::ZERO, |sum, w| sum.checked_add(*w))
        .ok_or(AllocationError::OutOfRange)?;
    match invoice.open_balance {
        None => Ok(original),
        Some(balance) if balance.is_sign_negative() || balance.is_zero() => {
            Ok(vec![Decimal::ZERO; original.len()])
        }
        Some(_) if total.is_zero() || total.is_sign_negative() => {
            Err(AllocationError::NothingOutstanding)
        }
        Some(balance) => {
            let balance = balance.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
            Ok(spread(balance, &original, total))
        }
    }
}

/// The CR batch of an Exact payment: `"Exact" + payment id`.
pub fn cr_batch(payment: &PaymentEvent) -> String {
    format!("Exact{}", payment.payment_id)
}

/// The CR `RefNo`: Exact's reference, or the payment id when Exact has none (`RefNo` is VP's master key).
pub fn cr_ref_no(payment: &PaymentEvent) -> String {
    payment
        .reference
        .clone()
        .filter(|r| !r.trim().is_empty())
        .unwrap_or_else(|| payment.payment_id.clone())
}

/// The detail `PKey` ("Unionpoint generated uuid"), derived deterministically from the batch, the
/// reference, the invoice and the line number, so a retried mapping produces the same keys: a name-based
/// UUID (SHA-256 of those inputs, RFC 9562 version 8 layout), written as 32 hex digits.
pub fn cr_detail_pkey(batch: &str, ref_no: &str, invoice: &str, seq: u32) -> String {
    let digest =
        Sha256::digest(format!("ledgerlink-cr|{batch}|{ref_no}|{invoice}|{seq}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    bytes[6] = (bytes[6] & 0x0f) | 0x80;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    Uuid::from_bytes(bytes).simple().to_string()
}

/// Maps the CR control ("Invoice Payment: Exact Online to Vantagepoint").
///
/// Rows: Batch → `"Exact" + payment id`; Ref no → Reference (kept on the master); Description →
/// `"Payment invoice " + invoice number`; Recurring → No; End Date → Exact date; Total → Exact amount;
/// Default Bank → Exact account id via the bank-code table; Selected → No; Posted → No; Creator →
/// `"integration"`; Period → current VP active period; Company → the context's company.
pub fn cr_control(
    payment: &PaymentEvent,
    invoice: &InvoiceOutstanding,
    ctx: &PostingContext,
    lookups: &Lookups,
) -> Result<CrControl, MappingError> {
    let record = payment_ref(ObjectType::CashReceipt, payment);
    Ok(CrControl {
        batch: cr_batch(payment),
        description: Some(format!("Payment invoice {}", invoice.invoice)),
        recurring: false,
        end_date: payment.date,
        total: payment.amount.amount(),
        default_bank: bank_code(lookups, &record, payment)?,
        selected: false,
        posted: false,
        creator: "integration".to_owned(),
        period: ctx.active_period,
        company: Some(ctx.company.clone()),
        masters: Vec::new(),
        details: Vec::new(),
    })
}

/// Maps the CR master ("... CR Master Fields").
///
/// Rows: Batch → `"Exact" + payment id`; Ref no → Reference; Trans Date → Exact date; Trans Comment →
/// Reference; Posted → No; Bank Code → Exact account id via the bank table (whose currency must be the
/// receipt's); Seq → `1`; Currency Code → the invoice's *billing* currency, which the Exact payment is in
/// (the invoice went to Exact in it); Currency Exchange Override Method → No; Currency Exchange Override
/// Rate → `0`; Status → `A`.
pub fn cr_master(
    payment: &PaymentEvent,
    invoice: &InvoiceOutstanding,
    lookups: &Lookups,
) -> Result<CrMaster, MappingError> {
    let record = payment_ref(ObjectType::CashReceipt, payment);
    same_currency(&record, "CurrencyCode", invoice.currency, payment)?;
    Ok(CrMaster {
        batch: cr_batch(payment),
        ref_no: cr_ref_no(payment),
        trans_date: payment.date,
        trans_comment: payment.reference.clone(),
        posted: false,
        bank_code: bank_code(lookups, &record, payment)?,
        seq: 1,
        currency: payment.amount.currency(),
        currency_exchange_override_method: false,
        currency_exchange_override_rate: Decimal::ZERO,
        status: "A".to_owned(),
    })
}

/// Maps the CR details ("... CR Detail"): one per invoice line the payment applies something to.
///
/// Rows: Batch → `"Exact" + payment id`; Ref no → Reference; P Key → [`cr_detail_pkey`]; Description →
/// invoice number; WBS 1/2/3, Org → from the invoice search; Account → the AR account; Amount → the
/// weighted payment: the payment allocated across the lines in proportion to what is still *open* on
/// each ([`open_per_line`] from VP's balance, then [`allocate_rounding`]: whole cents summing exactly to the
/// payment; a discount line takes its negative share). A payment larger than what is open is refused
/// ([`MappingError::Overpayment`]), never capped — except a tax-rounding difference of at most a cent per
/// line, which is applied to the invoice. Interest → No; Tax Basis → `0`; Currency Exchange
/// Override Rate → `0`; Invoice → invoice number.
pub fn cr_details(
    payment: &PaymentEvent,
    invoice: &InvoiceOutstanding,
) -> Result<Vec<CrDetail>, MappingError> {
    let record = payment_ref(ObjectType::CashReceipt, payment);
    same_currency(&record, "CurrencyCode", invoice.currency, payment)?;
    let open = open_per_line(invoice).map_err(|e| allocation_error(&record, e))?;
    let allocated = allocate_rounding(payment.amount.amount(), &open)
        .map_err(|e| allocation_error(&record, e))?;
    let batch = cr_batch(payment);
    let ref_no = cr_ref_no(payment);
    Ok(invoice
        .lines
        .iter()
        .zip(allocated)
        .filter(|(_, amount)| !amount.is_zero())
        .enumerate()
        .map(|(i, (line, amount))| {
            let seq = u32::try_from(i + 1).unwrap_or(u32::MAX);
            CrDetail {
                batch: batch.clone(),
                ref_no: ref_no.clone(),
                pkey: cr_detail_pkey(&batch, &ref_no, &invoice.invoice, seq),
                seq,
                description: Some(invoice.invoice.clone()),
                wbs1: line.wbs1.clone(),
                wbs2: line.wbs2.clone(),
                wbs3: line.wbs3.clone(),
                org: line.org.clone(),
                account: invoice.ar_account.clone(),
                amount,
                interest: false,
                tax_basis: Decimal::ZERO,
                currency_exchange_override_rate: Decimal::ZERO,
                invoice: Some(invoice.invoice.clone()),
            }
        })
        .collect())
}

/// Maps an Exact receipt of a VP invoice to a VP cash-receipt batch (control + master + details), whose
/// total equals the sum of its details, as VP requires.
pub fn cash_receipt_to_vp(
    payment: &PaymentEvent,
    invoice: &InvoiceOutstanding,
    ctx: &PostingContext,
    lookups: &Lookups,
) -> Result<CrControl, MappingError> {
    let mut control = cr_control(payment, invoice, ctx, lookups)?;
    control.masters = vec![cr_master(payment, invoice, lookups)?];
    control.details = cr_details(payment, invoice)?;
    Ok(control)
}
