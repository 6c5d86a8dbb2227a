//! DigitalOcean API v2 wire types (only the fields the adapter reads or sends).

use serde::{Deserialize, Serialize};

/// `GET /v2/sizes` → `{"sizes": [...], "links": {...}, "meta": {...}}`.
#[derive(Debug, Deserialize)]
pub(crate) struct Sizes {
    pub sizes: Vec<Size>,
    #[serde(default)]
    pub links: Links,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Size {
    pub slug: String,
    /// MB.
    pub memory: u64,
    pub vcpus: u32,
    /// GB.
    #[serde(default)]
    pub disk: Option<u32>,
    /// USD per droplet-hour.
    pub price_hourly: serde_json::Number,
    /// Regions the size can be created in now; empty = unavailable.
    #[serde(default)]
    pub regions: Vec<String>,
    #[serde(default = "yes")]
    pub available: bool,
    /// Present on GPU sizes only.
    #[serde(default)]
    pub gpu_info: Option<GpuInfo>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
pub(crate) struct GpuInfo {
    pub count: u32,
    /// Total over all GPUs of the size.
    #[serde(default)]
    pub vram: Option<Amount>,
    /// `nvidia_h100`, `amd_mi300x`.
    pub model: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Amount {
    pub amount: f64,
    /// `gib`.
    pub unit: String,
}

/// Pagination links: `{"pages": {"next": "https://.../v2/sizes?page=2&per_page=200"}}`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Links {
    #[serde(default)]
    pub pages: Option<Pages>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct Pages {
    #[serde(default)]
    pub next: Option<String>,
}

/// `GET /v2/droplets` → `{"droplets": [...], "links": {...}}`.
#[derive(Debug, Deserialize)]
pub(crate) struct Droplets {
    pub droplets: Vec<Droplet>,
    #[serde(default)]
    pub links: Links,
}

/// `GET /v2/droplets/{id}` and `POST /v2/droplets` → `{"droplet": {...}}`.
#[derive(Debug, Deserialize)]
pub(crate) struct DropletEnvelope {
    pub droplet: Droplet,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Droplet {
    pub id: u64,
    /// `new | active | off | archive`.
    pub status: String,
    #[serde(default)]
    pub networks: Networks,
    #[serde(default)]
    pub region: Option<RegionRef>,
    #[serde(default)]
    pub size_slug: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct Networks {
    #[serde(default)]
    pub v4: Vec<NetworkV4>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct NetworkV4 {
    pub ip_address: String,
    /// `public | private`.
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct RegionRef {
    pub slug: String,
}

/// `POST /v2/droplets` body.
#[derive(Debug, Serialize)]
pub(crate) struct CreateDroplet<'a> {
    pub name: String,
    pub region: &'a str,
    pub size: &'a str,
    pub image: &'a str,
    pub ssh_keys: Vec<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_data: Option<String>,
    pub tags: Vec<String>,
}

/// The error body: `{"id": "unprocessable_entity", "message": "..."}`.
#[derive(Debug, Deserialize)]
pub(crate) struct ErrorBody {
    pub id: String,
}
