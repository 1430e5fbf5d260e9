//! [`JobStore`] on SQLite: export and import jobs. Lists read the `(tenant, kind, id)` index backwards
//! (ids sort newest first); the clean-up's expired-lease query reads a partial index of started jobs only.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ledgerlink_domain::TenantId;
use ledgerlink_ports::{
    Job, JobKind, JobStatus, JobStore, Page, PageRequest, StoreError, StoreResult,
};
use rusqlite::{OptionalExtension, Transaction, params};

use crate::db::{Db, DbResult, decode, int, nanos, next_version, uint};
use crate::page;

/// Export and import jobs in the embedded database.
#[derive(Debug, Clone)]
pub struct SqliteJobs {
    db: Db,
}

impl SqliteJobs {
    pub(crate) fn new(db: Db) -> Self {
        Self { db }
    }
}

/// Served by the partial index `jobs_started_leases`, which holds started jobs only.
const EXPIRED_LEASES: &str = "SELECT body FROM jobs WHERE status = 'started' AND lease_expires_at < ?1 ORDER BY lease_expires_at LIMIT ?2";

fn kind_str(kind: JobKind) -> &'static str {
    match kind {
        JobKind::Export => "export",
        JobKind::Import => "import",
    }
}

fn status_str(status: JobStatus) -> &'static str {
    match status {
        JobStatus::Started => "started",
        JobStatus::Finished => "finished",
        JobStatus::Failed => "failed",
    }
}

fn write_job(tx: &Transaction<'_>, job: &Job) -> DbResult<()> {
    tx.execute(
        "INSERT INTO jobs (tenant, id, kind, status, lease_expires_at, version, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (tenant, id) DO UPDATE SET kind = excluded.kind, status = excluded.status,
            lease_expires_at = excluded.lease_expires_at, version = excluded.version, body = excluded.body",
        params![
            job.tenant.as_str(),
            job.id,
            kind_str(job.kind),
            status_str(job.status),
            job.lease_expires_at.map(nanos).transpose()?,
            int(job.version)?,
            serde_json::to_string(job)?,
        ],
    )?;
    Ok(())
}

fn current_version(tx: &Transaction<'_>, tenant: &TenantId, id: &str) -> DbResult<Option<i64>> {
    Ok(tx
        .query_row(
            "SELECT version FROM jobs WHERE tenant = ?1 AND id = ?2",
            params![tenant.as_str(), id],
            |row| row.get(0),
        )
        .optional()?)
}

#[async_trait]
impl JobStore for SqliteJobs {
    async fn create(&self, job: &Job) -> StoreResult<Job> {
        let mut saved = job.clone();
        self.db
            .write(move |tx| {
                if current_version(tx, &saved.tenant, &saved.id)?.is_some() {
                    return Err(StoreError::conflict(
                        format!("job {}/{}", saved.tenant, saved.id),
                        "already exists",
                    )
                    .into());
                }
                saved.version = 1;
                write_job(tx, &saved)?;
                Ok(saved)
            })
            .await
    }

    async fn get(&self, tenant: &TenantId, id: &str) -> StoreResult<Option<Job>> {
        let (tenant, id) = (tenant.clone(), id.to_owned());
        self.db
            .read(move |conn| {
                let body: Option<String> = conn
                    .query_row(
                        "SELECT body FROM jobs WHERE tenant = ?1 AND id = ?2",
                        params![tenant.as_str(), id],
                        |row| row.get(0),
                    )
                    .optional()?;
                body.as_deref().map(decode).transpose()
            })
            .await
    }

    async fn put(&self, job: &Job, expected_version: u64) -> StoreResult<Job> {
        let mut saved = job.clone();
        self.db
            .write(move |tx| {
                let current = current_version(tx, &saved.tenant, &saved.id)?;
                let version = next_version(
                    || format!("job {}/{}", saved.tenant, saved.id),
                    current,
                    Some(expected_version),
                )?;
                saved.version = uint(version);
                write_job(tx, &saved)?;
                Ok(saved)
            })
            .await
    }

    async fn list(
        &self,
        tenant: &TenantId,
        kind: JobKind,
        page: PageRequest,
    ) -> StoreResult<Page<Job>> {
        let tenant = tenant.clone();
        self.db
            .read(move |conn| {
                let before: Option<String> = page::position(&page)?;
                // Two statements, so each reads the (tenant, kind, id) index as one range.
                let mut statement = conn.prepare_cached(if before.is_some() {
                    "SELECT body FROM jobs WHERE tenant = ?1 AND kind = ?2 AND id < ?3 ORDER BY id DESC LIMIT ?4"
                } else {
                    "SELECT body FROM jobs WHERE tenant = ?1 AND kind = ?2 AND ?3 IS NULL ORDER BY id DESC LIMIT ?4"
                })?;
                let rows = statement.query_map(
                    params![tenant.as_str(), kind_str(kind), before, page::fetch_limit(&page)],
                    |row| row.get::<_, String>(0),
                )?;
                let mut items: Vec<Job> = Vec::new();
                for body in rows {
                    items.push(decode(&body?)?);
                }
                page::finish(&page, items, |job| job.id.clone())
            })
            .await
    }

    async fn expired_leases(&self, now: DateTime<Utc>, limit: u32) -> StoreResult<Vec<Job>> {
        self.db
            .read(move |conn| {
                let mut statement = conn.prepare_cached(EXPIRED_LEASES)?;
                let rows = statement.query_map(params![nanos(now)?, i64::from(limit)], |row| {
                    row.get::<_, String>(0)
                })?;
                let mut jobs = Vec::new();
                for body in rows {
                    jobs.push(decode(&body?)?);
                }
                Ok(jobs)
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn expired_leases_are_found_through_the_partial_index_of_started_jobs() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("plan.db")).unwrap();
        let conn = db.lock_for_tests();

        let mut statement = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {EXPIRED_LEASES}"))
            .unwrap();
        let detail: Vec<String> = statement
            .query_map(params![0_i64, 10_i64], |row| row.get(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();

        assert_eq!(
            detail,
            ["SEARCH jobs USING INDEX jobs_started_leases (lease_expires_at<?)"]
        );
    }
}
