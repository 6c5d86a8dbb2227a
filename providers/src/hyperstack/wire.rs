//! Hyperstack Infrahub API v1 wire types (only the fields the adapter reads or sends).

use serde::{Deserialize, Serialize};

/// `GET /core/flavors` → `{"status", "message", "data": [group]}`.
#[derive(Debug, Deserialize)]
pub(crate) struct Flavors {
    pub data: Vec<FlavorGroup>,
}

/// Flavors of one GPU model in one region.
#[derive(Debug, Deserialize)]
pub(crate) struct FlavorGroup {
    #[serde(default)]
    pub flavors: Vec<Flavor>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Flavor {
    /// `n3-A100x1`.
    pub name: String,
    pub region_name: String,
    #[serde(default)]
    pub cpu: Option<u32>,
    /// GB.
    #[serde(default)]
    pub ram: Option<f64>,
    /// GB.
    #[serde(default)]
    pub disk: Option<u32>,
    /// `A100-80G-PCIe`; empty for CPU flavors.
    #[serde(default)]
    pub gpu: String,
    #[serde(default)]
    pub gpu_count: u32,
    #[serde(default)]
    pub stock_available: bool,
}

/// One `GET /pricebook` entry (a bare array): hourly USD per unit of the named resource.
#[derive(Debug, Deserialize)]
pub(crate) struct PriceEntry {
    pub name: String,
    #[serde(default)]
    pub value: Option<serde_json::Number>,
}

/// `POST /core/virtual-machines` body.
#[derive(Debug, Serialize)]
pub(crate) struct CreateVm<'a> {
    pub name: &'a str,
    pub environment_name: &'a str,
    pub image_name: &'a str,
    pub flavor_name: &'a str,
    pub key_name: &'a str,
    pub assign_floating_ip: bool,
    pub count: u32,
    pub labels: Vec<&'a str>,
}

/// The create answer and `GET /core/virtual-machines`: `{"status", "message", "instances"}`.
#[derive(Debug, Deserialize)]
pub(crate) struct VmList {
    pub instances: Vec<VmWire>,
}

/// `GET /core/virtual-machines/{id}` → `{"status", "message", "instance"}`.
#[derive(Debug, Deserialize)]
pub(crate) struct VmOne {
    pub instance: VmWire,
}

/// A virtual machine (`InstanceFields` of the OpenAPI schema).
#[derive(Debug, Deserialize)]
pub(crate) struct VmWire {
    pub id: u64,
    #[serde(default)]
    pub name: Option<String>,
    pub status: String,
    #[serde(default)]
    pub environment: Option<EnvironmentRef>,
    #[serde(default)]
    pub flavor: Option<FlavorRef>,
    #[serde(default)]
    pub floating_ip: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct EnvironmentRef {
    #[serde(default)]
    pub region: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct FlavorRef {
    pub name: String,
}

/// The error envelope: `{"status": false, "message", "error_reason"?}`.
#[derive(Debug, Deserialize)]
pub(crate) struct ErrorBody {
    #[serde(default)]
    pub error_reason: Option<String>,
}
