//! Issue 20 items 2–3: the booked lines (`financialtransaction/TransactionLines`, `sync/Financial/TransactionLines`,
//! `read/sync/Sync/SyncTimestamp`) and bank entries posted as a bookkeeper's software does
//! (`financialtransaction/BankEntries` with lines inline, `BankEntryLines`), settling invoices.

use rust_decimal::Decimal;
use serde_json::{Value, json};

use ledgerlink_emulators::exact::PaymentSpec;

use crate::helpers::{DIVISION, Env, error_message, spawn};

async fn rows(env: &Env, path: &str) -> Vec<Value> {
    let (status, body) = env.get_json(path).await;
    assert_eq!(status, 200, "{path}: {body}");
    body["d"]["results"].as_array().unwrap().clone()
}

/// A sales entry of 100 + 21% VAT for a new customer; returns (customer, EntryID, InvoiceNumber).
async fn invoice(env: &Env, your_ref: &str, amount: &str) -> (String, String, i64) {
    let customer = env.customer(&format!("Customer {your_ref}"));
    let (status, body) = env
        .post_json(
            "salesentry/SalesEntries",
            env.sales_entry_body(&customer, your_ref, amount),
            true,
        )
        .await;
    assert_eq!(status, 201, "{body}");
    (
        customer,
        body["d"]["EntryID"].as_str().unwrap().to_owned(),
        body["d"]["InvoiceNumber"].as_i64().unwrap(),
    )
}

const TL_SELECT: &str = "ID,EntryID,LineNumber,GLAccountCode,AmountDC,AmountVATFC,Type,JournalCode,InvoiceNumber,AccountName,Timestamp";

fn amount(v: &Value) -> Decimal {
    v.to_string().parse().unwrap()
}

#[tokio::test]
async fn sync_transaction_lines_carry_header_and_lines_of_every_entry_and_follow_the_cursor() {
    let env = spawn().await;
    let (_, entry, number) = invoice(&env, "TL-1", "100").await;
    let synced = rows(
        &env,
        &format!("sync/Financial/TransactionLines?$select={TL_SELECT}&$filter=Timestamp gt 1L"),
    )
    .await;
    assert_eq!(synced.len(), 2, "{synced:?}");
    let head = synced.iter().find(|r| r["LineNumber"] == 0).unwrap();
    let line = synced.iter().find(|r| r["LineNumber"] == 1).unwrap();
    assert_eq!(head["EntryID"], entry.as_str());
    assert_eq!(
        head["GLAccountCode"], "1300",
        "the receivable on the AR account"
    );
    assert_eq!(amount(&head["AmountDC"]), Decimal::new(121, 0));
    assert_eq!(head["Type"], 20);
    assert_eq!(head["InvoiceNumber"], number);
    assert_eq!(head["AccountName"], "Customer TL-1");
    assert_eq!(line["GLAccountCode"], "8000");
    assert_eq!(amount(&line["AmountDC"]), Decimal::new(-100, 0));
    assert_eq!(amount(&line["AmountVATFC"]), Decimal::new(-21, 0));
    assert!(
        head["__metadata"]["uri"]
            .as_str()
            .unwrap()
            .ends_with(&format!(
                "/sync/Financial/TransactionLines({}L)",
                head["Timestamp"]
            ))
    );
    let cursor = synced
        .iter()
        .map(|r| r["Timestamp"].as_i64().unwrap())
        .max()
        .unwrap();

    // A payment adds the bank entry's rows, and only those lie past the cursor.
    env.emu
        .register_payment(PaymentSpec {
            division: DIVISION,
            entry_id: entry.clone(),
            amount: None,
            date: None,
            employee: false,
        })
        .unwrap();
    let new = rows(
        &env,
        &format!(
            "sync/Financial/TransactionLines?$select={TL_SELECT}&$filter=Timestamp gt {cursor}L"
        ),
    )
    .await;
    assert_eq!(new.len(), 2, "{new:?}");
    let bank = new.iter().find(|r| r["LineNumber"] == 0).unwrap();
    let offset = new.iter().find(|r| r["LineNumber"] == 1).unwrap();
    assert_eq!(bank["Type"], 40);
    assert_eq!(bank["JournalCode"], "20");
    assert_eq!(bank["GLAccountCode"], "1100");
    assert_eq!(amount(&bank["AmountDC"]), Decimal::new(121, 0));
    assert_eq!(
        offset["GLAccountCode"], "1300",
        "the bank line books against the receivables account"
    );
    assert_eq!(amount(&offset["AmountDC"]), Decimal::new(-121, 0));
    assert_eq!(offset["InvoiceNumber"], number);

    // The regular endpoint reads the same lines, keyed by ID.
    let all = rows(&env, "financialtransaction/TransactionLines").await;
    assert_eq!(all.len(), 4);
    assert!(
        all[0]["__metadata"]["uri"]
            .as_str()
            .unwrap()
            .contains("/financialtransaction/TransactionLines(guid'")
    );
    // Sync rules: $select needed, only Timestamp in $filter, no $skip.
    let (status, _) = env
        .get_json("sync/Financial/TransactionLines?$filter=Timestamp gt 1L")
        .await;
    assert_eq!(status, 400);
    let (status, body) = env
        .get_json("sync/Financial/TransactionLines?$select=ID&$filter=Timestamp gt 1L&$skip=1")
        .await;
    assert_eq!(status, 400);
    assert!(error_message(&body).contains("$skip"), "{body}");
}

