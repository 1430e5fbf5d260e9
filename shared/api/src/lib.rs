//! The HTTP API of Ledgerlink and its operator page: ONE axum [`Router`] that the `api` Lambda runs behind
//! API Gateway (HTTP API, payload format 2.0, through `lambda_http`) and the local stack serves directly.
//!
//! What it owns:
//! - [`auth`]: per-tenant API keys (`Authorization: Bearer llk_<tenant>_<secret>`, SHA-256 hashes stored with
//!   the tenant, compared in constant time), each with a role and an optional expiry. The tenant of every
//!   data access comes from the key only.
//! - [`keys`]: issue / list / revoke a tenant's keys (admin role; also used by the admin command).
//! - [`webhooks`]: Exact Online (HashCode over the raw `Content` bytes) and Vantagepoint workflow webhooks
//!   (Basic auth or a shared secret). Both only ENQUEUE work (a Discover message for the right flow and
//!   tenant); the flows do the work.
//! - [`objects`]: the Integration page (seed 002): the per-object status list with its filters and cursor
//!   pagination, object detail with attempt history and (firms, employees) the ledger link, Synchronize /
//!   Force synchronize with a per-object result, link actions (relink, unlink, adopt, new account), counts
//!   per status, and the sync-health aggregate.
//! - [`jobs`]: export definitions and runs, the export history (seed 003: every column, download links issued
//!   on request, Reset task, Mark task as failed), imports (templates, direct or presigned uploads, result
//!   summaries) and the Integrations Manager (seed 000), all through the `ledgerlink-jobs` use cases.
//! - [`lookups`], [`connections`] (secrets are write-only), [`notifications`].
//! - [`consent`]: Exact Online consent (an admin is sent to Exact's authorize URL with a signed, single-use,
//!   tenant-bound `state`; the callback exchanges the code, the admin picks the division, the webhooks are
//!   subscribed) and the Exact connection's health.
//! - [`page`]: the operator page (static HTML/JS/CSS compiled in) and the OpenAPI document.
//! - [`error`]: every failure as `application/problem+json`, with size limits (413) and typed extractors.
//! - [`conventions`]: `instance` on every problem, `Location` on every 201, `ETag` / `If-Match` on the
//!   resources that are PUT; [`idempotency`]: `Idempotency-Key` on the POSTs that start work.
//! - [`throttle`]: per-tenant request limits (429 with `Retry-After`), spent only by verified requests.
//!
//! Public without a key: the page's static files, `GET /openapi.yaml`, `GET /healthz`, the webhooks (they
//! are authenticated by their signature instead), the Exact consent callback and division form (the signed
//! `state` / division token authenticates them) and, in the local stack, signed file links. Everything
//! under `/api/` requires a key.
//!
//! Provisioning a key: `POST /api/keys` with an admin key, or the admin command (`ledgerlink admin keys
//! issue`), both through [`keys::issue`]: the token is shown once; only its SHA-256 hash is kept in the tenant
//! record's `api_keys` setting.
//!
//! # Roles
//!
//! Every key has a role; each role includes the ones above it in this list. A key stored before roles
//! existed acts as `admin`. A request whose key's role is too low gets `403` (problem+json) naming the role
//! needed, before anything is read or done. The table is [`auth::ROUTE_ROLES`]; a route missing from it
//! needs `admin` (a test checks that every `/api/` route is listed).
//!
//! | role | may | routes |
//! |---|---|---|
//! | `viewer` | read everything of its tenant (the Exact connection's health included); download finished exports; mark its own notifications read | every `GET /api/...` except `/api/keys`; `POST /api/jobs/{id}/download`; `POST /api/notifications/{id}/read` |
//! | `operator` | run the integration day to day: sync actions, link actions, jobs, exports, imports, integrations; test a connection (sends the stored credentials to the connection's own host, changes nothing) | `POST /api/objects/synchronize`, `/force-synchronize`, `/link`; `POST /api/jobs/{id}/reset`, `/mark-failed`; create / update / delete / run / copy export definitions; `POST /api/imports`, `/uploads`, `/{id}/submit`; create / update / delete / run integrations; `POST /api/connections/{system}/test` |
//! | `admin` | change what the integration connects to and how it maps: connections (base URLs, secrets, Exact consent), pause / resume, lookup tables (they decide what is posted to the ledger), the tenant's keys | `PUT /api/connections/{system}`; `POST /api/connections/exact/consent`; `POST /api/connections/pause`, `/resume`; `PUT`/`DELETE /api/lookups/{table}/{key}`; `GET`/`POST /api/keys`, `GET`/`DELETE /api/keys/{id}`; any route not in the table |
//!
//! Features: `local` adds the embedded store's signed file links (`GET`/`PUT /files/{tenant}/{key}`).

