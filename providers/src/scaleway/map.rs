//! Pure mapping of Scaleway wire types to offers, instances and errors.

use chrono::{DateTime, Utc};

use super::wire::{Availability, ErrorBody, Server, ServerTypes};
use crate::http::{decode, Mapped};
use crate::{
    gpus, regions, Connection, Instance, InstanceId, InstanceState, MicroUsd, Offer, OfferId,
    OfferSource, Pricing, ProviderError, ProviderId,
};

/// The tag every server the broker makes carries.
pub(crate) const BROKER_TAG: &str = "gpubroker";

/// Prefix of the tag that carries the allocation id.
const ALLOCATION_TAG_PREFIX: &str = "gpubroker-alloc:";

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// One zone's catalogue.
pub(crate) struct Zone<'a> {
    pub zone: &'a str,
    pub types: &'a ServerTypes,
    pub availability: &'a Availability,
}

/// One on-demand offer per GPU server type and zone, unless the zone reports a `shortage`
/// of it (or it is at end of service). Prices are EUR; `usd_per_eur` converts them.
/// Scaleway does not say how many servers fit: an available type counts as one.
pub(crate) fn offers(
    provider: &ProviderId,
    zones: &[Zone<'_>],
    usd_per_eur: MicroUsd,
    now: DateTime<Utc>,
) -> Mapped {
    let mut out = Mapped::default();
    for z in zones {
        for (name, t) in &z.types.servers {
            let count = t.gpu.unwrap_or(0);
            if count == 0 || t.end_of_service {
                continue;
            }
            let short = z
                .availability
                .servers
                .get(name)
                .is_some_and(|a| a.availability == "shortage");
            if short {
                continue;
            }
            let Some(info) = &t.gpu_info else {
                out.unknown_gpus.push(name.clone());
                continue;
            };
            let per_gpu = info.gpu_memory.map(|b| (b as f64 / GIB).round());
            let Some(model) = gpus::canonical_with_hint(&info.gpu_name, per_gpu, name) else {
                out.unknown_gpus.push(info.gpu_name.clone());
                continue;
            };
            let Some(price) = decode::usd_number(&t.hourly_price)
                .and_then(|eur| decode::eur_to_usd(eur, usd_per_eur))
                .filter(|p| p.0 > 0)
            else {
                continue;
            };
            let region = region_of(z.zone);
            out.offers.push(Offer {
                id: offer_id(provider, name, z.zone),
                provider: provider.clone(),
                instance_type: name.clone(),
                gpu_model: model.name.to_string(),
                gpu_count: count,
                gpu_memory_gib: per_gpu.unwrap_or(model.memory_gib),
                vcpus: Some(t.ncpus),
                memory_gib: Some(t.ram as f64 / GIB),
                storage_gib: None,
                country: regions::country_of(&provider.0, region).map(str::to_string),
                region: region.to_string(),
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

/// `fr-par` of the zone `fr-par-2`.
pub(crate) fn region_of(zone: &str) -> &str {
    match zone.rsplit_once('-') {
        Some((region, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => region,
        _ => zone,
    }
}

/// `scaleway:<commercial type>@<zone>`.
pub(crate) fn offer_id(provider: &ProviderId, commercial_type: &str, zone: &str) -> OfferId {
    OfferId::new(provider, &format!("{commercial_type}@{zone}"))
}

/// The commercial type and zone of an offer id this adapter made.
pub(crate) fn parse_offer_id(id: &OfferId) -> Option<(&str, &str)> {
    id.key().split_once('@')
}

/// Server ids are per zone: the broker's instance id is `<zone>/<server id>`.
pub(crate) fn instance_id(zone: &str, server_id: &str) -> InstanceId {
    InstanceId(format!("{zone}/{server_id}"))
}

/// The zone and server id of an instance id this adapter made.
pub(crate) fn parse_instance_id(id: &InstanceId) -> Option<(&str, &str)> {
    id.0.split_once('/')
}

/// The tag carrying `allocation_id` (letters, digits, `-`, `_`; so it travels unescaped in
/// the `tags` query filter).
pub(crate) fn allocation_tag(allocation_id: &str) -> Option<String> {
    let ok = !allocation_id.is_empty()
        && allocation_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'));
    ok.then(|| format!("{ALLOCATION_TAG_PREFIX}{allocation_id}"))
}

/// A server as the broker sees it; the allocation id comes from its allocation tag. A
/// created server is `stopped` until the adapter's `poweron` starts it.
pub(crate) fn instance(
    provider: &ProviderId,
    zone: &str,
    s: &Server,
) -> Result<Instance, ProviderError> {
    let state = match s.state.as_str() {
        "stopped" | "stopped in place" | "starting" => InstanceState::Pending,
        "running" => InstanceState::Running,
        "stopping" => InstanceState::Terminating,
        "locked" => InstanceState::Failed,
        other => {
            return Err(ProviderError::InvalidResponse(format!(
                "unknown server state `{other}`"
            )))
        }
    };
    let zone = s.zone.as_deref().unwrap_or(zone);
    let connection = match (&s.public_ip, state) {
        (Some(ip), InstanceState::Running) => Some(Connection {
            ssh_host: ip.address.clone(),
            ssh_port: 22,
            ssh_user: "root".to_string(),
            jupyter_url: None,
        }),
        _ => None,
    };
    Ok(Instance {
        id: instance_id(zone, &s.id),
        allocation_id: s
            .tags
            .iter()
            .find_map(|t| t.strip_prefix(ALLOCATION_TAG_PREFIX))
            .unwrap_or_default()
            .to_string(),
        offer_id: offer_id(provider, &s.commercial_type, zone),
        state,
        connection,
    })
}

/// Scaleway's `{"type", "message"}` error bodies (type names of the Scaleway SDKs).
pub(crate) fn classify(_status: u16, body: &[u8]) -> Option<ProviderError> {
    let e: ErrorBody = serde_json::from_slice(body).ok()?;
    match e.kind.as_str() {
        "denied_authentication" | "authentication_error" | "permissions_denied" => {
            Some(ProviderError::Auth)
        }
        "quotas_exceeded" => Some(ProviderError::NoQuota),
        "out_of_stock" => Some(ProviderError::NoCapacity),
        "not_found" | "unknown_resource" => Some(ProviderError::NotFound),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones_name_their_region_and_ids_carry_the_zone() {
        assert_eq!(region_of("fr-par-2"), "fr-par");
        assert_eq!(region_of("pl-waw"), "pl-waw");
        let id = instance_id("nl-ams-1", "abc");
        assert_eq!(parse_instance_id(&id), Some(("nl-ams-1", "abc")));
        assert_eq!(allocation_tag("a b"), None);
    }

    #[test]
    fn sdk_error_types_map_to_the_taxonomy() {
        let body = br#"{"type":"denied_authentication","message":"invalid token"}"#;
        assert_eq!(classify(401, body), Some(ProviderError::Auth));
        let body = br#"{"type":"quotas_exceeded","message":"Quota exceeded"}"#;
        assert_eq!(classify(403, body), Some(ProviderError::NoQuota));
        assert_eq!(classify(500, b"oops"), None);
    }
}
