//! DigitalOcean adapter contract tests: the real `/v2/sizes` sample decoded through the
//! adapter, the droplet lifecycle over a scripted server, and the shared conformance suite.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use providers::digitalocean::{DigitalOcean, DigitalOceanSettings};
use providers::{
    InstanceId, InstanceState, MicroUsd, OfferId, OfferSource, Pricing, Provider, ProviderError,
    ProvisionRequest,
};
use support::{assert_error_mapping, assert_offers_conform, fixture, test_config, Reply, Scripted};

fn digitalocean(url: &str) -> DigitalOcean {
    DigitalOcean::new(test_config(url), DigitalOceanSettings::default()).unwrap()
}

fn request(allocation_id: &str) -> ProvisionRequest {
    ProvisionRequest {
        allocation_id: allocation_id.into(),
        offer_id: OfferId("do:gpu-h100x1-80gb@tor1".into()),
        gpu_count: 1,
        disk_gib: 100,
        image: "ubuntu".into(),
        ssh_public_key: Some("ssh-ed25519 AAAA user@host".into()),
    }
}

#[tokio::test]
async fn the_sizes_sample_yields_the_gpu_sizes_and_leaves_cpu_sizes_out() {
    let server = Scripted::start(Reply::json(200, fixture("digitalocean/sizes.json"))).await;
    let adapter = digitalocean(&server.url);

    let mut offers = adapter.list_offers().await.unwrap();
    offers.sort_by(|a, b| a.id.cmp(&b.id));

    // The Basic CPU size is no GPU offer and no unknown GPU either.
    assert_eq!(adapter.engine().skipped_gpus(), 0);
    assert_eq!(offers.len(), 2);
    let h100 = &offers[0];
    assert_eq!(h100.id.0, "do:gpu-h100x8-640gb@nyc1");
    assert_eq!(h100.gpu_model, "H100-SXM");
    assert_eq!(h100.gpu_count, 8);
    assert_eq!(h100.gpu_memory_gib, 80.0);
    assert_eq!(h100.price_per_hour, MicroUsd(23_920_000));
    assert_eq!(h100.price_per_gpu_hour, MicroUsd(2_990_000));
    assert_eq!(h100.vcpus, Some(160));
    assert_eq!(h100.memory_gib, Some(1920.0));
    assert_eq!(h100.storage_gib, Some(2046));
    assert_eq!(h100.region, "nyc1");
    assert_eq!(h100.country.as_deref(), Some("US"));
    assert_eq!(h100.pricing, Pricing::OnDemand);
    assert_eq!(h100.source, OfferSource::Live);
    let mi300x = &offers[1];
    assert_eq!(mi300x.id.0, "do:gpu-mi300x8-1536gb@nyc1");
    assert_eq!(mi300x.gpu_model, "MI300X");
    assert_eq!(mi300x.gpu_memory_gib, 192.0);
    assert_eq!(mi300x.price_per_hour, MicroUsd(15_920_000));
    assert_offers_conform(&offers);
    let seen = server.seen.lock().unwrap();
    assert_eq!(seen[0].path, "/sizes");
    assert_eq!(seen[0].query.as_deref(), Some("per_page=200"));
    assert_eq!(seen[0].authorization.as_deref(), Some("Bearer test-key"));
}

