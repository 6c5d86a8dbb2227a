//! Plans and roles: the public pricing table (parameters all the way down), the admin's plan
//! and role changes (audited, reflected in the next token), and plan-scoped limits resolved
//! user → plan → tenant → global.

use gpubroker_e2e::{spawn_app, App};
use reqwest::Method;
use serde_json::{json, Value};

/// An admin change of a user's `what` (`plan` or `role`), made with `token`.
async fn change(
    app: &App,
    token: &str,
    user: &str,
    what: &str,
    body: Value,
) -> gpubroker_e2e::Resp {
    app.call(
        Method::PUT,
        &format!("/api/v1/admin/users/{user}/{what}"),
        Some(token),
        Some(body),
        &[],
    )
    .await
    .unwrap()
}

/// The plan and role a user has after an admin change, as the change answers.
fn plan_and_role(r: &gpubroker_e2e::Resp) -> (Option<&str>, Option<&str>) {
    (r.body["plan"].as_str(), r.body["role"].as_str())
}

async fn user_id(app: &App, token: &str) -> String {
    app.get("/api/v1/me", Some(token)).await.unwrap().body["user"]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

fn plan<'a>(page: &'a Value, id: &str) -> &'a Value {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == id)
        .unwrap_or_else(|| panic!("no plan {id} in {page}"))
}

fn feature(plan: &Value, key: &str) -> Value {
    plan["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["key"] == key)
        .map(|f| f["value"].clone())
        .unwrap_or_else(|| panic!("no feature {key} in {plan}"))
}

#[tokio::test]
async fn the_plans_table_is_public_with_prices_and_features_from_parameters() {
    let app = spawn_app().await.unwrap();
    let r = app.get("/api/v1/plans", None).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    let ids: Vec<&str> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["free", "pro", "enterprise"]);
    assert_eq!(r.body["current"], Value::Null);
    let recommended: Vec<&str> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["recommended"] == true)
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(recommended, ["pro"]);
    let pro = plan(&r.body, "pro");
    assert_eq!(
        (
            pro["role"].as_str(),
            pro["monthly_price_minor"].as_i64(),
            pro["annual_price_minor"].as_i64()
        ),
        (Some("pro"), Some(2900), Some(29000))
    );
    assert_eq!(plan(&r.body, "free")["monthly_price_minor"], 0);
    // Limits are the plan-scoped parameter values (FREE follows the global default).
    assert_eq!(
        feature(plan(&r.body, "free"), "max_concurrent_deployments"),
        2
    );
    assert_eq!(feature(pro, "max_concurrent_deployments"), 5);
    assert_eq!(
        feature(plan(&r.body, "enterprise"), "max_concurrent_deployments"),
        20
    );
    assert_eq!(feature(pro, "support"), "email");

    // Everything is a parameter: prices, the recommended plan, the plan-scoped limits.
    let admin = app.admin_token().await.unwrap();
    for (key, body) in [
        ("plans.pro.monthly_price_minor", json!({"value": 3900})),
        ("plans.recommended", json!({"value": "enterprise"})),
        (
            "allocation.max_concurrent_per_user",
            json!({"value": 7, "scope": "plan", "scope_id": "pro"}),
        ),
    ] {
        let s = app.set_param(&admin, key, body).await.unwrap();
        assert_eq!(s.status, 200, "{key}: {}", s.body);
    }
    let bad = app
        .set_param(
            &admin,
            "allocation.max_concurrent_per_user",
            json!({"value": 7, "scope": "plan", "scope_id": "gold"}),
        )
        .await
        .unwrap();
    assert_eq!(
        (bad.status, bad.body["field"].as_str()),
        (400, Some("scope_id")),
        "{}",
        bad.body
    );
    let r = app.get("/api/v1/plans", None).await.unwrap();
    let pro = plan(&r.body, "pro");
    assert_eq!(pro["monthly_price_minor"], 3900);
    assert_eq!(pro["recommended"], false);
    assert_eq!(plan(&r.body, "enterprise")["recommended"], true);
    assert_eq!(feature(pro, "max_concurrent_deployments"), 7);

    // The pricing page renders the same table.
    let page = app
        .http
        .get(format!("{}/plans", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("data-plan=\"pro\""), "{html}");
    assert!(
        html.contains("class=\"card plan recommended\" data-plan=\"enterprise\""),
        "{html}"
    );
    assert!(html.contains("$39.00"), "{html}");
    app.stop().await;
}

