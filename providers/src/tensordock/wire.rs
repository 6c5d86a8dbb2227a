//! TensorDock API v2 wire types (only the fields the adapter reads or sends).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Every success body: `{"data": ...}`.
#[derive(Debug, Deserialize)]
pub(crate) struct Envelope<T> {
    pub data: T,
}

/// `GET /locations` → `data`.
#[derive(Debug, Deserialize)]
pub(crate) struct Locations {
    pub locations: Vec<Location>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Location {
    pub id: String,
    #[serde(default)]
    pub city: Option<String>,
    #[serde(default)]
    pub stateprovince: Option<String>,
    /// `USA`, `Germany`, ...
    #[serde(default)]
    pub country: Option<String>,
    #[serde(default)]
    pub gpus: Vec<LocationGpu>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct LocationGpu {
    /// `geforcertx4090-pcie-24gb`: the name a create request uses.
    #[serde(rename = "v0Name")]
    pub v0_name: String,
    /// Most GPUs of this kind one instance can have here.
    pub max_count: u32,
    /// USD per GPU-hour.
    pub price_per_hr: serde_json::Number,
    pub resources: ResourceLimits,
    pub pricing: ResourcePricing,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ResourceLimits {
    pub max_vcpus: u32,
    pub max_ram_gb: u32,
    pub max_storage_gb: u32,
}

/// USD per unit-hour of the non-GPU resources.
#[derive(Debug, Deserialize)]
pub(crate) struct ResourcePricing {
    pub per_vcpu_hr: serde_json::Number,
    pub per_gb_ram_hr: serde_json::Number,
    pub per_gb_storage_hr: serde_json::Number,
}

/// `GET /hostnodes` → `data`.
#[derive(Debug, Deserialize)]
pub(crate) struct Hostnodes {
    pub hostnodes: Vec<Hostnode>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Hostnode {
    pub location_id: String,
    pub available_resources: HostnodeResources,
}

#[derive(Debug, Deserialize)]
pub(crate) struct HostnodeResources {
    #[serde(default)]
    pub gpus: Vec<HostnodeGpu>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct HostnodeGpu {
    #[serde(rename = "v0Name")]
    pub v0_name: String,
    #[serde(rename = "availableCount")]
    pub available_count: u32,
}

/// `POST /instances` body: `{"data": {"type": "virtualmachine", "attributes": {...}}}`.
#[derive(Debug, Serialize)]
pub(crate) struct CreateInstance<'a> {
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
    pub name: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub image: &'a str,
    pub location_id: &'a str,
    pub resources: CreateResources<'a>,
    #[serde(rename = "useDedicatedIp")]
    pub use_dedicated_ip: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ssh_key: Option<&'a str>,
}

#[derive(Debug, Serialize)]
pub(crate) struct CreateResources<'a> {
    pub vcpu_count: u32,
    pub ram_gb: u32,
    pub storage_gb: u32,
    pub gpus: BTreeMap<&'a str, GpuCount>,
}

#[derive(Debug, Serialize)]
pub(crate) struct GpuCount {
    pub count: u32,
}

/// What `POST /instances` answers, with HTTP 200 either way: the new instance, or a
/// body-level error (`{"error": "Hostnode unavailable", "status": 400}`).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum Created {
    Instance { data: CreatedInstance },
    Error(ErrorBody),
}

#[derive(Debug, Deserialize)]
pub(crate) struct CreatedInstance {
    pub id: String,
}

/// TensorDock's error body, on any HTTP status (200 included).
#[derive(Debug, Deserialize)]
pub(crate) struct ErrorBody {
    pub error: String,
    #[serde(default)]
    pub status: Option<u16>,
}

/// `GET /instances/{id}` → `data` (flat, as recorded); list items may also come JSON:API
/// style (`{"type", "id", "attributes": {...}}`, as in the docs' list example).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum InstanceItem {
    JsonApi {
        id: String,
        attributes: InstanceFields,
    },
    Flat {
        id: String,
        #[serde(flatten)]
        fields: InstanceFields,
    },
}

impl InstanceItem {
    pub fn id(&self) -> &str {
        match self {
            InstanceItem::JsonApi { id, .. } | InstanceItem::Flat { id, .. } => id,
        }
    }

    pub fn fields(&self) -> &InstanceFields {
        match self {
            InstanceItem::JsonApi { attributes, .. } => attributes,
            InstanceItem::Flat { fields, .. } => fields,
        }
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct InstanceFields {
    #[serde(default)]
    pub name: Option<String>,
    pub status: String,
    #[serde(default, rename = "ipAddress")]
    pub ip_address: Option<String>,
    #[serde(default, rename = "portForwards")]
    pub port_forwards: Vec<PortForward>,
    #[serde(default)]
    pub location_id: Option<String>,
    #[serde(default)]
    pub resources: Option<InstanceResources>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct PortForward {
    pub internal_port: u16,
    pub external_port: u16,
}

#[derive(Debug, Deserialize)]
pub(crate) struct InstanceResources {
    /// `{"<v0Name>": {"count": 1, "v0Name": ...}}` as recorded.
    #[serde(default)]
    pub gpus: Option<serde_json::Value>,
}

/// `GET /instances` → `data`: `{"instances": [...]}` (docs) or a bare list.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum InstanceList {
    Wrapped { instances: Vec<InstanceItem> },
    Bare(Vec<InstanceItem>),
}

impl InstanceList {
    pub fn items(&self) -> &[InstanceItem] {
        match self {
            InstanceList::Wrapped { instances } => instances,
            InstanceList::Bare(items) => items,
        }
    }
}
