//! A fake of TensorDock's API v2 (`/api/v2`), Bearer-authenticated, over the market's
//! `tensordock` offers (one GPU each, per-GPU prices as recorded) and instances.
//!
//! - `GET /locations`: one location per market region (id = the region part of the market
//!   offer key, `city`/`stateprovince`/`country` from `City, ST, Country`), its GPUs by
//!   `v0Name` with `price_per_hr` = the market's price now, `max_count` 1, and the resource
//!   limits and rates of the recorded sample.
//! - `GET /hostnodes`: one hostnode per location; `availableCount` = the market's units.
//! - `POST /instances`: the allocation id travels in the name `gpubroker-<id>`; no capacity →
//!   HTTP 200 with `{"error": "Hostnode unavailable", "status": 400}` (the recorded body).
//! - `GET /instances`, `GET /instances/{id}`: `starting|running|deleting|error`, flat `data`
//!   as recorded, SSH through a port forward 22 → 22022; a deleted instance is 404.
//! - `DELETE /instances/{id}`.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use providers::{
    ownership, Instance, InstanceId, InstanceState, Offer, Pricing, ProviderError, ProvisionRequest,
};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{dollars, guarded, json, FakeAuth, FakeContext};

/// The fake's router; mount it at the root and point the adapter at `<url>/api/v2`.
pub fn router(ctx: FakeContext) -> Router {
    let api = Router::new()
        .route("/locations", get(locations))
        .route("/hostnodes", get(hostnodes))
        .route("/instances", get(list_instances).post(create))
        .route("/instances/{id}", get(get_instance).delete(destroy))
        .with_state(ctx.clone());
    Router::new().nest("/api/v2", guarded(api, ctx, FakeAuth::Bearer))
}

/// TensorDock's error body (any HTTP status; 200 on create).
fn error(status: StatusCode, code: u16, message: &str) -> Response {
    json(status, json!({"error": message, "status": code}))
}

fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, 404, "Instance not found")
}

/// The location id of a market offer: the region part of its key.
fn location_id(o: &Offer) -> &str {
    o.id.key().split_once('@').map_or("", |(_, l)| l)
}

/// The market's tensordock offers.
fn offers(ctx: &FakeContext) -> Vec<Offer> {
    ctx.market
        .offers(&ctx.provider)
        .into_iter()
        .filter(|o| o.pricing == Pricing::OnDemand && o.gpu_count == 1)
        .collect()
}

/// The recorded sample's resource rates (USD per unit-hour).
fn rates() -> Value {
    json!({"per_vcpu_hr": 0.01, "per_gb_ram_hr": 0.002, "per_gb_storage_hr": 0.0001})
}

async fn locations(State(ctx): State<FakeContext>) -> Response {
    let mut by_location: BTreeMap<String, Vec<Offer>> = BTreeMap::new();
    for o in offers(&ctx) {
        by_location
            .entry(location_id(&o).to_string())
            .or_default()
            .push(o);
    }
    let list: Vec<Value> = by_location
        .into_iter()
        .map(|(id, group)| {
            let parts: Vec<&str> = group[0].region.split(',').map(str::trim).collect();
            let gpus: Vec<Value> = group
                .iter()
                .map(|o| {
                    json!({
                        "v0Name": o.instance_type,
                        "displayName": o.gpu_model,
                        "max_count": 1,
                        "price_per_hr": dollars(o.price_per_hour.0),
                        "resources": {"max_vcpus": 32, "max_ram_gb": 128, "max_storage_gb": 2000},
                        "pricing": rates(),
                        "network_features": {
                            "dedicated_ip_available": true,
                            "port_forwarding_available": true,
                            "network_storage_available": false,
                        },
                    })
                })
                .collect();
            json!({
                "id": id,
                "city": parts.first().copied().unwrap_or_default(),
                "stateprovince": parts.get(1).copied().unwrap_or_default(),
                "country": parts.get(2).copied().unwrap_or_default(),
                "tier": 1,
                "gpus": gpus,
            })
        })
        .collect();
    json(StatusCode::OK, json!({"data": {"locations": list}}))
}

async fn hostnodes(State(ctx): State<FakeContext>) -> Response {
    let mut by_location: BTreeMap<String, Vec<Offer>> = BTreeMap::new();
    for o in offers(&ctx) {
        by_location
            .entry(location_id(&o).to_string())
            .or_default()
            .push(o);
    }
    let list: Vec<Value> = by_location
        .into_iter()
        .map(|(id, group)| {
            let gpus: Vec<Value> = group
                .iter()
                .filter(|o| o.available > 0)
                .map(|o| {
                    json!({
                        "v0Name": o.instance_type,
                        "availableCount": o.available,
                        "price_per_hr": dollars(o.price_per_hour.0),
                    })
                })
                .collect();
            json!({
                "id": format!("host-{id}"),
                "location_id": id,
                "engine": "kvm",
                "uptime_percentage": 99.9,
                "available_resources": {
                    "gpus": gpus,
                    "vcpu_count": 64,
                    "ram_gb": 256,
                    "storage_gb": 4000,
                    "available_ports": [22022],
                    "has_public_ip_available": true,
                },
                "pricing": rates(),
            })
        })
        .collect();
    json(StatusCode::OK, json!({"data": {"hostnodes": list}}))
}

