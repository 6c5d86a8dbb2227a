//! The web UI walked in a real browser: headless Chromium driven over WebDriver by
//! `chromedriver` (Debian packages `chromium` and `chromium-driver`; override the paths with
//! `GPUBROKER_CHROMIUM` / `GPUBROKER_CHROMEDRIVER`). A missing browser fails the test, loudly.
//!
//! The WebDriver client is the few W3C commands the walk needs, over the `reqwest` client the
//! suite already uses, so no second HTTP/TLS stack is linked. Every wait is a condition polled
//! in the page for at most [`WAIT`]; screenshots land in `/tmp/gpubroker-*.png`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{anyhow, bail, ensure, Context, Result};
use base64::Engine;
use gpubroker_e2e::hosted_ui::{HostedUi, Outcome};
use gpubroker_e2e::moto::{MotoServer, REGION};
use gpubroker_e2e::{
    spawn_app, spawn_app_with, App, TempDir, ADMIN_EMAIL, ADMIN_PASSWORD, DEMO_EMAIL, DEMO_PASSWORD,
};
use serde_json::{json, Value};

/// The longest any condition is waited for.
const WAIT: Duration = Duration::from_secs(30);
/// The prefix of the key under which an element reference travels (W3C names
/// `element-6066-11e4-a071-806a6b4ccef8`; some chromedriver builds use another suffix).
const ELEMENT: &str = "element-6066-11e4-";
const FAILURE_SHOT: &str = "/tmp/gpubroker-browser-failure.png";

fn executable(env: &str, default: &str, package: &str) -> Result<PathBuf> {
    let path = std::env::var(env)
        .ok()
        .filter(|p| !p.is_empty())
        .map_or_else(|| PathBuf::from(default), PathBuf::from);
    if !path.is_file() {
        bail!(
            "{} not found: the browser test needs Chromium and its WebDriver (Debian: `apt-get install chromium chromium-driver`), \
             or set {env} to the executable; looked for `{}` (package {package})",
            path.file_name().and_then(|n| n.to_str()).unwrap_or(default),
            path.display()
        );
    }
    Ok(path)
}

fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

