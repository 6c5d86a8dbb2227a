//! The simulated market through its public API and the `Provider` trait.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] fns fail the test by unwrapping"
)]

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use providers::{
    InstanceState, MicroUsd, OfferId, Pricing, Provider, ProviderError, ProviderId,
    ProvisionRequest,
};
use sandbox::{catalog, Knobs, ManualClock, Market, MarketConfig};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 12, 0, 0).unwrap()
}

fn market_with(config: MarketConfig) -> (Arc<Market>, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(t0()));
    let market = Market::with_config(config, clock.clone()).unwrap();
    (Arc::new(market), clock)
}

fn market(seed: u64) -> (Arc<Market>, Arc<ManualClock>) {
    market_with(MarketConfig::new(seed))
}

fn drift_free(seed: u64) -> (Arc<Market>, Arc<ManualClock>) {
    market_with(MarketConfig {
        max_drift_bp: 0,
        ..MarketConfig::new(seed)
    })
}

fn provider(market: &Arc<Market>, id: &str) -> Arc<dyn Provider> {
    market
        .providers()
        .into_iter()
        .find(|p| p.id().0 == id)
        .unwrap()
}

fn request(allocation: &str, offer: &OfferId) -> ProvisionRequest {
    ProvisionRequest {
        allocation_id: allocation.to_string(),
        offer_id: offer.clone(),
        gpu_count: 1,
        disk_gib: 100,
        image: "ubuntu-22.04-cuda".to_string(),
        ssh_public_key: None,
    }
}

/// An offer of `provider` with at least `units` available.
fn offer_with(market: &Market, provider: &str, units: u32) -> OfferId {
    market
        .offers(&ProviderId(provider.to_string()))
        .into_iter()
        .find(|o| o.available >= units)
        .unwrap()
        .id
}

fn temp_state_file(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sandbox-test-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("market.json");
    let _ = std::fs::remove_file(&path);
    path
}

#[tokio::test]
async fn all_27_providers_list_one_offer_per_row_and_pricing_kind() {
    let (market, _) = market(1);
    let rows = catalog::seed_rows().unwrap();
    let mut expected: BTreeMap<String, usize> = BTreeMap::new();
    for r in &rows {
        *expected.entry(r.provider.clone()).or_default() += 1 + usize::from(r.spot_price.is_some());
    }

    let providers = market.providers();

    // 22 from the catalogue, the rest from recorded API samples.
    assert_eq!(providers.len(), 27);
    for p in &providers {
        let offers = p.list_offers().await.unwrap();
        assert_eq!(offers.len(), expected[&p.id().0], "{}", p.id());
        assert!(!p.display_name().is_empty());
        assert!(offers.iter().all(|o| o.provider == *p.id()));
    }
    assert_eq!(market.all_offers().len(), 5_863);
    assert!(
        market.unknown_gpu_names().is_empty(),
        "{:?}",
        market.unknown_gpu_names()
    );
}

#[test]
fn offer_ids_are_unique_and_stable_across_restarts_and_seeds() {
    let (a, _) = market(1);
    let (b, _) = market(2);

    let ids_a: Vec<OfferId> = a.all_offers().into_iter().map(|o| o.id).collect();
    let ids_b: Vec<OfferId> = b.all_offers().into_iter().map(|o| o.id).collect();

    let unique: HashSet<&OfferId> = ids_a.iter().collect();
    assert_eq!(unique.len(), ids_a.len());
    assert_eq!(ids_a, ids_b);
    for id in &ids_a {
        let provider = id.provider().unwrap();
        assert!(!id.key().is_empty(), "{id}");
        assert!(a.offer(id).unwrap().provider == provider);
    }
    let has = |s: &str| ids_a.iter().any(|id| id.0 == s);
    assert!(has("aws:p5.48xlarge@us-east-1/use1-az5"));
    assert!(has("aws:p5.48xlarge@us-east-1/use1-az5:spot"));
    assert!(has("lambda:gpu_1x_h100_pcie@us-east-1"));
    assert!(!has("lambda:gpu_1x_h100_pcie@us-east-1:spot"));
    assert!(has("gcp:8xH100@us-central1/us-central1-a"));
    assert!(has("vast:1x-H100_NVL-32-65536@Bulgaria-BG-EU"));
}

