//! Sync endpoints (rowversion Timestamp), the deleted log, receivables, payments and payment terms.

use rust_decimal::Decimal;
use serde_json::{Value, json};

use ledgerlink_emulators::exact::PaymentSpec;

use crate::helpers::{DIVISION, Env, error_message, spawn};

async fn sync_rows(env: &Env, path: &str) -> Vec<Value> {
    let (status, body) = env.get_json(path).await;
    assert_eq!(status, 200, "{body}");
    body["d"]["results"].as_array().unwrap().clone()
}

fn timestamps(rows: &[Value]) -> Vec<i64> {
    rows.iter()
        .map(|r| r["Timestamp"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn sync_accounts_come_in_timestamp_order_and_an_update_moves_a_row_past_the_cursor() {
    let env = spawn().await;
    let a = env.customer("A");
    let _b = env.customer("B");
    let rows = sync_rows(
        &env,
        "sync/CRM/Accounts?$select=ID,Name,Timestamp&$filter=Timestamp gt 1L",
    )
    .await;
    let ts = timestamps(&rows);
    assert_eq!(ts.len(), 2);
    assert!(ts[0] < ts[1]);
    let cursor = ts[1];
    assert_eq!(
        rows[0]["__metadata"]["uri"],
        format!(
            "{}/api/v1/{DIVISION}/sync/CRM/Accounts({}L)",
            env.base, ts[0]
        )
    );

    env.emu
        .update(DIVISION, "crm/Accounts", &a, json!({"City": "Delft"}))
        .unwrap();
    let rows = sync_rows(
        &env,
        &format!("sync/CRM/Accounts?$select=ID,City,Timestamp&$filter=Timestamp gt {cursor}L"),
    )
    .await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["ID"], a);
    assert!(rows[0]["Timestamp"].as_i64().unwrap() > cursor);
}

#[tokio::test]
async fn sync_endpoints_need_a_select_and_filter_only_on_timestamp() {
    let env = spawn().await;
    let (status, _) = env
        .get_json("sync/Financial/GLAccounts?$filter=Timestamp gt 1L")
        .await;
    assert_eq!(status, 400);
    let (status, body) = env
        .get_json("sync/Financial/GLAccounts?$select=ID&$filter=Code eq '1100'")
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        error_message(&body),
        "Filtering on these fields is not supported: Code"
    );
    let rows = sync_rows(
        &env,
        "sync/Financial/GLAccounts?$select=ID,Code,Timestamp&$filter=Timestamp gt 1L",
    )
    .await;
    assert_eq!(rows.len(), 9);
}

#[tokio::test]
async fn deleted_records_are_logged_in_sync_deleted_with_their_entity_type() {
    let env = spawn().await;
    let a = env.customer("Gone BV");
    let r = env
        .api(reqwest::Method::DELETE, &format!("crm/Accounts(guid'{a}')"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    let rows = sync_rows(
        &env,
        "sync/Deleted?$select=EntityKey,EntityType,Timestamp&$filter=Timestamp gt 1L",
    )
    .await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["EntityKey"], a);
    assert_eq!(rows[0]["EntityType"], 2);
}

async fn book_invoice(env: &Env, your_ref: &str, amount: &str) -> String {
    let customer = env.customer(&format!("Customer of {your_ref}"));
    let (status, body) = env
        .post_json(
            "salesentry/SalesEntries",
            env.sales_entry_body(&customer, your_ref, amount),
            false,
        )
        .await;
    assert_eq!(status, 201, "{body}");
    body["d"]["EntryID"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_sales_entry_opens_a_receivable_and_a_receipt_payment_term() {
    let env = spawn().await;
    let entry = book_invoice(&env, "INV-9", "100").await;
    let (_, body) = env
        .get_json(&format!(
            "cashflow/Receivables?$filter=EntryID eq guid'{entry}'"
        ))
        .await;
    let r = &body["d"]["results"][0];
    assert_eq!(r["AmountDC"], json!(121));
    assert_eq!(r["IsFullyPaid"], false);
    assert_eq!(r["Status"], 20);
    assert_eq!(r["YourRef"], "INV-9");
    let terms = sync_rows(&env, "sync/Cashflow/PaymentTerms?$select=EntryID,LineType,Status,Timestamp&$filter=Timestamp gt 1L").await;
    assert_eq!(terms.len(), 1);
    assert_eq!(terms[0]["LineType"], 20);
}

#[tokio::test]
async fn a_full_payment_marks_the_receivable_paid_with_newer_timestamps() {
    let env = spawn().await;
    let entry = book_invoice(&env, "INV-10", "100").await;
    let before = env.emu.current_timestamp();
    let paid = env
        .emu
        .register_payment(PaymentSpec {
            division: DIVISION,
            entry_id: entry.clone(),
            amount: None,
            date: None,
            employee: false,
        })
        .unwrap();
    assert!(paid.fully_paid);
    assert_eq!(paid.amount, Decimal::new(121, 0));

    let (_, body) = env
        .get_json(&format!(
            "cashflow/Receivables?$filter=EntryID eq guid'{entry}'"
        ))
        .await;
    assert_eq!(body["d"]["results"][0]["IsFullyPaid"], true);
    assert_eq!(body["d"]["results"][0]["Status"], 50);

    let changed = sync_rows(&env, &format!("sync/Cashflow/PaymentTerms?$select=EntryID,TransactionEntryID,LineType,Status,AmountDC,Timestamp&$filter=Timestamp gt {before}L")).await;
    assert_eq!(
        changed.len(),
        2,
        "the invoice's term updated and the receipt's term added: {changed:?}"
    );
    assert!(
        changed
            .iter()
            .all(|t| t["TransactionEntryID"] == entry.as_str())
    );
    assert!(changed.iter().all(|t| t["Status"] == 50));

    let (_, list) = env.get_json("read/financial/ReceivablesList").await;
    assert!(list["d"]["results"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn a_partial_payment_leaves_the_rest_open() {
    let env = spawn().await;
    let entry = book_invoice(&env, "INV-11", "100").await;
    let paid = env
        .emu
        .register_payment(PaymentSpec {
            division: DIVISION,
            entry_id: entry.clone(),
            amount: Some(Decimal::new(2100, 2)),
            date: None,
            employee: false,
        })
        .unwrap();
    assert!(!paid.fully_paid);
    assert_eq!(paid.remaining, Decimal::new(100, 0));
    let (_, list) = env.get_json("read/financial/ReceivablesList").await;
    assert_eq!(list["d"]["results"][0]["Amount"], json!(100));
    assert_eq!(list["d"]["results"][0]["YourRef"], "INV-11");
    let (_, body) = env
        .get_json(&format!(
            "cashflow/Receivables?$filter=EntryID eq guid'{entry}'"
        ))
        .await;
    assert_eq!(body["d"]["results"][0]["IsFullyPaid"], false);
    let too_much = env.emu.register_payment(PaymentSpec {
        division: DIVISION,
        entry_id: entry,
        amount: Some(Decimal::new(101, 0)),
        date: None,
        employee: false,
    });
    assert!(too_much.is_err());
}

#[tokio::test]
async fn supplier_payments_show_as_payment_terms_of_line_type_22() {
    let env = spawn().await;
    let supplier = env.supplier("Supplies BV");
    let (status, body) = env
        .post_json("purchaseentry/PurchaseEntries", json!({"Journal": "60", "Supplier": supplier, "YourRef": "S-1", "PurchaseEntryLines": [{"GLAccount": env.gl("4000"), "AmountFC": 50}]}), false)
        .await;
    assert_eq!(status, 201, "{body}");
    let entry = body["d"]["EntryID"].as_str().unwrap().to_owned();
    env.emu
        .register_payment(PaymentSpec {
            division: DIVISION,
            entry_id: entry.clone(),
            amount: None,
            date: None,
            employee: true,
        })
        .unwrap();
    let terms = sync_rows(
        &env,
        "sync/Cashflow/PaymentTerms?$select=LineType,Status,Timestamp&$filter=Timestamp gt 1L",
    )
    .await;
    assert!(!terms.is_empty());
    assert!(terms.iter().all(|t| t["LineType"] == 22));
    let (_, p) = env
        .get_json(&format!(
            "cashflow/Payments?$filter=EntryID eq guid'{entry}'"
        ))
        .await;
    // Payments document no IsFullyPaid (Receivables do): a paid term is matched, status 50.
    assert_eq!(p["d"]["results"][0]["Status"], 50);
    assert!(p["d"]["results"][0].get("IsFullyPaid").is_none());
}

#[tokio::test]
async fn receivables_accept_put_of_description_but_not_post() {
    let env = spawn().await;
    let entry = book_invoice(&env, "INV-12", "10").await;
    let (_, body) = env
        .get_json(&format!(
            "cashflow/Receivables?$filter=EntryID eq guid'{entry}'"
        ))
        .await;
    let id = body["d"]["results"][0]["ID"].as_str().unwrap().to_owned();
    let r = env
        .api(
            reqwest::Method::PUT,
            &format!("cashflow/Receivables(guid'{id}')"),
        )
        .json(&json!({"Description": "chased", "AmountDC": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    let (_, body) = env
        .get_json(&format!("cashflow/Receivables(guid'{id}')"))
        .await;
    assert_eq!(body["d"]["Description"], "chased");
    assert_eq!(body["d"]["AmountDC"], json!(12.1));
    let (status, _) = env
        .post_json("cashflow/Receivables", json!({"Description": "x"}), false)
        .await;
    assert_eq!(status, 405);
}

#[tokio::test]
async fn the_deleted_log_keeps_two_months() {
    let mut env = spawn().await;
    let a = env.customer("Old BV");
    env.emu.delete(DIVISION, "crm/Accounts", &a).unwrap();
    env.advance(62 * 24 * 3600);
    env.renew_token();
    let rows = sync_rows(
        &env,
        "sync/Deleted?$select=EntityKey,Timestamp&$filter=Timestamp gt 1L",
    )
    .await;
    assert!(rows.is_empty());
}

/// `/Date(ms)/` of a Dutch wall-clock time (`YYYY-MM-DDTHH:MM:SS`), as Exact writes it.
fn dutch(wall: &str) -> String {
    let ms = chrono::NaiveDateTime::parse_from_str(wall, "%Y-%m-%dT%H:%M:%S")
        .unwrap()
        .and_utc()
        .timestamp_millis();
    format!("/Date({ms})/")
}

fn utc(s: &str) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(s)
        .unwrap()
        .with_timezone(&chrono::Utc)
}

#[tokio::test]
async fn dates_carry_cet_semantics_at_month_ends_and_around_the_clock_changes() {
    // (instant the invoice is sent and paid, the Dutch wall-clock time Exact records, reporting year and
    // period, the Dutch clock's offset from UTC)
    for (instant, wall, year, period, offset) in [
        // 00:30 CEST on 1 June: the previous day and month in UTC.
        ("2026-05-31T22:30:00Z", "2026-06-01T00:30:00", 2026, 6, 7200),
        // 00:30 CET on 1 February (winter offset).
        ("2026-01-31T23:30:00Z", "2026-02-01T00:30:00", 2026, 2, 3600),
        // New year's night.
        ("2026-12-31T23:15:00Z", "2027-01-01T00:15:00", 2027, 1, 3600),
        // Just before and after the spring change (29 March 2026, 02:00 CET → 03:00 CEST).
        ("2026-03-29T00:59:00Z", "2026-03-29T01:59:00", 2026, 3, 3600),
        ("2026-03-29T01:00:00Z", "2026-03-29T03:00:00", 2026, 3, 7200),
        // The autumn hour that happens twice (25 October 2026): both instants show 02:30.
        (
            "2026-10-25T00:30:00Z",
            "2026-10-25T02:30:00",
            2026,
            10,
            7200,
        ),
        (
            "2026-10-25T01:30:00Z",
            "2026-10-25T02:30:00",
            2026,
            10,
            3600,
        ),
        // 31 October 23:30 UTC is already 1 November on the Dutch clock.
        (
            "2026-10-31T23:30:00Z",
            "2026-11-01T00:30:00",
            2026,
            11,
            3600,
        ),
    ] {
        let mut env = spawn().await;
        env.clock.set(utc(instant));
        env.renew_token();
        let customer = env.customer(&format!("Customer {instant}"));
        let mut body = env.sales_entry_body(&customer, "CET-1", "100");
        // The invoice date sent as a UTC instant (as ossobv does): Exact converts it to its own clock.
        body["EntryDate"] = json!(instant);
        let (status, created) = env.post_json("salesentry/SalesEntries", body, true).await;
        assert_eq!(status, 201, "{created}");
        let d = &created["d"];
        assert_eq!(d["EntryDate"], dutch(wall), "{instant}");
        assert_eq!(d["Created"], dutch(wall), "{instant}");
        assert_eq!(d["ReportingYear"], year, "{instant}");
        assert_eq!(d["ReportingPeriod"], period, "{instant}");
        let entry = d["EntryID"].as_str().unwrap().to_owned();

        // Paid at the same moment: the payment date is the Dutch date too.
        env.emu
            .register_payment(PaymentSpec {
                division: DIVISION,
                entry_id: entry.clone(),
                amount: None,
                date: None,
                employee: false,
            })
            .unwrap();
        let (_, rec) = env
            .get_json(&format!(
                "cashflow/Receivables?$filter=EntryID eq guid'{entry}'"
            ))
            .await;
        assert_eq!(
            rec["d"]["results"][0]["LastPaymentDate"],
            dutch(wall),
            "{instant}"
        );

        // A filter literal without a zone is Dutch local time: the entry is on the Dutch day, not the UTC one.
        let day = &wall[..10];
        let (status, found) = env
            .get_json(&format!(
                "salesentry/SalesEntries?$filter=EntryDate ge datetime'{day}T00:00:00' and YourRef eq 'CET-1'"
            ))
            .await;
        assert_eq!(status, 200, "{found}");
        assert_eq!(
            found["d"]["results"].as_array().unwrap().len(),
            1,
            "{instant}"
        );

        // current/Me reports the Dutch clock and its offset.
        let me: Value = env
            .http
            .get(format!("{}/api/v1/current/Me", env.base))
            .bearer_auth(&env.token)
            .header("accept", "application/json")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let me = &me["d"]["results"][0];
        assert_eq!(me["ServerTime"], wall, "{instant}");
        assert_eq!(me["ServerUtcOffset"], offset, "{instant}");
    }
}

#[tokio::test]
async fn an_invoice_date_sent_without_a_zone_is_the_dutch_date_whatever_the_hour() {
    let env = spawn().await;
    let customer = env.customer("Naive");
    let mut body = env.sales_entry_body(&customer, "CET-2", "10");
    body["EntryDate"] = json!("2026-06-30T23:59:00");
    let (status, created) = env.post_json("salesentry/SalesEntries", body, true).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["d"]["EntryDate"], dutch("2026-06-30T23:59:00"));
    assert_eq!(created["d"]["ReportingPeriod"], 6);
}

#[tokio::test]
async fn a_division_move_shows_in_division_move_date_and_resets_the_sync_timestamps() {
    let mut env = spawn().await;
    for i in 0..5 {
        env.customer(&format!("Before move {i}"));
    }
    let before = sync_rows(
        &env,
        "sync/CRM/Accounts?$select=ID,Timestamp&$filter=Timestamp gt 1L",
    )
    .await;
    let cursor = *timestamps(&before).iter().max().unwrap();
    let (_, divisions) = env.get_json("system/Divisions").await;
    let ours = |d: &Value| {
        d["d"]["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["Code"] == DIVISION)
            .unwrap()
            .clone()
    };
    assert!(ours(&divisions)["DivisionMoveDate"].is_null());

    env.advance(3600);
    env.renew_token();
    let highest = env.emu.move_division(DIVISION).unwrap();
    let after_customer = env.customer("After move");

    // The move is visible, and every timestamp now lies below the old cursor: a client that only follows its
    // cursor would see nothing, not even the account created after the move.
    let (_, divisions) = env.get_json("system/Divisions").await;
    assert!(ours(&divisions)["DivisionMoveDate"].is_string());
    assert!(highest < cursor, "{highest} < {cursor}");
    let stale = sync_rows(
        &env,
        &format!("sync/CRM/Accounts?$select=ID,Timestamp&$filter=Timestamp gt {cursor}L"),
    )
    .await;
    assert!(stale.is_empty(), "{stale:?}");
    // Starting over from 1 (what a client does after seeing a newer DivisionMoveDate) reads everything again,
    // in the new order, including the account created after the move.
    let again = sync_rows(
        &env,
        "sync/CRM/Accounts?$select=ID,Timestamp&$filter=Timestamp gt 1L",
    )
    .await;
    assert_eq!(again.len(), before.len() + 1);
    assert_eq!(again.last().unwrap()["ID"], after_customer.as_str());
    let ts = timestamps(&again);
    assert!(ts.windows(2).all(|w| w[0] < w[1]));
    // Other divisions keep their numbering.
    assert!(env.emu.move_division(999).is_err());
}

#[tokio::test]
async fn skip_is_refused_on_bulk_and_sync_endpoints_but_kept_on_regular_ones() {
    let env = spawn().await;
    env.customer("A");
    env.customer("B");
    for path in [
        "sync/CRM/Accounts?$select=ID,Timestamp&$filter=Timestamp gt 1L&$skip=1",
        "bulk/CRM/Accounts?$select=ID&$skip=1",
    ] {
        let (status, body) = env.get_json(path).await;
        assert_eq!(status, 400, "{path}");
        assert!(error_message(&body).contains("$skip"), "{body}");
    }
    let (status, body) = env
        .get_json("crm/Accounts?$filter=Name ne 'x'&$select=ID&$skip=1")
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["d"]["results"].as_array().unwrap().len(), 1);
}
