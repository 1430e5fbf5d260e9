//! Every fault the emulator injects is classified as the client's contract says, and nothing is posted twice.

use ledgerlink_emulators::FaultRule;
use ledgerlink_exact::{CreateOnce, ExactError, LookupFirst, Query};

use crate::helpers::{sales_entry, spawn};

fn rule(method: &str, path: &str) -> FaultRule {
    FaultRule {
        method: Some(method.to_owned()),
        path_prefix: path.to_owned(),
        ..FaultRule::default()
    }
}

const GL_PATH: &str = "/api/v1/499156/financial/GLAccounts";
const SALES_PATH: &str = "/api/v1/499156/salesentry/SalesEntries";

#[tokio::test]
async fn server_errors_on_reads_are_transient_and_retried_until_they_succeed() {
    // Arrange: 30 % of GLAccount reads answer 503.
    let env = spawn().await;
    let client = env.client_with(|c| c.retry.max_attempts = 10, None);
    env.connect().await;
    env.emulator.faults().set_rules(vec![FaultRule {
        error_5xx_per_mille: 300,
        ..rule("GET", GL_PATH)
    }]);

    // Act
    for _ in 0..20 {
        client
            .list_page::<serde_json::Value>("financial/GLAccounts", &Query::new().top(1))
            .await
            .unwrap();
    }

    // Assert
    let injected = env
        .emulator
        .faults()
        .injected()
        .get("5xx")
        .copied()
        .unwrap_or(0);
    assert!(injected > 0, "some 503s were injected");
    assert_eq!(
        env.requests("GET /api/v1/{division}"),
        20 + injected,
        "each 503 was retried exactly once more"
    );
}

#[tokio::test]
async fn a_server_that_keeps_failing_gives_a_transient_error_after_the_retry_budget() {
    let env = spawn().await;
    let client = env.connect().await;
    env.emulator.faults().set_rules(vec![FaultRule {
        error_5xx_per_mille: 1000,
        ..rule("GET", GL_PATH)
    }]);

    let result = client
        .list_page::<serde_json::Value>("financial/GLAccounts", &Query::new().top(1))
        .await;

    assert!(
        matches!(&result, Err(e @ ExactError::Transient { .. }) if e.is_retryable()),
        "got {result:?}"
    );
    assert_eq!(
        env.requests("GET /api/v1/{division}"),
        u64::from(client.config().retry.max_attempts)
    );
}

#[tokio::test]
async fn a_429_storm_is_waited_out_and_the_call_succeeds() {
    let env = spawn().await;
    let client = env.connect().await;
    env.emulator.faults().set_rules(vec![FaultRule {
        storm_429_remaining: 3,
        ..rule("GET", GL_PATH)
    }]);
    let before = env.clock_now();

    let result = client
        .list_page::<serde_json::Value>("financial/GLAccounts", &Query::new().top(1))
        .await;

    assert!(result.is_ok(), "got {result:?}");
    assert_eq!(
        env.requests("GET /api/v1/{division}"),
        4,
        "three 429s, then the answer"
    );
    assert!(
        env.clock_now() - before >= chrono::Duration::minutes(2),
        "waited for minute resets (virtual time)"
    );
}

#[tokio::test]
async fn a_validation_500_is_permanent_with_split_messages_and_is_not_retried() {
    let env = spawn().await;
    let client = env.connect().await;
    let posts_before = env.requests("POST /api/v1/{division}");

    // No journal, no customer, no lines: three mandatory fields at once.
    let result: Result<serde_json::Value, _> = client
        .create_in(
            ledgerlink_exact::entities::SALES_ENTRIES,
            &serde_json::json!({"Description": "x"}),
        )
        .await;

    match result {
        Err(ExactError::Validation { messages }) => {
            assert!(messages.len() >= 2, "one message per problem: {messages:?}");
            assert!(
                messages
                    .iter()
                    .all(|m| !m.contains('\n') && !m.contains('\r'))
            );
        }
        other => panic!("expected validation, got {other:?}"),
    }
    assert_eq!(
        env.requests("POST /api/v1/{division}") - posts_before,
        1,
        "never retried"
    );
}

