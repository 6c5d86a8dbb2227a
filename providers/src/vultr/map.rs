//! Pure mapping of Vultr wire types to offers, instances and errors.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::wire::{ErrorBody, MetalPlan, Plan, Server};
use crate::http::{decode, message_error, Mapped};
use crate::{
    gpus, ownership, regions, Connection, Instance, InstanceId, InstanceState, MicroUsd, Offer,
    OfferId, OfferSource, Pricing, ProviderError, ProviderId,
};

/// Prefix of the instance ids of bare-metal servers (cloud instances carry Vultr's id bare).
const METAL_PREFIX: &str = "bm:";

/// One on-demand offer per whole-GPU plan and location it lists. Vultr does not say how many
/// fit; a listed location counts as one.
///
/// Cloud GPU (`vcg`) plans name the GPU (`gpu_type`) and the plan's total VRAM; most are
/// fractions of one card (4 GB of an 80 GB A100). The card of a `gpu_type` is the largest
/// VRAM among its plans that is a whole catalogued card; a plan is `VRAM / card` GPUs when
/// that is a whole number, else a fraction, left out (a known GPU, so not counted as
/// unknown). Bare-metal (`vbm`) plans carry their GPUs only in the id
/// (`vbm-112c-2048gb-8-h100-gpu`: 8 × H100; no count = 1).
pub(crate) fn offers(
    provider: &ProviderId,
    plans: &[Plan],
    metal: &[MetalPlan],
    now: DateTime<Utc>,
) -> Mapped {
    let mut out = Mapped::default();
    let mut cards: BTreeMap<&str, u32> = BTreeMap::new();
    for p in plans.iter().filter(|p| p.kind == "vcg") {
        if let (Some(t), Some(vram)) = (p.gpu_type.as_deref(), p.gpu_vram_gb) {
            let whole = gpus::canonical_with_hint(t, Some(f64::from(vram)), &p.id)
                .is_some_and(|m| (m.memory_gib - f64::from(vram)).abs() < 0.5);
            if whole {
                let card = cards.entry(t).or_default();
                *card = (*card).max(vram);
            }
        }
    }
    for p in plans.iter().filter(|p| p.kind == "vcg") {
        let (Some(t), Some(vram)) = (p.gpu_type.as_deref(), p.gpu_vram_gb) else {
            continue;
        };
        let Some(&card) = cards.get(t) else {
            out.unknown_gpus.push(t.to_string());
            continue;
        };
        if vram < card || vram % card != 0 {
            continue;
        }
        let Some(model) = gpus::canonical_with_hint(t, Some(f64::from(card)), &p.id) else {
            out.unknown_gpus.push(t.to_string());
            continue;
        };
        let shape = Shape {
            plan: &p.id,
            model: model.name,
            count: vram / card,
            memory_gib: f64::from(card),
            vcpus: Some(p.vcpu_count),
            ram_mb: p.ram,
            storage_gib: p.disk,
            hourly: &p.hourly_cost,
            locations: &p.locations,
        };
        shape.push(provider, now, &mut out);
    }
    for p in metal {
        let Some((name, count)) = metal_gpus(&p.id) else {
            continue;
        };
        let Some(model) = gpus::canonical_with_hint(name, None, &p.id) else {
            out.unknown_gpus.push(name.to_string());
            continue;
        };
        let shape = Shape {
            plan: &p.id,
            model: model.name,
            count,
            memory_gib: model.memory_gib,
            vcpus: p.cpu_threads,
            ram_mb: p.ram,
            storage_gib: p.disk.map(|d| d * p.disk_count.unwrap_or(1).max(1)),
            hourly: &p.hourly_cost,
            locations: &p.locations,
        };
        shape.push(provider, now, &mut out);
    }
    out
}

/// What a whole-GPU plan offers, cloud or metal.
struct Shape<'a> {
    plan: &'a str,
    model: &'static str,
    count: u32,
    memory_gib: f64,
    vcpus: Option<u32>,
    ram_mb: u64,
    storage_gib: Option<u32>,
    hourly: &'a serde_json::Number,
    locations: &'a [String],
}

impl Shape<'_> {
    fn push(&self, provider: &ProviderId, now: DateTime<Utc>, out: &mut Mapped) {
        // Free-tier plans cost 0: no offer.
        let Some(price) = decode::usd_number(self.hourly).filter(|p| p.0 > 0) else {
            return;
        };
        for region in self.locations {
            out.offers.push(Offer {
                id: offer_id(provider, self.plan, region),
                provider: provider.clone(),
                instance_type: self.plan.to_string(),
                gpu_model: self.model.to_string(),
                gpu_count: self.count,
                gpu_memory_gib: self.memory_gib,
                vcpus: self.vcpus,
                memory_gib: Some(self.ram_mb as f64 / 1024.0),
                storage_gib: self.storage_gib,
                region: region.clone(),
                country: regions::country_of(&provider.0, region).map(str::to_string),
                pricing: Pricing::OnDemand,
                price_per_hour: price,
                price_per_gpu_hour: MicroUsd::per_unit(price, self.count),
                available: 1,
                as_of: now,
                source: OfferSource::Live,
            });
        }
    }
}

