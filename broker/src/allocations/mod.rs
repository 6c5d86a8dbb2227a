//! Allocations (a user's deployment): the rules enforced when one is requested, its state
//! machine ([`state`]), and the provisioning and release steps the durable jobs run.

mod failover;
mod reconcile;
pub mod state;

use std::sync::Arc;
use std::time::Duration;

use providers::{
    Connection, Instance, InstanceId, InstanceState, MicroUsd, Offer, OfferId, Provider,
    ProviderError, ProviderId, ProvisionRequest,
};
use serde::Serialize;
use serde_json::json;
use sqlx::AnyConnection;
use tracing::{instrument, warn};

use crate::accounts::{Role, User};
use crate::events::{self, NewEvent};
use crate::jobs::{self, Outcome};
use crate::ledger::Ledger;
use crate::mail::{self, Template};
use crate::params::{self, Ctx, Params};
use crate::tenants::Mode;
use crate::{new_id, Clock, ConflictKind, Db, Error, Result};

pub use failover::{next_offer, price_cap, Alternatives, Attempt, AttemptOutcome, NoAlternatives};
pub use reconcile::{orphan_reason, OrphanRelease, ReconcileReport};
pub use state::State;

/// A deployment's record.
#[derive(Debug, Clone, Serialize)]
pub struct Allocation {
    pub id: String,
    pub tenant_id: String,
    pub user_id: String,
    pub mode: Mode,
    pub offer_id: OfferId,
    pub provider: ProviderId,
    pub gpu_model: String,
    pub state: State,
    pub gpu_count: u32,
    pub disk_gib: u32,
    pub image: String,
    pub ssh_public_key: Option<String>,
    /// The whole offer's USD per hour at deploy time.
    pub quoted_price_per_hour: MicroUsd,
    pub instance_id: Option<String>,
    /// Shown to the owner only once active (see the API's deployment view).
    #[serde(skip_serializing)]
    pub connection: Option<Connection>,
    pub failure_reason: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: &str = "id, tenant_id, user_id, mode, offer_id, provider, gpu_model, state, gpu_count, disk_gib, image, \
    ssh_public_key, quoted_price_micro, instance_id, connection, failure_reason, created_at, updated_at";

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    tenant_id: String,
    user_id: String,
    mode: String,
    offer_id: String,
    provider: String,
    gpu_model: String,
    state: String,
    gpu_count: i64,
    disk_gib: i64,
    image: String,
    ssh_public_key: Option<String>,
    quoted_price_micro: i64,
    instance_id: Option<String>,
    connection: Option<String>,
    failure_reason: Option<String>,
    created_at: i64,
    updated_at: i64,
}

fn from_row(r: Row) -> Result<Allocation> {
    let state = State::parse(&r.state)
        .ok_or_else(|| Error::Internal(format!("unknown state {}", r.state)))?;
    Ok(Allocation {
        id: r.id,
        tenant_id: r.tenant_id,
        user_id: r.user_id,
        mode: Mode::parse(&r.mode).unwrap_or(Mode::Sandbox),
        offer_id: OfferId(r.offer_id),
        provider: ProviderId(r.provider),
        gpu_model: r.gpu_model,
        state,
        gpu_count: u32::try_from(r.gpu_count).unwrap_or_default(),
        disk_gib: u32::try_from(r.disk_gib).unwrap_or_default(),
        image: r.image,
        ssh_public_key: r.ssh_public_key,
        quoted_price_per_hour: MicroUsd(r.quoted_price_micro),
        instance_id: r.instance_id,
        connection: r.connection.and_then(|c| serde_json::from_str(&c).ok()),
        failure_reason: r.failure_reason,
        created_at: r.created_at,
        updated_at: r.updated_at,
    })
}

/// Images a deployment may start from.
pub const IMAGES: [&str; 4] = [
    "pytorch-2.4-cuda12.4",
    "tensorflow-2.16-cuda12.3",
    "ubuntu-22.04-cuda12.4",
    "jupyter-datascience",
];

/// A validated deployment request.
#[derive(Debug, Clone)]
pub struct DeployRequest {
    pub gpu_count: Option<u32>,
    pub disk_gib: u32,
    pub image: String,
    pub ssh_public_key: Option<String>,
    pub idempotency_key: Option<String>,
    /// A fingerprint of the request body, to tell a replay from a different request that
    /// reuses an idempotency key.
    pub fingerprint: String,
}

