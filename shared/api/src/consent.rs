//! Exact Online consent, as a tenant's admin gives it on AWS and in the local stack alike, and the health
//! of the Exact connection.
//!
//! 1. `POST /api/connections/exact/consent` (admin key) answers Exact's authorize URL for the tenant's app,
//!    with the deployment's redirect URI (`EXACT_REDIRECT_URI`, `<ApiUrl>oauth/exact/callback`) and a
//!    `state` that is signed, bound to the tenant and the admin, single-use and valid [`STATE_TTL`].
//! 2. Exact sends the admin's browser back to `GET /oauth/exact/callback?code=&state=` (no API key: the
//!    `state` authenticates). The state's signature, purpose and expiry are checked, then it is claimed in
//!    the idempotency store (a replay finds it used), and only then is the code exchanged through the Exact
//!    client, which stores the tokens in the token store bound to their issuer. The answer lists the
//!    divisions Exact gives the user (`current/Me`, then `system/Divisions`) in a form that carries a
//!    second signed, single-use token ([`DIVISION_TTL`]).
//! 3. `POST /oauth/exact/division` (that form) stores the chosen division on the connection, subscribes
//!    the tenant's webhook address (`<ApiUrl>webhooks/exact/<tenant>`) to [`WEBHOOK_TOPICS`], and records
//!    when and by whom consent was given and the webhook state in the tenant setting
//!    [`CONNECTION_SETTING`].
//!
//! A wrong (tampered, another purpose), replayed or expired state or division token gets a clear error
//! page (4xx) and changes nothing: no code is exchanged, nothing is written. Browsers get HTML; a client
//! sending `Accept: application/json` (the local stack's demo, tests) gets JSON and problem+json.
//!
//! The signing key is a deployment secret (`CONSENT_STATE_SECRET` names it in Secrets Manager; the local
//! stack keeps one in its data dir): HMAC-SHA256, verified in constant time. A state carries no secret, only
//! the tenant, the admin's user name, a random nonce and the expiry.
//!
//! `GET /api/connections/exact/health` (viewer) shows what an operator needs to trust the connection:
//! whether tokens are held (for this Exact site), when the access token expires and when it was last
//! refreshed, the calls used and left today, the division and the webhook subscription. Never a token.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use axum::Json;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use ledgerlink_domain::{Division, TenantId};
use ledgerlink_exact::{ClientPorts, DnsResolver, ExactClient, ExactConfig, Secret};
use ledgerlink_flows::connections::SecretError;
use ledgerlink_flows::hosts::{ErpSystem, PublicOnlyResolver, check_erp_url};
use ledgerlink_ports::{IdempotencyBegin, SecretRef, Tenant, TokenRecord};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::Sha256;

use crate::ApiState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};

/// How long a consent `state` is valid: the admin consents at Exact in between.
pub const STATE_TTL: chrono::Duration = chrono::Duration::minutes(10);
/// How long the division form's token is valid.
pub const DIVISION_TTL: chrono::Duration = chrono::Duration::minutes(10);
/// The callback path; the redirect URI registered with the Exact app is `<ApiUrl>oauth/exact/callback`.
pub const CALLBACK_PATH: &str = "/oauth/exact/callback";
/// Where the division form posts.
pub const DIVISION_PATH: &str = "/oauth/exact/division";
/// The tenant setting recording the consent (when, by whom, the division's name) and the webhooks.
pub const CONNECTION_SETTING: &str = "exact_connection";
/// The Exact webhook topics subscribed after consent: payments registered in Exact fire `BankEntries`,
/// which wakes payment-in at once instead of at its next poll.
pub const WEBHOOK_TOPICS: &[&str] = &["BankEntries"];
/// Exact's default daily call budget per app and division (the health's `daily_limit`).
pub const EXACT_DAILY_LIMIT: u32 = 5_000;
/// Shortest signing key accepted, bytes.
pub const MIN_KEY_LEN: usize = 32;
/// Longest token accepted (a state is ~200 characters; a division token grows with the divisions).
const MAX_TOKEN_LEN: usize = 16 * 1024;
/// What the MAC covers besides the payload, so a token of this scheme is never valid elsewhere.
const MAC_CONTEXT: &[u8] = b"ledgerlink-exact-consent-v1.";

type HmacSha256 = Hmac<Sha256>;

/// The deployment key that signs consent states. `Debug` never shows it.
#[derive(Clone)]
pub struct ConsentKey(Arc<[u8]>);

impl ConsentKey {
    /// At least [`MIN_KEY_LEN`] bytes (the deployment secret is 64 random characters).
    pub fn new(bytes: impl Into<Vec<u8>>) -> Result<Self, String> {
        let bytes = bytes.into();
        if bytes.len() < MIN_KEY_LEN {
            return Err(format!(
                "the consent state key must be at least {MIN_KEY_LEN} bytes"
            ));
        }
        Ok(Self(bytes.into()))
    }

