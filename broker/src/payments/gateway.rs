//! The payment gateway port: what gpubroker asks of a card processor. Two implementations:
//! Stripe (`portal-api`'s adapter over `async-stripe`) and the embedded [`SandboxGateway`]
//! (SANDBOX mode without Stripe keys; it moves no money). Whatever the gateway, money only
//! reaches the ledger through a signed webhook event ([`super::Payments::handle_webhook`]).

use async_trait::async_trait;
use serde::Serialize;

/// Which gateway a customer, intent or subscription belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GatewayKind {
    Stripe,
    Sandbox,
}

impl GatewayKind {
    pub fn as_str(self) -> &'static str {
        match self {
            GatewayKind::Stripe => "stripe",
            GatewayKind::Sandbox => "sandbox",
        }
    }

    pub fn parse(s: &str) -> Option<GatewayKind> {
        match s {
            "stripe" => Some(GatewayKind::Stripe),
            "sandbox" => Some(GatewayKind::Sandbox),
            _ => None,
        }
    }
}

/// A gateway failure the caller can act on.
#[derive(Debug, Clone, thiserror::Error)]
pub enum GatewayError {
    /// The gateway refused the request (bad parameters, unknown object): not worth retrying.
    #[error("the payment gateway refused the request: {0}")]
    Rejected(String),
    /// Network, timeout or 5xx: the same request (same idempotency key) may be retried.
    #[error("the payment gateway is unavailable: {0}")]
    Unavailable(String),
}

/// A customer to create.
#[derive(Debug, Clone)]
pub struct NewCustomer<'a> {
    pub user_id: &'a str,
    pub email: &'a str,
    /// Sent as the gateway's idempotency key, so a retried call cannot create two customers.
    pub idempotency_key: &'a str,
}

/// A PaymentIntent to create.
#[derive(Debug, Clone)]
pub struct NewPaymentIntent<'a> {
    pub customer_id: &'a str,
    pub user_id: &'a str,
    pub amount_minor: i64,
    /// ISO 4217, lower case as Stripe writes it (`usd`).
    pub currency: &'a str,
    pub idempotency_key: &'a str,
}

/// A SetupIntent to create (saving a card for later payments).
#[derive(Debug, Clone)]
pub struct NewSetupIntent<'a> {
    pub customer_id: &'a str,
    pub user_id: &'a str,
    pub idempotency_key: &'a str,
}

/// A subscription to create.
#[derive(Debug, Clone)]
pub struct NewSubscription<'a> {
    pub customer_id: &'a str,
    pub user_id: &'a str,
    /// The price (or plan: see [`PriceSource`]) to subscribe to.
    pub price: &'a GatewayPrice,
    /// Written to the subscription's metadata (`gpubroker_plan`, `gpubroker_interval`), so
    /// every event about it says whose plan it is without a lookup.
    pub plan: &'a str,
    pub interval: &'a str,
    pub idempotency_key: &'a str,
}

/// A refund to make against a paid PaymentIntent.
#[derive(Debug, Clone)]
pub struct NewRefund<'a> {
    pub payment_intent_id: &'a str,
    pub user_id: &'a str,
    pub amount_minor: i64,
    pub idempotency_key: &'a str,
}

/// A refund as the gateway reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RefundRef {
    pub id: String,
    /// The gateway's status word (`succeeded`, `pending`, `failed`, `canceled`,
    /// `requires_action`).
    pub status: String,
}

/// Which Stripe API a recurring price was found in. Stripe accepts a Plan id wherever a
/// Price id is expected; a plan found in the (older) Plans API is subscribed to as
/// `items[][plan]`, which is also all localstripe understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PriceSource {
    Price,
    Plan,
}

/// A created intent: what the browser needs to confirm it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IntentRef {
    pub id: String,
    pub client_secret: String,
}

/// A subscription as the gateway reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubscriptionRef {
    pub id: String,
    /// The gateway's status word (`active`, `incomplete`, `past_due`, `canceled`, …).
    pub status: String,
    /// End of the paid period, unix seconds, when known.
    pub current_period_end: Option<i64>,
}

/// A plan price as the gateway sells it (live: a Stripe Price found by lookup key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GatewayPrice {
    pub price_id: String,
    pub lookup_key: String,
    pub amount_minor: i64,
    pub currency: String,
    pub source: PriceSource,
}

