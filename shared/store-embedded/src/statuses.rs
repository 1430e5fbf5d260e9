//! [`StatusStore`] on SQLite. The row keeps the filterable fields as columns (each filter has an index
//! led by the tenant and ending in `updated_at`, so a page is an index range scan within one tenant) and
//! the whole record as JSON. The attempt history is a second table written in the same transaction.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ledgerlink_domain::{SyncStatus, TenantId};
use ledgerlink_ports::{
    AttemptCount, AttemptStart, ObjectRef, ObjectStatus, Page, PageRequest, StatusAttempt,
    StatusFilter, StatusStore, StoreError, StoreResult, attempt_declined, attempt_started,
};
use rusqlite::types::Value;
use rusqlite::{OptionalExtension, Transaction, params, params_from_iter};

use crate::db::{Db, DbError, DbResult, decode, from_nanos, int, nanos, next_version, uint};
use crate::page;

/// Per-object sync statuses in the embedded database.
#[derive(Debug, Clone)]
pub struct SqliteStatuses {
    db: Db,
}

impl SqliteStatuses {
    pub(crate) fn new(db: Db) -> Self {
        Self { db }
    }
}

/// Where the last item of a page sat in the list order.
type Position = (i64, String, String);

fn describe(object: &ObjectRef) -> String {
    format!(
        "status of {}/{}/{}",
        object.tenant, object.object_type, object.key
    )
}

fn write_row(tx: &Transaction<'_>, status: &ObjectStatus) -> DbResult<()> {
    let o = &status.object;
    tx.execute(
        "INSERT INTO statuses (tenant, object_type, key, category, status, source_version, version, updated_at, body)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
         ON CONFLICT (tenant, object_type, key) DO UPDATE SET category = excluded.category,
            status = excluded.status, source_version = excluded.source_version, version = excluded.version,
            updated_at = excluded.updated_at, body = excluded.body",
        params![
            o.tenant.as_str(),
            o.object_type.as_str(),
            o.key.as_str(),
            status.category.as_str(),
            status.status.as_str(),
            status.source_version,
            int(status.version)?,
            nanos(status.updated_at)?,
            serde_json::to_string(status)?,
        ],
    )?;
    Ok(())
}

/// Writes the row and appends its attempt to the history, in the caller's transaction.
fn write_with_history(tx: &Transaction<'_>, saved: &ObjectStatus) -> DbResult<()> {
    write_row(tx, saved)?;
    let o = &saved.object;
    let attempt = StatusAttempt {
        at: saved.updated_at,
        attempt: saved.attempts,
        status: saved.status,
        message: saved.last_message.clone(),
    };
    tx.execute(
        "INSERT INTO status_history (tenant, object_type, key, body, at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            o.tenant.as_str(),
            o.object_type.as_str(),
            o.key.as_str(),
            serde_json::to_string(&attempt)?,
            nanos(attempt.at)?
        ],
    )?;
    Ok(())
}

/// The list query for one filter: every combination starts with `tenant = ?`, and the indexes all lead with
/// the tenant, so SQLite reads one tenant's index range (already in `updated_at` order), never other tenants.
fn list_query(
    tenant: &TenantId,
    filter: &StatusFilter,
    after: Option<Position>,
    limit: i64,
) -> (String, Vec<Value>) {
    let mut sql =
        String::from("SELECT body, updated_at, object_type, key FROM statuses WHERE tenant = ?");
    let mut args: Vec<Value> = vec![Value::Text(tenant.as_str().to_owned())];
    if let Some(status) = filter.status {
        sql.push_str(" AND status = ?");
        args.push(Value::Text(status.as_str().to_owned()));
    }
    if let Some(category) = filter.category {
        sql.push_str(" AND category = ?");
        args.push(Value::Text(category.as_str().to_owned()));
    }
    if let Some(object_type) = filter.object_type {
        sql.push_str(" AND object_type = ?");
        args.push(Value::Text(object_type.as_str().to_owned()));
    }
    if let Some(source_version) = &filter.source_version {
        sql.push_str(" AND source_version = ?");
        args.push(Value::Text(source_version.clone()));
    }
    if let Some(prefix) = &filter.key_prefix {
        sql.push_str(" AND substr(key, 1, ?) = ?");
        args.push(Value::Integer(
            i64::try_from(prefix.chars().count()).unwrap_or(i64::MAX),
        ));
        args.push(Value::Text(prefix.clone()));
    }
    if let Some((updated_at, object_type, key)) = after {
        sql.push_str(" AND (updated_at, object_type, key) < (?, ?, ?)");
        args.extend([
            Value::Integer(updated_at),
            Value::Text(object_type),
            Value::Text(key),
        ]);
    }
    sql.push_str(" ORDER BY updated_at DESC, object_type DESC, key DESC LIMIT ?");
    args.push(Value::Integer(limit));
    (sql, args)
}

