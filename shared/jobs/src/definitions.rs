//! Saved export definitions: which data, which columns, which rows, which format.
//!
//! Definitions are small and few per tenant, so they are kept in the tenant record's `settings`, one entry
//! per definition under `export-definition/<id>`, written with the tenant's optimistic version. That needs no
//! new table or port and works on every store; a tenant must exist before it can save definitions.

use chrono::{DateTime, Utc};
use ledgerlink_domain::TenantId;
use ledgerlink_ports::{JobKind, LookupTable, StatusFilter, StoreError};
use serde::{Deserialize, Serialize};

use crate::{JobError, JobResult, JobsContext};

/// Prefix of the tenant settings entries that hold definitions.
pub const SETTINGS_PREFIX: &str = "export-definition/";
/// Longest definition id.
const MAX_ID_LEN: usize = 64;

/// The file format of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExportFormat {
    Csv,
    Xlsx,
}

impl ExportFormat {
    pub fn extension(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Xlsx => "xlsx",
        }
    }
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Csv => "text/csv",
            Self::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        }
    }
}

/// Which data an export reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum ExportSource {
    /// Synced objects and their status (the Integration page), narrowed by a store-side filter.
    Statuses {
        #[serde(default)]
        filter: StatusFilter,
    },
    /// One lookup table.
    Lookup { table: LookupTable },
    /// The export or import history.
    Jobs { job_kind: JobKind },
    /// Vantagepoint firms (through the PSA port).
    VpFirms,
    /// Vantagepoint employees.
    VpEmployees,
    /// Vantagepoint GL accounts.
    VpAccounts,
    /// Exact Online GL accounts (through the ledger port).
    ExactGlAccounts,
    /// Exact Online VAT codes.
    ExactTaxCodes,
}

impl ExportSource {
    /// The fields a definition may pick for the sources whose fields are fixed; `None` for the PSA and
    /// ledger sources, whose fields are those of the records (their wire names, e.g. `ClientID`, `Code`),
    /// and lookup tables, whose columns are free-form (plus `key`).
    pub fn known_fields(&self) -> Option<&'static [&'static str]> {
        match self {
            Self::Statuses { .. } => Some(crate::source::STATUS_FIELDS),
            Self::Jobs { .. } => Some(crate::source::JOB_FIELDS),
            _ => None,
        }
    }
}

/// One column of the file: the field it shows and its header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportColumn {
    pub field: String,
    pub header: String,
}

impl ExportColumn {
    pub fn new(field: &str, header: &str) -> Self {
        Self {
            field: field.to_owned(),
            header: header.to_owned(),
        }
    }
}

/// How a condition compares a field with its value (text comparisons, case-insensitive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConditionOp {
    Equals,
    NotEquals,
    Contains,
    StartsWith,
    /// The field is present and not blank (the value is ignored).
    NotEmpty,
}

/// One row condition; a row is exported when every condition holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Condition {
    pub field: String,
    pub op: ConditionOp,
    #[serde(default)]
    pub value: String,
}

impl Condition {
    pub fn holds(&self, actual: Option<&str>) -> bool {
        let actual = actual.unwrap_or("").trim();
        let (a, v) = (actual.to_lowercase(), self.value.trim().to_lowercase());
        match self.op {
            ConditionOp::Equals => a == v,
            ConditionOp::NotEquals => a != v,
            ConditionOp::Contains => a.contains(&v),
            ConditionOp::StartsWith => a.starts_with(&v),
            ConditionOp::NotEmpty => !a.is_empty(),
        }
    }
}

/// A saved export definition of one tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportDefinition {
    /// Short id, e.g. `customer-summary`: lower-case letters, digits and `-`.
    pub id: String,
    /// The name jobs show: "<name> export initiated on <date>".
    pub name: String,
    pub description: String,
    pub source: ExportSource,
    pub columns: Vec<ExportColumn>,
    #[serde(default)]
    pub filter: Vec<Condition>,
    pub format: ExportFormat,
    #[serde(default)]
    pub updated_by: String,
    #[serde(default)]
    pub updated_at: Option<DateTime<Utc>>,
}

