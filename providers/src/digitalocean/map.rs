//! Pure mapping of DigitalOcean wire types to offers, instances and errors.

use chrono::{DateTime, Utc};

use super::wire::{Droplet, ErrorBody, Size};
use crate::http::{decode, Mapped};
use crate::{
    gpus, regions, Connection, Instance, InstanceId, InstanceState, Offer, OfferId, OfferSource,
    Pricing, ProviderError, ProviderId,
};

/// The tag every droplet the broker makes carries (the list filter).
pub(crate) const BROKER_TAG: &str = "gpubroker";

/// Prefix of the tag that carries the allocation id.
const ALLOCATION_TAG_PREFIX: &str = "gpubroker-alloc:";

/// One on-demand offer per GPU size and region it can be created in. DigitalOcean does not
/// say how many droplets fit; a listed region counts as one. CPU sizes are not GPU offers
/// (left out, not counted as unknown GPUs).
pub(crate) fn offers(provider: &ProviderId, sizes: &[Size], now: DateTime<Utc>) -> Mapped {
    let mut out = Mapped::default();
    for s in sizes {
        let Some(gpu) = s.gpu_info.as_ref().filter(|g| g.count > 0) else {
            continue;
        };
        if !s.available {
            continue;
        }
        let per_gpu = gpu
            .vram
            .as_ref()
            .filter(|v| v.unit.eq_ignore_ascii_case("gib") || v.unit.eq_ignore_ascii_case("gb"))
            .map(|v| v.amount / f64::from(gpu.count));
        let Some(model) = gpus::canonical_with_hint(&gpu.model, per_gpu, &s.slug) else {
            out.unknown_gpus.push(gpu.model.clone());
            continue;
        };
        let Some(price) = decode::usd_number(&s.price_hourly).filter(|p| p.0 > 0) else {
            out.unknown_gpus
                .push(format!("{} (unreadable price)", s.slug));
            continue;
        };
        for region in &s.regions {
            out.offers.push(Offer {
                id: offer_id(provider, &s.slug, region),
                provider: provider.clone(),
                instance_type: s.slug.clone(),
                gpu_model: model.name.to_string(),
                gpu_count: gpu.count,
                gpu_memory_gib: per_gpu.unwrap_or(model.memory_gib),
                vcpus: Some(s.vcpus),
                memory_gib: Some(s.memory as f64 / 1024.0),
                storage_gib: s.disk,
                region: region.clone(),
                country: regions::country_of(&provider.0, region).map(str::to_string),
                pricing: Pricing::OnDemand,
                price_per_hour: price,
                price_per_gpu_hour: price.per_unit(gpu.count),
                available: 1,
                as_of: now,
                source: OfferSource::Live,
            });
        }
    }
    out
}

/// `do:<size slug>@<region slug>`.
pub(crate) fn offer_id(provider: &ProviderId, size: &str, region: &str) -> OfferId {
    OfferId::new(provider, &format!("{size}@{region}"))
}

/// The size and region of an offer id this adapter made.
pub(crate) fn parse_offer_id(id: &OfferId) -> Option<(&str, &str)> {
    id.key().split_once('@')
}

/// The tag carrying `allocation_id`. DigitalOcean tags take letters, digits, `:`, `-` and
/// `_` (up to 255 characters); an id outside that alphabet cannot be carried (`None`).
pub(crate) fn allocation_tag(allocation_id: &str) -> Option<String> {
    let ok = !allocation_id.is_empty()
        && allocation_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b':' | b'-' | b'_'));
    let tag = format!("{ALLOCATION_TAG_PREFIX}{allocation_id}");
    (ok && tag.len() <= 255).then_some(tag)
}

/// A droplet name (a hostname) for the allocation.
pub(crate) fn droplet_name(allocation_id: &str) -> String {
    let id: String = allocation_id
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    format!("gpubroker-{id}")
}

/// The base image of a GPU size: AMD sizes boot DigitalOcean's ROCm image, NVIDIA sizes the
/// CUDA image for one or eight GPUs.
pub(crate) fn gpu_image(size: &str) -> &'static str {
    if size.contains("mi300") || size.contains("mi325") {
        "gpu-amd-base"
    } else if size.contains("x8") {
        "gpu-h100x8-base"
    } else {
        "gpu-h100x1-base"
    }
}

