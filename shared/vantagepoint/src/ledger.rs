//! Posted-ledger polling: `PSALedger/{TT}` rows in a half-open `PostDate` window, re-read per batch and
//! grouped into typed documents, enriched from `DataEntry/{tt}Master|{tt}Detail/{Batch}` and `LedgerTax/{TT}`.
//!
//! Exactly once across adjacent windows: the window only *discovers* batches; every document of a
//! discovered batch is assembled from all of its rows, and kept only when its earliest `PostDate` lies in
//! the window. A document whose rows straddle a window boundary therefore belongs to exactly one window.
//!
//! Grouping rules (reference §5.5): AR invoices by `(Invoice, Period, PostSeq)`, skipping tax rows
//! (`InvoiceSection = 'T'`), GL offsets (`AutoEntry = 'Y'`) and rows without an invoice number; a credit
//! memo iff `CreditMemoRefNo` is non-blank. Vouchers by `Vendor + Voucher`, expense reports by
//! `Employee + Voucher`, journal entries and unit postings by `Batch + RefNo` (each within one `Period +
//! PostSeq`), revenue-generation postings (`RG`, no transaction file) by `Period + PostSeq`.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use ledgerlink_domain::CurrencyCode;
use ledgerlink_domain::period::Period;
use ledgerlink_domain::vantagepoint::{
    ApVoucher, ApVoucherLine, ArInvoice, ArInvoiceLine, CreditMemo, ExpenseLine, ExpenseReport,
    JournalEntry, JournalLine, LedgerRow,
};
use ledgerlink_ports::psa::{PostedArDocument, Project, TimeWindow};
use reqwest::Method;
use rust_decimal::Decimal;
use serde_json::Value;

use crate::client::{Idempotency, VantagepointClient};
use crate::decode;
use crate::error::VpError;
use crate::http::Root;
use crate::query::{FilterHash, ListQuery};

/// One posted row: the domain row plus the columns the poller needs that the domain row does not keep.
#[derive(Debug, Clone)]
pub struct PostedRow {
    pub row: LedgerRow,
    pub post_date: Option<DateTime<Utc>>,
    pub desc2: Option<String>,
    pub raw: Value,
}

fn blank(s: &Option<String>) -> bool {
    s.as_deref().is_none_or(|v| v.trim().is_empty())
}

/// Decodes PSALedger rows. Blank strings are dropped first: VP writes `""` for absent values of typed
/// columns (e.g. `TransactionCurrencyCode` on GL offset and payment rows), which the domain row reads as
/// absent only when the column is missing.
pub fn posted_rows(rows: Vec<Value>, context: &str) -> Result<Vec<PostedRow>, VpError> {
    rows.into_iter()
        .map(|raw| {
            let mut cleaned = raw.clone();
            if let Value::Object(map) = &mut cleaned {
                map.retain(|_, v| !v.as_str().is_some_and(|s| s.trim().is_empty()));
            }
            let row: LedgerRow =
                serde_json::from_value(cleaned).map_err(|e| VpError::decode(context, e))?;
            let post_date = raw.get("PostDate").and_then(decode::datetime);
            let desc2 = decode::field_text(&raw, "Desc2");
            Ok(PostedRow {
                row,
                post_date,
                desc2,
                raw,
            })
        })
        .collect()
}

/// The key of a posted AR document.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct InvoiceKey {
    pub invoice: String,
    pub period: Period,
    pub post_seq: u32,
}

/// Whether a row is a billing line of an invoice (not tax, not a GL offset, has an invoice number).
pub fn is_invoice_line(r: &LedgerRow) -> bool {
    !r.auto_entry
        && !blank(&r.invoice)
        && !r
            .invoice_section
            .as_deref()
            .is_some_and(|s| s.trim().eq_ignore_ascii_case("T"))
        && r.period.is_some()
}

fn invoice_key(r: &LedgerRow) -> Option<InvoiceKey> {
    Some(InvoiceKey {
        invoice: r.invoice.clone()?.trim().to_owned(),
        period: r.period?,
        post_seq: r.post_seq,
    })
}

/// Groups invoice lines by `(Invoice, Period, PostSeq)`; returns each group's rows and the earliest
/// `PostDate` of *all* rows of that invoice (tax rows included), which decides its window.
pub fn group_invoices(
    rows: &[PostedRow],
) -> BTreeMap<InvoiceKey, (Vec<PostedRow>, Option<DateTime<Utc>>)> {
    let mut earliest: HashMap<InvoiceKey, DateTime<Utc>> = HashMap::new();
    for r in rows {
        if let (Some(key), Some(at)) = (
            invoice_key(&r.row).filter(|k| !k.invoice.is_empty()),
            r.post_date,
        ) {
            earliest
                .entry(key)
                .and_modify(|e| *e = (*e).min(at))
                .or_insert(at);
        }
    }
    let mut out: BTreeMap<InvoiceKey, (Vec<PostedRow>, Option<DateTime<Utc>>)> = BTreeMap::new();
    for r in rows.iter().filter(|r| is_invoice_line(&r.row)) {
        if let Some(key) = invoice_key(&r.row) {
            let first = earliest.get(&key).copied();
            out.entry(key)
                .or_insert_with(|| (Vec::new(), first))
                .0
                .push(r.clone());
        }
    }
    out
}

