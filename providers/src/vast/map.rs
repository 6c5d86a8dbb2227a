//! Pure mapping of Vast wire types to offers, instances and errors.

use chrono::{DateTime, Utc};
use serde_json::Number;

use super::wire::{Ask, InstanceWire, Outcome};
use crate::http::{decode, Mapped};
use crate::{
    gpus, regions, Connection, Instance, InstanceId, InstanceState, Offer, OfferId, OfferSource,
    Pricing, ProviderError, ProviderId,
};

fn f64_of(n: &Number) -> Option<f64> {
    n.as_f64().filter(|f| f.is_finite() && *f >= 0.0)
}

/// One on-demand offer per ask (a machine slice; one unit). Price is `dph_total`.
pub(crate) fn offers(provider: &ProviderId, asks: &[Ask], now: DateTime<Utc>) -> Mapped {
    let mut out = Mapped::default();
    for a in asks {
        let measured_gib = f64_of(&a.gpu_ram).map(|mb| mb / 1024.0);
        let Some(model) = gpus::canonical(&a.gpu_name, measured_gib) else {
            out.unknown_gpus.push(a.gpu_name.clone());
            continue;
        };
        let Some(price) = decode::usd_number(&a.dph_total).filter(|p| p.0 > 0) else {
            continue;
        };
        if a.num_gpus == 0 {
            continue;
        }
        let share = match (
            a.cpu_cores.as_ref().and_then(f64_of),
            a.cpu_cores_effective.as_ref().and_then(f64_of),
        ) {
            (Some(all), Some(mine)) if all > 0.0 => Some(mine / all),
            _ => None,
        };
        let memory_gib = match (a.cpu_ram.as_ref().and_then(f64_of), share) {
            (Some(mb), Some(share)) => Some((mb * share / 1024.0 * 10.0).round() / 10.0),
            _ => None,
        };
        let region = a
            .geolocation
            .clone()
            .filter(|g| !g.trim().is_empty())
            .unwrap_or_else(|| "unknown".to_string());
        out.offers.push(Offer {
            id: OfferId::new(provider, &a.id.to_string()),
            provider: provider.clone(),
            instance_type: format!("{}x {}", a.num_gpus, a.gpu_name),
            gpu_model: model.name.to_string(),
            gpu_count: a.num_gpus,
            gpu_memory_gib: model.memory_gib,
            vcpus: a
                .cpu_cores_effective
                .as_ref()
                .and_then(f64_of)
                .map(|c| c.floor() as u32),
            memory_gib,
            storage_gib: a
                .disk_space
                .as_ref()
                .and_then(f64_of)
                .map(|d| d.floor() as u32),
            country: country(provider, &region),
            region,
            pricing: Pricing::OnDemand,
            price_per_hour: price,
            price_per_gpu_hour: price.per_unit(a.num_gpus),
            available: 1,
            as_of: now,
            source: OfferSource::Live,
        });
    }
    out
}

/// The country of a `geolocation`: `City, CC, CONTINENT` (what `regions` reads), or the
/// live API's `City, CC` / `CC`, read through its trailing code.
fn country(provider: &ProviderId, geolocation: &str) -> Option<String> {
    regions::country_of(&provider.0, geolocation)
        .or_else(|| {
            let last = geolocation.rsplit(',').next()?.trim();
            regions::country_of(&provider.0, last)
        })
        .map(str::to_string)
}

/// The ask id of an offer id this adapter made.
pub(crate) fn ask_id(id: &OfferId) -> Option<u64> {
    id.key().parse().ok()
}

/// An instance as the broker sees it; the allocation id is the label. Vast instances do not
/// name the ask they were rented from, so the offer id carries no key.
pub(crate) fn instance(provider: &ProviderId, w: &InstanceWire) -> Instance {
    // Vast has no "terminating": a destroyed instance is simply gone (404). A stopped,
    // exited, frozen or offline container is not usable: failed, for the broker to replace.
    let state = match w.actual_status.as_deref() {
        Some("running") => InstanceState::Running,
        Some("exited" | "stopped" | "frozen" | "offline") => InstanceState::Failed,
        _ => InstanceState::Pending,
    };
    let connection = match (&w.ssh_host, w.ssh_port, state) {
        (Some(host), Some(port), InstanceState::Running) => Some(Connection {
            ssh_host: host.clone(),
            ssh_port: port,
            ssh_user: "root".to_string(),
            jupyter_url: None,
        }),
        _ => None,
    };
    Instance {
        id: InstanceId(w.id.to_string()),
        allocation_id: w.label.clone().unwrap_or_default(),
        offer_id: OfferId::new(provider, ""),
        state,
        connection,
    }
}

/// The rent outcome: the new instance id, or why not.
pub(crate) fn created(o: &Outcome) -> Result<InstanceId, ProviderError> {
    match (o.success, o.new_contract) {
        (Some(true), Some(id)) => Ok(InstanceId(id.to_string())),
        _ => Err(error_of(o).unwrap_or_else(|| {
            ProviderError::InvalidResponse("rent answered without a new contract".to_string())
        })),
    }
}

fn error_of(o: &Outcome) -> Option<ProviderError> {
    match o.error.as_deref()? {
        "no_such_ask" => Some(ProviderError::NoCapacity),
        "no_such_instance" => Some(ProviderError::NotFound),
        "insufficient_credit" => Some(ProviderError::NoQuota),
        _ => None,
    }
}

/// Vast's `{"success": false, "error": "..."}` bodies, read before the status.
pub(crate) fn classify(_status: u16, body: &[u8]) -> Option<ProviderError> {
    error_of(&serde_json::from_slice(body).ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rent_outcomes_map_to_ids_or_errors() {
        let ok: Outcome = serde_json::from_str(r#"{"success":true,"new_contract":555}"#).unwrap();
        assert_eq!(created(&ok), Ok(InstanceId("555".into())));
        let gone: Outcome =
            serde_json::from_str(r#"{"success":false,"error":"no_such_ask"}"#).unwrap();
        assert_eq!(created(&gone), Err(ProviderError::NoCapacity));
        let odd: Outcome = serde_json::from_str(r#"{"success":false}"#).unwrap();
        assert!(matches!(
            created(&odd),
            Err(ProviderError::InvalidResponse(_))
        ));
    }
}
