//! PAYMENT-IN: money recorded in Exact Online flows back into Vantagepoint.
//!
//! DISCOVER runs every five minutes and on Exact webhooks: an incremental read of the ledger's payments
//! since the stored cursor (never a full re-read), one message per payment of one of OUR documents (found
//! through the links invoice-out / voucher-out wrote), the cursor stored after the messages are sent. Each
//! payment object keeps the cursor it was read after as its source version, so PROCESS re-reads it from
//! there. Deletions in the ledger (checked at most every `deletion_check_every`, so an idle poll costs one
//! call; so is the division-move check, [`crate::sync_reset`], which restarts both feeds after a move) are not synced back: the linked object is flagged Desynchronized with a message.
//!
//! PROCESS: customer receipts → VP cash receipts (batch `"Exact" + payment id`, in the invoice's billing
//! currency and allocated against what VP says is still open on it — [`crate::receivables`] — by the
//! mapping crate; bank code from the bank-codes lookup, matched by name when missing — [`crate::banks`];
//! period = VP's active period); supplier payments → AP payments (`PP`); employee payments → expense payments (`EP`), keyed by
//! the expense report, posted only once the report is fully paid (until then it stays Pending with a
//! message).

use std::collections::BTreeMap;

use chrono::NaiveDate;
use ledgerlink_domain::exact::PaymentTerm;
use ledgerlink_domain::{CurrencyCode, Flow, Money, ObjectType, Period, SyncStatus, TenantId};
use ledgerlink_mapping::payments::PaymentEvent;
use ledgerlink_mapping::{Outcome, PostingContext, SkipReason};
use ledgerlink_ports::ledger::{LedgerError, LedgerResult};
use ledgerlink_ports::psa::PsaError;
use ledgerlink_ports::{Cursor, ObjectRef, StoreError, WorkAction, WorkMessage};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::common::{
    Gate, busy, gate, key, ledger_failed, mapping_failed, mismatch, object_of, parse_window,
    psa_failed,
};
use crate::context::{FlowContext, MessageOutcome, Once, TenantWork, business_key, hash_of};
use crate::error::{FlowError, FlowResult};
use crate::lookups;
use crate::posted::{PostedDoc, reread};
use crate::{banks, receivables, sync_reset};

/// The cursor of the payments feed.
pub const PAYMENTS_CURSOR: &str = "sync/Cashflow/PaymentTerms";
/// The cursor of the deletions feed.
pub const DELETIONS_CURSOR: &str = "sync/Deleted";
/// The length of VP's cash-receipt `RefNo`.
const VP_REF_NO_MAX: usize = 12;
/// How many pages PROCESS reads at most to find its payment again.
const MAX_REREAD_PAGES: u32 = 50;

