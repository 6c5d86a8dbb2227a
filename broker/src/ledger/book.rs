//! The book: balanced, idempotent postings and account sums, on the caller's transaction.

use sqlx::AnyConnection;

use super::{cash_account, holds_account, Balance, Posted, Result, TxKind, CURRENCY};
use crate::{new_id, ConflictKind};

/// One leg of a transaction.
pub(super) struct Leg {
    pub(super) account: String,
    pub(super) amount: i64,
    pub(super) allocation_id: Option<String>,
}

/// The two legs that move `amount` from one account to another (they sum to zero).
pub(super) fn transfer(
    from: impl Into<String>,
    to: impl Into<String>,
    amount: i64,
    allocation_id: Option<String>,
) -> [Leg; 2] {
    [
        Leg {
            account: from.into(),
            amount: -amount,
            allocation_id: allocation_id.clone(),
        },
        Leg {
            account: to.into(),
            amount,
            allocation_id,
        },
    ]
}

/// A transaction header.
pub(super) struct Header<'a> {
    pub(super) key: String,
    pub(super) fingerprint: String,
    pub(super) kind: TxKind,
    pub(super) user_id: &'a str,
    pub(super) allocation_id: Option<&'a str>,
    pub(super) reference: Option<&'a str>,
    pub(super) actor: &'a str,
    pub(super) memo: Option<&'a str>,
}

/// Takes the user's write lock and makes sure their accounts exist; returns the tenant.
pub(super) async fn lock_user(conn: &mut AnyConnection, now: i64, user_id: &str) -> Result<String> {
    let n = sqlx::query("UPDATE users SET lock_version = lock_version + 1 WHERE id = $1")
        .bind(user_id)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    if n == 0 {
        return Err(crate::Error::NotFound { what: "user" }.into());
    }
    for (id, kind) in [
        (cash_account(user_id), "cash"),
        (holds_account(user_id), "holds"),
    ] {
        sqlx::query(
            "INSERT INTO ledger_accounts (id, user_id, kind, currency, created_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(id)
        .bind(user_id)
        .bind(kind)
        .bind(CURRENCY)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    }
    let (tenant,): (String,) = sqlx::query_as("SELECT tenant_id FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_one(&mut *conn)
        .await?;
    Ok(tenant)
}

/// The sum of an account's entries (optionally of one allocation's).
pub(super) async fn sum(
    conn: &mut AnyConnection,
    account: &str,
    allocation_id: Option<&str>,
) -> Result<i64> {
    let (v,): (i64,) = sqlx::query_as(
        "SELECT COALESCE(CAST(SUM(amount_minor) AS BIGINT), 0) FROM ledger_entries \
         WHERE account_id = $1 AND ($2 = '' OR allocation_id = $2)",
    )
    .bind(account)
    .bind(allocation_id.unwrap_or(""))
    .fetch_one(&mut *conn)
    .await?;
    Ok(v)
}

pub(crate) async fn balance_with(conn: &mut AnyConnection, user_id: &str) -> Result<Balance> {
    Ok(Balance {
        available_minor: sum(conn, &cash_account(user_id), None).await?,
        held_minor: sum(conn, &holds_account(user_id), None).await?,
    })
}

/// Looks an idempotency key up: the first posting's id, or a conflict if it was for a
/// different request.
pub(super) async fn existing(
    conn: &mut AnyConnection,
    key: &str,
    fingerprint: &str,
) -> Result<Option<Posted>> {
    let row: Option<(String, String)> = sqlx::query_as(
        "SELECT id, fingerprint FROM ledger_transactions WHERE idempotency_key = $1",
    )
    .bind(key)
    .fetch_optional(&mut *conn)
    .await?;
    match row {
        None => Ok(None),
        Some((_, f)) if f != fingerprint => Err(crate::Error::conflict(
            ConflictKind::IdempotencyMismatch,
            "this idempotency key was used for a different ledger posting",
        )
        .into()),
        Some((id, _)) => Ok(Some(Posted {
            transaction_id: id,
            replayed: true,
        })),
    }
}

/// Writes a balanced transaction (header + ≥ 2 non-zero legs summing to zero) on the
/// caller's transaction, or returns the first posting of its key.
pub(super) async fn post(
    conn: &mut AnyConnection,
    now: i64,
    h: &Header<'_>,
    legs: &[Leg],
) -> Result<Posted> {
    let legs: Vec<&Leg> = legs.iter().filter(|l| l.amount != 0).collect();
    let total: i128 = legs.iter().map(|l| i128::from(l.amount)).sum();
    if legs.len() < 2 || total != 0 {
        return Err(crate::Error::Internal(format!(
            "unbalanced ledger transaction {} ({} legs, sum {total})",
            h.key,
            legs.len()
        ))
        .into());
    }
    let id = new_id();
    let n = sqlx::query(
        "INSERT INTO ledger_transactions (id, idempotency_key, fingerprint, kind, user_id, allocation_id, reference, actor, memo, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (idempotency_key) DO NOTHING",
    )
    .bind(&id)
    .bind(&h.key)
    .bind(&h.fingerprint)
    .bind(h.kind.as_str())
    .bind(h.user_id)
    .bind(h.allocation_id)
    .bind(h.reference)
    .bind(h.actor)
    .bind(h.memo)
    .bind(now)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if n == 0 {
        return existing(conn, &h.key, &h.fingerprint)
            .await?
            .ok_or_else(|| {
                crate::Error::Internal(format!("ledger key {} vanished", h.key)).into()
            });
    }
    for l in legs {
        sqlx::query(
            "INSERT INTO ledger_entries (transaction_id, account_id, allocation_id, amount_minor, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&id)
        .bind(&l.account)
        .bind(l.allocation_id.as_deref())
        .bind(l.amount)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    }
    Ok(Posted {
        transaction_id: id,
        replayed: false,
    })
}
