//! The operator-editable lookup tables (tax codes, bank codes, firms, ...): view a table page by page, and
//! edit a row with its optimistic version (a stale version is a 409, never a silent overwrite).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use ledgerlink_mapping::ConfigError;
use ledgerlink_ports::{LookupEntry, LookupTable};
use serde::{Deserialize, Serialize};

use crate::ApiState;
use crate::auth::Caller;
use crate::conventions::{Created, Versioned, expected_version, has_if_match};
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

/// One row, with its version as `ETag` (what `If-Match` of a PUT names).
pub async fn get(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    ApiPath((table, key)): ApiPath<(LookupTable, String)>,
) -> ApiResult<Versioned<EntryView>> {
    let entry = state
        .stores()
        .lookups
        .get(&caller.tenant, table, &key)
        .await
        .map_err(|e| ApiError::from_store(e, "the lookup row"))?
        .ok_or_else(|| ApiError::not_found(format!("The row `{key}` does not exist.")))?;
    Ok(Versioned {
        version: entry.version,
        body: entry.into(),
    })
}

/// A row to write: `version` is the version read (`null` to create a new row).
///
/// Which version a PUT replaces: `If-Match` (the row's `ETag`; 412 when it is not current, or when the row
/// does not exist), else the body's `version` (409 when stale). With neither, the PUT creates the row and
/// is a 409 when it exists already — it never overwrites a row unseen (as `If-None-Match: *` would).
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
    headers: axum::http::HeaderMap,
    ApiJson(mut write): ApiJson<EntryWrite>,
) -> ApiResult<Response> {
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
    if has_if_match(&headers) || write.version.is_some() {
        let current = state
            .stores()
            .lookups
            .get(&caller.tenant, table, &key)
            .await
            .map_err(|e| ApiError::from_store(e, "the lookup row"))?;
        match current {
            Some(current) if has_if_match(&headers) => {
                write.version = Some(expected_version(
                    &headers,
                    write.version,
                    current.version,
                    &format!("The row `{key}`"),
                )?);
            }
            Some(_) => {}
            None if has_if_match(&headers) => {
                return Err(ApiError::PreconditionFailed(format!(
                    "The row `{key}` does not exist, so `If-Match` cannot match it; create it without \
                     `If-Match`."
                )));
            }
            None => {
                return Err(ApiError::not_found(format!(
                    "The row `{key}` does not exist."
                )));
            }
        }
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
    let version = stored.version;
    if write.version.is_none() {
        let location = format!(
            "/api/lookups/{}/{}",
            table.as_str(),
            crate::conventions::segment(&key)
        );
        return Ok(Created::at(location, EntryView::from(stored))
            .with_version(version)
            .into_response());
    }
    Ok(Versioned {
        version,
        body: EntryView::from(stored),
    }
    .into_response())
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