    fn mac(&self, payload: &str) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("HMAC takes a key of any length");
        mac.update(MAC_CONTEXT);
        mac.update(payload.as_bytes());
        mac
    }
}

impl std::fmt::Debug for ConsentKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ConsentKey(<redacted>)")
    }
}

/// Where the signing key comes from: a value (local stack, tests) or the deployment secret, read when first
/// needed (the api Lambda: through the secrets extension, so a cold start does not wait for it).
#[async_trait]
pub trait ConsentKeySource: Send + Sync + std::fmt::Debug {
    async fn key(&self) -> Result<ConsentKey, SecretError>;
}

#[async_trait]
impl ConsentKeySource for ConsentKey {
    async fn key(&self) -> Result<ConsentKey, SecretError> {
        Ok(self.clone())
    }
}

/// The deployment's consent settings. Without them the consent routes answer 501.
#[derive(Debug, Clone)]
pub struct ConsentSettings {
    /// The redirect URI registered with the Exact app: `<ApiUrl>oauth/exact/callback`.
    pub redirect_uri: String,
    pub key: Arc<dyn ConsentKeySource>,
    /// Topics subscribed after consent ([`WEBHOOK_TOPICS`] by default).
    pub webhook_topics: Vec<String>,
}

impl ConsentSettings {
    pub fn new(redirect_uri: impl Into<String>, key: Arc<dyn ConsentKeySource>) -> Self {
        Self {
            redirect_uri: redirect_uri.into(),
            key,
            webhook_topics: WEBHOOK_TOPICS.iter().map(|t| (*t).to_owned()).collect(),
        }
    }

    /// The tenant's Exact webhook address, on the same API as the callback: the redirect URI with
    /// `oauth/exact/callback` replaced by `webhooks/exact/<tenant>`. `None` when the redirect URI does not
    /// end in the callback path (then the API's public address is unknown here).
    pub fn webhook_url(&self, tenant: &TenantId) -> Option<String> {
        self.redirect_uri
            .strip_suffix(CALLBACK_PATH)
            .map(|base| format!("{base}/webhooks/exact/{tenant}"))
    }
}

// -------------------------------------------------------------------------------------------------------
// Signed tokens
// -------------------------------------------------------------------------------------------------------

/// What a token may be used for: the consent `state`, or the division form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Purpose {
    Consent,
    Division,
}

/// A division the user may pick, as Exact listed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DivisionChoice {
    pub code: u32,
    pub name: String,
}

/// What a token says. Signed, not encrypted: it holds nothing secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Claims {
    purpose: Purpose,
    tenant: String,
    user: String,
    /// 128 random bits, hex: the single-use identity of the token.
    nonce: String,
    /// Unix seconds.
    exp: i64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    divisions: Vec<DivisionChoice>,
}

impl Claims {
    fn new(purpose: Purpose, tenant: &TenantId, user: &str, exp: DateTime<Utc>) -> Self {
        let mut nonce = [0_u8; 16];
        rand::rng().fill_bytes(&mut nonce);
        Self {
            purpose,
            tenant: tenant.to_string(),
            user: user.to_owned(),
            nonce: hex::encode(nonce),
            exp: exp.timestamp(),
            divisions: Vec::new(),
        }
    }

    fn expires_at(&self) -> DateTime<Utc> {
        DateTime::from_timestamp(self.exp, 0).unwrap_or_default()
    }
}

/// `base64url(claims JSON) "." base64url(HMAC-SHA256(key, context || payload))`.
fn sign(key: &ConsentKey, claims: &Claims) -> String {
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap_or_default());
    let tag = key.mac(&payload).finalize().into_bytes();
    format!("{payload}.{}", URL_SAFE_NO_PAD.encode(tag))
}

/// Why a state or division token is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    /// Missing, malformed, tampered with, signed with another key, or meant for the other step.
    Invalid,
    Expired,
    /// Used before (a replay, or the back button after the step was done).
    Used,
}

/// Checks the signature (constant time), the purpose and the expiry, in that order.
fn verify(
    key: &ConsentKey,
    token: &str,
    purpose: Purpose,
    now: DateTime<Utc>,
) -> Result<Claims, Refusal> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(Refusal::Invalid);
    }
    let (payload, tag) = token.split_once('.').ok_or(Refusal::Invalid)?;
    let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| Refusal::Invalid)?;
    key.mac(payload)
        .verify_slice(&tag)
        .map_err(|_| Refusal::Invalid)?;
    let bytes = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| Refusal::Invalid)?;
    let claims: Claims = serde_json::from_slice(&bytes).map_err(|_| Refusal::Invalid)?;
    if claims.purpose != purpose {
        return Err(Refusal::Invalid);
    }
    if claims.exp <= now.timestamp() {
        return Err(Refusal::Expired);
    }
    Ok(claims)
}

