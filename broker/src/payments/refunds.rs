//! Refunds of unused prepaid credit through the gateway: Stripe Refunds (or the sandbox
//! gateway's) against the user's paid top-up PaymentIntents, newest first; and what a
//! refund's later status (`refund.updated`, `refund.failed`, `charge.refund.updated`) does.
//!
//! # Invariants
//! - Each gateway refund is made with the idempotency key
//!   `gpubroker-refund-{user}-{request key}-{intent}` and recorded once per (intent, request
//!   key): a retried request re-uses what was refunded (whatever became of it) and only
//!   refunds the rest. A failed refund is not retried under the same key; a new request
//!   (new key) may refund that credit again.
//! - An intent is never refunded beyond what it paid (succeeded or pending refunds count).
//! - The caller ([`crate::Broker::refund`]) posts the ledger entry only after the gateway
//!   accepted every refund (`succeeded` or `pending`).
//! - A refund the gateway later reports `failed` or `canceled` gets one correcting ledger
//!   transaction (key `refund-reversal:{refund id}`) that gives its amount back, whichever
//!   event says so and however often; the row's status moves once (a conditional UPDATE),
//!   audited (`refund.failed` / `refund.canceled`, then `refund.reversed`) and published
//!   (`refund.failed`). `succeeded` only moves the status. If the failure arrives before
//!   the request's own posting, the request corrects it right after posting
//!   ([`Payments::correct_failed_refunds`]).
//! - The user's ledger lock is taken before the refund row is written, on both paths, so
//!   they serialize in one order.

use serde_json::json;
use sqlx::AnyConnection;
use tracing::{info, instrument, warn};

use super::events::{RefundChange, RefundFacts, RefundStatus};
use super::{
    gateway_error, Decision, EventStatus, Gateway, GatewayError, GatewayKind, NewRefund, Payments,
};
use crate::accounts::User;
use crate::audit::{self, AuditEntry};
use crate::ledger::{FailedRefund, Posted};
use crate::params::Ctx;
use crate::{Error, Result};

/// A refund we recorded.
struct RefundRow {
    id: String,
    user_id: String,
    intent_id: String,
    amount_minor: i64,
    request_key: String,
    status: RefundStatus,
}

const REFUND_COLUMNS: &str = "id, user_id, intent_id, amount_minor, request_key, status";

fn refund_of(r: (String, String, String, i64, String, String)) -> Result<RefundRow> {
    let status = RefundStatus::parse(&r.5)
        .ok_or_else(|| Error::Internal(format!("stored refund {} has a bad status", r.0)))?;
    Ok(RefundRow {
        id: r.0,
        user_id: r.1,
        intent_id: r.2,
        amount_minor: r.3,
        request_key: r.4,
        status,
    })
}

/// One refund to make: (intent, its gateway, amount).
type Slice = (String, GatewayKind, i64);

