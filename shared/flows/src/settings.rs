//! Tenant settings the flows read (the free-form `Tenant::settings`, typed here once) and the process-wide
//! knobs of the flows.
//!
//! Tenant settings, all optional (defaults as the spec says):
//!
//! | key | meaning | default |
//! |---|---|---|
//! | `source_of_truth` | per entity (`firm`, `employee`, `gl-account`, `currency`, `tax-code`): `vantagepoint` or `exact` | firms, employees, currencies: Vantagepoint; G/L accounts, tax codes: Exact |
//! | `filters` | per entity: `{ "active_only": bool, "rules": [{ "field", "op": "equals"/"not-equals"/"starts-with", "value" }] }` | Active only, no rules |
//! | `integration_level` | `top` or `entity`: what a retry of a finance document re-sends | `top` |
//! | `journals` | Exact journal codes `{ "sales", "purchase", "general" }` | 70 / 60 / 90 |
//! | `due_dates` | the mapping's due-date rule | VP's date, else +30 days |
//! | `payment_terms` | days per party | none |
//! | `multicurrency` | VP database is multicurrency | false |
//! | `company` | VP company for postings without one | `01` |
//! | `sync_start` | RFC 3339 start of the first discovery window | 30 days before the first run |
//! | `mapping` | the mapping crate's `Settings` | its defaults |
//! | `employee_code_prefix` | text put before employee codes in Exact account codes (e.g. `E-`), when employee numbers collide with client or vendor codes | none |
//! | `no_vat_code` | the Exact VAT code of lines without tax | proposed by set-up from Exact's "no VAT" code |
//! | `mail` | notification addresses `{ "operators": [..], "users": { name: address } }` | none (in-app only) |
//!
//! The mapping's own keys (`journals`, `due_dates`, `payment_terms`, `multicurrency`, `mapping`,
//! `account_types`, `no_vat_code`) are read by the mapping crate's [`MappingConfig`].

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use ledgerlink_domain::{ObjectType, VatCode};
use ledgerlink_mapping::{
    AccountTypeTable, ConfigError, DueDateRule, JournalCodes, MappingConfig,
    Settings as MappingSettings,
};
use ledgerlink_ports::mail::MAIL_SETTING;
use ledgerlink_ports::{MailSettings, Tenant};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Which system owns an entity's master data (seed 004: the source of truth is configurable).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceOfTruth {
    Vantagepoint,
    Exact,
}

/// How a filter rule compares a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FilterOp {
    Equals,
    NotEquals,
    StartsWith,
}

/// One custom filter rule on an entity's field (seed 004: "customizable filter options").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FilterRule {
    pub field: String,
    pub op: FilterOp,
    pub value: String,
}

impl FilterRule {
    /// Whether a record whose field holds `actual` passes. A missing field only passes `not-equals`.
    pub fn accepts(&self, actual: Option<&str>) -> bool {
        match (self.op, actual) {
            (FilterOp::Equals, Some(a)) => a.eq_ignore_ascii_case(&self.value),
            (FilterOp::NotEquals, Some(a)) => !a.eq_ignore_ascii_case(&self.value),
            (FilterOp::StartsWith, Some(a)) => a
                .to_ascii_lowercase()
                .starts_with(&self.value.to_ascii_lowercase()),
            (FilterOp::NotEquals, None) => true,
            (_, None) => false,
        }
    }
}

/// The filter of one master-data entity: Active only by default, plus custom rules (all must pass).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntityFilter {
    #[serde(default = "yes")]
    pub active_only: bool,
    #[serde(default)]
    pub rules: Vec<FilterRule>,
}

fn yes() -> bool {
    true
}

impl Default for EntityFilter {
    fn default() -> Self {
        Self {
            active_only: true,
            rules: Vec::new(),
        }
    }
}

impl EntityFilter {
    /// Whether a record passes: `active` is its status, `field` reads one of its fields by name.
    pub fn accepts<'a>(&self, active: bool, field: impl Fn(&str) -> Option<&'a str>) -> bool {
        (!self.active_only || active) && self.rules.iter().all(|r| r.accepts(field(&r.field)))
    }
}

/// Whether a retry re-sends only the failed entity or the whole top-level document (seed 002's
/// "Transaction integration level").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IntegrationLevel {
    #[default]
    Top,
    Entity,
}

/// The typed view of one tenant's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct TenantSettings {
    pub source_of_truth: BTreeMap<ObjectType, SourceOfTruth>,
    pub filters: BTreeMap<ObjectType, EntityFilter>,
    pub integration_level: IntegrationLevel,
    pub journals: JournalCodes,
    pub due_dates: DueDateRule,
    pub payment_terms: BTreeMap<String, u32>,
    pub company: String,
    pub sync_start: Option<DateTime<Utc>>,
    pub mapping: MappingSettings,
    pub account_types: AccountTypeTable,
    /// The Exact VAT code of lines without tax (set-up proposes it; documents with such lines wait for it).
    pub no_vat_code: Option<VatCode>,
    /// Where the tenant's notifications are mailed.
    pub mail: MailSettings,
    /// Put before an employee's code in its Exact account code (`employee_code_prefix`), so employee
    /// numbers never collide with client or vendor codes in Exact's single account-code space.
    pub employee_code_prefix: Option<String>,
}

/// A tenant setting that is present but unreadable (names the key; the flows refuse to guess).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("tenant setting {key:?} is invalid: {reason}")]
pub struct SettingsError {
    pub key: String,
    pub reason: String,
}

