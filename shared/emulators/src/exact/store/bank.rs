//! Bank entries (`financialtransaction/BankEntries` with `BankEntryLines`, reference §5.13) and the payments
//! they carry. The rules:
//! - a bank entry needs `JournalCode` — a bank journal (`Type` 12), else `Invalid: JournalCode` — and at least
//!   one line; each line needs `GLAccount` and `AmountFC` (a line posted on its own also `EntryID`); `Currency`
//!   defaults to the journal's;
//! - "Opening balance plus all bank entry lines should result in the closing balance": when both balances are
//!   sent a difference is refused; when one is sent the other is computed;
//! - a positive `AmountFC` is money in. A line on the receivables (G/L type 20) or payables (type 22) account
//!   whose `OurRef` is the invoice number of an open sales / purchase entry (of the line's `Account` when one is
//!   given) settles that entry: the payment shows in `cashflow/Receivables` / `Payments`,
//!   `sync/Cashflow/PaymentTerms`, `read/financial/ReceivablesList` and the transaction lines exactly as a
//!   payment registered in Exact's UI. More than the open amount is refused; a line without a matching open
//!   entry is booked unmatched;
//! - deleting a bank entry takes its settlements back (the entries are open again).

use std::collections::HashMap;

use chrono::{DateTime, Datelike, Utc};
use rust_decimal::Decimal;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::{OpError, PaymentInput, PaymentRecorded, Store, def_of, round2, s};
use crate::exact::model::{self, P, date_value, dec_value, ms_to_date, value_dec};

/// A bank line to book and the sales / purchase entry it settles.
pub(super) struct BankLine {
    pub data: Map<String, Value>,
    pub settles: Option<String>,
}

/// The bank entry a settlement belongs to.
struct BankRef {
    id: String,
    number: i64,
    journal: String,
    journal_description: Value,
}

/// What one settlement did.
pub(super) struct Settled {
    pub cashflow_row_id: String,
    pub amount: Decimal,
    pub remaining: Decimal,
    pub fully_paid: bool,
}

impl Store {
    /// POST `financialtransaction/BankEntries` (lines inline).
    pub(super) fn create_bank_entry(
        &mut self,
        division: i32,
        data: Map<String, Value>,
        navs: Vec<(String, Vec<Map<String, Value>>)>,
        user: Uuid,
        now: DateTime<Utc>,
    ) -> Result<(String, bool), OpError> {
        let line_def = def_of(model::BANK_ENTRY_LINES);
        let mut lines = Vec::new();
        for raw in navs
            .into_iter()
            .filter(|(n, _)| n == "BankEntryLines")
            .flat_map(|(_, l)| l)
        {
            let (fields, _) = Self::read_body(line_def, &raw, P, false)?;
            let mut line = Self::blank(line_def);
            line.extend(fields);
            lines.push(BankLine {
                data: line,
                settles: None,
            });
        }
        self.book_bank_entry(division, data, lines, user, now)
            .map(|(id, _)| (id, true))
    }

    /// POST `financialtransaction/BankEntryLines`: one more line on an existing bank entry (its closing balance
    /// moves with it).
    pub(super) fn create_bank_entry_line(
        &mut self,
        division: i32,
        line: Map<String, Value>,
        user: Uuid,
        now: DateTime<Utc>,
    ) -> Result<(String, bool), OpError> {
        let mut msgs = Vec::new();
        let entry = line.get("EntryID").and_then(s).map(str::to_owned);
        let header = entry
            .as_deref()
            .and_then(|e| self.get(division, model::BANK_ENTRIES, e))
            .map(|r| r.data.clone());
        match (&entry, &header) {
            (None, _) => msgs.push("Mandatory: EntryID".into()),
            (Some(_), None) => msgs.push("Invalid reference: EntryID".into()),
            _ => {}
        }
        let mut line = BankLine {
            data: line,
            settles: None,
        };
        let mut pending = HashMap::new();
        self.check_bank_line(division, &mut line, &mut pending, &mut msgs);
        let (Some(entry), Some(mut header)) = (entry, header) else {
            return Err(OpError::Validation(msgs));
        };
        if !msgs.is_empty() {
            return Err(OpError::Validation(msgs));
        }
        let bank = BankRef {
            id: entry.clone(),
            number: header
                .get("EntryNumber")
                .and_then(Value::as_i64)
                .unwrap_or(0),
            journal: header
                .get("JournalCode")
                .and_then(s)
                .unwrap_or_default()
                .to_owned(),
            journal_description: header
                .get("JournalDescription")
                .cloned()
                .unwrap_or(Value::Null),
        };
        let n = self
            .rows(division, model::BANK_ENTRY_LINES)
            .filter(|r| r.data.get("EntryID").and_then(s) == Some(entry.as_str()))
            .count();
        let amount = line
            .data
            .get("AmountFC")
            .and_then(value_dec)
            .unwrap_or_default();
        let (id, _) = self.put_bank_line(
            division,
            &bank,
            n + 1,
            line,
            model::today_ms(now),
            user,
            now,
        );
        if let Some(c) = header.get("ClosingBalanceFC").and_then(value_dec) {
            header.insert("ClosingBalanceFC".into(), dec_value(c + amount));
        }
        self.stamp_modified(&mut header, user, now);
        self.put(division, model::BANK_ENTRIES, entry.clone(), header);
        self.emit(division, def_of(model::BANK_ENTRY_LINES), "Update", &entry);
        Ok((id, true))
    }

