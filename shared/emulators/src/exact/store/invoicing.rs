//! `logistics/Items` and the logistic sales invoice (`salesinvoice/SalesInvoices`, its lines and
//! `PrintedSalesInvoices`), with Exact's rules (reference §5.7, §5.9, §5.14):
//! - an item needs `Code` and `Description`; codes are unique per division (`Data already exists.`);
//! - an invoice needs `OrderedBy` (a customer), `Journal` (a sales journal; configurable, see
//!   `ExactConfig::sales_invoice_journal_required`) and lines, each with an `Item`; a line's `GLAccount` comes
//!   from the item's `GLRevenue` (else the division's revenue account), its amount from quantity × price;
//! - `InvoiceNumber` is read-only: assigned at entry from the journal's numbering (shared with sales entries in
//!   that journal); a number the client sends is ignored;
//! - the invoice stays **open** (status 20) and creates no financial transaction until it is processed by a
//!   POST to `PrintedSalesInvoices`; processing sets status 50 and books the sales entry (receivable, payment
//!   term) under the invoice's number; processed invoices cannot be changed, deleted or printed again.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::{OpError, Store, def_of, round2, s};
use crate::exact::model::{self, dec_value, value_dec};

pub(crate) const OPEN: i64 = 20;
pub(crate) const PROCESSED: i64 = 50;

impl Store {
    /// Item rules on POST and PUT: unique code, valid revenue account and VAT code.
    pub(super) fn prepare_item(
        &self,
        division: i32,
        data: &mut Map<String, Value>,
        key: Option<&str>,
        msgs: &mut Vec<String>,
    ) {
        if let Some(code) = data.get("Code").and_then(s).map(str::trim)
            && self.rows(division, model::ITEMS).any(|r| {
                r.data.get("Code").and_then(s).map(str::trim) == Some(code)
                    && r.data.get("ID").and_then(s) != key
            })
        {
            msgs.push("Data already exists.".into());
        }
        if let Some(gl) = data.get("GLRevenue").and_then(s)
            && self.get(division, model::GL_ACCOUNTS, gl).is_none()
        {
            msgs.push("Invalid reference: GLRevenue".into());
        }
        if let Some(vat) = data.get("SalesVatCode").and_then(s)
            && self.vat_code(division, vat).is_none()
        {
            msgs.push("Invalid reference: SalesVatCode".into());
        }
        for (k, v) in [("IsSalesItem", json!(true)), ("Unit", json!("pc"))] {
            if data.get(k).is_none_or(Value::is_null) {
                data.insert(k.into(), v);
            }
        }
    }

    /// The division's default revenue account (type 110), for lines whose item names none.
    fn default_revenue_gl(&self, division: i32) -> Option<String> {
        self.rows(division, model::GL_ACCOUNTS)
            .find(|r| r.data.get("Type").and_then(Value::as_i64) == Some(110))
            .and_then(|r| r.data.get("ID").and_then(s).map(str::to_owned))
    }

