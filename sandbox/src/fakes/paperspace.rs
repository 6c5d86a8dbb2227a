//! A fake of Paperspace's public API v1 machines (`/v1/machines`), Bearer-authenticated,
//! over the market's `paperspace` instances. Built from Paperspace's documentation (no
//! recorded sample exists). Paperspace has no price API, so the fake serves none: the
//! adapter lists its dated catalogue, which matches the market's seed rows.
//!
//! - `POST /machines {name, machineType, region, diskSize, templateId, ...}`: the name is
//!   the allocation id's `gpubroker-<id>` name; answers `{"data": machine, "event": {...}}`; no capacity → 409.
//! - `GET /machines` (`{"items", "hasMore", "nextPage"}`), `GET /machines/{id}` (bare):
//!   states `provisioning`, `ready`, `off`; a deleted machine is gone (404).
//! - `DELETE /machines/{id}`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use providers::{ownership, Instance, InstanceState, Pricing, ProviderError, ProvisionRequest};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{guarded, json, FakeAuth, FakeContext};

/// The fake's router; mount it at the root and point the adapter at `<url>/v1`.
pub fn router(ctx: FakeContext) -> Router {
    let api = Router::new()
        .route("/machines", get(list).post(create))
        .route("/machines/{id}", get(get_one).delete(delete_one))
        .with_state(ctx.clone());
    Router::new().nest("/v1", guarded(api, ctx, FakeAuth::Bearer))
}

fn error(status: StatusCode, message: &str) -> Response {
    json(
        status,
        json!({"message": message, "status": status.as_u16()}),
    )
}

/// `i-0123456789abcdef` ↔ `ps0123456789abcdef`.
fn machine_id(i: &Instance) -> String {
    format!("ps{}", i.id.0.trim_start_matches("i-"))
}

fn wire(ctx: &FakeContext, i: &Instance) -> Value {
    let offer = ctx.market.offer(&i.offer_id);
    let state = match i.state {
        InstanceState::Pending => "provisioning",
        InstanceState::Running => "ready",
        InstanceState::Terminating | InstanceState::Terminated | InstanceState::Failed => "off",
    };
    json!({
        "id": machine_id(i),
        "name": ownership::instance_name(&i.allocation_id, 64),
        "state": state,
        "machineType": offer.as_ref().map(|o| o.instance_type.clone()).unwrap_or_default(),
        "region": offer.map(|o| o.region).unwrap_or_default(),
        "publicIp": i.connection.as_ref().map(|c| c.ssh_host.clone()),
        "privateIp": "10.0.0.2",
        "os": "Ubuntu 22.04",
        "dtCreated": "2026-11-23T12:00:00.000Z",
    })
}

/// The machines Paperspace still shows (a deleted machine is gone).
fn machines(ctx: &FakeContext) -> Vec<Instance> {
    ctx.market
        .instances(&ctx.provider)
        .into_iter()
        .filter(|i| i.state != InstanceState::Terminated)
        .collect()
}

async fn list(State(ctx): State<FakeContext>) -> Response {
    let items: Vec<Value> = machines(&ctx).iter().map(|i| wire(&ctx, i)).collect();
    json(
        StatusCode::OK,
        json!({"items": items, "hasMore": false, "nextPage": null}),
    )
}

async fn get_one(State(ctx): State<FakeContext>, Path(id): Path<String>) -> Response {
    match machines(&ctx).iter().find(|i| machine_id(i) == id) {
        Some(i) => json(StatusCode::OK, wire(&ctx, i)),
        None => error(StatusCode::NOT_FOUND, "Machine not found"),
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateBody {
    name: String,
    machine_type: String,
    region: String,
    template_id: String,
    disk_size: u32,
}

async fn create(State(ctx): State<FakeContext>, body: Option<Json<CreateBody>>) -> Response {
    let Some(Json(body)) = body else {
        return error(StatusCode::BAD_REQUEST, "Invalid body");
    };
    if body.template_id.is_empty() || body.disk_size == 0 {
        return error(
            StatusCode::BAD_REQUEST,
            "templateId and diskSize are required",
        );
    }
    let Some(offer) = ctx.market.offers(&ctx.provider).into_iter().find(|o| {
        o.pricing == Pricing::OnDemand
            && o.instance_type == body.machine_type
            && o.region == body.region
    }) else {
        return error(
            StatusCode::BAD_REQUEST,
            "Invalid machineType for this region",
        );
    };
    let req = ProvisionRequest {
        allocation_id: ownership::allocation_of_name(&body.name)
            .unwrap_or(&body.name)
            .to_string(),
        offer_id: offer.id,
        gpu_count: 0,
        disk_gib: body.disk_size,
        image: body.template_id,
        ssh_public_key: None,
    };
    match ctx.market.provision(&ctx.provider, &req) {
        Ok(i) => json(
            StatusCode::OK,
            json!({"data": wire(&ctx, &i), "event": {"id": "ev1", "name": "create", "state": "new"}}),
        ),
        Err(ProviderError::NoCapacity) => error(
            StatusCode::CONFLICT,
            "Machine type is out of capacity in this region",
        ),
        Err(_) => error(StatusCode::INTERNAL_SERVER_ERROR, "Internal error"),
    }
}

async fn delete_one(State(ctx): State<FakeContext>, Path(id): Path<String>) -> Response {
    let Some(i) = machines(&ctx).into_iter().find(|i| machine_id(i) == id) else {
        return error(StatusCode::NOT_FOUND, "Machine not found");
    };
    match ctx.market.release(&ctx.provider, &i.id) {
        Ok(()) => json(
            StatusCode::OK,
            json!({"data": wire(&ctx, &i), "event": {"id": "ev2", "name": "delete", "state": "new"}}),
        ),
        Err(_) => error(StatusCode::NOT_FOUND, "Machine not found"),
    }
}
