//! Linode (Akamai Cloud) API v4 wire types (only the fields the adapter reads or sends).

use serde::{Deserialize, Serialize};

/// Every list: `{"data": [...], "page": 1, "pages": 1, "results": n}`.
#[derive(Debug, Deserialize)]
pub(crate) struct Page<T> {
    pub data: Vec<T>,
    #[serde(default = "one")]
    pub page: u32,
    #[serde(default = "one")]
    pub pages: u32,
}

fn one() -> u32 {
    1
}

/// One of `GET /linode/types`.
#[derive(Debug, Deserialize)]
pub(crate) struct LinodeType {
    /// `g1-gpu-rtx6000-1`.
    pub id: String,
    /// `Dedicated 32GB + RTX6000 GPU x1`.
    pub label: String,
    pub price: Price,
    #[serde(default)]
    pub region_prices: Vec<RegionPrice>,
    /// MB.
    pub memory: u64,
    /// MB.
    pub disk: u64,
    pub vcpus: u32,
    pub gpus: u32,
    /// `standard | gpu | ...`.
    pub class: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Price {
    /// USD per instance-hour.
    pub hourly: serde_json::Number,
}

#[derive(Debug, Deserialize)]
pub(crate) struct RegionPrice {
    pub id: String,
    pub hourly: serde_json::Number,
}

/// One of `GET /regions/availability`.
#[derive(Debug, Deserialize)]
pub(crate) struct Availability {
    pub region: String,
    /// The plan: its id or its label (`Linode 2GB` in the recorded sample).
    pub plan: String,
    pub available: bool,
}

/// `POST /linode/instances` body.
#[derive(Debug, Serialize)]
pub(crate) struct Create<'a> {
    #[serde(rename = "type")]
    pub kind: &'a str,
    pub region: &'a str,
    pub image: &'a str,
    pub label: String,
    pub tags: Vec<&'static str>,
    pub root_pass: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub authorized_keys: Vec<&'a str>,
}

/// A Linode instance.
#[derive(Debug, Deserialize)]
pub(crate) struct Linode {
    pub id: u64,
    #[serde(default)]
    pub label: Option<String>,
    pub status: String,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub ipv4: Vec<String>,
}

/// `{"errors": [{"reason": "...", "field": "..."}]}`.
#[derive(Debug, Deserialize)]
pub(crate) struct Errors {
    pub errors: Vec<Reason>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Reason {
    pub reason: String,
}
