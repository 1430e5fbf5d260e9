//! [`IntegrationStore`] on SQLite: saved integrations (versioned), the latest run of each task per
//! accounting period, and every run kept in the period's history.

use async_trait::async_trait;
use ledgerlink_domain::TenantId;
use ledgerlink_ports::{Integration, IntegrationStore, Page, PageRequest, StoreResult, TaskRun};
use rusqlite::{OptionalExtension, params};

use crate::db::{Db, decode, next_version, uint};
use crate::page;

/// Integrations Manager data in the embedded database.
#[derive(Debug, Clone)]
pub struct SqliteIntegrations {
    db: Db,
}

impl SqliteIntegrations {
    pub(crate) fn new(db: Db) -> Self {
        Self { db }
    }

    /// Every run recorded for an integration in `period`, oldest first (the period's audit trail; the port's
    /// `runs` shows only the latest state of each task).
    pub async fn run_history(
        &self,
        tenant: &TenantId,
        integration_id: &str,
        period: u32,
    ) -> StoreResult<Vec<TaskRun>> {
        let (tenant, integration_id) = (tenant.clone(), integration_id.to_owned());
        self.db
            .read(move |conn| {
                let mut statement = conn.prepare_cached(
                    "SELECT body FROM task_run_history WHERE tenant = ?1 AND integration_id = ?2 AND period = ?3
                     ORDER BY seq",
                )?;
                let rows =
                    statement.query_map(params![tenant.as_str(), integration_id, period], |row| row.get::<_, String>(0))?;
                let mut runs = Vec::new();
                for body in rows {
                    runs.push(decode(&body?)?);
                }
                Ok(runs)
            })
            .await
    }
}

#[async_trait]
impl IntegrationStore for SqliteIntegrations {
    async fn put(
        &self,
        integration: &Integration,
        expected_version: Option<u64>,
    ) -> StoreResult<Integration> {
        let mut saved = integration.clone();
        self.db
            .write(move |tx| {
                let current: Option<i64> = tx
                    .query_row(
                        "SELECT version FROM integrations WHERE tenant = ?1 AND id = ?2",
                        params![saved.tenant.as_str(), saved.id],
                        |row| row.get(0),
                    )
                    .optional()?;
                let version =
                    next_version(|| format!("integration {}/{}", saved.tenant, saved.id), current, expected_version)?;
                saved.version = uint(version);
                tx.execute(
                    "INSERT INTO integrations (tenant, id, version, body) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (tenant, id) DO UPDATE SET version = excluded.version, body = excluded.body",
                    params![saved.tenant.as_str(), saved.id, version, serde_json::to_string(&saved)?],
                )?;
                Ok(saved)
            })
            .await
    }

    async fn get(&self, tenant: &TenantId, id: &str) -> StoreResult<Option<Integration>> {
        let (tenant, id) = (tenant.clone(), id.to_owned());
        self.db
            .read(move |conn| {
                let body: Option<String> = conn
                    .query_row(
                        "SELECT body FROM integrations WHERE tenant = ?1 AND id = ?2",
                        params![tenant.as_str(), id],
                        |row| row.get(0),
                    )
                    .optional()?;
                body.as_deref().map(decode).transpose()
            })
            .await
    }

    async fn list(&self, tenant: &TenantId, page: PageRequest) -> StoreResult<Page<Integration>> {
        let tenant = tenant.clone();
        self.db
            .read(move |conn| {
                let after: String = page::position(&page)?.unwrap_or_default();
                let mut statement = conn.prepare_cached(
                    "SELECT body FROM integrations WHERE tenant = ?1 AND id > ?2 ORDER BY id LIMIT ?3",
                )?;
                let rows = statement
                    .query_map(params![tenant.as_str(), after, page::fetch_limit(&page)], |row| row.get::<_, String>(0))?;
                let mut items: Vec<Integration> = Vec::new();
                for body in rows {
                    items.push(decode(&body?)?);
                }
                page::finish(&page, items, |integration| integration.id.clone())
            })
            .await
    }

    async fn delete(&self, tenant: &TenantId, id: &str) -> StoreResult<()> {
        let (tenant, id) = (tenant.clone(), id.to_owned());
        self.db
            .write(move |tx| {
                // The period states go with the integration; the run history stays for the audit trail.
                tx.execute(
                    "DELETE FROM integrations WHERE tenant = ?1 AND id = ?2",
                    params![tenant.as_str(), id],
                )?;
                tx.execute(
                    "DELETE FROM task_runs WHERE tenant = ?1 AND integration_id = ?2",
                    params![tenant.as_str(), id],
                )?;
                Ok(())
            })
            .await
    }

    async fn record_run(&self, run: &TaskRun) -> StoreResult<()> {
        let run = run.clone();
        self.db
            .write(move |tx| {
                let body = serde_json::to_string(&run)?;
                tx.execute(
                    "INSERT INTO task_runs (tenant, integration_id, period, task, body) VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (tenant, integration_id, period, task) DO UPDATE SET body = excluded.body",
                    params![run.tenant.as_str(), run.integration_id, run.period, run.task, body],
                )?;
                tx.execute(
                    "INSERT INTO task_run_history (tenant, integration_id, period, task, body)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![run.tenant.as_str(), run.integration_id, run.period, run.task, body],
                )?;
                Ok(())
            })
            .await
    }

    async fn runs(
        &self,
        tenant: &TenantId,
        integration_id: &str,
        period: u32,
    ) -> StoreResult<Vec<TaskRun>> {
        let (tenant, integration_id) = (tenant.clone(), integration_id.to_owned());
        self.db
            .read(move |conn| {
                let mut statement = conn.prepare_cached(
                    "SELECT body FROM task_runs WHERE tenant = ?1 AND integration_id = ?2 AND period = ?3 ORDER BY task",
                )?;
                let rows =
                    statement.query_map(params![tenant.as_str(), integration_id, period], |row| row.get::<_, String>(0))?;
                let mut runs = Vec::new();
                for body in rows {
                    runs.push(decode(&body?)?);
                }
                Ok(runs)
            })
            .await
    }
}
