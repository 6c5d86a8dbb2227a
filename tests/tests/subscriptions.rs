//! Plan subscriptions end to end: the sandbox gateway through the API, the signed webhook's
//! subscription and invoice events (Stripe's shape: replays, out-of-order delivery, failed
//! renewals), and the Stripe adapter against localstripe (Plans, since localstripe has no
//! Prices API). The plan, and so the role, only ever moves on a webhook event. SQLite or
//! PostgreSQL (`GPUBROKER_TEST_POSTGRES`).

use gpubroker_e2e::localstripe::{self, LocalStripe};
use gpubroker_e2e::{
    eventually, spawn_app_with, stripe_event, stripe_event_at, unix_now_secs, App, Resp,
};
use serde_json::{json, Value};

const SECRET: &str = "whsec_e2e_subscriptions";

async fn sandbox_app() -> App {
    spawn_app_with(|c| {
        c.stripe_webhook_secret = Some(portal_api::config::Secret(SECRET.into()));
    })
    .await
    .unwrap()
}

async fn current_plan(app: &App, token: &str) -> String {
    let r = app.get("/api/v1/plans", Some(token)).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["current"].as_str().unwrap().to_string()
}

async fn user_id(app: &App, token: &str) -> String {
    app.get("/api/v1/me", Some(token)).await.unwrap().body["user"]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn subscribe(app: &App, token: &str, plan: &str, interval: &str) -> (u16, Value) {
    let r = app
        .post(
            "/api/v1/billing/subscription",
            Some(token),
            json!({"plan": plan, "interval": interval}),
        )
        .await
        .unwrap();
    (r.status, r.body)
}

async fn cancel(app: &App, token: &str) -> (u16, Value) {
    let r = app
        .call(
            reqwest::Method::DELETE,
            "/api/v1/billing/subscription",
            Some(token),
            None,
            &[],
        )
        .await
        .unwrap();
    (r.status, r.body)
}

async fn plan_audits(app: &App, admin: &str, user: &str) -> usize {
    let r = app
        .get(
            &format!("/api/v1/admin/audit?subject=user:{user}"),
            Some(admin),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["action"] == "plan.change")
        .count()
}

#[tokio::test]
async fn a_sandbox_subscription_through_the_api_moves_the_plan_and_a_cancellation_moves_it_back() {
    let app = sandbox_app().await;
    let admin = app.admin_token().await.unwrap();
    let me = app.register("subscriber@e2e.test").await.unwrap();
    let id = user_id(&app, &me).await;
    assert_eq!(current_plan(&app, &me).await, "free");

    // FREE is not sold and unknown intervals are named.
    let (status, body) = subscribe(&app, &me, "free", "month").await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["allowed"], json!(["pro", "enterprise"]));
    let (status, body) = subscribe(&app, &me, "pro", "week").await;
    assert_eq!((status, body["field"].as_str()), (400, Some("interval")));

    let (status, sub) = subscribe(&app, &me, "pro", "month").await;
    assert_eq!(status, 201, "{sub}");
    assert!(sub["id"].as_str().unwrap().starts_with("sub_sbx_"), "{sub}");
    assert_eq!(sub["status"], "active");
    assert_eq!(sub["amount_minor"], 2_900);
    assert_eq!(current_plan(&app, &me).await, "pro");
    // Asking again for the same plan returns the same subscription.
    let (status, again) = subscribe(&app, &me, "pro", "month").await;
    assert_eq!((status, &again["id"]), (200, &sub["id"]));
    let billing = app.get("/api/v1/billing", Some(&me)).await.unwrap();
    assert_eq!(
        billing.body["subscription"]["plan"], "pro",
        "{}",
        billing.body
    );
    assert_eq!(billing.body["subscription"]["interval"], "month");
    // The first invoice was mailed.
    assert!(app
        .outbox_kinds(&admin, "subscriber@e2e.test")
        .await
        .unwrap()
        .contains(&"invoice".to_string()));

    // A plan change: the new subscription, then the old one canceled; the higher plan holds.
    let (status, ent) = subscribe(&app, &me, "enterprise", "year").await;
    assert_eq!(status, 201, "{ent}");
    assert_eq!(ent["amount_minor"], 499_000);
    assert_eq!(current_plan(&app, &me).await, "enterprise");
    let billing = app.get("/api/v1/billing", Some(&me)).await.unwrap();
    assert_eq!(billing.body["subscription"]["id"], ent["id"]);

    let (status, gone) = cancel(&app, &me).await;
    assert_eq!(status, 200, "{gone}");
    assert_eq!(gone["status"], "canceled");
    assert_eq!(current_plan(&app, &me).await, "free");
    let billing = app.get("/api/v1/billing", Some(&me)).await.unwrap();
    assert_eq!(billing.body["subscription"], Value::Null);
    let (status, body) = cancel(&app, &me).await;
    assert_eq!(status, 404, "{body}");
    // free → pro → enterprise → free, each audited once.
    assert_eq!(plan_audits(&app, &admin, &id).await, 3);
    app.stop().await;
}

