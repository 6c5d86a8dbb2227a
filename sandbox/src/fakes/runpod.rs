//! A fake of RunPod: the GraphQL catalogue (`POST /graphql`, `gpuTypes` only) and REST v1
//! pods (`/v1/pods`), Bearer-authenticated, over the market's `runpod` offers and instances.
//!
//! - `gpuTypes`: one type per GPU model among the market's 1-GPU offers; `securePrice` is the
//!   cheapest such offer now (USD per GPU-hour); `lowestPrice.uninterruptablePrice` is null
//!   when no unit is left (RunPod's "no stock"). The market sells secure cloud only.
//!   Other queries answer HTTP 200 with `errors[]`, as GraphQL does.
//! - `POST /v1/pods`: takes the cheapest market offer of the first listed GPU type with
//!   `gpuCount` GPUs and units left; none → 500 "no longer any instances available".
//!   `name` is the allocation id. 201 with the pod.
//! - `GET /v1/pods`, `GET /v1/pods/{id}`: `desiredStatus` `RUNNING`, with `publicIp` and
//!   `portMappings["22"]` once the container is up; a deleted pod is gone (404).
//! - `DELETE /v1/pods/{id}`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use providers::{
    Instance, InstanceId, InstanceState, MicroUsd, Offer, Pricing, ProviderError, ProvisionRequest,
};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{guarded, json, FakeAuth, FakeContext};

/// The fake's router; point the adapter at `<url>` (GraphQL) and `<url>/v1` (REST).
pub fn router(ctx: FakeContext) -> Router {
    let api = Router::new()
        .route("/graphql", post(graphql))
        .route("/v1/pods", get(list_pods).post(create_pod))
        .route("/v1/pods/{id}", get(get_pod).delete(delete_pod))
        .with_state(ctx.clone());
    guarded(api, ctx, FakeAuth::Bearer)
}

fn on_demand(ctx: &FakeContext) -> Vec<Offer> {
    ctx.market
        .offers(&ctx.provider)
        .into_iter()
        .filter(|o| o.pricing == Pricing::OnDemand)
        .collect()
}

#[derive(Debug, Deserialize)]
struct GraphQlBody {
    query: String,
}

async fn graphql(State(ctx): State<FakeContext>, body: Option<Json<GraphQlBody>>) -> Response {
    let Some(Json(body)) = body else {
        return json(
            StatusCode::BAD_REQUEST,
            json!({"errors": [{"message": "Must provide query string."}]}),
        );
    };
    if !body.query.contains("gpuTypes") {
        return json(
            StatusCode::OK,
            json!({"data": null, "errors": [{"message": "The sandbox answers gpuTypes only."}]}),
        );
    }
    let offers = on_demand(&ctx);
    let mut models: Vec<&str> = offers
        .iter()
        .filter(|o| o.gpu_count == 1)
        .map(|o| o.gpu_model.as_str())
        .collect();
    models.sort_unstable();
    models.dedup();
    let types: Vec<Value> = models
        .iter()
        .filter_map(|model| {
            let ones: Vec<&Offer> = offers
                .iter()
                .filter(|o| o.gpu_count == 1 && o.gpu_model == *model)
                .collect();
            let list = ones.iter().map(|o| o.price_per_hour).min()?;
            let in_stock = ones
                .iter()
                .filter(|o| o.available > 0)
                .map(|o| o.price_per_hour)
                .min();
            let dollars = |p: MicroUsd| p.as_f64_dollars();
            Some(json!({
                "id": model,
                "displayName": model,
                "memoryInGb": ones.first().map(|o| o.gpu_memory_gib),
                "secureCloud": true,
                "communityCloud": false,
                "securePrice": dollars(list),
                "communityPrice": null,
                "lowestPrice": {
                    "uninterruptablePrice": in_stock.map(dollars),
                    "minimumBidPrice": in_stock.map(dollars),
                    "stockStatus": in_stock.map(|_| "High"),
                },
            }))
        })
        .collect();
    json(StatusCode::OK, json!({"data": {"gpuTypes": types}}))
}

