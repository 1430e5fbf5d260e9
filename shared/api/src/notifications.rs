//! The user's outbox: notifications addressed to the caller's user or to the tenant's operators, newest
//! first, and marking one as read.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use ledgerlink_ports::{Notification, NotificationKind, PageRequest, StoreError};
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

/// Outbox entries one request may read while filling a page and looking for a next one: the work of a
/// request stays bounded however many notifications are addressed to others.
const SCAN_BUDGET: u32 = 2000;
/// Entries read per store page while looking ahead for a next page.
const LOOK_AHEAD_PAGE: u32 = 100;

/// One page of the caller's notifications (its own and the operators'), newest first.
///
/// The outbox holds every user's notifications, so the filter is applied BEFORE paginating: store pages
/// are read until `limit` of the caller's notifications are found (each read asks for exactly as many as
/// are still missing, so the page ends on a store cursor and nothing is skipped), and `next_cursor` is
/// given only when at least one more notification for the caller follows. A page is therefore full unless
/// it is the last, and never empty with a `next_cursor` — except when more than [`SCAN_BUDGET`] entries
/// addressed to others lie in a row, where the cursor to continue from is returned with what was found.
pub async fn list(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Json<ListResponse<NotificationView>>> {
    let page = page_request(q.limit, q.cursor)?;
    let limit = page.limit;
    let outbox = &state.stores().notifications;
    let tenant = &caller.tenant;
    let read = |page: PageRequest| async move {
        outbox
            .list(tenant, page)
            .await
            .map_err(|e| ApiError::from_list(e, "the notifications"))
    };
    let mut items = Vec::new();
    let mut cursor = page.cursor;
    let mut scanned: u32 = 0;
    // Fill the page.
    while items.len() < limit as usize {
        let missing = limit - u32::try_from(items.len()).unwrap_or(limit);
        let got = read(PageRequest {
            limit: missing,
            cursor: cursor.clone(),
        })
        .await?;
        scanned = scanned.saturating_add(u32::try_from(got.items.len()).unwrap_or(u32::MAX));
        items.extend(
            got.items
                .into_iter()
                .filter(|n| addressed_to(&caller, n))
                .map(NotificationView::from),
        );
        cursor = got.next_cursor;
        if cursor.is_none() || scanned >= SCAN_BUDGET {
            break;
        }
    }
    // Look ahead: a next cursor only when a notification for the caller follows.
    let mut next_cursor = None;
    while let Some(at) = cursor.take() {
        if scanned >= SCAN_BUDGET {
            next_cursor = Some(at);
            break;
        }
        let got = read(PageRequest {
            limit: LOOK_AHEAD_PAGE,
            cursor: Some(at.clone()),
        })
        .await?;
        scanned = scanned.saturating_add(LOOK_AHEAD_PAGE);
        if got.items.iter().any(|n| addressed_to(&caller, n)) {
            next_cursor = Some(at);
            break;
        }
        cursor = got.next_cursor;
    }
    Ok(Json(ListResponse { items, next_cursor }))
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
