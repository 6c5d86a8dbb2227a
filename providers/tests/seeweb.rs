//! Seeweb adapter contract tests: the recorded `/plans` sample decoded through the adapter,
//! the server lifecycle over a scripted server, and the shared conformance suite.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use providers::seeweb::{Seeweb, SeewebSettings};
use providers::{
    InstanceId, InstanceState, MicroUsd, OfferId, OfferSource, Pricing, Provider, ProviderError,
    ProvisionRequest,
};
use serde_json::{json, Value};
use support::{
    assert_error_mapping, assert_offers_conform, fixture, test_config, with_captured_logs, Reply,
    Scripted,
};

fn seeweb(url: &str) -> Seeweb {
    Seeweb::new(test_config(url), SeewebSettings::default()).unwrap()
}

fn server(status: &str, allocation: &str) -> Value {
    json!({
        "name": "ec200016", "ipv4": "185.10.20.30", "ipv6": "", "plan": "ECS1GPU7",
        "plan_size": {"core": "8", "ram": "32768", "disk": "500"}, "location": "it-fr2",
        "notes": format!("gpubroker-alloc:{allocation}"), "so": "ubuntu-2204",
        "creation_date": "2026-11-23T12:00:00+01:00", "deletion_date": null,
        "active_flag": true, "status": status, "api_version": "v2", "user": "u1", "group": null,
    })
}

fn request(allocation: &str) -> ProvisionRequest {
    ProvisionRequest {
        allocation_id: allocation.into(),
        offer_id: OfferId("seeweb:ECS1GPU7@it-fr2".into()),
        gpu_count: 1,
        disk_gib: 100,
        image: "ubuntu".into(),
        ssh_public_key: None,
    }
}

#[tokio::test]
async fn the_recorded_plans_become_offers_per_location_in_dollars() {
    let server = Scripted::start(Reply::json(200, fixture("seeweb/plans.json"))).await;
    let adapter = seeweb(&server.url);

    let offers = adapter.list_offers().await.unwrap();

    // L40s in two locations, 2x A100 and MI300X in one each; the CPU plan is no offer.
    let ids: Vec<&str> = offers.iter().map(|o| o.id.0.as_str()).collect();
    assert_eq!(
        ids,
        [
            "seeweb:ECS1GPU7@it-fr2",
            "seeweb:ECS1GPU7@it-mi2",
            "seeweb:ECS2GPU3@it-fr2",
            "seeweb:ECS1GPU9@it-fr2"
        ]
    );
    let l40s = &offers[0];
    assert_eq!(l40s.gpu_model, "L40S");
    assert_eq!((l40s.gpu_count, l40s.gpu_memory_gib), (1, 48.0));
    // 0.85 EUR at 1.08 USD/EUR.
    assert_eq!(l40s.price_per_hour, MicroUsd(918_000));
    assert_eq!(l40s.vcpus, Some(8));
    assert_eq!(l40s.memory_gib, Some(32.0));
    assert_eq!(l40s.storage_gib, Some(500));
    assert_eq!(l40s.country.as_deref(), Some("IT"));
    assert_eq!(
        (l40s.pricing, l40s.source),
        (Pricing::OnDemand, OfferSource::Live)
    );
    let a100 = &offers[2];
    assert_eq!(a100.gpu_model, "A100-80GB-SXM");
    assert_eq!((a100.gpu_count, a100.gpu_memory_gib), (2, 80.0));
    assert_eq!(a100.price_per_hour, MicroUsd(2_138_400));
    assert_eq!(a100.price_per_gpu_hour, MicroUsd(1_069_200));
    assert_eq!(a100.memory_gib, Some(240.0));
    assert_eq!(offers[3].gpu_model, "MI300X");
    assert_eq!(offers[3].gpu_memory_gib, 192.0);
    assert_eq!(adapter.engine().skipped_gpus(), 0);
    assert_offers_conform(&offers);
    let seen = server.seen.lock().unwrap();
    assert_eq!(seen[0].path, "/plans");
    assert_eq!(seen[0].header("x-apitoken"), Some("test-key"));
}

#[tokio::test]
async fn an_unknown_gpu_label_is_counted_not_guessed() {
    let mut plans: Value = serde_json::from_str(&fixture("seeweb/plans.json")).unwrap();
    plans["plans"][0]["gpu_label"] = json!("Imaginary X9 12GB");
    let server = Scripted::start(Reply::json(200, plans.to_string())).await;
    let adapter = seeweb(&server.url);

    let offers = adapter.list_offers().await.unwrap();

    assert_eq!(offers.len(), 2);
    assert_eq!(adapter.engine().skipped_gpus(), 1);
}

