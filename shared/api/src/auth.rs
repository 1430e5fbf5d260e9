//! Authentication and tenancy: per-tenant API keys with a role.
//!
//! Every `/api/...` request carries `Authorization: Bearer llk_<tenant>_<secret>`, where `<secret>` is 64
//! lower-case hex characters (32 random bytes). The tenant record keeps only SHA-256 hashes of its keys, in
//! its settings under `api_keys`: `[{"user": "dolores", "sha256": "<hex>", "role": "operator", ...}]`
//! (several keys allow rotation; `user` is who the key acts as, e.g. the "Created by" of an export).
//! Verification hashes the presented token and compares it with every stored hash in constant time. An
//! unknown tenant costs the same work (a comparison against a dummy hash) and gets the same 401, so keys
//! cannot be used to probe tenants. An expired key gets 401; a revoked key is no longer stored, so it is
//! simply not valid.
//!
//! Each key has a [`Role`] (viewer < operator < admin) and optionally an expiry. A stored key without a
//! role (written before roles existed) acts as `admin`, so existing tenants keep working. Which role each
//! route needs is the table [`ROUTE_ROLES`] (documented in the crate docs); the [`authorize`] middleware
//! authenticates once per request, refuses a key whose role is too low with a 403 problem naming the role
//! needed, and hands the [`Caller`] to the handler. A route missing from the table needs `admin`.
//!
//! The scheme suits API Gateway's HTTP API as it is: the `Authorization` header is forwarded to the Lambda
//! and the SAME check runs there and in the local stack (no authorizer to keep in sync). The tenant of every
//! data access comes only from the verified key ([`Caller::tenant`]), never from a path or a body, so
//! one tenant's key can never name another tenant's data: such resources simply do not exist for it (404).

use std::sync::Arc;

use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use ledgerlink_domain::TenantId;
use ledgerlink_ports::Tenant;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::ApiState;
use crate::error::ApiError;

/// The prefix of every Ledgerlink API key.
pub const KEY_PREFIX: &str = "llk_";
/// The tenant setting holding the hashes of the tenant's API keys.
pub const API_KEYS_SETTING: &str = "api_keys";
const SECRET_HEX_LEN: usize = 64;

/// What a key may do. Each role includes the ones below it: `viewer` reads; `operator` also runs sync
/// actions, jobs, exports and imports; `admin` also changes connections, settings (lookups), the paused
/// state and the tenant's keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    Viewer,
    Operator,
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Viewer, Role::Operator, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Viewer => "viewer",
            Self::Operator => "operator",
            Self::Admin => "admin",
        }
    }

    /// True when a key of this role may do what `needed` allows.
    pub fn allows(self, needed: Role) -> bool {
        self >= needed
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == s.trim())
            .ok_or_else(|| format!("`{s}` is not a role; expected one of viewer, operator, admin"))
    }
}

/// One stored key: its hash, the user it acts as, its role and expiry. Never holds the key itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct StoredApiKey {
    pub user: String,
    /// Lower-case hex SHA-256 of the whole token (`llk_<tenant>_<secret>`).
    pub sha256: String,
    /// `None`: a key stored before roles existed; it acts as `admin`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<DateTime<Utc>>,
    /// The key is refused from this instant on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    /// The token's last four characters, so a person can tell their keys apart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl StoredApiKey {
    /// The role the key acts with (`admin` for keys stored before roles existed).
    pub fn role(&self) -> Role {
        self.role.unwrap_or(Role::Admin)
    }

    /// The key's public id: derived from the stored hash by another hash, so it reveals nothing of the
    /// hash or the token, and keys stored before ids existed have one too.
    pub fn id(&self) -> String {
        let digest = Sha256::digest(format!("ledgerlink-key-id:{}", self.sha256).as_bytes());
        format!("key-{}", &hex::encode(digest)[..16])
    }

    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }
}

/// A newly issued key: the token is shown once to whoever provisions it; only `stored` is kept.
#[derive(Clone)]
pub struct IssuedApiKey {
    pub token: String,
    pub stored: StoredApiKey,
}

impl std::fmt::Debug for IssuedApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedApiKey")
            .field("token", &"<redacted>")
            .field("stored", &self.stored)
            .finish()
    }
}

