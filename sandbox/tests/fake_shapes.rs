//! Schema-shape comparison of each fake against the real samples the adapter was verified
//! on (`providers/fixtures/`): every field the adapter reads must exist in the fake's answer
//! with the same JSON type as in the sample.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;

use chrono::{TimeZone, Utc};
use providers::ProvisionRequest;
use sandbox::world::{sandbox_providers, WorldConfig};
use sandbox::{ManualClock, Market};
use serde_json::Value;

fn fixture(path: &str) -> Value {
    let p = PathBuf::from(
        std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string()),
    )
    .join("../providers/fixtures")
    .join(path);
    serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap()
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// The JSON types found at `path` (`.`-separated; `*` = every element or member).
fn kinds_at(v: &Value, path: &str) -> BTreeSet<&'static str> {
    fn walk<'a>(v: &'a Value, segs: &[&str], out: &mut Vec<&'a Value>) {
        let Some((head, rest)) = segs.split_first() else {
            out.push(v);
            return;
        };
        match (*head, v) {
            ("*", Value::Array(a)) => a.iter().for_each(|x| walk(x, rest, out)),
            ("*", Value::Object(o)) => o.values().for_each(|x| walk(x, rest, out)),
            (key, Value::Object(o)) => {
                if let Some(x) = o.get(key) {
                    walk(x, rest, out);
                }
            }
            _ => {}
        }
    }
    let segs: Vec<&str> = path.split('.').collect();
    let mut found = Vec::new();
    walk(v, &segs, &mut found);
    found.into_iter().map(kind).collect()
}

/// Each `path` (suffix `?` = the adapter accepts null there) exists in both documents, and
/// the fake's non-null types are the sample's.
fn assert_same_shape(sample: &Value, fake: &Value, paths: &[&str]) {
    for raw in paths {
        let (path, nullable) = match raw.strip_suffix('?') {
            Some(p) => (p, true),
            None => (*raw, false),
        };
        let want = kinds_at(sample, path);
        let mut got = kinds_at(fake, path);
        assert!(!want.is_empty(), "sample lacks `{path}`: fix the path list");
        assert!(!got.is_empty(), "fake lacks `{path}`");
        if nullable {
            got.remove("null");
        }
        assert!(
            got.is_subset(&want),
            "`{path}`: fake has {got:?}, sample has {want:?}"
        );
    }
}

async fn get(url: &str, key: &str) -> Value {
    reqwest::Client::new()
        .get(url)
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_lambda_fake_answers_in_the_shape_of_the_real_samples() {
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap(),
    ));
    let market = Arc::new(Market::new(3, clock.clone()).unwrap());
    let config = WorldConfig::default();
    let key = config.api_key.clone();
    let (providers, fakes) = sandbox_providers(market, config).await.unwrap();
    let lambda = providers.iter().find(|p| p.id().0 == "lambda").unwrap();
    let offer = lambda.list_offers().await.unwrap().remove(0);
    lambda
        .provision(&ProvisionRequest {
            allocation_id: "alloc-shape".into(),
            offer_id: offer.id,
            gpu_count: 1,
            disk_gib: 100,
            image: "ubuntu".into(),
            ssh_public_key: None,
        })
        .await
        .unwrap();
    clock.advance(chrono::Duration::seconds(10));
    let base = format!("{}/api/v1", fakes.url("lambda").unwrap());

    let types = get(&format!("{base}/instance-types"), &key).await;
    let instances = get(&format!("{base}/instances"), &key).await;

    assert_same_shape(
        &fixture("lambda/instance-types-constructed.json"),
        &types,
        &[
            "data.*.instance_type.name",
            "data.*.instance_type.description",
            "data.*.instance_type.gpu_description",
            "data.*.instance_type.price_cents_per_hour",
            "data.*.instance_type.specs.vcpus?",
            "data.*.instance_type.specs.memory_gib?",
            "data.*.instance_type.specs.storage_gib?",
            "data.*.instance_type.specs.gpus",
            "data.*.regions_with_capacity_available",
            "data.*.regions_with_capacity_available.*.name",
        ],
    );
    // The OpenAPI example agrees on everything but the price type (a string there; the
    // schema and the live API say integer), which the adapter accepts in both forms.
    assert_same_shape(
        &fixture("lambda/instance-types-openapi-example.json"),
        &types,
        &[
            "data.*.instance_type.name",
            "data.*.instance_type.description",
            "data.*.instance_type.specs.vcpus?",
            "data.*.regions_with_capacity_available.*.name",
        ],
    );
    assert_same_shape(
        &fixture("lambda/instances-list-openapi-example.json"),
        &instances,
        &[
            "data",
            "data.*.id",
            "data.*.name",
            "data.*.ip?",
            "data.*.status",
            "data.*.region.name",
            "data.*.instance_type.name",
            "data.*.jupyter_url?",
        ],
    );
}

