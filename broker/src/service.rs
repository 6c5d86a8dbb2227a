//! The broker as one object: opens the database, wires the services, and runs the
//! background loops (offer refresh, durable job worker, event dispatcher).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use providers::{OfferId, Provider};
use tokio::sync::{watch, Notify};
use tokio::task::JoinSet;
use tracing::{info, info_span, warn, Instrument};

use crate::accounts::{Accounts, User};
use crate::allocations::{
    Allocation, Allocations, Alternatives, DeployRequest, NoAlternatives, ReconcileReport,
};
use crate::credentials::{Credentials, MasterKey};
use crate::events::Dispatcher;
use crate::identity::{LoginPolicy, LoginStep, PasswordPolicy, Provider as IdProvider};
use crate::jobs::{self, Outcome, Policy};
use crate::ledger::{Ledger, TickReport};
use crate::mail::Mailer;
use crate::offers::{OfferIndex, OfferPage, OfferQuery, RankedOffer, Weights};
use crate::params::{self, Ctx, Params};
use crate::payments::{Payments, PaymentsConfig};
use crate::plans::Plans;
use crate::tenants::{self, Mode, DEFAULT_TENANT};
use crate::{Clock, Db, Error, Result};

/// What the broker needs to start.
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    pub database_url: String,
    /// Public base URL for links in mail (`http://127.0.0.1:8080`).
    pub base_url: String,
    /// The Stripe gateway (when keys are configured) and the webhook signing secret.
    pub payments: PaymentsConfig,
    /// The key provider credentials are sealed with.
    pub credentials_key: MasterKey,
}

/// Which deployment target a request names.
#[derive(Debug, Clone)]
pub enum Target {
    Offer(OfferId),
    /// The best offer (by the query's sort, TOPSIS by default) matching filters.
    Best(Vec<(String, String)>),
}

/// The whole domain, shared by the HTTP edge, the CLI and the agent.
pub struct Broker {
    pub db: Db,
    pub clock: Arc<dyn Clock>,
    pub params: Params,
    pub accounts: Accounts,
    pub allocations: Allocations,
    pub ledger: Ledger,
    pub plans: Plans,
    pub payments: Payments,
    /// Sealed provider credentials; the LIVE world is built from them.
    pub credentials: Credentials,
    /// Delivers queued mail; `portal-api` registers the SES transport on it.
    pub mailer: Mailer,
    pub dispatcher: Arc<Dispatcher>,
    indexes: HashMap<Mode, Arc<OfferIndex>>,
    /// Public base URL for links in mail.
    pub base_url: String,
    job_wake: Notify,
    worker_id: String,
    stop: watch::Sender<bool>,
}

impl std::fmt::Debug for Broker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Broker")
            .field("backend", &self.db.backend)
            .finish()
    }
}

const SYSTEM: Ctx<'static> = Ctx {
    tenant_id: DEFAULT_TENANT,
    user_id: None,
};

impl Broker {
    /// Connects, migrates, seeds the default tenant and wires the services. `worlds` are the
    /// providers of each mode (sandbox simulations; live adapters).
    pub async fn open(
        cfg: &BrokerConfig,
        clock: Arc<dyn Clock>,
        worlds: HashMap<Mode, Vec<Arc<dyn Provider>>>,
    ) -> Result<Arc<Broker>> {
        let db = Db::connect(&cfg.database_url).await?;
        db.migrate().await?;
        tenants::ensure_default(&db, clock.now_ms()).await?;
        let params = Params::new(db.clone(), Arc::clone(&clock));
        let accounts = Accounts::new(db.clone(), Arc::clone(&clock));
        let ledger = Ledger::new(db.clone(), Arc::clone(&clock), params.clone());
        let payments = Payments::new(
            db.clone(),
            Arc::clone(&clock),
            params.clone(),
            ledger.clone(),
            &cfg.base_url,
            cfg.payments.clone(),
        )
        .await?;
        let allocations = Allocations::new(
            db.clone(),
            Arc::clone(&clock),
            params.clone(),
            ledger.clone(),
            cfg.base_url.clone(),
        );
        let plans = Plans::new(db.clone(), Arc::clone(&clock), params.clone());
        let mut indexes = HashMap::new();
        for mode in [Mode::Sandbox, Mode::Live] {
            let ps = worlds.get(&mode).cloned().unwrap_or_default();
            indexes.insert(mode, Arc::new(OfferIndex::new(ps)));
        }
        let (stop, _) = watch::channel(false);
        let mailer = Mailer::new(db.clone(), params.clone(), Arc::clone(&clock));
        let credentials =
            Credentials::new(db.clone(), Arc::clone(&clock), cfg.credentials_key.clone());
        Ok(Arc::new(Broker {
            mailer,
            credentials,
            dispatcher: Arc::new(Dispatcher::new(db.clone())),
            db,
            clock,
            params,
            accounts,
            allocations,
            ledger,
            plans,
            payments,
            indexes,
            base_url: cfg.base_url.clone(),
            job_wake: Notify::new(),
            worker_id: crate::new_id(),
            stop,
        }))
    }

