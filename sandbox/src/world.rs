//! SANDBOX mode's outside world: the providers a sandbox tenant talks to. For every vendor
//! with a protocol-faithful fake, the fake is started on loopback and the REAL adapter (real
//! engine, breaker, cache) is pointed at it; the other providers are [`SimProvider`]s over
//! the same market.
//!
//! Invariants: every provider of the market is present exactly once, plus `maas` (the
//! operator's owned machines, [`crate::fleet`]); no adapter built here
//! can reach a non-loopback address (its base URL is a fake's).

use std::collections::BTreeMap;
use std::sync::Arc;

use providers::akash::Akash;
use providers::aws::{Aws, AwsSettings};
use providers::azure::Azure;
use providers::cudo::{Cudo, CudoSettings};
use providers::digitalocean::{DigitalOcean, DigitalOceanSettings};
use providers::fluidstack::{FluidStack, FluidStackSettings};
use providers::gcp::Gcp;
use providers::http::{EngineConfig, EngineError, Secret};
use providers::hyperstack::{Hyperstack, HyperstackSettings};
use providers::jarvislabs::{Jarvislabs, JarvislabsSettings};
use providers::lambda::{Lambda, LambdaSettings};
use providers::latitude::{Latitude, LatitudeSettings};
use providers::linode::{LinodeCloud, LinodeSettings};
use providers::maas::{Maas, MaasSettings};
use providers::oci::{Oci, OciSettings};
use providers::ovhcloud::{OvhCloud, OvhSettings};
use providers::paperspace::{Paperspace, PaperspaceSettings};
use providers::runpod::{RunPod, RunPodSettings};
use providers::scaleway::{Scaleway, ScalewaySettings};
use providers::seeweb::{Seeweb, SeewebSettings};
use providers::tensordock::{TensorDock, TensorDockSettings};
use providers::vast::Vast;
use providers::verda::{Verda, VerdaSettings};
use providers::vultr::{Vultr, VultrSettings};
use providers::{Provider, ProviderId};
use thiserror::Error;

use crate::fakes::{self, FakeContext, FakeFaults, FakeServer};
use crate::market::{display_name, Market};
use crate::provider::SimProvider;

/// Vendors served by a wire fake and a real adapter.
pub const FAKED_VENDORS: &[&str] = &[
    "azure",
    "do",
    "lambda",
    "runpod",
    "vast",
    "verda",
    "hyperstack",
    "jarvislabs",
    "cudo",
    "scaleway",
    "oci",
    "seeweb",
    "tensordock",
    "vultr",
    "aws",
    "gcp",
    "ovhcloud",
    "paperspace",
    "linode",
    "latitude",
    "akash",
    "fluidstack",
];

/// Owned-metal regions served by a fake over the market's fleet (not a market book).
pub const OWNED_VENDORS: &[&str] = &["maas"];

/// How the sandbox builds its world.
#[derive(Debug, Clone)]
pub struct WorldConfig {
    /// Template for every adapter's engine (clock, TTL, retry, breaker); base URL and
    /// credentials are set per fake.
    pub engine: EngineConfig,
    /// The key every fake accepts and every adapter presents.
    pub api_key: String,
}

impl Default for WorldConfig {
    fn default() -> Self {
        Self {
            engine: EngineConfig::default(),
            api_key: "sandbox-key".to_string(),
        }
    }
}

/// The world could not be started.
#[derive(Debug, Error)]
pub enum WorldError {
    #[error("starting a fake: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// One running fake and the API root its adapter uses.
#[derive(Debug)]
struct Running {
    server: FakeServer,
    ctx: FakeContext,
    api_url: String,
}

/// The running fakes; dropping it stops them.
#[derive(Debug, Default)]
pub struct FakesHandle {
    fakes: BTreeMap<String, Running>,
}

impl FakesHandle {
    /// The fake's root URL for `provider`, if it has one.
    pub fn url(&self, provider: &str) -> Option<String> {
        self.fakes.get(provider).map(|r| r.server.url())
    }

    /// The wire faults of `provider`'s fake.
    pub fn faults(&self, provider: &str) -> Option<&Arc<FakeFaults>> {
        self.fakes.get(provider).map(|r| &r.ctx.faults)
    }

    /// The API root the adapter for `provider` is pointed at (`<url>/api/v1` for Lambda).
    pub fn api_url(&self, provider: &str) -> Option<&str> {
        self.fakes.get(provider).map(|r| r.api_url.as_str())
    }

