//! A fake of Oracle's public cost-estimator data files (`/a/ocom/docs/cloudestimator2/data`),
//! no credentials, over the market's `oci` offers.
//!
//! - `GET /shapes.json`: one GPU shape per market instance type (`VM.GPU.A10.1`), plus the
//!   CPU shape of the recorded sample; `gpuQty`, `gpuMemoryQty` (GB over all GPUs),
//!   `bundleMemoryQty` GB, one `ocpu` product part (`qty` = vCPUs / 2).
//! - `GET /products.json`: each shape's part, priced per GPU-hour in USD
//!   (`PAY_AS_YOU_GO`) at the shape's cheapest market price now.
//!
//! The estimator is global: it has no regions and no capacity, so the market's units are
//! not visible here (the adapter lists shapes in its configured regions).

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use providers::{Offer, Pricing};
use serde_json::{json, Value};

use super::{guarded, json, FakeAuth, FakeContext};

/// The fake's router; mount it at the root and point the adapter at
/// `<url>/a/ocom/docs/cloudestimator2/data`.
pub fn router(ctx: FakeContext) -> Router {
    let api = Router::new()
        .route("/shapes.json", get(shapes))
        .route("/products.json", get(products))
        .with_state(ctx.clone());
    Router::new().nest(
        "/a/ocom/docs/cloudestimator2/data",
        guarded(api, ctx, FakeAuth::Public),
    )
}

/// The cheapest on-demand market offer of each shape.
fn by_shape(ctx: &FakeContext) -> BTreeMap<String, Offer> {
    let mut out: BTreeMap<String, Offer> = BTreeMap::new();
    for o in ctx.market.offers(&ctx.provider) {
        if o.pricing != Pricing::OnDemand {
            continue;
        }
        match out.get(&o.instance_type) {
            Some(have) if have.price_per_hour <= o.price_per_hour => {}
            _ => {
                out.insert(o.instance_type.clone(), o);
            }
        }
    }
    out
}

fn part_number(shape: &str) -> String {
    let digits: u32 = shape.bytes().map(u32::from).sum();
    format!("B9{digits:04}")
}

async fn shapes(State(ctx): State<FakeContext>) -> Response {
    let mut items = vec![json!({
        "name": "BM.Standard.E4.128", "hidden": false, "status": "ACTIVE",
        "allowPreemptible": false, "bundleMemoryQty": 2048, "gpuQty": null,
        "gpuMemoryQty": null, "processorType": {"value": "amd"},
        "shapeType": {"value": "bm"}, "subType": {"value": "standard"},
        "products": [{"partNumber": "B93113", "qty": 128, "type": {"value": "ocpu"}}],
    })];
    for (name, o) in by_shape(&ctx) {
        let kind = if name.starts_with("BM.") { "bm" } else { "vm" };
        items.push(json!({
            "name": name,
            "hidden": false,
            "status": "ACTIVE",
            "allowPreemptible": false,
            "bundleMemoryQty": o.memory_gib.unwrap_or(0.0).round() as u64,
            "gpuQty": o.gpu_count,
            "gpuMemoryQty": (o.gpu_memory_gib * f64::from(o.gpu_count)).round() as u64,
            "processorType": {"value": "intel"},
            "shapeType": {"value": kind},
            "subType": {"value": "gpu"},
            "products": [{
                "partNumber": part_number(&name),
                "qty": o.vcpus.unwrap_or(2) / 2,
                "type": {"value": "ocpu"},
            }],
        }));
    }
    json(StatusCode::OK, json!({ "items": items }))
}

async fn products(State(ctx): State<FakeContext>) -> Response {
    let mut items = vec![price_item(
        "B93113",
        "Compute - Standard - E4 - OCPU",
        25_000,
    )];
    for (name, o) in by_shape(&ctx) {
        let per_gpu = o.price_per_gpu_hour.0;
        items.push(price_item(
            &part_number(&name),
            &format!("Compute - GPU - {name}"),
            per_gpu,
        ));
    }
    json(StatusCode::OK, json!({ "items": items }))
}

fn price_item(part: &str, display: &str, micro_usd: i64) -> Value {
    let value = serde_json::Number::from_f64(micro_usd as f64 / 1_000_000.0)
        .map_or(Value::Null, Value::Number);
    json!({
        "partNumber": part,
        "displayName": display,
        "metricName": "GPU Per Hour",
        "billingModel": "UCM",
        "pricetype": "HOUR",
        "currencyCodeLocalizations": [
            {"currencyCode": "USD", "prices": [{"model": "PAY_AS_YOU_GO", "value": value}]}
        ],
    })
}