#[tokio::test]
async fn the_vast_fake_answers_in_the_shape_of_the_real_samples() {
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap(),
    ));
    let market = Arc::new(Market::new(3, clock.clone()).unwrap());
    let config = WorldConfig::default();
    let key = config.api_key.clone();
    let (providers, fakes) = sandbox_providers(market, config).await.unwrap();
    let vast = providers.iter().find(|p| p.id().0 == "vast").unwrap();
    let offer = vast.list_offers().await.unwrap().remove(0);
    let made = vast
        .provision(&ProvisionRequest {
            allocation_id: "alloc-shape".into(),
            offer_id: offer.id,
            gpu_count: 1,
            disk_gib: 100,
            image: "ubuntu".into(),
            ssh_public_key: None,
        })
        .await
        .unwrap();
    clock.advance(chrono::Duration::seconds(10));
    let base = fakes.api_url("vast").unwrap();

    let bundles = reqwest::Client::new()
        .post(format!("{base}/bundles/"))
        .bearer_auth(&key)
        .json(&fixture("vast/bundles-search-request.json"))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let one = get(&format!("{base}/instances/{}/", made.id.0), &key).await;

    assert_same_shape(
        &fixture("vast/bundles-search-docs-example.json"),
        &bundles,
        &[
            "offers",
            "offers.*.id",
            "offers.*.gpu_name",
            "offers.*.num_gpus",
            "offers.*.gpu_ram",
            "offers.*.cpu_cores?",
            "offers.*.cpu_cores_effective?",
            "offers.*.cpu_ram?",
            "offers.*.disk_space?",
            "offers.*.dph_total",
            "offers.*.geolocation?",
        ],
    );
    assert_same_shape(
        &fixture("vast/instance-get-docs-excerpt.json"),
        &one,
        &[
            "instances.id",
            "instances.actual_status?",
            // `label` (our allocation id) is null in this excerpt, so its type is not
            // verifiable here; the docs' list example shows a string.
            "instances.ssh_host?",
            "instances.ssh_port?",
        ],
    );
}

#[tokio::test]
async fn the_runpod_fake_answers_in_the_shape_of_the_real_samples() {
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap(),
    ));
    let market = Arc::new(Market::new(3, clock.clone()).unwrap());
    let config = WorldConfig::default();
    let key = config.api_key.clone();
    let (providers, fakes) = sandbox_providers(market, config).await.unwrap();
    let runpod = providers.iter().find(|p| p.id().0 == "runpod").unwrap();
    let offer = runpod.list_offers().await.unwrap().remove(0);
    let made = runpod
        .provision(&ProvisionRequest {
            allocation_id: "alloc-shape".into(),
            offer_id: offer.id,
            gpu_count: 1,
            disk_gib: 100,
            image: "ubuntu".into(),
            ssh_public_key: None,
        })
        .await
        .unwrap();
    let base = fakes.api_url("runpod").unwrap();

    let catalogue = reqwest::Client::new()
        .post(format!("{base}/graphql"))
        .bearer_auth(&key)
        .json(&serde_json::json!({"query": "query { gpuTypes { id } }"}))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let pod = get(&format!("{base}/v1/pods/{}", made.id.0), &key).await;
    let documented = fixture("runpod/rest-v1-create-pod-docs-example.json");

    assert_same_shape(
        &fixture("runpod/graphql-gpuTypes-lowestPrice.json"),
        &catalogue,
        &[
            "data.gpuTypes",
            "data.gpuTypes.*.id",
            "data.gpuTypes.*.displayName",
            "data.gpuTypes.*.memoryInGb?",
            "data.gpuTypes.*.secureCloud?",
            "data.gpuTypes.*.communityCloud?",
            "data.gpuTypes.*.securePrice?",
            "data.gpuTypes.*.communityPrice?",
            "data.gpuTypes.*.lowestPrice?",
            "data.gpuTypes.*.lowestPrice.uninterruptablePrice?",
        ],
    );
    // The docs' 201 excerpt has no `name`, `publicIp` or `portMappings`: those rest on the
    // docs' schema text only (see providers/src/runpod).
    assert_same_shape(
        &documented["response_201_excerpt"],
        &pod,
        &["id", "desiredStatus", "costPerHr?", "adjustedCostPerHr?"],
    );
}