#[tokio::test]
async fn commit_then_drop_on_a_sales_entry_post_is_outcome_unknown() {
    let env = spawn().await;
    let client = env.connect().await;
    let books = env.books();
    env.emulator.faults().set_rules(vec![FaultRule {
        commit_then_drop_per_mille: 1000,
        ..rule("POST", SALES_PATH)
    }]);

    let result = client
        .create_sales_entry(&sales_entry(&books, "INV-100", "100.00"))
        .await;

    assert!(
        matches!(result, Err(ExactError::OutcomeUnknown { .. })),
        "got {result:?}"
    );
    assert_eq!(
        env.emulator
            .count_sales_entries_with_your_ref(env.division(), "INV-100"),
        1,
        "it was committed"
    );
}

#[tokio::test]
async fn create_if_absent_after_commit_then_drop_finds_the_committed_entry_and_posts_nothing_more()
{
    // Arrange
    let env = spawn().await;
    let client = env.connect().await;
    let books = env.books();
    env.emulator.faults().set_rules(vec![FaultRule {
        commit_then_drop_per_mille: 1000,
        ..rule("POST", SALES_PATH)
    }]);
    let entry = sales_entry(&books, "INV-101", "250.00");

    // Act
    let outcome = client
        .create_sales_entry_once(
            &entry,
            LookupFirst::AfterUnknownOutcome {
                previous_outcome_unknown: false,
            },
        )
        .await
        .unwrap();

    // Assert
    assert!(
        matches!(&outcome, CreateOnce::Existing(e) if e.your_ref.as_deref() == Some("INV-101")),
        "got {outcome:?}"
    );
    assert_eq!(
        env.emulator
            .count_sales_entries_with_your_ref(env.division(), "INV-101"),
        1,
        "exactly ONE entry"
    );
}

#[tokio::test]
async fn a_post_reset_before_the_handler_is_settled_by_lookups_and_posted_exactly_once() {
    // Arrange: every POST is reset before Exact handles it.
    let env = spawn().await;
    let client = env.connect().await;
    let books = env.books();
    env.emulator.faults().set_rules(vec![FaultRule {
        reset_before_per_mille: 1000,
        ..rule("POST", SALES_PATH)
    }]);
    let entry = sales_entry(&books, "INV-102", "75.00");

    // Act 1: each POST's outcome is unknown; each lookup finds nothing; the client gives up unknown.
    let first = client
        .create_sales_entry_once(
            &entry,
            LookupFirst::AfterUnknownOutcome {
                previous_outcome_unknown: false,
            },
        )
        .await;
    // Act 2: the network heals; the next attempt knows the previous outcome was unknown.
    env.emulator.faults().clear();
    let second = client
        .create_sales_entry_once(
            &entry,
            LookupFirst::AfterUnknownOutcome {
                previous_outcome_unknown: true,
            },
        )
        .await
        .unwrap();

    // Assert
    assert!(
        matches!(first, Err(ExactError::OutcomeUnknown { .. })),
        "got {first:?}"
    );
    assert!(second.was_created());
    assert_eq!(
        env.emulator
            .count_sales_entries_with_your_ref(env.division(), "INV-102"),
        1,
        "posted once"
    );
}

#[tokio::test]
async fn a_read_whose_connection_resets_is_retried() {
    let env = spawn().await;
    let client = env.client_with(|c| c.retry.max_attempts = 12, None);
    env.connect().await;
    env.emulator.faults().set_rules(vec![FaultRule {
        reset_before_per_mille: 500,
        ..rule("GET", GL_PATH)
    }]);

    for _ in 0..5 {
        client
            .list_page::<serde_json::Value>("financial/GLAccounts", &Query::new().top(1))
            .await
            .unwrap();
    }

    assert!(
        env.emulator
            .faults()
            .injected()
            .get("reset")
            .copied()
            .unwrap_or(0)
            > 0
    );
}

