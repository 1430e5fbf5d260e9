//! What was synced where: Ledgerlink's own record (the status store: objects in Success per type, the
//! errors with their messages, what is still pending) next to what the emulators hold now (their
//! inspection surface: new Exact documents since this run started, VP cash receipts and payments).
//! Printed after each round and written to `summary.json` in the data dir.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use ledgerlink_domain::{ObjectType, SyncStatus, TenantId};
use ledgerlink_emulators::exact::ExactEmulator;
use ledgerlink_emulators::vantagepoint::{PaymentKind, VantagepointEmulator};
use ledgerlink_flows::firm_sync::EXACT_FIRM_PREFIX;
use ledgerlink_ports::{Fix, ObjectStatus, PageRequest, StateStores, StatusFilter, StoreResult};
use serde::Serialize;

use crate::demo::{CaseTarget, DemoCase};

/// Exact Online entity sets the summary counts.
const ACCOUNTS: &str = "crm/Accounts";
const SALES_ENTRIES: &str = "salesentry/SalesEntries";
const PURCHASE_ENTRIES: &str = "purchaseentry/PurchaseEntries";
const JOURNAL_ENTRIES: &str = "generaljournalentry/GeneralJournalEntries";

/// What the emulators hold, counted through their inspection surface.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct EmulatorCounts {
    pub exact_accounts: usize,
    pub exact_sales_entries: usize,
    pub exact_purchase_entries: usize,
    pub exact_journal_entries: usize,
    pub vp_cash_receipts: usize,
    pub vp_ap_payments: usize,
    pub vp_expense_payments: usize,
    /// Firms in Vantagepoint (clients and vendors, including those created from Exact accounts).
    pub vp_firms: usize,
}

impl EmulatorCounts {
    /// Counts now. A set the emulator cannot list counts as zero (it always can; this keeps the summary
    /// printable whatever happens).
    pub fn read(exact: &ExactEmulator, division: i32, vp: &VantagepointEmulator) -> Self {
        let count = |set: &str| {
            exact
                .entities(division, set)
                .map(|rows| rows.len())
                .unwrap_or(0)
        };
        let payments = vp.payments();
        Self {
            exact_accounts: count(ACCOUNTS),
            exact_sales_entries: count(SALES_ENTRIES),
            exact_purchase_entries: count(PURCHASE_ENTRIES),
            exact_journal_entries: count(JOURNAL_ENTRIES),
            vp_cash_receipts: vp.cash_receipts().iter().filter(|c| c.posted).count(),
            vp_ap_payments: payments
                .iter()
                .filter(|p| p.kind == PaymentKind::Vendor)
                .count(),
            vp_expense_payments: payments
                .iter()
                .filter(|p| p.kind == PaymentKind::Employee)
                .count(),
            vp_firms: vp.firms().len(),
        }
    }

    /// What was added since `baseline` (the demo data the emulators started with).
    pub fn since(&self, baseline: &Self) -> Self {
        Self {
            exact_accounts: self.exact_accounts.saturating_sub(baseline.exact_accounts),
            exact_sales_entries: self
                .exact_sales_entries
                .saturating_sub(baseline.exact_sales_entries),
            exact_purchase_entries: self
                .exact_purchase_entries
                .saturating_sub(baseline.exact_purchase_entries),
            exact_journal_entries: self
                .exact_journal_entries
                .saturating_sub(baseline.exact_journal_entries),
            vp_cash_receipts: self
                .vp_cash_receipts
                .saturating_sub(baseline.vp_cash_receipts),
            vp_ap_payments: self.vp_ap_payments.saturating_sub(baseline.vp_ap_payments),
            vp_expense_payments: self
                .vp_expense_payments
                .saturating_sub(baseline.vp_expense_payments),
            vp_firms: self.vp_firms.saturating_sub(baseline.vp_firms),
        }
    }
}

/// One object in Error, as the summary lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorLine {
    pub object_type: ObjectType,
    pub key: String,
    pub message: String,
    /// What to do about it, when the page offers it (the status's fix: a lookup row, a firm to sync).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<Fix>,
    /// Why the demo refuses this one on purpose; `None`: not a deliberate case.
    pub deliberate: Option<String>,
}

/// How one demo case came out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CaseLine {
    pub label: String,
    /// What it is in Ledgerlink (`invoice 000000010800.202612.1`, `2 cash receipts`, a mail file name).
    pub what: String,
    /// `success`, `error`, `pending`, … or `missing`; a deliberate refusal reads `error`.
    pub status: String,
    pub message: Option<String>,
    /// Why the refusal is deliberate, for the cases the demo refuses on purpose.
    pub deliberate: Option<String>,
    /// The case came out as the demo means it to (synced, or refused on purpose).
    pub as_meant: bool,
}

