//! A fake of Latitude.sh's API (JSON:API), Bearer-authenticated, over the market's
//! `latitude` offers and instances.
//!
//! - `GET /plans`: one plan per market instance type (`specs.gpu {count, type}` spelled
//!   `NVIDIA <model>` as recorded, `specs.memory.total` GB), one region per site with
//!   `locations.in_stock` = the site when it has units and `pricing.USD.hour` = its price now.
//! - `POST /servers`: the allocation id travels in the hostname `gpubroker-<id>`; answers
//!   201 with `starting_deploy` (as recorded); no capacity → 422 JSON:API error.
//! - `GET /servers`, `GET /servers/{id}`: `deploying|on|off|disk_erasing`; a deleted
//!   server is 404. `DELETE /servers/{id}` → 204.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use providers::{
    ownership, Instance, InstanceId, InstanceState, Offer, OfferId, ProviderError, ProvisionRequest,
};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{dollars, guarded, json, listed_on_demand, FakeAuth, FakeContext};

/// The fake's router; mount it at the root and point the adapter at the root.
pub fn router(ctx: FakeContext) -> Router {
    let api = Router::new()
        .route("/plans", get(plans))
        .route("/servers", get(list).post(create))
        .route("/servers/{id}", get(get_one).delete(destroy))
        .with_state(ctx.clone());
    guarded(api, ctx, FakeAuth::Bearer)
}

fn error(status: StatusCode, code: &str, title: &str, detail: &str) -> Response {
    json(
        status,
        json!({"errors": [{"code": null, "status": code, "title": title, "detail": detail, "meta": {}}]}),
    )
}

fn not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "not_found",
        "Not Found",
        "Server not found",
    )
}

async fn plans(State(ctx): State<FakeContext>) -> Response {
    let mut by_plan: BTreeMap<String, Vec<Offer>> = BTreeMap::new();
    for o in listed_on_demand(&ctx) {
        by_plan.entry(o.instance_type.clone()).or_default().push(o);
    }
    let data: Vec<Value> = by_plan
        .into_iter()
        .map(|(slug, group)| {
            let first = &group[0];
            let regions: Vec<Value> = group
                .iter()
                .map(|o| {
                    let stock: Vec<&str> = if o.available > 0 {
                        vec![&o.region]
                    } else {
                        vec![]
                    };
                    json!({
                        "name": o.region,
                        "deploys_instantly": [],
                        "locations": {"available": [o.region], "in_stock": stock},
                        "pricing": {"USD": {"hour": dollars(o.price_per_hour.0)}},
                    })
                })
                .collect();
            let cpus = first.vcpus.unwrap_or(2);
            json!({
                "id": format!("plan_{slug}"),
                "type": "plans",
                "attributes": {
                    "slug": slug,
                    "name": slug.replace('-', "."),
                    "features": ["ssh", "raid", "user_data"],
                    "specs": {
                        "cpu": {"type": "AMD", "clock": 3.25, "cores": cpus / 2, "count": 2},
                        "memory": {"total": first.memory_gib.unwrap_or(0.0)},
                        "drives": [],
                        "nics": [],
                        "gpu": {
                            "count": first.gpu_count,
                            "type": format!("NVIDIA {}", first.gpu_model.replace('-', " ")),
                        },
                    },
                    "regions": regions,
                },
            })
        })
        .collect();
    json(StatusCode::OK, json!({"data": data, "meta": {}}))
}

/// Latitude forgets a deleted server.
fn visible(i: &Instance) -> bool {
    i.state != InstanceState::Terminated
}

fn wire(ctx: &FakeContext, i: &Instance) -> Value {
    let offer = ctx.market.offer(&i.offer_id);
    let status = match i.state {
        InstanceState::Pending => "deploying",
        InstanceState::Running => "on",
        InstanceState::Failed => "off",
        InstanceState::Terminating | InstanceState::Terminated => "disk_erasing",
    };
    json!({
        "id": i.id.0,
        "type": "servers",
        "attributes": {
            "hostname": ownership::instance_name(&i.allocation_id, 63),
            "status": status,
            "primary_ipv4": i.connection.as_ref().map(|c| c.ssh_host.clone()),
            "plan": offer.as_ref().map(|o| json!({"slug": o.instance_type, "billing": "hourly"})),
            "region": offer.as_ref().map(|o| json!({"site": {"slug": o.region}})),
        },
    })
}

async fn list(State(ctx): State<FakeContext>) -> Response {
    let data: Vec<Value> = ctx
        .market
        .instances(&ctx.provider)
        .iter()
        .filter(|i| visible(i))
        .map(|i| wire(&ctx, i))
        .collect();
    json(StatusCode::OK, json!({"data": data, "meta": {}}))
}

async fn get_one(State(ctx): State<FakeContext>, Path(id): Path<String>) -> Response {
    match ctx.market.status(&ctx.provider, &InstanceId(id)) {
        Ok(i) if visible(&i) => json(StatusCode::OK, json!({"data": wire(&ctx, &i), "meta": {}})),
        _ => not_found(),
    }
}

#[derive(Debug, Deserialize)]
struct CreateBody {
    data: CreateData,
}

#[derive(Debug, Deserialize)]
struct CreateData {
    attributes: CreateAttributes,
}

#[derive(Debug, Deserialize)]
struct CreateAttributes {
    project: String,
    plan: String,
    site: String,
    operating_system: String,
    hostname: String,
}

async fn create(State(ctx): State<FakeContext>, body: Option<Json<CreateBody>>) -> Response {
    let invalid = |d: &str| {
        error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unprocessable_entity",
            "Invalid",
            d,
        )
    };
    let Some(Json(body)) = body else {
        return error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "Bad Request",
            "Invalid JSON",
        );
    };
    let a = body.data.attributes;
    if a.project.is_empty() || a.operating_system.is_empty() {
        return invalid("project and operating_system are required");
    }
    let req = ProvisionRequest {
        allocation_id: ownership::allocation_of_name(&a.hostname)
            .unwrap_or(&a.hostname)
            .to_string(),
        offer_id: OfferId::new(&ctx.provider, &format!("{}@{}", a.plan, a.site)),
        gpu_count: 0,
        disk_gib: 0,
        image: a.operating_system,
        ssh_public_key: None,
    };
    match ctx.market.provision(&ctx.provider, &req) {
        Ok(i) => {
            let mut w = wire(&ctx, &i);
            w["attributes"]["status"] = "starting_deploy".into();
            json(StatusCode::CREATED, json!({"data": w, "meta": {}}))
        }
        Err(ProviderError::NoCapacity) => invalid("The plan is out of stock at this site"),
        Err(ProviderError::NotFound) => invalid("Unknown plan or site"),
        Err(_) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal",
            "Internal error",
        ),
    }
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