    /// Fills a sales invoice line from its item and prices it; messages name what is wrong.
    fn price_invoice_line(
        &self,
        division: i32,
        line: &mut Map<String, Value>,
        msgs: &mut Vec<String>,
    ) {
        let item = match line.get("Item").and_then(s) {
            None => {
                msgs.push("Mandatory: Item".into());
                None
            }
            Some(id) => match self.get(division, model::ITEMS, id) {
                None => {
                    msgs.push("Invalid reference: Item".into());
                    None
                }
                Some(r) => Some(r.data.clone()),
            },
        };
        let Some(item) = &item else {
            // Without a valid item there is no account or price to derive: the item error says it all.
            return;
        };
        {
            if item.get("IsSalesItem").and_then(Value::as_bool) == Some(false) {
                msgs.push("Invalid: Item (not a sales item)".into());
            }
            for (to, from) in [("ItemCode", "Code"), ("ItemDescription", "Description")] {
                line.insert(to.into(), item.get(from).cloned().unwrap_or(Value::Null));
            }
            if line.get("Description").is_none_or(Value::is_null) {
                line.insert(
                    "Description".into(),
                    item.get("Description").cloned().unwrap_or(Value::Null),
                );
            }
            if line.get("GLAccount").is_none_or(Value::is_null) {
                let gl = item
                    .get("GLRevenue")
                    .and_then(s)
                    .map(str::to_owned)
                    .or_else(|| self.default_revenue_gl(division));
                line.insert("GLAccount".into(), gl.map_or(Value::Null, Value::String));
            }
            if line.get("VATCode").is_none_or(Value::is_null)
                && let Some(v) = item.get("SalesVatCode").filter(|v| !v.is_null())
            {
                line.insert("VATCode".into(), v.clone());
            }
            if line.get("UnitPrice").is_none_or(Value::is_null) {
                line.insert(
                    "UnitPrice".into(),
                    item.get("StandardSalesPrice")
                        .cloned()
                        .filter(|v| !v.is_null())
                        .unwrap_or(json!(0)),
                );
            }
        }
        let quantity = line
            .get("Quantity")
            .and_then(value_dec)
            .unwrap_or(Decimal::ONE);
        let price = line
            .get("UnitPrice")
            .and_then(value_dec)
            .unwrap_or_default();
        let discount = line.get("Discount").and_then(value_dec).unwrap_or_default();
        if discount < Decimal::ZERO || discount > Decimal::ONE {
            msgs.push("Invalid: Discount (a fraction between 0 and 1)".into());
        }
        let net_price = round2(price * (Decimal::ONE - discount));
        line.insert("Quantity".into(), dec_value(quantity));
        line.insert("NetPrice".into(), dec_value(net_price));
        if line.get("AmountFC").is_none_or(Value::is_null) {
            line.insert("AmountFC".into(), dec_value(round2(quantity * net_price)));
        }
        self.price_line(division, line, msgs, 1);
    }

    /// Sums an invoice's lines into its header amounts.
    fn total_invoice(&mut self, division: i32, invoice_id: &str) {
        let (mut net, mut vat) = (Decimal::ZERO, Decimal::ZERO);
        for r in self
            .rows(division, model::SALES_INVOICE_LINES)
            .filter(|r| r.data.get("InvoiceID").and_then(s) == Some(invoice_id))
        {
            net += r
                .data
                .get("AmountFC")
                .and_then(value_dec)
                .unwrap_or_default();
            vat += r
                .data
                .get("VATAmountFC")
                .and_then(value_dec)
                .unwrap_or_default();
        }
        if let Some(rec) = self
            .table_mut(division, model::SALES_INVOICES)
            .get_mut(invoice_id)
        {
            for (k, v) in [
                ("AmountFCExclVat", net),
                ("VATAmountFC", vat),
                ("VATAmountDC", vat),
                ("AmountFC", net + vat),
                ("AmountDC", net + vat),
            ] {
                rec.data.insert(k.into(), dec_value(v));
            }
        }
    }

    /// The next number of a sales journal: after every sales entry and every unprocessed sales invoice in it.
    pub(super) fn next_sales_number(&self, division: i32, journal: &str) -> i64 {
        let entries = self
            .rows(division, model::SALES_ENTRIES)
            .filter(|r| r.data.get("Journal").and_then(s).map(str::trim) == Some(journal))
            .filter_map(|r| r.data.get("EntryNumber").and_then(Value::as_i64));
        let invoices = self
            .rows(division, model::SALES_INVOICES)
            .filter(|r| r.data.get("Journal").and_then(s).map(str::trim) == Some(journal))
            .filter_map(|r| r.data.get("InvoiceNumber").and_then(Value::as_i64));
        entries.chain(invoices).max().unwrap_or(0) + 1
    }

