//! Hub records and configuration: firms (+ addresses), employees, projects, chart of accounts, currencies,
//! tax codes, bank codes, auto-posting accounts and accounting periods.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use ledgerlink_domain::CurrencyCode;
use ledgerlink_domain::period::Period;
use ledgerlink_domain::vantagepoint::{
    Account, BankCode, BillingGroup, Currency, Employee, Firm, FirmAddress, FirmStatus, TaxCode,
};
use ledgerlink_ports::psa::{
    AccountingPeriod, AutoPostingAccounts, FirmChanges, FirmRole, Project, TimeWindow,
};
use reqwest::Method;
use serde_json::{Value, json};

use crate::client::{Idempotency, VantagepointClient};
use crate::decode;
use crate::error::VpError;
use crate::http::Root;
use crate::query::{FilterHash, ListQuery, Paging};

impl VantagepointClient {
    // ------------------------------------------------------------------------------------------- firms

    /// Firms whose `ModDate` is in `window` (filtered by role), each with its addresses.
    pub async fn changed_firms(
        &self,
        window: TimeWindow,
        role: FirmRole,
    ) -> Result<Vec<Firm>, VpError> {
        let mut filter = FilterHash::new().window("ModDate", window.from, window.to);
        filter = match role {
            FirmRole::Client => filter.flag("ClientInd", true),
            FirmRole::Vendor => filter.flag("VendorInd", true),
            FirmRole::Any => filter,
        };
        let mut firms: Vec<Firm> = self
            .list(
                Root::Api,
                &["firm"],
                &ListQuery::filtered(filter),
                self.hub_paging(),
            )
            .await?;
        for firm in &mut firms {
            if firm.addresses.is_empty()
                && let Some(id) = firm.client_id.clone()
            {
                firm.addresses = self.firm_addresses(&id).await?;
            }
        }
        Ok(firms)
    }

    /// One firm with its addresses.
    pub async fn firm(&self, client_id: &str) -> Result<Option<Firm>, VpError> {
        let Some(mut firm) = self
            .get_one::<Firm>(Root::Api, &["firm", client_id])
            .await?
        else {
            return Ok(None);
        };
        if firm.addresses.is_empty() {
            firm.addresses = self.firm_addresses(client_id).await?;
        }
        Ok(Some(firm))
    }

