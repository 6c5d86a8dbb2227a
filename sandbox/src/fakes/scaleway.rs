//! A fake of Scaleway's Instance API v1 (`/instance/v1`), authenticated by `X-Auth-Token`,
//! over the market's `scaleway` offers and instances (a market offer's zone is the part of
//! its key after `/`: `H100-1-80G@fr-par/fr-par-2`).
//!
//! - `GET /zones/{zone}/products/servers`: a map of commercial type → type, one per market
//!   instance type of the zone plus a CPU type; `hourly_price` in EUR (the market's USD at
//!   [`USD_PER_EUR`]), `ram` and `gpu_info.gpu_memory` in bytes; pages after the first are
//!   empty.
//! - `GET /zones/{zone}/products/servers/availability`: `available` while the offer has
//!   units, else (or with the out-of-capacity knob) `shortage`.
//! - `POST /zones/{zone}/servers`: the allocation id travels in the `gpubroker-alloc:<id>`
//!   tag; answers 201 with the server; no capacity → 412 `out_of_stock`.
//! - `GET /zones/{zone}/servers?tags=`, `GET /zones/{zone}/servers/{id}`: states `starting`
//!   (the market's pending: the adapter powers a new server on at once), `running`,
//!   `stopping`, `locked`; a terminated server is gone (404). Server ids are UUIDs made from
//!   the market's `i-<16 hex>`.
//! - `POST /zones/{zone}/servers/{id}/action`: `poweron` (accepted, the market starts the
//!   instance by itself) and `terminate`.
//!
//! The shared guard reads `Authorization: Bearer`; the fake moves `X-Auth-Token` there first
//! (no token, no header: 401).

use std::collections::BTreeMap;

use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use providers::{
    gpus, Instance, InstanceState, Offer, OfferId, Pricing, ProviderError, ProvisionRequest,
};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{guarded, json, market_id_from_uuid, uuid_of, FakeAuth, FakeContext};

/// USD per EUR the fake prices at (the adapter's default setting).
pub const USD_PER_EUR: f64 = 1.08;

/// The tag prefix that carries the allocation id (the adapter's convention).
const ALLOCATION_TAG_PREFIX: &str = "gpubroker-alloc:";

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// The fake's router; mount it at the root and point the adapter at `<url>/instance/v1`.
pub fn router(ctx: FakeContext) -> Router {
    let api = Router::new()
        .route("/zones/{zone}/products/servers", get(server_types))
        .route(
            "/zones/{zone}/products/servers/availability",
            get(availability),
        )
        .route("/zones/{zone}/servers", get(list_servers).post(create))
        .route("/zones/{zone}/servers/{id}", get(get_server))
        .route("/zones/{zone}/servers/{id}/action", post(action))
        .with_state(ctx.clone());
    let guarded = guarded(api, ctx, FakeAuth::Bearer).layer(middleware::from_fn(
        |mut req: Request, next: Next| async move {
            let token = req
                .headers()
                .get("x-auth-token")
                .and_then(|v| v.to_str().ok())
                .and_then(|t| HeaderValue::from_str(&format!("Bearer {t}")).ok());
            req.headers_mut().remove(header::AUTHORIZATION);
            if let Some(t) = token {
                req.headers_mut().insert(header::AUTHORIZATION, t);
            }
            next.run(req).await
        },
    ));
    Router::new().nest("/instance/v1", guarded)
}

fn error(status: StatusCode, kind: &str, message: &str) -> Response {
    json(status, json!({"type": kind, "message": message}))
}

fn not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "unknown_resource",
        "\"instance_server\" not found",
    )
}

/// The zone of a market offer (`...@fr-par/fr-par-2` → `fr-par-2`).
fn zone_of(o: &OfferId) -> Option<&str> {
    o.key().split_once('/').map(|(_, z)| z)
}

/// The market's on-demand offers of `zone`.
fn offers(ctx: &FakeContext, zone: &str) -> Vec<Offer> {
    ctx.market
        .offers(&ctx.provider)
        .into_iter()
        .filter(|o| {
            o.pricing == Pricing::OnDemand
                && !o.id.key().contains('~')
                && zone_of(&o.id) == Some(zone)
        })
        .collect()
}

