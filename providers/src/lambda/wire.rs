//! Lambda Cloud API v1 wire types (only the fields the adapter reads or sends).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Every success body: `{"data": ...}`.
#[derive(Debug, Deserialize)]
pub(crate) struct Envelope<T> {
    pub data: T,
}

/// `GET /instance-types` → `data`: instance type name → entry.
pub(crate) type InstanceTypes = BTreeMap<String, InstanceTypeEntry>;

#[derive(Debug, Deserialize)]
pub(crate) struct InstanceTypeEntry {
    pub instance_type: InstanceType,
    #[serde(default)]
    pub regions_with_capacity_available: Vec<Region>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct InstanceType {
    pub name: String,
    /// `1x A100 (40 GB SXM4)`.
    pub description: String,
    /// `A100 (40 GB SXM4)`; newer API only.
    #[serde(default)]
    pub gpu_description: Option<String>,
    /// US cents per instance-hour: an integer on the live API, a string in the OpenAPI
    /// example.
    pub price_cents_per_hour: Cents,
    pub specs: Specs,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum Cents {
    Number(i64),
    Text(String),
}

#[derive(Debug, Deserialize)]
pub(crate) struct Specs {
    #[serde(default)]
    pub vcpus: Option<u32>,
    #[serde(default)]
    pub memory_gib: Option<f64>,
    #[serde(default)]
    pub storage_gib: Option<u32>,
    /// GPU count; newer API only.
    #[serde(default)]
    pub gpus: Option<u32>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Region {
    pub name: String,
}

/// `POST /instance-operations/launch` body.
#[derive(Debug, Serialize)]
pub(crate) struct LaunchRequest<'a> {
    pub region_name: &'a str,
    pub instance_type_name: &'a str,
    pub ssh_key_names: Vec<&'a str>,
    pub quantity: u32,
    pub name: &'a str,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Launched {
    pub instance_ids: Vec<String>,
}

/// `POST /instance-operations/terminate` body.
#[derive(Debug, Serialize)]
pub(crate) struct TerminateRequest<'a> {
    pub instance_ids: Vec<&'a str>,
}

/// One instance of `GET /instances` and `GET /instances/{id}`.
#[derive(Debug, Deserialize)]
pub(crate) struct InstanceWire {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub ip: Option<String>,
    pub status: String,
    #[serde(default)]
    pub region: Option<Region>,
    #[serde(default)]
    pub instance_type: Option<InstanceTypeRef>,
    #[serde(default)]
    pub jupyter_url: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct InstanceTypeRef {
    pub name: String,
}

/// The error envelope: `{"error": {"code", "message", "suggestion"?}}`.
#[derive(Debug, Deserialize)]
pub(crate) struct ErrorEnvelope {
    pub error: ErrorBody,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ErrorBody {
    pub code: String,
}
