//! Support for the end-to-end tests: start the real application on a free loopback port
//! over a fresh database (SQLite by default; PostgreSQL when `GPUBROKER_TEST_POSTGRES` holds
//! a server URL such as `postgres://postgres@127.0.0.1:5432/test`), and a small API client.
//!
//! Every server started here binds 127.0.0.1:0 and stops when the test drops it.

pub mod hosted_ui;
pub mod localstripe;
pub mod moto;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use portal_api::config::Config;
use portal_api::server::Server;
use serde_json::{json, Value};

pub const ADMIN_EMAIL: &str = "admin@e2e.test";
pub const ADMIN_PASSWORD: &str = "admin-password-1";
pub const DEMO_EMAIL: &str = "demo@e2e.test";
pub const DEMO_PASSWORD: &str = "demo-password-1";

/// The prefix of every problem `type` the API answers with (RFC 9457).
pub const PROBLEM: &str = "https://gpubroker.dev/problems/";

/// Seconds since the Unix epoch, as a TOTP code or a token's `exp` counts them.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// Where Stripe (and our sandbox gateway) delivers webhook events.
pub const STRIPE_WEBHOOK: &str = "/api/v1/webhooks/stripe";

/// A Stripe-shaped event around `object`, created now, as Stripe POSTs it to the webhook.
pub fn stripe_event(id: &str, kind: &str, object: Value) -> Vec<u8> {
    stripe_event_at(id, kind, unix_now_secs(), object)
}

/// As [`stripe_event`], created at `created` (unix seconds; a subscription's events apply
/// in that order).
pub fn stripe_event_at(id: &str, kind: &str, created: i64, object: Value) -> Vec<u8> {
    json!({
        "id": id, "object": "event", "api_version": "2024-06-20", "created": created,
        "livemode": false, "type": kind, "data": {"object": object},
    })
    .to_string()
    .into_bytes()
}

/// `t=…,v1=…` over `body` with `secret`, signed now, as Stripe signs its deliveries.
pub fn stripe_signature(secret: &str, body: &[u8]) -> String {
    broker::payments::signature::header(secret, unix_now_secs(), body)
}

/// POSTs a webhook `body` to the application at `base_url` with `signature` as its
/// `Stripe-Signature` (none: no header): the response, whatever its status. A free function
/// so that concurrent deliveries can run on their own tasks with a cloned client.
pub async fn deliver_webhook(
    http: &reqwest::Client,
    base_url: &str,
    body: &[u8],
    signature: Option<&str>,
) -> Result<Resp> {
    let mut req = http
        .post(format!("{base_url}{STRIPE_WEBHOOK}"))
        .header("content-type", "application/json")
        .body(body.to_vec());
    if let Some(s) = signature {
        req = req.header("Stripe-Signature", s);
    }
    let resp = req.send().await?;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await?;
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Ok(Resp {
        status,
        body,
        headers,
    })
}

/// [`unix_now`] as the signed seconds Stripe's timestamps are.
pub fn unix_now_secs() -> i64 {
    i64::try_from(unix_now()).unwrap_or(i64::MAX)
}

/// Which database the suite runs on.
pub fn postgres_base() -> Option<String> {
    std::env::var("GPUBROKER_TEST_POSTGRES")
        .ok()
        .filter(|s| !s.is_empty())
}

/// A fresh, empty database URL for one test (and the data dir it may use).
pub async fn fresh_database(dir: &std::path::Path) -> Result<String> {
    match postgres_base() {
        None => Ok(format!("sqlite://{}", dir.join("gpubroker.db").display())),
        Some(base) => {
            use sqlx::Connection;
            let name = format!("gb_{}", uuid::Uuid::new_v4().simple());
            let mut conn = sqlx::PgConnection::connect(&base)
                .await
                .context("connecting to the test PostgreSQL")?;
            sqlx::Executor::execute(&mut conn, format!("CREATE DATABASE {name}").as_str()).await?;
            let (prefix, _) = base
                .rsplit_once('/')
                .context("postgres URL without a database")?;
            Ok(format!("{prefix}/{name}"))
        }
    }
}

/// The `gpubroker` binary built next to the running test (`target/<profile>/gpubroker`).
pub fn binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    let bin = exe
        .parent()
        .and_then(|deps| deps.parent())
        .map(|dir| dir.join("gpubroker"))
        .unwrap_or_default();
    assert!(
        bin.exists(),
        "build the server first (cargo build -p portal-api --bin gpubroker): {} is missing",
        bin.display()
    );
    bin
}