    /// POST `salesinvoice/SalesInvoices`.
    pub(super) fn create_sales_invoice(
        &mut self,
        division: i32,
        mut data: Map<String, Value>,
        navs: Vec<(String, Vec<Map<String, Value>>)>,
        user: Uuid,
        now: DateTime<Utc>,
    ) -> Result<(String, bool), OpError> {
        let def = def_of(model::SALES_INVOICES);
        let mut msgs = Vec::new();
        if !self.invoice_journal_required && data.get("Journal").is_none_or(Value::is_null) {
            let first_sales = self
                .rows(division, model::JOURNALS)
                .find(|r| r.data.get("Type").and_then(Value::as_i64) == Some(20))
                .and_then(|r| r.data.get("Code").cloned());
            if let Some(code) = first_sales {
                data.insert("Journal".into(), code);
            }
        }
        Self::required(def, &data, &mut msgs);
        let lines_in: Vec<Map<String, Value>> = navs
            .into_iter()
            .find(|(n, _)| n == "SalesInvoiceLines")
            .map(|(_, l)| l)
            .unwrap_or_default();
        if lines_in.is_empty() {
            msgs.push("Mandatory: SalesInvoiceLines".into());
        }
        let journal = data
            .get("Journal")
            .and_then(s)
            .map(|j| j.trim().to_owned())
            .unwrap_or_default();
        if !journal.is_empty() {
            match self.journal(division, &journal) {
                Some(j) if j.data.get("Type").and_then(Value::as_i64) == Some(20) => {
                    let d = j.data.get("Description").cloned().unwrap_or(Value::Null);
                    data.insert("JournalDescription".into(), d);
                }
                _ => msgs.push("Invalid: Journal".into()),
            }
        }
        for (party, name) in [
            ("OrderedBy", "OrderedByName"),
            ("InvoiceTo", "InvoiceToName"),
            ("DeliverTo", "DeliverToName"),
        ] {
            if party != "OrderedBy" && data.get(party).is_none_or(Value::is_null) {
                let ordered = data.get("OrderedBy").cloned().unwrap_or(Value::Null);
                data.insert(party.into(), ordered);
            }
            let Some(id) = data.get(party).and_then(s).map(str::to_owned) else {
                continue;
            };
            match self.get(division, model::ACCOUNTS, &id) {
                None => msgs.push(format!("Invalid reference: {party}")),
                Some(a) => {
                    let customer = a
                        .data
                        .get("Status")
                        .and_then(s)
                        .is_some_and(|st| st.trim() == "C");
                    if party == "InvoiceTo" && !customer {
                        msgs.push("Invalid: InvoiceTo (Type)".into());
                    }
                    let n = a.data.get("Name").cloned().unwrap_or(Value::Null);
                    data.insert(name.into(), n);
                }
            }
        }
        let currency = data
            .get("Currency")
            .and_then(s)
            .map(str::to_owned)
            .unwrap_or_else(|| "EUR".into());
        if self.get(division, model::CURRENCIES, &currency).is_none() {
            msgs.push("Invalid reference: Currency".into());
        }
        data.insert("Currency".into(), json!(currency));
        let ty = data.get("Type").and_then(Value::as_i64).unwrap_or(8020);
        let type_description = match ty {
            8020 => "Sales invoice",
            8021 => "Sales credit note",
            8023 => "Direct sales invoice",
            8024 => "Direct credit note",
            _ => {
                msgs.push("Invalid: Type".into());
                ""
            }
        };
        let invoice_id = self.new_guid();
        let line_def = def_of(model::SALES_INVOICE_LINES);
        let mut lines = Vec::new();
        for (i, raw) in lines_in.iter().enumerate() {
            let (fields, _) = Self::read_body(line_def, raw, model::P, false)?;
            let mut line = Self::blank(line_def);
            line.extend(fields);
            self.price_invoice_line(division, &mut line, &mut msgs);
            let id = self.new_guid();
            line.insert("ID".into(), json!(id));
            line.insert("InvoiceID".into(), json!(invoice_id));
            line.insert("LineNumber".into(), json!(i + 1));
            lines.push((id, line));
        }
        if !msgs.is_empty() {
            msgs.dedup();
            return Err(OpError::Validation(msgs));
        }
        let number = self.next_sales_number(division, &journal);
        let today = model::today_ms(now);
        let order_date = data
            .get("OrderDate")
            .and_then(s)
            .and_then(model::parse_date_ms)
            .unwrap_or(today);
        for (k, v) in [
            ("InvoiceID", json!(invoice_id)),
            ("Journal", json!(journal)),
            ("InvoiceNumber", json!(number)),
            ("InvoiceDate", json!(format!("/Date({order_date})/"))),
            ("OrderDate", json!(format!("/Date({order_date})/"))),
            ("Type", json!(ty)),
            ("TypeDescription", json!(type_description)),
            ("Status", json!(OPEN)),
            ("StatusDescription", json!("Open")),
            ("DiscountType", json!(1)),
        ] {
            data.insert(k.into(), v);
        }
        if data.get("DueDate").is_none_or(Value::is_null) {
            let due = order_date + 30 * 86_400_000;
            data.insert("DueDate".into(), json!(format!("/Date({due})/")));
        }
        for (id, mut line) in lines {
            self.stamp_created(&mut line, division, user, now);
            self.put(division, model::SALES_INVOICE_LINES, id, line);
        }
        self.stamp_created(&mut data, division, user, now);
        self.put(division, model::SALES_INVOICES, invoice_id.clone(), data);
        self.total_invoice(division, &invoice_id);
        self.emit(division, def, "Create", &invoice_id);
        Ok((invoice_id, true))
    }

