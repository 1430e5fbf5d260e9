//! The caller's tenant and its two connections (Exact Online, Vantagepoint): view, update, test, pause and
//! resume.
//!
//! SECRETS ARE WRITE-ONLY. An update accepts secret VALUES (`client_secret`, `webhook_secret`, `password`),
//! stores them through the [`crate::SecretWriter`] under a name the server chooses (always under the
//! caller's tenant) and keeps only the reference in the tenant record. A request can never name a secret
//! (`*_ref` is refused): otherwise it could point a connection at another tenant's secret. No answer ever
//! carries a secret value or reference: views only say whether each secret is configured.
//!
//! CREDENTIALS ARE BOUND TO THEIR HOST. A client secret or password is stored bound to the endpoint
//! ([`ledgerlink_ports::issuer_of`]) of the connection's base URL at the time it is entered, and the flows
//! send it nowhere else. Changing a connection's `base_url` (to another endpoint) clears the credentials
//! that were entered for the old one — unless the same request gives new ones — and discards the
//! connection's stored tokens (Exact: a new consent is needed). Until the credentials are entered again the
//! connection's `state` is `needs-credentials`, and nothing is sent to the new host.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use ledgerlink_domain::{Division, TenantId};
use ledgerlink_flows::hosts::{ErpSystem, check_erp_url};
use ledgerlink_flows::{SecretValue, operator};
use ledgerlink_ports::ledger::LedgerError;
use ledgerlink_ports::psa::PsaError;
use ledgerlink_ports::{ConnectionState, SecretRef, Tenant, TokenRecord};
use serde::{Deserialize, Serialize};

use crate::ApiState;
use crate::auth::Caller;
use crate::conventions::{Versioned, expected_version};
use crate::error::{ApiError, ApiJson, ApiPath, ApiResult, RawBody};

/// Which connection of the tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum System {
    Exact,
    Vantagepoint,
}

/// Whether one connection can be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConnectionStatus {
    Active,
    /// The tenant is paused.
    Paused,
    /// A credential the connection sends is missing (e.g. after a change of `base_url`).
    NeedsCredentials,
}

#[derive(Debug, Serialize)]
pub struct ExactView {
    pub state: ConnectionStatus,
    pub base_url: String,
    pub division: u32,
    pub client_id: String,
    pub client_secret_configured: bool,
    pub webhook_secret_configured: bool,
}

#[derive(Debug, Serialize)]
pub struct VantagepointView {
    pub state: ConnectionStatus,
    pub base_url: String,
    pub database: String,
    pub culture: String,
    pub client_id: String,
    pub username: String,
    pub client_secret_configured: bool,
    pub password_configured: bool,
}

/// The tenant's connections, without any secret.
#[derive(Debug, Serialize)]
pub struct ConnectionsView {
    pub tenant: TenantId,
    pub name: String,
    pub state: ConnectionState,
    pub paused_reason: Option<String>,
    pub version: u64,
    pub updated_at: DateTime<Utc>,
    pub exact: ExactView,
    pub vantagepoint: VantagepointView,
}

fn configured(secret: &SecretRef) -> bool {
    match secret {
        SecretRef::SecretsManager(n) | SecretRef::Ssm(n) | SecretRef::Local(n) => !n.is_empty(),
    }
}

fn status(t: &Tenant, credentials: &[&SecretRef]) -> ConnectionStatus {
    if t.state == ConnectionState::Paused {
        ConnectionStatus::Paused
    } else if credentials.iter().all(|c| configured(c)) {
        ConnectionStatus::Active
    } else {
        ConnectionStatus::NeedsCredentials
    }
}

impl From<&Tenant> for ConnectionsView {
    fn from(t: &Tenant) -> Self {
        Self {
            tenant: t.id.clone(),
            name: t.name.clone(),
            state: t.state,
            paused_reason: t.paused_reason.clone(),
            version: t.version,
            updated_at: t.updated_at,
            exact: ExactView {
                state: status(t, &[&t.exact_client_secret]),
                base_url: t.exact_base_url.clone(),
                division: t.exact_division.0,
                client_id: t.exact_client_id.clone(),
                client_secret_configured: configured(&t.exact_client_secret),
                webhook_secret_configured: configured(&t.exact_webhook_secret),
            },
            vantagepoint: VantagepointView {
                state: status(t, &[&t.vp_client_secret, &t.vp_password]),
                base_url: t.vp_base_url.clone(),
                database: t.vp_database.clone(),
                culture: t.vp_culture.clone(),
                client_id: t.vp_client_id.clone(),
                username: t.vp_username.clone(),
                client_secret_configured: configured(&t.vp_client_secret),
                password_configured: configured(&t.vp_password),
            },
        }
    }
}

