//! RunPod adapter contract tests: the recorded GraphQL catalogue and the REST docs example
//! decoded through the adapter, and the shared conformance suite.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use providers::runpod::{RunPod, RunPodSettings};
use providers::{
    InstanceState, MicroUsd, OfferId, Pricing, Provider, ProviderError, ProvisionRequest,
};
use serde_json::Value;
use support::{assert_error_mapping, assert_offers_conform, fixture, test_config, Reply, Scripted};

fn runpod(url: &str) -> RunPod {
    let settings = RunPodSettings {
        rest_base_url: format!("{url}/v1"),
    };
    RunPod::new(test_config(url), settings).unwrap()
}

#[tokio::test]
async fn the_recorded_catalogue_decodes_into_per_cloud_offers_for_types_in_stock() {
    let server = Scripted::start(Reply::json(
        200,
        fixture("runpod/graphql-gpuTypes-lowestPrice.json"),
    ))
    .await;
    let adapter = runpod(&server.url);

    let offers = adapter.list_offers().await.unwrap();

    // 5 of 8 types have stock (lowestPrice not null); the RTX PRO 4000 Blackwell is not in
    // the catalogue (skipped and counted, never guessed); L4 is secure-only.
    let ids: Vec<&str> = offers.iter().map(|o| o.id.0.as_str()).collect();
    assert_eq!(ids.len(), 7, "{ids:?}");
    assert_eq!(adapter.engine().skipped_gpus(), 1);
    let rtx4090 = offers
        .iter()
        .find(|o| o.id == OfferId("runpod:NVIDIA GeForce RTX 4090@SECURE".into()))
        .unwrap();
    assert_eq!(rtx4090.gpu_model, "RTX4090");
    assert_eq!(rtx4090.gpu_count, 1);
    assert_eq!(rtx4090.gpu_memory_gib, 24.0);
    assert_eq!(rtx4090.price_per_hour, MicroUsd(740_000));
    assert_eq!(rtx4090.region, "any");
    assert_eq!(rtx4090.pricing, Pricing::OnDemand);
    let community = offers
        .iter()
        .find(|o| o.id == OfferId("runpod:NVIDIA GeForce RTX 4090@COMMUNITY".into()))
        .unwrap();
    assert_eq!(community.price_per_hour, MicroUsd(340_000));
    assert!(
        !ids.iter().any(|id| id.contains("3090 Ti")),
        "no stock: left out"
    );
    assert!(
        !ids.iter().any(|id| id.contains("L4@COMMUNITY")),
        "not sold in community"
    );
    assert_offers_conform(&offers);
    let seen = server.seen.lock().unwrap();
    assert_eq!(
        (seen[0].method.as_str(), seen[0].path.as_str()),
        ("POST", "/graphql")
    );
    let body: Value = serde_json::from_str(&seen[0].body).unwrap();
    assert!(body["query"].as_str().unwrap().contains("lowestPrice"));
}

#[tokio::test]
async fn graphql_errors_with_http_200_are_not_offers() {
    let server = Scripted::start(Reply::json(
        200,
        r#"{"data": null, "errors": [{"message": "Something went wrong"}]}"#,
    ))
    .await;

    let err = runpod(&server.url).list_offers().await.unwrap_err();

    assert!(matches!(err, ProviderError::Transient(_)), "{err:?}");
}

#[tokio::test]
async fn creating_a_pod_sends_the_documented_body_and_reads_the_201() {
    let doc: Value =
        serde_json::from_str(&fixture("runpod/rest-v1-create-pod-docs-example.json")).unwrap();
    let server = Scripted::start(Reply::json(200, "[]")).await;
    server.push(Reply::json(200, "[]"));
    server.push(Reply::json(201, doc["response_201_excerpt"].to_string()));
    let adapter = runpod(&server.url);

    let pod = adapter
        .provision(&ProvisionRequest {
            allocation_id: "alloc-7".into(),
            offer_id: OfferId("runpod:NVIDIA GeForce RTX 4090@SECURE".into()),
            gpu_count: 1,
            disk_gib: 50,
            image: "runpod/pytorch:2.1.0-py3.10-cuda11.8.0-devel-ubuntu22.04".into(),
            ssh_public_key: Some("ssh-ed25519 AAAA".into()),
        })
        .await
        .unwrap();

    assert_eq!(pod.id.0, "xedezhzb9la3ye");
    // RUNNING but no SSH port mapped yet: the container is still starting.
    assert_eq!(pod.state, InstanceState::Pending);
    let seen = server.seen.lock().unwrap();
    let create = seen.iter().find(|s| s.method == "POST").unwrap();
    assert_eq!(create.path, "/v1/pods");
    let body: Value = serde_json::from_str(&create.body).unwrap();
    let documented = &doc["request_POST_/v1/pods"];
    for key in [
        "name",
        "imageName",
        "computeType",
        "cloudType",
        "gpuTypeIds",
        "gpuCount",
        "containerDiskInGb",
        "ports",
        "supportPublicIp",
        "interruptible",
        "env",
    ] {
        assert!(body.get(key).is_some(), "{key}");
        assert_eq!(
            std::mem::discriminant(&body[key]),
            std::mem::discriminant(&documented[key]),
            "{key}"
        );
    }
    assert_eq!(body["name"], "alloc-7");
    assert_eq!(body["gpuTypeIds"][0], "NVIDIA GeForce RTX 4090");
    assert_eq!(body["cloudType"], "SECURE");
}

#[tokio::test]
async fn runpod_passes_the_shared_conformance_suite() {
    assert_error_mapping(|config| {
        let rest_base_url = format!("{}/v1", config.base_url.clone().unwrap());
        RunPod::new(config, RunPodSettings { rest_base_url }).unwrap()
    })
    .await;
}