fn sub_event(id: &str, kind: &str, created: i64, sub: &str, user: &str, status: &str) -> Vec<u8> {
    stripe_event_at(
        id,
        kind,
        created,
        json!({
            "id": sub, "object": "subscription", "status": status, "customer": "cus_test1",
            "current_period_end": created + 30 * 86_400,
            "metadata": {"gpubroker_user_id": user, "gpubroker_plan": "pro", "gpubroker_interval": "month"},
            "items": {"object": "list", "data": [{"object": "subscription_item",
                "price": {"id": "price_pro_month", "object": "price", "unit_amount": 2_900, "currency": "usd"}}]},
        }),
    )
}

/// An invoice of `sub` (PRO monthly, 29.00 USD); a failed one says when Stripe retries.
fn invoice_object(invoice: &str, sub: &str, paid: bool) -> Value {
    let now = unix_now_secs();
    json!({
        "id": invoice, "object": "invoice", "subscription": sub, "customer": "cus_test1",
        "number": "INV-0001", "currency": "usd", "amount_due": 2_900,
        "amount_paid": if paid { 2_900 } else { 0 }, "hosted_invoice_url": "https://invoice.test/1",
        "last_finalization_error": null,
        "next_payment_attempt": if paid { Value::Null } else { json!(now + 3 * 86_400) },
        "lines": {"object": "list", "data": [{"period": {"start": now, "end": now + 30 * 86_400}}]},
    })
}

/// An event about [`invoice_object`], created now.
fn invoice_event(id: &str, kind: &str, invoice: &str, sub: &str, paid: bool) -> Vec<u8> {
    stripe_event(id, kind, invoice_object(invoice, sub, paid))
}