#[tokio::test]
async fn a_next_page_link_is_followed_on_the_adapters_own_host() {
    let server = Scripted::start(Reply::json(200, r#"{"sizes": [], "links": {}}"#)).await;
    server.push(Reply::json(
        200,
        r#"{"sizes": [], "links": {"pages": {"next": "https://api.digitalocean.com/v2/sizes?page=2&per_page=200"}}}"#,
    ));
    server.push(Reply::json(200, fixture("digitalocean/sizes.json")));
    let adapter = digitalocean(&server.url);

    let offers = adapter.list_offers().await.unwrap();

    assert_eq!(offers.len(), 2);
    let seen = server.seen.lock().unwrap();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[1].query.as_deref(), Some("page=2&per_page=200"));
}

#[tokio::test]
async fn a_droplet_maps_its_allocation_tag_public_ip_and_size() {
    let server = Scripted::start(Reply::json(
        200,
        fixture("digitalocean/droplet-get-constructed.json"),
    ))
    .await;
    let adapter = digitalocean(&server.url);

    let i = adapter.status(&InstanceId("3164494".into())).await.unwrap();

    assert_eq!(i.id, InstanceId("3164494".into()));
    assert_eq!(i.allocation_id, "alloc-1");
    assert_eq!(i.offer_id.0, "do:gpu-h100x1-80gb@tor1");
    assert_eq!(i.state, InstanceState::Running);
    let c = i.connection.unwrap();
    assert_eq!(
        (c.ssh_host.as_str(), c.ssh_user.as_str()),
        ("192.241.165.154", "root")
    );
    assert_eq!(server.seen.lock().unwrap()[0].path, "/droplets/3164494");
}

#[tokio::test]
async fn provisioning_tags_the_droplet_and_sends_the_create_once() {
    let server = Scripted::start(Reply::json(200, r#"{"droplets": [], "links": {}}"#)).await;
    server.push(Reply::json(200, r#"{"droplets": [], "links": {}}"#)); // find_by_allocation
    server.push(Reply::json(
        202,
        r#"{"droplet": {"id": 7, "name": "gpubroker-alloc-2", "status": "new", "networks": {"v4": []},
            "region": {"slug": "tor1"}, "size_slug": "gpu-h100x1-80gb",
            "tags": ["gpubroker", "gpubroker-alloc:alloc-2"]}}"#,
    ));
    let adapter = digitalocean(&server.url);

    let started = adapter.provision(&request("alloc-2")).await.unwrap();

    assert_eq!(started.id, InstanceId("7".into()));
    assert_eq!(started.state, InstanceState::Pending);
    assert_eq!(started.allocation_id, "alloc-2");
    let seen = server.seen.lock().unwrap();
    assert_eq!(seen[0].path, "/droplets");
    assert_eq!(
        seen[0].query.as_deref(),
        Some("tag_name=gpubroker-alloc:alloc-2&per_page=200")
    );
    let create = &seen[1];
    assert_eq!(
        (create.method.as_str(), create.path.as_str()),
        ("POST", "/droplets")
    );
    let body: serde_json::Value = serde_json::from_str(&create.body).unwrap();
    assert_eq!(body["size"], "gpu-h100x1-80gb");
    assert_eq!(body["region"], "tor1");
    assert_eq!(body["image"], "gpu-h100x1-base");
    assert_eq!(body["tags"][1], "gpubroker-alloc:alloc-2");
    assert!(body["user_data"]
        .as_str()
        .unwrap()
        .contains("ssh-ed25519 AAAA user@host"));
}

#[tokio::test]
async fn a_422_on_create_is_no_capacity_and_is_not_retried() {
    let server = Scripted::start(Reply::json(200, r#"{"droplets": []}"#)).await;
    server.push(Reply::json(200, r#"{"droplets": []}"#));
    server.push(Reply::json(
        422,
        r#"{"id": "unprocessable_entity", "message": "Size is not available in this region."}"#,
    ));
    let adapter = digitalocean(&server.url);

    let err = adapter.provision(&request("alloc-3")).await.unwrap_err();

    assert_eq!(err, ProviderError::NoCapacity);
    let seen = server.seen.lock().unwrap();
    assert_eq!(seen.iter().filter(|s| s.method == "POST").count(), 1);
}

#[tokio::test]
async fn an_existing_droplet_for_the_allocation_is_returned_instead_of_a_new_one() {
    let existing = fixture("digitalocean/droplet-get-constructed.json");
    let droplet: serde_json::Value = serde_json::from_str(&existing).unwrap();
    let list = serde_json::json!({"droplets": [droplet["droplet"]], "links": {}});
    let server = Scripted::start(Reply::json(200, list.to_string())).await;
    let adapter = digitalocean(&server.url);

    let i = adapter.provision(&request("alloc-1")).await.unwrap();

    assert_eq!(i.id, InstanceId("3164494".into()));
    assert!(server
        .seen
        .lock()
        .unwrap()
        .iter()
        .all(|s| s.method == "GET"));
}

#[tokio::test]
async fn release_deletes_the_droplet() {
    let server = Scripted::start(Reply::json(204, "")).await;
    let adapter = digitalocean(&server.url);

    adapter.release(&InstanceId("7".into())).await.unwrap();

    let seen = server.seen.lock().unwrap();
    assert_eq!(
        (seen[0].method.as_str(), seen[0].path.as_str()),
        ("DELETE", "/droplets/7")
    );
}

#[tokio::test]
async fn digitalocean_passes_the_shared_conformance_suite() {
    assert_error_mapping(|config| {
        DigitalOcean::new(config, DigitalOceanSettings::default()).unwrap()
    })
    .await;
}
