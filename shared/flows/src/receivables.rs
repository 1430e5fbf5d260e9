//! What a customer receipt is allocated against: the posted VP invoice's lines in the invoice's *billing*
//! currency (spec, Cash Receipts: "the cash receipt payment is recorded in Vantagepoint using the billing
//! currency of the invoice") and what VP says is still open on it (`ARReview/ARBalance`), so a second
//! partial payment, a discount line or an overpayment give the right amounts (the mapping crate's
//! [`ledgerlink_mapping::payments::cr_details`] does the arithmetic).

use ledgerlink_domain::CurrencyCode;
use ledgerlink_domain::vantagepoint::LedgerRow;
use ledgerlink_mapping::payments::{InvoiceOutstanding, OutstandingLine};
use ledgerlink_ports::psa::PsaError;
use rust_decimal::Decimal;

use crate::context::TenantWork;

/// The invoice's billing currency: in a multicurrency database the billing currency of its project (what
/// the invoice was sent to the ledger in), else its transaction currency. `None` when VP names neither.
async fn billing_currency(
    work: &TenantWork,
    rows: &[LedgerRow],
) -> Result<Option<CurrencyCode>, PsaError> {
    let transaction = rows.iter().find_map(|r| r.transaction_currency);
    if !work.settings.mapping.multicurrency {
        return Ok(transaction);
    }
    let project = rows
        .iter()
        .find_map(|r| r.wbs1.clone().filter(|w| !w.trim().is_empty()));
    let billing = match project {
        Some(wbs1) => work
            .conn
            .psa
            .project(&wbs1)
            .await?
            .and_then(|p| p.billing_currency),
        None => None,
    };
    Ok(billing.or(transaction))
}

/// The lines of a posted invoice with their original amounts in `currency`, in the invoice's natural sign
/// (an ordinary line positive, a discount line negative). VP's revenue rows are ledger credits; should a
/// database report them the other way round, the signs are turned so the invoice total is positive.
fn lines(rows: &[LedgerRow], in_billing: bool) -> Vec<OutstandingLine> {
    let mut out: Vec<OutstandingLine> = rows
        .iter()
        .map(|r| {
            let amount = match (in_billing, r.amount_billing_currency) {
                (true, Some(billing)) => billing,
                _ => r.transaction_amount.unwrap_or(r.amount),
            };
            OutstandingLine {
                wbs1: r.wbs1.clone(),
                wbs2: r.wbs2.clone(),
                wbs3: r.wbs3.clone(),
                org: r.org.clone(),
                outstanding: -amount,
            }
        })
        .collect();
    let total: Decimal = out.iter().map(|l| l.outstanding).sum();
    if total.is_sign_negative() && !total.is_zero() {
        for line in &mut out {
            line.outstanding = -line.outstanding;
        }
    }
    out
}

/// The receipt being recorded: its VP batch and amount. When an earlier attempt already posted the batch
/// (its answer was lost), VP's balance no longer includes it: it is added back, so a retry allocates the
/// same amounts as the first attempt instead of refusing the receipt as an overpayment of itself.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OwnReceipt<'a> {
    pub batch: &'a str,
    pub amount: Decimal,
}

/// What is open on invoice `invoice` (its billing rows `rows`), for a receipt. `ledger_total` is the
/// invoice's total (tax included) as the ledger knows it, what is open when VP lists no balance.
/// `Ok(None)` when no currency can be determined.
pub(crate) async fn outstanding(
    work: &TenantWork,
    invoice: &str,
    rows: &[LedgerRow],
    ar_account: String,
    ledger_total: Option<Decimal>,
    own: OwnReceipt<'_>,
) -> Result<Option<InvoiceOutstanding>, PsaError> {
    let Some(currency) = billing_currency(work, rows).await? else {
        return Ok(None);
    };
    let transaction = rows.iter().find_map(|r| r.transaction_currency);
    let in_billing = work.settings.mapping.multicurrency && transaction != Some(currency);
    let open_balance = match work.conn.psa.invoice_balance(invoice).await? {
        Some(balance) => {
            let posted_before = work
                .conn
                .psa
                .find_cash_receipt(own.batch)
                .await?
                .is_some_and(|state| state.posted);
            Some(if posted_before {
                balance + own.amount
            } else {
                balance
            })
        }
        None => ledger_total,
    };
    Ok(Some(InvoiceOutstanding {
        invoice: invoice.to_owned(),
        currency,
        ar_account,
        lines: lines(rows, in_billing),
        open_balance,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(amount: &str, billing: Option<&str>) -> LedgerRow {
        LedgerRow {
            amount: amount.parse().unwrap_or_default(),
            transaction_amount: Some(amount.parse().unwrap_or_default()),
            amount_billing_currency: billing.and_then(|b| b.parse().ok()),
            ..LedgerRow::default()
        }
    }

    #[test]
    fn ledger_credits_become_positive_lines_and_a_discount_a_negative_one() {
        let got = lines(&[row("-1000.00", None), row("100.00", None)], false);
        let amounts: Vec<Decimal> = got.iter().map(|l| l.outstanding).collect();
        assert_eq!(
            amounts,
            vec![Decimal::new(100000, 2), Decimal::new(-10000, 2)]
        );
    }

    #[test]
    fn billing_amounts_are_used_for_an_invoice_billed_in_another_currency() {
        let got = lines(&[row("-1000.00", Some("-1080.00"))], true);
        assert_eq!(got[0].outstanding, Decimal::new(108000, 2));
    }
}
