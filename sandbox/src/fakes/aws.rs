//! A fake of AWS as the EC2 adapter speaks to it, on one loopback root: the Price List Query
//! API (`POST /` with `X-Amz-Target: AWSPriceListService.GetProducts`, AWS JSON 1.1) and the
//! EC2 Query API (`POST /` form `Action=...&Version=2016-11-15`, XML answers), over the
//! market's `aws` offers and instances.
//!
//! Every request must carry a valid SigV4 signature: the fake parses `Authorization`
//! (`Credential=<key>/<date>/<region>/<service>/aws4_request, SignedHeaders=..,
//! Signature=..`), recomputes it over the request as received with the secret it knows
//! ([`ACCESS_KEY_ID`] / the sandbox key) and answers `AuthFailure` on a mismatch. The EC2
//! region is the signature's region (as a regional endpoint would be).
//!
//! - `GetProducts`: one price-list item (a JSON **string**) per market instance type of the
//!   filtered `regionCode`, its cheapest on-demand price there; pages of `MaxResults`.
//! - `DescribeInstanceTypes`: `gpuInfo` (name = the market's GPU model, memory MiB), vCPUs,
//!   memory. `DescribeSpotPriceHistory`: one price per type and zone of the market's spot
//!   offers (the zone is the market's zone id).
//! - `RunInstances` (`ClientToken`, tags, spot market options), `DescribeInstances`
//!   (`InstanceId.N`, `tag:<key>` / `tag-key` filters; terminated instances stay listed),
//!   `TerminateInstances`. No capacity → 500 `InsufficientInstanceCapacity`.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use chrono::NaiveDateTime;
use providers::http::sigv4;
use providers::{
    gpus, ownership, Instance, InstanceId, InstanceState, Offer, Pricing, ProviderError,
    ProvisionRequest,
};
use serde::Deserialize;
use serde_json::json;

use super::{guarded, json, FakeAuth, FakeContext};

/// The access key id the fake knows (the sandbox key is the secret access key).
pub const ACCESS_KEY_ID: &str = "AKIASANDBOX000000000";

/// The fake's router; mount it at the root and point both the pricing and the EC2 endpoint
/// of the adapter at `<url>`.
pub fn router(ctx: FakeContext) -> Router {
    let api = Router::new()
        .route("/", post(dispatch))
        .with_state(ctx.clone());
    let secret = ctx.api_key.clone();
    guarded(api, ctx, FakeAuth::Public).layer(middleware::from_fn(
        move |req: Request, next: Next| {
            let secret = secret.clone();
            async move { check_signature(&secret, req, next).await }
        },
    ))
}

/// The signing scope the request was accepted under.
#[derive(Debug, Clone)]
struct Scope(sigv4::Scope);

fn xml(status: StatusCode, body: String) -> Response {
    (
        status,
        [("content-type", "text/xml;charset=UTF-8")],
        format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{body}"),
    )
        .into_response()
}

fn ec2_error(status: StatusCode, code: &str, message: &str) -> Response {
    xml(
        status,
        format!("<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors><RequestID>00000000-0000-4000-8000-000000000000</RequestID></Response>"),
    )
}

/// `Credential=AK/date/region/service/aws4_request, SignedHeaders=a;b, Signature=hex`.
fn parse_authorization(h: &str) -> Option<(String, sigv4::Scope, Vec<String>)> {
    let rest = h.strip_prefix("AWS4-HMAC-SHA256 ")?;
    let mut credential = None;
    let mut signed = None;
    for part in rest.split(", ") {
        if let Some(c) = part.strip_prefix("Credential=") {
            credential = Some(c);
        } else if let Some(s) = part.strip_prefix("SignedHeaders=") {
            signed = Some(s);
        }
    }
    let mut c = credential?.split('/');
    let (ak, _date, region, service) = (c.next()?, c.next()?, c.next()?, c.next()?);
    let signed = signed?.split(';').map(str::to_string).collect();
    Some((
        ak.to_string(),
        sigv4::Scope {
            region: region.to_string(),
            service: service.to_string(),
        },
        signed,
    ))
}