/// The instances TensorDock still shows: a deleted instance is gone.
fn visible(i: &Instance) -> bool {
    i.state != InstanceState::Terminated
}

fn wire_instance(ctx: &FakeContext, i: &Instance) -> Value {
    let offer = ctx.market.offer(&i.offer_id);
    let status = match i.state {
        InstanceState::Pending => "starting",
        InstanceState::Running => "running",
        InstanceState::Terminating | InstanceState::Terminated => "deleting",
        InstanceState::Failed => "error",
    };
    let gpus = offer.as_ref().map_or(
        json!({}),
        |o| json!({ o.instance_type.clone(): {"count": o.gpu_count, "v0Name": o.instance_type} }),
    );
    json!({
        "id": i.id.0,
        "name": ownership::instance_name(&i.allocation_id, 64),
        "status": status,
        "ipAddress": i.connection.as_ref().map(|c| c.ssh_host.clone()),
        "rateHourly": offer.as_ref().map(|o| dollars(o.price_per_hour.0)),
        "portForwards": [{"internal_port": 22, "external_port": 22022}],
        "location_id": offer.as_ref().map(location_id),
        "resources": {"vcpu_count": 4, "ram_gb": 16, "storage_gb": 100, "gpus": gpus},
    })
}

async fn list_instances(State(ctx): State<FakeContext>) -> Response {
    let list: Vec<Value> = ctx
        .market
        .instances(&ctx.provider)
        .iter()
        .filter(|i| visible(i))
        .map(|i| wire_instance(&ctx, i))
        .collect();
    json(StatusCode::OK, json!({"data": {"instances": list}}))
}

async fn get_instance(State(ctx): State<FakeContext>, Path(id): Path<String>) -> Response {
    match ctx.market.status(&ctx.provider, &InstanceId(id)) {
        Ok(i) if visible(&i) => json(StatusCode::OK, json!({"data": wire_instance(&ctx, &i)})),
        _ => not_found(),
    }
}

#[derive(Debug, Deserialize)]
struct CreateBody {
    data: CreateData,
}

#[derive(Debug, Deserialize)]
struct CreateData {
    attributes: CreateAttributes,
}

#[derive(Debug, Deserialize)]
struct CreateAttributes {
    name: String,
    image: String,
    location_id: String,
    resources: CreateResources,
}

#[derive(Debug, Deserialize)]
struct CreateResources {
    storage_gb: u32,
    #[serde(default)]
    gpus: BTreeMap<String, GpuCount>,
}

#[derive(Debug, Deserialize)]
struct GpuCount {
    count: u32,
}

async fn create(State(ctx): State<FakeContext>, body: Option<Json<CreateBody>>) -> Response {
    let invalid = |m: &str| error(StatusCode::OK, 400, m);
    let Some(Json(body)) = body else {
        return error(StatusCode::BAD_REQUEST, 400, "Invalid request body");
    };
    let a = body.data.attributes;
    if a.name.is_empty() || a.image.is_empty() {
        return invalid("Name and image are required");
    }
    if a.resources.storage_gb < 100 {
        return invalid("Minimum storage is 100 GB");
    }
    let Some((v0_name, gpu)) = a.resources.gpus.iter().next() else {
        return invalid("At least one GPU is required");
    };
    let offer = offers(&ctx).into_iter().find(|o| {
        o.instance_type == *v0_name && location_id(o) == a.location_id && o.gpu_count == gpu.count
    });
    let Some(offer) = offer else {
        return invalid("Hostnode unavailable");
    };
    let req = ProvisionRequest {
        allocation_id: ownership::allocation_of_name(&a.name)
            .unwrap_or(&a.name)
            .to_string(),
        offer_id: offer.id,
        gpu_count: gpu.count,
        disk_gib: a.resources.storage_gb,
        image: a.image,
        ssh_public_key: None,
    };
    match ctx.market.provision(&ctx.provider, &req) {
        Ok(i) => json(
            StatusCode::OK,
            json!({"data": {"type": "virtualmachine", "id": i.id.0, "name": a.name, "status": "starting"}}),
        ),
        Err(ProviderError::NoCapacity) | Err(ProviderError::NotFound) => {
            invalid("Hostnode unavailable")
        }
        Err(_) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            500,
            "Internal server error",
        ),
    }
}

async fn destroy(State(ctx): State<FakeContext>, Path(id): Path<String>) -> Response {
    let id = InstanceId(id);
    match ctx.market.status(&ctx.provider, &id) {
        Ok(i) if visible(&i) => match ctx.market.release(&ctx.provider, &id) {
            Ok(()) => json(StatusCode::OK, json!({"status": "success"})),
            Err(_) => not_found(),
        },
        _ => not_found(),
    }
}
