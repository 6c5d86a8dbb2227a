//! [`SimProvider`]: one simulated cloud, speaking the [`Provider`] trait over the shared
//! [`Market`]. Every call first waits the provider's `latency` knob and may fail at its
//! `failure_rate`.

use std::sync::Arc;

use async_trait::async_trait;
use providers::{
    Capabilities, Instance, InstanceId, Offer, Provider, ProviderError, ProviderId,
    ProvisionRequest,
};

use crate::market::Market;

/// One simulated provider (e.g. `runpod`, shown as "RunPod").
#[derive(Debug, Clone)]
pub struct SimProvider {
    market: Arc<Market>,
    id: ProviderId,
    display_name: String,
}

impl SimProvider {
    pub fn new(market: Arc<Market>, id: ProviderId, display_name: String) -> Self {
        Self {
            market,
            id,
            display_name,
        }
    }

    /// The market behind this provider (for scenario knobs in tests and sandbox mode).
    pub fn market(&self) -> &Arc<Market> {
        &self.market
    }

    /// Latency, then the seeded failure draw.
    async fn enter(&self) -> Result<(), ProviderError> {
        let latency = self.market.knobs(&self.id.0).latency;
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        self.market.fault(&self.id.0)
    }
}

#[async_trait]
impl Provider for SimProvider {
    fn id(&self) -> &ProviderId {
        &self.id
    }

    fn display_name(&self) -> &str {
        &self.display_name
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::ALL
    }

    #[tracing::instrument(skip_all, fields(provider = %self.id))]
    async fn list_offers(&self) -> Result<Vec<Offer>, ProviderError> {
        self.enter().await?;
        Ok(self.market.offers(&self.id))
    }

    #[tracing::instrument(
        skip_all,
        fields(provider = %self.id, allocation_id = %req.allocation_id, offer_id = %req.offer_id)
    )]
    async fn provision(&self, req: &ProvisionRequest) -> Result<Instance, ProviderError> {
        self.enter().await?;
        self.market.provision(&self.id, req)
    }

    #[tracing::instrument(skip_all, fields(provider = %self.id, instance_id = %id.0))]
    async fn status(&self, id: &InstanceId) -> Result<Instance, ProviderError> {
        self.enter().await?;
        self.market.status(&self.id, id)
    }

    #[tracing::instrument(skip_all, fields(provider = %self.id, instance_id = %id.0))]
    async fn release(&self, id: &InstanceId) -> Result<(), ProviderError> {
        self.enter().await?;
        self.market.release(&self.id, id)
    }

    #[tracing::instrument(skip_all, fields(provider = %self.id))]
    async fn list_instances(&self) -> Result<Vec<Instance>, ProviderError> {
        self.enter().await?;
        Ok(self.market.instances(&self.id))
    }

    #[tracing::instrument(skip_all, fields(provider = %self.id, allocation_id))]
    async fn find_by_allocation(
        &self,
        allocation_id: &str,
    ) -> Result<Option<Instance>, ProviderError> {
        tracing::Span::current().record("allocation_id", allocation_id);
        self.enter().await?;
        Ok(self.market.find_by_allocation(&self.id, allocation_id))
    }
}
