//! Workflow webhooks: the registration tables Unionpoint fills through `/Workflow/...` and the outbound
//! delivery of a flat JSON object of the configured arguments, with HTTP Basic auth, retries and a timeout,
//! when a firm, employee, project or contact is inserted, changed or deleted; signed when the action has
//! Security fields (see `WebhookSigning`).

use std::time::Duration;

use serde_json::{Value, json};

use super::db::RecordEvent;
use super::model::{Row, WebhookDelivery, flag_of, get_ci, int_of, str_ci, text_of};

/// Registered workflows, webhook actions, their arguments and event→action links.
#[derive(Default, Clone)]
pub(crate) struct Workflow {
    pub events: Vec<Row>,
    pub webhooks: Vec<Row>,
    pub args: Vec<Row>,
    pub links: Vec<Row>,
}

/// Counts only: webhook rows carry `AuthPassword`.
impl std::fmt::Debug for Workflow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workflow")
            .field("events", &self.events.len())
            .field("webhooks", &self.webhooks.len())
            .field("args", &self.args.len())
            .field("links", &self.links.len())
            .finish()
    }
}

/// One delivery to make (all data copied out of the database so no lock is held while sending).
#[derive(Clone)]
pub(crate) struct PlannedDelivery {
    pub index: usize,
    pub url: String,
    pub username: String,
    pub password: String,
    /// (Secret, Public Key) when deliveries are signed.
    pub signing: Option<(String, String)>,
    pub retries: u32,
    pub timeout: Duration,
    pub payload: Value,
}

impl std::fmt::Debug for PlannedDelivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlannedDelivery")
            .field("index", &self.index)
            .field("url", &self.url)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("signed", &self.signing.is_some())
            .field("retries", &self.retries)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl Workflow {
    /// The webhook actions to run for `event`, with their argument payloads evaluated.
    pub(crate) fn plan(&self, event: &RecordEvent) -> Vec<(Row, Value, String, String)> {
        let wanted = event.kind.event_type();
        let mut out = Vec::new();
        for ev in &self.events {
            let app = str_ci(ev, "ApplicationName");
            if !event.hub.matches_application(&app)
                || !str_ci(ev, "EventType").eq_ignore_ascii_case(wanted)
            {
                continue;
            }
            if !get_ci(ev, "Active").and_then(flag_of).unwrap_or(true) {
                continue;
            }
            let event_id = str_ci(ev, "EventID");
            let mut action_ids: Vec<String> = self
                .links
                .iter()
                .filter(|l| {
                    str_ci(l, "EventID") == event_id
                        && get_ci(l, "Active").and_then(flag_of).unwrap_or(true)
                })
                .map(|l| str_ci(l, "ActionID"))
                .collect();
            action_ids.push(event_id.clone());
            action_ids.dedup();
            for hook in &self.webhooks {
                let action = str_ci(hook, "ActionID");
                if !action_ids.contains(&action) {
                    continue;
                }
                let mut args: Vec<&Row> = self
                    .args
                    .iter()
                    .filter(|a| str_ci(a, "ActionID") == action)
                    .collect();
                args.sort_by_key(|a| a.get("ArgOrder").and_then(int_of).unwrap_or(0));
                let mut payload = Row::new();
                for a in args {
                    let expr = str_ci(a, "SQLExpression");
                    payload.insert(str_ci(a, "ArgName"), Value::String(evaluate(&expr, event)));
                }
                out.push((
                    hook.clone(),
                    Value::Object(payload),
                    app.clone(),
                    wanted.to_owned(),
                ));
            }
        }
        out
    }
}

/// Evaluates a webhook argument expression: `'[:PR.WBS1]'` (current value), `'[:PR.Status.Old]'` (value
/// before the change) or a constant such as `'INSERT'`.
pub(crate) fn evaluate(expression: &str, event: &RecordEvent) -> String {
    let mut out = String::new();
    let mut rest = expression.trim();
    while let Some(start) = rest.find("[:") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find(']') else {
            out.push_str(&rest[start..]);
            rest = "";
            break;
        };
        let token = &after[..end];
        let mut parts: Vec<&str> = token.split('.').collect();
        let old = parts.last().is_some_and(|p| p.eq_ignore_ascii_case("old"));
        if old {
            parts.pop();
        }
        let column = parts.last().copied().unwrap_or_default();
        let source = if old {
            event.old.as_ref()
        } else {
            Some(&event.new)
        };
        out.push_str(
            &source
                .and_then(|r| get_ci(r, column))
                .map(text_of)
                .unwrap_or_default(),
        );
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    let trimmed = out.trim();
    trimmed
        .strip_prefix('\'')
        .and_then(|t| t.strip_suffix('\''))
        .map(str::to_owned)
        .unwrap_or_else(|| trimmed.to_owned())
}

