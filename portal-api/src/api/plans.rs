//! Plans: the public pricing table (`GET /plans`) and the admin's plan and role changes.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::routing::{get, put};
use axum::{Json, Router};
use broker::accounts::{Role, User};
use broker::plans::{Plan, PlanView};
use broker::tenants::DEFAULT_TENANT;
use serde::{Deserialize, Serialize};

use super::ApiJson;
use crate::auth::{Admin, MaybeAuthed};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

#[derive(Debug, Serialize)]
struct PlansPage {
    items: Vec<PlanView>,
    next_cursor: Option<String>,
    /// The caller's plan when signed in.
    current: Option<Plan>,
}

async fn list(
    State(s): State<Arc<AppState>>,
    MaybeAuthed(u): MaybeAuthed,
) -> ApiResult<Json<PlansPage>> {
    let tenant = u.as_ref().map_or(DEFAULT_TENANT, |u| u.tenant_id.as_str());
    let items = s.broker.plans.catalogue(tenant).await?;
    let current = match &u {
        Some(u) => Some(s.broker.plans.plan_of(&u.id).await?),
        None => None,
    };
    Ok(Json(PlansPage {
        items,
        next_cursor: None,
        current,
    }))
}

#[derive(Debug, Serialize)]
struct UserView {
    #[serde(flatten)]
    user: User,
    plan: Plan,
}

async fn view(s: &AppState, user: User) -> ApiResult<Json<UserView>> {
    let plan = s.broker.plans.plan_of(&user.id).await?;
    Ok(Json(UserView { user, plan }))
}

async fn get_user(
    State(s): State<Arc<AppState>>,
    Admin(_): Admin,
    Path(id): Path<String>,
) -> ApiResult<Json<UserView>> {
    let user = s.broker.accounts.by_id(&id).await?;
    view(&s, user).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlanBody {
    plan: String,
    reason: Option<String>,
}

async fn set_plan(
    State(s): State<Arc<AppState>>,
    Admin(a): Admin,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<PlanBody>,
) -> ApiResult<Json<UserView>> {
    let plan = Plan::parse_field("plan", &b.plan)?;
    let user = s
        .broker
        .plans
        .set_plan(&a.email, &id, plan, b.reason.as_deref())
        .await?;
    view(&s, user).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleBody {
    role: String,
    reason: Option<String>,
}

async fn set_role(
    State(s): State<Arc<AppState>>,
    Admin(a): Admin,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<RoleBody>,
) -> ApiResult<Json<UserView>> {
    let role = Role::parse(&b.role).ok_or_else(|| {
        ApiError::Broker(broker::Error::invalid_choice(
            "role",
            &b.role,
            Role::ALL.iter().map(|r| r.as_str().to_string()).collect(),
        ))
    })?;
    if id == a.id && role != Role::Admin {
        return Err(ApiError::Broker(broker::Error::invalid(
            "role",
            "an admin cannot revoke their own admin role",
        )));
    }
    let user = s
        .broker
        .plans
        .set_role(&a.email, &id, role, b.reason.as_deref())
        .await?;
    view(&s, user).await
}

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/v1/plans", get(list))
        .route("/api/v1/admin/users/{id}", get(get_user))
        .route("/api/v1/admin/users/{id}/plan", put(set_plan))
        .route("/api/v1/admin/users/{id}/role", put(set_role))
}