/// Hex SHA-256 of a token, as stored with the tenant.
pub fn hash_api_key(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Issues a new random `admin` key without expiry for `tenant`, acting as `user`. Add `stored` to the
/// tenant's `api_keys` ([`add_api_key`]). [`crate::keys::issue`] issues a key of any role and stores it.
pub fn issue_api_key(tenant: &TenantId, user: &str) -> IssuedApiKey {
    issue_api_key_with(tenant, user, Role::Admin, None, None)
}

/// Issues a new random key for `tenant` with a role, a creation time and an optional expiry.
pub fn issue_api_key_with(
    tenant: &TenantId,
    user: &str,
    role: Role,
    created_at: Option<DateTime<Utc>>,
    expires_at: Option<DateTime<Utc>>,
) -> IssuedApiKey {
    let mut secret = [0_u8; 32];
    rand::rng().fill_bytes(&mut secret);
    let token = format!("{KEY_PREFIX}{tenant}_{}", hex::encode(secret));
    let hint = token[token.len() - 4..].to_owned();
    IssuedApiKey {
        stored: StoredApiKey {
            user: user.to_owned(),
            sha256: hash_api_key(&token),
            role: Some(role),
            created_at,
            expires_at,
            hint: Some(hint),
        },
        token,
    }
}

/// Adds a stored key to a tenant record's settings (keeps the keys already there).
pub fn add_api_key(tenant: &mut Tenant, key: &StoredApiKey) {
    let mut keys = stored_keys(tenant);
    keys.push(key.clone());
    tenant.settings.insert(
        API_KEYS_SETTING.to_owned(),
        serde_json::to_value(keys).unwrap_or(serde_json::Value::Null),
    );
}

/// The keys stored with a tenant (none when the setting is absent or unreadable).
pub fn stored_keys(tenant: &Tenant) -> Vec<StoredApiKey> {
    tenant
        .settings
        .get(API_KEYS_SETTING)
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_default()
}

/// Splits `llk_<tenant>_<secret>` into the tenant it claims; `None` when the shape is wrong.
fn claimed_tenant(token: &str) -> Option<TenantId> {
    let rest = token.strip_prefix(KEY_PREFIX)?;
    let (tenant, secret) = rest.rsplit_once('_')?;
    if secret.len() != SECRET_HEX_LEN || !secret.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    TenantId::parse(tenant).ok()
}

/// The key among `keys` whose hash matches `token`; every stored hash is compared in constant time.
fn matching_key(keys: &[StoredApiKey], token: &str) -> Option<StoredApiKey> {
    let presented = Sha256::digest(token.as_bytes());
    let mut found = None;
    for key in keys {
        let stored = hex::decode(&key.sha256).unwrap_or_default();
        if stored.len() == presented.len()
            && bool::from(stored.as_slice().ct_eq(presented.as_slice()))
        {
            found = Some(key.clone());
        }
    }
    found
}

/// The authenticated caller: the tenant its key belongs to, the user the key acts as and its role.
#[derive(Debug, Clone)]
pub struct Caller {
    pub tenant: TenantId,
    pub user: String,
    pub role: Role,
    /// The id of the key used ([`StoredApiKey::id`]).
    pub key_id: String,
    /// The tenant record as read while authenticating.
    pub record: Tenant,
}

/// Verifies a bearer token against the tenant store.
pub async fn authenticate(
    state: &ApiState,
    authorization: Option<&str>,
) -> Result<Caller, ApiError> {
    let header = authorization.ok_or(ApiError::Unauthenticated(
        "Send `Authorization: Bearer llk_<tenant>_<secret>`.",
    ))?;
    let token = header
        .trim()
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .ok_or(ApiError::Unauthenticated(
            "The Authorization header must use the Bearer scheme.",
        ))?;
    let refused = ApiError::Unauthenticated("The API key is not valid.");
    let Some(tenant) = claimed_tenant(token) else {
        return Err(refused);
    };
    let record = state
        .stores()
        .tenants
        .get(&tenant)
        .await
        .map_err(|e| ApiError::from_store(e, "the tenant"))?;
    let Some(record) = record else {
        // Same work as a real check, so an unknown tenant is not distinguishable by timing.
        let _ = matching_key(
            &[StoredApiKey {
                sha256: "0".repeat(64),
                ..StoredApiKey::default()
            }],
            token,
        );
        return Err(refused);
    };
    match matching_key(&stored_keys(&record), token) {
        Some(key) if key.is_expired(state.now()) => {
            Err(ApiError::Unauthenticated("The API key has expired."))
        }
        Some(key) => {
            // Only a verified key spends its tenant's request budget (issue 12 finding 9).
            state
                .throttle
                .check(&tenant, crate::throttle::Budget::Api, state.now())?;
            Ok(Caller {
                tenant,
                user: key.user.clone(),
                role: key.role(),
                key_id: key.id(),
                record,
            })
        }
        None => Err(refused),
    }
}

/// The role each `/api/` route needs, as (method, OpenAPI path, role). A route not listed needs `admin`.
/// The crate docs show the same table with the reasons.
pub const ROUTE_ROLES: &[(&str, &str, Role)] = &[
    ("GET", "/api/me", Role::Viewer),
    ("GET", "/api/objects", Role::Viewer),
    ("GET", "/api/objects/counts", Role::Viewer),
    ("GET", "/api/objects/{type}/{key}", Role::Viewer),
    ("POST", "/api/objects/synchronize", Role::Operator),
    ("POST", "/api/objects/force-synchronize", Role::Operator),
    ("POST", "/api/objects/link", Role::Operator),
    ("GET", "/api/health/sync", Role::Viewer),
    ("GET", "/api/jobs", Role::Viewer),
    ("GET", "/api/jobs/{id}", Role::Viewer),
    ("POST", "/api/jobs/{id}/download", Role::Viewer),
    ("POST", "/api/jobs/{id}/reset", Role::Operator),
    ("POST", "/api/jobs/{id}/mark-failed", Role::Operator),
    ("GET", "/api/export-definitions", Role::Viewer),
    ("POST", "/api/export-definitions", Role::Operator),
    ("GET", "/api/export-definitions/{id}", Role::Viewer),
    ("PUT", "/api/export-definitions/{id}", Role::Operator),
    ("DELETE", "/api/export-definitions/{id}", Role::Operator),
    ("POST", "/api/export-definitions/{id}/run", Role::Operator),
    ("POST", "/api/export-definitions/{id}/copy", Role::Operator),
    ("GET", "/api/export-sources", Role::Viewer),
    ("GET", "/api/imports/templates", Role::Viewer),
    ("GET", "/api/imports/templates/{name}", Role::Viewer),
    ("POST", "/api/imports", Role::Operator),
    ("GET", "/api/imports/{id}/summary", Role::Viewer),
    ("POST", "/api/imports/uploads", Role::Operator),
    ("POST", "/api/imports/{id}/submit", Role::Operator),
    ("GET", "/api/integrations", Role::Viewer),
    ("POST", "/api/integrations", Role::Operator),
    ("GET", "/api/integrations/{id}", Role::Viewer),
    ("PUT", "/api/integrations/{id}", Role::Operator),
    ("DELETE", "/api/integrations/{id}", Role::Operator),
    (
        "GET",
        "/api/integrations/{id}/periods/{period}",
        Role::Viewer,
    ),
    ("POST", "/api/integrations/{id}/run", Role::Operator),
    ("GET", "/api/lookups", Role::Viewer),
    ("GET", "/api/lookups/{table}", Role::Viewer),
    ("GET", "/api/lookups/{table}/{key}", Role::Viewer),
    ("PUT", "/api/lookups/{table}/{key}", Role::Admin),
    ("DELETE", "/api/lookups/{table}/{key}", Role::Admin),
    ("GET", "/api/connections", Role::Viewer),
    ("PUT", "/api/connections/{system}", Role::Admin),
    ("POST", "/api/connections/{system}/test", Role::Operator),
    ("POST", "/api/connections/exact/consent", Role::Admin),
    ("GET", "/api/connections/exact/health", Role::Viewer),
    ("POST", "/api/connections/pause", Role::Admin),
    ("POST", "/api/connections/resume", Role::Admin),
    ("GET", "/api/notifications", Role::Viewer),
    ("POST", "/api/notifications/{id}/read", Role::Viewer),
    ("GET", "/api/keys", Role::Admin),
    ("POST", "/api/keys", Role::Admin),
    ("GET", "/api/keys/{id}", Role::Admin),
    ("DELETE", "/api/keys/{id}", Role::Admin),
];

/// The role a route needs: its [`ROUTE_ROLES`] entry, `admin` when it has none. `path` is the OpenAPI
/// path or the router's pattern (`{*key}` is read as `{key}`).
pub fn required_role(method: &Method, path: &str) -> Role {
    let path = path.replace("{*", "{");
    ROUTE_ROLES
        .iter()
        .find(|(m, p, _)| *m == method.as_str() && *p == path)
        .map_or(Role::Admin, |(_, _, role)| *role)
}

/// Middleware of every `/api/` route: authenticates the key once, checks its role against the route's
/// ([`required_role`]) and hands the [`Caller`] to the handler. 401 without a valid key, 403 (naming the
/// role needed) when the key's role is too low — before any handler runs or any body is read.
pub async fn authorize(
    State(state): State<Arc<ApiState>>,
    mut request: Request,
    next: Next,
) -> Response {
    let pattern = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let header = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let caller = match authenticate(&state, header).await {
        Ok(caller) => caller,
        Err(e) => return e.into_response(),
    };
    if let Err(e) = check_role(&caller, request.method(), &pattern) {
        return e.into_response();
    }
    request.extensions_mut().insert(caller);
    next.run(request).await
}

/// Refuses (403, naming the role needed) a caller whose role does not allow the route.
fn check_role(caller: &Caller, method: &Method, pattern: &str) -> Result<(), ApiError> {
    let needed = required_role(method, pattern);
    if caller.role.allows(needed) {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!(
            "This action needs the `{needed}` role; this key has the `{}` role.",
            caller.role
        )))
    }
}

