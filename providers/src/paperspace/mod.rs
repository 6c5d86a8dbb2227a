//! Paperspace (`paperspace`, now part of DigitalOcean), through the public API v1
//! (`https://api.paperspace.com/v1`, `Authorization: Bearer <api key>`). **This adapter
//! rests on Paperspace's documentation only: no recorded sample of this API exists**; its
//! fixtures are constructed from the documented shapes (see `providers/fixtures/SOURCES.md`).
//!
//! - Offers: Paperspace publishes no price or availability API, so offers come from the
//!   dated catalogue in [`catalog`] (`source = catalog`, `as_of` = the catalogue's date);
//!   listing makes no request.
//! - Provision: `POST /machines {name, machineType, region, diskSize, templateId,
//!   publicIpType: "dynamic", startOnCreate: true}` with the allocation id in the machine
//!   **name** (`ownership::instance_name`: `gpubroker-<id>`) (answer `{"data": machine}`); find by listing `GET /machines` (pages of
//!   `items` through `hasMore`/`nextPage` → `after=`); status `GET /machines/{id}`; release
//!   `DELETE /machines/{id}`. Machine states per the docs: `provisioning, starting,
//!   serviceready, ready, stopping, off, restarting, upgrading`.
//! - No documented error codes: statuses map through the engine (a 409 on create is taken as
//!   no capacity). 429 on rate limit.

pub mod catalog;
mod map;
mod wire;

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::http::{
    AuthScheme, Call, Conflict, Descriptor, Engine, EngineConfig, EngineError, DEFAULT_RETRYABLE,
};
use crate::{
    ownership, Capabilities, Instance, InstanceId, InstanceState, Offer, Provider, ProviderError,
    ProviderId, ProvisionRequest,
};
use wire::{CreateMachine, Envelope, Machine, MachinePage};

/// Most machine-list pages one search follows.
const MAX_PAGES: usize = 20;

/// Paperspace's API as the engine sees it.
pub fn descriptor() -> Descriptor {
    Descriptor {
        id: "paperspace",
        display_name: "Paperspace",
        base_url: "https://api.paperspace.com/v1",
        auth: AuthScheme::Bearer,
        quota_per_minute: 60,
        burst: 5,
        timeout: Duration::from_secs(30),
        retryable_statuses: DEFAULT_RETRYABLE,
        classify_error: None,
    }
}

/// Settings of the Paperspace adapter beyond the engine's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PaperspaceSettings {
    /// The OS template every machine is made from (required to provision).
    pub template_id: String,
}

/// The Paperspace adapter.
#[derive(Debug)]
pub struct Paperspace {
    engine: Engine,
    settings: PaperspaceSettings,
}

impl Paperspace {
    pub fn new(config: EngineConfig, settings: PaperspaceSettings) -> Result<Self, EngineError> {
        Ok(Self {
            engine: Engine::new(descriptor(), config)?,
            settings,
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    fn catalog_offers(&self) -> Vec<Offer> {
        let as_of = DateTime::<Utc>::from_timestamp(catalog::AS_OF, 0).unwrap_or_default();
        let mapped = map::offers(self.engine.provider_id(), catalog::ROWS, as_of);
        self.engine.count_skipped(&mapped.unknown_gpus);
        mapped.offers
    }

    async fn machines(&self) -> Result<Vec<Machine>, ProviderError> {
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let path = match &after {
                Some(a) => format!("/machines?limit=100&after={a}"),
                None => "/machines?limit=100".to_string(),
            };
            let page: MachinePage = self.engine.json(Call::get("list_instances", path)).await?;
            out.extend(page.items);
            match page.next_page {
                Some(next) if page.has_more && !next.is_empty() => after = Some(next),
                _ => break,
            }
        }
        Ok(out)
    }
}

#[async_trait]
impl Provider for Paperspace {
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
        self.engine
            .offers(|| async { Ok(self.catalog_offers()) })
            .await
    }

    async fn provision(&self, req: &ProvisionRequest) -> Result<Instance, ProviderError> {
        if let Some(existing) = self.find_by_allocation(&req.allocation_id).await? {
            if existing.state != InstanceState::Terminated {
                return Ok(existing);
            }
        }
        if self.settings.template_id.is_empty() {
            return Err(ProviderError::InvalidResponse(
                "no Paperspace template configured".to_string(),
            ));
        }
        let (machine_type, region) =
            map::parse_offer_id(&req.offer_id).ok_or(ProviderError::NotFound)?;
        let body = CreateMachine {
            name: ownership::instance_name(&req.allocation_id, 64),
            machine_type,
            region,
            disk_size: req.disk_gib.max(50),
            template_id: &self.settings.template_id,
            public_ip_type: "dynamic",
            start_on_create: true,
        };
        let created: Envelope = self
            .engine
            .json(Call::post("create", "/machines", &body)?.on_conflict(Conflict::NoCapacity))
            .await?;
        map::instance(self.engine.provider_id(), &created.data)
    }

    async fn status(&self, id: &InstanceId) -> Result<Instance, ProviderError> {
        let m: Machine = self
            .engine
            .json(Call::get("status", format!("/machines/{}", id.0)))
            .await?;
        map::instance(self.engine.provider_id(), &m)
    }

    async fn release(&self, id: &InstanceId) -> Result<(), ProviderError> {
        self.engine
            .send(Call::delete("release", format!("/machines/{}", id.0)))
            .await
    }

    async fn list_instances(&self) -> Result<Vec<Instance>, ProviderError> {
        self.machines()
            .await?
            .iter()
            .map(|m| map::instance(self.engine.provider_id(), m))
            .collect()
    }
}
