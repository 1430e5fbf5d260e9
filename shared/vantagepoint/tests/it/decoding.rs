//! Tolerant decoding against the emulator's quirk modes: wrapped envelopes and numbers as strings.

use chrono::{DateTime, Utc};
use ledgerlink_emulators::vantagepoint::{Envelope, VantagepointConfig as EmulatorConfig};
use ledgerlink_ports::psa::{FirmRole, PostedArDocument, TimeWindow};
use rust_decimal::Decimal;

use crate::helpers::spawn_with;

fn quirky(key: &str) -> EmulatorConfig {
    EmulatorConfig {
        envelope: Envelope::Wrapped { key: key.into() },
        numbers_as_strings: true,
        ..EmulatorConfig::default()
    }
}

fn day() -> TimeWindow {
    let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
    TimeWindow::new(at("2026-06-15T00:00:00Z"), at("2026-06-16T00:00:00Z"))
}

#[tokio::test]
async fn wrapped_answers_with_numbers_as_strings_decode_like_bare_arrays() {
    for key in ["Body", "rows", "array"] {
        let vp = spawn_with(quirky(key)).await;

        let accounts = vp.client.accounts().await.unwrap();
        let taxes = vp.client.tax_codes().await.unwrap();
        let periods = vp.client.periods().await.unwrap();

        assert!(
            accounts.iter().any(|a| a.account == "40100"),
            "{key}: float-looking account numbers are canonical"
        );
        let v21 = taxes.iter().find(|t| t.code == "V21").unwrap();
        assert_eq!(v21.rate, Decimal::from(21), "{key}");
        assert_eq!(periods.len(), 12, "{key}");
    }
}

#[tokio::test]
async fn y_n_flags_and_string_amounts_decode_in_firms_and_posted_invoices() {
    let vp = spawn_with(quirky("Body")).await;

    let clients = vp
        .client
        .changed_firms(day(), FirmRole::Client)
        .await
        .unwrap();
    let docs = vp.client.posted_ar_documents(day()).await.unwrap();

    assert!(!clients.is_empty());
    assert!(
        clients.iter().all(|f| f.client_ind),
        "ClientInd 'Y' decodes as true and filters"
    );
    assert!(
        clients.iter().all(|f| !f.addresses.is_empty()),
        "addresses are fetched per firm"
    );
    assert!(!docs.is_empty());
    let total: Decimal = docs
        .iter()
        .filter_map(|d| match d {
            PostedArDocument::Invoice(i) => Some(i.lines.iter().map(|l| l.amount).sum::<Decimal>()),
            PostedArDocument::CreditMemo(_) => None,
        })
        .sum();
    assert!(
        total > Decimal::ZERO,
        "amounts sent as strings are summed as decimals"
    );
}
