//! The parameter store: every operational setting with a type, a default, bounds or allowed
//! values, scope resolution user → plan → tenant (POD) → global → default, `effective_at`,
//! and an audit row for every change. The `plan` scope holds plan-scoped limits (e.g.
//! PRO's concurrent deployments); a user's plan is read from their row when resolving. Reads go to the database, so a change applies to running code at once
//! (hot reload, across instances too).

use std::time::Duration;

use providers::http::{self, BreakerBackoff, BreakerPolicy, EngineSettings};
use serde::Serialize;
use serde_json::Value;
use sqlx::AnyConnection;
use tracing::instrument;

use crate::audit::{self, AuditEntry};
use crate::{ConflictKind, Db, Error, Result};

/// The value type and validity of a parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Kind {
    Int {
        min: i64,
        max: i64,
    },
    Bool,
    Choice {
        allowed: &'static [&'static str],
    },
    /// A ranking weight profile: `criterion:weight,...` (see `offers::Weights`).
    Weights,
    /// Per-GPU-model hourly costs: `MODEL:micro_usd,...` (see `owned::HourlyCosts`).
    CostTable,
}

/// Which scopes a parameter may be set at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ScopeKind {
    Global,
    Tenant,
    /// One plan (`free`, `pro`, `enterprise`): applies to the plan's users, above the tenant.
    Plan,
    User,
}

