//! Pure mapping of Jarvislabs wire types to offers and instances.

use chrono::{DateTime, Utc};

use super::wire::{GpuRow, InstanceWire, NumOrText, ServerMeta};
use crate::http::{decode, Mapped};
use crate::{
    gpus, regions, Connection, Instance, InstanceId, InstanceState, MicroUsd, Offer, OfferId,
    OfferSource, Pricing, ProviderError, ProviderId,
};

/// GPU counts an instance may have (up to the row's `num_gpus`).
const COUNTS: [u32; 4] = [1, 2, 4, 8];

/// Offers of the VM rows (`workload_type` `vm` or null) in regions with a known provisioning
/// host: one per GPU count up to `num_gpus` (1 when the row does not say) that the free
/// devices cover, on-demand at `price_per_hour` × count and spot at `spot_price` × count.
pub(crate) fn offers(
    provider: &ProviderId,
    meta: &ServerMeta,
    provisionable: impl Fn(&str) -> bool,
    now: DateTime<Utc>,
) -> Mapped {
    let mut out = Mapped::default();
    for row in &meta.server_meta {
        let vm = matches!(row.workload_type.as_deref(), None | Some("vm"));
        if !vm || !provisionable(&row.region) {
            continue;
        }
        let memory = row.vram.as_ref().and_then(|v| v.text().parse::<f64>().ok());
        let Some(model) = gpus::canonical(&row.gpu_type, memory) else {
            out.unknown_gpus.push(row.gpu_type.clone());
            continue;
        };
        let max = row
            .num_gpus
            .as_ref()
            .and_then(|n| n.text().parse::<u32>().ok())
            .unwrap_or(1);
        let free = row.effective_num_free_devices.or(row.num_free_devices);
        let kinds = [
            (Pricing::OnDemand, row.price_per_hour.as_ref(), free),
            (
                Pricing::Spot,
                row.spot_price.as_ref(),
                row.spot_num_free_devices,
            ),
        ];
        for (pricing, price, free) in kinds {
            let Some(per_gpu) = price.and_then(usd).filter(|p| p.0 > 0) else {
                continue;
            };
            for count in COUNTS.into_iter().filter(|&c| c <= max) {
                let available = free.unwrap_or(0) / count;
                if available == 0 {
                    continue;
                }
                let slot = Slot {
                    count,
                    pricing,
                    per_gpu,
                    available,
                };
                out.offers.push(offer(provider, row, model, slot, now));
            }
        }
    }
    out
}

/// One count and pricing kind of a row.
struct Slot {
    count: u32,
    pricing: Pricing,
    per_gpu: MicroUsd,
    available: u32,
}

fn offer(
    provider: &ProviderId,
    row: &GpuRow,
    model: &gpus::GpuModel,
    slot: Slot,
    now: DateTime<Utc>,
) -> Offer {
    let Slot {
        count,
        pricing,
        per_gpu,
        available,
    } = slot;
    let price = MicroUsd(per_gpu.0.saturating_mul(i64::from(count)));
    let memory = row.vram.as_ref().and_then(|v| v.text().parse::<f64>().ok());
    Offer {
        id: offer_id(provider, &row.gpu_type, count, &row.region, pricing),
        provider: provider.clone(),
        instance_type: format!("{count}x {}", row.gpu_type),
        gpu_model: model.name.to_string(),
        gpu_count: count,
        gpu_memory_gib: memory.unwrap_or(model.memory_gib),
        vcpus: row.cpus_per_gpu.map(|c| c * count),
        memory_gib: row.ram_per_gpu.map(|r| r * f64::from(count)),
        storage_gib: None,
        region: row.region.clone(),
        country: regions::country_of(&provider.0, &row.region).map(str::to_string),
        pricing,
        price_per_hour: price,
        price_per_gpu_hour: price.per_unit(count),
        available,
        as_of: now,
        source: OfferSource::Live,
    }
}

fn usd(v: &NumOrText) -> Option<MicroUsd> {
    match v {
        NumOrText::Number(n) => decode::usd_number(n),
        NumOrText::Text(s) => decode::usd_text(s),
    }
}

