//! Discovery of posted Vantagepoint documents (invoice-out, voucher-out): VP has no "posted" event, so a
//! schedule walks `PostDate` windows from the flow's cursor, records each document Pending and enqueues one
//! message per document; the cursor moves past a window only after its messages are sent. The window a
//! document was found in is kept as its source version, so PROCESS re-reads exactly that window.

use chrono::{DateTime, Utc};
use ledgerlink_domain::vantagepoint::{ApVoucher, ExpenseReport, JournalEntry};
use ledgerlink_domain::{Flow, ObjectType, SyncStatus, TenantId};
use ledgerlink_ports::ledger::DocumentKind;
use ledgerlink_ports::psa::{PostedArDocument, Psa, PsaResult, TimeWindow};
use ledgerlink_ports::{Cursor, IdLink, ObjectRef, StoreError, WorkAction};

use crate::common::{key, whole_seconds, window_text, windows};
use crate::context::{FlowContext, TenantWork};
use crate::error::{FlowError, FlowResult};

/// The kinds of posted document a discovery reads; each has its own cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostedKind {
    ArDocuments,
    Vouchers,
    ExpenseReports,
    JournalEntries,
}

impl PostedKind {
    pub fn cursor_name(self) -> &'static str {
        match self {
            Self::ArDocuments => "PSALedger/IN",
            Self::Vouchers => "PSALedger/AP",
            Self::ExpenseReports => "PSALedger/EX",
            Self::JournalEntries => "PSALedger/JE",
        }
    }
    pub fn flow(self) -> Flow {
        match self {
            Self::ArDocuments => Flow::InvoiceOut,
            _ => Flow::VoucherOut,
        }
    }
}

/// One posted document, as read from VP.
#[derive(Debug, Clone)]
pub enum PostedDoc {
    Ar(PostedArDocument),
    Voucher(ApVoucher),
    Expense(ExpenseReport),
    Journal(JournalEntry),
}

/// The object key of an AP voucher: vendor and voucher number, or (no number) vendor, period and post seq.
pub fn voucher_key(voucher: &ApVoucher) -> String {
    match voucher
        .voucher
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
    {
        Some(number) => format!("{}.{}", voucher.vendor, number),
        None => format!(
            "{}.{}.{}.no-voucher",
            voucher.vendor, voucher.period, voucher.post_seq
        ),
    }
}

pub fn expense_key(report: &ExpenseReport) -> String {
    format!("{}.{}", report.employee, report.ref_no)
}

impl PostedDoc {
    pub fn object_type(&self) -> ObjectType {
        match self {
            Self::Ar(PostedArDocument::Invoice(_)) => ObjectType::Invoice,
            Self::Ar(PostedArDocument::CreditMemo(_)) => ObjectType::CreditMemo,
            Self::Voucher(_) => ObjectType::ApVoucher,
            Self::Expense(_) => ObjectType::ExpenseReport,
            Self::Journal(_) => ObjectType::JournalEntry,
        }
    }
    pub fn key(&self) -> String {
        match self {
            Self::Ar(doc) => doc.external_key(),
            Self::Voucher(v) => voucher_key(v),
            Self::Expense(e) => expense_key(e),
            Self::Journal(j) => j.external_key(),
        }
    }
}

/// Reads the posted documents of one kind in one window.
pub async fn read(
    psa: &dyn Psa,
    kind: PostedKind,
    window: TimeWindow,
) -> PsaResult<Vec<PostedDoc>> {
    Ok(match kind {
        PostedKind::ArDocuments => psa
            .posted_ar_documents(window)
            .await?
            .into_iter()
            .map(PostedDoc::Ar)
            .collect(),
        PostedKind::Vouchers => psa
            .posted_vouchers(window)
            .await?
            .into_iter()
            .map(PostedDoc::Voucher)
            .collect(),
        PostedKind::ExpenseReports => psa
            .posted_expense_reports(window)
            .await?
            .into_iter()
            .map(PostedDoc::Expense)
            .collect(),
        PostedKind::JournalEntries => psa
            .posted_journal_entries(window)
            .await?
            .into_iter()
            .map(PostedDoc::Journal)
            .collect(),
    })
}