#[tokio::test]
async fn stripe_shaped_subscription_events_apply_once_in_created_order_and_a_failed_renewal_is_shown(
) {
    // Stripe's own shapes, signed as Stripe signs: the parts localstripe cannot produce
    // (updated/past_due events, invoice.paid, out-of-order delivery).
    let app = sandbox_app().await;
    let admin = app.admin_token().await.unwrap();
    let me = app.register("events@e2e.test").await.unwrap();
    let id = user_id(&app, &me).await;
    let t = unix_now_secs();

    // An update delivered before the creation (out of order): it creates the record.
    let Resp {
        status: s,
        body: out,
        ..
    } = app
        .signed_webhook(
            SECRET,
            &sub_event(
                "evt_s2",
                "customer.subscription.updated",
                t + 10,
                "sub_x1",
                &id,
                "active",
            ),
        )
        .await
        .unwrap();
    assert_eq!(
        (s, out["status"].as_str()),
        (200, Some("processed")),
        "{out}"
    );
    assert_eq!(current_plan(&app, &me).await, "pro");
    // The older creation event (incomplete) arrives late: it changes nothing.
    let Resp {
        status: s,
        body: out,
        ..
    } = app
        .signed_webhook(
            SECRET,
            &sub_event(
                "evt_s1",
                "customer.subscription.created",
                t,
                "sub_x1",
                &id,
                "incomplete",
            ),
        )
        .await
        .unwrap();
    assert_eq!((s, out["status"].as_str()), (200, Some("ignored")), "{out}");
    assert_eq!(current_plan(&app, &me).await, "pro");

    // Replays change nothing twice.
    let paid = invoice_event("evt_inv1", "invoice.paid", "in_1", "sub_x1", true);
    for _ in 0..5 {
        let Resp { status: s, .. } = app.signed_webhook(SECRET, &paid).await.unwrap();
        assert_eq!(s, 200);
    }
    let replay = sub_event(
        "evt_s2",
        "customer.subscription.updated",
        t + 10,
        "sub_x1",
        &id,
        "active",
    );
    for _ in 0..5 {
        let Resp {
            status: s,
            body: out,
            ..
        } = app.signed_webhook(SECRET, &replay).await.unwrap();
        assert_eq!((s, out["duplicate"].as_bool()), (200, Some(true)), "{out}");
    }
    assert_eq!(plan_audits(&app, &admin, &id).await, 1);
    let invoices = app
        .outbox_kinds(&admin, "events@e2e.test")
        .await
        .unwrap()
        .into_iter()
        .filter(|k| k == "invoice")
        .count();
    assert_eq!(invoices, 1);

    // A failed renewal: past_due keeps the plan and the failure is shown to the user.
    let Resp { status: s, .. } = app
        .signed_webhook(
            SECRET,
            &invoice_event(
                "evt_inv2",
                "invoice.payment_failed",
                "in_2",
                "sub_x1",
                false,
            ),
        )
        .await
        .unwrap();
    assert_eq!(s, 200);
    let Resp { status: s, .. } = app
        .signed_webhook(
            SECRET,
            &sub_event(
                "evt_s3",
                "customer.subscription.updated",
                t + 20,
                "sub_x1",
                &id,
                "past_due",
            ),
        )
        .await
        .unwrap();
    assert_eq!(s, 200);
    assert_eq!(current_plan(&app, &me).await, "pro");
    let billing = app.get("/api/v1/billing", Some(&me)).await.unwrap();
    let sub = &billing.body["subscription"];
    assert_eq!(sub["status"], "past_due", "{}", billing.body);
    assert!(sub["last_failure"]["message"].as_str().is_some(), "{sub}");

    // Stripe's retries exhausted: unpaid → FREE. Then deleted; a late "active" is ignored.
    let Resp { status: s, .. } = app
        .signed_webhook(
            SECRET,
            &sub_event(
                "evt_s4",
                "customer.subscription.updated",
                t + 30,
                "sub_x1",
                &id,
                "unpaid",
            ),
        )
        .await
        .unwrap();
    assert_eq!(s, 200);
    assert_eq!(current_plan(&app, &me).await, "free");
    let Resp { status: s, .. } = app
        .signed_webhook(
            SECRET,
            &sub_event(
                "evt_s5",
                "customer.subscription.deleted",
                t + 40,
                "sub_x1",
                &id,
                "canceled",
            ),
        )
        .await
        .unwrap();
    assert_eq!(s, 200);
    let Resp {
        status: s,
        body: out,
        ..
    } = app
        .signed_webhook(
            SECRET,
            &sub_event(
                "evt_s6",
                "customer.subscription.updated",
                t + 50,
                "sub_x1",
                &id,
                "active",
            ),
        )
        .await
        .unwrap();
    assert_eq!((s, out["status"].as_str()), (200, Some("ignored")), "{out}");
    assert_eq!(current_plan(&app, &me).await, "free");
    // A subscription that is not ours (no metadata) is ignored.
    let foreign = json!({
        "id": "evt_foreign", "object": "event", "created": t, "type": "customer.subscription.created",
        "data": {"object": {"id": "sub_other", "object": "subscription", "status": "active", "metadata": {}}},
    })
    .to_string()
    .into_bytes();
    let Resp {
        status: s,
        body: out,
        ..
    } = app.signed_webhook(SECRET, &foreign).await.unwrap();
    assert_eq!((s, out["status"].as_str()), (200, Some("ignored")), "{out}");
    app.stop().await;
}

