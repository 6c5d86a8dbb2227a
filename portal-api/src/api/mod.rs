//! The JSON API, one router per feature module, assembled by [`router`].

mod accounts;
mod admin;
mod billing;
mod credentials;
mod deployments;
mod offers;
mod payments;
mod plans;
mod resilience;
mod statements;

use std::sync::Arc;

use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::Router;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::ApiError;
use crate::state::AppState;

/// Every list response: `{"items": [...], "next_cursor": ...}`.
#[derive(Debug, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// A JSON body whose rejection is a problem+json 400 naming what is wrong.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| ApiError::BadBody(e.body_text()))?;
        let v: T = serde_json::from_slice(&bytes).map_err(|e| ApiError::BadBody(format!("{e}")))?;
        Ok(ApiJson(v))
    }
}

/// Keyset cursor over (created_at, id), shared by the list endpoints.
pub fn encode_cursor(created_at: i64, id: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{created_at}|{id}"))
}

pub fn decode_cursor(c: Option<&str>) -> Result<Option<(i64, String)>, ApiError> {
    use base64::Engine;
    let Some(c) = c.filter(|c| !c.is_empty()) else {
        return Ok(None);
    };
    let bad = || {
        ApiError::Broker(broker::Error::invalid(
            "cursor",
            "not a cursor this API issued",
        ))
    };
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(c)
        .map_err(|_| bad())?;
    let s = String::from_utf8(raw).map_err(|_| bad())?;
    let (t, id) = s.split_once('|').ok_or_else(bad)?;
    Ok(Some((t.parse().map_err(|_| bad())?, id.to_string())))
}

/// The `Idempotency-Key` header, if the request carries one.
pub fn idempotency_key(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .filter(|k| !k.is_empty())
}

/// The `Idempotency-Key` header a money-moving request must carry (`what` names the request
/// in the validation error: "an adjustment", "a refund").
pub fn required_idempotency_key<'h>(
    headers: &'h axum::http::HeaderMap,
    what: &str,
) -> Result<&'h str, ApiError> {
    idempotency_key(headers).ok_or_else(|| {
        ApiError::Broker(broker::Error::invalid(
            "Idempotency-Key",
            format!("{what} needs an Idempotency-Key header"),
        ))
    })
}

/// The status of an idempotent create: 201 when this request created the resource, 200 when
/// it replays what an earlier request with the same key created.
pub fn create_status(created: bool) -> StatusCode {
    if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    }
}

/// Parses `limit` (1..=200, default 50).
pub fn parse_limit(raw: Option<&str>) -> Result<i64, ApiError> {
    match raw.filter(|s| !s.is_empty()) {
        None => Ok(50),
        Some(s) => match s.parse::<i64>() {
            Ok(n) if (1..=200).contains(&n) => Ok(n),
            _ => Err(ApiError::Broker(broker::Error::invalid(
                "limit",
                "must be an integer in 1..=200",
            ))),
        },
    }
}

/// The `/api/v1` router.
pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .merge(accounts::router())
        .merge(offers::router())
        .merge(deployments::router())
        .merge(admin::router())
        .merge(billing::router())
        .merge(plans::router())
        .merge(statements::router())
        .merge(payments::router())
        .merge(credentials::router())
        .merge(resilience::router())
}
