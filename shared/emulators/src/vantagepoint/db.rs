//! The emulator's database: hub records, configuration tables, transaction-entry batches, the posted ledger
//! and the balances payments reduce. Every business rule VP enforces on writes lives here, so the HTTP
//! handlers and the admin methods share them.
//!
//! Sign convention of posted rows (documented because VP's is unconfirmed): `Amount` is the functional-currency
//! GL amount, debit positive / credit negative (revenue rows of an invoice are negative, as in the reference's
//! example), `TransactionAmount` the same in the document currency. DataEntry rows (`inDetail`, `crDetail`,
//! ...) keep the natural sign the user typed (an ordinary invoice line is positive).

use std::collections::{BTreeMap, HashMap};

use chrono::{Datelike, NaiveDate, NaiveDateTime};
use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::config::{FirmAutonumber, VantagepointConfig};
use super::error::VpError;
use super::model::*;
use super::workflow::Workflow;

mod entry;
pub(crate) use entry::entry_type;

/// A hub whose inserts and changes can trigger workflow webhooks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hub {
    Firm,
    Employee,
    Project,
    /// Firm contacts (`ContactICBO`): the product mirrors them as Exact contacts.
    Contact,
}

impl Hub {
    /// Whether a workflow `ApplicationName` (e.g. `ProjectICBO`) belongs to this hub.
    pub(crate) fn matches_application(self, application: &str) -> bool {
        let app = application.to_ascii_lowercase();
        match self {
            Hub::Firm => {
                app.starts_with("firm") || app.starts_with("clendor") || app.starts_with("client")
            }
            Hub::Employee => app.starts_with("employee"),
            Hub::Project => app.starts_with("project"),
            Hub::Contact => app.starts_with("contact"),
        }
    }
}

/// What happened to a hub record (a workflow's `EventType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EventKind {
    Insert,
    Change,
    Delete,
}

impl EventKind {
    pub(crate) fn event_type(self) -> &'static str {
        match self {
            EventKind::Insert => "insert",
            EventKind::Change => "change",
            EventKind::Delete => "delete",
        }
    }
}

/// An insert, change or delete of a hub record, for workflow webhooks.
#[derive(Debug, Clone)]
pub(crate) struct RecordEvent {
    pub hub: Hub,
    pub kind: EventKind,
    pub old: Option<Row>,
    pub new: Row,
}

#[derive(Clone)]
pub(crate) struct User {
    pub username: String,
    pub password: String,
    pub active_period: Option<i32>,
    pub active_company: Option<String>,
    pub disabled: bool,
    pub visible_companies: Vec<String>,
    /// No rights to change records (PUT/DELETE answer 403).
    pub read_only: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct Grant {
    pub username: String,
    pub expires_at: NaiveDateTime,
    /// The `culture` the session was opened with (`None` = the database's own language).
    pub culture: Option<String>,
}

/// A transaction-entry batch (`{tt}Control` with its masters and details).
#[derive(Debug, Clone)]
pub(crate) struct EntryBatch {
    /// Lower-case transaction type (`cr`, `in`, `ap`, `ex`, `je`).
    pub tt: String,
    pub batch: String,
    pub control: Row,
    pub masters: Vec<Row>,
    pub details: Vec<Row>,
    pub taxes: Vec<Row>,
    pub posted: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct VoucherBalance {
    pub outstanding: Decimal,
}

/// Result of posting one batch with `PostTransFile`.
#[derive(Debug, Clone)]
pub(crate) struct PostOutcome {
    pub tt: String,
    pub batch: String,
    pub ok: bool,
    pub period: i32,
    pub post_seq: u32,
    pub msg: String,
}

pub(crate) struct Db {
    pub config: VantagepointConfig,
    pub rng: StdRng,
    pub users: BTreeMap<String, User>,
    pub tokens: HashMap<String, Grant>,
    pub refresh_tokens: HashMap<String, Grant>,
    /// The API authorization's current secret (starts as the configured one; "Generate Secret" replaces it).
    pub client_secret: String,
    /// One-time authorization codes: code → (grant, redirect URI).
    pub auth_codes: HashMap<String, (Grant, String)>,
    pub token_stats: TokenStats,
    pub companies: Vec<Row>,
    pub organizations: Vec<Row>,
    pub code_tables: BTreeMap<String, (String, Vec<Row>)>,
    pub firms: Vec<Row>,
    pub addresses: Vec<Row>,
    pub vendor_accounting: Vec<Row>,
    pub contacts: Vec<Row>,
    pub employees: Vec<Row>,
    pub projects: Vec<Row>,
    pub accounts: Vec<Row>,
    pub tax_codes: Vec<Row>,
    pub banks: Vec<Row>,
    pub autoposting: Vec<Row>,
    pub periods: Vec<Row>,
    pub key_format: Row,
    pub batches: Vec<EntryBatch>,
    pub ledger: Vec<Row>,
    pub ledger_tax: Vec<Row>,
    pub post_seq: BTreeMap<i32, u32>,
    pub vouchers: BTreeMap<(String, String), VoucherBalance>,
    pub expense_reports: BTreeMap<(String, String), ExpenseReportState>,
    pub payments: Vec<PaymentRecord>,
    pub workflow: Workflow,
    pub deliveries: Vec<WebhookDelivery>,
    /// Every create request of a cash-receipt batch that reached the database, per batch, counted before any
    /// duplicate check: a client that sends a create twice shows a count of 2 even though the second one is
    /// refused (the fault suite counts creates; the emulator never deduplicates on a client's behalf).
    pub raw_cr_creates: BTreeMap<String, u64>,
    next_client_number: u64,
    next_vendor_number: u64,
}

/// Ledger rows, DataEntry detail rows, tax rows and the document total of posted expense lines.
type PostedLines = (Vec<Row>, Vec<Row>, Vec<Row>, Decimal);

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("active_period", &self.active_period)
            .field("active_company", &self.active_company)
            .field("disabled", &self.disabled)
            .field("visible_companies", &self.visible_companies)
            .finish()
    }
}

/// Sizes only: the database holds passwords, bearer tokens and webhook credentials.
impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("config", &self.config)
            .field("users", &self.users.len())
            .field("tokens", &self.tokens.len())
            .field("firms", &self.firms.len())
            .field("employees", &self.employees.len())
            .field("projects", &self.projects.len())
            .field("batches", &self.batches.len())
            .field("ledger_rows", &self.ledger.len())
            .field("payments", &self.payments.len())
            .field("webhooks", &self.workflow.webhooks.len())
            .finish_non_exhaustive()
    }
}

/// VP stores flags as `Y`/`N`: JSON booleans (and `"true"`/`"false"` in known flag columns) are converted
/// on write, as RAIL's bodies with `"ExportInd": false` end up as `"N"`.
fn flags_to_yn(row: &mut Row) {
    const FLAG_COLUMNS: [&str; 14] = [
        "ClientInd",
        "VendorInd",
        "AvailableForCRM",
        "AvailableToAccountingUsers",
        "ReadyForProcessing",
        "ReadyForProcessingCompany",
        "ReadyForApproval",
        "ExportInd",
        "PriorWork",
        "Recommend",
        "Competitor",
        "GovernmentAgency",
        "SubLevel",
        "ConsolidatePosting",
    ];
    for (key, value) in row.iter_mut() {
        let is_flag_column = FLAG_COLUMNS.iter().any(|c| c.eq_ignore_ascii_case(key));
        match value {
            Value::Bool(b) => *value = yn(*b),
            Value::String(t) if is_flag_column => {
                if let Some(flag) = flag_of(&Value::String(t.clone())) {
                    *value = yn(flag);
                }
            }
            _ => {}
        }
    }
}

fn s(v: impl Into<String>) -> Value {
    Value::String(v.into())
}

fn blank_wbs(w: &str) -> String {
    if w.trim().is_empty() {
        " ".to_owned()
    } else {
        w.to_owned()
    }
}

fn obj(v: Value) -> Row {
    match v {
        Value::Object(m) => m,
        _ => Row::new(),
    }
}

impl Db {
    pub(crate) fn new(config: VantagepointConfig) -> Self {
        let key_format = obj(json!({
            "WBS1Length": 12, "WBS1Delimiter": "", "WBS2Length": 7, "WBS3Length": 7,
            "AccountLength": 10, "AccountDelimiter": "", "ClientLength": 20, "VendorLength": 20,
            "EmployeeLength": 20, "RefnoLength": 12, "OrgLevels": 3, "OrgDelimiter": ":",
            "Org1Length": 2, "Org2Length": 2, "Org3Length": 2,
        }));
        Self {
            rng: StdRng::seed_from_u64(config.seed),
            client_secret: config.client_secret.clone(),
            config,
            users: BTreeMap::new(),
            tokens: HashMap::new(),
            refresh_tokens: HashMap::new(),
            auth_codes: HashMap::new(),
            token_stats: TokenStats::default(),
            companies: Vec::new(),
            organizations: Vec::new(),
            code_tables: BTreeMap::new(),
            firms: Vec::new(),
            addresses: Vec::new(),
            vendor_accounting: Vec::new(),
            contacts: Vec::new(),
            employees: Vec::new(),
            projects: Vec::new(),
            accounts: Vec::new(),
            tax_codes: Vec::new(),
            banks: Vec::new(),
            autoposting: Vec::new(),
            periods: Vec::new(),
            key_format,
            batches: Vec::new(),
            ledger: Vec::new(),
            ledger_tax: Vec::new(),
            post_seq: BTreeMap::new(),
            vouchers: BTreeMap::new(),
            expense_reports: BTreeMap::new(),
            payments: Vec::new(),
            workflow: Workflow::default(),
            deliveries: Vec::new(),
            raw_cr_creates: BTreeMap::new(),
            next_client_number: 1,
            next_vendor_number: 1,
        }
    }

    /// A 32-hex-digit key (VP's GUID-like `ClientID`s, `PKey`s, event ids).
    pub(crate) fn new_key(&mut self) -> String {
        let mut bytes = [0u8; 16];
        self.rng.fill_bytes(&mut bytes);
        hex::encode_upper(bytes)
    }

    // ------------------------------------------------------------------ users, companies, periods

    pub(crate) fn add_user(&mut self, seed: UserSeed) {
        let user = User {
            username: seed.username.clone(),
            password: seed.password,
            active_period: seed.active_period,
            active_company: seed.active_company,
            disabled: seed.disabled,
            visible_companies: seed.visible_companies,
            read_only: seed.read_only,
        };
        self.users.insert(seed.username.to_lowercase(), user);
    }

    /// Rows the user's role may see: all, or those whose `Org` (or `Company`) is in one of their companies.
    pub(crate) fn visible(&self, username: &str, rows: Vec<Row>) -> Vec<Row> {
        let Some(user) = self.users.get(&username.to_lowercase()) else {
            return rows;
        };
        if user.visible_companies.is_empty() {
            return rows;
        }
        rows.into_iter()
            .filter(|r| {
                let org = str_ci(r, "Org");
                let company = if org.is_empty() {
                    str_ci(r, "Company")
                } else {
                    org.split(':').next().unwrap_or_default().to_owned()
                };
                company.is_empty()
                    || user
                        .visible_companies
                        .iter()
                        .any(|c| c.eq_ignore_ascii_case(&company))
            })
            .collect()
    }

    pub(crate) fn default_company(&self) -> String {
        self.companies
            .first()
            .map(|c| str_ci(c, "Company"))
            .unwrap_or_else(|| "A0".to_owned())
    }

    pub(crate) fn user_company(&self, username: &str) -> String {
        self.users
            .get(&username.to_lowercase())
            .and_then(|u| u.active_company.clone())
            .unwrap_or_else(|| self.default_company())
    }

    pub(crate) fn functional_currency(&self, company: &str) -> String {
        self.companies
            .iter()
            .find(|c| str_ci(c, "Company").eq_ignore_ascii_case(company))
            .or(self.companies.first())
            .map(|c| str_ci(c, "FunctionalCurrencyCode"))
            .filter(|c| !c.is_empty())
            .unwrap_or_else(|| "EUR".to_owned())
    }

    pub(crate) fn add_company(&mut self, seed: CompanySeed) {
        self.companies
            .retain(|c| !str_ci(c, "Company").eq_ignore_ascii_case(&seed.company));
        self.companies.push(obj(json!({
            "Company": seed.company, "FirmName": seed.name, "FunctionalCurrencyCode": seed.functional_currency,
            "Country": seed.country, "Status": "A",
        })));
        let code = seed.company.clone();
        let description = seed.name.clone();
        self.upsert_code(
            "CFGOrgCodes",
            obj(json!({"Code": code, "Description": description, "OrgLevel": 1, "Status": "A"})),
        );
    }

    pub(crate) fn add_organization(&mut self, seed: OrganizationSeed) {
        self.organizations
            .retain(|o| !str_ci(o, "Org").eq_ignore_ascii_case(&seed.org));
        let company = seed.org.split(':').next().unwrap_or_default().to_owned();
        self.organizations.push(obj(
            json!({"Org": seed.org, "Name": seed.name, "Status": "A", "Company": company}),
        ));
    }

    /// Inserts or replaces a code-table row (keyed by `Code`).
    pub(crate) fn upsert_code(&mut self, table: &str, row: Row) {
        let entry = self
            .code_tables
            .entry(table.to_ascii_lowercase())
            .or_insert_with(|| (table.to_owned(), Vec::new()));
        let code = str_ci(&row, "Code");
        entry
            .1
            .retain(|r| !str_ci(r, "Code").eq_ignore_ascii_case(&code));
        entry.1.push(row);
    }

    /// Removes a code-table row; an unknown table or code is a 404.
    pub(crate) fn delete_code(&mut self, table: &str, code: &str) -> Result<(), VpError> {
        let (_, rows) = self
            .code_tables
            .get_mut(&table.to_ascii_lowercase())
            .ok_or_else(|| VpError::NotFound(format!("Code table {table} does not exist.")))?;
        let before = rows.len();
        rows.retain(|r| !str_ci(r, "Code").eq_ignore_ascii_case(code));
        if rows.len() == before {
            return Err(VpError::records_not_found());
        }
        Ok(())
    }

    pub(crate) fn code_table(&self, table: &str) -> Option<&Vec<Row>> {
        self.code_tables
            .get(&table.to_ascii_lowercase())
            .map(|(_, rows)| rows)
    }

    pub(crate) fn add_period(&mut self, seed: PeriodSeed) {
        self.periods.retain(|p| {
            int_of(p.get("Period").unwrap_or(&Value::Null)) != Some(i64::from(seed.period))
        });
        let fy = seed.period / 100;
        self.periods.push(obj(json!({
            "Period": seed.period, "FmtPeriod": fmt_period(seed.period),
            "AccountPdStart": vp_date(seed.start), "AccountPdEnd": vp_date(seed.end),
            "FYStart": format!("{fy}-01-01T00:00:00.000"), "FYEnd": format!("{fy}-12-31T00:00:00.000"),
            "ActiveCompanyClosed": yn(seed.closed), "AllCompaniesClosed": yn(seed.closed), "ApplytoAllCompanies": "Y",
        })));
        self.periods
            .sort_by_key(|p| p.get("Period").and_then(int_of));
    }