#[tokio::test]
async fn provisioning_creates_a_server_with_the_allocation_in_its_notes() {
    let scripted = Scripted::start(Reply::json(200, "{}")).await;
    scripted.push(Reply::json(200, r#"{"status":"ok","count":0,"server":[]}"#));
    scripted.push(Reply::json(
        201,
        json!({"status": "ok", "action_id": 42, "server": server("Booting", "alloc-1")})
            .to_string(),
    ));
    let adapter = seeweb(&scripted.url);

    let i = adapter.provision(&request("alloc-1")).await.unwrap();

    assert_eq!(i.id, InstanceId("ec200016".into()));
    assert_eq!(i.allocation_id, "alloc-1");
    assert_eq!(i.state, InstanceState::Pending);
    let seen = scripted.seen.lock().unwrap();
    assert_eq!(
        (seen[1].method.as_str(), seen[1].path.as_str()),
        ("POST", "/servers")
    );
    let body: Value = serde_json::from_str(&seen[1].body).unwrap();
    assert_eq!(body["plan"], "ECS1GPU7");
    assert_eq!(body["location"], "it-fr2");
    assert_eq!(body["notes"], "gpubroker-alloc:alloc-1");
    assert_eq!(body["image"], "ubuntu-2204");
}

#[tokio::test]
async fn a_retried_provisioning_returns_the_server_it_already_made() {
    let scripted = Scripted::start(Reply::json(200, "{}")).await;
    scripted.push(Reply::json(
        200,
        json!({"status": "ok", "count": 1, "server": [server("Booted", "alloc-2")]}).to_string(),
    ));
    let adapter = seeweb(&scripted.url);

    let i = adapter.provision(&request("alloc-2")).await.unwrap();

    assert_eq!(i.state, InstanceState::Running);
    assert_eq!(i.connection.unwrap().ssh_host, "185.10.20.30");
    assert!(scripted
        .seen
        .lock()
        .unwrap()
        .iter()
        .all(|s| s.method == "GET"));
}

#[tokio::test]
async fn a_conflict_on_create_is_no_capacity_and_is_sent_once() {
    let scripted = Scripted::start(Reply::json(409, r#"{"status":"error"}"#)).await;
    scripted.push(Reply::json(200, r#"{"status":"ok","count":0,"server":[]}"#));
    let adapter = seeweb(&scripted.url);

    let err = adapter.provision(&request("alloc-3")).await.unwrap_err();

    assert_eq!(err, ProviderError::NoCapacity);
    let posts = scripted
        .seen
        .lock()
        .unwrap()
        .iter()
        .filter(|s| s.method == "POST")
        .count();
    assert_eq!(posts, 1);
}

#[tokio::test]
async fn status_reads_one_server_and_release_deletes_it() {
    let scripted = Scripted::start(Reply::json(200, r#"{"status":"ok"}"#)).await;
    scripted.push(Reply::json(
        200,
        json!({"status": "ok", "server": server("Deleting", "alloc-4")}).to_string(),
    ));
    let adapter = seeweb(&scripted.url);
    let id = InstanceId("ec200016".into());

    let i = adapter.status(&id).await.unwrap();
    adapter.release(&id).await.unwrap();

    assert_eq!(i.state, InstanceState::Terminating);
    let seen = scripted.seen.lock().unwrap();
    assert_eq!(seen[0].path, "/servers/ec200016");
    assert_eq!(
        (seen[1].method.as_str(), seen[1].path.as_str()),
        ("DELETE", "/servers/ec200016")
    );
}

#[tokio::test]
async fn the_token_travels_in_its_header_and_never_in_the_logs() {
    let scripted = Scripted::start(Reply::json(401, "{}")).await;
    scripted.push(Reply::json(200, fixture("seeweb/plans.json")));
    let mut config = test_config(&scripted.url);
    config.credentials = Some(providers::http::Secret::new("seeweb-very-secret"));
    let adapter = Seeweb::new(config, SeewebSettings::default()).unwrap();

    let ((listed, refused), logs) = with_captured_logs(async {
        let listed = adapter.list_offers().await;
        let refused = adapter.list_instances().await;
        tracing::info!(adapter = ?adapter, "state");
        (listed, refused)
    })
    .await;

    assert!(listed.is_ok());
    assert_eq!(refused.unwrap_err(), ProviderError::Auth);
    assert!(logs.contains("provider_call"), "{logs}");
    assert!(!logs.contains("seeweb-very-secret"), "{logs}");
    let seen = scripted.seen.lock().unwrap();
    assert!(seen
        .iter()
        .all(|s| s.header("x-apitoken") == Some("seeweb-very-secret")));
}

#[tokio::test]
async fn seeweb_passes_the_shared_conformance_suite() {
    assert_error_mapping(|config| Seeweb::new(config, SeewebSettings::default()).unwrap()).await;
}