/// Generic grouping by a key function over non-offset rows, with the group's earliest PostDate.
fn group_by<K: Ord + Clone>(
    rows: &[PostedRow],
    key: impl Fn(&PostedRow) -> Option<K>,
    keep: impl Fn(&PostedRow) -> bool,
) -> BTreeMap<K, (Vec<PostedRow>, Option<DateTime<Utc>>)> {
    let mut out: BTreeMap<K, (Vec<PostedRow>, Option<DateTime<Utc>>)> = BTreeMap::new();
    for r in rows {
        let Some(k) = key(r) else { continue };
        let entry = out.entry(k).or_insert_with(|| (Vec::new(), None));
        if let Some(at) = r.post_date {
            entry.1 = Some(entry.1.map_or(at, |e: DateTime<Utc>| e.min(at)));
        }
        if keep(r) {
            entry.0.push(r.clone());
        }
    }
    out.retain(|_, (rows, _)| !rows.is_empty());
    out
}

fn in_window(window: &TimeWindow, earliest: Option<DateTime<Utc>>) -> bool {
    earliest.is_some_and(|at| window.contains(at))
}

/// Per-batch DataEntry rows (masters, details) and tax rows, fetched once per batch.
#[derive(Debug, Default)]
struct BatchExtras {
    masters: Vec<Value>,
    details: Vec<Value>,
    control: Option<Value>,
}

/// Tax lines of one posting, by line `PKey`: `(code, tax amount in the transaction currency)`.
type TaxByPkey = HashMap<String, Vec<(String, Decimal)>>;

impl VantagepointClient {
    /// PSALedger rows matching `filter`, every page (`q.maxrows` + `offset`).
    pub async fn ledger_rows(
        &self,
        trans_type: &str,
        filter: FilterHash,
    ) -> Result<Vec<PostedRow>, VpError> {
        let rows = self
            .list_rows(
                Root::Api,
                &["PSALedger", trans_type],
                &ListQuery::filtered(filter),
                self.ledger_paging(),
            )
            .await?;
        posted_rows(rows, &format!("PSALedger/{trans_type}"))
    }

    /// Every row of the batches that have at least one row posted in `window`.
    async fn window_batches(
        &self,
        tt: &str,
        window: TimeWindow,
    ) -> Result<Vec<(String, Vec<PostedRow>)>, VpError> {
        let seen = self
            .ledger_rows(
                tt,
                FilterHash::new().window("PostDate", window.from, window.to),
            )
            .await?;
        let batches: BTreeSet<String> = seen.iter().filter_map(|r| r.row.batch.clone()).collect();
        let mut out = Vec::with_capacity(batches.len());
        for batch in batches {
            let rows = self
                .ledger_rows(tt, FilterHash::new().eq("Batch", batch.clone()))
                .await?;
            out.push((batch, rows));
        }
        Ok(out)
    }

    /// DataEntry rows of one posted batch; absent batches (Interactive Billing, purged entry) are empty.
    async fn batch_extras(&self, tt: &str, batch: &str) -> Result<BatchExtras, VpError> {
        let mut extras = BatchExtras::default();
        for (suffix, target) in [("Master", 0), ("Detail", 1), ("Control", 2)] {
            let table = format!("{tt}{suffix}");
            let answer = self
                .call(
                    Method::GET,
                    Root::Api,
                    &["DataEntry", &table, batch],
                    &[(
                        "q.maxrows".into(),
                        self.config().ledger_max_rows.to_string(),
                    )],
                    None,
                    Idempotency::Idempotent,
                )
                .await;
            let rows = match answer {
                Ok(v) => decode::rows(v),
                Err(VpError::NotFound { .. }) => Vec::new(),
                Err(e) => return Err(e),
            };
            match target {
                0 => extras.masters = rows,
                1 => extras.details = rows,
                _ => extras.control = rows.into_iter().next(),
            }
        }
        Ok(extras)
    }

    /// [`Self::ledger_tax`], read once per posting.
    async fn ledger_tax_cached(
        &self,
        cache: &mut HashMap<(Period, u32), TaxByPkey>,
        tt: &str,
        period: Period,
        post_seq: u32,
    ) -> Result<TaxByPkey, VpError> {
        if let Some(hit) = cache.get(&(period, post_seq)) {
            return Ok(hit.clone());
        }
        let fetched = self.ledger_tax(tt, period, post_seq).await?;
        cache.insert((period, post_seq), fetched.clone());
        Ok(fetched)
    }

    async fn ledger_tax(
        &self,
        tt: &str,
        period: Period,
        post_seq: u32,
    ) -> Result<TaxByPkey, VpError> {
        let filter = FilterHash::new()
            .eq_int("Period", i64::from(period.as_yyyypp()))
            .eq_int("PostSeq", i64::from(post_seq));
        let rows = match self
            .list_rows(
                Root::Api,
                &["LedgerTax", tt],
                &ListQuery::filtered(filter),
                self.ledger_paging(),
            )
            .await
        {
            Ok(rows) => rows,
            Err(VpError::NotFound { .. }) => Vec::new(),
            Err(e) => return Err(e),
        };
        let mut out: TaxByPkey = HashMap::new();
        for row in rows {
            let (Some(pkey), Some(code)) = (
                decode::field_text(&row, "PKey"),
                decode::field_text(&row, "TaxCode"),
            ) else {
                continue;
            };
            let amount = decode::field_decimal(&row, "TransactionTaxAmount")
                .or_else(|| decode::field_decimal(&row, "TaxAmount"))
                .unwrap_or_default();
            out.entry(pkey).or_default().push((code, amount));
        }
        Ok(out)
    }

