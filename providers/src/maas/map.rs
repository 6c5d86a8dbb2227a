//! Pure mapping of MAAS machines to offers and instances.
//!
//! GPU facts come from machine tags (MAAS 2.0 has no GPU fields): a machine tagged
//! `gpu-<count>x-<model>` (e.g. `gpu-8x-h100-sxm`, `gpu-4x-a100-80gb`) holds `<count>` GPUs of
//! the catalogue model `<model>` (any spelling [`gpus::canonical`] knows, hyphens for spaces).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::wire::Machine;
use crate::http::Mapped;
use crate::{
    gpus, Connection, Instance, InstanceId, InstanceState, MicroUsd, Offer, OfferId, OfferSource,
    Pricing, ProviderId,
};

/// The `owner_data` key that carries the allocation id.
pub(crate) const ALLOCATION_KEY: &str = "gpubroker_allocation";

/// The prefix of a GPU tag.
pub(crate) const GPU_TAG_PREFIX: &str = "gpu-";

/// NODE_STATUS Ready.
const READY: i64 = 4;

/// Machines in service: Ready, or on their way through a deployment and back (Deployed 6,
/// Deploying 9, Allocated 10, Releasing 12, Disk erasing 14). New, commissioning, broken or
/// failed machines make no offer.
fn in_service(status: i64) -> bool {
    matches!(status, 4 | 6 | 9 | 10 | 12 | 14)
}

/// The GPU facts a tag states: `gpu-8x-h100-sxm` → (8, H100-SXM).
pub(crate) fn gpu_tag(tag: &str) -> Option<(u32, &'static gpus::GpuModel)> {
    let rest = tag.strip_prefix(GPU_TAG_PREFIX)?;
    let (count, model) = rest.split_once("x-")?;
    let count: u32 = count.parse().ok().filter(|n| *n > 0)?;
    Some((count, gpus::canonical(model, None)?))
}

/// Whether a tag claims to be a GPU tag (`gpu-<n>x-...`), known model or not.
fn looks_like_gpu_tag(tag: &str) -> bool {
    tag.strip_prefix(GPU_TAG_PREFIX)
        .and_then(|r| r.split_once("x-"))
        .is_some_and(|(n, _)| n.parse::<u32>().is_ok())
}

fn named(n: Option<&super::wire::Named>) -> &str {
    n.map_or("default", |z| z.name.as_str())
}

/// One offer per GPU tag, zone and pool with machines in service; `available` counts the Ready ones.
/// Region is `<zone>/<pool>`. The offers carry NO price (0): owned capacity is priced by the
/// broker from the operator's hourly cost ([`crate::ProviderKind::Owned`]).
pub(crate) fn offers(provider: &ProviderId, machines: &[Machine], now: DateTime<Utc>) -> Mapped {
    let mut out = Mapped::default();
    let mut groups: BTreeMap<(&str, &str, &str), Vec<&Machine>> = BTreeMap::new();
    for m in machines.iter().filter(|m| in_service(m.status)) {
        for tag in m.tag_names.iter().filter(|t| looks_like_gpu_tag(t)) {
            if gpu_tag(tag).is_none() {
                out.unknown_gpus.push(tag.clone());
                continue;
            }
            let key = (tag.as_str(), named(m.zone.as_ref()), named(m.pool.as_ref()));
            groups.entry(key).or_default().push(m);
        }
    }
    for ((tag, zone, pool), ms) in groups {
        let Some((count, model)) = gpu_tag(tag) else {
            continue;
        };
        let ready: Vec<&Machine> = ms.iter().copied().filter(|m| m.status == READY).collect();
        let sample = ready.first().copied().or(ms.first().copied());
        out.offers.push(Offer {
            id: offer_id(provider, tag, zone, pool),
            provider: provider.clone(),
            instance_type: tag.to_string(),
            gpu_model: model.name.to_string(),
            gpu_count: count,
            gpu_memory_gib: model.memory_gib,
            vcpus: sample.and_then(|m| m.cpu_count),
            memory_gib: sample
                .and_then(|m| m.memory)
                .map(|mib| (mib / 1024.0 * 10.0).round() / 10.0),
            storage_gib: sample
                .and_then(|m| m.storage)
                .map(|mb| (mb * 1_000_000.0 / 1_073_741_824.0).floor() as u32),
            region: format!("{zone}/{pool}"),
            country: None,
            pricing: Pricing::OnDemand,
            price_per_hour: MicroUsd(0),
            price_per_gpu_hour: MicroUsd(0),
            available: u32::try_from(ready.len()).unwrap_or(u32::MAX),
            as_of: now,
            source: OfferSource::Live,
        });
    }
    out
}

