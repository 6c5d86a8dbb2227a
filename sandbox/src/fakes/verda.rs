//! A fake of Verda's (formerly DataCrunch) REST API v1 (`/v1`) over the market's `verda`
//! offers and instances.
//!
//! - `POST /oauth2/token`: client credentials (`client_id` `sandbox`, `client_secret` = the
//!   sandbox key) → a bearer token every other route requires.
//! - `GET /instance-types`: one entry per instance type (prices are decimal strings, the
//!   cheapest location now; `gpu_memory` is the total); `GET /locations`;
//!   `GET /instance-availability?isSpot=`: the types each location has units of.
//! - `POST /instances`: `hostname` = allocation id; answers the new id as plain text; no
//!   unit left → 400 `insufficient_resources` (the code is this fake's assumption).
//! - `GET /instances`, `GET /instances/{id}`: `provisioning` → `running`; a deleted instance
//!   is gone (404).
//! - `PUT /instances {"id": [...], "action": "delete"}` → 202.

use std::collections::{BTreeMap, BTreeSet};

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use providers::{
    regions, Instance, InstanceId, InstanceState, Offer, OfferId, Pricing, ProviderError,
    ProvisionRequest,
};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{guarded, json, FakeAuth, FakeContext};

/// The client id the fake accepts (the secret is the sandbox key).
pub const CLIENT_ID: &str = "sandbox";

/// The bearer token the fake issues for `key`.
pub(crate) fn issued_token(key: &str) -> String {
    format!("verda-sandbox-token-{key}")
}

/// The fake's router; point the adapter at `<url>/v1`.
pub fn router(ctx: FakeContext) -> Router {
    let api = Router::new()
        .route("/instance-types", get(instance_types))
        .route("/locations", get(locations))
        .route("/instance-availability", get(availability))
        .route("/instances", get(list_instances).post(deploy).put(action))
        .route("/instances/{id}", get(get_instance))
        .with_state(ctx.clone());
    let token = Router::new()
        .route("/oauth2/token", post(token))
        .with_state(ctx.clone());
    Router::new().nest("/v1", token.merge(guarded(api, ctx, FakeAuth::IssuedToken)))
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    json(status, json!({"code": code, "message": message}))
}

#[derive(Debug, Deserialize)]
struct TokenBody {
    grant_type: String,
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    client_secret: String,
}

async fn token(State(ctx): State<FakeContext>, body: Option<Json<TokenBody>>) -> Response {
    match body {
        Some(Json(b))
            if b.grant_type == "client_credentials"
                && b.client_id == CLIENT_ID
                && b.client_secret == ctx.api_key =>
        {
            json(
                StatusCode::OK,
                json!({
                    "access_token": issued_token(&ctx.api_key),
                    "refresh_token": "sandbox-refresh",
                    "scope": "cloud-api-v1",
                    "token_type": "Bearer",
                    "expires_in": 3600,
                }),
            )
        }
        _ => error(
            StatusCode::UNAUTHORIZED,
            "unauthorized_request",
            "Invalid client credentials.",
        ),
    }
}

fn offers(ctx: &FakeContext) -> Vec<Offer> {
    ctx.market
        .offers(&ctx.provider)
        .into_iter()
        .filter(|o| !o.id.key().contains('~'))
        .collect()
}

fn price_text(o: &Offer) -> String {
    o.price_per_hour.to_string()
}

async fn instance_types(State(ctx): State<FakeContext>) -> Response {
    let mut by_type: BTreeMap<String, Vec<Offer>> = BTreeMap::new();
    for o in offers(&ctx) {
        by_type.entry(o.instance_type.clone()).or_default().push(o);
    }
    let types: Vec<Value> = by_type
        .into_iter()
        .filter_map(|(name, group)| {
            let cheapest = |kind: Pricing| {
                group
                    .iter()
                    .filter(|o| o.pricing == kind)
                    .min_by_key(|o| o.price_per_hour)
            };
            let od = cheapest(Pricing::OnDemand)?;
            let spot = cheapest(Pricing::Spot);
            let mem = od.gpu_memory_gib;
            let total = mem * f64::from(od.gpu_count);
            let label = format!("{} {}GB", od.gpu_model, mem.round());
            Some(json!({
                "id": format!("sandbox-{name}"),
                "instance_type": name,
                "price_per_hour": price_text(od),
                "spot_price": spot.map(price_text),
                "currency": "usd",
                "description": "Dedicated Hardware Instance",
                "display_name": null,
                "model": od.gpu_model,
                "name": label,
                "manufacturer": "NVIDIA",
                "cpu": {
                    "description": format!("{} CPU", od.vcpus.unwrap_or(0)),
                    "number_of_cores": od.vcpus.unwrap_or(0),
                },
                "gpu": {
                    "description": format!("{}x {label}", od.gpu_count),
                    "number_of_gpus": od.gpu_count,
                },
                "gpu_memory": {
                    "description": format!("{}GB GPU RAM", total.round()),
                    "size_in_gigabytes": total,
                },
                "memory": {
                    "description": format!("{}GB RAM", od.memory_gib.unwrap_or(0.0).round()),
                    "size_in_gigabytes": od.memory_gib.unwrap_or(0.0),
                },
                "storage": {"description": "dynamic"},
                "supported_os": ["ubuntu-22.04", "ubuntu-24.04"],
                "best_for": [],
                "p2p": null,
                "deploy_warning": null,
            }))
        })
        .collect();
    json(StatusCode::OK, Value::Array(types))
}