impl Payments {
    /// How much of `amount_minor` the user's paid top-ups within the refund window can take
    /// back through the gateway, as (already refunded under `request_key`, slices to do).
    async fn refund_slices(
        &self,
        user: &User,
        amount_minor: i64,
        request_key: &str,
    ) -> Result<(i64, Vec<Slice>)> {
        // Every refund this request made, whatever became of it: a failed one is corrected
        // in the ledger, never made again under the same key.
        let done: Vec<(String, i64)> = sqlx::query_as(
            "SELECT intent_id, amount_minor FROM payment_refunds WHERE user_id = $1 AND request_key = $2",
        )
        .bind(&user.id)
        .bind(request_key)
        .fetch_all(&self.db.pool)
        .await?;
        let covered: i64 = done.iter().map(|(_, a)| a).sum();
        let days = self
            .params
            .int(
                crate::ledger::REFUND_WINDOW,
                Ctx {
                    tenant_id: &user.tenant_id,
                    user_id: Some(&user.id),
                },
            )
            .await?;
        let since = self.clock.now_ms() - days.saturating_mul(86_400_000);
        let intents: Vec<(String, String, i64, i64)> = sqlx::query_as(
            "SELECT i.id, i.gateway, i.amount_minor, \
             COALESCE(CAST((SELECT SUM(r.amount_minor) FROM payment_refunds r WHERE r.intent_id = i.id \
               AND r.status IN ('succeeded', 'pending')) AS BIGINT), 0) \
             FROM payment_intents i WHERE i.user_id = $1 AND i.kind = 'payment' AND i.status = 'succeeded' \
             AND i.updated_at >= $2 ORDER BY i.updated_at DESC, i.id DESC",
        )
        .bind(&user.id)
        .bind(since)
        .fetch_all(&self.db.pool)
        .await?;
        let mut left = (amount_minor - covered).max(0);
        let mut slices = Vec::new();
        for (id, gateway, paid, refunded) in intents {
            if left == 0 {
                break;
            }
            if done.iter().any(|(d, _)| *d == id) {
                continue;
            }
            let take = left.min(paid - refunded);
            if take <= 0 {
                continue;
            }
            let gateway = GatewayKind::parse(&gateway)
                .ok_or_else(|| Error::Internal(format!("intent {id} has a bad gateway")))?;
            slices.push((id, gateway, take));
            left -= take;
        }
        Ok((covered, slices))
    }

    /// What the gateway can refund of `amount_minor` now for this request (what was refunded
    /// under `request_key` already plus what the top-ups can still take).
    pub async fn refundable_through_gateway(
        &self,
        user: &User,
        amount_minor: i64,
        request_key: &str,
    ) -> Result<(i64, i64)> {
        let (covered, slices) = self.refund_slices(user, amount_minor, request_key).await?;
        Ok((covered, covered + slices.iter().map(|s| s.2).sum::<i64>()))
    }

    /// Refunds `amount_minor` of the user's paid top-ups through their gateways (newest
    /// first; idempotent per `request_key`). Returns how much the gateways refunded for this
    /// request in all (less than asked when the top-ups cannot cover it).
    #[instrument(skip_all, fields(user = %user.id, amount = amount_minor))]
    pub async fn refund_topups(
        &self,
        user: &User,
        amount_minor: i64,
        request_key: &str,
    ) -> Result<i64> {
        let (mut covered, slices) = self.refund_slices(user, amount_minor, request_key).await?;
        for (intent_id, kind, amount) in slices {
            let gateway: std::sync::Arc<dyn Gateway> = match kind {
                GatewayKind::Sandbox => std::sync::Arc::clone(&self.sandbox),
                GatewayKind::Stripe => self.stripe.clone().ok_or(Error::PaymentsUnavailable(
                    "the payment is at Stripe and no Stripe key is configured",
                ))?,
            };
            let r = gateway
                .refund(&NewRefund {
                    payment_intent_id: &intent_id,
                    user_id: &user.id,
                    amount_minor: amount,
                    idempotency_key: &format!(
                        "gpubroker-refund-{}-{request_key}-{intent_id}",
                        user.id
                    ),
                })
                .await
                .map_err(gateway_error)?;
            let status = match r.status.as_str() {
                "succeeded" => "succeeded",
                "pending" | "requires_action" => "pending",
                other => {
                    return Err(gateway_error(GatewayError::Rejected(format!(
                        "refund {} of {intent_id} is {other}",
                        r.id
                    ))))
                }
            };
            sqlx::query(
                "INSERT INTO payment_refunds (id, user_id, gateway, intent_id, amount_minor, request_key, status, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) ON CONFLICT (intent_id, request_key) DO NOTHING",
            )
            .bind(&r.id)
            .bind(&user.id)
            .bind(kind.as_str())
            .bind(&intent_id)
            .bind(amount)
            .bind(request_key)
            .bind(status)
            .bind(self.clock.now_ms())
            .execute(&self.db.pool)
            .await?;
            info!(refund = %r.id, intent = %intent_id, amount, status, "refunded at the gateway");
            covered += amount;
        }
        Ok(covered)
    }

