//! Mail delivery: a templated mail goes out through Amazon SES (a moto server on loopback)
//! as a durable job, and each message is sent once per key however often it is queued or its
//! job runs. Runs on SQLite, or PostgreSQL when GPUBROKER_TEST_POSTGRES is set.

use broker::mail::{self, Template};
use gpubroker_e2e::moto::{MotoServer, REGION};
use gpubroker_e2e::{spawn_app_with, App};
use portal_api::config::Secret;
use serde_json::{json, Value};

const FROM: &str = "noreply@gpubroker.test";

async fn app_with_ses(moto: &MotoServer) -> App {
    let url = moto.url.clone();
    spawn_app_with(move |c| {
        c.aws_region = Some(REGION.into());
        c.aws_endpoint_url = Some(url);
        c.aws_access_key_id = Some("testing".into());
        c.aws_secret_access_key = Some(Secret("testing".into()));
        c.ses_from = Some(FROM.into());
    })
    .await
    .unwrap()
}

/// Switches the POD's mail transport to SES.
async fn use_ses(app: &App, admin: &str) {
    app.set_param_ok(
        admin,
        "mail.transport",
        json!({"value": "ses", "reason": "ses test"}),
    )
    .await
    .unwrap();
}

/// Queues `template` to `to` under the idempotency `key`, in a transaction of its own.
async fn queue(broker: &broker::Broker, to: &str, template: &Template, key: &str) {
    let mut tx = broker.db.begin().await.unwrap();
    mail::send(&mut tx, broker.clock.now_ms(), "default", to, template, key)
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn a_verification_mail_is_delivered_through_ses_from_its_template() {
    let moto = MotoServer::start().await.unwrap();
    moto.verify_ses_identity(FROM).await.unwrap();
    let app = app_with_ses(&moto).await;
    let admin = app.admin_token().await.unwrap();
    for (key, body) in [
        (
            "mail.transport",
            json!({"value": "ses", "reason": "ses test"}),
        ),
        (
            "tenant.mode",
            json!({"value": "live", "confirm": "live", "reason": "ses test"}),
        ),
    ] {
        app.set_param_ok(&admin, key, body).await.unwrap();
    }
    let to = "grace@e2e.test";
    let r = app
        .post(
            "/api/v1/auth/register",
            None,
            json!({"email": to, "password": "Staple-Battery-Horse-7"}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.body);

    let m = app
        .delivered_mail(&admin, to, "verify_email")
        .await
        .unwrap();
    assert_eq!(m["delivery"], "sent", "{m}");
    assert_eq!(m["transport"], "ses");
    let message_id = m["provider_message_id"].as_str().unwrap().to_string();
    assert!(!message_id.is_empty());

    // moto's SES holds exactly that message, rendered from the template.
    let sent = moto.ses_messages().await.unwrap();
    let ours: Vec<&Value> = sent
        .iter()
        .filter(|s| s["id"] == message_id.as_str())
        .collect();
    assert_eq!(ours.len(), 1, "{sent:?}");
    assert_eq!(ours[0]["source"], FROM);
    assert_eq!(ours[0]["destinations"]["ToAddresses"][0], to);
    assert_eq!(ours[0]["subject"], "Confirm your email address");
    assert!(ours[0]["body"]
        .as_str()
        .unwrap()
        .contains("verify-email?token="));
    assert_eq!(moto.ses_delivery_attempts().await.unwrap(), 1);
    app.stop().await;
}

#[tokio::test]
async fn a_mail_is_queued_and_sent_once_per_key_whatever_the_retries() {
    let moto = MotoServer::start().await.unwrap();
    moto.verify_ses_identity(FROM).await.unwrap();
    let app = app_with_ses(&moto).await;
    let admin = app.admin_token().await.unwrap();
    use_ses(&app, &admin).await;
    let broker = &app.server.state.broker;
    let to = "heidi@e2e.test";
    let receipt = Template::Receipt {
        amount_minor: 2500,
        currency: "USD".into(),
        reference: "pi_test_1".into(),
        balance_minor: 102_500,
    };
    // The same message queued three times (e.g. a retried webhook) is one row and one job.
    for _ in 0..3 {
        queue(broker, to, &receipt, "receipt:pi_test_1").await;
    }
    let m = app.delivered_mail(&admin, to, "receipt").await.unwrap();
    assert_eq!(m["delivery"], "sent", "{m}");
    assert!(m["subject"].as_str().unwrap().contains("25.00 USD"));
    let rows = app
        .get(&format!("/api/v1/admin/outbox?to={to}"), Some(&admin))
        .await
        .unwrap();
    assert_eq!(
        rows.body["items"].as_array().unwrap().len(),
        1,
        "{}",
        rows.body
    );

    // Running the delivery again (a crashed worker's lease expiring) sends nothing more.
    let id = m["id"].as_str().unwrap();
    let outcome = broker.mailer.deliver(id).await.unwrap();
    assert_eq!(outcome, broker::jobs::Outcome::Done);
    let to_heidi = moto
        .ses_messages()
        .await
        .unwrap()
        .into_iter()
        .filter(|s| s["destinations"]["ToAddresses"][0] == to)
        .count();
    assert_eq!(to_heidi, 1);
    app.stop().await;
}

#[tokio::test]
async fn a_sender_ses_refuses_dead_letters_the_mail_as_failed() {
    // No verified sender identity: SES rejects the message, which is permanent.
    let moto = MotoServer::start().await.unwrap();
    let app = app_with_ses(&moto).await;
    let admin = app.admin_token().await.unwrap();
    use_ses(&app, &admin).await;
    let broker = &app.server.state.broker;
    queue(
        broker,
        "ivan@e2e.test",
        &Template::BalanceDepleted {
            currency: "USD".into(),
            billing_url: "http://x/billing".into(),
        },
        "depleted:ivan",
    )
    .await;
    let m = app
        .delivered_mail(&admin, "ivan@e2e.test", "balance_depleted")
        .await
        .unwrap();
    assert_eq!(m["delivery"], "failed", "{m}");
    assert!(moto.ses_messages().await.unwrap().is_empty());
    app.stop().await;
}