    /// Starts the background loops; they end on [`Broker::shutdown`].
    pub fn start(self: &Arc<Self>) -> JoinSet<()> {
        let mut set = JoinSet::new();
        let b = Arc::clone(self);
        set.spawn(async move { b.refresh_loop().await }.instrument(info_span!("offers.refresher")));
        let b = Arc::clone(self);
        set.spawn(async move { b.job_loop().await }.instrument(info_span!("jobs.worker")));
        let b = Arc::clone(self);
        set.spawn(async move { b.meter_loop().await }.instrument(info_span!("ledger.meter")));
        let b = Arc::clone(self);
        set.spawn(async move { b.reconcile_loop().await }.instrument(info_span!("reconciler")));
        let b = Arc::clone(self);
        let stop = self.stop.subscribe();
        set.spawn(
            async move { b.dispatcher.run(b.clock.as_ref(), stop).await }
                .instrument(info_span!("events.dispatcher")),
        );
        set
    }

    pub fn shutdown(&self) {
        let _ = self.stop.send(true);
    }

    pub fn index(&self, mode: Mode) -> Arc<OfferIndex> {
        self.indexes
            .get(&mode)
            .cloned()
            .unwrap_or_else(|| Arc::new(OfferIndex::new(Vec::new())))
    }

    pub async fn mode(&self, tenant_id: &str) -> Result<Mode> {
        tenants::mode(&self.params, tenant_id).await
    }

    /// The weights of a named profile for a tenant.
    pub async fn profile_weights(&self, tenant_id: &str, profile: &str) -> Result<Weights> {
        let key = format!("{}{profile}", params::WEIGHTS_PREFIX);
        let s = self
            .params
            .text(
                &key,
                Ctx {
                    tenant_id,
                    user_id: None,
                },
            )
            .await?;
        Weights::parse(&s)
    }

    /// Rebuilds the LIVE world from the default POD's stored LIVE credentials (the worlds
    /// are per mode, not per tenant) and refreshes its offers; returns how many providers
    /// it holds. The SANDBOX world is never touched.
    #[tracing::instrument(skip_all)]
    pub async fn rebuild_live(&self) -> Result<usize> {
        let template = providers::http::EngineConfig {
            clock: Arc::clone(&self.clock),
            ..providers::http::EngineConfig::default()
        };
        let world = self
            .credentials
            .live_world(DEFAULT_TENANT, &template)
            .await?;
        let n = world.len();
        self.index(Mode::Live).set_providers(world);
        self.refresh(Mode::Live).await?;
        info!(providers = n, "LIVE world rebuilt from stored credentials");
        Ok(n)
    }

    /// The admin-set hourly costs of owned (MAAS) capacity.
    pub async fn owned_costs(&self, tenant_id: &str) -> Result<crate::owned::HourlyCosts> {
        let s = self
            .params
            .text(
                params::OWNED_HOURLY_COST,
                Ctx {
                    tenant_id,
                    user_id: None,
                },
            )
            .await?;
        crate::owned::HourlyCosts::parse(&s)
    }

    /// Refreshes a world's offer index now.
    pub async fn refresh(&self, mode: Mode) -> Result<()> {
        let weights = self.profile_weights(DEFAULT_TENANT, "balanced").await?;
        let settings = self.engine_settings().await?;
        let record = self.allocations.track_record(mode).await?;
        let costs = self.owned_costs(DEFAULT_TENANT).await?;
        let index = self.index(mode);
        index.apply(&settings);
        index
            .refresh(self.clock.now(), weights, settings.timeout, &record, &costs)
            .await?;
        Ok(())
    }

