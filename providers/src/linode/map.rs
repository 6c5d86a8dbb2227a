//! Pure mapping of Linode wire types to offers, instances and errors.

use chrono::{DateTime, Utc};

use super::wire::{Availability, Errors, Linode, LinodeType};
use crate::http::{decode, message_error, Mapped};
use crate::{
    gpus, ownership, regions, Connection, Instance, InstanceId, InstanceState, Offer, OfferId,
    OfferSource, Pricing, ProviderError, ProviderId,
};

/// One on-demand offer per GPU type (`class: gpu`) and region that `/regions/availability`
/// says has it (the plan named by id or by label). The price is the region's
/// `region_prices` entry, else the type's `price.hourly` (USD per instance-hour). Linode
/// does not say how many fit; an available region counts as one.
pub(crate) fn offers(
    provider: &ProviderId,
    types: &[LinodeType],
    availability: &[Availability],
    now: DateTime<Utc>,
) -> Mapped {
    let mut out = Mapped::default();
    for t in types.iter().filter(|t| t.class == "gpu" && t.gpus > 0) {
        let Some(name) = gpu_name(t) else {
            out.unknown_gpus.push(t.label.clone());
            continue;
        };
        let Some(model) = gpus::canonical_with_hint(&name, None, &t.id) else {
            out.unknown_gpus.push(t.label.clone());
            continue;
        };
        for a in availability
            .iter()
            .filter(|a| a.available && (a.plan == t.id || a.plan == t.label))
        {
            let hourly = t
                .region_prices
                .iter()
                .find(|p| p.id == a.region)
                .map_or(&t.price.hourly, |p| &p.hourly);
            let Some(price) = decode::usd_number(hourly).filter(|p| p.0 > 0) else {
                continue;
            };
            out.offers.push(Offer {
                id: offer_id(provider, &t.id, &a.region),
                provider: provider.clone(),
                instance_type: t.id.clone(),
                gpu_model: model.name.to_string(),
                gpu_count: t.gpus,
                gpu_memory_gib: model.memory_gib,
                vcpus: Some(t.vcpus),
                memory_gib: Some(t.memory as f64 / 1024.0),
                storage_gib: u32::try_from(t.disk / 1024).ok(),
                region: a.region.clone(),
                country: regions::country_of(&provider.0, &a.region).map(str::to_string),
                pricing: Pricing::OnDemand,
                price_per_hour: price,
                price_per_gpu_hour: price.per_unit(t.gpus),
                available: 1,
                as_of: now,
                source: OfferSource::Live,
            });
        }
    }
    out
}

/// The GPU a type's label names (`Dedicated 32GB + RTX6000 GPU x1` → `RTX6000`). Linode's
/// first GPU generation (`g1-gpu-*`) is the Quadro RTX 6000 (Linode's GPU plan docs); the
/// label alone would be ambiguous with the RTX 6000 Ada.
pub(crate) fn gpu_name(t: &LinodeType) -> Option<String> {
    let after_plus = t.label.split_once('+').map_or(t.label.as_str(), |(_, r)| r);
    let name = after_plus
        .split(" GPU")
        .next()
        .map(str::trim)
        .filter(|n| !n.is_empty())?;
    Some(if t.id.starts_with("g1-gpu-") {
        format!("Quadro {name}")
    } else {
        name.to_string()
    })
}

/// `linode:<type>@<region>`.
pub(crate) fn offer_id(provider: &ProviderId, kind: &str, region: &str) -> OfferId {
    OfferId::new(provider, &format!("{kind}@{region}"))
}

/// The type and region of an offer id this adapter made.
pub(crate) fn parse_offer_id(id: &OfferId) -> Option<(&str, &str)> {
    id.key().split_once('@')
}

/// An instance as the broker sees it; the allocation id comes from its label
/// (`gpubroker-<allocation id>`; Linode tags are too short for a UUID).
pub(crate) fn instance(provider: &ProviderId, l: &Linode) -> Result<Instance, ProviderError> {
    let state = match l.status.as_str() {
        "provisioning" | "booting" | "rebooting" | "migrating" | "rebuilding" | "cloning"
        | "restoring" | "resizing" => InstanceState::Pending,
        "running" => InstanceState::Running,
        "offline" | "stopped" | "shutting_down" => InstanceState::Failed,
        "deleting" => InstanceState::Terminating,
        other => {
            return Err(ProviderError::InvalidResponse(format!(
                "unknown instance status `{other}`"
            )))
        }
    };
    let connection = match (l.ipv4.first(), state) {
        (Some(ip), InstanceState::Running) => Some(Connection {
            ssh_host: ip.clone(),
            ssh_port: 22,
            ssh_user: "root".to_string(),
            jupyter_url: None,
        }),
        _ => None,
    };
    let offer_id = match (&l.kind, &l.region) {
        (Some(kind), Some(region)) => offer_id(provider, kind, region),
        _ => OfferId::new(provider, ""),
    };
    Ok(Instance {
        id: InstanceId(l.id.to_string()),
        allocation_id: l
            .label
            .as_deref()
            .and_then(ownership::allocation_of_name)
            .unwrap_or_default()
            .to_string(),
        offer_id,
        state,
        connection,
    })
}

/// Linode's `{"errors": [{"reason": ...}]}` bodies, read as free text. Rate limits and server
/// errors keep the status mapping.
pub(crate) fn classify(status: u16, body: &[u8]) -> Option<ProviderError> {
    if status == 429 || status >= 500 {
        return None;
    }
    let e: Errors = serde_json::from_slice(body).ok()?;
    let text: Vec<&str> = e.errors.iter().map(|r| r.reason.as_str()).collect();
    (!text.is_empty()).then(|| message_error(status, &text.join("; ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_map_through_their_text() {
        let body = br#"{"errors": [{"reason": "Not enough capacity in region us-east"}]}"#;
        assert_eq!(classify(400, body), Some(ProviderError::NoCapacity));
        let body = br#"{"errors": [{"reason": "Invalid Token"}]}"#;
        assert_eq!(classify(401, body), Some(ProviderError::Auth));
        assert_eq!(classify(400, b"{}"), None);
    }
}
