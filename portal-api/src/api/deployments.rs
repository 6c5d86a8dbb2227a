//! Deployments: request (idempotent), list, inspect, activate, release.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use broker::allocations::{Allocation, Attempt, DeployRequest, State as AllocState, IMAGES};
use broker::service::Target;
use providers::{Connection, OfferId};
use serde::{Deserialize, Serialize};

use super::{create_status, decode_cursor, encode_cursor, parse_limit, ApiJson, Page};
use crate::auth::Authed;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DeployBody {
    offer_id: Option<String>,
    /// Filters (as in `GET /offers`) to deploy the best matching offer instead.
    best: Option<BTreeMap<String, String>>,
    gpu_count: Option<u32>,
    disk_gib: Option<u32>,
    image: Option<String>,
    ssh_public_key: Option<String>,
}

/// A deployment as the API shows it: connection details only once active.
#[derive(Debug, Serialize)]
pub struct DeploymentView {
    #[serde(flatten)]
    allocation: Allocation,
    connection: Option<Connection>,
    /// The offers tried and left before the current one (failover), on the single view.
    #[serde(skip_serializing_if = "Option::is_none")]
    attempts: Option<Vec<Attempt>>,
}

impl From<Allocation> for DeploymentView {
    fn from(mut a: Allocation) -> Self {
        let connection = if a.state == AllocState::Active {
            a.connection.take()
        } else {
            None
        };
        a.connection = None;
        DeploymentView {
            allocation: a,
            connection,
            attempts: None,
        }
    }
}

async fn create(
    State(s): State<Arc<AppState>>,
    Authed(user): Authed,
    headers: HeaderMap,
    ApiJson(raw): ApiJson<serde_json::Value>,
) -> ApiResult<Response> {
    let fingerprint = broker::accounts::digest(&raw.to_string());
    let body: DeployBody =
        serde_json::from_value(raw).map_err(|e| ApiError::BadBody(e.to_string()))?;
    let idempotency_key = match headers.get("idempotency-key") {
        None => None,
        Some(v) => Some(
            v.to_str()
                .map_err(|_| {
                    ApiError::Broker(broker::Error::invalid(
                        "Idempotency-Key",
                        "must be visible ASCII",
                    ))
                })?
                .to_string(),
        ),
    };
    let target = match (body.offer_id, body.best) {
        (Some(id), None) => Target::Offer(OfferId(id)),
        (None, Some(f)) => Target::Best(f.into_iter().collect()),
        (None, None) => {
            return Err(ApiError::Broker(broker::Error::invalid(
                "offer_id",
                "give `offer_id` or `best` filters",
            )))
        }
        (Some(_), Some(_)) => {
            return Err(ApiError::Broker(broker::Error::invalid(
                "best",
                "give either `offer_id` or `best`, not both",
            )))
        }
    };
    let req = DeployRequest {
        gpu_count: body.gpu_count,
        disk_gib: body.disk_gib.unwrap_or(100),
        image: body.image.unwrap_or_else(|| IMAGES[0].to_string()),
        ssh_public_key: body.ssh_public_key,
        idempotency_key,
        fingerprint,
    };
    let (a, created) = s.broker.deploy(&user, target, &req).await?;
    let location = HeaderValue::from_str(&format!("/api/v1/deployments/{}", a.id)).ok();
    let mut resp = (create_status(created), Json(DeploymentView::from(a))).into_response();
    if let Some(l) = location {
        resp.headers_mut().insert(axum::http::header::LOCATION, l);
    }
    if !created {
        resp.headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(resp)
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    cursor: Option<String>,
    limit: Option<String>,
    state: Option<String>,
}

async fn list(
    State(s): State<Arc<AppState>>,
    Authed(user): Authed,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<Page<DeploymentView>>> {
    let limit = parse_limit(q.limit.as_deref())?;
    let state = match q.state.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(st) => Some(AllocState::parse(st).ok_or_else(|| {
            ApiError::Broker(broker::Error::invalid_choice(
                "state",
                st,
                AllocState::ALL
                    .iter()
                    .map(|s| s.as_str().to_string())
                    .collect(),
            ))
        })?),
    };
    let before = decode_cursor(q.cursor.as_deref())?;
    let mut rows = s
        .broker
        .allocations
        .list(&user, before, limit + 1, state)
        .await?;
    let more = rows.len() > usize::try_from(limit).unwrap_or(50);
    rows.truncate(usize::try_from(limit).unwrap_or(50));
    let next_cursor = if more {
        rows.last().map(|a| encode_cursor(a.created_at, &a.id))
    } else {
        None
    };
    Ok(Json(Page {
        items: rows.into_iter().map(DeploymentView::from).collect(),
        next_cursor,
    }))
}

async fn get_one(
    State(s): State<Arc<AppState>>,
    Authed(user): Authed,
    Path(id): Path<String>,
) -> ApiResult<Json<DeploymentView>> {
    let a = s.broker.allocations.get(&user, &id).await?;
    let attempts = s.broker.allocations.attempts(&a.id).await?;
    let mut view = DeploymentView::from(a);
    view.attempts = Some(attempts);
    Ok(Json(view))
}

async fn release(
    State(s): State<Arc<AppState>>,
    Authed(user): Authed,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<DeploymentView>)> {
    Ok((
        StatusCode::ACCEPTED,
        Json(s.broker.release(&user, &id).await?.into()),
    ))
}

#[derive(Debug, Deserialize)]
struct ActivateBody {
    token: String,
}

/// The emailed token is the credential here (single use, expiring), so the link works from
/// any browser the owner opens it in.
async fn activate(
    State(s): State<Arc<AppState>>,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<ActivateBody>,
) -> ApiResult<Json<DeploymentView>> {
    let out = s.broker.allocations.activate(&id, &b.token).await?;
    s.broker.dispatcher.nudge();
    Ok(Json(out.allocation.into()))
}

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/v1/deployments", post(create).get(list))
        .route("/api/v1/deployments/{id}", get(get_one))
        .route("/api/v1/deployments/{id}/release", post(release))
        .route("/api/v1/deployments/{id}/activate", post(activate))
}
