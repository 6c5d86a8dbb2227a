//! A fake of Vast.ai's REST API v0 (`/api/v0`), Bearer-authenticated, over the market's
//! `vast` offers and instances.
//!
//! - `POST /bundles/`: one ask per market offer with units left (filters other than the
//!   implied `rentable`/`rented` are not applied); ask ids are stable per market offer.
//! - `PUT /asks/{id}/`: rents with `label` = allocation id → `{"success": true,
//!   "new_contract": <id>}`; an ask without capacity → 404 `no_such_ask`.
//! - `GET /instances/`, `GET /instances/{id}/`: `actual_status` null (provisioning) →
//!   `running`; a destroyed instance is gone (404 `no_such_instance`), as at Vast.
//! - `DELETE /instances/{id}/` → `{"success": true}`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use providers::{
    Instance, InstanceState, Offer, OfferId, Pricing, ProviderError, ProvisionRequest,
};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{guarded, json, market_id, numeric_id, FakeAuth, FakeContext};

/// The first ask id; ask `FIRST_ASK + n` is the market's n-th vast offer.
const FIRST_ASK: u64 = 30_000_000;

/// The fake's router; point the adapter at `<url>/api/v0`.
pub fn router(ctx: FakeContext) -> Router {
    let api = Router::new()
        .route("/bundles/", post(bundles))
        .route("/asks/{id}/", put(rent))
        .route("/instances/", get(list_instances))
        .route("/instances/{id}/", get(get_instance).delete(destroy))
        .with_state(ctx.clone());
    Router::new().nest("/api/v0", guarded(api, ctx, FakeAuth::Bearer))
}

fn failure(status: StatusCode, error: &str, msg: &str) -> Response {
    json(
        status,
        json!({"success": false, "error": error, "msg": msg}),
    )
}

/// The market's on-demand vast offers, in the market's stable order.
fn market_offers(ctx: &FakeContext) -> Vec<Offer> {
    ctx.market
        .offers(&ctx.provider)
        .into_iter()
        .filter(|o| o.pricing == Pricing::OnDemand)
        .collect()
}

fn ask_of(ctx: &FakeContext, id: &OfferId) -> Option<u64> {
    let i = market_offers(ctx).iter().position(|o| o.id == *id)?;
    Some(FIRST_ASK + i as u64)
}

fn offer_of_ask(ctx: &FakeContext, ask: u64) -> Option<Offer> {
    let i = usize::try_from(ask.checked_sub(FIRST_ASK)?).ok()?;
    market_offers(ctx).into_iter().nth(i)
}

fn mb(gib: f64) -> u64 {
    (gib * 1024.0).round() as u64
}

fn wire_ask(ask: u64, o: &Offer) -> Value {
    let vcpus = o.vcpus.unwrap_or(8);
    let ram_mb = mb(o.memory_gib.unwrap_or(32.0));
    let dollars = o.price_per_hour.as_f64_dollars();
    json!({
        "id": ask,
        "ask_contract_id": ask,
        "bundle_id": ask + 1_000_000,
        "machine_id": ask % 100_000,
        "host_id": ask % 10_000,
        "gpu_name": o.gpu_model,
        "num_gpus": o.gpu_count,
        "gpu_ram": mb(o.gpu_memory_gib),
        "gpu_total_ram": mb(o.gpu_memory_gib) * u64::from(o.gpu_count),
        "gpu_frac": 1.0,
        "cpu_cores": vcpus,
        "cpu_cores_effective": vcpus,
        "cpu_ram": ram_mb,
        "disk_space": o.storage_gib.unwrap_or(100),
        "dph_base": dollars,
        "dph_total": dollars,
        "min_bid": dollars,
        "geolocation": o.region,
        "rentable": true,
        "rented": false,
        "verified": true,
        "reliability2": 0.99,
        "cuda_max_good": 12.4,
        "direct_port_count": 10,
        "inet_up": 1000.0,
        "inet_down": 1000.0,
    })
}

async fn bundles(State(ctx): State<FakeContext>, _filter: Option<Json<Value>>) -> Response {
    let offers: Vec<Value> = market_offers(&ctx)
        .iter()
        .enumerate()
        .filter(|(_, o)| o.available > 0)
        .map(|(i, o)| wire_ask(FIRST_ASK + i as u64, o))
        .collect();
    json(StatusCode::OK, json!({ "offers": offers }))
}

