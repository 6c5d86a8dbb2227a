//! A fake of the Azure Retail Prices API (`/api/retail/prices`), public (no credentials),
//! over the market's `azure` offers.
//!
//! - `GET /api/retail/prices?$filter=...&$skip=N`: one `Consumption` item per market offer
//!   with units (on-demand, and the `... Spot` meter for spot), plus the Windows-licence item
//!   of each on-demand one, as the real list has them; 100 items per page, `NextPageLink`
//!   repeating the request's query with the next `$skip` (null on the last page). The
//!   filter is not evaluated: every item is a GPU Virtual Machines consumption price. A
//!   region with no units has no price item (the sandbox's stand-in for a size not sold
//!   there now).
//! - Nothing else: provisioning goes through Azure Resource Manager, which is not faked.
//!
//! The real API takes no credentials; the fake stamps its key on every request before the
//! shared guard so the market's knobs and the wire faults apply as for every fake.

use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use providers::{Offer, Pricing};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{guarded, json, FakeAuth, FakeContext};

/// Items per page.
const PAGE: usize = 100;

/// The fake's router; mount it at the root and point the adapter at its URL.
pub fn router(ctx: FakeContext) -> Router {
    let api = Router::new()
        .route("/api/retail/prices", get(prices))
        .with_state(ctx.clone());
    let key = HeaderValue::from_str(&format!("Bearer {}", ctx.api_key)).ok();
    guarded(api, ctx, FakeAuth::Bearer).layer(middleware::from_fn(
        move |mut req: Request, next: Next| {
            let key = key.clone();
            async move {
                if let Some(k) = key {
                    req.headers_mut().insert(header::AUTHORIZATION, k);
                }
                next.run(req).await
            }
        },
    ))
}

/// `NC24ads A100 v4` from `Standard_NC24ads_A100_v4`.
fn meter_of(arm_sku_name: &str) -> String {
    arm_sku_name
        .strip_prefix("Standard_")
        .unwrap_or(arm_sku_name)
        .replace('_', " ")
}

/// `Virtual Machines NCads A100 v4 Series`, roughly: the family without the size.
fn product_of(arm_sku_name: &str) -> String {
    let meter = meter_of(arm_sku_name);
    let series: String = meter.chars().filter(|c| !c.is_ascii_digit()).collect();
    format!("Virtual Machines {series} Series")
}

fn item(o: &Offer, meter: &str, product: &str, price: f64) -> Value {
    json!({
        "currencyCode": "USD",
        "tierMinimumUnits": 0.0,
        "retailPrice": price,
        "unitPrice": price,
        "armRegionName": o.region,
        "location": o.region,
        "effectiveStartDate": "2024-04-01T00:00:00Z",
        "meterId": format!("{:x}", o.id.0.len() * 7919),
        "meterName": meter,
        "productId": "DZH318Z0BQ4L",
        "skuId": "DZH318Z0BQ4L/00XX",
        "productName": product,
        "skuName": meter,
        "serviceName": "Virtual Machines",
        "serviceId": "DZH313Z7MMC8",
        "serviceFamily": "Compute",
        "unitOfMeasure": "1 Hour",
        "type": "Consumption",
        "isPrimaryMeterRegion": true,
        "armSkuName": o.instance_type,
    })
}

/// Every price item the fake lists now, in a stable order.
fn items(ctx: &FakeContext) -> Vec<Value> {
    let mut out = Vec::new();
    for o in ctx.market.offers(&ctx.provider) {
        if o.available == 0 || o.id.key().contains('~') {
            continue;
        }
        let price = o.price_per_hour.as_f64_dollars();
        let meter = meter_of(&o.instance_type);
        let product = product_of(&o.instance_type);
        match o.pricing {
            Pricing::OnDemand => {
                out.push(item(&o, &meter, &product, price));
                let windows = (price * 1.4 * 1000.0).round() / 1000.0;
                out.push(item(&o, &meter, &format!("{product} Windows"), windows));
            }
            Pricing::Spot => out.push(item(&o, &format!("{meter} Spot"), &product, price)),
            // Azure sells nothing by auction.
            Pricing::Bid => {}
        }
    }
    out
}

#[derive(Debug, Deserialize)]
struct PricesQuery {
    #[serde(rename = "$skip", default)]
    skip: Option<usize>,
}

async fn prices(
    State(ctx): State<FakeContext>,
    Query(q): Query<PricesQuery>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let all = items(&ctx);
    let skip = q.skip.unwrap_or(0);
    let page: Vec<Value> = all.iter().skip(skip).take(PAGE).cloned().collect();
    let next = (skip + PAGE < all.len()).then(|| {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("127.0.0.1");
        let kept: Vec<&str> = uri
            .query()
            .unwrap_or("")
            .split('&')
            .filter(|p| !p.is_empty() && !p.starts_with("$skip=") && !p.starts_with("%24skip="))
            .collect();
        let mut query = kept.join("&");
        if !query.is_empty() {
            query.push('&');
        }
        format!(
            "http://{host}/api/retail/prices?{query}$skip={}",
            skip + PAGE
        )
    });
    json(
        StatusCode::OK,
        json!({
            "BillingCurrency": "USD",
            "CustomerEntityId": "Default",
            "CustomerEntityType": "Retail",
            "Items": page,
            "NextPageLink": next,
            "Count": page.len(),
        }),
    )
}
