//! Lambda Cloud (`lambda`), through its public REST API v1
//! (<https://docs.lambda.ai/api/cloud>, base `https://cloud.lambda.ai/api/v1`; the historic
//! host `cloud.lambdalabs.com` still answers).
//!
//! - Offers: `GET /instance-types` — price in US cents per instance-hour, GPU count, name and
//!   memory read from `description` (`8x H100 (80 GB SXM5)`), one offer per region listed in
//!   `regions_with_capacity_available`.
//! - Provision: `POST /instance-operations/launch` with the allocation id as the instance
//!   `name`, then `GET /instances/{id}`; status `GET /instances/{id}`; list `GET /instances`;
//!   release `POST /instance-operations/terminate`.
//! - Auth: `Authorization: Bearer <api key>`. Errors: `{"error": {"code": ...}}`, read by
//!   `map::classify` (`.../insufficient-capacity` → no capacity, `global/quota-exceeded` →
//!   no quota).
//! - Rate limit: about one request per second (docs); quota 60/min.

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
use wire::{Envelope, InstanceTypes, InstanceWire, LaunchRequest, Launched, TerminateRequest};

/// Lambda's API as the engine sees it.
pub fn descriptor() -> Descriptor {
    Descriptor {
        id: "lambda",
        display_name: "Lambda Cloud",
        base_url: "https://cloud.lambda.ai/api/v1",
        auth: AuthScheme::Bearer,
        quota_per_minute: 60,
        burst: 2,
        timeout: Duration::from_secs(30),
        retryable_statuses: DEFAULT_RETRYABLE,
        classify_error: Some(map::classify),
    }
}

/// Settings of the Lambda adapter beyond the engine's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LambdaSettings {
    /// The registered SSH key every launch names (Lambda requires exactly one).
    pub ssh_key_name: String,
}

impl Default for LambdaSettings {
    fn default() -> Self {
        Self {
            ssh_key_name: "gpubroker".to_string(),
        }
    }
}

/// The Lambda Cloud adapter.
#[derive(Debug)]
pub struct Lambda {
    engine: Engine,
    settings: LambdaSettings,
}

impl Lambda {
    pub fn new(config: EngineConfig, settings: LambdaSettings) -> Result<Self, EngineError> {
        Ok(Self {
            engine: Engine::new(descriptor(), config)?,
            settings,
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    async fn fetch_offers(&self) -> Result<Vec<Offer>, ProviderError> {
        let types: Envelope<InstanceTypes> = self
            .engine
            .json(Call::get("list_offers", "/instance-types"))
            .await?;
        let mapped = map::offers(self.engine.provider_id(), &types.data, self.engine.now());
        self.engine.count_skipped(&mapped.unknown_gpus);
        Ok(mapped.offers)
    }
}

#[async_trait]
impl Provider for Lambda {
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
        let (instance_type, region) =
            map::parse_offer_id(&req.offer_id).ok_or(ProviderError::NotFound)?;
        let body = LaunchRequest {
            region_name: region,
            instance_type_name: instance_type,
            ssh_key_names: vec![self.settings.ssh_key_name.as_str()],
            quantity: 1,
            name: &req.allocation_id,
        };
        let launched: Envelope<Launched> = self
            .engine
            .json(Call::post("launch", "/instance-operations/launch", &body)?)
            .await?;
        let id = launched
            .data
            .instance_ids
            .into_iter()
            .next()
            .ok_or_else(|| {
                ProviderError::InvalidResponse("launch returned no instance id".to_string())
            })?;
        self.status(&InstanceId(id)).await
    }

    async fn status(&self, id: &InstanceId) -> Result<Instance, ProviderError> {
        let w: Envelope<InstanceWire> = self
            .engine
            .json(Call::get("status", format!("/instances/{}", id.0)))
            .await?;
        map::instance(self.engine.provider_id(), &w.data)
    }

    async fn release(&self, id: &InstanceId) -> Result<(), ProviderError> {
        let body = TerminateRequest {
            instance_ids: vec![id.0.as_str()],
        };
        self.engine
            .send(Call::post(
                "terminate",
                "/instance-operations/terminate",
                &body,
            )?)
            .await
    }

    async fn list_instances(&self) -> Result<Vec<Instance>, ProviderError> {
        let list: Envelope<Vec<InstanceWire>> = self
            .engine
            .json(Call::get("list_instances", "/instances"))
            .await?;
        list.data
            .iter()
            .map(|w| map::instance(self.engine.provider_id(), w))
            .collect()
    }
}