/// Who the key acts as, for the page's header.
#[derive(Debug, Serialize)]
pub struct Me {
    pub tenant: TenantId,
    pub tenant_name: String,
    pub user: String,
    /// The key's role: the page hides what it cannot do.
    pub role: crate::auth::Role,
    pub key_id: String,
}

pub async fn me(caller: Caller) -> Json<Me> {
    Json(Me {
        tenant: caller.tenant,
        tenant_name: caller.record.name,
        user: caller.user,
        role: caller.role,
        key_id: caller.key_id,
    })
}

/// The connections, with the tenant record's version as `ETag` (what `If-Match` of an update names).
pub async fn list(caller: Caller) -> Versioned<ConnectionsView> {
    Versioned {
        version: caller.record.version,
        body: ConnectionsView::from(&caller.record),
    }
}

/// A partial update of one connection. Absent fields stay as they are. Secrets are given as values only;
/// the server stores them and chooses their names.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionUpdate {
    /// The tenant record version the change is based on (optimistic concurrency); the current one if absent.
    pub version: Option<u64>,
    pub base_url: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    /// Refused: a request cannot name a secret (kept only to answer with a clear error).
    pub client_secret_ref: Option<serde_json::Value>,
    // Exact only
    pub division: Option<u32>,
    pub webhook_secret: Option<String>,
    /// Refused, as `client_secret_ref`.
    pub webhook_secret_ref: Option<serde_json::Value>,
    // Vantagepoint only
    pub database: Option<String>,
    pub culture: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    /// Refused, as `client_secret_ref`.
    pub password_ref: Option<serde_json::Value>,
}

/// A secret value of an update: its field name, the value, and the endpoint it is bound to (`None` for
/// secrets that are only compared, never sent: webhook secrets).
struct SecretField<'a> {
    name: &'static str,
    value: Option<&'a String>,
    bound_to: Option<&'a str>,
}

fn check_url(field: &str, url: &str) -> ApiResult<()> {
    let ok = (url.starts_with("https://") || url.starts_with("http://"))
        && url.len() <= 2048
        && !url.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid(field, "must be an http(s) URL"))
    }
}

fn check_text(field: &str, value: &str, max: usize) -> ApiResult<()> {
    if value.trim().is_empty() || value.chars().count() > max || value.chars().any(char::is_control)
    {
        return Err(ApiError::invalid(
            field,
            format!("must be 1 to {max} printable characters"),
        ));
    }
    Ok(())
}

async fn store_secret(
    state: &ApiState,
    tenant: &TenantId,
    system: System,
    field: SecretField<'_>,
) -> ApiResult<Option<SecretRef>> {
    match field.value {
        Some(value) => {
            if value.is_empty() || value.len() > 4096 {
                return Err(ApiError::invalid(field.name, "must be 1 to 4096 bytes"));
            }
            let writer = state.secret_writer.as_ref().ok_or_else(|| {
                ApiError::NotSupported(format!(
                    "This deployment does not store secret values, so `{}` cannot be changed here.",
                    field.name
                ))
            })?;
            let name = format!(
                "{}/{}",
                match system {
                    System::Exact => "exact",
                    System::Vantagepoint => "vantagepoint",
                },
                field.name
            );
            let secret = match field.bound_to {
                Some(issuer) => SecretValue::bound(value.clone(), issuer),
                None => SecretValue::new(value.clone()),
            };
            let stored = writer.write(tenant, &name, &secret).await.map_err(|e| {
                tracing::error!(error = %e, "secret could not be stored");
                ApiError::Unavailable("The secret could not be stored; try again.".into())
            })?;
            Ok(Some(stored))
        }
        None => Ok(None),
    }
}

/// The endpoint identity of a connection's base URL (what its credentials and tokens are bound to).
fn issuer(system: System, field: &str, url: &str) -> ApiResult<String> {
    match system {
        System::Exact => ledgerlink_exact::issuer(url).map_err(|_| ()),
        System::Vantagepoint => ledgerlink_vantagepoint::issuer(url).map_err(|_| ()),
    }
    .map_err(|()| ApiError::invalid(field, "must be an http(s) URL"))
}

/// The token-store name of a tenant's connection.
fn token_connection(system: System, tenant: &TenantId) -> String {
    match system {
        System::Exact => ledgerlink_exact::connection_name(tenant),
        System::Vantagepoint => format!("vantagepoint:{tenant}"),
    }
}

/// A credential reference that names nothing: the connection needs it entered again.
fn cleared(secret: &SecretRef) -> SecretRef {
    match secret {
        SecretRef::SecretsManager(_) => SecretRef::SecretsManager(String::new()),
        SecretRef::Ssm(_) => SecretRef::Ssm(String::new()),
        SecretRef::Local(_) => SecretRef::Local(String::new()),
    }
}