    /// Checks one line (references, amount, the entry it settles) and finds the open entry its `OurRef` names.
    fn check_bank_line(
        &self,
        division: i32,
        line: &mut BankLine,
        pending: &mut HashMap<String, Decimal>,
        msgs: &mut Vec<String>,
    ) {
        let line_def = def_of(model::BANK_ENTRY_LINES);
        Self::required(line_def, &line.data, msgs);
        let gl = line.data.get("GLAccount").and_then(s).map(str::to_owned);
        let gl_type = match gl.as_deref() {
            Some(g) => match self.get(division, model::GL_ACCOUNTS, g) {
                Some(r) => r.data.get("Type").and_then(Value::as_i64),
                None => {
                    msgs.push("Invalid reference: GLAccount".into());
                    None
                }
            },
            None => None,
        };
        let account = line.data.get("Account").and_then(s).map(str::to_owned);
        if let Some(a) = account.as_deref()
            && self.get(division, model::ACCOUNTS, a).is_none()
        {
            msgs.push("Invalid reference: Account".into());
        }
        let amount = line
            .data
            .get("AmountFC")
            .and_then(value_dec)
            .unwrap_or_default();
        if line.settles.is_none()
            && let Some(sales) = match gl_type {
                Some(20) => Some(true),
                Some(22) => Some(false),
                _ => None,
            }
            && let Some(number) = line.data.get("OurRef").and_then(Value::as_i64)
        {
            line.settles = self.open_entry_by_number(division, sales, number, account.as_deref());
        }
        let Some(entry) = line.settles.clone() else {
            return;
        };
        let sales = self.get(division, model::SALES_ENTRIES, &entry).is_some();
        let settle = if sales { amount } else { -amount };
        let already = pending.get(&entry).copied().unwrap_or_default();
        let remaining = self.open_amount(division, &entry) - already;
        if settle.is_zero()
            || settle.abs() > remaining.abs()
            || settle.is_sign_negative() != remaining.is_sign_negative()
        {
            msgs.push(format!(
                "Invalid: AmountFC {amount} (open amount of the invoice: {remaining})"
            ));
            return;
        }
        pending.insert(entry, already + settle);
    }

    /// The open sales (or purchase) entry with invoice number `number`, of `account` when given.
    fn open_entry_by_number(
        &self,
        division: i32,
        sales: bool,
        number: i64,
        account: Option<&str>,
    ) -> Option<String> {
        let (path, party) = if sales {
            (model::SALES_ENTRIES, "Customer")
        } else {
            (model::PURCHASE_ENTRIES, "Supplier")
        };
        self.rows(division, path)
            .filter(|r| r.data.get("InvoiceNumber").and_then(Value::as_i64) == Some(number))
            .filter(|r| account.is_none_or(|a| r.data.get(party).and_then(s) == Some(a)))
            .filter_map(|r| r.data.get("EntryID").and_then(s))
            .find(|e| !self.open_amount(division, e).is_zero())
            .map(str::to_owned)
    }

