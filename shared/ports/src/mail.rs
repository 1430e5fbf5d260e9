//! E-mail: the [`Mailer`] port, the RFC 5322 message both adapters send, and [`MailingOutbox`], which mails
//! every notification that has an addressee.
//!
//! **The entry point.** Anything that pushes a [`Notification`] through `StateStores::notifications` — a
//! flow's error notification (the spec's "error email stating that there is an error processing the
//! invoice batch"), a paused connection, an export that finished or failed (seed 003's export-complete
//! e-mail) — is mailed when the stores were built with [`StateStores::with_mailer`]: nothing else to call.
//! A notification for `operators` goes to the tenant's operator addresses, one for a user to that user's
//! address (tenant setting `mail`, see [`MailSettings`]); without an address it stays in-app only.
//!
//! Each notification is mailed at most once: the send runs under the idempotency store's key
//! `mail/{tenant}/{notification id}`, so a notification pushed again (a retried flow) is not mailed twice,
//! and a send that failed releases the key for the retry.
//!
//! Adapters: SES (`ledgerlink-store-aws`, SES v2 `SendEmail` with the raw message) on AWS; a mail folder of
//! `.eml` files (`ledgerlink-store-embedded`) locally.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ledgerlink_clock::SharedClock;
use ledgerlink_domain::TenantId;
use serde::{Deserialize, Serialize};

use crate::state::{
    IdempotencyBegin, IdempotencyStore, Notification, NotificationOutbox, StateStores, TenantStore,
};
use crate::{BoxError, Page, PageRequest, StoreError, StoreResult};

/// The tenant setting holding the notification addresses.
pub const MAIL_SETTING: &str = "mail";

/// Where a tenant's notifications are mailed (tenant setting `mail`): `{"operators":
/// ["finance@firm.example"], "users": {"dolores": "dolores@firm.example"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MailSettings {
    #[serde(default)]
    pub operators: Vec<String>,
    #[serde(default)]
    pub users: std::collections::BTreeMap<String, String>,
}

impl MailSettings {
    /// The tenant's mail settings; absent or unreadable settings mean no addresses.
    pub fn of(settings: &std::collections::BTreeMap<String, serde_json::Value>) -> Self {
        settings
            .get(MAIL_SETTING)
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or_default()
    }

    /// The addresses a notification for `recipient` goes to: the operators' for `operators`, else the
    /// user's own. Malformed addresses are left out.
    pub fn addresses(&self, recipient: &str) -> Vec<String> {
        let raw: Vec<String> = if recipient == "operators" {
            self.operators.clone()
        } else {
            self.users.get(recipient).cloned().into_iter().collect()
        };
        raw.into_iter()
            .map(|a| a.trim().to_owned())
            .filter(|a| valid_address(a))
            .collect()
    }
}

/// A plain `local@domain` address without spaces, control characters or header syntax.
pub fn valid_address(address: &str) -> bool {
    let Some((local, domain)) = address.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && address.len() <= 254
        && address
            .chars()
            .all(|c| c.is_ascii_graphic() && !matches!(c, '<' | '>' | ',' | ';' | '"' | '(' | ')'))
        && !domain.contains('@')
}

/// One message to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailMessage {
    pub tenant: TenantId,
    /// The notification's id: the stable part of the `Message-ID`, and the file name of a local message.
    pub id: String,
    pub to: Vec<String>,
    pub subject: String,
    pub text: String,
    pub date: DateTime<Utc>,
}

/// Why a message was not sent.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The message or its addresses were refused (an address the sender may not use, a rejected message):
    /// sending it again fails the same way.
    #[error("mail refused: {message}")]
    Refused { message: String },
    /// Throttling, a timeout, a 5xx: the same message may go out later.
    #[error("temporary mail failure: {message}")]
    Transient {
        message: String,
        #[source]
        source: Option<BoxError>,
    },
}

/// Sends e-mail. Implementations: SES (AWS), a folder of `.eml` files (local stack).
#[async_trait]
pub trait Mailer: Send + Sync + std::fmt::Debug {
    /// The sender address (`From`).
    fn sender_address(&self) -> &str;
    /// Sends one message; returns the transport's id of it.
    async fn send(&self, message: &MailMessage) -> Result<String, MailError>;
}

/// RFC 2047 encoded-word (UTF-8, base64) for a header text, so any character is safe in a header.
fn encoded_word(text: &str) -> String {
    use base64::Engine as _;
    if text.chars().all(|c| c.is_ascii_graphic() || c == ' ') && text.len() < 70 {
        return text.to_owned();
    }
    // Encoded words are at most 75 characters: split the UTF-8 text into chunks of 45 bytes or fewer at
    // character boundaries (60 base64 characters each).
    let mut words = Vec::new();
    let mut chunk = String::new();
    for c in text.chars() {
        if chunk.len() + c.len_utf8() > 45 {
            words.push(std::mem::take(&mut chunk));
        }
        chunk.push(c);
    }
    if !chunk.is_empty() {
        words.push(chunk);
    }
    words
        .iter()
        .map(|w| {
            format!(
                "=?UTF-8?B?{}?=",
                base64::engine::general_purpose::STANDARD.encode(w.as_bytes())
            )
        })
        .collect::<Vec<_>>()
        .join("\r\n ")
}

