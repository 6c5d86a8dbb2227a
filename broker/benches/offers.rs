//! The offers query path over a 100 000-offer snapshot: parse → rank (precomputed default
//! profile, or custom weights on the fly) → filter → top-k page → JSON, as
//! `GET /api/v1/offers` runs it minus the socket. Figures are for comparison between runs
//! on one machine, never gates.

use std::collections::HashMap;

use broker::offers::{OfferQuery, ProviderStatus, Snapshot, Weights};
use chrono::Utc;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use providers::{gpus, Capabilities, MicroUsd, Offer, OfferId, OfferSource, Pricing, ProviderId};

fn synthetic(n: usize) -> Snapshot {
    let models = gpus::catalogue();
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let providers: Vec<ProviderId> = (0..22).map(|i| ProviderId(format!("p{i:02}"))).collect();
    let now = Utc::now();
    let offers = (0..n)
        .map(|i| {
            let m = &models[(next() as usize) % models.len()];
            let count = [1u32, 2, 4, 8][(next() % 4) as usize];
            let price = MicroUsd(i64::try_from(next() % 40_000_000).unwrap_or(0) + 100_000);
            let provider = providers[i % providers.len()].clone();
            Offer {
                id: OfferId::new(&provider, &format!("o{i}")),
                provider,
                instance_type: format!("{count}x{}", m.name),
                gpu_model: m.name.to_string(),
                gpu_count: count,
                gpu_memory_gib: m.memory_gib,
                vcpus: Some(count * 8),
                memory_gib: Some(f64::from(count) * 64.0),
                storage_gib: Some(100),
                region: format!("r{}", next() % 40),
                country: Some("US".into()),
                pricing: if next() % 3 == 0 {
                    Pricing::Spot
                } else {
                    Pricing::OnDemand
                },
                price_per_hour: price,
                price_per_gpu_hour: price.per_unit(count),
                available: u32::try_from(next() % 9).unwrap_or(0),
                as_of: now,
                source: OfferSource::Live,
            }
        })
        .collect();
    let statuses = providers
        .iter()
        .map(|p| ProviderStatus {
            id: p.clone(),
            name: p.0.clone(),
            healthy: true,
            offer_count: n / 22,
            last_success_at: Some(now),
            last_error: None,
            capabilities: Capabilities::ALL,
            breaker: None,
            unknown_gpus: 0,
            transport: "http",
            stale_age_seconds: None,
            unknown_gpu_names: Vec::new(),
            kind: providers::ProviderKind::Cloud,
            unpriced: 0,
        })
        .collect();
    let balanced = Weights::parse(
        "price:0.3,perf:0.2,perf_per_dollar:0.2,vram:0.1,availability:0.1,reliability:0.1",
    )
    .unwrap_or(Weights([1.0; 6]));
    Snapshot::build(1, now, offers, statuses, balanced, &HashMap::new())
        .unwrap_or_else(|_| Snapshot::empty())
}

fn pairs(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn bench(c: &mut Criterion) {
    let snap = synthetic(100_000);
    let balanced = Weights::parse(
        "price:0.3,perf:0.2,perf_per_dollar:0.2,vram:0.1,availability:0.1,reliability:0.1",
    )
    .unwrap_or(Weights([1.0; 6]));
    let mut g = c.benchmark_group("offers_query_100k");
    g.sample_size(10);
    for (name, q) in [
        ("default_profile_top50", "limit=50"),
        (
            "custom_weights_top50",
            "weights=price:0.5,perf:0.3,vram:0.2&limit=50",
        ),
        (
            "filtered_price_sort_top50",
            "min_gpus=2&pricing=on_demand&sort=price&limit=50",
        ),
    ] {
        let p = pairs(q);
        g.bench_with_input(BenchmarkId::from_parameter(name), &p, |b, p| {
            b.iter(|| {
                let parsed = OfferQuery::parse(p, &snap).unwrap_or_default();
                let w = parsed.weights.clone().unwrap_or_else(|| balanced.clone());
                let page = snap.query(&parsed, &w).ok();
                serde_json::to_vec(&page.map(|p| p.items))
                    .map(|v| v.len())
                    .unwrap_or(0)
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
