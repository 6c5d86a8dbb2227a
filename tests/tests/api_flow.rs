//! The API walk a new user takes, and the rules around it, against the real router on a
//! fresh database (SQLite, or PostgreSQL when GPUBROKER_TEST_POSTGRES is set).

use gpubroker_e2e::{spawn_app, DEMO_EMAIL, DEMO_PASSWORD};
use serde_json::json;

#[tokio::test]
async fn a_user_browses_deploys_activates_and_releases_a_gpu() {
    let app = spawn_app().await.unwrap();
    let admin = app.admin_token().await.unwrap();
    let me = app.login(DEMO_EMAIL, DEMO_PASSWORD).await.unwrap();

    // Browse with filters: H100 offers with free capacity, cheapest per GPU first.
    let r = app
        .get(
            "/api/v1/offers?gpu=H100-SXM&min_gpus=1&available=true&sort=price_per_gpu&limit=5",
            Some(&me),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    let items = r.body["items"].as_array().unwrap();
    assert!(!items.is_empty());
    assert!(items
        .iter()
        .all(|o| o["gpu_model"] == "H100-SXM" && o["available"].as_u64().unwrap() > 0));
    let prices: Vec<f64> = items
        .iter()
        .map(|o| o["price_per_gpu_hour"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(prices.windows(2).all(|w| w[0] <= w[1]), "{prices:?}");
    let offer = &items[0];

    // Deploy it.
    let d = app
        .post_keyed(
            "/api/v1/deployments",
            Some(&me),
            json!({"offer_id": offer["id"], "disk_gib": 200}),
            "walk-1",
        )
        .await
        .unwrap();
    assert_eq!(d.status, 201, "{}", d.body);
    assert_eq!(d.body["state"], "requested");
    assert_eq!(d.body["quoted_price_per_hour"], offer["price_per_hour"]);
    let id = d.body["id"].as_str().unwrap().to_string();

    // Provisioning finishes; the deployment waits for activation.
    let ready = app.wait_state(&me, &id, "ready", 30).await.unwrap();
    assert!(
        ready["connection"].is_null(),
        "connection details only after activation"
    );

    // The activation link arrives in the sandbox outbox; redeem it.
    let token = app.activation_token(&admin, DEMO_EMAIL, &id).await.unwrap();
    let act = app.activate(&id, &token).await.unwrap();
    assert_eq!(act.status, 200, "{}", act.body);
    assert_eq!(act.body["state"], "active");
    assert!(act.body["connection"]["ssh_host"]
        .as_str()
        .unwrap()
        .contains("sandbox"));
    assert!(act.body["connection"]["ssh_port"].as_u64().unwrap() > 0);

    // The link works once.
    let again = app.activate(&id, &token).await.unwrap();
    assert_eq!(again.status, 409, "{}", again.body);

    // Release; it becomes released only once the provider confirms.
    let rel = app.release(&me, &id).await.unwrap();
    assert_eq!(rel.status, 202, "{}", rel.body);
    assert_eq!(rel.body["state"], "releasing");
    app.wait_state(&me, &id, "released", 30).await.unwrap();

    // It is in my list, with its history of events reflected in the state.
    let list = app.get("/api/v1/deployments", Some(&me)).await.unwrap();
    assert!(list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|d| d["id"] == id && d["state"] == "released"));
    assert!(list.body.get("next_cursor").is_some());
    app.stop().await;
}

#[tokio::test]
async fn ready_passes_straight_to_active_when_activation_is_not_required() {
    let app = spawn_app().await.unwrap();
    let admin = app.admin_token().await.unwrap();
    app.set_param_ok(
        &admin,
        "allocation.require_activation",
        json!({"value": false, "reason": "e2e"}),
    )
    .await
    .unwrap();
    let me = app.login(DEMO_EMAIL, DEMO_PASSWORD).await.unwrap();
    let d = app
        .post(
            "/api/v1/deployments",
            Some(&me),
            json!({"best": {"gpu": "A100-80GB-SXM"}}),
        )
        .await
        .unwrap();
    assert_eq!(d.status, 201, "{}", d.body);
    let id = d.body["id"].as_str().unwrap();
    let active = app.wait_state(&me, id, "active", 30).await.unwrap();
    assert!(active["connection"]["ssh_user"].is_string());
    app.stop().await;
}

#[tokio::test]
async fn users_see_only_their_own_deployments_and_admins_see_all() {
    let app = spawn_app().await.unwrap();
    let admin = app.admin_token().await.unwrap();
    let alice = app.register("alice@e2e.test").await.unwrap();
    let bob = app.register("bob@e2e.test").await.unwrap();
    let d = app
        .post("/api/v1/deployments", Some(&alice), json!({"best": {}}))
        .await
        .unwrap();
    assert_eq!(d.status, 201, "{}", d.body);
    let id = d.body["id"].as_str().unwrap();
    assert_eq!(
        app.get(&format!("/api/v1/deployments/{id}"), Some(&bob))
            .await
            .unwrap()
            .status,
        404
    );
    assert_eq!(app.release(&bob, id).await.unwrap().status, 404);
    let bobs = app.get("/api/v1/deployments", Some(&bob)).await.unwrap();
    assert_eq!(bobs.body["items"].as_array().unwrap().len(), 0);
    assert_eq!(
        app.get(&format!("/api/v1/deployments/{id}"), Some(&admin))
            .await
            .unwrap()
            .status,
        200
    );
    let all = app.get("/api/v1/deployments", Some(&admin)).await.unwrap();
    assert!(all.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|d| d["id"] == id));
    app.stop().await;
}

#[tokio::test]
async fn offers_pages_with_a_cursor_without_repeats() {
    let app = spawn_app().await.unwrap();
    let mut seen = std::collections::HashSet::new();
    let mut cursor = String::new();
    for _ in 0..4 {
        let r = app
            .get(
                &format!("/api/v1/offers?gpu=A100-80GB-SXM&sort=price&limit=7&cursor={cursor}"),
                None,
            )
            .await
            .unwrap();
        assert_eq!(r.status, 200, "{}", r.body);
        for o in r.body["items"].as_array().unwrap() {
            assert!(
                seen.insert(o["id"].as_str().unwrap().to_string()),
                "repeated {}",
                o["id"]
            );
        }
        match r.body["next_cursor"].as_str() {
            Some(c) => cursor = c.to_string(),
            None => break,
        }
    }
    assert!(seen.len() >= 14);
    // A cursor from another sort order is rejected, not misread.
    let r = app
        .get(
            &format!("/api/v1/offers?sort=availability&cursor={cursor}"),
            None,
        )
        .await
        .unwrap();
    assert_eq!(r.status, 400);
    assert_eq!(r.body["field"], "cursor");
    app.stop().await;
}

#[tokio::test]
async fn gpus_providers_and_offer_detail_describe_the_market() {
    let app = spawn_app().await.unwrap();
    let gpus = app.get("/api/v1/gpus", None).await.unwrap();
    let h100 = gpus.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == "H100-SXM")
        .cloned()
        .unwrap();
    assert!(h100["fp16_tflops"].as_f64().unwrap() > 500.0);
    assert!(h100["offer_count"].as_u64().unwrap() > 0);
    let provs = app.get("/api/v1/providers", None).await.unwrap();
    let items = provs.body["items"].as_array().unwrap();
    assert!(items.len() >= 20, "{}", items.len());
    // Providers behind the shared HTTP engine show their circuit breaker.
    let lambda = items.iter().find(|p| p["id"] == "lambda").unwrap();
    assert_eq!(lambda["breaker"], "closed", "{lambda}");
    assert_eq!(lambda["unknown_gpus"].as_u64(), Some(0));
    let sick: Vec<&serde_json::Value> = items.iter().filter(|p| p["healthy"] != true).collect();
    assert!(sick.is_empty(), "{sick:?}");
    // A provider may list nothing when the seeded market gives its few offers no capacity
    // (DigitalOcean has two seed rows), but the market as a whole is broad.
    let listing = items
        .iter()
        .filter(|p| p["offer_count"].as_u64().unwrap_or(0) > 0)
        .count();
    assert!(listing >= 20, "{listing} providers list offers");
    let offer = app.pick_offer("gpu=L4").await.unwrap();
    let id = offer["id"].as_str().unwrap();
    let d = app
        .get(&format!("/api/v1/offers/{id}"), None)
        .await
        .unwrap();
    assert_eq!(d.status, 200, "{}", d.body);
    assert_eq!(d.body["id"], offer["id"]);
    assert_eq!(
        d.body["explanation"]["contributions"]
            .as_array()
            .unwrap()
            .len(),
        6
    );
    // "Why is this offer #1?": the explanation adds up and names what helped most.
    let r = app
        .get("/api/v1/offers?explain=true&limit=3", None)
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    let top = &r.body["items"][0];
    let e = &top["explanation"];
    let sum: f64 = e["contributions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c[1].as_f64().unwrap())
        .sum();
    assert!(
        (sum - (e["closeness"].as_f64().unwrap() - 0.5)).abs() < 1e-9,
        "{e}"
    );
    assert!((top["score"].as_f64().unwrap() - e["closeness"].as_f64().unwrap()).abs() < 1e-12);
    assert!(e["helped_most"].is_string(), "{e}");
    // Custom weights re-rank on the fly: price-only puts the cheapest per GPU-hour first.
    let r = app
        .get("/api/v1/offers?weights=price:1&limit=1", None)
        .await
        .unwrap();
    let cheapest = app
        .get("/api/v1/offers?sort=price_per_gpu&limit=1", None)
        .await
        .unwrap();
    assert_eq!(
        r.body["items"][0]["price_per_gpu_hour"],
        cheapest.body["items"][0]["price_per_gpu_hour"]
    );
    // Users see the profiles' weights; an admin's change shows at once.
    let p = app.get("/api/v1/ranking/profiles", None).await.unwrap();
    let names: Vec<&str> = p.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["balanced", "cheapest", "training", "inference"]);
    let admin = app.admin_token().await.unwrap();
    app.set_param_ok(
        &admin,
        "ranking.weights.cheapest",
        json!({"value": "price:1"}),
    )
    .await
    .unwrap();
    let p = app.get("/api/v1/ranking/profiles", None).await.unwrap();
    assert_eq!(p.body["items"][1]["weights"][0], json!(["price", 1.0]));
    let missing = app.get("/api/v1/offers/nope:nothing", None).await.unwrap();
    assert_eq!(missing.status, 404);
    app.stop().await;
}

