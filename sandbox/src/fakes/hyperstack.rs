//! A fake of Hyperstack's Infrahub API v1 (`/v1`) over the market's `hyperstack` offers and
//! instances, authenticated by the `api_key` header.
//!
//! - `GET /core/flavors`: flavors grouped by GPU and region (`stock_available` = units
//!   left); `gpu` is the market's canonical GPU name.
//! - `GET /pricebook`: a bare array, one entry per GPU name, `value` = the cheapest USD per
//!   GPU-hour among that GPU's flavors now (Hyperstack prices per resource, not per flavor,
//!   so other flavors of the GPU differ from the market's exact price).
//! - `POST /core/virtual-machines`: `name` = allocation id, `environment_name`
//!   `default-<REGION>` names the region (this fake's reading of the environment); no unit
//!   left → 409 (the capacity status is this fake's assumption).
//! - `GET /core/virtual-machines[/{id}]`: integer ids, `CREATING` → `ACTIVE` → `DELETING`;
//!   a deleted VM is gone (404).
//! - `DELETE /core/virtual-machines/{id}`.

use std::collections::BTreeMap;

use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use providers::{Instance, InstanceState, MicroUsd, OfferId, ProviderError, ProvisionRequest};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{
    decimal_dollars, guarded, json, listed_on_demand, market_id, numeric_id, FakeAuth, FakeContext,
};

/// The header Hyperstack reads the key from.
const API_KEY_HEADER: &str = "api_key";

/// The fake's router; point the adapter at `<url>/v1`.
pub fn router(ctx: FakeContext) -> Router {
    let api = Router::new()
        .route("/core/flavors", get(flavors))
        .route("/pricebook", get(pricebook))
        .route("/core/virtual-machines", get(list_vms).post(create_vm))
        .route("/core/virtual-machines/{id}", get(get_vm).delete(delete_vm))
        .with_state(ctx.clone());
    let key = ctx.api_key.clone();
    Router::new()
        .nest("/v1", guarded(api, ctx, FakeAuth::Bearer))
        .layer(middleware::from_fn_with_state(key, api_key_header))
}

/// Checks the `api_key` header, then hands the request to the shared guard (latency, faults)
/// with the key as the bearer credential it expects.
async fn api_key_header(State(key): State<String>, mut req: Request, next: Next) -> Response {
    let presented = req
        .headers()
        .get(API_KEY_HEADER)
        .and_then(|v| v.to_str().ok());
    if presented != Some(key.as_str()) {
        return error(StatusCode::UNAUTHORIZED, "unauthorized", "Invalid API key.");
    }
    match HeaderValue::from_str(&format!("Bearer {key}")) {
        Ok(v) => {
            req.headers_mut().insert(header::AUTHORIZATION, v);
            next.run(req).await
        }
        Err(_) => error(StatusCode::UNAUTHORIZED, "unauthorized", "Invalid API key."),
    }
}

fn error(status: StatusCode, reason: &str, message: &str) -> Response {
    json(
        status,
        json!({"status": false, "message": message, "error_reason": reason}),
    )
}

async fn flavors(State(ctx): State<FakeContext>) -> Response {
    let mut groups: BTreeMap<(String, String), Vec<Value>> = BTreeMap::new();
    for (n, o) in listed_on_demand(&ctx).iter().enumerate() {
        groups
            .entry((o.gpu_model.clone(), o.region.clone()))
            .or_default()
            .push(json!({
                "id": 1000 + n,
                "name": o.instance_type,
                "display_name": null,
                "region_name": o.region,
                "cpu": o.vcpus,
                "ram": o.memory_gib,
                "disk": o.storage_gib,
                "ephemeral": 0,
                "gpu": o.gpu_model,
                "gpu_count": o.gpu_count,
                "stock_available": o.available > 0,
                "created_at": "2026-01-01T00:00:00Z",
                "labels": [],
            }));
    }
    let data: Vec<Value> = groups
        .into_iter()
        .map(|((gpu, region), flavors)| {
            json!({"gpu": gpu, "region_name": region, "flavors": flavors})
        })
        .collect();
    json(
        StatusCode::OK,
        json!({"status": true, "message": "Success", "data": data}),
    )
}

async fn pricebook(State(ctx): State<FakeContext>) -> Response {
    let mut per_gpu: BTreeMap<String, MicroUsd> = BTreeMap::new();
    for o in listed_on_demand(&ctx) {
        let entry = per_gpu
            .entry(o.gpu_model.clone())
            .or_insert(o.price_per_gpu_hour);
        *entry = (*entry).min(o.price_per_gpu_hour);
    }
    let list: Vec<Value> = per_gpu
        .into_iter()
        .enumerate()
        .map(|(n, (name, price))| {
            json!({
                "id": n + 1,
                "name": name,
                "value": decimal_dollars(price),
                "original_value": decimal_dollars(price),
                "discount_applied": false,
                "start_time": null,
                "end_time": null,
            })
        })
        .collect();
    json(StatusCode::OK, Value::Array(list))
}