/// The kind that holds documents of an object type.
pub fn kind_of(object_type: ObjectType) -> Option<PostedKind> {
    match object_type {
        ObjectType::Invoice | ObjectType::CreditMemo => Some(PostedKind::ArDocuments),
        ObjectType::ApVoucher => Some(PostedKind::Vouchers),
        ObjectType::ExpenseReport => Some(PostedKind::ExpenseReports),
        ObjectType::JournalEntry => Some(PostedKind::JournalEntries),
        _ => None,
    }
}

/// What one discovery did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DiscoverReport {
    pub windows: u32,
    pub found: usize,
    pub created: usize,
    pub enqueued: usize,
    /// Documents found already in the ledger under our reference (a state store restored from an older
    /// backup, a new store on the same ledger): linked and recorded Success, not posted again.
    pub linked: usize,
}

impl DiscoverReport {
    pub fn add(&mut self, other: &DiscoverReport) {
        self.windows += other.windows;
        self.found += other.found;
        self.created += other.created;
        self.enqueued += other.enqueued;
        self.linked += other.linked;
    }
}

fn start_of(
    ctx: &FlowContext,
    work: &TenantWork,
    cursor: Option<&Cursor>,
    until: DateTime<Utc>,
) -> DateTime<Utc> {
    cursor
        .and_then(|c| {
            DateTime::parse_from_rfc3339(&c.value)
                .ok()
                .map(|d| d.with_timezone(&Utc))
        })
        .or(work.settings.sync_start)
        .unwrap_or_else(|| {
            until
                - chrono::Duration::from_std(ctx.settings.initial_lookback)
                    .unwrap_or(chrono::Duration::days(30))
        })
}

/// Walks the windows of one kind from its cursor and enqueues what it finds.
pub async fn discover_kind(
    ctx: &FlowContext,
    work: &TenantWork,
    kind: PostedKind,
) -> FlowResult<DiscoverReport> {
    let tenant: &TenantId = &work.tenant.id;
    let division = work.tenant.exact_division;
    let flow = kind.flow();
    let lag = chrono::Duration::from_std(ctx.settings.discover_lag)
        .unwrap_or(chrono::Duration::minutes(1));
    let until = whole_seconds(ctx.now() - lag);
    let mut cursor = ctx
        .stores
        .cursors
        .get(tenant, flow, kind.cursor_name(), division)
        .await?;
    let from = start_of(ctx, work, cursor.as_ref(), until);
    let mut report = DiscoverReport::default();
    for window in windows(
        from,
        until,
        ctx.settings.max_window,
        ctx.settings.max_windows_per_run,
    ) {
        let docs = read(work.conn.psa.as_ref(), kind, window).await?;
        let version = window_text(&window);
        let mut statuses = Vec::with_capacity(docs.len());
        let mut messages = Vec::with_capacity(docs.len());
        for doc in &docs {
            let object = ObjectRef {
                tenant: tenant.clone(),
                object_type: doc.object_type(),
                key: key(&doc.key())?,
            };
            let mut status = ctx.new_status(object.clone(), SyncStatus::Pending);
            status.source_version = Some(version.clone());
            status.last_message = Some("Discovered; waiting to be synchronised".into());
            statuses.push(status);
            messages.push(ctx.message(tenant, object.object_type, &object.key, WorkAction::Sync));
        }
        report.created += ctx.stores.statuses.create_missing(&statuses).await?;
        let linked = link_existing(ctx, work, &docs).await?;
        let messages: Vec<_> = messages
            .into_iter()
            .enumerate()
            .filter(|(i, _)| !linked.contains(i))
            .map(|(_, m)| m)
            .collect();
        report.linked += linked.len();
        ctx.send(flow, &messages).await?;
        report.found += docs.len();
        report.enqueued += messages.len();
        report.windows += 1;
        let next = Cursor {
            tenant: tenant.clone(),
            flow,
            name: kind.cursor_name().to_owned(),
            division,
            value: window.to.to_rfc3339(),
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
            // Another discovery moved the cursor meanwhile: it owns the walk from here; our messages were
            // duplicates at worst, which processing absorbs.
            Err(StoreError::Conflict { .. }) => break,
            Err(e) => return Err(FlowError::Store(e)),
        }
    }
    Ok(report)
}

/// Our ledger reference of a document when it can be told before mapping: an AR document's key (its sales
/// entry's `YourRef`; a billing group split into several entries is left to PROCESS's look-up) and a
/// voucher's [`ledgerlink_mapping::purchases::voucher_reference`].
fn reference_of(doc: &PostedDoc) -> Option<(DocumentKind, String)> {
    match doc {
        PostedDoc::Ar(_) => Some((DocumentKind::Sales, doc.key())),
        PostedDoc::Voucher(v) => v
            .voucher
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(|n| {
                (
                    DocumentKind::Purchase,
                    ledgerlink_mapping::purchases::voucher_reference(&v.vendor, n),
                )
            }),
        PostedDoc::Expense(_) | PostedDoc::Journal(_) => None,
    }
}