    // ------------------------------------------------------------------------------------ AR invoices

    /// Posted AR invoices and credit memos whose earliest PostDate is in `window`.
    pub async fn posted_ar_documents(
        &self,
        window: TimeWindow,
    ) -> Result<Vec<PostedArDocument>, VpError> {
        let mut projects: HashMap<String, Option<Project>> = HashMap::new();
        let mut firm_names: HashMap<String, Option<String>> = HashMap::new();
        let mut out = Vec::new();
        for (batch, rows) in self.window_batches("IN", window).await? {
            let groups = group_invoices(&rows);
            let groups: Vec<_> = groups
                .into_iter()
                .filter(|(_, (_, first))| in_window(&window, *first))
                .collect();
            if groups.is_empty() {
                continue;
            }
            let extras = self.batch_extras("in", &batch).await?;
            let mut taxes: HashMap<(Period, u32), TaxByPkey> = HashMap::new();
            for (key, (lines, _)) in groups {
                if let std::collections::hash_map::Entry::Vacant(slot) =
                    taxes.entry((key.period, key.post_seq))
                {
                    slot.insert(self.ledger_tax("IN", key.period, key.post_seq).await?);
                }
                let master = extras.masters.iter().find(|m| {
                    decode::field_text(m, "Invoice").as_deref() == Some(key.invoice.as_str())
                });
                let wbs1 = master
                    .and_then(|m| decode::field_text(m, "WBS1"))
                    .or_else(|| {
                        lines
                            .iter()
                            .find_map(|l| l.row.wbs1.clone().filter(|w| !w.trim().is_empty()))
                    })
                    .unwrap_or_default();
                if !projects.contains_key(&wbs1) && !wbs1.is_empty() {
                    let p = self.project(&wbs1).await?;
                    projects.insert(wbs1.clone(), p);
                }
                let project = projects.get(&wbs1).cloned().flatten();
                let billing_client_id = master
                    .and_then(|m| decode::field_text(m, "BillingClientID"))
                    .or_else(|| project.as_ref().and_then(|p| p.billing_client_id.clone()))
                    .ok_or_else(|| {
                        VpError::decode_msg(
                            format!("invoice {}", key.invoice),
                            "no billing client on the invoice or its project",
                        )
                    })?;
                let primary_client_id = master
                    .and_then(|m| decode::field_text(m, "ClientID"))
                    .or_else(|| project.as_ref().and_then(|p| p.client_id.clone()));
                for id in [Some(&billing_client_id), primary_client_id.as_ref()]
                    .into_iter()
                    .flatten()
                {
                    if !firm_names.contains_key(id) {
                        let name = self
                            .get_one::<Value>(Root::Api, &["firm", id])
                            .await?
                            .and_then(|f| decode::field_text(&f, "Name"));
                        firm_names.insert(id.clone(), name);
                    }
                }
                let tax = taxes
                    .get(&(key.period, key.post_seq))
                    .cloned()
                    .unwrap_or_default();
                let doc = assemble_ar(AssembleAr {
                    key: &key,
                    lines: &lines,
                    master,
                    details: &extras.details,
                    tax: &tax,
                    project: project.as_ref(),
                    billing_client_id: billing_client_id.clone(),
                    billing_client_name: firm_names.get(&billing_client_id).cloned().flatten(),
                    primary_client_name: primary_client_id
                        .as_ref()
                        .and_then(|id| firm_names.get(id).cloned().flatten()),
                    primary_client_id,
                    wbs1,
                    company: extras
                        .control
                        .as_ref()
                        .and_then(|c| decode::field_text(c, "Company")),
                })?;
                out.push(doc);
            }
        }
        Ok(out)
    }

    /// The billing rows of one posted invoice (what a cash receipt is spread over).
    pub async fn invoice_rows(
        &self,
        invoice: &str,
        period: Period,
        post_seq: u32,
    ) -> Result<Vec<LedgerRow>, VpError> {
        let filter = FilterHash::new()
            .eq("Invoice", invoice)
            .eq_int("Period", i64::from(period.as_yyyypp()))
            .eq_int("PostSeq", i64::from(post_seq));
        Ok(self
            .ledger_rows("IN", filter)
            .await?
            .into_iter()
            .map(|r| r.row)
            .filter(is_invoice_line)
            .collect())
    }

    /// The open balance of a posted invoice (`GET /ARReview/ARBalance`, summed over its projects); `None`
    /// when VP lists no balance for it. A receipt's `SourceBalance` and partial-payment checks use it.
    pub async fn invoice_balance(&self, invoice: &str) -> Result<Option<Decimal>, VpError> {
        let query = ListQuery::filtered(FilterHash::new().eq("Invoice", invoice));
        let rows = self
            .list_rows(
                Root::Api,
                &["ARReview", "ARBalance"],
                &query,
                self.hub_paging(),
            )
            .await?;
        let balances: Vec<Decimal> = rows
            .iter()
            .filter(|r| decode::field_text(r, "Invoice").as_deref() == Some(invoice))
            .filter_map(|r| decode::field_decimal(r, "Balance"))
            .collect();
        Ok((!balances.is_empty()).then(|| balances.iter().copied().sum()))
    }

    // --------------------------------------------------------------------------------------- vouchers