    /// The Receivable / Payment row that is the open item of a sales / purchase entry.
    fn open_item_row(&self, division: i32, entry_id: &str) -> Option<(&'static str, String)> {
        [model::RECEIVABLES, model::PAYMENTS]
            .into_iter()
            .find_map(|cash| {
                self.rows(division, cash)
                    .find(|r| {
                        r.data.get("EntryID").and_then(s) == Some(entry_id)
                            && r.data.get("TransactionEntryID").and_then(s) == Some(entry_id)
                    })
                    .and_then(|r| r.data.get("ID").and_then(s).map(|id| (cash, id.to_owned())))
            })
    }

    /// What is still open on a sales / purchase entry (in the entry's sign).
    fn open_amount(&self, division: i32, entry_id: &str) -> Decimal {
        let Some((cash, key)) = self.open_item_row(division, entry_id) else {
            return Decimal::ZERO;
        };
        let total = self
            .get(division, cash, &key)
            .and_then(|r| r.data.get("AmountDC").and_then(value_dec))
            .unwrap_or_default();
        let paid = self
            .paid
            .get(&(division, entry_id.to_owned()))
            .copied()
            .unwrap_or_default();
        total - paid
    }

    /// Validates and books a bank entry with its lines and settlements. `now` stamps the rows.
    pub(super) fn book_bank_entry(
        &mut self,
        division: i32,
        mut data: Map<String, Value>,
        mut lines: Vec<BankLine>,
        user: Uuid,
        now: DateTime<Utc>,
    ) -> Result<(String, Vec<Settled>), OpError> {
        let def = def_of(model::BANK_ENTRIES);
        let mut msgs = Vec::new();
        Self::required(def, &data, &mut msgs);
        if lines.is_empty() {
            msgs.push("Mandatory: BankEntryLines".into());
        }
        let code = data
            .get("JournalCode")
            .and_then(s)
            .map(|c| c.trim().to_owned());
        let journal = code
            .as_deref()
            .and_then(|c| self.journal(division, c))
            .filter(|j| j.data.get("Type").and_then(Value::as_i64) == Some(12))
            .map(|j| j.data.clone());
        if code.is_some() && journal.is_none() {
            msgs.push("Invalid: JournalCode".into());
        }
        let journal = journal.unwrap_or_default();
        let currency = data
            .get("Currency")
            .and_then(s)
            .or_else(|| journal.get("Currency").and_then(s))
            .unwrap_or("EUR")
            .to_owned();
        if self.get(division, model::CURRENCIES, &currency).is_none() {
            msgs.push("Invalid reference: Currency".into());
        }
        let mut pending = HashMap::new();
        let mut total = Decimal::ZERO;
        for line in &mut lines {
            self.check_bank_line(division, line, &mut pending, &mut msgs);
            total += line
                .data
                .get("AmountFC")
                .and_then(value_dec)
                .unwrap_or_default();
        }
        let opening = data.get("OpeningBalanceFC").and_then(value_dec);
        let closing = data.get("ClosingBalanceFC").and_then(value_dec);
        match (opening, closing) {
            (Some(o), Some(c)) if o + total != c => msgs.push(format!(
                "Invalid: ClosingBalanceFC (opening balance {o} plus all bank entry lines {total} should result in the closing balance, not {c})"
            )),
            (Some(o), None) => {
                data.insert("ClosingBalanceFC".into(), dec_value(o + total));
            }
            (None, Some(c)) => {
                data.insert("OpeningBalanceFC".into(), dec_value(c - total));
            }
            _ => {}
        }
        if !msgs.is_empty() {
            return Err(OpError::Validation(msgs));
        }
        let journal_code = code.unwrap_or_default();
        let wanted = data.get("EntryNumber").and_then(Value::as_i64);
        let number = self.next_entry_number(
            division,
            model::BANK_ENTRIES,
            "JournalCode",
            &journal_code,
            wanted,
        );
        let first_date = lines
            .iter()
            .find_map(|l| {
                l.data
                    .get("Date")
                    .and_then(s)
                    .and_then(model::parse_date_ms)
            })
            .unwrap_or_else(|| model::today_ms(now));
        let day = ms_to_date(first_date).unwrap_or_else(|| ledgerlink_domain::cet::date_at(now));
        let entry_id = self.new_guid();
        let journal_description = journal.get("Description").cloned().unwrap_or(Value::Null);
        for (k, v) in [
            ("EntryID", json!(entry_id)),
            ("JournalCode", json!(journal_code)),
            ("JournalDescription", journal_description.clone()),
            ("Currency", json!(currency)),
            ("EntryNumber", json!(number)),
            ("Status", json!(20)),
            ("StatusDescription", json!("Open")),
        ] {
            data.insert(k.into(), v);
        }
        if data.get("FinancialYear").is_none_or(Value::is_null) {
            data.insert("FinancialYear".into(), json!(day.year()));
        }
        if data.get("FinancialPeriod").is_none_or(Value::is_null) {
            data.insert("FinancialPeriod".into(), json!(day.month()));
        }
        self.stamp_created(&mut data, division, user, now);
        self.put(division, model::BANK_ENTRIES, entry_id.clone(), data);
        let bank = BankRef {
            id: entry_id.clone(),
            number,
            journal: journal_code,
            journal_description,
        };
        let mut settled = Vec::new();
        for (i, line) in lines.into_iter().enumerate() {
            let (_, s) = self.put_bank_line(division, &bank, i + 1, line, first_date, user, now);
            settled.extend(s);
        }
        self.emit(division, def, "Create", &entry_id);
        Ok((entry_id, settled))
    }

