//! AWS adapter contract tests: the recorded Price List and spot-price samples decoded
//! through the adapter, GPU instance types in the EC2 wire shape, the SigV4-signed instance
//! lifecycle over a scripted server, and the shared conformance suite.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::BTreeMap;

use chrono::NaiveDateTime;
use providers::aws::{Aws, AwsSettings};
use providers::http::{sigv4, EngineConfig, Secret};
use providers::{
    InstanceId, InstanceState, MicroUsd, OfferId, Pricing, Provider, ProviderError,
    ProvisionRequest,
};
use serde_json::Value;
use support::{
    assert_error_mapping, assert_offers_conform, fixture, test_config, with_captured_logs, Reply,
    Scripted, Seen,
};

const SECRET: &str = "aws-very-secret-key";

fn config(url: &str) -> EngineConfig {
    EngineConfig {
        credentials: Some(Secret::new(format!("AKIATEST:{SECRET}"))),
        ..test_config(url)
    }
}

fn settings(url: &str) -> AwsSettings {
    AwsSettings {
        regions: vec!["us-east-1".into()],
        ec2_endpoint: Some(url.to_string()),
        image_ids: BTreeMap::from([("us-east-1".to_string(), "ami-0abcdef1234567890".to_string())]),
        key_name: None,
    }
}

fn aws(url: &str) -> Aws {
    Aws::new(config(url), settings(url)).unwrap()
}

/// The form parameters of an EC2 Query API call.
fn form(s: &Seen) -> BTreeMap<String, String> {
    s.body
        .split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| {
            (
                k.to_string(),
                v.replace("%2F", "/")
                    .replace("%3A", ":")
                    .replace("%20", " "),
            )
        })
        .collect()
}

/// Recomputes the SigV4 signature of a request the server saw and checks its scope.
fn assert_signed(server_url: &str, s: &Seen, region: &str, service: &str) {
    let auth = s.header("authorization").unwrap();
    assert!(
        auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIATEST/"),
        "{auth}"
    );
    assert!(
        auth.contains(&format!("/{region}/{service}/aws4_request")),
        "{auth}"
    );
    let signed: Vec<String> = auth
        .split("SignedHeaders=")
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .split(';')
        .map(str::to_string)
        .collect();
    let headers: Vec<(String, String)> = signed
        .iter()
        .filter(|n| *n != "host" && *n != "x-amz-date")
        .map(|n| (n.clone(), s.header(n).unwrap().to_string()))
        .collect();
    let at = NaiveDateTime::parse_from_str(s.header("x-amz-date").unwrap(), "%Y%m%dT%H%M%SZ")
        .unwrap()
        .and_utc();
    let host = server_url.trim_start_matches("http://");
    let want = sigv4::sign(
        &sigv4::Request {
            method: &s.method,
            path: &s.path,
            query: s.query.as_deref().unwrap_or(""),
            host,
            headers: &headers,
            payload: s.body.as_bytes(),
        },
        &format!("AKIATEST:{SECRET}"),
        &sigv4::Scope {
            region: region.into(),
            service: service.into(),
        },
        at,
    )
    .unwrap();
    assert_eq!(auth, want.authorization);
}

/// The recorded spot entries (CLI rendering) in EC2's XML wire shape, for `instance_type`.
fn spot_xml_from_sample(instance_type: &str) -> String {
    let sample: Value =
        serde_json::from_str(&fixture("aws/describe-spot-price-history.json")).unwrap();
    let items: String = sample["SpotPriceHistory"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "<item><instanceType>{instance_type}</instanceType><productDescription>{}</productDescription>\
                 <spotPrice>{}</spotPrice><timestamp>{}</timestamp><availabilityZone>{}</availabilityZone></item>",
                e["ProductDescription"].as_str().unwrap(),
                e["SpotPrice"].as_str().unwrap(),
                e["Timestamp"].as_str().unwrap(),
                e["AvailabilityZone"].as_str().unwrap(),
            )
        })
        .collect();
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><DescribeSpotPriceHistoryResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">\
         <requestId>r</requestId><spotPriceHistorySet>{items}</spotPriceHistorySet><nextToken/></DescribeSpotPriceHistoryResponse>"
    )
}

