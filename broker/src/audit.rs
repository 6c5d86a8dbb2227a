//! The audit log: who changed what, from what to what, when and why. Append-only.

use serde::Serialize;
use sqlx::AnyConnection;

use crate::{new_id, Db, Result};

/// One audit row to write.
#[derive(Debug, Clone, Copy)]
pub struct AuditEntry<'a> {
    pub tenant_id: Option<&'a str>,
    pub actor: &'a str,
    pub action: &'a str,
    pub subject: &'a str,
    pub before: Option<&'a str>,
    pub after: Option<&'a str>,
    pub reason: Option<&'a str>,
}

/// Writes an audit row on the caller's connection (normally inside its transaction).
pub async fn record(conn: &mut AnyConnection, now_ms: i64, e: AuditEntry<'_>) -> Result<()> {
    sqlx::query(
        "INSERT INTO audit_log (id, tenant_id, actor, action, subject, before, after, reason, at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(new_id())
    .bind(e.tenant_id)
    .bind(e.actor)
    .bind(e.action)
    .bind(e.subject)
    .bind(e.before)
    .bind(e.after)
    .bind(e.reason)
    .bind(now_ms)
    .execute(conn)
    .await?;
    Ok(())
}

/// One audit row as read back.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct AuditRow {
    pub id: String,
    pub tenant_id: Option<String>,
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub before: Option<String>,
    pub after: Option<String>,
    pub reason: Option<String>,
    pub at: i64,
}

/// The newest audit rows, optionally only those whose subject starts with `prefix`.
pub async fn list(db: &Db, prefix: Option<&str>, limit: i64) -> Result<Vec<AuditRow>> {
    let like = format!("{}%", prefix.unwrap_or(""));
    Ok(sqlx::query_as(
        "SELECT id, tenant_id, actor, action, subject, before, after, reason, at FROM audit_log \
         WHERE subject LIKE $1 ORDER BY at DESC, id DESC LIMIT $2",
    )
    .bind(like)
    .bind(limit)
    .fetch_all(&db.pool)
    .await?)
}