    pub async fn posted_vouchers(&self, window: TimeWindow) -> Result<Vec<ApVoucher>, VpError> {
        let mut out = Vec::new();
        for (batch, rows) in self.window_batches("AP", window).await? {
            let groups = group_by(
                &rows,
                |r| {
                    let vendor = r.row.vendor.clone().filter(|v| !v.trim().is_empty())?;
                    Some((
                        vendor,
                        r.row.voucher.clone().unwrap_or_default(),
                        r.row.period?,
                        r.row.post_seq,
                    ))
                },
                |r| !r.row.auto_entry && !is_tax_subtype(&r.row),
            );
            let groups: Vec<_> = groups
                .into_iter()
                .filter(|(_, (_, first))| in_window(&window, *first))
                .collect();
            if groups.is_empty() {
                continue;
            }
            let extras = self.batch_extras("ap", &batch).await?;
            let mut taxes = HashMap::new();
            for ((vendor, voucher, period, post_seq), (lines, _)) in groups {
                let tax = self
                    .ledger_tax_cached(&mut taxes, "AP", period, post_seq)
                    .await?;
                let master = extras.masters.iter().find(|m| {
                    decode::field_text(m, "Vendor").as_deref() == Some(vendor.as_str())
                        && decode::field_text(m, "Voucher").unwrap_or_default() == voucher
                });
                out.push(assemble_voucher(
                    &vendor, &voucher, period, post_seq, &lines, master, &extras, &tax,
                )?);
            }
        }
        Ok(out)
    }

    // -------------------------------------------------------------------------------- expense reports

    pub async fn posted_expense_reports(
        &self,
        window: TimeWindow,
    ) -> Result<Vec<ExpenseReport>, VpError> {
        let mut out = Vec::new();
        for (batch, rows) in self.window_batches("EX", window).await? {
            let groups = group_by(
                &rows,
                |r| {
                    let employee = r.row.employee.clone().filter(|v| !v.trim().is_empty())?;
                    let reference = r
                        .row
                        .voucher
                        .clone()
                        .filter(|v| !v.trim().is_empty())
                        .or_else(|| r.row.ref_no.clone())?;
                    Some((employee, reference, r.row.period?, r.row.post_seq))
                },
                |r| !r.row.auto_entry && !is_tax_subtype(&r.row),
            );
            let groups: Vec<_> = groups
                .into_iter()
                .filter(|(_, (_, first))| in_window(&window, *first))
                .collect();
            if groups.is_empty() {
                continue;
            }
            let extras = self.batch_extras("ex", &batch).await?;
            let mut taxes = HashMap::new();
            for ((employee, reference, period, post_seq), (lines, _)) in groups {
                let tax = self
                    .ledger_tax_cached(&mut taxes, "EX", period, post_seq)
                    .await?;
                let master = extras.masters.iter().find(|m| {
                    decode::field_text(m, "Employee").as_deref() == Some(employee.as_str())
                        && (decode::field_text(m, "Voucher").as_deref() == Some(reference.as_str())
                            || decode::field_text(m, "MasterPKey").as_deref()
                                == Some(reference.as_str()))
                });
                out.push(assemble_expense(
                    &employee, &reference, period, post_seq, &lines, master, &extras, &tax,
                )?);
            }
        }
        Ok(out)
    }

    // -------------------------------------------------------------------------------- journal entries

    /// Posted journals whose earliest PostDate is in `window`: manual journal entries (`JE`), unit
    /// postings (`UN`) and revenue-generation postings (`RG`) — the spec's "journal entries and those
    /// created by revenue generation (no tax codes involved) and unit transactions (no tax codes
    /// involved)". A VP that lists no such postings (a 404 on the type) has none.
    pub async fn posted_journal_entries(
        &self,
        window: TimeWindow,
    ) -> Result<Vec<JournalEntry>, VpError> {
        let mut out = self.posted_batch_journals("JE", window, false).await?;
        out.extend(tolerate_missing(
            self.posted_batch_journals("UN", window, true).await,
        )?);
        out.extend(tolerate_missing(
            self.posted_revenue_generation(window).await,
        )?);
        Ok(out)
    }

    /// Journals entered in transaction files (`JE`, `UN`), grouped by `Batch + RefNo`. `with_offsets`
    /// keeps the GL offsets VP adds (`AutoEntry`): a unit posting's credit side is one.
    async fn posted_batch_journals(
        &self,
        tt: &str,
        window: TimeWindow,
        with_offsets: bool,
    ) -> Result<Vec<JournalEntry>, VpError> {
        let mut out = Vec::new();
        for (batch, rows) in self.window_batches(tt, window).await? {
            let groups = group_by(
                &rows,
                |r| {
                    Some((
                        r.row.ref_no.clone().unwrap_or_default(),
                        r.row.period?,
                        r.row.post_seq,
                    ))
                },
                |r| with_offsets || !r.row.auto_entry,
            );
            let groups: Vec<_> = groups
                .into_iter()
                .filter(|(_, (_, first))| in_window(&window, *first))
                .collect();
            if groups.is_empty() {
                continue;
            }
            let extras = self.batch_extras(&tt.to_ascii_lowercase(), &batch).await?;
            for ((ref_no, period, post_seq), (lines, _)) in groups {
                let master = extras
                    .masters
                    .iter()
                    .find(|m| decode::field_text(m, "RefNo").unwrap_or_default() == ref_no);
                out.push(assemble_journal(
                    Some(&batch),
                    &ref_no,
                    period,
                    post_seq,
                    &lines,
                    master,
                    &extras,
                )?);
            }
        }
        Ok(out)
    }

