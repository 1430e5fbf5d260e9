//! Set-up steps of the money rules, run with firm-sync's discovery (the spec's "initial sync" of tax codes).
//!
//! The no-VAT code: lines without a tax code are booked in Exact with the tenant's no-VAT code (spec: "Uses
//! Exclusive if tax code is present no Tax if not"); without it Exact would apply the G/L account's default
//! VAT code and corrupt the VAT return. While the tenant setting `no_vat_code` is missing, set-up proposes
//! Exact's one VAT code of type "no VAT" and saves it in the tenant's settings; when Exact has none or
//! several, the set-up object `tax-code no-vat-code` is in Error saying which exist and what to set, and
//! documents with untaxed lines are refused with the same reason until it is set.

use ledgerlink_domain::{ObjectType, SyncStatus};
use ledgerlink_mapping::config::NO_VAT_CODE_SETTING;
use ledgerlink_mapping::ledger_setup::propose_no_vat_code;
use ledgerlink_ports::{ObjectRef, StoreError};
use serde_json::json;

use crate::common::key;
use crate::context::{FlowContext, TenantWork};
use crate::error::FlowResult;

/// The key of the set-up object that shows the no-VAT code on the Integration page.
pub const NO_VAT_CODE_OBJECT: &str = "no-vat-code";

/// Proposes and saves the tenant's no-VAT code when it is not set. Returns the code now set, if any.
pub async fn settle_no_vat_code(
    ctx: &FlowContext,
    work: &TenantWork,
) -> FlowResult<Option<String>> {
    if let Some(code) = &work.settings.no_vat_code {
        return Ok(Some(code.as_str().to_owned()));
    }
    let object = ObjectRef {
        tenant: work.tenant.id.clone(),
        object_type: ObjectType::TaxCode,
        key: key(NO_VAT_CODE_OBJECT)?,
    };
    let codes = work.conn.ledger.tax_codes().await?;
    let code = match propose_no_vat_code(&codes) {
        Ok(code) => code,
        Err(why) => {
            let text = format!(
                "The no-VAT code is not set: {why}. Lines without a tax code are refused until it is."
            );
            ctx.record(&object, SyncStatus::Error, Some(text.clone()), None)
                .await?;
            ctx.notify_error(&object, &text).await?;
            return Ok(None);
        }
    };
    for _ in 0..=ctx.settings.status_conflict_retries {
        let Some(mut tenant) = ctx.stores.tenants.get(&work.tenant.id).await? else {
            return Ok(None);
        };
        if tenant
            .settings
            .get(NO_VAT_CODE_SETTING)
            .and_then(|v| v.as_str())
            .is_some_and(|v| !v.trim().is_empty())
        {
            return Ok(None);
        }
        let expected = tenant.version;
        tenant
            .settings
            .insert(NO_VAT_CODE_SETTING.to_owned(), json!(code.as_str()));
        tenant.updated_at = ctx.now();
        match ctx.stores.tenants.put(&tenant, Some(expected)).await {
            Ok(_) => {
                let description = codes
                    .iter()
                    .find(|c| c.code == code)
                    .map(|c| c.description.clone())
                    .unwrap_or_default();
                let text = format!(
                    "No-VAT code set to Exact Online's VAT code {code} ({description}), its only VAT code of type \"no VAT\"; lines without a tax code are booked with it. Change the tenant setting {NO_VAT_CODE_SETTING} to use another."
                );
                ctx.record(
                    &object,
                    SyncStatus::Success,
                    Some(text),
                    Some(code.to_string()),
                )
                .await?;
                return Ok(Some(code.to_string()));
            }
            Err(StoreError::Conflict { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(None)
}
