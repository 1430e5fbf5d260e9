//! The SES adapter of the mail port against moto's SES v2 (the sender identity verified first, as SES and
//! moto require), and the mailing outbox on DynamoDB: a notification with an addressee is mailed once.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::Utc;
use ledgerlink_domain::{Division, TenantId};
use ledgerlink_ports::mail::{MailError, MailMessage, Mailer};
use ledgerlink_ports::{
    ConnectionState, Notification, NotificationKind, PageRequest, SecretRef, Tenant,
};
use ledgerlink_store_aws::{SesMailer, SesSettings};
use ledgerlink_testkit::{moto, unique_name};
use serde_json::json;

use crate::helpers::spawn_state;

/// Every message moto's SES holds, as its inspection API shows them (raw messages carry our headers).
/// moto's dump of everything it holds (its sent mail included). The dump walks every backend while other
/// tests of this binary write to the same server, and moto then sometimes answers 500 ("changed size during
/// iteration"): such an answer is read again, never taken as the mail that was sent.
async fn sent_to_moto() -> String {
    let url = format!("{}/moto-api/data.json", moto().endpoint_url());
    let mut last = String::new();
    for _ in 0..20 {
        let response = reqwest::get(&url).await.unwrap();
        let ok = response.status().is_success();
        last = response.text().await.unwrap();
        if ok && serde_json::from_str::<serde_json::Value>(&last).is_ok() {
            return last;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    panic!("moto's data dump kept failing: {last}");
}

fn message(tenant: &str, id: &str, to: &str) -> MailMessage {
    MailMessage {
        tenant: TenantId::parse(tenant).unwrap(),
        id: id.into(),
        to: vec![to.into()],
        subject: "Ledgerlink could not synchronise invoice 000000010804".into(),
        text: "invoice 000000010804 totals EUR -845.71, which is negative".into(),
        date: Utc::now(),
    }
}

async fn verified_sender(aws: &crate::helpers::TestAws) -> String {
    let sender = format!("{}@ledgerlink-test.example", unique_name("sender"));
    aws.clients
        .ses
        .create_email_identity()
        .email_identity(&sender)
        .send()
        .await
        .unwrap();
    sender
}

#[tokio::test]
async fn ses_sends_the_rendered_message_from_a_verified_sender() {
    let aws = spawn_state().await;
    let from = verified_sender(&aws).await;
    let mailer = SesMailer::new(
        aws.clients.ses.clone(),
        SesSettings {
            from: from.clone(),
            configuration_set: None,
        },
    );
    let id = unique_name("error-invoice");
    let sent = mailer
        .send(&message("acme", &id, "finance@acme.example"))
        .await
        .unwrap();
    assert!(!sent.is_empty());
    let held = sent_to_moto().await;
    assert!(
        held.contains(&format!("<{id}.acme@ledgerlink.invalid>")),
        "{held}"
    );
}

#[tokio::test]
async fn ses_refuses_a_sender_that_is_not_verified_and_says_so() {
    let aws = spawn_state().await;
    let mailer = SesMailer::new(
        aws.clients.ses.clone(),
        SesSettings {
            from: format!("{}@unverified.example", unique_name("nobody")),
            configuration_set: None,
        },
    );
    let error = mailer
        .send(&message("acme", "x", "finance@acme.example"))
        .await
        .unwrap_err();
    assert!(matches!(error, MailError::Refused { .. }), "{error}");
}

#[tokio::test]
async fn a_notification_pushed_twice_is_mailed_once_to_the_tenants_operators() {
    let aws = spawn_state().await;
    let from = verified_sender(&aws).await;
    let stores = aws.stores().state.with_mailer(
        Arc::new(SesMailer::new(
            aws.clients.ses.clone(),
            SesSettings {
                from,
                configuration_set: None,
            },
        )),
        ledgerlink_clock::SystemClock::shared(),
    );
    let tenant_id = TenantId::parse(&unique_name("t")).unwrap();
    let operators = format!("{}@acme.example", unique_name("finance"));
    let tenant = Tenant {
        id: tenant_id.clone(),
        name: "Acme".into(),
        vp_base_url: String::new(),
        vp_database: String::new(),
        vp_culture: "en-US".into(),
        vp_client_id: String::new(),
        vp_client_secret: SecretRef::Local("x".into()),
        vp_username: String::new(),
        vp_password: SecretRef::Local("x".into()),
        exact_base_url: String::new(),
        exact_division: Division(1),
        exact_client_id: String::new(),
        exact_client_secret: SecretRef::Local("x".into()),
        exact_webhook_secret: SecretRef::Local("x".into()),
        state: ConnectionState::Active,
        paused_reason: None,
        settings: BTreeMap::from([("mail".to_owned(), json!({ "operators": [operators] }))]),
        version: 0,
        updated_at: Utc::now(),
    };
    stores.tenants.put(&tenant, None).await.unwrap();
    let id = unique_name("error-invoice");
    let notification = Notification {
        tenant: tenant_id.clone(),
        id: id.clone(),
        kind: NotificationKind::SyncError,
        recipient: "operators".into(),
        subject: "Ledgerlink could not synchronise invoice 000000010804".into(),
        body: "negative".into(),
        link: None,
        created_at: Utc::now(),
        delivered_at: None,
    };
    stores.notifications.push(&notification).await.unwrap();
    stores.notifications.push(&notification).await.unwrap();

    let in_app = stores
        .notifications
        .list(&tenant_id, PageRequest::first(10))
        .await
        .unwrap();
    assert_eq!(in_app.items.len(), 1);
    let held = sent_to_moto().await;
    assert_eq!(held.matches(&format!("<{id}.")).count(), 1, "{held}");
    assert!(held.contains(&operators), "{held}");
}
