//! Failover: a deployment whose provider has no capacity (or quota), or fails transiently,
//! before anything was started for it moves to the next-ranked equivalent offer — same GPU
//! model and count, at most `allocation.failover_price_tolerance_percent` dearer than the
//! user's original quote — until `allocation.failover_max_attempts` offers were tried. Every
//! offer tried is one `allocation_attempts` row, so the path is visible on the deployment.

use std::time::Duration;

use providers::{MicroUsd, Offer, OfferId, ProviderError, ProviderId};
use serde::Serialize;
use serde_json::json;
use tracing::info;

use super::{load_with, Allocation, Allocations, State};
use crate::events::{self, NewEvent};
use crate::jobs::Outcome;
use crate::params::{self, Ctx};
use crate::{Error, Result};

/// Where failover finds its next offer.
pub trait Alternatives: Send + Sync {
    /// Deployable offers with the allocation's GPU model and count, best-ranked first.
    fn equivalent(&self, a: &Allocation) -> Vec<Offer>;
}

/// No alternatives (tests, and worlds without an index).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoAlternatives;

impl Alternatives for NoAlternatives {
    fn equivalent(&self, _a: &Allocation) -> Vec<Offer> {
        Vec::new()
    }
}

/// Why an offer was left.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptOutcome {
    NoCapacity,
    NoQuota,
    Transient,
}

impl AttemptOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptOutcome::NoCapacity => "no_capacity",
            AttemptOutcome::NoQuota => "no_quota",
            AttemptOutcome::Transient => "transient",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [Self::NoCapacity, Self::NoQuota, Self::Transient]
            .into_iter()
            .find(|o| o.as_str() == s)
    }

    fn of(e: &ProviderError) -> Self {
        match e {
            ProviderError::NoCapacity => AttemptOutcome::NoCapacity,
            ProviderError::NoQuota => AttemptOutcome::NoQuota,
            _ => AttemptOutcome::Transient,
        }
    }
}

/// One offer a deployment tried and left.
#[derive(Debug, Clone, Serialize)]
pub struct Attempt {
    pub seq: i64,
    pub offer_id: OfferId,
    pub provider: ProviderId,
    pub price_per_hour: MicroUsd,
    pub outcome: AttemptOutcome,
    pub error: String,
    pub at: i64,
}

/// The dearest price failover accepts: the original quote plus the tolerance (integer math,
/// rounded down).
pub fn price_cap(original: MicroUsd, tolerance_percent: i64) -> MicroUsd {
    let tol = i128::from(tolerance_percent.max(0));
    let cap = i128::from(original.0) * (100 + tol) / 100;
    MicroUsd(i64::try_from(cap).unwrap_or(i64::MAX))
}

/// The first acceptable offer among `candidates` (already best-first).
pub fn next_offer<'a>(
    candidates: &'a [Offer],
    current: &OfferId,
    tried: &[String],
    cap: MicroUsd,
) -> Option<&'a Offer> {
    candidates.iter().find(|o| {
        &o.id != current
            && !tried.iter().any(|t| t == &o.id.0)
            && o.available > 0
            && o.price_per_hour.0 > 0
            && o.price_per_hour <= cap
    })
}

impl Allocations {
    /// The offers a deployment tried and left, in order.
    pub async fn attempts(&self, allocation_id: &str) -> Result<Vec<Attempt>> {
        let rows: Vec<(i64, String, String, i64, String, String, i64)> = sqlx::query_as(
            "SELECT seq, offer_id, provider, price_micro, outcome, error, at FROM allocation_attempts \
             WHERE allocation_id = $1 ORDER BY seq",
        )
        .bind(allocation_id)
        .fetch_all(&self.db.pool)
        .await?;
        rows.into_iter()
            .map(|(seq, offer, provider, price, outcome, error, at)| {
                Ok(Attempt {
                    seq,
                    offer_id: OfferId(offer),
                    provider: ProviderId(provider),
                    price_per_hour: MicroUsd(price),
                    outcome: AttemptOutcome::parse(&outcome)
                        .ok_or_else(|| Error::Internal(format!("unknown outcome {outcome}")))?,
                    error,
                    at,
                })
            })
            .collect()
    }

