//! Issue 18's cases, each as a user would meet it: a renumbered firm edited in VP, a vendor whose code is
//! another client's, an employee whose code is a client's (issue 11, spec "Employees"), an account edited in
//! Exact while VP owns firms, a firm created in Exact and then edited on both sides, and Exact owning firms.
//! Each shows: no duplicate account, no overwrite of another record, the right status and message.

use ledgerlink_domain::{Flow, ObjectType, SyncStatus};
use ledgerlink_emulators::vantagepoint::{EmployeeSeed, FirmSeed};
use ledgerlink_flows::links::{self, LinkAction};
use ledgerlink_flows::{discover, operator};
use ledgerlink_ports::{PageRequest, StatusFilter};
use serde_json::{Map, Value, json};

use crate::helpers::{Prelink, TenantFixture, World, object};

fn field<'a>(row: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    row.get(name).and_then(|v| v.as_str()).map(str::trim)
}

/// One firm-sync round: discovery, then the queue drained.
async fn round(world: &World, t: &TenantFixture) {
    world.tick();
    discover(&world.ctx, Flow::FirmSync, &t.id).await.unwrap();
    world.drain(Flow::FirmSync).await;
}

fn accounts(world: &World, t: &TenantFixture) -> Vec<Map<String, Value>> {
    world.exact.entities(t.division, "crm/Accounts").unwrap()
}

fn account(world: &World, t: &TenantFixture, id: &str) -> Map<String, Value> {
    world
        .exact
        .entity(t.division, "crm/Accounts", id)
        .unwrap()
        .unwrap()
}

async fn linked_account(world: &World, t: &TenantFixture, kind: ObjectType, key: &str) -> String {
    world
        .ctx
        .stores
        .links
        .exact_id(&t.id, kind, key)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("{kind} {key} is not linked"))
}

async fn set_setting(world: &World, t: &TenantFixture, key: &str, value: Value) {
    let mut record = world.ctx.stores.tenants.get(&t.id).await.unwrap().unwrap();
    record.settings.insert(key.into(), value);
    let version = record.version;
    world
        .ctx
        .stores
        .tenants
        .put(&record, Some(version))
        .await
        .unwrap();
}

/// Firm and employee objects in Error, with their messages.
async fn errors(world: &World, t: &TenantFixture) -> Vec<(String, String)> {
    let filter = StatusFilter {
        status: Some(SyncStatus::Error),
        ..StatusFilter::default()
    };
    world
        .ctx
        .stores
        .statuses
        .list(&t.id, &filter, PageRequest::first(500))
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|s| (s.object.key.to_string(), s.last_message.unwrap_or_default()))
        .collect()
}

/// The first syncable demo client: its ClientID, client code and name.
fn a_client(world: &World) -> (String, String, String) {
    let id = world.demo.syncable_client_ids[0].clone();
    let firm = world.vp.firm(&id).unwrap();
    (
        id,
        field(&firm, "Client").unwrap().to_owned(),
        field(&firm, "Name").unwrap().to_owned(),
    )
}

/// The fields a wrong write would have touched.
fn fingerprint(row: &Map<String, Value>) -> Vec<Option<String>> {
    ["Name", "Email", "Phone", "SearchCode", "Code", "Status"]
        .iter()
        .map(|f| field(row, f).map(str::to_owned))
        .chain([row.get("IsSupplier").map(Value::to_string)])
        .collect()
}