    /// Revenue-generation postings (`PSALedger/RG`): not a transaction file, so grouped by `Period +
    /// PostSeq` (each run of Revenue Generation is one posting), every row of the posting re-read, the GL
    /// offsets on the unbilled/uninvoiced accounts included — both sides of the journal.
    pub async fn posted_revenue_generation(
        &self,
        window: TimeWindow,
    ) -> Result<Vec<JournalEntry>, VpError> {
        let seen = self
            .ledger_rows(
                "RG",
                FilterHash::new().window("PostDate", window.from, window.to),
            )
            .await?;
        let postings: BTreeSet<(Period, u32)> = seen
            .iter()
            .filter_map(|r| Some((r.row.period?, r.row.post_seq)))
            .collect();
        let mut out = Vec::new();
        for (period, post_seq) in postings {
            let rows = self
                .ledger_rows(
                    "RG",
                    FilterHash::new()
                        .eq_int("Period", i64::from(period.as_yyyypp()))
                        .eq_int("PostSeq", i64::from(post_seq)),
                )
                .await?;
            let first = rows.iter().filter_map(|r| r.post_date).min();
            if !in_window(&window, first) || rows.is_empty() {
                continue;
            }
            let ref_no = rows
                .iter()
                .find_map(|r| r.row.ref_no.clone().filter(|n| !n.trim().is_empty()))
                .unwrap_or_else(|| "RG".to_owned());
            let mut entry = assemble_journal(
                None,
                &ref_no,
                period,
                post_seq,
                &rows,
                None,
                &BatchExtras::default(),
            )?;
            if entry.description.is_none() {
                entry.description = Some(format!("Revenue generation {period}"));
            }
            out.push(entry);
        }
        Ok(out)
    }
}

/// A transaction type this VP does not list (404) has no postings.
fn tolerate_missing<T>(result: Result<Vec<T>, VpError>) -> Result<Vec<T>, VpError> {
    match result {
        Err(VpError::NotFound { .. }) => Ok(Vec::new()),
        other => other,
    }
}

fn is_tax_subtype(r: &LedgerRow) -> bool {
    r.sub_type
        .as_deref()
        .is_some_and(|s| s.trim().eq_ignore_ascii_case("T"))
}

fn currency(
    context: &str,
    candidates: impl IntoIterator<Item = Option<CurrencyCode>>,
) -> Result<CurrencyCode, VpError> {
    candidates
        .into_iter()
        .flatten()
        .next()
        .ok_or_else(|| VpError::decode_msg(context.to_owned(), "no currency on the document"))
}

fn currency_of(row: Option<&Value>, key: &str) -> Option<CurrencyCode> {
    row.and_then(|r| decode::field_text(r, key))
        .and_then(|c| CurrencyCode::parse(&c).ok())
}

fn company_of(extras: &BatchExtras, lines: &[PostedRow]) -> Option<String> {
    extras
        .control
        .as_ref()
        .and_then(|c| decode::field_text(c, "Company"))
        .or_else(|| {
            lines.iter().find_map(|l| {
                l.row
                    .org
                    .as_deref()
                    .and_then(|o| o.split(':').next())
                    .filter(|c| !c.is_empty())
                    .map(str::to_owned)
            })
        })
}

struct AssembleAr<'a> {
    key: &'a InvoiceKey,
    lines: &'a [PostedRow],
    master: Option<&'a Value>,
    details: &'a [Value],
    tax: &'a TaxByPkey,
    project: Option<&'a Project>,
    billing_client_id: String,
    billing_client_name: Option<String>,
    primary_client_id: Option<String>,
    primary_client_name: Option<String>,
    wbs1: String,
    company: Option<String>,
}

