//! The ledger port on Exact (`ExactLedger`) against the emulator.

use ledgerlink_domain::exact::{Account, GeneralJournalEntry};
use ledgerlink_emulators::exact::PaymentSpec;
use ledgerlink_exact::ExactLedger;
use ledgerlink_ports::ledger::{DocumentKind, Ledger, LedgerError, SalesDocumentKind};
use rust_decimal::Decimal;

use crate::helpers::{purchase_entry, sales_entry, spawn};

fn account(code: &str, name: &str) -> Account {
    serde_json::from_value(
        serde_json::json!({"Name": name, "Code": code, "SearchCode": code, "Status": "C"}),
    )
    .unwrap()
}

#[tokio::test]
async fn an_account_is_created_then_updated_by_its_id_and_its_code_is_never_changed() {
    let env = spawn().await;
    let ledger = ExactLedger::new(env.connect().await);

    let created = ledger
        .create_account(&account("CL-42", "Client 42"))
        .await
        .unwrap();
    let id = created.id.unwrap().to_string();
    // VP renumbered the firm: the update carries another code, which must not renumber the account.
    let updated = ledger
        .update_account(&id, &account("000006", "Client 42 renamed"))
        .await
        .unwrap();
    let read = ledger.account(&id).await.unwrap().unwrap();
    let missing = ledger
        .update_account(&uuid::Uuid::new_v4().to_string(), &account("X", "Nobody"))
        .await;

    assert_eq!(created.code.as_ref().map(|c| c.as_str()), Some("CL-42"));
    assert!(
        created.modified.is_some(),
        "the version comes back with the create"
    );
    assert_eq!(updated.id, created.id);
    assert_eq!(updated.name, "Client 42 renamed");
    assert_eq!(updated.search_code.as_deref(), Some("000006"));
    assert_eq!(updated.code.as_ref().map(|c| c.as_str()), Some("CL-42"));
    assert!(updated.modified >= created.modified);
    assert_eq!(read, updated);
    assert!(
        matches!(missing, Err(LedgerError::NotFound { .. })),
        "{missing:?}"
    );
    assert_eq!(
        ledger
            .find_account("CL-42")
            .await
            .unwrap()
            .and_then(|a| a.id),
        created.id
    );
    assert_eq!(ledger.find_account("000006").await.unwrap(), None);
    let url = ledger.account_url(&id).unwrap();
    assert!(
        url.contains("CRMAccountCard.aspx") && url.contains(&id),
        "{url}"
    );
}

#[tokio::test]
async fn an_account_without_a_code_is_numbered_by_exact() {
    let env = spawn().await;
    let ledger = ExactLedger::new(env.connect().await);
    let mut body = account("ignored", "Vendor Without Code");
    body.code = None;
    body.search_code = Some("000005".into());

    let created = ledger.create_account(&body).await.unwrap();

    let code = created
        .code
        .map(|c| c.as_str().to_owned())
        .unwrap_or_default();
    assert!(!code.is_empty(), "Exact gave it a code");
    assert_eq!(created.search_code.as_deref(), Some("000005"));
}

#[tokio::test]
async fn an_invoice_posted_twice_with_lookup_exists_once() {
    let env = spawn().await;
    let ledger = ExactLedger::new(env.connect().await);
    let books = env.books();
    let invoice = sales_entry(&books, "INV-200", "100.00");

    let first = ledger
        .post_sales_document(SalesDocumentKind::Invoice, &invoice, false)
        .await
        .unwrap();
    let again = ledger
        .post_sales_document(SalesDocumentKind::Invoice, &invoice, true)
        .await
        .unwrap();

    assert!(first.created && !again.created);
    assert_eq!(first.target_id, again.target_id);
    assert_eq!(
        env.emulator
            .count_sales_entries_with_your_ref(env.division(), "INV-200"),
        1
    );
    assert_eq!(
        ledger
            .find_document(DocumentKind::Sales, "INV-200")
            .await
            .unwrap(),
        Some(first.target_id)
    );
}