#[test]
fn drift_free_prices_equal_the_catalogue_exactly() {
    let (market, _) = drift_free(3);
    let read = |name: &str| {
        std::fs::read_to_string(
            std::path::Path::new(
                &std::env::var("CARGO_MANIFEST_DIR")
                    .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string()),
            )
            .join("data")
            .join(name),
        )
        .unwrap()
    };
    // (on-demand, spot) prices as written, in file order within a provider, providers
    // sorted (as the market): the catalogue's rows, then the recorded ones.
    let catalogue = read("gpu-offers.csv");
    let recorded = read("recorded-offers.csv");
    let mut rows: Vec<Vec<String>> = catalogue
        .lines()
        .skip(1)
        .chain(recorded.lines().skip(1))
        .map(csv_fields)
        .collect();
    rows.sort_by(|a, b| a[0].cmp(&b[0]));
    let written: Vec<(String, String)> =
        rows.iter().map(|f| (f[9].clone(), f[10].clone())).collect();
    let offers = market.all_offers();
    let on_demand: Vec<_> = offers
        .iter()
        .filter(|o| o.pricing == Pricing::OnDemand)
        .collect();
    let spot: Vec<_> = offers
        .iter()
        .filter(|o| o.pricing == Pricing::Spot)
        .collect();
    assert_eq!(on_demand.len(), written.len());
    assert_eq!(
        spot.len(),
        written.iter().filter(|(_, s)| !s.is_empty()).count()
    );

    let mut exact = 0;
    let mut spots = spot.iter();
    for (offer, (price, spot_price)) in on_demand.iter().zip(&written) {
        assert_eq!(
            Some(offer.price_per_hour),
            catalog::parse_usd(price),
            "{}",
            offer.id
        );
        if price
            .split_once('.')
            .is_none_or(|(_, frac)| frac.len() <= 6)
        {
            assert_eq!(offer.price_per_hour.to_string(), *price, "{}", offer.id);
            exact += 1;
        }
        if !spot_price.is_empty() {
            let s = spots.next().unwrap();
            assert_eq!(s.id.0, format!("{}:spot", offer.id));
            assert_eq!(s.price_per_hour.to_string(), *spot_price, "{}", s.id);
        }
    }
    assert_eq!(exact, written.len() - 32);
    for o in &offers {
        assert_eq!(o.price_per_gpu_hour, o.price_per_hour.per_unit(o.gpu_count));
    }
    let p5 = market
        .offer(&OfferId("aws:p5.48xlarge@us-east-1/use1-az5".to_string()))
        .unwrap();
    assert_eq!(p5.price_per_hour, MicroUsd(98_320_000));
    assert_eq!(p5.price_per_gpu_hour, MicroUsd(12_290_000));
    assert_eq!(p5.gpu_model, "H100-SXM");
    assert_eq!(p5.country.as_deref(), Some("US"));
    let spot_p5 = market
        .offer(&OfferId(
            "aws:p5.48xlarge@us-east-1/use1-az5:spot".to_string(),
        ))
        .unwrap();
    assert_eq!(spot_p5.price_per_hour, MicroUsd(58_694_100));
    assert_eq!(spot_p5.pricing, Pricing::Spot);
}

/// Splits one CSV line of the seed file (quoted fields may hold commas).
fn csv_fields(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(String::new()),
            c => fields.last_mut().unwrap().push(c),
        }
    }
    fields
}

#[test]
fn drifted_prices_stay_within_ten_percent_and_move_between_epochs() {
    let (market, clock) = market(4);
    let before = market.all_offers();

    for o in &before {
        let base = market.base_price(&o.id).unwrap().0;
        let delta = (o.price_per_hour.0 - base).abs();
        assert!(
            delta * 10_000 <= base * 1_000 + 5_000,
            "{}: {} vs {base}",
            o.id,
            o.price_per_hour.0
        );
    }
    clock.advance(chrono::Duration::minutes(5));
    let after = market.all_offers();
    let changed = before
        .iter()
        .zip(&after)
        .filter(|(a, b)| a.price_per_hour != b.price_per_hour)
        .count();
    assert!(changed > before.len() / 2, "{changed}");
    assert!(after
        .iter()
        .all(|o| o.as_of == t0() + chrono::Duration::minutes(5)));
}

