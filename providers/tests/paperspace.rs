//! Paperspace adapter contract tests. No recorded sample exists: the catalogue-backed
//! listing is checked against its dated rows, the machine lifecycle against fixtures
//! constructed from Paperspace's documentation, plus the shared conformance suite (on the
//! machines API, since listing makes no request).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use chrono::{TimeZone, Utc};
use providers::paperspace::{catalog, Paperspace, PaperspaceSettings};
use providers::{
    InstanceId, InstanceState, MicroUsd, OfferId, OfferSource, Pricing, Provider, ProviderError,
    ProvisionRequest,
};
use serde_json::{json, Value};
use support::{
    assert_error_mapping_on_instances, assert_offers_conform, fixture, test_config,
    with_captured_logs, Reply, Scripted,
};

fn settings() -> PaperspaceSettings {
    PaperspaceSettings {
        template_id: "t0nspur5".into(),
    }
}

fn paperspace(url: &str) -> Paperspace {
    Paperspace::new(test_config(url), settings()).unwrap()
}

#[tokio::test]
async fn offers_come_from_the_dated_catalogue_without_a_request() {
    let server = Scripted::start(Reply::json(500, "{}")).await;
    let adapter = paperspace(&server.url);

    let offers = adapter.list_offers().await.unwrap();

    assert_eq!(offers.len(), catalog::ROWS.len());
    assert_eq!(server.hits(), 0);
    let a100x2 = offers
        .iter()
        .find(|o| o.id.0 == "paperspace:A100-80Gx2@East Coast (NY2)")
        .unwrap();
    assert_eq!(a100x2.gpu_model, "A100-80GB-SXM");
    assert_eq!((a100x2.gpu_count, a100x2.gpu_memory_gib), (2, 80.0));
    assert_eq!(a100x2.price_per_hour, MicroUsd(6_360_000));
    assert_eq!(a100x2.price_per_gpu_hour, MicroUsd(3_180_000));
    assert_eq!(a100x2.country.as_deref(), Some("US"));
    assert_eq!(a100x2.pricing, Pricing::OnDemand);
    let h100 = offers.iter().find(|o| o.instance_type == "H100x8").unwrap();
    assert_eq!((h100.gpu_model.as_str(), h100.gpu_count), ("H100-SXM", 8));
    for o in &offers {
        assert_eq!(o.source, OfferSource::Catalog);
        assert_eq!(o.as_of, Utc.with_ymd_and_hms(2024, 4, 23, 0, 0, 0).unwrap());
    }
    assert_eq!(adapter.engine().skipped_gpus(), 0);
    assert_offers_conform(&offers);
}

fn machine(state: &str, name: &str) -> Value {
    let mut m: Value =
        serde_json::from_str(&fixture("paperspace/machine-constructed.json")).unwrap();
    m["state"] = json!(state);
    m["name"] = json!(format!("gpubroker-{name}"));
    m
}

fn request(allocation: &str) -> ProvisionRequest {
    ProvisionRequest {
        allocation_id: allocation.into(),
        offer_id: OfferId("paperspace:A100-80G@East Coast (NY2)".into()),
        gpu_count: 1,
        disk_gib: 100,
        image: "ubuntu".into(),
        ssh_public_key: None,
    }
}

#[tokio::test]
async fn provisioning_creates_a_machine_named_after_the_allocation() {
    let server = Scripted::start(Reply::json(200, "{}")).await;
    server.push(Reply::json(
        200,
        r#"{"items": [], "hasMore": false, "nextPage": null}"#,
    ));
    server.push(Reply::json(
        200,
        json!({"data": machine("provisioning", "alloc-1"), "event": {"id": "e1"}}).to_string(),
    ));
    let adapter = paperspace(&server.url);

    let i = adapter.provision(&request("alloc-1")).await.unwrap();

    assert_eq!(i.id, InstanceId("psz1y2x3w4".into()));
    assert_eq!(i.allocation_id, "alloc-1");
    assert_eq!(i.state, InstanceState::Pending);
    assert_eq!(i.offer_id.0, "paperspace:A100-80G@East Coast (NY2)");
    let seen = server.seen.lock().unwrap();
    assert_eq!(seen[0].path, "/machines");
    assert_eq!(seen[1].method, "POST");
    let body: Value = serde_json::from_str(&seen[1].body).unwrap();
    assert_eq!(body["name"], "gpubroker-alloc-1");
    assert_eq!(body["machineType"], "A100-80G");
    assert_eq!(body["region"], "East Coast (NY2)");
    assert_eq!(body["templateId"], "t0nspur5");
    assert_eq!(body["diskSize"], 100);
    assert_eq!(body["startOnCreate"], true);
    assert_eq!(seen[1].authorization.as_deref(), Some("Bearer test-key"));
}

#[tokio::test]
async fn find_by_allocation_follows_the_pages_of_machines() {
    let server = Scripted::start(Reply::json(200, "{}")).await;
    server.push(Reply::json(
        200,
        json!({"items": [machine("ready", "other")], "hasMore": true, "nextPage": "cursor-2"})
            .to_string(),
    ));
    server.push(Reply::json(
        200,
        json!({"items": [machine("ready", "alloc-2")], "hasMore": false, "nextPage": null})
            .to_string(),
    ));
    let adapter = paperspace(&server.url);

    let found = adapter
        .find_by_allocation("alloc-2")
        .await
        .unwrap()
        .unwrap();

    assert_eq!(found.state, InstanceState::Running);
    assert_eq!(found.connection.unwrap().ssh_host, "184.105.3.7");
    let seen = server.seen.lock().unwrap();
    assert_eq!(seen[1].query.as_deref(), Some("limit=100&after=cursor-2"));
}

#[tokio::test]
async fn status_reads_the_bare_machine_and_release_deletes_it() {
    let server = Scripted::start(Reply::json(
        200,
        json!({"data": machine("off", "alloc-3")}).to_string(),
    ))
    .await;
    server.push(Reply::json(
        200,
        machine("serviceready", "alloc-3").to_string(),
    ));
    let adapter = paperspace(&server.url);
    let id = InstanceId("psz1y2x3w4".into());

    let i = adapter.status(&id).await.unwrap();
    adapter.release(&id).await.unwrap();

    assert_eq!(i.state, InstanceState::Pending);
    let seen = server.seen.lock().unwrap();
    assert_eq!(seen[0].path, "/machines/psz1y2x3w4");
    assert_eq!(
        (seen[1].method.as_str(), seen[1].path.as_str()),
        ("DELETE", "/machines/psz1y2x3w4")
    );
}

#[tokio::test]
async fn a_conflict_on_create_is_no_capacity_and_the_key_stays_out_of_the_logs() {
    let server = Scripted::start(Reply::json(409, r#"{"message":"out of capacity"}"#)).await;
    server.push(Reply::json(200, r#"{"items": [], "hasMore": false}"#));
    let mut config = test_config(&server.url);
    config.credentials = Some(providers::http::Secret::new("ps-very-secret"));
    let adapter = Paperspace::new(config, settings()).unwrap();

    let (err, logs) = with_captured_logs(async {
        let err = adapter.provision(&request("alloc-4")).await.unwrap_err();
        tracing::info!(adapter = ?adapter, "state");
        err
    })
    .await;

    assert_eq!(err, ProviderError::NoCapacity);
    assert!(logs.contains("provider_call"), "{logs}");
    assert!(!logs.contains("ps-very-secret"), "{logs}");
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
async fn paperspace_passes_the_shared_conformance_suite() {
    assert_error_mapping_on_instances(|config| Paperspace::new(config, settings()).unwrap()).await;
}
