//! Pure mapping of Verda wire types to offers and instances.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::wire::{Availability, ErrorBody, InstanceType, InstanceWire, Location};
use crate::http::{decode, Mapped};
use crate::{
    gpus, regions, Connection, Instance, InstanceId, InstanceState, Offer, OfferId, OfferSource,
    Pricing, ProviderError, ProviderId,
};

/// What one listing is made of.
pub(crate) struct Catalogue<'a> {
    pub types: &'a [InstanceType],
    pub locations: &'a [Location],
    pub on_demand: &'a [Availability],
    pub spot: &'a [Availability],
}

/// One offer per instance type, location where it is available now, and pricing kind.
/// CPU-only types are not GPU offers (left out, not counted as unknown GPUs).
pub(crate) fn offers(provider: &ProviderId, c: &Catalogue<'_>, now: DateTime<Utc>) -> Mapped {
    let mut out = Mapped::default();
    let countries: HashMap<&str, &str> = c
        .locations
        .iter()
        .filter_map(|l| Some((l.code.as_str(), l.country_code.as_deref()?)))
        .collect();
    for t in c.types {
        let count = t.gpu.number_of_gpus;
        if count == 0 {
            continue;
        }
        if t.currency
            .as_deref()
            .is_some_and(|cur| !cur.eq_ignore_ascii_case("usd"))
        {
            continue;
        }
        let per_gpu = t
            .gpu_memory
            .size_in_gigabytes
            .map(|total| total / f64::from(count));
        let raw = t.name.as_deref().or(t.model.as_deref()).unwrap_or_default();
        let Some(model) = gpus::canonical_with_hint(raw, per_gpu, &t.instance_type)
            .or_else(|| gpus::canonical_with_hint(t.model.as_deref()?, per_gpu, raw))
        else {
            out.unknown_gpus.push(raw.to_string());
            continue;
        };
        let kinds = [
            (
                Pricing::OnDemand,
                Some(t.price_per_hour.as_str()),
                c.on_demand,
            ),
            (Pricing::Spot, t.spot_price.as_deref(), c.spot),
        ];
        for (pricing, price, availability) in kinds {
            let Some(price) = price.and_then(decode::usd_text).filter(|p| p.0 > 0) else {
                continue;
            };
            for a in availability
                .iter()
                .filter(|a| a.availabilities.contains(&t.instance_type))
            {
                let country = countries
                    .get(a.location_code.as_str())
                    .map(|c| c.to_ascii_uppercase())
                    .or_else(|| {
                        regions::country_of(&provider.0, &a.location_code).map(str::to_string)
                    });
                out.offers.push(Offer {
                    id: offer_id(provider, &t.instance_type, &a.location_code, pricing),
                    provider: provider.clone(),
                    instance_type: t.instance_type.clone(),
                    gpu_model: model.name.to_string(),
                    gpu_count: count,
                    gpu_memory_gib: per_gpu.unwrap_or(model.memory_gib),
                    vcpus: t.cpu.as_ref().and_then(|c| c.number_of_cores),
                    memory_gib: t.memory.as_ref().and_then(|m| m.size_in_gigabytes),
                    storage_gib: None,
                    region: a.location_code.clone(),
                    country,
                    pricing,
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

/// `verda:<instance type>@<location>` (`:spot` appended for spot).
pub(crate) fn offer_id(
    provider: &ProviderId,
    instance_type: &str,
    location: &str,
    pricing: Pricing,
) -> OfferId {
    let spot = if pricing == Pricing::Spot {
        ":spot"
    } else {
        ""
    };
    OfferId::new(provider, &format!("{instance_type}@{location}{spot}"))
}

/// Instance type, location and pricing of an offer id this adapter made.
pub(crate) fn parse_offer_id(id: &OfferId) -> Option<(&str, &str, Pricing)> {
    let key = id.key();
    let (key, pricing) = match key.strip_suffix(":spot") {
        Some(k) => (k, Pricing::Spot),
        None => (key, Pricing::OnDemand),
    };
    let (instance_type, location) = key.split_once('@')?;
    Some((instance_type, location, pricing))
}

/// An instance as the broker sees it; the allocation id is the hostname.
pub(crate) fn instance(provider: &ProviderId, w: &InstanceWire) -> Instance {
    let state = match w.status.as_str() {
        "ordered" | "provisioning" | "new" | "validating" => InstanceState::Pending,
        "running" => InstanceState::Running,
        "deleting" | "discontinued" => InstanceState::Terminating,
        "deleted" => InstanceState::Terminated,
        _ => InstanceState::Failed,
    };
    let connection = match (&w.ip, state) {
        (Some(ip), InstanceState::Running) => Some(Connection {
            ssh_host: ip.clone(),
            ssh_port: 22,
            ssh_user: "root".to_string(),
            jupyter_url: None,
        }),
        _ => None,
    };
    let pricing = if w.is_spot == Some(true) {
        Pricing::Spot
    } else {
        Pricing::OnDemand
    };
    let offer_id = match (&w.instance_type, &w.location) {
        (Some(t), Some(l)) => offer_id(provider, t, l, pricing),
        _ => OfferId::new(provider, ""),
    };
    Instance {
        id: InstanceId(w.id.clone()),
        allocation_id: w.hostname.clone().unwrap_or_default(),
        offer_id,
        state,
        connection,
    }
}

/// Verda's `{"code": ..., "message": ...}` error bodies. The capacity code is an assumption
/// (the SDK surfaces `code` without listing values), shared with the sandbox fake; verify it
/// against the live API before relying on it.
pub(crate) fn classify(_status: u16, body: &[u8]) -> Option<ProviderError> {
    let e: ErrorBody = serde_json::from_slice(body).ok()?;
    match e.code.as_str() {
        "insufficient_resources" => Some(ProviderError::NoCapacity),
        "unauthorized_request" | "invalid_client" => Some(ProviderError::Auth),
        _ => None,
    }
}
