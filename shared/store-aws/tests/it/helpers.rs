//! `spawn_aws`: clients on the shared moto server and fresh resources with random names.

use std::collections::BTreeMap;

use ledgerlink_domain::Flow;
use ledgerlink_store_aws::metrics::RequestCounter;
use ledgerlink_store_aws::{
    AwsClients, AwsSettings, AwsStores, DynamoState, QueueUrls, ResourcePlan, S3ExportStorage,
    SqsWorkQueue, StaticCredentials, TokenKeys, create_resources, create_token_key,
};
use ledgerlink_testkit::{
    TEST_ACCESS_KEY_ID, TEST_REGION, TEST_SECRET_ACCESS_KEY, moto, unique_name,
};

/// Fresh AWS resources on moto, with a request counter on every client.
#[derive(Debug)]
pub struct TestAws {
    pub clients: AwsClients,
    pub settings: AwsSettings,
    pub counter: RequestCounter,
    pub state: DynamoState,
    pub storage: S3ExportStorage,
    pub queue: SqsWorkQueue,
    pub queues: BTreeMap<Flow, QueueUrls>,
}

impl TestAws {
    pub fn stores(&self) -> AwsStores {
        AwsStores::new(&self.clients, &self.settings)
    }
}

/// A table, a bucket and, for each of `flows`, a queue with a dead-letter queue after `max_receives`.
pub async fn spawn_aws(flows: &[Flow], max_receives: u32) -> TestAws {
    let server = moto();
    let mut settings = AwsSettings::local(
        &server.endpoint_url(),
        TEST_REGION,
        StaticCredentials {
            access_key_id: TEST_ACCESS_KEY_ID.to_owned(),
            secret_access_key: TEST_SECRET_ACCESS_KEY.to_owned(),
        },
    );
    settings.table_name = unique_name("ll-table");
    settings.bucket_name = unique_name("ll-bucket");
    let counter = RequestCounter::new();
    let clients = AwsClients::build_with(&settings, Some(counter.interceptor())).await;
    let plan = ResourcePlan {
        table: settings.table_name.clone(),
        bucket: settings.bucket_name.clone(),
        queue_prefix: unique_name("ll"),
        flows: flows.to_vec(),
        max_receive_count: max_receives,
        kms_key_id: None,
    };
    let queues = create_resources(&clients, &plan)
        .await
        .unwrap_or_else(|e| panic!("create_resources: {e}"));
    settings.queues = queues.clone();
    let token_key = create_token_key(&clients)
        .await
        .unwrap_or_else(|e| panic!("create_token_key: {e}"));
    settings.token_kms_key_id = Some(token_key.clone());
    counter.reset();
    TestAws {
        state: DynamoState::new(clients.dynamodb.clone(), settings.table_name.clone())
            .with_token_keys(TokenKeys::new(clients.kms.clone(), token_key)),
        storage: S3ExportStorage::new(clients.s3.clone(), settings.bucket_name.clone(), None),
        queue: SqsWorkQueue::new(clients.sqs.clone(), queues.clone(), settings.receive_wait),
        clients,
        settings,
        counter,
        queues,
    }
}

/// Only a table and a bucket.
pub async fn spawn_state() -> TestAws {
    spawn_aws(&[], 3).await
}
