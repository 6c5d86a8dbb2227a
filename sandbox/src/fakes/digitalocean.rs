//! A fake of DigitalOcean's API v2 (`/v2`), Bearer-authenticated, over the market's `do`
//! offers and instances.
//!
//! - `GET /sizes`: one size per market instance type (plus a CPU size, as the real list has
//!   mostly those); `price_hourly` the size's cheapest region now (USD, a JSON number),
//!   `memory` in MB, `gpu_info.vram` the total in GiB, `regions` = regions with units.
//! - `POST /droplets`: the allocation id travels in the `gpubroker-alloc:<id>` tag; no
//!   capacity → 422 `unprocessable_entity`; answers 202 with the new droplet (`new`).
//! - `GET /droplets?tag_name=`, `GET /droplets/{id}`: `new|active|off`; droplet ids are
//!   integers (the market's `i-<16 hex>` read as one); a destroyed droplet is 404.
//! - `DELETE /droplets/{id}`: 204.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use providers::gpus;
use providers::ProviderError;
use providers::{Instance, InstanceState, Offer, OfferId, ProvisionRequest};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{
    dollars, guarded, json, listed_on_demand, market_id, numeric_id, FakeAuth, FakeContext,
};

/// The tag prefix that carries the allocation id (the adapter's convention).
const ALLOCATION_TAG_PREFIX: &str = "gpubroker-alloc:";

/// The fake's router; mount it at the root and point the adapter at `<url>/v2`.
pub fn router(ctx: FakeContext) -> Router {
    let api = Router::new()
        .route("/sizes", get(sizes))
        .route("/droplets", get(list_droplets).post(create))
        .route("/droplets/{id}", get(get_droplet).delete(destroy))
        .with_state(ctx.clone());
    Router::new().nest("/v2", guarded(api, ctx, FakeAuth::Bearer))
}

fn error(status: StatusCode, id: &str, message: &str) -> Response {
    json(status, json!({"id": id, "message": message}))
}

fn not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "not_found",
        "The resource you were accessing could not be found.",
    )
}

/// DigitalOcean's spelling of a GPU: `nvidia_h100`, `amd_mi300x`.
fn gpu_spelling(o: &Offer) -> String {
    let vendor = gpus::by_name(&o.gpu_model).map_or("nvidia", |m| m.vendor);
    let family = o
        .gpu_model
        .split('-')
        .next()
        .unwrap_or(&o.gpu_model)
        .to_ascii_lowercase();
    format!("{}_{family}", vendor.to_ascii_lowercase())
}

async fn sizes(State(ctx): State<FakeContext>) -> Response {
    let mut by_size: BTreeMap<String, Vec<Offer>> = BTreeMap::new();
    for o in listed_on_demand(&ctx) {
        by_size.entry(o.instance_type.clone()).or_default().push(o);
    }
    let mut list = vec![json!({
        "slug": "s-1vcpu-512mb-10gb",
        "memory": 512,
        "vcpus": 1,
        "disk": 10,
        "transfer": 0.5,
        "price_monthly": 4,
        "price_hourly": 0.00595,
        "regions": ["ams3", "fra1", "nyc1", "tor1"],
        "available": true,
        "description": "Basic",
        "networking_throughput": 2000,
        "disk_info": [{"type": "local", "size": {"amount": 10, "unit": "gib"}}],
    })];
    for (slug, group) in by_size {
        let Some(first) = group.iter().min_by_key(|o| o.price_per_hour) else {
            continue;
        };
        let regions: Vec<&str> = group
            .iter()
            .filter(|o| o.available > 0)
            .map(|o| o.region.as_str())
            .collect();
        let disk = first.storage_gib.unwrap_or(100);
        list.push(json!({
            "slug": slug,
            "memory": (first.memory_gib.unwrap_or(0.0) * 1024.0).round() as u64,
            "vcpus": first.vcpus.unwrap_or(1),
            "disk": disk,
            "transfer": 15.0,
            "price_monthly": dollars(first.price_per_hour.0 * 672),
            "price_hourly": dollars(first.price_per_hour.0),
            "regions": regions,
            "available": !regions.is_empty(),
            "description": format!("{} GPU - {}X", first.gpu_model, first.gpu_count),
            "networking_throughput": 10000,
            "gpu_info": {
                "count": first.gpu_count,
                "vram": {
                    "amount": first.gpu_memory_gib * f64::from(first.gpu_count),
                    "unit": "gib",
                },
                "model": gpu_spelling(first),
            },
            "disk_info": [{"type": "local", "size": {"amount": disk, "unit": "gib"}}],
        }));
    }
    let total = list.len();
    json(
        StatusCode::OK,
        json!({"sizes": list, "links": {}, "meta": {"total": total}}),
    )
}

/// The droplets DigitalOcean still shows: a destroyed droplet is gone.
fn visible(i: &Instance) -> bool {
    !matches!(
        i.state,
        InstanceState::Terminating | InstanceState::Terminated
    )
}

