//! Failover and the reconciler, end to end in SANDBOX through the real adapters and fakes:
//! a deployment whose provider has no capacity (or fails transiently) moves to the
//! next-ranked equivalent offer and records each attempt; with nowhere to go it fails and
//! says why; instances nobody owns are released by the reconciler; a release is confirmed
//! by the provider, never assumed when the lookup fails.

use std::collections::HashSet;
use std::time::Duration;

use broker::tenants::Mode;
use gpubroker_e2e::{spawn_app, App};
use providers::{InstanceId, InstanceState, OfferId, ProviderId, ProvisionRequest};
use serde_json::{json, Value};

fn price(o: &Value) -> f64 {
    o["price_per_hour"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or(f64::MAX)
}

/// Providers of the sandbox world that can provision.
async fn deployable(app: &App) -> HashSet<String> {
    let r = app.get("/api/v1/providers", None).await.unwrap();
    let list = r.body["items"]
        .as_array()
        .or(r.body.as_array())
        .cloned()
        .unwrap_or_default();
    list.iter()
        .filter(|p| p["capabilities"]["provision"] == true)
        .filter_map(|p| p["id"].as_str().map(String::from))
        .collect()
}

/// An offer whose GPU model and count another deployable provider also offers for at most
/// twice its price: (the offer, how many equivalent offers exist at other providers).
async fn offer_with_equivalents(app: &App) -> (Value, usize) {
    let ok = deployable(app).await;
    let r = app
        .get("/api/v1/offers?available=true&limit=500", None)
        .await
        .unwrap();
    let items = r.body["items"].as_array().cloned().unwrap_or_default();
    let items: Vec<Value> = items
        .into_iter()
        .filter(|o| ok.contains(o["provider"].as_str().unwrap_or_default()))
        .filter(|o| o["source"] != "stale")
        .collect();
    let mut best: Option<(Value, usize)> = None;
    for o in &items {
        let n = items
            .iter()
            .filter(|e| {
                e["provider"] != o["provider"]
                    && e["gpu_model"] == o["gpu_model"]
                    && e["gpu_count"] == o["gpu_count"]
                    && price(e) <= 2.0 * price(o)
            })
            .count();
        if n > 0 && best.as_ref().is_none_or(|(_, m)| n > *m) {
            best = Some((o.clone(), n));
        }
    }
    best.expect("some offer has an equivalent at another deployable provider")
}

async fn set_knobs(app: &App, admin: &str, provider: &str, knobs: Value) {
    let r = app.set_knobs(admin, provider, knobs).await.unwrap();
    assert!(r.status < 300, "{} {}", r.status, r.body);
}

fn knobs(out_of_capacity: bool, failure_rate: f64) -> Value {
    json!({"latency_ms": 0, "failure_rate": failure_rate, "out_of_capacity": out_of_capacity,
           "provision_seconds": 1, "release_seconds": 1})
}

/// Polls until the deployment leaves requested/provisioning; returns its view.
async fn settle(app: &App, token: &str, id: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        let r = app
            .get(&format!("/api/v1/deployments/{id}"), Some(token))
            .await
            .unwrap();
        let st = r.body["state"].as_str().unwrap_or_default().to_string();
        if !matches!(st.as_str(), "requested" | "provisioning") {
            return r.body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still {st}: {}",
            r.body
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn setup(app: &App) -> String {
    let admin = app.admin_token().await.unwrap();
    for (k, v) in [
        ("allocation.failover_price_tolerance_percent", json!(100)),
        ("allocation.require_activation", json!(false)),
        ("jobs.backoff_base_ms", json!(50)),
        ("jobs.status_poll_ms", json!(200)),
    ] {
        let r = app.set_param(&admin, k, json!({"value": v})).await.unwrap();
        assert!(r.status < 300, "{k}: {} {}", r.status, r.body);
    }
    admin
}

/// Deploys an offer that has equivalents while its provider misbehaves per `knobs`; returns
/// the offer, the settled deployment and the user's token.
async fn deploy_while_first_provider_fails(
    app: &App,
    email: &str,
    knobs: Value,
) -> (Value, Value, String) {
    let admin = setup(app).await;
    let (offer, _) = offer_with_equivalents(app).await;
    let first = offer["provider"].as_str().unwrap().to_string();
    let user = app.register(email).await.unwrap();
    set_knobs(app, &admin, &first, knobs).await;
    let r = app.deploy(&user, &offer["id"]).await.unwrap();
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_string();
    let d = settle(app, &user, &id).await;
    assert_eq!(d["state"], "active", "{d}");
    assert_ne!(d["provider"], first.as_str(), "moved away: {d}");
    assert_eq!(d["gpu_model"], offer["gpu_model"]);
    assert_eq!(d["gpu_count"], offer["gpu_count"]);
    let attempts = d["attempts"].as_array().unwrap();
    assert!(!attempts.is_empty(), "{d}");
    assert_eq!(attempts[0]["seq"], 1);
    assert_eq!(attempts[0]["provider"], first.as_str(), "{d}");
    assert_eq!(attempts[0]["offer_id"], offer["id"]);
    assert!(
        attempts.iter().all(|a| a["offer_id"] != d["offer_id"]),
        "the current offer is not among the ones left: {d}"
    );
    (offer, d, user)
}

#[tokio::test]
async fn no_capacity_fails_over_to_the_next_equivalent_offer_and_records_the_attempt() {
    let app = spawn_app().await.unwrap();
    let (offer, d, user) =
        deploy_while_first_provider_fails(&app, "failover@e2e.test", knobs(true, 0.0)).await;
    assert_eq!(d["attempts"][0]["outcome"], "no_capacity");
    assert!(
        price(&json!({"price_per_hour": d["quoted_price_per_hour"]})) <= 2.0 * price(&offer),
        "within the tolerance: {d}"
    );
    // It releases from where it ended up.
    let id = d["id"].as_str().unwrap();
    let r = app.release(&user, id).await.unwrap();
    assert_eq!(r.status, 202, "{}", r.body);
    app.wait_state(&user, id, "released", 60).await.unwrap();
    app.stop().await;
}

#[tokio::test]
async fn transient_failures_fail_over_too() {
    let app = spawn_app().await.unwrap();
    let (_, d, _) =
        deploy_while_first_provider_fails(&app, "transient@e2e.test", knobs(false, 1.0)).await;
    assert_eq!(d["attempts"][0]["outcome"], "transient", "{d}");
    app.stop().await;
}

#[tokio::test]
async fn with_no_attempts_left_the_deployment_fails_and_says_why() {
    let app = spawn_app().await.unwrap();
    let admin = setup(&app).await;
    let r = app
        .set_param(
            &admin,
            "allocation.failover_max_attempts",
            json!({"value": 1}),
        )
        .await
        .unwrap();
    assert!(r.status < 300, "{}", r.body);
    let (offer, _) = offer_with_equivalents(&app).await;
    let first = offer["provider"].as_str().unwrap().to_string();
    let user = app.register("nowhere@e2e.test").await.unwrap();
    set_knobs(&app, &admin, &first, knobs(true, 0.0)).await;
    let r = app.deploy(&user, &offer["id"]).await.unwrap();
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_string();
    let d = settle(&app, &user, &id).await;
    assert_eq!(d["state"], "failed", "{d}");
    assert_eq!(d["provider"], first.as_str());
    assert!(
        d["failure_reason"]
            .as_str()
            .unwrap_or_default()
            .contains("capacity"),
        "{d}"
    );
    let attempts = d["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 1, "{d}");
    assert_eq!(attempts[0]["outcome"], "no_capacity");
    // Out-of-range settings are refused with the bounds.
    let r = app
        .set_param(
            &admin,
            "allocation.failover_max_attempts",
            json!({"value": 0}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(
        r.body["type"],
        "https://gpubroker.dev/problems/validation-error"
    );
    app.stop().await;
}

#[tokio::test]
async fn the_reconciler_releases_instances_no_live_allocation_owns_and_keeps_the_others() {
    let app = spawn_app().await.unwrap();
    let admin = setup(&app).await;
    let offer = app.pick_offer("provider=lambda").await.unwrap();
    let user = app.register("owner@e2e.test").await.unwrap();
    let r = app.deploy(&user, &offer["id"]).await.unwrap();
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_string();
    let live = app.wait_state(&user, &id, "active", 60).await.unwrap();
    // An instance the broker made for an allocation that does not exist (a crashed
    // database, another world...): tagged with its id, owned by nobody.
    let lambda = app
        .server
        .state
        .broker
        .index(Mode::Sandbox)
        .provider(&ProviderId("lambda".into()))
        .unwrap();
    let ghost_alloc = format!("ghost-{}", uuid::Uuid::new_v4());
    let ghost = lambda
        .provision(&ProvisionRequest {
            allocation_id: ghost_alloc.clone(),
            offer_id: OfferId(offer["id"].as_str().unwrap().to_string()),
            gpu_count: offer["gpu_count"].as_u64().unwrap() as u32,
            disk_gib: 100,
            image: "pytorch-2.4-cuda12.4".into(),
            ssh_public_key: None,
        })
        .await
        .unwrap();
    // Only admins run it.
    let r = app
        .post("/api/v1/admin/reconcile", Some(&user), json!({}))
        .await
        .unwrap();
    assert_eq!(r.status, 403, "{}", r.body);
    let r = app
        .post("/api/v1/admin/reconcile", Some(&admin), json!({}))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    let released: Vec<Value> = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["released"].as_array().cloned().unwrap_or_default())
        .collect();
    assert_eq!(released.len(), 1, "{}", r.body);
    assert_eq!(released[0]["allocation_id"], ghost_alloc.as_str());
    assert_eq!(released[0]["instance_id"], ghost.id.0.as_str());
    assert_eq!(released[0]["reason"], "no such allocation");
    let st = lambda.status(&ghost.id).await;
    assert!(
        matches!(
            st.as_ref().map(|i| i.state),
            Ok(InstanceState::Terminating | InstanceState::Terminated)
        ) || matches!(st, Err(providers::ProviderError::NotFound)),
        "{st:?}"
    );
    // The owned instance is untouched.
    let owned = live["instance_id"].as_str().unwrap().to_string();
    let st = lambda.status(&InstanceId(owned)).await.unwrap();
    assert_eq!(st.state, InstanceState::Running);
    let d = app
        .get(&format!("/api/v1/deployments/{id}"), Some(&user))
        .await
        .unwrap();
    assert_eq!(d.body["state"], "active");
    // A second pass finds nothing more to do.
    let r = app
        .post("/api/v1/admin/reconcile", Some(&admin), json!({}))
        .await
        .unwrap();
    let again: usize = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["released"].as_array().map_or(0, Vec::len))
        .sum();
    assert_eq!(again, 0, "{}", r.body);
    app.stop().await;
}

#[tokio::test]
async fn a_release_is_final_only_when_the_provider_confirms_it() {
    let app = spawn_app().await.unwrap();
    let admin = setup(&app).await;
    let offer = app.pick_offer("provider=lambda").await.unwrap();
    let r = app
        .set_param(&admin, "jobs.max_attempts", json!({"value": 100}))
        .await
        .unwrap();
    assert!(r.status < 300, "{}", r.body);
    let user = app.register("confirm@e2e.test").await.unwrap();
    let r = app.deploy(&user, &offer["id"]).await.unwrap();
    let id = r.body["id"].as_str().unwrap().to_string();
    let d = app.wait_state(&user, &id, "active", 60).await.unwrap();
    let instance = d["instance_id"].as_str().unwrap().to_string();
    // The broker lost the instance id (as after a crash between the provider's answer and
    // the write) and the provider is failing: the release must wait, not assume "gone".
    sqlx::query("UPDATE allocations SET instance_id = NULL WHERE id = $1")
        .bind(&id)
        .execute(&app.server.state.broker.db.pool)
        .await
        .unwrap();
    set_knobs(&app, &admin, "lambda", knobs(false, 1.0)).await;
    let r = app.release(&user, &id).await.unwrap();
    assert_eq!(r.status, 202, "{}", r.body);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let d = app
        .get(&format!("/api/v1/deployments/{id}"), Some(&user))
        .await
        .unwrap();
    assert_eq!(d.body["state"], "releasing", "{}", d.body);
    // The provider recovers: the instance is found by its allocation id and released.
    set_knobs(&app, &admin, "lambda", knobs(false, 0.0)).await;
    app.wait_state(&user, &id, "released", 90).await.unwrap();
    let lambda = app
        .server
        .state
        .broker
        .index(Mode::Sandbox)
        .provider(&ProviderId("lambda".into()))
        .unwrap();
    let st = lambda.status(&InstanceId(instance)).await;
    assert!(
        matches!(st.as_ref().map(|i| i.state), Ok(InstanceState::Terminated))
            || matches!(st, Err(providers::ProviderError::NotFound)),
        "{st:?}"
    );
    app.stop().await;
}
