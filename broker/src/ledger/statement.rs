//! Statements: a user's ledger history (one line per transaction touching their accounts),
//! and a period's statement — opening and closing balances, the lines, totals per kind, and
//! usage per deployment and per day. Everything is read from the entries, so a statement's
//! lines always sum to its closing minus its opening credit.

use serde::Serialize;
use sqlx::AnyConnection;

use super::{cash_account, holds_account, Balance, Ledger, Result, CURRENCY, SYSTEM_REVENUE};

/// Longest statement period.
pub const MAX_PERIOD_MS: i64 = 366 * 86_400_000;
const DAY_MS: i64 = 86_400_000;

/// One transaction as it touched the user's accounts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Line {
    pub transaction_id: String,
    /// Unix milliseconds (UTC).
    pub at: i64,
    pub kind: String,
    pub allocation_id: Option<String>,
    pub reference: Option<String>,
    pub memo: Option<String>,
    /// Change of available credit, cents.
    pub available_delta_minor: i64,
    /// Change of held credit, cents.
    pub held_delta_minor: i64,
}

impl Line {
    /// Change of the user's credit (available + held), cents: what the line cost (< 0) or
    /// brought (> 0). A hold moves credit without changing it (0).
    pub fn amount_minor(&self) -> i64 {
        self.available_delta_minor + self.held_delta_minor
    }
}

/// Usage charged for one deployment in a period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AllocationUsage {
    pub allocation_id: String,
    pub provider: Option<String>,
    pub gpu_model: Option<String>,
    pub charged_minor: i64,
}

/// Usage charged on one UTC day (by posting time).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DayUsage {
    /// `YYYY-MM-DD`.
    pub day: String,
    pub charged_minor: i64,
}

/// A period's statement.
#[derive(Debug, Clone, Serialize)]
pub struct Statement {
    pub currency: &'static str,
    /// Period start (inclusive) and end (exclusive), unix milliseconds.
    pub from_ms: i64,
    pub to_ms: i64,
    pub opening: Balance,
    pub closing: Balance,
    /// Σ line amounts per transaction kind, cents.
    pub totals: Vec<(String, i64)>,
    pub usage_total_minor: i64,
    pub usage_by_allocation: Vec<AllocationUsage>,
    pub usage_by_day: Vec<DayUsage>,
    /// Oldest first.
    pub lines: Vec<Line>,
}

const LINE_SELECT: &str = "SELECT t.id AS transaction_id, t.created_at AS at, t.kind, t.allocation_id, t.reference, t.memo, \
     CAST(SUM(CASE WHEN e.account_id = $1 THEN e.amount_minor ELSE 0 END) AS BIGINT) AS available_delta_minor, \
     CAST(SUM(CASE WHEN e.account_id = $2 THEN e.amount_minor ELSE 0 END) AS BIGINT) AS held_delta_minor \
     FROM ledger_transactions t JOIN ledger_entries e ON e.transaction_id = t.id \
     WHERE e.account_id IN ($1, $2) AND ";
const LINE_GROUP: &str =
    " GROUP BY t.id, t.created_at, t.kind, t.allocation_id, t.reference, t.memo ";

async fn balance_before(
    conn: &mut AnyConnection,
    user_id: &str,
    before_ms: i64,
) -> Result<Balance> {
    let one = |account: String| {
        sqlx::query_as::<_, (i64,)>(
            "SELECT COALESCE(CAST(SUM(amount_minor) AS BIGINT), 0) FROM ledger_entries \
             WHERE account_id = $1 AND created_at < $2",
        )
        .bind(account)
        .bind(before_ms)
    };
    let (available_minor,) = one(cash_account(user_id)).fetch_one(&mut *conn).await?;
    let (held_minor,) = one(holds_account(user_id)).fetch_one(&mut *conn).await?;
    Ok(Balance {
        available_minor,
        held_minor,
    })
}

