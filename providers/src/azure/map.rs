//! Pure mapping of Azure Retail Prices items to offers. The price list names VM SKUs, not
//! GPUs: the GPU model and count come from the series table below (Azure's published
//! N-series sizes), read from the SKU name (`Standard_<family><vCPUs><features>[_<GPU>]_v<n>`).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::wire::PriceItem;
use crate::http::{decode, Mapped};
use crate::{gpus, regions, Offer, OfferId, OfferSource, Pricing, ProviderId};

/// How many whole GPUs a size of a series has.
#[derive(Debug, Clone, Copy)]
enum Gpus {
    /// One GPU per this many vCPUs; sizes with a fraction of a GPU have none.
    PerVcpus(u32),
    /// `(vCPUs, GPUs)` of each size.
    Sizes(&'static [(u32, u32)]),
}

/// One GPU series: family letters, accelerator part of the name, version, the GPU and how
/// many a size has.
struct Series {
    family: &'static str,
    accelerator: Option<&'static str>,
    version: Option<u32>,
    gpu: &'static str,
    gpus: Gpus,
}

const fn series(
    family: &'static str,
    accelerator: Option<&'static str>,
    version: Option<u32>,
    gpu: &'static str,
    gpus: Gpus,
) -> Series {
    Series {
        family,
        accelerator,
        version,
        gpu,
        gpus,
    }
}

/// Azure's N-series (learn.microsoft.com, "GPU accelerated compute VM sizes").
static SERIES: &[Series] = &[
    series("NC", None, None, "K80", Gpus::PerVcpus(6)),
    series("NC", None, Some(2), "P100", Gpus::PerVcpus(6)),
    series("NC", None, Some(3), "V100 16GB", Gpus::PerVcpus(6)),
    series(
        "NC",
        Some("T4"),
        Some(3),
        "T4",
        Gpus::Sizes(&[(4, 1), (8, 1), (16, 1), (64, 4)]),
    ),
    series(
        "NC",
        Some("A100"),
        Some(4),
        "A100 80GB PCIe",
        Gpus::PerVcpus(24),
    ),
    series("NC", Some("H100"), Some(5), "H100 NVL", Gpus::PerVcpus(40)),
    series("NCC", Some("H100"), Some(5), "H100 NVL", Gpus::PerVcpus(40)),
    series("ND", None, None, "P40", Gpus::PerVcpus(6)),
    series("ND", None, Some(2), "V100 32GB", Gpus::PerVcpus(5)),
    series("ND", None, Some(4), "A100 40GB SXM", Gpus::PerVcpus(12)),
    series(
        "ND",
        Some("A100"),
        Some(4),
        "A100 80GB SXM",
        Gpus::PerVcpus(12),
    ),
    series("ND", Some("H100"), Some(5), "H100 SXM", Gpus::PerVcpus(12)),
    series("ND", Some("H200"), Some(5), "H200", Gpus::PerVcpus(12)),
    series("ND", Some("MI300X"), Some(5), "MI300X", Gpus::PerVcpus(12)),
    series("NV", None, None, "M60", Gpus::PerVcpus(6)),
    series("NV", None, Some(3), "M60", Gpus::PerVcpus(12)),
    series("NV", None, Some(4), "MI25", Gpus::PerVcpus(32)),
    series("NV", Some("A10"), Some(5), "A10", Gpus::PerVcpus(36)),
];

/// A VM SKU name broken into its parts.
#[derive(Debug, PartialEq)]
pub(crate) struct Sku<'a> {
    pub family: &'a str,
    pub vcpus: u32,
    pub accelerator: Option<&'a str>,
    pub version: Option<u32>,
}

