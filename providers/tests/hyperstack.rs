//! Hyperstack adapter contract tests: the docs samples decoded through the adapter, and the
//! shared conformance suite.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use providers::hyperstack::{Hyperstack, HyperstackSettings};
use providers::{
    InstanceId, InstanceState, MicroUsd, OfferId, OfferSource, Pricing, Provider, ProviderError,
    ProvisionRequest,
};
use support::{assert_error_mapping, assert_offers_conform, fixture, test_config, Reply, Scripted};

fn hyperstack(url: &str) -> Hyperstack {
    Hyperstack::new(test_config(url), HyperstackSettings::default()).unwrap()
}

#[tokio::test]
async fn the_docs_schema_example_has_only_a_cpu_flavor_and_gives_no_offer() {
    let server = Scripted::start(Reply::json(500, "")).await;
    server.push(Reply::json(
        200,
        fixture("hyperstack/core-flavors-docs-schema-example.json"),
    ));
    server.push(Reply::json(
        200,
        fixture("hyperstack/pricebook-docs-example.json"),
    ));
    let adapter = hyperstack(&server.url);

    let offers = adapter.list_offers().await.unwrap();

    assert!(offers.is_empty());
    assert_eq!(adapter.engine().skipped_gpus(), 0);
    let seen = server.seen.lock().unwrap();
    assert_eq!(seen[0].path, "/core/flavors");
    assert_eq!(seen[1].path, "/pricebook");
    // The key travels in the `api_key` header, never as a bearer token.
    assert_eq!(seen[0].authorization, None);
}

#[tokio::test]
async fn gpu_flavors_in_stock_are_priced_from_the_docs_pricebook_per_gpu() {
    let server = Scripted::start(Reply::json(500, "")).await;
    server.push(Reply::json(
        200,
        fixture("hyperstack/core-flavors-constructed.json"),
    ));
    server.push(Reply::json(
        200,
        fixture("hyperstack/pricebook-docs-example.json"),
    ));
    let adapter = hyperstack(&server.url);

    let offers = adapter.list_offers().await.unwrap();

    // x2 is out of stock; the CPU flavor is no GPU offer; the imaginary GPU is skipped and
    // counted, never guessed.
    assert_eq!(offers.len(), 1);
    let o = &offers[0];
    assert_eq!(o.id, OfferId("hyperstack:n3-RTX-A4000x1@NORWAY-1".into()));
    assert_eq!(o.gpu_model, "RTXA4000");
    assert_eq!(o.gpu_count, 1);
    assert_eq!(o.gpu_memory_gib, 16.0);
    assert_eq!(o.price_per_hour, MicroUsd(580_000)); // pricebook "RTX-A4000" 0.58
    assert_eq!(o.vcpus, Some(6));
    assert_eq!(o.memory_gib, Some(24.0));
    assert_eq!(o.region, "NORWAY-1");
    assert_eq!(o.country.as_deref(), Some("NO"));
    assert_eq!(o.pricing, Pricing::OnDemand);
    assert_eq!(o.source, OfferSource::Live);
    assert_eq!(adapter.engine().skipped_gpus(), 1);
    assert_offers_conform(&offers);
}

#[tokio::test]
async fn a_vm_maps_name_to_allocation_and_active_to_running_with_its_floating_ip() {
    let server = Scripted::start(Reply::json(
        200,
        fixture("hyperstack/virtual-machine-get-constructed.json"),
    ))
    .await;
    let adapter = hyperstack(&server.url);

    let i = adapter.status(&InstanceId("4321".into())).await.unwrap();

    assert_eq!(i.id, InstanceId("4321".into()));
    assert_eq!(i.allocation_id, "alloc-7");
    assert_eq!(i.offer_id.0, "hyperstack:n3-RTX-A4000x1@NORWAY-1");
    assert_eq!(i.state, InstanceState::Running);
    let c = i.connection.unwrap();
    assert_eq!((c.ssh_host.as_str(), c.ssh_port), ("203.0.113.44", 22));
    assert_eq!(
        server.seen.lock().unwrap()[0].path,
        "/core/virtual-machines/4321"
    );
}

#[tokio::test]
async fn create_names_the_vm_after_the_allocation_and_a_409_means_no_capacity() {
    let server = Scripted::start(Reply::json(500, "")).await;
    server.push(Reply::json(
        200,
        r#"{"status":true,"message":"ok","instances":[]}"#,
    )); // find_by_allocation
    server.push(Reply::json(
        409,
        r#"{"status":false,"message":"No stock","error_reason":"conflict"}"#,
    ));
    let adapter = hyperstack(&server.url);

    let err = adapter
        .provision(&ProvisionRequest {
            allocation_id: "alloc-1".into(),
            offer_id: OfferId("hyperstack:n3-RTX-A4000x1@NORWAY-1".into()),
            gpu_count: 1,
            disk_gib: 100,
            image: "ubuntu".into(),
            ssh_public_key: None,
        })
        .await
        .unwrap_err();

    assert_eq!(err, ProviderError::NoCapacity);
    let seen = server.seen.lock().unwrap();
    let creates: Vec<_> = seen
        .iter()
        .filter(|s| s.method == "POST" && s.path == "/core/virtual-machines")
        .collect();
    assert_eq!(creates.len(), 1, "create is sent once");
    let body: serde_json::Value = serde_json::from_str(&creates[0].body).unwrap();
    assert_eq!(body["name"], "alloc-1");
    assert_eq!(body["flavor_name"], "n3-RTX-A4000x1");
    assert_eq!(body["environment_name"], "default-NORWAY-1");
    assert_eq!(body["count"], 1);
}

#[tokio::test]
async fn hyperstack_passes_the_shared_conformance_suite() {
    assert_error_mapping(|config| Hyperstack::new(config, HyperstackSettings::default()).unwrap())
        .await;
}
