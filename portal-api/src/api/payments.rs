//! Payments: top-ups (PaymentIntents), saved cards (SetupIntents), the sandbox's confirm
//! action, the Stripe webhook, and the admin list of received webhook events.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use broker::payments::{EventFilter, EventRecord, EventStatus, Intent, WebhookOutcome};
use broker::payments::{Interval, Subscription};
use broker::plans::Plan;
use serde::{Deserialize, Serialize};

use super::{
    create_status, decode_cursor, encode_cursor, idempotency_key, parse_limit, ApiJson, Page,
};
use crate::auth::{Admin, Authed};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TopupBody {
    amount_minor: i64,
    currency: String,
}

async fn create_topup(
    State(s): State<Arc<AppState>>,
    Authed(u): Authed,
    headers: HeaderMap,
    ApiJson(b): ApiJson<TopupBody>,
) -> ApiResult<(StatusCode, Json<Intent>)> {
    let (intent, new) = s
        .broker
        .payments
        .create_topup(&u, b.amount_minor, &b.currency, idempotency_key(&headers))
        .await?;
    Ok((create_status(new), Json(intent)))
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    limit: Option<String>,
}

async fn list_intents(
    State(s): State<Arc<AppState>>,
    Authed(u): Authed,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<Page<Intent>>> {
    let limit = parse_limit(q.limit.as_deref())?;
    let items = s.broker.payments.intents(&u.id, limit).await?;
    Ok(Json(Page {
        items,
        next_cursor: None,
    }))
}

async fn create_setup_intent(
    State(s): State<Arc<AppState>>,
    Authed(u): Authed,
    headers: HeaderMap,
) -> ApiResult<(StatusCode, Json<Intent>)> {
    let (intent, new) = s
        .broker
        .payments
        .create_setup_intent(&u, idempotency_key(&headers))
        .await?;
    Ok((create_status(new), Json(intent)))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfirmBody {
    /// A test card number; `4242 4242 4242 4242` when absent.
    card: Option<String>,
}

async fn sandbox_confirm(
    State(s): State<Arc<AppState>>,
    Authed(u): Authed,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Json<WebhookOutcome>> {
    let b: ConfirmBody = if body.is_empty() {
        ConfirmBody::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::BadBody(e.to_string()))?
    };
    let out = s
        .broker
        .payments
        .sandbox_confirm(&u, &id, b.card.as_deref())
        .await?;
    Ok(Json(out))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SubscribeBody {
    plan: String,
    interval: String,
}

/// `POST /api/v1/billing/subscription`: subscribes (or changes plan). The role follows when
/// the gateway's signed event arrives, not here.
async fn subscribe(
    State(s): State<Arc<AppState>>,
    Authed(u): Authed,
    ApiJson(b): ApiJson<SubscribeBody>,
) -> ApiResult<(StatusCode, Json<Subscription>)> {
    let plan = Plan::parse_field("plan", &b.plan)?;
    let interval = Interval::parse_field("interval", &b.interval)?;
    let (sub, new) = s.broker.payments.subscribe(&u, plan, interval).await?;
    Ok((create_status(new), Json(sub)))
}

/// `DELETE /api/v1/billing/subscription`: cancels now; the plan drops to FREE on the event.
async fn unsubscribe(
    State(s): State<Arc<AppState>>,
    Authed(u): Authed,
) -> ApiResult<Json<Subscription>> {
    Ok(Json(s.broker.payments.unsubscribe(&u).await?))
}

#[derive(Debug, Serialize)]
struct Received {
    received: bool,
    #[serde(flatten)]
    outcome: WebhookOutcome,
}

/// `POST /api/v1/webhooks/stripe`: no bearer token; the `Stripe-Signature` is the proof.
async fn stripe_webhook(
    State(s): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Received>> {
    let sig = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok());
    let outcome = s.broker.payments.handle_webhook(&body, sig).await?;
    Ok(Json(Received {
        received: true,
        outcome,
    }))
}

#[derive(Debug, Deserialize)]
struct EventsQuery {
    status: Option<String>,
    flagged: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

async fn admin_events(
    State(s): State<Arc<AppState>>,
    Admin(_): Admin,
    Query(q): Query<EventsQuery>,
) -> ApiResult<Json<Page<EventRecord>>> {
    let limit = parse_limit(q.limit.as_deref())?;
    let status = match q.status.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(v) => Some(EventStatus::parse(v).ok_or_else(|| {
            ApiError::Broker(broker::Error::invalid_choice(
                "status",
                v,
                vec!["processed".into(), "ignored".into(), "rejected".into()],
            ))
        })?),
    };
    let flagged = match q.flagged.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(v) => {
            return Err(ApiError::Broker(broker::Error::invalid_choice(
                "flagged",
                v,
                vec!["true".into(), "false".into()],
            )))
        }
    };
    let items = s
        .broker
        .payments
        .events(&EventFilter {
            status,
            flagged,
            before: decode_cursor(q.cursor.as_deref())?,
            limit: limit + 1,
        })
        .await?;
    let mut items = items;
    let next_cursor = if items.len() as i64 > limit {
        items.truncate(usize::try_from(limit).unwrap_or(50));
        items.last().map(|e| encode_cursor(e.received_at, &e.id))
    } else {
        None
    };
    Ok(Json(Page { items, next_cursor }))
}

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route(
            "/api/v1/billing/topups",
            post(create_topup).get(list_intents),
        )
        .route("/api/v1/billing/setup-intents", post(create_setup_intent))
        .route(
            "/api/v1/billing/sandbox/intents/{id}/confirm",
            post(sandbox_confirm),
        )
        .route("/api/v1/webhooks/stripe", post(stripe_webhook))
        .route("/api/v1/admin/payments/events", get(admin_events))
        .route(
            "/api/v1/billing/subscription",
            post(subscribe).delete(unsubscribe),
        )
}
