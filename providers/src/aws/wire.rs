//! AWS wire types: the Price List Query API's JSON (AWS JSON 1.1, `PriceList` items are
//! JSON **strings**), and readers of the EC2 Query API's XML answers (only the elements the
//! adapter reads).

use std::collections::BTreeMap;

use roxmltree::{Document, Node};
use serde::{Deserialize, Serialize};

use crate::ProviderError;

/// `AWSPriceListService.GetProducts` request body.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct GetProducts<'a> {
    pub service_code: &'a str,
    pub format_version: &'a str,
    pub filters: Vec<Filter<'a>>,
    pub max_results: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<&'a str>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Filter<'a> {
    #[serde(rename = "Type")]
    pub kind: &'a str,
    pub field: &'a str,
    pub value: &'a str,
}

/// `GetProducts` answer.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Products {
    pub price_list: Vec<String>,
    #[serde(default)]
    pub next_token: Option<String>,
}

/// One decoded `PriceList` item (`aws_v1` format).
#[derive(Debug, Deserialize)]
pub(crate) struct PriceItem {
    pub product: Product,
    #[serde(default)]
    pub terms: Terms,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Product {
    pub attributes: BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct Terms {
    #[serde(rename = "OnDemand", default)]
    pub on_demand: BTreeMap<String, Term>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Term {
    pub price_dimensions: BTreeMap<String, PriceDimension>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PriceDimension {
    /// `Hrs` for instances.
    pub unit: String,
    pub price_per_unit: BTreeMap<String, String>,
}

/// An EC2 instance type's facts from `DescribeInstanceTypes`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct InstanceTypeInfo {
    pub instance_type: String,
    pub vcpus: Option<u32>,
    pub memory_mib: Option<u64>,
    pub gpus: Vec<GpuInfo>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct GpuInfo {
    pub name: String,
    pub manufacturer: String,
    pub count: u32,
    pub memory_mib: Option<u64>,
}

/// One `DescribeSpotPriceHistory` entry.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SpotPrice {
    pub instance_type: String,
    pub availability_zone: String,
    /// USD per instance-hour, decimal text.
    pub spot_price: String,
    pub timestamp: String,
}

/// An instance from `RunInstances` / `DescribeInstances`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Ec2Instance {
    pub instance_id: String,
    pub instance_type: String,
    /// `pending | running | shutting-down | terminated | stopping | stopped`.
    pub state: String,
    pub availability_zone: Option<String>,
    pub public_ip: Option<String>,
    /// `spot` for spot instances.
    pub lifecycle: Option<String>,
    pub tags: BTreeMap<String, String>,
}

fn invalid(what: &str) -> ProviderError {
    ProviderError::InvalidResponse(format!("EC2 answer: {what}"))
}

fn parse(xml: &str) -> Result<Document<'_>, ProviderError> {
    Document::parse(xml).map_err(|e| ProviderError::InvalidResponse(format!("EC2 XML: {e}")))
}

/// The first child element named `name`.
fn child<'a, 'i>(n: Node<'a, 'i>, name: &str) -> Option<Node<'a, 'i>> {
    n.children()
        .find(|c| c.is_element() && c.tag_name().name() == name)
}

/// The text of the child element at `path` (`instanceState/name`).
fn text<'a>(n: Node<'a, '_>, path: &str) -> Option<&'a str> {
    let mut cur = n;
    for seg in path.split('/') {
        cur = child(cur, seg)?;
    }
    cur.text().map(str::trim)
}

/// The `<item>` children of the child element `set`.
fn items<'a, 'i>(n: Node<'a, 'i>, set: &str) -> Vec<Node<'a, 'i>> {
    child(n, set)
        .map(|s| {
            s.children()
                .filter(|c| c.is_element() && c.tag_name().name() == "item")
                .collect()
        })
        .unwrap_or_default()
}

/// `DescribeInstanceTypesResponse` → its `instanceTypeSet`.
pub(crate) fn instance_types(xml: &str) -> Result<Vec<InstanceTypeInfo>, ProviderError> {
    let doc = parse(xml)?;
    let root = doc.root_element();
    if root.tag_name().name() != "DescribeInstanceTypesResponse" {
        return Err(invalid("not a DescribeInstanceTypesResponse"));
    }
    let mut out = Vec::new();
    for it in items(root, "instanceTypeSet") {
        let instance_type = text(it, "instanceType").ok_or_else(|| invalid("instanceType"))?;
        let gpus = child(it, "gpuInfo")
            .map(|g| {
                items(g, "gpus")
                    .into_iter()
                    .map(|gpu| GpuInfo {
                        name: text(gpu, "name").unwrap_or_default().to_string(),
                        manufacturer: text(gpu, "manufacturer").unwrap_or_default().to_string(),
                        count: text(gpu, "count").and_then(|c| c.parse().ok()).unwrap_or(0),
                        memory_mib: text(gpu, "memoryInfo/sizeInMiB").and_then(|m| m.parse().ok()),
                    })
                    .collect()
            })
            .unwrap_or_default();
        out.push(InstanceTypeInfo {
            instance_type: instance_type.to_string(),
            vcpus: text(it, "vCpuInfo/defaultVCpus").and_then(|v| v.parse().ok()),
            memory_mib: text(it, "memoryInfo/sizeInMiB").and_then(|v| v.parse().ok()),
            gpus,
        });
    }
    Ok(out)
}

/// `DescribeSpotPriceHistoryResponse` → its `spotPriceHistorySet`.
pub(crate) fn spot_prices(xml: &str) -> Result<Vec<SpotPrice>, ProviderError> {
    let doc = parse(xml)?;
    let root = doc.root_element();
    if root.tag_name().name() != "DescribeSpotPriceHistoryResponse" {
        return Err(invalid("not a DescribeSpotPriceHistoryResponse"));
    }
    items(root, "spotPriceHistorySet")
        .into_iter()
        .map(|i| {
            Ok(SpotPrice {
                instance_type: text(i, "instanceType")
                    .ok_or_else(|| invalid("instanceType"))?
                    .to_string(),
                availability_zone: text(i, "availabilityZone")
                    .ok_or_else(|| invalid("availabilityZone"))?
                    .to_string(),
                spot_price: text(i, "spotPrice")
                    .ok_or_else(|| invalid("spotPrice"))?
                    .to_string(),
                timestamp: text(i, "timestamp").unwrap_or_default().to_string(),
            })
        })
        .collect()
}

fn instance(i: Node<'_, '_>) -> Result<Ec2Instance, ProviderError> {
    let tags = items(i, "tagSet")
        .into_iter()
        .filter_map(|t| {
            Some((
                text(t, "key")?.to_string(),
                text(t, "value").unwrap_or_default().to_string(),
            ))
        })
        .collect();
    Ok(Ec2Instance {
        instance_id: text(i, "instanceId")
            .ok_or_else(|| invalid("instanceId"))?
            .to_string(),
        instance_type: text(i, "instanceType").unwrap_or_default().to_string(),
        state: text(i, "instanceState/name")
            .ok_or_else(|| invalid("instanceState"))?
            .to_string(),
        availability_zone: text(i, "placement/availabilityZone").map(str::to_string),
        public_ip: text(i, "ipAddress").map(str::to_string),
        lifecycle: text(i, "instanceLifecycle").map(str::to_string),
        tags,
    })
}

/// `RunInstancesResponse` → its `instancesSet`.
pub(crate) fn run_instances(xml: &str) -> Result<Vec<Ec2Instance>, ProviderError> {
    let doc = parse(xml)?;
    let root = doc.root_element();
    if root.tag_name().name() != "RunInstancesResponse" {
        return Err(invalid("not a RunInstancesResponse"));
    }
    items(root, "instancesSet")
        .into_iter()
        .map(instance)
        .collect()
}

/// `DescribeInstancesResponse` → every instance of every reservation.
pub(crate) fn describe_instances(xml: &str) -> Result<Vec<Ec2Instance>, ProviderError> {
    let doc = parse(xml)?;
    let root = doc.root_element();
    if root.tag_name().name() != "DescribeInstancesResponse" {
        return Err(invalid("not a DescribeInstancesResponse"));
    }
    let mut out = Vec::new();
    for r in items(root, "reservationSet") {
        for i in items(r, "instancesSet") {
            out.push(instance(i)?);
        }
    }
    Ok(out)
}

/// `TerminateInstancesResponse` (its presence is the acknowledgement).
pub(crate) fn terminated(xml: &str) -> Result<(), ProviderError> {
    let doc = parse(xml)?;
    if doc.root_element().tag_name().name() != "TerminateInstancesResponse" {
        return Err(invalid("not a TerminateInstancesResponse"));
    }
    Ok(())
}

/// The first `<Code>` of an EC2 error body (`<Response><Errors><Error><Code>`).
pub(crate) fn error_code(xml: &str) -> Option<String> {
    let doc = Document::parse(xml).ok()?;
    doc.descendants()
        .find(|n| n.is_element() && n.tag_name().name() == "Code")
        .and_then(|n| n.text())
        .map(|t| t.trim().to_string())
}
