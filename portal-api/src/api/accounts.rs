//! Registration, login, token refresh and logout.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use broker::accounts::User;
use serde::{Deserialize, Serialize};

use super::ApiJson;
use crate::auth::{Authed, ACCESS_TTL_SECS};
use crate::error::ApiResult;
use crate::state::AppState;

#[derive(Debug, Deserialize)]
struct Credentials {
    email: String,
    password: String,
}

#[derive(Debug, Deserialize)]
struct RefreshBody {
    refresh_token: String,
}

#[derive(Debug, Serialize)]
struct Tokens {
    access_token: String,
    refresh_token: String,
    token_type: &'static str,
    expires_in: i64,
    user: User,
}

fn tokens(state: &AppState, user: User, refresh_token: String) -> ApiResult<Tokens> {
    let access_token = state
        .keys
        .issue(&user, state.broker.clock.now().timestamp())?;
    Ok(Tokens {
        access_token,
        refresh_token,
        token_type: "Bearer",
        expires_in: ACCESS_TTL_SECS,
        user,
    })
}

async fn register(
    State(s): State<Arc<AppState>>,
    ApiJson(c): ApiJson<Credentials>,
) -> ApiResult<(StatusCode, Json<Tokens>)> {
    let user = s.broker.register(&c.email, &c.password).await?;
    let refresh = s.broker.accounts.issue_refresh(&user.id).await?;
    Ok((StatusCode::CREATED, Json(tokens(&s, user, refresh)?)))
}

async fn login(
    State(s): State<Arc<AppState>>,
    ApiJson(c): ApiJson<Credentials>,
) -> ApiResult<Json<Tokens>> {
    let user = s
        .broker
        .accounts
        .verify_login(&c.email, &c.password)
        .await?;
    let refresh = s.broker.accounts.issue_refresh(&user.id).await?;
    Ok(Json(tokens(&s, user, refresh)?))
}

async fn refresh(
    State(s): State<Arc<AppState>>,
    ApiJson(b): ApiJson<RefreshBody>,
) -> ApiResult<Json<Tokens>> {
    let (user, next) = s.broker.accounts.rotate_refresh(&b.refresh_token).await?;
    Ok(Json(tokens(&s, user, next)?))
}

async fn logout(
    State(s): State<Arc<AppState>>,
    ApiJson(b): ApiJson<RefreshBody>,
) -> ApiResult<StatusCode> {
    s.broker.accounts.revoke_refresh(&b.refresh_token).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn me(
    State(s): State<Arc<AppState>>,
    Authed(u): Authed,
) -> ApiResult<Json<serde_json::Value>> {
    let user = s.broker.accounts.by_id(&u.id).await?;
    let mode = s.broker.mode(&user.tenant_id).await?;
    Ok(Json(serde_json::json!({"user": user, "mode": mode})))
}

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/v1/auth/register", post(register))
        .route("/api/v1/auth/login", post(login))
        .route("/api/v1/auth/refresh", post(refresh))
        .route("/api/v1/auth/logout", post(logout))
        .route("/api/v1/me", get(me))
}
