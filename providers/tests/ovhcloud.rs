//! OVHcloud adapter contract tests: the recorded catalogue and flavor samples decoded
//! through the adapter, GPU addons in the same shape, the signed instance lifecycle over a
//! scripted server, and the shared conformance suite.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use providers::http::{ovh_signature, EngineConfig, Secret};
use providers::ovhcloud::{OvhCloud, OvhSettings};
use providers::{
    InstanceId, InstanceState, MicroUsd, OfferId, OfferSource, Pricing, Provider, ProviderError,
    ProvisionRequest,
};
use serde_json::{json, Value};
use support::{
    assert_error_mapping, assert_offers_conform, fixture, test_config, with_captured_logs, Reply,
    Scripted, Seen,
};

const CREDENTIAL: &str = "app-key:app-very-secret:consumer-key";

fn config(url: &str) -> EngineConfig {
    EngineConfig {
        credentials: Some(Secret::new(CREDENTIAL)),
        ..test_config(url)
    }
}

fn settings() -> OvhSettings {
    OvhSettings {
        service_name: "proj1".into(),
        ..OvhSettings::default()
    }
}

fn ovh(url: &str) -> OvhCloud {
    OvhCloud::new(config(url), settings()).unwrap()
}

/// The signature a request should carry, recomputed from what the server saw.
fn assert_signed(server_url: &str, s: &Seen) {
    assert_eq!(s.header("x-ovh-application"), Some("app-key"));
    assert_eq!(s.header("x-ovh-consumer"), Some("consumer-key"));
    let ts: i64 = s.header("x-ovh-timestamp").unwrap().parse().unwrap();
    let url = match &s.query {
        Some(q) => format!("{server_url}{}?{q}", s.path),
        None => format!("{server_url}{}", s.path),
    };
    let want = ovh_signature::signature(
        "app-very-secret",
        "consumer-key",
        &s.method,
        &url,
        s.body.as_bytes(),
        ts,
    );
    assert_eq!(
        s.header("x-ovh-signature"),
        Some(want.as_str()),
        "{} {url}",
        s.method
    );
}

#[tokio::test]
async fn the_recorded_catalogue_and_flavors_join_and_hold_no_gpu_flavor() {
    let server = Scripted::start(Reply::json(
        200,
        fixture("ovhcloud/cloud-project-flavor-excerpt.json"),
    ))
    .await;
    server.push(Reply::json(
        200,
        fixture("ovhcloud/catalog-public-cloud-addons-excerpt.json"),
    ));
    let adapter = ovh(&server.url);

    let offers = adapter.list_offers().await.unwrap();

    // b3-8 is a CPU flavor: no offer, and not an unknown GPU either.
    assert!(offers.is_empty());
    assert_eq!(adapter.engine().skipped_gpus(), 0);
    let seen = server.seen.lock().unwrap();
    assert_eq!(seen[0].path, "/order/catalog/public/cloud");
    assert_eq!(seen[0].query.as_deref(), Some("ovhSubsidiary=IE"));
    assert_eq!(seen[1].path, "/cloud/project/proj1/flavor");
    for s in seen.iter() {
        assert_signed(&server.url, s);
    }
}