    /// The hot engine settings from the parameter store (global scope).
    pub async fn engine_settings(&self) -> Result<providers::http::EngineSettings> {
        Ok(params::EngineParams {
            timeout_ms: self.params.int(params::PROVIDER_TIMEOUT_MS, SYSTEM).await?,
            breaker_failures: self.params.int(params::BREAKER_FAILURES, SYSTEM).await?,
            breaker_open_ms: self.params.int(params::BREAKER_OPEN_MS, SYSTEM).await?,
            cache_ttl_seconds: self.params.int(params::CACHE_TTL, SYSTEM).await?,
        }
        .settings())
    }

    async fn refresh_loop(self: Arc<Self>) {
        let mut stop = self.stop.subscribe();
        loop {
            for mode in [Mode::Sandbox, Mode::Live] {
                if let Err(e) = self.refresh(mode).await {
                    warn!(error = %e, "offer refresh failed");
                }
            }
            if !self
                .wait_interval(params::REFRESH_INTERVAL, 15, &mut stop)
                .await
            {
                return;
            }
        }
    }

    /// One reconciliation of every provider of every world: instances the broker made that
    /// no live allocation owns are released.
    pub async fn reconcile_once(&self) -> Result<Vec<ReconcileReport>> {
        let mut reports = Vec::new();
        for mode in [Mode::Sandbox, Mode::Live] {
            let index = self.index(mode);
            for p in index.providers() {
                if !p.capabilities().provision {
                    continue;
                }
                let r = self.allocations.reconcile(p.as_ref(), mode).await?;
                if let Some(e) = &r.listing_error {
                    warn!(provider = %p.id(), error = %e, "reconciler could not list instances");
                }
                if !r.released.is_empty() {
                    info!(provider = %p.id(), released = r.released.len(), "reconciler released orphans");
                }
                reports.push(r);
            }
        }
        Ok(reports)
    }

    async fn reconcile_loop(self: Arc<Self>) {
        let mut stop = self.stop.subscribe();
        loop {
            if !self
                .wait_interval(params::RECONCILER_INTERVAL, 60, &mut stop)
                .await
            {
                return;
            }
            if let Err(e) = self.reconcile_once().await {
                warn!(error = %e, "reconciliation failed");
            }
        }
    }

    /// Offers of the tenant's world, filtered/sorted/ranked/paged from query-string pairs.
    pub async fn offers(&self, tenant_id: &str, pairs: &[(String, String)]) -> Result<OfferPage> {
        let snap = self.index(self.mode(tenant_id).await?).snapshot();
        let q = OfferQuery::parse(pairs, &snap)?;
        let weights = match &q.weights {
            Some(w) => w.clone(),
            None => self.profile_weights(tenant_id, &q.profile).await?,
        };
        snap.query(&q, &weights)
    }

    /// One offer with its explanation under the default profile.
    pub async fn offer(&self, tenant_id: &str, id: &OfferId) -> Result<RankedOffer> {
        let snap = self.index(self.mode(tenant_id).await?).snapshot();
        let weights = self.profile_weights(tenant_id, "balanced").await?;
        snap.detail(id, &weights)
    }

    /// Requests a deployment of an offer (or of the best offer matching filters).
    pub async fn deploy(
        &self,
        user: &User,
        target: Target,
        req: &DeployRequest,
    ) -> Result<(Allocation, bool)> {
        req.validate()?;
        let mode = self.mode(&user.tenant_id).await?;
        if mode == Mode::Live && !self.accounts.is_verified(&user.id).await? {
            return Err(Error::EmailNotVerified);
        }
        let snap = self.index(mode).snapshot();
        let index = self.index(mode);
        let deployable = |o: &providers::Offer| {
            index
                .provider(&o.provider)
                .is_some_and(|p| p.capabilities().provision)
        };
        let offer = match &target {
            Target::Offer(id) => {
                let o = snap
                    .get(id)
                    .cloned()
                    .ok_or(Error::NotFound { what: "offer" })?;
                if !deployable(&o) {
                    return Err(Error::invalid(
                        "offer_id",
                        format!(
                            "{} offers can be compared here but not deployed through gpubroker",
                            o.provider
                        ),
                    ));
                }
                o
            }
            Target::Best(pairs) => {
                let mut pairs = pairs.clone();
                pairs.retain(|(k, _)| k != "limit" && k != "cursor" && k != "available");
                pairs.push(("limit".into(), "100".into()));
                pairs.push(("available".into(), "true".into()));
                let page = self.offers(&user.tenant_id, &pairs).await?;
                page.items
                    .into_iter()
                    .map(|r| r.offer)
                    .find(|o| deployable(o))
                    .ok_or(Error::NotFound {
                        what: "matching deployable offer",
                    })?
            }
        };
        let listed_at = snap.built_at.timestamp_millis();
        let out = self
            .allocations
            .deploy(user, mode, &offer, listed_at, req)
            .await?;
        self.job_wake.notify_one();
        self.dispatcher.nudge();
        Ok(out)
    }

