//! Linode (Akamai Cloud) adapter contract tests: the recorded `/linode/types` cassette and
//! the SDK fixtures of `/regions/availability` and `/linode/instances/{id}` decoded through
//! the adapter, the instance lifecycle over a scripted server, and the conformance suite.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use providers::linode::{LinodeCloud, LinodeSettings};
use providers::{
    InstanceId, InstanceState, MicroUsd, OfferId, Pricing, Provider, ProviderError,
    ProvisionRequest,
};
use support::{
    assert_error_mapping, assert_offers_conform, assert_secret_sent_not_logged, fixture,
    test_config, Reply, Scripted, LIVE_SECRET,
};

fn linode(url: &str) -> LinodeCloud {
    LinodeCloud::new(test_config(url), LinodeSettings::default()).unwrap()
}

const NO_INSTANCES: &str = r#"{"data": [], "page": 1, "pages": 1, "results": 0}"#;

/// The recorded availability shape, naming the GPU plans (constructed by us: the recorded
/// SDK fixture names only `Linode 2GB`).
const GPU_AVAILABILITY: &str = r#"{"data": [
    {"region": "us-east", "plan": "g1-gpu-rtx6000-1", "available": true},
    {"region": "us-east", "plan": "Dedicated 128GB + RTX6000 GPU x4", "available": false}
], "page": 1, "pages": 1, "results": 2}"#;

#[tokio::test]
async fn the_recorded_samples_decode_and_only_available_gpu_plans_become_offers() {
    let server = Scripted::start(Reply::json(
        200,
        fixture("linode/regions-availability.json"),
    ))
    .await;
    server.push(Reply::json(200, fixture("linode/linode-types.json")));
    let adapter = linode(&server.url);

    let offers = adapter.list_offers().await.unwrap();

    // The recorded availability lists a standard plan only: no GPU offer, nothing unknown.
    assert!(offers.is_empty());
    assert_eq!(adapter.engine().skipped_gpus(), 0);
    let seen = server.seen.lock().unwrap();
    assert_eq!(seen[0].path, "/linode/types");
    assert_eq!(seen[0].query.as_deref(), Some("page=1&page_size=500"));
    assert_eq!(seen[1].path, "/regions/availability");
    assert_eq!(seen[0].authorization.as_deref(), Some("Bearer test-key"));
}

#[tokio::test]
async fn the_gpu_types_become_quadro_rtx6000_offers_where_available() {
    let server = Scripted::start(Reply::json(200, GPU_AVAILABILITY)).await;
    server.push(Reply::json(200, fixture("linode/linode-types.json")));
    let adapter = linode(&server.url);

    let offers = adapter.list_offers().await.unwrap();

    assert_eq!(offers.len(), 1);
    let o = &offers[0];
    assert_eq!(o.id.0, "linode:g1-gpu-rtx6000-1@us-east");
    assert_eq!(o.gpu_model, "QuadroRTX6000");
    assert_eq!(o.gpu_count, 1);
    assert_eq!(o.gpu_memory_gib, 24.0);
    assert_eq!(o.price_per_hour, MicroUsd(1_500_000));
    assert_eq!(
        (o.vcpus, o.memory_gib, o.storage_gib),
        (Some(8), Some(32.0), Some(640))
    );
    assert_eq!(o.country.as_deref(), Some("US"));
    assert_eq!(o.pricing, Pricing::OnDemand);
    assert_offers_conform(&offers);
}

#[tokio::test]
async fn the_recorded_instance_decodes_and_is_not_ours() {
    let server = Scripted::start(Reply::json(200, fixture("linode/instance-get.json"))).await;
    let adapter = linode(&server.url);

    let i = adapter.status(&InstanceId("123".into())).await.unwrap();

    assert_eq!(i.state, InstanceState::Running);
    assert_eq!(i.allocation_id, "");
    assert_eq!(i.offer_id.0, "linode:g6-standard-1@us-east");
    let c = i.connection.unwrap();
    assert_eq!(
        (c.ssh_host.as_str(), c.ssh_user.as_str()),
        ("203.0.113.1", "root")
    );
    assert_eq!(server.seen.lock().unwrap()[0].path, "/linode/instances/123");
}

#[tokio::test]
async fn provisioning_labels_the_instance_and_release_deletes_it() {
    let server = Scripted::start(Reply::json(200, NO_INSTANCES)).await;
    let created = fixture("linode/instance-get.json")
        .replace("linode123", "gpubroker-alloc-2")
        .replace("\"running\"", "\"provisioning\"");
    server.push(Reply::json(200, NO_INSTANCES));
    server.push(Reply::json(200, created));
    let adapter = linode(&server.url);
    let req = ProvisionRequest {
        allocation_id: "alloc-2".into(),
        offer_id: OfferId("linode:g1-gpu-rtx6000-1@us-east".into()),
        gpu_count: 1,
        disk_gib: 100,
        image: "ubuntu".into(),
        ssh_public_key: Some("ssh-ed25519 AAAA user@host".into()),
    };

    let started = adapter.provision(&req).await.unwrap();
    server.push(Reply::json(200, "{}"));
    adapter.release(&started.id).await.unwrap();

    assert_eq!(started.allocation_id, "alloc-2");
    assert_eq!(started.state, InstanceState::Pending);
    let seen = server.seen.lock().unwrap();
    let body: serde_json::Value = serde_json::from_str(&seen[1].body).unwrap();
    assert_eq!(body["type"], "g1-gpu-rtx6000-1");
    assert_eq!(body["region"], "us-east");
    assert_eq!(body["label"], "gpubroker-alloc-2");
    assert_eq!(body["tags"][0], "gpubroker");
    assert_eq!(body["authorized_keys"][0], "ssh-ed25519 AAAA user@host");
    assert_eq!(body["root_pass"].as_str().unwrap().len(), 40);
    assert_eq!(
        (seen[2].method.as_str(), seen[2].path.as_str()),
        ("DELETE", "/linode/instances/123")
    );
}

#[tokio::test]
async fn a_capacity_reason_is_no_capacity_and_the_create_is_sent_once() {
    let server = Scripted::start(Reply::json(200, NO_INSTANCES)).await;
    server.push(Reply::json(200, NO_INSTANCES));
    server.push(Reply::json(
        400,
        r#"{"errors": [{"reason": "Not enough capacity in region us-east for this plan"}]}"#,
    ));
    let adapter = linode(&server.url);
    let req = ProvisionRequest {
        allocation_id: "alloc-3".into(),
        offer_id: OfferId("linode:g1-gpu-rtx6000-1@us-east".into()),
        gpu_count: 1,
        disk_gib: 100,
        image: "ubuntu".into(),
        ssh_public_key: None,
    };

    let err = adapter.provision(&req).await.unwrap_err();

    assert_eq!(err, ProviderError::NoCapacity);
    let seen = server.seen.lock().unwrap();
    assert_eq!(seen.iter().filter(|s| s.method == "POST").count(), 1);
}

#[tokio::test]
async fn the_token_goes_out_as_bearer_and_never_into_the_logs() {
    assert_secret_sent_not_logged(
        |c| LinodeCloud::new(c, LinodeSettings::default()).unwrap(),
        Reply::json(200, fixture("linode/linode-types.json")),
        ("authorization", &format!("Bearer {LIVE_SECRET}")),
    )
    .await;
}

#[tokio::test]
async fn linode_passes_the_shared_conformance_suite() {
    assert_error_mapping(|c| LinodeCloud::new(c, LinodeSettings::default()).unwrap()).await;
}
