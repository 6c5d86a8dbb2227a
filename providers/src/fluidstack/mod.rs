//! FluidStack (`fluidstack`), through its platform API as documented
//! (base `https://platform.fluidstack.io`; see `/work/shared/PROVIDERS.md` §8: SkyPilot's
//! FluidStack provisioner and catalog fetcher). **Documentation only**: no recorded response
//! exists; the fixtures are constructed from the documented shapes.
//!
//! - Offers: `GET /list_available_configurations` — per GPU type (`H100_SXM5_80GB`) a
//!   `price_per_gpu_hr` (USD per GPU-hour), the `gpu_counts` an instance can have and the
//!   `regions`; one offer per type, count and region at price × count.
//! - Provision: `POST /instances` (`gpu_type`, `gpu_count`, `region`,
//!   `operating_system_label`, `name` = `gpubroker-<allocation id>`, `ssh_key` = a registered
//!   key name from the settings) → `{"id"}`; status and list from `GET /instances` (the
//!   documented way; ours by name); release `DELETE /instances/{id}`.
//! - Auth: `api-key: <key>`. Errors: `{"detail": ...}` read as free text (`out of stock` →
//!   no capacity).
//! - Rate limit: not documented; quota 60/min.

mod map;
mod wire;

use std::time::Duration;

use async_trait::async_trait;

use crate::http::{
    AuthScheme, Call, Descriptor, Engine, EngineConfig, EngineError, DEFAULT_RETRYABLE,
};
use crate::{
    ownership, Capabilities, Instance, InstanceId, InstanceState, Offer, Provider, ProviderError,
    ProviderId, ProvisionRequest,
};
use wire::{Configuration, Create, Created, InstanceWire};

/// FluidStack's API as the engine sees it.
pub fn descriptor() -> Descriptor {
    Descriptor {
        id: "fluidstack",
        display_name: "FluidStack",
        base_url: "https://platform.fluidstack.io",
        auth: AuthScheme::Header("api-key"),
        quota_per_minute: 60,
        burst: 5,
        timeout: Duration::from_secs(30),
        retryable_statuses: DEFAULT_RETRYABLE,
        classify_error: Some(map::classify),
    }
}

/// Settings of the FluidStack adapter beyond the engine's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FluidStackSettings {
    /// The registered SSH key every instance gets (FluidStack takes a key name).
    pub ssh_key_name: String,
    pub operating_system_label: String,
}

impl Default for FluidStackSettings {
    fn default() -> Self {
        Self {
            ssh_key_name: "gpubroker".to_string(),
            operating_system_label: "ubuntu_22_04_lts_nvidia".to_string(),
        }
    }
}

/// The FluidStack adapter.
#[derive(Debug)]
pub struct FluidStack {
    engine: Engine,
    settings: FluidStackSettings,
}

impl FluidStack {
    pub fn new(config: EngineConfig, settings: FluidStackSettings) -> Result<Self, EngineError> {
        Ok(Self {
            engine: Engine::new(descriptor(), config)?,
            settings,
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    async fn fetch_offers(&self) -> Result<Vec<Offer>, ProviderError> {
        let configs: Vec<Configuration> = self
            .engine
            .json(Call::get("list_offers", "/list_available_configurations"))
            .await?;
        let mapped = map::offers(self.engine.provider_id(), &configs, self.engine.now());
        self.engine.count_skipped(&mapped.unknown_gpus);
        Ok(mapped.offers)
    }

    /// Every instance of the account, ours or not.
    async fn all(&self, op: &'static str) -> Result<Vec<Instance>, ProviderError> {
        let list: Vec<InstanceWire> = self.engine.json(Call::get(op, "/instances")).await?;
        Ok(list
            .iter()
            .map(|w| map::instance(self.engine.provider_id(), w))
            .collect())
    }
}

#[async_trait]
impl Provider for FluidStack {
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
        let (count, gpu_type, region) =
            map::parse_offer_id(&req.offer_id).ok_or(ProviderError::NotFound)?;
        let body = Create {
            gpu_type,
            gpu_count: count,
            region,
            operating_system_label: &self.settings.operating_system_label,
            name: ownership::instance_name(&req.allocation_id, 63),
            ssh_key: &self.settings.ssh_key_name,
        };
        let created: Created = self
            .engine
            .json(Call::post("create", "/instances", &body)?)
            .await?;
        self.status(&InstanceId(created.id)).await
    }

    async fn status(&self, id: &InstanceId) -> Result<Instance, ProviderError> {
        self.all("status")
            .await?
            .into_iter()
            .find(|i| i.id == *id)
            .ok_or(ProviderError::NotFound)
    }

    async fn release(&self, id: &InstanceId) -> Result<(), ProviderError> {
        self.engine
            .send(Call::delete("delete", format!("/instances/{}", id.0)))
            .await
    }

    async fn list_instances(&self) -> Result<Vec<Instance>, ProviderError> {
        Ok(self
            .all("list_instances")
            .await?
            .into_iter()
            .filter(|i| !i.allocation_id.is_empty())
            .collect())
    }
}
