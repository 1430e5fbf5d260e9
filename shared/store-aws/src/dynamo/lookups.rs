//! [`LookupStore`]: rows live in the tenant's partition under `LOOKUP#<table>#<key>`, so a table lists in key
//! order with one Query.

use async_trait::async_trait;
use ledgerlink_domain::TenantId;
use ledgerlink_ports::{
    LookupEntry, LookupStore, LookupTable, Page, PageRequest, StoreError, StoreResult,
};

use super::{DOC, DynamoState, Item, QuerySpec, SortCondition, VER, doc, from_doc, n, s};
use crate::error::from_sdk;
use crate::keys::{self, PK, SK};

#[async_trait]
impl LookupStore for DynamoState {
    async fn get(
        &self,
        tenant: &TenantId,
        table: LookupTable,
        key: &str,
    ) -> StoreResult<Option<LookupEntry>> {
        let item = self
            .get_item(keys::tenant_pk(tenant), keys::lookup_sk(table, key))
            .await?;
        item.map(|item| from_doc("lookup row", &item)).transpose()
    }

    async fn put(
        &self,
        tenant: &TenantId,
        table: LookupTable,
        entry: &LookupEntry,
        expected_version: Option<u64>,
    ) -> StoreResult<LookupEntry> {
        if entry.key.is_empty() {
            return Err(StoreError::Invalid("a lookup row needs a key".into()));
        }
        let mut stored = entry.clone();
        stored.version = expected_version.map_or(1, |v| v + 1);
        let item = Item::from([
            (PK.to_owned(), s(keys::tenant_pk(tenant))),
            (SK.to_owned(), s(keys::lookup_sk(table, &entry.key))),
            (VER.to_owned(), n(stored.version)),
            (DOC.to_owned(), doc("lookup row", &stored)?),
        ]);
        let what = format!("{} row {:?} of {tenant}", table.as_str(), entry.key);
        self.put_versioned(&what, item, expected_version).await?;
        Ok(stored)
    }

    async fn delete(&self, tenant: &TenantId, table: LookupTable, key: &str) -> StoreResult<()> {
        self.client
            .delete_item()
            .table_name(&*self.table)
            .key(PK, s(keys::tenant_pk(tenant)))
            .key(SK, s(keys::lookup_sk(table, key)))
            .send()
            .await
            .map_err(|e| from_sdk("DeleteItem", e))?;
        Ok(())
    }

    async fn list(
        &self,
        tenant: &TenantId,
        table: LookupTable,
        page: PageRequest,
    ) -> StoreResult<Page<LookupEntry>> {
        let mut spec = QuerySpec::partition(keys::tenant_pk(tenant));
        spec.sk = SortCondition::BeginsWith(keys::lookup_prefix(table));
        let (items, next_cursor) = self.query_page(&spec, &page).await?;
        let items = items
            .iter()
            .map(|item| from_doc("lookup row", item))
            .collect::<StoreResult<_>>()?;
        Ok(Page { items, next_cursor })
    }
}
