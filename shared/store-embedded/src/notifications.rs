//! [`NotificationOutbox`] on SQLite: one row per notification, listed newest first from the
//! `(tenant, created_at, id)` index.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ledgerlink_domain::TenantId;
use ledgerlink_ports::{
    Notification, NotificationOutbox, Page, PageRequest, StoreError, StoreResult,
};
use rusqlite::{OptionalExtension, params};

use crate::db::{Db, decode, nanos};
use crate::page;

/// The notifications outbox in the embedded database.
#[derive(Debug, Clone)]
pub struct SqliteNotifications {
    db: Db,
}

impl SqliteNotifications {
    pub(crate) fn new(db: Db) -> Self {
        Self { db }
    }
}

#[async_trait]
impl NotificationOutbox for SqliteNotifications {
    async fn push(&self, notification: &Notification) -> StoreResult<()> {
        let notification = notification.clone();
        self.db
            .write(move |tx| {
                tx.execute(
                    "INSERT INTO notifications (tenant, id, created_at, body) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (tenant, id) DO NOTHING",
                    params![
                        notification.tenant.as_str(),
                        notification.id,
                        nanos(notification.created_at)?,
                        serde_json::to_string(&notification)?
                    ],
                )?;
                Ok(())
            })
            .await
    }

    async fn list(&self, tenant: &TenantId, page: PageRequest) -> StoreResult<Page<Notification>> {
        let tenant = tenant.clone();
        self.db
            .read(move |conn| {
                // The first page starts after every stored instant (none is i64::MAX).
                let (before_at, before_id) =
                    page::position::<(i64, String)>(&page)?.unwrap_or((i64::MAX, String::new()));
                let mut statement = conn.prepare_cached(
                    "SELECT body, created_at FROM notifications
                     WHERE tenant = ?1 AND (created_at, id) < (?2, ?3)
                     ORDER BY created_at DESC, id DESC LIMIT ?4",
                )?;
                let rows = statement.query_map(
                    params![
                        tenant.as_str(),
                        before_at,
                        before_id,
                        page::fetch_limit(&page)
                    ],
                    |row| Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?)),
                )?;
                let mut items: Vec<(Notification, i64)> = Vec::new();
                for row in rows {
                    let (body, created_at) = row?;
                    items.push((decode(&body)?, created_at));
                }
                let page =
                    page::finish(&page, items, |(n, created_at)| (*created_at, n.id.clone()))?;
                Ok(Page {
                    items: page.items.into_iter().map(|(n, _)| n).collect(),
                    next_cursor: page.next_cursor,
                })
            })
            .await
    }

    async fn get(&self, tenant: &TenantId, id: &str) -> StoreResult<Option<Notification>> {
        let (tenant, id) = (tenant.clone(), id.to_owned());
        self.db
            .read(move |conn| {
                let body: Option<String> = conn
                    .query_row(
                        "SELECT body FROM notifications WHERE tenant = ?1 AND id = ?2",
                        params![tenant.as_str(), id],
                        |row| row.get(0),
                    )
                    .optional()?;
                Ok(match body {
                    Some(body) => Some(decode(&body)?),
                    None => None,
                })
            })
            .await
    }

    async fn mark_delivered(
        &self,
        tenant: &TenantId,
        id: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let (tenant, id) = (tenant.clone(), id.to_owned());
        self.db
            .write(move |tx| {
                let body: Option<String> = tx
                    .query_row(
                        "SELECT body FROM notifications WHERE tenant = ?1 AND id = ?2",
                        params![tenant.as_str(), id],
                        |row| row.get(0),
                    )
                    .optional()?;
                let Some(body) = body else {
                    return Err(StoreError::not_found(format!("notification {tenant}/{id}")).into());
                };
                let mut notification: Notification = decode(&body)?;
                notification.delivered_at = Some(at);
                tx.execute(
                    "UPDATE notifications SET body = ?3 WHERE tenant = ?1 AND id = ?2",
                    params![tenant.as_str(), id, serde_json::to_string(&notification)?],
                )?;
                Ok(())
            })
            .await
    }
}
