//! Verda adapter contract tests: the samples decoded through the adapter (behind the OAuth
//! token exchange), and the shared conformance suite.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use providers::http::Secret;
use providers::verda::{Verda, VerdaSettings};
use providers::{MicroUsd, OfferId, Pricing, Provider, ProviderError};
use serde_json::Value;
use support::{
    assert_error_mapping_after, assert_offers_conform, fixture, test_config, Reply, Scripted,
};

fn token() -> Reply {
    Reply::json(
        200,
        r#"{"access_token":"tok-1","refresh_token":"r","scope":"cloud-api-v1","token_type":"Bearer","expires_in":3600}"#,
    )
}

fn verda(url: &str) -> Verda {
    let mut config = test_config(url);
    config.credentials = Some(Secret::new("client-1:secret-1"));
    Verda::new(config, VerdaSettings::default()).unwrap()
}

#[tokio::test]
async fn the_samples_decode_into_offers_per_available_location_and_pricing() {
    let server = Scripted::start(Reply::json(500, "")).await;
    server.push(token());
    server.push(Reply::json(200, fixture("verda/instance-types.json")));
    server.push(Reply::json(200, fixture("verda/locations.json")));
    server.push(Reply::json(200, "[]")); // on-demand: nothing available
    server.push(Reply::json(
        200,
        fixture("verda/instance-availability.json"),
    )); // spot
    let adapter = verda(&server.url);

    let offers = adapter.list_offers().await.unwrap();

    // Spot availability in FIN-01 lists 2A6000.20V and 1V100.6V (H100 is available nowhere;
    // CPU nodes are no GPU offers).
    let ids: Vec<&str> = offers.iter().map(|o| o.id.0.as_str()).collect();
    assert_eq!(
        ids,
        ["verda:2A6000.20V@FIN-01:spot", "verda:1V100.6V@FIN-01:spot"]
    );
    let a6000 = &offers[0];
    assert_eq!(a6000.gpu_model, "RTXA6000");
    assert_eq!(a6000.gpu_count, 2);
    assert_eq!(a6000.gpu_memory_gib, 48.0); // 96 GB total over 2 GPUs
    assert_eq!(a6000.price_per_hour, MicroUsd(700_000)); // spot_price "0.70"
    assert_eq!(a6000.price_per_gpu_hour, MicroUsd(350_000));
    assert_eq!(a6000.pricing, Pricing::Spot);
    assert_eq!(a6000.region, "FIN-01");
    assert_eq!(a6000.country.as_deref(), Some("FI"));
    assert_eq!(a6000.vcpus, Some(20));
    assert_eq!(offers[1].gpu_model, "V100-16GB");
    assert_eq!(adapter.engine().skipped_gpus(), 0);
    assert_offers_conform(&offers);
    let seen = server.seen.lock().unwrap();
    assert_eq!(seen[0].path, "/oauth2/token");
    let exchange: Value = serde_json::from_str(&seen[0].body).unwrap();
    assert_eq!(exchange["grant_type"], "client_credentials");
    assert_eq!(exchange["client_id"], "client-1");
    assert_eq!(seen[1].authorization.as_deref(), Some("Bearer tok-1"));
    assert!(seen
        .iter()
        .skip(1)
        .all(|s| s.authorization.as_deref() == Some("Bearer tok-1")));
    assert_eq!(seen.iter().filter(|s| s.path == "/oauth2/token").count(), 1);
}

#[tokio::test]
async fn on_demand_availability_gives_on_demand_offers_at_the_list_price() {
    let server = Scripted::start(Reply::json(200, "[]")).await;
    server.push(token());
    server.push(Reply::json(200, fixture("verda/instance-types.json")));
    server.push(Reply::json(200, fixture("verda/locations.json")));
    server.push(Reply::json(
        200,
        r#"[{"location_code": "ICE-01", "availabilities": ["1H100.80S.30V"]}]"#,
    ));
    let adapter = verda(&server.url);

    let offers = adapter.list_offers().await.unwrap();

    assert_eq!(offers.len(), 1);
    let h100 = &offers[0];
    assert_eq!(h100.id, OfferId("verda:1H100.80S.30V@ICE-01".into()));
    assert_eq!(h100.gpu_model, "H100-SXM");
    assert_eq!(h100.price_per_hour, MicroUsd(3_950_000));
    assert_eq!(h100.pricing, Pricing::OnDemand);
    assert_eq!(h100.country.as_deref(), Some("IS"));
}

#[tokio::test]
async fn a_refused_token_exchange_is_an_auth_error() {
    let server = Scripted::start(Reply::json(400, r#"{"code":"invalid_client"}"#)).await;

    let err = verda(&server.url).list_offers().await.unwrap_err();

    assert_eq!(err, ProviderError::Auth);
}

#[tokio::test]
async fn verda_passes_the_shared_conformance_suite_on_the_token_and_on_data_calls() {
    let make = |mut config: providers::http::EngineConfig| {
        config.credentials = Some(Secret::new("client-1:secret-1"));
        Verda::new(config, VerdaSettings::default()).unwrap()
    };
    assert_error_mapping_after(&[], make).await;
    assert_error_mapping_after(&[token()], make).await;
}