    pub(crate) fn set_period_closed(&mut self, period: i32, closed: bool) -> Result<(), VpError> {
        let row = self
            .period_row_mut(period)
            .ok_or_else(|| VpError::NotFound(format!("Period {period} does not exist.")))?;
        row.insert("ActiveCompanyClosed".into(), yn(closed));
        row.insert("AllCompaniesClosed".into(), yn(closed));
        Ok(())
    }

    fn period_row_mut(&mut self, period: i32) -> Option<&mut Row> {
        self.periods
            .iter_mut()
            .find(|p| p.get("Period").and_then(int_of) == Some(i64::from(period)))
    }

    pub(crate) fn period_exists(&self, period: i32) -> bool {
        self.periods
            .iter()
            .any(|p| p.get("Period").and_then(int_of) == Some(i64::from(period)))
    }

    pub(crate) fn ensure_open(&self, period: i32) -> Result<(), VpError> {
        let open = self.periods.iter().any(|p| {
            p.get("Period").and_then(int_of) == Some(i64::from(period))
                && !p
                    .get("ActiveCompanyClosed")
                    .and_then(flag_of)
                    .unwrap_or(false)
        });
        if open {
            Ok(())
        } else {
            Err(VpError::PeriodClosed { period })
        }
    }

    /// The period whose `[AccountPdStart, AccountPdEnd]` contains `date`, else the calendar month.
    pub(crate) fn period_for_date(&self, date: NaiveDate) -> i32 {
        let at = date.and_hms_opt(0, 0, 0).unwrap_or_default();
        self.periods
            .iter()
            .find(|p| {
                let start = p
                    .get("AccountPdStart")
                    .map(text_of)
                    .and_then(|t| parse_vp_datetime(&t));
                let end = p
                    .get("AccountPdEnd")
                    .map(text_of)
                    .and_then(|t| parse_vp_datetime(&t));
                matches!((start, end), (Some(a), Some(b)) if a <= at && at <= b)
            })
            .and_then(|p| p.get("Period").and_then(int_of))
            .and_then(|p| i32::try_from(p).ok())
            .unwrap_or_else(|| period_of_month(date.year(), date.month()))
    }

    /// The calling user's active period (`/Settings/ActivePeriod`).
    pub(crate) fn active_period(&self, username: &str, today: NaiveDate) -> i32 {
        self.users
            .get(&username.to_lowercase())
            .and_then(|u| u.active_period)
            .unwrap_or_else(|| self.period_for_date(today))
    }

    pub(crate) fn set_active_period(&mut self, username: &str, period: i32) -> Result<(), VpError> {
        if !self.period_exists(period) {
            return Err(VpError::field(
                "Period",
                format!("{period} is not a valid accounting period."),
            ));
        }
        let user = self
            .users
            .get_mut(&username.to_lowercase())
            .ok_or_else(|| VpError::NotFound(format!("User {username} does not exist.")))?;
        user.active_period = Some(period);
        Ok(())
    }

    fn next_post_seq(&mut self, period: i32) -> u32 {
        let seq = self.post_seq.entry(period).or_insert(0);
        *seq += 1;
        *seq
    }

    // ------------------------------------------------------------------ lookups

    pub(crate) fn firm_by_id(&self, client_id: &str) -> Option<&Row> {
        self.firms
            .iter()
            .find(|f| str_ci(f, "ClientID").eq_ignore_ascii_case(client_id))
    }

    pub(crate) fn firm_by_vendor(&self, vendor: &str) -> Option<&Row> {
        self.firms
            .iter()
            .find(|f| !vendor.is_empty() && str_ci(f, "Vendor").eq_ignore_ascii_case(vendor))
    }

    pub(crate) fn project(&self, wbs1: &str, wbs2: &str, wbs3: &str) -> Option<&Row> {
        self.projects.iter().find(|p| {
            str_ci(p, "WBS1").eq_ignore_ascii_case(wbs1.trim())
                && str_ci(p, "WBS2").eq_ignore_ascii_case(wbs2.trim())
                && str_ci(p, "WBS3").eq_ignore_ascii_case(wbs3.trim())
        })
    }

    pub(crate) fn employee(&self, employee: &str) -> Option<&Row> {
        self.employees
            .iter()
            .find(|e| str_ci(e, "Employee").eq_ignore_ascii_case(employee.trim()))
    }

    pub(crate) fn account(&self, account: &str) -> Option<&Row> {
        self.accounts
            .iter()
            .find(|a| str_ci(a, "Account").eq_ignore_ascii_case(account.trim()))
    }

    pub(crate) fn bank(&self, code: &str) -> Option<&Row> {
        self.banks
            .iter()
            .find(|b| str_ci(b, "Code").eq_ignore_ascii_case(code.trim()))
    }

    pub(crate) fn tax_code(&self, code: &str) -> Option<&Row> {
        self.tax_codes
            .iter()
            .find(|t| str_ci(t, "Code").eq_ignore_ascii_case(code.trim()))
    }

    fn autopost(&self, company: &str, column: &str, fallback: &str) -> String {
        self.autoposting
            .iter()
            .find(|r| str_ci(r, "Company").eq_ignore_ascii_case(company))
            .or(self.autoposting.first())
            .map(|r| str_ci(r, column))
            .filter(|a| !a.is_empty())
            .unwrap_or_else(|| fallback.to_owned())
    }

    fn require_account(&self, field: &str, account: &str) -> Result<(), VpError> {
        if account.trim().is_empty() {
            return Err(VpError::field(field, format!("{field} is required.")));
        }
        if self.account(account).is_none() {
            return Err(VpError::field(
                field,
                format!("Invalid account '{account}'."),
            ));
        }
        Ok(())
    }

    fn require_project(&self, wbs1: &str, wbs2: &str, wbs3: &str) -> Result<&Row, VpError> {
        self.project(wbs1, wbs2, wbs3).ok_or_else(|| {
            VpError::field(
                "WBS1",
                format!(
                    "Invalid project '{}/{}/{}'.",
                    wbs1.trim(),
                    wbs2.trim(),
                    wbs3.trim()
                ),
            )
        })
    }

    // ------------------------------------------------------------------ hubs

    fn text_or_default(row: &Row, key: &str, default: &str) -> String {
        let v = str_ci(row, key);
        if v.is_empty() { default.to_owned() } else { v }
    }

    /// Inserts a firm from an API body (POST /firm) or an admin seed row; applies autonumbering.
    pub(crate) fn insert_firm(
        &mut self,
        body: &Row,
        user: &str,
        now: NaiveDateTime,
        from_api: bool,
    ) -> Result<(Row, RecordEvent), VpError> {
        let name = str_ci(body, "Name");
        if name.is_empty() {
            return Err(VpError::field("Name", "Name is required."));
        }
        let mut row = Row::new();
        merge_patch(&mut row, body);
        for key in [
            "ClientInd",
            "VendorInd",
            "AvailableForCRM",
            "ReadyForProcessing",
            "ReadyForApproval",
            "ExportInd",
        ] {
            let flag = get_ci(&row, key).and_then(flag_of).unwrap_or(false);
            merge_patch(&mut row, &obj(json!({ key: yn(flag) })));
        }
        if get_ci(&row, "AvailableToAccountingUsers").is_none() {
            row.insert("AvailableToAccountingUsers".into(), yn(true));
        }
        if get_ci(&row, "ReadyForProcessingCompany").is_none() {
            row.insert("ReadyForProcessingCompany".into(), yn(false));
        }
        let is_client = get_ci(&row, "ClientInd").and_then(flag_of).unwrap_or(false);
        let is_vendor = get_ci(&row, "VendorInd").and_then(flag_of).unwrap_or(false);
        let client_id = {
            let given = str_ci(&row, "ClientID");
            if given.is_empty() || from_api {
                self.new_key()
            } else {
                given
            }
        };
        if self.firm_by_id(&client_id).is_some() {
            return Err(VpError::Conflict(format!(
                "Firm {client_id} already exists."
            )));
        }
        let mut client = str_ci(&row, "Client");
        let mut vendor = str_ci(&row, "Vendor");
        let autonumber = matches!(self.config.firm_autonumber, FirmAutonumber::On { .. });
        if let FirmAutonumber::On {
            allow_override: false,
        } = self.config.firm_autonumber
            && from_api
            && (!client.is_empty() || !vendor.is_empty())
        {
            return Err(VpError::field(
                "Client",
                "Firm Number value ignored, autonumber enabled and override is not allowed",
            ));
        }
        // Seeded firms stand for records typed in VP's UI, which always end up numbered.
        if autonumber || !from_api {
            while is_client && client.is_empty() {
                let candidate = format!("{:06}", self.next_client_number);
                self.next_client_number += 1;
                if !self.firms.iter().any(|f| str_ci(f, "Client") == candidate) {
                    client = candidate;
                }
            }
            while is_vendor && vendor.is_empty() {
                let candidate = format!("V{:05}", self.next_vendor_number);
                self.next_vendor_number += 1;
                if self.firm_by_vendor(&candidate).is_none() {
                    vendor = candidate;
                }
            }
        } else if from_api && is_client && client.is_empty() {
            return Err(VpError::field("Client", "Client Number is required."));
        }
        let max = self
            .key_format
            .get("ClientLength")
            .and_then(int_of)
            .unwrap_or(20);
        if i64::try_from(client.chars().count()).unwrap_or(i64::MAX) > max {
            return Err(VpError::field(
                "Client",
                format!("Client Number exceeds the maximum length of {max}."),
            ));
        }
        if !client.is_empty()
            && self
                .firms
                .iter()
                .any(|f| str_ci(f, "Client").eq_ignore_ascii_case(&client))
        {
            return Err(VpError::Conflict(format!(
                "Client Number {client} already exists."
            )));
        }
        if !vendor.is_empty() && self.firm_by_vendor(&vendor).is_some() {
            return Err(VpError::Conflict(format!(
                "Vendor {vendor} already exists."
            )));
        }
        let stamp = vp_datetime(now);
        merge_patch(
            &mut row,
            &obj(json!({
                "ClientID": client_id, "Client": client, "Vendor": vendor,
                "Status": Self::text_or_default(body, "Status", "A"),
                "SortName": Self::text_or_default(body, "SortName", &name),
                "CreateUser": user, "CreateDate": stamp, "ModUser": user, "ModDate": stamp,
            })),
        );
        flags_to_yn(&mut row);
        self.firms.push(row.clone());
        Ok((
            row.clone(),
            RecordEvent {
                hub: Hub::Firm,
                kind: EventKind::Insert,
                old: None,
                new: row,
            },
        ))
    }

    /// Applies a PATCH-style update to a firm. `CLAddress` rows with a `CLAddressID` edit that address (refused
    /// when `firm_address_edits` is off); new addresses (no `CLAddressID`) are inserted; `VEAccounting` rows
    /// are upserted.
    pub(crate) fn update_firm(
        &mut self,
        client_id: &str,
        body: &Row,
        user: &str,
        now: NaiveDateTime,
    ) -> Result<(Row, RecordEvent), VpError> {
        let index = self
            .firms
            .iter()
            .position(|f| str_ci(f, "ClientID").eq_ignore_ascii_case(client_id))
            .ok_or_else(VpError::records_not_found)?;
        let id = str_ci(&self.firms[index], "ClientID");
        let mut patch = body.clone();
        if let Some(Value::Array(addresses)) = patch.remove("CLAddress") {
            for address in addresses {
                let address = obj(address);
                let address_id = str_ci(&address, "CLAddressID");
                if address_id.is_empty() {
                    self.insert_address(&id, &address)?;
                } else if self.config.firm_address_edits {
                    self.update_address(&id, &address_id, &address)?;
                } else {
                    return Err(VpError::field(
                        "CLAddress",
                        "Firm address records cannot be edited through the API; change them in Vantagepoint.",
                    ));
                }
            }
        }
        if let Some(Value::Array(rows)) = patch.remove("VEAccounting") {
            for r in rows {
                self.upsert_vendor_accounting(&id, &obj(r));
            }
        }
        for key in ["ClientID", "CreateDate", "CreateUser"] {
            patch.retain(|k, _| !k.eq_ignore_ascii_case(key));
        }
        let old = self.firms[index].clone();
        let firm = &mut self.firms[index];
        merge_patch(firm, &patch);
        for key in [
            "ClientInd",
            "VendorInd",
            "AvailableForCRM",
            "ReadyForProcessing",
            "AvailableToAccountingUsers",
        ] {
            if let Some(flag) = get_ci(firm, key).and_then(flag_of) {
                merge_patch(firm, &obj(json!({ key: yn(flag) })));
            }
        }
        flags_to_yn(firm);
        firm.insert("ModUser".into(), s(user));
        firm.insert("ModDate".into(), s(vp_datetime(now)));
        let new = firm.clone();
        Ok((
            new.clone(),
            RecordEvent {
                hub: Hub::Firm,
                kind: EventKind::Change,
                old: Some(old),
                new,
            },
        ))
    }

    /// Inserts an address (`POST /firm/{ClientID}/address`); flags accept `'true'`/`'false'` and `'Y'`/`'N'`.
    /// Edits an address of a firm (merge; `ClientID` and `CLAddressID` stay; the label stays unique per firm).
    pub(crate) fn update_address(
        &mut self,
        client_id: &str,
        address_id: &str,
        body: &Row,
    ) -> Result<Row, VpError> {
        if !self.config.firm_address_edits {
            return Err(VpError::field(
                "CLAddressID",
                "Firm address records cannot be edited through the API; change them in Vantagepoint.",
            ));
        }
        let index = self
            .addresses
            .iter()
            .position(|a| {
                str_ci(a, "ClientID").eq_ignore_ascii_case(client_id)
                    && str_ci(a, "CLAddressID").eq_ignore_ascii_case(address_id)
            })
            .ok_or_else(VpError::records_not_found)?;
        let mut patch = body.clone();
        patch.retain(|k, _| {
            !k.eq_ignore_ascii_case("ClientID") && !k.eq_ignore_ascii_case("CLAddressID")
        });
        for key in ["PrimaryInd", "Billing", "Payment", "Accounting"] {
            if let Some(v) = get_ci(&patch, key).cloned() {
                let flag = flag_of(&v).ok_or_else(|| {
                    VpError::field(
                        key,
                        format!("'{}' is not a valid value for {key}.", text_of(&v)),
                    )
                })?;
                patch.retain(|k, _| !k.eq_ignore_ascii_case(key));
                patch.insert(key.to_owned(), json!(yn(flag)));
            }
        }
        let label = str_ci(&patch, "Address");
        if !label.is_empty()
            && self.addresses.iter().enumerate().any(|(i, a)| {
                i != index
                    && str_ci(a, "ClientID").eq_ignore_ascii_case(client_id)
                    && str_ci(a, "Address").eq_ignore_ascii_case(&label)
            })
        {
            return Err(VpError::Conflict(format!(
                "Address '{label}' already exists for this firm."
            )));
        }
        merge_patch(&mut self.addresses[index], &patch);
        Ok(self.addresses[index].clone())
    }

