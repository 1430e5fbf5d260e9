//! PROCESS of the finance documents going out (invoice-out and voucher-out): one posted VP document per
//! message, mapped by the mapping crate and posted to the ledger exactly once per business key.
//!
//! The steps: gate (action / status / paused connection; the attempt is recorded before any write) →
//! re-read the document from its discovery window → build the lookups it needs (billing client via the
//! firm link, billing-group projects, vendor, employee) → map (a mapping refusal, e.g. a negative invoice or
//! a voucher without number, is an Error with the mapping's message and an operator notification) → post
//! each ledger document under its business key (`find_existing_first` after any unfinished or unknown
//! attempt) → link VP key and ledger id, record Success.

use std::collections::BTreeMap;

use ledgerlink_domain::exact::{GeneralJournalEntry, PurchaseEntry, SalesEntry};
use ledgerlink_domain::{ObjectType, SyncStatus, VatCode};
use ledgerlink_mapping::{ConfigError, Lookups, MappingError, combined_key};
use ledgerlink_ports::ledger::{Ledger, LedgerResult, Posted, SalesDocumentKind};
use ledgerlink_ports::psa::{PostedArDocument, PsaError};
use ledgerlink_ports::{IdLink, LookupEntry, LookupTable, ObjectRef, StoreError, WorkMessage};
use serde::Serialize;

use crate::common::{
    Gate, busy, gate, ledger_failed, mapping_failed, mismatch, object_of, parse_window, psa_failed,
};
use crate::context::{FlowContext, MessageOutcome, Once, TenantWork, business_key, hash_of};
use crate::error::FlowResult;
use crate::lookups;
use crate::posted::{PostedDoc, reread};

/// One ledger document to post for a VP document (a non-consolidated billing group gives several).
#[derive(Debug, Clone, Serialize)]
pub enum LedgerWrite {
    Sales {
        kind: SalesDocumentKind,
        reference: String,
        entry: SalesEntry,
    },
    Purchase {
        reference: String,
        entry: PurchaseEntry,
    },
    Journal {
        reference: String,
        entry: GeneralJournalEntry,
    },
}

impl LedgerWrite {
    /// Our reference of the ledger document (its `YourRef`, or the journal's reference).
    pub fn reference(&self) -> &str {
        match self {
            Self::Sales { reference, .. }
            | Self::Purchase { reference, .. }
            | Self::Journal { reference, .. } => reference,
        }
    }

    async fn post(&self, ledger: &dyn Ledger, find_first: bool) -> LedgerResult<Posted> {
        match self {
            Self::Sales { kind, entry, .. } => {
                ledger.post_sales_document(*kind, entry, find_first).await
            }
            Self::Purchase { entry, .. } => ledger.post_purchase_document(entry, find_first).await,
            Self::Journal { reference, entry } => {
                ledger.post_journal(reference, entry, find_first).await
            }
        }
    }
}

/// Why the lookups of a document could not be built: VP did not answer, or a stored row or setting cannot
/// be read.
enum LookupFailure {
    Psa(PsaError),
    Config(ConfigError),
}

impl From<PsaError> for LookupFailure {
    fn from(e: PsaError) -> Self {
        Self::Psa(e)
    }
}

impl From<ConfigError> for LookupFailure {
    fn from(e: ConfigError) -> Self {
        Self::Config(e)
    }
}

/// The tax codes a document's lines carry (several on a line = a combined tax).
fn tax_code_sets(doc: &PostedDoc) -> Vec<Vec<String>> {
    let owned = |codes: Vec<&str>| codes.into_iter().map(str::to_owned).collect::<Vec<_>>();
    match doc {
        PostedDoc::Ar(PostedArDocument::Invoice(inv)) => {
            inv.lines.iter().map(|l| owned(l.tax_codes())).collect()
        }
        PostedDoc::Ar(PostedArDocument::CreditMemo(memo)) => {
            memo.lines.iter().map(|l| owned(l.tax_codes())).collect()
        }
        PostedDoc::Voucher(v) => v
            .lines
            .iter()
            .map(|l| l.tax_code.iter().cloned().collect())
            .collect(),
        PostedDoc::Expense(e) => e
            .lines
            .iter()
            .map(|l| l.tax_code.iter().cloned().collect())
            .collect(),
        PostedDoc::Journal(_) => Vec::new(),
    }
}

