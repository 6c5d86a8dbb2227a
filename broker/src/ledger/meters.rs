//! The metering shell: per-allocation cursors moved by [`Ledger::meter_tick`] or, inside an
//! allocation's state step, by [`Ledger::meter_with`]; usage is settled from the hold first.

use sqlx::AnyConnection;
use tracing::{instrument, warn};

use super::book::{lock_user, post, sum, Header, Leg};
use super::{
    accrue, cash_account, holds_account, Cause, Ledger, Posted, Remainder, Result, TickReport,
    TxKind, SYSTEM_REVENUE,
};
use crate::allocations::State;

/// The allocation's first move to `active` and last move to `released`, from the event log.
async fn marks(
    conn: &mut AnyConnection,
    allocation_id: &str,
) -> Result<(Option<i64>, Option<i64>)> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT payload, created_at FROM events WHERE subject_id = $1 AND topic = 'deployment.state' ORDER BY seq",
    )
    .bind(allocation_id)
    .fetch_all(&mut *conn)
    .await?;
    let to = |p: &str| -> Option<String> {
        let v: serde_json::Value = serde_json::from_str(p).ok()?;
        v.get("to")?.as_str().map(str::to_string)
    };
    let mut active = None;
    let mut released = None;
    for (payload, at) in rows {
        match to(&payload).as_deref() {
            Some("active") if active.is_none() => active = Some(at),
            Some("released") => released = Some(at),
            _ => {}
        }
    }
    Ok((active, released))
}

#[derive(sqlx::FromRow)]
struct MeterRow {
    user_id: String,
    price_micro: i64,
    markup_percent: i64,
    started_at: Option<i64>,
    cursor_ms: Option<i64>,
    remainder: i64,
}

impl Ledger {
    /// Posts the usage of every billed allocation up to `now` (or up to its confirmed
    /// release), each in its own transaction; closes the meters of released and failed
    /// allocations and returns their holds. Safe to run concurrently and repeatedly: each
    /// meter is locked while it moves, and a usage posting's key is (allocation, interval
    /// end).
    #[instrument(skip_all, fields(now))]
    pub async fn meter_tick(&self, now: i64) -> Result<TickReport> {
        self.discover(now).await?;
        let open: Vec<(String,)> = sqlx::query_as(
            "SELECT allocation_id FROM ledger_meters WHERE open = 1 ORDER BY allocation_id",
        )
        .fetch_all(&self.db.pool)
        .await?;
        let mut report = TickReport::default();
        for (id,) in open {
            report.meters += 1;
            match self.meter_one(&id, now).await {
                Ok((charged, closed)) => {
                    report.charged_minor += charged;
                    report.closed += usize::from(closed);
                }
                Err(e) => {
                    report.failed += 1;
                    warn!(allocation = %id, error = %e, "metering failed; retried next tick");
                }
            }
        }
        Ok(report)
    }

