//! Deltek Vantagepoint emulator (see `shared/reference/vantagepoint-api.md`, section 10 checklist).
//!
//! One [`VantagepointEmulator`] is one VP database: it serves `{instance}/api/...` and the second service root
//! `{instance}/vision/...` (where the accounting-configuration endpoints live), answers bare JSON arrays with
//! Y/N flags and VP-style dates, enforces the tenant rules clients trip over (closed periods, out-of-balance
//! batches, autonumbering, required blank account columns, address edits configurable), posts into a ledger with
//! `Period`/`PostSeq`, and delivers workflow webhooks. Tests drive it in-process; the local stack runs the
//! `vantagepoint-emulator` binary, whose `/__emulator/...` admin endpoints expose the same seed/inspect methods.
//!
//! Module map: [`config`] (tenant settings and quirks), [`model`] (value conventions, seed and inspection
//! types), `db` (records and business rules), `query` (list parameters and `filterHash`), `api` and `auth`
//! (the REST surface), `workflow` (webhooks), `admin` (the `/__emulator` surface), [`demo`] (deterministic
//! demo data).
//!
//! Choices where the reference is unconfirmed ([I]), so clients know what they are tested against:
//! - REST errors are `{"Message": "..."}` with 400 (validation, conflict, closed period), 404, 401 or 500;
//!   `/token` errors are OAuth-style `{"error","error_description"}`.
//! - Column names: "Available To: Accounting Users" is `AvailableToAccountingUsers`, the multi-company flag
//!   `ReadyForProcessingCompany`, billing groups are `MainWBS1` + `ConsolidatePosting` on the project, paid
//!   state of vouchers/expense reports is `AmountPaid` + `PaidStatus` on their DataEntry master.
//! - Posted rows: `Amount` is the functional GL amount (debit +, credit −, so invoice revenue is negative),
//!   `TransactionAmount` the same in the document currency; GL offsets (AR, liabilities, bank) are
//!   `AutoEntry = 'Y'` rows with a blank `Invoice`. DataEntry rows keep the natural sign.
//! - `PostTransFile` answers a JSON string containing valid JSON; `retList` is `1`/`0` per batch; a failed batch
//!   (unknown, already posted, closed period) is a `0` with the reason in `msg`, not an HTTP error.
//! - `/ledger/PP|EP` post at once; a later `PostTransFile` with `transtype PP|EP` answers `1` without posting
//!   again (the reference's two Unionpoint ports disagree on whether it is needed; both work). An optional `Batch` on the body is kept (and must be unique); `CheckNo` is not unique (as in VP).
//! - The authorization-code flow's login page is `{instance}/api/authorize`.
//! - Webhook Security (Secret + Public Key) is undocumented: deliveries carry `X-VP-Signature: sha256=<hex
//!   HMAC-SHA256 of the body with the Secret>` and `X-VP-Public-Key`, or nothing (`WebhookSigning::Unsigned`).
//!
//! ## Reference checklist (§10) — status and tests (`shared/emulators/tests/vantagepoint/…`)
//!
//! | §10 item | Status | Tests |
//! |---|---|---|
//! | `POST /{inst}/api/token` (password, refresh, authorization code), form keys case-insensitive, `expires_in` 1799, OAuth errors, 401 on bad bearer | emulated | `auth::*` |
//! | Hubs `/firm` (+address, vendor accounting), `/employee`, `/project`, `/contact`, `/organization`, `/codeTable/{t}`, `/metadata/{x}`, list parameters, arrays, POST 201 | emulated; firm address edits configurable (`firm_address_edits`, default on: `PUT /firm/{id}/address/{id}` and `PUT /firm/{id}` with `CLAddress[].CLAddressID` edit the address; off: both answer 400 — the client's `update_firm_address` reports that as `AddressEdit::NotAllowed`); `/codeTable/{t}/{code}` GET/PUT (merge, code fixed)/DELETE; 403 on every PUT and DELETE for a user without rights (`UserSeed::read_only`); `/metadata/{hub}` and `/metadata/{tt}Entry`, `/metadata/codeTable/{t}` in the documented `{TableName, Fields: [{FieldName, FieldType, MaxLength, IsRequired, IsReadOnly}]}` shape (scjalliance `metadata.go`) for the hubs served | `hubs::*` (incl. `hubs::firm_addresses_are_added_with_true_false_flags_and_edited_in_both_forms`, `hubs::firm_address_edits_are_refused_in_both_forms_when_the_database_does_not_allow_them`, client `shared/vantagepoint/tests/it/hubs.rs::a_firm_address_is_edited_where_vp_allows_it_and_reported_as_not_allowed_where_it_does_not`, `hubs::code_table_rows_and_accounts_are_changed_and_deleted_and_a_user_without_rights_gets_403`, `hubs::metadata_describes_a_hub_as_one_object_with_required_fields`) |
//! | Settings: periods, active period per user, company, active company | emulated | `hubs::the_active_period_is_per_user_and_returns_period_and_raw_period`, `cash_receipts::a_batch_without_period_lands_in_the_callers_active_period` |
//! | `/vision/TaxCodeEntity`, `/vision/BankCode/CFGBANKS`, `CFGAutoPosting`, `/Accounts` CRUD | emulated: `/Accounts` GET/POST/PUT/DELETE (DELETE refused while posted rows use the account) | `hubs::vision_only_endpoints_answer_under_vision_and_404_under_api`, `hubs::accounts_post_requires_the_blank_columns_to_be_present`, `hubs::code_table_rows_and_accounts_are_changed_and_deleted_and_a_user_without_rights_gets_403` |
//! | DataEntry `{ap,cr,cv,ex,in,je,ts}` Control/Master/Detail, balance validation, `PostTransFile` with `PostSeq` | emulated for all seven types (`db/entry.rs`): `POST {tt}Control` (batch with documents and lines), `POST {tt}Master/{Batch}\|{Key}` (one document; makes its batch), `PUT {tt}Control/{Batch}` and `PUT {tt}Master/{Batch}\|{Key}` (PATCH, lines upserted by `PKey`), `DELETE {tt}Master/…` and `{tt}Control/…` (unposted only), `{tt}Landing`/`allLanding`; every change re-checks the whole batch and is refused (nothing changed) when it breaks a rule: control `Total` = Σ detail amounts (TS: hours), JE debits = credits per `RefNo` and `CreditsTotal` = Σ credits, AP/CV document `Amount` = Σ its lines, EX `TotalDue` = lines − `AdvanceAmount`, IN `RetTotal` = Σ `RetAmount`, unique invoice numbers; `PostTransFile` posts any of them (one `PostSeq` per batch, GL rows with the type's offset: AP liability, CV bank, CR bank, EX employee liability, IN receivable; TS labor at the employee's `JobCostRate`), opens vouchers / expense reports for `/ledger/PP\|EP`; tax: `{ap,cv,ex,je}DetailTax` rows (`PKey`, `TaxCode`, `TaxAmount` / JE `TaxDebitAmount`, `TaxCreditAmount`) post to the tax code's account and `LedgerTax` (AP/CV/EX line `Amount` gross: `NetAmount` + tax = `Amount`; JE tax counts in debits = credits), IN tax is computed from the line's `TaxCode` (section `T`, receivable includes it); longer `Description` (40) or `RefNo` (`RefnoLength`) than the columns hold are refused when `enforce_column_lengths` | `data_entry::*` (incl. `data_entry::every_transaction_type_is_entered_posted_with_post_trans_file_and_read_back_from_its_ledger`, `…an_ap_line_is_gross_and_its_detail_tax_posts_to_the_tax_account`, `…an_invoice_line_with_a_tax_code_posts_its_tax_and_the_receivable_includes_it`, `…a_journal_entrys_tax_lines_count_in_its_balance`, `…a_journal_entry_whose_debits_do_not_equal_its_credits_is_refused`, `…an_ap_voucher_amount_must_equal_its_lines_and_its_posting_opens_a_payable_voucher`, `…documents_are_added_changed_and_deleted_and_the_file_total_follows_them`, `…a_posted_file_cannot_be_changed_and_its_documents_cannot_be_deleted`), `cash_receipts::*`, `ledger::invoice_batches_are_readable_through_data_entry_and_credit_memos_reference_their_invoice` |
//! | Ledger `/PSALedger/{TT}`, `/LedgerTax/{tt}` with `filterHash`, `POST /ledger/{TT}` and `/vision/ledger/{PP,EP}`, `/ARReview/ARBalance` | emulated: `POST /ledger/{AP,CR,CV,EX,IN,JE,TS}` enters and posts a DataEntry-shaped body in one call (batch name optional; nothing kept when refused, e.g. out of balance or closed period), `GET /ledger/{TT}` reads like `PSALedger`; PP/EP as below | `ledger::*`, `payments::*`, `data_entry::post_ledger_enters_and_posts_in_one_call_and_keeps_nothing_when_refused` |
//! | Workflow webhooks: registration, outbound POST with Basic auth, retries, timeout | emulated for firms, employees, projects and contacts (`ContactICBO`); Security fields (Secret + Public Key, both or neither) sign deliveries as configured (`webhook_signing`: `X-VP-Signature: sha256=<HMAC-SHA256 of the body>` + `X-VP-Public-Key`, or unsigned — the scheme is undocumented); the client's `WebhookVerifier::with_signing_secret` / `verify_request` checks it, and the product's `POST /webhooks/vantagepoint/{tenant}` requires it when the tenant's `vp_webhook` setting names a `signing_secret` | `webhooks::*` (incl. `webhooks::contact_workflows_deliver_signed_webhooks_and_signing_can_be_switched_off`), client `webhook::tests::a_body_signed_with_the_webhook_secret_is_accepted_and_a_tampered_one_refused`, `shared/api/tests/it/webhooks.rs::a_delivery_the_vantagepoint_emulator_signs_with_the_tenants_signing_secret_is_enqueued`, `…with_a_signing_secret_unsigned_or_wrongly_signed_emulator_deliveries_are_refused_despite_good_basic_credentials` |

