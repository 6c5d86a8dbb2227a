//! A fake of Lambda Cloud's REST API v1 (`/api/v1`), Bearer-authenticated, over the market's
//! `lambda` offers and instances.
//!
//! - `GET /instance-types`: one entry per instance type; price in integer US cents (the
//!   type's cheapest region now), `regions_with_capacity_available` = regions with units.
//! - `POST /instance-operations/launch`: exactly one SSH key name; the instance `name` is the
//!   allocation id; no capacity → 400 `instance-operations/launch/insufficient-capacity`.
//! - `GET /instances`, `GET /instances/{id}`: `booting|active|terminating|terminated`.
//! - `POST /instance-operations/terminate`: `{"instance_ids": [...]}`.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use providers::{
    Instance, InstanceId, InstanceState, MicroUsd, Offer, OfferId, ProviderError, ProvisionRequest,
};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{guarded, json, listed_on_demand, FakeAuth, FakeContext};

/// The fake's router; mount it at the root and point the adapter at `<url>/api/v1`.
pub fn router(ctx: FakeContext) -> Router {
    let api = Router::new()
        .route("/instance-types", get(instance_types))
        .route("/instances", get(list_instances))
        .route("/instances/{id}", get(get_instance))
        .route("/instance-operations/launch", post(launch))
        .route("/instance-operations/terminate", post(terminate))
        .with_state(ctx.clone());
    Router::new().nest("/api/v1", guarded(api, ctx, FakeAuth::Bearer))
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    json(
        status,
        json!({"error": {"code": code, "message": message, "suggestion": null}}),
    )
}

fn gpu_text(o: &Offer) -> String {
    let mem = o.gpu_memory_gib;
    if mem.fract() == 0.0 {
        format!("{} ({} GB)", o.gpu_model, mem as u64)
    } else {
        format!("{} ({mem} GB)", o.gpu_model)
    }
}

fn cents(p: MicroUsd) -> i64 {
    (p.0 + 5_000) / 10_000
}

async fn instance_types(State(ctx): State<FakeContext>) -> Response {
    let mut by_type: BTreeMap<String, Vec<Offer>> = BTreeMap::new();
    for o in listed_on_demand(&ctx) {
        by_type.entry(o.instance_type.clone()).or_default().push(o);
    }
    let mut data = serde_json::Map::new();
    for (name, group) in by_type {
        let Some(first) = group.iter().min_by_key(|o| o.price_per_hour) else {
            continue;
        };
        let regions: Vec<Value> = group
            .iter()
            .filter(|o| o.available > 0)
            .map(|o| json!({"name": o.region, "description": o.region}))
            .collect();
        let gpu = gpu_text(first);
        data.insert(
            name.clone(),
            json!({
                "instance_type": {
                    "name": name,
                    "description": format!("{}x {gpu}", first.gpu_count),
                    "gpu_description": gpu,
                    "price_cents_per_hour": cents(first.price_per_hour),
                    "specs": {
                        "vcpus": first.vcpus,
                        "memory_gib": first.memory_gib,
                        "storage_gib": first.storage_gib,
                        "gpus": first.gpu_count,
                    },
                },
                "regions_with_capacity_available": regions,
            }),
        );
    }
    json(StatusCode::OK, json!({ "data": data }))
}

fn wire_instance(ctx: &FakeContext, i: &Instance) -> Value {
    let offer = ctx.market.offer(&i.offer_id);
    let (type_name, gpu, region) = match &offer {
        Some(o) => (
            o.instance_type.clone(),
            format!("{}x {}", o.gpu_count, gpu_text(o)),
            o.region.clone(),
        ),
        None => (String::new(), String::new(), String::new()),
    };
    let status = match i.state {
        InstanceState::Pending => "booting",
        InstanceState::Running => "active",
        InstanceState::Terminating => "terminating",
        InstanceState::Terminated => "terminated",
        InstanceState::Failed => "unhealthy",
    };
    let conn = i.connection.as_ref();
    json!({
        "id": i.id.0,
        "name": i.allocation_id,
        "ip": conn.map(|c| c.ssh_host.clone()),
        "status": status,
        "ssh_key_names": ["gpubroker"],
        "file_system_names": [],
        "region": {"name": region, "description": region},
        "instance_type": {"name": type_name, "description": gpu},
        "hostname": conn.map(|c| c.ssh_host.clone()),
        "jupyter_token": conn.map(|_| "sandbox"),
        "jupyter_url": conn.and_then(|c| c.jupyter_url.clone()),
    })
}

