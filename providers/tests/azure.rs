//! Azure adapter contract tests: the Retail Prices sample decoded through the adapter,
//! paging through `NextPageLink`, listing-only capabilities, and the shared conformance
//! suite.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use providers::azure::Azure;
use providers::{
    InstanceId, MicroUsd, OfferId, OfferSource, Pricing, Provider, ProviderError, ProvisionRequest,
};
use support::{assert_error_mapping, assert_offers_conform, fixture, test_config, Reply, Scripted};

fn azure(url: &str) -> Azure {
    Azure::new(test_config(url)).unwrap()
}

/// One price item in the sample's shape.
fn item(arm_sku: &str, meter: &str, region: &str, price: f64) -> serde_json::Value {
    serde_json::json!({
        "currencyCode": "USD", "tierMinimumUnits": 0.0, "retailPrice": price, "unitPrice": price,
        "armRegionName": region, "location": region, "effectiveStartDate": "2024-01-01T00:00:00Z",
        "meterId": "m", "meterName": meter, "productId": "p", "skuId": "p/1",
        "productName": "Virtual Machines Series", "skuName": meter,
        "serviceName": "Virtual Machines", "serviceId": "s", "serviceFamily": "Compute",
        "unitOfMeasure": "1 Hour", "type": "Consumption", "isPrimaryMeterRegion": true,
        "armSkuName": arm_sku,
    })
}

#[tokio::test]
async fn the_sample_page_keeps_linux_on_demand_and_spot_and_drops_the_rest() {
    let server = Scripted::start(Reply::json(
        200,
        fixture("azure/retail-prices-composite.json"),
    ))
    .await;
    let adapter = azure(&server.url);

    let offers = adapter.list_offers().await.unwrap();

    // Windows, Low Priority and the 1-year reservation are not offers.
    assert_eq!(offers.len(), 2);
    let on_demand = offers
        .iter()
        .find(|o| o.pricing == Pricing::OnDemand)
        .unwrap();
    assert_eq!(on_demand.id.0, "azure:Standard_NC4as_T4_v3@uksouth");
    assert_eq!(on_demand.instance_type, "Standard_NC4as_T4_v3");
    assert_eq!(on_demand.gpu_model, "T4");
    assert_eq!(on_demand.gpu_count, 1);
    assert_eq!(on_demand.vcpus, Some(4));
    assert_eq!(on_demand.price_per_hour, MicroUsd(615_000));
    assert_eq!(on_demand.region, "uksouth");
    assert_eq!(on_demand.country.as_deref(), Some("GB"));
    assert_eq!(on_demand.source, OfferSource::Live);
    let spot = offers.iter().find(|o| o.pricing == Pricing::Spot).unwrap();
    assert_eq!(spot.id.0, "azure:Standard_NC4as_T4_v3@uksouth:spot");
    assert_eq!(spot.price_per_hour, MicroUsd(180_000));
    assert_offers_conform(&offers);
    let seen = server.seen.lock().unwrap();
    assert_eq!(seen[0].path, "/api/retail/prices");
    let query = seen[0].query.as_deref().unwrap();
    assert!(
        query.starts_with("api-version=2023-01-01-preview&$filter="),
        "{query}"
    );
    assert!(
        query.contains("priceType%20eq%20%27Consumption%27"),
        "{query}"
    );
    // A public API: no credentials are sent, even when the engine holds some.
    assert_eq!(seen[0].authorization, None);
}

#[tokio::test]
async fn next_page_links_are_followed_on_the_adapters_own_host() {
    let first = serde_json::json!({
        "BillingCurrency": "USD", "CustomerEntityId": "Default", "CustomerEntityType": "Retail",
        "Items": [item("Standard_ND96isr_H100_v5", "ND96isr H100 v5", "eastus", 98.32)],
        "NextPageLink": "https://prices.azure.com:443/api/retail/prices?api-version=2023-01-01-preview&$skip=1",
        "Count": 1,
    });
    let second = serde_json::json!({
        "BillingCurrency": "USD", "CustomerEntityId": "Default", "CustomerEntityType": "Retail",
        "Items": [
            item("Standard_NV6ads_A10_v5", "NV6ads A10 v5", "eastus", 0.454),
            item("Standard_NG8ads_V620_v1", "NG8ads V620 v1", "eastus", 0.6),
            item("Standard_NC24ads_A100_v4", "NC24ads A100 v4", "eastus", 3.673),
        ],
        "NextPageLink": null,
        "Count": 3,
    });
    let server = Scripted::start(Reply::json(200, second.to_string())).await;
    server.push(Reply::json(200, first.to_string()));
    let adapter = azure(&server.url);

    let offers = adapter.list_offers().await.unwrap();

    // The fractional A10 size is no offer; the V620 series is unknown: counted, not guessed.
    let ids: Vec<&str> = offers.iter().map(|o| o.id.0.as_str()).collect();
    assert_eq!(
        ids,
        [
            "azure:Standard_NC24ads_A100_v4@eastus",
            "azure:Standard_ND96isr_H100_v5@eastus"
        ]
    );
    assert_eq!(offers[0].gpu_model, "A100-80GB-PCIe");
    assert_eq!(
        (offers[1].gpu_model.as_str(), offers[1].gpu_count),
        ("H100-SXM", 8)
    );
    assert_eq!(offers[1].price_per_gpu_hour, MicroUsd(12_290_000));
    assert_eq!(adapter.engine().skipped_gpus(), 1);
    assert_offers_conform(&offers);
    let seen = server.seen.lock().unwrap();
    assert_eq!(seen.len(), 2);
    assert_eq!(
        seen[1].query.as_deref(),
        Some("api-version=2023-01-01-preview&$skip=1")
    );
}

#[tokio::test]
async fn provisioning_is_unsupported_and_the_capabilities_say_so() {
    let server = Scripted::start(Reply::json(500, "{}")).await;
    let adapter = azure(&server.url);
    let req = ProvisionRequest {
        allocation_id: "alloc-1".into(),
        offer_id: OfferId("azure:Standard_NC4as_T4_v3@uksouth".into()),
        gpu_count: 1,
        disk_gib: 100,
        image: "ubuntu".into(),
        ssh_public_key: None,
    };

    let caps = adapter.capabilities();

    assert!(caps.list_offers);
    assert!(!caps.provision && !caps.status && !caps.release && !caps.list_instances);
    assert_eq!(
        adapter.provision(&req).await,
        Err(ProviderError::Unsupported)
    );
    let id = InstanceId("vm-1".into());
    assert_eq!(adapter.status(&id).await, Err(ProviderError::Unsupported));
    assert_eq!(adapter.release(&id).await, Err(ProviderError::Unsupported));
    assert_eq!(adapter.list_instances().await, Ok(Vec::new()));
    assert_eq!(adapter.find_by_allocation("alloc-1").await, Ok(None));
    assert_eq!(server.hits(), 0);
}

#[tokio::test]
async fn azure_passes_the_shared_conformance_suite() {
    assert_error_mapping(|config| Azure::new(config).unwrap()).await;
}
