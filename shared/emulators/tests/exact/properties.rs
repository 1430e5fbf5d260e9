//! Full property sets (issue 15 items 2–4): for every entity the emulator serves, the properties a GET without
//! `$select` returns are exactly those the emulator's `$metadata` declares and those of the checked-in list
//! taken from Exact's reference page (`shared/emulators/reference/exact/*.txt`); every documented navigation
//! property is deferred when not expanded and expands to `{"results": [...]}`.

use std::collections::BTreeSet;
use std::path::PathBuf;

use ledgerlink_emulators::exact::PaymentSpec;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{DIVISION, Env, spawn, status_json};

/// (reference file, GET path under `/api/v1/{division}/` returning at least one row without `$select`).
const SERVED: &[(&str, &str)] = &[
    ("crm.Accounts", "crm/Accounts?$filter=Name ne 'nobody'"),
    ("crm.Addresses", "crm/Addresses"),
    ("crm.Contacts", "crm/Contacts"),
    ("financial.GLAccounts", "financial/GLAccounts"),
    ("financial.Journals", "financial/Journals"),
    ("logistics.Items", "logistics/Items?$filter=Code ne 'x'"),
    ("salesinvoice.SalesInvoices", "salesinvoice/SalesInvoices"),
    (
        "salesinvoice.SalesInvoiceLines",
        "salesinvoice/SalesInvoiceLines",
    ),
    ("vat.VATCodes", "vat/VATCodes"),
    ("vat.VATPercentages", "vat/VATPercentages"),
    ("general.Currencies", "general/Currencies"),
    ("salesentry.SalesEntries", "salesentry/SalesEntries"),
    ("salesentry.SalesEntryLines", "salesentry/SalesEntryLines"),
    (
        "purchaseentry.PurchaseEntries",
        "purchaseentry/PurchaseEntries",
    ),
    (
        "purchaseentry.PurchaseEntryLines",
        "purchaseentry/PurchaseEntryLines",
    ),
    (
        "generaljournalentry.GeneralJournalEntries",
        "generaljournalentry/GeneralJournalEntries?$top=1",
    ),
    (
        "generaljournalentry.GeneralJournalEntryLines",
        "generaljournalentry/GeneralJournalEntryLines",
    ),
    (
        "financialtransaction.BankEntries",
        "financialtransaction/BankEntries",
    ),
    (
        "financialtransaction.BankEntryLines",
        "financialtransaction/BankEntryLines",
    ),
    ("cashflow.Receivables", "cashflow/Receivables"),
    ("cashflow.Payments", "cashflow/Payments"),
    (
        "cashflow.PaymentTerms",
        "sync/Cashflow/PaymentTerms?$select=*&$filter=Timestamp gt 1L",
    ),
    (
        "webhooks.WebhookSubscriptions",
        "webhooks/WebhookSubscriptions",
    ),
    ("system.Divisions", "system/Divisions"),
    ("hrm.Divisions", "hrm/Divisions"),
    (
        "sync.Deleted",
        "sync/Deleted?$select=*&$filter=Timestamp gt 1L",
    ),
    (
        "read.financial.ReceivablesList",
        "read/financial/ReceivablesList",
    ),
    ("current.Me", "current/Me"),
    (
        "financialtransaction.TransactionLines",
        "financialtransaction/TransactionLines",
    ),
    (
        "sync.Financial.TransactionLines",
        "sync/Financial/TransactionLines?$select=*&$filter=Timestamp gt 1L",
    ),
    (
        "read.sync.Sync.SyncTimestamp",
        "read/sync/Sync/SyncTimestamp?modified=datetime'2000-01-01'&endPoint='TransactionLines'",
    ),
];

struct Documented {
    properties: BTreeSet<String>,
    navigations: BTreeSet<String>,
    dated: bool,
}

fn documented(file: &str) -> Documented {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("reference/exact")
        .join(format!("{file}.txt"));
    let text = std::fs::read_to_string(&path).unwrap();
    let mut d = Documented {
        properties: BTreeSet::new(),
        navigations: BTreeSet::new(),
        dated: text.lines().any(|l| l.starts_with("# as of ")),
    };
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let mut parts = line.split('\t');
        let name = parts.next().unwrap().to_owned();
        if parts.next().unwrap().starts_with("Collection(") {
            d.navigations.insert(name);
        } else {
            d.properties.insert(name);
        }
    }
    d
}