// -------------------------------------------------------------------------------------------------------
// Answers: HTML pages for browsers, JSON for clients that ask for it
// -------------------------------------------------------------------------------------------------------

/// A failed step: its status and what the admin should know and do.
#[derive(Debug)]
struct Failure {
    status: StatusCode,
    title: &'static str,
    detail: String,
}

impl Failure {
    fn new(status: StatusCode, title: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            title,
            detail: detail.into(),
        }
    }

    fn refused(refusal: Refusal, what: &str) -> Self {
        let again = "Start again with Connect Exact Online on the page.";
        match refusal {
            Refusal::Invalid => Self::new(
                StatusCode::BAD_REQUEST,
                "This link is not valid",
                format!("The {what} was not issued by this Ledgerlink or was changed. {again}"),
            ),
            Refusal::Expired => Self::new(
                StatusCode::BAD_REQUEST,
                "This link has expired",
                format!(
                    "The {what} is valid for {} minutes and that time has passed. {again}",
                    STATE_TTL.num_minutes()
                ),
            ),
            Refusal::Used => Self::new(
                StatusCode::CONFLICT,
                "This link was already used",
                format!("The {what} can be used once and it has been. {again}"),
            ),
        }
    }

    fn respond(self, json: bool) -> Response {
        if json {
            return ApiError::Body {
                status: self.status,
                detail: format!("{} {}", self.title, self.detail),
            }
            .into_response();
        }
        let body = format!(
            "<h1>{}</h1>\n<p>{}</p>",
            escape(self.title),
            escape(&self.detail)
        );
        html(self.status, self.title, &body)
    }
}

/// Escapes text for HTML (element content and quoted attribute values).
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A self-contained page. The callback URL carries the code and the state: no referrer leaves it, nothing
/// is loaded from elsewhere, and no other site may frame it.
fn html(status: StatusCode, title: &str, body: &str) -> Response {
    let page = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{} — Ledgerlink</title>\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <style>body{{font:16px system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem}}\
         label{{display:block;margin:.4rem 0}}button{{margin-top:1rem;padding:.4rem 1rem}}</style></head>\
         <body>\n{body}\n<p><a href=\"/\">Back to the Ledgerlink page</a></p>\n</body></html>\n",
        escape(title)
    );
    let mut response = (status, page).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("application/json"))
}

// -------------------------------------------------------------------------------------------------------
// Shared steps
// -------------------------------------------------------------------------------------------------------

fn settings(state: &ApiState) -> Result<&ConsentSettings, Failure> {
    state.consent.as_ref().ok_or_else(|| {
        Failure::new(
            StatusCode::NOT_IMPLEMENTED,
            "Exact Online consent is not set up",
            "This deployment has no redirect URI or state key for Exact Online consent \
             (EXACT_REDIRECT_URI, CONSENT_STATE_SECRET).",
        )
    })
}

async fn signing_key(settings: &ConsentSettings) -> Result<ConsentKey, Failure> {
    settings.key.key().await.map_err(|e| {
        tracing::error!(error = %e, "the consent state key cannot be read");
        Failure::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "Try again in a moment",
            "The service cannot check consent links right now.",
        )
    })
}

async fn tenant_of(state: &ApiState, claims: &Claims) -> Result<Tenant, Failure> {
    let invalid = || Failure::refused(Refusal::Invalid, "link");
    let id = TenantId::parse(&claims.tenant).map_err(|_| invalid())?;
    state
        .stores()
        .tenants
        .get(&id)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "tenant could not be read");
            Failure::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "Try again in a moment",
                "The tenant could not be read.",
            )
        })?
        .ok_or_else(invalid)
}

/// Claims the token's nonce in the idempotency store: the first use wins, any other is [`Refusal::Used`].
async fn use_once(state: &ApiState, claims: &Claims, what: &str) -> Result<(), Failure> {
    let key = format!(
        "exact-consent:{}:{}:{}",
        claims.tenant,
        match claims.purpose {
            Purpose::Consent => "state",
            Purpose::Division => "division",
        },
        claims.nonce
    );
    let unavailable = |e: ledgerlink_ports::StoreError| {
        tracing::error!(error = %e, "consent token could not be claimed");
        Failure::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "Try again in a moment",
            "The link could not be checked.",
        )
    };
    let idempotency = &state.stores().idempotency;
    let now = state.now();
    match idempotency
        .begin(&key, &claims.nonce, Duration::from_secs(60), now)
        .await
        .map_err(unavailable)?
    {
        IdempotencyBegin::Started(claim) => {
            // Remembered past the token's own expiry, so it is refused as used until it is refused as expired.
            let until = claims.expires_at() + chrono::Duration::hours(1);
            idempotency
                .complete(
                    &key,
                    claim.fence,
                    &claims.nonce,
                    &json!({"used_at": now}),
                    until,
                )
                .await
                .map_err(|e| match e {
                    ledgerlink_ports::StoreError::Conflict { .. } => {
                        Failure::refused(Refusal::Used, what)
                    }
                    e => unavailable(e),
                })
        }
        _ => Err(Failure::refused(Refusal::Used, what)),
    }
}

