//! The user's outbox: notifications addressed to the caller's user or to the tenant's operators, newest
//! first, and marking one as read.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use ledgerlink_ports::{Notification, NotificationKind, StoreError};
use serde::{Deserialize, Serialize};

use crate::ApiState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiPath, ApiQuery, ApiResult};
use crate::objects::{ListResponse, page_request};

/// The recipient every operator of a tenant reads.
pub const OPERATORS: &str = "operators";

#[derive(Debug, Serialize)]
pub struct NotificationView {
    pub id: String,
    pub kind: NotificationKind,
    pub recipient: String,
    pub subject: String,
    pub body: String,
    pub link: Option<String>,
    pub created_at: DateTime<Utc>,
    pub read_at: Option<DateTime<Utc>>,
}

impl From<Notification> for NotificationView {
    fn from(n: Notification) -> Self {
        Self {
            id: n.id,
            kind: n.kind,
            recipient: n.recipient,
            subject: n.subject,
            body: n.body,
            link: n.link,
            created_at: n.created_at,
            read_at: n.delivered_at,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    limit: Option<u32>,
    cursor: Option<String>,
}

fn addressed_to(caller: &Caller, n: &Notification) -> bool {
    n.recipient == caller.user || n.recipient == OPERATORS
}

/// One page of the tenant's outbox, keeping the caller's and the operators' notifications (a page may hold
/// fewer than `limit` items; follow `next_cursor`).
pub async fn list(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Json<ListResponse<NotificationView>>> {
    let page = page_request(q.limit, q.cursor)?;
    let got = state
        .stores()
        .notifications
        .list(&caller.tenant, page)
        .await
        .map_err(|e| ApiError::from_list(e, "the notifications"))?;
    Ok(Json(ListResponse {
        items: got
            .items
            .into_iter()
            .filter(|n| addressed_to(&caller, n))
            .map(NotificationView::from)
            .collect(),
        next_cursor: got.next_cursor,
    }))
}

pub async fn read(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    if id.is_empty() || id.len() > 300 {
        return Err(ApiError::invalid("id", "must be 1 to 300 characters"));
    }
    let missing = || ApiError::not_found(format!("No notification `{id}` exists."));
    // Only the addressee (or, for `operators`, any operator) may mark it read; anyone else is told it does
    // not exist, as for an unknown id.
    let notification = state
        .stores()
        .notifications
        .get(&caller.tenant, &id)
        .await
        .map_err(|e| ApiError::from_store(e, "the notification"))?
        .ok_or_else(missing)?;
    if !addressed_to(&caller, &notification) {
        return Err(missing());
    }
    state
        .stores()
        .notifications
        .mark_delivered(&caller.tenant, &id, state.now())
        .await
        .map_err(|e| match e {
            StoreError::NotFound { .. } => {
                ApiError::not_found(format!("No notification `{id}` exists."))
            }
            other => ApiError::from_store(other, "the notification"),
        })?;
    Ok(StatusCode::NO_CONTENT)
}