fn wire_vm(ctx: &FakeContext, i: &Instance) -> Value {
    let offer = ctx.market.offer(&i.offer_id);
    let status = match i.state {
        InstanceState::Pending => "CREATING",
        InstanceState::Running => "ACTIVE",
        InstanceState::Terminating => "DELETING",
        InstanceState::Terminated => "DELETED",
        InstanceState::Failed => "ERROR",
    };
    let region = offer.as_ref().map(|o| o.region.clone()).unwrap_or_default();
    json!({
        "id": numeric_id(&i.id).unwrap_or(0),
        "name": i.allocation_id,
        "status": status,
        "environment": {
            "id": 1,
            "name": format!("default-{region}"),
            "org_id": 1,
            "region": region,
        },
        "image": {"name": "Ubuntu Server 22.04 LTS R535 CUDA 12.2"},
        "flavor": offer.as_ref().map(|o| json!({
            "id": 1,
            "name": o.instance_type,
            "cpu": o.vcpus,
            "ram": o.memory_gib,
            "disk": o.storage_gib,
            "ephemeral": 0,
            "gpu": o.gpu_model,
            "gpu_count": o.gpu_count,
        })),
        "os": "Ubuntu Server 22.04 LTS R535 CUDA 12.2",
        "keypair": {"name": "gpubroker"},
        "volume_attachments": [],
        "security_rules": [],
        "power_state": if i.state == InstanceState::Running { "RUNNING" } else { "NOSTATE" },
        "vm_state": status.to_ascii_lowercase(),
        "fixed_ip": "10.0.0.2",
        "floating_ip": i.connection.as_ref().map(|c| c.ssh_host.clone()),
        "floating_ip_status": if i.connection.is_some() { "ATTACHED" } else { "NOT_ATTACHED" },
        "locked": false,
        "contract_id": null,
        "created_at": "2026-01-01T00:00:00",
        "labels": [i.allocation_id],
    })
}

fn gone(i: &Instance) -> bool {
    i.state == InstanceState::Terminated
}

async fn list_vms(State(ctx): State<FakeContext>) -> Response {
    let list: Vec<Value> = ctx
        .market
        .instances(&ctx.provider)
        .iter()
        .filter(|i| !gone(i))
        .map(|i| wire_vm(&ctx, i))
        .collect();
    json(
        StatusCode::OK,
        json!({"status": true, "message": "Getting VMs successful", "instances": list}),
    )
}

fn not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "not_found",
        "Virtual machine not found.",
    )
}

async fn get_vm(State(ctx): State<FakeContext>, Path(id): Path<u64>) -> Response {
    match ctx.market.status(&ctx.provider, &market_id(id)) {
        Ok(i) if !gone(&i) => json(
            StatusCode::OK,
            json!({"status": true, "message": "Getting VM details successful", "instance": wire_vm(&ctx, &i)}),
        ),
        _ => not_found(),
    }
}

async fn delete_vm(State(ctx): State<FakeContext>, Path(id): Path<u64>) -> Response {
    match ctx.market.release(&ctx.provider, &market_id(id)) {
        Ok(()) => json(
            StatusCode::OK,
            json!({"status": true, "message": "Virtual machine deleting"}),
        ),
        Err(_) => not_found(),
    }
}

#[derive(Debug, Deserialize)]
struct CreateBody {
    name: String,
    environment_name: String,
    flavor_name: String,
    key_name: String,
    #[serde(default)]
    image_name: Option<String>,
    #[serde(default)]
    count: Option<u32>,
}

async fn create_vm(State(ctx): State<FakeContext>, body: Option<Json<CreateBody>>) -> Response {
    let bad = |m: &str| error(StatusCode::BAD_REQUEST, "bad_request", m);
    let Some(Json(b)) = body else {
        return bad("Invalid request body.");
    };
    if b.key_name.is_empty() || b.image_name.as_deref().unwrap_or("").is_empty() {
        return bad("key_name and image_name are required.");
    }
    if b.count.unwrap_or(1) != 1 {
        return bad("The sandbox creates one virtual machine at a time.");
    }
    let Some(region) = b.environment_name.strip_prefix("default-") else {
        return error(StatusCode::NOT_FOUND, "not_found", "Environment not found.");
    };
    let offer_id = OfferId::new(&ctx.provider, &format!("{}@{region}", b.flavor_name));
    let req = ProvisionRequest {
        allocation_id: b.name,
        offer_id,
        gpu_count: 0,
        disk_gib: 0,
        image: b.image_name.unwrap_or_default(),
        ssh_public_key: None,
    };
    match ctx.market.provision(&ctx.provider, &req) {
        Ok(i) => json(
            StatusCode::OK,
            json!({
                "status": true,
                "message": "Creating 1 virtual machine(s)",
                "instances": [wire_vm(&ctx, &i)],
            }),
        ),
        Err(ProviderError::NoCapacity) => error(
            StatusCode::CONFLICT,
            "conflict",
            "Not enough stock of this flavor in the region.",
        ),
        Err(ProviderError::NotFound) => bad("Unknown flavor for this environment."),
        Err(_) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_server_error",
            "Internal Server Error",
        ),
    }
}
