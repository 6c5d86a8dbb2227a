//! Oracle Cloud Infrastructure (`oci`), offers only, through Oracle's public cost
//! estimator data (`https://www.oracle.com/a/ocom/docs/cloudestimator2/data`, no
//! credentials; the files the estimator page itself loads, read the same way by gpuhunt).
//!
//! - Offers: `GET /shapes.json` (shape name, `gpuQty`, `gpuMemoryQty` GB over all GPUs,
//!   `bundleMemoryQty` GB, one `ocpu` product part) joined with `GET /products.json` (part
//!   number → `UCM`, `HOUR`, USD `PAY_AS_YOU_GO` value). For GPU shapes that part is priced
//!   per GPU-hour, so a shape costs value × `gpuQty`. The GPU comes from the shape name
//!   (`VM.GPU.A10.1`, `BM.GPU4.8` = A100, see `map::gpu_name`). The estimator has no
//!   regions: Universal Credits prices are global, and the adapter lists each shape in the
//!   configured regions (those the tenancy subscribes to) with one unit each.
//! - Provisioning needs the OCI IaaS API with OCI HTTP-signature (RSA) auth, which this
//!   adapter does not implement: [`Capabilities`] say listing only; `provision`, `status`
//!   and `release` are [`ProviderError::Unsupported`].

mod map;
mod wire;

use std::time::Duration;

use async_trait::async_trait;

use crate::http::{
    AuthScheme, Call, Descriptor, Engine, EngineConfig, EngineError, DEFAULT_RETRYABLE,
};
use crate::{Capabilities, Offer, Provider, ProviderError, ProviderId};
use wire::{Products, Shapes};

/// What this adapter can do: list offers, nothing else.
pub const CAPABILITIES: Capabilities = Capabilities::LIST_ONLY;

/// The cost estimator's data files as the engine sees them.
pub fn descriptor() -> Descriptor {
    Descriptor {
        id: "oci",
        display_name: "Oracle Cloud",
        base_url: "https://www.oracle.com/a/ocom/docs/cloudestimator2/data",
        auth: AuthScheme::None,
        quota_per_minute: 30,
        burst: 2,
        timeout: Duration::from_secs(30),
        retryable_statuses: DEFAULT_RETRYABLE,
        classify_error: None,
    }
}

/// Settings of the OCI adapter beyond the engine's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OciSettings {
    /// Regions the offers are listed in (the tenancy's subscribed regions).
    pub regions: Vec<String>,
}

impl Default for OciSettings {
    fn default() -> Self {
        Self {
            regions: [
                "us-ashburn-1",
                "us-phoenix-1",
                "eu-frankfurt-1",
                "uk-london-1",
            ]
            .map(str::to_string)
            .to_vec(),
        }
    }
}

/// The OCI adapter (price list only).
#[derive(Debug)]
pub struct Oci {
    engine: Engine,
    settings: OciSettings,
}

impl Oci {
    pub fn new(config: EngineConfig, settings: OciSettings) -> Result<Self, EngineError> {
        Ok(Self {
            engine: Engine::new(descriptor(), config)?,
            settings,
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    async fn fetch_offers(&self) -> Result<Vec<Offer>, ProviderError> {
        let shapes: Shapes = self
            .engine
            .json(Call::get("list_offers", "/shapes.json"))
            .await?;
        let products: Products = self
            .engine
            .json(Call::get("list_prices", "/products.json"))
            .await?;
        let mapped = map::offers(
            self.engine.provider_id(),
            &shapes,
            &products,
            &self.settings.regions,
            self.engine.now(),
        );
        self.engine.count_skipped(&mapped.unknown_gpus);
        Ok(mapped.offers)
    }
}

#[async_trait]
impl Provider for Oci {
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
