//! RunPod wire types: the GraphQL catalogue (`gpuTypes`) and REST v1 pods (only the fields
//! the adapter reads or sends).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Number;

/// `POST /graphql` body.
#[derive(Debug, Serialize)]
pub(crate) struct GraphQl<'a> {
    pub query: &'a str,
}

/// A GraphQL answer: errors arrive with HTTP 200.
#[derive(Debug, Deserialize)]
pub(crate) struct GraphQlAnswer<T> {
    #[serde(default = "none")]
    pub data: Option<T>,
    #[serde(default)]
    pub errors: Vec<GraphQlError>,
}

fn none<T>() -> Option<T> {
    None
}

#[derive(Debug, Deserialize)]
pub(crate) struct GraphQlError {
    #[serde(default)]
    pub message: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GpuTypesData {
    pub gpu_types: Vec<GpuType>,
}

/// One GPU type; prices are USD per GPU-hour.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GpuType {
    /// The long name used at create time (`NVIDIA GeForce RTX 4090`).
    pub id: String,
    pub display_name: String,
    #[serde(default)]
    pub memory_in_gb: Option<f64>,
    #[serde(default)]
    pub secure_cloud: Option<bool>,
    #[serde(default)]
    pub community_cloud: Option<bool>,
    #[serde(default)]
    pub secure_price: Option<Number>,
    #[serde(default)]
    pub community_price: Option<Number>,
    #[serde(default)]
    pub lowest_price: Option<LowestPrice>,
}

/// `lowestPrice(input: {gpuCount: 1})`: null prices mean no stock now.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct LowestPrice {
    #[serde(default)]
    pub uninterruptable_price: Option<Number>,
}

/// `POST /v1/pods` body.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreatePod<'a> {
    pub name: &'a str,
    pub image_name: &'a str,
    pub compute_type: &'static str,
    pub cloud_type: &'a str,
    pub gpu_type_ids: Vec<&'a str>,
    pub gpu_count: u32,
    pub container_disk_in_gb: u32,
    pub ports: Vec<&'static str>,
    pub support_public_ip: bool,
    pub interruptible: bool,
    pub env: BTreeMap<&'static str, &'a str>,
}

/// A pod of `GET /v1/pods[/{id}]` and `POST /v1/pods`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Pod {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    /// `CREATED | RUNNING | EXITED | TERMINATED`.
    #[serde(default)]
    pub desired_status: Option<String>,
    #[serde(default)]
    pub public_ip: Option<String>,
    /// Container port → public port, once the runtime is up.
    #[serde(default)]
    pub port_mappings: Option<BTreeMap<String, u16>>,
}

/// REST error body: `{"error": "..."}`.
#[derive(Debug, Deserialize)]
pub(crate) struct RestError {
    #[serde(default)]
    pub error: String,
}