#[test]
fn the_same_seed_at_the_same_time_gives_the_same_prices() {
    let (a, _) = market(9);
    let (b, _) = market(9);
    let (c, _) = market(10);

    let prices =
        |m: &Market| -> Vec<MicroUsd> { m.all_offers().iter().map(|o| o.price_per_hour).collect() };

    assert_eq!(prices(&a), prices(&b));
    assert_ne!(prices(&a), prices(&c));
    let id = OfferId("aws:p5.48xlarge@us-east-1/use1-az5".to_string());
    let within_epoch = t0() + chrono::Duration::seconds(299);
    assert_eq!(a.price_at(&id, t0()), a.price_at(&id, within_epoch));
}

#[tokio::test]
async fn provisioning_consumes_capacity_and_release_returns_it_exactly_once() {
    let (market, clock) = market(5);
    let runpod = provider(&market, "runpod");
    let offer = offer_with(&market, "runpod", 2);
    let start = market.available(&offer).unwrap();

    let inst = runpod.provision(&request("alloc-1", &offer)).await.unwrap();
    assert_eq!(inst.state, InstanceState::Pending);
    assert_eq!(market.available(&offer), Some(start - 1));
    let listed = runpod.list_offers().await.unwrap();
    assert_eq!(
        listed.iter().find(|o| o.id == offer).unwrap().available,
        start - 1
    );

    runpod.release(&inst.id).await.unwrap();
    runpod.release(&inst.id).await.unwrap();
    clock.advance(chrono::Duration::seconds(10));
    runpod.release(&inst.id).await.unwrap();

    assert_eq!(market.available(&offer), Some(start));
}

#[tokio::test]
async fn an_instance_runs_after_provision_seconds_then_terminates_after_release_seconds() {
    let (market, clock) = market(6);
    let vast = provider(&market, "vast");
    let offer = offer_with(&market, "vast", 1);
    let inst = vast
        .provision(&request("alloc-life", &offer))
        .await
        .unwrap();
    assert!(inst.connection.is_none());

    clock.advance(chrono::Duration::seconds(2));
    let running = vast.status(&inst.id).await.unwrap();
    assert_eq!(running.state, InstanceState::Running);
    let conn = running.connection.unwrap();
    assert!(
        conn.ssh_host.ends_with(".vast.sandbox.gpubroker.test"),
        "{}",
        conn.ssh_host
    );
    assert_eq!(conn.ssh_host.split('.').next().unwrap().len(), 8);
    assert!(conn.ssh_port >= 10_000);
    assert_eq!(conn.ssh_user, "ubuntu");
    assert_eq!(
        conn.jupyter_url,
        Some(format!("https://{}/lab", conn.ssh_host))
    );

    vast.release(&inst.id).await.unwrap();
    assert_eq!(
        vast.status(&inst.id).await.unwrap().state,
        InstanceState::Terminating
    );
    clock.advance(chrono::Duration::seconds(1));
    assert_eq!(
        vast.status(&inst.id).await.unwrap().state,
        InstanceState::Terminated
    );
    let listed = vast.list_instances().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, inst.id);
    let found = vast
        .find_by_allocation("alloc-life")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id, inst.id);
    assert!(vast.find_by_allocation("nobody").await.unwrap().is_none());
    assert_eq!(
        vast.status(&providers::InstanceId("i-none".into())).await,
        Err(ProviderError::NotFound)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provisioning_the_last_unit_for_two_allocations_succeeds_exactly_once() {
    let (market, _) = market(7);
    let lambda = provider(&market, "lambda");
    let offer = offer_with(&market, "lambda", 1);
    market.set_available(&offer, 1).unwrap();

    let tasks: Vec<_> = ["alloc-a", "alloc-b"]
        .into_iter()
        .map(|alloc| {
            let (p, req) = (lambda.clone(), request(alloc, &offer));
            tokio::spawn(async move { p.provision(&req).await })
        })
        .collect();
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.unwrap());
    }

    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    assert!(results.contains(&Err(ProviderError::NoCapacity)));
    assert_eq!(market.available(&offer), Some(0));
    assert_eq!(lambda.list_instances().await.unwrap().len(), 1);
}

