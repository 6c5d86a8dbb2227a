//! Latitude.sh API wire types (JSON:API; only the fields the adapter reads or sends).

use serde::{Deserialize, Serialize};

/// Every body: `{"data": ..., "meta": {}}`.
#[derive(Debug, Deserialize)]
pub(crate) struct Document<T> {
    pub data: T,
}

/// One of `GET /plans`.
#[derive(Debug, Deserialize)]
pub(crate) struct Plan {
    pub attributes: PlanAttributes,
}

#[derive(Debug, Deserialize)]
pub(crate) struct PlanAttributes {
    /// `g3-h100-small`: what a create names.
    pub slug: String,
    pub specs: Specs,
    #[serde(default)]
    pub regions: Vec<PlanRegion>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Specs {
    #[serde(default)]
    pub cpu: Option<Cpu>,
    #[serde(default)]
    pub memory: Option<Memory>,
    /// `{}` on CPU plans, `{"count": 8, "type": "NVIDIA A100 80GB PCIe"}` on GPU plans.
    #[serde(default)]
    pub gpu: Option<Gpu>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Cpu {
    #[serde(default)]
    pub cores: Option<u32>,
    #[serde(default)]
    pub count: Option<u32>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Memory {
    /// GB.
    pub total: f64,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Gpu {
    #[serde(default)]
    pub count: Option<u32>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct PlanRegion {
    pub locations: Locations,
    pub pricing: Pricing,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Locations {
    /// Site codes with stock now (`DAL`).
    #[serde(default)]
    pub in_stock: Vec<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Pricing {
    #[serde(rename = "USD")]
    pub usd: Option<Amounts>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Amounts {
    /// USD per server-hour.
    pub hour: serde_json::Number,
}

/// `POST /servers` body.
#[derive(Debug, Serialize)]
pub(crate) struct Create<'a> {
    pub data: CreateData<'a>,
}

#[derive(Debug, Serialize)]
pub(crate) struct CreateData<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub attributes: CreateAttributes<'a>,
}

#[derive(Debug, Serialize)]
pub(crate) struct CreateAttributes<'a> {
    pub project: &'a str,
    pub plan: &'a str,
    pub site: &'a str,
    pub operating_system: &'a str,
    pub hostname: String,
    pub billing: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ssh_keys: Vec<&'a str>,
}

/// A server (`GET /servers/{id}`, `POST /servers`, `GET /servers`).
#[derive(Debug, Deserialize)]
pub(crate) struct Server {
    pub id: String,
    pub attributes: ServerAttributes,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ServerAttributes {
    #[serde(default)]
    pub hostname: Option<String>,
    pub status: String,
    #[serde(default)]
    pub primary_ipv4: Option<String>,
    #[serde(default)]
    pub plan: Option<PlanRef>,
    #[serde(default)]
    pub region: Option<ServerRegion>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct PlanRef {
    pub slug: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ServerRegion {
    pub site: SiteRef,
}

#[derive(Debug, Deserialize)]
pub(crate) struct SiteRef {
    pub slug: String,
}

/// `{"errors": [{"code", "status", "title", "detail"}]}`.
#[derive(Debug, Deserialize)]
pub(crate) struct Errors {
    pub errors: Vec<ErrorItem>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ErrorItem {
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub detail: Option<String>,
}
