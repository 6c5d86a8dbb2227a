//! Killing the real `gpubroker` binary while a deployment is provisioning or releasing, and
//! starting it again over the same database and data dir, finishes the job: nothing is
//! stuck and nothing is provisioned twice.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use gpubroker_e2e::{
    binary, fresh_database, TempDir, ADMIN_EMAIL, ADMIN_PASSWORD, DEMO_EMAIL, DEMO_PASSWORD,
};
use serde_json::{json, Value};

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start(dir: &Path, db: &str, port: u16) -> Proc {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("server.log"))
        .unwrap();
    let child = Command::new(binary())
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(dir)
        .args(["--database-url", db])
        .env("GPUBROKER_ADMIN_EMAIL", ADMIN_EMAIL)
        .env("GPUBROKER_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("GPUBROKER_DEMO_EMAIL", DEMO_EMAIL)
        .env("GPUBROKER_DEMO_PASSWORD", DEMO_PASSWORD)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let p = Proc(child);
    let url = format!("http://127.0.0.1:{port}/healthz");
    for _ in 0..300 {
        if reqwest::get(&url)
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return p;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!(
        "server did not become healthy: {}",
        std::fs::read_to_string(dir.join("server.log")).unwrap_or_default()
    );
}

struct Api {
    base: String,
    http: reqwest::Client,
}

impl Api {
    async fn call(
        &self,
        m: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut r = self.http.request(m, format!("{}{path}", self.base));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        if let Some(b) = body {
            r = r.json(&b);
        }
        let resp = r.send().await.unwrap();
        let s = resp.status().as_u16();
        (s, resp.json().await.unwrap_or(Value::Null))
    }

    async fn login(&self, email: &str, password: &str) -> String {
        let (s, b) = self
            .call(
                reqwest::Method::POST,
                "/api/v1/auth/login",
                None,
                Some(json!({"email": email, "password": password})),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        b["access_token"].as_str().unwrap().to_string()
    }

    async fn deployment(&self, token: &str, id: &str) -> Value {
        self.call(
            reqwest::Method::GET,
            &format!("/api/v1/deployments/{id}"),
            Some(token),
            None,
        )
        .await
        .1
    }

    async fn wait_until(
        &self,
        token: &str,
        id: &str,
        pred: impl Fn(&Value) -> bool,
        what: &str,
    ) -> Value {
        for _ in 0..400 {
            let d = self.deployment(token, id).await;
            if pred(&d) {
                return d;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "deployment {id} never reached {what}: {}",
            self.deployment(token, id).await
        );
    }

    async fn instances_of(&self, admin: &str, id: &str) -> Vec<Value> {
        let (_, b) = self
            .call(
                reqwest::Method::GET,
                "/api/v1/admin/sandbox/instances",
                Some(admin),
                None,
            )
            .await;
        b["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["allocation_id"] == id)
            .cloned()
            .collect()
    }

    async fn knobs(
        &self,
        admin: &str,
        provider: &str,
        provision_seconds: u64,
        release_seconds: u64,
    ) {
        let body = json!({"latency_ms": 0, "failure_rate": 0.0, "out_of_capacity": false, "provision_seconds": provision_seconds, "release_seconds": release_seconds});
        let (s, b) = self
            .call(
                reqwest::Method::PUT,
                &format!("/api/v1/admin/sandbox/providers/{provider}/knobs"),
                Some(admin),
                Some(body),
            )
            .await;
        assert_eq!(s, 200, "{b}");
    }
}

#[tokio::test]
async fn a_killed_server_finishes_provisioning_and_release_after_restart_without_duplicates() {
    let dir = TempDir::new().unwrap();
    let db = fresh_database(&dir.0).await.unwrap();
    let port = free_port();
    let api = Api {
        base: format!("http://127.0.0.1:{port}"),
        // No pooled connections: the server behind this port is killed and restarted.
        http: reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .unwrap(),
    };

    // First life: short job leases so a restarted worker takes over quickly.
    let p1 = start(&dir.0, &db, port).await;
    let admin = api.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    for (k, v) in [("jobs.lease_seconds", 2), ("jobs.status_poll_ms", 200)] {
        let (s, b) = api
            .call(
                reqwest::Method::PUT,
                &format!("/api/v1/admin/params/{k}"),
                Some(&admin),
                Some(json!({"value": v})),
            )
            .await;
        assert_eq!(s, 200, "{b}");
    }
    api.knobs(&admin, "runpod", 8, 1).await;
    let me = api.login(DEMO_EMAIL, DEMO_PASSWORD).await;
    let (s, d) = api
        .call(
            reqwest::Method::POST,
            "/api/v1/deployments",
            Some(&me),
            Some(json!({"best": {"provider": "runpod"}})),
        )
        .await;
    assert_eq!(s, 201, "{d}");
    let id = d["id"].as_str().unwrap().to_string();
    // Kill it while provisioning, after the provider has made the instance.
    api.wait_until(
        &me,
        &id,
        |d| d["state"] == "provisioning" && d["instance_id"].is_string(),
        "provisioning with an instance",
    )
    .await;
    drop(p1);

    // Second life: the job resumes, adopts the instance and finishes.
    let p2 = start(&dir.0, &db, port).await;
    let admin = api.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let me = api.login(DEMO_EMAIL, DEMO_PASSWORD).await;
    api.knobs(&admin, "runpod", 1, 8).await;
    let ready = api
        .wait_until(&me, &id, |d| d["state"] == "ready", "ready")
        .await;
    let instances = api.instances_of(&admin, &id).await;
    assert_eq!(
        instances.len(),
        1,
        "provisioned exactly once: {instances:?}"
    );
    assert_eq!(instances[0]["id"], ready["instance_id"]);

    // Release, and kill it while releasing.
    let (s, b) = api
        .call(
            reqwest::Method::POST,
            &format!("/api/v1/deployments/{id}/release"),
            Some(&me),
            None,
        )
        .await;
    assert_eq!(s, 202, "{b}");
    api.wait_until(&me, &id, |d| d["state"] == "releasing", "releasing")
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    drop(p2);

    // Third life: the release job resumes; released only once the provider confirms.
    let p3 = start(&dir.0, &db, port).await;
    let admin = api.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let me = api.login(DEMO_EMAIL, DEMO_PASSWORD).await;
    api.knobs(&admin, "runpod", 1, 1).await;
    api.wait_until(&me, &id, |d| d["state"] == "released", "released")
        .await;
    // The provider confirmed (for RunPod a deleted pod is gone from its API at once); the
    // market's one instance finishes terminating on its own schedule.
    let mut instances = api.instances_of(&admin, &id).await;
    for _ in 0..100 {
        if instances.len() == 1 && instances[0]["state"] == "terminated" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        instances = api.instances_of(&admin, &id).await;
    }
    assert_eq!(instances.len(), 1, "{instances:?}");
    assert_eq!(instances[0]["state"], "terminated");
    drop(p3);
}
