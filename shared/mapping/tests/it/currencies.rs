//! Table "Currencies", one test per row and direction.

use ledgerlink_domain::{exact, vantagepoint};
use ledgerlink_mapping::ledger_setup::{currency_from_exact, currency_to_exact};

use crate::support::eur;

#[test]
fn currencies_row_code_is_code_from_vantagepoint_to_exact() {
    let vp = vantagepoint::Currency {
        code: eur(),
        description: Some("Euro".into()),
    };
    assert_eq!(currency_to_exact(&vp).code.as_str(), "EUR");
}

#[test]
fn currencies_row_description_is_description_from_vantagepoint_to_exact() {
    let vp = vantagepoint::Currency {
        code: eur(),
        description: Some("Euro".into()),
    };
    assert_eq!(currency_to_exact(&vp).description.as_deref(), Some("Euro"));
}

#[test]
fn currencies_row_code_is_code_from_exact_to_vantagepoint() {
    let ex: exact::Currency =
        serde_json::from_str(r#"{"Code":"USD","Description":"US Dollar"}"#).unwrap();
    assert_eq!(currency_from_exact(&ex).code.as_str(), "USD");
}

#[test]
fn currencies_row_description_is_description_from_exact_to_vantagepoint() {
    let ex: exact::Currency =
        serde_json::from_str(r#"{"Code":"USD","Description":"US Dollar"}"#).unwrap();
    assert_eq!(
        currency_from_exact(&ex).description.as_deref(),
        Some("US Dollar")
    );
}
