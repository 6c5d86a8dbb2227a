//! Pure mapping of RunPod wire types to offers, instances and errors.

use chrono::{DateTime, Utc};

use super::wire::{GpuType, Pod, RestError};
use crate::http::{decode, Mapped};
use crate::{
    gpus, Connection, Instance, InstanceId, InstanceState, Offer, OfferId, OfferSource, Pricing,
    ProviderError, ProviderId,
};

/// Where RunPod offers are: the catalogue query is location-free (RunPod places the pod in
/// any data center with stock).
pub(crate) const ANY_REGION: &str = "any";

/// The clouds RunPod sells in.
pub(crate) const SECURE: &str = "SECURE";
pub(crate) const COMMUNITY: &str = "COMMUNITY";

/// One 1-GPU on-demand offer per GPU type and cloud (secure/community) it is sold in, when
/// `lowestPrice` says there is stock. Prices are per GPU-hour.
pub(crate) fn offers(provider: &ProviderId, types: &[GpuType], now: DateTime<Utc>) -> Mapped {
    let mut out = Mapped::default();
    for t in types {
        let in_stock = t
            .lowest_price
            .as_ref()
            .is_some_and(|l| l.uninterruptable_price.is_some());
        if !in_stock {
            continue;
        }
        let Some(model) = gpus::canonical_with_hint(&t.display_name, t.memory_in_gb, &t.id)
            .or_else(|| gpus::canonical(&t.id, t.memory_in_gb))
        else {
            out.unknown_gpus.push(t.id.clone());
            continue;
        };
        let clouds = [
            (SECURE, t.secure_cloud, &t.secure_price),
            (COMMUNITY, t.community_cloud, &t.community_price),
        ];
        for (cloud, sold, price) in clouds {
            let price = price
                .as_ref()
                .and_then(decode::usd_number)
                .filter(|p| p.0 > 0);
            let (Some(true), Some(price)) = (sold, price) else {
                continue;
            };
            out.offers.push(Offer {
                id: offer_id(provider, &t.id, cloud),
                provider: provider.clone(),
                instance_type: format!("1x {} {cloud}", t.display_name),
                gpu_model: model.name.to_string(),
                gpu_count: 1,
                gpu_memory_gib: t.memory_in_gb.unwrap_or(model.memory_gib),
                vcpus: None,
                memory_gib: None,
                storage_gib: None,
                region: ANY_REGION.to_string(),
                country: None,
                pricing: Pricing::OnDemand,
                price_per_hour: price,
                price_per_gpu_hour: price,
                available: 1,
                as_of: now,
                source: OfferSource::Live,
            });
        }
    }
    out
}

/// `runpod:<gpu type id>@<SECURE|COMMUNITY>`.
pub(crate) fn offer_id(provider: &ProviderId, gpu_type: &str, cloud: &str) -> OfferId {
    OfferId::new(provider, &format!("{gpu_type}@{cloud}"))
}

/// The GPU type id and cloud of an offer id this adapter made.
pub(crate) fn parse_offer_id(id: &OfferId) -> Option<(&str, &str)> {
    id.key()
        .rsplit_once('@')
        .filter(|(_, cloud)| *cloud == SECURE || *cloud == COMMUNITY)
}

/// A pod as the broker sees it; the allocation id is the pod name. `RUNNING` counts as
/// running once the public SSH port is mapped (the runtime is up). Pods do not name the
/// cloud they run in, so the offer id carries no key.
pub(crate) fn instance(provider: &ProviderId, p: &Pod) -> Instance {
    let ssh = p
        .public_ip
        .as_ref()
        .filter(|ip| !ip.is_empty())
        .zip(p.port_mappings.as_ref().and_then(|m| m.get("22").copied()));
    let state = match (p.desired_status.as_deref(), ssh) {
        (Some("RUNNING"), Some(_)) => InstanceState::Running,
        (Some("RUNNING" | "CREATED") | None, _) => InstanceState::Pending,
        (Some("TERMINATED"), _) => InstanceState::Terminated,
        _ => InstanceState::Failed,
    };
    let connection = match (state, ssh) {
        (InstanceState::Running, Some((ip, port))) => Some(Connection {
            ssh_host: ip.clone(),
            ssh_port: port,
            ssh_user: "root".to_string(),
            jupyter_url: None,
        }),
        _ => None,
    };
    Instance {
        id: InstanceId(p.id.clone()),
        allocation_id: p.name.clone().unwrap_or_default(),
        offer_id: OfferId::new(provider, ""),
        state,
        connection,
    }
}

/// RunPod says "no longer any instances available" when no machine matches a create.
/// (Vendor text is the only signal RunPod gives; unverified against the live REST API.)
pub(crate) fn classify(_status: u16, body: &[u8]) -> Option<ProviderError> {
    let e: RestError = serde_json::from_slice(body).ok()?;
    e.error
        .to_ascii_lowercase()
        .contains("no longer any instances available")
        .then_some(ProviderError::NoCapacity)
}

/// GraphQL errors (HTTP 200 with `errors`) as the taxonomy: transient, as RunPod gives no
/// machine-readable code.
pub(crate) fn graphql_error(messages: &[String]) -> ProviderError {
    ProviderError::Transient(format!("GraphQL errors: {}", messages.join("; ")))
}
