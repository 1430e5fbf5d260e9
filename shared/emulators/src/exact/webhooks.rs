//! Webhook subscriptions and deliveries.
//!
//! - Subscribing performs the validation POST (an empty body) to the CallbackURL; a non-2xx answer or a
//!   connection error fails the subscription with 500 `Invalid: Post to callback URL endpoint returns ...`.
//!   `https://` is required, except for loopback hosts (`127.0.0.1`, `localhost`, `[::1]`) so tests can listen
//!   on plain http.
//! - Deliveries are `{"Content":{Topic,ClientId,Division,Action,Key,ExactOnlineEndpoint,EventCreatedOn},
//!   "HashCode":HEX}`, where HashCode is the UPPERCASE hex HMAC-SHA256 of the exact compact Content bytes,
//!   keyed with the app's webhook secret. They are sent in order by one background task per emulator.
//! - Payments registered through the admin surface fire the `BankEntries` topic (Exact has no webhook on
//!   cashflow/Receivables or Payments; the bank entry that carries the payment is what changes).
//! - A duplicate-delivery fault sends every delivery twice, to test idempotent receivers.
//! - A delivery the callback does not answer with 2xx (or that cannot connect) is retried after each of
//!   `ExactConfig::webhook_retry_delays` (default 1, 5 and 15 minutes; Exact documents no policy, receivers
//!   must treat deliveries as at-least-once), each attempt logged; an empty list disables retries.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use parking_lot::Mutex;
use serde::Serialize;
use sha2::Sha256;
use tokio::sync::mpsc;

/// Whether a subscription may name `topic`: the topic of an entity the emulator serves (Accounts, Contacts,
/// GLAccounts, SalesEntries, PurchaseEntries, GeneralJournalEntries, BankEntries, Items, SalesInvoices), or
/// `GoodsDeliveries` — the one topic for which `IsInstant` is valid, accepted though the emulator keeps no
/// goods deliveries (so no event ever fires for it).
pub(crate) fn topic_allowed(topic: &str) -> bool {
    topic == "GoodsDeliveries" || super::model::sets().iter().any(|s| s.topic == Some(topic))
}

/// The signed part of a delivery, serialised compactly in this field order.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct WebhookContent {
    pub topic: String,
    pub client_id: String,
    pub division: i32,
    pub action: String,
    pub key: String,
    pub exact_online_endpoint: String,
    pub event_created_on: String,
}

