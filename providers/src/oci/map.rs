//! Pure mapping of Oracle cost-estimator shapes and products to offers.

use chrono::{DateTime, Utc};

use super::wire::{Product, Products, Shape, Shapes};
use crate::http::{decode, Mapped};
use crate::{gpus, regions, MicroUsd, Offer, OfferId, OfferSource, Pricing, ProviderId};

/// One on-demand offer per active, visible GPU shape (`subType` `gpu`) and configured
/// region. The shape's one `ocpu` product is priced per GPU-hour for GPU shapes (the
/// estimator's convention, as gpuhunt reads it): the shape's price is that times `gpuQty`.
/// Universal Credits prices are the same in every commercial region, so the configured
/// regions share them; OCI says nothing about capacity here: one unit each.
pub(crate) fn offers(
    provider: &ProviderId,
    shapes: &Shapes,
    products: &Products,
    regions_list: &[String],
    now: DateTime<Utc>,
) -> Mapped {
    let mut out = Mapped::default();
    for s in &shapes.items {
        if s.hidden || s.status != "ACTIVE" || s.sub_type.value != "gpu" {
            continue;
        }
        let Some(count) = s.gpu_qty.filter(|&n| n > 0) else {
            continue;
        };
        let per_gpu_memory = s.gpu_memory_qty.map(|m| m / f64::from(count));
        let model = gpu_name(&s.name).and_then(|n| gpus::canonical(n, per_gpu_memory));
        let Some(model) = model else {
            out.unknown_gpus.push(s.name.clone());
            continue;
        };
        let Some((ocpus, per_gpu)) = ocpu_price(s, products) else {
            out.unknown_gpus
                .push(format!("{} (no hourly USD price)", s.name));
            continue;
        };
        let Some(price) = per_gpu.0.checked_mul(i64::from(count)).map(MicroUsd) else {
            continue;
        };
        // Ampere A10/A100 shapes say `arm` in the estimator but are x86 (gpuhunt's note).
        let vcpus = if s.processor_type.value == "arm" && !is_ampere_gpu(&s.name) {
            ocpus
        } else {
            ocpus.saturating_mul(2)
        };
        for region in regions_list {
            out.offers.push(Offer {
                id: offer_id(provider, &s.name, region),
                provider: provider.clone(),
                instance_type: s.name.clone(),
                gpu_model: model.name.to_string(),
                gpu_count: count,
                gpu_memory_gib: per_gpu_memory.unwrap_or(model.memory_gib),
                vcpus: Some(vcpus),
                memory_gib: Some(s.bundle_memory_qty),
                storage_gib: None,
                region: region.clone(),
                country: regions::country_of(&provider.0, region).map(str::to_string),
                pricing: Pricing::OnDemand,
                price_per_hour: price,
                price_per_gpu_hour: price.per_unit(count),
                available: 1,
                as_of: now,
                source: OfferSource::Live,
            });
        }
    }
    out
}

/// `oci:<shape>@<region>`.
pub(crate) fn offer_id(provider: &ProviderId, shape: &str, region: &str) -> OfferId {
    OfferId::new(provider, &format!("{shape}@{region}"))
}

/// The shape's OCPU count and the hourly pay-as-you-go USD price of its one `ocpu` part.
fn ocpu_price(s: &Shape, products: &Products) -> Option<(u32, MicroUsd)> {
    let [part] = s.products.as_slice() else {
        return None;
    };
    if part.kind.value != "ocpu" {
        return None;
    }
    let ocpus = part.qty.as_u64().and_then(|q| u32::try_from(q).ok())?;
    let product: &Product = products
        .items
        .iter()
        .find(|p| p.part_number == part.part_number)?;
    if product.billing_model != "UCM" || product.price_type != "HOUR" {
        return None;
    }
    let usd = product
        .currency_code_localizations
        .iter()
        .find(|l| l.currency_code == "USD")?;
    let price = usd.prices.iter().find(|p| p.model == "PAY_AS_YOU_GO")?;
    let micro = decode::usd_number(&price.value).filter(|p| p.0 > 0)?;
    Some((ocpus, micro))
}

/// The GPU a shape name carries: OCI's generation names (`GPU2` P100, `GPU3` V100, `GPU4`
/// A100, per OCI's shape docs) or the part after `GPU` (`VM.GPU.A10.1`, `BM.GPU.H100.8`,
/// `BM.GPU.A100-v2.8`).
pub(crate) fn gpu_name(shape: &str) -> Option<&str> {
    let parts: Vec<&str> = shape.split(['.', '-']).collect();
    for p in &parts {
        match p.to_ascii_uppercase().as_str() {
            "GPU2" => return Some("P100"),
            "GPU3" => return Some("V100"),
            "GPU4" => return Some("A100"),
            _ => {}
        }
    }
    let i = parts.iter().position(|p| p.eq_ignore_ascii_case("GPU"))?;
    parts.get(i + 1).copied().filter(|p| !p.is_empty())
}

fn is_ampere_gpu(shape: &str) -> bool {
    shape.contains("GPU4") || shape.contains("GPU.A10")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_names_name_their_gpu() {
        assert_eq!(gpu_name("VM.GPU.A10.1"), Some("A10"));
        assert_eq!(gpu_name("BM.GPU4.8"), Some("A100"));
        assert_eq!(gpu_name("BM.GPU.A100-v2.8"), Some("A100"));
        assert_eq!(gpu_name("VM.GPU3.2"), Some("V100"));
        assert_eq!(gpu_name("BM.Standard.E4.128"), None);
    }
}
