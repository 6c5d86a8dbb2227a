//! Vast.ai API v0 wire types (only the fields the adapter reads or sends).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Number, Value};

/// `POST /bundles/` answer.
#[derive(Debug, Deserialize)]
pub(crate) struct Bundles {
    pub offers: Vec<Ask>,
}

/// One rentable machine slice.
#[derive(Debug, Deserialize)]
pub(crate) struct Ask {
    /// The ask id to rent with `PUT /asks/{id}/`.
    pub id: u64,
    pub gpu_name: String,
    pub num_gpus: u32,
    /// Per GPU, MB.
    pub gpu_ram: Number,
    #[serde(default)]
    pub cpu_cores: Option<Number>,
    #[serde(default)]
    pub cpu_cores_effective: Option<Number>,
    /// Whole machine, MB.
    #[serde(default)]
    pub cpu_ram: Option<Number>,
    /// GB available.
    #[serde(default)]
    pub disk_space: Option<Number>,
    /// USD per hour, all in (GPU + CPU + default storage and bandwidth).
    pub dph_total: Number,
    /// `City, CC` or `CC`; absent for some hosts.
    #[serde(default)]
    pub geolocation: Option<String>,
}

/// The search filter: offer fields mapped to operator objects.
#[derive(Debug, Serialize)]
pub(crate) struct Search {
    pub verified: Op,
    pub rentable: Op,
    pub rented: Op,
    pub num_gpus: Op,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub order: Vec<[&'static str; 2]>,
    pub limit: u32,
}

/// `{"eq": v}` / `{"gte": v}`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Op {
    Eq(Value),
    Gte(Value),
}

/// `PUT /asks/{id}/` body.
#[derive(Debug, Serialize)]
pub(crate) struct CreateInstance<'a> {
    pub client_id: &'static str,
    pub image: &'a str,
    pub disk: u32,
    pub label: &'a str,
    pub env: BTreeMap<&'static str, &'static str>,
    pub runtype: &'static str,
    /// `null` rents on demand (a bid price would make it interruptible).
    pub price: Option<f64>,
}

/// `PUT /asks/{id}/` answer, and the body of Vast's errors.
#[derive(Debug, Deserialize)]
pub(crate) struct Outcome {
    #[serde(default)]
    pub success: Option<bool>,
    #[serde(default)]
    pub new_contract: Option<u64>,
    #[serde(default)]
    pub error: Option<String>,
}

/// `GET /instances/` answer.
#[derive(Debug, Deserialize)]
pub(crate) struct InstanceList {
    pub instances: Vec<InstanceWire>,
}

/// `GET /instances/{id}/` answer (`instances` is one object there).
#[derive(Debug, Deserialize)]
pub(crate) struct InstanceOne {
    pub instances: Option<InstanceWire>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct InstanceWire {
    pub id: u64,
    /// `null` while provisioning, then `loading`, `running`, `exited`, ...
    #[serde(default)]
    pub actual_status: Option<String>,
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub ssh_host: Option<String>,
    #[serde(default)]
    pub ssh_port: Option<u16>,
}
