//! A fake of the OVHcloud API v1 (`/1.0`) over the market's `ovhcloud` offers and instances,
//! authenticated by OVH's application signature, checked for real: the fake recomputes
//! `X-Ovh-Signature` from the request (method, full URL, body, timestamp) with the
//! application secret it knows ([`APPLICATION_KEY`] / the sandbox key / [`CONSUMER_KEY`]).
//!
//! - `GET /order/catalog/public/cloud?ovhSubsidiary=`: one `<flavor>.consumption` addon per
//!   market instance type (plus the sample's CPU `b3-8`), hourly price in micro-cents of EUR
//!   (the market's USD at [`USD_PER_EUR`]), `blobs.technical.gpu {model, number, memory}`.
//! - `GET /cloud/project/{sn}/flavor[?region=]`: one flavor per market offer (`region` =
//!   the market's region), `available` while it has units.
//! - `GET /cloud/project/{sn}/image`: one `Ubuntu 22.04` image per region.
//! - `POST /cloud/project/{sn}/instance {name, flavorId, imageId, region}`: the instance
//!   name carries the allocation id (`gpubroker-<id>`); no capacity → 409.
//! - `GET .../instance`, `GET .../instance/{id}`: `BUILD`, `ACTIVE`, `DELETING`, `ERROR`; a
//!   deleted instance is gone (404 `Client::NotFound`). `DELETE .../instance/{id}`.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::extract::{Path, Query, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use providers::http::ovh_signature;
use providers::{
    ownership, Instance, InstanceState, Offer, Pricing, ProviderError, ProvisionRequest,
};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{guarded, json, market_id_from_uuid, uuid_of, FakeAuth, FakeContext};

/// The application key the fake knows (the sandbox key is the application secret).
pub const APPLICATION_KEY: &str = "sandbox-application";

/// The consumer key the fake knows.
pub const CONSUMER_KEY: &str = "sandbox-consumer";

/// USD per EUR the fake prices at (the adapter's default setting).
pub const USD_PER_EUR: f64 = 1.08;

/// The image every region offers.
pub const IMAGE_NAME: &str = "Ubuntu 22.04";

/// The fake's router; mount it at the root and point the adapter at `<url>/1.0`.
pub fn router(ctx: FakeContext) -> Router {
    let api = Router::new()
        .route("/order/catalog/public/cloud", get(catalog))
        .route("/cloud/project/{sn}/flavor", get(flavors))
        .route("/cloud/project/{sn}/image", get(images))
        .route(
            "/cloud/project/{sn}/instance",
            get(list_instances).post(create),
        )
        .route(
            "/cloud/project/{sn}/instance/{id}",
            get(get_instance).delete(delete_instance),
        )
        .with_state(ctx.clone());
    let secret = ctx.api_key.clone();
    Router::new()
        .nest("/1.0", guarded(api, ctx, FakeAuth::Public))
        .layer(middleware::from_fn(move |req: Request, next: Next| {
            let secret = secret.clone();
            async move { check_signature(&secret, req, next).await }
        }))
}

fn error(status: StatusCode, class: &str, message: &str) -> Response {
    json(status, json!({"class": class, "message": message}))
}