impl ExportDefinition {
    /// Checks the definition on its own: id, name, columns (at least one, known fields, unique headers).
    pub fn validate(&self) -> JobResult<()> {
        if self.id.is_empty()
            || self.id.len() > MAX_ID_LEN
            || !self
                .id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Err(JobError::invalid(
                "id",
                format!(
                    "{:?} must be 1 to 64 lower-case letters, digits or '-'",
                    self.id
                ),
            ));
        }
        if self.name.trim().is_empty() {
            return Err(JobError::invalid("name", "must not be blank"));
        }
        if self.columns.is_empty() {
            return Err(JobError::invalid(
                "columns",
                "at least one column is needed",
            ));
        }
        let known = self.source.known_fields();
        let mut headers = std::collections::BTreeSet::new();
        for (i, column) in self.columns.iter().enumerate() {
            if column.field.trim().is_empty() || column.header.trim().is_empty() {
                return Err(JobError::invalid(
                    format!("columns[{i}]"),
                    "field and header must not be blank",
                ));
            }
            if let Some(known) = known
                && !known.contains(&column.field.as_str())
            {
                return Err(JobError::invalid(
                    format!("columns[{i}].field"),
                    format!(
                        "{:?} is not a field of this source (known: {})",
                        column.field,
                        known.join(", ")
                    ),
                ));
            }
            if !headers.insert(column.header.trim().to_lowercase()) {
                return Err(JobError::invalid(
                    format!("columns[{i}].header"),
                    format!("{:?} appears twice", column.header),
                ));
            }
        }
        Ok(())
    }
}

/// The export definitions of every tenant (kept in the tenant records).
#[derive(Debug, Clone)]
pub struct ExportDefinitions {
    ctx: JobsContext,
}

impl ExportDefinitions {
    pub fn new(ctx: JobsContext) -> Self {
        Self { ctx }
    }

    /// Saves (creates or replaces) a definition after validating it.
    pub async fn save(
        &self,
        tenant: &TenantId,
        definition: &ExportDefinition,
        user: &str,
    ) -> JobResult<ExportDefinition> {
        definition.validate()?;
        let mut saved = definition.clone();
        saved.updated_by = user.to_owned();
        saved.updated_at = Some(self.ctx.clock.now());
        let value = serde_json::to_value(&saved)
            .map_err(|e| JobError::invalid("definition", format!("cannot be encoded: {e}")))?;
        self.update_settings(tenant, |settings| {
            settings.insert(format!("{SETTINGS_PREFIX}{}", saved.id), value.clone());
        })
        .await?;
        Ok(saved)
    }

    pub async fn get(&self, tenant: &TenantId, id: &str) -> JobResult<Option<ExportDefinition>> {
        let Some(record) = self.ctx.stores.tenants.get(tenant).await? else {
            return Ok(None);
        };
        record
            .settings
            .get(&format!("{SETTINGS_PREFIX}{id}"))
            .map(|v| decode(id, v))
            .transpose()
    }

    /// A definition that must exist.
    pub async fn require(&self, tenant: &TenantId, id: &str) -> JobResult<ExportDefinition> {
        self.get(tenant, id)
            .await?
            .ok_or_else(|| JobError::not_found(format!("export definition {id}")))
    }

    /// Every definition of the tenant, by id.
    pub async fn list(&self, tenant: &TenantId) -> JobResult<Vec<ExportDefinition>> {
        let Some(record) = self.ctx.stores.tenants.get(tenant).await? else {
            return Ok(Vec::new());
        };
        record
            .settings
            .iter()
            .filter_map(|(k, v)| k.strip_prefix(SETTINGS_PREFIX).map(|id| decode(id, v)))
            .collect()
    }

    pub async fn delete(&self, tenant: &TenantId, id: &str) -> JobResult<()> {
        self.update_settings(tenant, |settings| {
            settings.remove(&format!("{SETTINGS_PREFIX}{id}"));
        })
        .await
    }

    /// Applies `change` to the tenant's settings, re-reading and re-applying when someone else wrote first.
    async fn update_settings(
        &self,
        tenant: &TenantId,
        change: impl Fn(&mut std::collections::BTreeMap<String, serde_json::Value>),
    ) -> JobResult<()> {
        let mut last = None;
        for _ in 0..5 {
            let Some(mut record) = self.ctx.stores.tenants.get(tenant).await? else {
                return Err(JobError::not_found(format!("tenant {tenant}")));
            };
            let version = record.version;
            change(&mut record.settings);
            record.updated_at = self.ctx.clock.now();
            match self.ctx.stores.tenants.put(&record, Some(version)).await {
                Ok(_) => return Ok(()),
                Err(e @ StoreError::Conflict { .. }) => last = Some(e),
                Err(e) => return Err(e.into()),
            }
        }
        Err(last
            .map(JobError::from)
            .unwrap_or_else(|| JobError::invalid("tenant", "could not be updated")))
    }
}

fn decode(id: &str, value: &serde_json::Value) -> JobResult<ExportDefinition> {
    serde_json::from_value(value.clone()).map_err(|e| {
        JobError::Store(StoreError::permanent(
            format!("stored export definition {id} cannot be decoded"),
            e,
        ))
    })
}
