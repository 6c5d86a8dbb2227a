//! Plan subscriptions (PRO, ENTERPRISE; monthly or annual) at the gateway, and how their
//! events move the user's plan.
//!
//! # Invariants
//! - The API only asks the gateway to create or cancel a subscription; the user's plan (and
//!   so their role) changes only in the signed, deduped webhook path
//!   ([`Payments::handle_webhook`]), through [`crate::plans::set_plan_with`] (audited).
//! - The plan is a function of the user's subscriptions ([`plan_for`]): the highest plan of
//!   those `active`, `trialing` or `past_due` (a failed renewal keeps the plan while Stripe
//!   retries; the failure is shown to the user), else FREE.
//! - Events about one subscription apply in Stripe's `created` order ([`supersedes`]); an
//!   older event, or any event after the subscription ended, changes nothing.
//! - Prices: in SANDBOX from `plans.<plan>.{monthly,annual}_price_minor`; with Stripe from
//!   the recurring price whose lookup key is `gpubroker_<plan>_<interval>`, cached for
//!   `payments.price_cache_seconds`.

use serde::Serialize;
use serde_json::{json, Value};
use sqlx::AnyConnection;
use tracing::{info, instrument};

use super::events::{InvoiceFacts, InvoiceOutcome, SubscriptionFacts};
use super::{
    gateway_error, Decision, EventStatus, Gateway, GatewayKind, GatewayPrice, NewSubscription,
    Payments, PriceSource, WebhookOutcome, INTERVAL_METADATA, PLAN_METADATA, USER_METADATA,
};
use crate::accounts::User;
use crate::mail::{self, Template};
use crate::params::Ctx;
use crate::plans::{self, Plan};
use crate::{Error, Result};

/// Parameter: how long Stripe prices found by lookup key are reused, seconds.
pub const PRICE_CACHE_TTL: &str = "payments.price_cache_seconds";

/// How often a subscription renews.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Interval {
    Month,
    Year,
}

impl Interval {
    pub const ALL: [Interval; 2] = [Interval::Month, Interval::Year];

    pub fn as_str(self) -> &'static str {
        match self {
            Interval::Month => "month",
            Interval::Year => "year",
        }
    }

    pub fn parse(s: &str) -> Option<Interval> {
        Interval::ALL.into_iter().find(|i| i.as_str() == s)
    }

    /// Parses an interval or says which exist.
    pub fn parse_field(field: &str, s: &str) -> Result<Interval> {
        Interval::parse(s)
            .ok_or_else(|| Error::invalid_choice(field, s, vec!["month".into(), "year".into()]))
    }

    fn price_fact(self) -> &'static str {
        match self {
            Interval::Month => "monthly_price_minor",
            Interval::Year => "annual_price_minor",
        }
    }

    fn seconds(self) -> i64 {
        match self {
            Interval::Month => 30 * 86_400,
            Interval::Year => 365 * 86_400,
        }
    }
}

/// Stripe's subscription statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SubscriptionStatus {
    Incomplete,
    IncompleteExpired,
    Trialing,
    Active,
    PastDue,
    Canceled,
    Unpaid,
    Paused,
}

impl SubscriptionStatus {
    const ALL: [SubscriptionStatus; 8] = [
        SubscriptionStatus::Incomplete,
        SubscriptionStatus::IncompleteExpired,
        SubscriptionStatus::Trialing,
        SubscriptionStatus::Active,
        SubscriptionStatus::PastDue,
        SubscriptionStatus::Canceled,
        SubscriptionStatus::Unpaid,
        SubscriptionStatus::Paused,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SubscriptionStatus::Incomplete => "incomplete",
            SubscriptionStatus::IncompleteExpired => "incomplete_expired",
            SubscriptionStatus::Trialing => "trialing",
            SubscriptionStatus::Active => "active",
            SubscriptionStatus::PastDue => "past_due",
            SubscriptionStatus::Canceled => "canceled",
            SubscriptionStatus::Unpaid => "unpaid",
            SubscriptionStatus::Paused => "paused",
        }
    }

    pub fn parse(s: &str) -> Option<SubscriptionStatus> {
        SubscriptionStatus::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
    }

    /// Whether a subscription in this status gives its plan.
    pub fn grants_plan(self) -> bool {
        matches!(
            self,
            SubscriptionStatus::Active | SubscriptionStatus::Trialing | SubscriptionStatus::PastDue
        )
    }

    /// Ended for good: Stripe never revives a canceled or expired subscription.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            SubscriptionStatus::Canceled | SubscriptionStatus::IncompleteExpired
        )
    }
}