#[tokio::test]
async fn the_verda_fake_answers_in_the_shape_of_the_real_samples() {
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap(),
    ));
    let market = Arc::new(Market::new(3, clock.clone()).unwrap());
    let config = WorldConfig::default();
    let key = config.api_key.clone();
    let (_providers, fakes) = sandbox_providers(market, config).await.unwrap();
    let base = fakes.api_url("verda").unwrap();
    let token: Value = reqwest::Client::new()
        .post(format!("{base}/oauth2/token"))
        .json(&serde_json::json!({
            "grant_type": "client_credentials",
            "client_id": sandbox::fakes::verda::CLIENT_ID,
            "client_secret": key,
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let bearer = token["access_token"].as_str().unwrap();

    let types = get(&format!("{base}/instance-types"), bearer).await;
    let locations = get(&format!("{base}/locations"), bearer).await;
    let spot = get(&format!("{base}/instance-availability?isSpot=true"), bearer).await;

    assert_same_shape(
        &fixture("verda/instance-types.json"),
        &types,
        &[
            "*.instance_type",
            "*.price_per_hour",
            "*.spot_price?",
            "*.currency",
            "*.model",
            "*.name",
            "*.gpu.number_of_gpus",
            "*.gpu_memory.size_in_gigabytes",
            "*.memory.size_in_gigabytes",
            "*.cpu.number_of_cores",
        ],
    );
    assert_same_shape(
        &fixture("verda/locations.json"),
        &locations,
        &["*.code", "*.country_code?"],
    );
    assert_same_shape(
        &fixture("verda/instance-availability.json"),
        &spot,
        &["*.location_code", "*.availabilities", "*.availabilities.*"],
    );
}

#[tokio::test]
async fn the_hyperstack_fake_answers_in_the_shape_of_the_real_samples() {
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap(),
    ));
    let market = Arc::new(Market::new(3, clock.clone()).unwrap());
    let config = WorldConfig::default();
    let key = config.api_key.clone();
    let (_providers, fakes) = sandbox_providers(market, config).await.unwrap();
    let base = fakes.api_url("hyperstack").unwrap();
    let hyperstack_get = |path: &str| {
        let url = format!("{base}{path}");
        let key = key.clone();
        async move {
            reqwest::Client::new()
                .get(url)
                .header("api_key", key)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };

    let flavors = hyperstack_get("/core/flavors").await;
    let pricebook = hyperstack_get("/pricebook").await;

    assert_same_shape(
        &fixture("hyperstack/core-flavors-docs-schema-example.json"),
        &flavors,
        &[
            "data",
            "data.*.flavors",
            "data.*.flavors.*.name",
            "data.*.flavors.*.region_name",
            "data.*.flavors.*.cpu?",
            "data.*.flavors.*.ram?",
            "data.*.flavors.*.disk?",
            "data.*.flavors.*.gpu",
            "data.*.flavors.*.gpu_count",
            "data.*.flavors.*.stock_available",
        ],
    );
    assert_same_shape(
        &fixture("hyperstack/pricebook-docs-example.json"),
        &pricebook,
        &["*.name", "*.value"],
    );
}

#[tokio::test]
async fn the_digitalocean_fake_answers_in_the_shape_of_the_real_samples() {
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap(),
    ));
    let market = Arc::new(Market::new(3, clock.clone()).unwrap());
    let config = WorldConfig::default();
    let key = config.api_key.clone();
    let (providers, fakes) = sandbox_providers(market, config).await.unwrap();
    let digitalocean = providers.iter().find(|p| p.id().0 == "do").unwrap();
    let offer = digitalocean.list_offers().await.unwrap().remove(0);
    let made = digitalocean
        .provision(&ProvisionRequest {
            allocation_id: "alloc-shape".into(),
            offer_id: offer.id,
            gpu_count: 1,
            disk_gib: 100,
            image: "ubuntu".into(),
            ssh_public_key: None,
        })
        .await
        .unwrap();
    clock.advance(chrono::Duration::seconds(10));
    let base = fakes.api_url("do").unwrap();

    let sizes = get(&format!("{base}/sizes?per_page=200"), &key).await;
    let droplet = get(&format!("{base}/droplets/{}", made.id.0), &key).await;

    assert_same_shape(
        &fixture("digitalocean/sizes.json"),
        &sizes,
        &[
            "sizes",
            "sizes.*.slug",
            "sizes.*.memory",
            "sizes.*.vcpus",
            "sizes.*.disk",
            "sizes.*.price_hourly",
            "sizes.*.regions",
            "sizes.*.regions.*",
            "sizes.*.available",
            "sizes.*.gpu_info.count",
            "sizes.*.gpu_info.vram.amount",
            "sizes.*.gpu_info.vram.unit",
            "sizes.*.gpu_info.model",
            "links",
        ],
    );
    // No recorded droplet sample exists: this one is constructed from the API reference's
    // field names (see providers/fixtures/SOURCES.md).
    assert_same_shape(
        &fixture("digitalocean/droplet-get-constructed.json"),
        &droplet,
        &[
            "droplet.id",
            "droplet.status",
            "droplet.size_slug",
            "droplet.region.slug",
            "droplet.networks.v4.*.ip_address",
            "droplet.networks.v4.*.type",
            "droplet.tags.*",
        ],
    );
}