mod admin;
mod api;
mod auth;
pub mod config;
mod db;
pub mod demo;
mod error;
pub mod model;
mod query;
mod workflow;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDateTime;
use ledgerlink_clock::{SharedClock, SystemClock};
use parking_lot::Mutex;
use rust_decimal::Decimal;
use serde_json::Value;

pub use config::{Envelope, FirmAutonumber, VantagepointConfig, WebhookSigning};
pub use error::VpError;
pub use model::*;

use crate::faults::{FaultInjector, FaultLayerState, RequestCounters};
use crate::server::RunningServer;
use db::{Db, RecordEvent};

/// State shared by every handler of one emulator.
#[derive(Debug)]
pub(crate) struct Shared {
    pub config: VantagepointConfig,
    pub db: Mutex<Db>,
    pub clock: SharedClock,
    pub layer: FaultLayerState,
    pub http: reqwest::Client,
}

pub(crate) type App = Arc<Shared>;

impl Shared {
    pub(crate) fn now(&self) -> NaiveDateTime {
        self.clock.now().naive_utc()
    }

    /// Renders rows with the configured envelope and quirks.
    pub(crate) fn render(&self, rows: Vec<Row>, status: StatusCode) -> Response {
        let rows: Vec<Value> = rows
            .into_iter()
            .map(|r| {
                let mut v = Value::Object(r);
                if self.config.numbers_as_strings {
                    quirk(&mut v, "");
                }
                v
            })
            .collect();
        let body = match &self.config.envelope {
            Envelope::BareArray => Value::Array(rows),
            Envelope::Wrapped { key } => {
                let mut m = serde_json::Map::new();
                m.insert(key.clone(), Value::Array(rows));
                Value::Object(m)
            }
        };
        (status, axum::Json(body)).into_response()
    }