#[tokio::test]
async fn a_missing_entity_is_none_without_a_404_and_a_missing_key_path_is_not_found() {
    let env = spawn().await;
    let client = env.connect().await;

    let by_filter = client.sales_entry(uuid::Uuid::new_v4()).await.unwrap();
    let by_key = client
        .delete_in(
            ledgerlink_exact::entities::SALES_ENTRIES,
            uuid::Uuid::new_v4(),
        )
        .await;

    assert!(by_filter.is_none());
    assert!(
        matches!(by_key, Err(ExactError::NotFound { .. })),
        "got {by_key:?}"
    );
}

#[tokio::test]
async fn a_division_outside_the_users_scope_is_forbidden_with_exacts_reason() {
    let env = spawn().await;
    let client = env.connect().await;
    env.emulator
        .set_division_access(env.user, env.division(), false)
        .unwrap();

    let result = client
        .list_page::<serde_json::Value>("financial/GLAccounts", &Query::new().top(1))
        .await;

    assert!(
        matches!(&result, Err(ExactError::Forbidden { reason }) if reason.contains("NoDivisionAccess")),
        "got {result:?}"
    );
    assert_eq!(env.requests("GET /api/v1/{division}"), 1, "not retried");
}

#[tokio::test]
async fn a_post_that_times_out_after_it_was_sent_is_outcome_unknown_and_a_slow_read_is_transient() {
    let env = spawn().await;
    let client = env.client_with(
        |c| {
            c.request_timeout = std::time::Duration::from_millis(150);
            c.retry.max_attempts = 2;
        },
        None,
    );
    env.connect().await;
    let books = env.books();
    env.emulator.faults().set_rules(vec![
        FaultRule {
            latency_ms: 1000,
            ..rule("POST", SALES_PATH)
        },
        FaultRule {
            latency_ms: 1000,
            ..rule("GET", GL_PATH)
        },
    ]);

    let post = client
        .create_sales_entry(&sales_entry(&books, "INV-103", "10.00"))
        .await;
    let read = client
        .list_page::<serde_json::Value>("financial/GLAccounts", &Query::new().top(1))
        .await;

    assert!(
        matches!(post, Err(ExactError::OutcomeUnknown { .. })),
        "got {post:?}"
    );
    assert!(
        matches!(read, Err(ExactError::Transient { .. })),
        "got {read:?}"
    );
}

#[tokio::test]
async fn count_is_read_as_plain_text() {
    let env = spawn().await;
    let client = env.connect().await;

    let n = client
        .count("financial/GLAccounts", &Query::new())
        .await
        .unwrap();

    assert_eq!(
        usize::try_from(n).unwrap(),
        env.emulator
            .entities(env.division(), "financial/GLAccounts")
            .unwrap()
            .len()
    );
}

#[tokio::test]
async fn exacts_hourly_error_block_is_rate_limited_for_an_hour_and_not_retried() {
    // Arrange: Exact blocks an endpoint after 2 errors (10 in production); two deletes of missing entries.
    let env = crate::helpers::spawn_with(|c| c.errors_per_hour = 2).await;
    let client = env.connect().await;
    for _ in 0..2 {
        let gone = client
            .delete_in(
                ledgerlink_exact::entities::SALES_ENTRIES,
                uuid::Uuid::new_v4(),
            )
            .await;
        assert!(
            matches!(gone, Err(ExactError::NotFound { .. })),
            "got {gone:?}"
        );
    }
    let before = env.requests("/api/v1/{division}");
    let now = env.clock_now();

    // Act
    let result = client
        .delete_in(
            ledgerlink_exact::entities::SALES_ENTRIES,
            uuid::Uuid::new_v4(),
        )
        .await;

    // Assert
    assert!(
        matches!(&result, Err(ExactError::RateLimited { until, daily: false }) if *until - now >= chrono::Duration::minutes(59)),
        "got {result:?}"
    );
    assert_eq!(
        env.requests("/api/v1/{division}") - before,
        1,
        "one call, no retries into the block"
    );
}