    pub(crate) fn insert_address(&mut self, client_id: &str, body: &Row) -> Result<Row, VpError> {
        if self.firm_by_id(client_id).is_none() {
            return Err(VpError::records_not_found());
        }
        if !str_ci(body, "CLAddressID").is_empty() {
            return Err(VpError::field(
                "CLAddressID",
                "Firm address records cannot be edited through the API; change them in Vantagepoint.",
            ));
        }
        let label = str_ci(body, "Address");
        if label.is_empty() {
            return Err(VpError::field(
                "Address",
                "Address (description) is required.",
            ));
        }
        if self.addresses.iter().any(|a| {
            str_ci(a, "ClientID") == client_id && str_ci(a, "Address").eq_ignore_ascii_case(&label)
        }) {
            return Err(VpError::Conflict(format!(
                "Address '{label}' already exists for this firm."
            )));
        }
        let mut row = Row::new();
        merge_patch(&mut row, body);
        for key in ["PrimaryInd", "Billing", "Payment", "Accounting"] {
            let value = get_ci(&row, key).cloned().unwrap_or(Value::Null);
            let flag = match value {
                Value::Null => false,
                ref v => flag_of(v).ok_or_else(|| {
                    VpError::field(
                        key,
                        format!("'{}' is not a valid value for {key}.", text_of(v)),
                    )
                })?,
            };
            merge_patch(&mut row, &obj(json!({ key: yn(flag) })));
        }
        let id = self.new_key();
        merge_patch(
            &mut row,
            &obj(json!({"ClientID": client_id, "CLAddressID": id})),
        );
        if get_ci(&row, "PrimaryInd").and_then(flag_of) == Some(true) {
            for a in self
                .addresses
                .iter_mut()
                .filter(|a| str_ci(a, "ClientID") == client_id)
            {
                a.insert("PrimaryInd".into(), yn(false));
            }
            let firm_fields = obj(json!({
                "PrimaryAddress1": str_ci(&row, "Address1"), "PrimaryCity": str_ci(&row, "City"),
                "PrimaryZip": str_ci(&row, "Zip"), "PrimaryCountry": str_ci(&row, "Country"),
            }));
            if let Some(firm) = self
                .firms
                .iter_mut()
                .find(|f| str_ci(f, "ClientID") == client_id)
            {
                merge_patch(firm, &firm_fields);
            }
        }
        self.addresses.push(row.clone());
        Ok(row)
    }

    pub(crate) fn upsert_vendor_accounting(&mut self, client_id: &str, body: &Row) -> Row {
        let company = {
            let c = str_ci(body, "Company");
            if c.is_empty() {
                self.default_company()
            } else {
                c
            }
        };
        let index = self.vendor_accounting.iter().position(|r| {
            str_ci(r, "ClientID") == client_id
                && str_ci(r, "Company").eq_ignore_ascii_case(&company)
        });
        let row = match index {
            Some(i) => &mut self.vendor_accounting[i],
            None => {
                self.vendor_accounting.push(obj(json!({
                    "ClientID": client_id, "Company": company, "PayTerms": "30", "Req1099": "N",
                    "DefaultTaxCode": "", "LiabCode": "", "BankCode": "",
                })));
                let last = self.vendor_accounting.len() - 1;
                &mut self.vendor_accounting[last]
            }
        };
        merge_patch(row, body);
        row.insert("ClientID".into(), s(client_id));
        row.clone()
    }

    pub(crate) fn firm_row(&mut self, seed: &FirmSeed) -> Row {
        let mut row = obj(json!({
            "Name": seed.name, "ClientInd": yn(seed.is_client), "VendorInd": yn(seed.is_vendor),
            "Status": if seed.status.is_empty() { "A" } else { seed.status.as_str() },
            "AvailableToAccountingUsers": yn(seed.available_to_accounting), "ReadyForProcessing": yn(seed.ready_for_processing),
            "AvailableForCRM": "N", "Org": seed.org, "CustomCurrencyCode": seed.currency.clone().unwrap_or_default(),
            "PrimaryEmail": seed.email, "PrimaryPhone": seed.phone, "WebSite": seed.website, "Type": "", "Category": "",
        }));
        if let Some(id) = &seed.client_id {
            row.insert("ClientID".into(), s(id.clone()));
        }
        if let Some(c) = &seed.client {
            row.insert("Client".into(), s(c.clone()));
        }
        if let Some(v) = &seed.vendor {
            row.insert("Vendor".into(), s(v.clone()));
        }
        merge_patch(&mut row, &seed.extra);
        row
    }

    pub(crate) fn address_row(seed: &AddressSeed) -> Row {
        obj(json!({
            "Address": seed.label, "PrimaryInd": yn(seed.primary), "Billing": yn(seed.billing),
            "Payment": yn(seed.payment), "Accounting": yn(seed.accounting), "Addressee": "",
            "Address1": seed.address1, "Address2": seed.address2, "Address3": seed.address3, "Address4": "",
            "City": seed.city, "State": seed.state, "Zip": seed.zip, "Country": seed.country,
            "Phone": seed.phone, "FAX": "", "Email": seed.email,
            "TaxRegistrationNumber": seed.tax_registration_number, "TaxCountryCode": seed.country,
        }))
    }

    /// Inserts or updates an employee (POST /employee, PUT /employee/{id}, admin seeds).
    pub(crate) fn upsert_employee(
        &mut self,
        key: Option<&str>,
        body: &Row,
        user: &str,
        now: NaiveDateTime,
    ) -> Result<(Row, RecordEvent), VpError> {
        let stamp = vp_datetime(now);
        let id = key
            .map(str::to_owned)
            .unwrap_or_else(|| str_ci(body, "Employee"));
        let index = self
            .employees
            .iter()
            .position(|e| str_ci(e, "Employee").eq_ignore_ascii_case(&id));
        match (key, index) {
            (Some(_), None) => Err(VpError::records_not_found()),
            (None, Some(_)) => Err(VpError::Conflict(format!("Employee {id} already exists."))),
            (None, None) => {
                if id.is_empty() {
                    return Err(VpError::field("Employee", "Employee is required."));
                }
                if str_ci(body, "LastName").is_empty() {
                    return Err(VpError::field("LastName", "Last Name is required."));
                }
                if get_ci(body, "EmployeeCompany").is_some_and(|v| text_of(v).trim().is_empty()) {
                    return Err(VpError::field(
                        "EmployeeCompany",
                        "Cannot insert NULL into Company",
                    ));
                }
                let mut row = obj(json!({
                    "Employee": id, "Status": "A", "EmployeeCompany": self.default_company(),
                    "HomeCompany": self.default_company(), "AvailableToAccountingUsers": "Y",
                    "CreateUser": user, "CreateDate": stamp,
                }));
                merge_patch(&mut row, body);
                merge_patch(&mut row, &obj(json!({"ModUser": user, "ModDate": stamp})));
                flags_to_yn(&mut row);
                self.employees.push(row.clone());
                Ok((
                    row.clone(),
                    RecordEvent {
                        hub: Hub::Employee,
                        kind: EventKind::Insert,
                        old: None,
                        new: row,
                    },
                ))
            }
            (_, Some(i)) => {
                let old = self.employees[i].clone();
                let mut patch = body.clone();
                patch.retain(|k, _| !k.eq_ignore_ascii_case("Employee"));
                merge_patch(&mut self.employees[i], &patch);
                flags_to_yn(&mut self.employees[i]);
                merge_patch(
                    &mut self.employees[i],
                    &obj(json!({"ModUser": user, "ModDate": stamp})),
                );
                let new = self.employees[i].clone();
                Ok((
                    new.clone(),
                    RecordEvent {
                        hub: Hub::Employee,
                        kind: EventKind::Change,
                        old: Some(old),
                        new,
                    },
                ))
            }
        }
    }

    pub(crate) fn employee_row(seed: &EmployeeSeed) -> Row {
        let mut row = obj(json!({
            "Employee": seed.employee, "FirstName": seed.first_name, "LastName": seed.last_name,
            "Title": seed.title, "EMail": seed.email, "Org": seed.org,
            "Status": if seed.status.is_empty() { "A" } else { seed.status.as_str() },
            "Vendor": seed.vendor.clone().unwrap_or_default(), "AvailableToAccountingUsers": yn(seed.available_to_accounting),
            "Address1": seed.address1, "Address2": seed.address2, "Address3": seed.address3, "City": seed.city,
            "State": seed.state, "ZIP": seed.zip, "Country": seed.country, "WorkPhone": seed.work_phone,
            "MobilePhone": seed.mobile_phone, "Type": "E",
        }));
        if !seed.company.is_empty() {
            row.insert("EmployeeCompany".into(), s(seed.company.clone()));
            row.insert("HomeCompany".into(), s(seed.company.clone()));
        }
        merge_patch(&mut row, &seed.extra);
        row
    }

    /// Inserts or updates a project/phase/task; `key` is `WBS1` or `WBS1|WBS2|WBS3`.
    pub(crate) fn upsert_project(
        &mut self,
        key: Option<&str>,
        body: &Row,
        user: &str,
        now: NaiveDateTime,
    ) -> Result<(Row, RecordEvent), VpError> {
        let stamp = vp_datetime(now);
        let (w1, w2, w3) = match key {
            Some(k) => {
                let mut parts = k.split('|');
                (
                    parts.next().unwrap_or_default().to_owned(),
                    parts.next().unwrap_or_default().to_owned(),
                    parts.next().unwrap_or_default().to_owned(),
                )
            }
            None => (
                str_ci(body, "WBS1"),
                str_ci(body, "WBS2"),
                str_ci(body, "WBS3"),
            ),
        };
        let index = self.projects.iter().position(|p| {
            str_ci(p, "WBS1").eq_ignore_ascii_case(w1.trim())
                && str_ci(p, "WBS2").eq_ignore_ascii_case(w2.trim())
                && str_ci(p, "WBS3").eq_ignore_ascii_case(w3.trim())
        });
        match (key, index) {
            (Some(_), None) => Err(VpError::records_not_found()),
            (None, Some(_)) => Err(VpError::Conflict(format!("Project {w1} already exists."))),
            (None, None) => {
                if w1.is_empty() {
                    return Err(VpError::field("WBS1", "WBS1 is required."));
                }
                if str_ci(body, "Name").is_empty() {
                    return Err(VpError::field("Name", "Name is required."));
                }
                let client = str_ci(body, "ClientID");
                if !client.is_empty() && self.firm_by_id(&client).is_none() {
                    return Err(VpError::field(
                        "ClientID",
                        format!("Invalid firm '{client}'."),
                    ));
                }
                let mut row = obj(json!({
                    "WBS1": w1, "WBS2": blank_wbs(&w2), "WBS3": blank_wbs(&w3), "Status": "A", "ChargeType": "R",
                    "SubLevel": "N", "BillingClientID": client, "MainWBS1": "", "ConsolidatePosting": "N",
                    "ReadyForProcessing": "Y", "CreateUser": user, "CreateDate": stamp,
                }));
                merge_patch(&mut row, body);
                merge_patch(&mut row, &obj(json!({"ModUser": user, "ModDate": stamp})));
                flags_to_yn(&mut row);
                self.projects.push(row.clone());
                Ok((
                    row.clone(),
                    RecordEvent {
                        hub: Hub::Project,
                        kind: EventKind::Insert,
                        old: None,
                        new: row,
                    },
                ))
            }
            (_, Some(i)) => {
                let old = self.projects[i].clone();
                let mut patch = body.clone();
                patch.retain(|k, _| {
                    !["WBS1", "WBS2", "WBS3"]
                        .iter()
                        .any(|w| k.eq_ignore_ascii_case(w))
                });
                merge_patch(&mut self.projects[i], &patch);
                flags_to_yn(&mut self.projects[i]);
                merge_patch(
                    &mut self.projects[i],
                    &obj(json!({"ModUser": user, "ModDate": stamp})),
                );
                let new = self.projects[i].clone();
                Ok((
                    new.clone(),
                    RecordEvent {
                        hub: Hub::Project,
                        kind: EventKind::Change,
                        old: Some(old),
                        new,
                    },
                ))
            }
        }
    }

    pub(crate) fn project_row(seed: &ProjectSeed) -> Row {
        let mut row = obj(json!({
            "WBS1": seed.wbs1, "WBS2": blank_wbs(&seed.wbs2), "WBS3": blank_wbs(&seed.wbs3), "Name": seed.name,
            "LongName": seed.name, "ClientID": seed.client_id,
            "BillingClientID": seed.billing_client_id.clone().unwrap_or_else(|| seed.client_id.clone()),
            "Org": seed.org, "Status": if seed.status.is_empty() { "A" } else { seed.status.as_str() },
            "ChargeType": if seed.charge_type.is_empty() { "R" } else { seed.charge_type.as_str() },
            "BillingCurrencyCode": seed.billing_currency.clone().unwrap_or_default(),
            "MainWBS1": seed.billing_group_main.clone().unwrap_or_default(),
            "ConsolidatePosting": yn(seed.billing_group_consolidated),
        }));
        merge_patch(&mut row, &seed.extra);
        row
    }

    /// `DELETE /firm/{ClientID}`: refused while projects or posted transactions reference the firm.
    pub(crate) fn delete_firm(&mut self, client_id: &str) -> Result<RecordEvent, VpError> {
        let index = self
            .firms
            .iter()
            .position(|f| str_ci(f, "ClientID").eq_ignore_ascii_case(client_id))
            .ok_or_else(VpError::records_not_found)?;
        let id = str_ci(&self.firms[index], "ClientID");
        let vendor = str_ci(&self.firms[index], "Vendor");
        let in_use = self
            .projects
            .iter()
            .any(|p| str_ci(p, "ClientID") == id || str_ci(p, "BillingClientID") == id)
            || (!vendor.is_empty()
                && self
                    .ledger
                    .iter()
                    .any(|r| str_ci(r, "Vendor").eq_ignore_ascii_case(&vendor)));
        if in_use {
            return Err(VpError::bad_request(
                "The firm cannot be deleted because it is referenced by projects or transactions.",
            ));
        }
        let old = self.firms.remove(index);
        self.addresses.retain(|a| str_ci(a, "ClientID") != id);
        self.vendor_accounting
            .retain(|a| str_ci(a, "ClientID") != id);
        Ok(RecordEvent {
            hub: Hub::Firm,
            kind: EventKind::Delete,
            old: Some(old.clone()),
            new: old,
        })
    }

