//! Vultr API v2 wire types (only the fields the adapter reads or sends).

use serde::{Deserialize, Serialize};

/// `GET /plans?type=vcg` → `{"plans": [...], "meta": {...}}`.
#[derive(Debug, Deserialize)]
pub(crate) struct Plans {
    pub plans: Vec<Plan>,
    #[serde(default)]
    pub meta: Meta,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Plan {
    /// `vcg-a100-12c-120g-80vram`.
    pub id: String,
    pub vcpu_count: u32,
    /// MB.
    pub ram: u64,
    /// GB.
    #[serde(default)]
    pub disk: Option<u32>,
    /// USD per instance-hour.
    pub hourly_cost: serde_json::Number,
    /// `vc2 | vhf | vhp | voc | vcg`.
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub locations: Vec<String>,
    /// The plan's total GPU memory (a fraction of a card on fractional plans).
    #[serde(default)]
    pub gpu_vram_gb: Option<u32>,
    /// `NVIDIA_A100`.
    #[serde(default)]
    pub gpu_type: Option<String>,
}

/// `GET /plans-metal` → `{"plans_metal": [...], "meta": {...}}`.
#[derive(Debug, Deserialize)]
pub(crate) struct MetalPlans {
    pub plans_metal: Vec<MetalPlan>,
    #[serde(default)]
    pub meta: Meta,
}

#[derive(Debug, Deserialize)]
pub(crate) struct MetalPlan {
    /// `vbm-112c-2048gb-8-h100-gpu`: the GPUs are only in the id.
    pub id: String,
    #[serde(default)]
    pub cpu_threads: Option<u32>,
    /// MB.
    pub ram: u64,
    /// GB per disk.
    #[serde(default)]
    pub disk: Option<u32>,
    #[serde(default)]
    pub disk_count: Option<u32>,
    /// USD per server-hour.
    pub hourly_cost: serde_json::Number,
    #[serde(default)]
    pub locations: Vec<String>,
}

/// `{"total": n, "links": {"next": "<cursor>", "prev": ""}}`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Meta {
    #[serde(default)]
    pub links: Links,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct Links {
    #[serde(default)]
    pub next: String,
}

/// `POST /instances` and `POST /bare-metals` body (the fields both take).
#[derive(Debug, Serialize)]
pub(crate) struct Create<'a> {
    pub region: &'a str,
    pub plan: &'a str,
    pub os_id: u32,
    pub label: String,
    pub hostname: String,
    pub tags: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_data: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sshkey_id: Vec<&'a str>,
}

/// `{"instance": {...}}` or `{"bare_metal": {...}}`.
#[derive(Debug, Deserialize)]
pub(crate) struct One {
    #[serde(alias = "bare_metal")]
    pub instance: Server,
}

/// `{"instances": [...]}` or `{"bare_metals": [...]}`, with the cursor.
#[derive(Debug, Deserialize)]
pub(crate) struct Many {
    #[serde(alias = "bare_metals")]
    pub instances: Vec<Server>,
    #[serde(default)]
    pub meta: Meta,
}

/// A cloud instance or bare-metal server.
#[derive(Debug, Deserialize)]
pub(crate) struct Server {
    pub id: String,
    /// `pending | active | suspended | resizing`.
    pub status: String,
    /// `running | stopped` (cloud instances).
    #[serde(default)]
    pub power_status: Option<String>,
    /// `none | locked | installingbooting | ok` (cloud instances).
    #[serde(default)]
    pub server_status: Option<String>,
    #[serde(default)]
    pub main_ip: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub plan: Option<String>,
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
}

/// The error body: `{"error": "...", "status": 400}`.
#[derive(Debug, Deserialize)]
pub(crate) struct ErrorBody {
    pub error: String,
    #[serde(default)]
    pub status: Option<u16>,
}