fn eur(usd_micro: i64) -> Value {
    let v = (usd_micro as f64 / 1_000_000.0 / USD_PER_EUR * 10_000.0).round() / 10_000.0;
    serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number)
}

fn bytes(gib: f64) -> u64 {
    (gib * GIB).round() as u64
}

fn wire_type(ncpus: u32, ram: u64, gpu: Option<(&Offer, u64)>, hourly: Value) -> Value {
    let (count, gpu_info) = match gpu {
        Some((o, memory)) => {
            let vendor = gpus::by_name(&o.gpu_model).map_or("NVIDIA", |m| m.vendor);
            (
                o.gpu_count,
                json!({"gpu_manufacturer": vendor, "gpu_name": o.gpu_model, "gpu_memory": memory}),
            )
        }
        None => (0, Value::Null),
    };
    json!({
        "alt_names": [],
        "arch": "x86_64",
        "ncpus": ncpus,
        "ram": ram,
        "gpu": count,
        "gpu_info": gpu_info,
        "mig_profile": null,
        "volumes_constraint": {"min_size": 0, "max_size": 0},
        "per_volume_constraint": {"l_ssd": {"min_size": 0, "max_size": 0}},
        "scratch_storage_max_size": 0,
        "scratch_storage_max_volumes_count": 0,
        "monthly_price": Value::Null,
        "hourly_price": hourly,
        "capabilities": {"boot_types": ["local", "rescue"], "placement_groups": true, "block_storage": true},
        "network": {"ipv6_support": true, "sum_internal_bandwidth": 400000000, "sum_internet_bandwidth": 400000000},
        "block_bandwidth": 419430400,
        "end_of_service": false,
    })
}

#[derive(Debug, Deserialize)]
struct PageQuery {
    #[serde(default)]
    page: Option<u32>,
}

async fn server_types(
    State(ctx): State<FakeContext>,
    Path(zone): Path<String>,
    Query(q): Query<PageQuery>,
) -> Response {
    let mut servers = serde_json::Map::new();
    if q.page.unwrap_or(1) <= 1 {
        servers.insert(
            "POP2-2C-8G".to_string(),
            wire_type(2, 8_589_934_592, None, json!(0.0735)),
        );
        let mut by_type: BTreeMap<String, Offer> = BTreeMap::new();
        for o in offers(&ctx, &zone) {
            by_type.entry(o.instance_type.clone()).or_insert(o);
        }
        for (name, o) in by_type {
            let t = wire_type(
                o.vcpus.unwrap_or(8),
                bytes(o.memory_gib.unwrap_or(16.0)),
                Some((&o, bytes(o.gpu_memory_gib))),
                eur(o.price_per_hour.0),
            );
            servers.insert(name, t);
        }
    }
    json(StatusCode::OK, json!({ "servers": servers }))
}

async fn availability(State(ctx): State<FakeContext>, Path(zone): Path<String>) -> Response {
    let out_of_capacity = ctx.market.knobs(&ctx.provider.0).out_of_capacity;
    let mut servers = serde_json::Map::new();
    servers.insert("POP2-2C-8G".into(), json!({"availability": "available"}));
    for o in offers(&ctx, &zone) {
        let state = if o.available > 0 && !out_of_capacity {
            "available"
        } else {
            "shortage"
        };
        servers.insert(o.instance_type.clone(), json!({ "availability": state }));
    }
    json(StatusCode::OK, json!({ "servers": servers }))
}

fn tags_of(i: &Instance) -> Vec<String> {
    vec![
        "gpubroker".to_string(),
        format!("{ALLOCATION_TAG_PREFIX}{}", i.allocation_id),
    ]
}

fn wire_server(ctx: &FakeContext, zone: &str, i: &Instance) -> Value {
    let commercial_type = ctx
        .market
        .offer(&i.offer_id)
        .map(|o| o.instance_type)
        .unwrap_or_default();
    let state = match i.state {
        InstanceState::Pending => "starting",
        InstanceState::Running => "running",
        InstanceState::Terminating | InstanceState::Terminated => "stopping",
        InstanceState::Failed => "locked",
    };
    let public_ip = i
        .connection
        .as_ref()
        .map(|c| json!({"address": c.ssh_host, "dynamic": true, "family": "inet"}));
    json!({
        "id": uuid_of(&i.id),
        "name": format!("gpubroker-{}", i.allocation_id),
        "state": state,
        "commercial_type": commercial_type,
        "zone": zone,
        "tags": tags_of(i),
        "public_ip": public_ip,
        "arch": "x86_64",
    })
}