fn wire_pod(ctx: &FakeContext, i: &Instance) -> Value {
    let offer = ctx.market.offer(&i.offer_id);
    let conn = i.connection.as_ref();
    let price = offer.as_ref().map(|o| o.price_per_hour);
    json!({
        "id": i.id.0,
        "name": i.allocation_id,
        "desiredStatus": "RUNNING",
        "costPerHr": price.map(|p| p.to_string()),
        "adjustedCostPerHr": price.map(MicroUsd::as_f64_dollars),
        "image": "sandbox",
        "machineId": offer.as_ref().map(|o| o.region.clone()),
        "publicIp": conn.map(|c| c.ssh_host.clone()),
        "portMappings": conn.map(|c| json!({"22": c.ssh_port})).unwrap_or_else(|| json!({})),
        "gpu": offer.as_ref().map(|o| json!({
            "id": o.gpu_model,
            "count": o.gpu_count,
            "displayName": o.gpu_model,
        })),
    })
}

fn live(i: &Instance) -> bool {
    !matches!(
        i.state,
        InstanceState::Terminating | InstanceState::Terminated
    )
}

fn not_found() -> Response {
    json(StatusCode::NOT_FOUND, json!({"error": "pod not found"}))
}

async fn list_pods(State(ctx): State<FakeContext>) -> Response {
    let pods: Vec<Value> = ctx
        .market
        .instances(&ctx.provider)
        .iter()
        .filter(|i| live(i))
        .map(|i| wire_pod(&ctx, i))
        .collect();
    json(StatusCode::OK, Value::Array(pods))
}

async fn get_pod(State(ctx): State<FakeContext>, Path(id): Path<String>) -> Response {
    match ctx.market.status(&ctx.provider, &InstanceId(id)) {
        Ok(i) if live(&i) => json(StatusCode::OK, wire_pod(&ctx, &i)),
        _ => not_found(),
    }
}

async fn delete_pod(State(ctx): State<FakeContext>, Path(id): Path<String>) -> Response {
    let id = InstanceId(id);
    match ctx.market.status(&ctx.provider, &id) {
        Ok(i) if live(&i) => match ctx.market.release(&ctx.provider, &id) {
            Ok(()) => json(StatusCode::OK, json!({})),
            Err(_) => not_found(),
        },
        _ => not_found(),
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateBody {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    gpu_type_ids: Vec<String>,
    #[serde(default)]
    gpu_count: Option<u32>,
    #[serde(default)]
    cloud_type: Option<String>,
    #[serde(default)]
    image_name: Option<String>,
}

async fn create_pod(State(ctx): State<FakeContext>, body: Option<Json<CreateBody>>) -> Response {
    let Some(Json(body)) = body else {
        return json(
            StatusCode::BAD_REQUEST,
            json!({"error": "invalid request body"}),
        );
    };
    if body.cloud_type.as_deref().is_some_and(|c| c != "SECURE") {
        return no_instances();
    }
    let count = body.gpu_count.unwrap_or(1);
    let mut candidates: Vec<Offer> = on_demand(&ctx)
        .into_iter()
        .filter(|o| o.gpu_count == count && body.gpu_type_ids.contains(&o.gpu_model))
        .filter(|o| o.available > 0)
        .collect();
    candidates.sort_by_key(|o| o.price_per_hour);
    let Some(offer) = candidates.into_iter().next() else {
        return no_instances();
    };
    let req = ProvisionRequest {
        allocation_id: body.name.unwrap_or_default(),
        offer_id: offer.id,
        gpu_count: count,
        disk_gib: 0,
        image: body.image_name.unwrap_or_default(),
        ssh_public_key: None,
    };
    match ctx.market.provision(&ctx.provider, &req) {
        Ok(i) => json(StatusCode::CREATED, wire_pod(&ctx, &i)),
        Err(ProviderError::NoCapacity) => no_instances(),
        Err(_) => json(
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({"error": "internal error"}),
        ),
    }
}

fn no_instances() -> Response {
    json(
        StatusCode::INTERNAL_SERVER_ERROR,
        json!({"error": "There are no longer any instances available with the requested specifications. Please refresh and try again."}),
    )
}
