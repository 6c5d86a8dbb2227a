//! A fake of CUDO Compute's REST API v1 (`/v1`) over the market's `cudo` offers and
//! instances, Bearer-authenticated.
//!
//! - `GET /vms/machine-types`: one composable machine type per market instance-type family
//!   (the part before `_`) and data centre; `gpuPriceHr` is the family's cheapest USD per
//!   GPU-hour now, the other component prices are fixed (CUDO prices components, not
//!   shapes, so composed prices differ from the market's exact ones); `maxGpuFree` is the
//!   largest count of 1/2/4/8 such that the market has units of every count up to it.
//! - `POST /projects/{project}/vm`: `vmId` = allocation id and becomes the VM id; a taken
//!   `vmId` → 409 `ALREADY_EXISTS`; no unit left → 429 `RESOURCE_EXHAUSTED` (this fake's
//!   assumption of CUDO's capacity error).
//! - `GET /projects/{project}/vms[/{id}]`: `{"VMs": [...]}` / `{"VM": {...}}`, `PENDING` →
//!   `ACTIVE` → `DELETING`; a terminated VM is gone (404 `NOT_FOUND`).
//! - `POST /projects/{project}/vms/{id}/terminate`.
//!
//! Any project id is accepted.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use providers::{Instance, InstanceState, MicroUsd, Offer, ProviderError, ProvisionRequest};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{guarded, json, listed_on_demand, FakeAuth, FakeContext};

/// GPU counts a composed VM may have.
const COUNTS: [u32; 4] = [1, 2, 4, 8];

/// The fake's router; point the adapter at `<url>/v1`.
pub fn router(ctx: FakeContext) -> Router {
    let api = Router::new()
        .route("/vms/machine-types", get(machine_types))
        .route("/projects/{project}/vm", post(create_vm))
        .route("/projects/{project}/vms", get(list_vms))
        .route("/projects/{project}/vms/{id}", get(get_vm))
        .route("/projects/{project}/vms/{id}/terminate", post(terminate_vm))
        .with_state(ctx.clone());
    Router::new().nest("/v1", guarded(api, ctx, FakeAuth::Bearer))
}

/// A gRPC-gateway error body.
fn failure(status: StatusCode, code: u8, message: &str) -> Response {
    json(
        status,
        json!({"code": code, "message": message, "details": []}),
    )
}

/// The machine type of a market instance type (`epyc-rome-rtx-a6000_24x1v12gb`).
fn family(o: &Offer) -> &str {
    o.instance_type
        .split_once('_')
        .map_or(o.instance_type.as_str(), |(f, _)| f)
}

fn price(value: &str) -> Value {
    json!({ "value": value })
}

fn usd(p: MicroUsd) -> String {
    format!("{}.{:06}", p.0 / 1_000_000, p.0 % 1_000_000)
}

async fn machine_types(State(ctx): State<FakeContext>) -> Response {
    let mut groups: BTreeMap<(String, String), Vec<Offer>> = BTreeMap::new();
    for o in listed_on_demand(&ctx) {
        groups
            .entry((family(&o).to_string(), o.region.clone()))
            .or_default()
            .push(o);
    }
    let types: Vec<Value> = groups
        .into_iter()
        .filter_map(|((machine_type, dc), group)| {
            let gpu_price = group.iter().map(|o| o.price_per_gpu_hour).min()?;
            let first = group.first()?;
            let has_units = |c: u32| group.iter().any(|o| o.gpu_count == c && o.available > 0);
            let max_free = COUNTS
                .into_iter()
                .take_while(|&c| has_units(c))
                .last()
                .unwrap_or(0);
            let total_free: u32 = group.iter().map(|o| o.available * o.gpu_count).sum();
            Some(json!({
                "dataCenterId": dc,
                "machineType": machine_type,
                "cpuModel": "EPYC-Rome",
                "gpuModel": first.gpu_model,
                "gpuModelId": first.gpu_model.to_ascii_lowercase(),
                "minVcpuPerMemoryGib": 0.25,
                "maxVcpuPerMemoryGib": 1,
                "minVcpuPerGpu": 1,
                "maxVcpuPerGpu": 16,
                "vcpuPriceHr": price("0.002100"),
                "memoryGibPriceHr": price("0.003400"),
                "gpuPriceHr": price(&usd(gpu_price)),
                "minStorageGibPriceHr": price("0.000107"),
                "ipv4PriceHr": price("0.003500"),
                "renewableEnergy": false,
                "maxVcpuFree": 256,
                "totalVcpuFree": 512,
                "maxMemoryGibFree": 1024,
                "totalMemoryGibFree": 2048,
                "maxGpuFree": max_free,
                "totalGpuFree": total_free.max(max_free),
                "maxStorageGibFree": 10000,
                "totalStorageGibFree": 10000,
            }))
        })
        .collect();
    json(StatusCode::OK, json!({ "machineTypes": types }))
}