fn secret_name(secret: &SecretRef) -> &str {
    match secret {
        SecretRef::SecretsManager(n) | SecretRef::Ssm(n) | SecretRef::Local(n) => n,
    }
}

/// The tenant's Exact client for `division`, built as the flows build it: the site must be one the service
/// may reach, and the client secret must be the tenant's own and bound to that site.
async fn exact_client(
    state: &ApiState,
    settings: &ConsentSettings,
    tenant: &Tenant,
    division: Division,
) -> Result<ExactClient, Failure> {
    let setup = |detail: String| {
        Failure::new(
            StatusCode::CONFLICT,
            "Exact Online is not set up for this tenant",
            detail,
        )
    };
    let allowed = state.flows.connections.allowed_hosts();
    check_erp_url(ErpSystem::Exact, &tenant.exact_base_url, &allowed)
        .map_err(|reason| setup(format!("The Exact Online URL is refused: {reason}.")))?;
    let issuer = ledgerlink_exact::issuer(&tenant.exact_base_url)
        .map_err(|_| setup("The Exact Online URL is not an http(s) URL.".into()))?;
    let missing = || {
        setup(
            "Enter the Exact Online app's client id and client secret for this site on the \
             Connections tab first."
                .into(),
        )
    };
    if tenant.exact_client_id.trim().is_empty()
        || secret_name(&tenant.exact_client_secret).is_empty()
    {
        return Err(missing());
    }
    let secret = state
        .secrets
        .resolve(&tenant.id, &tenant.exact_client_secret)
        .await
        .map_err(|e| {
            tracing::warn!(tenant = %tenant.id, error = %e, "Exact client secret not available");
            if e.is_retryable() {
                Failure::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Try again in a moment",
                    "The Exact Online client secret could not be read.",
                )
            } else {
                missing()
            }
        })?;
    if secret.bound_to() != Some(issuer.as_str()) {
        return Err(missing());
    }
    let mut config = ExactConfig::new(
        &tenant.exact_base_url,
        division,
        tenant.exact_client_id.clone(),
        Secret::new(secret.expose()),
        settings.redirect_uri.clone(),
        &tenant.id,
    )
    .map_err(|_| setup("The Exact Online URL is not an http(s) URL.".into()))?;
    config.dns_resolver = Some(DnsResolver(Arc::new(PublicOnlyResolver::new(allowed))));
    let ports = ClientPorts {
        tokens: state.stores().tokens.clone(),
        rate: state.stores().rate.clone(),
        clock: state.flows.clock.clone(),
    };
    ExactClient::new(config, ports, None).map_err(|e| {
        tracing::error!(error = %e, "Exact client could not be built");
        Failure::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong",
            "The Exact Online client could not be set up.",
        )
    })
}

fn exact_failure(e: &ledgerlink_exact::ExactError, doing: &str) -> Failure {
    tracing::warn!(error = %e, doing, "Exact Online refused a consent step");
    Failure::new(
        StatusCode::BAD_GATEWAY,
        "Exact Online did not answer as expected",
        format!("Exact Online refused {doing}. Start again with Connect Exact Online on the page."),
    )
}

// -------------------------------------------------------------------------------------------------------
// POST /api/connections/exact/consent
// -------------------------------------------------------------------------------------------------------

/// Where to send the admin.
#[derive(Debug, Serialize)]
pub struct ConsentStart {
    /// Exact's authorize URL with the app's client id, the deployment's redirect URI and the `state`.
    pub authorize_url: String,
    /// Until when the `state` is accepted.
    pub expires_at: DateTime<Utc>,
    pub redirect_uri: String,
}

pub async fn begin(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
) -> ApiResult<Json<ConsentStart>> {
    let settings = settings(&state).map_err(|f| ApiError::NotSupported(f.detail))?;
    let record = &caller.record;
    // The same checks the callback makes, so an admin learns now what is missing, not after consenting.
    exact_client(&state, settings, record, record.exact_division)
        .await
        .map_err(|f| match f.status {
            StatusCode::CONFLICT => ApiError::WrongState(f.detail),
            StatusCode::SERVICE_UNAVAILABLE => ApiError::Unavailable(f.detail),
            _ => ApiError::Internal,
        })?;
    let key = signing_key(settings)
        .await
        .map_err(|f| ApiError::Unavailable(f.detail))?;
    let expires_at = state.now() + STATE_TTL;
    let claims = Claims::new(Purpose::Consent, &caller.tenant, &caller.user, expires_at);
    let config = ExactConfig::new(
        &record.exact_base_url,
        record.exact_division,
        record.exact_client_id.clone(),
        Secret::new(""),
        settings.redirect_uri.clone(),
        &caller.tenant,
    )
    .map_err(|_| ApiError::invalid("base_url", "must be an http(s) URL"))?;
    tracing::info!(tenant = %caller.tenant, user = %caller.user, "Exact consent started");
    Ok(Json(ConsentStart {
        authorize_url: config.authorization_url(&sign(&key, &claims)),
        expires_at: claims.expires_at(),
        redirect_uri: settings.redirect_uri.clone(),
    }))
}

