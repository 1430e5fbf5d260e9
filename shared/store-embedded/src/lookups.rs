//! [`LookupStore`] on SQLite: one row per tenant, table and key; the primary key serves the key-ordered list.

use async_trait::async_trait;
use ledgerlink_domain::TenantId;
use ledgerlink_ports::{LookupEntry, LookupStore, LookupTable, Page, PageRequest, StoreResult};
use rusqlite::{OptionalExtension, params};

use crate::db::{Db, decode, next_version, uint};
use crate::page;

/// The operator-editable lookup tables in the embedded database.
#[derive(Debug, Clone)]
pub struct SqliteLookups {
    db: Db,
}

impl SqliteLookups {
    pub(crate) fn new(db: Db) -> Self {
        Self { db }
    }
}

#[async_trait]
impl LookupStore for SqliteLookups {
    async fn get(
        &self,
        tenant: &TenantId,
        table: LookupTable,
        key: &str,
    ) -> StoreResult<Option<LookupEntry>> {
        let (tenant, key) = (tenant.clone(), key.to_owned());
        self.db
            .read(move |conn| {
                let body: Option<String> = conn
                    .query_row(
                        "SELECT body FROM lookups WHERE tenant = ?1 AND tbl = ?2 AND key = ?3",
                        params![tenant.as_str(), table.as_str(), key],
                        |row| row.get(0),
                    )
                    .optional()?;
                body.as_deref().map(decode).transpose()
            })
            .await
    }

    async fn put(
        &self,
        tenant: &TenantId,
        table: LookupTable,
        entry: &LookupEntry,
        expected_version: Option<u64>,
    ) -> StoreResult<LookupEntry> {
        let tenant = tenant.clone();
        let mut saved = entry.clone();
        self.db
            .write(move |tx| {
                let current: Option<i64> = tx
                    .query_row(
                        "SELECT version FROM lookups WHERE tenant = ?1 AND tbl = ?2 AND key = ?3",
                        params![tenant.as_str(), table.as_str(), saved.key],
                        |row| row.get(0),
                    )
                    .optional()?;
                let version = next_version(
                    || format!("lookup {}/{}/{}", tenant, table.as_str(), saved.key),
                    current,
                    expected_version,
                )?;
                saved.version = uint(version);
                tx.execute(
                    "INSERT INTO lookups (tenant, tbl, key, version, body) VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (tenant, tbl, key) DO UPDATE SET version = excluded.version, body = excluded.body",
                    params![tenant.as_str(), table.as_str(), saved.key, version, serde_json::to_string(&saved)?],
                )?;
                Ok(saved)
            })
            .await
    }

    async fn delete(&self, tenant: &TenantId, table: LookupTable, key: &str) -> StoreResult<()> {
        let (tenant, key) = (tenant.clone(), key.to_owned());
        self.db
            .write(move |tx| {
                tx.execute(
                    "DELETE FROM lookups WHERE tenant = ?1 AND tbl = ?2 AND key = ?3",
                    params![tenant.as_str(), table.as_str(), key],
                )?;
                Ok(())
            })
            .await
    }

    async fn list(
        &self,
        tenant: &TenantId,
        table: LookupTable,
        page: PageRequest,
    ) -> StoreResult<Page<LookupEntry>> {
        let tenant = tenant.clone();
        self.db
            .read(move |conn| {
                let after: String = page::position(&page)?.unwrap_or_default();
                let mut statement = conn.prepare_cached(
                    "SELECT body FROM lookups WHERE tenant = ?1 AND tbl = ?2 AND key > ?3 ORDER BY key LIMIT ?4",
                )?;
                let rows = statement.query_map(
                    params![tenant.as_str(), table.as_str(), after, page::fetch_limit(&page)],
                    |row| row.get::<_, String>(0),
                )?;
                let mut items: Vec<LookupEntry> = Vec::new();
                for body in rows {
                    items.push(decode(&body?)?);
                }
                page::finish(&page, items, |entry| entry.key.clone())
            })
            .await
    }
}
