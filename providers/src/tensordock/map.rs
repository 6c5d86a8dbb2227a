//! Pure mapping of TensorDock wire types to offers, instances and errors.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::wire::{ErrorBody, Hostnode, InstanceItem, Location, LocationGpu};
use super::TensorDockSettings;
use crate::http::{decode, message_error, Mapped};
use crate::{
    gpus, ownership, regions, Connection, Instance, InstanceId, InstanceState, MicroUsd, Offer,
    OfferId, OfferSource, Pricing, ProviderError, ProviderId,
};

/// One on-demand offer per location, GPU kind and GPU count (1, 2, 4, 8 up to the
/// location's `max_count`). TensorDock prices resources separately: the offer is the GPUs
/// plus the shape of [`TensorDockSettings`] (vCPUs and RAM per GPU, disk), each at the
/// location's hourly rate, capped by the location's limits. Units available = what the
/// location's hostnodes report free, in whole instances of that count.
pub(crate) fn offers(
    provider: &ProviderId,
    locations: &[Location],
    hostnodes: &[Hostnode],
    settings: &TensorDockSettings,
    now: DateTime<Utc>,
) -> Mapped {
    let mut free: BTreeMap<(&str, &str), u32> = BTreeMap::new();
    for h in hostnodes {
        for g in &h.available_resources.gpus {
            *free
                .entry((h.location_id.as_str(), g.v0_name.as_str()))
                .or_default() += g.available_count;
        }
    }
    let mut out = Mapped::default();
    for loc in locations {
        let region = region_of(loc);
        for g in &loc.gpus {
            let spelling = gpu_spelling(&g.v0_name);
            let Some(model) = gpus::canonical_with_hint(&spelling.name, spelling.memory_gib, "")
            else {
                out.unknown_gpus.push(g.v0_name.clone());
                continue;
            };
            let free_gpus = free
                .get(&(loc.id.as_str(), g.v0_name.as_str()))
                .copied()
                .unwrap_or(0);
            for count in [1u32, 2, 4, 8].into_iter().filter(|&c| c <= g.max_count) {
                let shape = Shape::for_count(count, g, settings);
                let Some(price) = shape.price(count, g) else {
                    out.unknown_gpus
                        .push(format!("{} (unreadable price)", g.v0_name));
                    break;
                };
                out.offers.push(Offer {
                    id: offer_id(provider, count, &g.v0_name, &loc.id),
                    provider: provider.clone(),
                    instance_type: g.v0_name.clone(),
                    gpu_model: model.name.to_string(),
                    gpu_count: count,
                    gpu_memory_gib: spelling.memory_gib.unwrap_or(model.memory_gib),
                    vcpus: Some(shape.vcpus),
                    memory_gib: Some(f64::from(shape.ram_gb)),
                    storage_gib: Some(shape.storage_gb),
                    region: region.clone(),
                    country: regions::country_of(&provider.0, &region).map(str::to_string),
                    pricing: Pricing::OnDemand,
                    price_per_hour: price,
                    price_per_gpu_hour: price.per_unit(count),
                    available: free_gpus / count,
                    as_of: now,
                    source: OfferSource::Live,
                });
            }
        }
    }
    out
}

/// The resources one instance of an offer gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Shape {
    pub vcpus: u32,
    pub ram_gb: u32,
    pub storage_gb: u32,
}

impl Shape {
    fn for_count(count: u32, g: &LocationGpu, s: &TensorDockSettings) -> Self {
        Shape {
            vcpus: (s.vcpus_per_gpu * count).min(g.resources.max_vcpus).max(1),
            ram_gb: (s.ram_gb_per_gpu * count)
                .min(g.resources.max_ram_gb)
                .max(1),
            storage_gb: s.storage_gb.min(g.resources.max_storage_gb),
        }
    }

    /// GPUs + vCPUs + RAM + disk, each at its hourly rate (rates read to the micro-dollar).
    fn price(&self, count: u32, g: &LocationGpu) -> Option<MicroUsd> {
        let rate = |n: &serde_json::Number| decode::usd_number(n).filter(|p| p.0 >= 0);
        let gpu = rate(&g.price_per_hr).filter(|p| p.0 > 0)?;
        let total = gpu.0 * i64::from(count)
            + rate(&g.pricing.per_vcpu_hr)?.0 * i64::from(self.vcpus)
            + rate(&g.pricing.per_gb_ram_hr)?.0 * i64::from(self.ram_gb)
            + rate(&g.pricing.per_gb_storage_hr)?.0 * i64::from(self.storage_gb);
        Some(MicroUsd(total))
    }
}

/// `City, ST, Country` (the parts TensorDock gives).
pub(crate) fn region_of(loc: &Location) -> String {
    let parts: Vec<&str> = [&loc.city, &loc.stateprovince, &loc.country]
        .into_iter()
        .filter_map(|p| p.as_deref())
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    if parts.is_empty() {
        loc.id.clone()
    } else {
        parts.join(", ")
    }
}

/// A `v0Name` (`geforcertx4090-pcie-24gb`, `l40-pcie-48gb`) read as a GPU spelling: the
/// memory suffix becomes the memory, the rest the name.
#[derive(Debug, PartialEq)]
pub(crate) struct GpuSpelling {
    pub name: String,
    pub memory_gib: Option<f64>,
}

