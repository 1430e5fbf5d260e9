//! ERP webhooks, routed per tenant: `POST /webhooks/exact/{tenant}` and `POST /webhooks/vantagepoint/{tenant}`.
//!
//! Both authenticate the delivery first and then only ENQUEUE work — a Discover message for the flow the
//! event concerns — so a slow ERP never holds a webhook open and the flows stay the only place work is done.
//!
//! - **Exact Online**: the `HashCode` is checked over the raw bytes of `Content` with the tenant's webhook
//!   secret, in constant time (`ledgerlink_exact::verify_webhook`). The EMPTY POST Exact sends when a
//!   subscription is created is answered 200 with nothing else done. A bad signature is a 401 and nothing is
//!   enqueued. A delivery whose division is not the tenant's is refused (400): Exact's webhook secret is
//!   per app, so it alone does not prove which tenant a delivery belongs to. Duplicate deliveries are
//!   recognised by the SHA-256 of the body through the idempotency store and enqueue nothing more.
//! - **Vantagepoint** workflow webhooks: HTTP Basic (the webhook action's Username/Password) or a shared
//!   secret (header `X-Ledgerlink-Webhook-Secret` or a bearer token), compared in constant time, as the tenant
//!   setting `vp_webhook` configures: `{"username": "...", "password": <SecretRef>, "secret": <SecretRef>}`.
//!   The flow comes from the URL's `flow` query parameter (one webhook action per flow), firm-sync by
//!   default. A Discover reads from the flow's cursor, so a repeated delivery costs one extra empty run.
//!
//! - **No tenant enumeration**: an address naming an unknown tenant is answered exactly as a known tenant
//!   answers a delivery whose credentials do not match (Exact: checked against a random secret, so an
//!   empty body is `validated` and anything else a 401 or the same 400; Vantagepoint: 401), and a
//!   Vantagepoint tenant without webhook credentials answers the same 401.
//!
//! Secrets are resolved through the [`ledgerlink_flows::SecretResolver`] and never logged.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::header;
use ledgerlink_domain::{Flow, TenantId};
use ledgerlink_exact::{WebhookError, WebhookVerification, verify_webhook};
use ledgerlink_flows::SecretValue;
use ledgerlink_ports::{IdempotencyBegin, SecretRef, Tenant};
use ledgerlink_vantagepoint::{WebhookAuthError, WebhookVerifier};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::ApiState;
use crate::error::{ApiError, ApiPath, ApiQuery, ApiResult, RawBody};

/// The header a Vantagepoint webhook may carry a shared secret in.
pub const VP_SECRET_HEADER: &str = "x-ledgerlink-webhook-secret";
/// The tenant setting configuring Vantagepoint webhook credentials.
pub const VP_WEBHOOK_SETTING: &str = "vp_webhook";
/// How long a duplicate Exact delivery is recognised.
const DEDUPE_TTL: chrono::Duration = chrono::Duration::days(2);

/// What a webhook call did.
#[derive(Debug, Clone, Serialize)]
pub struct WebhookAnswer {
    /// `validated` (empty validation POST), `enqueued`, `duplicate` or `ignored` (a topic no flow uses).
    pub outcome: &'static str,
    pub flow: Option<Flow>,
}

fn answer(outcome: &'static str, flow: Option<Flow>) -> Json<WebhookAnswer> {
    Json(WebhookAnswer { outcome, flow })
}

/// The flow an Exact topic concerns: payments and bank lines feed payment-in, master data feeds firm-sync.
pub fn flow_of_exact_topic(topic: &str) -> Option<Flow> {
    match topic {
        "BankEntries" | "CashEntries" | "GeneralJournalEntries" | "FinancialTransactions" => {
            Some(Flow::PaymentIn)
        }
        "Accounts" | "Contacts" | "GLAccounts" | "BankAccounts" => Some(Flow::FirmSync),
        _ => None,
    }
}

/// The tenant a webhook address names, if it exists. An unknown tenant is answered exactly like a known
/// one whose credentials do not match (no tenant enumeration through webhooks).
async fn tenant_record(state: &ApiState, tenant: &str) -> ApiResult<Option<Tenant>> {
    let Ok(id) = TenantId::parse(tenant) else {
        return Ok(None);
    };
    state
        .stores()
        .tenants
        .get(&id)
        .await
        .map_err(|e| ApiError::from_store(e, "the tenant"))
}

