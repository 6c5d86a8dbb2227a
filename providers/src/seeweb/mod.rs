//! Seeweb (`seeweb`, Italy), through the ECS API v2 (base `https://api.seeweb.it/ecs/v2`;
//! field names from Seeweb's own Go client `Seeweb/cloudserver-go-client` and the recorded
//! `/plans` shape).
//!
//! - Offers: `GET /plans` — one offer per plan with GPUs (`gpu` > 0, `available`) and
//!   location of `available_regions`; `gpu_label` (`L40s 48GB`) names the GPU;
//!   `hourly_price` is **EUR** per server-hour, converted with the configured USD/EUR rate;
//!   `ram` is MiB, numbers are strings. No capacity signal: a listed location is one unit.
//! - Provision: `POST /servers {plan, location, image, notes, ssh_key?}` with the
//!   allocation id in `notes` (the `ownership` tag `gpubroker-alloc:<allocation id>`); Seeweb names the server
//!   (`ec200016`), which is the instance id. A 409 on create is no capacity. Status
//!   `GET /servers/{name}`; list `GET /servers` (`{"server": [...]}`); release
//!   `DELETE /servers/{name}`.
//! - Auth: `X-APITOKEN: <token>`. Error bodies are not read (no documented error codes);
//!   statuses map through the engine.
//! - Server statuses (`Booting`, `Booted`, `Running`, `Deleting`, `Off`...) follow the
//!   ECS docs and SDKs; no recorded server sample exists, so they rest on documentation.

mod map;
mod wire;

use std::time::Duration;

use async_trait::async_trait;

use crate::http::{
    AuthScheme, Call, Conflict, Descriptor, Engine, EngineConfig, EngineError, DEFAULT_RETRYABLE,
};
use crate::{
    Capabilities, Instance, InstanceId, InstanceState, MicroUsd, Offer, Provider, ProviderError,
    ProviderId, ProvisionRequest,
};
use wire::{CreateServer, Created, Plans, ServerEnvelope, ServerList};

/// Seeweb's ECS API as the engine sees it.
pub fn descriptor() -> Descriptor {
    Descriptor {
        id: "seeweb",
        display_name: "Seeweb",
        base_url: "https://api.seeweb.it/ecs/v2",
        auth: AuthScheme::Header("X-APITOKEN"),
        quota_per_minute: 60,
        burst: 5,
        timeout: Duration::from_secs(30),
        retryable_statuses: DEFAULT_RETRYABLE,
        classify_error: None,
    }
}

/// Settings of the Seeweb adapter beyond the engine's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeewebSettings {
    /// The image every server boots (an ECS image name).
    pub image: String,
    /// A registered SSH key label, if servers should get one.
    pub ssh_key: Option<String>,
    /// USD per EUR, to convert Seeweb's EUR prices. An operator setting: keep it current.
    pub usd_per_eur: MicroUsd,
}

impl Default for SeewebSettings {
    fn default() -> Self {
        Self {
            image: "ubuntu-2204".to_string(),
            ssh_key: None,
            usd_per_eur: MicroUsd(1_080_000),
        }
    }
}

/// The Seeweb adapter.
#[derive(Debug)]
pub struct Seeweb {
    engine: Engine,
    settings: SeewebSettings,
}

impl Seeweb {
    pub fn new(config: EngineConfig, settings: SeewebSettings) -> Result<Self, EngineError> {
        Ok(Self {
            engine: Engine::new(descriptor(), config)?,
            settings,
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    async fn fetch_offers(&self) -> Result<Vec<Offer>, ProviderError> {
        let plans: Plans = self.engine.json(Call::get("list_offers", "/plans")).await?;
        let mapped = map::offers(
            self.engine.provider_id(),
            &plans.plans,
            self.settings.usd_per_eur,
            self.engine.now(),
        );
        self.engine.count_skipped(&mapped.unknown_gpus);
        Ok(mapped.offers)
    }
}

#[async_trait]
impl Provider for Seeweb {
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
        let (plan, location) = map::parse_offer_id(&req.offer_id).ok_or(ProviderError::NotFound)?;
        let body = CreateServer {
            plan,
            location,
            image: &self.settings.image,
            notes: map::notes(&req.allocation_id).ok_or_else(|| {
                ProviderError::InvalidResponse(format!(
                    "allocation id `{}` cannot be carried in Seeweb notes",
                    req.allocation_id
                ))
            })?,
            ssh_key: self.settings.ssh_key.as_deref(),
        };
        let created: Created = self
            .engine
            .json(Call::post("create", "/servers", &body)?.on_conflict(Conflict::NoCapacity))
            .await?;
        map::instance(self.engine.provider_id(), &created.server)
    }

    async fn status(&self, id: &InstanceId) -> Result<Instance, ProviderError> {
        let s: ServerEnvelope = self
            .engine
            .json(Call::get("status", format!("/servers/{}", id.0)))
            .await?;
        map::instance(self.engine.provider_id(), &s.server)
    }

    async fn release(&self, id: &InstanceId) -> Result<(), ProviderError> {
        self.engine
            .send(Call::delete("release", format!("/servers/{}", id.0)))
            .await
    }

    async fn list_instances(&self) -> Result<Vec<Instance>, ProviderError> {
        let list: ServerList = self
            .engine
            .json(Call::get("list_instances", "/servers"))
            .await?;
        list.server
            .iter()
            .map(|s| map::instance(self.engine.provider_id(), s))
            .collect()
    }
}