/// Whether an event created at `event_at` (unix seconds) may move a subscription last moved
/// by an event created at `stored_at`, or why not (pure).
pub fn supersedes(
    stored: SubscriptionStatus,
    stored_at: i64,
    event_at: i64,
) -> std::result::Result<(), &'static str> {
    if stored.is_final() {
        return Err("the subscription has ended; a late event changes nothing");
    }
    if event_at < stored_at {
        return Err("older than the subscription event already applied");
    }
    Ok(())
}

/// Whether an invoice event created at `event_at` (unix seconds) changes the failure shown
/// on its subscription (pure), given the `created` times of the last paid-invoice event and
/// of the failure shown: a failure older than the last payment is stale (it is neither shown
/// nor mailed), and a payment older than the failure shown does not clear it. Events
/// redelivered after an outage arrive in any order.
pub fn invoice_applies(
    outcome: &InvoiceOutcome,
    event_at: i64,
    last_paid_at: Option<i64>,
    failure_shown_at: Option<i64>,
) -> bool {
    match outcome {
        InvoiceOutcome::Paid => failure_shown_at.is_none_or(|f| event_at >= f),
        InvoiceOutcome::PaymentFailed { .. } => last_paid_at.is_none_or(|p| event_at >= p),
    }
}

/// The plan a user's subscriptions give (pure): the highest among those that grant one.
pub fn plan_for(subscriptions: &[(Plan, SubscriptionStatus)]) -> Plan {
    subscriptions
        .iter()
        .filter(|(_, s)| s.grants_plan())
        .map(|(p, _)| *p)
        .max()
        .unwrap_or(Plan::Free)
}

/// The last failed payment of a subscription's invoice (Stripe retries it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubscriptionFailure {
    pub message: String,
    /// When we learnt of it, ms.
    pub at: i64,
    /// The invoice whose payment failed.
    pub invoice_id: Option<String>,
    /// When Stripe tries again (unix seconds); none when no retry is scheduled.
    pub next_attempt: Option<i64>,
}

/// A subscription as the user sees it.
#[derive(Debug, Clone, Serialize)]
pub struct Subscription {
    pub id: String,
    pub gateway: GatewayKind,
    pub plan: Plan,
    pub interval: Interval,
    pub price_id: String,
    pub amount_minor: i64,
    pub currency: &'static str,
    pub status: SubscriptionStatus,
    /// End of the paid period, unix seconds, when known.
    pub current_period_end: Option<i64>,
    pub last_failure: Option<SubscriptionFailure>,
    pub created_at: i64,
    pub updated_at: i64,
    #[serde(skip)]
    pub user_id: String,
    #[serde(skip)]
    pub last_event_at: i64,
}

const SUB_COLUMNS: &str =
    "id, user_id, gateway, plan, billing_interval, price_id, amount_minor, status, \
     current_period_end, last_event_at, failure_message, failure_at, created_at, updated_at, \
     failure_invoice_id, failure_next_attempt";

type SubRow = (
    String,
    String,
    String,
    String,
    String,
    String,
    i64,
    String,
    Option<i64>,
    i64,
    Option<String>,
    Option<i64>,
    i64,
    i64,
    Option<String>,
    Option<i64>,
);

