//! Google Cloud Compute Engine (`gcp`), offers only, through the Cloud Billing Catalog API
//! (<https://cloud.google.com/billing/docs/reference/rest/v1/services.skus/list>, base
//! `https://cloudbilling.googleapis.com`, an API key in `X-Goog-Api-Key`).
//!
//! - Offers: `GET /v1/services/6F81-5844-456A/skus?currencyCode=USD` (the Compute Engine
//!   service), every page through `nextPageToken`. GPU SKUs (`category.resourceGroup` =
//!   `GPU`; `OnDemand` or `Preemptible` = spot) are priced per GPU-hour (`units` + `nanos`);
//!   the GPU is named in the description (`Nvidia Tesla A100 GPU running in Americas`).
//!   **What is combined:** nothing — an offer is one GPU in one of the SKU's
//!   `serviceRegions` at the accelerator SKU's price only. The VM a GPU must attach to (its
//!   vCPU/RAM SKUs or the A2/A3/G2 machine type) is billed on top and is not included; the
//!   instance type says `accelerator only`. No capacity signal: one unit each.
//! - Provisioning through the Compute Engine API needs OAuth 2.0 service-account auth (a
//!   signed JWT exchanged for a token), which this adapter does not implement:
//!   [`Capabilities`] say listing only; `provision`, `status` and `release` are
//!   [`ProviderError::Unsupported`].

mod map;
mod wire;

use std::time::Duration;

use async_trait::async_trait;

use crate::http::{
    AuthScheme, Call, Descriptor, Engine, EngineConfig, EngineError, DEFAULT_RETRYABLE,
};
use crate::{Capabilities, Offer, Provider, ProviderError, ProviderId};
use wire::{Sku, SkusPage};

/// The Compute Engine service in the billing catalogue.
const COMPUTE_SERVICE: &str = "6F81-5844-456A";

/// Most pages one listing follows.
const MAX_PAGES: usize = 100;

/// What this adapter can do: list offers, nothing else.
pub const CAPABILITIES: Capabilities = Capabilities::LIST_ONLY;

/// The Cloud Billing Catalog API as the engine sees it.
pub fn descriptor() -> Descriptor {
    Descriptor {
        id: "gcp",
        display_name: "Google Cloud",
        base_url: "https://cloudbilling.googleapis.com",
        auth: AuthScheme::Header("X-Goog-Api-Key"),
        quota_per_minute: 120,
        burst: 10,
        timeout: Duration::from_secs(30),
        retryable_statuses: DEFAULT_RETRYABLE,
        classify_error: None,
    }
}

/// The GCP adapter (GPU prices only).
#[derive(Debug)]
pub struct Gcp {
    engine: Engine,
}

impl Gcp {
    pub fn new(config: EngineConfig) -> Result<Self, EngineError> {
        Ok(Self {
            engine: Engine::new(descriptor(), config)?,
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    async fn fetch_offers(&self) -> Result<Vec<Offer>, ProviderError> {
        let mut skus: Vec<Sku> = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut path =
                format!("/v1/services/{COMPUTE_SERVICE}/skus?currencyCode=USD&pageSize=5000");
            if let Some(t) = &token {
                path.push_str("&pageToken=");
                path.push_str(&crate::http::percent_encode(t));
            }
            let page: SkusPage = self.engine.json(Call::get("list_offers", path)).await?;
            skus.extend(page.skus);
            match page.next_page_token {
                Some(t) if !t.is_empty() => token = Some(t),
                _ => break,
            }
        }
        let mapped = map::offers(self.engine.provider_id(), &skus, self.engine.now());
        self.engine.count_skipped(&mapped.unknown_gpus);
        Ok(mapped.offers)
    }
}

#[async_trait]
impl Provider for Gcp {
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
