//! FluidStack platform API wire types, as documented (only the fields the adapter reads or
//! sends). No recorded response exists: every shape here rests on documentation.

use serde::{Deserialize, Serialize};

/// One of `GET /list_available_configurations` (a bare JSON list).
#[derive(Debug, Deserialize)]
pub(crate) struct Configuration {
    /// `H100_SXM5_80GB`, `RTX_A6000_48GB`.
    pub gpu_type: String,
    /// USD per GPU-hour, a decimal string or a number.
    pub price_per_gpu_hr: Decimal,
    #[serde(default)]
    pub gpu_counts: Vec<u32>,
    #[serde(default)]
    pub regions: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum Decimal {
    Number(serde_json::Number),
    Text(String),
}

/// `POST /instances` body.
#[derive(Debug, Serialize)]
pub(crate) struct Create<'a> {
    pub gpu_type: &'a str,
    pub gpu_count: u32,
    pub region: &'a str,
    pub operating_system_label: &'a str,
    pub name: String,
    pub ssh_key: &'a str,
}

/// `POST /instances` answer.
#[derive(Debug, Deserialize)]
pub(crate) struct Created {
    pub id: String,
}

/// One of `GET /instances` (a bare JSON list).
#[derive(Debug, Deserialize)]
pub(crate) struct InstanceWire {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    pub status: String,
    #[serde(default)]
    pub ip_address: Option<String>,
    #[serde(default)]
    pub ssh_port: Option<u16>,
    #[serde(default)]
    pub gpu_type: Option<String>,
    #[serde(default)]
    pub gpu_count: Option<u32>,
    #[serde(default)]
    pub region: Option<String>,
}

/// Error bodies: `{"detail": "..."}` or `{"error": "..."}`.
#[derive(Debug, Deserialize)]
pub(crate) struct ErrorBody {
    #[serde(alias = "error")]
    pub detail: String,
}
