//! Tables "Firms: Vantagepoint to Exact Online", "Firms: Exact Online to Vantagepoint" and
//! "Firms: Vantagepoint to Exact Online - Address".

use ledgerlink_domain::exact::{self, AccountStatus, AddressType, Contact};
use ledgerlink_domain::vantagepoint::{Firm, FirmAddress, FirmStatus};
use ledgerlink_domain::{ExactAccountCode, ObjectType};
use uuid::Uuid;

use crate::common::fit_length;
use crate::error::{MappingError, RecordRef};
use crate::lookups::{EXACT_SEARCH_CODE_MAX, Lookups, Settings, VP_CLIENT_CODE_MAX};
use crate::outcome::{Outcome, SkipReason};

fn firm_ref(firm: &Firm) -> RecordRef {
    let key = firm
        .client_id
        .as_deref()
        .or(firm.client.as_deref())
        .or(firm.vendor.as_deref())
        .unwrap_or(&firm.name);
    RecordRef::new(ObjectType::Firm, key)
}

/// Maps a VP firm to an Exact account.
///
/// Rows: Name → `Name`; Client code (or Vendor code for a vendor-only firm) → `SearchCode`, at most 18
/// characters: longer codes are refused unless `settings.search_code_truncation` says otherwise; Status →
/// `Status` customer/prospect/suspect: a client is `C`, or `P`/`S` when its VP `CurrentStatus` says
/// prospect/suspect; a vendor-only firm gets no status (Exact: "if filled the account is a customer");
/// Primary email → `Email`; Work phone → `Phone`.
///
/// Beyond the table: `IsSupplier` = VP `VendorInd` (Exact firms use the same customer/supplier/both type),
/// and the same code is sent as the account `Code`, so that the Exact → VP table (which reads `Code`) gives
/// back the VP number. VP's Active/Inactive status is deliberately not sent (the spec: reactivating in VP
/// does nothing in Exact).
///
/// Firms without "Available To: Accounting Users" are skipped.
pub fn firm_to_exact(
    firm: &Firm,
    settings: &Settings,
) -> Result<Outcome<exact::Account>, MappingError> {
    if !firm.available_to_accounting_users {
        return Ok(Outcome::Skipped(SkipReason::NotAvailableToAccountingUsers));
    }
    let record = firm_ref(firm);
    let (code_field, code) = if firm.client_ind && firm.client.is_some() {
        ("Client", firm.client.as_deref())
    } else if firm.vendor_ind && firm.vendor.is_some() {
        ("Vendor", firm.vendor.as_deref())
    } else {
        ("Client", firm.client.as_deref().or(firm.vendor.as_deref()))
    };
    let search_code = code
        .map(|c| {
            fit_length(
                c.trim(),
                EXACT_SEARCH_CODE_MAX,
                settings.search_code_truncation,
                &record,
                code_field,
            )
        })
        .transpose()?;
    let account_code = search_code
        .as_deref()
        .map(ExactAccountCode::parse)
        .transpose()
        .map_err(|source| MappingError::Parse {
            record: record.clone(),
            field: code_field,
            source,
        })?;
    let status = firm
        .client_ind
        .then(|| client_status(firm.current_status.as_deref()));
    Ok(Outcome::Mapped(exact::Account {
        name: firm.name.clone(),
        code: account_code,
        search_code,
        status,
        is_supplier: Some(firm.vendor_ind),
        email: firm.primary_email.clone(),
        phone: firm.primary_phone.clone(),
        ..exact::Account::default()
    }))
}

fn client_status(current_status: Option<&str>) -> AccountStatus {
    let lowered = current_status.unwrap_or_default().to_ascii_lowercase();
    if lowered.contains("prospect") {
        AccountStatus::Prospect
    } else if lowered.contains("suspect") {
        AccountStatus::Suspect
    } else {
        AccountStatus::Customer
    }
}

