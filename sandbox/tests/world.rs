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

#[tokio::test]
async fn every_market_provider_is_present_once_and_faked_vendors_have_a_fake() {
    let w = world().await;

    let ids: Vec<String> = w.providers.iter().map(|p| p.id().0.clone()).collect();
    let expected: Vec<String> = w.market.provider_ids().into_iter().map(|p| p.0).collect();

    assert_eq!(ids, expected);
    assert_eq!(ids.len(), 22);
    for v in FAKED_VENDORS {
        assert!(w.fakes.url(v).unwrap().starts_with("http://127.0.0.1:"));
    }
}

#[tokio::test]
async fn adapter_offers_through_the_fake_match_the_market() {
    let w = world().await;
    for vendor in FAKED_VENDORS {
        let p = provider(&w, vendor);

        let offers = p.list_offers().await.unwrap();

        assert!(!offers.is_empty(), "{vendor}");
        for o in &offers {
            let m = w
                .market
                .offer(&o.id)
                .unwrap_or_else(|| panic!("{} not in market", o.id));
            assert_eq!(o.gpu_model, m.gpu_model, "{}", o.id);
            assert_eq!(o.gpu_count, m.gpu_count, "{}", o.id);
            assert_eq!(o.region, m.region, "{}", o.id);
            assert!(m.available > 0, "{} listed without capacity", o.id);
            assert_eq!(o.source, OfferSource::Live);
        }
    }
}

#[tokio::test]
async fn provision_poll_release_round_trip_through_each_fake() {
    let w = world().await;
    for vendor in FAKED_VENDORS {
        let p = provider(&w, vendor);
        let offer = p.list_offers().await.unwrap().into_iter().next().unwrap();
        let before = w.market.available(&offer.id).unwrap();
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
        assert_eq!(w.market.available(&offer.id), Some(before - 1));
        // A retried provisioning finds the same instance.
        assert_eq!(p.provision(&req).await.unwrap().id, started.id);

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
        assert_eq!(running.offer_id, offer.id);
        let found = p
            .find_by_allocation(&req.allocation_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(found.id, started.id);

        p.release(&started.id).await.unwrap();
        assert_eq!(
            p.status(&started.id).await.unwrap().state,
            InstanceState::Terminating
        );
        w.clock.advance(chrono::Duration::seconds(5));
        assert_eq!(
            p.status(&started.id).await.unwrap().state,
            InstanceState::Terminated
        );
        assert_eq!(w.market.available(&offer.id), Some(before));
    }
}

#[tokio::test]
async fn a_fake_refuses_requests_without_the_key() {
    let w = world().await;
    for vendor in FAKED_VENDORS {
        let url = w.fakes.url(vendor).unwrap();
        let resp = reqwest::get(format!("{url}/api/v1/instances"))
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 401, "{vendor}");
    }
}

#[tokio::test]
async fn market_out_of_capacity_surfaces_as_no_capacity_through_the_wire() {
    let w = world().await;
    for vendor in FAKED_VENDORS {
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

        // One 429 is absorbed by a retry.
        faults.rate_limit_next(1);
        let fresh = p.list_offers().await.unwrap();
        assert!(fresh.iter().all(|o| o.source == OfferSource::Live));

        // Failing provider after the TTL: the last good listing, marked stale.
        w.market.set_knobs(
            vendor,
            Knobs {
                failure_rate: 1.0,
                ..Knobs::default()
            },
        );
        tokio::time::sleep(Duration::from_millis(80)).await;
        let stale = p.list_offers().await.unwrap();
        assert_eq!(stale.len(), fresh.len());
        assert!(
            stale.iter().all(|o| o.source == OfferSource::Stale),
            "{vendor}"
        );

        // Garbage bodies are invalid responses, not panics.
        w.market.set_knobs(vendor, Knobs::default());
        faults.set_garbage(true);
        let err = p.list_instances().await.unwrap_err();
        assert!(
            matches!(err, ProviderError::InvalidResponse(_)),
            "{vendor}: {err:?}"
        );
        faults.set_garbage(false);
    }
}
