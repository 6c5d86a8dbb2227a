//! Vultr adapter contract tests: the recorded `/plans` (Cloud GPU) and `/plans-metal` samples
//! decoded through the adapter, the server lifecycle over a scripted server, and the shared
//! conformance suite.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use providers::vultr::{Vultr, VultrSettings};
use providers::{
    InstanceId, InstanceState, MicroUsd, OfferId, OfferSource, Pricing, Provider, ProviderError,
    ProvisionRequest,
};
use support::{
    assert_error_mapping, assert_offers_conform, assert_secret_sent_not_logged, fixture,
    test_config, Reply, Scripted, LIVE_SECRET,
};

fn vultr(url: &str) -> Vultr {
    Vultr::new(test_config(url), VultrSettings::default()).unwrap()
}

const NO_INSTANCES: &str =
    r#"{"instances": [], "meta": {"total": 0, "links": {"next": "", "prev": ""}}}"#;
const NO_METAL: &str =
    r#"{"bare_metals": [], "meta": {"total": 0, "links": {"next": "", "prev": ""}}}"#;

fn request(allocation_id: &str, offer: &str) -> ProvisionRequest {
    ProvisionRequest {
        allocation_id: allocation_id.into(),
        offer_id: OfferId(offer.into()),
        gpu_count: 1,
        disk_gib: 100,
        image: "ubuntu".into(),
        ssh_public_key: Some("ssh-ed25519 AAAA user@host".into()),
    }
}

#[tokio::test]
async fn the_plan_samples_yield_whole_gpu_offers_and_leave_fractions_out() {
    let server = Scripted::start(Reply::json(200, fixture("vultr/plans-metal.json"))).await;
    server.push(Reply::json(200, fixture("vultr/plans.json")));
    let adapter = vultr(&server.url);

    let mut offers = adapter.list_offers().await.unwrap();
    offers.sort_by(|a, b| a.id.cmp(&b.id));

    // The 4 GB and 40 GB A100 plans are fractions of the 80 GB card: known GPUs, no offers.
    assert_eq!(adapter.engine().skipped_gpus(), 0);
    assert_eq!(offers.len(), 3);
    let h100 = &offers[0];
    assert_eq!(h100.id.0, "vultr:vbm-112c-2048gb-8-h100-gpu@sea");
    assert_eq!(h100.gpu_model, "H100-SXM");
    assert_eq!(h100.gpu_count, 8);
    assert_eq!(h100.gpu_memory_gib, 80.0);
    assert_eq!(h100.price_per_hour, MicroUsd(23_920_000));
    assert_eq!(h100.price_per_gpu_hour, MicroUsd(2_990_000));
    assert_eq!(h100.vcpus, Some(224));
    assert_eq!(h100.memory_gib, Some(2048.0));
    assert_eq!(h100.storage_gib, Some(1920));
    assert_eq!(h100.country.as_deref(), Some("US"));
    let mi300x = &offers[1];
    assert_eq!(mi300x.id.0, "vultr:vbm-256c-2048gb-8-mi300x-gpu@ord");
    assert_eq!(mi300x.gpu_model, "MI300X");
    assert_eq!(mi300x.gpu_memory_gib, 192.0);
    assert_eq!(mi300x.price_per_hour, MicroUsd(17_520_000));
    let a100 = &offers[2];
    assert_eq!(a100.id.0, "vultr:vcg-a100-12c-120g-80vram@ewr");
    assert_eq!(a100.gpu_model, "A100-80GB-SXM");
    assert_eq!(a100.gpu_count, 1);
    assert_eq!(a100.gpu_memory_gib, 80.0);
    assert_eq!(a100.price_per_hour, MicroUsd(2_397_000));
    assert_eq!(a100.vcpus, Some(12));
    assert_eq!(a100.memory_gib, Some(120.0));
    assert_eq!(a100.region, "ewr");
    assert_eq!(a100.country.as_deref(), Some("US"));
    assert_eq!(a100.pricing, Pricing::OnDemand);
    assert_eq!(a100.source, OfferSource::Live);
    assert_offers_conform(&offers);
    let seen = server.seen.lock().unwrap();
    assert_eq!(seen[0].path, "/plans");
    assert_eq!(seen[0].query.as_deref(), Some("type=vcg&per_page=500"));
    assert_eq!(seen[1].path, "/plans-metal");
    assert_eq!(seen[0].authorization.as_deref(), Some("Bearer test-key"));
}

#[tokio::test]
async fn a_next_cursor_is_followed() {
    let server = Scripted::start(Reply::json(200, fixture("vultr/plans-metal.json"))).await;
    server.push(Reply::json(
        200,
        r#"{"plans": [], "meta": {"total": 3, "links": {"next": "bmV4dA==", "prev": ""}}}"#,
    ));
    server.push(Reply::json(200, fixture("vultr/plans.json")));
    let adapter = vultr(&server.url);

    let offers = adapter.list_offers().await.unwrap();

    assert_eq!(offers.len(), 3);
    let seen = server.seen.lock().unwrap();
    assert_eq!(
        seen[1].query.as_deref(),
        Some("type=vcg&per_page=500&cursor=bmV4dA==")
    );
}

