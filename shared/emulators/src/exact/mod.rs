//! Exact Online emulator (see `../shared/reference/exact-online-api.md`, section 8 checklist): OAuth with
//! rotating refresh tokens and Exact's refresh rules, the division-scoped OData v2 REST API with paging,
//! filters, mandatory `$filter`/`$select` rules, rate-limit headers and 429s, the error budget, validation
//! errors as HTTP 500, sync endpoints with a rowversion `Timestamp`, webhooks with signed deliveries, an admin
//! surface (Rust methods and `/__emulator/...` JSON endpoints) and a deterministic demo data set.
//!
//! Choices where the reference leaves room (each configurable or documented here):
//! - Requests without `Accept: application/json` get **406** (the real service answers Atom/XML, which no
//!   Ledgerlink client reads); `/$count` and the admin endpoints need no Accept header.
//! - Too-early refresh answers 400 `access_denied` (configurable to 401); validation errors answer 500
//!   (configurable to 400). Refresh tokens rotate strictly; `refresh_grace` keeps the previous one valid
//!   until its successor is used. The 200-token-calls-per-day rule is enforced per client and UTC day
//!   (`token_calls_per_day`, the 201st call gets 400 `access_denied`).
//! - The error-budget block (10 × 400/401/403/404 per client, user, division, endpoint and hour) answers
//!   **429** with the error envelope and no `X-RateLimit-*` headers, for one hour.
//! - Bulk and sync endpoints require `$select`; sync endpoints accept only `Timestamp` in `$filter`.
//! - Payments are bank entries on the receivables/payables account (`store::bank`), registered through the admin
//!   surface or POSTed; they fire the `BankEntries` webhook topic; deleted sales/purchase/general-journal entries are logged
//!   in `sync/Deleted` with EntityType 1 (TransactionLines).
//! - VAT `Percentage` is a fraction (0.21 for 21%); Int64 values (`Timestamp`) are JSON numbers.
//! - Dates carry Exact's **CET semantics** (reference §1.7): every `/Date(ms)/` the emulator writes — `Created`,
//!   `Modified`, payment and entry dates, `DeletedDate` — is the Dutch wall-clock time (CET in winter, CEST in
//!   summer) written as if UTC; date fields are Dutch local midnight. A client date without a zone is read as
//!   Dutch local time, one with a zone (`Z`, `+02:00`) is converted to it. `EventCreatedOn` and `current/Me`'s
//!   `ServerTime` are Dutch local time too, `ServerUtcOffset` is 3600 or 7200. Rate-limit reset headers stay UTC
//!   epoch milliseconds, as observed. So a payment registered at 00:30 CEST on 1 June is dated 1 June.
//! - `crm/Accounts` and `logistics/Items` require a `$filter` (`model::ACCOUNT_FILTER_FIELDS`,
//!   `model::ITEM_FILTER_FIELDS`). Every entity serves its full documented property set: the checked-in lists
//!   `shared/emulators/reference/exact/*.txt` (one per entity, each naming the reference page and its date;
//!   regenerate with `scripts/exact-reference-properties.py`) complete the definitions in `model`, and
//!   `{service}/$metadata` is generated from the same definitions.
//!
//! ## Reference checklist (§8) — where each item is implemented and which test checks it
//!
//! | §8 item | Status | Tests (`shared/emulators/tests/exact/…`) |
//! |---|---|---|
//! | Routing: `/api/oauth2/*`, `current/Me`, `/{division}/{service}/{Entity}[(key)][/$count]`, `bulk/`, `sync/`, `read/`, `beta/`, `$metadata` | emulated; every country site (`site`: nl, be, de, fr, es, uk, us) by `Host` or `/{site}` prefix, codes and tokens bound to the site that issued them (401 / `invalid_grant` elsewhere; configurable, `tokens_bound_to_site`) | `oauth::tokens_are_bound_to_the_country_site_that_issued_them`, `oauth::with_the_site_binding_switched_off_a_token_works_on_every_site`, `rest::service_segments_are_case_insensitive_and_currencies_are_keyed_by_code`, `rest::beta_paths_and_bulk_filters_reach_the_same_data`, `oauth::me_lists_the_current_division_without_rate_limit_headers`, `properties::metadata_is_served_per_service_and_unknown_services_are_404` |
//! | Auth: 600 s tokens, `expires_in:"600"`, strict rotation, 570 s rule, code 180 s single use, 30-day idle expiry, 200 token calls a day, body or Basic client credentials | emulated; too-early status, grace, daily cap configurable | `oauth::*` (incl. `…accept_client_credentials_in_the_body_and_as_http_basic`, `…refuses_the_call_beyond_the_daily_limit…`) |
//! | Rate limits per (client, division), headers, 429 with one header family, `current/Me` uncounted | emulated; limits configurable | `rate::*` |
//! | Error budget (10 × 400/401/403/404 per endpoint and hour → 1 h block) | emulated | `rate::ten_errors_on_one_endpoint_within_an_hour_block_that_endpoint_for_an_hour` |
//! | Paging 60 / 1000, `__next` with `$skiptoken`, extra empty page | emulated; `$skip` refused on bulk/sync endpoints (released after March 2017), accepted on regular ones | `rest::paging_*`, `rest::bulk_endpoints_page_by_1000`, `sync_and_payments::skip_is_refused_on_bulk_and_sync_endpoints_but_kept_on_regular_ones` |
//! | Formats: JSON with Accept (else 406), `/Date(ms)/` CET, padded codes, `__metadata`/`__deferred`/expand, POST 201 (+`Prefer`), PUT/DELETE 204, read-only ignored, PUT merges | emulated; request bodies as JSON or as an Atom `<entry>` (XML, `m:properties`, inline `m:inline` lines; `atom`) | `rest::atom_xml_bodies_are_accepted_on_post_and_put`, `rest::a_request_without_accept_json_gets_406_except_for_count`, `sync_and_payments::dates_carry_cet_semantics_at_month_ends_and_around_the_clock_changes`, `rest::account_codes_are_padded_so_an_unpadded_filter_finds_nothing_but_trim_does`, `properties::*`, `rest::post_without_prefer_returns_201_with_the_key_and_nulls_and_with_prefer_the_full_entity`, `rest::put_merges_writable_fields_ignores_read_only_ones_and_delete_answers_204` |
//! | Validation: required fields → 500 with `Mandatory:`/`Verplicht:` joined by `\r\n` | configurable (status 500/400, English/Dutch) | `rest::validation_errors_are_http_500_with_messages_joined_by_crlf`, `rest::the_validation_status_can_be_configured_to_400`, `invoicing::validation_messages_come_in_dutch_when_the_emulator_is_set_to_dutch` |
//! | Mandatory `$filter` (Accounts, Items), `$select` on bulk/sync, GeneralJournalEntries `$select`/`$top=1` | emulated; `$count` rule configurable | `rest::accounts_without_a_filter_are_refused_with_the_mandatory_filtering_message`, `invoicing::items_need_code_and_description_unique_codes_and_a_mandatory_filter`, `rest::general_journal_entries_need_a_select_or_top_1_and_bulk_needs_a_select`, `invoicing::count_on_a_mandatory_filtering_endpoint_follows_its_switch` |
//! | Sync: rowversion `Timestamp`, `Timestamp gt nL`, reset on division move, deleted log (2 months) | emulated: `sync/Cashflow/PaymentTerms`, `CRM/Accounts`, `Financial/GLAccounts`, `Financial/TransactionLines` (header rows `LineNumber` 0 and lines, derived from the sales, purchase, general-journal and bank entries), `sync/Deleted`, `read/sync/Sync/SyncTimestamp`; `financialtransaction/TransactionLines` and `read/financial/ReceivablesList` | `sync_and_payments::*` (incl. `…a_division_move_shows_in_division_move_date_and_resets_the_sync_timestamps`, `…the_deleted_log_keeps_two_months`), `ledger::sync_transaction_lines_carry_header_and_lines_of_every_entry_and_follow_the_cursor`, `ledger::a_division_move_renumbers_the_transaction_lines_too`, `ledger::sync_timestamp_gives_the_first_timestamp_modified_on_or_after_a_date` |
//! | Entities the product books with (§5): accounts, contacts, G/L, VAT, entries, invoices, items, cashflow; `financialtransaction/BankEntries` (POST with lines inline, DELETE) and `BankEntryLines` (POST) with the reference's rules — bank journal, mandatory lines, opening + lines = closing, lines on receivables/payables settling the invoice their `OurRef` names | emulated | `rest::*`, `invoicing::*`, `ledger::a_bank_entry_on_the_receivables_account_naming_the_invoice_pays_it`, `ledger::a_supplier_payment_is_money_out_on_the_payables_account_and_may_be_partial`, `ledger::bank_entries_are_validated_as_the_reference_lists`, `ledger::a_bank_entry_line_posted_on_its_own_joins_its_entry_and_settles_its_invoice` |
//! | Webhooks: validation POST, 500 on a failing callback, signed deliveries, topics of served entities, retries | emulated (topics only of entities the emulator serves, plus `GoodsDeliveries` so `IsInstant` can be valid); retry schedule configurable | `webhooks::*` (incl. `webhooks::topics_are_those_of_served_entities_and_is_instant_needs_goods_deliveries`) |
//!
//! ## Behaviour the reference marks uncertain, and its switch on [`ExactConfig`]
//!
//! | Uncertain (reference) | Switch | Default |
//! |---|---|---|
//! | Status of the too-early refresh (§2.2: 400 observed, 401 in older docs) | `too_early_status` | 400 |
//! | Previous refresh token usable until the new one is used (§2.2) | `refresh_grace` | off (strict) |
//! | 200 token calls a day still enforced (§3.3) | `token_calls_per_day` | `Some(200)` |
//! | Per-app numeric limits (§3.1: 60/5000, also 100/9000 observed) | `minutely_limit`, `daily_limit`, `errors_per_hour` | 60, 5000, 10 |
//! | Validation errors as 500 or 400 (§4.2) | `validation_status` | 500 |
//! | Language of error texts (§1.3, §4.1) | `validation_language` | English |
//! | Mandatory filtering also on `$count` (§3.4) | `mandatory_filter_on_count` | on |
//! | Filtering journal lines on `Notes` (client notes; the client works with both) | `line_notes_filterable` | on |
//! | `Journal` required on SalesInvoices (§5.9, §9) | `sales_invoice_journal_required` | on |
//! | Webhook retry policy (§6.3) | `webhook_retry_delays` | 1, 5, 15 min |
//! | Which endpoints count as "released after March 2017" for `$skip` (§1.5) | `skip_refused_on_new_endpoints` (bulk, sync) | on |
//! | Host a client expects in links (§1.1) | `base_url` / `exact-emulator --base-url` | the request's Host |
//! | Tokens bound to the country site that issued them (§1.1) | `tokens_bound_to_site` | on |
//!
//! Fixed choices for the other uncertain items: no Atom/XML responses (406; XML request bodies are read); Int64 as JSON numbers; `EventCreatedOn`
//! on the Dutch clock; `$top` above the page size still capped; `Prefer: return=minimal` ignored; App-Center
//! braces around a client id accepted; topic = entity name; no `Retry-After` on 429; PUT on webhook
//! subscriptions allowed.

