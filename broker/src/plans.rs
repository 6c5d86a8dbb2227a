//! Plans (FREE, PRO, ENTERPRISE) and the roles they give, with one audited way to change a
//! user's plan or role.
//!
//! A user's role is `admin` when they were granted it, else the role of their plan (`user`,
//! `pro`, `enterprise`). Everything a plan offers is a parameter: prices and support level
//! are per-plan keys (`plans.<plan>.monthly_price_minor`, `…annual_price_minor`,
//! `…support`, `plans.recommended`); limits are ordinary parameters set at the `plan` scope
//! (`allocation.max_concurrent_per_user`, `rate_limit.api_requests_per_minute`), resolved
//! user → plan → tenant → global → default. Live prices from the payment gateway replace the
//! price parameters in LIVE mode (the payments work).
//!
//! Invariant: a plan or role change writes the user row, its audit rows (`plan.change`,
//! `role.change`) and a `user.role` event in one transaction.

use serde::Serialize;
use serde_json::{json, Value};
use tracing::instrument;

use crate::accounts::{user_columns, Role, User};
use crate::audit::{self, AuditEntry};
use crate::events::{self, NewEvent};
use crate::params::{self, Ctx, Params};
use crate::{Db, Error, Result};

/// A subscription plan.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Plan {
    #[default]
    Free,
    Pro,
    Enterprise,
}

impl Plan {
    pub const ALL: [Plan; 3] = [Plan::Free, Plan::Pro, Plan::Enterprise];

    pub fn as_str(self) -> &'static str {
        match self {
            Plan::Free => "free",
            Plan::Pro => "pro",
            Plan::Enterprise => "enterprise",
        }
    }

    pub fn parse(s: &str) -> Option<Plan> {
        Plan::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// Parses a plan name or says which names exist.
    pub fn parse_field(field: &str, s: &str) -> Result<Plan> {
        Plan::parse(s).ok_or_else(|| {
            Error::invalid_choice(
                field,
                s,
                Plan::ALL.iter().map(|p| p.as_str().to_string()).collect(),
            )
        })
    }

    /// The role a (non-admin) user on this plan has.
    pub fn role(self) -> Role {
        match self {
            Plan::Free => Role::User,
            Plan::Pro => Role::Pro,
            Plan::Enterprise => Role::Enterprise,
        }
    }

    /// The display name (`FREE`, `PRO`, `ENTERPRISE`).
    pub fn name(self) -> &'static str {
        match self {
            Plan::Free => "FREE",
            Plan::Pro => "PRO",
            Plan::Enterprise => "ENTERPRISE",
        }
    }

    fn key(self, fact: &str) -> String {
        format!("{}{}.{fact}", params::PLAN_PREFIX, self.as_str())
    }
}

/// One row of the feature table.
#[derive(Debug, Clone, Serialize)]
pub struct Feature {
    /// Stable id of the feature.
    pub key: &'static str,
    pub label: &'static str,
    pub value: Value,
    /// The parameter the value comes from (and the scope an operator sets it at).
    pub param: String,
}

/// A plan as the pricing table shows it.
#[derive(Debug, Clone, Serialize)]
pub struct PlanView {
    pub id: Plan,
    pub name: &'static str,
    /// The role the plan gives.
    pub role: Role,
    pub recommended: bool,
    pub currency: &'static str,
    pub monthly_price_minor: i64,
    pub annual_price_minor: i64,
    pub features: Vec<Feature>,
}

/// The plan-scoped limits the feature table shows: (feature key, label, parameter).
const PLAN_LIMITS: &[(&str, &str, &str)] = &[
    (
        "max_concurrent_deployments",
        "Concurrent deployments",
        params::MAX_CONCURRENT,
    ),
    (
        "api_requests_per_minute",
        "API requests per minute",
        params::RATE_LIMIT,
    ),
];

/// Plans and plan/role changes.
#[derive(Debug, Clone)]
pub struct Plans {
    db: Db,
    clock: std::sync::Arc<dyn crate::Clock>,
    params: Params,
}