fn tags_of(i: &Instance) -> Vec<String> {
    vec![
        "gpubroker".to_string(),
        format!("{ALLOCATION_TAG_PREFIX}{}", i.allocation_id),
    ]
}

fn wire_droplet(ctx: &FakeContext, i: &Instance) -> Value {
    let offer = ctx.market.offer(&i.offer_id);
    let (size, region, vcpus, memory) = match &offer {
        Some(o) => (
            o.instance_type.clone(),
            o.region.clone(),
            o.vcpus.unwrap_or(1),
            (o.memory_gib.unwrap_or(0.0) * 1024.0).round() as u64,
        ),
        None => (String::new(), String::new(), 1, 0),
    };
    let status = match i.state {
        InstanceState::Pending => "new",
        InstanceState::Running => "active",
        InstanceState::Failed => "off",
        InstanceState::Terminating | InstanceState::Terminated => "archive",
    };
    // The market's endpoint is a host name; a droplet's public address is an IPv4 one.
    let v4: Vec<Value> = match &i.connection {
        Some(c) => vec![
            json!({"ip_address": "10.118.0.2", "netmask": "255.255.240.0", "gateway": "10.118.0.1", "type": "private"}),
            json!({"ip_address": c.ssh_host, "netmask": "255.255.240.0", "gateway": "0.0.0.0", "type": "public"}),
        ],
        None => Vec::new(),
    };
    json!({
        "id": numeric_id(&i.id),
        "name": format!("gpubroker-{}", i.allocation_id),
        "memory": memory,
        "vcpus": vcpus,
        "locked": false,
        "status": status,
        "size_slug": size,
        "image": {"slug": "gpu-h100x1-base", "name": "AI/ML Ready"},
        "networks": {"v4": v4, "v6": []},
        "region": {"slug": region, "name": region, "available": true},
        "tags": tags_of(i),
    })
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    #[serde(default)]
    tag_name: Option<String>,
}

async fn list_droplets(State(ctx): State<FakeContext>, Query(q): Query<ListQuery>) -> Response {
    let droplets: Vec<Value> = ctx
        .market
        .instances(&ctx.provider)
        .iter()
        .filter(|i| visible(i))
        .filter(|i| q.tag_name.as_ref().is_none_or(|t| tags_of(i).contains(t)))
        .map(|i| wire_droplet(&ctx, i))
        .collect();
    let total = droplets.len();
    json(
        StatusCode::OK,
        json!({"droplets": droplets, "links": {}, "meta": {"total": total}}),
    )
}

async fn get_droplet(State(ctx): State<FakeContext>, Path(id): Path<u64>) -> Response {
    match ctx.market.status(&ctx.provider, &market_id(id)) {
        Ok(i) if visible(&i) => json(StatusCode::OK, json!({"droplet": wire_droplet(&ctx, &i)})),
        _ => not_found(),
    }
}

#[derive(Debug, Deserialize)]
struct CreateBody {
    name: String,
    region: String,
    size: String,
    image: Value,
    #[serde(default)]
    tags: Vec<String>,
}

async fn create(State(ctx): State<FakeContext>, body: Option<Json<CreateBody>>) -> Response {
    let invalid = |m: &str| error(StatusCode::UNPROCESSABLE_ENTITY, "unprocessable_entity", m);
    let Some(Json(body)) = body else {
        return error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "unexpected end of JSON input",
        );
    };
    if body.name.is_empty() || body.image.is_null() {
        return invalid("Name and image are required.");
    }
    let allocation_id = body
        .tags
        .iter()
        .find_map(|t| t.strip_prefix(ALLOCATION_TAG_PREFIX))
        .unwrap_or(&body.name)
        .to_string();
    let req = ProvisionRequest {
        allocation_id,
        offer_id: OfferId::new(&ctx.provider, &format!("{}@{}", body.size, body.region)),
        gpu_count: 0,
        disk_gib: 0,
        image: String::new(),
        ssh_public_key: None,
    };
    match ctx.market.provision(&ctx.provider, &req) {
        Ok(i) => json(
            StatusCode::ACCEPTED,
            json!({"droplet": wire_droplet(&ctx, &i)}),
        ),
        Err(ProviderError::NoCapacity) => invalid("Size is not available in this region."),
        Err(ProviderError::NotFound) => {
            invalid("You specified an invalid size for Droplet creation.")
        }
        Err(_) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "Server was unable to give you a response.",
        ),
    }
}

async fn destroy(State(ctx): State<FakeContext>, Path(id): Path<u64>) -> Response {
    let id = market_id(id);
    match ctx.market.status(&ctx.provider, &id) {
        Ok(i) if visible(&i) => match ctx.market.release(&ctx.provider, &id) {
            Ok(()) => StatusCode::NO_CONTENT.into_response(),
            Err(_) => not_found(),
        },
        _ => not_found(),
    }
}
