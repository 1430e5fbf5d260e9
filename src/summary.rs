//! What was synced where: Ledgerlink's own record (the status store: objects in Success per type, the
//! errors with their messages, what is still pending) next to what the emulators hold now (their
//! inspection surface: new Exact documents since this run started, VP cash receipts and payments).
//! Printed after each round and written to `summary.json` in the data dir.

use std::collections::BTreeMap;
use std::fmt;

use ledgerlink_domain::{ObjectType, SyncStatus, TenantId};
use ledgerlink_emulators::exact::ExactEmulator;
use ledgerlink_emulators::vantagepoint::{PaymentKind, VantagepointEmulator};
use ledgerlink_flows::firm_sync::EXACT_FIRM_PREFIX;
use ledgerlink_ports::{ObjectStatus, PageRequest, StateStores, StatusFilter, StoreResult};
use serde::Serialize;

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
    pub errors: Vec<ErrorLine>,
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
                }),
                _ => {}
            }
        }
        summary
            .errors
            .sort_by(|a, b| (a.object_type, &a.key).cmp(&(b.object_type, &b.key)));
        summary
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
        let n = |t| self.synced(t);
        let accounts = n(ObjectType::Firm) - self.vp_firms_from_exact + n(ObjectType::Employee);
        let sales = n(ObjectType::Invoice) + n(ObjectType::CreditMemo);
        let purchases = n(ObjectType::ApVoucher) + n(ObjectType::ExpenseReport);
        writeln!(
            f,
            "  Exact Online : {}, {} ({}), {} ({}), {}",
            plural(accounts, "account", "accounts"),
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
            "  Vantagepoint : {}, {}, {}, {}; set-up: {}, {}",
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
        let e = &self.emulators;
        writeln!(
            f,
            "  Emulators    : Exact +{} accounts, +{} sales, +{} purchase, +{} journal entries; VP +{} firms, +{} cash receipts, +{} AP payments, +{} expense payments (this run)",
            e.exact_accounts,
            e.exact_sales_entries,
            e.exact_purchase_entries,
            e.exact_journal_entries,
            e.vp_firms,
            e.vp_cash_receipts,
            e.vp_ap_payments,
            e.vp_expense_payments,
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
        if self.errors.is_empty() {
            writeln!(f, "  Errors       : none")?;
        } else {
            writeln!(
                f,
                "  Errors       : {}",
                plural(
                    self.errors.len() as u64,
                    "object refused",
                    "objects refused"
                )
            )?;
            for e in &self.errors {
                // Messages often start with the record's own name; say it once.
                let own = format!("{} {}: ", e.object_type, e.key);
                let message = e.message.strip_prefix(&own).unwrap_or(&e.message);
                writeln!(
                    f,
                    "    - {} {}: {}",
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
    fn long_error_messages_are_cut_to_their_first_line() {
        assert_eq!(first_line("short", 10), "short");
        assert_eq!(first_line("abcdefghijkl\nsecond", 5), "abcde…");
    }
}
