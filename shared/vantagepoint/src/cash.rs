//! Money into Vantagepoint: cash-receipt batches (`POST /DataEntry/crControl` + `PUT /DataEntry/PostTransFile`,
//! made idempotent on the batch id), AP payments (`POST /vision/ledger/PP`) and employee expense payments
//! (`POST /vision/ledger/EP`).
//!
//! VP has no idempotency keys. The batch id (= the payment id from the ledger, ≤ 32 characters) is the key:
//! before creating, the batch is looked up (posted: `PSALedger/CR` by `Batch`; unposted:
//! `DataEntry/crControl/{Batch}`), and an answer lost in transit (`OutcomeUnknown`) is resolved by the same
//! lookup, so a retried receipt never becomes two batches.

use ledgerlink_domain::period::Period;
use ledgerlink_domain::vantagepoint::{ApPayment, CrControl, EmPayment};
use ledgerlink_ports::psa::{CashReceiptPosting, CashReceiptState, PaymentPosting};
use reqwest::Method;
use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::client::{Idempotency, VantagepointClient};
use crate::decode;
use crate::error::VpError;
use crate::http::Root;
use crate::posting::{PostingReport, parse_posting_report};
use crate::query::FilterHash;

/// How many times an unknown outcome is resolved by lookup and retried before giving up.
const MAX_RESOLVE_ROUNDS: u32 = 3;

fn period_and_seq(row: &Value) -> (Option<Period>, Option<u32>) {
    let period = row
        .get("Period")
        .and_then(decode::integer)
        .and_then(|p| Period::from_yyyypp(p).ok());
    let seq = row
        .get("PostSeq")
        .and_then(decode::integer)
        .and_then(|s| u32::try_from(s).ok())
        .filter(|s| *s > 0);
    (period, seq)
}