    /// The invoice's status, or `NotFound`.
    pub(super) fn invoice_status(&self, division: i32, invoice_id: &str) -> Result<i64, OpError> {
        self.get(division, model::SALES_INVOICES, invoice_id)
            .map(|r| r.data.get("Status").and_then(Value::as_i64).unwrap_or(OPEN))
            .ok_or_else(|| OpError::NotFound("SalesInvoice not found".into()))
    }

    /// Refuses a change to a processed invoice (PUT/DELETE of the invoice or its lines, a new line).
    pub(super) fn guard_invoice_change(
        &self,
        division: i32,
        invoice_id: &str,
    ) -> Result<(), OpError> {
        if self.invoice_status(division, invoice_id)? >= PROCESSED {
            return Err(OpError::Validation(vec![
                "Processed invoices can't be changed anymore.".into(),
            ]));
        }
        Ok(())
    }

    /// POST `salesinvoice/SalesInvoiceLines` (a line added to an open invoice) and PUT of a line.
    pub(super) fn save_invoice_line(
        &mut self,
        division: i32,
        key: Option<&str>,
        mut line: Map<String, Value>,
        user: Uuid,
        now: DateTime<Utc>,
    ) -> Result<(String, bool), OpError> {
        let Some(invoice_id) = line.get("InvoiceID").and_then(s).map(str::to_owned) else {
            return Err(OpError::Validation(vec!["Mandatory: InvoiceID".into()]));
        };
        self.guard_invoice_change(division, &invoice_id)?;
        let mut msgs = Vec::new();
        self.price_invoice_line(division, &mut line, &mut msgs);
        if !msgs.is_empty() {
            return Err(OpError::Validation(msgs));
        }
        let id = match key {
            Some(k) => {
                self.stamp_modified(&mut line, user, now);
                k.to_owned()
            }
            None => {
                let id = self.new_guid();
                let n = self
                    .rows(division, model::SALES_INVOICE_LINES)
                    .filter(|r| r.data.get("InvoiceID").and_then(s) == Some(invoice_id.as_str()))
                    .count();
                line.insert("ID".into(), json!(id));
                line.insert("LineNumber".into(), json!(n + 1));
                self.stamp_created(&mut line, division, user, now);
                id
            }
        };
        self.put(division, model::SALES_INVOICE_LINES, id.clone(), line);
        self.total_invoice(division, &invoice_id);
        self.emit(
            division,
            def_of(model::SALES_INVOICES),
            "Update",
            &invoice_id,
        );
        Ok((id, key.is_none()))
    }

