//! Pure mapping of Seeweb wire types to offers and instances.

use chrono::{DateTime, Utc};

use super::wire::{Plan, Server};
use crate::http::{decode, Mapped};
use crate::{
    gpus, ownership, regions, Connection, Instance, InstanceId, InstanceState, MicroUsd, Offer,
    OfferId, OfferSource, Pricing, ProviderError, ProviderId,
};

/// One on-demand offer per GPU plan (`gpu` > 0, `available`) and listed location. Prices
/// are EUR, converted with `usd_per_eur`. Seeweb gives no unit count: a listed location
/// counts as one.
pub(crate) fn offers(
    provider: &ProviderId,
    plans: &[Plan],
    usd_per_eur: MicroUsd,
    now: DateTime<Utc>,
) -> Mapped {
    let mut out = Mapped::default();
    for p in plans {
        let count: u32 = p.gpu.trim().parse().unwrap_or(0);
        if count == 0 || !p.available {
            continue;
        }
        let label = p.gpu_label.as_deref().unwrap_or_default();
        let Some(model) = gpus::canonical(label, None) else {
            out.unknown_gpus.push(format!("{} ({label})", p.name));
            continue;
        };
        let Some(price) = decode::usd_number(&p.hourly_price)
            .and_then(|eur| decode::eur_to_usd(eur, usd_per_eur))
            .filter(|v| v.0 > 0)
        else {
            continue;
        };
        for l in &p.available_regions {
            out.offers.push(Offer {
                id: offer_id(provider, &p.name, &l.location),
                provider: provider.clone(),
                instance_type: p.name.clone(),
                gpu_model: model.name.to_string(),
                gpu_count: count,
                gpu_memory_gib: model.memory_gib,
                vcpus: p.cpu.trim().parse().ok(),
                memory_gib: p.ram.trim().parse::<f64>().ok().map(|mib| mib / 1024.0),
                storage_gib: p.disk.trim().parse().ok(),
                region: l.location.clone(),
                country: regions::country_of(&provider.0, &l.location).map(str::to_string),
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

/// `seeweb:<plan>@<location>`.
pub(crate) fn offer_id(provider: &ProviderId, plan: &str, location: &str) -> OfferId {
    OfferId::new(provider, &format!("{plan}@{location}"))
}

/// The plan and location of an offer id this adapter made.
pub(crate) fn parse_offer_id(id: &OfferId) -> Option<(&str, &str)> {
    id.key().split_once('@')
}

/// The server notes that carry `allocation_id`: its [`ownership`] allocation tag.
pub(crate) fn notes(allocation_id: &str) -> Option<String> {
    ownership::allocation_tag(allocation_id)
}

/// A server as the broker sees it; the allocation id comes from its notes. A server that
/// is off was not switched off by the broker: it is failed, not pending.
pub(crate) fn instance(provider: &ProviderId, s: &Server) -> Result<Instance, ProviderError> {
    let state = match s.status.to_ascii_lowercase().as_str() {
        "booting" | "poweringon" | "creating" => InstanceState::Pending,
        "booted" | "running" | "active" => InstanceState::Running,
        "deleting" => InstanceState::Terminating,
        "deleted" => InstanceState::Terminated,
        "off" | "stopped" | "shutoff" | "poweringoff" | "error" => InstanceState::Failed,
        other => {
            return Err(ProviderError::InvalidResponse(format!(
                "unknown server status `{other}`"
            )))
        }
    };
    let connection = match (&s.ipv4, state) {
        (Some(ip), InstanceState::Running) if !ip.is_empty() => Some(Connection {
            ssh_host: ip.clone(),
            ssh_port: 22,
            ssh_user: "ecuser".to_string(),
            jupyter_url: None,
        }),
        _ => None,
    };
    Ok(Instance {
        id: InstanceId(s.name.clone()),
        allocation_id: s
            .notes
            .as_deref()
            .and_then(|n| n.strip_prefix(ownership::ALLOCATION_TAG_PREFIX))
            .unwrap_or_default()
            .to_string(),
        offer_id: offer_id(provider, &s.plan, &s.location),
        state,
        connection,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_carry_the_allocation_id_and_statuses_map() {
        let p = ProviderId("seeweb".into());
        let s = Server {
            name: "ec200016".into(),
            ipv4: Some("185.1.2.3".into()),
            plan: "ECS1GPU7".into(),
            location: "it-fr2".into(),
            notes: notes("alloc-1"),
            status: "Booted".into(),
        };
        let i = instance(&p, &s).unwrap();
        assert_eq!(i.allocation_id, "alloc-1");
        assert_eq!(i.state, InstanceState::Running);
        assert_eq!(i.offer_id.0, "seeweb:ECS1GPU7@it-fr2");
        assert_eq!(parse_offer_id(&i.offer_id), Some(("ECS1GPU7", "it-fr2")));
        let odd = Server {
            status: "Teleporting".into(),
            ..s
        };
        assert!(instance(&p, &odd).is_err());
    }
}
