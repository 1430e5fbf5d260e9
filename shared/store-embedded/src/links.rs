//! [`LinkStore`] on SQLite: each link is two rows (VP key → Exact id, Exact id → VP key) written in one
//! transaction, so a lookup either way always agrees. The sync state of a master-data link (JSON) lives on
//! the VP-key row; rows written before it existed (schema version 1) read with no state.

use async_trait::async_trait;
use ledgerlink_domain::{ObjectType, TenantId};
use ledgerlink_ports::{IdLink, LinkStore, LinkSync, StoreError, StoreResult};
use rusqlite::{Connection, OptionalExtension, params};

use crate::db::{Db, DbResult, decode, from_nanos, nanos};

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

fn sync_text(link: &IdLink) -> DbResult<Option<String>> {
    Ok(link.sync.as_ref().map(serde_json::to_string).transpose()?)
}

fn delete_row(
    conn: &Connection,
    tenant: &TenantId,
    object_type: ObjectType,
    direction: &str,
    from: &str,
) -> DbResult<()> {
    conn.execute(
        "DELETE FROM links WHERE tenant = ?1 AND object_type = ?2 AND direction = ?3 AND from_key = ?4",
        params![tenant.as_str(), object_type.as_str(), direction, from],
    )?;
    Ok(())
}

fn insert_both(conn: &Connection, link: &IdLink) -> DbResult<()> {
    let (tenant, object_type) = (&link.tenant, link.object_type);
    let created_at = nanos(link.created_at)?;
    let sync = sync_text(link)?;
    let mut insert = conn.prepare_cached(
        "INSERT INTO links (tenant, object_type, direction, from_key, to_key, created_at, sync)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (tenant, object_type, direction, from_key) DO NOTHING",
    )?;
    insert.execute(params![
        tenant.as_str(),
        object_type.as_str(),
        FROM_VP,
        link.vp_key,
        link.exact_id,
        created_at,
        sync
    ])?;
    insert.execute(params![
        tenant.as_str(),
        object_type.as_str(),
        FROM_EXACT,
        link.exact_id,
        link.vp_key,
        created_at,
        Option::<String>::None
    ])?;
    Ok(())
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
                insert_both(tx, &link)
            })
            .await
    }

    async fn get(
        &self,
        tenant: &TenantId,
        object_type: ObjectType,
        vp_key: &str,
    ) -> StoreResult<Option<IdLink>> {
        let (tenant, vp_key) = (tenant.clone(), vp_key.to_owned());
        self.db
            .read(move |conn| {
                let row: Option<(String, i64, Option<String>)> = conn
                    .query_row(
                        "SELECT to_key, created_at, sync FROM links
                         WHERE tenant = ?1 AND object_type = ?2 AND direction = ?3 AND from_key = ?4",
                        params![tenant.as_str(), object_type.as_str(), FROM_VP, vp_key],
                        |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
                    )
                    .optional()?;
                let Some((exact_id, created_at, sync)) = row else {
                    return Ok(None);
                };
                let sync: Option<LinkSync> = sync.as_deref().map(decode).transpose()?;
                Ok(Some(IdLink {
                    tenant,
                    object_type,
                    vp_key,
                    exact_id,
                    created_at: from_nanos(created_at),
                    sync,
                }))
            })
            .await
    }

    async fn save_sync(&self, link: &IdLink) -> StoreResult<()> {
        let link = link.clone();
        self.db
            .write(move |tx| {
                let sync = sync_text(&link)?;
                let changed = tx.execute(
                    "UPDATE links SET sync = ?6
                     WHERE tenant = ?1 AND object_type = ?2 AND direction = ?3 AND from_key = ?4 AND to_key = ?5",
                    params![
                        link.tenant.as_str(),
                        link.object_type.as_str(),
                        FROM_VP,
                        link.vp_key,
                        link.exact_id,
                        sync
                    ],
                )?;
                if changed == 0 {
                    return Err(StoreError::conflict(
                        format!("link of {} {}", link.object_type, link.vp_key),
                        format!("no longer linked to Exact id {}", link.exact_id),
                    )
                    .into());
                }
                Ok(())
            })
            .await
    }

    async fn relink(&self, link: &IdLink) -> StoreResult<Option<String>> {
        let link = link.clone();
        self.db
            .write(move |tx| {
                let (tenant, object_type) = (&link.tenant, link.object_type);
                if let Some(other) = target(tx, tenant, object_type, FROM_EXACT, &link.exact_id)?
                    .filter(|key| *key != link.vp_key)
                {
                    return Err(StoreError::conflict(
                        format!("link of {object_type} Exact id {}", link.exact_id),
                        format!("already linked to VP key {other}"),
                    )
                    .into());
                }
                let previous = target(tx, tenant, object_type, FROM_VP, &link.vp_key)?;
                if let Some(old) = &previous {
                    delete_row(tx, tenant, object_type, FROM_EXACT, old)?;
                }
                delete_row(tx, tenant, object_type, FROM_VP, &link.vp_key)?;
                insert_both(tx, &link)?;
                Ok(previous)
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
                    delete_row(tx, &tenant, object_type, FROM_EXACT, &exact_id)?;
                }
                delete_row(tx, &tenant, object_type, FROM_VP, &vp_key)?;
                Ok(())
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use chrono::{TimeZone, Utc};
    use ledgerlink_ports::LinkSync;

    use super::*;

    /// A database file written by the first schema (links without a sync state) is migrated in place: its
    /// links read back unchanged with no state, keep working both ways, and take a state afterwards.
    #[tokio::test]
    async fn links_written_before_the_sync_state_existed_survive_the_migration() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        let at = Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, 0).single().unwrap();
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(crate::db::MIGRATIONS[0]).unwrap();
            conn.pragma_update(None, "user_version", 1).unwrap();
            for (direction, from, to) in
                [(FROM_VP, "CL-1", "guid-1"), (FROM_EXACT, "guid-1", "CL-1")]
            {
                conn.execute(
                    "INSERT INTO links (tenant, object_type, direction, from_key, to_key, created_at)
                     VALUES ('acme', 'firm', ?1, ?2, ?3, ?4)",
                    params![direction, from, to, at.timestamp_nanos_opt().unwrap()],
                )
                .unwrap();
            }
        }

        let links = SqliteLinks::new(Db::open(&path).unwrap());
        let tenant = TenantId::parse("acme").unwrap();
        let before = links.get(&tenant, ObjectType::Firm, "CL-1").await.unwrap();
        let back = links
            .vp_key(&tenant, ObjectType::Firm, "guid-1")
            .await
            .unwrap();
        let mut with_state = before.clone().unwrap();
        with_state.sync = Some(LinkSync {
            vp_hash: Some("h".into()),
            vp_version: None,
            ledger_hash: None,
            ledger_version: Some(at),
            synced_at: at,
        });
        links.save_sync(&with_state).await.unwrap();
        let after = links.get(&tenant, ObjectType::Firm, "CL-1").await.unwrap();

        assert_eq!(
            before,
            Some(IdLink::new(
                tenant.clone(),
                ObjectType::Firm,
                "CL-1",
                "guid-1",
                at
            ))
        );
        assert_eq!(back.as_deref(), Some("CL-1"));
        assert_eq!(after, Some(with_state));
    }
}
