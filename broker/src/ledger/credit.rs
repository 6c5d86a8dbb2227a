//! Credit in and out of a user's available balance: top-ups, admin adjustments, refunds.

use sqlx::AnyConnection;
use tracing::instrument;

use super::book::{existing, lock_user, post, sum, transfer, Header};
use super::{
    cash_account, Cause, Error, Ledger, Posted, Result, TxKind, CURRENCY, MAX_DEPOSIT, MIN_DEPOSIT,
    REFUND_WINDOW, SYSTEM_ADJUSTMENTS, SYSTEM_DEPOSITS, SYSTEM_REFUNDS,
};
use crate::accounts::{Role, User};
use crate::audit::{self, AuditEntry};
use crate::params::Ctx;

impl Ledger {
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
        let (key, fingerprint) = topup_key(user_id, amount_minor, currency, payment_ref);
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
        let p = self
            .credit_payment_with(&mut tx, now, user_id, amount_minor, currency, payment_ref)
            .await?;
        tx.commit().await?;
        Ok(p)
    }

    /// Credits a paid PaymentIntent (deposits → cash) on the caller's transaction (the
    /// webhook's, so the event row and the credit commit together). Idempotent on
    /// `payment_ref` (the intent id). No deposit bounds here: they were checked when the
    /// intent was created, and money received is always credited.
    pub(crate) async fn credit_payment_with(
        &self,
        conn: &mut AnyConnection,
        now: i64,
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
        if amount_minor <= 0 {
            return Err(crate::Error::invalid("amount_minor", "a payment must be positive").into());
        }
        let tenant = lock_user(conn, now, user_id).await?;
        let (key, fingerprint) = topup_key(user_id, amount_minor, currency, payment_ref);
        if let Some(p) = existing(conn, &key, &fingerprint).await? {
            return Ok(p);
        }
        let p = post(
            conn,
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
            &transfer(SYSTEM_DEPOSITS, cash_account(user_id), amount_minor, None),
        )
        .await?;
        self.reassess(conn, now, user_id, &tenant, Cause::Credit)
            .await?;
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
            &transfer(
                SYSTEM_ADJUSTMENTS,
                cash_account(user_id),
                amount_minor,
                None,
            ),
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
            &transfer(cash_account(user_id), SYSTEM_REFUNDS, amount_minor, None),
        )
        .await?;
        self.reassess(&mut tx, now, user_id, &tenant, Cause::Debit)
            .await?;
        tx.commit().await?;
        Ok(p)
    }
}

/// A user's refund that the gateway later reported as not made.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FailedRefund<'a> {
    pub(crate) user_id: &'a str,
    /// The gateway's refund id (`re_…`).
    pub(crate) refund_id: &'a str,
    pub(crate) amount_minor: i64,
    /// The refund request's key: the ledger posted it as `refund:{request_key}`.
    pub(crate) request_key: &'a str,
    /// `failed` or `canceled`, for the memo.
    pub(crate) status: &'a str,
}

impl Ledger {
    /// Gives a failed refund's credit back (refunds → cash) on the caller's transaction,
    /// once per gateway refund (key `refund-reversal:{refund id}`), as a new `refund`
    /// transaction that names the refund and the posting it corrects; entries are never
    /// changed. Returns `None` while the request's own posting (`refund:{request_key}`)
    /// does not exist yet: nothing was taken, so nothing is given back (the request
    /// corrects itself after it posts). Takes the user's lock first.
    pub(crate) async fn reverse_refund_with(
        &self,
        conn: &mut AnyConnection,
        now: i64,
        r: FailedRefund<'_>,
    ) -> Result<Option<Posted>> {
        if r.amount_minor <= 0 {
            return Err(crate::Error::invalid("amount_minor", "a refund must be positive").into());
        }
        let tenant = lock_user(conn, now, r.user_id).await?;
        let original: Option<(String,)> = sqlx::query_as(
            "SELECT id FROM ledger_transactions WHERE idempotency_key = $1 AND user_id = $2 AND kind = 'refund'",
        )
        .bind(format!("refund:{}", r.request_key))
        .bind(r.user_id)
        .fetch_optional(&mut *conn)
        .await?;
        let Some((original,)) = original else {
            return Ok(None);
        };
        let key = format!("refund-reversal:{}", r.refund_id);
        let fingerprint = format!("refund-reversal|{}|{}", r.user_id, r.amount_minor);
        if let Some(p) = existing(conn, &key, &fingerprint).await? {
            return Ok(Some(p));
        }
        let memo = format!(
            "refund {} {} at the gateway: credit given back (corrects {original})",
            r.refund_id, r.status
        );
        let p = post(
            conn,
            now,
            &Header {
                key,
                fingerprint,
                kind: TxKind::Refund,
                user_id: r.user_id,
                allocation_id: None,
                reference: Some(r.refund_id),
                actor: "payments",
                memo: Some(&memo),
            },
            &transfer(
                SYSTEM_REFUNDS,
                cash_account(r.user_id),
                r.amount_minor,
                None,
            ),
        )
        .await?;
        self.reassess(conn, now, r.user_id, &tenant, Cause::Credit)
            .await?;
        Ok(Some(p))
    }
}

/// Takes a user's ledger lock on the caller's transaction (the lock every posting for the
/// user takes first), so a caller that also writes other rows takes the locks in the
/// ledger's order.
pub(crate) async fn lock_account(conn: &mut AnyConnection, now: i64, user_id: &str) -> Result<()> {
    lock_user(conn, now, user_id).await.map(|_| ())
}

/// The ledger idempotency key and fingerprint of a top-up credit.
fn topup_key(
    user_id: &str,
    amount_minor: i64,
    currency: &str,
    payment_ref: &str,
) -> (String, String) {
    (
        format!("topup:{payment_ref}"),
        format!("topup|{user_id}|{amount_minor}|{currency}"),
    )
}