    /// Stores one checked line of a bank entry and applies its settlement.
    #[allow(clippy::too_many_arguments)]
    fn put_bank_line(
        &mut self,
        division: i32,
        bank: &BankRef,
        line_number: usize,
        line: BankLine,
        default_date: i64,
        user: Uuid,
        now: DateTime<Utc>,
    ) -> (String, Option<Settled>) {
        let mut d = line.data;
        let id = self.new_guid();
        let amount = d.get("AmountFC").and_then(value_dec).unwrap_or_default();
        let rate = d
            .get("ExchangeRate")
            .and_then(value_dec)
            .filter(|r| !r.is_zero())
            .unwrap_or(Decimal::ONE);
        let date_ms = d
            .get("Date")
            .and_then(s)
            .and_then(model::parse_date_ms)
            .unwrap_or(default_date);
        for (k, v) in [
            ("ID", json!(id)),
            ("EntryID", json!(bank.id)),
            ("EntryNumber", json!(bank.number)),
            ("LineNumber", json!(line_number)),
            ("AmountFC", dec_value(amount)),
            ("AmountDC", dec_value(round2(amount * rate))),
            ("Date", json!(format!("/Date({date_ms})/"))),
        ] {
            d.insert(k.into(), v);
        }
        if let Some(g) = d
            .get("GLAccount")
            .and_then(s)
            .and_then(|g| self.get(division, model::GL_ACCOUNTS, g))
        {
            let code = g.data.get("Code").cloned().unwrap_or(Value::Null);
            let desc = g.data.get("Description").cloned().unwrap_or(Value::Null);
            d.insert("GLAccountCode".into(), code);
            d.insert("GLAccountDescription".into(), desc);
        }
        if let Some(a) = d
            .get("Account")
            .and_then(s)
            .and_then(|a| self.get(division, model::ACCOUNTS, a))
        {
            let code = a.data.get("Code").cloned().unwrap_or(Value::Null);
            let name = a.data.get("Name").cloned().unwrap_or(Value::Null);
            d.insert("AccountCode".into(), code);
            d.insert("AccountName".into(), name);
        }
        let description = d
            .get("Description")
            .and_then(s)
            .unwrap_or("Bank payment")
            .to_owned();
        self.stamp_created(&mut d, division, user, now);
        self.put(division, model::BANK_ENTRY_LINES, id.clone(), d);
        let settled = line.settles.map(|entry| {
            let sales = self.get(division, model::SALES_ENTRIES, &entry).is_some();
            let settle = if sales { amount } else { -amount };
            self.settle(
                division,
                &entry,
                settle,
                json!(format!("/Date({date_ms})/")),
                bank,
                &description,
                user,
                now,
            )
        });
        (id, settled)
    }

