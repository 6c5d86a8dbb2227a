//! Scaleway (`scaleway`), through the Instance API v1
//! (<https://www.scaleway.com/en/developers/api/instance/>, base
//! `https://api.scaleway.com/instance/v1`).
//!
//! - Offers, per configured zone: `GET /zones/{zone}/products/servers?per_page=100&page=N`
//!   (pages until a short one; the API's `Link` header is not read) and
//!   `GET /zones/{zone}/products/servers/availability` (`available|scarce|shortage`): one
//!   offer per GPU type and zone without a shortage. `hourly_price` is **EUR** per
//!   server-hour, converted with the configured USD/EUR rate; `ram` and `gpu_memory` are
//!   bytes; region = the zone without its number (`fr-par-2` → `fr-par`).
//! - Provision: availability check (a `shortage` is no capacity, as the Scaleway Terraform
//!   provider does), `POST /zones/{zone}/servers` with the tags `gpubroker` and
//!   `gpubroker-alloc:<allocation id>`, then `POST .../servers/{id}/action {"action":
//!   "poweron"}`; find `GET /zones/{zone}/servers?tags=<allocation tag>` in every zone;
//!   status `GET /zones/{zone}/servers/{id}`; release `POST .../action {"action":
//!   "terminate"}` (deletes the server and its local volumes). Instance ids are
//!   `<zone>/<server id>`.
//! - Auth: `X-Auth-Token: <secret key>`. Errors: `{"type", "message"}`, read by
//!   `map::classify`.

mod map;
mod wire;

use std::time::Duration;

use async_trait::async_trait;

use crate::http::{
    AuthScheme, Call, Descriptor, Engine, EngineConfig, EngineError, DEFAULT_RETRYABLE,
};
use crate::{
    Capabilities, Instance, InstanceId, InstanceState, MicroUsd, Offer, Provider, ProviderError,
    ProviderId, ProvisionRequest,
};
use wire::{Action, Availability, CreateServer, ServerEnvelope, ServerTypes, Servers};

/// Entries per catalogue page (the API's maximum).
const PER_PAGE: usize = 100;

/// Most catalogue pages per zone.
const MAX_PAGES: u32 = 10;

/// Scaleway's Instance API as the engine sees it.
pub fn descriptor() -> Descriptor {
    Descriptor {
        id: "scaleway",
        display_name: "Scaleway",
        base_url: "https://api.scaleway.com/instance/v1",
        auth: AuthScheme::Header("X-Auth-Token"),
        quota_per_minute: 120,
        burst: 10,
        timeout: Duration::from_secs(30),
        retryable_statuses: DEFAULT_RETRYABLE,
        classify_error: Some(map::classify),
    }
}

/// Settings of the Scaleway adapter beyond the engine's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScalewaySettings {
    /// Zones listed and searched (the GPU zones by default).
    pub zones: Vec<String>,
    /// The project servers are created in.
    pub project_id: String,
    /// The image every server boots (a marketplace label or an image id).
    pub image: String,
    /// USD per EUR, to convert Scaleway's EUR prices. An operator setting, not a market
    /// rate: keep it current.
    pub usd_per_eur: MicroUsd,
}

impl Default for ScalewaySettings {
    fn default() -> Self {
        Self {
            zones: ["fr-par-1", "fr-par-2", "nl-ams-1", "pl-waw-2"]
                .map(str::to_string)
                .to_vec(),
            project_id: String::new(),
            image: "ubuntu_jammy_gpu_os_12".to_string(),
            usd_per_eur: MicroUsd(1_080_000),
        }
    }
}

/// The Scaleway adapter.
#[derive(Debug)]
pub struct Scaleway {
    engine: Engine,
    settings: ScalewaySettings,
}