#[tokio::test]
async fn a_division_move_renumbers_the_transaction_lines_too() {
    let env = spawn().await;
    invoice(&env, "TL-MOVE", "10").await;
    let before = rows(
        &env,
        "sync/Financial/TransactionLines?$select=ID,Timestamp&$filter=Timestamp gt 1L",
    )
    .await;
    let cursor = before
        .iter()
        .map(|r| r["Timestamp"].as_i64().unwrap())
        .max()
        .unwrap();
    env.emu.move_division(DIVISION).unwrap();
    let stale = rows(
        &env,
        &format!(
            "sync/Financial/TransactionLines?$select=ID,Timestamp&$filter=Timestamp gt {cursor}L"
        ),
    )
    .await;
    assert!(stale.is_empty());
    let again = rows(
        &env,
        "sync/Financial/TransactionLines?$select=ID,Timestamp&$filter=Timestamp gt 1L",
    )
    .await;
    assert_eq!(again.len(), before.len());
}

#[tokio::test]
async fn sync_timestamp_gives_the_first_timestamp_modified_on_or_after_a_date() {
    let mut env = spawn().await;
    invoice(&env, "TS-OLD", "10").await;
    env.advance(3 * 86_400);
    env.renew_token();
    let (_, later, _) = invoice(&env, "TS-NEW", "20").await;
    let new_rows: Vec<Value> = rows(
        &env,
        "sync/Financial/TransactionLines?$select=EntryID,Timestamp&$filter=Timestamp gt 1L",
    )
    .await
    .into_iter()
    .filter(|r| r["EntryID"] == later.as_str())
    .collect();
    let first_new = new_rows
        .iter()
        .map(|r| r["Timestamp"].as_i64().unwrap())
        .min()
        .unwrap();
    // The clock starts on 2026-06-15; three days later is the 18th.
    let found = rows(
        &env,
        "read/sync/Sync/SyncTimestamp?modified=datetime'2026-06-17T00:00:00'&endPoint='TransactionLines'",
    )
    .await;
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["TimeStampAsBigInt"], first_new);
    assert_eq!(found[0]["API"], "TransactionLines");
    assert!(found[0]["Modified"].as_str().unwrap().starts_with("/Date("));
    // Nothing modified after the last change: no row.
    let none = rows(
        &env,
        "read/sync/Sync/SyncTimestamp?modified=datetime'2030-01-01'&endPoint='TransactionLines'",
    )
    .await;
    assert!(none.is_empty());
    // Every parameter is required; unknown endpoints are refused.
    for path in [
        "read/sync/Sync/SyncTimestamp?endPoint='TransactionLines'",
        "read/sync/Sync/SyncTimestamp?modified=datetime'2026-01-01'",
        "read/sync/Sync/SyncTimestamp?modified=datetime'2026-01-01'&endPoint='Accounts'",
    ] {
        let (status, body) = env.get_json(path).await;
        assert_eq!(status, 400, "{path}: {body}");
    }
}

