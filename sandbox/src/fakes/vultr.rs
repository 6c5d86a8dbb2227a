//! A fake of Vultr's API v2 (`/v2`), Bearer-authenticated, over the market's `vultr` offers
//! and instances.
//!
//! - `GET /plans?type=vcg`: one Cloud GPU plan per market `vcg-*` type (`gpu_type`
//!   `NVIDIA_<family>`, `gpu_vram_gb` the plan's total, `hourly_cost` the type's cheapest
//!   region now, `ram` in MB, `locations` = regions with units); `GET /plans-metal`: the same
//!   for `vbm-*` types (GPUs only in the id, as recorded). Cursor `meta.links` are empty.
//! - `POST /instances`, `POST /bare-metals`: the allocation id travels in the tag
//!   `gpubroker-alloc:<id>`; no capacity → 400 `{"error": "Plan is not available in the
//!   selected region.", "status": 400}`; answers 202 with the new server (`pending`).
//! - `GET /instances?tag=`, `GET /instances/{id}` (and `/bare-metals`): `pending|active`
//!   with `power_status`/`server_status`; a deleted server is 404.
//! - `DELETE /instances/{id}`, `DELETE /bare-metals/{id}`: 204.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use providers::{
    ownership, Instance, InstanceId, InstanceState, Offer, OfferId, Pricing, ProviderError,
    ProvisionRequest,
};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{dollars, guarded, json, FakeAuth, FakeContext};

/// The fake's router; mount it at the root and point the adapter at `<url>/v2`.
pub fn router(ctx: FakeContext) -> Router {
    let api = Router::new()
        .route("/plans", get(plans))
        .route("/plans-metal", get(plans_metal))
        .route("/instances", get(list_cloud).post(create_cloud))
        .route("/instances/{id}", get(get_cloud).delete(destroy))
        .route("/bare-metals", get(list_metal).post(create_metal))
        .route("/bare-metals/{id}", get(get_metal).delete(destroy))
        .with_state(ctx.clone());
    Router::new().nest("/v2", guarded(api, ctx, FakeAuth::Bearer))
}

fn error(status: StatusCode, message: &str) -> Response {
    json(status, json!({"error": message, "status": status.as_u16()}))
}

fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "Not found")
}

fn is_metal(instance_type: &str) -> bool {
    instance_type.starts_with("vbm-")
}

fn meta(total: usize) -> Value {
    json!({"total": total, "links": {"next": "", "prev": ""}})
}

/// The market's on-demand offers of one kind, grouped by plan id.
fn plans_of(ctx: &FakeContext, metal: bool) -> BTreeMap<String, Vec<Offer>> {
    let mut by_plan: BTreeMap<String, Vec<Offer>> = BTreeMap::new();
    for o in ctx.market.offers(&ctx.provider) {
        if o.pricing == Pricing::OnDemand
            && !o.id.key().contains('~')
            && is_metal(&o.instance_type) == metal
        {
            by_plan.entry(o.instance_type.clone()).or_default().push(o);
        }
    }
    by_plan
}

/// The cheapest offer of a plan and the regions with units.
fn summary(group: &[Offer]) -> Option<(&Offer, Vec<&str>)> {
    let first = group.iter().min_by_key(|o| o.price_per_hour)?;
    let regions = group
        .iter()
        .filter(|o| o.available > 0)
        .map(|o| o.region.as_str())
        .collect();
    Some((first, regions))
}

#[derive(Debug, Deserialize)]
struct PlanQuery {
    #[serde(default, rename = "type")]
    kind: Option<String>,
}