/// `YYYY-MM-DD` of a UTC day number (days since 1970-01-01).
fn day_name(day: i64) -> String {
    chrono::DateTime::from_timestamp(day.saturating_mul(86_400), 0)
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

impl Ledger {
    /// The user's ledger history, newest first, keyset-paged by (time, transaction id).
    pub async fn history(
        &self,
        user_id: &str,
        before: Option<(i64, String)>,
        limit: i64,
    ) -> Result<Vec<Line>> {
        let (bt, bid) = before.unwrap_or((i64::MAX, String::new()));
        let sql = format!(
            "{LINE_SELECT} (t.created_at < $3 OR (t.created_at = $3 AND ($4 = '' OR t.id < $4))) \
             {LINE_GROUP} ORDER BY t.created_at DESC, t.id DESC LIMIT $5"
        );
        Ok(sqlx::query_as(&sql)
            .bind(cash_account(user_id))
            .bind(holds_account(user_id))
            .bind(bt)
            .bind(bid)
            .bind(limit)
            .fetch_all(&self.db.pool)
            .await?)
    }

    /// The statement of `[from_ms, to_ms)` (at most [`MAX_PERIOD_MS`]).
    pub async fn statement(&self, user_id: &str, from_ms: i64, to_ms: i64) -> Result<Statement> {
        if from_ms >= to_ms {
            return Err(crate::Error::invalid("from", "must be before `to`").into());
        }
        if to_ms - from_ms > MAX_PERIOD_MS {
            return Err(crate::Error::invalid("to", "a statement covers at most 366 days").into());
        }
        let mut conn = self.db.pool.acquire().await?;
        let opening = balance_before(&mut conn, user_id, from_ms).await?;
        let closing = balance_before(&mut conn, user_id, to_ms).await?;
        let sql = format!(
            "{LINE_SELECT} t.created_at >= $3 AND t.created_at < $4 {LINE_GROUP} ORDER BY t.created_at, t.id"
        );
        let lines: Vec<Line> = sqlx::query_as(&sql)
            .bind(cash_account(user_id))
            .bind(holds_account(user_id))
            .bind(from_ms)
            .bind(to_ms)
            .fetch_all(&mut *conn)
            .await?;
        let mut totals: Vec<(String, i64)> = Vec::new();
        for l in &lines {
            match totals.iter_mut().find(|(k, _)| *k == l.kind) {
                Some((_, v)) => *v += l.amount_minor(),
                None => totals.push((l.kind.clone(), l.amount_minor())),
            }
        }
        let per_alloc: Vec<(Option<String>, Option<String>, Option<String>, i64)> = sqlx::query_as(
            "SELECT t.allocation_id, a.provider, a.gpu_model, CAST(SUM(e.amount_minor) AS BIGINT) \
             FROM ledger_transactions t JOIN ledger_entries e ON e.transaction_id = t.id \
             LEFT JOIN allocations a ON a.id = t.allocation_id \
             WHERE t.user_id = $1 AND t.kind = 'usage' AND e.account_id = $2 AND t.created_at >= $3 AND t.created_at < $4 \
             GROUP BY t.allocation_id, a.provider, a.gpu_model ORDER BY t.allocation_id",
        )
        .bind(user_id)
        .bind(SYSTEM_REVENUE)
        .bind(from_ms)
        .bind(to_ms)
        .fetch_all(&mut *conn)
        .await?;
        let per_day: Vec<(i64, i64)> = sqlx::query_as(&format!(
            "SELECT CAST(t.created_at / {DAY_MS} AS BIGINT) AS day, CAST(SUM(e.amount_minor) AS BIGINT) \
             FROM ledger_transactions t JOIN ledger_entries e ON e.transaction_id = t.id \
             WHERE t.user_id = $1 AND t.kind = 'usage' AND e.account_id = $2 AND t.created_at >= $3 AND t.created_at < $4 \
             GROUP BY CAST(t.created_at / {DAY_MS} AS BIGINT) ORDER BY day"
        ))
        .bind(user_id)
        .bind(SYSTEM_REVENUE)
        .bind(from_ms)
        .bind(to_ms)
        .fetch_all(&mut *conn)
        .await?;
        let usage_by_allocation: Vec<AllocationUsage> = per_alloc
            .into_iter()
            .map(|(id, provider, gpu_model, charged)| AllocationUsage {
                allocation_id: id.unwrap_or_default(),
                provider,
                gpu_model,
                charged_minor: charged,
            })
            .collect();
        Ok(Statement {
            currency: CURRENCY,
            from_ms,
            to_ms,
            opening,
            closing,
            totals,
            usage_total_minor: usage_by_allocation.iter().map(|u| u.charged_minor).sum(),
            usage_by_allocation,
            usage_by_day: per_day
                .into_iter()
                .map(|(d, c)| DayUsage {
                    day: day_name(d),
                    charged_minor: c,
                })
                .collect(),
            lines,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_numbers_name_utc_days() {
        assert_eq!(day_name(0), "1970-01-01");
        assert_eq!(day_name(20_000), "2024-10-04");
    }

    #[test]
    fn a_hold_moves_credit_without_changing_it() {
        let l = Line {
            transaction_id: "t".into(),
            at: 0,
            kind: "hold".into(),
            allocation_id: None,
            reference: None,
            memo: None,
            available_delta_minor: -500,
            held_delta_minor: 500,
        };
        assert_eq!(l.amount_minor(), 0);
    }
}
