//! Work queues: one per flow, each with a dead-letter queue. Messages name work; they never carry payloads.

use std::time::Duration;

use async_trait::async_trait;
use ledgerlink_domain::{Flow, ObjectKey, ObjectType, TenantId};
use serde::{Deserialize, Serialize};

use crate::StoreResult;

/// Which queue: one per flow.
pub type QueueName = Flow;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WorkAction {
    /// Sync the object if it is new or changed.
    Sync,
    /// Sync it again even though it is in Error (operator's Force synchronize).
    ForceSync,
    /// Find new work since the flow's cursor (schedules, webhooks).
    Discover,
}

/// The envelope of every queued message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkMessage {
    pub tenant: TenantId,
    pub object_type: Option<ObjectType>,
    pub key: Option<ObjectKey>,
    pub action: WorkAction,
    pub trace_id: String,
}

/// A message handed to a consumer. `receipt` acknowledges or returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMessage {
    pub id: String,
    pub receipt: String,
    pub message: WorkMessage,
    /// How many times it has been received, this time included.
    pub receive_count: u32,
}

#[async_trait]
pub trait WorkQueue: Send + Sync + std::fmt::Debug {
    /// Sends messages in batches of at most 10. Either every message is sent or an error says which were not
    /// (no silent partial success).
    async fn send(&self, queue: QueueName, messages: &[WorkMessage]) -> StoreResult<()>;
    /// Receives up to `max` (1..=10) messages, hiding them for `visibility`. Messages received more than the
    /// queue's max-receive count go to its dead-letter queue instead.
    async fn receive(
        &self,
        queue: QueueName,
        max: u32,
        visibility: Duration,
    ) -> StoreResult<Vec<ReceivedMessage>>;
    /// Deletes a handled message. A receipt of a message that has left the queue (another worker received
    /// it again and acknowledged it, or it moved to the dead-letter queue) changes nothing: `Ok` or
    /// [`crate::StoreError::NotFound`], never a hard failure.
    async fn ack(&self, queue: QueueName, receipt: &str) -> StoreResult<()>;
    /// Makes a message visible again after `delay` (a failed attempt). A receipt of a message that has left
    /// the queue is [`crate::StoreError::NotFound`] (the stale holder's work with it is over).
    async fn retry_later(
        &self,
        queue: QueueName,
        receipt: &str,
        delay: Duration,
    ) -> StoreResult<()>;
    /// Messages in the dead-letter queue of `queue` (operator view), at most `max`.
    async fn dead_letters(&self, queue: QueueName, max: u32) -> StoreResult<Vec<WorkMessage>>;
    /// Sends one message that becomes visible only after `delay` (SQS caps a message delay at 15 minutes;
    /// longer waits are sent again when they come up). A new message starts with no receives: waiting on a
    /// known reset time this way never pushes the work toward the dead-letter queue.
    async fn send_delayed(
        &self,
        queue: QueueName,
        message: &WorkMessage,
        delay: Duration,
    ) -> StoreResult<()>;
    /// Removes up to `max` messages from the dead-letter queue of `queue` and returns them (the sweeper's
    /// redrive: it re-sends or settles each one). At least once: a message read but not deleted (a crash in
    /// between) is returned again by a later call.
    async fn take_dead_letters(&self, queue: QueueName, max: u32) -> StoreResult<Vec<WorkMessage>>;
    /// Approximate number of visible messages (the local stack's progress, tests).
    async fn depth(&self, queue: QueueName) -> StoreResult<u64>;
}