pub mod auth;
pub mod connections;
pub mod consent;
pub mod conventions;
pub mod error;
#[cfg(feature = "local")]
pub mod files;
pub mod idempotency;
pub mod jobs;
pub mod keys;
pub mod lookups;
pub mod notifications;
pub mod objects;
pub mod page;
pub mod secrets;
pub mod throttle;
pub mod webhooks;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post, put};
use ledgerlink_flows::{FlowContext, SecretResolver};
use ledgerlink_jobs::{JobSettings, JobsContext};
use ledgerlink_ports::{ExportStorage, StateStores};

pub use auth::{
    Caller, IssuedApiKey, Role, StoredApiKey, add_api_key, hash_api_key, issue_api_key,
};
pub use error::{ApiError, ApiResult};
pub use secrets::{LocalSecretWriter, SecretWriter};

/// Request-size limits. JSON bodies are small; imports are files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest JSON (and webhook) body, bytes.
    pub json_body: usize,
    /// Largest uploaded import file, bytes.
    pub import_body: usize,
    /// Most objects one Synchronize / Force synchronize may name.
    pub max_selection: usize,
    /// Requests a minute one tenant may make to the API (and, separately, webhook deliveries a minute);
    /// over it, 429 with `Retry-After` ([`throttle`]). 0: no limit.
    pub tenant_requests_per_minute: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            json_body: 1024 * 1024,
            import_body: 20 * 1024 * 1024,
            max_selection: 500,
            tenant_requests_per_minute: 3000,
        }
    }
}

/// Everything the handlers need, built once per process (a Lambda's cold start, the local stack's start).
#[derive(Debug)]
pub struct ApiState {
    /// The flows' context: state ports, work queue, connection provider and clock.
    pub flows: FlowContext,
    /// Export files and the presigned links to them.
    pub storage: Arc<dyn ExportStorage>,
    /// Reads the secrets tenant records refer to (webhook secrets); values are never logged.
    pub secrets: Arc<dyn SecretResolver>,
    /// Stores secret values given to the connections API; `None` where this deployment only accepts
    /// references to secrets managed elsewhere.
    pub secret_writer: Option<Arc<dyn SecretWriter>>,
    /// The local stack's folder storage, whose signed links `/files/...` serves.
    #[cfg(feature = "local")]
    pub local_files: Option<ledgerlink_store_embedded::FolderStorage>,
    /// The jobs crate's context (same ports), for exports, imports and the Integrations Manager.
    pub jobs: JobsContext,
    pub limits: Limits,
    /// The per-tenant request buckets ([`throttle`]), sized by `limits`.
    pub throttle: throttle::Throttle,
    /// Exact consent (redirect URI and state key); `None`: the consent routes answer 501.
    pub consent: Option<consent::ConsentSettings>,
}

impl ApiState {
    pub fn new(
        flows: FlowContext,
        storage: Arc<dyn ExportStorage>,
        secrets: Arc<dyn SecretResolver>,
    ) -> Self {
        let jobs = JobsContext::new(
            flows.stores.clone(),
            storage.clone(),
            flows.queue.clone(),
            flows.clock.clone(),
        )
        .with_connections(flows.connections.clone());
        Self {
            jobs,
            flows,
            storage,
            secrets,
            secret_writer: None,
            #[cfg(feature = "local")]
            local_files: None,
            limits: Limits::default(),
            throttle: throttle::Throttle::new(Limits::default().tenant_requests_per_minute),
            consent: None,
        }
    }

    pub fn with_consent(mut self, consent: consent::ConsentSettings) -> Self {
        self.consent = Some(consent);
        self
    }

    pub fn with_secret_writer(mut self, writer: Arc<dyn SecretWriter>) -> Self {
        self.secret_writer = Some(writer);
        self
    }

    #[cfg(feature = "local")]
    pub fn with_local_files(mut self, files: ledgerlink_store_embedded::FolderStorage) -> Self {
        self.local_files = Some(files);
        self
    }

    pub fn with_job_settings(mut self, settings: JobSettings) -> Self {
        self.jobs = self.jobs.with_settings(settings);
        self
    }

    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self.throttle = throttle::Throttle::new(limits.tenant_requests_per_minute);
        self
    }

    pub fn stores(&self) -> &StateStores {
        &self.flows.stores
    }

    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.flows.clock.now()
    }
}

