//! Transaction entry (`DataEntry`, reference §5.2–5.4) for every type the reference lists — AP vouchers,
//! cash receipts, AP disbursements, expense reports, invoices, journal entries and timesheets — and the
//! posting of their batches into the ledger (`PostTransFile`, `POST /ledger/{TT}`).
//!
//! A batch is checked whole after every change (create, document added, control or document edited,
//! document deleted): a change that would leave it invalid or out of balance is refused and the stored batch
//! stays as it was. The rules, per type:
//! - every type: the control `Total` equals the sum of the detail amounts (`Amount`; JE: `DebitAmount`; TS:
//!   the hours `RegHrs + OvtHrs + SpecialOvtHrs`), echoed as `SumTotal`/`DiffTotal`;
//! - JE: per document (`RefNo`) debits equal credits; `CreditsTotal`, when sent, equals the sum of the credits
//!   (echoed `SumDebitsTotal, SumCreditsTotal, DiffDebitsTotal, DiffCreditsTotal`); a line is a debit or a
//!   credit, not both;
//! - AP / CV: a document's `Amount` (voucher / check amount), when sent, equals the sum of its details;
//! - EX: a report's `TotalDue`, when sent, equals the sum of its details less its `AdvanceAmount`;
//! - IN: `RetTotal`, when sent, equals the sum of `RetAmount`; section `T` is reserved for tax lines; an
//!   invoice number is not reused, a credit memo names a posted invoice;
//! - tax: AP/CV/EX lines are gross, so a line's `NetAmount` (when sent) plus its `{tt}DetailTax` rows equals
//!   its `Amount`; JE tax rows (`TaxDebitAmount`/`TaxCreditAmount`) count in the entry's balance; invoices
//!   compute their tax from the line's `TaxCode` at posting; CR and TS take no tax rows.
//!
//! A document posted alone (`POST /DataEntry/{tt}Master/{Batch}|{Key}`, "Use Files to Group Transactions" =
//! No) creates its batch when there is none; document edits and deletes keep the control `Total` in step (VP
//! maintains the file total itself then), so the per-document rules are what they can break.

use chrono::{NaiveDate, NaiveDateTime};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::{Db, EntryBatch, ExpenseReportState, VoucherBalance, blank_wbs, obj, rows_of};
use crate::vantagepoint::error::VpError;
use crate::vantagepoint::model::*;

/// A transaction type that has DataEntry tables.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EntryType {
    /// Lower-case code (`ap`).
    pub tt: &'static str,
    /// The master's key column (reference §5.2 "Master keys").
    pub key: &'static str,
    /// What the posting message calls a file of this type.
    pub name: &'static str,
}

/// The types of the reference's checklist (`{ap,cr,cv,ex,in,je,ts}`).
pub(crate) const ENTRY_TYPES: [EntryType; 7] = [
    EntryType {
        tt: "ap",
        key: "MasterPKey",
        name: "AP Vouchers",
    },
    EntryType {
        tt: "cr",
        key: "RefNo",
        name: "Cash Receipts",
    },
    EntryType {
        tt: "cv",
        key: "CheckNo",
        name: "AP Disbursements",
    },
    EntryType {
        tt: "ex",
        key: "MasterPKey",
        name: "Employee Expenses",
    },
    EntryType {
        tt: "in",
        key: "Invoice",
        name: "Invoices",
    },
    EntryType {
        tt: "je",
        key: "RefNo",
        name: "Journal Entries",
    },
    EntryType {
        tt: "ts",
        key: "Employee",
        name: "Timesheets",
    },
];

pub(crate) fn entry_type(tt: &str) -> Option<EntryType> {
    ENTRY_TYPES
        .iter()
        .copied()
        .find(|t| t.tt.eq_ignore_ascii_case(tt))
}

fn require_type(tt: &str) -> Result<EntryType, VpError> {
    entry_type(tt).ok_or_else(|| {
        VpError::NotFound(format!(
            "DataEntry tables of transaction type {} do not exist.",
            tt.to_ascii_uppercase()
        ))
    })
}

/// Control columns the server computes or owns; a PUT cannot set them.
const SERVER_CONTROL_COLUMNS: [&str; 11] = [
    "Batch",
    "Posted",
    "PostSeq",
    "PostDate",
    "PostUser",
    "SumTotal",
    "DiffTotal",
    "SumDebitsTotal",
    "SumCreditsTotal",
    "DiffDebitsTotal",
    "DiffCreditsTotal",
];

fn decimal_col(row: &Row, key: &str) -> Result<Option<Decimal>, VpError> {
    match get_ci(row, key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(v) => decimal_of(v)
            .map(Some)
            .ok_or_else(|| VpError::field(key, format!("{key} must be a number."))),
    }
}

fn dec(row: &Row, key: &str) -> Decimal {
    get_ci(row, key).and_then(decimal_of).unwrap_or_default()
}

/// The amount a detail line adds to its control `Total`.
fn detail_amount(tt: &str, d: &Row) -> Decimal {
    match tt {
        "je" => dec(d, "DebitAmount"),
        "ts" => dec(d, "RegHrs") + dec(d, "OvtHrs") + dec(d, "SpecialOvtHrs"),
        _ => dec(d, "Amount"),
    }
}

/// The `{tt}DetailTax` rows of a detail line (by its `PKey`).
fn taxes_of<'a>(taxes: &'a [Row], pkey: &'a str) -> impl Iterator<Item = &'a Row> + 'a {
    taxes
        .iter()
        .filter(move |x| !pkey.is_empty() && same(&str_ci(x, "PKey"), pkey))
}

/// A `DetailTax` row's amount: JE `TaxDebitAmount − TaxCreditAmount`, else `TaxAmount`.
fn tax_amount(tt: &str, x: &Row) -> Decimal {
    match tt {
        "je" => dec(x, "TaxDebitAmount") - dec(x, "TaxCreditAmount"),
        _ => dec(x, "TaxAmount"),
    }
}

