//! The operator's own bare metal through Canonical MAAS (`maas`), REST API 2.0
//! (`http://<region>:5240/MAAS/api/2.0`; sources: juju/gomaasapi, canonical/gomaasclient).
//!
//! - Auth: OAuth 1.0a `PLAINTEXT` from the API key `consumer:token:secret`
//!   ([`AuthScheme::OAuth1Plaintext`]).
//! - Offers: MAAS has no GPU fields and no prices; the operator declares
//!   [`MaasOfferRule`]s (machine tag → GPU model, count, internal price). `GET /machines/`
//!   gives one offer per rule and zone, `available` = Ready machines with the tag.
//! - Provision: `POST /machines/?op=allocate` (form: `tags`, `zone`, `agent_name`; **409 =
//!   no machine matches** → no capacity), `POST /machines/{id}/?op=set_owner_data` (the
//!   allocation id under `gpubroker_allocation`), `POST /machines/{id}/?op=deploy`
//!   (`distro_series`). Status `GET /machines/{id}/` (6 Deployed = running); release
//!   `POST /machines/{id}/?op=release`.
//! - Errors are plain text; 503/409 with `Retry-After` are retried on reads.

mod map;
mod wire;

use std::time::Duration;

use async_trait::async_trait;

use crate::http::{
    AuthScheme, Call, Conflict, Descriptor, Engine, EngineConfig, EngineError, DEFAULT_RETRYABLE,
};
use crate::{
    Capabilities, Instance, InstanceId, InstanceState, MicroUsd, Offer, Provider, ProviderError,
    ProviderId, ProvisionRequest,
};
use wire::Machine;

/// MAAS as the engine sees it (the base URL is always the operator's).
pub fn descriptor() -> Descriptor {
    Descriptor {
        id: "maas",
        display_name: "Owned metal (MAAS)",
        base_url: "http://localhost:5240/MAAS/api/2.0",
        auth: AuthScheme::OAuth1Plaintext,
        quota_per_minute: 600,
        burst: 20,
        timeout: Duration::from_secs(60),
        retryable_statuses: DEFAULT_RETRYABLE,
        classify_error: None,
    }
}

/// Machines tagged `tag` are sold as `gpu_count` × `gpu_model` at `price_per_hour`.
#[derive(Debug, Clone, PartialEq)]
pub struct MaasOfferRule {
    pub tag: String,
    /// Any spelling [`crate::gpus::canonical`] knows.
    pub gpu_model: String,
    pub gpu_count: u32,
    pub gpu_memory_gib: Option<f64>,
    /// The operator's internal price for the whole machine.
    pub price_per_hour: MicroUsd,
}

/// Settings of the MAAS adapter beyond the engine's.
#[derive(Debug, Clone, PartialEq)]
pub struct MaasSettings {
    pub rules: Vec<MaasOfferRule>,
    /// The Ubuntu series deployed (`jammy`).
    pub distro_series: String,
}

/// The MAAS adapter.
#[derive(Debug)]
pub struct Maas {
    engine: Engine,
    settings: MaasSettings,
}

fn pair(k: &str, v: &str) -> (String, String) {
    (k.to_string(), v.to_string())
}

impl Maas {
    pub fn new(config: EngineConfig, settings: MaasSettings) -> Result<Self, EngineError> {
        Ok(Self {
            engine: Engine::new(descriptor(), config)?,
            settings,
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    async fn machines(&self) -> Result<Vec<Machine>, ProviderError> {
        self.engine
            .json(Call::get("list_machines", "/machines/"))
            .await
    }

    async fn fetch_offers(&self) -> Result<Vec<Offer>, ProviderError> {
        let machines = self.machines().await?;
        let mapped = map::offers(
            self.engine.provider_id(),
            &self.settings.rules,
            &machines,
            self.engine.now(),
        );
        self.engine.count_skipped(&mapped.unknown_gpus);
        Ok(mapped.offers)
    }
}

#[async_trait]
impl Provider for Maas {
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
        let (tag, zone) = map::parse_offer_id(&req.offer_id).ok_or(ProviderError::NotFound)?;
        let allocate = Call::post_form(
            "allocate",
            "/machines/?op=allocate",
            vec![
                pair("tags", tag),
                pair("zone", zone),
                pair("agent_name", &req.allocation_id),
                pair("comment", "gpubroker"),
            ],
        )
        .on_conflict(Conflict::NoCapacity);
        let machine: Machine = self.engine.json(allocate).await?;
        let id = machine.system_id;
        let tagged = Call::post_form(
            "set_owner_data",
            format!("/machines/{id}/?op=set_owner_data"),
            vec![pair(map::ALLOCATION_KEY, &req.allocation_id)],
        );
        let deploy = Call::post_form(
            "deploy",
            format!("/machines/{id}/?op=deploy"),
            vec![
                pair("distro_series", &self.settings.distro_series),
                pair("agent_name", &req.allocation_id),
            ],
        );
        let deployed = match self.engine.send(tagged).await {
            Ok(()) => self.engine.json::<Machine>(deploy).await,
            Err(e) => Err(e),
        };
        match deployed {
            Ok(m) => Ok(map::instance(self.engine.provider_id(), &m)),
            Err(e) => {
                // Never keep a machine claimed for a provisioning that failed.
                let _ = self.release(&InstanceId(id)).await;
                Err(e)
            }
        }
    }

    async fn status(&self, id: &InstanceId) -> Result<Instance, ProviderError> {
        let m: Machine = self
            .engine
            .json(Call::get("status", format!("/machines/{}/", id.0)))
            .await?;
        Ok(map::instance(self.engine.provider_id(), &m))
    }

    async fn release(&self, id: &InstanceId) -> Result<(), ProviderError> {
        let call = Call::post_form(
            "release",
            format!("/machines/{}/?op=release", id.0),
            vec![pair("comment", "released by gpubroker")],
        );
        self.engine.send(call).await
    }

    async fn list_instances(&self) -> Result<Vec<Instance>, ProviderError> {
        Ok(self
            .machines()
            .await?
            .iter()
            .filter(|m| map::allocation_of(m).is_some())
            .map(|m| map::instance(self.engine.provider_id(), m))
            .collect())
    }
}
