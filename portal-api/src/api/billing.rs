//! Prepaid credit: the caller's balance, holds, billing state and runway; admin credit
//! adjustments. (Top-ups through Stripe and statements come with the payments work.)

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use broker::ledger::billing::BillingState;
use broker::ledger::Posted;
use serde::{Deserialize, Serialize};

use super::{create_status, required_idempotency_key, ApiJson};
use crate::auth::{Admin, Authed};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

#[derive(Debug, Serialize)]
struct BillingView {
    currency: &'static str,
    /// Credit that can be spent or held, cents.
    available_minor: i64,
    /// Credit reserved for running deployments, cents.
    held_minor: i64,
    state: BillingState,
    /// What the deployments being billed cost per hour, cents.
    burn_per_hour_minor: i64,
    /// How long the credit lasts at that rate (none when nothing is billed).
    runway_seconds: Option<i64>,
    /// Unused prepaid credit that can be refunded now (`POST /billing/refunds`).
    refundable_minor: i64,
    /// No credit and no live deployment: the UI sends the user to top up first.
    onboarding: bool,
    /// The most recent failed payment attempt not since paid (retry the same intent).
    last_payment_failure: Option<broker::payments::Failure>,
    /// The current plan subscription (not ended), with its last failed invoice payment.
    subscription: Option<broker::payments::Subscription>,
}

async fn billing(
    State(s): State<Arc<AppState>>,
    Authed(u): Authed,
) -> ApiResult<Json<BillingView>> {
    let l = &s.broker.ledger;
    let bal = l.balance(&u.id).await.map_err(broker::Error::from)?;
    let burn = l.burn_per_hour(&u.id).await.map_err(broker::Error::from)?;
    let state = l.billing_state(&u.id).await.map_err(broker::Error::from)?;
    let runway_seconds = (burn > 0).then(|| bal.credit_minor().max(0).saturating_mul(3600) / burn);
    let refundable_minor = l.refundable(&u.id).await.map_err(broker::Error::from)?;
    let onboarding = l
        .needs_onboarding(&u.id)
        .await
        .map_err(broker::Error::from)?;
    Ok(Json(BillingView {
        currency: "USD",
        available_minor: bal.available_minor,
        held_minor: bal.held_minor,
        state,
        burn_per_hour_minor: burn,
        runway_seconds,
        refundable_minor,
        onboarding,
        last_payment_failure: s.broker.payments.last_failure(&u.id).await?,
        subscription: s.broker.payments.current_subscription(&u.id).await?,
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AdjustBody {
    amount_minor: i64,
    reason: String,
}

async fn adjust(
    State(s): State<Arc<AppState>>,
    Admin(a): Admin,
    Path(user_id): Path<String>,
    headers: HeaderMap,
    ApiJson(b): ApiJson<AdjustBody>,
) -> ApiResult<(StatusCode, Json<Posted>)> {
    let key = required_idempotency_key(&headers, "an adjustment")?;
    if b.reason.trim().is_empty() {
        return Err(ApiError::Broker(broker::Error::invalid(
            "reason", "say why",
        )));
    }
    s.broker.accounts.by_id(&user_id).await?;
    let posted = s
        .broker
        .ledger
        .adjust(&a, &user_id, b.amount_minor, &b.reason, key)
        .await
        .map_err(broker::Error::from)?;
    Ok((create_status(!posted.replayed), Json(posted)))
}

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/v1/billing", get(billing))
        .route("/api/v1/admin/users/{id}/adjustments", post(adjust))
}
