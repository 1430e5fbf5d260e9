//! The caller's tenant and its two connections (Exact Online, Vantagepoint): view, update, test, pause and
//! resume.
//!
//! SECRETS ARE WRITE-ONLY. An update accepts secret values (`client_secret`, `webhook_secret`, `password`),
//! stores them through the [`crate::SecretWriter`] and keeps only the reference in the tenant record; or it
//! accepts a reference (`*_ref`) to a secret managed elsewhere (Secrets Manager / SSM). No answer ever
//! carries a secret value or reference: views only say whether each secret is configured.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use ledgerlink_domain::{Division, TenantId};
use ledgerlink_flows::{SecretValue, operator};
use ledgerlink_ports::ledger::LedgerError;
use ledgerlink_ports::psa::PsaError;
use ledgerlink_ports::{ConnectionState, SecretRef, Tenant};
use serde::{Deserialize, Serialize};

use crate::ApiState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiJson, ApiPath, ApiResult, RawBody};

/// Which connection of the tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum System {
    Exact,
    Vantagepoint,
}

#[derive(Debug, Serialize)]
pub struct ExactView {
    pub base_url: String,
    pub division: u32,
    pub client_id: String,
    pub client_secret_configured: bool,
    pub webhook_secret_configured: bool,
}

#[derive(Debug, Serialize)]
pub struct VantagepointView {
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
                base_url: t.exact_base_url.clone(),
                division: t.exact_division.0,
                client_id: t.exact_client_id.clone(),
                client_secret_configured: configured(&t.exact_client_secret),
                webhook_secret_configured: configured(&t.exact_webhook_secret),
            },
            vantagepoint: VantagepointView {
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
}

pub async fn me(caller: Caller) -> Json<Me> {
    Json(Me {
        tenant: caller.tenant,
        tenant_name: caller.record.name,
        user: caller.user,
    })
}

pub async fn list(caller: Caller) -> Json<ConnectionsView> {
    Json(ConnectionsView::from(&caller.record))
}

/// A partial update of one connection. Absent fields stay as they are. Secrets: a value (stored through
/// the secret writer) or a reference, never both.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionUpdate {
    /// The tenant record version the change is based on (optimistic concurrency); the current one if absent.
    pub version: Option<u64>,
    pub base_url: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub client_secret_ref: Option<SecretRef>,
    // Exact only
    pub division: Option<u32>,
    pub webhook_secret: Option<String>,
    pub webhook_secret_ref: Option<SecretRef>,
    // Vantagepoint only
    pub database: Option<String>,
    pub culture: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub password_ref: Option<SecretRef>,
}

/// A secret field of an update: its name, and the value or reference given.
struct SecretField<'a> {
    name: &'static str,
    value: Option<&'a String>,
    reference: Option<&'a SecretRef>,
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
    match (field.value, field.reference) {
        (Some(_), Some(_)) => Err(ApiError::invalid(
            field.name,
            "give either the value or a reference, not both",
        )),
        (None, Some(reference)) => {
            if !configured(reference) {
                return Err(ApiError::invalid(field.name, "the reference has no name"));
            }
            Ok(Some(reference.clone()))
        }
        (Some(value), None) => {
            if value.is_empty() || value.len() > 4096 {
                return Err(ApiError::invalid(field.name, "must be 1 to 4096 bytes"));
            }
            let writer = state.secret_writer.as_ref().ok_or_else(|| {
                ApiError::NotSupported(format!(
                    "This deployment does not store secret values; give `{}_ref` (a Secrets Manager or SSM reference) instead.",
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
            let stored = writer
                .write(tenant, &name, &SecretValue::new(value.clone()))
                .await
                .map_err(|e| {
                    tracing::error!(error = %e, "secret could not be stored");
                    ApiError::Unavailable("The secret could not be stored; try again.".into())
                })?;
            Ok(Some(stored))
        }
        (None, None) => Ok(None),
    }
}

pub async fn update(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    ApiPath(system): ApiPath<System>,
    ApiJson(update): ApiJson<ConnectionUpdate>,
) -> ApiResult<Json<ConnectionsView>> {
    let mut record = caller.record.clone();
    let expected = update.version.unwrap_or(record.version);
    if let Some(url) = &update.base_url {
        check_url("base_url", url)?;
    }
    if let Some(id) = &update.client_id {
        check_text("client_id", id, 200)?;
    }
    let misplaced = match system {
        System::Exact => [
            ("database", update.database.is_some()),
            ("culture", update.culture.is_some()),
            ("username", update.username.is_some()),
            (
                "password",
                update.password.is_some() || update.password_ref.is_some(),
            ),
        ],
        System::Vantagepoint => [
            ("division", update.division.is_some()),
            (
                "webhook_secret",
                update.webhook_secret.is_some() || update.webhook_secret_ref.is_some(),
            ),
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
        reference: update.client_secret_ref.as_ref(),
    };
    match system {
        System::Exact => {
            if let Some(url) = update.base_url {
                record.exact_base_url = url;
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
                reference: update.webhook_secret_ref.as_ref(),
            };
            if let Some(r) = store_secret(&state, &caller.tenant, system, webhook).await? {
                record.exact_webhook_secret = r;
            }
        }
        System::Vantagepoint => {
            if let Some(url) = update.base_url {
                record.vp_base_url = url;
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
                reference: update.password_ref.as_ref(),
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
    Ok(Json(ConnectionsView::from(&stored)))
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
    let connection = match state.flows.connections.connect(&caller.record).await {
        Ok(c) => c,
        Err(e) => {
            tracing::info!(tenant = %caller.tenant, error = %e, "connection could not be built");
            return Ok(Json(TestResult {
                system,
                ok: false,
                message: "The connection could not be set up: check its URL and secrets.".into(),
            }));
        }
    };
    let outcome = match system {
        System::Exact => connection.ledger.currencies().await.map(|_| ()).map_err(|e| {
            tracing::info!(tenant = %caller.tenant, error = %e, "Exact connection test failed");
            ledger_problem(&e)
        }),
        System::Vantagepoint => connection.psa.active_period().await.map(|_| ()).map_err(|e| {
            tracing::info!(tenant = %caller.tenant, error = %e, "Vantagepoint connection test failed");
            psa_problem(&e)
        }),
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
