//! Pure mapping of Cloud Billing Catalog SKUs to GPU offers.

use chrono::{DateTime, Utc};

use super::wire::{Money, Sku};
use crate::http::Mapped;
use crate::{gpus, regions, MicroUsd, Offer, OfferId, OfferSource, Pricing, ProviderId};

/// One offer per GPU SKU (`Compute` / `GPU`, on demand or preemptible/spot, priced per
/// hour in USD) and service region: **one GPU, priced per GPU-hour, accelerator only**.
/// Compute Engine bills the VM the GPU attaches to (its vCPU and RAM SKUs, or the bundled
/// A2/A3/G2 machine type) separately; those are not added here, so the price is the GPU's
/// share, not a whole machine's. Commitments and other usage types are left out; names
/// the catalogue does not know (and `Virtual Workstation` licence SKUs) are counted.
pub(crate) fn offers(provider: &ProviderId, skus: &[Sku], now: DateTime<Utc>) -> Mapped {
    let mut out = Mapped::default();
    for s in skus {
        if s.category.resource_family != "Compute" || s.category.resource_group != "GPU" {
            continue;
        }
        let pricing = match s.category.usage_type.as_str() {
            "OnDemand" => Pricing::OnDemand,
            "Preemptible" => Pricing::Spot,
            _ => continue,
        };
        let Some(name) = gpu_name(&s.description) else {
            out.unknown_gpus.push(s.description.clone());
            continue;
        };
        let Some(model) = gpus::canonical(name, None) else {
            out.unknown_gpus.push(s.description.clone());
            continue;
        };
        let Some(price) = hourly_usd(s).filter(|p| p.0 > 0) else {
            continue;
        };
        let slug = slug(name);
        for region in &s.service_regions {
            out.offers.push(Offer {
                id: offer_id(provider, &slug, region, pricing),
                provider: provider.clone(),
                instance_type: format!("{name} GPU (accelerator only)"),
                gpu_model: model.name.to_string(),
                gpu_count: 1,
                gpu_memory_gib: model.memory_gib,
                vcpus: None,
                memory_gib: None,
                storage_gib: None,
                region: region.clone(),
                country: regions::country_of(&provider.0, region).map(str::to_string),
                pricing,
                price_per_hour: price,
                price_per_gpu_hour: price,
                available: 1,
                as_of: now,
                source: OfferSource::Live,
            });
        }
    }
    out
}

/// `Nvidia Tesla A100 80GB GPU running in Americas` → `Tesla A100 80GB`; `None` when the
/// description names no Nvidia GPU.
pub(crate) fn gpu_name(description: &str) -> Option<&str> {
    let lower = description.to_ascii_lowercase();
    let start = lower.find("nvidia ")? + "nvidia ".len();
    let end = start + lower[start..].find(" gpu")?;
    let name = description.get(start..end)?.trim();
    (!name.is_empty()).then_some(name)
}

/// The USD price per hour of the SKU's first pricing (its base tier).
pub(crate) fn hourly_usd(s: &Sku) -> Option<MicroUsd> {
    let expr = &s.pricing_info.first()?.pricing_expression;
    if expr.usage_unit != "h" {
        return None;
    }
    let tier = expr
        .tiered_rates
        .iter()
        .find(|t| {
            t.start_usage_amount
                .as_ref()
                .and_then(serde_json::Number::as_f64)
                == Some(0.0)
        })
        .or_else(|| expr.tiered_rates.first())?;
    money(&tier.unit_price)
}

/// `units` + `nanos` to micro-USD, nanos rounded half-up; other currencies are `None`.
pub(crate) fn money(m: &Money) -> Option<MicroUsd> {
    if m.currency_code != "USD" {
        return None;
    }
    let units: i64 = m.units.as_deref().unwrap_or("0").parse().ok()?;
    let nanos = m.nanos.unwrap_or(0);
    let micro = units
        .checked_mul(1_000_000)?
        .checked_add((nanos + 500) / 1_000)?;
    Some(MicroUsd(micro))
}

fn slug(name: &str) -> String {
    name.split_whitespace()
        .map(str::to_ascii_lowercase)
        .collect::<Vec<_>>()
        .join("-")
}

/// `gcp:<gpu slug>@<region>`, plus `:spot` for preemptible prices.
pub(crate) fn offer_id(
    provider: &ProviderId,
    gpu: &str,
    region: &str,
    pricing: Pricing,
) -> OfferId {
    match pricing {
        // GCP sells nothing by auction; a bid kind never reaches here, and reads as listed.
        Pricing::OnDemand | Pricing::Bid => OfferId::new(provider, &format!("{gpu}@{region}")),
        Pricing::Spot => OfferId::new(provider, &format!("{gpu}@{region}:spot")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_name_the_gpu_and_money_is_exact() {
        assert_eq!(
            gpu_name("Nvidia Tesla A100 GPU running in Americas"),
            Some("Tesla A100")
        );
        assert_eq!(
            gpu_name("Nvidia L4 GPU attached to Spot Preemptible VMs running in Belgium"),
            Some("L4")
        );
        assert_eq!(gpu_name("A2 Instance Core running in Americas"), None);
        let m = Money {
            currency_code: "USD".into(),
            units: Some("2".into()),
            nanos: Some(933_908_000),
        };
        assert_eq!(money(&m), Some(MicroUsd(2_933_908)));
        let eur = Money {
            currency_code: "EUR".into(),
            units: Some("1".into()),
            nanos: None,
        };
        assert_eq!(money(&eur), None);
    }
}