impl ScopeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ScopeKind::Global => "global",
            ScopeKind::Tenant => "tenant",
            ScopeKind::Plan => "plan",
            ScopeKind::User => "user",
        }
    }

    pub const ALL: [ScopeKind; 4] = [
        ScopeKind::Global,
        ScopeKind::Tenant,
        ScopeKind::Plan,
        ScopeKind::User,
    ];

    pub fn parse(s: &str) -> Option<Self> {
        ScopeKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// One parameter's definition.
#[derive(Debug, Clone, Serialize)]
pub struct Def {
    pub key: &'static str,
    pub kind: Kind,
    /// JSON text of the default value.
    pub default: &'static str,
    pub scopes: &'static [ScopeKind],
    pub description: &'static str,
}

const ALL_SCOPES: &[ScopeKind] = &[ScopeKind::Global, ScopeKind::Tenant, ScopeKind::User];
const SYSTEM_SCOPES: &[ScopeKind] = &[ScopeKind::Global, ScopeKind::Tenant];
const TENANT_ONLY: &[ScopeKind] = &[ScopeKind::Tenant];
/// Limits a plan may set (resolved user → plan → tenant → global).
const PLAN_SCOPES: &[ScopeKind] = &[
    ScopeKind::Global,
    ScopeKind::Tenant,
    ScopeKind::Plan,
    ScopeKind::User,
];

pub const MODE: &str = "tenant.mode";
pub const MAX_CONCURRENT: &str = "allocation.max_concurrent_per_user";
pub const REQUIRE_ACTIVATION: &str = "allocation.require_activation";
pub const ACTIVATION_TTL: &str = "allocation.activation_ttl_seconds";
pub const CACHE_TTL: &str = "offers.cache_ttl_seconds";
pub const REFRESH_INTERVAL: &str = "offers.refresh_interval_seconds";
pub const JOB_LEASE: &str = "jobs.lease_seconds";
pub const JOB_MAX_ATTEMPTS: &str = "jobs.max_attempts";
pub const JOB_BACKOFF_MS: &str = "jobs.backoff_base_ms";
pub const JOB_POLL_MS: &str = "jobs.status_poll_ms";
pub const MARKUP: &str = "pricing.markup_percent";
pub const FAILOVER_MAX_ATTEMPTS: &str = "allocation.failover_max_attempts";
pub const FAILOVER_TOLERANCE: &str = "allocation.failover_price_tolerance_percent";
pub const RECONCILER_INTERVAL: &str = "reconciler.interval_seconds";
pub const SANDBOX_STARTER_CREDIT: &str = "billing.sandbox_starter_credit_minor";
pub const WEIGHTS_PREFIX: &str = "ranking.weights.";
pub const RATE_LIMIT: &str = "rate_limit.api_requests_per_minute";
pub const PLAN_RECOMMENDED: &str = "plans.recommended";
/// Per-plan keys are `plans.<plan>.<fact>` (see `crate::plans`).
pub const PLAN_PREFIX: &str = "plans.";
const PLAN_NAMES: &[&str] = &["free", "pro", "enterprise"];
const SUPPORT_LEVELS: &[&str] = &["community", "email", "priority"];
pub const IDENTITY_PROVIDER: &str = "identity.provider";
pub const PASSWORD_MIN_LENGTH: &str = "auth.password_min_length";
pub const PASSWORD_MIN_CLASSES: &str = "auth.password_min_classes";
pub const LOCKOUT_MAX_FAILURES: &str = "auth.lockout_max_failures";
pub const LOCKOUT_SECONDS: &str = "auth.lockout_seconds";
pub const THROTTLE_PER_MINUTE: &str = "auth.throttle_attempts_per_minute";
pub const VERIFY_TTL: &str = "auth.email_verification_ttl_seconds";
pub const MFA_TOKEN_TTL: &str = "auth.mfa_token_ttl_seconds";
pub const MAIL_TRANSPORT: &str = "mail.transport";
pub const PAYMENT_FAILED_ENABLED: &str = "notification.payment_failed_enabled";
pub const REQUIRE_EMAIL_VERIFICATION: &str = "auth.require_email_verification";
pub const PROVIDER_TIMEOUT_MS: &str = "providers.timeout_ms";
pub const BREAKER_FAILURES: &str = "providers.breaker_failure_threshold";
pub const BREAKER_OPEN_MS: &str = "providers.breaker_open_ms";
pub const OWNED_HOURLY_COST: &str = "maas.hourly_cost_per_gpu_micro_usd";

// The providers' engine defaults are defined once, in `providers::http`; these are their
// parameters' default texts.
static CACHE_TTL_DEFAULT: Decimal = Decimal::of(http::DEFAULT_OFFERS_TTL.as_secs() as u128);
static BREAKER_FAILURES_DEFAULT: Decimal = Decimal::of(http::DEFAULT_BREAKER_FAILURES as u128);
static BREAKER_OPEN_MS_DEFAULT: Decimal = Decimal::of(http::DEFAULT_BREAKER_OPEN.as_millis());

/// The decimal text of a number known when compiling: a default that another crate defines,
/// written into [`DEFS`] without a second copy of its value.
struct Decimal {
    digits: [u8; 39],
    len: usize,
}

impl Decimal {
    const fn of(n: u128) -> Self {
        let mut len = 1;
        let mut rest = n / 10;
        while rest > 0 {
            len += 1;
            rest /= 10;
        }
        let mut digits = [0u8; 39];
        let (mut i, mut rest) = (len, n);
        while i > 0 {
            i -= 1;
            digits[i] = b'0' + (rest % 10) as u8;
            rest /= 10;
        }
        Self { digits, len }
    }

    const fn as_str(&'static self) -> &'static str {
        match std::str::from_utf8(self.digits.split_at(self.len).0) {
            Ok(s) => s,
            // Unreachable: the digits are ASCII. An empty default fails the defaults' test.
            Err(_) => "",
        }
    }
}

static DEFS: &[Def] = &[
    Def { key: MODE, kind: Kind::Choice { allowed: &["sandbox", "live"] }, default: "\"sandbox\"", scopes: TENANT_ONLY,
        description: "The POD's mode: sandbox (simulated worlds, no real money or machines) or live. Switching needs `confirm` equal to the new mode." },
    Def { key: MAX_CONCURRENT, kind: Kind::Int { min: 0, max: 1000 }, default: "2", scopes: PLAN_SCOPES,
        description: "Most live (not released or failed) deployments a user may hold at once." },
    Def { key: REQUIRE_ACTIVATION, kind: Kind::Bool, default: "true", scopes: ALL_SCOPES,
        description: "Whether a ready deployment waits for the emailed activation link before it becomes active." },
    Def { key: ACTIVATION_TTL, kind: Kind::Int { min: 60, max: 2_592_000 }, default: "86400", scopes: SYSTEM_SCOPES,
        description: "How long an activation link stays valid, seconds." },
    Def { key: FAILOVER_MAX_ATTEMPTS, kind: Kind::Int { min: 1, max: 10 }, default: "3", scopes: SYSTEM_SCOPES,
        description: "Offers a deployment may try in all (the chosen one first): after NoCapacity, NoQuota or a transient failure it moves to the next-ranked equivalent offer until this many were tried." },
    Def { key: FAILOVER_TOLERANCE, kind: Kind::Int { min: 0, max: 100 }, default: "10", scopes: SYSTEM_SCOPES,
        description: "How much dearer (whole percent of the quoted price) an equivalent offer may be to be tried on failover." },
    Def { key: RECONCILER_INTERVAL, kind: Kind::Int { min: 5, max: 86_400 }, default: "60", scopes: &[ScopeKind::Global],
        description: "How often the reconciler lists every provider's instances and releases those without a live allocation, seconds." },
    Def { key: "allocation.refund_window_days", kind: Kind::Int { min: 0, max: 365 }, default: "14", scopes: SYSTEM_SCOPES,
        description: "Days within which unused prepaid credit can be refunded." },
    Def { key: "rate_limit.api_requests_per_minute", kind: Kind::Int { min: 1, max: 1_000_000 }, default: "600", scopes: PLAN_SCOPES,
        description: "API requests a user may make per minute." },
    Def { key: "billing.window_seconds", kind: Kind::Int { min: 60, max: 604_800 }, default: "3600", scopes: SYSTEM_SCOPES,
        description: "The billing window a deployment hold reserves, seconds." },
    Def { key: "billing.low_balance_threshold_minor", kind: Kind::Int { min: 0, max: 1_000_000_000 }, default: "500", scopes: ALL_SCOPES,
        description: "Balance (cents) at or below which the user is warned." },
    Def { key: "billing.minimum_deposit_minor", kind: Kind::Int { min: 50, max: 100_000_000 }, default: "500", scopes: SYSTEM_SCOPES,
        description: "Smallest top-up, cents." },
    Def { key: "billing.maximum_deposit_minor", kind: Kind::Int { min: 50, max: 100_000_000 }, default: "500000", scopes: SYSTEM_SCOPES,
        description: "Largest top-up, cents." },
    Def {
        key: SANDBOX_STARTER_CREDIT,
        kind: Kind::Int { min: 0, max: 500_000 },
        default: "100000",
        scopes: SYSTEM_SCOPES,
        description: "Play money (cents) a new account gets in SANDBOX mode, credited once as a top-up.",
    },
    Def { key: "notification.low_balance_enabled", kind: Kind::Bool, default: "true", scopes: ALL_SCOPES,
        description: "Send the low-balance email." },
    Def { key: "notification.balance_depleted_enabled", kind: Kind::Bool, default: "true", scopes: ALL_SCOPES,
        description: "Send the balance-depleted email." },
    Def { key: "notification.auto_release_pending_enabled", kind: Kind::Bool, default: "true", scopes: ALL_SCOPES,
        description: "Warn by email when the credit will run out within the billing window (running deployments would then be released)." },
    Def { key: "notification.balance_restored_enabled", kind: Kind::Bool, default: "true", scopes: ALL_SCOPES,
        description: "Send an email when a top-up brings the account back to good standing." },
    Def { key: PAYMENT_FAILED_ENABLED, kind: Kind::Bool, default: "true", scopes: ALL_SCOPES,
        description: "Mail the user when a payment fails: a subscription renewal (once per invoice; Stripe retries it) or a top-up attempt (once per attempt)." },
    Def { key: CACHE_TTL, kind: Kind::Int { min: 1, max: 86_400 }, default: CACHE_TTL_DEFAULT.as_str(), scopes: SYSTEM_SCOPES,
        description: "How long a provider's offer listing is cached, seconds." },
    Def { key: REFRESH_INTERVAL, kind: Kind::Int { min: 1, max: 3600 }, default: "15", scopes: &[ScopeKind::Global],
        description: "How often the offer index refreshes, seconds." },
    Def { key: MARKUP, kind: Kind::Int { min: 0, max: 1000 }, default: "0", scopes: SYSTEM_SCOPES,
        description: "Markup on provider prices, whole percent." },
    Def { key: JOB_LEASE, kind: Kind::Int { min: 1, max: 3600 }, default: "30", scopes: &[ScopeKind::Global],
        description: "How long a worker owns a claimed job before another may take it over (crash recovery), seconds." },
    Def { key: JOB_MAX_ATTEMPTS, kind: Kind::Int { min: 1, max: 100 }, default: "8", scopes: &[ScopeKind::Global],
        description: "Failed attempts after which a job is dead-lettered." },
    Def { key: JOB_BACKOFF_MS, kind: Kind::Int { min: 10, max: 600_000 }, default: "500", scopes: &[ScopeKind::Global],
        description: "Base of the exponential retry backoff, milliseconds." },
    Def { key: JOB_POLL_MS, kind: Kind::Int { min: 50, max: 600_000 }, default: "1000", scopes: &[ScopeKind::Global],
        description: "How often a job re-checks a provider instance that is still starting or stopping, milliseconds." },
    Def { key: "ranking.weights.balanced", kind: Kind::Weights, default: "\"price:0.30,perf:0.20,perf_per_dollar:0.20,vram:0.10,availability:0.10,reliability:0.10\"", scopes: SYSTEM_SCOPES,
        description: "TOPSIS weights of the default `balanced` profile." },
    Def { key: "ranking.weights.cheapest", kind: Kind::Weights, default: "\"price:0.70,perf_per_dollar:0.15,availability:0.10,reliability:0.05\"", scopes: SYSTEM_SCOPES,
        description: "TOPSIS weights of the `cheapest` profile." },
    Def { key: "ranking.weights.training", kind: Kind::Weights, default: "\"price:0.20,perf:0.35,perf_per_dollar:0.15,vram:0.20,reliability:0.10\"", scopes: SYSTEM_SCOPES,
        description: "TOPSIS weights of the `training` profile." },
    Def { key: "ranking.weights.inference", kind: Kind::Weights, default: "\"price:0.30,perf_per_dollar:0.30,vram:0.15,availability:0.15,reliability:0.10\"", scopes: SYSTEM_SCOPES,
        description: "TOPSIS weights of the `inference` profile." },
    Def { key: "payments.webhook_tolerance_seconds", kind: Kind::Int { min: 1, max: 86_400 }, default: "300", scopes: &[ScopeKind::Global],
        description: "How far a webhook's `Stripe-Signature` timestamp may be from now (either side) before the delivery is refused, seconds." },
    Def { key: "billing.meter_interval_seconds", kind: Kind::Int { min: 1, max: 3600 }, default: "60", scopes: &[ScopeKind::Global],
        description: "How often running deployments' usage is posted to the ledger, seconds (the charge is exact to the millisecond whatever the interval)." },
    Def { key: PLAN_RECOMMENDED, kind: Kind::Choice { allowed: PLAN_NAMES }, default: "\"pro\"", scopes: SYSTEM_SCOPES,
        description: "The plan the pricing table marks as recommended." },
    Def { key: "plans.free.monthly_price_minor", kind: Kind::Int { min: 0, max: 100_000_000 }, default: "0", scopes: SYSTEM_SCOPES,
        description: "FREE plan price per month, cents (sandbox; live prices come from the payment gateway)." },
    Def { key: "plans.free.annual_price_minor", kind: Kind::Int { min: 0, max: 1_000_000_000 }, default: "0", scopes: SYSTEM_SCOPES,
        description: "FREE plan price per year, cents." },
    Def { key: "plans.free.support", kind: Kind::Choice { allowed: SUPPORT_LEVELS }, default: "\"community\"", scopes: SYSTEM_SCOPES,
        description: "Support the FREE plan includes." },
    Def { key: "plans.pro.monthly_price_minor", kind: Kind::Int { min: 0, max: 100_000_000 }, default: "2900", scopes: SYSTEM_SCOPES,
        description: "PRO plan price per month, cents (sandbox; live prices come from the payment gateway)." },
    Def { key: "plans.pro.annual_price_minor", kind: Kind::Int { min: 0, max: 1_000_000_000 }, default: "29000", scopes: SYSTEM_SCOPES,
        description: "PRO plan price per year, cents." },
    Def { key: "plans.pro.support", kind: Kind::Choice { allowed: SUPPORT_LEVELS }, default: "\"email\"", scopes: SYSTEM_SCOPES,
        description: "Support the PRO plan includes." },
    Def { key: "plans.enterprise.monthly_price_minor", kind: Kind::Int { min: 0, max: 100_000_000 }, default: "49900", scopes: SYSTEM_SCOPES,
        description: "ENTERPRISE plan price per month, cents (sandbox; live prices come from the payment gateway)." },
    Def { key: "plans.enterprise.annual_price_minor", kind: Kind::Int { min: 0, max: 1_000_000_000 }, default: "499000", scopes: SYSTEM_SCOPES,
        description: "ENTERPRISE plan price per year, cents." },
    Def { key: "plans.enterprise.support", kind: Kind::Choice { allowed: SUPPORT_LEVELS }, default: "\"priority\"", scopes: SYSTEM_SCOPES,
        description: "Support the ENTERPRISE plan includes." },
    Def { key: IDENTITY_PROVIDER, kind: Kind::Choice { allowed: &["local", "cognito"] }, default: "\"local\"", scopes: SYSTEM_SCOPES,
        description: "Who signs the POD's users in: local (argon2id, our RS256 tokens, TOTP MFA) or cognito (the configured AWS Cognito user pool). Admins' local tokens keep working either way (break-glass)." },
    Def { key: PASSWORD_MIN_LENGTH, kind: Kind::Int { min: 8, max: 128 }, default: "10", scopes: SYSTEM_SCOPES,
        description: "Shortest password a local account may set, characters." },
    Def { key: PASSWORD_MIN_CLASSES, kind: Kind::Int { min: 1, max: 4 }, default: "2", scopes: SYSTEM_SCOPES,
        description: "How many character classes (lower case, upper case, digits, other) a new password must mix." },
    Def { key: LOCKOUT_MAX_FAILURES, kind: Kind::Int { min: 1, max: 100 }, default: "5", scopes: SYSTEM_SCOPES,
        description: "Consecutive failed sign-ins (password or MFA code) after which a local account is locked." },
    Def { key: LOCKOUT_SECONDS, kind: Kind::Int { min: 1, max: 86_400 }, default: "900", scopes: SYSTEM_SCOPES,
        description: "How long a locked account stays locked, seconds." },
    Def { key: THROTTLE_PER_MINUTE, kind: Kind::Int { min: 1, max: 10_000 }, default: "20", scopes: SYSTEM_SCOPES,
        description: "Failed sign-ins per email address per minute after which further attempts get 429 (also for unknown addresses)." },
    Def { key: VERIFY_TTL, kind: Kind::Int { min: 300, max: 2_592_000 }, default: "86400", scopes: SYSTEM_SCOPES,
        description: "How long an email verification link stays valid, seconds." },
    Def { key: MFA_TOKEN_TTL, kind: Kind::Int { min: 30, max: 3600 }, default: "300", scopes: SYSTEM_SCOPES,
        description: "How long the MFA step of a sign-in may take after the password step, seconds." },
    Def { key: MAIL_TRANSPORT, kind: Kind::Choice { allowed: &["outbox", "ses"] }, default: "\"outbox\"", scopes: SYSTEM_SCOPES,
        description: "How the POD's mail leaves: outbox (kept in the sandbox mailbox only) or ses (Amazon SES, configured at boot)." },
    Def { key: REQUIRE_EMAIL_VERIFICATION, kind: Kind::Bool, default: "false", scopes: SYSTEM_SCOPES,
        description: "Whether a SANDBOX POD also mails a verification link at sign-up and refuses sign-in until it is used (LIVE PODs always do)." },
    Def { key: PROVIDER_TIMEOUT_MS, kind: Kind::Int { min: 100, max: 120_000 }, default: "10000", scopes: &[ScopeKind::Global],
        description: "Whole-request timeout of every provider call, and the deadline of one provider's listing in an offer refresh, milliseconds. Applied at the next refresh." },
    Def { key: BREAKER_FAILURES, kind: Kind::Int { min: 1, max: 100 }, default: BREAKER_FAILURES_DEFAULT.as_str(), scopes: &[ScopeKind::Global],
        description: "Consecutive failed provider calls that open the provider's circuit breaker. A change resets every breaker to closed." },
    Def { key: BREAKER_OPEN_MS, kind: Kind::Int { min: 100, max: 3_600_000 }, default: BREAKER_OPEN_MS_DEFAULT.as_str(), scopes: &[ScopeKind::Global],
        description: "How long an open circuit breaker refuses calls before one probe (half-open), milliseconds. A change resets every breaker to closed." },
    Def { key: OWNED_HOURLY_COST, kind: Kind::CostTable, default: "\"\"", scopes: SYSTEM_SCOPES,
        description: "Hourly cost per GPU of owned (MAAS) machines, micro-USD, as `MODEL:micro_usd,...` with catalogue model names (e.g. `H100-SXM:2100000`): the amortized cost of ownership, ranked like any offer. A model without a cost (or 0) is not offered and is counted as unpriced on the provider." },
    Def { key: "payments.price_cache_seconds", kind: Kind::Int { min: 0, max: 86_400 }, default: "3600", scopes: &[ScopeKind::Global],
        description: "How long plan prices read from Stripe (by lookup key `gpubroker_<plan>_<interval>`) are reused before Stripe is asked again, seconds." },
];

/// The values of the parameters the providers' engines take (global scope).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineParams {
    /// [`PROVIDER_TIMEOUT_MS`].
    pub timeout_ms: i64,
    /// [`BREAKER_FAILURES`].
    pub breaker_failures: i64,
    /// [`BREAKER_OPEN_MS`].
    pub breaker_open_ms: i64,
    /// [`CACHE_TTL`].
    pub cache_ttl_seconds: i64,
}

impl EngineParams {
    /// The hot engine settings these values mean (durations at least one millisecond).
    pub fn settings(&self) -> EngineSettings {
        let ms = |v: i64| Duration::from_millis(u64::try_from(v).unwrap_or(1).max(1));
        EngineSettings {
            timeout: ms(self.timeout_ms),
            breaker: BreakerPolicy {
                consecutive_failures: u32::try_from(self.breaker_failures)
                    .unwrap_or(http::DEFAULT_BREAKER_FAILURES),
                backoff: BreakerBackoff::Constant(ms(self.breaker_open_ms)),
            },
            offers_ttl: ms(self.cache_ttl_seconds.saturating_mul(1000)),
        }
    }
}

/// Every parameter the product knows.
pub fn defs() -> &'static [Def] {
    DEFS
}