    /// Opens meters for billed allocations that took no hold (e.g. deployed before the
    /// ledger was wired in).
    async fn discover(&self, now: i64) -> Result<()> {
        let rows: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT a.id, a.user_id, a.tenant_id FROM allocations a \
             WHERE a.state IN ('active', 'releasing', 'release_failed', 'released') \
             AND NOT EXISTS (SELECT 1 FROM ledger_meters m WHERE m.allocation_id = a.id)",
        )
        .fetch_all(&self.db.pool)
        .await?;
        for (id, user_id, tenant_id) in rows {
            let mut conn = self.db.pool.acquire().await?;
            self.open_meter(&mut conn, now, &tenant_id, &user_id, &id)
                .await?;
        }
        Ok(())
    }

    /// Moves one meter in its own transaction.
    async fn meter_one(&self, allocation_id: &str, now: i64) -> Result<(i64, bool)> {
        let mut tx = self.db.pool.begin().await?;
        let r = self.meter_with(&mut tx, allocation_id, now).await?;
        tx.commit().await?;
        Ok(r)
    }

    /// Moves one allocation's meter on the caller's transaction: starts it if the
    /// allocation has become active, posts the usage since its cursor up to `now` (or up to
    /// the confirmed release), and at `released`/`failed` closes it and returns the hold.
    /// Returns the cents charged and whether the meter closed; a closed or missing meter is a
    /// no-op.
    ///
    /// Call it in the same transaction as the allocation's step to `active` or `released`
    /// (after the step and its event) to start or stop billing exactly at that step;
    /// [`Ledger::meter_tick`] does the same for whatever the steps did not.
    pub async fn meter_with(
        &self,
        conn: &mut AnyConnection,
        allocation_id: &str,
        now: i64,
    ) -> Result<(i64, bool)> {
        let tx = conn;
        // Lock the meter first (a write), so concurrent ticks serialize per allocation.
        let n = sqlx::query(
            "UPDATE ledger_meters SET updated_at = $1 WHERE allocation_id = $2 AND open = 1",
        )
        .bind(now)
        .bind(allocation_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 0 {
            return Ok((0, false));
        }
        let m: MeterRow = sqlx::query_as(
            "SELECT user_id, price_micro, markup_percent, started_at, cursor_ms, remainder \
             FROM ledger_meters WHERE allocation_id = $1",
        )
        .bind(allocation_id)
        .fetch_one(&mut *tx)
        .await?;
        let (state, updated_at): (String, i64) =
            sqlx::query_as("SELECT state, updated_at FROM allocations WHERE id = $1")
                .bind(allocation_id)
                .fetch_one(&mut *tx)
                .await?;
        let state = State::parse(&state)
            .ok_or_else(|| crate::Error::Internal(format!("unknown state {state}")))?;
        let (active_at, released_at) = marks(&mut *tx, allocation_id).await?;
        let billed = matches!(
            state,
            State::Active | State::Releasing | State::ReleaseFailed | State::Released
        );
        let mut started = m.started_at;
        let mut cursor = m.cursor_ms;
        let mut burn_changed = false;
        if started.is_none() && billed {
            let fallback = (state == State::Active).then_some(updated_at);
            if let Some(t) = active_at.or(fallback) {
                started = Some(t);
                cursor = Some(t);
                burn_changed = true;
            }
        }
        let closing = matches!(state, State::Released | State::Failed);
        let end = if closing {
            released_at.unwrap_or(updated_at)
        } else {
            now
        };
        let mut remainder = Remainder(m.remainder);
        let mut cents = 0;
        if let Some(from) = cursor {
            let end = end.max(from);
            (cents, remainder) = accrue(m.price_micro, m.markup_percent, from, end, remainder);
            cursor = Some(end);
        }
        let burn_changed = burn_changed || (closing && started.is_some());
        // A tick that neither charges nor starts or stops the meter only moves the cursor
        // (carrying the remainder) and leaves the user's lock alone.
        let tenant = if cents > 0 || closing || burn_changed {
            Some(lock_user(&mut *tx, now, &m.user_id).await?)
        } else {
            None
        };
        if cents > 0 {
            let to = cursor.unwrap_or(end);
            self.settle(&mut *tx, now, &m.user_id, allocation_id, to, cents)
                .await?;
        }
        sqlx::query(
            "UPDATE ledger_meters SET started_at = $1, cursor_ms = $2, remainder = $3, open = $4, closed_at = $5, updated_at = $6 \
             WHERE allocation_id = $7",
        )
        .bind(started)
        .bind(cursor)
        .bind(remainder.0)
        .bind(i64::from(!closing))
        .bind(closing.then_some(now))
        .bind(now)
        .bind(allocation_id)
        .execute(&mut *tx)
        .await?;
        if closing {
            // The sub-cent remainder of a closed meter is not charged (in the user's favour).
            self.release_hold_with(&mut *tx, now, &m.user_id, allocation_id)
                .await?;
        }
        if let Some(tenant) = tenant.filter(|_| cents > 0 || burn_changed) {
            let cause = if burn_changed {
                Cause::BurnChange
            } else {
                Cause::Debit
            };
            self.reassess(&mut *tx, now, &m.user_id, &tenant, cause)
                .await?;
        }
        Ok((cents, closing))
    }

    /// Charges `cents` of usage up to `until_ms`: from the allocation's hold first, the rest
    /// from available credit, into revenue.
    async fn settle(
        &self,
        conn: &mut AnyConnection,
        now: i64,
        user_id: &str,
        allocation_id: &str,
        until_ms: i64,
        cents: i64,
    ) -> Result<Posted> {
        let held = sum(conn, &holds_account(user_id), Some(allocation_id))
            .await?
            .max(0);
        let from_hold = cents.min(held);
        let alloc = || Some(allocation_id.to_string());
        post(
            conn,
            now,
            &Header {
                key: format!("usage:{allocation_id}:{until_ms}"),
                fingerprint: format!("usage|{user_id}|{allocation_id}|{until_ms}|{cents}"),
                kind: TxKind::Usage,
                user_id,
                allocation_id: Some(allocation_id),
                reference: None,
                actor: "metering",
                memo: None,
            },
            &[
                Leg {
                    account: holds_account(user_id),
                    amount: -from_hold,
                    allocation_id: alloc(),
                },
                Leg {
                    account: cash_account(user_id),
                    amount: -(cents - from_hold),
                    allocation_id: alloc(),
                },
                Leg {
                    account: SYSTEM_REVENUE.into(),
                    amount: cents,
                    allocation_id: alloc(),
                },
            ],
        )
        .await
    }
}
