//! No orphans: the reconciler lists a provider's instances and releases every one the broker
//! made (it carries an allocation id, see `providers::ownership`) that no live allocation of
//! this world owns — the allocation is gone, ended, moved to another provider by failover, or
//! owns a different instance. Instances without an allocation id are not ours and are left
//! alone; an allocation still provisioning without a stored instance id keeps its instance
//! (the provisioning step is about to store it).

use providers::{Instance, InstanceState, Provider, ProviderError};
use serde::Serialize;
use serde_json::json;
use tracing::{instrument, warn};

use super::{load_with, Allocation, Allocations};
use crate::events::{self, NewEvent};
use crate::tenants::{Mode, DEFAULT_TENANT};
use crate::Result;

/// What one reconciliation of one provider did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReconcileReport {
    /// Instances listed that carry an allocation id.
    pub owned: usize,
    /// Orphans released (release accepted by the provider).
    pub released: Vec<OrphanRelease>,
    /// Orphans whose release failed (tried again next pass).
    pub failed: usize,
    /// The provider's listing failed: nothing was decided.
    pub listing_error: Option<String>,
}

/// One orphan the reconciler released.
#[derive(Debug, Clone, Serialize)]
pub struct OrphanRelease {
    pub provider: String,
    pub instance_id: String,
    pub allocation_id: String,
    pub reason: &'static str,
}

/// Why an instance is an orphan, or `None` when its allocation still owns it.
pub fn orphan_reason(
    inst: &Instance,
    provider: &str,
    mode: Mode,
    owner: Option<&Allocation>,
) -> Option<&'static str> {
    let Some(a) = owner else {
        return Some("no such allocation");
    };
    if a.mode != mode {
        return Some("the allocation belongs to another world");
    }
    if !a.state.is_live() {
        return Some("the allocation has ended");
    }
    if a.provider.0 != provider {
        return Some("the allocation moved to another provider");
    }
    match &a.instance_id {
        Some(id) if id != &inst.id.0 => Some("the allocation owns another instance"),
        _ => None,
    }
}

impl Allocations {
    /// Lists `provider`'s instances and releases the orphans among them.
    #[instrument(skip_all, fields(provider = %provider.id(), mode = mode.as_str()))]
    pub async fn reconcile(&self, provider: &dyn Provider, mode: Mode) -> Result<ReconcileReport> {
        let mut report = ReconcileReport::default();
        let instances = match provider.list_instances().await {
            Ok(list) => list,
            Err(e) => {
                report.listing_error = Some(e.to_string());
                return Ok(report);
            }
        };
        for inst in instances {
            if inst.allocation_id.is_empty()
                || matches!(
                    inst.state,
                    InstanceState::Terminating | InstanceState::Terminated
                )
            {
                continue;
            }
            report.owned += 1;
            let owner = {
                let mut conn = self.db.pool.acquire().await?;
                match load_with(&mut conn, &inst.allocation_id).await {
                    Ok(a) => Some(a),
                    Err(crate::Error::NotFound { .. }) => None,
                    Err(e) => return Err(e),
                }
            };
            let Some(reason) = orphan_reason(&inst, &provider.id().0, mode, owner.as_ref()) else {
                continue;
            };
            match provider.release(&inst.id).await {
                Ok(()) | Err(ProviderError::NotFound) => {
                    let tenant = owner
                        .as_ref()
                        .map_or(DEFAULT_TENANT, |a| a.tenant_id.as_str());
                    let mut tx = self.db.begin().await?;
                    events::append(
                        &mut tx,
                        self.clock.now_ms(),
                        NewEvent {
                            tenant_id: tenant,
                            topic: "instance.orphan_released",
                            subject_id: &inst.id.0,
                            user_id: owner.as_ref().map(|a| a.user_id.as_str()),
                            payload: &json!({
                                "provider": provider.id(),
                                "instance_id": inst.id.0,
                                "allocation_id": inst.allocation_id,
                                "reason": reason,
                            }),
                        },
                    )
                    .await?;
                    tx.commit().await?;
                    report.released.push(OrphanRelease {
                        provider: provider.id().0.clone(),
                        instance_id: inst.id.0.clone(),
                        allocation_id: inst.allocation_id.clone(),
                        reason,
                    });
                }
                Err(e) => {
                    warn!(instance = %inst.id.0, error = %e, "releasing an orphan failed; retried next pass");
                    report.failed += 1;
                }
            }
        }
        Ok(report)
    }
}
