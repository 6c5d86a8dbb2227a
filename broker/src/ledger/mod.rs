//! The ledger: an append-only, double-entry book of every user's credit in integer cents
//! (USD minor units), deployment holds, per-millisecond usage metering with exact sub-cent
//! carry ([`metering`]), and each user's billing state ([`billing`]).
//!
//! # Accounts and sign convention
//! Per user: `user:{id}:cash` (available credit) and `user:{id}:holds` (credit reserved for
//! running deployments; entries carry the allocation id, so one deployment's hold is the sum
//! of its entries). System: `system:deposits` (money in), `system:revenue` (usage charged),
//! `system:adjustments`, `system:refunds`. An account's balance is the sum of its entries —
//! nothing else is stored — and every transaction's entries sum to zero, so user accounts are
//! positive when we owe the user and system accounts mirror them.
//!
//! # Invariants
//! - Entries and transactions are never updated or deleted (database triggers refuse it);
//!   a correction is a new transaction ([`Ledger::adjust`]).
//! - Every transaction has a unique idempotency key; posting it again is a no-op that
//!   returns the first result (a different request under the same key is a conflict).
//! - Every posting that touches a user's accounts first takes that user's row lock
//!   (`users.lock_version`, the lock deployments take too), so balance checks and postings
//!   serialize per user on PostgreSQL and on SQLite's single writer.
//! - Available credit only goes below zero through metered usage beyond a deployment's hold
//!   (the machine ran; the billing state machine then asks for its release). Holds, refunds
//!   and negative adjustments never overdraw it.
//!
//! # Metering
//! Billing runs from the allocation's transition to `active` until the provider confirms the
//! release (`releasing` → `released`), both read from the event log; `ready` (waiting for
//! the user's activation) is not billed, and `releasing`/`release_failed` are (the instance
//! may still run). [`Ledger::meter_tick`] posts the usage since each allocation's cursor,
//! consuming its hold first and then available credit, carries the sub-cent remainder, and
//! at the confirmed release posts the last interval and returns what is left of the hold.
//! The price is the allocation's quoted price and the markup is `pricing.markup_percent` as
//! of the hold (or of metering start without a hold), fixed for the deployment's life.

pub mod billing;
pub mod metering;

use std::sync::Arc;

use serde::Serialize;
use serde_json::json;
use sqlx::AnyConnection;
use tracing::{instrument, warn};

use crate::accounts::{Role, User};
use crate::allocations::State;
use crate::audit::{self, AuditEntry};
use crate::events::{self, NewEvent};
use crate::params::{self, Ctx, Params};
use crate::{new_id, Clock, ConflictKind, Db};

pub use billing::{BillingState, Cause, Effect, Thresholds};
pub use metering::{accrue, Remainder};

/// The only currency the ledger books for now.
pub const CURRENCY: &str = "USD";
pub const SYSTEM_DEPOSITS: &str = "system:deposits";
pub const SYSTEM_REVENUE: &str = "system:revenue";
pub const SYSTEM_ADJUSTMENTS: &str = "system:adjustments";
pub const SYSTEM_REFUNDS: &str = "system:refunds";

pub const WINDOW: &str = "billing.window_seconds";
pub const LOW_BALANCE: &str = "billing.low_balance_threshold_minor";
pub const MIN_DEPOSIT: &str = "billing.minimum_deposit_minor";
pub const MAX_DEPOSIT: &str = "billing.maximum_deposit_minor";
pub const REFUND_WINDOW: &str = "allocation.refund_window_days";

/// A user's available-credit account.
pub fn cash_account(user_id: &str) -> String {
    format!("user:{user_id}:cash")
}

/// A user's holds account.
pub fn holds_account(user_id: &str) -> String {
    format!("user:{user_id}:holds")
}

