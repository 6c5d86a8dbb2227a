//! Microsoft Azure (`azure`), offers only, through the public Azure Retail Prices API
//! (<https://learn.microsoft.com/rest/api/cost-management/retail-prices/azure-retail-prices>,
//! `https://prices.azure.com/api/retail/prices`, no credentials).
//!
//! - Offers: `GET /api/retail/prices?api-version=2023-01-01-preview&$filter=serviceName eq
//!   'Virtual Machines' and priceType eq 'Consumption' and contains(armSkuName,
//!   'Standard_N')`, every page through `NextPageLink` (its path and query only, sent to the
//!   engine's own base). `retailPrice` is USD per VM-hour; spot prices are the meters named
//!   `... Spot`. The API names SKUs, not GPUs: `map` reads model and count from Azure's
//!   N-series table; sizes with a fraction of a GPU are left out. No capacity signal: a
//!   priced region counts as one unit.
//! - Provisioning goes through Azure Resource Manager (Azure AD credentials, a
//!   subscription, resource groups, networking), which this public API does not offer:
//!   [`Capabilities`] say listing only; `provision`, `status` and `release` are
//!   [`ProviderError::Unsupported`]; the account holds no instances made here.
//! - Filter values are case-sensitive from `2023-01-01-preview` on (docs). Throttling: 429
//!   (gpuhunt waits 3 s); quota 120/min.

mod map;
mod wire;

use std::time::Duration;

use async_trait::async_trait;

use crate::http::{
    AuthScheme, Call, Descriptor, Engine, EngineConfig, EngineError, DEFAULT_RETRYABLE,
};
use crate::{Capabilities, Offer, Provider, ProviderError, ProviderId};
use wire::{PriceItem, PricesPage};

/// The first page: pay-as-you-go Virtual Machines prices of the N (GPU) families.
const FIRST_PAGE: &str = "/api/retail/prices?api-version=2023-01-01-preview&$filter=serviceName%20eq%20%27Virtual%20Machines%27%20and%20priceType%20eq%20%27Consumption%27%20and%20contains(armSkuName,%20%27Standard_N%27)";

/// Most pages one listing follows (a guard against a looping `NextPageLink`).
const MAX_PAGES: usize = 200;

/// What this adapter can do: list offers, nothing else.
pub const CAPABILITIES: Capabilities = Capabilities::LIST_ONLY;

/// The Retail Prices API as the engine sees it.
pub fn descriptor() -> Descriptor {
    Descriptor {
        id: "azure",
        display_name: "Microsoft Azure",
        base_url: "https://prices.azure.com",
        auth: AuthScheme::None,
        quota_per_minute: 120,
        burst: 10,
        timeout: Duration::from_secs(30),
        retryable_statuses: DEFAULT_RETRYABLE,
        classify_error: None,
    }
}

/// The Azure adapter (price list only).
#[derive(Debug)]
pub struct Azure {
    engine: Engine,
}

impl Azure {
    pub fn new(config: EngineConfig) -> Result<Self, EngineError> {
        Ok(Self {
            engine: Engine::new(descriptor(), config)?,
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    async fn fetch_offers(&self) -> Result<Vec<Offer>, ProviderError> {
        let mut items: Vec<PriceItem> = Vec::new();
        let mut path = Some(FIRST_PAGE.to_string());
        for _ in 0..MAX_PAGES {
            let Some(p) = path.take() else { break };
            let page: PricesPage = self.engine.json(Call::get("list_offers", p)).await?;
            items.extend(page.items);
            path = map::next_page(page.next_page_link.as_deref());
        }
        let mapped = map::offers(self.engine.provider_id(), &items, self.engine.now());
        self.engine.count_skipped(&mapped.unknown_gpus);
        Ok(mapped.offers)
    }
}

#[async_trait]
impl Provider for Azure {
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
