use ledgerlink_emulators::vantagepoint::{Envelope, FirmAutonumber, VantagepointConfig};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

#[tokio::test]
async fn a_single_firm_get_returns_a_one_element_array() {
    let vp = spawn().await;
    let token = vp.token().await;
    let id = &vp.demo.client_ids[0];

    let (status, body) = vp.get(&token, &format!("/firm/{id}")).await;
    let (missing, _) = vp.get(&token, "/firm/NOPE").await;

    assert_eq!(status, StatusCode::OK);
    assert_eq!(rows(&body).len(), 1);
    assert_eq!(body[0]["ClientID"], id.as_str());
    assert!(matches!(body[0]["ClientInd"].as_str(), Some("Y" | "N")));
    assert_eq!(missing, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_wrapped_envelope_mode_wraps_every_array() {
    let vp = spawn_with(VantagepointConfig {
        envelope: Envelope::Wrapped { key: "rows".into() },
        ..VantagepointConfig::default()
    })
    .await;
    let token = vp.token().await;

    let (_, body) = vp.get(&token, "/Settings/ActivePeriod").await;

    assert_eq!(body["rows"][0]["Period"], 202606);
}

#[tokio::test]
async fn quirks_mode_renders_numbers_and_account_codes_as_strings() {
    let vp = spawn_with(VantagepointConfig {
        numbers_as_strings: true,
        ..VantagepointConfig::default()
    })
    .await;
    let token = vp.token().await;

    let (_, body) = vp.get(&token, "/Accounts/12100").await;

    assert_eq!(body[0]["Account"], "12100.00");
    assert_eq!(body[0]["Type"], "1");
}

#[tokio::test]
async fn firm_paging_ordering_and_field_filter_apply() {
    let vp = spawn().await;
    let token = vp.token().await;

    let (_, all) = vp
        .get(&token, "/firm?order=Name_D&fieldFilter=ClientID,Name")
        .await;
    let (_, page2) = vp.get(&token, "/firm?order=Name_D&pageSize=3&page=2").await;
    let (_, offset) = vp.get(&token, "/firm?order=Name_D&limit=3&offset=3").await;

    let names: Vec<&str> = rows(&all)
        .iter()
        .map(|r| r["Name"].as_str().unwrap())
        .collect();
    let mut sorted = names.clone();
    sorted.sort_by_key(|name| std::cmp::Reverse(name.to_lowercase()));
    assert_eq!(names, sorted);
    assert_eq!(all[0].as_object().unwrap().len(), 2);
    assert_eq!(rows(&page2).len(), 3);
    assert_eq!(page2[0]["Name"], names[3]);
    assert_eq!(offset[0]["Name"], names[3]);
}

#[tokio::test]
async fn firms_changed_in_a_window_are_found_with_filter_hash_on_mod_date_and_client_ind() {
    let vp = spawn().await;
    let token = vp.token().await;
    vp.clock.advance(std::time::Duration::from_secs(600));
    let changed = vp.demo.client_ids[0].clone();
    vp.emulator
        .update_firm(
            &changed,
            json!({"Name": "Acme Renamed"}).as_object().unwrap().clone(),
        )
        .unwrap();
    let query = format!(
        "/firm?{}&{}&{}",
        term(0, "ModDate", ">=", "2026-06-15T10:05:00.000Z", "datetime"),
        term(1, "ModDate", "<", "2026-06-15T10:15:00.000Z", "datetime"),
        term(2, "ClientInd", "==", "Y", "string"),
    );

    let (status, body) = vp.get(&token, &query).await;

    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(rows(&body).len(), 1);
    assert_eq!(body[0]["ClientID"], changed.as_str());
}

#[tokio::test]
async fn posting_a_firm_number_with_autonumber_on_is_refused_with_vps_message() {
    let vp = spawn().await;
    let token = vp.token().await;

    let (status, body) = vp
        .post(
            &token,
            "/firm",
            &json!({"Name": "New Co", "Client": "C-9", "ClientInd": "Y"}),
        )
        .await;

    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["Message"],
        "Firm Number value ignored, autonumber enabled and override is not allowed"
    );
}

#[tokio::test]
async fn a_created_firm_is_echoed_as_an_array_without_its_autonumber_which_a_get_then_shows() {
    let vp = spawn().await;
    let token = vp.token().await;

    let (status, body) = vp
        .post(
            &token,
            "/firm",
            &json!({"Name": "New Co", "ClientInd": "Y", "VendorInd": "N", "ExportInd": false, "PriorWork": "false"}),
        )
        .await;

    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(body[0]["ExportInd"], "N");
    assert_eq!(body[0]["PriorWork"], "N");
    assert_eq!(body[0]["AvailableToAccountingUsers"], "Y");
    let id = body[0]["ClientID"].as_str().unwrap().to_owned();
    assert_eq!(body[0]["Client"], "");
    let (_, fetched) = vp.get(&token, &format!("/firm/{id}")).await;
    assert!(!fetched[0]["Client"].as_str().unwrap().is_empty());
}

#[tokio::test]
async fn a_firm_number_is_accepted_when_autonumbering_is_off() {
    let vp = spawn_with(VantagepointConfig {
        firm_autonumber: FirmAutonumber::Off,
        ..VantagepointConfig::default()
    })
    .await;
    let token = vp.token().await;

    let (status, body) = vp
        .post(
            &token,
            "/firm",
            &json!({"Name": "New Co", "Client": "C-9", "ClientInd": "Y"}),
        )
        .await;

    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body[0]["Client"], "C-9");
}

