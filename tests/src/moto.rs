//! A moto server (AWS test double speaking the real wire protocols) for the tests that
//! exercise Cognito and SES. [`MotoServer::start`] installs `moto[server]` with pip if it is
//! missing, starts it on a free loopback port with TOTP checking on for Cognito, and stops
//! it when dropped. The set-up helpers talk to moto over plain HTTP with the AWS JSON / query
//! protocols (moto does not check signatures), so the tests need no AWS SDK of their own.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

/// The region every test resource lives in.
pub const REGION: &str = "us-east-1";

/// A running moto server, stopped on drop.
pub struct MotoServer {
    child: Child,
    pub url: String,
    http: reqwest::Client,
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn python() -> &'static str {
    "python3"
}

fn moto_installed() -> bool {
    Command::new(python())
        .args(["-c", "import moto.server, flask, flask_cors, joserfc"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Installs `moto[server]` with pip when it is not importable.
pub fn ensure_installed() -> Result<()> {
    if moto_installed() {
        return Ok(());
    }
    let st = Command::new(python())
        .args(["-m", "pip", "install", "--quiet", "moto[server]"])
        .status()
        .context("running pip")?;
    if !st.success() || !moto_installed() {
        bail!("could not install moto[server] with pip");
    }
    Ok(())
}

fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

fn auth_header(service: &str) -> String {
    format!(
        "AWS4-HMAC-SHA256 Credential=testing/20260101/{REGION}/{service}/aws4_request, SignedHeaders=host, Signature=0"
    )
}

impl MotoServer {
    /// Starts moto on 127.0.0.1 and waits until it answers.
    pub async fn start() -> Result<MotoServer> {
        ensure_installed()?;
        let port = free_port()?;
        let child = Command::new(python())
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .env("MOTO_COGNITO_IDP_USER_POOL_ENABLE_TOTP", "true")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting moto")?;
        let server = MotoServer {
            child,
            url: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()?,
        };
        for _ in 0..300 {
            if let Ok(r) = server
                .http
                .get(format!("{}/moto-api/", server.url))
                .send()
                .await
            {
                if r.status().is_success() {
                    return Ok(server);
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("moto did not start on port {port}")
    }

    /// One AWS JSON 1.1 call (`target` like `AWSCognitoIdentityProviderService.CreateUserPool`).
    pub async fn json_call(&self, service: &str, target: &str, body: Value) -> Result<Value> {
        let r = self
            .http
            .post(format!("{}/", self.url))
            .header("Content-Type", "application/x-amz-json-1.1")
            .header("X-Amz-Target", target)
            .header("Authorization", auth_header(service))
            .body(body.to_string())
            .send()
            .await?;
        let status = r.status();
        let text = r.text().await?;
        if !status.is_success() {
            bail!("{target}: {status} {text}");
        }
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// One AWS query-protocol call (SES v1), returning the XML body.
    pub async fn query_call(&self, service: &str, params: &[(&str, &str)]) -> Result<String> {
        let r = self
            .http
            .post(format!("{}/", self.url))
            .header("Authorization", auth_header(service))
            .form(params)
            .send()
            .await?;
        let status = r.status();
        let text = r.text().await?;
        if !status.is_success() {
            bail!("{params:?}: {status} {text}");
        }
        Ok(text)
    }

    /// A user pool that signs in by email, with optional software-token MFA, and a public
    /// app client allowing USER_PASSWORD_AUTH and REFRESH_TOKEN_AUTH. Returns (pool, client).
    pub async fn create_user_pool(&self, name: &str) -> Result<(String, String)> {
        const T: &str = "AWSCognitoIdentityProviderService";
        let pool = self
            .json_call(
                "cognito-idp",
                &format!("{T}.CreateUserPool"),
                json!({"PoolName": name, "UsernameAttributes": ["email"], "AutoVerifiedAttributes": ["email"]}),
            )
            .await?;
        let pool_id = pool["UserPool"]["Id"]
            .as_str()
            .context("no pool id")?
            .to_string();
        self.json_call(
            "cognito-idp",
            &format!("{T}.SetUserPoolMfaConfig"),
            json!({"UserPoolId": pool_id, "SoftwareTokenMfaConfiguration": {"Enabled": true}, "MfaConfiguration": "OPTIONAL"}),
        )
        .await?;
        let client = self
            .json_call(
                "cognito-idp",
                &format!("{T}.CreateUserPoolClient"),
                json!({"UserPoolId": pool_id, "ClientName": "gpubroker", "GenerateSecret": false,
                       "ExplicitAuthFlows": ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]}),
            )
            .await?;
        let client_id = client["UserPoolClient"]["ClientId"]
            .as_str()
            .context("no client id")?
            .to_string();
        Ok((pool_id, client_id))
    }

    /// The pool tokens of a person who signed in through a federated provider (what the
    /// hosted UI's token endpoint hands out): the pool user is created on first sign-in, as
    /// Cognito does for a federated identity, with the address the provider vouched for.
    pub async fn federated_tokens(&self, pool: &str, client: &str, email: &str) -> Result<Value> {
        const T: &str = "AWSCognitoIdentityProviderService";
        // Moto issues tokens only through its auth flows: a password the person never sees.
        let password = "Federated-Only-1!";
        let created = self
            .json_call(
                "cognito-idp",
                &format!("{T}.AdminCreateUser"),
                json!({"UserPoolId": pool, "Username": email, "MessageAction": "SUPPRESS",
                       "UserAttributes": [{"Name": "email", "Value": email},
                                          {"Name": "email_verified", "Value": "true"}]}),
            )
            .await;
        if let Err(e) = created {
            if !e.to_string().contains("UsernameExistsException") {
                return Err(e);
            }
        }
        self.json_call(
            "cognito-idp",
            &format!("{T}.AdminSetUserPassword"),
            json!({"UserPoolId": pool, "Username": email, "Password": password, "Permanent": true}),
        )
        .await?;
        let out = self
            .json_call(
                "cognito-idp",
                &format!("{T}.InitiateAuth"),
                json!({"ClientId": client, "AuthFlow": "USER_PASSWORD_AUTH",
                       "AuthParameters": {"USERNAME": email, "PASSWORD": password}}),
            )
            .await?;
        Ok(out["AuthenticationResult"].clone())
    }

    /// Marks a sender address verified in SES.
    pub async fn verify_ses_identity(&self, email: &str) -> Result<()> {
        self.query_call(
            "ses",
            &[
                ("Action", "VerifyEmailIdentity"),
                ("Version", "2010-12-01"),
                ("EmailAddress", email),
            ],
        )
        .await?;
        Ok(())
    }

    /// SES v1 GetSendStatistics: the total of `DeliveryAttempts` over the data points.
    pub async fn ses_delivery_attempts(&self) -> Result<u64> {
        let xml = self
            .query_call(
                "ses",
                &[("Action", "GetSendStatistics"), ("Version", "2010-12-01")],
            )
            .await?;
        Ok(xml
            .split("<DeliveryAttempts>")
            .skip(1)
            .filter_map(|s| s.split('<').next())
            .filter_map(|n| n.trim().parse::<u64>().ok())
            .sum())
    }

    /// Every message moto's SES accepted (`/moto-api/data.json`, `ses.Message`): each has
    /// `id`, `source`, `destinations.ToAddresses`, `subject` and `body`.
    pub async fn ses_messages(&self) -> Result<Vec<Value>> {
        let d = self.get_json("/moto-api/data.json").await?;
        Ok(d["ses"]["Message"].as_array().cloned().unwrap_or_default())
    }

    /// The JWKS URL moto serves for a pool.
    pub fn jwks_url(&self, pool_id: &str) -> String {
        format!("{}/{pool_id}/.well-known/jwks.json", self.url)
    }

    /// GETs a JSON document from moto (e.g. a pool's JWKS).
    pub async fn get_json(&self, path: &str) -> Result<Value> {
        Ok(self
            .http
            .get(format!("{}{path}", self.url))
            .send()
            .await?
            .json()
            .await?)
    }
}
