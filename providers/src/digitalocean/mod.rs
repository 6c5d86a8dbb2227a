//! DigitalOcean GPU Droplets (`do`), through the public API v2
//! (<https://docs.digitalocean.com/reference/api/>, base `https://api.digitalocean.com/v2`).
//!
//! - Offers: `GET /sizes?per_page=200` (pages followed through `links.pages.next`) — the
//!   sizes with `gpu_info`; price in USD per droplet-hour (`price_hourly`), `memory` in MB,
//!   `gpu_info.vram` the total over all GPUs; one offer per size and region listed in
//!   `regions` (empty = unavailable).
//! - Provision: `POST /droplets` with the tags `gpubroker` and `gpubroker-alloc:<allocation
//!   id>` (the way back from a droplet to its allocation), the size's GPU base image and the
//!   user's SSH key as cloud-init `user_data`; find `GET /droplets?tag_name=<allocation tag>`;
//!   status `GET /droplets/{id}` (`new|active|off|archive`); list
//!   `GET /droplets?tag_name=gpubroker`; release `DELETE /droplets/{id}` (a destroyed
//!   droplet is then 404).
//! - Auth: `Authorization: Bearer <token>`. Errors: `{"id", "message"}`, read by
//!   `map::classify`; 422 on create = no capacity.
//! - Rate limit: 5,000 requests/hour and 250/minute per token (docs); quota 80/min.

mod map;
mod wire;

use std::time::Duration;

use async_trait::async_trait;

use crate::http::{
    AuthScheme, Call, Descriptor, Engine, EngineConfig, EngineError, DEFAULT_RETRYABLE,
};
use crate::{
    Capabilities, Instance, InstanceId, InstanceState, Offer, Provider, ProviderError, ProviderId,
    ProvisionRequest,
};
use wire::{CreateDroplet, DropletEnvelope, Droplets, Size, Sizes};

/// Most pages of one listing the adapter follows (a guard against a looping `next`).
const MAX_PAGES: usize = 20;

/// DigitalOcean's API as the engine sees it.
pub fn descriptor() -> Descriptor {
    Descriptor {
        id: "do",
        display_name: "DigitalOcean",
        base_url: "https://api.digitalocean.com/v2",
        auth: AuthScheme::Bearer,
        quota_per_minute: 80,
        burst: 10,
        timeout: Duration::from_secs(30),
        retryable_statuses: DEFAULT_RETRYABLE,
        classify_error: Some(map::classify),
    }
}

/// Settings of the DigitalOcean adapter beyond the engine's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DigitalOceanSettings {
    /// Registered SSH key ids or fingerprints every droplet gets (besides the request's key,
    /// which goes in as cloud-init).
    pub ssh_key_ids: Vec<String>,
}

/// The DigitalOcean adapter.
#[derive(Debug)]
pub struct DigitalOcean {
    engine: Engine,
    settings: DigitalOceanSettings,
}

impl DigitalOcean {
    pub fn new(config: EngineConfig, settings: DigitalOceanSettings) -> Result<Self, EngineError> {
        Ok(Self {
            engine: Engine::new(descriptor(), config)?,
            settings,
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    async fn fetch_offers(&self) -> Result<Vec<Offer>, ProviderError> {
        let mut sizes: Vec<Size> = Vec::new();
        let mut path = Some("/sizes?per_page=200".to_string());
        for _ in 0..MAX_PAGES {
            let Some(p) = path.take() else { break };
            let page: Sizes = self.engine.json(Call::get("list_offers", p)).await?;
            sizes.extend(page.sizes);
            path = map::next_page(page.links.pages.and_then(|p| p.next).as_deref());
        }
        let mapped = map::offers(self.engine.provider_id(), &sizes, self.engine.now());
        self.engine.count_skipped(&mapped.unknown_gpus);
        Ok(mapped.offers)
    }

    /// Droplets carrying `tag`, every page.
    async fn droplets(&self, tag: &str) -> Result<Vec<Instance>, ProviderError> {
        let mut out = Vec::new();
        let mut path = Some(format!("/droplets?tag_name={tag}&per_page=200"));
        for _ in 0..MAX_PAGES {
            let Some(p) = path.take() else { break };
            let page: Droplets = self.engine.json(Call::get("list_instances", p)).await?;
            for d in &page.droplets {
                out.push(map::instance(self.engine.provider_id(), d)?);
            }
            path = map::next_page(page.links.pages.and_then(|p| p.next).as_deref());
        }
        Ok(out)
    }
}

/// An allocation id that cannot travel as a DigitalOcean tag.
fn untaggable(allocation_id: &str) -> ProviderError {
    ProviderError::InvalidResponse(format!(
        "allocation id `{allocation_id}` cannot be carried in a DigitalOcean tag"
    ))
}

#[async_trait]
impl Provider for DigitalOcean {
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
        let tag = map::allocation_tag(&req.allocation_id)
            .ok_or_else(|| untaggable(&req.allocation_id))?;
        let (size, region) = map::parse_offer_id(&req.offer_id).ok_or(ProviderError::NotFound)?;
        let body = CreateDroplet {
            name: map::droplet_name(&req.allocation_id),
            region,
            size,
            image: map::gpu_image(size),
            ssh_keys: self
                .settings
                .ssh_key_ids
                .iter()
                .map(String::as_str)
                .collect(),
            user_data: map::user_data(req.ssh_public_key.as_deref()),
            tags: vec![map::BROKER_TAG.to_string(), tag],
        };
        let created: DropletEnvelope = self
            .engine
            .json(Call::post("create", "/droplets", &body)?)
            .await?;
        map::instance(self.engine.provider_id(), &created.droplet)
    }

    async fn status(&self, id: &InstanceId) -> Result<Instance, ProviderError> {
        let d: DropletEnvelope = self
            .engine
            .json(Call::get("status", format!("/droplets/{}", id.0)))
            .await?;
        map::instance(self.engine.provider_id(), &d.droplet)
    }

    async fn release(&self, id: &InstanceId) -> Result<(), ProviderError> {
        self.engine
            .send(Call::delete("delete", format!("/droplets/{}", id.0)))
            .await
    }

    async fn list_instances(&self) -> Result<Vec<Instance>, ProviderError> {
        self.droplets(map::BROKER_TAG).await
    }

    async fn find_by_allocation(
        &self,
        allocation_id: &str,
    ) -> Result<Option<Instance>, ProviderError> {
        let Some(tag) = map::allocation_tag(allocation_id) else {
            return Ok(None);
        };
        Ok(self
            .droplets(&tag)
            .await?
            .into_iter()
            .find(|i| i.allocation_id == allocation_id))
    }
}
