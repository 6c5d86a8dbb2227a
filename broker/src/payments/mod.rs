//! Payments: a gateway customer per user, PaymentIntent top-ups, SetupIntents (saved cards),
//! plan subscriptions, and the one webhook handler through which money reaches the ledger.
//!
//! # The port
//! [`Gateway`] is what we ask of a card processor. Stripe is `portal-api`'s adapter; the
//! embedded [`SandboxGateway`] serves SANDBOX tenants when no Stripe key is configured and
//! moves no money. A LIVE tenant without Stripe gets [`crate::Error::PaymentsUnavailable`].
//!
//! # Invariants
//! - Credit comes only from a webhook event whose `Stripe-Signature` verifies
//!   ([`signature`]); the sandbox signs its events with the same secret and feeds them to
//!   the same [`Payments::handle_webhook`].
//! - Each event id is inserted (UNIQUE) before anything else, in the transaction that
//!   applies it: a redelivery, concurrent or not, does nothing.
//! - Each PaymentIntent is credited at most once, whichever event carries it: the ledger
//!   posting's idempotency key is `topup:{intent id}`.
//! - Credit only when the event's amount and currency equal the intent we created; a
//!   mismatch is kept as `rejected` and flagged for admins.
//! - Every event is kept with its outcome (`processed`, `ignored`, `rejected`) and reason.
//! - Bounds (`billing.minimum_deposit_minor..=billing.maximum_deposit_minor`) are checked
//!   when an intent is created; a paid intent is always credited.

mod events;
mod gateway;
mod refunds;
pub mod signature;
mod subscriptions;

use std::sync::Arc;

use serde::Serialize;
use serde_json::json;
use sqlx::AnyConnection;
use tracing::{info, instrument, warn};

use crate::accounts::User;
use crate::audit::{self, AuditEntry};
use crate::ledger::{Ledger, MAX_DEPOSIT, MIN_DEPOSIT};
use crate::params::{Ctx, Params};
use crate::tenants::{self, Mode, DEFAULT_TENANT};
use crate::{Clock, ConflictKind, Db, Error, Result};

pub use events::{
    classify, Effect, IntentEvent, IntentStatus, InvoiceFacts, InvoiceOutcome, RefundChange,
    RefundFacts, RefundStatus, SubscriptionFacts, WireEvent,
};
pub use gateway::{
    Gateway, GatewayError, GatewayKind, GatewayPrice, IntentRef, NewCustomer, NewPaymentIntent,
    NewRefund, NewSetupIntent, NewSubscription, PriceSource, RefundRef, SandboxGateway,
    SubscriptionRef,
};
pub use subscriptions::{
    invoice_applies, plan_for, supersedes, Interval, Subscription, SubscriptionFailure,
    SubscriptionStatus, PRICE_CACHE_TTL,
};

/// Parameter: how far a webhook signature's timestamp may be from now, seconds.
pub const WEBHOOK_TOLERANCE: &str = "payments.webhook_tolerance_seconds";

/// Metadata key naming the user on every object we create at the gateway.
pub const USER_METADATA: &str = "gpubroker_user_id";
/// Metadata keys naming the plan and interval on the subscriptions we create.
pub const PLAN_METADATA: &str = "gpubroker_plan";
pub const INTERVAL_METADATA: &str = "gpubroker_interval";
/// Metadata key of a Stripe Plan standing for a lookup key (accounts, and localstripe,
/// without the Prices API).
pub const LOOKUP_METADATA: &str = "gpubroker_lookup_key";

/// Test cards the sandbox understands (the same numbers Stripe's test mode uses).
pub const SANDBOX_CARD_OK: &str = "4242424242424242";
pub const SANDBOX_CARD_DECLINED: &str = "4000000000000002";
pub const SANDBOX_CARD_INSUFFICIENT: &str = "4000000000009995";

/// How payments start.
#[derive(Debug, Clone, Default)]
pub struct PaymentsConfig {
    /// The Stripe gateway, when keys are configured.
    pub stripe: Option<Arc<dyn Gateway>>,
    /// `GPUBROKER_STRIPE_WEBHOOK_SECRET`; without it a secret is generated once and stored
    /// (the sandbox signs with it).
    pub webhook_secret: Option<String>,
}

/// What kind of intent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IntentKind {
    Payment,
    Setup,
}

impl IntentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            IntentKind::Payment => "payment",
            IntentKind::Setup => "setup",
        }
    }

    fn parse(s: &str) -> Option<IntentKind> {
        match s {
            "payment" => Some(IntentKind::Payment),
            "setup" => Some(IntentKind::Setup),
            _ => None,
        }
    }
}

/// What a new intent is for: a top-up of an amount, or saving a card (a SetupIntent moves
/// no money: it is stored with amount 0 in the ledger's currency).
#[derive(Debug, Clone, Copy)]
enum Ask<'a> {
    TopUp {
        amount_minor: i64,
        currency: &'a str,
    },
    SaveCard,
}

impl<'a> Ask<'a> {
    fn kind(self) -> IntentKind {
        match self {
            Ask::TopUp { .. } => IntentKind::Payment,
            Ask::SaveCard => IntentKind::Setup,
        }
    }