async fn list_instances(State(ctx): State<FakeContext>) -> Response {
    let data: Vec<Value> = ctx
        .market
        .instances(&ctx.provider)
        .iter()
        .filter(|i| i.state != InstanceState::Terminated)
        .map(|i| wire_instance(&ctx, i))
        .collect();
    json(StatusCode::OK, json!({ "data": data }))
}

async fn get_instance(State(ctx): State<FakeContext>, Path(id): Path<String>) -> Response {
    match ctx.market.status(&ctx.provider, &InstanceId(id)) {
        Ok(i) => json(StatusCode::OK, json!({ "data": wire_instance(&ctx, &i) })),
        Err(_) => error(
            StatusCode::NOT_FOUND,
            "global/object-does-not-exist",
            "Specified instance does not exist.",
        ),
    }
}

#[derive(Debug, Deserialize)]
struct LaunchBody {
    region_name: String,
    instance_type_name: String,
    ssh_key_names: Vec<String>,
    #[serde(default)]
    quantity: Option<u32>,
    #[serde(default)]
    name: Option<String>,
}

async fn launch(State(ctx): State<FakeContext>, body: Option<Json<LaunchBody>>) -> Response {
    let invalid = |m: &str| error(StatusCode::BAD_REQUEST, "global/invalid-parameters", m);
    let Some(Json(body)) = body else {
        return invalid("Invalid request body.");
    };
    if body.ssh_key_names.len() != 1 {
        return invalid("Exactly one SSH key name is required.");
    }
    if body.quantity.unwrap_or(1) != 1 {
        return invalid("The sandbox launches one instance at a time.");
    }
    let offer_id = OfferId::new(
        &ctx.provider,
        &format!("{}@{}", body.instance_type_name, body.region_name),
    );
    let req = ProvisionRequest {
        allocation_id: body.name.unwrap_or_default(),
        offer_id,
        gpu_count: 0,
        disk_gib: 0,
        image: String::new(),
        ssh_public_key: None,
    };
    match ctx.market.provision(&ctx.provider, &req) {
        Ok(i) => json(StatusCode::OK, json!({"data": {"instance_ids": [i.id.0]}})),
        Err(ProviderError::NoCapacity) => error(
            StatusCode::BAD_REQUEST,
            "instance-operations/launch/insufficient-capacity",
            "Not enough capacity to fulfill launch request.",
        ),
        Err(ProviderError::NotFound) => invalid("Unknown instance type or region."),
        Err(_) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "global/unknown",
            "Internal error.",
        ),
    }
}

#[derive(Debug, Deserialize)]
struct TerminateBody {
    instance_ids: Vec<String>,
}

async fn terminate(State(ctx): State<FakeContext>, body: Option<Json<TerminateBody>>) -> Response {
    let Some(Json(body)) = body else {
        return error(
            StatusCode::BAD_REQUEST,
            "global/invalid-parameters",
            "Invalid request body.",
        );
    };
    let mut terminated = Vec::new();
    for id in body.instance_ids {
        let id = InstanceId(id);
        if ctx.market.release(&ctx.provider, &id).is_err() {
            return error(
                StatusCode::NOT_FOUND,
                "global/object-does-not-exist",
                "Specified instance does not exist.",
            );
        }
        if let Ok(i) = ctx.market.status(&ctx.provider, &id) {
            terminated.push(wire_instance(&ctx, &i));
        }
    }
    json(
        StatusCode::OK,
        json!({"data": {"terminated_instances": terminated}}),
    )
}