#[tokio::test]
async fn a_failed_renewal_is_mailed_once_per_invoice_and_shown_in_billing_until_paid() {
    let app = sandbox_app().await;
    let admin = app.admin_token().await.unwrap();
    let me = app.register("renewal@e2e.test").await.unwrap();
    let id = user_id(&app, &me).await;
    let t = unix_now_secs();
    let Resp { status, .. } = app
        .signed_webhook(
            SECRET,
            &sub_event(
                "evt_r1",
                "customer.subscription.created",
                t,
                "sub_r1",
                &id,
                "active",
            ),
        )
        .await
        .unwrap();
    assert_eq!(status, 200);

    // Invoice in_r1 fails: Stripe's first attempt and two Smart Retries (three events),
    // each delivered twice, and the subscription goes past_due.
    for attempt in ["evt_rf_1", "evt_rf_2", "evt_rf_3"] {
        let body = invoice_event(attempt, "invoice.payment_failed", "in_r1", "sub_r1", false);
        for _ in 0..2 {
            let Resp {
                status, body: out, ..
            } = app.signed_webhook(SECRET, &body).await.unwrap();
            assert_eq!(status, 200, "{out}");
        }
    }
    let Resp { status, .. } = app
        .signed_webhook(
            SECRET,
            &sub_event(
                "evt_r2",
                "customer.subscription.updated",
                t + 10,
                "sub_r1",
                &id,
                "past_due",
            ),
        )
        .await
        .unwrap();
    assert_eq!(status, 200);
    let failed = app
        .delivered_mail(&admin, "renewal@e2e.test", "renewal_failed")
        .await
        .unwrap();
    let text = failed["body_text"].as_str().unwrap();
    for needle in [
        "PRO",
        "29.00 USD",
        "INV-0001",
        "the payment of your subscription's invoice failed",
        "Smart Retries",
        "/billing",
        "https://invoice.test/1",
    ] {
        assert!(text.contains(needle), "{needle} missing: {text}");
    }
    let kinds = app.outbox_kinds(&admin, "renewal@e2e.test").await.unwrap();
    assert_eq!(
        kinds.iter().filter(|k| *k == "renewal_failed").count(),
        1,
        "{kinds:?}"
    );

    // GET /billing shows the failure: past_due, the invoice, the message, the next attempt.
    let billing = app.get("/api/v1/billing", Some(&me)).await.unwrap();
    let sub = &billing.body["subscription"];
    assert_eq!(sub["status"], "past_due", "{}", billing.body);
    assert_eq!(sub["last_failure"]["invoice_id"], "in_r1", "{sub}");
    assert!(
        sub["last_failure"]["next_attempt"].as_i64() > Some(t),
        "{sub}"
    );
    assert!(sub["last_failure"]["message"].as_str().is_some(), "{sub}");
    assert_eq!(current_plan(&app, &me).await, "pro");

    // Paid at a retry: the failure is cleared. A later invoice that fails is mailed again.
    let Resp { status, .. } = app
        .signed_webhook(
            SECRET,
            &invoice_event("evt_rp", "invoice.paid", "in_r1", "sub_r1", true),
        )
        .await
        .unwrap();
    assert_eq!(status, 200);
    let billing = app.get("/api/v1/billing", Some(&me)).await.unwrap();
    assert!(
        billing.body["subscription"]["last_failure"].is_null(),
        "{}",
        billing.body
    );
    // A failure of before the payment, redelivered late (after an outage), is stale: it is
    // neither shown nor mailed.
    let stale = stripe_event_at(
        "evt_rf_0",
        "invoice.payment_failed",
        t - 100,
        invoice_object("in_r0", "sub_r1", false),
    );
    let Resp { body: out, .. } = app.signed_webhook(SECRET, &stale).await.unwrap();
    assert_eq!(out["status"], "ignored", "{out}");
    let billing = app.get("/api/v1/billing", Some(&me)).await.unwrap();
    assert!(
        billing.body["subscription"]["last_failure"].is_null(),
        "{}",
        billing.body
    );
    let Resp { status, .. } = app
        .signed_webhook(
            SECRET,
            &invoice_event(
                "evt_rf_next",
                "invoice.payment_failed",
                "in_r2",
                "sub_r1",
                false,
            ),
        )
        .await
        .unwrap();
    assert_eq!(status, 200);
    let kinds = app.outbox_kinds(&admin, "renewal@e2e.test").await.unwrap();
    assert_eq!(
        kinds.iter().filter(|k| *k == "renewal_failed").count(),
        2,
        "{kinds:?}"
    );
    app.stop().await;
}