#[tokio::test]
async fn the_jarvislabs_fake_answers_in_the_shape_of_the_real_samples() {
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap(),
    ));
    let market = Arc::new(Market::new(3, clock.clone()).unwrap());
    let config = WorldConfig::default();
    let key = config.api_key.clone();
    let (providers, fakes) = sandbox_providers(market, config).await.unwrap();
    let jarvislabs = providers.iter().find(|p| p.id().0 == "jarvislabs").unwrap();
    let offer = jarvislabs.list_offers().await.unwrap().remove(0);
    let made = jarvislabs
        .provision(&ProvisionRequest {
            allocation_id: "alloc-shape".into(),
            offer_id: offer.id,
            gpu_count: 1,
            disk_gib: 100,
            image: "ubuntu".into(),
            ssh_public_key: None,
        })
        .await
        .unwrap();
    clock.advance(chrono::Duration::seconds(10));
    let base = fakes.api_url("jarvislabs").unwrap();

    let meta = get(&format!("{base}/misc/server_meta"), &key).await;
    let one = get(&format!("{base}/users/fetch/{}", made.id.0), &key).await;

    assert_same_shape(
        &fixture("jarvislabs/server_meta.json"),
        &meta,
        &[
            "server_meta",
            "server_meta.*.gpu_type",
            "server_meta.*.region",
            "server_meta.*.num_free_devices?",
            "server_meta.*.effective_num_free_devices?",
            "server_meta.*.spot_num_free_devices?",
            "server_meta.*.price_per_hour?",
            "server_meta.*.spot_price?",
            "server_meta.*.vram?",
            "server_meta.*.cpus_per_gpu?",
            "server_meta.*.ram_per_gpu?",
            "server_meta.*.workload_type?",
            "server_meta.*.num_gpus?",
        ],
    );
    // The instance sample is ours (constructed from dstack's client and tests), so this
    // checks the fake against our reading, not against the vendor.
    assert_same_shape(
        &fixture("jarvislabs/users-fetch-instance-constructed.json"),
        &one,
        &[
            "success",
            "instance.machine_id",
            "instance.name",
            "instance.status",
            "instance.gpu_type?",
            "instance.num_gpus?",
            "instance.region?",
            "instance.ssh_str?",
        ],
    );
}

#[tokio::test]
async fn the_azure_fake_answers_in_the_shape_of_the_real_samples() {
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap(),
    ));
    let market = Arc::new(Market::new(3, clock).unwrap());
    let (_providers, fakes) = sandbox_providers(market, WorldConfig::default())
        .await
        .unwrap();
    let base = fakes.api_url("azure").unwrap();

    // A public API: no credentials.
    let page: Value = reqwest::get(format!(
        "{base}/api/retail/prices?$filter=serviceName%20eq%20%27Virtual%20Machines%27"
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();

    // The sample is a composite (documented envelope, values of a public test fixture); its
    // `NextPageLink` is null, so the link's type is checked by the adapter's paging test only.
    assert_same_shape(
        &fixture("azure/retail-prices-composite.json"),
        &page,
        &[
            "BillingCurrency",
            "Items",
            "Items.*.currencyCode",
            "Items.*.retailPrice",
            "Items.*.armRegionName",
            "Items.*.meterName",
            "Items.*.productName",
            "Items.*.skuName",
            "Items.*.serviceName",
            "Items.*.unitOfMeasure",
            "Items.*.type",
            "Items.*.armSkuName",
            "Count",
        ],
    );
    assert!(page["NextPageLink"]
        .as_str()
        .is_some_and(|l| l.contains("$skip=100")));
}

#[tokio::test]
async fn the_cudo_fake_answers_in_the_shape_of_the_real_samples() {
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap(),
    ));
    let market = Arc::new(Market::new(3, clock.clone()).unwrap());
    let config = WorldConfig::default();
    let key = config.api_key.clone();
    let (_providers, fakes) = sandbox_providers(market, config).await.unwrap();
    let base = fakes.api_url("cudo").unwrap();

    let types = get(&format!("{base}/vms/machine-types"), &key).await;

    assert_same_shape(
        &fixture("cudo/vms-machine-types.json"),
        &types,
        &[
            "machineTypes",
            "machineTypes.*.dataCenterId",
            "machineTypes.*.machineType",
            "machineTypes.*.gpuModel",
            "machineTypes.*.minVcpuPerMemoryGib?",
            "machineTypes.*.maxVcpuPerMemoryGib?",
            "machineTypes.*.minVcpuPerGpu?",
            "machineTypes.*.maxVcpuPerGpu?",
            "machineTypes.*.vcpuPriceHr.value",
            "machineTypes.*.memoryGibPriceHr.value",
            "machineTypes.*.gpuPriceHr.value",
            "machineTypes.*.ipv4PriceHr.value",
            "machineTypes.*.maxVcpuFree?",
            "machineTypes.*.maxMemoryGibFree?",
            "machineTypes.*.maxGpuFree?",
        ],
    );
}