/// The secret an unknown tenant's Exact deliveries are checked against: random per process, so nothing
/// verifies, and the answer is the one a known tenant gives to a bad signature.
fn unknown_tenant_secret() -> &'static str {
    static SECRET: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SECRET.get_or_init(|| hex::encode(rand::random::<[u8; 32]>()))
}

const BAD_VP_CREDENTIALS: &str = "The webhook credentials do not match.";

async fn resolve(
    state: &ApiState,
    tenant: &TenantId,
    secret: &SecretRef,
) -> ApiResult<SecretValue> {
    state.secrets.resolve(tenant, secret).await.map_err(|e| {
        // The error names the reference, never the value.
        tracing::error!(error = %e, "webhook secret cannot be resolved");
        if e.is_retryable() {
            ApiError::Unavailable(
                "The webhook secret is temporarily unavailable; try again.".into(),
            )
        } else {
            ApiError::Internal
        }
    })
}

/// Queues a discovery of the tenant on the flow (the flows crate's use case for webhooks).
async fn enqueue(state: &ApiState, flow: Flow, tenant: &TenantId) -> ApiResult<()> {
    ledgerlink_flows::request_discovery(&state.flows, flow, tenant)
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, %flow, "webhook work could not be enqueued");
            ApiError::Unavailable("The work could not be queued; the sender should retry.".into())
        })
}

pub async fn exact(
    State(state): State<Arc<ApiState>>,
    ApiPath(tenant): ApiPath<String>,
    RawBody(body): RawBody,
) -> ApiResult<Json<WebhookAnswer>> {
    let record = tenant_record(&state, &tenant).await?;
    if body.iter().all(u8::is_ascii_whitespace) {
        tracing::info!(tenant = ?record.as_ref().map(|r| &r.id), "Exact webhook validation request answered");
        return Ok(answer("validated", None));
    }
    let secret = match &record {
        Some(record) => resolve(&state, &record.id, &record.exact_webhook_secret)
            .await?
            .expose()
            .to_owned(),
        None => unknown_tenant_secret().to_owned(),
    };
    let content = match verify_webhook(&body, &ledgerlink_exact::Secret::new(secret)) {
        Ok(WebhookVerification::Verified(content)) => content,
        Ok(WebhookVerification::ValidationRequest) => return Ok(answer("validated", None)),
        Err(WebhookError::BadSignature) => {
            tracing::warn!(tenant = %tenant, "Exact webhook with a bad HashCode refused");
            return Err(ApiError::BadSignature(
                "The HashCode does not match the content.",
            ));
        }
        Err(WebhookError::Malformed) => {
            return Err(ApiError::invalid(
                "body",
                "expected {\"Content\":{…},\"HashCode\":\"…\"}",
            ));
        }
        Err(WebhookError::BadContent(_)) => {
            return Err(ApiError::invalid(
                "Content",
                "the signed content is not an Exact webhook event",
            ));
        }
    };
    // Nothing verifies against an unknown tenant's random secret; were it to, the answer stays the same.
    let Some(record) = record else {
        return Err(ApiError::BadSignature(
            "The HashCode does not match the content.",
        ));
    };
    if content.division != record.exact_division.0 {
        return Err(ApiError::invalid(
            "Content.Division",
            "the division does not belong to this tenant",
        ));
    }
    let Some(flow) = flow_of_exact_topic(&content.topic) else {
        tracing::info!(tenant = %record.id, topic = %content.topic, "Exact webhook topic not used by any flow");
        return Ok(answer("ignored", None));
    };
    let idempotency = &state.stores().idempotency;
    let digest = hex::encode(Sha256::digest(&body));
    let key = format!("webhook/exact/{}/{digest}", record.id);
    let now = state.now();
    let claim = match idempotency
        .begin(&key, &digest, Duration::from_secs(60), now)
        .await
        .map_err(|e| ApiError::from_store(e, "the delivery record"))?
    {
        IdempotencyBegin::Completed { .. } | IdempotencyBegin::InProgress { .. } => {
            return Ok(answer("duplicate", Some(flow)));
        }
        IdempotencyBegin::PayloadMismatch { .. } => None,
        IdempotencyBegin::Started(claim) => Some(claim),
    };
    if let Err(e) = enqueue(&state, flow, &record.id).await {
        if let Some(claim) = claim
            && let Err(release) = idempotency.release(&key, claim.fence).await
        {
            tracing::warn!(error = %release, "delivery record could not be released");
        }
        return Err(e);
    }
    let result = serde_json::json!({ "flow": flow });
    if let Some(claim) = claim {
        match idempotency
            .complete(&key, claim.fence, &digest, &result, now + DEDUPE_TTL)
            .await
        {
            // A slower twin took the record over meanwhile: the discovery is enqueued either way.
            Ok(()) | Err(ledgerlink_ports::StoreError::Conflict { .. }) => {}
            Err(e) => return Err(ApiError::from_store(e, "the delivery record")),
        }
    }
    tracing::info!(tenant = %record.id, %flow, topic = %content.topic, "Exact webhook enqueued a discovery");
    Ok(answer("enqueued", Some(flow)))
}

