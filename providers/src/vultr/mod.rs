//! Vultr (`vultr`), through its public API v2
//! (<https://www.vultr.com/api/>, base `https://api.vultr.com/v2`).
//!
//! - Offers: `GET /plans?type=vcg&per_page=500` (Cloud GPU plans: `gpu_type`, the plan's
//!   total `gpu_vram_gb`, `hourly_cost` per instance-hour, `ram` in MB, `locations`) and
//!   `GET /plans-metal?per_page=500` (bare metal; the GPUs only in the id,
//!   `vbm-112c-2048gb-8-h100-gpu`); pages followed through `meta.links.next` cursors.
//!   Fractional Cloud GPU plans (4 GB of an 80 GB A100) are not whole-GPU offers and are
//!   left out; see `map::offers`.
//! - Provision: `POST /instances` (cloud) or `POST /bare-metals` (metal) with the tags
//!   `gpubroker` and `gpubroker-alloc:<allocation id>`, the label `gpubroker-<allocation
//!   id>`, the configured `os_id` and the user's SSH key as base64 cloud-init `user_data`;
//!   find `GET /instances?tag=<allocation tag>` (and `/bare-metals`); status
//!   `GET /instances/{id}` (`status` + `power_status` + `server_status`); list by the
//!   `gpubroker` tag; release `DELETE /instances/{id}` (then 404). Bare-metal instance ids
//!   carry the prefix `bm:`.
//! - Auth: `Authorization: Bearer <api key>` (plan listings are public, the key is sent
//!   anyway). Errors: `{"error": "...", "status": n}`, read by `map::classify` (free text:
//!   capacity and quota words first).
//! - Rate limit: a per-key request rate with 429 (docs; the exact figure is not relied on);
//!   quota 120/min.
//!
//! Verified against real samples: the `/plans` (vcg) and `/plans-metal` shapes (gpuhunt test
//! fixtures). From documentation only: instance create/get/list/delete shapes, the status
//! fields, the error body, the default `os_id`.

mod map;
mod wire;

use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;

use crate::http::{
    AuthScheme, Call, Descriptor, Engine, EngineConfig, EngineError, DEFAULT_RETRYABLE,
};
use crate::{
    ownership, Capabilities, Instance, InstanceId, InstanceState, Offer, Provider, ProviderError,
    ProviderId, ProvisionRequest,
};
use wire::{Create, Many, MetalPlan, MetalPlans, One, Plan, Plans};

/// Most pages of one listing the adapter follows (a guard against a looping cursor).
const MAX_PAGES: usize = 20;

/// Vultr's API as the engine sees it.
pub fn descriptor() -> Descriptor {
    Descriptor {
        id: "vultr",
        display_name: "Vultr",
        base_url: "https://api.vultr.com/v2",
        auth: AuthScheme::Bearer,
        quota_per_minute: 120,
        burst: 5,
        timeout: Duration::from_secs(30),
        retryable_statuses: DEFAULT_RETRYABLE,
        classify_error: Some(map::classify),
    }
}

/// Settings of the Vultr adapter beyond the engine's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VultrSettings {
    /// The operating system of every server (Vultr's `/v2/os` id; 1743 = Ubuntu 22.04 x64).
    pub os_id: u32,
    /// Registered SSH key ids every server gets (besides the request's key, sent as
    /// cloud-init).
    pub ssh_key_ids: Vec<String>,
}

impl Default for VultrSettings {
    fn default() -> Self {
        Self {
            os_id: 1743,
            ssh_key_ids: Vec::new(),
        }
    }
}

/// The Vultr adapter.
#[derive(Debug)]
pub struct Vultr {
    engine: Engine,
    settings: VultrSettings,
}

/// The two kinds of server, and where each lives in the API.
fn collection(metal: bool) -> &'static str {
    if metal {
        "/bare-metals"
    } else {
        "/instances"
    }
}

