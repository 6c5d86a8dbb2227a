//! Pure mapping of Lambda wire types to offers, instances and errors.

use chrono::{DateTime, Utc};

use super::wire::{Cents, ErrorEnvelope, InstanceTypes, InstanceWire};
use crate::http::Mapped;
use crate::{
    gpus, regions, Connection, Instance, InstanceId, InstanceState, MicroUsd, Offer, OfferId,
    OfferSource, Pricing, ProviderError, ProviderId,
};

/// One on-demand offer per instance type and region with capacity. Lambda does not say how
/// many units are free; a listed region counts as one.
pub(crate) fn offers(provider: &ProviderId, types: &InstanceTypes, now: DateTime<Utc>) -> Mapped {
    let mut out = Mapped::default();
    for entry in types.values() {
        let t = &entry.instance_type;
        let Some(gpu) = gpu_of(t.gpu_description.as_deref(), &t.description, t.specs.gpus) else {
            out.unknown_gpus.push(t.description.clone());
            continue;
        };
        let hint = format!("{} {}", gpu.qualifier, t.name);
        let Some(model) = gpus::canonical_with_hint(&gpu.name, Some(gpu.memory_gib), &hint) else {
            out.unknown_gpus.push(t.description.clone());
            continue;
        };
        let Some(price) = cents(&t.price_cents_per_hour) else {
            out.unknown_gpus
                .push(format!("{} (unreadable price)", t.name));
            continue;
        };
        for region in &entry.regions_with_capacity_available {
            out.offers.push(Offer {
                id: offer_id(provider, &t.name, &region.name),
                provider: provider.clone(),
                instance_type: t.name.clone(),
                gpu_model: model.name.to_string(),
                gpu_count: gpu.count,
                gpu_memory_gib: gpu.memory_gib,
                vcpus: t.specs.vcpus,
                memory_gib: t.specs.memory_gib,
                storage_gib: t.specs.storage_gib,
                region: region.name.clone(),
                country: regions::country_of(&provider.0, &region.name).map(str::to_string),
                pricing: Pricing::OnDemand,
                price_per_hour: price,
                price_per_gpu_hour: price.per_unit(gpu.count),
                available: 1,
                as_of: now,
                source: OfferSource::Live,
            });
        }
    }
    out
}

/// `lambda:<instance type>@<region>`.
pub(crate) fn offer_id(provider: &ProviderId, instance_type: &str, region: &str) -> OfferId {
    OfferId::new(provider, &format!("{instance_type}@{region}"))
}

/// The instance type and region of an offer id this adapter made.
pub(crate) fn parse_offer_id(id: &OfferId) -> Option<(&str, &str)> {
    id.key().split_once('@')
}

/// A GPU as Lambda describes it.
#[derive(Debug, PartialEq)]
pub(crate) struct GpuSpec {
    pub count: u32,
    pub name: String,
    pub memory_gib: f64,
    /// Words after the memory inside the parentheses (`SXM4`, `PCIe`).
    pub qualifier: String,
}

/// Reads `1x A100 (40 GB SXM4)` (or `gpu_description` `A100 (40 GB SXM4)` plus the count
/// from `specs.gpus`). `Tesla ` before the name is dropped.
pub(crate) fn gpu_of(
    gpu_description: Option<&str>,
    description: &str,
    count: Option<u32>,
) -> Option<GpuSpec> {
    let (prefix_count, rest) = match description.split_once("x ") {
        Some((n, rest)) => (n.trim().parse::<u32>().ok(), rest),
        None => (None, description),
    };
    let count = count.or(prefix_count).filter(|&c| c > 0)?;
    let text = gpu_description.unwrap_or(if prefix_count.is_some() {
        rest
    } else {
        description
    });
    let (name, paren) = text.split_once('(')?;
    let inside = paren.trim_end().strip_suffix(')')?;
    let mut words = inside.split_whitespace();
    let memory_gib: f64 = words.next()?.parse().ok()?;
    if !words.next()?.eq_ignore_ascii_case("GB") {
        return None;
    }
    let qualifier = words.collect::<Vec<_>>().join(" ");
    let name = name.trim();
    let name = name.strip_prefix("Tesla ").unwrap_or(name).to_string();
    (memory_gib > 0.0 && !name.is_empty()).then_some(GpuSpec {
        count,
        name,
        memory_gib,
        qualifier,
    })
}

/// Cents (integer or decimal-free string) to micro-USD.
pub(crate) fn cents(c: &Cents) -> Option<MicroUsd> {
    let n = match c {
        Cents::Number(n) => *n,
        Cents::Text(s) => s.trim().parse().ok()?,
    };
    (n > 0).then(|| MicroUsd(n.saturating_mul(10_000)))
}

/// An instance as the broker sees it; the allocation id is the instance name.
pub(crate) fn instance(provider: &ProviderId, w: &InstanceWire) -> Result<Instance, ProviderError> {
    let state = match w.status.as_str() {
        "booting" | "unhealthy" => InstanceState::Pending,
        "active" => InstanceState::Running,
        "terminating" => InstanceState::Terminating,
        "terminated" => InstanceState::Terminated,
        other => {
            return Err(ProviderError::InvalidResponse(format!(
                "unknown instance status `{other}`"
            )))
        }
    };
    let connection = match (&w.ip, state) {
        (Some(ip), InstanceState::Running) => Some(Connection {
            ssh_host: ip.clone(),
            ssh_port: 22,
            ssh_user: "ubuntu".to_string(),
            jupyter_url: w.jupyter_url.clone(),
        }),
        _ => None,
    };
    let offer_id = match (&w.instance_type, &w.region) {
        (Some(t), Some(r)) => offer_id(provider, &t.name, &r.name),
        _ => OfferId::new(provider, ""),
    };
    Ok(Instance {
        id: InstanceId(w.id.clone()),
        allocation_id: w.name.clone().unwrap_or_default(),
        offer_id,
        state,
        connection,
    })
}

/// Lambda's error codes, read before the status: capacity, quota and key errors arrive as
/// 4xx with a code in the body.
pub(crate) fn classify(_status: u16, body: &[u8]) -> Option<ProviderError> {
    let env: ErrorEnvelope = serde_json::from_slice(body).ok()?;
    let code = env.error.code.as_str();
    if code.ends_with("insufficient-capacity") {
        Some(ProviderError::NoCapacity)
    } else if code == "global/quota-exceeded" {
        Some(ProviderError::NoQuota)
    } else if code == "global/invalid-api-key" {
        Some(ProviderError::Auth)
    } else if code == "global/object-does-not-exist" {
        Some(ProviderError::NotFound)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_with_and_without_gpu_description_parse() {
        let g = gpu_of(None, "8x Tesla V100 (16 GB)", None);
        assert_eq!(
            g,
            Some(GpuSpec {
                count: 8,
                name: "V100".into(),
                memory_gib: 16.0,
                qualifier: String::new()
            })
        );
        let g = gpu_of(Some("H100 (80 GB SXM5)"), "8x H100 (80 GB SXM5)", Some(8));
        assert_eq!(g.map(|g| (g.count, g.qualifier)), Some((8, "SXM5".into())));
        assert_eq!(gpu_of(None, "CPU only", None), None);
    }

    #[test]
    fn error_codes_map_before_statuses() {
        let body = br#"{"error":{"code":"global/quota-exceeded","message":"m"}}"#;
        assert_eq!(classify(400, body), Some(ProviderError::NoQuota));
        assert_eq!(classify(500, b"garbage"), None);
    }
}