impl Scaleway {
    pub fn new(config: EngineConfig, settings: ScalewaySettings) -> Result<Self, EngineError> {
        Ok(Self {
            engine: Engine::new(descriptor(), config)?,
            settings,
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    async fn server_types(&self, zone: &str) -> Result<ServerTypes, ProviderError> {
        let mut all = ServerTypes {
            servers: Default::default(),
        };
        for page in 1..=MAX_PAGES {
            let path = format!("/zones/{zone}/products/servers?per_page={PER_PAGE}&page={page}");
            let got: ServerTypes = self.engine.json(Call::get("list_offers", path)).await?;
            let n = got.servers.len();
            all.servers.extend(got.servers);
            if n < PER_PAGE {
                break;
            }
        }
        Ok(all)
    }

    async fn availability(&self, zone: &str) -> Result<Availability, ProviderError> {
        let path = format!("/zones/{zone}/products/servers/availability");
        self.engine.json(Call::get("availability", path)).await
    }

    async fn fetch_offers(&self) -> Result<Vec<Offer>, ProviderError> {
        let mut catalogues = Vec::new();
        for zone in &self.settings.zones {
            catalogues.push((
                zone.as_str(),
                self.server_types(zone).await?,
                self.availability(zone).await?,
            ));
        }
        let zones: Vec<map::Zone<'_>> = catalogues
            .iter()
            .map(|(zone, types, availability)| map::Zone {
                zone,
                types,
                availability,
            })
            .collect();
        let mapped = map::offers(
            self.engine.provider_id(),
            &zones,
            self.settings.usd_per_eur,
            self.engine.now(),
        );
        self.engine.count_skipped(&mapped.unknown_gpus);
        Ok(mapped.offers)
    }

    /// The servers carrying `tag` in every zone.
    async fn servers(&self, tag: &str) -> Result<Vec<Instance>, ProviderError> {
        let mut out = Vec::new();
        for zone in &self.settings.zones {
            let list: Servers = self
                .engine
                .json(Call::get(
                    "list_instances",
                    format!("/zones/{zone}/servers?tags={tag}&per_page={PER_PAGE}"),
                ))
                .await?;
            for s in &list.servers {
                out.push(map::instance(self.engine.provider_id(), zone, s)?);
            }
        }
        Ok(out)
    }

    async fn action(&self, zone: &str, server: &str, action: &str) -> Result<(), ProviderError> {
        let path = format!("/zones/{zone}/servers/{server}/action");
        self.engine
            .send(Call::post("action", path, &Action { action })?)
            .await
    }
}

#[async_trait]
impl Provider for Scaleway {
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
        let tag = map::allocation_tag(&req.allocation_id).ok_or_else(|| {
            ProviderError::InvalidResponse(format!(
                "allocation id `{}` cannot be carried in a Scaleway tag",
                req.allocation_id
            ))
        })?;
        let (commercial_type, zone) =
            map::parse_offer_id(&req.offer_id).ok_or(ProviderError::NotFound)?;
        let short = self
            .availability(zone)
            .await?
            .servers
            .get(commercial_type)
            .is_some_and(|a| a.availability == "shortage");
        if short {
            return Err(ProviderError::NoCapacity);
        }
        let body = CreateServer {
            name: format!("gpubroker-{}", req.allocation_id),
            commercial_type,
            image: &self.settings.image,
            project: &self.settings.project_id,
            tags: vec![map::BROKER_TAG.to_string(), tag],
            dynamic_ip_required: true,
        };
        let created: ServerEnvelope = self
            .engine
            .json(Call::post(
                "create",
                format!("/zones/{zone}/servers"),
                &body,
            )?)
            .await?;
        self.action(zone, &created.server.id, "poweron").await?;
        map::instance(self.engine.provider_id(), zone, &created.server)
    }

    async fn status(&self, id: &InstanceId) -> Result<Instance, ProviderError> {
        let (zone, server) = map::parse_instance_id(id).ok_or(ProviderError::NotFound)?;
        let s: ServerEnvelope = self
            .engine
            .json(Call::get(
                "status",
                format!("/zones/{zone}/servers/{server}"),
            ))
            .await?;
        map::instance(self.engine.provider_id(), zone, &s.server)
    }

    async fn release(&self, id: &InstanceId) -> Result<(), ProviderError> {
        let (zone, server) = map::parse_instance_id(id).ok_or(ProviderError::NotFound)?;
        self.action(zone, server, "terminate").await
    }

    async fn list_instances(&self) -> Result<Vec<Instance>, ProviderError> {
        self.servers(map::BROKER_TAG).await
    }

    async fn find_by_allocation(
        &self,
        allocation_id: &str,
    ) -> Result<Option<Instance>, ProviderError> {
        let Some(tag) = map::allocation_tag(allocation_id) else {
            return Ok(None);
        };
        Ok(self
            .servers(&tag)
            .await?
            .into_iter()
            .find(|i| i.allocation_id == allocation_id))
    }
}
