//! Paging: hub lists with `limit`/`offset`, ledger reads with `q.maxrows`/`offset`, across many pages.

use chrono::{DateTime, Utc};
use ledgerlink_emulators::vantagepoint::{InvoiceLineSeed, InvoiceSeed};
use ledgerlink_ports::psa::{FirmRole, TimeWindow};
use ledgerlink_vantagepoint::VantagepointClient;
use rust_decimal_macros::dec;

use crate::helpers::spawn;

fn whole_day() -> TimeWindow {
    let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
    TimeWindow::new(at("2026-06-15T00:00:00Z"), at("2026-06-16T00:00:00Z"))
}

#[tokio::test]
async fn small_pages_return_the_same_records_as_one_big_page() {
    let vp = spawn().await;
    for i in 0..7 {
        vp.emulator
            .post_invoice(&InvoiceSeed {
                invoice: format!("PG-{i:03}"),
                wbs1: vp.demo.projects[0].clone(),
                lines: vec![InvoiceLineSeed {
                    section: "F".into(),
                    account: "40100".into(),
                    amount: dec!(10.00),
                    tax_codes: vec!["V21".into()],
                    ..InvoiceLineSeed::default()
                }],
                ..InvoiceSeed::default()
            })
            .unwrap();
    }
    let mut config = vp.config();
    config.page_size = 2;
    config.ledger_max_rows = 3;
    let small = VantagepointClient::new(config, vp.tokens.clone(), vp.clock.shared()).unwrap();
    vp.emulator.counters().reset();

    let firms_small = small
        .changed_firms(whole_day(), FirmRole::Any)
        .await
        .unwrap();
    let docs_small = small.posted_ar_documents(whole_day()).await.unwrap();
    let ledger_reads = vp.emulator.counters().count_matching("PSALedger");
    let firms_big = vp
        .client
        .changed_firms(whole_day(), FirmRole::Any)
        .await
        .unwrap();
    let docs_big = vp.client.posted_ar_documents(whole_day()).await.unwrap();

    assert_eq!(firms_small.len(), 8);
    assert_eq!(firms_small, firms_big);
    let mut a: Vec<String> = docs_small.iter().map(|d| d.external_key()).collect();
    let mut b: Vec<String> = docs_big.iter().map(|d| d.external_key()).collect();
    a.sort();
    b.sort();
    assert_eq!(a, b);
    assert!(a.iter().filter(|k| k.starts_with("PG-")).count() == 7);
    assert!(
        ledger_reads > 10,
        "the small client paged ({ledger_reads} ledger reads)"
    );
}