#[tokio::test]
async fn a_renumbered_firm_edited_in_vp_updates_its_linked_account_by_id_and_creates_no_duplicate()
{
    // Arrange: account 1000 created in Exact becomes a VP firm, which VP autonumbers.
    let world = World::spawn().await;
    let t = world.tenant_with("renumber", None, Prelink::Nothing).await;
    let exact_id = world
        .exact
        .seed(
            t.division,
            "crm/Accounts",
            json!({"Name": "Acme 1 BV", "Code": "1000", "Status": "C", "Phone": "+31 20 000 0000"}),
        )
        .unwrap();
    round(&world, &t).await;
    round(&world, &t).await;
    let client_id = world
        .ctx
        .stores
        .links
        .vp_key(&t.id, ObjectType::Firm, &exact_id)
        .await
        .unwrap()
        .unwrap();
    let vp_code = field(&world.vp.firm(&client_id).unwrap(), "Client")
        .unwrap()
        .to_owned();
    assert_ne!(vp_code, "1000", "VP renumbered the firm");
    let before = accounts(&world, &t).len();

    // Act: a phone number edited in VP, then a rename.
    let mut phone = Map::new();
    phone.insert("PrimaryPhone".into(), json!("+31 20 555 1234"));
    world.vp.update_firm(&client_id, phone).unwrap();
    round(&world, &t).await;
    let mut name = Map::new();
    name.insert("Name".into(), json!("Acme One BV"));
    world.vp.update_firm(&client_id, name).unwrap();
    round(&world, &t).await;

    // Assert: the linked account carries both edits, found by its id; no account was added.
    assert_eq!(accounts(&world, &t).len(), before, "no duplicate account");
    let row = account(&world, &t, &exact_id);
    assert_eq!(field(&row, "Phone"), Some("+31 20 555 1234"));
    assert_eq!(field(&row, "Name"), Some("Acme One BV"));
    assert_eq!(
        field(&row, "Code"),
        Some("1000"),
        "the account keeps its code"
    );
    assert_eq!(field(&row, "SearchCode"), Some(vp_code.as_str()));
    let status = world
        .status(&t.id, ObjectType::Firm, &client_id)
        .await
        .unwrap();
    assert_eq!(
        status.status,
        SyncStatus::Success,
        "{:?}",
        status.last_message
    );
    assert_eq!(status.target_id.as_deref(), Some(exact_id.as_str()));
    assert_eq!(errors(&world, &t).await, vec![]);
}

#[tokio::test]
async fn a_vendor_whose_code_is_another_clients_code_is_refused_before_any_write_naming_both() {
    // Arrange: the demo firms are synced; a vendor-only firm is added with a client's code as vendor code.
    let world = World::spawn().await;
    let t = world
        .tenant_with("sharedcode", None, Prelink::Nothing)
        .await;
    round(&world, &t).await;
    let (client_id, code, client_name) = a_client(&world);
    let client_account = linked_account(&world, &t, ObjectType::Firm, &client_id).await;
    let untouched = fingerprint(&account(&world, &t, &client_account));
    let before = accounts(&world, &t).len();
    let vendor_id = world
        .vp
        .add_firm(FirmSeed {
            vendor: Some(code.clone()),
            name: "Shared Code Supplies BV".into(),
            is_vendor: true,
            available_to_accounting: true,
            org: "A0:01:10".into(),
            email: "ap@shared-code.example".into(),
            phone: "+31 30 111 2222".into(),
            ..FirmSeed::default()
        })
        .unwrap();

    // Act
    round(&world, &t).await;

    // Assert: Error naming both records and the ways out; the client's account is untouched.
    let vendor = world
        .status(&t.id, ObjectType::Firm, &vendor_id)
        .await
        .unwrap();
    let message = vendor.last_message.clone().unwrap_or_default();
    assert_eq!(vendor.status, SyncStatus::Error, "{message}");
    assert!(
        message.contains(&format!(
            "Vantagepoint firm \"Shared Code Supplies BV\" (vendor {code})"
        )),
        "{message}"
    );
    assert!(
        message.contains(&format!("\"{client_name}\" (client {code}")),
        "{message}"
    );
    assert!(
        message.contains("create a new Exact Online account"),
        "{message}"
    );
    assert!(message.contains("nothing was written"), "{message}");
    assert_eq!(
        fingerprint(&account(&world, &t, &client_account)),
        untouched
    );
    assert_eq!(accounts(&world, &t).len(), before);
    let client = world
        .status(&t.id, ObjectType::Firm, &client_id)
        .await
        .unwrap();
    assert_eq!(client.status, SyncStatus::Success);

    // Act 2: the operator has a new account created for the vendor.
    let change = links::act(
        &world.ctx,
        &object(&t.id, ObjectType::Firm, &vendor_id),
        &LinkAction::NewAccount,
        "dolores",
    )
    .await
    .unwrap()
    .unwrap();
    world.drain(Flow::FirmSync).await;

    // Assert 2: the vendor has its own supplier account; the client's is still untouched.
    let new_account = change.after.clone().unwrap();
    assert_ne!(new_account, client_account);
    let vendor = world
        .status(&t.id, ObjectType::Firm, &vendor_id)
        .await
        .unwrap();
    assert_eq!(
        vendor.status,
        SyncStatus::Success,
        "{:?}",
        vendor.last_message
    );
    let row = account(&world, &t, &new_account);
    assert_eq!(field(&row, "Name"), Some("Shared Code Supplies BV"));
    assert_eq!(row.get("IsSupplier"), Some(&json!(true)));
    assert_eq!(field(&row, "SearchCode"), Some(code.as_str()));
    assert_ne!(field(&row, "Code"), Some(code.as_str()));
    assert_eq!(
        fingerprint(&account(&world, &t, &client_account)),
        untouched
    );
    assert_eq!(accounts(&world, &t).len(), before + 1);
    let history = world
        .ctx
        .stores
        .statuses
        .history(&object(&t.id, ObjectType::Firm, &vendor_id), 10)
        .await
        .unwrap();
    assert!(
        history.iter().any(|a| a
            .message
            .as_deref()
            .is_some_and(|m| m.contains("created by dolores"))),
        "{history:#?}"
    );
}

