//! A fake of Seeweb's ECS API v2 (`/ecs/v2`), authenticated by `X-APITOKEN`, over the
//! market's `seeweb` offers and instances.
//!
//! - `GET /plans`: one plan per market instance type (`ECS1GPU7`) plus a CPU plan; numbers
//!   as strings (`ram` in MiB), `gpu_label` as Seeweb writes it (`L40S 48GB`),
//!   `hourly_price` in EUR (the market's USD at [`USD_PER_EUR`]), `available_regions` =
//!   the locations with units left.
//! - `POST /servers {plan, location, image, notes}`: the allocation id travels in `notes`
//!   (`gpubroker-alloc:<id>`, the adapters' `ownership` tag); answers 201 `{status, action_id, server}`; no capacity → 409.
//! - `GET /servers` (`{"status","count","server":[...]}`), `GET /servers/{name}`: statuses
//!   `Booting`, `Booted`, `Deleting`, `Error`; a deleted server is gone (404). Server names
//!   are `ec<16 hex>` made from the market's `i-<16 hex>`.
//! - `DELETE /servers/{name}`: `{"status":"ok","action":{...}}`.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use providers::{
    ownership, Instance, InstanceId, InstanceState, Offer, ProviderError, ProvisionRequest,
};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{guarded, json, listed_on_demand, FakeAuth, FakeContext};

/// USD per EUR the fake prices at (the adapter's default setting).
pub const USD_PER_EUR: f64 = 1.08;

/// The fake's router; mount it at the root and point the adapter at `<url>/ecs/v2`.
pub fn router(ctx: FakeContext) -> Router {
    let api = Router::new()
        .route("/plans", get(plans))
        .route("/servers", get(list_servers).post(create))
        .route("/servers/{name}", get(get_server).delete(delete_server))
        .with_state(ctx.clone());
    Router::new().nest("/ecs/v2", guarded(api, ctx, FakeAuth::Header("x-apitoken")))
}

fn error(status: StatusCode, message: &str) -> Response {
    json(status, json!({"status": "error", "message": message}))
}

/// The market's on-demand seeweb offers that have a location.
fn offers(ctx: &FakeContext) -> Vec<Offer> {
    listed_on_demand(ctx)
        .into_iter()
        .filter(|o| !o.region.is_empty())
        .collect()
}

fn name_of(id: &InstanceId) -> String {
    format!("ec{}", id.0.strip_prefix("i-").unwrap_or(&id.0))
}

fn market_id(name: &str) -> InstanceId {
    InstanceId(format!("i-{}", name.strip_prefix("ec").unwrap_or(name)))
}

fn eur(usd_micro: i64) -> Value {
    let v = (usd_micro as f64 / 1_000_000.0 / USD_PER_EUR * 10_000.0).round() / 10_000.0;
    serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number)
}

async fn plans(State(ctx): State<FakeContext>) -> Response {
    let mut by_plan: BTreeMap<String, Vec<Offer>> = BTreeMap::new();
    for o in offers(&ctx) {
        by_plan.entry(o.instance_type.clone()).or_default().push(o);
    }
    let mut plans = vec![json!({
        "name": "eCS4", "cpu": "4", "ram": "8192", "disk": "160", "gpu": "0",
        "gpu_label": null, "hourly_price": 0.063, "available": true, "id": 1,
        "host_type": "ECS", "available_regions": [{"location": "it-fr2"}],
    })];
    for (id, (name, group)) in by_plan.into_iter().enumerate() {
        let Some(first) = group.iter().min_by_key(|o| o.price_per_hour) else {
            continue;
        };
        let regions: Vec<Value> = group
            .iter()
            .filter(|o| o.available > 0)
            .map(|o| json!({ "location": o.region }))
            .collect();
        let ram_mib = (first.memory_gib.unwrap_or(32.0) * 1024.0).round() as u64;
        plans.push(json!({
            "name": name,
            "cpu": first.vcpus.unwrap_or(8).to_string(),
            "ram": ram_mib.to_string(),
            "disk": first.storage_gib.unwrap_or(100).to_string(),
            "gpu": first.gpu_count.to_string(),
            "gpu_label": format!("{} {}GB", first.gpu_model, first.gpu_memory_gib.round() as u64),
            "hourly_price": eur(first.price_per_hour.0),
            "available": true,
            "id": id + 2,
            "host_type": "ECS",
            "available_regions": regions,
        }));
    }
    json(StatusCode::OK, json!({"status": "ok", "plans": plans}))
}