    pub async fn firm_addresses(&self, client_id: &str) -> Result<Vec<FirmAddress>, VpError> {
        match self
            .list(
                Root::Api,
                &["firm", client_id, "address"],
                &ListQuery::default(),
                Paging::None,
            )
            .await
        {
            Ok(rows) => Ok(rows),
            Err(VpError::NotFound { .. }) => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    /// Creates a firm coming from Exact and returns it as stored (re-read: autonumbered fields may be
    /// missing from the POST answer). The spec's fixed defaults for such firms are applied: status Active,
    /// client and vendor type blank, prior work / recommended / competitor false, available for CRM No,
    /// available to accounting users Yes, ready for processing (and for company) No; organization = the
    /// first org when blank; sort name = name when blank. The addresses on `firm` are created afterwards.
    ///
    /// When VP refuses the client/vendor number because autonumbering is on, the firm is created again
    /// without the numbers, letting VP assign them.
    pub async fn create_firm(&self, firm: &Firm) -> Result<Firm, VpError> {
        let mut body = firm.clone();
        body.client_id = None;
        body.addresses = Vec::new();
        body.status = FirmStatus::Active;
        body.client_type = None;
        body.vendor_type = None;
        body.prior_work = false;
        body.recommend = false;
        body.competitor = false;
        body.available_for_crm = false;
        body.available_to_accounting_users = true;
        body.ready_for_processing = false;
        body.ready_for_processing_company = false;
        if body.org.is_none() {
            body.org = self.first_org().await?;
        }
        if body.sort_name.is_none() {
            body.sort_name = Some(body.name.clone());
        }
        let value =
            serde_json::to_value(&body).map_err(|e| VpError::decode("firm create body", e))?;
        let created = match self.post(Root::Api, &["firm"], &value).await {
            Err(VpError::Validation { message, .. } | VpError::BusinessRule { message, .. })
                if message.to_ascii_lowercase().contains("autonumber") =>
            {
                tracing::info!(%message, "firm numbers are autonumbered; creating without them");
                let mut retry = body.clone();
                retry.client = None;
                retry.vendor = None;
                let value = serde_json::to_value(&retry)
                    .map_err(|e| VpError::decode("firm create body", e))?;
                self.post(Root::Api, &["firm"], &value).await?
            }
            other => other?,
        };
        let client_id = decode::rows(created)
            .into_iter()
            .find_map(|row| decode::field_text(&row, "ClientID"))
            .ok_or_else(|| VpError::decode_msg("POST firm", "no ClientID in the answer"))?;
        for address in &firm.addresses {
            self.create_firm_address(&client_id, address).await?;
        }
        self.firm(&client_id).await?.ok_or(VpError::NotFound {
            what: format!("firm {client_id} after create"),
        })
    }

    /// `PUT /firm/{ClientID}` with only the changed main fields (never `CLAddress`: address edits may be
    /// refused by VP), then the firm as stored (its `ModDate` is this write's version).
    pub async fn update_firm(
        &self,
        client_id: &str,
        changes: &FirmChanges,
    ) -> Result<Firm, VpError> {
        let mut body = serde_json::Map::new();
        if let Some(name) = &changes.name {
            body.insert("Name".into(), json!(name));
        }
        for (field, value) in [
            ("PrimaryEmail", &changes.email),
            ("PrimaryPhone", &changes.phone),
        ] {
            if let Some(value) = value {
                body.insert(field.into(), json!(value));
            }
        }
        for (field, flag) in [
            ("ClientInd", changes.client_ind),
            ("VendorInd", changes.vendor_ind),
        ] {
            if let Some(flag) = flag {
                body.insert(field.into(), json!(if flag { "Y" } else { "N" }));
            }
        }
        if !body.is_empty() {
            self.call(
                Method::PUT,
                Root::Api,
                &["firm", client_id],
                &[],
                Some(&Value::Object(body)),
                Idempotency::Idempotent,
            )
            .await?;
        }
        self.firm(client_id).await?.ok_or(VpError::NotFound {
            what: format!("firm {client_id} after update"),
        })
    }

    pub async fn create_firm_address(
        &self,
        client_id: &str,
        address: &FirmAddress,
    ) -> Result<FirmAddress, VpError> {
        let mut body = address.clone();
        body.client_id = Some(client_id.to_owned());
        body.address_id = None;
        let value =
            serde_json::to_value(&body).map_err(|e| VpError::decode("address create body", e))?;
        let created = self
            .post(Root::Api, &["firm", client_id, "address"], &value)
            .await?;
        match decode::decode_first::<FirmAddress>(created, "POST firm address")? {
            Some(a) if a.address_id.is_some() => Ok(a),
            // The answer lacks the assigned id: read the addresses back and pick ours by label.
            _ => {
                let all = self.firm_addresses(client_id).await?;
                Ok(all
                    .into_iter()
                    .rev()
                    .find(|a| a.label == address.label)
                    .unwrap_or(body))
            }
        }
    }

    /// Edits an existing address of a firm. The reference cites both behaviours of VP (issue 20): code that
    /// edits through `PUT /firm/{ClientID}/address/{CLAddressID}` or `PUT /firm/{ClientID}` with
    /// `CLAddress[].CLAddressID`, and "the Firm Address API does not allow edits". This tries the address
    /// path first, then the firm grid (a database without the address path answers 404); a database that
    /// refuses edits answers [`AddressEdit::NotAllowed`] with VP's message, for the caller to tell the user
    /// to change it in Vantagepoint. Other failures are errors.
    pub async fn update_firm_address(
        &self,
        client_id: &str,
        address: &FirmAddress,
    ) -> Result<AddressEdit, VpError> {
        let Some(address_id) = address.address_id.clone() else {
            return Err(VpError::Validation {
                operation: "update firm address".into(),
                message: "the address has no CLAddressID (create it instead)".into(),
            });
        };
        let mut body = address.clone();
        body.client_id = None;
        body.address_id = None;
        let value =
            serde_json::to_value(&body).map_err(|e| VpError::decode("address update body", e))?;
        let direct = self
            .call(
                Method::PUT,
                Root::Api,
                &["firm", client_id, "address", &address_id],
                &[],
                Some(&value),
                Idempotency::Idempotent,
            )
            .await;
        let refused = match direct {
            Ok(_) => None,
            Err(VpError::Validation { message, .. } | VpError::BusinessRule { message, .. }) => {
                Some(message)
            }
            // No address path on this database: the firm grid is the documented alternative.
            Err(VpError::NotFound { .. }) => {
                let mut row = value.clone();
                if let Value::Object(m) = &mut row {
                    m.insert("CLAddressID".into(), json!(address_id));
                }
                match self
                    .call(
                        Method::PUT,
                        Root::Api,
                        &["firm", client_id],
                        &[],
                        Some(&json!({ "CLAddress": [row] })),
                        Idempotency::Idempotent,
                    )
                    .await
                {
                    Ok(_) => None,
                    Err(
                        VpError::Validation { message, .. } | VpError::BusinessRule { message, .. },
                    ) => Some(message),
                    Err(e) => return Err(e),
                }
            }
            Err(e) => return Err(e),
        };
        if let Some(message) = refused {
            return Ok(AddressEdit::NotAllowed { message });
        }
        let stored = self
            .firm_addresses(client_id)
            .await?
            .into_iter()
            .find(|a| a.address_id.as_deref() == Some(address_id.as_str()))
            .ok_or_else(|| VpError::NotFound {
                what: format!("address {address_id} of firm {client_id} after update"),
            })?;
        Ok(AddressEdit::Updated(stored))
    }

    async fn first_org(&self) -> Result<Option<String>, VpError> {
        let answer = self
            .call(
                Method::GET,
                Root::Api,
                &["organization"],
                &[("limit".into(), "1".into())],
                None,
                Idempotency::Idempotent,
            )
            .await;
        match answer {
            Ok(v) => Ok(decode::rows(v)
                .into_iter()
                .find_map(|row| decode::field_text(&row, "Org"))),
            Err(VpError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub(crate) async fn post(
        &self,
        root: Root,
        segments: &[&str],
        body: &Value,
    ) -> Result<Value, VpError> {
        self.call(
            Method::POST,
            root,
            segments,
            &[],
            Some(body),
            Idempotency::NonIdempotent,
        )
        .await
    }

    // ---------------------------------------------------------------------------------------- employees

    pub async fn changed_employees(&self, window: TimeWindow) -> Result<Vec<Employee>, VpError> {
        let filter = FilterHash::new().window("ModDate", window.from, window.to);
        self.list(
            Root::Api,
            &["employee"],
            &ListQuery::filtered(filter),
            self.hub_paging(),
        )
        .await
    }

    pub async fn employee(&self, employee: &str) -> Result<Option<Employee>, VpError> {
        self.get_one(Root::Api, &["employee", employee]).await
    }

    // ----------------------------------------------------------------------------------------- projects

    /// The project (WBS1 level) with its billing client and billing group.
    pub async fn project(&self, wbs1: &str) -> Result<Option<Project>, VpError> {
        let answer = match self
            .call(
                Method::GET,
                Root::Api,
                &["project", wbs1],
                &[],
                None,
                Idempotency::Idempotent,
            )
            .await
        {
            Ok(v) => v,
            Err(VpError::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        // A project read may also return its phases; the WBS1-level row has a blank WBS2.
        let rows = decode::rows(answer);
        let row = rows
            .iter()
            .find(|r| {
                decode::field_text(r, "WBS2").is_none()
                    && decode::field_text(r, "WBS1").as_deref() == Some(wbs1)
            })
            .or_else(|| rows.first());
        Ok(row.map(project_from_row))
    }

    // ------------------------------------------------------------------------------------ configuration

    /// The chart of accounts. VP's root for `/Accounts` is not documented: `/api` first, then `/vision`.
    pub async fn accounts(&self) -> Result<Vec<Account>, VpError> {
        // Account numbers are canonicalised (`"121.00"` → `"121"`).
        let query = ListQuery::default();
        let mut accounts: Vec<Account> = match self
            .list(Root::Api, &["Accounts"], &query, self.hub_paging())
            .await
        {
            Err(VpError::NotFound { .. }) => {
                self.list(Root::Vision, &["Accounts"], &query, self.hub_paging())
                    .await?
            }
            other => other?,
        };
        for a in &mut accounts {
            a.account = decode::account_number(&a.account);
        }
        Ok(accounts)
    }

    /// Creates an account (the blank columns VP insists on are always in the body).
    pub async fn create_account(&self, account: &Account) -> Result<Account, VpError> {
        let body = serde_json::to_value(account).map_err(|e| VpError::decode("account body", e))?;
        let answer = match self.post(Root::Api, &["Accounts", ""], &body).await {
            Err(VpError::NotFound { .. }) => {
                self.post(Root::Vision, &["Accounts", ""], &body).await?
            }
            other => other?,
        };
        Ok(decode::decode_first(answer, "POST Accounts")?.unwrap_or_else(|| account.clone()))
    }

    pub async fn update_account(&self, account: &Account) -> Result<Account, VpError> {
        let body = serde_json::to_value(account).map_err(|e| VpError::decode("account body", e))?;
        let segments = ["Accounts", account.account.as_str()];
        let put = |root| {
            self.call(
                Method::PUT,
                root,
                &segments,
                &[],
                Some(&body),
                Idempotency::Idempotent,
            )
        };
        let answer = match put(Root::Api).await {
            Err(VpError::NotFound { .. }) => put(Root::Vision).await?,
            other => other?,
        };
        Ok(decode::decode_first(answer, "PUT Accounts")?.unwrap_or_else(|| account.clone()))
    }

    /// Currencies of the `FW_CFGCurrency` code table.
    pub async fn currencies(&self) -> Result<Vec<Currency>, VpError> {
        let rows = self
            .list_rows(
                Root::Api,
                &["codeTable", "FW_CFGCurrency"],
                &ListQuery::default(),
                Paging::None,
            )
            .await?;
        // Skip rows whose code is not an ISO currency (VP allows custom codes) rather than failing the list.
        Ok(rows
            .into_iter()
            .filter_map(|row| {
                let code = CurrencyCode::parse(&decode::field_text(&row, "Code")?).ok()?;
                Some(Currency {
                    code,
                    description: decode::field_text(&row, "Description"),
                })
            })
            .collect())
    }

    pub async fn tax_codes(&self) -> Result<Vec<TaxCode>, VpError> {
        self.list(
            Root::Vision,
            &["TaxCodeEntity", ""],
            &ListQuery::default(),
            Paging::None,
        )
        .await
    }

    pub async fn create_tax_code(&self, tax_code: &TaxCode) -> Result<TaxCode, VpError> {
        let body =
            serde_json::to_value(tax_code).map_err(|e| VpError::decode("tax code body", e))?;
        let answer = self
            .post(Root::Vision, &["TaxCodeEntity", ""], &body)
            .await?;
        Ok(decode::decode_first(answer, "POST TaxCodeEntity")?.unwrap_or_else(|| tax_code.clone()))
    }

    pub async fn bank_codes(&self) -> Result<Vec<BankCode>, VpError> {
        let query = ListQuery::default();
        let mut banks: Vec<BankCode> = self
            .list(
                Root::Vision,
                &["BankCode", "CFGBANKS"],
                &query,
                Paging::None,
            )
            .await?;
        for b in &mut banks {
            b.account = b.account.as_deref().map(decode::account_number);
        }
        Ok(banks)
    }

    pub async fn auto_posting_accounts(
        &self,
        company: Option<&str>,
    ) -> Result<AutoPostingAccounts, VpError> {
        let query: Vec<(String, String)> = company
            .map(|c| vec![("company".to_owned(), c.to_owned())])
            .unwrap_or_default();
        let answer = self
            .call(
                Method::GET,
                Root::Vision,
                &["AccountConfiguration", "CFGAutoPosting"],
                &query,
                None,
                Idempotency::Idempotent,
            )
            .await?;
        let rows = decode::rows(answer);
        let row = rows
            .iter()
            .find(|r| company.is_none() || decode::field_text(r, "Company").as_deref() == company)
            .or_else(|| rows.first())
            .cloned()
            .unwrap_or(Value::Null);
        let mut all = BTreeMap::new();
        if let Value::Object(map) = &row {
            for (k, v) in map {
                if let Some(t) = decode::text(v)
                    .map(|s| decode::account_number(&s))
                    .filter(|s| !s.is_empty())
                {
                    all.insert(k.clone(), t);
                }
            }
        }
        Ok(AutoPostingAccounts {
            company: decode::field_text(&row, "Company").or_else(|| company.map(str::to_owned)),
            accounts_receivable: all.get("AcctsReceivable").cloned(),
            uninvoiced_revenue: all.get("UninvoicedRevenue").cloned(),
            unbilled_services: all.get("UnbilledServices").cloned(),
            all,
        })
    }

    pub async fn periods(&self) -> Result<Vec<AccountingPeriod>, VpError> {
        let rows = self
            .list_rows(
                Root::Api,
                &["Settings", "Period"],
                &ListQuery::default(),
                Paging::None,
            )
            .await?;
        let mut out = Vec::new();
        for row in rows {
            let Some(period) = period_of(&row) else {
                continue;
            };
            let date = |key: &str| {
                row.get(key)
                    .and_then(decode::datetime)
                    .map(|d| d.date_naive())
            };
            let closed = ["AllCompaniesClosed", "ActiveCompanyClosed", "Closed"]
                .iter()
                .any(|k| row.get(*k).and_then(decode::flag).unwrap_or(false));
            out.push(AccountingPeriod {
                period,
                start: date("AccountPdStart"),
                end: date("AccountPdEnd"),
                closed,
            });
        }
        out.sort_by_key(|p| p.period);
        Ok(out)
    }

    /// The period whose date range holds `date`.
    pub async fn period_for_date(
        &self,
        date: NaiveDate,
    ) -> Result<Option<AccountingPeriod>, VpError> {
        Ok(self
            .periods()
            .await?
            .into_iter()
            .find(|p| p.start.is_some_and(|s| s <= date) && p.end.is_some_and(|e| date <= e)))
    }

    pub async fn active_period(&self) -> Result<Period, VpError> {
        let answer = self
            .call(
                Method::GET,
                Root::Api,
                &["Settings", "ActivePeriod"],
                &[],
                None,
                Idempotency::Idempotent,
            )
            .await?;
        let value = decode::unwrap_json_string(answer);
        let found = match &value {
            Value::Number(_) | Value::String(_) => {
                decode::integer(&value).and_then(|p| Period::from_yyyypp(p).ok())
            }
            _ => decode::rows(value).iter().find_map(period_of),
        };
        found.ok_or_else(|| {
            VpError::decode_msg("GET Settings/ActivePeriod", "no period in the answer")
        })
    }

    pub async fn set_active_period(&self, period: Period) -> Result<(), VpError> {
        let p = period.to_string();
        self.call(
            Method::PUT,
            Root::Api,
            &["Settings", "ActivePeriod", &p],
            &[],
            Some(&json!({})),
            Idempotency::Idempotent,
        )
        .await?;
        Ok(())
    }
}

/// `Period` as an int, or `RawPeriod` when `Period` is the formatted `"06/2026"`.
fn period_of(row: &Value) -> Option<Period> {
    ["Period", "RawPeriod"]
        .iter()
        .filter_map(|k| row.get(*k))
        .find_map(|v| decode::integer(v).and_then(|p| Period::from_yyyypp(p).ok()))
}

fn project_from_row(row: &Value) -> Project {
    let main = decode::field_text(row, "MainWBS1")
        .or_else(|| decode::field_text(row, "BillingGroupMainWBS1"));
    let consolidated = ["ConsolidatePosting", "Consolidated", "ConsolidateBilling"]
        .iter()
        .any(|k| row.get(*k).and_then(decode::flag).unwrap_or(false));
    let client_id = decode::field_text(row, "ClientID");
    Project {
        wbs1: decode::field_text(row, "WBS1").unwrap_or_default(),
        name: decode::field_text(row, "Name"),
        billing_client_id: decode::field_text(row, "BillingClientID").or_else(|| client_id.clone()),
        client_id,
        org: decode::field_text(row, "Org"),
        billing_currency: decode::field_text(row, "BillingCurrencyCode")
            .or_else(|| decode::field_text(row, "ProjectCurrencyCode"))
            .and_then(|c| CurrencyCode::parse(&c).ok()),
        billing_group: main.map(|main_wbs1| BillingGroup {
            main_wbs1,
            consolidated,
        }),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_project_row_yields_its_billing_client_and_billing_group() {
        let row = json!({"WBS1":"2026-001","WBS2":" ","Name":"HQ","ClientID":"C1","BillingClientID":"C2",
            "MainWBS1":"2026-000","ConsolidatePosting":"Y","Org":"A0:01"});
        let p = project_from_row(&row);
        assert_eq!(p.billing_client_id.as_deref(), Some("C2"));
        assert_eq!(p.client_id.as_deref(), Some("C1"));
        let group = p.billing_group.unwrap();
        assert_eq!(group.main_wbs1, "2026-000");
        assert!(group.consolidated);
    }

    #[test]
    fn a_project_without_billing_client_is_billed_to_its_client_and_has_no_group() {
        let p = project_from_row(
            &json!({"WBS1":"P","ClientID":"C1","BillingClientID":"","MainWBS1":""}),
        );
        assert_eq!(p.billing_client_id.as_deref(), Some("C1"));
        assert!(p.billing_group.is_none());
    }

    #[test]
    fn periods_are_read_from_period_or_raw_period() {
        assert_eq!(
            period_of(&json!({"Period":"06/2026","RawPeriod":202606})),
            Period::from_yyyypp(202606).ok()
        );
        assert_eq!(
            period_of(&json!({"Period":202607})),
            Period::from_yyyypp(202607).ok()
        );
        assert_eq!(period_of(&json!({})), None);
    }
}

/// What [`VantagepointClient::update_firm_address`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum AddressEdit {
    /// The address as stored after the edit.
    Updated(FirmAddress),
    /// This database does not allow address edits through the API (VP's message): change it in Vantagepoint.
    NotAllowed { message: String },
}
