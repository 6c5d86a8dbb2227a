//! Akash Console API wire types (only the fields the adapter reads).

use serde::Deserialize;

/// `GET /v1/gpu-prices` → `{"models": [...]}`.
#[derive(Debug, Deserialize)]
pub(crate) struct GpuPrices {
    pub models: Vec<Model>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Model {
    /// `nvidia`.
    pub vendor: String,
    /// `h100`.
    pub model: String,
    /// `80Gi`.
    pub ram: String,
    /// `SXM5`, `PCIe`.
    #[serde(default)]
    pub interface: Option<String>,
    pub availability: Availability,
    pub price: Price,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Availability {
    /// GPUs of this model free across the network's providers.
    pub available: u32,
}

/// USD per GPU-hour over recent on-chain bids.
#[derive(Debug, Deserialize)]
pub(crate) struct Price {
    pub currency: String,
    /// The median bid.
    pub med: serde_json::Number,
}
