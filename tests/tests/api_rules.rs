//! The allocation rules under concurrency, idempotent retries, and parameters that take
//! effect without a restart.

use gpubroker_e2e::{spawn_app, DEMO_EMAIL, DEMO_PASSWORD};
use providers::OfferId;
use serde_json::json;

#[tokio::test]
async fn fifty_concurrent_deploys_never_exceed_the_users_limit() {
    let app = spawn_app().await.unwrap();
    let me = app.login(DEMO_EMAIL, DEMO_PASSWORD).await.unwrap();
    let offers = app
        .get(
            "/api/v1/offers?available=true&sort=availability&limit=50",
            None,
        )
        .await
        .unwrap();
    let ids: Vec<String> = offers.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap().to_string())
        .collect();
    let mut set = tokio::task::JoinSet::new();
    for i in 0..50 {
        let http = app.http.clone();
        let url = format!("{}/api/v1/deployments", app.url);
        let token = me.clone();
        let offer = ids[i % ids.len()].clone();
        set.spawn(async move {
            http.post(url)
                .bearer_auth(token)
                .json(&json!({"offer_id": offer}))
                .send()
                .await
                .map(|r| r.status().as_u16())
        });
    }
    let mut codes = Vec::new();
    while let Some(r) = set.join_next().await {
        codes.push(r.unwrap().unwrap());
    }
    let created = codes.iter().filter(|c| **c == 201).count();
    assert_eq!(created, 2, "default limit is 2: {codes:?}");
    assert!(codes.iter().all(|c| *c == 201 || *c == 409), "{codes:?}");
    let list = app
        .get("/api/v1/deployments?limit=200", Some(&me))
        .await
        .unwrap();
    assert_eq!(list.body["items"].as_array().unwrap().len(), 2);
    app.stop().await;
}

#[tokio::test]
async fn two_users_racing_for_the_last_unit_of_an_offer_exactly_one_wins() {
    let app = spawn_app().await.unwrap();
    let offer = app.pick_offer("gpu=H100-SXM&provider=aws").await.unwrap();
    let id = offer["id"].as_str().unwrap().to_string();
    let market = app.server.state.market.clone().unwrap();
    market.set_available(&OfferId(id.clone()), 1).unwrap();
    app.server
        .state
        .broker
        .refresh(broker::tenants::Mode::Sandbox)
        .await
        .unwrap();
    let a = app.register("racer-a@e2e.test").await.unwrap();
    let b = app.register("racer-b@e2e.test").await.unwrap();
    let (ra, rb) = tokio::join!(
        app.post("/api/v1/deployments", Some(&a), json!({"offer_id": id})),
        app.post("/api/v1/deployments", Some(&b), json!({"offer_id": id})),
    );
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    let mut codes = [ra.status, rb.status];
    codes.sort();
    assert_eq!(codes, [201, 409], "{} / {}", ra.body, rb.body);
    let (winner, token) = if ra.status == 201 {
        (&ra, &a)
    } else {
        (&rb, &b)
    };
    let loser = if ra.status == 201 { &rb } else { &ra };
    assert_eq!(
        loser.body["type"],
        "https://gpubroker.dev/problems/no-capacity"
    );
    let wid = winner.body["id"].as_str().unwrap();
    app.wait_state(token, wid, "ready", 30).await.unwrap();
    assert_eq!(market.available(&OfferId(id)), Some(0));
    app.stop().await;
}