#[tokio::test]
async fn the_scaleway_fake_answers_in_the_shape_of_the_real_samples() {
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap(),
    ));
    let market = Arc::new(Market::new(3, clock).unwrap());
    let config = WorldConfig::default();
    let key = config.api_key.clone();
    let (_providers, fakes) = sandbox_providers(market, config).await.unwrap();
    let base = fakes.api_url("scaleway").unwrap();

    let types: Value = reqwest::Client::new()
        .get(format!(
            "{base}/zones/fr-par-2/products/servers?per_page=100&page=1"
        ))
        .header("X-Auth-Token", &key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    // The recorded page (wrapper keys `_request`, `_response_headers`, `body` are ours) has
    // CPU types only (`gpu_info: null`), so `gpu_info` and its fields rest on PROVIDERS.md §16
    // and the adapter's contract tests, not on a sample.
    assert_same_shape(
        &fixture("scaleway/products-servers-page1-excerpt.json")["body"],
        &types,
        &[
            "servers",
            "servers.*.ncpus",
            "servers.*.ram",
            "servers.*.gpu",
            "servers.*.hourly_price",
            "servers.*.end_of_service",
        ],
    );
}

#[tokio::test]
async fn the_seeweb_fake_answers_in_the_shape_of_the_real_samples() {
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap(),
    ));
    let market = Arc::new(Market::new(3, clock).unwrap());
    let config = WorldConfig::default();
    let key = config.api_key.clone();
    let (_providers, fakes) = sandbox_providers(market, config).await.unwrap();
    let base = fakes.api_url("seeweb").unwrap();

    let plans: Value = reqwest::Client::new()
        .get(format!("{base}/plans"))
        .header("X-APITOKEN", &key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    assert_same_shape(
        &fixture("seeweb/plans.json"),
        &plans,
        &[
            "status",
            "plans",
            "plans.*.name",
            "plans.*.cpu",
            "plans.*.ram",
            "plans.*.disk",
            "plans.*.gpu",
            "plans.*.gpu_label",
            "plans.*.hourly_price",
            "plans.*.available",
            "plans.*.available_regions.*.location",
        ],
    );
}