async fn plans(State(ctx): State<FakeContext>, Query(q): Query<PlanQuery>) -> Response {
    let wanted = q.kind.as_deref().unwrap_or("all");
    let mut list = Vec::new();
    if matches!(wanted, "all" | "vcg") {
        for (id, group) in plans_of(&ctx, false) {
            let Some((o, regions)) = summary(&group) else {
                continue;
            };
            let family = o.gpu_model.split('-').next().unwrap_or(&o.gpu_model);
            list.push(json!({
                "id": id,
                "vcpu_count": o.vcpus.unwrap_or(1),
                "ram": (o.memory_gib.unwrap_or(0.0) * 1024.0).round() as u64,
                "disk": o.storage_gib.unwrap_or(100),
                "disk_count": 1,
                "bandwidth": 10240,
                "monthly_cost": dollars(o.price_per_hour.0 * 730),
                "hourly_cost": dollars(o.price_per_hour.0),
                "type": "vcg",
                "locations": regions,
                "gpu_vram_gb": (o.gpu_memory_gib * f64::from(o.gpu_count)).round() as u64,
                "gpu_type": format!("NVIDIA_{}", family.to_ascii_uppercase()),
            }));
        }
    }
    let total = list.len();
    json(StatusCode::OK, json!({"plans": list, "meta": meta(total)}))
}

async fn plans_metal(State(ctx): State<FakeContext>) -> Response {
    let mut list = Vec::new();
    for (id, group) in plans_of(&ctx, true) {
        let Some((o, regions)) = summary(&group) else {
            continue;
        };
        let threads = o.vcpus.unwrap_or(2);
        list.push(json!({
            "id": id,
            "physical_cpus": 2,
            "cpu_count": threads / 2,
            "cpu_cores": threads / 2,
            "cpu_threads": threads,
            "cpu_model": "EPYC",
            "cpu_mhz": 2450,
            "ram": (o.memory_gib.unwrap_or(0.0) * 1024.0).round() as u64,
            "disk": o.storage_gib.unwrap_or(100),
            "disk_count": 1,
            "bandwidth": 10240,
            "monthly_cost": dollars(o.price_per_hour.0 * 730),
            "hourly_cost": dollars(o.price_per_hour.0),
            "type": "NVMe",
            "locations": regions,
        }));
    }
    let total = list.len();
    json(
        StatusCode::OK,
        json!({"plans_metal": list, "meta": meta(total)}),
    )
}

/// The servers Vultr still shows: a deleted server is gone at once.
fn visible(i: &Instance) -> bool {
    matches!(
        i.state,
        InstanceState::Pending | InstanceState::Running | InstanceState::Failed
    )
}

fn tags_of(i: &Instance) -> Vec<String> {
    vec![
        ownership::BROKER_TAG.to_string(),
        format!("{}{}", ownership::ALLOCATION_TAG_PREFIX, i.allocation_id),
    ]
}

/// The plan of an instance, and whether it is bare metal.
fn plan_of(ctx: &FakeContext, i: &Instance) -> Option<Offer> {
    ctx.market.offer(&i.offer_id)
}

fn wire_server(ctx: &FakeContext, i: &Instance) -> Value {
    let offer = plan_of(ctx, i);
    let (status, power, server) = match i.state {
        InstanceState::Pending => ("pending", "running", "none"),
        InstanceState::Running => ("active", "running", "ok"),
        _ => ("suspended", "stopped", "none"),
    };
    let name = ownership::instance_name(&i.allocation_id, 63);
    json!({
        "id": i.id.0,
        "os": "Ubuntu 22.04 LTS x64",
        "ram": offer.as_ref().map(|o| (o.memory_gib.unwrap_or(0.0) * 1024.0).round() as u64),
        "main_ip": i.connection.as_ref().map_or("0.0.0.0".to_string(), |c| c.ssh_host.clone()),
        "region": offer.as_ref().map(|o| o.region.clone()),
        "plan": offer.as_ref().map(|o| o.instance_type.clone()),
        "status": status,
        "power_status": power,
        "server_status": server,
        "label": name,
        "hostname": name,
        "os_id": 1743,
        "tags": tags_of(i),
    })
}

fn servers(ctx: &FakeContext, metal: bool, tag: Option<&str>) -> Vec<Value> {
    ctx.market
        .instances(&ctx.provider)
        .iter()
        .filter(|i| visible(i))
        .filter(|i| plan_of(ctx, i).is_some_and(|o| is_metal(&o.instance_type) == metal))
        .filter(|i| tag.is_none_or(|t| tags_of(i).iter().any(|x| x == t)))
        .map(|i| wire_server(ctx, i))
        .collect()
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    #[serde(default)]
    tag: Option<String>,
}

