//! Cloud Billing Catalog API v1 wire types (`services/{id}/skus`; only the fields the
//! adapter reads).

use serde::Deserialize;

/// One page of `GET /v1/services/{serviceId}/skus`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SkusPage {
    pub skus: Vec<Sku>,
    #[serde(default)]
    pub next_page_token: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Sku {
    /// `Nvidia Tesla A100 GPU running in Americas`.
    pub description: String,
    pub category: Category,
    #[serde(default)]
    pub service_regions: Vec<String>,
    #[serde(default)]
    pub pricing_info: Vec<PricingInfo>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Category {
    pub resource_family: String,
    pub resource_group: String,
    /// `OnDemand`, `Preemptible`, `Commit1Yr`, ...
    pub usage_type: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PricingInfo {
    pub pricing_expression: PricingExpression,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PricingExpression {
    /// `h` for GPU-hours.
    pub usage_unit: String,
    pub tiered_rates: Vec<TieredRate>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TieredRate {
    #[serde(default)]
    pub start_usage_amount: Option<serde_json::Number>,
    pub unit_price: Money,
}

/// `google.type.Money`: `units` (int64 as a string) + `nanos`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Money {
    pub currency_code: String,
    #[serde(default)]
    pub units: Option<String>,
    #[serde(default)]
    pub nanos: Option<i64>,
}
