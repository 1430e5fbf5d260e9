//! Exact Online webhook deliveries: HashCode verification and the typed payload.
//!
//! `HashCode = UPPERCASE_HEX(HMAC-SHA256(webhook secret, the exact bytes of the Content object))`, where the
//! Content bytes are everything between `{"Content":` and `,"HashCode":"` of the raw body — re-serialising
//! the parsed JSON would change the bytes and break the signature (`exact-online-api.md` §6.4). The
//! signature is compared in constant time. Exact also sends an EMPTY POST to validate a new subscription;
//! it must be answered 2xx and is reported as its own outcome.

use chrono::NaiveDateTime;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Deserializer, Serialize};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::config::Secret;

const CONTENT_PREFIX: &[u8] = br#"{"Content":"#;
const HASH_MARKER: &[u8] = br#","HashCode":""#;
const BODY_SUFFIX: &[u8] = br#""}"#;

/// What changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum WebhookAction {
    Create,
    Update,
    Delete,
}

/// The `Content` of a delivery: thin — fetch the record by `key` after verifying.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct WebhookContent {
    /// `Accounts`, `SalesEntries`, ...
    pub topic: String,
    pub client_id: String,
    pub division: u32,
    pub action: WebhookAction,
    pub key: Uuid,
    pub exact_online_endpoint: String,
    /// Local (CET) time without offset, as Exact sends it.
    #[serde(deserialize_with = "lenient_naive_datetime")]
    pub event_created_on: NaiveDateTime,
}

fn lenient_naive_datetime<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveDateTime, D::Error> {
    let text = String::deserialize(d)?;
    let trimmed = text.trim().trim_end_matches('Z');
    NaiveDateTime::parse_from_str(trimmed, "%Y-%m-%dT%H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(trimmed, "%Y-%m-%dT%H:%M:%S"))
        .map_err(serde::de::Error::custom)
}

/// The outcome of checking one delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookVerification {
    /// The empty POST Exact sends when a subscription is created: answer 200, do nothing else.
    ValidationRequest,
    /// A delivery whose HashCode matched.
    Verified(WebhookContent),
}

/// Why a delivery was refused. Answer 401/400; never act on it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    #[error("webhook body is not of the form {{\"Content\":…,\"HashCode\":\"…\"}}")]
    Malformed,
    #[error("webhook HashCode does not match the content")]
    BadSignature,
    #[error("webhook content is not the expected payload: {0}")]
    BadContent(String),
}

/// Verifies a raw webhook body with the app's webhook secret (not the OAuth client secret).
pub fn verify_webhook(body: &[u8], secret: &Secret) -> Result<WebhookVerification, WebhookError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(WebhookVerification::ValidationRequest);
    }
    let (content, hash) = split_body(trim_ascii(body)).ok_or(WebhookError::Malformed)?;
    let expected = sign(content, secret);
    if hash.len() != expected.len() || !bool::from(hash.ct_eq(expected.as_bytes())) {
        return Err(WebhookError::BadSignature);
    }
    let content: WebhookContent =
        serde_json::from_slice(content).map_err(|e| WebhookError::BadContent(e.to_string()))?;
    Ok(WebhookVerification::Verified(content))
}

/// The exact bytes of the signed `Content` of a delivery (what its HashCode covers), `None` when the
/// body does not have the delivery's shape. Two deliveries with the same signed content are the same
/// event, whatever whitespace surrounds it: this is what identifies a delivery for de-duplication.
pub fn signed_content(body: &[u8]) -> Option<&[u8]> {
    split_body(trim_ascii(body)).map(|(content, _)| content)
}

/// `UPPERCASE_HEX(HMAC-SHA256(secret, content))`, as Exact computes it (also used by tests and emulators).
pub fn sign(content: &[u8], secret: &Secret) -> String {
    // HMAC accepts keys of any length, so construction cannot fail; fall back to an impossible hash if it did.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes()) else {
        return String::new();
    };
    mac.update(content);
    hex::encode_upper(mac.finalize().into_bytes())
}

fn trim_ascii(body: &[u8]) -> &[u8] {
    let start = body
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(body.len());
    let end = body
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &body[start..end]
}

