use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use ledgerlink_ports::contract::{at, race, tokens as suite};
use ledgerlink_ports::{LeaseOutcome, StoreError, TokenRecord, TokenStore};
use ledgerlink_store_embedded::{EmbeddedStore, TOKEN_KEY_FILE};

use crate::helpers::spawn_store;

#[tokio::test]
async fn load_of_an_unknown_connection_is_none() {
    let fresh = spawn_store();
    suite::load_of_an_unknown_connection_is_none(&*fresh.store.tokens()).await;
}

#[tokio::test]
async fn save_initial_round_trips_and_bumps_the_generation() {
    let fresh = spawn_store();
    suite::save_initial_round_trips_and_bumps_the_generation(&*fresh.store.tokens()).await;
}

#[tokio::test]
async fn lease_is_exclusive_until_it_expires() {
    let fresh = spawn_store();
    suite::lease_is_exclusive_until_it_expires(&*fresh.store.tokens()).await;
}

#[tokio::test]
async fn save_and_release_requires_holding_the_lease() {
    let fresh = spawn_store();
    suite::save_and_release_requires_holding_the_lease(&*fresh.store.tokens()).await;
}

#[tokio::test]
async fn a_stale_holder_cannot_release_its_successors_lease() {
    let fresh = spawn_store();
    suite::a_stale_holder_cannot_release_its_successors_lease(&*fresh.store.tokens()).await;
}

#[tokio::test]
async fn release_frees_the_lease_only_for_its_holder() {
    let fresh = spawn_store();
    suite::release_frees_the_lease_only_for_its_holder(&*fresh.store.tokens()).await;
}

#[tokio::test]
async fn leases_of_different_connections_are_independent() {
    let fresh = spawn_store();
    suite::leases_of_different_connections_are_independent(&*fresh.store.tokens()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_leases_are_granted_exactly_once() {
    let fresh = spawn_store();
    suite::concurrent_leases_are_granted_exactly_once(fresh.store.tokens()).await;
}

/// Two stores opened on the same file stand for two processes: each has its own SQLite connection, so only
/// the database's own locking (not a shared mutex) keeps the lease single-flight.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_stores_on_one_file_grant_the_lease_exactly_once() {
    let fresh = spawn_store();
    let other = EmbeddedStore::open(fresh.dir.path().join("state.db")).unwrap();
    let stores: [Arc<dyn TokenStore>; 2] = [fresh.store.tokens(), other.tokens()];

    let outcomes = race(16, |i| {
        let store = stores[i % 2].clone();
        async move {
            store
                .try_lease(
                    "exact:shared",
                    &format!("process-{i}"),
                    Duration::from_secs(30),
                    at(0),
                )
                .await
        }
    })
    .await;

    let acquired = outcomes
        .iter()
        .filter(|o| matches!(o, Ok(LeaseOutcome::Acquired)))
        .count();
    let held = outcomes
        .iter()
        .filter(|o| matches!(o, Ok(LeaseOutcome::HeldByOther { .. })))
        .count();
    assert_eq!((acquired, held), (1, 15), "outcomes: {outcomes:?}");
}

#[tokio::test]
async fn a_save_after_the_lease_was_taken_over_conflicts() {
    let fresh = spawn_store();
    suite::a_save_after_the_lease_was_taken_over_conflicts(&*fresh.store.tokens()).await;
}

// --- tokens at rest ----------------------------------------------------------------------------------------

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

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// Every byte of the database as it is on disk: the main file and its write-ahead log.
fn raw_database(dir: &Path) -> Vec<u8> {
    let mut bytes = std::fs::read(dir.join("state.db")).unwrap();
    if let Ok(wal) = std::fs::read(dir.join("state.db-wal")) {
        bytes.extend(wal);
    }
    bytes
}

fn raw_connection(dir: &Path) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(dir.join("state.db")).unwrap();
    conn.busy_timeout(Duration::from_secs(10)).unwrap();
    conn
}