/// One delivery attempt, as recorded for tests.
#[derive(Debug, Clone, Serialize)]
pub struct DeliveryRecord {
    pub callback_url: String,
    pub topic: String,
    pub action: String,
    pub key: String,
    pub division: i32,
    /// The exact body sent.
    pub body: String,
    /// HTTP status the receiver answered, if it answered.
    pub status: Option<u16>,
    /// Why the delivery failed to reach the receiver, if it did not.
    pub error: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct Delivery {
    pub url: String,
    pub content: WebhookContent,
    pub body: String,
}

/// `{"Content":...,"HashCode":"..."}` for `content`, signed with `secret`.
pub fn sign_delivery(content: &WebhookContent, secret: &str) -> String {
    let content_json = serde_json::to_string(content).unwrap_or_default();
    let hash = hmac_upper_hex(secret.as_bytes(), content_json.as_bytes());
    format!(r#"{{"Content":{content_json},"HashCode":"{hash}"}}"#)
}

/// UPPERCASE hex HMAC-SHA256.
pub fn hmac_upper_hex(key: &[u8], message: &[u8]) -> String {
    let mut mac = match <Hmac<Sha256> as Mac>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(message);
    hex::encode_upper(mac.finalize().into_bytes())
}

/// `EventCreatedOn` as Exact writes it: ISO without offset, milliseconds, on the Dutch clock like every other
/// Exact time (CET/CEST).
pub(crate) fn event_time(now: DateTime<Utc>) -> String {
    ledgerlink_domain::cet::wall_from_utc(now)
        .format("%Y-%m-%dT%H:%M:%S%.3f")
        .to_string()
}

/// Whether `url` may be used as a callback: https, or http on a loopback host.
pub(crate) fn callback_allowed(url: &str) -> bool {
    match url::Url::parse(url) {
        Ok(u) if u.scheme() == "https" => true,
        Ok(u) if u.scheme() == "http" => matches!(
            u.host_str(),
            Some("127.0.0.1" | "localhost" | "[::1]" | "::1")
        ),
        _ => false,
    }
}

/// The validation POST: `Ok(())` on 2xx, otherwise the message for the failed subscription.
pub(crate) async fn validate_callback(http: &reqwest::Client, url: &str) -> Result<(), String> {
    let sent = http
        .post(url)
        .header("content-length", "0")
        .body(Vec::<u8>::new())
        .timeout(Duration::from_secs(10))
        .send()
        .await;
    match sent {
        Ok(r) if r.status().is_success() => Ok(()),
        Ok(r) => Err(format!(
            "Invalid: Post to callback URL endpoint returns {} {}",
            r.status().as_u16(),
            r.status().canonical_reason().unwrap_or("Error")
        )),
        Err(_) => Err("Invalid: Post to callback URL endpoint returns 500 An error occurred while sending the request.".into()),
    }
}

/// The delivery queue and its log.
#[derive(Debug)]
pub(crate) struct Dispatcher {
    tx: Mutex<Option<mpsc::UnboundedSender<Delivery>>>,
    log: Arc<Mutex<Vec<DeliveryRecord>>>,
    duplicate: Arc<AtomicBool>,
    queued: AtomicU64,
    done: Arc<AtomicU64>,
    http: reqwest::Client,
    retry_delays: Arc<Vec<Duration>>,
    retrying: Arc<AtomicU64>,
}

impl Dispatcher {
    pub fn new(http: reqwest::Client, retry_delays: Vec<Duration>) -> Self {
        Self {
            tx: Mutex::new(None),
            log: Arc::new(Mutex::new(Vec::new())),
            duplicate: Arc::new(AtomicBool::new(false)),
            queued: AtomicU64::new(0),
            done: Arc::new(AtomicU64::new(0)),
            retry_delays: Arc::new(retry_delays),
            retrying: Arc::new(AtomicU64::new(0)),
            http,
        }
    }

    pub fn set_duplicate(&self, on: bool) {
        self.duplicate.store(on, Ordering::SeqCst);
    }

    pub fn log(&self) -> Vec<DeliveryRecord> {
        self.log.lock().clone()
    }

    /// Deliveries queued and not yet attempted.
    pub fn pending(&self) -> u64 {
        self.queued
            .load(Ordering::SeqCst)
            .saturating_sub(self.done.load(Ordering::SeqCst))
    }

    /// Deliveries that failed and wait for a retry.
    pub fn retrying(&self) -> u64 {
        self.retrying.load(Ordering::SeqCst)
    }

    /// Queues deliveries; starts the worker on first use (needs a Tokio runtime, which every caller has).
    pub fn enqueue(&self, deliveries: Vec<Delivery>) {
        if deliveries.is_empty() {
            return;
        }
        let mut guard = self.tx.lock();
        if guard.as_ref().is_none_or(|t| t.is_closed()) {
            let Ok(handle) = tokio::runtime::Handle::try_current() else {
                // No runtime: record the deliveries as failed rather than dropping them silently.
                let mut log = self.log.lock();
                for d in deliveries {
                    log.push(record(
                        &d,
                        None,
                        Some("no async runtime to deliver on".into()),
                    ));
                }
                return;
            };
            let (tx, rx) = mpsc::unbounded_channel();
            handle.spawn(worker(
                rx,
                Worker {
                    http: self.http.clone(),
                    log: self.log.clone(),
                    duplicate: self.duplicate.clone(),
                    done: self.done.clone(),
                    retry_delays: self.retry_delays.clone(),
                    retrying: self.retrying.clone(),
                },
            ));
            *guard = Some(tx);
        }
        if let Some(tx) = guard.as_ref() {
            for d in deliveries {
                self.queued.fetch_add(1, Ordering::SeqCst);
                if tx.send(d).is_err() {
                    self.done.fetch_add(1, Ordering::SeqCst);
                }
            }
        }
    }
}

fn record(d: &Delivery, status: Option<u16>, error: Option<String>) -> DeliveryRecord {
    DeliveryRecord {
        callback_url: d.url.clone(),
        topic: d.content.topic.clone(),
        action: d.content.action.clone(),
        key: d.content.key.clone(),
        division: d.content.division,
        body: d.body.clone(),
        status,
        error,
    }
}

struct Worker {
    http: reqwest::Client,
    log: Arc<Mutex<Vec<DeliveryRecord>>>,
    duplicate: Arc<AtomicBool>,
    done: Arc<AtomicU64>,
    retry_delays: Arc<Vec<Duration>>,
    retrying: Arc<AtomicU64>,
}

/// One attempt; true when the callback answered 2xx.
async fn attempt(http: &reqwest::Client, log: &Mutex<Vec<DeliveryRecord>>, d: &Delivery) -> bool {
    let sent = http
        .post(&d.url)
        .header("content-type", "application/json")
        .body(d.body.clone())
        .timeout(Duration::from_secs(10))
        .send()
        .await;
    let (rec, ok) = match sent {
        Ok(r) => (
            record(d, Some(r.status().as_u16()), None),
            r.status().is_success(),
        ),
        Err(e) => (record(d, None, Some(e.to_string())), false),
    };
    log.lock().push(rec);
    ok
}

async fn worker(mut rx: mpsc::UnboundedReceiver<Delivery>, w: Worker) {
    while let Some(d) = rx.recv().await {
        let times = if w.duplicate.load(Ordering::SeqCst) {
            2
        } else {
            1
        };
        let mut delivered = false;
        for _ in 0..times {
            delivered |= attempt(&w.http, &w.log, &d).await;
        }
        if !delivered && !w.retry_delays.is_empty() {
            // Retried on its own schedule, so one failing receiver does not hold up the others' deliveries.
            w.retrying.fetch_add(1, Ordering::SeqCst);
            let (http, log, delays, retrying) = (
                w.http.clone(),
                w.log.clone(),
                w.retry_delays.clone(),
                w.retrying.clone(),
            );
            tokio::spawn(async move {
                for delay in delays.iter() {
                    tokio::time::sleep(*delay).await;
                    if attempt(&http, &log, &d).await {
                        break;
                    }
                }
                retrying.fetch_sub(1, Ordering::SeqCst);
            });
        }
        w.done.fetch_add(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_code_is_uppercase_hex_hmac_of_the_compact_content_bytes() {
        let content = WebhookContent {
            topic: "BankEntries".into(),
            client_id: "2781096d-a179-445f-bbf3-7b7e8bf244ae".into(),
            division: 3114772,
            action: "Update".into(),
            key: "a79d86b2-69c6-4ca7-a537-d9d27afcdaf5".into(),
            exact_online_endpoint: "https://start.exactonline.nl/api/v1/3114772/financialtransaction/BankEntries(guid'a79d86b2-69c6-4ca7-a537-d9d27afcdaf5')".into(),
            event_created_on: "2023-01-17T22:56:23.087".into(),
        };
        let body = sign_delivery(&content, "secret");
        let inner = body
            .strip_prefix(r#"{"Content":"#)
            .and_then(|b| b.split(r#","HashCode":""#).next())
            .unwrap_or_default();
        assert!(
            inner.starts_with(r#"{"Topic":"BankEntries","ClientId":"#),
            "{inner}"
        );
        let expected = hmac_upper_hex(b"secret", inner.as_bytes());
        assert!(body.ends_with(&format!(r#""HashCode":"{expected}"}}"#)));
        assert_eq!(expected, expected.to_uppercase());
        assert_eq!(expected.len(), 64);
    }

    #[test]
    fn plain_http_callbacks_are_allowed_only_on_loopback() {
        assert!(callback_allowed("http://127.0.0.1:9000/hook"));
        assert!(callback_allowed("http://localhost/hook"));
        assert!(callback_allowed("https://example.com/hook"));
        assert!(!callback_allowed("http://example.com/hook"));
        assert!(!callback_allowed("not a url"));
    }
}
