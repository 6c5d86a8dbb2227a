//! A fake of the Akash Console API's public GPU price list (`GET /v1/gpu-prices`, no
//! credentials), over the market's `akash` offers: per GPU model the units free
//! (`availability.available`) and the bid statistics in USD per GPU-hour, all set to the
//! market's price now (the recorded sample's shape, without the `?debug=true` extras).
//! Nothing else: deployments go through SDL manifests and leases, which are not faked.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use providers::Offer;
use serde_json::{json, Value};

use super::{dollars, guarded, json, FakeAuth, FakeContext};

/// The fake's router; mount it at the root and point the adapter at the root.
pub fn router(ctx: FakeContext) -> Router {
    let api = Router::new()
        .route("/v1/gpu-prices", get(gpu_prices))
        .with_state(ctx.clone());
    guarded(api, ctx, FakeAuth::Public)
}

/// `vendor-model-ram-interface` as the market's instance type spells it.
fn parts(o: &Offer) -> (String, String, String, String) {
    let mut it = o.instance_type.splitn(4, '-').map(str::to_string);
    let vendor = it.next().unwrap_or_default();
    let model = it.next().unwrap_or_default();
    let ram = it.next().unwrap_or_default();
    let interface = it.next().unwrap_or_default();
    (vendor, model, ram, interface)
}

async fn gpu_prices(State(ctx): State<FakeContext>) -> Response {
    let offers = ctx.market.offers(&ctx.provider);
    let models: Vec<Value> = offers
        .iter()
        .map(|o| {
            let (vendor, model, ram, interface) = parts(o);
            let p = dollars(o.price_per_gpu_hour.0);
            json!({
                "vendor": vendor,
                "model": model,
                "ram": ram,
                "interface": interface,
                "availability": {"total": o.available.max(8), "available": o.available},
                "providerAvailability": {"total": 1, "available": u32::from(o.available > 0)},
                "price": {
                    "currency": "USD",
                    "min": p, "max": p, "avg": p, "weightedAverage": p, "med": p,
                },
                "bidCount": 1,
            })
        })
        .collect();
    let total: u32 = offers.iter().map(|o| o.available).sum();
    json(
        StatusCode::OK,
        json!({"availability": {"total": total, "available": total}, "models": models}),
    )
}
