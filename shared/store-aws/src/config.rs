//! Typed configuration from the environment, and the AWS clients built once from it.
//!
//! | variable | meaning |
//! |---|---|
//! | `TABLE_NAME` | the single DynamoDB table (required) |
//! | `BUCKET_NAME` | the export bucket (required) |
//! | `EXPORT_KMS_KEY_ID` | encrypt exports with this KMS key (`aws:kms`) instead of `AES256` |
//! | `TOKEN_KMS_KEY_ID` | the KMS key the OAuth tokens are sealed under (required; [`crate::TokenKeys`]) |
//! | `QUEUE_URL_<FLOW>` | the work queue of a flow, e.g. `QUEUE_URL_INVOICE_OUT` (only the flows a process uses) |
//! | `DLQ_URL_<FLOW>` | its dead-letter queue; when absent it is found from the queue's redrive policy |
//! | `S3_FORCE_PATH_STYLE` | `true` to address the bucket in the path (automatic when `AWS_ENDPOINT_URL` is set) |
//! | `SQS_RECEIVE_WAIT_SECONDS` | long-poll wait of `receive` (0..=20, default 0) |
//! | `AWS_ENDPOINT_URL`, `AWS_REGION`, credentials | the SDK's own variables, read by `aws-config` |

use std::collections::BTreeMap;
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_sdk_dynamodb::config::{Credentials, Region, SharedInterceptor};
use ledgerlink_domain::Flow;

/// Why the configuration could not be read. Names the variable so an operator can fix it.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {name} is required")]
    Missing { name: String },
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid { name: String, reason: String },
}

/// The URLs of one flow's queue and (optionally) its dead-letter queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueUrls {
    pub url: String,
    /// `None`: looked up from the queue's `RedrivePolicy` on first use.
    pub dlq_url: Option<String>,
}

/// Fixed credentials for a local endpoint (tests, the local runner against moto). Never real secrets.
#[derive(Clone, PartialEq, Eq)]
pub struct StaticCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl std::fmt::Debug for StaticCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaticCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .finish()
    }
}

/// Everything the AWS adapters need to know. No resource name is hard-coded: they all come from here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsSettings {
    pub table_name: String,
    pub bucket_name: String,
    pub kms_key_id: Option<String>,
    /// The KMS key whose data keys seal the OAuth tokens in the table (`TOKEN_KMS_KEY_ID`). `None` (local
    /// settings, tools that never touch tokens): the token port refuses to store or open tokens.
    pub token_kms_key_id: Option<String>,
    pub queues: BTreeMap<Flow, QueueUrls>,
    /// Overrides the SDK's endpoint resolution (moto, LocalStack). `None`: the SDK decides (it also reads
    /// `AWS_ENDPOINT_URL` itself).
    pub endpoint_url: Option<String>,
    /// `None`: the SDK's region chain.
    pub region: Option<String>,
    /// `None`: the SDK's credential chain (the Lambda role).
    pub credentials: Option<StaticCredentials>,
    pub force_path_style: bool,
    pub receive_wait: Duration,
    /// Notification mail through SES: the verified sender (`MAIL_FROM`) and an optional configuration set
    /// (`MAIL_CONFIGURATION_SET`). `None`: notifications stay in-app only.
    pub mail: Option<SesSettings>,
}

/// Where notification mail is sent from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SesSettings {
    pub from: String,
    pub configuration_set: Option<String>,
}

/// `QUEUE_URL_<FLOW>`: the flow's name upper-cased with `_` for `-`.
pub fn queue_url_var(flow: Flow) -> String {
    format!("QUEUE_URL_{}", env_suffix(flow))
}

/// `DLQ_URL_<FLOW>`.
pub fn dlq_url_var(flow: Flow) -> String {
    format!("DLQ_URL_{}", env_suffix(flow))
}

fn env_suffix(flow: Flow) -> String {
    flow.as_str().to_ascii_uppercase().replace('-', "_")
}