fn header(h: &HeaderMap, name: &str) -> Option<String> {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

async fn check_signature(secret: &str, req: Request, next: Next) -> Response {
    let refuse = || {
        ec2_error(
            StatusCode::UNAUTHORIZED,
            "AuthFailure",
            "AWS was not able to validate the provided access credentials",
        )
    };
    let Some(auth) = header(req.headers(), "authorization") else {
        return refuse();
    };
    let (Some((ak, scope, signed)), Some(date), Some(host)) = (
        parse_authorization(&auth),
        header(req.headers(), "x-amz-date"),
        header(req.headers(), "host"),
    ) else {
        return refuse();
    };
    let Ok(at) = NaiveDateTime::parse_from_str(&date, "%Y%m%dT%H%M%SZ") else {
        return refuse();
    };
    let headers: Vec<(String, String)> = signed
        .iter()
        .filter(|n| *n != "host" && *n != "x-amz-date")
        .filter_map(|n| Some((n.clone(), header(req.headers(), n)?)))
        .collect();
    let method = req.method().to_string();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let (mut parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 1 << 20).await else {
        return refuse();
    };
    let expected = sigv4::sign(
        &sigv4::Request {
            method: &method,
            path: &path,
            query: &query,
            host: &host,
            headers: &headers,
            payload: &bytes,
        },
        &format!("{ak}:{secret}"),
        &scope,
        at.and_utc(),
    );
    if ak != ACCESS_KEY_ID || expected.map(|s| s.authorization) != Some(auth) {
        return ec2_error(
            StatusCode::FORBIDDEN,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided",
        );
    }
    parts.extensions.insert(Scope(scope));
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

async fn dispatch(State(ctx): State<FakeContext>, req: Request) -> Response {
    let scope = req.extensions().get::<Scope>().map(|s| s.0.clone());
    let target = header(req.headers(), "x-amz-target");
    let Ok(bytes) = axum::body::to_bytes(req.into_body(), 1 << 20).await else {
        return ec2_error(
            StatusCode::BAD_REQUEST,
            "InvalidParameterValue",
            "unreadable body",
        );
    };
    let Some(scope) = scope else {
        return ec2_error(StatusCode::UNAUTHORIZED, "AuthFailure", "unsigned");
    };
    if let Some(target) = target {
        return match target.as_str() {
            "AWSPriceListService.GetProducts" if scope.service == "pricing" => {
                get_products(&ctx, &bytes)
            }
            _ => json(
                StatusCode::BAD_REQUEST,
                json!({"__type": "com.amazon.coral.service#UnknownOperationException"}),
            ),
        };
    }
    if scope.service != "ec2" {
        return ec2_error(StatusCode::BAD_REQUEST, "InvalidAction", "wrong service");
    }
    let form: Vec<(String, String)> = url_decode_form(&bytes);
    let param = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let list = |prefix: &str| -> Vec<&str> {
        form.iter()
            .filter(|(n, _)| {
                n.strip_prefix(prefix)
                    .is_some_and(|i| i.parse::<u32>().is_ok())
            })
            .map(|(_, v)| v.as_str())
            .collect()
    };
    if param("Version") != Some("2016-11-15") {
        return ec2_error(StatusCode::BAD_REQUEST, "MissingParameter", "Version");
    }
    let region = scope.region.as_str();
    match param("Action") {
        Some("DescribeInstanceTypes") => {
            describe_instance_types(&ctx, region, &list("InstanceType."))
        }
        Some("DescribeSpotPriceHistory") => {
            spot_price_history(&ctx, region, &list("InstanceType."))
        }
        Some("RunInstances") => run_instances(&ctx, region, &form),
        Some("DescribeInstances") => describe_instances(&ctx, region, &form),
        Some("TerminateInstances") => terminate(&ctx, region, &list("InstanceId.")),
        _ => ec2_error(
            StatusCode::BAD_REQUEST,
            "InvalidAction",
            "The action is not valid for this web service.",
        ),
    }
}

/// Decodes `application/x-www-form-urlencoded` (`+` is a space, `%XX` a byte).
fn url_decode_form(body: &[u8]) -> Vec<(String, String)> {
    fn dec(s: &str) -> String {
        let b = s.as_bytes();
        let mut out = Vec::with_capacity(b.len());
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < b.len() => {
                    match std::str::from_utf8(&b[i + 1..i + 3])
                        .ok()
                        .and_then(|h| u8::from_str_radix(h, 16).ok())
                    {
                        Some(v) => {
                            out.push(v);
                            i += 2;
                        }
                        None => out.push(b'%'),
                    }
                }
                c => out.push(c),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    String::from_utf8_lossy(body)
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (dec(k), dec(v))
        })
        .collect()
}

/// The market's aws offers of `region` (duplicates of a key left out).
fn offers(ctx: &FakeContext, region: &str, pricing: Pricing) -> Vec<Offer> {
    ctx.market
        .offers(&ctx.provider)
        .into_iter()
        .filter(|o| o.pricing == pricing && o.region == region && !o.id.key().contains('~'))
        .collect()
}

/// The market zone of an offer (`g5.xlarge@us-east-1/use1-az1` → `use1-az1`).
fn zone_of(o: &Offer) -> &str {
    let key = o.id.key();
    let key = key.strip_suffix(":spot").unwrap_or(key);
    key.split_once('/').map_or("", |(_, z)| z)
}

/// The cheapest on-demand offer of each instance type in `region`.
fn cheapest_by_type(ctx: &FakeContext, region: &str) -> BTreeMap<String, Offer> {
    let mut out: BTreeMap<String, Offer> = BTreeMap::new();
    for o in offers(ctx, region, Pricing::OnDemand) {
        match out.get(&o.instance_type) {
            Some(have) if have.price_per_hour <= o.price_per_hour => {}
            _ => {
                out.insert(o.instance_type.clone(), o);
            }
        }
    }
    out
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GetProductsBody {
    service_code: String,
    #[serde(default)]
    filters: Vec<FilterBody>,
    #[serde(default)]
    max_results: Option<usize>,
    #[serde(default)]
    next_token: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct FilterBody {
    field: String,
    value: String,
}

fn usd(micro: i64) -> String {
    format!("{}.{:06}0000", micro / 1_000_000, micro % 1_000_000)
}

fn get_products(ctx: &FakeContext, body: &[u8]) -> Response {
    let Ok(req) = serde_json::from_slice::<GetProductsBody>(body) else {
        return json(
            StatusCode::BAD_REQUEST,
            json!({"__type": "com.amazon.coral.validate#ValidationException", "message": "invalid body"}),
        );
    };
    if req.service_code != "AmazonEC2" {
        return json(
            StatusCode::OK,
            json!({"FormatVersion": "aws_v1", "PriceList": []}),
        );
    }
    let filter = |f: &str| {
        req.filters
            .iter()
            .find(|x| x.field == f)
            .map(|x| x.value.as_str())
    };
    let region = filter("regionCode").unwrap_or("us-east-1");
    if filter("instanceFamily").is_some_and(|f| f != "GPU instance") {
        return json(
            StatusCode::OK,
            json!({"FormatVersion": "aws_v1", "PriceList": []}),
        );
    }
    let items: Vec<String> = cheapest_by_type(ctx, region)
        .into_values()
        .enumerate()
        .map(|(i, o)| {
            let sku = format!("SKU{i:05}{}", region.len());
            json!({
                "product": {
                    "productFamily": "Compute Instance",
                    "attributes": {
                        "instanceType": o.instance_type,
                        "regionCode": region,
                        "locationType": "AWS Region",
                        "instanceFamily": "GPU instance",
                        "operatingSystem": "Linux",
                        "tenancy": "Shared",
                        "preInstalledSw": "NA",
                        "capacitystatus": "Used",
                        "vcpu": o.vcpus.unwrap_or(0).to_string(),
                        "memory": format!("{} GiB", o.memory_gib.unwrap_or(0.0)),
                        "gpu": o.gpu_count.to_string(),
                        "servicecode": "AmazonEC2",
                    },
                    "sku": sku,
                },
                "serviceCode": "AmazonEC2",
                "terms": {"OnDemand": {format!("{sku}.JRTCKXETXF"): {
                    "priceDimensions": {format!("{sku}.JRTCKXETXF.6YS6EN2CT7"): {
                        "unit": "Hrs", "endRange": "Inf", "beginRange": "0", "appliesTo": [],
                        "description": format!("${} per On Demand Linux {} Instance Hour", usd(o.price_per_hour.0), o.instance_type),
                        "rateCode": format!("{sku}.JRTCKXETXF.6YS6EN2CT7"),
                        "pricePerUnit": {"USD": usd(o.price_per_hour.0)},
                    }},
                    "sku": sku, "effectiveDate": "2026-11-01T00:00:00Z",
                    "offerTermCode": "JRTCKXETXF", "termAttributes": {},
                }}},
                "version": "20261101000000",
                "publicationDate": "2026-11-01T00:00:00Z",
            })
            .to_string()
        })
        .collect();
    let page = req.max_results.unwrap_or(100).clamp(1, 100);
    let start: usize = req
        .next_token
        .as_deref()
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    let end = (start + page).min(items.len());
    let mut out =
        json!({"FormatVersion": "aws_v1", "PriceList": items.get(start..end).unwrap_or_default()});
    if end < items.len() {
        out["NextToken"] = json!(end.to_string());
    }
    json(StatusCode::OK, out)
}

fn describe_instance_types(ctx: &FakeContext, region: &str, types: &[&str]) -> Response {
    let known = cheapest_by_type(ctx, region);
    let mut body = String::from("<DescribeInstanceTypesResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"><requestId>r</requestId><instanceTypeSet>");
    for t in types {
        let Some(o) = known.get(*t) else {
            return ec2_error(
                StatusCode::BAD_REQUEST,
                "InvalidInstanceType",
                &format!("The following supplied instance types do not exist: [{t}]"),
            );
        };
        let vendor = gpus::by_name(&o.gpu_model).map_or("NVIDIA", |m| m.vendor);
        let per_gpu_mib = (o.gpu_memory_gib * 1024.0).round() as u64;
        body.push_str(&format!(
            "<item><instanceType>{t}</instanceType><currentGeneration>true</currentGeneration>\
             <vCpuInfo><defaultVCpus>{}</defaultVCpus></vCpuInfo>\
             <memoryInfo><sizeInMiB>{}</sizeInMiB></memoryInfo>\
             <gpuInfo><gpus><item><name>{}</name><manufacturer>{vendor}</manufacturer><count>{}</count>\
             <memoryInfo><sizeInMiB>{per_gpu_mib}</sizeInMiB></memoryInfo></item></gpus>\
             <totalGpuMemoryInMiB>{}</totalGpuMemoryInMiB></gpuInfo></item>",
            o.vcpus.unwrap_or(0),
            (o.memory_gib.unwrap_or(0.0) * 1024.0).round() as u64,
            o.gpu_model,
            o.gpu_count,
            per_gpu_mib * u64::from(o.gpu_count),
        ));
    }
    body.push_str("</instanceTypeSet></DescribeInstanceTypesResponse>");
    xml(StatusCode::OK, body)
}

fn spot_price_history(ctx: &FakeContext, region: &str, types: &[&str]) -> Response {
    let now = ctx.market.now().format("%Y-%m-%dT%H:%M:%S.000Z");
    let mut body = String::from("<DescribeSpotPriceHistoryResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"><requestId>r</requestId><spotPriceHistorySet>");
    for o in offers(ctx, region, Pricing::Spot) {
        if !types.is_empty() && !types.contains(&o.instance_type.as_str()) {
            continue;
        }
        body.push_str(&format!(
            "<item><instanceType>{}</instanceType><productDescription>Linux/UNIX</productDescription>\
             <spotPrice>{}</spotPrice><timestamp>{now}</timestamp><availabilityZone>{}</availabilityZone></item>",
            o.instance_type,
            usd(o.price_per_hour.0).trim_end_matches("0000"),
            zone_of(&o),
        ));
    }
    body.push_str("</spotPriceHistorySet><nextToken/></DescribeSpotPriceHistoryResponse>");
    xml(StatusCode::OK, body)
}

fn instance_xml(ctx: &FakeContext, i: &Instance) -> String {
    let offer = ctx.market.offer(&i.offer_id);
    let (code, name) = match i.state {
        InstanceState::Pending => (0, "pending"),
        InstanceState::Running => (16, "running"),
        InstanceState::Terminating => (32, "shutting-down"),
        InstanceState::Terminated => (48, "terminated"),
        InstanceState::Failed => (80, "stopped"),
    };
    let ip = i
        .connection
        .as_ref()
        .map(|c| format!("<ipAddress>{}</ipAddress>", c.ssh_host))
        .unwrap_or_default();
    let (instance_type, zone, spot) = match &offer {
        Some(o) => (
            o.instance_type.as_str(),
            zone_of(o),
            o.pricing == Pricing::Spot,
        ),
        None => ("", "", false),
    };
    let lifecycle = if spot {
        "<instanceLifecycle>spot</instanceLifecycle>"
    } else {
        ""
    };
    format!(
        "<item><instanceId>{}</instanceId><imageId>ami-sandbox</imageId>\
         <instanceState><code>{code}</code><name>{name}</name></instanceState>\
         <instanceType>{instance_type}</instanceType><placement><availabilityZone>{zone}</availabilityZone></placement>\
         {ip}{lifecycle}<tagSet><item><key>{}</key><value>1</value></item>\
         <item><key>{}{}</key><value/></item></tagSet></item>",
        i.id.0,
        ownership::BROKER_TAG,
        ownership::ALLOCATION_TAG_PREFIX,
        i.allocation_id,
    )
}

/// The instances of `region` (EC2 keeps terminated ones listed for a while).
fn instances(ctx: &FakeContext, region: &str) -> Vec<Instance> {
    ctx.market
        .instances(&ctx.provider)
        .into_iter()
        .filter(|i| {
            ctx.market
                .offer(&i.offer_id)
                .is_some_and(|o| o.region == region)
        })
        .collect()
}

fn run_instances(ctx: &FakeContext, region: &str, form: &[(String, String)]) -> Response {
    let param = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let (Some(image), Some(instance_type)) = (param("ImageId"), param("InstanceType")) else {
        return ec2_error(
            StatusCode::BAD_REQUEST,
            "MissingParameter",
            "ImageId and InstanceType are required",
        );
    };
    if !image.starts_with("ami-") {
        return ec2_error(
            StatusCode::BAD_REQUEST,
            "InvalidAMIID.Malformed",
            "Invalid id",
        );
    }
    // The allocation tag is a tag key (`gpubroker-alloc:<id>`).
    let allocation = form
        .iter()
        .filter(|(k, _)| k.ends_with(".Key"))
        .find_map(|(_, v)| v.strip_prefix(ownership::ALLOCATION_TAG_PREFIX))
        .or_else(|| param("ClientToken"));
    let Some(allocation) = allocation else {
        return ec2_error(StatusCode::BAD_REQUEST, "MissingParameter", "ClientToken");
    };
    let spot = param("InstanceMarketOptions.MarketType") == Some("spot");
    let zone = param("Placement.AvailabilityZone");
    let pricing = if spot {
        Pricing::Spot
    } else {
        Pricing::OnDemand
    };
    let candidates: Vec<Offer> = offers(ctx, region, pricing)
        .into_iter()
        .filter(|o| o.instance_type == instance_type && zone.is_none_or(|z| zone_of(o) == z))
        .collect();
    if candidates.is_empty() {
        return ec2_error(
            StatusCode::BAD_REQUEST,
            "Unsupported",
            "Your requested instance type is not supported in your requested Availability Zone.",
        );
    }
    let offer = candidates
        .iter()
        .find(|o| o.available > 0)
        .unwrap_or(&candidates[0]);
    let req = ProvisionRequest {
        allocation_id: allocation.to_string(),
        offer_id: offer.id.clone(),
        gpu_count: 0,
        disk_gib: 0,
        image: image.to_string(),
        ssh_public_key: None,
    };
    match ctx.market.provision(&ctx.provider, &req) {
        Ok(i) => xml(
            StatusCode::OK,
            format!(
                "<RunInstancesResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"><requestId>r</requestId>\
                 <reservationId>r-{}</reservationId><ownerId>123456789012</ownerId><groupSet/>\
                 <instancesSet>{}</instancesSet></RunInstancesResponse>",
                i.id.0.trim_start_matches("i-"),
                instance_xml(ctx, &i)
            ),
        ),
        Err(ProviderError::NoCapacity) => ec2_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InsufficientInstanceCapacity",
            &format!("We currently do not have sufficient {instance_type} capacity in the Availability Zone you requested."),
        ),
        Err(_) => ec2_error(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", "An internal error has occurred"),
    }
}

fn describe_instances(ctx: &FakeContext, region: &str, form: &[(String, String)]) -> Response {
    let param = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let ids: Vec<&str> = form
        .iter()
        .filter(|(n, _)| n.starts_with("InstanceId."))
        .map(|(_, v)| v.as_str())
        .collect();
    let filter_name = param("Filter.1.Name");
    let filter_value = param("Filter.1.Value.1");
    let mut all = instances(ctx, region);
    for id in &ids {
        if !all.iter().any(|i| i.id.0 == *id) {
            return ec2_error(
                StatusCode::BAD_REQUEST,
                "InvalidInstanceID.NotFound",
                &format!("The instance ID '{id}' does not exist"),
            );
        }
    }
    all.retain(|i| {
        (ids.is_empty() || ids.contains(&i.id.0.as_str()))
            && match (filter_name, filter_value) {
                (Some("tag-key"), Some(v)) => {
                    match v.strip_prefix(ownership::ALLOCATION_TAG_PREFIX) {
                        Some(id) => i.allocation_id == id,
                        None => v == ownership::BROKER_TAG,
                    }
                }
                (None, _) => true,
                _ => false,
            }
    });
    let items: String = all
        .iter()
        .map(|i| {
            format!(
                "<item><reservationId>r-{}</reservationId><ownerId>123456789012</ownerId><groupSet/><instancesSet>{}</instancesSet></item>",
                i.id.0.trim_start_matches("i-"),
                instance_xml(ctx, i)
            )
        })
        .collect();
    xml(
        StatusCode::OK,
        format!("<DescribeInstancesResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"><requestId>r</requestId><reservationSet>{items}</reservationSet></DescribeInstancesResponse>"),
    )
}

fn terminate(ctx: &FakeContext, region: &str, ids: &[&str]) -> Response {
    let mut items = String::new();
    for id in ids {
        let known = instances(ctx, region).into_iter().any(|i| i.id.0 == *id);
        if !known
            || ctx
                .market
                .release(&ctx.provider, &InstanceId((*id).to_string()))
                .is_err()
        {
            return ec2_error(
                StatusCode::BAD_REQUEST,
                "InvalidInstanceID.NotFound",
                &format!("The instance ID '{id}' does not exist"),
            );
        }
        items.push_str(&format!(
            "<item><instanceId>{id}</instanceId><currentState><code>32</code><name>shutting-down</name></currentState>\
             <previousState><code>16</code><name>running</name></previousState></item>"
        ));
    }
    xml(
        StatusCode::OK,
        format!("<TerminateInstancesResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"><requestId>r</requestId><instancesSet>{items}</instancesSet></TerminateInstancesResponse>"),
    )
}
