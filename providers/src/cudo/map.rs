//! Pure mapping of CUDO Compute wire types to offers, instances and errors.

use chrono::{DateTime, Utc};

use super::wire::{ErrorBody, MachineType, MachineTypes, Price, VmWire};
use crate::http::{decode, Mapped};
use crate::{
    gpus, regions, Connection, Instance, InstanceId, InstanceState, MicroUsd, Offer, OfferId,
    OfferSource, Pricing, ProviderError, ProviderId,
};

/// GPU counts offered (up to what the machine type has free).
const COUNTS: [u32; 4] = [1, 2, 4, 8];
/// vCPUs per GPU of the shape we offer, within the type's bounds.
const VCPUS_PER_GPU: f64 = 4.0;
/// vCPUs per GiB of memory of the shape we offer (2 GiB per vCPU), within the type's bounds.
const VCPUS_PER_GIB: f64 = 0.5;

/// The shape (vCPUs, memory) this adapter composes for `count` GPUs of `t`.
pub(crate) fn shape(t: &MachineType, count: u32) -> (u32, u32) {
    let per_gpu = VCPUS_PER_GPU
        .max(t.min_vcpu_per_gpu.unwrap_or(1.0))
        .min(t.max_vcpu_per_gpu.unwrap_or(VCPUS_PER_GPU).max(1.0));
    let vcpus = (per_gpu * f64::from(count)).round().max(1.0);
    let ratio = VCPUS_PER_GIB
        .max(t.min_vcpu_per_memory_gib.unwrap_or(0.0))
        .min(t.max_vcpu_per_memory_gib.unwrap_or(VCPUS_PER_GIB));
    let memory = if ratio > 0.0 {
        (vcpus / ratio).ceil()
    } else {
        vcpus * 2.0
    };
    (vcpus as u32, memory as u32)
}

/// One on-demand offer per GPU machine type, data centre and GPU count up to `maxGpuFree`,
/// in our fixed shape (4 vCPUs per GPU, 2 GiB per vCPU, within the type's bounds); price =
/// GPUs × `gpuPriceHr` + vCPUs × `vcpuPriceHr` + GiB × `memoryGibPriceHr` + one IPv4
/// (disk is not included: it is chosen at provisioning).
pub(crate) fn offers(provider: &ProviderId, types: &MachineTypes, now: DateTime<Utc>) -> Mapped {
    let mut out = Mapped::default();
    for t in &types.machine_types {
        if t.gpu_model.trim().is_empty() {
            continue;
        }
        let Some(model) = gpus::canonical(&t.gpu_model, None) else {
            out.unknown_gpus.push(t.gpu_model.clone());
            continue;
        };
        let prices = (
            usd(&t.gpu_price_hr),
            usd(&t.vcpu_price_hr),
            usd(&t.memory_gib_price_hr),
        );
        let (Some(gpu), Some(vcpu), Some(gib)) = prices else {
            out.unknown_gpus
                .push(format!("{} (unreadable price)", t.machine_type));
            continue;
        };
        let ipv4 = t.ipv4_price_hr.as_ref().and_then(usd).unwrap_or_default();
        let free = t.max_gpu_free.unwrap_or(0);
        for count in COUNTS.into_iter().filter(|&c| c <= free) {
            let (vcpus, memory) = shape(t, count);
            if t.max_vcpu_free.is_some_and(|f| vcpus > f)
                || t.max_memory_gib_free.is_some_and(|f| memory > f)
            {
                continue;
            }
            let micros = i64::from(count) * gpu.0
                + i64::from(vcpus) * vcpu.0
                + i64::from(memory) * gib.0
                + ipv4.0;
            let price = MicroUsd(micros);
            out.offers.push(Offer {
                id: offer_id(provider, &t.machine_type, &t.data_center_id, count),
                provider: provider.clone(),
                instance_type: format!("{}_{count}x{vcpus}v{memory}gb", t.machine_type),
                gpu_model: model.name.to_string(),
                gpu_count: count,
                gpu_memory_gib: model.memory_gib,
                vcpus: Some(vcpus),
                memory_gib: Some(f64::from(memory)),
                storage_gib: None,
                region: t.data_center_id.clone(),
                country: regions::country_of(&provider.0, &t.data_center_id).map(str::to_string),
                pricing: Pricing::OnDemand,
                price_per_hour: price,
                price_per_gpu_hour: price.per_unit(count),
                available: free / count,
                as_of: now,
                source: OfferSource::Live,
            });
        }
    }
    out
}

