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
//!   a correction is a new transaction ([`Ledger::adjust`]; a refund the gateway later
//!   reports failed or canceled gets a `refund-reversal:{refund id}` transaction that gives
//!   the credit back).
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
mod book;
mod credit;
mod holds;
pub mod metering;
mod meters;
pub mod notices;
mod standing;
pub mod statement;

use std::sync::Arc;

use serde::Serialize;

use crate::params::Params;
use crate::{Clock, Db};

pub(crate) use book::balance_with;
use book::sum;
pub(crate) use credit::{lock_account, FailedRefund};

pub use billing::{BillingState, Cause, Effect, Thresholds};
pub use metering::{accrue, Remainder};

/// The only currency the ledger books for now.
pub const CURRENCY: &str = "USD";
pub const SYSTEM_DEPOSITS: &str = "system:deposits";
pub const SYSTEM_REVENUE: &str = "system:revenue";
pub const SYSTEM_ADJUSTMENTS: &str = "system:adjustments";
pub const SYSTEM_REFUNDS: &str = "system:refunds";

/// Parameter keys the ledger reads.
pub const WINDOW: &str = "billing.window_seconds";
pub const LOW_BALANCE: &str = "billing.low_balance_threshold_minor";
pub const MIN_DEPOSIT: &str = "billing.minimum_deposit_minor";
pub const MAX_DEPOSIT: &str = "billing.maximum_deposit_minor";
pub const REFUND_WINDOW: &str = "allocation.refund_window_days";
pub const METER_INTERVAL: &str = "billing.meter_interval_seconds";

/// Cents for people: `$12.34`, `-$0.07`.
pub fn dollars(minor: i64) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let m = minor.unsigned_abs();
    format!("{sign}${}.{:02}", m / 100, m % 100)
}

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
}