#[tokio::test]
async fn provisioning_is_idempotent_per_allocation() {
    let (market, _) = market(8);
    let aws = provider(&market, "aws");
    let offer = offer_with(&market, "aws", 2);
    let start = market.available(&offer).unwrap();

    let first = aws.provision(&request("alloc-same", &offer)).await.unwrap();
    let again = aws.provision(&request("alloc-same", &offer)).await.unwrap();

    assert_eq!(first.id, again.id);
    assert_eq!(market.available(&offer), Some(start - 1));
    assert_eq!(aws.list_instances().await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_restarted_market_sees_its_instances_and_never_provisions_twice() {
    let path = temp_state_file("restart");
    let clock = Arc::new(ManualClock::new(t0()));
    let offer;
    let first;
    {
        let market = Arc::new(
            Market::new(11, clock.clone())
                .unwrap()
                .with_state_file(&path)
                .unwrap(),
        );
        offer = offer_with(&market, "nebius", 1);
        market.set_available(&offer, 1).unwrap();
        first = provider(&market, "nebius")
            .provision(&request("alloc-crash", &offer))
            .await
            .unwrap();
        assert_eq!(first.state, InstanceState::Pending);
    } // the "process" dies mid-provisioning

    let market = Arc::new(
        Market::new(11, clock.clone())
            .unwrap()
            .with_state_file(&path)
            .unwrap(),
    );
    let nebius = provider(&market, "nebius");
    let retried = nebius
        .provision(&request("alloc-crash", &offer))
        .await
        .unwrap();
    let other = nebius.provision(&request("alloc-other", &offer)).await;

    assert_eq!(retried.id, first.id);
    assert_eq!(other, Err(ProviderError::NoCapacity));
    assert_eq!(market.available(&offer), Some(0));
    clock.advance(chrono::Duration::seconds(2));
    assert_eq!(
        nebius.status(&first.id).await.unwrap().state,
        InstanceState::Running
    );
    assert_eq!(nebius.list_instances().await.unwrap().len(), 1);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("alloc-crash"));
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

#[tokio::test]
async fn knobs_turn_into_no_capacity_and_transient_errors() {
    let (market, _) = market(12);
    let gcp = provider(&market, "gcp");
    let offer = offer_with(&market, "gcp", 1);

    market.set_knobs(
        "gcp",
        Knobs {
            out_of_capacity: true,
            ..Knobs::default()
        },
    );
    assert_eq!(
        gcp.provision(&request("alloc-oc", &offer)).await,
        Err(ProviderError::NoCapacity)
    );
    assert!(gcp
        .list_offers()
        .await
        .unwrap()
        .iter()
        .all(|o| o.available == 0));

    market.set_knobs(
        "gcp",
        Knobs {
            failure_rate: 1.0,
            ..Knobs::default()
        },
    );
    assert!(matches!(
        gcp.list_offers().await,
        Err(ProviderError::Transient(_))
    ));
    let failed = gcp.provision(&request("alloc-f", &offer)).await;
    assert!(
        matches!(failed, Err(ProviderError::Transient(_))),
        "{failed:?}"
    );
    assert!(failed.unwrap_err().is_retryable());

    market.set_knobs("gcp", Knobs::default());
    assert_eq!(market.knobs("gcp"), Knobs::default());
    assert!(gcp.provision(&request("alloc-ok", &offer)).await.is_ok());
    // Other providers are untouched by gcp's knobs.
    assert_eq!(market.knobs("aws"), Knobs::default());
}

#[tokio::test]
async fn a_partial_failure_rate_fails_some_calls_the_same_way_for_the_same_seed() {
    let outcomes = |seed| async move {
        let (market, _) = market(seed);
        market.set_knobs(
            "ibm",
            Knobs {
                failure_rate: 0.3,
                ..Knobs::default()
            },
        );
        let ibm = provider(&market, "ibm");
        let mut v = Vec::new();
        for _ in 0..200 {
            v.push(ibm.list_offers().await.is_ok());
        }
        v
    };

    let a = outcomes(13).await;
    let b = outcomes(13).await;

    assert_eq!(a, b);
    let failures = a.iter().filter(|ok| !**ok).count();
    assert!((30..90).contains(&failures), "{failures}");
}

#[tokio::test(start_paused = true)]
async fn the_latency_knob_delays_every_call() {
    let (market, _) = market(14);
    market.set_knobs(
        "do",
        Knobs {
            latency: Duration::from_millis(750),
            ..Knobs::default()
        },
    );
    let dgo = provider(&market, "do");

    let started = tokio::time::Instant::now();
    let offers = dgo.list_offers().await.unwrap();

    assert_eq!(offers.len(), 2);
    assert!(started.elapsed() >= Duration::from_millis(750));
}

#[test]
fn offers_carry_canonical_gpus_countries_and_per_gpu_memory() {
    let (market, _) = drift_free(15);
    let offers = market.all_offers();

    for o in &offers {
        assert!(
            providers::gpus::by_name(&o.gpu_model).is_some(),
            "{}",
            o.gpu_model
        );
        assert!(
            o.gpu_memory_gib > 0.0 && o.gpu_memory_gib < 300.0,
            "{} {}",
            o.id,
            o.gpu_memory_gib
        );
        assert!(o.storage_gib.unwrap() >= 100);
        assert_eq!(o.source, providers::OfferSource::Live);
    }
    let without_country: HashSet<(String, String)> = offers
        .iter()
        .filter(|o| o.country.is_none())
        .map(|o| (o.provider.0.clone(), o.region.clone()))
        .collect();
    let expected: HashSet<(String, String)> = [
        // A decentralized network of providers: no country to claim.
        ("akash".to_string(), "akash-network".to_string()),
        ("hyperbolic".to_string(), "default".to_string()),
        ("seeweb".to_string(), String::new()),
    ]
    .into_iter()
    .collect();
    assert_eq!(without_country, expected);
    let g6 = offers
        .iter()
        .find(|o| o.instance_type == "g6.12xlarge")
        .unwrap();
    assert!(
        (g6.gpu_memory_gib - 22.3518).abs() < 0.01,
        "{}",
        g6.gpu_memory_gib
    );
    let nvl = offers
        .iter()
        .find(|o| o.instance_type == "1x-H100_NVL-32-65536")
        .unwrap();
    assert_eq!(nvl.gpu_model, "H100-NVL");
}

#[test]
fn unknown_gpu_rows_are_skipped_and_counted() {
    let text = "provider,instance_type,gpu_model,gpu_count,gpu_memory_gib,vcpus,memory_gib,region,zone,price_per_hour_usd,spot_price_per_hour_usd\n\
        acme,x1,Gaudi2,8,96,,,r1,,10.5,\n\
        acme,x2,H100,1,80,,,r1,,2.5,1.25\n\
        acme,x3,Gaudi2,1,96,,,r1,,1.5,\n";
    let rows = catalog::parse(text).unwrap();
    let clock = Arc::new(ManualClock::new(t0()));

    let market = Market::from_rows(&rows, MarketConfig::new(1), clock);

    assert_eq!(market.unknown_gpu_names().get("Gaudi2"), Some(&2));
    assert_eq!(market.all_offers().len(), 2);
}

#[tokio::test]
async fn absurd_lifecycle_knobs_saturate_instead_of_overflowing_the_clock() {
    let (market, clock) = market(16);
    market.set_knobs(
        "scp",
        Knobs {
            provision_seconds: u64::MAX,
            ..Knobs::default()
        },
    );
    let scp = provider(&market, "scp");
    let offer = offer_with(&market, "scp", 1);

    let inst = scp
        .provision(&request("alloc-forever", &offer))
        .await
        .unwrap();
    clock.advance(chrono::Duration::days(365 * 100));

    assert_eq!(
        scp.status(&inst.id).await.unwrap().state,
        InstanceState::Pending
    );
}

#[test]
fn every_provider_starts_with_free_capacity_somewhere_whatever_the_seed() {
    for seed in [1, 7, 42, 1234, 99_999] {
        let (m, _) = market(seed);
        for p in m.provider_ids() {
            assert!(
                m.offers(&p).iter().any(|o| o.available > 0),
                "seed {seed}: {p} starts sold out everywhere"
            );
        }
    }
}
