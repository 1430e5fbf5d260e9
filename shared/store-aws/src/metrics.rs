//! Counting AWS requests per operation, for the figures (DynamoDB requests per status update, per synced
//! object; S3 parts per upload). Attach a [`RequestCounter`] with [`crate::AwsClients::build_with`]; it counts
//! every request the clients transmit (retries included, as each is a billed request) under the operation's
//! name (`TransactWriteItems`, `UploadPart`, ...).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents, SharedInterceptor};
use aws_smithy_runtime_api::client::orchestrator::Metadata;

/// Requests seen per operation name (`PutItem`, `TransactWriteItems`, ...). Clones share the counts.
#[derive(Debug, Clone, Default)]
pub struct RequestCounter {
    counts: Arc<Mutex<BTreeMap<String, u64>>>,
}

impl RequestCounter {
    pub fn new() -> Self {
        Self::default()
    }

    /// The interceptor to hand to the client builder.
    pub fn interceptor(&self) -> SharedInterceptor {
        SharedInterceptor::new(self.clone())
    }

    /// Counts so far, per operation.
    pub fn snapshot(&self) -> BTreeMap<String, u64> {
        self.counts.lock().map(|c| c.clone()).unwrap_or_default()
    }

    pub fn total(&self) -> u64 {
        self.snapshot().values().sum()
    }

    pub fn reset(&self) {
        if let Ok(mut counts) = self.counts.lock() {
            counts.clear();
        }
    }
}

impl Intercept for RequestCounter {
    fn name(&self) -> &'static str {
        "ledgerlink-request-counter"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        let operation = match cfg.load::<Metadata>() {
            Some(metadata) => metadata.name().to_owned(),
            None => {
                let target = context
                    .request()
                    .headers()
                    .get("x-amz-target")
                    .unwrap_or("unknown");
                target.rsplit('.').next().unwrap_or(target).to_owned()
            }
        };
        if let Ok(mut counts) = self.counts.lock() {
            *counts.entry(operation).or_default() += 1;
        }
        Ok(())
    }
}