#[tokio::test]
async fn a_bank_entry_on_the_receivables_account_naming_the_invoice_pays_it() {
    let env = spawn().await;
    let (customer, entry, number) = invoice(&env, "BANK-1", "100").await;
    let (_, other_entry, _) = invoice(&env, "BANK-2", "50").await;
    let (status, body) = env
        .post_json(
            "financialtransaction/BankEntries",
            json!({"JournalCode": "20", "OpeningBalanceFC": 1000, "ClosingBalanceFC": 1121,
                   "BankEntryLines": [{"GLAccount": env.gl("1300"), "AmountFC": 121, "Account": customer,
                                       "OurRef": number, "Date": "2026-05-20T10:00:00", "Description": "Receipt BANK-1"}]}),
            true,
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let bank_id = body["d"]["EntryID"].as_str().unwrap().to_owned();
    assert_eq!(body["d"]["Currency"], "EUR");
    assert_eq!(body["d"]["FinancialPeriod"], 5);
    let lines = body["d"]["BankEntryLines"]["results"].as_array().unwrap();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["LineNumber"], 1);
    assert_eq!(lines[0]["GLAccountCode"], "1300");

    // The invoice is paid: gone from the open receivables, a LineType 20 payment term, the open item processed.
    let list = rows(&env, "read/financial/ReceivablesList").await;
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["Id"], other_entry.as_str());
    let (_, open) = env
        .get_json(&format!(
            "cashflow/Receivables?$filter=EntryID eq guid'{entry}'"
        ))
        .await;
    assert_eq!(open["d"]["results"][0]["IsFullyPaid"], true);
    let terms = rows(
        &env,
        "sync/Cashflow/PaymentTerms?$select=ID,EntryID,TransactionEntryID,LineType,AmountDC,Timestamp&$filter=Timestamp gt 1L",
    )
    .await;
    let payment = terms
        .iter()
        .find(|t| t["EntryID"] == bank_id.as_str())
        .expect("the payment's term");
    assert_eq!(payment["TransactionEntryID"], entry.as_str());
    assert_eq!(payment["LineType"], 20);
    assert_eq!(amount(&payment["AmountDC"]), Decimal::new(-121, 0));

    // Deleting the bank entry opens the invoice again.
    let r = env
        .api(
            reqwest::Method::DELETE,
            &format!("financialtransaction/BankEntries(guid'{bank_id}')"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    let list = rows(&env, "read/financial/ReceivablesList").await;
    assert_eq!(list.len(), 2, "{list:?}");
    let (_, deleted) = env
        .get_json("sync/Deleted?$select=EntityKey,EntityType,Timestamp&$filter=Timestamp gt 1L")
        .await;
    let keys: Vec<&Value> = deleted["d"]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["EntityKey"])
        .collect();
    assert!(keys.contains(&&json!(bank_id)), "{keys:?}");
    assert!(keys.contains(&&payment["ID"]), "{keys:?}");
}

