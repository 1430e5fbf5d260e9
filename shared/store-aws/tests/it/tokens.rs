//! Tokens at rest in the table: sealed with KMS data keys (`TokenKeys`), bound to their tenant and record,
//! older clear rows still read and sealed by their next save.

use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use ledgerlink_ports::contract::at;
use ledgerlink_ports::{StoreError, TokenRecord, TokenStore};
use ledgerlink_store_aws::keys::{PK, SK, TOKEN_SK, token_pk};
use ledgerlink_store_aws::{DynamoState, TokenKeys};

use crate::helpers::{TestAws, spawn_state};

const ACCESS: &str = "access-0f9e8d7c6b5a";
const REFRESH: &str = "refresh-1a2b3c4d5e6f";

fn secret_record(connection: &str) -> TokenRecord {
    TokenRecord {
        connection: connection.to_owned(),
        issuer: "https://start.exactonline.nl".to_owned(),
        access_token: ACCESS.to_owned(),
        refresh_token: REFRESH.to_owned(),
        access_expires_at: at(600),
        issued_at: at(0),
        generation: 0,
    }
}

type Item = std::collections::HashMap<String, AttributeValue>;

async fn raw_item(aws: &TestAws, connection: &str) -> Option<Item> {
    aws.clients
        .dynamodb
        .get_item()
        .table_name(&aws.settings.table_name)
        .key(PK, AttributeValue::S(token_pk(connection)))
        .key(SK, AttributeValue::S(TOKEN_SK.to_owned()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
}

async fn put_raw(aws: &TestAws, item: Item) {
    aws.clients
        .dynamodb
        .put_item()
        .table_name(&aws.settings.table_name)
        .set_item(Some(item))
        .send()
        .await
        .unwrap();
}

/// Every byte a table read returns for the item: names, strings, numbers and binaries.
fn raw_bytes(item: &Item) -> Vec<u8> {
    let mut bytes = Vec::new();
    for (name, value) in item {
        bytes.extend_from_slice(name.as_bytes());
        match value {
            AttributeValue::S(text) | AttributeValue::N(text) => {
                bytes.extend_from_slice(text.as_bytes())
            }
            AttributeValue::B(blob) => bytes.extend_from_slice(blob.as_ref()),
            other => bytes.extend_from_slice(format!("{other:?}").as_bytes()),
        }
    }
    bytes
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// The same table through a process of its own: its own data-key cache, the same KMS key.
fn another_process(aws: &TestAws) -> DynamoState {
    DynamoState::new(
        aws.clients.dynamodb.clone(),
        aws.settings.table_name.clone(),
    )
    .with_token_keys(TokenKeys::new(
        aws.clients.kms.clone(),
        aws.settings.token_kms_key_id.clone().unwrap(),
    ))
}

#[tokio::test]
async fn a_raw_read_of_a_token_row_shows_no_token() {
    let aws = spawn_state().await;
    aws.state
        .save_initial(&secret_record("exact:acme"))
        .await
        .unwrap();
    aws.state
        .try_lease("exact:acme", "worker", Duration::from_secs(30), at(1))
        .await
        .unwrap();
    aws.state
        .save_and_release(&secret_record("exact:acme"), "worker")
        .await
        .unwrap();

    let item = raw_item(&aws, "exact:acme").await.unwrap();

    let raw = raw_bytes(&item);
    assert!(
        !contains(&raw, ACCESS),
        "the access token is readable in the table"
    );
    assert!(
        !contains(&raw, REFRESH),
        "the refresh token is readable in the table"
    );
    assert!(
        !item.contains_key("doc"),
        "a clear copy is stored: {:?}",
        item.keys()
    );
    assert!(matches!(item.get("sealed"), Some(AttributeValue::B(_))));
    assert!(matches!(
        item.get("wrapped_key"),
        Some(AttributeValue::B(_))
    ));
    let loaded = another_process(&aws)
        .load("exact:acme")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (loaded.access_token.as_str(), loaded.refresh_token.as_str()),
        (ACCESS, REFRESH)
    );
    assert_eq!(loaded.generation, 2);
}

#[tokio::test]
async fn a_token_row_copied_to_another_tenant_does_not_open_and_the_error_shows_no_secret() {
    let aws = spawn_state().await;
    aws.state
        .save_initial(&secret_record("exact:acme"))
        .await
        .unwrap();
    let mut copy = raw_item(&aws, "exact:acme").await.unwrap();
    copy.insert(PK.to_owned(), AttributeValue::S(token_pk("exact:globex")));

    put_raw(&aws, copy).await;
    // The writer's own process (its data key is cached for acme's row) and a cold one (KMS decides).
    let warm = aws.state.load("exact:globex").await.unwrap_err();
    let cold = another_process(&aws)
        .load("exact:globex")
        .await
        .unwrap_err();

    for err in [warm, cold] {
        let message = err.to_string();
        assert!(matches!(err, StoreError::Permanent { .. }), "{err:?}");
        assert!(message.contains("TOKEN#exact:globex"), "{message}");
        assert!(message.contains("sealed for another tenant"), "{message}");
        assert!(
            !message.contains(ACCESS) && !message.contains(REFRESH),
            "{message}"
        );
    }
    assert_eq!(
        aws.state
            .load("exact:acme")
            .await
            .unwrap()
            .unwrap()
            .refresh_token,
        REFRESH
    );
}

#[tokio::test]
async fn a_clear_row_an_older_version_wrote_is_read_and_sealed_by_the_next_save() {
    let aws = spawn_state().await;
    let mut old = secret_record("exact:acme");
    old.generation = 4;
    put_raw(
        &aws,
        Item::from([
            (PK.to_owned(), AttributeValue::S(token_pk("exact:acme"))),
            (SK.to_owned(), AttributeValue::S(TOKEN_SK.to_owned())),
            (
                "doc".to_owned(),
                AttributeValue::S(serde_json::to_string(&old).unwrap()),
            ),
            ("gen".to_owned(), AttributeValue::N("4".to_owned())),
        ]),
    )
    .await;

    let read = aws.state.load("exact:acme").await.unwrap();
    aws.state
        .try_lease("exact:acme", "worker", Duration::from_secs(30), at(1))
        .await
        .unwrap();
    let saved = aws
        .state
        .save_and_release(&secret_record("exact:acme"), "worker")
        .await
        .unwrap();

    assert_eq!(read, Some(old));
    assert_eq!(saved.generation, 5);
    let item = raw_item(&aws, "exact:acme").await.unwrap();
    assert!(
        !item.contains_key("doc"),
        "the clear copy stays after the save"
    );
    assert!(!contains(&raw_bytes(&item), REFRESH));
    let again = another_process(&aws)
        .load("exact:acme")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (again.refresh_token.as_str(), again.generation),
        (REFRESH, 5)
    );
}

#[tokio::test]
async fn a_warm_process_asks_kms_once_per_stored_data_key() {
    let aws = spawn_state().await;
    aws.state
        .save_initial(&secret_record("exact:acme"))
        .await
        .unwrap();
    let reader = another_process(&aws);
    aws.counter.reset();

    for _ in 0..5 {
        reader.load("exact:acme").await.unwrap().unwrap();
    }
    aws.state.load("exact:acme").await.unwrap().unwrap();

    let counts = aws.counter.snapshot();
    assert_eq!(counts.get("Decrypt"), Some(&1), "{counts:?}");
    assert_eq!(counts.get("GenerateDataKey"), None, "{counts:?}");
}

#[tokio::test]
async fn without_a_token_key_tokens_are_neither_stored_nor_read() {
    let aws = spawn_state().await;
    aws.state
        .save_initial(&secret_record("exact:acme"))
        .await
        .unwrap();
    let keyless = DynamoState::new(
        aws.clients.dynamodb.clone(),
        aws.settings.table_name.clone(),
    );

    let save = keyless
        .save_initial(&secret_record("exact:globex"))
        .await
        .unwrap_err();
    let load = keyless.load("exact:acme").await.unwrap_err();

    for err in [save, load] {
        assert!(err.to_string().contains("TOKEN_KMS_KEY_ID"), "{err}");
    }
    assert!(raw_item(&aws, "exact:globex").await.is_none());
}