/// Issue 11, spec "Employees": "When an employee record is created in Vantagepoint with the “Available
/// to” checkbox “Accounting Users” is checked, the Employee is created as a Contact in Exact Online" —
/// never on a client's account that has the same code.
#[tokio::test]
async fn employees_created_as_a_contact_in_exact_online_refuse_a_code_a_client_account_has_naming_both()
 {
    // Arrange: the demo is synced; an employee is added whose number is a client's code.
    let world = World::spawn().await;
    let t = world.tenant_with("empcode", None, Prelink::Nothing).await;
    round(&world, &t).await;
    let (client_id, code, client_name) = a_client(&world);
    let client_account = linked_account(&world, &t, ObjectType::Firm, &client_id).await;
    let untouched = fingerprint(&account(&world, &t, &client_account));
    let before = accounts(&world, &t).len();
    world
        .vp
        .add_employee(EmployeeSeed {
            employee: code.clone(),
            first_name: "Piet".into(),
            last_name: "Samecode".into(),
            email: "piet@ledgerlink-demo.example".into(),
            org: "A0:01:10".into(),
            company: world.demo.company.clone(),
            available_to_accounting: true,
            country: "NL".into(),
            ..EmployeeSeed::default()
        })
        .unwrap();

    // Act
    round(&world, &t).await;

    // Assert: refused, naming both records; the client's account is untouched.
    let employee = world
        .status(&t.id, ObjectType::Employee, &code)
        .await
        .unwrap();
    let message = employee.last_message.clone().unwrap_or_default();
    assert_eq!(employee.status, SyncStatus::Error, "{message}");
    assert!(
        message.contains(&format!("Vantagepoint employee {code} \"Piet Samecode\"")),
        "{message}"
    );
    assert!(
        message.contains(&format!("\"{client_name}\" (client {code}")),
        "{message}"
    );
    assert!(message.contains("employee_code_prefix"), "{message}");
    assert_eq!(
        fingerprint(&account(&world, &t, &client_account)),
        untouched
    );
    assert_eq!(accounts(&world, &t).len(), before);

    // Act 2: the tenant sets an employee code prefix and the operator force-synchronises.
    set_setting(&world, &t, "employee_code_prefix", json!("E-")).await;
    let results = operator::force_synchronize(
        &world.ctx,
        &[object(&t.id, ObjectType::Employee, &code)],
        "dolores",
    )
    .await
    .unwrap();
    assert!(results[0].accepted, "{results:?}");
    world.drain(Flow::FirmSync).await;

    // Assert 2: its own supplier account, coded with the prefix.
    let employee = world
        .status(&t.id, ObjectType::Employee, &code)
        .await
        .unwrap();
    assert_eq!(
        employee.status,
        SyncStatus::Success,
        "{:?}",
        employee.last_message
    );
    let own = linked_account(&world, &t, ObjectType::Employee, &code).await;
    let row = account(&world, &t, &own);
    assert_eq!(field(&row, "Code"), Some(format!("E-{code}").as_str()));
    assert_eq!(row.get("IsSupplier"), Some(&json!(true)));
    assert_eq!(
        fingerprint(&account(&world, &t, &client_account)),
        untouched
    );
}