impl Plans {
    pub fn new(db: Db, clock: std::sync::Arc<dyn crate::Clock>, params: Params) -> Self {
        Plans { db, clock, params }
    }

    /// Every plan with its prices and feature table, as in effect for a tenant.
    pub async fn catalogue(&self, tenant_id: &str) -> Result<Vec<PlanView>> {
        let ctx = Ctx {
            tenant_id,
            user_id: None,
        };
        let recommended = self.params.text(params::PLAN_RECOMMENDED, ctx).await?;
        let mut out = Vec::with_capacity(Plan::ALL.len());
        for plan in Plan::ALL {
            let mut features = Vec::new();
            for (key, label, param) in PLAN_LIMITS {
                features.push(Feature {
                    key,
                    label,
                    value: self
                        .params
                        .for_plan(param, tenant_id, plan.as_str())
                        .await?,
                    param: format!("{param}@plan:{}", plan.as_str()),
                });
            }
            let support = plan.key("support");
            features.push(Feature {
                key: "support",
                label: "Support",
                value: self.params.get(&support, ctx).await?,
                param: support,
            });
            out.push(PlanView {
                id: plan,
                name: plan.name(),
                role: plan.role(),
                recommended: recommended == plan.as_str(),
                currency: crate::ledger::CURRENCY,
                monthly_price_minor: self
                    .params
                    .int(&plan.key("monthly_price_minor"), ctx)
                    .await?,
                annual_price_minor: self
                    .params
                    .int(&plan.key("annual_price_minor"), ctx)
                    .await?,
                features,
            });
        }
        Ok(out)
    }

