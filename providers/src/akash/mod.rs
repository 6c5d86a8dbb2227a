//! Akash Network (`akash`), through the public Console API
//! (<https://akash.network/docs/api-documentation/>, base `https://console-api.akash.network`).
//!
//! - Offers: `GET /v1/gpu-prices` — per GPU model (`vendor`, `model`, `ram`, `interface`) the
//!   GPUs free across the network and USD-per-GPU-hour aggregates of the last weeks' on-chain
//!   bids (`min`, `max`, `avg`, `weightedAverage`, `med`). An offer is one GPU at the median
//!   bid, marked [`crate::Pricing::Bid`]: indicative, not a quote.
//! - Listing only: a deployment on Akash is an SDL manifest, an auction and a lease
//!   (Console's managed-wallet API or the chain), not a REST "start this instance" call; the
//!   capabilities say so and provisioning answers `Unsupported`.
//! - Auth: none (public). Errors: the status mapping.
//!
//! Verified against a real sample: the recorded `?debug=true` snapshot (one H100 model). From
//! documentation only: that the plain endpoint has the same fields without
//! `providersWithBestBid`.

mod map;
mod wire;

use std::time::Duration;

use async_trait::async_trait;

use crate::http::{
    AuthScheme, Call, Descriptor, Engine, EngineConfig, EngineError, DEFAULT_RETRYABLE,
};
use crate::{Capabilities, Offer, Provider, ProviderError, ProviderId};
use wire::GpuPrices;

/// What the adapter can do: list offers, nothing else.
pub const CAPABILITIES: Capabilities = Capabilities::LIST_ONLY;

/// The Console API as the engine sees it.
pub fn descriptor() -> Descriptor {
    Descriptor {
        id: "akash",
        display_name: "Akash Network",
        base_url: "https://console-api.akash.network",
        auth: AuthScheme::None,
        quota_per_minute: 30,
        burst: 2,
        timeout: Duration::from_secs(30),
        retryable_statuses: DEFAULT_RETRYABLE,
        classify_error: None,
    }
}

/// The Akash adapter (listing only).
#[derive(Debug)]
pub struct Akash {
    engine: Engine,
}

impl Akash {
    pub fn new(config: EngineConfig) -> Result<Self, EngineError> {
        Ok(Self {
            engine: Engine::new(descriptor(), config)?,
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    async fn fetch_offers(&self) -> Result<Vec<Offer>, ProviderError> {
        let prices: GpuPrices = self
            .engine
            .json(Call::get("list_offers", "/v1/gpu-prices"))
            .await?;
        let mapped = map::offers(self.engine.provider_id(), &prices.models, self.engine.now());
        self.engine.count_skipped(&mapped.unknown_gpus);
        Ok(mapped.offers)
    }
}

#[async_trait]
impl Provider for Akash {
    fn engine(&self) -> Option<&crate::http::Engine> {
        Some(&self.engine)
    }

    fn id(&self) -> &ProviderId {
        self.engine.provider_id()
    }

    fn display_name(&self) -> &str {
        self.engine.descriptor().display_name
    }

    fn capabilities(&self) -> Capabilities {
        CAPABILITIES
    }

    async fn list_offers(&self) -> Result<Vec<Offer>, ProviderError> {
        self.engine.offers(|| self.fetch_offers()).await
    }
}