#[tokio::test]
async fn an_active_instance_maps_its_allocation_tag_ip_and_plan() {
    let server = Scripted::start(Reply::json(
        200,
        fixture("vultr/instance-get-constructed.json"),
    ))
    .await;
    let adapter = vultr(&server.url);

    let i = adapter
        .status(&InstanceId("cb676a46-66fd-4dfb-b839-443f2e6c0b60".into()))
        .await
        .unwrap();

    assert_eq!(i.allocation_id, "alloc-1");
    assert_eq!(i.offer_id.0, "vultr:vcg-a100-12c-120g-80vram@ewr");
    assert_eq!(i.state, InstanceState::Running);
    let c = i.connection.unwrap();
    assert_eq!(
        (c.ssh_host.as_str(), c.ssh_user.as_str()),
        ("192.0.2.123", "root")
    );
    assert_eq!(
        server.seen.lock().unwrap()[0].path,
        "/instances/cb676a46-66fd-4dfb-b839-443f2e6c0b60"
    );
}

#[tokio::test]
async fn provisioning_a_cloud_gpu_tags_it_and_sends_the_create_once() {
    let server = Scripted::start(Reply::json(200, NO_METAL)).await;
    server.push(Reply::json(200, NO_INSTANCES)); // find_by_allocation: cloud
    let created = fixture("vultr/instance-get-constructed.json")
        .replace("alloc-1", "alloc-2")
        .replace("\"active\"", "\"pending\"");
    server.push(Reply::json(200, NO_METAL)); // find_by_allocation: metal
    server.push(Reply::json(202, created));
    let adapter = vultr(&server.url);

    let started = adapter
        .provision(&request("alloc-2", "vultr:vcg-a100-12c-120g-80vram@ewr"))
        .await
        .unwrap();

    assert_eq!(started.state, InstanceState::Pending);
    assert_eq!(started.allocation_id, "alloc-2");
    let seen = server.seen.lock().unwrap();
    assert_eq!(
        seen[0].query.as_deref(),
        Some("tag=gpubroker-alloc:alloc-2&per_page=500")
    );
    assert_eq!(seen[1].path, "/bare-metals");
    let create = &seen[2];
    assert_eq!(
        (create.method.as_str(), create.path.as_str()),
        ("POST", "/instances")
    );
    let body: serde_json::Value = serde_json::from_str(&create.body).unwrap();
    assert_eq!(body["plan"], "vcg-a100-12c-120g-80vram");
    assert_eq!(body["region"], "ewr");
    assert_eq!(body["os_id"], 1743);
    assert_eq!(body["label"], "gpubroker-alloc-2");
    assert_eq!(body["tags"][1], "gpubroker-alloc:alloc-2");
    use base64::Engine as _;
    let user_data = base64::engine::general_purpose::STANDARD
        .decode(body["user_data"].as_str().unwrap())
        .unwrap();
    assert!(String::from_utf8(user_data)
        .unwrap()
        .contains("ssh-ed25519 AAAA user@host"));
}

#[tokio::test]
async fn bare_metal_goes_through_bare_metals_and_its_id_says_so() {
    let server = Scripted::start(Reply::json(200, NO_METAL)).await;
    server.push(Reply::json(200, NO_INSTANCES));
    server.push(Reply::json(200, NO_METAL));
    server.push(Reply::json(
        202,
        r#"{"bare_metal": {"id": "b-1", "status": "pending", "main_ip": "", "region": "sea",
            "plan": "vbm-112c-2048gb-8-h100-gpu", "label": "gpubroker-alloc-3",
            "tags": ["gpubroker", "gpubroker-alloc:alloc-3"]}}"#,
    ));
    let adapter = vultr(&server.url);

    let started = adapter
        .provision(&request("alloc-3", "vultr:vbm-112c-2048gb-8-h100-gpu@sea"))
        .await
        .unwrap();
    server.push(Reply::json(204, ""));
    adapter.release(&started.id).await.unwrap();

    assert_eq!(started.id, InstanceId("bm:b-1".into()));
    let seen = server.seen.lock().unwrap();
    assert_eq!(
        (seen[2].method.as_str(), seen[2].path.as_str()),
        ("POST", "/bare-metals")
    );
    assert_eq!(
        (seen[3].method.as_str(), seen[3].path.as_str()),
        ("DELETE", "/bare-metals/b-1")
    );
}

#[tokio::test]
async fn a_region_without_the_plan_is_no_capacity_and_is_not_retried() {
    let server = Scripted::start(Reply::json(200, NO_METAL)).await;
    server.push(Reply::json(200, NO_INSTANCES));
    server.push(Reply::json(200, NO_METAL));
    server.push(Reply::json(
        400,
        r#"{"error": "Plan is not available in the selected region.", "status": 400}"#,
    ));
    let adapter = vultr(&server.url);

    let err = adapter
        .provision(&request("alloc-4", "vultr:vcg-a100-12c-120g-80vram@ewr"))
        .await
        .unwrap_err();

    assert_eq!(err, ProviderError::NoCapacity);
    let seen = server.seen.lock().unwrap();
    assert_eq!(seen.iter().filter(|s| s.method == "POST").count(), 1);
}

#[tokio::test]
async fn the_key_goes_out_as_bearer_and_never_into_the_logs() {
    assert_secret_sent_not_logged(
        |c| Vultr::new(c, VultrSettings::default()).unwrap(),
        Reply::json(200, fixture("vultr/plans.json")),
        ("authorization", &format!("Bearer {LIVE_SECRET}")),
    )
    .await;
}

#[tokio::test]
async fn vultr_passes_the_shared_conformance_suite() {
    assert_error_mapping(|c| Vultr::new(c, VultrSettings::default()).unwrap()).await;
}