#[tokio::test]
async fn an_account_edited_in_exact_while_vp_owns_firms_is_desynchronized_with_both_values_until_synchronize()
 {
    // Arrange: the demo is synced.
    let world = World::spawn().await;
    let t = world.tenant_with("exactedit", None, Prelink::Nothing).await;
    round(&world, &t).await;
    let (client_id, _, _) = a_client(&world);
    let exact_id = linked_account(&world, &t, ObjectType::Firm, &client_id).await;
    let vp_phone = field(&world.vp.firm(&client_id).unwrap(), "PrimaryPhone")
        .unwrap()
        .to_owned();
    let settled = round_report(&world, &t).await;
    assert_eq!(
        settled.enqueued, 0,
        "our own writes came back as echoes only"
    );

    // Act: a bookkeeper changes the phone number in Exact.
    world.tick();
    world
        .exact
        .update(
            t.division,
            "crm/Accounts",
            &exact_id,
            json!({"Phone": "+31 99 999 9999"}),
        )
        .unwrap();
    round(&world, &t).await;
    round(&world, &t).await;

    // Assert: Desynchronized with both values; neither side overwritten.
    let firm_object = object(&t.id, ObjectType::Firm, &client_id);
    let status = world
        .ctx
        .stores
        .statuses
        .get(&firm_object)
        .await
        .unwrap()
        .unwrap();
    let message = status.last_message.clone().unwrap_or_default();
    assert_eq!(status.status, SyncStatus::Desynchronized, "{message}");
    assert!(
        message.contains(&format!(
            "Phone: Vantagepoint \"{vp_phone}\", Exact Online \"+31 99 999 9999\""
        )),
        "{message}"
    );
    assert!(message.contains("Vantagepoint owns firms"), "{message}");
    assert_eq!(
        field(&account(&world, &t, &exact_id), "Phone"),
        Some("+31 99 999 9999")
    );
    assert_eq!(
        field(&world.vp.firm(&client_id).unwrap(), "PrimaryPhone"),
        Some(vp_phone.as_str())
    );

    // Act 2: the operator synchronises: the owner's values go to Exact, with the trace.
    operator::synchronize(&world.ctx, std::slice::from_ref(&firm_object), "dolores")
        .await
        .unwrap();
    world.drain(Flow::FirmSync).await;

    // Assert 2
    let status = world
        .ctx
        .stores
        .statuses
        .get(&firm_object)
        .await
        .unwrap()
        .unwrap();
    let message = status.last_message.clone().unwrap_or_default();
    assert_eq!(status.status, SyncStatus::Success, "{message}");
    assert!(
        message.contains("replaced the edits made in Exact Online")
            && message.contains("+31 99 999 9999"),
        "{message}"
    );
    assert_eq!(
        field(&account(&world, &t, &exact_id), "Phone"),
        Some(vp_phone.as_str())
    );
    let history = world
        .ctx
        .stores
        .statuses
        .history(&firm_object, 20)
        .await
        .unwrap();
    assert!(
        history
            .iter()
            .any(|a| a.status == SyncStatus::Desynchronized
                && a.message
                    .as_deref()
                    .is_some_and(|m| m.contains("+31 99 999 9999"))),
        "{history:#?}"
    );
    let after = round_report(&world, &t).await;
    assert_eq!(after.enqueued, 0, "the push's echo is dropped");
}

#[tokio::test]
async fn a_firm_created_in_exact_then_edited_in_both_keeps_one_firm_one_account_and_the_owners_values()
 {
    // Arrange: a customer created in Exact becomes a VP firm; a second round is quiet.
    let world = World::spawn().await;
    let t = world.tenant_with("bothsides", None, Prelink::Nothing).await;
    let exact_id = world
        .exact
        .seed(
            t.division,
            "crm/Accounts",
            json!({"Name": "Born In Exact BV", "Code": "EX7001", "Status": "C", "Phone": "+31 10 000 0001"}),
        )
        .unwrap();
    round(&world, &t).await;
    let quiet = round_report(&world, &t).await;
    assert_eq!(quiet.enqueued, 0, "{quiet:?}");
    let client_id = world
        .ctx
        .stores
        .links
        .vp_key(&t.id, ObjectType::Firm, &exact_id)
        .await
        .unwrap()
        .unwrap();
    let (firms, accounts_before) = (world.vp.firms().len(), accounts(&world, &t).len());

    // Act: the phone is changed in VP and the name in Exact, between two rounds.
    world.tick();
    let mut phone = Map::new();
    phone.insert("PrimaryPhone".into(), json!("+31 10 555 0002"));
    world.vp.update_firm(&client_id, phone).unwrap();
    world
        .exact
        .update(
            t.division,
            "crm/Accounts",
            &exact_id,
            json!({"Name": "Born In Exact (renamed in Exact) BV"}),
        )
        .unwrap();
    round(&world, &t).await;
    let after = round_report(&world, &t).await;

    // Assert: one firm, one account; VP owns firms, so its values stand in both, and the history shows
    // the Exact edit (both values) and what replaced it.
    assert_eq!(world.vp.firms().len(), firms);
    assert_eq!(accounts(&world, &t).len(), accounts_before);
    assert_eq!(after.enqueued, 0, "{after:?}");
    let row = account(&world, &t, &exact_id);
    assert_eq!(field(&row, "Phone"), Some("+31 10 555 0002"));
    assert_eq!(field(&row, "Name"), Some("Born In Exact BV"));
    let firm_object = object(&t.id, ObjectType::Firm, &client_id);
    let status = world
        .ctx
        .stores
        .statuses
        .get(&firm_object)
        .await
        .unwrap()
        .unwrap();
    let message = status.last_message.clone().unwrap_or_default();
    assert_eq!(status.status, SyncStatus::Success, "{message}");
    assert!(
        message.contains("Name: Vantagepoint \"Born In Exact BV\", Exact Online \"Born In Exact (renamed in Exact) BV\""),
        "{message}"
    );
    let history = world
        .ctx
        .stores
        .statuses
        .history(&firm_object, 20)
        .await
        .unwrap();
    assert!(
        history
            .iter()
            .any(|a| a.status == SyncStatus::Desynchronized),
        "{history:#?}"
    );
    assert_eq!(errors(&world, &t).await, vec![]);
}

