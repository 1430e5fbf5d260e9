//! Every contract suite of the ports, one test per case, against the AWS adapters on moto.

use std::sync::Arc;

use ledgerlink_domain::Flow;
use ledgerlink_ports::contract;

use crate::helpers::{spawn_aws, spawn_state};

/// Cases taking `&dyn Port` (run on the current-thread runtime) and `Arc<dyn Port>` (racing tasks: a
/// multi-thread runtime so the race is real).
macro_rules! state_cases {
    ($suite:ident { $($case:ident),* $(,)? } racing { $($race:ident),* $(,)? }) => {
        mod $suite {
            use super::*;
            $(
                #[tokio::test]
                async fn $case() {
                    let aws = spawn_state().await;
                    contract::$suite::$case(&aws.state).await;
                }
            )*
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $race() {
                    let aws = spawn_state().await;
                    contract::$suite::$race(Arc::new(aws.state.clone())).await;
                }
            )*
        }
    };
}

state_cases!(tenants { tenants_are_versioned, tenant_list_pages_cover_every_tenant_once } racing {});
state_cases!(links {
    a_link_is_readable_both_ways,
    relinking_is_idempotent_and_a_different_id_conflicts,
    unlink_removes_both_directions,
    links_are_scoped_by_tenant_and_object_type,
    the_sync_state_travels_with_the_link,
    relink_moves_a_key_to_another_id_and_refuses_a_taken_one,
} racing {});
state_cases!(lookups { rows_are_versioned, rows_list_in_key_order_per_table, delete_removes_a_row } racing {});
state_cases!(statuses {
    put_creates_then_updates_with_optimistic_versions,
    put_appends_the_attempt_history_newest_first,
    create_missing_creates_only_absent_objects,
    list_is_newest_first_and_pages_cover_every_item_once,
    list_filters_by_status_category_type_key_prefix_and_source_version,
    an_update_moves_the_object_in_the_list_and_between_filters,
    counts_are_per_status_for_one_tenant,
    a_foreign_cursor_is_invalid,
} racing { concurrent_updates_of_one_version_succeed_exactly_once });
state_cases!(cursors {
    a_cursor_advances_only_from_the_version_read,
    cursors_are_separate_per_name_division_flow_and_tenant,
} racing {});
state_cases!(jobs {
    jobs_are_created_once_and_updated_optimistically,
    jobs_list_newest_first_per_kind,
    expired_leases_finds_only_started_jobs_past_their_lease,
} racing {});
state_cases!(integrations {
    integrations_are_versioned_listed_and_deleted,
    the_latest_run_of_a_task_in_a_period_wins,
} racing {});
state_cases!(definitions {
    definitions_are_versioned,
    definitions_are_listed_per_tenant_in_id_order_and_deleted,
    a_large_definition_round_trips_whole,
} racing {});
state_cases!(notifications {
    pushing_an_id_twice_keeps_the_first,
    notifications_list_newest_first,
    mark_delivered_records_the_delivery,
} racing {});
state_cases!(idempotency {
    first_begin_starts_and_a_live_lease_reports_in_progress,
    completed_record_returns_the_stored_result,
    expired_in_progress_lease_can_be_taken_over,
    expired_completed_record_is_reusable,
    payload_mismatch_is_reported,
    release_lets_a_retry_start_at_once,
    keys_are_independent,
    a_taken_over_claim_is_fenced_off,
    an_expired_lease_not_taken_over_still_completes,
} racing { concurrent_begins_start_exactly_once });
state_cases!(tokens {
    load_of_an_unknown_connection_is_none,
    save_initial_round_trips_and_bumps_the_generation,
    lease_is_exclusive_until_it_expires,
    save_and_release_requires_holding_the_lease,
    a_save_after_the_lease_was_taken_over_conflicts,
    release_frees_the_lease_only_for_its_holder,
    a_stale_holder_cannot_release_its_successors_lease,
    leases_of_different_connections_are_independent,
} racing { concurrent_leases_are_granted_exactly_once });
state_cases!(rate {
    minute_budget_is_a_calendar_minute,
    day_budget_resets_at_utc_midnight,
    refused_calls_do_not_consume_budget,
    keys_have_separate_budgets,
    observe_lowers_the_budget_to_what_the_server_reports,
    observe_never_gives_back_spent_budget,
} racing { concurrent_acquires_never_exceed_the_budget });

