//! A fake of Jarvislabs' API over the market's `jarvislabs` offers and instances,
//! Bearer-authenticated. One server plays the catalogue host and every region's
//! provisioning host.
//!
//! - `GET /misc/server_meta`: one VM row per GPU and region; `num_gpus` is the largest
//!   count of 1/2/4/8 such that the market has units of every count up to it, and the free
//!   devices equal it (so each count the adapter derives has a market twin with units);
//!   `price_per_hour` is the one-GPU offer's price now; no spot (the market has none).
//! - `POST /templates/vm/create`: `name` = allocation id → `{"success": true,
//!   "machine_id"}`; no unit left → 409 (the status is this fake's assumption).
//! - `GET /users/fetch/{machine_id}`, `GET /users/fetch`: `Creating` → `Running` →
//!   `Destroying`; a destroyed instance is gone (404).
//! - `POST /templates/vm/destroy?machine_id=`.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use providers::{Instance, InstanceState, Offer, ProviderError, ProvisionRequest};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{
    decimal_dollars, guarded, json, listed_on_demand, market_id, numeric_id, FakeAuth, FakeContext,
};

/// GPU counts a Jarvislabs VM may have.
const COUNTS: [u32; 4] = [1, 2, 4, 8];

/// The fake's router; point the adapter (and every region host) at `<url>`.
pub fn router(ctx: FakeContext) -> Router {
    let api = Router::new()
        .route("/misc/server_meta", get(server_meta))
        .route("/templates/vm/create", post(create))
        .route("/templates/vm/destroy", post(destroy))
        .route("/users/fetch", get(list_instances))
        .route("/users/fetch/{id}", get(get_instance))
        .with_state(ctx.clone());
    guarded(api, ctx, FakeAuth::Bearer)
}

fn failure(status: StatusCode, message: &str) -> Response {
    json(status, json!({"success": false, "message": message}))
}

async fn server_meta(State(ctx): State<FakeContext>) -> Response {
    let mut groups: BTreeMap<(String, String), Vec<Offer>> = BTreeMap::new();
    for o in listed_on_demand(&ctx) {
        groups
            .entry((o.gpu_model.clone(), o.region.clone()))
            .or_default()
            .push(o);
    }
    let rows: Vec<Value> = groups
        .into_iter()
        .filter_map(|((gpu, region), group)| {
            let of_count = |c: u32| group.iter().find(|o| o.gpu_count == c);
            let one = of_count(1)?;
            let max = COUNTS
                .into_iter()
                .take_while(|&c| of_count(c).is_some_and(|o| o.available > 0))
                .last()
                .unwrap_or(0);
            let listed = COUNTS
                .into_iter()
                .rev()
                .find(|&c| of_count(c).is_some())
                .unwrap_or(1);
            Some(json!({
                "gpu_type": gpu,
                "region": region,
                "num_free_devices": max,
                "effective_num_free_devices": max,
                "spot_num_free_devices": 0,
                "price_per_hour": decimal_dollars(one.price_per_hour),
                "spot_price": null,
                "vram": format!("{}", one.gpu_memory_gib.round()),
                "cpus_per_gpu": one.vcpus,
                "ram_per_gpu": one.memory_gib,
                "workload_type": "vm",
                "num_gpus": listed.max(max).to_string(),
            }))
        })
        .collect();
    json(
        StatusCode::OK,
        json!({
            "server_meta": rows,
            "cpu_meta": {"workload_type": "vm", "combinations": []},
        }),
    )
}

fn wire_instance(ctx: &FakeContext, i: &Instance) -> Value {
    let offer = ctx.market.offer(&i.offer_id);
    let status = match i.state {
        InstanceState::Pending => "Creating",
        InstanceState::Running => "Running",
        InstanceState::Terminating => "Destroying",
        InstanceState::Terminated => "Destroyed",
        InstanceState::Failed => "Failed",
    };
    json!({
        "machine_id": numeric_id(&i.id).unwrap_or(0),
        "name": i.allocation_id,
        "status": status,
        "template": "vm",
        "gpu_type": offer.as_ref().map(|o| o.gpu_model.clone()),
        "num_gpus": offer.as_ref().map(|o| o.gpu_count),
        "region": offer.as_ref().map(|o| o.region.clone()),
        "hdd": 100,
        "is_spot": false,
        "ssh_str": i.connection.as_ref().map(|c| {
            format!("ssh -o StrictHostKeyChecking=no -p {} {}@{}", c.ssh_port, c.ssh_user, c.ssh_host)
        }),
    })
}

fn gone(i: &Instance) -> bool {
    i.state == InstanceState::Terminated
}

async fn list_instances(State(ctx): State<FakeContext>) -> Response {
    let list: Vec<Value> = ctx
        .market
        .instances(&ctx.provider)
        .iter()
        .filter(|i| !gone(i))
        .map(|i| wire_instance(&ctx, i))
        .collect();
    json(StatusCode::OK, json!({"success": true, "instances": list}))
}

async fn get_instance(State(ctx): State<FakeContext>, Path(id): Path<u64>) -> Response {
    match ctx.market.status(&ctx.provider, &market_id(id)) {
        Ok(i) if !gone(&i) => json(
            StatusCode::OK,
            json!({"success": true, "instance": wire_instance(&ctx, &i)}),
        ),
        _ => failure(StatusCode::NOT_FOUND, "Instance not found"),
    }
}

#[derive(Debug, Deserialize)]
struct CreateBody {
    gpu_type: String,
    num_gpus: u32,
    region: String,
    name: String,
    #[serde(default)]
    is_spot: bool,
}

async fn create(State(ctx): State<FakeContext>, body: Option<Json<CreateBody>>) -> Response {
    let Some(Json(b)) = body else {
        return failure(StatusCode::BAD_REQUEST, "Invalid request body");
    };
    if b.is_spot {
        return failure(StatusCode::BAD_REQUEST, "No spot instances in the sandbox");
    }
    let Some(offer) = listed_on_demand(&ctx)
        .into_iter()
        .find(|o| o.gpu_model == b.gpu_type && o.region == b.region && o.gpu_count == b.num_gpus)
    else {
        return failure(StatusCode::BAD_REQUEST, "Unknown GPU type, count or region");
    };
    let req = ProvisionRequest {
        allocation_id: b.name,
        offer_id: offer.id,
        gpu_count: b.num_gpus,
        disk_gib: 0,
        image: String::new(),
        ssh_public_key: None,
    };
    match ctx.market.provision(&ctx.provider, &req) {
        Ok(i) => json(
            StatusCode::OK,
            json!({"success": true, "machine_id": numeric_id(&i.id).unwrap_or(0)}),
        ),
        Err(ProviderError::NoCapacity) => failure(
            StatusCode::CONFLICT,
            "No capacity available for this GPU type",
        ),
        Err(_) => failure(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error"),
    }
}

#[derive(Debug, Deserialize)]
struct DestroyQuery {
    machine_id: u64,
}

async fn destroy(State(ctx): State<FakeContext>, Query(q): Query<DestroyQuery>) -> Response {
    match ctx.market.release(&ctx.provider, &market_id(q.machine_id)) {
        Ok(()) => json(StatusCode::OK, json!({"success": true})),
        Err(_) => failure(StatusCode::NOT_FOUND, "Instance not found"),
    }
}
