//! Admin API for provider credentials: write-only (`PUT`), masked reads (`GET` shows the
//! hint, never the secret), `DELETE`. A change to a LIVE credential rebuilds the LIVE world.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::put;
use axum::{Json, Router};
use broker::credentials::{CredentialView, NewCredential};
use broker::tenants::{Mode, DEFAULT_TENANT};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{ApiJson, Page};
use crate::auth::Admin;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

fn unprocessable(field: &str, message: &str) -> ApiError {
    ApiError::Broker(broker::Error::InvalidCredential {
        field: field.to_string(),
        message: format!("`{field}` {message}"),
    })
}

fn mode_of(raw: Option<&str>) -> ApiResult<Mode> {
    match raw.filter(|m| !m.is_empty()) {
        None => Err(unprocessable("mode", "is required (`live` or `sandbox`)")),
        Some(m) => {
            Mode::parse(m).ok_or_else(|| unprocessable("mode", "must be `live` or `sandbox`"))
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PutBody {
    mode: Option<String>,
    secret: Option<Value>,
    #[serde(default)]
    settings: Option<Value>,
}

impl std::fmt::Debug for PutBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PutBody")
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

/// The body's secret and settings, typed; the first wrong field is named.
fn credential_of(b: PutBody) -> ApiResult<NewCredential> {
    let secret = match b.secret {
        None => {
            return Err(unprocessable(
                "secret",
                "is required (an object of strings)",
            ))
        }
        Some(Value::Object(m)) => m,
        Some(_) => return Err(unprocessable("secret", "must be an object of strings")),
    };
    let mut out = BTreeMap::new();
    for (k, v) in secret {
        match v {
            Value::String(s) => {
                out.insert(k, providers::http::Secret::new(s));
            }
            _ => return Err(unprocessable(&format!("secret.{k}"), "must be a string")),
        }
    }
    let settings = match b.settings {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m,
        Some(_) => return Err(unprocessable("settings", "must be an object")),
    };
    Ok(NewCredential {
        secret: out,
        settings,
    })
}

/// Rebuilds the LIVE world when the default POD's LIVE credentials changed.
async fn after_change(s: &AppState, tenant_id: &str, mode: Mode) -> ApiResult<()> {
    if mode == Mode::Live && tenant_id == DEFAULT_TENANT {
        s.broker.rebuild_live().await?;
    }
    Ok(())
}

async fn put_credential(
    State(s): State<Arc<AppState>>,
    Admin(a): Admin,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<PutBody>,
) -> ApiResult<Json<CredentialView>> {
    let mode = mode_of(b.mode.as_deref())?;
    let cred = credential_of(b)?;
    let view = s
        .broker
        .credentials
        .put(&a.tenant_id, mode, &id, cred, &a.email)
        .await?;
    tracing::info!(admin = %a.email, provider = %id, mode = mode.as_str(), hint = %view.hint,
        "provider credential stored");
    after_change(&s, &a.tenant_id, mode).await?;
    Ok(Json(view))
}

async fn get_credentials(
    State(s): State<Arc<AppState>>,
    Admin(a): Admin,
    Path(id): Path<String>,
) -> ApiResult<Json<Page<CredentialView>>> {
    Ok(Json(Page {
        items: s.broker.credentials.list(&a.tenant_id, &id).await?,
        next_cursor: None,
    }))
}

#[derive(Debug, Deserialize)]
struct DeleteQuery {
    mode: Option<String>,
}

async fn delete_credential(
    State(s): State<Arc<AppState>>,
    Admin(a): Admin,
    Path(id): Path<String>,
    Query(q): Query<DeleteQuery>,
) -> ApiResult<StatusCode> {
    let mode = mode_of(q.mode.as_deref())?;
    s.broker
        .credentials
        .delete(&a.tenant_id, mode, &id, &a.email)
        .await?;
    tracing::info!(admin = %a.email, provider = %id, mode = mode.as_str(), "provider credential removed");
    after_change(&s, &a.tenant_id, mode).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub fn router() -> Router<Arc<AppState>> {
    Router::new().route(
        "/api/v1/admin/providers/{id}/credentials",
        put(put_credential)
            .get(get_credentials)
            .delete(delete_credential),
    )
}