#[tokio::test]
async fn gpu_flavors_become_offers_priced_from_micro_cents_of_euro() {
    let server = Scripted::start(Reply::json(
        200,
        fixture("ovhcloud/flavors-gpu-constructed.json"),
    ))
    .await;
    server.push(Reply::json(
        200,
        fixture("ovhcloud/catalog-gpu-addons-constructed.json"),
    ));
    let adapter = ovh(&server.url);

    let offers = adapter.list_offers().await.unwrap();

    // t1-45 in GRA9 (BHS5 says unavailable) and a100-360; the X9 is counted, not guessed.
    let ids: Vec<&str> = offers.iter().map(|o| o.id.0.as_str()).collect();
    assert_eq!(ids, ["ovhcloud:t1-45@GRA9", "ovhcloud:a100-360@GRA11"]);
    assert_eq!(adapter.engine().skipped_gpus(), 1);
    let t1 = &offers[0];
    assert_eq!(t1.gpu_model, "V100-16GB");
    assert_eq!((t1.gpu_count, t1.gpu_memory_gib), (1, 16.0));
    // 176 000 000 micro-cents = 1.76 EUR, at 1.08 USD/EUR.
    assert_eq!(t1.price_per_hour, MicroUsd(1_900_800));
    assert_eq!(t1.vcpus, Some(8));
    assert_eq!(t1.memory_gib, Some(45.0));
    assert_eq!(t1.country.as_deref(), Some("FR"));
    assert_eq!(
        (t1.pricing, t1.source),
        (Pricing::OnDemand, OfferSource::Live)
    );
    let a100 = &offers[1];
    assert_eq!(a100.gpu_model, "A100-80GB-SXM");
    assert_eq!((a100.gpu_count, a100.gpu_memory_gib), (2, 80.0));
    assert_eq!(a100.price_per_hour, MicroUsd(5_940_000));
    assert_eq!(a100.price_per_gpu_hour, MicroUsd(2_970_000));
    assert_offers_conform(&offers);
}

fn instance(status: &str, name: &str) -> Value {
    json!({
        "id": "9f1c2d3e-0000-4000-8000-000000000001", "name": format!("gpubroker-{name}"), "status": status,
        "region": "GRA9", "flavorId": "5d0b0f0a-0000-4000-8000-000000000001",
        "imageId": "img-1", "created": "2026-11-23T12:00:00Z",
        "ipAddresses": [{"ip": "51.68.1.2", "type": "public", "version": 4, "networkId": "n", "gatewayIp": "51.68.1.1"},
                        {"ip": "10.0.0.5", "type": "private", "version": 4, "networkId": "p", "gatewayIp": null}],
        "flavor": {"id": "5d0b0f0a-0000-4000-8000-000000000001", "name": "t1-45"},
    })
}

fn request(allocation: &str) -> ProvisionRequest {
    ProvisionRequest {
        allocation_id: allocation.into(),
        offer_id: OfferId("ovhcloud:t1-45@GRA9".into()),
        gpu_count: 1,
        disk_gib: 100,
        image: "ubuntu".into(),
        ssh_public_key: None,
    }
}

#[tokio::test]
async fn provisioning_names_the_instance_after_the_allocation_with_signed_calls() {
    let server = Scripted::start(Reply::json(200, "{}")).await;
    server.push(Reply::json(200, "[]")); // find_by_allocation
    server.push(Reply::json(
        200,
        fixture("ovhcloud/flavors-gpu-constructed.json"),
    ));
    server.push(Reply::json(
        200,
        r#"[{"id": "img-1", "name": "Ubuntu 22.04", "region": "GRA9"}, {"id": "img-2", "name": "Debian 12"}]"#,
    ));
    server.push(Reply::json(200, instance("BUILD", "alloc-1").to_string()));
    let adapter = ovh(&server.url);

    let i = adapter.provision(&request("alloc-1")).await.unwrap();

    assert_eq!(
        i.id,
        InstanceId("9f1c2d3e-0000-4000-8000-000000000001".into())
    );
    assert_eq!(i.allocation_id, "alloc-1");
    assert_eq!(i.state, InstanceState::Pending);
    assert_eq!(i.offer_id.0, "ovhcloud:t1-45@GRA9");
    let seen = server.seen.lock().unwrap();
    assert_eq!(seen[1].query.as_deref(), Some("region=GRA9"));
    assert_eq!(seen[2].path, "/cloud/project/proj1/image");
    assert_eq!(seen[2].query.as_deref(), Some("osType=linux&region=GRA9"));
    let create = &seen[3];
    assert_eq!(
        (create.method.as_str(), create.path.as_str()),
        ("POST", "/cloud/project/proj1/instance")
    );
    let body: Value = serde_json::from_str(&create.body).unwrap();
    assert_eq!(body["name"], "gpubroker-alloc-1");
    assert_eq!(body["flavorId"], "5d0b0f0a-0000-4000-8000-000000000001");
    assert_eq!(body["imageId"], "img-1");
    assert_eq!(body["region"], "GRA9");
    for s in seen.iter() {
        assert_signed(&server.url, s);
    }
}