mod admin;
mod api;
mod atom;
pub mod demo;
mod lang;
mod metadata;
mod model;
mod oauth;
mod odata;
pub mod site;
mod store;
pub mod webhooks;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::routing::{any, get};
use chrono::{DateTime, Utc};
use ledgerlink_clock::{SharedClock, SystemClock};
use parking_lot::Mutex;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::faults::{FaultInjector, FaultLayerState, RequestCounters, fault_middleware};
use crate::server::{RunningServer, serve};

pub use lang::ValidationLanguage;
pub use store::PaymentRecorded;
pub use webhooks::{DeliveryRecord, WebhookContent, hmac_upper_hex, sign_delivery};

use store::{OpError, Store};

/// How the emulator behaves where Exact's behaviour varies or is configurable per app.
#[derive(Debug, Clone)]
pub struct ExactConfig {
    /// Seeds token and GUID generation (a failing run can be replayed).
    pub seed: u64,
    /// Calls per calendar minute per (client id, division).
    pub minutely_limit: u32,
    /// Calls per UTC day per (client id, division).
    pub daily_limit: u32,
    /// 400/401/403/404 answers per (client, user, division, endpoint, hour) that trigger a one-hour block.
    pub errors_per_hour: u32,
    /// Status of the too-early refresh answer: 400 (observed 2026) or 401 (older docs).
    pub too_early_status: u16,
    /// Status of business validation errors: 500 (historic) or 400.
    pub validation_status: u16,
    /// Rows per page on regular endpoints.
    pub page_size: usize,
    /// Rows per page on bulk and sync endpoints.
    pub bulk_page_size: usize,
    pub access_token_ttl_secs: i64,
    /// A refresh is refused until this many seconds after the previous access token was issued.
    pub refresh_min_age_secs: i64,
    pub code_ttl_secs: i64,
    /// A refresh token unused for this many days has expired.
    pub refresh_idle_days: i64,
    /// Grace mode for rotated refresh tokens: the previous token keeps working until the token it was
    /// exchanged for is used (some apps get this from Exact). Off: strict rotation.
    pub refresh_grace: bool,
    /// Whether `/$count` on a mandatory-filtering endpoint (`crm/Accounts`, `logistics/Items`) needs a
    /// `$filter` like a GET does (true) or counts everything (false). Not documented either way.
    pub mandatory_filter_on_count: bool,
    /// Whether `GeneralJournalEntryLines` can be filtered on `Notes` (true) or answer 400 "Filtering on these
    /// fields is not supported: Notes" (false). Not documented either way; the client works with both.
    pub line_notes_filterable: bool,
    /// Whether a sales invoice without `Journal` is refused with `Mandatory: Journal` (the documentation)
    /// or booked in the division's first sales journal (a 2018 report).
    pub sales_invoice_journal_required: bool,
    /// Whether `$skip` is refused on endpoints released after March 2017 — the bulk and sync endpoints
    /// (§1.5: "no longer supported for new endpoints"); regular endpoints keep accepting it.
    pub skip_refused_on_new_endpoints: bool,
    /// Language of business validation messages (`Mandatory: Journal` / `Verplicht: Dagboek`).
    pub validation_language: ValidationLanguage,
    /// Token-endpoint calls allowed per client and UTC day (Exact announced 200 for July 2021); the call
    /// beyond it gets 400 `access_denied` with a `Reason` header. `None`: counted, never refused.
    pub token_calls_per_day: Option<u32>,
    /// Waits before retrying a webhook delivery the callback refused (non-2xx or no connection), one retry
    /// per entry; empty: no retries. Real time (the deliveries are real HTTP calls).
    pub webhook_retry_delays: Vec<std::time::Duration>,
    /// Whether codes and tokens work only on the country site that issued them (§1.1: reported by client
    /// codebases, "[UNCERTAIN as a hard rule]"). Off: any site accepts them.
    pub tokens_bound_to_site: bool,
    /// Base URL written into `__metadata`, `__next` and webhook endpoints; default: the request's Host.
    pub base_url: Option<String>,
    /// The clock every time-based rule reads.
    pub clock: SharedClock,
}

