//! [`CursorStore`]: one item per tenant, flow, division and name, advanced with a version condition.

use async_trait::async_trait;
use ledgerlink_domain::{Division, Flow, TenantId};
use ledgerlink_ports::{Cursor, CursorStore, StoreResult};

use super::{DOC, DynamoState, Item, VER, doc, from_doc, n, s};
use crate::keys::{self, PK, SK};

#[async_trait]
impl CursorStore for DynamoState {
    async fn get(
        &self,
        tenant: &TenantId,
        flow: Flow,
        name: &str,
        division: Division,
    ) -> StoreResult<Option<Cursor>> {
        let item = self
            .get_item(
                keys::tenant_pk(tenant),
                keys::cursor_sk(flow, division, name),
            )
            .await?;
        item.map(|item| from_doc("cursor", &item)).transpose()
    }

    async fn put(&self, cursor: &Cursor, expected_version: Option<u64>) -> StoreResult<Cursor> {
        let mut stored = cursor.clone();
        stored.version = expected_version.map_or(1, |v| v + 1);
        let item = Item::from([
            (PK.to_owned(), s(keys::tenant_pk(&cursor.tenant))),
            (
                SK.to_owned(),
                s(keys::cursor_sk(cursor.flow, cursor.division, &cursor.name)),
            ),
            (VER.to_owned(), n(stored.version)),
            (DOC.to_owned(), doc("cursor", &stored)?),
        ]);
        let what = format!(
            "cursor {} {} {} of {}",
            cursor.flow, cursor.name, cursor.division, cursor.tenant
        );
        self.put_versioned(&what, item, expected_version).await?;
        Ok(stored)
    }
}
