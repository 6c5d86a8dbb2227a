//! Bad input gets a clear RFC 9457 problem with a stable `type`, never a 500 or a panic.

use gpubroker_e2e::{spawn_app, DEMO_EMAIL, DEMO_PASSWORD};
use serde_json::json;

const T: &str = "https://gpubroker.dev/problems/";

#[tokio::test]
async fn unknown_filter_values_are_rejected_with_the_allowed_values() {
    let app = spawn_app().await.unwrap();
    for (q, field) in [
        ("sort=cheapest", "sort"),
        ("pricing=reserved", "pricing"),
        ("gpu=GTX-9000", "gpu"),
        ("provider=nosuchcloud", "provider"),
        ("profile=fastest", "profile"),
        ("colour=red", "colour"),
    ] {
        let r = app.get(&format!("/api/v1/offers?{q}"), None).await.unwrap();
        assert_eq!(r.status, 400, "{q}: {}", r.body);
        assert_eq!(r.body["type"], format!("{T}validation-error"));
        assert_eq!(r.body["field"], field, "{q}");
        assert!(
            r.body["allowed"].as_array().is_some_and(|a| !a.is_empty()),
            "{q}: {}",
            r.body
        );
        assert_eq!(r.headers["content-type"], "application/problem+json");
    }
    for (q, field) in [
        ("max_price=cheap", "max_price"),
        ("min_gpus=-1", "min_gpus"),
        ("limit=0", "limit"),
        ("weights=price:-1", "weights"),
        ("cursor=garbage", "cursor"),
    ] {
        let r = app.get(&format!("/api/v1/offers?{q}"), None).await.unwrap();
        assert_eq!(r.status, 400, "{q}: {}", r.body);
        assert_eq!(r.body["field"], field, "{q}");
    }
    app.stop().await;
}

#[tokio::test]
async fn authentication_and_roles_are_enforced() {
    let app = spawn_app().await.unwrap();
    let me = app.login(DEMO_EMAIL, DEMO_PASSWORD).await.unwrap();
    let r = app.get("/api/v1/deployments", None).await.unwrap();
    assert_eq!(
        (r.status, r.body["type"].as_str().unwrap()),
        (401, format!("{T}unauthorized").as_str())
    );
    let r = app
        .get("/api/v1/deployments", Some("not-a-jwt"))
        .await
        .unwrap();
    assert_eq!(r.status, 401);
    let r = app.get("/api/v1/admin/params", Some(&me)).await.unwrap();
    assert_eq!(
        (r.status, r.body["type"].as_str().unwrap()),
        (403, format!("{T}forbidden").as_str())
    );
    let r = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"email": DEMO_EMAIL, "password": "wrong-password"}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 401);
    let r = app
        .post(
            "/api/v1/auth/register",
            None,
            json!({"email": DEMO_EMAIL, "password": "another-password"}),
        )
        .await
        .unwrap();
    assert_eq!(
        (r.status, r.body["type"].as_str().unwrap()),
        (409, format!("{T}email-taken").as_str())
    );
    let r = app
        .post(
            "/api/v1/auth/register",
            None,
            json!({"email": "x@y.test", "password": "short"}),
        )
        .await
        .unwrap();
    assert_eq!(
        (r.status, r.body["field"].as_str().unwrap()),
        (400, "password")
    );
    let r = app.get("/api/v1/nothing-here", None).await.unwrap();
    assert_eq!(
        (r.status, r.body["type"].as_str().unwrap()),
        (404, format!("{T}not-found").as_str())
    );
    app.stop().await;
}

#[tokio::test]
async fn malformed_and_invalid_deploy_bodies_write_nothing() {
    let app = spawn_app().await.unwrap();
    let me = app.login(DEMO_EMAIL, DEMO_PASSWORD).await.unwrap();
    let raw = app
        .http
        .post(format!("{}/api/v1/deployments", app.url))
        .bearer_auth(&me)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status().as_u16(), 400);
    let offer = app.pick_offer("").await.unwrap();
    for (body, field) in [
        (json!({}), "offer_id"),
        (json!({"offer_id": offer["id"], "disk_gib": 1}), "disk_gib"),
        (
            json!({"offer_id": offer["id"], "image": "windows-95"}),
            "image",
        ),
        (
            json!({"offer_id": offer["id"], "gpu_count": 99}),
            "gpu_count",
        ),
        (
            json!({"offer_id": offer["id"], "ssh_public_key": "hello"}),
            "ssh_public_key",
        ),
    ] {
        let r = app
            .post("/api/v1/deployments", Some(&me), body.clone())
            .await
            .unwrap();
        assert_eq!(r.status, 400, "{body}: {}", r.body);
        assert_eq!(r.body["field"], field, "{body}");
    }
    let r = app
        .post(
            "/api/v1/deployments",
            Some(&me),
            json!({"offer_id": offer["id"], "colour": "red"}),
        )
        .await
        .unwrap();
    assert_eq!(
        (r.status, r.body["type"].as_str().unwrap()),
        (400, format!("{T}malformed-body").as_str())
    );
    let r = app
        .post(
            "/api/v1/deployments",
            Some(&me),
            json!({"offer_id": "nope:none"}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 404);
    let list = app.get("/api/v1/deployments", Some(&me)).await.unwrap();
    assert_eq!(
        list.body["items"].as_array().unwrap().len(),
        0,
        "nothing half-written"
    );
    app.stop().await;
}

#[tokio::test]
async fn refresh_tokens_rotate_and_a_reused_one_revokes_the_family() {
    let app = spawn_app().await.unwrap();
    let r = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"email": DEMO_EMAIL, "password": DEMO_PASSWORD}),
        )
        .await
        .unwrap();
    let first = r.body["refresh_token"].as_str().unwrap().to_string();
    let r = app
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": first}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    let second = r.body["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(first, second);
    assert_eq!(
        app.get("/api/v1/me", r.body["access_token"].as_str())
            .await
            .unwrap()
            .status,
        200
    );
    // Replaying the first token is theft: both are now dead.
    assert_eq!(
        app.post(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": first})
        )
        .await
        .unwrap()
        .status,
        401
    );
    assert_eq!(
        app.post(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": second})
        )
        .await
        .unwrap()
        .status,
        401
    );
    let jwks = app.get("/.well-known/jwks.json", None).await.unwrap();
    assert_eq!(jwks.body["keys"][0]["alg"], "RS256");
    app.stop().await;
}
