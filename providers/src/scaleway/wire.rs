//! Scaleway Instance API v1 wire types (only the fields the adapter reads or sends).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `GET /zones/{zone}/products/servers` → `{"servers": {"<commercial type>": {...}}}`.
#[derive(Debug, Deserialize)]
pub(crate) struct ServerTypes {
    pub servers: BTreeMap<String, ServerType>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ServerType {
    pub ncpus: u32,
    /// Bytes.
    pub ram: u64,
    #[serde(default)]
    pub gpu: Option<u32>,
    #[serde(default)]
    pub gpu_info: Option<GpuInfo>,
    /// EUR per server-hour.
    pub hourly_price: serde_json::Number,
    #[serde(default)]
    pub end_of_service: bool,
}

#[derive(Debug, Deserialize)]
pub(crate) struct GpuInfo {
    /// `H100-PCIe`, `L4`, `P100`.
    pub gpu_name: String,
    /// Bytes, per GPU.
    #[serde(default)]
    pub gpu_memory: Option<u64>,
}

/// `GET /zones/{zone}/products/servers/availability` →
/// `{"servers": {"<type>": {"availability": "available|scarce|shortage"}}}`.
#[derive(Debug, Deserialize)]
pub(crate) struct Availability {
    pub servers: BTreeMap<String, TypeAvailability>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct TypeAvailability {
    pub availability: String,
}

/// `POST /zones/{zone}/servers` body.
#[derive(Debug, Serialize)]
pub(crate) struct CreateServer<'a> {
    pub name: String,
    pub commercial_type: &'a str,
    pub image: &'a str,
    pub project: &'a str,
    pub tags: Vec<String>,
    pub dynamic_ip_required: bool,
}

/// `POST /zones/{zone}/servers/{id}/action` body.
#[derive(Debug, Serialize)]
pub(crate) struct Action<'a> {
    pub action: &'a str,
}

/// `{"server": {...}}`.
#[derive(Debug, Deserialize)]
pub(crate) struct ServerEnvelope {
    pub server: Server,
}

/// `{"servers": [...]}`.
#[derive(Debug, Deserialize)]
pub(crate) struct Servers {
    pub servers: Vec<Server>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Server {
    pub id: String,
    /// `running | stopped | stopped in place | starting | stopping | locked`.
    pub state: String,
    pub commercial_type: String,
    #[serde(default)]
    pub zone: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub public_ip: Option<PublicIp>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct PublicIp {
    pub address: String,
}

/// The error body: `{"type": "...", "message": "..."}`.
#[derive(Debug, Deserialize)]
pub(crate) struct ErrorBody {
    #[serde(rename = "type")]
    pub kind: String,
}