#[tokio::test]
async fn the_oci_fake_answers_in_the_shape_of_the_real_samples() {
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap(),
    ));
    let market = Arc::new(Market::new(3, clock).unwrap());
    let (_providers, fakes) = sandbox_providers(market, WorldConfig::default())
        .await
        .unwrap();
    let base = fakes.api_url("oci").unwrap();

    // The estimator is public: no credentials.
    let shapes: Value = reqwest::get(format!("{base}/shapes.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    // The recorded excerpt holds CPU shapes only (`gpuQty: null`): the GPU fields and
    // `products.json` rest on the constructed fixtures and gpuhunt's reading of them.
    assert_same_shape(
        &fixture("oci/cost-estimator-shapes.json"),
        &shapes,
        &[
            "items",
            "items.*.name",
            "items.*.hidden",
            "items.*.status",
            "items.*.bundleMemoryQty",
            "items.*.processorType.value",
            "items.*.subType.value",
            "items.*.products.*.partNumber",
            "items.*.products.*.qty",
            "items.*.products.*.type.value",
        ],
    );
    assert_same_shape(
        &fixture("oci/cost-estimator-shapes-gpu-constructed.json"),
        &shapes,
        &["items.*.gpuQty?", "items.*.gpuMemoryQty?"],
    );
}

#[tokio::test]
async fn the_tensordock_fake_answers_in_the_shape_of_the_real_samples() {
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap(),
    ));
    let market = Arc::new(Market::new(3, clock.clone()).unwrap());
    let config = WorldConfig::default();
    let key = config.api_key.clone();
    let (providers, fakes) = sandbox_providers(market, config).await.unwrap();
    let tensordock = providers.iter().find(|p| p.id().0 == "tensordock").unwrap();
    let offer = tensordock.list_offers().await.unwrap().remove(0);
    let made = tensordock
        .provision(&ProvisionRequest {
            allocation_id: "alloc-shape".into(),
            offer_id: offer.id,
            gpu_count: 1,
            disk_gib: 100,
            image: "ubuntu".into(),
            ssh_public_key: None,
        })
        .await
        .unwrap();
    clock.advance(chrono::Duration::seconds(10));
    let base = fakes.api_url("tensordock").unwrap();

    let locations = get(&format!("{base}/locations"), &key).await;
    let hostnodes = get(&format!("{base}/hostnodes"), &key).await;
    let one = get(&format!("{base}/instances/{}", made.id.0), &key).await;

    assert_same_shape(
        &fixture("tensordock/v2-locations.json"),
        &locations,
        &[
            "data.locations.*.id",
            "data.locations.*.city",
            "data.locations.*.stateprovince",
            "data.locations.*.country",
            "data.locations.*.gpus.*.v0Name",
            "data.locations.*.gpus.*.max_count",
            "data.locations.*.gpus.*.price_per_hr",
            "data.locations.*.gpus.*.resources.max_vcpus",
            "data.locations.*.gpus.*.resources.max_ram_gb",
            "data.locations.*.gpus.*.resources.max_storage_gb",
            "data.locations.*.gpus.*.pricing.per_vcpu_hr",
            "data.locations.*.gpus.*.pricing.per_gb_ram_hr",
            "data.locations.*.gpus.*.pricing.per_gb_storage_hr",
        ],
    );
    assert_same_shape(
        &fixture("tensordock/v2-hostnodes.json"),
        &hostnodes,
        &[
            "data.hostnodes.*.location_id",
            "data.hostnodes.*.available_resources.gpus.*.v0Name",
            "data.hostnodes.*.available_resources.gpus.*.availableCount",
        ],
    );
    // `location_id` is not in the recorded instance (the docs' list example has it).
    assert_same_shape(
        &fixture("tensordock/v2-instance-get.json"),
        &one,
        &[
            "data.id",
            "data.name",
            "data.status",
            "data.ipAddress",
            "data.portForwards.*.internal_port",
            "data.portForwards.*.external_port",
            "data.resources.gpus",
        ],
    );
}

#[tokio::test]
async fn the_vultr_fake_answers_in_the_shape_of_the_real_samples() {
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap(),
    ));
    let market = Arc::new(Market::new(3, clock.clone()).unwrap());
    let config = WorldConfig::default();
    let key = config.api_key.clone();
    let (_providers, fakes) = sandbox_providers(market, config).await.unwrap();
    let base = fakes.api_url("vultr").unwrap();

    let plans = get(&format!("{base}/plans?type=vcg&per_page=500"), &key).await;
    let metal = get(&format!("{base}/plans-metal?per_page=500"), &key).await;

    assert_same_shape(
        &fixture("vultr/plans.json"),
        &plans,
        &[
            "plans.*.id",
            "plans.*.vcpu_count",
            "plans.*.ram",
            "plans.*.disk?",
            "plans.*.hourly_cost",
            "plans.*.type",
            "plans.*.locations",
            "plans.*.gpu_vram_gb?",
            "plans.*.gpu_type?",
        ],
    );
    assert_same_shape(
        &fixture("vultr/plans-metal.json"),
        &metal,
        &[
            "plans_metal.*.id",
            "plans_metal.*.cpu_threads?",
            "plans_metal.*.ram",
            "plans_metal.*.disk?",
            "plans_metal.*.disk_count?",
            "plans_metal.*.hourly_cost",
            "plans_metal.*.locations",
        ],
    );
}