/// For each combination of tax codes on the document without a `combined-tax-codes` row, the Exact VAT code
/// at the combination's summed rate is proposed in the table (when exactly one matches) and used; otherwise
/// the mapping refuses the line naming the missing row. Compound combinations are left to the mapping,
/// which refuses them with their own reason.
async fn propose_combinations(
    ctx: &FlowContext,
    work: &TenantWork,
    lookups: &mut Lookups,
    sets: &[Vec<String>],
) -> FlowResult<()> {
    for codes in sets.iter().filter(|c| c.len() > 1) {
        let refs: Vec<&str> = codes.iter().map(String::as_str).collect();
        let key = combined_key(refs.iter().copied());
        let compound = refs.iter().any(|c| {
            lookups
                .vp_tax_codes
                .get(*c)
                .is_some_and(|t| t.compound_on.is_some())
        });
        if compound || lookups.combined_tax_codes.contains_key(&key) {
            continue;
        }
        let Some(code) = ledgerlink_mapping::ledger_setup::propose_combined_code(&refs, lookups)
        else {
            continue;
        };
        let entry = LookupEntry {
            key: key.clone(),
            columns: BTreeMap::from([
                ("exact_code".to_owned(), code.as_str().to_owned()),
                (
                    "description".to_owned(),
                    "proposed by Ledgerlink: the Exact VAT code at the combined rate".to_owned(),
                ),
            ]),
            version: 0,
            updated_at: ctx.now(),
            updated_by: "ledgerlink".into(),
        };
        match ctx
            .stores
            .lookups
            .put(&work.tenant.id, LookupTable::CombinedTaxCodes, &entry, None)
            .await
        {
            // A row written meanwhile (an operator, another worker) wins: read it back.
            Ok(_) | Err(StoreError::Conflict { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        if let Some(stored) = ctx
            .stores
            .lookups
            .get(&work.tenant.id, LookupTable::CombinedTaxCodes, &key)
            .await?
            && let Some(text) = stored.columns.get("exact_code")
            && let Ok(code) = VatCode::parse(text)
        {
            lookups.combined_tax_codes.insert(key, code);
        }
    }
    Ok(())
}

async fn lookups_for(
    ctx: &FlowContext,
    work: &TenantWork,
    doc: &PostedDoc,
) -> FlowResult<Result<Lookups, LookupFailure>> {
    let sets = tax_code_sets(doc);
    let vp_tax_codes = if sets.iter().any(|s| !s.is_empty()) {
        match work.conn.psa.tax_codes().await {
            Ok(codes) => codes,
            Err(e) => return Ok(Err(e.into())),
        }
    } else {
        Vec::new()
    };
    let mut lk = match lookups::load(ctx, work, &vp_tax_codes).await? {
        Ok(lk) => lk,
        Err(e) => return Ok(Err(e.into())),
    };
    propose_combinations(ctx, work, &mut lk, &sets).await?;
    let added = match doc {
        PostedDoc::Ar(PostedArDocument::Invoice(inv)) => {
            if let Err(e) = lookups::add_firm(ctx, work, &mut lk, &inv.billing_client_id).await? {
                return Ok(Err(e.into()));
            }
            if inv.billing_group.is_some() {
                let mut projects: Vec<String> =
                    inv.lines.iter().filter_map(|l| l.wbs1.clone()).collect();
                projects.push(inv.wbs1.clone());
                if let Some(group) = &inv.billing_group {
                    projects.push(group.main_wbs1.clone());
                }
                projects.sort();
                projects.dedup();
                for wbs1 in projects {
                    let project = match work.conn.psa.project(&wbs1).await {
                        Ok(p) => p,
                        Err(e) => return Ok(Err(e.into())),
                    };
                    if let Some(client) = project.as_ref().and_then(|p| lk.add_project(p))
                        && let Err(e) = lookups::add_firm(ctx, work, &mut lk, &client).await?
                    {
                        return Ok(Err(e.into()));
                    }
                }
            }
            Ok(())
        }
        PostedDoc::Ar(PostedArDocument::CreditMemo(memo)) => {
            lookups::add_firm(ctx, work, &mut lk, &memo.billing_client_id).await?
        }
        PostedDoc::Voucher(v) => lookups::add_vendor(ctx, work, &mut lk, &v.vendor).await?,
        PostedDoc::Expense(e) => lookups::add_employee(ctx, work, &mut lk, &e.employee).await?,
        PostedDoc::Journal(_) => Ok(()),
    };
    Ok(added.map(|()| lk).map_err(LookupFailure::from))
}

/// Maps a VP document to the ledger documents it becomes.
pub fn map(doc: &PostedDoc, lookups: &Lookups) -> Result<Vec<LedgerWrite>, MappingError> {
    use ledgerlink_mapping::{journal, purchases, sales};
    Ok(match doc {
        PostedDoc::Ar(PostedArDocument::Invoice(inv)) => {
            sales::sales_invoice_to_exact(inv, lookups)?
                .into_iter()
                .map(|m| LedgerWrite::Sales {
                    kind: SalesDocumentKind::Invoice,
                    reference: m.external_key,
                    entry: m.entry,
                })
                .collect()
        }
        PostedDoc::Ar(PostedArDocument::CreditMemo(memo)) => {
            let m = sales::credit_note_to_exact(memo, lookups)?;
            vec![LedgerWrite::Sales {
                kind: SalesDocumentKind::CreditNote,
                reference: m.external_key,
                entry: m.entry,
            }]
        }
        PostedDoc::Voucher(v) => {
            let m = purchases::ap_voucher_to_exact(v, lookups)?;
            let reference = m.entry.your_ref.clone().unwrap_or(m.external_key);
            vec![LedgerWrite::Purchase {
                reference,
                entry: m.entry,
            }]
        }
        PostedDoc::Expense(e) => {
            let m = purchases::expense_report_to_exact(e, lookups)?;
            let reference = m.entry.your_ref.clone().unwrap_or(m.external_key);
            vec![LedgerWrite::Purchase {
                reference,
                entry: m.entry,
            }]
        }
        PostedDoc::Journal(j) => {
            let m = journal::journal_to_exact(j, lookups)?;
            vec![LedgerWrite::Journal {
                reference: m.external_key,
                entry: m.entry,
            }]
        }
    })
}

/// PROCESS one Sync / ForceSync message of invoice-out or voucher-out.
pub async fn process(ctx: &FlowContext, message: &WorkMessage) -> FlowResult<MessageOutcome> {
    let object = object_of(message)?;
    let tenant = ctx.tenant(&message.tenant).await?;
    let (find_first, previous) = match gate(ctx, &tenant, &object, message.action).await? {
        Gate::Go {
            find_first,
            previous,
        } => (find_first, previous),
        Gate::Skip(outcome) => return Ok(outcome),
    };
    let Some(window) = previous
        .as_ref()
        .and_then(|p| p.source_version.as_deref())
        .and_then(parse_window)
    else {
        ctx.record(&object, SyncStatus::Error, Some("No discovery window is recorded for this document; it is picked up again by the next discovery".into()), None)
            .await?;
        return Ok(MessageOutcome::Handled);
    };
    let work = ctx.work(tenant).await?;
    let doc = match reread(work.conn.psa.as_ref(), &object, window).await {
        Ok(Some(doc)) => doc,
        Ok(None) => {
            let text =
                "The document is no longer in Vantagepoint's posted ledger (was it unposted?)"
                    .to_owned();
            ctx.record(&object, SyncStatus::Error, Some(text.clone()), None)
                .await?;
            ctx.notify_error(&object, &text).await?;
            return Ok(MessageOutcome::Handled);
        }
        Err(e) => return psa_failed(ctx, &work.tenant, &object, e).await,
    };
    let lookups = match lookups_for(ctx, &work, &doc).await? {
        Ok(lk) => lk,
        Err(LookupFailure::Psa(e)) => return psa_failed(ctx, &work.tenant, &object, e).await,
        Err(LookupFailure::Config(e)) => return lookups::config_failed(ctx, &object, e).await,
    };
    let writes = match map(&doc, &lookups) {
        Ok(w) => w,
        Err(e) => return mapping_failed(ctx, &object, e).await,
    };
    // A document sent before whose hash was cleared by Synchronize (it was Desynchronized, e.g. deleted in
    // the ledger) is re-sent under a new business key; the ledger's look-up by our reference
    // (`find_first`) still prevents a second document when it does exist.
    let generation = match previous.as_ref() {
        Some(p) if p.target_id.is_some() && p.source_hash.is_none() => {
            format!("resent-{}", p.version)
        }
        _ => "posted".to_owned(),
    };
    post_all(ctx, &work, &object, &writes, find_first, &generation).await
}

/// Posts every ledger document of one object once, links them and records Success.
pub(crate) async fn post_all(
    ctx: &FlowContext,
    work: &TenantWork,
    object: &ObjectRef,
    writes: &[LedgerWrite],
    find_first: bool,
    generation: &str,
) -> FlowResult<MessageOutcome> {
    let mut ids = Vec::with_capacity(writes.len());
    for write in writes {
        let bkey = business_key(
            &work.tenant,
            object.object_type,
            write.reference(),
            generation,
        );
        let ledger = work.conn.ledger.clone();
        let posted = ctx
            .once(&bkey, &hash_of(write), |earlier_claim| async move {
                write
                    .post(ledger.as_ref(), find_first || earlier_claim)
                    .await
            })
            .await?;
        match posted {
            Ok(Once::Done(p) | Once::AlreadyDone(p)) => {
                let link = IdLink {
                    tenant: work.tenant.id.clone(),
                    object_type: object.object_type,
                    // One document: linked by the object's key; a split invoice: by each document's key.
                    vp_key: if writes.len() == 1 {
                        object.key.to_string()
                    } else {
                        write.reference().to_owned()
                    },
                    exact_id: p.target_id.clone(),
                    created_at: ctx.now(),
                    sync: None,
                };
                match ctx.stores.links.link(&link).await {
                    Ok(()) => {}
                    // Re-sent after its ledger document was deleted: the link moves to the new document.
                    Err(StoreError::Conflict { .. }) if generation != "posted" => {
                        ctx.stores
                            .links
                            .unlink(&link.tenant, link.object_type, &link.vp_key)
                            .await?;
                        ctx.stores.links.link(&link).await?;
                    }
                    Err(e) => return Err(e.into()),
                }
                ids.push(p.target_id);
            }
            Ok(Once::Busy) => return busy(ctx, object).await,
            Ok(Once::Mismatch) => return mismatch(ctx, object).await,
            Err(e) => return ledger_failed(ctx, &work.tenant, object, e).await,
        }
    }
    ledgerlink_ports::crash::point(ledgerlink_ports::crash::CrashPoint::AfterLink);
    if object.object_type == ObjectType::Invoice {
        crate::payment_in::release_waiting_receipts(ctx, &work.tenant.id, object.key.as_str())
            .await?;
    }
    let hash = hash_of(&writes);
    let what = match object.object_type {
        ObjectType::Invoice => "sales entry",
        ObjectType::CreditMemo => "credit note",
        ObjectType::JournalEntry => "general journal entry",
        _ => "purchase entry",
    };
    let message = format!("Posted to Exact Online as {what} {}", ids.join(", "));
    let target = ids.join(",");
    ctx.update_status(object, |s| {
        s.status = SyncStatus::Success;
        s.target_id = Some(target.clone());
        s.source_hash = Some(hash.clone());
        s.last_message = Some(message.clone());
    })
    .await?;
    Ok(MessageOutcome::Handled)
}