/// The definition of `key`, or a validation error listing the known keys.
pub fn def(key: &str) -> Result<&'static Def> {
    DEFS.iter().find(|d| d.key == key).ok_or_else(|| {
        Error::invalid_choice("key", key, DEFS.iter().map(|d| d.key.to_string()).collect())
    })
}

/// Where a value applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    Global,
    Tenant(String),
    Plan(String),
    User(String),
}

impl Scope {
    pub fn kind(&self) -> ScopeKind {
        match self {
            Scope::Global => ScopeKind::Global,
            Scope::Tenant(_) => ScopeKind::Tenant,
            Scope::Plan(_) => ScopeKind::Plan,
            Scope::User(_) => ScopeKind::User,
        }
    }

    pub fn id(&self) -> &str {
        match self {
            Scope::Global => "",
            Scope::Tenant(id) | Scope::Plan(id) | Scope::User(id) => id,
        }
    }

    fn label(&self, key: &str) -> String {
        match self {
            Scope::Global => format!("param:{key}@global"),
            Scope::Tenant(id) => format!("param:{key}@tenant:{id}"),
            Scope::Plan(id) => format!("param:{key}@plan:{id}"),
            Scope::User(id) => format!("param:{key}@user:{id}"),
        }
    }
}

/// Whose effective value is asked for.
#[derive(Debug, Clone, Copy)]
pub struct Ctx<'a> {
    pub tenant_id: &'a str,
    pub user_id: Option<&'a str>,
}

