//! A tenant's API keys: issue (the token is shown once), list (never the token or its hash) and revoke.
//! The rules live here once, for the `/api/keys` routes (admin role) and the deployment's admin command:
//!
//! - `user` is 1..=64 characters of letters, digits and `._-@+`; the role is viewer, operator or admin; an
//!   expiry is 1..=3650 days from now, or none.
//! - At most [`MAX_KEYS`] keys per tenant (they live in the tenant record).
//! - A revoke that would leave the tenant without a valid (unexpired) admin key is refused, so a tenant
//!   can never lock itself out.
//!
//! Only the SHA-256 hash of a token is stored ([`crate::auth`]); a revoked key is removed, so it no longer
//! authenticates.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, Utc};
use ledgerlink_ports::Tenant;
use serde::{Deserialize, Serialize};

use crate::ApiState;
use crate::auth::{
    API_KEYS_SETTING, Caller, IssuedApiKey, Role, StoredApiKey, issue_api_key_with, stored_keys,
};
use crate::error::{ApiError, ApiJson, ApiPath, ApiResult};

/// Most keys one tenant may hold.
pub const MAX_KEYS: usize = 50;
/// Longest expiry, days.
pub const MAX_EXPIRY_DAYS: u32 = 3650;

/// Why a key operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("{field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error("no key {0} exists for this tenant")]
    NotFound(String),
    #[error(
        "key {0} is the tenant's last valid admin key; issue another admin key before revoking it"
    )]
    LastAdmin(String),
    #[error("the tenant already has {MAX_KEYS} keys; revoke one first")]
    TooMany,
}

impl From<KeyError> for ApiError {
    fn from(error: KeyError) -> Self {
        match error {
            KeyError::Invalid { field, reason } => ApiError::invalid(field, reason),
            KeyError::NotFound(id) => ApiError::not_found(format!("key {id} does not exist")),
            other => ApiError::WrongState(other.to_string()),
        }
    }
}

/// A key as it is listed: never the token or its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyView {
    pub id: String,
    pub user: String,
    pub role: Role,
    /// `None` for keys stored before creation times were recorded.
    pub created_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub expired: bool,
    /// The token's last four characters (`None` for keys stored before hints were recorded).
    pub last4: Option<String>,
}

impl KeyView {
    pub fn of(key: &StoredApiKey, now: DateTime<Utc>) -> Self {
        Self {
            id: key.id(),
            user: key.user.clone(),
            role: key.role(),
            created_at: key.created_at,
            expires_at: key.expires_at,
            expired: key.is_expired(now),
            last4: key.hint.clone(),
        }
    }
}

/// Checks the user a key acts as.
pub fn check_user(user: &str) -> Result<(), KeyError> {
    let ok = !user.is_empty()
        && user.chars().count() <= 64
        && user
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-@+".contains(c));
    if ok {
        Ok(())
    } else {
        Err(KeyError::Invalid {
            field: "user",
            reason: "must be 1 to 64 characters of letters, digits and . _ - @ +".into(),
        })
    }
}

fn save(tenant: &mut Tenant, keys: &[StoredApiKey]) {
    tenant.settings.insert(
        API_KEYS_SETTING.to_owned(),
        serde_json::to_value(keys).unwrap_or(serde_json::Value::Null),
    );
}

/// Issues a key on the tenant record (the caller saves the record): returns the token, shown once.
pub fn issue(
    tenant: &mut Tenant,
    user: &str,
    role: Role,
    expires_in_days: Option<u32>,
    now: DateTime<Utc>,
) -> Result<IssuedApiKey, KeyError> {
    check_user(user)?;
    let expires_at = match expires_in_days {
        None => None,
        Some(days) if (1..=MAX_EXPIRY_DAYS).contains(&days) => {
            Some(now + Duration::days(i64::from(days)))
        }
        Some(days) => {
            return Err(KeyError::Invalid {
                field: "expires_in_days",
                reason: format!("must be 1 to {MAX_EXPIRY_DAYS} days, not {days}"),
            });
        }
    };
    let mut keys = stored_keys(tenant);
    if keys.len() >= MAX_KEYS {
        return Err(KeyError::TooMany);
    }
    let issued = issue_api_key_with(&tenant.id, user, role, Some(now), expires_at);
    keys.push(issued.stored.clone());
    save(tenant, &keys);
    Ok(issued)
}

/// The tenant's keys, oldest first.
pub fn list(tenant: &Tenant, now: DateTime<Utc>) -> Vec<KeyView> {
    stored_keys(tenant)
        .iter()
        .map(|k| KeyView::of(k, now))
        .collect()
}

/// Removes a key from the tenant record (the caller saves the record); refuses to remove the last valid
/// admin key.
pub fn revoke(tenant: &mut Tenant, id: &str, now: DateTime<Utc>) -> Result<KeyView, KeyError> {
    let mut keys = stored_keys(tenant);
    let position = keys
        .iter()
        .position(|k| k.id() == id)
        .ok_or_else(|| KeyError::NotFound(id.to_owned()))?;
    let key = keys.remove(position);
    let valid_admin = |k: &StoredApiKey| k.role() == Role::Admin && !k.is_expired(now);
    if valid_admin(&key) && !keys.iter().any(valid_admin) {
        return Err(KeyError::LastAdmin(id.to_owned()));
    }
    save(tenant, &keys);
    Ok(KeyView::of(&key, now))
}

