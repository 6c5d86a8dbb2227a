//! Jarvislabs API wire types (only the fields the adapter reads or sends).

use serde::{Deserialize, Serialize};

/// A number the API sends as JSON number or as decimal text (`"vram": "24"`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum NumOrText {
    Number(serde_json::Number),
    Text(String),
}

impl NumOrText {
    pub fn text(&self) -> String {
        match self {
            NumOrText::Number(n) => n.to_string(),
            NumOrText::Text(s) => s.trim().to_string(),
        }
    }
}

/// `GET /misc/server_meta` → `{"server_meta": [...], "cpu_meta": {...}}`.
#[derive(Debug, Deserialize)]
pub(crate) struct ServerMeta {
    pub server_meta: Vec<GpuRow>,
}

/// One GPU type in one region for one workload type.
#[derive(Debug, Deserialize)]
pub(crate) struct GpuRow {
    pub gpu_type: String,
    pub region: String,
    #[serde(default)]
    pub num_free_devices: Option<u32>,
    #[serde(default)]
    pub effective_num_free_devices: Option<u32>,
    #[serde(default)]
    pub spot_num_free_devices: Option<u32>,
    /// USD per GPU-hour.
    #[serde(default)]
    pub price_per_hour: Option<NumOrText>,
    /// USD per GPU-hour, interruptible.
    #[serde(default)]
    pub spot_price: Option<NumOrText>,
    /// GB per GPU.
    #[serde(default)]
    pub vram: Option<NumOrText>,
    #[serde(default)]
    pub cpus_per_gpu: Option<u32>,
    #[serde(default)]
    pub ram_per_gpu: Option<f64>,
    /// `vm`, `container` or null (null rows are VMs too).
    #[serde(default)]
    pub workload_type: Option<String>,
    /// Most GPUs one instance may have.
    #[serde(default)]
    pub num_gpus: Option<NumOrText>,
}

/// `POST {region host}/templates/vm/create` body.
#[derive(Debug, Serialize)]
pub(crate) struct CreateVm<'a> {
    pub gpu_type: &'a str,
    pub num_gpus: u32,
    pub hdd: u32,
    pub region: &'a str,
    pub name: &'a str,
    pub is_spot: bool,
    pub duration: &'a str,
    pub disk_type: &'a str,
    pub http_ports: &'a str,
    pub script_id: Option<&'a str>,
    pub script_args: &'a str,
    pub fs_id: Option<&'a str>,
    pub arguments: &'a str,
}

/// The answer of create and destroy: `{"success": bool, "machine_id"?}`; the flag is
/// sometimes spelled `sucess`.
#[derive(Debug, Deserialize)]
pub(crate) struct Outcome {
    #[serde(default, alias = "sucess")]
    pub success: Option<bool>,
    #[serde(default)]
    pub machine_id: Option<NumOrText>,
}

/// `GET /users/fetch/{machine_id}` → `{"success", "instance": {...}}`.
#[derive(Debug, Deserialize)]
pub(crate) struct InstanceOne {
    #[serde(default, alias = "sucess")]
    pub success: Option<bool>,
    #[serde(default)]
    pub instance: Option<InstanceWire>,
}

/// `GET /users/fetch` → `{"success", "instances": [...]}`.
#[derive(Debug, Deserialize)]
pub(crate) struct InstanceList {
    pub instances: Vec<InstanceWire>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct InstanceWire {
    pub machine_id: NumOrText,
    #[serde(default)]
    pub name: Option<String>,
    pub status: String,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub gpu_type: Option<String>,
    #[serde(default)]
    pub num_gpus: Option<NumOrText>,
    #[serde(default)]
    pub is_spot: Option<bool>,
    /// `ssh -p <port> <user>@<host>`.
    #[serde(default)]
    pub ssh_str: Option<String>,
}
