//! Pure mapping of AWS price-list items, EC2 instance types, spot prices and instances to
//! offers, instances and errors.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};

use super::wire::{Ec2Instance, InstanceTypeInfo, PriceItem, SpotPrice};
use crate::http::{decode, Mapped};
use crate::{
    gpus, ownership, regions, Connection, Instance, InstanceId, InstanceState, MicroUsd, Offer,
    OfferId, OfferSource, Pricing, ProviderError, ProviderId,
};

/// The on-demand USD hourly price of each instance type of one region's price list (items
/// of another region, another unit or a zero price are left out).
pub(crate) fn on_demand_prices(items: &[PriceItem], region: &str) -> BTreeMap<String, MicroUsd> {
    let mut out = BTreeMap::new();
    for item in items {
        let a = &item.product.attributes;
        let (Some(instance_type), Some(code)) = (a.get("instanceType"), a.get("regionCode")) else {
            continue;
        };
        if code != region {
            continue;
        }
        let price = item
            .terms
            .on_demand
            .values()
            .flat_map(|t| t.price_dimensions.values())
            .filter(|d| d.unit == "Hrs")
            .filter_map(|d| d.price_per_unit.get("USD"))
            .filter_map(|usd| decode::usd_text(usd))
            .find(|p| p.0 > 0);
        if let Some(p) = price {
            out.insert(instance_type.clone(), p);
        }
    }
    out
}

/// Offers of one region: one on-demand offer per priced GPU instance type, and one spot
/// offer per type and availability zone from the latest spot price there. GPU model, count
/// and memory come from `DescribeInstanceTypes` (the price list does not name GPUs); a type
/// without GPU facts or with a GPU the catalogue does not know is skipped and counted. No
/// capacity signal: one unit each.
pub(crate) fn offers(
    provider: &ProviderId,
    region: &str,
    prices: &BTreeMap<String, MicroUsd>,
    types: &[InstanceTypeInfo],
    spot: &[SpotPrice],
    now: DateTime<Utc>,
) -> Mapped {
    let by_type: HashMap<&str, &InstanceTypeInfo> = types
        .iter()
        .map(|t| (t.instance_type.as_str(), t))
        .collect();
    let mut out = Mapped::default();
    let country = regions::country_of(&provider.0, region).map(str::to_string);
    for (instance_type, &price) in prices {
        let Some(info) = by_type.get(instance_type.as_str()) else {
            out.unknown_gpus
                .push(format!("{instance_type} (no instance type facts)"));
            continue;
        };
        let Some((model, count, memory)) = gpu_of(info) else {
            out.unknown_gpus.push(format!(
                "{instance_type} ({})",
                info.gpus.first().map_or("no GPU", |g| g.name.as_str())
            ));
            continue;
        };
        let base = Offer {
            id: offer_id(provider, instance_type, region, None),
            provider: provider.clone(),
            instance_type: instance_type.clone(),
            gpu_model: model.to_string(),
            gpu_count: count,
            gpu_memory_gib: memory,
            vcpus: info.vcpus,
            memory_gib: info.memory_mib.map(|m| m as f64 / 1024.0),
            storage_gib: None,
            region: region.to_string(),
            country: country.clone(),
            pricing: Pricing::OnDemand,
            price_per_hour: price,
            price_per_gpu_hour: price.per_unit(count),
            available: 1,
            as_of: now,
            source: OfferSource::Live,
        };
        for (zone, spot_price) in latest_spot(spot, instance_type) {
            out.offers.push(Offer {
                id: offer_id(provider, instance_type, region, Some(zone)),
                pricing: Pricing::Spot,
                price_per_hour: spot_price,
                price_per_gpu_hour: spot_price.per_unit(count),
                ..base.clone()
            });
        }
        out.offers.push(base);
    }
    out
}

/// The canonical GPU, count and per-GPU memory (GiB) of an instance type.
fn gpu_of(info: &InstanceTypeInfo) -> Option<(&'static str, u32, f64)> {
    let [gpu] = info.gpus.as_slice() else {
        return None;
    };
    if gpu.count == 0 {
        return None;
    }
    let memory = gpu.memory_mib.map(|m| m as f64 / 1024.0);
    let model = gpus::canonical_with_hint(&gpu.name, memory, &info.instance_type)?;
    Some((model.name, gpu.count, memory.unwrap_or(model.memory_gib)))
}

/// The latest Linux spot price of `instance_type` per availability zone.
fn latest_spot<'a>(spot: &'a [SpotPrice], instance_type: &str) -> BTreeMap<&'a str, MicroUsd> {
    let mut latest: BTreeMap<&str, (&str, MicroUsd)> = BTreeMap::new();
    for s in spot.iter().filter(|s| s.instance_type == instance_type) {
        let Some(p) = decode::usd_text(&s.spot_price).filter(|p| p.0 > 0) else {
            continue;
        };
        match latest.get(s.availability_zone.as_str()) {
            Some((ts, _)) if *ts >= s.timestamp.as_str() => {}
            _ => {
                latest.insert(&s.availability_zone, (&s.timestamp, p));
            }
        }
    }
    latest.into_iter().map(|(z, (_, p))| (z, p)).collect()
}

/// `aws:<type>@<region>` (on demand) or `aws:<type>@<region>/<zone>:spot`.
pub(crate) fn offer_id(
    provider: &ProviderId,
    instance_type: &str,
    region: &str,
    spot_zone: Option<&str>,
) -> OfferId {
    match spot_zone {
        Some(z) => OfferId::new(provider, &format!("{instance_type}@{region}/{z}:spot")),
        None => OfferId::new(provider, &format!("{instance_type}@{region}")),
    }
}

