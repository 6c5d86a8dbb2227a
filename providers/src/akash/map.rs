//! Pure mapping of the Akash Console GPU price list to offers.

use chrono::{DateTime, Utc};

use super::wire::Model;
use crate::http::{decode, Mapped};
use crate::{gpus, Offer, OfferId, OfferSource, Pricing, ProviderId};

/// Where Akash offers are: a decentralized network of providers, not a region of one cloud
/// (the list does not say where its providers are, so no country is claimed).
pub(crate) const REGION: &str = "akash-network";

/// One offer per GPU model with GPUs free: one GPU, priced at the MEDIAN of the recent
/// on-chain bids for it (USD per GPU-hour, `price.med`), marked [`Pricing::Bid`]: an
/// indication of what providers bid, not a quoted rate (the real price is the bid a
/// deployment accepts). Units = GPUs free across the network.
pub(crate) fn offers(provider: &ProviderId, models: &[Model], now: DateTime<Utc>) -> Mapped {
    let mut out = Mapped::default();
    for m in models {
        if m.availability.available == 0 || !m.price.currency.eq_ignore_ascii_case("usd") {
            continue;
        }
        let memory = memory_gib(&m.ram);
        let hint = m.interface.as_deref().unwrap_or_default();
        let spelling = format!("{} {}", m.vendor, m.model);
        let Some(model) = gpus::canonical_with_hint(&spelling, memory, hint) else {
            out.unknown_gpus.push(spelling);
            continue;
        };
        let Some(price) = decode::usd_number(&m.price.med).filter(|p| p.0 > 0) else {
            continue;
        };
        let instance_type = format!("{}-{}-{}-{hint}", m.vendor, m.model, m.ram)
            .trim_end_matches('-')
            .to_string();
        out.offers.push(Offer {
            id: OfferId::new(provider, &format!("{instance_type}@{REGION}")),
            provider: provider.clone(),
            instance_type,
            gpu_model: model.name.to_string(),
            gpu_count: 1,
            gpu_memory_gib: memory.unwrap_or(model.memory_gib),
            vcpus: None,
            memory_gib: None,
            storage_gib: None,
            region: REGION.to_string(),
            country: None,
            pricing: Pricing::Bid,
            price_per_hour: price,
            price_per_gpu_hour: price,
            available: m.availability.available,
            as_of: now,
            source: OfferSource::Live,
        });
    }
    out
}

/// `80Gi` (Kubernetes quantity) → 80 GiB.
pub(crate) fn memory_gib(ram: &str) -> Option<f64> {
    let digits = ram.strip_suffix("Gi").or_else(|| ram.strip_suffix("G"))?;
    digits.parse::<f64>().ok().filter(|m| *m > 0.0)
}
