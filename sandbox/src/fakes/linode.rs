//! A fake of Linode's API v4 (`/v4`), Bearer-authenticated, over the market's `linode`
//! offers and instances.
//!
//! - `GET /linode/types`: one `class: gpu` type per market instance type (label `Dedicated
//!   <RAM>GB + <GPU> GPU x<n>` as recorded, `memory`/`disk` in MB, `price.hourly` the type's
//!   cheapest region now, `region_prices` per region); one page.
//! - `GET /regions/availability`: `{region, plan, available}` per market offer.
//! - `POST /linode/instances`: the allocation id travels in the label `gpubroker-<id>`; no
//!   capacity → 400 `{"errors": [{"reason": "Not enough capacity ..."}]}`.
//! - `GET /linode/instances`, `GET /linode/instances/{id}`: integer ids,
//!   `provisioning|running|offline`; a deleted instance is 404. `DELETE` → `{}`.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use providers::{
    ownership, Instance, InstanceState, Offer, OfferId, ProviderError, ProvisionRequest,
};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{
    dollars, guarded, json, listed_on_demand, market_id, numeric_id, FakeAuth, FakeContext,
};

/// The fake's router; mount it at the root and point the adapter at `<url>/v4`.
pub fn router(ctx: FakeContext) -> Router {
    let api = Router::new()
        .route("/linode/types", get(types))
        .route("/regions/availability", get(availability))
        .route("/linode/instances", get(list).post(create))
        .route("/linode/instances/{id}", get(get_one).delete(destroy))
        .with_state(ctx.clone());
    Router::new().nest("/v4", guarded(api, ctx, FakeAuth::Bearer))
}

fn error(status: StatusCode, reason: &str) -> Response {
    json(status, json!({"errors": [{"reason": reason}]}))
}

fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "Not found")
}

fn page(data: Vec<Value>) -> Response {
    let n = data.len();
    json(
        StatusCode::OK,
        json!({"data": data, "page": 1, "pages": 1, "results": n}),
    )
}

async fn types(State(ctx): State<FakeContext>) -> Response {
    let mut by_type: BTreeMap<String, Vec<Offer>> = BTreeMap::new();
    for o in listed_on_demand(&ctx) {
        by_type.entry(o.instance_type.clone()).or_default().push(o);
    }
    let data = by_type
        .into_iter()
        .filter_map(|(id, group)| {
            let first = group.iter().min_by_key(|o| o.price_per_hour)?;
            let ram = first.memory_gib.unwrap_or(0.0).round() as u64;
            let gpu = first.gpu_model.trim_start_matches("Quadro");
            let region_prices: Vec<Value> = group
                .iter()
                .map(|o| json!({"id": o.region, "hourly": dollars(o.price_per_hour.0), "monthly": dollars(o.price_per_hour.0 * 730)}))
                .collect();
            Some(json!({
                "id": id,
                "label": format!("Dedicated {ram}GB + {gpu} GPU x{}", first.gpu_count),
                "price": {"hourly": dollars(first.price_per_hour.0), "monthly": dollars(first.price_per_hour.0 * 730)},
                "region_prices": region_prices,
                "memory": ram * 1024,
                "disk": u64::from(first.storage_gib.unwrap_or(100)) * 1024,
                "transfer": 16000,
                "vcpus": first.vcpus.unwrap_or(1),
                "gpus": first.gpu_count,
                "network_out": 10000,
                "class": "gpu",
                "successor": null,
            }))
        })
        .collect();
    page(data)
}

async fn availability(State(ctx): State<FakeContext>) -> Response {
    let data = listed_on_demand(&ctx)
        .iter()
        .map(|o| json!({"region": o.region, "plan": o.instance_type, "available": o.available > 0}))
        .collect();
    page(data)
}

/// Linode forgets a deleted instance.
fn visible(i: &Instance) -> bool {
    matches!(
        i.state,
        InstanceState::Pending | InstanceState::Running | InstanceState::Failed
    )
}

fn wire(ctx: &FakeContext, i: &Instance) -> Value {
    let offer = ctx.market.offer(&i.offer_id);
    let status = match i.state {
        InstanceState::Pending => "provisioning",
        InstanceState::Running => "running",
        _ => "offline",
    };
    json!({
        "id": numeric_id(&i.id),
        "label": ownership::instance_name(&i.allocation_id, 64),
        "status": status,
        "region": offer.as_ref().map(|o| o.region.clone()),
        "type": offer.as_ref().map(|o| o.instance_type.clone()),
        "ipv4": i.connection.as_ref().map(|c| vec![c.ssh_host.clone()]).unwrap_or_default(),
        "tags": [ownership::BROKER_TAG],
    })
}

async fn list(State(ctx): State<FakeContext>) -> Response {
    let data = ctx
        .market
        .instances(&ctx.provider)
        .iter()
        .filter(|i| visible(i))
        .map(|i| wire(&ctx, i))
        .collect();
    page(data)
}

async fn get_one(State(ctx): State<FakeContext>, Path(id): Path<u64>) -> Response {
    match ctx.market.status(&ctx.provider, &market_id(id)) {
        Ok(i) if visible(&i) => json(StatusCode::OK, wire(&ctx, &i)),
        _ => not_found(),
    }
}

#[derive(Debug, Deserialize)]
struct CreateBody {
    #[serde(rename = "type")]
    kind: String,
    region: String,
    image: String,
    label: String,
    root_pass: String,
}

async fn create(State(ctx): State<FakeContext>, body: Option<Json<CreateBody>>) -> Response {
    let Some(Json(body)) = body else {
        return error(StatusCode::BAD_REQUEST, "Invalid JSON");
    };
    if body.image.is_empty() || body.root_pass.len() < 11 {
        return error(
            StatusCode::BAD_REQUEST,
            "root_pass must be a strong password",
        );
    }
    let req = ProvisionRequest {
        allocation_id: ownership::allocation_of_name(&body.label)
            .unwrap_or(&body.label)
            .to_string(),
        offer_id: OfferId::new(&ctx.provider, &format!("{}@{}", body.kind, body.region)),
        gpu_count: 0,
        disk_gib: 0,
        image: body.image,
        ssh_public_key: None,
    };
    match ctx.market.provision(&ctx.provider, &req) {
        Ok(i) => json(StatusCode::OK, wire(&ctx, &i)),
        Err(ProviderError::NoCapacity) => error(
            StatusCode::BAD_REQUEST,
            "Not enough capacity in this region for the requested plan",
        ),
        Err(ProviderError::NotFound) => error(StatusCode::BAD_REQUEST, "Invalid type or region"),
        Err(_) => error(StatusCode::INTERNAL_SERVER_ERROR, "Internal error"),
    }
}

async fn destroy(State(ctx): State<FakeContext>, Path(id): Path<u64>) -> Response {
    let id = market_id(id);
    match ctx.market.status(&ctx.provider, &id) {
        Ok(i) if visible(&i) => match ctx.market.release(&ctx.provider, &id) {
            Ok(()) => json(StatusCode::OK, json!({})),
            Err(_) => not_found(),
        },
        _ => not_found(),
    }
}
