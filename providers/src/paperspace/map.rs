//! Pure mapping of the Paperspace catalogue and machines to offers and instances.

use chrono::{DateTime, Utc};

use super::catalog::CatalogRow;
use super::wire::Machine;
use crate::http::{decode, Mapped};
use crate::{
    gpus, ownership, regions, Connection, Instance, InstanceId, InstanceState, Offer, OfferId,
    OfferSource, Pricing, ProviderError, ProviderId,
};

/// One on-demand offer per catalogue row, `source = catalog`, dated `as_of`.
pub(crate) fn offers(provider: &ProviderId, rows: &[CatalogRow], as_of: DateTime<Utc>) -> Mapped {
    let mut out = Mapped::default();
    for r in rows {
        let Some(model) = gpus::canonical_with_hint(r.gpu, r.gpu_memory_gib, r.machine_type) else {
            out.unknown_gpus.push(r.gpu.to_string());
            continue;
        };
        let Some(price) = decode::usd_text(r.price).filter(|p| p.0 > 0) else {
            continue;
        };
        out.offers.push(Offer {
            id: offer_id(provider, r.machine_type, r.region),
            provider: provider.clone(),
            instance_type: r.machine_type.to_string(),
            gpu_model: model.name.to_string(),
            gpu_count: r.gpu_count,
            gpu_memory_gib: r.gpu_memory_gib.unwrap_or(model.memory_gib),
            vcpus: Some(r.vcpus),
            memory_gib: Some(r.memory_gib),
            storage_gib: None,
            region: r.region.to_string(),
            country: regions::country_of(&provider.0, r.region).map(str::to_string),
            pricing: Pricing::OnDemand,
            price_per_hour: price,
            price_per_gpu_hour: price.per_unit(r.gpu_count),
            available: 1,
            as_of,
            source: OfferSource::Catalog,
        });
    }
    out
}

/// `paperspace:<machine type>@<region>`.
pub(crate) fn offer_id(provider: &ProviderId, machine_type: &str, region: &str) -> OfferId {
    OfferId::new(provider, &format!("{machine_type}@{region}"))
}

pub(crate) fn parse_offer_id(id: &OfferId) -> Option<(&str, &str)> {
    id.key().split_once('@')
}

/// A machine as the broker sees it: its name carries the allocation id. The broker never stops
/// machines, so one that is off or stopping has failed.
pub(crate) fn instance(provider: &ProviderId, m: &Machine) -> Result<Instance, ProviderError> {
    let state = match m.state.as_str() {
        "provisioning" | "starting" | "serviceready" | "restarting" | "upgrading" => {
            InstanceState::Pending
        }
        "ready" => InstanceState::Running,
        "off" | "stopping" => InstanceState::Failed,
        other => {
            return Err(ProviderError::InvalidResponse(format!(
                "unknown machine state `{other}`"
            )))
        }
    };
    let connection = match (&m.public_ip, state) {
        (Some(ip), InstanceState::Running) if !ip.is_empty() => Some(Connection {
            ssh_host: ip.clone(),
            ssh_port: 22,
            ssh_user: "paperspace".to_string(),
            jupyter_url: None,
        }),
        _ => None,
    };
    Ok(Instance {
        id: InstanceId(m.id.clone()),
        allocation_id: ownership::allocation_of_name(&m.name)
            .unwrap_or_default()
            .to_string(),
        offer_id: offer_id(provider, &m.machine_type, &m.region),
        state,
        connection,
    })
}