fn same(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

fn without_children(body: &Row, tt: &str) -> Row {
    let mut row = body.clone();
    row.retain(|k, _| {
        !["Master", "Detail", "DetailTax"]
            .iter()
            .any(|s| k.eq_ignore_ascii_case(&format!("{tt}{s}")))
    });
    row
}

impl Db {
    fn batch_index(&self, tt: &str, batch: &str) -> Option<usize> {
        self.batches
            .iter()
            .position(|b| b.tt == tt && same(&b.batch, batch))
    }

    fn unposted_index(&self, tt: &str, batch: &str) -> Result<usize, VpError> {
        let index = self
            .batch_index(tt, batch)
            .ok_or_else(VpError::records_not_found)?;
        if self.batches[index].posted {
            return Err(VpError::bad_request(format!(
                "Batch '{batch}' has been posted and cannot be changed."
            )));
        }
        Ok(index)
    }

    fn period_of(&self, row: &Row, user: &str, today: NaiveDate) -> Result<i32, VpError> {
        match get_ci(row, "Period") {
            Some(v) if !text_of(v).trim().is_empty() => int_of(v)
                .and_then(|p| i32::try_from(p).ok())
                .ok_or_else(|| VpError::field("Period", "Period must be a number (YYYYPP).")),
            _ => Ok(self.active_period(user, today)),
        }
    }

    fn company_of(&self, row: &Row, user: &str) -> Result<String, VpError> {
        let company = match str_ci(row, "Company") {
            c if c.is_empty() => self.user_company(user),
            c => c,
        };
        if !self.companies.is_empty()
            && !self
                .companies
                .iter()
                .any(|c| same(&str_ci(c, "Company"), &company))
        {
            return Err(VpError::field(
                "Company",
                format!("Invalid company '{company}'."),
            ));
        }
        Ok(company)
    }

    fn check_batch_name(&self, tt: &str, batch: &str) -> Result<(), VpError> {
        if batch.is_empty() {
            return Err(VpError::field("Batch", "Batch is required."));
        }
        if self.config.enforce_column_lengths && batch.chars().count() > 32 {
            return Err(VpError::field(
                "Batch",
                "Batch exceeds the maximum length of 32.",
            ));
        }
        self.check_batch_free(tt, batch)
    }

    /// A master row as stored: defaults, the body, then the columns the batch fixes.
    fn master_row(t: EntryType, batch: &str, seq: usize, body: &Row) -> Row {
        let mut row = obj(json!({
            "Batch": batch, "Posted": "N", "Seq": seq, "Status": "N", "StatusDescription": "In Progress",
            "AuthorizedBy": "", "RejectReason": "",
        }));
        merge_patch(&mut row, &without_children(body, t.tt));
        merge_patch(&mut row, &obj(json!({"Batch": batch, "Posted": "N"})));
        row
    }

    /// A detail row as stored: its `PKey` kept (client-generated) or made, `Seq`, blank WBS as `" "`.
    fn detail_row(&mut self, t: EntryType, batch: &str, seq: usize, body: &Row) -> Row {
        let mut row = obj(json!({
            "Batch": batch, "Seq": seq, "Description": "", "WBS1": " ", "WBS2": " ", "WBS3": " ",
        }));
        merge_patch(&mut row, body);
        let pkey = match str_ci(body, "PKey") {
            p if p.is_empty() => self.new_key(),
            p => p,
        };
        merge_patch(&mut row, &obj(json!({"Batch": batch, "PKey": pkey})));
        if t.tt != "je"
            && t.tt != "ts"
            && let Ok(Some(amount)) = decimal_col(body, "Amount")
        {
            row.insert("Amount".into(), money(amount));
        }
        row
    }

    /// `POST /DataEntry/{tt}Control`: a batch with its documents and lines.
    pub(crate) fn create_batch(
        &mut self,
        tt: &str,
        body: &Row,
        user: &str,
        today: NaiveDate,
    ) -> Result<Row, VpError> {
        let t = require_type(tt)?;
        if t.tt == "cr" {
            return self.create_cr_batch(body, user, today);
        }
        let batch = self.build_batch(t, body, user, today)?;
        let name = batch.batch.clone();
        self.batches.push(batch);
        Ok(self.batch_with_children(t.tt, &name).unwrap_or_default())
    }

    /// Builds and checks a new batch from a control body (not stored).
    fn build_batch(
        &mut self,
        t: EntryType,
        body: &Row,
        user: &str,
        today: NaiveDate,
    ) -> Result<EntryBatch, VpError> {
        let batch = str_ci(body, "Batch");
        self.check_batch_name(t.tt, &batch)?;
        let period = self.period_of(body, user, today)?;
        self.ensure_open(period)?;
        let company = self.company_of(body, user)?;
        let masters_in = rows_of(body, &format!("{}Master", t.tt));
        if masters_in.is_empty() {
            return Err(VpError::field(
                &format!("{}Master", t.tt),
                format!("At least one document ({}Master) is required.", t.tt),
            ));
        }
        let masters: Vec<Row> = masters_in
            .iter()
            .enumerate()
            .map(|(i, m)| Self::master_row(t, &batch, i + 1, m))
            .collect();
        let mut details = Vec::new();
        for (i, d) in rows_of(body, &format!("{}Detail", t.tt)).iter().enumerate() {
            details.push(self.detail_row(t, &batch, i + 1, d));
        }
        let taxes = rows_of(body, &format!("{}DetailTax", t.tt));
        let mut control = obj(json!({
            "Batch": batch, "Description": "", "Recurring": "N", "EndDate": "", "Selected": "N", "Creator": user,
        }));
        merge_patch(&mut control, &without_children(body, t.tt));
        merge_patch(
            &mut control,
            &obj(json!({
                "Batch": batch, "Period": period, "Company": company, "Posted": "N",
                "TransType": t.tt.to_ascii_uppercase(), "PostSeq": 0, "PostDate": "", "PostUser": "",
            })),
        );
        let mut candidate = EntryBatch {
            tt: t.tt.to_owned(),
            batch,
            control,
            masters,
            details,
            taxes,
            posted: false,
        };
        self.check_batch(&mut candidate, true)?;
        Ok(candidate)
    }

    /// `POST /DataEntry/{tt}Master/{Batch}|{Key}`: one document with its nested lines, into its batch (made
    /// when there is none).
    pub(crate) fn add_master(
        &mut self,
        tt: &str,
        batch: &str,
        key: &str,
        body: &Row,
        user: &str,
        today: NaiveDate,
    ) -> Result<Row, VpError> {
        let t = require_type(tt)?;
        let key = match (key.trim(), str_ci(body, t.key)) {
            ("", k) if k.is_empty() => {
                return Err(VpError::field(t.key, format!("{} is required.", t.key)));
            }
            ("", k) => k,
            (k, b) if b.is_empty() || same(k, &b) => k.to_owned(),
            (k, b) => {
                return Err(VpError::field(
                    t.key,
                    format!(
                        "{} '{b}' in the body does not match '{k}' in the address.",
                        t.key
                    ),
                ));
            }
        };
        let mut master_body = without_children(body, t.tt);
        master_body.insert(t.key.into(), Value::String(key.clone()));
        let lines = rows_of(body, &format!("{}Detail", t.tt));
        let mut candidate = match self.batch_index(t.tt, batch) {
            Some(index) => {
                let existing = self.unposted_index(t.tt, batch).map(|_| index)?;
                let b = self.batches[existing].clone();
                if b.masters.iter().any(|m| same(&str_ci(m, t.key), &key)) {
                    return Err(VpError::Conflict(format!(
                        "{} '{key}' already exists in batch '{batch}'.",
                        t.key
                    )));
                }
                b
            }
            None => {
                let mut control = obj(json!({"Batch": batch, "Total": 0}));
                for column in ["Period", "Company", "Description"] {
                    if let Some(v) = get_ci(body, column) {
                        control.insert(column.into(), v.clone());
                    }
                }
                self.build_batch_unchecked(t, &control, user, today)?
            }
        };
        let seq = candidate.masters.len() + 1;
        candidate.masters.push(Self::master_row(
            t,
            &candidate.batch.clone(),
            seq,
            &master_body,
        ));
        let mut added = Decimal::ZERO;
        for line in &lines {
            let mut line = line.clone();
            line.insert(t.key.into(), Value::String(key.clone()));
            let seq = candidate.details.len() + 1;
            let row = self.detail_row(t, &candidate.batch.clone(), seq, &line);
            added += detail_amount(t.tt, &row);
            candidate.details.push(row);
        }
        for tax in rows_of(body, &format!("{}DetailTax", t.tt)) {
            candidate.taxes.push(tax);
        }
        let total = dec(&candidate.control, "Total") + added;
        candidate.control.insert("Total".into(), money(total));
        self.check_batch(&mut candidate, true)?;
        let name = candidate.batch.clone();
        match self.batch_index(t.tt, &name) {
            Some(index) => self.batches[index] = candidate,
            None => self.batches.push(candidate),
        }
        Ok(self.master_with_lines(t, &name, &key).unwrap_or_default())
    }

    /// A batch shell for a document posted alone (checked with its document by the caller).
    fn build_batch_unchecked(
        &mut self,
        t: EntryType,
        body: &Row,
        user: &str,
        today: NaiveDate,
    ) -> Result<EntryBatch, VpError> {
        let batch = str_ci(body, "Batch");
        self.check_batch_name(t.tt, &batch)?;
        let period = self.period_of(body, user, today)?;
        self.ensure_open(period)?;
        let company = self.company_of(body, user)?;
        let mut control = obj(json!({
            "Batch": batch, "Description": "", "Recurring": "N", "EndDate": "", "Selected": "N", "Creator": user,
        }));
        merge_patch(&mut control, &without_children(body, t.tt));
        merge_patch(
            &mut control,
            &obj(json!({
                "Batch": batch, "Period": period, "Company": company, "Posted": "N", "Total": 0,
                "TransType": t.tt.to_ascii_uppercase(), "PostSeq": 0, "PostDate": "", "PostUser": "",
            })),
        );
        Ok(EntryBatch {
            tt: t.tt.to_owned(),
            batch,
            control,
            masters: Vec::new(),
            details: Vec::new(),
            taxes: Vec::new(),
            posted: false,
        })
    }

    fn master_with_lines(&self, t: EntryType, batch: &str, key: &str) -> Option<Row> {
        let b = &self.batches[self.batch_index(t.tt, batch)?];
        let mut row = b
            .masters
            .iter()
            .find(|m| same(&str_ci(m, t.key), key))?
            .clone();
        row.insert(
            format!("{}Detail", t.tt),
            Value::Array(
                b.details
                    .iter()
                    .filter(|d| same(&str_ci(d, t.key), key))
                    .cloned()
                    .map(Value::Object)
                    .collect(),
            ),
        );
        Some(row)
    }

    /// Upserts nested lines of a PUT body into `candidate` (by `PKey`; a line without a known `PKey` is
    /// added). Returns the change of the lines' amount.
    fn upsert_lines(
        &mut self,
        t: EntryType,
        candidate: &mut EntryBatch,
        lines: &[Row],
        key: Option<&str>,
    ) -> Decimal {
        let mut delta = Decimal::ZERO;
        let batch = candidate.batch.clone();
        for line in lines {
            let mut line = line.clone();
            if let Some(key) = key {
                line.insert(t.key.into(), Value::String(key.to_owned()));
            }
            let pkey = str_ci(&line, "PKey");
            match candidate
                .details
                .iter_mut()
                .find(|d| !pkey.is_empty() && same(&str_ci(d, "PKey"), &pkey))
            {
                Some(existing) => {
                    let before = detail_amount(t.tt, existing);
                    merge_patch(existing, &line);
                    if let Ok(Some(amount)) = decimal_col(&line, "Amount") {
                        existing.insert("Amount".into(), money(amount));
                    }
                    delta += detail_amount(t.tt, existing) - before;
                }
                None => {
                    let seq = candidate.details.len() + 1;
                    let row = self.detail_row(t, &batch, seq, &line);
                    delta += detail_amount(t.tt, &row);
                    candidate.details.push(row);
                }
            }
        }
        delta
    }

    /// `PUT /DataEntry/{tt}Control/{Batch}`: control columns merged (PATCH), nested documents and lines
    /// upserted by key; the result must still be a valid, balanced batch.
    pub(crate) fn update_control(
        &mut self,
        tt: &str,
        batch: &str,
        body: &Row,
    ) -> Result<Row, VpError> {
        let t = require_type(tt)?;
        let index = self.unposted_index(t.tt, batch)?;
        let mut candidate = self.batches[index].clone();
        let mut patch = without_children(body, t.tt);
        patch.retain(|k, _| !SERVER_CONTROL_COLUMNS.iter().any(|c| same(c, k)));
        if let Some(v) = get_ci(&patch, "Period") {
            let period = int_of(v)
                .and_then(|p| i32::try_from(p).ok())
                .ok_or_else(|| VpError::field("Period", "Period must be a number (YYYYPP)."))?;
            self.ensure_open(period)?;
        }
        if let Some(v) = get_ci(&patch, "Total") {
            decimal_of(v).ok_or_else(|| VpError::field("Total", "Total must be a number."))?;
        }
        merge_patch(&mut candidate.control, &patch);
        for m in rows_of(body, &format!("{}Master", t.tt)) {
            let key = str_ci(&m, t.key);
            if key.is_empty() {
                return Err(VpError::field(
                    t.key,
                    format!("{} is required on every {}Master.", t.key, t.tt),
                ));
            }
            let master = without_children(&m, t.tt);
            match candidate
                .masters
                .iter_mut()
                .find(|x| same(&str_ci(x, t.key), &key))
            {
                Some(existing) => merge_patch(existing, &master),
                None => {
                    let seq = candidate.masters.len() + 1;
                    let row = Self::master_row(t, &candidate.batch.clone(), seq, &master);
                    candidate.masters.push(row);
                }
            }
        }
        let lines = rows_of(body, &format!("{}Detail", t.tt));
        self.upsert_lines(t, &mut candidate, &lines, None);
        self.check_batch(&mut candidate, true)?;
        self.batches[index] = candidate;
        Ok(self.batch_with_children(t.tt, batch).unwrap_or_default())
    }

    /// `PUT /DataEntry/{tt}Master/{Batch}|{Key}`: the document's columns merged (its key stays), nested lines
    /// upserted by `PKey`; the control `Total` follows the lines.
    pub(crate) fn update_master(
        &mut self,
        tt: &str,
        batch: &str,
        key: &str,
        body: &Row,
    ) -> Result<Row, VpError> {
        let t = require_type(tt)?;
        let index = self.unposted_index(t.tt, batch)?;
        let mut candidate = self.batches[index].clone();
        let body_key = str_ci(body, t.key);
        if !body_key.is_empty() && !same(&body_key, key) {
            return Err(VpError::field(
                t.key,
                format!("{} cannot be changed ('{key}' to '{body_key}').", t.key),
            ));
        }
        let master = candidate
            .masters
            .iter_mut()
            .find(|m| same(&str_ci(m, t.key), key))
            .ok_or_else(VpError::records_not_found)?;
        let mut patch = without_children(body, t.tt);
        patch.retain(|k, _| !["Batch", "Posted", "Seq"].iter().any(|c| same(c, k)));
        merge_patch(master, &patch);
        let lines = rows_of(body, &format!("{}Detail", t.tt));
        let delta = self.upsert_lines(t, &mut candidate, &lines, Some(key));
        let total = dec(&candidate.control, "Total") + delta;
        candidate.control.insert("Total".into(), money(total));
        self.check_batch(&mut candidate, true)?;
        self.batches[index] = candidate;
        Ok(self.master_with_lines(t, batch, key).unwrap_or_default())
    }

    /// `DELETE /DataEntry/{tt}Master/{Batch}|{Key}`: the document, its lines and their tax rows.
    pub(crate) fn delete_master(
        &mut self,
        tt: &str,
        batch: &str,
        key: &str,
    ) -> Result<(), VpError> {
        let t = require_type(tt)?;
        let index = self.unposted_index(t.tt, batch)?;
        let mut candidate = self.batches[index].clone();
        let before = candidate.masters.len();
        candidate.masters.retain(|m| !same(&str_ci(m, t.key), key));
        if candidate.masters.len() == before {
            return Err(VpError::records_not_found());
        }
        let pkeys: Vec<String> = candidate
            .details
            .iter()
            .filter(|d| same(&str_ci(d, t.key), key))
            .map(|d| str_ci(d, "PKey"))
            .collect();
        let removed: Decimal = candidate
            .details
            .iter()
            .filter(|d| same(&str_ci(d, t.key), key))
            .map(|d| detail_amount(t.tt, d))
            .sum();
        candidate.details.retain(|d| !same(&str_ci(d, t.key), key));
        candidate
            .taxes
            .retain(|x| !pkeys.iter().any(|p| same(p, &str_ci(x, "PKey"))));
        for (i, m) in candidate.masters.iter_mut().enumerate() {
            m.insert("Seq".into(), Value::from(i + 1));
        }
        let total = dec(&candidate.control, "Total") - removed;
        candidate.control.insert("Total".into(), money(total));
        self.check_batch(&mut candidate, false)?;
        self.batches[index] = candidate;
        Ok(())
    }

    /// Validates a whole batch and fills the control's computed columns. `require_documents`: a batch being
    /// created or edited needs a document; one whose last document was deleted may stay empty.
    pub(crate) fn check_batch(
        &self,
        b: &mut EntryBatch,
        require_documents: bool,
    ) -> Result<(), VpError> {
        let t = require_type(&b.tt)?;
        if require_documents && b.masters.is_empty() {
            return Err(VpError::field(
                &format!("{}Master", t.tt),
                format!("At least one document ({}Master) is required.", t.tt),
            ));
        }
        if self.config.enforce_column_lengths
            && str_ci(&b.control, "Description").chars().count() > 40
        {
            return Err(VpError::field(
                "Description",
                "String or binary data would be truncated. (Description, max 40)",
            ));
        }
        let refno_length = self
            .key_format
            .get("RefnoLength")
            .and_then(int_of)
            .and_then(|l| usize::try_from(l).ok())
            .unwrap_or(12);
        for (i, m) in b.masters.iter().enumerate() {
            let key = str_ci(m, t.key);
            if t.key == "RefNo"
                && self.config.enforce_column_lengths
                && key.chars().count() > refno_length
            {
                return Err(VpError::field(
                    "RefNo",
                    format!(
                        "String or binary data would be truncated. (RefNo '{key}', max {refno_length})"
                    ),
                ));
            }
            if key.is_empty() {
                return Err(VpError::field(
                    t.key,
                    format!("{} is required on every {}Master.", t.key, t.tt),
                ));
            }
            if b.masters[..i].iter().any(|x| same(&str_ci(x, t.key), &key)) {
                return Err(VpError::field(
                    t.key,
                    format!("{} '{key}' appears twice in the batch.", t.key),
                ));
            }
            self.check_master(t, b, m, &key)?;
        }
        for (i, d) in b.details.iter().enumerate() {
            let key = str_ci(d, t.key);
            if !b.masters.iter().any(|m| same(&str_ci(m, t.key), &key)) {
                return Err(VpError::field(
                    t.key,
                    format!(
                        "{}Detail line {} refers to unknown {} '{key}'.",
                        t.tt,
                        i + 1,
                        t.key
                    ),
                ));
            }
            self.check_detail(t, d, i + 1)?;
        }
        if require_documents && b.details.is_empty() {
            return Err(VpError::field(
                &format!("{}Detail", t.tt),
                format!("At least one {}Detail line is required.", t.tt),
            ));
        }
        self.check_taxes(t, b)?;
        self.check_balance(t, b)
    }

    fn check_master(
        &self,
        t: EntryType,
        b: &EntryBatch,
        m: &Row,
        key: &str,
    ) -> Result<(), VpError> {
        let date_column = match t.tt {
            "ex" => "ReportDate",
            "ts" => "EndDate",
            _ => "TransDate",
        };
        let date = str_ci(m, date_column);
        let date = if date.is_empty() && t.tt != "ts" {
            str_ci(m, "TransDate")
        } else {
            date
        };
        if t.tt != "ts" && parse_vp_datetime(&date).is_none() {
            return Err(VpError::field(
                date_column,
                format!("{date_column} is required on {}Master '{key}'.", t.tt),
            ));
        }
        match t.tt {
            "ap" | "cv" => {
                let vendor = str_ci(m, "Vendor");
                if vendor.is_empty() || self.firm_by_vendor(&vendor).is_none() {
                    return Err(VpError::field(
                        "Vendor",
                        format!("Invalid vendor '{vendor}' on {}Master '{key}'.", t.tt),
                    ));
                }
                let bank = str_ci(m, "BankCode");
                if t.tt == "cv" && bank.is_empty() {
                    return Err(VpError::field(
                        "BankCode",
                        format!("BankCode is required on cvMaster '{key}'."),
                    ));
                }
                if !bank.is_empty() && self.bank(&bank).is_none() {
                    return Err(VpError::field(
                        "BankCode",
                        format!("Invalid bank code '{bank}'."),
                    ));
                }
                let voucher = str_ci(m, "Voucher");
                if t.tt == "ap"
                    && !voucher.is_empty()
                    && self
                        .vouchers
                        .contains_key(&(vendor.to_ascii_uppercase(), voucher.clone()))
                {
                    return Err(VpError::Conflict(format!(
                        "Voucher {voucher} already exists for vendor {vendor}."
                    )));
                }
            }
            "cr" => {
                let bank = match str_ci(m, "BankCode") {
                    b_ if b_.is_empty() => str_ci(&b.control, "DefaultBank"),
                    b_ => b_,
                };
                let bank_row = self.bank(&bank).ok_or_else(|| {
                    VpError::field("BankCode", format!("Invalid bank code '{bank}'."))
                })?;
                let bank_currency = str_ci(bank_row, "CurrencyCode");
                let currency = str_ci(m, "CurrencyCode");
                if !currency.is_empty()
                    && !bank_currency.is_empty()
                    && !same(&currency, &bank_currency)
                {
                    return Err(VpError::field(
                        "CurrencyCode",
                        format!(
                            "Currency {currency} of receipt '{key}' does not match the currency {bank_currency} of bank {bank}."
                        ),
                    ));
                }
            }
            "ex" => {
                let employee = str_ci(m, "Employee");
                if self.employee(&employee).is_none() {
                    return Err(VpError::field(
                        "Employee",
                        format!("Invalid employee '{employee}' on exMaster '{key}'."),
                    ));
                }
                decimal_col(m, "AdvanceAmount")?;
                let voucher = match str_ci(m, "Voucher") {
                    v if v.is_empty() => key.to_owned(),
                    v => v,
                };
                if self
                    .expense_reports
                    .contains_key(&(employee.to_ascii_uppercase(), voucher.clone()))
                {
                    return Err(VpError::Conflict(format!(
                        "Expense report {voucher} already exists for {employee}."
                    )));
                }
            }
            "in" => {
                let (w1, w2, w3) = (str_ci(m, "WBS1"), str_ci(m, "WBS2"), str_ci(m, "WBS3"));
                if w1.is_empty() {
                    return Err(VpError::field(
                        "WBS1",
                        format!("WBS1 is required on inMaster '{key}'."),
                    ));
                }
                self.require_project(&w1, &w2, &w3)?;
                if self.invoice_taken(key, &b.batch) {
                    return Err(VpError::Conflict(format!("Invoice {key} already exists.")));
                }
                let credit_ref = str_ci(m, "CreditMemoRefNo");
                if !credit_ref.is_empty() && !self.invoice_posted(&credit_ref) {
                    return Err(VpError::field(
                        "CreditMemoRefNo",
                        format!("Invoice {credit_ref} has not been posted."),
                    ));
                }
            }
            "ts" if self.employee(key).is_none() => {
                return Err(VpError::field(
                    "Employee",
                    format!("Invalid employee '{key}' on tsMaster."),
                ));
            }
            _ => {}
        }
        Ok(())
    }

    fn invoice_posted(&self, invoice: &str) -> bool {
        self.ledger
            .iter()
            .any(|r| str_ci(r, "TransType") == "IN" && str_ci(r, "Invoice") == invoice)
    }

    /// Posted already, or entered in another batch.
    fn invoice_taken(&self, invoice: &str, batch: &str) -> bool {
        self.invoice_posted(invoice)
            || self.batches.iter().any(|b| {
                b.tt == "in"
                    && !same(&b.batch, batch)
                    && b.masters.iter().any(|m| str_ci(m, "Invoice") == invoice)
            })
    }

    fn check_detail(&self, t: EntryType, d: &Row, line: usize) -> Result<(), VpError> {
        let (w1, w2, w3) = (str_ci(d, "WBS1"), str_ci(d, "WBS2"), str_ci(d, "WBS3"));
        if t.tt == "ts" {
            if w1.is_empty() {
                return Err(VpError::field(
                    "WBS1",
                    format!("WBS1 is required on tsDetail line {line}."),
                ));
            }
            if parse_vp_datetime(&str_ci(d, "TransDate")).is_none() {
                return Err(VpError::field(
                    "TransDate",
                    format!("TransDate is required on tsDetail line {line}."),
                ));
            }
            let mut hours = Decimal::ZERO;
            for column in ["RegHrs", "OvtHrs", "SpecialOvtHrs"] {
                let h = decimal_col(d, column)?.unwrap_or_default();
                if h < Decimal::ZERO {
                    return Err(VpError::field(
                        column,
                        format!("{column} cannot be negative (tsDetail line {line})."),
                    ));
                }
                hours += h;
            }
            if hours.is_zero() {
                return Err(VpError::field(
                    "RegHrs",
                    format!("tsDetail line {line} has no hours."),
                ));
            }
        } else {
            self.require_account("Account", &str_ci(d, "Account"))?;
        }
        if !w1.is_empty() {
            self.require_project(&w1, &w2, &w3)?;
        }
        match t.tt {
            "je" => {
                let debit = decimal_col(d, "DebitAmount")?.unwrap_or_default();
                let credit = decimal_col(d, "CreditAmount")?.unwrap_or_default();
                if !debit.is_zero() && !credit.is_zero() {
                    return Err(VpError::field(
                        "DebitAmount",
                        format!("jeDetail line {line} has both a debit and a credit."),
                    ));
                }
            }
            "ts" => {}
            _ => {
                if decimal_col(d, "Amount")?.is_none() {
                    return Err(VpError::field(
                        "Amount",
                        format!("Amount is required on {}Detail line {line}.", t.tt),
                    ));
                }
            }
        }
        match t.tt {
            "in" => {
                if str_ci(d, "InvoiceSection").eq_ignore_ascii_case("T") {
                    return Err(VpError::field(
                        "InvoiceSection",
                        "Section T is reserved for tax lines.",
                    ));
                }
                decimal_col(d, "RetAmount")?;
            }
            "cr" => {
                let invoice = str_ci(d, "Invoice");
                if !invoice.is_empty()
                    && !self.ledger.iter().any(|r| {
                        str_ci(r, "TransType") == "IN"
                            && str_ci(r, "Invoice") == invoice
                            && (w1.is_empty() || same(&str_ci(r, "WBS1"), &w1))
                    })
                {
                    return Err(VpError::field(
                        "Invoice",
                        format!("Invoice {invoice} has not been posted for project '{w1}'."),
                    ));
                }
            }
            _ => {}
        }
        let tax = str_ci(d, "TaxCode");
        if !tax.is_empty() {
            self.tax_rate(&tax)?;
        }
        Ok(())
    }

    /// `{tt}DetailTax` rows (`PKey` of their line, `TaxCode`, `TaxAmount`; JE `TaxDebitAmount`/
    /// `TaxCreditAmount`) for AP, CV, EX and JE; a line's `Amount` is gross, so `NetAmount` + its tax must
    /// equal it. Invoices take their tax from the line's `TaxCode`; receipts and timesheets carry none.
    fn check_taxes(&self, t: EntryType, b: &EntryBatch) -> Result<(), VpError> {
        let table = format!("{}DetailTax", t.tt);
        if !b.taxes.is_empty() && !["ap", "cv", "ex", "je"].contains(&t.tt) {
            return Err(VpError::field(
                &table,
                format!(
                    "{table} is not used: tax on {} lines comes from their TaxCode.",
                    t.tt
                ),
            ));
        }
        for (i, x) in b.taxes.iter().enumerate() {
            let pkey = str_ci(x, "PKey");
            if !b.details.iter().any(|d| same(&str_ci(d, "PKey"), &pkey)) {
                return Err(VpError::field(
                    "PKey",
                    format!(
                        "{table} row {} refers to unknown line PKey '{pkey}'.",
                        i + 1
                    ),
                ));
            }
            let code = str_ci(x, "TaxCode");
            if code.is_empty() {
                return Err(VpError::field(
                    "TaxCode",
                    format!("TaxCode is required on {table} row {}.", i + 1),
                ));
            }
            self.tax_rate(&code)?;
            for column in ["TaxAmount", "TaxDebitAmount", "TaxCreditAmount"] {
                decimal_col(x, column)?;
            }
        }
        if t.tt != "je" {
            for d in &b.details {
                let pkey = str_ci(d, "PKey");
                let tax: Decimal = taxes_of(&b.taxes, &pkey).map(|x| tax_amount(t.tt, x)).sum();
                if let Some(net) = decimal_col(d, "NetAmount")? {
                    let amount = dec(d, "Amount");
                    if net + tax != amount {
                        return Err(VpError::field(
                            "NetAmount",
                            format!(
                                "{}Detail line '{pkey}' is out of balance: NetAmount {net} plus tax {tax} does not equal Amount {amount}.",
                                t.tt
                            ),
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// The balance rules of the type; fills `SumTotal`/`DiffTotal` (and the JE debit/credit sums).
    fn check_balance(&self, t: EntryType, b: &mut EntryBatch) -> Result<(), VpError> {
        let total = match get_ci(&b.control, "Total") {
            None | Some(Value::Null) => return Err(VpError::field("Total", "Total is required.")),
            Some(v) => {
                decimal_of(v).ok_or_else(|| VpError::field("Total", "Total must be a number."))?
            }
        };
        let sum: Decimal = b.details.iter().map(|d| detail_amount(t.tt, d)).sum();
        for m in &b.masters {
            let key = str_ci(m, t.key);
            let lines: Vec<&Row> = b
                .details
                .iter()
                .filter(|d| same(&str_ci(d, t.key), &key))
                .collect();
            let document: Decimal = lines.iter().copied().map(|d| detail_amount(t.tt, d)).sum();
            match t.tt {
                "je" => {
                    let debits: Decimal =
                        lines.iter().copied().map(|d| dec(d, "DebitAmount")).sum();
                    let credits: Decimal =
                        lines.iter().copied().map(|d| dec(d, "CreditAmount")).sum();
                    // Tax lines of the entry's lines are part of it (debit + / credit −).
                    let (mut tax_debits, mut tax_credits) = (Decimal::ZERO, Decimal::ZERO);
                    for d in &lines {
                        let pkey = str_ci(d, "PKey");
                        for x in taxes_of(&b.taxes, &pkey) {
                            tax_debits += dec(x, "TaxDebitAmount");
                            tax_credits += dec(x, "TaxCreditAmount");
                        }
                    }
                    let (debits, credits) = (debits + tax_debits, credits + tax_credits);
                    if debits != credits {
                        return Err(VpError::field(
                            "CreditAmount",
                            format!(
                                "Journal entry '{key}' is out of balance: debits {debits} do not equal credits {credits}."
                            ),
                        ));
                    }
                }
                "ap" | "cv" => {
                    if let Some(amount) = decimal_col(m, "Amount")?
                        && amount != document
                    {
                        return Err(VpError::field(
                            "Amount",
                            format!(
                                "{}Master '{key}' is out of balance: its Amount {amount} does not equal the sum of its lines {document}.",
                                t.tt
                            ),
                        ));
                    }
                }
                "ex" => {
                    let advance = decimal_col(m, "AdvanceAmount")?.unwrap_or_default();
                    if let Some(due) = decimal_col(m, "TotalDue")?
                        && due != document - advance
                    {
                        return Err(VpError::field(
                            "TotalDue",
                            format!(
                                "exMaster '{key}' is out of balance: TotalDue {due} does not equal its lines {document} less the advance {advance}."
                            ),
                        ));
                    }
                }
                _ => {}
            }
        }
        if sum != total {
            return Err(VpError::field(
                "Total",
                format!(
                    "The batch is out of balance: control Total {total} does not equal the sum of the detail amounts {sum} (difference {}).",
                    total - sum
                ),
            ));
        }
        let mut computed = obj(json!({"SumTotal": money(sum), "DiffTotal": money(total - sum)}));
        match t.tt {
            "je" => {
                let credits: Decimal = b.details.iter().map(|d| dec(d, "CreditAmount")).sum();
                let stated = decimal_col(&b.control, "CreditsTotal")?.unwrap_or(credits);
                if stated != credits {
                    return Err(VpError::field(
                        "CreditsTotal",
                        format!(
                            "The batch is out of balance: CreditsTotal {stated} does not equal the sum of the credits {credits}."
                        ),
                    ));
                }
                merge_patch(
                    &mut computed,
                    &obj(json!({
                        "CreditsTotal": money(stated), "SumDebitsTotal": money(sum), "SumCreditsTotal": money(credits),
                        "DiffDebitsTotal": money(total - sum), "DiffCreditsTotal": money(stated - credits),
                    })),
                );
            }
            "in" => {
                let retainage: Decimal = b.details.iter().map(|d| dec(d, "RetAmount")).sum();
                let stated = decimal_col(&b.control, "RetTotal")?.unwrap_or(retainage);
                if stated != retainage {
                    return Err(VpError::field(
                        "RetTotal",
                        format!(
                            "The batch is out of balance: RetTotal {stated} does not equal the sum of the retainage {retainage}."
                        ),
                    ));
                }
                computed.insert("RetTotal".into(), money(stated));
            }
            _ => {}
        }
        computed.insert("Total".into(), money(total));
        merge_patch(&mut b.control, &computed);
        Ok(())
    }

    /// Posts batch `index` (already checked open and unposted): ledger rows per type, balances that payments
    /// later reduce (vouchers, expense reports), and the batch marked posted. `Err` is the posting log's
    /// reason; nothing is changed then.
    pub(crate) fn post_entry_batch(
        &mut self,
        index: usize,
        period: i32,
        user: &str,
        now: NaiveDateTime,
    ) -> Result<(u32, String), String> {
        let mut b = self.batches[index].clone();
        let t = require_type(&b.tt).map_err(|e| e.to_string())?;
        if b.masters.is_empty() {
            return Err(format!("File {} has no documents to post.", b.batch));
        }
        // Hub records may have changed since entry: the whole batch is checked again.
        self.check_batch(&mut b, true).map_err(|e| e.to_string())?;
        let post_seq = self.post_seq.get(&period).copied().unwrap_or(0) + 1;
        let post_date = vp_datetime(now);
        let mut rows = Vec::new();
        let mut tax_ledger = Vec::new();
        let mut tax_details = Vec::new();
        let mut vouchers = Vec::new();
        let mut reports = Vec::new();
        let company = str_ci(&b.control, "Company");
        let tt_upper = t.tt.to_ascii_uppercase();
        let mut next_voucher = self.vouchers.len() + self.expense_reports.len();
        for m in &mut b.masters {
            let key = str_ci(m, t.key);
            let lines: Vec<Row> = b
                .details
                .iter()
                .filter(|d| same(&str_ci(d, t.key), &key))
                .cloned()
                .collect();
            let document: Decimal = lines.iter().map(|d| detail_amount(t.tt, d)).sum();
            let date = str_ci(
                m,
                match t.tt {
                    "ex" => "ReportDate",
                    _ => "TransDate",
                },
            );
            let date = if date.is_empty() {
                str_ci(m, "TransDate")
            } else {
                date
            };
            let date = parse_vp_datetime(&date)
                .map(|d| vp_date(d.date()))
                .unwrap_or_default();
            let currency = match str_ci(m, "CurrencyCode") {
                c if c.is_empty() => self.functional_currency(&company),
                c => c,
            };
            // The document's own columns carried on every ledger row, and its GL offset (account, sign).
            let (common, mut offset): (Row, Option<(String, Decimal)>) = match t.tt {
                "ap" => {
                    let vendor = str_ci(m, "Vendor");
                    let voucher = match str_ci(m, "Voucher") {
                        v if v.is_empty() => {
                            next_voucher += 1;
                            format!("{period}{next_voucher:04}")
                        }
                        v => v,
                    };
                    let firm = self.firm_by_vendor(&vendor).cloned().unwrap_or_default();
                    merge_patch(
                        m,
                        &obj(
                            json!({"Voucher": voucher, "AmountPaid": 0, "PaidStatus": "N", "Total": money(document)}),
                        ),
                    );
                    vouchers.push(((vendor.to_ascii_uppercase(), voucher.clone()), document));
                    (
                        obj(json!({
                            "Vendor": vendor, "Voucher": voucher, "Invoice": str_ci(m, "Invoice"), "RefNo": str_ci(m, "Invoice"),
                            "Desc1": str_ci(&firm, "Name"), "Org": str_ci(&firm, "Org"), "SubType": "L",
                        })),
                        Some((self.autopost(&company, "APLiability", ""), -document)),
                    )
                }
                "cv" => {
                    let bank = self
                        .bank(&str_ci(m, "BankCode"))
                        .cloned()
                        .unwrap_or_default();
                    let firm = self
                        .firm_by_vendor(&str_ci(m, "Vendor"))
                        .cloned()
                        .unwrap_or_default();
                    (
                        obj(json!({
                            "Vendor": str_ci(m, "Vendor"), "RefNo": key, "Invoice": str_ci(m, "Invoice"),
                            "Desc1": str_ci(&firm, "Name"), "Org": str_ci(&bank, "Org"), "BankCode": str_ci(m, "BankCode"),
                        })),
                        Some((str_ci(&bank, "Account"), -document)),
                    )
                }
                "cr" => {
                    let bank_code = match str_ci(m, "BankCode") {
                        c if c.is_empty() => str_ci(&b.control, "DefaultBank"),
                        c => c,
                    };
                    let bank = self.bank(&bank_code).cloned().unwrap_or_default();
                    (
                        obj(json!({
                            "RefNo": key, "Desc2": str_ci(m, "TransComment"), "Org": str_ci(&bank, "Org"), "BankCode": bank_code,
                        })),
                        // Receipts credit their lines; the bank is debited.
                        Some((str_ci(&bank, "Account"), document)),
                    )
                }
                "ex" => {
                    let employee = str_ci(m, "Employee");
                    let voucher = match str_ci(m, "Voucher") {
                        v if v.is_empty() => key.clone(),
                        v => v,
                    };
                    let org = self
                        .employee(&employee)
                        .map(|e| str_ci(e, "Org"))
                        .unwrap_or_default();
                    let advance = dec(m, "AdvanceAmount");
                    merge_patch(
                        m,
                        &obj(
                            json!({"Voucher": voucher, "TotalDue": money(document - advance), "AmountPaid": 0, "PaidStatus": "N"}),
                        ),
                    );
                    reports.push(ExpenseReportState {
                        employee: employee.clone(),
                        voucher: voucher.clone(),
                        total: document,
                        outstanding: document - advance,
                        paid: false,
                    });
                    (
                        obj(json!({
                            "Employee": employee, "Voucher": voucher, "RefNo": voucher, "Desc1": str_ci(m, "ReportName"),
                            "Org": org, "EmOrg": org, "SubType": "L",
                        })),
                        Some((
                            self.autopost(&company, "EmployeeExpenseLiability", ""),
                            -document,
                        )),
                    )
                }
                "in" => {
                    let project = self
                        .project(&str_ci(m, "WBS1"), &str_ci(m, "WBS2"), &str_ci(m, "WBS3"))
                        .cloned()
                        .unwrap_or_default();
                    let client = match str_ci(&project, "BillingClientID") {
                        c if c.is_empty() => str_ci(&project, "ClientID"),
                        c => c,
                    };
                    let client_name = self
                        .firm_by_id(&client)
                        .map(|f| str_ci(f, "Name"))
                        .unwrap_or_default();
                    let credit_ref = str_ci(m, "CreditMemoRefNo");
                    merge_patch(
                        m,
                        &obj(json!({
                            "ClientID": str_ci(&project, "ClientID"), "BillingClientID": client, "ClientName": client_name,
                            "IsCreditMemo": yn(!credit_ref.is_empty()), "CreditMemoRefNo": credit_ref, "Total": money(document),
                        })),
                    );
                    (
                        obj(json!({
                            "RefNo": key, "Invoice": key, "Desc1": client_name, "Org": str_ci(&project, "Org"),
                            "CreditMemoRefNo": credit_ref, "InvoiceStatus": "B", "BillStatus": "B",
                            "WBS1": str_ci(m, "WBS1"),
                        })),
                        // Revenue lines are credits; AR (no Invoice, as GL offsets have) is debited.
                        Some((self.autopost(&company, "AcctsReceivable", ""), document)),
                    )
                }
                "je" => (
                    obj(json!({"RefNo": key, "Desc1": str_ci(m, "Description")})),
                    None,
                ),
                _ => {
                    let employee = self.employee(&key).cloned().unwrap_or_default();
                    (
                        obj(
                            json!({"Employee": key, "EmOrg": str_ci(&employee, "Org"), "RefNo": key}),
                        ),
                        None,
                    )
                }
            };
            let mut invoice_tax = Decimal::ZERO;
            for d in &lines {
                let (mut w1, mut w2, mut w3) =
                    (str_ci(d, "WBS1"), str_ci(d, "WBS2"), str_ci(d, "WBS3"));
                if t.tt == "in" && w1.is_empty() {
                    (w1, w2, w3) = (str_ci(m, "WBS1"), str_ci(m, "WBS2"), str_ci(m, "WBS3"));
                }
                let project_org = self.project(&w1, &w2, &w3).map(|p| str_ci(p, "Org"));
                let mut row = self.ledger_base(&tt_upper, &b.batch, period, post_seq, &post_date);
                merge_patch(&mut row, &common);
                let line_amount = detail_amount(t.tt, d);
                let amount = match t.tt {
                    "je" => dec(d, "DebitAmount") - dec(d, "CreditAmount"),
                    "cr" | "in" => -line_amount,
                    // The line's Amount is gross: its tax goes to the tax accounts below.
                    "ap" | "cv" | "ex" => {
                        let pkey = str_ci(d, "PKey");
                        line_amount
                            - taxes_of(&b.taxes, &pkey)
                                .map(|x| tax_amount(t.tt, x))
                                .sum::<Decimal>()
                    }
                    "ts" => {
                        let employee = self.employee(&key).cloned().unwrap_or_default();
                        let rate = get_ci(&employee, "JobCostRate")
                            .or_else(|| get_ci(&employee, "HourlyRate"))
                            .and_then(decimal_of)
                            .unwrap_or_default();
                        cents(line_amount * rate)
                    }
                    _ => line_amount,
                };
                merge_patch(
                    &mut row,
                    &obj(json!({
                        "PKey": str_ci(d, "PKey"), "WBS1": blank_wbs(&w1), "WBS2": blank_wbs(&w2), "WBS3": blank_wbs(&w3),
                        "Account": str_ci(d, "Account"), "TransDate": if t.tt == "ts" || t.tt == "ex" { parse_vp_datetime(&str_ci(d, "TransDate")).map(|x| vp_date(x.date())).unwrap_or_else(|| date.clone()) } else { date.clone() },
                        "Desc2": str_ci(d, "Description"), "Amount": money(amount), "TransactionAmount": money(amount),
                        "TransactionCurrencyCode": currency, "TaxCode": str_ci(d, "TaxCode"),
                    })),
                );
                if let Some(org) = project_org.filter(|o| !o.is_empty()) {
                    row.insert("Org".into(), Value::String(org));
                }
                match t.tt {
                    "cr" => {
                        row.insert("Invoice".into(), Value::String(str_ci(d, "Invoice")));
                        row.insert("Desc1".into(), Value::String(str_ci(d, "Description")));
                        row.insert("Desc2".into(), Value::String(str_ci(m, "TransComment")));
                    }
                    "in" => {
                        let section = match str_ci(d, "InvoiceSection") {
                            s if s.is_empty() => "F".to_owned(),
                            s => s,
                        };
                        row.insert("InvoiceSection".into(), Value::String(section));
                    }
                    "ts" => {
                        for column in ["LaborCode", "RegHrs", "OvtHrs", "SpecialOvtHrs"] {
                            let value = match column {
                                "LaborCode" => Value::String(str_ci(d, column)),
                                _ => money(dec(d, column)),
                            };
                            row.insert(column.into(), value);
                        }
                        row.insert("ProjectCost".into(), Value::String("Y".into()));
                    }
                    _ => {}
                }
                // Tax lines: entered (`DetailTax`) for AP/CV/EX/JE, computed from the line's TaxCode for IN.
                let pkey = str_ci(d, "PKey");
                let mut line_taxes: Vec<(String, Decimal, Decimal)> = Vec::new();
                for x in taxes_of(&b.taxes, &pkey) {
                    line_taxes.push((str_ci(x, "TaxCode"), tax_amount(t.tt, x), line_amount));
                }
                let line_code = str_ci(d, "TaxCode");
                if t.tt == "in" && !line_code.is_empty() {
                    for (code, tax, _, _) in self
                        .taxes_for(line_amount, std::slice::from_ref(&line_code))
                        .map_err(|e| e.to_string())?
                    {
                        line_taxes.push((code.clone(), -tax, line_amount));
                        if let Some((_, receivable)) = offset.as_mut() {
                            *receivable += tax;
                        }
                        // As Interactive Billing shows them: tax lines of the invoice in section T.
                        let (_, _, tax_account) =
                            self.tax_rate(&code).map_err(|e| e.to_string())?;
                        invoice_tax += tax;
                        tax_details.push(obj(json!({
                            "Batch": b.batch, "Invoice": key, "WBS1": blank_wbs(&w1), "WBS2": blank_wbs(&w2),
                            "WBS3": blank_wbs(&w3), "PKey": self.new_key(), "Seq": b.details.len() + tax_details.len() + 1,
                            "InvoiceSection": "T", "Description": format!("Tax {code}"), "Account": tax_account,
                            "Amount": money(tax), "RetAmount": 0, "TaxCode": code, "TaxBasis": money(line_amount),
                            "Retainer": "N", "CreditMemoRefNo": str_ci(m, "CreditMemoRefNo"),
                        })));
                    }
                }
                let template = row.clone();
                rows.push(row);
                for (code, tax, basis) in line_taxes {
                    let (_, _, tax_account) = self.tax_rate(&code).map_err(|e| e.to_string())?;
                    let mut tax_row =
                        self.ledger_base(&tt_upper, &b.batch, period, post_seq, &post_date);
                    merge_patch(&mut tax_row, &template);
                    merge_patch(
                        &mut tax_row,
                        &obj(json!({
                            "PKey": self.new_key(), "Account": tax_account, "SubType": "T", "Amount": money(tax),
                            "TransactionAmount": money(tax), "TaxCode": code, "TaxBasis": money(basis),
                            "Desc2": format!("Tax {code}"),
                        })),
                    );
                    if t.tt == "in" {
                        tax_row.insert("InvoiceSection".into(), Value::String("T".into()));
                    }
                    tax_ledger.push(obj(json!({
                        "Batch": b.batch, "Period": period, "PostSeq": post_seq, "PKey": pkey, "TransType": tt_upper,
                        "Invoice": str_ci(&tax_row, "Invoice"), "Voucher": str_ci(&tax_row, "Voucher"),
                        "WBS1": str_ci(&tax_row, "WBS1"), "TaxCode": code, "TaxAmount": money(tax.abs()),
                        "TransactionTaxAmount": money(tax.abs()), "TaxBasis": money(basis), "Account": tax_account,
                        "TransactionCurrencyCode": currency, "PostDate": post_date,
                    })));
                    rows.push(tax_row);
                }
            }
            if let Some((account, amount)) = offset {
                if account.is_empty() {
                    return Err(format!(
                        "{} '{key}' cannot be posted: its offset account is not configured.",
                        t.key
                    ));
                }
                let mut row = self.ledger_base(&tt_upper, &b.batch, period, post_seq, &post_date);
                merge_patch(&mut row, &common);
                merge_patch(
                    &mut row,
                    &obj(json!({
                        "Account": account, "TransDate": date, "Amount": money(amount), "TransactionAmount": money(amount),
                        "TransactionCurrencyCode": currency, "AutoEntry": "Y", "Invoice": "", "SubType": " ",
                    })),
                );
                rows.push(row);
            }
            if t.tt == "in" {
                m.insert("Total".into(), money(document + invoice_tax));
            }
            merge_patch(
                m,
                &obj(json!({"Posted": "Y", "Period": period, "PostSeq": post_seq, "Status": "A"})),
            );
        }
        b.details.extend(tax_details);
        // Everything checked: commit.
        self.post_seq.insert(period, post_seq);
        self.ledger.extend(rows);
        self.ledger_tax.extend(tax_ledger);
        for (key, outstanding) in vouchers {
            self.vouchers.insert(key, VoucherBalance { outstanding });
        }
        for report in reports {
            self.expense_reports.insert(
                (report.employee.to_ascii_uppercase(), report.voucher.clone()),
                report,
            );
        }
        b.posted = true;
        merge_patch(
            &mut b.control,
            &obj(
                json!({"Posted": "Y", "Period": period, "PostSeq": post_seq, "PostDate": post_date, "PostUser": user}),
            ),
        );
        let description = str_ci(&b.control, "Description");
        let count = b.masters.len();
        self.batches[index] = b;
        Ok((
            post_seq,
            format!(
                "{} file {description}; {count} of {count} records posted; Posting sequence {post_seq}",
                t.name
            ),
        ))
    }

    /// `POST /ledger/{TT}` for a DataEntry type: the batch is entered and posted in one call (it is not kept
    /// when posting fails). The batch name may be omitted.
    pub(crate) fn ledger_create_and_post(
        &mut self,
        tt: &str,
        body: &Row,
        user: &str,
        now: NaiveDateTime,
    ) -> Result<Row, VpError> {
        let t = require_type(tt)?;
        let today = now.date();
        let mut body = body.clone();
        let period = self.period_of(&body, user, today)?;
        if str_ci(&body, "Batch").is_empty() {
            let mut n = self.post_seq.get(&period).copied().unwrap_or(0) + 1;
            let name = loop {
                let candidate = format!("{}{period}{n:04}", t.tt.to_ascii_uppercase());
                if self.batch_index(t.tt, &candidate).is_none() {
                    break candidate;
                }
                n += 1;
            };
            body.insert("Batch".into(), Value::String(name));
        }
        let row = self.create_batch(t.tt, &body, user, today)?;
        let batch = str_ci(&row, "Batch");
        let index = self
            .batch_index(t.tt, &batch)
            .ok_or_else(VpError::records_not_found)?;
        let outcome = match self.ensure_open(period) {
            Ok(()) => self.post_entry_batch(index, period, user, now),
            Err(e) => Err(e.to_string()),
        };
        match outcome {
            Ok(_) => Ok(self.batch_with_children(t.tt, &batch).unwrap_or_default()),
            Err(reason) => {
                self.batches.remove(index);
                Err(VpError::bad_request(reason))
            }
        }
    }
}