fn read<T: for<'de> Deserialize<'de>>(
    settings: &BTreeMap<String, Value>,
    key: &str,
) -> Result<Option<T>, SettingsError> {
    settings
        .get(key)
        .map(|v| {
            serde_json::from_value(v.clone()).map_err(|e| SettingsError {
                key: key.to_owned(),
                reason: e.to_string(),
            })
        })
        .transpose()
}

fn typed_map<V: for<'de> Deserialize<'de>>(
    settings: &BTreeMap<String, Value>,
    key: &str,
) -> Result<BTreeMap<ObjectType, V>, SettingsError> {
    let raw: BTreeMap<String, V> = read(settings, key)?.unwrap_or_default();
    raw.into_iter()
        .map(|(k, v)| {
            k.parse::<ObjectType>()
                .map(|t| (t, v))
                .map_err(|e| SettingsError {
                    key: format!("{key}.{k}"),
                    reason: e.to_string(),
                })
        })
        .collect()
}

impl TenantSettings {
    /// Reads a tenant's settings, defaults filled in.
    pub fn of(tenant: &Tenant) -> Result<Self, SettingsError> {
        let s = &tenant.settings;
        let mut source_of_truth = BTreeMap::from([
            (ObjectType::Firm, SourceOfTruth::Vantagepoint),
            (ObjectType::Employee, SourceOfTruth::Vantagepoint),
            (ObjectType::Currency, SourceOfTruth::Vantagepoint),
            (ObjectType::GlAccount, SourceOfTruth::Exact),
            (ObjectType::TaxCode, SourceOfTruth::Exact),
        ]);
        source_of_truth.extend(typed_map::<SourceOfTruth>(s, "source_of_truth")?);
        // The mapping's settings are read by the mapping crate, the one reader the lookups loader uses too.
        let mapping = MappingConfig::from_tenant_settings(s).map_err(|e| match e {
            ConfigError::Setting { key, reason } => SettingsError { key, reason },
            other => SettingsError {
                key: "mapping".into(),
                reason: other.to_string(),
            },
        })?;
        Ok(Self {
            source_of_truth,
            filters: typed_map(s, "filters")?,
            integration_level: read(s, "integration_level")?.unwrap_or_default(),
            journals: mapping.journals,
            due_dates: mapping.due_dates,
            payment_terms: mapping.payment_terms,
            company: read(s, "company")?.unwrap_or_else(|| "01".to_owned()),
            sync_start: read(s, "sync_start")?,
            mapping: mapping.settings,
            account_types: mapping.account_types,
            no_vat_code: mapping.no_vat_code,
            mail: read(s, MAIL_SETTING)?.unwrap_or_default(),
            employee_code_prefix: read::<String>(s, "employee_code_prefix")?
                .map(|p| p.trim().to_owned())
                .filter(|p| !p.is_empty()),
        })
    }

    pub fn source_of_truth(&self, object: ObjectType) -> SourceOfTruth {
        self.source_of_truth
            .get(&object)
            .copied()
            .unwrap_or(SourceOfTruth::Vantagepoint)
    }

    pub fn filter(&self, object: ObjectType) -> EntityFilter {
        self.filters.get(&object).cloned().unwrap_or_default()
    }
}

/// Process-wide knobs of the flows (not per tenant). Defaults are production values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowSettings {
    /// Discovery windows end this long before now, so a posting committing "now" is not missed.
    pub discover_lag: Duration,
    /// The longest PostDate window one read covers (a process re-reads its object's window).
    pub max_window: Duration,
    /// How many windows one discovery may walk (catching up after a pause).
    pub max_windows_per_run: u32,
    /// First discovery without `sync_start`: this far back.
    pub initial_lookback: Duration,
    /// How long one worker holds an object's idempotency key.
    pub lease: Duration,
    /// How long a completed write is remembered by its business key.
    pub idempotency_ttl: Duration,
    /// Deletions in the ledger are checked at most this often (an idle payment poll then costs one call).
    pub deletion_check_every: Duration,
    /// Status-write retries on version conflicts (concurrent workers on one object).
    pub status_conflict_retries: u32,
    /// How many attempts an object gets before the sweeper sets it to Error with the reason.
    pub sweep_max_attempts: u32,
}

impl Default for FlowSettings {
    fn default() -> Self {
        Self {
            discover_lag: Duration::from_secs(60),
            max_window: Duration::from_secs(24 * 3600),
            max_windows_per_run: 45,
            initial_lookback: Duration::from_secs(30 * 24 * 3600),
            lease: Duration::from_secs(300),
            idempotency_ttl: Duration::from_secs(400 * 24 * 3600),
            deletion_check_every: Duration::from_secs(3600),
            status_conflict_retries: 8,
            sweep_max_attempts: 30,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_filter_keeps_active_records_only_and_rules_must_all_pass() {
        let filter = EntityFilter {
            active_only: true,
            rules: vec![FilterRule {
                field: "org".into(),
                op: FilterOp::StartsWith,
                value: "NL".into(),
            }],
        };
        assert!(filter.accepts(true, |_| Some("nl:amsterdam")));
        assert!(!filter.accepts(false, |_| Some("NL:AMS")));
        assert!(!filter.accepts(true, |_| Some("BE:GENT")));
        assert!(!filter.accepts(true, |_| None));
    }
}
