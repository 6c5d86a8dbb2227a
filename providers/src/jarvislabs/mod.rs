//! Jarvislabs (`jarvislabs`), through the REST API its SDK and `jl` CLI use (no separate raw
//! REST reference; endpoints as in dstack's and gpuhunt's Jarvislabs clients).
//!
//! - Offers: `GET /misc/server_meta` on the catalogue host `https://backendn.jarvislabs.net`
//!   → `server_meta[]`, one row per GPU type, region and workload type (`price_per_hour`
//!   and `spot_price` are USD per GPU-hour; `vram` and `num_gpus` are decimal text;
//!   `num_gpus` is the most GPUs per instance). VM rows (`workload_type` `vm` or null) in
//!   regions with a known provisioning host give one offer per GPU count 1/2/4/8 up to
//!   `num_gpus` that the free devices cover, on-demand and spot.
//! - Provision: `POST {region host}/templates/vm/create` with the allocation id as `name` →
//!   `{"success": true, "machine_id": ...}`; status `GET /users/fetch/{machine_id}` →
//!   `{"instance": {...}}`; list `GET /users/fetch` (`instances[]`, shape not verified);
//!   release `POST {region host}/templates/vm/destroy?machine_id=`. Provisioning must go to
//!   the region's own host, which the API does not disclose: [`JarvislabsSettings`] holds
//!   the table.
//! - Auth: `Authorization: Bearer <api key>`. Errors: no machine-readable code; a 409 on
//!   create is read as no capacity (the vendor's capacity errors carry only message text,
//!   which we do not match); `success: false` on a 2xx is an invalid response.
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
    Capabilities, Instance, InstanceId, InstanceState, Offer, Pricing, Provider, ProviderError,
    ProviderId, ProvisionRequest,
};
use wire::{CreateVm, InstanceList, InstanceOne, Outcome, ServerMeta};

/// Jarvislabs' API as the engine sees it (base: the catalogue host).
pub fn descriptor() -> Descriptor {
    Descriptor {
        id: "jarvislabs",
        display_name: "Jarvislabs",
        base_url: "https://backendn.jarvislabs.net",
        auth: AuthScheme::Bearer,
        quota_per_minute: 60,
        burst: 5,
        timeout: Duration::from_secs(60),
        retryable_statuses: DEFAULT_RETRYABLE,
        classify_error: None,
    }
}

/// Settings of the Jarvislabs adapter beyond the engine's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JarvislabsSettings {
    /// Provisioning host per region; offers in other regions are not listed.
    pub region_hosts: BTreeMap<String, String>,
    /// Disk of every instance, GB, when the request asks for less.
    pub min_disk_gb: u32,
}

impl Default for JarvislabsSettings {
    fn default() -> Self {
        let hosts = [
            ("india-01", "https://backendprod.jarvislabs.net"),
            ("india-chennai-01", "https://backendc.jarvislabs.net"),
            ("india-noida-01", "https://backendn.jarvislabs.net"),
            ("europe-01", "https://backendeu.jarvislabs.net"),
        ];
        Self {
            region_hosts: hosts
                .into_iter()
                .map(|(r, h)| (r.to_string(), h.to_string()))
                .collect(),
            min_disk_gb: 50,
        }
    }
}

/// The Jarvislabs adapter.
#[derive(Debug)]
pub struct Jarvislabs {
    engine: Engine,
    settings: JarvislabsSettings,
}

impl Jarvislabs {
    pub fn new(config: EngineConfig, settings: JarvislabsSettings) -> Result<Self, EngineError> {
        Ok(Self {
            engine: Engine::new(descriptor(), config)?,
            settings,
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    fn host_of(&self, region: &str) -> Result<&str, ProviderError> {
        self.settings
            .region_hosts
            .get(region)
            .map(String::as_str)
            .ok_or(ProviderError::NotFound)
    }

    async fn fetch_offers(&self) -> Result<Vec<Offer>, ProviderError> {
        let e = &self.engine;
        let meta: ServerMeta = e
            .json(Call::get("list_offers", "/misc/server_meta"))
            .await?;
        let hosts = &self.settings.region_hosts;
        let mapped = map::offers(e.provider_id(), &meta, |r| hosts.contains_key(r), e.now());
        e.count_skipped(&mapped.unknown_gpus);
        Ok(mapped.offers)
    }

    /// The instance, or `None` when Jarvislabs no longer knows it.
    async fn fetch(&self, id: &InstanceId) -> Result<Option<Instance>, ProviderError> {
        let one: InstanceOne = self
            .engine
            .json(Call::get("status", format!("/users/fetch/{}", id.0)))
            .await?;
        match (one.success, one.instance) {
            (Some(false), _) | (_, None) => Ok(None),
            (_, Some(w)) => map::instance(self.engine.provider_id(), &w).map(Some),
        }
    }
}

fn refused(op: &str) -> ProviderError {
    ProviderError::InvalidResponse(format!("{op} answered success: false"))
}

#[async_trait]
impl Provider for Jarvislabs {
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
        let key = map::parse_offer_id(&req.offer_id).ok_or(ProviderError::NotFound)?;
        let host = self.host_of(key.region)?;
        let body = CreateVm {
            gpu_type: key.gpu_type,
            num_gpus: key.count,
            hdd: req.disk_gib.max(self.settings.min_disk_gb),
            region: key.region,
            name: &req.allocation_id,
            is_spot: key.pricing == Pricing::Spot,
            duration: "hour",
            disk_type: "ssd",
            http_ports: "",
            script_id: None,
            script_args: "",
            fs_id: None,
            arguments: "",
        };
        let created: Outcome = self
            .engine
            .json(
                Call::post("create", "/templates/vm/create", &body)?
                    .at(host)
                    .on_conflict(Conflict::NoCapacity),
            )
            .await?;
        if created.success == Some(false) {
            return Err(refused("create"));
        }
        let id = created
            .machine_id
            .map(|m| m.text())
            .filter(|m| !m.is_empty())
            .ok_or_else(|| ProviderError::InvalidResponse("create gave no machine_id".into()))?;
        self.status(&InstanceId(id)).await
    }

    async fn status(&self, id: &InstanceId) -> Result<Instance, ProviderError> {
        self.fetch(id).await?.ok_or(ProviderError::NotFound)
    }

    async fn release(&self, id: &InstanceId) -> Result<(), ProviderError> {
        let instance = self.status(id).await?;
        let region = map::parse_offer_id(&instance.offer_id)
            .map(|k| k.region)
            .ok_or_else(|| ProviderError::InvalidResponse("instance has no region".into()))?;
        let host = self.host_of(region)?.to_string();
        let call = Call::post_empty(
            "destroy",
            format!("/templates/vm/destroy?machine_id={}", id.0),
        )
        .at(host);
        let outcome: Outcome = self.engine.json(call).await?;
        if outcome.success == Some(false) {
            return Err(refused("destroy"));
        }
        Ok(())
    }

    async fn list_instances(&self) -> Result<Vec<Instance>, ProviderError> {
        let list: InstanceList = self
            .engine
            .json(Call::get("list_instances", "/users/fetch"))
            .await?;
        list.instances
            .iter()
            .map(|w| map::instance(self.engine.provider_id(), w))
            .collect()
    }
}
