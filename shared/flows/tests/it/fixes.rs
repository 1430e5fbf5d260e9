//! Issue 14, "messages that say what to do": a document refused for a missing lookup row carries the fix
//! (table, key, columns) on its status; once the row is added, Force synchronize posts it and the fix is gone.

use std::collections::BTreeMap;

use ledgerlink_domain::{Flow, ObjectKey, ObjectType, SyncStatus};
use ledgerlink_emulators::vantagepoint::{InvoiceLineSeed, InvoiceSeed};
use ledgerlink_flows::discover;
use ledgerlink_ports::{Fix, LookupEntry, LookupTable, ObjectRef};
use rust_decimal::Decimal;

use crate::helpers::{World, invoice_key};

#[tokio::test]
async fn an_invoice_refused_for_a_missing_combined_tax_row_names_its_fix_and_syncs_once_the_row_is_added()
 {
    // Arrange: an invoice taxed V21 + ECO (23 %): Exact has no VAT code at that rate, so set-up proposes none.
    let world = World::spawn().await;
    let t = world.tenant_since("fixes", Some(world.started)).await;
    let posting = world
        .vp
        .post_invoice(&InvoiceSeed {
            invoice: "000000010890".into(),
            wbs1: world.demo.projects[0].clone(),
            wbs2: "01".into(),
            period: Some(world.demo.active_period),
            description: "Invoice with the environmental levy".into(),
            lines: vec![InvoiceLineSeed {
                section: "F".into(),
                description: "Fees".into(),
                account: "40100".into(),
                amount: Decimal::new(240_000, 2),
                tax_codes: vec!["V21".into(), "ECO".into()],
                wbs2: None,
                wbs3: None,
            }],
            ..InvoiceSeed::default()
        })
        .unwrap();
    let key = invoice_key("000000010890", &posting);
    world.tick();

    // Act 1: the invoice is discovered and refused.
    discover(&world.ctx, Flow::InvoiceOut, &t.id).await.unwrap();
    world.drain(Flow::InvoiceOut).await;
    let refused = world
        .status(&t.id, ObjectType::Invoice, &key)
        .await
        .unwrap();

    // Assert 1: Error, a message saying what to add where, and the same as a structured fix.
    assert_eq!(refused.status, SyncStatus::Error);
    let message = refused.last_message.clone().unwrap_or_default();
    assert!(
        message.contains(
            "add the row \"ECO+V21\" (VP tax codes joined by +) to the combined-tax-codes lookup table, filling exact_code"
        ),
        "{message}"
    );
    assert_eq!(
        refused.fix,
        Some(Fix::Lookup {
            table: LookupTable::CombinedTaxCodes,
            key: Some("ECO+V21".into()),
            key_label: "VP tax codes joined by +".into(),
            columns: vec!["exact_code".into()],
            values: BTreeMap::new(),
        })
    );

    // Act 2: the operator adds the row and force-synchronises the invoice.
    world
        .ctx
        .stores
        .lookups
        .put(
            &t.id,
            LookupTable::CombinedTaxCodes,
            &LookupEntry {
                key: "ECO+V21".into(),
                columns: BTreeMap::from([("exact_code".to_owned(), "2".to_owned())]),
                version: 0,
                updated_at: world.ctx.now(),
                updated_by: "operator".into(),
            },
            None,
        )
        .await
        .unwrap();
    let object = ObjectRef {
        tenant: t.id.clone(),
        object_type: ObjectType::Invoice,
        key: ObjectKey::parse(&key).unwrap(),
    };
    let results = ledgerlink_flows::operator::force_synchronize(&world.ctx, &[object], "operator")
        .await
        .unwrap();
    assert!(results[0].accepted, "{results:?}");
    world.drain(Flow::InvoiceOut).await;

    // Assert 2: posted, and the fix belongs to the failure it came with.
    let synced = world
        .status(&t.id, ObjectType::Invoice, &key)
        .await
        .unwrap();
    assert_eq!(
        synced.status,
        SyncStatus::Success,
        "{:?}",
        synced.last_message
    );
    assert_eq!(synced.fix, None);
}
