//! OVHcloud Public Cloud (`ovhcloud`), through the OVHcloud API v1
//! (<https://eu.api.ovh.com/console/>, base `https://eu.api.ovh.com/1.0`).
//!
//! - Offers: `GET /order/catalog/public/cloud?ovhSubsidiary=<IE>` (addons: plan code,
//!   hourly price in **micro-cents** of the subsidiary's currency, `blobs.technical.gpu`
//!   `{model, number, memory.size}`) joined with `GET /cloud/project/{serviceName}/flavor`
//!   (one flavor per region, `planCodes.hourly` naming the addon). One offer per GPU flavor
//!   and region; EUR converted with the configured USD/EUR rate; no unit count (one unit,
//!   unless the flavor says `available: false`).
//! - Provision: the flavor id (`GET .../flavor?region=`) and image id
//!   (`GET .../image?osType=linux&region=`, by name), then
//!   `POST /cloud/project/{serviceName}/instance {name, flavorId, imageId, region}` with the
//!   allocation id in the instance **name** (`ownership::instance_name`: `gpubroker-<id>`); status `GET .../instance/{id}`; list
//!   `GET .../instance`; release `DELETE .../instance/{id}`. A 409 on create is taken as
//!   no capacity.
//! - Auth: OVH's application signature (`X-Ovh-Application`, `X-Ovh-Consumer`,
//!   `X-Ovh-Timestamp`, `X-Ovh-Signature`), computed by the engine from the credential
//!   `application_key:application_secret:consumer_key` and the injected clock (OVH refuses
//!   timestamps far from its own; keep the host clock in sync). Errors `{"class",
//!   "message"}`, read by `map::classify`.
//! - Verified against samples: the catalogue addon envelope and micro-cent prices, the
//!   flavor `region`/`planCodes.hourly` join. The GPU blob fields, the flavor `id`/`name`,
//!   the image and instance shapes and status names rest on OVH's API documentation.

mod map;
mod wire;

use std::time::Duration;

use async_trait::async_trait;

use crate::http::{
    AuthScheme, Call, Conflict, Descriptor, Engine, EngineConfig, EngineError, DEFAULT_RETRYABLE,
};
use crate::{
    ownership, Capabilities, Instance, InstanceId, InstanceState, MicroUsd, Offer, Provider,
    ProviderError, ProviderId, ProvisionRequest,
};
use wire::{Catalog, CreateInstance, Flavor, Image, InstanceWire};

/// OVHcloud's API as the engine sees it.
pub fn descriptor() -> Descriptor {
    Descriptor {
        id: "ovhcloud",
        display_name: "OVHcloud",
        base_url: "https://eu.api.ovh.com/1.0",
        auth: AuthScheme::OvhSignature,
        quota_per_minute: 60,
        burst: 5,
        timeout: Duration::from_secs(30),
        retryable_statuses: DEFAULT_RETRYABLE,
        classify_error: Some(map::classify),
    }
}

/// Settings of the OVHcloud adapter beyond the engine's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OvhSettings {
    /// The Public Cloud project (`serviceName`).
    pub service_name: String,
    /// The catalogue subsidiary (`IE` prices in EUR).
    pub subsidiary: String,
    /// The image every instance boots, by name.
    pub image: String,
    /// A registered SSH key id, if instances should get one.
    pub ssh_key_id: Option<String>,
    /// USD per EUR, to convert the catalogue's EUR prices. An operator setting.
    pub usd_per_eur: MicroUsd,
}

impl Default for OvhSettings {
    fn default() -> Self {
        Self {
            service_name: String::new(),
            subsidiary: "IE".to_string(),
            image: "Ubuntu 22.04".to_string(),
            ssh_key_id: None,
            usd_per_eur: MicroUsd(1_080_000),
        }
    }
}

/// The OVHcloud adapter.
#[derive(Debug)]
pub struct OvhCloud {
    engine: Engine,
    settings: OvhSettings,
}

impl OvhCloud {
    pub fn new(config: EngineConfig, settings: OvhSettings) -> Result<Self, EngineError> {
        Ok(Self {
            engine: Engine::new(descriptor(), config)?,
            settings,
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    fn project(&self) -> String {
        format!("/cloud/project/{}", self.settings.service_name)
    }

    async fn flavors(&self, region: Option<&str>) -> Result<Vec<Flavor>, ProviderError> {
        let path = match region {
            Some(r) => format!("{}/flavor?region={r}", self.project()),
            None => format!("{}/flavor", self.project()),
        };
        self.engine.json(Call::get("flavors", path)).await
    }

    async fn fetch_offers(&self) -> Result<Vec<Offer>, ProviderError> {
        let catalog: Catalog = self
            .engine
            .json(Call::get(
                "list_offers",
                format!(
                    "/order/catalog/public/cloud?ovhSubsidiary={}",
                    self.settings.subsidiary
                ),
            ))
            .await?;
        let flavors = self.flavors(None).await?;
        let mapped = map::offers(
            self.engine.provider_id(),
            &catalog,
            &flavors,
            self.settings.usd_per_eur,
            self.engine.now(),
        );
        self.engine.count_skipped(&mapped.unknown_gpus);
        Ok(mapped.offers)
    }
}

#[async_trait]
impl Provider for OvhCloud {
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
        let (flavor_name, region) =
            map::parse_offer_id(&req.offer_id).ok_or(ProviderError::NotFound)?;
        let flavor_id = self
            .flavors(Some(region))
            .await?
            .into_iter()
            .find(|f| f.name.as_deref() == Some(flavor_name) && f.region == region)
            .and_then(|f| f.id)
            .ok_or(ProviderError::NotFound)?;
        let images: Vec<Image> = self
            .engine
            .json(Call::get(
                "images",
                format!("{}/image?osType=linux&region={region}", self.project()),
            ))
            .await?;
        let image = images
            .iter()
            .find(|i| i.name == self.settings.image)
            .ok_or(ProviderError::NotFound)?;
        let body = CreateInstance {
            name: ownership::instance_name(&req.allocation_id, 64),
            flavor_id: &flavor_id,
            image_id: &image.id,
            region,
            ssh_key_id: self.settings.ssh_key_id.as_deref(),
        };
        let created: InstanceWire = self
            .engine
            .json(
                Call::post("create", format!("{}/instance", self.project()), &body)?
                    .on_conflict(Conflict::NoCapacity),
            )
            .await?;
        map::instance(self.engine.provider_id(), &created)
    }

    async fn status(&self, id: &InstanceId) -> Result<Instance, ProviderError> {
        let w: InstanceWire = self
            .engine
            .json(Call::get(
                "status",
                format!("{}/instance/{}", self.project(), id.0),
            ))
            .await?;
        map::instance(self.engine.provider_id(), &w)
    }

    async fn release(&self, id: &InstanceId) -> Result<(), ProviderError> {
        self.engine
            .send(Call::delete(
                "release",
                format!("{}/instance/{}", self.project(), id.0),
            ))
            .await
    }

    async fn list_instances(&self) -> Result<Vec<Instance>, ProviderError> {
        let list: Vec<InstanceWire> = self
            .engine
            .json(Call::get(
                "list_instances",
                format!("{}/instance", self.project()),
            ))
            .await?;
        list.iter()
            .map(|w| map::instance(self.engine.provider_id(), w))
            .collect()
    }
}
