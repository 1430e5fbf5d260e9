//! Integration tests of the job use cases, each run on both storage implementations: the embedded store
//! (SQLite + a folder in a temporary directory) and the AWS store (DynamoDB, S3 and SQS on moto).
#![allow(clippy::unwrap_used)]

mod helpers;

mod definitions;
mod export;
mod import;
mod integrations;
mod psa;
mod scheduled;
mod sources;