fn wire_server(ctx: &FakeContext, i: &Instance) -> Value {
    let offer = ctx.market.offer(&i.offer_id);
    let status = match i.state {
        InstanceState::Pending => "Booting",
        InstanceState::Running => "Booted",
        InstanceState::Terminating | InstanceState::Terminated => "Deleting",
        InstanceState::Failed => "Error",
    };
    let ipv4 = i
        .connection
        .as_ref()
        .map_or(String::new(), |c| c.ssh_host.clone());
    json!({
        "name": name_of(&i.id),
        "ipv4": ipv4,
        "ipv6": "",
        "plan": offer.as_ref().map(|o| o.instance_type.clone()).unwrap_or_default(),
        "plan_size": {"core": "8", "ram": "32768", "disk": "500"},
        "location": offer.map(|o| o.region).unwrap_or_default(),
        "notes": format!("{}{}", ownership::ALLOCATION_TAG_PREFIX, i.allocation_id),
        "so": "ubuntu-2204",
        "creation_date": "2026-11-23T12:00:00+01:00",
        "deletion_date": null,
        "active_flag": true,
        "status": status,
        "api_version": "v2",
        "user": "sandbox",
        "group": null,
    })
}

/// The servers Seeweb still shows (a deleted server is gone).
fn servers(ctx: &FakeContext) -> Vec<Instance> {
    ctx.market
        .instances(&ctx.provider)
        .into_iter()
        .filter(|i| i.state != InstanceState::Terminated)
        .collect()
}

async fn list_servers(State(ctx): State<FakeContext>) -> Response {
    let list: Vec<Value> = servers(&ctx).iter().map(|i| wire_server(&ctx, i)).collect();
    json(
        StatusCode::OK,
        json!({"status": "ok", "count": list.len(), "server": list}),
    )
}

async fn get_server(State(ctx): State<FakeContext>, Path(name): Path<String>) -> Response {
    match servers(&ctx).iter().find(|i| i.id == market_id(&name)) {
        Some(i) => json(
            StatusCode::OK,
            json!({"status": "ok", "server": wire_server(&ctx, i)}),
        ),
        None => error(StatusCode::NOT_FOUND, "server not found"),
    }
}

#[derive(Debug, Deserialize)]
struct CreateBody {
    plan: String,
    location: String,
    image: String,
    #[serde(default)]
    notes: String,
}

async fn create(State(ctx): State<FakeContext>, body: Option<Json<CreateBody>>) -> Response {
    let Some(Json(body)) = body else {
        return error(StatusCode::BAD_REQUEST, "invalid body");
    };
    if body.image.is_empty() {
        return error(StatusCode::BAD_REQUEST, "image is required");
    }
    let Some(offer) = offers(&ctx)
        .into_iter()
        .find(|o| o.instance_type == body.plan && o.region == body.location)
    else {
        return error(StatusCode::BAD_REQUEST, "plan not sold in this location");
    };
    let req = ProvisionRequest {
        allocation_id: body
            .notes
            .strip_prefix(ownership::ALLOCATION_TAG_PREFIX)
            .unwrap_or(&body.notes)
            .to_string(),
        offer_id: offer.id,
        gpu_count: 0,
        disk_gib: 0,
        image: body.image,
        ssh_public_key: None,
    };
    match ctx.market.provision(&ctx.provider, &req) {
        Ok(i) => json(
            StatusCode::CREATED,
            json!({"status": "ok", "action_id": 1, "server": wire_server(&ctx, &i)}),
        ),
        Err(ProviderError::NoCapacity) => error(
            StatusCode::CONFLICT,
            "no capacity for this plan in this location",
        ),
        Err(_) => error(StatusCode::INTERNAL_SERVER_ERROR, "internal error"),
    }
}

async fn delete_server(State(ctx): State<FakeContext>, Path(name): Path<String>) -> Response {
    let Some(i) = servers(&ctx).into_iter().find(|i| i.id == market_id(&name)) else {
        return error(StatusCode::NOT_FOUND, "server not found");
    };
    match ctx.market.release(&ctx.provider, &i.id) {
        Ok(()) => json(
            StatusCode::OK,
            json!({"status": "ok", "action": {"id": 2, "status": "in-progress", "command": "ECS Delete", "resource": name}}),
        ),
        Err(_) => error(StatusCode::NOT_FOUND, "server not found"),
    }
}