    fn amount_minor(self) -> i64 {
        match self {
            Ask::TopUp { amount_minor, .. } => amount_minor,
            Ask::SaveCard => 0,
        }
    }

    fn currency(self) -> &'a str {
        match self {
            Ask::TopUp { currency, .. } => currency,
            Ask::SaveCard => crate::ledger::CURRENCY,
        }
    }
}

/// A failed payment attempt as the user sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    pub intent_id: String,
    pub code: Option<String>,
    pub message: String,
    pub at: i64,
}

/// An intent we created.
#[derive(Debug, Clone, Serialize)]
pub struct Intent {
    pub id: String,
    pub kind: IntentKind,
    pub gateway: GatewayKind,
    pub amount_minor: i64,
    pub currency: String,
    pub status: IntentStatus,
    /// What the browser (Stripe.js, or the sandbox confirm action) needs.
    pub client_secret: String,
    pub payment_method: Option<String>,
    pub last_failure: Option<Failure>,
    pub credited_transaction_id: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    #[serde(skip)]
    pub user_id: String,
}

/// The outcome recorded for a webhook event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventStatus {
    Processed,
    Ignored,
    Rejected,
}

impl EventStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            EventStatus::Processed => "processed",
            EventStatus::Ignored => "ignored",
            EventStatus::Rejected => "rejected",
        }
    }

    pub fn parse(s: &str) -> Option<EventStatus> {
        [
            EventStatus::Processed,
            EventStatus::Ignored,
            EventStatus::Rejected,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }
}

/// What [`Payments::handle_webhook`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WebhookOutcome {
    pub event_id: String,
    /// The recorded outcome (of the first delivery, for a duplicate).
    pub status: EventStatus,
    pub reason: Option<String>,
    /// True when the event id had been received before: nothing was done now.
    pub duplicate: bool,
    /// The ledger transaction this delivery posted, if it credited.
    pub credited_transaction_id: Option<String>,
}

/// One received webhook event, for admins.
#[derive(Debug, Clone, Serialize)]
pub struct EventRecord {
    pub id: String,
    pub event_type: String,
    pub status: EventStatus,
    pub reason: Option<String>,
    pub flagged: bool,
    pub intent_id: Option<String>,
    pub user_id: Option<String>,
    pub received_at: i64,
    pub payload: serde_json::Value,
}

/// Filter of [`Payments::events`].
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub status: Option<EventStatus>,
    pub flagged: Option<bool>,
    /// Keyset cursor: events strictly before (received_at, id).
    pub before: Option<(i64, String)>,
    pub limit: i64,
}

/// The decision for one event.
struct Decision {
    status: EventStatus,
    reason: String,
    flagged: bool,
    intent_id: Option<String>,
    user_id: Option<String>,
    credited: Option<String>,
}

impl Decision {
    fn ignore(reason: impl Into<String>) -> Decision {
        Decision {
            status: EventStatus::Ignored,
            reason: reason.into(),
            flagged: false,
            intent_id: None,
            user_id: None,
            credited: None,
        }
    }

    fn about(mut self, intent: &Intent) -> Decision {
        self.intent_id = Some(intent.id.clone());
        self.user_id = Some(intent.user_id.clone());
        self
    }
}

/// The payments service.
#[derive(Clone)]
pub struct Payments {
    db: Db,
    clock: Arc<dyn Clock>,
    params: Params,
    ledger: Ledger,
    stripe: Option<Arc<dyn Gateway>>,
    sandbox: Arc<dyn Gateway>,
    secret: Arc<str>,
    /// Public base URL for links in mail (the billing page).
    base_url: Arc<str>,
    /// Stripe prices by lookup key, with when they were fetched (ms).
    prices: Arc<std::sync::Mutex<std::collections::HashMap<String, (GatewayPrice, i64)>>>,
}

impl std::fmt::Debug for Payments {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Payments")
            .field("stripe", &self.stripe.is_some())
            .finish_non_exhaustive()
    }
}

const INTENT_COLUMNS: &str = "id, user_id, gateway, kind, amount_minor, currency, client_secret, status, \
     payment_method, last_failure_code, last_failure_message, last_failure_at, credited_transaction_id, \
     created_at, updated_at";

type IntentRow = (
    String,
    String,
    String,
    String,
    i64,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<String>,
    i64,
    i64,
);

fn intent_of(r: IntentRow) -> Result<Intent> {
    let bad = |what: &str| Error::Internal(format!("stored intent {} has a bad {what}", r.0));
    let last_failure = match (r.10.clone(), r.11) {
        (Some(message), Some(at)) => Some(Failure {
            intent_id: r.0.clone(),
            code: r.9.clone(),
            message,
            at,
        }),
        _ => None,
    };
    Ok(Intent {
        gateway: GatewayKind::parse(&r.2).ok_or_else(|| bad("gateway"))?,
        kind: IntentKind::parse(&r.3).ok_or_else(|| bad("kind"))?,
        status: IntentStatus::parse(&r.7).ok_or_else(|| bad("status"))?,
        id: r.0,
        user_id: r.1,
        amount_minor: r.4,
        currency: r.5,
        client_secret: r.6,
        payment_method: r.8,
        last_failure,
        credited_transaction_id: r.12,
        created_at: r.13,
        updated_at: r.14,
    })
}

