//! [`SesMailer`]: the mail port on Amazon SES v2. Each notification goes out as the raw RFC 5322 message
//! the ports render ([`ledgerlink_ports::mail::render_rfc5322`]) — the same bytes the local stack writes as
//! an `.eml` file — from the verified sender, through an optional configuration set (bounces, complaints).

use async_trait::async_trait;
use aws_sdk_sesv2::error::SdkError;
use aws_sdk_sesv2::operation::send_email::SendEmailError;
use aws_sdk_sesv2::primitives::Blob;
use aws_sdk_sesv2::types::{Destination, EmailContent, RawMessage};
use ledgerlink_ports::mail::{MailError, MailMessage, Mailer, render_rfc5322};

use crate::config::SesSettings;

/// The SES adapter of [`Mailer`].
#[derive(Debug, Clone)]
pub struct SesMailer {
    client: aws_sdk_sesv2::Client,
    settings: SesSettings,
}

impl SesMailer {
    pub fn new(client: aws_sdk_sesv2::Client, settings: SesSettings) -> Self {
        Self { client, settings }
    }
}

/// Throttling and server faults may pass; everything SES refuses (an unverified sender, a rejected
/// message, a bad request) will not.
fn classify(error: SdkError<SendEmailError>) -> MailError {
    let message = match &error {
        SdkError::ServiceError(e) => format!("{}", e.err()),
        other => other.to_string(),
    };
    let transient = match &error {
        SdkError::ServiceError(e) => {
            matches!(
                e.err(),
                SendEmailError::TooManyRequestsException(_)
                    | SendEmailError::LimitExceededException(_)
            ) || e.raw().status().is_server_error()
        }
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        _ => false,
    };
    if transient {
        MailError::Transient {
            message,
            source: Some(Box::new(error)),
        }
    } else {
        MailError::Refused { message }
    }
}

#[async_trait]
impl Mailer for SesMailer {
    fn sender_address(&self) -> &str {
        &self.settings.from
    }

    async fn send(&self, message: &MailMessage) -> Result<String, MailError> {
        let raw = render_rfc5322(message, &self.settings.from);
        let raw = RawMessage::builder()
            .data(Blob::new(raw.into_bytes()))
            .build()
            .map_err(|e| MailError::Refused {
                message: e.to_string(),
            })?;
        let sent = self
            .client
            .send_email()
            .from_email_address(&self.settings.from)
            .destination(
                Destination::builder()
                    .set_to_addresses(Some(message.to.clone()))
                    .build(),
            )
            .content(EmailContent::builder().raw(raw).build())
            .set_configuration_set_name(self.settings.configuration_set.clone())
            .send()
            .await
            .map_err(classify)?;
        Ok(sent.message_id().unwrap_or_default().to_owned())
    }
}
