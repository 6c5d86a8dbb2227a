//! TensorDock (`tensordock`), through its API v2
//! (<https://dashboard.tensordock.com/api/docs>, base `https://dashboard.tensordock.com/api/v2`).
//!
//! - Offers: `GET /locations` (per location: GPUs by `v0Name`, `price_per_hr` per GPU-hour,
//!   `max_count`, resource limits and per-vCPU / per-GB-RAM / per-GB-disk hourly rates) and
//!   `GET /hostnodes` (free GPUs per host, `availableCount`). TensorDock sells resources
//!   separately, so an offer is GPUs plus the shape of [`TensorDockSettings`] priced at the
//!   location's rates; counts 1, 2, 4, 8 up to `max_count`.
//! - Provision: `POST /instances` (`{"data": {"type": "virtualmachine", "attributes":
//!   {...}}}`) at the offer's `location_id`, with a dedicated IP, the user's SSH key, and the
//!   name `gpubroker-<allocation id>` (the way back from an instance to its allocation);
//!   status `GET /instances/{id}`; list `GET /instances` (only `gpubroker-` names are ours);
//!   release `DELETE /instances/{id}`.
//! - Auth: `Authorization: Bearer <token>`. Errors: `{"error": "...", "status": 400}`, also
//!   with HTTP 200 on create (`Hostnode unavailable` → no capacity), read by `map::classify`.
//! - Rate limit: 100 requests per minute per organization (docs); quota 90/min.
//!
//! Verified against real samples: the `/locations`, `/hostnodes` and `/instances/{id}`
//! shapes and the error body (client test fixtures of terraform-provider-tensordock). From
//! documentation only: the create body, the list shape, the default SSH user (`user`).

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
use wire::{
    CreateAttributes, CreateData, CreateInstance, CreateResources, Created, Envelope, GpuCount,
    Hostnodes, InstanceItem, InstanceList, Locations,
};

/// TensorDock's API as the engine sees it.
pub fn descriptor() -> Descriptor {
    Descriptor {
        id: "tensordock",
        display_name: "TensorDock",
        base_url: "https://dashboard.tensordock.com/api/v2",
        auth: AuthScheme::Bearer,
        quota_per_minute: 90,
        burst: 5,
        timeout: Duration::from_secs(30),
        retryable_statuses: DEFAULT_RETRYABLE,
        classify_error: Some(map::classify),
    }
}

/// The instance shape the adapter offers and provisions (TensorDock prices each resource).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorDockSettings {
    pub vcpus_per_gpu: u32,
    pub ram_gb_per_gpu: u32,
    /// Disk per instance; TensorDock's minimum is 100 GB.
    pub storage_gb: u32,
    /// The OS image of every instance.
    pub image: String,
}

impl Default for TensorDockSettings {
    fn default() -> Self {
        Self {
            vcpus_per_gpu: 4,
            ram_gb_per_gpu: 16,
            storage_gb: 100,
            image: "ubuntu2404".to_string(),
        }
    }
}

/// The TensorDock adapter.
#[derive(Debug)]
pub struct TensorDock {
    engine: Engine,
    settings: TensorDockSettings,
}

impl TensorDock {
    pub fn new(config: EngineConfig, settings: TensorDockSettings) -> Result<Self, EngineError> {
        Ok(Self {
            engine: Engine::new(descriptor(), config)?,
            settings,
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    async fn fetch_offers(&self) -> Result<Vec<Offer>, ProviderError> {
        let locations: Envelope<Locations> = self
            .engine
            .json(Call::get("list_offers", "/locations"))
            .await?;
        let hostnodes: Envelope<Hostnodes> = self
            .engine
            .json(Call::get("list_offers", "/hostnodes"))
            .await?;
        let mapped = map::offers(
            self.engine.provider_id(),
            &locations.data.locations,
            &hostnodes.data.hostnodes,
            &self.settings,
            self.engine.now(),
        );
        self.engine.count_skipped(&mapped.unknown_gpus);
        Ok(mapped.offers)
    }
}

#[async_trait]
impl Provider for TensorDock {
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
        let (count, v0_name, location) =
            map::parse_offer_id(&req.offer_id).ok_or(ProviderError::NotFound)?;
        // The shape priced in the listing is the shape provisioned.
        let offer = self
            .list_offers()
            .await?
            .into_iter()
            .find(|o| o.id == req.offer_id)
            .ok_or(ProviderError::NotFound)?;
        let body = CreateInstance {
            data: CreateData {
                kind: "virtualmachine",
                attributes: CreateAttributes {
                    name: ownership::instance_name(&req.allocation_id, 64),
                    kind: "virtualmachine",
                    image: &self.settings.image,
                    location_id: location,
                    resources: CreateResources {
                        vcpu_count: offer.vcpus.unwrap_or(self.settings.vcpus_per_gpu),
                        ram_gb: offer
                            .memory_gib
                            .map_or(self.settings.ram_gb_per_gpu, |m| m.round() as u32),
                        storage_gb: offer.storage_gib.unwrap_or(self.settings.storage_gb),
                        gpus: [(v0_name, GpuCount { count })].into_iter().collect(),
                    },
                    use_dedicated_ip: true,
                    ssh_key: req.ssh_public_key.as_deref(),
                },
            },
        };
        let created: Created = self
            .engine
            .json(Call::post("create", "/instances", &body)?)
            .await?;
        let id = match created {
            Created::Instance { data } => data.id,
            Created::Error(e) => {
                return Err(crate::http::message_error(
                    e.status.unwrap_or(400),
                    &e.error,
                ))
            }
        };
        self.status(&InstanceId(id)).await
    }

    async fn status(&self, id: &InstanceId) -> Result<Instance, ProviderError> {
        let item: Envelope<InstanceItem> = self
            .engine
            .json(Call::get("status", format!("/instances/{}", id.0)))
            .await?;
        map::instance(self.engine.provider_id(), &item.data)
    }

    async fn release(&self, id: &InstanceId) -> Result<(), ProviderError> {
        self.engine
            .send(Call::delete("delete", format!("/instances/{}", id.0)))
            .await
    }

    async fn list_instances(&self) -> Result<Vec<Instance>, ProviderError> {
        let list: Envelope<InstanceList> = self
            .engine
            .json(Call::get("list_instances", "/instances"))
            .await?;
        let mut out = Vec::new();
        for item in list.data.items() {
            let i = map::instance(self.engine.provider_id(), item)?;
            // Instances the broker did not make are not its to reconcile.
            if !i.allocation_id.is_empty() {
                out.push(i);
            }
        }
        Ok(out)
    }
}
