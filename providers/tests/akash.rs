//! Akash adapter contract tests: the recorded Console GPU price list decoded through the
//! adapter (bid-priced offers), the listing-only capabilities, and the conformance suite.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use providers::akash::Akash;
use providers::{
    MicroUsd, OfferId, OfferSource, Pricing, Provider, ProviderError, ProvisionRequest,
};
use support::{assert_error_mapping, assert_offers_conform, fixture, test_config, Reply, Scripted};

#[tokio::test]
async fn the_recorded_price_list_yields_a_bid_priced_h100_at_the_median_bid() {
    let server = Scripted::start(Reply::json(
        200,
        fixture("akash/console-gpu-prices-debug.json"),
    ))
    .await;
    let adapter = Akash::new(test_config(&server.url)).unwrap();

    let offers = adapter.list_offers().await.unwrap();

    assert_eq!(offers.len(), 1);
    let o = &offers[0];
    assert_eq!(o.id.0, "akash:nvidia-h100-80Gi-SXM5@akash-network");
    assert_eq!(o.gpu_model, "H100-SXM");
    assert_eq!(o.gpu_count, 1);
    assert_eq!(o.gpu_memory_gib, 80.0);
    // `price.med` of the recorded bids, USD per GPU-hour; a bid indication, not a quote.
    assert_eq!(o.price_per_hour, MicroUsd(2_560_000));
    assert_eq!(o.pricing, Pricing::Bid);
    assert_eq!(o.available, 15);
    assert_eq!(o.region, "akash-network");
    assert_eq!(o.country, None);
    assert_eq!(o.source, OfferSource::Live);
    assert_offers_conform(&offers);
    let seen = server.seen.lock().unwrap();
    assert_eq!(seen[0].path, "/v1/gpu-prices");
    // A public endpoint: no credentials leave the broker.
    assert_eq!(seen[0].authorization, None);
}

#[tokio::test]
async fn akash_is_listing_only_and_says_so() {
    let adapter = Akash::new(test_config("http://127.0.0.1:9")).unwrap();

    let caps = adapter.capabilities();
    let err = adapter
        .provision(&ProvisionRequest {
            allocation_id: "alloc-1".into(),
            offer_id: OfferId("akash:nvidia-h100-80Gi-SXM5@akash-network".into()),
            gpu_count: 1,
            disk_gib: 100,
            image: "ubuntu".into(),
            ssh_public_key: None,
        })
        .await
        .unwrap_err();

    assert!(caps.list_offers);
    assert!(!caps.provision && !caps.status && !caps.release && !caps.list_instances);
    assert_eq!(err, ProviderError::Unsupported);
    assert!(adapter.list_instances().await.unwrap().is_empty());
}

#[tokio::test]
async fn akash_passes_the_shared_conformance_suite() {
    assert_error_mapping(|c| Akash::new(c).unwrap()).await;
}
