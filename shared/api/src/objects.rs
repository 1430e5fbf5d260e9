//! The Integration page (seed 002) over HTTP: the per-object status list (filters: key prefix, status,
//! version, Finance / Master data, object type; cursor pagination), object detail with its attempt history,
//! Synchronize and Force synchronize on a selection (a per-object result: accepted, or refused with the
//! reason), counts per status, and the sync-health aggregate the page draws as a chart.
//!
//! Firms and employees show their link to a ledger account (with a link to open it there) and an operator
//! may relink, unlink, adopt an existing account or have a new one created (`POST /api/objects/link`); each
//! action is an entry in the object's history. The rules are the flows crate's (`ledgerlink_flows::links`).
//!
//! The rules of Synchronize / Force synchronize are the flows crate's (`ledgerlink_flows::operator`; Force
//! synchronize is its `retry`, which honours the tenant's transaction integration level); this
//! module only makes sure every named object exists for the caller's tenant first, so another tenant's key
//! can neither act on nor create objects it does not have.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Duration, DurationRound, Utc};
use ledgerlink_domain::{Category, Flow, ObjectKey, ObjectType, SyncStatus};
use ledgerlink_flows::links::{self, LinkAction, LinkChange, LinkRefusal, LinkView};
use ledgerlink_flows::operator;
use ledgerlink_flows::settings::SourceOfTruth;
use ledgerlink_ports::{Fix, ObjectRef, ObjectStatus, PageRequest, StatusAttempt, StatusFilter};
use serde::{Deserialize, Serialize};

use crate::ApiState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery, ApiResult};

/// Largest page a list returns; asking for more is a 400, not a silent clamp.
pub const MAX_PAGE: u32 = 500;
/// Attempts shown with an object.
const HISTORY_LIMIT: u32 = 100;

/// Checks `limit` (1..=500, default 50) and builds the page request.
pub(crate) fn page_request(limit: Option<u32>, cursor: Option<String>) -> ApiResult<PageRequest> {
    let limit = limit.unwrap_or(50);
    if limit == 0 || limit > MAX_PAGE {
        return Err(ApiError::invalid(
            "limit",
            format!("must be between 1 and {MAX_PAGE}"),
        ));
    }
    if let Some(c) = &cursor
        && (c.is_empty() || c.len() > 2048)
    {
        return Err(ApiError::invalid(
            "cursor",
            "the cursor is not one this API issued for this list",
        ));
    }
    Ok(PageRequest { limit, cursor })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    status: Option<SyncStatus>,
    category: Option<Category>,
    #[serde(rename = "type")]
    object_type: Option<ObjectType>,
    key_prefix: Option<String>,
    version: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
}

