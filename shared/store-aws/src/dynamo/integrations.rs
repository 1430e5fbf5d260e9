//! [`IntegrationStore`]: integrations in the tenant's partition (`INTEG#<id>`); each task run writes the
//! latest state of its task and period (`RUN#<id>#<period>#LATEST#<task>`) and a history entry
//! (`RUN#<id>#<period>#HIST#<at>#<task>`) in one transaction, so a period's states are one prefix Query.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
use ledgerlink_domain::TenantId;
use ledgerlink_ports::{
    Integration, IntegrationStore, Page, PageRequest, StoreError, StoreResult, TaskRun,
};

use super::{DOC, DynamoState, Item, QuerySpec, SortCondition, VER, build, doc, from_doc, n, s};
use crate::error::from_sdk;
use crate::keys::{self, PK, SK};

/// More tasks than any integration has; bounds the period query.
const MAX_TASKS: usize = 1000;

#[async_trait]
impl IntegrationStore for DynamoState {
    async fn put(
        &self,
        integration: &Integration,
        expected_version: Option<u64>,
    ) -> StoreResult<Integration> {
        keys::segment("integration id", &integration.id)?;
        let mut stored = integration.clone();
        stored.version = expected_version.map_or(1, |v| v + 1);
        let item = Item::from([
            (PK.to_owned(), s(keys::tenant_pk(&integration.tenant))),
            (SK.to_owned(), s(keys::integration_sk(&integration.id))),
            (VER.to_owned(), n(stored.version)),
            (DOC.to_owned(), doc("integration", &stored)?),
        ]);
        let what = format!("integration {} of {}", integration.id, integration.tenant);
        self.put_versioned(&what, item, expected_version).await?;
        Ok(stored)
    }

    async fn get(&self, tenant: &TenantId, id: &str) -> StoreResult<Option<Integration>> {
        let item = self
            .get_item(keys::tenant_pk(tenant), keys::integration_sk(id))
            .await?;
        item.map(|item| from_doc("integration", &item)).transpose()
    }

    async fn list(&self, tenant: &TenantId, page: PageRequest) -> StoreResult<Page<Integration>> {
        let mut spec = QuerySpec::partition(keys::tenant_pk(tenant));
        spec.sk = SortCondition::BeginsWith(keys::INTEGRATION_PREFIX.to_owned());
        let (items, next_cursor) = self.query_page(&spec, &page).await?;
        let items = items
            .iter()
            .map(|item| from_doc("integration", item))
            .collect::<StoreResult<_>>()?;
        Ok(Page { items, next_cursor })
    }

    async fn delete(&self, tenant: &TenantId, id: &str) -> StoreResult<()> {
        self.client
            .delete_item()
            .table_name(&*self.table)
            .key(PK, s(keys::tenant_pk(tenant)))
            .key(SK, s(keys::integration_sk(id)))
            .send()
            .await
            .map_err(|e| from_sdk("DeleteItem", e))?;
        Ok(())
    }

    async fn record_run(&self, run: &TaskRun) -> StoreResult<()> {
        keys::segment("integration id", &run.integration_id)?;
        if run.task.is_empty() {
            return Err(StoreError::Invalid("a task run needs a task".into()));
        }
        let pk = keys::tenant_pk(&run.tenant);
        let body = doc("task run", run)?;
        let latest = Item::from([
            (PK.to_owned(), s(pk.clone())),
            (
                SK.to_owned(),
                s(keys::run_latest_sk(
                    &run.integration_id,
                    run.period,
                    &run.task,
                )),
            ),
            (DOC.to_owned(), body.clone()),
        ]);
        let history = Item::from([
            (PK.to_owned(), s(pk)),
            (
                SK.to_owned(),
                s(keys::run_history_sk(
                    &run.integration_id,
                    run.period,
                    run.at,
                    &run.task,
                )),
            ),
            (DOC.to_owned(), body),
        ]);
        let put = |item: Item| {
            build(
                "task run",
                Put::builder()
                    .table_name(&*self.table)
                    .set_item(Some(item))
                    .build(),
            )
        };
        let items = vec![
            TransactWriteItem::builder().put(put(latest)?).build(),
            TransactWriteItem::builder().put(put(history)?).build(),
        ];
        match self.transact(items).await? {
            Ok(()) => Ok(()),
            Err(reasons) => Err(StoreError::Permanent {
                message: format!("unconditional task-run write was cancelled: {reasons:?}"),
                source: None,
            }),
        }
    }

    async fn runs(
        &self,
        tenant: &TenantId,
        integration_id: &str,
        period: u32,
    ) -> StoreResult<Vec<TaskRun>> {
        keys::segment("integration id", integration_id)?;
        let mut spec = QuerySpec::partition(keys::tenant_pk(tenant));
        spec.sk = SortCondition::BeginsWith(keys::run_latest_prefix(integration_id, period));
        let items = self.query_all(&spec, MAX_TASKS).await?;
        items
            .iter()
            .map(|item| from_doc("task run", item))
            .collect()
    }
}
