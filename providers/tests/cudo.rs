//! CUDO Compute adapter contract tests: the machine-types fixture decoded through the
//! adapter, and the shared conformance suite.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use providers::cudo::{Cudo, CudoSettings};
use providers::{
    InstanceId, InstanceState, MicroUsd, OfferId, OfferSource, Pricing, Provider, ProviderError,
    ProvisionRequest,
};
use support::{assert_error_mapping, assert_offers_conform, fixture, test_config, Reply, Scripted};

fn cudo(url: &str) -> Cudo {
    Cudo::new(test_config(url), CudoSettings::default()).unwrap()
}

#[tokio::test]
async fn the_machine_types_fixture_gives_composed_offers_per_free_gpu_count() {
    let server = Scripted::start(Reply::json(200, fixture("cudo/vms-machine-types.json"))).await;
    let adapter = cudo(&server.url);

    let offers = adapter.list_offers().await.unwrap();

    // maxGpuFree 5 and 4: counts 1, 2 and 4 of each type.
    let ids: Vec<&str> = offers.iter().map(|o| o.id.0.as_str()).collect();
    assert_eq!(
        ids,
        [
            "cudo:cascade-lake@br-saopaulo-1/1",
            "cudo:cascade-lake@br-saopaulo-1/2",
            "cudo:cascade-lake@br-saopaulo-1/4",
            "cudo:epyc-rome-rtx-a5000@no-luster-1/1",
            "cudo:epyc-rome-rtx-a5000@no-luster-1/2",
            "cudo:epyc-rome-rtx-a5000@no-luster-1/4",
        ]
    );
    let a5000 = &offers[3];
    assert_eq!(a5000.gpu_model, "RTXA5000");
    assert_eq!(a5000.gpu_count, 1);
    assert_eq!((a5000.vcpus, a5000.memory_gib), (Some(4), Some(8.0)));
    // 0.52 GPU + 4 × 0.0021 vCPU + 8 × 0.0034 GiB + 0.0035 IPv4.
    assert_eq!(a5000.price_per_hour, MicroUsd(559_100));
    assert_eq!(a5000.available, 4);
    assert_eq!(a5000.region, "no-luster-1");
    assert_eq!(a5000.country.as_deref(), Some("NO"));
    assert_eq!(a5000.pricing, Pricing::OnDemand);
    assert_eq!(a5000.source, OfferSource::Live);
    let rtx3080 = &offers[0];
    assert_eq!(rtx3080.gpu_model, "RTX3080");
    assert_eq!(rtx3080.price_per_hour, MicroUsd(95_900));
    assert_eq!(rtx3080.country.as_deref(), Some("BR"));
    assert_eq!(offers[2].available, 1); // 5 free GPUs / 4
    assert_eq!(adapter.engine().skipped_gpus(), 0);
    assert_offers_conform(&offers);
    let seen = server.seen.lock().unwrap();
    assert_eq!(seen[0].path, "/vms/machine-types");
    assert_eq!(seen[0].authorization.as_deref(), Some("Bearer test-key"));
}

#[tokio::test]
async fn a_vm_is_its_allocation_and_active_is_running() {
    let server = Scripted::start(Reply::json(200, fixture("cudo/vm-get-constructed.json"))).await;
    let adapter = cudo(&server.url);

    let i = adapter.status(&InstanceId("alloc-7".into())).await.unwrap();

    assert_eq!(i.allocation_id, "alloc-7");
    assert_eq!(
        i.offer_id,
        OfferId("cudo:epyc-rome-rtx-a5000@no-luster-1/1".into())
    );
    assert_eq!(i.state, InstanceState::Running);
    assert_eq!(i.connection.unwrap().ssh_host, "192.0.2.10");
    assert_eq!(
        server.seen.lock().unwrap()[0].path,
        "/projects/gpubroker/vms/alloc-7"
    );
}

#[tokio::test]
async fn create_sends_the_composed_shape_once_and_resource_exhausted_means_no_capacity() {
    let server = Scripted::start(Reply::json(500, "")).await;
    server.push(Reply::json(200, r#"{"VMs": []}"#)); // find_by_allocation
    server.push(Reply::json(200, fixture("cudo/vms-machine-types.json")));
    server.push(Reply::json(
        429,
        r#"{"code":8,"message":"insufficient capacity","details":[]}"#,
    ));
    let adapter = cudo(&server.url);

    let err = adapter
        .provision(&ProvisionRequest {
            allocation_id: "alloc-1".into(),
            offer_id: OfferId("cudo:epyc-rome-rtx-a5000@no-luster-1/2".into()),
            gpu_count: 2,
            disk_gib: 100,
            image: "ubuntu".into(),
            ssh_public_key: Some("ssh-ed25519 AAAA test".into()),
        })
        .await
        .unwrap_err();

    assert_eq!(err, ProviderError::NoCapacity);
    let seen = server.seen.lock().unwrap();
    let creates: Vec<_> = seen
        .iter()
        .filter(|s| s.path == "/projects/gpubroker/vm")
        .collect();
    assert_eq!(creates.len(), 1, "create is sent once");
    let body: serde_json::Value = serde_json::from_str(&creates[0].body).unwrap();
    assert_eq!(body["vmId"], "alloc-1");
    assert_eq!(body["dataCenterId"], "no-luster-1");
    assert_eq!(body["machineType"], "epyc-rome-rtx-a5000");
    assert_eq!(
        (body["gpus"].as_u64(), body["vcpus"].as_u64()),
        (Some(2), Some(8))
    );
    assert_eq!(body["memoryGib"], 16);
    assert_eq!(body["bootDisk"]["sizeGib"], 100);
    assert_eq!(body["customSshKeys"][0], "ssh-ed25519 AAAA test");
}

#[tokio::test]
async fn cudo_passes_the_shared_conformance_suite() {
    assert_error_mapping(|config| Cudo::new(config, CudoSettings::default()).unwrap()).await;
}
