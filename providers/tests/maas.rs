//! MAAS adapter contract tests: the machine samples through the adapter (OAuth 1.0a
//! PLAINTEXT, form-encoded ops), and the shared conformance suite.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use providers::http::{EngineConfig, Secret};
use providers::maas::{Maas, MaasOfferRule, MaasSettings};
use providers::{
    InstanceId, InstanceState, MicroUsd, OfferId, Provider, ProviderError, ProvisionRequest,
};
use support::{assert_error_mapping, assert_offers_conform, fixture, test_config, Reply, Scripted};

fn settings(gpu: &str) -> MaasSettings {
    MaasSettings {
        rules: vec![MaasOfferRule {
            tag: "virtual".into(),
            gpu_model: gpu.into(),
            gpu_count: 1,
            gpu_memory_gib: None,
            price_per_hour: MicroUsd(500_000),
        }],
        distro_series: "jammy".into(),
    }
}

fn config(url: &str) -> EngineConfig {
    let mut c = test_config(url);
    c.credentials = Some(Secret::new("ck:tk:ts"));
    c
}

fn maas(url: &str) -> Maas {
    Maas::new(config(url), settings("RTX 4090")).unwrap()
}

fn request() -> ProvisionRequest {
    ProvisionRequest {
        allocation_id: "alloc-3".into(),
        offer_id: OfferId("maas:virtual@default".into()),
        gpu_count: 1,
        disk_gib: 100,
        image: "jammy".into(),
        ssh_public_key: None,
    }
}

#[tokio::test]
async fn tagged_ready_machines_become_an_offer_per_zone_at_the_operator_price() {
    let server = Scripted::start(Reply::json(200, fixture("maas/machines-list.json"))).await;
    let adapter = maas(&server.url);

    let offers = adapter.list_offers().await.unwrap();

    assert_eq!(offers.len(), 1);
    let o = &offers[0];
    assert_eq!(o.id, OfferId("maas:virtual@default".into()));
    assert_eq!(o.gpu_model, "RTX4090");
    assert_eq!((o.gpu_count, o.gpu_memory_gib), (1, 24.0));
    assert_eq!(o.available, 2, "both machines are Ready (status 4)");
    assert_eq!(o.price_per_hour, MicroUsd(500_000));
    assert_eq!(o.region, "default");
    assert_eq!(o.vcpus, Some(1));
    assert_eq!(o.memory_gib, Some(1.0)); // 1024 MiB
    assert_eq!(o.storage_gib, Some(8)); // 8589.93 MB
    assert_offers_conform(&offers);
    let seen = server.seen.lock().unwrap();
    assert_eq!(seen[0].path, "/machines/");
    let auth = seen[0].authorization.as_deref().unwrap();
    assert!(auth.starts_with("OAuth "), "{auth}");
    assert!(auth.contains("oauth_signature_method=\"PLAINTEXT\""));
    assert!(auth.contains("oauth_signature=\"%26ts\""));
}

#[tokio::test]
async fn a_rule_naming_an_unknown_gpu_is_skipped_and_counted() {
    let server = Scripted::start(Reply::json(200, fixture("maas/machines-list.json"))).await;
    let adapter = Maas::new(config(&server.url), settings("Imaginary RTX 9999")).unwrap();

    assert!(adapter.list_offers().await.unwrap().is_empty());
    assert_eq!(adapter.engine().skipped_gpus(), 1);
}

#[tokio::test]
async fn machine_states_map_to_instance_states() {
    let server = Scripted::start(Reply::json(200, "{}")).await;
    server.push(Reply::json(
        200,
        fixture("maas/machine-deployed-with-constraints.json"),
    ));
    server.push(Reply::json(200, fixture("maas/machine-get.json")));
    let adapter = maas(&server.url);

    let deployed = adapter.status(&InstanceId("4y3ha3".into())).await.unwrap();
    let broken = adapter.status(&InstanceId("g8xyqs".into())).await.unwrap();

    assert_eq!(deployed.state, InstanceState::Running);
    let c = deployed.connection.unwrap();
    assert_eq!((c.ssh_host.as_str(), c.ssh_port), ("192.168.100.4", 22));
    assert_eq!(broken.state, InstanceState::Failed); // 20: failed to exit rescue mode
    assert_eq!(server.seen.lock().unwrap()[0].path, "/machines/4y3ha3/");
}

#[tokio::test]
async fn allocate_conflict_means_no_capacity() {
    let server = Scripted::start(Reply::json(200, "[]")).await;
    server.push(Reply::json(200, "[]")); // find_by_allocation
    server.push(Reply::json(409, "No available machine matches constraints"));
    let adapter = maas(&server.url);

    let err = adapter.provision(&request()).await.unwrap_err();

    assert_eq!(err, ProviderError::NoCapacity);
    let seen = server.seen.lock().unwrap();
    assert_eq!(seen[1].method, "POST");
    assert_eq!(seen[1].path, "/machines/");
    assert_eq!(seen[1].query.as_deref(), Some("op=allocate"));
    assert!(seen[1].body.contains("tags=virtual"), "{}", seen[1].body);
    assert!(seen[1].body.contains("zone=default"));
    assert!(seen[1].body.contains("agent_name=alloc-3"));
}

#[tokio::test]
async fn provisioning_allocates_tags_the_owner_data_and_deploys() {
    let deployed = fixture("maas/machine-deployed-with-constraints.json");
    let server = Scripted::start(Reply::json(200, "{}")).await;
    server.push(Reply::json(200, "[]")); // find_by_allocation
    server.push(Reply::json(200, deployed.clone())); // allocate
    server.push(Reply::json(200, deployed.clone())); // set_owner_data
    server.push(Reply::json(200, deployed)); // deploy
    let adapter = maas(&server.url);

    let i = adapter.provision(&request()).await.unwrap();

    assert_eq!(i.id, InstanceId("4y3ha3".into()));
    let seen = server.seen.lock().unwrap();
    let paths: Vec<&str> = seen.iter().map(|s| s.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/machines/",
            "/machines/",
            "/machines/4y3ha3/",
            "/machines/4y3ha3/"
        ]
    );
    assert!(
        seen[2].body.contains("gpubroker_allocation=alloc-3"),
        "{}",
        seen[2].body
    );
    assert!(seen[3].body.contains("distro_series=jammy"));
}

#[tokio::test]
async fn maas_passes_the_shared_conformance_suite() {
    assert_error_mapping(|mut config| {
        config.credentials = Some(Secret::new("ck:tk:ts"));
        Maas::new(config, settings("RTX 4090")).unwrap()
    })
    .await;
}