fn wire_instance(ctx: &FakeContext, i: &Instance) -> Value {
    let offer = ctx.market.offer(&i.offer_id);
    let conn = i.connection.as_ref();
    let actual = match i.state {
        InstanceState::Pending => Value::Null,
        InstanceState::Running => json!("running"),
        InstanceState::Failed => json!("exited"),
        InstanceState::Terminating | InstanceState::Terminated => json!("exited"),
    };
    json!({
        "id": numeric_id(&i.id),
        "actual_status": actual,
        "intended_status": "running",
        "cur_state": "running",
        "next_state": "running",
        "label": i.allocation_id,
        "ssh_host": conn.map(|c| c.ssh_host.clone()),
        "ssh_port": conn.map(|c| c.ssh_port),
        "public_ipaddr": conn.map(|c| c.ssh_host.clone()),
        "machine_id": ask_of(ctx, &i.offer_id).map(|a| a % 100_000),
        "gpu_name": offer.as_ref().map(|o| o.gpu_model.clone()),
        "num_gpus": offer.as_ref().map(|o| o.gpu_count),
        "dph_total": offer.as_ref().map(|o| o.price_per_hour.as_f64_dollars()),
        "geolocation": offer.as_ref().map(|o| o.region.clone()),
        "status_msg": if conn.is_some() { "success, running" } else { "loading" },
    })
}

/// Instances not yet destroyed (a destroyed Vast instance vanishes at once).
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
    json(
        StatusCode::OK,
        json!({"instances_found": list.len(), "instances": list}),
    )
}

fn no_such_instance() -> Response {
    failure(
        StatusCode::NOT_FOUND,
        "no_such_instance",
        "Instance does not exist.",
    )
}

async fn get_instance(State(ctx): State<FakeContext>, Path(id): Path<u64>) -> Response {
    match ctx.market.status(&ctx.provider, &market_id(id)) {
        Ok(i) if live(&i) => json(
            StatusCode::OK,
            json!({ "instances": wire_instance(&ctx, &i) }),
        ),
        _ => no_such_instance(),
    }
}

async fn destroy(State(ctx): State<FakeContext>, Path(id): Path<u64>) -> Response {
    let id = market_id(id);
    match ctx.market.status(&ctx.provider, &id) {
        Ok(i) if live(&i) => match ctx.market.release(&ctx.provider, &id) {
            Ok(()) => json(StatusCode::OK, json!({"success": true})),
            Err(_) => no_such_instance(),
        },
        _ => no_such_instance(),
    }
}

#[derive(Debug, Deserialize)]
struct RentBody {
    #[serde(default)]
    label: Option<String>,
    #[serde(default)]
    image: Option<String>,
    #[serde(default)]
    disk: Option<f64>,
}

async fn rent(
    State(ctx): State<FakeContext>,
    Path(ask): Path<u64>,
    body: Option<Json<RentBody>>,
) -> Response {
    let Some(Json(body)) = body else {
        return failure(
            StatusCode::BAD_REQUEST,
            "invalid_args",
            "Invalid request body.",
        );
    };
    let Some(offer) = offer_of_ask(&ctx, ask) else {
        return failure(StatusCode::NOT_FOUND, "no_such_ask", "No such ask.");
    };
    let req = ProvisionRequest {
        allocation_id: body.label.unwrap_or_default(),
        offer_id: offer.id,
        gpu_count: offer.gpu_count,
        disk_gib: body.disk.map_or(0, |d| d.max(0.0) as u32),
        image: body.image.unwrap_or_default(),
        ssh_public_key: None,
    };
    match ctx.market.provision(&ctx.provider, &req) {
        Ok(i) => json(
            StatusCode::OK,
            json!({"success": true, "new_contract": numeric_id(&i.id)}),
        ),
        Err(ProviderError::NoCapacity | ProviderError::NotFound) => failure(
            StatusCode::NOT_FOUND,
            "no_such_ask",
            "This offer is no longer available.",
        ),
        Err(_) => failure(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "Internal error.",
        ),
    }
}