/// Issue 20 VP item 3: the reference cites both "no edits" and code that edits addresses through `PUT /firm`
/// with `CLAddressID` and `PUT /firm/{id}/address/{id}`; both behaviours sit behind `firm_address_edits`.
async fn add_and_edit_address(vp: &Vp) -> (StatusCode, StatusCode, Value) {
    let token = vp.token().await;
    let id = &vp.demo.client_ids[1];
    let address = json!({"Address": "Remit", "PrimaryInd": "false", "Payment": "true", "Billing": "Y", "City": "Gent"});
    let (created, body) = vp
        .post(&token, &format!("/firm/{id}/address"), &address)
        .await;
    assert_eq!(created, StatusCode::CREATED);
    assert_eq!(
        (
            body[0]["Payment"].as_str(),
            body[0]["PrimaryInd"].as_str(),
            body[0]["Billing"].as_str()
        ),
        (Some("Y"), Some("N"), Some("Y"))
    );
    let address_id = body[0]["CLAddressID"].as_str().unwrap().to_owned();
    let (edit, _) = vp
        .put(
            &token,
            &format!("/firm/{id}/address/{address_id}"),
            &json!({"City": "Brugge", "Billing": "false"}),
        )
        .await;
    let (_, after_edit) = vp.get(&token, &format!("/firm/{id}/address")).await;
    let (put_grid, _) = vp
        .put(
            &token,
            &format!("/firm/{id}"),
            &json!({"CLAddress": [{"CLAddressID": address_id, "Address2": "Dok 1"}]}),
        )
        .await;
    let (_, list) = vp.get(&token, &format!("/firm/{id}/address")).await;
    let remit = |l: &Value| {
        rows(l)
            .iter()
            .find(|a| a["Address"] == "Remit")
            .unwrap()
            .clone()
    };
    let mut after = remit(&list);
    after["CityAfterFirstEdit"] = remit(&after_edit)["City"].clone();
    (edit, put_grid, after)
}

#[tokio::test]
async fn firm_addresses_are_added_with_true_false_flags_and_edited_in_both_forms() {
    let vp = spawn().await;
    let (edit, put_grid, after) = add_and_edit_address(&vp).await;
    assert_eq!(edit, StatusCode::OK);
    assert_eq!(put_grid, StatusCode::OK);
    assert_eq!(after["CityAfterFirstEdit"], "Brugge");
    assert_eq!(after["City"], "Brugge");
    assert_eq!(after["Billing"], "N");
    assert_eq!(after["Address2"], "Dok 1");
}

