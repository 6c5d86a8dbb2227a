//! Sign-up, email verification, sign-in (with the MFA step), token refresh, logout, and the
//! account's security settings (TOTP MFA enrolment). Every call goes through the POD's
//! identity provider ([`crate::identity`]).

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use broker::tenants::DEFAULT_TENANT;
use serde::Deserialize;
use serde_json::json;

use super::ApiJson;
use crate::auth::{bearer_token, Authed, Bearer};
use crate::error::ApiResult;
use crate::identity::{Confirmation, IdentityPort as _, Login};
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

#[derive(Debug, Deserialize)]
struct TokenBody {
    token: String,
}

#[derive(Debug, Deserialize)]
struct ConfirmBody {
    email: String,
    code: String,
}

#[derive(Debug, Deserialize)]
struct EmailBody {
    email: String,
}

#[derive(Debug, Deserialize)]
struct MfaBody {
    mfa_token: String,
    code: String,
}

#[derive(Debug, Deserialize)]
struct CodeBody {
    code: String,
}

#[derive(Debug, Deserialize)]
struct OAuthCallback {
    code: String,
    state: String,
}

async fn register(
    State(s): State<Arc<AppState>>,
    ApiJson(c): ApiJson<Credentials>,
) -> ApiResult<Response> {
    let idp = s.identity.for_tenant(&s, DEFAULT_TENANT).await?;
    let out = idp.sign_up(&c.email, &c.password).await?;
    let body = match out.session {
        Some(session) => {
            let mut v = serde_json::to_value(session).unwrap_or_default();
            v["verification_required"] = json!(false);
            v
        }
        None => json!({"user": out.user, "verification_required": out.verification_required}),
    };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

async fn verify_email(
    State(s): State<Arc<AppState>>,
    ApiJson(b): ApiJson<TokenBody>,
) -> ApiResult<Json<serde_json::Value>> {
    let user = s
        .identity
        .local
        .confirm(Confirmation::Link { token: b.token })
        .await?;
    Ok(Json(json!({"user": user, "email_verified": true})))
}

async fn confirm(
    State(s): State<Arc<AppState>>,
    ApiJson(b): ApiJson<ConfirmBody>,
) -> ApiResult<Json<serde_json::Value>> {
    let idp = s.identity.for_tenant(&s, DEFAULT_TENANT).await?;
    let user = idp
        .confirm(Confirmation::Code {
            email: b.email,
            code: b.code,
        })
        .await?;
    Ok(Json(json!({"user": user, "email_verified": true})))
}

/// Always 202, whether or not the address is registered (no account enumeration).
async fn resend_verification(
    State(s): State<Arc<AppState>>,
    ApiJson(b): ApiJson<EmailBody>,
) -> ApiResult<StatusCode> {
    if let Some(u) = s.broker.accounts.unverified_by_email(&b.email).await? {
        s.broker.send_verification(&u).await?;
    }
    Ok(StatusCode::ACCEPTED)
}

async fn login(
    State(s): State<Arc<AppState>>,
    ApiJson(c): ApiJson<Credentials>,
) -> ApiResult<Json<serde_json::Value>> {
    let idp = s.identity.for_tenant(&s, DEFAULT_TENANT).await?;
    match idp.login(&c.email, &c.password).await? {
        Login::Session(session) => Ok(Json(serde_json::to_value(session).unwrap_or_default())),
        Login::Mfa { mfa_token } => Ok(Json(json!({
            "mfa_required": true,
            "mfa_token": mfa_token,
            "methods": ["totp", "recovery_code"],
        }))),
    }
}

async fn login_mfa(
    State(s): State<Arc<AppState>>,
    ApiJson(b): ApiJson<MfaBody>,
) -> ApiResult<Json<serde_json::Value>> {
    let idp = s.identity.for_tenant(&s, DEFAULT_TENANT).await?;
    let session = idp.login_mfa(&b.mfa_token, &b.code).await?;
    Ok(Json(serde_json::to_value(session).unwrap_or_default()))
}

/// The hosted UI's providers and where a browser starts each sign-in (empty when the POD
/// does not sign in through a Cognito pool with a hosted UI).
async fn oauth_providers(State(s): State<Arc<AppState>>) -> ApiResult<Json<serde_json::Value>> {
    let providers: Vec<serde_json::Value> = match s.identity.hosted_ui(&s, DEFAULT_TENANT).await {
        Ok((_, ui)) => ui
            .providers()
            .iter()
            .map(|p| {
                json!({
                    "name": p,
                    "start_url": format!("/login/oauth/{}", crate::ui::encode_query_value(p)),
                })
            })
            .collect(),
        Err(_) => Vec::new(),
    };
    Ok(Json(json!({ "providers": providers })))
}

/// Finishes a hosted-UI sign-in: checks `state` against the browser's cookie, trades the code
/// (with the PKCE verifier) at the pool's token endpoint and answers the session like a
/// password sign-in, plus `next`. The cookie is cleared whatever the outcome.
async fn oauth_token(
    State(s): State<Arc<AppState>>,
    headers: HeaderMap,
    ApiJson(b): ApiJson<OAuthCallback>,
) -> ApiResult<Response> {
    if b.code.trim().is_empty() {
        return Err(broker::Error::invalid("code", "the authorization code is empty").into());
    }
    let (cognito, ui) = s.identity.hosted_ui(&s, DEFAULT_TENANT).await?;
    let clear = [(header::SET_COOKIE, ui.clear_cookie())];
    let pending = match ui.pending(&headers, &b.state) {
        Ok(p) => p,
        Err(e) => return Ok((clear, e).into_response()),
    };
    let session = match ui.exchange(b.code.trim(), &pending.verifier).await {
        Ok(tokens) => cognito.hosted_ui_session(&tokens, &pending.provider).await,
        Err(e) => Err(e),
    };
    match session {
        Ok(session) => {
            let mut v = serde_json::to_value(session).unwrap_or_default();
            v["next"] = json!(pending.next);
            Ok((clear, Json(v)).into_response())
        }
        Err(e) => {
            cognito
                .hosted_ui_failed(&pending.provider, &e.to_string())
                .await?;
            Ok((clear, e).into_response())
        }
    }
}

async fn refresh(
    State(s): State<Arc<AppState>>,
    ApiJson(b): ApiJson<RefreshBody>,
) -> ApiResult<Json<serde_json::Value>> {
    let idp = s.identity.for_tenant(&s, DEFAULT_TENANT).await?;
    let session = idp.refresh(&b.refresh_token).await?;
    Ok(Json(serde_json::to_value(session).unwrap_or_default()))
}

async fn logout(
    State(s): State<Arc<AppState>>,
    headers: HeaderMap,
    ApiJson(b): ApiJson<RefreshBody>,
) -> ApiResult<StatusCode> {
    let idp = s.identity.for_tenant(&s, DEFAULT_TENANT).await?;
    idp.logout(&b.refresh_token, bearer_token(&headers)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Revokes every refresh token of the caller (local accounts).
async fn logout_all(State(s): State<Arc<AppState>>, Authed(u): Authed) -> ApiResult<StatusCode> {
    s.broker.accounts.logout_all(&u.id).await?;
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

async fn security(
    State(s): State<Arc<AppState>>,
    Authed(u): Authed,
) -> ApiResult<Json<broker::identity::Security>> {
    Ok(Json(s.broker.accounts.security(&u.id).await?))
}

async fn mfa_enrol(
    State(s): State<Arc<AppState>>,
    Bearer(who): Bearer,
) -> ApiResult<(StatusCode, Json<crate::identity::Enrolment>)> {
    let idp = s.identity.for_tenant(&s, &who.user.tenant_id).await?;
    Ok((StatusCode::CREATED, Json(idp.mfa_enrol(&who).await?)))
}

async fn mfa_activate(
    State(s): State<Arc<AppState>>,
    Bearer(who): Bearer,
    ApiJson(b): ApiJson<CodeBody>,
) -> ApiResult<Json<serde_json::Value>> {
    let idp = s.identity.for_tenant(&s, &who.user.tenant_id).await?;
    let codes = idp.mfa_activate(&who, &b.code).await?;
    Ok(Json(json!({"mfa_enabled": true, "recovery_codes": codes})))
}

async fn mfa_disable(
    State(s): State<Arc<AppState>>,
    Bearer(who): Bearer,
    ApiJson(b): ApiJson<CodeBody>,
) -> ApiResult<StatusCode> {
    let idp = s.identity.for_tenant(&s, &who.user.tenant_id).await?;
    idp.mfa_disable(&who, &b.code).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/v1/auth/register", post(register))
        .route("/api/v1/auth/verify-email", post(verify_email))
        .route(
            "/api/v1/auth/verify-email/resend",
            post(resend_verification),
        )
        .route("/api/v1/auth/confirm", post(confirm))
        .route("/api/v1/auth/login", post(login))
        .route("/api/v1/auth/login/mfa", post(login_mfa))
        .route("/api/v1/auth/oauth/providers", get(oauth_providers))
        .route("/api/v1/auth/oauth/token", post(oauth_token))
        .route("/api/v1/auth/refresh", post(refresh))
        .route("/api/v1/auth/logout", post(logout))
        .route("/api/v1/auth/logout-all", post(logout_all))
        .route("/api/v1/me", get(me))
        .route("/api/v1/me/security", get(security))
        .route("/api/v1/me/mfa/totp", post(mfa_enrol))
        .route("/api/v1/me/mfa/totp/activate", post(mfa_activate))
        .route("/api/v1/me/mfa/disable", post(mfa_disable))
}