pub async fn update(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    ApiPath(system): ApiPath<System>,
    headers: axum::http::HeaderMap,
    ApiJson(update): ApiJson<ConnectionUpdate>,
) -> ApiResult<Versioned<ConnectionsView>> {
    let mut record = caller.record.clone();
    // `If-Match` (the ETag of GET /api/connections), else the body's `version`, else 428.
    let expected = expected_version(&headers, update.version, record.version, "The connections")?;
    for (field, given) in [
        ("client_secret_ref", update.client_secret_ref.is_some()),
        ("webhook_secret_ref", update.webhook_secret_ref.is_some()),
        ("password_ref", update.password_ref.is_some()),
    ] {
        if given {
            return Err(ApiError::invalid(
                field,
                "secret references are not accepted: give the secret's value, the service chooses where it is stored",
            ));
        }
    }
    if let Some(url) = &update.base_url {
        check_url("base_url", url)?;
        let kind = match system {
            System::Exact => ErpSystem::Exact,
            System::Vantagepoint => ErpSystem::Vantagepoint,
        };
        check_erp_url(kind, url, &state.flows.connections.allowed_hosts())
            .map_err(|reason| ApiError::invalid("base_url", reason))?;
    }
    let current_url = match system {
        System::Exact => record.exact_base_url.clone(),
        System::Vantagepoint => record.vp_base_url.clone(),
    };
    let target_url = update
        .base_url
        .clone()
        .unwrap_or_else(|| current_url.clone());
    let target_issuer = issuer(system, "base_url", &target_url)?;
    // A base URL naming another endpoint: the credentials entered for the old one stay behind.
    let host_changed =
        issuer(system, "base_url", &current_url).ok().as_deref() != Some(target_issuer.as_str());
    if let Some(id) = &update.client_id {
        check_text("client_id", id, 200)?;
    }
    let misplaced = match system {
        System::Exact => [
            ("database", update.database.is_some()),
            ("culture", update.culture.is_some()),
            ("username", update.username.is_some()),
            ("password", update.password.is_some()),
        ],
        System::Vantagepoint => [
            ("division", update.division.is_some()),
            ("webhook_secret", update.webhook_secret.is_some()),
            ("", false),
            ("", false),
        ],
    };
    if let Some((field, _)) = misplaced.iter().find(|(_, given)| *given) {
        return Err(ApiError::invalid(
            *field,
            "does not belong to this connection",
        ));
    }
    let client_secret = SecretField {
        name: "client_secret",
        value: update.client_secret.as_ref(),
        bound_to: Some(&target_issuer),
    };
    match system {
        System::Exact => {
            if let Some(url) = update.base_url {
                record.exact_base_url = url;
            }
            if host_changed {
                record.exact_client_secret = cleared(&record.exact_client_secret);
            }
            if let Some(id) = update.client_id {
                record.exact_client_id = id;
            }
            if let Some(division) = update.division {
                if division == 0 {
                    return Err(ApiError::invalid("division", "must be a positive number"));
                }
                record.exact_division = Division(division);
            }
            if let Some(r) = store_secret(&state, &caller.tenant, system, client_secret).await? {
                record.exact_client_secret = r;
            }
            let webhook = SecretField {
                name: "webhook_secret",
                value: update.webhook_secret.as_ref(),
                bound_to: None,
            };
            if let Some(r) = store_secret(&state, &caller.tenant, system, webhook).await? {
                record.exact_webhook_secret = r;
            }
        }
        System::Vantagepoint => {
            if let Some(url) = update.base_url {
                record.vp_base_url = url;
            }
            if host_changed {
                record.vp_client_secret = cleared(&record.vp_client_secret);
                record.vp_password = cleared(&record.vp_password);
            }
            if let Some(id) = update.client_id {
                record.vp_client_id = id;
            }
            if let Some(database) = update.database {
                check_text("database", &database, 200)?;
                record.vp_database = database;
            }
            if let Some(culture) = update.culture {
                check_text("culture", &culture, 20)?;
                record.vp_culture = culture;
            }
            if let Some(username) = update.username {
                check_text("username", &username, 200)?;
                record.vp_username = username;
            }
            if let Some(r) = store_secret(&state, &caller.tenant, system, client_secret).await? {
                record.vp_client_secret = r;
            }
            let password = SecretField {
                name: "password",
                value: update.password.as_ref(),
                bound_to: Some(&target_issuer),
            };
            if let Some(r) = store_secret(&state, &caller.tenant, system, password).await? {
                record.vp_password = r;
            }
        }
    }
    record.updated_at = state.now();
    let stored = state
        .stores()
        .tenants
        .put(&record, Some(expected))
        .await
        .map_err(|e| ApiError::from_store(e, "the tenant's connections"))?;
    if host_changed {
        discard_tokens(&state, &caller.tenant, system).await?;
    }
    Ok(Versioned {
        version: stored.version,
        body: ConnectionsView::from(&stored),
    })
}

