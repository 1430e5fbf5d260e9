//! The emulator's in-memory state: apps, users, divisions, OAuth grants, entity tables with the shared
//! rowversion `Timestamp` counter, the deleted-records log, rate windows, the error budget, and the business
//! rules of the entities the Ledgerlink flows use (account codes, entry totals and types, receivables and
//! payment terms, balanced journal entries, payments).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use base64::Engine;
use chrono::{DateTime, Datelike, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::model::{self, KeyKind, P, R, SetDef, U, coerce, date_value, dec_value, value_dec};

/// One stored row: its properties in wire form and its rowversion.
#[derive(Debug, Clone)]
pub(crate) struct Record {
    pub data: Map<String, Value>,
    pub ts: i64,
}

#[derive(Clone)]
pub(crate) struct App {
    pub client_id: String,
    pub client_secret: String,
    pub webhook_secret: String,
    pub redirect_uri: String,
    pub name: String,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("client_id", &self.client_id)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone)]
pub(crate) struct User {
    pub id: Uuid,
    pub full_name: String,
    pub email: String,
    pub divisions: BTreeSet<i32>,
    pub current_division: Option<i32>,
}

#[derive(Debug, Clone)]
pub(crate) struct DivisionInfo {
    pub code: i32,
    pub description: String,
    pub currency: String,
    pub created: DateTime<Utc>,
    /// When the division last moved to another database (`system/Divisions.DivisionMoveDate`), and that
    /// database's rowversion counter: from then on the division's `Timestamp`s come from it.
    pub moved: Option<(DateTime<Utc>, i64)>,
}

#[derive(Debug, Clone)]
pub(crate) struct AuthCode {
    pub client_id: String,
    /// The country site that issued it (`site::SITES`).
    pub site: &'static str,
    pub user: Uuid,
    pub redirect_uri: String,
    pub expires_at: DateTime<Utc>,
    pub used: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct AccessGrant {
    pub client_id: String,
    pub site: &'static str,
    pub user: Uuid,
    pub expires_at: DateTime<Utc>,
    /// The refresh token issued together with this access token.
    pub refresh: String,
}

#[derive(Debug, Clone)]
pub(crate) struct RefreshGrant {
    pub client_id: String,
    pub site: &'static str,
    pub user: Uuid,
    /// When the access token issued with this refresh token was issued (the 570-second rule counts from here).
    pub issued_at: DateTime<Utc>,
    pub superseded: bool,
    /// The refresh token this one was exchanged for.
    pub successor: Option<String>,
    /// Whether the access token issued with this refresh token has been used on the API.
    pub used: bool,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct RateWindow {
    pub minute: i64,
    pub minute_count: u32,
    pub day: i64,
    pub day_count: u32,
}

/// A change a webhook subscriber may hear about.
#[derive(Debug, Clone)]
pub(crate) struct Event {
    pub division: i32,
    pub topic: &'static str,
    pub action: &'static str,
    pub key: String,
    pub path: &'static str,
}

/// A request body split into plain properties and navigation arrays (e.g. `SalesEntryLines`).
type BodyParts = (Map<String, Value>, Vec<(String, Vec<Map<String, Value>>)>);

/// Why an operation on the store failed; the API layer maps it to a status and the error envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum OpError {
    /// 400 with this message.
    BadRequest(String),
    /// 404.
    NotFound(String),
    /// 405.
    MethodNotAllowed,
    /// Business validation: 500 (configurable to 400), messages joined by `\r\n`.
    Validation(Vec<String>),
}

fn validation(msg: impl Into<String>) -> OpError {
    OpError::Validation(vec![msg.into()])
}

/// A payment registered through the admin surface.
#[derive(Debug, Clone)]
pub(crate) struct PaymentInput {
    pub division: i32,
    pub entry_id: String,
    pub amount: Option<Decimal>,
    pub date: DateTime<Utc>,
    pub employee: bool,
    /// The bank journal the money went through (`"20"`, the template's bank, when `None`).
    pub journal: Option<String>,
}

/// What registering a payment did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PaymentRecorded {
    /// `EntryID` of the bank entry that carries the payment.
    pub bank_entry_id: String,
    /// `ID` of the new Receivable or Payment row for the payment itself.
    pub cashflow_row_id: String,
    /// Amount paid by this payment.
    pub amount: Decimal,
    /// Still open on the entry after this payment.
    pub remaining: Decimal,
    pub fully_paid: bool,
}

/// Debug output shows sizes only: the maps are keyed by codes and tokens.
pub(crate) struct Store {
    pub rng: StdRng,
    pub apps: BTreeMap<String, App>,
    pub users: BTreeMap<Uuid, User>,
    pub user_order: Vec<Uuid>,
    pub divisions: BTreeMap<i32, DivisionInfo>,
    pub codes: HashMap<String, AuthCode>,
    pub access: HashMap<String, AccessGrant>,
    pub refresh: HashMap<String, RefreshGrant>,
    pub refresh_counts: BTreeMap<String, u64>,
    pub token_calls: BTreeMap<String, u64>,
    /// Token-endpoint calls per client and UTC day (the 200-a-day rule).
    pub token_calls_per_day: HashMap<(String, chrono::NaiveDate), u32>,
    pub tables: HashMap<(i32, &'static str), BTreeMap<String, Record>>,
    pub timestamp: i64,
    pub rate: HashMap<(String, i32), RateWindow>,
    pub errors: HashMap<(String, Uuid, i32, String, i64), u32>,
    pub blocks: HashMap<(String, Uuid, i32, String), DateTime<Utc>>,
    pub paid: HashMap<(i32, String), Decimal>,
    pub events: Vec<Event>,
    /// `ExactConfig::sales_invoice_journal_required`.
    pub invoice_journal_required: bool,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("apps", &self.apps.len())
            .field("users", &self.users.len())
            .field("divisions", &self.divisions.keys().collect::<Vec<_>>())
            .field("tables", &self.tables.len())
            .field("timestamp", &self.timestamp)
            .finish_non_exhaustive()
    }
}

/// Normalises a client id: braces stripped, lower case.
pub(crate) fn norm_client(id: &str) -> String {
    id.trim()
        .trim_start_matches('{')
        .trim_end_matches('}')
        .to_ascii_lowercase()
}

fn s(v: &Value) -> Option<&str> {
    v.as_str()
}