fn gateway_error(e: GatewayError) -> Error {
    Error::Gateway(e)
}

impl Payments {
    /// Wires the service; resolves the webhook signing secret (configured, else the stored
    /// one, else a new one stored for every instance to share). `base_url` is the public
    /// base URL that links in mail start with.
    pub async fn new(
        db: Db,
        clock: Arc<dyn Clock>,
        params: Params,
        ledger: Ledger,
        base_url: &str,
        cfg: PaymentsConfig,
    ) -> Result<Payments> {
        let secret = match cfg.webhook_secret.filter(|s| !s.trim().is_empty()) {
            Some(s) => s,
            None => stored_secret(&db, clock.now_ms()).await?,
        };
        Ok(Payments {
            db,
            clock,
            params,
            ledger,
            stripe: cfg.stripe,
            sandbox: Arc::new(SandboxGateway),
            secret: Arc::from(secret),
            base_url: Arc::from(base_url.trim_end_matches('/')),
            prices: Arc::default(),
        })
    }

    /// The billing page (balance, top-ups, the subscription) that payment mails link to.
    fn billing_url(&self) -> String {
        format!("{}/billing", self.base_url)
    }

    /// Queues a failed-payment mail to the user on the webhook's transaction, once per
    /// `dedupe_key`, unless `notification.payment_failed_enabled` is off for them.
    async fn mail_failure(
        &self,
        tx: &mut AnyConnection,
        now: i64,
        user_id: &str,
        template: &crate::mail::Template,
        dedupe_key: &str,
    ) -> Result<()> {
        let (email, tenant): (String, String) =
            sqlx::query_as("SELECT email, tenant_id FROM users WHERE id = $1")
                .bind(user_id)
                .fetch_one(&mut *tx)
                .await?;
        let enabled = self
            .params
            .get_with(
                tx,
                crate::params::PAYMENT_FAILED_ENABLED,
                Ctx {
                    tenant_id: &tenant,
                    user_id: Some(user_id),
                },
            )
            .await?;
        if enabled != serde_json::Value::Bool(true) {
            return Ok(());
        }
        crate::mail::send(tx, now, &tenant, &email, template, dedupe_key).await
    }

    /// The webhook signing secret in force (the sandbox signs with it; so do tests).
    pub fn webhook_secret(&self) -> &str {
        &self.secret
    }

    /// Which gateway serves a tenant now: Stripe when configured; else the sandbox gateway
    /// for a SANDBOX tenant; a LIVE tenant without Stripe cannot pay.
    pub async fn gateway_for(&self, tenant_id: &str) -> Result<Arc<dyn Gateway>> {
        match (&self.stripe, tenants::mode(&self.params, tenant_id).await?) {
            (Some(s), _) => Ok(Arc::clone(s)),
            (None, Mode::Sandbox) => Ok(Arc::clone(&self.sandbox)),
            (None, Mode::Live) => Err(Error::PaymentsUnavailable(
                "this POD is LIVE and no Stripe key is configured",
            )),
        }
    }