impl AwsSettings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty()))
    }

    /// Reads variables through `lookup` (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let required = |name: &str| {
            lookup(name).ok_or_else(|| ConfigError::Missing {
                name: name.to_owned(),
            })
        };
        let mut queues = BTreeMap::new();
        for flow in Flow::ALL {
            if let Some(url) = lookup(&queue_url_var(*flow)) {
                queues.insert(
                    *flow,
                    QueueUrls {
                        url,
                        dlq_url: lookup(&dlq_url_var(*flow)),
                    },
                );
            }
        }
        let endpoint_url = lookup("AWS_ENDPOINT_URL");
        let force_path_style = match lookup("S3_FORCE_PATH_STYLE") {
            Some(v) => parse_bool("S3_FORCE_PATH_STYLE", &v)?,
            None => endpoint_url.is_some(),
        };
        let receive_wait = match lookup("SQS_RECEIVE_WAIT_SECONDS") {
            Some(v) => match v.trim().parse::<u64>() {
                Ok(secs) if secs <= 20 => Duration::from_secs(secs),
                _ => {
                    return Err(ConfigError::Invalid {
                        name: "SQS_RECEIVE_WAIT_SECONDS".into(),
                        reason: format!("expected 0..=20 seconds, got {v:?}"),
                    });
                }
            },
            None => Duration::ZERO,
        };
        Ok(Self {
            table_name: required("TABLE_NAME")?,
            bucket_name: required("BUCKET_NAME")?,
            kms_key_id: lookup("EXPORT_KMS_KEY_ID"),
            token_kms_key_id: Some(required("TOKEN_KMS_KEY_ID")?),
            queues,
            endpoint_url,
            region: None,
            credentials: None,
            force_path_style,
            receive_wait,
            mail: lookup("MAIL_FROM").map(|from| SesSettings {
                from,
                configuration_set: lookup("MAIL_CONFIGURATION_SET"),
            }),
        })
    }

    /// Settings for a local endpoint such as moto: fixed region and dummy credentials, path-style S3.
    pub fn local(endpoint_url: &str, region: &str, credentials: StaticCredentials) -> Self {
        Self {
            table_name: String::new(),
            bucket_name: String::new(),
            kms_key_id: None,
            token_kms_key_id: None,
            queues: BTreeMap::new(),
            endpoint_url: Some(endpoint_url.to_owned()),
            region: Some(region.to_owned()),
            credentials: Some(credentials),
            force_path_style: true,
            receive_wait: Duration::ZERO,
            mail: None,
        }
    }
}

fn parse_bool(name: &str, value: &str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" => Ok(true),
        "0" | "false" | "no" => Ok(false),
        other => Err(ConfigError::Invalid {
            name: name.to_owned(),
            reason: format!("expected true/false, got {other:?}"),
        }),
    }
}

/// The SDK clients, built once per process and shared (they are cheap to clone).
#[derive(Debug, Clone)]
pub struct AwsClients {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub s3: aws_sdk_s3::Client,
    pub sqs: aws_sdk_sqs::Client,
    /// SES v2, for notification mail ([`crate::SesMailer`]).
    pub ses: aws_sdk_sesv2::Client,
    /// KMS, for the data keys of the sealed OAuth tokens ([`crate::TokenKeys`]).
    pub kms: aws_sdk_kms::Client,
}

impl AwsClients {
    /// Loads the shared SDK configuration (`aws_config::defaults(BehaviorVersion::latest())`) once and builds
    /// the clients from it.
    pub async fn build(settings: &AwsSettings) -> Self {
        Self::build_with(settings, None).await
    }

