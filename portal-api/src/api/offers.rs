//! Browsing: offers, GPU models and providers of the caller's world.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Json, Router};
use broker::offers::{OfferPage, RankedOffer};
use broker::tenants::DEFAULT_TENANT;
use providers::OfferId;
use serde::Serialize;

use super::Page;
use crate::auth::MaybeAuthed;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

fn tenant(u: &MaybeAuthed) -> String {
    u.0.as_ref()
        .map_or_else(|| DEFAULT_TENANT.to_string(), |u| u.tenant_id.clone())
}

async fn list(
    State(s): State<Arc<AppState>>,
    who: MaybeAuthed,
    q: Result<Query<Vec<(String, String)>>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<OfferPage>> {
    let Query(pairs) = q.map_err(|e| ApiError::BadBody(e.body_text()))?;
    Ok(Json(s.broker.offers(&tenant(&who), &pairs).await?))
}

async fn detail(
    State(s): State<Arc<AppState>>,
    who: MaybeAuthed,
    Path(id): Path<String>,
) -> ApiResult<Json<RankedOffer>> {
    Ok(Json(s.broker.offer(&tenant(&who), &OfferId(id)).await?))
}

#[derive(Debug, Serialize)]
struct GpuView {
    #[serde(flatten)]
    model: providers::gpus::GpuModel,
    offer_count: usize,
}

async fn gpus(State(s): State<Arc<AppState>>, who: MaybeAuthed) -> ApiResult<Json<Page<GpuView>>> {
    let snap = s
        .broker
        .index(s.broker.mode(&tenant(&who)).await?)
        .snapshot();
    let items = providers::gpus::catalogue()
        .iter()
        .map(|m| GpuView {
            model: m.clone(),
            offer_count: snap.offers.iter().filter(|o| o.gpu_model == m.name).count(),
        })
        .collect();
    Ok(Json(Page {
        items,
        next_cursor: None,
    }))
}

async fn providers_list(
    State(s): State<Arc<AppState>>,
    who: MaybeAuthed,
) -> ApiResult<Json<Page<broker::offers::ProviderStatus>>> {
    let index = s.broker.index(s.broker.mode(&tenant(&who)).await?);
    Ok(Json(Page {
        items: index.statuses(),
        next_cursor: None,
    }))
}

#[derive(Debug, Serialize)]
struct ProfileView {
    name: &'static str,
    /// Criterion → weight, as the parameter `ranking.weights.<name>` holds them now.
    weights: Vec<(&'static str, f64)>,
    default: bool,
}

/// The TOPSIS weight profiles users can pick (admins tune them as parameters).
async fn profiles(
    State(s): State<Arc<AppState>>,
    who: MaybeAuthed,
) -> ApiResult<Json<Page<ProfileView>>> {
    let tenant = tenant(&who);
    let mut items = Vec::new();
    for name in broker::offers::PROFILES {
        let w = s.broker.profile_weights(&tenant, name).await?;
        items.push(ProfileView {
            name,
            weights: broker::offers::CRITERIA
                .iter()
                .zip(w.0)
                .map(|((c, _), v)| (*c, v))
                .collect(),
            default: name == "balanced",
        });
    }
    Ok(Json(Page {
        items,
        next_cursor: None,
    }))
}

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/v1/offers", get(list))
        .route("/api/v1/offers/{*id}", get(detail))
        .route("/api/v1/gpus", get(gpus))
        .route("/api/v1/providers", get(providers_list))
        .route("/api/v1/ranking/profiles", get(profiles))
}