/// Quoted-printable body (RFC 2045): lines of at most 76 characters, CRLF line ends.
fn quoted_printable(text: &str) -> String {
    let mut out = String::new();
    let normalized = text.replace("\r\n", "\n");
    for (n, line) in normalized.split('\n').enumerate() {
        if n > 0 {
            out.push_str("\r\n");
        }
        let mut width = 0;
        let bytes = line.as_bytes();
        for (i, b) in bytes.iter().enumerate() {
            let last = i + 1 == bytes.len();
            let encoded = match *b {
                b'=' => format!("={b:02X}"),
                b' ' | b'\t' if last => format!("={b:02X}"),
                33..=126 | b' ' | b'\t' => (*b as char).to_string(),
                _ => format!("={b:02X}"),
            };
            if width + encoded.len() > 75 {
                out.push_str("=\r\n");
                width = 0;
            }
            width += encoded.len();
            out.push_str(&encoded);
        }
    }
    out
}

/// The `Message-ID` of a notification's mail: stable per tenant and notification.
pub fn message_id(message: &MailMessage) -> String {
    let clean = |s: &str| {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                    c
                } else {
                    '_'
                }
            })
            .collect::<String>()
    };
    format!(
        "<{}.{}@ledgerlink.invalid>",
        clean(&message.id),
        clean(message.tenant.as_str())
    )
}

/// The message in RFC 5322 form (MIME, UTF-8 text, quoted-printable), CRLF line ends: what the SES adapter
/// sends raw and the local adapter writes as an `.eml` file.
pub fn render_rfc5322(message: &MailMessage, from: &str) -> String {
    let mut out = String::new();
    let _ = write!(out, "From: Ledgerlink <{from}>\r\n");
    let _ = write!(out, "To: {}\r\n", message.to.join(", "));
    let _ = write!(out, "Subject: {}\r\n", encoded_word(&message.subject));
    let _ = write!(
        out,
        "Date: {}\r\n",
        message.date.format("%a, %d %b %Y %H:%M:%S +0000")
    );
    let _ = write!(out, "Message-ID: {}\r\n", message_id(message));
    out.push_str("MIME-Version: 1.0\r\n");
    out.push_str("Content-Type: text/plain; charset=utf-8\r\n");
    out.push_str("Content-Transfer-Encoding: quoted-printable\r\n");
    let _ = write!(out, "X-Ledgerlink-Tenant: {}\r\n", message.tenant);
    out.push_str("\r\n");
    out.push_str(&quoted_printable(&message.text));
    out.push_str("\r\n");
    out
}

/// A [`NotificationOutbox`] that also mails each notification with an addressee, once.
#[derive(Debug)]
pub struct MailingOutbox {
    inner: Arc<dyn NotificationOutbox>,
    tenants: Arc<dyn TenantStore>,
    idempotency: Arc<dyn IdempotencyStore>,
    mailer: Arc<dyn Mailer>,
    clock: SharedClock,
}

/// How long one sender holds a notification's mail key.
const MAIL_LEASE: Duration = Duration::from_secs(120);

impl MailingOutbox {
    /// The text of the mail: the notification's body, then where to look.
    fn text(notification: &Notification) -> String {
        let mut text = notification.body.clone();
        if let Some(link) = &notification.link {
            let _ = write!(text, "\n\nOpen it in Ledgerlink: {link}");
        }
        let _ = write!(
            text,
            "\n\n--\nLedgerlink, tenant {}. This message is also in Ledgerlink's notifications.",
            notification.tenant
        );
        text
    }

    async fn deliver(&self, notification: &Notification) -> StoreResult<()> {
        let Some(tenant) = self.tenants.get(&notification.tenant).await? else {
            return Ok(());
        };
        let to = MailSettings::of(&tenant.settings).addresses(&notification.recipient);
        if to.is_empty() {
            return Ok(());
        }
        let message = MailMessage {
            tenant: notification.tenant.clone(),
            id: notification.id.clone(),
            to,
            subject: notification.subject.clone(),
            text: Self::text(notification),
            date: notification.created_at,
        };
        let key = format!("mail/{}/{}", notification.tenant, notification.id);
        let hash = format!("{:x}", crate::mail::digest(&render_rfc5322(&message, "")));
        let now = self.clock.now();
        let fence = match self.idempotency.begin(&key, &hash, MAIL_LEASE, now).await? {
            IdempotencyBegin::Started(claim) => claim.fence,
            // Sent before, being sent by another worker, or a different message under the same id: not again.
            _ => return Ok(()),
        };
        match self.mailer.send(&message).await {
            Ok(sent) => {
                let expires = now + chrono::Duration::days(400);
                match self
                    .idempotency
                    .complete(
                        &key,
                        fence,
                        &hash,
                        &serde_json::json!({ "sent": sent }),
                        expires,
                    )
                    .await
                {
                    // Our lease ran out and another worker took the mail over: it was sent once by us.
                    Ok(()) | Err(StoreError::Conflict { .. }) => {}
                    Err(e) => return Err(e),
                }
                tracing::info!(tenant = %notification.tenant, notification = %notification.id, "notification mailed");
                Ok(())
            }
            Err(MailError::Refused { message }) => {
                // Not retried: the notification stays in-app; the key is kept so it is not retried forever.
                self.idempotency
                    .complete(
                        &key,
                        fence,
                        &hash,
                        &serde_json::json!({ "refused": message }),
                        now + chrono::Duration::days(400),
                    )
                    .await?;
                tracing::warn!(tenant = %notification.tenant, notification = %notification.id, error = %message, "notification mail refused");
                Ok(())
            }
            Err(MailError::Transient { message, source }) => {
                self.idempotency.release(&key, fence).await?;
                Err(StoreError::Transient {
                    message: format!("mailing notification {}: {message}", notification.id),
                    source,
                })
            }
        }
    }
}

