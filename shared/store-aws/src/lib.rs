//! AWS adapters of the ports: every state port on one DynamoDB table ([`DynamoState`]), export files in S3
//! ([`S3ExportStorage`]), work queues in SQS ([`SqsWorkQueue`]), notification mail through SES
//! ([`SesMailer`], when `MAIL_FROM` is set). OAuth tokens are sealed in the table with KMS data keys under
//! `TOKEN_KMS_KEY_ID` ([`TokenKeys`]).
//!
//! A process reads [`AwsSettings::from_env`] once, builds [`AwsClients`] once, and hands the adapters to its
//! use cases as `Arc<dyn Port>` ([`AwsStores`]). The table design, with every access pattern, is in
//! `infra/dynamodb-design.md`; its keys are code in [`keys`]. [`create_resources`] creates the table, bucket
//! and queues for tests and the local runner (production creates them with the infrastructure templates).
//!
//! ```no_run
//! # async fn lambda_main() -> Result<(), ledgerlink_store_aws::ConfigError> {
//! // In a Lambda's main: settings from the environment, clients once, ports for the handler.
//! let stores = ledgerlink_store_aws::AwsStores::from_env().await?;
//! # let _ = stores; Ok(()) }
//! ```
//!
//! Against moto (tests, the local runner): [`AwsSettings::local`] with the endpoint, then
//! [`create_resources`] with random or configured names, and put the returned queue URLs into the settings,
//! and the key id [`create_token_key`] returns into [`AwsSettings::token_kms_key_id`].

pub mod config;
mod dynamo;
mod error;
pub mod keys;
pub mod metrics;
pub mod resources;
mod s3;
mod ses;
mod sqs;
mod token_keys;

use std::sync::Arc;

pub use config::{AwsClients, AwsSettings, ConfigError, QueueUrls, SesSettings, StaticCredentials};
pub use dynamo::DynamoState;
use ledgerlink_ports::{ExportStorage, StateStores, WorkQueue};
pub use resources::{ResourcePlan, create_resources, create_token_key};
pub use s3::{PART_SIZE, PARTS_IN_FLIGHT, S3ExportStorage};
pub use ses::SesMailer;
pub use sqs::SqsWorkQueue;
pub use token_keys::{CACHE_CAPACITY as TOKEN_KEY_CACHE_CAPACITY, TokenKeys};

/// Every AWS-backed port of one process, built from one [`AwsSettings`] and one set of clients.
#[derive(Debug, Clone)]
pub struct AwsStores {
    pub state: StateStores,
    pub storage: Arc<dyn ExportStorage>,
    pub queue: Arc<dyn WorkQueue>,
}

impl AwsStores {
    /// Reads [`AwsSettings::from_env`], builds the clients once and the adapters on them.
    pub async fn from_env() -> Result<Self, ConfigError> {
        let settings = AwsSettings::from_env()?;
        let clients = AwsClients::build(&settings).await;
        Ok(Self::new(&clients, &settings))
    }

    /// The adapters on `clients`. With [`AwsSettings::mail`] set, every notification with an addressee is
    /// also mailed through SES ([`StateStores::with_mailer`]).
    pub fn new(clients: &AwsClients, settings: &AwsSettings) -> Self {
        let mut dynamo = DynamoState::new(clients.dynamodb.clone(), settings.table_name.clone());
        if let Some(key_id) = &settings.token_kms_key_id {
            dynamo = dynamo.with_token_keys(TokenKeys::new(clients.kms.clone(), key_id.clone()));
        }
        let mut state = dynamo.state_stores();
        if let Some(mail) = &settings.mail {
            state = state.with_mailer(
                Arc::new(SesMailer::new(clients.ses.clone(), mail.clone())),
                ledgerlink_clock::SystemClock::shared(),
            );
        }
        let storage = Arc::new(S3ExportStorage::new(
            clients.s3.clone(),
            settings.bucket_name.clone(),
            settings.kms_key_id.clone(),
        ));
        let queue = Arc::new(SqsWorkQueue::new(
            clients.sqs.clone(),
            settings.queues.clone(),
            settings.receive_wait,
        ));
        Self {
            state,
            storage,
            queue,
        }
    }
}
