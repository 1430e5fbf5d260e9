//! [`WorkQueue`] on SQS: one queue per flow (URLs from configuration), each with a dead-letter queue that
//! SQS fills through the queue's redrive policy. Messages are the [`WorkMessage`] envelope as JSON.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, MessageSystemAttributeName, QueueAttributeName,
    SendMessageBatchRequestEntry,
};
use ledgerlink_domain::Flow;
use ledgerlink_ports::{
    QueueName, ReceivedMessage, StoreError, StoreResult, WorkMessage, WorkQueue,
};

use crate::config::{QueueUrls, queue_url_var};
use crate::error::from_sdk;

/// SQS's batch limit (SendMessageBatch, ReceiveMessage, ChangeMessageVisibilityBatch).
const BATCH: usize = 10;
/// SQS's longest visibility timeout (12 hours).
const MAX_VISIBILITY_SECS: i32 = 43_200;
/// How long `dead_letters` hides the messages it is reading, so one listing sees each message once.
const PEEK_VISIBILITY_SECS: i32 = 5;

/// The work queues of the flows this process uses.
#[derive(Debug, Clone)]
pub struct SqsWorkQueue {
    client: Client,
    queues: Arc<BTreeMap<Flow, QueueUrls>>,
    /// Dead-letter queue URLs found from the redrive policies.
    dlq_urls: Arc<Mutex<BTreeMap<Flow, String>>>,
    receive_wait: Duration,
}

impl SqsWorkQueue {
    pub fn new(client: Client, queues: BTreeMap<Flow, QueueUrls>, receive_wait: Duration) -> Self {
        Self {
            client,
            queues: Arc::new(queues),
            dlq_urls: Arc::new(Mutex::new(BTreeMap::new())),
            receive_wait,
        }
    }

    fn url(&self, queue: QueueName) -> StoreResult<&str> {
        self.queues
            .get(&queue)
            .map(|q| q.url.as_str())
            .ok_or_else(|| StoreError::Permanent {
                message: format!(
                    "no work queue configured for {queue} (set {})",
                    queue_url_var(queue)
                ),
                source: None,
            })
    }

    async fn dlq_url(&self, queue: QueueName) -> StoreResult<String> {
        if let Some(url) = self.queues.get(&queue).and_then(|q| q.dlq_url.clone()) {
            return Ok(url);
        }
        if let Some(url) = self
            .dlq_urls
            .lock()
            .ok()
            .and_then(|cache| cache.get(&queue).cloned())
        {
            return Ok(url);
        }
        let out = self
            .client
            .get_queue_attributes()
            .queue_url(self.url(queue)?)
            .attribute_names(QueueAttributeName::RedrivePolicy)
            .send()
            .await
            .map_err(|e| from_sdk("GetQueueAttributes", e))?;
        let no_dlq = || StoreError::Permanent {
            message: format!("the {queue} queue has no redrive policy"),
            source: None,
        };
        let policy = out
            .attributes
            .and_then(|mut a| a.remove(&QueueAttributeName::RedrivePolicy))
            .ok_or_else(no_dlq)?;
        let policy: serde_json::Value = serde_json::from_str(&policy).map_err(|_| no_dlq())?;
        let arn = policy
            .get("deadLetterTargetArn")
            .and_then(|v| v.as_str())
            .ok_or_else(no_dlq)?;
        let name = arn.rsplit(':').next().unwrap_or(arn);
        let out = self
            .client
            .get_queue_url()
            .queue_name(name)
            .send()
            .await
            .map_err(|e| from_sdk("GetQueueUrl", e))?;
        let url = out.queue_url.ok_or_else(no_dlq)?;
        if let Ok(mut cache) = self.dlq_urls.lock() {
            cache.insert(queue, url.clone());
        }
        Ok(url)
    }
}