// ---------------------------------------------------------------------------------------------------------
// Routes (admin role, see [`crate::auth::ROUTE_ROLES`])
// ---------------------------------------------------------------------------------------------------------

#[derive(Debug, Serialize)]
pub struct KeyList {
    pub keys: Vec<KeyView>,
}

/// `POST /api/keys`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewKey {
    pub user: String,
    pub role: Role,
    pub expires_in_days: Option<u32>,
}

/// The answer to an issue: the key's view and its token, shown this once.
#[derive(Debug, Serialize)]
pub struct IssuedKey {
    #[serde(flatten)]
    pub key: KeyView,
    pub token: String,
}

pub async fn list_keys(State(state): State<Arc<ApiState>>, caller: Caller) -> Json<KeyList> {
    Json(KeyList {
        keys: list(&caller.record, state.now()),
    })
}

pub async fn get_key(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<KeyView>> {
    list(&caller.record, state.now())
        .into_iter()
        .find(|k| k.id == id)
        .map(Json)
        .ok_or_else(|| KeyError::NotFound(id).into())
}

pub async fn issue_key(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    ApiJson(body): ApiJson<NewKey>,
) -> ApiResult<Response> {
    let now = state.now();
    let mut record = caller.record;
    let issued = issue(
        &mut record,
        &body.user,
        body.role,
        body.expires_in_days,
        now,
    )?;
    let expected = record.version;
    record.updated_at = now;
    state
        .stores()
        .tenants
        .put(&record, Some(expected))
        .await
        .map_err(|e| ApiError::from_store(e, "the tenant"))?;
    tracing::info!(tenant = %caller.tenant, by = %caller.user, key = %issued.stored.id(), role = %body.role, "API key issued");
    let view = KeyView::of(&issued.stored, now);
    let location = format!("/api/keys/{}", view.id);
    let mut response = (
        StatusCode::CREATED,
        Json(IssuedKey {
            key: view,
            token: issued.token,
        }),
    )
        .into_response();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&location) {
        headers.insert(header::LOCATION, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

pub async fn revoke_key(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    let now = state.now();
    let mut record = caller.record;
    let revoked = revoke(&mut record, &id, now)?;
    let expected = record.version;
    record.updated_at = now;
    state
        .stores()
        .tenants
        .put(&record, Some(expected))
        .await
        .map_err(|e| ApiError::from_store(e, "the tenant"))?;
    tracing::info!(tenant = %caller.tenant, by = %caller.user, key = %revoked.id, "API key revoked");
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use ledgerlink_domain::{Division, TenantId};
    use ledgerlink_ports::{ConnectionState, SecretRef};

    use super::*;

    fn tenant() -> Tenant {
        Tenant {
            id: TenantId::parse("acme").unwrap_or_else(|e| panic!("{e}")),
            name: "Acme".into(),
            vp_base_url: String::new(),
            vp_database: String::new(),
            vp_culture: "en-US".into(),
            vp_client_id: String::new(),
            vp_client_secret: SecretRef::Local(String::new()),
            vp_username: String::new(),
            vp_password: SecretRef::Local(String::new()),
            exact_base_url: String::new(),
            exact_division: Division(1),
            exact_client_id: String::new(),
            exact_client_secret: SecretRef::Local(String::new()),
            exact_webhook_secret: SecretRef::Local(String::new()),
            state: ConnectionState::Active,
            paused_reason: None,
            settings: BTreeMap::new(),
            version: 0,
            updated_at: Utc::now(),
        }
    }

    #[test]
    fn the_last_valid_admin_key_cannot_be_revoked() {
        let now = Utc::now();
        let mut t = tenant();
        let admin = issue(&mut t, "ann", Role::Admin, None, now).unwrap_or_else(|e| panic!("{e}"));
        let viewer =
            issue(&mut t, "vic", Role::Viewer, None, now).unwrap_or_else(|e| panic!("{e}"));
        let admin_id = admin.stored.id();

        assert_eq!(
            revoke(&mut t, &admin_id, now),
            Err(KeyError::LastAdmin(admin_id.clone()))
        );
        assert!(revoke(&mut t, &viewer.stored.id(), now).is_ok());
        // A second admin that has expired does not count.
        let old = issue(&mut t, "old", Role::Admin, Some(1), now).unwrap_or_else(|e| panic!("{e}"));
        let later = now + Duration::days(2);
        assert_eq!(
            revoke(&mut t, &admin_id, later),
            Err(KeyError::LastAdmin(admin_id.clone()))
        );
        assert!(revoke(&mut t, &old.stored.id(), later).is_ok());
        assert_eq!(list(&t, now).len(), 1);
    }

    #[test]
    fn bad_users_and_expiries_are_refused_by_field() {
        let now = Utc::now();
        let mut t = tenant();
        for user in ["", "a b", "x\n", &"u".repeat(65)] {
            assert!(
                matches!(
                    issue(&mut t, user, Role::Viewer, None, now),
                    Err(KeyError::Invalid { field: "user", .. })
                ),
                "{user:?}"
            );
        }
        for days in [0, MAX_EXPIRY_DAYS + 1] {
            assert!(matches!(
                issue(&mut t, "u", Role::Viewer, Some(days), now),
                Err(KeyError::Invalid {
                    field: "expires_in_days",
                    ..
                })
            ));
        }
        assert!(list(&t, now).is_empty(), "nothing half-written");
    }
}