#[tokio::test]
async fn the_recorded_price_list_page_decodes_and_its_storage_product_is_no_offer() {
    let server = Scripted::start(Reply::json(
        200,
        r#"{"FormatVersion":"aws_v1","PriceList":[]}"#,
    ))
    .await;
    server.push(Reply::json(200, fixture("aws/pricing-get-products.json")));
    let adapter = aws(&server.url);

    let offers = adapter.list_offers().await.unwrap();

    assert!(offers.is_empty());
    assert_eq!(adapter.engine().skipped_gpus(), 0);
    let seen = server.seen.lock().unwrap();
    // The sample's NextToken is followed to the next page.
    assert_eq!(seen.len(), 2);
    let first = &seen[0];
    assert_eq!((first.method.as_str(), first.path.as_str()), ("POST", "/"));
    assert_eq!(
        first.header("x-amz-target"),
        Some("AWSPriceListService.GetProducts")
    );
    assert_eq!(
        first.header("content-type"),
        Some("application/x-amz-json-1.1")
    );
    let body: Value = serde_json::from_str(&first.body).unwrap();
    assert_eq!(body["ServiceCode"], "AmazonEC2");
    assert_eq!(body["FormatVersion"], "aws_v1");
    let filters = body["Filters"].as_array().unwrap();
    assert!(filters
        .iter()
        .any(|f| f["Field"] == "regionCode" && f["Value"] == "us-east-1"));
    assert!(filters
        .iter()
        .any(|f| f["Field"] == "instanceFamily" && f["Value"] == "GPU instance"));
    let second: Value = serde_json::from_str(&seen[1].body).unwrap();
    assert!(second["NextToken"]
        .as_str()
        .unwrap()
        .starts_with("WGDY7ko8fQXdlaUZVdasFQ=="));
    for s in seen.iter() {
        assert_signed(&server.url, s, "us-east-1", "pricing");
    }
}

#[tokio::test]
async fn gpu_types_join_their_ec2_facts_and_spot_prices_per_zone() {
    let server = Scripted::start(Reply::json(200, "{}")).await;
    server.push(Reply::json(
        200,
        fixture("aws/pricing-get-products-gpu-constructed.json"),
    ));
    server.push(Reply::json(
        200,
        fixture("aws/describe-instance-types-constructed.xml"),
    ));
    server.push(Reply::json(200, spot_xml_from_sample("g5.xlarge")));
    let adapter = aws(&server.url);

    let offers = adapter.list_offers().await.unwrap();

    // p4d and g5 on demand, g5 spot in the two recorded zones; the Gaudi type is counted.
    assert_eq!(adapter.engine().skipped_gpus(), 1);
    let ids: Vec<&str> = offers.iter().map(|o| o.id.0.as_str()).collect();
    assert_eq!(
        ids,
        [
            "aws:g5.xlarge@us-east-1/us-west-1a:spot",
            "aws:g5.xlarge@us-east-1/us-west-1c:spot",
            "aws:g5.xlarge@us-east-1",
            "aws:p4d.24xlarge@us-east-1"
        ]
    );
    let p4d = &offers[3];
    assert_eq!(p4d.gpu_model, "A100-40GB-SXM");
    assert_eq!((p4d.gpu_count, p4d.gpu_memory_gib), (8, 40.0));
    assert_eq!(p4d.price_per_hour, MicroUsd(32_772_600));
    assert_eq!(p4d.price_per_gpu_hour, MicroUsd(4_096_575));
    assert_eq!(p4d.vcpus, Some(96));
    assert_eq!(p4d.memory_gib, Some(1152.0));
    assert_eq!(p4d.country.as_deref(), Some("US"));
    let g5 = &offers[2];
    assert_eq!(
        (g5.gpu_model.as_str(), g5.gpu_count, g5.gpu_memory_gib),
        ("A10G", 1, 24.0)
    );
    assert_eq!(g5.price_per_hour, MicroUsd(1_006_000));
    let spot = &offers[0];
    assert_eq!(spot.pricing, Pricing::Spot);
    // The recorded "0.080000".
    assert_eq!(spot.price_per_hour, MicroUsd(80_000));
    assert_eq!(spot.region, "us-east-1");
    assert_offers_conform(&offers);
    let seen = server.seen.lock().unwrap();
    let types = form(&seen[1]);
    assert_eq!(types["Action"], "DescribeInstanceTypes");
    assert_eq!(types["Version"], "2016-11-15");
    assert_eq!(types["InstanceType.1"], "dl1.24xlarge");
    let spot_call = form(&seen[2]);
    assert_eq!(spot_call["Action"], "DescribeSpotPriceHistory");
    assert_eq!(spot_call["ProductDescription.1"], "Linux/UNIX");
    assert_signed(&server.url, &seen[1], "us-east-1", "ec2");
    assert_signed(&server.url, &seen[2], "us-east-1", "ec2");
}

fn request(allocation: &str, offer: &str) -> ProvisionRequest {
    ProvisionRequest {
        allocation_id: allocation.into(),
        offer_id: OfferId(offer.into()),
        gpu_count: 1,
        disk_gib: 200,
        image: "ubuntu".into(),
        ssh_public_key: None,
    }
}

const EMPTY_DESCRIBE: &str = r#"<?xml version="1.0" encoding="UTF-8"?><DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r</requestId><reservationSet/></DescribeInstancesResponse>"#;