// -------------------------------------------------------------------------------------------------------
// GET /oauth/exact/callback
// -------------------------------------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
pub struct CallbackParams {
    pub code: Option<String>,
    pub state: Option<String>,
    /// Set by Exact instead of `code` when the user declined.
    pub error: Option<String>,
}

/// The callback's JSON answer (`Accept: application/json`); browsers get the same as a form.
#[derive(Debug, Serialize)]
pub struct DivisionPick {
    pub tenant: String,
    pub divisions: Vec<DivisionChoice>,
    /// The division the user works in at Exact (preselected).
    pub current: Option<u32>,
    /// Post it back with the chosen `division` to [`DIVISION_PATH`] (form-encoded).
    pub division_token: String,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize)]
struct DivisionRow {
    #[serde(rename = "Code")]
    code: i64,
    #[serde(rename = "Description", default)]
    description: Option<String>,
}

pub async fn callback(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
    params: Result<Query<CallbackParams>, QueryRejection>,
) -> Response {
    let json = wants_json(&headers);
    match callback_steps(&state, params).await {
        Ok(pick) if json => Json(pick).into_response(),
        Ok(pick) => division_form(&pick),
        Err(failure) => failure.respond(json),
    }
}

async fn callback_steps(
    state: &ApiState,
    params: Result<Query<CallbackParams>, QueryRejection>,
) -> Result<DivisionPick, Failure> {
    let settings = settings(state)?;
    let Ok(Query(params)) = params else {
        return Err(Failure::refused(Refusal::Invalid, "consent link"));
    };
    let token = params
        .state
        .as_deref()
        .ok_or_else(|| Failure::refused(Refusal::Invalid, "consent link"))?;
    let key = signing_key(settings).await?;
    let claims = verify(&key, token, Purpose::Consent, state.now())
        .map_err(|r| Failure::refused(r, "consent link"))?;
    if let Some(error) = params.error {
        return Err(Failure::new(
            StatusCode::BAD_REQUEST,
            "Exact Online gave no consent",
            format!(
                "Exact Online answered {:?} instead of a consent. Start again with Connect Exact \
                 Online on the page when you want to connect.",
                error.chars().take(100).collect::<String>()
            ),
        ));
    }
    let code = params
        .code
        .filter(|c| !c.is_empty() && c.len() <= 4096)
        .ok_or_else(|| {
            Failure::new(
                StatusCode::BAD_REQUEST,
                "Exact Online sent no code",
                "The answer of Exact Online carries no authorisation code. Start again with Connect \
                 Exact Online on the page.",
            )
        })?;
    let record = tenant_of(state, &claims).await?;
    use_once(state, &claims, "consent link").await?;
    let client = exact_client(state, settings, &record, record.exact_division).await?;
    client
        .tokens()
        .exchange_authorization_code(&code)
        .await
        .map_err(|e| exact_failure(&e, "the authorisation code (it is valid for minutes, once)"))?;
    tracing::info!(tenant = %record.id, user = %claims.user, "Exact consent: tokens stored");
    let me = client
        .me()
        .await
        .map_err(|e| exact_failure(&e, "to say who consented"))?;
    let current = me
        .current_division
        .and_then(|d| u32::try_from(d).ok())
        .filter(|d| *d > 0)
        .or(Some(record.exact_division.0).filter(|d| *d > 0));
    let Some(listing) = current else {
        return Err(Failure::new(
            StatusCode::BAD_GATEWAY,
            "Exact Online named no division",
            "Your Exact Online user has no current division. Open Exact Online once, then start again.",
        ));
    };
    let lister = exact_client(state, settings, &record, Division(listing)).await?;
    let rows: Vec<DivisionRow> = lister
        .list_all(
            "system/Divisions",
            &ledgerlink_exact::Query::new().select(&["Code", "Description"]),
        )
        .await
        .map_err(|e| exact_failure(&e, "to list your divisions"))?;
    let mut divisions: Vec<DivisionChoice> = rows
        .into_iter()
        .filter_map(|row| {
            Some(DivisionChoice {
                code: u32::try_from(row.code).ok().filter(|c| *c > 0)?,
                name: row
                    .description
                    .unwrap_or_default()
                    .chars()
                    .take(200)
                    .collect(),
            })
        })
        .take(500)
        .collect();
    divisions.sort_by_key(|d| d.code);
    divisions.dedup_by_key(|d| d.code);
    if divisions.is_empty() {
        return Err(Failure::new(
            StatusCode::BAD_GATEWAY,
            "No divisions",
            "Exact Online lists no division for your user.",
        ));
    }
    let expires_at = state.now() + DIVISION_TTL;
    let mut pick = Claims::new(Purpose::Division, &record.id, &claims.user, expires_at);
    pick.divisions = divisions.clone();
    Ok(DivisionPick {
        tenant: record.id.to_string(),
        current: current.filter(|c| divisions.iter().any(|d| d.code == *c)),
        divisions,
        division_token: sign(&key, &pick),
        expires_at: pick.expires_at(),
    })
}

