//! TensorDock adapter contract tests: the recorded v2 samples (locations, hostnodes, instance,
//! error body) decoded through the adapter, the instance lifecycle over a scripted server,
//! and the shared conformance suite.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use providers::tensordock::{TensorDock, TensorDockSettings};
use providers::{
    InstanceId, InstanceState, MicroUsd, OfferId, OfferSource, Pricing, Provider, ProviderError,
    ProvisionRequest,
};
use support::{
    assert_error_mapping, assert_offers_conform, assert_secret_sent_not_logged, fixture,
    test_config, Reply, Scripted, LIVE_SECRET,
};

fn tensordock(url: &str) -> TensorDock {
    TensorDock::new(test_config(url), TensorDockSettings::default()).unwrap()
}

const NO_INSTANCES: &str = r#"{"data": {"instances": []}}"#;

fn request(allocation_id: &str) -> ProvisionRequest {
    ProvisionRequest {
        allocation_id: allocation_id.into(),
        offer_id: OfferId("tensordock:1xgeforcertx4090-pcie-24gb@loc-1".into()),
        gpu_count: 1,
        disk_gib: 100,
        image: "ubuntu".into(),
        ssh_public_key: Some("ssh-ed25519 AAAA user@host".into()),
    }
}

#[tokio::test]
async fn the_locations_and_hostnodes_samples_yield_priced_offers_per_gpu_count() {
    let server = Scripted::start(Reply::json(200, fixture("tensordock/v2-hostnodes.json"))).await;
    server.push(Reply::json(200, fixture("tensordock/v2-locations.json")));
    let adapter = tensordock(&server.url);

    let mut offers = adapter.list_offers().await.unwrap();
    offers.sort_by(|a, b| a.id.cmp(&b.id));

    // RTX 4090 with max_count 2 at loc-1: one offer for 1 GPU, one for 2.
    assert_eq!(offers.len(), 2);
    assert_eq!(adapter.engine().skipped_gpus(), 0);
    let one = &offers[0];
    assert_eq!(one.id.0, "tensordock:1xgeforcertx4090-pcie-24gb@loc-1");
    assert_eq!(one.instance_type, "geforcertx4090-pcie-24gb");
    assert_eq!(one.gpu_model, "RTX4090");
    assert_eq!(one.gpu_count, 1);
    assert_eq!(one.gpu_memory_gib, 24.0);
    // 0.99 GPU + 4 vCPU × 0.01 + 16 GB RAM × 0.002 + 100 GB disk × 0.0001.
    assert_eq!(one.price_per_hour, MicroUsd(1_072_000));
    assert_eq!(
        (one.vcpus, one.memory_gib, one.storage_gib),
        (Some(4), Some(16.0), Some(100))
    );
    assert_eq!(one.region, "Ashburn, VA, USA");
    assert_eq!(one.country.as_deref(), Some("US"));
    assert_eq!(one.pricing, Pricing::OnDemand);
    assert_eq!(one.source, OfferSource::Live);
    // The only hostnode at loc-1 has a V100 free, no RTX 4090.
    assert_eq!(one.available, 0);
    let two = &offers[1];
    assert_eq!(two.gpu_count, 2);
    assert_eq!(two.price_per_hour, MicroUsd(2_134_000));
    assert_eq!(two.price_per_gpu_hour, MicroUsd(1_067_000));
    assert_offers_conform(&offers);
    let seen = server.seen.lock().unwrap();
    assert_eq!(seen[0].path, "/locations");
    assert_eq!(seen[1].path, "/hostnodes");
    assert_eq!(seen[0].authorization.as_deref(), Some("Bearer test-key"));
}

#[tokio::test]
async fn free_gpus_on_the_locations_hostnodes_become_whole_units() {
    // The recorded hostnode, with three RTX 4090s free instead of its V100.
    let hostnodes = fixture("tensordock/v2-hostnodes.json")
        .replace("teslav100-pcie-16gb", "geforcertx4090-pcie-24gb")
        .replace("\"availableCount\": 1", "\"availableCount\": 3");
    let server = Scripted::start(Reply::json(200, hostnodes)).await;
    server.push(Reply::json(200, fixture("tensordock/v2-locations.json")));
    let adapter = tensordock(&server.url);

    let mut offers = adapter.list_offers().await.unwrap();
    offers.sort_by(|a, b| a.id.cmp(&b.id));

    assert_eq!(offers[0].available, 3);
    assert_eq!(offers[1].available, 1);
}