    /// `DELETE /employee/{Employee}`: refused while posted transactions reference the employee.
    pub(crate) fn delete_employee(&mut self, employee: &str) -> Result<RecordEvent, VpError> {
        let index = self
            .employees
            .iter()
            .position(|e| str_ci(e, "Employee").eq_ignore_ascii_case(employee))
            .ok_or_else(VpError::records_not_found)?;
        if self
            .ledger
            .iter()
            .any(|r| str_ci(r, "Employee").eq_ignore_ascii_case(employee))
        {
            return Err(VpError::bad_request(
                "The employee cannot be deleted because transactions reference it.",
            ));
        }
        let old = self.employees.remove(index);
        Ok(RecordEvent {
            hub: Hub::Employee,
            kind: EventKind::Delete,
            old: Some(old.clone()),
            new: old,
        })
    }

    /// `DELETE /project/{wbskey}`: refused while posted transactions reference the project.
    pub(crate) fn delete_project(&mut self, key: &str) -> Result<RecordEvent, VpError> {
        let mut parts = key.split('|');
        let (w1, w2, w3) = (
            parts.next().unwrap_or_default(),
            parts.next().unwrap_or_default(),
            parts.next().unwrap_or_default(),
        );
        let index = self
            .projects
            .iter()
            .position(|p| {
                str_ci(p, "WBS1").eq_ignore_ascii_case(w1.trim())
                    && str_ci(p, "WBS2").eq_ignore_ascii_case(w2.trim())
                    && str_ci(p, "WBS3").eq_ignore_ascii_case(w3.trim())
            })
            .ok_or_else(VpError::records_not_found)?;
        if self
            .ledger
            .iter()
            .any(|r| str_ci(r, "WBS1").eq_ignore_ascii_case(w1.trim()))
        {
            return Err(VpError::bad_request(
                "The project cannot be deleted because transactions reference it.",
            ));
        }
        let old = self.projects.remove(index);
        Ok(RecordEvent {
            hub: Hub::Project,
            kind: EventKind::Delete,
            old: Some(old.clone()),
            new: old,
        })
    }

    /// `POST /Accounts`: VP's handler refuses bodies that lack the blank columns.
    pub(crate) fn insert_account(
        &mut self,
        body: &Row,
        enforce_blank_columns: bool,
    ) -> Result<Row, VpError> {
        let account = str_ci(body, "Account");
        if account.is_empty() {
            return Err(VpError::field("Account", "Account is required."));
        }
        if enforce_blank_columns {
            let missing: Vec<&str> = [
                "CashBasisAccount",
                "UnrealizedLossAccount",
                "UnrealizedGainAccount",
                "CashBasisRevaluation",
            ]
            .into_iter()
            .filter(|c| get_ci(body, c).is_none())
            .collect();
            if !missing.is_empty() {
                return Err(VpError::field(
                    missing[0],
                    format!(
                        "The following columns are required: {}.",
                        missing.join(", ")
                    ),
                ));
            }
        }
        if str_ci(body, "Name").is_empty() {
            return Err(VpError::field("Name", "Name is required."));
        }
        let max = self
            .key_format
            .get("AccountLength")
            .and_then(int_of)
            .unwrap_or(10);
        if i64::try_from(account.chars().count()).unwrap_or(i64::MAX) > max {
            return Err(VpError::field(
                "Account",
                format!("Account exceeds the maximum length of {max}."),
            ));
        }
        let account_type = get_ci(body, "Type").and_then(int_of).unwrap_or(0);
        if !(1..=10).contains(&account_type) {
            return Err(VpError::field(
                "Type",
                "Type must be an account type between 1 and 10.",
            ));
        }
        if self.account(&account).is_some() {
            return Err(VpError::Conflict(format!(
                "Account {account} already exists."
            )));
        }
        let mut row = obj(json!({
            "Account": account, "Status": "A", "Detail": "1", "CashBasisAccount": "", "UnrealizedLossAccount": "",
            "UnrealizedGainAccount": "", "CashBasisRevaluation": "", "GlobalAccount": "N",
        }));
        merge_patch(&mut row, body);
        row.insert("Type".into(), Value::from(account_type));
        self.accounts.push(row.clone());
        Ok(row)
    }

    /// Deletes a chart-of-accounts row; an account posted ledger rows use is refused (400), as VP keeps
    /// accounts with history.
    pub(crate) fn delete_account(&mut self, account: &str) -> Result<(), VpError> {
        let account = account.trim();
        if self.account(account).is_none() {
            return Err(VpError::records_not_found());
        }
        if self
            .ledger
            .iter()
            .any(|r| str_ci(r, "Account").trim().eq_ignore_ascii_case(account))
        {
            return Err(VpError::Conflict(format!(
                "Account {account} has posted transactions and cannot be deleted."
            )));
        }
        self.accounts
            .retain(|r| !str_ci(r, "Account").trim().eq_ignore_ascii_case(account));
        Ok(())
    }

    pub(crate) fn update_account(&mut self, account: &str, body: &Row) -> Result<Row, VpError> {
        let row = self
            .accounts
            .iter_mut()
            .find(|a| str_ci(a, "Account").eq_ignore_ascii_case(account))
            .ok_or_else(VpError::records_not_found)?;
        let mut patch = body.clone();
        patch.retain(|k, _| !k.eq_ignore_ascii_case("Account"));
        merge_patch(row, &patch);
        Ok(row.clone())
    }

    /// `POST /vision/TaxCodeEntity/`.
    pub(crate) fn insert_tax_code(&mut self, body: &Row) -> Result<Row, VpError> {
        let code = str_ci(body, "Code");
        if code.is_empty() {
            return Err(VpError::field("Code", "Code is required."));
        }
        if code.chars().count() > 10 {
            return Err(VpError::field(
                "Code",
                "Code exceeds the maximum length of 10.",
            ));
        }
        if self.tax_code(&code).is_some() {
            return Err(VpError::Conflict(format!(
                "Tax code {code} already exists."
            )));
        }
        let rate = get_ci(body, "Rate")
            .map_or(Some(Decimal::ZERO), decimal_of)
            .ok_or_else(|| VpError::field("Rate", "Rate must be a number."))?;
        let compound = str_ci(body, "CompoundOnTaxCode");
        if !compound.is_empty() && self.tax_code(&compound).is_none() {
            return Err(VpError::field(
                "CompoundOnTaxCode",
                format!("Invalid tax code '{compound}'."),
            ));
        }
        let mut row = obj(
            json!({"Code": code, "Description": "", "Status": "A", "CompoundOnTaxCode": "", "Account": ""}),
        );
        merge_patch(&mut row, body);
        row.insert("Rate".into(), money(rate));
        self.tax_codes.push(row.clone());
        Ok(row)
    }

    fn tax_rate(&self, code: &str) -> Result<(Decimal, String, String), VpError> {
        let row = self
            .tax_code(code)
            .ok_or_else(|| VpError::field("TaxCode", format!("Invalid tax code '{code}'.")))?;
        let rate = row.get("Rate").and_then(decimal_of).unwrap_or_default();
        Ok((
            rate,
            str_ci(row, "CompoundOnTaxCode"),
            str_ci(row, "Account"),
        ))
    }

    /// Tax per code on `amount`: a compound code is computed on the amount plus the tax of the code it
    /// compounds on (when that code is also applied to the line).
    fn taxes_for(
        &self,
        amount: Decimal,
        codes: &[String],
    ) -> Result<Vec<(String, Decimal, String, String)>, VpError> {
        let mut plain: BTreeMap<String, Decimal> = BTreeMap::new();
        let mut out = Vec::new();
        for code in codes {
            let (rate, _, _) = self.tax_rate(code)?;
            plain.insert(
                code.to_ascii_uppercase(),
                cents(amount * rate / Decimal::ONE_HUNDRED),
            );
        }
        for code in codes {
            let (rate, compound_on, account) = self.tax_rate(code)?;
            let base = match plain.get(&compound_on.to_ascii_uppercase()) {
                Some(other) if !compound_on.is_empty() => amount + *other,
                _ => amount,
            };
            out.push((
                code.clone(),
                cents(base * rate / Decimal::ONE_HUNDRED),
                account,
                compound_on,
            ));
        }
        Ok(out)
    }

    // ------------------------------------------------------------------ posting (ledger)

    fn ledger_base(
        &mut self,
        tt: &str,
        batch: &str,
        period: i32,
        post_seq: u32,
        post_date: &str,
    ) -> Row {
        let pkey = self.new_key();
        let mut row = obj(json!({
            "Batch": batch, "Period": period, "PostSeq": post_seq, "PKey": pkey, "TransType": tt, "SubType": " ",
            "WBS1": " ", "WBS2": " ", "WBS3": " ", "Account": "", "Org": "", "RefNo": "", "TransDate": "",
            "Desc1": "", "Desc2": "", "Amount": 0, "CBAmount": 0, "BillExt": 0, "ProjectCost": "N", "AutoEntry": "N",
            "SuppressBill": "N", "BillStatus": "", "SkipGL": "N", "BankCode": "", "Invoice": "", "InvoiceSection": "",
        }));
        merge_patch(
            &mut row,
            &obj(json!({
                "Employee": "", "Vendor": "", "Line": 0, "PartialPayment": 0, "Discount": 0, "Voucher": "",
                "TaxCode": "", "TaxBasis": 0, "TaxCBBasis": 0, "TransactionAmount": 0, "TransactionCurrencyCode": "",
                "ExchangeInfo": "", "AmountProjectCurrency": 0, "AmountBillingCurrency": 0, "AmountSourceCurrency": 0,
            })),
        );
        merge_patch(
            &mut row,
            &obj(json!({
                "PONumber": "", "LinkCompany": "", "LinkWBS1": "", "LinkWBS2": "", "LinkWBS3": "", "CreditMemoRefNo": "",
                "InvoiceStatus": "", "OriginatingVendor": "", "PreInvoice": "", "EmOrg": "",
                "PostDate": post_date, "ModifiedDate": post_date, "LastPSAExportDate": "",
            })),
        );
        row
    }

    fn check_batch_free(&self, tt: &str, batch: &str) -> Result<(), VpError> {
        if self
            .batches
            .iter()
            .any(|b| b.tt == tt && b.batch.eq_ignore_ascii_case(batch))
        {
            return Err(VpError::Conflict(format!(
                "Batch '{batch}' already exists."
            )));
        }
        Ok(())
    }

    fn control_row(
        tt: &str,
        batch: &str,
        description: &str,
        total: Decimal,
        company: &str,
        posting: &Posting,
        user: &str,
    ) -> Row {
        obj(json!({
            "Batch": batch, "Description": description, "Total": money(total), "SumTotal": money(total),
            "DiffTotal": 0, "Period": posting.period, "Company": company, "Recurring": "N", "Selected": "N",
            "Posted": "Y", "Creator": user, "PostSeq": posting.post_seq, "PostDate": posting.post_date,
            "PostUser": user, "TransType": tt.to_ascii_uppercase(),
        }))
    }

    fn start_posting(
        &mut self,
        tt: &str,
        batch: Option<&str>,
        period: i32,
        now: NaiveDateTime,
    ) -> Result<Posting, VpError> {
        self.ensure_open(period)?;
        let batch = match batch.map(str::trim) {
            Some(b) if !b.is_empty() => b.to_owned(),
            _ => format!(
                "{}{}{:04}",
                tt.to_ascii_uppercase(),
                period,
                self.post_seq.get(&period).copied().unwrap_or(0) + 1
            ),
        };
        if self.config.enforce_column_lengths && batch.chars().count() > 32 {
            return Err(VpError::field(
                "Batch",
                "Batch exceeds the maximum length of 32.",
            ));
        }
        self.check_batch_free(&tt.to_ascii_lowercase(), &batch)?;
        let post_seq = self.next_post_seq(period);
        Ok(Posting {
            batch,
            period,
            post_seq,
            post_date: vp_datetime(now),
        })
    }