pub(crate) fn gpu_spelling(v0_name: &str) -> GpuSpelling {
    let mut memory_gib = None;
    let mut words = Vec::new();
    for part in v0_name.split('-') {
        match part.strip_suffix("gb").and_then(|d| d.parse::<f64>().ok()) {
            Some(m) if m > 0.0 => memory_gib = Some(m),
            _ => words.push(part),
        }
    }
    GpuSpelling {
        name: words.join(" "),
        memory_gib,
    }
}

/// `tensordock:<count>x<v0Name>@<location id>`.
pub(crate) fn offer_id(
    provider: &ProviderId,
    count: u32,
    v0_name: &str,
    location: &str,
) -> OfferId {
    OfferId::new(provider, &format!("{count}x{v0_name}@{location}"))
}

/// The GPU count, `v0Name` and location id of an offer id this adapter made.
pub(crate) fn parse_offer_id(id: &OfferId) -> Option<(u32, &str, &str)> {
    let (head, location) = id.key().split_once('@')?;
    let (count, v0_name) = head.split_once('x')?;
    Some((count.parse().ok()?, v0_name, location))
}

/// An instance as the broker sees it; the allocation id comes from its name (empty for an
/// instance the broker did not make).
pub(crate) fn instance(
    provider: &ProviderId,
    item: &InstanceItem,
) -> Result<Instance, ProviderError> {
    let f = item.fields();
    let allocation_id = f
        .name
        .as_deref()
        .and_then(ownership::allocation_of_name)
        .unwrap_or_default();
    let state = match f.status.to_ascii_lowercase().as_str() {
        "queued" | "pending" | "creating" | "provisioning" | "starting" => InstanceState::Pending,
        "running" => InstanceState::Running,
        "stopping" | "stopped" | "stoppeddisassociated" | "error" | "failed" => {
            InstanceState::Failed
        }
        "deleting" => InstanceState::Terminating,
        "deleted" => InstanceState::Terminated,
        other => {
            return Err(ProviderError::InvalidResponse(format!(
                "unknown instance status `{other}`"
            )))
        }
    };
    let ssh_port = f
        .port_forwards
        .iter()
        .find(|p| p.internal_port == 22)
        .map_or(22, |p| p.external_port);
    let connection = match (&f.ip_address, state) {
        (Some(ip), InstanceState::Running) if !ip.is_empty() => Some(Connection {
            ssh_host: ip.clone(),
            ssh_port,
            ssh_user: "user".to_string(),
            jupyter_url: None,
        }),
        _ => None,
    };
    let gpu = f
        .resources
        .as_ref()
        .and_then(|r| r.gpus.as_ref())
        .and_then(|g| g.as_object())
        .and_then(|m| m.iter().next())
        .map(|(name, v)| (name.clone(), v.get("count").and_then(|c| c.as_u64())));
    let offer_id = match (gpu, &f.location_id) {
        (Some((name, Some(count))), Some(loc)) => {
            offer_id(provider, u32::try_from(count).unwrap_or(0), &name, loc)
        }
        _ => OfferId::new(provider, ""),
    };
    Ok(Instance {
        id: InstanceId(item.id().to_string()),
        allocation_id: allocation_id.to_string(),
        offer_id,
        state,
        connection,
    })
}

/// TensorDock's `{"error": "...", "status": n}` body, on any HTTP status (200 included):
/// `Hostnode unavailable` is no capacity.
pub(crate) fn classify(status: u16, body: &[u8]) -> Option<ProviderError> {
    // Rate limits and server errors keep the status mapping (and its `Retry-After`).
    if status == 429 || status >= 500 {
        return None;
    }
    let e: ErrorBody = serde_json::from_slice(body).ok()?;
    Some(message_error(e.status.unwrap_or(status), &e.error))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v0_names_split_into_name_and_memory() {
        assert_eq!(
            gpu_spelling("geforcertx4090-pcie-24gb"),
            GpuSpelling {
                name: "geforcertx4090 pcie".into(),
                memory_gib: Some(24.0)
            }
        );
        assert_eq!(gpu_spelling("l40-pcie-48gb").memory_gib, Some(48.0));
    }

    #[test]
    fn offer_ids_round_trip() {
        let p = ProviderId("tensordock".into());
        let id = offer_id(&p, 2, "geforcertx4090-pcie-24gb", "loc-1");
        assert_eq!(id.0, "tensordock:2xgeforcertx4090-pcie-24gb@loc-1");
        assert_eq!(
            parse_offer_id(&id),
            Some((2, "geforcertx4090-pcie-24gb", "loc-1"))
        );
    }

    #[test]
    fn the_hostnode_unavailable_body_is_no_capacity() {
        let body = br#"{"error": "Hostnode unavailable", "status": 400}"#;
        assert_eq!(classify(200, body), Some(ProviderError::NoCapacity));
        assert_eq!(
            classify(401, br#"{"error": "Unauthorized"}"#),
            Some(ProviderError::Auth)
        );
        assert_eq!(classify(500, b"<html>"), None);
    }
}
