//! The `gpubroker` command line: `serve` and `migrate` run the product; `offers`, `deploy`,
//! `deployments`, `release` and `params` are clients of a running server's API.

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};
use serde_json::{json, Value};

use crate::config::{Config, Overrides};

#[derive(Debug, Parser)]
#[command(
    name = "gpubroker",
    version,
    about = "GPU broker: browse, rank and deploy GPU offers from many clouds"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct BootArgs {
    /// Configuration file (default ./gpubroker.toml when present).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Address to listen on, e.g. 127.0.0.1:8080.
    #[arg(long)]
    pub listen: Option<std::net::SocketAddr>,
    /// Directory for the SQLite file and sandbox state.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// sqlite://… or postgres://… (overrides DATABASE_URL).
    #[arg(long)]
    pub database_url: Option<String>,
}

impl BootArgs {
    pub fn load(&self) -> anyhow::Result<Config> {
        let o = Overrides {
            listen: self.listen,
            data_dir: self.data_dir.clone(),
            database_url: self.database_url.clone(),
        };
        Config::load(self.config.as_deref(), &o).context("reading the configuration")
    }
}

#[derive(Debug, Args)]
pub struct ClientArgs {
    /// The server's base URL.
    #[arg(long, env = "GPUBROKER_URL", default_value = "http://127.0.0.1:8080")]
    pub server: String,
    /// Sign in with this email (with --password).
    #[arg(long, env = "GPUBROKER_EMAIL")]
    pub email: Option<String>,
    #[arg(long, env = "GPUBROKER_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
    /// Or use an access token.
    #[arg(long, env = "GPUBROKER_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Print raw JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args, Default)]
pub struct OfferFilters {
    #[arg(long)]
    pub gpu: Option<String>,
    #[arg(long)]
    pub min_gpus: Option<u32>,
    #[arg(long)]
    pub min_vram: Option<f64>,
    /// Highest USD per hour for the whole offer, e.g. 2.50.
    #[arg(long)]
    pub max_price: Option<String>,
    #[arg(long)]
    pub provider: Option<String>,
    #[arg(long)]
    pub region: Option<String>,
    #[arg(long)]
    pub country: Option<String>,
    /// on_demand, spot or bid.
    #[arg(long)]
    pub pricing: Option<String>,
    /// price, price_per_gpu, topsis (default) or availability.
    #[arg(long)]
    pub sort: Option<String>,
    /// Custom TOPSIS weights, e.g. price:0.5,perf:0.3,vram:0.2.
    #[arg(long)]
    pub weights: Option<String>,
}

impl OfferFilters {
    fn pairs(&self) -> Vec<(String, String)> {
        let mut v = Vec::new();
        let mut push = |k: &str, val: Option<String>| {
            if let Some(val) = val {
                v.push((k.to_string(), val));
            }
        };
        push("gpu", self.gpu.clone());
        push("min_gpus", self.min_gpus.map(|n| n.to_string()));
        push("min_vram", self.min_vram.map(|n| n.to_string()));
        push("max_price", self.max_price.clone());
        push("provider", self.provider.clone());
        push("region", self.region.clone());
        push("country", self.country.clone());
        push("pricing", self.pricing.clone());
        push("sort", self.sort.clone());
        push("weights", self.weights.clone());
        v
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the product (SANDBOX mode by default; web UI and API).
    Serve(BootArgs),
    /// Apply database migrations and exit.
    Migrate(BootArgs),
    /// List offers from a running server.
    Offers {
        #[command(flatten)]
        client: ClientArgs,
        #[command(flatten)]
        filters: OfferFilters,
        #[arg(long, default_value_t = 20)]
        limit: u32,
        /// Only offers with free capacity.
        #[arg(long)]
        available: bool,
    },
    /// Deploy an offer (or the best match of the filters with --best).
    Deploy {
        #[command(flatten)]
        client: ClientArgs,
        /// Offer id (`provider:key`).
        #[arg(long, conflicts_with = "best")]
        offer: Option<String>,
        /// Deploy the best offer matching the filters.
        #[arg(long)]
        best: bool,
        #[command(flatten)]
        filters: OfferFilters,
        #[arg(long, default_value_t = 100)]
        disk_gib: u32,
        #[arg(long)]
        image: Option<String>,
        #[arg(long)]
        ssh_key: Option<String>,
        /// Makes retries safe: the same key returns the same deployment.
        #[arg(long)]
        idempotency_key: Option<String>,
    },
    /// List your deployments.
    Deployments {
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Release a deployment.
    Release {
        #[command(flatten)]
        client: ClientArgs,
        id: String,
    },
    /// Read or change parameters (admin).
    Params {
        #[command(subcommand)]
        action: ParamsAction,
    },
}

#[derive(Debug, Subcommand)]
pub enum ParamsAction {
    /// Show one parameter, or all.
    Get {
        #[command(flatten)]
        client: ClientArgs,
        key: Option<String>,
    },
    /// Set a parameter: VALUE is JSON (2, true, "live").
    Set {
        #[command(flatten)]
        client: ClientArgs,
        key: String,
        value: String,
        /// global, tenant or user.
        #[arg(long)]
        scope: Option<String>,
        #[arg(long)]
        scope_id: Option<String>,
        #[arg(long)]
        reason: Option<String>,
        /// Needed to switch the mode: the new mode again.
        #[arg(long)]
        confirm: Option<String>,
    },
}

struct Client {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl Client {
    async fn new(a: &ClientArgs, need_auth: bool) -> anyhow::Result<Client> {
        let http = reqwest::Client::new();
        let base = a.server.trim_end_matches('/').to_string();
        let mut c = Client {
            http,
            base,
            token: a.token.clone(),
        };
        if c.token.is_none() {
            match (&a.email, &a.password) {
                (Some(e), Some(p)) => {
                    let v = c.send(reqwest::Method::POST, "/api/v1/auth/login", Some(json!({"email": e, "password": p})), None).await?;
                    c.token = v["access_token"].as_str().map(str::to_string);
                }
                _ if need_auth => bail!("sign in with --email and --password (or GPUBROKER_EMAIL/GPUBROKER_PASSWORD), or --token"),
                _ => {}
            }
        }
        Ok(c)
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        headers: Option<(&str, &str)>,
    ) -> anyhow::Result<Value> {
        let mut req = self.http.request(method, format!("{}{}", self.base, path));
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        if let Some((k, v)) = headers {
            req = req.header(k, v);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req
            .send()
            .await
            .with_context(|| format!("cannot reach {}", self.base))?;
        let status = resp.status();
        let text = resp.text().await?;
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if !status.is_success() {
            let detail = v["detail"].as_str().unwrap_or(&text);
            let allowed = v["allowed"]
                .as_array()
                .map(|a| {
                    format!(
                        " (allowed: {})",
                        a.iter()
                            .filter_map(Value::as_str)
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                })
                .unwrap_or_default();
            bail!("{status}: {detail}{allowed}");
        }
        Ok(v)
    }
}

fn query_string(pairs: &[(String, String)]) -> String {
    let mut s = String::new();
    for (k, v) in pairs {
        s.push(if s.is_empty() { '?' } else { '&' });
        s.push_str(&urlencode(k));
        s.push('=');
        s.push_str(&urlencode(v));
    }
    s
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn print_offers(v: &Value) {
    println!(
        "{:<48} {:<14} {:>4} {:>7} {:>11} {:>11} {:>5} {:>6}  region",
        "offer", "gpu", "n", "vram", "$/h", "$/gpu-h", "avail", "score"
    );
    for o in v["items"].as_array().into_iter().flatten() {
        println!(
            "{:<48} {:<14} {:>4} {:>7} {:>11} {:>11} {:>5} {:>6.3}  {}",
            o["id"].as_str().unwrap_or_default(),
            o["gpu_model"].as_str().unwrap_or_default(),
            o["gpu_count"],
            o["gpu_memory_gib"]
                .as_f64()
                .map(|m| format!("{m:.0}"))
                .unwrap_or_default(),
            o["price_per_hour"].as_str().unwrap_or_default(),
            o["price_per_gpu_hour"].as_str().unwrap_or_default(),
            o["available"],
            o["score"].as_f64().unwrap_or_default(),
            o["region"].as_str().unwrap_or_default(),
        );
    }
}

fn print_deployment(d: &Value) {
    println!(
        "{}  {:<14} {}× {} at {} ({})  ${}/h",
        d["id"].as_str().unwrap_or_default(),
        d["state"].as_str().unwrap_or_default(),
        d["gpu_count"],
        d["gpu_model"].as_str().unwrap_or_default(),
        d["provider"].as_str().unwrap_or_default(),
        d["offer_id"].as_str().unwrap_or_default(),
        d["quoted_price_per_hour"].as_str().unwrap_or_default(),
    );
}

/// Prints `v` as pretty JSON (`--json`) or in its human form.
fn show(json: bool, v: &Value, human: impl FnOnce(&Value)) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(v)?);
    } else {
        human(v);
    }
    Ok(())
}

/// Runs one client command against a server.
pub async fn run_client(cmd: Command) -> anyhow::Result<()> {
    match cmd {
        Command::Offers {
            client,
            filters,
            limit,
            available,
        } => {
            let c = Client::new(&client, false).await?;
            let mut pairs = filters.pairs();
            pairs.push(("limit".into(), limit.to_string()));
            if available {
                pairs.push(("available".into(), "true".into()));
            }
            let v = c
                .send(
                    reqwest::Method::GET,
                    &format!("/api/v1/offers{}", query_string(&pairs)),
                    None,
                    None,
                )
                .await?;
            show(client.json, &v, |v| {
                print_offers(v);
            })?;
        }
        Command::Deploy {
            client,
            offer,
            best,
            filters,
            disk_gib,
            image,
            ssh_key,
            idempotency_key,
        } => {
            let c = Client::new(&client, true).await?;
            let mut body = json!({"disk_gib": disk_gib});
            match (offer, best) {
                (Some(o), false) => body["offer_id"] = json!(o),
                (None, true) => {
                    body["best"] = json!(filters
                        .pairs()
                        .into_iter()
                        .collect::<std::collections::BTreeMap<_, _>>())
                }
                _ => bail!("give --offer ID or --best with filters"),
            }
            if let Some(i) = image {
                body["image"] = json!(i);
            }
            if let Some(k) = ssh_key {
                body["ssh_public_key"] = json!(k);
            }
            let key = idempotency_key.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
            let v = c
                .send(
                    reqwest::Method::POST,
                    "/api/v1/deployments",
                    Some(body),
                    Some(("Idempotency-Key", &key)),
                )
                .await?;
            show(client.json, &v, |v| {
                print_deployment(v);
                println!(
                    "(idempotency key {key}; the activation link arrives by mail when it is ready)"
                );
            })?;
        }
        Command::Deployments { client } => {
            let c = Client::new(&client, true).await?;
            let v = c
                .send(reqwest::Method::GET, "/api/v1/deployments", None, None)
                .await?;
            show(client.json, &v, |v| {
                v["items"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .for_each(print_deployment);
            })?;
        }
        Command::Release { client, id } => {
            let c = Client::new(&client, true).await?;
            let v = c
                .send(
                    reqwest::Method::POST,
                    &format!("/api/v1/deployments/{}/release", urlencode(&id)),
                    None,
                    None,
                )
                .await?;
            show(client.json, &v, |v| {
                print_deployment(v);
            })?;
        }
        Command::Params {
            action: ParamsAction::Get { client, key },
        } => {
            let c = Client::new(&client, true).await?;
            let path = match key {
                Some(k) => format!("/api/v1/admin/params/{}", urlencode(&k)),
                None => "/api/v1/admin/params".into(),
            };
            let v = c.send(reqwest::Method::GET, &path, None, None).await?;
            show(client.json, &v, |v| {
                let items = v["items"]
                    .as_array()
                    .cloned()
                    .unwrap_or_else(|| vec![v.clone()]);
                for p in items {
                    println!(
                        "{:<44} = {:<12} (default {})",
                        p["key"].as_str().unwrap_or_default(),
                        p["effective"].to_string(),
                        p["default_value"]
                    );
                }
            })?;
        }
        Command::Params {
            action:
                ParamsAction::Set {
                    client,
                    key,
                    value,
                    scope,
                    scope_id,
                    reason,
                    confirm,
                },
        } => {
            let c = Client::new(&client, true).await?;
            let value: Value = serde_json::from_str(&value).unwrap_or(Value::String(value));
            let body = json!({"value": value, "scope": scope, "scope_id": scope_id, "reason": reason, "confirm": confirm});
            let v = c
                .send(
                    reqwest::Method::PUT,
                    &format!("/api/v1/admin/params/{}", urlencode(&key)),
                    Some(body),
                    None,
                )
                .await?;
            println!(
                "{} = {}",
                v["key"].as_str().unwrap_or_default(),
                v["effective"]
            );
        }
        Command::Serve(_) | Command::Migrate(_) => bail!("not a client command"),
    }
    Ok(())
}