/// What to launch for an offer id this adapter made.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Launch<'a> {
    pub instance_type: &'a str,
    pub region: &'a str,
    /// The availability zone of a spot offer.
    pub spot_zone: Option<&'a str>,
}

pub(crate) fn parse_offer_id(id: &OfferId) -> Option<Launch<'_>> {
    let (instance_type, rest) = id.key().split_once('@')?;
    match rest.strip_suffix(":spot") {
        Some(place) => {
            let (region, zone) = place.split_once('/')?;
            Some(Launch {
                instance_type,
                region,
                spot_zone: Some(zone),
            })
        }
        None => Some(Launch {
            instance_type,
            region: rest,
            spot_zone: None,
        }),
    }
}

/// EC2 instance ids are regional: the broker's id is `<region>/<i-...>`.
pub(crate) fn instance_id(region: &str, ec2_id: &str) -> InstanceId {
    InstanceId(format!("{region}/{ec2_id}"))
}

pub(crate) fn parse_instance_id(id: &InstanceId) -> Option<(&str, &str)> {
    id.0.split_once('/')
}

/// An instance as the broker sees it; the allocation id comes from its [`ownership`]
/// allocation tag (an EC2 tag *key*).
pub(crate) fn instance(
    provider: &ProviderId,
    region: &str,
    i: &Ec2Instance,
) -> Result<Instance, ProviderError> {
    let state = match i.state.as_str() {
        "pending" => InstanceState::Pending,
        "running" => InstanceState::Running,
        "shutting-down" => InstanceState::Terminating,
        "terminated" => InstanceState::Terminated,
        // Nothing the broker makes is stopped on purpose.
        "stopping" | "stopped" => InstanceState::Failed,
        other => {
            return Err(ProviderError::InvalidResponse(format!(
                "unknown instance state `{other}`"
            )))
        }
    };
    let connection = match (&i.public_ip, state) {
        (Some(ip), InstanceState::Running) => Some(Connection {
            ssh_host: ip.clone(),
            ssh_port: 22,
            ssh_user: "ubuntu".to_string(),
            jupyter_url: None,
        }),
        _ => None,
    };
    let spot_zone = match (i.lifecycle.as_deref(), i.availability_zone.as_deref()) {
        (Some("spot"), Some(z)) => Some(z),
        _ => None,
    };
    Ok(Instance {
        id: instance_id(region, &i.instance_id),
        allocation_id: ownership::allocation_of_tags(&i.tags.keys().cloned().collect::<Vec<_>>())
            .unwrap_or_default()
            .to_string(),
        offer_id: offer_id(provider, &i.instance_type, region, spot_zone),
        state,
        connection,
    })
}

/// EC2's XML error codes and the Price List API's JSON `__type`, read before the status.
pub(crate) fn classify(_status: u16, body: &[u8]) -> Option<ProviderError> {
    let text = std::str::from_utf8(body).ok()?;
    let code = super::wire::error_code(text).or_else(|| {
        let v: serde_json::Value = serde_json::from_str(text).ok()?;
        let t = v.get("__type")?.as_str()?;
        Some(t.rsplit('#').next().unwrap_or(t).to_string())
    })?;
    let code = code.strip_prefix("Server.").unwrap_or(&code);
    match code {
        "InsufficientInstanceCapacity"
        | "InsufficientCapacity"
        | "SpotMaxPriceTooLow"
        | "InsufficientFreeAddressesInSubnet" => Some(ProviderError::NoCapacity),
        "InstanceLimitExceeded" | "VcpuLimitExceeded" | "MaxSpotInstanceCountExceeded" => {
            Some(ProviderError::NoQuota)
        }
        "AuthFailure"
        | "UnauthorizedOperation"
        | "SignatureDoesNotMatch"
        | "InvalidClientTokenId"
        | "AccessDeniedException"
        | "UnrecognizedClientException" => Some(ProviderError::Auth),
        "InvalidInstanceID.NotFound" | "InvalidInstanceID.Malformed" => {
            Some(ProviderError::NotFound)
        }
        "RequestLimitExceeded" | "ThrottlingException" => {
            Some(ProviderError::RateLimited { retry_after: None })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offer_ids_round_trip_for_on_demand_and_spot() {
        let p = ProviderId("aws".into());
        let od = offer_id(&p, "g5.xlarge", "us-east-1", None);
        assert_eq!(od.0, "aws:g5.xlarge@us-east-1");
        assert_eq!(
            parse_offer_id(&od),
            Some(Launch {
                instance_type: "g5.xlarge",
                region: "us-east-1",
                spot_zone: None
            })
        );
        let spot = offer_id(&p, "g5.xlarge", "us-east-1", Some("us-east-1a"));
        assert_eq!(spot.0, "aws:g5.xlarge@us-east-1/us-east-1a:spot");
        assert_eq!(parse_offer_id(&spot).unwrap().spot_zone, Some("us-east-1a"));
    }

    #[test]
    fn ec2_and_pricing_error_codes_map_to_the_taxonomy() {
        let xml = br#"<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>InsufficientInstanceCapacity</Code><Message>m</Message></Error></Errors><RequestID>r</RequestID></Response>"#;
        assert_eq!(classify(500, xml), Some(ProviderError::NoCapacity));
        let xml = br#"<Response><Errors><Error><Code>VcpuLimitExceeded</Code></Error></Errors></Response>"#;
        assert_eq!(classify(400, xml), Some(ProviderError::NoQuota));
        let json = br#"{"__type":"com.amazon.coral.availability#ThrottlingException","message":"Rate exceeded"}"#;
        assert_eq!(
            classify(400, json),
            Some(ProviderError::RateLimited { retry_after: None })
        );
        assert_eq!(classify(500, b"oops"), None);
    }
}
