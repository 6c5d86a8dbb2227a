//! Pure mapping of Hyperstack wire types to offers, instances and errors.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::wire::{ErrorBody, Flavors, PriceEntry, VmWire};
use crate::http::{decode, Mapped};
use crate::{
    gpus, regions, Connection, Instance, InstanceId, InstanceState, MicroUsd, Offer, OfferId,
    OfferSource, Pricing, ProviderError, ProviderId,
};

/// One on-demand offer per GPU flavor in stock, priced from the pricebook entry named like
/// the flavor's GPU (USD per GPU-hour) times the GPU count. Hyperstack does not say how many
/// units are free; a flavor in stock counts as one. CPU flavors are no GPU offers.
pub(crate) fn offers(
    provider: &ProviderId,
    flavors: &Flavors,
    pricebook: &[PriceEntry],
    now: DateTime<Utc>,
) -> Mapped {
    let prices: BTreeMap<&str, MicroUsd> = pricebook
        .iter()
        .filter_map(|p| Some((p.name.as_str(), decode::usd_number(p.value.as_ref()?)?)))
        .filter(|(_, v)| v.0 > 0)
        .collect();
    let mut out = Mapped::default();
    for f in flavors.data.iter().flat_map(|g| &g.flavors) {
        if f.gpu_count == 0 || f.gpu.trim().is_empty() || !f.stock_available {
            continue;
        }
        let Some(model) = gpus::canonical_with_hint(&f.gpu, None, &f.name) else {
            out.unknown_gpus.push(f.gpu.clone());
            continue;
        };
        let Some(per_gpu) = prices.get(f.gpu.as_str()) else {
            out.unknown_gpus
                .push(format!("{} (no pricebook entry)", f.gpu));
            continue;
        };
        let price = MicroUsd(per_gpu.0.saturating_mul(i64::from(f.gpu_count)));
        out.offers.push(Offer {
            id: offer_id(provider, &f.name, &f.region_name),
            provider: provider.clone(),
            instance_type: f.name.clone(),
            gpu_model: model.name.to_string(),
            gpu_count: f.gpu_count,
            gpu_memory_gib: model.memory_gib,
            vcpus: f.cpu,
            memory_gib: f.ram,
            storage_gib: f.disk,
            region: f.region_name.clone(),
            country: regions::country_of(&provider.0, &f.region_name).map(str::to_string),
            pricing: Pricing::OnDemand,
            price_per_hour: price,
            price_per_gpu_hour: price.per_unit(f.gpu_count),
            available: 1,
            as_of: now,
            source: OfferSource::Live,
        });
    }
    out
}

/// `hyperstack:<flavor>@<region>`.
pub(crate) fn offer_id(provider: &ProviderId, flavor: &str, region: &str) -> OfferId {
    OfferId::new(provider, &format!("{flavor}@{region}"))
}

/// The flavor and region of an offer id this adapter made.
pub(crate) fn parse_offer_id(id: &OfferId) -> Option<(&str, &str)> {
    id.key().rsplit_once('@')
}

/// An instance as the broker sees it; the allocation id is the VM name. Statuses are the
/// OpenStack-style ones Hyperstack reports (SkyPilot's provisioner lists them).
pub(crate) fn instance(provider: &ProviderId, w: &VmWire) -> Result<Instance, ProviderError> {
    let state = match w.status.to_ascii_uppercase().as_str() {
        "CREATING" | "BUILD" | "STARTING" | "REBOOTING" | "HARD_REBOOT" | "RESTORING" => {
            InstanceState::Pending
        }
        "ACTIVE" => InstanceState::Running,
        "DELETING" => InstanceState::Terminating,
        "DELETED" => InstanceState::Terminated,
        "ERROR" | "SHUTOFF" | "STOPPING" | "HIBERNATING" | "HIBERNATED" => InstanceState::Failed,
        other => {
            return Err(ProviderError::InvalidResponse(format!(
                "unknown VM status `{other}`"
            )))
        }
    };
    let connection = match (&w.floating_ip, state) {
        (Some(ip), InstanceState::Running) if !ip.is_empty() => Some(Connection {
            ssh_host: ip.clone(),
            ssh_port: 22,
            ssh_user: "ubuntu".to_string(),
            jupyter_url: None,
        }),
        _ => None,
    };
    let region = w.environment.as_ref().and_then(|e| e.region.as_deref());
    let offer_id = match (&w.flavor, region) {
        (Some(f), Some(r)) => offer_id(provider, &f.name, r),
        _ => OfferId::new(provider, ""),
    };
    Ok(Instance {
        id: InstanceId(w.id.to_string()),
        allocation_id: w.name.clone().unwrap_or_default(),
        offer_id,
        state,
        connection,
    })
}

/// Hyperstack's documented `error_reason` categories, read before the status.
pub(crate) fn classify(_status: u16, body: &[u8]) -> Option<ProviderError> {
    let e: ErrorBody = serde_json::from_slice(body).ok()?;
    match e.error_reason.as_deref()? {
        "unauthorized" | "forbidden" => Some(ProviderError::Auth),
        "not_found" => Some(ProviderError::NotFound),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_reasons_map_before_statuses() {
        let body = br#"{"status":false,"message":"m","error_reason":"unauthorized"}"#;
        assert_eq!(classify(400, body), Some(ProviderError::Auth));
        assert_eq!(classify(400, br#"{"status":false,"message":"m"}"#), None);
        assert_eq!(classify(500, b"garbage"), None);
    }

    #[test]
    fn offer_ids_round_trip_with_dashes_in_flavor_and_region() {
        let p = ProviderId("hyperstack".into());
        let id = offer_id(&p, "n3-H100-SXM5x8", "CANADA-1");
        assert_eq!(parse_offer_id(&id), Some(("n3-H100-SXM5x8", "CANADA-1")));
    }
}