/// Error codes SQS gives a receipt handle of a message that is no longer in the queue: deleted by the
/// worker that received it after us, moved to the dead-letter queue, or no longer in flight.
const GONE_RECEIPT_CODES: &[&str] = &[
    "ReceiptHandleIsInvalid",
    "AWS.SimpleQueueService.MessageNotInflight",
    "MessageNotInflight",
];

/// `DeleteMessage` / `ChangeMessageVisibility` with `receipt`: a receipt of a message that left the queue (or
/// is not in flight any more) is [`StoreError::NotFound`], as the port says — the message was redelivered to
/// another worker, which handled it, or it moved to the dead-letter queue; either way the stale holder's work
/// with it is over. Every other failure maps as usual.
fn receipt_error<E, R>(operation: &str, queue: QueueName, err: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let gone = err.code().is_some_and(|code| GONE_RECEIPT_CODES.contains(&code))
        // Real SQS answers a ChangeMessageVisibility of an expired receipt handle with InvalidParameterValue
        // naming the ReceiptHandle parameter.
        || (err.code() == Some("InvalidParameterValue")
            && err.message().is_some_and(|m| m.contains("ReceiptHandle")));
    if gone {
        StoreError::not_found(format!(
            "{operation}: the message of that receipt is no longer in flight on {queue}"
        ))
    } else {
        from_sdk(operation, err)
    }
}

/// Whole seconds, rounded up: SQS counts visibility in seconds, and a sub-second timeout must not become
/// "visible at once".
fn secs(duration: Duration) -> i32 {
    let whole = duration.as_secs() + u64::from(duration.subsec_nanos() > 0);
    i32::try_from(whole).unwrap_or(i32::MAX)
}

#[async_trait]
impl WorkQueue for SqsWorkQueue {
    async fn send(&self, queue: QueueName, messages: &[WorkMessage]) -> StoreResult<()> {
        let url = self.url(queue)?;
        let mut failed: Vec<String> = Vec::new();
        let mut retryable = true;
        for (batch_index, batch) in messages.chunks(BATCH).enumerate() {
            let mut entries = Vec::with_capacity(batch.len());
            for (i, message) in batch.iter().enumerate() {
                let body = serde_json::to_string(message).map_err(|e| StoreError::Permanent {
                    message: "a work message cannot be encoded".into(),
                    source: Some(Box::new(e)),
                })?;
                let id = (batch_index * BATCH + i).to_string();
                let entry = SendMessageBatchRequestEntry::builder()
                    .id(id)
                    .message_body(body)
                    .build()
                    .map_err(|e| StoreError::Permanent {
                        message: format!("SendMessageBatch entry: {e}"),
                        source: None,
                    })?;
                entries.push(entry);
            }
            match self
                .client
                .send_message_batch()
                .queue_url(url)
                .set_entries(Some(entries))
                .send()
                .await
            {
                Ok(out) => {
                    for failure in out.failed {
                        retryable &= !failure.sender_fault;
                        failed.push(format!(
                            "#{} ({}: {})",
                            failure.id,
                            failure.code,
                            failure.message.unwrap_or_default()
                        ));
                    }
                }
                Err(e) => {
                    // The whole batch is unknown: report every message of it (and of the batches not tried).
                    let not_sent = messages.len() - batch_index * BATCH;
                    let err = from_sdk("SendMessageBatch", e);
                    let message = format!(
                        "{not_sent} of {} messages to {queue} were not sent (from #{}){}",
                        messages.len(),
                        batch_index * BATCH,
                        if failed.is_empty() {
                            String::new()
                        } else {
                            format!("; also failed: {}", failed.join(", "))
                        }
                    );
                    return Err(match err {
                        StoreError::Transient { source, .. } => {
                            StoreError::Transient { message, source }
                        }
                        StoreError::Permanent { source, .. } => {
                            StoreError::Permanent { message, source }
                        }
                        other => other,
                    });
                }
            }
        }
        if failed.is_empty() {
            return Ok(());
        }
        let message = format!(
            "{} of {} messages to {queue} were not sent: {}",
            failed.len(),
            messages.len(),
            failed.join(", ")
        );
        Err(if retryable {
            StoreError::Transient {
                message,
                source: None,
            }
        } else {
            StoreError::Permanent {
                message,
                source: None,
            }
        })
    }

