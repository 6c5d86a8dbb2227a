//! Admin API: parameters (CRUD with scopes and audit), audit log, the sandbox outbox,
//! jobs, and the sandbox market's fault knobs.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use broker::params::{Change, Ctx, Scope, ScopeKind, View};
use chrono::{DateTime, Utc};
use providers::ProviderId;
use serde::{Deserialize, Serialize};

use super::{decode_cursor, encode_cursor, parse_limit, ApiJson, Page};
use crate::auth::Admin;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

fn scope_of(
    admin: &broker::accounts::User,
    kind: Option<&str>,
    id: Option<String>,
    key: &str,
) -> ApiResult<Scope> {
    let default_kind = if key == broker::params::MODE {
        "tenant"
    } else {
        "global"
    };
    let kind = kind.filter(|k| !k.is_empty()).unwrap_or(default_kind);
    let k = ScopeKind::parse(kind).ok_or_else(|| {
        ApiError::Broker(broker::Error::invalid_choice(
            "scope",
            kind,
            ScopeKind::ALL
                .iter()
                .map(|k| k.as_str().to_string())
                .collect(),
        ))
    })?;
    Ok(match k {
        ScopeKind::Global => Scope::Global,
        ScopeKind::Tenant => Scope::Tenant(
            id.filter(|i| !i.is_empty())
                .unwrap_or_else(|| admin.tenant_id.clone()),
        ),
        ScopeKind::Plan => Scope::Plan(id.filter(|i| !i.is_empty()).ok_or_else(|| {
            ApiError::Broker(broker::Error::invalid(
                "scope_id",
                "plan scope needs the plan (free, pro or enterprise)",
            ))
        })?),
        ScopeKind::User => Scope::User(id.filter(|i| !i.is_empty()).ok_or_else(|| {
            ApiError::Broker(broker::Error::invalid(
                "scope_id",
                "user scope needs the user's id",
            ))
        })?),
    })
}

#[derive(Debug, Deserialize)]
struct ViewQuery {
    user_id: Option<String>,
}

async fn list_params(
    State(s): State<Arc<AppState>>,
    Admin(a): Admin,
    Query(q): Query<ViewQuery>,
) -> ApiResult<Json<Page<View>>> {
    let ctx = Ctx {
        tenant_id: &a.tenant_id,
        user_id: q.user_id.as_deref(),
    };
    Ok(Json(Page {
        items: s.broker.params.list(None, ctx).await?,
        next_cursor: None,
    }))
}

