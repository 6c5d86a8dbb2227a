//! The normalized offer: one purchasable shape at one provider, region and pricing kind.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::MicroUsd;

/// A provider's stable key (`runpod`, `lambda`, `maas`, ...).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ProviderId(pub String);

impl fmt::Display for ProviderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A stable offer id of the form `provider:key`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OfferId(pub String);

impl OfferId {
    pub fn new(provider: &ProviderId, key: &str) -> Self {
        OfferId(format!("{}:{key}", provider.0))
    }

    /// The provider part of the id.
    pub fn provider(&self) -> Option<ProviderId> {
        self.0
            .split_once(':')
            .map(|(p, _)| ProviderId(p.to_string()))
    }

    /// The provider-local part of the id.
    pub fn key(&self) -> &str {
        self.0.split_once(':').map_or("", |(_, k)| k)
    }
}

impl fmt::Display for OfferId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How the capacity is sold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pricing {
    OnDemand,
    Spot,
    /// A marketplace where providers bid (Akash): the price is an indication from recent
    /// bids (the adapter says which statistic), not a quoted rate.
    Bid,
}

impl Pricing {
    pub const ALL: [Pricing; 3] = [Pricing::OnDemand, Pricing::Spot, Pricing::Bid];

    pub fn as_str(self) -> &'static str {
        match self {
            Pricing::OnDemand => "on_demand",
            Pricing::Spot => "spot",
            Pricing::Bid => "bid",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

/// Where the offer's numbers come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OfferSource {
    /// Read from the provider's API in the latest refresh.
    Live,
    /// From a dated price catalogue (the provider has no pricing API).
    Catalog,
    /// The last good listing, served while the provider is failing.
    Stale,
}

/// One normalized GPU offer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Offer {
    pub id: OfferId,
    pub provider: ProviderId,
    pub instance_type: String,
    /// Canonical model name from [`crate::gpus`].
    pub gpu_model: String,
    pub gpu_count: u32,
    /// Memory per GPU, GiB.
    pub gpu_memory_gib: f64,
    pub vcpus: Option<u32>,
    pub memory_gib: Option<f64>,
    pub storage_gib: Option<u32>,
    pub region: String,
    /// ISO 3166-1 alpha-2, when known.
    pub country: Option<String>,
    pub pricing: Pricing,
    /// USD per hour for the whole offer (all GPUs).
    pub price_per_hour: MicroUsd,
    /// USD per GPU-hour (rounded half-up to the micro-dollar).
    pub price_per_gpu_hour: MicroUsd,
    /// Units that can be provisioned now.
    pub available: u32,
    pub as_of: DateTime<Utc>,
    pub source: OfferSource,
}