    async fn refund_by_id(&self, conn: &mut AnyConnection, id: &str) -> Result<Option<RefundRow>> {
        let row: Option<(String, String, String, i64, String, String)> = sqlx::query_as(&format!(
            "SELECT {REFUND_COLUMNS} FROM payment_refunds WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
        row.map(refund_of).transpose()
    }

    /// Gives a failed or canceled refund's credit back, once, on the caller's transaction
    /// (the user's lock is taken first), and notes the correcting transaction on the row.
    /// `None` while the request has not posted its refund yet.
    async fn reverse_with(
        &self,
        tx: &mut AnyConnection,
        now: i64,
        row: &RefundRow,
        status: RefundStatus,
    ) -> Result<Option<Posted>> {
        let posted = self
            .ledger
            .reverse_refund_with(
                tx,
                now,
                FailedRefund {
                    user_id: &row.user_id,
                    refund_id: &row.id,
                    amount_minor: row.amount_minor,
                    request_key: &row.request_key,
                    status: status.as_str(),
                },
            )
            .await
            .map_err(Error::from)?;
        let Some(p) = posted else {
            return Ok(None);
        };
        let n = sqlx::query(
            "UPDATE payment_refunds SET reversal_transaction_id = $2, updated_at = $3 \
             WHERE id = $1 AND reversal_transaction_id IS NULL",
        )
        .bind(&row.id)
        .bind(&p.transaction_id)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 1 {
            let tenant = super::tenant_of(tx, &row.user_id).await?;
            audit::record(
                tx,
                now,
                AuditEntry {
                    tenant_id: Some(&tenant),
                    actor: "payments",
                    action: "refund.reversed",
                    subject: &format!("refund:{}", row.id),
                    before: None,
                    after: Some(&p.transaction_id),
                    reason: Some(&format!(
                        "{} cents given back to {}",
                        row.amount_minor,
                        crate::ledger::cash_account(&row.user_id)
                    )),
                },
            )
            .await?;
            info!(refund = %row.id, transaction = %p.transaction_id, amount = row.amount_minor, "failed refund reversed in the ledger");
        }
        Ok(Some(p))
    }

    /// A refund event on the webhook's transaction: `succeeded` settles a pending refund;
    /// `failed` or `canceled` marks it so (once) and gives its credit back (once). A refund
    /// we did not make is ignored; one whose amount or currency differs from ours is
    /// rejected and flagged.
    pub(super) async fn apply_refund(
        &self,
        tx: &mut AnyConnection,
        now: i64,
        f: &RefundFacts,
    ) -> Result<Decision> {
        let Some(reported) = RefundStatus::parse(&f.status) else {
            return Ok(Decision {
                status: EventStatus::Rejected,
                ..Decision::ignore(format!("unknown refund status {}", f.status))
            });
        };
        let Some(row) = self.refund_by_id(tx, &f.refund_id).await? else {
            return Ok(Decision::ignore("not a refund gpubroker made"));
        };
        let about = |d: Decision| Decision {
            intent_id: Some(row.intent_id.clone()),
            user_id: Some(row.user_id.clone()),
            ..d
        };
        let wrong_amount = f.amount_minor.is_some_and(|a| a != row.amount_minor);
        let wrong_currency = f
            .currency
            .as_deref()
            .is_some_and(|c| !c.eq_ignore_ascii_case(crate::ledger::CURRENCY));
        if wrong_amount || wrong_currency {
            return Ok(about(Decision {
                status: EventStatus::Rejected,
                flagged: true,
                ..Decision::ignore(format!(
                    "refund mismatch: the event says {} {}, refund {} was made for {} {}",
                    f.amount_minor.map_or_else(|| "?".into(), |a| a.to_string()),
                    f.currency.as_deref().unwrap_or("?"),
                    row.id,
                    row.amount_minor,
                    crate::ledger::CURRENCY.to_ascii_lowercase()
                ))
            }));
        }
        let change = match row.status.apply(reported) {
            Ok(c) => c,
            Err(why) => return Ok(about(Decision::ignore(why))),
        };
        // The ledger's lock first, as every posting for the user takes it.
        crate::ledger::lock_account(tx, now, &row.user_id)
            .await
            .map_err(Error::from)?;
        match change {
            RefundChange::Settle(to) => {
                let n = sqlx::query(
                    "UPDATE payment_refunds SET status = $2, updated_at = $3 WHERE id = $1 AND status = $4",
                )
                .bind(&row.id)
                .bind(to.as_str())
                .bind(now)
                .bind(row.status.as_str())
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if n == 0 {
                    return Ok(about(Decision::ignore("the refund changed meanwhile")));
                }
                Ok(about(Decision {
                    status: EventStatus::Processed,
                    ..Decision::ignore(format!("refund {}", to.as_str()))
                }))
            }
            RefundChange::Reverse(to) => {
                let n = sqlx::query(
                    "UPDATE payment_refunds SET status = $2, failure_reason = $3, updated_at = $4 \
                     WHERE id = $1 AND status IN ('pending', 'succeeded')",
                )
                .bind(&row.id)
                .bind(to.as_str())
                .bind(f.failure_reason.as_deref())
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if n == 0 {
                    return Ok(about(Decision::ignore("the refund changed meanwhile")));
                }
                let tenant = super::tenant_of(tx, &row.user_id).await?;
                audit::record(
                    tx,
                    now,
                    AuditEntry {
                        tenant_id: Some(&tenant),
                        actor: "payments",
                        action: &format!("refund.{}", to.as_str()),
                        subject: &format!("refund:{}", row.id),
                        before: Some(row.status.as_str()),
                        after: Some(to.as_str()),
                        reason: f.failure_reason.as_deref(),
                    },
                )
                .await?;
                let posted = self.reverse_with(tx, now, &row, to).await?;
                crate::events::append(
                    tx,
                    now,
                    crate::events::NewEvent {
                        tenant_id: &tenant,
                        topic: "refund.failed",
                        subject_id: &row.id,
                        user_id: Some(&row.user_id),
                        payload: &json!({
                            "refund_id": row.id,
                            "intent_id": row.intent_id,
                            "amount_minor": row.amount_minor,
                            "status": to.as_str(),
                            "failure_reason": f.failure_reason,
                            "reversal_transaction_id": posted.as_ref().map(|p| &p.transaction_id),
                        }),
                    },
                )
                .await?;
                warn!(refund = %row.id, status = to.as_str(), reason = ?f.failure_reason, "a refund did not go through");
                let reason = match &posted {
                    Some(_) => format!(
                        "refund {}: {} cents given back to the user",
                        to.as_str(),
                        row.amount_minor
                    ),
                    None => format!(
                        "refund {}: the request has not posted yet; it gives the credit back when it does",
                        to.as_str()
                    ),
                };
                Ok(about(Decision {
                    status: EventStatus::Processed,
                    credited: posted.map(|p| p.transaction_id),
                    ..Decision::ignore(reason)
                }))
            }
        }
    }

    /// Gives back the credit of every refund of this request that failed or was canceled
    /// before the request posted (the webhook found nothing to correct then). Idempotent;
    /// [`crate::Broker::refund`] calls it after posting, so a replay of the request also
    /// finishes a correction an earlier crash left undone.
    #[instrument(skip_all, fields(user = user_id))]
    pub async fn correct_failed_refunds(&self, user_id: &str, request_key: &str) -> Result<()> {
        let rows: Vec<(String, String, String, i64, String, String)> = sqlx::query_as(&format!(
            "SELECT {REFUND_COLUMNS} FROM payment_refunds WHERE user_id = $1 AND request_key = $2 \
             AND status IN ('failed', 'canceled') AND reversal_transaction_id IS NULL"
        ))
        .bind(user_id)
        .bind(request_key)
        .fetch_all(&self.db.pool)
        .await?;
        for r in rows {
            let row = refund_of(r)?;
            let now = self.clock.now_ms();
            let mut tx = self.db.begin().await?;
            self.reverse_with(&mut tx, now, &row, row.status).await?;
            tx.commit().await?;
        }
        Ok(())
    }
}
