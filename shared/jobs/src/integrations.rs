//! The Integrations Manager: integrations group import tasks and export definitions, are saved and reused
//! across accounting periods, and show per period whether each task was run, not run, or failed.
//!
//! A task's state in a period is the latest [`TaskRun`] recorded for it: when a job started from an
//! integration ends, its outcome is recorded for the period it ran in (see `job::ended`). Tasks without a
//! run in the period are "not run". Earlier periods keep their runs, so history is a look at another period.

use chrono::Utc;
use ledgerlink_domain::TenantId;
use ledgerlink_domain::period::Period;
use ledgerlink_ports::{Integration, Job, Page, PageRequest, TaskRun, TaskRunState};
use serde::{Deserialize, Serialize};

use crate::export::Exporter;
use crate::import::ImportTemplate;
use crate::job::IntegrationTask;
use crate::{JobError, JobResult, JobsContext};

/// One task of an integration in one period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskStatus {
    /// `export:<definition id>` or `import:<template>`.
    pub task: String,
    pub state: TaskRunState,
    pub job_id: Option<String>,
    pub message: Option<String>,
    pub at: Option<chrono::DateTime<Utc>>,
}

/// An integration as the manager shows it for one accounting period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntegrationOverview {
    pub integration: Integration,
    /// `YYYYPP`.
    pub period: u32,
    pub import_tasks: Vec<TaskStatus>,
    pub export_tasks: Vec<TaskStatus>,
}

pub fn export_task(definition_id: &str) -> String {
    format!("export:{definition_id}")
}

pub fn import_task(template: &str) -> String {
    format!("import:{template}")
}

/// The Integrations Manager use cases.
#[derive(Debug, Clone)]
pub struct IntegrationsManager {
    ctx: JobsContext,
}

impl IntegrationsManager {
    pub fn new(ctx: JobsContext) -> Self {
        Self { ctx }
    }

    /// Saves an integration (create with `expected_version: None`) after checking its tasks exist: import
    /// tasks name templates, export tasks name saved definitions.
    pub async fn save(
        &self,
        integration: &Integration,
        expected_version: Option<u64>,
    ) -> JobResult<Integration> {
        if integration.id.trim().is_empty() || integration.name.trim().is_empty() {
            return Err(JobError::invalid(
                "integration",
                "id and name must not be blank",
            ));
        }
        for task in &integration.import_tasks {
            ImportTemplate::parse(task)?;
        }
        let definitions = Exporter::new(self.ctx.clone()).definitions();
        for id in &integration.export_tasks {
            if definitions.get(&integration.tenant, id).await?.is_none() {
                return Err(JobError::invalid(
                    "export_tasks",
                    format!("no export definition {id:?} is saved"),
                ));
            }
        }
        let mut saved = integration.clone();
        saved.updated_at = self.ctx.clock.now();
        Ok(self
            .ctx
            .stores
            .integrations
            .put(&saved, expected_version)
            .await?)
    }

    pub async fn list(&self, tenant: &TenantId, page: PageRequest) -> JobResult<Page<Integration>> {
        Ok(self.ctx.stores.integrations.list(tenant, page).await?)
    }

    pub async fn delete(&self, tenant: &TenantId, id: &str) -> JobResult<()> {
        Ok(self.ctx.stores.integrations.delete(tenant, id).await?)
    }

    async fn require(&self, tenant: &TenantId, id: &str) -> JobResult<Integration> {
        self.ctx
            .stores
            .integrations
            .get(tenant, id)
            .await?
            .ok_or_else(|| JobError::not_found(format!("integration {id}")))
    }

    /// The period asked for, else the active period read from Vantagepoint.
    pub async fn period(&self, period: Option<Period>) -> JobResult<Period> {
        match period {
            Some(p) => Ok(p),
            None => match &self.ctx.psa {
                Some(psa) => Ok(psa.active_period().await?),
                None => Err(JobError::NotConfigured {
                    what: "the Vantagepoint connection (needed for the active period)",
                }),
            },
        }
    }

    /// Each task of the integration with its state in `period` (the active period when `None`).
    pub async fn overview(
        &self,
        tenant: &TenantId,
        id: &str,
        period: Option<Period>,
    ) -> JobResult<IntegrationOverview> {
        let integration = self.require(tenant, id).await?;
        let period = self.period(period).await?.as_yyyypp();
        let runs = self
            .ctx
            .stores
            .integrations
            .runs(tenant, id, period)
            .await?;
        let status = |task: String| match runs.iter().find(|r| r.task == task) {
            Some(run) => TaskStatus {
                task,
                state: run.state,
                job_id: run.job_id.as_deref().map(crate::job::display_id),
                message: run.message.clone(),
                at: Some(run.at),
            },
            None => TaskStatus {
                task,
                state: TaskRunState::NotRun,
                job_id: None,
                message: None,
                at: None,
            },
        };
        Ok(IntegrationOverview {
            import_tasks: integration
                .import_tasks
                .iter()
                .map(|t| status(import_task(t)))
                .collect(),
            export_tasks: integration
                .export_tasks
                .iter()
                .map(|d| status(export_task(d)))
                .collect(),
            integration,
            period,
        })
    }

    /// The runs recorded in an earlier (or any) period: the history of that period.
    pub async fn history(
        &self,
        tenant: &TenantId,
        id: &str,
        period: Period,
    ) -> JobResult<Vec<TaskRun>> {
        Ok(self
            .ctx
            .stores
            .integrations
            .runs(tenant, id, period.as_yyyypp())
            .await?)
    }

    /// Runs export tasks of the integration in `period` (the active one when `None`): every export task
    /// when `definitions` is `None`, else the named ones. Returns the queued jobs; each task's state is
    /// recorded when its job ends.
    pub async fn run_exports(
        &self,
        tenant: &TenantId,
        id: &str,
        definitions: Option<&[String]>,
        period: Option<Period>,
        user: &str,
    ) -> JobResult<Vec<Job>> {
        let integration = self.require(tenant, id).await?;
        let period = self.period(period).await?.as_yyyypp();
        let chosen: Vec<String> = match definitions {
            None => integration.export_tasks.clone(),
            Some(ids) => {
                if let Some(unknown) = ids.iter().find(|d| !integration.export_tasks.contains(d)) {
                    return Err(JobError::invalid(
                        "definitions",
                        format!("{unknown:?} is not an export task of integration {id}"),
                    ));
                }
                ids.to_vec()
            }
        };
        let exporter = Exporter::new(self.ctx.clone());
        let mut jobs = Vec::with_capacity(chosen.len());
        for definition_id in chosen {
            let definition = exporter
                .definitions()
                .require(tenant, &definition_id)
                .await?;
            let task = IntegrationTask {
                integration_id: id.to_owned(),
                period,
                task: export_task(&definition_id),
            };
            jobs.push(
                exporter
                    .start_definition(tenant, &definition, user, Some(task))
                    .await?,
            );
        }
        Ok(jobs)
    }

    /// The import task context to pass with an import started from this integration.
    pub async fn import_task(
        &self,
        tenant: &TenantId,
        id: &str,
        template: ImportTemplate,
        period: Option<Period>,
    ) -> JobResult<IntegrationTask> {
        let integration = self.require(tenant, id).await?;
        if !integration.import_tasks.contains(&template.name()) {
            return Err(JobError::invalid(
                "template",
                format!(
                    "{} is not an import task of integration {id}",
                    template.name()
                ),
            ));
        }
        Ok(IntegrationTask {
            integration_id: id.to_owned(),
            period: self.period(period).await?.as_yyyypp(),
            task: import_task(&template.name()),
        })
    }
}