/// `sha256=<lowercase hex HMAC-SHA256(secret, body)>`: the `X-VP-Signature` of a signed delivery.
pub(crate) fn signature(secret: &str, body: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let Ok(mut mac) = <Hmac<sha2::Sha256> as Mac>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Sends one delivery: up to `1 + retries` attempts, each bounded by the timeout. Returns (attempts,
/// delivered, last status).
pub(crate) async fn send(
    client: &reqwest::Client,
    plan: &PlannedDelivery,
) -> (u32, bool, Option<u16>) {
    let mut attempts = 0;
    let mut last = None;
    for _ in 0..=plan.retries {
        attempts += 1;
        let body = serde_json::to_vec(&plan.payload).unwrap_or_default();
        let mut request = client
            .post(&plan.url)
            .timeout(plan.timeout)
            .header("content-type", "application/json");
        if let Some((secret, public_key)) = &plan.signing {
            request = request
                .header("x-vp-signature", signature(secret, &body))
                .header("x-vp-public-key", public_key);
        }
        let request = request.body(body);
        let request = if plan.username.is_empty() {
            request
        } else {
            request.basic_auth(&plan.username, Some(&plan.password))
        };
        match request.send().await {
            Ok(response) => {
                let status = response.status();
                last = Some(status.as_u16());
                if status.is_success() {
                    return (attempts, true, last);
                }
            }
            Err(_) => last = None,
        }
    }
    (attempts, false, last)
}

/// Validates and normalises a `dlgWorkflowActionWebhook` row.
pub(crate) fn webhook_row(body: &Row) -> Result<Row, super::error::VpError> {
    use super::error::VpError;
    let url = str_ci(body, "WebhookURL");
    if url.is_empty() || url::Url::parse(&url).is_err() {
        return Err(VpError::field(
            "WebhookURL",
            "A valid Webhook URL is required.",
        ));
    }
    if str_ci(body, "ActionID").is_empty() {
        return Err(VpError::field("ActionID", "ActionID is required."));
    }
    let user = str_ci(body, "AuthUsername");
    let pass = str_ci(body, "AuthPassword");
    if user.is_empty() != pass.is_empty() {
        return Err(VpError::field(
            "AuthPassword",
            "Authorization needs both a username and a password, or neither.",
        ));
    }
    if str_ci(body, "Secret").is_empty() != str_ci(body, "PublicKey").is_empty() {
        return Err(VpError::field(
            "PublicKey",
            "Security needs both a secret and a public key, or neither.",
        ));
    }
    let retries = get_ci(body, "RetryCount").and_then(int_of).unwrap_or(0);
    if !(0..=10).contains(&retries) {
        return Err(VpError::field(
            "RetryCount",
            "Retries must be between 0 and 10.",
        ));
    }
    let timeout = get_ci(body, "Timeout").and_then(int_of).unwrap_or(5);
    if !(1..=60).contains(&timeout) {
        return Err(VpError::field(
            "Timeout",
            "Timeout must be between 1 and 60 seconds.",
        ));
    }
    let mut row = body.clone();
    super::model::merge_patch(
        &mut row,
        &obj(json!({"RetryCount": retries, "Timeout": timeout})),
    );
    Ok(row)
}

/// A webhook row as GET shows it: the password and the secret never leave the emulator.
pub(crate) fn redact(row: &Row) -> Row {
    let mut out = row.clone();
    for (k, v) in out.iter_mut() {
        if (k.eq_ignore_ascii_case("AuthPassword") || k.eq_ignore_ascii_case("Secret"))
            && !text_of(v).is_empty()
        {
            *v = Value::String("********".into());
        }
    }
    out
}

/// A delivery record before it is sent.
pub(crate) fn pending(
    url: &str,
    application: &str,
    event_type: &str,
    payload: &Value,
) -> WebhookDelivery {
    WebhookDelivery {
        url: url.to_owned(),
        application: application.to_owned(),
        event_type: event_type.to_owned(),
        payload: payload.clone(),
        attempts: 0,
        delivered: false,
        last_status: None,
    }
}

fn obj(v: Value) -> Row {
    match v {
        Value::Object(m) => m,
        _ => Row::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vantagepoint::db::{EventKind, Hub};

    fn event() -> RecordEvent {
        let old = obj(json!({"WBS1": "2026-001", "Status": "I"}));
        let new = obj(json!({"WBS1": "2026-001", "Status": "A", "Name": "New HQ"}));
        RecordEvent {
            hub: Hub::Project,
            kind: EventKind::Change,
            old: Some(old),
            new,
        }
    }

    #[test]
    fn argument_expressions_read_current_and_old_values_and_constants() {
        assert_eq!(evaluate("'[:PR.WBS1]'", &event()), "2026-001");
        assert_eq!(evaluate("'[:PR.Status.Old]'", &event()), "I");
        assert_eq!(evaluate("'UPDATE'", &event()), "UPDATE");
        assert_eq!(
            evaluate("'[:PR.Name] ([:PR.Status])'", &event()),
            "New HQ (A)"
        );
    }
}