    /// POST `salesinvoice/PrintedSalesInvoices`: processes an open invoice — status 50 and the financial
    /// transaction (a sales entry under the invoice number, with its receivable).
    pub(super) fn print_sales_invoice(
        &mut self,
        division: i32,
        body: Map<String, Value>,
        user: Uuid,
        now: DateTime<Utc>,
    ) -> Result<(String, bool), OpError> {
        let Some(invoice_id) = body.get("InvoiceID").and_then(s).map(str::to_owned) else {
            return Err(OpError::Validation(vec!["Mandatory: InvoiceID".into()]));
        };
        let status = match self.invoice_status(division, &invoice_id) {
            Ok(st) => st,
            Err(_) => {
                return Err(OpError::Validation(vec![
                    "Invalid reference: InvoiceID".into(),
                ]));
            }
        };
        if status >= PROCESSED {
            return Err(OpError::Validation(vec![
                "Invalid: Invoice (already processed)".into(),
            ]));
        }
        let Some(mut invoice) = self
            .get(division, model::SALES_INVOICES, &invoice_id)
            .map(|r| r.data.clone())
        else {
            return Err(OpError::NotFound("SalesInvoice not found".into()));
        };
        if let Some(date) = body.get("InvoiceDate").filter(|v| !v.is_null()) {
            let v = model::coerce(model::Ty::Date, date).map_err(|edm| {
                OpError::BadRequest(format!(
                    "Error processing request stream. Cannot convert the value of property 'InvoiceDate' to type '{edm}'."
                ))
            })?;
            invoice.insert("InvoiceDate".into(), v);
        }
        let credit = matches!(
            invoice.get("Type").and_then(Value::as_i64),
            Some(8021 | 8024)
        );
        let lines: Vec<Map<String, Value>> = {
            let mut rows: Vec<&Map<String, Value>> = self
                .rows(division, model::SALES_INVOICE_LINES)
                .filter(|r| r.data.get("InvoiceID").and_then(s) == Some(invoice_id.as_str()))
                .map(|r| &r.data)
                .collect();
            rows.sort_by_key(|l| l.get("LineNumber").and_then(Value::as_i64).unwrap_or(0));
            rows.into_iter()
                .map(|l| {
                    let mut m = Map::new();
                    for k in ["GLAccount", "VATCode", "Description", "Quantity"] {
                        if let Some(v) = l.get(k).filter(|v| !v.is_null()) {
                            m.insert(k.into(), v.clone());
                        }
                    }
                    let amount = l.get("AmountFC").and_then(value_dec).unwrap_or_default();
                    let vat = l.get("VATAmountFC").and_then(value_dec).unwrap_or_default();
                    let sign = if credit { -Decimal::ONE } else { Decimal::ONE };
                    m.insert("AmountFC".into(), dec_value(sign * amount.abs()));
                    m.insert("VATAmountFC".into(), dec_value(sign * vat.abs()));
                    m
                })
                .collect()
        };
        // Processed first, so the number is free for the entry that books it.
        invoice.insert("Status".into(), json!(PROCESSED));
        invoice.insert("StatusDescription".into(), json!("Processed"));
        self.stamp_modified(&mut invoice, user, now);
        self.put(
            division,
            model::SALES_INVOICES,
            invoice_id.clone(),
            invoice.clone(),
        );
        let entry_def = def_of(model::SALES_ENTRIES);
        let mut entry = Self::blank(entry_def);
        for (to, from) in [
            ("Journal", "Journal"),
            ("Customer", "InvoiceTo"),
            ("EntryDate", "InvoiceDate"),
            ("DueDate", "DueDate"),
            ("YourRef", "YourRef"),
            ("Description", "Description"),
            ("Currency", "Currency"),
            ("PaymentCondition", "PaymentCondition"),
            ("PaymentReference", "PaymentReference"),
            ("InvoiceNumber", "InvoiceNumber"),
            ("EntryNumber", "InvoiceNumber"),
        ] {
            entry.insert(to.into(), invoice.get(from).cloned().unwrap_or(Value::Null));
        }
        for k in ["ReportingPeriod", "ReportingYear"] {
            if let Some(v) = body.get(k).filter(|v| !v.is_null()) {
                entry.insert(k.into(), v.clone());
            }
        }
        if let Err(e) = self.create_entry(
            division,
            entry_def,
            entry,
            vec![("SalesEntryLines".into(), lines)],
            user,
            now,
        ) {
            // Nothing is half-written: the invoice goes back to open.
            invoice.insert("Status".into(), json!(OPEN));
            invoice.insert("StatusDescription".into(), json!("Open"));
            self.put(division, model::SALES_INVOICES, invoice_id.clone(), invoice);
            return Err(e);
        }
        self.emit(
            division,
            def_of(model::SALES_INVOICES),
            "Update",
            &invoice_id,
        );
        Ok((invoice_id, true))
    }
}