    /// A `201 Created` with `Location` and the created record(s) as an array.
    pub(crate) fn created(&self, rows: Vec<Row>, location: &str) -> Response {
        let mut response = self.render(rows, StatusCode::CREATED);
        if let Ok(value) = HeaderValue::from_str(location) {
            response.headers_mut().insert(header::LOCATION, value);
        }
        response
    }

    /// Runs the workflow webhooks registered for these record events, in background tasks.
    pub(crate) fn dispatch(self: &Arc<Self>, events: Vec<RecordEvent>) {
        let mut plans = Vec::new();
        {
            let mut db = self.db.lock();
            for event in &events {
                for (hook, payload, app, event_type) in db.workflow.plan(event) {
                    let url = model::str_ci(&hook, "WebhookURL");
                    db.deliveries
                        .push(workflow::pending(&url, &app, &event_type, &payload));
                    plans.push(workflow::PlannedDelivery {
                        index: db.deliveries.len() - 1,
                        url,
                        username: model::str_ci(&hook, "AuthUsername"),
                        password: model::str_ci(&hook, "AuthPassword"),
                        signing: match self.config.webhook_signing {
                            config::WebhookSigning::HmacSha256
                                if !model::str_ci(&hook, "Secret").is_empty() =>
                            {
                                Some((
                                    model::str_ci(&hook, "Secret"),
                                    model::str_ci(&hook, "PublicKey"),
                                ))
                            }
                            _ => None,
                        },
                        retries: hook
                            .get("RetryCount")
                            .and_then(model::int_of)
                            .and_then(|r| u32::try_from(r).ok())
                            .unwrap_or(0),
                        timeout: std::time::Duration::from_secs(
                            hook.get("Timeout")
                                .and_then(model::int_of)
                                .and_then(|t| u64::try_from(t).ok())
                                .unwrap_or(5),
                        ),
                        payload,
                    });
                }
            }
        }
        // Deliveries need a Tokio runtime; seeding from plain code (no runtime) records them as undelivered.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        for plan in plans {
            let shared = Arc::clone(self);
            runtime.spawn(async move {
                let (attempts, delivered, status) = workflow::send(&shared.http, &plan).await;
                if let Some(d) = shared.db.lock().deliveries.get_mut(plan.index) {
                    d.attempts = attempts;
                    d.delivered = delivered;
                    d.last_status = status;
                }
            });
        }
    }
}