fn sub_of(r: SubRow) -> Result<Subscription> {
    let bad = |what: &str| Error::Internal(format!("stored subscription {} has a bad {what}", r.0));
    Ok(Subscription {
        gateway: GatewayKind::parse(&r.2).ok_or_else(|| bad("gateway"))?,
        plan: Plan::parse(&r.3).ok_or_else(|| bad("plan"))?,
        interval: Interval::parse(&r.4).ok_or_else(|| bad("interval"))?,
        status: SubscriptionStatus::parse(&r.7).ok_or_else(|| bad("status"))?,
        last_failure: match (r.10, r.11) {
            (Some(message), Some(at)) => Some(SubscriptionFailure {
                message,
                at,
                invoice_id: r.14,
                next_attempt: r.15,
            }),
            _ => None,
        },
        id: r.0,
        user_id: r.1,
        price_id: r.5,
        amount_minor: r.6,
        currency: crate::ledger::CURRENCY,
        current_period_end: r.8,
        last_event_at: r.9,
        created_at: r.12,
        updated_at: r.13,
    })
}

fn lookup_key(plan: Plan, interval: Interval) -> String {
    format!("gpubroker_{}_{}", plan.as_str(), interval.as_str())
}

/// `2026-11-23` for unix seconds (UTC).
fn day(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| secs.to_string())
}