#[async_trait]
impl StatusStore for SqliteStatuses {
    async fn get(&self, object: &ObjectRef) -> StoreResult<Option<ObjectStatus>> {
        let object = object.clone();
        self.db
            .read(move |conn| {
                let body: Option<String> = conn
                    .query_row(
                        "SELECT body FROM statuses WHERE tenant = ?1 AND object_type = ?2 AND key = ?3",
                        params![object.tenant.as_str(), object.object_type.as_str(), object.key.as_str()],
                        |row| row.get(0),
                    )
                    .optional()?;
                body.as_deref().map(decode).transpose()
            })
            .await
    }

    async fn put(
        &self,
        status: &ObjectStatus,
        expected_version: Option<u64>,
    ) -> StoreResult<ObjectStatus> {
        let mut saved = status.clone();
        self.db
            .write(move |tx| {
                let o = &saved.object;
                let current: Option<i64> = tx
                    .query_row(
                        "SELECT version FROM statuses WHERE tenant = ?1 AND object_type = ?2 AND key = ?3",
                        params![o.tenant.as_str(), o.object_type.as_str(), o.key.as_str()],
                        |row| row.get(0),
                    )
                    .optional()?;
                saved.version = uint(next_version(|| describe(o), current, expected_version)?);
                write_with_history(tx, &saved)?;
                Ok(saved)
            })
            .await
    }

    async fn begin_attempt(
        &self,
        object: &ObjectRef,
        force: bool,
        at: DateTime<Utc>,
    ) -> StoreResult<AttemptStart> {
        let object = object.clone();
        self.db
            .write(move |tx| {
                let body: Option<String> = tx
                    .query_row(
                        "SELECT body FROM statuses WHERE tenant = ?1 AND object_type = ?2 AND key = ?3",
                        params![object.tenant.as_str(), object.object_type.as_str(), object.key.as_str()],
                        |row| row.get(0),
                    )
                    .optional()?;
                let previous: Option<ObjectStatus> = body.as_deref().map(decode).transpose()?;
                if let Some(current) = previous.as_ref().filter(|c| attempt_declined(c, force)) {
                    return Ok(AttemptStart::Declined(current.clone()));
                }
                let base = previous
                    .clone()
                    .unwrap_or_else(|| AttemptStart::fresh(&object, at));
                let mut current = attempt_started(&base, at);
                current.version = previous.as_ref().map_or(1, |p| p.version + 1);
                write_with_history(tx, &current)?;
                Ok(AttemptStart::Started { previous, current })
            })
            .await
    }

    async fn create_missing(&self, statuses: &[ObjectStatus]) -> StoreResult<usize> {
        let mut created = 0;
        // Batches keep each write transaction (and so the lock other processes wait for) short.
        for batch in statuses.chunks(500) {
            let batch = batch.to_vec();
            created += self
                .db
                .write(move |tx| {
                    let mut created = 0;
                    let mut insert = tx.prepare_cached(
                        "INSERT INTO statuses
                            (tenant, object_type, key, category, status, source_version, version, updated_at, body)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                         ON CONFLICT (tenant, object_type, key) DO NOTHING",
                    )?;
                    for status in &batch {
                        let o = &status.object;
                        created += insert.execute(params![
                            o.tenant.as_str(),
                            o.object_type.as_str(),
                            o.key.as_str(),
                            status.category.as_str(),
                            status.status.as_str(),
                            status.source_version,
                            int(status.version)?,
                            nanos(status.updated_at)?,
                            serde_json::to_string(status)?,
                        ])?;
                    }
                    Ok(created)
                })
                .await?;
        }
        Ok(created)
    }