    /// Posts an invoice or credit memo as Interactive Billing would.
    pub(crate) fn post_invoice(
        &mut self,
        seed: &InvoiceSeed,
        user: &str,
        now: NaiveDateTime,
    ) -> Result<Posting, VpError> {
        if seed.invoice.trim().is_empty() {
            return Err(VpError::field("Invoice", "Invoice is required."));
        }
        if seed.lines.is_empty() {
            return Err(VpError::field(
                "lines",
                "An invoice needs at least one line.",
            ));
        }
        if self
            .ledger
            .iter()
            .any(|r| str_ci(r, "TransType") == "IN" && str_ci(r, "Invoice") == seed.invoice)
        {
            return Err(VpError::Conflict(format!(
                "Invoice {} has already been posted.",
                seed.invoice
            )));
        }
        let credit_ref = seed.credit_memo_ref.clone().unwrap_or_default();
        if !credit_ref.is_empty()
            && !self
                .ledger
                .iter()
                .any(|r| str_ci(r, "TransType") == "IN" && str_ci(r, "Invoice") == credit_ref)
        {
            return Err(VpError::field(
                "CreditMemoRefNo",
                format!("Invoice {credit_ref} has not been posted."),
            ));
        }
        let project = self.require_project(&seed.wbs1, "", "")?.clone();
        for line in &seed.lines {
            self.require_account("Account", &line.account)?;
            if line.section.eq_ignore_ascii_case("T") {
                return Err(VpError::field(
                    "InvoiceSection",
                    "Section T is reserved for tax lines.",
                ));
            }
            for code in &line.tax_codes {
                self.tax_rate(code)?;
            }
        }
        let trans_date = seed.trans_date.unwrap_or_else(|| now.date());
        let period = seed
            .period
            .unwrap_or_else(|| self.period_for_date(trans_date));
        let org = str_ci(&project, "Org");
        let company = org
            .split(':')
            .next()
            .filter(|c| !c.is_empty())
            .map(str::to_owned)
            .unwrap_or_else(|| self.default_company());
        let functional = self.functional_currency(&company);
        let currency = seed.currency.clone().unwrap_or_else(|| functional.clone());
        let rate = seed.exchange_rate.unwrap_or(Decimal::ONE);
        // Billing amounts: in the billing currency when it is another one, else the transaction amounts.
        let billing_currency = seed
            .billing_currency
            .clone()
            .filter(|b| !b.eq_ignore_ascii_case(&currency));
        let billing_rate = if billing_currency.is_some() {
            seed.billing_rate.unwrap_or(Decimal::ONE)
        } else {
            Decimal::ONE
        };
        let billing = |amount: Decimal| cents(amount * billing_rate);
        let billing_client = {
            let b = str_ci(&project, "BillingClientID");
            if b.is_empty() {
                str_ci(&project, "ClientID")
            } else {
                b
            }
        };
        let client_name = self
            .firm_by_id(&billing_client)
            .map(|f| str_ci(f, "Name"))
            .unwrap_or_default();
        let primary_name = self
            .firm_by_id(&str_ci(&project, "ClientID"))
            .map(|f| str_ci(f, "Name"))
            .unwrap_or_default();
        let posting = self.start_posting("IN", seed.batch.as_deref(), period, now)?;
        let ar_account = self.autopost(&company, "AcctsReceivable", "");
        let date = vp_date(trans_date);
        let mut details = Vec::new();
        let mut taxes = Vec::new();
        let mut rows = Vec::new();
        let mut total = Decimal::ZERO;
        for (i, line) in seed.lines.iter().enumerate() {
            let wbs2 = line.wbs2.clone().unwrap_or_else(|| seed.wbs2.clone());
            let wbs3 = line.wbs3.clone().unwrap_or_else(|| seed.wbs3.clone());
            let mut row = self.ledger_base(
                "IN",
                &posting.batch,
                period,
                posting.post_seq,
                &posting.post_date,
            );
            let pkey = str_ci(&row, "PKey");
            let first_tax = line.tax_codes.first().cloned().unwrap_or_default();
            merge_patch(
                &mut row,
                &obj(json!({
                    "WBS1": seed.wbs1, "WBS2": blank_wbs(&wbs2), "WBS3": blank_wbs(&wbs3), "Account": line.account,
                    "Org": org, "RefNo": seed.invoice, "TransDate": date, "Desc1": client_name, "Desc2": line.description,
                    "Amount": money(-cents(line.amount * rate)), "TransactionAmount": money(-line.amount),
                    "AmountBillingCurrency": money(-billing(line.amount)), "AmountProjectCurrency": money(-cents(line.amount * rate)),
                    "TransactionCurrencyCode": currency, "Invoice": seed.invoice, "InvoiceSection": line.section,
                    "TaxCode": first_tax, "TaxBasis": money(if first_tax.is_empty() { Decimal::ZERO } else { line.amount }),
                    "CreditMemoRefNo": credit_ref, "InvoiceStatus": "B", "BillStatus": "B",
                })),
            );
            rows.push(row);
            details.push(obj(json!({
                "Batch": posting.batch, "Invoice": seed.invoice, "WBS1": seed.wbs1, "WBS2": blank_wbs(&wbs2),
                "WBS3": blank_wbs(&wbs3), "PKey": pkey, "Seq": i + 1, "InvoiceSection": line.section,
                "Description": line.description, "Account": line.account, "Amount": money(line.amount),
                "AmountBillingCurrency": money(billing(line.amount)), "RetAmount": 0, "TaxCode": first_tax, "TaxBasis": money(if first_tax.is_empty() { Decimal::ZERO } else { line.amount }),
                "Retainer": "N", "CreditMemoRefNo": credit_ref,
            })));
            total += line.amount;
            for (code, tax, tax_account, compound_on) in
                self.taxes_for(line.amount, &line.tax_codes)?
            {
                let mut tax_row = self.ledger_base(
                    "IN",
                    &posting.batch,
                    period,
                    posting.post_seq,
                    &posting.post_date,
                );
                merge_patch(
                    &mut tax_row,
                    &obj(json!({
                        "WBS1": seed.wbs1, "WBS2": blank_wbs(&wbs2), "WBS3": blank_wbs(&wbs3), "Account": tax_account,
                        "Org": org, "RefNo": seed.invoice, "TransDate": date, "Desc1": client_name,
                        "Desc2": format!("Tax {code}"), "Amount": money(-cents(tax * rate)),
                        "TransactionAmount": money(-tax), "AmountBillingCurrency": money(-billing(tax)),
                        "TransactionCurrencyCode": currency, "Invoice": seed.invoice, "InvoiceSection": "T",
                        "TaxCode": code, "TaxBasis": money(line.amount), "CreditMemoRefNo": credit_ref, "InvoiceStatus": "B",
                    })),
                );
                rows.push(tax_row);
                details.push(obj(json!({
                    "Batch": posting.batch, "Invoice": seed.invoice, "WBS1": seed.wbs1, "WBS2": blank_wbs(&wbs2),
                    "WBS3": blank_wbs(&wbs3), "PKey": self.new_key(), "Seq": details.len() + 1, "InvoiceSection": "T",
                    "Description": format!("Tax {code}"), "Account": tax_account, "Amount": money(tax),
                    "AmountBillingCurrency": money(billing(tax)), "RetAmount": 0,
                    "TaxCode": code, "TaxBasis": money(line.amount), "Retainer": "N", "CreditMemoRefNo": credit_ref,
                })));
                let tax_line = obj(json!({
                    "Batch": posting.batch, "Period": period, "PostSeq": posting.post_seq, "PKey": pkey,
                    "TransType": "IN", "Invoice": seed.invoice, "WBS1": seed.wbs1, "TaxCode": code,
                    "CompoundOnTaxCode": compound_on, "TaxAmount": money(cents(tax * rate)),
                    "TransactionTaxAmount": money(tax), "TaxBasis": money(line.amount), "Account": tax_account,
                    "TransactionCurrencyCode": currency, "PostDate": posting.post_date,
                }));
                taxes.push(tax_line.clone());
                self.ledger_tax.push(tax_line);
                total += tax;
            }
        }
        // The AR debit is a GL offset: AutoEntry 'Y' and no Invoice, which readers of invoice lines must skip.
        let mut ar = self.ledger_base(
            "IN",
            &posting.batch,
            period,
            posting.post_seq,
            &posting.post_date,
        );
        merge_patch(
            &mut ar,
            &obj(json!({
                "WBS1": seed.wbs1, "Account": ar_account, "Org": org, "RefNo": seed.invoice, "TransDate": date,
                "Desc1": client_name, "Amount": money(cents(total * rate)), "TransactionAmount": money(total),
                "TransactionCurrencyCode": currency, "AutoEntry": "Y",
            })),
        );
        rows.push(ar);
        self.ledger.extend(rows);
        let master = obj(json!({
            "Batch": posting.batch, "Invoice": seed.invoice, "WBS1": seed.wbs1, "WBS2": blank_wbs(&seed.wbs2),
            "WBS3": blank_wbs(&seed.wbs3), "TransDate": date, "DueDate": vp_date(seed.due_date.unwrap_or(trans_date + chrono::Duration::days(30))),
            "ClientID": str_ci(&project, "ClientID"), "BillingClientID": billing_client, "ClientName": client_name,
            "BillingClientName": client_name, "PrimaryClientName": primary_name,
            "CurrencyCode": currency, "BillingCurrencyCode": billing_currency.clone().unwrap_or_else(|| currency.clone()),
            "IsCreditMemo": yn(!credit_ref.is_empty()), "CreditMemoRefNo": credit_ref,
            "Description": seed.description, "TransComment": seed.description, "Posted": "Y", "Seq": 1,
            "Period": period, "PostSeq": posting.post_seq, "Total": money(total), "Status": "A",
        }));
        let control = Self::control_row(
            "IN",
            &posting.batch,
            &seed.description,
            total,
            &company,
            &posting,
            user,
        );
        self.batches.push(EntryBatch {
            tt: "in".into(),
            batch: posting.batch.clone(),
            control,
            masters: vec![master],
            details,
            taxes,
            posted: true,
        });
        Ok(posting)
    }

    fn expense_lines(
        &mut self,
        tt: &str,
        lines: &[ExpenseLineSeed],
        posting: &Posting,
        common: &Row,
        rate: Decimal,
    ) -> Result<PostedLines, VpError> {
        let mut rows = Vec::new();
        let mut details = Vec::new();
        let mut taxes = Vec::new();
        let mut total = Decimal::ZERO;
        for (i, line) in lines.iter().enumerate() {
            let org = if line.wbs1.trim().is_empty() {
                str_ci(common, "Org")
            } else {
                str_ci(
                    self.require_project(&line.wbs1, &line.wbs2, &line.wbs3)?,
                    "Org",
                )
            };
            let mut row = self.ledger_base(
                tt,
                &posting.batch,
                posting.period,
                posting.post_seq,
                &posting.post_date,
            );
            merge_patch(&mut row, common);
            let pkey = str_ci(&row, "PKey");
            let tax_code = line.tax_code.clone().unwrap_or_default();
            merge_patch(
                &mut row,
                &obj(json!({
                    "WBS1": blank_wbs(&line.wbs1), "WBS2": blank_wbs(&line.wbs2), "WBS3": blank_wbs(&line.wbs3),
                    "Account": line.account, "Org": org, "Desc2": line.description, "SubType": "L",
                    "Amount": money(cents(line.amount * rate)), "TransactionAmount": money(line.amount),
                    "TaxCode": tax_code, "TaxBasis": money(if tax_code.is_empty() { Decimal::ZERO } else { line.amount }),
                })),
            );
            rows.push(row);
            let mut tax_total = Decimal::ZERO;
            let codes: Vec<String> = line.tax_code.iter().cloned().collect();
            for (code, tax, tax_account, compound_on) in self.taxes_for(line.amount, &codes)? {
                let mut tax_row = self.ledger_base(
                    tt,
                    &posting.batch,
                    posting.period,
                    posting.post_seq,
                    &posting.post_date,
                );
                merge_patch(&mut tax_row, common);
                merge_patch(
                    &mut tax_row,
                    &obj(json!({
                        "WBS1": blank_wbs(&line.wbs1), "Account": tax_account, "Org": org, "SubType": "T",
                        "Desc2": format!("Tax {code}"), "Amount": money(cents(tax * rate)),
                        "TransactionAmount": money(tax), "TaxCode": code, "TaxBasis": money(line.amount),
                    })),
                );
                rows.push(tax_row);
                let tax_line = obj(json!({
                    "Batch": posting.batch, "Period": posting.period, "PostSeq": posting.post_seq, "PKey": pkey,
                    "TransType": tt, "TaxCode": code, "CompoundOnTaxCode": compound_on,
                    "TaxAmount": money(cents(tax * rate)), "TransactionTaxAmount": money(tax),
                    "TaxBasis": money(line.amount), "Account": tax_account, "PostDate": posting.post_date,
                    "Voucher": str_ci(common, "Voucher"),
                }));
                taxes.push(tax_line.clone());
                self.ledger_tax.push(tax_line);
                tax_total += tax;
            }
            details.push(obj(json!({
                "Batch": posting.batch, "MasterPKey": str_ci(common, "Voucher"), "PKey": pkey, "Seq": i + 1,
                "Description": line.description, "WBS1": blank_wbs(&line.wbs1), "WBS2": blank_wbs(&line.wbs2),
                "WBS3": blank_wbs(&line.wbs3), "Account": line.account, "Amount": money(line.amount + tax_total),
                "NetAmount": money(line.amount), "TotalTax": money(tax_total), "PaymentAmount": money(line.amount + tax_total),
                "TaxCode": tax_code, "SuppressBill": "N",
            })));
            total += line.amount + tax_total;
        }
        Ok((rows, details, taxes, total))
    }

    /// Posts an AP voucher.
    pub(crate) fn post_voucher(
        &mut self,
        seed: &VoucherSeed,
        user: &str,
        now: NaiveDateTime,
    ) -> Result<Posting, VpError> {
        let firm = self.firm_by_vendor(&seed.vendor).cloned().ok_or_else(|| {
            VpError::field("Vendor", format!("Invalid vendor '{}'.", seed.vendor))
        })?;
        if seed.lines.is_empty() {
            return Err(VpError::field(
                "lines",
                "A voucher needs at least one line.",
            ));
        }
        let key = (seed.vendor.to_ascii_uppercase(), seed.voucher.clone());
        if !seed.voucher.is_empty() && self.vouchers.contains_key(&key) {
            return Err(VpError::Conflict(format!(
                "Voucher {} already exists for vendor {}.",
                seed.voucher, seed.vendor
            )));
        }
        for line in &seed.lines {
            self.require_account("Account", &line.account)?;
        }
        let trans_date = seed.trans_date.unwrap_or_else(|| now.date());
        let period = seed
            .period
            .unwrap_or_else(|| self.period_for_date(trans_date));
        let company = self.default_company();
        let currency = seed
            .currency
            .clone()
            .unwrap_or_else(|| self.functional_currency(&company));
        let posting = self.start_posting("AP", seed.batch.as_deref(), period, now)?;
        let liability = self.autopost(&company, "APLiability", "");
        let common = obj(json!({
            "Vendor": seed.vendor, "Voucher": seed.voucher, "Invoice": seed.invoice, "RefNo": seed.invoice,
            "TransDate": vp_date(trans_date), "Desc1": str_ci(&firm, "Name"), "Org": str_ci(&firm, "Org"),
            "TransactionCurrencyCode": currency,
        }));
        let (mut rows, mut details, taxes, total) =
            self.expense_lines("AP", &seed.lines, &posting, &common, Decimal::ONE)?;
        // Paid in another currency: each line's gross in the payment currency, and the balance kept in it.
        let payment_currency = seed
            .payment_currency
            .clone()
            .filter(|p| !p.trim().is_empty())
            .unwrap_or_else(|| currency.clone());
        let payment_rate = if payment_currency.eq_ignore_ascii_case(&currency) {
            Decimal::ONE
        } else {
            seed.payment_rate.unwrap_or(Decimal::ONE)
        };
        let mut payable = Decimal::ZERO;
        for detail in &mut details {
            let gross = detail
                .get("Amount")
                .and_then(decimal_of)
                .unwrap_or_default();
            let paid = cents(gross * payment_rate);
            detail.insert("PaymentAmount".into(), money(paid));
            payable += paid;
        }
        let mut liab = self.ledger_base(
            "AP",
            &posting.batch,
            period,
            posting.post_seq,
            &posting.post_date,
        );
        merge_patch(&mut liab, &common);
        merge_patch(
            &mut liab,
            &obj(
                json!({"Account": liability, "Amount": money(-total), "TransactionAmount": money(-total), "AutoEntry": "Y", "Invoice": ""}),
            ),
        );
        rows.push(liab);
        self.ledger.extend(rows);
        let invoice_date = seed.invoice_date.unwrap_or(trans_date);
        let master = obj(json!({
            "Batch": posting.batch, "MasterPKey": seed.voucher, "Vendor": seed.vendor, "VendorName": str_ci(&firm, "Name"),
            "Voucher": seed.voucher, "Invoice": seed.invoice, "InvoiceDate": vp_date(invoice_date),
            "TransDate": vp_date(trans_date), "PayDate": vp_date(seed.pay_date.unwrap_or(invoice_date + chrono::Duration::days(30))),
            "PayTerms": "30", "AmountPaid": 0, "PaidStatus": "N", "LiabCode": seed.liab_code, "BankCode": seed.bank_code, "Address": "<Default>",
            "CurrencyCode": currency, "PaymentCurrencyCode": payment_currency, "Posted": "Y", "Seq": 1, "Status": "A",
            "Period": period, "PostSeq": posting.post_seq, "Total": money(total),
        }));
        let control = Self::control_row(
            "AP",
            &posting.batch,
            &seed.invoice,
            total,
            &company,
            &posting,
            user,
        );
        self.batches.push(EntryBatch {
            tt: "ap".into(),
            batch: posting.batch.clone(),
            control,
            masters: vec![master],
            details,
            taxes,
            posted: true,
        });
        self.vouchers.insert(
            key,
            VoucherBalance {
                outstanding: payable,
            },
        );
        Ok(posting)
    }