#[tokio::test]
async fn a_supplier_payment_is_money_out_on_the_payables_account_and_may_be_partial() {
    let env = spawn().await;
    let supplier = env.supplier("Bank Supplier");
    let (status, purchase) = env
        .post_json(
            "purchaseentry/PurchaseEntries",
            json!({"Journal": "60", "Supplier": supplier, "YourRef": "SUP-1",
                   "PurchaseEntryLines": [{"GLAccount": env.gl("4000"), "AmountFC": 100, "VATCode": "0  "}]}),
            true,
        )
        .await;
    assert_eq!(status, 201, "{purchase}");
    let number = purchase["d"]["InvoiceNumber"].as_i64().unwrap();
    let entry = purchase["d"]["EntryID"].as_str().unwrap().to_owned();
    let (status, body) = env
        .post_json(
            "financialtransaction/BankEntries",
            json!({"JournalCode": "20", "BankEntryLines": [
                {"GLAccount": env.gl("1600"), "AmountFC": -40, "Account": supplier, "OurRef": number}]}),
            false,
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (_, open) = env
        .get_json(&format!(
            "cashflow/Payments?$filter=EntryID eq guid'{entry}'"
        ))
        .await;
    assert_eq!(open["d"]["results"][0]["Status"], 20);
    let payments = rows(
        &env,
        &format!("cashflow/Payments?$filter=TransactionEntryID eq guid'{entry}'"),
    )
    .await;
    let paid: Decimal = payments
        .iter()
        .filter(|p| p["EntryID"] != entry.as_str())
        .map(|p| amount(&p["AmountDC"]))
        .sum();
    assert_eq!(paid, Decimal::new(-40, 0));
    // The rest (60) can be paid, not more.
    let (status, body) = env
        .post_json(
            "financialtransaction/BankEntries",
            json!({"JournalCode": "20", "BankEntryLines": [
                {"GLAccount": env.gl("1600"), "AmountFC": -61, "Account": supplier, "OurRef": number}]}),
            false,
        )
        .await;
    assert_eq!(status, 500, "{body}");
    assert!(
        error_message(&body).starts_with("Invalid: AmountFC -61"),
        "{body}"
    );
    let (status, body) = env
        .post_json(
            "financialtransaction/BankEntries",
            json!({"JournalCode": "20", "BankEntryLines": [
                {"GLAccount": env.gl("1600"), "AmountFC": -60, "Account": supplier, "OurRef": number}]}),
            false,
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (_, open) = env
        .get_json(&format!(
            "cashflow/Payments?$filter=EntryID eq guid'{entry}'"
        ))
        .await;
    assert_eq!(open["d"]["results"][0]["Status"], 50);
}

#[tokio::test]
async fn bank_entries_are_validated_as_the_reference_lists() {
    let env = spawn().await;
    let (customer, _, number) = invoice(&env, "BANK-V", "100").await;
    let cases = [
        (
            json!({}),
            "Mandatory: JournalCode\r\nMandatory: BankEntryLines",
        ),
        (
            json!({"JournalCode": "70", "BankEntryLines": [{"GLAccount": env.gl("1100"), "AmountFC": 1}]}),
            "Invalid: JournalCode",
        ),
        (
            json!({"JournalCode": "20", "BankEntryLines": [{"Description": "no account, no amount"}]}),
            "Mandatory: GLAccount\r\nMandatory: AmountFC",
        ),
        (
            json!({"JournalCode": "20", "OpeningBalanceFC": 10, "ClosingBalanceFC": 20,
                   "BankEntryLines": [{"GLAccount": env.gl("4000"), "AmountFC": 5}]}),
            "Invalid: ClosingBalanceFC (opening balance 10 plus all bank entry lines 5 should result in the closing balance, not 20)",
        ),
        (
            json!({"JournalCode": "20", "BankEntryLines": [
                {"GLAccount": env.gl("1300"), "AmountFC": 200, "Account": customer, "OurRef": number}]}),
            "Invalid: AmountFC 200 (open amount of the invoice: 121)",
        ),
    ];
    for (body, message) in cases {
        let (status, answer) = env
            .post_json("financialtransaction/BankEntries", body.clone(), false)
            .await;
        assert_eq!(status, 500, "{body}: {answer}");
        assert_eq!(error_message(&answer), message, "{body}");
    }
    // Two lines paying the same invoice are checked together.
    let (status, answer) = env
        .post_json(
            "financialtransaction/BankEntries",
            json!({"JournalCode": "20", "BankEntryLines": [
                {"GLAccount": env.gl("1300"), "AmountFC": 100, "Account": customer, "OurRef": number},
                {"GLAccount": env.gl("1300"), "AmountFC": 100, "Account": customer, "OurRef": number}]}),
            false,
        )
        .await;
    assert_eq!(status, 500, "{answer}");
    // An opening balance alone gives the closing balance; a line without an invoice is booked unmatched.
    let (status, answer) = env
        .post_json(
            "financialtransaction/BankEntries",
            json!({"JournalCode": "20", "OpeningBalanceFC": 10,
                   "BankEntryLines": [{"GLAccount": env.gl("4000"), "AmountFC": -2.5}]}),
            true,
        )
        .await;
    assert_eq!(status, 201, "{answer}");
    assert_eq!(
        amount(&answer["d"]["ClosingBalanceFC"]),
        Decimal::new(75, 1)
    );
    assert_eq!(rows(&env, "read/financial/ReceivablesList").await.len(), 1);
}

#[tokio::test]
async fn a_bank_entry_line_posted_on_its_own_joins_its_entry_and_settles_its_invoice() {
    let env = spawn().await;
    let (customer, _, number) = invoice(&env, "LINE-1", "100").await;
    let (status, body) = env
        .post_json(
            "financialtransaction/BankEntries",
            json!({"JournalCode": "20", "OpeningBalanceFC": 0,
                   "BankEntryLines": [{"GLAccount": env.gl("4000"), "AmountFC": -5}]}),
            false,
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let bank_id = body["d"]["EntryID"].as_str().unwrap().to_owned();
    let (status, body) = env
        .post_json(
            "financialtransaction/BankEntryLines",
            json!({"GLAccount": env.gl("1300"), "AmountFC": 121, "Account": customer, "OurRef": number}),
            false,
        )
        .await;
    assert_eq!(status, 500, "{body}");
    assert_eq!(error_message(&body), "Mandatory: EntryID");
    let (status, body) = env
        .post_json(
            "financialtransaction/BankEntryLines",
            json!({"EntryID": bank_id, "GLAccount": env.gl("1300"), "AmountFC": 121, "Account": customer, "OurRef": number}),
            false,
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert!(
        rows(&env, "read/financial/ReceivablesList")
            .await
            .is_empty()
    );
    let (_, entry) = env
        .get_json(&format!(
            "financialtransaction/BankEntries(guid'{bank_id}')?$expand=BankEntryLines"
        ))
        .await;
    assert_eq!(
        amount(&entry["d"]["ClosingBalanceFC"]),
        Decimal::new(116, 0)
    );
    let lines = entry["d"]["BankEntryLines"]["results"].as_array().unwrap();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[1]["LineNumber"], 2);
}
