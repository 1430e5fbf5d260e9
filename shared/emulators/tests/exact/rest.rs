//! The REST surface: envelopes, formats, routing, query options and rules, writes, validation.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{DIVISION, error_message, page_sizes, spawn, spawn_with, status_json};

#[tokio::test]
async fn a_request_without_accept_json_gets_406_except_for_count() {
    let env = spawn().await;
    let url = format!(
        "{}/api/v1/{DIVISION}/financial/GLAccounts?$select=ID",
        env.base
    );
    let r = env
        .http
        .get(&url)
        .bearer_auth(&env.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 406);
    let count = env
        .http
        .get(format!(
            "{}/api/v1/{DIVISION}/financial/GLAccounts/$count",
            env.base
        ))
        .bearer_auth(&env.token)
        .send()
        .await
        .unwrap();
    assert_eq!(count.status().as_u16(), 200);
    let n: usize = count.text().await.unwrap().parse().unwrap();
    assert_eq!(n, 9, "the division template has nine GL accounts");
}

#[tokio::test]
async fn accounts_without_a_filter_are_refused_with_the_mandatory_filtering_message() {
    let env = spawn().await;
    let (status, body) = env.get_json("crm/Accounts?$select=ID").await;
    assert_eq!(status, 400);
    assert!(
        error_message(&body).starts_with("This endpoint has mandatory filtering applied."),
        "{body}"
    );
    let (status, _) = env
        .get_json("crm/Accounts?$select=ID&$filter=Name eq 'DOES_NOT_EXIST'")
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn account_codes_are_padded_so_an_unpadded_filter_finds_nothing_but_trim_does() {
    let env = spawn().await;
    env.emu
        .seed(
            DIVISION,
            "crm/Accounts",
            json!({"Name": "Acme", "Code": "25", "Status": "C", "Country": "NL"}),
        )
        .unwrap();
    let (_, body) = env.get_json("crm/Accounts?$filter=Code eq '25'").await;
    assert_eq!(body["d"]["results"].as_array().unwrap().len(), 0);
    let (_, body) = env
        .get_json("crm/Accounts?$filter=Code eq '                25'")
        .await;
    assert_eq!(body["d"]["results"][0]["Code"], "                25");
    assert_eq!(body["d"]["results"][0]["Country"], "NL ");
    let (_, body) = env
        .get_json("crm/Accounts?$filter=trim(Code) eq '25'")
        .await;
    assert_eq!(body["d"]["results"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn collections_and_key_gets_use_the_verbose_envelopes_with_metadata_deferred_navigations_and_dates()
 {
    let env = spawn().await;
    let id = env.customer("Acme BV");
    let (status, list) = env
        .get_json(&format!(
            "crm/Accounts?$filter=ID eq guid'{}'",
            id.to_uppercase()
        ))
        .await;
    assert_eq!(status, 200);
    let row = &list["d"]["results"][0];
    assert_eq!(row["__metadata"]["type"], "Exact.Web.Api.Models.Account");
    assert_eq!(
        row["__metadata"]["uri"],
        format!("{}/api/v1/{DIVISION}/crm/Accounts(guid'{id}')", env.base)
    );
    assert_eq!(
        row["BankAccounts"]["__deferred"]["uri"],
        format!(
            "{}/api/v1/{DIVISION}/crm/Accounts(guid'{id}')/BankAccounts",
            env.base
        )
    );
    assert!(row["Created"].as_str().unwrap().starts_with("/Date("));
    assert!(list["d"].get("__next").is_none());

    let (status, one) = env.get_json(&format!("crm/Accounts(guid'{id}')")).await;
    assert_eq!(status, 200);
    assert_eq!(one["d"]["ID"], id);
    assert!(one["d"].get("results").is_none());

    let (status, _) = env
        .get_json("crm/Accounts(guid'00000000-0000-0000-0000-000000000009')")
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn service_segments_are_case_insensitive_and_currencies_are_keyed_by_code() {
    let env = spawn().await;
    let (status, _) = env.get_json("CRM/Accounts?$filter=Name eq 'x'").await;
    assert_eq!(status, 200);
    let (status, body) = env.get_json("general/Currencies('EUR')").await;
    assert_eq!(status, 200);
    assert_eq!(body["d"]["Code"], "EUR");
    assert_eq!(
        body["d"]["__metadata"]["uri"],
        format!("{}/api/v1/{DIVISION}/general/Currencies('EUR')", env.base)
    );
}

#[tokio::test]
async fn paging_gives_60_rows_per_page_and_an_extra_empty_page_on_an_exact_multiple() {
    let env = spawn().await;
    for i in 0..120 {
        env.emu
            .seed(
                DIVISION,
                "crm/Accounts",
                json!({"Name": format!("Customer {i:03}"), "Status": "C"}),
            )
            .unwrap();
    }
    let (sizes, nexts) =
        page_sizes(&env, "crm/Accounts?$select=ID,Name&$filter=Status eq 'C'").await;
    assert_eq!(sizes, vec![60, 60, 0]);
    assert!(nexts[0].contains("$skiptoken=guid'"), "{}", nexts[0]);
    assert!(nexts[0].contains("$select=ID,Name"), "{}", nexts[0]);
    assert!(
        nexts[0].contains("$filter=Status%20eq%20'C'"),
        "{}",
        nexts[0]
    );

    env.emu
        .seed(
            DIVISION,
            "crm/Accounts",
            json!({"Name": "One more", "Status": "C"}),
        )
        .unwrap();
    let (sizes, _) = page_sizes(&env, "crm/Accounts?$select=ID&$filter=Status eq 'C'").await;
    assert_eq!(sizes, vec![60, 60, 1]);
}

#[tokio::test]
async fn paging_returns_every_row_exactly_once() {
    let env = spawn().await;
    for i in 0..75 {
        env.emu
            .seed(
                DIVISION,
                "crm/Accounts",
                json!({"Name": format!("C{i}"), "Status": "C"}),
            )
            .unwrap();
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut url = format!(
        "{}/api/v1/{DIVISION}/crm/Accounts?$select=ID&$filter=Status eq 'C'",
        env.base
    );
    loop {
        let body: Value = env
            .http
            .get(&url)
            .bearer_auth(&env.token)
            .header("accept", "application/json")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for r in body["d"]["results"].as_array().unwrap() {
            assert!(
                seen.insert(r["ID"].as_str().unwrap().to_owned()),
                "duplicate row"
            );
        }
        match body["d"]["__next"].as_str() {
            Some(n) => url = n.to_owned(),
            None => break,
        }
    }
    assert_eq!(seen.len(), 75);
}

#[tokio::test]
async fn top_inlinecount_orderby_and_count_behave_like_odata_v2() {
    let env = spawn().await;
    for (name, code) in [("Bravo", "2"), ("Alpha", "3"), ("Charlie", "1")] {
        env.emu
            .seed(
                DIVISION,
                "crm/Accounts",
                json!({"Name": name, "Code": code, "Status": "C"}),
            )
            .unwrap();
    }
    let (_, body) = env.get_json("crm/Accounts?$filter=Status eq 'C'&$orderby=Name desc&$top=2&$inlinecount=allpages&$select=Name").await;
    let names: Vec<&str> = body["d"]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["Name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["Charlie", "Bravo"]);
    assert_eq!(body["d"]["__count"], "3");
    assert!(
        body["d"]["results"][0].get("Code").is_none(),
        "$select limits the properties"
    );
    let r = env
        .http
        .get(format!(
            "{}/api/v1/{DIVISION}/crm/Accounts/$count?$filter=Name ne 'Alpha'",
            env.base
        ))
        .bearer_auth(&env.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.text().await.unwrap(), "2");
}

#[tokio::test]
async fn the_filter_subset_clients_use_works_over_http() {
    let env = spawn().await;
    let id = env
        .emu
        .seed(
            DIVISION,
            "crm/Accounts",
            json!({"Name": "O'Brien Holding", "Status": "C", "City": "Delft"}),
        )
        .unwrap();
    env.emu
        .seed(
            DIVISION,
            "crm/Accounts",
            json!({"Name": "Other", "Status": "P", "City": "Delft"}),
        )
        .unwrap();
    for (filter, expected) in [
        ("Name eq 'O''Brien Holding'", 1),
        ("substringof('brien',Name) eq true", 1),
        ("(Status eq 'C' or Status eq 'P') and City eq 'Delft'", 2),
        ("Status ne 'C' and City eq 'Delft'", 1),
        (
            "Created ge datetime'2026-06-15T00:00:00' and Created lt datetime'2026-06-16T00:00:00'",
            2,
        ),
        (&format!("ID eq guid'{id}'"), 1),
        ("Blocked eq false and Name eq 'Other'", 1),
    ] {
        let (status, body) = env
            .get_json(&format!(
                "crm/Accounts?$select=ID&$filter={}",
                urlencode(filter)
            ))
            .await;
        assert_eq!(status, 200, "{filter}: {body}");
        assert_eq!(
            body["d"]["results"].as_array().unwrap().len(),
            expected,
            "{filter}"
        );
    }
    let (status, body) = env.get_json("crm/Accounts?$filter=NoSuchField eq 1").await;
    assert_eq!(status, 400);
    assert!(error_message(&body).contains("NoSuchField"));
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn general_journal_entries_need_a_select_or_top_1_and_bulk_needs_a_select() {
    let env = spawn().await;
    let (status, body) = env
        .get_json("generaljournalentry/GeneralJournalEntries")
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        error_message(&body),
        "Please add a $select or a $top=1 statement to the query string."
    );
    assert_eq!(
        env.get_json("generaljournalentry/GeneralJournalEntries?$top=1")
            .await
            .0,
        200
    );
    assert_eq!(
        env.get_json("generaljournalentry/GeneralJournalEntries?$select=EntryID")
            .await
            .0,
        200
    );
    assert_eq!(env.get_json("bulk/Financial/GLAccounts").await.0, 400);
    assert_eq!(
        env.get_json("bulk/Financial/GLAccounts?$select=ID,Code")
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn bulk_endpoints_page_by_1000() {
    let env = spawn().await;
    for i in 0..1000 {
        env.emu
            .seed(
                DIVISION,
                "financial/GLAccounts",
                json!({"Code": format!("9{i:04}"), "Description": "x", "Type": 121}),
            )
            .unwrap();
    }
    // 9 template accounts + 1000.
    let (sizes, nexts) = page_sizes(&env, "bulk/Financial/GLAccounts?$select=ID").await;
    assert_eq!(sizes, vec![1000, 9]);
    assert!(
        nexts[0].contains("/bulk/Financial/GLAccounts?$select=ID&$skiptoken=guid'"),
        "{}",
        nexts[0]
    );
}

#[tokio::test]
async fn post_without_prefer_returns_201_with_the_key_and_nulls_and_with_prefer_the_full_entity() {
    let env = spawn().await;
    let (status, minimal) = env
        .post_json(
            "crm/Accounts",
            json!({"Name": "Minimal BV", "Status": "C"}),
            false,
        )
        .await;
    assert_eq!(status, 201);
    assert!(minimal["d"]["ID"].as_str().is_some());
    assert_eq!(minimal["d"]["Name"], Value::Null);

    let (status, full) = env
        .post_json(
            "crm/Accounts",
            json!({"Name": "Full BV", "Status": "C", "IsSales": false}),
            true,
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(full["d"]["Name"], "Full BV");
    assert_eq!(
        full["d"]["IsSales"], true,
        "read-only IsSales is derived, the sent value ignored"
    );
    let n1: i64 = minimal_code(&env, minimal["d"]["ID"].as_str().unwrap()).await;
    let n2: i64 = full["d"]["Code"].as_str().unwrap().trim().parse().unwrap();
    assert_eq!(n2, n1 + 1, "codes auto-increment");
    assert_eq!(full["d"]["Code"].as_str().unwrap().len(), 18);
}

async fn minimal_code(env: &crate::helpers::Env, id: &str) -> i64 {
    let (_, b) = env.get_json(&format!("crm/Accounts(guid'{id}')")).await;
    b["d"]["Code"].as_str().unwrap().trim().parse().unwrap()
}

#[tokio::test]
async fn put_merges_writable_fields_ignores_read_only_ones_and_delete_answers_204() {
    let env = spawn().await;
    let id = env.customer("Before BV");
    let r = env
        .api(Method::PUT, &format!("crm/Accounts(guid'{id}')"))
        .json(&json!({"City": "Utrecht", "Type": "D", "Created": "2001-01-01"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    assert!(r.text().await.unwrap().is_empty());
    let (_, b) = env.get_json(&format!("crm/Accounts(guid'{id}')")).await;
    assert_eq!(b["d"]["City"], "Utrecht");
    assert_eq!(b["d"]["Name"], "Before BV", "PUT is a merge");
    assert_eq!(b["d"]["Type"], "A", "read-only Type ignored");

    let r = env
        .api(Method::DELETE, &format!("crm/Accounts(guid'{id}')"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    assert_eq!(
        env.get_json(&format!("crm/Accounts(guid'{id}')")).await.0,
        404
    );
}

#[tokio::test]
async fn an_unknown_property_in_a_post_is_a_400() {
    let env = spawn().await;
    let (status, body) = env
        .post_json("crm/Accounts", json!({"Name": "X", "Nonsense": 1}), false)
        .await;
    assert_eq!(status, 400);
    assert!(error_message(&body).contains("Nonsense"));
}

#[tokio::test]
async fn validation_errors_are_http_500_with_messages_joined_by_crlf() {
    let env = spawn().await;
    let (status, body) = env
        .post_json(
            "salesentry/SalesEntries",
            json!({"Description": "nothing else"}),
            false,
        )
        .await;
    assert_eq!(status, 500);
    let msg = error_message(&body);
    assert!(
        msg.contains("Mandatory: Journal\r\nMandatory: Customer"),
        "{msg:?}"
    );
    assert!(msg.contains("\r\nMandatory: SalesEntryLines"), "{msg:?}");
    assert_eq!(body["error"]["code"], "");
    assert_eq!(body["error"]["message"]["lang"], "");
}

#[tokio::test]
async fn the_validation_status_can_be_configured_to_400() {
    let env = spawn_with(|c| c.validation_status = 400).await;
    let (status, _) = env
        .post_json("salesentry/SalesEntries", json!({}), false)
        .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn a_sales_entry_needs_a_known_customer_account_that_is_a_customer() {
    let env = spawn().await;
    let unknown = "3734121e-1544-4b77-9ae2-7203e9bd6046";
    let (status, body) = env
        .post_json(
            "salesentry/SalesEntries",
            env.sales_entry_body(unknown, "INV-1", "100.00"),
            false,
        )
        .await;
    assert_eq!(status, 500);
    assert_eq!(error_message(&body), "Invalid reference: Customer");

    let supplier = env.supplier("Only A Supplier");
    let (status, body) = env
        .post_json(
            "salesentry/SalesEntries",
            env.sales_entry_body(&supplier, "INV-1", "100.00"),
            false,
        )
        .await;
    assert_eq!(status, 500);
    assert_eq!(error_message(&body), "Invalid: Customer (Type)");
    assert_eq!(
        env.emu.count_sales_entries_with_your_ref(DIVISION, "INV-1"),
        0
    );
}

#[tokio::test]
async fn a_sales_entry_computes_amounts_type_and_status_and_stores_your_ref() {
    let env = spawn().await;
    let customer = env.customer("Acme BV");
    let (status, body) = env
        .post_json(
            "salesentry/SalesEntries",
            env.sales_entry_body(&customer, "INV-2024-0001", "100.00"),
            true,
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let d = &body["d"];
    assert_eq!(d["AmountFC"], json!(121));
    assert_eq!(d["VATAmountFC"], json!(21));
    assert_eq!(d["Type"], 20);
    assert_eq!(d["Status"], 20);
    assert_eq!(d["YourRef"], "INV-2024-0001");
    assert_eq!(d["CustomerName"], "Acme BV");
    assert_eq!(d["ReportingYear"], 2026);
    assert_eq!(d["ReportingPeriod"], 5);
    assert_eq!(d["EntryDate"], "/Date(1778630400000)/");
    assert_eq!(d["SalesEntryLines"]["results"][0]["VATCode"], "2  ");
    assert_eq!(
        env.emu
            .count_sales_entries_with_your_ref(DIVISION, "INV-2024-0001"),
        1
    );

    let id = d["EntryID"].as_str().unwrap();
    let (_, lines) = env
        .get_json(&format!(
            "salesentry/SalesEntries(guid'{id}')/SalesEntryLines"
        ))
        .await;
    assert_eq!(lines["d"]["results"].as_array().unwrap().len(), 1);
    let (_, expanded) = env.get_json("salesentry/SalesEntries?$filter=YourRef eq 'INV-2024-0001'&$expand=SalesEntryLines&$select=EntryID,SalesEntryLines/AmountFC").await;
    assert_eq!(
        expanded["d"]["results"][0]["SalesEntryLines"]["results"][0]["AmountFC"],
        json!(100)
    );
}

#[tokio::test]
async fn a_negative_sales_entry_is_a_credit_note() {
    let env = spawn().await;
    let customer = env.customer("Acme BV");
    let (status, body) = env
        .post_json(
            "salesentry/SalesEntries",
            env.sales_entry_body(&customer, "CN-1", "-50"),
            true,
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(body["d"]["Type"], 21);
    assert_eq!(body["d"]["AmountFC"], json!(-60.5));
}

#[tokio::test]
async fn a_sales_line_on_a_receivables_account_is_refused() {
    let env = spawn().await;
    let customer = env.customer("Acme BV");
    let mut body = env.sales_entry_body(&customer, "X", "10");
    body["SalesEntryLines"][0]["GLAccount"] = json!(env.gl("1300"));
    let (status, resp) = env.post_json("salesentry/SalesEntries", body, false).await;
    assert_eq!(status, 500);
    assert_eq!(error_message(&resp), "Invalid: G/L account type");
}

#[tokio::test]
async fn a_purchase_entry_needs_a_supplier_account() {
    let env = spawn().await;
    let customer = env.customer("Not a supplier");
    let body = |party: &str| {
        json!({"Journal": "60", "Supplier": party, "YourRef": "SUP-1",
               "PurchaseEntryLines": [{"GLAccount": env.gl("4000"), "AmountFC": 10}]})
    };
    let (status, resp) = env
        .post_json("purchaseentry/PurchaseEntries", body(&customer), false)
        .await;
    assert_eq!(status, 500);
    assert_eq!(error_message(&resp), "Invalid: Supplier (Type)");
    let supplier = env.supplier("Real Supplier");
    let (status, resp) = env
        .post_json("purchaseentry/PurchaseEntries", body(&supplier), true)
        .await;
    assert_eq!(status, 201, "{resp}");
    assert_eq!(resp["d"]["Type"], 30);
    assert_eq!(
        env.emu
            .count_purchase_entries_with_your_ref(DIVISION, "SUP-1"),
        1
    );
}

#[tokio::test]
async fn general_journal_entries_must_balance_and_cannot_be_put() {
    let env = spawn().await;
    let lines = |a: &str, b: &str| {
        json!({"JournalCode": "90", "GeneralJournalEntryLines": [
            {"GLAccount": env.gl("4000"), "AmountFC": a}, {"GLAccount": env.gl("1100"), "AmountFC": b}]})
    };
    let (status, body) = env
        .post_json(
            "generaljournalentry/GeneralJournalEntries",
            lines("100", "-90"),
            false,
        )
        .await;
    assert_eq!(status, 500);
    assert!(error_message(&body).contains("not in balance"));
    let (status, body) = env
        .post_json(
            "generaljournalentry/GeneralJournalEntries",
            lines("100", "-100"),
            false,
        )
        .await;
    assert_eq!(status, 201);
    let id = body["d"]["EntryID"].as_str().unwrap();
    let r = env
        .api(
            Method::PUT,
            &format!("generaljournalentry/GeneralJournalEntries(guid'{id}')"),
        )
        .json(&json!({"EntryNumber": 5}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 405);
}

#[tokio::test]
async fn posting_an_identical_address_returns_the_existing_one() {
    let env = spawn().await;
    let account = env.customer("Acme BV");
    let address = json!({"Account": account, "Type": 3, "AddressLine1": "Main 1", "City": "Delft", "Country": "NL"});
    let (s1, a) = env.post_json("crm/Addresses", address.clone(), false).await;
    let (s2, b) = env.post_json("crm/Addresses", address, false).await;
    assert_eq!((s1, s2), (201, 201));
    assert_eq!(a["d"]["ID"], b["d"]["ID"]);
    assert_eq!(
        env.emu.entities(DIVISION, "crm/Addresses").unwrap().len(),
        1
    );
    let (status, body) = env
        .post_json(
            "crm/Addresses",
            json!({"Account": account, "Type": 7}),
            false,
        )
        .await;
    assert_eq!(status, 500);
    assert_eq!(error_message(&body), "Invalid: Type");
}

#[tokio::test]
async fn contacts_need_an_account_and_a_first_or_last_name() {
    let env = spawn().await;
    let account = env.customer("Acme BV");
    let (status, body) = env
        .post_json("crm/Contacts", json!({"Account": account}), false)
        .await;
    assert_eq!(status, 500);
    assert_eq!(
        error_message(&body),
        "Provide at least first name or last name"
    );
    let (status, body) = env
        .post_json(
            "crm/Contacts",
            json!({"Account": account, "FirstName": "Ada", "LastName": "Lovelace"}),
            true,
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(body["d"]["FullName"], "Ada Lovelace");
    assert_eq!(body["d"]["AccountIsCustomer"], true);
}

#[tokio::test]
async fn vat_codes_carry_percentages_and_a_combined_code_exists() {
    let env = spawn().await;
    let (_, body) = env
        .get_json("vat/VATCodes?$select=ID,Code,Percentage")
        .await;
    let rows = body["d"]["results"].as_array().unwrap();
    let find = |c: &str| rows.iter().find(|r| r["Code"] == c).unwrap().clone();
    assert_eq!(find("2  ")["Percentage"], json!(0.21));
    let combined = find("5  ");
    let (_, pct) = env
        .get_json(&format!(
            "vat/VATCodes(guid'{}')/VATPercentages",
            combined["ID"].as_str().unwrap()
        ))
        .await;
    assert_eq!(pct["d"]["results"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn divisions_are_listed_for_the_user() {
    let env = spawn().await;
    let (status, body) = env
        .get_json("system/Divisions?$select=Code,Description")
        .await;
    assert_eq!(status, 200);
    let codes: Vec<i64> = body["d"]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["Code"].as_i64().unwrap())
        .collect();
    assert_eq!(codes, vec![DIVISION as i64]);
    let (_, all) = env.get_json("hrm/Divisions?$select=Code,Description").await;
    assert_eq!(all["d"]["results"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn beta_paths_and_bulk_filters_reach_the_same_data() {
    let env = spawn().await;
    env.customer("Beta BV");
    let r = env
        .http
        .get(format!(
            "{}/api/v1/beta/{DIVISION}/crm/Accounts?$filter=Name eq 'Beta BV'&$select=ID",
            env.base
        ))
        .bearer_auth(&env.token)
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["d"]["results"].as_array().unwrap().len(), 1);
    let (status, body) = env
        .get_json("bulk/CRM/Accounts?$select=ID,Name&$filter=Name eq 'Beta BV'")
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["d"]["results"][0]["Name"], "Beta BV");
    assert!(
        body["d"]["results"][0]["__metadata"]["uri"]
            .as_str()
            .unwrap()
            .contains("/bulk/CRM/Accounts(guid'")
    );
}

/// Issue 20 item 4: XML request bodies (an Atom entry, reference §1.3) are accepted on POST and PUT and read
/// into the same object as JSON, inline lines included.
#[tokio::test]
async fn atom_xml_bodies_are_accepted_on_post_and_put() {
    let env = spawn().await;
    let customer = env.customer("Xml Customer");
    let gl = env.gl("8000");
    let entry = format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<entry xmlns="http://www.w3.org/2005/Atom" xmlns:d="http://schemas.microsoft.com/ado/2007/08/dataservices" xmlns:m="http://schemas.microsoft.com/ado/2007/08/dataservices/metadata">
  <link rel="http://schemas.microsoft.com/ado/2007/08/dataservices/related/SalesEntryLines" type="application/atom+xml;type=feed" title="SalesEntryLines">
    <m:inline><feed><entry><content type="application/xml"><m:properties>
      <d:GLAccount m:type="Edm.Guid">{gl}</d:GLAccount><d:AmountFC m:type="Edm.Double">100</d:AmountFC><d:VATCode>2</d:VATCode>
    </m:properties></content></entry></feed></m:inline>
  </link>
  <content type="application/xml"><m:properties>
    <d:Journal>70</d:Journal><d:Customer m:type="Edm.Guid">{customer}</d:Customer>
    <d:YourRef>XML-1</d:YourRef><d:EntryDate m:type="Edm.DateTime">2026-06-01T00:00:00</d:EntryDate>
    <d:Description m:null="true" />
  </m:properties></content>
</entry>"#
    );
    let r = env
        .api(Method::POST, "salesentry/SalesEntries")
        .header("content-type", "application/atom+xml")
        .header("prefer", "return=representation")
        .body(entry)
        .send()
        .await
        .unwrap();
    let (status, body) = status_json(r).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["d"]["YourRef"], "XML-1");
    assert_eq!(body["d"]["AmountFC"], json!(121));
    assert_eq!(
        body["d"]["SalesEntryLines"]["results"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let put = r#"<entry xmlns="http://www.w3.org/2005/Atom" xmlns:d="http://schemas.microsoft.com/ado/2007/08/dataservices" xmlns:m="http://schemas.microsoft.com/ado/2007/08/dataservices/metadata"><content type="application/xml"><m:properties><d:City>Delft</d:City></m:properties></content></entry>"#;
    let r = env
        .api(Method::PUT, &format!("crm/Accounts(guid'{customer}')"))
        .header("content-type", "application/xml")
        .body(put)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    let stored = env
        .emu
        .entity(DIVISION, "crm/Accounts", &customer)
        .unwrap()
        .unwrap();
    assert_eq!(stored["City"], "Delft");
    assert_eq!(stored["Name"], "Xml Customer");

    // Broken XML, or XML that is not an entry, is a 400 like a broken JSON body.
    for bad in ["<entry><content>", "<feed/>"] {
        let r = env
            .api(Method::POST, "crm/Accounts")
            .header("content-type", "application/xml")
            .body(bad)
            .send()
            .await
            .unwrap();
        let (status, body) = status_json(r).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert!(
            error_message(&body).starts_with("Error processing request stream."),
            "{body}"
        );
    }
}
