//! OCI adapter contract tests: the recorded cost-estimator shapes decoded through the
//! adapter, GPU shapes and prices in the same shape, listing-only capabilities, and the
//! shared conformance suite.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use providers::oci::{Oci, OciSettings, CAPABILITIES};
use providers::{
    InstanceId, MicroUsd, OfferId, OfferSource, Pricing, Provider, ProviderError, ProvisionRequest,
};
use support::{assert_error_mapping, assert_offers_conform, fixture, test_config, Reply, Scripted};

fn oci(url: &str, regions: &[&str]) -> Oci {
    let settings = OciSettings {
        regions: regions.iter().map(|r| r.to_string()).collect(),
    };
    Oci::new(test_config(url), settings).unwrap()
}

#[tokio::test]
async fn the_recorded_shapes_decode_and_hold_no_gpu_shape() {
    let server = Scripted::start(Reply::json(
        200,
        fixture("oci/cost-estimator-products-constructed.json"),
    ))
    .await;
    server.push(Reply::json(200, fixture("oci/cost-estimator-shapes.json")));
    let adapter = oci(&server.url, &["eu-frankfurt-1"]);

    let offers = adapter.list_offers().await.unwrap();

    assert!(offers.is_empty());
    assert_eq!(adapter.engine().skipped_gpus(), 0);
    let seen = server.seen.lock().unwrap();
    assert_eq!(seen[0].path, "/shapes.json");
    assert_eq!(seen[1].path, "/products.json");
    // A public price list: no credentials go out.
    assert!(seen.iter().all(|s| s.authorization.is_none()));
}

#[tokio::test]
async fn gpu_shapes_are_priced_per_gpu_and_listed_in_each_configured_region() {
    let server = Scripted::start(Reply::json(
        200,
        fixture("oci/cost-estimator-products-constructed.json"),
    ))
    .await;
    server.push(Reply::json(
        200,
        fixture("oci/cost-estimator-shapes-gpu-constructed.json"),
    ));
    let adapter = oci(&server.url, &["eu-frankfurt-1", "us-ashburn-1"]);

    let offers = adapter.list_offers().await.unwrap();

    // A10 and A100 in two regions; the X9 is unknown (counted), the hidden shape is left out.
    assert_eq!(offers.len(), 4);
    assert_eq!(adapter.engine().skipped_gpus(), 1);
    let a10 = offers
        .iter()
        .find(|o| o.id.0 == "oci:VM.GPU.A10.1@eu-frankfurt-1")
        .unwrap();
    assert_eq!(a10.gpu_model, "A10");
    assert_eq!((a10.gpu_count, a10.gpu_memory_gib), (1, 24.0));
    assert_eq!(a10.price_per_hour, MicroUsd(2_000_000));
    // Ampere shapes are x86 whatever the estimator says: 15 OCPUs = 30 vCPUs.
    assert_eq!(a10.vcpus, Some(30));
    assert_eq!(a10.memory_gib, Some(240.0));
    assert_eq!(a10.country.as_deref(), Some("DE"));
    assert_eq!(
        (a10.pricing, a10.source),
        (Pricing::OnDemand, OfferSource::Live)
    );
    let a100 = offers
        .iter()
        .find(|o| o.id.0 == "oci:BM.GPU.A100-v2.8@us-ashburn-1")
        .unwrap();
    assert_eq!(a100.gpu_model, "A100-80GB-SXM");
    assert_eq!((a100.gpu_count, a100.gpu_memory_gib), (8, 80.0));
    assert_eq!(a100.price_per_hour, MicroUsd(32_000_000));
    assert_eq!(a100.price_per_gpu_hour, MicroUsd(4_000_000));
    assert_eq!(a100.vcpus, Some(256));
    assert_eq!(a100.country.as_deref(), Some("US"));
    assert_offers_conform(&offers);
}

#[tokio::test]
async fn oci_is_listing_only_and_says_so() {
    let server = Scripted::start(Reply::json(200, "{}")).await;
    let adapter = oci(&server.url, &["eu-frankfurt-1"]);
    let req = ProvisionRequest {
        allocation_id: "alloc-1".into(),
        offer_id: OfferId("oci:VM.GPU.A10.1@eu-frankfurt-1".into()),
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
        adapter.status(&InstanceId("x".into())).await.unwrap_err(),
        ProviderError::Unsupported
    );
    assert!(adapter.list_instances().await.unwrap().is_empty());
    assert_eq!(server.hits(), 0);
}

#[tokio::test]
async fn oci_passes_the_shared_conformance_suite() {
    assert_error_mapping(|config| Oci::new(config, OciSettings::default()).unwrap()).await;
}