/// Builds the typed invoice or credit memo. Ledger revenue rows are credits (negative); invoice lines carry
/// the natural sign (an ordinary line is positive), so ledger amounts are negated.
fn assemble_ar(a: AssembleAr<'_>) -> Result<PostedArDocument, VpError> {
    let context = format!("invoice {}", a.key.invoice);
    let mut lines = Vec::with_capacity(a.lines.len());
    for l in a.lines {
        let r = &l.row;
        let pkey = r.pkey.clone();
        let detail = pkey.as_ref().and_then(|p| {
            a.details
                .iter()
                .find(|d| decode::field_text(d, "PKey").as_deref() == Some(p.as_str()))
        });
        let amount = detail
            .and_then(|d| decode::field_decimal(d, "Amount"))
            .unwrap_or_else(|| -r.transaction_amount.unwrap_or(r.amount));
        let additional = pkey
            .as_ref()
            .and_then(|p| a.tax.get(p))
            .map(|codes| {
                codes
                    .iter()
                    .map(|(c, _)| c.clone())
                    .filter(|c| Some(c) != r.tax_code.as_ref())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        let tax_code = r.tax_code.clone().or_else(|| {
            pkey.as_ref()
                .and_then(|p| a.tax.get(p))
                .and_then(|t| t.first())
                .map(|(c, _)| c.clone())
        });
        lines.push(ArInvoiceLine {
            pkey,
            invoice_section: r.invoice_section.clone(),
            wbs1: r.wbs1.clone(),
            wbs2: r.wbs2.clone(),
            wbs3: r.wbs3.clone(),
            account: decode::account_number(r.account.as_deref().unwrap_or_default()),
            org: r.org.clone(),
            amount,
            amount_billing_currency: r.amount_billing_currency.map(|v| -v),
            tax_code,
            additional_tax_codes: additional,
            description: detail
                .and_then(|d| decode::field_text(d, "Description"))
                .or_else(|| l.desc2.clone()),
            credit_memo_ref_no: r
                .credit_memo_ref_no
                .clone()
                .filter(|s| !s.trim().is_empty()),
        });
    }
    let first = a.lines.first().map(|l| &l.row);
    let trans_date = a
        .master
        .and_then(|m| decode::field_date(m, "TransDate"))
        .or_else(|| first.and_then(|r| r.trans_date))
        .ok_or_else(|| VpError::decode_msg(context.clone(), "no transaction date"))?;
    let currency = currency(
        &context,
        [
            first.and_then(|r| r.transaction_currency),
            currency_of(a.master, "CurrencyCode"),
            a.project.and_then(|p| p.billing_currency),
        ],
    )?;
    let billing_currency = currency_of(a.master, "BillingCurrencyCode")
        .or_else(|| a.project.and_then(|p| p.billing_currency));
    let description = a.master.and_then(|m| {
        decode::field_text(m, "Description").or_else(|| decode::field_text(m, "TransComment"))
    });
    let credit_ref = lines
        .iter()
        .find_map(|l| l.credit_memo_ref_no.clone())
        .or_else(|| {
            a.master
                .and_then(|m| decode::field_text(m, "CreditMemoRefNo"))
        });
    Ok(match credit_ref {
        Some(credit_memo_ref_no) => PostedArDocument::CreditMemo(CreditMemo {
            invoice: a.key.invoice.clone(),
            credit_memo_ref_no,
            period: a.key.period,
            post_seq: a.key.post_seq,
            trans_date,
            description,
            billing_client_id: a.billing_client_id,
            billing_client_name: a.billing_client_name,
            primary_client_id: a.primary_client_id,
            primary_client_name: a.primary_client_name,
            wbs1: Some(a.wbs1).filter(|w| !w.is_empty()),
            currency,
            billing_currency,
            lines,
        }),
        None => PostedArDocument::Invoice(ArInvoice {
            invoice: a.key.invoice.clone(),
            period: a.key.period,
            post_seq: a.key.post_seq,
            trans_date,
            due_date: a.master.and_then(|m| decode::field_date(m, "DueDate")),
            description,
            billing_client_id: a.billing_client_id,
            billing_client_name: a.billing_client_name,
            primary_client_id: a.primary_client_id,
            primary_client_name: a.primary_client_name,
            wbs1: a.wbs1,
            billing_group: a.project.and_then(|p| p.billing_group.clone()),
            currency,
            billing_currency,
            company: a.company,
            lines,
        }),
    })
}

#[allow(clippy::too_many_arguments)]
fn assemble_voucher(
    vendor: &str,
    voucher: &str,
    period: Period,
    post_seq: u32,
    lines: &[PostedRow],
    master: Option<&Value>,
    extras: &BatchExtras,
    tax: &TaxByPkey,
) -> Result<ApVoucher, VpError> {
    let context = format!("voucher {vendor}/{voucher}");
    let first = lines.first().map(|l| &l.row);
    let mut out_lines = Vec::with_capacity(lines.len());
    for l in lines {
        let r = &l.row;
        let detail = r.pkey.as_ref().and_then(|p| {
            extras
                .details
                .iter()
                .find(|d| decode::field_text(d, "PKey").as_deref() == Some(p.as_str()))
        });
        let ledger_tax: Decimal = r
            .pkey
            .as_ref()
            .and_then(|p| tax.get(p))
            .map(|t| t.iter().map(|(_, a)| *a).sum())
            .unwrap_or_default();
        out_lines.push(ApVoucherLine {
            pkey: r.pkey.clone(),
            description: detail
                .and_then(|d| decode::field_text(d, "Description"))
                .or_else(|| l.desc2.clone()),
            wbs1: r.wbs1.clone().filter(|w| !w.trim().is_empty()),
            wbs2: r.wbs2.clone(),
            wbs3: r.wbs3.clone(),
            account: decode::account_number(r.account.as_deref().unwrap_or_default()),
            org: r.org.clone(),
            net_amount: detail
                .and_then(|d| decode::field_decimal(d, "NetAmount"))
                .unwrap_or_else(|| r.transaction_amount.unwrap_or(r.amount)),
            tax_code: r.tax_code.clone(),
            total_tax: detail
                .and_then(|d| decode::field_decimal(d, "TotalTax"))
                .unwrap_or(ledger_tax),
            payment_amount: detail.and_then(|d| decode::field_decimal(d, "PaymentAmount")),
        });
    }
    let invoice_date = master
        .and_then(|m| decode::field_date(m, "InvoiceDate"))
        .or_else(|| first.and_then(|r| r.trans_date))
        .ok_or_else(|| VpError::decode_msg(context.clone(), "no invoice date"))?;
    Ok(ApVoucher {
        vendor: vendor.to_owned(),
        vendor_name: master
            .and_then(|m| decode::field_text(m, "VendorName"))
            .or_else(|| first.and_then(|r| r.desc1.clone())),
        voucher: Some(voucher.to_owned()).filter(|v| !v.is_empty()),
        invoice: master
            .and_then(|m| decode::field_text(m, "Invoice"))
            .or_else(|| first.and_then(|r| r.invoice.clone())),
        invoice_date,
        trans_date: master
            .and_then(|m| decode::field_date(m, "TransDate"))
            .or_else(|| first.and_then(|r| r.trans_date)),
        due_date: master.and_then(|m| decode::field_date(m, "PayDate")),
        period,
        post_seq,
        company: company_of(extras, lines),
        currency: currency(
            &context,
            [
                first.and_then(|r| r.transaction_currency),
                currency_of(master, "CurrencyCode"),
            ],
        )?,
        payment_currency: currency_of(master, "PaymentCurrencyCode"),
        liab_code: master.and_then(|m| decode::field_text(m, "LiabCode")),
        bank_code: master.and_then(|m| decode::field_text(m, "BankCode")),
        pay_terms: master.and_then(|m| decode::field_text(m, "PayTerms")),
        description: master.and_then(|m| decode::field_text(m, "Description")),
        lines: out_lines,
    })
}

#[allow(clippy::too_many_arguments)]
fn assemble_expense(
    employee: &str,
    reference: &str,
    period: Period,
    post_seq: u32,
    lines: &[PostedRow],
    master: Option<&Value>,
    extras: &BatchExtras,
    tax: &TaxByPkey,
) -> Result<ExpenseReport, VpError> {
    let context = format!("expense report {employee}/{reference}");
    let first = lines.first().map(|l| &l.row);
    let mut out_lines = Vec::with_capacity(lines.len());
    for l in lines {
        let r = &l.row;
        let detail = r.pkey.as_ref().and_then(|p| {
            extras
                .details
                .iter()
                .find(|d| decode::field_text(d, "PKey").as_deref() == Some(p.as_str()))
        });
        let ledger_tax: Decimal = r
            .pkey
            .as_ref()
            .and_then(|p| tax.get(p))
            .map(|t| t.iter().map(|(_, a)| *a).sum())
            .unwrap_or_default();
        let net = detail
            .and_then(|d| decode::field_decimal(d, "NetAmount"))
            .unwrap_or_else(|| r.transaction_amount.unwrap_or(r.amount));
        let total_tax = detail
            .and_then(|d| decode::field_decimal(d, "TotalTax"))
            .unwrap_or(ledger_tax);
        out_lines.push(ExpenseLine {
            pkey: r.pkey.clone(),
            trans_date: detail
                .and_then(|d| decode::field_date(d, "TransDate"))
                .or(r.trans_date),
            description: detail
                .and_then(|d| decode::field_text(d, "Description"))
                .or_else(|| l.desc2.clone()),
            wbs1: r.wbs1.clone().filter(|w| !w.trim().is_empty()),
            wbs2: r.wbs2.clone(),
            wbs3: r.wbs3.clone(),
            account: decode::account_number(r.account.as_deref().unwrap_or_default()),
            org: r.org.clone(),
            currency: r.transaction_currency,
            amount: detail
                .and_then(|d| decode::field_decimal(d, "Amount"))
                .unwrap_or(net + total_tax),
            net_amount: net,
            total_tax,
            payment_amount: detail.and_then(|d| decode::field_decimal(d, "PaymentAmount")),
            tax_code: r.tax_code.clone(),
        });
    }
    let report_date = master
        .and_then(|m| decode::field_date(m, "ReportDate"))
        .or_else(|| first.and_then(|r| r.trans_date))
        .ok_or_else(|| VpError::decode_msg(context.clone(), "no report date"))?;
    let paid = master
        .and_then(|m| m.get("PaidStatus").or_else(|| m.get("Paid")))
        .and_then(decode::flag)
        .unwrap_or(false);
    Ok(ExpenseReport {
        employee: employee.to_owned(),
        employee_name: master.and_then(|m| decode::field_text(m, "EmplName")),
        report_name: master
            .and_then(|m| decode::field_text(m, "ReportName"))
            .or_else(|| first.and_then(|r| r.desc1.clone())),
        ref_no: reference.to_owned(),
        report_date,
        due_date: master.and_then(|m| decode::field_date(m, "DueDate")),
        period,
        post_seq,
        company: company_of(extras, lines),
        voucher: Some(reference.to_owned()),
        payment_currency: currency(
            &context,
            [
                currency_of(master, "PaymentCurrencyCode"),
                first.and_then(|r| r.transaction_currency),
            ],
        )?,
        paid,
        amount_paid: master
            .and_then(|m| decode::field_decimal(m, "AmountPaid"))
            .unwrap_or_default(),
        lines: out_lines,
    })
}

fn assemble_journal(
    batch: Option<&str>,
    ref_no: &str,
    period: Period,
    post_seq: u32,
    lines: &[PostedRow],
    master: Option<&Value>,
    extras: &BatchExtras,
) -> Result<JournalEntry, VpError> {
    let context = format!("journal entry {}/{ref_no}", batch.unwrap_or("(no batch)"));
    let first = lines.first().map(|l| &l.row);
    let out_lines = lines
        .iter()
        .map(|l| {
            let r = &l.row;
            let amount = r.transaction_amount.unwrap_or(r.amount);
            JournalLine {
                description: l.desc2.clone(),
                wbs1: r.wbs1.clone().filter(|w| !w.trim().is_empty()),
                wbs2: r.wbs2.clone(),
                wbs3: r.wbs3.clone(),
                account: decode::account_number(r.account.as_deref().unwrap_or_default()),
                org: r.org.clone().filter(|o| !o.trim().is_empty()),
                debit_amount: amount.max(Decimal::ZERO),
                credit_amount: (-amount).max(Decimal::ZERO),
                amount: Some(amount),
                tax_code: r.tax_code.clone(),
            }
        })
        .collect();
    Ok(JournalEntry {
        batch: batch.map(str::to_owned),
        ref_no: ref_no.to_owned(),
        description: master
            .and_then(|m| decode::field_text(m, "Description"))
            .or_else(|| first.and_then(|r| r.desc1.clone())),
        trans_date: master
            .and_then(|m| decode::field_date(m, "TransDate"))
            .or_else(|| first.and_then(|r| r.trans_date))
            .ok_or_else(|| VpError::decode_msg(context.clone(), "no transaction date"))?,
        period,
        post_seq,
        company: company_of(extras, lines),
        currency: currency(
            &context,
            lines
                .iter()
                .map(|l| l.row.transaction_currency)
                .chain([currency_of(master, "CurrencyCode")]),
        )?,
        lines: out_lines,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn row(
        invoice: &str,
        section: &str,
        auto: &str,
        post_date: &str,
        amount: &str,
        credit_ref: &str,
    ) -> Value {
        // The amount is written as VP sends it: a JSON number, kept as its text as the client reads it.
        let amount: Value = ledgerlink_domain::json::parse_lossless(amount).unwrap();
        json!({"Batch":"B1","Period":202606,"PostSeq":59,"PKey":format!("{invoice}-{section}-{amount}"),"WBS1":"2026-001",
            "WBS2":" ","WBS3":" ","Account":"4010","Org":"A0:01","TransType":"IN","SubType":" ","RefNo":invoice,
            "TransDate":"2026-06-15T00:00:00.000","Desc1":"Acme","Desc2":"Fee","Amount":amount,"AutoEntry":auto,
            "Invoice":invoice,"InvoiceSection":section,"TaxCode":"","TransactionAmount":amount,
            "TransactionCurrencyCode":"EUR","CreditMemoRefNo":credit_ref,"PostDate":post_date})
    }

    fn at(s: &str) -> DateTime<Utc> {
        decode::parse_datetime(s).unwrap()
    }

    #[test]
    fn blank_typed_columns_of_offset_rows_decode_as_absent() {
        let mut offset = row("", "", "Y", "2026-06-15T10:00:00.000", "181.5", "");
        offset["TransactionCurrencyCode"] = json!("");
        offset["WBS2"] = json!(" ");
        let rows = posted_rows(vec![offset], "t").unwrap();
        assert_eq!(rows[0].row.transaction_currency, None);
        assert!(rows[0].row.auto_entry);
    }

    #[test]
    fn invoice_grouping_skips_tax_rows_gl_offsets_and_blank_invoices() {
        let rows = posted_rows(
            vec![
                row("0001", "F", "N", "2026-06-15T10:00:00.000", "-100.0", ""),
                row("0001", "R", "N", "2026-06-15T10:00:00.000", "-50.0", ""),
                row("0001", "T", "N", "2026-06-15T10:00:00.000", "-31.5", ""),
                row("", "", "Y", "2026-06-15T10:00:00.000", "181.5", ""),
                row("0002", "F", "N", "2026-06-15T10:00:00.000", "-10.0", ""),
            ],
            "t",
        )
        .unwrap();
        let groups = group_invoices(&rows);
        assert_eq!(groups.len(), 2);
        let key = InvoiceKey {
            invoice: "0001".into(),
            period: Period::from_yyyypp(202606).unwrap(),
            post_seq: 59,
        };
        assert_eq!(groups[&key].0.len(), 2);
    }

    #[test]
    fn a_document_belongs_to_the_window_of_its_earliest_row_only() {
        let rows = posted_rows(
            vec![
                row("0001", "F", "N", "2026-06-15T09:59:59.000", "-100.0", ""),
                row("0001", "T", "N", "2026-06-15T10:00:01.000", "-21.0", ""),
            ],
            "t",
        )
        .unwrap();
        let groups = group_invoices(&rows);
        let (_, first) = groups.values().next().unwrap();
        let before = TimeWindow::new(at("2026-06-15T09:00:00"), at("2026-06-15T10:00:00"));
        let after = TimeWindow::new(at("2026-06-15T10:00:00"), at("2026-06-15T11:00:00"));
        assert!(in_window(&before, *first));
        assert!(!in_window(&after, *first));
    }

    #[test]
    fn ledger_credits_become_positive_invoice_lines_and_credit_memos_are_recognised() {
        let rows = posted_rows(
            vec![row(
                "0003",
                "F",
                "N",
                "2026-06-15T10:00:00.000",
                "40.0",
                "0001",
            )],
            "t",
        )
        .unwrap();
        let key = InvoiceKey {
            invoice: "0003".into(),
            period: Period::from_yyyypp(202606).unwrap(),
            post_seq: 59,
        };
        let doc = assemble_ar(AssembleAr {
            key: &key,
            lines: &rows,
            master: None,
            details: &[],
            tax: &HashMap::new(),
            project: None,
            billing_client_id: "C1".into(),
            billing_client_name: None,
            primary_client_id: None,
            primary_client_name: None,
            wbs1: "2026-001".into(),
            company: None,
        })
        .unwrap();
        match doc {
            PostedArDocument::CreditMemo(cm) => {
                assert_eq!(cm.credit_memo_ref_no, "0001");
                assert_eq!(cm.lines[0].amount, Decimal::from(-40));
                assert_eq!(cm.external_key(), "0003.202606.59");
            }
            other => panic!("expected a credit memo, got {other:?}"),
        }
    }
}