/// A payment id short enough for VP's 32-character batch (`"Exact"` + 25): the payment GUID in base 36.
pub fn payment_key(id: Uuid) -> String {
    let mut n = id.as_u128();
    let mut out = Vec::with_capacity(25);
    loop {
        let digit = (n % 36) as u8;
        out.push(if digit < 10 {
            b'0' + digit
        } else {
            b'A' + digit - 10
        });
        n /= 36;
        if n == 0 {
            break;
        }
    }
    while out.len() < 25 {
        out.push(b'0');
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// The payment GUID back from its [`payment_key`]; `None` for a key that is not one.
pub fn payment_id_of(key: &str) -> Option<Uuid> {
    if key.len() != 25 {
        return None;
    }
    let mut n: u128 = 0;
    for c in key.chars() {
        let digit = c.to_digit(36)?;
        n = n.checked_mul(36)?.checked_add(u128::from(digit))?;
    }
    Some(Uuid::from_u128(n))
}

/// The message of a receipt waiting for its invoice's link, naming the invoice (the Integration page shows
/// it; linking the invoice finds the waiting receipts by it).
pub fn waiting_message(invoice_key: &str) -> String {
    format!(
        "Waiting for invoice {invoice_key}: it is still being synchronised to Exact Online; the receipt is \
         recorded as soon as the invoice is linked"
    )
}

/// Whether a feed row is a payment (a bank entry settling an entry) rather than the entry's open item.
fn is_payment(row: &PaymentTerm) -> bool {
    row.id.is_some()
        && row.transaction_entry_id.is_some()
        && row.entry_id != row.transaction_entry_id
}

/// What one payment discovery did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PaymentDiscovery {
    pub ledger_calls: u32,
    pub rows: usize,
    pub enqueued: usize,
    pub desynchronized: usize,
}

/// The VP object a ledger entry was posted from, found through the links.
async fn source_of(
    ctx: &FlowContext,
    tenant: &TenantId,
    entry: &str,
    types: &[ObjectType],
) -> FlowResult<Option<(ObjectType, String)>> {
    for t in types {
        if let Some(vp_key) = ctx.stores.links.vp_key(tenant, *t, entry).await? {
            return Ok(Some((*t, vp_key)));
        }
    }
    Ok(None)
}

/// DISCOVER for one tenant: new payments since the cursor, and (when due) deletions.
pub async fn discover(ctx: &FlowContext, work: &TenantWork) -> FlowResult<PaymentDiscovery> {
    let tenant = &work.tenant.id;
    let division = work.tenant.exact_division;
    let mut report = PaymentDiscovery::default();
    // After a division move every feed starts again from the beginning (linked payments are no-ops).
    if sync_reset::restart_feeds_after_reset(
        ctx,
        work,
        Flow::PaymentIn,
        &[PAYMENTS_CURSOR, DELETIONS_CURSOR],
    )
    .await?
    .is_some()
    {
        report.ledger_calls += 1;
    }
    let mut cursor = ctx
        .stores
        .cursors
        .get(tenant, Flow::PaymentIn, PAYMENTS_CURSOR, division)
        .await?;
    loop {
        let read_after = sync_reset::feed_position(cursor.as_ref()).map(str::to_owned);
        report.ledger_calls += 1;
        let batch = match work.conn.ledger.payments_since(read_after.as_deref()).await {
            Ok(b) => b,
            Err(e) => return ledger_discovery_failed(ctx, work, e).await.map(|()| report),
        };
        report.rows += batch.items.len();
        let version = read_after.clone().unwrap_or_else(|| "start".to_owned());
        let mut statuses = Vec::new();
        let mut messages = Vec::new();
        for row in batch.items.iter().filter(|r| is_payment(r)) {
            let (Some(id), Some(entry)) = (row.id, row.transaction_entry_id) else {
                continue;
            };
            let entry = entry.to_string();
            let line_type = row.line_type.unwrap_or(PaymentTerm::LINE_TYPE_RECEIPT);
            let types: &[ObjectType] = if line_type == PaymentTerm::LINE_TYPE_RECEIPT {
                &[ObjectType::Invoice]
            } else {
                &[ObjectType::ApVoucher, ObjectType::ExpenseReport]
            };
            let Some((source_type, source_key)) = source_of(ctx, tenant, &entry, types).await?
            else {
                // Not linked (yet): a receipt on one of OUR invoices whose post has not completed waits
                // for the link (named on the page), instead of being skipped while the cursor moves on.
                if line_type == PaymentTerm::LINE_TYPE_RECEIPT
                    && let Some(invoice) = our_unlinked_invoice(ctx, tenant, row).await?
                {
                    let object = ObjectRef {
                        tenant: tenant.clone(),
                        object_type: ObjectType::CashReceipt,
                        key: key(&payment_key(id))?,
                    };
                    let mut status = ctx.new_status(object, SyncStatus::Pending);
                    status.source_version = Some(version.clone());
                    status.last_message = Some(waiting_message(&invoice));
                    statuses.push(status);
                }
                continue;
            };
            let (object_type, object_key) = match source_type {
                ObjectType::Invoice => (ObjectType::CashReceipt, payment_key(id)),
                ObjectType::ApVoucher => (ObjectType::ApPayment, payment_key(id)),
                // Expense payments are one object per report: partial payments wait for the last one.
                _ => (ObjectType::ExpensePayment, source_key),
            };
            let object = ObjectRef {
                tenant: tenant.clone(),
                object_type,
                key: key(&object_key)?,
            };
            let mut status = ctx.new_status(object.clone(), SyncStatus::Pending);
            status.source_version = Some(version.clone());
            status.last_message =
                Some("Payment found in Exact Online; waiting to be recorded".into());
            statuses.push(status);
            messages.push(ctx.message(tenant, object_type, &object.key, WorkAction::Sync));
        }
        ctx.stores.statuses.create_missing(&statuses).await?;
        ctx.send(Flow::PaymentIn, &messages).await?;
        report.enqueued += messages.len();
        if read_after.as_deref() == Some(batch.next_cursor.as_str()) {
            break;
        }
        let next = Cursor {
            tenant: tenant.clone(),
            flow: Flow::PaymentIn,
            name: PAYMENTS_CURSOR.into(),
            division,
            value: batch.next_cursor.clone(),
            version: cursor.as_ref().map(|c| c.version).unwrap_or(0),
            updated_at: ctx.now(),
        };
        match ctx
            .stores
            .cursors
            .put(&next, cursor.as_ref().map(|c| c.version))
            .await
        {
            Ok(stored) => {
                cursor = Some(stored);
                ledgerlink_ports::crash::point(
                    ledgerlink_ports::crash::CrashPoint::AfterCursorSave,
                );
            }
            Err(StoreError::Conflict { .. }) => break,
            Err(e) => return Err(e.into()),
        }
        if !batch.more {
            break;
        }
    }
    check_deletions(ctx, work, &mut report).await?;
    Ok(report)
}

/// The invoice (object key) a receipt row pays when it is one of ours whose link is not written yet: the
/// row's `YourRef` is our reference of the invoice's sales entry (the key itself, or the key plus a project
/// suffix for a billing group split into several entries).
async fn our_unlinked_invoice(
    ctx: &FlowContext,
    tenant: &TenantId,
    row: &PaymentTerm,
) -> FlowResult<Option<String>> {
    let Some(reference) = row
        .your_ref
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty())
    else {
        return Ok(None);
    };
    let mut candidates = vec![reference.to_owned()];
    if let Some((head, _)) = reference.rsplit_once('.') {
        candidates.push(head.to_owned());
    }
    for candidate in candidates {
        let Ok(object_key) = ledgerlink_domain::ObjectKey::parse(&candidate) else {
            continue;
        };
        let object = ObjectRef {
            tenant: tenant.clone(),
            object_type: ObjectType::Invoice,
            key: object_key,
        };
        if ctx.stores.statuses.get(&object).await?.is_some() {
            return Ok(Some(candidate));
        }
    }
    Ok(None)
}