async fn list_cloud(State(ctx): State<FakeContext>, Query(q): Query<ListQuery>) -> Response {
    let list = servers(&ctx, false, q.tag.as_deref());
    let total = list.len();
    json(
        StatusCode::OK,
        json!({"instances": list, "meta": meta(total)}),
    )
}

async fn list_metal(State(ctx): State<FakeContext>, Query(q): Query<ListQuery>) -> Response {
    let list = servers(&ctx, true, q.tag.as_deref());
    let total = list.len();
    json(
        StatusCode::OK,
        json!({"bare_metals": list, "meta": meta(total)}),
    )
}

fn get_server(ctx: &FakeContext, id: String, metal: bool) -> Response {
    match ctx.market.status(&ctx.provider, &InstanceId(id)) {
        Ok(i)
            if visible(&i)
                && plan_of(ctx, &i).is_some_and(|o| is_metal(&o.instance_type) == metal) =>
        {
            let key = if metal { "bare_metal" } else { "instance" };
            json(StatusCode::OK, json!({ key: wire_server(ctx, &i) }))
        }
        _ => not_found(),
    }
}

async fn get_cloud(State(ctx): State<FakeContext>, Path(id): Path<String>) -> Response {
    get_server(&ctx, id, false)
}

async fn get_metal(State(ctx): State<FakeContext>, Path(id): Path<String>) -> Response {
    get_server(&ctx, id, true)
}

#[derive(Debug, Deserialize)]
struct CreateBody {
    region: String,
    plan: String,
    #[serde(default)]
    os_id: Option<u32>,
    #[serde(default)]
    label: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
}

fn create(ctx: &FakeContext, body: Option<Json<CreateBody>>, metal: bool) -> Response {
    let Some(Json(body)) = body else {
        return error(StatusCode::BAD_REQUEST, "Invalid JSON body");
    };
    if body.os_id.is_none() {
        return error(
            StatusCode::BAD_REQUEST,
            "An os_id, app_id or image_id is required",
        );
    }
    if is_metal(&body.plan) != metal {
        return error(StatusCode::BAD_REQUEST, "Invalid plan chosen.");
    }
    let allocation_id = ownership::allocation_of_tags(&body.tags)
        .or_else(|| {
            body.label
                .as_deref()
                .and_then(ownership::allocation_of_name)
        })
        .unwrap_or_default()
        .to_string();
    let req = ProvisionRequest {
        allocation_id,
        offer_id: OfferId::new(&ctx.provider, &format!("{}@{}", body.plan, body.region)),
        gpu_count: 0,
        disk_gib: 0,
        image: String::new(),
        ssh_public_key: None,
    };
    match ctx.market.provision(&ctx.provider, &req) {
        Ok(i) => {
            let key = if metal { "bare_metal" } else { "instance" };
            json(StatusCode::ACCEPTED, json!({ key: wire_server(ctx, &i) }))
        }
        Err(ProviderError::NoCapacity) => error(
            StatusCode::BAD_REQUEST,
            "Plan is not available in the selected region.",
        ),
        Err(ProviderError::NotFound) => error(StatusCode::BAD_REQUEST, "Invalid plan chosen."),
        Err(_) => error(StatusCode::INTERNAL_SERVER_ERROR, "Internal error"),
    }
}

async fn create_cloud(State(ctx): State<FakeContext>, body: Option<Json<CreateBody>>) -> Response {
    create(&ctx, body, false)
}

async fn create_metal(State(ctx): State<FakeContext>, body: Option<Json<CreateBody>>) -> Response {
    create(&ctx, body, true)
}

async fn destroy(State(ctx): State<FakeContext>, Path(id): Path<String>) -> Response {
    let id = InstanceId(id);
    match ctx.market.status(&ctx.provider, &id) {
        Ok(i) if visible(&i) => match ctx.market.release(&ctx.provider, &id) {
            Ok(()) => StatusCode::NO_CONTENT.into_response(),
            Err(_) => not_found(),
        },
        _ => not_found(),
    }
}