/// Recomputes the signature over the request as received and refuses a mismatch.
async fn check_signature(secret: &str, req: Request, next: Next) -> Response {
    let presented = {
        let header = |name: &str| {
            req.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        (
            header("x-ovh-application"),
            header("x-ovh-consumer"),
            header("x-ovh-timestamp"),
            header("x-ovh-signature"),
            header("host"),
        )
    };
    let (Some(ak), Some(ck), Some(ts), Some(sig), Some(host)) = presented else {
        return error(
            StatusCode::UNAUTHORIZED,
            "Client::Unauthorized",
            "You must login first",
        );
    };
    let url = format!("http://{host}{}", req.uri());
    let method = req.method().to_string();
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 1 << 20).await else {
        return error(
            StatusCode::BAD_REQUEST,
            "Client::BadRequest",
            "unreadable body",
        );
    };
    let expected = ts
        .parse::<i64>()
        .map(|t| ovh_signature::signature(secret, &ck, &method, &url, &bytes, t));
    if ak != APPLICATION_KEY || ck != CONSUMER_KEY || expected.as_deref() != Ok(sig.as_str()) {
        return error(
            StatusCode::UNAUTHORIZED,
            "Client::Unauthorized",
            "Invalid signature",
        );
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// The market's on-demand ovhcloud offers, each with a stable flavor id.
fn offers(ctx: &FakeContext) -> Vec<(String, Offer)> {
    ctx.market
        .offers(&ctx.provider)
        .into_iter()
        .filter(|o| o.pricing == Pricing::OnDemand && !o.id.key().contains('~'))
        .enumerate()
        .map(|(i, o)| (format!("{i:08x}-0000-4000-8000-0000000f1a0a"), o))
        .collect()
}

fn micro_cents(usd_micro: i64) -> i64 {
    (usd_micro as f64 / USD_PER_EUR * 100.0).round() as i64
}

#[derive(Debug, Deserialize)]
struct CatalogQuery {
    #[serde(rename = "ovhSubsidiary")]
    subsidiary: Option<String>,
}

async fn catalog(State(ctx): State<FakeContext>, Query(q): Query<CatalogQuery>) -> Response {
    if q.subsidiary.is_none() {
        return error(
            StatusCode::BAD_REQUEST,
            "Client::BadRequest",
            "Missing parameter ovhSubsidiary",
        );
    }
    let mut by_type: BTreeMap<String, Offer> = BTreeMap::new();
    for (_, o) in offers(&ctx) {
        match by_type.get(&o.instance_type) {
            Some(have) if have.price_per_hour <= o.price_per_hour => {}
            _ => {
                by_type.insert(o.instance_type.clone(), o);
            }
        }
    }
    let mut addons = vec![json!({
        "planCode": "b3-8.consumption", "invoiceName": "b3-8", "configurations": [],
        "pricings": [{"price": 5_080_000, "intervalUnit": "hour"}],
        "blobs": {"commercial": {"name": "b3-8"}, "technical": {"os": {"family": "linux"}}, "tags": ["active"]},
    })];
    for (name, o) in by_type {
        addons.push(json!({
            "planCode": format!("{name}.consumption"),
            "invoiceName": name,
            "configurations": [],
            "pricings": [{"price": micro_cents(o.price_per_hour.0), "intervalUnit": "hour"}],
            "blobs": {
                "commercial": {"name": name},
                "technical": {
                    "os": {"family": "linux"},
                    "cpu": {"cores": o.vcpus},
                    "memory": {"size": o.memory_gib},
                    "gpu": {
                        "model": o.gpu_model,
                        "number": o.gpu_count,
                        "memory": {"size": o.gpu_memory_gib},
                    },
                },
                "tags": ["active"],
            },
        }));
    }
    json(
        StatusCode::OK,
        json!({"catalogId": 1, "locale": {"currencyCode": "EUR", "subsidiary": "IE"}, "plans": [], "addons": addons}),
    )
}

#[derive(Debug, Deserialize)]
struct RegionQuery {
    region: Option<String>,
}

async fn flavors(State(ctx): State<FakeContext>, Query(q): Query<RegionQuery>) -> Response {
    let list: Vec<Value> = offers(&ctx)
        .into_iter()
        .filter(|(_, o)| q.region.as_ref().is_none_or(|r| *r == o.region))
        .map(|(id, o)| {
            json!({
                "id": id,
                "name": o.instance_type,
                "region": o.region,
                "planCodes": {"hourly": format!("{}.consumption", o.instance_type), "monthly": null},
                "available": o.available > 0,
                "vcpus": o.vcpus,
                "ram": o.memory_gib.map(|m| (m * 1000.0).round() as u64),
                "type": "ovh.gpu",
                "osType": "linux",
            })
        })
        .collect();
    json(StatusCode::OK, Value::Array(list))
}

async fn images(Query(q): Query<RegionQuery>) -> Response {
    let region = q.region.unwrap_or_else(|| "GRA".to_string());
    json(
        StatusCode::OK,
        json!([{"id": "img-ubuntu-2204", "name": IMAGE_NAME, "region": region, "type": "linux", "visibility": "public", "status": "active"}]),
    )
}

fn wire_instance(ctx: &FakeContext, i: &Instance) -> Value {
    let offer = ctx.market.offer(&i.offer_id);
    let status = match i.state {
        InstanceState::Pending => "BUILD",
        InstanceState::Running => "ACTIVE",
        InstanceState::Terminating | InstanceState::Terminated => "DELETING",
        InstanceState::Failed => "ERROR",
    };
    let ips: Vec<Value> = i
        .connection
        .as_ref()
        .map(|c| vec![json!({"ip": c.ssh_host, "type": "public", "version": 4})])
        .unwrap_or_default();
    let flavor_name = offer
        .as_ref()
        .map(|o| o.instance_type.clone())
        .unwrap_or_default();
    json!({
        "id": uuid_of(&i.id),
        "name": ownership::instance_name(&i.allocation_id, 64),
        "status": status,
        "region": offer.map(|o| o.region).unwrap_or_default(),
        "ipAddresses": ips,
        "flavor": {"name": flavor_name},
        "image": {"name": IMAGE_NAME},
        "created": "2026-11-23T12:00:00Z",
    })
}

/// The instances OVH still shows (a deleted instance is gone).
fn instances(ctx: &FakeContext) -> Vec<Instance> {
    ctx.market
        .instances(&ctx.provider)
        .into_iter()
        .filter(|i| i.state != InstanceState::Terminated)
        .collect()
}

fn not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "Client::NotFound",
        "Instance not found",
    )
}