/// Replaces a connection's stored tokens with none. (Clients already refuse tokens of another issuer;
/// this also removes them from the store.)
async fn discard_tokens(state: &ApiState, tenant: &TenantId, system: System) -> ApiResult<()> {
    let now = state.now();
    let none = TokenRecord {
        connection: token_connection(system, tenant),
        issuer: String::new(),
        access_token: String::new(),
        refresh_token: String::new(),
        access_expires_at: now,
        issued_at: now,
        generation: 0,
    };
    state
        .stores()
        .tokens
        .save_initial(&none)
        .await
        .map_err(|e| ApiError::from_store(e, "the connection's tokens"))?;
    tracing::info!(%tenant, ?system, "base URL changed: credentials cleared and tokens discarded");
    Ok(())
}

/// The result of testing a connection: reachable with these credentials, or why not (in operator terms).
#[derive(Debug, Serialize)]
pub struct TestResult {
    pub system: System,
    pub ok: bool,
    pub message: String,
}

fn ledger_problem(e: &LedgerError) -> &'static str {
    match e {
        LedgerError::ReconnectNeeded { .. } => {
            "Exact Online refused the authorisation: reconnect the app."
        }
        LedgerError::RateLimited { .. } => "Exact Online's rate limit is reached; try again later.",
        LedgerError::Transient { .. } | LedgerError::OutcomeUnknown { .. } => {
            "Exact Online could not be reached; try again later."
        }
        _ => "Exact Online refused the request; check the connection settings.",
    }
}

fn psa_problem(e: &PsaError) -> &'static str {
    match e {
        PsaError::Unauthorized { .. } => "Vantagepoint refused the credentials.",
        PsaError::Forbidden { .. } => "Vantagepoint denied access to the user.",
        PsaError::Transient { .. } | PsaError::OutcomeUnknown { .. } => {
            "Vantagepoint could not be reached; try again later."
        }
        _ => "Vantagepoint refused the request; check the connection settings.",
    }
}

pub async fn test(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    ApiPath(system): ApiPath<System>,
) -> ApiResult<Json<TestResult>> {
    let unusable = |e: ledgerlink_flows::FlowError| {
        tracing::info!(tenant = %caller.tenant, error = %e, "connection could not be built");
        "The connection could not be set up: check its URL and secrets."
    };
    let connections = &state.flows.connections;
    let outcome = match system {
        System::Exact => match connections.connect_ledger(&caller.record).await {
            Ok(ledger) => ledger.currencies().await.map(|_| ()).map_err(|e| {
                tracing::info!(tenant = %caller.tenant, error = %e, "Exact connection test failed");
                ledger_problem(&e)
            }),
            Err(e) => Err(unusable(e)),
        },
        System::Vantagepoint => match connections.connect_psa(&caller.record).await {
            Ok(psa) => psa.active_period().await.map(|_| ()).map_err(|e| {
                tracing::info!(tenant = %caller.tenant, error = %e, "Vantagepoint connection test failed");
                psa_problem(&e)
            }),
            Err(e) => Err(unusable(e)),
        },
    };
    Ok(Json(match outcome {
        Ok(()) => TestResult {
            system,
            ok: true,
            message: "The connection works.".into(),
        },
        Err(message) => TestResult {
            system,
            ok: false,
            message: message.into(),
        },
    }))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PauseRequest {
    pub reason: Option<String>,
}

pub async fn pause(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    RawBody(body): RawBody,
) -> ApiResult<Json<ConnectionsView>> {
    let request: PauseRequest = if body.iter().all(u8::is_ascii_whitespace) {
        PauseRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::Body {
            status: axum::http::StatusCode::BAD_REQUEST,
            detail: format!("The body is not a pause request: {e}"),
        })?
    };
    let reason = request
        .reason
        .unwrap_or_else(|| format!("Paused by {}", caller.user));
    check_text("reason", &reason, 500)?;
    state
        .flows
        .pause(&caller.tenant, &reason)
        .await
        .map_err(ApiError::from_flow)?;
    current(&state, &caller.tenant).await
}

pub async fn resume(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
) -> ApiResult<Json<ConnectionsView>> {
    operator::resume(&state.flows, &caller.tenant)
        .await
        .map_err(ApiError::from_flow)?;
    current(&state, &caller.tenant).await
}

async fn current(state: &ApiState, tenant: &TenantId) -> ApiResult<Json<ConnectionsView>> {
    let record = state
        .stores()
        .tenants
        .get(tenant)
        .await
        .map_err(|e| ApiError::from_store(e, "the tenant"))?
        .ok_or_else(|| ApiError::not_found("The tenant does not exist."))?;
    Ok(Json(ConnectionsView::from(&record)))
}
