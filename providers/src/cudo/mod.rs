//! CUDO Compute (`cudo`), through its REST API v1 (<https://rest.compute.cudo.org/v1>; SDK
//! `cudo-compute` for Python, generated from the OpenAPI spec). Dropped by gpuhunt and dstack
//! in 2025; endpoints here are from their earlier clients and the SDK.
//!
//! - Offers: `GET /vms/machine-types` → `machineTypes[]`: composable machine types per data
//!   centre with component prices (`{"value": "<USD per hour>"}` for a GPU, a vCPU, a GiB of
//!   memory, an IPv4) and free capacity. One on-demand offer per GPU type, data centre and
//!   GPU count up to `maxGpuFree`, in a fixed shape (see `map::shape`).
//! - Provision: `POST /projects/{project}/vm` with the allocation id as `vmId` (so the VM
//!   id *is* the allocation id); status `GET /projects/{project}/vms/{id}` (`{"VM": {...}}`,
//!   `state` `PENDING` → `ACTIVE`); list `GET /projects/{project}/vms` (`{"VMs": [...]}`,
//!   shape assumed from the SDK's naming); release `POST /projects/{project}/vms/{id}/terminate`.
//! - Auth: `Authorization: Bearer <api key>`. Errors: gRPC-gateway bodies
//!   `{"code", "message", "details"}`, read by `map::classify`.
//! - Rate limit: undocumented; quota 60/min.

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
use wire::{CreateVm, Created, Disk, MachineTypes, VmList, VmOne};

/// CUDO's API as the engine sees it.
pub fn descriptor() -> Descriptor {
    Descriptor {
        id: "cudo",
        display_name: "Cudo Compute",
        base_url: "https://rest.compute.cudo.org/v1",
        auth: AuthScheme::Bearer,
        quota_per_minute: 60,
        burst: 5,
        timeout: Duration::from_secs(30),
        retryable_statuses: DEFAULT_RETRYABLE,
        classify_error: Some(map::classify),
    }
}

/// Settings of the CUDO adapter beyond the engine's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CudoSettings {
    /// The project every VM is created in.
    pub project_id: String,
    /// The public image every VM boots.
    pub boot_disk_image_id: String,
    /// Boot disk, GiB, when the request asks for less.
    pub min_disk_gib: u32,
}

impl Default for CudoSettings {
    fn default() -> Self {
        Self {
            project_id: "gpubroker".to_string(),
            boot_disk_image_id: "ubuntu-2204-nvidia-535-docker-v20240214".to_string(),
            min_disk_gib: 50,
        }
    }
}

/// The CUDO Compute adapter.
#[derive(Debug)]
pub struct Cudo {
    engine: Engine,
    settings: CudoSettings,
}

impl Cudo {
    pub fn new(config: EngineConfig, settings: CudoSettings) -> Result<Self, EngineError> {
        Ok(Self {
            engine: Engine::new(descriptor(), config)?,
            settings,
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    fn vms(&self) -> String {
        format!("/projects/{}/vms", self.settings.project_id)
    }

    async fn fetch_offers(&self) -> Result<Vec<Offer>, ProviderError> {
        let e = &self.engine;
        let types: MachineTypes = e
            .json(Call::get("list_offers", "/vms/machine-types"))
            .await?;
        let mapped = map::offers(e.provider_id(), &types, e.now());
        e.count_skipped(&mapped.unknown_gpus);
        Ok(mapped.offers)
    }
}

#[async_trait]
impl Provider for Cudo {
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
        let (machine_type, dc, gpus) =
            map::parse_offer_id(&req.offer_id).ok_or(ProviderError::NotFound)?;
        // The shape is recomputed from the current machine type, as the offer was.
        let types: MachineTypes = self
            .engine
            .json(Call::get("list_offers", "/vms/machine-types"))
            .await?;
        let t = types
            .machine_types
            .iter()
            .find(|t| t.machine_type == machine_type && t.data_center_id == dc)
            .ok_or(ProviderError::NotFound)?;
        let (vcpus, memory_gib) = map::shape(t, gpus);
        let body = CreateVm {
            vm_id: &req.allocation_id,
            data_center_id: dc,
            machine_type,
            vcpus,
            memory_gib,
            gpus,
            boot_disk_image_id: &self.settings.boot_disk_image_id,
            boot_disk: Disk {
                storage_class: "STORAGE_CLASS_NETWORK",
                size_gib: req.disk_gib.max(self.settings.min_disk_gib),
            },
            custom_ssh_keys: req.ssh_public_key.iter().map(String::as_str).collect(),
        };
        let path = format!("/projects/{}/vm", self.settings.project_id);
        let created: Created = self.engine.json(Call::post("create", path, &body)?).await?;
        self.status(&InstanceId(created.id)).await
    }

    async fn status(&self, id: &InstanceId) -> Result<Instance, ProviderError> {
        let one: VmOne = self
            .engine
            .json(Call::get("status", format!("{}/{}", self.vms(), id.0)))
            .await?;
        map::instance(self.engine.provider_id(), &one.vm)
    }

    async fn release(&self, id: &InstanceId) -> Result<(), ProviderError> {
        let call = Call::post_empty("terminate", format!("{}/{}/terminate", self.vms(), id.0));
        self.engine.send(call).await
    }

    async fn list_instances(&self) -> Result<Vec<Instance>, ProviderError> {
        let list: VmList = self
            .engine
            .json(Call::get("list_instances", self.vms()))
            .await?;
        list.vms
            .iter()
            .map(|w| map::instance(self.engine.provider_id(), w))
            .collect()
    }
}
