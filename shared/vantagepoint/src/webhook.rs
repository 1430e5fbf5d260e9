//! Vantagepoint workflow webhooks: registering a Webhook action on a user-initiated workflow (the calls
//! Unionpoint makes, reference §7), and verifying the requests VP then sends us.
//!
//! VP authenticates its webhook POSTs with HTTP Basic (the action's Username/Password); its Secret/Public-key
//! signing is undocumented, so a deployment may instead put a shared secret in a header or URL. Both are
//! compared in constant time.

use std::collections::BTreeMap;

use base64::Engine;
use reqwest::Method;
use serde_json::{Value, json};
use subtle::ConstantTimeEq;

use ledgerlink_ports::psa::{RegisteredWebhook, WebhookRegistration};

use crate::client::{Idempotency, VantagepointClient};
use crate::config::Secret;
use crate::decode;
use crate::error::VpError;
use crate::http::Root;

impl VantagepointClient {
    /// Registers (or finds) the workflow, its Webhook action, activates it and sets its arguments.
    pub async fn register_webhook(
        &self,
        reg: &WebhookRegistration,
    ) -> Result<RegisteredWebhook, VpError> {
        if reg.retry_count > 10 || !(1..=60).contains(&reg.timeout_secs) {
            return Err(VpError::Validation {
                operation: "register webhook".into(),
                message: "retry count must be 0..=10 and timeout 1..=60 seconds".into(),
            });
        }
        let query = [
            ("WorkflowAPP".to_owned(), "I".to_owned()),
            ("ApplicationName".to_owned(), reg.application.clone()),
        ];
        let events = self
            .rows_or_empty(&["Workflow", "WorkflowEvents", &reg.application], &query)
            .await?;
        let existing = events.iter().find_map(|row| {
            let desc = row
                .get("Description")
                .and_then(decode::text)
                .unwrap_or_default();
            let kind = row
                .get("EventType")
                .and_then(decode::text)
                .unwrap_or_default();
            (desc == reg.description && kind.eq_ignore_ascii_case(reg.event.as_str()))
                .then(|| row.get("EventID").and_then(decode::text))
                .flatten()
                .filter(|id| !id.is_empty())
        });
        let mut created = false;
        let event_id = match existing {
            Some(id) => id,
            None => {
                let answer = self
                    .post(
                        Root::Api,
                        &["Workflow", "Workflow"],
                        &json!({
                            "ApplicationName": reg.application,
                            "EventType": reg.event.as_str(),
                            "Active": "Y",
                            "PRLevel": 0,
                            "Description": reg.description,
                        }),
                    )
                    .await?;
                created = true;
                first_text(answer, "EventID").ok_or_else(|| {
                    VpError::decode_msg("POST Workflow/Workflow", "no EventID in the answer")
                })?
            }
        };

        // The Webhook action: reuse one an earlier (possibly interrupted) registration left behind.
        let hooks = self
            .rows_or_empty(&["Workflow", "dlgWorkflowActionWebhook"], &[])
            .await?;
        let existing_action = hooks.iter().find_map(|row| {
            let action = row.get("ActionID").and_then(decode::text)?;
            let url = row
                .get("WebhookURL")
                .and_then(decode::text)
                .unwrap_or_default();
            (action == event_id && url == reg.url).then_some(action)
        });
        let action_id = match existing_action {
            Some(id) => id,
            None => {
                let (user, password) = match &reg.basic_auth {
                    Some((u, p)) => (u.clone(), p.clone()),
                    None => (String::new(), String::new()),
                };
                let answer = self
                    .post(
                        Root::Api,
                        &["Workflow", "dlgWorkflowActionWebhook"],
                        &json!({
                            "ActionID": event_id,
                            "WebhookURL": reg.url,
                            "AuthUsername": user,
                            "AuthPassword": password,
                            "RetryCount": reg.retry_count,
                            "Timeout": reg.timeout_secs,
                            "RunAfterSave": "Y",
                        }),
                    )
                    .await?;
                created = true;
                first_text(answer, "ActionID").unwrap_or_else(|| event_id.clone())
            }
        };

        // Linking is a PUT of the same row: idempotent, so it is always (re)sent.
        self.call(
            Method::PUT,
            Root::Api,
            &["Workflow"],
            &[],
            Some(&json!({"WorkflowActions": [{
                "EventID": event_id,
                "ActionID": action_id,
                "Active": "Y",
                "ActionType": "Webhook",
                "PRLevel": 0,
                "Description": reg.description,
            }]})),
            Idempotency::Idempotent,
        )
        .await?;

        let args = self
            .rows_or_empty(&["Workflow", "dlgWorkflowActionWebhookArgs"], &[])
            .await?;
        for (i, arg) in reg.arguments.iter().enumerate() {
            let present = args.iter().any(|row| {
                row.get("ActionID").and_then(decode::text).as_deref() == Some(action_id.as_str())
                    && row.get("ArgName").and_then(decode::text).as_deref()
                        == Some(arg.name.as_str())
            });
            if present {
                continue;
            }
            self.post(
                Root::Api,
                &["Workflow", "dlgWorkflowActionWebhookArgs"],
                &json!({
                    "ActionID": action_id,
                    "ArgName": arg.name,
                    "SQLExpression": arg.sql_expression,
                    "ArgOrder": i + 1,
                }),
            )
            .await?;
            created = true;
        }
        Ok(RegisteredWebhook {
            event_id,
            action_id,
            created,
        })
    }