    /// Applies a checked payment of `amount` (in the entry's sign) to a sales / purchase entry: a cashflow row
    /// (and PaymentTerms row, same ID) for the payment, the open item updated.
    #[allow(clippy::too_many_arguments)]
    fn settle(
        &mut self,
        division: i32,
        entry_id: &str,
        amount: Decimal,
        date: Value,
        bank: &BankRef,
        description: &str,
        user: Uuid,
        now: DateTime<Utc>,
    ) -> Settled {
        let (cash, open_key) = self
            .open_item_row(division, entry_id)
            .unwrap_or((model::RECEIVABLES, String::new()));
        let line_type = if cash == model::RECEIVABLES { 20 } else { 22 };
        let mut open = self
            .get(division, cash, &open_key)
            .map(|r| r.data.clone())
            .unwrap_or_default();
        let total = open.get("AmountDC").and_then(value_dec).unwrap_or_default();
        let paid = self
            .paid
            .get(&(division, entry_id.to_owned()))
            .copied()
            .unwrap_or_default()
            + amount;
        self.paid.insert((division, entry_id.to_owned()), paid);
        let remaining = total - paid;
        let fully_paid = remaining.is_zero();

        let pay_id = self.new_guid();
        let mut pay = open.clone();
        for (k, v) in [
            ("ID", json!(pay_id)),
            ("AmountDC", dec_value(-amount)),
            ("AmountFC", dec_value(-amount)),
            ("EntryID", json!(bank.id)),
            ("EntryNumber", json!(bank.number)),
            ("EntryDate", date.clone()),
            ("Journal", json!(bank.journal)),
            ("JournalDescription", bank.journal_description.clone()),
            ("Description", json!(description)),
            ("Status", json!(50)),
            ("IsFullyPaid", json!(true)),
            ("LastPaymentDate", date.clone()),
        ] {
            pay.insert(k.into(), v);
        }
        self.stamp_created(&mut pay, division, user, now);
        let mut pay_term = self.term_row(division, &pay, line_type, user, now);
        // A payment's term row is the payment's cashflow row seen through PaymentTerms: one ID for both, so
        // a payment found in the feed can be read again by its ID from Receivables / Payments.
        pay_term.insert("ID".into(), json!(pay_id));
        self.put(division, cash, pay_id.clone(), pay);
        self.put(division, model::PAYMENT_TERMS, pay_id.clone(), pay_term);

        open.insert("IsFullyPaid".into(), json!(fully_paid));
        open.insert("LastPaymentDate".into(), date);
        if fully_paid {
            open.insert("Status".into(), json!(50));
        }
        self.stamp_modified(&mut open, user, now);
        self.put(division, cash, open_key, open);
        self.set_term_status(
            division,
            entry_id,
            if fully_paid { Some(50) } else { None },
            user,
            now,
        );
        Settled {
            cashflow_row_id: pay_id,
            amount,
            remaining,
            fully_paid,
        }
    }

    /// New Timestamps on an entry's PaymentTerms rows, with a new status when given.
    fn set_term_status(
        &mut self,
        division: i32,
        entry_id: &str,
        status: Option<i64>,
        user: Uuid,
        now: DateTime<Utc>,
    ) {
        let term_keys: Vec<String> = self
            .rows(division, model::PAYMENT_TERMS)
            .filter(|r| r.data.get("EntryID").and_then(s) == Some(entry_id))
            .filter_map(|r| r.data.get("ID").and_then(s).map(str::to_owned))
            .collect();
        for k in term_keys {
            if let Some(mut t) = self
                .get(division, model::PAYMENT_TERMS, &k)
                .map(|r| r.data.clone())
            {
                if let Some(st) = status {
                    t.insert("Status".into(), json!(st));
                }
                self.stamp_modified(&mut t, user, now);
                self.put(division, model::PAYMENT_TERMS, k, t);
            }
        }
    }

