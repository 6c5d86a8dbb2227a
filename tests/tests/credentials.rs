//! Provider credentials end to end: write-only through the admin API (reads show a masked
//! hint), audited without the secret, never in a response or a log line; sealed under the
//! boot key (another key cannot read them); and the LIVE world built from them.

use std::io::Write;
use std::sync::{Arc, Mutex};

use gpubroker_e2e::{config, fresh_database, spawn_app, App, TempDir, DEMO_EMAIL, DEMO_PASSWORD};
use reqwest::Method;
use serde_json::{json, Value};

const SECRET: &str = "secret_live_7f3a9c2e5b1d4086wxyz";
const PATH: &str = "/api/v1/admin/providers/lambda/credentials";

/// Every log line of the process (all crates, debug and up), for scanning.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut b) = self.0.lock() {
            b.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn install() -> Captured {
        let c = Captured::default();
        let writer = c.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter("debug")
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
        c
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

async fn put(app: &App, token: &str, path: &str, body: Value) -> gpubroker_e2e::Resp {
    app.call(Method::PUT, path, Some(token), Some(body), &[])
        .await
        .unwrap()
}

fn problem_type(r: &gpubroker_e2e::Resp) -> String {
    r.body["type"]
        .as_str()
        .unwrap_or_default()
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn an_admin_stores_a_credential_and_only_ever_sees_its_hint() {
    let logs = Captured::install();
    let app = spawn_app().await.unwrap();
    let admin = app.admin_token().await.unwrap();
    let mut responses = Vec::new();

    let r = put(
        &app,
        &admin,
        PATH,
        json!({"mode": "sandbox", "secret": {"api_key": SECRET},
               "settings": {"ssh_key_name": "ops"}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["hint"], "••••wxyz");
    assert_eq!(r.body["settings"]["ssh_key_name"], "ops");
    responses.push(r.body.to_string());

    let r = app.get(PATH, Some(&admin)).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    let items = r.body["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["mode"], "sandbox");
    assert_eq!(items[0]["hint"], "••••wxyz");
    assert!(items[0]["key_id"].as_str().unwrap().starts_with("k-"));
    responses.push(r.body.to_string());

    let r = app
        .get("/api/v1/admin/audit?subject=provider:lambda", Some(&admin))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    let audit = r.body.to_string();
    assert!(audit.contains("credentials.put"), "{audit}");
    let put = r.body["items"]
        .as_array()
        .and_then(|rows| rows.iter().find(|a| a["action"] == "credentials.put"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        put["subject"], "provider:lambda/credentials/sandbox",
        "{put}"
    );
    assert_eq!(
        put["after"],
        format!("hint=••••wxyz key={}", items[0]["key_id"].as_str().unwrap()),
        "{put}"
    );
    responses.push(audit);

    let r = app
        .call(
            Method::DELETE,
            &format!("{PATH}?mode=sandbox"),
            Some(&admin),
            None,
            &[],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 204);
    let r = app.get(PATH, Some(&admin)).await.unwrap();
    assert_eq!(r.body["items"], json!([]));
    let r = app
        .call(
            Method::DELETE,
            &format!("{PATH}?mode=sandbox"),
            Some(&admin),
            None,
            &[],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 404, "{}", r.body);
    let r = app
        .get("/api/v1/admin/audit?subject=provider:lambda", Some(&admin))
        .await
        .unwrap();
    assert!(r.body.to_string().contains("credentials.delete"));
    let deleted = r.body["items"]
        .as_array()
        .and_then(|rows| rows.iter().find(|a| a["action"] == "credentials.delete"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(deleted["before"], put["after"], "{deleted}");
    assert_eq!(deleted["subject"], put["subject"], "{deleted}");
    responses.push(r.body.to_string());

    for body in &responses {
        assert!(
            !body.contains(SECRET),
            "the secret leaked into a response: {body}"
        );
    }
    let key_file = app.dir.0.join("credentials.key");
    assert!(key_file.exists(), "a SANDBOX start generates the key file");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    app.stop().await;
    let logs = logs.text();
    assert!(
        logs.contains("provider credential stored"),
        "logs were captured"
    );
    assert!(!logs.contains(SECRET), "the secret leaked into the logs");
    assert!(
        !logs.contains("7f3a9c2e5b1d"),
        "part of the secret leaked into the logs"
    );
}

#[tokio::test]
async fn the_credentials_api_refuses_non_admins_unknown_providers_and_incomplete_bodies() {
    let app = spawn_app().await.unwrap();
    let admin = app.admin_token().await.unwrap();
    let user = app.login(DEMO_EMAIL, DEMO_PASSWORD).await.unwrap();
    let good = json!({"mode": "sandbox", "secret": {"api_key": SECRET}});

    let r = put(&app, &user, PATH, good.clone()).await;
    assert_eq!(r.status, 403, "{}", r.body);
    let r = app.get(PATH, Some(&user)).await.unwrap();
    assert_eq!(r.status, 403);

    let r = put(
        &app,
        &admin,
        "/api/v1/admin/providers/nimbus/credentials",
        good.clone(),
    )
    .await;
    assert_eq!((r.status, problem_type(&r).as_str()), (404, "not-found"));

    let cases = [
        (json!({"secret": {"api_key": SECRET}}), "mode"),
        (
            json!({"mode": "staging", "secret": {"api_key": SECRET}}),
            "mode",
        ),
        (json!({"mode": "live"}), "secret"),
        (json!({"mode": "live", "secret": {}}), "secret.api_key"),
        (
            json!({"mode": "live", "secret": {"api_key": 7}}),
            "secret.api_key",
        ),
        (
            json!({"mode": "live", "secret": {"api_key": SECRET, "password": "x"}}),
            "secret.password",
        ),
        (
            json!({"mode": "live", "secret": {"api_key": SECRET}, "settings": {"base_url": "nope"}}),
            "settings.base_url",
        ),
    ];
    for (body, field) in cases {
        let r = put(&app, &admin, PATH, body.clone()).await;
        assert_eq!(r.status, 422, "{body}: {}", r.body);
        assert_eq!(problem_type(&r), "credential-invalid");
        assert_eq!(r.body["field"], field, "{body}");
        assert!(!r.body.to_string().contains(SECRET));
    }
    let r = put(
        &app,
        &admin,
        "/api/v1/admin/providers/verda/credentials",
        json!({"mode": "live", "secret": {"client_id": "abc"}}),
    )
    .await;
    assert_eq!(r.body["field"], "secret.client_secret", "{}", r.body);

    let r = app
        .call(
            Method::PUT,
            PATH,
            Some(&admin),
            None,
            &[("content-type", "application/json")],
        )
        .await
        .unwrap();
    assert_eq!(
        (r.status, problem_type(&r).as_str()),
        (400, "malformed-body")
    );
    let r = app
        .call(Method::DELETE, PATH, Some(&admin), None, &[])
        .await
        .unwrap();
    assert_eq!(r.body["field"], "mode", "{}", r.body);
    // Nothing was stored by any refused request.
    let r = app.get(PATH, Some(&admin)).await.unwrap();
    assert_eq!(r.body["items"], json!([]));
    app.stop().await;
}

#[tokio::test]
async fn credentials_sealed_under_one_key_are_unreadable_under_another() {
    let dir = TempDir::new().unwrap();
    let database_url = fresh_database(&dir.0).await.unwrap();
    let mut cfg = config(&dir.0, &database_url);
    let key_a = broker::credentials::MasterKey::generate();
    cfg.credentials_key = Some(portal_api::config::Secret(key_a.to_base64()));
    let server = portal_api::server::start(&cfg).await.unwrap();
    let app = App {
        url: server.url(),
        server,
        http: reqwest::Client::new(),
        database_url: database_url.clone(),
        dir: TempDir::new().unwrap(),
    };
    let admin = app.admin_token().await.unwrap();
    let r = put(
        &app,
        &admin,
        PATH,
        json!({"mode": "sandbox", "secret": {"api_key": SECRET}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["key_id"], key_a.id());
    assert!(
        !dir.0.join("credentials.key").exists(),
        "with the variable set no key file is written"
    );
    app.stop().await;

    let key_b = broker::credentials::MasterKey::generate();
    cfg.credentials_key = Some(portal_api::config::Secret(key_b.to_base64()));
    let server = portal_api::server::start(&cfg).await.unwrap();
    let app = App {
        url: server.url(),
        server,
        http: reqwest::Client::new(),
        database_url,
        dir: TempDir::new().unwrap(),
    };
    let admin = app.admin_token().await.unwrap();
    let r = app.get(PATH, Some(&admin)).await.unwrap();
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(problem_type(&r), "credentials-unreadable");
    assert!(r.body["detail"].as_str().unwrap().contains(key_a.id()));
    assert!(!r.body.to_string().contains(SECRET));
    // Storing it again under the current key repairs it.
    let r = put(
        &app,
        &admin,
        PATH,
        json!({"mode": "sandbox", "secret": {"api_key": SECRET}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = app.get(PATH, Some(&admin)).await.unwrap();
    assert_eq!(r.body["items"][0]["key_id"], key_b.id());

    // A row moved to another provider does not open there (the associated data binds it).
    let db = broker::Db::connect(&app.database_url).await.unwrap();
    sqlx::query(
        "UPDATE provider_credentials SET provider_id = 'runpod' WHERE provider_id = 'lambda'",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let r = app
        .get("/api/v1/admin/providers/runpod/credentials", Some(&admin))
        .await
        .unwrap();
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(problem_type(&r), "credentials-unreadable");
    assert!(
        r.body["detail"].as_str().unwrap().contains("copied row"),
        "{}",
        r.body
    );
    app.stop().await;
}

#[tokio::test]
async fn the_live_world_is_built_from_stored_credentials_and_sandbox_never_sees_it() {
    // A Lambda wire fake standing in for the real cloud, with its own key.
    let clock: Arc<dyn providers::clock::Clock> = Arc::new(providers::clock::SystemClock);
    let market = Arc::new(sandbox::Market::new(7, clock).unwrap());
    let ctx = sandbox::fakes::FakeContext::new(market, "lambda", SECRET);
    let fake = sandbox::fakes::FakeServer::start(sandbox::fakes::lambda::router(ctx))
        .await
        .unwrap();
    let base_url = format!("{}/api/v1", fake.url());

    let app = spawn_app().await.unwrap();
    let admin = app.admin_token().await.unwrap();
    let sandbox_before = app.get("/api/v1/providers", None).await.unwrap().body;
    let sandbox_count = sandbox_before["items"].as_array().map_or(0, Vec::len);
    assert!(sandbox_count >= 22, "{sandbox_before}");

    let r = put(
        &app,
        &admin,
        PATH,
        json!({"mode": "live", "secret": {"api_key": SECRET}, "settings": {"base_url": base_url}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);

    // Still SANDBOX: the tenant sees the sandbox world, unchanged.
    let sandbox_after = app.get("/api/v1/providers", None).await.unwrap().body;
    assert_eq!(
        sandbox_after["items"].as_array().map_or(0, Vec::len),
        sandbox_count
    );

    let r = app
        .set_param(
            &admin,
            "tenant.mode",
            json!({"value": "live", "confirm": "live", "reason": "credentials test"}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    let live = app.get("/api/v1/providers", None).await.unwrap().body;
    let items = live["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(
        items.len(),
        1,
        "only the provider with a LIVE credential: {live}"
    );
    assert_eq!(items[0]["id"], "lambda");
    assert_eq!(items[0]["healthy"], true, "{live}");
    assert!(items[0]["offer_count"].as_u64().unwrap() > 0, "{live}");
    let offers = app.get("/api/v1/offers?limit=50", None).await.unwrap().body;
    let listed = offers["items"].as_array().cloned().unwrap_or_default();
    assert!(!listed.is_empty(), "{offers}");
    assert!(listed.iter().all(|o| o["provider"] == "lambda"), "{offers}");

    // A wrong key: the provider stays in the world, unhealthy with an auth error.
    let r = put(
        &app,
        &admin,
        PATH,
        json!({"mode": "live", "secret": {"api_key": "secret_wrong_0000000000"},
               "settings": {"base_url": base_url}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let live = app.get("/api/v1/providers", None).await.unwrap().body;
    assert_eq!(live["items"][0]["healthy"], false, "{live}");
    assert!(
        live["items"][0]["last_error"]
            .as_str()
            .unwrap_or_default()
            .contains("credentials"),
        "{live}"
    );

    // Removing the credential removes the provider from the LIVE world.
    let r = app
        .call(
            Method::DELETE,
            &format!("{PATH}?mode=live"),
            Some(&admin),
            None,
            &[],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 204, "{}", r.body);
    let live = app.get("/api/v1/providers", None).await.unwrap().body;
    assert_eq!(live["items"], json!([]), "{live}");
    app.stop().await;
}