fn is_account_key(key: &str) -> bool {
    key == "Account" || key.ends_with("Account") || key.starts_with("Accts")
}

/// Quirks mode: numbers become strings (`"121.00"`), numeric account codes look like decimals.
fn quirk(value: &mut Value, key: &str) {
    match value {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                quirk(v, k);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| quirk(v, key)),
        Value::Number(n) => {
            let text = if n.is_i64() || n.is_u64() {
                n.to_string()
            } else {
                model::decimal_of(&Value::Number(n.clone()))
                    .map(|d| format!("{:.2}", d))
                    .unwrap_or_else(|| n.to_string())
            };
            *value = Value::String(text);
        }
        Value::String(s)
            if is_account_key(key) && !s.is_empty() && s.chars().all(|c| c.is_ascii_digit()) =>
        {
            *s = format!("{s}.00");
        }
        _ => {}
    }
}

/// A Deltek Vantagepoint database, served over HTTP.
///
/// Cheap to clone; clones share the same database, fault rules and counters.
#[derive(Debug, Clone)]
pub struct VantagepointEmulator {
    shared: App,
}

impl VantagepointEmulator {
    /// An empty database on the system clock (add users, periods, ... or [`Self::load_demo`]).
    pub fn new(config: VantagepointConfig) -> Self {
        Self::with_clock(config, SystemClock::shared())
    }

    /// An empty database whose "now" (token expiry, PostDate, ModDate) comes from `clock`.
    pub fn with_clock(config: VantagepointConfig, clock: SharedClock) -> Self {
        let layer = FaultLayerState {
            faults: FaultInjector::new(config.seed),
            counters: RequestCounters::default(),
        };
        let http = reqwest::Client::builder()
            .no_proxy()
            .build()
            .unwrap_or_default();
        let shared = Shared {
            db: Mutex::new(Db::new(config.clone())),
            config,
            clock,
            layer,
            http,
        };
        Self {
            shared: Arc::new(shared),
        }
    }

    pub fn config(&self) -> &VantagepointConfig {
        &self.shared.config
    }

    /// The router: the REST API (behind fault injection and counters) and the `/__emulator` admin surface.
    pub fn router(&self) -> Router {
        let (api, literals) = api::routes(&self.shared);
        let api = api.layer(axum::middleware::from_fn_with_state(
            self.shared.layer.clone(),
            crate::faults::fault_middleware,
        ));
        let inner = api.merge(admin::routes(&self.shared));
        let literals = Arc::new(literals);
        let service = tower::ServiceBuilder::new()
            .map_request(move |request: Request| normalize_path(&literals, request))
            .service(inner);
        Router::new().fallback_service(service)
    }

