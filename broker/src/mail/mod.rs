//! Mail: messages are written to a durable outbox in the same transaction as the state
//! change that causes them, once per `dedupe_key`, together with a durable `send_mail` job.
//! The job delivers the row through the tenant's transport (parameter `mail.transport`):
//! `outbox` keeps it in the sandbox mailbox (admins read it in the API and UI), `ses` hands it
//! to the [`Transport`] port registered at start (Amazon SES in `portal-api`).
//!
//! To send a mail, pick a [`Template`] and call [`send`] on the connection of the transaction
//! that causes it, with a key that names the message (`"low-balance:{user}:{day}"`): the same
//! key never sends twice, whatever retries happen.

mod templates;

use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use serde::Serialize;
use sqlx::AnyConnection;
use tracing::instrument;

use crate::jobs::{self, Outcome};
use crate::params::{Ctx, Params, MAIL_TRANSPORT};
use crate::{new_id, Db, Result};

pub use templates::{format_minor, Rendered, Template};

/// A message to queue.
#[derive(Debug, Clone)]
pub struct Mail<'a> {
    pub tenant_id: &'a str,
    pub to: &'a str,
    pub kind: &'a str,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// One message per key, whatever retries happen.
    pub dedupe_key: String,
}

/// Queues a message and its delivery job on the caller's connection; a repeat of the same
/// key is a no-op.
pub async fn enqueue(conn: &mut AnyConnection, now_ms: i64, m: Mail<'_>) -> Result<()> {
    let id = new_id();
    let inserted = sqlx::query(
        "INSERT INTO mail_outbox (id, tenant_id, to_addr, kind, subject, body_text, body_html, dedupe_key, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (dedupe_key) DO NOTHING",
    )
    .bind(&id)
    .bind(m.tenant_id)
    .bind(m.to)
    .bind(m.kind)
    .bind(m.subject)
    .bind(m.text)
    .bind(m.html)
    .bind(m.dedupe_key)
    .bind(now_ms)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if inserted == 1 {
        jobs::enqueue_mail(conn, now_ms, &id).await?;
    }
    Ok(())
}

/// Renders `template` and queues it to `to` (see the module doc). `dedupe_key` names the
/// message: the same key is sent once.
pub async fn send(
    conn: &mut AnyConnection,
    now_ms: i64,
    tenant_id: &str,
    to: &str,
    template: &Template,
    dedupe_key: &str,
) -> Result<()> {
    let r = template.render();
    enqueue(
        conn,
        now_ms,
        Mail {
            tenant_id,
            to,
            kind: template.kind(),
            subject: r.subject,
            text: r.text,
            html: r.html,
            dedupe_key: dedupe_key.to_string(),
        },
    )
    .await
}

/// Why a transport could not deliver.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// May pass on a retry (throttling, timeouts, 5xx).
    #[error("transient: {0}")]
    Transient(String),
    /// Will not pass (rejected address or content, unverified sender).
    #[error("permanent: {0}")]
    Permanent(String),
}

/// A way for mail to leave the system (the port; SES implements it in `portal-api`).
#[async_trait]
pub trait Transport: Send + Sync + std::fmt::Debug {
    /// The name stored with each delivered row (`ses`).
    fn name(&self) -> &'static str;
    /// Sends one message; returns the provider's message id.
    async fn send(&self, mail: &OutboxMail) -> std::result::Result<String, SendError>;
}

/// Delivers queued mail (the `send_mail` job's body).
#[derive(Debug, Clone)]
pub struct Mailer {
    db: Db,
    params: Params,
    clock: Arc<dyn crate::Clock>,
    ses: Arc<OnceLock<Arc<dyn Transport>>>,
}

impl Mailer {
    pub fn new(db: Db, params: Params, clock: Arc<dyn crate::Clock>) -> Self {
        Mailer {
            db,
            params,
            clock,
            ses: Arc::new(OnceLock::new()),
        }
    }