#[tokio::test]
async fn every_state_change_is_published_as_an_event_in_order() {
    let app = spawn_app().await.unwrap();
    let mut events = app.server.state.broker.dispatcher.subscribe();
    let admin = app.admin_token().await.unwrap();
    app.set_param(
        &admin,
        "allocation.require_activation",
        json!({"value": false}),
    )
    .await
    .unwrap();
    let me = app.login(DEMO_EMAIL, DEMO_PASSWORD).await.unwrap();
    let d = app
        .post("/api/v1/deployments", Some(&me), json!({"best": {}}))
        .await
        .unwrap();
    let id = d.body["id"].as_str().unwrap().to_string();
    app.wait_state(&me, &id, "active", 30).await.unwrap();
    app.release(&me, &id).await.unwrap();
    app.wait_state(&me, &id, "released", 30).await.unwrap();
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while seen.last().map(String::as_str) != Some("released")
        && tokio::time::Instant::now() < deadline
    {
        if let Ok(Ok(ev)) =
            tokio::time::timeout(std::time::Duration::from_millis(500), events.recv()).await
        {
            if ev.topic == "deployment.state" && ev.subject_id == id {
                seen.push(ev.payload["to"].as_str().unwrap().to_string());
            }
        }
    }
    assert_eq!(
        seen,
        [
            "requested",
            "provisioning",
            "ready",
            "active",
            "releasing",
            "released"
        ]
    );
    app.stop().await;
}
