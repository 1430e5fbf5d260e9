//! PROCESS of the finance documents going out (invoice-out and voucher-out): one posted VP document per
//! message, mapped by the mapping crate and posted to the ledger exactly once per business key.
//!
//! The steps: gate (action / status / paused connection; the attempt is recorded before any write) →
//! re-read the document from its discovery window → build the lookups it needs (billing client via the
//! firm link, billing-group projects, vendor, employee) → map (a mapping refusal, e.g. a negative invoice or
//! a voucher without number, is an Error with the mapping's message and an operator notification) → post
//! each ledger document under its business key (`find_existing_first` after any unfinished or unknown
//! attempt) → link VP key and ledger id, record Success.

use ledgerlink_domain::exact::{GeneralJournalEntry, PurchaseEntry, SalesEntry};
use ledgerlink_domain::{ObjectType, SyncStatus};
use ledgerlink_mapping::{Lookups, MappingError, ProjectBilling};
use ledgerlink_ports::ledger::{Ledger, LedgerResult, Posted, SalesDocumentKind};
use ledgerlink_ports::psa::PostedArDocument;
use ledgerlink_ports::{IdLink, ObjectRef, StoreError, WorkMessage};
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

async fn lookups_for(
    ctx: &FlowContext,
    work: &TenantWork,
    doc: &PostedDoc,
) -> FlowResult<Result<Lookups, ledgerlink_ports::psa::PsaError>> {
    let mut lk = lookups::base(ctx, work).await?;
    match doc {
        PostedDoc::Ar(PostedArDocument::Invoice(inv)) => {
            lookups::add_firm(ctx, work, &mut lk, &inv.billing_client_id).await?;
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
                        Err(e) => return Ok(Err(e)),
                    };
                    if let Some(p) = project {
                        let Some(client) = p.billing_client_id.clone().or(p.client_id.clone())
                        else {
                            continue;
                        };
                        lookups::add_firm(ctx, work, &mut lk, &client).await?;
                        lk.projects.insert(
                            wbs1,
                            ProjectBilling {
                                billing_client_id: client,
                                billing_client_name: None,
                                primary_client_id: p.client_id.clone(),
                                primary_client_name: None,
                            },
                        );
                    }
                }
            }
        }
        PostedDoc::Ar(PostedArDocument::CreditMemo(memo)) => {
            lookups::add_firm(ctx, work, &mut lk, &memo.billing_client_id).await?;
        }
        PostedDoc::Voucher(v) => lookups::add_vendor(ctx, work, &mut lk, &v.vendor).await?,
        PostedDoc::Expense(e) => lookups::add_employee(ctx, work, &mut lk, &e.employee).await?,
        PostedDoc::Journal(_) => {}
    }
    Ok(Ok(lk))
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
        Err(e) => return psa_failed(ctx, &work.tenant, &object, e).await,
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
            .once(&bkey, &hash_of(write), || async move {
                write.post(ledger.as_ref(), find_first).await
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