async fn list_instances(State(ctx): State<FakeContext>) -> Response {
    let list: Vec<Value> = instances(&ctx)
        .iter()
        .map(|i| wire_instance(&ctx, i))
        .collect();
    json(StatusCode::OK, Value::Array(list))
}

async fn get_instance(
    State(ctx): State<FakeContext>,
    Path((_sn, id)): Path<(String, String)>,
) -> Response {
    match instances(&ctx)
        .iter()
        .find(|i| i.id == market_id_from_uuid(&id))
    {
        Some(i) => json(StatusCode::OK, wire_instance(&ctx, i)),
        None => not_found(),
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateBody {
    name: String,
    flavor_id: String,
    image_id: String,
    region: String,
}

async fn create(
    State(ctx): State<FakeContext>,
    Path(_sn): Path<String>,
    body: Option<Json<CreateBody>>,
) -> Response {
    let bad = |m: &str| error(StatusCode::BAD_REQUEST, "Client::BadRequest", m);
    let Some(Json(body)) = body else {
        return bad("Invalid body");
    };
    if body.image_id.is_empty() || body.name.is_empty() {
        return bad("Missing parameter");
    }
    let Some((_, offer)) = offers(&ctx)
        .into_iter()
        .find(|(id, o)| *id == body.flavor_id && o.region == body.region)
    else {
        return bad("Invalid flavorId for this region");
    };
    let req = ProvisionRequest {
        allocation_id: ownership::allocation_of_name(&body.name)
            .unwrap_or(&body.name)
            .to_string(),
        offer_id: offer.id,
        gpu_count: 0,
        disk_gib: 0,
        image: body.image_id,
        ssh_public_key: None,
    };
    match ctx.market.provision(&ctx.provider, &req) {
        Ok(i) => json(StatusCode::OK, wire_instance(&ctx, &i)),
        Err(ProviderError::NoCapacity) => error(
            StatusCode::CONFLICT,
            "Client::Conflict",
            "Not enough resources available for this flavor",
        ),
        Err(_) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Server::InternalServerError",
            "Internal error",
        ),
    }
}

async fn delete_instance(
    State(ctx): State<FakeContext>,
    Path((_sn, id)): Path<(String, String)>,
) -> Response {
    let Some(i) = instances(&ctx)
        .into_iter()
        .find(|i| i.id == market_id_from_uuid(&id))
    else {
        return not_found();
    };
    match ctx.market.release(&ctx.provider, &i.id) {
        Ok(()) => json(StatusCode::OK, Value::Null),
        Err(_) => not_found(),
    }
}
