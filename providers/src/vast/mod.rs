//! Vast.ai (`vast`), through its REST API v0 (<https://docs.vast.ai/api-reference>, base
//! `https://console.vast.ai/api/v0`).
//!
//! - Offers: `POST /bundles/` with a filter (`verified`, `rentable`, not `rented`, on-demand,
//!   cheapest first) → `offers[]`, one per machine slice; price `dph_total` (USD per
//!   instance-hour, all in), GPU memory `gpu_ram` in MB, region `geolocation`.
//! - Provision: `PUT /asks/{id}/` with the allocation id as `label` →
//!   `{"success": true, "new_contract": <instance id>}`; status `GET /instances/{id}/`
//!   (`{"instances": {...}}`, `actual_status` null → loading → running); list
//!   `GET /instances/`; release `DELETE /instances/{id}/`.
//! - Auth: `Authorization: Bearer <api key>`. Errors: `{"success": false, "error": ...}`,
//!   read by `map::classify` (`no_such_ask` → no capacity: someone rented it first).
//! - Rate limit: undocumented; 429s are frequent on instance calls (dstack), so the quota is
//!   conservative.

mod map;
mod wire;

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::json;

use crate::http::{
    AuthScheme, Call, Descriptor, Engine, EngineConfig, EngineError, DEFAULT_RETRYABLE,
};
use crate::{
    Capabilities, Instance, InstanceId, InstanceState, Offer, Provider, ProviderError, ProviderId,
    ProvisionRequest,
};
use wire::{Bundles, CreateInstance, InstanceList, InstanceOne, Op, Outcome, Search};

/// Vast's API as the engine sees it.
pub fn descriptor() -> Descriptor {
    Descriptor {
        id: "vast",
        display_name: "Vast.ai",
        base_url: "https://console.vast.ai/api/v0",
        auth: AuthScheme::Bearer,
        quota_per_minute: 60,
        burst: 5,
        timeout: Duration::from_secs(30),
        retryable_statuses: DEFAULT_RETRYABLE,
        classify_error: Some(map::classify),
    }
}

/// The Vast.ai adapter.
#[derive(Debug)]
pub struct Vast {
    engine: Engine,
}

impl Vast {
    pub fn new(config: EngineConfig) -> Result<Self, EngineError> {
        Ok(Self {
            engine: Engine::new(descriptor(), config)?,
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    async fn fetch_offers(&self) -> Result<Vec<Offer>, ProviderError> {
        let search = Search {
            verified: Op::Eq(json!(true)),
            rentable: Op::Eq(json!(true)),
            rented: Op::Eq(json!(false)),
            num_gpus: Op::Gte(json!(1)),
            kind: "on-demand",
            order: vec![["dph_total", "asc"]],
            limit: 1000,
        };
        let bundles: Bundles = self
            .engine
            .json(Call::post("list_offers", "/bundles/", &search)?.idempotent())
            .await?;
        let mapped = map::offers(
            self.engine.provider_id(),
            &bundles.offers,
            self.engine.now(),
        );
        self.engine.count_skipped(&mapped.unknown_gpus);
        Ok(mapped.offers)
    }
}

#[async_trait]
impl Provider for Vast {
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
        let ask = map::ask_id(&req.offer_id).ok_or(ProviderError::NotFound)?;
        let body = CreateInstance {
            client_id: "me",
            image: &req.image,
            disk: req.disk_gib,
            label: &req.allocation_id,
            env: BTreeMap::from([("-p 22:22", "1")]),
            runtype: "ssh",
            price: None,
        };
        let outcome: Outcome = self
            .engine
            .json(Call::put("rent", format!("/asks/{ask}/"), &body)?)
            .await?;
        let id = map::created(&outcome)?;
        self.status(&id).await
    }

    async fn status(&self, id: &InstanceId) -> Result<Instance, ProviderError> {
        let one: InstanceOne = self
            .engine
            .json(Call::get("status", format!("/instances/{}/", id.0)))
            .await?;
        let w = one.instances.ok_or(ProviderError::NotFound)?;
        Ok(map::instance(self.engine.provider_id(), &w))
    }

    async fn release(&self, id: &InstanceId) -> Result<(), ProviderError> {
        self.engine
            .send(Call::delete("destroy", format!("/instances/{}/", id.0)))
            .await
    }

    async fn list_instances(&self) -> Result<Vec<Instance>, ProviderError> {
        let list: InstanceList = self
            .engine
            .json(Call::get("list_instances", "/instances/"))
            .await?;
        Ok(list
            .instances
            .iter()
            .map(|w| map::instance(self.engine.provider_id(), w))
            .collect())
    }
}