/// The `chromedriver` child process, killed on drop.
struct Chromedriver {
    child: Child,
    url: String,
    log: PathBuf,
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Chromedriver {
    async fn start(binary: &Path, dir: &Path, http: &reqwest::Client) -> Result<Chromedriver> {
        let port = free_port()?;
        let log = dir.join("chromedriver.log");
        let child = Command::new(binary)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let mut driver = Chromedriver {
            child,
            url: format!("http://127.0.0.1:{port}"),
            log,
        };
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Some(status) = driver.child.try_wait()? {
                bail!(
                    "chromedriver exited at start ({status}): {}",
                    driver.log_tail()
                );
            }
            if let Ok(r) = http.get(format!("{}/status", driver.url)).send().await {
                if let Ok(v) = r.json::<Value>().await {
                    if v["value"]["ready"] == true {
                        return Ok(driver);
                    }
                }
            }
            if tokio::time::Instant::now() > deadline {
                let tail = driver.log_tail();
                let _ = driver.child.kill();
                bail!("chromedriver did not become ready within {WAIT:?}: {tail}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let start = text.len().saturating_sub(2000);
        text.get(start..).unwrap_or_default().to_string()
    }
}

/// One headless Chromium session over WebDriver.
struct Browser {
    http: reqwest::Client,
    /// `{driver}/session/{id}`.
    session: String,
    driver: Chromedriver,
    _profile: TempDir,
}

/// An element reference.
#[derive(Debug, Clone)]
struct Element(String);

impl Browser {
    async fn start() -> Result<Browser> {
        let chromium = executable("GPUBROKER_CHROMIUM", "/usr/bin/chromium", "chromium")?;
        let chromedriver = executable(
            "GPUBROKER_CHROMEDRIVER",
            "/usr/bin/chromedriver",
            "chromium-driver",
        )?;
        let profile = TempDir::new()?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()?;
        let driver = Chromedriver::start(&chromedriver, &profile.0, &http).await?;
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "pageLoadStrategy": "normal",
            "goog:chromeOptions": {
                "binary": chromium.display().to_string(),
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--window-size=1400,1000",
                    format!("--user-data-dir={}", profile.0.join("chromium").display()),
                ],
                "prefs": {
                    "download.default_directory": profile.0.join("downloads").display().to_string(),
                    "download.prompt_for_download": false,
                },
            },
        }}});
        let r = http
            .post(format!("{}/session", driver.url))
            .json(&caps)
            .send()
            .await?;
        let status = r.status();
        let v: Value = r.json().await?;
        let id = v["value"]["sessionId"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| {
                anyhow!(
                    "could not start Chromium ({status}): {}\nchromedriver log: {}",
                    v["value"]["message"],
                    driver.log_tail()
                )
            })?;
        Ok(Browser {
            session: format!("{}/session/{id}", driver.url),
            http,
            driver,
            _profile: profile,
        })
    }

    async fn cmd(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Result<Value> {
        let mut req = self
            .http
            .request(method.clone(), format!("{}{path}", self.session));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req
            .send()
            .await
            .with_context(|| format!("WebDriver {method} {path}"))?;
        let status = r.status();
        let v: Value = r
            .json()
            .await
            .with_context(|| format!("WebDriver {method} {path}: not JSON"))?;
        if !status.is_success() {
            bail!(
                "WebDriver {method} {path}: {status} {}: {}",
                v["value"]["error"],
                v["value"]["message"]
            );
        }
        Ok(v["value"].clone())
    }

    async fn post(&self, path: &str, body: Value) -> Result<Value> {
        self.cmd(reqwest::Method::POST, path, Some(body)).await
    }

    async fn goto(&self, url: &str) -> Result<()> {
        self.post("/url", json!({ "url": url })).await.map(drop)
    }

    async fn find(&self, css: &str) -> Result<Element> {
        let v = self
            .post("/element", json!({"using": "css selector", "value": css}))
            .await
            .with_context(|| format!("finding `{css}`"))?;
        v.as_object()
            .and_then(|o| o.iter().find(|(k, _)| k.starts_with(ELEMENT)))
            .and_then(|(_, id)| id.as_str())
            .map(|s| Element(s.to_string()))
            .ok_or_else(|| anyhow!("no element reference for `{css}`: {v}"))
    }

    async fn click(&self, css: &str) -> Result<()> {
        let e = self.find(css).await?;
        self.post(&format!("/element/{}/click", e.0), json!({}))
            .await
            .with_context(|| format!("clicking `{css}`"))?;
        Ok(())
    }

    async fn type_into(&self, css: &str, text: &str) -> Result<()> {
        let e = self.find(css).await?;
        self.post(&format!("/element/{}/clear", e.0), json!({}))
            .await?;
        self.post(&format!("/element/{}/value", e.0), json!({ "text": text }))
            .await
            .with_context(|| format!("typing into `{css}`"))?;
        Ok(())
    }

    async fn text(&self, css: &str) -> Result<String> {
        let e = self.find(css).await?;
        let v = self
            .cmd(
                reqwest::Method::GET,
                &format!("/element/{}/text", e.0),
                None,
            )
            .await?;
        Ok(v.as_str().unwrap_or_default().to_string())
    }

    async fn js(&self, script: &str, args: Value) -> Result<Value> {
        self.post("/execute/sync", json!({"script": script, "args": args}))
            .await
    }

    /// Polls `script` in the page until it returns something truthy, which it returns.
    async fn wait(&self, what: &str, script: &str, args: Value) -> Result<Value> {
        let deadline = tokio::time::Instant::now() + WAIT;
        let mut last_error = None;
        loop {
            match self.js(script, args.clone()).await {
                Ok(v)
                    if !matches!(&v, Value::Null | Value::Bool(false))
                        && v != json!("")
                        && v != json!(0) =>
                {
                    return Ok(v)
                }
                Ok(_) => {}
                Err(e) => last_error = Some(e.to_string()),
            }
            if tokio::time::Instant::now() > deadline {
                let page = self
                    .js(
                        "return location.href + '\\n' + document.body.innerText.slice(0, 1500)",
                        json!([]),
                    )
                    .await
                    .unwrap_or_default();
                bail!(
                    "waited {WAIT:?} for {what}; last script error: {}\npage: {}",
                    last_error.unwrap_or_else(|| "none".into()),
                    page.as_str().unwrap_or_default()
                );
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }

    async fn wait_path(&self, path: &str) -> Result<()> {
        self.wait(
            &format!("the page {path}"),
            "return location.pathname === arguments[0] && document.readyState === 'complete'",
            json!([path]),
        )
        .await
        .map(drop)
    }

    async fn screenshot(&self, path: &str) -> Result<()> {
        let v = self.cmd(reqwest::Method::GET, "/screenshot", None).await?;
        let png =
            base64::engine::general_purpose::STANDARD.decode(v.as_str().unwrap_or_default())?;
        ensure!(png.starts_with(b"\x89PNG"), "the screenshot is not a PNG");
        std::fs::write(path, png).with_context(|| format!("writing {path}"))?;
        Ok(())
    }

    async fn login(&self, base: &str, email: &str, password: &str, next: &str) -> Result<()> {
        self.submit_login(&format!("{base}/login?next={next}"), email, password)
            .await?;
        self.wait_path(next).await?;
        let who = self
            .wait(
                "the signed-in user in the nav",
                "const u = document.querySelector('#nav-user'); return u && !u.hidden && u.textContent",
                json!([]),
            )
            .await?;
        ensure!(who == json!(email), "the nav shows {who}, not {email}");
        Ok(())
    }

    async fn logout(&self) -> Result<()> {
        self.click("#nav-logout").await?;
        self.wait_path("/").await?;
        self.wait(
            "the logged-out nav",
            "return !document.querySelector('#nav-login').hidden && !localStorage.getItem('gpubroker.session')",
            json!([]),
        )
        .await
        .map(drop)
    }

    /// Where the browser saves downloads.
    fn downloads(&self) -> PathBuf {
        self._profile.0.join("downloads")
    }

    /// Whether `script` holds within `within` (no error when it does not).
    async fn holds_within(&self, script: &str, args: &Value, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        while tokio::time::Instant::now() < deadline {
            if let Ok(v) = self.js(script, args.clone()).await {
                if !matches!(&v, Value::Null | Value::Bool(false))
                    && v != json!("")
                    && v != json!(0)
                {
                    return true;
                }
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
        false
    }

    /// Loads `url` again and again until `script` holds on it (pages that do not refresh by
    /// themselves), for at most [`WAIT`] × 2.
    async fn wait_reloading(&self, url: &str, what: &str, script: &str, args: Value) -> Result<()> {
        let deadline = tokio::time::Instant::now() + WAIT * 2;
        while tokio::time::Instant::now() < deadline {
            self.goto(url).await?;
            if self
                .holds_within(script, &args, Duration::from_secs(3))
                .await
            {
                return Ok(());
            }
        }
        self.wait(what, script, args).await.map(drop)
    }

    /// Opens the login form at `url` and submits `email` and `password` on it.
    async fn submit_login(&self, url: &str, email: &str, password: &str) -> Result<()> {
        self.goto(url).await?;
        self.wait(
            "the login form",
            "return !!document.querySelector('#login-submit')",
            json!([]),
        )
        .await?;
        self.fill_login(email, password).await
    }

    /// Types `email` and `password` into the login form on the page and submits it.
    async fn fill_login(&self, email: &str, password: &str) -> Result<()> {
        self.type_into("#email", email).await?;
        self.type_into("#password", password).await?;
        self.click("#login-submit").await
    }

    /// Waits for the marketplace's first results.
    async fn wait_for_results(&self) -> Result<()> {
        self.wait(
            "the first results",
            "return document.querySelector('#offers-table').dataset.state === 'ready'",
            json!([]),
        )
        .await
        .map(drop)
    }

    /// Opens the first offer of the marketplace list; returns its id.
    async fn open_first_offer(&self) -> Result<String> {
        let offer_id = self
            .js(
                "return document.querySelector('tr[data-offer-id]').dataset.offerId",
                json!([]),
            )
            .await?;
        let offer_id = offer_id
            .as_str()
            .context("offer row without id")?
            .to_string();
        self.click("tr[data-offer-id] a.offer-link").await?;
        self.wait(
            "the offer detail",
            "const d = document.querySelector('#offer-detail'); return d && !d.hidden && d.dataset.offerId === arguments[0]",
            json!([offer_id]),
        )
        .await?;
        Ok(offer_id)
    }

    /// Deploys the offer whose page is open; returns the new deployment's id once the list
    /// (which refreshes by itself) shows it ready.
    async fn deploy_and_wait_ready(&self) -> Result<String> {
        self.click("#deploy-submit").await?;
        self.wait_path("/deployments").await?;
        let id = self
            .js(
                "return new URLSearchParams(location.search).get('highlight')",
                json!([]),
            )
            .await?;
        let id = id
            .as_str()
            .context("no deployment id after deploying")?
            .to_string();
        self.wait_deployment(&id, "ready", "the deployment to be ready")
            .await?;
        Ok(id)
    }

    /// Waits for the deployments list to show deployment `id` in `state`.
    async fn wait_deployment(&self, id: &str, state: &str, what: &str) -> Result<()> {
        self.wait(
            what,
            "return document.querySelector(`tr[data-deployment-id=\"${arguments[0]}\"]`)?.dataset.state === arguments[1]",
            json!([id, state]),
        )
        .await
        .map(drop)
    }

    /// Releases deployment `id` from the deployments list and waits for it to show released.
    async fn release(&self, id: &str) -> Result<()> {
        self.click(&format!("tr[data-deployment-id=\"{id}\"] .release"))
            .await?;
        self.click(&format!("tr[data-deployment-id=\"{id}\"] .release-confirm"))
            .await?;
        self.wait_deployment(id, "released", "the deployment to be released")
            .await
    }

    /// Follows an emailed activation link and checks the page reports success.
    async fn activate_by_link(&self, link: &str) -> Result<()> {
        self.goto(link).await?;
        let result = self
            .wait(
                "the activation result",
                "return document.querySelector('#activate-card').dataset.result",
                json!([]),
            )
            .await?;
        ensure!(
            result == "ok",
            "activation failed: {}",
            self.text("#activate-error").await.unwrap_or_default()
        );
        Ok(())
    }

    /// Checks that the page dropped the one-time token from the address bar.
    async fn ensure_token_dropped(&self) -> Result<()> {
        let leftover = self.js("return location.search", json!([])).await?;
        ensure!(
            leftover == "",
            "the spent token stays in the address bar: {leftover}"
        );
        Ok(())
    }

    /// The available balance the billing page shows once loaded, in cents.
    async fn shown_balance(&self, what: &str) -> Result<i64> {
        let shown = self
            .wait(
                what,
                "const t = document.querySelector('#bal-available').textContent; return t !== '–' && t",
                json!([]),
            )
            .await?;
        shown_cents(shown.as_str().unwrap_or_default())
    }

    async fn quit(self) {
        let _ = self.cmd(reqwest::Method::DELETE, "", None).await;
        drop(self.driver);
    }
}

/// The sandbox index fills in the background right after start.
async fn wait_for_offers(app: &App) -> Result<Value> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Ok(o) = app.pick_offer("").await {
            return Ok(o);
        }
        ensure!(
            tokio::time::Instant::now() < deadline,
            "no available offer within {WAIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The walk itself; the caller cleans up whatever happens.
async fn walk(app: &App, b: &Browser) -> Result<()> {
    let base = app.url.as_str();
    let model = wait_for_offers(app).await?["gpu_model"]
        .as_str()
        .context("offer without a model")?
        .to_string();

    // The landing page is rendered by the server from the offer index.
    b.goto(&format!("{base}/")).await?;
    let cards = b
        .wait(
            "GPU cards on the landing page",
            "return document.querySelectorAll('.gpu-card').length",
            json!([]),
        )
        .await?;
    ensure!(
        cards.as_u64().unwrap_or(0) >= 1,
        "no GPU card on the landing page"
    );
    ensure!(
        b.text("#mode-badge").await? == "SANDBOX",
        "the SANDBOX badge is missing"
    );
    ensure!(
        b.text("#cta-browse").await?.contains("Browse"),
        "no call to action"
    );

    // Log in as the demo user; the login page sends us to the marketplace.
    b.login(base, DEMO_EMAIL, DEMO_PASSWORD, "/offers").await?;
    b.wait_for_results().await?;

    // A filter the API rejects shows its problem detail next to the field.
    b.type_into("#f-max-price", "cheap").await?;
    b.click("#f-submit").await?;
    let problem = b
        .wait(
            "the validation problem",
            "const e = document.querySelector('#offers-error'); return !e.hidden && e.textContent",
            json!([]),
        )
        .await?;
    ensure!(
        problem.as_str().unwrap_or_default().contains("max_price"),
        "the problem does not name the field: {problem}"
    );
    let marked = b
        .js(
            "return document.querySelector('#f-max-price').classList.contains('invalid')",
            json!([]),
        )
        .await?;
    ensure!(marked == json!(true), "the rejected field is not marked");
    b.type_into("#f-max-price", "").await?;

    // Filter by a GPU model, available offers only.
    b.wait(
        "the GPU model options",
        "return [...document.querySelectorAll('#f-gpu option')].some(o => o.value === arguments[0])",
        json!([model]),
    )
    .await?;
    b.click(&format!("#f-gpu option[value=\"{model}\"]"))
        .await?;
    b.click("#f-available").await?;
    let rows = b
        .wait(
            "results filtered by model and availability",
            "const t = document.querySelector('#offers-table');
             const q = new URLSearchParams(t.dataset.query || '');
             const rows = [...document.querySelectorAll('tr[data-offer-id]')];
             return t.dataset.state === 'ready' && q.get('gpu') === arguments[0] && q.get('available') === 'true'
               && document.querySelector('#offers-error').hidden
               && rows.length > 0 && rows.every(r => r.dataset.gpu === arguments[0]) && rows.length",
            json!([model]),
        )
        .await?;
    ensure!(rows.as_u64().unwrap_or(0) >= 1, "no offer row");
    let url = b.js("return location.search", json!([])).await?;
    ensure!(
        url.as_str().unwrap_or_default().contains("available=true"),
        "the filters are not in the address: {url}"
    );

    // "why?" opens the TOPSIS explanation of the first offer.
    b.click("tr[data-offer-id] .why").await?;
    let criteria = b
        .wait(
            "the explanation",
            "const r = document.querySelector('tr.explain-row'); return r && !r.hidden && r.querySelectorAll('.contrib').length",
            json!([]),
        )
        .await?;
    ensure!(
        criteria == json!(6),
        "the explanation shows {criteria} criteria, not 6"
    );
    b.screenshot("/tmp/gpubroker-offers.png").await?;

    // Open the first offer and deploy it.
    let offer_id = b.open_first_offer().await?;
    let title = b.text("#offer-title").await?;
    ensure!(
        title.contains(&model),
        "the offer page is titled `{title}`, not about {model}"
    );
    ensure!(
        b.text("#offer-explanation").await?.contains("Closeness"),
        "the offer page has no explanation"
    );
    b.click("#deploy-image option[value=\"jupyter-datascience\"]")
        .await?;
    b.type_into("#deploy-disk", "200").await?;
    b.type_into(
        "#deploy-ssh",
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBrowserTestKeyOnly e2e@browser",
    )
    .await?;
    b.screenshot("/tmp/gpubroker-offer.png").await?;

    // Deploy it; the list refreshes by itself until the machine is ready.
    let id = b.deploy_and_wait_ready().await?;
    let demo = app.login(DEMO_EMAIL, DEMO_PASSWORD).await?;
    let api = app
        .get(&format!("/api/v1/deployments/{id}"), Some(&demo))
        .await?;
    ensure!(
        api.body["offer_id"] == json!(offer_id),
        "deployed {} instead of {offer_id}",
        api.body["offer_id"]
    );
    ensure!(
        api.body["image"] == "jupyter-datascience" && api.body["disk_gib"] == 200,
        "the form values were lost: {}",
        api.body
    );
    b.screenshot("/tmp/gpubroker-deployments.png").await?;

    // As admin, read the activation link from the outbox page.
    b.logout().await?;
    b.login(base, ADMIN_EMAIL, ADMIN_PASSWORD, "/admin/outbox")
        .await?;
    let link = b
        .wait(
            "the activation mail in the outbox",
            "const m = [...document.querySelectorAll('article.mail[data-kind=activation]')]
               .find(m => m.textContent.includes(arguments[0]));
             const a = m && m.querySelector('a.mail-link'); return a && a.href",
            json!([id]),
        )
        .await?;
    let link = link
        .as_str()
        .context("activation link is not text")?
        .to_string();
    ensure!(
        link.starts_with(&format!("{base}/activate/{id}?token=")),
        "unexpected activation link {link}"
    );
    b.screenshot("/tmp/gpubroker-outbox.png").await?;
    b.goto(&format!("{base}/admin/params")).await?;
    let params = b
        .wait(
            "the parameters table",
            "return document.querySelectorAll('tr[data-param]').length",
            json!([]),
        )
        .await?;
    ensure!(
        params.as_u64().unwrap_or(0) > 3,
        "only {params} parameters listed"
    );
    let key = "allocation.max_concurrent_per_user";
    let field = format!("tr[data-param=\"{key}\"]");
    b.type_into(&format!("{field} .param-value"), "3").await?;
    b.click(&format!("{field} button[type=submit]")).await?;
    b.wait(
        "the saved parameter",
        "const r = document.querySelector(`tr[data-param=\"${arguments[0]}\"]`);
         return r.querySelector('.param-status').textContent === 'Saved'
           && r.querySelector('.param-effective').textContent === '3'",
        json!([key]),
    )
    .await?;
    let admin = app.admin_token().await?;
    let stored = app
        .get(&format!("/api/v1/admin/params/{key}"), Some(&admin))
        .await?;
    ensure!(
        stored.body["effective"] == 3,
        "the parameter is {}",
        stored.body["effective"]
    );
    b.screenshot("/tmp/gpubroker-params.png").await?;
    b.logout().await?;

    // The emailed link works without logging in and shows how to connect.
    b.activate_by_link(&link).await?;
    ensure!(
        b.text("#activate-state").await? == "active",
        "the activation page does not say active"
    );
    let ssh = b.text("#ssh-command").await?;
    let api = app
        .get(&format!("/api/v1/deployments/{id}"), Some(&demo))
        .await?;
    ensure!(
        api.body["state"] == "active",
        "the API says {}",
        api.body["state"]
    );
    let c = &api.body["connection"];
    let expected = format!(
        "ssh -p {} {}@{}",
        c["ssh_port"],
        c["ssh_user"].as_str().unwrap_or_default(),
        c["ssh_host"].as_str().unwrap_or_default()
    );
    ensure!(
        ssh == expected,
        "the page shows `{ssh}`, the API `{expected}`"
    );
    b.ensure_token_dropped().await?;
    b.screenshot("/tmp/gpubroker-activate.png").await?;

    // Back as the owner: the deployment is active with its connection, then released.
    b.login(base, DEMO_EMAIL, DEMO_PASSWORD, "/deployments")
        .await?;
    b.wait_deployment(&id, "active", "the deployment to show active")
        .await?;
    let shown = b
        .js(
            "return document.querySelector(`tr[data-deployment-id=\"${arguments[0]}\"] .ssh-command`)?.textContent",
            json!([id]),
        )
        .await?;
    ensure!(
        shown == json!(expected),
        "the list shows {shown}, not `{expected}`"
    );
    b.screenshot("/tmp/gpubroker-deployments-active.png")
        .await?;
    b.release(&id).await?;
    let api = app
        .get(&format!("/api/v1/deployments/{id}"), Some(&demo))
        .await?;
    ensure!(
        api.body["state"] == "released",
        "the API says {}",
        api.body["state"]
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_deploys_from_the_marketplace_activates_by_the_emailed_link_and_releases_in_a_real_browser(
) -> Result<()> {
    let app = spawn_app().await?;
    let browser = Browser::start().await?;
    let walked = walk(&app, &browser).await;
    finish(app, browser, walked, "the browser walk").await
}

/// Ends a walk: on failure a screenshot of the page, then the browser and the app stop.
async fn finish(app: App, browser: Browser, walked: Result<()>, what: &str) -> Result<()> {
    if walked.is_err() {
        let _ = browser.screenshot(FAILURE_SHOT).await;
    }
    browser.quit().await;
    app.stop().await;
    walked.with_context(|| format!("{what} failed (screenshot: {FAILURE_SHOT})"))
}

/// The current TOTP code of a base32 secret, `ahead` seconds from now (RFC 6238, SHA-1,
/// 6 digits, 30 s), computed here as an authenticator app would, not by the server's code.
fn totp(secret_b32: &str, ahead: u64) -> Result<String> {
    let clean: String = secret_b32.chars().filter(|c| !c.is_whitespace()).collect();
    let key = totp_rs::Secret::Encoded(clean)
        .to_bytes()
        .map_err(|e| anyhow!("the shown key is not base32: {e:?}"))?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    Ok(totp_rs::TOTP::new_unchecked(totp_rs::Algorithm::SHA1, 6, 1, 30, key).generate(now + ahead))
}

/// `$1234.56` (as the billing pages show money) → 123456 cents.
fn shown_cents(text: &str) -> Result<i64> {
    let t = text.trim();
    let (sign, t) = t.strip_prefix('-').map_or((1, t), |r| (-1, r));
    let (whole, cents) = t
        .strip_prefix('$')
        .and_then(|t| t.split_once('.'))
        .with_context(|| format!("`{text}` is not an amount"))?;
    Ok(sign * (whole.parse::<i64>()? * 100 + cents.parse::<i64>()?))
}

/// The link of the newest verification mail to `email`, from the POD's outbox.
async fn verification_link(app: &App, admin: &str, email: &str) -> Result<String> {
    let r = app
        .get(&format!("/api/v1/admin/outbox?to={email}"), Some(admin))
        .await?;
    r.body["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| m["kind"] == "verify_email")
        .filter_map(|m| m["body_text"].as_str())
        .flat_map(str::split_whitespace)
        .find(|w| w.contains("/verify-email?token="))
        .map(str::to_string)
        .with_context(|| format!("no verification mail to {email}: {}", r.body))
}

/// A new user's whole journey, every step through the pages; the API is only read to check
/// what the pages claim (and the outbox stands in for the user's mailbox).
async fn journey(app: &App, b: &Browser) -> Result<()> {
    let base = app.url.as_str();
    let admin = app.admin_token().await?;
    // A LIVE-like POD: addresses must be confirmed, no free play money; the meter ticks
    // every second so usage shows within the walk.
    for (key, value) in [
        ("auth.require_email_verification", json!(true)),
        ("billing.sandbox_starter_credit_minor", json!(0)),
        ("billing.meter_interval_seconds", json!(1)),
    ] {
        app.set_param_ok(&admin, key, json!({ "value": value }))
            .await?;
    }
    wait_for_offers(app).await?;
    // The pricier the machine, the sooner a whole cent of usage is posted.
    let mut filter = None;
    for min_gpus in ["8", "4", "2", "1"] {
        if app
            .pick_offer(&format!("min_gpus={min_gpus}&max_price=100"))
            .await
            .is_ok()
        {
            filter = Some(min_gpus);
            break;
        }
    }
    let min_gpus = filter.context("no available offer under $100/h")?;
    let email = format!("journey-{}@e2e.test", uuid::Uuid::new_v4().simple());
    let password = "Journey-password-7";

    // 1. Sign up: the page asks to confirm the address instead of signing in.
    b.goto(&format!("{base}/register")).await?;
    b.wait(
        "the sign-up form",
        "return !!document.querySelector('#register-submit')",
        json!([]),
    )
    .await?;
    b.type_into("#email", &email).await?;
    b.type_into("#password", password).await?;
    b.click("#register-submit").await?;
    let notice = b
        .wait(
            "the check-your-mailbox notice",
            "const n = document.querySelector('#verify-notice');
             return !n.hidden && document.querySelector('#register-form').hidden && n.textContent",
            json!([]),
        )
        .await?;
    ensure!(
        notice
            .as_str()
            .unwrap_or_default()
            .contains("Check your mailbox"),
        "the notice says {notice}"
    );
    b.screenshot("/tmp/gpubroker-journey-registered.png")
        .await?;

    // 2. Signing in before confirming is refused, with a way to a new link.
    b.submit_login(&format!("{base}/login"), &email, password)
        .await?;
    let refused = b
        .wait(
            "the not-verified problem",
            "const e = document.querySelector('#auth-error');
             return !e.hidden && e.querySelector('#resend-link') && e.textContent",
            json!([]),
        )
        .await?;
    ensure!(
        refused
            .as_str()
            .unwrap_or_default()
            .contains("verify your email"),
        "the login page says {refused}"
    );

    // 3. The emailed link confirms the address, then drops the token from the address bar.
    let link = verification_link(app, &admin, &email).await?;
    ensure!(
        link.starts_with(&format!("{base}/verify-email?token=")),
        "unexpected verification link {link}"
    );
    b.goto(&link).await?;
    let done = b
        .wait(
            "the confirmation",
            "const d = document.querySelector('#verify-done'); return !d.hidden && d.textContent",
            json!([]),
        )
        .await?;
    ensure!(
        done.as_str().unwrap_or_default().contains("confirmed"),
        "the page says {done}"
    );
    b.ensure_token_dropped().await?;

    // 4. Log in: no credit yet, so billing comes first with the onboarding call to action.
    b.click("#verify-done a#to-login").await?;
    b.wait_path("/login").await?;
    b.fill_login(&email, password).await?;
    b.wait_path("/billing").await?;
    b.wait(
        "the onboarding call to action and a zero balance",
        "return !document.querySelector('#onboarding').hidden
           && document.querySelector('#bal-available').textContent === '$0.00'
           && document.querySelector('#nav-user').textContent === arguments[0]",
        json!([email]),
    )
    .await?;

    // 5. Turn on two-factor authentication from the security page.
    b.click("#nav-security").await?;
    b.wait_path("/security").await?;
    b.wait(
        "the security status",
        "return document.querySelector('#sec-mfa').textContent === 'off'
           && document.querySelector('#sec-verified').textContent === 'confirmed'
           && !document.querySelector('#mfa-off').hidden",
        json!([]),
    )
    .await?;
    b.click("#mfa-enrol").await?;
    let secret = b
        .wait(
            "the authenticator key and QR code",
            "const s = document.querySelector('#mfa-secret').textContent;
             return !document.querySelector('#mfa-setup').hidden
               && document.querySelector('#mfa-qr').src.startsWith('data:image/svg+xml') && s",
            json!([]),
        )
        .await?;
    let secret = secret.as_str().context("no key shown")?.to_string();
    b.type_into("#mfa-activate-code", &totp(&secret, 0)?)
        .await?;
    b.click("#mfa-activate").await?;
    let codes = b
        .wait(
            "MFA on, with recovery codes",
            "return document.querySelector('#sec-mfa').textContent.startsWith('on')
               && !document.querySelector('#mfa-codes').hidden
               && document.querySelectorAll('#mfa-code-list li').length",
            json!([]),
        )
        .await?;
    ensure!(
        codes.as_u64().unwrap_or(0) >= 5,
        "only {codes} recovery codes shown"
    );
    b.screenshot("/tmp/gpubroker-journey-mfa.png").await?;
    b.logout().await?;

    // 6. Log in again: password, then a code from the app (the next time step: the one used
    // to turn MFA on cannot be replayed).
    b.submit_login(&format!("{base}/login"), &email, password)
        .await?;
    b.wait(
        "the code step",
        "return !document.querySelector('#mfa-form').hidden && document.querySelector('#login-form').hidden",
        json!([]),
    )
    .await?;
    b.type_into("#mfa-code", &totp(&secret, 30)?).await?;
    b.click("#mfa-submit").await?;
    b.wait_path("/billing").await?;
    let before = b.shown_balance("the balance before the top-up").await?;

    // 7. Top up through the sandbox gateway: intent → test card → signed webhook → credit.
    b.click("#onboarding a").await?;
    b.wait_path("/billing/topup").await?;
    b.type_into("#topup-amount", "250.00").await?;
    b.click("#topup-submit").await?;
    b.wait(
        "the payment to confirm with a test card",
        "return !document.querySelector('#topup-pay').hidden
           && !document.querySelector('#confirm-form').hidden
           && document.querySelector('#stripe-form').hidden
           && document.querySelector('#topup-intent').textContent.includes('$250.00')",
        json!([]),
    )
    .await?;
    b.click("#confirm-card option[value=\"4242424242424242\"]")
        .await?;
    b.click("#confirm-submit").await?;
    let paid = b
        .wait(
            "the payment to succeed",
            "const d = document.querySelector('#topup-done');
             return !d.hidden && document.querySelector('#topup-pay').hidden
               && [...document.querySelectorAll('#payments-body tr')].some(r => r.textContent.includes('succeeded'))
               && d.textContent",
            json!([]),
        )
        .await?;
    ensure!(
        paid.as_str().unwrap_or_default().contains("$250.00 added"),
        "the page says {paid}"
    );
    b.screenshot("/tmp/gpubroker-journey-topup.png").await?;
    b.click("#nav-billing").await?;
    b.wait_path("/billing").await?;
    let after = b.shown_balance("the new balance").await?;
    // Readable, not only present: the figure is not painted in its card's colour.
    let legible = b
        .js(
            "const dd = document.querySelector('#bal-available');
             const card = document.querySelector('#billing-summary');
             return getComputedStyle(dd).color !== getComputedStyle(card).backgroundColor
               && dd.getBoundingClientRect().height > 0",
            json!([]),
        )
        .await?;
    ensure!(
        legible == json!(true),
        "the balance is invisible on its card"
    );
    ensure!(
        after == before + 25_000,
        "the balance went from {before} to {after} cents, not up by 25000"
    );
    ensure!(
        b.js(
            "return document.querySelector('#onboarding').hidden",
            json!([])
        )
        .await?
            == json!(true),
        "the onboarding notice stays after the top-up"
    );

    // 8. Deploy from the marketplace.
    b.click("#nav-offers").await?;
    b.wait_path("/offers").await?;
    b.wait_for_results().await?;
    b.type_into("#f-min-gpus", min_gpus).await?;
    b.type_into("#f-max-price", "100").await?;
    b.click("#f-available").await?;
    b.click("#f-submit").await?;
    b.wait(
        "the filtered results",
        "const t = document.querySelector('#offers-table');
         const q = new URLSearchParams(t.dataset.query || '');
         return t.dataset.state === 'ready' && q.get('available') === 'true' && q.get('min_gpus') === arguments[0]
           && document.querySelectorAll('tr[data-offer-id]').length",
        json!([min_gpus]),
    )
    .await?;
    b.open_first_offer().await?;
    let id = b.deploy_and_wait_ready().await?;

    // 9. Activate it by the emailed link.
    let token = app.activation_token(&admin, &email, &id).await?;
    b.activate_by_link(&format!("{base}/activate/{id}?token={token}"))
        .await?;

    // 10. Metered usage: a burn rate while it runs, and usage lines in the ledger history.
    let billing = format!("{base}/billing");
    b.wait_reloading(
        &billing,
        "a burn rate and a usage line for the deployment",
        "return document.querySelector('#bal-burn').textContent.endsWith('/ h')
           && [...document.querySelectorAll('#ledger-body tr[data-kind=usage]')]
                .some(r => r.textContent.includes(arguments[0]))",
        json!([id]),
    )
    .await?;
    let burn = b.text("#bal-burn").await?;
    ensure!(
        shown_cents(burn.trim_end_matches(" / h"))? > 0,
        "the burn rate shows {burn}"
    );
    b.screenshot("/tmp/gpubroker-journey-metered.png").await?;

    // 11. Release it.
    b.click("#nav-deployments").await?;
    b.wait_path("/deployments").await?;
    b.wait_deployment(&id, "active", "the deployment to show active")
        .await?;
    b.release(&id).await?;

    // 12. The statement shows the deployment's usage, and its CSV downloads.
    b.goto(&billing).await?;
    let charged = b
        .wait(
            "the deployment's usage line in the statement",
            "const r = [...document.querySelectorAll('#usage-allocations tbody tr')]
               .find(r => r.textContent.includes(arguments[0]));
             return r && r.querySelector('td.num').textContent",
            json!([id]),
        )
        .await?;
    let charged = shown_cents(charged.as_str().unwrap_or_default())?;
    ensure!(
        charged > 0,
        "the statement charges {charged} cents for {id}"
    );
    let summary = b.text("#statement-summary").await?;
    ensure!(
        summary.contains(&format!("usage ${}.{:02}", charged / 100, charged % 100)),
        "the summary `{summary}` does not total the usage"
    );
    // The summary loads on its own request: wait for it (the placeholder is `–`).
    let burn = b
        .wait(
            "the burn rate after the release",
            "const t = document.querySelector('#bal-burn').textContent; return t !== '–' && t",
            json!([]),
        )
        .await?;
    ensure!(
        burn == json!("nothing running"),
        "something is still metered after the release: {burn}"
    );
    b.click("#csv-download").await?;
    let downloads = b.downloads();
    let deadline = tokio::time::Instant::now() + WAIT;
    let csv = loop {
        let found = std::fs::read_dir(&downloads)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .find(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("gpubroker-statement-") && n.ends_with(".csv"))
            });
        if let Some(p) = found {
            break std::fs::read_to_string(&p)
                .with_context(|| format!("reading {}", p.display()))?;
        }
        ensure!(
            tokio::time::Instant::now() < deadline,
            "no statement CSV in {} within {WAIT:?}",
            downloads.display()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    ensure!(
        csv.starts_with("at,transaction_id,kind,allocation_id,"),
        "the CSV starts with {}",
        csv.lines().next().unwrap_or_default()
    );
    ensure!(
        csv.lines()
            .any(|l| l.contains(",usage,") && l.contains(&id)),
        "the CSV has no usage line for {id}"
    );
    ensure!(
        csv.lines().any(|l| l.contains(",topup,")),
        "the CSV has no top-up line"
    );
    b.screenshot("/tmp/gpubroker-journey-statement.png").await?;

    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_user_signs_up_verifies_enrols_mfa_tops_up_deploys_is_metered_and_reads_the_statement_in_a_real_browser(
) -> Result<()> {
    let app = spawn_app().await?;
    let browser = Browser::start().await?;
    let walked = journey(&app, &browser).await;
    finish(app, browser, walked, "the journey").await
}

/// An available offer whose (cloud) provider can provision and whose GPU model and count another
/// provisioning provider also offers within the failover tolerance: (the offer, its provider).
async fn offer_to_fail_over(app: &App) -> Result<(Value, String)> {
    let r = app.get("/api/v1/providers", None).await?;
    let provisioning: Vec<String> = r.body["items"]
        .as_array()
        .context("providers")?
        .iter()
        .filter(|p| p["capabilities"]["provision"] == true && p["kind"] == "cloud")
        .filter_map(|p| p["id"].as_str().map(String::from))
        .collect();
    let r = app
        .get("/api/v1/offers?available=true&limit=500", None)
        .await?;
    let offers: Vec<Value> = r.body["items"]
        .as_array()
        .context("offers")?
        .iter()
        .filter(|o| o["source"] != "stale")
        .filter(|o| provisioning.iter().any(|p| o["provider"] == p.as_str()))
        .cloned()
        .collect();
    // Prices compared in micro-dollars parsed from the decimal strings (no floating point).
    let micro = |o: &Value| -> i64 {
        let s = o["price_per_hour"].as_str().unwrap_or("0");
        let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
        let frac = format!("{frac:0<6}");
        whole.parse::<i64>().unwrap_or(i64::MAX / 4) * 1_000_000
            + frac.get(..6).and_then(|f| f.parse().ok()).unwrap_or(0)
    };
    let offer = offers
        .iter()
        .find(|o| {
            offers.iter().any(|e| {
                e["provider"] != o["provider"]
                    && e["gpu_model"] == o["gpu_model"]
                    && e["gpu_count"] == o["gpu_count"]
                    && micro(e) <= 2 * micro(o)
            })
        })
        .cloned()
        .context("no offer has an equivalent at another provider")?;
    let provider = offer["provider"].as_str().unwrap_or_default().to_string();
    Ok((offer, provider))
}

/// Subscribing and canceling from the pricing page, the failover note on My deployments and
/// the owned provider's unpriced count on the admin Providers page.
async fn plans_moves_and_owned(app: &App, b: &Browser) -> Result<()> {
    let base = app.url.as_str();
    // Anonymous visitors are invited to sign in; the subscribe form stays hidden.
    b.goto(&format!("{base}/plans")).await?;
    b.wait_path("/plans").await?;
    b.wait(
        "the sign-in link on PRO",
        "const a = document.querySelector('.plan-actions[data-plan=pro] .plan-signin'); \
         const f = document.querySelector('form.plan-subscribe[data-plan=pro]'); \
         return !!a && !a.hidden && !!f && f.hidden && !document.querySelector('form.plan-subscribe[data-plan=free]')",
        json!([]),
    )
    .await?;

    // A deployment that fails over: its first provider has no capacity.
    let admin = app.admin_token().await?;
    for (k, v) in [
        ("allocation.failover_price_tolerance_percent", json!(100)),
        ("allocation.require_activation", json!(false)),
    ] {
        app.set_param_ok(&admin, k, json!({"value": v, "reason": "browser"}))
            .await?;
    }
    let (offer, first) = offer_to_fail_over(app).await?;
    let r = app
        .set_knobs(
            &admin,
            &first,
            json!({"latency_ms": 0, "failure_rate": 0.0, "out_of_capacity": true,
                   "provision_seconds": 1, "release_seconds": 1}),
        )
        .await?;
    ensure!(r.status < 300, "knobs: {} {}", r.status, r.body);
    let demo = app.login(DEMO_EMAIL, DEMO_PASSWORD).await?;
    let r = app.deploy(&demo, &offer["id"]).await?;
    ensure!(r.status == 201, "deploy: {} {}", r.status, r.body);
    let id = r.body["id"].as_str().context("deployment id")?.to_string();
    let d = app.wait_state(&demo, &id, "active", 90).await?;
    ensure!(d["provider"] != first.as_str(), "it did not move: {d}");

    // Subscribe to PRO, annually, from the pricing page; the plan follows the webhook.
    b.login(base, DEMO_EMAIL, DEMO_PASSWORD, "/plans").await?;
    b.wait(
        "the subscribe form and the FREE plan",
        "const f = document.querySelector('form.plan-subscribe[data-plan=pro]'); \
         return !!f && !f.hidden && document.querySelector('.plan-actions[data-plan=pro] .plan-signin').hidden \
           && document.querySelector('#sub-plan').textContent === 'FREE' && document.querySelector('#sub-cancel').hidden",
        json!([]),
    )
    .await?;
    b.click("form.plan-subscribe[data-plan=pro] input[value=year]")
        .await?;
    b.click("form.plan-subscribe[data-plan=pro] button[type=submit]")
        .await?;
    b.wait(
        "PRO as the current plan with its annual subscription",
        "return document.querySelector('#sub-plan').textContent === 'PRO' \
           && document.querySelector('#sub-detail').textContent.includes('annual') \
           && !document.querySelector('#sub-cancel').hidden \
           && !document.querySelector('[data-plan-current=pro]').hidden \
           && document.querySelector('#sub-status').textContent.includes('PRO')",
        json!([]),
    )
    .await?;
    b.screenshot("/tmp/gpubroker-plans-subscribed.png").await?;
    let billing = app.get("/api/v1/billing", Some(&demo)).await?;
    ensure!(
        billing.body["subscription"]["plan"] == "pro"
            && billing.body["subscription"]["interval"] == "year",
        "the API says {}",
        billing.body["subscription"]
    );

    // Cancel, with the inline confirmation: back to FREE.
    b.click("#sub-cancel").await?;
    b.click("#sub-cancel-confirm").await?;
    b.wait(
        "FREE again after canceling",
        "return document.querySelector('#sub-plan').textContent === 'FREE' \
           && document.querySelector('#sub-cancel').hidden \
           && !document.querySelector('[data-plan-current=free]').hidden",
        json!([]),
    )
    .await?;
    let billing = app.get("/api/v1/billing", Some(&demo)).await?;
    ensure!(billing.body["subscription"].is_null(), "{}", billing.body);

    // My deployments says where the deployment moved from.
    b.goto(&format!("{base}/deployments")).await?;
    let note = b
        .wait(
            "the failover note",
            "const n = document.querySelector(`tr[data-deployment-id='${arguments[0]}'] .moved`); \
             return n && n.textContent",
            json!([id]),
        )
        .await?;
    ensure!(
        note == json!(format!("moved from {first} (no capacity)")),
        "the note says {note}"
    );
    b.screenshot("/tmp/gpubroker-deployments-moved.png").await?;

    // The admin sees the owned MAAS region's unpriced model and the parameter to set.
    app.set_param_ok(
        &admin,
        "maas.hourly_cost_per_gpu_micro_usd",
        json!({"value": "H100-SXM:2000000,A100-80GB-SXM:1100000,L40S:600000,RTX4090:0",
               "scope": "tenant", "reason": "browser"}),
    )
    .await?;
    app.server
        .state
        .broker
        .refresh(broker::tenants::Mode::Sandbox)
        .await?;
    b.logout().await?;
    b.login(base, ADMIN_EMAIL, ADMIN_PASSWORD, "/admin/providers")
        .await?;
    let shown = b
        .wait(
            "the owned provider's unpriced count",
            "const u = document.querySelector('tr[data-provider=maas] .provider-unpriced'); \
             const k = document.querySelector('tr[data-provider=maas] .provider-kind [data-kind]'); \
             return u && k && [k.textContent, u.dataset.unpriced, u.textContent]",
            json!([]),
        )
        .await?;
    ensure!(shown[0] == "owned" && shown[1] == "1", "{shown}");
    b.screenshot("/tmp/gpubroker-providers-unpriced.png")
        .await?;
    ensure!(
        shown[2]
            .as_str()
            .unwrap_or_default()
            .contains("maas.hourly_cost_per_gpu_micro_usd"),
        "{shown}"
    );
    let cloud = b
        .js(
            "const r = document.querySelector(`tr[data-provider='${arguments[0]}']`); \
             return [r.querySelector('[data-kind]').textContent, !!r.querySelector('.provider-unpriced')]",
            json!([first]),
        )
        .await?;
    ensure!(cloud == json!(["cloud", false]), "{cloud}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_subscribes_and_cancels_from_plans_sees_a_failover_and_the_admin_sees_unpriced_owned_gpus_in_a_real_browser(
) -> Result<()> {
    let app = spawn_app_with(|c| {
        c.stripe_webhook_secret = Some(portal_api::config::Secret("whsec_browser".into()));
    })
    .await?;
    let browser = Browser::start().await?;
    let walked = plans_moves_and_owned(&app, &browser).await;
    finish(app, browser, walked, "the plans/failover/providers walk").await
}

/// Sign-in with Google through the (fake) hosted UI in a real browser: the button on
/// `/login`, the authorize redirect, the callback page trading the code through the API,
/// signed in where the visitor wanted; then a sign-in cancelled at GitHub shows why.
async fn oauth_walk(
    app: &App,
    b: &Browser,
    moto: &MotoServer,
    hosted: &HostedUi,
    pool_client: (&str, &str),
) -> Result<()> {
    let (pool, client) = pool_client;
    let email = "olga@gmail.test";
    hosted.next_sign_in(
        "Google",
        Outcome::SignIn(moto.federated_tokens(pool, client, email).await?),
    );
    b.goto(&format!("{}/login?next=/deployments", app.url))
        .await?;
    let href = b
        .wait(
            "the Google button",
            "const a = document.querySelector('#oauth-google'); return a && a.getAttribute('href')",
            json!([]),
        )
        .await?;
    ensure!(
        href == json!("/login/oauth/Google?next=%2Fdeployments"),
        "the button keeps where to go: {href}"
    );
    b.click("#oauth-google").await?;
    let who = b
        .wait(
            "the signed-in Google user in the nav",
            "const u = document.querySelector('#nav-user'); \
             return ['/deployments', '/billing'].includes(location.pathname) && u && !u.hidden && u.textContent",
            json!([]),
        )
        .await?;
    ensure!(who == json!(email), "the nav shows {who}");
    ensure!(
        hosted.token_requests() == 1,
        "one code exchanged, got {}",
        hosted.token_requests()
    );

    b.logout().await?;
    hosted.next_sign_in("GitHub", Outcome::Deny);
    b.goto(&format!("{}/login", app.url)).await?;
    b.click("#oauth-github").await?;
    let shown = b
        .wait(
            "the cancelled sign-in explained",
            "const e = document.querySelector('#auth-error'); \
             return location.pathname === '/login/callback' && !location.search && e && !e.hidden && e.textContent",
            json!([]),
        )
        .await?;
    ensure!(
        shown.as_str().unwrap_or_default().contains("cancelled"),
        "the page says {shown}"
    );
    ensure!(
        b.text("#oauth-status").await?.contains("not completed"),
        "the status line"
    );
    ensure!(
        b.text("#oauth-title").await? == "Sign-in not completed",
        "the heading"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_signs_in_with_google_through_the_hosted_ui_in_a_real_browser() -> Result<()> {
    let moto = MotoServer::start().await?;
    let (pool, client) = moto.create_user_pool("gpubroker-browser-oauth").await?;
    let hosted = HostedUi::start(&client, &["Google", "GitHub"]).await?;
    let (moto_url, pool_id, client_id, domain) = (
        moto.url.clone(),
        pool.clone(),
        client.clone(),
        hosted.url.clone(),
    );
    let app = spawn_app_with(move |c| {
        c.aws_region = Some(REGION.into());
        c.aws_endpoint_url = Some(moto_url);
        c.aws_access_key_id = Some("testing".into());
        c.aws_secret_access_key = Some(portal_api::config::Secret("testing".into()));
        c.cognito_user_pool_id = Some(pool_id);
        c.cognito_client_id = Some(client_id);
        c.cognito_domain = Some(domain);
    })
    .await?;
    let admin = app.admin_token().await?;
    app.set_param_ok(
        &admin,
        "identity.provider",
        json!({"value": "cognito", "scope": "tenant", "reason": "browser oauth walk"}),
    )
    .await?;
    let browser = Browser::start().await?;
    let walked = oauth_walk(&app, &browser, &moto, &hosted, (&pool, &client)).await;
    finish(app, browser, walked, "the hosted-UI sign-in walk").await
}