/// Cloud-init that installs the user's SSH key (DigitalOcean's `ssh_keys` takes registered
/// key ids or fingerprints, not key text).
pub(crate) fn user_data(ssh_public_key: Option<&str>) -> Option<String> {
    let key = ssh_public_key?.trim();
    (!key.is_empty() && !key.contains(['\n', '\r']))
        .then(|| format!("#cloud-config\nssh_authorized_keys:\n  - {key}\n"))
}

/// A droplet as the broker sees it; the allocation id comes from its allocation tag.
pub(crate) fn instance(provider: &ProviderId, d: &Droplet) -> Result<Instance, ProviderError> {
    let state = match d.status.as_str() {
        "new" => InstanceState::Pending,
        "active" => InstanceState::Running,
        // Powered off: still billed, not usable.
        "off" => InstanceState::Failed,
        "archive" => InstanceState::Terminated,
        other => {
            return Err(ProviderError::InvalidResponse(format!(
                "unknown droplet status `{other}`"
            )))
        }
    };
    let public_ip = d
        .networks
        .v4
        .iter()
        .find(|n| n.kind == "public")
        .map(|n| n.ip_address.clone());
    let connection = match (public_ip, state) {
        (Some(ip), InstanceState::Running) => Some(Connection {
            ssh_host: ip,
            ssh_port: 22,
            ssh_user: "root".to_string(),
            jupyter_url: None,
        }),
        _ => None,
    };
    let offer_id = match (&d.size_slug, &d.region) {
        (Some(size), Some(region)) => offer_id(provider, size, &region.slug),
        _ => OfferId::new(provider, ""),
    };
    Ok(Instance {
        id: InstanceId(d.id.to_string()),
        allocation_id: allocation_of(&d.tags).unwrap_or_default().to_string(),
        offer_id,
        state,
        connection,
    })
}

/// The allocation id carried in a droplet's tags.
pub(crate) fn allocation_of(tags: &[String]) -> Option<&str> {
    tags.iter()
        .find_map(|t| t.strip_prefix(ALLOCATION_TAG_PREFIX))
}

/// The path of a pagination link, below the API root (`/v2`): the engine sends it to its
/// own base URL, never to a host named in a response.
pub(crate) fn next_page(link: Option<&str>) -> Option<String> {
    let url = reqwest::Url::parse(link?).ok()?;
    let path = url.path().strip_prefix("/v2")?;
    Some(match url.query() {
        Some(q) => format!("{path}?{q}"),
        None => path.to_string(),
    })
}

/// DigitalOcean's `{"id", "message"}` error bodies. A 422 on droplet create is how the API
/// refuses a size a region cannot place now (dstack reads it as no capacity).
pub(crate) fn classify(status: u16, body: &[u8]) -> Option<ProviderError> {
    let e: ErrorBody = serde_json::from_slice(body).ok()?;
    match (status, e.id.to_ascii_lowercase().as_str()) {
        (_, "unauthorized" | "forbidden") => Some(ProviderError::Auth),
        (_, "not_found") => Some(ProviderError::NotFound),
        (422, _) => Some(ProviderError::NoCapacity),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocation_ids_travel_as_tags_and_come_back() {
        let tag = allocation_tag("0193c0de-7a1b-7c2d-9e3f-0123456789ab").unwrap();
        assert_eq!(tag, "gpubroker-alloc:0193c0de-7a1b-7c2d-9e3f-0123456789ab");
        assert_eq!(
            allocation_of(&["gpubroker".into(), tag]),
            Some("0193c0de-7a1b-7c2d-9e3f-0123456789ab")
        );
        assert_eq!(allocation_tag("has space"), None);
        assert_eq!(allocation_tag(""), None);
    }

    #[test]
    fn pagination_links_are_followed_below_our_own_base() {
        assert_eq!(
            next_page(Some(
                "https://api.digitalocean.com/v2/sizes?page=2&per_page=200"
            )),
            Some("/sizes?page=2&per_page=200".to_string())
        );
        assert_eq!(next_page(Some("https://evil.example/other")), None);
        assert_eq!(next_page(None), None);
    }

    #[test]
    fn a_422_is_no_capacity_and_unauthorized_is_auth() {
        let body =
            br#"{"id":"unprocessable_entity","message":"Size is not available in this region."}"#;
        assert_eq!(classify(422, body), Some(ProviderError::NoCapacity));
        let body = br#"{"id":"Unauthorized","message":"Unable to authenticate you"}"#;
        assert_eq!(classify(401, body), Some(ProviderError::Auth));
        assert_eq!(classify(500, b"oops"), None);
    }
}
