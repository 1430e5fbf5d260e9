//! [`ExportDefinitionStore`] on SQLite: one row per definition (versioned), in the tenant's id order.

use async_trait::async_trait;
use ledgerlink_domain::TenantId;
use ledgerlink_ports::{
    ExportDefinitionRecord, ExportDefinitionStore, Page, PageRequest, StoreResult,
};
use rusqlite::{OptionalExtension, params};

use crate::db::{Db, decode, next_version, uint};
use crate::page;

/// Saved export definitions in the embedded database.
#[derive(Debug, Clone)]
pub struct SqliteDefinitions {
    db: Db,
}

impl SqliteDefinitions {
    pub(crate) fn new(db: Db) -> Self {
        Self { db }
    }
}

#[async_trait]
impl ExportDefinitionStore for SqliteDefinitions {
    async fn put(
        &self,
        definition: &ExportDefinitionRecord,
        expected_version: Option<u64>,
    ) -> StoreResult<ExportDefinitionRecord> {
        let mut saved = definition.clone();
        self.db
            .write(move |tx| {
                let current: Option<i64> = tx
                    .query_row(
                        "SELECT version FROM export_definitions WHERE tenant = ?1 AND id = ?2",
                        params![saved.tenant.as_str(), saved.id],
                        |row| row.get(0),
                    )
                    .optional()?;
                let version = next_version(
                    || format!("export definition {}/{}", saved.tenant, saved.id),
                    current,
                    expected_version,
                )?;
                saved.version = uint(version);
                tx.execute(
                    "INSERT INTO export_definitions (tenant, id, version, body) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (tenant, id) DO UPDATE SET version = excluded.version, body = excluded.body",
                    params![saved.tenant.as_str(), saved.id, version, serde_json::to_string(&saved)?],
                )?;
                Ok(saved)
            })
            .await
    }

    async fn get(
        &self,
        tenant: &TenantId,
        id: &str,
    ) -> StoreResult<Option<ExportDefinitionRecord>> {
        let (tenant, id) = (tenant.clone(), id.to_owned());
        self.db
            .read(move |conn| {
                let body: Option<String> = conn
                    .query_row(
                        "SELECT body FROM export_definitions WHERE tenant = ?1 AND id = ?2",
                        params![tenant.as_str(), id],
                        |row| row.get(0),
                    )
                    .optional()?;
                body.as_deref().map(decode).transpose()
            })
            .await
    }

    async fn list(
        &self,
        tenant: &TenantId,
        page: PageRequest,
    ) -> StoreResult<Page<ExportDefinitionRecord>> {
        let tenant = tenant.clone();
        self.db
            .read(move |conn| {
                let after: String = page::position(&page)?.unwrap_or_default();
                let mut statement = conn.prepare_cached(
                    "SELECT body FROM export_definitions WHERE tenant = ?1 AND id > ?2 ORDER BY id LIMIT ?3",
                )?;
                let rows = statement.query_map(
                    params![tenant.as_str(), after, page::fetch_limit(&page)],
                    |row| row.get::<_, String>(0),
                )?;
                let mut items: Vec<ExportDefinitionRecord> = Vec::new();
                for body in rows {
                    items.push(decode(&body?)?);
                }
                page::finish(&page, items, |definition| definition.id.clone())
            })
            .await
    }

    async fn delete(&self, tenant: &TenantId, id: &str) -> StoreResult<()> {
        let (tenant, id) = (tenant.clone(), id.to_owned());
        self.db
            .write(move |tx| {
                tx.execute(
                    "DELETE FROM export_definitions WHERE tenant = ?1 AND id = ?2",
                    params![tenant.as_str(), id],
                )?;
                Ok(())
            })
            .await
    }
}
