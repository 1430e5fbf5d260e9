//! [`ExportDefinitionStore`]: one item per definition in the tenant's partition (`EXPDEF#<id>`), versioned
//! by a conditional put; a tenant's definitions are one prefix Query in id order.

use async_trait::async_trait;
use ledgerlink_domain::TenantId;
use ledgerlink_ports::{
    ExportDefinitionRecord, ExportDefinitionStore, Page, PageRequest, StoreResult,
};

use super::{DOC, DynamoState, Item, QuerySpec, SortCondition, VER, doc, from_doc, n, s};
use crate::error::from_sdk;
use crate::keys::{self, PK, SK};

#[async_trait]
impl ExportDefinitionStore for DynamoState {
    async fn put(
        &self,
        definition: &ExportDefinitionRecord,
        expected_version: Option<u64>,
    ) -> StoreResult<ExportDefinitionRecord> {
        keys::segment("export definition id", &definition.id)?;
        let mut stored = definition.clone();
        stored.version = expected_version.map_or(1, |v| v + 1);
        let item = Item::from([
            (PK.to_owned(), s(keys::tenant_pk(&definition.tenant))),
            (SK.to_owned(), s(keys::definition_sk(&definition.id))),
            (VER.to_owned(), n(stored.version)),
            (DOC.to_owned(), doc("export definition", &stored)?),
        ]);
        let what = format!(
            "export definition {} of {}",
            definition.id, definition.tenant
        );
        self.put_versioned(&what, item, expected_version).await?;
        Ok(stored)
    }

    async fn get(
        &self,
        tenant: &TenantId,
        id: &str,
    ) -> StoreResult<Option<ExportDefinitionRecord>> {
        let item = self
            .get_item(keys::tenant_pk(tenant), keys::definition_sk(id))
            .await?;
        item.map(|item| from_doc("export definition", &item))
            .transpose()
    }

    async fn list(
        &self,
        tenant: &TenantId,
        page: PageRequest,
    ) -> StoreResult<Page<ExportDefinitionRecord>> {
        let mut spec = QuerySpec::partition(keys::tenant_pk(tenant));
        spec.sk = SortCondition::BeginsWith(keys::DEFINITION_PREFIX.to_owned());
        let (items, next_cursor) = self.query_page(&spec, &page).await?;
        let items = items
            .iter()
            .map(|item| from_doc("export definition", item))
            .collect::<StoreResult<_>>()?;
        Ok(Page { items, next_cursor })
    }

    async fn delete(&self, tenant: &TenantId, id: &str) -> StoreResult<()> {
        self.client
            .delete_item()
            .table_name(&*self.table)
            .key(PK, s(keys::tenant_pk(tenant)))
            .key(SK, s(keys::definition_sk(id)))
            .send()
            .await
            .map_err(|e| from_sdk("DeleteItem", e))?;
        Ok(())
    }
}