impl Default for ExactConfig {
    fn default() -> Self {
        Self {
            seed: 1,
            minutely_limit: 60,
            daily_limit: 5000,
            errors_per_hour: 10,
            too_early_status: 400,
            validation_status: 500,
            page_size: 60,
            bulk_page_size: 1000,
            access_token_ttl_secs: 600,
            refresh_min_age_secs: 570,
            code_ttl_secs: 180,
            refresh_idle_days: 30,
            refresh_grace: false,
            mandatory_filter_on_count: true,
            line_notes_filterable: true,
            sales_invoice_journal_required: true,
            token_calls_per_day: Some(200),
            validation_language: ValidationLanguage::English,
            skip_refused_on_new_endpoints: true,
            webhook_retry_delays: [60, 300, 900]
                .into_iter()
                .map(std::time::Duration::from_secs)
                .collect(),
            tokens_bound_to_site: true,
            base_url: None,
            clock: SystemClock::shared(),
        }
    }
}

/// An OAuth app registered in the (emulated) App Center. Debug output leaves the secrets out.
#[derive(Clone, Serialize, Deserialize)]
pub struct AppRegistration {
    pub client_id: String,
    pub client_secret: String,
    pub webhook_secret: String,
    pub redirect_uri: String,
    #[serde(default)]
    pub name: String,
}

