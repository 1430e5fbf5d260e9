//! `logistics/Items` and `salesinvoice/SalesInvoices` with Exact's numbering and printing rules, and the
//! switches for behaviour the reference leaves uncertain (issue 15 items 5 and 6).

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{DIVISION, Env, error_message, spawn, spawn_with, status_json};

async fn item(env: &Env, code: &str, price: &str) -> String {
    // Created as the bookkeeper does in Exact's UI, with a sales price (read-only on the API).
    env.emu
        .seed(
            DIVISION,
            "logistics/Items",
            json!({"Code": code, "Description": format!("Item {code}"), "GLRevenue": env.gl("8000"),
                   "SalesVatCode": "2", "IsSalesItem": true, "StandardSalesPrice": price}),
        )
        .unwrap()
}

fn invoice_body(customer: &str, item: &str, quantity: &str) -> Value {
    json!({"Journal": "70", "OrderedBy": customer, "YourRef": "PO-77", "Description": "Consulting",
           "InvoiceNumber": 999_999,
           "SalesInvoiceLines": [{"Item": item, "Quantity": quantity}]})
}

#[tokio::test]
async fn items_need_code_and_description_unique_codes_and_a_mandatory_filter() {
    let env = spawn().await;
    let (status, body) = env
        .post_json("logistics/Items", json!({"Code": "X1"}), false)
        .await;
    assert_eq!(status, 500);
    assert_eq!(error_message(&body), "Mandatory: Description");
    let (status, body) = env
        .post_json(
            "logistics/Items",
            json!({"Code": "CONS", "Description": "Consulting", "SalesVatCode": "2",
                   "StandardSalesPrice": 5}),
            true,
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert!(
        body["d"]["StandardSalesPrice"].is_null(),
        "read-only on the API"
    );
    let (status, body) = env
        .post_json(
            "logistics/Items",
            json!({"Code": "CONS", "Description": "Again"}),
            false,
        )
        .await;
    assert_eq!(status, 500);
    assert_eq!(error_message(&body), "Data already exists.");
    let (status, body) = env.get_json("logistics/Items").await;
    assert_eq!(status, 400);
    assert!(
        error_message(&body).starts_with("This endpoint has mandatory filtering applied"),
        "{body}"
    );
    let (status, body) = env.get_json("logistics/Items?$filter=Code eq 'CONS'").await;
    assert_eq!(status, 200);
    assert_eq!(body["d"]["results"][0]["Description"], "Consulting");
    assert_eq!(body["d"]["results"][0]["SalesVatCode"], "2  ");
}

#[tokio::test]
async fn a_sales_invoice_is_numbered_by_its_journal_stays_open_until_printed_and_then_books_the_receivable()
 {
    let env = spawn().await;
    let customer = env.customer("Invoice Customer");
    let consulting = item(&env, "CONS", "100").await;
    // A sales entry in the same journal takes the first number of the sequence.
    let (_, entry) = env
        .post_json(
            "salesentry/SalesEntries",
            env.sales_entry_body(&customer, "SE-1", "10"),
            true,
        )
        .await;
    let entry_number = entry["d"]["EntryNumber"].as_i64().unwrap();

    let (status, created) = env
        .post_json(
            "salesinvoice/SalesInvoices",
            invoice_body(&customer, &consulting, "3"),
            true,
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let d = &created["d"];
    let invoice = d["InvoiceID"].as_str().unwrap().to_owned();
    // The number comes from the journal; the one the client sent is ignored (read-only).
    assert_eq!(d["InvoiceNumber"], entry_number + 1);
    assert_eq!(d["Status"], 20);
    assert_eq!(d["StatusDescription"], "Open");
    assert_eq!(d["AmountFCExclVat"], json!(300));
    assert_eq!(d["VATAmountFC"], json!(63));
    assert_eq!(d["AmountFC"], json!(363));
    assert_eq!(d["InvoiceTo"], customer.as_str());
    assert_eq!(d["OrderedByName"], "Invoice Customer");
    let line = &d["SalesInvoiceLines"]["results"][0];
    assert_eq!(line["ItemCode"], "CONS");
    assert_eq!(line["GLAccount"], env.gl("8000"));
    assert_eq!(line["UnitPrice"], json!(100));
    assert_eq!(line["AmountFC"], json!(300));

    // Not printed: no financial transaction, nothing receivable.
    let (_, rec) = env
        .get_json("cashflow/Receivables?$filter=YourRef eq 'PO-77'")
        .await;
    assert!(rec["d"]["results"].as_array().unwrap().is_empty());
    // Open invoices can still change: a line's quantity (amounts follow) and the header.
    let line_id = line["ID"].as_str().unwrap().to_owned();
    let r = env
        .api(
            Method::PUT,
            &format!("salesinvoice/SalesInvoiceLines(guid'{line_id}')"),
        )
        .json(&json!({"Quantity": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    let (_, changed) = env
        .get_json(&format!("salesinvoice/SalesInvoices(guid'{invoice}')"))
        .await;
    assert_eq!(changed["d"]["AmountFC"], json!(242));
    let r = env
        .api(
            Method::PUT,
            &format!("salesinvoice/SalesInvoiceLines(guid'{line_id}')"),
        )
        .json(&json!({"Quantity": 3}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    let r = env
        .api(
            Method::PUT,
            &format!("salesinvoice/SalesInvoices(guid'{invoice}')"),
        )
        .json(&json!({"Description": "Consulting March"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);

    // Printing processes it: status 50, a sales entry under the invoice number, a receivable.
    let (status, printed) = env
        .post_json(
            "salesinvoice/PrintedSalesInvoices",
            json!({"InvoiceID": invoice, "SendEmailToCustomer": false}),
            true,
        )
        .await;
    assert_eq!(status, 201, "{printed}");
    assert!(printed["d"]["DocumentCreationSuccess"].is_string());
    let (_, after) = env
        .get_json(&format!("salesinvoice/SalesInvoices(guid'{invoice}')"))
        .await;
    assert_eq!(after["d"]["Status"], 50);
    let (_, entries) = env
        .get_json("salesentry/SalesEntries?$filter=YourRef eq 'PO-77'&$expand=SalesEntryLines")
        .await;
    let booked = &entries["d"]["results"][0];
    assert_eq!(booked["EntryNumber"], d["InvoiceNumber"]);
    assert_eq!(booked["AmountFC"], json!(363));
    assert_eq!(booked["Description"], "Consulting March");
    let (_, rec) = env
        .get_json("cashflow/Receivables?$filter=YourRef eq 'PO-77'")
        .await;
    assert_eq!(rec["d"]["results"][0]["AmountDC"], json!(363));

    // Processed invoices can't be changed, deleted or printed again.
    let r = env
        .api(
            Method::PUT,
            &format!("salesinvoice/SalesInvoices(guid'{invoice}')"),
        )
        .json(&json!({"Description": "Changed"}))
        .send()
        .await
        .unwrap();
    let (status, body) = status_json(r).await;
    assert_eq!(status, 500);
    assert_eq!(
        error_message(&body),
        "Processed invoices can't be changed anymore."
    );
    let r = env
        .api(
            Method::DELETE,
            &format!("salesinvoice/SalesInvoices(guid'{invoice}')"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 500);
    let (status, body) = env
        .post_json(
            "salesinvoice/PrintedSalesInvoices",
            json!({"InvoiceID": invoice}),
            false,
        )
        .await;
    assert_eq!(status, 500);
    assert!(error_message(&body).contains("already processed"), "{body}");

    // The next invoice continues the sequence.
    let (_, next) = env
        .post_json(
            "salesinvoice/SalesInvoices",
            invoice_body(&customer, &consulting, "1"),
            false,
        )
        .await;
    let (_, next) = env
        .get_json(&format!(
            "salesinvoice/SalesInvoices(guid'{}')",
            next["d"]["InvoiceID"].as_str().unwrap()
        ))
        .await;
    assert_eq!(next["d"]["InvoiceNumber"], entry_number + 2);
}

#[tokio::test]
async fn an_invoice_needs_a_customer_a_sales_journal_and_lines_with_existing_items() {
    let env = spawn().await;
    let customer = env.customer("C");
    let supplier = env.supplier("S");
    let consulting = item(&env, "CONS", "100").await;
    let (status, body) = env
        .post_json(
            "salesinvoice/SalesInvoices",
            json!({"OrderedBy": customer, "SalesInvoiceLines": [{"Item": consulting}]}),
            false,
        )
        .await;
    assert_eq!(status, 500);
    assert_eq!(error_message(&body), "Mandatory: Journal");
    let (status, body) = env
        .post_json(
            "salesinvoice/SalesInvoices",
            json!({"Journal": "60", "OrderedBy": supplier,
                   "SalesInvoiceLines": [{"Item": uuid::Uuid::new_v4().to_string()}]}),
            false,
        )
        .await;
    assert_eq!(status, 500);
    let message = error_message(&body);
    for expected in [
        "Invalid: Journal",
        "Invalid: InvoiceTo (Type)",
        "Invalid reference: Item",
    ] {
        assert!(message.contains(expected), "{message}");
    }
    let (status, body) = env
        .post_json(
            "salesinvoice/SalesInvoices",
            json!({"Journal": "70", "OrderedBy": customer}),
            false,
        )
        .await;
    assert_eq!(status, 500);
    assert_eq!(error_message(&body), "Mandatory: SalesInvoiceLines");
}

#[tokio::test]
async fn with_the_journal_optional_an_invoice_without_one_goes_to_the_first_sales_journal() {
    let env = spawn_with(|c| c.sales_invoice_journal_required = false).await;
    let customer = env.customer("C");
    let consulting = item(&env, "CONS", "100").await;
    let (status, body) = env
        .post_json(
            "salesinvoice/SalesInvoices",
            json!({"OrderedBy": customer, "SalesInvoiceLines": [{"Item": consulting}]}),
            true,
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["d"]["Journal"], "70");
}

#[tokio::test]
async fn count_on_a_mandatory_filtering_endpoint_follows_its_switch() {
    let strict = spawn().await;
    strict.customer("A");
    let r = strict
        .api(Method::GET, "crm/Accounts/$count")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let r = strict
        .api(Method::GET, "crm/Accounts/$count?$filter=Name eq 'A'")
        .send()
        .await
        .unwrap();
    assert_eq!(r.text().await.unwrap(), "1");

    let lenient = spawn_with(|c| c.mandatory_filter_on_count = false).await;
    lenient.customer("A");
    lenient.customer("B");
    let r = lenient
        .api(Method::GET, "crm/Accounts/$count")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.text().await.unwrap(), "2");
    // GET itself stays mandatory-filtered.
    let (status, _) = lenient.get_json("crm/Accounts").await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn filtering_journal_lines_on_notes_follows_its_switch() {
    let on = spawn().await;
    let (status, _) = on
        .get_json("generaljournalentry/GeneralJournalEntryLines?$filter=Notes eq 'JE-1'")
        .await;
    assert_eq!(status, 200);
    let off = spawn_with(|c| c.line_notes_filterable = false).await;
    let (status, body) = off
        .get_json("generaljournalentry/GeneralJournalEntryLines?$filter=Notes eq 'JE-1'")
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        error_message(&body),
        "Filtering on these fields is not supported: Notes"
    );
}

#[tokio::test]
async fn validation_messages_come_in_dutch_when_the_emulator_is_set_to_dutch() {
    let env = spawn_with(|c| {
        c.validation_language = ledgerlink_emulators::exact::ValidationLanguage::Dutch;
    })
    .await;
    let supplier = env.supplier("S");
    let (status, body) = env
        .post_json(
            "salesinvoice/SalesInvoices",
            json!({"OrderedBy": supplier, "SalesInvoiceLines": [{"Item": uuid::Uuid::new_v4().to_string()}]}),
            false,
        )
        .await;
    assert_eq!(status, 500);
    assert_eq!(
        error_message(&body),
        "Verplicht: Dagboek\r\nOngeldig: Factuur voor (Type)\r\nOngeldige referentie: Artikel"
    );
}
