//! Mail: messages are written to a durable outbox in the same transaction as the state
//! change that causes them, once per `dedupe_key`. In SANDBOX mode the outbox is the
//! mailbox (admins read it in the API and UI); a delivering port (SES) reads the same rows.

use serde::Serialize;
use sqlx::AnyConnection;

use crate::{new_id, Db, Result};

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

/// Queues a message on the caller's connection; a repeat of the same key is a no-op.
pub async fn enqueue(conn: &mut AnyConnection, now_ms: i64, m: Mail<'_>) -> Result<()> {
    sqlx::query(
        "INSERT INTO mail_outbox (id, tenant_id, to_addr, kind, subject, body_text, body_html, dedupe_key, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (dedupe_key) DO NOTHING",
    )
    .bind(new_id())
    .bind(m.tenant_id)
    .bind(m.to)
    .bind(m.kind)
    .bind(m.subject)
    .bind(m.text)
    .bind(m.html)
    .bind(m.dedupe_key)
    .bind(now_ms)
    .execute(conn)
    .await?;
    Ok(())
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
        "SELECT id, tenant_id, to_addr, kind, subject, body_text, body_html, created_at FROM mail_outbox \
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