#[tokio::test]
async fn the_database_file_holds_no_token_bytes() {
    let fresh = spawn_store();
    let tokens = fresh.store.tokens();

    tokens
        .save_initial(&secret_record("exact:acme"))
        .await
        .unwrap();
    tokens
        .try_lease("exact:acme", "worker", Duration::from_secs(30), at(1))
        .await
        .unwrap();
    let saved = tokens
        .save_and_release(&secret_record("exact:acme"), "worker")
        .await
        .unwrap();

    let raw = raw_database(fresh.dir.path());
    assert!(!contains(&raw, ACCESS), "the access token is in the file");
    assert!(!contains(&raw, REFRESH), "the refresh token is in the file");
    assert!(
        !contains(&raw, "start.exactonline.nl"),
        "the record is not sealed as a whole"
    );
    let loaded = tokens.load("exact:acme").await.unwrap().unwrap();
    assert_eq!(
        (loaded.access_token.as_str(), loaded.refresh_token.as_str()),
        (ACCESS, REFRESH)
    );
    assert_eq!(loaded.generation, saved.generation);
}

#[cfg(unix)]
#[tokio::test]
async fn the_token_key_file_is_created_on_first_use_readable_by_its_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let fresh = spawn_store();
    let key = fresh.dir.path().join(TOKEN_KEY_FILE);
    assert!(
        !key.exists(),
        "a store that never held tokens has no key file"
    );

    fresh
        .store
        .tokens()
        .save_initial(&secret_record("exact:acme"))
        .await
        .unwrap();

    let meta = std::fs::metadata(&key).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert_eq!(meta.len(), 32);
}

#[tokio::test]
async fn another_process_on_the_same_folder_opens_the_tokens() {
    let fresh = spawn_store();
    fresh
        .store
        .tokens()
        .save_initial(&secret_record("exact:acme"))
        .await
        .unwrap();

    let other = EmbeddedStore::open(fresh.dir.path().join("state.db")).unwrap();
    let loaded = other.tokens().load("exact:acme").await.unwrap().unwrap();

    assert_eq!(loaded.refresh_token, REFRESH);
}

#[tokio::test]
async fn tokens_copied_onto_another_tenants_row_do_not_open_and_the_error_shows_no_secret() {
    let fresh = spawn_store();
    let tokens = fresh.store.tokens();
    tokens
        .save_initial(&secret_record("exact:acme"))
        .await
        .unwrap();
    tokens
        .save_initial(&secret_record("exact:globex"))
        .await
        .unwrap();

    // Arrange: globex's row now carries acme's sealed tokens (someone with write access to the file).
    raw_connection(fresh.dir.path())
        .execute(
            "UPDATE tokens SET sealed = (SELECT sealed FROM tokens WHERE connection = 'exact:acme')
             WHERE connection = 'exact:globex'",
            [],
        )
        .unwrap();
    let err = tokens.load("exact:globex").await.unwrap_err();

    let message = err.to_string();
    assert!(matches!(err, StoreError::Permanent { .. }), "{err:?}");
    assert!(message.contains("TOKEN#exact:globex"), "{message}");
    assert!(message.contains("sealed for another tenant"), "{message}");
    assert!(
        !message.contains(ACCESS) && !message.contains(REFRESH),
        "{message}"
    );
    assert_eq!(
        tokens
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
    let fresh = spawn_store();
    let tokens = fresh.store.tokens();
    let mut old = secret_record("exact:acme");
    old.generation = 4;
    raw_connection(fresh.dir.path())
        .execute(
            "INSERT INTO tokens (connection, record, generation) VALUES ('exact:acme', ?1, 4)",
            [serde_json::to_string(&old).unwrap()],
        )
        .unwrap();

    let read = tokens.load("exact:acme").await.unwrap();
    tokens
        .try_lease("exact:acme", "worker", Duration::from_secs(30), at(1))
        .await
        .unwrap();
    let saved = tokens
        .save_and_release(&secret_record("exact:acme"), "worker")
        .await
        .unwrap();

    assert_eq!(read, Some(old));
    assert_eq!(saved.generation, 5);
    let conn = raw_connection(fresh.dir.path());
    let (clear, sealed): (Option<String>, Option<Vec<u8>>) = conn
        .query_row(
            "SELECT record, sealed FROM tokens WHERE connection = 'exact:acme'",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .unwrap();
    assert_eq!(clear, None, "the clear copy stays after the save");
    assert!(sealed.is_some_and(|s| !contains(&s, REFRESH)));
    // Once the log is folded into the file, the replaced clear row is not in it either.
    let _: (i64, i64, i64) = conn
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?))
        })
        .unwrap();
    let raw = raw_database(fresh.dir.path());
    assert!(
        !contains(&raw, REFRESH),
        "the old clear row lingers in the file"
    );
    assert_eq!(
        tokens.load("exact:acme").await.unwrap().unwrap().generation,
        5
    );
}