    async fn receive(
        &self,
        queue: QueueName,
        max: u32,
        visibility: Duration,
    ) -> StoreResult<Vec<ReceivedMessage>> {
        let out = self
            .client
            .receive_message()
            .queue_url(self.url(queue)?)
            .max_number_of_messages(i32::try_from(max.clamp(1, BATCH as u32)).unwrap_or(1))
            .visibility_timeout(secs(visibility).min(MAX_VISIBILITY_SECS))
            .wait_time_seconds(secs(self.receive_wait))
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .map_err(|e| from_sdk("ReceiveMessage", e))?;
        let mut received = Vec::new();
        for message in out.messages.unwrap_or_default() {
            let (Some(id), Some(receipt)) =
                (message.message_id.clone(), message.receipt_handle.clone())
            else {
                continue;
            };
            let receive_count = message
                .attributes
                .as_ref()
                .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                .and_then(|c| c.parse().ok())
                .unwrap_or(1);
            match serde_json::from_str::<WorkMessage>(message.body.as_deref().unwrap_or_default()) {
                Ok(work) => received.push(ReceivedMessage {
                    id,
                    receipt,
                    message: work,
                    receive_count,
                }),
                // Not ours to decode: leave it hidden; after max-receive it moves to the dead-letter queue,
                // where an operator sees it.
                Err(e) => {
                    tracing::warn!(queue = %queue, message_id = %id, error = %e, "undecodable work message left for the dead-letter queue")
                }
            }
        }
        Ok(received)
    }

    async fn ack(&self, queue: QueueName, receipt: &str) -> StoreResult<()> {
        self.client
            .delete_message()
            .queue_url(self.url(queue)?)
            .receipt_handle(receipt)
            .send()
            .await
            .map_err(|e| receipt_error("DeleteMessage", queue, e))?;
        Ok(())
    }

    async fn retry_later(
        &self,
        queue: QueueName,
        receipt: &str,
        delay: Duration,
    ) -> StoreResult<()> {
        self.client
            .change_message_visibility()
            .queue_url(self.url(queue)?)
            .receipt_handle(receipt)
            .visibility_timeout(secs(delay).min(MAX_VISIBILITY_SECS))
            .send()
            .await
            .map_err(|e| receipt_error("ChangeMessageVisibility", queue, e))?;
        Ok(())
    }

    async fn dead_letters(&self, queue: QueueName, max: u32) -> StoreResult<Vec<WorkMessage>> {
        let url = self.dlq_url(queue).await?;
        let max = max as usize;
        let mut seen = HashSet::new();
        let mut found = Vec::new();
        let mut receipts = Vec::new();
        // Each receive hides what it returns for a few seconds, so the next one returns other messages;
        // afterwards everything read is made visible again: this is a peek, not a consume.
        while found.len() < max {
            let want = (max - found.len()).min(BATCH);
            let out = self
                .client
                .receive_message()
                .queue_url(&url)
                .max_number_of_messages(i32::try_from(want).unwrap_or(1))
                .visibility_timeout(PEEK_VISIBILITY_SECS)
                .send()
                .await
                .map_err(|e| from_sdk("ReceiveMessage", e))?;
            let messages = out.messages.unwrap_or_default();
            let mut new = 0;
            for message in messages {
                let Some(id) = message.message_id.clone() else {
                    continue;
                };
                if let Some(receipt) = message.receipt_handle.clone() {
                    receipts.push(receipt);
                }
                if !seen.insert(id) {
                    continue;
                }
                new += 1;
                if let Ok(work) =
                    serde_json::from_str::<WorkMessage>(message.body.as_deref().unwrap_or_default())
                {
                    found.push(work);
                }
            }
            if new == 0 {
                break;
            }
        }
        for (batch_index, batch) in receipts.chunks(BATCH).enumerate() {
            let entries = batch
                .iter()
                .enumerate()
                .filter_map(|(i, receipt)| {
                    ChangeMessageVisibilityBatchRequestEntry::builder()
                        .id(format!("{}", batch_index * BATCH + i))
                        .receipt_handle(receipt)
                        .visibility_timeout(0)
                        .build()
                        .ok()
                })
                .collect::<Vec<_>>();
            self.client
                .change_message_visibility_batch()
                .queue_url(&url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| from_sdk("ChangeMessageVisibilityBatch", e))?;
        }
        found.truncate(max);
        Ok(found)
    }