fn round2(d: Decimal) -> Decimal {
    d.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

use model::ms_to_date;

mod bank;
mod transactions;

pub(crate) use transactions::SYNC_TIMESTAMP_ENDPOINTS;
mod invoicing;

impl Store {
    pub fn new(seed: u64) -> Self {
        Self {
            rng: StdRng::seed_from_u64(seed),
            apps: BTreeMap::new(),
            users: BTreeMap::new(),
            user_order: Vec::new(),
            divisions: BTreeMap::new(),
            codes: HashMap::new(),
            access: HashMap::new(),
            refresh: HashMap::new(),
            refresh_counts: BTreeMap::new(),
            token_calls: BTreeMap::new(),
            token_calls_per_day: HashMap::new(),
            tables: HashMap::new(),
            timestamp: 1_000_000,
            rate: HashMap::new(),
            errors: HashMap::new(),
            blocks: HashMap::new(),
            paid: HashMap::new(),
            events: Vec::new(),
            invoice_journal_required: true,
        }
    }

    pub fn new_guid(&mut self) -> String {
        let bytes: [u8; 16] = self.rng.random();
        uuid::Builder::from_random_bytes(bytes)
            .into_uuid()
            .to_string()
    }

    /// A token-like random string (URL-safe base64), optionally with Exact's `xxxx!IAAAA` prefix.
    pub fn token(&mut self, bytes: usize, bang: bool) -> String {
        let raw: Vec<u8> = (0..bytes).map(|_| self.rng.random()).collect();
        let body = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
        if bang {
            let head: String = (0..4)
                .map(|_| {
                    char::from(
                        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                            [self.rng.random_range(0..52)],
                    )
                })
                .collect();
            format!("{head}!IAAAA{body}")
        } else {
            format!("AAEAA{body}")
        }
    }

    /// The next rowversion of `division`'s database: the shared counter (strictly increasing, shared by every
    /// table and division, gaps expected), or, once the division has moved, the counter of the database it
    /// moved to.
    pub fn next_ts_for(&mut self, division: i32) -> i64 {
        let step = 1 + i64::from(self.rng.random_range(0u8..3));
        if let Some(info) = self.divisions.get_mut(&division)
            && let Some((_, counter)) = info.moved.as_mut()
        {
            *counter += step;
            return *counter;
        }
        self.timestamp += step;
        self.timestamp
    }

    /// Moves `division` to another database (Exact does this for maintenance): `DivisionMoveDate` becomes
    /// `now` and every row's `Timestamp` is renumbered from the new database's counter, which starts far
    /// below the old values — a sync cursor kept from before the move no longer fits (reference §5.15).
    /// Returns the highest new `Timestamp`.
    pub fn move_division(&mut self, division: i32, now: DateTime<Utc>) -> Option<i64> {
        let mut keys: Vec<(i64, &'static str, String)> = self
            .tables
            .iter()
            .filter(|((d, _), _)| *d == division)
            .flat_map(|((_, path), rows)| rows.iter().map(move |(k, r)| (r.ts, *path, k.clone())))
            .collect();
        keys.sort();
        let info = self.divisions.get_mut(&division)?;
        info.moved = Some((now, 0));
        let mut last = 0;
        for (_, path, key) in keys {
            let ts = self.next_ts_for(division);
            if let Some(r) = self.table_mut(division, path).get_mut(&key) {
                r.ts = ts;
                if r.data.contains_key("Timestamp") {
                    r.data.insert("Timestamp".into(), json!(ts));
                }
            }
            last = ts;
        }
        Some(last)
    }

    pub fn user_name(&self, id: Uuid) -> String {
        self.users
            .get(&id)
            .map(|u| u.full_name.clone())
            .unwrap_or_default()
    }

    pub fn table(&self, division: i32, path: &'static str) -> Option<&BTreeMap<String, Record>> {
        self.tables.get(&(division, path))
    }

    pub fn table_mut(
        &mut self,
        division: i32,
        path: &'static str,
    ) -> &mut BTreeMap<String, Record> {
        self.tables.entry((division, path)).or_default()
    }

    pub fn get(&self, division: i32, path: &'static str, key: &str) -> Option<&Record> {
        self.table(division, path).and_then(|t| t.get(key))
    }

    pub fn rows(&self, division: i32, path: &'static str) -> impl Iterator<Item = &Record> {
        self.table(division, path)
            .into_iter()
            .flat_map(|t| t.values())
    }

    fn find_by(
        &self,
        division: i32,
        path: &'static str,
        field: &str,
        pred: impl Fn(&Value) -> bool,
    ) -> Option<&Record> {
        self.rows(division, path)
            .find(|r| r.data.get(field).is_some_and(&pred))
    }

    /// A fresh record of `def` with every property null.
    fn blank(def: &SetDef) -> Map<String, Value> {
        def.fields
            .iter()
            .map(|f| (f.name.to_owned(), Value::Null))
            .collect()
    }

    fn stamp_created(
        &self,
        data: &mut Map<String, Value>,
        division: i32,
        user: Uuid,
        now: DateTime<Utc>,
    ) {
        let name = Value::String(self.user_name(user));
        for (k, v) in [
            ("Created", date_value(now)),
            ("Modified", date_value(now)),
            ("Creator", Value::String(user.to_string())),
            ("Modifier", Value::String(user.to_string())),
            ("CreatorFullName", name.clone()),
            ("ModifierFullName", name),
            ("Division", json!(division)),
        ] {
            if data.contains_key(k) {
                data.insert(k.to_owned(), v);
            }
        }
    }

    fn stamp_modified(&self, data: &mut Map<String, Value>, user: Uuid, now: DateTime<Utc>) {
        if data.contains_key("Modified") {
            data.insert("Modified".into(), date_value(now));
            data.insert("Modifier".into(), Value::String(user.to_string()));
            data.insert(
                "ModifierFullName".into(),
                Value::String(self.user_name(user)),
            );
        }
    }

    /// Inserts (or replaces) a row with a new rowversion.
    pub fn put(
        &mut self,
        division: i32,
        path: &'static str,
        key: String,
        data: Map<String, Value>,
    ) -> i64 {
        let ts = self.next_ts_for(division);
        self.table_mut(division, path)
            .insert(key, Record { data, ts });
        ts
    }

    fn emit(&mut self, division: i32, def: &SetDef, action: &'static str, key: &str) {
        if let Some(topic) = def.topic {
            // Line-level changes fire the header's topic with the header's key.
            let path = match def.path {
                model::SALES_ENTRY_LINES => model::SALES_ENTRIES,
                model::PURCHASE_ENTRY_LINES => model::PURCHASE_ENTRIES,
                model::GJ_ENTRY_LINES => model::GJ_ENTRIES,
                model::BANK_ENTRY_LINES => model::BANK_ENTRIES,
                p => p,
            };
            self.events.push(Event {
                division,
                topic,
                action,
                key: key.to_owned(),
                path,
            });
        }
    }

    // -----------------------------------------------------------------------------------------------------
    // Divisions and their template data.

    /// Creates a division with the template every new Exact administration has: journals, currencies, VAT
    /// codes (including a combined one) and a small chart of accounts.
    pub fn create_division(&mut self, code: i32, description: &str, now: DateTime<Utc>) {
        if self.divisions.contains_key(&code) {
            return;
        }
        self.divisions.insert(
            code,
            DivisionInfo {
                code,
                description: description.to_owned(),
                currency: "EUR".into(),
                created: now,
                moved: None,
            },
        );
        let system = Uuid::nil();
        for (c, d, ap) in [
            ("EUR", "Euro", "0.01"),
            ("USD", "US Dollar", "0.01"),
            ("GBP", "Pound Sterling", "0.01"),
        ] {
            let mut data = Self::blank(def(model::CURRENCIES));
            data.insert("Code".into(), json!(c));
            data.insert("Description".into(), json!(d));
            data.insert(
                "AmountPrecision".into(),
                value_dec(&json!(ap)).map(dec_value).unwrap_or(Value::Null),
            );
            data.insert(
                "PricePrecision".into(),
                value_dec(&json!("0.0001"))
                    .map(dec_value)
                    .unwrap_or(Value::Null),
            );
            data.insert("Created".into(), date_value(now));
            data.insert("Modified".into(), date_value(now));
            self.put(code, model::CURRENCIES, c.to_owned(), data);
        }
        let gl = |s: &mut Self, c: &str, d: &str, t: i64, vat: Option<&str>| -> String {
            let mut body = Map::new();
            body.insert("Code".into(), json!(c));
            body.insert("Description".into(), json!(d));
            body.insert("Type".into(), json!(t));
            if let Some(v) = vat {
                body.insert("VATCode".into(), json!(v));
            }
            s.create(code, def(model::GL_ACCOUNTS), &body, system, now, true)
                .map(|(k, _)| k)
                .unwrap_or_default()
        };
        let bank = gl(self, "1100", "Bank", 12, None);
        let ar = gl(self, "1300", "Debiteuren / Accounts receivable", 20, None);
        let vat_pay = gl(self, "1500", "Te betalen btw / VAT payable", 24, None);
        let ap = gl(self, "1600", "Crediteuren / Accounts payable", 22, None);
        gl(
            self,
            "1650",
            "Te betalen personeel / Employees payable",
            25,
            None,
        );
        // Type E = excluding VAT; N = no VAT (outside the scope of VAT: what untaxed lines are booked with).
        for (c, d, pct, combined, ty) in [
            ("0", "0% (geen btw)", "0", None, "E"),
            ("1", "9% laag tarief", "0.09", None, "E"),
            ("2", "21% hoog tarief", "0.21", None, "E"),
            (
                "5",
                "Gecombineerd 21% + 9% (combined)",
                "0.30",
                Some(["0.21", "0.09"]),
                "E",
            ),
            ("6", "Geen btw / no VAT", "0", None, "N"),
        ] {
            let mut body = Map::new();
            body.insert("Code".into(), json!(c));
            body.insert("Description".into(), json!(d));
            body.insert("Percentage".into(), json!(pct));
            body.insert("Type".into(), json!(ty));
            body.insert("VATTransactionType".into(), json!("B"));
            body.insert("GLToPay".into(), json!(vat_pay));
            if let Ok((vat_id, _)) =
                self.create(code, def(model::VAT_CODES), &body, system, now, true)
            {
                let parts: Vec<&str> = combined.map(|c| c.to_vec()).unwrap_or_else(|| vec![pct]);
                for (i, p) in parts.iter().enumerate() {
                    let id = self.new_guid();
                    let mut data = Self::blank(def(model::VAT_PERCENTAGES));
                    data.insert("ID".into(), json!(id));
                    data.insert("VATCodeID".into(), json!(vat_id));
                    data.insert("LineNumber".into(), json!(i + 1));
                    data.insert(
                        "Percentage".into(),
                        value_dec(&json!(p)).map(dec_value).unwrap_or(Value::Null),
                    );
                    data.insert("Type".into(), json!(0));
                    self.stamp_created(&mut data, code, system, now);
                    self.put(code, model::VAT_PERCENTAGES, id, data);
                }
            }
        }
        gl(self, "4000", "Kosten / General expenses", 121, Some("2"));
        gl(self, "7000", "Inkoopwaarde / Cost of goods", 111, Some("2"));
        gl(
            self,
            "8000",
            "Omzet hoog / Revenue high VAT",
            110,
            Some("2"),
        );
        gl(self, "8010", "Omzet laag / Revenue low VAT", 110, Some("1"));
        for (c, d, t, g) in [
            ("20", "Bank", 12, Some(bank)),
            ("60", "Inkoopboek / Purchase journal", 22, Some(ap)),
            ("70", "Verkoopboek / Sales journal", 20, Some(ar)),
            ("90", "Memoriaal / General journal", 90, None),
        ] {
            let id = self.new_guid();
            let mut data = Self::blank(def(model::JOURNALS));
            data.insert("ID".into(), json!(id));
            data.insert("Code".into(), json!(c));
            data.insert("Description".into(), json!(d));
            data.insert("Type".into(), json!(t));
            data.insert("Currency".into(), json!("EUR"));
            data.insert(
                "GLAccount".into(),
                g.map(Value::String).unwrap_or(Value::Null),
            );
            self.stamp_created(&mut data, code, system, now);
            self.put(code, model::JOURNALS, id, data);
        }
    }

    /// Adds a bank journal (`Type` 12) with its own bank G/L account, as an administrator sets up a second
    /// bank account. Returns the journal's id; an existing code is left as it is.
    pub fn create_bank_journal(
        &mut self,
        division: i32,
        code: &str,
        description: &str,
        currency: &str,
        now: DateTime<Utc>,
    ) -> String {
        if let Some(existing) = self.journal(division, code) {
            return existing
                .data
                .get("ID")
                .and_then(s)
                .unwrap_or_default()
                .to_owned();
        }
        let system = Uuid::nil();
        let mut body = Map::new();
        body.insert("Code".into(), json!(format!("11{code}")));
        body.insert("Description".into(), json!(format!("Bank {description}")));
        body.insert("Type".into(), json!(12));
        let gl = self
            .create(division, def(model::GL_ACCOUNTS), &body, system, now, true)
            .map(|(k, _)| k)
            .unwrap_or_default();
        let id = self.new_guid();
        let mut data = Self::blank(def(model::JOURNALS));
        data.insert("ID".into(), json!(id));
        data.insert("Code".into(), json!(code));
        data.insert("Description".into(), json!(description));
        data.insert("Type".into(), json!(12));
        data.insert("Currency".into(), json!(currency));
        data.insert("GLAccount".into(), json!(gl));
        self.stamp_created(&mut data, division, system, now);
        self.put(division, model::JOURNALS, id.clone(), data);
        id
    }

    fn journal(&self, division: i32, code: &str) -> Option<&Record> {
        self.find_by(division, model::JOURNALS, "Code", |v| {
            s(v).is_some_and(|c| c.trim().eq_ignore_ascii_case(code.trim()))
        })
    }

    fn gl_by_type(&self, division: i32, ty: i64) -> Option<String> {
        self.find_by(division, model::GL_ACCOUNTS, "Type", |v| {
            v.as_i64() == Some(ty)
        })
        .and_then(|r| r.data.get("ID").and_then(s).map(str::to_owned))
    }

    fn vat_code(&self, division: i32, code: &str) -> Option<&Record> {
        self.find_by(division, model::VAT_CODES, "Code", |v| {
            s(v).is_some_and(|c| c.trim() == code.trim())
        })
    }

    // -----------------------------------------------------------------------------------------------------
    // Generic create / update / delete.

    /// Reads a request body into a record of `def`. Unknown properties are a 400, read-only ones are ignored
    /// (unless `admin`), values are coerced to their wire form. Navigation arrays are returned separately.
    fn read_body(
        def: &SetDef,
        body: &Map<String, Value>,
        writable: u8,
        admin: bool,
    ) -> Result<BodyParts, OpError> {
        let mut fields = Map::new();
        let mut navs = Vec::new();
        for (k, v) in body {
            if k == "__metadata" {
                continue;
            }
            if def.nav(k).is_some() {
                let items = match v {
                    Value::Array(a) => a.clone(),
                    Value::Object(o) if o.get("results").is_some_and(Value::is_array) => o
                        .get("results")
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default(),
                    Value::Null => Vec::new(),
                    _ => {
                        return Err(OpError::BadRequest(
                            "Error processing request stream. The request should be a valid top-level resource object.".into(),
                        ));
                    }
                };
                let mut rows = Vec::new();
                for item in items {
                    match item {
                        Value::Object(o) => rows.push(o),
                        _ => {
                            return Err(OpError::BadRequest(
                                "Error processing request stream. The request should be a valid top-level resource object.".into(),
                            ));
                        }
                    }
                }
                navs.push((k.clone(), rows));
                continue;
            }
            let Some(field) = def.field(k) else {
                return Err(OpError::BadRequest(format!(
                    "Error processing request stream. The property name '{k}' specified for type 'Exact.Web.Api.Models.{}' is not valid.",
                    def.type_name
                )));
            };
            if !admin && field.flags & writable == 0 {
                continue;
            }
            let value = coerce(field.ty, v).map_err(|edm| {
                OpError::BadRequest(format!("Error processing request stream. Cannot convert the value of property '{k}' to type '{edm}'."))
            })?;
            fields.insert(k.clone(), value);
        }
        Ok((fields, navs))
    }

    fn required(def: &SetDef, data: &Map<String, Value>, msgs: &mut Vec<String>) {
        for f in def.fields.iter().filter(|f| f.flags & R != 0) {
            if data
                .get(f.name)
                .is_none_or(|v| v.is_null() || v.as_str().is_some_and(|s| s.trim().is_empty()))
            {
                msgs.push(format!("Mandatory: {}", f.name));
            }
        }
    }

    /// POST. Returns the new key and whether a new row was created (Addresses may return an existing one).
    pub fn create(
        &mut self,
        division: i32,
        def: &'static SetDef,
        body: &Map<String, Value>,
        user: Uuid,
        now: DateTime<Utc>,
        admin: bool,
    ) -> Result<(String, bool), OpError> {
        if !admin && !def.allows(model::POST) {
            return Err(OpError::MethodNotAllowed);
        }
        let (fields, navs) = Self::read_body(def, body, P, admin)?;
        let mut data = Self::blank(def);
        data.extend(fields);
        match def.path {
            model::SALES_ENTRIES | model::PURCHASE_ENTRIES => {
                return self.create_entry(division, def, data, navs, user, now);
            }
            model::GJ_ENTRIES => return self.create_gj_entry(division, data, navs, user, now),
            model::BANK_ENTRIES => return self.create_bank_entry(division, data, navs, user, now),
            model::BANK_ENTRY_LINES => {
                return self.create_bank_entry_line(division, data, user, now);
            }
            model::SALES_INVOICES => {
                return self.create_sales_invoice(division, data, navs, user, now);
            }
            model::SALES_INVOICE_LINES => {
                return self.save_invoice_line(division, None, data, user, now);
            }
            model::PRINTED_SALES_INVOICES => {
                let (key, created) = self.print_sales_invoice(division, data.clone(), user, now)?;
                let mut record = data;
                record.insert("Division".into(), json!(division));
                let wants_mail = record
                    .get("SendEmailToCustomer")
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                record.insert(
                    "DocumentCreationSuccess".into(),
                    json!("The invoice has been processed and its document created."),
                );
                if wants_mail {
                    record.insert(
                        "EmailCreationSuccess".into(),
                        json!("The e-mail to the customer has been created."),
                    );
                }
                self.put(division, model::PRINTED_SALES_INVOICES, key.clone(), record);
                return Ok((key, created));
            }
            model::SALES_ENTRY_LINES | model::PURCHASE_ENTRY_LINES | model::GJ_ENTRY_LINES => {
                return self.create_standalone_line(division, def, data, user, now);
            }
            _ => {}
        }
        let mut msgs = Vec::new();
        Self::required(def, &data, &mut msgs);
        match def.path {
            model::ACCOUNTS => self.prepare_account(division, &mut data, None, &mut msgs),
            model::CONTACTS => self.prepare_contact(division, &mut data, &mut msgs),
            model::GL_ACCOUNTS => self.prepare_gl(division, &mut data, None, &mut msgs),
            model::ITEMS => self.prepare_item(division, &mut data, None, &mut msgs),
            model::VAT_CODES => {
                if let Some(code) = data.get("Code").and_then(s)
                    && self.vat_code(division, code).is_some()
                {
                    msgs.push("Data already exists.".into());
                }
                for (k, d) in [("Type", "E"), ("VATTransactionType", "B")] {
                    if data.get(k).is_none_or(Value::is_null) {
                        data.insert(k.into(), json!(d));
                    }
                }
                data.entry("Percentage").and_modify(|v| {
                    if v.is_null() {
                        *v = json!(0);
                    }
                });
            }
            model::ADDRESSES => {
                match data.get("Type").and_then(Value::as_i64) {
                    Some(1..=4) | None => {}
                    Some(_) => msgs.push("Invalid: Type".into()),
                }
                if let Some(acc) = data.get("Account").and_then(s) {
                    match self.get(division, model::ACCOUNTS, acc) {
                        Some(a) => {
                            let name = a.data.get("Name").cloned().unwrap_or(Value::Null);
                            data.insert("AccountName".into(), name);
                        }
                        None => msgs.push("Invalid reference: Account".into()),
                    }
                }
                if msgs.is_empty() {
                    // "When using the POST method, it is first checked whether the specified address already
                    // exists. If so, the ID property of the existing address is returned."
                    let writable: Vec<&str> = def
                        .fields
                        .iter()
                        .filter(|f| f.flags & P != 0)
                        .map(|f| f.name)
                        .collect();
                    if let Some(existing) = self.rows(division, model::ADDRESSES).find(|r| {
                        writable.iter().all(|k| {
                            r.data.get(*k).unwrap_or(&Value::Null)
                                == data.get(*k).unwrap_or(&Value::Null)
                        })
                    }) {
                        let key = existing
                            .data
                            .get("ID")
                            .and_then(s)
                            .unwrap_or_default()
                            .to_owned();
                        return Ok((key, false));
                    }
                }
            }
            _ => {}
        }
        if !msgs.is_empty() {
            return Err(OpError::Validation(msgs));
        }
        let key = match def.key_kind {
            KeyKind::Guid => {
                let k = self.new_guid();
                data.insert(def.key.to_owned(), json!(k));
                k
            }
            _ => data
                .get(def.key)
                .and_then(s)
                .map(str::to_owned)
                .ok_or_else(|| validation(format!("Mandatory: {}", def.key)))?,
        };
        self.stamp_created(&mut data, division, user, now);
        self.put(division, def.path, key.clone(), data);
        self.emit(division, def, "Create", &key);
        Ok((key, true))
    }

    /// PUT: a merge of the writable properties sent.
    pub fn update(
        &mut self,
        division: i32,
        def: &'static SetDef,
        key: &str,
        body: &Map<String, Value>,
        user: Uuid,
        now: DateTime<Utc>,
    ) -> Result<(), OpError> {
        if !def.allows(model::PUT) {
            return Err(OpError::MethodNotAllowed);
        }
        let Some(existing) = self.get(division, def.path, key).cloned() else {
            return Err(OpError::NotFound(format!("{} not found", def.type_name)));
        };
        let (fields, _navs) = Self::read_body(def, body, U, false)?;
        let mut data = existing.data.clone();
        data.extend(fields);
        let mut msgs = Vec::new();
        match def.path {
            model::SALES_INVOICES => self.guard_invoice_change(division, key)?,
            model::SALES_INVOICE_LINES => {
                // Amounts follow a changed quantity or price unless the client sets them itself.
                for k in ["AmountFC", "VATAmountFC"] {
                    if !body.contains_key(k) {
                        data.remove(k);
                    }
                }
                self.save_invoice_line(division, Some(key), data, user, now)?;
                return Ok(());
            }
            model::ITEMS => self.prepare_item(division, &mut data, Some(key), &mut msgs),
            _ => {}
        }
        match def.path {
            model::ACCOUNTS => self.prepare_account(division, &mut data, Some(key), &mut msgs),
            model::GL_ACCOUNTS => self.prepare_gl(division, &mut data, Some(key), &mut msgs),
            model::CONTACTS => self.prepare_contact(division, &mut data, &mut msgs),
            model::SALES_ENTRY_LINES | model::PURCHASE_ENTRY_LINES => {
                let header_path = if def.path == model::SALES_ENTRY_LINES {
                    model::SALES_ENTRIES
                } else {
                    model::PURCHASE_ENTRIES
                };
                self.price_line(division, &mut data, &mut msgs, 1);
                if msgs.is_empty() {
                    let entry = data
                        .get("EntryID")
                        .and_then(s)
                        .unwrap_or_default()
                        .to_owned();
                    self.stamp_modified(&mut data, user, now);
                    self.put(division, def.path, key.to_owned(), data);
                    self.recompute_entry(division, header_path, &entry, user, now);
                    self.emit(division, def, "Update", &entry);
                    return Ok(());
                }
            }
            _ => {}
        }
        Self::required(def, &data, &mut msgs);
        if !msgs.is_empty() {
            return Err(OpError::Validation(msgs));
        }
        self.stamp_modified(&mut data, user, now);
        self.put(division, def.path, key.to_owned(), data);
        self.emit(division, def, "Update", key);
        Ok(())
    }

    /// DELETE (children and derived cashflow rows go too; logged in `sync/Deleted`).
    pub fn delete(
        &mut self,
        division: i32,
        def: &'static SetDef,
        key: &str,
        user: Uuid,
        now: DateTime<Utc>,
        admin: bool,
    ) -> Result<(), OpError> {
        if !admin && !def.allows(model::DELETE) {
            return Err(OpError::MethodNotAllowed);
        }
        match def.path {
            model::SALES_INVOICES => self.guard_invoice_change(division, key)?,
            model::SALES_INVOICE_LINES => {
                let invoice = self
                    .get(division, def.path, key)
                    .and_then(|r| r.data.get("InvoiceID").and_then(s).map(str::to_owned));
                if let Some(invoice) = invoice {
                    self.guard_invoice_change(division, &invoice)?;
                }
            }
            _ => {}
        }
        let Some(removed) = self.table_mut(division, def.path).remove(key) else {
            return Err(OpError::NotFound(format!("{} not found", def.type_name)));
        };
        self.log_deleted(division, def, key, user, now);
        for nav in &def.navs {
            if let Some(child) = model::set(nav.child) {
                let keys: Vec<String> = self
                    .rows(division, child.path)
                    .filter(|r| r.data.get(nav.fk).and_then(s) == Some(key))
                    .filter_map(|r| r.data.get(child.key).and_then(s).map(str::to_owned))
                    .collect();
                for k in keys {
                    self.table_mut(division, child.path).remove(&k);
                }
            }
        }
        match def.path {
            model::SALES_ENTRIES | model::PURCHASE_ENTRIES => {
                let cash = if def.path == model::SALES_ENTRIES {
                    model::RECEIVABLES
                } else {
                    model::PAYMENTS
                };
                for path in [cash, model::PAYMENT_TERMS] {
                    let keys: Vec<String> = self
                        .rows(division, path)
                        .filter(|r| r.data.get("TransactionEntryID").and_then(s) == Some(key))
                        .filter_map(|r| r.data.get("ID").and_then(s).map(str::to_owned))
                        .collect();
                    for k in keys {
                        self.table_mut(division, path).remove(&k);
                        if path == model::PAYMENT_TERMS {
                            self.log_deleted(division, def_of(path), &k, user, now);
                        }
                    }
                }
                self.emit(division, def, "Delete", key);
            }
            model::SALES_ENTRY_LINES | model::PURCHASE_ENTRY_LINES => {
                let header_path = if def.path == model::SALES_ENTRY_LINES {
                    model::SALES_ENTRIES
                } else {
                    model::PURCHASE_ENTRIES
                };
                let entry = removed
                    .data
                    .get("EntryID")
                    .and_then(s)
                    .unwrap_or_default()
                    .to_owned();
                let remaining = self
                    .rows(division, def.path)
                    .filter(|r| r.data.get("EntryID").and_then(s) == Some(entry.as_str()))
                    .count();
                if remaining == 0 {
                    // "Deleting the last item removes the entire invoice."
                    return self.delete(division, def_of(header_path), &entry, user, now, true);
                }
                self.recompute_entry(division, header_path, &entry, user, now);
                self.emit(division, def, "Update", &entry);
            }
            model::BANK_ENTRIES => {
                self.unsettle_bank_entry(division, key, user, now);
                self.emit(division, def, "Delete", key);
            }
            _ => self.emit(division, def, "Delete", key),
        }
        Ok(())
    }

    fn log_deleted(
        &mut self,
        division: i32,
        def: &SetDef,
        key: &str,
        user: Uuid,
        now: DateTime<Utc>,
    ) {
        let Some(entity_type) = def.deleted_type else {
            return;
        };
        let id = self.new_guid();
        let ts = self.next_ts_for(division);
        let mut data = Self::blank(def_of(model::DELETED));
        data.insert("Timestamp".into(), json!(ts));
        data.insert("ID".into(), json!(id));
        data.insert("EntityKey".into(), json!(key));
        data.insert("EntityType".into(), json!(entity_type));
        data.insert("DeletedBy".into(), json!(user.to_string()));
        data.insert("DeletedDate".into(), date_value(now));
        data.insert("Division".into(), json!(division));
        self.table_mut(division, model::DELETED)
            .insert(id, Record { data, ts });
    }

    // -----------------------------------------------------------------------------------------------------
    // Entity rules.

    fn prepare_account(
        &mut self,
        division: i32,
        data: &mut Map<String, Value>,
        own_key: Option<&str>,
        msgs: &mut Vec<String>,
    ) {
        let code = data.get("Code").and_then(s).map(|c| c.trim().to_owned());
        match code {
            None => {
                // "If omitted, the value of the highest used code is incremented by 1."
                let max = self
                    .rows(division, model::ACCOUNTS)
                    .filter_map(|r| {
                        r.data
                            .get("Code")
                            .and_then(s)
                            .and_then(|c| c.trim().parse::<i64>().ok())
                    })
                    .max()
                    .unwrap_or(0);
                data.insert(
                    "Code".into(),
                    json!(model::pad_left(&(max + 1).to_string(), 18)),
                );
            }
            Some(code) => {
                let taken = self.rows(division, model::ACCOUNTS).any(|r| {
                    r.data
                        .get("Code")
                        .and_then(s)
                        .is_some_and(|c| c.trim().eq_ignore_ascii_case(&code))
                        && r.data.get("ID").and_then(s) != own_key
                });
                if taken {
                    msgs.push("Data already exists.".into());
                }
            }
        }
        match data.get("Status").and_then(s).map(str::trim) {
            None | Some("" | "A" | "S" | "P" | "C") => {}
            Some(_) => msgs.push("Invalid: Status".into()),
        }
        for k in ["IsSupplier", "Blocked"] {
            if data.get(k).is_none_or(Value::is_null) {
                data.insert(k.into(), json!(false));
            }
        }
        let is_customer = data
            .get("Status")
            .and_then(s)
            .is_some_and(|st| st.trim() == "C");
        let is_supplier = data
            .get("IsSupplier")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        data.insert("IsSales".into(), json!(is_customer));
        data.insert("IsPurchase".into(), json!(is_supplier));
        data.insert("Type".into(), json!("A"));
        for (k, set) in [
            ("SalesCurrency", model::CURRENCIES),
            ("PurchaseCurrency", model::CURRENCIES),
        ] {
            // "Input not in the active currencies is silently set to empty."
            if let Some(c) = data.get(k).and_then(s)
                && self.get(division, set, c).is_none()
            {
                data.insert(k.into(), Value::Null);
            }
        }
    }

    fn prepare_contact(
        &mut self,
        division: i32,
        data: &mut Map<String, Value>,
        msgs: &mut Vec<String>,
    ) {
        let first = data
            .get("FirstName")
            .and_then(s)
            .unwrap_or("")
            .trim()
            .to_owned();
        let middle = data
            .get("MiddleName")
            .and_then(s)
            .unwrap_or("")
            .trim()
            .to_owned();
        let last = data
            .get("LastName")
            .and_then(s)
            .unwrap_or("")
            .trim()
            .to_owned();
        if first.is_empty() && last.is_empty() {
            msgs.push("Provide at least first name or last name".into());
        }
        let full: Vec<&str> = [first.as_str(), middle.as_str(), last.as_str()]
            .into_iter()
            .filter(|p| !p.is_empty())
            .collect();
        data.insert("FullName".into(), json!(full.join(" ")));
        if let Some(acc) = data.get("Account").and_then(s).map(str::to_owned) {
            match self.get(division, model::ACCOUNTS, &acc) {
                Some(a) => {
                    let name = a.data.get("Name").cloned().unwrap_or(Value::Null);
                    let cust = a.data.get("IsSales").cloned().unwrap_or(json!(false));
                    let sup = a.data.get("IsSupplier").cloned().unwrap_or(json!(false));
                    data.insert("AccountName".into(), name);
                    data.insert("AccountIsCustomer".into(), cust);
                    data.insert("AccountIsSupplier".into(), sup);
                }
                None => msgs.push("Invalid reference: Account".into()),
            }
        }
        if data.get("IsMainContact").is_none_or(Value::is_null) {
            data.insert("IsMainContact".into(), json!(false));
        }
    }

    fn prepare_gl(
        &mut self,
        division: i32,
        data: &mut Map<String, Value>,
        own_key: Option<&str>,
        msgs: &mut Vec<String>,
    ) {
        if let Some(code) = data.get("Code").and_then(s).map(|c| c.trim().to_owned()) {
            let taken = self.rows(division, model::GL_ACCOUNTS).any(|r| {
                r.data
                    .get("Code")
                    .and_then(s)
                    .is_some_and(|c| c.trim().eq_ignore_ascii_case(&code))
                    && r.data.get("ID").and_then(s) != own_key
            });
            if taken {
                msgs.push("Data already exists.".into());
            }
        }
        let ty = data.get("Type").and_then(Value::as_i64).unwrap_or(90);
        data.insert("Type".into(), json!(ty));
        data.insert("TypeDescription".into(), json!(gl_type_description(ty)));
        if data.get("BalanceType").is_none_or(Value::is_null) {
            data.insert(
                "BalanceType".into(),
                json!(if (110..300).contains(&ty) { "W" } else { "B" }),
            );
        }
        if data.get("BalanceSide").is_none_or(Value::is_null) {
            data.insert(
                "BalanceSide".into(),
                json!(
                    if matches!(ty, 110 | 140 | 160 | 22 | 24 | 25 | 50 | 52 | 55) {
                        "C"
                    } else {
                        "D"
                    }
                ),
            );
        }
        if data.get("IsBlocked").is_none_or(Value::is_null) {
            data.insert("IsBlocked".into(), json!(false));
        }
        if let Some(vat) = data.get("VATCode").and_then(s)
            && self.vat_code(division, vat).is_none()
        {
            msgs.push("Invalid reference: VAT code".into());
        }
    }

    /// Fills a sales/purchase line's derived values; `sign` is unused for now but keeps the call explicit.
    fn price_line(
        &self,
        division: i32,
        line: &mut Map<String, Value>,
        msgs: &mut Vec<String>,
        _sign: i32,
    ) {
        match line.get("GLAccount").and_then(s).map(str::to_owned) {
            None => msgs.push("Mandatory: GLAccount".into()),
            Some(gl) => match self.get(division, model::GL_ACCOUNTS, &gl) {
                None => msgs.push("Invalid reference: GLAccount".into()),
                Some(g) => {
                    let ty = g.data.get("Type").and_then(Value::as_i64).unwrap_or(90);
                    if matches!(ty, 20 | 22 | 24) {
                        msgs.push("Invalid: G/L account type".into());
                    }
                    let code = g.data.get("Code").cloned().unwrap_or(Value::Null);
                    let desc = g.data.get("Description").cloned().unwrap_or(Value::Null);
                    line.insert("GLAccountCode".into(), code);
                    line.insert("GLAccountDescription".into(), desc);
                    if line.get("VATCode").is_none_or(Value::is_null) {
                        let vat = g.data.get("VATCode").cloned().unwrap_or(Value::Null);
                        line.insert("VATCode".into(), vat);
                    }
                }
            },
        }
        let amount = line.get("AmountFC").and_then(value_dec);
        if amount.is_none() {
            msgs.push("Mandatory: AmountFC".into());
        }
        let amount = amount.unwrap_or_default();
        let mut pct = Decimal::ZERO;
        if let Some(code) = line.get("VATCode").and_then(s).map(str::to_owned) {
            match self.vat_code(division, &code) {
                None => msgs.push("Invalid reference: VAT code".into()),
                Some(v) => {
                    pct = v
                        .data
                        .get("Percentage")
                        .and_then(value_dec)
                        .unwrap_or_default();
                    let d = v.data.get("Description").cloned().unwrap_or(Value::Null);
                    line.insert("VATCodeDescription".into(), d);
                }
            }
        }
        if line.get("VATPercentage").is_none_or(Value::is_null) {
            line.insert("VATPercentage".into(), dec_value(pct));
        }
        let vat = line
            .get("VATAmountFC")
            .and_then(value_dec)
            .unwrap_or_else(|| round2(amount * pct));
        line.insert("VATAmountFC".into(), dec_value(vat));
        line.insert("VATBaseAmountFC".into(), dec_value(amount));
        line.insert("VATBaseAmountDC".into(), dec_value(amount));
        line.insert("AmountDC".into(), dec_value(amount));
        line.insert("VATAmountDC".into(), dec_value(vat));
        if line.get("Quantity").is_none_or(Value::is_null) {
            line.insert("Quantity".into(), json!(1));
        }
    }

    fn next_entry_number(
        &self,
        division: i32,
        path: &'static str,
        journal_field: &str,
        journal: &str,
        wanted: Option<i64>,
    ) -> i64 {
        let mut used: BTreeSet<i64> = self
            .rows(division, path)
            .filter(|r| r.data.get(journal_field).and_then(s) == Some(journal))
            .filter_map(|r| r.data.get("EntryNumber").and_then(Value::as_i64))
            .collect();
        if path == model::SALES_ENTRIES {
            // Open sales invoices hold their number in the journal's sequence until they are processed.
            used.extend(
                self.rows(division, model::SALES_INVOICES)
                    .filter(|r| r.data.get("Journal").and_then(s).map(str::trim) == Some(journal))
                    .filter(|r| {
                        r.data.get("Status").and_then(Value::as_i64) < Some(invoicing::PROCESSED)
                    })
                    .filter_map(|r| r.data.get("InvoiceNumber").and_then(Value::as_i64)),
            );
        }
        match wanted {
            // "May be silently ignored if Exact deems that the value is wrong, e.g. decrementing or duplicate."
            Some(n) if n > 0 && !used.contains(&n) => n,
            _ => used.iter().next_back().copied().unwrap_or(0) + 1,
        }
    }

    fn create_entry(
        &mut self,
        division: i32,
        def: &'static SetDef,
        mut data: Map<String, Value>,
        navs: Vec<(String, Vec<Map<String, Value>>)>,
        user: Uuid,
        now: DateTime<Utc>,
    ) -> Result<(String, bool), OpError> {
        let sales = def.path == model::SALES_ENTRIES;
        let (party, party_name, lines_nav, line_path, journal_type) = if sales {
            (
                "Customer",
                "CustomerName",
                "SalesEntryLines",
                model::SALES_ENTRY_LINES,
                20,
            )
        } else {
            (
                "Supplier",
                "SupplierName",
                "PurchaseEntryLines",
                model::PURCHASE_ENTRY_LINES,
                22,
            )
        };
        let mut msgs = Vec::new();
        Self::required(def, &data, &mut msgs);
        let lines_in: Vec<Map<String, Value>> = navs
            .into_iter()
            .find(|(n, _)| n == lines_nav)
            .map(|(_, l)| l)
            .unwrap_or_default();
        if lines_in.is_empty() {
            msgs.push(format!("Mandatory: {lines_nav}"));
        }
        if let Some(j) = data.get("Journal").and_then(s).map(str::to_owned) {
            match self.journal(division, &j) {
                Some(jr) if jr.data.get("Type").and_then(Value::as_i64) == Some(journal_type) => {
                    let d = jr.data.get("Description").cloned().unwrap_or(Value::Null);
                    data.insert("JournalDescription".into(), d);
                }
                _ => msgs.push("Invalid: Journal".into()),
            }
        }
        let mut party_account = None;
        if let Some(p) = data.get(party).and_then(s).map(str::to_owned) {
            match self.get(division, model::ACCOUNTS, &p) {
                None => msgs.push(format!("Invalid reference: {party}")),
                Some(a) => {
                    let ok = if sales {
                        a.data
                            .get("Status")
                            .and_then(s)
                            .is_some_and(|st| st.trim() == "C")
                    } else {
                        a.data
                            .get("IsSupplier")
                            .and_then(Value::as_bool)
                            .unwrap_or(false)
                    };
                    if !ok {
                        msgs.push(format!("Invalid: {party} (Type)"));
                    }
                    party_account = Some(a.data.clone());
                    let name = a.data.get("Name").cloned().unwrap_or(Value::Null);
                    data.insert(party_name.into(), name);
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
        let rate = data
            .get("Rate")
            .and_then(value_dec)
            .filter(|r| !r.is_zero())
            .unwrap_or(Decimal::ONE);
        data.insert("Rate".into(), dec_value(rate));
        let entry_id = self.new_guid();
        let line_def = def_of(line_path);
        let mut lines = Vec::new();
        for (i, raw) in lines_in.iter().enumerate() {
            let (fields, _) = Self::read_body(line_def, raw, P, false)?;
            let mut line = Self::blank(line_def);
            line.extend(fields);
            self.price_line(division, &mut line, &mut msgs, 1);
            let id = self.new_guid();
            line.insert("ID".into(), json!(id));
            line.insert("EntryID".into(), json!(entry_id));
            line.insert("LineNumber".into(), json!(i + 1));
            lines.push((id, line));
        }
        if !msgs.is_empty() {
            return Err(OpError::Validation(msgs));
        }
        let entry_ms = data
            .get("EntryDate")
            .and_then(s)
            .and_then(model::parse_date_ms)
            .unwrap_or_else(|| model::today_ms(now));
        data.insert("EntryDate".into(), json!(format!("/Date({entry_ms})/")));
        let entry_date =
            ms_to_date(entry_ms).unwrap_or_else(|| ledgerlink_domain::cet::date_at(now));
        if data.get("DueDate").is_none_or(Value::is_null) {
            let due = entry_ms + 30 * 86_400_000;
            data.insert("DueDate".into(), json!(format!("/Date({due})/")));
        }
        if data.get("ReportingYear").is_none_or(Value::is_null) {
            data.insert("ReportingYear".into(), json!(entry_date.year()));
        }
        if data.get("ReportingPeriod").is_none_or(Value::is_null) {
            data.insert("ReportingPeriod".into(), json!(entry_date.month()));
        }
        let journal = data
            .get("Journal")
            .and_then(s)
            .unwrap_or_default()
            .trim()
            .to_owned();
        // For sales entries the entry number is the invoice number; either may be sent as a wish.
        let wanted = data
            .get("EntryNumber")
            .and_then(Value::as_i64)
            .or_else(|| data.get("InvoiceNumber").and_then(Value::as_i64));
        let number = self.next_entry_number(division, def.path, "Journal", &journal, wanted);
        data.insert("EntryNumber".into(), json!(number));
        if data.get("InvoiceNumber").is_none_or(Value::is_null) || sales {
            data.insert("InvoiceNumber".into(), json!(number));
        }
        data.insert("EntryID".into(), json!(entry_id));
        data.insert("Status".into(), json!(20));
        data.insert("StatusDescription".into(), json!("Open"));
        for (id, mut line) in lines {
            self.stamp_created(&mut line, division, user, now);
            self.put(division, line_path, id, line);
        }
        self.stamp_created(&mut data, division, user, now);
        self.put(division, def.path, entry_id.clone(), data);
        self.recompute_entry(division, def.path, &entry_id, user, now);
        self.open_item(
            division,
            def.path,
            &entry_id,
            party_account.as_ref(),
            user,
            now,
        );
        self.emit(division, def, "Create", &entry_id);
        Ok((entry_id, true))
    }

    /// Recomputes an entry's totals and type from its lines (bumps its rowversion).
    fn recompute_entry(
        &mut self,
        division: i32,
        path: &'static str,
        entry_id: &str,
        user: Uuid,
        now: DateTime<Utc>,
    ) {
        let line_path = if path == model::SALES_ENTRIES {
            model::SALES_ENTRY_LINES
        } else {
            model::PURCHASE_ENTRY_LINES
        };
        let (mut net, mut vat) = (Decimal::ZERO, Decimal::ZERO);
        for r in self
            .rows(division, line_path)
            .filter(|r| r.data.get("EntryID").and_then(s) == Some(entry_id))
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
        let Some(mut data) = self.get(division, path, entry_id).map(|r| r.data.clone()) else {
            return;
        };
        let rate = data.get("Rate").and_then(value_dec).unwrap_or(Decimal::ONE);
        let total = net + vat;
        let sales = path == model::SALES_ENTRIES;
        let credit = total.is_sign_negative() && !total.is_zero();
        let (ty, desc) = match (sales, credit) {
            (true, false) => (20, "Sales entry"),
            (true, true) => (21, "Sales credit note"),
            (false, false) => (30, "Purchase entry"),
            (false, true) => (31, "Purchase credit note"),
        };
        data.insert("AmountFC".into(), dec_value(total));
        data.insert("AmountDC".into(), dec_value(round2(total * rate)));
        data.insert("VATAmountFC".into(), dec_value(vat));
        data.insert("VATAmountDC".into(), dec_value(round2(vat * rate)));
        data.insert("Type".into(), json!(ty));
        data.insert("TypeDescription".into(), json!(desc));
        self.stamp_modified(&mut data, user, now);
        self.put(division, path, entry_id.to_owned(), data);
        // Keep the open item in step with the entry.
        let cash = if sales {
            model::RECEIVABLES
        } else {
            model::PAYMENTS
        };
        for p in [cash, model::PAYMENT_TERMS] {
            let keys: Vec<String> = self
                .rows(division, p)
                .filter(|r| r.data.get("EntryID").and_then(s) == Some(entry_id))
                .filter_map(|r| r.data.get("ID").and_then(s).map(str::to_owned))
                .collect();
            for k in keys {
                if let Some(mut row) = self.get(division, p, &k).map(|r| r.data.clone()) {
                    row.insert("AmountFC".into(), dec_value(total));
                    row.insert("AmountDC".into(), dec_value(round2(total * rate)));
                    row.insert("TransactionAmountFC".into(), dec_value(total));
                    row.insert(
                        "TransactionAmountDC".into(),
                        dec_value(round2(total * rate)),
                    );
                    self.put(division, p, k, row);
                }
            }
        }
    }

    /// Creates the Receivable (sales) or Payment (purchase) row and the PaymentTerms row of a new entry.
    fn open_item(
        &mut self,
        division: i32,
        path: &'static str,
        entry_id: &str,
        party: Option<&Map<String, Value>>,
        user: Uuid,
        now: DateTime<Utc>,
    ) {
        let Some(entry) = self.get(division, path, entry_id).map(|r| r.data.clone()) else {
            return;
        };
        let sales = path == model::SALES_ENTRIES;
        let (cash, line_type, gl_type, party_field) = if sales {
            (model::RECEIVABLES, 20, 20, "Customer")
        } else {
            (model::PAYMENTS, 22, 22, "Supplier")
        };
        let gl = self.gl_by_type(division, gl_type);
        let gl_code = gl
            .as_deref()
            .and_then(|g| self.get(division, model::GL_ACCOUNTS, g))
            .and_then(|r| r.data.get("Code").cloned());
        let get = |k: &str| entry.get(k).cloned().unwrap_or(Value::Null);
        let id = self.new_guid();
        let mut row = Self::blank(def_of(cash));
        for (k, v) in [
            ("ID", json!(id)),
            ("Account", get(party_field)),
            (
                "AccountCode",
                party
                    .and_then(|p| p.get("Code").cloned())
                    .unwrap_or(Value::Null),
            ),
            (
                "AccountName",
                party
                    .and_then(|p| p.get("Name").cloned())
                    .unwrap_or(Value::Null),
            ),
            ("AmountDC", get("AmountDC")),
            ("AmountFC", get("AmountFC")),
            ("AmountDiscountDC", json!(0)),
            ("AmountDiscountFC", json!(0)),
            ("Currency", get("Currency")),
            ("Description", get("Description")),
            ("DueDate", get("DueDate")),
            ("EntryDate", get("EntryDate")),
            ("EntryID", json!(entry_id)),
            ("EntryNumber", get("EntryNumber")),
            (
                "GLAccount",
                gl.clone().map(Value::String).unwrap_or(Value::Null),
            ),
            ("GLAccountCode", gl_code.unwrap_or(Value::Null)),
            ("InvoiceDate", get("EntryDate")),
            ("InvoiceNumber", get("InvoiceNumber")),
            ("Journal", get("Journal")),
            ("JournalDescription", get("JournalDescription")),
            ("PaymentCondition", get("PaymentCondition")),
            ("PaymentReference", get("PaymentReference")),
            ("Status", json!(20)),
            ("TransactionEntryID", json!(entry_id)),
            ("TransactionAmountDC", get("AmountDC")),
            ("TransactionAmountFC", get("AmountFC")),
            ("TransactionDueDate", get("DueDate")),
            ("TransactionIsReversal", json!(false)),
            ("TransactionReportingPeriod", get("ReportingPeriod")),
            ("TransactionReportingYear", get("ReportingYear")),
            ("YourRef", get("YourRef")),
            ("IsFullyPaid", json!(false)),
        ] {
            row.insert(k.into(), v);
        }
        self.stamp_created(&mut row, division, user, now);
        let term = self.term_row(division, &row, line_type, user, now);
        self.put(division, cash, id, row);
        let term_id = term.get("ID").and_then(s).unwrap_or_default().to_owned();
        self.put(division, model::PAYMENT_TERMS, term_id, term);
    }

    fn term_row(
        &mut self,
        division: i32,
        cash_row: &Map<String, Value>,
        line_type: i64,
        user: Uuid,
        now: DateTime<Utc>,
    ) -> Map<String, Value> {
        let id = self.new_guid();
        let mut term = Self::blank(def_of(model::PAYMENT_TERMS));
        for k in [
            "Account",
            "AmountDC",
            "AmountFC",
            "Currency",
            "Description",
            "DueDate",
            "EntryDate",
            "EntryID",
            "EntryNumber",
            "GLAccount",
            "InvoiceDate",
            "InvoiceNumber",
            "Journal",
            "PaymentCondition",
            "PaymentMethod",
            "PaymentReference",
            "Status",
            "TransactionEntryID",
            "TransactionAmountDC",
            "TransactionAmountFC",
            "TransactionDueDate",
            "YourRef",
        ] {
            term.insert(k.into(), cash_row.get(k).cloned().unwrap_or(Value::Null));
        }
        term.insert("ID".into(), json!(id));
        term.insert("LineType".into(), json!(line_type));
        term.insert("Source".into(), json!(1));
        self.stamp_created(&mut term, division, user, now);
        term
    }

    fn create_standalone_line(
        &mut self,
        division: i32,
        def: &'static SetDef,
        mut line: Map<String, Value>,
        user: Uuid,
        now: DateTime<Utc>,
    ) -> Result<(String, bool), OpError> {
        let header_path = match def.path {
            model::SALES_ENTRY_LINES => model::SALES_ENTRIES,
            model::PURCHASE_ENTRY_LINES => model::PURCHASE_ENTRIES,
            _ => model::GJ_ENTRIES,
        };
        let mut msgs = Vec::new();
        let entry = line.get("EntryID").and_then(s).map(str::to_owned);
        match &entry {
            None => msgs.push("Mandatory: EntryID".into()),
            Some(e) if self.get(division, header_path, e).is_none() => {
                msgs.push("Invalid reference: EntryID".into())
            }
            Some(_) => {}
        }
        if header_path == model::GJ_ENTRIES {
            self.check_gl(division, &line, &mut msgs);
        } else {
            self.price_line(division, &mut line, &mut msgs, 1);
        }
        if !msgs.is_empty() {
            return Err(OpError::Validation(msgs));
        }
        let entry = entry.unwrap_or_default();
        let n = self
            .rows(division, def.path)
            .filter(|r| r.data.get("EntryID").and_then(s) == Some(entry.as_str()))
            .count();
        let id = self.new_guid();
        line.insert("ID".into(), json!(id));
        line.insert("LineNumber".into(), json!(n + 1));
        self.stamp_created(&mut line, division, user, now);
        self.put(division, def.path, id.clone(), line);
        if header_path != model::GJ_ENTRIES {
            self.recompute_entry(division, header_path, &entry, user, now);
        }
        self.emit(division, def, "Update", &entry);
        Ok((id, true))
    }

    fn check_gl(&self, division: i32, line: &Map<String, Value>, msgs: &mut Vec<String>) {
        match line.get("GLAccount").and_then(s) {
            None => msgs.push("Mandatory: GLAccount".into()),
            Some(g) if self.get(division, model::GL_ACCOUNTS, g).is_none() => {
                msgs.push("Invalid reference: GLAccount".into())
            }
            Some(_) => {}
        }
    }

    fn create_gj_entry(
        &mut self,
        division: i32,
        mut data: Map<String, Value>,
        navs: Vec<(String, Vec<Map<String, Value>>)>,
        user: Uuid,
        now: DateTime<Utc>,
    ) -> Result<(String, bool), OpError> {
        let def = def_of(model::GJ_ENTRIES);
        let line_def = def_of(model::GJ_ENTRY_LINES);
        let mut msgs = Vec::new();
        Self::required(def, &data, &mut msgs);
        let lines_in = navs
            .into_iter()
            .find(|(n, _)| n == "GeneralJournalEntryLines")
            .map(|(_, l)| l)
            .unwrap_or_default();
        if lines_in.is_empty() {
            msgs.push("Mandatory: GeneralJournalEntryLines".into());
        }
        if let Some(j) = data.get("JournalCode").and_then(s).map(str::to_owned) {
            match self.journal(division, &j) {
                Some(jr) => {
                    let d = jr.data.get("Description").cloned().unwrap_or(Value::Null);
                    data.insert("JournalDescription".into(), d);
                }
                None => msgs.push("Invalid: Journal".into()),
            }
        }
        let entry_id = self.new_guid();
        let mut lines = Vec::new();
        let mut sum = Decimal::ZERO;
        for (i, raw) in lines_in.iter().enumerate() {
            let (fields, _) = Self::read_body(line_def, raw, P, false)?;
            let mut line = Self::blank(line_def);
            line.extend(fields);
            self.check_gl(division, &line, &mut msgs);
            if let Some(g) = line
                .get("GLAccount")
                .and_then(s)
                .and_then(|g| self.get(division, model::GL_ACCOUNTS, g))
            {
                let code = g.data.get("Code").cloned().unwrap_or(Value::Null);
                line.insert("GLAccountCode".into(), code);
            }
            let amount = line.get("AmountFC").and_then(value_dec).unwrap_or_default();
            sum += amount;
            line.insert("AmountFC".into(), dec_value(amount));
            line.insert("AmountDC".into(), dec_value(amount));
            let id = self.new_guid();
            line.insert("ID".into(), json!(id));
            line.insert("EntryID".into(), json!(entry_id));
            line.insert("LineNumber".into(), json!(i + 1));
            lines.push((id, line));
        }
        if !sum.is_zero() && !lines_in.is_empty() {
            msgs.push(format!(
                "Invalid: the entry is not in balance (difference {sum})"
            ));
        }
        if !msgs.is_empty() {
            return Err(OpError::Validation(msgs));
        }
        let journal = data
            .get("JournalCode")
            .and_then(s)
            .unwrap_or_default()
            .trim()
            .to_owned();
        let wanted = data.get("EntryNumber").and_then(Value::as_i64);
        let number =
            self.next_entry_number(division, model::GJ_ENTRIES, "JournalCode", &journal, wanted);
        data.insert("EntryNumber".into(), json!(number));
        data.insert("EntryID".into(), json!(entry_id));
        data.insert("Type".into(), json!(90));
        data.insert("TypeDescription".into(), json!("Other"));
        data.insert("Status".into(), json!(20));
        data.insert("StatusDescription".into(), json!("Open"));
        if data.get("Currency").is_none_or(Value::is_null) {
            data.insert("Currency".into(), json!("EUR"));
        }
        if data.get("FinancialYear").is_none_or(Value::is_null) {
            data.insert("FinancialYear".into(), json!(now.year()));
        }
        if data.get("FinancialPeriod").is_none_or(Value::is_null) {
            data.insert("FinancialPeriod".into(), json!(now.month()));
        }
        for (id, mut line) in lines {
            self.stamp_created(&mut line, division, user, now);
            self.put(division, model::GJ_ENTRY_LINES, id, line);
        }
        self.stamp_created(&mut data, division, user, now);
        self.put(division, model::GJ_ENTRIES, entry_id.clone(), data);
        self.emit(division, def, "Create", &entry_id);
        Ok((entry_id, true))
    }

    // -----------------------------------------------------------------------------------------------------
    // Payments.

    /// Reverses a registered payment as a user reversing its bank entry would: a new cashflow row (and
    /// PaymentTerms row) of the opposite amount on the same entry, flagged `TransactionIsReversal`, and the
    /// entry's open amount restored. Returns the reversal's ID.
    pub fn reverse_payment(
        &mut self,
        division: i32,
        payment_id: &str,
        user: Uuid,
        now: DateTime<Utc>,
    ) -> Result<String, OpError> {
        let (cash, line_type) = if self.get(division, model::RECEIVABLES, payment_id).is_some() {
            (model::RECEIVABLES, 20)
        } else if self.get(division, model::PAYMENTS, payment_id).is_some() {
            (model::PAYMENTS, 22)
        } else {
            return Err(OpError::NotFound(format!("No payment {payment_id}")));
        };
        let original = self
            .get(division, cash, payment_id)
            .map(|r| r.data.clone())
            .unwrap_or_default();
        let amount = original
            .get("AmountFC")
            .and_then(value_dec)
            .unwrap_or_default();
        let entry = original
            .get("TransactionEntryID")
            .and_then(s)
            .map(str::to_owned)
            .unwrap_or_default();
        if let Some(paid) = self.paid.get_mut(&(division, entry)) {
            *paid += amount;
        }
        let id = self.new_guid();
        let mut reversal = original;
        for (k, v) in [
            ("ID", json!(id)),
            ("AmountDC", dec_value(-amount)),
            ("AmountFC", dec_value(-amount)),
            ("EntryDate", date_value(now)),
            ("Description", json!("Reversal of a payment")),
            ("IsFullyPaid", json!(false)),
        ] {
            reversal.insert(k.into(), v);
        }
        self.stamp_created(&mut reversal, division, user, now);
        let mut term = self.term_row(division, &reversal, line_type, user, now);
        term.insert("ID".into(), json!(id));
        term.insert("TransactionIsReversal".into(), json!(true));
        self.put(division, cash, id.clone(), reversal);
        self.put(division, model::PAYMENT_TERMS, id.clone(), term);
        Ok(id)
    }

    /// A payment's rows change again (its status moves on, e.g. to processed in a payment batch): new
    /// Timestamps on its cashflow and PaymentTerms rows, so it moves to the end of the sync feed.
    pub fn touch_payment(
        &mut self,
        division: i32,
        payment_id: &str,
        user: Uuid,
        now: DateTime<Utc>,
    ) -> Result<(), OpError> {
        let mut found = false;
        for path in [model::RECEIVABLES, model::PAYMENTS, model::PAYMENT_TERMS] {
            if let Some(mut row) = self.get(division, path, payment_id).map(|r| r.data.clone()) {
                row.insert("Status".into(), json!(40));
                self.stamp_modified(&mut row, user, now);
                self.put(division, path, payment_id.to_owned(), row);
                found = true;
            }
        }
        if found {
            Ok(())
        } else {
            Err(OpError::NotFound(format!("No payment {payment_id}")))
        }
    }

    /// Empties a payment's amount (`AmountDC`/`AmountFC`) on its cashflow and PaymentTerms rows, with new
    /// Timestamps: a feed row without an amount, as a partial `$select` or a broken export would give.
    pub fn clear_payment_amount(&mut self, division: i32, payment_id: &str) -> Result<(), OpError> {
        let mut found = false;
        for path in [model::RECEIVABLES, model::PAYMENTS, model::PAYMENT_TERMS] {
            if let Some(mut row) = self.get(division, path, payment_id).map(|r| r.data.clone()) {
                row.insert("AmountDC".into(), Value::Null);
                row.insert("AmountFC".into(), Value::Null);
                self.put(division, path, payment_id.to_owned(), row);
                found = true;
            }
        }
        if found {
            Ok(())
        } else {
            Err(OpError::NotFound(format!("No payment {payment_id}")))
        }
    }

    /// Open receivables for `read/financial/ReceivablesList`.
    pub fn receivables_list(&self, division: i32) -> Vec<Record> {
        let mut out = Vec::new();
        for r in self.rows(division, model::RECEIVABLES) {
            let is_open_item = r.data.get("EntryID") == r.data.get("TransactionEntryID");
            if !is_open_item
                || r.data
                    .get("IsFullyPaid")
                    .and_then(Value::as_bool)
                    .unwrap_or(false)
            {
                continue;
            }
            let entry = r
                .data
                .get("EntryID")
                .and_then(s)
                .unwrap_or_default()
                .to_owned();
            let total = r
                .data
                .get("AmountDC")
                .and_then(value_dec)
                .unwrap_or_default();
            let paid = self
                .paid
                .get(&(division, entry))
                .copied()
                .unwrap_or_default();
            let get = |k: &str| r.data.get(k).cloned().unwrap_or(Value::Null);
            let mut row = Self::blank(def_of(model::RECEIVABLES_LIST));
            for (k, v) in [
                ("HID", json!(r.ts)),
                ("AccountId", get("Account")),
                ("AccountCode", get("AccountCode")),
                ("AccountName", get("AccountName")),
                ("Amount", dec_value(total - paid)),
                ("AmountInTransit", json!(0)),
                ("CurrencyCode", get("Currency")),
                ("Description", get("Description")),
                ("DueDate", get("DueDate")),
                ("EntryNumber", get("EntryNumber")),
                ("Id", get("EntryID")),
                ("InvoiceDate", get("InvoiceDate")),
                ("InvoiceNumber", get("InvoiceNumber")),
                ("JournalCode", get("Journal")),
                ("JournalDescription", get("JournalDescription")),
                ("YourRef", get("YourRef")),
            ] {
                row.insert(k.into(), v);
            }
            out.push(Record {
                data: row,
                ts: r.ts,
            });
        }
        out
    }
}

/// The definition at a known canonical path. The paths passed here are the constants in [`model`], so the
/// lookup cannot miss; a miss would be a programming error caught by the unit tests.
pub(crate) fn def_of(path: &'static str) -> &'static SetDef {
    model::set(path).unwrap_or_else(|| &model::sets()[0])
}

fn def(path: &'static str) -> &'static SetDef {
    def_of(path)
}

fn gl_type_description(ty: i64) -> &'static str {
    match ty {
        10 => "Cash",
        12 => "Bank",
        14 => "Credit card",
        20 => "Accounts receivable",
        22 => "Accounts payable",
        24 => "VAT",
        25 => "Employees payable",
        110 => "Revenue",
        111 => "Cost of goods",
        121 => "Sales, general administrative expenses",
        _ => "General",
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn every_constant_path_has_a_definition() {
        for p in [
            model::ACCOUNTS,
            model::ADDRESSES,
            model::CONTACTS,
            model::GL_ACCOUNTS,
            model::JOURNALS,
            model::VAT_CODES,
            model::VAT_PERCENTAGES,
            model::CURRENCIES,
            model::SALES_ENTRIES,
            model::SALES_ENTRY_LINES,
            model::PURCHASE_ENTRIES,
            model::PURCHASE_ENTRY_LINES,
            model::GJ_ENTRIES,
            model::GJ_ENTRY_LINES,
            model::BANK_ENTRIES,
            model::BANK_ENTRY_LINES,
            model::RECEIVABLES,
            model::PAYMENTS,
            model::PAYMENT_TERMS,
            model::WEBHOOKS,
            model::DIVISIONS_SYSTEM,
            model::DIVISIONS_HRM,
            model::DELETED,
            model::RECEIVABLES_LIST,
            model::ME,
        ] {
            assert_eq!(model::set(p).map(|d| d.path), Some(p));
        }
    }

    #[test]
    fn a_new_division_has_journals_currencies_vat_codes_and_a_chart_of_accounts() {
        let mut st = Store::new(1);
        st.create_division(7, "Demo", Utc::now());
        assert_eq!(st.rows(7, model::JOURNALS).count(), 4);
        assert!(st.get(7, model::CURRENCIES, "EUR").is_some());
        assert!(st.vat_code(7, "2").is_some());
        assert_eq!(
            st.rows(7, model::VAT_PERCENTAGES).count(),
            6,
            "five codes, the combined one with two percentage lines"
        );
        let no_vat = st
            .vat_code(7, "6")
            .map(|v| v.data.clone())
            .unwrap_or_default();
        assert_eq!(no_vat.get("Type").and_then(Value::as_str), Some("N"));
        assert!(st.gl_by_type(7, 20).is_some());
    }

    #[test]
    fn timestamps_strictly_increase_across_tables() {
        let mut st = Store::new(1);
        let a = st.next_ts_for(1);
        let b = st.next_ts_for(2);
        assert!(b > a);
    }

    #[test]
    fn account_codes_auto_increment_from_the_highest_code() {
        let mut st = Store::new(1);
        st.create_division(7, "Demo", Utc::now());
        let mut body = Map::new();
        body.insert("Name".into(), json!("A"));
        body.insert("Code".into(), json!("41"));
        st.create(
            7,
            def_of(model::ACCOUNTS),
            &body,
            Uuid::nil(),
            Utc::now(),
            false,
        )
        .unwrap();
        body.remove("Code");
        let (k, _) = st
            .create(
                7,
                def_of(model::ACCOUNTS),
                &body,
                Uuid::nil(),
                Utc::now(),
                false,
            )
            .unwrap();
        assert_eq!(
            st.get(7, model::ACCOUNTS, &k).unwrap().data["Code"],
            json!(format!("{:>18}", "42"))
        );
    }

    #[test]
    fn value_i64_accepts_int64_literals() {
        assert_eq!(model::value_i64(&json!("123L")), Some(123));
    }
}
