//! Latitude.sh bare metal (`latitude`), through its public API
//! (<https://docs.latitude.sh/reference>, base `https://api.latitude.sh`, JSON:API bodies).
//!
//! - Offers: `GET /plans?filter[gpu]=true` — per plan `specs.gpu {count, type}` and per
//!   region `pricing.USD.hour` (USD per server-hour) and `locations.in_stock` (site codes);
//!   one offer per GPU plan and site in stock.
//! - Provision: `POST /servers` (`{"data": {"type": "servers", "attributes": {project, plan,
//!   site, operating_system, hostname, billing: "hourly", ssh_keys}}}`) with the hostname
//!   `gpubroker-<allocation id>` (the way back to the allocation); status
//!   `GET /servers/{id}` (`on` = running; the status set is open, unknown = pending); list
//!   `GET /servers` (pages `page[number]`, ours by hostname); release `DELETE /servers/{id}`.
//!   SSH keys are registered key ids (settings); Latitude takes no key text.
//! - Auth: `Authorization: Bearer <token>`. Errors: JSON:API `{"errors": [{status, title,
//!   detail}]}`; `423 locked` (recorded) is transient, the rest read as free text.
//! - Rate limit: 800 GET and 120 write requests per minute per key (docs); quota 120/min.
//!
//! Verified against real samples (go-vcr cassettes of latitudesh-go): `/plans` (GPU plans,
//! regions, stock, USD pricing), `POST /servers` request and 201 answer, `GET /servers/{id}`,
//! the 423 locked error. From documentation only: `billing`, the list pagination, status
//! names beyond `on`/`starting_deploy`, the SSH user (`ubuntu`).

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
use wire::{Create, CreateAttributes, CreateData, Document, Plan, Server};

/// Most pages of the server list the adapter follows.
const MAX_PAGES: u32 = 20;
/// Servers per page.
const PAGE_SIZE: usize = 100;

/// Latitude.sh's API as the engine sees it.
pub fn descriptor() -> Descriptor {
    Descriptor {
        id: "latitude",
        display_name: "Latitude.sh",
        base_url: "https://api.latitude.sh",
        auth: AuthScheme::Bearer,
        quota_per_minute: 120,
        burst: 5,
        timeout: Duration::from_secs(30),
        retryable_statuses: DEFAULT_RETRYABLE,
        classify_error: Some(map::classify),
    }
}

/// Settings of the Latitude.sh adapter beyond the engine's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LatitudeSettings {
    /// The project servers are created in (must bill hourly).
    pub project: String,
    pub operating_system: String,
    /// Registered SSH key ids every server gets.
    pub ssh_key_ids: Vec<String>,
}

impl Default for LatitudeSettings {
    fn default() -> Self {
        Self {
            project: "gpubroker".to_string(),
            operating_system: "ubuntu_22_04_x64_lts".to_string(),
            ssh_key_ids: Vec::new(),
        }
    }
}

/// The Latitude.sh adapter.
#[derive(Debug)]
pub struct Latitude {
    engine: Engine,
    settings: LatitudeSettings,
}

impl Latitude {
    pub fn new(config: EngineConfig, settings: LatitudeSettings) -> Result<Self, EngineError> {
        Ok(Self {
            engine: Engine::new(descriptor(), config)?,
            settings,
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    async fn fetch_offers(&self) -> Result<Vec<Offer>, ProviderError> {
        let plans: Document<Vec<Plan>> = self
            .engine
            .json(Call::get("list_offers", "/plans?filter[gpu]=true"))
            .await?;
        let mapped = map::offers(self.engine.provider_id(), &plans.data, self.engine.now());
        self.engine.count_skipped(&mapped.unknown_gpus);
        Ok(mapped.offers)
    }
}

#[async_trait]
impl Provider for Latitude {
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
        let (plan, site) = map::parse_offer_id(&req.offer_id).ok_or(ProviderError::NotFound)?;
        let body = Create {
            data: CreateData {
                kind: "servers",
                attributes: CreateAttributes {
                    project: &self.settings.project,
                    plan,
                    site,
                    operating_system: &self.settings.operating_system,
                    hostname: ownership::instance_name(&req.allocation_id, 63),
                    billing: "hourly",
                    ssh_keys: self
                        .settings
                        .ssh_key_ids
                        .iter()
                        .map(String::as_str)
                        .collect(),
                },
            },
        };
        let created: Document<Server> = self
            .engine
            .json(Call::post("create", "/servers", &body)?)
            .await?;
        Ok(map::instance(self.engine.provider_id(), &created.data))
    }

    async fn status(&self, id: &InstanceId) -> Result<Instance, ProviderError> {
        let s: Document<Server> = self
            .engine
            .json(Call::get("status", format!("/servers/{}", id.0)))
            .await?;
        Ok(map::instance(self.engine.provider_id(), &s.data))
    }

    async fn release(&self, id: &InstanceId) -> Result<(), ProviderError> {
        self.engine
            .send(Call::delete("delete", format!("/servers/{}", id.0)))
            .await
    }

    async fn list_instances(&self) -> Result<Vec<Instance>, ProviderError> {
        let mut out = Vec::new();
        for page in 1..=MAX_PAGES {
            let path = format!("/servers?page[size]={PAGE_SIZE}&page[number]={page}");
            let list: Document<Vec<Server>> =
                self.engine.json(Call::get("list_instances", path)).await?;
            let n = list.data.len();
            out.extend(
                list.data
                    .iter()
                    .map(|s| map::instance(self.engine.provider_id(), s))
                    .filter(|i| !i.allocation_id.is_empty()),
            );
            if n < PAGE_SIZE {
                break;
            }
        }
        Ok(out)
    }
}