    fn ctx<'a>(user: &'a User) -> Ctx<'a> {
        Ctx {
            tenant_id: &user.tenant_id,
            user_id: Some(&user.id),
        }
    }

    /// The user's customer at `gateway`, created on first use and stored.
    pub async fn ensure_customer(&self, user: &User, gateway: &dyn Gateway) -> Result<String> {
        let kind = gateway.kind();
        if let Some(id) = self.customer(&user.id, kind).await? {
            return Ok(id);
        }
        let id = gateway
            .create_customer(&NewCustomer {
                user_id: &user.id,
                email: &user.email,
                idempotency_key: &format!("gpubroker-customer-{}", user.id),
            })
            .await
            .map_err(gateway_error)?;
        sqlx::query(
            "INSERT INTO payment_customers (user_id, gateway, customer_id, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (user_id, gateway) DO NOTHING",
        )
        .bind(&user.id)
        .bind(kind.as_str())
        .bind(&id)
        .bind(self.clock.now_ms())
        .execute(&self.db.pool)
        .await?;
        // A concurrent first use may have stored its customer first: that one wins.
        self.customer(&user.id, kind)
            .await?
            .ok_or_else(|| Error::Internal("customer vanished".into()))
    }

    /// The user's stored customer id at a gateway.
    pub async fn customer(&self, user_id: &str, kind: GatewayKind) -> Result<Option<String>> {
        let row: Option<(String,)> = sqlx::query_as(
            "SELECT customer_id FROM payment_customers WHERE user_id = $1 AND gateway = $2",
        )
        .bind(user_id)
        .bind(kind.as_str())
        .fetch_optional(&self.db.pool)
        .await?;
        Ok(row.map(|(c,)| c))
    }

    /// One of the user's intents.
    pub async fn intent(&self, user_id: &str, id: &str) -> Result<Intent> {
        let row: Option<IntentRow> = sqlx::query_as(&format!(
            "SELECT {INTENT_COLUMNS} FROM payment_intents WHERE id = $1 AND user_id = $2"
        ))
        .bind(id)
        .bind(user_id)
        .fetch_optional(&self.db.pool)
        .await?;
        intent_of(row.ok_or(Error::NotFound { what: "intent" })?)
    }

    /// The user's intents, newest first.
    pub async fn intents(&self, user_id: &str, limit: i64) -> Result<Vec<Intent>> {
        let rows: Vec<IntentRow> = sqlx::query_as(&format!(
            "SELECT {INTENT_COLUMNS} FROM payment_intents WHERE user_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2"
        ))
        .bind(user_id)
        .bind(limit)
        .fetch_all(&self.db.pool)
        .await?;
        rows.into_iter().map(intent_of).collect()
    }

    /// The user's most recent payment failure still unresolved (its intent has not
    /// succeeded since), if any.
    pub async fn last_failure(&self, user_id: &str) -> Result<Option<Failure>> {
        let row: Option<IntentRow> = sqlx::query_as(&format!(
            "SELECT {INTENT_COLUMNS} FROM payment_intents WHERE user_id = $1 AND status = 'failed' \
             ORDER BY last_failure_at DESC, id DESC LIMIT 1"
        ))
        .bind(user_id)
        .fetch_optional(&self.db.pool)
        .await?;
        Ok(row.map(intent_of).transpose()?.and_then(|i| i.last_failure))
    }

    async fn by_request(&self, user_id: &str, request_key: &str) -> Result<Option<Intent>> {
        let row: Option<IntentRow> = sqlx::query_as(&format!(
            "SELECT {INTENT_COLUMNS} FROM payment_intents WHERE user_id = $1 AND request_key = $2"
        ))
        .bind(user_id)
        .bind(request_key)
        .fetch_optional(&self.db.pool)
        .await?;
        row.map(intent_of).transpose()
    }

    /// Creates a top-up PaymentIntent (or returns the one this `request_key` created:
    /// `Ok((intent, false))`). The amount must be within the deposit bounds; only USD.
    #[instrument(skip_all, fields(user = %user.id, amount = amount_minor))]
    pub async fn create_topup(
        &self,
        user: &User,
        amount_minor: i64,
        currency: &str,
        request_key: Option<&str>,
    ) -> Result<(Intent, bool)> {
        let currency = currency.to_ascii_uppercase();
        if currency != crate::ledger::CURRENCY {
            return Err(Error::invalid_choice(
                "currency",
                &currency,
                vec![crate::ledger::CURRENCY.into()],
            ));
        }
        let min = self.params.int(MIN_DEPOSIT, Self::ctx(user)).await?;
        let max = self.params.int(MAX_DEPOSIT, Self::ctx(user)).await?;
        if !(min..=max).contains(&amount_minor) {
            return Err(Error::invalid(
                "amount_minor",
                format!("a top-up must be {min}..={max} cents"),
            ));
        }
        self.intent_for(
            user,
            request_key,
            Ask::TopUp {
                amount_minor,
                currency: &currency,
            },
        )
        .await
    }

    /// Creates a SetupIntent to save a card (or returns the one `request_key` created).
    #[instrument(skip_all, fields(user = %user.id))]
    pub async fn create_setup_intent(
        &self,
        user: &User,
        request_key: Option<&str>,
    ) -> Result<(Intent, bool)> {
        self.intent_for(user, request_key, Ask::SaveCard).await
    }

    /// The intent `request_key` asks for: the one an earlier request with this key created
    /// (`false`; a different request under the same key is refused), else a new one created
    /// at the tenant's gateway and stored (`true`).
    async fn intent_for(
        &self,
        user: &User,
        request_key: Option<&str>,
        ask: Ask<'_>,
    ) -> Result<(Intent, bool)> {
        let request_key = request_key_of(request_key)?;
        if let Some(i) = self.by_request(&user.id, &request_key).await? {
            if i.kind != ask.kind()
                || i.amount_minor != ask.amount_minor()
                || i.currency != ask.currency()
            {
                return Err(Error::conflict(
                    ConflictKind::IdempotencyMismatch,
                    "this Idempotency-Key was used for a different request",
                ));
            }
            return Ok((i, false));
        }
        let gateway = self.gateway_for(&user.tenant_id).await?;
        let customer = self.ensure_customer(user, gateway.as_ref()).await?;
        let created = match ask {
            Ask::TopUp {
                amount_minor,
                currency,
            } => {
                gateway
                    .create_payment_intent(&NewPaymentIntent {
                        customer_id: &customer,
                        user_id: &user.id,
                        amount_minor,
                        currency: &currency.to_ascii_lowercase(),
                        idempotency_key: &format!("gpubroker-topup-{}-{request_key}", user.id),
                    })
                    .await
            }
            Ask::SaveCard => {
                gateway
                    .create_setup_intent(&NewSetupIntent {
                        customer_id: &customer,
                        user_id: &user.id,
                        idempotency_key: &format!("gpubroker-setup-{}-{request_key}", user.id),
                    })
                    .await
            }
        }
        .map_err(gateway_error)?;
        let now = self.clock.now_ms();
        let n = sqlx::query(
            "INSERT INTO payment_intents (id, user_id, gateway, kind, amount_minor, currency, client_secret, status, \
             request_key, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 'open', $8, $9, $9) \
             ON CONFLICT (user_id, request_key) DO NOTHING",
        )
        .bind(&created.id)
        .bind(&user.id)
        .bind(gateway.kind().as_str())
        .bind(ask.kind().as_str())
        .bind(ask.amount_minor())
        .bind(ask.currency())
        .bind(&created.client_secret)
        .bind(&request_key)
        .bind(now)
        .execute(&self.db.pool)
        .await?
        .rows_affected();
        let intent = self
            .by_request(&user.id, &request_key)
            .await?
            .ok_or_else(|| Error::Internal("intent vanished".into()))?;
        info!(intent = %intent.id, kind = ask.kind().as_str(), gateway = gateway.kind().as_str(), "intent created");
        Ok((intent, n == 1))
    }

    /// Verifies, dedupes and applies one webhook delivery. A bad signature writes nothing
    /// ([`Error::WebhookSignature`]); a success event for an intent of ours not stored yet
    /// writes nothing either and asks for a redelivery (409).
    #[instrument(skip_all, fields(event))]
    pub async fn handle_webhook(
        &self,
        payload: &[u8],
        signature_header: Option<&str>,
    ) -> Result<WebhookOutcome> {
        let now = self.clock.now_ms();
        let tolerance = self
            .params
            .int(
                WEBHOOK_TOLERANCE,
                Ctx {
                    tenant_id: DEFAULT_TENANT,
                    user_id: None,
                },
            )
            .await?;
        signature::verify(
            &self.secret,
            signature_header,
            payload,
            now.div_euclid(1000),
            tolerance,
        )?;
        let event: WireEvent = serde_json::from_slice(payload)
            .map_err(|e| Error::invalid("body", format!("not a Stripe event: {e}")))?;
        if event.id.is_empty() || event.id.len() > 255 {
            return Err(Error::invalid("id", "an event needs an id"));
        }
        tracing::Span::current().record("event", event.id.as_str());
        let effect = classify(&event);
        let payload_text = String::from_utf8_lossy(payload);
        let mut tx = self.db.begin().await?;
        let n = sqlx::query(
            "INSERT INTO payment_events (id, event_type, status, payload, received_at) \
             VALUES ($1, $2, 'processing', $3, $4) ON CONFLICT (id) DO NOTHING",
        )
        .bind(&event.id)
        .bind(&event.kind)
        .bind(payload_text.as_ref())
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 0 {
            tx.rollback().await?;
            let (status, reason) = self.event_outcome(&event.id).await?;
            return Ok(WebhookOutcome {
                event_id: event.id,
                status,
                reason,
                duplicate: true,
                credited_transaction_id: None,
            });
        }
        let ours = event
            .data
            .object
            .pointer(&format!("/metadata/{USER_METADATA}"))
            .is_some();
        let event_at = if event.created > 0 {
            event.created
        } else {
            now.div_euclid(1000)
        };
        let d = self.apply(&mut tx, now, event_at, &effect, ours).await?;
        sqlx::query(
            "UPDATE payment_events SET status = $2, reason = $3, flagged = $4, intent_id = $5, user_id = $6 \
             WHERE id = $1",
        )
        .bind(&event.id)
        .bind(d.status.as_str())
        .bind(&d.reason)
        .bind(i64::from(d.flagged))
        .bind(d.intent_id.as_deref())
        .bind(d.user_id.as_deref())
        .execute(&mut *tx)
        .await?;
        if d.flagged {
            audit::record(
                &mut tx,
                now,
                AuditEntry {
                    tenant_id: None,
                    actor: "payments",
                    action: "payment.flagged",
                    subject: &format!("payment_event:{}", event.id),
                    before: None,
                    after: d.intent_id.as_deref(),
                    reason: Some(&d.reason),
                },
            )
            .await?;
        }
        tx.commit().await?;
        if d.status == EventStatus::Rejected {
            warn!(event = %event.id, reason = %d.reason, "webhook event rejected");
        } else {
            info!(event = %event.id, kind = %event.kind, status = d.status.as_str(), "webhook event");
        }
        Ok(WebhookOutcome {
            event_id: event.id,
            status: d.status,
            reason: Some(d.reason),
            duplicate: false,
            credited_transaction_id: d.credited,
        })
    }

    async fn event_outcome(&self, id: &str) -> Result<(EventStatus, Option<String>)> {
        let (status, reason): (String, Option<String>) =
            sqlx::query_as("SELECT status, reason FROM payment_events WHERE id = $1")
                .bind(id)
                .fetch_one(&self.db.pool)
                .await?;
        Ok((
            EventStatus::parse(&status).unwrap_or(EventStatus::Ignored),
            reason,
        ))
    }

    async fn intent_with(&self, conn: &mut AnyConnection, id: &str) -> Result<Option<Intent>> {
        let row: Option<IntentRow> = sqlx::query_as(&format!(
            "SELECT {INTENT_COLUMNS} FROM payment_intents WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
        row.map(intent_of).transpose()
    }

    /// Applies an effect on the webhook's transaction.
    async fn apply(
        &self,
        tx: &mut AnyConnection,
        now: i64,
        event_at: i64,
        effect: &Effect,
        ours: bool,
    ) -> Result<Decision> {
        let unknown = |intent_id: &str| -> Result<Decision> {
            if ours {
                // Out of order: the gateway's event beat our own record of the intent.
                // Keep nothing; the gateway redelivers.
                Err(Error::conflict(
                    ConflictKind::InvalidState,
                    format!("intent {intent_id} is not recorded yet; deliver the event again"),
                ))
            } else {
                Ok(Decision::ignore("not an intent gpubroker created"))
            }
        };
        match effect {
            Effect::Ignore(reason) => Ok(Decision::ignore(*reason)),
            Effect::Malformed(reason) => Ok(Decision {
                status: EventStatus::Rejected,
                ..Decision::ignore(*reason)
            }),
            Effect::Paid {
                intent_id,
                amount_minor,
                currency,
            } => {
                let Some(intent) = self.intent_with(tx, intent_id).await? else {
                    return unknown(intent_id);
                };
                if intent.kind != IntentKind::Payment {
                    return Ok(Decision {
                        status: EventStatus::Rejected,
                        flagged: true,
                        ..Decision::ignore("a payment event for a setup intent")
                    }
                    .about(&intent));
                }
                if *amount_minor != intent.amount_minor
                    || !currency.eq_ignore_ascii_case(&intent.currency)
                {
                    return Ok(Decision {
                        status: EventStatus::Rejected,
                        flagged: true,
                        ..Decision::ignore(format!(
                            "amount mismatch: the event says {amount_minor} {}, the intent was created for {} {}",
                            currency.to_ascii_lowercase(),
                            intent.amount_minor,
                            intent.currency.to_ascii_lowercase()
                        ))
                    }
                    .about(&intent));
                }
                let posted = self
                    .ledger
                    .credit_payment_with(
                        tx,
                        now,
                        &intent.user_id,
                        intent.amount_minor,
                        &intent.currency,
                        &intent.id,
                    )
                    .await
                    .map_err(Error::from)?;
                sqlx::query(
                    "UPDATE payment_intents SET status = 'succeeded', credited_transaction_id = $2, updated_at = $3 \
                     WHERE id = $1",
                )
                .bind(&intent.id)
                .bind(&posted.transaction_id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                if posted.replayed {
                    Ok(Decision::ignore("the intent was credited already").about(&intent))
                } else {
                    // The receipt, once per intent (whatever event carried the payment).
                    let (email, tenant): (String, String) =
                        sqlx::query_as("SELECT email, tenant_id FROM users WHERE id = $1")
                            .bind(&intent.user_id)
                            .fetch_one(&mut *tx)
                            .await?;
                    let balance = crate::ledger::balance_with(tx, &intent.user_id)
                        .await
                        .map_err(Error::from)?;
                    crate::mail::send(
                        tx,
                        now,
                        &tenant,
                        &email,
                        &crate::mail::Template::Receipt {
                            amount_minor: intent.amount_minor,
                            currency: intent.currency.to_ascii_uppercase(),
                            reference: intent.id.clone(),
                            balance_minor: balance.available_minor,
                        },
                        &format!("receipt:{}", intent.id),
                    )
                    .await?;
                    Ok(Decision {
                        status: EventStatus::Processed,
                        credited: Some(posted.transaction_id),
                        ..Decision::ignore(format!("credited {} cents", intent.amount_minor))
                    }
                    .about(&intent))
                }
            }
            Effect::Failed {
                intent_id,
                code,
                message,
                attempt,
            } => {
                self.apply_failure(tx, now, intent_id, code.as_deref(), message, Some(attempt))
                    .await
            }
            Effect::SetupFailed {
                intent_id,
                code,
                message,
            } => {
                self.apply_failure(tx, now, intent_id, code.as_deref(), message, None)
                    .await
            }
            Effect::Canceled { intent_id } => {
                let Some(intent) = self.intent_with(tx, intent_id).await? else {
                    return Ok(Decision::ignore("not an intent gpubroker created"));
                };
                if let Err(why) = intent.status.apply(IntentEvent::Canceled) {
                    return Ok(Decision::ignore(why).about(&intent));
                }
                sqlx::query(
                    "UPDATE payment_intents SET status = 'canceled', updated_at = $2 \
                     WHERE id = $1 AND status IN ('open', 'failed')",
                )
                .bind(&intent.id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                Ok(Decision {
                    status: EventStatus::Processed,
                    ..Decision::ignore("canceled")
                }
                .about(&intent))
            }
            Effect::SetupSucceeded {
                intent_id,
                payment_method,
            } => {
                let Some(intent) = self.intent_with(tx, intent_id).await? else {
                    return unknown(intent_id);
                };
                if let Err(why) = intent.status.apply(IntentEvent::Succeeded) {
                    return Ok(Decision::ignore(why).about(&intent));
                }
                sqlx::query(
                    "UPDATE payment_intents SET status = 'succeeded', payment_method = $2, updated_at = $3 \
                     WHERE id = $1 AND status <> 'succeeded'",
                )
                .bind(&intent.id)
                .bind(payment_method.as_deref())
                .bind(now)
                .execute(&mut *tx)
                .await?;
                Ok(Decision {
                    status: EventStatus::Processed,
                    ..Decision::ignore("card saved")
                }
                .about(&intent))
            }
            Effect::Subscription(f) => self.apply_subscription(tx, now, event_at, f).await,
            Effect::Invoice(f) => self.apply_invoice(tx, now, event_at, f).await,
            Effect::Refund(f) => self.apply_refund(tx, now, f).await,
        }
    }

    /// A failed attempt on the webhook's transaction: the intent is marked `failed` (it
    /// stays reusable), `payment.failed` is published and — for a top-up, named by its
    /// `attempt` — the user is mailed once per attempt (`topup-failed:{intent}:{attempt}`:
    /// the charge id, or the event id when no charge was made).
    async fn apply_failure(
        &self,
        tx: &mut AnyConnection,
        now: i64,
        intent_id: &str,
        code: Option<&str>,
        message: &str,
        attempt: Option<&str>,
    ) -> Result<Decision> {
        let Some(intent) = self.intent_with(tx, intent_id).await? else {
            return Ok(Decision::ignore("not an intent gpubroker created"));
        };
        if let Err(why) = intent.status.apply(IntentEvent::Failed) {
            return Ok(Decision::ignore(why).about(&intent));
        }
        let n = sqlx::query(
            "UPDATE payment_intents SET status = 'failed', last_failure_code = $2, last_failure_message = $3, \
             last_failure_at = $4, updated_at = $4 WHERE id = $1 AND status IN ('open', 'failed')",
        )
        .bind(&intent.id)
        .bind(code)
        .bind(message)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 0 {
            return Ok(Decision::ignore("the intent succeeded meanwhile").about(&intent));
        }
        let tenant = tenant_of(tx, &intent.user_id).await?;
        crate::events::append(
            tx,
            now,
            crate::events::NewEvent {
                tenant_id: &tenant,
                topic: "payment.failed",
                subject_id: &intent.id,
                user_id: Some(&intent.user_id),
                payload: &json!({
                    "intent_id": intent.id,
                    "kind": intent.kind,
                    "amount_minor": intent.amount_minor,
                    "code": code,
                    "message": message,
                }),
            },
        )
        .await?;
        if let (IntentKind::Payment, Some(attempt)) = (intent.kind, attempt) {
            self.mail_failure(
                tx,
                now,
                &intent.user_id,
                &crate::mail::Template::TopUpFailed {
                    amount_minor: intent.amount_minor,
                    currency: intent.currency.to_ascii_uppercase(),
                    reference: intent.id.clone(),
                    message: message.to_string(),
                    billing_url: self.billing_url(),
                },
                &format!("topup-failed:{}:{attempt}", intent.id),
            )
            .await?;
        }
        Ok(Decision {
            status: EventStatus::Processed,
            ..Decision::ignore(format!("attempt failed: {message}"))
        }
        .about(&intent))
    }

    /// SANDBOX: "confirms" one of the user's sandbox intents with a test card and delivers
    /// the resulting signed event to [`Payments::handle_webhook`], exactly as Stripe would
    /// deliver its own. `4242…4242` succeeds; `4000…0002` is declined; `4000…9995` has
    /// insufficient funds.
    #[instrument(skip_all, fields(user = %user.id, intent = intent_id))]
    pub async fn sandbox_confirm(
        &self,
        user: &User,
        intent_id: &str,
        card: Option<&str>,
    ) -> Result<WebhookOutcome> {
        let intent = self.intent(&user.id, intent_id).await?;
        if intent.gateway != GatewayKind::Sandbox {
            return Err(Error::invalid(
                "intent_id",
                "only sandbox intents are confirmed here; Stripe intents are confirmed with Stripe.js",
            ));
        }
        if tenants::mode(&self.params, &user.tenant_id).await? != Mode::Sandbox {
            return Err(Error::conflict(
                ConflictKind::InvalidState,
                "sandbox intents cannot be confirmed in a LIVE POD",
            ));
        }
        let card: String = card
            .unwrap_or(SANDBOX_CARD_OK)
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .collect();
        let decline = match card.as_str() {
            SANDBOX_CARD_OK => None,
            SANDBOX_CARD_DECLINED => Some((
                "card_declined",
                "generic_decline",
                "Your card was declined.",
            )),
            SANDBOX_CARD_INSUFFICIENT => Some((
                "card_declined",
                "insufficient_funds",
                "Your card has insufficient funds.",
            )),
            other => {
                return Err(Error::invalid_choice(
                    "card",
                    other,
                    vec![
                        SANDBOX_CARD_OK.into(),
                        SANDBOX_CARD_DECLINED.into(),
                        SANDBOX_CARD_INSUFFICIENT.into(),
                    ],
                ))
            }
        };
        let (kind, object) = match (intent.kind, decline) {
            (IntentKind::Payment, None) => (
                "payment_intent.succeeded",
                json!({
                    "id": intent.id, "object": "payment_intent", "amount": intent.amount_minor,
                    "amount_received": intent.amount_minor, "currency": intent.currency.to_ascii_lowercase(),
                    "status": "succeeded", "livemode": false,
                    "metadata": {USER_METADATA: intent.user_id},
                }),
            ),
            (IntentKind::Payment, Some((code, decline_code, message))) => (
                "payment_intent.payment_failed",
                json!({
                    "id": intent.id, "object": "payment_intent", "amount": intent.amount_minor,
                    "amount_received": 0, "currency": intent.currency.to_ascii_lowercase(),
                    "status": "requires_payment_method", "livemode": false,
                    "last_payment_error": {"code": code, "decline_code": decline_code, "message": message, "type": "card_error"},
                    "metadata": {USER_METADATA: intent.user_id},
                }),
            ),
            (IntentKind::Setup, None) => (
                "setup_intent.succeeded",
                json!({
                    "id": intent.id, "object": "setup_intent", "status": "succeeded", "livemode": false,
                    "payment_method": format!("pm_sbx_{}", uuid::Uuid::new_v4().simple()),
                    "metadata": {USER_METADATA: intent.user_id},
                }),
            ),
            (IntentKind::Setup, Some((code, decline_code, message))) => (
                "setup_intent.setup_failed",
                json!({
                    "id": intent.id, "object": "setup_intent", "status": "requires_payment_method", "livemode": false,
                    "last_setup_error": {"code": code, "decline_code": decline_code, "message": message, "type": "card_error"},
                    "metadata": {USER_METADATA: intent.user_id},
                }),
            ),
        };
        self.sandbox_deliver(kind, object).await
    }

    /// Received webhook events, newest first (admin).
    pub async fn events(&self, f: &EventFilter) -> Result<Vec<EventRecord>> {
        let (before_at, before_id) = f.before.clone().unwrap_or((i64::MAX, String::new()));
        let rows: Vec<(
            String,
            String,
            String,
            Option<String>,
            i64,
            Option<String>,
            Option<String>,
            i64,
            String,
        )> = sqlx::query_as(
            "SELECT id, event_type, status, reason, flagged, intent_id, user_id, received_at, payload \
             FROM payment_events WHERE status <> 'processing' \
             AND ($1 = '' OR status = $1) AND ($2 < 0 OR flagged = $2) \
             AND (received_at < $3 OR (received_at = $3 AND ($4 = '' OR id < $4))) \
             ORDER BY received_at DESC, id DESC LIMIT $5",
        )
        .bind(f.status.map(EventStatus::as_str).unwrap_or(""))
        .bind(f.flagged.map_or(-1, i64::from))
        .bind(before_at)
        .bind(before_id)
        .bind(f.limit)
        .fetch_all(&self.db.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(
                |(
                    id,
                    event_type,
                    status,
                    reason,
                    flagged,
                    intent_id,
                    user_id,
                    received_at,
                    payload,
                )| {
                    EventRecord {
                        id,
                        event_type,
                        status: EventStatus::parse(&status).unwrap_or(EventStatus::Ignored),
                        reason,
                        flagged: flagged != 0,
                        intent_id,
                        user_id,
                        received_at,
                        payload: serde_json::from_str(&payload)
                            .unwrap_or(serde_json::Value::String(payload)),
                    }
                },
            )
            .collect())
    }
}

fn request_key_of(key: Option<&str>) -> Result<String> {
    match key.map(str::trim).filter(|k| !k.is_empty()) {
        None => Ok(crate::new_id()),
        Some(k) if k.len() <= 200 => Ok(k.to_string()),
        Some(_) => Err(Error::invalid(
            "Idempotency-Key",
            "must be at most 200 characters",
        )),
    }
}

async fn tenant_of(conn: &mut AnyConnection, user_id: &str) -> Result<String> {
    let (t,): (String,) = sqlx::query_as("SELECT tenant_id FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_one(&mut *conn)
        .await?;
    Ok(t)
}

/// The stored webhook secret, created once (every instance then reads the same one).
async fn stored_secret(db: &Db, now: i64) -> Result<String> {
    use rand::Rng;
    let fresh: String = {
        let mut rng = rand::thread_rng();
        (0..32)
            .map(|_| format!("{:02x}", rng.gen::<u8>()))
            .collect()
    };
    sqlx::query(
        "INSERT INTO payment_settings (key, value, created_at) VALUES ('webhook_secret', $1, $2) \
         ON CONFLICT (key) DO NOTHING",
    )
    .bind(format!("whsec_sandbox_{fresh}"))
    .bind(now)
    .execute(&db.pool)
    .await?;
    let (v,): (String,) =
        sqlx::query_as("SELECT value FROM payment_settings WHERE key = 'webhook_secret'")
            .fetch_one(&db.pool)
            .await?;
    Ok(v)
}