/// Every route of the router as (method, OpenAPI path). The OpenAPI document must list each one (a test
/// checks both directions), and every `/api/` route must refuse a request without a key.
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/"),
    ("GET", "/app.js"),
    ("GET", "/app.css"),
    ("GET", "/openapi.yaml"),
    ("GET", "/healthz"),
    ("POST", "/webhooks/exact/{tenant}"),
    ("POST", "/webhooks/vantagepoint/{tenant}"),
    ("GET", "/oauth/exact/callback"),
    ("POST", "/oauth/exact/division"),
    ("GET", "/api/me"),
    ("GET", "/api/objects"),
    ("GET", "/api/objects/counts"),
    ("GET", "/api/objects/{type}/{key}"),
    ("POST", "/api/objects/synchronize"),
    ("POST", "/api/objects/force-synchronize"),
    ("POST", "/api/objects/link"),
    ("GET", "/api/health/sync"),
    ("GET", "/api/jobs"),
    ("GET", "/api/jobs/{id}"),
    ("POST", "/api/jobs/{id}/download"),
    ("POST", "/api/jobs/{id}/reset"),
    ("POST", "/api/jobs/{id}/mark-failed"),
    ("GET", "/api/export-definitions"),
    ("POST", "/api/export-definitions"),
    ("GET", "/api/export-definitions/{id}"),
    ("PUT", "/api/export-definitions/{id}"),
    ("DELETE", "/api/export-definitions/{id}"),
    ("POST", "/api/export-definitions/{id}/run"),
    ("POST", "/api/export-definitions/{id}/copy"),
    ("GET", "/api/export-sources"),
    ("GET", "/api/imports/templates"),
    ("GET", "/api/imports/templates/{name}"),
    ("POST", "/api/imports"),
    ("GET", "/api/imports/{id}/summary"),
    ("POST", "/api/imports/uploads"),
    ("POST", "/api/imports/{id}/submit"),
    ("GET", "/api/integrations"),
    ("POST", "/api/integrations"),
    ("GET", "/api/integrations/{id}"),
    ("PUT", "/api/integrations/{id}"),
    ("DELETE", "/api/integrations/{id}"),
    ("GET", "/api/integrations/{id}/periods/{period}"),
    ("POST", "/api/integrations/{id}/run"),
    ("GET", "/api/lookups"),
    ("GET", "/api/lookups/{table}"),
    ("GET", "/api/lookups/{table}/{key}"),
    ("PUT", "/api/lookups/{table}/{key}"),
    ("DELETE", "/api/lookups/{table}/{key}"),
    ("GET", "/api/connections"),
    ("PUT", "/api/connections/{system}"),
    ("POST", "/api/connections/{system}/test"),
    ("POST", "/api/connections/exact/consent"),
    ("GET", "/api/connections/exact/health"),
    ("POST", "/api/connections/pause"),
    ("POST", "/api/connections/resume"),
    ("GET", "/api/notifications"),
    ("POST", "/api/notifications/{id}/read"),
    ("GET", "/api/keys"),
    ("POST", "/api/keys"),
    ("GET", "/api/keys/{id}"),
    ("DELETE", "/api/keys/{id}"),
];

/// One log line per request: method, the matched route (never the raw URI, whose query may hold a signed
/// link), status and latency.
async fn access_log(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    tracing::info!(
        %method,
        route,
        status = response.status().as_u16(),
        millis = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        "request"
    );
    response
}

/// Routes only the local stack serves (feature `local`): its signed file links.
pub const LOCAL_ROUTES: &[(&str, &str)] = &[
    ("GET", "/files/{tenant}/{key}"),
    ("PUT", "/files/{tenant}/{key}"),
];