fn usd(p: &Price) -> Option<MicroUsd> {
    decode::usd_text(&p.value).filter(|v| v.0 >= 0)
}

/// `cudo:<machine type>@<data centre>/<gpus>`.
pub(crate) fn offer_id(provider: &ProviderId, machine_type: &str, dc: &str, gpus: u32) -> OfferId {
    OfferId::new(provider, &format!("{machine_type}@{dc}/{gpus}"))
}

/// Machine type, data centre and GPU count of an offer id this adapter made.
pub(crate) fn parse_offer_id(id: &OfferId) -> Option<(&str, &str, u32)> {
    let (head, gpus) = id.key().rsplit_once('/')?;
    let (machine_type, dc) = head.rsplit_once('@')?;
    Some((machine_type, dc, gpus.parse().ok().filter(|&g| g > 0)?))
}

/// An instance as the broker sees it; the VM id is the allocation id.
pub(crate) fn instance(provider: &ProviderId, w: &VmWire) -> Result<Instance, ProviderError> {
    let raw = w.state.as_deref().unwrap_or("PENDING");
    let state = match raw {
        "PENDING" | "STARTING" | "CLONING" | "RECREATING" | "RESIZING" | "HOTPLUGGING"
        | "MIGRATING" => InstanceState::Pending,
        "ACTIVE" => InstanceState::Running,
        "DELETING" | "STOPPING" | "SUSPENDING" => InstanceState::Terminating,
        "DELETED" => InstanceState::Terminated,
        "FAILED" | "STOPPED" | "SUSPENDED" => InstanceState::Failed,
        other => {
            return Err(ProviderError::InvalidResponse(format!(
                "unknown VM state `{other}`"
            )))
        }
    };
    let ip = w
        .public_ip_address
        .as_ref()
        .or(w.external_ip_address.as_ref())
        .filter(|ip| !ip.is_empty());
    let connection = match (ip, state) {
        (Some(ip), InstanceState::Running) => Some(Connection {
            ssh_host: ip.clone(),
            ssh_port: 22,
            ssh_user: "root".to_string(),
            jupyter_url: None,
        }),
        _ => None,
    };
    let offer_id = match (&w.machine_type, &w.datacenter_id, w.gpu_quantity) {
        (Some(t), Some(dc), Some(g)) => offer_id(provider, t, dc, g),
        _ => OfferId::new(provider, ""),
    };
    Ok(Instance {
        id: InstanceId(w.id.clone()),
        allocation_id: w.id.clone(),
        offer_id,
        state,
        connection,
    })
}

/// gRPC status codes in the gateway's error body: `UNAUTHENTICATED`/`PERMISSION_DENIED` →
/// auth, `NOT_FOUND` → not found, `RESOURCE_EXHAUSTED` → no capacity (assumed: the docs
/// give no capacity code).
pub(crate) fn classify(_status: u16, body: &[u8]) -> Option<ProviderError> {
    let e: ErrorBody = serde_json::from_slice(body).ok()?;
    match e.code {
        16 | 7 => Some(ProviderError::Auth),
        5 => Some(ProviderError::NotFound),
        8 => Some(ProviderError::NoCapacity),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offer_ids_round_trip() {
        let p = ProviderId("cudo".into());
        let id = offer_id(&p, "epyc-rome-rtx-a5000", "no-luster-1", 2);
        assert_eq!(
            parse_offer_id(&id),
            Some(("epyc-rome-rtx-a5000", "no-luster-1", 2))
        );
    }

    #[test]
    fn grpc_codes_map_before_statuses() {
        assert_eq!(
            classify(429, br#"{"code":8,"message":"m","details":[]}"#),
            Some(ProviderError::NoCapacity)
        );
        assert_eq!(classify(401, br#"{"code":16}"#), Some(ProviderError::Auth));
        assert_eq!(classify(429, b"{}"), None);
    }
}