#[tokio::test]
async fn an_admin_changes_a_users_plan_and_role_and_each_change_is_audited() {
    let app = spawn_app().await.unwrap();
    let admin = app.admin_token().await.unwrap();
    let me = app.register("upgrader@e2e.test").await.unwrap();
    let id = user_id(&app, &me).await;
    let mine = app.get("/api/v1/plans", Some(&me)).await.unwrap();
    assert_eq!(mine.body["current"], "free");

    // Only admins change plans, and only to plans that exist.
    let r = change(&app, &me, &id, "plan", json!({"plan": "pro"})).await;
    assert_eq!(r.status, 403, "{}", r.body);
    let r = change(&app, &admin, &id, "plan", json!({"plan": "gold"})).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.body["allowed"], json!(["free", "pro", "enterprise"]));

    let r = change(
        &app,
        &admin,
        &id,
        "plan",
        json!({"plan": "pro", "reason": "sales deal"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(plan_and_role(&r), (Some("pro"), Some("pro")));
    // The next token carries the new role.
    let again = app
        .login("upgrader@e2e.test", "a-good-password")
        .await
        .unwrap();
    let who = app.get("/api/v1/me", Some(&again)).await.unwrap();
    assert_eq!(who.body["user"]["role"], "pro", "{}", who.body);
    assert_eq!(
        app.get("/api/v1/plans", Some(&again)).await.unwrap().body["current"],
        "pro"
    );

    // A role names its plan; `admin` is granted on top of the plan.
    let r = change(&app, &admin, &id, "role", json!({"role": "enterprise"})).await;
    assert_eq!(
        plan_and_role(&r),
        (Some("enterprise"), Some("enterprise")),
        "{}",
        r.body
    );
    let r = change(
        &app,
        &admin,
        &id,
        "role",
        json!({"role": "admin", "reason": "new operator"}),
    )
    .await;
    assert_eq!(
        plan_and_role(&r),
        (Some("enterprise"), Some("admin")),
        "{}",
        r.body
    );
    let r = change(&app, &admin, &id, "role", json!({"role": "owner"})).await;
    assert_eq!(r.status, 400, "{}", r.body);
    // An admin cannot lock themselves out.
    let admin_id = user_id(&app, &admin).await;
    let r = change(&app, &admin, &admin_id, "role", json!({"role": "user"})).await;
    assert_eq!(r.status, 400, "{}", r.body);

    let audit = app
        .get(
            &format!("/api/v1/admin/audit?subject=user:{id}"),
            Some(&admin),
        )
        .await
        .unwrap();
    let rows: Vec<(String, String, String)> = audit.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["action"].as_str().unwrap().to_string(),
                r["before"].as_str().unwrap_or_default().to_string(),
                r["after"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    for want in [
        ("plan.change", "free", "pro"),
        ("role.change", "user", "pro"),
        ("plan.change", "pro", "enterprise"),
        ("role.change", "pro", "enterprise"),
        ("role.change", "enterprise", "admin"),
    ] {
        assert!(
            rows.iter()
                .any(|r| (r.0.as_str(), r.1.as_str(), r.2.as_str()) == want),
            "{want:?} missing from {rows:?}"
        );
    }
    let n_plan_changes = rows.iter().filter(|r| r.0 == "plan.change").count();
    assert_eq!(n_plan_changes, 2, "granting admin keeps the plan: {rows:?}");
    app.stop().await;
}

#[tokio::test]
async fn a_plan_scoped_limit_sits_between_the_user_override_and_the_tenant_value() {
    let app = spawn_app().await.unwrap();
    let admin = app.admin_token().await.unwrap();
    let free = app.register("free@e2e.test").await.unwrap();
    let pro = app.register("pro@e2e.test").await.unwrap();
    let pro_id = user_id(&app, &pro).await;
    let r = change(&app, &admin, &pro_id, "plan", json!({"plan": "pro"})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let key = "allocation.max_concurrent_per_user";
    for body in [
        json!({"value": 1, "scope": "tenant"}),
        json!({"value": 2, "scope": "plan", "scope_id": "pro"}),
    ] {
        app.set_param_ok(&admin, key, body).await.unwrap();
    }
    let offers = app
        .get(
            "/api/v1/offers?available=true&sort=availability&limit=4",
            None,
        )
        .await
        .unwrap();
    let ids: Vec<Value> = offers.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].clone())
        .collect();
    let deploy = |token: String, offer: Value| {
        let app = &app;
        async move {
            app.post(
                "/api/v1/deployments",
                Some(&token),
                json!({"offer_id": offer}),
            )
            .await
            .unwrap()
        }
    };
    // FREE: the tenant's 1.
    assert_eq!(deploy(free.clone(), ids[0].clone()).await.status, 201);
    let second = deploy(free.clone(), ids[1].clone()).await;
    assert_eq!(second.status, 409, "{}", second.body);
    // PRO: the plan's 2 wins over the tenant's 1.
    assert_eq!(deploy(pro.clone(), ids[0].clone()).await.status, 201);
    assert_eq!(deploy(pro.clone(), ids[1].clone()).await.status, 201);
    let third = deploy(pro.clone(), ids[2].clone()).await;
    assert_eq!(
        third.body["type"], "https://gpubroker.dev/problems/concurrency-limit",
        "{}",
        third.body
    );
    // A user override wins over the plan.
    app.set_param_ok(
        &admin,
        key,
        json!({"value": 3, "scope": "user", "scope_id": pro_id}),
    )
    .await
    .unwrap();
    assert_eq!(deploy(pro.clone(), ids[2].clone()).await.status, 201);
    // The admin view resolves the same way for that user.
    let v = app
        .get(
            &format!("/api/v1/admin/params/{key}?user_id={pro_id}"),
            Some(&admin),
        )
        .await
        .unwrap();
    assert_eq!(v.body["effective"], 3, "{}", v.body);
    app.stop().await;
}

#[tokio::test]
async fn the_pricing_page_carries_the_subscribe_controls_and_its_script_calls_the_subscription_api()
{
    let app = spawn_app().await.unwrap();
    let page = app
        .http
        .get(format!("{}/plans", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let csp = page
        .headers()
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let html = page.text().await.unwrap();
    for plan in ["pro", "enterprise"] {
        assert!(
            html.contains(&format!(
                "<form class=\"plan-subscribe\" data-plan=\"{plan}\" hidden>"
            )),
            "{html}"
        );
    }
    assert_eq!(html.matches("Sign in to subscribe").count(), 2, "{html}");
    assert!(html.contains("/assets/plans.js"), "{html}");
    assert!(csp.contains("script-src 'self'"), "{csp}");

    let js = app
        .http
        .get(format!("{}/assets/plans.js", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(js.status(), 200);
    let js = js.text().await.unwrap();
    assert!(
        js.contains("/api/v1/billing/subscription"),
        "subscribes through the API"
    );
    assert!(js.contains("/api/v1/billing'"), "polls the billing view");

    // What the page does, through the same API: subscribe, see it, cancel.
    let me = app.register("pricing-page@e2e.test").await.unwrap();
    let r = app
        .post(
            "/api/v1/billing/subscription",
            Some(&me),
            json!({"plan": "pro", "interval": "year"}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.body);
    let billing = app.get("/api/v1/billing", Some(&me)).await.unwrap();
    assert_eq!(
        billing.body["subscription"]["interval"], "year",
        "{}",
        billing.body
    );
    let plans = app.get("/api/v1/plans", Some(&me)).await.unwrap();
    assert_eq!(plans.body["current"], "pro", "{}", plans.body);
    app.stop().await;
}
