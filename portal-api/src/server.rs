//! Starting the product: database, sandbox world, seeded accounts, signing keys, background
//! loops and the HTTP listener.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use broker::accounts::Role;
use broker::credentials::MasterKey;
use broker::tenants::{Mode, DEFAULT_TENANT};
use broker::{Broker, BrokerConfig, SystemClock};
use rand::Rng;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::auth::Keys;
use crate::config::Config;
use crate::identity::cognito::{CognitoIdentity, CognitoSettings};
use crate::identity::hosted_ui::HostedUi;
use crate::identity::local::LocalIdentity;
use crate::identity::Identities;
use crate::state::AppState;

/// A seeded sandbox login, printed at start.
#[derive(Debug, Clone)]
pub struct Login {
    pub email: String,
    /// `None` when the account existed and no password was configured (left unchanged).
    pub password: Option<String>,
}

/// A running server.
#[derive(Debug)]
pub struct Server {
    pub addr: SocketAddr,
    pub state: Arc<AppState>,
    pub admin: Login,
    pub demo: Login,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Server {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting, stops background loops, waits for the server task.
    pub async fn shutdown(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        self.state.broker.shutdown();
        let _ = self.task.await;
    }

    /// Waits until the server stops by itself (signal).
    pub async fn wait(self) {
        let _ = self.task.await;
    }
}

fn generated_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::thread_rng();
    (0..16)
        .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
        .collect()
}

/// Demo hourly costs per GPU of the sandbox's owned (MAAS) fleet, micro-USD, so the first
/// browse shows MAAS offers. Seeded once at the tenant scope (audited), never over a value an
/// operator has set.
const SANDBOX_OWNED_COSTS: &str =
    "H100-SXM:2100000,A100-80GB-SXM:1150000,L40S:650000,RTX4090:280000";

async fn seed_owned_costs(broker: &Broker) -> anyhow::Result<()> {
    use broker::params::{Change, Ctx, Scope, OWNED_HOURLY_COST};
    let ctx = Ctx {
        tenant_id: DEFAULT_TENANT,
        user_id: None,
    };
    let views = broker.params.list(Some(OWNED_HOURLY_COST), ctx).await?;
    if views.iter().any(|v| !v.values.is_empty()) {
        return Ok(());
    }
    let change = Change {
        key: OWNED_HOURLY_COST.to_string(),
        scope: Scope::Tenant(DEFAULT_TENANT.to_string()),
        value: serde_json::Value::String(SANDBOX_OWNED_COSTS.to_string()),
        effective_at: None,
        reason: Some("sandbox demo costs of the owned MAAS fleet".to_string()),
        confirm: None,
    };
    broker.params.set("system:sandbox-seed", change).await?;
    Ok(())
}

async fn seed(
    broker: &Broker,
    email: Option<&str>,
    password: Option<&str>,
    default_email: &str,
    role: Role,
) -> anyhow::Result<Login> {
    let email = email.unwrap_or(default_email).to_string();
    match (
        password,
        broker.accounts.by_email(&email.to_ascii_lowercase()).await,
    ) {
        (Some(p), _) => {
            let u = broker.accounts.ensure(&email, p, role).await?;
            broker.grant_sandbox_credit(&u).await?;
            Ok(Login {
                email,
                password: Some(p.to_string()),
            })
        }
        (None, Ok(_)) => Ok(Login {
            email,
            password: None,
        }),
        (None, Err(_)) => {
            let p = generated_password();
            let u = broker.accounts.ensure(&email, &p, role).await?;
            broker.grant_sandbox_credit(&u).await?;
            Ok(Login {
                email,
                password: Some(p),
            })
        }
    }
}

/// The identity providers: local always, Cognito when a user pool is configured.
fn identities(cfg: &Config, base_url: &str, broker: &Arc<Broker>, keys: &Arc<Keys>) -> Identities {
    let local = LocalIdentity::new(Arc::clone(broker), Arc::clone(keys));
    let cognito = match (&cfg.cognito_user_pool_id, &cfg.cognito_client_id) {
        (Some(pool), Some(client)) if !pool.is_empty() && !client.is_empty() => {
            let aws = crate::aws::AwsSettings::from_config(cfg);
            let settings = CognitoSettings {
                jwks_url: cfg.cognito_jwks_url.clone().unwrap_or_else(|| {
                    CognitoSettings::default_jwks_url(
                        &aws.region,
                        pool,
                        aws.endpoint_url.as_deref(),
                    )
                }),
                region: aws.region.clone(),
                user_pool_id: pool.clone(),
                client_id: client.clone(),
            };
            let hosted_ui = cfg
                .cognito_domain
                .as_deref()
                .filter(|d| !d.trim().is_empty())
                .map(|d| HostedUi::new(d, client, base_url, cfg.oauth_providers()));
            Some(
                CognitoIdentity::new(crate::aws::cognito(&aws), settings, Arc::clone(broker))
                    .with_hosted_ui(hosted_ui),
            )
        }
        _ => None,
    };
    Identities { local, cognito }
}

/// The key provider credentials are sealed with: `GPUBROKER_CREDENTIALS_KEY` when set, else
/// `<data_dir>/credentials.key`, generated (0600) on first start so a SANDBOX run needs no
/// setup. Returns whether the key came from the file.
fn credentials_key(cfg: &Config) -> anyhow::Result<(MasterKey, bool)> {
    if let Some(k) = cfg
        .credentials_key
        .as_ref()
        .filter(|k| !k.expose().is_empty())
    {
        let key = MasterKey::from_base64(k.expose()).context("GPUBROKER_CREDENTIALS_KEY")?;
        return Ok((key, false));
    }
    let path = cfg.data_dir.join("credentials.key");
    if path.exists() {
        let raw = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let key = MasterKey::from_base64(&raw).with_context(|| path.display().to_string())?;
        return Ok((key, true));
    }
    let key = MasterKey::generate();
    write_private(&path, &key.to_base64())
        .with_context(|| format!("writing {}", path.display()))?;
    tracing::info!(path = %path.display(), key_id = key.id(), "generated the credentials key");
    Ok((key, true))
}

