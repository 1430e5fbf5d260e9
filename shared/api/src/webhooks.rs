//! ERP webhooks, routed per tenant: `POST /webhooks/exact/{tenant}` and `POST /webhooks/vantagepoint/{tenant}`.
//!
//! Both authenticate the delivery first and then only ENQUEUE work — a Discover message for the flow the
//! event concerns — so a slow ERP never holds a webhook open and the flows stay the only place work is done.
//!
//! - **Exact Online**: the `HashCode` is checked over the raw bytes of `Content` with the tenant's webhook
//!   secret, in constant time (`ledgerlink_exact::verify_webhook`). The EMPTY POST Exact sends when a
//!   subscription is created is answered 200 with nothing else done. A bad signature is a 401 and nothing is
//!   enqueued. A delivery whose division is not the tenant's is refused (400): Exact's webhook secret is
//!   per app, so it alone does not prove which tenant a delivery belongs to. Replays and staleness: see
//!   "Replays, duplicates and stale events" below.
//! - **Vantagepoint** workflow webhooks: HTTP Basic (the webhook action's Username/Password) or a shared
//!   secret (header `X-Ledgerlink-Webhook-Secret` or a bearer token), compared in constant time, as the tenant
//!   setting `vp_webhook` configures: `{"username": "...", "password": <SecretRef>, "secret": <SecretRef>}`.
//!   When the setting also names a `signing_secret` (the webhook action's Security **Secret**), every
//!   delivery must carry `X-VP-Signature: sha256=<hex HMAC-SHA256 of the raw body>` made with it (checked in
//!   constant time by the client's `WebhookVerifier`); an unsigned or badly signed delivery is a 401 even
//!   with good Basic credentials, and the Basic/shared-secret check still applies when those are configured
//!   (a signing secret alone is enough when they are not). VP's signing scheme is undocumented (reference
//!   §7); this is the one the emulator implements.
//!   The flow comes from the URL's `flow` query parameter (one webhook action per flow), firm-sync by
//!   default. A Discover reads from the flow's cursor, so a repeated delivery costs one extra empty run.
//!   The credentials are checked for their SHAPE before anything is read from a store: a delivery without
//!   any credential header is refused without looking up the tenant or resolving a secret.
//!
//! - **No tenant enumeration**: an address naming an unknown tenant is answered exactly as a known tenant
//!   answers a delivery whose credentials do not match (Exact: checked against a random secret, so an
//!   empty body is `validated` and anything else a 401 or the same 400; Vantagepoint: 401), and a
//!   Vantagepoint tenant without webhook credentials answers the same 401.
//!
//! ## Replays, duplicates and stale events (the rule)
//!
//! - **A delivery is identified by what is signed.** Exact: the SHA-256 of the exact `Content` bytes the
//!   HashCode covers, so the same captured delivery with whitespace added around it is the same delivery.
//!   Vantagepoint (no signature, no timestamp): the SHA-256 of the flow and the body.
//! - **Acknowledged only once durably queued.** A delivery claims its identity in the idempotency store,
//!   enqueues its Discover, then completes the claim; only then is it answered `enqueued`. If enqueueing
//!   fails, the claim is released and the answer is a 503, so the sender delivers it again.
//! - **A concurrent twin is told to retry, never "duplicate".** While the first delivery of an identity is
//!   in progress, a second one is answered 503 with `Retry-After` (the lease, at most
//!   [`DELIVERY_LEASE`]): if the first then fails, the retry does the work; if it succeeded, the retry is
//!   answered `duplicate`. No event is acknowledged without its work queued.
//! - **Duplicates.** Exact: a delivery whose identity completed within [`EXACT_DEDUPE_TTL`] is answered
//!   200 `duplicate` and enqueues nothing. Vantagepoint: the same within [`VP_REPLAY_WINDOW`].
//! - **Stale Exact events are ignored.** `EventCreatedOn` (Exact's Dutch wall-clock time, CET/CEST, no
//!   offset; converted to UTC) older than [`EXACT_EVENT_MAX_AGE`] or more than [`EXACT_EVENT_MAX_AHEAD`]
//!   in the future is answered 200 `stale` and enqueues nothing. The window is shorter
//!   than the de-duplication TTL, so a captured delivery can be replayed to effect at most once, and never
//!   after the window. Nothing is lost by ignoring an old event: the flows' scheduled discovery reads
//!   everything changed since its cursor.
//! - **Vantagepoint replays** after [`VP_REPLAY_WINDOW`] (VP signs nothing, so an old delivery cannot be
//!   told from a new one with the same arguments) enqueue one Discover from the flow's cursor: no record
//!   is written twice (discovery is idempotent), and the tenant's request limit bounds how often.
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
/// The header carrying the body signature of a Vantagepoint delivery (webhook action Security Secret).
pub const VP_SIGNATURE_HEADER: &str = "x-vp-signature";
/// The tenant setting configuring Vantagepoint webhook credentials.
pub const VP_WEBHOOK_SETTING: &str = "vp_webhook";
/// How long a completed Exact delivery is recognised as a duplicate (longer than the staleness window,
/// so a replay is either a recognised duplicate or stale).
pub const EXACT_DEDUPE_TTL: chrono::Duration = chrono::Duration::days(2);
/// Exact events older than this (by `EventCreatedOn`) are stale and ignored.
pub const EXACT_EVENT_MAX_AGE: chrono::Duration = chrono::Duration::hours(24);
/// Exact events dated further ahead than this (clock skew) are ignored as well.
pub const EXACT_EVENT_MAX_AHEAD: chrono::Duration = chrono::Duration::minutes(5);
/// How long an identical Vantagepoint delivery is recognised as a replay.
pub const VP_REPLAY_WINDOW: chrono::Duration = chrono::Duration::minutes(10);
/// How long a delivery's claim lives while its work is being queued.
pub const DELIVERY_LEASE: Duration = Duration::from_secs(30);

