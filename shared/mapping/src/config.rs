//! The tenant settings that change how records map, read from the tenant record's free-form settings the
//! way production stores them (one JSON value per key), and the errors of that reading.
//!
//! | key | meaning | default |
//! |---|---|---|
//! | `journals` | Exact journal codes `{ "sales", "purchase", "general" }` | 70 / 60 / 90 |
//! | `due_dates` | the due-date rule (the spec's "mapping value from Unionpoint") | VP's date, else +30 days |
//! | `payment_terms` | days per party (ClientID, vendor, employee) | none |
//! | `account_types` | the chart-of-accounts type table | [`AccountTypeTable::standard`] |
//! | `multicurrency` | the VP database is multicurrency | false |
//! | `mapping` | [`Settings`] (code lengths and truncation, AP liability code) | its defaults |
//! | `no_vat_code` | the Exact VAT code of lines without tax | none: such lines are refused until set |

use std::collections::BTreeMap;

use ledgerlink_domain::VatCode;
use serde::Deserialize;
use serde_json::Value;

use crate::lookups::{AccountTypeTable, DueDateRule, JournalCodes, PaymentTerms, Settings};

/// The tenant setting holding the Exact VAT code of lines without tax.
pub const NO_VAT_CODE_SETTING: &str = "no_vat_code";

/// A tenant setting or a lookup row that is present but cannot be read. Names what and why: the flows
/// refuse to guess (a tax rate read as zero would be booked).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("tenant setting {key:?} is invalid: {reason}")]
    Setting { key: String, reason: String },
    #[error("lookup table {table}, row {key:?}: column {column:?} is invalid: {reason}")]
    Row {
        table: &'static str,
        key: String,
        column: &'static str,
        reason: String,
    },
}

/// What the tenant's settings say about mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingConfig {
    pub journals: JournalCodes,
    pub due_dates: DueDateRule,
    pub payment_terms: PaymentTerms,
    pub account_types: AccountTypeTable,
    pub settings: Settings,
    pub no_vat_code: Option<VatCode>,
}

fn read<T: for<'de> Deserialize<'de>>(
    settings: &BTreeMap<String, Value>,
    key: &str,
) -> Result<Option<T>, ConfigError> {
    match settings.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => serde_json::from_value(v.clone())
            .map(Some)
            .map_err(|e| ConfigError::Setting {
                key: key.to_owned(),
                reason: e.to_string(),
            }),
    }
}

impl MappingConfig {
    /// Reads the mapping settings of a tenant (its `settings` map), defaults filled in.
    pub fn from_tenant_settings(settings: &BTreeMap<String, Value>) -> Result<Self, ConfigError> {
        let no_vat_code = match read::<String>(settings, NO_VAT_CODE_SETTING)? {
            Some(text) if !text.trim().is_empty() => {
                Some(VatCode::parse(&text).map_err(|e| ConfigError::Setting {
                    key: NO_VAT_CODE_SETTING.to_owned(),
                    reason: e.to_string(),
                })?)
            }
            _ => None,
        };
        Ok(Self {
            journals: read(settings, "journals")?.unwrap_or_else(|| JournalCodes {
                sales: "70".into(),
                purchase: "60".into(),
                general: "90".into(),
            }),
            due_dates: read(settings, "due_dates")?
                .unwrap_or(DueDateRule::UseSource { fallback_days: 30 }),
            payment_terms: read(settings, "payment_terms")?.unwrap_or_default(),
            account_types: read(settings, "account_types")?
                .unwrap_or_else(AccountTypeTable::standard),
            settings: Settings {
                multicurrency: read(settings, "multicurrency")?.unwrap_or(false),
                ..read(settings, "mapping")?.unwrap_or_default()
            },
            no_vat_code,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_empty_settings_map_gives_the_documented_defaults_and_no_no_vat_code() {
        let config = MappingConfig::from_tenant_settings(&BTreeMap::new()).unwrap_or_else(|e| {
            panic!("{e}");
        });
        assert_eq!(config.journals.sales, "70");
        assert_eq!(config.journals.purchase, "60");
        assert_eq!(config.journals.general, "90");
        assert_eq!(
            config.due_dates,
            DueDateRule::UseSource { fallback_days: 30 }
        );
        assert!(!config.settings.multicurrency);
        assert_eq!(config.no_vat_code, None);
    }

    #[test]
    fn an_unreadable_no_vat_code_names_the_setting() {
        let settings = BTreeMap::from([(NO_VAT_CODE_SETTING.to_owned(), json!("TOOLONG"))]);
        let error = MappingConfig::from_tenant_settings(&settings).err();
        assert!(
            matches!(&error, Some(ConfigError::Setting { key, .. }) if key == NO_VAT_CODE_SETTING),
            "{error:?}"
        );
    }
}