    /// Providers served by a fake, sorted.
    pub fn providers(&self) -> Vec<ProviderId> {
        self.fakes.keys().map(|k| ProviderId(k.clone())).collect()
    }
}

/// Starts the fakes and returns one provider per market provider plus the owned MAAS region
/// (sorted by id): real adapters against the fakes for [`FAKED_VENDORS`] and
/// [`OWNED_VENDORS`], [`SimProvider`]s for the rest.
pub async fn sandbox_providers(
    market: Arc<Market>,
    config: WorldConfig,
) -> Result<(Vec<Arc<dyn Provider>>, FakesHandle), WorldError> {
    let mut handle = FakesHandle::default();
    let mut out: Vec<Arc<dyn Provider>> = Vec::new();
    for id in market.provider_ids() {
        let mut world = World {
            handle: &mut handle,
            market: &market,
            config: &config,
            vendor: &id.0,
        };
        let provider: Arc<dyn Provider> = match id.0.as_str() {
            "lambda" => {
                let engine = world.start(fakes::lambda::router, "/api/v1").await?;
                Arc::new(Lambda::new(engine, LambdaSettings::default())?)
            }
            "runpod" => {
                let engine = world.start(fakes::runpod::router, "").await?;
                let settings = RunPodSettings {
                    rest_base_url: format!("{}/v1", world.api_url()),
                };
                Arc::new(RunPod::new(engine, settings)?)
            }
            "vast" => Arc::new(Vast::new(
                world.start(fakes::vast::router, "/api/v0").await?,
            )?),
            "verda" => {
                let mut engine = world.start(fakes::verda::router, "/v1").await?;
                engine.credentials = Some(Secret::new(format!(
                    "{}:{}",
                    fakes::verda::CLIENT_ID,
                    config.api_key
                )));
                Arc::new(Verda::new(engine, VerdaSettings::default())?)
            }
            "hyperstack" => {
                let engine = world.start(fakes::hyperstack::router, "/v1").await?;
                Arc::new(Hyperstack::new(engine, HyperstackSettings::default())?)
            }
            "do" => {
                let engine = world.start(fakes::digitalocean::router, "/v2").await?;
                Arc::new(DigitalOcean::new(engine, DigitalOceanSettings::default())?)
            }
            "jarvislabs" => {
                let engine = world.start(fakes::jarvislabs::router, "").await?;
                // Every region's provisioning host is the fake itself.
                let api_url = world.api_url();
                let settings = JarvislabsSettings {
                    region_hosts: market
                        .offers(&id)
                        .into_iter()
                        .map(|o| (o.region, api_url.clone()))
                        .collect(),
                    ..JarvislabsSettings::default()
                };
                Arc::new(Jarvislabs::new(engine, settings)?)
            }
            // The Retail Prices API is public: the adapter sends no credentials.
            "azure" => Arc::new(Azure::new(world.start(fakes::azure::router, "").await?)?),
            "cudo" => {
                let engine = world.start(fakes::cudo::router, "/v1").await?;
                Arc::new(Cudo::new(engine, CudoSettings::default())?)
            }
            "scaleway" => {
                let engine = world.start(fakes::scaleway::router, "/instance/v1").await?;
                Arc::new(Scaleway::new(engine, ScalewaySettings::default())?)
            }
            "aws" => {
                let mut engine = world.start(fakes::aws::router, "").await?;
                engine.credentials = Some(Secret::new(format!(
                    "{}:{}",
                    fakes::aws::ACCESS_KEY_ID,
                    config.api_key
                )));
                let settings = AwsSettings {
                    ec2_endpoint: Some(world.api_url()),
                    image_ids: AwsSettings::default()
                        .regions
                        .iter()
                        .map(|r| (r.clone(), "ami-0sandbox0ubuntu22".to_string()))
                        .collect(),
                    ..AwsSettings::default()
                };
                Arc::new(Aws::new(engine, settings)?)
            }
            "gcp" => Arc::new(Gcp::new(world.start(fakes::gcp::router, "").await?)?),
            "ovhcloud" => {
                let mut engine = world.start(fakes::ovhcloud::router, "/1.0").await?;
                engine.credentials = Some(Secret::new(format!(
                    "{}:{}:{}",
                    fakes::ovhcloud::APPLICATION_KEY,
                    config.api_key,
                    fakes::ovhcloud::CONSUMER_KEY
                )));
                let settings = OvhSettings {
                    service_name: "sandbox-project".to_string(),
                    image: fakes::ovhcloud::IMAGE_NAME.to_string(),
                    ..OvhSettings::default()
                };
                Arc::new(OvhCloud::new(engine, settings)?)
            }
            "paperspace" => {
                let engine = world.start(fakes::paperspace::router, "/v1").await?;
                let settings = PaperspaceSettings {
                    template_id: "t0sandbox".to_string(),
                };
                Arc::new(Paperspace::new(engine, settings)?)
            }
            // The cost estimator is public: the adapter sends no credentials.
            "oci" => {
                let engine = world
                    .start(fakes::oci::router, "/a/ocom/docs/cloudestimator2/data")
                    .await?;
                Arc::new(Oci::new(engine, OciSettings::default())?)
            }
            "seeweb" => {
                let engine = world.start(fakes::seeweb::router, "/ecs/v2").await?;
                Arc::new(Seeweb::new(engine, SeewebSettings::default())?)
            }
            "tensordock" => {
                let engine = world.start(fakes::tensordock::router, "/api/v2").await?;
                Arc::new(TensorDock::new(engine, TensorDockSettings::default())?)
            }
            "vultr" => {
                let engine = world.start(fakes::vultr::router, "/v2").await?;
                Arc::new(Vultr::new(engine, VultrSettings::default())?)
            }
            "linode" => {
                let engine = world.start(fakes::linode::router, "/v4").await?;
                Arc::new(LinodeCloud::new(engine, LinodeSettings::default())?)
            }
            "latitude" => {
                let engine = world.start(fakes::latitude::router, "").await?;
                Arc::new(Latitude::new(engine, LatitudeSettings::default())?)
            }
            // The Console's GPU price list is public: the adapter sends no credentials.
            "akash" => Arc::new(Akash::new(world.start(fakes::akash::router, "").await?)?),
            "fluidstack" => {
                let engine = world.start(fakes::fluidstack::router, "").await?;
                Arc::new(FluidStack::new(engine, FluidStackSettings::default())?)
            }
            _ => Arc::new(SimProvider::new(
                Arc::clone(&market),
                id.clone(),
                display_name(&id.0),
            )),
        };
        out.push(provider);
    }
    // The operator's own metal: the MAAS fake over the market's fleet, the real adapter.
    let mut world = World {
        handle: &mut handle,
        market: &market,
        config: &config,
        vendor: "maas",
    };
    let mut engine = world.start(fakes::maas::router, "/MAAS/api/2.0").await?;
    engine.credentials = Some(Secret::new(format!(
        "{}:{}:{}",
        fakes::maas::CONSUMER_KEY,
        fakes::maas::TOKEN_KEY,
        config.api_key
    )));
    out.push(Arc::new(Maas::new(engine, MaasSettings::default())?));
    out.sort_by(|a, b| a.id().cmp(b.id()));
    Ok((out, handle))
}

/// Starting one vendor's fake.
struct World<'a> {
    handle: &'a mut FakesHandle,
    market: &'a Arc<Market>,
    config: &'a WorldConfig,
    vendor: &'a str,
}

impl World<'_> {
    /// Starts the vendor's fake on loopback and returns the engine configuration of its
    /// adapter, pointed at `<fake>{api_path}` with the fake's key.
    async fn start(
        &mut self,
        router: fn(FakeContext) -> axum::Router,
        api_path: &str,
    ) -> Result<EngineConfig, WorldError> {
        let ctx = FakeContext::new(
            Arc::clone(self.market),
            self.vendor,
            self.config.api_key.clone(),
        );
        let server = FakeServer::start(router(ctx.clone())).await?;
        let api_url = format!("{}{api_path}", server.url());
        let engine = engine_for(self.config, api_url.clone());
        self.handle.fakes.insert(
            self.vendor.to_string(),
            Running {
                server,
                ctx,
                api_url,
            },
        );
        Ok(engine)
    }

    /// The API root of the fake started last for this vendor.
    fn api_url(&self) -> String {
        self.handle
            .api_url(self.vendor)
            .map(str::to_string)
            .unwrap_or_default()
    }
}

fn engine_for(config: &WorldConfig, base_url: String) -> EngineConfig {
    EngineConfig {
        base_url: Some(base_url),
        credentials: Some(Secret::new(config.api_key.clone())),
        ..config.engine.clone()
    }
}