/// `maas:<gpu tag>@<zone>/<pool>`.
pub(crate) fn offer_id(provider: &ProviderId, tag: &str, zone: &str, pool: &str) -> OfferId {
    OfferId::new(provider, &format!("{tag}@{zone}/{pool}"))
}

/// The tag, zone and pool of an offer id this adapter made.
pub(crate) fn parse_offer_id(id: &OfferId) -> Option<(&str, &str, &str)> {
    let (tag, place) = id.key().rsplit_once('@')?;
    let (zone, pool) = place.split_once('/')?;
    Some((tag, zone, pool))
}

/// The allocation a machine holds, from its `owner_data`.
pub(crate) fn allocation_of(m: &Machine) -> Option<&str> {
    m.owner_data
        .as_ref()?
        .get(ALLOCATION_KEY)
        .map(String::as_str)
}

/// A machine's NODE_STATUS as the broker sees it.
pub(crate) fn state(status: i64) -> InstanceState {
    match status {
        // Allocated, Deploying.
        10 | 9 => InstanceState::Pending,
        // Deployed.
        6 => InstanceState::Running,
        // Releasing, Disk erasing.
        12 | 14 => InstanceState::Terminating,
        // Ready, New: back in the pool.
        4 | 0 => InstanceState::Terminated,
        _ => InstanceState::Failed,
    }
}

/// A machine as the broker sees it. System ids are reused: a machine in use that carries no
/// gpubroker allocation in its `owner_data` (cleared by every release) is someone else's now,
/// so for the allocation that held it before it is `Terminated`.
pub(crate) fn instance(provider: &ProviderId, m: &Machine) -> Instance {
    let state = match (state(m.status), allocation_of(m)) {
        (InstanceState::Pending | InstanceState::Running, None) => InstanceState::Terminated,
        (s, _) => s,
    };
    let connection = match (m.ip_addresses.first(), state) {
        (Some(ip), InstanceState::Running) => Some(Connection {
            ssh_host: ip.clone(),
            ssh_port: 22,
            ssh_user: "ubuntu".to_string(),
            jupyter_url: None,
        }),
        _ => None,
    };
    Instance {
        id: InstanceId(m.system_id.clone()),
        allocation_id: allocation_of(m).unwrap_or_default().to_string(),
        offer_id: OfferId::new(provider, ""),
        state,
        connection,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gpu_tag_names_count_and_catalogue_model() {
        let (n, m) = gpu_tag("gpu-8x-h100-sxm").unwrap();
        assert_eq!((n, m.name), (8, "H100-SXM"));
        let (n, m) = gpu_tag("gpu-4x-a100-80gb-sxm").unwrap();
        assert_eq!((n, m.name), (4, "A100-80GB-SXM"));
        assert_eq!(
            gpu_tag("gpu-1x-rtx-4090").map(|(n, m)| (n, m.name)),
            Some((1, "RTX4090"))
        );
        assert!(gpu_tag("gpu-0x-h100-sxm").is_none());
        assert!(gpu_tag("virtual").is_none());
        assert!(gpu_tag("gpu-2x-imaginary-9999").is_none());
    }

    #[test]
    fn offer_ids_round_trip_tag_zone_and_pool() {
        let id = offer_id(&ProviderId("maas".into()), "gpu-2x-l40s", "dc1", "gpu");
        assert_eq!(id.0, "maas:gpu-2x-l40s@dc1/gpu");
        assert_eq!(parse_offer_id(&id), Some(("gpu-2x-l40s", "dc1", "gpu")));
    }
}