/// What a webhook call did.
#[derive(Debug, Clone, Serialize)]
pub struct WebhookAnswer {
    /// `validated` (empty validation POST), `enqueued`, `duplicate`, `stale` (an Exact event outside the
    /// accepted window) or `ignored` (a topic no flow uses).
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

/// Enqueues the delivery `key`'s discovery unless the same delivery did so within `remember` (answered
/// `duplicate`, `Some`). Answers `None` only once the work is durably queued; a concurrent twin whose
/// first delivery is still in progress gets a 503 with `Retry-After` (see the module docs).
async fn enqueue_once(
    state: &ApiState,
    key: &str,
    digest: &str,
    flow: Flow,
    tenant: &TenantId,
    remember: chrono::Duration,
) -> ApiResult<Option<Json<WebhookAnswer>>> {
    let idempotency = &state.stores().idempotency;
    let now = state.now();
    let claim = match idempotency
        .begin(key, digest, DELIVERY_LEASE, now)
        .await
        .map_err(|e| ApiError::from_store(e, "the delivery record"))?
    {
        IdempotencyBegin::Completed { .. } => return Ok(Some(answer("duplicate", Some(flow)))),
        IdempotencyBegin::InProgress { lease_until } => {
            let wait = (lease_until - now).num_seconds().clamp(1, 60);
            return Err(ApiError::RetryLater {
                detail: "This delivery is being processed; send it again later.".into(),
                retry_after: u64::try_from(wait).unwrap_or(1),
            });
        }
        // The key holds the digest itself, so a mismatch cannot happen; were it to, do the work anyway.
        IdempotencyBegin::PayloadMismatch { .. } => None,
        IdempotencyBegin::Started(claim) => Some(claim),
    };
    if let Err(e) = enqueue(state, flow, tenant).await {
        if let Some(claim) = claim
            && let Err(release) = idempotency.release(key, claim.fence).await
        {
            tracing::warn!(error = %release, "delivery record could not be released");
        }
        return Err(e);
    }
    let result = serde_json::json!({ "flow": flow });
    if let Some(claim) = claim {
        match idempotency
            .complete(key, claim.fence, digest, &result, now + remember)
            .await
        {
            // A slower twin took the record over meanwhile: the discovery is enqueued either way.
            Ok(()) | Err(ledgerlink_ports::StoreError::Conflict { .. }) => {}
            Err(e) => return Err(ApiError::from_store(e, "the delivery record")),
        }
    }
    Ok(None)
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
    state
        .throttle
        .check(&record.id, crate::throttle::Budget::Webhooks, state.now())?;
    let now = state.now();
    let created = ledgerlink_domain::cet::utc_from_wall(content.event_created_on);
    if created < now - EXACT_EVENT_MAX_AGE || created > now + EXACT_EVENT_MAX_AHEAD {
        tracing::info!(tenant = %record.id, topic = %content.topic, event_created_on = %content.event_created_on, "stale Exact webhook event ignored");
        return Ok(answer("stale", Some(flow)));
    }
    let signed = ledgerlink_exact::signed_content(&body).unwrap_or(&body);
    let digest = hex::encode(Sha256::digest(signed));
    let key = format!("webhook/exact/{}/{digest}", record.id);
    if let Some(duplicate) =
        enqueue_once(&state, &key, &digest, flow, &record.id, EXACT_DEDUPE_TTL).await?
    {
        return Ok(duplicate);
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
    /// The webhook action's Security Secret: when set, deliveries must be signed with it.
    signing_secret: Option<SecretRef>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VpQuery {
    flow: Option<Flow>,
}

/// Whether a Vantagepoint delivery carries a credential of a usable shape: `Authorization: Basic <b64>`
/// or `Bearer <token>` with something after the scheme, a non-empty shared-secret header, or a body
/// signature.
fn vp_credential_present(headers: &HeaderMap) -> bool {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .is_some_and(|(scheme, value)| {
            (scheme.eq_ignore_ascii_case("basic") || scheme.eq_ignore_ascii_case("bearer"))
                && !value.trim().is_empty()
                && value.len() <= 4096
        });
    let shared = headers
        .get(VP_SECRET_HEADER)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| !v.trim().is_empty() && v.len() <= 4096);
    authorization || shared || vp_signature(headers).is_some()
}

/// The `X-VP-Signature` header, when it has a usable shape.
fn vp_signature(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(VP_SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.trim().is_empty() && v.len() <= 256)
}

pub async fn vantagepoint(
    State(state): State<Arc<ApiState>>,
    ApiPath(tenant): ApiPath<String>,
    ApiQuery(query): ApiQuery<VpQuery>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult<Json<WebhookAnswer>> {
    if !vp_credential_present(&headers) {
        // Refused on its headers alone: no tenant lookup, no secret resolved (and the same answer as
        // for wrong credentials, known tenant or not).
        return Err(ApiError::BadSignature(BAD_VP_CREDENTIALS));
    }
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
    let signing_configured = setting.signing_secret.is_some();
    let shared = match setting.secret {
        Some(secret) => Some(ledgerlink_vantagepoint::Secret::new(
            resolve(&state, &record.id, &secret).await?.expose(),
        )),
        None => None,
    };
    let signing = match setting.signing_secret {
        Some(secret) => Some(ledgerlink_vantagepoint::Secret::new(
            resolve(&state, &record.id, &secret).await?.expose(),
        )),
        None => None,
    };
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let secret = headers.get(VP_SECRET_HEADER).and_then(|v| v.to_str().ok());
    if let Some(signing) = signing {
        // The signature is required on its own: good Basic credentials do not excuse a missing one.
        let signed = WebhookVerifier::new(None, None)
            .with_signing_secret(signing)
            .verify_request(None, None, vp_signature(&headers), &body);
        if signed.is_err() {
            tracing::warn!(tenant = %record.id, "Vantagepoint webhook unsigned or badly signed, refused");
            return Err(ApiError::BadSignature(BAD_VP_CREDENTIALS));
        }
    }
    let verifier = WebhookVerifier::new(basic, shared);
    match verifier.verify(authorization, secret) {
        Ok(()) => {}
        // A signing secret alone authenticates the delivery (checked above).
        Err(WebhookAuthError::NotConfigured) if signing_configured => {}
        Err(WebhookAuthError::NotConfigured) => {
            tracing::warn!(tenant = %record.id, "Vantagepoint webhook received but none is configured");
            return Err(ApiError::BadSignature(BAD_VP_CREDENTIALS));
        }
        Err(_) => {
            tracing::warn!(tenant = %record.id, "Vantagepoint webhook with bad credentials refused");
            return Err(ApiError::BadSignature(BAD_VP_CREDENTIALS));
        }
    }
    state
        .throttle
        .check(&record.id, crate::throttle::Budget::Webhooks, state.now())?;
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
    let mut hasher = Sha256::new();
    hasher.update(flow.as_str().as_bytes());
    hasher.update([0]);
    hasher.update(body.trim_ascii());
    let digest = hex::encode(hasher.finalize());
    let key = format!("webhook/vantagepoint/{}/{digest}", record.id);
    if let Some(duplicate) =
        enqueue_once(&state, &key, &digest, flow, &record.id, VP_REPLAY_WINDOW).await?
    {
        return Ok(duplicate);
    }
    tracing::info!(tenant = %record.id, %flow, "Vantagepoint webhook enqueued a discovery");
    Ok(answer("enqueued", Some(flow)))
}