    /// Requests release of a deployment.
    pub async fn release(&self, user: &User, id: &str) -> Result<Allocation> {
        let a = self.allocations.release(user, id).await?;
        self.job_wake.notify_one();
        self.dispatcher.nudge();
        Ok(a)
    }

    fn provider_for(&self, a: &Allocation) -> Option<Arc<dyn Provider>> {
        self.index(a.mode).provider(&a.provider)
    }

    /// Claims and runs every due job once; returns how many ran.
    pub async fn run_jobs_once(&self) -> Result<usize> {
        let lease_s = self.params.int(params::JOB_LEASE, SYSTEM).await?;
        let policy = Policy {
            max_attempts: self.params.int(params::JOB_MAX_ATTEMPTS, SYSTEM).await?,
            backoff_base_ms: self.params.int(params::JOB_BACKOFF_MS, SYSTEM).await?,
        };
        let claimed = jobs::claim(
            &self.db,
            &self.worker_id,
            self.clock.now_ms(),
            lease_s * 1000,
            16,
        )
        .await?;
        let n = claimed.len();
        let mut set = JoinSet::new();
        for job in claimed {
            let this = self.allocations.clone();
            let mailer = self.mailer.clone();
            let allocation = match job.kind {
                jobs::Kind::SendMail => None,
                jobs::Kind::Provision | jobs::Kind::Release => {
                    this.load(&job.subject_id).await.ok()
                }
            };
            let provider = allocation.as_ref().and_then(|a| self.provider_for(a));
            let alternatives = allocation.as_ref().map(|a| self.index(a.mode));
            let timeout = Duration::from_millis(
                u64::try_from((lease_s * 1000 * 3 / 4).max(500)).unwrap_or(10_000),
            );
            let span = info_span!("job", id = %job.id, kind = job.kind.as_str(), subject = %job.subject_id);
            set.spawn(
                async move {
                    let run = async {
                        match job.kind {
                            jobs::Kind::Provision => {
                                let alternatives: &dyn Alternatives = match &alternatives {
                                    Some(index) => index.as_ref(),
                                    None => &NoAlternatives,
                                };
                                this.provision_step(provider.clone(), alternatives, &job.subject_id)
                                    .await
                            }
                            jobs::Kind::Release => {
                                this.release_step(provider.clone(), &job.subject_id).await
                            }
                            jobs::Kind::SendMail => mailer.deliver(&job.subject_id).await,
                        }
                    };
                    let outcome = match tokio::time::timeout(timeout, run).await {
                        Ok(Ok(o)) => o,
                        Ok(Err(e)) => Outcome::Retry(e.to_string()),
                        Err(_) => Outcome::Retry("timed out".into()),
                    };
                    (job, provider, outcome)
                }
                .instrument(span),
            );
        }
        while let Some(r) = set.join_next().await {
            let Ok((job, provider, outcome)) = r else {
                continue;
            };
            if let Outcome::Retry(e) = &outcome {
                warn!(job = %job.id, error = %e, "job attempt failed");
            }
            let dead = jobs::finish(
                &self.db,
                &job,
                &self.worker_id,
                self.clock.now_ms(),
                &outcome,
                policy,
            )
            .await?;
            if dead {
                let err = match &outcome {
                    Outcome::Retry(e) | Outcome::Dead(e) => e.clone(),
                    _ => String::new(),
                };
                warn!(job = %job.id, error = %err, "job dead-lettered");
                match job.kind {
                    jobs::Kind::Provision => {
                        self.allocations
                            .provision_dead(provider, &job.subject_id, &err)
                            .await?
                    }
                    jobs::Kind::Release => {
                        self.allocations.release_dead(&job.subject_id, &err).await?
                    }
                    jobs::Kind::SendMail => self.mailer.failed(&job.subject_id).await?,
                }
            }
        }
        if n > 0 {
            self.dispatcher.nudge();
        }
        Ok(n)
    }

