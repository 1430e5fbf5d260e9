//! Table "Employees: Vantagepoint to Exact Online - Vendors".
//!
//! Exact's Accounting module has no employee records, so an employee becomes a supplier *account* (so
//! expense reports can be booked as purchase entries against it, and it goes into the employee lookup
//! table) plus a *contact* person on that account.

use ledgerlink_domain::exact::{Account, Contact};
use ledgerlink_domain::vantagepoint::{Employee, EmployeeStatus};
use ledgerlink_domain::{ExactAccountCode, ObjectType};

use crate::error::{MappingError, RecordRef};
use crate::outcome::{Outcome, SkipReason};

/// The Exact records for one VP employee. `contact.account` is left empty: the adapter creates the
/// account first and fills the contact's `Account` with the returned ID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExactEmployee {
    pub account: Account,
    pub contact: Contact,
}

/// Maps a VP employee to an Exact supplier account + contact.
///
/// Rows: Title Name → contact name (account `Name`; VP `Name`, else "First Last"); Employee code →
/// contact number (`HID`, only when the code is numeric, which Exact requires) and account number (`Code`,
/// right-aligned to 18, refused when longer); First/Last Name → `FirstName`/`LastName`; Email → `Email` on
/// both; Address 1–3, City, State, Zip, Country → the account's visit address (`AddressLine1-3`, `City`,
/// `State` (region), `Postcode`, `Country`); Work Phone → `Phone`; Mobile Phone → contact `Mobile`;
/// Status → contact status, expressed as `Blocked` on the account (inactive or terminated = blocked).
///
/// Employees without "Available To: Accounting Users" are skipped, not mapped.
pub fn employee_to_exact(employee: &Employee) -> Result<Outcome<ExactEmployee>, MappingError> {
    if !employee.available_to_accounting_users {
        return Ok(Outcome::Skipped(SkipReason::NotAvailableToAccountingUsers));
    }
    let record = RecordRef::new(ObjectType::Employee, &employee.employee);
    let name = contact_name(employee).ok_or_else(|| MappingError::Missing {
        record: record.clone(),
        field: "Name",
        why: "an Exact contact needs a name: VP has neither a name nor first/last name",
    })?;
    let code = ExactAccountCode::parse(&employee.employee).map_err(|source| {
        match employee.employee.trim().chars().count() {
            len if len > ExactAccountCode::WIDTH => MappingError::TooLong {
                record: record.clone(),
                field: "Employee",
                value: employee.employee.clone(),
                len,
                max: ExactAccountCode::WIDTH,
            },
            _ => MappingError::Parse {
                record: record.clone(),
                field: "Employee",
                source,
            },
        }
    })?;
    let blocked = employee.status != EmployeeStatus::Active;
    let account = Account {
        name: name.clone(),
        code: Some(code),
        is_supplier: Some(true),
        blocked: Some(blocked),
        email: employee.email.clone(),
        phone: employee.work_phone.clone(),
        address_line1: employee.address1.clone(),
        address_line2: employee.address2.clone(),
        address_line3: employee.address3.clone(),
        postcode: employee.zip.clone(),
        city: employee.city.clone(),
        state: employee.state.clone(),
        country: employee
            .country
            .as_ref()
            .map(|c| c.trim().to_ascii_uppercase()),
        ..Account::default()
    };
    // Exact needs a first or a last name on a contact; the display name stands in when VP has neither.
    let last_name = employee
        .last_name
        .clone()
        .or_else(|| employee.first_name.is_none().then(|| name.clone()));
    let contact = Contact {
        first_name: employee.first_name.clone(),
        last_name,
        email: employee.email.clone(),
        phone: employee.work_phone.clone(),
        mobile: employee.mobile_phone.clone(),
        hid: employee
            .employee
            .bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| employee.employee.clone()),
        ..Contact::default()
    };
    Ok(Outcome::Mapped(ExactEmployee { account, contact }))
}

fn contact_name(employee: &Employee) -> Option<String> {
    if let Some(name) = employee.name.as_deref().filter(|n| !n.trim().is_empty()) {
        return Some(name.trim().to_owned());
    }
    let parts: Vec<&str> = [
        employee.first_name.as_deref(),
        employee.last_name.as_deref(),
    ]
    .into_iter()
    .flatten()
    .collect();
    if parts.is_empty() {
        None
    } else {
        Some(parts.join(" "))
    }
}
