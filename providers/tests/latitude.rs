//! Latitude.sh adapter contract tests: the recorded `/plans`, server create/get and 423 error
//! (latitudesh-go cassettes) decoded through the adapter, and the conformance suite.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use providers::latitude::{Latitude, LatitudeSettings};
use providers::{
    InstanceId, InstanceState, MicroUsd, OfferId, Pricing, Provider, ProviderError,
    ProvisionRequest,
};
use support::{
    assert_error_mapping, assert_offers_conform, assert_secret_sent_not_logged, fixture,
    test_config, Reply, Scripted, LIVE_SECRET,
};

fn latitude(url: &str) -> Latitude {
    Latitude::new(test_config(url), LatitudeSettings::default()).unwrap()
}

/// A part of a recorded exchange (`request_body`, `response_body`).
fn part(path: &str, key: &str) -> serde_json::Value {
    serde_json::from_str::<serde_json::Value>(&fixture(path)).unwrap()[key].clone()
}

#[tokio::test]
async fn the_recorded_plans_yield_one_offer_per_gpu_plan_and_site_in_stock() {
    let server = Scripted::start(Reply::json(200, fixture("latitude/plans.json"))).await;
    let adapter = latitude(&server.url);

    let mut offers = adapter.list_offers().await.unwrap();
    offers.sort_by(|a, b| a.id.cmp(&b.id));

    // The CPU plan is no GPU offer; the H100 plan has no site in stock.
    assert_eq!(adapter.engine().skipped_gpus(), 0);
    assert_eq!(offers.len(), 2);
    let a100 = &offers[0];
    assert_eq!(a100.id.0, "latitude:g3-a100-large@DAL");
    assert_eq!(a100.gpu_model, "A100-80GB-PCIe");
    assert_eq!(a100.gpu_count, 8);
    assert_eq!(a100.gpu_memory_gib, 80.0);
    assert_eq!(a100.price_per_hour, MicroUsd(15_140_000));
    assert_eq!(a100.price_per_gpu_hour, MicroUsd(1_892_500));
    assert_eq!((a100.vcpus, a100.memory_gib), (Some(128), Some(1536.0)));
    assert_eq!(a100.region, "DAL");
    assert_eq!(a100.country.as_deref(), Some("US"));
    assert_eq!(a100.pricing, Pricing::OnDemand);
    let l40s = &offers[1];
    assert_eq!(l40s.id.0, "latitude:g3-l40s-large@DAL");
    assert_eq!(l40s.gpu_model, "L40S");
    assert_eq!(l40s.price_per_hour, MicroUsd(11_920_000));
    assert_offers_conform(&offers);
    let seen = server.seen.lock().unwrap();
    assert_eq!(seen[0].path, "/plans");
    assert_eq!(seen[0].authorization.as_deref(), Some("Bearer test-key"));
}

#[tokio::test]
async fn the_recorded_server_get_decodes_with_its_site_and_address() {
    let server = Scripted::start(Reply::json(200, fixture("latitude/server-get.json"))).await;
    let adapter = latitude(&server.url);

    let i = adapter
        .status(&InstanceId("sv_LqG158rA60BOg".into()))
        .await
        .unwrap();

    assert_eq!(i.state, InstanceState::Running);
    assert_eq!(i.offer_id.0, "latitude:c2-small-x86@SAO");
    // `testrand` was not named by the broker.
    assert_eq!(i.allocation_id, "");
    assert_eq!(i.connection.unwrap().ssh_host, "177.54.145.86");
}

#[tokio::test]
async fn provisioning_sends_the_recorded_request_shape_with_our_hostname() {
    let server = Scripted::start(Reply::json(200, r#"{"data": [], "meta": {}}"#)).await;
    server.push(Reply::json(200, r#"{"data": [], "meta": {}}"#));
    let mut created = part("latitude/server-create.json", "response_body");
    created["data"]["attributes"]["hostname"] = "gpubroker-alloc-1".into();
    server.push(Reply::json(201, created.to_string()));
    let adapter = latitude(&server.url);
    let req = ProvisionRequest {
        allocation_id: "alloc-1".into(),
        offer_id: OfferId("latitude:c2-small-x86@SAO".into()),
        gpu_count: 1,
        disk_gib: 100,
        image: "ubuntu".into(),
        ssh_public_key: None,
    };

    let started = adapter.provision(&req).await.unwrap();

    // `starting_deploy` (recorded) is on its way.
    assert_eq!(started.state, InstanceState::Pending);
    assert_eq!(started.allocation_id, "alloc-1");
    assert_eq!(started.id, InstanceId("sv_LqG158rA60BOg".into()));
    let seen = server.seen.lock().unwrap();
    let sent: serde_json::Value = serde_json::from_str(&seen[1].body).unwrap();
    let recorded = part("latitude/server-create.json", "request_body");
    assert_eq!(sent["data"]["type"], recorded["data"]["type"]);
    for key in ["project", "plan", "site", "operating_system", "hostname"] {
        assert!(sent["data"]["attributes"].get(key).is_some(), "{key}");
    }
    assert_eq!(sent["data"]["attributes"]["plan"], "c2-small-x86");
    assert_eq!(sent["data"]["attributes"]["site"], "SAO");
    assert_eq!(sent["data"]["attributes"]["hostname"], "gpubroker-alloc-1");
}

#[tokio::test]
async fn the_recorded_423_locked_is_transient_and_the_delete_is_sent_once() {
    let server = Scripted::start(Reply::json(
        423,
        part("latitude/error-locked.json", "response_body").to_string(),
    ))
    .await;
    let adapter = latitude(&server.url);

    let err = adapter
        .release(&InstanceId("sv_1".into()))
        .await
        .unwrap_err();

    assert!(matches!(err, ProviderError::Transient(_)), "{err:?}");
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn the_token_goes_out_as_bearer_and_never_into_the_logs() {
    assert_secret_sent_not_logged(
        |c| Latitude::new(c, LatitudeSettings::default()).unwrap(),
        Reply::json(200, fixture("latitude/plans.json")),
        ("authorization", &format!("Bearer {LIVE_SECRET}")),
    )
    .await;
}

#[tokio::test]
async fn latitude_passes_the_shared_conformance_suite() {
    assert_error_mapping(|c| Latitude::new(c, LatitudeSettings::default()).unwrap()).await;
}