#[tokio::test]
async fn the_ovhcloud_fake_answers_in_the_shape_of_the_real_samples() {
    use providers::http::ovh_signature;

    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap(),
    ));
    let market = Arc::new(Market::new(3, clock).unwrap());
    let config = WorldConfig::default();
    let secret = format!(
        "{}:{}:{}",
        sandbox::fakes::ovhcloud::APPLICATION_KEY,
        config.api_key,
        sandbox::fakes::ovhcloud::CONSUMER_KEY
    );
    let (_providers, fakes) = sandbox_providers(market, config).await.unwrap();
    let base = fakes.api_url("ovhcloud").unwrap();
    let signed_get = |url: String| {
        let headers = ovh_signature::headers(&secret, "GET", &url, b"", 1_795_000_000).unwrap();
        let mut req = reqwest::Client::new().get(url);
        for (k, v) in headers {
            req = req.header(k, v);
        }
        req
    };

    let catalog: Value = signed_get(format!(
        "{base}/order/catalog/public/cloud?ovhSubsidiary=IE"
    ))
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let flavors: Value = signed_get(format!("{base}/cloud/project/sandbox-project/flavor"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    // The recorded excerpts hold a CPU addon only: `blobs.technical.gpu` rests on the
    // constructed fixture (OVH's catalogue documentation).
    assert_same_shape(
        &fixture("ovhcloud/catalog-public-cloud-addons-excerpt.json"),
        &catalog,
        &[
            "addons",
            "addons.*.planCode",
            "addons.*.invoiceName",
            "addons.*.pricings.*.price",
            "addons.*.pricings.*.intervalUnit",
            "addons.*.blobs.commercial.name",
        ],
    );
    assert_same_shape(
        &fixture("ovhcloud/catalog-gpu-addons-constructed.json"),
        &catalog,
        &[
            "addons.*.blobs.technical.gpu.model",
            "addons.*.blobs.technical.gpu.number",
            "addons.*.blobs.technical.gpu.memory.size",
        ],
    );
    assert_same_shape(
        &fixture("ovhcloud/cloud-project-flavor-excerpt.json"),
        &flavors,
        &["*.region", "*.planCodes.hourly"],
    );
}

#[tokio::test]
async fn the_gcp_fake_answers_in_the_shape_of_the_real_samples() {
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap(),
    ));
    let market = Arc::new(Market::new(3, clock).unwrap());
    let config = WorldConfig::default();
    let key = config.api_key.clone();
    let (_providers, fakes) = sandbox_providers(market, config).await.unwrap();
    let base = fakes.api_url("gcp").unwrap();

    let page: Value = reqwest::Client::new()
        .get(format!(
            "{base}/v1/services/6F81-5844-456A/skus?currencyCode=USD&pageSize=50"
        ))
        .header("X-Goog-Api-Key", &key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    assert_same_shape(
        &fixture("gcp/cloudbilling-skus-page.json"),
        &page,
        &[
            "skus",
            "skus.*.description",
            "skus.*.category.resourceFamily",
            "skus.*.category.resourceGroup",
            "skus.*.category.usageType",
            "skus.*.serviceRegions",
            "skus.*.pricingInfo.*.pricingExpression.usageUnit",
            "skus.*.pricingInfo.*.pricingExpression.tieredRates.*.startUsageAmount",
            "skus.*.pricingInfo.*.pricingExpression.tieredRates.*.unitPrice.currencyCode",
            "skus.*.pricingInfo.*.pricingExpression.tieredRates.*.unitPrice.units",
            "skus.*.pricingInfo.*.pricingExpression.tieredRates.*.unitPrice.nanos",
            "nextPageToken",
        ],
    );
}

#[tokio::test]
async fn the_aws_fake_answers_in_the_shape_of_the_real_samples() {
    use providers::http::sigv4;

    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap(),
    ));
    let market = Arc::new(Market::new(3, clock).unwrap());
    let config = WorldConfig::default();
    let credential = format!("{}:{}", sandbox::fakes::aws::ACCESS_KEY_ID, config.api_key);
    let (_providers, fakes) = sandbox_providers(market, config).await.unwrap();
    let url = fakes.api_url("aws").unwrap();
    let body = serde_json::json!({
        "ServiceCode": "AmazonEC2", "FormatVersion": "aws_v1", "MaxResults": 100,
        "Filters": [{"Type": "TERM_MATCH", "Field": "regionCode", "Value": "us-east-1"}],
    })
    .to_string();
    let headers = vec![
        (
            "content-type".to_string(),
            "application/x-amz-json-1.1".to_string(),
        ),
        (
            "x-amz-target".to_string(),
            "AWSPriceListService.GetProducts".to_string(),
        ),
    ];
    let host = url.trim_start_matches("http://").to_string();
    let signed = sigv4::sign(
        &sigv4::Request {
            method: "POST",
            path: "/",
            query: "",
            host: &host,
            headers: &headers,
            payload: body.as_bytes(),
        },
        &credential,
        &sigv4::Scope {
            region: "us-east-1".into(),
            service: "pricing".into(),
        },
        Utc::now(),
    )
    .unwrap();
    let mut req = reqwest::Client::new().post(format!("{url}/")).body(body);
    for (k, v) in &headers {
        req = req.header(k, v);
    }

    let page: Value = req
        .header("x-amz-date", signed.amz_date)
        .header("authorization", signed.authorization)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    let sample = fixture("aws/pricing-get-products.json");
    assert_same_shape(
        &sample,
        &page,
        &["FormatVersion", "PriceList", "PriceList.*"],
    );
    // The items are JSON strings: compare what is inside. The recorded item is an EBS
    // product, so `instanceType`/`regionCode` rest on the constructed GPU fixture.
    let item =
        |v: &Value| -> Value { serde_json::from_str(v["PriceList"][0].as_str().unwrap()).unwrap() };
    assert_same_shape(
        &item(&sample),
        &item(&page),
        &[
            "product.attributes",
            "product.attributes.servicecode",
            "terms.OnDemand.*.priceDimensions.*.unit",
            "terms.OnDemand.*.priceDimensions.*.pricePerUnit.USD",
        ],
    );
    assert_same_shape(
        &item(&fixture("aws/pricing-get-products-gpu-constructed.json")),
        &item(&page),
        &[
            "product.attributes.instanceType",
            "product.attributes.regionCode",
        ],
    );
}