/// A temporary directory removed on drop.
#[derive(Debug)]
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> Result<TempDir> {
        let p =
            std::env::temp_dir().join(format!("gpubroker-e2e-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&p)?;
        Ok(TempDir(p))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running application for one test.
pub struct App {
    pub server: Server,
    pub url: String,
    pub http: reqwest::Client,
    pub database_url: String,
    pub dir: TempDir,
}

/// The configuration `spawn_app` uses (free port, temp data dir, fixed logins).
pub fn config(dir: &std::path::Path, database_url: &str) -> Config {
    Config {
        listen: "127.0.0.1:0"
            .parse()
            .unwrap_or_else(|_| std::net::SocketAddr::from(([127, 0, 0, 1], 0))),
        data_dir: dir.to_path_buf(),
        database_url: Some(database_url.to_string()),
        admin_email: Some(ADMIN_EMAIL.into()),
        admin_password: Some(ADMIN_PASSWORD.into()),
        demo_email: Some(DEMO_EMAIL.into()),
        demo_password: Some(DEMO_PASSWORD.into()),
        ..Config::default()
    }
}

/// Starts the application in-process over a fresh database.
pub async fn spawn_app() -> Result<App> {
    spawn_app_with(|_| {}).await
}

/// As [`spawn_app`], with the configuration adjusted first (e.g. Stripe keys).
pub async fn spawn_app_with(configure: impl FnOnce(&mut Config)) -> Result<App> {
    let dir = TempDir::new()?;
    let database_url = fresh_database(&dir.0).await?;
    let mut cfg = config(&dir.0, &database_url);
    configure(&mut cfg);
    let server = portal_api::server::start(&cfg).await?;
    let url = server.url();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()?;
    Ok(App {
        server,
        url,
        http,
        database_url,
        dir,
    })
}

/// A JSON response.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
}

impl App {
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Result<Resp> {
        let mut req = self.http.request(method, format!("{}{}", self.url, path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await?;
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok(Resp {
            status,
            body,
            headers,
        })
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Result<Resp> {
        self.call(reqwest::Method::GET, path, token, None, &[])
            .await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Result<Resp> {
        self.call(reqwest::Method::POST, path, token, Some(body), &[])
            .await
    }

    /// A POST carrying an `Idempotency-Key`: the response, whatever its status.
    pub async fn post_keyed(
        &self,
        path: &str,
        token: Option<&str>,
        body: Value,
        key: &str,
    ) -> Result<Resp> {
        self.call(
            reqwest::Method::POST,
            path,
            token,
            Some(body),
            &[("Idempotency-Key", key)],
        )
        .await
    }

    /// Delivers a webhook `body` with `signature` as its `Stripe-Signature` header (none:
    /// no header): the response, whatever its status.
    pub async fn webhook(&self, body: &[u8], signature: Option<&str>) -> Result<Resp> {
        deliver_webhook(&self.http, &self.url, body, signature).await
    }

    /// Delivers a webhook `body` signed now with `secret`, as Stripe delivers it: the
    /// response, whatever its status.
    pub async fn signed_webhook(&self, secret: &str, body: &[u8]) -> Result<Resp> {
        self.webhook(body, Some(&stripe_signature(secret, body)))
            .await
    }

    /// The kinds of the mails to `to` in the admin outbox, newest first.
    pub async fn outbox_kinds(&self, admin: &str, to: &str) -> Result<Vec<String>> {
        let r = self
            .get(&format!("/api/v1/admin/outbox?to={to}"), Some(admin))
            .await?;
        if r.status != 200 {
            bail!("reading the outbox of {to}: {} {}", r.status, r.body);
        }
        Ok(r.body["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| m["kind"].as_str().map(str::to_string))
            .collect())
    }

    /// Signs up `email` with `password`: the response, whatever its status.
    pub async fn sign_up(&self, email: &str, password: &str) -> Result<Resp> {
        self.post(
            "/api/v1/auth/register",
            None,
            json!({"email": email, "password": password}),
        )
        .await
    }

    /// Signs in with `email` and `password`: the response, whatever its status.
    pub async fn sign_in(&self, email: &str, password: &str) -> Result<Resp> {
        self.post(
            "/api/v1/auth/login",
            None,
            json!({"email": email, "password": password}),
        )
        .await
    }

    /// The second sign-in step: an MFA token and a code (TOTP or recovery).
    pub async fn sign_in_mfa(&self, mfa_token: &str, code: &str) -> Result<Resp> {
        self.post(
            "/api/v1/auth/login/mfa",
            None,
            json!({"mfa_token": mfa_token, "code": code}),
        )
        .await
    }

    /// Exchanges a refresh token: the response, whatever its status.
    pub async fn refresh(&self, refresh_token: &str) -> Result<Resp> {
        self.post(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": refresh_token}),
        )
        .await
    }

    /// Starts TOTP enrolment for the signed-in user: the response, whatever its status.
    pub async fn enrol_totp(&self, access: &str) -> Result<Resp> {
        self.post("/api/v1/me/mfa/totp", Some(access), json!({}))
            .await
    }

    /// Completes TOTP enrolment with `code`: the response, whatever its status.
    pub async fn activate_totp(&self, access: &str, code: &str) -> Result<Resp> {
        self.post(
            "/api/v1/me/mfa/totp/activate",
            Some(access),
            json!({"code": code}),
        )
        .await
    }

    /// Signs in and returns the access token.
    pub async fn login(&self, email: &str, password: &str) -> Result<String> {
        let r = self.sign_in(email, password).await?;
        if r.status != 200 {
            bail!("login failed: {} {}", r.status, r.body);
        }
        Ok(r.body["access_token"]
            .as_str()
            .unwrap_or_default()
            .to_string())
    }

    /// Registers a new user and returns the access token.
    pub async fn register(&self, email: &str) -> Result<String> {
        let r = self.sign_up(email, "a-good-password").await?;
        if r.status != 201 {
            bail!("register failed: {} {}", r.status, r.body);
        }
        Ok(r.body["access_token"]
            .as_str()
            .unwrap_or_default()
            .to_string())
    }

    pub async fn admin_token(&self) -> Result<String> {
        self.login(ADMIN_EMAIL, ADMIN_PASSWORD).await
    }

    /// Sets a parameter as admin.
    pub async fn set_param(&self, admin: &str, key: &str, body: Value) -> Result<Resp> {
        self.call(
            reqwest::Method::PUT,
            &format!("/api/v1/admin/params/{key}"),
            Some(admin),
            Some(body),
            &[],
        )
        .await
    }

    /// Requests a deployment of an offer (by its id as the API gave it).
    pub async fn deploy(&self, token: &str, offer_id: &Value) -> Result<Resp> {
        self.post(
            "/api/v1/deployments",
            Some(token),
            json!({"offer_id": offer_id}),
        )
        .await
    }

    /// Sets a parameter as admin and fails unless the API accepts it (200).
    pub async fn set_param_ok(&self, admin: &str, key: &str, body: Value) -> Result<Resp> {
        let r = self.set_param(admin, key, body).await?;
        if r.status != 200 {
            bail!("setting {key}: {} {}", r.status, r.body);
        }
        Ok(r)
    }

    /// Turns the POD LIVE (the confirmed switch), giving `reason`.
    pub async fn go_live(&self, admin: &str, reason: &str) -> Result<Resp> {
        self.set_param_ok(
            admin,
            "tenant.mode",
            json!({"value": "live", "confirm": "live", "reason": reason}),
        )
        .await
    }

    /// The actions of the newest `limit` audit entries about `subject`, as the admin reads them.
    pub async fn audit_actions(
        &self,
        admin: &str,
        subject: &str,
        limit: u32,
    ) -> Result<Vec<String>> {
        let r = self
            .get(
                &format!("/api/v1/admin/audit?subject={subject}&limit={limit}"),
                Some(admin),
            )
            .await?;
        if r.status != 200 {
            bail!("reading the audit of {subject}: {} {}", r.status, r.body);
        }
        r.body["items"]
            .as_array()
            .with_context(|| format!("no audit items: {}", r.body))?
            .iter()
            .map(|a| {
                a["action"]
                    .as_str()
                    .map(str::to_string)
                    .with_context(|| format!("an audit entry without action: {a}"))
            })
            .collect()
    }

    /// Asks for deployment `id` to be released: the response, whatever its status.
    pub async fn release(&self, token: &str, id: &str) -> Result<Resp> {
        self.post(
            &format!("/api/v1/deployments/{id}/release"),
            Some(token),
            json!({}),
        )
        .await
    }

    /// Sets a SANDBOX provider's market knobs as admin (`latency_ms`, `failure_rate`,
    /// `out_of_capacity`, `provision_seconds`, `release_seconds`).
    pub async fn set_knobs(&self, admin: &str, provider: &str, knobs: Value) -> Result<Resp> {
        self.call(
            reqwest::Method::PUT,
            &format!("/api/v1/admin/sandbox/providers/{provider}/knobs"),
            Some(admin),
            Some(knobs),
            &[],
        )
        .await
    }

    /// Redeems an emailed activation `token` for deployment `id`: the response, whatever its
    /// status.
    pub async fn activate(&self, id: &str, token: &str) -> Result<Resp> {
        self.post(
            &format!("/api/v1/deployments/{id}/activate"),
            None,
            json!({"token": token}),
        )
        .await
    }

    /// Polls a deployment until its state is `want` (or a terminal surprise), up to `secs`.
    pub async fn wait_state(&self, token: &str, id: &str, want: &str, secs: u64) -> Result<Value> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        loop {
            let r = self
                .get(&format!("/api/v1/deployments/{id}"), Some(token))
                .await?;
            let st = r.body["state"].as_str().unwrap_or_default().to_string();
            if st == want {
                return Ok(r.body);
            }
            if tokio::time::Instant::now() > deadline {
                bail!(
                    "deployment {id} is `{st}`, not `{want}`, after {secs}s: {}",
                    r.body
                );
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }

    /// The activation token from the newest activation mail to `email`.
    pub async fn activation_token(
        &self,
        admin: &str,
        email: &str,
        deployment: &str,
    ) -> Result<String> {
        let r = self
            .get(&format!("/api/v1/admin/outbox?to={email}"), Some(admin))
            .await?;
        for m in r.body["items"].as_array().into_iter().flatten() {
            let text = m["body_text"].as_str().unwrap_or_default();
            if m["kind"] == "activation" && text.contains(deployment) {
                if let Some(t) = text.split("token=").nth(1) {
                    return Ok(t.split_whitespace().next().unwrap_or_default().to_string());
                }
            }
        }
        bail!("no activation mail for {deployment} in {}", r.body)
    }

    /// Some offer with free capacity matching the query string.
    pub async fn pick_offer(&self, query: &str) -> Result<Value> {
        let r = self
            .get(
                &format!("/api/v1/offers?available=true&limit=1&{query}"),
                None,
            )
            .await?;
        r.body["items"]
            .get(0)
            .cloned()
            .context("no offer available")
    }

    /// Polls the admin outbox until the newest mail of `kind` to `to` is no longer queued
    /// (up to 60 s), and returns it as the outbox lists it.
    pub async fn delivered_mail(&self, admin: &str, to: &str, kind: &str) -> Result<Value> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let r = self
                .get(&format!("/api/v1/admin/outbox?to={to}"), Some(admin))
                .await?;
            let m = r.body["items"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|m| m["kind"] == kind)
                .cloned();
            if let Some(m) = m.filter(|m| m["delivery"] != "queued") {
                return Ok(m);
            }
            if tokio::time::Instant::now() > deadline {
                bail!("no delivered {kind} mail to {to}: {}", r.body);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The signed-in user's available credit in cents (`GET /billing`).
    pub async fn available(&self, token: &str) -> Result<i64> {
        let r = self.get("/api/v1/billing", Some(token)).await?;
        if r.status != 200 {
            bail!("reading the balance: {} {}", r.status, r.body);
        }
        r.body["available_minor"]
            .as_i64()
            .with_context(|| format!("no available_minor: {}", r.body))
    }

    pub async fn stop(self) {
        self.server.shutdown().await;
    }
}

/// Waits (up to 30 s, polling every 100 ms) until `f` holds; panics naming `what` otherwise.
pub async fn eventually<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..300 {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what}: never happened");
}

/// No hold ever took `user`'s available credit below zero: replays the user's cash entries in
/// order and looks at the balance right after every hold. Returns the final cash balance.
pub async fn assert_no_hold_overdrew(db: &broker::Db, user: &str) -> i64 {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT t.kind, e.amount_minor FROM ledger_entries e \
         JOIN ledger_transactions t ON t.id = e.transaction_id \
         WHERE e.account_id = $1 ORDER BY e.seq",
    )
    .bind(broker::ledger::cash_account(user))
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let mut running = 0;
    for (kind, amount) in rows {
        running += amount;
        if kind == "hold" {
            assert!(running >= 0, "a hold overdrew {user}: {running}");
        }
    }
    running
}

/// Every transaction's entries sum to zero and it has at least two; every account's balance
/// from the ledger equals the sum of its entries read independently; all entries sum to 0.
pub async fn assert_books_balance(db: &broker::Db, ledger: &broker::ledger::Ledger) {
    let unbalanced: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT transaction_id, CAST(SUM(amount_minor) AS BIGINT), COUNT(*) FROM ledger_entries \
         GROUP BY transaction_id HAVING SUM(amount_minor) <> 0 OR COUNT(*) < 2",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert!(unbalanced.is_empty(), "unbalanced: {unbalanced:?}");
    let headless: (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM ledger_transactions t WHERE NOT EXISTS \
         (SELECT 1 FROM ledger_entries e WHERE e.transaction_id = t.id)",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(headless.0, 0, "transactions without entries");
    let entries: Vec<(String, i64)> =
        sqlx::query_as("SELECT account_id, amount_minor FROM ledger_entries")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    let mut sums: std::collections::HashMap<String, i64> = std::collections::HashMap::new();
    for (acc, amount) in &entries {
        *sums.entry(acc.clone()).or_default() += amount;
    }
    assert_eq!(sums.values().sum::<i64>(), 0);
    let accounts: Vec<(String,)> = sqlx::query_as("SELECT id FROM ledger_accounts")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    for (acc,) in accounts {
        assert_eq!(
            ledger.account_balance(&acc).await.unwrap(),
            sums.get(&acc).copied().unwrap_or(0),
            "{acc}"
        );
    }
}
