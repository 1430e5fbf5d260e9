//! The operator-editable lookup tables (tax codes, bank codes, firms, ...): view a table page by page, and
//! edit a row with its optimistic version (a stale version is a 409, never a silent overwrite).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use ledgerlink_mapping::ConfigError;
use ledgerlink_ports::{LookupEntry, LookupTable};
use serde::{Deserialize, Serialize};

use crate::ApiState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery, ApiResult};
use crate::objects::{ListResponse, page_request};

/// Longest key and column value accepted.
const MAX_TEXT: usize = 500;
/// Most columns in one row.
const MAX_COLUMNS: usize = 50;

#[derive(Debug, Serialize)]
pub struct Tables {
    pub tables: Vec<&'static str>,
}

pub async fn tables(_caller: Caller) -> Json<Tables> {
    Json(Tables {
        tables: LookupTable::ALL.iter().map(|t| t.as_str()).collect(),
    })
}

#[derive(Debug, Serialize)]
pub struct EntryView {
    pub key: String,
    pub columns: BTreeMap<String, String>,
    pub version: u64,
    pub updated_at: DateTime<Utc>,
    pub updated_by: String,
}

impl From<LookupEntry> for EntryView {
    fn from(e: LookupEntry) -> Self {
        Self {
            key: e.key,
            columns: e.columns,
            version: e.version,
            updated_at: e.updated_at,
            updated_by: e.updated_by,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    limit: Option<u32>,
    cursor: Option<String>,
}

pub async fn list(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    ApiPath(table): ApiPath<LookupTable>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Json<ListResponse<EntryView>>> {
    let page = page_request(q.limit, q.cursor)?;
    let got = state
        .stores()
        .lookups
        .list(&caller.tenant, table, page)
        .await
        .map_err(|e| ApiError::from_list(e, "the lookup table"))?;
    Ok(Json(ListResponse {
        items: got.items.into_iter().map(EntryView::from).collect(),
        next_cursor: got.next_cursor,
    }))
}

/// A row to write: `version` is the version read (`null` to create a new row).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntryWrite {
    pub columns: BTreeMap<String, String>,
    pub version: Option<u64>,
}

fn check_text(field: &str, value: &str) -> ApiResult<()> {
    if value.chars().count() > MAX_TEXT || value.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            field,
            format!("at most {MAX_TEXT} printable characters"),
        ));
    }
    Ok(())
}

pub async fn put(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    ApiPath((table, key)): ApiPath<(LookupTable, String)>,
    ApiJson(write): ApiJson<EntryWrite>,
) -> ApiResult<(StatusCode, Json<EntryView>)> {
    if key.trim().is_empty() || key.contains('#') {
        return Err(ApiError::invalid(
            "key",
            "must be non-empty and contain no `#`",
        ));
    }
    check_text("key", &key)?;
    if write.columns.len() > MAX_COLUMNS {
        return Err(ApiError::invalid(
            "columns",
            format!("at most {MAX_COLUMNS} columns"),
        ));
    }
    for (name, value) in &write.columns {
        if name.is_empty() {
            return Err(ApiError::invalid(
                "columns",
                "column names must not be empty",
            ));
        }
        check_text(&format!("columns.{name}"), name)?;
        check_text(&format!("columns.{name}"), value)?;
    }
    if write.version.is_some()
        && state
            .stores()
            .lookups
            .get(&caller.tenant, table, &key)
            .await
            .map_err(|e| ApiError::from_store(e, "the lookup row"))?
            .is_none()
    {
        return Err(ApiError::not_found(format!(
            "The row `{key}` does not exist."
        )));
    }
    let entry = LookupEntry {
        key: key.clone(),
        columns: write.columns,
        version: write.version.unwrap_or(0),
        updated_at: state.now(),
        updated_by: caller.user.clone(),
    };
    // A row the flows could not use is refused here, naming the row and the column, rather than turning
    // every document that needs it into a set-up error later.
    if let Err(ConfigError::Row { column, reason, .. }) =
        ledgerlink_mapping::load::check_row(table, &entry)
    {
        let field = if column == "key" {
            "key".to_owned()
        } else {
            format!("columns.{column}")
        };
        return Err(ApiError::invalid(
            field,
            format!(
                "row `{key}` of {}, column {column}: {reason}",
                table.as_str()
            ),
        ));
    }
    let stored = state
        .stores()
        .lookups
        .put(&caller.tenant, table, &entry, write.version)
        .await
        .map_err(|e| match e {
            ledgerlink_ports::StoreError::Conflict { .. } if write.version.is_none() => {
                ApiError::Conflict(format!(
                    "The row `{key}` already exists; edit it with its version."
                ))
            }
            ledgerlink_ports::StoreError::Conflict { .. } => ApiError::Conflict(format!(
                "The row `{key}` changed (or was deleted) since version {} was read; reload it.",
                write.version.unwrap_or(0)
            )),
            ledgerlink_ports::StoreError::NotFound { .. } => {
                ApiError::not_found(format!("The row `{key}` does not exist."))
            }
            other => ApiError::from_store(other, "the lookup row"),
        })?;
    let status = if write.version.is_none() {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(stored.into())))
}

pub async fn delete(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    ApiPath((table, key)): ApiPath<(LookupTable, String)>,
) -> ApiResult<StatusCode> {
    let lookups = &state.stores().lookups;
    let existing = lookups
        .get(&caller.tenant, table, &key)
        .await
        .map_err(|e| ApiError::from_store(e, "the lookup row"))?;
    if existing.is_none() {
        return Err(ApiError::not_found(format!(
            "The row `{key}` does not exist."
        )));
    }
    lookups
        .delete(&caller.tenant, table, &key)
        .await
        .map_err(|e| ApiError::from_store(e, "the lookup row"))?;
    Ok(StatusCode::NO_CONTENT)
}
