//! Canonical MAAS 2.0 wire types (only the fields the adapter reads).

use std::collections::BTreeMap;

use serde::Deserialize;

/// A machine of `GET /machines/`, `GET /machines/{id}/` and the `allocate`/`deploy`/
/// `release` ops.
#[derive(Debug, Deserialize)]
pub(crate) struct Machine {
    pub system_id: String,
    /// NODE_STATUS: 4 Ready, 6 Deployed, 9 Deploying, 10 Allocated, 12 Releasing, ...
    pub status: i64,
    #[serde(default)]
    pub cpu_count: Option<u32>,
    /// MiB.
    #[serde(default)]
    pub memory: Option<f64>,
    /// MB.
    #[serde(default)]
    pub storage: Option<f64>,
    #[serde(default)]
    pub zone: Option<Named>,
    #[serde(default)]
    pub pool: Option<Named>,
    #[serde(default)]
    pub tag_names: Vec<String>,
    #[serde(default)]
    pub owner_data: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub ip_addresses: Vec<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Named {
    pub name: String,
}
