//! The booked lines of every journal (`financialtransaction/TransactionLines`, `sync/Financial/TransactionLines`,
//! reference §5.13, §5.15) and `read/sync/Sync/SyncTimestamp`.
//!
//! The lines are derived from the entries, never stored twice: each sales, purchase and bank entry gives a header
//! row (`LineNumber` 0: the receivables, payables or bank account with the entry's total) and one row per line
//! (the revenue, cost or offset account with the opposite sign); a general journal entry gives its lines.
//! Amounts are debit-positive, so every entry's rows add up to zero before VAT. A row's `Timestamp` is the
//! rowversion of the row it derives from: it moves when that row changes, and a division move renumbers it.
//! Deleted entries show in `sync/Deleted` with `EntityType` 1 (TransactionLines).

use rust_decimal::Decimal;
use serde_json::{Map, Value, json};

use super::{Record, Store, def_of, round2, s};
use crate::exact::model::{self, dec_value, value_dec};

/// Endpoints `read/sync/Sync/SyncTimestamp` accepts in `endPoint` (reference §5.15).
pub(crate) const SYNC_TIMESTAMP_ENDPOINTS: &[&str] = &[
    "QuotationHeaders",
    "QuotationLines",
    "TransactionLines",
    "ItemStorageLocations",
    "ShopOrders",
    "ShopOrderMaterialPlans",
    "ShopOrderRoutingStepPlans",
    "ShopOrderPurchasePlanning",
    "ShopOrderSubOrders",
    "MaterialIssues",
    "BillOfMaterialVersions",
    "BillOfMaterialMaterials",
    "PurchaseOrders",
    "Projects",
    "ProjectPlanning",
    "ProjectWBS",
    "TimeCostTransactions",
    "SalesInvoices",
    "GoodsDeliveries",
    "GoodsDeliveryLines",
    "SalesOrderHeaders",
    "SalesOrderLines",
    "Subscriptions",
    "SubscriptionLines",
];

fn neg(v: Option<&Value>) -> Value {
    v.and_then(value_dec).map_or(Value::Null, |d| dec_value(-d))
}

