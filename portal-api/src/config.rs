//! Boot configuration: one typed tree, layered defaults → `gpubroker.toml` (or `--config`)
//! → environment (`GPUBROKER_*`, plus `DATABASE_URL`) → command-line flags. Everything
//! operational beyond boot lives in the parameter store. `std::env` is read only here.

use std::net::SocketAddr;
use std::path::PathBuf;

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    Pretty,
    Json,
}

/// The boot configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Config {
    /// Address the HTTP server binds.
    pub listen: SocketAddr,
    /// Where the SQLite file and sandbox state live.
    pub data_dir: PathBuf,
    /// `sqlite://…` (default: `<data_dir>/gpubroker.db`) or `postgres://…`.
    pub database_url: Option<String>,
    /// Public base URL used in emailed links (default `http://<listen>`).
    pub base_url: Option<String>,
    pub admin_email: Option<String>,
    pub admin_password: Option<String>,
    pub demo_email: Option<String>,
    pub demo_password: Option<String>,
    /// Seed of the simulated market (same seed, same prices and capacity).
    pub sandbox_seed: u64,
    pub log_format: LogFormat,
    /// Stripe secret key (`sk_live_…`/`sk_test_…`); without it SANDBOX tenants pay through
    /// the embedded sandbox gateway and LIVE tenants cannot pay.
    pub stripe_secret_key: Option<Secret>,
    /// Stripe publishable key (`pk_…`) for Stripe.js in the web UI.
    pub stripe_publishable_key: Option<String>,
    /// Stripe API base URL (default `https://api.stripe.com/`; tests point it at localstripe).
    pub stripe_api_base: Option<String>,
    /// The webhook endpoint's signing secret (`whsec_…`); required with a Stripe key. Without
    /// Stripe, a secret is generated once and stored, and the sandbox gateway signs with it.
    pub stripe_webhook_secret: Option<Secret>,
    /// AWS region of Cognito and SES (default `us-east-1`).
    pub aws_region: Option<String>,
    /// Endpoint override for every AWS client (a loopback moto server in tests).
    pub aws_endpoint_url: Option<String>,
    /// Static AWS credentials (SES sending, Cognito admin calls); unset: unsigned calls only.
    pub aws_access_key_id: Option<String>,
    pub aws_secret_access_key: Option<Secret>,
    pub aws_session_token: Option<Secret>,
    /// Cognito user pool and app client (public client, USER_PASSWORD_AUTH enabled) used by
    /// PODs whose `identity.provider` is `cognito`.
    pub cognito_user_pool_id: Option<String>,
    pub cognito_client_id: Option<String>,
    /// JWKS URL override (default: the pool's, or `<endpoint>/<pool>/.well-known/jwks.json`).
    pub cognito_jwks_url: Option<String>,
    /// The pool's hosted-UI domain (`https://<prefix>.auth.<region>.amazoncognito.com` or a
    /// custom domain); enables "Continue with Google/GitHub" on `/login`.
    pub cognito_domain: Option<String>,
    /// The hosted UI's identity providers offered, comma-separated, as named in the pool
    /// (default `Google,GitHub`).
    pub cognito_oauth_providers: Option<String>,
    /// Verified SES sender (`GPUBROKER_SES_FROM`); enables the `ses` mail transport.
    pub ses_from: Option<String>,
    /// AES-256 key (base64 of 32 bytes, `GPUBROKER_CREDENTIALS_KEY`) sealing provider
    /// credentials. Unset: `<data_dir>/credentials.key`, generated on first start (fine for
    /// SANDBOX; LIVE operators set this).
    pub credentials_key: Option<Secret>,
}

/// A secret from the configuration: never printed.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("data"),
            database_url: None,
            base_url: None,
            admin_email: None,
            admin_password: None,
            demo_email: None,
            demo_password: None,
            sandbox_seed: 42,
            log_format: LogFormat::Pretty,
            stripe_secret_key: None,
            stripe_publishable_key: None,
            stripe_api_base: None,
            stripe_webhook_secret: None,
            aws_region: None,
            aws_endpoint_url: None,
            aws_access_key_id: None,
            aws_secret_access_key: None,
            aws_session_token: None,
            cognito_user_pool_id: None,
            cognito_client_id: None,
            cognito_jwks_url: None,
            cognito_domain: None,
            cognito_oauth_providers: None,
            ses_from: None,
            credentials_key: None,
        }
    }
}

/// Values given on the command line (they win over everything else).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
}

impl Config {
    /// Loads the layered configuration, failing with every problem listed.
    pub fn load(
        file: Option<&std::path::Path>,
        overrides: &Overrides,
    ) -> Result<Config, Box<figment::Error>> {
        let file = file.map_or_else(|| PathBuf::from("gpubroker.toml"), PathBuf::from);
        Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::file(file))
            .merge(Env::prefixed("GPUBROKER_"))
            .merge(
                Env::raw()
                    .only(&["DATABASE_URL"])
                    .map(|_| "database_url".into()),
            )
            .merge(Serialized::defaults(overrides))
            .extract()
            .map_err(Box::new)
    }

    /// The database URL in force.
    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("gpubroker.db").display()))
    }

    /// The hosted UI's identity providers in force (see [`Config::cognito_oauth_providers`]).
    pub fn oauth_providers(&self) -> Vec<String> {
        self.cognito_oauth_providers
            .as_deref()
            .unwrap_or("Google,GitHub")
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .collect()
    }
}

/// The environment variable a CLI client reads its server URL from, if set.
pub fn client_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}
