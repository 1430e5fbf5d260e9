//! [`NotificationOutbox`]: one item per notification (`NOTIF#<id>`, so a repeated push is refused by a
//! condition), listed newest first through GSI1. Items carry a TTL of [`RETENTION_DAYS`] as housekeeping only.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ledgerlink_domain::TenantId;
use ledgerlink_ports::{
    Notification, NotificationOutbox, Page, PageRequest, StoreError, StoreResult,
};

use super::{
    DOC, DynamoState, Item, QuerySpec, doc, epoch_secs, from_doc, is_condition_failed, n, s,
    str_attr,
};
use crate::error::from_sdk;
use crate::keys::{self, GSI1, GSI1PK, GSI1SK, PK, SK, TTL};

/// How long DynamoDB keeps a notification before its TTL sweeper may delete it.
pub const RETENTION_DAYS: i64 = 180;

/// Set by `mark_delivered` beside the document, so marking is one atomic update.
const DELIVERED_AT: &str = "delivered_at";

fn decode(item: &Item) -> StoreResult<Notification> {
    let mut notification: Notification = from_doc("notification", item)?;
    if let Some(at) =
        str_attr(item, DELIVERED_AT).and_then(|t| DateTime::parse_from_rfc3339(t).ok())
    {
        notification.delivered_at = Some(at.with_timezone(&Utc));
    }
    Ok(notification)
}

#[async_trait]
impl NotificationOutbox for DynamoState {
    async fn push(&self, notification: &Notification) -> StoreResult<()> {
        if notification.id.is_empty() {
            return Err(StoreError::Invalid("a notification needs an id".into()));
        }
        let mut item = Item::from([
            (PK.to_owned(), s(keys::tenant_pk(&notification.tenant))),
            (SK.to_owned(), s(keys::notification_sk(&notification.id))),
            (
                GSI1PK.to_owned(),
                s(keys::notifications_pk(&notification.tenant)),
            ),
            (
                GSI1SK.to_owned(),
                s(keys::notifications_sk(
                    notification.created_at,
                    &notification.id,
                )),
            ),
            (
                TTL.to_owned(),
                n(epoch_secs(
                    notification.created_at + chrono::Duration::days(RETENTION_DAYS),
                )),
            ),
            (DOC.to_owned(), doc("notification", notification)?),
        ]);
        if let Some(at) = notification.delivered_at {
            item.insert(DELIVERED_AT.to_owned(), s(keys::time(at)));
        }
        let result = self
            .client
            .put_item()
            .table_name(&*self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // The same id twice keeps the first.
            Err(e) if is_condition_failed(&e) => Ok(()),
            Err(e) => Err(from_sdk("PutItem", e)),
        }
    }

    async fn list(&self, tenant: &TenantId, page: PageRequest) -> StoreResult<Page<Notification>> {
        let mut spec = QuerySpec::on_index(GSI1, GSI1PK, GSI1SK, keys::notifications_pk(tenant));
        spec.newest_first = true;
        let (items, next_cursor) = self.query_page(&spec, &page).await?;
        let items = items.iter().map(decode).collect::<StoreResult<_>>()?;
        Ok(Page { items, next_cursor })
    }

    async fn get(&self, tenant: &TenantId, id: &str) -> StoreResult<Option<Notification>> {
        match self
            .get_item(keys::tenant_pk(tenant), keys::notification_sk(id))
            .await?
        {
            Some(item) => decode(&item).map(Some),
            None => Ok(None),
        }
    }

    async fn mark_delivered(
        &self,
        tenant: &TenantId,
        id: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let result = self
            .client
            .update_item()
            .table_name(&*self.table)
            .key(PK, s(keys::tenant_pk(tenant)))
            .key(SK, s(keys::notification_sk(id)))
            .update_expression("SET #at = :at")
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#at", DELIVERED_AT)
            .expression_attribute_values(":at", s(keys::time(at)))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failed(&e) => Err(StoreError::not_found(format!(
                "notification {id} of {tenant}"
            ))),
            Err(e) => Err(from_sdk("UpdateItem", e)),
        }
    }
}