/// Checks a JSON value against a definition (pure).
pub fn validate(def: &Def, value: &Value) -> Result<()> {
    let bad = |m: String| Error::invalid("value", m);
    match def.kind {
        Kind::Int { min, max } => match value.as_i64() {
            Some(v) if (min..=max).contains(&v) => Ok(()),
            Some(v) => Err(bad(format!("{v} is outside {min}..={max}"))),
            None => Err(bad(format!("expected an integer in {min}..={max}"))),
        },
        Kind::Bool => value
            .as_bool()
            .map(|_| ())
            .ok_or_else(|| bad("expected true or false".into())),
        Kind::Choice { allowed } => match value.as_str() {
            Some(s) if allowed.contains(&s) => Ok(()),
            _ => Err(Error::Invalid {
                field: "value".into(),
                message: format!("expected one of {}", allowed.join(", ")),
                allowed: Some(allowed.iter().map(|s| s.to_string()).collect()),
            }),
        },
        Kind::CostTable => match value.as_str() {
            Some(s) => crate::owned::HourlyCosts::parse(s).map(|_| ()),
            None => Err(bad(
                "expected a string like `H100-SXM:2100000,L40S:700000`".into()
            )),
        },
        Kind::Weights => match value.as_str() {
            Some(s) => crate::offers::Weights::parse(s)
                .map(|_| ())
                .map_err(|e| bad(e.to_string())),
            None => Err(bad("expected a string like `price:0.5,perf:0.5`".into())),
        },
    }
}