#[tokio::test]
async fn firm_address_edits_are_refused_in_both_forms_when_the_database_does_not_allow_them() {
    let vp = spawn_with(VantagepointConfig {
        firm_address_edits: false,
        ..Default::default()
    })
    .await;
    let (edit, put_grid, after) = add_and_edit_address(&vp).await;
    assert_eq!(edit, StatusCode::BAD_REQUEST);
    assert_eq!(put_grid, StatusCode::BAD_REQUEST);
    assert_eq!(after["City"], "Gent");
    assert!(after["Address2"].is_null() || after["Address2"] == "");
}

#[tokio::test]
async fn accounts_post_requires_the_blank_columns_to_be_present() {
    let vp = spawn().await;
    let token = vp.token().await;
    let bare =
        json!({"Account": "61000", "Name": "Software", "Status": "A", "Type": "9", "Detail": "1"});
    let mut full = bare.clone();
    for c in [
        "CashBasisAccount",
        "UnrealizedLossAccount",
        "UnrealizedGainAccount",
        "CashBasisRevaluation",
    ] {
        full[c] = json!("");
    }

    let (refused, message) = vp.post(&token, "/Accounts/", &bare).await;
    let (created, body) = vp.post(&token, "/Accounts/", &full).await;
    let (duplicate, _) = vp.post(&token, "/Accounts/", &full).await;
    let (updated, renamed) = vp
        .put(
            &token,
            "/Accounts/61000",
            &json!({"Name": "Software licences"}),
        )
        .await;

    assert_eq!(refused, StatusCode::BAD_REQUEST);
    assert!(
        message["Message"]
            .as_str()
            .unwrap()
            .contains("CashBasisAccount")
    );
    assert_eq!(created, StatusCode::CREATED);
    assert_eq!(body[0]["Type"], 9);
    assert_eq!(duplicate, StatusCode::BAD_REQUEST);
    assert_eq!(updated, StatusCode::OK);
    assert_eq!(renamed[0]["Name"], "Software licences");
}

#[tokio::test]
async fn vision_only_endpoints_answer_under_vision_and_404_under_api() {
    let vp = spawn().await;
    let token = vp.token().await;
    let vision = vp.vision();

    let (under_api, _) = vp.get(&token, "/TaxCodeEntity/").await;
    let (taxes_status, taxes) = vp.get(&token, &format!("{vision}/TaxCodeEntity/")).await;
    let (created, _) = vp
        .post(
            &token,
            &format!("{vision}/TaxCodeEntity/"),
            &json!({"Code": "X0001", "Description": "BTW 21%", "Rate": 21}),
        )
        .await;
    let (_, banks) = vp.get(&token, &format!("{vision}/BankCode/CFGBANKS")).await;
    let (_, autopost) = vp
        .get(
            &token,
            &format!("{vision}/AccountConfiguration/CFGAutoPosting?company=A0"),
        )
        .await;

    assert_eq!(under_api, StatusCode::NOT_FOUND);
    assert_eq!(taxes_status, StatusCode::OK);
    let pst = rows(&taxes).iter().find(|t| t["Code"] == "PST").unwrap();
    assert_eq!(pst["CompoundOnTaxCode"], "GST");
    assert_eq!(created, StatusCode::CREATED);
    assert_eq!(
        vp.emulator
            .tax_codes()
            .iter()
            .filter(|t| t["Code"] == "X0001")
            .count(),
        1
    );
    assert!(
        rows(&banks)
            .iter()
            .any(|b| b["Code"] == "EURBANK" && b["Account"] == "11110")
    );
    assert_eq!(autopost[0]["AcctsReceivable"], "12100");
}

#[tokio::test]
async fn routes_match_case_insensitively_like_iis() {
    let vp = spawn().await;
    let token = vp.token().await;

    let (status, body) = vp.get(&token, "/settings/activeperiod").await;
    let (ledger, _) = vp.get(&token, "/psaledger/in?q.maxrows=1").await;

    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(ledger, StatusCode::OK);
}