/// Property and navigation names of `type_name` in a `$metadata` document.
fn declared(doc: &str, type_name: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let start = doc
        .find(&format!("<EntityType Name=\"{type_name}\">"))
        .unwrap_or_else(|| panic!("{type_name} declared"));
    let body = &doc[start..start + doc[start..].find("</EntityType>").unwrap()];
    let names = |tag: &str| -> BTreeSet<String> {
        body.split(tag)
            .skip(1)
            .map(|rest| {
                let rest = rest.trim_start().strip_prefix("Name=\"").unwrap();
                rest[..rest.find('"').unwrap()].to_owned()
            })
            .collect()
    };
    (names("<Property "), names("<NavigationProperty "))
}

async fn get(env: &Env, url: &str) -> (u16, Value) {
    let r = env
        .http
        .get(url)
        .bearer_auth(&env.token)
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    status_json(r).await
}

async fn metadata(env: &Env, service: &str) -> String {
    let r = env
        .api(Method::GET, &format!("{service}/$metadata"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200, "{service}/$metadata");
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/xml")
    );
    r.text().await.unwrap()
}

/// One of everything: accounts, an address and a contact, a sales entry paid in full and one left open, a
/// supplier's purchase entry paid, a general journal entry, a webhook subscription, a deleted record.
async fn populated() -> Env {
    // Dozens of calls follow: more than the 60 a minute a real app gets.
    let env = crate::helpers::spawn_with(|c| c.minutely_limit = 10_000).await;
    let customer = env.customer("Props Customer");
    let supplier = env.supplier("Props Supplier");
    env.emu
        .seed(
            DIVISION,
            "crm/Addresses",
            json!({"Account": customer, "Type": 3, "AddressLine1": "Main 1", "City": "Delft"}),
        )
        .unwrap();
    env.emu
        .seed(
            DIVISION,
            "crm/Contacts",
            json!({"Account": customer, "FirstName": "Ann", "LastName": "Smit"}),
        )
        .unwrap();
    let (status, paid) = env
        .post_json(
            "salesentry/SalesEntries",
            env.sales_entry_body(&customer, "PROPS-1", "100"),
            false,
        )
        .await;
    assert_eq!(status, 201, "{paid}");
    let (status, open) = env
        .post_json(
            "salesentry/SalesEntries",
            env.sales_entry_body(&customer, "PROPS-2", "50"),
            false,
        )
        .await;
    assert_eq!(status, 201, "{open}");
    let _ = open;
    env.emu
        .register_payment(PaymentSpec {
            division: DIVISION,
            entry_id: paid["d"]["EntryID"].as_str().unwrap().to_owned(),
            amount: None,
            date: None,
            employee: false,
        })
        .unwrap();
    let (status, purchase) = env
        .post_json(
            "purchaseentry/PurchaseEntries",
            json!({"Journal": "60", "Supplier": supplier, "YourRef": "PROPS-SUP",
                   "PurchaseEntryLines": [{"GLAccount": env.gl("4000"), "AmountFC": 10}]}),
            false,
        )
        .await;
    assert_eq!(status, 201, "{purchase}");
    env.emu
        .register_payment(PaymentSpec {
            division: DIVISION,
            entry_id: purchase["d"]["EntryID"].as_str().unwrap().to_owned(),
            amount: None,
            date: None,
            employee: false,
        })
        .unwrap();
    let (status, gj) = env
        .post_json(
            "generaljournalentry/GeneralJournalEntries",
            json!({"JournalCode": "90", "GeneralJournalEntryLines": [
                {"GLAccount": env.gl("4000"), "AmountFC": "5"}, {"GLAccount": env.gl("1100"), "AmountFC": "-5"}]}),
            false,
        )
        .await;
    assert_eq!(status, 201, "{gj}");
    env.emu
        .seed(
            DIVISION,
            "webhooks/WebhookSubscriptions",
            json!({"CallbackURL": "https://hooks.example/exact", "Topic": "Accounts", "ClientID": crate::helpers::CLIENT_ID}),
        )
        .unwrap();
    let (status, item) = env
        .post_json(
            "logistics/Items",
            json!({"Code": "PROPS", "Description": "Props item", "GLRevenue": env.gl("8000")}),
            false,
        )
        .await;
    assert_eq!(status, 201, "{item}");
    let (status, invoice) = env
        .post_json(
            "salesinvoice/SalesInvoices",
            json!({"Journal": "70", "OrderedBy": customer,
                   "SalesInvoiceLines": [{"Item": item["d"]["ID"], "UnitPrice": 5}]}),
            false,
        )
        .await;
    assert_eq!(status, 201, "{invoice}");
    let gone = env.customer("Props Gone");
    env.emu.delete(DIVISION, "crm/Accounts", &gone).unwrap();
    env
}