fn wire_vm(ctx: &FakeContext, i: &Instance) -> Value {
    let offer = ctx.market.offer(&i.offer_id);
    let state = match i.state {
        InstanceState::Pending => "PENDING",
        InstanceState::Running => "ACTIVE",
        InstanceState::Terminating => "DELETING",
        InstanceState::Terminated => "DELETED",
        InstanceState::Failed => "FAILED",
    };
    let ip = i.connection.as_ref().map(|c| c.ssh_host.clone());
    json!({
        "datacenterId": offer.as_ref().map(|o| o.region.clone()),
        "machineType": offer.as_ref().map(|o| family(o).to_string()),
        "id": i.allocation_id,
        "externalIpAddress": ip,
        "internalIpAddress": "10.0.0.2",
        "publicIpAddress": ip,
        "memory": offer.as_ref().and_then(|o| o.memory_gib),
        "vcpus": offer.as_ref().and_then(|o| o.vcpus),
        "gpuModel": offer.as_ref().map(|o| o.gpu_model.clone()),
        "gpuQuantity": offer.as_ref().map(|o| o.gpu_count),
        "bootDiskSizeGib": 100,
        "imageId": "ubuntu-2204-nvidia-535-docker-v20240214",
        "shortState": state.to_ascii_lowercase(),
        "metadata": {},
        "state": state,
        "createTime": "2026-01-01T00:00:00Z",
    })
}

/// The live VM with this id (= allocation id).
fn live_vm(ctx: &FakeContext, id: &str) -> Option<Instance> {
    ctx.market
        .find_by_allocation(&ctx.provider, id)
        .filter(|i| i.state != InstanceState::Terminated)
}

fn not_found() -> Response {
    failure(StatusCode::NOT_FOUND, 5, "vm not found")
}

async fn list_vms(State(ctx): State<FakeContext>, Path(_project): Path<String>) -> Response {
    let vms: Vec<Value> = ctx
        .market
        .instances(&ctx.provider)
        .iter()
        .filter(|i| i.state != InstanceState::Terminated)
        .map(|i| wire_vm(&ctx, i))
        .collect();
    json(StatusCode::OK, json!({ "VMs": vms }))
}

async fn get_vm(
    State(ctx): State<FakeContext>,
    Path((_project, id)): Path<(String, String)>,
) -> Response {
    match live_vm(&ctx, &id) {
        Some(i) => json(StatusCode::OK, json!({ "VM": wire_vm(&ctx, &i) })),
        None => not_found(),
    }
}

async fn terminate_vm(
    State(ctx): State<FakeContext>,
    Path((_project, id)): Path<(String, String)>,
) -> Response {
    let Some(i) = live_vm(&ctx, &id) else {
        return not_found();
    };
    match ctx.market.release(&ctx.provider, &i.id) {
        Ok(()) => json(StatusCode::OK, json!({})),
        Err(_) => not_found(),
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateBody {
    vm_id: String,
    data_center_id: String,
    machine_type: String,
    gpus: u32,
    vcpus: u32,
    memory_gib: u32,
    boot_disk_image_id: String,
}

async fn create_vm(
    State(ctx): State<FakeContext>,
    Path(_project): Path<String>,
    body: Option<Json<CreateBody>>,
) -> Response {
    let invalid = |m: &str| failure(StatusCode::BAD_REQUEST, 3, m);
    let Some(Json(b)) = body else {
        return invalid("invalid request body");
    };
    if b.vm_id.is_empty() || b.boot_disk_image_id.is_empty() || b.vcpus == 0 || b.memory_gib == 0 {
        return invalid("vmId, bootDiskImageId, vcpus and memoryGib are required");
    }
    if ctx
        .market
        .find_by_allocation(&ctx.provider, &b.vm_id)
        .is_some()
    {
        return failure(StatusCode::CONFLICT, 6, "vm already exists");
    }
    let mut candidates: Vec<Offer> = listed_on_demand(&ctx)
        .into_iter()
        .filter(|o| {
            family(o) == b.machine_type && o.region == b.data_center_id && o.gpu_count == b.gpus
        })
        .collect();
    candidates.sort_by_key(|o| std::cmp::Reverse(o.available));
    let Some(offer) = candidates.into_iter().next() else {
        return invalid("unknown machine type, data center or GPU count");
    };
    let req = ProvisionRequest {
        allocation_id: b.vm_id.clone(),
        offer_id: offer.id,
        gpu_count: b.gpus,
        disk_gib: 0,
        image: b.boot_disk_image_id,
        ssh_public_key: None,
    };
    match ctx.market.provision(&ctx.provider, &req) {
        Ok(i) => json(
            StatusCode::OK,
            json!({"id": b.vm_id, "vm": wire_vm(&ctx, &i)}),
        ),
        Err(ProviderError::NoCapacity) => failure(
            StatusCode::TOO_MANY_REQUESTS,
            8,
            "insufficient capacity for this machine type",
        ),
        Err(_) => failure(StatusCode::INTERNAL_SERVER_ERROR, 13, "internal error"),
    }
}