// ---- Stripe (localstripe) -------------------------------------------------------------

#[tokio::test]
async fn a_stripe_subscription_at_localstripe_makes_the_user_pro_by_its_webhook_and_canceling_makes_them_free(
) {
    let ls = LocalStripe::start().await.unwrap();
    let base = ls.url.clone();
    let app = spawn_app_with(move |c| {
        c.stripe_secret_key = Some(portal_api::config::Secret(localstripe::SECRET_KEY.into()));
        c.stripe_api_base = Some(base);
        c.stripe_webhook_secret = Some(portal_api::config::Secret(SECRET.into()));
    })
    .await
    .unwrap();
    ls.post(
        "/_config/webhooks/gpubroker",
        &[
            ("url", &format!("{}/api/v1/webhooks/stripe", app.url)),
            ("secret", SECRET),
        ],
    )
    .await
    .ok();
    // The operator's set-up: a product and its plan carrying our lookup key (localstripe has
    // Plans, not Prices; Stripe accepts a Plan id wherever a Price id goes).
    let product = ls
        .post(
            "/v1/products",
            &[("name", "gpubroker PRO"), ("type", "service")],
        )
        .await
        .unwrap();
    let plan = ls
        .post(
            "/v1/plans",
            &[
                ("product", product["id"].as_str().unwrap()),
                ("amount", "3100"),
                ("currency", "usd"),
                ("interval", "month"),
                ("metadata[gpubroker_lookup_key]", "gpubroker_pro_month"),
            ],
        )
        .await
        .unwrap();
    let me = app.register("stripesub@e2e.test").await.unwrap();
    // The user's saved card (SetupIntent through our API; Stripe.js's part done directly).
    let r = app
        .call(
            reqwest::Method::POST,
            "/api/v1/billing/setup-intents",
            Some(&me),
            None,
            &[("Idempotency-Key", "seti-sub")],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.body);
    let seti = ls
        .get(&format!(
            "/v1/setup_intents/{}",
            r.body["id"].as_str().unwrap()
        ))
        .await
        .unwrap();
    let customer = seti["customer"].as_str().unwrap().to_string();
    let pm = ls
        .post(
            "/v1/payment_methods",
            &[
                ("type", "card"),
                ("card[number]", "4242424242424242"),
                ("card[exp_month]", "12"),
                ("card[exp_year]", "2034"),
                ("card[cvc]", "123"),
            ],
        )
        .await
        .unwrap();
    let pm = pm["id"].as_str().unwrap();
    ls.post(
        &format!("/v1/payment_methods/{pm}/attach"),
        &[("customer", &customer)],
    )
    .await
    .unwrap();
    ls.post(
        &format!("/v1/customers/{customer}"),
        &[("invoice_settings[default_payment_method]", pm)],
    )
    .await
    .unwrap();

    let (status, sub) = subscribe(&app, &me, "pro", "month").await;
    assert_eq!(status, 201, "{sub}");
    assert_eq!(sub["gateway"], "stripe");
    assert_eq!(sub["price_id"], plan["id"]);
    assert_eq!(sub["amount_minor"], 3_100);
    let sub_id = sub["id"].as_str().unwrap().to_string();
    let remote = ls
        .get(&format!("/v1/subscriptions/{sub_id}"))
        .await
        .unwrap();
    assert_eq!(remote["customer"], customer.as_str());
    assert_eq!(remote["metadata"]["gpubroker_plan"], "pro");
    assert_eq!(remote["status"], "active", "{remote}");

    eventually("the webhook makes the user pro", || async {
        current_plan(&app, &me).await == "pro"
    })
    .await;

    let (status, _) = cancel(&app, &me).await;
    assert_eq!(status, 200);
    let remote = ls
        .get(&format!("/v1/subscriptions/{sub_id}"))
        .await
        .unwrap();
    assert_eq!(remote["status"], "canceled");
    eventually("the deleted event makes the user free", || async {
        current_plan(&app, &me).await == "free"
    })
    .await;
    app.stop().await;
}