impl Payments {
    async fn sub_by_id(&self, conn: &mut AnyConnection, id: &str) -> Result<Option<Subscription>> {
        let row: Option<SubRow> = sqlx::query_as(&format!(
            "SELECT {SUB_COLUMNS} FROM payment_subscriptions WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
        row.map(sub_of).transpose()
    }

    /// The user's subscriptions, newest first.
    pub async fn subscriptions(&self, user_id: &str) -> Result<Vec<Subscription>> {
        let rows: Vec<SubRow> = sqlx::query_as(&format!(
            "SELECT {SUB_COLUMNS} FROM payment_subscriptions WHERE user_id = $1 ORDER BY created_at DESC, id DESC"
        ))
        .bind(user_id)
        .fetch_all(&self.db.pool)
        .await?;
        rows.into_iter().map(sub_of).collect()
    }

    /// The user's newest subscription that has not ended, if any.
    pub async fn current_subscription(&self, user_id: &str) -> Result<Option<Subscription>> {
        Ok(self
            .subscriptions(user_id)
            .await?
            .into_iter()
            .find(|s| !s.status.is_final()))
    }

    /// The price of `plan` per `interval` at `gateway`: the parameters in SANDBOX, Stripe's
    /// price with the lookup key `gpubroker_<plan>_<interval>` (cached) otherwise.
    pub async fn plan_price(
        &self,
        gateway: &dyn Gateway,
        tenant_id: &str,
        plan: Plan,
        interval: Interval,
    ) -> Result<GatewayPrice> {
        let key = lookup_key(plan, interval);
        if gateway.kind() == GatewayKind::Sandbox {
            let amount = self
                .params
                .int(
                    &format!(
                        "{}{}.{}",
                        crate::params::PLAN_PREFIX,
                        plan.as_str(),
                        interval.price_fact()
                    ),
                    Ctx {
                        tenant_id,
                        user_id: None,
                    },
                )
                .await?;
            return Ok(GatewayPrice {
                price_id: format!("price_sbx_{}_{}", plan.as_str(), interval.as_str()),
                lookup_key: key,
                amount_minor: amount,
                currency: crate::ledger::CURRENCY.to_ascii_lowercase(),
                source: PriceSource::Price,
            });
        }
        let now = self.clock.now_ms();
        let ttl_ms = self
            .params
            .int(
                PRICE_CACHE_TTL,
                Ctx {
                    tenant_id: crate::tenants::DEFAULT_TENANT,
                    user_id: None,
                },
            )
            .await?
            .saturating_mul(1000);
        {
            let cache = self.prices.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((p, at)) = cache.get(&key) {
                if now - at < ttl_ms {
                    return Ok(p.clone());
                }
            }
        }
        let keys: Vec<String> = Plan::ALL
            .into_iter()
            .filter(|p| *p != Plan::Free)
            .flat_map(|p| Interval::ALL.into_iter().map(move |i| lookup_key(p, i)))
            .collect();
        let found = gateway.prices(&keys).await.map_err(gateway_error)?;
        let mut cache = self.prices.lock().unwrap_or_else(|e| e.into_inner());
        for p in found {
            cache.insert(p.lookup_key.clone(), (p, now));
        }
        cache.get(&key).map(|(p, _)| p.clone()).ok_or_else(|| {
            Error::PaymentsUnavailable(
                "no active Stripe price carries the plan's lookup key (see OPERATIONS.md, Stripe set-up)",
            )
        })
    }

    /// Subscribes the user to `plan` per `interval` at their tenant's gateway, or returns the
    /// current subscription when it is that already (`Ok((sub, false))`). A different
    /// current subscription is canceled once the new one is active (a plan change; no
    /// proration). The plan itself changes when the gateway's event arrives.
    #[instrument(skip_all, fields(user = %user.id, plan = plan.as_str(), interval = interval.as_str()))]
    pub async fn subscribe(
        &self,
        user: &User,
        plan: Plan,
        interval: Interval,
    ) -> Result<(Subscription, bool)> {
        if plan == Plan::Free {
            return Err(Error::invalid_choice(
                "plan",
                plan.as_str(),
                vec!["pro".into(), "enterprise".into()],
            ));
        }
        let current = self.current_subscription(&user.id).await?;
        if let Some(c) = &current {
            if c.plan == plan && c.interval == interval {
                return Ok((c.clone(), false));
            }
        }
        let gateway = self.gateway_for(&user.tenant_id).await?;
        let price = self
            .plan_price(gateway.as_ref(), &user.tenant_id, plan, interval)
            .await?;
        let customer = self.ensure_customer(user, gateway.as_ref()).await?;
        let (n,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM payment_subscriptions WHERE user_id = $1")
                .bind(&user.id)
                .fetch_one(&self.db.pool)
                .await?;
        let created = gateway
            .create_subscription(&NewSubscription {
                customer_id: &customer,
                user_id: &user.id,
                price: &price,
                plan: plan.as_str(),
                interval: interval.as_str(),
                idempotency_key: &format!("gpubroker-subscription-{}-{n}", user.id),
            })
            .await
            .map_err(gateway_error)?;
        let status =
            SubscriptionStatus::parse(&created.status).unwrap_or(SubscriptionStatus::Incomplete);
        let now = self.clock.now_ms();
        sqlx::query(&format!(
            "INSERT INTO payment_subscriptions ({SUB_COLUMNS}, customer_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, NULL, NULL, $10, $10, NULL, NULL, $11) ON CONFLICT (id) DO NOTHING"
        ))
        .bind(&created.id)
        .bind(&user.id)
        .bind(gateway.kind().as_str())
        .bind(plan.as_str())
        .bind(interval.as_str())
        .bind(&price.price_id)
        .bind(price.amount_minor)
        .bind(status.as_str())
        .bind(created.current_period_end)
        .bind(now)
        .bind(&customer)
        .execute(&self.db.pool)
        .await?;
        info!(subscription = %created.id, status = status.as_str(), "subscription created");
        if gateway.kind() == GatewayKind::Sandbox {
            let now_s = now.div_euclid(1000);
            let object = self.sandbox_subscription_object(
                &created.id,
                "active",
                &customer,
                user,
                plan,
                interval,
                &price,
                now_s + interval.seconds(),
            );
            self.sandbox_deliver("customer.subscription.created", object)
                .await?;
            let invoice = json!({
                "id": format!("in_sbx_{}", uuid::Uuid::new_v4().simple()), "object": "invoice",
                "subscription": created.id, "customer": customer, "status": "paid",
                "number": format!("SBX-{}", uuid::Uuid::new_v4().simple().to_string().get(..8).unwrap_or("0")),
                "amount_paid": price.amount_minor, "amount_due": price.amount_minor, "currency": price.currency,
                "lines": {"object": "list", "data": [{"period": {"start": now_s, "end": now_s + interval.seconds()}}]},
            });
            self.sandbox_deliver("invoice.paid", invoice).await?;
        }
        let fresh = self
            .sub_by_id(&mut *self.db.pool.acquire().await?, &created.id)
            .await?;
        let fresh = fresh.ok_or_else(|| Error::Internal("subscription vanished".into()))?;
        if let Some(old) = current {
            if fresh.status.grants_plan() {
                self.cancel_at_gateway(user, &old).await?;
            }
        }
        Ok((fresh, true))
    }

    /// Cancels the user's current subscription now (no proration). The plan drops to FREE
    /// when the gateway's `customer.subscription.deleted` event arrives.
    #[instrument(skip_all, fields(user = %user.id))]
    pub async fn unsubscribe(&self, user: &User) -> Result<Subscription> {
        let current = self
            .current_subscription(&user.id)
            .await?
            .ok_or(Error::NotFound {
                what: "subscription",
            })?;
        self.cancel_at_gateway(user, &current).await?;
        let fresh = self
            .sub_by_id(&mut *self.db.pool.acquire().await?, &current.id)
            .await?;
        fresh.ok_or_else(|| Error::Internal("subscription vanished".into()))
    }

    async fn cancel_at_gateway(&self, user: &User, sub: &Subscription) -> Result<()> {
        let gateway: std::sync::Arc<dyn Gateway> = match sub.gateway {
            GatewayKind::Sandbox => std::sync::Arc::clone(&self.sandbox),
            GatewayKind::Stripe => self.stripe.clone().ok_or(Error::PaymentsUnavailable(
                "the subscription is at Stripe and no Stripe key is configured",
            ))?,
        };
        let r = gateway
            .cancel_subscription(&sub.id)
            .await
            .map_err(gateway_error)?;
        info!(subscription = %sub.id, status = %r.status, "subscription canceled at the gateway");
        if sub.gateway == GatewayKind::Sandbox {
            let customer = self
                .customer(&user.id, GatewayKind::Sandbox)
                .await?
                .unwrap_or_default();
            let price = GatewayPrice {
                price_id: sub.price_id.clone(),
                lookup_key: lookup_key(sub.plan, sub.interval),
                amount_minor: sub.amount_minor,
                currency: sub.currency.to_ascii_lowercase(),
                source: PriceSource::Price,
            };
            let object = self.sandbox_subscription_object(
                &sub.id,
                "canceled",
                &customer,
                user,
                sub.plan,
                sub.interval,
                &price,
                sub.current_period_end.unwrap_or(0),
            );
            self.sandbox_deliver("customer.subscription.deleted", object)
                .await?;
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn sandbox_subscription_object(
        &self,
        id: &str,
        status: &str,
        customer: &str,
        user: &User,
        plan: Plan,
        interval: Interval,
        price: &GatewayPrice,
        period_end: i64,
    ) -> Value {
        json!({
            "id": id, "object": "subscription", "status": status, "customer": customer,
            "livemode": false, "current_period_end": period_end,
            "metadata": {USER_METADATA: user.id, PLAN_METADATA: plan.as_str(), INTERVAL_METADATA: interval.as_str()},
            "items": {"object": "list", "data": [{
                "object": "subscription_item", "current_period_end": period_end,
                "price": {"id": price.price_id, "object": "price", "unit_amount": price.amount_minor,
                          "currency": price.currency, "recurring": {"interval": interval.as_str()}},
            }]},
        })
    }

    /// SANDBOX: signs an event around `object` and delivers it to the webhook handler.
    pub(super) async fn sandbox_deliver(
        &self,
        kind: &str,
        object: Value,
    ) -> Result<WebhookOutcome> {
        let now_s = self.clock.now_ms().div_euclid(1000);
        let event = json!({
            "id": format!("evt_sbx_{}", uuid::Uuid::new_v4().simple()),
            "object": "event",
            "api_version": "2024-06-20",
            "created": now_s,
            "livemode": false,
            "type": kind,
            "data": {"object": object},
        });
        let body = event.to_string().into_bytes();
        let header = super::signature::header(&self.secret, now_s, &body);
        self.handle_webhook(&body, Some(&header)).await
    }

    /// A subscription event on the webhook's transaction: records it (creating the row from
    /// our metadata when the event beats the API's own insert), then puts the user on the
    /// plan their subscriptions give.
    pub(super) async fn apply_subscription(
        &self,
        tx: &mut AnyConnection,
        now: i64,
        event_at: i64,
        f: &SubscriptionFacts,
    ) -> Result<Decision> {
        let Some(status) = SubscriptionStatus::parse(&f.status) else {
            return Ok(Decision {
                status: EventStatus::Rejected,
                ..Decision::ignore(format!("unknown subscription status {}", f.status))
            });
        };
        if self.sub_by_id(tx, &f.subscription_id).await?.is_none() {
            let (Some(user_id), Some(plan), Some(interval)) = (&f.user_id, &f.plan, &f.interval)
            else {
                return Ok(Decision::ignore("not a subscription gpubroker created"));
            };
            let (Some(plan), Some(interval)) = (Plan::parse(plan), Interval::parse(interval))
            else {
                return Ok(Decision {
                    status: EventStatus::Rejected,
                    flagged: true,
                    ..Decision::ignore("a subscription whose metadata names no paid plan")
                });
            };
            if plan == Plan::Free {
                return Ok(Decision {
                    status: EventStatus::Rejected,
                    flagged: true,
                    ..Decision::ignore("a subscription whose metadata names no paid plan")
                });
            }
            let known: Option<(String,)> = sqlx::query_as("SELECT id FROM users WHERE id = $1")
                .bind(user_id)
                .fetch_optional(&mut *tx)
                .await?;
            if known.is_none() {
                return Ok(Decision {
                    status: EventStatus::Rejected,
                    flagged: true,
                    ..Decision::ignore("a subscription for an unknown user")
                });
            }
            let gateway = if f.subscription_id.starts_with("sub_sbx_") {
                GatewayKind::Sandbox
            } else {
                GatewayKind::Stripe
            };
            // Out of order: the gateway's event beat the API's insert. -1: any event applies.
            sqlx::query(&format!(
                "INSERT INTO payment_subscriptions ({SUB_COLUMNS}, customer_id) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, 'incomplete', NULL, -1, NULL, NULL, $8, $8, NULL, NULL, $9) \
                 ON CONFLICT (id) DO NOTHING"
            ))
            .bind(&f.subscription_id)
            .bind(user_id)
            .bind(gateway.as_str())
            .bind(plan.as_str())
            .bind(interval.as_str())
            .bind(f.price_id.as_deref().unwrap_or(""))
            .bind(f.amount_minor.unwrap_or(0).max(0))
            .bind(now)
            .bind(f.customer_id.as_deref().unwrap_or(""))
            .execute(&mut *tx)
            .await?;
        }
        let sub = self
            .sub_by_id(tx, &f.subscription_id)
            .await?
            .ok_or_else(|| Error::Internal("subscription vanished".into()))?;
        let about = |d: Decision| Decision {
            user_id: Some(sub.user_id.clone()),
            ..d
        };
        if let Err(why) = supersedes(sub.status, sub.last_event_at, event_at) {
            return Ok(about(Decision::ignore(why)));
        }
        sqlx::query(
            "UPDATE payment_subscriptions SET status = $2, current_period_end = COALESCE($3, current_period_end), \
             last_event_at = $4, updated_at = $5 WHERE id = $1",
        )
        .bind(&sub.id)
        .bind(status.as_str())
        .bind(f.current_period_end)
        .bind(event_at)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT plan, status FROM payment_subscriptions WHERE user_id = $1")
                .bind(&sub.user_id)
                .fetch_all(&mut *tx)
                .await?;
        let subs: Vec<(Plan, SubscriptionStatus)> = rows
            .iter()
            .filter_map(|(p, s)| Some((Plan::parse(p)?, SubscriptionStatus::parse(s)?)))
            .collect();
        let plan = plan_for(&subs);
        plans::set_plan_with(
            tx,
            now,
            &format!("payments:{}", sub.id),
            &sub.user_id,
            plan,
            Some(&format!("subscription {} is {}", sub.id, status.as_str())),
        )
        .await?;
        Ok(about(Decision {
            status: EventStatus::Processed,
            ..Decision::ignore(format!(
                "subscription {}: the user's plan is {}",
                status.as_str(),
                plan.as_str()
            ))
        }))
    }

    /// An invoice event: a paid invoice clears the subscription's failure and mails the
    /// invoice (once per invoice: `invoice:{id}`); a failed payment is recorded for the user
    /// to see (`GET /billing`), published as `payment.failed` and mailed once per invoice
    /// (`renewal-failed:{id}`: Stripe's retries of the same invoice fail again without a
    /// second mail). Stripe retries it; the plan is kept while `past_due`.
    pub(super) async fn apply_invoice(
        &self,
        tx: &mut AnyConnection,
        now: i64,
        event_at: i64,
        f: &InvoiceFacts,
    ) -> Result<Decision> {
        let Some(sub_id) = &f.subscription_id else {
            return Ok(Decision::ignore("an invoice of no subscription"));
        };
        let Some(sub) = self.sub_by_id(tx, sub_id).await? else {
            return Ok(Decision::ignore(
                "an invoice of a subscription gpubroker does not know",
            ));
        };
        let about = |d: Decision| Decision {
            user_id: Some(sub.user_id.clone()),
            ..d
        };
        let (email, tenant): (String, String) =
            sqlx::query_as("SELECT email, tenant_id FROM users WHERE id = $1")
                .bind(&sub.user_id)
                .fetch_one(&mut *tx)
                .await?;
        let (last_paid_at, failure_shown_at): (Option<i64>, Option<i64>) = sqlx::query_as(
            "SELECT last_paid_event_at, failure_event_at FROM payment_subscriptions WHERE id = $1",
        )
        .bind(&sub.id)
        .fetch_one(&mut *tx)
        .await?;
        let applies = invoice_applies(&f.outcome, event_at, last_paid_at, failure_shown_at);
        match &f.outcome {
            InvoiceOutcome::Paid => {
                if applies {
                    sqlx::query(
                        "UPDATE payment_subscriptions SET failure_message = NULL, failure_at = NULL, \
                         failure_invoice_id = NULL, failure_next_attempt = NULL, failure_event_at = NULL, \
                         updated_at = $2 WHERE id = $1",
                    )
                    .bind(&sub.id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
                sqlx::query(
                    "UPDATE payment_subscriptions SET last_paid_event_at = $2 \
                     WHERE id = $1 AND (last_paid_event_at IS NULL OR last_paid_event_at < $2)",
                )
                .bind(&sub.id)
                .bind(event_at)
                .execute(&mut *tx)
                .await?;
                let period = match (f.period_start, f.period_end) {
                    (Some(a), Some(b)) => format!("{} – {}", day(a), day(b)),
                    _ => format!("{} plan, per {}", sub.plan.name(), sub.interval.as_str()),
                };
                mail::send(
                    tx,
                    now,
                    &tenant,
                    &email,
                    &Template::Invoice {
                        number: f.number.clone().unwrap_or_else(|| f.invoice_id.clone()),
                        amount_minor: f.amount_minor,
                        currency: f.currency.to_ascii_uppercase(),
                        period,
                        url: f.url.clone().unwrap_or_else(|| "/billing".into()),
                    },
                    &format!("invoice:{}", f.invoice_id),
                )
                .await?;
                Ok(about(Decision {
                    status: EventStatus::Processed,
                    ..Decision::ignore("invoice paid")
                }))
            }
            InvoiceOutcome::PaymentFailed {
                message,
                next_attempt,
            } => {
                if !applies {
                    return Ok(about(Decision::ignore(
                        "a failed payment older than the last paid invoice",
                    )));
                }
                sqlx::query(
                    "UPDATE payment_subscriptions SET failure_message = $2, failure_at = $3, updated_at = $3, \
                     failure_invoice_id = $4, failure_next_attempt = $5, failure_event_at = $6 WHERE id = $1",
                )
                .bind(&sub.id)
                .bind(message)
                .bind(now)
                .bind(&f.invoice_id)
                .bind(*next_attempt)
                .bind(event_at)
                .execute(&mut *tx)
                .await?;
                crate::events::append(
                    tx,
                    now,
                    crate::events::NewEvent {
                        tenant_id: &tenant,
                        topic: "payment.failed",
                        subject_id: &sub.id,
                        user_id: Some(&sub.user_id),
                        payload: &json!({
                            "subscription_id": sub.id,
                            "invoice_id": f.invoice_id,
                            "amount_minor": f.amount_minor,
                            "message": message,
                            "next_attempt": next_attempt,
                        }),
                    },
                )
                .await?;
                self.mail_failure(
                    tx,
                    now,
                    &sub.user_id,
                    &Template::RenewalFailed {
                        plan: sub.plan.name().to_string(),
                        interval: sub.interval.as_str().to_string(),
                        invoice: f.number.clone().unwrap_or_else(|| f.invoice_id.clone()),
                        amount_minor: f.amount_minor,
                        currency: f.currency.to_ascii_uppercase(),
                        message: message.clone(),
                        next_attempt: next_attempt.map(day),
                        pay_url: f.url.clone(),
                        billing_url: self.billing_url(),
                    },
                    &format!("renewal-failed:{}", f.invoice_id),
                )
                .await?;
                Ok(about(Decision {
                    status: EventStatus::Processed,
                    ..Decision::ignore(format!("invoice payment failed: {message}"))
                }))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use SubscriptionStatus as S;

    #[test]
    fn the_highest_plan_among_granting_subscriptions_wins_and_none_means_free() {
        assert_eq!(plan_for(&[]), Plan::Free);
        assert_eq!(plan_for(&[(Plan::Pro, S::Canceled)]), Plan::Free);
        assert_eq!(plan_for(&[(Plan::Pro, S::Unpaid)]), Plan::Free);
        assert_eq!(plan_for(&[(Plan::Pro, S::PastDue)]), Plan::Pro);
        assert_eq!(
            plan_for(&[(Plan::Pro, S::Active), (Plan::Enterprise, S::Trialing)]),
            Plan::Enterprise
        );
        assert_eq!(
            plan_for(&[(Plan::Enterprise, S::Canceled), (Plan::Pro, S::Active)]),
            Plan::Pro
        );
    }

    #[test]
    fn older_events_and_events_after_the_end_change_nothing() {
        assert!(supersedes(S::Active, 100, 100).is_ok());
        assert!(supersedes(S::Active, 100, 101).is_ok());
        assert!(supersedes(S::Incomplete, -1, 0).is_ok());
        assert!(supersedes(S::Active, 100, 99).is_err());
        assert!(supersedes(S::Canceled, 100, 200).is_err());
        assert!(supersedes(S::IncompleteExpired, 100, 200).is_err());
    }

    #[test]
    fn a_stale_invoice_event_neither_shows_a_failure_nor_clears_a_newer_one() {
        let failed = InvoiceOutcome::PaymentFailed {
            message: "declined".into(),
            next_attempt: None,
        };
        let paid = InvoiceOutcome::Paid;
        assert!(invoice_applies(&failed, 100, None, None));
        assert!(invoice_applies(&failed, 100, Some(100), None));
        assert!(!invoice_applies(&failed, 99, Some(100), None));
        assert!(invoice_applies(&paid, 100, None, None));
        assert!(invoice_applies(&paid, 100, None, Some(90)));
        assert!(!invoice_applies(&paid, 80, Some(50), Some(90)));
    }

    #[test]
    fn statuses_and_intervals_round_trip() {
        for s in S::ALL {
            assert_eq!(S::parse(s.as_str()), Some(s));
        }
        for i in Interval::ALL {
            assert_eq!(Interval::parse(i.as_str()), Some(i));
        }
        assert!(Interval::parse_field("interval", "week").is_err());
    }
}
