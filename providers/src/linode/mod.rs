//! Akamai Cloud / Linode (`linode`), through the public API v4
//! (<https://techdocs.akamai.com/linode-api/reference/api>, base `https://api.linode.com/v4`).
//!
//! - Offers: `GET /linode/types` (pages `page`/`pages`; the `class: gpu` types: `gpus`,
//!   `memory`/`disk` in MB, `price.hourly` and per-region `region_prices`, USD per
//!   instance-hour) joined with `GET /regions/availability` (`region`, `plan`, `available`).
//!   The GPU is read from the label (`Dedicated 32GB + RTX6000 GPU x1`); `g1-gpu-*` types are
//!   Quadro RTX 6000 (Linode's GPU plan documentation).
//! - Provision: `POST /linode/instances` with the label `gpubroker-<allocation id>` (Linode
//!   tags allow 50 characters, too few for a UUID, so the label carries it; the tag
//!   `gpubroker` marks every instance), a random root password that is never kept, and the
//!   user's SSH key in `authorized_keys`; status `GET /linode/instances/{id}`; list
//!   `GET /linode/instances` (ours by label); release `DELETE /linode/instances/{id}`.
//! - Auth: `Authorization: Bearer <personal access token>`. Errors: `{"errors": [{"reason":
//!   ...}]}`, read as free text by `map::classify`.
//! - Rate limit: per-token limits per endpoint class (docs); quota 200/min.
//!
//! Verified against real samples: `/linode/types` (recorded cassette, incl. the GPU types),
//! `/regions/availability` and `/linode/instances/{id}` (SDK unit fixtures). From
//! documentation only: the create body, the status names beyond `running`, the error body.

mod map;
mod wire;

use std::time::Duration;

use async_trait::async_trait;
use rand::distributions::{Alphanumeric, DistString};

use crate::http::{
    AuthScheme, Call, Descriptor, Engine, EngineConfig, EngineError, DEFAULT_RETRYABLE,
};
use crate::{
    ownership, Capabilities, Instance, InstanceId, InstanceState, Offer, Provider, ProviderError,
    ProviderId, ProvisionRequest,
};
use wire::{Availability, Create, Linode, LinodeType, Page};

/// Most pages of one listing the adapter follows.
const MAX_PAGES: u32 = 20;

/// Linode's API as the engine sees it.
pub fn descriptor() -> Descriptor {
    Descriptor {
        id: "linode",
        display_name: "Akamai Cloud (Linode)",
        base_url: "https://api.linode.com/v4",
        auth: AuthScheme::Bearer,
        quota_per_minute: 200,
        burst: 10,
        timeout: Duration::from_secs(30),
        retryable_statuses: DEFAULT_RETRYABLE,
        classify_error: Some(map::classify),
    }
}

/// Settings of the Linode adapter beyond the engine's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinodeSettings {
    /// The image every instance boots.
    pub image: String,
}

impl Default for LinodeSettings {
    fn default() -> Self {
        Self {
            image: "linode/ubuntu22.04".to_string(),
        }
    }
}

/// The Linode adapter.
#[derive(Debug)]
pub struct LinodeCloud {
    engine: Engine,
    settings: LinodeSettings,
}

impl LinodeCloud {
    pub fn new(config: EngineConfig, settings: LinodeSettings) -> Result<Self, EngineError> {
        Ok(Self {
            engine: Engine::new(descriptor(), config)?,
            settings,
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Every page of a list.
    async fn all<T: serde::de::DeserializeOwned>(
        &self,
        op: &'static str,
        path: &str,
    ) -> Result<Vec<T>, ProviderError> {
        let mut out = Vec::new();
        for page in 1..=MAX_PAGES {
            let p: Page<T> = self
                .engine
                .json(Call::get(op, format!("{path}?page={page}&page_size=500")))
                .await?;
            out.extend(p.data);
            if p.page >= p.pages {
                break;
            }
        }
        Ok(out)
    }

    async fn fetch_offers(&self) -> Result<Vec<Offer>, ProviderError> {
        let types: Vec<LinodeType> = self.all("list_offers", "/linode/types").await?;
        let availability: Vec<Availability> =
            self.all("list_offers", "/regions/availability").await?;
        let mapped = map::offers(
            self.engine.provider_id(),
            &types,
            &availability,
            self.engine.now(),
        );
        self.engine.count_skipped(&mapped.unknown_gpus);
        Ok(mapped.offers)
    }
}

#[async_trait]
impl Provider for LinodeCloud {
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
        let (kind, region) = map::parse_offer_id(&req.offer_id).ok_or(ProviderError::NotFound)?;
        let body = Create {
            kind,
            region,
            image: &self.settings.image,
            label: ownership::instance_name(&req.allocation_id, 64),
            tags: vec![ownership::BROKER_TAG],
            // Required with an image; never stored or logged (SSH keys are the way in).
            root_pass: Alphanumeric.sample_string(&mut rand::thread_rng(), 40),
            authorized_keys: req.ssh_public_key.as_deref().into_iter().collect(),
        };
        let created: Linode = self
            .engine
            .json(Call::post("create", "/linode/instances", &body)?)
            .await?;
        map::instance(self.engine.provider_id(), &created)
    }

    async fn status(&self, id: &InstanceId) -> Result<Instance, ProviderError> {
        let l: Linode = self
            .engine
            .json(Call::get("status", format!("/linode/instances/{}", id.0)))
            .await?;
        map::instance(self.engine.provider_id(), &l)
    }

    async fn release(&self, id: &InstanceId) -> Result<(), ProviderError> {
        self.engine
            .send(Call::delete(
                "delete",
                format!("/linode/instances/{}", id.0),
            ))
            .await
    }

    async fn list_instances(&self) -> Result<Vec<Instance>, ProviderError> {
        let all: Vec<Linode> = self.all("list_instances", "/linode/instances").await?;
        let mut out = Vec::new();
        for l in &all {
            let i = map::instance(self.engine.provider_id(), l)?;
            if !i.allocation_id.is_empty() {
                out.push(i);
            }
        }
        Ok(out)
    }
}
