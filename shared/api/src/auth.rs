//! Authentication and tenancy: per-tenant API keys.
//!
//! Every `/api/...` request carries `Authorization: Bearer llk_<tenant>_<secret>`, where `<secret>` is 64
//! lower-case hex characters (32 random bytes). The tenant record keeps only SHA-256 hashes of its keys, in
//! its settings under `api_keys`: `[{"user": "dolores", "sha256": "<hex>"}]` (several keys allow rotation;
//! `user` is who the key acts as, e.g. the "Created by" of an export). Verification hashes the presented
//! token and compares it with every stored hash in constant time. An unknown tenant costs the same work
//! (a comparison against a dummy hash) and gets the same 401, so keys cannot be used to probe tenants.
//!
//! The scheme suits API Gateway's HTTP API as it is: the `Authorization` header is forwarded to the Lambda
//! and the SAME check runs there and in the local stack (no authorizer to keep in sync). The tenant of every
//! data access comes only from the verified key ([`Caller::tenant`]), never from a path or a body, so
//! one tenant's key can never name another tenant's data: such resources simply do not exist for it (404).

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
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

/// One stored key: its hash and the user it acts as. Never holds the key itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredApiKey {
    pub user: String,
    /// Lower-case hex SHA-256 of the whole token (`llk_<tenant>_<secret>`).
    pub sha256: String,
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

/// Issues a new random key for `tenant`, acting as `user`. Add `stored` to the tenant's `api_keys`.
pub fn issue_api_key(tenant: &TenantId, user: &str) -> IssuedApiKey {
    let mut secret = [0_u8; 32];
    rand::rng().fill_bytes(&mut secret);
    let token = format!("{KEY_PREFIX}{tenant}_{}", hex::encode(secret));
    IssuedApiKey {
        stored: StoredApiKey {
            user: user.to_owned(),
            sha256: hash_api_key(&token),
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

fn stored_keys(tenant: &Tenant) -> Vec<StoredApiKey> {
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

/// The user among `keys` whose hash matches `token`; every stored hash is compared in constant time.
fn matching_user(keys: &[StoredApiKey], token: &str) -> Option<String> {
    let presented = Sha256::digest(token.as_bytes());
    let mut found = None;
    for key in keys {
        let stored = hex::decode(&key.sha256).unwrap_or_default();
        if stored.len() == presented.len()
            && bool::from(stored.as_slice().ct_eq(presented.as_slice()))
        {
            found = Some(key.user.clone());
        }
    }
    found
}

/// The authenticated caller: the tenant its key belongs to and the user the key acts as.
#[derive(Debug, Clone)]
pub struct Caller {
    pub tenant: TenantId,
    pub user: String,
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
        let _ = matching_user(
            &[StoredApiKey {
                user: String::new(),
                sha256: "0".repeat(64),
            }],
            token,
        );
        return Err(refused);
    };
    match matching_user(&stored_keys(&record), token) {
        Some(user) => {
            // Only a verified key spends its tenant's request budget (issue 12 finding 9).
            state
                .throttle
                .check(&tenant, crate::throttle::Budget::Api, state.now())?;
            Ok(Caller {
                tenant,
                user,
                record,
            })
        }
        None => Err(refused),
    }
}

impl FromRequestParts<Arc<ApiState>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<ApiState>,
    ) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        authenticate(state, header).await
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
            matching_user(&keys, &issued.token).as_deref(),
            Some("dolores")
        );
        let other = issue_api_key(&tenant, "dolores");
        assert_eq!(matching_user(&keys, &other.token), None);
        assert!(!format!("{issued:?}").contains(&issued.token));
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
