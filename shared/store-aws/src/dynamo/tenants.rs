//! [`TenantStore`]: every tenant is one item in the `TENANTS` partition, so the operator list is one Query.

use async_trait::async_trait;
use ledgerlink_domain::TenantId;
use ledgerlink_ports::{Page, PageRequest, StoreResult, Tenant, TenantStore};

use super::{DOC, DynamoState, Item, QuerySpec, SortCondition, VER, doc, from_doc, n, s};
use crate::keys::{self, PK, SK};

#[async_trait]
impl TenantStore for DynamoState {
    async fn get(&self, tenant: &TenantId) -> StoreResult<Option<Tenant>> {
        let item = self
            .get_item(keys::tenants_pk(), keys::tenant_sk(tenant))
            .await?;
        item.map(|item| from_doc("tenant", &item)).transpose()
    }

    async fn put(&self, tenant: &Tenant, expected_version: Option<u64>) -> StoreResult<Tenant> {
        let mut stored = tenant.clone();
        stored.version = expected_version.map_or(1, |v| v + 1);
        let item = Item::from([
            (PK.to_owned(), s(keys::tenants_pk())),
            (SK.to_owned(), s(keys::tenant_sk(&tenant.id))),
            (VER.to_owned(), n(stored.version)),
            (DOC.to_owned(), doc("tenant", &stored)?),
        ]);
        self.put_versioned(&format!("tenant {}", tenant.id), item, expected_version)
            .await?;
        Ok(stored)
    }

    async fn list(&self, page: PageRequest) -> StoreResult<Page<Tenant>> {
        let mut spec = QuerySpec::partition(keys::tenants_pk());
        spec.sk = SortCondition::BeginsWith(keys::TENANT_SK_PREFIX.to_owned());
        let (items, next_cursor) = self.query_page(&spec, &page).await?;
        let items = items
            .iter()
            .map(|item| from_doc("tenant", item))
            .collect::<StoreResult<_>>()?;
        Ok(Page { items, next_cursor })
    }
}
