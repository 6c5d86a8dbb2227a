//! The [`Provider`] trait every GPU source implements, and its error taxonomy.

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::{Offer, OfferId, ProviderId};

/// What an adapter can do, so the UI and the agent know what to offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capabilities {
    pub list_offers: bool,
    pub provision: bool,
    pub status: bool,
    pub release: bool,
    pub list_instances: bool,
}

impl Capabilities {
    pub const ALL: Capabilities = Capabilities {
        list_offers: true,
        provision: true,
        status: true,
        release: true,
        list_instances: true,
    };

    /// Lists offers, nothing else (price catalogues without a provisioning API we use).
    pub const LIST_ONLY: Capabilities = Capabilities {
        list_offers: true,
        provision: false,
        status: false,
        release: false,
        list_instances: false,
    };
}

/// A provider-side instance id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct InstanceId(pub String);

/// What the broker asks a provider to start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProvisionRequest {
    /// Carried to the provider as a tag/label/name so no instance is ever orphaned and a
    /// retried provisioning finds the instance it already made.
    pub allocation_id: String,
    pub offer_id: OfferId,
    pub gpu_count: u32,
    pub disk_gib: u32,
    pub image: String,
    pub ssh_public_key: Option<String>,
}

/// Provider-side lifecycle of an instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InstanceState {
    Pending,
    Running,
    Terminating,
    Terminated,
    Failed,
}

/// How a user reaches a running instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Connection {
    pub ssh_host: String,
    pub ssh_port: u16,
    pub ssh_user: String,
    pub jupyter_url: Option<String>,
}

/// An instance as the provider reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Instance {
    pub id: InstanceId,
    pub allocation_id: String,
    pub offer_id: OfferId,
    pub state: InstanceState,
    pub connection: Option<Connection>,
}

/// The error taxonomy that drives breakers, failover and the reliability criterion.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ProviderError {
    #[error("no capacity for this offer")]
    NoCapacity,
    #[error("account quota exhausted")]
    NoQuota,
    #[error("provider rejected our credentials")]
    Auth,
    #[error("rate limited by the provider")]
    RateLimited { retry_after: Option<Duration> },
    #[error("transient provider failure: {0}")]
    Transient(String),
    #[error("provider answered something we cannot read: {0}")]
    InvalidResponse(String),
    #[error("not supported by this provider")]
    Unsupported,
    #[error("no such instance or offer")]
    NotFound,
}

impl ProviderError {
    /// The taxonomy kind as a stable label (metrics, logs).
    pub fn kind(&self) -> &'static str {
        match self {
            ProviderError::NoCapacity => "no_capacity",
            ProviderError::NoQuota => "no_quota",
            ProviderError::Auth => "auth",
            ProviderError::RateLimited { .. } => "rate_limited",
            ProviderError::Transient(_) => "transient",
            ProviderError::InvalidResponse(_) => "invalid_response",
            ProviderError::Unsupported => "unsupported",
            ProviderError::NotFound => "not_found",
        }
    }

    /// Whether retrying the same call later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            ProviderError::RateLimited { .. } | ProviderError::Transient(_)
        )
    }
}

/// Whose machines a provider sells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    /// A public cloud or marketplace: its offers carry the vendor's price.
    Cloud,
    /// The operator's own machines (MAAS): its offers carry NO price (`price_per_hour` is 0)
    /// and must be priced by the broker from the admin-set hourly cost before anyone sees
    /// them; an owned offer without a cost is never offered.
    Owned,
}

/// One GPU source: a cloud, the operator's MAAS region, or a sandbox simulation of either.
#[async_trait]
pub trait Provider: Send + Sync {
    fn id(&self) -> &ProviderId;

    /// Cloud (priced by the vendor) or owned (priced by the operator).
    fn kind(&self) -> ProviderKind {
        ProviderKind::Cloud
    }

    /// Human name for the UI.
    fn display_name(&self) -> &str;

    fn capabilities(&self) -> Capabilities;

    /// The shared HTTP engine behind this provider (`None`: no engine, e.g. an in-process
    /// simulation).
    fn engine(&self) -> Option<&crate::http::Engine> {
        None
    }

    /// The circuit breaker in front of this provider, when it goes through the engine.
    fn breaker(&self) -> Option<crate::http::BreakerState> {
        self.engine().map(crate::http::Engine::breaker_state)
    }

    /// Listing rows skipped because their GPU is not in the catalogue (never guessed).
    fn unknown_gpus(&self) -> u64 {
        self.engine().map_or(0, crate::http::Engine::skipped_gpus)
    }

    /// The distinct unknown GPU names seen, with their row counts (bounded; see
    /// [`crate::http::MAX_UNKNOWN_GPU_NAMES`]).
    fn unknown_gpu_names(&self) -> Vec<(String, u64)> {
        self.engine()
            .map(crate::http::Engine::unknown_gpu_names)
            .unwrap_or_default()
    }

    async fn list_offers(&self) -> Result<Vec<Offer>, ProviderError>;

    // The lifecycle below defaults to a listing-only provider (its `capabilities` say so):
    // nothing can be started, so it holds no instances. Adapters that provision override
    // all four.

    /// Starts an instance for the allocation. Idempotent per `allocation_id`: a retried call
    /// returns the instance already made for it.
    async fn provision(&self, _req: &ProvisionRequest) -> Result<Instance, ProviderError> {
        Err(ProviderError::Unsupported)
    }

    async fn status(&self, _id: &InstanceId) -> Result<Instance, ProviderError> {
        Err(ProviderError::Unsupported)
    }

    /// Asks for the instance to be terminated; `Ok` means the provider accepted.
    async fn release(&self, _id: &InstanceId) -> Result<(), ProviderError> {
        Err(ProviderError::Unsupported)
    }

    /// Every instance this account holds at the provider (for reconciliation).
    async fn list_instances(&self) -> Result<Vec<Instance>, ProviderError> {
        Ok(Vec::new())
    }

    /// The instance made for `allocation_id`, if any.
    async fn find_by_allocation(
        &self,
        allocation_id: &str,
    ) -> Result<Option<Instance>, ProviderError> {
        Ok(self
            .list_instances()
            .await?
            .into_iter()
            .find(|i| i.allocation_id == allocation_id))
    }
}