/// A stored value at one scope.
#[derive(Debug, Clone, Serialize)]
pub struct Stored {
    pub scope: &'static str,
    pub scope_id: String,
    pub value: Value,
    pub effective_at: i64,
    pub updated_by: String,
    pub updated_at: i64,
}

/// A parameter with its definition, stored values and effective value for a context.
#[derive(Debug, Clone, Serialize)]
pub struct View {
    #[serde(flatten)]
    pub def: Def,
    pub default_value: Value,
    pub effective: Value,
    pub values: Vec<Stored>,
}

/// A change request.
#[derive(Debug, Clone)]
pub struct Change {
    pub key: String,
    pub scope: Scope,
    pub value: Value,
    pub effective_at: Option<i64>,
    pub reason: Option<String>,
    pub confirm: Option<String>,
}

/// Reads and writes parameters.
#[derive(Debug, Clone)]
pub struct Params {
    db: Db,
    clock: std::sync::Arc<dyn crate::Clock>,
}

impl Params {
    pub fn new(db: Db, clock: std::sync::Arc<dyn crate::Clock>) -> Self {
        Params { db, clock }
    }

    /// The effective value of `key` for `ctx`: the newest value already in effect at the
    /// most specific scope that has one (user → the user's plan → tenant → global), else the
    /// default.
    pub async fn get(&self, key: &str, ctx: Ctx<'_>) -> Result<Value> {
        let mut conn = self.db.pool.acquire().await?;
        self.get_with(&mut conn, key, ctx).await
    }