impl FromRequestParts<Arc<ApiState>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<ApiState>,
    ) -> Result<Self, Self::Rejection> {
        // Authenticated (and authorised) once by [`authorize`]; a route outside it authenticates here.
        if let Some(caller) = parts.extensions.get::<Caller>() {
            return Ok(caller.clone());
        }
        // A handler outside the middleware still gets the same checks: the key, then the route's role.
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let caller = authenticate(state, header).await?;
        let pattern = parts
            .extensions
            .get::<MatchedPath>()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_default();
        check_role(&caller, &parts.method, &pattern)?;
        Ok(caller)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_issued_key_names_its_tenant_and_matches_its_hash_only() {
        let tenant = TenantId::parse("acme_bv").unwrap_or_else(|e| panic!("{e}"));
        let issued = issue_api_key(&tenant, "dolores");
        assert_eq!(claimed_tenant(&issued.token), Some(tenant.clone()));
        let keys = vec![issued.stored.clone()];
        assert_eq!(
            matching_key(&keys, &issued.token).map(|k| k.user),
            Some("dolores".to_owned())
        );
        let other = issue_api_key(&tenant, "dolores");
        assert_eq!(matching_key(&keys, &other.token), None);
        assert_ne!(issued.stored.id(), other.stored.id());
        assert!(!issued.stored.id().contains(&issued.stored.sha256[..8]));
        assert!(!format!("{issued:?}").contains(&issued.token));
    }

    #[test]
    fn a_key_without_a_role_acts_as_admin_and_roles_are_ordered() {
        let legacy: StoredApiKey =
            serde_json::from_value(serde_json::json!({"user": "u", "sha256": "00"}))
                .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(legacy.role(), Role::Admin);
        assert!(Role::Admin.allows(Role::Operator) && Role::Operator.allows(Role::Viewer));
        assert!(!Role::Viewer.allows(Role::Operator) && !Role::Operator.allows(Role::Admin));
        assert_eq!("operator".parse::<Role>(), Ok(Role::Operator));
        assert!("root".parse::<Role>().is_err());
        assert_eq!(
            required_role(&Method::GET, "/api/objects/{type}/{*key}"),
            Role::Viewer
        );
        assert_eq!(
            required_role(&Method::POST, "/api/not-in-the-table"),
            Role::Admin
        );
    }

    #[test]
    fn tokens_of_the_wrong_shape_claim_no_tenant() {
        for token in [
            "",
            "llk_",
            "llk_acme",
            "llk_acme_short",
            "xyz_acme_00",
            "llk_ACME_0000",
        ] {
            assert_eq!(claimed_tenant(token), None, "{token:?}");
        }
    }
}
