//! Verda, formerly DataCrunch (`verda`), through its REST API v1
//! (<https://api.verda.com/v1>, formerly `api.datacrunch.io`; SDK `DataCrunch-io/datacrunch-python`).
//!
//! - Auth: OAuth 2.0 client credentials at `POST /oauth2/token` (the engine's
//!   [`AuthScheme::OAuth2ClientCredentials`]); the secret is `client_id:client_secret`.
//! - Offers: `GET /instance-types` (prices are decimal strings, USD per instance-hour;
//!   `gpu_memory` is the total over all GPUs), `GET /locations` (country codes),
//!   `GET /instance-availability?isSpot=false|true` (which types each location has now):
//!   one offer per type, location with availability and pricing kind (on-demand, spot).
//! - Provision: `POST /instances` with the allocation id as `hostname` (the answer is the
//!   new id as plain text); status `GET /instances/{id}`; list `GET /instances`; release
//!   `PUT /instances {"id": [...], "action": "delete"}`.
//! - Rate limit: undocumented; quota 60/min.

mod map;
mod wire;

use std::time::Duration;

use async_trait::async_trait;

use crate::http::{
    AuthScheme, Call, Descriptor, Engine, EngineConfig, EngineError, DEFAULT_RETRYABLE,
};
use crate::{
    Capabilities, Instance, InstanceId, InstanceState, Offer, Pricing, Provider, ProviderError,
    ProviderId, ProvisionRequest,
};
use wire::{Action, Availability, Deploy, InstanceType, InstanceWire, Location};

/// Verda's API as the engine sees it.
pub fn descriptor() -> Descriptor {
    Descriptor {
        id: "verda",
        display_name: "Verda",
        base_url: "https://api.verda.com/v1",
        auth: AuthScheme::OAuth2ClientCredentials {
            token_path: "/oauth2/token",
        },
        quota_per_minute: 60,
        burst: 5,
        timeout: Duration::from_secs(30),
        retryable_statuses: DEFAULT_RETRYABLE,
        classify_error: Some(map::classify),
    }
}

/// Settings of the Verda adapter beyond the engine's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerdaSettings {
    /// Registered SSH key ids every instance gets.
    pub ssh_key_ids: Vec<String>,
}

/// The Verda adapter.
#[derive(Debug)]
pub struct Verda {
    engine: Engine,
    settings: VerdaSettings,
}

impl Verda {
    pub fn new(config: EngineConfig, settings: VerdaSettings) -> Result<Self, EngineError> {
        Ok(Self {
            engine: Engine::new(descriptor(), config)?,
            settings,
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    async fn fetch_offers(&self) -> Result<Vec<Offer>, ProviderError> {
        let e = &self.engine;
        let types: Vec<InstanceType> = e.json(Call::get("list_offers", "/instance-types")).await?;
        let locations: Vec<Location> = e.json(Call::get("list_offers", "/locations")).await?;
        let on_demand: Vec<Availability> = e
            .json(Call::get(
                "list_offers",
                "/instance-availability?isSpot=false",
            ))
            .await?;
        let spot: Vec<Availability> = e
            .json(Call::get(
                "list_offers",
                "/instance-availability?isSpot=true",
            ))
            .await?;
        let catalogue = map::Catalogue {
            types: &types,
            locations: &locations,
            on_demand: &on_demand,
            spot: &spot,
        };
        let mapped = map::offers(e.provider_id(), &catalogue, e.now());
        e.count_skipped(&mapped.unknown_gpus);
        Ok(mapped.offers)
    }
}

#[async_trait]
impl Provider for Verda {
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
        Capabilities::ALL
    }

    async fn list_offers(&self) -> Result<Vec<Offer>, ProviderError> {
        self.engine.offers(|| self.fetch_offers()).await
    }

    async fn provision(&self, req: &ProvisionRequest) -> Result<Instance, ProviderError> {
        if let Some(existing) = self.find_by_allocation(&req.allocation_id).await? {
            if existing.state != InstanceState::Terminated {
                return Ok(existing);
            }
        }
        let (instance_type, location, pricing) =
            map::parse_offer_id(&req.offer_id).ok_or(ProviderError::NotFound)?;
        let description = format!("gpubroker allocation {}", req.allocation_id);
        let body = Deploy {
            instance_type,
            image: &req.image,
            ssh_key_ids: self
                .settings
                .ssh_key_ids
                .iter()
                .map(String::as_str)
                .collect(),
            hostname: &req.allocation_id,
            description: &description,
            location_code: location,
            is_spot: pricing == Pricing::Spot,
        };
        let id = self
            .engine
            .text(Call::post("deploy", "/instances", &body)?)
            .await?;
        if id.is_empty() {
            return Err(ProviderError::InvalidResponse(
                "deploy answered no instance id".to_string(),
            ));
        }
        self.status(&InstanceId(id)).await
    }

    async fn status(&self, id: &InstanceId) -> Result<Instance, ProviderError> {
        let w: InstanceWire = self
            .engine
            .json(Call::get("status", format!("/instances/{}", id.0)))
            .await?;
        Ok(map::instance(self.engine.provider_id(), &w))
    }

    async fn release(&self, id: &InstanceId) -> Result<(), ProviderError> {
        let body = Action {
            id: vec![id.0.as_str()],
            action: "delete",
        };
        self.engine
            .send(Call::put("delete", "/instances", &body)?)
            .await
    }

    async fn list_instances(&self) -> Result<Vec<Instance>, ProviderError> {
        let list: Vec<InstanceWire> = self
            .engine
            .json(Call::get("list_instances", "/instances"))
            .await?;
        Ok(list
            .iter()
            .map(|w| map::instance(self.engine.provider_id(), w))
            .collect())
    }
}
