//! Prepaid credit around a deployment: sandbox play money, a hold at deploy, metering while
//! active, the rest of the hold back at the confirmed release, and a 402 without credit.

use gpubroker_e2e::spawn_app;
use serde_json::json;

#[tokio::test]
async fn a_deployment_holds_credit_bills_while_active_and_returns_the_rest() {
    let app = spawn_app().await.unwrap();
    let admin = app.admin_token().await.unwrap();
    for (k, v) in [
        ("allocation.require_activation", json!(false)),
        ("billing.meter_interval_seconds", json!(1)),
    ] {
        app.set_param_ok(&admin, k, json!({"value": v}))
            .await
            .unwrap();
    }
    let me = app.register("payer@e2e.test").await.unwrap();
    let b0 = app.get("/api/v1/billing", Some(&me)).await.unwrap();
    assert_eq!(b0.status, 200, "{}", b0.body);
    assert_eq!(
        (
            b0.body["available_minor"].as_i64(),
            b0.body["held_minor"].as_i64()
        ),
        (Some(100_000), Some(0))
    );
    assert_eq!(b0.body["state"], "healthy");

    let offer = app.pick_offer("provider=aws&max_price=10").await.unwrap();
    let d = app
        .post(
            "/api/v1/deployments",
            Some(&me),
            json!({"offer_id": offer["id"]}),
        )
        .await
        .unwrap();
    assert_eq!(d.status, 201, "{}", d.body);
    let id = d.body["id"].as_str().unwrap().to_string();
    let held = app.get("/api/v1/billing", Some(&me)).await.unwrap().body["held_minor"]
        .as_i64()
        .unwrap();
    // One billing window (3600 s) at the quoted price, rounded up to the cent.
    let price: f64 = offer["price_per_hour"].as_str().unwrap().parse().unwrap();
    assert_eq!(held, (price * 100.0).ceil() as i64, "{offer}");

    app.wait_state(&me, &id, "active", 30).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let running = app.get("/api/v1/billing", Some(&me)).await.unwrap();
    assert!(
        running.body["burn_per_hour_minor"].as_i64().unwrap() > 0,
        "{}",
        running.body
    );
    assert!(running.body["runway_seconds"].as_i64().unwrap() > 0);

    app.release(&me, &id).await.unwrap();
    app.wait_state(&me, &id, "released", 30).await.unwrap();
    let end = app.get("/api/v1/billing", Some(&me)).await.unwrap();
    assert_eq!(end.body["held_minor"].as_i64(), Some(0), "{}", end.body);
    let charged = 100_000 - end.body["available_minor"].as_i64().unwrap();
    // Active for a few seconds at a few dollars an hour: a few cents at most, never more
    // than the hold.
    assert!(
        (0..=held).contains(&charged),
        "charged {charged} of hold {held}"
    );
    assert_eq!(end.body["burn_per_hour_minor"].as_i64(), Some(0));
    app.stop().await;
}

#[tokio::test]
async fn without_credit_a_deploy_is_refused_with_402_and_writes_nothing() {
    let app = spawn_app().await.unwrap();
    let admin = app.admin_token().await.unwrap();
    let me = app.register("broke@e2e.test").await.unwrap();
    let uid = app.get("/api/v1/me", Some(&me)).await.unwrap().body["user"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/api/v1/admin/users/{uid}/adjustments");
    let body = json!({"amount_minor": -100_000, "reason": "e2e: empty the wallet"});
    let no_key = app.post(&path, Some(&admin), body.clone()).await.unwrap();
    assert_eq!(
        (no_key.status, no_key.body["field"].as_str()),
        (400, Some("Idempotency-Key"))
    );
    let r = app
        .post_keyed(&path, Some(&admin), body.clone(), "empty-1")
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.body);
    let again = app
        .post_keyed(&path, Some(&admin), body, "empty-1")
        .await
        .unwrap();
    assert_eq!(
        (again.status, again.body["replayed"].as_bool()),
        (200, Some(true))
    );
    assert_eq!(
        app.get("/api/v1/billing", Some(&me)).await.unwrap().body["available_minor"].as_i64(),
        Some(0)
    );
    let forbidden = app
        .post_keyed(
            &path,
            Some(&me),
            json!({"amount_minor": 5, "reason": "x"}),
            "k",
        )
        .await
        .unwrap();
    assert_eq!(forbidden.status, 403);

    let d = app
        .post("/api/v1/deployments", Some(&me), json!({"best": {}}))
        .await
        .unwrap();
    assert_eq!(d.status, 402, "{}", d.body);
    assert_eq!(
        d.body["type"],
        "https://gpubroker.dev/problems/insufficient-funds"
    );
    let list = app.get("/api/v1/deployments", Some(&me)).await.unwrap();
    assert_eq!(list.body["items"].as_array().unwrap().len(), 0);
    app.stop().await;
}