/// The GPU name and count in a bare-metal plan id (`vbm-256c-2048gb-8-mi300x-gpu` →
/// `("mi300x", 8)`, `vbm-64c-2048gb-l40-gpu` → `("l40", 1)`); `None` for CPU-only plans.
pub(crate) fn metal_gpus(id: &str) -> Option<(&str, u32)> {
    let parts: Vec<&str> = id.split('-').collect();
    let [.., before, name, last] = parts.as_slice() else {
        return None;
    };
    if *last != "gpu" || name.is_empty() {
        return None;
    }
    Some((name, before.parse().ok().filter(|&n| n > 0).unwrap_or(1)))
}

/// Whether a plan is bare metal (provisioned through `/bare-metals`).
pub(crate) fn is_metal(plan: &str) -> bool {
    plan.starts_with("vbm-")
}

/// `vultr:<plan>@<region>`.
pub(crate) fn offer_id(provider: &ProviderId, plan: &str, region: &str) -> OfferId {
    OfferId::new(provider, &format!("{plan}@{region}"))
}

/// The plan and region of an offer id this adapter made.
pub(crate) fn parse_offer_id(id: &OfferId) -> Option<(&str, &str)> {
    id.key().split_once('@')
}

/// The broker's id of a server: bare metal carries a prefix, cloud instances none.
pub(crate) fn instance_id(server_id: &str, metal: bool) -> InstanceId {
    if metal {
        InstanceId(format!("{METAL_PREFIX}{server_id}"))
    } else {
        InstanceId(server_id.to_string())
    }
}

/// The Vultr id and kind behind a broker instance id.
pub(crate) fn server_of(id: &InstanceId) -> (&str, bool) {
    match id.0.strip_prefix(METAL_PREFIX) {
        Some(rest) => (rest, true),
        None => (id.0.as_str(), false),
    }
}

/// A server as the broker sees it; the allocation id comes from its allocation tag (or, for
/// a server tagged by hand, its label).
pub(crate) fn instance(
    provider: &ProviderId,
    s: &Server,
    metal: bool,
) -> Result<Instance, ProviderError> {
    let state = match s.status.as_str() {
        "pending" | "resizing" => InstanceState::Pending,
        "active" if metal => InstanceState::Running,
        "active" => match (s.power_status.as_deref(), s.server_status.as_deref()) {
            (Some("stopped"), _) => InstanceState::Failed,
            (_, None | Some("ok")) => InstanceState::Running,
            _ => InstanceState::Pending,
        },
        "suspended" | "failed" => InstanceState::Failed,
        other => {
            return Err(ProviderError::InvalidResponse(format!(
                "unknown server status `{other}`"
            )))
        }
    };
    let ip = s
        .main_ip
        .as_deref()
        .filter(|ip| !ip.is_empty() && *ip != "0.0.0.0");
    let connection = match (ip, state) {
        (Some(ip), InstanceState::Running) => Some(Connection {
            ssh_host: ip.to_string(),
            ssh_port: 22,
            ssh_user: "root".to_string(),
            jupyter_url: None,
        }),
        _ => None,
    };
    let offer_id = match (&s.plan, &s.region) {
        (Some(plan), Some(region)) => offer_id(provider, plan, region),
        _ => OfferId::new(provider, ""),
    };
    let allocation_id = ownership::allocation_of_tags(&s.tags)
        .or_else(|| s.label.as_deref().and_then(ownership::allocation_of_name))
        .unwrap_or_default();
    Ok(Instance {
        id: instance_id(&s.id, metal),
        allocation_id: allocation_id.to_string(),
        offer_id,
        state,
        connection,
    })
}

/// Vultr's `{"error": "...", "status": n}` bodies. Rate limits and server errors keep the
/// status mapping (and its `Retry-After`).
pub(crate) fn classify(status: u16, body: &[u8]) -> Option<ProviderError> {
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
    fn metal_plan_ids_carry_gpu_name_and_count() {
        assert_eq!(
            metal_gpus("vbm-256c-2048gb-8-mi300x-gpu"),
            Some(("mi300x", 8))
        );
        assert_eq!(metal_gpus("vbm-64c-2048gb-l40-gpu"), Some(("l40", 1)));
        assert_eq!(metal_gpus("vbm-4c-32gb"), None);
    }

    #[test]
    fn metal_ids_are_marked_and_read_back() {
        let id = instance_id("cb676a46", true);
        assert_eq!(id.0, "bm:cb676a46");
        assert_eq!(server_of(&id), ("cb676a46", true));
        assert_eq!(
            server_of(&InstanceId("cb676a46".into())),
            ("cb676a46", false)
        );
    }

    #[test]
    fn error_bodies_map_through_their_message() {
        let body = br#"{"error": "Plan is not available in the selected region", "status": 400}"#;
        assert_eq!(classify(400, body), Some(ProviderError::NoCapacity));
        let body = br#"{"error": "Invalid API token.", "status": 401}"#;
        assert_eq!(classify(401, body), Some(ProviderError::Auth));
        assert_eq!(classify(429, body), None);
    }
}
