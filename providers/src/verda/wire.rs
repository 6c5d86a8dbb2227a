//! Verda (formerly DataCrunch) API v1 wire types (only the fields the adapter reads or
//! sends).

use serde::{Deserialize, Serialize};

/// One entry of `GET /instance-types`.
#[derive(Debug, Deserialize)]
pub(crate) struct InstanceType {
    /// `1H100.80S.30V`.
    pub instance_type: String,
    /// USD per instance-hour, as a decimal string.
    pub price_per_hour: String,
    #[serde(default)]
    pub spot_price: Option<String>,
    #[serde(default)]
    pub currency: Option<String>,
    /// `H100`, `Tesla V100`, `CPU Node`.
    #[serde(default)]
    pub model: Option<String>,
    /// `H100 SXM5 80GB`.
    #[serde(default)]
    pub name: Option<String>,
    pub gpu: Gpu,
    /// Total over all GPUs.
    pub gpu_memory: Size,
    #[serde(default)]
    pub memory: Option<Size>,
    #[serde(default)]
    pub cpu: Option<Cpu>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Gpu {
    pub number_of_gpus: u32,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Size {
    #[serde(default)]
    pub size_in_gigabytes: Option<f64>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Cpu {
    #[serde(default)]
    pub number_of_cores: Option<u32>,
}

/// One entry of `GET /instance-availability?isSpot=`.
#[derive(Debug, Deserialize)]
pub(crate) struct Availability {
    pub location_code: String,
    pub availabilities: Vec<String>,
}

/// One entry of `GET /locations`.
#[derive(Debug, Deserialize)]
pub(crate) struct Location {
    pub code: String,
    #[serde(default)]
    pub country_code: Option<String>,
}

/// `POST /instances` body (the answer is the new id as plain text).
#[derive(Debug, Serialize)]
pub(crate) struct Deploy<'a> {
    pub instance_type: &'a str,
    pub image: &'a str,
    pub ssh_key_ids: Vec<&'a str>,
    pub hostname: &'a str,
    pub description: &'a str,
    pub location_code: &'a str,
    pub is_spot: bool,
}

/// `PUT /instances` body.
#[derive(Debug, Serialize)]
pub(crate) struct Action<'a> {
    pub id: Vec<&'a str>,
    pub action: &'static str,
}

/// An instance of `GET /instances[/{id}]`.
#[derive(Debug, Deserialize)]
pub(crate) struct InstanceWire {
    pub id: String,
    /// `ordered, provisioning, running, offline, ..., error`.
    pub status: String,
    #[serde(default)]
    pub hostname: Option<String>,
    #[serde(default)]
    pub ip: Option<String>,
    #[serde(default)]
    pub instance_type: Option<String>,
    #[serde(default)]
    pub location: Option<String>,
    #[serde(default)]
    pub is_spot: Option<bool>,
}

/// Error body: `{"code": "...", "message": "..."}`.
#[derive(Debug, Deserialize)]
pub(crate) struct ErrorBody {
    #[serde(default)]
    pub code: String,
}