/// One line of the Integration page.
#[derive(Debug, Clone, Serialize)]
pub struct ObjectView {
    #[serde(rename = "type")]
    pub object_type: ObjectType,
    pub key: String,
    pub category: Category,
    pub status: SyncStatus,
    /// What the user sees (outcome-unknown shows as Pending).
    pub status_label: &'static str,
    /// The source's version of the object (the page's "version" column and filter).
    pub version: Option<String>,
    pub target_id: Option<String>,
    pub last_message: Option<String>,
    /// What to do about the last failure, when the page can offer it (add a lookup row, sync a firm).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<Fix>,
    pub attempts: u32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<ObjectStatus> for ObjectView {
    fn from(s: ObjectStatus) -> Self {
        Self {
            object_type: s.object.object_type,
            key: s.object.key.to_string(),
            category: s.category,
            status: s.status,
            status_label: s.status.label(),
            version: s.source_version,
            target_id: s.target_id,
            last_message: s.last_message,
            fix: s.fix,
            attempts: s.attempts,
            created_at: s.created_at,
            updated_at: s.updated_at,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct ListResponse<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

pub async fn list(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<ListResponse<ObjectView>>> {
    let page = page_request(q.limit, q.cursor)?;
    let key_prefix = q.key_prefix.filter(|p| !p.is_empty());
    if key_prefix.as_ref().is_some_and(|p| p.chars().count() > 200) {
        return Err(ApiError::invalid("key_prefix", "at most 200 characters"));
    }
    let filter = StatusFilter {
        status: q.status,
        category: q.category,
        object_type: q.object_type,
        key_prefix,
        source_version: q.version.filter(|v| !v.is_empty()),
    };
    let got = operator::list(&state.flows, &caller.tenant, &filter, page)
        .await
        .map_err(|e| match e {
            ledgerlink_flows::FlowError::Store(s) => ApiError::from_list(s, "the object list"),
            other => ApiError::from_flow(other),
        })?;
    Ok(Json(ListResponse {
        items: got.items.into_iter().map(ObjectView::from).collect(),
        next_cursor: got.next_cursor,
    }))
}

#[derive(Debug, Serialize)]
pub struct Counts {
    pub counts: BTreeMap<SyncStatus, u64>,
    pub total: u64,
}

pub async fn counts(State(state): State<Arc<ApiState>>, caller: Caller) -> ApiResult<Json<Counts>> {
    let counts = state
        .stores()
        .statuses
        .counts(&caller.tenant)
        .await
        .map_err(|e| ApiError::from_store(e, "the counts"))?;
    let total = counts.values().sum();
    Ok(Json(Counts { counts, total }))
}

fn object_ref(caller: &Caller, object_type: &str, key: &str) -> ApiResult<ObjectRef> {
    let object_type: ObjectType = object_type
        .parse()
        .map_err(|_| ApiError::invalid("type", format!("`{object_type}` is not an object type")))?;
    let key = ObjectKey::parse(key).map_err(|e| ApiError::invalid("key", e.to_string()))?;
    Ok(ObjectRef {
        tenant: caller.tenant.clone(),
        object_type,
        key,
    })
}

#[derive(Debug, Serialize)]
pub struct AttemptView {
    pub at: DateTime<Utc>,
    pub attempt: u32,
    pub status: SyncStatus,
    pub status_label: &'static str,
    pub message: Option<String>,
}

impl From<StatusAttempt> for AttemptView {
    fn from(a: StatusAttempt) -> Self {
        Self {
            at: a.at,
            attempt: a.attempt,
            status: a.status,
            status_label: a.status.label(),
            message: a.message,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Detail {
    pub object: ObjectView,
    pub history: Vec<AttemptView>,
    /// The ledger account a firm or employee is linked to (`null`: not linked, or not a master-data record).
    pub link: Option<LinkView>,
    /// The link actions that fit the object now (`relink`, `unlink`, `adopt`, `new-account`); empty for
    /// objects whose links are not edited by operators.
    pub link_actions: Vec<&'static str>,
}

pub async fn detail(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    ApiPath((object_type, key)): ApiPath<(String, String)>,
) -> ApiResult<Json<Detail>> {
    let object = object_ref(&caller, &object_type, &key)?;
    let status = state
        .stores()
        .statuses
        .get(&object)
        .await
        .map_err(|e| ApiError::from_store(e, "the object"))?
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "No {} with key `{}` exists.",
                object.object_type, object.key
            ))
        })?;
    let history = operator::history(&state.flows, &object, HISTORY_LIMIT)
        .await
        .map_err(ApiError::from_flow)?;
    let link = links::view(&state.flows, &object)
        .await
        .map_err(ApiError::from_flow)?;
    let link_actions = if !links::editable(&object) {
        Vec::new()
    } else if link.is_some() {
        let mut actions = vec!["relink", "unlink"];
        if link.as_ref().map(|l| l.owner) == Some(SourceOfTruth::Vantagepoint) {
            actions.push("new-account");
        }
        actions
    } else {
        vec!["adopt", "new-account"]
    };
    Ok(Json(Detail {
        object: status.into(),
        history: history.into_iter().map(AttemptView::from).collect(),
        link,
        link_actions,
    }))
}

/// An operator's link action on one firm or employee.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkRequest {
    #[serde(rename = "type")]
    pub object_type: ObjectType,
    pub key: String,
    pub action: String,
    /// The existing ledger account (its id or its code), for `relink` and `adopt`.
    pub account: Option<String>,
}

/// `POST /api/objects/link`: relink, unlink, adopt an existing account, or have a new one created.
pub async fn link(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    ApiJson(request): ApiJson<LinkRequest>,
) -> ApiResult<Json<LinkChange>> {
    let object = object_ref(&caller, request.object_type.as_str(), &request.key)?;
    let account = || -> ApiResult<String> {
        let account = request
            .account
            .as_deref()
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .ok_or_else(|| {
                ApiError::invalid(
                    "account",
                    "name the existing Exact Online account by its id or its code",
                )
            })?;
        if account.chars().count() > 64 {
            return Err(ApiError::invalid("account", "at most 64 characters"));
        }
        Ok(account.to_owned())
    };
    let action = match request.action.as_str() {
        "relink" => LinkAction::Relink {
            account: account()?,
        },
        "adopt" => LinkAction::Adopt {
            account: account()?,
        },
        "unlink" => LinkAction::Unlink,
        "new-account" => LinkAction::NewAccount,
        other => {
            return Err(ApiError::invalid(
                "action",
                format!("`{other}` is not one of relink, unlink, adopt, new-account"),
            ));
        }
    };
    if request.account.is_some() && matches!(action, LinkAction::Unlink | LinkAction::NewAccount) {
        return Err(ApiError::invalid(
            "account",
            format!("`{}` takes no account", action.name()),
        ));
    }
    let by = format!("{} (operator page)", caller.user);
    match links::act(&state.flows, &object, &action, &by)
        .await
        .map_err(ApiError::from_flow)?
    {
        Ok(change) => Ok(Json(change)),
        Err(LinkRefusal::NotFound(why)) => Err(ApiError::not_found(why)),
        Err(LinkRefusal::Conflict(why)) => Err(ApiError::WrongState(why)),
    }
}

/// One object of a selection.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Selected {
    #[serde(rename = "type")]
    pub object_type: ObjectType,
    pub key: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Selection {
    pub objects: Vec<Selected>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Accepted,
    Refused,
}

#[derive(Debug, Serialize)]
pub struct ActionView {
    #[serde(rename = "type")]
    pub object_type: ObjectType,
    pub key: String,
    pub result: Outcome,
    pub reason: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ActionResponse {
    pub results: Vec<ActionView>,
}

#[derive(Debug, Clone, Copy)]
enum Action {
    Synchronize,
    Force,
}

async fn act(
    state: &ApiState,
    caller: &Caller,
    selection: Selection,
    action: Action,
) -> ApiResult<ActionResponse> {
    if selection.objects.is_empty() {
        return Err(ApiError::invalid("objects", "select at least one object"));
    }
    if selection.objects.len() > state.limits.max_selection {
        return Err(ApiError::invalid(
            "objects",
            format!("at most {} objects per request", state.limits.max_selection),
        ));
    }
    let mut results: Vec<Option<ActionView>> = Vec::with_capacity(selection.objects.len());
    let mut known = Vec::new();
    let mut known_at = Vec::new();
    for (i, selected) in selection.objects.iter().enumerate() {
        let refused = |reason: &str| ActionView {
            object_type: selected.object_type,
            key: selected.key.clone(),
            result: Outcome::Refused,
            reason: Some(reason.to_owned()),
        };
        let Ok(key) = ObjectKey::parse(&selected.key) else {
            results.push(Some(refused("The key is not a valid object key")));
            continue;
        };
        let object = ObjectRef {
            tenant: caller.tenant.clone(),
            object_type: selected.object_type,
            key,
        };
        let exists = state
            .stores()
            .statuses
            .get(&object)
            .await
            .map_err(|e| ApiError::from_store(e, "the object"))?
            .is_some();
        if exists {
            results.push(None);
            known.push(object);
            known_at.push(i);
        } else {
            results.push(Some(refused("The object is not known to the integration")));
        }
    }
    let by = caller.user.as_str();
    let done = match action {
        Action::Synchronize => operator::synchronize(&state.flows, &known, by).await,
        // Force synchronize is the seed's retry: finance documents are retried at the tenant's "transaction
        // integration level" (top: the master data they depend on is refreshed first).
        Action::Force if known.is_empty() => Ok(Vec::new()),
        Action::Force => operator::retry(&state.flows, &caller.tenant, &known, by).await,
    }
    .map_err(ApiError::from_flow)?;
    for (at, r) in known_at.into_iter().zip(done) {
        if let Some(slot) = results.get_mut(at) {
            *slot = Some(ActionView {
                object_type: r.object.object_type,
                key: r.object.key.to_string(),
                result: if r.accepted {
                    Outcome::Accepted
                } else {
                    Outcome::Refused
                },
                reason: r.reason,
            });
        }
    }
    Ok(ActionResponse {
        results: results.into_iter().flatten().collect(),
    })
}

pub async fn synchronize(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    ApiJson(selection): ApiJson<Selection>,
) -> ApiResult<Json<ActionResponse>> {
    Ok(Json(
        act(&state, &caller, selection, Action::Synchronize).await?,
    ))
}

pub async fn force_synchronize(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    ApiJson(selection): ApiJson<Selection>,
) -> ApiResult<Json<ActionResponse>> {
    Ok(Json(act(&state, &caller, selection, Action::Force).await?))
}

// ---------------------------------------------------------------------------------------------------------
// Sync health
// ---------------------------------------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthQuery {
    /// Window in hours, 1..=168 (default 24). Buckets are one hour.
    hours: Option<u32>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Bucket {
    pub start: DateTime<Utc>,
    pub success: u64,
    pub error: u64,
}

#[derive(Debug, Serialize)]
pub struct FlowHealth {
    pub flow: Flow,
    pub buckets: Vec<Bucket>,
    pub success: u64,
    pub error: u64,
}

#[derive(Debug, Serialize)]
pub struct Health {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub bucket_minutes: u32,
    pub flows: Vec<FlowHealth>,
    /// How many attempts of the window were counted (every one: the count is served by an index).
    pub attempts_read: u64,
    /// Always `false` since attempts are counted by an index (kept for clients that read it).
    pub truncated: bool,
}

const SYNC_FLOWS: [Flow; 4] = [
    Flow::InvoiceOut,
    Flow::VoucherOut,
    Flow::PaymentIn,
    Flow::FirmSync,
];

/// Recent successes and errors per flow per hour: every attempt recorded in the window, counted by the
/// status store's attempt-time index (one query, or one per UTC day on DynamoDB).
pub async fn health(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    ApiQuery(q): ApiQuery<HealthQuery>,
) -> ApiResult<Json<Health>> {
    let hours = q.hours.unwrap_or(24);
    if !(1..=168).contains(&hours) {
        return Err(ApiError::invalid("hours", "must be between 1 and 168"));
    }
    let now = state.now();
    let to = now.duration_trunc(Duration::hours(1)).unwrap_or(now) + Duration::hours(1);
    let from = to - Duration::hours(i64::from(hours));
    let mut per_flow: BTreeMap<Flow, Vec<Bucket>> = SYNC_FLOWS
        .iter()
        .map(|f| {
            let buckets = (0..hours)
                .map(|h| Bucket {
                    start: from + Duration::hours(i64::from(h)),
                    ..Bucket::default()
                })
                .collect();
            (*f, buckets)
        })
        .collect();

    // One store call over an index on the attempt time (see `StatusStore::attempt_counts`): the cost does
    // not grow with the number of objects touched in the window.
    let counts = state
        .stores()
        .statuses
        .attempt_counts(&caller.tenant, from, to)
        .await
        .map_err(|e| ApiError::from_store(e, "the attempt history"))?;
    let mut attempts_read: u64 = 0;
    for count in counts {
        let Some(buckets) = per_flow.get_mut(&count.object_type.flow()) else {
            continue;
        };
        let index = usize::try_from((count.hour - from).num_hours()).unwrap_or(usize::MAX);
        let Some(bucket) = buckets.get_mut(index) else {
            continue;
        };
        attempts_read += count.count;
        match count.status {
            SyncStatus::Success => bucket.success += count.count,
            SyncStatus::Error => bucket.error += count.count,
            _ => {}
        }
    }
    let flows = per_flow
        .into_iter()
        .map(|(flow, buckets)| FlowHealth {
            flow,
            success: buckets.iter().map(|b| b.success).sum(),
            error: buckets.iter().map(|b| b.error).sum(),
            buckets,
        })
        .collect();
    Ok(Json(Health {
        from,
        to,
        bucket_minutes: 60,
        flows,
        attempts_read,
        truncated: false,
    }))
}