/// Maps an Exact account to a VP firm (create body).
///
/// Rows: Name → `Name`; is sales → Is Client (`ClientInd`; when Exact did not return the read-only
/// `IsSales`, a `C` status counts as sales); Code → Client Code (`Client`) when a client; Is supplier → Is
/// Vendor (`VendorInd`); Code → Vendor Code (`Vendor`) when a vendor. The code must fit the configured VP
/// client-number length (at most 20): longer codes are refused unless `settings.client_code_truncation`
/// says otherwise. Defaults: Status Active; Organization = the first VP organisation (refused when none is
/// configured); Client/Vendor Type blank; Prior Work, Recommended, Is competitor false; Sort Name = the
/// main contact's name (the account name when there is no contact); Available for CRM No; Available to
/// accounting users Yes; Ready for processing No; Ready for processing for company No.
pub fn firm_from_exact(
    account: &exact::Account,
    main_contact: Option<&Contact>,
    lookups: &Lookups,
) -> Result<Firm, MappingError> {
    let key = account
        .id
        .map(|id| id.to_string())
        .unwrap_or_else(|| account.name.clone());
    let record = RecordRef::new(ObjectType::Firm, key);
    let is_client = account
        .is_sales
        .unwrap_or(account.status == Some(AccountStatus::Customer));
    let is_vendor = account.is_supplier.unwrap_or(false);
    let max = lookups.settings.client_code_max_len.min(VP_CLIENT_CODE_MAX);
    let code = account
        .code
        .as_ref()
        .map(|c| {
            fit_length(
                c.as_str(),
                max,
                lookups.settings.client_code_truncation,
                &record,
                "Code",
            )
        })
        .transpose()?;
    let org = lookups
        .organizations
        .first()
        .cloned()
        .ok_or_else(|| MappingError::Missing {
            record: record.clone(),
            field: "Org",
            why: "firms from Exact get the first VP organisation, and none is configured",
        })?;
    let sort_name = main_contact
        .and_then(contact_full_name)
        .unwrap_or_else(|| account.name.clone());
    Ok(Firm {
        client_id: None,
        client: if is_client { code.clone() } else { None },
        vendor: if is_vendor { code } else { None },
        name: account.name.clone(),
        sort_name: Some(sort_name),
        status: FirmStatus::Active,
        current_status: None,
        client_ind: is_client,
        vendor_ind: is_vendor,
        client_type: None,
        vendor_type: None,
        org: Some(org),
        prior_work: false,
        recommend: false,
        competitor: false,
        available_for_crm: false,
        available_to_accounting_users: true,
        ready_for_processing: false,
        ready_for_processing_company: false,
        primary_email: None,
        primary_phone: None,
        web_site: None,
        addresses: Vec::new(),
        mod_date: None,
    })
}

fn contact_full_name(contact: &Contact) -> Option<String> {
    if let Some(full) = contact
        .full_name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
    {
        return Some(full.to_owned());
    }
    let parts: Vec<&str> = [contact.first_name.as_deref(), contact.last_name.as_deref()]
        .into_iter()
        .flatten()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    if parts.is_empty() {
        None
    } else {
        Some(parts.join(" "))
    }
}

/// Maps the addresses of a VP firm to Exact addresses of `account`.
///
/// Rows: Is primary address → `Visit` (1); Is payment address → `Postal` (2); Is billing address →
/// `Invoice` (3); Is Accounting → `Delivery` (4). One VP address with several roles becomes one Exact
/// address per role, each `Main` for its type; an address with no role is not sent. Address 1–3 →
/// `AddressLine1-3`; City → `City`; State → `State` (region); Zip → `Postcode`; Country → `Country`
/// (trimmed, upper case); Phone → `Phone`. Email: Exact addresses have no e-mail property, so the address
/// e-mail goes to the address `Notes`.
pub fn firm_addresses_to_exact(firm: &Firm, account: Uuid) -> Vec<exact::Address> {
    firm.addresses
        .iter()
        .flat_map(|address| {
            address_roles(address)
                .into_iter()
                .map(move |t| (t, address))
        })
        .map(|(address_type, a)| exact::Address {
            id: None,
            account: Some(account),
            address_type,
            main: Some(true),
            address_line1: a.address1.clone(),
            address_line2: a.address2.clone(),
            address_line3: a.address3.clone(),
            postcode: a.zip.clone(),
            city: a.city.clone(),
            state: a.state.clone(),
            country: a.country.as_ref().map(|c| c.trim().to_ascii_uppercase()),
            phone: a.phone.clone(),
            notes: a.email.clone(),
        })
        .collect()
}

fn address_roles(address: &FirmAddress) -> Vec<AddressType> {
    [
        (address.primary, AddressType::Visit),
        (address.payment, AddressType::Postal),
        (address.billing, AddressType::Invoice),
        (address.accounting, AddressType::Delivery),
    ]
    .into_iter()
    .filter_map(|(set, t)| set.then_some(t))
    .collect()
}