    /// Leaves the current offer after `err`: records the attempt and moves to the next
    /// equivalent offer, or fails the deployment (no capacity anywhere acceptable), or, for a
    /// transient error with nowhere to go, retries the same offer with backoff.
    pub(super) async fn fail_over(
        &self,
        a: &Allocation,
        err: &ProviderError,
        alternatives: &dyn Alternatives,
    ) -> Result<Outcome> {
        let outcome = AttemptOutcome::of(err);
        let ctx = Ctx {
            tenant_id: &a.tenant_id,
            user_id: Some(&a.user_id),
        };
        let max = self.params.int(params::FAILOVER_MAX_ATTEMPTS, ctx).await?;
        let tolerance = self.params.int(params::FAILOVER_TOLERANCE, ctx).await?;
        let candidates = alternatives.equivalent(a);
        let now = self.clock.now_ms();
        let mut tx = self.db.begin().await?;
        let a = load_with(&mut tx, &a.id).await?;
        if a.state != State::Provisioning || a.instance_id.is_some() {
            // Changed meanwhile (another run got further): look again.
            return Ok(Outcome::Wait(Duration::ZERO));
        }
        let tried: Vec<(String, i64)> = sqlx::query_as(
            "SELECT offer_id, price_micro FROM allocation_attempts WHERE allocation_id = $1 ORDER BY seq",
        )
        .bind(&a.id)
        .fetch_all(&mut *tx)
        .await?;
        let original = tried
            .first()
            .map_or(a.quoted_price_per_hour, |(_, p)| MicroUsd(*p));
        let tried_ids: Vec<String> = tried.iter().map(|(o, _)| o.clone()).collect();
        let seq = i64::try_from(tried.len()).unwrap_or(i64::MAX) + 1;
        let next = (seq < max)
            .then(|| {
                next_offer(
                    &candidates,
                    &a.offer_id,
                    &tried_ids,
                    price_cap(original, tolerance),
                )
            })
            .flatten();
        if next.is_none() && outcome == AttemptOutcome::Transient {
            // Nowhere to go: the same offer again, with the job's backoff.
            return Ok(Outcome::Retry(err.to_string()));
        }
        sqlx::query(
            "INSERT INTO allocation_attempts (allocation_id, seq, offer_id, provider, price_micro, outcome, error, at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&a.id)
        .bind(seq)
        .bind(&a.offer_id.0)
        .bind(&a.provider.0)
        .bind(a.quoted_price_per_hour.0)
        .bind(outcome.as_str())
        .bind(err.to_string())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let Some(next) = next else {
            tx.commit().await?;
            let reason = if seq == 1 {
                "the provider has no capacity left for this offer".to_string()
            } else {
                format!("no capacity at any of the {seq} equivalent offers tried")
            };
            self.fail(&a, &reason).await?;
            return Ok(Outcome::Done);
        };
        sqlx::query(
            "UPDATE allocations SET offer_id = $1, provider = $2, quoted_price_micro = $3, updated_at = $4 \
             WHERE id = $5 AND state = 'provisioning' AND instance_id IS NULL",
        )
        .bind(&next.id.0)
        .bind(&next.provider.0)
        .bind(next.price_per_hour.0)
        .bind(now)
        .bind(&a.id)
        .execute(&mut *tx)
        .await?;
        // Billing follows the offer actually deployed (the meter has not started yet).
        sqlx::query(
            "UPDATE ledger_meters SET price_micro = $1, updated_at = $2 WHERE allocation_id = $3 AND started_at IS NULL",
        )
        .bind(next.price_per_hour.0)
        .bind(now)
        .bind(&a.id)
        .execute(&mut *tx)
        .await?;
        events::append(
            &mut tx,
            now,
            NewEvent {
                tenant_id: &a.tenant_id,
                topic: "deployment.failover",
                subject_id: &a.id,
                user_id: Some(&a.user_id),
                payload: &json!({
                    "id": a.id,
                    "from_offer": a.offer_id,
                    "to_offer": next.id,
                    "outcome": outcome.as_str(),
                    "attempt": seq,
                }),
            },
        )
        .await?;
        tx.commit().await?;
        info!(allocation = %a.id, from = %a.offer_id, to = %next.id, "failed over to the next equivalent offer");
        Ok(Outcome::Wait(Duration::ZERO))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_is_the_original_quote_plus_the_tolerance_rounded_down() {
        assert_eq!(price_cap(MicroUsd(1_000_000), 10), MicroUsd(1_100_000));
        assert_eq!(price_cap(MicroUsd(999), 10), MicroUsd(1098));
        assert_eq!(price_cap(MicroUsd(1_000), 0), MicroUsd(1_000));
        assert_eq!(price_cap(MicroUsd(i64::MAX), 100), MicroUsd(i64::MAX));
    }
}