/// `jarvislabs:<count>x<gpu type>@<region>[:spot]`.
pub(crate) fn offer_id(
    provider: &ProviderId,
    gpu_type: &str,
    count: u32,
    region: &str,
    pricing: Pricing,
) -> OfferId {
    let spot = if pricing == Pricing::Spot {
        ":spot"
    } else {
        ""
    };
    OfferId::new(provider, &format!("{count}x{gpu_type}@{region}{spot}"))
}

/// What an offer id of this adapter asks for.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct OfferKey<'a> {
    pub gpu_type: &'a str,
    pub count: u32,
    pub region: &'a str,
    pub pricing: Pricing,
}

pub(crate) fn parse_offer_id(id: &OfferId) -> Option<OfferKey<'_>> {
    let key = id.key();
    let (key, pricing) = match key.strip_suffix(":spot") {
        Some(k) => (k, Pricing::Spot),
        None => (key, Pricing::OnDemand),
    };
    let (head, region) = key.rsplit_once('@')?;
    let (count, gpu_type) = head.split_once('x')?;
    Some(OfferKey {
        gpu_type,
        count: count.parse().ok().filter(|&c| c > 0)?,
        region,
        pricing,
    })
}

/// An instance as the broker sees it; the allocation id is the instance name.
pub(crate) fn instance(provider: &ProviderId, w: &InstanceWire) -> Result<Instance, ProviderError> {
    let state = match w.status.trim().to_ascii_lowercase().as_str() {
        "creating" | "starting" | "resuming" | "pending" | "initializing" => InstanceState::Pending,
        "running" => InstanceState::Running,
        "pausing" | "destroying" | "deleting" | "terminating" => InstanceState::Terminating,
        "destroyed" | "deleted" | "terminated" => InstanceState::Terminated,
        "failed" | "error" | "paused" => InstanceState::Failed,
        other => {
            return Err(ProviderError::InvalidResponse(format!(
                "unknown instance status `{other}`"
            )))
        }
    };
    let connection = if state == InstanceState::Running {
        w.ssh_str.as_deref().and_then(ssh_of)
    } else {
        None
    };
    let count = w
        .num_gpus
        .as_ref()
        .and_then(|n| n.text().parse::<u32>().ok());
    let pricing = if w.is_spot == Some(true) {
        Pricing::Spot
    } else {
        Pricing::OnDemand
    };
    let offer_id = match (&w.gpu_type, count, &w.region) {
        (Some(g), Some(c), Some(r)) => offer_id(provider, g, c, r, pricing),
        _ => OfferId::new(provider, ""),
    };
    Ok(Instance {
        id: InstanceId(w.machine_id.text()),
        allocation_id: w.name.clone().unwrap_or_default(),
        offer_id,
        state,
        connection,
    })
}

/// Reads `ssh -p 2222 ubuntu@host` (port 22 when `-p` is absent).
pub(crate) fn ssh_of(command: &str) -> Option<Connection> {
    let words: Vec<&str> = command.split_whitespace().collect();
    let port = match words.iter().position(|w| *w == "-p") {
        Some(i) => words.get(i + 1)?.parse().ok()?,
        None => 22,
    };
    let target = words.iter().rev().find(|w| w.contains('@'))?;
    let (user, host) = target.split_once('@')?;
    (!user.is_empty() && !host.is_empty()).then(|| Connection {
        ssh_host: host.to_string(),
        ssh_port: port,
        ssh_user: user.to_string(),
        jupyter_url: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssh_commands_parse_with_and_without_a_port() {
        let c = ssh_of("ssh -o StrictHostKeyChecking=no -p 11114 ubuntu@sshe.example").unwrap();
        assert_eq!((c.ssh_host.as_str(), c.ssh_port), ("sshe.example", 11114));
        assert_eq!(c.ssh_user, "ubuntu");
        assert_eq!(ssh_of("ssh root@10.0.0.1").map(|c| c.ssh_port), Some(22));
        assert_eq!(ssh_of("not a command"), None);
    }

    #[test]
    fn offer_ids_round_trip_with_spaces_and_spot() {
        let p = ProviderId("jarvislabs".into());
        let id = offer_id(&p, "RTX PRO 6000", 4, "india-noida-01", Pricing::Spot);
        assert_eq!(
            parse_offer_id(&id),
            Some(OfferKey {
                gpu_type: "RTX PRO 6000",
                count: 4,
                region: "india-noida-01",
                pricing: Pricing::Spot
            })
        );
    }
}