/// After an invoice's ledger entry was linked: the receipts that waited for it go through now.
pub(crate) async fn release_waiting_receipts(
    ctx: &FlowContext,
    tenant: &TenantId,
    invoice_key: &str,
) -> FlowResult<usize> {
    let waiting = waiting_message(invoice_key);
    let mut page = ledgerlink_ports::PageRequest::first(100);
    let mut messages = Vec::new();
    loop {
        let found = ctx
            .stores
            .statuses
            .list(
                tenant,
                &ledgerlink_ports::StatusFilter {
                    status: Some(SyncStatus::Pending),
                    object_type: Some(ObjectType::CashReceipt),
                    ..Default::default()
                },
                page.clone(),
            )
            .await?;
        for s in &found.items {
            if s.last_message.as_deref() == Some(waiting.as_str()) {
                messages.push(ctx.message(
                    tenant,
                    ObjectType::CashReceipt,
                    &s.object.key,
                    WorkAction::Sync,
                ));
            }
        }
        match found.next_cursor {
            Some(next) => {
                page = ledgerlink_ports::PageRequest {
                    limit: 100,
                    cursor: Some(next),
                }
            }
            None => break,
        }
    }
    ctx.send(Flow::PaymentIn, &messages).await?;
    Ok(messages.len())
}

async fn ledger_discovery_failed(
    ctx: &FlowContext,
    work: &TenantWork,
    error: LedgerError,
) -> FlowResult<()> {
    match error {
        LedgerError::ReconnectNeeded { reason, .. } => {
            ctx.pause(
                &work.tenant.id,
                &format!("Exact Online must be reconnected: {reason}"),
            )
            .await
        }
        other => Err(FlowError::Ledger(other)),
    }
}