fn division_form(pick: &DivisionPick) -> Response {
    let mut options = String::new();
    for (i, d) in pick.divisions.iter().enumerate() {
        let checked = pick.current == Some(d.code) || (pick.current.is_none() && i == 0);
        options.push_str(&format!(
            "<label><input type=\"radio\" name=\"division\" value=\"{code}\"{checked}> {code} — {name}</label>\n",
            code = d.code,
            checked = if checked { " checked" } else { "" },
            name = escape(&d.name),
        ));
    }
    let body = format!(
        "<h1>Choose the Exact Online division</h1>\n<p>Exact Online is authorised for tenant {tenant}. \
         Choose the division Ledgerlink books in (within {minutes} minutes).</p>\n\
         <form method=\"post\" action=\"{DIVISION_PATH}\">\n<input type=\"hidden\" name=\"token\" value=\"{token}\">\n\
         {options}<button type=\"submit\">Use this division</button>\n</form>",
        tenant = escape(&pick.tenant),
        minutes = DIVISION_TTL.num_minutes(),
        token = escape(&pick.division_token),
    );
    html(StatusCode::OK, "Choose the Exact Online division", &body)
}

// -------------------------------------------------------------------------------------------------------
// POST /oauth/exact/division
// -------------------------------------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
pub struct DivisionForm {
    pub token: String,
    pub division: String,
}

/// The webhook subscription of a connection, as recorded in [`CONNECTION_SETTING`].
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct WebhookState {
    /// `subscribed`, `failed` or `not-subscribed`.
    pub state: String,
    pub topics: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The consent record of a tenant's Exact connection (the tenant setting [`CONNECTION_SETTING`]).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ConsentRecord {
    pub consented_at: DateTime<Utc>,
    pub consented_by: String,
    pub division: u32,
    pub division_name: String,
    pub webhooks: WebhookState,
}

/// What the division step did.
#[derive(Debug, Serialize)]
pub struct Connected {
    pub tenant: String,
    pub division: u32,
    pub division_name: String,
    pub webhooks: WebhookState,
}

pub async fn choose_division(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
    form: Result<Form<DivisionForm>, FormRejection>,
) -> Response {
    let json = wants_json(&headers);
    match division_steps(&state, form).await {
        Ok(done) if json => Json(done).into_response(),
        Ok(done) => connected_page(&done),
        Err(failure) => failure.respond(json),
    }
}

async fn division_steps(
    state: &ApiState,
    form: Result<Form<DivisionForm>, FormRejection>,
) -> Result<Connected, Failure> {
    let settings = settings(state)?;
    let Ok(Form(form)) = form else {
        return Err(Failure::refused(Refusal::Invalid, "division form"));
    };
    let key = signing_key(settings).await?;
    let claims = verify(&key, &form.token, Purpose::Division, state.now())
        .map_err(|r| Failure::refused(r, "division form"))?;
    let chosen = form
        .division
        .trim()
        .parse::<u32>()
        .ok()
        .and_then(|code| claims.divisions.iter().find(|d| d.code == code).cloned())
        .ok_or_else(|| {
            Failure::new(
                StatusCode::BAD_REQUEST,
                "Not one of your divisions",
                "Choose one of the divisions Exact Online listed for you.",
            )
        })?;
    let record = tenant_of(state, &claims).await?;
    use_once(state, &claims, "division form").await?;
    let client = exact_client(state, settings, &record, Division(chosen.code)).await?;
    let webhooks = subscribe(&client, settings, &record.id, state.now()).await;
    let consent = ConsentRecord {
        consented_at: state.now(),
        consented_by: claims.user.clone(),
        division: chosen.code,
        division_name: chosen.name.clone(),
        webhooks: webhooks.clone(),
    };
    save_division(state, &record.id, &consent).await?;
    tracing::info!(tenant = %record.id, division = chosen.code, webhooks = %webhooks.state, "Exact connected");
    Ok(Connected {
        tenant: record.id.to_string(),
        division: chosen.code,
        division_name: chosen.name,
        webhooks,
    })
}