    /// One billing pass at `now`: meters every billed deployment, then releases the
    /// deployments of users whose credit is depleted (through the release path; billing stops
    /// at the provider-confirmed release). Returns the tick report and how many were released.
    pub async fn billing_pass(&self, now: i64) -> Result<(TickReport, usize)> {
        let report = self.ledger.meter_tick(now).await?;
        let mut released = 0;
        for id in self.ledger.depleted_allocations().await? {
            match self.allocations.auto_release(&id).await {
                Ok(true) => released += 1,
                Ok(false) => {}
                Err(e) => {
                    warn!(allocation = %id, error = %e, "auto-release failed; retried next pass")
                }
            }
        }
        if released > 0 {
            info!(released, "released deployments of depleted accounts");
            self.job_wake.notify_one();
            self.dispatcher.nudge();
        }
        Ok((report, released))
    }

    /// Refunds unused prepaid credit (within `allocation.refund_window_days`), idempotent on
    /// `idempotency_key`: first the money goes back through the gateway (Stripe Refunds, or
    /// the sandbox gateway's, against the newest paid top-ups), then — only once every
    /// gateway refund was accepted — the ledger posting (cash → refunds). Credit that no
    /// gateway payment backs (play money, ledger-only credits) is refunded in the ledger
    /// alone in SANDBOX and refused in LIVE. A gateway refund that later fails or is
    /// canceled gives its credit back (see `payments::refunds`).
    pub async fn refund(
        &self,
        user: &User,
        amount_minor: i64,
        idempotency_key: &str,
    ) -> Result<crate::ledger::Posted> {
        if amount_minor <= 0 {
            return Err(Error::invalid("amount_minor", "a refund must be positive"));
        }
        let (already, possible) = self
            .payments
            .refundable_through_gateway(user, amount_minor, idempotency_key)
            .await?;
        if already == 0 {
            // A new request (a replay skips this: its ledger posting is returned as is).
            let refundable = self.ledger.refundable(&user.id).await?;
            if amount_minor > refundable {
                return Err(crate::ledger::Error::NotRefundable {
                    refundable_minor: refundable,
                }
                .into());
            }
            let live = crate::tenants::mode(&self.params, &user.tenant_id).await?
                == crate::tenants::Mode::Live;
            if live && possible < amount_minor {
                return Err(Error::invalid(
                    "amount_minor",
                    format!(
                        "only {possible} cents of it were paid through the payment gateway within the refund window"
                    ),
                ));
            }
        }
        self.payments
            .refund_topups(user, amount_minor, idempotency_key)
            .await?;
        let posted = self
            .ledger
            .refund_unused(&user.id, amount_minor, idempotency_key)
            .await?;
        // A gateway refund that failed before this posting existed is corrected now.
        self.payments
            .correct_failed_refunds(&user.id, idempotency_key)
            .await?;
        Ok(posted)
    }

    async fn meter_loop(self: Arc<Self>) {
        let mut stop = self.stop.subscribe();
        loop {
            if let Err(e) = self.billing_pass(self.clock.now_ms()).await {
                warn!(error = %e, "billing pass failed");
            }
            if !self
                .wait_interval(crate::ledger::METER_INTERVAL, 60, &mut stop)
                .await
            {
                return;
            }
        }
    }

    /// Waits until the interval parameter `key` (seconds) has passed, re-reading it every
    /// couple of seconds so that a change applies without waiting out the old interval.
    /// Returns false when the broker stops.
    async fn wait_interval(
        &self,
        key: &str,
        default: u64,
        stop: &mut watch::Receiver<bool>,
    ) -> bool {
        let started = tokio::time::Instant::now();
        loop {
            let secs = self
                .params
                .int(key, SYSTEM)
                .await
                .ok()
                .and_then(|s| u64::try_from(s).ok())
                .unwrap_or(default);
            let due = started + Duration::from_secs(secs);
            let now = tokio::time::Instant::now();
            if now >= due {
                return true;
            }
            tokio::select! {
                _ = tokio::time::sleep((due - now).min(Duration::from_secs(2))) => {}
                _ = stop.changed() => return false,
            }
        }
    }

