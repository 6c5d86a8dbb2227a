//! Amazon Web Services EC2 (`aws`), through the Price List Query API and the EC2 Query API,
//! every request signed with AWS Signature Version 4 by the engine.
//!
//! - Offers, per configured region: `AWSPriceListService.GetProducts` (AWS JSON 1.1, `POST /`
//!   at `api.pricing.us-east-1.amazonaws.com`, `X-Amz-Target`; filters `regionCode`,
//!   `instanceFamily` = `GPU instance`, Linux, shared tenancy, no pre-installed software,
//!   `capacitystatus` = `Used`; pages through `NextToken`; each `PriceList` item is a JSON
//!   **string** whose `terms.OnDemand.*.priceDimensions.*.pricePerUnit.USD` is USD per
//!   instance-hour). The price list does not name GPUs: `DescribeInstanceTypes` (EC2 Query
//!   API, XML) gives each type's `gpuInfo` (name, manufacturer, count, memory MiB), vCPUs
//!   and memory. Spot: `DescribeSpotPriceHistory` (`Linux/UNIX`, from now) gives the latest
//!   price per availability zone: one spot offer per type and zone. No capacity signal: one
//!   unit each.
//! - Provision: `RunInstances` in the offer's region (`ClientToken` = the allocation id, so
//!   EC2 itself makes a retried launch idempotent; `TagSpecification` tag keys `gpubroker`
//!   and the `ownership` allocation tag `gpubroker-alloc:<allocation id>`; spot offers add
//!   `InstanceMarketOptions.MarketType=spot` and the zone); find `DescribeInstances` filtered
//!   by `tag-key` = the allocation tag in each region; status `DescribeInstances` by
//!   `InstanceId`; release `TerminateInstances`. Instance ids are `<region>/<i-...>`.
//! - Auth: SigV4 (`AWS4-HMAC-SHA256`) from the credential `access_key_id:secret_access_key`;
//!   service `pricing` (region `us-east-1`) for prices, `ec2` in the instance's region for the
//!   rest. Errors: EC2's XML `<Code>` and the Price List API's JSON `__type`, read by
//!   `map::classify` (`InsufficientInstanceCapacity` → no capacity, `VcpuLimitExceeded` →
//!   no quota, `RequestLimitExceeded` → rate limited).

mod map;
mod wire;

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;

use crate::http::{
    AuthScheme, Call, Descriptor, Engine, EngineConfig, EngineError, DEFAULT_RETRYABLE,
};
use crate::{
    ownership, Capabilities, Instance, InstanceId, InstanceState, Offer, Provider, ProviderError,
    ProviderId, ProvisionRequest,
};
use wire::{Filter, GetProducts, PriceItem, Products};

/// The EC2 API version every Query API call names.
const EC2_VERSION: &str = "2016-11-15";

/// Most price-list pages one region's listing follows.
const MAX_PAGES: usize = 50;

/// AWS as the engine sees it: the Price List endpoint is the base; EC2 calls go to the
/// region's endpoint with their own SigV4 scope.
pub fn descriptor() -> Descriptor {
    Descriptor {
        id: "aws",
        display_name: "AWS",
        base_url: "https://api.pricing.us-east-1.amazonaws.com",
        auth: AuthScheme::AwsSigV4 {
            region: "us-east-1",
            service: "pricing",
        },
        quota_per_minute: 300,
        burst: 10,
        timeout: Duration::from_secs(30),
        retryable_statuses: DEFAULT_RETRYABLE,
        classify_error: Some(map::classify),
    }
}

/// Settings of the AWS adapter beyond the engine's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsSettings {
    /// Regions listed and searched.
    pub regions: Vec<String>,
    /// One EC2 endpoint for every region (a sandbox fake, a VPC endpoint); `None` is
    /// `https://ec2.<region>.amazonaws.com`.
    pub ec2_endpoint: Option<String>,
    /// The AMI each region boots (AMI ids are regional).
    pub image_ids: BTreeMap<String, String>,
    /// A registered key pair name, if instances should get one.
    pub key_name: Option<String>,
}

impl Default for AwsSettings {
    fn default() -> Self {
        Self {
            regions: ["us-east-1", "us-west-2", "eu-west-1"]
                .map(str::to_string)
                .to_vec(),
            ec2_endpoint: None,
            image_ids: BTreeMap::new(),
            key_name: None,
        }
    }
}

/// The AWS EC2 adapter.
#[derive(Debug)]
pub struct Aws {
    engine: Engine,
    settings: AwsSettings,
}

