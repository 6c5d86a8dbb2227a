//! localstripe (a stateful fake of Stripe's HTTP API, <https://github.com/adrienverge/localstripe>)
//! for tests: installed with pip when missing, started on a free 127.0.0.1 port, stopped
//! (killed and reaped) on drop.
//!
//! The stock `localstripe` command binds every interface on a fixed port and pickles its
//! store to `/tmp/localstripe.pickle` after every write (so parallel instances would write
//! over each other). The launcher below runs the same aiohttp app on a socket bound to
//! 127.0.0.1:0, prints the port it got, and keeps the store in memory only.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde_json::Value;

const LAUNCHER: &str = r#"
import socket, sys
from aiohttp import web
from localstripe import resources, server
resources.Store.dump_to_disk = lambda self: None
sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
sock.bind(("127.0.0.1", 0))
print(sock.getsockname()[1], flush=True)
web.run_app(server.app, sock=sock, print=None, access_log=None)
"#;

/// A running localstripe.
#[derive(Debug)]
pub struct LocalStripe {
    /// `http://127.0.0.1:<port>` (what `stripe_api_base` takes).
    pub url: String,
    http: reqwest::Client,
    child: Child,
}

/// The Python interpreter to use (`GPUBROKER_TEST_PYTHON`, else `python3`).
fn python() -> String {
    std::env::var("GPUBROKER_TEST_PYTHON")
        .ok()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "python3".into())
}

/// Installs localstripe with pip unless it is importable already.
pub fn ensure_installed() -> Result<()> {
    let py = python();
    let importable = Command::new(&py)
        .args(["-c", "import localstripe, aiohttp"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .with_context(|| format!("running {py}: localstripe needs Python 3"))?
        .success();
    if importable {
        return Ok(());
    }
    let out = Command::new(&py)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "localstripe",
        ])
        .output()
        .context("running pip")?;
    if !out.status.success() {
        bail!(
            "pip install localstripe failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// The test secret key (localstripe accepts any `sk_test_…`).
pub const SECRET_KEY: &str = "sk_test_gpubroker_e2e";

impl LocalStripe {
    /// Installs (if needed) and starts localstripe; waits until it answers.
    pub async fn start() -> Result<LocalStripe> {
        ensure_installed()?;
        let mut child = Command::new(python())
            .args(["-c", LAUNCHER])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("starting localstripe")?;
        let stdout = child.stdout.take().context("localstripe stdout")?;
        let port = tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            BufReader::new(stdout).read_line(&mut line).map(|_| line)
        })
        .await??;
        let port: u16 = match port.trim().parse() {
            Ok(p) => p,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                bail!(
                    "localstripe did not report its port (got `{}`)",
                    port.trim()
                );
            }
        };
        let ls = LocalStripe {
            url: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()?,
            child,
        };
        for _ in 0..200 {
            if ls.get("/v1/customers").await.is_ok() {
                return Ok(ls);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bail!("localstripe at {} never answered", ls.url)
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Result<Value> {
        let resp = req.bearer_auth(SECRET_KEY).send().await?;
        let status = resp.status();
        let body: Value = resp.json().await?;
        if !status.is_success() {
            bail!("localstripe answered {status}: {body}");
        }
        Ok(body)
    }

    /// `GET path` as the API's client would.
    pub async fn get(&self, path: &str) -> Result<Value> {
        self.send(self.http.get(format!("{}{path}", self.url)))
            .await
    }

    /// `POST path` with form parameters (Stripe's encoding: `items[0][price]=…`).
    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Result<Value> {
        self.send(self.http.post(format!("{}{path}", self.url)).form(form))
            .await
    }
}

impl Drop for LocalStripe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