/// A short digest of a text (the idempotency payload of a mail).
fn digest(text: &str) -> u64 {
    // FNV-1a: stable across processes (unlike the std hasher), enough to tell two messages apart.
    text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[async_trait]
impl NotificationOutbox for MailingOutbox {
    async fn push(&self, notification: &Notification) -> StoreResult<()> {
        self.inner.push(notification).await?;
        self.deliver(notification).await
    }

    async fn list(&self, tenant: &TenantId, page: PageRequest) -> StoreResult<Page<Notification>> {
        self.inner.list(tenant, page).await
    }

    async fn get(&self, tenant: &TenantId, id: &str) -> StoreResult<Option<Notification>> {
        self.inner.get(tenant, id).await
    }

    async fn mark_delivered(
        &self,
        tenant: &TenantId,
        id: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.inner.mark_delivered(tenant, id, at).await
    }
}

impl StateStores {
    /// These stores with every notification pushed through them also mailed by `mailer` (see the module
    /// docs): the one line each entry point (Lambda, local stack) adds to send e-mail.
    pub fn with_mailer(mut self, mailer: Arc<dyn Mailer>, clock: SharedClock) -> Self {
        self.notifications = Arc::new(MailingOutbox {
            inner: self.notifications.clone(),
            tenants: self.tenants.clone(),
            idempotency: self.idempotency.clone(),
            mailer,
            clock,
        });
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(subject: &str, text: &str) -> MailMessage {
        MailMessage {
            tenant: TenantId::parse("acme").unwrap_or_else(|e| panic!("{e}")),
            id: "error-invoice-0001".into(),
            to: vec!["finance@acme.example".into()],
            subject: subject.into(),
            text: text.into(),
            date: DateTime::from_timestamp(1_782_900_000, 0).unwrap_or_default(),
        }
    }

    #[test]
    fn a_message_renders_as_rfc_5322_with_crlf_headers_and_a_quoted_printable_body() {
        let text = render_rfc5322(
            &message(
                "Ledgerlink could not synchronise invoice 0001",
                "Total = €12,50",
            ),
            "ledgerlink@acme.example",
        );
        assert!(text.starts_with(
            "From: Ledgerlink <ledgerlink@acme.example>\r\nTo: finance@acme.example\r\n"
        ));
        assert!(text.contains("Subject: Ledgerlink could not synchronise invoice 0001\r\n"));
        assert!(
            text.contains("Date: Wed, 01 Jul 2026 10:00:00 +0000\r\n"),
            "{text}"
        );
        assert!(text.contains("Message-ID: <error-invoice-0001.acme@ledgerlink.invalid>\r\n"));
        assert!(
            text.contains("\r\n\r\nTotal =3D =E2=82=AC12,50\r\n"),
            "{text}"
        );
    }

    #[test]
    fn a_subject_with_line_breaks_cannot_inject_headers() {
        let text = render_rfc5322(
            &message("x\r\nBcc: evil@example.com", "body"),
            "a@b.example",
        );
        let headers = text.split("\r\n\r\n").next().unwrap_or_default();
        assert!(!headers.lines().any(|l| l.starts_with("Bcc:")), "{headers}");
        assert!(headers.contains("Subject: =?UTF-8?B?"), "{headers}");
    }

    #[test]
    fn addresses_come_from_the_tenant_settings_and_bad_ones_are_left_out() {
        let settings = MailSettings {
            operators: vec!["finance@acme.example".into(), "not an address".into()],
            users: [("dolores".to_owned(), "dolores@acme.example".to_owned())].into(),
        };
        assert_eq!(
            settings.addresses("operators"),
            vec!["finance@acme.example"]
        );
        assert_eq!(settings.addresses("dolores"), vec!["dolores@acme.example"]);
        assert!(settings.addresses("someone-else").is_empty());
        assert!(!valid_address("a@b.example\r\nBcc: x@y.z"));
    }
}