    /// A deleted bank entry takes its settlements back: the payments' cashflow and PaymentTerms rows go (logged
    /// in `sync/Deleted`), and the entries they paid are open again.
    pub(super) fn unsettle_bank_entry(
        &mut self,
        division: i32,
        bank_id: &str,
        user: Uuid,
        now: DateTime<Utc>,
    ) {
        for cash in [model::RECEIVABLES, model::PAYMENTS] {
            let payments: Vec<(String, String, Decimal)> = self
                .rows(division, cash)
                .filter(|r| r.data.get("EntryID").and_then(s) == Some(bank_id))
                .filter_map(|r| {
                    Some((
                        r.data.get("ID").and_then(s)?.to_owned(),
                        r.data.get("TransactionEntryID").and_then(s)?.to_owned(),
                        -r.data.get("AmountDC").and_then(value_dec)?,
                    ))
                })
                .collect();
            for (id, entry, amount) in payments {
                self.table_mut(division, cash).remove(&id);
                if self
                    .table_mut(division, model::PAYMENT_TERMS)
                    .remove(&id)
                    .is_some()
                {
                    self.log_deleted(division, def_of(model::PAYMENT_TERMS), &id, user, now);
                }
                if let Some(paid) = self.paid.get_mut(&(division, entry.clone())) {
                    *paid -= amount;
                }
                if let Some((c, key)) = self.open_item_row(division, &entry)
                    && let Some(mut open) = self.get(division, c, &key).map(|r| r.data.clone())
                {
                    open.insert("IsFullyPaid".into(), json!(false));
                    open.insert("Status".into(), json!(20));
                    self.stamp_modified(&mut open, user, now);
                    self.put(division, c, key, open);
                }
                self.set_term_status(division, &entry, Some(20), user, now);
            }
        }
    }

    /// Registers a customer receipt (against a sales entry) or a supplier/employee payment (against a purchase
    /// entry) as a bank entry on the receivables / payables account whose line names the invoice — booked
    /// through the same rules as a POST on `financialtransaction/BankEntries`.
    pub fn register_payment(
        &mut self,
        p: &PaymentInput,
        user: Uuid,
    ) -> Result<PaymentRecorded, OpError> {
        let division = p.division;
        let sales = if self
            .get(division, model::SALES_ENTRIES, &p.entry_id)
            .is_some()
        {
            true
        } else if self
            .get(division, model::PURCHASE_ENTRIES, &p.entry_id)
            .is_some()
        {
            false
        } else {
            return Err(OpError::NotFound(format!(
                "No sales or purchase entry {}",
                p.entry_id
            )));
        };
        let Some((cash, open_key)) = self.open_item_row(division, &p.entry_id) else {
            return Err(OpError::NotFound("The entry has no open item".into()));
        };
        let open = self
            .get(division, cash, &open_key)
            .map(|r| r.data.clone())
            .unwrap_or_default();
        let amount = p
            .amount
            .unwrap_or_else(|| self.open_amount(division, &p.entry_id));
        let signed = if sales { amount } else { -amount };
        let description = match (sales, p.employee) {
            (true, _) => "Customer receipt",
            (false, true) => "Employee payment",
            (false, false) => "Supplier payment",
        };
        let gl = self.gl_by_type(division, if sales { 20 } else { 22 });
        let mut line = Self::blank(def_of(model::BANK_ENTRY_LINES));
        for (k, v) in [
            ("GLAccount", gl.map(Value::String).unwrap_or(Value::Null)),
            ("AmountFC", dec_value(signed)),
            (
                "Account",
                open.get("Account").cloned().unwrap_or(Value::Null),
            ),
            ("Date", date_value(p.date)),
            ("Description", json!(description)),
            (
                "OurRef",
                open.get("InvoiceNumber").cloned().unwrap_or(Value::Null),
            ),
        ] {
            line.insert(k.into(), v);
        }
        let mut header = Self::blank(def_of(model::BANK_ENTRIES));
        header.insert(
            "JournalCode".into(),
            json!(p.journal.clone().unwrap_or_else(|| "20".to_owned())),
        );
        header.insert(
            "Currency".into(),
            open.get("Currency").cloned().unwrap_or(json!("EUR")),
        );
        let (bank_entry_id, settled) = self.book_bank_entry(
            division,
            header,
            vec![BankLine {
                data: line,
                settles: Some(p.entry_id.clone()),
            }],
            user,
            p.date,
        )?;
        let settled = settled
            .into_iter()
            .next()
            .ok_or_else(|| OpError::NotFound("The entry has no open item".into()))?;
        Ok(PaymentRecorded {
            bank_entry_id,
            cashflow_row_id: settled.cashflow_row_id,
            amount: settled.amount,
            remaining: settled.remaining,
            fully_paid: settled.fully_paid,
        })
    }
}