/// Ledgerlink's record (Success per object type) plus the emulators' view.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Objects in Success, by object type (e.g. `invoice`, `cash-receipt`).
    pub synced: BTreeMap<String, u64>,
    /// Firms created in Vantagepoint from accounts created in Exact (firm objects keyed `exact:{ledger id}`;
    /// also counted under `firm` in `synced`).
    pub vp_firms_from_exact: u64,
    /// Objects per status.
    pub statuses: BTreeMap<String, u64>,
    /// New in the emulators since this run started (the demo data they started with excluded).
    pub emulators: EmulatorCounts,
    /// What the emulators hold now (the demo data they started with included).
    pub emulators_total: EmulatorCounts,
    pub errors: Vec<ErrorLine>,
    /// The demo's cases, each with its outcome.
    pub cases: Vec<CaseLine>,
    /// Mail files in the data dir's `mail/` folder.
    pub mails: Vec<String>,
}

/// Every status of a tenant (paged through; the demo holds a few dozen objects).
pub async fn all_statuses(
    stores: &StateStores,
    tenant: &TenantId,
) -> StoreResult<Vec<ObjectStatus>> {
    let mut out = Vec::new();
    let mut page = PageRequest::first(500);
    loop {
        let got = stores
            .statuses
            .list(tenant, &StatusFilter::default(), page.clone())
            .await?;
        out.extend(got.items);
        match got.next_cursor {
            Some(c) => page.cursor = Some(c),
            None => return Ok(out),
        }
    }
}

impl Summary {
    /// Builds the summary from the statuses and the emulators' counts since the start.
    pub fn build(statuses: &[ObjectStatus], emulators: EmulatorCounts) -> Self {
        let mut summary = Summary {
            emulators,
            ..Summary::default()
        };
        for s in statuses {
            *summary.statuses.entry(s.status.to_string()).or_default() += 1;
            match s.status {
                SyncStatus::Success => {
                    if s.object.object_type == ObjectType::Firm
                        && s.object.key.as_str().starts_with(EXACT_FIRM_PREFIX)
                    {
                        summary.vp_firms_from_exact += 1;
                    }
                    *summary
                        .synced
                        .entry(s.object.object_type.to_string())
                        .or_default() += 1
                }
                SyncStatus::Error => summary.errors.push(ErrorLine {
                    object_type: s.object.object_type,
                    key: s.object.key.to_string(),
                    message: s.last_message.clone().unwrap_or_default(),
                    fix: s.fix.clone(),
                    deliberate: None,
                }),
                _ => {}
            }
        }
        summary
            .errors
            .sort_by(|a, b| (a.object_type, &a.key).cmp(&(b.object_type, &b.key)));
        summary
    }

    /// Adds what the emulators hold in all (the summary prints it beside what is new this run).
    pub fn with_emulator_totals(mut self, totals: EmulatorCounts) -> Self {
        self.emulators_total = totals;
        self
    }

