//! [`LinkStore`]: a link is two items in the tenant's partition (`LINK#<type>#VP#<key>` and
//! `LINK#<type>#EX#<id>`), written and removed together in one TransactWriteItems so both directions agree.
//! Both carry the link as JSON (`doc`); the VP-key item's doc is the authoritative one and holds the sync
//! state of a master-data link. Items written before the sync state existed have docs without it and read
//! as links with no state (serde default): no rewrite of stored items is needed.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{Delete, Put, TransactWriteItem};
use ledgerlink_domain::{ObjectType, TenantId};
use ledgerlink_ports::{IdLink, LinkStore, StoreError, StoreResult};

use super::{DOC, DynamoState, Item, build, doc, from_doc, is_condition_reason, s, str_attr};
use crate::keys::{self, PK, SK};

const EXACT_ID: &str = "exact_id";
const VP_KEY: &str = "vp_key";

impl DynamoState {
    fn link_items(&self, link: &IdLink) -> StoreResult<(Item, Item)> {
        if link.vp_key.is_empty() || link.exact_id.is_empty() {
            return Err(StoreError::Invalid(
                "a link needs both a Vantagepoint key and an Exact id".into(),
            ));
        }
        let pk = keys::tenant_pk(&link.tenant);
        let body = doc("link", link)?;
        let mut reverse = link.clone();
        reverse.sync = None;
        let vp_item = Item::from([
            (PK.to_owned(), s(pk.clone())),
            (
                SK.to_owned(),
                s(keys::link_vp_sk(link.object_type, &link.vp_key)),
            ),
            (EXACT_ID.to_owned(), s(link.exact_id.clone())),
            (DOC.to_owned(), body),
        ]);
        let exact_item = Item::from([
            (PK.to_owned(), s(pk)),
            (
                SK.to_owned(),
                s(keys::link_exact_sk(link.object_type, &link.exact_id)),
            ),
            (VP_KEY.to_owned(), s(link.vp_key.clone())),
            (DOC.to_owned(), doc("link", &reverse)?),
        ]);
        Ok((vp_item, exact_item))
    }

    /// A Put of `item` under `condition` on `attr` (`None`: the item must not exist).
    fn conditional_put(&self, item: Item, attr: &str, equals: Option<&str>) -> StoreResult<Put> {
        let mut put = Put::builder()
            .table_name(&*self.table)
            .set_item(Some(item))
            .expression_attribute_names("#pk", PK);
        put = match equals {
            None => put.condition_expression("attribute_not_exists(#pk)"),
            Some(value) => put
                .condition_expression("attribute_not_exists(#pk) OR #other = :other")
                .expression_attribute_names("#other", attr)
                .expression_attribute_values(":other", s(value)),
        };
        build("link", put.build())
    }
}

#[async_trait]
impl LinkStore for DynamoState {
    async fn link(&self, link: &IdLink) -> StoreResult<()> {
        let (vp_item, exact_item) = self.link_items(link)?;
        // The VP-key item must be new (a repeated link must not replace its sync state); the reverse may
        // already point back at this key.
        let items = vec![
            TransactWriteItem::builder()
                .put(self.conditional_put(vp_item, EXACT_ID, None)?)
                .build(),
            TransactWriteItem::builder()
                .put(self.conditional_put(exact_item, VP_KEY, Some(&link.vp_key))?)
                .build(),
        ];
        let reasons = match self.transact(items).await? {
            Ok(()) => return Ok(()),
            Err(reasons) => reasons,
        };
        let reverse_refused = reasons
            .get(1)
            .is_some_and(|r| is_condition_reason(r.as_deref()));
        let current = self
            .exact_id(&link.tenant, link.object_type, &link.vp_key)
            .await?;
        match current {
            // Already this link: a no-op that keeps the stored state.
            Some(id) if id == link.exact_id && !reverse_refused => Ok(()),
            Some(id) if id != link.exact_id => Err(StoreError::conflict(
                format!("{} link of {}", link.object_type, link.tenant),
                format!(
                    "Vantagepoint key {} is linked to another Exact id ({id})",
                    link.vp_key
                ),
            )),
            _ => Err(StoreError::conflict(
                format!("{} link of {}", link.object_type, link.tenant),
                format!(
                    "Exact id {} is linked to another Vantagepoint key",
                    link.exact_id
                ),
            )),
        }
    }

    async fn get(
        &self,
        tenant: &TenantId,
        object_type: ObjectType,
        vp_key: &str,
    ) -> StoreResult<Option<IdLink>> {
        let item = self
            .get_item(
                keys::tenant_pk(tenant),
                keys::link_vp_sk(object_type, vp_key),
            )
            .await?;
        let Some(item) = item else { return Ok(None) };
        let mut link: IdLink = from_doc("link", &item)?;
        // The key attributes decide (the doc is their copy).
        if let Some(id) = str_attr(&item, EXACT_ID) {
            link.exact_id = id.to_owned();
        }
        Ok(Some(link))
    }

