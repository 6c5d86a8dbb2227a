//! Scaleway adapter contract tests: the recorded `products/servers` page decoded through the
//! adapter, a GPU type built from it, the server lifecycle over a scripted server, and the
//! shared conformance suite.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use providers::scaleway::{Scaleway, ScalewaySettings};
use providers::{
    InstanceId, InstanceState, MicroUsd, OfferId, OfferSource, Pricing, Provider, ProviderError,
    ProvisionRequest,
};
use serde_json::{json, Value};
use support::{assert_error_mapping, assert_offers_conform, fixture, test_config, Reply, Scripted};

fn scaleway(url: &str, zones: &[&str]) -> Scaleway {
    let settings = ScalewaySettings {
        zones: zones.iter().map(|z| z.to_string()).collect(),
        project_id: "project-1".into(),
        ..ScalewaySettings::default()
    };
    Scaleway::new(test_config(url), settings).unwrap()
}

/// The recorded page's body (its `_request` / `_response_headers` wrapper keys are ours).
fn recorded_page() -> Value {
    let page: Value =
        serde_json::from_str(&fixture("scaleway/products-servers-page1-excerpt.json")).unwrap();
    page["body"].clone()
}

/// The recorded page plus a GPU type with the field names PROVIDERS.md §16 lists
/// (`gpu_info.gpu_name`, `gpu_memory` in bytes), built from a recorded entry.
fn page_with_gpu() -> Value {
    let mut page = recorded_page();
    let mut h100 = page["servers"]["POP2-2C-8G"].clone();
    h100["ncpus"] = json!(24);
    h100["ram"] = json!(257_698_037_760u64);
    h100["gpu"] = json!(1);
    h100["gpu_info"] = json!({"gpu_manufacturer": "NVIDIA", "gpu_name": "H100-PCIe", "gpu_memory": 85_899_345_920u64});
    h100["hourly_price"] = json!(2.73);
    page["servers"]["H100-1-80G"] = h100;
    page
}

fn server(state: &str, allocation: &str) -> Value {
    json!({"server": {
        "id": "9ac0e1b2-0000-4000-8000-000000000001", "name": format!("gpubroker-{allocation}"),
        "state": state, "commercial_type": "H100-1-80G", "zone": "fr-par-2",
        "tags": ["gpubroker", format!("gpubroker-alloc:{allocation}")],
        "public_ip": {"address": "51.15.0.10", "dynamic": true},
    }})
}

