//! Pure mapping of OVHcloud catalogue addons and project flavors to offers and instances.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::wire::{Addon, Catalog, Flavor, InstanceWire};
use crate::http::{decode, Mapped};
use crate::{
    gpus, ownership, regions, Connection, Instance, InstanceId, InstanceState, MicroUsd, Offer,
    OfferId, OfferSource, Pricing, ProviderError, ProviderId,
};

/// One on-demand offer per project flavor whose hourly plan code is a catalogue addon with a
/// GPU (`blobs.technical.gpu`) and an hourly price. Prices are micro-cents of the
/// subsidiary's currency (EUR for `IE`), converted with `usd_per_eur`. A flavor marked
/// `available: false` is left out; otherwise OVH gives no unit count: one unit.
pub(crate) fn offers(
    provider: &ProviderId,
    catalog: &Catalog,
    flavors: &[Flavor],
    usd_per_eur: MicroUsd,
    now: DateTime<Utc>,
) -> Mapped {
    let addons: HashMap<&str, &Addon> = catalog
        .addons
        .iter()
        .map(|a| (a.plan_code.as_str(), a))
        .collect();
    let mut out = Mapped::default();
    for f in flavors {
        if f.available == Some(false) {
            continue;
        }
        let Some(addon) = f.plan_codes.hourly.as_deref().and_then(|c| addons.get(c)) else {
            continue;
        };
        let technical = addon.blobs.as_ref().and_then(|b| b.technical.as_ref());
        let Some(gpu) = technical
            .and_then(|t| t.gpu.as_ref())
            .filter(|g| g.number > 0)
        else {
            continue;
        };
        let per_gpu_memory = gpu.memory.as_ref().map(|m| m.size);
        let Some(model) = gpus::canonical(&gpu.model, per_gpu_memory) else {
            out.unknown_gpus
                .push(format!("{} ({})", addon.invoice_name, gpu.model));
            continue;
        };
        let Some(price) = hourly_price(addon)
            .and_then(|eur| decode::eur_to_usd(eur, usd_per_eur))
            .filter(|p| p.0 > 0)
        else {
            continue;
        };
        let name = flavor_name(f, addon);
        out.offers.push(Offer {
            id: offer_id(provider, name, &f.region),
            provider: provider.clone(),
            instance_type: name.to_string(),
            gpu_model: model.name.to_string(),
            gpu_count: gpu.number,
            gpu_memory_gib: per_gpu_memory.unwrap_or(model.memory_gib),
            vcpus: technical.and_then(|t| t.cpu.as_ref()).and_then(|c| c.cores),
            memory_gib: technical.and_then(|t| t.memory.as_ref()).map(|m| m.size),
            storage_gib: None,
            region: f.region.clone(),
            country: regions::country_of(&provider.0, &f.region).map(str::to_string),
            pricing: Pricing::OnDemand,
            price_per_hour: price,
            price_per_gpu_hour: price.per_unit(gpu.number),
            available: 1,
            as_of: now,
            source: OfferSource::Live,
        });
    }
    out
}

/// The flavor's name, else the addon's commercial name, else its invoice name.
fn flavor_name<'a>(f: &'a Flavor, addon: &'a Addon) -> &'a str {
    f.name
        .as_deref()
        .or_else(|| {
            addon
                .blobs
                .as_ref()
                .and_then(|b| b.commercial.as_ref())
                .map(|c| c.name.as_str())
        })
        .unwrap_or(&addon.invoice_name)
}

/// The addon's hourly price in micro-units of its currency (micro-cents ÷ 100, half-up).
pub(crate) fn hourly_price(addon: &Addon) -> Option<MicroUsd> {
    addon
        .pricings
        .iter()
        .find(|p| p.interval_unit == "hour")
        .map(|p| MicroUsd((p.price + 50) / 100))
}

/// `ovhcloud:<flavor name>@<region>`.
pub(crate) fn offer_id(provider: &ProviderId, flavor: &str, region: &str) -> OfferId {
    OfferId::new(provider, &format!("{flavor}@{region}"))
}

/// The flavor name and region of an offer id this adapter made.
pub(crate) fn parse_offer_id(id: &OfferId) -> Option<(&str, &str)> {
    id.key().split_once('@')
}

/// An instance as the broker sees it: its name carries the allocation id.
pub(crate) fn instance(provider: &ProviderId, w: &InstanceWire) -> Result<Instance, ProviderError> {
    let state = match w.status.as_str() {
        "BUILD" | "BUILDING" | "REBOOT" | "HARD_REBOOT" | "RESIZE" => InstanceState::Pending,
        "ACTIVE" => InstanceState::Running,
        "DELETING" => InstanceState::Terminating,
        "DELETED" => InstanceState::Terminated,
        "ERROR" | "UNKNOWN" | "SHUTOFF" | "STOPPED" | "SUSPENDED" => InstanceState::Failed,
        other => {
            return Err(ProviderError::InvalidResponse(format!(
                "unknown instance status `{other}`"
            )))
        }
    };
    let public_v4 = w
        .ip_addresses
        .iter()
        .find(|a| a.kind == "public" && a.version == 4);
    let connection = match (public_v4, state) {
        (Some(a), InstanceState::Running) => Some(Connection {
            ssh_host: a.ip.clone(),
            ssh_port: 22,
            ssh_user: "ubuntu".to_string(),
            jupyter_url: None,
        }),
        _ => None,
    };
    let flavor = w.flavor.as_ref().map_or("", |f| f.name.as_str());
    Ok(Instance {
        id: InstanceId(w.id.clone()),
        allocation_id: ownership::allocation_of_name(&w.name)
            .unwrap_or_default()
            .to_string(),
        offer_id: offer_id(provider, flavor, &w.region),
        state,
        connection,
    })
}

/// OVH's `{"class": "Client::...", "message": ...}` error bodies: the class names the case.
pub(crate) fn classify(_status: u16, body: &[u8]) -> Option<ProviderError> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let class = v.get("class")?.as_str()?;
    if class.starts_with("Client::Forbidden") || class.starts_with("Client::Unauthorized") {
        Some(ProviderError::Auth)
    } else if class.starts_with("Client::NotFound") {
        Some(ProviderError::NotFound)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn micro_cents_are_read_half_up_and_error_classes_map() {
        let addon: Addon = serde_json::from_str(
            r#"{"planCode":"b3-8.consumption","invoiceName":"b3-8","pricings":[{"price":5080050,"intervalUnit":"hour"}]}"#,
        )
        .unwrap();
        assert_eq!(hourly_price(&addon), Some(MicroUsd(50_801)));
        let body = br#"{"class":"Client::Forbidden","message":"This credential is not valid"}"#;
        assert_eq!(classify(403, body), Some(ProviderError::Auth));
        assert_eq!(classify(500, b"oops"), None);
    }
}