    /// As [`Params::get`], on a connection the caller holds (e.g. inside a transaction).
    pub async fn get_with(
        &self,
        conn: &mut AnyConnection,
        key: &str,
        ctx: Ctx<'_>,
    ) -> Result<Value> {
        self.resolve(conn, key, ctx, None).await
    }

    /// The effective value of `key` for a plan's users in a tenant (plan → tenant → global →
    /// default), e.g. for the pricing table.
    pub async fn for_plan(&self, key: &str, tenant_id: &str, plan: &str) -> Result<Value> {
        let mut conn = self.db.pool.acquire().await?;
        let ctx = Ctx {
            tenant_id,
            user_id: None,
        };
        self.resolve(&mut conn, key, ctx, Some(plan)).await
    }

    /// Resolution: the user's value, else the plan's (`plan`, or the user's plan from their
    /// row), else the tenant's, else the global one, else the default.
    async fn resolve(
        &self,
        conn: &mut AnyConnection,
        key: &str,
        ctx: Ctx<'_>,
        plan: Option<&str>,
    ) -> Result<Value> {
        let d = def(key)?;
        let now = self.clock.now_ms();
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT scope, value FROM params WHERE key = $1 AND effective_at <= $2 AND \
             ((scope = 'global') OR (scope = 'tenant' AND scope_id = $3) OR (scope = 'user' AND scope_id = $4) \
              OR (scope = 'plan' AND scope_id = CASE WHEN $5 <> '' THEN $5 ELSE (SELECT plan FROM users WHERE id = $4) END)) \
             ORDER BY effective_at DESC",
        )
        .bind(key)
        .bind(now)
        .bind(ctx.tenant_id)
        .bind(ctx.user_id.unwrap_or(""))
        .bind(plan.unwrap_or(""))
        .fetch_all(&mut *conn)
        .await?;
        for scope in ["user", "plan", "tenant", "global"] {
            if let Some((_, v)) = rows.iter().find(|(s, _)| s == scope) {
                if let Ok(v) = serde_json::from_str(v) {
                    return Ok(v);
                }
            }
        }
        serde_json::from_str(d.default).map_err(|e| Error::Internal(e.to_string()))
    }

    pub async fn int(&self, key: &str, ctx: Ctx<'_>) -> Result<i64> {
        let v = self.get(key, ctx).await?;
        v.as_i64()
            .ok_or_else(|| Error::Internal(format!("parameter {key} is not an integer")))
    }

    pub async fn int_with(&self, conn: &mut AnyConnection, key: &str, ctx: Ctx<'_>) -> Result<i64> {
        let v = self.get_with(conn, key, ctx).await?;
        v.as_i64()
            .ok_or_else(|| Error::Internal(format!("parameter {key} is not an integer")))
    }

    pub async fn bool(&self, key: &str, ctx: Ctx<'_>) -> Result<bool> {
        let v = self.get(key, ctx).await?;
        v.as_bool()
            .ok_or_else(|| Error::Internal(format!("parameter {key} is not a boolean")))
    }

    pub async fn text(&self, key: &str, ctx: Ctx<'_>) -> Result<String> {
        let v = self.get(key, ctx).await?;
        v.as_str()
            .map(str::to_string)
            .ok_or_else(|| Error::Internal(format!("parameter {key} is not a string")))
    }

    /// All parameters (optionally one key) with stored values and the effective value.
    pub async fn list(&self, key: Option<&str>, ctx: Ctx<'_>) -> Result<Vec<View>> {
        let defs: Vec<&Def> = match key {
            Some(k) => vec![def(k)?],
            None => DEFS.iter().collect(),
        };
        let mut out = Vec::with_capacity(defs.len());
        for d in defs {
            let rows: Vec<(String, String, i64, String, String, i64)> = sqlx::query_as(
                "SELECT scope, scope_id, effective_at, value, updated_by, updated_at FROM params \
                 WHERE key = $1 ORDER BY scope, scope_id, effective_at",
            )
            .bind(d.key)
            .fetch_all(&self.db.pool)
            .await?;
            let values = rows
                .into_iter()
                .filter_map(
                    |(scope, scope_id, effective_at, value, updated_by, updated_at)| {
                        Some(Stored {
                            scope: ScopeKind::parse(&scope)?.as_str(),
                            scope_id,
                            value: serde_json::from_str(&value).ok()?,
                            effective_at,
                            updated_by,
                            updated_at,
                        })
                    },
                )
                .collect();
            out.push(View {
                def: d.clone(),
                default_value: serde_json::from_str(d.default)
                    .map_err(|e| Error::Internal(e.to_string()))?,
                effective: self.get(d.key, ctx).await?,
                values,
            });
        }
        Ok(out)
    }

    /// Sets a value (validated against its definition and scope) and audits it, in one
    /// transaction.
    #[instrument(skip_all, fields(key = %change.key, scope = change.scope.kind().as_str()))]
    pub async fn set(&self, actor: &str, change: Change) -> Result<()> {
        let d = def(&change.key)?;
        if !d.scopes.contains(&change.scope.kind()) {
            return Err(Error::Invalid {
                field: "scope".into(),
                message: format!(
                    "{} cannot be set at {} scope",
                    d.key,
                    change.scope.kind().as_str()
                ),
                allowed: Some(d.scopes.iter().map(|s| s.as_str().to_string()).collect()),
            });
        }
        validate(d, &change.value)?;
        if let Scope::Plan(p) = &change.scope {
            if !PLAN_NAMES.contains(&p.as_str()) {
                return Err(Error::invalid_choice(
                    "scope_id",
                    p,
                    PLAN_NAMES.iter().map(|s| s.to_string()).collect(),
                ));
            }
        }
        let now = self.clock.now_ms();
        let effective_at = change.effective_at.unwrap_or(now);
        let mut tx = self.db.begin().await?;
        let before = self.current_at_scope(&mut tx, d.key, &change.scope).await?;
        if d.key == MODE && before.as_ref() != Some(&change.value) {
            let target = change.value.as_str().unwrap_or_default();
            if change.confirm.as_deref() != Some(target) {
                return Err(Error::conflict(
                    ConflictKind::ConfirmationRequired,
                    format!("switching the mode needs `confirm` set to \"{target}\""),
                ));
            }
        }
        let value = change.value.to_string();
        sqlx::query(
            "INSERT INTO params (key, scope, scope_id, effective_at, value, updated_by, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (key, scope, scope_id, effective_at) DO UPDATE SET value = $5, updated_by = $6, updated_at = $7",
        )
        .bind(d.key)
        .bind(change.scope.kind().as_str())
        .bind(change.scope.id())
        .bind(effective_at)
        .bind(&value)
        .bind(actor)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        audit::record(
            &mut tx,
            now,
            AuditEntry {
                tenant_id: match &change.scope {
                    Scope::Tenant(t) => Some(t.as_str()),
                    _ => None,
                },
                actor,
                action: if d.key == MODE {
                    "mode.switch"
                } else {
                    "param.set"
                },
                subject: &change.scope.label(d.key),
                before: before.map(|v| v.to_string()).as_deref(),
                after: Some(&value),
                reason: change.reason.as_deref(),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Removes every value of `key` at one scope (the next scope up applies again).
    pub async fn delete(
        &self,
        actor: &str,
        key: &str,
        scope: Scope,
        reason: Option<&str>,
    ) -> Result<()> {
        let d = def(key)?;
        if d.key == MODE {
            return Err(Error::invalid(
                "key",
                "the mode cannot be deleted, only switched",
            ));
        }
        let now = self.clock.now_ms();
        let mut tx = self.db.begin().await?;
        let before = self.current_at_scope(&mut tx, d.key, &scope).await?;
        let n = sqlx::query("DELETE FROM params WHERE key = $1 AND scope = $2 AND scope_id = $3")
            .bind(d.key)
            .bind(scope.kind().as_str())
            .bind(scope.id())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n == 0 {
            return Err(Error::NotFound {
                what: "parameter value",
            });
        }
        audit::record(
            &mut tx,
            now,
            AuditEntry {
                tenant_id: None,
                actor,
                action: "param.delete",
                subject: &scope.label(d.key),
                before: before.map(|v| v.to_string()).as_deref(),
                after: None,
                reason,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn current_at_scope(
        &self,
        conn: &mut AnyConnection,
        key: &str,
        scope: &Scope,
    ) -> Result<Option<Value>> {
        let row: Option<(String,)> = sqlx::query_as(
            "SELECT value FROM params WHERE key = $1 AND scope = $2 AND scope_id = $3 AND effective_at <= $4 \
             ORDER BY effective_at DESC LIMIT 1",
        )
        .bind(key)
        .bind(scope.kind().as_str())
        .bind(scope.id())
        .bind(self.clock.now_ms())
        .fetch_optional(&mut *conn)
        .await?;
        Ok(row.and_then(|(v,)| serde_json::from_str(&v).ok()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_default_is_valid_for_its_definition() {
        for d in defs() {
            let v: Value = serde_json::from_str(d.default).unwrap();
            validate(d, &v).unwrap_or_else(|e| panic!("{}: {e}", d.key));
        }
    }

    #[test]
    fn the_default_parameters_give_the_engines_built_in_settings() {
        let int = |key| def(key).unwrap().default.parse::<i64>().unwrap();
        let engine = http::EngineConfig::default();

        let pushed = EngineParams {
            timeout_ms: int(PROVIDER_TIMEOUT_MS),
            breaker_failures: int(BREAKER_FAILURES),
            breaker_open_ms: int(BREAKER_OPEN_MS),
            cache_ttl_seconds: int(CACHE_TTL),
        }
        .settings();

        // What a new engine starts from, so the first push at boot changes no breaker.
        assert_eq!(pushed.breaker, engine.breaker);
        assert_eq!(pushed.breaker, BreakerPolicy::default());
        assert_eq!(pushed.offers_ttl, engine.offers_ttl);
        assert_eq!(int(BREAKER_FAILURES), 5);
        assert_eq!(int(BREAKER_OPEN_MS), 10_000);
        assert_eq!(int(CACHE_TTL), 60);
    }

    #[test]
    fn a_decimal_is_the_numbers_text() {
        static CASES: [Decimal; 4] = [
            Decimal::of(0),
            Decimal::of(7),
            Decimal::of(10_000),
            Decimal::of(u128::MAX),
        ];
        let texts: Vec<&str> = CASES.iter().map(Decimal::as_str).collect();
        assert_eq!(texts, ["0", "7", "10000", &u128::MAX.to_string()]);
    }

    #[test]
    fn out_of_bounds_and_wrong_types_are_rejected() {
        let d = def(MAX_CONCURRENT).unwrap();
        assert!(validate(d, &json!(-1)).is_err());
        assert!(validate(d, &json!("2")).is_err());
        assert!(validate(d, &json!(5)).is_ok());
        let m = def(MODE).unwrap();
        assert!(validate(m, &json!("staging")).is_err());
    }

    #[test]
    fn unknown_keys_list_the_known_ones() {
        match def("nope") {
            Err(Error::Invalid {
                allowed: Some(a), ..
            }) => assert!(a.contains(&MAX_CONCURRENT.to_string())),
            other => panic!("{other:?}"),
        }
    }
}