#[tokio::test]
async fn the_recorded_page_has_only_cpu_types_and_yields_no_offer() {
    let server = Scripted::start(Reply::json(200, r#"{"servers": {}}"#)).await;
    server.push(Reply::json(200, recorded_page().to_string()));
    let adapter = scaleway(&server.url, &["fr-par-1"]);

    let offers = adapter.list_offers().await.unwrap();

    assert!(offers.is_empty());
    assert_eq!(adapter.engine().skipped_gpus(), 0);
    let seen = server.seen.lock().unwrap();
    assert_eq!(seen[0].path, "/zones/fr-par-1/products/servers");
    assert_eq!(seen[0].query.as_deref(), Some("per_page=100&page=1"));
    assert_eq!(
        seen[1].path,
        "/zones/fr-par-1/products/servers/availability"
    );
}

#[tokio::test]
async fn a_gpu_type_becomes_an_offer_in_dollars_unless_the_zone_is_short_of_it() {
    let server = Scripted::start(Reply::json(200, "{}")).await;
    server.push(Reply::json(200, page_with_gpu().to_string()));
    server.push(Reply::json(
        200,
        r#"{"servers": {"H100-1-80G": {"availability": "scarce"}}}"#,
    ));
    server.push(Reply::json(200, page_with_gpu().to_string()));
    server.push(Reply::json(
        200,
        r#"{"servers": {"H100-1-80G": {"availability": "shortage"}}}"#,
    ));
    let adapter = scaleway(&server.url, &["fr-par-2", "nl-ams-1"]);

    let offers = adapter.list_offers().await.unwrap();

    assert_eq!(offers.len(), 1);
    let o = &offers[0];
    assert_eq!(o.id.0, "scaleway:H100-1-80G@fr-par-2");
    assert_eq!(o.gpu_model, "H100-PCIe");
    assert_eq!((o.gpu_count, o.gpu_memory_gib), (1, 80.0));
    // 2.73 EUR at 1.08 USD/EUR.
    assert_eq!(o.price_per_hour, MicroUsd(2_948_400));
    assert_eq!(o.region, "fr-par");
    assert_eq!(o.country.as_deref(), Some("FR"));
    assert_eq!(o.vcpus, Some(24));
    assert_eq!(o.memory_gib, Some(240.0));
    assert_eq!(
        (o.pricing, o.source),
        (Pricing::OnDemand, OfferSource::Live)
    );
    assert_offers_conform(&offers);
    let seen = server.seen.lock().unwrap();
    assert!(seen.iter().all(|s| s.authorization.is_none()));
}

#[tokio::test]
async fn provisioning_creates_a_tagged_server_and_powers_it_on() {
    let server = Scripted::start(Reply::json(200, r#"{"servers": []}"#)).await;
    server.push(Reply::json(200, r#"{"servers": []}"#)); // find_by_allocation
    server.push(Reply::json(200, r#"{"servers": {}}"#)); // availability
    server.push(Reply::json(201, server_json("stopped", "alloc-1")));
    server.push(Reply::json(
        202,
        r#"{"task": {"id": "t-1", "status": "pending"}}"#,
    ));
    let adapter = scaleway(&server.url, &["fr-par-2"]);
    let req = ProvisionRequest {
        allocation_id: "alloc-1".into(),
        offer_id: OfferId("scaleway:H100-1-80G@fr-par-2".into()),
        gpu_count: 1,
        disk_gib: 100,
        image: "ubuntu".into(),
        ssh_public_key: None,
    };

    let i = adapter.provision(&req).await.unwrap();

    assert_eq!(
        i.id,
        InstanceId("fr-par-2/9ac0e1b2-0000-4000-8000-000000000001".into())
    );
    assert_eq!(i.allocation_id, "alloc-1");
    assert_eq!(i.state, InstanceState::Pending);
    assert_eq!(i.offer_id.0, "scaleway:H100-1-80G@fr-par-2");
    let seen = server.seen.lock().unwrap();
    assert_eq!(
        seen[0].query.as_deref(),
        Some("tags=gpubroker-alloc:alloc-1&per_page=100")
    );
    let create: Value = serde_json::from_str(&seen[2].body).unwrap();
    assert_eq!(seen[2].path, "/zones/fr-par-2/servers");
    assert_eq!(create["commercial_type"], "H100-1-80G");
    assert_eq!(create["project"], "project-1");
    assert_eq!(create["tags"][1], "gpubroker-alloc:alloc-1");
    assert_eq!(
        seen[3].path,
        "/zones/fr-par-2/servers/9ac0e1b2-0000-4000-8000-000000000001/action"
    );
    assert_eq!(seen[3].body, r#"{"action":"poweron"}"#);
}

fn server_json(state: &str, allocation: &str) -> String {
    server(state, allocation).to_string()
}

#[tokio::test]
async fn a_shortage_is_no_capacity_before_anything_is_created() {
    let server = Scripted::start(Reply::json(200, r#"{"servers": []}"#)).await;
    server.push(Reply::json(200, r#"{"servers": []}"#));
    server.push(Reply::json(
        200,
        r#"{"servers": {"H100-1-80G": {"availability": "shortage"}}}"#,
    ));
    let adapter = scaleway(&server.url, &["fr-par-2"]);
    let req = ProvisionRequest {
        allocation_id: "alloc-2".into(),
        offer_id: OfferId("scaleway:H100-1-80G@fr-par-2".into()),
        gpu_count: 1,
        disk_gib: 100,
        image: "ubuntu".into(),
        ssh_public_key: None,
    };

    let err = adapter.provision(&req).await.unwrap_err();

    assert_eq!(err, ProviderError::NoCapacity);
    assert!(server
        .seen
        .lock()
        .unwrap()
        .iter()
        .all(|s| s.method == "GET"));
}

#[tokio::test]
async fn a_running_server_has_a_connection_and_release_terminates_it() {
    let server = Scripted::start(Reply::json(202, r#"{"task": {"id": "t-2"}}"#)).await;
    server.push(Reply::json(200, server_json("running", "alloc-3")));
    let adapter = scaleway(&server.url, &["fr-par-2"]);
    let id = InstanceId("fr-par-2/9ac0e1b2-0000-4000-8000-000000000001".into());

    let i = adapter.status(&id).await.unwrap();
    adapter.release(&id).await.unwrap();

    assert_eq!(i.state, InstanceState::Running);
    assert_eq!(i.connection.unwrap().ssh_host, "51.15.0.10");
    let seen = server.seen.lock().unwrap();
    assert_eq!(
        seen[0].path,
        "/zones/fr-par-2/servers/9ac0e1b2-0000-4000-8000-000000000001"
    );
    assert_eq!(seen[1].body, r#"{"action":"terminate"}"#);
}

#[tokio::test]
async fn scaleway_passes_the_shared_conformance_suite() {
    assert_error_mapping(|config| {
        Scaleway::new(
            config,
            ScalewaySettings {
                zones: vec!["fr-par-2".into()],
                ..ScalewaySettings::default()
            },
        )
        .unwrap()
    })
    .await;
}