impl Vultr {
    pub fn new(config: EngineConfig, settings: VultrSettings) -> Result<Self, EngineError> {
        Ok(Self {
            engine: Engine::new(descriptor(), config)?,
            settings,
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    async fn fetch_offers(&self) -> Result<Vec<Offer>, ProviderError> {
        let mut plans: Vec<Plan> = Vec::new();
        let mut cursor = Some(String::new());
        for _ in 0..MAX_PAGES {
            let Some(c) = cursor.take() else { break };
            let page: Plans = self
                .engine
                .json(Call::get(
                    "list_offers",
                    page_path("/plans?type=vcg&per_page=500", &c),
                ))
                .await?;
            plans.extend(page.plans);
            cursor = next(page.meta.links.next);
        }
        let mut metal: Vec<MetalPlan> = Vec::new();
        let mut cursor = Some(String::new());
        for _ in 0..MAX_PAGES {
            let Some(c) = cursor.take() else { break };
            let page: MetalPlans = self
                .engine
                .json(Call::get(
                    "list_offers",
                    page_path("/plans-metal?per_page=500", &c),
                ))
                .await?;
            metal.extend(page.plans_metal);
            cursor = next(page.meta.links.next);
        }
        let mapped = map::offers(self.engine.provider_id(), &plans, &metal, self.engine.now());
        self.engine.count_skipped(&mapped.unknown_gpus);
        Ok(mapped.offers)
    }

    /// Servers of one kind carrying `tag`, every page.
    async fn servers(&self, tag: &str, metal: bool) -> Result<Vec<Instance>, ProviderError> {
        let mut out = Vec::new();
        let mut cursor = Some(String::new());
        for _ in 0..MAX_PAGES {
            let Some(c) = cursor.take() else { break };
            let base = format!("{}?tag={tag}&per_page=500", collection(metal));
            let page: Many = self
                .engine
                .json(Call::get("list_instances", page_path(&base, &c)))
                .await?;
            for s in &page.instances {
                out.push(map::instance(self.engine.provider_id(), s, metal)?);
            }
            cursor = next(page.meta.links.next);
        }
        Ok(out)
    }
}

/// `base` with the cursor of the page to fetch (none for the first).
fn page_path(base: &str, cursor: &str) -> String {
    if cursor.is_empty() {
        base.to_string()
    } else {
        format!("{base}&cursor={cursor}")
    }
}

/// The next cursor, if there is a next page.
fn next(cursor: String) -> Option<String> {
    (!cursor.is_empty()
        && cursor
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'=' || b == b'_' || b == b'-'))
    .then_some(cursor)
}

/// An allocation id that cannot travel as a Vultr tag.
fn untaggable(allocation_id: &str) -> ProviderError {
    ProviderError::InvalidResponse(format!(
        "allocation id `{allocation_id}` cannot be carried in a Vultr tag"
    ))
}

#[async_trait]
impl Provider for Vultr {
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
        let tag = ownership::allocation_tag(&req.allocation_id)
            .ok_or_else(|| untaggable(&req.allocation_id))?;
        let (plan, region) = map::parse_offer_id(&req.offer_id).ok_or(ProviderError::NotFound)?;
        let metal = map::is_metal(plan);
        let name = ownership::instance_name(&req.allocation_id, 63);
        let body = Create {
            region,
            plan,
            os_id: self.settings.os_id,
            label: name.clone(),
            hostname: name,
            tags: vec![ownership::BROKER_TAG.to_string(), tag],
            user_data: ownership::ssh_cloud_init(req.ssh_public_key.as_deref())
                .map(|c| base64::engine::general_purpose::STANDARD.encode(c)),
            sshkey_id: self
                .settings
                .ssh_key_ids
                .iter()
                .map(String::as_str)
                .collect(),
        };
        let created: One = self
            .engine
            .json(Call::post("create", collection(metal), &body)?)
            .await?;
        map::instance(self.engine.provider_id(), &created.instance, metal)
    }

    async fn status(&self, id: &InstanceId) -> Result<Instance, ProviderError> {
        let (server, metal) = map::server_of(id);
        let one: One = self
            .engine
            .json(Call::get(
                "status",
                format!("{}/{server}", collection(metal)),
            ))
            .await?;
        map::instance(self.engine.provider_id(), &one.instance, metal)
    }

    async fn release(&self, id: &InstanceId) -> Result<(), ProviderError> {
        let (server, metal) = map::server_of(id);
        self.engine
            .send(Call::delete(
                "delete",
                format!("{}/{server}", collection(metal)),
            ))
            .await
    }

    async fn list_instances(&self) -> Result<Vec<Instance>, ProviderError> {
        let mut out = self.servers(ownership::BROKER_TAG, false).await?;
        out.extend(self.servers(ownership::BROKER_TAG, true).await?);
        Ok(out)
    }

    async fn find_by_allocation(
        &self,
        allocation_id: &str,
    ) -> Result<Option<Instance>, ProviderError> {
        let Some(tag) = ownership::allocation_tag(allocation_id) else {
            return Ok(None);
        };
        let mut found = self.servers(&tag, false).await?;
        found.extend(self.servers(&tag, true).await?);
        Ok(found.into_iter().find(|i| i.allocation_id == allocation_id))
    }
}