    async fn list(
        &self,
        tenant: &TenantId,
        filter: &StatusFilter,
        page: PageRequest,
    ) -> StoreResult<Page<ObjectStatus>> {
        let tenant = tenant.clone();
        let filter = filter.clone();
        self.db
            .read(move |conn| {
                let (sql, args) = list_query(
                    &tenant,
                    &filter,
                    page::position::<Position>(&page)?,
                    page::fetch_limit(&page),
                );
                let mut statement = conn.prepare_cached(&sql)?;
                let rows = statement.query_map(params_from_iter(args), |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, i64>(1)?,
                        row.get::<_, String>(2)?,
                        row.get::<_, String>(3)?,
                    ))
                })?;
                let mut items = Vec::new();
                for row in rows {
                    let (body, updated_at, object_type, key) = row?;
                    items.push((
                        decode::<ObjectStatus>(&body)?,
                        (updated_at, object_type, key),
                    ));
                }
                let page = page::finish(&page, items, |(_, position)| position.clone())?;
                Ok(Page {
                    items: page.items.into_iter().map(|(status, _)| status).collect(),
                    next_cursor: page.next_cursor,
                })
            })
            .await
    }

    async fn history(&self, object: &ObjectRef, limit: u32) -> StoreResult<Vec<StatusAttempt>> {
        let object = object.clone();
        self.db
            .read(move |conn| {
                let mut statement = conn.prepare_cached(
                    "SELECT body FROM status_history WHERE tenant = ?1 AND object_type = ?2 AND key = ?3
                     ORDER BY seq DESC LIMIT ?4",
                )?;
                let rows = statement.query_map(
                    params![object.tenant.as_str(), object.object_type.as_str(), object.key.as_str(), i64::from(limit)],
                    |row| row.get::<_, String>(0),
                )?;
                let mut attempts = Vec::new();
                for body in rows {
                    attempts.push(decode(&body?)?);
                }
                Ok(attempts)
            })
            .await
    }

    async fn counts(&self, tenant: &TenantId) -> StoreResult<BTreeMap<SyncStatus, u64>> {
        let tenant = tenant.clone();
        self.db
            .read(move |conn| {
                let mut statement = conn.prepare_cached(
                    "SELECT status, COUNT(*) FROM statuses WHERE tenant = ?1 GROUP BY status",
                )?;
                let rows = statement.query_map(params![tenant.as_str()], |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
                })?;
                let mut counts = BTreeMap::new();
                for row in rows {
                    let (status, count) = row?;
                    let status: SyncStatus = status.parse().map_err(|e| {
                        DbError::Store(StoreError::permanent(
                            "a stored status could not be decoded",
                            e,
                        ))
                    })?;
                    counts.insert(status, uint(count));
                }
                Ok(counts)
            })
            .await
    }

    async fn attempt_counts(
        &self,
        tenant: &TenantId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> StoreResult<Vec<AttemptCount>> {
        let tenant = tenant.clone();
        let (from, to) = (nanos(from)?, nanos(to)?);
        self.db
            .read(move |conn| {
                // One range scan of the (tenant, at) index, grouped per hour, type and status.
                let mut statement = conn.prepare_cached(
                    "SELECT at / 3600000000000, object_type, json_extract(body, '$.status'), COUNT(*)
                       FROM status_history
                      WHERE tenant = ?1 AND at >= ?2 AND at < ?3
                      GROUP BY 1, 2, 3",
                )?;
                let rows = statement.query_map(params![tenant.as_str(), from, to], |row| {
                    Ok((
                        row.get::<_, i64>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, String>(2)?,
                        row.get::<_, i64>(3)?,
                    ))
                })?;
                let mut counts = Vec::new();
                for row in rows {
                    let (hour, object_type, status, count) = row?;
                    counts.push(AttemptCount {
                        hour: from_nanos(hour.saturating_mul(3_600_000_000_000)),
                        object_type: object_type.parse().map_err(undecodable)?,
                        status: status.parse().map_err(undecodable)?,
                        count: uint(count),
                    });
                }
                counts.sort();
                Ok(counts)
            })
            .await
    }
}