#[tokio::test]
async fn run_instances_carries_the_allocation_in_a_tag_and_the_client_token() {
    let server = Scripted::start(Reply::json(200, "{}")).await;
    server.push(Reply::json(200, EMPTY_DESCRIBE));
    server.push(Reply::json(
        200,
        fixture("aws/run-instances-constructed.xml"),
    ));
    let adapter = aws(&server.url);

    let i = adapter
        .provision(&request(
            "alloc-1",
            "aws:g5.xlarge@us-east-1/us-east-1a:spot",
        ))
        .await
        .unwrap();

    assert_eq!(i.id, InstanceId("us-east-1/i-1234567890abcdef0".into()));
    assert_eq!(i.allocation_id, "alloc-1");
    assert_eq!(i.state, InstanceState::Pending);
    let seen = server.seen.lock().unwrap();
    let find = form(&seen[0]);
    assert_eq!(find["Action"], "DescribeInstances");
    assert_eq!(find["Filter.1.Name"], "tag-key");
    assert_eq!(find["Filter.1.Value.1"], "gpubroker-alloc:alloc-1");
    let run = form(&seen[1]);
    assert_eq!(run["Action"], "RunInstances");
    assert_eq!(run["InstanceType"], "g5.xlarge");
    assert_eq!(run["ImageId"], "ami-0abcdef1234567890");
    assert_eq!(run["ClientToken"], "alloc-1");
    assert_eq!(run["TagSpecification.1.ResourceType"], "instance");
    assert_eq!(run["TagSpecification.1.Tag.1.Key"], "gpubroker");
    assert_eq!(
        run["TagSpecification.1.Tag.2.Key"],
        "gpubroker-alloc:alloc-1"
    );
    assert_eq!(run["InstanceMarketOptions.MarketType"], "spot");
    assert_eq!(run["Placement.AvailabilityZone"], "us-east-1a");
    assert_eq!(run["BlockDeviceMapping.1.Ebs.VolumeSize"], "200");
    assert_signed(&server.url, &seen[1], "us-east-1", "ec2");
}

#[tokio::test]
async fn insufficient_capacity_is_no_capacity_and_the_launch_is_sent_once() {
    let server = Scripted::start(Reply::json(
        500,
        r#"<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>InsufficientInstanceCapacity</Code><Message>We currently do not have sufficient g5.xlarge capacity.</Message></Error></Errors><RequestID>r</RequestID></Response>"#,
    ))
    .await;
    server.push(Reply::json(200, EMPTY_DESCRIBE));
    let adapter = aws(&server.url);

    let err = adapter
        .provision(&request("alloc-2", "aws:g5.xlarge@us-east-1"))
        .await
        .unwrap_err();

    assert_eq!(err, ProviderError::NoCapacity);
    let runs = server
        .seen
        .lock()
        .unwrap()
        .iter()
        .filter(|s| s.body.contains("Action=RunInstances"))
        .count();
    assert_eq!(runs, 1);
}

#[tokio::test]
async fn status_reads_the_running_instance_and_release_terminates_it() {
    let server = Scripted::start(Reply::json(
        200,
        r#"<?xml version="1.0" encoding="UTF-8"?><TerminateInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r</requestId><instancesSet><item><instanceId>i-1234567890abcdef0</instanceId><currentState><code>32</code><name>shutting-down</name></currentState><previousState><code>16</code><name>running</name></previousState></item></instancesSet></TerminateInstancesResponse>"#,
    ))
    .await;
    server.push(Reply::json(
        200,
        fixture("aws/describe-instances-running-constructed.xml"),
    ));
    let adapter = aws(&server.url);
    let id = InstanceId("us-east-1/i-1234567890abcdef0".into());

    let i = adapter.status(&id).await.unwrap();
    adapter.release(&id).await.unwrap();

    assert_eq!(i.state, InstanceState::Running);
    assert_eq!(i.offer_id.0, "aws:g5.xlarge@us-east-1");
    assert_eq!(i.connection.unwrap().ssh_host, "54.194.252.215");
    let seen = server.seen.lock().unwrap();
    assert_eq!(form(&seen[0])["InstanceId.1"], "i-1234567890abcdef0");
    assert_eq!(form(&seen[1])["Action"], "TerminateInstances");
    assert_eq!(form(&seen[1])["InstanceId.1"], "i-1234567890abcdef0");
}

#[tokio::test]
async fn the_secret_key_signs_but_never_travels_nor_reaches_the_logs() {
    let server = Scripted::start(Reply::json(
        401,
        r#"<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>AuthFailure</Code><Message>AWS was not able to validate the provided access credentials</Message></Error></Errors><RequestID>r</RequestID></Response>"#,
    ))
    .await;
    let adapter = aws(&server.url);

    let (err, logs) = with_captured_logs(async {
        let err = adapter.list_instances().await.unwrap_err();
        tracing::info!(adapter = ?adapter, "state");
        err
    })
    .await;

    assert_eq!(err, ProviderError::Auth);
    assert!(logs.contains("provider_call"), "{logs}");
    assert!(!logs.contains(SECRET), "{logs}");
    let seen = server.seen.lock().unwrap();
    assert!(seen[0]
        .header("authorization")
        .unwrap()
        .starts_with("AWS4-HMAC-SHA256 "));
    assert!(!seen[0].headers.iter().any(|(_, v)| v.contains(SECRET)));
    assert!(!seen[0].body.contains(SECRET));
}

#[tokio::test]
async fn aws_passes_the_shared_conformance_suite() {
    assert_error_mapping(|c| {
        let url = c.base_url.clone().unwrap();
        Aws::new(
            EngineConfig {
                credentials: Some(Secret::new(format!("AKIATEST:{SECRET}"))),
                ..c
            },
            settings(&url),
        )
        .unwrap()
    })
    .await;
}
