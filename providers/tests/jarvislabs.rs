//! Jarvislabs adapter contract tests: the recorded `server_meta` decoded through the
//! adapter, provisioning at the region's own host, and the shared conformance suite.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use providers::jarvislabs::{Jarvislabs, JarvislabsSettings};
use providers::{
    InstanceId, InstanceState, MicroUsd, OfferId, OfferSource, Pricing, Provider, ProviderError,
    ProvisionRequest,
};
use support::{assert_error_mapping, assert_offers_conform, fixture, test_config, Reply, Scripted};

fn jarvislabs(url: &str) -> Jarvislabs {
    Jarvislabs::new(test_config(url), JarvislabsSettings::default()).unwrap()
}

/// Settings whose every provisioning host is `url`.
fn hosted_at(url: &str) -> JarvislabsSettings {
    let mut s = JarvislabsSettings::default();
    s.region_hosts
        .values_mut()
        .for_each(|h| *h = url.to_string());
    s
}

#[tokio::test]
async fn the_recorded_server_meta_gives_vm_offers_per_count_the_free_devices_cover() {
    let server = Scripted::start(Reply::json(200, fixture("jarvislabs/server_meta.json"))).await;
    let adapter = jarvislabs(&server.url);

    let offers = adapter.list_offers().await.unwrap();

    // Container rows are no VMs; `unknown-region` has no provisioning host.
    let ids: Vec<&str> = offers.iter().map(|o| o.id.0.as_str()).collect();
    assert_eq!(
        ids,
        [
            "jarvislabs:1xL4@india-noida-01",
            "jarvislabs:2xL4@india-noida-01",
            "jarvislabs:1xL4@india-noida-01:spot",
            "jarvislabs:2xL4@india-noida-01:spot",
            "jarvislabs:1xA100-80GB@india-noida-01",
            "jarvislabs:1xA100-80GB@india-noida-01:spot",
            "jarvislabs:1xRTX-PRO6000@india-chennai-01",
            "jarvislabs:2xRTX-PRO6000@india-chennai-01",
            "jarvislabs:1xRTX-PRO6000@india-chennai-01:spot",
            "jarvislabs:1xRTX PRO 6000@india-noida-01",
            "jarvislabs:1xH100@europe-01",
        ]
    );
    let l4x2 = &offers[1];
    assert_eq!(l4x2.gpu_model, "L4");
    assert_eq!(l4x2.gpu_count, 2);
    assert_eq!(l4x2.gpu_memory_gib, 24.0);
    assert_eq!(l4x2.price_per_hour, MicroUsd(880_000)); // 0.44 per GPU-hour × 2
    assert_eq!(l4x2.price_per_gpu_hour, MicroUsd(440_000));
    assert_eq!(l4x2.vcpus, Some(56));
    assert_eq!(l4x2.memory_gib, Some(248.0));
    assert_eq!(l4x2.available, 1); // 3 free devices
    assert_eq!(l4x2.pricing, Pricing::OnDemand);
    assert_eq!(l4x2.source, OfferSource::Live);
    assert_eq!(offers[2].price_per_hour, MicroUsd(290_000));
    assert_eq!(offers[2].pricing, Pricing::Spot);
    assert_eq!(offers[4].gpu_model, "A100-80GB-SXM");
    assert_eq!(offers[6].gpu_model, "RTXPRO6000");
    assert_eq!(offers[9].gpu_model, "RTXPRO6000");
    // No `num_gpus`: one GPU per instance, never more.
    assert_eq!(offers[10].gpu_model, "H100-SXM");
    assert_eq!(offers[10].available, 25);
    assert_eq!(adapter.engine().skipped_gpus(), 0);
    assert_offers_conform(&offers);
    let seen = server.seen.lock().unwrap();
    assert_eq!(seen[0].path, "/misc/server_meta");
    assert_eq!(seen[0].authorization.as_deref(), Some("Bearer test-key"));
}

