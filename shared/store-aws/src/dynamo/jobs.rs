//! [`JobStore`]: a job is one item in its tenant's partition; GSI1 lists a tenant's jobs of one kind by id
//! (newest first), and the sparse GSI2 holds only started jobs with a lease, ordered by lease expiry, so the
//! clean-up finds dead workers with one Query across tenants.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ledgerlink_domain::TenantId;
use ledgerlink_ports::{
    Job, JobKind, JobStatus, JobStore, Page, PageRequest, StoreError, StoreResult,
};

use super::{DOC, DynamoState, Item, QuerySpec, SortCondition, VER, doc, from_doc, n, s};
use crate::keys::{self, GSI1, GSI1PK, GSI1SK, GSI2, GSI2PK, GSI2SK, PK, SK};

impl DynamoState {
    fn job_item(&self, job: &Job) -> StoreResult<Item> {
        let mut item = Item::from([
            (PK.to_owned(), s(keys::tenant_pk(&job.tenant))),
            (SK.to_owned(), s(keys::job_sk(&job.id))),
            (
                GSI1PK.to_owned(),
                s(keys::jobs_by_kind_pk(&job.tenant, job.kind)),
            ),
            (GSI1SK.to_owned(), s(keys::jobs_by_kind_sk(&job.id))),
            (VER.to_owned(), n(job.version)),
            (DOC.to_owned(), doc("job", job)?),
        ]);
        if let (JobStatus::Started, Some(lease)) = (job.status, job.lease_expires_at) {
            item.insert(GSI2PK.to_owned(), s(keys::JOB_LEASES_PK));
            item.insert(
                GSI2SK.to_owned(),
                s(keys::job_lease_sk(lease, &job.tenant, &job.id)),
            );
        }
        Ok(item)
    }
}

#[async_trait]
impl JobStore for DynamoState {
    async fn create(&self, job: &Job) -> StoreResult<Job> {
        if job.id.is_empty() {
            return Err(StoreError::Invalid("a job needs an id".into()));
        }
        let mut stored = job.clone();
        stored.version = 1;
        self.put_versioned(
            &format!("job {} of {}", job.id, job.tenant),
            self.job_item(&stored)?,
            None,
        )
        .await?;
        Ok(stored)
    }

    async fn get(&self, tenant: &TenantId, id: &str) -> StoreResult<Option<Job>> {
        let item = self
            .get_item(keys::tenant_pk(tenant), keys::job_sk(id))
            .await?;
        item.map(|item| from_doc("job", &item)).transpose()
    }

    async fn put(&self, job: &Job, expected_version: u64) -> StoreResult<Job> {
        let mut stored = job.clone();
        stored.version = expected_version + 1;
        let what = format!("job {} of {}", job.id, job.tenant);
        self.put_versioned(&what, self.job_item(&stored)?, Some(expected_version))
            .await?;
        Ok(stored)
    }

    async fn list(
        &self,
        tenant: &TenantId,
        kind: JobKind,
        page: PageRequest,
    ) -> StoreResult<Page<Job>> {
        let mut spec =
            QuerySpec::on_index(GSI1, GSI1PK, GSI1SK, keys::jobs_by_kind_pk(tenant, kind));
        spec.newest_first = true;
        let (items, next_cursor) = self.query_page(&spec, &page).await?;
        let items = items
            .iter()
            .map(|item| from_doc("job", item))
            .collect::<StoreResult<_>>()?;
        Ok(Page { items, next_cursor })
    }

    async fn expired_leases(&self, now: DateTime<Utc>, limit: u32) -> StoreResult<Vec<Job>> {
        let mut spec = QuerySpec::on_index(GSI2, GSI2PK, GSI2SK, keys::JOB_LEASES_PK.to_owned());
        spec.sk = SortCondition::Below(keys::time(now));
        let items = self.query_all(&spec, limit.clamp(1, 1000) as usize).await?;
        let jobs: Vec<Job> = items
            .iter()
            .map(|item| from_doc("job", item))
            .collect::<StoreResult<_>>()?;
        // The index is eventually consistent: re-check what it says against the record itself.
        Ok(jobs
            .into_iter()
            .filter(|job| {
                job.status == JobStatus::Started
                    && job.lease_expires_at.is_some_and(|lease| lease < now)
            })
            .collect())
    }
}
