//! `__next` paging, followed sequentially, including Exact's extra empty page; and the sync cursor.

use ledgerlink_domain::exact::Account;
use ledgerlink_exact::{Filter, Literal, Query, entities};

use crate::helpers::spawn;

fn seed_accounts(env: &crate::helpers::TestEnv, n: usize, city: &str) {
    for i in 0..n {
        env.emulator
            .seed(env.division(), "crm/Accounts", serde_json::json!({"Name": format!("Paging {i}"), "Code": format!("{}", 5000 + i), "City": city}))
            .unwrap();
    }
}

#[tokio::test]
async fn a_list_of_several_pages_is_read_completely_in_order() {
    let env = spawn().await;
    let client = env.connect().await;
    seed_accounts(&env, 130, "Utrecht");
    let gets_before = env.requests("GET /api/v1/{division}");

    let accounts: Vec<Account> = client
        .list(
            entities::ACCOUNTS,
            &Query::new().filter(Filter::eq("City", Literal::str("Utrecht"))),
        )
        .await
        .unwrap();

    assert_eq!(accounts.len(), 130);
    let mut ids: Vec<_> = accounts.iter().map(|a| a.id).collect();
    ids.dedup();
    assert_eq!(ids.len(), 130, "no row twice");
    assert_eq!(
        env.requests("GET /api/v1/{division}") - gets_before,
        3,
        "60 + 60 + 10"
    );
}

#[tokio::test]
async fn an_exact_multiple_of_the_page_size_ends_on_the_extra_empty_page() {
    let env = spawn().await;
    let client = env.connect().await;
    seed_accounts(&env, 120, "Zwolle");
    let gets_before = env.requests("GET /api/v1/{division}");

    let accounts: Vec<Account> = client
        .list(
            entities::ACCOUNTS,
            &Query::new().filter(Filter::eq("City", Literal::str("Zwolle"))),
        )
        .await
        .unwrap();

    assert_eq!(accounts.len(), 120);
    let pages = env.requests("GET /api/v1/{division}") - gets_before;
    assert!(
        (2..=3).contains(&pages),
        "two full pages, plus at most the empty one ({pages})"
    );
}

#[tokio::test]
async fn the_sync_cursor_advances_to_the_highest_timestamp_and_then_returns_nothing_new() {
    let env = spawn().await;
    let client = env.connect().await;
    seed_accounts(&env, 5, "Delft");

    let first = client.sync_accounts(1).await.unwrap();
    let again = client.sync_accounts(first.cursor).await.unwrap();

    assert!(
        first
            .items
            .iter()
            .filter(|a| a.city.as_deref() == Some("Delft"))
            .count()
            == 5
    );
    assert!(first.cursor > 1);
    assert!(again.items.is_empty(), "nothing changed since the cursor");
    assert_eq!(
        again.cursor, first.cursor,
        "an empty batch keeps the cursor"
    );
}

#[tokio::test]
async fn padded_account_codes_are_found_by_their_trimmed_value() {
    let env = spawn().await;
    let client = env.connect().await;
    seed_accounts(&env, 3, "Breda");

    let found = client
        .find_account_by_code(&ledgerlink_domain::ExactAccountCode::parse("5001").unwrap())
        .await
        .unwrap();

    assert_eq!(
        found
            .and_then(|a| a.code)
            .map(|c| c.as_str().to_owned())
            .as_deref(),
        Some("5001")
    );
}

#[tokio::test]
async fn a_string_literal_with_quotes_is_escaped_in_the_filter() {
    let env = spawn().await;
    let client = env.connect().await;
    env.emulator
        .seed(
            env.division(),
            "crm/Accounts",
            serde_json::json!({"Name": "O'Brien & Sons", "Code": "7001"}),
        )
        .unwrap();

    let found: Option<Account> = client
        .find_first(
            entities::ACCOUNTS,
            Filter::eq("Name", Literal::str("O'Brien & Sons")),
            &[],
        )
        .await
        .unwrap();

    assert_eq!(found.map(|a| a.name).as_deref(), Some("O'Brien & Sons"));
}