/// The market instances of `zone` Scaleway still shows (a terminated server is gone).
fn servers_in(ctx: &FakeContext, zone: &str) -> Vec<Instance> {
    ctx.market
        .instances(&ctx.provider)
        .into_iter()
        .filter(|i| i.state != InstanceState::Terminated && zone_of(&i.offer_id) == Some(zone))
        .collect()
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    #[serde(default)]
    tags: Option<String>,
}

async fn list_servers(
    State(ctx): State<FakeContext>,
    Path(zone): Path<String>,
    Query(q): Query<ListQuery>,
) -> Response {
    let servers: Vec<Value> = servers_in(&ctx, &zone)
        .iter()
        .filter(|i| q.tags.as_ref().is_none_or(|t| tags_of(i).contains(t)))
        .map(|i| wire_server(&ctx, &zone, i))
        .collect();
    json(StatusCode::OK, json!({ "servers": servers }))
}

async fn get_server(
    State(ctx): State<FakeContext>,
    Path((zone, id)): Path<(String, String)>,
) -> Response {
    match servers_in(&ctx, &zone)
        .iter()
        .find(|i| i.id == market_id_from_uuid(&id))
    {
        Some(i) => json(
            StatusCode::OK,
            json!({"server": wire_server(&ctx, &zone, i)}),
        ),
        None => not_found(),
    }
}

#[derive(Debug, Deserialize)]
struct CreateBody {
    name: String,
    commercial_type: String,
    image: String,
    #[serde(default)]
    tags: Vec<String>,
}

async fn create(
    State(ctx): State<FakeContext>,
    Path(zone): Path<String>,
    body: Option<Json<CreateBody>>,
) -> Response {
    let invalid = |m: &str| error(StatusCode::BAD_REQUEST, "invalid_arguments", m);
    let Some(Json(body)) = body else {
        return invalid("Validation Error");
    };
    if body.name.is_empty() || body.image.is_empty() {
        return invalid("Validation Error");
    }
    let Some(offer) = offers(&ctx, &zone)
        .into_iter()
        .find(|o| o.instance_type == body.commercial_type)
    else {
        return invalid("Invalid commercial type");
    };
    let allocation_id = body
        .tags
        .iter()
        .find_map(|t| t.strip_prefix(ALLOCATION_TAG_PREFIX))
        .unwrap_or(&body.name)
        .to_string();
    let req = ProvisionRequest {
        allocation_id,
        offer_id: offer.id,
        gpu_count: 0,
        disk_gib: 0,
        image: String::new(),
        ssh_public_key: None,
    };
    match ctx.market.provision(&ctx.provider, &req) {
        Ok(i) => json(
            StatusCode::CREATED,
            json!({"server": wire_server(&ctx, &zone, &i)}),
        ),
        Err(ProviderError::NoCapacity) => error(
            StatusCode::PRECONDITION_FAILED,
            "out_of_stock",
            "server type is out of stock",
        ),
        Err(_) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "internal error",
        ),
    }
}

#[derive(Debug, Deserialize)]
struct ActionBody {
    action: String,
}

async fn action(
    State(ctx): State<FakeContext>,
    Path((zone, id)): Path<(String, String)>,
    body: Option<Json<ActionBody>>,
) -> Response {
    let Some(Json(body)) = body else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_arguments",
            "Validation Error",
        );
    };
    let Some(server) = servers_in(&ctx, &zone)
        .into_iter()
        .find(|i| i.id == market_id_from_uuid(&id))
    else {
        return not_found();
    };
    let accepted = || {
        json(
            StatusCode::ACCEPTED,
            json!({"task": {"id": format!("task-{}", uuid_of(&server.id)), "description": body.action, "status": "pending"}}),
        )
    };
    match body.action.as_str() {
        "poweron" => accepted(),
        "terminate" => match ctx.market.release(&ctx.provider, &server.id) {
            Ok(()) => accepted(),
            Err(_) => not_found(),
        },
        _ => error(
            StatusCode::BAD_REQUEST,
            "invalid_arguments",
            "Unsupported action",
        ),
    }
}