#[tokio::test]
async fn when_exact_owns_firms_its_edits_reach_vp_and_a_vp_edit_is_desynchronized_not_pushed() {
    // Arrange: Exact owns firms; a customer created in Exact becomes a VP firm.
    let world = World::spawn().await;
    let t = world.tenant_with("exactowns", None, Prelink::Nothing).await;
    set_setting(&world, &t, "source_of_truth", json!({"firm": "exact"})).await;
    let exact_id = world
        .exact
        .seed(
            t.division,
            "crm/Accounts",
            json!({"Name": "Owned By Exact BV", "Code": "EX8001", "Status": "C", "Email": "a@owned.example"}),
        )
        .unwrap();
    round(&world, &t).await;
    round(&world, &t).await;
    let client_id = world
        .ctx
        .stores
        .links
        .vp_key(&t.id, ObjectType::Firm, &exact_id)
        .await
        .unwrap()
        .unwrap();
    let accounts_before = accounts(&world, &t).len();

    // Act: the owner renames the account in Exact.
    world.tick();
    world
        .exact
        .update(
            t.division,
            "crm/Accounts",
            &exact_id,
            json!({"Name": "Owned By Exact Renamed BV"}),
        )
        .unwrap();
    round(&world, &t).await;

    // Assert: the VP firm follows.
    assert_eq!(
        field(&world.vp.firm(&client_id).unwrap(), "Name"),
        Some("Owned By Exact Renamed BV")
    );
    let firm_object = object(&t.id, ObjectType::Firm, &client_id);
    let status = world
        .ctx
        .stores
        .statuses
        .get(&firm_object)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        status.status,
        SyncStatus::Success,
        "{:?}",
        status.last_message
    );
    let quiet = round_report(&world, &t).await;
    assert_eq!(
        quiet.enqueued, 0,
        "our VP write came back as an echo: {quiet:?}"
    );

    // Act 2: someone edits the e-mail in VP.
    world.tick();
    let mut email = Map::new();
    email.insert("PrimaryEmail".into(), json!("b@owned.example"));
    world.vp.update_firm(&client_id, email).unwrap();
    round(&world, &t).await;

    // Assert 2: Desynchronized with both values; Exact untouched; no account was added for VP's firms.
    let status = world
        .ctx
        .stores
        .statuses
        .get(&firm_object)
        .await
        .unwrap()
        .unwrap();
    let message = status.last_message.clone().unwrap_or_default();
    assert_eq!(status.status, SyncStatus::Desynchronized, "{message}");
    assert!(
        message
            .contains("E-mail: Vantagepoint \"b@owned.example\", Exact Online \"a@owned.example\""),
        "{message}"
    );
    assert_eq!(
        field(&account(&world, &t, &exact_id), "Email"),
        Some("a@owned.example")
    );
    assert_eq!(accounts(&world, &t).len(), accounts_before);
    let demo_firm = world
        .status(&t.id, ObjectType::Firm, &world.demo.syncable_client_ids[0])
        .await
        .unwrap();
    assert_eq!(demo_firm.status, SyncStatus::NotIntegrated);
    assert!(
        demo_firm
            .last_message
            .as_deref()
            .unwrap_or("")
            .contains("Exact Online owns firms")
    );

    // Act 3: Synchronize writes the owner's value back to VP.
    operator::synchronize(&world.ctx, std::slice::from_ref(&firm_object), "dolores")
        .await
        .unwrap();
    world.drain(Flow::FirmSync).await;

    // Assert 3
    assert_eq!(
        field(&world.vp.firm(&client_id).unwrap(), "PrimaryEmail"),
        Some("a@owned.example")
    );
    let status = world
        .ctx
        .stores
        .statuses
        .get(&firm_object)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        status.status,
        SyncStatus::Success,
        "{:?}",
        status.last_message
    );
}