    /// The rows of a GET, or none when VP answers 404.
    async fn rows_or_empty(
        &self,
        segments: &[&str],
        query: &[(String, String)],
    ) -> Result<Vec<Value>, VpError> {
        match self
            .call(
                Method::GET,
                Root::Api,
                segments,
                query,
                None,
                Idempotency::Idempotent,
            )
            .await
        {
            Ok(v) => Ok(decode::rows(v)),
            Err(VpError::NotFound { .. }) => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }
}

fn first_text(value: Value, key: &str) -> Option<String> {
    decode::rows(value)
        .into_iter()
        .find_map(|row| row.get(key).and_then(decode::text))
        .filter(|s| !s.is_empty())
}

// ------------------------------------------------------------------------------------------------------
// Verifying incoming webhooks
// ------------------------------------------------------------------------------------------------------

/// Why an incoming webhook was refused. Carries no credential material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookAuthError {
    #[error("the webhook request carries no credentials")]
    Missing,
    #[error("the webhook credentials do not match")]
    Mismatch,
    #[error("the webhook verifier has no expected credentials configured")]
    NotConfigured,
}

/// Checks an incoming VP webhook against the configured Basic credentials and/or shared secret.
#[derive(Clone)]
pub struct WebhookVerifier {
    basic: Option<(String, Secret)>,
    shared_secret: Option<Secret>,
    signing_secret: Option<Secret>,
}