impl DeployRequest {
    pub fn validate(&self) -> Result<()> {
        if !(10..=10_000).contains(&self.disk_gib) {
            return Err(Error::invalid("disk_gib", "must be 10..=10000"));
        }
        if !IMAGES.contains(&self.image.as_str()) {
            return Err(Error::invalid_choice(
                "image",
                &self.image,
                IMAGES.iter().map(|s| s.to_string()).collect(),
            ));
        }
        if let Some(k) = &self.idempotency_key {
            if k.is_empty() || k.len() > 200 {
                return Err(Error::invalid(
                    "Idempotency-Key",
                    "must be 1..=200 characters",
                ));
            }
        }
        if let Some(k) = &self.ssh_public_key {
            if !(k.starts_with("ssh-") || k.starts_with("ecdsa-")) || k.len() > 4096 {
                return Err(Error::invalid(
                    "ssh_public_key",
                    "not an OpenSSH public key",
                ));
            }
        }
        Ok(())
    }
}

/// Connection details and where to go next, returned on activation.
#[derive(Debug, Clone, Serialize)]
pub struct Activated {
    pub allocation: Allocation,
    pub connection: Option<Connection>,
}

/// The allocation service.
#[derive(Clone)]
pub struct Allocations {
    db: Db,
    clock: Arc<dyn Clock>,
    params: Params,
    ledger: Ledger,
    base_url: String,
}

impl std::fmt::Debug for Allocations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Allocations").finish()
    }
}

async fn load_with(conn: &mut AnyConnection, id: &str) -> Result<Allocation> {
    let row: Option<Row> =
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM allocations WHERE id = $1"))
            .bind(id)
            .fetch_optional(conn)
            .await?;
    row.map(from_row)
        .transpose()?
        .ok_or(Error::NotFound { what: "deployment" })
}

/// Moves an allocation from `from` to `to` if it is still in `from` (optimistic check) and
/// appends the event, on the caller's transaction.
async fn step(
    conn: &mut AnyConnection,
    now: i64,
    a: &Allocation,
    to: State,
    reason: Option<&str>,
) -> Result<()> {
    let next = state::transition(a.state, to)
        .map_err(|e| Error::conflict(ConflictKind::InvalidState, e.to_string()))?;
    let n = sqlx::query(
        "UPDATE allocations SET state = $1, live = $2, updated_at = $3, failure_reason = COALESCE($4, failure_reason) \
         WHERE id = $5 AND state = $6",
    )
    .bind(next.as_str())
    .bind(i64::from(next.is_live()))
    .bind(now)
    .bind(reason)
    .bind(&a.id)
    .bind(a.state.as_str())
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if n != 1 {
        return Err(Error::conflict(
            ConflictKind::InvalidState,
            "the deployment changed meanwhile; try again",
        ));
    }
    events::append(
        conn,
        now,
        NewEvent {
            tenant_id: &a.tenant_id,
            topic: "deployment.state",
            subject_id: &a.id,
            user_id: Some(&a.user_id),
            payload: &json!({"id": a.id, "from": a.state.as_str(), "to": next.as_str(), "reason": reason}),
        },
    )
    .await
}

impl Allocations {
    pub fn new(
        db: Db,
        clock: Arc<dyn Clock>,
        params: Params,
        ledger: Ledger,
        base_url: String,
    ) -> Self {
        Allocations {
            db,
            clock,
            params,
            ledger,
            base_url,
        }
    }