/// Splits `{"Content":<content>,"HashCode":"<hash>"}` into its two parts, by byte positions. The marker
/// is searched from the end, so a `,"HashCode":"` inside the content cannot fool it.
fn split_body(body: &[u8]) -> Option<(&[u8], &[u8])> {
    let rest = body.strip_prefix(CONTENT_PREFIX)?;
    let rest_without_suffix = rest.strip_suffix(BODY_SUFFIX)?;
    let marker_at = rest_without_suffix
        .windows(HASH_MARKER.len())
        .rposition(|w| w == HASH_MARKER)?;
    let content = &rest_without_suffix[..marker_at];
    let hash = &rest_without_suffix[marker_at + HASH_MARKER.len()..];
    if content.is_empty() || hash.is_empty() {
        return None;
    }
    Some((content, hash))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const CONTENT: &str = r#"{"Topic":"BankEntries","ClientId":"2781096d-a179-445f-bbf3-7b7e8bf244ae","Division":3114772,"Action":"Update","Key":"a79d86b2-69c6-4ca7-a537-d9d27afcdaf5","ExactOnlineEndpoint":"https://start.exactonline.nl/api/v1/3114772/financialtransaction/BankEntries(guid'a79d86b2-69c6-4ca7-a537-d9d27afcdaf5')","EventCreatedOn":"2023-01-17T22:56:23.087"}"#;

    fn body(content: &str, hash: &str) -> Vec<u8> {
        format!(r#"{{"Content":{content},"HashCode":"{hash}"}}"#).into_bytes()
    }

    #[test]
    fn a_delivery_signed_with_our_secret_is_accepted_and_typed() {
        let secret = Secret::new("webhook-secret");
        let hash = sign(CONTENT.as_bytes(), &secret);
        assert_eq!(hash, hash.to_uppercase());
        match verify_webhook(&body(CONTENT, &hash), &secret).unwrap() {
            WebhookVerification::Verified(c) => {
                assert_eq!(c.topic, "BankEntries");
                assert_eq!(c.division, 3114772);
                assert_eq!(c.action, WebhookAction::Update);
                assert_eq!(c.key.to_string(), "a79d86b2-69c6-4ca7-a537-d9d27afcdaf5");
                assert_eq!(c.event_created_on.to_string(), "2023-01-17 22:56:23.087");
            }
            other => panic!("expected verified, got {other:?}"),
        }
    }

    #[test]
    fn a_lower_case_or_foreign_signature_is_refused() {
        let secret = Secret::new("webhook-secret");
        let lower = sign(CONTENT.as_bytes(), &secret).to_lowercase();
        assert_eq!(
            verify_webhook(&body(CONTENT, &lower), &secret),
            Err(WebhookError::BadSignature)
        );
        let other = sign(CONTENT.as_bytes(), &Secret::new("someone-else"));
        assert_eq!(
            verify_webhook(&body(CONTENT, &other), &secret),
            Err(WebhookError::BadSignature)
        );
    }

    #[test]
    fn a_content_changed_after_signing_is_refused() {
        let secret = Secret::new("s");
        let hash = sign(CONTENT.as_bytes(), &secret);
        let tampered = CONTENT.replace("Update", "Delete");
        assert_eq!(
            verify_webhook(&body(&tampered, &hash), &secret),
            Err(WebhookError::BadSignature)
        );
    }

    #[test]
    fn the_empty_validation_post_is_its_own_outcome() {
        assert_eq!(
            verify_webhook(b"", &Secret::new("s")),
            Ok(WebhookVerification::ValidationRequest)
        );
        assert_eq!(
            verify_webhook(b"  \r\n", &Secret::new("s")),
            Ok(WebhookVerification::ValidationRequest)
        );
    }

    #[test]
    fn a_body_of_another_shape_is_malformed() {
        let s = Secret::new("s");
        assert_eq!(
            verify_webhook(br#"{"HashCode":"AB","Content":{}}"#, &s),
            Err(WebhookError::Malformed)
        );
        assert_eq!(
            verify_webhook(b"not json", &s),
            Err(WebhookError::Malformed)
        );
    }

    #[test]
    fn a_signed_but_unexpected_content_is_bad_content() {
        let s = Secret::new("s");
        let content = r#"{"Topic":"Accounts"}"#;
        let hash = sign(content.as_bytes(), &s);
        assert!(matches!(
            verify_webhook(&body(content, &hash), &s),
            Err(WebhookError::BadContent(_))
        ));
    }
}
