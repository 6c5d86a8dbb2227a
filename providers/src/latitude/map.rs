//! Pure mapping of Latitude.sh wire types to offers, instances and errors.

use chrono::{DateTime, Utc};

use super::wire::{Errors, Plan, Server};
use crate::http::{decode, message_error, Mapped};
use crate::{
    gpus, ownership, regions, Connection, Instance, InstanceId, InstanceState, Offer, OfferId,
    OfferSource, Pricing, ProviderError, ProviderId,
};

/// One on-demand offer per GPU plan and site with stock (`locations.in_stock`), at the
/// region's `pricing.USD.hour` (USD per server-hour). CPU plans (`gpu: {}`) are not GPU
/// offers and are left out (not counted as unknown). A site in stock counts as one unit.
pub(crate) fn offers(provider: &ProviderId, plans: &[Plan], now: DateTime<Utc>) -> Mapped {
    let mut out = Mapped::default();
    for p in plans {
        let a = &p.attributes;
        let Some(gpu) = a.specs.gpu.as_ref() else {
            continue;
        };
        let (Some(count), Some(kind)) = (gpu.count.filter(|&c| c > 0), gpu.kind.as_deref()) else {
            continue;
        };
        let Some(model) = gpus::canonical_with_hint(kind, None, &a.slug) else {
            out.unknown_gpus.push(kind.to_string());
            continue;
        };
        let vcpus = a
            .specs
            .cpu
            .as_ref()
            .and_then(|c| Some(c.cores? * c.count.unwrap_or(1)));
        for region in &a.regions {
            let Some(price) = region
                .pricing
                .usd
                .as_ref()
                .and_then(|u| decode::usd_number(&u.hour))
                .filter(|p| p.0 > 0)
            else {
                continue;
            };
            for site in &region.locations.in_stock {
                out.offers.push(Offer {
                    id: offer_id(provider, &a.slug, site),
                    provider: provider.clone(),
                    instance_type: a.slug.clone(),
                    gpu_model: model.name.to_string(),
                    gpu_count: count,
                    gpu_memory_gib: model.memory_gib,
                    vcpus,
                    memory_gib: a.specs.memory.as_ref().map(|m| m.total),
                    storage_gib: None,
                    region: site.clone(),
                    country: regions::country_of(&provider.0, site).map(str::to_string),
                    pricing: Pricing::OnDemand,
                    price_per_hour: price,
                    price_per_gpu_hour: price.per_unit(count),
                    available: 1,
                    as_of: now,
                    source: OfferSource::Live,
                });
            }
        }
    }
    out
}

/// `latitude:<plan slug>@<site>`.
pub(crate) fn offer_id(provider: &ProviderId, plan: &str, site: &str) -> OfferId {
    OfferId::new(provider, &format!("{plan}@{site}"))
}

/// The plan slug and site of an offer id this adapter made.
pub(crate) fn parse_offer_id(id: &OfferId) -> Option<(&str, &str)> {
    id.key().split_once('@')
}

/// A server as the broker sees it; the allocation id comes from its hostname. Latitude's
/// status set is open (provisioning slugs come and go): anything not named here is still
/// on its way (`Pending`).
pub(crate) fn instance(provider: &ProviderId, s: &Server) -> Instance {
    let a = &s.attributes;
    let state = match a.status.as_str() {
        "on" => InstanceState::Running,
        "off" | "failed_deployment" | "rescue_mode" => InstanceState::Failed,
        "disk_erasing" | "deleting" | "deprovisioning" => InstanceState::Terminating,
        "deleted" => InstanceState::Terminated,
        _ => InstanceState::Pending,
    };
    let connection = match (a.primary_ipv4.as_deref(), state) {
        (Some(ip), InstanceState::Running) if !ip.is_empty() => Some(Connection {
            ssh_host: ip.to_string(),
            ssh_port: 22,
            ssh_user: "ubuntu".to_string(),
            jupyter_url: None,
        }),
        _ => None,
    };
    let offer_id = match (&a.plan, &a.region) {
        (Some(plan), Some(region)) => offer_id(provider, &plan.slug, &region.site.slug),
        _ => OfferId::new(provider, ""),
    };
    Instance {
        id: InstanceId(s.id.clone()),
        allocation_id: a
            .hostname
            .as_deref()
            .and_then(ownership::allocation_of_name)
            .unwrap_or_default()
            .to_string(),
        offer_id,
        state,
        connection,
    }
}

/// JSON:API error lists. A `423 locked` server cannot be changed now (transient); the rest
/// is read as free text (title + detail). Rate limits and server errors keep the status
/// mapping.
pub(crate) fn classify(status: u16, body: &[u8]) -> Option<ProviderError> {
    if status == 429 || status >= 500 {
        return None;
    }
    let e: Errors = serde_json::from_slice(body).ok()?;
    let first = e.errors.first()?;
    if status == 423 || first.status.as_deref() == Some("locked") {
        return Some(ProviderError::Transient(format!(
            "server locked: {}",
            first.detail.as_deref().unwrap_or_default()
        )));
    }
    let text = format!(
        "{} {}",
        first.title.as_deref().unwrap_or_default(),
        first.detail.as_deref().unwrap_or_default()
    );
    Some(message_error(status, &text))
}