impl Store {
    /// Every booked line of `division`, in no particular order.
    pub fn transaction_lines(&self, division: i32) -> Vec<Record> {
        let mut out = Vec::new();
        for (path, line_path, sales) in [
            (model::SALES_ENTRIES, model::SALES_ENTRY_LINES, true),
            (model::PURCHASE_ENTRIES, model::PURCHASE_ENTRY_LINES, false),
        ] {
            let ar_ap = self.gl_by_type(division, if sales { 20 } else { 22 });
            for entry in self.rows(division, path) {
                let e = &entry.data;
                let get = |k: &str| e.get(k).cloned().unwrap_or(Value::Null);
                let party = if sales { "Customer" } else { "Supplier" };
                let common = [
                    ("EntryID", get("EntryID")),
                    ("EntryNumber", get("EntryNumber")),
                    ("JournalCode", get("Journal")),
                    ("JournalDescription", get("JournalDescription")),
                    ("Type", get("Type")),
                    ("Date", get("EntryDate")),
                    ("DueDate", get("DueDate")),
                    ("FinancialYear", get("ReportingYear")),
                    ("FinancialPeriod", get("ReportingPeriod")),
                    ("Currency", get("Currency")),
                    ("ExchangeRate", get("Rate")),
                    ("InvoiceNumber", get("InvoiceNumber")),
                    ("YourRef", get("YourRef")),
                    ("PaymentReference", get("PaymentReference")),
                    ("Status", get("Status")),
                    ("Account", get(party)),
                ];
                // The entry's total on the receivables (debit) or payables (credit) account.
                let sign = |v: Option<&Value>| {
                    if sales {
                        v.cloned().unwrap_or(Value::Null)
                    } else {
                        neg(v)
                    }
                };
                let mut head = self.transaction_row(division, entry, entry, &common);
                for (k, v) in [
                    ("ID", get("EntryID")),
                    ("LineNumber", json!(0)),
                    (
                        "GLAccount",
                        ar_ap.clone().map(Value::String).unwrap_or(Value::Null),
                    ),
                    ("AmountFC", sign(e.get("AmountFC"))),
                    ("AmountDC", sign(e.get("AmountDC"))),
                    ("AmountVATFC", sign(e.get("VATAmountFC"))),
                    ("Description", get("Description")),
                ] {
                    head.data.insert(k.into(), v);
                }
                self.describe_accounts(division, &mut head.data);
                out.push(head);
                let rate = e.get("Rate").and_then(value_dec).unwrap_or(Decimal::ONE);
                let entry_id = e.get("EntryID").and_then(s);
                for line in self
                    .rows(division, line_path)
                    .filter(|r| r.data.get("EntryID").and_then(s) == entry_id)
                {
                    let l = &line.data;
                    let amount = l.get("AmountFC").and_then(value_dec).unwrap_or_default();
                    let signed = if sales { -amount } else { amount };
                    let vat = l.get("VATAmountFC");
                    let mut row = self.transaction_row(division, entry, line, &common);
                    for (k, v) in [
                        ("AmountFC", dec_value(signed)),
                        ("AmountDC", dec_value(round2(signed * rate))),
                        (
                            "AmountVATFC",
                            if sales {
                                neg(vat)
                            } else {
                                vat.cloned().unwrap_or(Value::Null)
                            },
                        ),
                    ] {
                        row.data.insert(k.into(), v);
                    }
                    self.copy_line_fields(l, &mut row.data);
                    self.describe_accounts(division, &mut row.data);
                    out.push(row);
                }
            }
        }
        for entry in self.rows(division, model::GJ_ENTRIES) {
            let e = &entry.data;
            let get = |k: &str| e.get(k).cloned().unwrap_or(Value::Null);
            let common = [
                ("EntryID", get("EntryID")),
                ("EntryNumber", get("EntryNumber")),
                ("JournalCode", get("JournalCode")),
                ("JournalDescription", get("JournalDescription")),
                ("Type", get("Type")),
                ("Date", get("Created")),
                ("FinancialYear", get("FinancialYear")),
                ("FinancialPeriod", get("FinancialPeriod")),
                ("Currency", get("Currency")),
                ("ExchangeRate", get("ExchangeRate")),
                ("Status", get("Status")),
            ];
            let entry_id = e.get("EntryID").and_then(s);
            for line in self
                .rows(division, model::GJ_ENTRY_LINES)
                .filter(|r| r.data.get("EntryID").and_then(s) == entry_id)
            {
                let mut row = self.transaction_row(division, entry, line, &common);
                for k in ["AmountFC", "AmountDC", "AmountVATFC", "Account"] {
                    row.data
                        .insert(k.into(), line.data.get(k).cloned().unwrap_or(Value::Null));
                }
                self.copy_line_fields(&line.data, &mut row.data);
                self.describe_accounts(division, &mut row.data);
                out.push(row);
            }
        }
        for entry in self.rows(division, model::BANK_ENTRIES) {
            let e = &entry.data;
            let get = |k: &str| e.get(k).cloned().unwrap_or(Value::Null);
            let entry_id = e.get("EntryID").and_then(s);
            let lines: Vec<&Record> = self
                .rows(division, model::BANK_ENTRY_LINES)
                .filter(|r| r.data.get("EntryID").and_then(s) == entry_id)
                .collect();
            let first_date = lines
                .iter()
                .filter_map(|l| l.data.get("Date").filter(|d| !d.is_null()))
                .next()
                .cloned()
                .unwrap_or_else(|| get("Created"));
            let common = [
                ("EntryID", get("EntryID")),
                ("EntryNumber", get("EntryNumber")),
                ("JournalCode", get("JournalCode")),
                ("JournalDescription", get("JournalDescription")),
                ("Type", json!(40)),
                ("Date", first_date),
                ("FinancialYear", get("FinancialYear")),
                ("FinancialPeriod", get("FinancialPeriod")),
                ("Currency", get("Currency")),
                ("Status", get("Status")),
            ];
            let sum = |k: &str| -> Decimal {
                lines
                    .iter()
                    .filter_map(|l| l.data.get(k).and_then(value_dec))
                    .sum()
            };
            let bank_gl = e
                .get("JournalCode")
                .and_then(s)
                .and_then(|c| self.journal(division, c))
                .and_then(|j| j.data.get("GLAccount").cloned())
                .unwrap_or(Value::Null);
            // The money on the bank account (debit when it came in).
            let mut head = self.transaction_row(division, entry, entry, &common);
            for (k, v) in [
                ("ID", get("EntryID")),
                ("LineNumber", json!(0)),
                ("GLAccount", bank_gl),
                ("AmountFC", dec_value(sum("AmountFC"))),
                ("AmountDC", dec_value(sum("AmountDC"))),
            ] {
                head.data.insert(k.into(), v);
            }
            self.describe_accounts(division, &mut head.data);
            out.push(head);
            for line in lines {
                let l = &line.data;
                let mut row = self.transaction_row(division, entry, line, &common);
                for (k, v) in [
                    ("AmountFC", neg(l.get("AmountFC"))),
                    ("AmountDC", neg(l.get("AmountDC"))),
                    ("AmountVATFC", neg(l.get("AmountVATFC"))),
                    ("Account", l.get("Account").cloned().unwrap_or(Value::Null)),
                    (
                        "InvoiceNumber",
                        l.get("OurRef").cloned().unwrap_or(Value::Null),
                    ),
                ] {
                    row.data.insert(k.into(), v);
                }
                self.copy_line_fields(l, &mut row.data);
                self.describe_accounts(division, &mut row.data);
                out.push(row);
            }
        }
        out
    }