    async fn save_sync(&self, link: &IdLink) -> StoreResult<()> {
        let body = doc("link", link)?;
        let result = self
            .client
            .update_item()
            .table_name(&*self.table)
            .key(PK, s(keys::tenant_pk(&link.tenant)))
            .key(SK, s(keys::link_vp_sk(link.object_type, &link.vp_key)))
            .update_expression("SET #doc = :doc")
            .condition_expression("#other = :other")
            .expression_attribute_names("#doc", DOC)
            .expression_attribute_names("#other", EXACT_ID)
            .expression_attribute_values(":doc", body)
            .expression_attribute_values(":other", s(link.exact_id.clone()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if super::is_condition_failed(&e) => Err(StoreError::conflict(
                format!("{} link of {}", link.object_type, link.vp_key),
                format!("no longer linked to Exact id {}", link.exact_id),
            )),
            Err(e) => Err(crate::error::from_sdk("UpdateItem", e)),
        }
    }

    async fn relink(&self, link: &IdLink) -> StoreResult<Option<String>> {
        let previous = self
            .exact_id(&link.tenant, link.object_type, &link.vp_key)
            .await?;
        let (vp_item, exact_item) = self.link_items(link)?;
        let pk = keys::tenant_pk(&link.tenant);
        // The VP-key item is replaced only if it still holds what was just read.
        let mut vp_put = Put::builder()
            .table_name(&*self.table)
            .set_item(Some(vp_item));
        vp_put = match &previous {
            None => vp_put
                .condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", PK),
            Some(old) => vp_put
                .condition_expression("#other = :other")
                .expression_attribute_names("#other", EXACT_ID)
                .expression_attribute_values(":other", s(old.clone())),
        };
        let vp_put = build("relink", vp_put.build())?;
        let exact_put = self.conditional_put(exact_item, VP_KEY, Some(&link.vp_key))?;
        let mut items = vec![
            TransactWriteItem::builder().put(vp_put).build(),
            TransactWriteItem::builder().put(exact_put).build(),
        ];
        if let Some(old) = previous.as_ref().filter(|old| **old != link.exact_id) {
            let delete = build(
                "relink",
                Delete::builder()
                    .table_name(&*self.table)
                    .key(PK, s(pk))
                    .key(SK, s(keys::link_exact_sk(link.object_type, old)))
                    .condition_expression("attribute_not_exists(#other) OR #other = :other")
                    .expression_attribute_names("#other", VP_KEY)
                    .expression_attribute_values(":other", s(link.vp_key.clone()))
                    .build(),
            )?;
            items.push(TransactWriteItem::builder().delete(delete).build());
        }
        match self.transact(items).await? {
            Ok(()) => Ok(previous),
            Err(reasons) => {
                let detail = if reasons
                    .get(1)
                    .is_some_and(|r| is_condition_reason(r.as_deref()))
                {
                    format!(
                        "Exact id {} is linked to another Vantagepoint key",
                        link.exact_id
                    )
                } else {
                    format!(
                        "the link of {} changed while it was being moved",
                        link.vp_key
                    )
                };
                Err(StoreError::conflict(
                    format!("{} link of {}", link.object_type, link.tenant),
                    detail,
                ))
            }
        }
    }

    async fn exact_id(
        &self,
        tenant: &TenantId,
        object_type: ObjectType,
        vp_key: &str,
    ) -> StoreResult<Option<String>> {
        let item = self
            .get_item(
                keys::tenant_pk(tenant),
                keys::link_vp_sk(object_type, vp_key),
            )
            .await?;
        Ok(item
            .as_ref()
            .and_then(|i| str_attr(i, EXACT_ID))
            .map(str::to_owned))
    }

    async fn vp_key(
        &self,
        tenant: &TenantId,
        object_type: ObjectType,
        exact_id: &str,
    ) -> StoreResult<Option<String>> {
        let item = self
            .get_item(
                keys::tenant_pk(tenant),
                keys::link_exact_sk(object_type, exact_id),
            )
            .await?;
        Ok(item
            .as_ref()
            .and_then(|i| str_attr(i, VP_KEY))
            .map(str::to_owned))
    }

    async fn unlink(
        &self,
        tenant: &TenantId,
        object_type: ObjectType,
        vp_key: &str,
    ) -> StoreResult<()> {
        let pk = keys::tenant_pk(tenant);
        let Some(exact_id) = self.exact_id(tenant, object_type, vp_key).await? else {
            return Ok(());
        };
        let vp_delete = build(
            "unlink",
            Delete::builder()
                .table_name(&*self.table)
                .key(PK, s(pk.clone()))
                .key(SK, s(keys::link_vp_sk(object_type, vp_key)))
                .condition_expression("#other = :other")
                .expression_attribute_names("#other", EXACT_ID)
                .expression_attribute_values(":other", s(exact_id.clone()))
                .build(),
        )?;
        // The reverse item only goes if it still points back at this key.
        let exact_delete = build(
            "unlink",
            Delete::builder()
                .table_name(&*self.table)
                .key(PK, s(pk))
                .key(SK, s(keys::link_exact_sk(object_type, &exact_id)))
                .condition_expression("attribute_not_exists(#other) OR #other = :other")
                .expression_attribute_names("#other", VP_KEY)
                .expression_attribute_values(":other", s(vp_key))
                .build(),
        )?;
        let items = vec![
            TransactWriteItem::builder().delete(vp_delete).build(),
            TransactWriteItem::builder().delete(exact_delete).build(),
        ];
        match self.transact(items).await? {
            Ok(()) => Ok(()),
            Err(_) => Err(StoreError::conflict(
                format!("{object_type} link of {tenant}"),
                format!("the link of {vp_key} changed while it was being removed"),
            )),
        }
    }
}
