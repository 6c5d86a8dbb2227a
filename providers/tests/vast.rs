//! Vast.ai adapter contract tests: samples decoded through the adapter, and the shared
//! conformance suite.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use providers::vast::Vast;
use providers::{
    InstanceId, MicroUsd, OfferId, Pricing, Provider, ProviderError, ProvisionRequest,
};
use serde_json::Value;
use support::{assert_error_mapping, assert_offers_conform, fixture, test_config, Reply, Scripted};

fn vast(url: &str) -> Vast {
    Vast::new(test_config(url)).unwrap()
}

#[tokio::test]
async fn the_docs_example_decodes_and_its_imaginary_gpu_is_skipped_and_counted() {
    let server = Scripted::start(Reply::json(
        200,
        fixture("vast/bundles-search-docs-example.json"),
    ))
    .await;
    let adapter = vast(&server.url);

    let offers = adapter.list_offers().await.unwrap();

    assert!(offers.is_empty());
    assert_eq!(adapter.engine().skipped_gpus(), 1);
    // The search goes out as the documented filter, with our key.
    let seen = server.seen.lock().unwrap();
    assert_eq!(
        (seen[0].method.as_str(), seen[0].path.as_str()),
        ("POST", "/bundles/")
    );
    assert_eq!(seen[0].authorization.as_deref(), Some("Bearer test-key"));
    let sent: Value = serde_json::from_str(&seen[0].body).unwrap();
    let documented: Value =
        serde_json::from_str(&fixture("vast/bundles-search-request.json")).unwrap();
    for key in [
        "verified", "rentable", "rented", "num_gpus", "type", "order", "limit",
    ] {
        assert!(sent.get(key).is_some(), "{key} missing from our search");
        assert_eq!(
            std::mem::discriminant(&sent[key]),
            std::mem::discriminant(&documented[key]),
            "{key}"
        );
    }
    assert_eq!(sent["rented"], documented["rented"]);
}

#[tokio::test]
async fn realistic_asks_decode_with_mb_and_dollars_converted() {
    let server = Scripted::start(Reply::json(
        200,
        fixture("vast/bundles-search-constructed.json"),
    ))
    .await;
    let adapter = vast(&server.url);

    let offers = adapter.list_offers().await.unwrap();

    assert_eq!(offers.len(), 2);
    assert_eq!(adapter.engine().skipped_gpus(), 1);
    let rtx = &offers[0];
    assert_eq!(rtx.id, OfferId("vast:20011001".into()));
    assert_eq!(rtx.gpu_model, "RTX4090");
    assert_eq!(rtx.gpu_count, 1);
    assert_eq!(rtx.gpu_memory_gib, 24.0);
    assert_eq!(rtx.price_per_hour, MicroUsd(401_235)); // 0.4012345 rounded half-up
    assert_eq!(rtx.region, "Texas, US");
    assert_eq!(rtx.country.as_deref(), Some("US"));
    assert_eq!(rtx.vcpus, Some(8));
    assert_eq!(rtx.memory_gib, Some(31.4)); // 128762 MB × 8/32 cores
    assert_eq!(rtx.pricing, Pricing::OnDemand);
    let h100 = &offers[1];
    assert_eq!(h100.gpu_model, "H100-SXM");
    assert_eq!(h100.gpu_count, 8);
    assert_eq!(h100.gpu_memory_gib, 80.0);
    assert_eq!(h100.price_per_hour, MicroUsd(18_250_000));
    assert_eq!(h100.price_per_gpu_hour, MicroUsd(2_281_250));
    assert_eq!(h100.country.as_deref(), Some("DE"));
    assert_offers_conform(&offers);
}

#[tokio::test]
async fn renting_sends_the_label_and_reads_the_new_contract() {
    let shape: Value = serde_json::from_str(&fixture("vast/create-instance-shape.json")).unwrap();
    let server = Scripted::start(Reply::json(200, r#"{"instances": []}"#)).await;
    server.push(Reply::json(
        200,
        r#"{"instances_found": 0, "instances": []}"#,
    ));
    server.push(Reply::json(200, shape["response_200"].to_string()));
    server.push(Reply::json(
        200,
        r#"{"instances": {"id": 555, "actual_status": null, "label": "alloc-9", "ssh_host": null, "ssh_port": null}}"#,
    ));
    let adapter = vast(&server.url);

    let i = adapter
        .provision(&ProvisionRequest {
            allocation_id: "alloc-9".into(),
            offer_id: OfferId("vast:20011001".into()),
            gpu_count: 1,
            disk_gib: 100,
            image: "nvidia/cuda:12.4.1-runtime-ubuntu22.04".into(),
            ssh_public_key: None,
        })
        .await
        .unwrap();

    assert_eq!(i.id, InstanceId("555".into()));
    assert_eq!(i.allocation_id, "alloc-9");
    let seen = server.seen.lock().unwrap();
    let rent = seen.iter().find(|s| s.method == "PUT").unwrap();
    assert_eq!(rent.path, "/asks/20011001/");
    let body: Value = serde_json::from_str(&rent.body).unwrap();
    let documented = &shape["request_PUT /api/v0/asks/{id}/"];
    for key in [
        "client_id",
        "image",
        "price",
        "disk",
        "label",
        "env",
        "runtype",
    ] {
        assert!(body.get(key).is_some(), "{key}");
        assert_eq!(
            std::mem::discriminant(&body[key]),
            std::mem::discriminant(&documented[key]),
            "{key}"
        );
    }
    assert_eq!(body["label"], "alloc-9");
}

#[tokio::test]
async fn a_vanished_ask_is_no_capacity() {
    let server = Scripted::start(Reply::json(200, r#"{"instances": []}"#)).await;
    server.push(Reply::json(200, r#"{"instances": []}"#));
    server.push(Reply::json(
        404,
        r#"{"success": false, "error": "no_such_ask", "msg": "gone"}"#,
    ));
    let adapter = vast(&server.url);

    let err = adapter
        .provision(&ProvisionRequest {
            allocation_id: "alloc-x".into(),
            offer_id: OfferId("vast:1".into()),
            gpu_count: 1,
            disk_gib: 10,
            image: "ubuntu".into(),
            ssh_public_key: None,
        })
        .await
        .unwrap_err();

    assert_eq!(err, ProviderError::NoCapacity);
}

#[tokio::test]
async fn vast_passes_the_shared_conformance_suite() {
    assert_error_mapping(|config| Vast::new(config).unwrap()).await;
}

#[tokio::test]
async fn the_docs_instance_maps_to_a_running_instance_with_ssh() {
    let server = Scripted::start(Reply::json(
        200,
        fixture("vast/instance-get-docs-excerpt.json"),
    ))
    .await;
    let adapter = vast(&server.url);

    let i = adapter.status(&InstanceId("883".into())).await.unwrap();

    assert_eq!(i.state, providers::InstanceState::Running);
    assert_eq!(i.allocation_id, ""); // `label: null`
    let c = i.connection.unwrap();
    assert_eq!(
        (c.ssh_host.as_str(), c.ssh_port),
        ("ssh2281.vast.ai", 10882)
    );
    assert_eq!(server.seen.lock().unwrap()[0].path, "/instances/883/");
}
