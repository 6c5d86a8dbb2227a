//! The sandbox world: real adapters against protocol-faithful fakes, SimProviders for the
//! rest, and a full provision → running → release round trip per faked vendor.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use providers::http::{BreakerBackoff, BreakerPolicy, EngineConfig, RetryPolicy};
use providers::{InstanceState, OfferSource, Provider, ProviderError, ProvisionRequest};
use sandbox::world::{sandbox_providers, WorldConfig, FAKED_VENDORS};
use sandbox::{Knobs, ManualClock, Market};

struct World {
    clock: Arc<ManualClock>,
    market: Arc<Market>,
    providers: Vec<Arc<dyn Provider>>,
    fakes: sandbox::world::FakesHandle,
}

async fn world() -> World {
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap(),
    ));
    let market = Arc::new(Market::new(7, clock.clone()).unwrap());
    let config = WorldConfig {
        engine: EngineConfig {
            offers_ttl: Duration::from_millis(50),
            retry: RetryPolicy {
                max_attempts: 2,
                base_delay: Duration::from_millis(5),
                max_delay: Duration::from_millis(50),
            },
            breaker: BreakerPolicy {
                consecutive_failures: 1000,
                backoff: BreakerBackoff::Constant(Duration::from_millis(10)),
            },
            timeout: Some(Duration::from_millis(500)),
            quota_per_minute: Some(100_000),
            clock: clock.clone(),
            ..EngineConfig::default()
        },
        ..WorldConfig::default()
    };
    let (providers, fakes) = sandbox_providers(market.clone(), config).await.unwrap();
    World {
        clock,
        market,
        providers,
        fakes,
    }
}

fn provider<'a>(w: &'a World, id: &str) -> &'a Arc<dyn Provider> {
    w.providers.iter().find(|p| p.id().0 == id).unwrap()
}

/// Faked vendors whose fake is a public price list only (no provisioning API, no
/// credentials): their adapters list offers and refuse everything else.
const LISTING_ONLY: &[&str] = &["akash", "azure", "gcp", "oci"];

/// Faked vendors without a price API: their offers come from a dated catalogue in the
/// adapter (`source = catalog`), never from the fake.
const CATALOG_LISTING: &[&str] = &["paperspace"];

#[tokio::test]
async fn every_market_provider_is_present_once_and_faked_vendors_have_a_fake() {
    let w = world().await;

    let ids: Vec<String> = w.providers.iter().map(|p| p.id().0.clone()).collect();
    let mut expected: Vec<String> = w.market.provider_ids().into_iter().map(|p| p.0).collect();
    expected.push("maas".to_string());
    expected.sort();

    assert_eq!(ids, expected);
    assert_eq!(
        ids.len(),
        28,
        "27 market providers and the owned MAAS region"
    );
    assert!(w
        .fakes
        .url("maas")
        .unwrap()
        .starts_with("http://127.0.0.1:"));
    for v in FAKED_VENDORS {
        assert!(w.fakes.url(v).unwrap().starts_with("http://127.0.0.1:"));
    }
}

#[tokio::test]
async fn adapter_offers_through_the_fake_match_the_market() {
    let w = world().await;
    for vendor in FAKED_VENDORS {
        let p = provider(&w, vendor);
        let market = w.market.offers(p.id());

        let offers = p.list_offers().await.unwrap();

        assert!(!offers.is_empty(), "{vendor}");
        for o in &offers {
            let source = if CATALOG_LISTING.contains(vendor) {
                OfferSource::Catalog
            } else {
                OfferSource::Live
            };
            assert_eq!(o.source, source, "{vendor}");
            // Same GPU, count and region as some market offer with units left (catalogue
            // listings: any market offer).
            // Azure's price list names VM sizes, not GPUs: its twin is the same size and
            // region (the adapter's series table and the seed rows disagree on two series).
            let twin = market.iter().find(|m| {
                (m.gpu_model == o.gpu_model
                    && m.gpu_count == o.gpu_count
                    // RunPod's catalogue is location-free ("any").
                    && (m.region == o.region || o.region == "any")
                    || *vendor == "azure"
                        && m.instance_type == o.instance_type
                        && m.region == o.region
                        && m.pricing == o.pricing)
                    // A dated catalogue knows nothing of today's units.
                    && (m.available > 0 || CATALOG_LISTING.contains(vendor))
            });
            assert!(twin.is_some(), "{vendor}: {} has no market twin", o.id);
        }
    }
}