    /// Posts an employee expense report.
    pub(crate) fn post_expense_report(
        &mut self,
        seed: &ExpenseReportSeed,
        user: &str,
        now: NaiveDateTime,
    ) -> Result<Posting, VpError> {
        let employee = self.employee(&seed.employee).cloned().ok_or_else(|| {
            VpError::field("Employee", format!("Invalid employee '{}'.", seed.employee))
        })?;
        if seed.voucher.trim().is_empty() {
            return Err(VpError::field("Voucher", "Voucher is required."));
        }
        if seed.lines.is_empty() {
            return Err(VpError::field(
                "lines",
                "An expense report needs at least one line.",
            ));
        }
        let key = (seed.employee.to_ascii_uppercase(), seed.voucher.clone());
        if self.expense_reports.contains_key(&key) {
            return Err(VpError::Conflict(format!(
                "Expense report {} already exists for {}.",
                seed.voucher, seed.employee
            )));
        }
        for line in &seed.lines {
            self.require_account("Account", &line.account)?;
        }
        let report_date = seed.report_date.unwrap_or_else(|| now.date());
        let period = seed
            .period
            .unwrap_or_else(|| self.period_for_date(report_date));
        let company = {
            let c = str_ci(&employee, "EmployeeCompany");
            if c.is_empty() {
                self.default_company()
            } else {
                c
            }
        };
        let currency = seed
            .currency
            .clone()
            .unwrap_or_else(|| self.functional_currency(&company));
        let posting = self.start_posting("EX", seed.batch.as_deref(), period, now)?;
        let name = format!(
            "{} {}",
            str_ci(&employee, "FirstName"),
            str_ci(&employee, "LastName")
        )
        .trim()
        .to_owned();
        let common = obj(json!({
            "Employee": seed.employee, "Voucher": seed.voucher, "RefNo": seed.voucher, "TransDate": vp_date(report_date),
            "Desc1": seed.report_name, "Org": str_ci(&employee, "Org"), "EmOrg": str_ci(&employee, "Org"),
            "TransactionCurrencyCode": currency,
        }));
        let (mut rows, details, taxes, total) =
            self.expense_lines("EX", &seed.lines, &posting, &common, Decimal::ONE)?;
        let liability = self.autopost(&company, "EmployeeExpenseLiability", "");
        let mut liab = self.ledger_base(
            "EX",
            &posting.batch,
            period,
            posting.post_seq,
            &posting.post_date,
        );
        merge_patch(&mut liab, &common);
        merge_patch(
            &mut liab,
            &obj(
                json!({"Account": liability, "Amount": money(-total), "TransactionAmount": money(-total), "AutoEntry": "Y"}),
            ),
        );
        rows.push(liab);
        self.ledger.extend(rows);
        let master = obj(json!({
            "Batch": posting.batch, "MasterPKey": seed.voucher, "Employee": seed.employee, "EmplName": name,
            "ReportDate": vp_date(report_date), "ReportName": seed.report_name, "Voucher": seed.voucher,
            "AdvanceAmount": 0, "TotalDue": money(total), "PaymentCurrencyCode": currency, "Status": "A",
            "PaidStatus": "N", "AmountPaid": 0, "Posted": "Y", "Period": period, "PostSeq": posting.post_seq,
        }));
        let control = Self::control_row(
            "EX",
            &posting.batch,
            &seed.report_name,
            total,
            &company,
            &posting,
            user,
        );
        self.batches.push(EntryBatch {
            tt: "ex".into(),
            batch: posting.batch.clone(),
            control,
            masters: vec![master],
            details,
            taxes,
            posted: true,
        });
        self.expense_reports.insert(
            key,
            ExpenseReportState {
                employee: seed.employee.clone(),
                voucher: seed.voucher.clone(),
                total,
                outstanding: total,
                paid: false,
            },
        );
        Ok(posting)
    }

    /// Posts a balanced journal entry.
    pub(crate) fn post_journal_entry(
        &mut self,
        seed: &JournalEntrySeed,
        user: &str,
        now: NaiveDateTime,
    ) -> Result<Posting, VpError> {
        let tt = seed
            .trans_type
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .unwrap_or("JE")
            .to_ascii_uppercase();
        if !["JE", "UN", "TS", "MI", "PR", "LA"].contains(&tt.as_str()) {
            return Err(VpError::field(
                "TransType",
                format!("{tt} cannot be posted as a journal."),
            ));
        }
        if seed.lines.len() < 2 {
            return Err(VpError::field(
                "lines",
                "A journal entry needs at least two lines.",
            ));
        }
        let debits: Decimal = seed.lines.iter().map(|l| l.debit).sum();
        let credits: Decimal = seed.lines.iter().map(|l| l.credit).sum();
        if debits != credits {
            return Err(VpError::field(
                "Total",
                format!(
                    "The journal entry is out of balance: debits {debits} do not equal credits {credits}."
                ),
            ));
        }
        for line in &seed.lines {
            self.require_account("Account", &line.account)?;
            if !line.wbs1.trim().is_empty() {
                self.require_project(&line.wbs1, &line.wbs2, &line.wbs3)?;
            }
        }
        let trans_date = seed.trans_date.unwrap_or_else(|| now.date());
        let period = seed
            .period
            .unwrap_or_else(|| self.period_for_date(trans_date));
        let company = self.default_company();
        let currency = seed
            .currency
            .clone()
            .unwrap_or_else(|| self.functional_currency(&company));
        let posting = self.start_posting(&tt, seed.batch.as_deref(), period, now)?;
        let mut details = Vec::new();
        for (i, line) in seed.lines.iter().enumerate() {
            let org = self
                .project(&line.wbs1, &line.wbs2, &line.wbs3)
                .map(|p| str_ci(p, "Org"))
                .unwrap_or_default();
            let mut row = self.ledger_base(
                &tt,
                &posting.batch,
                period,
                posting.post_seq,
                &posting.post_date,
            );
            let amount = line.debit - line.credit;
            merge_patch(
                &mut row,
                &obj(json!({
                    "WBS1": blank_wbs(&line.wbs1), "WBS2": blank_wbs(&line.wbs2), "WBS3": blank_wbs(&line.wbs3),
                    "Account": line.account, "Org": org, "RefNo": seed.ref_no, "TransDate": vp_date(trans_date),
                    "Desc1": seed.description, "Desc2": line.description, "Amount": money(amount),
                    "TransactionAmount": money(amount), "TransactionCurrencyCode": currency,
                })),
            );
            details.push(obj(json!({
                "Batch": posting.batch, "RefNo": seed.ref_no, "PKey": str_ci(&row, "PKey"), "Seq": i + 1,
                "Description": line.description, "WBS1": blank_wbs(&line.wbs1), "WBS2": blank_wbs(&line.wbs2),
                "WBS3": blank_wbs(&line.wbs3), "Account": line.account, "DebitAmount": money(line.debit),
                "CreditAmount": money(line.credit),
            })));
            self.ledger.push(row);
        }
        let master = obj(json!({
            "Batch": posting.batch, "RefNo": seed.ref_no, "TransDate": vp_date(trans_date), "Description": seed.description,
            "Type": "3", "Posted": "Y", "Seq": 1, "CurrencyCode": currency, "Status": "A",
        }));
        let mut control = Self::control_row(
            &tt,
            &posting.batch,
            &seed.description,
            debits,
            &company,
            &posting,
            user,
        );
        control.insert("CreditsTotal".into(), money(credits));
        self.batches.push(EntryBatch {
            tt: tt.to_ascii_lowercase(),
            batch: posting.batch.clone(),
            control,
            masters: vec![master],
            details,
            taxes: Vec::new(),
            posted: true,
        });
        Ok(posting)
    }

    /// Posts a Revenue Generation run (`PSALedger/RG`): no batch, one `Period + PostSeq`, per project the
    /// revenue credited and the unbilled-services account debited (a GL offset, `AutoEntry` Y).
    pub(crate) fn post_revenue_generation(
        &mut self,
        seed: &RevenueGenerationSeed,
        now: NaiveDateTime,
    ) -> Result<Posting, VpError> {
        if seed.lines.is_empty() {
            return Err(VpError::field(
                "lines",
                "Revenue generation needs at least one project.",
            ));
        }
        for line in &seed.lines {
            self.require_account("Account", &line.account)?;
            self.require_project(&line.wbs1, "", "")?;
        }
        let trans_date = seed.trans_date.unwrap_or_else(|| now.date());
        let period = seed
            .period
            .unwrap_or_else(|| self.period_for_date(trans_date));
        self.ensure_open(period)?;
        let company = self.default_company();
        let currency = seed
            .currency
            .clone()
            .unwrap_or_else(|| self.functional_currency(&company));
        let unbilled = self.autopost(&company, "UnbilledServices", "");
        self.require_account("UnbilledServices", &unbilled)?;
        let post_seq = self.next_post_seq(period);
        let post_date = vp_datetime(now);
        let date = vp_date(trans_date);
        for line in &seed.lines {
            let org = self
                .project(&line.wbs1, "", "")
                .map(|p| str_ci(p, "Org"))
                .unwrap_or_default();
            for (account, amount, auto) in [
                (line.account.clone(), -line.amount, "N"),
                (unbilled.clone(), line.amount, "Y"),
            ] {
                let mut row = self.ledger_base("RG", "", period, post_seq, &post_date);
                merge_patch(
                    &mut row,
                    &obj(json!({
                        "WBS1": blank_wbs(&line.wbs1), "Account": account, "Org": org, "TransDate": date,
                        "Desc1": "Revenue generation", "Desc2": format!("Revenue {}", line.wbs1),
                        "Amount": money(amount), "TransactionAmount": money(amount),
                        "TransactionCurrencyCode": currency, "AutoEntry": auto,
                    })),
                );
                self.ledger.push(row);
            }
        }
        Ok(Posting {
            batch: String::new(),
            period,
            post_seq,
            post_date,
        })
    }

    // ------------------------------------------------------------------ cash receipts (DataEntry)

