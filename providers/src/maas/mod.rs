//! The operator's own bare metal through Canonical MAAS (`maas`), REST API 2.0
//! (`http://<region>:5240/MAAS/api/2.0`; sources: the MAAS API reference, juju/gomaasapi,
//! canonical/gomaasclient, python-libmaas).
//!
//! - Auth: OAuth 1.0a `PLAINTEXT` from the API key `consumer:token:secret`
//!   ([`AuthScheme::OAuth1Plaintext`]): `oauth_signature="&<secret>"`, fresh nonce and
//!   timestamp per request.
//! - Offers: MAAS has no GPU fields and no prices. GPU facts come from machine tags
//!   (`gpu-<count>x-<model>`, see `map`); `GET /machines/` gives one offer per GPU tag, zone
//!   and pool (region `<zone>/<pool>`), `available` = Ready machines. The adapter is
//!   [`ProviderKind::Owned`]: its offers carry no price; the broker prices them from the
//!   operator's hourly cost and never offers an unpriced machine.
//! - Provision: `POST /machines/?op=allocate` (form constraints `tags`, `zone`, `pool`,
//!   `agent_name`, `comment`; **409 = no machine matches** → no capacity),
//!   `POST /machines/{id}/?op=set_owner_data` (the allocation id under
//!   `gpubroker_allocation`), `POST /machines/{id}/?op=deploy` (`distro_series`,
//!   `agent_name`, `user_data` = base64 cloud-init carrying the user's SSH key). Status
//!   `GET /machines/{id}/` (6 Deployed = running); release `POST /machines/{id}/?op=release`
//!   with the configured disk erase (`erase`, `quick_erase`, `secure_erase`); a 409 on
//!   release is success when the machine is already releasing, erasing or Ready.
//! - Errors are plain text; 503/409 with `Retry-After` are retried on reads.

mod map;
mod wire;

use std::time::Duration;

use async_trait::async_trait;

use crate::http::{
    AuthScheme, Call, Conflict, Descriptor, Engine, EngineConfig, EngineError, DEFAULT_RETRYABLE,
};
use crate::{
    ownership, Capabilities, Instance, InstanceId, InstanceState, Offer, Provider, ProviderError,
    ProviderId, ProviderKind, ProvisionRequest,
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

/// How a released machine's disks are wiped (MAAS `release` form fields).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DiskErase {
    /// No erase: the machine is Ready again after releasing.
    #[default]
    None,
    /// `erase=true&quick_erase=true`: wipe the start and end of each disk.
    Quick,
    /// `erase=true&secure_erase=true`: the drive's secure erase, else a full overwrite.
    Secure,
}

impl DiskErase {
    fn form(self) -> Vec<(String, String)> {
        match self {
            DiskErase::None => Vec::new(),
            DiskErase::Quick => vec![pair("erase", "true"), pair("quick_erase", "true")],
            DiskErase::Secure => vec![pair("erase", "true"), pair("secure_erase", "true")],
        }
    }
}

/// Settings of the MAAS adapter beyond the engine's.
#[derive(Debug, Clone, PartialEq)]
pub struct MaasSettings {
    /// The Ubuntu series deployed (`jammy`).
    pub distro_series: String,
    /// What a release does to the machine's disks.
    pub erase: DiskErase,
}

impl Default for MaasSettings {
    fn default() -> Self {
        Self {
            distro_series: "jammy".to_string(),
            erase: DiskErase::Quick,
        }
    }
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
        let mapped = map::offers(self.engine.provider_id(), &machines, self.engine.now());
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

    fn kind(&self) -> ProviderKind {
        ProviderKind::Owned
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
        let (tag, zone, pool) =
            map::parse_offer_id(&req.offer_id).ok_or(ProviderError::NotFound)?;
        let allocate = Call::post_form(
            "allocate",
            "/machines/?op=allocate",
            vec![
                pair("tags", tag),
                pair("zone", zone),
                pair("pool", pool),
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
        let mut form = vec![
            pair("distro_series", &self.settings.distro_series),
            pair("agent_name", &req.allocation_id),
        ];
        if let Some(cloud_init) = ownership::ssh_cloud_init(req.ssh_public_key.as_deref()) {
            use base64::Engine as _;
            let encoded = base64::engine::general_purpose::STANDARD.encode(cloud_init);
            form.push(pair("user_data", &encoded));
        }
        let deploy = Call::post_form("deploy", format!("/machines/{id}/?op=deploy"), form);
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
        let mut form = vec![pair("comment", "released by gpubroker")];
        form.extend(self.settings.erase.form());
        let call = Call::post_form("release", format!("/machines/{}/?op=release", id.0), form);
        match self.engine.send(call).await {
            // MAAS answers 409 when the machine cannot be released in its state: a repeated
            // release of a machine already on its way back is a success.
            Err(ProviderError::Transient(_)) | Err(ProviderError::NoCapacity) => {
                let now = self.status(id).await?;
                match now.state {
                    InstanceState::Terminating | InstanceState::Terminated => Ok(()),
                    _ => Err(ProviderError::Transient(format!(
                        "MAAS refused to release machine {} in its current state",
                        id.0
                    ))),
                }
            }
            other => other,
        }
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