#[tokio::test]
async fn the_active_period_is_per_user_and_returns_period_and_raw_period() {
    let vp = spawn().await;
    let token = vp.token().await;

    let (_, before) = vp.get(&token, "/Settings/ActivePeriod").await;
    let (status, after) = vp
        .put(&token, "/Settings/ActivePeriod/202605", &json!({}))
        .await;
    let (invalid, _) = vp
        .put(&token, "/Settings/ActivePeriod/209901", &json!({}))
        .await;

    assert_eq!(
        (
            before[0]["Period"].as_i64(),
            before[0]["RawPeriod"].as_i64()
        ),
        (Some(202606), Some(202606))
    );
    assert_eq!(status, StatusCode::OK);
    assert_eq!(after[0]["Period"], 202605);
    assert_eq!(invalid, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn projects_expose_billing_client_and_billing_group_and_code_tables_list_currencies() {
    let vp = spawn().await;
    let token = vp.token().await;

    let (_, second) = vp.get(&token, "/project/2026-002").await;
    let (_, member) = vp.get(&token, "/project/2026-004").await;
    let (_, phases) = vp
        .get(
            &token,
            &format!(
                "/project?wbstype=wbs2&{}",
                term(0, "WBS1", "=", "2026-001", "string")
            ),
        )
        .await;
    let (_, currencies) = vp.get(&token, "/codeTable/FW_CFGCurrency").await;
    let (_, org_codes) = vp.get(&token, "/codeTable/CFGOrgCodes").await;
    let (_, format) = vp.get(&token, "/KeyCvt/CFGFormat").await;

    assert_ne!(second[0]["BillingClientID"], second[0]["ClientID"]);
    assert_eq!(
        (
            member[0]["MainWBS1"].as_str(),
            member[0]["ConsolidatePosting"].as_str()
        ),
        (Some("2026-003"), Some("Y"))
    );
    assert_eq!(rows(&phases).len(), 2);
    assert!(rows(&currencies).iter().any(|c| c["Code"] == "USD"));
    assert_eq!(org_codes[0]["Code"], "A0");
    assert_eq!(format[0]["ClientLength"], 20);
}

#[tokio::test]
async fn demo_data_is_deterministic_for_a_seed() {
    let a = spawn().await;
    let b = spawn().await;

    assert_eq!(a.demo, b.demo);
    assert_eq!(a.emulator.ledger_rows("IN"), b.emulator.ledger_rows("IN"));
    assert!(a.demo.syncable_client_ids.len() < a.demo.client_ids.len());
}

#[tokio::test]
async fn metadata_describes_a_hub_as_one_object_with_required_fields() {
    let vp = spawn().await;
    let token = vp.token().await;

    let (status, firm) = vp.get(&token, "/metadata/firm").await;
    let (_, accounts) = vp.get(&token, "/metadata/Accounts").await;
    let (missing, _) = vp.get(&token, "/metadata/nothing").await;

    assert_eq!(status, StatusCode::OK);
    assert_eq!(firm["TableName"], "firm");
    let name = firm["Fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["FieldName"] == "Name")
        .unwrap();
    assert_eq!(name["IsRequired"], true);
    let blank = accounts["Fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["FieldName"] == "CashBasisAccount")
        .unwrap();
    assert_eq!(blank["IsRequired"], true);
    assert_eq!(missing, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_session_in_another_culture_sees_text_not_translated_for_tax_and_account_names() {
    let vp = spawn().await;
    let mut form = vp.grant_form(PASSWORD);
    form.push(("culture", "nl-NL".into()));
    let (_, other) = vp.token_response(&form).await;
    let other = other["access_token"].as_str().unwrap().to_owned();
    let same = vp.token().await;

    let (_, mismatched) = vp.get(&other, "/Accounts").await;
    let (_, taxes) = vp
        .get(&other, &format!("{}/TaxCodeEntity/", vp.vision()))
        .await;
    let (_, matched) = vp.get(&same, "/Accounts").await;

    assert!(
        rows(&mismatched)
            .iter()
            .all(|a| a["Name"] == "Text not translated")
    );
    assert!(
        rows(&taxes)
            .iter()
            .all(|t| t["Description"] == "Text not translated")
    );
    assert!(
        rows(&matched)
            .iter()
            .any(|a| a["Name"] == "Accounts Receivable")
    );
}

#[tokio::test]
async fn a_firm_lists_the_projects_it_is_client_or_billing_client_of() {
    let vp = spawn().await;
    let token = vp.token().await;
    let (_, project) = vp.get(&token, "/project/2026-002").await;
    let billing_client = project[0]["BillingClientID"].as_str().unwrap().to_owned();

    let (status, body) = vp
        .get(&token, &format!("/firm/{billing_client}/project"))
        .await;

    assert_eq!(status, StatusCode::OK);
    assert!(
        rows(&body)
            .iter()
            .any(|p| p["WBS1"] == "2026-002" && p["Role"] == "Billing")
    );
}

#[tokio::test]
async fn vendor_accounting_is_created_under_vision_and_updated_through_the_firm() {
    let vp = spawn().await;
    let token = vp.token().await;
    let vendor = vp.demo.vendors[0].clone();
    let client_id = vp
        .emulator
        .firms()
        .into_iter()
        .find(|f| f["Vendor"] == vendor.as_str())
        .map(|f| f["ClientID"].as_str().unwrap().to_owned())
        .unwrap();

    let (created, _) = vp
        .post(
            &token,
            &format!("{}/firm/VendorAccountingInfo/", vp.vision()),
            &json!({"Vendor": vendor, "PayTerms": "14", "Req1099": "N"}),
        )
        .await;
    let (updated, _) = vp
        .put(
            &token,
            &format!("/firm/{client_id}"),
            &json!({"VEAccounting": [{"PayTerms": "Next"}]}),
        )
        .await;
    let (_, info) = vp
        .get(&token, &format!("/firm/{client_id}/vendorAccountingInfo"))
        .await;

    assert_eq!(created, StatusCode::CREATED);
    assert_eq!(updated, StatusCode::OK);
    assert_eq!(rows(&info).len(), 1);
    assert_eq!(info[0]["PayTerms"], "Next");
}

#[tokio::test]
async fn a_user_scoped_to_another_company_silently_sees_none_of_its_firms_or_ledger() {
    let vp = spawn().await;
    vp.emulator
        .add_user(ledgerlink_emulators::vantagepoint::UserSeed {
            username: "scoped".into(),
            password: "scoped-password".into(),
            visible_companies: vec!["B0".into()],
            ..Default::default()
        });
    let mut form = vp.grant_form("scoped-password");
    form.retain(|(k, _)| *k != "Username");
    form.push(("Username", "scoped".into()));
    let (_, token) = vp.token_response(&form).await;
    let token = token["access_token"].as_str().unwrap().to_owned();

    let (firm_status, firms) = vp.get(&token, "/firm").await;
    let (_, ledger) = vp.get(&token, "/PSALedger/IN").await;
    let (_, all) = vp.get(&vp.token().await, "/firm").await;

    assert_eq!(firm_status, StatusCode::OK);
    assert!(rows(&firms).is_empty());
    assert!(rows(&ledger).is_empty());
    assert!(!rows(&all).is_empty());
}

#[tokio::test]
async fn quirks_mode_renders_ledger_amounts_with_two_decimals() {
    let vp = spawn_with(VantagepointConfig {
        numbers_as_strings: true,
        ..VantagepointConfig::default()
    })
    .await;
    let token = vp.token().await;

    let (_, body) = vp
        .get(
            &token,
            &format!(
                "/PSALedger/IN?{}",
                term(0, "InvoiceSection", "=", "F", "string")
            ),
        )
        .await;

    let amount = body[0]["Amount"].as_str().unwrap();
    assert!(
        amount
            .split_once('.')
            .is_some_and(|(_, cents)| cents.len() == 2),
        "{amount}"
    );
    assert!(body[0]["Period"].is_string());
}

#[tokio::test]
async fn an_employee_is_found_by_its_multi_company_key_too() {
    let vp = spawn().await;
    let token = vp.token().await;

    let (plain, _) = vp.get(&token, "/employee/E001").await;
    let (status, body) = vp.get(&token, "/employee/E001%7CA0").await;

    assert_eq!(plain, StatusCode::OK);
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body[0]["Employee"], "E001");
    assert_eq!(body[0]["EMail"], "anna@ledgerlink-demo.example");
}

/// Issue 20 VP item 4: code-table rows are changed and deleted by key, accounts deleted (not while posted rows
/// use them), and a user without rights gets 403 on every PUT and DELETE while reads still work.
#[tokio::test]
async fn code_table_rows_and_accounts_are_changed_and_deleted_and_a_user_without_rights_gets_403() {
    let vp = spawn().await;
    let token = vp.token().await;
    let (created, _) = vp
        .post(
            &token,
            "/codeTable/CFGSuffix",
            &json!({"Code": "Esq", "Description": "Esquire"}),
        )
        .await;
    assert_eq!(created, StatusCode::CREATED);

    // PUT merges and keeps the code; a different code in the body is refused.
    let (status, body) = vp
        .put(
            &token,
            "/codeTable/CFGSuffix/Esq",
            &json!({"Description": "Esquire (Esq.)"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(rows(&body)[0]["Description"], "Esquire (Esq.)");
    let (_, stored) = vp.get(&token, "/codeTable/CFGSuffix/Esq").await;
    assert_eq!(rows(&stored)[0]["Description"], "Esquire (Esq.)");
    let (status, _) = vp
        .put(&token, "/codeTable/CFGSuffix/Esq", &json!({"Code": "Sr"}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = vp
        .put(
            &token,
            "/codeTable/CFGSuffix/Nope",
            &json!({"Description": "x"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A user whose role has no rights: reads work, PUT and DELETE are 403 and change nothing.
    vp.emulator
        .add_user(ledgerlink_emulators::vantagepoint::UserSeed {
            username: "viewer".into(),
            password: "viewer-password".into(),
            read_only: true,
            ..Default::default()
        });
    let mut form = vp.grant_form("viewer-password");
    form.retain(|(k, _)| *k != "Username");
    form.push(("Username", "viewer".into()));
    let (_, viewer) = vp.token_response(&form).await;
    let viewer = viewer["access_token"].as_str().unwrap().to_owned();
    let (status, _) = vp.get(&viewer, "/codeTable/CFGSuffix/Esq").await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = vp
        .put(
            &viewer,
            "/codeTable/CFGSuffix/Esq",
            &json!({"Description": "x"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body["Message"].as_str().unwrap().contains("rights"));
    for path in ["/codeTable/CFGSuffix/Esq", "/Accounts/11100"] {
        let (status, _) = vp
            .send(vp.http.delete(vp.url(path)).bearer_auth(&viewer))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
    }
    let (status, _) = vp
        .put(&viewer, "/Accounts/11100", &json!({"Name": "x"}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // DELETE by the admin: the code goes; an unknown code is 404.
    let delete = |path: &'static str| vp.send(vp.http.delete(vp.url(path)).bearer_auth(&token));
    let (status, _) = delete("/codeTable/CFGSuffix/Esq").await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = vp.get(&token, "/codeTable/CFGSuffix/Esq").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = delete("/codeTable/CFGSuffix/Esq").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Accounts: a new, unused account can be deleted; one with posted rows cannot.
    let mut account =
        json!({"Account": "61500", "Name": "Unused", "Status": "A", "Type": "9", "Detail": "1"});
    for c in [
        "CashBasisAccount",
        "UnrealizedLossAccount",
        "UnrealizedGainAccount",
        "CashBasisRevaluation",
    ] {
        account[c] = json!("");
    }
    let (status, _) = vp.post(&token, "/Accounts/", &account).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = delete("/Accounts/61500").await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = vp.get(&token, "/Accounts/61500").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, ledger) = vp.get(&token, "/PSALedger/IN").await;
    let posted = rows(&ledger)
        .iter()
        .find_map(|r| r["Account"].as_str().filter(|a| !a.trim().is_empty()))
        .expect("the demo posted invoices")
        .to_owned();
    let (status, body) = vp
        .send(
            vp.http
                .delete(vp.url(&format!("/Accounts/{posted}")))
                .bearer_auth(&token),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}
