//! A full offer refresh of the whole sandbox world over loopback wire fakes, with one
//! provider hanging, against the same refresh without the hang as the peer. Prints the
//! wall/timeout ratio (target ≤ 1.10: the hang costs its timeout and nothing more) and the
//! offers normalized per second of each.
//!
//! `cargo bench -p broker --bench refresh` measures (7 rounds, 1 s timeout); without
//! `--bench` (as `cargo test --benches` runs it) it smoke-runs one short round. Timings are
//! reported, never asserted.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use broker::offers::{OfferIndex, Weights};
use providers::clock::SystemClock;
use providers::http::{BreakerBackoff, BreakerPolicy, EngineSettings};

const HANGING: &str = "lambda";

/// Owned (MAAS) capacity priced as the sandbox demo does, so its offers count too.
fn owned_costs() -> broker::owned::HourlyCosts {
    broker::owned::HourlyCosts::parse(
        "H100-SXM:2100000,A100-80GB-SXM:1150000,L40S:650000,RTX4090:280000",
    )
    .unwrap_or_default()
}

#[derive(Debug, Default)]
struct Round {
    wall: Duration,
    offers: usize,
}

async fn refresh(index: &OfferIndex, weights: &Weights, timeout: Duration) -> Round {
    let started = Instant::now();
    let snap = index
        .refresh(
            chrono::Utc::now(),
            weights.clone(),
            timeout,
            &HashMap::new(),
            &owned_costs(),
        )
        .await;
    Round {
        wall: started.elapsed(),
        offers: snap.map(|s| s.offers.len()).unwrap_or(0),
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// A fresh world (new fakes, new engines: empty rate-limit buckets, no cached listing).
async fn world(
    timeout: Duration,
) -> Result<(OfferIndex, sandbox::world::FakesHandle), Box<dyn std::error::Error>> {
    let market = Arc::new(sandbox::Market::new(42, Arc::new(SystemClock))?);
    let (ps, fakes) =
        sandbox::world::sandbox_providers(market, sandbox::world::WorldConfig::default()).await?;
    let index = OfferIndex::new(ps);
    // The breaker never opens, so the hanging provider costs the whole timeout (worst case).
    index.apply(&EngineSettings {
        timeout,
        breaker: BreakerPolicy {
            consecutive_failures: 1_000,
            backoff: BreakerBackoff::Constant(Duration::from_secs(1)),
        },
        offers_ttl: Duration::from_secs(60),
    });
    Ok((index, fakes))
}

async fn run(rounds: usize, timeout: Duration) -> Result<(), Box<dyn std::error::Error>> {
    let weights = Weights::parse(
        "price:0.30,perf:0.20,perf_per_dollar:0.20,vram:0.10,availability:0.10,reliability:0.10",
    )?;
    let mut peer = Vec::new();
    let mut hung = Vec::new();
    let mut providers = 0;
    // Each round builds two fresh worlds (vendor quotas would otherwise throttle repeated
    // full listings) and refreshes them, one with the hang on.
    for _ in 0..rounds {
        let (index, _fakes) = world(timeout).await?;
        providers = index.providers().len();
        peer.push(refresh(&index, &weights, timeout).await);
        let (index, fakes) = world(timeout).await?;
        let faults = fakes
            .faults(HANGING)
            .ok_or("the hanging provider has no wire fake")?;
        faults.set_hang(true);
        hung.push(refresh(&index, &weights, timeout).await);
        faults.set_hang(false);
    }

    let secs = |r: &Round| r.wall.as_secs_f64();
    let rate = |r: &Round| r.offers as f64 / r.wall.as_secs_f64();
    let peer_wall = median(peer.iter().map(secs).collect());
    let hung_wall = median(hung.iter().map(secs).collect());
    let worst_hung = hung.iter().map(secs).fold(0.0, f64::max);
    println!(
        "refresh of {providers} providers over loopback fakes, {rounds} rounds, timeout {} ms",
        timeout.as_millis()
    );
    println!(
        "  no hang : median wall {:>8.1} ms, {:>6} offers, {:>10.0} offers normalized/s",
        peer_wall * 1e3,
        peer.last().map_or(0, |r| r.offers),
        median(peer.iter().map(rate).collect())
    );
    println!(
        "  {HANGING} hangs: median wall {:>8.1} ms, {:>6} offers, {:>10.0} offers normalized/s",
        hung_wall * 1e3,
        hung.last().map_or(0, |r| r.offers),
        median(hung.iter().map(rate).collect())
    );
    println!(
        "  wall/timeout: median {:.3}, worst {:.3} (target ≤ 1.10)",
        hung_wall / timeout.as_secs_f64(),
        worst_hung / timeout.as_secs_f64()
    );
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let measure = std::env::args().any(|a| a == "--bench");
    let (rounds, timeout) = if measure {
        (7, Duration::from_secs(1))
    } else {
        (1, Duration::from_millis(300))
    };
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run(rounds, timeout))
}