#[tokio::test]
async fn the_recorded_instance_maps_its_port_forward_and_is_not_ours() {
    let server =
        Scripted::start(Reply::json(200, fixture("tensordock/v2-instance-get.json"))).await;
    let adapter = tensordock(&server.url);

    let i = adapter
        .status(&InstanceId("inst_123".into()))
        .await
        .unwrap();

    assert_eq!(i.id, InstanceId("inst_123".into()));
    assert_eq!(i.state, InstanceState::Running);
    // `gpu-worker-1` was not named by the broker: no allocation.
    assert_eq!(i.allocation_id, "");
    let c = i.connection.unwrap();
    assert_eq!((c.ssh_host.as_str(), c.ssh_port), ("203.0.113.10", 22022));
    assert_eq!(server.seen.lock().unwrap()[0].path, "/instances/inst_123");
}

#[tokio::test]
async fn the_recorded_error_body_on_create_is_no_capacity_and_is_sent_once() {
    let server = Scripted::start(Reply::json(200, NO_INSTANCES)).await;
    server.push(Reply::json(200, NO_INSTANCES)); // find_by_allocation
    server.push(Reply::json(200, fixture("tensordock/v2-locations.json")));
    server.push(Reply::json(200, fixture("tensordock/v2-hostnodes.json")));
    // HTTP 200 carrying `{"error": "Hostnode unavailable", "status": 400}`.
    server.push(Reply::json(200, fixture("tensordock/v2-error-body.json")));
    let adapter = tensordock(&server.url);

    let err = adapter.provision(&request("alloc-1")).await.unwrap_err();

    assert_eq!(err, ProviderError::NoCapacity);
    let seen = server.seen.lock().unwrap();
    let creates: Vec<_> = seen.iter().filter(|s| s.method == "POST").collect();
    assert_eq!(creates.len(), 1);
    let body: serde_json::Value = serde_json::from_str(&creates[0].body).unwrap();
    let a = &body["data"]["attributes"];
    assert_eq!(body["data"]["type"], "virtualmachine");
    assert_eq!(a["name"], "gpubroker-alloc-1");
    assert_eq!(a["location_id"], "loc-1");
    assert_eq!(
        a["resources"]["gpus"]["geforcertx4090-pcie-24gb"]["count"],
        1
    );
    assert_eq!(a["resources"]["vcpu_count"], 4);
    assert_eq!(a["resources"]["ram_gb"], 16);
    assert_eq!(a["resources"]["storage_gb"], 100);
    assert_eq!(a["ssh_key"], "ssh-ed25519 AAAA user@host");
}

#[tokio::test]
async fn provisioning_names_the_instance_after_the_allocation_and_release_deletes_it() {
    let server = Scripted::start(Reply::json(200, NO_INSTANCES)).await;
    server.push(Reply::json(200, NO_INSTANCES));
    server.push(Reply::json(200, fixture("tensordock/v2-locations.json")));
    server.push(Reply::json(200, fixture("tensordock/v2-hostnodes.json")));
    server.push(Reply::json(
        200,
        r#"{"data": {"id": "inst_9", "name": "gpubroker-alloc-2", "status": "starting"}}"#,
    ));
    let running = fixture("tensordock/v2-instance-get.json")
        .replace("gpu-worker-1", "gpubroker-alloc-2")
        .replace("inst_123", "inst_9");
    server.push(Reply::json(200, running.replace("running", "starting")));
    let adapter = tensordock(&server.url);

    let started = adapter.provision(&request("alloc-2")).await.unwrap();

    assert_eq!(started.id, InstanceId("inst_9".into()));
    assert_eq!(started.allocation_id, "alloc-2");
    assert_eq!(started.state, InstanceState::Pending);
    // The list shows ours and skips an instance the broker did not make.
    server.push(Reply::json(
        200,
        format!(
            r#"{{"data": {{"instances": [{}, {}]}}}}"#,
            serde_json::from_str::<serde_json::Value>(&running).unwrap()["data"],
            serde_json::from_str::<serde_json::Value>(&fixture("tensordock/v2-instance-get.json"))
                .unwrap()["data"]
        ),
    ));
    let listed = adapter.list_instances().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].allocation_id, "alloc-2");
    server.push(Reply::json(200, r#"{"status": "success"}"#));
    adapter.release(&started.id).await.unwrap();
    let seen = server.seen.lock().unwrap();
    let last = seen.last().unwrap();
    assert_eq!(
        (last.method.as_str(), last.path.as_str()),
        ("DELETE", "/instances/inst_9")
    );
}

#[tokio::test]
async fn the_token_goes_out_as_bearer_and_never_into_the_logs() {
    assert_secret_sent_not_logged(
        |c| TensorDock::new(c, TensorDockSettings::default()).unwrap(),
        Reply::json(200, fixture("tensordock/v2-locations.json")),
        ("authorization", &format!("Bearer {LIVE_SECRET}")),
    )
    .await;
}

#[tokio::test]
async fn tensordock_passes_the_shared_conformance_suite() {
    assert_error_mapping(|c| TensorDock::new(c, TensorDockSettings::default()).unwrap()).await;
}