#[cfg(unix)]
fn write_private(path: &std::path::Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(contents.as_bytes())?;
    f.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &std::path::Path, contents: &str) -> std::io::Result<()> {
    std::fs::write(path, contents)
}

/// Opens everything and starts serving on `cfg.listen` (port 0 picks a free port).
pub async fn start(cfg: &Config) -> anyhow::Result<Server> {
    std::fs::create_dir_all(&cfg.data_dir)
        .with_context(|| format!("creating data dir {}", cfg.data_dir.display()))?;
    let listener = TcpListener::bind(cfg.listen)
        .await
        .with_context(|| format!("binding {}", cfg.listen))?;
    let addr = listener.local_addr()?;
    let base_url = cfg
        .base_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"));

    let clock: Arc<dyn broker::Clock> = Arc::new(SystemClock);
    let market = sandbox::Market::new(cfg.sandbox_seed, Arc::clone(&clock))?
        .with_state_file(cfg.data_dir.join("sandbox-market.json"))?;
    let market = Arc::new(market);
    // The sandbox world: real adapters against loopback wire fakes where they exist,
    // in-process simulations for the other providers; all over one simulated market.
    let world = sandbox::world::WorldConfig {
        engine: providers::http::EngineConfig {
            clock: Arc::clone(&clock),
            ..providers::http::EngineConfig::default()
        },
        api_key: format!("sandbox-{}", uuid::Uuid::new_v4().simple()),
    };
    let (sandbox_providers, fakes) = sandbox::world::sandbox_providers(Arc::clone(&market), world)
        .await
        .context("starting the sandbox world")?;
    let fakes = Arc::new(fakes);
    let mut worlds = HashMap::new();
    worlds.insert(Mode::Sandbox, sandbox_providers);
    // Filled from the stored LIVE credentials once the database is open (`rebuild_live`).
    worlds.insert(Mode::Live, Vec::new());

    let payments = crate::stripe::payments_config(cfg)?;
    let (credentials_key, key_from_file) = credentials_key(cfg)?;
    let broker = Broker::open(
        &BrokerConfig {
            database_url: cfg.database_url(),
            base_url: base_url.clone(),
            payments,
            credentials_key,
        },
        clock,
        worlds,
    )
    .await
    .context("opening the database")?;
    let (admin, demo) = if broker.mode(DEFAULT_TENANT).await? == Mode::Sandbox {
        seed_owned_costs(&broker).await?;
        (
            seed(
                &broker,
                cfg.admin_email.as_deref(),
                cfg.admin_password.as_deref(),
                "admin@gpubroker.local",
                Role::Admin,
            )
            .await?,
            seed(
                &broker,
                cfg.demo_email.as_deref(),
                cfg.demo_password.as_deref(),
                "demo@gpubroker.local",
                Role::User,
            )
            .await?,
        )
    } else {
        (
            Login {
                email: String::new(),
                password: None,
            },
            Login {
                email: String::new(),
                password: None,
            },
        )
    };
    let keys = Arc::new(Keys::load_or_create(&broker.accounts).await?);
    let identity = identities(cfg, &base_url, &broker, &keys);
    if let Some(from) = cfg.ses_from.clone().filter(|f| !f.is_empty()) {
        let aws = crate::aws::AwsSettings::from_config(cfg);
        broker
            .mailer
            .set_ses(Arc::new(crate::aws::SesTransport::new(
                crate::aws::ses(&aws),
                from,
            )));
    }
    if key_from_file && broker.mode(DEFAULT_TENANT).await? == Mode::Live {
        tracing::warn!(
            "LIVE POD without GPUBROKER_CREDENTIALS_KEY: provider credentials are sealed with \
             the generated key file in the data dir; set the variable (see OPERATIONS.md)"
        );
    }
    broker.refresh(Mode::Sandbox).await?;
    // The LIVE world: one real adapter per stored LIVE credential (empty without any).
    broker.rebuild_live().await?;
    let background = broker.start();
    let state = Arc::new(AppState {
        broker: Arc::clone(&broker),
        keys,
        identity,
        market: Some(market),
        stripe_publishable_key: cfg.stripe_publishable_key.clone().filter(|k| !k.is_empty()),
        fakes: Some(Arc::clone(&fakes)),
    });
    let app = crate::app(Arc::clone(&state));
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let b = Arc::clone(&broker);
    let task = tokio::spawn(async move {
        let shutdown = async move {
            tokio::select! {
                _ = stop_rx => {}
                _ = tokio::signal::ctrl_c() => {}
                _ = terminate() => {}
            }
            b.shutdown();
        };
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::error!(error = %e, "server failed");
        }
        drop(background);
        drop(fakes);
    });
    Ok(Server {
        addr,
        state,
        admin,
        demo,
        stop: Some(stop_tx),
        task,
    })
}

#[cfg(unix)]
async fn terminate() {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut s) => {
            s.recv().await;
        }
        Err(_) => std::future::pending::<()>().await,
    }
}

#[cfg(not(unix))]
async fn terminate() {
    std::future::pending::<()>().await
}