/// Each suite's `run_all` as well: all cases in sequence on one store (how the suites are meant to share a
/// store), and a guard that a case added to a suite later is run here even before it gets its own test.
mod whole_suites {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn every_state_suite_passes_in_sequence_on_one_table() {
        let aws = spawn_state().await;
        let state = &aws.state;
        contract::tenants::run_all(state).await;
        contract::links::run_all(state).await;
        contract::lookups::run_all(state).await;
        contract::cursors::run_all(state).await;
        contract::jobs::run_all(state).await;
        contract::integrations::run_all(state).await;
        contract::definitions::run_all(state).await;
        contract::notifications::run_all(state).await;
        contract::statuses::run_all(Arc::new(state.clone())).await;
        contract::idempotency::run_all(Arc::new(state.clone())).await;
        contract::tokens::run_all(Arc::new(state.clone())).await;
        contract::rate::run_all(Arc::new(state.clone())).await;
    }

    #[tokio::test]
    async fn the_storage_suite_passes_in_sequence_on_one_bucket() {
        let aws = spawn_state().await;
        contract::storage::run_all(&aws.storage).await;
    }
}

mod storage {
    use super::*;

    macro_rules! storage_cases {
        ($($case:ident),* $(,)?) => {$(
            #[tokio::test]
            async fn $case() {
                let aws = spawn_state().await;
                contract::storage::$case(&aws.storage).await;
            }
        )*};
    }

    storage_cases!(
        objects_round_trip_and_delete,
        sizes_and_limited_reads,
        a_streaming_upload_is_invisible_until_finished,
        an_aborted_upload_leaves_nothing,
        objects_are_scoped_by_tenant,
        presigned_urls_expire_within_fifteen_minutes,
        presigned_urls_name_one_object_and_method,
    );
}

mod queue {
    use super::*;

    /// Receives past which SQS moves a message to the dead-letter queue in these tests.
    const MAX_RECEIVES: u32 = 2;

    macro_rules! queue_cases {
        ($($case:ident),* $(,)?) => {$(
            #[tokio::test]
            async fn $case() {
                let aws = spawn_aws(&[Flow::InvoiceOut], MAX_RECEIVES).await;
                contract::queue::$case(&aws.queue, Flow::InvoiceOut).await;
            }
        )*};
    }

    queue_cases!(
        a_received_message_is_hidden_until_acknowledged,
        every_message_of_a_large_send_arrives_once,
        an_unacknowledged_message_is_redelivered_after_its_visibility,
        retry_later_makes_a_message_visible_again,
        a_receipt_of_a_message_that_left_the_queue_is_not_found,
        depth_counts_visible_messages,
    );

    #[tokio::test]
    async fn a_message_past_its_max_receives_goes_to_the_dead_letter_queue() {
        let aws = spawn_aws(&[Flow::PaymentIn], MAX_RECEIVES).await;
        contract::queue::a_message_past_its_max_receives_goes_to_the_dead_letter_queue(
            &aws.queue,
            Flow::PaymentIn,
            MAX_RECEIVES,
        )
        .await;
    }

    #[tokio::test]
    async fn the_whole_suite_runs_in_sequence_on_one_queue() {
        let aws = spawn_aws(&[Flow::FirmSync], MAX_RECEIVES).await;
        contract::queue::run_all(&aws.queue, Flow::FirmSync, MAX_RECEIVES).await;
    }
}
