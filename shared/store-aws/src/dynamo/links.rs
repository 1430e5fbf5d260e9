//! [`LinkStore`]: a link is two items in the tenant's partition (`LINK#<type>#VP#<key>` and
//! `LINK#<type>#EX#<id>`), written and removed together in one TransactWriteItems so both directions agree.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{Delete, Put, TransactWriteItem};
use ledgerlink_domain::{ObjectType, TenantId};
use ledgerlink_ports::{IdLink, LinkStore, StoreError, StoreResult};

use super::{DOC, DynamoState, Item, build, doc, is_condition_reason, s, str_attr};
use crate::keys::{self, PK, SK};

const EXACT_ID: &str = "exact_id";
const VP_KEY: &str = "vp_key";

#[async_trait]
impl LinkStore for DynamoState {
    async fn link(&self, link: &IdLink) -> StoreResult<()> {
        if link.vp_key.is_empty() || link.exact_id.is_empty() {
            return Err(StoreError::Invalid(
                "a link needs both a Vantagepoint key and an Exact id".into(),
            ));
        }
        let pk = keys::tenant_pk(&link.tenant);
        let body = doc("link", link)?;
        let vp_item = Item::from([
            (PK.to_owned(), s(pk.clone())),
            (
                SK.to_owned(),
                s(keys::link_vp_sk(link.object_type, &link.vp_key)),
            ),
            (EXACT_ID.to_owned(), s(link.exact_id.clone())),
            (DOC.to_owned(), body.clone()),
        ]);
        let exact_item = Item::from([
            (PK.to_owned(), s(pk)),
            (
                SK.to_owned(),
                s(keys::link_exact_sk(link.object_type, &link.exact_id)),
            ),
            (VP_KEY.to_owned(), s(link.vp_key.clone())),
            (DOC.to_owned(), body),
        ]);
        // Each direction may be new, or already point at the same counterpart (a repeated link is a no-op).
        let put = |item: Item, attr: &str, value: &str| {
            build(
                "link",
                Put::builder()
                    .table_name(&*self.table)
                    .set_item(Some(item))
                    .condition_expression("attribute_not_exists(#pk) OR #other = :other")
                    .expression_attribute_names("#pk", PK)
                    .expression_attribute_names("#other", attr)
                    .expression_attribute_values(":other", s(value))
                    .build(),
            )
        };
        let items = vec![
            TransactWriteItem::builder()
                .put(put(vp_item, EXACT_ID, &link.exact_id)?)
                .build(),
            TransactWriteItem::builder()
                .put(put(exact_item, VP_KEY, &link.vp_key)?)
                .build(),
        ];
        match self.transact(items).await? {
            Ok(()) => Ok(()),
            Err(reasons) => {
                let side = if reasons
                    .first()
                    .is_some_and(|r| is_condition_reason(r.as_deref()))
                {
                    format!(
                        "Vantagepoint key {} is linked to another Exact id",
                        link.vp_key
                    )
                } else {
                    format!(
                        "Exact id {} is linked to another Vantagepoint key",
                        link.exact_id
                    )
                };
                Err(StoreError::conflict(
                    format!("{} link of {}", link.object_type, link.tenant),
                    side,
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