impl std::fmt::Debug for AppRegistration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppRegistration")
            .field("client_id", &self.client_id)
            .field("redirect_uri", &self.redirect_uri)
            .finish_non_exhaustive()
    }
}

/// A user who can consent and whose divisions scope the tokens.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserSpec {
    #[serde(default)]
    pub id: Option<Uuid>,
    pub full_name: String,
    #[serde(default)]
    pub email: String,
    pub divisions: Vec<i32>,
}

/// A token pair as the token endpoint returns it. Debug output leaves the tokens out.
#[derive(Clone, Serialize, Deserialize)]
pub struct TokenPair {
    pub access_token: String,
    pub refresh_token: String,
}

impl std::fmt::Debug for TokenPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenPair { .. }")
    }
}

/// A payment to register (admin surface).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PaymentSpec {
    pub division: i32,
    /// `EntryID` of the sales entry (customer receipt) or purchase entry (supplier/employee payment).
    pub entry_id: String,
    /// Amount in the entry's currency; `None` pays the whole open amount.
    #[serde(default)]
    pub amount: Option<Decimal>,
    /// Defaults to the emulator clock's now.
    #[serde(default)]
    pub date: Option<DateTime<Utc>>,
    /// Pays an employee (expense claim) rather than a supplier.
    #[serde(default)]
    pub employee: bool,
}

/// What an admin operation on the emulator can fail with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExactEmulatorError {
    #[error("unknown entity set {0}")]
    UnknownEntity(String),
    #[error("unknown division {0}")]
    UnknownDivision(i32),
    #[error("unknown client id")]
    UnknownClient,
    #[error("unknown user")]
    UnknownUser,
    #[error("not found: {0}")]
    NotFound(String),
    #[error("invalid request: {0}")]
    BadRequest(String),
    #[error("validation failed: {}", .0.join("; "))]
    Validation(Vec<String>),
}

impl From<OpError> for ExactEmulatorError {
    fn from(e: OpError) -> Self {
        match e {
            OpError::BadRequest(m) => Self::BadRequest(m),
            OpError::NotFound(m) => Self::NotFound(m),
            OpError::MethodNotAllowed => Self::BadRequest("method not allowed".into()),
            OpError::Validation(m) => Self::Validation(m),
        }
    }
}

#[derive(Debug)]
pub(crate) struct Shared {
    pub config: ExactConfig,
    pub store: Mutex<Store>,
    pub layer: FaultLayerState,
    pub public_base: Mutex<Option<String>>,
    pub dispatcher: webhooks::Dispatcher,
    pub http: reqwest::Client,
}

impl Shared {
    pub fn now(&self) -> DateTime<Utc> {
        self.config.clock.now()
    }

    /// The base URL for links when no request is at hand.
    pub fn base(&self) -> String {
        self.config
            .base_url
            .clone()
            .or_else(|| self.public_base.lock().clone())
            .unwrap_or_else(|| "http://127.0.0.1".into())
    }

