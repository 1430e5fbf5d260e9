//! [`TenantStore`] on SQLite: one versioned row per tenant. The record holds secret references, never
//! secret values.

use async_trait::async_trait;
use ledgerlink_domain::TenantId;
use ledgerlink_ports::{Page, PageRequest, StoreResult, Tenant, TenantStore};
use rusqlite::{OptionalExtension, params};

use crate::db::{Db, decode, next_version, uint};
use crate::page;

/// Tenants and their connections in the embedded database.
#[derive(Debug, Clone)]
pub struct SqliteTenants {
    db: Db,
}

impl SqliteTenants {
    pub(crate) fn new(db: Db) -> Self {
        Self { db }
    }
}

#[async_trait]
impl TenantStore for SqliteTenants {
    async fn get(&self, tenant: &TenantId) -> StoreResult<Option<Tenant>> {
        let tenant = tenant.clone();
        self.db
            .read(move |conn| {
                let body: Option<String> = conn
                    .query_row(
                        "SELECT body FROM tenants WHERE id = ?1",
                        params![tenant.as_str()],
                        |row| row.get(0),
                    )
                    .optional()?;
                body.as_deref().map(decode).transpose()
            })
            .await
    }

    async fn put(&self, tenant: &Tenant, expected_version: Option<u64>) -> StoreResult<Tenant> {
        let mut saved = tenant.clone();
        self.db
            .write(move |tx| {
                let current: Option<i64> = tx
                    .query_row("SELECT version FROM tenants WHERE id = ?1", params![saved.id.as_str()], |row| row.get(0))
                    .optional()?;
                let version = next_version(|| format!("tenant {}", saved.id), current, expected_version)?;
                saved.version = uint(version);
                tx.execute(
                    "INSERT INTO tenants (id, version, body) VALUES (?1, ?2, ?3)
                     ON CONFLICT (id) DO UPDATE SET version = excluded.version, body = excluded.body",
                    params![saved.id.as_str(), version, serde_json::to_string(&saved)?],
                )?;
                Ok(saved)
            })
            .await
    }

    async fn list(&self, page: PageRequest) -> StoreResult<Page<Tenant>> {
        self.db
            .read(move |conn| {
                let after: String = page::position(&page)?.unwrap_or_default();
                let mut statement = conn.prepare_cached(
                    "SELECT body FROM tenants WHERE id > ?1 ORDER BY id LIMIT ?2",
                )?;
                let rows = statement
                    .query_map(params![after, page::fetch_limit(&page)], |row| {
                        row.get::<_, String>(0)
                    })?;
                let mut items: Vec<Tenant> = Vec::new();
                for body in rows {
                    items.push(decode(&body?)?);
                }
                page::finish(&page, items, |tenant| tenant.id.as_str().to_owned())
            })
            .await
    }
}