/// The market's offer id behind the instance made for `allocation_id`.
fn market_offer_of(w: &World, vendor: &str, allocation_id: &str) -> providers::OfferId {
    w.market
        .find_by_allocation(&providers::ProviderId(vendor.to_string()), allocation_id)
        .unwrap()
        .offer_id
}

#[tokio::test]
async fn provision_poll_release_round_trip_through_each_fake() {
    let w = world().await;
    for vendor in FAKED_VENDORS {
        if LISTING_ONLY.contains(vendor) {
            continue;
        }
        let p = provider(&w, vendor);
        let offer = p.list_offers().await.unwrap().into_iter().next().unwrap();
        let req = ProvisionRequest {
            allocation_id: format!("alloc-{vendor}-1"),
            offer_id: offer.id.clone(),
            gpu_count: offer.gpu_count,
            disk_gib: 100,
            image: "ubuntu-22.04".into(),
            ssh_public_key: Some("ssh-ed25519 AAAA test".into()),
        };

        let started = p.provision(&req).await.unwrap();
        assert_eq!(started.state, InstanceState::Pending, "{vendor}");
        assert_eq!(started.allocation_id, req.allocation_id);
        let market_offer = market_offer_of(&w, vendor, &req.allocation_id);
        let left = w.market.available(&market_offer).unwrap();
        // A retried provisioning finds the same instance and takes no second unit.
        assert_eq!(p.provision(&req).await.unwrap().id, started.id);
        assert_eq!(w.market.available(&market_offer), Some(left));

        let mut running = None;
        for _ in 0..10 {
            let i = p.status(&started.id).await.unwrap();
            if i.state == InstanceState::Running {
                running = Some(i);
                break;
            }
            w.clock.advance(chrono::Duration::seconds(1));
        }
        let running = running.unwrap_or_else(|| panic!("{vendor} never ran"));
        assert!(running.connection.is_some(), "{vendor}");
        let found = p
            .find_by_allocation(&req.allocation_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(found.id, started.id);

        p.release(&started.id).await.unwrap();
        w.clock.advance(chrono::Duration::seconds(5));
        // Terminated, or gone altogether where the vendor forgets destroyed instances.
        match p.status(&started.id).await {
            Ok(i) => assert_eq!(i.state, InstanceState::Terminated, "{vendor}"),
            Err(e) => assert_eq!(e, ProviderError::NotFound, "{vendor}"),
        }
        assert_eq!(
            w.market.available(&market_offer),
            Some(left + 1),
            "{vendor}"
        );
        assert!(p
            .find_by_allocation(&req.allocation_id)
            .await
            .unwrap()
            .is_none());
    }
}

#[tokio::test]
async fn a_fake_refuses_requests_without_the_key() {
    let w = world().await;
    for vendor in FAKED_VENDORS {
        if LISTING_ONLY.contains(vendor) {
            continue;
        }
        let api = w.fakes.api_url(vendor).unwrap();
        // Each vendor's own spelling of its instance list.
        let path = match *vendor {
            "vast" => "/instances/",
            "runpod" => "/v1/pods",
            "verda" => "/instances",
            "scaleway" => "/zones/fr-par-2/servers",
            "cudo" => "/projects/gpubroker/vms",
            "jarvislabs" => "/users/fetch",
            "do" => "/droplets",
            "hyperstack" => "/core/virtual-machines",
            "ovhcloud" => "/cloud/project/sandbox-project/instance",
            "paperspace" => "/machines",
            "aws" => "/",
            "latitude" => "/servers",
            "linode" => "/linode/instances",
            "seeweb" => "/servers",
            _ => "/instances",
        };
        let resp = reqwest::get(format!("{api}{path}")).await.unwrap();
        assert_eq!(resp.status().as_u16(), 401, "{vendor}");
    }
}

#[tokio::test]
async fn market_out_of_capacity_surfaces_as_no_capacity_through_the_wire() {
    let w = world().await;
    for vendor in FAKED_VENDORS {
        if LISTING_ONLY.contains(vendor) {
            continue;
        }
        let p = provider(&w, vendor);
        let offer = p.list_offers().await.unwrap().into_iter().next().unwrap();
        w.market.set_knobs(
            vendor,
            Knobs {
                out_of_capacity: true,
                ..Knobs::default()
            },
        );

        let err = p
            .provision(&ProvisionRequest {
                allocation_id: "alloc-none".into(),
                offer_id: offer.id,
                gpu_count: 1,
                disk_gib: 100,
                image: "ubuntu".into(),
                ssh_public_key: None,
            })
            .await
            .unwrap_err();

        assert_eq!(err, ProviderError::NoCapacity, "{vendor}");
    }
}

#[tokio::test]
async fn wire_faults_drive_the_engine_retries_and_stale_listings() {
    let w = world().await;
    for vendor in FAKED_VENDORS {
        let p = provider(&w, vendor);
        let faults = w.fakes.faults(vendor).unwrap();

        // A catalogue listing makes no request: nothing to rate-limit, fault or go stale.
        if !CATALOG_LISTING.contains(vendor) {
            // One 429 is absorbed by a retry.
            faults.rate_limit_next(1);
            let fresh = p.list_offers().await.unwrap();
            assert!(fresh.iter().all(|o| o.source == OfferSource::Live));
            // Failing provider after the TTL: the last good listing, marked stale.
            assert_stale_after_failure(&w, vendor, p, fresh.len()).await;
        }

        // A listing-only adapter makes no instance calls to fault.
        if LISTING_ONLY.contains(vendor) {
            w.market.set_knobs(vendor, Knobs::default());
            continue;
        }
        // Garbage bodies are invalid responses, not panics.
        w.market.set_knobs(vendor, Knobs::default());
        faults.set_garbage(true);
        let err = p.list_instances().await.unwrap_err();
        assert!(
            matches!(err, ProviderError::InvalidResponse(_)),
            "{vendor}: {err:?}"
        );
        faults.set_garbage(false);

        // A hanging provider times out as transient (the engine's timeout is 500 ms here).
        faults.set_hang(true);
        let started = std::time::Instant::now();
        let err = p.list_instances().await.unwrap_err();
        assert!(
            matches!(err, ProviderError::Transient(_)),
            "{vendor}: {err:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(3), "{vendor}");
        faults.set_hang(false);
    }
}

#[tokio::test]
async fn azure_lists_through_its_public_fake_and_refuses_to_provision() {
    let w = world().await;
    let p = provider(&w, "azure");
    let offer = p.list_offers().await.unwrap().into_iter().next().unwrap();

    let caps = p.capabilities();
    let err = p
        .provision(&ProvisionRequest {
            allocation_id: "alloc-azure-1".into(),
            offer_id: offer.id,
            gpu_count: offer.gpu_count,
            disk_gib: 100,
            image: "ubuntu".into(),
            ssh_public_key: None,
        })
        .await
        .unwrap_err();

    assert!(caps.list_offers);
    assert!(!caps.provision && !caps.release && !caps.status && !caps.list_instances);
    assert_eq!(err, ProviderError::Unsupported);
    assert!(w
        .market
        .find_by_allocation(p.id(), "alloc-azure-1")
        .is_none());
    assert!(p.list_instances().await.unwrap().is_empty());
    // The Retail Prices API is public: a request without credentials is answered.
    let api = w.fakes.api_url("azure").unwrap();
    let resp = reqwest::get(format!("{api}/api/retail/prices"))
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
}

/// After the TTL, with the provider failing, the last good listing comes back marked stale.
async fn assert_stale_after_failure(w: &World, vendor: &str, p: &Arc<dyn Provider>, fresh: usize) {
    w.market.set_knobs(
        vendor,
        Knobs {
            failure_rate: 1.0,
            ..Knobs::default()
        },
    );
    tokio::time::sleep(Duration::from_millis(80)).await;
    let stale = p.list_offers().await.unwrap();
    assert_eq!(stale.len(), fresh, "{vendor}");
    assert!(
        stale.iter().all(|o| o.source == OfferSource::Stale),
        "{vendor}"
    );
}