#[tokio::test]
async fn a_credit_note_mapped_with_positive_amounts_is_booked_as_a_negative_sales_entry() {
    let env = spawn().await;
    let ledger = ExactLedger::new(env.connect().await);
    let books = env.books();

    let posted = ledger
        .post_sales_document(
            SalesDocumentKind::CreditNote,
            &sales_entry(&books, "CM-1", "40.00"),
            true,
        )
        .await
        .unwrap();

    let stored = ledger
        .client()
        .sales_entry(posted.target_id.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(
        stored.amount_fc.unwrap() < Decimal::ZERO,
        "booked negative: {:?}",
        stored.amount_fc
    );
    assert_eq!(stored.entry_type, Some(21), "a sales credit note");
}

#[tokio::test]
async fn a_purchase_document_is_posted_once_by_its_reference() {
    let env = spawn().await;
    let ledger = ExactLedger::new(env.connect().await);
    let books = env.books();
    let voucher = purchase_entry(&books, "V-0001", "60.00");

    let first = ledger.post_purchase_document(&voucher, true).await.unwrap();
    let again = ledger.post_purchase_document(&voucher, true).await.unwrap();

    assert!(first.created && !again.created);
    assert_eq!(
        env.emulator
            .count_purchase_entries_with_your_ref(env.division(), "V-0001"),
        1
    );
}

#[tokio::test]
async fn a_journal_is_posted_once_under_our_reference_kept_in_the_line_notes() {
    journal_posted_once(spawn().await).await;
}

#[tokio::test]
async fn a_journal_is_posted_once_even_where_exact_refuses_to_filter_line_notes() {
    let env = crate::helpers::spawn_with(|c| c.line_notes_filterable = false).await;
    journal_posted_once(env).await;
}

async fn journal_posted_once(env: crate::helpers::TestEnv) {
    let ledger = ExactLedger::new(env.connect().await);
    let books = env.books();
    let journal: GeneralJournalEntry = serde_json::from_value(serde_json::json!({
        "JournalCode": "90",
        "GeneralJournalEntryLines": [
            {"GLAccount": books.expense, "AmountFC": "125.00", "Description": "Revenue generation"},
            {"GLAccount": books.revenue, "AmountFC": "-125.00", "Description": "Revenue generation"}
        ]
    }))
    .unwrap();

    let first = ledger
        .post_journal("JE-2026-06-1", &journal, true)
        .await
        .unwrap();
    let again = ledger
        .post_journal("JE-2026-06-1", &journal, true)
        .await
        .unwrap();

    assert!(first.created && !again.created);
    assert_eq!(first.target_id, again.target_id);
    assert_eq!(
        ledger
            .find_document(DocumentKind::Journal, "JE-2026-06-1")
            .await
            .unwrap(),
        Some(first.target_id)
    );
    assert_eq!(
        ledger
            .find_document(DocumentKind::Journal, "JE-OTHER")
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn a_receipt_registered_in_exact_is_read_since_the_cursor_once() {
    // Arrange: an invoice, then its payment in Exact.
    let env = spawn().await;
    let ledger = ExactLedger::new(env.connect().await);
    let books = env.books();
    let start = ledger.payments_since(None).await.unwrap();
    let posted = ledger
        .post_sales_document(
            SalesDocumentKind::Invoice,
            &sales_entry(&books, "INV-300", "100.00"),
            true,
        )
        .await
        .unwrap();
    env.emulator
        .register_payment(PaymentSpec {
            division: env.division(),
            entry_id: posted.target_id.clone(),
            amount: None,
            date: None,
            employee: false,
        })
        .unwrap();

    // Act
    let batch = ledger
        .payments_since(Some(&start.next_cursor))
        .await
        .unwrap();
    let after = ledger
        .payments_since(Some(&batch.next_cursor))
        .await
        .unwrap();

    // Assert
    assert!(
        batch
            .items
            .iter()
            .any(|t| t.your_ref.as_deref() == Some("INV-300")),
        "the receipt of INV-300 is in the batch: {:?}",
        batch.items
    );
    assert!(batch.next_cursor.parse::<i64>().unwrap() > start.next_cursor.parse::<i64>().unwrap());
    assert!(after.items.is_empty(), "nothing new after the cursor");
}

#[tokio::test]
async fn a_deletion_in_exact_is_read_since_the_cursor() {
    let env = spawn().await;
    let ledger = ExactLedger::new(env.connect().await);
    let start = ledger.deletions_since(None).await.unwrap();
    let id = env
        .emulator
        .seed(
            env.division(),
            "crm/Accounts",
            serde_json::json!({"Name": "Gone BV", "Code": "8888"}),
        )
        .unwrap();
    env.emulator
        .delete(env.division(), "crm/Accounts", &id)
        .unwrap();

    let batch = ledger
        .deletions_since(Some(&start.next_cursor))
        .await
        .unwrap();

    assert!(
        batch
            .items
            .iter()
            .any(|d| d.key == id && d.entity == "Accounts"),
        "got {:?}",
        batch.items
    );
}

#[tokio::test]
async fn lookup_lists_come_from_the_division_template() {
    let env = spawn().await;
    let ledger = ExactLedger::new(env.connect().await);

    let gl = ledger.gl_accounts().await.unwrap();
    let vat = ledger.tax_codes().await.unwrap();
    let currencies = ledger.currencies().await.unwrap();

    assert!(gl.iter().any(|a| a.code.trim() == "8000"));
    assert!(vat.iter().any(|v| v.code.as_str() == "2"));
    assert!(currencies.iter().any(|c| c.code.as_str() == "EUR"));
}

#[tokio::test]
async fn a_sales_document_without_our_reference_is_a_validation_error_before_any_call() {
    let env = spawn().await;
    let ledger = ExactLedger::new(env.connect().await);
    let books = env.books();
    let mut entry = sales_entry(&books, "x", "1.00");
    entry.your_ref = None;
    let posts_before = env.requests("POST /api/v1/{division}");

    let result = ledger
        .post_sales_document(SalesDocumentKind::Invoice, &entry, true)
        .await;

    assert!(
        matches!(result, Err(LedgerError::Validation { .. })),
        "got {result:?}"
    );
    assert_eq!(env.requests("POST /api/v1/{division}"), posts_before);
}

#[tokio::test]
async fn an_address_and_a_contact_are_upserted_once_per_account() {
    let env = spawn().await;
    let ledger = ExactLedger::new(env.connect().await);
    let books = env.books();
    let address: ledgerlink_domain::exact::Address = serde_json::from_value(serde_json::json!({
        "Account": books.customer, "Type": 3, "AddressLine1": "Stationsplein 1", "City": "Utrecht", "Country": "NL"
    }))
    .unwrap();
    let contact: ledgerlink_domain::exact::Contact = serde_json::from_value(serde_json::json!({
        "Account": books.supplier, "FirstName": "Ada", "LastName": "Lovelace", "Email": "ada@example.com"
    }))
    .unwrap();

    let a1 = ledger.upsert_address(&address).await.unwrap();
    let a2 = ledger.upsert_address(&address).await.unwrap();
    let c1 = ledger.upsert_contact(&contact).await.unwrap();
    let c2 = ledger.upsert_contact(&contact).await.unwrap();

    assert!(a1.created && !a2.created && a1.target_id == a2.target_id);
    assert!(c1.created && !c2.created && c1.target_id == c2.target_id);
    let contacts = env
        .emulator
        .count_where(
            env.division(),
            "crm/Contacts",
            "LastName",
            &serde_json::json!("Lovelace"),
        )
        .unwrap();
    assert_eq!(contacts, 1);
}

#[tokio::test]
async fn two_documents_under_one_reference_are_a_conflict_not_a_third_post() {
    let env = spawn().await;
    let ledger = ExactLedger::new(env.connect().await);
    let books = env.books();
    let invoice = sales_entry(&books, "INV-DUP", "10.00");
    ledger.client().create_sales_entry(&invoice).await.unwrap();
    ledger.client().create_sales_entry(&invoice).await.unwrap();

    let result = ledger
        .post_sales_document(SalesDocumentKind::Invoice, &invoice, true)
        .await;

    assert!(
        matches!(result, Err(LedgerError::Conflict { .. })),
        "got {result:?}"
    );
    assert_eq!(
        env.emulator
            .count_sales_entries_with_your_ref(env.division(), "INV-DUP"),
        2
    );
}

#[tokio::test]
async fn invoices_and_receipts_at_month_ends_and_clock_changes_carry_the_dutch_dates() {
    // (moment the invoice is booked and paid, the invoice date in VP, the Dutch date of the payment)
    for (instant, invoice_day, paid_on) in [
        // 00:30 CEST on 1 June: still 31 May in UTC.
        ("2026-05-31T22:30:00Z", "2026-05-31", "2026-06-01"),
        // 00:30 CET on 1 February (winter).
        ("2026-01-31T23:30:00Z", "2026-01-31", "2026-02-01"),
        // The night of the spring change (29 March 2026) and of the autumn change (25 October 2026).
        ("2026-03-28T23:30:00Z", "2026-03-28", "2026-03-29"),
        ("2026-10-24T22:30:00Z", "2026-10-24", "2026-10-25"),
        // 00:30 CET on 1 November, a week after the autumn change.
        ("2026-10-31T23:30:00Z", "2026-10-31", "2026-11-01"),
    ] {
        let env = spawn().await;
        env.clock.set(
            chrono::DateTime::parse_from_rfc3339(instant)
                .unwrap()
                .with_timezone(&chrono::Utc),
        );
        let ledger = ExactLedger::new(env.connect().await);
        let books = env.books();
        let day = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let start = ledger.payments_since(None).await.unwrap();
        let mut invoice = sales_entry(&books, "INV-CET", "100.00");
        invoice.entry_date = day(invoice_day);
        let posted = ledger
            .post_sales_document(SalesDocumentKind::Invoice, &invoice, false)
            .await
            .unwrap();

        // The invoice is booked on its own date and period in Exact, not on the UTC neighbour.
        let stored = env
            .emulator
            .entity(env.division(), "salesentry/SalesEntries", &posted.target_id)
            .unwrap()
            .unwrap();
        let midnight = day(invoice_day)
            .and_hms_opt(0, 0, 0)
            .unwrap()
            .and_utc()
            .timestamp_millis();
        assert_eq!(
            stored["EntryDate"],
            format!("/Date({midnight})/"),
            "{instant}"
        );
        assert_eq!(
            stored["ReportingPeriod"],
            serde_json::json!(chrono::Datelike::month(&day(invoice_day))),
            "{instant}"
        );

        env.emulator
            .register_payment(PaymentSpec {
                division: env.division(),
                entry_id: posted.target_id.clone(),
                amount: None,
                date: None,
                employee: false,
            })
            .unwrap();
        let batch = ledger
            .payments_since(Some(&start.next_cursor))
            .await
            .unwrap();
        let invoice_id: uuid::Uuid = posted.target_id.parse().unwrap();
        let receipt = batch
            .items
            .iter()
            .find(|t| t.transaction_entry_id == Some(invoice_id) && t.entry_id != Some(invoice_id))
            .unwrap_or_else(|| panic!("the receipt is in the batch: {:?}", batch.items));
        assert_eq!(receipt.entry_date, Some(day(paid_on)), "{instant}");
        let term = batch
            .items
            .iter()
            .find(|t| t.entry_id == Some(invoice_id))
            .unwrap();
        assert_eq!(term.entry_date, Some(day(invoice_day)), "{instant}");
    }
}

#[tokio::test]
async fn the_feed_reset_marker_is_the_division_move_date_and_changes_when_exact_moves_the_division()
{
    // Arrange
    let env = spawn().await;
    let ledger = ExactLedger::new(env.connect().await);
    assert_eq!(
        ledger.sync_reset_marker().await.unwrap(),
        None,
        "never moved"
    );

    // Act
    env.emulator.move_division(env.division()).unwrap();
    let first = ledger.sync_reset_marker().await.unwrap();
    env.clock.advance(std::time::Duration::from_secs(86_400));
    env.emulator.move_division(env.division()).unwrap();
    let second = ledger.sync_reset_marker().await.unwrap();

    // Assert: a `/Date(ms)/` value that differs per move.
    let first = first.expect("the move date after a move");
    assert!(first.starts_with("/Date("), "{first}");
    assert_ne!(Some(first), second);
}
