//! A fake of FluidStack's platform API as documented (`api-key` header), over the market's
//! `fluidstack` offers and instances. No recorded FluidStack response exists: the shapes are
//! the documented ones (see `providers/src/fluidstack`).
//!
//! - `GET /list_available_configurations`: one configuration per market GPU model and count
//!   (`gpu_type` spelled `<MODEL>_<n>GB`, `price_per_gpu_hr` a decimal string, the cheapest
//!   per-GPU price now, `gpu_counts` = that count, `regions` with units).
//! - `POST /instances`: the allocation id travels in the name `gpubroker-<id>`; → `{"id"}`;
//!   no capacity → 400 `{"detail": "Out of stock"}`.
//! - `GET /instances`: every live instance (`provisioning|running|stopped|terminating`); a
//!   terminated one is gone. `DELETE /instances/{id}` → `{"message": ...}`.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{delete, get};
use axum::{Json, Router};
use providers::{
    ownership, Instance, InstanceId, InstanceState, Offer, Pricing, ProviderError, ProvisionRequest,
};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{guarded, json, FakeAuth, FakeContext};

/// The fake's router; mount it at the root and point the adapter at the root.
pub fn router(ctx: FakeContext) -> Router {
    let api = Router::new()
        .route("/list_available_configurations", get(configurations))
        .route("/instances", get(list).post(create))
        .route("/instances/{id}", delete(destroy))
        .with_state(ctx.clone());
    guarded(api, ctx, FakeAuth::Header("api-key"))
}

fn detail(status: StatusCode, message: &str) -> Response {
    json(status, json!({"detail": message}))
}

/// FluidStack's spelling of a market GPU: `A100_80GB_SXM`, `RTXA6000_48GB`.
fn gpu_type(o: &Offer) -> String {
    let name = o.gpu_model.replace('-', "_");
    if name.contains("GB") {
        name
    } else {
        format!("{name}_{}GB", o.gpu_memory_gib.round() as u64)
    }
}

fn offers(ctx: &FakeContext) -> Vec<Offer> {
    ctx.market
        .offers(&ctx.provider)
        .into_iter()
        .filter(|o| o.pricing == Pricing::OnDemand)
        .collect()
}

async fn configurations(State(ctx): State<FakeContext>) -> Response {
    let mut by_kind: BTreeMap<(String, u32), Vec<Offer>> = BTreeMap::new();
    for o in offers(&ctx).into_iter().filter(|o| o.available > 0) {
        by_kind
            .entry((gpu_type(&o), o.gpu_count))
            .or_default()
            .push(o);
    }
    let list: Vec<Value> = by_kind
        .into_iter()
        .filter_map(|((kind, count), group)| {
            let cheapest = group.iter().map(|o| o.price_per_gpu_hour).min()?;
            let mut regions: Vec<&str> = group.iter().map(|o| o.region.as_str()).collect();
            regions.sort_unstable();
            regions.dedup();
            Some(json!({
                "gpu_type": kind,
                "price_per_gpu_hr": cheapest.to_string(),
                "gpu_counts": [count],
                "regions": regions,
                "estimated_provisioning_time_minutes": 5,
            }))
        })
        .collect();
    json(StatusCode::OK, Value::Array(list))
}

/// FluidStack forgets a terminated instance.
fn visible(i: &Instance) -> bool {
    i.state != InstanceState::Terminated
}

fn wire(ctx: &FakeContext, i: &Instance) -> Value {
    let offer = ctx.market.offer(&i.offer_id);
    let status = match i.state {
        InstanceState::Pending => "provisioning",
        InstanceState::Running => "running",
        InstanceState::Failed => "stopped",
        InstanceState::Terminating | InstanceState::Terminated => "terminating",
    };
    json!({
        "id": i.id.0,
        "name": ownership::instance_name(&i.allocation_id, 63),
        "status": status,
        "ip_address": i.connection.as_ref().map(|c| c.ssh_host.clone()),
        "ssh_port": 22,
        "gpu_type": offer.as_ref().map(gpu_type),
        "gpu_count": offer.as_ref().map(|o| o.gpu_count),
        "region": offer.as_ref().map(|o| o.region.clone()),
        "capabilities": {"default_user_name": "ubuntu"},
    })
}

async fn list(State(ctx): State<FakeContext>) -> Response {
    let list: Vec<Value> = ctx
        .market
        .instances(&ctx.provider)
        .iter()
        .filter(|i| visible(i))
        .map(|i| wire(&ctx, i))
        .collect();
    json(StatusCode::OK, Value::Array(list))
}

#[derive(Debug, Deserialize)]
struct CreateBody {
    gpu_type: String,
    gpu_count: u32,
    region: String,
    operating_system_label: String,
    name: String,
    ssh_key: String,
}

async fn create(State(ctx): State<FakeContext>, body: Option<Json<CreateBody>>) -> Response {
    let Some(Json(body)) = body else {
        return detail(StatusCode::UNPROCESSABLE_ENTITY, "Invalid request body");
    };
    if body.ssh_key.is_empty() || body.operating_system_label.is_empty() {
        return detail(
            StatusCode::UNPROCESSABLE_ENTITY,
            "ssh_key and operating_system_label are required",
        );
    }
    let mut candidates: Vec<Offer> = offers(&ctx)
        .into_iter()
        .filter(|o| {
            gpu_type(o) == body.gpu_type && o.gpu_count == body.gpu_count && o.region == body.region
        })
        .collect();
    candidates.sort_by_key(|o| std::cmp::Reverse(o.available));
    let Some(offer) = candidates.into_iter().next() else {
        return detail(StatusCode::BAD_REQUEST, "Unknown configuration");
    };
    let req = ProvisionRequest {
        allocation_id: ownership::allocation_of_name(&body.name)
            .unwrap_or(&body.name)
            .to_string(),
        offer_id: offer.id,
        gpu_count: body.gpu_count,
        disk_gib: 0,
        image: body.operating_system_label,
        ssh_public_key: None,
    };
    match ctx.market.provision(&ctx.provider, &req) {
        Ok(i) => json(StatusCode::OK, json!({"id": i.id.0})),
        Err(ProviderError::NoCapacity) => detail(StatusCode::BAD_REQUEST, "Out of stock"),
        Err(_) => detail(StatusCode::INTERNAL_SERVER_ERROR, "Internal error"),
    }
}

async fn destroy(State(ctx): State<FakeContext>, Path(id): Path<String>) -> Response {
    let id = InstanceId(id);
    match ctx.market.status(&ctx.provider, &id) {
        Ok(i) if visible(&i) && i.state != InstanceState::Terminating => {
            match ctx.market.release(&ctx.provider, &id) {
                Ok(()) => json(StatusCode::OK, json!({"message": "Instance terminated"})),
                Err(_) => detail(StatusCode::NOT_FOUND, "Instance not found"),
            }
        }
        Ok(_) => detail(StatusCode::BAD_REQUEST, "Machine is already terminated"),
        Err(_) => detail(StatusCode::NOT_FOUND, "Instance not found"),
    }
}