/// Subscribes the tenant's webhook address to every topic; what happened, for the record.
async fn subscribe(
    client: &ExactClient,
    settings: &ConsentSettings,
    tenant: &TenantId,
    now: DateTime<Utc>,
) -> WebhookState {
    let topics = settings.webhook_topics.clone();
    let Some(callback) = settings.webhook_url(tenant) else {
        return WebhookState {
            state: "not-subscribed".into(),
            topics,
            callback: None,
            at: Some(now),
            error: Some(format!(
                "the redirect URI does not end in {CALLBACK_PATH}, so the webhook address is unknown; \
                 payments arrive at the next poll"
            )),
        };
    };
    let mut errors = Vec::new();
    for topic in &topics {
        if let Err(e) = client.subscribe_webhook(topic, &callback).await {
            tracing::warn!(%tenant, topic, error = %e, "Exact webhook subscription failed");
            errors.push(format!(
                "{topic}: {}",
                e.to_string().chars().take(300).collect::<String>()
            ));
        }
    }
    WebhookState {
        state: if errors.is_empty() {
            "subscribed"
        } else {
            "failed"
        }
        .into(),
        topics,
        callback: Some(callback),
        at: Some(now),
        error: (!errors.is_empty()).then(|| errors.join("; ")),
    }
}

/// Stores the division and the consent record on the tenant (re-read and retried on a concurrent edit).
async fn save_division(
    state: &ApiState,
    tenant: &TenantId,
    consent: &ConsentRecord,
) -> Result<(), Failure> {
    let unavailable = |e: ledgerlink_ports::StoreError| {
        tracing::error!(error = %e, "the division could not be stored");
        Failure::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "The division could not be stored",
            "Exact Online is authorised but the division could not be stored; start again.",
        )
    };
    for _ in 0..3 {
        let Some(mut record) = state
            .stores()
            .tenants
            .get(tenant)
            .await
            .map_err(unavailable)?
        else {
            return Err(Failure::refused(Refusal::Invalid, "division form"));
        };
        let expected = record.version;
        record.exact_division = Division(consent.division);
        record.settings.insert(
            CONNECTION_SETTING.to_owned(),
            serde_json::to_value(consent).unwrap_or_default(),
        );
        record.updated_at = state.now();
        match state.stores().tenants.put(&record, Some(expected)).await {
            Ok(_) => return Ok(()),
            Err(ledgerlink_ports::StoreError::Conflict { .. }) => continue,
            Err(e) => return Err(unavailable(e)),
        }
    }
    Err(Failure::new(
        StatusCode::CONFLICT,
        "The tenant changed meanwhile",
        "The tenant was being edited at the same time; start again.",
    ))
}

fn connected_page(done: &Connected) -> Response {
    let webhooks = match done.webhooks.state.as_str() {
        "subscribed" => format!(
            "Webhooks are subscribed ({}): payments registered in Exact Online arrive at once.",
            done.webhooks.topics.join(", ")
        ),
        _ => format!(
            "Webhooks are not subscribed ({}); payments arrive at the next poll.",
            done.webhooks.error.as_deref().unwrap_or("unknown reason")
        ),
    };
    let body = format!(
        "<h1>Exact Online is connected</h1>\n<p>Tenant {} books in division {} — {}.</p>\n<p>{}</p>",
        escape(&done.tenant),
        done.division,
        escape(&done.division_name),
        escape(&webhooks)
    );
    html(StatusCode::OK, "Exact Online is connected", &body)
}

// -------------------------------------------------------------------------------------------------------
// GET /api/connections/exact/health
// -------------------------------------------------------------------------------------------------------

/// The tokens held for the connection: times only, never a token.
#[derive(Debug, Serialize)]
pub struct TokenHealth {
    /// `connected` (tokens for this Exact site), `not-connected` (none), `other-site` (tokens of another
    /// site: the URL changed; consent again).
    pub state: &'static str,
    pub access_expires_at: Option<DateTime<Utc>>,
    /// When the tokens were last issued (consent or refresh).
    pub last_refresh: Option<DateTime<Utc>>,
    /// Refreshes since consent.
    pub refreshes: Option<u64>,
}

/// Calls of the division's daily budget.
#[derive(Debug, Serialize)]
pub struct CallsHealth {
    pub used_today: u32,
    /// Exact's default per app and division ([`EXACT_DAILY_LIMIT`]).
    pub daily_limit: u32,
    pub remaining_today: u32,
}

#[derive(Debug, Serialize)]
pub struct ExactHealth {
    pub division: u32,
    pub division_name: Option<String>,
    pub consented_at: Option<DateTime<Utc>>,
    pub consented_by: Option<String>,
    pub token: TokenHealth,
    pub calls: CallsHealth,
    pub webhooks: WebhookState,
}

