//! [`LinkStore`] on SQLite: each link is two rows (VP key → Exact id, Exact id → VP key) written in one
//! transaction, so a lookup either way always agrees.

use async_trait::async_trait;
use ledgerlink_domain::{ObjectType, TenantId};
use ledgerlink_ports::{IdLink, LinkStore, StoreError, StoreResult};
use rusqlite::{Connection, OptionalExtension, params};

use crate::db::{Db, DbResult, nanos};

const FROM_VP: &str = "vp";
const FROM_EXACT: &str = "exact";

/// ID links between Vantagepoint and Exact Online in the embedded database.
#[derive(Debug, Clone)]
pub struct SqliteLinks {
    db: Db,
}

impl SqliteLinks {
    pub(crate) fn new(db: Db) -> Self {
        Self { db }
    }
}

fn target(
    conn: &Connection,
    tenant: &TenantId,
    object_type: ObjectType,
    direction: &str,
    from: &str,
) -> DbResult<Option<String>> {
    Ok(conn
        .query_row(
            "SELECT to_key FROM links WHERE tenant = ?1 AND object_type = ?2 AND direction = ?3 AND from_key = ?4",
            params![tenant.as_str(), object_type.as_str(), direction, from],
            |row| row.get(0),
        )
        .optional()?)
}

#[async_trait]
impl LinkStore for SqliteLinks {
    async fn link(&self, link: &IdLink) -> StoreResult<()> {
        let link = link.clone();
        self.db
            .write(move |tx| {
                let (tenant, object_type) = (&link.tenant, link.object_type);
                let linked_exact = target(tx, tenant, object_type, FROM_VP, &link.vp_key)?;
                let linked_vp = target(tx, tenant, object_type, FROM_EXACT, &link.exact_id)?;
                if let Some(other) = linked_exact.as_ref().filter(|id| **id != link.exact_id) {
                    return Err(StoreError::conflict(
                        format!("link of {object_type} {}", link.vp_key),
                        format!("already linked to Exact id {other}"),
                    )
                    .into());
                }
                if let Some(other) = linked_vp.as_ref().filter(|key| **key != link.vp_key) {
                    return Err(StoreError::conflict(
                        format!("link of {object_type} Exact id {}", link.exact_id),
                        format!("already linked to VP key {other}"),
                    )
                    .into());
                }
                let created_at = nanos(link.created_at)?;
                let mut insert = tx.prepare_cached(
                    "INSERT INTO links (tenant, object_type, direction, from_key, to_key, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                     ON CONFLICT (tenant, object_type, direction, from_key) DO NOTHING",
                )?;
                insert.execute(params![tenant.as_str(), object_type.as_str(), FROM_VP, link.vp_key, link.exact_id, created_at])?;
                insert.execute(params![tenant.as_str(), object_type.as_str(), FROM_EXACT, link.exact_id, link.vp_key, created_at])?;
                Ok(())
            })
            .await
    }

    async fn exact_id(
        &self,
        tenant: &TenantId,
        object_type: ObjectType,
        vp_key: &str,
    ) -> StoreResult<Option<String>> {
        let (tenant, vp_key) = (tenant.clone(), vp_key.to_owned());
        self.db
            .read(move |conn| target(conn, &tenant, object_type, FROM_VP, &vp_key))
            .await
    }

    async fn vp_key(
        &self,
        tenant: &TenantId,
        object_type: ObjectType,
        exact_id: &str,
    ) -> StoreResult<Option<String>> {
        let (tenant, exact_id) = (tenant.clone(), exact_id.to_owned());
        self.db
            .read(move |conn| target(conn, &tenant, object_type, FROM_EXACT, &exact_id))
            .await
    }

    async fn unlink(
        &self,
        tenant: &TenantId,
        object_type: ObjectType,
        vp_key: &str,
    ) -> StoreResult<()> {
        let (tenant, vp_key) = (tenant.clone(), vp_key.to_owned());
        self.db
            .write(move |tx| {
                if let Some(exact_id) = target(tx, &tenant, object_type, FROM_VP, &vp_key)? {
                    tx.execute(
                        "DELETE FROM links WHERE tenant = ?1 AND object_type = ?2 AND direction = ?3 AND from_key = ?4",
                        params![tenant.as_str(), object_type.as_str(), FROM_EXACT, exact_id],
                    )?;
                }
                tx.execute(
                    "DELETE FROM links WHERE tenant = ?1 AND object_type = ?2 AND direction = ?3 AND from_key = ?4",
                    params![tenant.as_str(), object_type.as_str(), FROM_VP, vp_key],
                )?;
                Ok(())
            })
            .await
    }
}
