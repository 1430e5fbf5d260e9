//! The VP bank of a payment read from the ledger (spec, Bank Codes: "Bank names must match in both
//! systems"; "A lookup table will be used to support processing transactions").
//!
//! The `bank-codes` lookup table maps a ledger bank journal to a VP bank code (and the bank's currency, in
//! which payments through it are recorded). When a payment names a journal the table has no row for, the
//! ledger's bank journals and VP's banks are read and matched by name: a unique match is written to the
//! table as a proposed row (an operator can change it) and used; no match or several refuse the payment
//! with a message naming the journal, its name and VP's banks.

use std::collections::BTreeMap;

use ledgerlink_domain::SyncStatus;
use ledgerlink_mapping::ledger_setup::{BankMatch, match_bank};
use ledgerlink_mapping::{BankLink, Lookups};
use ledgerlink_ports::{LookupEntry, LookupTable, ObjectRef, StoreError};

use crate::common::{ledger_failed, psa_failed};
use crate::context::{FlowContext, MessageOutcome, TenantWork};
use crate::error::FlowResult;

/// Who filled a proposed row.
const PROPOSED_BY: &str = "ledgerlink (bank names match)";

/// Makes sure `lookups` knows the VP bank of ledger bank journal `journal`. `Err` holds the outcome
/// already recorded on `object` (a refusal, or a ledger / PSA failure) for the caller to return.
pub(crate) async fn ensure_bank(
    ctx: &FlowContext,
    work: &TenantWork,
    lookups: &mut Lookups,
    journal: &str,
    object: &ObjectRef,
) -> FlowResult<Result<(), MessageOutcome>> {
    let journal = journal.trim();
    if journal.is_empty() || lookups.bank_codes.contains_key(journal) {
        return Ok(Ok(()));
    }
    let exact = match work.conn.ledger.bank_journals().await {
        Ok(j) => j,
        Err(e) => return Ok(Err(ledger_failed(ctx, &work.tenant, object, e).await?)),
    };
    let vp = match work.conn.psa.bank_codes().await {
        Ok(b) => b,
        Err(e) => return Ok(Err(psa_failed(ctx, &work.tenant, object, e).await?)),
    };
    let matched = match match_bank(journal, &exact, &vp) {
        Ok(m) => m,
        Err(e) => {
            let text = format!("{} {}: {e}", object.object_type, object.key);
            ctx.record(object, SyncStatus::Error, Some(text.clone()), None)
                .await?;
            ctx.notify_error(object, &text).await?;
            return Ok(Err(MessageOutcome::Handled));
        }
    };
    let link = propose(ctx, work, &matched).await?;
    lookups.bank_codes.insert(journal.to_owned(), link);
    Ok(Ok(()))
}

/// Writes the proposed row unless one appeared meanwhile, and returns the row that is stored.
async fn propose(ctx: &FlowContext, work: &TenantWork, m: &BankMatch) -> FlowResult<BankLink> {
    let mut columns = BTreeMap::from([
        ("vp_bank_code".to_owned(), m.vp_bank_code.clone()),
        ("exact_name".to_owned(), m.exact_name.clone()),
        ("vp_name".to_owned(), m.vp_name.clone()),
    ]);
    if let Some(c) = m.currency {
        columns.insert("currency".to_owned(), c.to_string());
    }
    let entry = LookupEntry {
        key: m.journal.clone(),
        columns,
        version: 0,
        updated_at: ctx.now(),
        updated_by: PROPOSED_BY.into(),
    };
    match ctx
        .stores
        .lookups
        .put(&work.tenant.id, LookupTable::BankCodes, &entry, None)
        .await
    {
        Ok(_) => {
            tracing::info!(tenant = %work.tenant.id, journal = %m.journal, bank = %m.vp_bank_code, "bank matched by name");
            Ok(BankLink {
                vp_bank_code: m.vp_bank_code.clone(),
                currency: m.currency,
            })
        }
        // An operator or another worker wrote the row first: theirs counts.
        Err(StoreError::Conflict { .. }) => {
            let stored = ctx
                .stores
                .lookups
                .get(&work.tenant.id, LookupTable::BankCodes, &m.journal)
                .await?;
            let code = stored
                .as_ref()
                .and_then(|e| e.columns.get("vp_bank_code").cloned())
                .unwrap_or_else(|| m.vp_bank_code.clone());
            let currency = stored
                .as_ref()
                .and_then(|e| e.columns.get("currency"))
                .and_then(|c| ledgerlink_domain::CurrencyCode::parse(c).ok());
            Ok(BankLink {
                vp_bank_code: code,
                currency,
            })
        }
        Err(e) => Err(e.into()),
    }
}
