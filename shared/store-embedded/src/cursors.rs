//! [`CursorStore`] on SQLite: one versioned row per tenant, flow, name and division.

use async_trait::async_trait;
use ledgerlink_domain::{Division, Flow, TenantId};
use ledgerlink_ports::{Cursor, CursorStore, StoreResult};
use rusqlite::{OptionalExtension, params};

use crate::db::{Db, decode, next_version, uint};

/// Discovery cursors in the embedded database.
#[derive(Debug, Clone)]
pub struct SqliteCursors {
    db: Db,
}

impl SqliteCursors {
    pub(crate) fn new(db: Db) -> Self {
        Self { db }
    }
}

#[async_trait]
impl CursorStore for SqliteCursors {
    async fn get(
        &self,
        tenant: &TenantId,
        flow: Flow,
        name: &str,
        division: Division,
    ) -> StoreResult<Option<Cursor>> {
        let (tenant, name) = (tenant.clone(), name.to_owned());
        self.db
            .read(move |conn| {
                let body: Option<String> = conn
                    .query_row(
                        "SELECT body FROM cursors WHERE tenant = ?1 AND flow = ?2 AND name = ?3 AND division = ?4",
                        params![tenant.as_str(), flow.as_str(), name, division.0],
                        |row| row.get(0),
                    )
                    .optional()?;
                body.as_deref().map(decode).transpose()
            })
            .await
    }

    async fn put(&self, cursor: &Cursor, expected_version: Option<u64>) -> StoreResult<Cursor> {
        let mut saved = cursor.clone();
        self.db
            .write(move |tx| {
                let current: Option<i64> = tx
                    .query_row(
                        "SELECT version FROM cursors WHERE tenant = ?1 AND flow = ?2 AND name = ?3 AND division = ?4",
                        params![saved.tenant.as_str(), saved.flow.as_str(), saved.name, saved.division.0],
                        |row| row.get(0),
                    )
                    .optional()?;
                let version = next_version(
                    || format!("cursor {}/{}/{}/{}", saved.tenant, saved.flow, saved.name, saved.division),
                    current,
                    expected_version,
                )?;
                saved.version = uint(version);
                tx.execute(
                    "INSERT INTO cursors (tenant, flow, name, division, version, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                     ON CONFLICT (tenant, flow, name, division) DO UPDATE SET version = excluded.version,
                        body = excluded.body",
                    params![
                        saved.tenant.as_str(),
                        saved.flow.as_str(),
                        saved.name,
                        saved.division.0,
                        version,
                        serde_json::to_string(&saved)?
                    ],
                )?;
                Ok(saved)
            })
            .await
    }
}
