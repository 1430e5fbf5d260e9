//! Creates the table (with its two GSIs and TTL), the bucket (default encryption, clean-up of abandoned
//! multipart uploads) and the per-flow queues with their dead-letter queues, and the token key
//! ([`create_token_key`]) — for tests and the local runner against moto. Production resources come from the infrastructure templates with the same shape
//! (`infra/dynamodb-design.md`). Creating what already exists is not an error, so a runner can call it at
//! every start.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TableStatus, TimeToLiveSpecification,
};
use aws_sdk_s3::types::{
    AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, BucketLocationConstraint,
    CreateBucketConfiguration, ExpirationStatus, LifecycleRule, LifecycleRuleFilter,
    ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
    ServerSideEncryptionRule,
};
use aws_sdk_sqs::types::QueueAttributeName;
use ledgerlink_domain::Flow;
use ledgerlink_ports::{StoreError, StoreResult};

use crate::config::{AwsClients, QueueUrls};
use crate::error::from_sdk;
use crate::keys::{GSI1, GSI1PK, GSI1SK, GSI2, GSI2PK, GSI2SK, PK, SK, TTL};

/// What to create. Names come from the caller (random per test, configured for the local runner).
#[derive(Debug, Clone)]
pub struct ResourcePlan {
    pub table: String,
    pub bucket: String,
    /// Queue `<prefix>-<flow>` and dead-letter queue `<prefix>-<flow>-dlq` per flow.
    pub queue_prefix: String,
    pub flows: Vec<Flow>,
    /// Receives after which SQS moves a message to the dead-letter queue.
    pub max_receive_count: u32,
    pub kms_key_id: Option<String>,
}

fn invalid<E: std::fmt::Display>(what: &str) -> impl FnOnce(E) -> StoreError + '_ {
    move |e| StoreError::Permanent {
        message: format!("{what} request cannot be built: {e}"),
        source: None,
    }
}

/// Creates every resource of `plan` and returns the queue URLs per flow.
pub async fn create_resources(
    clients: &AwsClients,
    plan: &ResourcePlan,
) -> StoreResult<BTreeMap<Flow, QueueUrls>> {
    create_table(&clients.dynamodb, &plan.table).await?;
    create_bucket(&clients.s3, &plan.bucket, plan.kms_key_id.as_deref()).await?;
    let mut queues = BTreeMap::new();
    for flow in &plan.flows {
        queues.insert(
            *flow,
            create_queue(
                &clients.sqs,
                &plan.queue_prefix,
                *flow,
                plan.max_receive_count,
            )
            .await?,
        );
    }
    Ok(queues)
}

/// A symmetric KMS key for the sealed OAuth tokens (`TOKEN_KMS_KEY_ID`), for tests and the local runner;
/// production's comes from the template (`TokenKey`, with rotation). Returns its key id.
pub async fn create_token_key(clients: &AwsClients) -> StoreResult<String> {
    let out = clients
        .kms
        .create_key()
        .description("Ledgerlink - seals the stored OAuth tokens (local)")
        .send()
        .await
        .map_err(|e| from_sdk("KMS CreateKey", e))?;
    out.key_metadata
        .map(|m| m.key_id)
        .ok_or_else(|| StoreError::Permanent {
            message: "KMS CreateKey returned no key".into(),
            source: None,
        })
}

/// The table: `PK`/`SK`, GSI1 and GSI2 (both projecting ALL), on-demand billing, TTL on [`TTL`].
pub async fn create_table(client: &aws_sdk_dynamodb::Client, table: &str) -> StoreResult<()> {
    let string_attr = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .map_err(invalid("CreateTable"))
    };
    let key = |name: &str, key_type: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(key_type)
            .build()
            .map_err(invalid("CreateTable"))
    };
    let index = |name: &str, pk: &str, sk: &str| -> StoreResult<GlobalSecondaryIndex> {
        GlobalSecondaryIndex::builder()
            .index_name(name)
            .key_schema(key(pk, KeyType::Hash)?)
            .key_schema(key(sk, KeyType::Range)?)
            .projection(
                Projection::builder()
                    .projection_type(ProjectionType::All)
                    .build(),
            )
            .build()
            .map_err(invalid("CreateTable"))
    };
    let mut request = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key(PK, KeyType::Hash)?)
        .key_schema(key(SK, KeyType::Range)?)
        .global_secondary_indexes(index(GSI1, GSI1PK, GSI1SK)?)
        .global_secondary_indexes(index(GSI2, GSI2PK, GSI2SK)?);
    for name in [PK, SK, GSI1PK, GSI1SK, GSI2PK, GSI2SK] {
        request = request.attribute_definitions(string_attr(name)?);
    }
    match request.send().await {
        Ok(_) => {}
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_in_use_exception()) => {}
        Err(e) => return Err(from_sdk("CreateTable", e)),
    }
    for _ in 0..120 {
        let out = client
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(|e| from_sdk("DescribeTable", e))?;
        if out.table.and_then(|t| t.table_status) == Some(TableStatus::Active) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let ttl = TimeToLiveSpecification::builder()
        .enabled(true)
        .attribute_name(TTL)
        .build()
        .map_err(invalid("UpdateTimeToLive"))?;
    match client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(ttl)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        // Already enabled (a restart of the local runner).
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.meta().code() == Some("ValidationException")) =>
        {
            Ok(())
        }
        Err(e) => Err(from_sdk("UpdateTimeToLive", e)),
    }
}