    async fn send_delayed(
        &self,
        queue: QueueName,
        message: &WorkMessage,
        delay: Duration,
    ) -> StoreResult<()> {
        let body = serde_json::to_string(message).map_err(|e| StoreError::Permanent {
            message: "a work message cannot be encoded".into(),
            source: Some(Box::new(e)),
        })?;
        let seconds = delay.as_secs().min(900);
        self.client
            .send_message()
            .queue_url(self.url(queue)?)
            .message_body(body)
            .delay_seconds(i32::try_from(seconds).unwrap_or(900))
            .send()
            .await
            .map_err(|e| from_sdk("SendMessage", e))?;
        Ok(())
    }

    async fn take_dead_letters(&self, queue: QueueName, max: u32) -> StoreResult<Vec<WorkMessage>> {
        let url = self.dlq_url(queue).await?;
        let max = max as usize;
        let mut taken = Vec::new();
        while taken.len() < max {
            let want = (max - taken.len()).min(BATCH);
            let out = self
                .client
                .receive_message()
                .queue_url(&url)
                .max_number_of_messages(i32::try_from(want).unwrap_or(1))
                .visibility_timeout(PEEK_VISIBILITY_SECS)
                .send()
                .await
                .map_err(|e| from_sdk("ReceiveMessage", e))?;
            let messages = out.messages.unwrap_or_default();
            if messages.is_empty() {
                break;
            }
            for message in messages {
                let body = message.body.as_deref().unwrap_or_default();
                let work = serde_json::from_str::<WorkMessage>(body);
                // Deleted only after it was read: a crash in between leaves it for the next sweep.
                if let Some(receipt) = message.receipt_handle.as_deref() {
                    self.client
                        .delete_message()
                        .queue_url(&url)
                        .receipt_handle(receipt)
                        .send()
                        .await
                        .map_err(|e| from_sdk("DeleteMessage", e))?;
                }
                match work {
                    Ok(work) => taken.push(work),
                    Err(e) => {
                        tracing::warn!(error = %e, "a dead letter that is no work message was dropped")
                    }
                }
            }
        }
        Ok(taken)
    }

    async fn depth(&self, queue: QueueName) -> StoreResult<u64> {
        let out = self
            .client
            .get_queue_attributes()
            .queue_url(self.url(queue)?)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .send()
            .await
            .map_err(|e| from_sdk("GetQueueAttributes", e))?;
        let depth = out
            .attributes
            .and_then(|mut a| a.remove(&QueueAttributeName::ApproximateNumberOfMessages))
            .and_then(|d| d.parse().ok())
            .ok_or_else(|| StoreError::Permanent {
                message: format!(
                    "GetQueueAttributes of {queue} returned no ApproximateNumberOfMessages"
                ),
                source: None,
            })?;
        Ok(depth)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sub_second_visibility_rounds_up_to_a_whole_second() {
        assert_eq!(secs(Duration::from_millis(300)), 1);
        assert_eq!(secs(Duration::ZERO), 0);
        assert_eq!(secs(Duration::from_secs(30)), 30);
        assert_eq!(secs(Duration::from_millis(30_001)), 31);
    }
}
