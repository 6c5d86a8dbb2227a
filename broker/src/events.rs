//! Events: every state change appends an outbox row in the same transaction; a dispatcher
//! publishes the rows in order, in-process (tokio broadcast), and marks them published.

use serde::Serialize;
use serde_json::Value;
use sqlx::AnyConnection;
use tokio::sync::{broadcast, Notify};
use tracing::{instrument, warn};

use crate::{new_id, Db, Result};

/// A published event.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    pub seq: i64,
    pub id: String,
    pub tenant_id: String,
    pub topic: String,
    pub subject_id: String,
    pub user_id: Option<String>,
    pub payload: Value,
    pub created_at: i64,
}

/// What to append.
#[derive(Debug, Clone, Copy)]
pub struct NewEvent<'a> {
    pub tenant_id: &'a str,
    pub topic: &'a str,
    pub subject_id: &'a str,
    pub user_id: Option<&'a str>,
    pub payload: &'a Value,
}

/// Appends an event row on the caller's connection (inside its transaction).
pub async fn append(conn: &mut AnyConnection, now_ms: i64, e: NewEvent<'_>) -> Result<()> {
    sqlx::query(
        "INSERT INTO events (id, tenant_id, topic, subject_id, user_id, payload, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(new_id())
    .bind(e.tenant_id)
    .bind(e.topic)
    .bind(e.subject_id)
    .bind(e.user_id)
    .bind(e.payload.to_string())
    .bind(now_ms)
    .execute(conn)
    .await?;
    Ok(())
}

type EventRow = (
    i64,
    String,
    String,
    String,
    String,
    Option<String>,
    String,
    i64,
);

/// Publishes outbox rows to in-process subscribers.
#[derive(Debug)]
pub struct Dispatcher {
    db: Db,
    tx: broadcast::Sender<Event>,
    wake: Notify,
}

impl Dispatcher {
    pub fn new(db: Db) -> Self {
        let (tx, _) = broadcast::channel(1024);
        Dispatcher {
            db,
            tx,
            wake: Notify::new(),
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.tx.subscribe()
    }

    /// Asks the dispatcher to look for new rows now.
    pub fn nudge(&self) {
        self.wake.notify_one();
    }

    /// Publishes every unpublished row, oldest first; returns how many.
    #[instrument(skip_all)]
    pub async fn dispatch_once(&self, now_ms: i64) -> Result<usize> {
        let rows: Vec<EventRow> = sqlx::query_as(
            "SELECT seq, id, tenant_id, topic, subject_id, user_id, payload, created_at FROM events \
             WHERE published_at IS NULL ORDER BY seq LIMIT 500",
        )
        .fetch_all(&self.db.pool)
        .await?;
        let n = rows.len();
        for (seq, id, tenant_id, topic, subject_id, user_id, payload, created_at) in rows {
            let ev = Event {
                seq,
                id,
                tenant_id,
                topic,
                subject_id,
                user_id,
                payload: serde_json::from_str(&payload).unwrap_or(Value::Null),
                created_at,
            };
            // No subscribers is fine: the row stays in the table for replay.
            let _ = self.tx.send(ev);
            sqlx::query("UPDATE events SET published_at = $1 WHERE seq = $2")
                .bind(now_ms)
                .bind(seq)
                .execute(&self.db.pool)
                .await?;
        }
        Ok(n)
    }

    /// Runs until `stop` flips, publishing on nudges and every 500 ms.
    pub async fn run(
        &self,
        clock: &dyn crate::Clock,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) {
        loop {
            if *stop.borrow() {
                return;
            }
            if let Err(e) = self.dispatch_once(clock.now_ms()).await {
                warn!(error = %e, "event dispatch failed");
            }
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(std::time::Duration::from_millis(500)) => {}
                _ = stop.changed() => {}
            }
        }
    }
}

/// Events of one topic prefix after `after_seq` (replay for late subscribers).
pub async fn since(db: &Db, after_seq: i64, limit: i64) -> Result<Vec<Event>> {
    let rows: Vec<EventRow> = sqlx::query_as(
        "SELECT seq, id, tenant_id, topic, subject_id, user_id, payload, created_at FROM events \
         WHERE seq > $1 ORDER BY seq LIMIT $2",
    )
    .bind(after_seq)
    .bind(limit)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(seq, id, tenant_id, topic, subject_id, user_id, payload, created_at)| Event {
                seq,
                id,
                tenant_id,
                topic,
                subject_id,
                user_id,
                payload: serde_json::from_str(&payload).unwrap_or(Value::Null),
                created_at,
            },
        )
        .collect())
}
