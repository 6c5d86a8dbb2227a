//! SANDBOX mode's outside world: the providers a sandbox tenant talks to. For every vendor
//! with a protocol-faithful fake, the fake is started on loopback and the REAL adapter (real
//! engine, breaker, cache) is pointed at it; the other providers are [`SimProvider`]s over
//! the same market.
//!
//! Invariants: every provider of the market is present exactly once; no adapter built here
//! can reach a non-loopback address (its base URL is a fake's).

use std::collections::BTreeMap;
use std::sync::Arc;

use providers::azure::Azure;
use providers::cudo::{Cudo, CudoSettings};
use providers::digitalocean::{DigitalOcean, DigitalOceanSettings};
use providers::http::{EngineConfig, EngineError, Secret};
use providers::hyperstack::{Hyperstack, HyperstackSettings};
use providers::jarvislabs::{Jarvislabs, JarvislabsSettings};
use providers::lambda::{Lambda, LambdaSettings};
use providers::runpod::{RunPod, RunPodSettings};
use providers::scaleway::{Scaleway, ScalewaySettings};
use providers::vast::Vast;
use providers::verda::{Verda, VerdaSettings};
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
];

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

/// Starts the fakes and returns one provider per market provider (sorted by id): real
/// adapters against the fakes for [`FAKED_VENDORS`], [`SimProvider`]s for the rest.
pub async fn sandbox_providers(
    market: Arc<Market>,
    config: WorldConfig,
) -> Result<(Vec<Arc<dyn Provider>>, FakesHandle), WorldError> {
    let mut handle = FakesHandle::default();
    let mut out: Vec<Arc<dyn Provider>> = Vec::new();
    for id in market.provider_ids() {
        let provider: Arc<dyn Provider> = match id.0.as_str() {
            "lambda" => {
                let ctx = FakeContext::new(Arc::clone(&market), "lambda", config.api_key.clone());
                let server = FakeServer::start(fakes::lambda::router(ctx.clone())).await?;
                let api_url = format!("{}/api/v1", server.url());
                let engine = engine_for(&config, api_url.clone());
                let running = Running {
                    server,
                    ctx,
                    api_url,
                };
                handle.fakes.insert(id.0.clone(), running);
                Arc::new(Lambda::new(engine, LambdaSettings::default())?)
            }
            "runpod" => {
                let ctx = FakeContext::new(Arc::clone(&market), "runpod", config.api_key.clone());
                let server = FakeServer::start(fakes::runpod::router(ctx.clone())).await?;
                let api_url = server.url();
                let settings = RunPodSettings {
                    rest_base_url: format!("{api_url}/v1"),
                };
                let engine = engine_for(&config, api_url.clone());
                let running = Running {
                    server,
                    ctx,
                    api_url,
                };
                handle.fakes.insert(id.0.clone(), running);
                Arc::new(RunPod::new(engine, settings)?)
            }
            "vast" => {
                let ctx = FakeContext::new(Arc::clone(&market), "vast", config.api_key.clone());
                let server = FakeServer::start(fakes::vast::router(ctx.clone())).await?;
                let api_url = format!("{}/api/v0", server.url());
                let engine = engine_for(&config, api_url.clone());
                let running = Running {
                    server,
                    ctx,
                    api_url,
                };
                handle.fakes.insert(id.0.clone(), running);
                Arc::new(Vast::new(engine)?)
            }
            "verda" => {
                let ctx = FakeContext::new(Arc::clone(&market), "verda", config.api_key.clone());
                let server = FakeServer::start(fakes::verda::router(ctx.clone())).await?;
                let api_url = format!("{}/v1", server.url());
                let mut engine = engine_for(&config, api_url.clone());
                engine.credentials = Some(Secret::new(format!(
                    "{}:{}",
                    fakes::verda::CLIENT_ID,
                    config.api_key
                )));
                let running = Running {
                    server,
                    ctx,
                    api_url,
                };
                handle.fakes.insert(id.0.clone(), running);
                Arc::new(Verda::new(engine, VerdaSettings::default())?)
            }
            "hyperstack" => {
                let ctx =
                    FakeContext::new(Arc::clone(&market), "hyperstack", config.api_key.clone());
                let server = FakeServer::start(fakes::hyperstack::router(ctx.clone())).await?;
                let api_url = format!("{}/v1", server.url());
                let engine = engine_for(&config, api_url.clone());
                let running = Running {
                    server,
                    ctx,
                    api_url,
                };
                handle.fakes.insert(id.0.clone(), running);
                Arc::new(Hyperstack::new(engine, HyperstackSettings::default())?)
            }
            "do" => {
                let ctx = FakeContext::new(Arc::clone(&market), "do", config.api_key.clone());
                let server = FakeServer::start(fakes::digitalocean::router(ctx.clone())).await?;
                let api_url = format!("{}/v2", server.url());
                let engine = engine_for(&config, api_url.clone());
                let running = Running {
                    server,
                    ctx,
                    api_url,
                };
                handle.fakes.insert(id.0.clone(), running);
                Arc::new(DigitalOcean::new(engine, DigitalOceanSettings::default())?)
            }
            "jarvislabs" => {
                let ctx =
                    FakeContext::new(Arc::clone(&market), "jarvislabs", config.api_key.clone());
                let server = FakeServer::start(fakes::jarvislabs::router(ctx.clone())).await?;
                let api_url = server.url();
                // Every region's provisioning host is the fake itself.
                let settings = JarvislabsSettings {
                    region_hosts: market
                        .offers(&id)
                        .into_iter()
                        .map(|o| (o.region, api_url.clone()))
                        .collect(),
                    ..JarvislabsSettings::default()
                };
                let engine = engine_for(&config, api_url.clone());
                let running = Running {
                    server,
                    ctx,
                    api_url,
                };
                handle.fakes.insert(id.0.clone(), running);
                Arc::new(Jarvislabs::new(engine, settings)?)
            }
            "azure" => {
                let ctx = FakeContext::new(Arc::clone(&market), "azure", config.api_key.clone());
                let server = FakeServer::start(fakes::azure::router(ctx.clone())).await?;
                let api_url = server.url();
                // The Retail Prices API is public: the adapter sends no credentials.
                let engine = engine_for(&config, api_url.clone());
                let running = Running {
                    server,
                    ctx,
                    api_url,
                };
                handle.fakes.insert(id.0.clone(), running);
                Arc::new(Azure::new(engine)?)
            }
            "cudo" => {
                let ctx = FakeContext::new(Arc::clone(&market), "cudo", config.api_key.clone());
                let server = FakeServer::start(fakes::cudo::router(ctx.clone())).await?;
                let api_url = format!("{}/v1", server.url());
                let engine = engine_for(&config, api_url.clone());
                let running = Running {
                    server,
                    ctx,
                    api_url,
                };
                handle.fakes.insert(id.0.clone(), running);
                Arc::new(Cudo::new(engine, CudoSettings::default())?)
            }
            "scaleway" => {
                let ctx = FakeContext::new(Arc::clone(&market), "scaleway", config.api_key.clone());
                let server = FakeServer::start(fakes::scaleway::router(ctx.clone())).await?;
                let api_url = format!("{}/instance/v1", server.url());
                let engine = engine_for(&config, api_url.clone());
                let running = Running {
                    server,
                    ctx,
                    api_url,
                };
                handle.fakes.insert(id.0.clone(), running);
                Arc::new(Scaleway::new(engine, ScalewaySettings::default())?)
            }
            _ => Arc::new(SimProvider::new(
                Arc::clone(&market),
                id.clone(),
                display_name(&id.0),
            )),
        };
        out.push(provider);
    }
    Ok((out, handle))
}

fn engine_for(config: &WorldConfig, base_url: String) -> EngineConfig {
    EngineConfig {
        base_url: Some(base_url),
        credentials: Some(Secret::new(config.api_key.clone())),
        ..config.engine.clone()
    }
}
