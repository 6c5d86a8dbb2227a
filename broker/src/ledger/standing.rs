//! The persisted billing state: re-evaluated after every posting under the user's lock,
//! stored per user, with a `billing.state` event on every change.

use serde_json::json;
use sqlx::AnyConnection;
use tracing::warn;

use super::book::balance_with;
use super::{
    billing, metering, notices, BillingState, Cause, Effect, Ledger, Result, Thresholds,
    LOW_BALANCE, WINDOW,
};
use crate::events::{self, NewEvent};
use crate::mail::{self, Mail, Template};
use crate::params::Ctx;

impl Ledger {
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
    pub(super) async fn reassess(
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
        self.notify(conn, now, user_id, tenant_id, &effects, (credit, burn))
            .await?;
        Ok(to)
    }

    /// Queues the mails a transition's effects ask for (each as its parameter allows), in the
    /// transition's transaction: one message per transition, whatever retries happen.
    async fn notify(
        &self,
        conn: &mut AnyConnection,
        now: i64,
        user_id: &str,
        tenant_id: &str,
        effects: &[Effect],
        (credit, burn): (i64, i64),
    ) -> Result<()> {
        let ctx = Ctx {
            tenant_id,
            user_id: Some(user_id),
        };
        let transition = crate::new_id();
        for effect in effects {
            let Some(n) = notices::notice(*effect, credit, burn) else {
                continue;
            };
            if self.params.get_with(conn, n.param, ctx).await? != serde_json::Value::Bool(true) {
                continue;
            }
            let (email,): (String,) = sqlx::query_as("SELECT email FROM users WHERE id = $1")
                .bind(user_id)
                .fetch_one(&mut *conn)
                .await?;
            // Low balance and depletion have typed templates (text + HTML); the other
            // notices keep their plain text.
            let template = match effect {
                Effect::NotifyLowBalance => {
                    let threshold = self.params.get_with(conn, super::LOW_BALANCE, ctx).await?;
                    Some(Template::LowBalance {
                        balance_minor: credit,
                        threshold_minor: threshold.as_i64().unwrap_or(0),
                        currency: super::CURRENCY.into(),
                        runway_seconds: (burn > 0)
                            .then(|| credit.max(0).saturating_mul(3600) / burn),
                        billing_url: "/billing".into(),
                    })
                }
                Effect::NotifyDepleted => Some(Template::BalanceDepleted {
                    currency: super::CURRENCY.into(),
                    billing_url: "/billing".into(),
                }),
                _ => None,
            };
            let (subject, text, html) = match template {
                Some(t) => {
                    let r = t.render();
                    (r.subject, r.text, r.html)
                }
                None => (n.subject, n.text, n.html),
            };
            mail::enqueue(
                conn,
                now,
                Mail {
                    tenant_id,
                    to: &email,
                    kind: n.kind,
                    subject,
                    text,
                    html,
                    dedupe_key: format!("billing:{user_id}:{}:{transition}", n.kind),
                },
            )
            .await?;
        }
        Ok(())
    }

    /// Allocations the billing state says must go: `ready` or `active` ones of users whose
    /// credit is depleted. [`crate::allocations::Allocations::auto_release`] releases them.
    pub async fn depleted_allocations(&self) -> Result<Vec<String>> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT a.id FROM allocations a JOIN ledger_billing_states s ON s.user_id = a.user_id \
             WHERE s.state = 'depleted' AND a.state IN ('ready', 'active') ORDER BY a.id",
        )
        .fetch_all(&self.db.pool)
        .await?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    /// Whether a user should be sent to billing first: no credit and no live deployment
    /// (the onboarding call to action).
    pub async fn needs_onboarding(&self, user_id: &str) -> Result<bool> {
        let credit = self.balance(user_id).await?.credit_minor();
        if credit > 0 {
            return Ok(false);
        }
        let (live,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM allocations WHERE user_id = $1 AND live = 1")
                .bind(user_id)
                .fetch_one(&self.db.pool)
                .await?;
        Ok(live == 0)
    }
}

/// Cents per hour of the user's started, open meters.
pub(super) async fn burn_with(conn: &mut AnyConnection, user_id: &str) -> Result<i64> {
    let rows: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT price_micro, markup_percent FROM ledger_meters \
         WHERE user_id = $1 AND open = 1 AND started_at IS NOT NULL",
    )
    .bind(user_id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(metering::burn_per_hour_minor(rows))
}