    /// Adds the demo's cases: each one's outcome, and the deliberate ones marked among the errors.
    pub fn with_cases(
        mut self,
        cases: &[DemoCase],
        statuses: &[ObjectStatus],
        mail_dir: &Path,
    ) -> Self {
        let mut mails: Vec<String> = std::fs::read_dir(mail_dir)
            .map(|dir| {
                dir.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.ends_with(".eml"))
                    .collect()
            })
            .unwrap_or_default();
        mails.sort();
        for case in cases {
            let line = match &case.target {
                CaseTarget::Object(object_type, key) => {
                    let found = statuses.iter().find(|s| {
                        s.object.object_type == *object_type && s.object.key.as_str() == key
                    });
                    let status = found.map(|s| s.status);
                    if let (Some(SyncStatus::Error), Some(why)) = (status, case.deliberate) {
                        for e in self
                            .errors
                            .iter_mut()
                            .filter(|e| e.object_type == *object_type && e.key == *key)
                        {
                            e.deliberate = Some(why.to_owned());
                        }
                    }
                    let as_meant = match case.deliberate {
                        Some(_) if case.fixable => {
                            matches!(status, Some(SyncStatus::Error | SyncStatus::Success))
                        }
                        Some(_) => status == Some(SyncStatus::Error),
                        None => status == Some(SyncStatus::Success),
                    };
                    CaseLine {
                        label: case.label.to_owned(),
                        what: format!("{object_type} {key}"),
                        status: status.map_or("missing".to_owned(), |s| s.to_string()),
                        message: found.and_then(|s| s.last_message.clone()),
                        deliberate: case.deliberate.map(str::to_owned),
                        as_meant,
                    }
                }
                CaseTarget::Mentioning {
                    object_type,
                    text,
                    at_least,
                } => {
                    let hits: Vec<&ObjectStatus> = statuses
                        .iter()
                        .filter(|s| {
                            s.object.object_type == *object_type
                                && s.last_message.as_deref().is_some_and(|m| m.contains(text))
                        })
                        .collect();
                    let ok = hits
                        .iter()
                        .filter(|s| s.status == SyncStatus::Success)
                        .count();
                    CaseLine {
                        label: case.label.to_owned(),
                        what: plural(
                            hits.len() as u64,
                            &object_type.to_string(),
                            &format!("{object_type}s"),
                        ),
                        status: if ok >= *at_least {
                            "success"
                        } else {
                            "missing"
                        }
                        .to_owned(),
                        message: hits.last().and_then(|s| s.last_message.clone()),
                        deliberate: None,
                        as_meant: ok >= *at_least,
                    }
                }
                CaseTarget::Mail { text } => {
                    let file = mails
                        .iter()
                        .find(|m| !text.is_empty() && m.contains(text.as_str()));
                    CaseLine {
                        label: case.label.to_owned(),
                        what: file.map_or_else(|| "no mail".to_owned(), |f| format!("mail/{f}")),
                        status: if file.is_some() { "written" } else { "missing" }.to_owned(),
                        message: None,
                        deliberate: None,
                        as_meant: file.is_some(),
                    }
                }
            };
            self.cases.push(line);
        }
        self.mails = mails;
        self
    }

    /// Objects in Error that are not one of the demo's deliberate refusals.
    pub fn unexpected_errors(&self) -> usize {
        self.errors
            .iter()
            .filter(|e| e.deliberate.is_none())
            .count()
    }

    /// Objects of a type in Success.
    pub fn synced(&self, object_type: ObjectType) -> u64 {
        self.synced
            .get(&object_type.to_string())
            .copied()
            .unwrap_or(0)
    }

    /// Objects in a status.
    pub fn count(&self, status: SyncStatus) -> u64 {
        self.statuses.get(&status.to_string()).copied().unwrap_or(0)
    }
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn first_line(text: &str, max: usize) -> String {
    let line = text.lines().next().unwrap_or("");
    if line.chars().count() <= max {
        line.to_owned()
    } else {
        format!("{}…", line.chars().take(max).collect::<String>())
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Two sources, each saying what it counts: Ledgerlink's record (objects in Success, every round on
        // this data dir) and the emulators (what they hold now; in parentheses what is new since this
        // process started — the emulators start from their demo data on every run).
        let n = |t| self.synced(t);
        let accounts = n(ObjectType::Firm) - self.vp_firms_from_exact + n(ObjectType::Employee);
        let sales = n(ObjectType::Invoice) + n(ObjectType::CreditMemo);
        let purchases = n(ObjectType::ApVoucher) + n(ObjectType::ExpenseReport);
        writeln!(
            f,
            "  Synced (Ledgerlink's record: objects in Success, all rounds on this data dir)"
        )?;
        writeln!(
            f,
            "    to Exact Online : {} linked to an Exact account (created or matched), {} ({}), {} ({}), {}",
            plural(accounts, "firm or employee", "firms and employees"),
            plural(sales, "sales entry", "sales entries"),
            plural(n(ObjectType::CreditMemo), "credit note", "credit notes"),
            plural(purchases, "purchase entry", "purchase entries"),
            plural(
                n(ObjectType::ExpenseReport),
                "expense report",
                "expense reports"
            ),
            plural(n(ObjectType::JournalEntry), "journal", "journals"),
        )?;
        writeln!(
            f,
            "    to Vantagepoint : {}, {}, {}, {}; set-up: {}, {}",
            plural(
                self.vp_firms_from_exact,
                "firm from Exact",
                "firms from Exact"
            ),
            plural(n(ObjectType::CashReceipt), "cash receipt", "cash receipts"),
            plural(n(ObjectType::ApPayment), "AP payment", "AP payments"),
            plural(
                n(ObjectType::ExpensePayment),
                "expense payment",
                "expense payments"
            ),
            plural(n(ObjectType::GlAccount), "G/L account", "G/L accounts"),
            plural(n(ObjectType::TaxCode), "tax code", "tax codes"),
        )?;
        let (t, e) = (&self.emulators_total, &self.emulators);
        let both = |total: usize, new: usize, one: &str, many: &str| {
            format!("{} (+{new})", plural(total as u64, one, many))
        };
        writeln!(
            f,
            "  In the emulators now (they start from their demo data on every run; in parentheses: new since this run started)"
        )?;
        writeln!(
            f,
            "    Exact Online : {}, {}, {}, {}",
            both(t.exact_accounts, e.exact_accounts, "account", "accounts"),
            both(
                t.exact_sales_entries,
                e.exact_sales_entries,
                "sales entry",
                "sales entries"
            ),
            both(
                t.exact_purchase_entries,
                e.exact_purchase_entries,
                "purchase entry",
                "purchase entries"
            ),
            both(
                t.exact_journal_entries,
                e.exact_journal_entries,
                "journal entry",
                "journal entries"
            ),
        )?;
        writeln!(
            f,
            "    Vantagepoint : {}, {}, {}, {}",
            both(t.vp_firms, e.vp_firms, "firm", "firms"),
            both(
                t.vp_cash_receipts,
                e.vp_cash_receipts,
                "cash receipt",
                "cash receipts"
            ),
            both(
                t.vp_ap_payments,
                e.vp_ap_payments,
                "AP payment",
                "AP payments"
            ),
            both(
                t.vp_expense_payments,
                e.vp_expense_payments,
                "expense payment",
                "expense payments"
            ),
        )?;
        let waiting = self.count(SyncStatus::Pending) + self.count(SyncStatus::OutcomeUnknown);
        writeln!(
            f,
            "  Status       : {} success, {} pending, {} error, {} desynchronized, {} not integrated",
            self.count(SyncStatus::Success),
            waiting,
            self.count(SyncStatus::Error),
            self.count(SyncStatus::Desynchronized),
            self.count(SyncStatus::NotIntegrated),
        )?;
        if !self.cases.is_empty() {
            writeln!(f, "  Demo cases   :")?;
            for c in &self.cases {
                let mark = if c.as_meant { "ok " } else { "!! " };
                let outcome = match (&c.deliberate, c.status.as_str()) {
                    (Some(_), "error") => "refused on purpose".to_owned(),
                    (_, status) => status.to_owned(),
                };
                writeln!(f, "    {mark}{} — {}: {outcome}", c.label, c.what)?;
            }
        }
        writeln!(
            f,
            "  Mail         : {} in mail/ (one .eml file each)",
            plural(self.mails.len() as u64, "message", "messages")
        )?;
        if self.errors.is_empty() {
            writeln!(f, "  Errors       : none")?;
        } else {
            let deliberate = self.errors.len() - self.unexpected_errors();
            writeln!(
                f,
                "  Errors       : {} ({} deliberate, {} unexpected)",
                plural(
                    self.errors.len() as u64,
                    "object refused",
                    "objects refused"
                ),
                deliberate,
                self.unexpected_errors()
            )?;
            for e in &self.errors {
                // Messages often start with the record's own name; say it once.
                let own = format!("{} {}: ", e.object_type, e.key);
                let message = e.message.strip_prefix(&own).unwrap_or(&e.message);
                // ... and a second time when the mapping named it its own way (`ap-voucher V1.(no voucher
                // number): ...`).
                let message = message
                    .strip_prefix(&format!("{} ", e.object_type))
                    .and_then(|rest| rest.split_once(": "))
                    .filter(|(name, _)| name.len() <= 80)
                    .map_or(message, |(_, rest)| rest);
                let tag = if e.deliberate.is_some() {
                    "deliberate"
                } else {
                    "UNEXPECTED"
                };
                writeln!(
                    f,
                    "    - [{tag}] {} {}: {}",
                    e.object_type,
                    e.key,
                    first_line(message, 110)
                )?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_since_the_baseline_never_go_negative() {
        let baseline = EmulatorCounts {
            exact_accounts: 20,
            vp_cash_receipts: 1,
            ..EmulatorCounts::default()
        };
        let now = EmulatorCounts {
            exact_accounts: 32,
            vp_cash_receipts: 0,
            ..EmulatorCounts::default()
        };
        let since = now.since(&baseline);
        assert_eq!(since.exact_accounts, 12);
        assert_eq!(since.vp_cash_receipts, 0);
    }

    #[test]
    fn every_count_says_whose_it_is_and_what_it_counts() {
        let summary = Summary {
            synced: BTreeMap::from([("firm".to_owned(), 30), ("employee".to_owned(), 2)]),
            vp_firms_from_exact: 5,
            emulators: EmulatorCounts {
                exact_accounts: 9,
                ..EmulatorCounts::default()
            },
            emulators_total: EmulatorCounts {
                exact_accounts: 36,
                ..EmulatorCounts::default()
            },
            ..Summary::default()
        };
        let text = summary.to_string();
        assert!(
            text.contains(
                "Synced (Ledgerlink's record: objects in Success, all rounds on this data dir)"
            ),
            "{text}"
        );
        assert!(
            text.contains("to Exact Online : 27 firms and employees linked to an Exact account"),
            "{text}"
        );
        assert!(
            text.contains("In the emulators now (they start from their demo data on every run; in parentheses: new since this run started)"),
            "{text}"
        );
        assert!(text.contains("Exact Online : 36 accounts (+9)"), "{text}");
    }

    #[test]
    fn long_error_messages_are_cut_to_their_first_line() {
        assert_eq!(first_line("short", 10), "short");
        assert_eq!(first_line("abcdefghijkl\nsecond", 5), "abcde…");
    }
}