    /// Creates an allocation in `requested` and queues its provisioning, enforcing inside one
    /// transaction: idempotency, the user's concurrency limit and the offer's free capacity.
    /// Returns the allocation and whether it was created now (false: an idempotent replay).
    ///
    /// `listed_at_ms` is when `offer.available` was read: live allocations on the offer that
    /// changed since then (or have no instance yet) are not reflected in it and are counted
    /// against it, so the last unit goes to exactly one request.
    #[instrument(skip_all, fields(user = %user.id, offer = %offer.id))]
    pub async fn deploy(
        &self,
        user: &User,
        mode: Mode,
        offer: &Offer,
        listed_at_ms: i64,
        req: &DeployRequest,
    ) -> Result<(Allocation, bool)> {
        req.validate()?;
        if let Some(n) = req.gpu_count {
            if n != offer.gpu_count {
                return Err(Error::invalid(
                    "gpu_count",
                    format!("this offer comes with exactly {} GPUs", offer.gpu_count),
                ));
            }
        }
        if let Some(existing) = self.by_idempotency(user, req).await? {
            return Ok((existing, false));
        }
        if offer.available == 0 {
            return Err(Error::conflict(
                ConflictKind::NoCapacity,
                "this offer has no free capacity",
            ));
        }
        let now = self.clock.now_ms();
        let id = new_id();
        let mut tx = self.db.begin().await?;
        // Take the write locks first (per user, per offer): concurrent requests serialize
        // here on PostgreSQL row locks and on SQLite's single writer.
        sqlx::query("UPDATE users SET lock_version = lock_version + 1 WHERE id = $1")
            .bind(&user.id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO offer_locks (offer_id, version) VALUES ($1, 1) \
             ON CONFLICT (offer_id) DO UPDATE SET version = offer_locks.version + 1",
        )
        .bind(&offer.id.0)
        .execute(&mut *tx)
        .await?;
        if let Some(existing) = self.by_idempotency_with(&mut tx, user, req).await? {
            return Ok((existing, false));
        }
        let ctx = Ctx {
            tenant_id: &user.tenant_id,
            user_id: Some(&user.id),
        };
        let limit = self
            .params
            .int_with(&mut tx, params::MAX_CONCURRENT, ctx)
            .await?;
        let (live,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM allocations WHERE user_id = $1 AND live = 1")
                .bind(&user.id)
                .fetch_one(&mut *tx)
                .await?;
        if live >= limit {
            return Err(Error::conflict(
                ConflictKind::ConcurrencyLimit,
                format!("you already have {live} live deployments; the limit is {limit}"),
            ));
        }
        let (in_flight,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM allocations WHERE offer_id = $1 AND live = 1 \
             AND (instance_id IS NULL OR updated_at >= $2)",
        )
        .bind(&offer.id.0)
        .bind(listed_at_ms)
        .fetch_one(&mut *tx)
        .await?;
        if in_flight >= i64::from(offer.available) {
            return Err(Error::conflict(
                ConflictKind::NoCapacity,
                "the last free unit of this offer was just taken",
            ));
        }
        let mode_str = mode.as_str();
        sqlx::query(
            "INSERT INTO allocations (id, tenant_id, user_id, mode, offer_id, provider, gpu_model, state, live, gpu_count, disk_gib, image, \
             quoted_price_micro, idempotency_key, request_hash, created_at, updated_at, ssh_public_key) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'requested', 1, $8, $9, $10, $11, $12, $13, $14, $14, $15)",
        )
        .bind(&id)
        .bind(&user.tenant_id)
        .bind(&user.id)
        .bind(mode_str)
        .bind(&offer.id.0)
        .bind(&offer.provider.0)
        .bind(&offer.gpu_model)
        .bind(i64::from(offer.gpu_count))
        .bind(i64::from(req.disk_gib))
        .bind(&req.image)
        .bind(offer.price_per_hour.0)
        .bind(req.idempotency_key.as_deref())
        .bind(&req.fingerprint)
        .bind(now)
        .bind(req.ssh_public_key.as_deref())
        .execute(&mut *tx)
        .await?;
        // Reserve one billing window of the quoted price (+ markup); short funds roll the
        // whole request back.
        let amount = self
            .ledger
            .hold_quote_with(&mut tx, &user.tenant_id, &user.id, offer.price_per_hour.0)
            .await?;
        self.ledger
            .hold_with(&mut tx, now, &user.id, &id, amount)
            .await?;
        jobs::enqueue(&mut tx, now, jobs::Kind::Provision, &id).await?;
        events::append(
            &mut tx,
            now,
            NewEvent {
                tenant_id: &user.tenant_id,
                topic: "deployment.state",
                subject_id: &id,
                user_id: Some(&user.id),
                payload: &json!({"id": id, "from": null, "to": "requested"}),
            },
        )
        .await?;
        let a = load_with(&mut tx, &id).await?;
        tx.commit().await?;
        Ok((a, true))
    }

    async fn by_idempotency(&self, user: &User, req: &DeployRequest) -> Result<Option<Allocation>> {
        let mut conn = self.db.pool.acquire().await?;
        self.by_idempotency_with(&mut conn, user, req).await
    }

    async fn by_idempotency_with(
        &self,
        conn: &mut AnyConnection,
        user: &User,
        req: &DeployRequest,
    ) -> Result<Option<Allocation>> {
        let Some(key) = &req.idempotency_key else {
            return Ok(None);
        };
        let row: Option<(String, String)> = sqlx::query_as(
            "SELECT id, request_hash FROM allocations WHERE user_id = $1 AND idempotency_key = $2",
        )
        .bind(&user.id)
        .bind(key)
        .fetch_optional(&mut *conn)
        .await?;
        match row {
            None => Ok(None),
            Some((_, hash)) if hash != req.fingerprint => Err(Error::conflict(
                ConflictKind::IdempotencyMismatch,
                "this Idempotency-Key was used for a different request",
            )),
            Some((id, _)) => Ok(Some(load_with(conn, &id).await?)),
        }
    }

    /// One allocation, if `user` may see it (owners and admins).
    pub async fn get(&self, user: &User, id: &str) -> Result<Allocation> {
        let a = self.load(id).await?;
        if a.user_id != user.id && user.role != Role::Admin {
            return Err(Error::NotFound { what: "deployment" });
        }
        Ok(a)
    }

    /// Newest first, keyset-paged by (created_at, id); admins see everyone's.
    pub async fn list(
        &self,
        user: &User,
        before: Option<(i64, String)>,
        limit: i64,
        state: Option<State>,
    ) -> Result<Vec<Allocation>> {
        let (bt, bid) = before.unwrap_or((i64::MAX, String::new()));
        let owner = if user.role == Role::Admin {
            ""
        } else {
            user.id.as_str()
        };
        let rows: Vec<Row> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM allocations WHERE ($1 = '' OR user_id = $1) AND ($2 = '' OR state = $2) \
             AND (created_at < $3 OR (created_at = $3 AND ($4 = '' OR id < $4))) ORDER BY created_at DESC, id DESC LIMIT $5"
        ))
        .bind(owner)
        .bind(state.map_or("", State::as_str))
        .bind(bt)
        .bind(bid)
        .bind(limit)
        .fetch_all(&self.db.pool)
        .await?;
        rows.into_iter().map(from_row).collect()
    }

    /// Asks for release: `ready`/`active` (or `release_failed`, to retry) → `releasing`, and
    /// queues the release job. Releasing again is a no-op.
    #[instrument(skip_all, fields(allocation = id))]
    pub async fn release(&self, user: &User, id: &str) -> Result<Allocation> {
        let a = self.get(user, id).await?;
        if matches!(a.state, State::Releasing | State::Released) {
            return Ok(a);
        }
        let now = self.clock.now_ms();
        let mut tx = self.db.begin().await?;
        step(&mut tx, now, &a, State::Releasing, None).await?;
        jobs::enqueue(&mut tx, now, jobs::Kind::Release, &a.id).await?;
        if a.state == State::ReleaseFailed {
            crate::audit::record(
                &mut tx,
                now,
                crate::audit::AuditEntry {
                    tenant_id: Some(&a.tenant_id),
                    actor: &user.id,
                    action: "deployment.release_retry",
                    subject: &format!("deployment:{}", a.id),
                    before: Some("release_failed"),
                    after: Some("releasing"),
                    reason: None,
                },
            )
            .await?;
        }
        let a = load_with(&mut tx, id).await?;
        tx.commit().await?;
        Ok(a)
    }

    /// Releases a deployment because its owner's credit is depleted: `ready`/`active` →
    /// `releasing` with the release job and a `deployment.auto_release` audit row, through the
    /// same path as a user's release (billing stops at the provider-confirmed release).
    /// Checked again under the owner's lock, so a top-up that lands first keeps it running.
    /// Returns whether it released.
    #[instrument(skip_all, fields(allocation = id))]
    pub async fn auto_release(&self, id: &str) -> Result<bool> {
        let now = self.clock.now_ms();
        let mut tx = self.db.begin().await?;
        let a = load_with(&mut tx, id).await?;
        sqlx::query("UPDATE users SET lock_version = lock_version + 1 WHERE id = $1")
            .bind(&a.user_id)
            .execute(&mut *tx)
            .await?;
        let depleted: Option<(String,)> = sqlx::query_as(
            "SELECT state FROM ledger_billing_states WHERE user_id = $1 AND state = 'depleted'",
        )
        .bind(&a.user_id)
        .fetch_optional(&mut *tx)
        .await?;
        let a = load_with(&mut tx, id).await?;
        if depleted.is_none() || !matches!(a.state, State::Ready | State::Active) {
            return Ok(false);
        }
        step(&mut tx, now, &a, State::Releasing, Some("credit depleted")).await?;
        jobs::enqueue(&mut tx, now, jobs::Kind::Release, &a.id).await?;
        crate::audit::record(
            &mut tx,
            now,
            crate::audit::AuditEntry {
                tenant_id: Some(&a.tenant_id),
                actor: "billing",
                action: "deployment.auto_release",
                subject: &format!("deployment:{}", a.id),
                before: Some(a.state.as_str()),
                after: Some("releasing"),
                reason: Some("credit depleted"),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Redeems the emailed single-use activation token: `ready` → `active`.
    #[instrument(skip_all, fields(allocation = id))]
    pub async fn activate(&self, id: &str, token: &str) -> Result<Activated> {
        let now = self.clock.now_ms();
        let mut tx = self.db.begin().await?;
        let row: Option<(Option<String>, Option<i64>)> = sqlx::query_as(
            "SELECT activation_token_hash, activation_expires_at FROM allocations WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((hash, expires)) = row else {
            return Err(Error::NotFound { what: "deployment" });
        };
        let a = load_with(&mut tx, id).await?;
        if a.state == State::Active && hash.is_none() {
            return Err(Error::conflict(
                ConflictKind::InvalidState,
                "this deployment is already active; the link was used",
            ));
        }
        let valid = hash.is_some_and(|h| h == crate::accounts::digest(token))
            && expires.is_some_and(|e| e > now);
        if !valid {
            return Err(Error::invalid(
                "token",
                "the activation link is invalid or has expired",
            ));
        }
        step(&mut tx, now, &a, State::Active, None).await?;
        // Billing starts now.
        self.ledger.meter_with(&mut tx, &a.id, now).await?;
        sqlx::query("UPDATE allocations SET activation_token_hash = NULL, activation_expires_at = NULL WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let a = load_with(&mut tx, id).await?;
        tx.commit().await?;
        Ok(Activated {
            connection: a.connection.clone(),
            allocation: a,
        })
    }

    // ---- job steps -------------------------------------------------------------------

    /// One run of the provisioning job: make (or find) the instance, wait for it to run,
    /// then `ready` (activation mail) or straight to `active`.
    #[instrument(skip_all, fields(allocation = allocation_id))]
    pub async fn provision_step(
        &self,
        provider: Option<Arc<dyn Provider>>,
        alternatives: &dyn Alternatives,
        allocation_id: &str,
    ) -> Result<Outcome> {
        let a = self.load(allocation_id).await?;
        let a = match a.state {
            State::Requested => {
                let now = self.clock.now_ms();
                let mut tx = self.db.begin().await?;
                step(&mut tx, now, &a, State::Provisioning, None).await?;
                let a = load_with(&mut tx, allocation_id).await?;
                tx.commit().await?;
                a
            }
            State::Provisioning => a,
            // Already past provisioning (a duplicate or resumed run): nothing to do.
            _ => return Ok(Outcome::Done),
        };
        let Some(provider) = provider else {
            self.fail(&a, "provider is not configured in this mode")
                .await?;
            return Ok(Outcome::Dead("provider not configured".into()));
        };
        let instance = match self.find_or_provision(provider.as_ref(), &a).await {
            Ok(i) => i,
            // Nothing was started for this allocation yet: try the next-ranked equivalent offer.
            Err(
                e @ (ProviderError::NoCapacity
                | ProviderError::NoQuota
                | ProviderError::Transient(_)),
            ) if a.instance_id.is_none() => return self.fail_over(&a, &e, alternatives).await,
            Err(e) if e.is_retryable() => return Ok(Outcome::Retry(e.to_string())),
            Err(e) => {
                self.fail(&a, &e.to_string()).await?;
                return Ok(Outcome::Done);
            }
        };
        match instance.state {
            InstanceState::Running => {
                self.mark_ready(&a, &instance).await?;
                Ok(Outcome::Done)
            }
            InstanceState::Pending => Ok(Outcome::Wait(self.poll_interval().await)),
            InstanceState::Failed | InstanceState::Terminating | InstanceState::Terminated => {
                let _ = provider.release(&instance.id).await;
                self.fail(&a, "the instance failed to start").await?;
                Ok(Outcome::Done)
            }
        }
    }

    async fn poll_interval(&self) -> Duration {
        let ms = self
            .params
            .int(
                params::JOB_POLL_MS,
                Ctx {
                    tenant_id: crate::tenants::DEFAULT_TENANT,
                    user_id: None,
                },
            )
            .await
            .unwrap_or(1000);
        Duration::from_millis(u64::try_from(ms).unwrap_or(1000))
    }

    async fn find_or_provision(
        &self,
        provider: &dyn Provider,
        a: &Allocation,
    ) -> Result<Instance, ProviderError> {
        if let Some(iid) = &a.instance_id {
            return provider.status(&InstanceId(iid.clone())).await;
        }
        // A run that died after the provider made the instance but before we stored its id
        // finds it by allocation id instead of provisioning a second one.
        let inst = match provider.find_by_allocation(&a.id).await? {
            Some(i) => i,
            None => {
                provider
                    .provision(&ProvisionRequest {
                        allocation_id: a.id.clone(),
                        offer_id: a.offer_id.clone(),
                        gpu_count: a.gpu_count,
                        disk_gib: a.disk_gib,
                        image: a.image.clone(),
                        ssh_public_key: a.ssh_public_key.clone(),
                    })
                    .await?
            }
        };
        let stored = sqlx::query("UPDATE allocations SET instance_id = $1, updated_at = $2 WHERE id = $3 AND instance_id IS NULL")
            .bind(&inst.id.0)
            .bind(self.clock.now_ms())
            .bind(&a.id)
            .execute(&self.db.pool)
            .await;
        if let Err(e) = stored {
            warn!(error = %e, "could not store the instance id; the next run finds it by allocation id");
            return Err(ProviderError::Transient(
                "storing the instance id failed".into(),
            ));
        }
        Ok(inst)
    }

    async fn mark_ready(&self, a: &Allocation, inst: &Instance) -> Result<()> {
        let now = self.clock.now_ms();
        let ctx = Ctx {
            tenant_id: &a.tenant_id,
            user_id: Some(&a.user_id),
        };
        let require = self.params.bool(params::REQUIRE_ACTIVATION, ctx).await?;
        let ttl = self.params.int(params::ACTIVATION_TTL, ctx).await?;
        let (email,): (String,) = sqlx::query_as("SELECT email FROM users WHERE id = $1")
            .bind(&a.user_id)
            .fetch_one(&self.db.pool)
            .await?;
        let mut tx = self.db.begin().await?;
        let conn_json = inst
            .connection
            .as_ref()
            .map(|c| serde_json::to_string(c).unwrap_or_default());
        sqlx::query("UPDATE allocations SET connection = $1 WHERE id = $2")
            .bind(conn_json)
            .bind(&a.id)
            .execute(&mut *tx)
            .await?;
        step(&mut tx, now, a, State::Ready, None).await?;
        let ready = Allocation {
            state: State::Ready,
            ..a.clone()
        };
        if require {
            let (token, hash) = crate::accounts::new_secret();
            sqlx::query("UPDATE allocations SET activation_token_hash = $1, activation_expires_at = $2 WHERE id = $3")
                .bind(hash)
                .bind(now + ttl * 1000)
                .bind(&a.id)
                .execute(&mut *tx)
                .await?;
            let link = format!("{}/activate/{}?token={}", self.base_url, a.id, token);
            mail::send(
                &mut tx,
                now,
                &a.tenant_id,
                &email,
                &Template::Activation {
                    deployment_id: a.id.clone(),
                    gpu_count: i64::from(a.gpu_count),
                    gpu_model: a.gpu_model.clone(),
                    provider: a.provider.to_string(),
                    link,
                    ttl_hours: ttl / 3600,
                },
                &format!("activation:{}", a.id),
            )
            .await?;
        } else {
            step(
                &mut tx,
                now,
                &ready,
                State::Active,
                Some("activation not required"),
            )
            .await?;
            self.ledger.meter_with(&mut tx, &a.id, now).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn fail(&self, a: &Allocation, reason: &str) -> Result<()> {
        let now = self.clock.now_ms();
        let mut tx = self.db.begin().await?;
        let a = load_with(&mut tx, &a.id).await?;
        if a.state.can_become(State::Failed) {
            step(&mut tx, now, &a, State::Failed, Some(reason)).await?;
            // Never billed; the hold goes back.
            self.ledger.meter_with(&mut tx, &a.id, now).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Called when a provisioning job is dead-lettered: the allocation fails and any
    /// instance made for it is released so nothing is orphaned.
    pub async fn provision_dead(
        &self,
        provider: Option<Arc<dyn Provider>>,
        allocation_id: &str,
        error: &str,
    ) -> Result<()> {
        let a = self.load(allocation_id).await?;
        if let Some(p) = provider {
            if let Ok(Some(inst)) = p.find_by_allocation(&a.id).await {
                let _ = p.release(&inst.id).await;
            }
        }
        self.fail(&a, &format!("provisioning gave up: {error}"))
            .await
    }

    /// One run of the release job: ask the provider to terminate, and mark `released` only
    /// once it confirms the instance is gone.
    #[instrument(skip_all, fields(allocation = allocation_id))]
    pub async fn release_step(
        &self,
        provider: Option<Arc<dyn Provider>>,
        allocation_id: &str,
    ) -> Result<Outcome> {
        let a = self.load(allocation_id).await?;
        if a.state != State::Releasing {
            return Ok(Outcome::Done);
        }
        let Some(provider) = provider else {
            return Ok(Outcome::Retry("provider not configured".into()));
        };
        // Only the provider's own answer says there is nothing to release: a failed lookup
        // is retried, never taken for "gone".
        let iid = match &a.instance_id {
            Some(i) => Some(InstanceId(i.clone())),
            None => match provider.find_by_allocation(&a.id).await {
                Ok(found) => found.map(|i| i.id),
                Err(e) => return Ok(Outcome::Retry(e.to_string())),
            },
        };
        let gone = match iid {
            None => true,
            Some(iid) => match provider.status(&iid).await {
                Ok(i) if i.state == InstanceState::Terminated => true,
                // Reused ids (owned machines): the instance now serves another allocation, so
                // ours is gone; never release someone else's.
                Ok(i) if !i.allocation_id.is_empty() && i.allocation_id != a.id => true,
                Ok(i) if i.state == InstanceState::Terminating => false,
                Ok(_) => match provider.release(&iid).await {
                    Ok(()) | Err(ProviderError::NotFound) => false,
                    Err(e) if e.is_retryable() => return Ok(Outcome::Retry(e.to_string())),
                    Err(e) => return Ok(Outcome::Retry(e.to_string())),
                },
                Err(ProviderError::NotFound) => true,
                Err(e) => return Ok(Outcome::Retry(e.to_string())),
            },
        };
        if !gone {
            return Ok(Outcome::Wait(self.poll_interval().await));
        }
        let now = self.clock.now_ms();
        let mut tx = self.db.begin().await?;
        step(&mut tx, now, &a, State::Released, None).await?;
        // Billing stops at the provider-confirmed release; the rest of the hold goes back.
        self.ledger.meter_with(&mut tx, &a.id, now).await?;
        tx.commit().await?;
        Ok(Outcome::Done)
    }

    /// Called when a release job is dead-lettered.
    pub async fn release_dead(&self, allocation_id: &str, error: &str) -> Result<()> {
        let now = self.clock.now_ms();
        let mut tx = self.db.begin().await?;
        let a = load_with(&mut tx, allocation_id).await?;
        if a.state == State::Releasing {
            step(
                &mut tx,
                now,
                &a,
                State::ReleaseFailed,
                Some(&format!("release gave up: {error}")),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Per provider: provisionings that reached `ready` (or later) and ones that failed.
    pub async fn track_record(
        &self,
        mode: Mode,
    ) -> Result<std::collections::HashMap<ProviderId, (i64, i64)>> {
        let rows: Vec<(String, i64, i64)> = sqlx::query_as(
            "SELECT provider, \
             CAST(SUM(CASE WHEN state IN ('ready', 'active', 'releasing', 'released', 'release_failed') THEN 1 ELSE 0 END) AS BIGINT), \
             CAST(SUM(CASE WHEN state = 'failed' THEN 1 ELSE 0 END) AS BIGINT) \
             FROM allocations WHERE mode = $1 GROUP BY provider",
        )
        .bind(mode.as_str())
        .fetch_all(&self.db.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(p, ok, failed)| (ProviderId(p), (ok, failed)))
            .collect())
    }

    /// The stored allocation (no access check: for jobs).
    pub async fn load(&self, id: &str) -> Result<Allocation> {
        let mut conn = self.db.pool.acquire().await?;
        load_with(&mut conn, id).await
    }
}
