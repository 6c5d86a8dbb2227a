//! The Stripe adapter of broker's payment gateway port, over `async-stripe` (1.0: the hyper
//! client with rustls, plus only the request builders we call).
//!
//! Requests are built with async-stripe's typed builders (form encoding, auth, the
//! `Idempotency-Key` header, base URL) and their responses are read into the few fields we
//! use ([`Obj`], [`PriceObj`]) rather than async-stripe's full response types: those follow
//! the newest API version and refuse a response missing any field they require, which makes
//! an adapter break on every API-version drift (and on localstripe, the test double).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::bail;
use async_trait::async_trait;
use broker::payments::{
    Gateway, GatewayError, GatewayKind, GatewayPrice, IntentRef, NewCustomer, NewPaymentIntent,
    NewRefund, NewSetupIntent, NewSubscription, PaymentsConfig, PriceSource, RefundRef,
    SubscriptionRef, INTERVAL_METADATA, LOOKUP_METADATA, PLAN_METADATA, USER_METADATA,
};
use stripe::{Client, ClientBuilder, IdempotencyKey, RequestStrategy, StripeError, StripeRequest};
use stripe_billing::plan::ListPlan;
use stripe_billing::subscription::{
    CancelSubscription, CreateSubscription, CreateSubscriptionItems,
};
use stripe_core::customer::CreateCustomer;
use stripe_core::payment_intent::CreatePaymentIntent;
use stripe_core::refund::CreateRefund;
use stripe_core::setup_intent::CreateSetupIntent;
use stripe_product::price::ListPrice;
use tracing::instrument;

use crate::config::Config;

/// The fields of a Stripe object we read.
#[derive(Debug, miniserde::Deserialize)]
struct Obj {
    id: String,
    client_secret: Option<String>,
    status: Option<String>,
    current_period_end: Option<i64>,
}

#[derive(Debug, miniserde::Deserialize)]
struct PriceObj {
    id: String,
    lookup_key: Option<String>,
    unit_amount: Option<i64>,
    currency: String,
}

#[derive(Debug, miniserde::Deserialize)]
struct PriceList {
    data: Vec<PriceObj>,
}

/// A Stripe Plan (the older face of a recurring price).
#[derive(Debug, miniserde::Deserialize)]
struct PlanObj {
    id: String,
    amount: Option<i64>,
    currency: String,
    metadata: Option<std::collections::BTreeMap<String, String>>,
}

#[derive(Debug, miniserde::Deserialize)]
struct PlanList {
    data: Vec<PlanObj>,
}

/// The Stripe gateway.
pub struct StripeGateway {
    client: Client,
}

impl std::fmt::Debug for StripeGateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeGateway").finish_non_exhaustive()
    }
}

fn map_err(e: StripeError) -> GatewayError {
    match e {
        StripeError::Stripe(err, status) if status < 500 && status != 429 => {
            GatewayError::Rejected(
                err.message
                    .clone()
                    .unwrap_or_else(|| format!("HTTP {status}")),
            )
        }
        StripeError::Stripe(err, status) => GatewayError::Unavailable(
            err.message
                .clone()
                .unwrap_or_else(|| format!("HTTP {status}")),
        ),
        StripeError::JSONDeserialize(m) => {
            GatewayError::Unavailable(format!("unreadable response: {m}"))
        }
        StripeError::ClientError(m) | StripeError::ConfigError(m) => GatewayError::Unavailable(m),
        StripeError::Timeout => GatewayError::Unavailable("timed out".into()),
    }
}

fn strategy(key: &str) -> Result<RequestStrategy, GatewayError> {
    IdempotencyKey::new(key)
        .map(RequestStrategy::Idempotent)
        .map_err(|e| GatewayError::Rejected(format!("idempotency key: {e}")))
}

fn metadata(user_id: &str) -> HashMap<String, String> {
    HashMap::from([(USER_METADATA.to_string(), user_id.to_string())])
}