fn undecodable(error: impl std::error::Error + Send + Sync + 'static) -> DbError {
    DbError::Store(StoreError::permanent(
        "a stored attempt could not be decoded",
        error,
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use ledgerlink_domain::{Category, ObjectType};

    use super::*;

    /// The plan of every filter combination, one detail line per step.
    fn plans() -> Vec<(StatusFilter, Vec<String>)> {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("plan.db")).unwrap();
        let conn = db.lock_for_tests();
        let tenant = TenantId::parse("acme").unwrap();
        let mut filters = Vec::new();
        for bits in 0..32_u32 {
            filters.push(StatusFilter {
                status: (bits & 1 != 0).then_some(SyncStatus::Error),
                category: (bits & 2 != 0).then_some(Category::Finance),
                object_type: (bits & 4 != 0).then_some(ObjectType::Invoice),
                key_prefix: (bits & 8 != 0).then(|| "INV".to_owned()),
                source_version: (bits & 16 != 0).then(|| "P1".to_owned()),
            });
        }
        filters
            .into_iter()
            .flat_map(|filter| {
                [None, Some((1_i64, "invoice".to_owned(), "K".to_owned()))]
                    .into_iter()
                    .map(move |after| (filter.clone(), after))
            })
            .map(|(filter, after)| {
                let (sql, args) = list_query(&tenant, &filter, after, 51);
                let mut statement = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
                let detail = statement
                    .query_map(params_from_iter(args), |row| row.get::<_, String>(3))
                    .unwrap()
                    .collect::<Result<Vec<_>, _>>()
                    .unwrap();
                (filter, detail)
            })
            .collect()
    }

    #[test]
    fn every_list_filter_reads_an_index_range_of_one_tenant_without_sorting() {
        for (filter, detail) in plans() {
            let plan = detail.join(" | ");
            assert!(
                detail.iter().all(|d| d.starts_with("SEARCH statuses USING INDEX") && d.contains("tenant=?")),
                "{filter:?} must be an index search keyed on the tenant, plan: {plan}"
            );
            assert!(
                !plan.contains("TEMP B-TREE"),
                "{filter:?} must read rows in list order, plan: {plan}"
            );
        }
    }

    #[test]
    fn a_status_filter_with_an_object_type_reads_only_the_matching_rows() {
        for (filter, detail) in plans() {
            if filter.status.is_some() && filter.object_type.is_some() {
                let plan = detail.join(" | ");
                assert!(
                    plan.contains("statuses_by_status_type") && plan.contains("object_type=?"),
                    "{filter:?} must seek on status and type, plan: {plan}"
                );
            }
        }
    }

    #[test]
    fn attempt_counts_are_one_range_search_of_the_attempt_time_index() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("plan.db")).unwrap();
        let conn = db.lock_for_tests();
        let mut statement = conn
            .prepare(
                "EXPLAIN QUERY PLAN SELECT at / 3600000000000, object_type, json_extract(body, '$.status'), COUNT(*)
                   FROM status_history WHERE tenant = ?1 AND at >= ?2 AND at < ?3 GROUP BY 1, 2, 3",
            )
            .unwrap();
        let plan = statement
            .query_map(params!["acme", 0, 1], |row| row.get::<_, String>(3))
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap()
            .join(" | ");

        assert!(
            plan.contains("SEARCH status_history USING INDEX status_history_by_time (tenant=? AND at>? AND at<?)"),
            "plan: {plan}"
        );
    }

    #[tokio::test]
    async fn attempts_written_before_the_attempt_time_column_are_counted_after_the_migration() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        {
            // A file at schema version 4 (before attempt times), with one attempt in its history.
            let mut conn = rusqlite::Connection::open(&path).unwrap();
            let tx = conn.transaction().unwrap();
            for (index, sql) in crate::db::MIGRATIONS.iter().enumerate().take(4) {
                tx.execute_batch(sql).unwrap();
                tx.pragma_update(None, "user_version", index + 1).unwrap();
            }
            tx.execute(
                "INSERT INTO status_history (tenant, object_type, key, body) VALUES ('acme', 'firm', 'F1', ?1)",
                params![r#"{"at":"2026-06-15T10:30:00.250Z","attempt":1,"status":"error","message":null}"#],
            )
            .unwrap();
            tx.commit().unwrap();
        }
        let statuses = SqliteStatuses::new(Db::open(&path).unwrap());
        let at = |text: &str| {
            DateTime::parse_from_rfc3339(text)
                .unwrap()
                .with_timezone(&Utc)
        };

        let counts = statuses
            .attempt_counts(
                &TenantId::parse("acme").unwrap(),
                at("2026-06-15T10:00:00Z"),
                at("2026-06-15T11:00:00Z"),
            )
            .await
            .unwrap();

        assert_eq!(
            counts,
            vec![AttemptCount {
                hour: at("2026-06-15T10:00:00Z"),
                object_type: ObjectType::Firm,
                status: SyncStatus::Error,
                count: 1,
            }]
        );
    }
}