async fn get_param(
    State(s): State<Arc<AppState>>,
    Admin(a): Admin,
    Path(key): Path<String>,
    Query(q): Query<ViewQuery>,
) -> ApiResult<Json<View>> {
    let ctx = Ctx {
        tenant_id: &a.tenant_id,
        user_id: q.user_id.as_deref(),
    };
    let mut v = s.broker.params.list(Some(&key), ctx).await?;
    v.pop()
        .map(Json)
        .ok_or(ApiError::Broker(broker::Error::NotFound {
            what: "parameter",
        }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SetBody {
    value: serde_json::Value,
    scope: Option<String>,
    scope_id: Option<String>,
    effective_at: Option<DateTime<Utc>>,
    reason: Option<String>,
    confirm: Option<String>,
}

async fn set_param(
    State(s): State<Arc<AppState>>,
    Admin(a): Admin,
    Path(key): Path<String>,
    ApiJson(b): ApiJson<SetBody>,
) -> ApiResult<Json<View>> {
    let scope = scope_of(&a, b.scope.as_deref(), b.scope_id, &key)?;
    s.broker
        .params
        .set(
            &a.email,
            Change {
                key: key.clone(),
                scope,
                value: b.value,
                effective_at: b.effective_at.map(|t| t.timestamp_millis()),
                reason: b.reason,
                confirm: b.confirm,
            },
        )
        .await?;
    let mut v = s
        .broker
        .params
        .list(
            Some(&key),
            Ctx {
                tenant_id: &a.tenant_id,
                user_id: None,
            },
        )
        .await?;
    v.pop()
        .map(Json)
        .ok_or(ApiError::Broker(broker::Error::NotFound {
            what: "parameter",
        }))
}

#[derive(Debug, Deserialize)]
struct DeleteQuery {
    scope: Option<String>,
    scope_id: Option<String>,
    reason: Option<String>,
}

async fn delete_param(
    State(s): State<Arc<AppState>>,
    Admin(a): Admin,
    Path(key): Path<String>,
    Query(q): Query<DeleteQuery>,
) -> ApiResult<StatusCode> {
    let scope = scope_of(&a, q.scope.as_deref(), q.scope_id, &key)?;
    s.broker
        .params
        .delete(&a.email, &key, scope, q.reason.as_deref())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
struct AuditQuery {
    subject: Option<String>,
    limit: Option<String>,
}

async fn param_audit(
    State(s): State<Arc<AppState>>,
    Admin(_): Admin,
    Path(key): Path<String>,
) -> ApiResult<Json<Page<broker::audit::AuditRow>>> {
    broker::params::def(&key)?;
    let items = broker::audit::list(&s.broker.db, Some(&format!("param:{key}@")), 200).await?;
    Ok(Json(Page {
        items,
        next_cursor: None,
    }))
}

async fn audit(
    State(s): State<Arc<AppState>>,
    Admin(_): Admin,
    Query(q): Query<AuditQuery>,
) -> ApiResult<Json<Page<broker::audit::AuditRow>>> {
    let limit = parse_limit(q.limit.as_deref())?;
    let items = broker::audit::list(&s.broker.db, q.subject.as_deref(), limit).await?;
    Ok(Json(Page {
        items,
        next_cursor: None,
    }))
}

#[derive(Debug, Deserialize)]
struct OutboxQuery {
    to: Option<String>,
    cursor: Option<String>,
    limit: Option<String>,
}

async fn outbox(
    State(s): State<Arc<AppState>>,
    Admin(_): Admin,
    Query(q): Query<OutboxQuery>,
) -> ApiResult<Json<Page<broker::mail::OutboxMail>>> {
    let limit = parse_limit(q.limit.as_deref())?;
    let before = decode_cursor(q.cursor.as_deref())?;
    let to =
        q.to.as_deref()
            .filter(|t| !t.is_empty())
            .map(str::to_ascii_lowercase);
    let mut rows = broker::mail::outbox(&s.broker.db, to.as_deref(), before, limit + 1).await?;
    let more = rows.len() > usize::try_from(limit).unwrap_or(50);
    rows.truncate(usize::try_from(limit).unwrap_or(50));
    let next_cursor = if more {
        rows.last().map(|m| encode_cursor(m.created_at, &m.id))
    } else {
        None
    };
    Ok(Json(Page {
        items: rows,
        next_cursor,
    }))
}

#[derive(Debug, Deserialize)]
struct JobsQuery {
    allocation_id: String,
}

async fn jobs(
    State(s): State<Arc<AppState>>,
    Admin(_): Admin,
    Query(q): Query<JobsQuery>,
) -> ApiResult<Json<Page<broker::jobs::JobRow>>> {
    Ok(Json(Page {
        items: broker::jobs::of_allocation(&s.broker.db, &q.allocation_id).await?,
        next_cursor: None,
    }))
}

async fn refresh_offers(State(s): State<Arc<AppState>>, Admin(a): Admin) -> ApiResult<StatusCode> {
    let mode = s.broker.mode(&a.tenant_id).await?;
    s.broker.refresh(mode).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Runs the reconciler now (it also runs every `reconciler.interval_seconds`): instances the
/// broker made that no live allocation owns are released; the answer says what it did.
async fn reconcile(
    State(s): State<Arc<AppState>>,
    Admin(_): Admin,
) -> ApiResult<Json<Vec<broker::allocations::ReconcileReport>>> {
    Ok(Json(s.broker.reconcile_once().await?))
}

/// The sandbox market's fault knobs for one provider.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KnobsBody {
    latency_ms: u64,
    failure_rate: f64,
    out_of_capacity: bool,
    provision_seconds: u64,
    release_seconds: u64,
}

fn market(s: &AppState) -> ApiResult<&Arc<sandbox::Market>> {
    s.market
        .as_ref()
        .ok_or(ApiError::Broker(broker::Error::NotFound {
            what: "sandbox market",
        }))
}

/// `id` is a provider of the sandbox market, or a validation error listing them.
pub(super) fn known_provider(m: &sandbox::Market, id: &str) -> ApiResult<()> {
    let ids = m.provider_ids();
    if ids.iter().any(|p| p.0 == id) {
        Ok(())
    } else {
        Err(ApiError::Broker(broker::Error::invalid_choice(
            "provider",
            id,
            ids.into_iter().map(|p| p.0).collect(),
        )))
    }
}

async fn get_knobs(
    State(s): State<Arc<AppState>>,
    Admin(_): Admin,
    Path(id): Path<String>,
) -> ApiResult<Json<KnobsBody>> {
    let m = market(&s)?;
    known_provider(m, &id)?;
    let k = m.knobs(&id);
    Ok(Json(KnobsBody {
        latency_ms: u64::try_from(k.latency.as_millis()).unwrap_or(u64::MAX),
        failure_rate: k.failure_rate,
        out_of_capacity: k.out_of_capacity,
        provision_seconds: k.provision_seconds,
        release_seconds: k.release_seconds,
    }))
}

async fn set_knobs(
    State(s): State<Arc<AppState>>,
    Admin(a): Admin,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<KnobsBody>,
) -> ApiResult<Json<KnobsBody>> {
    let m = market(&s)?;
    known_provider(m, &id)?;
    if !(0.0..=1.0).contains(&b.failure_rate) {
        return Err(ApiError::Broker(broker::Error::invalid(
            "failure_rate",
            "must be within 0..=1",
        )));
    }
    if b.latency_ms > 120_000 || b.provision_seconds > 86_400 || b.release_seconds > 86_400 {
        return Err(ApiError::Broker(broker::Error::invalid(
            "latency_ms",
            "latency ≤ 120000 ms, provision/release ≤ 86400 s",
        )));
    }
    m.set_knobs(
        &id,
        sandbox::market::Knobs {
            latency: Duration::from_millis(b.latency_ms),
            failure_rate: b.failure_rate,
            out_of_capacity: b.out_of_capacity,
            provision_seconds: b.provision_seconds,
            release_seconds: b.release_seconds,
        },
    );
    tracing::info!(admin = %a.email, provider = %id, "sandbox knobs changed");
    Ok(Json(b))
}

async fn instances(
    State(s): State<Arc<AppState>>,
    Admin(_): Admin,
) -> ApiResult<Json<Page<providers::Instance>>> {
    let m = market(&s)?;
    let items = m
        .provider_ids()
        .iter()
        .flat_map(|p: &ProviderId| m.instances(p))
        .collect();
    Ok(Json(Page {
        items,
        next_cursor: None,
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MfaResetBody {
    reason: String,
}

/// `POST /api/v1/admin/users/{id}/mfa/reset`: removes a user's TOTP factor and recovery
/// codes (audited as `auth.mfa_reset`; the user is mailed).
async fn mfa_reset(
    State(s): State<Arc<AppState>>,
    Admin(a): Admin,
    Path(user_id): Path<String>,
    ApiJson(b): ApiJson<MfaResetBody>,
) -> ApiResult<Json<serde_json::Value>> {
    s.broker.accounts.mfa_reset(&a, &user_id, &b.reason).await?;
    Ok(Json(
        serde_json::json!({"user_id": user_id, "mfa_enabled": false}),
    ))
}

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/v1/admin/params", get(list_params))
        .route(
            "/api/v1/admin/params/{key}",
            get(get_param).put(set_param).delete(delete_param),
        )
        .route("/api/v1/admin/params/{key}/audit", get(param_audit))
        .route("/api/v1/admin/audit", get(audit))
        .route("/api/v1/admin/outbox", get(outbox))
        .route("/api/v1/admin/users/{id}/mfa/reset", post(mfa_reset))
        .route("/api/v1/admin/jobs", get(jobs))
        .route("/api/v1/admin/offers/refresh", post(refresh_offers))
        .route("/api/v1/admin/reconcile", post(reconcile))
        .route(
            "/api/v1/admin/sandbox/providers/{id}/knobs",
            put(set_knobs).get(get_knobs),
        )
        .route("/api/v1/admin/sandbox/instances", get(instances))
}