fn intent_ref(o: Obj) -> Result<IntentRef, GatewayError> {
    Ok(IntentRef {
        client_secret: o.client_secret.ok_or_else(|| {
            GatewayError::Unavailable(format!("{} came back without a client secret", o.id))
        })?,
        id: o.id,
    })
}

/// A subscription object as the port reports it; `assumed` is the status when Stripe's
/// answer has none.
fn subscription_ref(o: Obj, assumed: &str) -> SubscriptionRef {
    SubscriptionRef {
        status: o.status.unwrap_or_else(|| assumed.into()),
        current_period_end: o.current_period_end,
        id: o.id,
    }
}

impl StripeGateway {
    /// A gateway for `secret_key` at `api_base` (`None`: api.stripe.com).
    pub fn new(secret_key: &str, api_base: Option<&str>) -> Result<StripeGateway, StripeError> {
        let mut b = ClientBuilder::new(secret_key)
            .timeout(Duration::from_secs(20))
            .app_info("gpubroker", Some(env!("CARGO_PKG_VERSION").into()), None);
        if let Some(url) = api_base.filter(|u| !u.is_empty()) {
            b = b.url(url);
        }
        Ok(StripeGateway { client: b.build()? })
    }

    async fn send<R: StripeRequest, T: miniserde::Deserialize>(
        &self,
        req: &R,
        idempotency_key: Option<&str>,
    ) -> Result<T, GatewayError> {
        let mut c = req.build().customize::<T>();
        if let Some(k) = idempotency_key {
            c = c.request_strategy(strategy(k)?);
        }
        c.send(&self.client).await.map_err(map_err)
    }
}

#[async_trait]
impl Gateway for StripeGateway {
    fn kind(&self) -> GatewayKind {
        GatewayKind::Stripe
    }

    #[instrument(skip_all, fields(user = req.user_id))]
    async fn create_customer(&self, req: &NewCustomer<'_>) -> Result<String, GatewayError> {
        let r = CreateCustomer::new()
            .email(req.email)
            .metadata(metadata(req.user_id));
        let o: Obj = self.send(&r, Some(req.idempotency_key)).await?;
        Ok(o.id)
    }

    #[instrument(skip_all, fields(user = req.user_id, amount = req.amount_minor))]
    async fn create_payment_intent(
        &self,
        req: &NewPaymentIntent<'_>,
    ) -> Result<IntentRef, GatewayError> {
        let currency = req
            .currency
            .parse::<stripe_types::Currency>()
            .map_err(|_| GatewayError::Rejected(format!("currency {}", req.currency)))?;
        let r = CreatePaymentIntent::new(req.amount_minor, currency)
            .customer(req.customer_id)
            .metadata(metadata(req.user_id));
        intent_ref(self.send(&r, Some(req.idempotency_key)).await?)
    }

    #[instrument(skip_all, fields(user = req.user_id))]
    async fn create_setup_intent(
        &self,
        req: &NewSetupIntent<'_>,
    ) -> Result<IntentRef, GatewayError> {
        let r = CreateSetupIntent::new()
            .customer(req.customer_id)
            .metadata(metadata(req.user_id));
        intent_ref(self.send(&r, Some(req.idempotency_key)).await?)
    }

    #[instrument(skip_all, fields(user = req.user_id, price = %req.price.price_id))]
    async fn create_subscription(
        &self,
        req: &NewSubscription<'_>,
    ) -> Result<SubscriptionRef, GatewayError> {
        let mut item = CreateSubscriptionItems::new();
        match req.price.source {
            PriceSource::Price => item.price = Some(req.price.price_id.clone()),
            PriceSource::Plan => item.plan = Some(req.price.price_id.clone()),
        }
        let mut meta = metadata(req.user_id);
        meta.insert(PLAN_METADATA.into(), req.plan.into());
        meta.insert(INTERVAL_METADATA.into(), req.interval.into());
        let r = CreateSubscription::new()
            .customer(req.customer_id)
            .items(vec![item])
            .metadata(meta);
        let o: Obj = self.send(&r, Some(req.idempotency_key)).await?;
        Ok(subscription_ref(o, "incomplete"))
    }