    /// A transaction-line row derived from `source` (its rowversion, its audit fields where it has them, else the
    /// entry's) with the entry's fields.
    fn transaction_row(
        &self,
        division: i32,
        entry: &Record,
        source: &Record,
        common: &[(&str, Value)],
    ) -> Record {
        let mut data = Self::blank(def_of(model::TRANSACTION_LINES));
        for (k, v) in common {
            data.insert((*k).into(), v.clone());
        }
        for k in [
            "Created",
            "Creator",
            "CreatorFullName",
            "Modified",
            "Modifier",
            "ModifierFullName",
        ] {
            if let Some(v) = [source, entry]
                .into_iter()
                .find_map(|r| r.data.get(k).filter(|v| !v.is_null()))
            {
                data.insert(k.into(), v.clone());
            }
        }
        data.insert("Division".into(), json!(division));
        data.insert("Timestamp".into(), json!(source.ts));
        Record {
            data,
            ts: source.ts,
        }
    }

    /// The line's own properties that a transaction line repeats.
    fn copy_line_fields(&self, line: &Map<String, Value>, row: &mut Map<String, Value>) {
        for k in [
            "ID",
            "LineNumber",
            "GLAccount",
            "VATCode",
            "VATPercentage",
            "CostCenter",
            "CostUnit",
            "Project",
            "Quantity",
            "Notes",
            "Item",
        ] {
            if let Some(v) = line.get(k) {
                row.insert(k.into(), v.clone());
            }
        }
        if let Some(d) = line.get("Description").filter(|d| !d.is_null()) {
            row.insert("Description".into(), d.clone());
        }
        if let Some(d) = line.get("Date").filter(|d| !d.is_null()) {
            row.insert("Date".into(), d.clone());
        }
    }

    /// Codes and names of the G/L account and the account a row refers to.
    fn describe_accounts(&self, division: i32, row: &mut Map<String, Value>) {
        if let Some(g) = row
            .get("GLAccount")
            .and_then(s)
            .and_then(|g| self.get(division, model::GL_ACCOUNTS, g))
        {
            let code = g.data.get("Code").cloned().unwrap_or(Value::Null);
            let desc = g.data.get("Description").cloned().unwrap_or(Value::Null);
            row.insert("GLAccountCode".into(), code);
            row.insert("GLAccountDescription".into(), desc);
        }
        if let Some(a) = row
            .get("Account")
            .and_then(s)
            .and_then(|a| self.get(division, model::ACCOUNTS, a))
        {
            let code = a.data.get("Code").cloned().unwrap_or(Value::Null);
            let name = a.data.get("Name").cloned().unwrap_or(Value::Null);
            row.insert("AccountCode".into(), code);
            row.insert("AccountName".into(), name);
        }
    }

    /// `read/sync/Sync/SyncTimestamp`: of the rows of `endpoint` modified at or after `modified_ms` (a
    /// `/Date(ms)/` value), the one with the lowest `Timestamp`, as `(Timestamp, Modified)`.
    pub fn sync_timestamp(
        &self,
        division: i32,
        endpoint: &str,
        modified_ms: i64,
    ) -> Option<(i64, Value)> {
        let rows: Vec<Record> = if endpoint.eq_ignore_ascii_case("TransactionLines") {
            self.transaction_lines(division)
        } else if endpoint.eq_ignore_ascii_case("SalesInvoices") {
            self.rows(division, model::SALES_INVOICES)
                .cloned()
                .collect()
        } else {
            Vec::new()
        };
        rows.into_iter()
            .filter_map(|r| {
                let modified = r.data.get("Modified").cloned()?;
                let ms = modified.as_str().and_then(model::parse_date_ms)?;
                (ms >= modified_ms).then_some((r.ts, modified))
            })
            .min_by_key(|(ts, _)| *ts)
    }
}