    /// As [`Self::build`], with an interceptor on every client (request counting in benches and tests).
    pub async fn build_with(
        settings: &AwsSettings,
        interceptor: Option<SharedInterceptor>,
    ) -> Self {
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if let Some(url) = &settings.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        if let Some(region) = &settings.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(creds) = &settings.credentials {
            loader = loader.credentials_provider(Credentials::new(
                creds.access_key_id.clone(),
                creds.secret_access_key.clone(),
                None,
                None,
                "ledgerlink-static",
            ));
        }
        let shared = loader.load().await;
        let mut dynamodb = aws_sdk_dynamodb::config::Builder::from(&shared);
        let mut s3 =
            aws_sdk_s3::config::Builder::from(&shared).force_path_style(settings.force_path_style);
        let mut sqs = aws_sdk_sqs::config::Builder::from(&shared);
        let mut ses = aws_sdk_sesv2::config::Builder::from(&shared);
        let mut kms = aws_sdk_kms::config::Builder::from(&shared);
        if let Some(interceptor) = interceptor {
            dynamodb = dynamodb.interceptor(interceptor.clone());
            s3 = s3.interceptor(interceptor.clone());
            sqs = sqs.interceptor(interceptor.clone());
            ses = ses.interceptor(interceptor.clone());
            kms = kms.interceptor(interceptor);
        }
        Self {
            dynamodb: aws_sdk_dynamodb::Client::from_conf(dynamodb.build()),
            s3: aws_sdk_s3::Client::from_conf(s3.build()),
            sqs: aws_sdk_sqs::Client::from_conf(sqs.build()),
            ses: aws_sdk_sesv2::Client::from_conf(ses.build()),
            kms: aws_sdk_kms::Client::from_conf(kms.build()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: BTreeMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn queue_urls_are_read_per_flow_from_their_own_variables() {
        let settings = AwsSettings::from_lookup(lookup(&[
            ("TABLE_NAME", "t"),
            ("BUCKET_NAME", "b"),
            ("TOKEN_KMS_KEY_ID", "k"),
            ("QUEUE_URL_INVOICE_OUT", "http://q/invoice"),
            ("DLQ_URL_INVOICE_OUT", "http://q/invoice-dlq"),
            ("QUEUE_URL_FIRM_SYNC", "http://q/firm"),
        ]))
        .unwrap_or_else(|e| panic!("{e}"));

        assert_eq!(
            settings.queues.get(&Flow::InvoiceOut),
            Some(&QueueUrls {
                url: "http://q/invoice".into(),
                dlq_url: Some("http://q/invoice-dlq".into())
            })
        );
        assert_eq!(
            settings
                .queues
                .get(&Flow::FirmSync)
                .and_then(|q| q.dlq_url.clone()),
            None
        );
        assert!(!settings.queues.contains_key(&Flow::PaymentIn));
        assert!(!settings.force_path_style);
    }

    #[test]
    fn a_missing_table_name_is_named_in_the_error() {
        let err = AwsSettings::from_lookup(lookup(&[("BUCKET_NAME", "b")])).err();

        assert!(
            matches!(err, Some(ConfigError::Missing { ref name }) if name == "TABLE_NAME"),
            "{err:?}"
        );
    }

    #[test]
    fn the_token_key_is_required_so_tokens_are_never_stored_in_clear() {
        let missing =
            AwsSettings::from_lookup(lookup(&[("TABLE_NAME", "t"), ("BUCKET_NAME", "b")])).err();
        let set = AwsSettings::from_lookup(lookup(&[
            ("TABLE_NAME", "t"),
            ("BUCKET_NAME", "b"),
            ("TOKEN_KMS_KEY_ID", "alias/tokens"),
        ]))
        .unwrap_or_else(|e| panic!("{e}"));

        assert!(
            matches!(missing, Some(ConfigError::Missing { ref name }) if name == "TOKEN_KMS_KEY_ID"),
            "{missing:?}"
        );
        assert_eq!(set.token_kms_key_id.as_deref(), Some("alias/tokens"));
    }

    #[test]
    fn a_local_endpoint_switches_s3_to_path_style() {
        let settings = AwsSettings::from_lookup(lookup(&[
            ("TABLE_NAME", "t"),
            ("BUCKET_NAME", "b"),
            ("TOKEN_KMS_KEY_ID", "k"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"),
        ]))
        .unwrap_or_else(|e| panic!("{e}"));

        assert!(settings.force_path_style);
        assert_eq!(
            settings.endpoint_url.as_deref(),
            Some("http://127.0.0.1:5000")
        );
    }

    #[test]
    fn static_credentials_never_show_the_secret() {
        let creds = StaticCredentials {
            access_key_id: "AKIA".into(),
            secret_access_key: "s3cr3t".into(),
        };

        assert!(!format!("{creds:?}").contains("s3cr3t"));
    }
}