#[tokio::test]
async fn the_linode_latitude_and_akash_fakes_answer_in_the_shape_of_the_real_samples() {
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap(),
    ));
    let market = Arc::new(Market::new(3, clock.clone()).unwrap());
    let config = WorldConfig::default();
    let key = config.api_key.clone();
    let (providers, fakes) = sandbox_providers(market, config).await.unwrap();
    let mut made = std::collections::BTreeMap::new();
    for vendor in ["linode", "latitude"] {
        let p = providers.iter().find(|p| p.id().0 == vendor).unwrap();
        let offer = p.list_offers().await.unwrap().remove(0);
        let i = p
            .provision(&ProvisionRequest {
                allocation_id: "alloc-shape".into(),
                offer_id: offer.id,
                gpu_count: 1,
                disk_gib: 100,
                image: "ubuntu".into(),
                ssh_public_key: None,
            })
            .await
            .unwrap();
        made.insert(vendor, i.id.0);
    }
    clock.advance(chrono::Duration::seconds(10));
    let linode = fakes.api_url("linode").unwrap();
    let latitude = fakes.api_url("latitude").unwrap();
    let akash = fakes.api_url("akash").unwrap();

    let types = get(&format!("{linode}/linode/types"), &key).await;
    let availability = get(&format!("{linode}/regions/availability"), &key).await;
    let instance = get(
        &format!("{linode}/linode/instances/{}", made["linode"]),
        &key,
    )
    .await;
    let plans = get(&format!("{latitude}/plans"), &key).await;
    let server = get(&format!("{latitude}/servers/{}", made["latitude"]), &key).await;
    let prices = get(&format!("{akash}/v1/gpu-prices"), "").await;

    assert_same_shape(
        &fixture("linode/linode-types.json"),
        &types,
        &[
            "data.*.id",
            "data.*.label",
            "data.*.price.hourly",
            "data.*.region_prices",
            "data.*.memory",
            "data.*.disk",
            "data.*.vcpus",
            "data.*.gpus",
            "data.*.class",
            "page",
            "pages",
        ],
    );
    assert_same_shape(
        &fixture("linode/regions-availability.json"),
        &availability,
        &[
            "data.*.region",
            "data.*.plan",
            "data.*.available",
            "page",
            "pages",
        ],
    );
    assert_same_shape(
        &fixture("linode/instance-get.json"),
        &instance,
        &["id", "label", "status", "region", "type", "ipv4"],
    );
    assert_same_shape(
        &fixture("latitude/plans.json"),
        &plans,
        &[
            "data.*.attributes.slug",
            "data.*.attributes.specs.cpu.cores",
            "data.*.attributes.specs.cpu.count",
            "data.*.attributes.specs.memory.total",
            "data.*.attributes.specs.gpu.count",
            "data.*.attributes.specs.gpu.type",
            "data.*.attributes.regions.*.locations.in_stock",
            "data.*.attributes.regions.*.pricing.USD.hour",
        ],
    );
    assert_same_shape(
        &fixture("latitude/server-get.json"),
        &server,
        &[
            "data.id",
            "data.attributes.hostname",
            "data.attributes.status",
            "data.attributes.primary_ipv4",
            "data.attributes.plan.slug",
            "data.attributes.region.site.slug",
        ],
    );
    assert_same_shape(
        &fixture("akash/console-gpu-prices-debug.json"),
        &prices,
        &[
            "models.*.vendor",
            "models.*.model",
            "models.*.ram",
            "models.*.interface",
            "models.*.availability.available",
            "models.*.price.currency",
            "models.*.price.med",
        ],
    );
}
