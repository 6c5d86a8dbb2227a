//! Refunds of unused prepaid credit through the gateway: Stripe Refunds (or the sandbox
//! gateway's) against the user's paid top-up PaymentIntents, newest first.
//!
//! # Invariants
//! - Each gateway refund is made with the idempotency key
//!   `gpubroker-refund-{user}-{request key}-{intent}` and recorded once per (intent, request
//!   key): a retried request re-uses what was refunded and only refunds the rest.
//! - An intent is never refunded beyond what it paid (succeeded or pending refunds count).
//! - The caller ([`crate::Broker::refund`]) posts the ledger entry only after the gateway
//!   accepted every refund (`succeeded` or `pending`).

use tracing::{info, instrument};

use super::{gateway_error, Gateway, GatewayError, GatewayKind, NewRefund, Payments};
use crate::accounts::User;
use crate::params::Ctx;
use crate::{Error, Result};

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
        let done: Vec<(String, i64)> = sqlx::query_as(
            "SELECT intent_id, amount_minor FROM payment_refunds WHERE user_id = $1 AND request_key = $2 \
             AND status IN ('succeeded', 'pending')",
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
                "INSERT INTO payment_refunds (id, user_id, gateway, intent_id, amount_minor, request_key, status, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (intent_id, request_key) DO NOTHING",
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
}
