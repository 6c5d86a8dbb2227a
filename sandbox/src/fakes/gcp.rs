//! A fake of the Cloud Billing Catalog API v1 (`/v1/services/{id}/skus`), authenticated by
//! an API key in `X-Goog-Api-Key`, over the market's `gcp` offers.
//!
//! One GPU SKU per market GPU model, pricing kind and region, priced per GPU-hour
//! (`units` + `nanos`) at the cheapest single-GPU market offer there with units left
//! (`serviceRegions` = that region), plus the recorded page's A2 RAM SKU; pages of
//! `pageSize` linked by `nextPageToken`. Only the Compute Engine service exists.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use providers::{Offer, Pricing};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{guarded, json, FakeAuth, FakeContext};

/// The Compute Engine service id.
pub const COMPUTE_SERVICE: &str = "6F81-5844-456A";

/// The fake's router; mount it at the root and point the adapter at `<url>`.
pub fn router(ctx: FakeContext) -> Router {
    let api = Router::new()
        .route("/v1/services/{service}/skus", get(skus))
        .with_state(ctx.clone());
    guarded(api, ctx, FakeAuth::Header("x-goog-api-key"))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SkusQuery {
    #[serde(default)]
    page_size: Option<usize>,
    #[serde(default)]
    page_token: Option<String>,
}

fn money(micro: i64) -> Value {
    json!({"currencyCode": "USD", "units": (micro / 1_000_000).to_string(), "nanos": (micro % 1_000_000) * 1_000})
}

fn sku(
    id: &str,
    description: &str,
    group: &str,
    usage: &str,
    unit: &str,
    regions: &[&str],
    micro: i64,
) -> Value {
    json!({
        "name": format!("services/{COMPUTE_SERVICE}/skus/{id}"),
        "skuId": id,
        "description": description,
        "category": {"serviceDisplayName": "Compute Engine", "resourceFamily": "Compute", "resourceGroup": group, "usageType": usage},
        "serviceRegions": regions,
        "pricingInfo": [{
            "summary": "",
            "pricingExpression": {
                "usageUnit": unit, "displayQuantity": 1,
                "tieredRates": [{"startUsageAmount": 0, "unitPrice": money(micro)}],
                "usageUnitDescription": "hour", "baseUnit": "s", "baseUnitDescription": "second",
                "baseUnitConversionFactor": 3600,
            },
            "currencyConversionRate": 1,
            "effectiveTime": "2026-11-01T00:00:00Z",
        }],
        "serviceProviderName": "Google",
        "geoTaxonomy": {"type": "REGIONAL", "regions": regions},
    })
}

async fn skus(
    State(ctx): State<FakeContext>,
    Path(service): Path<String>,
    Query(q): Query<SkusQuery>,
) -> Response {
    if service != COMPUTE_SERVICE {
        return json(
            StatusCode::NOT_FOUND,
            json!({"error": {"code": 404, "message": "Service not found.", "status": "NOT_FOUND"}}),
        );
    }
    let mut cheapest: BTreeMap<(String, &'static str, String), Offer> = BTreeMap::new();
    for o in ctx.market.offers(&ctx.provider) {
        if o.gpu_count != 1 || o.available == 0 {
            continue;
        }
        let usage = match o.pricing {
            Pricing::OnDemand => "OnDemand",
            Pricing::Spot => "Preemptible",
            // GCP sells nothing by auction.
            Pricing::Bid => continue,
        };
        let key = (o.gpu_model.clone(), usage, o.region.clone());
        match cheapest.get(&key) {
            Some(have) if have.price_per_hour <= o.price_per_hour => {}
            _ => {
                cheapest.insert(key, o);
            }
        }
    }
    let mut all = vec![sku(
        "2390-DCAF-DA38",
        "A2 Instance Ram running in Americas",
        "RAM",
        "OnDemand",
        "GiBy.h",
        &["us-central1"],
        4_237,
    )];
    for (i, ((model, usage, region), o)) in cheapest.into_iter().enumerate() {
        let spot = if usage == "Preemptible" {
            " attached to Spot Preemptible VMs"
        } else {
            ""
        };
        all.push(sku(
            &format!("F{i:03X}-0000-{:04X}", region.len()),
            &format!("Nvidia {model} GPU{spot} running in {region}"),
            "GPU",
            usage,
            "h",
            &[region.as_str()],
            o.price_per_gpu_hour.0,
        ));
    }
    let size = q.page_size.unwrap_or(5000).clamp(1, 5000);
    let start: usize = q
        .page_token
        .as_deref()
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    let end = (start + size).min(all.len());
    let next = if end < all.len() {
        end.to_string()
    } else {
        String::new()
    };
    json(
        StatusCode::OK,
        json!({"skus": all.get(start..end).unwrap_or_default(), "nextPageToken": next}),
    )
}