    /// `POST /DataEntry/crControl`: validates and stores an unposted cash-receipt batch.
    pub(crate) fn create_cr_batch(
        &mut self,
        body: &Row,
        user: &str,
        today: NaiveDate,
    ) -> Result<Row, VpError> {
        let batch = str_ci(body, "Batch");
        if batch.is_empty() {
            return Err(VpError::field("Batch", "Batch is required."));
        }
        *self.raw_cr_creates.entry(batch.clone()).or_default() += 1;
        if self.config.enforce_column_lengths && batch.chars().count() > 32 {
            return Err(VpError::field(
                "Batch",
                "Batch exceeds the maximum length of 32.",
            ));
        }
        self.check_batch_free("cr", &batch)?;
        let period = match get_ci(body, "Period") {
            Some(v) if !text_of(v).trim().is_empty() => {
                let p = int_of(v)
                    .ok_or_else(|| VpError::field("Period", "Period must be a number (YYYYPP)."))?;
                i32::try_from(p)
                    .map_err(|_| VpError::field("Period", "Period must be a number (YYYYPP)."))?
            }
            _ => self.active_period(user, today),
        };
        self.ensure_open(period)?;
        let company = {
            let c = str_ci(body, "Company");
            if c.is_empty() {
                self.user_company(user)
            } else {
                c
            }
        };
        if !self.companies.is_empty()
            && !self
                .companies
                .iter()
                .any(|c| str_ci(c, "Company").eq_ignore_ascii_case(&company))
        {
            return Err(VpError::field(
                "Company",
                format!("Invalid company '{company}'."),
            ));
        }
        let total = match get_ci(body, "Total") {
            None | Some(Value::Null) => return Err(VpError::field("Total", "Total is required.")),
            Some(v) => {
                decimal_of(v).ok_or_else(|| VpError::field("Total", "Total must be a number."))?
            }
        };
        let default_bank = str_ci(body, "DefaultBank");
        if !default_bank.is_empty() && self.bank(&default_bank).is_none() {
            return Err(VpError::field(
                "DefaultBank",
                format!("Invalid bank code '{default_bank}'."),
            ));
        }
        let description = str_ci(body, "Description");
        if self.config.enforce_column_lengths && description.chars().count() > 40 {
            return Err(VpError::field(
                "Description",
                "String or binary data would be truncated. (Description, max 40)",
            ));
        }
        let refno_length = usize::try_from(
            self.key_format
                .get("RefnoLength")
                .and_then(int_of)
                .unwrap_or(12),
        )
        .unwrap_or(12);
        let masters_in = rows_of(body, "crMaster");
        let details_in = rows_of(body, "crDetail");
        if masters_in.is_empty() {
            return Err(VpError::field(
                "crMaster",
                "At least one cash receipt (crMaster) is required.",
            ));
        }
        let mut masters = Vec::new();
        for (i, m) in masters_in.iter().enumerate() {
            let ref_no = str_ci(m, "RefNo");
            if ref_no.is_empty() {
                return Err(VpError::field(
                    "RefNo",
                    "RefNo is required on every crMaster.",
                ));
            }
            if self.config.enforce_column_lengths && ref_no.chars().count() > refno_length {
                return Err(VpError::field(
                    "RefNo",
                    format!(
                        "String or binary data would be truncated. (RefNo '{ref_no}', max {refno_length})"
                    ),
                ));
            }
            if masters
                .iter()
                .any(|x: &Row| str_ci(x, "RefNo").eq_ignore_ascii_case(&ref_no))
            {
                return Err(VpError::field(
                    "RefNo",
                    format!("RefNo '{ref_no}' appears twice in the batch."),
                ));
            }
            let date = str_ci(m, "TransDate");
            if parse_vp_datetime(&date).is_none() {
                return Err(VpError::field(
                    "TransDate",
                    format!("TransDate is required on crMaster '{ref_no}'."),
                ));
            }
            let bank = {
                let b = str_ci(m, "BankCode");
                if b.is_empty() {
                    default_bank.clone()
                } else {
                    b
                }
            };
            if bank.is_empty() {
                return Err(VpError::field(
                    "BankCode",
                    format!("BankCode is required on crMaster '{ref_no}'."),
                ));
            }
            let bank_row = self.bank(&bank).ok_or_else(|| {
                VpError::field("BankCode", format!("Invalid bank code '{bank}'."))
            })?;
            let bank_currency = str_ci(bank_row, "CurrencyCode");
            let currency = {
                let c = str_ci(m, "CurrencyCode");
                if c.is_empty() {
                    bank_currency.clone()
                } else {
                    c
                }
            };
            // A receipt is recorded in its bank's currency; overriding it is the documented mismatch.
            if !bank_currency.is_empty() && !currency.eq_ignore_ascii_case(&bank_currency) {
                return Err(VpError::field(
                    "CurrencyCode",
                    format!(
                        "Currency {currency} of receipt '{ref_no}' does not match the currency {bank_currency} of bank {bank}."
                    ),
                ));
            }
            let mut row = obj(json!({
                "Batch": batch, "RefNo": ref_no, "Posted": "N", "Seq": i + 1, "CurrencyCode": currency,
                "CurrencyExchangeOverrideMethod": "N", "CurrencyExchangeOverrideRate": 0, "Status": "N",
                "StatusDescription": "In Progress", "TransComment": "", "AuthorizedBy": "", "RejectReason": "",
            }));
            merge_patch(&mut row, m);
            merge_patch(
                &mut row,
                &obj(json!({"Batch": batch, "BankCode": bank, "TransDate": date})),
            );
            masters.push(row);
        }
        let mut details = Vec::new();
        let mut sum = Decimal::ZERO;
        for (i, d) in details_in.iter().enumerate() {
            let ref_no = str_ci(d, "RefNo");
            if !masters
                .iter()
                .any(|m| str_ci(m, "RefNo").eq_ignore_ascii_case(&ref_no))
            {
                return Err(VpError::field(
                    "RefNo",
                    format!(
                        "crDetail line {} refers to unknown RefNo '{ref_no}'.",
                        i + 1
                    ),
                ));
            }
            let account = str_ci(d, "Account");
            self.require_account("Account", &account)?;
            let amount = get_ci(d, "Amount").and_then(decimal_of).ok_or_else(|| {
                VpError::field(
                    "Amount",
                    format!("Amount is required on crDetail line {}.", i + 1),
                )
            })?;
            let (w1, w2, w3) = (str_ci(d, "WBS1"), str_ci(d, "WBS2"), str_ci(d, "WBS3"));
            if !w1.is_empty() {
                self.require_project(&w1, &w2, &w3)?;
            }
            let invoice = str_ci(d, "Invoice");
            if !invoice.is_empty()
                && !self.ledger.iter().any(|r| {
                    str_ci(r, "TransType") == "IN"
                        && str_ci(r, "Invoice") == invoice
                        && (w1.is_empty() || str_ci(r, "WBS1").eq_ignore_ascii_case(&w1))
                })
            {
                return Err(VpError::field(
                    "Invoice",
                    format!("Invoice {invoice} has not been posted for project '{w1}'."),
                ));
            }
            let pkey = {
                let p = str_ci(d, "PKey");
                if p.is_empty() { self.new_key() } else { p }
            };
            let mut row = obj(json!({
                "Batch": batch, "Seq": i + 1, "Description": "", "WBS1": " ", "WBS2": " ", "WBS3": " ",
                "Interest": "N", "TaxCode": "", "TaxBasis": 0, "Retainer": "N", "Invoice": "",
            }));
            merge_patch(&mut row, d);
            merge_patch(
                &mut row,
                &obj(json!({"Batch": batch, "PKey": pkey, "Amount": money(amount)})),
            );
            sum += amount;
            details.push(row);
        }
        if details.is_empty() {
            return Err(VpError::field(
                "crDetail",
                "At least one crDetail line is required.",
            ));
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
        let bank_row = self
            .bank(&str_ci(&masters[0], "BankCode"))
            .cloned()
            .unwrap_or_default();
        let mut control = obj(json!({
            "Batch": batch, "Description": "", "Recurring": "N", "EndDate": "", "Selected": "N", "Creator": user,
        }));
        let mut body_control = body.clone();
        body_control.retain(|k, _| {
            !k.eq_ignore_ascii_case("crMaster") && !k.eq_ignore_ascii_case("crDetail")
        });
        merge_patch(&mut control, &body_control);
        merge_patch(
            &mut control,
            &obj(json!({
                "Batch": batch, "Period": period, "Company": company, "Total": money(total), "SumTotal": money(sum),
                "DiffTotal": money(total - sum), "Posted": "N", "DefaultBank": if default_bank.is_empty() { str_ci(&bank_row, "Code") } else { default_bank },
                "DefaultBankDescription": str_ci(&bank_row, "Description"), "BankCurrencyCode": str_ci(&bank_row, "CurrencyCode"),
                "TransType": "CR", "PostSeq": 0, "PostDate": "", "PostUser": "",
            })),
        );
        self.batches.push(EntryBatch {
            tt: "cr".into(),
            batch: batch.clone(),
            control,
            masters,
            details,
            taxes: Vec::new(),
            posted: false,
        });
        Ok(self.batch_with_children("cr", &batch).unwrap_or_default())
    }

    /// Control row with its masters and details nested, as VP echoes a created batch.
    pub(crate) fn batch_with_children(&self, tt: &str, batch: &str) -> Option<Row> {
        let b = self
            .batches
            .iter()
            .find(|b| b.tt == tt && b.batch.eq_ignore_ascii_case(batch))?;
        let mut row = b.control.clone();
        row.insert(
            format!("{tt}Master"),
            Value::Array(b.masters.iter().cloned().map(Value::Object).collect()),
        );
        row.insert(
            format!("{tt}Detail"),
            Value::Array(b.details.iter().cloned().map(Value::Object).collect()),
        );
        Some(row)
    }

    /// Deletes an unposted batch (`DELETE /DataEntry/{tt}Control/{Batch}`).
    pub(crate) fn delete_batch(&mut self, tt: &str, batch: &str) -> Result<(), VpError> {
        let index = self
            .batches
            .iter()
            .position(|b| b.tt == tt && b.batch.eq_ignore_ascii_case(batch))
            .ok_or_else(VpError::records_not_found)?;
        if self.batches[index].posted {
            return Err(VpError::bad_request(format!(
                "Batch '{batch}' has been posted and cannot be deleted."
            )));
        }
        self.batches.remove(index);
        Ok(())
    }

    /// `PUT /DataEntry/PostTransFile` for one batch.
    pub(crate) fn post_batch(
        &mut self,
        tt: &str,
        batch: &str,
        period: Option<i32>,
        user: &str,
        now: NaiveDateTime,
    ) -> PostOutcome {
        let tt_l = tt.to_ascii_lowercase();
        let fail = |msg: String, period: i32| PostOutcome {
            tt: tt.to_ascii_uppercase(),
            batch: batch.to_owned(),
            ok: false,
            period,
            post_seq: 0,
            msg,
        };
        if tt_l == "pp" || tt_l == "ep" {
            // Payments posted through /ledger/PP|EP are posted at once; a later PostTransFile is accepted.
            let kind = if tt_l == "pp" {
                PaymentKind::Vendor
            } else {
                PaymentKind::Employee
            };
            return match self.payments.iter().rev().find(|p| {
                p.kind == kind
                    && (p.batch.eq_ignore_ascii_case(batch)
                        || p.check_no.eq_ignore_ascii_case(batch)
                        || batch.is_empty())
            }) {
                Some(p) => PostOutcome {
                    tt: tt.to_ascii_uppercase(),
                    batch: batch.to_owned(),
                    ok: true,
                    period: p.period,
                    post_seq: p.post_seq,
                    msg: format!(
                        "Payment file {} was already posted; Posting sequence {}",
                        p.batch, p.post_seq
                    ),
                },
                None => fail(
                    format!(
                        "No {} payment file '{batch}' to post.",
                        tt.to_ascii_uppercase()
                    ),
                    period.unwrap_or(0),
                ),
            };
        }
        let Some(index) = self
            .batches
            .iter()
            .position(|b| b.tt == tt_l && b.batch.eq_ignore_ascii_case(batch))
        else {
            return fail(
                format!("File {batch} ({}) was not found.", tt.to_ascii_uppercase()),
                period.unwrap_or(0),
            );
        };
        let control_period = self.batches[index]
            .control
            .get("Period")
            .and_then(int_of)
            .and_then(|p| i32::try_from(p).ok());
        let period = period
            .or(control_period)
            .unwrap_or_else(|| self.active_period(user, now.date()));
        if self.batches[index].posted {
            return fail(format!("File {batch} has already been posted."), period);
        }
        if let Err(e) = self.ensure_open(period) {
            return fail(e.to_string(), period);
        }
        match self.post_entry_batch(index, period, user, now) {
            Ok((post_seq, msg)) => PostOutcome {
                tt: tt.to_ascii_uppercase(),
                batch: self.batches[index].batch.clone(),
                ok: true,
                period,
                post_seq,
                msg,
            },
            Err(reason) => fail(reason, period),
        }
    }

    pub(crate) fn cash_receipts(&self) -> Vec<CashReceiptRecord> {
        self.batches
            .iter()
            .filter(|b| b.tt == "cr")
            .map(|b| CashReceiptRecord {
                batch: b.batch.clone(),
                company: str_ci(&b.control, "Company"),
                bank_code: b
                    .masters
                    .first()
                    .map(|m| str_ci(m, "BankCode"))
                    .unwrap_or_default(),
                currency: b
                    .masters
                    .first()
                    .map(|m| str_ci(m, "CurrencyCode"))
                    .unwrap_or_default(),
                total: b
                    .control
                    .get("Total")
                    .and_then(decimal_of)
                    .unwrap_or_default(),
                posted: b.posted,
                period: b
                    .control
                    .get("Period")
                    .and_then(int_of)
                    .and_then(|p| i32::try_from(p).ok()),
                post_seq: b
                    .control
                    .get("PostSeq")
                    .and_then(int_of)
                    .and_then(|p| u32::try_from(p).ok())
                    .filter(|p| *p > 0),
                lines: b
                    .details
                    .iter()
                    .map(|d| CashReceiptLine {
                        ref_no: str_ci(d, "RefNo"),
                        invoice: str_ci(d, "Invoice"),
                        wbs1: str_ci(d, "WBS1"),
                        account: str_ci(d, "Account"),
                        amount: d.get("Amount").and_then(decimal_of).unwrap_or_default(),
                    })
                    .collect(),
            })
            .collect()
    }

    // ------------------------------------------------------------------ payments (ledger/PP, ledger/EP)

    fn payment_header(
        &self,
        body: &Row,
        user: &str,
        today: NaiveDate,
    ) -> Result<(i32, String, String), VpError> {
        let period = match get_ci(body, "Period").and_then(int_of) {
            Some(p) => {
                i32::try_from(p).map_err(|_| VpError::field("Period", "Period must be YYYYPP."))?
            }
            None => self.active_period(user, today),
        };
        self.ensure_open(period)?;
        let check_date = {
            let c = str_ci(body, "CheckDate");
            if c.is_empty() {
                str_ci(body, "PaymentDate")
            } else {
                c
            }
        };
        let check_date = parse_vp_datetime(&check_date)
            .map(vp_datetime)
            .unwrap_or_else(|| vp_date(today));
        let company = {
            let c = str_ci(body, "Company");
            if c.is_empty() {
                self.user_company(user)
            } else {
                c
            }
        };
        Ok((period, check_date, company))
    }

    /// A caller-chosen payment `Batch` (e.g. the accounting system's payment id), unique among payments.
    fn payment_batch(&self, body: &Row) -> Result<Option<String>, VpError> {
        let batch = str_ci(body, "Batch");
        if batch.is_empty() {
            return Ok(None);
        }
        if self.config.enforce_column_lengths && batch.chars().count() > 32 {
            return Err(VpError::field(
                "Batch",
                "Batch exceeds the maximum length of 32.",
            ));
        }
        if self
            .payments
            .iter()
            .any(|p| p.batch.eq_ignore_ascii_case(&batch))
        {
            return Err(VpError::Conflict(format!(
                "Batch '{batch}' already exists."
            )));
        }
        Ok(Some(batch))
    }

    /// `POST /ledger/PP`: pays voucher lines and posts at once.
    pub(crate) fn post_vendor_payment(
        &mut self,
        body: &Row,
        user: &str,
        now: NaiveDateTime,
    ) -> Result<Row, VpError> {
        let (period, check_date, company) = self.payment_header(body, user, now.date())?;
        let checks = rows_of(body, "APPPCHECKS");
        if checks.is_empty() {
            return Err(VpError::field(
                "APPPCHECKS",
                "At least one APPPCHECKS row is required.",
            ));
        }
        let mut per_voucher: BTreeMap<(String, String), Decimal> = BTreeMap::new();
        let mut lines = Vec::new();
        for (i, c) in checks.iter().enumerate() {
            let vendor = str_ci(c, "Vendor");
            let voucher = str_ci(c, "Voucher");
            if self.firm_by_vendor(&vendor).is_none() {
                return Err(VpError::field(
                    "Vendor",
                    format!("Invalid vendor '{vendor}' on APPPCHECKS row {}.", i + 1),
                ));
            }
            if voucher.is_empty() {
                return Err(VpError::field(
                    "Voucher",
                    format!("Voucher is required on APPPCHECKS row {}.", i + 1),
                ));
            }
            let key = (vendor.to_ascii_uppercase(), voucher.clone());
            if !self.vouchers.contains_key(&key) {
                return Err(VpError::field(
                    "Voucher",
                    format!("Voucher {voucher} of vendor {vendor} was not found."),
                ));
            }
            let bank = str_ci(c, "BankCode");
            if self.bank(&bank).is_none() {
                return Err(VpError::field(
                    "BankCode",
                    format!("Invalid bank code '{bank}'."),
                ));
            }
            let amount = get_ci(c, "Payment")
                .and_then(decimal_of)
                .or_else(|| get_ci(c, "Amount").and_then(decimal_of))
                .ok_or_else(|| {
                    VpError::field(
                        "Payment",
                        format!("Payment is required on APPPCHECKS row {}.", i + 1),
                    )
                })?;
            if amount <= Decimal::ZERO {
                return Err(VpError::field(
                    "Payment",
                    "Payment must be greater than zero.",
                ));
            }
            *per_voucher.entry(key).or_default() += amount;
            lines.push((c.clone(), vendor, voucher, bank, amount));
        }
        for (key, paid) in &per_voucher {
            let outstanding = self
                .vouchers
                .get(key)
                .map(|v| v.outstanding)
                .unwrap_or_default();
            if *paid > outstanding {
                return Err(VpError::field(
                    "Payment",
                    format!(
                        "Payment {paid} exceeds the open balance {outstanding} of voucher {} (vendor {}).",
                        key.1, key.0
                    ),
                ));
            }
        }
        let given_batch = self.payment_batch(body)?;
        let post_seq = self.next_post_seq(period);
        let post_date = vp_datetime(now);
        let batch = given_batch.unwrap_or_else(|| format!("PP{period}{post_seq:04}"));
        let check_no = lines
            .first()
            .map(|l| str_ci(&l.0, "CheckNo"))
            .unwrap_or_default();
        let bank_code = lines.first().map(|l| l.3.clone()).unwrap_or_default();
        let mut rows = Vec::new();
        let mut echoed = Vec::new();
        let mut total = Decimal::ZERO;
        let mut record_lines = Vec::new();
        for (i, (c, vendor, voucher, bank, amount)) in lines.into_iter().enumerate() {
            let liability = self.autopost(&company, "APLiability", "");
            let mut row = self.ledger_base("PP", &batch, period, post_seq, &post_date);
            merge_patch(
                &mut row,
                &obj(json!({
                    "WBS1": blank_wbs(&str_ci(&c, "WBS1")), "WBS2": blank_wbs(&str_ci(&c, "WBS2")), "WBS3": blank_wbs(&str_ci(&c, "WBS3")),
                    "Account": liability, "Org": str_ci(&c, "Org"), "SubType": "A", "RefNo": str_ci(&c, "CheckNo"),
                    "TransDate": check_date, "Desc1": str_ci(&c, "Invoice"), "Amount": money(amount),
                    "TransactionAmount": money(amount), "BankCode": bank, "Invoice": str_ci(&c, "Invoice"),
                    "Vendor": vendor, "Voucher": voucher, "Line": i + 1,
                    "Discount": money(get_ci(&c, "Discount").and_then(decimal_of).unwrap_or_default()),
                })),
            );
            rows.push(row);
            let mut bank_row = self.ledger_base("PP", &batch, period, post_seq, &post_date);
            let bank_account = self
                .bank(&bank)
                .map(|b| str_ci(b, "Account"))
                .unwrap_or_default();
            merge_patch(
                &mut bank_row,
                &obj(json!({
                    "Account": bank_account, "RefNo": str_ci(&c, "CheckNo"), "TransDate": check_date,
                    "Amount": money(-amount), "TransactionAmount": money(-amount), "BankCode": bank, "Vendor": vendor,
                    "Voucher": voucher, "AutoEntry": "Y",
                })),
            );
            rows.push(bank_row);
            if let Some(v) = self
                .vouchers
                .get_mut(&(vendor.to_ascii_uppercase(), voucher.clone()))
            {
                v.outstanding -= amount;
            }
            let fully_paid = self
                .vouchers
                .get(&(vendor.to_ascii_uppercase(), voucher.clone()))
                .is_some_and(|v| v.outstanding <= Decimal::ZERO);
            self.record_master_payment(
                "ap",
                "Vendor",
                &vendor,
                &voucher,
                amount,
                fully_paid,
                (period, post_seq),
            );
            total += amount;
            let mut e = c.clone();
            merge_patch(
                &mut e,
                &obj(json!({"Period": period, "PostSeq": post_seq, "Payment": money(amount)})),
            );
            echoed.push(Value::Object(e));
            record_lines.push(PaymentLine {
                payee: vendor,
                voucher,
                amount,
            });
        }
        self.ledger.extend(rows);
        self.payments.push(PaymentRecord {
            kind: PaymentKind::Vendor,
            batch: batch.clone(),
            period,
            post_seq,
            check_no,
            bank_code,
            total,
            lines: record_lines,
        });
        let mut out = body.clone();
        out.remove("APPPCHECKS");
        merge_patch(
            &mut out,
            &obj(
                json!({"TransType": "PP", "Batch": batch, "Period": period, "PostSeq": post_seq, "Completed": "Y", "PostDate": post_date, "Company": company}),
            ),
        );
        out.insert("APPPCHECKS".into(), Value::Array(echoed));
        Ok(out)
    }

    /// `POST /ledger/EP`: pays expense reports and posts at once; a fully paid report gets its paid status.
    pub(crate) fn post_employee_payment(
        &mut self,
        body: &Row,
        user: &str,
        now: NaiveDateTime,
    ) -> Result<Row, VpError> {
        let (period, check_date, company) = self.payment_header(body, user, now.date())?;
        let checks = rows_of(body, "EXCHECKS");
        if checks.is_empty() {
            return Err(VpError::field(
                "EXCHECKS",
                "At least one EXCHECKS row is required.",
            ));
        }
        let mut per_report: BTreeMap<(String, String), Decimal> = BTreeMap::new();
        let mut lines = Vec::new();
        for (i, c) in checks.iter().enumerate() {
            let employee = str_ci(c, "Employee");
            let voucher = str_ci(c, "Voucher");
            if self.employee(&employee).is_none() {
                return Err(VpError::field(
                    "Employee",
                    format!("Invalid employee '{employee}' on EXCHECKS row {}.", i + 1),
                ));
            }
            let key = (employee.to_ascii_uppercase(), voucher.clone());
            if !self.expense_reports.contains_key(&key) {
                return Err(VpError::field(
                    "Voucher",
                    format!("Expense report {voucher} of employee {employee} was not found."),
                ));
            }
            let bank = str_ci(c, "BankCode");
            if self.bank(&bank).is_none() {
                return Err(VpError::field(
                    "BankCode",
                    format!("Invalid bank code '{bank}'."),
                ));
            }
            let amount = get_ci(c, "Amount").and_then(decimal_of).ok_or_else(|| {
                VpError::field(
                    "Amount",
                    format!("Amount is required on EXCHECKS row {}.", i + 1),
                )
            })?;
            if amount <= Decimal::ZERO {
                return Err(VpError::field(
                    "Amount",
                    "Amount must be greater than zero.",
                ));
            }
            *per_report.entry(key).or_default() += amount;
            lines.push((c.clone(), employee, voucher, bank, amount));
        }
        for (key, paid) in &per_report {
            let outstanding = self
                .expense_reports
                .get(key)
                .map(|v| v.outstanding)
                .unwrap_or_default();
            if *paid > outstanding {
                return Err(VpError::field(
                    "Amount",
                    format!(
                        "Payment {paid} exceeds the open balance {outstanding} of expense report {} ({}).",
                        key.1, key.0
                    ),
                ));
            }
        }
        let given_batch = self.payment_batch(body)?;
        let post_seq = self.next_post_seq(period);
        let post_date = vp_datetime(now);
        let batch = given_batch.unwrap_or_else(|| format!("EP{period}{post_seq:04}"));
        let check_no = lines
            .first()
            .map(|l| str_ci(&l.0, "CheckNo"))
            .unwrap_or_default();
        let bank_code = lines.first().map(|l| l.3.clone()).unwrap_or_default();
        let mut rows = Vec::new();
        let mut echoed = Vec::new();
        let mut total = Decimal::ZERO;
        let mut record_lines = Vec::new();
        for (c, employee, voucher, bank, amount) in lines {
            let liability = self.autopost(&company, "EmployeeExpenseLiability", "");
            let mut row = self.ledger_base("EP", &batch, period, post_seq, &post_date);
            merge_patch(
                &mut row,
                &obj(json!({
                    "Account": liability, "Org": str_ci(&c, "Org"), "SubType": "A", "RefNo": str_ci(&c, "CheckNo"),
                    "TransDate": check_date, "Amount": money(amount), "TransactionAmount": money(amount), "BankCode": bank,
                    "Employee": employee, "Voucher": voucher, "EmOrg": str_ci(&c, "Org"),
                })),
            );
            rows.push(row);
            let bank_account = self
                .bank(&bank)
                .map(|b| str_ci(b, "Account"))
                .unwrap_or_default();
            let mut bank_row = self.ledger_base("EP", &batch, period, post_seq, &post_date);
            merge_patch(
                &mut bank_row,
                &obj(json!({
                    "Account": bank_account, "RefNo": str_ci(&c, "CheckNo"), "TransDate": check_date, "Amount": money(-amount),
                    "TransactionAmount": money(-amount), "BankCode": bank, "Employee": employee, "Voucher": voucher, "AutoEntry": "Y",
                })),
            );
            rows.push(bank_row);
            let key = (employee.to_ascii_uppercase(), voucher.clone());
            let mut fully_paid = false;
            if let Some(r) = self.expense_reports.get_mut(&key) {
                r.outstanding -= amount;
                r.paid = r.outstanding <= Decimal::ZERO;
                fully_paid = r.paid;
            }
            self.record_master_payment(
                "ex",
                "Employee",
                &employee,
                &voucher,
                amount,
                fully_paid,
                (period, post_seq),
            );
            total += amount;
            let mut e = c.clone();
            merge_patch(&mut e, &obj(json!({"Period": period, "PostSeq": post_seq})));
            echoed.push(Value::Object(e));
            record_lines.push(PaymentLine {
                payee: employee,
                voucher,
                amount,
            });
        }
        self.ledger.extend(rows);
        self.payments.push(PaymentRecord {
            kind: PaymentKind::Employee,
            batch: batch.clone(),
            period,
            post_seq,
            check_no,
            bank_code,
            total,
            lines: record_lines,
        });
        let mut out = body.clone();
        out.remove("EXCHECKS");
        merge_patch(
            &mut out,
            &obj(
                json!({"TransType": "EP", "Batch": batch, "Period": period, "PostSeq": post_seq, "Completed": "Y", "PostDate": post_date, "Company": company}),
            ),
        );
        out.insert("EXCHECKS".into(), Value::Array(echoed));
        Ok(out)
    }

    /// Keeps `AmountPaid` / `PaidStatus` of the voucher's or expense report's DataEntry master current.
    #[allow(clippy::too_many_arguments)]
    fn record_master_payment(
        &mut self,
        tt: &str,
        payee_column: &str,
        payee: &str,
        voucher: &str,
        amount: Decimal,
        fully_paid: bool,
        (period, post_seq): (i32, u32),
    ) {
        for b in self.batches.iter_mut().filter(|b| b.tt == tt) {
            for m in b.masters.iter_mut().filter(|m| {
                str_ci(m, payee_column).eq_ignore_ascii_case(payee)
                    && str_ci(m, "Voucher") == voucher
            }) {
                let paid = m.get("AmountPaid").and_then(decimal_of).unwrap_or_default() + amount;
                merge_patch(
                    m,
                    &obj(
                        json!({"AmountPaid": money(paid), "PaidPeriod": period, "PaidPostSeq": post_seq}),
                    ),
                );
                if fully_paid {
                    merge_patch(m, &obj(json!({"PaidStatus": "Y", "Status": "P"})));
                }
            }
        }
    }

    // ------------------------------------------------------------------ reads

    /// `GET /ARReview/ARBalance`: one row per posted invoice with what is still open.
    pub(crate) fn ar_balances(&self) -> Vec<Row> {
        let mut out = Vec::new();
        let receipts = |invoice: &str| -> Decimal {
            self.batches
                .iter()
                .filter(|b| b.tt == "cr" && b.posted)
                .flat_map(|b| b.details.iter())
                .filter(|d| str_ci(d, "Invoice") == invoice)
                .filter_map(|d| d.get("Amount").and_then(decimal_of))
                .sum()
        };
        // Only posted invoices are receivable; an invoice still in DataEntry is not.
        for b in self.batches.iter().filter(|b| b.tt == "in" && b.posted) {
            for m in &b.masters {
                let invoice = str_ci(m, "Invoice");
                // Kept in the billing currency (receipts are recorded in it).
                let original: Decimal = b
                    .details
                    .iter()
                    .filter(|d| str_ci(d, "Invoice") == invoice)
                    .filter_map(|d| {
                        d.get("AmountBillingCurrency")
                            .or_else(|| d.get("Amount"))
                            .and_then(decimal_of)
                    })
                    .sum();
                let credited: Decimal = self
                    .batches
                    .iter()
                    .filter(|x| x.tt == "in" && x.posted)
                    .flat_map(|x| x.masters.iter().map(move |mm| (x, mm)))
                    .filter(|(_, mm)| str_ci(mm, "CreditMemoRefNo") == invoice)
                    .map(|(_, mm)| mm.get("Total").and_then(decimal_of).unwrap_or_default())
                    .sum();
                let balance = original + credited - receipts(&invoice);
                let company = str_ci(&b.control, "Company");
                let balance_currency = match str_ci(m, "BillingCurrencyCode") {
                    c if c.is_empty() => str_ci(m, "CurrencyCode"),
                    c => c,
                };
                out.push(obj(json!({
                    "WBS1": str_ci(m, "WBS1"), "Company": company, "Invoice": invoice, "InvoiceDate": str_ci(m, "TransDate"),
                    "CreditMemoRefNo": str_ci(m, "CreditMemoRefNo"), "Balance": money(balance), "OriginalAmt": money(original),
                    "BillingClientID": str_ci(m, "BillingClientID"), "BillingClient": str_ci(m, "ClientName"),
                    "Period": b.control.get("Period").cloned().unwrap_or(Value::Null),
                    "PostSeq": b.control.get("PostSeq").cloned().unwrap_or(Value::Null),
                    "CurrencyCode": balance_currency,
                })));
            }
        }
        out
    }

    /// Landing rows (`{tt}Landing`, `allLanding`).
    pub(crate) fn landing(&self, tt: Option<&str>) -> Vec<Row> {
        self.batches
            .iter()
            .filter(|b| tt.is_none_or(|t| t.eq_ignore_ascii_case(&b.tt)))
            .map(|b| {
                let c = &b.control;
                let period = c.get("Period").and_then(int_of).unwrap_or(0);
                obj(json!({
                    "TransType": b.tt.to_ascii_uppercase(), "TransTypeDesc": tt_description(&b.tt), "Batch": b.batch,
                    "Company": str_ci(c, "Company"), "Period": fmt_period(i32::try_from(period).unwrap_or(0)), "RawPeriod": period,
                    "TransDate": b.masters.first().map(|m| str_ci(m, "TransDate")).unwrap_or_default(),
                    "RefNo": b.masters.first().map(|m| str_ci(m, "RefNo")).unwrap_or_default(), "Creator": str_ci(c, "Creator"),
                    "Description": str_ci(c, "Description"), "EndDate": str_ci(c, "EndDate"),
                    "Total": c.get("Total").cloned().unwrap_or(Value::from(0)), "CurrencyCode": b.masters.first().map(|m| str_ci(m, "CurrencyCode")).unwrap_or_default(),
                    "ApprovalStatus": "A", "ApprovalStatusDesc": "Approved", "PostStatus": if b.posted { "P" } else { "N" },
                    "PostStatusDesc": if b.posted { "Posted" } else { "Not Posted" }, "PostComment": "",
                    "PostDate": str_ci(c, "PostDate"), "PostUser": str_ci(c, "PostUser"),
                    "PostSeq": c.get("PostSeq").cloned().unwrap_or(Value::from(0)), "Posted": yn(b.posted),
                    "AutoPost": "N", "Recurring": "N", "Reverse": "N", "Reversed": "N",
                }))
            })
            .collect()
    }
}

fn tt_description(tt: &str) -> &'static str {
    match tt {
        "cr" => "Cash Receipts",
        "in" => "Invoices",
        "ap" => "AP Vouchers",
        "cv" => "AP Disbursements",
        "ex" => "Employee Expenses",
        "je" => "Journal Entries",
        "un" => "Units",
        "ts" => "Timesheets",
        "mi" => "Miscellaneous Expenses",
        "pr" => "Prints and Reproductions",
        "la" => "Labor Adjustments",
        _ => "Transactions",
    }
}

/// Nested child rows of a body (`crMaster: [...]`), keys case-insensitive.
pub(crate) fn rows_of(body: &Row, key: &str) -> Vec<Row> {
    match get_ci(body, key) {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_object().cloned())
            .collect(),
        Some(Value::Object(o)) => vec![o.clone()],
        _ => Vec::new(),
    }
}
