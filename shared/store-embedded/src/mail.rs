//! [`MailFolder`]: the mail port of the local stack. Each message is one RFC 5322 file (`.eml`, the bytes
//! SES would send) in a folder of the data dir, readable by any mail client: written to a temporary file
//! and renamed, so a reader never sees half a message.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use ledgerlink_ports::mail::{MailError, MailMessage, Mailer, render_rfc5322};

/// Writes each message as `<folder>/<UTC time>-<tenant>-<notification id>.eml`.
#[derive(Debug, Clone)]
pub struct MailFolder {
    folder: PathBuf,
    from: String,
}

impl MailFolder {
    /// Mail from `from` into `folder` (created when missing).
    pub fn new(folder: impl AsRef<Path>, from: impl Into<String>) -> Self {
        Self {
            folder: folder.as_ref().to_path_buf(),
            from: from.into(),
        }
    }

    pub fn folder(&self) -> &Path {
        &self.folder
    }

    fn file_name(message: &MailMessage) -> String {
        let safe = |s: &str| {
            s.chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                        c
                    } else {
                        '_'
                    }
                })
                .take(120)
                .collect::<String>()
        };
        format!(
            "{}-{}-{}.eml",
            message.date.format("%Y%m%dT%H%M%SZ"),
            safe(message.tenant.as_str()),
            safe(&message.id)
        )
    }
}

#[async_trait]
impl Mailer for MailFolder {
    fn sender_address(&self) -> &str {
        &self.from
    }

    async fn send(&self, message: &MailMessage) -> Result<String, MailError> {
        let text = render_rfc5322(message, &self.from);
        let folder = self.folder.clone();
        let name = Self::file_name(message);
        tokio::task::spawn_blocking(move || -> std::io::Result<String> {
            std::fs::create_dir_all(&folder)?;
            let path = folder.join(&name);
            let partial = folder.join(format!(".{name}.partial"));
            std::fs::write(&partial, text.as_bytes())?;
            std::fs::rename(&partial, &path)?;
            Ok(path.display().to_string())
        })
        .await
        .map_err(|e| MailError::Transient {
            message: format!("writing the mail file: {e}"),
            source: Some(Box::new(e)),
        })?
        .map_err(|e| MailError::Transient {
            message: format!("writing the mail file: {e}"),
            source: Some(Box::new(e)),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use chrono::DateTime;
    use ledgerlink_domain::TenantId;

    #[tokio::test]
    async fn each_message_is_one_eml_file_with_its_headers_and_body() {
        let dir = tempfile::tempdir().unwrap();
        let mailer = MailFolder::new(dir.path().join("mail"), "ledgerlink@demo.example");
        let message = MailMessage {
            tenant: TenantId::parse("demo").unwrap(),
            id: "error-invoice-000000010804.202612.3-abc".into(),
            to: vec!["finance@demo.example".into()],
            subject: "Ledgerlink could not synchronise invoice 000000010804.202612.3".into(),
            text: "invoice 000000010804 totals EUR -845.71, which is negative".into(),
            date: DateTime::from_timestamp(1_782_900_000, 0).unwrap(),
        };
        let path = mailer.send(&message).await.unwrap();
        assert!(
            path.ends_with(
                "mail/20260701T100000Z-demo-error-invoice-000000010804.202612.3-abc.eml"
            )
        );
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("To: finance@demo.example\r\n"));
        assert!(text.contains(
            "Subject: Ledgerlink could not synchronise invoice 000000010804.202612.3\r\n"
        ));
        assert!(
            text.contains("\r\n\r\ninvoice 000000010804 totals EUR -845.71, which is negative")
        );
        let entries: Vec<_> = std::fs::read_dir(dir.path().join("mail"))
            .unwrap()
            .collect();
        assert_eq!(entries.len(), 1, "no partial file is left behind");
    }
}
