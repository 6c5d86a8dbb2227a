//! The only network edge of gpubroker: the axum HTTP API ([`api`]), the embedded web UI
//! ([`ui`]), authentication ([`auth`]), boot configuration ([`config`]), the server
//! start-up ([`server`]) and the `gpubroker` command line ([`cli`]).
//!
//! Invariants: handlers parse → call broker → map to a DTO; no SQL here; errors become
//! problem+json in one place ([`error`]).

pub mod api;
pub mod auth;
pub mod aws;
pub mod cli;
pub mod config;
pub mod error;
pub mod identity;
pub mod metrics;
pub mod server;
pub mod state;
pub mod stripe;
pub mod telemetry;
pub mod ui;

use std::sync::Arc;

use axum::routing::get;
use axum::{Json, Router};
use tower_http::trace::TraceLayer;

use crate::error::ApiError;
use crate::state::AppState;

async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({"status": "ok"}))
}

async fn jwks(
    axum::extract::State(s): axum::extract::State<Arc<AppState>>,
) -> Json<serde_json::Value> {
    Json(s.keys.jwks())
}

async fn no_route() -> ApiError {
    ApiError::NoRoute
}

/// The whole HTTP application.
pub fn app(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/.well-known/jwks.json", get(jwks))
        .route("/metrics", get(metrics::metrics))
        .merge(api::router())
        .merge(ui::router())
        .fallback(no_route)
        .layer(TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
            tracing::info_span!("request", method = %req.method(), path = %req.uri().path())
        }))
        .with_state(state)
}