#[tokio::test]
async fn a_retried_deploy_with_the_same_idempotency_key_returns_the_same_deployment() {
    let app = spawn_app().await.unwrap();
    let me = app.login(DEMO_EMAIL, DEMO_PASSWORD).await.unwrap();
    let offer = app.pick_offer("").await.unwrap();
    let body = json!({"offer_id": offer["id"], "disk_gib": 50});
    let first = app
        .call(
            reqwest::Method::POST,
            "/api/v1/deployments",
            Some(&me),
            Some(body.clone()),
            &[("Idempotency-Key", "retry-me")],
        )
        .await
        .unwrap();
    assert_eq!(first.status, 201, "{}", first.body);
    let again = app
        .call(
            reqwest::Method::POST,
            "/api/v1/deployments",
            Some(&me),
            Some(body),
            &[("Idempotency-Key", "retry-me")],
        )
        .await
        .unwrap();
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.body["id"], first.body["id"]);
    assert_eq!(again.headers["idempotent-replayed"], "true");
    let other = app
        .call(
            reqwest::Method::POST,
            "/api/v1/deployments",
            Some(&me),
            Some(json!({"offer_id": offer["id"], "disk_gib": 60})),
            &[("Idempotency-Key", "retry-me")],
        )
        .await
        .unwrap();
    assert_eq!(other.status, 422, "{}", other.body);
    let list = app.get("/api/v1/deployments", Some(&me)).await.unwrap();
    assert_eq!(list.body["items"].as_array().unwrap().len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn a_lower_concurrency_limit_applies_at_once_and_is_audited() {
    let app = spawn_app().await.unwrap();
    let admin = app.admin_token().await.unwrap();
    let me = app.login(DEMO_EMAIL, DEMO_PASSWORD).await.unwrap();
    let r = app
        .set_param(
            &admin,
            "allocation.max_concurrent_per_user",
            json!({"value": 1, "reason": "capacity crunch"}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["effective"], 1);
    // Distinct offers with free capacity, so only the limit can say no.
    let offers = app
        .get(
            "/api/v1/offers?available=true&sort=availability&limit=3",
            None,
        )
        .await
        .unwrap();
    let ids: Vec<serde_json::Value> = offers.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].clone())
        .collect();
    assert_eq!(
        app.post(
            "/api/v1/deployments",
            Some(&me),
            json!({"offer_id": ids[0]})
        )
        .await
        .unwrap()
        .status,
        201
    );
    let second = app
        .post(
            "/api/v1/deployments",
            Some(&me),
            json!({"offer_id": ids[1]}),
        )
        .await
        .unwrap();
    assert_eq!(second.status, 409, "{}", second.body);
    assert_eq!(
        second.body["type"],
        "https://gpubroker.dev/problems/concurrency-limit"
    );
    // A per-user override wins over the global value.
    let demo_id = app.get("/api/v1/me", Some(&me)).await.unwrap().body["user"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = app
        .set_param(
            &admin,
            "allocation.max_concurrent_per_user",
            json!({"value": 3, "scope": "user", "scope_id": demo_id}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        app.post(
            "/api/v1/deployments",
            Some(&me),
            json!({"offer_id": ids[2]})
        )
        .await
        .unwrap()
        .status,
        201
    );
    let audit = app
        .get(
            "/api/v1/admin/params/allocation.max_concurrent_per_user/audit",
            Some(&admin),
        )
        .await
        .unwrap();
    let rows = audit.body["items"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{}", audit.body);
    let global = rows
        .iter()
        .find(|r| r["subject"].as_str().unwrap().ends_with("@global"))
        .unwrap();
    assert_eq!(
        (
            global["before"].clone(),
            global["after"].as_str(),
            global["reason"].as_str()
        ),
        (serde_json::Value::Null, Some("1"), Some("capacity crunch"))
    );
    assert_eq!(global["actor"], gpubroker_e2e::ADMIN_EMAIL);
    app.stop().await;
}

#[tokio::test]
async fn parameters_are_validated_and_the_mode_switch_needs_confirmation() {
    let app = spawn_app().await.unwrap();
    let admin = app.admin_token().await.unwrap();
    for (key, body, field) in [
        (
            "allocation.max_concurrent_per_user",
            json!({"value": -1}),
            "value",
        ),
        (
            "allocation.max_concurrent_per_user",
            json!({"value": "two"}),
            "value",
        ),
        (
            "offers.refresh_interval_seconds",
            json!({"value": 5, "scope": "user", "scope_id": "u"}),
            "scope",
        ),
        ("no.such.key", json!({"value": 1}), "key"),
        (
            "ranking.weights.balanced",
            json!({"value": "speed:1"}),
            "value",
        ),
    ] {
        let r = app.set_param(&admin, key, body.clone()).await.unwrap();
        assert_eq!(r.status, 400, "{key} {body}: {}", r.body);
        assert_eq!(r.body["field"], field, "{key} {body}");
    }
    let r = app
        .set_param(&admin, "tenant.mode", json!({"value": "live"}))
        .await
        .unwrap();
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(
        r.body["type"],
        "https://gpubroker.dev/problems/confirmation-required"
    );
    let me = app.get("/api/v1/me", Some(&admin)).await.unwrap();
    assert_eq!(me.body["mode"], "sandbox");
    let r = app
        .set_param(
            &admin,
            "tenant.mode",
            json!({"value": "live", "confirm": "live", "reason": "go-live"}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    let me = app.get("/api/v1/me", Some(&admin)).await.unwrap();
    assert_eq!(me.body["mode"], "live");
    // A live tenant never sees the sandbox market (no live adapters are configured here).
    let offers = app.get("/api/v1/offers", Some(&admin)).await.unwrap();
    assert_eq!(offers.body["total"], 0, "{}", offers.body);
    let audit = app
        .get(
            "/api/v1/admin/audit?subject=param:tenant.mode",
            Some(&admin),
        )
        .await
        .unwrap();
    let row = &audit.body["items"][0];
    assert_eq!(
        (row["action"].as_str(), row["after"].as_str()),
        (Some("mode.switch"), Some("\"live\""))
    );
    let list = app.get("/api/v1/admin/params", Some(&admin)).await.unwrap();
    let keys: Vec<&str> = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["key"].as_str().unwrap())
        .collect();
    for k in [
        "allocation.max_concurrent_per_user",
        "allocation.require_activation",
        "allocation.refund_window_days",
        "rate_limit.api_requests_per_minute",
        "billing.window_seconds",
        "billing.low_balance_threshold_minor",
        "billing.minimum_deposit_minor",
        "billing.maximum_deposit_minor",
        "notification.low_balance_enabled",
        "notification.balance_depleted_enabled",
        "offers.cache_ttl_seconds",
        "pricing.markup_percent",
        "tenant.mode",
    ] {
        assert!(keys.contains(&k), "{k} missing");
    }
    app.stop().await;
}

#[tokio::test]
async fn a_provider_that_cannot_deliver_fails_the_deployment_and_frees_the_slot() {
    let app = spawn_app().await.unwrap();
    let admin = app.admin_token().await.unwrap();
    let me = app.login(DEMO_EMAIL, DEMO_PASSWORD).await.unwrap();
    // Failover off: the one offer is all there is (failover itself: tests/failover.rs).
    let r = app
        .set_param(
            &admin,
            "allocation.failover_max_attempts",
            json!({"value": 1}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    let offer = app.pick_offer("provider=lambda").await.unwrap();
    let knobs = json!({"latency_ms": 0, "failure_rate": 0.0, "out_of_capacity": true, "provision_seconds": 1, "release_seconds": 1});
    let r = app.set_knobs(&admin, "lambda", knobs).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    let d = app.deploy(&me, &offer["id"]).await.unwrap();
    assert_eq!(d.status, 201, "{}", d.body);
    let failed = app
        .wait_state(&me, d.body["id"].as_str().unwrap(), "failed", 30)
        .await
        .unwrap();
    assert!(failed["failure_reason"]
        .as_str()
        .unwrap()
        .contains("capacity"));
    let live = app
        .get("/api/v1/deployments?state=failed", Some(&me))
        .await
        .unwrap();
    assert_eq!(live.body["items"].as_array().unwrap().len(), 1);
    app.stop().await;
}