async fn check_deletions(
    ctx: &FlowContext,
    work: &TenantWork,
    report: &mut PaymentDiscovery,
) -> FlowResult<()> {
    let tenant = &work.tenant.id;
    let division = work.tenant.exact_division;
    let cursor = ctx
        .stores
        .cursors
        .get(tenant, Flow::PaymentIn, DELETIONS_CURSOR, division)
        .await?;
    let every = chrono::Duration::from_std(ctx.settings.deletion_check_every)
        .unwrap_or(chrono::Duration::hours(1));
    if cursor
        .as_ref()
        .is_some_and(|c| ctx.now() - c.updated_at < every)
    {
        return Ok(());
    }
    report.ledger_calls += 1;
    let batch = match work
        .conn
        .ledger
        .deletions_since(sync_reset::feed_position(cursor.as_ref()))
        .await
    {
        Ok(b) => b,
        Err(e) => return ledger_discovery_failed(ctx, work, e).await,
    };
    for deleted in &batch.items {
        let types = [
            ObjectType::Invoice,
            ObjectType::CreditMemo,
            ObjectType::ApVoucher,
            ObjectType::ExpenseReport,
            ObjectType::JournalEntry,
        ];
        let Some((object_type, vp_key)) =
            source_of(ctx, tenant, &deleted.key.to_ascii_lowercase(), &types).await?
        else {
            continue;
        };
        let object = ObjectRef {
            tenant: tenant.clone(),
            object_type,
            key: key(&vp_key)?,
        };
        let when = deleted
            .deleted_at
            .map(|d| format!(" on {}", d.format("%Y-%m-%d %H:%M UTC")))
            .unwrap_or_default();
        let message = format!(
            "Deleted in Exact Online{when}. Deletions are not synced back: unpost or delete it in Vantagepoint, or Synchronize to post it again"
        );
        ctx.record(&object, SyncStatus::Desynchronized, Some(message), None)
            .await?;
        report.desynchronized += 1;
    }
    let next = Cursor {
        tenant: tenant.clone(),
        flow: Flow::PaymentIn,
        name: DELETIONS_CURSOR.into(),
        division,
        value: batch.next_cursor.clone(),
        version: cursor.as_ref().map(|c| c.version).unwrap_or(0),
        updated_at: ctx.now(),
    };
    match ctx
        .stores
        .cursors
        .put(&next, cursor.as_ref().map(|c| c.version))
        .await
    {
        Ok(_) | Err(StoreError::Conflict { .. }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Re-reads the payment rows after `version` (the cursor they were discovered after).
async fn reread_rows(work: &TenantWork, version: &str) -> LedgerResult<Vec<PaymentTerm>> {
    let mut cursor = (version != "start").then(|| version.to_owned());
    let mut rows = Vec::new();
    for _ in 0..MAX_REREAD_PAGES {
        let batch = work.conn.ledger.payments_since(cursor.as_deref()).await?;
        rows.extend(batch.items.into_iter().filter(is_payment));
        if !batch.more || cursor.as_deref() == Some(batch.next_cursor.as_str()) {
            break;
        }
        cursor = Some(batch.next_cursor);
    }
    Ok(rows)
}

fn event_of(
    row: &PaymentTerm,
    amount: Decimal,
    fallback_currency: CurrencyCode,
) -> Option<PaymentEvent> {
    let id = row.id?;
    let date: NaiveDate = row.entry_date.or(row.date_fallback())?;
    Some(PaymentEvent {
        payment_id: payment_key(id),
        date,
        amount: Money::new(amount, row.currency.unwrap_or(fallback_currency)),
        bank_account: row.journal.clone().unwrap_or_default().trim().to_owned(),
        reference: Some(reference_of(row, id)),
    })
}

/// VP's `RefNo` holds 12 characters: Exact's payment reference when it fits, else the bank entry number
/// (the payment's number in Exact), else the start of the payment key.
fn reference_of(row: &PaymentTerm, id: Uuid) -> String {
    let fits = |r: &String| !r.trim().is_empty() && r.trim().chars().count() <= VP_REF_NO_MAX;
    row.payment_reference
        .clone()
        .filter(fits)
        .map(|r| r.trim().to_owned())
        .or_else(|| row.entry_number.map(|n| n.to_string()).filter(fits))
        .unwrap_or_else(|| payment_key(id).chars().take(VP_REF_NO_MAX).collect())
}

trait DateFallback {
    fn date_fallback(&self) -> Option<NaiveDate>;
}
impl DateFallback for PaymentTerm {
    fn date_fallback(&self) -> Option<NaiveDate> {
        self.last_payment_date.or(self.invoice_date)
    }
}

/// Where a VP posting landed (stored as the write's idempotent result).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct VpPosted {
    batch: Option<String>,
    period: Option<u32>,
    post_seq: Option<u32>,
}

/// `"{Invoice}.{Period}.{PostSeq}"` (optionally `.{WBS1}`) back into its parts.
pub fn parse_invoice_key(text: &str) -> Option<(String, Period, u32)> {
    let parts: Vec<&str> = text.split('.').collect();
    (1..parts.len().saturating_sub(1)).find_map(|i| {
        let period = parts[i];
        let seq = parts[i + 1];
        if period.len() == 6
            && period.chars().all(|c| c.is_ascii_digit())
            && !seq.is_empty()
            && seq.chars().all(|c| c.is_ascii_digit())
        {
            let period = Period::parse(period).ok()?;
            Some((parts[..i].join("."), period, seq.parse().ok()?))
        } else {
            None
        }
    })
}

async fn source_doc(
    ctx: &FlowContext,
    work: &TenantWork,
    object_type: ObjectType,
    key_text: &str,
) -> FlowResult<Result<Option<PostedDoc>, PsaError>> {
    let object = ObjectRef {
        tenant: work.tenant.id.clone(),
        object_type,
        key: key(key_text)?,
    };
    let Some(window) = ctx
        .stores
        .statuses
        .get(&object)
        .await?
        .and_then(|s| s.source_version)
        .as_deref()
        .and_then(parse_window)
    else {
        return Ok(Ok(None));
    };
    Ok(reread(work.conn.psa.as_ref(), &object, window).await)
}

/// PROCESS one payment object.
pub async fn process(ctx: &FlowContext, message: &WorkMessage) -> FlowResult<MessageOutcome> {
    if message.action == WorkAction::Discover {
        let tenant = ctx.tenant(&message.tenant).await?;
        if tenant.state == ledgerlink_ports::ConnectionState::Paused {
            return Ok(MessageOutcome::Handled);
        }
        let work = ctx.work(tenant).await?;
        discover(ctx, &work).await?;
        return Ok(MessageOutcome::Handled);
    }
    let object = object_of(message)?;
    let tenant = ctx.tenant(&message.tenant).await?;
    let previous = match gate(ctx, &tenant, &object, message.action).await? {
        Gate::Go { previous, .. } => previous,
        Gate::Skip(outcome) => return Ok(outcome),
    };
    let work = ctx.work(tenant).await?;
    match object.object_type {
        ObjectType::CashReceipt | ObjectType::ApPayment => {
            // Read by its ID: how deep the payment sits in the feed's history does not matter.
            let receipt = object.object_type == ObjectType::CashReceipt;
            let Some(id) = payment_id_of(object.key.as_str()) else {
                return not_found(ctx, &object).await;
            };
            let row = match work.conn.ledger.payment(&id.to_string(), receipt).await {
                Ok(Some(row)) => row,
                Ok(None) => return not_found(ctx, &object).await,
                Err(e) => return ledger_failed(ctx, &work.tenant, &object, e).await,
            };
            if receipt {
                cash_receipt(ctx, &work, &object, &row).await
            } else {
                ap_payment(ctx, &work, &object, &row).await
            }
        }
        ObjectType::ExpensePayment => {
            let version = previous
                .and_then(|p| p.source_version)
                .unwrap_or_else(|| "start".to_owned());
            let rows = match reread_rows(&work, &version).await {
                Ok(rows) => rows,
                Err(e) => return ledger_failed(ctx, &work.tenant, &object, e).await,
            };
            expense_payment(ctx, &work, &object, &rows).await
        }
        other => Err(FlowError::Invalid(format!(
            "payment-in does not process {other} objects"
        ))),
    }
}

/// What a payment row pays on its entry, as a positive amount. A payment moves the entry's open amount
/// towards zero, so its amount has the opposite sign of the entry's (`TransactionAmountFC`); a row with the
/// entry's own sign is a reversal of an earlier payment, and is refused with that reason (Vantagepoint keeps
/// the receipt it reverses until a user reverses it there); a row without an amount is refused naming it.
fn paid_amount(row: &PaymentTerm, object: &ObjectRef) -> Result<Decimal, String> {
    let Some(amount) = row.amount_fc else {
        return Err(format!(
            "Payment {} in Exact Online has no amount (AmountFC is empty); nothing was recorded in \
             Vantagepoint. Check the bank entry in Exact Online, then Synchronize",
            object.key
        ));
    };
    let entry_negative = row
        .transaction_amount_fc
        .is_some_and(|t| t.is_sign_negative() && !t.is_zero());
    let paid = if entry_negative { amount } else { -amount };
    if paid.is_zero() {
        return Err(format!(
            "Payment {} in Exact Online is of 0.00; nothing was recorded in Vantagepoint",
            object.key
        ));
    }
    if paid.is_sign_negative() {
        return Err(format!(
            "Payment {} in Exact Online of {amount} reverses an earlier payment of the same entry; reversals \
             are not booked automatically: reverse the receipt or payment it undoes in Vantagepoint",
            object.key
        ));
    }
    Ok(paid)
}

/// Records a payment refused for a reason its message names: Error, and an operator notification.
async fn refused(
    ctx: &FlowContext,
    object: &ObjectRef,
    text: String,
) -> FlowResult<MessageOutcome> {
    ctx.record(object, SyncStatus::Error, Some(text.clone()), None)
        .await?;
    ctx.notify_error(object, &text).await?;
    Ok(MessageOutcome::Handled)
}

async fn not_found(ctx: &FlowContext, object: &ObjectRef) -> FlowResult<MessageOutcome> {
    let text = "The payment is no longer in Exact Online's payment feed (deleted?)".to_owned();
    ctx.record(object, SyncStatus::Error, Some(text.clone()), None)
        .await?;
    ctx.notify_error(object, &text).await?;
    Ok(MessageOutcome::Handled)
}

async fn posting_context(
    work: &TenantWork,
    company: Option<String>,
) -> Result<PostingContext, PsaError> {
    let active_period = work.conn.psa.active_period().await?;
    Ok(PostingContext {
        active_period,
        company: company.unwrap_or_else(|| work.settings.company.clone()),
    })
}

async fn cash_receipt(
    ctx: &FlowContext,
    work: &TenantWork,
    object: &ObjectRef,
    row: &PaymentTerm,
) -> FlowResult<MessageOutcome> {
    let tenant = &work.tenant;
    let Some(entry) = row.transaction_entry_id.map(|e| e.to_string()) else {
        return not_found(ctx, object).await;
    };
    let Some(doc_key) = ctx
        .stores
        .links
        .vp_key(&tenant.id, ObjectType::Invoice, &entry)
        .await?
    else {
        if let Some(invoice) = our_unlinked_invoice(ctx, &tenant.id, row).await? {
            // Linking the invoice sends this receipt again (and the sweeper backs that up).
            ctx.record(
                object,
                SyncStatus::Pending,
                Some(waiting_message(&invoice)),
                None,
            )
            .await?;
            return Ok(MessageOutcome::Handled);
        }
        return not_found(ctx, object).await;
    };
    let Some((invoice, period, post_seq)) = parse_invoice_key(&doc_key) else {
        return Err(FlowError::Invalid(format!(
            "invoice key {doc_key:?} cannot be read"
        )));
    };
    let psa = work.conn.psa.clone();
    let rows = match psa.invoice_rows(&invoice, period, post_seq).await {
        Ok(r) => r,
        Err(e) => return psa_failed(ctx, tenant, object, e).await,
    };
    let auto = match psa.auto_posting_accounts(None).await {
        Ok(a) => a,
        Err(e) => return psa_failed(ctx, tenant, object, e).await,
    };
    let pctx = match posting_context(work, auto.company.clone()).await {
        Ok(c) => c,
        Err(e) => return psa_failed(ctx, tenant, object, e).await,
    };
    let paid = match paid_amount(row, object) {
        Ok(p) => p,
        Err(text) => return refused(ctx, object, text).await,
    };
    // What is open on the invoice, in its billing currency (receivables.rs): the receipt is recorded in it
    // and allocated against VP's open balance.
    let ledger_total = row.transaction_amount_fc.map(|t| t.abs());
    let ar_account = auto.accounts_receivable.clone().unwrap_or_default();
    let own = receivables::OwnReceipt {
        batch: &format!("Exact{}", object.key),
        amount: paid,
    };
    let outstanding = match receivables::outstanding(
        work,
        &invoice,
        &rows,
        ar_account,
        ledger_total,
        own,
    )
    .await
    {
        Ok(Some(o)) => o,
        Ok(None) => {
            let text = "Neither the payment nor the invoice names a currency".to_owned();
            ctx.record(object, SyncStatus::Error, Some(text.clone()), None)
                .await?;
            ctx.notify_error(object, &text).await?;
            return Ok(MessageOutcome::Handled);
        }
        Err(e) => return psa_failed(ctx, tenant, object, e).await,
    };
    let Some(event) = event_of(row, paid, outstanding.currency) else {
        return not_found(ctx, object).await;
    };
    let mut lk = lookups::base(ctx, work).await?;
    if let Err(done) = banks::ensure_bank(ctx, work, &mut lk, &event.bank_account, object).await? {
        return Ok(done);
    }
    let control =
        match ledgerlink_mapping::payments::cash_receipt_to_vp(&event, &outstanding, &pctx, &lk) {
            Ok(c) => c,
            Err(e) => return mapping_failed(ctx, object, e).await,
        };
    let bkey = business_key(tenant, object.object_type, object.key.as_str(), "1");
    // The write is identified by the payment (what it pays, how much, in which currency), not by the
    // allocation: VP's open balance moves as other receipts post, and the batch itself is idempotent.
    let identity = hash_of(&(
        &event.payment_id,
        event.date,
        event.amount.amount(),
        event.amount.currency(),
        &event.bank_account,
        &outstanding.invoice,
    ));
    let result = ctx
        .once(&bkey, &identity, |_look_up_first| async {
            psa.record_cash_receipt(&control).await.map(|p| VpPosted {
                batch: Some(p.batch),
                period: Some(p.period.as_yyyypp()),
                post_seq: Some(p.post_seq),
            })
        })
        .await?;
    finish_vp(
        ctx,
        tenant,
        object,
        result,
        format!("Cash receipt for invoice {invoice}"),
    )
    .await
}

async fn finish_vp(
    ctx: &FlowContext,
    tenant: &ledgerlink_ports::Tenant,
    object: &ObjectRef,
    result: Result<Once<VpPosted>, PsaError>,
    what: String,
) -> FlowResult<MessageOutcome> {
    match result {
        Ok(Once::Done(p) | Once::AlreadyDone(p)) => {
            let target = p.batch.clone().unwrap_or_else(|| object.key.to_string());
            let period = p
                .period
                .map(|x| format!(" in period {x}"))
                .unwrap_or_default();
            ctx.record(
                object,
                SyncStatus::Success,
                Some(format!(
                    "{what} posted in Vantagepoint as batch {target}{period}"
                )),
                Some(target),
            )
            .await?;
            Ok(MessageOutcome::Handled)
        }
        Ok(Once::Busy) => busy(ctx, object).await,
        Ok(Once::Mismatch) => mismatch(ctx, object).await,
        Err(e) => psa_failed(ctx, tenant, object, e).await,
    }
}

async fn ap_payment(
    ctx: &FlowContext,
    work: &TenantWork,
    object: &ObjectRef,
    row: &PaymentTerm,
) -> FlowResult<MessageOutcome> {
    let tenant = &work.tenant;
    let Some(entry) = row.transaction_entry_id.map(|e| e.to_string()) else {
        return not_found(ctx, object).await;
    };
    let Some(voucher_key) = ctx
        .stores
        .links
        .vp_key(&tenant.id, ObjectType::ApVoucher, &entry)
        .await?
    else {
        return not_found(ctx, object).await;
    };
    let voucher = match source_doc(ctx, work, ObjectType::ApVoucher, &voucher_key).await? {
        Ok(Some(PostedDoc::Voucher(v))) => v,
        Ok(_) => return not_found(ctx, object).await,
        Err(e) => return psa_failed(ctx, tenant, object, e).await,
    };
    let pctx = match posting_context(work, voucher.company.clone()).await {
        Ok(c) => c,
        Err(e) => return psa_failed(ctx, tenant, object, e).await,
    };
    let currency = ledgerlink_mapping::purchases::voucher_currency(&voucher);
    let paid = match paid_amount(row, object) {
        Ok(p) => p,
        Err(text) => return refused(ctx, object, text).await,
    };
    let Some(event) = event_of(row, paid, currency) else {
        return not_found(ctx, object).await;
    };
    let mut lk = lookups::base(ctx, work).await?;
    if let Err(done) = banks::ensure_bank(ctx, work, &mut lk, &event.bank_account, object).await? {
        return Ok(done);
    }
    let payment = match ledgerlink_mapping::payments::ap_payment_to_vp(&event, &voucher, &pctx, &lk)
    {
        Ok(p) => p,
        Err(e) => return mapping_failed(ctx, object, e).await,
    };
    let psa = work.conn.psa.clone();
    let bkey = business_key(tenant, object.object_type, object.key.as_str(), "1");
    let result = ctx
        .once(&bkey, &hash_of(&payment), |_look_up_first| async {
            psa.post_vendor_payment(&payment).await.map(|p| VpPosted {
                batch: p.batch,
                period: p.period.map(|x| x.as_yyyypp()),
                post_seq: p.post_seq,
            })
        })
        .await?;
    finish_vp(
        ctx,
        tenant,
        object,
        result,
        format!("AP payment of voucher {voucher_key}"),
    )
    .await
}

async fn expense_payment(
    ctx: &FlowContext,
    work: &TenantWork,
    object: &ObjectRef,
    rows: &[PaymentTerm],
) -> FlowResult<MessageOutcome> {
    let tenant = &work.tenant;
    let report = match source_doc(ctx, work, ObjectType::ExpenseReport, object.key.as_str()).await?
    {
        Ok(Some(PostedDoc::Expense(r))) => r,
        Ok(_) => return not_found(ctx, object).await,
        Err(e) => return psa_failed(ctx, tenant, object, e).await,
    };
    let report_object = ObjectRef {
        tenant: tenant.id.clone(),
        object_type: ObjectType::ExpenseReport,
        key: object.key.clone(),
    };
    let entry = ctx
        .stores
        .links
        .exact_id(&tenant.id, ObjectType::ExpenseReport, object.key.as_str())
        .await?;
    let _ = report_object;
    let mut payments: BTreeMap<String, &PaymentTerm> = BTreeMap::new();
    for row in rows
        .iter()
        .filter(|r| r.transaction_entry_id.map(|e| e.to_string()) == entry)
    {
        if let Some(id) = row.id {
            payments.insert(payment_key(id), row);
        }
    }
    let mut paid = Decimal::ZERO;
    for row in payments.values() {
        match paid_amount(row, object) {
            Ok(p) => paid += p,
            Err(text) => return refused(ctx, object, text).await,
        }
    }
    let Some(last) = payments
        .values()
        .max_by_key(|r| r.timestamp.unwrap_or_default())
    else {
        return not_found(ctx, object).await;
    };
    let Some(event) = event_of(last, paid, report.payment_currency) else {
        return not_found(ctx, object).await;
    };
    let pctx = match posting_context(work, report.company.clone()).await {
        Ok(c) => c,
        Err(e) => return psa_failed(ctx, tenant, object, e).await,
    };
    let mut lk = lookups::base(ctx, work).await?;
    if let Err(done) = banks::ensure_bank(ctx, work, &mut lk, &event.bank_account, object).await? {
        return Ok(done);
    }
    let payment = match ledgerlink_mapping::payments::em_payment_to_vp(
        &event,
        &report,
        Decimal::ZERO,
        &pctx,
        &lk,
    ) {
        Ok(Outcome::Mapped(p)) => p,
        Ok(Outcome::Skipped(SkipReason::NotFullyPaid { paid, total })) => {
            let text = format!(
                "Partially paid in Exact Online ({paid} of {total}); recorded in Vantagepoint once fully paid"
            );
            ctx.record(object, SyncStatus::Pending, Some(text), None)
                .await?;
            return Ok(MessageOutcome::Handled);
        }
        Ok(Outcome::Skipped(other)) => {
            ctx.record(
                object,
                SyncStatus::NotIntegrated,
                Some(format!("Not synchronised: {other:?}")),
                None,
            )
            .await?;
            return Ok(MessageOutcome::Handled);
        }
        Err(e) => return mapping_failed(ctx, object, e).await,
    };
    let psa = work.conn.psa.clone();
    let bkey = business_key(tenant, object.object_type, object.key.as_str(), "paid");
    let result = ctx
        .once(&bkey, &hash_of(&payment), |_look_up_first| async {
            psa.post_employee_payment(&payment).await.map(|p| VpPosted {
                batch: p.batch,
                period: p.period.map(|x| x.as_yyyypp()),
                post_seq: p.post_seq,
            })
        })
        .await?;
    finish_vp(
        ctx,
        tenant,
        object,
        result,
        format!("Expense payment of report {}", object.key),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payment_keys_fit_a_vp_batch_and_differ_per_payment() {
        let a = payment_key(Uuid::from_u128(u128::MAX));
        let b = payment_key(Uuid::from_u128(1));
        assert_eq!(a.len(), 25);
        assert_eq!(b.len(), 25);
        assert_ne!(a, b);
        assert!(format!("Exact{a}").len() <= 32);
    }

    #[test]
    fn invoice_keys_read_back_with_or_without_a_project_suffix() {
        let (inv, period, seq) =
            parse_invoice_key("0001.23.202606.7.P100").unwrap_or_else(|| panic!("parse"));
        assert_eq!(inv, "0001.23");
        assert_eq!(period.as_yyyypp(), 202606);
        assert_eq!(seq, 7);
        assert!(parse_invoice_key("INV-9.202601.1").is_some());
        assert!(parse_invoice_key("garbage").is_none());
    }
}
