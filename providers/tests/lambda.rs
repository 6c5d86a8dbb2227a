//! Lambda adapter contract tests: real samples decoded through the adapter, and the shared
//! conformance suite.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use providers::lambda::{Lambda, LambdaSettings};
use providers::{
    InstanceId, InstanceState, MicroUsd, OfferSource, Pricing, Provider, ProviderError,
};
use support::{assert_error_mapping, assert_offers_conform, fixture, test_config, Reply, Scripted};

fn lambda(url: &str) -> Lambda {
    Lambda::new(test_config(url), LambdaSettings::default()).unwrap()
}

#[tokio::test]
async fn the_openapi_example_decodes_and_its_unknown_gpu_is_skipped_and_counted() {
    let server = Scripted::start(Reply::json(
        200,
        fixture("lambda/instance-types-openapi-example.json"),
    ))
    .await;
    let adapter = lambda(&server.url);

    let offers = adapter.list_offers().await.unwrap();

    // "1x RTX A100 (24 GB)" is no GPU that exists: skipped, counted, never guessed.
    assert_eq!(adapter.engine().skipped_gpus(), 1);
    assert_eq!(offers.len(), 1);
    let o = &offers[0];
    assert_eq!(o.id.0, "lambda:gpu_4x_a6000@us-az-1");
    assert_eq!(o.gpu_model, "QuadroRTX6000");
    assert_eq!(o.gpu_count, 4);
    assert_eq!(o.gpu_memory_gib, 24.0);
    assert_eq!(o.price_per_hour, MicroUsd(1_100_000));
    assert_eq!(o.price_per_gpu_hour, MicroUsd(275_000));
    assert_eq!(o.region, "us-az-1");
    assert_eq!(o.country.as_deref(), Some("US"));
    assert_eq!(o.vcpus, Some(24));
    assert_eq!(o.pricing, Pricing::OnDemand);
    assert_eq!(o.source, OfferSource::Live);
    assert_offers_conform(&offers);
    assert_eq!(server.seen.lock().unwrap()[0].path, "/instance-types");
    assert_eq!(
        server.seen.lock().unwrap()[0].authorization.as_deref(),
        Some("Bearer test-key")
    );
}

#[tokio::test]
async fn the_live_shape_with_integer_cents_and_gpu_description_decodes() {
    let server = Scripted::start(Reply::json(
        200,
        fixture("lambda/instance-types-constructed.json"),
    ))
    .await;
    let adapter = lambda(&server.url);

    let offers = adapter.list_offers().await.unwrap();

    // The H100 type lists no region with capacity: no offer.
    assert_eq!(offers.len(), 1);
    let o = &offers[0];
    assert_eq!(o.gpu_model, "A100-40GB-SXM");
    assert_eq!(o.gpu_count, 1);
    assert_eq!(o.gpu_memory_gib, 40.0);
    assert_eq!(o.price_per_hour, MicroUsd(1_290_000));
    assert_eq!(o.region, "us-east-1");
    assert_eq!(o.country.as_deref(), Some("US"));
    assert_eq!(o.memory_gib, Some(200.0));
    assert_eq!(adapter.engine().skipped_gpus(), 0);
    assert_offers_conform(&offers);
}

#[tokio::test]
async fn the_instances_example_maps_name_to_allocation_and_active_to_running() {
    let server = Scripted::start(Reply::json(
        200,
        fixture("lambda/instances-list-openapi-example.json"),
    ))
    .await;
    let adapter = lambda(&server.url);

    let instances = adapter.list_instances().await.unwrap();

    assert_eq!(instances.len(), 1);
    let i = &instances[0];
    assert_eq!(i.id, InstanceId("0920582c7ff041399e34823a0be62549".into()));
    assert_eq!(i.allocation_id, "training-node-1");
    assert_eq!(i.offer_id.0, "lambda:gpu_1x_a100_sxm4@us-tx-3");
    assert_eq!(i.state, InstanceState::Running);
    let c = i.connection.as_ref().unwrap();
    assert_eq!((c.ssh_host.as_str(), c.ssh_port), ("10.10.10.1", 22));
    assert!(adapter
        .find_by_allocation("training-node-1")
        .await
        .unwrap()
        .is_some());
}

#[tokio::test]
async fn the_insufficient_capacity_error_body_means_no_capacity() {
    let server = Scripted::start(Reply::json(200, r#"{"data": []}"#)).await;
    server.push(Reply::json(200, r#"{"data": []}"#)); // find_by_allocation
    server.push(Reply::json(
        400,
        fixture("lambda/error-insufficient-capacity-shape.json"),
    ));
    let adapter = lambda(&server.url);
    let req = providers::ProvisionRequest {
        allocation_id: "alloc-1".into(),
        offer_id: providers::OfferId("lambda:gpu_1x_a10@us-east-1".into()),
        gpu_count: 1,
        disk_gib: 100,
        image: "ubuntu".into(),
        ssh_public_key: None,
    };

    let err = adapter.provision(&req).await.unwrap_err();

    assert_eq!(err, ProviderError::NoCapacity);
    let seen = server.seen.lock().unwrap();
    let launch = seen
        .iter()
        .find(|s| s.path == "/instance-operations/launch")
        .unwrap();
    let body: serde_json::Value = serde_json::from_str(&launch.body).unwrap();
    assert_eq!(body["name"], "alloc-1");
    assert_eq!(body["instance_type_name"], "gpu_1x_a10");
    assert_eq!(body["region_name"], "us-east-1");
    // The launch is not idempotent: sent exactly once.
    assert_eq!(
        seen.iter()
            .filter(|s| s.path == "/instance-operations/launch")
            .count(),
        1
    );
}

#[tokio::test]
async fn lambda_passes_the_shared_conformance_suite() {
    assert_error_mapping(|config| Lambda::new(config, LambdaSettings::default()).unwrap()).await;
}
