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
use gpubroker_e2e::{
    spawn_app, App, TempDir, ADMIN_EMAIL, ADMIN_PASSWORD, DEMO_EMAIL, DEMO_PASSWORD,
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
        self.goto(&format!("{base}/login?next={next}")).await?;
        self.wait(
            "the login form",
            "return !!document.querySelector('#login-submit')",
            json!([]),
        )
        .await?;
        self.type_into("#email", email).await?;
        self.type_into("#password", password).await?;
        self.click("#login-submit").await?;
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
    b.wait(
        "the first results",
        "return document.querySelector('#offers-table').dataset.state === 'ready'",
        json!([]),
    )
    .await?;

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
    let offer_id = b
        .js(
            "return document.querySelector('tr[data-offer-id]').dataset.offerId",
            json!([]),
        )
        .await?;
    let offer_id = offer_id
        .as_str()
        .context("offer row without id")?
        .to_string();
    b.click("tr[data-offer-id] a.offer-link").await?;
    b.wait(
        "the offer detail",
        "const d = document.querySelector('#offer-detail'); return d && !d.hidden && d.dataset.offerId === arguments[0]",
        json!([offer_id]),
    )
    .await?;
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
    b.click("#deploy-submit").await?;
    b.wait_path("/deployments").await?;
    let id = b
        .js(
            "return new URLSearchParams(location.search).get('highlight')",
            json!([]),
        )
        .await?;
    let id = id
        .as_str()
        .context("no deployment id after deploying")?
        .to_string();

    // The list refreshes by itself until the machine is ready.
    let row = "return document.querySelector(`tr[data-deployment-id=\"${arguments[0]}\"]`)?.dataset.state === arguments[1]";
    b.wait("the deployment to be ready", row, json!([id, "ready"]))
        .await?;
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
    b.goto(&link).await?;
    let result = b
        .wait(
            "the activation result",
            "return document.querySelector('#activate-card').dataset.result",
            json!([]),
        )
        .await?;
    ensure!(
        result == "ok",
        "activation failed: {}",
        b.text("#activate-error").await.unwrap_or_default()
    );
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
    let leftover = b.js("return location.search", json!([])).await?;
    ensure!(
        leftover == "",
        "the spent token stays in the address bar: {leftover}"
    );
    b.screenshot("/tmp/gpubroker-activate.png").await?;

    // Back as the owner: the deployment is active with its connection, then released.
    b.login(base, DEMO_EMAIL, DEMO_PASSWORD, "/deployments")
        .await?;
    b.wait("the deployment to show active", row, json!([id, "active"]))
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
    b.click(&format!("tr[data-deployment-id=\"{id}\"] .release"))
        .await?;
    b.click(&format!("tr[data-deployment-id=\"{id}\"] .release-confirm"))
        .await?;
    b.wait(
        "the deployment to be released",
        row,
        json!([id, "released"]),
    )
    .await?;
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
    if walked.is_err() {
        let _ = browser.screenshot(FAILURE_SHOT).await;
    }
    browser.quit().await;
    app.stop().await;
    walked.with_context(|| format!("the browser walk failed (screenshot: {FAILURE_SHOT})"))
}