impl Aws {
    pub fn new(config: EngineConfig, settings: AwsSettings) -> Result<Self, EngineError> {
        Ok(Self {
            engine: Engine::new(descriptor(), config)?,
            settings,
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    fn ec2_endpoint(&self, region: &str) -> String {
        self.settings
            .ec2_endpoint
            .clone()
            .unwrap_or_else(|| format!("https://ec2.{region}.amazonaws.com"))
    }

    /// One EC2 Query API call in `region`, answered with XML.
    async fn ec2(
        &self,
        op: &'static str,
        region: &str,
        action: &str,
        params: Vec<(String, String)>,
        idempotent: bool,
    ) -> Result<String, ProviderError> {
        let mut form = vec![
            ("Action".to_string(), action.to_string()),
            ("Version".to_string(), EC2_VERSION.to_string()),
        ];
        form.extend(params);
        let mut call = Call::post_form(op, "/", form)
            .at(self.ec2_endpoint(region))
            .scope(region, "ec2");
        if idempotent {
            call = call.idempotent();
        }
        self.engine.text(call).await
    }

    async fn price_list(&self, region: &str) -> Result<Vec<PriceItem>, ProviderError> {
        let mut items = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let body = GetProducts {
                service_code: "AmazonEC2",
                format_version: "aws_v1",
                filters: [
                    ("regionCode", region),
                    ("instanceFamily", "GPU instance"),
                    ("operatingSystem", "Linux"),
                    ("tenancy", "Shared"),
                    ("preInstalledSw", "NA"),
                    ("capacitystatus", "Used"),
                ]
                .into_iter()
                .map(|(field, value)| Filter {
                    kind: "TERM_MATCH",
                    field,
                    value,
                })
                .collect(),
                max_results: 100,
                next_token: token.as_deref(),
            };
            let page: Products = self
                .engine
                .json(
                    Call::post("list_offers", "/", &body)?
                        .idempotent()
                        .header("X-Amz-Target", "AWSPriceListService.GetProducts")
                        .content_type("application/x-amz-json-1.1"),
                )
                .await?;
            for raw in &page.price_list {
                let item: PriceItem = serde_json::from_str(raw)
                    .map_err(|e| ProviderError::InvalidResponse(format!("price list item: {e}")))?;
                items.push(item);
            }
            match page.next_token {
                Some(t) if !t.is_empty() => token = Some(t),
                _ => break,
            }
        }
        Ok(items)
    }

    async fn region_offers(&self, region: &str) -> Result<crate::http::Mapped, ProviderError> {
        let items = self.price_list(region).await?;
        let prices = map::on_demand_prices(&items, region);
        let mut types = Vec::new();
        let mut spot = Vec::new();
        let names: Vec<&String> = prices.keys().collect();
        // DescribeInstanceTypes takes up to 100 types per call.
        for chunk in names.chunks(100) {
            let params: Vec<(String, String)> = chunk
                .iter()
                .enumerate()
                .map(|(i, t)| (format!("InstanceType.{}", i + 1), (*t).clone()))
                .collect();
            let xml = self
                .ec2(
                    "instance_types",
                    region,
                    "DescribeInstanceTypes",
                    params.clone(),
                    true,
                )
                .await?;
            types.extend(wire::instance_types(&xml)?);
            let mut spot_params = params;
            spot_params.push(("ProductDescription.1".to_string(), "Linux/UNIX".to_string()));
            spot_params.push((
                "StartTime".to_string(),
                self.engine.now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            ));
            let xml = self
                .ec2(
                    "spot_prices",
                    region,
                    "DescribeSpotPriceHistory",
                    spot_params,
                    true,
                )
                .await?;
            spot.extend(wire::spot_prices(&xml)?);
        }
        Ok(map::offers(
            self.engine.provider_id(),
            region,
            &prices,
            &types,
            &spot,
            self.engine.now(),
        ))
    }

    async fn fetch_offers(&self) -> Result<Vec<Offer>, ProviderError> {
        let mut offers = Vec::new();
        for region in &self.settings.regions {
            let mapped = self.region_offers(region).await?;
            self.engine.count_skipped(&mapped.unknown_gpus);
            offers.extend(mapped.offers);
        }
        Ok(offers)
    }

    /// Instances in every configured region matching `filter` (query parameters).
    async fn describe(&self, filter: &[(String, String)]) -> Result<Vec<Instance>, ProviderError> {
        let mut out = Vec::new();
        for region in &self.settings.regions {
            let xml = self
                .ec2(
                    "list_instances",
                    region,
                    "DescribeInstances",
                    filter.to_vec(),
                    true,
                )
                .await?;
            for i in wire::describe_instances(&xml)? {
                out.push(map::instance(self.engine.provider_id(), region, &i)?);
            }
        }
        Ok(out)
    }
}

/// `DescribeInstances` filter: instances carrying the tag key `key`.
fn tag_key_filter(key: &str) -> Vec<(String, String)> {
    vec![
        ("Filter.1.Name".to_string(), "tag-key".to_string()),
        ("Filter.1.Value.1".to_string(), key.to_string()),
    ]
}

#[async_trait]
impl Provider for Aws {
    fn engine(&self) -> Option<&crate::http::Engine> {
        Some(&self.engine)
    }

    fn id(&self) -> &ProviderId {
        self.engine.provider_id()
    }

    fn display_name(&self) -> &str {
        self.engine.descriptor().display_name
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::ALL
    }

    async fn list_offers(&self) -> Result<Vec<Offer>, ProviderError> {
        self.engine.offers(|| self.fetch_offers()).await
    }

    async fn provision(&self, req: &ProvisionRequest) -> Result<Instance, ProviderError> {
        if let Some(existing) = self.find_by_allocation(&req.allocation_id).await? {
            if existing.state != InstanceState::Terminated {
                return Ok(existing);
            }
        }
        let launch = map::parse_offer_id(&req.offer_id).ok_or(ProviderError::NotFound)?;
        let allocation_tag = ownership::allocation_tag(&req.allocation_id).ok_or_else(|| {
            ProviderError::InvalidResponse(format!(
                "allocation id `{}` cannot be carried in an EC2 tag",
                req.allocation_id
            ))
        })?;
        let image = self
            .settings
            .image_ids
            .get(launch.region)
            .ok_or(ProviderError::NotFound)?;
        let mut params: Vec<(String, String)> = [
            ("ImageId", image.as_str()),
            ("InstanceType", launch.instance_type),
            ("MinCount", "1"),
            ("MaxCount", "1"),
            ("ClientToken", req.allocation_id.as_str()),
            ("TagSpecification.1.ResourceType", "instance"),
            ("TagSpecification.1.Tag.1.Key", ownership::BROKER_TAG),
            ("TagSpecification.1.Tag.1.Value", "1"),
            ("TagSpecification.1.Tag.2.Key", allocation_tag.as_str()),
            ("TagSpecification.1.Tag.2.Value", ""),
            ("BlockDeviceMapping.1.DeviceName", "/dev/sda1"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        params.push((
            "BlockDeviceMapping.1.Ebs.VolumeSize".to_string(),
            req.disk_gib.max(8).to_string(),
        ));
        if let Some(key) = &self.settings.key_name {
            params.push(("KeyName".to_string(), key.clone()));
        }
        if let Some(zone) = launch.spot_zone {
            params.push((
                "InstanceMarketOptions.MarketType".to_string(),
                "spot".to_string(),
            ));
            params.push(("Placement.AvailabilityZone".to_string(), zone.to_string()));
        }
        let xml = self
            .ec2("launch", launch.region, "RunInstances", params, false)
            .await?;
        let made = wire::run_instances(&xml)?;
        let first = made.first().ok_or_else(|| {
            ProviderError::InvalidResponse("RunInstances returned no instance".to_string())
        })?;
        map::instance(self.engine.provider_id(), launch.region, first)
    }

    async fn status(&self, id: &InstanceId) -> Result<Instance, ProviderError> {
        let (region, ec2_id) = map::parse_instance_id(id).ok_or(ProviderError::NotFound)?;
        let xml = self
            .ec2(
                "status",
                region,
                "DescribeInstances",
                vec![("InstanceId.1".to_string(), ec2_id.to_string())],
                true,
            )
            .await?;
        let found = wire::describe_instances(&xml)?;
        let i = found.first().ok_or(ProviderError::NotFound)?;
        map::instance(self.engine.provider_id(), region, i)
    }

    async fn release(&self, id: &InstanceId) -> Result<(), ProviderError> {
        let (region, ec2_id) = map::parse_instance_id(id).ok_or(ProviderError::NotFound)?;
        let xml = self
            .ec2(
                "terminate",
                region,
                "TerminateInstances",
                vec![("InstanceId.1".to_string(), ec2_id.to_string())],
                false,
            )
            .await?;
        wire::terminated(&xml)
    }

    async fn list_instances(&self) -> Result<Vec<Instance>, ProviderError> {
        self.describe(&tag_key_filter(ownership::BROKER_TAG)).await
    }

    async fn find_by_allocation(
        &self,
        allocation_id: &str,
    ) -> Result<Option<Instance>, ProviderError> {
        let Some(tag) = ownership::allocation_tag(allocation_id) else {
            return Ok(None);
        };
        Ok(self
            .describe(&tag_key_filter(&tag))
            .await?
            .into_iter()
            .find(|i| i.allocation_id == allocation_id && i.state != InstanceState::Terminated))
    }
}
