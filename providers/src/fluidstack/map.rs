//! Pure mapping of FluidStack wire types to offers, instances and errors.

use chrono::{DateTime, Utc};

use super::wire::{Configuration, Decimal, ErrorBody, InstanceWire};
use crate::http::{decode, message_error, Mapped};
use crate::{
    gpus, ownership, regions, Connection, Instance, InstanceId, InstanceState, MicroUsd, Offer,
    OfferId, OfferSource, Pricing, ProviderError, ProviderId,
};

/// One on-demand offer per configuration, GPU count and region: `price_per_gpu_hr` ×
/// count (USD per instance-hour). The list says neither vCPUs nor RAM nor how many
/// instances fit; a listed region counts as one.
pub(crate) fn offers(
    provider: &ProviderId,
    configs: &[Configuration],
    now: DateTime<Utc>,
) -> Mapped {
    let mut out = Mapped::default();
    for c in configs {
        let spelling = c.gpu_type.replace('_', " ");
        let Some(model) = gpus::canonical_with_hint(&spelling, None, "") else {
            out.unknown_gpus.push(c.gpu_type.clone());
            continue;
        };
        let per_gpu = match &c.price_per_gpu_hr {
            Decimal::Number(n) => decode::usd_number(n),
            Decimal::Text(t) => decode::usd_text(t),
        };
        let Some(per_gpu) = per_gpu.filter(|p| p.0 > 0) else {
            continue;
        };
        for &count in c.gpu_counts.iter().filter(|&&n| n > 0) {
            let price = MicroUsd(per_gpu.0 * i64::from(count));
            for region in &c.regions {
                out.offers.push(Offer {
                    id: offer_id(provider, &c.gpu_type, count, region),
                    provider: provider.clone(),
                    instance_type: c.gpu_type.clone(),
                    gpu_model: model.name.to_string(),
                    gpu_count: count,
                    gpu_memory_gib: model.memory_gib,
                    vcpus: None,
                    memory_gib: None,
                    storage_gib: None,
                    region: region.clone(),
                    country: regions::country_of(&provider.0, region).map(str::to_string),
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

/// `fluidstack:<count>x<gpu type>@<region>`.
pub(crate) fn offer_id(provider: &ProviderId, gpu_type: &str, count: u32, region: &str) -> OfferId {
    OfferId::new(provider, &format!("{count}x{gpu_type}@{region}"))
}

/// The GPU count, GPU type and region of an offer id this adapter made.
pub(crate) fn parse_offer_id(id: &OfferId) -> Option<(u32, &str, &str)> {
    let (head, region) = id.key().split_once('@')?;
    let (count, gpu_type) = head.split_once('x')?;
    Some((count.parse().ok()?, gpu_type, region))
}

/// An instance as the broker sees it; the allocation id comes from its name.
pub(crate) fn instance(provider: &ProviderId, w: &InstanceWire) -> Instance {
    let state = match w.status.to_ascii_lowercase().as_str() {
        "running" => InstanceState::Running,
        "stopping" | "stop" | "stopped" | "failed to create" | "timeout error" | "out of stock"
        | "error" => InstanceState::Failed,
        "terminating" => InstanceState::Terminating,
        "terminated" => InstanceState::Terminated,
        // create, requesting, provisioning, customizing, starting, start, reboot, rebooting.
        _ => InstanceState::Pending,
    };
    let connection = match (w.ip_address.as_deref(), state) {
        (Some(ip), InstanceState::Running) if !ip.is_empty() => Some(Connection {
            ssh_host: ip.to_string(),
            ssh_port: w.ssh_port.unwrap_or(22),
            ssh_user: "ubuntu".to_string(),
            jupyter_url: None,
        }),
        _ => None,
    };
    let offer_id = match (&w.gpu_type, w.gpu_count, &w.region) {
        (Some(t), Some(n), Some(r)) => offer_id(provider, t, n, r),
        _ => OfferId::new(provider, ""),
    };
    Instance {
        id: InstanceId(w.id.clone()),
        allocation_id: w
            .name
            .as_deref()
            .and_then(ownership::allocation_of_name)
            .unwrap_or_default()
            .to_string(),
        offer_id,
        state,
        connection,
    }
}

/// `{"detail": ...}` / `{"error": ...}` bodies read as free text (`out of stock` → no
/// capacity). Rate limits and server errors keep the status mapping.
pub(crate) fn classify(status: u16, body: &[u8]) -> Option<ProviderError> {
    if status == 429 || status >= 500 {
        return None;
    }
    let e: ErrorBody = serde_json::from_slice(body).ok()?;
    Some(message_error(status, &e.detail))
}
