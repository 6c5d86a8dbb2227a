//! FluidStack adapter contract tests. DOCUMENTATION ONLY: no recorded FluidStack response
//! exists; the fixtures are constructed from the documented shapes (prices from the seed
//! catalogue's FluidStack rows). The lifecycle runs over a scripted server.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use providers::fluidstack::{FluidStack, FluidStackSettings};
use providers::{
    InstanceId, InstanceState, MicroUsd, OfferId, Provider, ProviderError, ProvisionRequest,
};
use support::{
    assert_error_mapping, assert_offers_conform, assert_secret_sent_not_logged, fixture,
    test_config, Reply, Scripted, LIVE_SECRET,
};

fn fluidstack(url: &str) -> FluidStack {
    FluidStack::new(test_config(url), FluidStackSettings::default()).unwrap()
}

#[tokio::test]
async fn documented_configurations_become_offers_per_count_and_region() {
    let server = Scripted::start(Reply::json(
        200,
        fixture("fluidstack/list-available-configurations-constructed.json"),
    ))
    .await;
    let adapter = fluidstack(&server.url);

    let mut offers = adapter.list_offers().await.unwrap();
    offers.sort_by(|a, b| a.id.cmp(&b.id));

    // The imaginary GPU is skipped and counted, never guessed.
    assert_eq!(adapter.engine().skipped_gpus(), 1);
    assert_eq!(offers.len(), 3);
    let h100 = &offers[0];
    assert_eq!(h100.id.0, "fluidstack:1xH100_SXM5_80GB@generic_1_canada");
    assert_eq!(h100.gpu_model, "H100-SXM");
    assert_eq!(h100.price_per_hour, MicroUsd(5_290_000));
    assert_eq!(h100.country.as_deref(), Some("CA"));
    let a6000x2 = &offers[2];
    assert_eq!(a6000x2.id.0, "fluidstack:2xRTX_A6000_48GB@norway_2_eu");
    assert_eq!(a6000x2.gpu_model, "RTXA6000");
    assert_eq!(a6000x2.gpu_count, 2);
    assert_eq!(a6000x2.price_per_hour, MicroUsd(1_580_000));
    assert_eq!(a6000x2.country.as_deref(), Some("NO"));
    assert_offers_conform(&offers);
    let seen = server.seen.lock().unwrap();
    assert_eq!(seen[0].path, "/list_available_configurations");
}

#[tokio::test]
async fn provisioning_names_the_instance_and_reads_status_from_the_list() {
    let server = Scripted::start(Reply::json(
        200,
        fixture("fluidstack/instances-constructed.json"),
    ))
    .await;
    server.push(Reply::json(200, "[]")); // find_by_allocation
    server.push(Reply::json(200, r#"{"id": "fs-7"}"#));
    let adapter = fluidstack(&server.url);
    let req = ProvisionRequest {
        allocation_id: "alloc-1".into(),
        offer_id: OfferId("fluidstack:1xH100_SXM5_80GB@generic_1_canada".into()),
        gpu_count: 1,
        disk_gib: 100,
        image: "ubuntu".into(),
        ssh_public_key: None,
    };

    let i = adapter.provision(&req).await.unwrap();
    let ours = adapter.list_instances().await.unwrap();

    assert_eq!(i.id, InstanceId("fs-7".into()));
    assert_eq!(i.allocation_id, "alloc-1");
    assert_eq!(i.state, InstanceState::Running);
    assert_eq!(i.connection.unwrap().ssh_host, "192.0.2.7");
    assert_eq!(ours.len(), 1);
    let seen = server.seen.lock().unwrap();
    let body: serde_json::Value = serde_json::from_str(&seen[1].body).unwrap();
    assert_eq!(body["gpu_type"], "H100_SXM5_80GB");
    assert_eq!(body["gpu_count"], 1);
    assert_eq!(body["region"], "generic_1_canada");
    assert_eq!(body["name"], "gpubroker-alloc-1");
    assert_eq!(body["ssh_key"], "gpubroker");
}

#[tokio::test]
async fn out_of_stock_is_no_capacity_and_a_vanished_instance_is_not_found() {
    let server = Scripted::start(Reply::json(200, "[]")).await;
    server.push(Reply::json(200, "[]"));
    server.push(Reply::json(
        400,
        r#"{"detail": "Out of stock for H100_SXM5_80GB"}"#,
    ));
    let adapter = fluidstack(&server.url);
    let req = ProvisionRequest {
        allocation_id: "alloc-2".into(),
        offer_id: OfferId("fluidstack:1xH100_SXM5_80GB@generic_1_canada".into()),
        gpu_count: 1,
        disk_gib: 100,
        image: "ubuntu".into(),
        ssh_public_key: None,
    };

    assert_eq!(
        adapter.provision(&req).await.unwrap_err(),
        ProviderError::NoCapacity
    );
    assert_eq!(
        adapter
            .status(&InstanceId("fs-gone".into()))
            .await
            .unwrap_err(),
        ProviderError::NotFound
    );
}

#[tokio::test]
async fn the_key_goes_out_in_the_api_key_header_and_never_into_the_logs() {
    assert_secret_sent_not_logged(
        |c| FluidStack::new(c, FluidStackSettings::default()).unwrap(),
        Reply::json(
            200,
            fixture("fluidstack/list-available-configurations-constructed.json"),
        ),
        ("api-key", LIVE_SECRET),
    )
    .await;
}

#[tokio::test]
async fn fluidstack_passes_the_shared_conformance_suite() {
    assert_error_mapping(|c| FluidStack::new(c, FluidStackSettings::default()).unwrap()).await;
}