    /// Runs `f` on the store, then turns the events it raised into signed webhook deliveries.
    pub fn mutate<T>(&self, f: impl FnOnce(&mut Store) -> T) -> T {
        let now = self.now();
        let base = self.base();
        let (out, deliveries) = {
            let mut st = self.store.lock();
            let out = f(&mut st);
            let events = std::mem::take(&mut st.events);
            let mut deliveries = Vec::new();
            for ev in events {
                for sub in st.rows(ev.division, model::WEBHOOKS) {
                    if sub.data.get("Topic").and_then(Value::as_str) != Some(ev.topic) {
                        continue;
                    }
                    let client = sub
                        .data
                        .get("ClientID")
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    let Some(app) = st.apps.get(client) else {
                        continue;
                    };
                    let url = sub
                        .data
                        .get("CallbackURL")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned();
                    let content = WebhookContent {
                        topic: ev.topic.to_owned(),
                        client_id: app.client_id.clone(),
                        division: ev.division,
                        action: ev.action.to_owned(),
                        key: ev.key.clone(),
                        exact_online_endpoint: format!(
                            "{base}/api/v1/{}/{}(guid'{}')",
                            ev.division, ev.path, ev.key
                        ),
                        event_created_on: webhooks::event_time(now),
                    };
                    let body = sign_delivery(&content, &app.webhook_secret);
                    deliveries.push(webhooks::Delivery { url, content, body });
                }
            }
            (out, deliveries)
        };
        self.dispatcher.enqueue(deliveries);
        out
    }
}

/// The emulator. Cheap to clone; clones share state. Serve it with [`ExactEmulator::spawn`] (tests) or mount
/// [`ExactEmulator::router`] yourself.
#[derive(Debug, Clone)]
pub struct ExactEmulator {
    shared: Arc<Shared>,
}

impl ExactEmulator {
    pub fn new(config: ExactConfig) -> Self {
        let http = reqwest::Client::builder()
            .no_proxy()
            .build()
            .unwrap_or_default();
        let mut store = Store::new(config.seed);
        store.invoice_journal_required = config.sales_invoice_journal_required;
        let faults = FaultInjector::new(config.seed);
        let retry_delays = config.webhook_retry_delays.clone();
        Self {
            shared: Arc::new(Shared {
                config,
                store: Mutex::new(store),
                layer: FaultLayerState {
                    faults,
                    counters: RequestCounters::default(),
                },
                public_base: Mutex::new(None),
                dispatcher: webhooks::Dispatcher::new(http.clone(), retry_delays),
                http,
            }),
        }
    }

    /// The routes, wrapped in the fault/counter middleware.
    pub fn router(&self) -> Router {
        let sh = self.shared.clone();
        // Canonical collection paths get their own routes so the request counters read per endpoint
        // (`POST /api/v1/{division}/salesentry/SalesEntries`); keyed paths, other casings and the rest go through
        // the catch-all. Both reach the same handler, which parses the raw path.
        let mut router = Router::new();
        let mut seen = std::collections::BTreeSet::new();
        for def in model::sets() {
            let mut paths = Vec::new();
            if def.regular && def.path != model::ME {
                paths.push(def.path.to_owned());
            }
            if let Some(p) = def.sync {
                paths.push(format!("sync/{p}"));
            }
            if let Some(p) = def.bulk {
                paths.push(format!("bulk/{p}"));
            }
            for p in paths {
                if seen.insert(p.clone()) {
                    router = router.route(&format!("/api/v1/{{division}}/{p}"), any(api::v1));
                }
            }
        }
        let site_routes = router
            .route("/api/v1/{division}/sync/Deleted", any(api::v1))
            .route(
                "/api/v1/{division}/read/financial/ReceivablesList",
                any(api::v1),
            )
            .route("/api/oauth2/auth", get(oauth::authorize))
            .route("/api/oauth2/token", any(oauth::token))
            .route("/api/v1/current/Me", any(api::me))
            .route("/api/v1/{division}/{*rest}", any(api::v1))
            .route("/api/v1/beta/{division}/{*rest}", any(api::v1));
        // Every country site (`site::SITES`) at the root (told apart by Host) and under its own prefix.
        let mut router = site_routes
            .clone()
            .layer(axum::Extension(site::SitePrefix(None)));
        for (code, _) in site::SITES {
            router = router.nest(
                &format!("/{code}"),
                site_routes
                    .clone()
                    .layer(axum::Extension(site::SitePrefix(Some(code))))
                    .fallback(api::not_found),
            );
        }
        router
            .nest("/__emulator", admin::router())
            .route("/health", get(|| async { "ok" }))
            .fallback(api::not_found)
            .with_state(sh.clone())
            .layer(axum::middleware::from_fn_with_state(
                sh.layer.clone(),
                fault_middleware,
            ))
    }