/// What can go wrong with a ledger operation.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The user's available credit does not cover the amount.
    #[error("insufficient funds: {available_minor} cents available, {required_minor} required")]
    InsufficientFunds {
        available_minor: i64,
        required_minor: i64,
    },
    /// A refund larger than what may be refunded now (see [`Ledger::refundable`]).
    #[error("only {refundable_minor} cents can be refunded now")]
    NotRefundable { refundable_minor: i64 },
    /// Validation, not found, conflicts (e.g. an idempotency key reused for a different
    /// request) and database errors.
    #[error(transparent)]
    Broker(#[from] crate::Error),
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        Error::Broker(crate::Error::Db(e))
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What a ledger transaction is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TxKind {
    Topup,
    Hold,
    Usage,
    ReleaseHold,
    Adjustment,
    Refund,
}

impl TxKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TxKind::Topup => "topup",
            TxKind::Hold => "hold",
            TxKind::Usage => "usage",
            TxKind::ReleaseHold => "release_hold",
            TxKind::Adjustment => "adjustment",
            TxKind::Refund => "refund",
        }
    }
}

/// The result of a posting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Posted {
    pub transaction_id: String,
    /// True when the idempotency key had been posted before: nothing was written now.
    pub replayed: bool,
}

/// A user's balances, each the sum of its account's entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Balance {
    /// `user:{id}:cash`: credit that can be spent or held.
    pub available_minor: i64,
    /// `user:{id}:holds`: credit reserved for running deployments.
    pub held_minor: i64,
}

impl Balance {
    /// Credit not yet spent: available plus held.
    pub fn credit_minor(&self) -> i64 {
        self.available_minor.saturating_add(self.held_minor)
    }
}

/// What one [`Ledger::meter_tick`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TickReport {
    /// Allocations whose meter was looked at.
    pub meters: usize,
    /// Cents charged in this tick.
    pub charged_minor: i64,
    /// Meters closed (confirmed release or failure) in this tick.
    pub closed: usize,
    /// Meters that could not be processed (logged; retried next tick).
    pub failed: usize,
}

/// One leg of a transaction.
struct Leg {
    account: String,
    amount: i64,
    allocation_id: Option<String>,
}

/// A transaction header.
struct Header<'a> {
    key: String,
    fingerprint: String,
    kind: TxKind,
    user_id: &'a str,
    allocation_id: Option<&'a str>,
    reference: Option<&'a str>,
    actor: &'a str,
    memo: Option<&'a str>,
}

/// The ledger service.
#[derive(Clone)]
pub struct Ledger {
    db: Db,
    clock: Arc<dyn Clock>,
    params: Params,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger").finish()
    }
}

