//! Durable jobs: rows in `jobs` that a worker claims with a lease, runs, and then completes,
//! reschedules (with exponential backoff and jitter) or dead-letters. A job whose worker died
//! is taken over when its lease expires, so work resumes after a crash or restart. Claiming
//! is a conditional UPDATE, so two instances never run the same job at once.

use std::time::Duration;

use rand::Rng;
use serde::Serialize;
use sqlx::AnyConnection;
use tracing::instrument;

use crate::{new_id, Db, Result};

/// What a job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Provision,
    Release,
    /// Deliver one queued mail through its tenant's transport (`mail_outbox` row).
    SendMail,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Provision => "provision",
            Kind::Release => "release",
            Kind::SendMail => "send_mail",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        match s {
            "provision" => Some(Kind::Provision),
            "release" => Some(Kind::Release),
            "send_mail" => Some(Kind::SendMail),
            _ => None,
        }
    }
}

/// A claimed job.
#[derive(Debug, Clone)]
pub struct Job {
    pub id: String,
    pub kind: Kind,
    /// What the job works on: the allocation id (provision, release) or the mail id
    /// (send_mail).
    pub subject_id: String,
    pub attempts: i64,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Finished; never run again.
    Done,
    /// Not finished but nothing failed (e.g. the instance is still starting): run again
    /// after the delay without counting an attempt.
    Wait(Duration),
    /// Failed in a way that may pass: run again after backoff, dead-letter after the limit.
    Retry(String),
    /// Failed for good.
    Dead(String),
}

/// Queues a job on the caller's connection (inside the transaction that needs it).
pub async fn enqueue(
    conn: &mut AnyConnection,
    now_ms: i64,
    kind: Kind,
    allocation_id: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO jobs (id, kind, allocation_id, state, attempts, run_at, created_at, updated_at) \
         VALUES ($1, $2, $3, 'pending', 0, $4, $4, $4)",
    )
    .bind(new_id())
    .bind(kind.as_str())
    .bind(allocation_id)
    .bind(now_ms)
    .execute(conn)
    .await?;
    Ok(())
}

/// Queues the delivery of a mail row on the caller's connection (the transaction that
/// queued the mail). At most one delivery job exists per mail.
pub async fn enqueue_mail(conn: &mut AnyConnection, now_ms: i64, mail_id: &str) -> Result<()> {
    sqlx::query(
        "INSERT INTO jobs (id, kind, mail_id, state, attempts, run_at, created_at, updated_at) \
         VALUES ($1, 'send_mail', $2, 'pending', 0, $3, $3, $3) ON CONFLICT DO NOTHING",
    )
    .bind(new_id())
    .bind(mail_id)
    .bind(now_ms)
    .execute(conn)
    .await?;
    Ok(())
}

/// Claims up to `max` due jobs for `worker`, each for `lease_ms`.
#[instrument(skip_all)]
pub async fn claim(
    db: &Db,
    worker: &str,
    now_ms: i64,
    lease_ms: i64,
    max: i64,
) -> Result<Vec<Job>> {
    let due: Vec<(String, String, String, i64)> = sqlx::query_as(
        "SELECT id, kind, COALESCE(allocation_id, mail_id), attempts FROM jobs WHERE state = 'pending' AND run_at <= $1 \
         AND (locked_until IS NULL OR locked_until < $1) ORDER BY run_at LIMIT $2",
    )
    .bind(now_ms)
    .bind(max)
    .fetch_all(&db.pool)
    .await?;
    let mut claimed = Vec::new();
    for (id, kind, subject_id, attempts) in due {
        let won = sqlx::query(
            "UPDATE jobs SET locked_by = $1, locked_until = $2, updated_at = $3 WHERE id = $4 AND state = 'pending' \
             AND (locked_until IS NULL OR locked_until < $3)",
        )
        .bind(worker)
        .bind(now_ms + lease_ms)
        .bind(now_ms)
        .bind(&id)
        .execute(&db.pool)
        .await?
        .rows_affected()
            == 1;
        if let (true, Some(kind)) = (won, Kind::parse(&kind)) {
            claimed.push(Job {
                id,
                kind,
                subject_id,
                attempts,
            });
        }
    }
    Ok(claimed)
}

/// Exponential backoff with full jitter: a random delay in `[base, base * 2^attempts]`,
/// capped at five minutes.
pub fn backoff(base_ms: i64, attempts: i64) -> i64 {
    let cap = 300_000i64;
    let top = base_ms
        .saturating_mul(1i64 << attempts.clamp(0, 20))
        .min(cap)
        .max(base_ms);
    rand::thread_rng().gen_range(base_ms..=top)
}

/// The retry/dead-letter policy in force.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    pub max_attempts: i64,
    pub backoff_base_ms: i64,
}

/// Records how a run ended; returns whether the job is now dead.
pub async fn finish(
    db: &Db,
    job: &Job,
    worker: &str,
    now_ms: i64,
    outcome: &Outcome,
    policy: Policy,
) -> Result<bool> {
    let (state, attempts, run_at, error) = match outcome {
        Outcome::Done => ("done", job.attempts, now_ms, None),
        Outcome::Wait(d) => (
            "pending",
            job.attempts,
            now_ms + i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 2),
            None,
        ),
        Outcome::Retry(e) if job.attempts + 1 >= policy.max_attempts => {
            ("dead", job.attempts + 1, now_ms, Some(e.as_str()))
        }
        Outcome::Retry(e) => (
            "pending",
            job.attempts + 1,
            now_ms + backoff(policy.backoff_base_ms, job.attempts),
            Some(e.as_str()),
        ),
        Outcome::Dead(e) => ("dead", job.attempts + 1, now_ms, Some(e.as_str())),
    };
    sqlx::query(
        "UPDATE jobs SET state = $1, attempts = $2, run_at = $3, last_error = COALESCE($4, last_error), \
         locked_by = NULL, locked_until = NULL, updated_at = $5 WHERE id = $6 AND locked_by = $7",
    )
    .bind(state)
    .bind(attempts)
    .bind(run_at)
    .bind(error)
    .bind(now_ms)
    .bind(&job.id)
    .bind(worker)
    .execute(&db.pool)
    .await?;
    Ok(state == "dead")
}

/// A job row for admins.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct JobRow {
    pub id: String,
    pub kind: String,
    pub allocation_id: String,
    pub state: String,
    pub attempts: i64,
    pub run_at: i64,
    pub last_error: Option<String>,
}

/// The jobs of one allocation, oldest first.
pub async fn of_allocation(db: &Db, allocation_id: &str) -> Result<Vec<JobRow>> {
    Ok(sqlx::query_as(
        "SELECT id, kind, allocation_id, state, attempts, run_at, last_error FROM jobs WHERE allocation_id = $1 ORDER BY created_at, id",
    )
    .bind(allocation_id)
    .fetch_all(&db.pool)
    .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        for attempts in 0..30 {
            let d = backoff(500, attempts);
            assert!((500..=300_000).contains(&d), "{attempts}: {d}");
        }
    }
}