/// The Vantagepoint webhook credentials of a tenant (settings `vp_webhook`).
#[derive(Debug, Clone, Default, Deserialize)]
struct VpWebhookSetting {
    username: Option<String>,
    password: Option<SecretRef>,
    secret: Option<SecretRef>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VpQuery {
    flow: Option<Flow>,
}

pub async fn vantagepoint(
    State(state): State<Arc<ApiState>>,
    ApiPath(tenant): ApiPath<String>,
    ApiQuery(query): ApiQuery<VpQuery>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult<Json<WebhookAnswer>> {
    let Some(record) = tenant_record(&state, &tenant).await? else {
        tracing::info!(%tenant, "Vantagepoint webhook for an unknown tenant refused");
        return Err(ApiError::BadSignature(BAD_VP_CREDENTIALS));
    };
    let setting: VpWebhookSetting = record
        .settings
        .get(VP_WEBHOOK_SETTING)
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_default();
    let basic = match (setting.username, setting.password) {
        (Some(user), Some(password)) => {
            let value = resolve(&state, &record.id, &password).await?;
            Some((user, ledgerlink_vantagepoint::Secret::new(value.expose())))
        }
        _ => None,
    };
    let shared = match setting.secret {
        Some(secret) => Some(ledgerlink_vantagepoint::Secret::new(
            resolve(&state, &record.id, &secret).await?.expose(),
        )),
        None => None,
    };
    let verifier = WebhookVerifier::new(basic, shared);
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let secret = headers.get(VP_SECRET_HEADER).and_then(|v| v.to_str().ok());
    match verifier.verify(authorization, secret) {
        Ok(()) => {}
        Err(WebhookAuthError::NotConfigured) => {
            tracing::warn!(tenant = %record.id, "Vantagepoint webhook received but none is configured");
            return Err(ApiError::BadSignature(BAD_VP_CREDENTIALS));
        }
        Err(_) => {
            tracing::warn!(tenant = %record.id, "Vantagepoint webhook with bad credentials refused");
            return Err(ApiError::BadSignature(BAD_VP_CREDENTIALS));
        }
    }
    let flow = query.flow.unwrap_or(Flow::FirmSync);
    if !matches!(
        flow,
        Flow::InvoiceOut | Flow::VoucherOut | Flow::PaymentIn | Flow::FirmSync
    ) {
        return Err(ApiError::invalid("flow", "must be a sync flow"));
    }
    if !body.iter().all(u8::is_ascii_whitespace) {
        ledgerlink_vantagepoint::parse_webhook_payload(&body).map_err(|_| {
            ApiError::invalid("body", "expected a flat JSON object of workflow arguments")
        })?;
    }
    enqueue(&state, flow, &record.id).await?;
    tracing::info!(tenant = %record.id, %flow, "Vantagepoint webhook enqueued a discovery");
    Ok(answer("enqueued", Some(flow)))
}