/// What gpubroker asks of a card processor.
#[async_trait]
pub trait Gateway: Send + Sync + std::fmt::Debug {
    fn kind(&self) -> GatewayKind;
    async fn create_customer(&self, req: &NewCustomer<'_>) -> Result<String, GatewayError>;
    async fn create_payment_intent(
        &self,
        req: &NewPaymentIntent<'_>,
    ) -> Result<IntentRef, GatewayError>;
    async fn create_setup_intent(
        &self,
        req: &NewSetupIntent<'_>,
    ) -> Result<IntentRef, GatewayError>;
    async fn create_subscription(
        &self,
        req: &NewSubscription<'_>,
    ) -> Result<SubscriptionRef, GatewayError>;
    async fn cancel_subscription(&self, id: &str) -> Result<SubscriptionRef, GatewayError>;
    /// The active recurring prices whose lookup key is one of `lookup_keys`.
    async fn prices(&self, lookup_keys: &[String]) -> Result<Vec<GatewayPrice>, GatewayError>;
    /// Refunds (part of) a paid PaymentIntent. The idempotency key makes a retry return the
    /// same refund.
    async fn refund(&self, req: &NewRefund<'_>) -> Result<RefundRef, GatewayError>;
}

/// The embedded gateway of SANDBOX mode: it mints Stripe-shaped ids and client secrets and
/// keeps no state of its own (the intents table is the record). Confirming a sandbox intent
/// ([`super::Payments::sandbox_confirm`]) emits a signed webhook event through the same
/// handler Stripe's events take.
#[derive(Debug, Default)]
pub struct SandboxGateway;

fn sandbox_id(prefix: &str) -> String {
    format!("{prefix}_sbx_{}", uuid::Uuid::new_v4().simple())
}

/// A new sandbox intent (`pi`, `seti`) with its client secret.
fn sandbox_intent(prefix: &str) -> IntentRef {
    let id = sandbox_id(prefix);
    IntentRef {
        client_secret: format!("{id}_secret_{}", uuid::Uuid::new_v4().simple()),
        id,
    }
}

#[async_trait]
impl Gateway for SandboxGateway {
    fn kind(&self) -> GatewayKind {
        GatewayKind::Sandbox
    }

    async fn create_customer(&self, _req: &NewCustomer<'_>) -> Result<String, GatewayError> {
        Ok(sandbox_id("cus"))
    }

    async fn create_payment_intent(
        &self,
        _req: &NewPaymentIntent<'_>,
    ) -> Result<IntentRef, GatewayError> {
        Ok(sandbox_intent("pi"))
    }

    async fn create_setup_intent(
        &self,
        _req: &NewSetupIntent<'_>,
    ) -> Result<IntentRef, GatewayError> {
        Ok(sandbox_intent("seti"))
    }

    async fn create_subscription(
        &self,
        _req: &NewSubscription<'_>,
    ) -> Result<SubscriptionRef, GatewayError> {
        // The sandbox's first invoice is "paid" at once: the subscription starts active.
        Ok(SubscriptionRef {
            id: sandbox_id("sub"),
            status: "active".into(),
            current_period_end: None,
        })
    }

    async fn cancel_subscription(&self, id: &str) -> Result<SubscriptionRef, GatewayError> {
        Ok(SubscriptionRef {
            id: id.to_string(),
            status: "canceled".into(),
            current_period_end: None,
        })
    }

    async fn prices(&self, _lookup_keys: &[String]) -> Result<Vec<GatewayPrice>, GatewayError> {
        // Sandbox prices come from the parameter store, not from a gateway.
        Ok(Vec::new())
    }

    async fn refund(&self, req: &NewRefund<'_>) -> Result<RefundRef, GatewayError> {
        if !req.payment_intent_id.starts_with("pi_sbx_") {
            return Err(GatewayError::Rejected(format!(
                "{} is not a sandbox payment",
                req.payment_intent_id
            )));
        }
        // Play money: the refund succeeds at once (the refunds table is the record).
        Ok(RefundRef {
            id: sandbox_id("re"),
            status: "succeeded".into(),
        })
    }
}
