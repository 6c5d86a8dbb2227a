//! Hyperstack by NexGen Cloud (`hyperstack`), through its Infrahub REST API v1
//! (<https://docs.hyperstack.cloud/docs/api-reference>, base
//! `https://infrahub-api.nexgencloud.com/v1`; OpenAPI SDK `hyperstack` for Python).
//!
//! - Offers: `GET /core/flavors` (flavors grouped by GPU and region: name, CPU, RAM and disk
//!   in GB, `gpu`, `gpu_count`, `stock_available`) joined with `GET /pricebook` (a bare
//!   array; `value` is USD per hour per unit of the named resource, so a GPU flavor costs
//!   the entry named like its `gpu` times `gpu_count`): one on-demand offer per GPU flavor
//!   in stock.
//! - Provision: `POST /core/virtual-machines` with the allocation id as the VM `name` (and
//!   label), the region's environment (`default-<REGION>` unless configured), the account's
//!   key pair and image; the answer lists the new VM. Status
//!   `GET /core/virtual-machines/{id}` (`CREATING` → `ACTIVE`); list
//!   `GET /core/virtual-machines`; release `DELETE /core/virtual-machines/{id}`.
//! - Auth: header `api_key: <key>` (no prefix). Errors: `{"status": false, "message",
//!   "error_reason"}`, read by `map::classify`. No capacity: a 409 on create (assumed; the
//!   docs give no capacity code).
//! - Rate limit: undocumented; quota 60/min.

mod map;
mod wire;

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;

use crate::http::{
    AuthScheme, Call, Conflict, Descriptor, Engine, EngineConfig, EngineError, DEFAULT_RETRYABLE,
};
use crate::{
    Capabilities, Instance, InstanceId, InstanceState, Offer, Provider, ProviderError, ProviderId,
    ProvisionRequest,
};
use wire::{CreateVm, Flavors, PriceEntry, VmList, VmOne};

/// Hyperstack's API as the engine sees it.
pub fn descriptor() -> Descriptor {
    Descriptor {
        id: "hyperstack",
        display_name: "Hyperstack",
        base_url: "https://infrahub-api.nexgencloud.com/v1",
        auth: AuthScheme::Header("api_key"),
        quota_per_minute: 60,
        burst: 5,
        timeout: Duration::from_secs(30),
        retryable_statuses: DEFAULT_RETRYABLE,
        classify_error: Some(map::classify),
    }
}

/// Settings of the Hyperstack adapter beyond the engine's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HyperstackSettings {
    /// The key pair every VM gets (it must exist in the VM's environment).
    pub key_name: String,
    /// The OS image every VM boots.
    pub image_name: String,
    /// Environment per region; a region not listed uses `default-<REGION>`.
    pub environments: BTreeMap<String, String>,
}

impl Default for HyperstackSettings {
    fn default() -> Self {
        Self {
            key_name: "gpubroker".to_string(),
            image_name: "Ubuntu Server 22.04 LTS R535 CUDA 12.2".to_string(),
            environments: BTreeMap::new(),
        }
    }
}

impl HyperstackSettings {
    /// The environment VMs of `region` are created in.
    pub fn environment_of(&self, region: &str) -> String {
        self.environments
            .get(region)
            .cloned()
            .unwrap_or_else(|| format!("default-{region}"))
    }
}

/// The Hyperstack adapter.
#[derive(Debug)]
pub struct Hyperstack {
    engine: Engine,
    settings: HyperstackSettings,
}

impl Hyperstack {
    pub fn new(config: EngineConfig, settings: HyperstackSettings) -> Result<Self, EngineError> {
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
        let flavors: Flavors = e.json(Call::get("list_offers", "/core/flavors")).await?;
        let pricebook: Vec<PriceEntry> = e.json(Call::get("list_offers", "/pricebook")).await?;
        let mapped = map::offers(e.provider_id(), &flavors, &pricebook, e.now());
        e.count_skipped(&mapped.unknown_gpus);
        Ok(mapped.offers)
    }
}

#[async_trait]
impl Provider for Hyperstack {
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
        let (flavor, region) = map::parse_offer_id(&req.offer_id).ok_or(ProviderError::NotFound)?;
        let environment = self.settings.environment_of(region);
        let body = CreateVm {
            name: &req.allocation_id,
            environment_name: &environment,
            image_name: &self.settings.image_name,
            flavor_name: flavor,
            key_name: &self.settings.key_name,
            assign_floating_ip: true,
            count: 1,
            labels: vec![req.allocation_id.as_str()],
        };
        let created: VmList = self
            .engine
            .json(
                Call::post("create", "/core/virtual-machines", &body)?
                    .on_conflict(Conflict::NoCapacity),
            )
            .await?;
        let vm = created.instances.into_iter().next().ok_or_else(|| {
            ProviderError::InvalidResponse("create returned no virtual machine".to_string())
        })?;
        self.status(&InstanceId(vm.id.to_string())).await
    }

    async fn status(&self, id: &InstanceId) -> Result<Instance, ProviderError> {
        let one: VmOne = self
            .engine
            .json(Call::get(
                "status",
                format!("/core/virtual-machines/{}", id.0),
            ))
            .await?;
        map::instance(self.engine.provider_id(), &one.instance)
    }

    async fn release(&self, id: &InstanceId) -> Result<(), ProviderError> {
        self.engine
            .send(Call::delete(
                "delete",
                format!("/core/virtual-machines/{}", id.0),
            ))
            .await
    }

    async fn list_instances(&self) -> Result<Vec<Instance>, ProviderError> {
        let list: VmList = self
            .engine
            .json(Call::get("list_instances", "/core/virtual-machines"))
            .await?;
        list.instances
            .iter()
            .map(|w| map::instance(self.engine.provider_id(), w))
            .collect()
    }
}