impl VantagepointClient {
    /// The cash-receipt batch `batch`, posted or not; `None` when VP has never seen it.
    pub async fn find_cash_receipt(
        &self,
        batch: &str,
    ) -> Result<Option<CashReceiptState>, VpError> {
        let posted = self
            .ledger_rows("CR", FilterHash::new().eq("Batch", batch))
            .await?;
        if let Some(first) = posted.first() {
            return Ok(Some(CashReceiptState {
                batch: batch.to_owned(),
                posted: true,
                period: first.row.period,
                post_seq: Some(first.row.post_seq).filter(|s| *s > 0),
            }));
        }
        let answer = self
            .call(
                Method::GET,
                Root::Api,
                &["DataEntry", "crControl", batch],
                &[],
                None,
                Idempotency::Idempotent,
            )
            .await;
        let rows = match answer {
            Ok(v) => decode::rows(v),
            Err(VpError::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        let Some(control) = rows
            .into_iter()
            .find(|r| decode::field_text(r, "Batch").is_none_or(|b| b.eq_ignore_ascii_case(batch)))
        else {
            return Ok(None);
        };
        let (period, post_seq) = period_and_seq(&control);
        let posted = control
            .get("Posted")
            .and_then(decode::flag)
            .unwrap_or(false);
        Ok(Some(CashReceiptState {
            batch: batch.to_owned(),
            posted,
            period,
            post_seq,
        }))
    }

    /// `POST /DataEntry/crControl` as is (no balance check, no lookup): the raw create.
    pub async fn create_cash_receipt_batch(&self, receipt: &CrControl) -> Result<Value, VpError> {
        let body =
            serde_json::to_value(receipt).map_err(|e| VpError::decode("crControl body", e))?;
        self.post(Root::Api, &["DataEntry", "crControl"], &body)
            .await
    }

    /// `PUT /DataEntry/PostTransFile` for one batch; a report whose entry did not succeed is a
    /// [`VpError::BusinessRule`] carrying VP's message.
    pub async fn post_batch(
        &self,
        trans_type: &str,
        batch: &str,
        period: Period,
        company: Option<&str>,
        description: &str,
    ) -> Result<PostingReport, VpError> {
        let body = json!({"parms": {
            "batch": batch,
            "clientcompany": company.unwrap_or_default(),
            "description": description,
            "period": period.to_string(),
            "transtype": trans_type,
        }});
        let answer = self
            .call(
                Method::PUT,
                Root::Api,
                &["DataEntry", "PostTransFile"],
                &[],
                Some(&body),
                Idempotency::NonIdempotent,
            )
            .await?;
        let report = parse_posting_report(&answer)?;
        match report.for_batch(batch) {
            Some(entry) if entry.succeeded => Ok(report),
            _ => Err(VpError::BusinessRule {
                operation: format!("posting {trans_type} batch {batch}"),
                message: if report.message.is_empty() {
                    "posting reported failure".into()
                } else {
                    report.message.clone()
                },
            }),
        }
    }

    /// Creates the batch unless it exists, then posts it unless posted. Idempotent on `receipt.batch`.
    ///
    /// Out-of-balance batches (control `Total` ≠ Σ detail amounts) are refused before anything is sent.
    pub async fn record_cash_receipt(
        &self,
        receipt: &CrControl,
    ) -> Result<CashReceiptPosting, VpError> {
        let sum: Decimal = receipt.details.iter().map(|d| d.amount).sum();
        if sum != receipt.total {
            return Err(VpError::BusinessRule {
                operation: format!("cash receipt {}", receipt.batch),
                message: format!(
                    "the batch is out of balance: Total {} but the lines sum to {sum}",
                    receipt.total
                ),
            });
        }
        let batch = receipt.batch.as_str();
        let mut created = false;
        let mut state = self.find_cash_receipt(batch).await?;
        let mut rounds = 0;
        while state.is_none() {
            rounds += 1;
            // Posting uses the API user's active period: set it before creating (Unionpoint does the same).
            self.set_active_period(receipt.period).await?;
            match self.create_cash_receipt_batch(receipt).await {
                Ok(_) => {
                    created = true;
                    state = self.find_cash_receipt(batch).await?;
                    if state.is_none() {
                        state = Some(CashReceiptState {
                            batch: batch.to_owned(),
                            posted: false,
                            period: None,
                            post_seq: None,
                        });
                    }
                }
                Err(e @ (VpError::OutcomeUnknown { .. } | VpError::BusinessRule { .. })) => {
                    // The create may have landed (lost answer; looked up along the settle schedule, so a
                    // slow commit is found before any resend) or the batch exists already (duplicate): look.
                    tracing::info!(batch, error = %e, "cash receipt create outcome unclear; looking the batch up");
                    state = if matches!(e, VpError::OutcomeUnknown { .. }) {
                        self.settled(|| self.find_cash_receipt(batch)).await?
                    } else {
                        self.find_cash_receipt(batch).await?
                    };
                    if state.is_none()
                        && (rounds >= MAX_RESOLVE_ROUNDS
                            || matches!(e, VpError::BusinessRule { .. }))
                    {
                        return Err(e);
                    }
                    created = state.is_some() && matches!(e, VpError::OutcomeUnknown { .. });
                }
                Err(e) => return Err(e),
            }
        }
        let Some(state) = state else {
            return Err(VpError::NotFound {
                what: format!("cash receipt batch {batch}"),
            });
        };
        if state.posted {
            return finished(batch, state, receipt.period, created);
        }
        let description = receipt
            .description
            .clone()
            .unwrap_or_else(|| batch.to_owned());
        let mut rounds = 0;
        loop {
            rounds += 1;
            match self
                .post_batch(
                    "CR",
                    batch,
                    receipt.period,
                    receipt.company.as_deref(),
                    &description,
                )
                .await
            {
                Ok(report) => {
                    let entry = report.for_batch(batch);
                    let period = entry
                        .and_then(|e| e.period)
                        .and_then(|p| Period::from_yyyypp(p).ok());
                    let post_seq = entry
                        .and_then(|e| e.post_seq)
                        .and_then(|s| u32::try_from(s).ok());
                    if let (Some(period), Some(post_seq)) = (period, post_seq) {
                        return Ok(CashReceiptPosting {
                            batch: batch.to_owned(),
                            period,
                            post_seq,
                            created,
                        });
                    }
                    let state = self
                        .find_cash_receipt(batch)
                        .await?
                        .unwrap_or(state.clone());
                    return finished(batch, state, receipt.period, created);
                }
                Err(e @ (VpError::OutcomeUnknown { .. } | VpError::Transient { .. })) => {
                    if let Some(now) = self.find_cash_receipt(batch).await?
                        && now.posted
                    {
                        return finished(batch, now, receipt.period, created);
                    }
                    if rounds >= MAX_RESOLVE_ROUNDS {
                        return Err(e);
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// A vendor payment of AP vouchers (`POST /vision/ledger/PP`). Idempotent on the check number: when
    /// every `APPPCHECKS` row carries the same `CheckNo` (the ledger's payment id), a payment already posted
    /// under it is returned instead of paying twice, and a lost answer is resolved by the same lookup.
    pub async fn post_vendor_payment(
        &self,
        payment: &ApPayment,
    ) -> Result<PaymentPosting, VpError> {
        let body = serde_json::to_value(payment).map_err(|e| VpError::decode("PP body", e))?;
        let check_no = common_check_no(payment.checks.iter().map(|c| c.check_no.as_deref()));
        self.post_payment("PP", &body, check_no.as_deref()).await
    }

    /// An employee expense payment (`POST /vision/ledger/EP`), idempotent on the check number like
    /// [`Self::post_vendor_payment`].
    pub async fn post_employee_payment(
        &self,
        payment: &EmPayment,
    ) -> Result<PaymentPosting, VpError> {
        let body = serde_json::to_value(payment).map_err(|e| VpError::decode("EP body", e))?;
        let check_no = common_check_no(payment.checks.iter().map(|c| c.check_no.as_deref()));
        self.post_payment("EP", &body, check_no.as_deref()).await
    }

    /// The posted payment (`PSALedger/PP` or `/EP`) whose rows carry `check_no` as `RefNo`.
    pub async fn find_payment(
        &self,
        trans_type: &str,
        check_no: &str,
    ) -> Result<Option<PaymentPosting>, VpError> {
        let rows = self
            .ledger_rows(trans_type, FilterHash::new().eq("RefNo", check_no))
            .await?;
        Ok(rows.first().map(|r| PaymentPosting {
            batch: r.row.batch.clone(),
            period: r.row.period,
            post_seq: Some(r.row.post_seq).filter(|s| *s > 0),
            created: false,
        }))
    }

    async fn post_payment(
        &self,
        trans_type: &str,
        body: &Value,
        check_no: Option<&str>,
    ) -> Result<PaymentPosting, VpError> {
        if let Some(no) = check_no
            && let Some(found) = self.find_payment(trans_type, no).await?
        {
            tracing::info!(
                trans_type,
                check_no = no,
                "payment already posted; not posting again"
            );
            return Ok(found);
        }
        let mut rounds = 0;
        loop {
            rounds += 1;
            match self.post(Root::Vision, &["ledger", trans_type], body).await {
                Ok(answer) => {
                    return Ok(PaymentPosting {
                        created: true,
                        ..payment_posting(answer)
                    });
                }
                Err(e @ VpError::OutcomeUnknown { .. }) => {
                    let Some(no) = check_no else { return Err(e) };
                    if let Some(found) = self.settled(|| self.find_payment(trans_type, no)).await? {
                        return Ok(PaymentPosting {
                            created: true,
                            ..found
                        });
                    }
                    if rounds >= MAX_RESOLVE_ROUNDS {
                        return Err(e);
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }
}

impl VantagepointClient {
    /// Looks a write whose outcome is unknown up along the settle schedule (`outcome_settle` × 1, 2, 4, 8
    /// on the clock); `None` only when every look-up missed (confirmed absent: a resend is safe).
    async fn settled<T, F, Fut>(&self, lookup: F) -> Result<Option<T>, VpError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<Option<T>, VpError>>,
    {
        for factor in [1u32, 2, 4, 8] {
            self.clock()
                .sleep(self.config().outcome_settle.saturating_mul(factor))
                .await;
            if let Some(found) = lookup().await? {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }
}

/// The check number shared by every row, when there is exactly one.
fn common_check_no<'a>(numbers: impl Iterator<Item = Option<&'a str>>) -> Option<String> {
    let mut found: Option<&str> = None;
    for n in numbers {
        let n = n.map(str::trim).filter(|n| !n.is_empty())?;
        match found {
            Some(f) if f != n => return None,
            _ => found = Some(n),
        }
    }
    found.map(str::to_owned)
}

fn finished(
    batch: &str,
    state: CashReceiptState,
    fallback_period: Period,
    created: bool,
) -> Result<CashReceiptPosting, VpError> {
    let post_seq = state.post_seq.ok_or_else(|| {
        VpError::decode_msg(
            format!("cash receipt {batch}"),
            "the batch is posted but VP reports no posting sequence",
        )
    })?;
    Ok(CashReceiptPosting {
        batch: batch.to_owned(),
        period: state.period.unwrap_or(fallback_period),
        post_seq,
        created,
    })
}

fn payment_posting(answer: Value) -> PaymentPosting {
    let value = decode::unwrap_json_string(answer);
    let row = decode::rows(value)
        .into_iter()
        .next()
        .unwrap_or(Value::Null);
    let (period, post_seq) = period_and_seq(&row);
    PaymentPosting {
        batch: decode::field_text(&row, "Batch"),
        period,
        post_seq,
        created: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payment_answer_yields_its_batch_period_and_sequence() {
        let p = payment_posting(
            json!([{"TransType":"PP","Batch":"PP2026060001","Period":"202606","PostSeq":12}]),
        );
        assert_eq!(p.batch.as_deref(), Some("PP2026060001"));
        assert_eq!(p.period.map(|p| p.as_yyyypp()), Some(202606));
        assert_eq!(p.post_seq, Some(12));
    }

    #[test]
    fn an_empty_payment_answer_yields_nothing_rather_than_failing() {
        assert_eq!(
            payment_posting(Value::Null),
            PaymentPosting {
                batch: None,
                period: None,
                post_seq: None,
                created: false
            }
        );
    }

    #[test]
    fn a_payment_is_keyed_by_its_check_number_only_when_every_row_shares_it() {
        assert_eq!(
            common_check_no([Some("CHK1"), Some("CHK1")].into_iter()),
            Some("CHK1".into())
        );
        assert_eq!(
            common_check_no([Some("CHK1"), Some("CHK2")].into_iter()),
            None
        );
        assert_eq!(common_check_no([Some("CHK1"), None].into_iter()), None);
        assert_eq!(common_check_no(std::iter::empty()), None);
    }
}