    /// Serves on `127.0.0.1:0`.
    pub async fn spawn(&self) -> std::io::Result<RunningServer> {
        self.serve_on(SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// Serves on `addr`.
    pub async fn serve_on(&self, addr: SocketAddr) -> std::io::Result<RunningServer> {
        crate::serve(self.router(), addr).await
    }

    /// `http://host:port{instance}/api` of a server running this emulator.
    pub fn api_base(&self, server: &RunningServer) -> String {
        format!("{}{}/api", server.base_url(), self.shared.config.instance())
    }

    /// `http://host:port{instance}/vision`.
    pub fn vision_base(&self, server: &RunningServer) -> String {
        format!(
            "{}{}/vision",
            server.base_url(),
            self.shared.config.instance()
        )
    }

    pub fn faults(&self) -> &FaultInjector {
        &self.shared.layer.faults
    }

    pub fn counters(&self) -> &RequestCounters {
        &self.shared.layer.counters
    }

    fn user(&self) -> String {
        "ADMIN".to_owned()
    }

    // -------------------------------------------------------------- seeding

    pub fn add_user(&self, seed: UserSeed) {
        self.shared.db.lock().add_user(seed);
    }

    pub fn add_company(&self, seed: CompanySeed) {
        self.shared.db.lock().add_company(seed);
    }

    pub fn add_organization(&self, seed: OrganizationSeed) {
        self.shared.db.lock().add_organization(seed);
    }

    /// Adds a currency to the `FW_CFGCurrency` code table.
    pub fn add_currency(&self, code: &str, description: &str) {
        let row = serde_json::json!({"Code": code, "Description": description, "Status": "A"});
        if let Value::Object(row) = row {
            self.shared.db.lock().upsert_code("FW_CFGCurrency", row);
        }
    }

    /// Adds or replaces a row of any code table (keyed by `Code`).
    pub fn add_code(&self, table: &str, row: Row) {
        self.shared.db.lock().upsert_code(table, row);
    }

    /// Adds a firm (with its addresses) and returns its `ClientID`. Fires `Insert` webhooks.
    pub fn add_firm(&self, seed: FirmSeed) -> Result<String, VpError> {
        let now = self.shared.now();
        let (row, event) = {
            let mut db = self.shared.db.lock();
            let body = db.firm_row(&seed);
            let (row, event) = db.insert_firm(&body, &self.user(), now, false)?;
            let id = model::str_ci(&row, "ClientID");
            for address in &seed.addresses {
                db.insert_address(&id, &Db::address_row(address))?;
            }
            (row, event)
        };
        self.shared.dispatch(vec![event]);
        Ok(model::str_ci(&row, "ClientID"))
    }

    /// Changes firm columns as a VP user would (fires `Change` webhooks).
    pub fn update_firm(&self, client_id: &str, patch: Row) -> Result<Row, VpError> {
        let now = self.shared.now();
        let (row, event) =
            self.shared
                .db
                .lock()
                .update_firm(client_id, &patch, &self.user(), now)?;
        self.shared.dispatch(vec![event]);
        Ok(row)
    }

    pub fn add_employee(&self, seed: EmployeeSeed) -> Result<(), VpError> {
        let now = self.shared.now();
        let (_, event) = self.shared.db.lock().upsert_employee(
            None,
            &Db::employee_row(&seed),
            &self.user(),
            now,
        )?;
        self.shared.dispatch(vec![event]);
        Ok(())
    }

    pub fn update_employee(&self, employee: &str, patch: Row) -> Result<Row, VpError> {
        let now = self.shared.now();
        let (row, event) =
            self.shared
                .db
                .lock()
                .upsert_employee(Some(employee), &patch, &self.user(), now)?;
        self.shared.dispatch(vec![event]);
        Ok(row)
    }

    pub fn add_project(&self, seed: ProjectSeed) -> Result<(), VpError> {
        let now = self.shared.now();
        let (_, event) = self.shared.db.lock().upsert_project(
            None,
            &Db::project_row(&seed),
            &self.user(),
            now,
        )?;
        self.shared.dispatch(vec![event]);
        Ok(())
    }

    /// Changes a project; `key` is `WBS1` or `WBS1|WBS2|WBS3`.
    pub fn update_project(&self, key: &str, patch: Row) -> Result<Row, VpError> {
        let now = self.shared.now();
        let (row, event) =
            self.shared
                .db
                .lock()
                .upsert_project(Some(key), &patch, &self.user(), now)?;
        self.shared.dispatch(vec![event]);
        Ok(row)
    }

    pub fn add_account(&self, seed: AccountSeed) -> Result<(), VpError> {
        let mut row = serde_json::Map::new();
        row.insert("Account".into(), Value::String(seed.account));
        row.insert("Name".into(), Value::String(seed.name));
        row.insert("Type".into(), Value::from(seed.account_type));
        if !seed.status.is_empty() {
            row.insert("Status".into(), Value::String(seed.status));
        }
        model::merge_patch(&mut row, &seed.extra);
        self.shared
            .db
            .lock()
            .insert_account(&row, false)
            .map(|_| ())
    }

    pub fn add_tax_code(&self, seed: TaxCodeSeed) -> Result<(), VpError> {
        let row = serde_json::json!({
            "Code": seed.code, "Description": seed.description, "Rate": model::money(seed.rate),
            "CompoundOnTaxCode": seed.compound_on.unwrap_or_default(), "Account": seed.account,
            "Status": if seed.status.is_empty() { "A".to_owned() } else { seed.status },
        });
        match row {
            Value::Object(row) => self.shared.db.lock().insert_tax_code(&row).map(|_| ()),
            _ => Ok(()),
        }
    }

    pub fn add_bank(&self, seed: BankSeed) {
        let row = serde_json::json!({
            "Code": seed.code, "Description": seed.description, "Company": seed.company, "Org": seed.org,
            "Account": seed.account, "CurrencyCode": seed.currency, "Status": "A",
        });
        if let Value::Object(row) = row {
            let mut db = self.shared.db.lock();
            db.banks
                .retain(|b| !model::str_ci(b, "Code").eq_ignore_ascii_case(&seed.code));
            db.banks.push(row);
        }
    }

    /// Sets the auto-posting accounts of a company (`CFGAutoPosting`: `AcctsReceivable`, `APLiability`, ...).
    pub fn set_autoposting(&self, company: &str, accounts: Row) {
        let mut db = self.shared.db.lock();
        db.autoposting
            .retain(|r| !model::str_ci(r, "Company").eq_ignore_ascii_case(company));
        let mut row = serde_json::Map::new();
        row.insert("Company".into(), Value::String(company.to_owned()));
        model::merge_patch(&mut row, &accounts);
        db.autoposting.push(row);
    }

    pub fn add_period(&self, seed: PeriodSeed) {
        self.shared.db.lock().add_period(seed);
    }

    pub fn close_period(&self, period: i32) -> Result<(), VpError> {
        self.shared.db.lock().set_period_closed(period, true)
    }

    pub fn reopen_period(&self, period: i32) -> Result<(), VpError> {
        self.shared.db.lock().set_period_closed(period, false)
    }

    pub fn set_active_period(&self, username: &str, period: i32) -> Result<(), VpError> {
        self.shared.db.lock().set_active_period(username, period)
    }

    /// Changes a key-format setting of `/KeyCvt/CFGFormat` (e.g. `ClientLength`, `AccountLength`).
    pub fn set_key_format(&self, column: &str, value: Value) {
        self.shared
            .db
            .lock()
            .key_format
            .insert(column.to_owned(), value);
    }

    /// "Generate Secret" on the API Authorization form: a new client secret, and every issued access and
    /// refresh token stops working (integrations are broken until they sign in again with the new secret).
    pub fn regenerate_client_secret(&self) -> String {
        let mut db = self.shared.db.lock();
        let secret = format!("{}{}", db.new_key(), db.new_key()).to_lowercase();
        db.client_secret = secret.clone();
        db.tokens.clear();
        db.refresh_tokens.clear();
        secret
    }

    /// Loads the deterministic demo data set (see [`demo`]).
    pub fn load_demo(&self, options: &demo::DemoOptions) -> Result<demo::DemoSummary, VpError> {
        demo::load(self, options)
    }

    // -------------------------------------------------------------- posting

    /// Posts an invoice (or a credit memo when `credit_memo_ref` is set) into the ledger.
    pub fn post_invoice(&self, seed: &InvoiceSeed) -> Result<Posting, VpError> {
        let now = self.shared.now();
        self.shared.db.lock().post_invoice(seed, &self.user(), now)
    }

    pub fn post_voucher(&self, seed: &VoucherSeed) -> Result<Posting, VpError> {
        let now = self.shared.now();
        self.shared.db.lock().post_voucher(seed, &self.user(), now)
    }

    pub fn post_expense_report(&self, seed: &ExpenseReportSeed) -> Result<Posting, VpError> {
        let now = self.shared.now();
        self.shared
            .db
            .lock()
            .post_expense_report(seed, &self.user(), now)
    }

    pub fn post_journal_entry(&self, seed: &JournalEntrySeed) -> Result<Posting, VpError> {
        let now = self.shared.now();
        self.shared
            .db
            .lock()
            .post_journal_entry(seed, &self.user(), now)
    }

    /// Posts a Revenue Generation run (`PSALedger/RG`).
    pub fn post_revenue_generation(
        &self,
        seed: &RevenueGenerationSeed,
    ) -> Result<Posting, VpError> {
        let now = self.shared.now();
        self.shared.db.lock().post_revenue_generation(seed, now)
    }

    // -------------------------------------------------------------- inspection

    /// Every cash-receipt batch created through the API (posted or not).
    pub fn cash_receipts(&self) -> Vec<CashReceiptRecord> {
        self.shared.db.lock().cash_receipts()
    }

    /// How many create requests of cash-receipt batch `batch` reached the emulator (duplicates included, even
    /// those it refused).
    pub fn raw_cash_receipt_creates(&self, batch: &str) -> u64 {
        self.shared
            .db
            .lock()
            .raw_cr_creates
            .get(batch)
            .copied()
            .unwrap_or(0)
    }

    /// Every PP/EP payment posted through the API.
    pub fn payments(&self) -> Vec<PaymentRecord> {
        self.shared.db.lock().payments.clone()
    }

    /// Open balance of a voucher (`None` when unknown).
    pub fn voucher_outstanding(&self, vendor: &str, voucher: &str) -> Option<Decimal> {
        self.shared
            .db
            .lock()
            .vouchers
            .get(&(vendor.to_ascii_uppercase(), voucher.to_owned()))
            .map(|v| v.outstanding)
    }

    pub fn expense_report(&self, employee: &str, voucher: &str) -> Option<ExpenseReportState> {
        self.shared
            .db
            .lock()
            .expense_reports
            .get(&(employee.to_ascii_uppercase(), voucher.to_owned()))
            .cloned()
    }

    /// Open balance of a posted invoice (`/ARReview/ARBalance`).
    pub fn invoice_balance(&self, invoice: &str) -> Option<Decimal> {
        self.shared
            .db
            .lock()
            .ar_balances()
            .iter()
            .find(|r| model::str_ci(r, "Invoice") == invoice)
            .and_then(|r| r.get("Balance").and_then(model::decimal_of))
    }

    /// Posted ledger rows of one transaction type (as `GET /PSALedger/{tt}` shows them).
    pub fn ledger_rows(&self, trans_type: &str) -> Vec<Row> {
        self.shared
            .db
            .lock()
            .ledger
            .iter()
            .filter(|r| model::str_ci(r, "TransType").eq_ignore_ascii_case(trans_type))
            .cloned()
            .collect()
    }

    /// A firm as `GET /firm/{ClientID}` shows it.
    pub fn firm(&self, client_id: &str) -> Option<Row> {
        self.shared.db.lock().firm_by_id(client_id).cloned()
    }

    /// All firms.
    pub fn firms(&self) -> Vec<Row> {
        self.shared.db.lock().firms.clone()
    }

    /// All accounts.
    pub fn accounts(&self) -> Vec<Row> {
        self.shared.db.lock().accounts.clone()
    }

    /// All tax codes.
    pub fn tax_codes(&self) -> Vec<Row> {
        self.shared.db.lock().tax_codes.clone()
    }

    pub fn token_stats(&self) -> TokenStats {
        self.shared.db.lock().token_stats
    }

    /// Webhook deliveries so far (attempts are filled in as background deliveries finish).
    pub fn webhook_deliveries(&self) -> Vec<WebhookDelivery> {
        self.shared.db.lock().deliveries.clone()
    }
}

/// Routes are matched case-insensitively on their literal segments (VP runs on IIS/ASP.NET, whose routing is
/// case-insensitive), and a trailing slash is ignored (`/vision/TaxCodeEntity/`).
fn normalize_path(literals: &HashMap<String, String>, mut request: Request) -> Request {
    let uri = request.uri().clone();
    let path = uri.path();
    let mut out = String::with_capacity(path.len());
    for segment in path.split('/').filter(|s| !s.is_empty()) {
        out.push('/');
        match literals.get(&segment.to_ascii_lowercase()) {
            Some(canonical) => out.push_str(canonical),
            None => out.push_str(segment),
        }
    }
    if out.is_empty() {
        out.push('/');
    }
    if out != path {
        let rebuilt = match uri.query() {
            Some(q) => format!("{out}?{q}"),
            None => out,
        };
        if let Ok(new_uri) = rebuilt.parse::<Uri>() {
            *request.uri_mut() = new_uri;
        }
    }
    request
}