    /// A user's plan.
    pub async fn plan_of(&self, user_id: &str) -> Result<Plan> {
        let row: Option<(String,)> = sqlx::query_as("SELECT plan FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(&self.db.pool)
            .await?;
        let (p,) = row.ok_or(Error::NotFound { what: "user" })?;
        Plan::parse(&p).ok_or_else(|| Error::Internal(format!("unknown plan {p}")))
    }

    /// Puts a user on a plan (and thereby gives them its role, unless they are an admin).
    /// `actor` says who did it (an admin's email, `payments:<subscription>`…). Audited as
    /// `plan.change` and, when the role changes, `role.change`; a no-op when nothing changes.
    /// Access tokens carry the role, so it shows in the next token (≤ 15 minutes).
    #[instrument(skip_all, fields(user = user_id, plan = plan.as_str()))]
    pub async fn set_plan(
        &self,
        actor: &str,
        user_id: &str,
        plan: Plan,
        reason: Option<&str>,
    ) -> Result<User> {
        self.change(actor, user_id, Target::Plan(plan), reason)
            .await
    }

    /// Gives a user a role: `admin` grants admin (the plan is kept); `user`, `pro`,
    /// `enterprise` revoke admin and put the user on the matching plan. Audited like
    /// [`Plans::set_plan`].
    #[instrument(skip_all, fields(user = user_id, role = role.as_str()))]
    pub async fn set_role(
        &self,
        actor: &str,
        user_id: &str,
        role: Role,
        reason: Option<&str>,
    ) -> Result<User> {
        self.change(actor, user_id, Target::Role(role), reason)
            .await
    }

    async fn change(
        &self,
        actor: &str,
        user_id: &str,
        target: Target,
        reason: Option<&str>,
    ) -> Result<User> {
        let now = self.clock.now_ms();
        let mut tx = self.db.begin().await?;
        let after = change_with(&mut tx, now, actor, user_id, target, reason).await?;
        tx.commit().await?;
        Ok(after)
    }
}

/// [`Plans::set_plan`] on the caller's transaction (the payments webhook changes the plan in
/// the transaction that records the subscription event). Same audit rows and event.
pub async fn set_plan_with(
    conn: &mut sqlx::AnyConnection,
    now: i64,
    actor: &str,
    user_id: &str,
    plan: Plan,
    reason: Option<&str>,
) -> Result<User> {
    change_with(conn, now, actor, user_id, Target::Plan(plan), reason).await
}

async fn change_with(
    tx: &mut sqlx::AnyConnection,
    now: i64,
    actor: &str,
    user_id: &str,
    target: Target,
    reason: Option<&str>,
) -> Result<User> {
    // Lock the user's row first (the same lock deployments and the ledger take).
    let n = sqlx::query("UPDATE users SET lock_version = lock_version + 1 WHERE id = $1")
        .bind(user_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if n == 0 {
        return Err(Error::NotFound { what: "user" });
    }
    let before = load(tx, user_id).await?;
    let (before_plan,): (String,) = sqlx::query_as("SELECT plan FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_one(&mut *tx)
        .await?;
    let before_plan = Plan::parse(&before_plan).unwrap_or_default();
    let (admin, plan) = match target {
        Target::Plan(p) => (before.role == Role::Admin, p),
        Target::Role(Role::Admin) => (true, before_plan),
        Target::Role(r) => (false, r.plan().unwrap_or_default()),
    };
    sqlx::query("UPDATE users SET role = $1, plan = $2 WHERE id = $3")
        .bind(if admin { "admin" } else { "user" })
        .bind(plan.as_str())
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    let after = load(tx, user_id).await?;
    let subject = format!("user:{user_id}");
    let mut changes = Vec::new();
    if plan != before_plan {
        changes.push(("plan.change", before_plan.as_str(), plan.as_str()));
    }
    if after.role != before.role {
        changes.push(("role.change", before.role.as_str(), after.role.as_str()));
    }
    for (action, from, to) in &changes {
        audit::record(
            tx,
            now,
            AuditEntry {
                tenant_id: Some(&after.tenant_id),
                actor,
                action,
                subject: &subject,
                before: Some(from),
                after: Some(to),
                reason,
            },
        )
        .await?;
    }
    if !changes.is_empty() {
        events::append(
            tx,
            now,
            NewEvent {
                tenant_id: &after.tenant_id,
                topic: "user.role",
                subject_id: user_id,
                user_id: Some(user_id),
                payload: &json!({
                    "user_id": user_id,
                    "plan": {"from": before_plan, "to": plan},
                    "role": {"from": before.role, "to": after.role},
                }),
            },
        )
        .await?;
    }
    Ok(after)
}

enum Target {
    Plan(Plan),
    Role(Role),
}

async fn load(conn: &mut sqlx::AnyConnection, user_id: &str) -> Result<User> {
    let (id, tenant_id, email, role, created_at): (String, String, String, String, i64) =
        sqlx::query_as(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE id = $1"
        ))
        .bind(user_id)
        .fetch_one(&mut *conn)
        .await?;
    Ok(User {
        id,
        tenant_id,
        email,
        role: Role::parse(&role).unwrap_or(Role::User),
        created_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_plan_gives_its_role_and_each_non_admin_role_names_its_plan() {
        for p in Plan::ALL {
            assert_eq!(p.role().plan(), Some(p));
            assert_eq!(Plan::parse(p.as_str()), Some(p));
        }
        assert_eq!(Role::Admin.plan(), None);
    }

    #[test]
    fn unknown_plan_names_list_the_known_ones() {
        match Plan::parse_field("plan", "gold") {
            Err(Error::Invalid {
                allowed: Some(a), ..
            }) => assert_eq!(a, ["free", "pro", "enterprise"]),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn every_plan_fact_is_a_defined_parameter() {
        for p in Plan::ALL {
            for fact in ["monthly_price_minor", "annual_price_minor", "support"] {
                assert!(params::def(&p.key(fact)).is_ok(), "{}", p.key(fact));
            }
        }
        for (_, _, param) in PLAN_LIMITS {
            let d = params::def(param).unwrap();
            assert!(d.scopes.contains(&params::ScopeKind::Plan), "{param}");
        }
    }
}
