//! Pure mapping of MAAS machines to offers and instances.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::wire::Machine;
use super::MaasOfferRule;
use crate::http::Mapped;
use crate::{
    gpus, Connection, Instance, InstanceId, InstanceState, Offer, OfferId, OfferSource, Pricing,
    ProviderId,
};

/// The `owner_data` key that carries the allocation id.
pub(crate) const ALLOCATION_KEY: &str = "gpubroker_allocation";

/// NODE_STATUS Ready.
const READY: i64 = 4;

/// One offer per rule and zone that has machines with the rule's tag; `available` counts the
/// Ready ones. The price is the operator's (MAAS has none).
pub(crate) fn offers(
    provider: &ProviderId,
    rules: &[MaasOfferRule],
    machines: &[Machine],
    now: DateTime<Utc>,
) -> Mapped {
    let mut out = Mapped::default();
    for rule in rules {
        let Some(model) = gpus::canonical(&rule.gpu_model, rule.gpu_memory_gib) else {
            out.unknown_gpus.push(rule.gpu_model.clone());
            continue;
        };
        if rule.price_per_hour.0 <= 0 || rule.gpu_count == 0 {
            continue;
        }
        let mut zones: BTreeMap<&str, Vec<&Machine>> = BTreeMap::new();
        for m in machines.iter().filter(|m| m.tag_names.contains(&rule.tag)) {
            let zone = m.zone.as_ref().map_or("default", |z| z.name.as_str());
            zones.entry(zone).or_default().push(m);
        }
        for (zone, ms) in zones {
            let ready: Vec<&&Machine> = ms.iter().filter(|m| m.status == READY).collect();
            let sample = ready.first().copied().or(ms.first()).copied();
            out.offers.push(Offer {
                id: offer_id(provider, &rule.tag, zone),
                provider: provider.clone(),
                instance_type: rule.tag.clone(),
                gpu_model: model.name.to_string(),
                gpu_count: rule.gpu_count,
                gpu_memory_gib: rule.gpu_memory_gib.unwrap_or(model.memory_gib),
                vcpus: sample.and_then(|m| m.cpu_count),
                memory_gib: sample
                    .and_then(|m| m.memory)
                    .map(|mib| (mib / 1024.0 * 10.0).round() / 10.0),
                storage_gib: sample
                    .and_then(|m| m.storage)
                    .map(|mb| (mb * 1_000_000.0 / 1_073_741_824.0).floor() as u32),
                region: zone.to_string(),
                country: None,
                pricing: Pricing::OnDemand,
                price_per_hour: rule.price_per_hour,
                price_per_gpu_hour: rule.price_per_hour.per_unit(rule.gpu_count),
                available: u32::try_from(ready.len()).unwrap_or(u32::MAX),
                as_of: now,
                source: OfferSource::Live,
            });
        }
    }
    out
}

/// `maas:<tag>@<zone>`.
pub(crate) fn offer_id(provider: &ProviderId, tag: &str, zone: &str) -> OfferId {
    OfferId::new(provider, &format!("{tag}@{zone}"))
}

/// The tag and zone of an offer id this adapter made.
pub(crate) fn parse_offer_id(id: &OfferId) -> Option<(&str, &str)> {
    id.key().rsplit_once('@')
}

/// The allocation a machine holds, from its `owner_data`.
pub(crate) fn allocation_of(m: &Machine) -> Option<&str> {
    m.owner_data
        .as_ref()?
        .get(ALLOCATION_KEY)
        .map(String::as_str)
}

/// A machine as the broker sees it.
pub(crate) fn instance(provider: &ProviderId, m: &Machine) -> Instance {
    let state = match m.status {
        10 | 9 => InstanceState::Pending,
        6 => InstanceState::Running,
        12 | 14 => InstanceState::Terminating,
        4 | 0 => InstanceState::Terminated,
        _ => InstanceState::Failed,
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