    /// Registers the SES transport (once, at start); tenants with `mail.transport = ses` use it.
    pub fn set_ses(&self, t: Arc<dyn Transport>) {
        let _ = self.ses.set(t);
    }

    /// Delivers one queued mail. Idempotent: a row already sent is not sent again.
    #[instrument(skip_all, fields(mail = %mail_id))]
    pub async fn deliver(&self, mail_id: &str) -> Result<Outcome> {
        let row: Option<OutboxMail> = sqlx::query_as(
            "SELECT id, tenant_id, to_addr, kind, subject, body_text, body_html, created_at, delivery, transport, provider_message_id \
             FROM mail_outbox WHERE id = $1",
        )
        .bind(mail_id)
        .fetch_optional(&self.db.pool)
        .await?;
        let Some(mail) = row else {
            return Ok(Outcome::Dead("the mail row is gone".into()));
        };
        if mail.delivery == "sent" {
            return Ok(Outcome::Done);
        }
        let transport = self
            .params
            .text(
                MAIL_TRANSPORT,
                Ctx {
                    tenant_id: &mail.tenant_id,
                    user_id: None,
                },
            )
            .await?;
        let (name, message_id) = match transport.as_str() {
            "ses" => {
                let Some(t) = self.ses.get() else {
                    return Ok(Outcome::Retry(
                        "mail.transport is ses but no SES transport is configured".into(),
                    ));
                };
                match t.send(&mail).await {
                    Ok(id) => (t.name(), Some(id)),
                    Err(SendError::Transient(e)) => return Ok(Outcome::Retry(e)),
                    Err(SendError::Permanent(e)) => return Ok(Outcome::Dead(e)),
                }
            }
            _ => ("outbox", None),
        };
        sqlx::query(
            "UPDATE mail_outbox SET delivery = 'sent', transport = $1, provider_message_id = $2, sent_at = $3 WHERE id = $4",
        )
        .bind(name)
        .bind(message_id)
        .bind(self.clock.now_ms())
        .bind(mail_id)
        .execute(&self.db.pool)
        .await?;
        Ok(Outcome::Done)
    }

    /// Marks a mail whose delivery job died as failed.
    pub async fn failed(&self, mail_id: &str) -> Result<()> {
        sqlx::query(
            "UPDATE mail_outbox SET delivery = 'failed' WHERE id = $1 AND delivery = 'queued'",
        )
        .bind(mail_id)
        .execute(&self.db.pool)
        .await?;
        Ok(())
    }
}

/// A queued message.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct OutboxMail {
    pub id: String,
    pub tenant_id: String,
    #[sqlx(rename = "to_addr")]
    pub to: String,
    pub kind: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: String,
    pub created_at: i64,
    /// `queued`, `sent` or `failed`.
    pub delivery: String,
    /// `outbox` or `ses` once sent.
    pub transport: Option<String>,
    pub provider_message_id: Option<String>,
}

/// Newest first, keyset-paged by (created_at, id); optionally only mail to `to`.
pub async fn outbox(
    db: &Db,
    to: Option<&str>,
    before: Option<(i64, String)>,
    limit: i64,
) -> Result<Vec<OutboxMail>> {
    let (bt, bid) = before.unwrap_or((i64::MAX, String::new()));
    Ok(sqlx::query_as(
        "SELECT id, tenant_id, to_addr, kind, subject, body_text, body_html, created_at, delivery, transport, provider_message_id FROM mail_outbox \
         WHERE ($1 = '' OR to_addr = $1) AND (created_at < $2 OR (created_at = $2 AND ($3 = '' OR id < $3))) \
         ORDER BY created_at DESC, id DESC LIMIT $4",
    )
    .bind(to.unwrap_or(""))
    .bind(bt)
    .bind(bid)
    .bind(limit)
    .fetch_all(&db.pool)
    .await?)
}
