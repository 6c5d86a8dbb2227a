//! RunPod (`runpod`): offers from the GraphQL catalogue, pods through REST v1.
//!
//! - Offers: `POST https://api.runpod.io/graphql` `gpuTypes { id displayName memoryInGb
//!   secureCloud communityCloud securePrice communityPrice lowestPrice(input: {gpuCount: 1})
//!   { uninterruptablePrice } }` — USD per GPU-hour; a type whose `lowestPrice` is null has
//!   no stock and is left out. GraphQL errors arrive as HTTP 200 with `errors[]`.
//! - Pods (<https://docs.runpod.io/api-reference>, base `https://rest.runpod.io/v1`):
//!   `POST /pods` with the allocation id as `name`, `GET /pods/{id}`, `GET /pods`,
//!   `DELETE /pods/{id}`; `desiredStatus` `CREATED|RUNNING|EXITED|TERMINATED`, SSH at
//!   `publicIp` + `portMappings["22"]`.
//! - Auth: `Authorization: Bearer <api key>` on both hosts.
//! - Rate limit: undocumented; quota 120/min.

mod map;
mod wire;

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;

use crate::http::{
    AuthScheme, Call, Descriptor, Engine, EngineConfig, EngineError, DEFAULT_RETRYABLE,
};
use crate::{
    Capabilities, Instance, InstanceId, InstanceState, Offer, Provider, ProviderError, ProviderId,
    ProvisionRequest,
};
use wire::{CreatePod, GpuTypesData, GraphQl, GraphQlAnswer, Pod};

const GPU_TYPES_QUERY: &str = "query GpuTypes { gpuTypes { id displayName memoryInGb \
secureCloud communityCloud securePrice communityPrice lowestPrice(input: {gpuCount: 1}) { \
uninterruptablePrice minimumBidPrice stockStatus } } }";

/// RunPod's API as the engine sees it (base = the GraphQL host).
pub fn descriptor() -> Descriptor {
    Descriptor {
        id: "runpod",
        display_name: "RunPod",
        base_url: "https://api.runpod.io",
        auth: AuthScheme::Bearer,
        quota_per_minute: 120,
        burst: 10,
        timeout: Duration::from_secs(30),
        retryable_statuses: DEFAULT_RETRYABLE,
        classify_error: Some(map::classify),
    }
}

/// Settings of the RunPod adapter beyond the engine's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunPodSettings {
    /// Root of the REST API for pods.
    pub rest_base_url: String,
}

impl Default for RunPodSettings {
    fn default() -> Self {
        Self {
            rest_base_url: "https://rest.runpod.io/v1".to_string(),
        }
    }
}

/// The RunPod adapter.
#[derive(Debug)]
pub struct RunPod {
    engine: Engine,
    settings: RunPodSettings,
}

impl RunPod {
    pub fn new(config: EngineConfig, settings: RunPodSettings) -> Result<Self, EngineError> {
        Ok(Self {
            engine: Engine::new(descriptor(), config)?,
            settings,
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    fn rest(&self, call: Call) -> Call {
        call.at(self.settings.rest_base_url.clone())
    }

    async fn fetch_offers(&self) -> Result<Vec<Offer>, ProviderError> {
        let body = GraphQl {
            query: GPU_TYPES_QUERY,
        };
        let answer: GraphQlAnswer<GpuTypesData> = self
            .engine
            .json(Call::post("list_offers", "/graphql", &body)?.idempotent())
            .await?;
        if !answer.errors.is_empty() {
            let messages: Vec<String> = answer.errors.into_iter().map(|e| e.message).collect();
            return Err(map::graphql_error(&messages));
        }
        let data = answer.data.ok_or_else(|| {
            ProviderError::InvalidResponse("GraphQL answer without data".to_string())
        })?;
        let mapped = map::offers(
            self.engine.provider_id(),
            &data.gpu_types,
            self.engine.now(),
        );
        self.engine.count_skipped(&mapped.unknown_gpus);
        Ok(mapped.offers)
    }
}

#[async_trait]
impl Provider for RunPod {
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
        let (gpu_type, cloud) =
            map::parse_offer_id(&req.offer_id).ok_or(ProviderError::NotFound)?;
        let mut env = BTreeMap::new();
        if let Some(key) = &req.ssh_public_key {
            env.insert("PUBLIC_KEY", key.as_str());
        }
        let body = CreatePod {
            name: &req.allocation_id,
            image_name: &req.image,
            compute_type: "GPU",
            cloud_type: cloud,
            gpu_type_ids: vec![gpu_type],
            gpu_count: req.gpu_count.max(1),
            container_disk_in_gb: req.disk_gib,
            ports: vec!["22/tcp"],
            support_public_ip: true,
            interruptible: false,
            env,
        };
        let pod: Pod = self
            .engine
            .json(self.rest(Call::post("create_pod", "/pods", &body)?))
            .await?;
        Ok(map::instance(self.engine.provider_id(), &pod))
    }

    async fn status(&self, id: &InstanceId) -> Result<Instance, ProviderError> {
        let pod: Pod = self
            .engine
            .json(self.rest(Call::get("status", format!("/pods/{}", id.0))))
            .await?;
        Ok(map::instance(self.engine.provider_id(), &pod))
    }

    async fn release(&self, id: &InstanceId) -> Result<(), ProviderError> {
        self.engine
            .send(self.rest(Call::delete("delete_pod", format!("/pods/{}", id.0))))
            .await
    }

    async fn list_instances(&self) -> Result<Vec<Instance>, ProviderError> {
        let pods: Vec<Pod> = self
            .engine
            .json(self.rest(Call::get("list_instances", "/pods")))
            .await?;
        Ok(pods
            .iter()
            .map(|p| map::instance(self.engine.provider_id(), p))
            .collect())
    }
}