#[tokio::test]
async fn every_entity_returns_its_full_documented_property_set_as_its_metadata_declares() {
    let env = populated().await;
    let mut failures = Vec::new();
    for (file, path) in SERVED {
        let reference = documented(file);
        assert!(reference.dated, "{file}: the reference list names its date");
        let url = if path.starts_with("current/") {
            format!("{}/api/v1/{path}", env.base)
        } else {
            format!("{}/api/v1/{DIVISION}/{path}", env.base)
        };
        let (status, body) = get(&env, &url).await;
        assert_eq!(status, 200, "{path}: {body}");
        let row = body["d"]["results"]
            .as_array()
            .and_then(|a| a.first())
            .unwrap_or_else(|| panic!("{path}: at least one row: {body}"))
            .as_object()
            .unwrap()
            .clone();
        let returned: BTreeSet<String> =
            row.keys().filter(|k| *k != "__metadata").cloned().collect();
        let type_name = row["__metadata"]["type"]
            .as_str()
            .unwrap()
            .rsplit('.')
            .next()
            .unwrap()
            .to_owned();
        let service = file.split('.').next().unwrap();
        let doc = metadata(&env, service).await;
        let (props, navs) = declared(&doc, &type_name);
        let all_declared: BTreeSet<String> = props.union(&navs).cloned().collect();
        let all_documented: BTreeSet<String> = reference
            .properties
            .union(&reference.navigations)
            .cloned()
            .collect();
        // Sync rows carry their Timestamp whether or not the entity documents it.
        let returned_no_ts: BTreeSet<String> = returned
            .iter()
            .filter(|k| {
                !(path.starts_with("sync/") && *k == "Timestamp" && !all_documented.contains(*k))
            })
            .cloned()
            .collect();
        if returned_no_ts != all_declared {
            failures.push(format!(
                "{path}: returned but not declared {:?}; declared but not returned {:?}",
                returned_no_ts.difference(&all_declared).collect::<Vec<_>>(),
                all_declared.difference(&returned_no_ts).collect::<Vec<_>>()
            ));
        }
        if all_declared != all_documented {
            failures.push(format!(
                "{file}: declared but not documented {:?}; documented but not declared {:?}",
                all_declared.difference(&all_documented).collect::<Vec<_>>(),
                all_documented.difference(&all_declared).collect::<Vec<_>>()
            ));
        }
        // Navigations are deferred links on regular endpoints.
        if !path.starts_with("sync/") && !path.starts_with("read/") && !path.starts_with("current/")
        {
            for nav in &reference.navigations {
                let uri = row[nav.as_str()]["__deferred"]["uri"]
                    .as_str()
                    .unwrap_or_default();
                if !uri.ends_with(&format!(")/{nav}")) {
                    failures.push(format!(
                        "{path}: {nav} is not deferred: {}",
                        row[nav.as_str()]
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn every_documented_navigation_expands_to_results_and_gl_accounts_expand_deductibility_percentages()
 {
    let env = populated().await;
    for (file, path) in SERVED {
        if path.starts_with("sync/") || path.starts_with("read/") || path.starts_with("current/") {
            continue;
        }
        for nav in documented(file).navigations {
            let sep = if path.contains('?') { '&' } else { '?' };
            let url = format!("{}/api/v1/{DIVISION}/{path}{sep}$expand={nav}", env.base);
            let (status, body) = get(&env, &url).await;
            assert_eq!(status, 200, "{path} $expand={nav}: {body}");
            let row = &body["d"]["results"][0];
            assert!(
                row[nav.as_str()]["results"].is_array(),
                "{path} $expand={nav}: {}",
                row[nav.as_str()]
            );
        }
    }
    // The lines of an entry come back expanded with their own properties.
    let (status, body) = env
        .get_json("salesentry/SalesEntries?$expand=SalesEntryLines&$filter=YourRef eq 'PROPS-1'")
        .await;
    assert_eq!(status, 200);
    let lines = body["d"]["results"][0]["SalesEntryLines"]["results"]
        .as_array()
        .unwrap();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["AmountFC"], json!(100));
    // Expanding a navigation GLAccounts does not have is still a 400.
    let (status, _) = env.get_json("financial/GLAccounts?$expand=Nothing").await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn metadata_is_served_per_service_and_unknown_services_are_404() {
    let env = spawn().await;
    let doc = metadata(&env, "financial").await;
    assert!(doc.contains("<EntityType Name=\"GLAccount\">"));
    assert!(doc.contains("<NavigationProperty Name=\"DeductibilityPercentages\""));
    assert!(doc.contains("<EntitySet Name=\"Journals\""));
    // Service segments are case-insensitive, like the rest of the routing.
    let doc = metadata(&env, "CRM").await;
    assert!(doc.contains("<EntitySet Name=\"Accounts\""));
    let r = env
        .api(Method::GET, "nosuchservice/$metadata")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
}