impl std::fmt::Debug for WebhookVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookVerifier")
            .field("basic_user", &self.basic.as_ref().map(|(u, _)| u))
            .field(
                "shared_secret",
                &self.shared_secret.as_ref().map(|_| "<redacted>"),
            )
            .field(
                "signing_secret",
                &self.signing_secret.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

fn ct_equal(a: &[u8], b: &[u8]) -> bool {
    // Lengths are compared in the clear (they are not secret enough to matter); contents in constant time.
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

impl WebhookVerifier {
    pub fn new(basic: Option<(String, Secret)>, shared_secret: Option<Secret>) -> Self {
        Self {
            basic,
            shared_secret,
            signing_secret: None,
        }
    }

    /// Also accepts deliveries signed with the webhook action's Security Secret: `X-VP-Signature:
    /// sha256=<hex HMAC-SHA256 of the raw body>`. VP's scheme is undocumented (reference §7); this is the
    /// emulator's, switchable there (`WebhookSigning`), so a deployment can rely on Basic auth instead.
    pub fn with_signing_secret(mut self, secret: Secret) -> Self {
        self.signing_secret = Some(secret);
        self
    }

    /// [`Self::verify`] plus the body signature: accepts when the signature (`X-VP-Signature`) matches the
    /// raw `body` or any other configured credential matches.
    pub fn verify_request(
        &self,
        authorization: Option<&str>,
        secret: Option<&str>,
        signature: Option<&str>,
        body: &[u8],
    ) -> Result<(), WebhookAuthError> {
        let mut presented = false;
        if let (Some(key), Some(sig)) = (&self.signing_secret, signature) {
            presented = true;
            use hmac::{Hmac, Mac};
            if let Ok(mut mac) =
                <Hmac<sha2::Sha256> as Mac>::new_from_slice(key.expose().as_bytes())
            {
                mac.update(body);
                let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
                if ct_equal(
                    sig.trim().to_ascii_lowercase().as_bytes(),
                    expected.as_bytes(),
                ) {
                    return Ok(());
                }
            }
        }
        match self.verify(authorization, secret) {
            Ok(()) => Ok(()),
            Err(WebhookAuthError::NotConfigured) if self.signing_secret.is_some() => {
                Err(if presented {
                    WebhookAuthError::Mismatch
                } else {
                    WebhookAuthError::Missing
                })
            }
            Err(WebhookAuthError::Missing) if presented => Err(WebhookAuthError::Mismatch),
            Err(e) => Err(e),
        }
    }

    /// `authorization`: the `Authorization` header; `secret`: the shared-secret header or URL parameter.
    /// Accepts when any configured credential matches.
    pub fn verify(
        &self,
        authorization: Option<&str>,
        secret: Option<&str>,
    ) -> Result<(), WebhookAuthError> {
        if self.basic.is_none() && self.shared_secret.is_none() {
            return Err(WebhookAuthError::NotConfigured);
        }
        let mut presented = false;
        if let (Some((user, password)), Some(header)) = (&self.basic, authorization) {
            let mut parts = header.trim().splitn(2, ' ');
            let scheme = parts.next().unwrap_or_default();
            let encoded = parts.next().unwrap_or_default().trim();
            if scheme.eq_ignore_ascii_case("basic") {
                presented = true;
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(encoded)
                    .unwrap_or_default();
                let expected = format!("{user}:{}", password.expose());
                if ct_equal(&decoded, expected.as_bytes()) {
                    return Ok(());
                }
            }
        }
        if let Some(expected) = &self.shared_secret {
            let bearer = authorization.and_then(|h| {
                let (scheme, rest) = h.trim().split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then_some(rest.trim())
            });
            for candidate in [secret, bearer].into_iter().flatten() {
                presented = true;
                if ct_equal(candidate.as_bytes(), expected.expose().as_bytes()) {
                    return Ok(());
                }
            }
        }
        Err(if presented {
            WebhookAuthError::Mismatch
        } else {
            WebhookAuthError::Missing
        })
    }
}

/// The flat `{ArgName: value}` body VP posts, with every value as text.
pub fn parse_webhook_payload(body: &[u8]) -> Result<BTreeMap<String, String>, VpError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| VpError::decode("webhook payload", e))?;
    let value = decode::unwrap_json_string(value);
    let row = decode::rows(value)
        .into_iter()
        .next()
        .unwrap_or(Value::Null);
    match row {
        Value::Object(map) => Ok(map
            .into_iter()
            .map(|(k, v)| (k, decode::text(&v).unwrap_or_default().trim().to_owned()))
            .collect()),
        other => Err(VpError::decode_msg(
            "webhook payload",
            format!("expected an object, got {other}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// Issue 20 VP item 5: a delivery signed with the action's Secret (`X-VP-Signature`, HMAC-SHA256 of the
    /// raw body; expected value computed independently with Python's `hmac`) is accepted; a wrong or missing
    /// signature is refused unless another configured credential matches.
    #[test]
    fn a_body_signed_with_the_webhook_secret_is_accepted_and_a_tampered_one_refused() {
        let body = br#"{"ContactID":"C1"}"#;
        let good = "sha256=c5853be89fde50b5655ef1535646a99fd782d138576ca18eecdef75de13d49e8";
        let signed =
            WebhookVerifier::new(None, None).with_signing_secret(Secret::new("hook-secret"));
        assert_eq!(signed.verify_request(None, None, Some(good), body), Ok(()));
        assert_eq!(
            signed.verify_request(
                None,
                None,
                Some(&good.to_ascii_uppercase().replace("SHA256", "sha256")),
                body
            ),
            Ok(())
        );
        assert_eq!(
            signed.verify_request(None, None, Some(good), br#"{"ContactID":"C2"}"#),
            Err(WebhookAuthError::Mismatch)
        );
        assert_eq!(
            signed.verify_request(None, None, None, body),
            Err(WebhookAuthError::Missing)
        );
        let both = WebhookVerifier::new(Some(("u".into(), Secret::new("p"))), None)
            .with_signing_secret(Secret::new("hook-secret"));
        assert_eq!(
            both.verify_request(Some(&basic("u", "p")), None, Some("sha256=00"), body),
            Ok(()),
            "Basic auth still admits a delivery"
        );
        assert_eq!(
            both.verify_request(Some(&basic("u", "x")), None, Some("sha256=00"), body),
            Err(WebhookAuthError::Mismatch)
        );
    }

    fn basic(user: &str, pass: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
        )
    }

    #[test]
    fn matching_basic_credentials_are_accepted_and_others_refused() {
        let v = WebhookVerifier::new(Some(("vp".into(), Secret::new("pw"))), None);
        assert_eq!(v.verify(Some(&basic("vp", "pw")), None), Ok(()));
        assert_eq!(
            v.verify(Some(&basic("vp", "pX")), None),
            Err(WebhookAuthError::Mismatch)
        );
        assert_eq!(
            v.verify(Some(&basic("vpx", "pw")), None),
            Err(WebhookAuthError::Mismatch)
        );
        assert_eq!(v.verify(None, None), Err(WebhookAuthError::Missing));
        assert_eq!(
            v.verify(Some("Basic !!notbase64"), None),
            Err(WebhookAuthError::Mismatch)
        );
    }

    #[test]
    fn a_shared_secret_is_accepted_from_the_secret_header_or_a_bearer() {
        let v = WebhookVerifier::new(None, Some(Secret::new("topsecret")));
        assert_eq!(v.verify(None, Some("topsecret")), Ok(()));
        assert_eq!(v.verify(Some("Bearer topsecret"), None), Ok(()));
        assert_eq!(
            v.verify(None, Some("topsecreT")),
            Err(WebhookAuthError::Mismatch)
        );
        assert_eq!(
            v.verify(None, Some("topsecret-longer")),
            Err(WebhookAuthError::Mismatch)
        );
    }

    #[test]
    fn a_verifier_without_expected_credentials_refuses_everything() {
        let v = WebhookVerifier::new(None, None);
        assert_eq!(
            v.verify(Some(&basic("a", "b")), Some("x")),
            Err(WebhookAuthError::NotConfigured)
        );
    }

    #[test]
    fn debug_of_a_verifier_hides_the_secrets() {
        let v = WebhookVerifier::new(
            Some(("vp".into(), Secret::new("pw-value"))),
            Some(Secret::new("sh-value")),
        );
        let text = format!("{v:?}");
        assert!(!text.contains("pw-value") && !text.contains("sh-value"));
    }

    #[test]
    fn the_flat_payload_becomes_text_fields() {
        let body = br#"{"WBS1":"2026-001","Name":"New HQ","WBS2":" ","Action":"UPDATE","Seq":3}"#;
        let fields = parse_webhook_payload(body).unwrap();
        assert_eq!(fields["WBS1"], "2026-001");
        assert_eq!(fields["WBS2"], "");
        assert_eq!(fields["Seq"], "3");
        assert!(parse_webhook_payload(b"[1]").is_err());
    }
}
