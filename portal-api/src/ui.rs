//! The embedded web UI (server-rendered pages; small vanilla JS calls the JSON API).

use std::sync::Arc;

use axum::response::Html;
use axum::routing::get;
use axum::Router;

use crate::state::AppState;

async fn landing() -> Html<&'static str> {
    Html("<!doctype html><title>gpubroker</title><h1>gpubroker</h1>")
}

pub fn router() -> Router<Arc<AppState>> {
    Router::new().route("/", get(landing))
}