    /// Registers a local account after the password strength rules. In SANDBOX mode it starts
    /// with play money (`billing.sandbox_starter_credit_minor`, credited once) and is confirmed
    /// at once unless `auth.require_email_verification` is on; in LIVE mode (or with that
    /// parameter) a verification link is mailed and the account cannot sign in until it is used.
    pub async fn register(&self, email: &str, password: &str) -> Result<User> {
        let email = crate::accounts::parse_email(email)?;
        PasswordPolicy::load(&self.params, DEFAULT_TENANT)
            .await?
            .check(password, &email)?;
        let user = self
            .accounts
            .register(&email, password, crate::accounts::Role::User)
            .await?;
        let mode = self.mode(&user.tenant_id).await?;
        self.accounts
            .audit_event(
                Some(&user.tenant_id),
                &user.email,
                "auth.signup",
                &format!("user:{}", user.id),
                Some(mode.as_str()),
            )
            .await?;
        if self.requires_verification(&user.tenant_id).await? {
            self.send_verification(&user).await?;
        } else {
            self.accounts.mark_verified(&user.id).await?;
        }
        if mode == Mode::Sandbox {
            self.grant_sandbox_credit(&user).await?;
        }
        Ok(user)
    }

    /// Mails a (new) verification link to an account.
    pub async fn send_verification(&self, user: &User) -> Result<()> {
        let ttl = self
            .params
            .int(
                params::VERIFY_TTL,
                Ctx {
                    tenant_id: &user.tenant_id,
                    user_id: None,
                },
            )
            .await?;
        self.accounts
            .start_verification(user, &self.base_url, ttl)
            .await?;
        self.job_wake.notify_one();
        Ok(())
    }

    /// Whether new accounts of the tenant must verify their address (LIVE, or SANDBOX with
    /// `auth.require_email_verification`).
    pub async fn requires_verification(&self, tenant_id: &str) -> Result<bool> {
        if self.mode(tenant_id).await? == Mode::Live {
            return Ok(true);
        }
        self.params
            .bool(
                params::REQUIRE_EMAIL_VERIFICATION,
                Ctx {
                    tenant_id,
                    user_id: None,
                },
            )
            .await
    }

    /// The sign-in rules in force for a tenant.
    pub async fn login_policy(&self, tenant_id: &str) -> Result<LoginPolicy> {
        LoginPolicy::load(&self.params, tenant_id, self.mode(tenant_id).await?).await
    }

    /// Password step of a local sign-in (see [`Accounts::login`]).
    pub async fn login(&self, email: &str, password: &str) -> Result<LoginStep> {
        let policy = self.login_policy(DEFAULT_TENANT).await?;
        self.accounts.login(email, password, policy).await
    }

    /// MFA step of a local sign-in.
    pub async fn login_mfa(&self, mfa_token: &str, code: &str) -> Result<User> {
        let policy = self.login_policy(DEFAULT_TENANT).await?;
        self.accounts.login_mfa(mfa_token, code, policy).await
    }

    /// The identity provider of a tenant (parameter `identity.provider`).
    pub async fn identity_provider(&self, tenant_id: &str) -> Result<IdProvider> {
        IdProvider::of_tenant(&self.params, tenant_id).await
    }

    /// Credits the sandbox starter credit once per user (idempotent), in SANDBOX mode only.
    pub async fn grant_sandbox_credit(&self, user: &User) -> Result<()> {
        if self.mode(&user.tenant_id).await? != Mode::Sandbox {
            return Ok(());
        }
        let amount = self
            .params
            .int(
                params::SANDBOX_STARTER_CREDIT,
                Ctx {
                    tenant_id: &user.tenant_id,
                    user_id: None,
                },
            )
            .await?;
        if amount > 0 {
            self.ledger
                .credit_topup(
                    &user.id,
                    amount,
                    "USD",
                    &format!("sandbox-starter:{}", user.id),
                )
                .await?;
        }
        Ok(())
    }

    async fn job_loop(self: Arc<Self>) {
        let mut stop = self.stop.subscribe();
        info!(worker = %self.worker_id, "job worker started");
        loop {
            let ran = match self.run_jobs_once().await {
                Ok(n) => n,
                Err(e) => {
                    warn!(error = %e, "job worker pass failed");
                    0
                }
            };
            if ran > 0 {
                continue;
            }
            tokio::select! {
                _ = self.job_wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_millis(200)) => {}
                _ = stop.changed() => return,
            }
        }
    }
}