#[tokio::test]
async fn an_instance_maps_name_to_allocation_and_its_ssh_command_to_a_connection() {
    let server = Scripted::start(Reply::json(
        200,
        fixture("jarvislabs/users-fetch-instance-constructed.json"),
    ))
    .await;
    let adapter = jarvislabs(&server.url);

    let i = adapter.status(&InstanceId("460920".into())).await.unwrap();

    assert_eq!(i.id, InstanceId("460920".into()));
    assert_eq!(i.allocation_id, "alloc-7");
    assert_eq!(i.offer_id, OfferId("jarvislabs:2xL4@india-noida-01".into()));
    assert_eq!(i.state, InstanceState::Running);
    let c = i.connection.unwrap();
    assert_eq!(
        (c.ssh_host.as_str(), c.ssh_port, c.ssh_user.as_str()),
        ("sshn.jarvislabs.net", 11114, "ubuntu")
    );
    assert_eq!(server.seen.lock().unwrap()[0].path, "/users/fetch/460920");
}

#[tokio::test]
async fn create_goes_to_the_region_host_once_and_a_409_means_no_capacity() {
    let catalogue = Scripted::start(Reply::json(200, r#"{"success":true,"instances":[]}"#)).await;
    let region = Scripted::start(Reply::json(
        409,
        r#"{"success":false,"message":"No capacity available"}"#,
    ))
    .await;
    let adapter = Jarvislabs::new(test_config(&catalogue.url), hosted_at(&region.url)).unwrap();

    let err = adapter
        .provision(&ProvisionRequest {
            allocation_id: "alloc-1".into(),
            offer_id: OfferId("jarvislabs:2xL4@india-noida-01".into()),
            gpu_count: 2,
            disk_gib: 100,
            image: "ubuntu".into(),
            ssh_public_key: None,
        })
        .await
        .unwrap_err();

    assert_eq!(err, ProviderError::NoCapacity);
    let seen = region.seen.lock().unwrap();
    assert_eq!(seen.len(), 1, "create is sent once, to the region's host");
    assert_eq!(seen[0].path, "/templates/vm/create");
    let body: serde_json::Value = serde_json::from_str(&seen[0].body).unwrap();
    assert_eq!(body["name"], "alloc-1");
    assert_eq!(body["gpu_type"], "L4");
    assert_eq!(body["num_gpus"], 2);
    assert_eq!(body["region"], "india-noida-01");
    assert_eq!(body["is_spot"], false);
    assert_eq!(body["hdd"], 100);
    assert_eq!(catalogue.seen.lock().unwrap()[0].path, "/users/fetch");
}

#[tokio::test]
async fn a_region_without_a_known_host_cannot_be_provisioned() {
    let server = Scripted::start(Reply::json(200, r#"{"success":true,"instances":[]}"#)).await;
    let adapter = jarvislabs(&server.url);

    let err = adapter
        .provision(&ProvisionRequest {
            allocation_id: "alloc-2".into(),
            offer_id: OfferId("jarvislabs:1xH100@unknown-region".into()),
            gpu_count: 1,
            disk_gib: 100,
            image: "ubuntu".into(),
            ssh_public_key: None,
        })
        .await
        .unwrap_err();

    assert_eq!(err, ProviderError::NotFound);
    assert!(server
        .seen
        .lock()
        .unwrap()
        .iter()
        .all(|s| s.path != "/templates/vm/create"));
}

#[tokio::test]
async fn release_destroys_at_the_instance_region_host() {
    let catalogue = Scripted::start(Reply::json(
        200,
        fixture("jarvislabs/users-fetch-instance-constructed.json"),
    ))
    .await;
    let region = Scripted::start(Reply::json(200, r#"{"success":true}"#)).await;
    let adapter = Jarvislabs::new(test_config(&catalogue.url), hosted_at(&region.url)).unwrap();

    adapter.release(&InstanceId("460920".into())).await.unwrap();

    let seen = region.seen.lock().unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, "POST");
    assert_eq!(seen[0].path, "/templates/vm/destroy");
    assert_eq!(seen[0].query.as_deref(), Some("machine_id=460920"));
}

#[tokio::test]
async fn jarvislabs_passes_the_shared_conformance_suite() {
    assert_error_mapping(|config| Jarvislabs::new(config, JarvislabsSettings::default()).unwrap())
        .await;
}
