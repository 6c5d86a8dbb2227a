//! OVHcloud API v1 wire types (only the fields the adapter reads or sends).

use serde::{Deserialize, Serialize};

/// `GET /order/catalog/public/cloud?ovhSubsidiary=` → `{"addons": [...], ...}`.
#[derive(Debug, Deserialize)]
pub(crate) struct Catalog {
    pub addons: Vec<Addon>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Addon {
    /// `t1-45.consumption` (hourly) or `t1-45.monthly.postpaid`.
    pub plan_code: String,
    pub invoice_name: String,
    #[serde(default)]
    pub pricings: Vec<AddonPricing>,
    #[serde(default)]
    pub blobs: Option<Blobs>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AddonPricing {
    /// Micro-cents of the subsidiary's currency (`5080000` = 0.0508).
    pub price: i64,
    /// `hour` or `month`.
    pub interval_unit: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Blobs {
    #[serde(default)]
    pub commercial: Option<Commercial>,
    #[serde(default)]
    pub technical: Option<Technical>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Commercial {
    pub name: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Technical {
    #[serde(default)]
    pub gpu: Option<TechnicalGpu>,
    #[serde(default)]
    pub cpu: Option<TechnicalCpu>,
    #[serde(default)]
    pub memory: Option<TechnicalSize>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct TechnicalGpu {
    /// `Tesla V100`, `A100`, `L40S`.
    pub model: String,
    pub number: u32,
    /// GB per GPU.
    #[serde(default)]
    pub memory: Option<TechnicalSize>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct TechnicalCpu {
    #[serde(default)]
    pub cores: Option<u32>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct TechnicalSize {
    pub size: f64,
}

/// One entry of `GET /cloud/project/{serviceName}/flavor`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Flavor {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    pub region: String,
    pub plan_codes: PlanCodes,
    #[serde(default)]
    pub available: Option<bool>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct PlanCodes {
    #[serde(default)]
    pub hourly: Option<String>,
}

/// One entry of `GET /cloud/project/{serviceName}/image?region=&osType=linux`.
#[derive(Debug, Deserialize)]
pub(crate) struct Image {
    pub id: String,
    pub name: String,
}

/// `POST /cloud/project/{serviceName}/instance` body.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreateInstance<'a> {
    pub name: String,
    pub flavor_id: &'a str,
    pub image_id: &'a str,
    pub region: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ssh_key_id: Option<&'a str>,
}

/// An instance of `GET /cloud/project/{serviceName}/instance[/{id}]`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct InstanceWire {
    pub id: String,
    pub name: String,
    /// `BUILD`, `ACTIVE`, `DELETING`, `DELETED`, `ERROR`, ...
    pub status: String,
    pub region: String,
    #[serde(default)]
    pub ip_addresses: Vec<IpAddress>,
    /// The detail view carries the flavor object.
    #[serde(default)]
    pub flavor: Option<FlavorRef>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct FlavorRef {
    pub name: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct IpAddress {
    pub ip: String,
    /// `public` or `private`.
    #[serde(rename = "type")]
    pub kind: String,
    pub version: u8,
}