fn token_health(record: Option<TokenRecord>, issuer: Option<&str>) -> TokenHealth {
    match record {
        Some(t) if !t.issuer.is_empty() && !t.refresh_token.is_empty() => TokenHealth {
            state: if Some(t.issuer.as_str()) == issuer {
                "connected"
            } else {
                "other-site"
            },
            access_expires_at: Some(t.access_expires_at),
            last_refresh: Some(t.issued_at),
            refreshes: Some(t.generation),
        },
        _ => TokenHealth {
            state: "not-connected",
            access_expires_at: None,
            last_refresh: None,
            refreshes: None,
        },
    }
}

pub async fn health(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
) -> ApiResult<Json<ExactHealth>> {
    let record = &caller.record;
    let connection = ledgerlink_exact::connection_name(&caller.tenant);
    let tokens = state
        .stores()
        .tokens
        .load(&connection)
        .await
        .map_err(|e| ApiError::from_store(e, "the connection's tokens"))?;
    let issuer = ledgerlink_exact::issuer(&record.exact_base_url).ok();
    // The client's rate key: ExactConfig::rate_key.
    let rate_key = format!("{connection}:{}", record.exact_division);
    let used_today = state
        .stores()
        .rate
        .used_today(&rate_key, state.now())
        .await
        .map_err(|e| ApiError::from_store(e, "the call budget"))?;
    let consent: Option<ConsentRecord> = record
        .settings
        .get(CONNECTION_SETTING)
        .and_then(|v| serde_json::from_value(v.clone()).ok());
    let webhooks = consent
        .as_ref()
        .map(|c| c.webhooks.clone())
        .unwrap_or(WebhookState {
            state: "not-subscribed".into(),
            topics: Vec::new(),
            callback: None,
            at: None,
            error: None,
        });
    Ok(Json(ExactHealth {
        division: record.exact_division.0,
        division_name: consent
            .as_ref()
            .filter(|c| c.division == record.exact_division.0)
            .map(|c| c.division_name.clone()),
        consented_at: consent.as_ref().map(|c| c.consented_at),
        consented_by: consent.as_ref().map(|c| c.consented_by.clone()),
        token: token_health(tokens, issuer.as_deref()),
        calls: CallsHealth {
            used_today,
            daily_limit: EXACT_DAILY_LIMIT,
            remaining_today: EXACT_DAILY_LIMIT.saturating_sub(used_today),
        },
        webhooks,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> ConsentKey {
        ConsentKey::new(vec![byte; 32]).unwrap_or_else(|e| panic!("{e}"))
    }

    fn claims(purpose: Purpose, exp: DateTime<Utc>) -> Claims {
        let tenant = TenantId::parse("acme").unwrap_or_else(|e| panic!("{e}"));
        Claims::new(purpose, &tenant, "ann", exp)
    }

    #[test]
    fn a_signed_state_verifies_once_signed_and_not_after_any_change() {
        let now = Utc::now();
        let state = claims(Purpose::Consent, now + STATE_TTL);
        let token = sign(&key(1), &state);

        assert_eq!(verify(&key(1), &token, Purpose::Consent, now), Ok(state));
        assert_eq!(
            verify(&key(2), &token, Purpose::Consent, now),
            Err(Refusal::Invalid),
            "another deployment's key"
        );
        assert_eq!(
            verify(&key(1), &token, Purpose::Division, now),
            Err(Refusal::Invalid),
            "a state is not a division token"
        );
        let (payload, tag) = token.split_once('.').unwrap_or_default();
        let mut flipped = payload.as_bytes().to_vec();
        flipped[3] ^= 1;
        let tampered = format!("{}.{tag}", String::from_utf8_lossy(&flipped));
        assert_eq!(
            verify(&key(1), &tampered, Purpose::Consent, now),
            Err(Refusal::Invalid)
        );
        for junk in ["", ".", "abc", "abc.def", &format!("{payload}.")] {
            assert_eq!(
                verify(&key(1), junk, Purpose::Consent, now),
                Err(Refusal::Invalid),
                "{junk:?}"
            );
        }
        assert_eq!(
            verify(&key(1), &token, Purpose::Consent, now + STATE_TTL),
            Err(Refusal::Expired)
        );
    }

    #[test]
    fn short_keys_are_refused_and_keys_never_show() {
        assert!(ConsentKey::new(vec![0_u8; 31]).is_err());
        assert!(!format!("{:?}", key(0x41)).contains("AAAA"));
    }

    #[test]
    fn the_webhook_address_is_the_callback_s_api_and_html_is_escaped() {
        let settings = ConsentSettings::new(
            "https://abc.execute-api.eu-west-1.amazonaws.com/oauth/exact/callback",
            Arc::new(key(1)),
        );
        let tenant = TenantId::parse("acme").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            settings.webhook_url(&tenant).as_deref(),
            Some("https://abc.execute-api.eu-west-1.amazonaws.com/webhooks/exact/acme")
        );
        let elsewhere = ConsentSettings::new("https://x.example/cb", Arc::new(key(1)));
        assert_eq!(elsewhere.webhook_url(&tenant), None);
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