/// The router of the API and the page. The same value serves the Lambda and the local stack.
pub fn router(state: ApiState) -> Router {
    let json_limit = state.limits.json_body;
    let import_limit = state.limits.import_body;
    let state = Arc::new(state);
    let api = Router::new()
        .route("/api/me", get(connections::me))
        .route("/api/objects", get(objects::list))
        .route("/api/objects/counts", get(objects::counts))
        .route("/api/objects/{type}/{*key}", get(objects::detail))
        .route("/api/objects/synchronize", post(objects::synchronize))
        .route(
            "/api/objects/force-synchronize",
            post(objects::force_synchronize),
        )
        .route("/api/objects/link", post(objects::link))
        .route("/api/health/sync", get(objects::health))
        .route("/api/jobs", get(jobs::list))
        .route("/api/jobs/{id}", get(jobs::detail))
        .route("/api/jobs/{id}/download", post(jobs::download))
        .route("/api/jobs/{id}/reset", post(jobs::reset))
        .route("/api/jobs/{id}/mark-failed", post(jobs::mark_failed))
        .route(
            "/api/export-definitions",
            get(jobs::definitions).post(jobs::create_definition),
        )
        .route(
            "/api/export-definitions/{id}",
            get(jobs::definition)
                .put(jobs::update_definition)
                .delete(jobs::delete_definition),
        )
        .route(
            "/api/export-definitions/{id}/run",
            post(jobs::run_definition),
        )
        .route(
            "/api/export-definitions/{id}/copy",
            post(jobs::copy_definition),
        )
        .route("/api/export-sources", get(jobs::sources))
        .route("/api/imports/templates", get(jobs::templates))
        .route("/api/imports/templates/{name}", get(jobs::template_file))
        .route(
            "/api/imports",
            post(jobs::upload).layer(DefaultBodyLimit::max(import_limit)),
        )
        .route("/api/imports/{id}/summary", get(jobs::import_summary))
        .route("/api/imports/uploads", post(jobs::begin_upload))
        .route("/api/imports/{id}/submit", post(jobs::submit))
        .route(
            "/api/integrations",
            get(jobs::list_integrations).post(jobs::create_integration),
        )
        .route(
            "/api/integrations/{id}",
            get(jobs::integration)
                .put(jobs::update_integration)
                .delete(jobs::delete_integration),
        )
        .route(
            "/api/integrations/{id}/periods/{period}",
            get(jobs::period_states),
        )
        .route("/api/integrations/{id}/run", post(jobs::run_integration))
        .route("/api/lookups", get(lookups::tables))
        .route("/api/lookups/{table}", get(lookups::list))
        .route(
            "/api/lookups/{table}/{key}",
            get(lookups::get).put(lookups::put).delete(lookups::delete),
        )
        .route("/api/connections", get(connections::list))
        .route("/api/connections/pause", post(connections::pause))
        .route("/api/connections/resume", post(connections::resume))
        .route("/api/connections/{system}", put(connections::update))
        .route("/api/connections/{system}/test", post(connections::test))
        .route("/api/connections/exact/consent", post(consent::begin))
        .route("/api/connections/exact/health", get(consent::health))
        .route("/api/notifications", get(notifications::list))
        .route("/api/notifications/{id}/read", post(notifications::read))
        .route("/api/keys", get(keys::list_keys).post(keys::issue_key))
        .route(
            "/api/keys/{id}",
            get(keys::get_key).delete(keys::revoke_key),
        );
    // `Idempotency-Key` on the POSTs that start work (idempotency::ROUTES); inside authentication, so the
    // tenant is known and an unauthenticated request stores nothing.
    let api = api.route_layer(axum::middleware::from_fn_with_state(
        state.clone(),
        idempotency::idempotent,
    ));
    // Authentication and the role check of every `/api/` route (auth::ROUTE_ROLES), on the whole `api`
    // router: every route added to it above gets it.
    let api = api.route_layer(axum::middleware::from_fn_with_state(
        state.clone(),
        auth::authorize,
    ));

    let public = Router::new()
        .route("/", get(page::index))
        .route("/app.js", get(page::script))
        .route("/app.css", get(page::style))
        .route("/openapi.yaml", get(page::openapi))
        .route("/healthz", get(page::healthz))
        .route("/webhooks/exact/{tenant}", post(webhooks::exact))
        .route(
            "/webhooks/vantagepoint/{tenant}",
            post(webhooks::vantagepoint),
        )
        .route(consent::CALLBACK_PATH, get(consent::callback))
        .route(consent::DIVISION_PATH, post(consent::choose_division));

    #[cfg(feature = "local")]
    let public = public.route(
        "/files/{tenant}/{*key}",
        get(files::download)
            .put(files::upload)
            .layer(DefaultBodyLimit::max(import_limit)),
    );

    api.merge(public)
        .fallback(page::not_found)
        .layer(axum::middleware::from_fn(access_log))
        .method_not_allowed_fallback(page::method_not_allowed)
        .layer(DefaultBodyLimit::max(json_limit))
        .layer(axum::middleware::from_fn(conventions::problem_instance))
        .with_state(state)
}