/// The message of a discovered document whose look-up in the ledger could not be made at discovery: its
/// first attempt looks it up by our reference before posting.
pub(crate) const LOOK_UP_FIRST: &str =
    "Discovered; waiting to be synchronised (it is looked up in Exact Online before it is posted)";

/// Links the documents of one discovered page that already exist in the ledger under our reference and
/// are not linked in our store (its state was lost: restored from an older backup, or a new store on the
/// same ledger), and records them Success, so they are never posted again. One batched look-up per page
/// (40 references per call), only for documents not yet Success: at most 1 + 1/40 ledger calls per document
/// in the steady state. Returns the indexes of the documents linked (nothing to enqueue for them).
async fn link_existing(
    ctx: &FlowContext,
    work: &TenantWork,
    docs: &[PostedDoc],
) -> FlowResult<std::collections::BTreeSet<usize>> {
    let tenant = &work.tenant.id;
    let mut wanted: Vec<(usize, ObjectRef, DocumentKind, String)> = Vec::new();
    for (i, doc) in docs.iter().enumerate() {
        let Some((kind, reference)) = reference_of(doc) else {
            continue;
        };
        let object = ObjectRef {
            tenant: tenant.clone(),
            object_type: doc.object_type(),
            key: key(&doc.key())?,
        };
        let done = ctx
            .stores
            .statuses
            .get(&object)
            .await?
            .is_some_and(|s| s.status != SyncStatus::Pending || s.attempts > 0);
        let linked = ctx
            .stores
            .links
            .exact_id(tenant, object.object_type, object.key.as_str())
            .await?
            .is_some();
        if !done && !linked {
            wanted.push((i, object, kind, reference));
        }
    }
    let mut linked = std::collections::BTreeSet::new();
    for kind in [DocumentKind::Sales, DocumentKind::Purchase] {
        let references: Vec<String> = wanted
            .iter()
            .filter(|w| w.2 == kind)
            .map(|w| w.3.clone())
            .collect();
        if references.is_empty() {
            continue;
        }
        let found = match work.conn.ledger.find_documents(kind, &references).await {
            Ok(found) => found,
            Err(e) => {
                // Discovery does not wait for the ledger (it may be rate-limited or need reconnecting):
                // these objects are enqueued, and their first attempt looks them up before posting.
                tracing::warn!(error = %e, "could not look up discovered documents in the ledger");
                for (_, object, _, _) in wanted.iter().filter(|w| w.2 == kind) {
                    ctx.update_status(object, |s| {
                        if s.attempts == 0 && s.status == SyncStatus::Pending {
                            s.last_message = Some(LOOK_UP_FIRST.to_owned());
                        }
                    })
                    .await?;
                }
                continue;
            }
        };
        for (i, object, _, reference) in wanted.iter().filter(|w| w.2 == kind) {
            let Some(id) = found.get(reference) else {
                continue;
            };
            let link = IdLink::new(
                tenant.clone(),
                object.object_type,
                object.key.to_string(),
                id.clone(),
                ctx.now(),
            );
            match ctx.stores.links.link(&link).await {
                Ok(()) => {}
                // Linked otherwise meanwhile: PROCESS decides.
                Err(StoreError::Conflict { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
            let message = format!(
                "Already in Exact Online under our reference {reference} (entry {id}); linked, not posted again"
            );
            ctx.update_status(object, |s| {
                s.status = SyncStatus::Success;
                s.target_id = Some(id.clone());
                s.last_message = Some(message.clone());
            })
            .await?;
            linked.insert(*i);
        }
    }
    Ok(linked)
}

/// Re-reads one document from the window recorded at discovery.
pub async fn reread(
    psa: &dyn Psa,
    object: &ObjectRef,
    window: TimeWindow,
) -> PsaResult<Option<PostedDoc>> {
    let Some(kind) = kind_of(object.object_type) else {
        return Ok(None);
    };
    Ok(read(psa, kind, window)
        .await?
        .into_iter()
        .find(|d| d.object_type() == object.object_type && d.key() == object.key.as_str()))
}