#[tokio::test]
async fn a_conflict_on_create_is_no_capacity_and_is_sent_once() {
    let server = Scripted::start(Reply::json(
        409,
        r#"{"class":"Client::Conflict","message":"m"}"#,
    ))
    .await;
    server.push(Reply::json(200, "[]"));
    server.push(Reply::json(
        200,
        fixture("ovhcloud/flavors-gpu-constructed.json"),
    ));
    server.push(Reply::json(
        200,
        r#"[{"id": "img-1", "name": "Ubuntu 22.04"}]"#,
    ));
    let adapter = ovh(&server.url);

    let err = adapter.provision(&request("alloc-2")).await.unwrap_err();

    assert_eq!(err, ProviderError::NoCapacity);
    let posts = server
        .seen
        .lock()
        .unwrap()
        .iter()
        .filter(|s| s.method == "POST")
        .count();
    assert_eq!(posts, 1);
}

#[tokio::test]
async fn a_running_instance_has_its_public_address_and_release_deletes_it() {
    let server = Scripted::start(Reply::json(200, "null")).await;
    server.push(Reply::json(200, instance("ACTIVE", "alloc-3").to_string()));
    let adapter = ovh(&server.url);
    let id = InstanceId("9f1c2d3e-0000-4000-8000-000000000001".into());

    let i = adapter.status(&id).await.unwrap();
    adapter.release(&id).await.unwrap();

    assert_eq!(i.state, InstanceState::Running);
    assert_eq!(i.connection.unwrap().ssh_host, "51.68.1.2");
    let seen = server.seen.lock().unwrap();
    assert_eq!(
        (seen[1].method.as_str(), seen[1].path.as_str()),
        (
            "DELETE",
            "/cloud/project/proj1/instance/9f1c2d3e-0000-4000-8000-000000000001"
        )
    );
}

#[tokio::test]
async fn an_ovh_error_class_is_read_and_the_secret_never_reaches_the_logs() {
    let server = Scripted::start(Reply::json(
        403,
        r#"{"class":"Client::Forbidden","message":"This call has not been granted"}"#,
    ))
    .await;
    let adapter = ovh(&server.url);

    let (err, logs) = with_captured_logs(async {
        let err = adapter.list_instances().await.unwrap_err();
        tracing::info!(adapter = ?adapter, "state");
        err
    })
    .await;

    assert_eq!(err, ProviderError::Auth);
    assert!(logs.contains("provider_call"), "{logs}");
    assert!(!logs.contains("app-very-secret"), "{logs}");
    let seen = server.seen.lock().unwrap();
    assert!(!seen[0]
        .headers
        .iter()
        .any(|(_, v)| v.contains("app-very-secret")));
}

#[tokio::test]
async fn a_credential_without_three_parts_is_an_auth_error_before_any_request() {
    let server = Scripted::start(Reply::json(200, "[]")).await;
    let adapter = OvhCloud::new(test_config(&server.url), settings()).unwrap();

    let err = adapter.list_instances().await.unwrap_err();

    assert_eq!(err, ProviderError::Auth);
    assert_eq!(server.hits(), 0);
}

#[tokio::test]
async fn ovhcloud_passes_the_shared_conformance_suite() {
    assert_error_mapping(|c| {
        OvhCloud::new(
            EngineConfig {
                credentials: Some(Secret::new(CREDENTIAL)),
                ..c
            },
            settings(),
        )
        .unwrap()
    })
    .await;
}