#[tokio::test]
async fn an_operator_relinks_unlinks_and_adopts_with_a_history_entry_each_and_a_taken_account_is_refused()
 {
    // Arrange
    let world = World::spawn().await;
    let t = world.tenant_with("linkops", None, Prelink::Nothing).await;
    round(&world, &t).await;
    let first = world.demo.syncable_client_ids[0].clone();
    let second = world.demo.syncable_client_ids[1].clone();
    let first_account = linked_account(&world, &t, ObjectType::Firm, &first).await;
    let second_account = linked_account(&world, &t, ObjectType::Firm, &second).await;
    let spare = world
        .exact
        .seed(
            t.division,
            "crm/Accounts",
            json!({"Name": "Spare Customer BV", "Code": "SPARE1", "Status": "C"}),
        )
        .unwrap();
    let target = object(&t.id, ObjectType::Firm, &first);

    // Act: relink to an account another firm holds (refused), then to a free one (by its code).
    let taken = links::act(
        &world.ctx,
        &target,
        &LinkAction::Relink {
            account: second_account.clone(),
        },
        "dolores",
    )
    .await
    .unwrap();
    let moved = links::act(
        &world.ctx,
        &target,
        &LinkAction::Relink {
            account: "SPARE1".into(),
        },
        "dolores",
    )
    .await
    .unwrap()
    .unwrap();
    world.drain(Flow::FirmSync).await;
    let unlinked = links::act(&world.ctx, &target, &LinkAction::Unlink, "dolores")
        .await
        .unwrap()
        .unwrap();
    let adopted = links::act(
        &world.ctx,
        &target,
        &LinkAction::Adopt {
            account: first_account.clone(),
        },
        "dolores",
    )
    .await
    .unwrap()
    .unwrap();
    world.drain(Flow::FirmSync).await;

    // Assert
    match taken {
        Err(links::LinkRefusal::Conflict(why)) => assert!(why.contains("belongs to"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(moved.before.as_deref(), Some(first_account.as_str()));
    assert_eq!(moved.after.as_deref(), Some(spare.as_str()));
    assert_eq!(unlinked.after, None);
    assert_eq!(adopted.after.as_deref(), Some(first_account.as_str()));
    assert_eq!(
        linked_account(&world, &t, ObjectType::Firm, &first).await,
        first_account
    );
    assert_eq!(
        linked_account(&world, &t, ObjectType::Firm, &second).await,
        second_account
    );
    let history = world
        .ctx
        .stores
        .statuses
        .history(&target, 20)
        .await
        .unwrap();
    for expected in ["Relinked from", "Unlinked from", "Linked (adopted)"] {
        assert!(
            history.iter().any(|a| a
                .message
                .as_deref()
                .is_some_and(|m| m.contains(expected) && m.contains("dolores"))),
            "{expected}: {history:#?}"
        );
    }
    let status = world
        .ctx
        .stores
        .statuses
        .get(&target)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        status.status,
        SyncStatus::Success,
        "{:?}",
        status.last_message
    );
    let view = links::view(&world.ctx, &target).await.unwrap().unwrap();
    assert_eq!(view.ledger_id, first_account);
    assert!(view.url.unwrap_or_default().contains(&first_account));
    assert_eq!(view.exists, Some(true));
}

/// Discovery's counts for one round (after the drain).
async fn round_report(world: &World, t: &TenantFixture) -> ledgerlink_flows::DiscoverSummary {
    world.tick();
    let found = discover(&world.ctx, Flow::FirmSync, &t.id).await.unwrap();
    world.drain(Flow::FirmSync).await;
    found
}