    /// Serves on `127.0.0.1:0`.
    pub async fn spawn(&self) -> std::io::Result<RunningServer> {
        self.spawn_on(SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// Serves on `addr`.
    pub async fn spawn_on(&self, addr: SocketAddr) -> std::io::Result<RunningServer> {
        let server = serve(self.router(), addr).await?;
        *self.shared.public_base.lock() = Some(server.base_url());
        Ok(server)
    }

    pub fn config(&self) -> &ExactConfig {
        &self.shared.config
    }
    pub fn faults(&self) -> FaultInjector {
        self.shared.layer.faults.clone()
    }
    pub fn counters(&self) -> RequestCounters {
        self.shared.layer.counters.clone()
    }
    pub fn clock(&self) -> SharedClock {
        self.shared.config.clock.clone()
    }

    // ---- apps, divisions, users, tokens ---------------------------------------------------------------

    pub fn create_app(&self, app: AppRegistration) {
        let id = store::norm_client(&app.client_id);
        let name = if app.name.is_empty() {
            "Ledgerlink".to_owned()
        } else {
            app.name
        };
        self.shared.store.lock().apps.insert(
            id.clone(),
            store::App {
                client_id: id,
                client_secret: app.client_secret,
                webhook_secret: app.webhook_secret,
                redirect_uri: app.redirect_uri,
                name,
            },
        );
    }

    /// Creates a division with Exact's template data (journals 20/60/70/90, EUR/USD/GBP, VAT codes 0/1/2 and
    /// the combined 5, a small chart of accounts). Idempotent.
    pub fn create_division(&self, code: i32, description: &str) {
        let now = self.shared.now();
        self.shared
            .mutate(|st| st.create_division(code, description, now));
    }

    /// Creates a user with access to `divisions` (the first is the user's current division).
    pub fn create_user(&self, spec: UserSpec) -> Uuid {
        let mut st = self.shared.store.lock();
        let id = spec
            .id
            .unwrap_or_else(|| Uuid::parse_str(&st.new_guid()).unwrap_or_default());
        let user = store::User {
            id,
            full_name: spec.full_name,
            email: spec.email,
            current_division: spec.divisions.first().copied(),
            divisions: spec.divisions.into_iter().collect(),
        };
        if !st.users.contains_key(&id) {
            st.user_order.push(id);
        }
        st.users.insert(id, user);
        id
    }

    /// Gives or takes away a user's access to a division (division scoping).
    pub fn set_division_access(
        &self,
        user: Uuid,
        division: i32,
        allowed: bool,
    ) -> Result<(), ExactEmulatorError> {
        let mut st = self.shared.store.lock();
        let u = st
            .users
            .get_mut(&user)
            .ok_or(ExactEmulatorError::UnknownUser)?;
        if allowed {
            u.divisions.insert(division);
        } else {
            u.divisions.remove(&division);
        }
        Ok(())
    }

    /// Issues an authorization code as the consent screen would (skips the browser step).
    pub fn authorization_code(
        &self,
        client_id: &str,
        user: Option<Uuid>,
    ) -> Result<String, ExactEmulatorError> {
        let now = self.shared.now();
        let ttl = self.shared.config.code_ttl_secs;
        let mut st = self.shared.store.lock();
        oauth::issue_code(&mut st, client_id, user, None, site::DEFAULT_SITE, now, ttl)
    }

    /// Issues a token pair directly, as if the code exchange had just happened (on the Dutch site).
    pub fn issue_tokens(
        &self,
        client_id: &str,
        user: Option<Uuid>,
    ) -> Result<TokenPair, ExactEmulatorError> {
        self.issue_tokens_on_site(client_id, user, site::DEFAULT_SITE)
    }

    /// [`Self::issue_tokens`] on a country site (`site::SITES`: `nl`, `be`, `de`, `fr`, `es`, `uk`, `us`); the
    /// tokens work on that site only.
    pub fn issue_tokens_on_site(
        &self,
        client_id: &str,
        user: Option<Uuid>,
        site_code: &str,
    ) -> Result<TokenPair, ExactEmulatorError> {
        let site = site::known(site_code)
            .ok_or_else(|| ExactEmulatorError::BadRequest(format!("unknown site {site_code}")))?;
        let now = self.shared.now();
        let mut st = self.shared.store.lock();
        let app = st
            .apps
            .get(&store::norm_client(client_id))
            .cloned()
            .ok_or(ExactEmulatorError::UnknownClient)?;
        let user = oauth::consent_user(&st, user).ok_or(ExactEmulatorError::UnknownUser)?;
        Ok(oauth::issue_pair(
            &mut st,
            &app.client_id,
            user,
            site,
            now,
            self.shared.config.access_token_ttl_secs,
        ))
    }

    /// Successful refreshes per app.
    pub fn token_refreshes(&self, client_id: &str) -> u64 {
        self.shared
            .store
            .lock()
            .refresh_counts
            .get(&store::norm_client(client_id))
            .copied()
            .unwrap_or(0)
    }

    /// Calls to the token endpoint per app (successful or not).
    pub fn token_calls(&self, client_id: &str) -> u64 {
        self.shared
            .store
            .lock()
            .token_calls
            .get(&store::norm_client(client_id))
            .copied()
            .unwrap_or(0)
    }

    // ---- entities --------------------------------------------------------------------------------------

    fn set_def(path: &str) -> Result<&'static model::SetDef, ExactEmulatorError> {
        let mut it = path.trim_matches('/').splitn(2, '/');
        let (svc, ent) = (it.next().unwrap_or_default(), it.next().unwrap_or_default());
        model::regular(svc, ent)
            .or_else(|| model::sync(svc, ent))
            .ok_or_else(|| ExactEmulatorError::UnknownEntity(path.to_owned()))
    }

    /// Creates an entity through the same rules as a POST, except that read-only properties are accepted
    /// (e.g. a VAT code's `Percentage`). Returns the new key. Fires webhooks like a POST.
    pub fn seed(
        &self,
        division: i32,
        path: &str,
        fields: Value,
    ) -> Result<String, ExactEmulatorError> {
        let def = Self::set_def(path)?;
        let body = fields
            .as_object()
            .cloned()
            .ok_or_else(|| ExactEmulatorError::BadRequest("fields must be an object".into()))?;
        let now = self.shared.now();
        self.shared.mutate(|st| {
            if !st.divisions.contains_key(&division) {
                return Err(ExactEmulatorError::UnknownDivision(division));
            }
            st.create(division, def, &body, Uuid::nil(), now, true)
                .map(|(k, _)| k)
                .map_err(Into::into)
        })
    }

    /// Updates an entity as a PUT would (merge; read-only properties ignored).
    pub fn update(
        &self,
        division: i32,
        path: &str,
        key: &str,
        fields: Value,
    ) -> Result<(), ExactEmulatorError> {
        let def = Self::set_def(path)?;
        let body = fields
            .as_object()
            .cloned()
            .ok_or_else(|| ExactEmulatorError::BadRequest("fields must be an object".into()))?;
        let now = self.shared.now();
        self.shared.mutate(|st| {
            st.update(division, def, key, &body, Uuid::nil(), now)
                .map_err(Into::into)
        })
    }

    /// Deletes an entity (logged in `sync/Deleted`, webhooks fired).
    pub fn delete(&self, division: i32, path: &str, key: &str) -> Result<(), ExactEmulatorError> {
        let def = Self::set_def(path)?;
        let now = self.shared.now();
        self.shared.mutate(|st| {
            st.delete(division, def, key, Uuid::nil(), now, true)
                .map_err(Into::into)
        })
    }

    /// Every stored row of a set (wire form, plus `Timestamp`), in key order.
    pub fn entities(
        &self,
        division: i32,
        path: &str,
    ) -> Result<Vec<Map<String, Value>>, ExactEmulatorError> {
        let def = Self::set_def(path)?;
        let st = self.shared.store.lock();
        Ok(st
            .rows(division, def.path)
            .map(|r| {
                let mut d = r.data.clone();
                d.insert("Timestamp".into(), Value::from(r.ts));
                d
            })
            .collect())
    }

    /// One row by key.
    pub fn entity(
        &self,
        division: i32,
        path: &str,
        key: &str,
    ) -> Result<Option<Map<String, Value>>, ExactEmulatorError> {
        let def = Self::set_def(path)?;
        Ok(self
            .shared
            .store
            .lock()
            .get(division, def.path, key)
            .map(|r| r.data.clone()))
    }

    /// Rows of a set whose `field` equals `value` (JSON equality on the wire form).
    pub fn count_where(
        &self,
        division: i32,
        path: &str,
        field: &str,
        value: &Value,
    ) -> Result<usize, ExactEmulatorError> {
        let def = Self::set_def(path)?;
        Ok(self
            .shared
            .store
            .lock()
            .rows(division, def.path)
            .filter(|r| r.data.get(field) == Some(value))
            .count())
    }

    /// Sales entries carrying `your_ref` — what "zero duplicate documents" assertions count.
    pub fn count_sales_entries_with_your_ref(&self, division: i32, your_ref: &str) -> usize {
        self.count_where(
            division,
            model::SALES_ENTRIES,
            "YourRef",
            &Value::String(your_ref.to_owned()),
        )
        .unwrap_or(0)
    }

    /// Purchase entries carrying `your_ref`.
    pub fn count_purchase_entries_with_your_ref(&self, division: i32, your_ref: &str) -> usize {
        self.count_where(
            division,
            model::PURCHASE_ENTRIES,
            "YourRef",
            &Value::String(your_ref.to_owned()),
        )
        .unwrap_or(0)
    }

    /// Registers a customer receipt or a supplier/employee payment (full or partial), through the
    /// template's bank journal `20`.
    pub fn register_payment(
        &self,
        spec: PaymentSpec,
    ) -> Result<PaymentRecorded, ExactEmulatorError> {
        self.register_payment_through(spec, None)
    }

    /// [`Self::register_payment`] through a given bank journal (e.g. a second bank in another currency).
    pub fn register_payment_through(
        &self,
        spec: PaymentSpec,
        journal: Option<&str>,
    ) -> Result<PaymentRecorded, ExactEmulatorError> {
        let date = spec.date.unwrap_or_else(|| self.shared.now());
        let input = store::PaymentInput {
            division: spec.division,
            entry_id: spec.entry_id.to_ascii_lowercase(),
            amount: spec.amount,
            date,
            employee: spec.employee,
            journal: journal.map(str::to_owned),
        };
        self.shared
            .mutate(|st| st.register_payment(&input, Uuid::nil()).map_err(Into::into))
    }

    /// Reverses a registered payment (its `cashflow_row_id`); returns the reversal's ID. See the store.
    pub fn reverse_payment(
        &self,
        division: i32,
        payment_id: &str,
    ) -> Result<String, ExactEmulatorError> {
        let now = self.shared.now();
        let id = payment_id.to_ascii_lowercase();
        self.shared.mutate(|st| {
            st.reverse_payment(division, &id, Uuid::nil(), now)
                .map_err(Into::into)
        })
    }

    /// Uses up today's API budget of an app in a division (as other integrations of the customer would): calls
    /// answer the daily 429 until the next UTC midnight.
    pub fn exhaust_daily_budget(&self, client_id: &str, division: i32) {
        let now = self.shared.now();
        let limit = self.shared.config.daily_limit;
        let mut st = self.shared.store.lock();
        let w = st.rate.entry((client_id.to_owned(), division)).or_default();
        w.day = now.timestamp().div_euclid(86_400);
        w.day_count = limit;
    }

    /// Changes a payment's rows again (its status moves on): it moves to the end of the sync feed.
    pub fn touch_payment(&self, division: i32, payment_id: &str) -> Result<(), ExactEmulatorError> {
        let now = self.shared.now();
        let id = payment_id.to_ascii_lowercase();
        self.shared.mutate(|st| {
            st.touch_payment(division, &id, Uuid::nil(), now)
                .map_err(Into::into)
        })
    }

    /// Empties a payment's amount on its cashflow and PaymentTerms rows (a feed row without an amount).
    pub fn clear_payment_amount(
        &self,
        division: i32,
        payment_id: &str,
    ) -> Result<(), ExactEmulatorError> {
        let id = payment_id.to_ascii_lowercase();
        self.shared
            .mutate(|st| st.clear_payment_amount(division, &id).map_err(Into::into))
    }

    /// Adds a bank journal (`Type` 12) in `currency` to a division, with its own bank G/L account.
    pub fn create_bank_journal(
        &self,
        division: i32,
        code: &str,
        description: &str,
        currency: &str,
    ) -> Result<String, ExactEmulatorError> {
        let now = self.shared.now();
        let mut st = self.shared.store.lock();
        if !st.divisions.contains_key(&division) {
            return Err(ExactEmulatorError::UnknownDivision(division));
        }
        Ok(st.create_bank_journal(division, code, description, currency, now))
    }

    /// The current value of the shared rowversion counter.
    /// Moves `division` to another database, as Exact does for maintenance: `system/Divisions` shows the
    /// move in `DivisionMoveDate` and every sync `Timestamp` of the division is renumbered from the new
    /// database's counter, far below the old values. Returns the highest new `Timestamp`.
    pub fn move_division(&self, division: i32) -> Result<i64, ExactEmulatorError> {
        let now = self.shared.now();
        self.shared
            .store
            .lock()
            .move_division(division, now)
            .ok_or(ExactEmulatorError::UnknownDivision(division))
    }

    pub fn current_timestamp(&self) -> i64 {
        self.shared.store.lock().timestamp
    }

    // ---- webhooks ---------------------------------------------------------------------------------------

    /// Deliveries that failed and wait for a retry.
    pub fn webhook_retries_pending(&self) -> u64 {
        self.shared.dispatcher.retrying()
    }

    /// Every delivery attempt so far.
    pub fn webhook_deliveries(&self) -> Vec<DeliveryRecord> {
        self.shared.dispatcher.log()
    }

    /// Deliveries queued but not yet attempted.
    pub fn webhook_pending(&self) -> u64 {
        self.shared.dispatcher.pending()
    }

    /// Fault: send every delivery twice.
    pub fn set_duplicate_webhook_delivery(&self, on: bool) {
        self.shared.dispatcher.set_duplicate(on);
    }

    /// Waits (real time, polling every 10 ms) until at least `n` delivery attempts were made or `timeout`
    /// passed; returns the attempts.
    pub async fn wait_for_deliveries(
        &self,
        n: usize,
        timeout: std::time::Duration,
    ) -> Vec<DeliveryRecord> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let log = self.webhook_deliveries();
            if log.len() >= n || tokio::time::Instant::now() >= deadline {
                return log;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    /// A snapshot for the admin endpoint and the standalone binary.
    pub fn stats(&self) -> BTreeMap<String, Value> {
        let st = self.shared.store.lock();
        let mut out = BTreeMap::new();
        out.insert(
            "requests".into(),
            serde_json::to_value(self.shared.layer.counters.snapshot()).unwrap_or(Value::Null),
        );
        out.insert(
            "faults_injected".into(),
            serde_json::to_value(self.shared.layer.faults.injected()).unwrap_or(Value::Null),
        );
        out.insert(
            "token_refreshes".into(),
            serde_json::to_value(&st.refresh_counts).unwrap_or(Value::Null),
        );
        out.insert(
            "token_calls".into(),
            serde_json::to_value(&st.token_calls).unwrap_or(Value::Null),
        );
        out.insert("timestamp".into(), Value::from(st.timestamp));
        drop(st);
        out.insert(
            "webhook_deliveries".into(),
            Value::from(self.shared.dispatcher.log().len()),
        );
        out
    }
}