/// The bucket, with default encryption (so presigned uploads are encrypted too) and a rule that removes the
/// parts of uploads abandoned for a day.
pub async fn create_bucket(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    kms_key_id: Option<&str>,
) -> StoreResult<()> {
    let mut request = client.create_bucket().bucket(bucket);
    let region = client
        .config()
        .region()
        .map(|r| r.as_ref().to_owned())
        .unwrap_or_default();
    if !region.is_empty() && region != "us-east-1" {
        request = request.create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(region.as_str()))
                .build(),
        );
    }
    match request.send().await {
        Ok(_) => {}
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_bucket_already_owned_by_you()) => {}
        Err(e) => return Err(from_sdk("CreateBucket", e)),
    }
    let default = match kms_key_id {
        Some(key) => ServerSideEncryptionByDefault::builder()
            .sse_algorithm(ServerSideEncryption::AwsKms)
            .kms_master_key_id(key),
        None => {
            ServerSideEncryptionByDefault::builder().sse_algorithm(ServerSideEncryption::Aes256)
        }
    };
    let encryption = ServerSideEncryptionConfiguration::builder()
        .rules(
            ServerSideEncryptionRule::builder()
                .apply_server_side_encryption_by_default(
                    default.build().map_err(invalid("PutBucketEncryption"))?,
                )
                .build(),
        )
        .build()
        .map_err(invalid("PutBucketEncryption"))?;
    client
        .put_bucket_encryption()
        .bucket(bucket)
        .server_side_encryption_configuration(encryption)
        .send()
        .await
        .map_err(|e| from_sdk("PutBucketEncryption", e))?;
    let rule = LifecycleRule::builder()
        .id("abort-abandoned-uploads")
        .status(ExpirationStatus::Enabled)
        .filter(LifecycleRuleFilter::builder().prefix("").build())
        .abort_incomplete_multipart_upload(
            AbortIncompleteMultipartUpload::builder()
                .days_after_initiation(1)
                .build(),
        )
        .build()
        .map_err(invalid("PutBucketLifecycleConfiguration"))?;
    let lifecycle = BucketLifecycleConfiguration::builder()
        .rules(rule)
        .build()
        .map_err(invalid("PutBucketLifecycleConfiguration"))?;
    client
        .put_bucket_lifecycle_configuration()
        .bucket(bucket)
        .lifecycle_configuration(lifecycle)
        .send()
        .await
        .map_err(|e| from_sdk("PutBucketLifecycleConfiguration", e))?;
    Ok(())
}

/// A flow's queue and its dead-letter queue, tied by a redrive policy.
pub async fn create_queue(
    client: &aws_sdk_sqs::Client,
    prefix: &str,
    flow: Flow,
    max_receive_count: u32,
) -> StoreResult<QueueUrls> {
    let dlq = client
        .create_queue()
        .queue_name(format!("{prefix}-{flow}-dlq"))
        .attributes(QueueAttributeName::MessageRetentionPeriod, "1209600")
        .send()
        .await
        .map_err(|e| from_sdk("CreateQueue", e))?;
    let dlq_url = dlq.queue_url.ok_or_else(|| StoreError::Permanent {
        message: "CreateQueue returned no URL".into(),
        source: None,
    })?;
    let attrs = client
        .get_queue_attributes()
        .queue_url(&dlq_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| from_sdk("GetQueueAttributes", e))?;
    let dlq_arn = attrs
        .attributes
        .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
        .ok_or_else(|| StoreError::Permanent {
            message: "the dead-letter queue has no ARN".into(),
            source: None,
        })?;
    let redrive =
        serde_json::json!({ "deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receive_count })
            .to_string();
    let queue = client
        .create_queue()
        .queue_name(format!("{prefix}-{flow}"))
        .attributes(QueueAttributeName::RedrivePolicy, redrive)
        .attributes(QueueAttributeName::VisibilityTimeout, "60")
        .send()
        .await
        .map_err(|e| from_sdk("CreateQueue", e))?;
    let url = queue.queue_url.ok_or_else(|| StoreError::Permanent {
        message: "CreateQueue returned no URL".into(),
        source: None,
    })?;
    Ok(QueueUrls {
        url,
        dlq_url: Some(dlq_url),
    })
}