    #[instrument(skip_all, fields(subscription = id))]
    async fn cancel_subscription(&self, id: &str) -> Result<SubscriptionRef, GatewayError> {
        let r = CancelSubscription::new(id);
        let o: Obj = self.send(&r, None).await?;
        Ok(subscription_ref(o, "canceled"))
    }

    /// Prices by lookup key; keys the Prices API does not know (or all of them, when the
    /// Prices API fails: localstripe has none) are looked for among active Plans whose
    /// metadata `gpubroker_lookup_key` names them.
    #[instrument(skip_all)]
    async fn prices(&self, lookup_keys: &[String]) -> Result<Vec<GatewayPrice>, GatewayError> {
        let r = ListPrice::new()
            .active(true)
            .lookup_keys(lookup_keys.to_vec())
            .limit(100);
        let mut out: Vec<GatewayPrice> = match self.send::<_, PriceList>(&r, None).await {
            Ok(list) => list
                .data
                .into_iter()
                .filter_map(|p| {
                    Some(GatewayPrice {
                        lookup_key: p.lookup_key?,
                        amount_minor: p.unit_amount?,
                        price_id: p.id,
                        currency: p.currency,
                        source: PriceSource::Price,
                    })
                })
                .collect(),
            // localstripe has no Prices API (its 404 is not even a Stripe error body). A
            // Stripe outage fails the Plans call below too and is reported from there.
            Err(e) => {
                tracing::debug!(error = %e, "the Prices API failed; looking among Plans");
                Vec::new()
            }
        };
        if lookup_keys
            .iter()
            .all(|k| out.iter().any(|p| &p.lookup_key == k))
        {
            return Ok(out);
        }
        let plans: PlanList = self
            .send(&ListPlan::new().active(true).limit(100), None)
            .await?;
        for p in plans.data {
            let Some(key) = p.metadata.as_ref().and_then(|m| m.get(LOOKUP_METADATA)) else {
                continue;
            };
            if lookup_keys.contains(key) && !out.iter().any(|x| &x.lookup_key == key) {
                out.push(GatewayPrice {
                    lookup_key: key.clone(),
                    amount_minor: p.amount.unwrap_or(0),
                    price_id: p.id,
                    currency: p.currency,
                    source: PriceSource::Plan,
                });
            }
        }
        Ok(out)
    }

    #[instrument(skip_all, fields(user = req.user_id, intent = req.payment_intent_id, amount = req.amount_minor))]
    async fn refund(&self, req: &NewRefund<'_>) -> Result<RefundRef, GatewayError> {
        let r = CreateRefund::new()
            .payment_intent(req.payment_intent_id)
            .amount(req.amount_minor)
            .metadata(metadata(req.user_id));
        let o: Obj = self.send(&r, Some(req.idempotency_key)).await?;
        Ok(RefundRef {
            status: o.status.unwrap_or_else(|| "pending".into()),
            id: o.id,
        })
    }
}

/// The payments part of the boot configuration: the Stripe gateway when a secret key is
/// configured (it then needs the webhook secret too), and the webhook secret.
pub fn payments_config(cfg: &Config) -> anyhow::Result<PaymentsConfig> {
    let webhook_secret = cfg
        .stripe_webhook_secret
        .as_ref()
        .map(|s| s.expose().to_string())
        .filter(|s| !s.is_empty());
    let stripe: Option<Arc<dyn Gateway>> = match cfg
        .stripe_secret_key
        .as_ref()
        .map(|s| s.expose())
        .filter(|s| !s.is_empty())
    {
        None => None,
        Some(key) => {
            if webhook_secret.is_none() {
                bail!(
                    "GPUBROKER_STRIPE_SECRET_KEY is set but GPUBROKER_STRIPE_WEBHOOK_SECRET is not: \
                     without it no payment can be credited"
                );
            }
            Some(Arc::new(StripeGateway::new(
                key,
                cfg.stripe_api_base.as_deref(),
            )?))
        }
    };
    Ok(PaymentsConfig {
        stripe,
        webhook_secret,
    })
}