/// Reads `Standard_NC24ads_A100_v4`, `Standard_NC6`, `Standard_NV12s_v3`,
/// `Standard_NC6_Promo`. `None` for names outside that grammar.
pub(crate) fn parse_sku(arm_sku_name: &str) -> Option<Sku<'_>> {
    let rest = arm_sku_name.strip_prefix("Standard_")?;
    let mut parts = rest.split('_');
    let head = parts.next()?;
    let digits_at = head.find(|c: char| c.is_ascii_digit())?;
    let family = &head[..digits_at];
    let tail = &head[digits_at..];
    let digits_end = tail
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(tail.len());
    let vcpus: u32 = tail[..digits_end].parse().ok()?;
    if family.is_empty() || !family.bytes().all(|b| b.is_ascii_uppercase()) {
        return None;
    }
    let mut accelerator = None;
    let mut version = None;
    for part in parts {
        if let Some(v) = part.strip_prefix('v').and_then(|v| v.parse().ok()) {
            version = Some(v);
        } else if part == "Promo" {
            continue;
        } else if accelerator.is_none() {
            accelerator = Some(part);
        } else {
            return None;
        }
    }
    Some(Sku {
        family,
        vcpus,
        accelerator,
        version,
    })
}

/// What the series table says of a SKU.
#[derive(Debug, PartialEq)]
pub(crate) enum GpuOf {
    /// `count` whole GPUs of this spelling.
    Whole { gpu: &'static str, count: u32 },
    /// A known series, but this size has a fraction of a GPU (not a GPU offer).
    Fraction,
    /// Not in the table.
    Unknown,
}

pub(crate) fn gpu_of(sku: &Sku<'_>) -> GpuOf {
    let Some(s) = SERIES.iter().find(|s| {
        s.family == sku.family && s.accelerator == sku.accelerator && s.version == sku.version
    }) else {
        return GpuOf::Unknown;
    };
    let count = match s.gpus {
        Gpus::PerVcpus(n) => sku.vcpus.is_multiple_of(n).then(|| sku.vcpus / n),
        Gpus::Sizes(sizes) => sizes.iter().find(|(v, _)| *v == sku.vcpus).map(|(_, c)| *c),
    };
    match count {
        Some(count) if count > 0 => GpuOf::Whole { gpu: s.gpu, count },
        _ => GpuOf::Fraction,
    }
}

/// One offer per SKU, region and pricing kind (on-demand, spot) from pay-as-you-go Linux
/// hourly USD prices. Windows licences, Low Priority, reservations and dev/test prices are
/// left out; of duplicate meters the lowest price wins. Azure says nothing of capacity: a
/// priced region counts as one unit ("launch and see").
pub(crate) fn offers(provider: &ProviderId, items: &[PriceItem], now: DateTime<Utc>) -> Mapped {
    let mut out = Mapped::default();
    let mut by_id: BTreeMap<OfferId, Offer> = BTreeMap::new();
    for item in items {
        if item.kind != "Consumption"
            || item.unit_of_measure != "1 Hour"
            || item.currency_code != "USD"
            || item.product_name.contains("Windows")
            || item.meter_name.contains("Low Priority")
            || item.sku_name.contains("Low Priority")
            || item.arm_region_name.is_empty()
        {
            continue;
        }
        let Some(sku) = parse_sku(&item.arm_sku_name) else {
            continue;
        };
        let (gpu, count) = match gpu_of(&sku) {
            GpuOf::Whole { gpu, count } => (gpu, count),
            GpuOf::Fraction => continue,
            // Only the N families are GPU sizes; anything else the filter let through is
            // not a GPU offer.
            GpuOf::Unknown if !sku.family.starts_with('N') => continue,
            GpuOf::Unknown => {
                out.unknown_gpus.push(item.arm_sku_name.clone());
                continue;
            }
        };
        let Some(model) = gpus::canonical(gpu, None) else {
            out.unknown_gpus.push(item.arm_sku_name.clone());
            continue;
        };
        let Some(price) = decode::usd_number(&item.retail_price).filter(|p| p.0 > 0) else {
            continue;
        };
        let pricing = if item.meter_name.contains("Spot") || item.sku_name.contains("Spot") {
            Pricing::Spot
        } else {
            Pricing::OnDemand
        };
        let id = offer_id(provider, &item.arm_sku_name, &item.arm_region_name, pricing);
        if by_id.get(&id).is_some_and(|o| o.price_per_hour <= price) {
            continue;
        }
        let region = item.arm_region_name.clone();
        by_id.insert(
            id.clone(),
            Offer {
                id,
                provider: provider.clone(),
                instance_type: item.arm_sku_name.clone(),
                gpu_model: model.name.to_string(),
                gpu_count: count,
                gpu_memory_gib: model.memory_gib,
                vcpus: Some(sku.vcpus),
                memory_gib: None,
                storage_gib: None,
                country: regions::country_of(&provider.0, &region).map(str::to_string),
                region,
                pricing,
                price_per_hour: price,
                price_per_gpu_hour: price.per_unit(count),
                available: 1,
                as_of: now,
                source: OfferSource::Live,
            },
        );
    }
    out.unknown_gpus.sort();
    out.unknown_gpus.dedup();
    out.offers = by_id.into_values().collect();
    out
}

/// `azure:<arm sku>@<region>` (`:spot` appended for spot).
pub(crate) fn offer_id(
    provider: &ProviderId,
    arm_sku_name: &str,
    region: &str,
    pricing: Pricing,
) -> OfferId {
    let spot = if pricing == Pricing::Spot {
        ":spot"
    } else {
        ""
    };
    OfferId::new(provider, &format!("{arm_sku_name}@{region}{spot}"))
}

/// The path and query of a `NextPageLink`, to send to the engine's own base URL (never to
/// a host named in a response).
pub(crate) fn next_page(link: Option<&str>) -> Option<String> {
    let url = reqwest::Url::parse(link?).ok()?;
    if url.path() != "/api/retail/prices" {
        return None;
    }
    Some(format!("{}?{}", url.path(), url.query()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sku_names_parse_into_family_vcpus_accelerator_and_version() {
        assert_eq!(
            parse_sku("Standard_NC24ads_A100_v4"),
            Some(Sku {
                family: "NC",
                vcpus: 24,
                accelerator: Some("A100"),
                version: Some(4)
            })
        );
        assert_eq!(
            parse_sku("Standard_NC6_Promo"),
            Some(Sku {
                family: "NC",
                vcpus: 6,
                accelerator: None,
                version: None
            })
        );
        assert_eq!(parse_sku("Standard_D2s_v5").map(|s| s.family), Some("D"));
        assert_eq!(parse_sku("Basic_A0"), None);
    }

    #[test]
    fn the_series_table_gives_whole_gpus_and_leaves_fractions_out() {
        let of = |name: &str| gpu_of(&parse_sku(name).unwrap());
        assert_eq!(
            of("Standard_ND96isr_H100_v5"),
            GpuOf::Whole {
                gpu: "H100 SXM",
                count: 8
            }
        );
        assert_eq!(
            of("Standard_NC64as_T4_v3"),
            GpuOf::Whole {
                gpu: "T4",
                count: 4
            }
        );
        assert_eq!(
            of("Standard_NV72ads_A10_v5"),
            GpuOf::Whole {
                gpu: "A10",
                count: 2
            }
        );
        assert_eq!(of("Standard_NV6ads_A10_v5"), GpuOf::Fraction);
        assert_eq!(of("Standard_NG8ads_V620_v1"), GpuOf::Unknown);
        assert_eq!(of("Standard_D2s_v5"), GpuOf::Unknown);
        for s in SERIES {
            assert!(gpus::canonical(s.gpu, None).is_some(), "{}", s.gpu);
        }
    }

    #[test]
    fn next_page_links_keep_path_and_query_only() {
        assert_eq!(
            next_page(Some(
                "https://prices.azure.com:443/api/retail/prices?$filter=x&$skip=100"
            )),
            Some("/api/retail/prices?$filter=x&$skip=100".to_string())
        );
        assert_eq!(next_page(Some("https://elsewhere.example/other?x=1")), None);
        assert_eq!(next_page(None), None);
    }
}