async fn locations(State(ctx): State<FakeContext>) -> Response {
    let codes: BTreeSet<String> = offers(&ctx).into_iter().map(|o| o.region).collect();
    let list: Vec<Value> = codes
        .iter()
        .map(|code| {
            json!({
                "code": code,
                "name": code,
                "country_code": regions::country_of("verda", code),
            })
        })
        .collect();
    json(StatusCode::OK, Value::Array(list))
}

#[derive(Debug, Deserialize)]
struct AvailabilityQuery {
    #[serde(rename = "isSpot", default)]
    is_spot: Option<bool>,
}

async fn availability(
    State(ctx): State<FakeContext>,
    Query(q): Query<AvailabilityQuery>,
) -> Response {
    let kind = if q.is_spot == Some(true) {
        Pricing::Spot
    } else {
        Pricing::OnDemand
    };
    let mut by_location: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for o in offers(&ctx) {
        let entry = by_location.entry(o.region.clone()).or_default();
        if o.pricing == kind && o.available > 0 {
            entry.insert(o.instance_type.clone());
        }
    }
    let list: Vec<Value> = by_location
        .into_iter()
        .map(|(code, types)| json!({"location_code": code, "availabilities": types}))
        .collect();
    json(StatusCode::OK, Value::Array(list))
}

fn wire_instance(ctx: &FakeContext, i: &Instance) -> Value {
    let offer = ctx.market.offer(&i.offer_id);
    let status = match i.state {
        InstanceState::Pending => "provisioning",
        InstanceState::Running => "running",
        InstanceState::Failed => "error",
        InstanceState::Terminating | InstanceState::Terminated => "deleting",
    };
    json!({
        "id": i.id.0,
        "status": status,
        "hostname": i.allocation_id,
        "description": format!("gpubroker allocation {}", i.allocation_id),
        "ip": i.connection.as_ref().map(|c| c.ssh_host.clone()),
        "instance_type": offer.as_ref().map(|o| o.instance_type.clone()),
        "location": offer.as_ref().map(|o| o.region.clone()),
        "is_spot": offer.as_ref().map(|o| o.pricing == Pricing::Spot),
        "price_per_hour": offer.as_ref().map(price_text),
        "image": "ubuntu-22.04",
        "created_at": "2026-01-01T00:00:00Z",
    })
}

fn live(i: &Instance) -> bool {
    !matches!(
        i.state,
        InstanceState::Terminating | InstanceState::Terminated
    )
}

async fn list_instances(State(ctx): State<FakeContext>) -> Response {
    let list: Vec<Value> = ctx
        .market
        .instances(&ctx.provider)
        .iter()
        .filter(|i| live(i))
        .map(|i| wire_instance(&ctx, i))
        .collect();
    json(StatusCode::OK, Value::Array(list))
}

async fn get_instance(State(ctx): State<FakeContext>, Path(id): Path<String>) -> Response {
    match ctx.market.status(&ctx.provider, &InstanceId(id)) {
        Ok(i) if live(&i) => json(StatusCode::OK, wire_instance(&ctx, &i)),
        _ => error(StatusCode::NOT_FOUND, "not_found", "Instance not found."),
    }
}

#[derive(Debug, Deserialize)]
struct DeployBody {
    instance_type: String,
    location_code: String,
    #[serde(default)]
    hostname: Option<String>,
    #[serde(default)]
    is_spot: Option<bool>,
    #[serde(default)]
    image: Option<String>,
}

async fn deploy(State(ctx): State<FakeContext>, body: Option<Json<DeployBody>>) -> Response {
    let Some(Json(b)) = body else {
        return error(StatusCode::BAD_REQUEST, "invalid_request", "Invalid body.");
    };
    let spot = if b.is_spot == Some(true) { ":spot" } else { "" };
    let offer_id = OfferId::new(
        &ctx.provider,
        &format!("{}@{}{spot}", b.instance_type, b.location_code),
    );
    let req = ProvisionRequest {
        allocation_id: b.hostname.unwrap_or_default(),
        offer_id,
        gpu_count: 0,
        disk_gib: 0,
        image: b.image.unwrap_or_default(),
        ssh_public_key: None,
    };
    match ctx.market.provision(&ctx.provider, &req) {
        Ok(i) => (
            StatusCode::ACCEPTED,
            [(header::CONTENT_TYPE, "text/plain")],
            i.id.0,
        )
            .into_response(),
        Err(ProviderError::NoCapacity) => error(
            StatusCode::BAD_REQUEST,
            "insufficient_resources",
            "Not enough resources available for this instance type.",
        ),
        Err(ProviderError::NotFound) => error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Unknown instance type or location.",
        ),
        Err(_) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "Internal error.",
        ),
    }
}

#[derive(Debug, Deserialize)]
struct ActionBody {
    id: Vec<String>,
    action: String,
}

async fn action(State(ctx): State<FakeContext>, body: Option<Json<ActionBody>>) -> Response {
    let Some(Json(b)) = body else {
        return error(StatusCode::BAD_REQUEST, "invalid_request", "Invalid body.");
    };
    if b.action != "delete" {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "The sandbox supports the delete action only.",
        );
    }
    for id in b.id {
        if ctx.market.release(&ctx.provider, &InstanceId(id)).is_err() {
            return error(StatusCode::NOT_FOUND, "not_found", "Instance not found.");
        }
    }
    StatusCode::ACCEPTED.into_response()
}
