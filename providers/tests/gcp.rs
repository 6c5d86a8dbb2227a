//! GCP adapter contract tests: the recorded Cloud Billing Catalog page decoded through the
//! adapter (and its `nextPageToken` followed), listing-only capabilities, and the shared
//! conformance suite.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use providers::gcp::{Gcp, CAPABILITIES};
use providers::{
    InstanceId, MicroUsd, OfferId, OfferSource, Pricing, Provider, ProviderError, ProvisionRequest,
};
use support::{assert_error_mapping, assert_offers_conform, fixture, test_config, Reply, Scripted};

#[tokio::test]
async fn gpu_skus_become_per_gpu_hour_offers_in_each_service_region() {
    let server = Scripted::start(Reply::json(
        200,
        fixture("gcp/cloudbilling-skus-page2-constructed.json"),
    ))
    .await;
    server.push(Reply::json(200, fixture("gcp/cloudbilling-skus-page.json")));
    let adapter = Gcp::new(test_config(&server.url)).unwrap();

    let offers = adapter.list_offers().await.unwrap();

    // The recorded A100 SKU in its three regions (RAM and CPU SKUs are no offers), the L4
    // spot SKU; the Virtual Workstation licence is counted, the commitment left out.
    let ids: Vec<&str> = offers.iter().map(|o| o.id.0.as_str()).collect();
    assert_eq!(
        ids,
        [
            "gcp:tesla-a100@us-central1",
            "gcp:tesla-a100@us-east1",
            "gcp:tesla-a100@us-west1",
            "gcp:l4@europe-west4:spot"
        ]
    );
    assert_eq!(adapter.engine().skipped_gpus(), 1);
    let a100 = &offers[0];
    assert_eq!(a100.gpu_model, "A100-40GB-SXM");
    assert_eq!((a100.gpu_count, a100.gpu_memory_gib), (1, 40.0));
    // units "2" + nanos 933908000, per GPU-hour, the accelerator alone.
    assert_eq!(a100.price_per_hour, MicroUsd(2_933_908));
    assert_eq!(a100.price_per_gpu_hour, MicroUsd(2_933_908));
    assert_eq!(a100.instance_type, "Tesla A100 GPU (accelerator only)");
    assert_eq!(a100.country.as_deref(), Some("US"));
    assert_eq!(
        (a100.pricing, a100.source),
        (Pricing::OnDemand, OfferSource::Live)
    );
    let l4 = &offers[3];
    assert_eq!((l4.gpu_model.as_str(), l4.pricing), ("L4", Pricing::Spot));
    assert_eq!(l4.price_per_hour, MicroUsd(222_000));
    assert_eq!(l4.country.as_deref(), Some("NL"));
    assert_offers_conform(&offers);
    let seen = server.seen.lock().unwrap();
    assert_eq!(seen[0].path, "/v1/services/6F81-5844-456A/skus");
    assert_eq!(
        seen[0].query.as_deref(),
        Some("currencyCode=USD&pageSize=5000")
    );
    assert!(seen[1]
        .query
        .as_deref()
        .unwrap()
        .contains("pageToken=APKCS1HVa0YpwgyTFbqbJ1eGwzKZmsPwLqzMZPTSNia5ck1Hc54Tx_Kz3oBxwSnRIdGVxXoSPdf-XlDpyNBf4QuxKcIEgtrQ1LDLWAgZowI0ns7HjrGta2s%3D"));
    // The API key travels in its header.
    assert!(seen
        .iter()
        .all(|s| s.header("x-goog-api-key") == Some("test-key")));
}

#[tokio::test]
async fn gcp_is_listing_only_and_says_so() {
    let server = Scripted::start(Reply::json(200, "{}")).await;
    let adapter = Gcp::new(test_config(&server.url)).unwrap();
    let req = ProvisionRequest {
        allocation_id: "alloc-1".into(),
        offer_id: OfferId("gcp:tesla-a100@us-central1".into()),
        gpu_count: 1,
        disk_gib: 100,
        image: "ubuntu".into(),
        ssh_public_key: None,
    };

    let err = adapter.provision(&req).await.unwrap_err();

    let caps = adapter.capabilities();
    assert_eq!(caps, CAPABILITIES);
    assert!(caps.list_offers && !caps.provision && !caps.status && !caps.release);
    assert_eq!(err, ProviderError::Unsupported);
    assert_eq!(
        adapter.release(&InstanceId("x".into())).await.unwrap_err(),
        ProviderError::Unsupported
    );
    assert!(adapter.list_instances().await.unwrap().is_empty());
    assert_eq!(server.hits(), 0);
}

#[tokio::test]
async fn gcp_passes_the_shared_conformance_suite() {
    assert_error_mapping(|config| Gcp::new(config).unwrap()).await;
}