/// Takes the user's write lock and makes sure their accounts exist; returns the tenant.
async fn lock_user(conn: &mut AnyConnection, now: i64, user_id: &str) -> Result<String> {
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
async fn sum(conn: &mut AnyConnection, account: &str, allocation_id: Option<&str>) -> Result<i64> {
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

async fn balance_with(conn: &mut AnyConnection, user_id: &str) -> Result<Balance> {
    Ok(Balance {
        available_minor: sum(conn, &cash_account(user_id), None).await?,
        held_minor: sum(conn, &holds_account(user_id), None).await?,
    })
}

/// Looks an idempotency key up: the first posting's id, or a conflict if it was for a
/// different request.
async fn existing(
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
async fn post(conn: &mut AnyConnection, now: i64, h: &Header<'_>, legs: &[Leg]) -> Result<Posted> {
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
    pub fn new(db: Db, clock: Arc<dyn Clock>, params: Params) -> Self {
        Ledger { db, clock, params }
    }

    /// A user's balances.
    pub async fn balance(&self, user_id: &str) -> Result<Balance> {
        let mut conn = self.db.pool.acquire().await?;
        balance_with(&mut conn, user_id).await
    }

    /// Any account's balance (the sum of its entries), e.g. [`SYSTEM_REVENUE`].
    pub async fn account_balance(&self, account_id: &str) -> Result<i64> {
        let mut conn = self.db.pool.acquire().await?;
        sum(&mut conn, account_id, None).await
    }

    /// What is still held for one allocation.
    pub async fn held_for(&self, user_id: &str, allocation_id: &str) -> Result<i64> {
        let mut conn = self.db.pool.acquire().await?;
        sum(&mut conn, &holds_account(user_id), Some(allocation_id)).await
    }

    /// Whether the user's available credit covers `amount_minor` now (advisory: [`hold`]
    /// checks again under the user's lock).
    ///
    /// [`hold`]: Ledger::hold
    pub async fn can_afford(&self, user_id: &str, amount_minor: i64) -> Result<bool> {
        Ok(self.balance(user_id).await?.available_minor >= amount_minor)
    }

    /// The hold a deployment at `price_per_hour_micro` takes: one billing window
    /// (`billing.window_seconds`) at the price plus `pricing.markup_percent`, rounded up.
    pub async fn hold_quote(
        &self,
        tenant_id: &str,
        user_id: &str,
        price_per_hour_micro: i64,
    ) -> Result<i64> {
        let mut conn = self.db.pool.acquire().await?;
        self.hold_quote_with(&mut conn, tenant_id, user_id, price_per_hour_micro)
            .await
    }

    /// As [`Ledger::hold_quote`], on the caller's connection.
    pub async fn hold_quote_with(
        &self,
        conn: &mut AnyConnection,
        tenant_id: &str,
        user_id: &str,
        price_per_hour_micro: i64,
    ) -> Result<i64> {
        let ctx = Ctx {
            tenant_id,
            user_id: Some(user_id),
        };
        let window = self.params.int_with(conn, WINDOW, ctx).await?;
        let markup = self.params.int_with(conn, params::MARKUP, ctx).await?;
        Ok(metering::window_cost_minor(
            price_per_hour_micro,
            markup,
            window,
        ))
    }

    /// Reserves `amount_minor` of the user's available credit for an allocation (cash →
    /// holds) in its own transaction. One hold per allocation: a retry is a no-op.
    #[instrument(skip_all, fields(user = user_id, allocation = allocation_id, amount = amount_minor))]
    pub async fn hold(
        &self,
        user_id: &str,
        allocation_id: &str,
        amount_minor: i64,
    ) -> Result<Posted> {
        let now = self.clock.now_ms();
        let mut tx = self.db.pool.begin().await?;
        let p = self
            .hold_with(&mut tx, now, user_id, allocation_id, amount_minor)
            .await?;
        tx.commit().await?;
        Ok(p)
    }

    /// As [`Ledger::hold`], on the caller's transaction (e.g. `Allocations::deploy`, after
    /// inserting the allocation row): fails with [`Error::InsufficientFunds`] before
    /// writing anything. Also opens the allocation's meter with the price and markup fixed
    /// now.
    pub async fn hold_with(
        &self,
        conn: &mut AnyConnection,
        now: i64,
        user_id: &str,
        allocation_id: &str,
        amount_minor: i64,
    ) -> Result<Posted> {
        if amount_minor <= 0 {
            return Err(crate::Error::invalid("amount_minor", "a hold must be positive").into());
        }
        let tenant = lock_user(conn, now, user_id).await?;
        let key = format!("hold:{allocation_id}");
        let fingerprint = format!("hold|{user_id}|{allocation_id}|{amount_minor}");
        if let Some(p) = existing(conn, &key, &fingerprint).await? {
            return Ok(p);
        }
        let available = sum(conn, &cash_account(user_id), None).await?;
        if available < amount_minor {
            return Err(Error::InsufficientFunds {
                available_minor: available,
                required_minor: amount_minor,
            });
        }
        self.open_meter(conn, now, &tenant, user_id, allocation_id)
            .await?;
        post(
            conn,
            now,
            &Header {
                key,
                fingerprint,
                kind: TxKind::Hold,
                user_id,
                allocation_id: Some(allocation_id),
                reference: None,
                actor: "system",
                memo: None,
            },
            &[
                Leg {
                    account: cash_account(user_id),
                    amount: -amount_minor,
                    allocation_id: Some(allocation_id.to_string()),
                },
                Leg {
                    account: holds_account(user_id),
                    amount: amount_minor,
                    allocation_id: Some(allocation_id.to_string()),
                },
            ],
        )
        .await
    }

    /// Creates the allocation's meter (not started) if it has none, fixing the markup.
    async fn open_meter(
        &self,
        conn: &mut AnyConnection,
        now: i64,
        tenant_id: &str,
        user_id: &str,
        allocation_id: &str,
    ) -> Result<()> {
        let markup = self
            .params
            .int_with(
                conn,
                params::MARKUP,
                Ctx {
                    tenant_id,
                    user_id: Some(user_id),
                },
            )
            .await?;
        let n = sqlx::query(
            "INSERT INTO ledger_meters (allocation_id, user_id, tenant_id, price_micro, markup_percent, remainder, open, created_at, updated_at) \
             SELECT id, user_id, tenant_id, quoted_price_micro, $1, 0, 1, $2, $2 FROM allocations WHERE id = $3 AND user_id = $4 \
             ON CONFLICT (allocation_id) DO NOTHING",
        )
        .bind(markup)
        .bind(now)
        .bind(allocation_id)
        .bind(user_id)
        .execute(&mut *conn)
        .await?
        .rows_affected();
        if n == 0 {
            let found: Option<(String,)> =
                sqlx::query_as("SELECT allocation_id FROM ledger_meters WHERE allocation_id = $1")
                    .bind(allocation_id)
                    .fetch_optional(&mut *conn)
                    .await?;
            if found.is_none() {
                return Err(crate::Error::NotFound { what: "deployment" }.into());
            }
        }
        Ok(())
    }

    /// Returns what is left of an allocation's hold to available credit (holds → cash), in
    /// its own transaction. `None` when nothing is held. Metering calls this itself at the
    /// confirmed release (after the last usage) and when an allocation fails.
    #[instrument(skip_all, fields(allocation = allocation_id))]
    pub async fn release_hold(&self, allocation_id: &str) -> Result<Option<Posted>> {
        let now = self.clock.now_ms();
        let mut tx = self.db.pool.begin().await?;
        let (user_id,): (String,) = sqlx::query_as("SELECT user_id FROM allocations WHERE id = $1")
            .bind(allocation_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(crate::Error::NotFound { what: "deployment" })?;
        let p = self
            .release_hold_with(&mut tx, now, &user_id, allocation_id)
            .await?;
        tx.commit().await?;
        Ok(p)
    }

    /// As [`Ledger::release_hold`], on the caller's transaction.
    pub async fn release_hold_with(
        &self,
        conn: &mut AnyConnection,
        now: i64,
        user_id: &str,
        allocation_id: &str,
    ) -> Result<Option<Posted>> {
        lock_user(conn, now, user_id).await?;
        let left = sum(conn, &holds_account(user_id), Some(allocation_id)).await?;
        if left <= 0 {
            return Ok(None);
        }
        let p = post(
            conn,
            now,
            &Header {
                key: format!("release_hold:{allocation_id}"),
                fingerprint: format!("release_hold|{user_id}|{allocation_id}"),
                kind: TxKind::ReleaseHold,
                user_id,
                allocation_id: Some(allocation_id),
                reference: None,
                actor: "system",
                memo: None,
            },
            &[
                Leg {
                    account: holds_account(user_id),
                    amount: -left,
                    allocation_id: Some(allocation_id.to_string()),
                },
                Leg {
                    account: cash_account(user_id),
                    amount: left,
                    allocation_id: Some(allocation_id.to_string()),
                },
            ],
        )
        .await?;
        Ok(Some(p))
    }

    /// Credits a completed payment (deposits → cash). Idempotent on `payment_ref`: a replay
    /// credits nothing and returns the first posting. Only USD, within
    /// `billing.minimum_deposit_minor..=billing.maximum_deposit_minor`.
    #[instrument(skip_all, fields(user = user_id, amount = amount_minor, payment_ref))]
    pub async fn credit_topup(
        &self,
        user_id: &str,
        amount_minor: i64,
        currency: &str,
        payment_ref: &str,
    ) -> Result<Posted> {
        if currency != CURRENCY {
            return Err(
                crate::Error::invalid_choice("currency", currency, vec![CURRENCY.into()]).into(),
            );
        }
        if payment_ref.is_empty() || payment_ref.len() > 200 {
            return Err(crate::Error::invalid("payment_ref", "must be 1..=200 characters").into());
        }
        let now = self.clock.now_ms();
        let mut tx = self.db.pool.begin().await?;
        let tenant = lock_user(&mut tx, now, user_id).await?;
        let key = format!("topup:{payment_ref}");
        let fingerprint = format!("topup|{user_id}|{amount_minor}|{currency}");
        if let Some(p) = existing(&mut tx, &key, &fingerprint).await? {
            return Ok(p);
        }
        let ctx = Ctx {
            tenant_id: &tenant,
            user_id: Some(user_id),
        };
        let min = self.params.int_with(&mut tx, MIN_DEPOSIT, ctx).await?;
        let max = self.params.int_with(&mut tx, MAX_DEPOSIT, ctx).await?;
        if !(min..=max).contains(&amount_minor) {
            return Err(crate::Error::invalid(
                "amount_minor",
                format!("a top-up must be {min}..={max} cents"),
            )
            .into());
        }
        let p = post(
            &mut tx,
            now,
            &Header {
                key,
                fingerprint,
                kind: TxKind::Topup,
                user_id,
                allocation_id: None,
                reference: Some(payment_ref),
                actor: "payments",
                memo: None,
            },
            &[
                Leg {
                    account: SYSTEM_DEPOSITS.into(),
                    amount: -amount_minor,
                    allocation_id: None,
                },
                Leg {
                    account: cash_account(user_id),
                    amount: amount_minor,
                    allocation_id: None,
                },
            ],
        )
        .await?;
        self.reassess(&mut tx, now, user_id, &tenant, Cause::Credit)
            .await?;
        tx.commit().await?;
        Ok(p)
    }

    /// An admin's correction of a user's available credit (adjustments ↔ cash), audited as
    /// `ledger.adjust` in the same transaction. A debit may not take available credit below
    /// zero. Idempotent on `idempotency_key`.
    #[instrument(skip_all, fields(admin = %admin.id, user = user_id, amount = amount_minor))]
    pub async fn adjust(
        &self,
        admin: &User,
        user_id: &str,
        amount_minor: i64,
        reason: &str,
        idempotency_key: &str,
    ) -> Result<Posted> {
        if admin.role != Role::Admin {
            return Err(crate::Error::Forbidden.into());
        }
        if amount_minor == 0 {
            return Err(crate::Error::invalid("amount_minor", "must not be zero").into());
        }
        if reason.trim().is_empty() {
            return Err(crate::Error::invalid("reason", "an adjustment needs a reason").into());
        }
        let now = self.clock.now_ms();
        let mut tx = self.db.pool.begin().await?;
        let tenant = lock_user(&mut tx, now, user_id).await?;
        let key = format!("adjust:{idempotency_key}");
        let fingerprint = format!("adjust|{user_id}|{amount_minor}|{reason}");
        if let Some(p) = existing(&mut tx, &key, &fingerprint).await? {
            return Ok(p);
        }
        let before = sum(&mut tx, &cash_account(user_id), None).await?;
        if before.saturating_add(amount_minor) < 0 {
            return Err(Error::InsufficientFunds {
                available_minor: before,
                required_minor: -amount_minor,
            });
        }
        let p = post(
            &mut tx,
            now,
            &Header {
                key,
                fingerprint,
                kind: TxKind::Adjustment,
                user_id,
                allocation_id: None,
                reference: None,
                actor: &admin.id,
                memo: Some(reason),
            },
            &[
                Leg {
                    account: SYSTEM_ADJUSTMENTS.into(),
                    amount: -amount_minor,
                    allocation_id: None,
                },
                Leg {
                    account: cash_account(user_id),
                    amount: amount_minor,
                    allocation_id: None,
                },
            ],
        )
        .await?;
        audit::record(
            &mut tx,
            now,
            AuditEntry {
                tenant_id: Some(&tenant),
                actor: &admin.id,
                action: "ledger.adjust",
                subject: &cash_account(user_id),
                before: Some(&before.to_string()),
                after: Some(&(before + amount_minor).to_string()),
                reason: Some(reason),
            },
        )
        .await?;
        let cause = if amount_minor > 0 {
            Cause::Credit
        } else {
            Cause::Debit
        };
        self.reassess(&mut tx, now, user_id, &tenant, cause).await?;
        tx.commit().await?;
        Ok(p)
    }

    /// How much may be refunded now: unused credit that came from top-ups of the last
    /// `allocation.refund_window_days`. Credit is spent oldest first, so the unused part is
    /// attributed to the newest top-ups: `min(available, Σ top-ups in the window − Σ refunds
    /// in the window)`, never below zero. Held credit is not refundable until released.
    pub async fn refundable(&self, user_id: &str) -> Result<i64> {
        let now = self.clock.now_ms();
        let mut tx = self.db.pool.begin().await?;
        let tenant = lock_user(&mut tx, now, user_id).await?;
        let r = self.refundable_with(&mut tx, now, user_id, &tenant).await?;
        tx.rollback().await?;
        Ok(r)
    }

    async fn refundable_with(
        &self,
        conn: &mut AnyConnection,
        now: i64,
        user_id: &str,
        tenant_id: &str,
    ) -> Result<i64> {
        let days = self
            .params
            .int_with(
                conn,
                REFUND_WINDOW,
                Ctx {
                    tenant_id,
                    user_id: Some(user_id),
                },
            )
            .await?;
        let since = now.saturating_sub(days.saturating_mul(86_400_000));
        let (recent,): (i64,) = sqlx::query_as(
            "SELECT COALESCE(CAST(SUM(e.amount_minor) AS BIGINT), 0) FROM ledger_entries e \
             JOIN ledger_transactions t ON t.id = e.transaction_id \
             WHERE t.user_id = $1 AND t.kind IN ('topup', 'refund') AND e.account_id = $2 AND t.created_at >= $3",
        )
        .bind(user_id)
        .bind(cash_account(user_id))
        .bind(since)
        .fetch_one(&mut *conn)
        .await?;
        let available = sum(conn, &cash_account(user_id), None).await?;
        Ok(available.min(recent).max(0))
    }

    /// Refunds unused credit (cash → refunds) within the rule of [`Ledger::refundable`].
    /// Idempotent on `idempotency_key`. The payment provider's refund is the caller's.
    #[instrument(skip_all, fields(user = user_id, amount = amount_minor))]
    pub async fn refund_unused(
        &self,
        user_id: &str,
        amount_minor: i64,
        idempotency_key: &str,
    ) -> Result<Posted> {
        if amount_minor <= 0 {
            return Err(crate::Error::invalid("amount_minor", "a refund must be positive").into());
        }
        let now = self.clock.now_ms();
        let mut tx = self.db.pool.begin().await?;
        let tenant = lock_user(&mut tx, now, user_id).await?;
        let key = format!("refund:{idempotency_key}");
        let fingerprint = format!("refund|{user_id}|{amount_minor}");
        if let Some(p) = existing(&mut tx, &key, &fingerprint).await? {
            return Ok(p);
        }
        let refundable = self.refundable_with(&mut tx, now, user_id, &tenant).await?;
        if amount_minor > refundable {
            return Err(Error::NotRefundable {
                refundable_minor: refundable,
            });
        }
        let p = post(
            &mut tx,
            now,
            &Header {
                key,
                fingerprint,
                kind: TxKind::Refund,
                user_id,
                allocation_id: None,
                reference: None,
                actor: "payments",
                memo: None,
            },
            &[
                Leg {
                    account: cash_account(user_id),
                    amount: -amount_minor,
                    allocation_id: None,
                },
                Leg {
                    account: SYSTEM_REFUNDS.into(),
                    amount: amount_minor,
                    allocation_id: None,
                },
            ],
        )
        .await?;
        self.reassess(&mut tx, now, user_id, &tenant, Cause::Debit)
            .await?;
        tx.commit().await?;
        Ok(p)
    }

    /// The user's persisted billing state (healthy until first assessed).
    pub async fn billing_state(&self, user_id: &str) -> Result<BillingState> {
        let row: Option<(String,)> =
            sqlx::query_as("SELECT state FROM ledger_billing_states WHERE user_id = $1")
                .bind(user_id)
                .fetch_optional(&self.db.pool)
                .await?;
        Ok(row
            .and_then(|(s,)| BillingState::parse(&s))
            .unwrap_or(BillingState::Healthy))
    }

    /// The user's burn rate: cents per hour of every deployment being metered.
    pub async fn burn_per_hour(&self, user_id: &str) -> Result<i64> {
        let mut conn = self.db.pool.acquire().await?;
        burn_with(&mut conn, user_id).await
    }

    /// Re-evaluates the user's billing state on the caller's transaction (after a posting,
    /// under the user's lock) and, on a change, stores it with a `billing.state` event.
    async fn reassess(
        &self,
        conn: &mut AnyConnection,
        now: i64,
        user_id: &str,
        tenant_id: &str,
        cause: Cause,
    ) -> Result<BillingState> {
        let credit = balance_with(conn, user_id).await?.credit_minor();
        let burn = burn_with(conn, user_id).await?;
        let ctx = Ctx {
            tenant_id,
            user_id: Some(user_id),
        };
        let t = Thresholds {
            low_balance_minor: self.params.int_with(conn, LOW_BALANCE, ctx).await?,
            window_seconds: self.params.int_with(conn, WINDOW, ctx).await?,
        };
        let to = billing::evaluate(credit, burn, t);
        let row: Option<(String,)> =
            sqlx::query_as("SELECT state FROM ledger_billing_states WHERE user_id = $1")
                .bind(user_id)
                .fetch_optional(&mut *conn)
                .await?;
        let from = row
            .and_then(|(s,)| BillingState::parse(&s))
            .unwrap_or(BillingState::Healthy);
        if from == to {
            return Ok(to);
        }
        let effects = match billing::transition(from, to, cause) {
            Ok(e) => e,
            Err(e) => {
                // The balance is the truth: record where it stands, and say that the cause
                // did not explain the move.
                warn!(error = %e, user = user_id, "unexpected billing state move");
                Vec::new()
            }
        };
        sqlx::query(
            "INSERT INTO ledger_billing_states (user_id, state, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (user_id) DO UPDATE SET state = $2, updated_at = $3",
        )
        .bind(user_id)
        .bind(to.as_str())
        .bind(now)
        .execute(&mut *conn)
        .await?;
        events::append(
            conn,
            now,
            NewEvent {
                tenant_id,
                topic: "billing.state",
                subject_id: user_id,
                user_id: Some(user_id),
                payload: &json!({
                    "user_id": user_id,
                    "from": from.as_str(),
                    "to": to.as_str(),
                    "cause": cause,
                    "credit_minor": credit,
                    "burn_per_hour_minor": burn,
                    "effects": effects,
                }),
            },
        )
        .await?;
        Ok(to)
    }

    // ---- metering -----------------------------------------------------------------------

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
        let tenant = lock_user(&mut *tx, now, &m.user_id).await?;
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
            burn_changed |= started.is_some();
        }
        if cents > 0 || burn_changed {
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

/// Cents per hour of the user's started, open meters.
async fn burn_with(conn: &mut AnyConnection, user_id: &str) -> Result<i64> {
    let rows: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT price_micro, markup_percent FROM ledger_meters \
         WHERE user_id = $1 AND open = 1 AND started_at IS NOT NULL",
    )
    .bind(user_id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(metering::burn_per_hour_minor(rows))
}
